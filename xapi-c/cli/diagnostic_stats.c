/* The diagnostic commands that report this xapi process itself, in XCP's
 * output forms (cli_operations.ml, xapi_diagnostics.ml):
 *
 * - diagnostic-timing-stats: per host, "<message>: <mean> [sd = <sd>]"
 *   (n= with counts=true) for every API message called since xapi
 *   started, from the dispatcher's counters (xapi-c/diagstats.h); XCP
 *   times its database operations under names of its own, Xenia times
 *   every message.
 * - diagnostic-net-stats: the HTTP server's requests per method and path,
 *   "method | uri | requests | connections | framed", columns right-aligned,
 *   filtered by method= and uri= (any case) and cut to the columns params=
 *   names, as XCP's Diagnostics.network_stats does.
 * - diagnostic-db-stats: XCP prints its database lock's statistics; Xenia's
 *   database reports what it has: its generation, its tables with their
 *   rows and the bytes of their values, and the SQLite file and its WAL.
 * - diagnostic-gc-stats / diagnostic-compact: XCP's are about OCaml's
 *   garbage collector. The C equivalents: the malloc arena's figures
 *   (glibc mallinfo2, bytes but for the block counts), the process's
 *   memory from /proc/self/statm (bytes), and how many compactions ran;
 *   compact gives free heap memory back to the system with malloc_trim.
 *
 * These figures live in this process, which can only report its own: a
 * host selector naming another host of the pool is refused. */
#include <errno.h>
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "diagnostic.h"
#include "lib/cleanup.h"
#include "lib/util.h"
#include "xapi-c/config.h"
#include "xapi-c/db.h"
#include "xapi-c/diagstats.h"

#define PARAMS(...) ((const char *const[]){__VA_ARGS__, NULL})

/* The one host selected, which must be this one; false after printing
 * why not. */
static bool select_this_host(struct cli_ctx *ctx, const char *const *ignore)
{
    _cleanup_free_ char *host = cli_diag_one_host(ctx, ignore);
    if (!host)
        return false;
    if (!streq(host, xapi_state.host_ref)) {
        _cleanup_free_ char *uuid = cli_uuid_of(C_host, host);
        cli_fail(ctx,
                 "The statistics of host %s live in its own xapi: run the command on that host.",
                 uuid ? uuid : host);
        return false;
    }
    return true;
}

/* ---- timing ---- */

static int cmp_key(const void *a, const void *b)
{
    const char *const *x = a, *const *y = b;
    return strcmp(x[0], y[0]);
}

int cli_diag_timing_stats(struct cli_ctx *ctx)
{
    bool counts = cli_arg_bool(ctx, "counts", false);
    size_t n_hosts = 0, it = 0;
    const struct row *r;
    char **hosts = NULL;

    db_rdlock();
    while (db_next(C_host, &it, &r)) {
        hosts = xrealloc(hosts, (n_hosts + 1) * sizeof(char *));
        hosts[n_hosts++] = xstrdup(r->ref);
    }
    db_unlock();
    for (size_t h = 0; h < n_hosts; h++) {
        struct diagstats_timing *t = NULL;
        size_t n = 0;
        bool here = streq(hosts[h], xapi_state.host_ref);
        if (here)
            t = diagstats_timings(&n);
        /* key/value pairs, sorted by key with the host's own two, as XCP
         * sorts them */
        char **kv = xcalloc(2 * (n + 3), sizeof(char *));
        size_t k = 0;
        kv[2 * k] = xstrdup("host-uuid");
        kv[2 * k++ + 1] = cli_field_of(C_host, hosts[h], FIDX(host, uuid));
        kv[2 * k] = xstrdup("host-name-label");
        kv[2 * k++ + 1] = cli_field_of(C_host, hosts[h], FIDX(host, name_label));
        for (size_t i = 0; i < n; i++) {
            kv[2 * k] = xstrdup(t[i].name);
            kv[2 * k++ + 1] = diagstats_timing_text(&t[i], counts);
        }
        if (!here) {
            kv[2 * k] = xstrdup("Error");
            kv[2 * k++ + 1] = xstrdup("the timing statistics of another host are kept by "
                                      "its own xapi and cannot be read from this one");
        }
        qsort(kv, k, 2 * sizeof(char *), cmp_key);
        struct cli_record rec = {0};
        for (size_t i = 0; i < k; i++)
            cli_record_add(&rec, kv[2 * i], kv[2 * i + 1] ? kv[2 * i + 1] : "");
        cli_print_record(ctx, &rec);
        cli_record_done(&rec);
        for (size_t i = 0; i < 2 * k; i++)
            free(kv[i]);
        free(kv);
        free(t);
        free(hosts[h]);
    }
    free(hosts);
    return 0;
}

/* ---- network ---- */

/* Whether params= (comma-separated) names column, or params= is absent. */
static bool has_param(const char *params, const char *column)
{
    if (!params)
        return true;
    size_t len = strlen(column);
    for (const char *p = params; p;) {
        const char *comma = strchr(p, ',');
        size_t n = comma ? (size_t)(comma - p) : strlen(p);
        if (n == len && strncmp(p, column, n) == 0)
            return true;
        p = comma ? comma + 1 : NULL;
    }
    return false;
}

int cli_diag_net_stats(struct cli_ctx *ctx)
{
    static const char *const columns[] = {"method", "uri", "requests", "connections", "framed"};
    enum { N = 5 };
    const char *method = cli_arg(ctx, "method"), *uri = cli_arg(ctx, "uri");
    const char *params = cli_arg(ctx, "params");
    size_t n = 0, width[N] = {0};
    bool on[N];

    if (!select_this_host(
            ctx, PARAMS("uri", "method", "params", "requests", "connections", "framed", "counts")))
        return 1;
    for (int c = 0; c < N; c++)
        on[c] = has_param(params, columns[c]);
    struct diagstats_http_row *rows = diagstats_http_rows(&n);
    char *(*cells)[N] = xcalloc(n + 1, sizeof(*cells));
    size_t kept = 0;
    for (size_t i = 0; i < n; i++) {
        if ((method && strcasecmp(method, rows[i].method) != 0) ||
            (uri && strcasecmp(uri, rows[i].uri) != 0))
            continue;
        cells[kept][0] = xstrdup(rows[i].method);
        cells[kept][1] = xstrdup(rows[i].uri);
        cells[kept][2] = xasprintf("%llu", (unsigned long long)rows[i].requests);
        cells[kept][3] = xasprintf("%llu", (unsigned long long)rows[i].connections);
        cells[kept][4] = xasprintf("%llu", (unsigned long long)rows[i].framed);
        for (int c = 0; c < N; c++)
            if (on[c] && strlen(cells[kept][c]) > width[c])
                width[c] = strlen(cells[kept][c]);
        kept++;
    }
    struct strbuf sb;
    strbuf_init(&sb, 128);
    for (size_t i = 0; i < kept; i++) {
        bool first = true;
        strbuf_reset(&sb);
        for (int c = 0; c < N; c++) {
            if (!on[c])
                continue;
            strbuf_addf(&sb, "%s%*s", first ? "" : " | ", (int)width[c], cells[i][c]);
            first = false;
        }
        cli_print_message(ctx, "%s", sb.buf);
        for (int c = 0; c < N; c++)
            free(cells[i][c]);
    }
    strbuf_done(&sb);
    free(cells);
    free(rows);
    return 0;
}

/* ---- database ---- */

static long long file_size(const char *path)
{
    struct stat st;
    return path && stat(path, &st) == 0 ? (long long)st.st_size : 0;
}

int cli_diag_db_stats(struct cli_ctx *ctx)
{
    size_t rows[C__COUNT] = {0}, bytes[C__COUNT] = {0}, total_rows = 0, total_bytes = 0;
    size_t tables = 0;
    const struct row *r;
    int64_t gen;

    db_rdlock();
    gen = db_generation();
    for (int c = 0; c < C__COUNT; c++) {
        const struct class_desc *cd = &model_classes[c];
        if (!(cd->flags & CF_DB))
            continue;
        tables++;
        for (size_t it = 0; db_next(c, &it, &r);) {
            rows[c]++;
            bytes[c] += strlen(r->ref);
            for (int f = 0; f < cd->n_fields; f++)
                if (r->v[f])
                    bytes[c] += strlen(r->v[f]);
        }
        total_rows += rows[c];
        total_bytes += bytes[c];
    }
    db_unlock();

    const char *path = db_path();
    _cleanup_free_ char *wal = path ? xasprintf("%s-wal", path) : NULL;
    cli_print_message(ctx,
                      "DB stats: generation=%lld tables=%zu rows=%zu bytes=%zu file=%s "
                      "file-size=%lld wal-size=%lld",
                      (long long)gen, tables, total_rows, total_bytes, path ? path : "(memory)",
                      file_size(path), file_size(wal));
    for (int c = 0; c < C__COUNT; c++)
        if (rows[c])
            cli_print_message(ctx, "DB table %s: rows=%zu bytes=%zu%s", model_classes[c].name,
                              rows[c], bytes[c],
                              (model_classes[c].flags & CF_NOPERSIST) ? " memory-only" : "");
    return 0;
}

/* ---- heap ---- */

int cli_diag_gc_stats(struct cli_ctx *ctx)
{
    static const char *const statm_keys[] = {"vm_size", "vm_resident", "vm_shared",
                                             "vm_text", "vm_lib",      "vm_data"};
    unsigned long long statm[6] = {0};
    long page = sysconf(_SC_PAGESIZE);
    struct cli_record rec = {0};
    char buf[32];

    if (!select_this_host(ctx, NULL))
        return 1;
    struct mallinfo2 mi = mallinfo2();
    FILE *f = fopen("/proc/self/statm", "re");
    if (!f)
        return cli_fail(ctx, "cannot read /proc/self/statm: %s", strerror(errno));
    int got = fscanf(f, "%llu %llu %llu %llu %llu %llu", &statm[0], &statm[1], &statm[2], &statm[3],
                     &statm[4], &statm[5]);
    fclose(f);
    if (got != 6)
        return cli_fail(ctx, "cannot read /proc/self/statm: unexpected contents");

#define ADD(key, v)                                                                                \
    do {                                                                                           \
        snprintf(buf, sizeof(buf), "%llu", (unsigned long long)(v));                               \
        cli_record_add(&rec, key, buf);                                                            \
    } while (0)
    ADD("arena", mi.arena);
    ADD("ordblks", mi.ordblks);
    ADD("smblks", mi.smblks);
    ADD("hblks", mi.hblks);
    ADD("hblkhd", mi.hblkhd);
    ADD("usmblks", mi.usmblks);
    ADD("fsmblks", mi.fsmblks);
    ADD("uordblks", mi.uordblks);
    ADD("fordblks", mi.fordblks);
    ADD("keepcost", mi.keepcost);
    for (size_t i = 0; i < ELEMENTSOF(statm_keys); i++)
        if (i != 4) /* statm's lib field is always 0 since Linux 2.6 */
            ADD(statm_keys[i], statm[i] * (unsigned long long)page);
    ADD("compactions", diagstats_compactions());
#undef ADD
    cli_print_record(ctx, &rec);
    cli_record_done(&rec);
    return 0;
}

int cli_diag_compact(struct cli_ctx *ctx)
{
    if (!select_this_host(ctx, NULL))
        return 1;
    diagstats_compact();
    return 0;
}
