/* The option-table parser and usage writer (see options.h), on getopt_long:
 * the table is turned into getopt's array at each parse, so that getopt's
 * own messages (unknown option, missing argument) stay as users know them. */
#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "lib/cleanup.h"
#include "lib/log.h"
#include "lib/options.h"
#include "lib/strbuf.h"
#include "lib/util.h"

#define USAGE_WIDTH 79 /* the usage's lines are wrapped to this many columns */

static size_t count_options(const struct option_def *defs)
{
    size_t n = 0;

    while (defs[n].name)
        n++;
    return n;
}

/* Parses a whole decimal number in min..max. */
static int parse_whole(const char *s, long long min, long long max, long long *ret)
{
    char *end;
    long long x;

    errno = 0;
    x = strtoll(s, &end, 10);
    if (errno || end == s || *end || x < min || x > max)
        return -EINVAL;
    *ret = x;
    return 0;
}

/* Parses a count of bytes, at least 1, with an optional binary K, M, G or T
 * suffix in either case. */
static int parse_size(const char *s, int64_t *ret)
{
    static const char units[] = "KMGT";
    _cleanup_free_ char *num = xstrdup(s);
    size_t len = strlen(num);
    int shift = 0;
    long long x;

    if (len > 0) {
        const char *u = strchr(units, num[len - 1] & ~0x20);
        if (u && *u) {
            shift = 10 * (int)(u - units + 1);
            num[len - 1] = '\0';
        }
    }
    if (parse_whole(num, 1, INT64_MAX >> shift, &x) < 0)
        return -EINVAL;
    *ret = (int64_t)x << shift;
    return 0;
}

static int parse_double(const char *s, double min, double max, double *ret)
{
    char *end;
    double x;

    errno = 0;
    x = strtod(s, &end);
    if (errno || end == s || *end || isnan(x) || x < min || x > max)
        return -EINVAL;
    *ret = x;
    return 0;
}

static bool is_choice(const struct option_def *d, const char *value)
{
    for (const char *const *c = d->choices; *c; c++)
        if (streq(*c, value))
            return true;
    return false;
}

/* "a", "a or b", "a, b or c". */
static void add_choices(struct strbuf *sb, const struct option_def *d, const char *sep,
                        const char *last_sep)
{
    for (const char *const *c = d->choices; *c; c++) {
        if (c != d->choices)
            strbuf_adds(sb, c[1] ? sep : last_sep);
        strbuf_adds(sb, *c);
    }
}

static void set_string(char **target, const char *value)
{
    free(*target);
    *target = xstrdup(value);
}

/* Checks value and stores it in d's target. source is what the error names:
 * "--socket", an environment variable, or the default. Returns 0, or
 * -EINVAL after saying why on stderr. */
static int set_value(const struct options_spec *spec, const struct option_def *d,
                     const char *source, const char *value)
{
    const char *p = spec->program;
    long long x;

    if (d->kind == OPTION_PATH && value[0] != '/') {
        fprintf(stderr, "%s: %s must be an absolute path\n", p, value);
        return -EINVAL;
    }
    switch (d->kind) {
    case OPTION_PATH:
    case OPTION_STRING:
        if (d->valid && !d->valid(value)) {
            fprintf(stderr, "%s: %s takes %s, not %s\n", p, source, d->valid_text, value);
            return -EINVAL;
        }
        set_string(d->to.str, value);
        return 0;
    case OPTION_CHOICE:
        if (!is_choice(d, value)) {
            struct strbuf sb;
            strbuf_init(&sb, 64);
            add_choices(&sb, d, ", ", " or ");
            fprintf(stderr, "%s: %s is %s, not %s\n", p, source, sb.buf, value);
            strbuf_done(&sb);
            return -EINVAL;
        }
        set_string(d->to.str, value);
        return 0;
    case OPTION_INT:
        if (parse_whole(value, d->min, d->max, &x) < 0) {
            fprintf(stderr, "%s: %s takes %lld..%lld, not %s\n", p, source, d->min, d->max, value);
            return -EINVAL;
        }
        *d->to.i = (int)x;
        return 0;
    case OPTION_SIZE:
        if (parse_size(value, d->to.size) < 0) {
            fprintf(stderr, "%s: %s takes bytes, not %s\n", p, source, value);
            return -EINVAL;
        }
        return 0;
    case OPTION_DOUBLE:
        if (parse_double(value, (double)d->min, (double)d->max, d->to.d) < 0) {
            fprintf(stderr, "%s: %s takes %lld..%lld, not %s\n", p, source, d->min, d->max, value);
            return -EINVAL;
        }
        return 0;
    case OPTION_LOG_LEVEL:
        if (log_set_level("*", value) < 0) {
            fprintf(stderr, "%s: unknown log level %s\n", p, value);
            return -EINVAL;
        }
        return 0;
    case OPTION_FLAG:
        break;
    }
    /* A flag has no value to read: a default or variable for one is a
     * mistake in the table. */
    fprintf(stderr, "%s: %s takes no value\n", p, source);
    return -EINVAL;
}

/* Applies each option's default, then its environment variable. */
static int set_defaults(const struct options_spec *spec)
{
    for (const struct option_def *d = spec->options; d->name; d++) {
        const char *env = d->env ? getenv(d->env) : NULL;
        int r;

        if (d->def) {
            _cleanup_free_ char *source = xasprintf("the default of --%s", d->name);
            if ((r = set_value(spec, d, source, d->def)) < 0)
                return r;
        }
        if (env && (*env || d->env_empty) && (r = set_value(spec, d, d->env, env)) < 0)
            return r;
    }
    return 0;
}

/* options_parse, but leaves what it set in place on failure. */
static int parse(const struct options_spec *spec, int argc, char **argv)
{
    enum { FIRST_VAL = 256 };
    size_t n = count_options(spec->options);
    _cleanup_free_ struct option *opts = xcalloc(n + 2, sizeof(*opts));
    int r;

    for (size_t i = 0; i < n; i++) {
        const struct option_def *d = &spec->options[i];
        opts[i] = (struct option){d->name, d->kind == OPTION_FLAG ? no_argument : required_argument,
                                  NULL, FIRST_VAL + (int)i};
    }
    opts[n] = (struct option){"help", no_argument, NULL, 'h'};

    if ((r = set_defaults(spec)) < 0)
        return r;
    /* 0, not 1: getopt starts afresh, so that a second parse (the unit
     * tests) reads its own argv. */
    optind = 0;
    for (int o; (o = getopt_long(argc, argv, "h", opts, NULL)) != -1;) {
        if (o == 'h') {
            options_usage(spec, stdout);
            return OPTIONS_HELP;
        }
        if (o < FIRST_VAL || o >= FIRST_VAL + (int)n) {
            options_usage(spec, stderr);
            return -EINVAL;
        }
        const struct option_def *d = &spec->options[o - FIRST_VAL];
        if (d->kind == OPTION_FLAG) {
            *d->to.flag = true;
            continue;
        }
        _cleanup_free_ char *source = xasprintf("--%s", d->name);
        if ((r = set_value(spec, d, source, optarg)) < 0)
            return r;
    }
    if (optind < argc) {
        fprintf(stderr, "%s: unexpected argument %s\n", spec->program, argv[optind]);
        return -EINVAL;
    }
    return 0;
}

int options_parse(const struct options_spec *spec, int argc, char **argv)
{
    int r = parse(spec, argc, argv);

    if (r != 0)
        options_done(spec);
    return r;
}

/* The argument's name in the usage: "--backend xen|sim". */
static void add_arg(struct strbuf *sb, const struct option_def *d)
{
    static const char *const names[] = {
        [OPTION_STRING] = "TEXT", [OPTION_PATH] = "PATH", [OPTION_INT] = "N",
        [OPTION_SIZE] = "BYTES",  [OPTION_DOUBLE] = "N",  [OPTION_LOG_LEVEL] = "LEVEL",
    };

    if (d->kind == OPTION_FLAG)
        return;
    strbuf_addc(sb, ' ');
    if (d->arg)
        strbuf_adds(sb, d->arg);
    else if (d->kind == OPTION_CHOICE)
        add_choices(sb, d, "|", "|");
    else
        strbuf_adds(sb, names[d->kind]);
}

/* The help line with its default: "JSON-RPC socket (XENIA_SOCKET; /run/x.sock)". */
static void add_help(struct strbuf *sb, const struct option_def *d)
{
    const char *def = d->def_text ? d->def_text : d->def;

    if (d->help) {
        strbuf_adds(sb, d->help);
    } else if (d->kind == OPTION_LOG_LEVEL) {
        for (int l = LOG_ERR; l <= LOG_DEBUG; l++)
            strbuf_addf(sb, "%s%s", l == LOG_ERR ? "" : ", ", log_level_name(l));
    }
    if (d->env || def) {
        strbuf_adds(sb, sb->len ? " (" : "(");
        if (d->env)
            strbuf_addf(sb, "%s%s", d->env, def ? "; " : "");
        strbuf_addf(sb, "%s)", def ? def : "");
    }
}

/* Writes text from column col on, wrapped at spaces to USAGE_WIDTH; the
 * cursor is at column at. */
static void write_wrapped(FILE *f, const char *text, size_t col, size_t at)
{
    const char *s = text;

    while (*s) {
        size_t word = strcspn(s, " ");
        if (at > col && at + 1 + word > USAGE_WIDTH) {
            fprintf(f, "\n%*s", (int)col, "");
            at = col;
        } else if (at > col) {
            fputc(' ', f);
            at++;
        } else {
            fprintf(f, "%*s", (int)(col - at), "");
            at = col;
        }
        fwrite(s, 1, word, f);
        at += word;
        s += word;
        s += strspn(s, " ");
    }
    fputc('\n', f);
}

void options_usage(const struct options_spec *spec, FILE *f)
{
    size_t n = count_options(spec->options);
    _cleanup_free_ char **left = xcalloc(n + 1, sizeof(*left));
    size_t col = strlen("  --help");
    struct strbuf sb;

    fprintf(f, "Usage: %s [OPTIONS]\n", spec->program);
    for (const char *const *a = spec->also; a && *a; a++)
        fprintf(f, "       %s %s\n", spec->program, *a);
    fputc('\n', f);
    for (size_t i = 0; i < n; i++) {
        strbuf_init(&sb, 64);
        strbuf_addf(&sb, "  --%s", spec->options[i].name);
        add_arg(&sb, &spec->options[i]);
        left[i] = strbuf_detach(&sb, NULL);
        if (strlen(left[i]) > col)
            col = strlen(left[i]);
    }
    col += 2;
    for (size_t i = 0; i < n; i++) {
        strbuf_init(&sb, 128);
        add_help(&sb, &spec->options[i]);
        fputs(left[i], f);
        write_wrapped(f, sb.buf, col, strlen(left[i]));
        strbuf_done(&sb);
        free(left[i]);
    }
    fputs("  --help", f);
    write_wrapped(f, "this text", col, strlen("  --help"));
}

void options_done(const struct options_spec *spec)
{
    for (const struct option_def *d = spec->options; d->name; d++)
        if (d->kind == OPTION_STRING || d->kind == OPTION_PATH || d->kind == OPTION_CHOICE) {
            free(*d->to.str);
            *d->to.str = NULL;
        }
}
