/* The two wire protocols' envelopes: decoding a method call into a method
 * name and a parameter tree, and writing the success or failure envelope
 * around a result (xenapi.md 1.2 and 1.5). Decoding never resolves external
 * entities, refuses a DOCTYPE, and bounds nesting (XV_MAX_DEPTH). */
#pragma once

#include <stddef.h>

#include "out.h"
#include "xv.h"

struct rpc_call {
    char *method;      /* owned */
    struct xv *params; /* owned, n_params values */
    size_t n_params;
    /* JSON-RPC only: */
    int json_version; /* 1 or 2 */
    char *json_id;    /* the id as JSON text, echoed back; owned */
};

void rpc_call_done(struct rpc_call *c);

/* Decode a request body. Returns 0, or -EINVAL when it is not a well-formed
 * call (the transport answers HTTP 500 then); *ret_why says why (static). */
int xmlrpc_parse_call(const char *body, size_t len, struct rpc_call *ret, const char **ret_why);
int jsonrpc_parse_call(const char *body, size_t len, struct rpc_call *ret, const char **ret_why);

/* Write a whole response into sb: a success wrapping value (a fragment made
 * by an out of the same wire), or a failure with the error code and its
 * parameters. For JSON the call supplies the version and id. */
void rpc_write_success(struct strbuf *sb, const struct rpc_call *call, enum wire w,
                       const char *value, size_t value_len);
/* The success envelope as the text before and after the value (appended to
 * prefix and suffix), for writing a large value in place. The value must
 * not be empty: a void result is "<value></value>" or "\"\"". */
void rpc_success_parts(const struct rpc_call *call, enum wire w, struct strbuf *prefix,
                       struct strbuf *suffix);
void rpc_write_failure(struct strbuf *sb, const struct rpc_call *call, enum wire w,
                       const char *code, const char *const *params, size_t n_params);
/* system.listMethods answers a bare array, without the Status struct (XML). */
void rpc_write_bare(struct strbuf *sb, const struct rpc_call *call, enum wire w, const char *value,
                    size_t value_len);
