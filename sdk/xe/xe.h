/* The seam between the files of the thin xe client: the connection to a
 * server (conn.c: Unix socket, TCP, or TLS through an OpenSSL loaded only
 * when a TLS connection is made, so local commands do not pay for it), the
 * protocol's little-endian framing helpers, and the file transfers the
 * server may ask for (transfer.c: Load, HttpGet, HttpPut under the
 * protocol's file-safety rule, xe-cli.md 5). */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define XE_DEFAULT_SOCKET "/run/xenia/xapi.sock"

enum { XE_MSG_COMMAND = 9, XE_MSG_RESPONSE = 10, XE_MSG_BLOB = 11 };
enum { XE_RESP_OK = 5, XE_RESP_FAILED = 6, XE_RESP_WAIT = 18 };
enum { XE_BLOB_CHUNK = 7, XE_BLOB_END = 8 };

/* Where a connection goes. host NULL: the local Unix socket (XE_SOCKET,
 * else XE_DEFAULT_SOCKET); otherwise TCP to host:port, with TLS when tls. */
struct xe_target {
    const char *host;
    int port; /* 0: 443 with TLS, 80 without */
    bool tls;
};

/* An open connection; ssl is an OpenSSL SSL* when TLS is used. */
struct xe_conn {
    int fd;
    void *ssl;
    void *ctx;
};

/* Connects; on failure prints why on stderr and returns -1. */
int xe_conn_open(struct xe_conn *c, const struct xe_target *t);
/* Writes or reads exactly len bytes; -1 on error or end of stream. */
int xe_conn_write(struct xe_conn *c, const void *buf, size_t len);
int xe_conn_read(struct xe_conn *c, void *buf, size_t len);
/* Reads what is there, up to len bytes: the count, 0 at end of stream, -1
 * on error. Blocks until something arrives. */
ssize_t xe_conn_read_some(struct xe_conn *c, void *buf, size_t len);
void xe_conn_close(struct xe_conn *c);

void xe_put_u32(unsigned char *b, uint32_t v);
uint32_t xe_get_u32(const unsigned char *b);

/* The words the user gave (command line, XE_EXTRA_ARGS, ~/.xe): the only
 * file names the server may make this client read or write. Borrowed. */
struct xe_words {
    char *const *w;
    size_t n;
};

/* True if the server may read (or, with for_write, create) file name: its
 * canonical path is the value of some k=v word, or, for a download, a new
 * file in the current directory. */
bool xe_file_permitted(const struct xe_words *words, const char *name, bool for_write);

/* Called during long transfers so the server knows the client is alive
 * (protocol 0.2's Wait response, every XE_HEARTBEAT seconds). */
struct xe_heartbeat {
    void (*fn)(void *arg);
    void *arg;
};
#define XE_HEARTBEAT 300

/* The server's HttpGet (download into name; "" means stdout) and HttpPut
 * (upload name) over a new connection to the server, or to the host the
 * url names; base is the CLI connection's target. Prints why on failure and
 * returns -1; 0 once the transfer is complete. */
int xe_http_get(const struct xe_target *base, const struct xe_words *words, const char *name,
                const char *url, const struct xe_heartbeat *hb);
int xe_http_put(const struct xe_target *base, const struct xe_words *words, const char *name,
                const char *url, const struct xe_heartbeat *hb);
