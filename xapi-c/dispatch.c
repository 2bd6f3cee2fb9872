/* Request dispatch (see dispatch.h). */
#include "dispatch.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "diagstats.h"
#include "lib/log.h"
#include "lib/util.h"
#include "marshal.h"
#include "rpc.h"
#include "sessions.h"
#include "tasks.h"

LOG_MODULE("dispatch");

/* Room for the longest success envelope in front of a value. */
#define ENVELOPE_HEADROOM 256

static const char http_500_body[] =
    "<html><body><h1>HTTP 500 internal server error</h1>An unexpected error occurred; please "
    "wait a while and try again. If the problem persists, please contact your support "
    "representative.</body></html>";

static bool stopping;

void api_stop(void)
{
    __atomic_store_n(&stopping, true, __ATOMIC_RELEASE);
}

bool api_stopping(void)
{
    return __atomic_load_n(&stopping, __ATOMIC_ACQUIRE);
}

void call_free(struct call *c)
{
    if (!c)
        return;
    for (int i = 0; i < c->n_args; i++)
        free(c->args[i]);
    free(c->args);
    if (c->rec) {
        for (int i = 0; i < model_classes[c->m->cls].n_fields; i++)
            free(c->rec[i]);
        free(c->rec);
    }
    free(c->rec_given);
    free((char *)c->wire_name);
    free((char *)c->originator);
    free((char *)c->client_addr);
    free((char *)c->task);
    session_info_done(&c->session);
    free(c);
}

/* Finds Class_message as Class.message: the class may itself contain
 * underscores, so try each class that prefixes the name. */
static const struct method *find_underscore_alias(const char *name)
{
    const struct method *best = NULL;
    size_t best_len = 0;
    for (int i = 0; i < C__COUNT; i++) {
        const char *cn = model_classes[i].name;
        size_t n = strlen(cn);
        if (n <= best_len || strncmp(name, cn, n) != 0 || name[n] != '_')
            continue;
        char *dotted = xasprintf("%s.%s", cn, name + n + 1);
        const struct method *m = api_find_method(dotted);
        free(dotted);
        if (m) {
            best = m;
            best_len = n;
        }
    }
    return best;
}

static struct api_error *unmarshal_record(struct call *c, const struct param_desc *p,
                                          const struct xv *v)
{
    const struct class_desc *cd = &model_classes[p->type->cls];
    struct strbuf sb;

    if (v->kind != XV_STRUCT)
        return api_failf(INTERNAL_ERROR, "Unmarshalling error: expected %s, received %s",
                         p->type_text, xv_kind_name(v->kind));
    c->rec = xcalloc((size_t)cd->n_fields + 1, sizeof(char *));
    c->rec_given = xcalloc((size_t)cd->n_fields + 1, sizeof(bool));
    strbuf_init(&sb, 64);
    for (int i = 0; i < cd->n_fields; i++) {
        const struct field_desc *f = &cd->fields[i];
        if (f->qual == Q_RO_RUN || (f->flags & FF_COMPUTED) || f->state == S_REMOVED)
            continue;
        const struct xv *m = xv_member(v, f->name);
        if (!m) {
            if (!f->def) {
                strbuf_done(&sb);
                return api_failf(INTERNAL_ERROR, "Server_helpers.Dispatcher_FieldNotFound(\"%s\")",
                                 f->name);
            }
            continue;
        }
        strbuf_reset(&sb);
        struct api_error *e = marshal_from_wire(f->type, m, &sb);
        if (e) {
            strbuf_done(&sb);
            return e;
        }
        c->rec[i] = strbuf_detach(&sb, NULL);
        c->rec_given[i] = true;
    }
    strbuf_done(&sb);
    return NULL;
}

/* Checks the count and the types of the parameters into c->args. */
static struct api_error *unmarshal_params(struct call *c, const struct rpc_call *rc)
{
    const struct method *m = c->m;
    int sent = (int)rc->n_params;
    int optional = m->n_params - m->n_required;
    int base = m->takes_session ? 1 : 0;

    if ((optional == 0 && sent != m->n_params) || sent < m->n_required) {
        char exp[16], got[16];
        snprintf(exp, sizeof(exp), "%d", m->n_required - base);
        snprintf(got, sizeof(got), "%d", sent - base);
        return api_fail(MESSAGE_PARAMETER_COUNT_MISMATCH, m->wire, exp, got);
    }
    c->n_args = m->n_params;
    c->args = xcalloc((size_t)m->n_params + 1, sizeof(char *));
    struct strbuf sb;
    strbuf_init(&sb, 64);
    for (int i = 0; i < m->n_params; i++) {
        const struct param_desc *p = &m->params[i];
        struct api_error *e;
        strbuf_reset(&sb);
        if (i >= sent) {
            e = marshal_from_text(p->type, p->def ? p->def : model_type_zero(p->type), &sb);
            if (e) { /* a default that does not parse is the type's zero */
                api_error_free(e);
                strbuf_reset(&sb);
                strbuf_adds(&sb, model_type_zero(p->type));
            }
        } else if (p->type->kind == T_RECORD && p->type->cls >= 0) {
            e = unmarshal_record(c, p, &rc->params[i]);
            if (e) {
                strbuf_done(&sb);
                return e;
            }
        } else if ((e = marshal_from_wire(p->type, &rc->params[i], &sb))) {
            strbuf_done(&sb);
            return e;
        }
        c->args[i] = xstrndup(sb.buf, sb.len);
    }
    strbuf_done(&sb);
    return NULL;
}

static void write_error(struct strbuf *body, const struct rpc_call *rc, enum wire w,
                        const struct api_error *e)
{
    rpc_write_failure(body, rc, w, e->code, (const char *const *)e->params, e->n);
}

/* Wraps the value in its envelope where it lies: the writer left headroom
 * for the text in front, so a large answer is never copied. */
static void write_success(struct http_response *resp, const struct rpc_call *rc, enum wire w,
                          struct out *o)
{
    struct strbuf prefix, suffix;
    size_t len;
    const char *v = out_value(o, &len);

    strbuf_init(&prefix, 256);
    strbuf_init(&suffix, 64);
    rpc_success_parts(rc, w, &prefix, &suffix);
    if (len > 0 && prefix.len <= o->base) {
        size_t start = o->base - prefix.len;
        memcpy(o->sb.buf + start, prefix.buf, prefix.len);
        strbuf_add(&o->sb, suffix.buf, suffix.len);
        strbuf_done(&resp->body);
        resp->body = o->sb;
        resp->body_offset = start;
        strbuf_init(&o->sb, 0);
        o->base = 0;
    } else
        rpc_write_success(&resp->body, rc, w, v, len);
    strbuf_done(&prefix);
    strbuf_done(&suffix);
}

static void list_methods(struct strbuf *body, const struct rpc_call *rc, enum wire w)
{
    struct out o;
    size_t n;
    const char *const *names = api_method_names(&n);
    out_init(&o, w);
    out_array_begin(&o);
    for (size_t i = 0; i < n; i++)
        out_string(&o, names[i]);
    out_array_end(&o);
    size_t len;
    const char *v = out_value(&o, &len);
    rpc_write_bare(body, rc, w, v, len);
    out_done(&o);
}

/* Runs a prepared call on this thread, writing its result into out. */
struct api_error *dispatch_run(struct call *c)
{
    const struct method *m = c->m;
    uint64_t start = diagstats_clock();
    struct diagstats_busy saved;
    struct api_error *e;
    diagstats_enter(m->wire, start, &saved);
    if (m->fn)
        e = m->fn(c);
    else if (m->kind != MK_CUSTOM)
        e = generic_call(c, m->kind, m->cls, m->field);
    else
        e = api_fail(MESSAGE_NOT_IMPLEMENTED, m->wire);
    diagstats_leave(&saved);
    diagstats_call(m, m->wire, diagstats_clock() - start);
    return e;
}

static void dispatch_call(const struct rpc_call *rc, enum wire w, const struct http_request *req,
                          struct http_response *resp)
{
    struct call *c = xcalloc(1, sizeof(*c));
    struct api_error *e = NULL;
    struct out o;
    const char *name = rc->method;
    bool async = false;

    out_init_headroom(&o, w, ENVELOPE_HEADROOM);
    c->out = &o;
    c->wire_name = xstrdup(name);
    c->originator = req->originator ? xstrdup(req->originator) : NULL;
    c->client_addr = xstrdup(req->peer ? req->peer : "");
    c->local = req->local;

    if (!utf8_is_valid(name, strlen(name))) {
        e = api_fail(INVALID_VALUE, "Invalid UTF-8 string in parameter", "");
        goto done;
    }
    if (streq(name, "system.listMethods")) {
        list_methods(&resp->body, rc, w);
        goto out;
    }
    if (strncmp(name, "system.isAlive", 14) == 0) {
        if (rc->n_params > 0 && rc->params[0].kind == XV_STRING)
            out_string(&o, rc->params[0].str.s);
        else
            out_void(&o);
        goto done;
    }
    if (strncmp(name, "Async.", 6) == 0) {
        async = true;
        name += 6;
    } else if (strncmp(name, "InternalAsync.", 14) == 0) {
        async = true;
        name += 14;
    }
    c->m = api_find_method(name);
    if (!c->m && !async)
        c->m = find_underscore_alias(name);
    if (!c->m) {
        e = api_fail(MESSAGE_METHOD_UNKNOWN, rc->method);
        goto done;
    }
    if (async && !c->m->async) {
        e = api_failf(Fault, "No async mode for this operation (rpc: %s)", c->m->wire);
        goto done;
    }
    if ((e = unmarshal_params(c, rc)))
        goto done;
    if (c->m->takes_session && (e = session_check(c->args[0], &c->session)))
        goto done;
    if (c->m->state == S_REMOVED) {
        e = api_fail(MESSAGE_REMOVED);
        goto done;
    }
    if (async) {
        char task[64];
        c->out = NULL;
        e = tasks_start(TAKE_PTR(c), rc->method, task);
        if (!e)
            out_string(&o, task);
        goto done;
    }
    e = dispatch_run(c);
done:
    if (e)
        write_error(&resp->body, rc, w, e);
    else
        write_success(resp, rc, w, &o);
out:
    api_error_free(e);
    call_free(c);
    out_done(&o);
}

void dispatch_http(const struct http_request *req, struct http_response *resp, void *userdata)
{
    (void)userdata;
    struct rpc_call rc = {0};
    const char *why = NULL;

    if (streq(req->method, "POST") && streq(req->path, "/cli")) {
        cli_http(req, resp);
        return;
    }
    if (!streq(req->method, "POST")) {
        resp->status = 200;
        resp->content_type = "text/html";
        strbuf_adds(&resp->body, "<html><head><title>Xenia</title></head><body><h1>Xenia</h1>"
                                 "<p>This host serves the XenAPI: XML-RPC on POST /, JSON-RPC "
                                 "on POST /jsonrpc.</p></body></html>");
        return;
    }
    /* Every log line of this request carries its id. */
    static uint64_t counter;
    char rid[32];
    snprintf(rid, sizeof(rid), "R%" PRIu64, __atomic_add_fetch(&counter, 1, __ATOMIC_RELAXED));
    log_set_request_id(rid);

    enum wire w = streq(req->path, "/jsonrpc") ? WIRE_JSON : WIRE_XML;
    int r = w == WIRE_JSON ? jsonrpc_parse_call(req->body, req->body_len, &rc, &why)
                           : xmlrpc_parse_call(req->body, req->body_len, &rc, &why);
    if (r < 0) {
        log_info("refused a malformed %s request from %s: %s", w == WIRE_JSON ? "JSON" : "XML",
                 req->peer ? req->peer : "?", why ? why : "?");
        resp->status = 500;
        resp->content_type = "text/html";
        resp->close = true;
        strbuf_adds(&resp->body, http_500_body);
        rpc_call_done(&rc);
        log_set_request_id(NULL);
        return;
    }
    resp->status = 200;
    resp->content_type = w == WIRE_JSON ? "application/json" : "text/xml";
    dispatch_call(&rc, w, req, resp);
    rpc_call_done(&rc);
    log_set_request_id(NULL);
}
