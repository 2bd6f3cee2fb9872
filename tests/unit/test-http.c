/* Unit tests of the HTTP(S) front end (xapi-c/http.c), driven over real
 * sockets: libcurl as the well-behaved client (HTTP, HTTPS with the
 * self-signed certificate, the Unix socket) and raw sockets for clients
 * that misbehave (half a body, garbage, a reader that leaves, one that
 * stays silent). Each test starts its own server on free ports with a
 * handler that echoes the body and records what it saw. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include <curl/curl.h>

#include "lib/cleanup.h"
#include "lib/log.h"
#include "lib/strbuf.h"
#include "lib/util.h"
#include "xapi-c/http.h"
#include "xapi-c/tls.h"

#define MAX_BODY (64 * 1024)
#define IDLE_TIMEOUT 2
#define BIG_RESPONSE (16 * 1024 * 1024)

/* What the handler saw, and the rendezvous of the blocking-handler test. */
struct recorder {
    pthread_mutex_t lock;
    pthread_cond_t cond;
    int calls;
    char method[16];
    char path[256];
    char originator[64];
    bool has_originator;
    char user_agent[128];
    bool has_user_agent;
    bool local;
    bool tls;
    char peer[64];
    size_t body_len;
    bool waiting;
    bool released;
};

struct fixture {
    struct recorder rec;
    struct http_server *srv;
    int http_port;
    int https_port;
    char sock[128];
};

/* Shared by every test: one directory and one certificate. */
static char test_dir[64];
static char test_pem[128];

static void recorder_init(struct recorder *rec)
{
    memset(rec, 0, sizeof(*rec));
    pthread_mutex_init(&rec->lock, NULL);
    pthread_cond_init(&rec->cond, NULL);
}

static void recorder_done(struct recorder *rec)
{
    pthread_mutex_destroy(&rec->lock);
    pthread_cond_destroy(&rec->cond);
}

static int recorder_calls(struct recorder *rec)
{
    pthread_mutex_lock(&rec->lock);
    int n = rec->calls;
    pthread_mutex_unlock(&rec->lock);
    return n;
}

/* Blocks until /release is requested or 10 s have passed: long enough to
 * show that other connections are served meanwhile, short enough not to
 * hang the suite if they are not. */
static bool wait_for_release(struct recorder *rec)
{
    struct timespec deadline;

    clock_gettime(CLOCK_REALTIME, &deadline);
    deadline.tv_sec += 10;
    pthread_mutex_lock(&rec->lock);
    rec->waiting = true;
    pthread_cond_broadcast(&rec->cond);
    while (!rec->released)
        if (pthread_cond_timedwait(&rec->cond, &rec->lock, &deadline) == ETIMEDOUT)
            break;
    bool released = rec->released;
    pthread_mutex_unlock(&rec->lock);
    return released;
}

static void handler(const struct http_request *req, struct http_response *resp, void *userdata)
{
    struct recorder *rec = userdata;

    pthread_mutex_lock(&rec->lock);
    rec->calls++;
    snprintf(rec->method, sizeof(rec->method), "%s", req->method);
    snprintf(rec->path, sizeof(rec->path), "%s", req->path);
    rec->has_originator = req->originator != NULL;
    snprintf(rec->originator, sizeof(rec->originator), "%s",
             req->originator ? req->originator : "");
    rec->has_user_agent = req->user_agent != NULL;
    snprintf(rec->user_agent, sizeof(rec->user_agent), "%s",
             req->user_agent ? req->user_agent : "");
    rec->local = req->local;
    rec->tls = req->tls;
    snprintf(rec->peer, sizeof(rec->peer), "%s", req->peer);
    rec->body_len = req->body_len;
    pthread_mutex_unlock(&rec->lock);

    resp->status = 200;
    resp->content_type = "text/xml";
    if (streq(req->method, "GET")) {
        resp->content_type = "text/html";
        strbuf_adds(&resp->body, "<html>xenia</html>");
    } else if (streq(req->path, "/jsonrpc")) {
        resp->content_type = "application/json";
        strbuf_add(&resp->body, req->body, req->body_len);
    } else if (streq(req->path, "/close")) {
        resp->close = true;
        strbuf_add(&resp->body, req->body, req->body_len);
    } else if (streq(req->path, "/big")) {
        strbuf_grow(&resp->body, BIG_RESPONSE);
        memset(resp->body.buf, 'x', BIG_RESPONSE);
        resp->body.len = BIG_RESPONSE;
        resp->body.buf[BIG_RESPONSE] = '\0';
    } else if (streq(req->path, "/wait")) {
        strbuf_adds(&resp->body, wait_for_release(rec) ? "released" : "timed out");
    } else if (streq(req->path, "/release")) {
        pthread_mutex_lock(&rec->lock);
        rec->released = true;
        pthread_cond_broadcast(&rec->cond);
        pthread_mutex_unlock(&rec->lock);
    } else if (streq(req->path, "/bad-status")) {
        resp->status = 0;
    } else {
        strbuf_add(&resp->body, req->body, req->body_len);
    }
}

/* A port that was free a moment ago. Another process may take it before
 * the server binds it, hence the retries in start_server(). */
static int free_port(void)
{
    struct sockaddr_in sin = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof(sin);
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

    assert_true(fd >= 0);
    assert_int_equal(bind(fd, (struct sockaddr *)&sin, sizeof(sin)), 0);
    assert_int_equal(getsockname(fd, (struct sockaddr *)&sin, &len), 0);
    close(fd);
    return ntohs(sin.sin_port);
}

static struct http_config config_for(struct fixture *f)
{
    return (struct http_config){
        .address = "127.0.0.1",
        .http_port = f->http_port,
        .https_port = f->https_port,
        .tls_pem = test_pem,
        .unix_path = f->sock,
        .max_body = MAX_BODY,
        .max_connections = 64,
        .idle_timeout = IDLE_TIMEOUT,
    };
}

static int start_server(struct fixture *f, const char *sock_name)
{
    int r = -EADDRINUSE;

    snprintf(f->sock, sizeof(f->sock), "%s/%s", test_dir, sock_name);
    for (int i = 0; i < 10 && r == -EADDRINUSE; i++) {
        f->http_port = free_port();
        f->https_port = free_port();
        struct http_config cfg = config_for(f);
        r = http_server_start(&cfg, handler, &f->rec, &f->srv);
    }
    return r;
}

static int setup(void **state)
{
    struct fixture *f = xcalloc(1, sizeof(*f));

    recorder_init(&f->rec);
    assert_int_equal(start_server(f, "xapi.sock"), 0);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *f = *state;

    http_server_stop(f->srv);
    recorder_done(&f->rec);
    free(f);
    return 0;
}

static int setup_group(void **state)
{
    (void)state;
    snprintf(test_dir, sizeof(test_dir), "/tmp/test-http-XXXXXX");
    assert_non_null(mkdtemp(test_dir));
    snprintf(test_pem, sizeof(test_pem), "%s/xapi-ssl.pem", test_dir);
    assert_int_equal(tls_ensure_certificate(test_pem, "localhost"), 0);
    return 0;
}

static int teardown_group(void **state)
{
    (void)state;
    unlink(test_pem);
    rmdir(test_dir);
    return 0;
}

/* --- libcurl as the client --- */

struct reply {
    CURLcode rc;
    long status;
    long num_connects;
    struct strbuf body;
};

static size_t on_data(char *data, size_t size, size_t n, void *userdata)
{
    strbuf_add(userdata, data, size * n);
    return size * n;
}

static CURL *client_new(void)
{
    CURL *c = curl_easy_init();

    assert_non_null(c);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_TIMEOUT, 20L);
    curl_easy_setopt(c, CURLOPT_SSL_VERIFYPEER, 0L);
    curl_easy_setopt(c, CURLOPT_SSL_VERIFYHOST, 0L);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_data);
    return c;
}

/* Sends one request on c (reusing its connection if it has one). A NULL
 * body means no body; "OPTIONS" and the like go in method. */
static void perform(CURL *c, const char *url, const char *method, const char *body, size_t len,
                    struct reply *r)
{
    strbuf_init(&r->body, 0);
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &r->body);
    if (body) {
        curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)len);
        curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
    } else {
        curl_easy_setopt(c, CURLOPT_HTTPGET, 1L);
    }
    curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
    r->rc = curl_easy_perform(c);
    r->status = 0;
    r->num_connects = -1;
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &r->status);
    curl_easy_getinfo(c, CURLINFO_NUM_CONNECTS, &r->num_connects);
}

static void reply_done(struct reply *r)
{
    strbuf_done(&r->body);
}

/* The value of a header of the last response on c, or NULL. */
static const char *header(CURL *c, const char *name)
{
    struct curl_header *h = NULL;

    if (curl_easy_header(c, name, 0, CURLH_HEADER, -1, &h) != CURLHE_OK)
        return NULL;
    return h->value;
}

static char *url_for(const char *scheme, int port, const char *path)
{
    return xasprintf("%s://127.0.0.1:%d%s", scheme, port, path);
}

/* One POST on a fresh handle; the reply's body must be freed. */
static void post_once(const char *url, const char *body, struct reply *r)
{
    CURL *c = client_new();

    perform(c, url, NULL, body, strlen(body), r);
    curl_easy_cleanup(c);
}

static void assert_http_works(struct fixture *f)
{
    char *url = url_for("http", f->http_port, "/");
    struct reply r;

    post_once(url, "still alive", &r);
    assert_int_equal(r.rc, CURLE_OK);
    assert_int_equal(r.status, 200);
    assert_string_equal(r.body.buf, "still alive");
    reply_done(&r);
    free(url);
}

/* --- raw sockets as the misbehaving client --- */

static int raw_connect(int port)
{
    struct sockaddr_in sin = {.sin_family = AF_INET,
                              .sin_port = htons((uint16_t)port),
                              .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

    assert_true(fd >= 0);
    assert_int_equal(connect(fd, (struct sockaddr *)&sin, sizeof(sin)), 0);
    return fd;
}

static void raw_send(int fd, const void *data, size_t len)
{
    assert_int_equal(send(fd, data, len, MSG_NOSIGNAL), (ssize_t)len);
}

/* Reads until the peer closes or timeout_ms pass; returns whether it
 * closed, and what it sent in out (if not NULL). */
static bool read_until_closed(int fd, int timeout_ms, struct strbuf *out)
{
    struct timespec start, now;

    clock_gettime(CLOCK_MONOTONIC, &start);
    for (;;) {
        struct pollfd p = {.fd = fd, .events = POLLIN};
        char buf[4096];
        int left;

        clock_gettime(CLOCK_MONOTONIC, &now);
        left = timeout_ms -
               (int)((now.tv_sec - start.tv_sec) * 1000 + (now.tv_nsec - start.tv_nsec) / 1000000);
        if (left <= 0 || poll(&p, 1, left) <= 0)
            return false;
        ssize_t n = recv(fd, buf, sizeof(buf), 0);
        if (n == 0 || (n < 0 && errno == ECONNRESET))
            return true;
        if (n < 0)
            return false;
        if (out)
            strbuf_add(out, buf, (size_t)n);
    }
}

/* --- tests: HTTP --- */

static void test_post_body_is_echoed_over_http(void **state)
{
    struct fixture *f = *state;
    char *url = url_for("http", f->http_port, "/");
    struct reply r;

    post_once(url, "<methodCall/>", &r);
    assert_int_equal(r.rc, CURLE_OK);
    assert_int_equal(r.status, 200);
    assert_string_equal(r.body.buf, "<methodCall/>");
    assert_int_equal(recorder_calls(&f->rec), 1);
    reply_done(&r);
    free(url);
}

static void test_handler_sees_method_path_headers_and_peer(void **state)
{
    struct fixture *f = *state;
    char *url = url_for("http", f->http_port, "/jsonrpc?session_id=x");
    CURL *c = client_new();
    struct curl_slist *h = curl_slist_append(NULL, "originator: XenCenter");
    struct reply r;

    curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
    curl_easy_setopt(c, CURLOPT_USERAGENT, "test-agent/1.0");
    perform(c, url, NULL, "{}", 2, &r);
    assert_int_equal(r.status, 200);
    assert_string_equal(f->rec.method, "POST");
    assert_string_equal(f->rec.path, "/jsonrpc");
    assert_true(f->rec.has_originator);
    assert_string_equal(f->rec.originator, "XenCenter");
    assert_true(f->rec.has_user_agent);
    assert_string_equal(f->rec.user_agent, "test-agent/1.0");
    assert_string_equal(f->rec.peer, "127.0.0.1");
    assert_int_equal(f->rec.body_len, 2);
    assert_false(f->rec.local);
    assert_false(f->rec.tls);
    reply_done(&r);
    curl_slist_free_all(h);
    curl_easy_cleanup(c);
    free(url);
}

static void test_missing_optional_headers_are_null(void **state)
{
    struct fixture *f = *state;
    char *url = url_for("http", f->http_port, "/");
    CURL *c = client_new();
    struct reply r;

    curl_easy_setopt(c, CURLOPT_USERAGENT, NULL);
    perform(c, url, NULL, "x", 1, &r);
    assert_int_equal(r.status, 200);
    assert_false(f->rec.has_originator);
    assert_false(f->rec.has_user_agent);
    reply_done(&r);
    curl_easy_cleanup(c);
    free(url);
}

static void test_keep_alive_reuses_the_connection(void **state)
{
    struct fixture *f = *state;
    char *url = url_for("http", f->http_port, "/");
    CURL *c = client_new();
    struct reply r1, r2;

    perform(c, url, NULL, "one", 3, &r1);
    perform(c, url, NULL, "two", 3, &r2);
    assert_int_equal(r1.status, 200);
    assert_int_equal(r1.num_connects, 1);
    assert_int_equal(r2.status, 200);
    assert_string_equal(r2.body.buf, "two");
    assert_int_equal(r2.num_connects, 0);
    reply_done(&r1);
    reply_done(&r2);
    curl_easy_cleanup(c);
    free(url);
}

static void test_handler_close_ends_the_connection(void **state)
{
    struct fixture *f = *state;
    char *url = url_for("http", f->http_port, "/close");
    CURL *c = client_new();
    struct reply r1, r2;

    perform(c, url, NULL, "one", 3, &r1);
    assert_int_equal(r1.status, 200);
    assert_non_null(header(c, "Connection"));
    assert_string_equal(header(c, "Connection"), "close");
    perform(c, url, NULL, "two", 3, &r2);
    assert_int_equal(r2.status, 200);
    assert_int_equal(r2.num_connects, 1);
    reply_done(&r1);
    reply_done(&r2);
    curl_easy_cleanup(c);
    free(url);
}

static void test_response_carries_xapi_headers(void **state)
{
    struct fixture *f = *state;
    char *url = url_for("http", f->http_port, "/");
    CURL *c = client_new();
    struct reply r;

    perform(c, url, NULL, "x", 1, &r);
    assert_int_equal(r.status, 200);
    assert_string_equal(header(c, "Content-Type"), "text/xml");
    assert_string_equal(header(c, "Cache-Control"), "no-cache, no-store");
    assert_string_equal(header(c, "Access-Control-Allow-Origin"), "*");
    assert_string_equal(header(c, "Access-Control-Allow-Headers"), "X-Requested-With");
    assert_string_equal(header(c, "Content-Length"), "1");
    assert_null(header(c, "Connection"));
    reply_done(&r);
    curl_easy_cleanup(c);
    free(url);
}

static void test_content_type_is_exactly_what_the_handler_set(void **state)
{
    struct fixture *f = *state;
    char *url = url_for("http", f->http_port, "/jsonrpc");
    CURL *c = client_new();
    struct reply r;

    perform(c, url, NULL, "{}", 2, &r);
    assert_int_equal(r.status, 200);
    assert_string_equal(header(c, "Content-Type"), "application/json");
    reply_done(&r);
    curl_easy_cleanup(c);
    free(url);
}

static void test_get_goes_to_the_handler(void **state)
{
    struct fixture *f = *state;
    char *url = url_for("http", f->http_port, "/");
    CURL *c = client_new();
    struct reply r;

    perform(c, url, NULL, NULL, 0, &r);
    assert_int_equal(r.status, 200);
    assert_string_equal(r.body.buf, "<html>xenia</html>");
    assert_string_equal(header(c, "Content-Type"), "text/html");
    assert_string_equal(f->rec.method, "GET");
    assert_int_equal(recorder_calls(&f->rec), 1);
    reply_done(&r);
    curl_easy_cleanup(c);
    free(url);
}

static void test_options_answers_cors_without_the_handler(void **state)
{
    struct fixture *f = *state;
    char *url = url_for("http", f->http_port, "/jsonrpc");
    CURL *c = client_new();
    struct reply r;

    perform(c, url, "OPTIONS", NULL, 0, &r);
    assert_int_equal(r.rc, CURLE_OK);
    assert_int_equal(r.status, 200);
    assert_int_equal(r.body.len, 0);
    assert_string_equal(header(c, "Access-Control-Allow-Origin"), "*");
    assert_string_equal(header(c, "Access-Control-Allow-Headers"), "X-Requested-With");
    assert_int_equal(recorder_calls(&f->rec), 0);
    reply_done(&r);
    curl_easy_cleanup(c);
    free(url);
}

static void test_invalid_handler_status_becomes_500(void **state)
{
    struct fixture *f = *state;
    char *url = url_for("http", f->http_port, "/bad-status");
    struct reply r;

    post_once(url, "x", &r);
    assert_int_equal(r.status, 500);
    reply_done(&r);
    free(url);
}

/* --- tests: body limit --- */

static void test_body_at_the_limit_is_accepted(void **state)
{
    struct fixture *f = *state;
    char *url = url_for("http", f->http_port, "/");
    char *body = xmalloc(MAX_BODY + 1);
    struct reply r;

    memset(body, 'a', MAX_BODY);
    body[MAX_BODY] = '\0';
    post_once(url, body, &r);
    assert_int_equal(r.status, 200);
    assert_int_equal(r.body.len, MAX_BODY);
    assert_int_equal(f->rec.body_len, MAX_BODY);
    reply_done(&r);
    free(body);
    free(url);
}

static void test_body_over_the_limit_gets_413_and_close(void **state)
{
    struct fixture *f = *state;
    char *url = url_for("http", f->http_port, "/");
    char *body = xmalloc(MAX_BODY + 2);
    CURL *c = client_new();
    struct reply r;

    memset(body, 'a', MAX_BODY + 1);
    body[MAX_BODY + 1] = '\0';
    perform(c, url, NULL, body, MAX_BODY + 1, &r);
    assert_int_equal(r.status, 413);
    assert_string_equal(header(c, "Connection"), "close");
    assert_int_equal(recorder_calls(&f->rec), 0);
    reply_done(&r);
    curl_easy_cleanup(c);
    free(body);
    free(url);
    assert_http_works(f);
}

/* Hands out len bytes of 'a' as a chunked upload. */
struct upload {
    size_t left;
};

static size_t on_read(char *buf, size_t size, size_t n, void *userdata)
{
    struct upload *u = userdata;
    size_t k = size * n < u->left ? size * n : u->left;

    memset(buf, 'a', k);
    u->left -= k;
    return k;
}

/* Uploads len bytes chunked; returns the status (0 if none came) and
 * what came back, and in ret_unsent how much the server never took. */
static long post_chunked(int port, size_t len, size_t *ret_body_len, size_t *ret_unsent)
{
    char *url = url_for("http", port, "/");
    CURL *c = client_new();
    struct curl_slist *h = curl_slist_append(NULL, "Transfer-Encoding: chunked");
    struct upload u = {len};
    struct strbuf body;
    long status = 0;

    strbuf_init(&body, 0);
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_POST, 1L);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
    curl_easy_setopt(c, CURLOPT_READFUNCTION, on_read);
    curl_easy_setopt(c, CURLOPT_READDATA, &u);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &body);
    curl_easy_perform(c);
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
    *ret_body_len = body.len;
    if (ret_unsent)
        *ret_unsent = u.left;
    strbuf_done(&body);
    curl_slist_free_all(h);
    curl_easy_cleanup(c);
    free(url);
    return status;
}

static void test_chunked_body_is_reassembled(void **state)
{
    struct fixture *f = *state;
    size_t len = 0;

    assert_int_equal(post_chunked(f->http_port, 40000, &len, NULL), 200);
    assert_int_equal(len, 40000);
    assert_int_equal(f->rec.body_len, 40000);
}

static void test_chunked_body_over_the_limit_gets_413(void **state)
{
    struct fixture *f = *state;
    size_t len = 0;

    assert_int_equal(post_chunked(f->http_port, MAX_BODY + 1000, &len, NULL), 413);
    assert_int_equal(recorder_calls(&f->rec), 0);
    assert_http_works(f);
}

static void test_endless_chunked_upload_is_cut(void **state)
{
    struct fixture *f = *state;
    size_t len = 0, unsent = 0;

    /* The server drains a little past the limit to be able to answer 413,
     * but not forever. */
    post_chunked(f->http_port, 256 * 1024 * 1024, &len, &unsent);
    assert_true(unsent > 0);
    assert_int_equal(recorder_calls(&f->rec), 0);
    assert_http_works(f);
}

/* --- tests: HTTPS --- */

static void test_post_body_is_echoed_over_https(void **state)
{
    struct fixture *f = *state;
    char *url = url_for("https", f->https_port, "/");
    struct reply r;

    post_once(url, "<methodCall/>", &r);
    assert_int_equal(r.rc, CURLE_OK);
    assert_int_equal(r.status, 200);
    assert_string_equal(r.body.buf, "<methodCall/>");
    assert_true(f->rec.tls);
    assert_false(f->rec.local);
    reply_done(&r);
    free(url);
}

static void test_https_certificate_verifies_for_localhost(void **state)
{
    struct fixture *f = *state;
    char *url = xasprintf("https://localhost:%d/", f->https_port);
    char *resolve = xasprintf("localhost:%d:127.0.0.1", f->https_port);
    struct curl_slist *res = curl_slist_append(NULL, resolve);
    CURL *c = client_new();
    struct reply r;

    curl_easy_setopt(c, CURLOPT_SSL_VERIFYPEER, 1L);
    curl_easy_setopt(c, CURLOPT_SSL_VERIFYHOST, 2L);
    curl_easy_setopt(c, CURLOPT_CAINFO, test_pem);
    curl_easy_setopt(c, CURLOPT_RESOLVE, res);
    perform(c, url, NULL, "x", 1, &r);
    assert_int_equal(r.rc, CURLE_OK);
    assert_int_equal(r.status, 200);
    reply_done(&r);
    curl_easy_cleanup(c);
    curl_slist_free_all(res);
    free(resolve);
    free(url);
}

static CURLcode https_with_versions(int port, long versions)
{
    char *url = url_for("https", port, "/");
    CURL *c = client_new();
    struct reply r;

    curl_easy_setopt(c, CURLOPT_SSLVERSION, versions);
    /* OpenSSL 3 refuses TLS 1.1 on the client side at its default
     * security level; level 0 makes the client really offer it, so that
     * a failure is the server's refusal. */
    curl_easy_setopt(c, CURLOPT_SSL_CIPHER_LIST, "DEFAULT:@SECLEVEL=0");
    perform(c, url, NULL, "x", 1, &r);
    CURLcode rc = r.rc;
    reply_done(&r);
    curl_easy_cleanup(c);
    free(url);
    return rc;
}

static void test_https_refuses_tls_1_1(void **state)
{
    struct fixture *f = *state;

    assert_int_not_equal(
        https_with_versions(f->https_port, CURL_SSLVERSION_TLSv1_1 | CURL_SSLVERSION_MAX_TLSv1_1),
        CURLE_OK);
    assert_int_equal(recorder_calls(&f->rec), 0);
}

static void test_https_accepts_tls_1_2(void **state)
{
    struct fixture *f = *state;

    assert_int_equal(
        https_with_versions(f->https_port, CURL_SSLVERSION_TLSv1_2 | CURL_SSLVERSION_MAX_TLSv1_2),
        CURLE_OK);
}

static void test_https_accepts_tls_1_3(void **state)
{
    struct fixture *f = *state;

    assert_int_equal(
        https_with_versions(f->https_port, CURL_SSLVERSION_TLSv1_3 | CURL_SSLVERSION_MAX_TLSv1_3),
        CURLE_OK);
}

static void test_keep_alive_works_over_https(void **state)
{
    struct fixture *f = *state;
    char *url = url_for("https", f->https_port, "/");
    CURL *c = client_new();
    struct reply r1, r2;

    perform(c, url, NULL, "one", 3, &r1);
    perform(c, url, NULL, "two", 3, &r2);
    assert_int_equal(r2.status, 200);
    assert_string_equal(r2.body.buf, "two");
    assert_int_equal(r2.num_connects, 0);
    reply_done(&r1);
    reply_done(&r2);
    curl_easy_cleanup(c);
    free(url);
}

/* --- tests: Unix socket --- */

static void test_unix_socket_request_is_local(void **state)
{
    struct fixture *f = *state;
    CURL *c = client_new();
    struct reply r;

    curl_easy_setopt(c, CURLOPT_UNIX_SOCKET_PATH, f->sock);
    perform(c, "http://localhost/", NULL, "hello", 5, &r);
    assert_int_equal(r.rc, CURLE_OK);
    assert_int_equal(r.status, 200);
    assert_string_equal(r.body.buf, "hello");
    assert_true(f->rec.local);
    assert_false(f->rec.tls);
    assert_string_equal(f->rec.peer, "unix");
    reply_done(&r);
    curl_easy_cleanup(c);
}

static void test_unix_socket_is_private(void **state)
{
    struct fixture *f = *state;
    struct stat st;

    assert_int_equal(lstat(f->sock, &st), 0);
    assert_true(S_ISSOCK(st.st_mode));
    assert_int_equal(st.st_mode & 07777, 0600);
}

static void test_unix_socket_is_removed_at_stop(void **state)
{
    struct fixture *f = *state;

    http_server_stop(f->srv);
    f->srv = NULL;
    assert_int_equal(access(f->sock, F_OK), -1);
    assert_int_equal(errno, ENOENT);
}

static void test_stale_unix_socket_is_replaced(void **state)
{
    struct fixture *f = *state;
    struct sockaddr_un sun = {.sun_family = AF_UNIX};
    int fd;

    /* A socket left behind by a process that died. */
    http_server_stop(f->srv);
    f->srv = NULL;
    fd = socket(AF_UNIX, SOCK_STREAM, 0);
    assert_true(fd >= 0 && strlen(f->sock) < sizeof(sun.sun_path));
    strcpy(sun.sun_path, f->sock);
    assert_int_equal(bind(fd, (struct sockaddr *)&sun, sizeof(sun)), 0);
    close(fd);

    assert_int_equal(start_server(f, "xapi.sock"), 0);
    CURL *c = client_new();
    struct reply r;
    curl_easy_setopt(c, CURLOPT_UNIX_SOCKET_PATH, f->sock);
    perform(c, "http://localhost/", NULL, "hello", 5, &r);
    assert_int_equal(r.status, 200);
    reply_done(&r);
    curl_easy_cleanup(c);
}

static void test_regular_file_at_socket_path_is_not_removed(void **state)
{
    struct http_config cfg = config_for(*state);
    struct http_server *s = NULL;
    char path[160];
    struct stat st;

    snprintf(path, sizeof(path), "%s/not-a-socket", test_dir);
    FILE *fp = fopen(path, "w");
    assert_non_null(fp);
    fclose(fp);
    cfg.http_port = cfg.https_port = 0;
    cfg.unix_path = path;
    assert_int_equal(http_server_start(&cfg, handler, NULL, &s), -EADDRINUSE);
    assert_null(s);
    assert_int_equal(lstat(path, &st), 0);
    assert_true(S_ISREG(st.st_mode));
    unlink(path);
}

/* --- tests: misbehaving clients --- */

static void test_client_leaving_mid_body_does_not_break_the_server(void **state)
{
    struct fixture *f = *state;
    static const char head[] = "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 1000\r\n\r\n";
    char part[100];
    int fd = raw_connect(f->http_port);

    memset(part, 'a', sizeof(part));
    raw_send(fd, head, sizeof(head) - 1);
    raw_send(fd, part, sizeof(part));
    close(fd);

    assert_http_works(f);
    assert_int_equal(recorder_calls(&f->rec), 1);
}

static void test_client_leaving_mid_response_does_not_break_the_server(void **state)
{
    struct fixture *f = *state;
    static const char req[] = "POST /big HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n";
    struct linger lg = {.l_onoff = 1, .l_linger = 0};
    char buf[1024];
    int fd = raw_connect(f->http_port);

    raw_send(fd, req, sizeof(req) - 1);
    assert_true(recv(fd, buf, sizeof(buf), MSG_WAITALL) > 0);
    /* Reset rather than close, so the server's next write fails hard. */
    setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
    close(fd);

    assert_http_works(f);
}

static void test_garbage_is_refused_and_the_server_goes_on(void **state)
{
    struct fixture *f = *state;
    static const char junk[] = "\x16\x03\x01\x02\x00 this is not HTTP \xff\xfe\r\n\r\n";
    int fd = raw_connect(f->http_port);

    raw_send(fd, junk, sizeof(junk) - 1);
    assert_true(read_until_closed(fd, 5000, NULL));
    close(fd);

    assert_http_works(f);
    assert_int_equal(recorder_calls(&f->rec), 1);
}

static void test_plain_http_on_the_tls_port_is_refused(void **state)
{
    struct fixture *f = *state;
    static const char req[] = "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\n\r\nx";
    int fd = raw_connect(f->https_port);

    raw_send(fd, req, sizeof(req) - 1);
    assert_true(read_until_closed(fd, 5000, NULL));
    close(fd);
    assert_int_equal(recorder_calls(&f->rec), 0);

    char *url = url_for("https", f->https_port, "/");
    struct reply r;
    post_once(url, "x", &r);
    assert_int_equal(r.status, 200);
    reply_done(&r);
    free(url);
}

static void test_idle_connection_is_cut_after_the_timeout(void **state)
{
    struct fixture *f = *state;
    static const char partial[] = "POST / HTTP/1.1\r\nHost: x\r\n";
    struct timespec t0, t1;
    int fd = raw_connect(f->http_port);

    clock_gettime(CLOCK_MONOTONIC, &t0);
    raw_send(fd, partial, sizeof(partial) - 1);
    assert_true(read_until_closed(fd, (IDLE_TIMEOUT + 4) * 1000, NULL));
    clock_gettime(CLOCK_MONOTONIC, &t1);
    close(fd);
    assert_true(t1.tv_sec - t0.tv_sec >= IDLE_TIMEOUT - 1);
}

static void test_connections_over_the_limit_are_refused(void **state)
{
    struct http_config cfg = config_for(*state);
    static const char partial[] = "POST / HTTP/1.1\r\nHost: x\r\n";
    struct http_server *s = NULL;
    struct recorder rec;
    int fds[3];
    int r = -EADDRINUSE;

    recorder_init(&rec);
    cfg.https_port = 0;
    cfg.unix_path = NULL;
    cfg.max_connections = 2;
    cfg.idle_timeout = 30; /* so that only the limit can close the third */
    for (int i = 0; i < 10 && r == -EADDRINUSE; i++) {
        cfg.http_port = free_port();
        r = http_server_start(&cfg, handler, &rec, &s);
    }
    assert_int_equal(r, 0);

    for (size_t i = 0; i < ELEMENTSOF(fds); i++) {
        fds[i] = raw_connect(cfg.http_port);
        raw_send(fds[i], partial, sizeof(partial) - 1);
    }
    assert_false(read_until_closed(fds[0], 300, NULL));
    assert_false(read_until_closed(fds[1], 300, NULL));
    assert_true(read_until_closed(fds[2], 5000, NULL));

    for (size_t i = 0; i < ELEMENTSOF(fds); i++)
        close(fds[i]);
    http_server_stop(s);
    recorder_done(&rec);
}

/* --- tests: concurrency and several servers --- */

struct waiter {
    int port;
    struct reply r;
};

static void *wait_thread(void *arg)
{
    struct waiter *w = arg;
    char *url = url_for("http", w->port, "/wait");

    post_once(url, "x", &w->r);
    free(url);
    return NULL;
}

static void test_blocking_handler_does_not_stall_other_clients(void **state)
{
    struct fixture *f = *state;
    struct waiter w = {.port = f->http_port};
    pthread_t t;
    struct timespec deadline;

    assert_int_equal(pthread_create(&t, NULL, wait_thread, &w), 0);
    clock_gettime(CLOCK_REALTIME, &deadline);
    deadline.tv_sec += 10;
    pthread_mutex_lock(&f->rec.lock);
    while (!f->rec.waiting)
        if (pthread_cond_timedwait(&f->rec.cond, &f->rec.lock, &deadline) == ETIMEDOUT)
            break;
    bool waiting = f->rec.waiting;
    pthread_mutex_unlock(&f->rec.lock);
    assert_true(waiting);

    char *url = url_for("http", f->http_port, "/release");
    struct reply r;
    post_once(url, "x", &r);
    assert_int_equal(r.status, 200);
    reply_done(&r);
    free(url);

    pthread_join(t, NULL);
    assert_int_equal(w.r.status, 200);
    assert_string_equal(w.r.body.buf, "released");
    reply_done(&w.r);
}

static void test_two_servers_run_side_by_side(void **state)
{
    struct fixture *f = *state;
    struct fixture *g = xcalloc(1, sizeof(*g));
    struct reply r;
    char *url;

    recorder_init(&g->rec);
    assert_int_equal(start_server(g, "second.sock"), 0);
    assert_int_not_equal(g->http_port, f->http_port);

    url = url_for("http", g->http_port, "/");
    post_once(url, "to the second", &r);
    assert_int_equal(r.status, 200);
    assert_string_equal(r.body.buf, "to the second");
    reply_done(&r);
    free(url);
    assert_int_equal(recorder_calls(&g->rec), 1);
    assert_int_equal(recorder_calls(&f->rec), 0);

    assert_http_works(f);
    assert_int_equal(recorder_calls(&f->rec), 1);
    assert_int_equal(recorder_calls(&g->rec), 1);

    http_server_stop(g->srv);
    recorder_done(&g->rec);
    free(g);
    /* Stopping one leaves the other serving. */
    assert_http_works(f);
}

/* --- tests: start-up errors --- */

static void test_start_fails_on_a_port_in_use(void **state)
{
    struct fixture *f = *state;
    struct http_config cfg = config_for(f);
    struct http_server *s = NULL;
    struct recorder rec;

    recorder_init(&rec);
    cfg.https_port = 0;
    cfg.unix_path = NULL;
    assert_int_equal(http_server_start(&cfg, handler, &rec, &s), -EADDRINUSE);
    assert_null(s);
    recorder_done(&rec);
}

static void test_start_fails_on_a_bad_address(void **state)
{
    struct http_config cfg = config_for(*state);
    struct http_server *s = NULL;

    cfg.address = "not-an-address";
    cfg.unix_path = NULL;
    assert_int_equal(http_server_start(&cfg, handler, NULL, &s), -EINVAL);
    assert_null(s);
}

static void test_start_fails_without_any_listener(void **state)
{
    struct http_config cfg = config_for(*state);
    struct http_server *s = NULL;

    cfg.http_port = cfg.https_port = 0;
    cfg.unix_path = NULL;
    assert_int_equal(http_server_start(&cfg, handler, NULL, &s), -EINVAL);
    assert_null(s);
}

static void test_start_fails_on_a_missing_certificate(void **state)
{
    struct http_config cfg = config_for(*state);
    struct http_server *s = NULL;
    char path[160];

    snprintf(path, sizeof(path), "%s/missing.pem", test_dir);
    cfg.http_port = 0;
    cfg.https_port = free_port();
    cfg.unix_path = NULL;
    cfg.tls_pem = path;
    assert_int_equal(http_server_start(&cfg, handler, NULL, &s), -ENOENT);
    assert_null(s);
}

static void test_start_fails_on_a_pem_without_key(void **state)
{
    struct http_config cfg = config_for(*state);
    struct http_server *s = NULL;
    char path[160];

    snprintf(path, sizeof(path), "%s/nokey.pem", test_dir);
    FILE *fp = fopen(path, "w");
    assert_non_null(fp);
    fputs("-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n", fp);
    fclose(fp);
    cfg.http_port = 0;
    cfg.https_port = free_port();
    cfg.unix_path = NULL;
    cfg.tls_pem = path;
    assert_int_equal(http_server_start(&cfg, handler, NULL, &s), -EINVAL);
    assert_null(s);
    unlink(path);
}

static void test_stop_accepts_null(void **state)
{
    (void)state;
    http_server_stop(NULL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
#define T(name) cmocka_unit_test_setup_teardown(name, setup, teardown)
        T(test_post_body_is_echoed_over_http),
        T(test_handler_sees_method_path_headers_and_peer),
        T(test_missing_optional_headers_are_null),
        T(test_keep_alive_reuses_the_connection),
        T(test_handler_close_ends_the_connection),
        T(test_response_carries_xapi_headers),
        T(test_content_type_is_exactly_what_the_handler_set),
        T(test_get_goes_to_the_handler),
        T(test_options_answers_cors_without_the_handler),
        T(test_invalid_handler_status_becomes_500),
        T(test_body_at_the_limit_is_accepted),
        T(test_body_over_the_limit_gets_413_and_close),
        T(test_chunked_body_is_reassembled),
        T(test_chunked_body_over_the_limit_gets_413),
        T(test_endless_chunked_upload_is_cut),
        T(test_post_body_is_echoed_over_https),
        T(test_https_certificate_verifies_for_localhost),
        T(test_https_refuses_tls_1_1),
        T(test_https_accepts_tls_1_2),
        T(test_https_accepts_tls_1_3),
        T(test_keep_alive_works_over_https),
        T(test_unix_socket_request_is_local),
        T(test_unix_socket_is_private),
        T(test_unix_socket_is_removed_at_stop),
        T(test_stale_unix_socket_is_replaced),
        T(test_regular_file_at_socket_path_is_not_removed),
        T(test_client_leaving_mid_body_does_not_break_the_server),
        T(test_client_leaving_mid_response_does_not_break_the_server),
        T(test_garbage_is_refused_and_the_server_goes_on),
        T(test_plain_http_on_the_tls_port_is_refused),
        T(test_idle_connection_is_cut_after_the_timeout),
        T(test_connections_over_the_limit_are_refused),
        T(test_blocking_handler_does_not_stall_other_clients),
        T(test_two_servers_run_side_by_side),
        T(test_start_fails_on_a_port_in_use),
        T(test_start_fails_on_a_bad_address),
        T(test_start_fails_without_any_listener),
        T(test_start_fails_on_a_missing_certificate),
        T(test_start_fails_on_a_pem_without_key),
        T(test_stop_accepts_null),
#undef T
    };
    int r;

    /* MHD reports refused clients at warning level; the tests provoke
     * those on purpose. */
    log_set_level("*", "err");
    curl_global_init(CURL_GLOBAL_DEFAULT);
    r = cmocka_run_group_tests(tests, setup_group, teardown_group);
    curl_global_cleanup();
    return r;
}
