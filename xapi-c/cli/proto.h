/* The server side of the thin CLI protocol (xe-cli.md section 5): the
 * connection that POST /cli took over from the HTTP server (a plain socket
 * or a TLS session on it), the 35-byte version handshake and the framed
 * commands the server sends (Print, PrintStderr, Exit, Error, Load, Prompt)
 * with the client's responses and blobs. Every read and write is bounded by
 * a timeout, so a client that goes away or stops talking never holds a
 * thread for ever. Functions return 0 or a negative errno; after a failure
 * the connection is unusable and the command is abandoned. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "lib/strbuf.h"

#define CLI_PROTO_PREFIX "XenSource thin CLI protocol"
#define CLI_PROTO_MAJOR 0
#define CLI_PROTO_MINOR 2
/* The server refuses request bodies above this (as xapi does). */
#define CLI_MAX_BODY (200 * 1024)
/* Files the client uploads through Load are capped, as in xapi. */
#define CLI_MAX_LOAD (32 * 1024 * 1024)

enum cli_msg_kind { CLI_MSG_COMMAND = 9, CLI_MSG_RESPONSE = 10, CLI_MSG_BLOB = 11 };
enum cli_cmd_tag {
    CLI_PRINT = 0,
    CLI_LOAD = 1,
    CLI_PROMPT = 3,
    CLI_EXIT = 4,
    CLI_HTTP_GET = 12,
    CLI_HTTP_PUT = 13,
    CLI_ERROR = 14,
    CLI_DEBUG = 15,
    CLI_PRINT_STDERR = 16,
    CLI_HTTP_CONNECT = 17,
};
enum cli_response { CLI_RESP_OK = 5, CLI_RESP_FAILED = 6, CLI_RESP_WAIT = 18 };
enum cli_blob_tag { CLI_BLOB_CHUNK = 7, CLI_BLOB_END = 8 };

/* A taken-over connection. tls is a gnutls_session_t, or NULL for a plain
 * socket; both are borrowed from the HTTP server. */
struct cli_conn {
    int fd;
    void *tls;
    int timeout_ms; /* per read or write */
    bool broken;    /* a previous read or write failed */
};

/* Exchanges version strings; fails -EPROTO on a different major version or
 * a peer that is not a thin CLI client. */
int cli_proto_handshake(struct cli_conn *c);

int cli_send_print(struct cli_conn *c, const char *text);
int cli_send_stderr(struct cli_conn *c, const char *text);
int cli_send_exit(struct cli_conn *c, int code);
int cli_send_error(struct cli_conn *c, const char *code, const char *const *params, size_t n);
/* Asks the client for the contents of file name; appends them to out. Fails
 * -ENOENT if the client refused, -EFBIG beyond max bytes. */
int cli_load(struct cli_conn *c, const char *name, size_t max, struct strbuf *out);
/* Asks the client for one line of its standard input (without newline). */
int cli_prompt(struct cli_conn *c, struct strbuf *out);
/* Ends the connection: a TLS close_notify, then no more writes. */
/* Sends HttpGet or HttpPut (file, url) and waits up to silence_ms between
 * the client's messages for its answer: 0 for OK, -ENOENT for Failed,
 * another negative errno when the client is gone. */
int cli_http_transfer(struct cli_conn *c, enum cli_cmd_tag tag, const char *file, const char *url,
                      int silence_ms);
void cli_conn_close(struct cli_conn *c);
