/* host-get-sm-diagnostics and host-get-thread-diagnostics (xe-cli.md
 * 3.2). XCP serves them with the hidden messages host.get_sm_diagnostics
 * (its storage layer's state) and host.get_thread_diagnostics (a graph of
 * its threads and locks), which Xenia's data model, taken from the
 * published API, does not carry; the commands answer from the same
 * sources here: storaged's diagnostics method (attached SRs, their
 * attached and active VDIs, copies, jobs) and the dispatcher's record of
 * which thread runs which call (xapi-c/diagstats.h). As in XCP the host is
 * picked by uuid= and the answer printed as one message. */
#include <stdlib.h>

#include "diagnostic.h"
#include "lib/cleanup.h"
#include "lib/util.h"
#include "xapi-c/config.h"
#include "xapi-c/diagstats.h"
#include "xapi-c/storage.h"

/* storaged answers at once: it only reads its tables. */
#define SM_DIAG_TIMEOUT 30.0

static bool this_host(struct cli_ctx *ctx)
{
    _cleanup_free_ char *host = cli_diag_one_host(ctx, NULL);
    if (!host)
        return false;
    if (!streq(host, xapi_state.host_ref)) {
        _cleanup_free_ char *uuid = cli_uuid_of(C_host, host);
        cli_fail(ctx, "The diagnostics of host %s are kept on that host: run the command there.",
                 uuid ? uuid : host);
        return false;
    }
    return true;
}

static const char *str(json_object *o, const char *key)
{
    json_object *v;
    return json_object_object_get_ex(o, key, &v) && json_object_is_type(v, json_type_string)
               ? json_object_get_string(v)
               : "";
}

static bool flag(json_object *o, const char *key)
{
    json_object *v;
    return json_object_object_get_ex(o, key, &v) && json_object_get_boolean(v);
}

static int64_t num(json_object *o, const char *key)
{
    json_object *v;
    return json_object_object_get_ex(o, key, &v) ? json_object_get_int64(v) : 0;
}

static size_t len(json_object *o, const char *key)
{
    json_object *v;
    return json_object_object_get_ex(o, key, &v) && json_object_is_type(v, json_type_array)
               ? json_object_array_length(v)
               : 0;
}

static json_object *item(json_object *o, const char *key, size_t i)
{
    json_object *v;
    json_object_object_get_ex(o, key, &v);
    return json_object_array_get_idx(v, i);
}

/* storaged's answer as text, one line per SR, VDI and job. */
static void sm_text(json_object *d, struct strbuf *sb)
{
    size_t n_srs = len(d, "srs"), n_jobs = len(d, "jobs");

    strbuf_addf(sb, "Attached SRs: %zu\n", n_srs);
    for (size_t i = 0; i < n_srs; i++) {
        json_object *sr = item(d, "srs", i);
        strbuf_addf(sb, "SR %s type=%s root=%s mounted=%s temporaries=%lld copies-into=%lld\n",
                    str(sr, "sr_uuid"), str(sr, "type"), str(sr, "root"),
                    flag(sr, "mounted") ? "true" : "false", (long long)num(sr, "temporaries"),
                    (long long)num(sr, "copies_into"));
        for (size_t k = 0; k < len(sr, "attached"); k++) {
            json_object *v = item(sr, "attached", k);
            strbuf_addf(sb, "  VDI %s attached %s%s\n", str(v, "vdi_uuid"),
                        flag(v, "read_write") ? "read-write" : "read-only",
                        flag(v, "active") ? ", active" : "");
        }
        for (size_t k = 0; k < len(sr, "copying_from"); k++) {
            const char *v = json_object_get_string(item(sr, "copying_from", k));
            strbuf_addf(sb, "  VDI %s being copied from\n", v ? v : "");
        }
    }
    strbuf_addf(sb, "Copy jobs: %zu\n", n_jobs);
    for (size_t i = 0; i < n_jobs; i++) {
        json_object *j = item(d, "jobs", i), *p;
        double progress =
            json_object_object_get_ex(j, "progress", &p) ? json_object_get_double(p) : 0.0;
        strbuf_addf(sb, "job %s progress=%.2f done=%s cancelled=%s%s%s\n", str(j, "job"), progress,
                    flag(j, "done") ? "true" : "false", flag(j, "cancelled") ? "true" : "false",
                    *str(j, "error") ? " error=" : "", str(j, "error"));
    }
}

int cli_diag_sm_diagnostics(struct cli_ctx *ctx)
{
    json_object *d = NULL;
    struct strbuf sb;

    if (!this_host(ctx))
        return 1;
    json_object *p = json_object_new_object();
    struct api_error *e = storage_call("diagnostics", p, SM_DIAG_TIMEOUT, &d);
    json_object_put(p);
    if (e)
        return cli_fail_api(ctx, e);
    strbuf_init(&sb, 512);
    sm_text(d, &sb);
    json_object_put(d);
    sb.buf[--sb.len] = '\0'; /* the client ends the message's line */
    cli_print_message(ctx, "%s", sb.buf);
    strbuf_done(&sb);
    return 0;
}

static int by_tid(const void *a, const void *b)
{
    const struct diagstats_thread *x = a, *y = b;
    return (x->tid > y->tid) - (x->tid < y->tid);
}

int cli_diag_thread_diagnostics(struct cli_ctx *ctx)
{
    struct strbuf sb;
    size_t n;

    if (!this_host(ctx))
        return 1;
    struct diagstats_thread *t = diagstats_threads(&n);
    if (n)
        qsort(t, n, sizeof(*t), by_tid);
    strbuf_init(&sb, 256);
    strbuf_addf(&sb, "Threads running API calls: %zu\n", n);
    for (size_t i = 0; i < n; i++)
        strbuf_addf(&sb, "thread %d: %s for %.6f s\n", t[i].tid, t[i].name, t[i].seconds);
    sb.buf[--sb.len] = '\0'; /* the client ends the message's line */
    cli_print_message(ctx, "%s", sb.buf);
    strbuf_done(&sb);
    free(t);
    return 0;
}
