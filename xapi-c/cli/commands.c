/* The command table: the generated commands of every class view and the
 * custom ones, built once at start and read-only afterwards; and `help`,
 * which is derived from it (xe-cli.md 1.11). */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "lib/util.h"

static struct cli_cmd *table;
static size_t n_table;
static const struct cli_cmd **sorted;

static int cmp_cmd(const void *a, const void *b)
{
    return strcmp((*(const struct cli_cmd *const *)a)->name,
                  (*(const struct cli_cmd *const *)b)->name);
}

static void init_once(void)
{
    static const struct cli_cmd *const parts[] = {cli_custom_cmds,   cli_storage_cmds,
                                                  cli_network_cmds,  cli_snapshot_cmds,
                                                  cli_transfer_cmds, cli_diagnostic_cmds};
    size_t cap = 0;

    cli_records_commands(&table, &n_table, &cap);
    for (size_t part = 0; part < ELEMENTSOF(parts); part++)
        for (const struct cli_cmd *c = parts[part]; c->name; c++) {
            if (n_table == cap) {
                cap = cap ? 2 * cap : 256;
                table = xrealloc(table, cap * sizeof(*table));
            }
            table[n_table++] = *c;
        }
    sorted = xcalloc(n_table, sizeof(*sorted));
    for (size_t i = 0; i < n_table; i++)
        sorted[i] = &table[i];
    qsort(sorted, n_table, sizeof(*sorted), cmp_cmd);
}

void cli_init(void)
{
    /* Requests arrive on several threads; the table is built once. */
    static pthread_once_t once = PTHREAD_ONCE_INIT;
    pthread_once(&once, init_once);
}

const struct cli_cmd *cli_find(const char *name)
{
    struct cli_cmd key = {.name = name};
    const struct cli_cmd *kp = &key;
    const struct cli_cmd **hit = bsearch(&kp, sorted, n_table, sizeof(*sorted), cmp_cmd);
    return hit ? *hit : NULL;
}

const struct cli_cmd *const *cli_commands(size_t *ret_n)
{
    *ret_n = n_table;
    return sorted;
}

static void join_list(struct strbuf *sb, const char *const *l, const char *extra)
{
    bool first = true;
    for (; l && *l; l++) {
        strbuf_addf(sb, "%s%s", first ? "" : ", ", *l);
        first = false;
    }
    if (extra)
        strbuf_addf(sb, "%s%s", first ? "" : ", ", extra);
}

static void help_one(struct cli_ctx *ctx, const char *name)
{
    const struct cli_cmd *c = cli_find(name);
    struct strbuf sb;
    const char *sel = c && (c->flags & CMD_VM_SEL)     ? "<vm-selectors>"
                      : c && (c->flags & CMD_HOST_SEL) ? "<host-selectors>"
                                                       : NULL;

    if (!c || (c->flags & CMD_HIDDEN)) {
        cli_print_item(ctx, "");
        cli_print_stderr(ctx, "Unknown command '%s'", name);
        return;
    }
    strbuf_init(&sb, 256);
    strbuf_addf(&sb, "command name            : %s\n        reqd params     : ", c->name);
    join_list(&sb, c->reqd, NULL);
    strbuf_adds(&sb, "\n        optional params : ");
    join_list(&sb, c->opt, sel);
    strbuf_addf(&sb, "\n        description     : %s", c->help);
    if (sel)
        strbuf_addf(&sb,
                    " The simplest way to select the %s on which the operation is to be "
                    "performed is by supplying the argument '%s=<name or uuid>'. %ss can "
                    "also be specified by filtering the full list on the values of fields. "
                    "If more than one %s matches, the option '--multiple' must be given.",
                    sel[1] == 'v' ? "VM" : "host", sel[1] == 'v' ? "vm" : "host",
                    sel[1] == 'v' ? "VM" : "Host", sel[1] == 'v' ? "VM" : "host");
    strbuf_addc(&sb, '\n');
    cli_print_message(ctx, "%s", sb.buf);
    strbuf_done(&sb);
}

/* Appends names comma-separated, breaking lines past 74 columns. */
static void wrap_names(struct strbuf *sb, const char *const *names, size_t n)
{
    size_t col = 0;
    for (size_t i = 0; i < n; i++) {
        size_t len = strlen(names[i]) + (i + 1 < n ? 2 : 0);
        if (col == 0 || col + len > 74) {
            if (col)
                strbuf_addc(sb, '\n');
            strbuf_adds(sb, "    ");
            col = 4;
        }
        strbuf_addf(sb, "%s%s", names[i], i + 1 < n ? ", " : "");
        col += len;
    }
    strbuf_addc(sb, '\n');
}

int cli_cmd_help(struct cli_ctx *ctx)
{
    bool all = cli_arg_bool(ctx, "all", false);
    struct strbuf sb;
    const char **names = xcalloc(n_table + 1, sizeof(char *));
    size_t n = 0;
    bool named = false;

    for (size_t i = 0; i < ctx->n_args; i++)
        if (!*ctx->args[i].value && !cli_is_stdparam(ctx->args[i].name)) {
            help_one(ctx, ctx->args[i].name);
            named = true;
        }
    if (named) {
        free(names);
        return 0;
    }
    for (size_t i = 0; i < n_table; i++) {
        const struct cli_cmd *c = sorted[i];
        if (c->flags & CMD_HIDDEN)
            continue;
        if (all || (c->flags & CMD_STANDARD))
            names[n++] = c->name;
    }
    if (ctx->minimal) {
        for (size_t i = 0; i < n; i++)
            cli_print_item(ctx, names[i]);
        free(names);
        return 0;
    }
    strbuf_init(&sb, 4096);
    strbuf_adds(&sb, "Usage: xe <command> [-s server] [-pw passwd] [-p port] [-u user] "
                     "[-pwf password-file]\n  [command specific arguments]\n\n"
                     "To get help on a specific command: xe help <command>\n\n");
    if (!all) {
        strbuf_adds(&sb, "To get a full listing of commands: xe help --all\n\n"
                         "Common command list\n-------------------\n");
        wrap_names(&sb, names, n);
    } else {
        strbuf_adds(&sb, "Full command list\n-----------------\n");
        /* host-*, vm-*, then the rest, as xe groups them. */
        static const char *const groups[] = {"host-", "vm-", NULL};
        const char **g = xcalloc(n + 1, sizeof(char *));
        for (int pass = 0; pass < 3; pass++) {
            size_t k = 0;
            for (size_t i = 0; i < n; i++) {
                bool in0 = strncmp(names[i], groups[0], 5) == 0;
                bool in1 = strncmp(names[i], groups[1], 3) == 0;
                if ((pass == 0 && in0) || (pass == 1 && in1) || (pass == 2 && !in0 && !in1))
                    g[k++] = names[i];
            }
            wrap_names(&sb, g, k);
            if (pass < 2)
                strbuf_addc(&sb, '\n');
        }
        free(g);
    }
    cli_print_message(ctx, "%s", sb.buf);
    strbuf_done(&sb);
    free(names);
    return 0;
}
