/* The streamed HTTP requests of xapi (see xfer.h): routing, XCP's
 * authentication and status codes, the task a request runs under, the
 * answer's head written on the connection, and a PUT body handed to its
 * handler through a pipe. */
#include "xfer.h"

#include <errno.h>
#include <fcntl.h>
#include <gnutls/gnutls.h>
#include <microhttpd.h>
#include <openssl/evp.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "auth.h"
#include "config.h"
#include "db.h"
#include "lib/log.h"
#include "lib/strlist.h"
#include "lib/util.h"
#include "sessions.h"
#include "taskcancel.h"
#include "tasks.h"

LOG_MODULE("xfer");

/* How long a write may wait for the client to read, and a read of the
 * body for the client to send. */
#define XFER_IO_TIMEOUT_MS (10 * 60 * 1000)
#define XFER_MAX_QUERY 32

static const struct xfer_route *const routes[] = {
    &xfer_export_raw_vdi,       &xfer_import_raw_vdi, &xva_export_route,
    &xva_export_metadata_route, &xva_import_route,    &xva_import_metadata_route,
};

struct xfer {
    const struct xfer_route *route;
    int fd;
    gnutls_session_t tls;
    bool broken;   /* a write failed: the client is gone */
    bool answered; /* a head went out: nothing more but data */
    bool expect_continue;
    bool chunked;
    bool cancellable; /* registered with taskcancel */
    char *query_k[XFER_MAX_QUERY], *query_v[XFER_MAX_QUERY];
    size_t n_query;
    int64_t content_length;
    char session[64];
    bool own_session; /* made for basic auth: ended with the request */
    char task[64];
    char *result;
    void *data;
    unsigned last_permille;
    char rid[32];
    /* PUT: the body goes into pipe[1]; the handler runs on worker and reads
     * pipe[0]. */
    int pipe[2];
    pthread_t worker;
    bool worker_started;
    bool body_complete; /* the body's end was the request's, not a cut */
    int64_t body_bytes; /* of the body, handed to the worker so far */
    struct api_error *outcome;
};

/* ---- the connection ---- */

static int wait_fd(int fd, short events)
{
    struct pollfd p = {.fd = fd, .events = events};
    int r;

    do
        r = poll(&p, 1, XFER_IO_TIMEOUT_MS);
    while (r < 0 && errno == EINTR);
    return r > 0 ? 0 : r == 0 ? -ETIMEDOUT : -errno;
}

int xfer_write(struct xfer *x, const void *buf, size_t len)
{
    const char *p = buf;

    while (len > 0 && !x->broken) {
        ssize_t n;
        if (x->tls) {
            n = gnutls_record_send(x->tls, p, len);
            if (n == GNUTLS_E_AGAIN || n == GNUTLS_E_INTERRUPTED) {
                if (wait_fd(x->fd, POLLOUT) < 0)
                    x->broken = true;
                continue;
            }
        } else {
            n = send(x->fd, p, len, MSG_NOSIGNAL);
            if (n < 0 && (errno == EAGAIN || errno == EINTR)) {
                if (wait_fd(x->fd, POLLOUT) < 0)
                    x->broken = true;
                continue;
            }
        }
        if (n <= 0) {
            x->broken = true;
            break;
        }
        p += n;
        len -= (size_t)n;
    }
    return x->broken ? -EPIPE : 0;
}

static const char *reason(int status)
{
    switch (status) {
    case 200:
        return "OK";
    case 400:
        return "Bad Request";
    case 401:
        return "Unauthorised";
    case 403:
        return "Forbidden";
    case 404:
        return "Not Found";
    default:
        return "Internal Error";
    }
}

/* XCP's error pages (http_svr.ml). */
static void send_error(struct xfer *x, int status, const char *realm)
{
    struct strbuf sb;
    const char *body;

    if (x->answered)
        return;
    switch (status) {
    case 401:
        body = "<html><body><h1>HTTP 401 unauthorised</h1>Please check your credentials and "
               "retry.</body></html>";
        break;
    case 403:
        body = "<html><body><h1>HTTP 403 forbidden</h1>Access to the requested resource is "
               "forbidden.</body></html>";
        break;
    case 400:
        body = "<html><body><h1>HTTP 400 bad request</h1>The HTTP request was malformed. Please "
               "correct and retry.</body></html>";
        break;
    case 404:
        body = "<html><body><h1>HTTP 404 not found</h1>The requested resource was not "
               "found.</body></html>";
        break;
    default:
        status = 500;
        body = "<html><body><h1>HTTP 500 internal server error</h1>An unexpected error "
               "occurred; please wait a while and try again. If the problem persists, please "
               "contact your support representative.</body></html>";
        break;
    }
    strbuf_init(&sb, 512);
    strbuf_addf(&sb,
                "HTTP/1.1 %d %s\r\nConnection: close\r\nCache-Control: no-cache, no-store\r\n"
                "Content-Type: text/html\r\nContent-Length: %zu\r\n",
                status, reason(status), strlen(body));
    if (realm)
        strbuf_addf(&sb, "WWW-Authenticate: Basic realm=\"%s\"\r\n", realm);
    strbuf_adds(&sb, "\r\n");
    strbuf_adds(&sb, body);
    x->answered = true;
    xfer_write(x, sb.buf, sb.len);
    strbuf_done(&sb);
}

static int send_head(struct xfer *x, const char *content_type, int64_t length, const char *filename)
{
    struct strbuf sb;
    int r;

    if (x->answered)
        return 0;
    strbuf_init(&sb, 512);
    strbuf_addf(&sb,
                "HTTP/1.1 200 OK\r\nConnection: close\r\nCache-Control: no-cache, no-store\r\n"
                "Access-Control-Allow-Origin: *\r\ntask-id: %s\r\nContent-Type: %s\r\n",
                x->task, content_type);
    if (length >= 0)
        strbuf_addf(&sb, "Content-Length: %lld\r\n", (long long)length);
    if (filename)
        strbuf_addf(&sb, "Content-Disposition: attachment; filename=\"%s\"\r\n", filename);
    strbuf_adds(&sb, "\r\n");
    x->answered = true;
    r = xfer_write(x, sb.buf, sb.len);
    strbuf_done(&sb);
    return r;
}

int xfer_send_head(struct xfer *x, const char *content_type, int64_t length, const char *filename)
{
    return send_head(x, content_type, length, filename);
}

ssize_t xfer_read(struct xfer *x, void *buf, size_t len)
{
    for (;;) {
        ssize_t n = read(x->pipe[0], buf, len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n == 0 && !__atomic_load_n(&x->body_complete, __ATOMIC_ACQUIRE))
            return -ECONNRESET; /* the client went away mid-body */
        return n < 0 ? -errno : n;
    }
}

int xfer_read_full(struct xfer *x, void *buf, size_t len)
{
    char *p = buf;

    while (len > 0) {
        ssize_t n = xfer_read(x, p, len);
        if (n < 0)
            return (int)n;
        if (n == 0)
            return -EPIPE;
        p += n;
        len -= (size_t)n;
    }
    return 0;
}

/* ---- accessors ---- */

const char *xfer_query(const struct xfer *x, const char *name)
{
    for (size_t i = 0; i < x->n_query; i++)
        if (streq(x->query_k[i], name))
            return x->query_v[i];
    return NULL;
}

bool xfer_query_at(const struct xfer *x, size_t i, const char **ret_key, const char **ret_value)
{
    if (i >= x->n_query)
        return false;
    *ret_key = x->query_k[i];
    *ret_value = x->query_v[i];
    return true;
}

bool xfer_chunked(const struct xfer *x)
{
    return x->chunked;
}

int64_t xfer_content_length(const struct xfer *x)
{
    return x->content_length;
}

const char *xfer_session(const struct xfer *x)
{
    return x->session;
}

const char *xfer_task(const struct xfer *x)
{
    return x->task;
}

void xfer_set_data(struct xfer *x, void *data)
{
    x->data = data;
}

void *xfer_data(const struct xfer *x)
{
    return x->data;
}

void xfer_set_result(struct xfer *x, const char *xml_value)
{
    free(x->result);
    x->result = xstrdup(xml_value);
}

void xfer_progress(struct xfer *x, uint64_t done, uint64_t total)
{
    unsigned pm = total ? (unsigned)(done >= total ? 1000 : done * 1000 / total) : 0;

    if (pm < x->last_permille + 10 || pm >= 1000)
        return; /* the end is written with the outcome */
    x->last_permille = pm;
    task_progress(x->task, pm / 1000.0);
}

const struct row *xfer_lookup(int cls, const char *ref_or_uuid)
{
    const struct row *r = db_get(cls, ref_or_uuid);
    return r ? r : db_get_by_uuid(cls, ref_or_uuid);
}

/* ---- authentication ---- */

/* "Basic base64(user:password)" into user and password (new strings). */
static bool parse_basic(const char *h, char **ret_user, char **ret_pwd)
{
    if (!h || strncasecmp(h, "Basic ", 6) != 0)
        return false;
    h += 6;
    while (*h == ' ')
        h++;
    size_t len = strlen(h);
    if (len == 0 || len % 4 || len > 4096)
        return false;
    unsigned char *out = xmalloc(len / 4 * 3 + 1);
    int n = EVP_DecodeBlock(out, (const unsigned char *)h, (int)len);
    if (n < 0) {
        free(out);
        return false;
    }
    /* EVP_DecodeBlock counts the padding as zero bytes. */
    for (const char *p = h + len; p > h && p[-1] == '='; p--)
        n--;
    out[n] = '\0';
    char *colon = memchr(out, ':', (size_t)n);
    if (!colon || strlen((char *)out) != (size_t)n) {
        explicit_bzero(out, (size_t)n);
        free(out);
        return false;
    }
    *colon = '\0';
    *ret_user = xstrdup((char *)out);
    *ret_pwd = xstrdup(colon + 1);
    explicit_bzero(out, (size_t)n);
    free(out);
    return true;
}

/* The session the request runs as: 0, or an HTTP status to refuse it. */
static int authenticate(struct xfer *x, const struct http_request *req)
{
    const char *sid = xfer_query(x, "session_id");
    char *user = NULL, *pwd = NULL;

    if (sid) {
        struct session_info si = {0};
        struct api_error *e = session_check(sid, &si);
        session_info_done(&si);
        if (e) {
            api_error_free(e);
            return 401;
        }
        snprintf(x->session, sizeof(x->session), "%s", sid);
        return 0;
    }
    if (parse_basic(http_request_header(req, "Authorization"), &user, &pwd)) {
        int r = auth_check_password(xapi_cfg.credentials, user, pwd);
        explicit_bzero(pwd, strlen(pwd));
        free(pwd);
        struct api_error *e = NULL;
        if (r == 0)
            e = session_create(user, "HTTP basic auth", streq(user, "root"), false, x->session);
        else
            log_notice("failed basic auth for user '%s' from %s", user, req->peer);
        free(user);
        if (r < 0 || e) {
            api_error_free(e);
            return 401;
        }
        x->own_session = true;
        return 0;
    }
    /* Root on the host's own socket is trusted, as xapi trusts its socket. */
    if (req->local) {
        struct api_error *e = session_create("root", "local", true, false, x->session);
        if (e) {
            api_error_free(e);
            return 500;
        }
        x->own_session = true;
        return 0;
    }
    return 401;
}

/* ---- the request ---- */

static void xfer_free(struct xfer *x)
{
    if (!x)
        return;
    if (x->route && x->route->free_data && x->data)
        x->route->free_data(x->data);
    for (size_t i = 0; i < x->n_query; i++) {
        free(x->query_k[i]);
        free(x->query_v[i]);
    }
    if (x->own_session && *x->session)
        api_error_free(session_destroy(x->session));
    if (x->pipe[0] >= 0)
        close(x->pipe[0]);
    if (x->pipe[1] >= 0)
        close(x->pipe[1]);
    api_error_free(x->outcome);
    free(x->result);
    free(x);
}

static enum MHD_Result collect_arg(void *cls, enum MHD_ValueKind kind, const char *key,
                                   const char *value)
{
    struct xfer *x = cls;
    (void)kind;
    if (x->n_query < XFER_MAX_QUERY && key) {
        x->query_k[x->n_query] = xstrdup(key);
        x->query_v[x->n_query++] = xstrdup(value ? value : "");
    }
    return MHD_YES;
}

static void on_cancel(const char *task)
{
    (void)task; /* the handler polls task_cancel_requested */
}

bool xfer_cancelled(const struct xfer *x)
{
    return x->cancellable && task_cancel_requested(x->task);
}

/* Ends the request: the outcome into the task, a TLS close_notify. */
static void conclude(struct xfer *x)
{
    if (x->cancellable) {
        task_cancellable_end(x->task);
        x->cancellable = false;
    }
    if (*x->task)
        task_finish(x->task, x->result, x->outcome);
    if (x->outcome)
        log_info("%s %s failed: %s", x->route->method, x->route->path, x->outcome->code);
    else
        log_info("%s %s done", x->route->method, x->route->path);
    if (x->tls && !x->broken)
        gnutls_bye(x->tls, GNUTLS_SHUT_WR);
}

static void *put_worker(void *arg)
{
    struct xfer *x = arg;

    log_set_request_id(x->rid);
    x->outcome = x->route->run(x);
    log_set_request_id(NULL);
    /* Whatever the handler left unread is refused from now on: the
     * connection's thread sees EPIPE and stops the upload. */
    close(x->pipe[0]);
    x->pipe[0] = -1;
    return NULL;
}

static void pump_direct(struct xfer *x);
static void end_upload(struct xfer *x);

static void *claim(const struct http_request *req)
{
    const struct xfer_route *route = NULL;
    struct api_error *e = NULL;
    int status;

    for (size_t i = 0; i < ELEMENTSOF(routes); i++)
        if (streq(req->method, routes[i]->method) && streq(req->path, routes[i]->path))
            route = routes[i];
    if (!route)
        return NULL;

    struct xfer *x = xcalloc(1, sizeof(*x));
    static uint64_t counter;
    snprintf(x->rid, sizeof(x->rid), "X%llu",
             (unsigned long long)__atomic_add_fetch(&counter, 1, __ATOMIC_RELAXED));
    x->route = route;
    x->fd = req->fd;
    x->tls = req->tls_session;
    x->pipe[0] = x->pipe[1] = -1;
    x->content_length = -1;
    MHD_get_connection_values(req->conn, MHD_GET_ARGUMENT_KIND, collect_arg, x);
    const char *cl = http_request_header(req, "Content-Length");
    if (cl)
        x->content_length = strtoll(cl, NULL, 10);
    const char *te = http_request_header(req, "Transfer-Encoding");
    x->chunked = te && strcasestr(te, "chunked");
    const char *expect = http_request_header(req, "Expect");
    x->expect_continue = expect && strcasecmp(expect, "100-continue") == 0;
    log_set_request_id(x->rid);
    log_info("%s %s from %s", req->method, req->path, req->peer);

    if ((status = authenticate(x, req))) {
        send_error(x, status, status == 401 ? route->realm : NULL);
        goto out;
    }
    const char *task = xfer_query(x, "task_id");
    bool from_cli = false;
    if (task) {
        db_rdlock();
        const struct row *t = db_get(C_task, task);
        bool known = t != NULL;
        /* The CLI marks its transfer's task -1 until a handler takes it. */
        from_cli = t && strtod(t->v[FIDX(task, progress)], NULL) < 0;
        db_unlock();
        if (!known) {
            send_error(x, 500, NULL);
            goto out;
        }
        snprintf(x->task, sizeof(x->task), "%s", task);
    } else if ((e = task_create(x->session, route->label, "", false, x->task))) {
        send_error(x, 500, NULL);
        goto out;
    }
    task_progress(x->task, 0);
    if ((status = route->prepare(x, &e))) {
        send_error(x, status, NULL);
        x->outcome = e ? e : api_failf(INTERNAL_ERROR, "%s refused", route->path);
        e = NULL;
        task_finish(x->task, NULL, x->outcome);
        goto out;
    }
    /* task.cancel stops it: the handlers look between chunks. */
    task_cancellable_begin(x->task, on_cancel);
    x->cancellable = true;
    if (streq(route->method, "PUT")) {
        int p[2];
        if (pipe2(p, O_CLOEXEC) < 0) {
            send_error(x, 500, NULL);
            x->outcome = api_failf(INTERNAL_ERROR, "pipe: %s", strerror(errno));
            task_finish(x->task, NULL, x->outcome);
            goto out;
        }
        x->pipe[0] = p[0];
        x->pipe[1] = p[1];
        /* XCP answers 200 before it reads the body, and xe waits for that
         * answer before it sends; a client that asked for 100 Continue
         * gets it from the server first, and the 200 with the body. */
        if (!x->expect_continue)
            send_head(x, "application/octet-stream", -1, NULL);
        if (pthread_create(&x->worker, NULL, put_worker, x) != 0) {
            x->outcome = api_failf(INTERNAL_ERROR, "cannot start the import");
            task_finish(x->task, NULL, x->outcome);
            send_error(x, 500, NULL);
            goto out;
        }
        x->worker_started = true;
        /* The thin client (xe) sends its file once it has the 200, and
         * closes right after the last byte: libmicrohttpd, polling a
         * socket that shows data and the hang-up together, would drop a
         * small body it has read but not handed over. So its body is read
         * here, straight from the connection, before the server reads any
         * of it. */
        if (from_cli && !x->expect_continue) {
            pump_direct(x);
            end_upload(x);
        }
    }
out:
    api_error_free(e);
    log_set_request_id(NULL);
    return x;
}

/* Hands body bytes to the worker: false once it stopped reading (it
 * failed). */
static bool to_worker(struct xfer *x, const char *data, size_t len)
{
    while (len > 0) {
        ssize_t n = write(x->pipe[1], data, len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return false;
        data += n;
        len -= (size_t)n;
        x->body_bytes += n;
    }
    return true;
}

/* Reads some of the body from the connection itself: the count, 0 at its
 * end, or -EPIPE. */
static ssize_t conn_read(struct xfer *x, void *buf, size_t len)
{
    for (;;) {
        ssize_t n;
        if (x->tls) {
            n = gnutls_record_recv(x->tls, buf, len);
            if (n == GNUTLS_E_AGAIN || n == GNUTLS_E_INTERRUPTED) {
                if (wait_fd(x->fd, POLLIN) < 0)
                    return -EPIPE;
                continue;
            }
        } else {
            n = recv(x->fd, buf, len, 0);
            if (n < 0 && (errno == EAGAIN || errno == EINTR)) {
                if (wait_fd(x->fd, POLLIN) < 0)
                    return -EPIPE;
                continue;
            }
        }
        return n < 0 ? -EPIPE : n;
    }
}

/* The rest of the body, read from the connection itself: up to the
 * Content-Length, or to the end of the connection when there is none.
 * libmicrohttpd drops what it has read but not yet handed over when the
 * client closes right after its last byte (xe does, and the poll of a
 * Unix socket sees the hang-up first), so once its buffer is drained the
 * body is not left to it. */
static void pump_direct(struct xfer *x)
{
    char *buf = xmalloc(256 * 1024);
    int64_t want = x->content_length;

    while (want < 0 || x->body_bytes < want) {
        size_t n = 256 * 1024;
        if (want >= 0 && (uint64_t)(want - x->body_bytes) < n)
            n = (size_t)(want - x->body_bytes);
        ssize_t got = conn_read(x, buf, n);
        if (got == 0 && want < 0)
            __atomic_store_n(&x->body_complete, true, __ATOMIC_RELEASE);
        if (got <= 0 || !to_worker(x, buf, (size_t)got))
            break;
    }
    if (want >= 0 && x->body_bytes == want)
        __atomic_store_n(&x->body_complete, true, __ATOMIC_RELEASE);
    free(buf);
}

/* The body is in (or cut): the worker sees its end, and the outcome goes
 * into the task. */
static void end_upload(struct xfer *x)
{
    if (!x->answered)
        send_head(x, "application/octet-stream", -1, NULL);
    close(x->pipe[1]);
    x->pipe[1] = -1;
    pthread_join(x->worker, NULL);
    x->worker_started = false;
    conclude(x);
}

static bool body(void *state, const char *data, size_t len)
{
    struct xfer *x = state;

    if (!x->worker_started || x->pipe[1] < 0)
        return false;
    log_set_request_id(x->rid);
    if (!x->answered)
        send_head(x, "application/octet-stream", -1, NULL);
    /* What the server had read goes first; the rest comes straight from
     * the connection, which is then closed (the answer went first). */
    if (to_worker(x, data, len))
        pump_direct(x);
    end_upload(x);
    log_set_request_id(NULL);
    return false;
}

static void finish(void *state)
{
    struct xfer *x = state;

    log_set_request_id(x->rid);
    if (streq(x->route->method, "PUT")) {
        if (x->worker_started) {
            /* No body came through the server: none was announced (a
             * client streaming from a pipe, as xe does, sends until it
             * closes) or an empty one. */
            if (x->content_length < 0 && !x->chunked)
                pump_direct(x);
            else
                __atomic_store_n(&x->body_complete, x->body_bytes == x->content_length,
                                 __ATOMIC_RELEASE);
            end_upload(x);
        }
    } else if (!x->answered) {
        x->outcome = x->route->run(x);
        if (x->outcome && !x->answered)
            send_error(x, 500, NULL);
        conclude(x);
    }
    log_set_request_id(NULL);
}

static void done(void *state)
{
    struct xfer *x = state;

    /* The connection went away before the body started: the worker sees
     * it end early and fails. */
    if (x->worker_started)
        end_upload(x);
    xfer_free(x);
}

const struct http_stream_ops http_stream_handler = {
    .claim = claim,
    .body = body,
    .finish = finish,
    .done = done,
};

int xfer_fd_write_all(int fd, const void *buf, size_t len)
{
    const char *p = buf;

    while (len > 0) {
        ssize_t n = write(fd, p, len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return n < 0 ? -errno : -EIO;
        p += n;
        len -= (size_t)n;
    }
    return 0;
}
