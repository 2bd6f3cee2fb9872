/* Calling the API from a command: the same method table and handlers that
 * serve XML-RPC and JSON-RPC, run on the command's thread with the
 * command's session, the result written as JSON (no HTTP round trip). A
 * long operation asked for with --progress runs as a task instead (as
 * Async.* does) while the command draws the task's progress on stderr. */
#include <json-c/json.h>
#include <libxml/parser.h>
#include <libxml/tree.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "lib/strlist.h"
#include "lib/util.h"
#include "xapi-c/api.h"
#include "xapi-c/db.h"
#include "xapi-c/dispatch.h"
#include "xapi-c/marshal.h"
#include "xapi-c/sessions.h"
#include "xapi-c/tasks.h"

/* A call of method wire as the command's session, with args in canonical
 * text after the session and defaults for the rest; NULL with ret_e set if
 * the method is unknown or takes fewer arguments. */
static struct call *call_new(struct cli_ctx *ctx, const char *wire, const char *const *args,
                             size_t n, struct api_error **ret_e)
{
    const struct method *m = api_find_method(wire);
    struct api_error *e;
    struct call *c;
    struct strbuf sb;

    if (!m) {
        *ret_e = api_fail(MESSAGE_METHOD_UNKNOWN, wire);
        return NULL;
    }
    if ((int)n + 1 > m->n_params) {
        *ret_e = api_failf(INTERNAL_ERROR, "cli: too many arguments for %s", wire);
        return NULL;
    }
    c = xcalloc(1, sizeof(*c));
    c->m = m;
    c->wire_name = xstrdup(wire);
    c->originator = xstrdup("cli");
    c->client_addr = xstrdup(ctx->peer ? ctx->peer : "");
    c->local = ctx->local;
    c->n_args = m->n_params;
    c->args = xcalloc((size_t)m->n_params + 1, sizeof(char *));
    c->args[0] = xstrdup(ctx->session);
    strbuf_init(&sb, 64);
    for (int i = 1; i < m->n_params; i++) {
        const struct param_desc *p = &m->params[i];
        if ((size_t)i <= n) {
            c->args[i] = xstrdup(args[i - 1]);
            continue;
        }
        strbuf_reset(&sb);
        e = marshal_from_text(p->type, p->def ? p->def : model_type_zero(p->type), &sb);
        if (e) {
            api_error_free(e);
            c->args[i] = xstrdup(model_type_zero(p->type));
        } else
            c->args[i] = xstrndup(sb.buf, sb.len);
    }
    strbuf_done(&sb);
    return c;
}

struct api_error *cli_call(struct cli_ctx *ctx, const char *wire, const char *const *args, size_t n,
                           char **ret_json)
{
    struct api_error *e = NULL;
    struct call *c = call_new(ctx, wire, args, n, &e);
    struct out o;

    if (!c)
        return e;
    out_init(&o, WIRE_JSON);
    c->out = &o;
    e = session_check(ctx->session, &c->session);
    if (!e)
        e = dispatch_run(c);
    if (!e && ret_json) {
        size_t len;
        const char *v = out_value(&o, &len);
        *ret_json = xstrndup(v, len);
    }
    out_done(&o);
    call_free(c);
    return e;
}

bool cli_wants_progress(const struct cli_ctx *ctx)
{
    return cli_arg(ctx, "progress") && cli_arg_bool(ctx, "progress", true);
}

/* Draws the bar of a task at progress p (0..1) on the client's stderr, as
 * xe does: percentage, a spinner, then one # per 2.5 %. */
static void draw(struct cli_ctx *ctx, double p, unsigned tick, bool last)
{
    static const char spinner[] = "|/-\\";
    char bar[64];
    int pct = p < 0 ? 0 : p > 1 ? 100 : (int)(p * 100.0 + 0.5);
    int n = pct * 40 / 100;

    memset(bar, '#', (size_t)n);
    bar[n] = '\0';
    _cleanup_free_ char *line = xasprintf("\r %3d%% %c %-40s%s", pct,
                                          last ? ' ' : spinner[tick % 4], bar, last ? "\n" : "");
    cli_send_stderr(ctx->conn, line);
}

/* The outcome of a finished task: its result as a JSON string (the refs
 * the long operations return) or its error rebuilt from error_info. */
static struct api_error *task_outcome(const char *task, char **ret_json)
{
    struct api_error *e = NULL;
    const struct row *r;

    db_rdlock();
    r = db_get(C_task, task);
    if (!r)
        e = api_failf(INTERNAL_ERROR, "cli: the task %s went away", task);
    else if (!streq(r->v[FIDX(task, status)], "success")) {
        struct strlist_iter it;
        const char *v;
        char **p = NULL;
        size_t n = 0;
        strlist_iter_init(&it, r->v[FIDX(task, error_info)]);
        while (strlist_iter_next(&it, NULL, &v)) {
            p = xrealloc(p, (n + 1) * sizeof(char *));
            p[n++] = xstrdup(v);
        }
        strlist_iter_done(&it);
        e = n ? api_error_new(p[0], (const char *const *)p + 1, n - 1)
              : api_failf(INTERNAL_ERROR, "cli: task %s failed without an error", task);
        for (size_t i = 0; i < n; i++)
            free(p[i]);
        free(p);
    } else if (ret_json) {
        /* The result is an XML-RPC value fragment; the long operations
         * return a string (a ref), which is its text. */
        const char *x = r->v[FIDX(task, result)];
        xmlDocPtr doc =
            *x ? xmlReadMemory(x, (int)strlen(x), "result.xml", NULL,
                               XML_PARSE_NONET | XML_PARSE_NOERROR | XML_PARSE_NOWARNING)
               : NULL;
        xmlChar *text = doc ? xmlNodeGetContent(xmlDocGetRootElement(doc)) : NULL;
        json_object *j = json_object_new_string(text ? (const char *)text : "");
        *ret_json = xstrdup(json_object_to_json_string_ext(j, JSON_C_TO_STRING_PLAIN));
        json_object_put(j);
        xmlFree(text);
        xmlFreeDoc(doc);
    }
    db_unlock();
    return e;
}

struct api_error *cli_call_long(struct cli_ctx *ctx, const char *wire, const char *const *args,
                                size_t n, char **ret_json)
{
    const struct method *m = api_find_method(wire);
    struct api_error *e = NULL;
    char task[64];
    struct call *c;
    double last_pct = -1, last_draw = 0;
    unsigned tick = 0;

    if (!cli_wants_progress(ctx) || !m || !m->async)
        return cli_call(ctx, wire, args, n, ret_json);
    if (!(c = call_new(ctx, wire, args, n, &e)))
        return e;
    if ((e = session_check(ctx->session, &c->session))) {
        call_free(c);
        return e;
    }
    _cleanup_free_ char *label = xasprintf("Async.%s", wire);
    if ((e = tasks_start(c, label, task)))
        return e;
    /* The task's row tells its progress; every change of the database
     * wakes the wait, and the spinner turns at least twice a second. */
    for (;;) {
        int64_t gen = db_generation();
        bool done;
        double p = 0;

        db_rdlock();
        const struct row *r = db_get(C_task, task);
        done = !r || !streq(r->v[FIDX(task, status)], "pending");
        if (r)
            p = strtod(r->v[FIDX(task, progress)], NULL);
        db_unlock();
        if (done)
            break;
        double now = now_monotonic();
        if (p != last_pct || now - last_draw >= 0.25) {
            draw(ctx, p, tick++, false);
            last_pct = p;
            last_draw = now;
        }
        db_wait_change(gen, now + 0.5);
    }
    e = task_outcome(task, ret_json);
    draw(ctx, e ? last_pct : 1.0, tick, true);
    /* The task was the command's own: it goes with the command. */
    api_error_free(cli_call(ctx, "task.destroy", (const char *const[]){task}, 1, NULL));
    return e;
}

/* The string a JSON result holds, newly allocated; NULL if it is not one. */
static char *json_string(const char *json)
{
    json_object *j = json_tokener_parse(json);
    char *s =
        j && json_object_is_type(j, json_type_string) ? xstrdup(json_object_get_string(j)) : NULL;
    json_object_put(j);
    return s;
}

struct api_error *cli_call_str(struct cli_ctx *ctx, const char *wire, const char *const *args,
                               size_t n, char **ret)
{
    _cleanup_free_ char *json = NULL;
    struct api_error *e = cli_call(ctx, wire, args, n, &json);

    if (e)
        return e;
    if (!(*ret = json_string(json)))
        return api_failf(INTERNAL_ERROR, "cli: %s did not return a string", wire);
    return NULL;
}

struct api_error *cli_call_long_str(struct cli_ctx *ctx, const char *wire, const char *const *args,
                                    size_t n, char **ret)
{
    _cleanup_free_ char *json = NULL;
    struct api_error *e = cli_call_long(ctx, wire, args, n, &json);

    if (e)
        return e;
    if (!(*ret = json_string(json)))
        return api_failf(INTERNAL_ERROR, "cli: %s did not return a string", wire);
    return NULL;
}

struct api_error *cli_call_create(struct cli_ctx *ctx, int cls, const struct cli_fv *fv, size_t n,
                                  char **ret_ref)
{
    const struct class_desc *cd = &model_classes[cls];
    _cleanup_free_ char *wire = xasprintf("%s.create", cd->name);
    const struct method *m = api_find_method(wire);
    struct api_error *e;
    struct call *c;
    struct out o;

    if (!m)
        return api_fail(MESSAGE_METHOD_UNKNOWN, wire);
    c = xcalloc(1, sizeof(*c));
    c->m = m;
    c->wire_name = xstrdup(wire);
    c->originator = xstrdup("cli");
    c->client_addr = xstrdup(ctx->peer ? ctx->peer : "");
    c->local = ctx->local;
    c->n_args = m->n_params;
    c->args = xcalloc((size_t)m->n_params + 1, sizeof(char *));
    c->args[0] = xstrdup(ctx->session);
    for (int i = 1; i < m->n_params; i++)
        c->args[i] = xstrdup("");
    /* Every field a create record carries: the ones given, the others at
     * their defaults, as a client sending a full record does. */
    c->rec = xcalloc((size_t)cd->n_fields + 1, sizeof(char *));
    c->rec_given = xcalloc((size_t)cd->n_fields + 1, sizeof(bool));
    for (int i = 0; i < cd->n_fields; i++) {
        const struct field_desc *f = &cd->fields[i];
        if (f->qual == Q_RO_RUN || (f->flags & FF_COMPUTED) || f->state == S_REMOVED)
            continue;
        c->rec[i] = xstrdup(model_field_default(f));
        c->rec_given[i] = true;
    }
    for (size_t i = 0; i < n; i++) {
        free(c->rec[fv[i].field]);
        c->rec[fv[i].field] = xstrdup(fv[i].value);
        c->rec_given[fv[i].field] = true;
    }
    out_init(&o, WIRE_JSON);
    c->out = &o;
    e = session_check(ctx->session, &c->session);
    if (!e)
        e = dispatch_run(c);
    if (!e) {
        size_t len;
        const char *v = out_value(&o, &len);
        json_object *j = json_tokener_parse(v);
        if (j && json_object_is_type(j, json_type_string))
            *ret_ref = xstrdup(json_object_get_string(j));
        else
            e = api_failf(INTERNAL_ERROR, "cli: %s did not return a ref", wire);
        json_object_put(j);
    }
    out_done(&o);
    call_free(c);
    return e;
}
