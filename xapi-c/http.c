/* The HTTP(S) front end of xapi on top of libmicrohttpd: one MHD daemon per
 * listener (plain TCP, TLS, Unix socket), each running a thread per
 * connection so that a handler may block. This file owns everything between
 * the socket and the RPC layer: reading the body up to the configured limit,
 * answering CORS pre-flights, and putting the headers xapi sends on every
 * response (xenapi.md 1.1). It keeps no global state, so several servers can
 * live in one process. */
#include "http.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "diagstats.h"
#include "lib/cleanup.h"
#include "lib/log.h"
#include "lib/util.h"

LOG_MODULE("http");

/* GnuTLS priorities: its normal cipher choice, but no protocol older than
 * TLS 1.2. */
#define HTTP_TLS_PRIORITIES "NORMAL:-VERS-ALL:+VERS-TLS1.3:+VERS-TLS1.2"

/* Connection threads run the RPC layer (libxml2, SQLite), which wants more
 * than a minimal stack; 512 KiB leaves room for that even under ASan while
 * costing only address space until touched. */
#define HTTP_THREAD_STACK_SIZE (512 * 1024)

/* Used when the configuration says 0, which would otherwise refuse every
 * client. */
#define HTTP_DEFAULT_MAX_CONNECTIONS 1000

/* The TLS identity file is small; anything larger is not one. */
#define HTTP_PEM_MAX_SIZE (1024 * 1024)

enum {
    LISTENER_HTTP,
    LISTENER_HTTPS,
    LISTENER_UNIX,
    _LISTENER_MAX,
};

struct http_listener {
    struct http_server *server;
    struct MHD_Daemon *daemon; /* NULL: this listener is not configured */
    bool local;
    bool tls;
};

struct http_server {
    http_handler_fn fn;
    void *userdata;
    size_t max_body;
    struct http_listener listeners[_LISTENER_MAX];
    char *unix_path; /* the socket we created, unlinked at stop */
    /* MHD keeps pointers to these, so they live as long as the daemon. */
    char *tls_key;
    char *tls_cert;
};

/* What MHD keeps for us between the calls of one request. */
struct request_state {
    struct strbuf body;
    bool too_large;
    /* Bytes thrown away after the limit was crossed; bounded so that an
     * endless chunked upload cannot keep a thread busy forever. */
    size_t discarded;
    void *stream; /* claimed by http_stream_handler */
};

static void free_secret(char *s)
{
    if (!s)
        return;
    explicit_bzero(s, strlen(s));
    free(s);
}

__attribute__((format(printf, 2, 0))) static void mhd_log(void *cls, const char *fmt, va_list ap)
{
    char line[512];
    size_t n;
    /* MHD logs a failed bind() before returning, and its caller reads the
     * reason from errno afterwards. */
    int saved_errno = errno;

    (void)cls;
    vsnprintf(line, sizeof(line), fmt, ap);
    n = strlen(line);
    while (n > 0 && line[n - 1] == '\n')
        line[--n] = '\0';
    /* Most of what MHD reports is about misbehaving peers, not about us. */
    log_warning("%s", line);
    errno = saved_errno;
}

static void request_completed(void *cls, struct MHD_Connection *conn, void **con_cls,
                              enum MHD_RequestTerminationCode toe)
{
    struct request_state *st = *con_cls;

    (void)cls;
    (void)conn;
    (void)toe;
    if (!st)
        return;
    if (st->stream)
        http_stream_handler.done(st->stream);
    strbuf_done(&st->body);
    free(st);
    *con_cls = NULL;
}

/* What xapi puts on every answer (xenapi.md 1.1): nothing is cached, and a
 * browser page from another origin (Xen Orchestra) may call the API. */
static const char *const common_headers[][2] = {
    {MHD_HTTP_HEADER_CACHE_CONTROL, "no-cache, no-store"},
    {MHD_HTTP_HEADER_ACCESS_CONTROL_ALLOW_ORIGIN, "*"},
    {"Access-Control-Allow-Headers", "X-Requested-With"},
};

static int add_common_headers(struct MHD_Response *r, bool close)
{
    for (size_t i = 0; i < ELEMENTSOF(common_headers); i++)
        if (MHD_add_response_header(r, common_headers[i][0], common_headers[i][1]) != MHD_YES)
            return -ENOMEM;
    /* MHD closes the connection after a response that carries this. */
    if (close && MHD_add_response_header(r, MHD_HTTP_HEADER_CONNECTION, "close") != MHD_YES)
        return -ENOMEM;
    return 0;
}

/* Queues a response; takes body (malloc'd, or NULL when len is 0), whose
 * answer starts offset bytes in. */
static enum MHD_Result queue(struct MHD_Connection *conn, unsigned status, const char *content_type,
                             char *body, size_t offset, size_t len, bool close)
{
    struct MHD_Response *r;
    enum MHD_Result ret;

    if (len == 0) {
        free(body);
        r = MHD_create_response_from_buffer(0, (void *)"", MHD_RESPMEM_PERSISTENT);
    } else {
        r = MHD_create_response_from_buffer_with_free_callback_cls(len, body + offset, free, body);
        if (!r)
            free(body);
    }
    if (!r)
        return MHD_NO;
    if (add_common_headers(r, close) < 0 ||
        (content_type &&
         MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, content_type) != MHD_YES)) {
        MHD_destroy_response(r);
        return MHD_NO;
    }
    ret = MHD_queue_response(conn, status, r);
    MHD_destroy_response(r);
    return ret;
}

static enum MHD_Result queue_too_large(struct MHD_Connection *conn)
{
    static const char msg[] = "Request body too large\n";

    return queue(conn, MHD_HTTP_CONTENT_TOO_LARGE, "text/plain", xstrdup(msg), 0, sizeof(msg) - 1,
                 true);
}

/* The declared body length, or -1 when there is none (chunked upload). MHD
 * has already refused a malformed Content-Length with 400. */
static int64_t content_length(struct MHD_Connection *conn)
{
    const char *v =
        MHD_lookup_connection_value(conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_LENGTH);
    char *end;
    unsigned long long n;

    if (!v)
        return -1;
    errno = 0;
    n = strtoull(v, &end, 10);
    if (errno != 0 || end == v || n > INT64_MAX)
        return INT64_MAX;
    return (int64_t)n;
}

static void format_peer(struct MHD_Connection *conn, char *out, size_t size)
{
    const union MHD_ConnectionInfo *info =
        MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
    const struct sockaddr *sa = info ? info->client_addr : NULL;

    snprintf(out, size, "unknown");
    if (!sa)
        return;
    switch (sa->sa_family) {
    case AF_INET:
        inet_ntop(AF_INET, &((const struct sockaddr_in *)(const void *)sa)->sin_addr, out,
                  (socklen_t)size);
        break;
    case AF_INET6:
        inet_ntop(AF_INET6, &((const struct sockaddr_in6 *)(const void *)sa)->sin6_addr, out,
                  (socklen_t)size);
        break;
    case AF_UNIX:
        snprintf(out, size, "unix");
        break;
    default:
        break;
    }
}

/* What the handlers see of a request whose headers are in (no body);
 * peer is the caller's buffer for the peer's address. */
static void make_request(struct http_listener *l, struct MHD_Connection *conn, const char *url,
                         const char *method, char peer[INET6_ADDRSTRLEN], struct http_request *req)
{
    format_peer(conn, peer, INET6_ADDRSTRLEN);
    const union MHD_ConnectionInfo *fdi =
        MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CONNECTION_FD);
    const union MHD_ConnectionInfo *tlsi =
        l->tls ? MHD_get_connection_info(conn, MHD_CONNECTION_INFO_GNUTLS_SESSION) : NULL;
    *req = (struct http_request){
        .method = method,
        .path = url, /* MHD has already split off the query string */
        .originator = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "originator"),
        .user_agent =
            MHD_lookup_connection_value(conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_USER_AGENT),
        .local = l->local,
        .tls = l->tls,
        .peer = peer,
        .fd = fdi ? fdi->connect_fd : -1,
        .tls_session = tlsi ? tlsi->tls_session : NULL,
        .conn = conn,
    };
}

/* Whether the client asked to close the connection after this request. */
static bool client_closes(struct MHD_Connection *conn)
{
    const char *c = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONNECTION);
    return c && strcasecmp(c, "close") == 0;
}

static enum MHD_Result serve(struct http_listener *l, struct MHD_Connection *conn, const char *url,
                             const char *method, struct request_state *st)
{
    struct http_server *s = l->server;
    char peer[INET6_ADDRSTRLEN];
    struct http_request req;
    struct http_response resp;
    size_t len;
    char *body;

    /* A pre-flight is answered here: xapi's answer does not depend on the
     * path, and the RPC layer never needs to see it. */
    if (streq(method, MHD_HTTP_METHOD_OPTIONS)) {
        diagstats_http(method, url, false);
        return queue(conn, MHD_HTTP_OK, NULL, NULL, 0, 0, false);
    }

    make_request(l, conn, url, method, peer, &req);
    req.body = st->body.buf;
    req.body_len = st->body.len;
    resp = (struct http_response){.status = MHD_HTTP_OK};
    strbuf_init(&resp.body, 0);

    s->fn(&req, &resp, s->userdata);
    diagstats_http(method, url, resp.close || resp.hijacked || client_closes(conn));

    body = strbuf_detach(&resp.body, &len);
    strbuf_done(&resp.body);
    /* Answering MHD_NO makes MHD close the connection without a word. */
    if (resp.hijacked) {
        free(body);
        return MHD_NO;
    }
    if (resp.status < 100 || resp.status > 999) {
        log_error("Handler for %s %s answered invalid status %d", method, url, resp.status);
        free(body);
        return queue(conn, MHD_HTTP_INTERNAL_SERVER_ERROR, NULL, NULL, 0, 0, true);
    }
    if (resp.body_offset > len)
        resp.body_offset = len;
    return queue(conn, (unsigned)resp.status, resp.content_type, body, resp.body_offset,
                 len - resp.body_offset, resp.close);
}

const char *http_request_query(const struct http_request *req, const char *name)
{
    return req->conn ? MHD_lookup_connection_value(req->conn, MHD_GET_ARGUMENT_KIND, name) : NULL;
}

const char *http_request_header(const struct http_request *req, const char *name)
{
    return req->conn ? MHD_lookup_connection_value(req->conn, MHD_HEADER_KIND, name) : NULL;
}

/* Offers a request to the stream handler when its headers are in. */
static void *stream_claim(struct http_listener *l, struct MHD_Connection *conn, const char *url,
                          const char *method)
{
    char peer[INET6_ADDRSTRLEN];
    struct http_request req;

    make_request(l, conn, url, method, peer, &req);
    return http_stream_handler.claim(&req);
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn, const char *url,
                                  const char *method, const char *version, const char *upload_data,
                                  size_t *upload_data_size, void **con_cls)
{
    struct http_listener *l = cls;
    size_t max_body = l->server->max_body;
    struct request_state *st = *con_cls;

    (void)version;

    /* First call: only the headers are in. Refusing an oversized body now
     * means MHD never reads it and sends no 100 Continue. */
    if (!st) {
        int64_t cl = content_length(conn);

        st = xcalloc(1, sizeof(*st));
        *con_cls = st;
        if (!streq(method, MHD_HTTP_METHOD_OPTIONS) &&
            (st->stream = stream_claim(l, conn, url, method))) {
            /* A stream's handler closes the connection after it. */
            diagstats_http(method, url, true);
            return MHD_YES;
        }
        if (cl > 0 && (uint64_t)cl > max_body) {
            st->too_large = true;
            return queue_too_large(conn);
        }
        strbuf_init(&st->body, cl > 0 ? (size_t)cl : 0);
        return MHD_YES;
    }

    if (st->stream) {
        size_t n = *upload_data_size;

        *upload_data_size = 0;
        if (n > 0)
            return http_stream_handler.body(st->stream, upload_data, n) ? MHD_YES : MHD_NO;
        /* It answered on the connection: MHD closes it without a word. */
        http_stream_handler.finish(st->stream);
        return MHD_NO;
    }

    if (*upload_data_size > 0) {
        size_t n = *upload_data_size;

        *upload_data_size = 0;
        if (!st->too_large && n > max_body - st->body.len) {
            /* Only a chunked upload gets here. MHD cannot answer in the
             * middle of a body, so drain it and answer 413 at its end. */
            st->too_large = true;
            strbuf_done(&st->body);
            strbuf_init(&st->body, 0);
        }
        if (st->too_large) {
            st->discarded += n;
            return st->discarded > max_body ? MHD_NO : MHD_YES;
        }
        strbuf_add(&st->body, upload_data, n);
        return MHD_YES;
    }

    if (st->too_large)
        return queue_too_large(conn);
    return serve(l, conn, url, method, st);
}

static int read_file(const char *path, char **ret)
{
    _cleanup_free_ char *buf = NULL;
    size_t len = 0;
    struct stat stbuf;
    int fd, r = 0;

    fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -errno;
    if (fstat(fd, &stbuf) < 0) {
        r = -errno;
        goto out;
    }
    if (!S_ISREG(stbuf.st_mode) || stbuf.st_size > HTTP_PEM_MAX_SIZE) {
        r = -EINVAL;
        goto out;
    }
    buf = xmalloc((size_t)stbuf.st_size + 1);
    while (len < (size_t)stbuf.st_size) {
        ssize_t n = read(fd, buf + len, (size_t)stbuf.st_size - len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            r = -errno;
            goto out;
        }
        if (n == 0)
            break;
        len += (size_t)n;
    }
    buf[len] = '\0';
    *ret = TAKE_PTR(buf);
out:
    if (buf)
        explicit_bzero(buf, len);
    close(fd);
    return r;
}

/* Copies the PEM block that starts at begin (a "-----BEGIN" line) through
 * the end of its "-----END ...-----" line. */
static char *pem_block(const char *begin, const char *last_end)
{
    const char *end = strstr(last_end, "-----END ");
    const char *eol;

    if (!end)
        return NULL;
    eol = strstr(end + strlen("-----END "), "-----");
    if (!eol)
        return NULL;
    eol += strlen("-----");
    return xasprintf("%.*s\n", (int)(eol - begin), begin);
}

/* GnuTLS wants key and certificate apart, while the file holds both. The
 * certificate part runs from the first certificate to the end of the last
 * one, so a chain stays whole. */
static int split_pem(const char *pem, char **ret_key, char **ret_cert)
{
    const char *cert = strstr(pem, "-----BEGIN CERTIFICATE-----");
    const char *last_cert = cert, *key = NULL, *p;
    char *k, *c;

    /* The key block is the first whose BEGIN line names a private key:
     * "PRIVATE KEY" (PKCS#8), "EC PRIVATE KEY" or "RSA PRIVATE KEY". */
    for (p = strstr(pem, "-----BEGIN "); p; p = strstr(p + 1, "-----BEGIN ")) {
        const char *eol = strchr(p, '\n');
        const char *name = strstr(p, "PRIVATE KEY-----");
        if (name && (!eol || name < eol)) {
            key = p;
            break;
        }
    }
    if (!key || !cert)
        return -EINVAL;
    while ((p = strstr(last_cert + 1, "-----BEGIN CERTIFICATE-----")))
        last_cert = p;

    k = pem_block(key, key);
    c = pem_block(cert, last_cert);
    if (!k || !c) {
        free_secret(k);
        free(c);
        return -EINVAL;
    }
    *ret_key = k;
    *ret_cert = c;
    return 0;
}

static int parse_address(const char *address, int port, struct sockaddr_storage *ret,
                         bool *ret_ipv6)
{
    struct sockaddr_in *sin = (struct sockaddr_in *)ret;
    struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)ret;

    if (port <= 0 || port > 65535)
        return -EINVAL;
    memset(ret, 0, sizeof(*ret));
    if (!address)
        address = "0.0.0.0";
    if (inet_pton(AF_INET, address, &sin->sin_addr) == 1) {
        sin->sin_family = AF_INET;
        sin->sin_port = htons((uint16_t)port);
        *ret_ipv6 = false;
        return 0;
    }
    if (inet_pton(AF_INET6, address, &sin6->sin6_addr) == 1) {
        sin6->sin6_family = AF_INET6;
        sin6->sin6_port = htons((uint16_t)port);
        *ret_ipv6 = true;
        return 0;
    }
    return -EINVAL;
}

static int unix_listen(const char *path, int *ret_fd)
{
    struct sockaddr_un sun = {.sun_family = AF_UNIX};
    struct stat stbuf;
    int fd, r;

    if (strlen(path) >= sizeof(sun.sun_path))
        return -ENAMETOOLONG;
    strcpy(sun.sun_path, path);

    /* A socket left by a previous run is ours to replace; anything else at
     * that path is not, and bind() will say so. */
    if (lstat(path, &stbuf) == 0 && S_ISSOCK(stbuf.st_mode) && unlink(path) < 0)
        return -errno;

    fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -errno;
    if (bind(fd, (struct sockaddr *)&sun, sizeof(sun)) < 0) {
        r = -errno;
        close(fd);
        return r;
    }
    /* Whoever connects here is trusted as root, so restrict the socket
     * before listen(): until then nobody can connect. */
    if (chmod(path, 0600) < 0 || listen(fd, SOMAXCONN) < 0) {
        r = -errno;
        close(fd);
        unlink(path);
        return r;
    }
    *ret_fd = fd;
    return 0;
}

static int start_listener(struct http_server *s, struct http_listener *l,
                          const struct http_config *cfg, int port, unsigned extra_flags,
                          const struct MHD_OptionItem *extra_opts)
{
    unsigned flags = MHD_USE_THREAD_PER_CONNECTION | MHD_USE_INTERNAL_POLLING_THREAD |
                     MHD_USE_POLL | MHD_USE_ERROR_LOG | extra_flags;
    unsigned limit = cfg->max_connections ? cfg->max_connections : HTTP_DEFAULT_MAX_CONNECTIONS;

    l->server = s;
    errno = 0;
    /* MHD binds to the address in the options; the port argument only
     * names the listener in its messages. poll() rather than select() so
     * that descriptors above FD_SETSIZE work. */
    l->daemon = MHD_start_daemon(
        flags, (uint16_t)port, NULL, NULL, on_request, l, MHD_OPTION_EXTERNAL_LOGGER, mhd_log, NULL,
        MHD_OPTION_NOTIFY_COMPLETED, request_completed, NULL, MHD_OPTION_CONNECTION_LIMIT, limit,
        MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)cfg->idle_timeout, MHD_OPTION_THREAD_STACK_SIZE,
        (size_t)HTTP_THREAD_STACK_SIZE, MHD_OPTION_ARRAY, extra_opts, MHD_OPTION_END);
    if (!l->daemon)
        return errno > 0 ? -errno : -EIO;
    return 0;
}

static int start_tcp(struct http_server *s, struct http_listener *l, const struct http_config *cfg,
                     int port, bool tls)
{
    struct sockaddr_storage ss;
    bool ipv6;
    int r;

    r = parse_address(cfg->address, port, &ss, &ipv6);
    if (r < 0)
        return r;
    l->tls = tls;
    if (!tls) {
        struct MHD_OptionItem opts[] = {
            {MHD_OPTION_SOCK_ADDR, 0, &ss},
            {MHD_OPTION_END, 0, NULL},
        };
        return start_listener(s, l, cfg, port, ipv6 ? MHD_USE_IPv6 : 0, opts);
    }

    _cleanup_free_ char *pem = NULL;
    if (!cfg->tls_pem)
        return -EINVAL;
    r = read_file(cfg->tls_pem, &pem);
    if (r < 0)
        return r;
    r = split_pem(pem, &s->tls_key, &s->tls_cert);
    explicit_bzero(pem, strlen(pem));
    if (r < 0)
        return r;

    struct MHD_OptionItem opts[] = {
        {MHD_OPTION_SOCK_ADDR, 0, &ss},
        {MHD_OPTION_HTTPS_MEM_KEY, 0, s->tls_key},
        {MHD_OPTION_HTTPS_MEM_CERT, 0, s->tls_cert},
        {MHD_OPTION_HTTPS_PRIORITIES, 0, (void *)HTTP_TLS_PRIORITIES},
        {MHD_OPTION_END, 0, NULL},
    };
    return start_listener(s, l, cfg, port, MHD_USE_TLS | (ipv6 ? MHD_USE_IPv6 : 0), opts);
}

static int start_unix(struct http_server *s, struct http_listener *l, const struct http_config *cfg)
{
    int fd = -1, r;

    r = unix_listen(cfg->unix_path, &fd);
    if (r < 0)
        return r;
    s->unix_path = xstrdup(cfg->unix_path);
    l->local = true;

    /* MHD owns the socket from here on: it closes it at stop and on most
     * start failures. The few early ones (no descriptor left for its
     * eventfd, no memory) leak it; closing it here instead could close a
     * descriptor number that another thread has been given since. */
    struct MHD_OptionItem opts[] = {
        {MHD_OPTION_LISTEN_SOCKET, fd, NULL},
        {MHD_OPTION_END, 0, NULL},
    };
    return start_listener(s, l, cfg, 0, 0, opts);
}

int http_server_start(const struct http_config *cfg, http_handler_fn fn, void *userdata,
                      struct http_server **ret)
{
    struct http_server *s;
    int r = 0;

    if (!cfg || !fn || !ret)
        return -EINVAL;
    if (cfg->http_port == 0 && cfg->https_port == 0 && !cfg->unix_path)
        return -EINVAL;

    /* A client that goes away while we write must not kill the daemon. MHD
     * already sends with MSG_NOSIGNAL; this also covers handlers that write
     * to pipes and sockets of their own. */
    signal(SIGPIPE, SIG_IGN);

    s = xcalloc(1, sizeof(*s));
    s->fn = fn;
    s->userdata = userdata;
    s->max_body = cfg->max_body;

    if (cfg->http_port != 0)
        r = start_tcp(s, &s->listeners[LISTENER_HTTP], cfg, cfg->http_port, false);
    if (r >= 0 && cfg->https_port != 0)
        r = start_tcp(s, &s->listeners[LISTENER_HTTPS], cfg, cfg->https_port, true);
    if (r >= 0 && cfg->unix_path)
        r = start_unix(s, &s->listeners[LISTENER_UNIX], cfg);
    if (r < 0) {
        http_server_stop(s);
        return r;
    }
    *ret = s;
    return 0;
}

void http_server_stop(struct http_server *s)
{
    if (!s)
        return;
    for (size_t i = 0; i < _LISTENER_MAX; i++)
        if (s->listeners[i].daemon)
            MHD_stop_daemon(s->listeners[i].daemon);
    if (s->unix_path) {
        /* MHD closed the socket; the name is ours to remove. */
        unlink(s->unix_path);
        free(s->unix_path);
    }
    free_secret(s->tls_key);
    free(s->tls_cert);
    free(s);
}
