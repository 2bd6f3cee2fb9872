/* xbench: the load generator and probes behind scripts/run-bench. Each
 * subcommand measures one thing against an xapi that is already listening on
 * 127.0.0.1 and prints its figures, one per line, as "<what>, <conditions>:
 * <number>". Requests go out over raw sockets (OpenSSL for TLS) with the
 * request text formatted once, and responses are read by Content-Length
 * only, so that the client costs as little CPU as possible: on the bench
 * machine it shares the cores with the server. Nothing here passes or fails;
 * a subcommand that cannot measure says why on stderr and exits non-zero.
 *
 *   xbench freeport
 *   xbench throughput -p PORT [-t] -c CONNS [-w WARMUP_S] [-d DURATION_S]
 *   xbench create     -p PORT -n COUNT -c CONNS [-s FIRST_INDEX]
 *   xbench getall     -p PORT [-j] -n RUNS -l LABEL [-e EXPECTED_RECORDS]
 *   xbench event      -p PORT -n ROUNDS -l LABEL
 *   xbench vmstart    -p PORT -n ROUNDS -l LABEL
 *   xbench powercycle -p PORT -n VMS -c CLIENTS -l LABEL
 *   xbench startup    -p PORT -L LOGFILE -- XAPI_PATH ARGS...
 *
 * vmstart and powercycle need a host whose domaind can start VMs (the sim
 * backend will do); they make their own VMs and destroy them at the end.
 *
 * The login is root with $XENIA_ROOT_PASSWORD (default xenia). */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <json-c/json.h>
#include <limits.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <pthread.h>
#include <semaphore.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

/* No single read or write may block longer than this: it bounds every loop
 * that waits on the server, including a 10,000-VM get_all_records. */
#define IO_TIMEOUT_S 120
/* Responses' headers are a few hundred bytes; more means a broken peer. */
#define MAX_HEADER_BYTES (64 * 1024)
/* The most connections or repetitions a subcommand accepts. */
#define MAX_CONNS 256
#define MAX_RUNS 10000
#define MAX_VMS 1000000
/* How long start-up may take before the probe gives up, and the poll step. */
#define STARTUP_LIMIT_S 120.0
#define STARTUP_POLL_S 0.002
/* Between sending event.from and the change: time for the server to park
 * the call, so that what is timed is a wake-up. */
#define EVENT_SETTLE_S 0.02
#define EVENT_TIMEOUT_S 10.0

/* A successful XML-RPC answer: xapi writes Status first (xenapi.md 1.2). */
#define XML_SUCCESS "<name>Status</name><value>Success</value>"

static SSL_CTX *tls_ctx;

/* Prints an error to stderr; returns -1 so that callers can
 * `return fail(...)`. */
__attribute__((format(printf, 1, 2))) static int fail(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fputs("xbench: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    return -1;
}

static void *xmalloc(size_t n)
{
    void *p = malloc(n);
    if (!p)
        abort();
    return p;
}

static void *xrealloc(void *p, size_t n)
{
    p = realloc(p, n);
    if (!p)
        abort();
    return p;
}

__attribute__((format(printf, 1, 2))) static char *xasprintf(const char *fmt, ...)
{
    va_list ap;
    char *s;
    va_start(ap, fmt);
    int r = vasprintf(&s, fmt, ap);
    va_end(ap);
    if (r < 0)
        abort();
    return s;
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void sleep_s(double s)
{
    struct timespec ts = {.tv_sec = (time_t)s, .tv_nsec = (long)((s - (double)(time_t)s) * 1e9)};
    while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
        ;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* Sorts v and returns its nearest-rank percentile p (0 < p <= 100). */
static double percentile(double *v, size_t n, double p)
{
    qsort(v, n, sizeof(*v), cmp_double);
    size_t rank = (size_t)((p / 100.0) * (double)n + 0.999999);
    if (rank < 1)
        rank = 1;
    if (rank > n)
        rank = n;
    return v[rank - 1];
}

static double median(double *v, size_t n)
{
    qsort(v, n, sizeof(*v), cmp_double);
    return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2.0;
}

/* Number of (non-overlapping) occurrences of needle in the n bytes at s. */
static size_t count_occurrences(const char *s, size_t n, const char *needle)
{
    size_t k = strlen(needle), count = 0;
    const char *end = s + n;
    for (const char *p = s; p < end;) {
        const char *hit = memmem(p, (size_t)(end - p), needle, k);
        if (!hit)
            break;
        count++;
        p = hit + k;
    }
    return count;
}

/* A keep-alive HTTP client connection and the response last read on it. */
struct conn {
    int fd;
    SSL *ssl;
    char *buf;
    size_t cap, len;
    size_t resp_len; /* bytes of buf that the current response occupies */
    int status;
    const char *body; /* points into buf; valid until the next read */
    size_t body_len;
};

static void conn_close(struct conn *c)
{
    if (c->ssl)
        SSL_free(c->ssl);
    if (c->fd >= 0)
        close(c->fd);
    free(c->buf);
    *c = (struct conn){.fd = -1};
}

static int conn_open(struct conn *c, int port, bool tls)
{
    *c = (struct conn){.fd = -1};
    c->fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (c->fd < 0)
        return fail("socket: %m");
    int one = 1;
    struct timeval tv = {.tv_sec = IO_TIMEOUT_S};
    setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    setsockopt(c->fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    setsockopt(c->fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (connect(c->fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
        int e = errno;
        conn_close(c);
        errno = e;
        return -1;
    }
    if (tls) {
        c->ssl = SSL_new(tls_ctx);
        if (!c->ssl || SSL_set_fd(c->ssl, c->fd) != 1 || SSL_connect(c->ssl) != 1) {
            unsigned long e = ERR_get_error();
            conn_close(c);
            return fail("TLS handshake with port %d failed: %s", port,
                        e ? ERR_reason_error_string(e) : "connection closed");
        }
    }
    return 0;
}

static int conn_send(struct conn *c, const char *data, size_t n)
{
    while (n > 0) {
        size_t chunk = n > INT_MAX ? INT_MAX : n;
        ssize_t w;
        if (c->ssl) {
            int r = SSL_write(c->ssl, data, (int)chunk);
            if (r <= 0)
                return -1;
            w = r;
        } else {
            w = send(c->fd, data, chunk, MSG_NOSIGNAL);
            if (w < 0 && errno == EINTR)
                continue;
            if (w < 0)
                return -1;
        }
        data += w;
        n -= (size_t)w;
    }
    return 0;
}

/* Makes room for at least want more bytes in c->buf. */
static void conn_reserve(struct conn *c, size_t want)
{
    if (c->cap - c->len >= want)
        return;
    size_t cap = c->cap ? c->cap : 16384;
    while (cap - c->len < want)
        cap *= 2;
    c->buf = xrealloc(c->buf, cap);
    c->cap = cap;
}

/* Reads more bytes into c->buf: >0 bytes read, 0 closed, -1 error. */
static ssize_t conn_fill(struct conn *c)
{
    conn_reserve(c, 16384);
    size_t room = c->cap - c->len;
    if (room > INT_MAX)
        room = INT_MAX;
    for (;;) {
        ssize_t r;
        if (c->ssl) {
            int n = SSL_read(c->ssl, c->buf + c->len, (int)room);
            if (n <= 0)
                return SSL_get_error(c->ssl, n) == SSL_ERROR_ZERO_RETURN ? 0 : -1;
            r = n;
        } else {
            r = recv(c->fd, c->buf + c->len, room, 0);
            if (r < 0 && errno == EINTR)
                continue;
            if (r < 0)
                return -1;
        }
        c->len += (size_t)r;
        return r;
    }
}

/* Reads one response: status, headers up to the blank line, then exactly
 * Content-Length bytes of body (the servers measured here never chunk
 * RPC answers). */
static int conn_read_response(struct conn *c)
{
    if (c->resp_len) {
        memmove(c->buf, c->buf + c->resp_len, c->len - c->resp_len);
        c->len -= c->resp_len;
        c->resp_len = 0;
    }
    size_t hdr_len;
    for (;;) {
        const char *e = c->len ? memmem(c->buf, c->len, "\r\n\r\n", 4) : NULL;
        if (e) {
            hdr_len = (size_t)(e - c->buf) + 4;
            break;
        }
        if (c->len > MAX_HEADER_BYTES)
            return fail("response header too long");
        if (conn_fill(c) <= 0)
            return -1;
    }
    if (hdr_len < 13 || memcmp(c->buf, "HTTP/1.", 7) != 0)
        return fail("not an HTTP response");
    c->status = atoi(c->buf + 9);
    bool have_len = false;
    unsigned long long clen = 0;
    for (const char *p = memchr(c->buf, '\n', hdr_len); p && p < c->buf + hdr_len - 2;
         p = memchr(p, '\n', (size_t)(c->buf + hdr_len - p))) {
        p++;
        if (strncasecmp(p, "content-length:", 15) == 0) {
            clen = strtoull(p + 15, NULL, 10); /* stops at the CR */
            have_len = true;
        }
    }
    if (!have_len)
        return fail("response without Content-Length (status %d)", c->status);
    size_t need = hdr_len + (size_t)clen;
    if (need > c->cap)
        conn_reserve(c, need - c->len);
    while (c->len < need)
        if (conn_fill(c) <= 0)
            return fail("connection lost in a response body");
    c->body = c->buf + hdr_len;
    c->body_len = (size_t)clen;
    c->resp_len = need;
    return 0;
}

/* One request, formatted once, sent any number of times. */
static char *http_request(const char *path, const char *ctype, const char *body, size_t *ret_len)
{
    char *r = xasprintf("POST %s HTTP/1.1\r\nHost: 127.0.0.1\r\nUser-Agent: xbench\r\n"
                        "Content-Type: %s\r\nContent-Length: %zu\r\n\r\n%s",
                        path, ctype, strlen(body), body);
    *ret_len = strlen(r);
    return r;
}

/* A JSON string literal for s, quotes included. */
static char *json_quote(const char *s)
{
    json_object *o = json_object_new_string(s);
    char *q = strdup(json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN));
    json_object_put(o);
    if (!q)
        abort();
    return q;
}

static char *jsonrpc_body(const char *method, const char *params)
{
    return xasprintf("{\"jsonrpc\":\"2.0\",\"method\":\"%s\",\"params\":[%s],\"id\":1}", method,
                     params);
}

/* Whether the body of a JSON-RPC 2.0 answer is a success, without parsing
 * it: the server writes "result" or "error" right after "jsonrpc". */
static bool json_is_success(const char *body, size_t n)
{
    size_t head = n < 64 ? n : 64;
    const char *r = memmem(body, head, "\"result\"", 8), *e = memmem(body, head, "\"error\"", 7);
    return r && (!e || r < e);
}

static bool xml_is_success(const char *body, size_t n)
{
    return memmem(body, n < 512 ? n : 512, XML_SUCCESS, strlen(XML_SUCCESS)) != NULL;
}

/* Calls method over JSON-RPC on c; params is the JSON text inside the
 * array. On success *ret_result is the result (the caller's). */
static int json_call(struct conn *c, const char *method, const char *params,
                     json_object **ret_result)
{
    char *body = jsonrpc_body(method, params);
    size_t n;
    char *req = http_request("/jsonrpc", "application/json", body, &n);
    free(body);
    int r = conn_send(c, req, n);
    free(req);
    if (r < 0 || conn_read_response(c) < 0)
        return fail("%s: no answer", method);
    if (c->status != 200)
        return fail("%s: HTTP status %d", method, c->status);
    json_tokener *tok = json_tokener_new_ex(JSON_TOKENER_DEFAULT_DEPTH);
    json_object *o = json_tokener_parse_ex(tok, c->body, (int)c->body_len);
    json_tokener_free(tok);
    json_object *res, *err;
    if (!o)
        return fail("%s: unparseable answer", method);
    if (json_object_object_get_ex(o, "error", &err) && !json_object_is_type(err, json_type_null)) {
        fail("%s: %s", method, json_object_to_json_string_ext(err, JSON_C_TO_STRING_PLAIN));
        json_object_put(o);
        return -1;
    }
    if (!json_object_object_get_ex(o, "result", &res)) {
        json_object_put(o);
        return fail("%s: answer without a result", method);
    }
    *ret_result = json_object_get(res);
    json_object_put(o);
    return 0;
}

/* Like json_call for calls whose result is a string: *ret is malloc'd. */
static int json_call_string(struct conn *c, const char *method, const char *params, char **ret)
{
    json_object *res;
    if (json_call(c, method, params, &res) < 0)
        return -1;
    if (!json_object_is_type(res, json_type_string)) {
        json_object_put(res);
        return fail("%s: result is not a string", method);
    }
    *ret = strdup(json_object_get_string(res));
    json_object_put(res);
    if (!*ret)
        abort();
    return 0;
}

static int login(struct conn *c, char **ret_session)
{
    const char *pw = getenv("XENIA_ROOT_PASSWORD");
    char *qpw = json_quote(pw && *pw ? pw : "xenia");
    char *params = xasprintf("\"root\",%s", qpw);
    int r = json_call_string(c, "session.login_with_password", params, ret_session);
    free(params);
    free(qpw);
    return r;
}

/* The control domain of the first host: a VM that always exists. */
static int control_domain(struct conn *c, const char *session, char **ret_vm)
{
    json_object *hosts;
    char *params = xasprintf("\"%s\"", session);
    int r = json_call(c, "host.get_all", params, &hosts);
    free(params);
    if (r < 0)
        return -1;
    if (!json_object_is_type(hosts, json_type_array) || json_object_array_length(hosts) < 1) {
        json_object_put(hosts);
        return fail("host.get_all: no host");
    }
    params = xasprintf("\"%s\",\"%s\"", session,
                       json_object_get_string(json_object_array_get_idx(hosts, 0)));
    json_object_put(hosts);
    r = json_call_string(c, "host.get_control_domain", params, ret_vm);
    free(params);
    return r;
}

/* Opens a plain connection and logs in on it. */
static int open_session(int port, bool tls, struct conn *c, char **ret_session)
{
    if (conn_open(c, port, tls) < 0)
        return fail("cannot connect to port %d: %m", port);
    if (login(c, ret_session) < 0) {
        conn_close(c);
        return -1;
    }
    return 0;
}

/* ---- throughput: VM.get_record over keep-alive connections ---- */

enum { PHASE_WARMUP, PHASE_MEASURE, PHASE_STOP };
static atomic_int tp_phase;

struct tp_worker {
    pthread_t thread;
    int port;
    bool tls;
    const char *req;
    size_t req_len;
    uint64_t ok, failures, reconnects;
};

static void *tp_run(void *arg)
{
    struct tp_worker *w = arg;
    struct conn c = {.fd = -1};
    bool connected = false;
    while (atomic_load(&tp_phase) != PHASE_STOP) {
        if (!connected) {
            if (conn_open(&c, w->port, w->tls) < 0) {
                if (atomic_load(&tp_phase) == PHASE_MEASURE)
                    w->failures++;
                sleep_s(0.01);
                continue;
            }
            connected = true;
        }
        bool good = conn_send(&c, w->req, w->req_len) == 0 && conn_read_response(&c) == 0;
        int phase = atomic_load(&tp_phase);
        if (good && c.status == 200 && xml_is_success(c.body, c.body_len)) {
            if (phase == PHASE_MEASURE)
                w->ok++;
        } else if (phase == PHASE_MEASURE)
            w->failures++;
        if (!good) {
            conn_close(&c);
            connected = false;
            w->reconnects++;
        }
    }
    conn_close(&c);
    return NULL;
}

static int cmd_throughput(int port, bool tls, int conns, double warmup, double duration)
{
    struct conn c;
    char *session, *vm;
    if (open_session(port, tls, &c, &session) < 0)
        return -1;
    int r = control_domain(&c, session, &vm);
    conn_close(&c);
    if (r < 0) {
        free(session);
        return -1;
    }
    char *body = xasprintf("<?xml version=\"1.0\"?><methodCall><methodName>VM.get_record"
                           "</methodName><params><param><value><string>%s</string></value>"
                           "</param><param><value><string>%s</string></value></param>"
                           "</params></methodCall>",
                           session, vm);
    size_t req_len;
    char *req = http_request("/", "text/xml", body, &req_len);
    free(body);

    struct tp_worker *w = calloc((size_t)conns, sizeof(*w));
    if (!w)
        abort();
    atomic_store(&tp_phase, PHASE_WARMUP);
    int started = 0;
    for (; started < conns; started++) {
        w[started] = (struct tp_worker){.port = port, .tls = tls, .req = req, .req_len = req_len};
        if (pthread_create(&w[started].thread, NULL, tp_run, &w[started]) != 0) {
            fail("pthread_create failed");
            break;
        }
    }
    sleep_s(warmup);
    atomic_store(&tp_phase, PHASE_MEASURE);
    double t0 = now_s();
    sleep_s(duration);
    atomic_store(&tp_phase, PHASE_STOP);
    double t1 = now_s();
    uint64_t ok = 0, failures = 0, reconnects = 0;
    for (int i = 0; i < started; i++) {
        pthread_join(w[i].thread, NULL);
        ok += w[i].ok;
        failures += w[i].failures;
        reconnects += w[i].reconnects;
    }
    const char *proto = tls ? "HTTPS" : "HTTP";
    const char *plural = conns == 1 ? "" : "s";
    printf("VM.get_record calls/s, %d connection%s, %s: %.0f\n", conns, plural, proto,
           (double)ok / (t1 - t0));
    printf("VM.get_record failures, %d connection%s, %s: %" PRIu64 "\n", conns, plural, proto,
           failures);
    if (reconnects)
        fprintf(stderr, "xbench: %" PRIu64 " connection(s) were lost and reopened\n", reconnects);
    free(w);
    free(req);
    free(vm);
    free(session);
    return started == conns ? 0 : -1;
}

/* ---- create: VMs through JSON-RPC over concurrent connections ---- */

/* A full VM record: every field VM.create requires, nothing more. */
#define VM_RECORD_FMT                                                                              \
    "{\"name_label\":\"bench-vm-%d\",\"name_description\":\"made by xbench\","                     \
    "\"user_version\":1,\"is_a_template\":false,\"affinity\":\"OpaqueRef:NULL\","                  \
    "\"memory_static_max\":1073741824,\"memory_dynamic_max\":1073741824,"                          \
    "\"memory_dynamic_min\":1073741824,\"memory_static_min\":536870912,"                           \
    "\"VCPUs_params\":{},\"VCPUs_max\":2,\"VCPUs_at_startup\":2,"                                  \
    "\"actions_after_shutdown\":\"destroy\",\"actions_after_reboot\":\"restart\","                 \
    "\"actions_after_crash\":\"restart\",\"PV_bootloader\":\"\",\"PV_kernel\":\"\","               \
    "\"PV_ramdisk\":\"\",\"PV_args\":\"\",\"PV_bootloader_args\":\"\",\"PV_legacy_args\":\"\","    \
    "\"HVM_boot_policy\":\"BIOS order\",\"HVM_boot_params\":{\"order\":\"cd\"},"                   \
    "\"platform\":{\"acpi\":\"1\",\"apic\":\"true\"},\"PCI_bus\":\"\","                            \
    "\"other_config\":{\"bench\":\"true\"},\"recommendations\":\"\"}"

struct create_worker {
    pthread_t thread;
    int port;
    const char *session;
    int first, count;
    int ok, failures;
};

static void *create_run(void *arg)
{
    struct create_worker *w = arg;
    struct conn c;
    if (conn_open(&c, w->port, false) < 0) {
        fail("cannot connect to port %d: %m", w->port);
        w->failures = w->count;
        return NULL;
    }
    bool reported = false;
    for (int i = 0; i < w->count; i++) {
        char *rec = xasprintf(VM_RECORD_FMT, w->first + i);
        char *params = xasprintf("\"%s\",%s", w->session, rec);
        char *body = jsonrpc_body("VM.create", params);
        size_t n;
        char *req = http_request("/jsonrpc", "application/json", body, &n);
        free(rec);
        free(params);
        free(body);
        bool good = conn_send(&c, req, n) == 0 && conn_read_response(&c) == 0;
        free(req);
        if (good && c.status == 200 && json_is_success(c.body, c.body_len)) {
            w->ok++;
            continue;
        }
        w->failures++;
        if (good && !reported) {
            fail("VM.create failed: %.*s", (int)(c.body_len < 300 ? c.body_len : 300), c.body);
            reported = true;
        }
        if (!good) {
            conn_close(&c);
            if (conn_open(&c, w->port, false) < 0) {
                w->failures += w->count - i - 1;
                break;
            }
        }
    }
    conn_close(&c);
    return NULL;
}

static int cmd_create(int port, int count, int conns, int first)
{
    struct conn c;
    char *session;
    if (open_session(port, false, &c, &session) < 0)
        return -1;
    conn_close(&c);
    struct create_worker *w = calloc((size_t)conns, sizeof(*w));
    if (!w)
        abort();
    double t0 = now_s();
    int started = 0, next = first;
    for (; started < conns; started++) {
        int share = count / conns + (started < count % conns);
        w[started] =
            (struct create_worker){.port = port, .session = session, .first = next, .count = share};
        next += share;
        if (pthread_create(&w[started].thread, NULL, create_run, &w[started]) != 0) {
            fail("pthread_create failed");
            break;
        }
    }
    int ok = 0, failures = 0;
    for (int i = 0; i < started; i++) {
        pthread_join(w[i].thread, NULL);
        ok += w[i].ok;
        failures += w[i].failures;
    }
    double dt = now_s() - t0;
    printf("VM.create calls/s, %d connections, JSON-RPC, VMs %d-%d: %.0f\n", conns, first,
           first + count - 1, (double)ok / dt);
    printf("VM.create seconds, %d connections, JSON-RPC, VMs %d-%d: %.2f\n", conns, first,
           first + count - 1, dt);
    printf("VM.create failures, %d connections, JSON-RPC, VMs %d-%d: %d\n", conns, first,
           first + count - 1, failures);
    free(w);
    free(session);
    return started == conns ? 0 : -1;
}

/* ---- getall: VM.get_all_records latency on one connection ---- */

static int cmd_getall(int port, bool json, int runs, const char *label, long expected)
{
    struct conn c;
    char *session;
    if (open_session(port, false, &c, &session) < 0)
        return -1;
    char *body, *req;
    size_t req_len;
    if (json) {
        char *params = xasprintf("\"%s\"", session);
        body = jsonrpc_body("VM.get_all_records", params);
        free(params);
        req = http_request("/jsonrpc", "application/json", body, &req_len);
    } else {
        body = xasprintf("<?xml version=\"1.0\"?><methodCall><methodName>VM.get_all_records"
                         "</methodName><params><param><value><string>%s</string></value>"
                         "</param></params></methodCall>",
                         session);
        req = http_request("/", "text/xml", body, &req_len);
    }
    free(body);
    const char *proto = json ? "JSON-RPC" : "XML-RPC";
    double *ms = xmalloc((size_t)runs * sizeof(double));
    size_t bytes = 0, records = 0;
    int r = 0;
    /* Run 0 warms up and is checked in full; the others are timed. */
    for (int i = 0; i <= runs; i++) {
        double t0 = now_s();
        if (conn_send(&c, req, req_len) < 0 || conn_read_response(&c) < 0) {
            r = fail("VM.get_all_records (%s): no answer", proto);
            break;
        }
        double t1 = now_s();
        bool good = c.status == 200 && (json ? json_is_success(c.body, c.body_len)
                                             : xml_is_success(c.body, c.body_len));
        if (!good) {
            r = fail("VM.get_all_records (%s) failed: %.*s", proto,
                     (int)(c.body_len < 300 ? c.body_len : 300), c.body);
            break;
        }
        if (i == 0) {
            bytes = c.body_len;
            records = count_occurrences(c.body, c.body_len, "is_control_domain");
        } else
            ms[i - 1] = (t1 - t0) * 1000.0;
    }
    if (r == 0) {
        if (expected >= 0 && records != (size_t)expected)
            fprintf(stderr, "xbench: VM.get_all_records returned %zu records, expected %ld\n",
                    records, expected);
        double med = median(ms, (size_t)runs);
        double p95 = percentile(ms, (size_t)runs, 95.0);
        printf("VM.get_all_records median ms, %s, %s: %.1f\n", label, proto, med);
        printf("VM.get_all_records p95 ms, %s, %s: %.1f\n", label, proto, p95);
        printf("VM.get_all_records response MB, %s, %s: %.1f\n", label, proto, (double)bytes / 1e6);
    }
    free(ms);
    free(req);
    free(session);
    conn_close(&c);
    return r;
}

/* ---- event: how fast a parked event.from wakes up on a change ---- */

struct ev_waiter {
    pthread_t thread;
    int port;
    const char *session, *vm;
    char *token;
    int rounds;
    sem_t go, sent, done;
    double *t_recv; /* per round, 0 if the round failed */
    atomic_bool quit;
};

/* Whether an event.from result holds a change of vm and, if so, takes its
 * token. */
static bool ev_take(struct ev_waiter *w, json_object *res)
{
    json_object *events, *token;
    if (!json_object_object_get_ex(res, "events", &events) ||
        !json_object_object_get_ex(res, "token", &token))
        return false;
    bool seen = false;
    size_t n = json_object_array_length(events);
    for (size_t i = 0; i < n; i++) {
        json_object *ref, *e = json_object_array_get_idx(events, i);
        if (json_object_object_get_ex(e, "ref", &ref) &&
            strcmp(json_object_get_string(ref), w->vm) == 0)
            seen = true;
    }
    free(w->token);
    w->token = strdup(json_object_get_string(token));
    if (!w->token)
        abort();
    return seen;
}

static void *ev_run(void *arg)
{
    struct ev_waiter *w = arg;
    struct conn c;
    bool connected = conn_open(&c, w->port, false) == 0;
    for (int i = 0; i < w->rounds; i++) {
        sem_wait(&w->go);
        if (atomic_load(&w->quit))
            break;
        if (!connected) {
            fail("event.from: cannot connect");
            sem_post(&w->sent);
            sem_post(&w->done);
            continue;
        }
        char *params =
            xasprintf("\"%s\",[\"vm\"],\"%s\",%.1f", w->session, w->token, EVENT_TIMEOUT_S);
        char *body = jsonrpc_body("event.from", params);
        size_t n;
        char *req = http_request("/jsonrpc", "application/json", body, &n);
        free(params);
        free(body);
        int r = conn_send(&c, req, n);
        free(req);
        sem_post(&w->sent);
        if (r == 0 && conn_read_response(&c) == 0) {
            double t = now_s();
            json_tokener *tok = json_tokener_new_ex(JSON_TOKENER_DEFAULT_DEPTH);
            json_object *o = json_tokener_parse_ex(tok, c.body, (int)c.body_len), *res;
            json_tokener_free(tok);
            if (o && json_object_object_get_ex(o, "result", &res) && ev_take(w, res))
                w->t_recv[i] = t;
            else
                fail("event.from round %d: no change of the VM: %.*s", i,
                     (int)(c.body_len < 300 ? c.body_len : 300), c.body);
            json_object_put(o);
        } else {
            fail("event.from round %d: no answer", i);
            conn_close(&c);
            connected = conn_open(&c, w->port, false) == 0;
        }
        sem_post(&w->done);
    }
    if (connected)
        conn_close(&c);
    return NULL;
}

static int sem_wait_s(sem_t *s, double seconds)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    double end = (double)ts.tv_sec + (double)ts.tv_nsec / 1e9 + seconds;
    ts.tv_sec = (time_t)end;
    ts.tv_nsec = (long)((end - (double)ts.tv_sec) * 1e9);
    while (sem_timedwait(s, &ts) < 0)
        if (errno != EINTR)
            return -1;
    return 0;
}

static int cmd_event(int port, int rounds, const char *label)
{
    struct conn c;
    struct ev_waiter w = {.port = port, .rounds = rounds};
    char *session, *vm, *name = NULL;
    int r = -1;
    if (open_session(port, false, &c, &session) < 0)
        return -1;
    if (control_domain(&c, session, &vm) < 0) {
        free(session);
        conn_close(&c);
        return -1;
    }
    char *params = xasprintf("\"%s\",\"%s\"", session, vm);
    if (json_call_string(&c, "VM.get_name_label", params, &name) < 0)
        goto out_params;
    free(params);
    /* event.inject answers with a token for the current generation. */
    params = xasprintf("\"%s\",\"vm\",\"%s\"", session, vm);
    if (json_call_string(&c, "event.inject", params, &w.token) < 0)
        goto out_params;

    w.session = session;
    w.vm = vm;
    w.t_recv = calloc((size_t)rounds, sizeof(double));
    double *t_send = calloc((size_t)rounds, sizeof(double));
    if (!w.t_recv || !t_send)
        abort();
    sem_init(&w.go, 0, 0);
    sem_init(&w.sent, 0, 0);
    sem_init(&w.done, 0, 0);
    if (pthread_create(&w.thread, NULL, ev_run, &w) != 0) {
        fail("pthread_create failed");
        goto out_sems;
    }
    int i;
    for (i = 0; i < rounds; i++) {
        sem_post(&w.go);
        if (sem_wait_s(&w.sent, IO_TIMEOUT_S) < 0)
            break;
        sleep_s(EVENT_SETTLE_S);
        char *label_param = xasprintf("\"%s\",\"%s\",\"bench-event-%d\"", session, vm, i);
        char *body = jsonrpc_body("VM.set_name_label", label_param);
        size_t n;
        char *req = http_request("/jsonrpc", "application/json", body, &n);
        free(label_param);
        free(body);
        t_send[i] = now_s();
        bool good = conn_send(&c, req, n) == 0 && conn_read_response(&c) == 0 &&
                    json_is_success(c.body, c.body_len);
        free(req);
        if (!good)
            fail("VM.set_name_label failed in round %d", i);
        if (sem_wait_s(&w.done, EVENT_TIMEOUT_S + 5.0) < 0) {
            fail("event.from did not return within %.0f s in round %d", EVENT_TIMEOUT_S + 5.0, i);
            break;
        }
    }
    /* A waiter still parked on the server returns within EVENT_TIMEOUT_S. */
    atomic_store(&w.quit, true);
    sem_post(&w.go);
    if (i < rounds)
        sem_wait_s(&w.done, EVENT_TIMEOUT_S + 5.0);
    pthread_join(w.thread, NULL);

    double *ms = xmalloc((size_t)rounds * sizeof(double));
    size_t n_ok = 0;
    for (int k = 0; k < rounds; k++)
        if (w.t_recv[k] > 0 && t_send[k] > 0)
            ms[n_ok++] = (w.t_recv[k] - t_send[k]) * 1000.0;
    if (n_ok > 0) {
        printf("event.from wake-up median ms, %s: %.2f\n", label, median(ms, n_ok));
        printf("event.from wake-up p95 ms, %s: %.2f\n", label, percentile(ms, n_ok, 95.0));
    }
    printf("event.from failed rounds, %s: %zu of %d\n", label, (size_t)rounds - n_ok, rounds);
    r = n_ok > 0 ? 0 : -1;
    free(ms);

    /* Leave the control domain as it was. */
    char *qname = json_quote(name);
    char *restore = xasprintf("\"%s\",\"%s\",%s", session, vm, qname);
    json_object *ignored;
    if (json_call(&c, "VM.set_name_label", restore, &ignored) == 0)
        json_object_put(ignored);
    free(restore);
    free(qname);
out_sems:
    sem_destroy(&w.go);
    sem_destroy(&w.sent);
    sem_destroy(&w.done);
    free(t_send);
    free(w.t_recv);
out_params:
    free(params);
    free(w.token);
    free(name);
    free(vm);
    free(session);
    conn_close(&c);
    return r;
}

/* ---- VM lifecycle: start and shutdown on domaind (sim backend) ---- */

/* A VM small enough that 1,000 of them fit the simulated host: 64 MiB, 1
 * VCPU, HVM (no bootloader to run). */
#define LC_VM_RECORD_FMT                                                                           \
    "{\"name_label\":\"bench-life-%d\",\"name_description\":\"made by xbench\","                   \
    "\"user_version\":1,\"is_a_template\":false,\"affinity\":\"OpaqueRef:NULL\","                  \
    "\"memory_static_max\":67108864,\"memory_dynamic_max\":67108864,"                              \
    "\"memory_dynamic_min\":67108864,\"memory_static_min\":67108864,"                              \
    "\"VCPUs_params\":{},\"VCPUs_max\":1,\"VCPUs_at_startup\":1,"                                  \
    "\"actions_after_shutdown\":\"destroy\",\"actions_after_reboot\":\"restart\","                 \
    "\"actions_after_crash\":\"restart\",\"PV_bootloader\":\"\",\"PV_kernel\":\"\","               \
    "\"PV_ramdisk\":\"\",\"PV_args\":\"\",\"PV_bootloader_args\":\"\",\"PV_legacy_args\":\"\","    \
    "\"HVM_boot_policy\":\"BIOS order\",\"HVM_boot_params\":{\"order\":\"cd\"},"                   \
    "\"platform\":{\"acpi\":\"1\",\"apic\":\"true\"},\"PCI_bus\":\"\","                            \
    "\"other_config\":{\"bench\":\"true\"},\"recommendations\":\"\"}"
/* The most event.from answers a round reads while it waits for Running,
 * and the most it reads to catch up before parking. */
#define LC_MAX_BATCHES 1000
#define LC_MAX_DRAIN 100
/* How long one phase (all the starts, or all the shutdowns) of a client may
 * take before it counts what is left as failures. */
#define LC_PHASE_LIMIT_S 120.0

enum call_status { CALL_OK, CALL_FAILED, CALL_LOST };

/* Calls method over JSON-RPC on c, for calls made many times: it reports
 * failures to its caller rather than printing them. CALL_LOST: no answer,
 * and c is unusable; CALL_FAILED: an answer that is not a success, the
 * start of which goes to *ret_error when asked (the caller's); CALL_OK: a
 * success, whose result goes to *ret_result when asked (the caller's). */
static enum call_status json_try(struct conn *c, const char *method, const char *params,
                                 json_object **ret_result, char **ret_error)
{
    char *body = jsonrpc_body(method, params);
    size_t n;
    char *req = http_request("/jsonrpc", "application/json", body, &n);
    free(body);
    int r = conn_send(c, req, n);
    free(req);
    if (r < 0 || conn_read_response(c) < 0)
        return CALL_LOST;
    json_object *o = NULL, *res;
    bool good = c->status == 200 && json_is_success(c->body, c->body_len);
    if (good && ret_result) {
        json_tokener *tok = json_tokener_new_ex(JSON_TOKENER_DEFAULT_DEPTH);
        o = json_tokener_parse_ex(tok, c->body, (int)c->body_len);
        json_tokener_free(tok);
        good = o && json_object_object_get_ex(o, "result", &res);
    }
    if (!good) {
        json_object_put(o);
        if (ret_error)
            *ret_error = xasprintf("HTTP %d, %.*s", c->status,
                                   (int)(c->body_len < 300 ? c->body_len : 300), c->body);
        return CALL_FAILED;
    }
    if (ret_result) {
        *ret_result = json_object_get(res);
        json_object_put(o);
    }
    return CALL_OK;
}

/* Makes one VM for these benchmarks; *ret_vm (the caller's) is its ref. */
static enum call_status lc_create(struct conn *c, const char *session, int index, char **ret_vm,
                                  char **ret_error)
{
    char *rec = xasprintf(LC_VM_RECORD_FMT, index);
    char *params = xasprintf("\"%s\",%s", session, rec);
    json_object *res = NULL;
    enum call_status s = json_try(c, "VM.create", params, &res, ret_error);
    free(params);
    free(rec);
    if (s != CALL_OK)
        return s;
    if (!json_object_is_type(res, json_type_string)) {
        json_object_put(res);
        if (ret_error)
            *ret_error = xasprintf("the result is not a ref");
        return CALL_FAILED;
    }
    *ret_vm = strdup(json_object_get_string(res));
    json_object_put(res);
    if (!*ret_vm)
        abort();
    return CALL_OK;
}

/* Calls method(session, vm[, extra]) and prints why when it fails. */
static int lc_vm_call(struct conn *c, const char *method, const char *session, const char *vm,
                      const char *extra)
{
    char *params = xasprintf("\"%s\",\"%s\"%s", session, vm, extra ? extra : "");
    char *err = NULL;
    enum call_status s = json_try(c, method, params, NULL, &err);
    free(params);
    if (s == CALL_LOST)
        return fail("%s: no answer", method);
    if (s == CALL_FAILED) {
        fail("%s failed: %s", method, err);
        free(err);
        return -1;
    }
    return 0;
}

/* Removes a VM that these benchmarks made: a hard shutdown first, in case
 * it still runs (refused, harmlessly, when it is halted), then destroy. */
static void lc_destroy(struct conn *c, const char *session, const char *vm)
{
    char *params = xasprintf("\"%s\",\"%s\"", session, vm);
    enum call_status s = json_try(c, "VM.hard_shutdown", params, NULL, NULL);
    if (s != CALL_LOST)
        s = json_try(c, "VM.destroy", params, NULL, NULL);
    free(params);
    if (s != CALL_OK)
        fail("could not destroy the benchmark's VM %s", vm);
}

/* vmstart: the latency from sending VM.start to the event.from parked on
 * another connection returning the VM as Running. */
struct vs_waiter {
    pthread_t thread;
    int port;
    const char *session, *vm;
    char *token; /* the waiter's; the caller sets the first one */
    int rounds;
    sem_t go, sent, done;
    double *t_seen; /* per round, 0 if the round failed */
    atomic_bool quit;
};

/* Takes the token of an event.from result; *ret_events is how many events
 * it holds and *ret_running whether one of them shows vm Running. */
static int vs_take(struct vs_waiter *w, json_object *res, size_t *ret_events, bool *ret_running)
{
    json_object *events, *token;
    if (!json_object_object_get_ex(res, "events", &events) ||
        !json_object_is_type(events, json_type_array) ||
        !json_object_object_get_ex(res, "token", &token) ||
        !json_object_is_type(token, json_type_string))
        return fail("event.from: a result without events or token");
    bool running = false;
    size_t n = json_object_array_length(events);
    for (size_t i = 0; i < n; i++) {
        json_object *ref, *op, *snap, *ps, *e = json_object_array_get_idx(events, i);
        if (json_object_object_get_ex(e, "ref", &ref) &&
            strcmp(json_object_get_string(ref), w->vm) == 0 &&
            json_object_object_get_ex(e, "operation", &op) &&
            strcmp(json_object_get_string(op), "del") != 0 &&
            json_object_object_get_ex(e, "snapshot", &snap) &&
            json_object_object_get_ex(snap, "power_state", &ps) &&
            strcmp(json_object_get_string(ps), "Running") == 0)
            running = true;
    }
    free(w->token);
    w->token = strdup(json_object_get_string(token));
    if (!w->token)
        abort();
    *ret_events = n;
    *ret_running = running;
    return 0;
}

static char *vs_from_request(const struct vs_waiter *w, double timeout, size_t *ret_len)
{
    char *params = xasprintf("\"%s\",[\"vm\"],\"%s\",%.3f", w->session, w->token, timeout);
    char *body = jsonrpc_body("event.from", params);
    char *req = http_request("/jsonrpc", "application/json", body, ret_len);
    free(params);
    free(body);
    return req;
}

/* Catches up with the changes of the previous round (the shutdown), then
 * sends the event.from that waits for this round's. */
static int vs_park(struct vs_waiter *w, struct conn *c)
{
    int k;
    for (k = 0; k < LC_MAX_DRAIN; k++) {
        char *params = xasprintf("\"%s\",[\"vm\"],\"%s\",0.0", w->session, w->token);
        json_object *res;
        int r = json_call(c, "event.from", params, &res);
        free(params);
        if (r < 0)
            return -1;
        size_t n;
        bool running;
        r = vs_take(w, res, &n, &running);
        json_object_put(res);
        if (r < 0)
            return -1;
        if (n == 0)
            break;
    }
    if (k == LC_MAX_DRAIN)
        return fail("event.from: still changes after %d catch-up calls", LC_MAX_DRAIN);
    size_t n;
    char *req = vs_from_request(w, EVENT_TIMEOUT_S, &n);
    int r = conn_send(c, req, n);
    free(req);
    return r < 0 ? fail("event.from: cannot send") : 0;
}

/* Reads event.from answers, parking again after each that does not show
 * the VM Running, for at most EVENT_TIMEOUT_S. */
static int vs_await(struct vs_waiter *w, struct conn *c, int round)
{
    double deadline = now_s() + EVENT_TIMEOUT_S;
    for (int k = 0; k < LC_MAX_BATCHES; k++) {
        if (conn_read_response(c) < 0)
            return fail("event.from round %d: no answer", round);
        double t = now_s();
        if (c->status != 200 || !json_is_success(c->body, c->body_len))
            return fail("event.from round %d failed: %.*s", round,
                        (int)(c->body_len < 300 ? c->body_len : 300), c->body);
        json_tokener *tok = json_tokener_new_ex(JSON_TOKENER_DEFAULT_DEPTH);
        json_object *o = json_tokener_parse_ex(tok, c->body, (int)c->body_len), *res;
        json_tokener_free(tok);
        size_t n;
        bool running = false;
        int r = o && json_object_object_get_ex(o, "result", &res) ? vs_take(w, res, &n, &running)
                                                                  : fail("event.from: bad answer");
        json_object_put(o);
        if (r < 0)
            return -1;
        if (running) {
            w->t_seen[round] = t;
            return 0;
        }
        double left = deadline - now_s();
        if (left <= 0)
            return fail("event.from round %d: the VM not seen Running within %.0f s", round,
                        EVENT_TIMEOUT_S);
        size_t len;
        char *req = vs_from_request(w, left, &len);
        r = conn_send(c, req, len);
        free(req);
        if (r < 0)
            return fail("event.from round %d: cannot send", round);
    }
    return fail("event.from round %d: %d answers without the VM Running", round, LC_MAX_BATCHES);
}

static void *vs_run(void *arg)
{
    struct vs_waiter *w = arg;
    struct conn c;
    bool connected = false;
    for (int i = 0; i < w->rounds; i++) {
        sem_wait(&w->go);
        if (atomic_load(&w->quit))
            break;
        if (!connected) {
            connected = conn_open(&c, w->port, false) == 0;
            if (!connected)
                fail("event.from: cannot connect to port %d: %m", w->port);
        }
        bool good = connected && vs_park(w, &c) == 0;
        sem_post(&w->sent);
        if (good)
            good = vs_await(w, &c, i) == 0;
        /* After a failure the connection may hold a call still parked. */
        if (!good && connected) {
            conn_close(&c);
            connected = false;
        }
        sem_post(&w->done);
    }
    if (connected)
        conn_close(&c);
    return NULL;
}

static int cmd_vmstart(int port, int rounds, const char *label)
{
    struct conn c;
    struct vs_waiter w = {.port = port, .rounds = rounds};
    char *session, *vm = NULL, *err = NULL;
    if (open_session(port, false, &c, &session) < 0)
        return -1;
    enum call_status s = lc_create(&c, session, 0, &vm, &err);
    if (s != CALL_OK) {
        fail("VM.create: %s", s == CALL_LOST ? "no answer" : err);
        free(err);
        free(session);
        conn_close(&c);
        return -1;
    }
    /* The first token: the waiter's catch-up before each round brings it
     * up to date. */
    char *params = xasprintf("\"%s\",\"vm\",\"%s\"", session, vm);
    int r = json_call_string(&c, "event.inject", params, &w.token);
    free(params);
    if (r < 0) {
        lc_destroy(&c, session, vm);
        free(vm);
        free(session);
        conn_close(&c);
        return -1;
    }

    w.session = session;
    w.vm = vm;
    w.t_seen = calloc((size_t)rounds, sizeof(double));
    double *start_ms = calloc((size_t)rounds, sizeof(double));
    double *t_send = calloc((size_t)rounds, sizeof(double));
    if (!w.t_seen || !start_ms || !t_send)
        abort();
    sem_init(&w.go, 0, 0);
    sem_init(&w.sent, 0, 0);
    sem_init(&w.done, 0, 0);
    r = -1;
    if (pthread_create(&w.thread, NULL, vs_run, &w) != 0) {
        fail("pthread_create failed");
        goto out;
    }
    bool waiter_busy = false;
    size_t n_start = 0;
    for (int i = 0; i < rounds; i++) {
        sem_post(&w.go);
        waiter_busy = true;
        if (sem_wait_s(&w.sent, IO_TIMEOUT_S) < 0) {
            fail("event.from was not sent within %d s in round %d", IO_TIMEOUT_S, i);
            break;
        }
        sleep_s(EVENT_SETTLE_S);
        params = xasprintf("\"%s\",\"%s\",false,false", session, vm);
        double t0 = now_s();
        s = json_try(&c, "VM.start", params, NULL, &err);
        double t1 = now_s();
        free(params);
        if (s == CALL_OK) {
            t_send[i] = t0;
            start_ms[n_start++] = (t1 - t0) * 1000.0;
        } else if (s == CALL_FAILED) {
            fail("VM.start failed in round %d: %s", i, err);
            free(err);
            err = NULL;
        } else
            fail("VM.start: no answer in round %d", i);
        if (sem_wait_s(&w.done, EVENT_TIMEOUT_S + 5.0) < 0) {
            fail("event.from did not return within %.0f s in round %d", EVENT_TIMEOUT_S + 5.0, i);
            break;
        }
        waiter_busy = false;
        /* A refused start would be refused again, each round waiting
         * EVENT_TIMEOUT_S for nothing: the rounds left count as failed. */
        if (s != CALL_OK)
            break;
        /* Halted again for the next round; not timed. */
        if (lc_vm_call(&c, "VM.hard_shutdown", session, vm, NULL) < 0)
            break;
    }
    /* A waiter still parked on the server returns within EVENT_TIMEOUT_S. */
    atomic_store(&w.quit, true);
    sem_post(&w.go);
    if (waiter_busy)
        sem_wait_s(&w.done, EVENT_TIMEOUT_S + 5.0);
    pthread_join(w.thread, NULL);

    double *seen_ms = xmalloc((size_t)rounds * sizeof(double));
    size_t n_seen = 0;
    for (int k = 0; k < rounds; k++)
        if (w.t_seen[k] > 0 && t_send[k] > 0)
            seen_ms[n_seen++] = (w.t_seen[k] - t_send[k]) * 1000.0;
    if (n_seen > 0) {
        printf("VM.start to Running seen through event.from median ms, %s: %.2f\n", label,
               median(seen_ms, n_seen));
        printf("VM.start to Running seen through event.from p95 ms, %s: %.2f\n", label,
               percentile(seen_ms, n_seen, 95.0));
    }
    if (n_start > 0) {
        printf("VM.start call median ms, %s: %.2f\n", label, median(start_ms, n_start));
        printf("VM.start call p95 ms, %s: %.2f\n", label, percentile(start_ms, n_start, 95.0));
    }
    printf("VM.start failed rounds, %s: %zu of %d\n", label, (size_t)rounds - n_seen, rounds);
    r = n_seen > 0 ? 0 : -1;
    free(seen_ms);
out:
    sem_destroy(&w.go);
    sem_destroy(&w.sent);
    sem_destroy(&w.done);
    lc_destroy(&c, session, vm);
    free(t_send);
    free(start_ms);
    free(w.t_seen);
    free(w.token);
    free(vm);
    free(session);
    conn_close(&c);
    return r;
}

/* powercycle: VMs started, then shut down, by concurrent clients, each
 * with its own connection, session and VMs. The main thread opens each
 * phase when every client has finished the one before, and times it. */
struct pc_gate {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int phase, arrived;
};

/* A client has finished its phase: waits for the next to open. */
static void pc_gate_arrive(struct pc_gate *g)
{
    pthread_mutex_lock(&g->mu);
    int phase = g->phase;
    g->arrived++;
    pthread_cond_broadcast(&g->cv);
    while (g->phase == phase)
        pthread_cond_wait(&g->cv, &g->mu);
    pthread_mutex_unlock(&g->mu);
}

/* Waits for clients to arrive, then opens the next phase. */
static void pc_gate_open(struct pc_gate *g, int clients)
{
    pthread_mutex_lock(&g->mu);
    while (g->arrived < clients)
        pthread_cond_wait(&g->cv, &g->mu);
    g->arrived = 0;
    g->phase++;
    pthread_cond_broadcast(&g->cv);
    pthread_mutex_unlock(&g->mu);
}

struct pc_worker {
    pthread_t thread;
    int port, first, count;
    struct pc_gate *gate;
    char *session;
    char **vms;    /* count refs, NULL where VM.create failed */
    bool *running; /* whether VM.start of vms[i] succeeded */
    int create_failures, start_ok, start_failures, stop_ok, stop_failures;
};

/* Runs method(session, vms[i]) on the VMs where want[i] (every VM that
 * exists when want is NULL), for at most LC_PHASE_LIMIT_S; sets done[i] for
 * each success and counts the failures, reporting the first. */
static void pc_phase(struct pc_worker *w, struct conn *c, bool *connected, const char *method,
                     const char *extra, const bool *want, bool *done, int *ret_ok,
                     int *ret_failures)
{
    double t0 = now_s();
    bool reported = false;
    int ok = 0, failures = 0;
    for (int i = 0; i < w->count; i++) {
        if (!w->vms[i] || (want && !want[i]))
            continue;
        if (!*connected && conn_open(c, w->port, false) == 0)
            *connected = true;
        if (!*connected || now_s() - t0 > LC_PHASE_LIMIT_S) {
            failures++;
            continue;
        }
        char *params = xasprintf("\"%s\",\"%s\"%s", w->session, w->vms[i], extra);
        char *err = NULL;
        enum call_status s = json_try(c, method, params, NULL, reported ? NULL : &err);
        free(params);
        if (s == CALL_OK) {
            ok++;
            if (done)
                done[i] = true;
            continue;
        }
        failures++;
        if (!reported) {
            fail("%s failed: %s", method, s == CALL_LOST ? "no answer" : err);
            reported = true;
        }
        free(err);
        if (s == CALL_LOST) {
            conn_close(c);
            *connected = false;
        }
    }
    if (now_s() - t0 > LC_PHASE_LIMIT_S)
        fail("%s: gave up after %.0f s", method, LC_PHASE_LIMIT_S);
    *ret_ok = ok;
    *ret_failures = failures;
}

static void *pc_run(void *arg)
{
    struct pc_worker *w = arg;
    struct conn c;
    bool connected = open_session(w->port, false, &c, &w->session) == 0;
    bool reported = false;
    /* Phase 0, not timed: the client's VMs. */
    for (int i = 0; i < w->count && connected; i++) {
        char *err = NULL;
        enum call_status s = lc_create(&c, w->session, w->first + i, &w->vms[i], &err);
        if (s != CALL_OK && !reported) {
            fail("VM.create failed: %s", s == CALL_LOST ? "no answer" : err);
            reported = true;
        }
        free(err);
        if (s == CALL_LOST) {
            conn_close(&c);
            connected = false;
        }
    }
    for (int i = 0; i < w->count; i++)
        w->create_failures += !w->vms[i];
    pc_gate_arrive(w->gate);
    if (w->session) {
        pc_phase(w, &c, &connected, "VM.start", ",false,false", NULL, w->running, &w->start_ok,
                 &w->start_failures);
        w->start_failures += w->create_failures;
    } else
        w->start_failures = w->count;
    pc_gate_arrive(w->gate);
    if (w->session)
        pc_phase(w, &c, &connected, "VM.clean_shutdown", "", w->running, NULL, &w->stop_ok,
                 &w->stop_failures);
    pc_gate_arrive(w->gate);
    /* Not timed: the VMs go. */
    for (int i = 0; i < w->count && connected; i++)
        if (w->vms[i])
            lc_destroy(&c, w->session, w->vms[i]);
    if (connected)
        conn_close(&c);
    return NULL;
}

static int cmd_powercycle(int port, int count, int clients, const char *label)
{
    struct pc_gate gate = {.mu = PTHREAD_MUTEX_INITIALIZER, .cv = PTHREAD_COND_INITIALIZER};
    struct pc_worker *w = calloc((size_t)clients, sizeof(*w));
    if (!w)
        abort();
    int started = 0, next = 1;
    for (; started < clients; started++) {
        int share = count / clients + (started < count % clients);
        w[started] = (struct pc_worker){.port = port, .first = next, .count = share, .gate = &gate};
        w[started].vms = calloc((size_t)share + 1, sizeof(char *));
        w[started].running = calloc((size_t)share + 1, sizeof(bool));
        if (!w[started].vms || !w[started].running)
            abort();
        next += share;
        if (pthread_create(&w[started].thread, NULL, pc_run, &w[started]) != 0) {
            fail("pthread_create failed");
            free(w[started].vms);
            free(w[started].running);
            break;
        }
    }
    pc_gate_open(&gate, started); /* the VMs are made */
    double t0 = now_s();
    pc_gate_open(&gate, started); /* they are started */
    double t1 = now_s();
    pc_gate_open(&gate, started); /* they are shut down */
    double t2 = now_s();
    int created = 0, start_ok = 0, start_failures = 0, stop_ok = 0, stop_failures = 0;
    for (int i = 0; i < started; i++) {
        pthread_join(w[i].thread, NULL);
        created += w[i].count - w[i].create_failures;
        start_ok += w[i].start_ok;
        start_failures += w[i].start_failures;
        stop_ok += w[i].stop_ok;
        stop_failures += w[i].stop_failures;
        for (int k = 0; k < w[i].count; k++)
            free(w[i].vms[k]);
        free(w[i].vms);
        free(w[i].running);
        free(w[i].session);
    }
    if (created < count)
        fprintf(stderr, "xbench: %d of %d VMs could not be created\n", count - created, count);
    printf("VM.start calls/s, %s, %d clients: %.0f\n", label, clients,
           (double)start_ok / (t1 - t0));
    printf("VM.start failures, %s, %d clients: %d\n", label, clients, start_failures);
    printf("VM.clean_shutdown calls/s, %s, %d clients: %.0f\n", label, clients,
           (double)stop_ok / (t2 - t1));
    printf("VM.clean_shutdown failures, %s, %d clients: %d\n", label, clients, stop_failures);
    free(w);
    return started == clients && start_ok > 0 ? 0 : -1;
}

/* ---- startup: from exec to the first successful HTTP answer ---- */

/* Whether a GET / on port gets a 2xx answer now. */
static bool http_answers(int port)
{
    struct conn c;
    if (conn_open(&c, port, false) < 0)
        return false;
    static const char get[] = "GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n";
    bool ok = conn_send(&c, get, strlen(get)) == 0 && conn_read_response(&c) == 0 &&
              c.status >= 200 && c.status < 300;
    conn_close(&c);
    return ok;
}

/* Stops the child with SIGTERM, then SIGKILL if it lingers. */
static void stop_child(pid_t pid)
{
    kill(pid, SIGTERM);
    for (int i = 0; i < 1000; i++) {
        if (waitpid(pid, NULL, WNOHANG) == pid)
            return;
        sleep_s(0.01);
    }
    fail("xapi ignored SIGTERM for 10 s; killing it");
    kill(pid, SIGKILL);
    waitpid(pid, NULL, 0);
}

static int cmd_startup(int port, const char *logfile, char **argv)
{
    int logfd = open(logfile, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
    if (logfd < 0)
        return fail("cannot open %s: %m", logfile);
    double t0 = now_s();
    pid_t pid = fork();
    if (pid < 0) {
        close(logfd);
        return fail("fork: %m");
    }
    if (pid == 0) {
        int devnull = open("/dev/null", O_RDWR);
        dup2(devnull, STDIN_FILENO);
        dup2(devnull, STDOUT_FILENO);
        dup2(logfd, STDERR_FILENO);
        execv(argv[0], argv);
        _exit(127);
    }
    close(logfd);
    int r = -1;
    while (now_s() - t0 < STARTUP_LIMIT_S) {
        if (http_answers(port)) {
            double t1 = now_s();
            /* An answer from someone else's server on a reused port does
             * not count: ours must still be running. */
            if (waitpid(pid, NULL, WNOHANG) == pid)
                return fail("xapi exited, yet port %d answered; see %s", port, logfile);
            printf("%.1f\n", (t1 - t0) * 1000.0);
            r = 0;
            break;
        }
        if (waitpid(pid, NULL, WNOHANG) == pid)
            return fail("xapi exited before answering; see %s", logfile);
        sleep_s(STARTUP_POLL_S);
    }
    if (r < 0)
        fail("xapi did not answer within %.0f s", STARTUP_LIMIT_S);
    stop_child(pid);
    return r;
}

static int cmd_freeport(void)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_in sa = {.sin_family = AF_INET};
    socklen_t len = sizeof(sa);
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (fd < 0 || bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 ||
        getsockname(fd, (struct sockaddr *)&sa, &len) < 0) {
        if (fd >= 0)
            close(fd);
        return fail("cannot find a free port: %m");
    }
    printf("%d\n", ntohs(sa.sin_port));
    close(fd);
    return 0;
}

static int parse_int(const char *s, int lo, int hi, int *ret)
{
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno || end == s || *end || v < lo || v > hi)
        return fail("bad number %s (want %d..%d)", s, lo, hi);
    *ret = (int)v;
    return 0;
}

static int parse_seconds(const char *s, double *ret)
{
    char *end;
    double v = strtod(s, &end);
    if (end == s || *end || !(v >= 0.0 && v <= 600.0))
        return fail("bad duration %s (want 0..600 s)", s);
    *ret = v;
    return 0;
}

static void usage(void)
{
    fputs("usage: xbench freeport\n"
          "       xbench throughput -p PORT [-t] -c CONNS [-w WARMUP_S] [-d DURATION_S]\n"
          "       xbench create -p PORT -n COUNT -c CONNS [-s FIRST_INDEX]\n"
          "       xbench getall -p PORT [-j] -n RUNS -l LABEL [-e EXPECTED_RECORDS]\n"
          "       xbench event -p PORT -n ROUNDS -l LABEL\n"
          "       xbench vmstart -p PORT -n ROUNDS -l LABEL\n"
          "       xbench powercycle -p PORT -n VMS -c CLIENTS -l LABEL\n"
          "       xbench startup -p PORT -L LOGFILE -- XAPI ARGS...\n",
          stderr);
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        usage();
        return 2;
    }
    const char *cmd = argv[1];
    int port = 0, conns = 1, n = 0, first = 1, expected = -1, opt;
    bool tls = false, json = false;
    double warmup = 1.0, duration = 5.0;
    const char *label = "", *logfile = NULL;

    optind = 2;
    while ((opt = getopt(argc, argv, "p:tc:n:s:jl:e:w:d:L:")) != -1) {
        int r = 0;
        switch (opt) {
        case 'p':
            r = parse_int(optarg, 1, 65535, &port);
            break;
        case 't':
            tls = true;
            break;
        case 'c':
            r = parse_int(optarg, 1, MAX_CONNS, &conns);
            break;
        case 'n':
            r = parse_int(optarg, 1, MAX_VMS, &n);
            break;
        case 's':
            r = parse_int(optarg, 0, MAX_VMS, &first);
            break;
        case 'j':
            json = true;
            break;
        case 'l':
            label = optarg;
            break;
        case 'e':
            r = parse_int(optarg, 0, MAX_VMS, &expected);
            break;
        case 'w':
            r = parse_seconds(optarg, &warmup);
            break;
        case 'd':
            r = parse_seconds(optarg, &duration);
            break;
        case 'L':
            logfile = optarg;
            break;
        default:
            usage();
            return 2;
        }
        if (r < 0)
            return 2;
    }

    signal(SIGPIPE, SIG_IGN);
    if (strcmp(cmd, "freeport") == 0)
        return cmd_freeport() < 0;
    if (port == 0) {
        usage();
        return 2;
    }
    if (strcmp(cmd, "startup") == 0) {
        if (!logfile || optind >= argc) {
            usage();
            return 2;
        }
        return cmd_startup(port, logfile, argv + optind) < 0;
    }
    if (tls) {
        tls_ctx = SSL_CTX_new(TLS_client_method());
        if (!tls_ctx)
            return fail("SSL_CTX_new failed") < 0;
        /* The host's certificate is self-signed; what is measured is the
         * cost of the channel, not of trust. */
        SSL_CTX_set_verify(tls_ctx, SSL_VERIFY_NONE, NULL);
    }
    int r;
    if (strcmp(cmd, "throughput") == 0)
        r = cmd_throughput(port, tls, conns, warmup, duration);
    else if (strcmp(cmd, "create") == 0 && n > 0)
        r = cmd_create(port, n, conns, first);
    else if (strcmp(cmd, "getall") == 0 && n > 0 && n <= MAX_RUNS)
        r = cmd_getall(port, json, n, label, expected);
    else if (strcmp(cmd, "event") == 0 && n > 0 && n <= MAX_RUNS)
        r = cmd_event(port, n, label);
    else if (strcmp(cmd, "vmstart") == 0 && n > 0 && n <= MAX_RUNS)
        r = cmd_vmstart(port, n, label);
    else if (strcmp(cmd, "powercycle") == 0 && n > 0)
        r = cmd_powercycle(port, n, conns, label);
    else {
        usage();
        r = -1;
    }
    fflush(stdout);
    if (tls_ctx)
        SSL_CTX_free(tls_ctx);
    return r < 0;
}
