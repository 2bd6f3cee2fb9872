/* Command-line options declared once, as a table: each entry names a long
 * option, its kind (path, string, choice, whole number in a range, byte size,
 * number, log level, flag), the variable it sets, its default, an optional
 * environment variable, and its help line. The parser, the usage text and
 * the error messages are all derived from that table, so that the agents
 * read their options alike and a new option is one line. Every table also
 * gets --help (and -h). */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

enum option_kind {
    OPTION_STRING,    /* any text, into a char * */
    OPTION_PATH,      /* an absolute path, into a char * */
    OPTION_CHOICE,    /* one of .choices, into a char * */
    OPTION_INT,       /* a whole decimal number in .min..max, into an int */
    OPTION_SIZE,      /* bytes (at least 1), K, M, G or T binary suffix, into an int64_t */
    OPTION_DOUBLE,    /* a decimal number in .min..max, into a double */
    OPTION_LOG_LEVEL, /* sets the level of every log module (lib/log.h) */
    OPTION_FLAG,      /* takes no argument; sets a bool */
};

struct option_def {
    const char *name; /* the long name, without "--"; NULL ends a table */
    enum option_kind kind;
    union {
        char **str; /* OPTION_STRING, OPTION_PATH, OPTION_CHOICE: owned, see options_done */
        int *i;
        int64_t *size;
        double *d;
        bool *flag;
    } to;
    const char *arg;            /* the argument's name in the usage; NULL: from the kind */
    const char *help;           /* the help line; NULL for OPTION_LOG_LEVEL lists the levels */
    const char *def;            /* the default, read like an argument; NULL: the target is kept */
    const char *def_text;       /* what the usage says the default is, instead of def */
    const char *env;            /* an environment variable that, when set and not empty,
                                 * replaces def; read like an argument */
    bool env_empty;             /* an empty variable replaces def too ("" may mean "none") */
    long long min, max;         /* OPTION_INT and OPTION_DOUBLE: the range, both included */
    const char *const *choices; /* OPTION_CHOICE: the values, NULL-terminated */
    /* OPTION_STRING, OPTION_PATH: a further check of the value, and what the
     * error says the option takes ("--ovsdb takes unix:PATH, not x"). */
    bool (*valid)(const char *value);
    const char *valid_text;
};

/* Set the kind and the target of an entry together, so that they cannot
 * disagree: {.name = "socket", OPT_PATH(&cfg.socket), .def = "/run/x.sock"}. */
#define OPT_STRING(p) .kind = OPTION_STRING, .to.str = (p)
#define OPT_PATH(p) .kind = OPTION_PATH, .to.str = (p)
#define OPT_CHOICE(p, ...)                                                                         \
    .kind = OPTION_CHOICE, .to.str = (p), .choices = (const char *const[])                         \
    {                                                                                              \
        __VA_ARGS__, NULL                                                                          \
    }
#define OPT_INT(p, lo, hi) .kind = OPTION_INT, .to.i = (p), .min = (lo), .max = (hi)
#define OPT_SIZE(p) .kind = OPTION_SIZE, .to.size = (p)
#define OPT_DOUBLE(p, lo, hi) .kind = OPTION_DOUBLE, .to.d = (p), .min = (lo), .max = (hi)
#define OPT_FLAG(p) .kind = OPTION_FLAG, .to.flag = (p)
/* The --log-level entry every daemon has. */
#define OPTIONS_LOG_LEVEL                                                                          \
    {                                                                                              \
        .name = "log-level", .kind = OPTION_LOG_LEVEL                                              \
    }

struct options_spec {
    const char *program;              /* begins every error line and the usage */
    const char *const *also;          /* more usage forms, NULL-terminated, e.g. "dump-model";
                                       * NULL: none */
    const struct option_def *options; /* ends with an entry whose name is NULL */
};

/* What options_parse returns after --help: the caller exits 0. */
#define OPTIONS_HELP 1

/* Sets every target from its default, then its environment variable, then
 * argv in order (the last of a repeated option wins); --log-level takes
 * effect at once. Returns 0 to go on; OPTIONS_HELP after printing the usage
 * to stdout for --help or -h; or -EINVAL after printing to stderr what is
 * wrong (an unknown option, a bad value, an argument that is not an
 * option), for which daemons exit 2. On anything but 0 it has already freed
 * the targets' strings (options_done); after 0 the caller calls
 * options_done when it is finished with them. Not thread-safe (getopt). */
int options_parse(const struct options_spec *spec, int argc, char **argv);

/* Writes the usage text derived from the table to f. */
void options_usage(const struct options_spec *spec, FILE *f);

/* Frees the strings the table's targets hold and sets them to NULL; other
 * targets are left as they are. */
void options_done(const struct options_spec *spec);
