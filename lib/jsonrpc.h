/* JSON-RPC 2.0 over Unix stream sockets: the way xapi talks to its agents
 * (domaind, storaged, networkd). Framing: each message is one JSON object
 * followed by a newline; a connection carries any number of requests, one
 * at a time. Params are by name (a JSON object).
 *
 * Server: a method table, declared as data, names each method, the
 * parameters it takes with their JSON types and whether they are required;
 * the server checks a request against it before the handler runs (an
 * unknown method is -32601, a bad parameter -32602 with data naming it), so
 * handlers see only well-formed input. Every server also answers
 * "version", "log/set" {module, level} and "counters/show" (calls and
 * errors per method). Each connection is served by its own thread, so a
 * handler may block (a long-poll, a guest shutdown with a timeout).
 *
 * Client: connects lazily and reconnects once if the server went away
 * between calls; each call has a timeout. Not thread-safe: one client per
 * thread, or a lock around it. */
#pragma once

#include <json-c/json.h>
#include <stdbool.h>
#include <stddef.h>

/* JSON-RPC error codes used here. Application errors use JSONRPC_APP_ERROR
 * with data {"error": "CODE", "params": ["...", ...]}: the agent's error,
 * which xapi maps to a XenAPI error. */
#define JSONRPC_PARSE_ERROR -32700
#define JSONRPC_INVALID_REQUEST -32600
#define JSONRPC_METHOD_NOT_FOUND -32601
#define JSONRPC_INVALID_PARAMS -32602
#define JSONRPC_INTERNAL_ERROR -32603
#define JSONRPC_APP_ERROR -32000

/* Requests and responses above this size are refused. */
#define JSONRPC_MAX_MESSAGE (16 * 1024 * 1024)

enum jsonrpc_ptype {
    JP_STRING,
    JP_INT,    /* a JSON integer */
    JP_NUMBER, /* an integer or a double */
    JP_BOOL,
    JP_OBJECT,
    JP_ARRAY,
    JP_ANY,
};

struct jsonrpc_param {
    const char *name;
    enum jsonrpc_ptype type;
    bool required;
};

/* An error a handler returns: code, message, and for JSONRPC_APP_ERROR the
 * agent's error code and string parameters. Owned by whoever holds it. */
struct jsonrpc_error {
    int code;
    char *message;
    char *app_code;    /* NULL unless code == JSONRPC_APP_ERROR */
    char **app_params; /* n_app_params strings */
    size_t n_app_params;
};

/* Makes an application error: app_code and then string parameters, ending
 * with NULL (jsonrpc_app_error adds it). The message is app_code. The
 * error is new, for the caller (usually returned from a handler, which
 * hands it to the server). Never fails: allocation failure aborts. */
struct jsonrpc_error *jsonrpc_app_error_(const char *app_code, ...);
#define jsonrpc_app_error(code, ...) jsonrpc_app_error_(code, ##__VA_ARGS__, (const char *)NULL)
/* Makes an error with code and a printf-formatted message; new, for the
 * caller. */
struct jsonrpc_error *jsonrpc_error_new(int code, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* Frees e and its strings; NULL is fine. */
void jsonrpc_error_free(struct jsonrpc_error *e);

/* A handler: params is the request's params object (borrowed, already
 * checked against the table: required ones are there and every listed one
 * has its type; JSON null fits only JP_ANY, and a JP_INT fits int64); on
 * success it sets *ret_result to a new reference (NULL means JSON null) and
 * returns NULL; on failure it returns an error, which the server frees.
 * userdata is the server's. Handlers run on the connection's own thread,
 * several at once for several connections. One that blocks for long (a
 * long-poll) must return soon after jsonrpc_server_stop begins, which
 * waits for it: wait in slices of a few milliseconds and check
 * jsonrpc_server_stopping, or wake it through the daemon's own condition
 * before stopping. */
typedef struct jsonrpc_error *(*jsonrpc_handler_fn)(json_object *params, json_object **ret_result,
                                                    void *userdata);

/* One entry of a method table. A name may not repeat, nor be one of the
 * built-ins ("version", "log/set", "counters/show"). Params not listed in
 * the table are passed to the handler unchecked. */
struct jsonrpc_method {
    const char *name;
    jsonrpc_handler_fn fn;
    const struct jsonrpc_param *params; /* ends with a {NULL} entry */
};

struct jsonrpc_server;

/* Removes the socket at path if it is a leftover of a server that died
 * (nobody answers on it), so that a daemon with slow start-up work is not
 * taken for ready meanwhile. 0, or -EADDRINUSE if a live server owns it,
 * -EEXIST if something other than a socket is there, or another -errno. */
int jsonrpc_remove_stale_socket(const char *path);

/* Listens on path (a stale socket there is replaced; mode 0600) and serves
 * methods (ends with a {NULL} entry; NULL for the built-ins alone) until
 * jsonrpc_server_stop, on threads of its own; returns at once. methods and
 * userdata are borrowed for the server's lifetime; version is copied and
 * is what "version" answers.
 * *ret is set before the first request can be served, so a handler may
 * find the server through userdata (pass &ctx->server as ret). Returns 0,
 * or a negative errno: -EADDRINUSE if a live server owns path, -EEXIST if
 * something other than a socket is there, -ENAMETOOLONG, -EINVAL for a
 * table with a repeated name, a built-in's name or no handler. */
int jsonrpc_server_start(const char *path, const struct jsonrpc_method *methods,
                         const char *version, void *userdata, struct jsonrpc_server **ret);
/* Stops listening, shuts down every connection (blocked reads and writes
 * return), waits for their threads, including handlers still running,
 * removes the socket file and frees s. NULL is fine. Blocks until every
 * handler has returned, so it must not be called from a handler. */
void jsonrpc_server_stop(struct jsonrpc_server *s);
/* True once jsonrpc_server_stop has begun: what a long-blocking handler
 * polls so that stopping does not wait on it. Does not block. */
bool jsonrpc_server_stopping(const struct jsonrpc_server *s);

struct jsonrpc_client;

/* A client of the server at path; does not connect yet. The caller owns
 * it and frees it with jsonrpc_client_free (NULL is fine). */
struct jsonrpc_client *jsonrpc_client_new(const char *path);
void jsonrpc_client_free(struct jsonrpc_client *c);
/* Calls method with params (borrowed; NULL for none) and blocks for at
 * most timeout_s seconds (0 or less: no limit). On success returns 0 and
 * the result (a new reference, possibly NULL) in *ret_result; on an error
 * answer returns -EPROTO and the error in *ret_error (caller frees); on a
 * transport failure returns a negative errno: -ECONNREFUSED when no server
 * listens at path (nothing there counts too), -ETIMEDOUT, -EMSGSIZE,
 * -EBADMSG for an answer that is not one. ret_result and ret_error may be
 * NULL to drop what they would get. After a timeout or a broken answer the
 * connection is closed and the next call opens a new one. If a connection
 * opened by an earlier call is found closed (the server restarted), the
 * call is sent once more on a new one; a server that died while running
 * the request may therefore run it twice. */
int jsonrpc_call(struct jsonrpc_client *c, const char *method, json_object *params,
                 double timeout_s, json_object **ret_result, struct jsonrpc_error **ret_error);
