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
