/* Calling the API from a command: the same method table and handlers that
 * serve XML-RPC and JSON-RPC, run on the command's thread with the
 * command's session, the result written as JSON (no HTTP round trip). */
#include <json-c/json.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "lib/util.h"
#include "xapi-c/api.h"
#include "xapi-c/dispatch.h"
#include "xapi-c/marshal.h"
#include "xapi-c/sessions.h"

struct api_error *cli_call(struct cli_ctx *ctx, const char *wire, const char *const *args, size_t n,
                           char **ret_json)
{
    const struct method *m = api_find_method(wire);
    struct api_error *e;
    struct call *c;
    struct out o;
    struct strbuf sb;

    if (!m)
        return api_fail(MESSAGE_METHOD_UNKNOWN, wire);
    if ((int)n + 1 > m->n_params)
        return api_failf(INTERNAL_ERROR, "cli: too many arguments for %s", wire);

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

struct api_error *cli_call_str(struct cli_ctx *ctx, const char *wire, const char *const *args,
                               size_t n, char **ret)
{
    char *json = NULL;
    struct api_error *e = cli_call(ctx, wire, args, n, &json);
    json_object *j;

    if (e)
        return e;
    j = json_tokener_parse(json);
    free(json);
    if (!j || !json_object_is_type(j, json_type_string)) {
        json_object_put(j);
        return api_failf(INTERNAL_ERROR, "cli: %s did not return a string", wire);
    }
    *ret = xstrdup(json_object_get_string(j));
    json_object_put(j);
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
