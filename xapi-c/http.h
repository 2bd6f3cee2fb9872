/* The HTTP(S) front end of xapi (libmicrohttpd): listens on TCP for HTTP and
 * for HTTPS and on an optional Unix socket, reads request bodies up to a
 * limit (413 beyond it), and hands each complete POST to the RPC layer.
 * Every connection has its own thread, so a handler may block (event.from
 * waits on a condition variable for up to its timeout) without stalling
 * other clients. Responses carry the headers xapi sends (xenapi.md 1.1). */
#pragma once

#include <stdbool.h>
#include <stddef.h>

#include "lib/strbuf.h"

/* What a handler learns of the request. Borrowed for the call. */
struct http_request {
    const char *method; /* "POST" */
    const char *path;   /* "/jsonrpc", without the query string */
    const char *body;
    size_t body_len;
    const char *originator; /* the originator header, or NULL */
    const char *user_agent; /* or NULL */
    bool local;             /* arrived on the Unix socket (root on the host) */
    bool tls;
    const char *peer; /* the client's address as text */
    /* The connection itself, for a handler that takes it over (POST /cli
     * speaks its own protocol after the request): the socket, and the
     * GnuTLS session on it for HTTPS (else NULL). Borrowed. */
    int fd;
    void *tls_session;
    void *conn; /* the server's own handle: for http_request_query/_header */
};

/* A query parameter (URL-decoded) or a request header of req, or NULL.
 * Borrowed for the call. */
const char *http_request_query(const struct http_request *req, const char *name);
const char *http_request_header(const struct http_request *req, const char *name);

/* Requests whose body or answer is too large to hold in memory (disk
 * import and export, xapi-c/xfer.c) are claimed when their headers are in,
 * before any body is read; the claimer then writes its answer on the
 * connection itself (as XCP does, a PUT's 200 goes before its body is
 * read) and the connection is closed after it. All four run on the
 * connection's thread and may block. */
struct http_stream_ops {
    /* A state for a request to serve as a stream, or NULL to leave it to
     * the handler. req->body is NULL. */
    void *(*claim)(const struct http_request *req);
    /* The next piece of the body; false ends the connection. */
    bool (*body)(void *state, const char *data, size_t len);
    /* The body is all in, or there was none: the request is served. */
    void (*finish)(void *state);
    /* The request is over, served or cut: frees state. */
    void (*done)(void *state);
};

/* The stream handler every server uses (xapi-c/xfer.c). */
extern const struct http_stream_ops http_stream_handler;

/* What a handler answers. The handler fills body (initialised, empty) and
 * sets status and content_type (static strings); close asks to end the
 * connection after this response. */
struct http_response {
    int status;
    const char *content_type;
    struct strbuf body;
    size_t body_offset; /* the answer starts this far into body.buf */
    bool close;
    /* The handler spoke on the connection itself: send nothing, close it. */
    bool hijacked;
};

typedef void (*http_handler_fn)(const struct http_request *req, struct http_response *resp,
                                void *userdata);

struct http_config {
    const char *address;   /* listen address for TCP, e.g. "127.0.0.1" or "0.0.0.0" */
    int http_port;         /* 0: no plain HTTP */
    int https_port;        /* 0: no HTTPS */
    const char *tls_pem;   /* path of a PEM file holding the key and certificate */
    const char *unix_path; /* NULL: no Unix socket */
    size_t max_body;       /* bodies above this get 413 */
    unsigned max_connections;
    unsigned idle_timeout; /* seconds a connection may stay idle */
};

struct http_server;

/* Starts listening; returns 0 and the server, or a negative errno (logged by
 * the caller). The handler is called on connection threads concurrently. */
int http_server_start(const struct http_config *cfg, http_handler_fn fn, void *userdata,
                      struct http_server **ret);
/* Stops listening, waits for connection threads to finish, frees. NULL is
 * fine. */
void http_server_stop(struct http_server *s);
