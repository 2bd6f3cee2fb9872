/* xe's connections: the local Unix socket, plain TCP, or TLS. OpenSSL is
 * loaded with dlopen() the first time a TLS connection is made: linking it
 * into the binary cost every command about 2 ms of dynamic loading and
 * relocation, most of xe's start-up, although a local command on the Unix
 * socket never uses it. As the upstream client, xe does not verify the
 * server's certificate. */
#include <dlfcn.h>
#include <errno.h>
#include <limits.h>
#include <netdb.h>
#include <openssl/ssl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "xe.h"

#define CONTACT_FAILED "Unable to contact server. Please check server and port settings."

/* The few libssl entry points xe uses, resolved at run time. */
static struct {
    bool loaded;
    typeof(&TLS_client_method) client_method;
    typeof(&SSL_CTX_new) ctx_new;
    typeof(&SSL_CTX_free) ctx_free;
    typeof(&SSL_new) ssl_new;
    typeof(&SSL_free) ssl_free;
    typeof(&SSL_set_fd) set_fd;
    typeof(&SSL_ctrl) ctrl;
    typeof(&SSL_connect) connect;
    typeof(&SSL_read) read;
    typeof(&SSL_write) write;
    typeof(&SSL_shutdown) shutdown;
} ssl;

static int ssl_load(void)
{
    void *h;

    if (ssl.loaded)
        return 0;
    if (!(h = dlopen("libssl.so.3", RTLD_NOW | RTLD_LOCAL))) {
        fprintf(stderr, "Error: cannot load OpenSSL for TLS: %s\n", dlerror());
        return -1;
    }
#define SYM(field, name)                                                                           \
    do {                                                                                           \
        if (!(*(void **)&ssl.field = dlsym(h, #name))) {                                           \
            fprintf(stderr, "Error: OpenSSL lacks %s\n", #name);                                   \
            return -1;                                                                             \
        }                                                                                          \
    } while (0)
    SYM(client_method, TLS_client_method);
    SYM(ctx_new, SSL_CTX_new);
    SYM(ctx_free, SSL_CTX_free);
    SYM(ssl_new, SSL_new);
    SYM(ssl_free, SSL_free);
    SYM(set_fd, SSL_set_fd);
    SYM(ctrl, SSL_ctrl);
    SYM(connect, SSL_connect);
    SYM(read, SSL_read);
    SYM(write, SSL_write);
    SYM(shutdown, SSL_shutdown);
#undef SYM
    ssl.loaded = true;
    return 0;
}

static int open_unix(struct xe_conn *c)
{
    const char *path = getenv("XE_SOCKET");
    struct sockaddr_un sun = {.sun_family = AF_UNIX};

    if (!path || !*path)
        path = XE_DEFAULT_SOCKET;
    if (strlen(path) >= sizeof(sun.sun_path)) {
        fprintf(stderr, "%s\n", CONTACT_FAILED);
        return -1;
    }
    memcpy(sun.sun_path, path, strlen(path) + 1);
    c->fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (c->fd < 0 || connect(c->fd, (struct sockaddr *)&sun, sizeof(sun)) < 0) {
        fprintf(stderr, "%s\n", CONTACT_FAILED);
        return -1;
    }
    return 0;
}

static int open_tcp(struct xe_conn *c, const struct xe_target *t)
{
    struct addrinfo hints = {.ai_socktype = SOCK_STREAM}, *res, *ai;
    char port[16];

    snprintf(port, sizeof(port), "%d", t->port ? t->port : t->tls ? 443 : 80);
    if (getaddrinfo(t->host, port, &hints, &res) != 0) {
        fprintf(stderr, "Host '%s' not found.\n", t->host);
        return -1;
    }
    for (ai = res; ai && c->fd < 0; ai = ai->ai_next) {
        c->fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC, ai->ai_protocol);
        if (c->fd >= 0 && connect(c->fd, ai->ai_addr, ai->ai_addrlen) < 0) {
            close(c->fd);
            c->fd = -1;
        }
    }
    freeaddrinfo(res);
    if (c->fd < 0) {
        fprintf(stderr, "%s\n", CONTACT_FAILED);
        return -1;
    }
    return 0;
}

static int open_tls(struct xe_conn *c, const struct xe_target *t)
{
    if (ssl_load() < 0)
        return -1;
    if (!(c->ctx = ssl.ctx_new(ssl.client_method())) || !(c->ssl = ssl.ssl_new(c->ctx))) {
        fprintf(stderr, "Error: cannot set up TLS\n");
        return -1;
    }
    ssl.set_fd(c->ssl, c->fd);
    /* SSL_set_tlsext_host_name() is a macro over SSL_ctrl(). */
    ssl.ctrl(c->ssl, SSL_CTRL_SET_TLSEXT_HOSTNAME, TLSEXT_NAMETYPE_host_name, (void *)t->host);
    if (ssl.connect(c->ssl) != 1) {
        fprintf(stderr, "%s\n", CONTACT_FAILED);
        return -1;
    }
    return 0;
}

int xe_conn_open(struct xe_conn *c, const struct xe_target *t)
{
    int r;

    memset(c, 0, sizeof(*c));
    c->fd = -1;
    if (!t->host)
        r = open_unix(c);
    else if ((r = open_tcp(c, t)) == 0 && t->tls)
        r = open_tls(c, t);
    if (r < 0)
        xe_conn_close(c);
    return r;
}

int xe_conn_write(struct xe_conn *c, const void *buf, size_t len)
{
    const char *p = buf;

    while (len > 0) {
        size_t part = len > INT_MAX ? INT_MAX : len;
        ssize_t n = c->ssl ? ssl.write(c->ssl, p, (int)part) : send(c->fd, p, part, MSG_NOSIGNAL);
        if (n < 0 && !c->ssl && errno == EINTR)
            continue;
        if (n <= 0)
            return -1;
        p += n;
        len -= (size_t)n;
    }
    return 0;
}

ssize_t xe_conn_read_some(struct xe_conn *c, void *buf, size_t len)
{
    size_t part = len > INT_MAX ? INT_MAX : len;
    for (;;) {
        ssize_t n = c->ssl ? ssl.read(c->ssl, buf, (int)part) : recv(c->fd, buf, part, 0);
        if (n < 0 && !c->ssl && errno == EINTR)
            continue;
        /* A TLS peer that closes without close_notify reads as an error:
         * the end of the stream either way. */
        if (n <= 0)
            return c->ssl || n == 0 ? 0 : -1;
        return n;
    }
}

int xe_conn_read(struct xe_conn *c, void *buf, size_t len)
{
    char *p = buf;

    while (len > 0) {
        ssize_t n = xe_conn_read_some(c, p, len);
        if (n <= 0)
            return -1;
        p += n;
        len -= (size_t)n;
    }
    return 0;
}

void xe_conn_close(struct xe_conn *c)
{
    if (c->ssl) {
        ssl.shutdown(c->ssl);
        ssl.ssl_free(c->ssl);
    }
    if (c->ctx)
        ssl.ctx_free(c->ctx);
    if (c->fd >= 0)
        close(c->fd);
    c->ssl = c->ctx = NULL;
    c->fd = -1;
}

void xe_put_u32(unsigned char *b, uint32_t v)
{
    b[0] = v & 0xff;
    b[1] = (v >> 8) & 0xff;
    b[2] = (v >> 16) & 0xff;
    b[3] = (v >> 24) & 0xff;
}

uint32_t xe_get_u32(const unsigned char *b)
{
    return (uint32_t)b[0] | (uint32_t)b[1] << 8 | (uint32_t)b[2] << 16 | (uint32_t)b[3] << 24;
}
