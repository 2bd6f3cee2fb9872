/* The protocol-blind face of the RPC layer (see rpc.h): releasing a decoded
 * call, and writing a response in whichever wire protocol the request came
 * in. The wire-specific envelopes live next to their decoders, in xmlrpc.c
 * and jsonrpc.c. */
#include "xapi-c/rpc.h"

#include <stdlib.h>
#include <string.h>

/* Defined in xmlrpc.c and jsonrpc.c. rpc.h is the public face of the three
 * files, so these are declared where they are used rather than in a header
 * of their own. */
void xmlrpc_write_success(struct strbuf *sb, const char *value, size_t value_len);
void xmlrpc_success_parts(struct strbuf *prefix, struct strbuf *suffix);
void jsonrpc_success_parts(const struct rpc_call *call, struct strbuf *prefix,
                           struct strbuf *suffix);
void xmlrpc_write_failure(struct strbuf *sb, const char *code, const char *const *params,
                          size_t n_params);
void xmlrpc_write_bare(struct strbuf *sb, const char *value, size_t value_len);
void jsonrpc_write_success(struct strbuf *sb, const struct rpc_call *call, const char *value,
                           size_t value_len);
void jsonrpc_write_failure(struct strbuf *sb, const struct rpc_call *call, const char *code,
                           const char *const *params, size_t n_params);

void rpc_call_done(struct rpc_call *c)
{
    free(c->method);
    xv_free_array(c->params, c->n_params);
    free(c->json_id);
    memset(c, 0, sizeof(*c));
}

void rpc_write_success(struct strbuf *sb, const struct rpc_call *call, enum wire w,
                       const char *value, size_t value_len)
{
    if (w == WIRE_JSON)
        jsonrpc_write_success(sb, call, value, value_len);
    else
        xmlrpc_write_success(sb, value, value_len);
}

void rpc_success_parts(const struct rpc_call *call, enum wire w, struct strbuf *prefix,
                       struct strbuf *suffix)
{
    if (w == WIRE_JSON)
        jsonrpc_success_parts(call, prefix, suffix);
    else
        xmlrpc_success_parts(prefix, suffix);
}

void rpc_write_failure(struct strbuf *sb, const struct rpc_call *call, enum wire w,
                       const char *code, const char *const *params, size_t n_params)
{
    if (w == WIRE_JSON)
        jsonrpc_write_failure(sb, call, code, params, n_params);
    else
        xmlrpc_write_failure(sb, code, params, n_params);
}

void rpc_write_bare(struct strbuf *sb, const struct rpc_call *call, enum wire w, const char *value,
                    size_t value_len)
{
    /* JSON-RPC has no Status struct to leave out: a bare answer is an
     * ordinary success there. */
    if (w == WIRE_JSON)
        jsonrpc_write_success(sb, call, value, value_len);
    else
        xmlrpc_write_bare(sb, value, value_len);
}
