/* Unit tests of JSON-RPC over Unix sockets (lib/jsonrpc.c), server and
 * client together: each test starts a server with a small method table on
 * a socket in its own mkdtemp folder and talks to it through the client, or
 * through a raw socket when the bytes on the wire are the point (error
 * data, notifications, garbage, oversized and abandoned requests). The
 * table's handlers that block (sleep, wait, block) check
 * jsonrpc_server_stopping every 10 ms, as the header asks of them, so that
 * every test can end by stopping its server. Assertions run on the main
 * thread only: worker threads record what they saw for it to check. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "lib/jsonrpc.h"
#include "lib/log.h"
#include "lib/strbuf.h"
#include "lib/util.h"

#define VERSION "1.2.3-test"
/* Long enough for a loaded machine under ASan, short enough to notice. */
#define TIMEOUT 10.0

struct fixture {
    char dir[64];
    char path[128];
    struct jsonrpc_server *server;
    pthread_mutex_t lock;
    pthread_cond_t cond;
    bool released; /* under lock: lets "wait" return */
    atomic_int notified;
    atomic_int entered; /* handlers of "wait" and "block" that have started */
};

static void sleep_ms(long ms)
{
    struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
        ;
}

static int64_t param_int(json_object *params, const char *name)
{
    json_object *v = NULL;
    json_object_object_get_ex(params, name, &v);
    return json_object_get_int64(v);
}

/* ---- The method table ---- */

static struct jsonrpc_error *h_add(json_object *params, json_object **ret_result, void *userdata)
{
    (void)userdata;
    json_object *r = json_object_new_object();
    json_object_object_add(r, "sum",
                           json_object_new_int64(param_int(params, "a") + param_int(params, "b")));
    *ret_result = r;
    return NULL;
}

/* Answers the params it was given, so a test can see what a handler sees. */
static struct jsonrpc_error *h_echo(json_object *params, json_object **ret_result, void *userdata)
{
    (void)userdata;
    *ret_result = json_object_get(params);
    return NULL;
}

static struct jsonrpc_error *h_fail(json_object *params, json_object **ret_result, void *userdata)
{
    (void)params;
    (void)userdata;
    /* A result set before failing must not leak. */
    *ret_result = json_object_new_string("ignored");
    return jsonrpc_app_error("VM_BAD_POWER_STATE", "OpaqueRef:1", "running", "halted");
}

static struct jsonrpc_error *h_nothing(json_object *params, json_object **ret_result,
                                       void *userdata)
{
    (void)params;
    (void)userdata;
    *ret_result = NULL;
    return NULL;
}

static struct jsonrpc_error *h_notify(json_object *params, json_object **ret_result, void *userdata)
{
    struct fixture *fx = userdata;
    (void)params;
    atomic_fetch_add(&fx->notified, 1);
    *ret_result = json_object_new_boolean(true);
    return NULL;
}

static struct jsonrpc_error *h_sleep(json_object *params, json_object **ret_result, void *userdata)
{
    struct fixture *fx = userdata;
    int64_t ms = param_int(params, "ms");
    for (int64_t t = 0; t < ms && !jsonrpc_server_stopping(fx->server); t += 10)
        sleep_ms(10);
    *ret_result = json_object_new_boolean(true);
    return NULL;
}

/* A long-poll: returns when the test releases it, or when the server stops. */
static struct jsonrpc_error *h_wait(json_object *params, json_object **ret_result, void *userdata)
{
    struct fixture *fx = userdata;
    (void)params;
    atomic_fetch_add(&fx->entered, 1);
    pthread_mutex_lock(&fx->lock);
    while (!fx->released && !jsonrpc_server_stopping(fx->server)) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        ts.tv_nsec += 10 * 1000000L;
        if (ts.tv_nsec >= 1000000000L) {
            ts.tv_sec++;
            ts.tv_nsec -= 1000000000L;
        }
        pthread_cond_timedwait(&fx->cond, &fx->lock, &ts);
    }
    bool released = fx->released;
    pthread_mutex_unlock(&fx->lock);
    *ret_result = json_object_new_boolean(released);
    return NULL;
}

/* Blocks until the server stops, polling for it every 10 ms. */
static struct jsonrpc_error *h_block(json_object *params, json_object **ret_result, void *userdata)
{
    struct fixture *fx = userdata;
    (void)params;
    atomic_fetch_add(&fx->entered, 1);
    while (!jsonrpc_server_stopping(fx->server))
        sleep_ms(10);
    *ret_result = NULL;
    return NULL;
}

static const struct jsonrpc_param add_params[] = {
    {"a", JP_INT, true},
    {"b", JP_INT, true},
    {"note", JP_STRING, false},
    {.name = NULL},
};
static const struct jsonrpc_param echo_params[] = {
    {"flag", JP_BOOL, false},   {"ratio", JP_NUMBER, false}, {"tags", JP_ARRAY, false},
    {"opts", JP_OBJECT, false}, {"any", JP_ANY, false},      {.name = NULL},
};
static const struct jsonrpc_param sleep_params[] = {
    {"ms", JP_INT, true},
    {.name = NULL},
};
static const struct jsonrpc_param no_params[] = {{.name = NULL}};

static const struct jsonrpc_method methods[] = {
    {"add", h_add, add_params},
    {"echo", h_echo, echo_params},
    {"fail", h_fail, no_params},
    {"nothing", h_nothing, no_params},
    {"notify", h_notify, no_params},
    {"sleep", h_sleep, sleep_params},
    {"wait", h_wait, no_params},
    {"block", h_block, no_params},
    {.name = NULL},
};

/* ---- Fixture ---- */

static int setup(void **state)
{
    struct fixture *fx = calloc(1, sizeof(*fx));
    if (!fx)
        return -1;
    snprintf(fx->dir, sizeof(fx->dir), "/tmp/test-jsonrpc-XXXXXX");
    if (!mkdtemp(fx->dir))
        return -1;
    snprintf(fx->path, sizeof(fx->path), "%s/rpc.sock", fx->dir);
    pthread_mutex_init(&fx->lock, NULL);
    pthread_cond_init(&fx->cond, NULL);
    if (jsonrpc_server_start(fx->path, methods, VERSION, fx, &fx->server) < 0)
        return -1;
    *state = fx;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *fx = *state;
    jsonrpc_server_stop(fx->server);
    /* Whatever a test left in the folder (a socket file of its own). */
    char other[192];
    snprintf(other, sizeof(other), "%s/other.sock", fx->dir);
    unlink(other);
    unlink(fx->path);
    rmdir(fx->dir);
    pthread_cond_destroy(&fx->cond);
    pthread_mutex_destroy(&fx->lock);
    free(fx);
    return 0;
}

/* ---- Raw socket helpers ---- */

static int raw_connect(const char *path)
{
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    assert_true(fd >= 0);
    assert_int_equal(connect(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
    return fd;
}

static void raw_send(int fd, const char *text)
{
    size_t len = strlen(text), done = 0;
    while (done < len) {
        ssize_t k = send(fd, text + done, len - done, MSG_NOSIGNAL);
        assert_true(k > 0);
        done += (size_t)k;
    }
}

/* Reads one line (without its newline), or NULL at EOF, on an error or
 * after TIMEOUT. A byte at a time, so nothing after the line is consumed. */
static char *raw_read_line(int fd)
{
    struct strbuf sb;
    strbuf_init(&sb, 0);
    for (;;) {
        struct pollfd p = {.fd = fd, .events = POLLIN};
        char c;
        if (poll(&p, 1, (int)(TIMEOUT * 1000)) <= 0 || recv(fd, &c, 1, 0) != 1) {
            strbuf_done(&sb);
            return NULL;
        }
        if (c == '\n')
            return strbuf_detach(&sb, NULL);
        strbuf_addc(&sb, c);
    }
}

static json_object *raw_read_json(int fd)
{
    char *line = raw_read_line(fd);
    assert_non_null(line);
    json_object *j = json_tokener_parse(line);
    free(line);
    assert_non_null(j);
    return j;
}

/* Sends one line on a new connection and returns the parsed answer. */
static json_object *raw_call(const char *path, const char *line)
{
    int fd = raw_connect(path);
    raw_send(fd, line);
    json_object *j = raw_read_json(fd);
    close(fd);
    return j;
}

/* The member at a dotted path ("error.data.param") of j, or NULL. */
static json_object *get(json_object *j, const char *dotted)
{
    char buf[128];
    snprintf(buf, sizeof(buf), "%s", dotted);
    char *save = NULL;
    for (char *k = strtok_r(buf, ".", &save); k; k = strtok_r(NULL, ".", &save))
        if (!json_object_object_get_ex(j, k, &j))
            return NULL;
    return j;
}

static void assert_member_int(json_object *j, const char *dotted, int64_t want)
{
    json_object *v = get(j, dotted);
    assert_non_null(v);
    assert_true(json_object_is_type(v, json_type_int));
    assert_int_equal(json_object_get_int64(v), want);
}

static void assert_member_string(json_object *j, const char *dotted, const char *want)
{
    json_object *v = get(j, dotted);
    assert_non_null(v);
    assert_true(json_object_is_type(v, json_type_string));
    assert_string_equal(json_object_get_string(v), want);
}

/* ---- Client helpers ---- */

/* Calls add(a, b) on c and returns the sum; fails the test on an error. */
static int64_t call_add(struct jsonrpc_client *c, int64_t a, int64_t b)
{
    json_object *params = json_object_new_object(), *result = NULL;
    json_object_object_add(params, "a", json_object_new_int64(a));
    json_object_object_add(params, "b", json_object_new_int64(b));
    int r = jsonrpc_call(c, "add", params, TIMEOUT, &result, NULL);
    json_object_put(params);
    assert_int_equal(r, 0);
    json_object *sum = get(result, "sum");
    assert_non_null(sum);
    int64_t v = json_object_get_int64(sum);
    json_object_put(result);
    return v;
}

/* Calls method with params given as JSON text and expects an error answer;
 * returns it. */
static struct jsonrpc_error *call_expect_error(const char *path, const char *method,
                                               const char *params_json)
{
    struct jsonrpc_client *c = jsonrpc_client_new(path);
    json_object *params = params_json ? json_tokener_parse(params_json) : NULL;
    json_object *result = NULL;
    struct jsonrpc_error *e = NULL;
    int r = jsonrpc_call(c, method, params, TIMEOUT, &result, &e);
    json_object_put(params);
    json_object_put(result);
    jsonrpc_client_free(c);
    assert_int_equal(r, -EPROTO);
    assert_non_null(e);
    return e;
}

/* ---- Calls and results ---- */

static void test_call_returns_result(void **state)
{
    struct fixture *fx = *state;
    struct jsonrpc_client *c = jsonrpc_client_new(fx->path);
    assert_int_equal(call_add(c, 2, 40), 42);
    assert_int_equal(call_add(c, -5, 3), -2); /* the same connection, again */
    jsonrpc_client_free(c);
}

static void test_missing_required_param_refused(void **state)
{
    struct fixture *fx = *state;
    struct jsonrpc_error *e = call_expect_error(fx->path, "add", "{\"a\": 1}");
    assert_int_equal(e->code, JSONRPC_INVALID_PARAMS);
    assert_non_null(strstr(e->message, "'b'"));
    jsonrpc_error_free(e);

    json_object *j = raw_call(
        fx->path, "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"add\",\"params\":{\"a\":1}}\n");
    assert_member_int(j, "error.code", JSONRPC_INVALID_PARAMS);
    assert_member_string(j, "error.data.param", "b");
    json_object_put(j);
}

static void test_wrong_param_type_refused(void **state)
{
    struct fixture *fx = *state;
    struct jsonrpc_error *e = call_expect_error(fx->path, "add", "{\"a\": \"1\", \"b\": 2}");
    assert_int_equal(e->code, JSONRPC_INVALID_PARAMS);
    jsonrpc_error_free(e);

    json_object *j = raw_call(fx->path, "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"add\","
                                        "\"params\":{\"a\":1,\"b\":2,\"note\":7}}\n");
    assert_member_int(j, "error.code", JSONRPC_INVALID_PARAMS);
    assert_member_string(j, "error.data.param", "note");
    json_object_put(j);
}

static void test_param_types_checked_per_kind(void **state)
{
    struct fixture *fx = *state;
    static const struct {
        const char *params;
        const char *bad; /* NULL if accepted */
    } cases[] = {
        {"{\"flag\": true, \"ratio\": 1.5, \"tags\": [], \"opts\": {}, \"any\": null}", NULL},
        {"{\"ratio\": 3}", NULL},
        {"{\"flag\": 1}", "flag"},
        {"{\"flag\": null}", "flag"},
        {"{\"ratio\": \"1.5\"}", "ratio"},
        {"{\"tags\": {}}", "tags"},
        {"{\"opts\": []}", "opts"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char line[256];
        snprintf(line, sizeof(line),
                 "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"echo\",\"params\":%s}\n",
                 cases[i].params);
        json_object *j = raw_call(fx->path, line);
        if (cases[i].bad) {
            assert_member_int(j, "error.code", JSONRPC_INVALID_PARAMS);
            assert_member_string(j, "error.data.param", cases[i].bad);
        } else
            assert_non_null(get(j, "result"));
        json_object_put(j);
    }
}

static void test_int_beyond_int64_refused(void **state)
{
    struct fixture *fx = *state;
    json_object *j = raw_call(fx->path, "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"add\","
                                        "\"params\":{\"a\":9223372036854775808,\"b\":0}}\n");
    assert_member_int(j, "error.code", JSONRPC_INVALID_PARAMS);
    assert_member_string(j, "error.data.param", "a");
    json_object_put(j);
}

static void test_extra_params_ignored(void **state)
{
    struct fixture *fx = *state;
    json_object *j = raw_call(fx->path, "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"add\","
                                        "\"params\":{\"a\":1,\"b\":2,\"colour\":\"blue\"}}\n");
    assert_member_int(j, "result.sum", 3);
    json_object_put(j);
}

static void test_absent_params_accepted(void **state)
{
    struct fixture *fx = *state;
    json_object *j = raw_call(fx->path, "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"echo\"}\n");
    json_object *result = get(j, "result");
    assert_non_null(result);
    /* The handler was given an empty object, not NULL. */
    assert_true(json_object_is_type(result, json_type_object));
    assert_int_equal(json_object_object_length(result), 0);
    json_object_put(j);
}

static void test_array_params_refused(void **state)
{
    struct fixture *fx = *state;
    json_object *j =
        raw_call(fx->path, "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"add\",\"params\":[1,2]}\n");
    assert_member_int(j, "error.code", JSONRPC_INVALID_PARAMS);
    assert_member_int(j, "id", 1);
    json_object_put(j);
}

static void test_unknown_method_refused(void **state)
{
    struct fixture *fx = *state;
    struct jsonrpc_error *e = call_expect_error(fx->path, "VM.frobnicate", NULL);
    assert_int_equal(e->code, JSONRPC_METHOD_NOT_FOUND);
    assert_non_null(strstr(e->message, "VM.frobnicate"));
    assert_null(e->app_code);
    jsonrpc_error_free(e);
}

static void test_app_error_round_trip(void **state)
{
    struct fixture *fx = *state;
    struct jsonrpc_error *e = call_expect_error(fx->path, "fail", NULL);
    assert_int_equal(e->code, JSONRPC_APP_ERROR);
    assert_string_equal(e->app_code, "VM_BAD_POWER_STATE");
    assert_int_equal(e->n_app_params, 3);
    assert_string_equal(e->app_params[0], "OpaqueRef:1");
    assert_string_equal(e->app_params[1], "running");
    assert_string_equal(e->app_params[2], "halted");
    jsonrpc_error_free(e);

    json_object *j = raw_call(fx->path, "{\"jsonrpc\":\"2.0\",\"id\":\"x\",\"method\":\"fail\"}\n");
    assert_member_string(j, "id", "x");
    assert_member_string(j, "error.data.error", "VM_BAD_POWER_STATE");
    assert_int_equal(json_object_array_length(get(j, "error.data.params")), 3);
    assert_null(get(j, "result"));
    json_object_put(j);
}

static void test_null_result_is_json_null(void **state)
{
    struct fixture *fx = *state;
    struct jsonrpc_client *c = jsonrpc_client_new(fx->path);
    json_object *result = json_object_new_string("not touched");
    json_object *keep = result;
    assert_int_equal(jsonrpc_call(c, "nothing", NULL, TIMEOUT, &result, NULL), 0);
    assert_null(result);
    json_object_put(keep);
    jsonrpc_client_free(c);

    int fd = raw_connect(fx->path);
    raw_send(fd, "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"nothing\"}\n");
    char *line = raw_read_line(fd);
    assert_string_equal(line, "{\"jsonrpc\":\"2.0\",\"id\":1,\"result\":null}");
    free(line);
    close(fd);
}

static void test_string_id_echoed(void **state)
{
    struct fixture *fx = *state;
    json_object *j = raw_call(
        fx->path, "{\"jsonrpc\":\"2.0\",\"id\":\"req-17\",\"method\":\"add\",\"params\":{\"a\":1,"
                  "\"b\":1}}\n");
    assert_member_string(j, "id", "req-17");
    assert_member_string(j, "jsonrpc", "2.0");
    json_object_put(j);
}

static void test_invalid_request_refused(void **state)
{
    struct fixture *fx = *state;
    static const char *const lines[] = {
        "{\"id\":1,\"method\":\"add\"}\n",                       /* no jsonrpc */
        "{\"jsonrpc\":\"1.0\",\"id\":1,\"method\":\"add\"}\n",   /* wrong version */
        "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":7}\n",         /* method not a string */
        "{\"jsonrpc\":\"2.0\",\"id\":1.5,\"method\":\"add\"}\n", /* id a double */
        "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"add\",\"params\":\"x\"}\n",
    };
    for (size_t i = 0; i < sizeof(lines) / sizeof(lines[0]); i++) {
        json_object *j = raw_call(fx->path, lines[i]);
        assert_member_int(j, "error.code", JSONRPC_INVALID_REQUEST);
        json_object_put(j);
    }
}

static void test_pipelined_requests_answered_in_order(void **state)
{
    struct fixture *fx = *state;
    int fd = raw_connect(fx->path);
    raw_send(fd,
             "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"add\",\"params\":{\"a\":1,\"b\":0}}\n"
             "\r\n"
             "{\"jsonrpc\":\"2.0\",\"id\":2,\"method\":\"add\",\"params\":{\"a\":2,\"b\":0}}\n"
             "{\"jsonrpc\":\"2.0\",\"id\":3,\"method\":\"add\",\"params\":{\"a\":3,\"b\":0}}\n");
    for (int i = 1; i <= 3; i++) {
        json_object *j = raw_read_json(fd);
        assert_member_int(j, "id", i);
        assert_member_int(j, "result.sum", i);
        json_object_put(j);
    }
    close(fd);
}

/* ---- Built-in methods ---- */

static void test_version_answers_start_string(void **state)
{
    struct fixture *fx = *state;
    struct jsonrpc_client *c = jsonrpc_client_new(fx->path);
    json_object *result = NULL;
    assert_int_equal(jsonrpc_call(c, "version", NULL, TIMEOUT, &result, NULL), 0);
    assert_member_string(result, "version", VERSION);
    json_object_put(result);
    jsonrpc_client_free(c);
}

static void test_log_set_changes_module_level(void **state)
{
    struct fixture *fx = *state;
    struct jsonrpc_client *c = jsonrpc_client_new(fx->path);
    json_object *params = json_tokener_parse("{\"module\":\"test-mod\",\"level\":\"debug\"}");
    json_object *result = NULL;

    assert_false(log_enabled("test-mod", LOG_DEBUG));
    assert_int_equal(jsonrpc_call(c, "log/set", params, TIMEOUT, &result, NULL), 0);
    assert_true(log_enabled("test-mod", LOG_DEBUG));
    assert_false(log_enabled("another-mod", LOG_DEBUG));
    json_object_put(result);
    json_object_put(params);
    jsonrpc_client_free(c);
    log_set_level("test-mod", "info");
}

static void test_log_set_unknown_level_refused(void **state)
{
    struct fixture *fx = *state;
    struct jsonrpc_error *e =
        call_expect_error(fx->path, "log/set", "{\"module\":\"test-mod\",\"level\":\"loud\"}");
    assert_int_equal(e->code, JSONRPC_INVALID_PARAMS);
    jsonrpc_error_free(e);

    json_object *j =
        raw_call(fx->path, "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"log/set\",\"params\":{"
                           "\"module\":\"test-mod\",\"level\":\"loud\"}}\n");
    assert_member_string(j, "error.data.param", "level");
    json_object_put(j);

    e = call_expect_error(fx->path, "log/set", "{\"level\":\"debug\"}");
    assert_int_equal(e->code, JSONRPC_INVALID_PARAMS);
    jsonrpc_error_free(e);
}

static void test_counters_show_counts_calls_and_errors(void **state)
{
    struct fixture *fx = *state;
    struct jsonrpc_client *c = jsonrpc_client_new(fx->path);
    json_object *result = NULL;

    call_add(c, 1, 1);
    call_add(c, 1, 2);
    jsonrpc_error_free(call_expect_error(fx->path, "add", "{}"));
    jsonrpc_error_free(call_expect_error(fx->path, "fail", NULL));
    assert_int_equal(jsonrpc_call(c, "counters/show", NULL, TIMEOUT, &result, NULL), 0);
    assert_member_int(result, "add.calls", 3);
    assert_member_int(result, "add.errors", 1);
    assert_member_int(result, "fail.calls", 1);
    assert_member_int(result, "fail.errors", 1);
    assert_member_int(result, "echo.calls", 0);
    assert_member_int(result, "version.calls", 0);
    assert_member_int(result, "counters/show.calls", 1);
    json_object_put(result);
    jsonrpc_client_free(c);
}

/* ---- Framing and misbehaving clients ---- */

static void test_notification_gets_no_response(void **state)
{
    struct fixture *fx = *state;
    int fd = raw_connect(fx->path);
    raw_send(fd, "{\"jsonrpc\":\"2.0\",\"method\":\"notify\"}\n"
                 "{\"jsonrpc\":\"2.0\",\"method\":\"no-such-method\"}\n"
                 "{\"jsonrpc\":\"2.0\",\"method\":\"add\",\"params\":{}}\n"
                 "{\"jsonrpc\":\"2.0\",\"id\":7,\"method\":\"version\"}\n");
    /* The first answer is the one to the only request with an id. */
    json_object *j = raw_read_json(fd);
    assert_member_int(j, "id", 7);
    json_object_put(j);
    assert_int_equal(atomic_load(&fx->notified), 1);
    close(fd);
}

static void test_garbage_line_gets_parse_error_and_closes(void **state)
{
    struct fixture *fx = *state;
    struct jsonrpc_client *c = jsonrpc_client_new(fx->path);
    int other = raw_connect(fx->path);
    int fd = raw_connect(fx->path);

    raw_send(fd, "this is not json\n");
    json_object *j = raw_read_json(fd);
    assert_member_int(j, "error.code", JSONRPC_PARSE_ERROR);
    json_object *id = NULL;
    assert_true(json_object_object_get_ex(j, "id", &id));
    assert_null(id);
    json_object_put(j);
    assert_null(raw_read_line(fd)); /* closed */
    close(fd);

    /* Connections old and new are still served. */
    raw_send(other, "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"version\"}\n");
    j = raw_read_json(other);
    assert_member_string(j, "result.version", VERSION);
    json_object_put(j);
    close(other);
    assert_int_equal(call_add(c, 1, 2), 3);
    jsonrpc_client_free(c);
}

static void test_trailing_bytes_after_object_are_parse_error(void **state)
{
    struct fixture *fx = *state;
    json_object *j =
        raw_call(fx->path, "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"version\"} {}\n");
    assert_member_int(j, "error.code", JSONRPC_PARSE_ERROR);
    json_object_put(j);
}

static void test_oversized_line_refused(void **state)
{
    struct fixture *fx = *state;
    static const char head[] =
        "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"echo\",\"params\":{\"any\":\"";
    const size_t chunk = 1024 * 1024;
    char *junk = malloc(chunk);
    size_t sent = 0;
    int fd = raw_connect(fx->path);

    assert_non_null(junk);
    memset(junk, 'x', chunk);
    memcpy(junk, head, sizeof(head) - 1);
    /* Streams with no newline until the server gives up on the line. */
    while (sent < 4 * (size_t)JSONRPC_MAX_MESSAGE) {
        ssize_t k = send(fd, junk, chunk, MSG_NOSIGNAL);
        if (k < 0)
            break;
        sent += (size_t)k;
        memset(junk, 'x', sizeof(head) - 1);
    }
    free(junk);
    /* It refused within the limit plus what the socket buffers hold, so
     * it did not keep what it was sent. */
    assert_true(sent > JSONRPC_MAX_MESSAGE);
    assert_true(sent < (size_t)JSONRPC_MAX_MESSAGE + 8 * chunk);
    json_object *j = raw_read_json(fd);
    assert_member_int(j, "error.code", JSONRPC_PARSE_ERROR);
    json_object_put(j);
    close(fd);

    struct jsonrpc_client *c = jsonrpc_client_new(fx->path);
    assert_int_equal(call_add(c, 20, 22), 42);
    jsonrpc_client_free(c);
}

static void test_client_disconnect_mid_request_is_harmless(void **state)
{
    struct fixture *fx = *state;

    /* Half a request, then gone. */
    int fd = raw_connect(fx->path);
    raw_send(fd, "{\"jsonrpc\":\"2.0\",\"id\":1,\"meth");
    close(fd);
    /* A whole request, gone before the answer: writing it must not
     * raise SIGPIPE, which would end this test program. */
    fd = raw_connect(fx->path);
    raw_send(fd, "{\"jsonrpc\":\"2.0\",\"id\":2,\"method\":\"sleep\",\"params\":{\"ms\":100}}\n");
    close(fd);
    sleep_ms(300);

    struct jsonrpc_client *c = jsonrpc_client_new(fx->path);
    json_object *result = NULL;
    assert_int_equal(jsonrpc_call(c, "counters/show", NULL, TIMEOUT, &result, NULL), 0);
    assert_member_int(result, "sleep.calls", 1);
    json_object_put(result);
    jsonrpc_client_free(c);
}

/* ---- Client behaviour ---- */

static void test_call_times_out_then_reconnects(void **state)
{
    struct fixture *fx = *state;
    struct jsonrpc_client *c = jsonrpc_client_new(fx->path);
    json_object *params = json_tokener_parse("{\"ms\": 3000}");
    json_object *result = NULL;

    double t0 = now_monotonic();
    assert_int_equal(jsonrpc_call(c, "sleep", params, 0.2, &result, NULL), -ETIMEDOUT);
    double took = now_monotonic() - t0;
    assert_true(took >= 0.19);
    assert_true(took < 2.0);
    assert_null(result);
    json_object_put(params);

    /* The late answer must not be taken for this one's. */
    assert_int_equal(call_add(c, 4, 5), 9);
    jsonrpc_client_free(c);
}

struct waiter {
    const char *path;
    int r;
    bool released;
};

static void *call_wait(void *arg)
{
    struct waiter *w = arg;
    struct jsonrpc_client *c = jsonrpc_client_new(w->path);
    json_object *result = NULL;
    w->r = jsonrpc_call(c, "wait", NULL, TIMEOUT, &result, NULL);
    w->released = json_object_get_boolean(result);
    json_object_put(result);
    jsonrpc_client_free(c);
    return NULL;
}

static void wait_entered(struct fixture *fx, int n)
{
    for (int i = 0; i < 1000 && atomic_load(&fx->entered) < n; i++)
        sleep_ms(10);
    assert_int_equal(atomic_load(&fx->entered), n);
}

static void test_long_poll_does_not_block_other_connections(void **state)
{
    struct fixture *fx = *state;
    struct waiter w = {.path = fx->path};
    pthread_t t;

    assert_int_equal(pthread_create(&t, NULL, call_wait, &w), 0);
    wait_entered(fx, 1);
    struct jsonrpc_client *c = jsonrpc_client_new(fx->path);
    double t0 = now_monotonic();
    assert_int_equal(call_add(c, 6, 7), 13);
    assert_true(now_monotonic() - t0 < 1.0);
    jsonrpc_client_free(c);

    pthread_mutex_lock(&fx->lock);
    fx->released = true;
    pthread_cond_broadcast(&fx->cond);
    pthread_mutex_unlock(&fx->lock);
    pthread_join(t, NULL);
    assert_int_equal(w.r, 0);
    assert_true(w.released);
}

static void test_server_restart_reconnects_transparently(void **state)
{
    struct fixture *fx = *state;
    struct jsonrpc_client *c = jsonrpc_client_new(fx->path);

    assert_int_equal(call_add(c, 1, 1), 2);
    jsonrpc_server_stop(fx->server);
    fx->server = NULL;
    assert_int_equal(jsonrpc_server_start(fx->path, methods, VERSION, fx, &fx->server), 0);
    assert_int_equal(call_add(c, 2, 2), 4);
    jsonrpc_client_free(c);
}

static void test_call_without_server_is_refused(void **state)
{
    struct fixture *fx = *state;
    char path[192];
    snprintf(path, sizeof(path), "%s/other.sock", fx->dir);
    struct jsonrpc_client *c = jsonrpc_client_new(path);
    json_object *result = NULL;
    assert_int_equal(jsonrpc_call(c, "version", NULL, TIMEOUT, &result, NULL), -ECONNREFUSED);
    assert_null(result);
    jsonrpc_client_free(c);
}

/* A socket file whose server died: bound, never listening. */
static void make_dead_socket(const char *path)
{
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);
    int fd = socket(AF_UNIX, SOCK_STREAM, 0);
    assert_true(fd >= 0);
    assert_int_equal(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
    close(fd);
}

static void test_call_to_dead_socket_is_refused(void **state)
{
    struct fixture *fx = *state;
    char path[192];
    snprintf(path, sizeof(path), "%s/other.sock", fx->dir);
    make_dead_socket(path);
    struct jsonrpc_client *c = jsonrpc_client_new(path);
    assert_int_equal(jsonrpc_call(c, "version", NULL, TIMEOUT, NULL, NULL), -ECONNREFUSED);
    jsonrpc_client_free(c);
}

/* A scripted stand-in for a server, for what a real one never does: one
 * action per request it reads, across connections, in order. */
enum fake_action { FAKE_ANSWER, FAKE_CLOSE, FAKE_WRONG_ID };

struct fake {
    char path[96];
    int listen_fd;
    const enum fake_action *script;
    size_t n_script;
    atomic_int accepted;
    atomic_bool quit;
    pthread_t thread;
};

/* Serves one connection; returns false when the script is over. */
static bool fake_serve(struct fake *f, int fd, size_t *step)
{
    while (*step < f->n_script) {
        char *line = raw_read_line(fd);
        if (!line)
            return true;
        json_object *req = json_tokener_parse(line), *id = NULL;
        free(line);
        json_object_object_get_ex(req, "id", &id);
        int64_t n = json_object_get_int64(id);
        json_object_put(req);
        enum fake_action a = f->script[(*step)++];
        if (a == FAKE_CLOSE)
            return true;
        char answer[128];
        snprintf(answer, sizeof(answer), "{\"jsonrpc\":\"2.0\",\"id\":%lld,\"result\":%lld}\n",
                 (long long)(a == FAKE_WRONG_ID ? n + 1000 : n), (long long)n);
        if (send(fd, answer, strlen(answer), MSG_NOSIGNAL) < 0)
            return true;
    }
    return false;
}

static void *fake_thread(void *arg)
{
    struct fake *f = arg;
    size_t step = 0;
    bool more = true;
    while (more && !atomic_load(&f->quit)) {
        struct pollfd p = {.fd = f->listen_fd, .events = POLLIN};
        if (poll(&p, 1, 50) <= 0)
            continue;
        int fd = accept(f->listen_fd, NULL, NULL);
        if (fd < 0)
            continue;
        atomic_fetch_add(&f->accepted, 1);
        more = fake_serve(f, fd, &step);
        close(fd);
    }
    return NULL;
}

static void fake_start(struct fake *f, const char *dir, const enum fake_action *script, size_t n)
{
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    snprintf(f->path, sizeof(f->path), "%s/other.sock", dir);
    snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", f->path);
    f->script = script;
    f->n_script = n;
    atomic_init(&f->accepted, 0);
    atomic_init(&f->quit, false);
    f->listen_fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    assert_true(f->listen_fd >= 0);
    assert_int_equal(bind(f->listen_fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
    assert_int_equal(listen(f->listen_fd, 8), 0);
    assert_int_equal(pthread_create(&f->thread, NULL, fake_thread, f), 0);
}

static void fake_stop(struct fake *f)
{
    atomic_store(&f->quit, true);
    pthread_join(f->thread, NULL);
    close(f->listen_fd);
}

static int64_t fake_call(struct jsonrpc_client *c, int *ret)
{
    json_object *result = NULL;
    *ret = jsonrpc_call(c, "m", NULL, 2.0, &result, NULL);
    int64_t v = json_object_get_int64(result);
    json_object_put(result);
    return v;
}

static void test_eof_on_reused_connection_retries_once(void **state)
{
    struct fixture *fx = *state;
    static const enum fake_action script[] = {FAKE_ANSWER, FAKE_CLOSE, FAKE_ANSWER};
    struct fake f;
    int r;

    fake_start(&f, fx->dir, script, 3);
    struct jsonrpc_client *c = jsonrpc_client_new(f.path);
    assert_int_equal(fake_call(c, &r), 1);
    assert_int_equal(r, 0);
    /* The connection closes with the request read and unanswered, as when
     * the server restarts just then: the request goes again on a new one. */
    assert_int_equal(fake_call(c, &r), 2);
    assert_int_equal(r, 0);
    assert_int_equal(atomic_load(&f.accepted), 2);
    jsonrpc_client_free(c);
    fake_stop(&f);
}

static void test_eof_on_fresh_connection_not_retried(void **state)
{
    struct fixture *fx = *state;
    static const enum fake_action script[] = {FAKE_CLOSE};
    struct fake f;
    int r;

    fake_start(&f, fx->dir, script, 1);
    struct jsonrpc_client *c = jsonrpc_client_new(f.path);
    fake_call(c, &r);
    assert_int_equal(r, -ECONNRESET);
    assert_int_equal(atomic_load(&f.accepted), 1);
    jsonrpc_client_free(c);
    fake_stop(&f);
}

static void test_answer_with_wrong_id_refused(void **state)
{
    struct fixture *fx = *state;
    static const enum fake_action script[] = {FAKE_WRONG_ID, FAKE_ANSWER};
    struct fake f;
    int r;

    fake_start(&f, fx->dir, script, 2);
    struct jsonrpc_client *c = jsonrpc_client_new(f.path);
    fake_call(c, &r);
    assert_int_equal(r, -EBADMSG);
    /* That connection is out of step: the next call opens another. */
    assert_int_equal(fake_call(c, &r), 2);
    assert_int_equal(r, 0);
    assert_int_equal(atomic_load(&f.accepted), 2);
    jsonrpc_client_free(c);
    fake_stop(&f);
}

/* ---- Server lifecycle ---- */

static void test_socket_is_private(void **state)
{
    struct fixture *fx = *state;
    struct stat st;
    assert_int_equal(lstat(fx->path, &st), 0);
    assert_true(S_ISSOCK(st.st_mode));
    assert_int_equal(st.st_mode & 07777, 0600);
}

static void test_start_replaces_stale_socket(void **state)
{
    struct fixture *fx = *state;
    char path[192];
    struct jsonrpc_server *s = NULL;
    snprintf(path, sizeof(path), "%s/other.sock", fx->dir);
    make_dead_socket(path);
    assert_int_equal(jsonrpc_server_start(path, methods, VERSION, fx, &s), 0);
    struct jsonrpc_client *c = jsonrpc_client_new(path);
    assert_int_equal(call_add(c, 1, 2), 3);
    jsonrpc_client_free(c);
    jsonrpc_server_stop(s);
    assert_int_equal(access(path, F_OK), -1); /* stop removed it */
}

static void test_start_refuses_live_socket(void **state)
{
    struct fixture *fx = *state;
    struct jsonrpc_server *s = NULL;
    assert_int_equal(jsonrpc_server_start(fx->path, methods, VERSION, fx, &s), -EADDRINUSE);
    assert_null(s);
    /* The live server kept its socket. */
    struct jsonrpc_client *c = jsonrpc_client_new(fx->path);
    assert_int_equal(call_add(c, 1, 2), 3);
    jsonrpc_client_free(c);
}

static void test_start_refuses_table_shadowing_builtin(void **state)
{
    struct fixture *fx = *state;
    static const struct jsonrpc_method bad[] = {
        {"version", h_nothing, no_params},
        {.name = NULL},
    };
    char path[192];
    struct jsonrpc_server *s = NULL;
    snprintf(path, sizeof(path), "%s/other.sock", fx->dir);
    assert_int_equal(jsonrpc_server_start(path, bad, VERSION, fx, &s), -EINVAL);
    assert_null(s);
}

struct blocker {
    const char *path;
    int r;
};

static void *call_block(void *arg)
{
    struct blocker *b = arg;
    struct jsonrpc_client *c = jsonrpc_client_new(b->path);
    b->r = jsonrpc_call(c, "block", NULL, TIMEOUT, NULL, NULL);
    jsonrpc_client_free(c);
    return NULL;
}

static void test_stop_while_handler_blocks_returns(void **state)
{
    struct fixture *fx = *state;
    struct blocker b = {.path = fx->path};
    pthread_t t;

    /* An idle connection too, which stop must close. */
    int idle = raw_connect(fx->path);
    assert_int_equal(pthread_create(&t, NULL, call_block, &b), 0);
    wait_entered(fx, 1);
    double t0 = now_monotonic();
    jsonrpc_server_stop(fx->server);
    fx->server = NULL;
    assert_true(now_monotonic() - t0 < 2.0);
    pthread_join(t, NULL);
    /* The call ended one way or the other: with the handler's answer if it
     * saw the stop before its socket was shut down, or with the close. */
    assert_true(b.r == 0 || b.r == -ECONNRESET);
    assert_null(raw_read_line(idle));
    close(idle);
    assert_int_equal(access(fx->path, F_OK), -1);
}

#define N_THREADS 8
#define N_CALLS 200

struct worker {
    const char *path;
    int n;
    int wrong;
};

static void *add_many(void *arg)
{
    struct worker *w = arg;
    struct jsonrpc_client *c = jsonrpc_client_new(w->path);
    for (int i = 0; i < N_CALLS; i++) {
        json_object *params = json_object_new_object(), *result = NULL;
        json_object_object_add(params, "a", json_object_new_int64(w->n * 100000 + i));
        json_object_object_add(params, "b", json_object_new_int64(i));
        int r = jsonrpc_call(c, "add", params, TIMEOUT, &result, NULL);
        json_object *sum = NULL;
        if (r < 0 || !json_object_object_get_ex(result, "sum", &sum) ||
            json_object_get_int64(sum) != w->n * 100000 + 2 * i)
            w->wrong++;
        json_object_put(result);
        json_object_put(params);
    }
    jsonrpc_client_free(c);
    return NULL;
}

static void test_concurrent_clients_all_answered(void **state)
{
    struct fixture *fx = *state;
    struct worker w[N_THREADS];
    pthread_t t[N_THREADS];

    for (int i = 0; i < N_THREADS; i++) {
        w[i] = (struct worker){.path = fx->path, .n = i};
        assert_int_equal(pthread_create(&t[i], NULL, add_many, &w[i]), 0);
    }
    for (int i = 0; i < N_THREADS; i++) {
        pthread_join(t[i], NULL);
        assert_int_equal(w[i].wrong, 0);
    }

    struct jsonrpc_client *c = jsonrpc_client_new(fx->path);
    json_object *result = NULL;
    assert_int_equal(jsonrpc_call(c, "counters/show", NULL, TIMEOUT, &result, NULL), 0);
    assert_member_int(result, "add.calls", N_THREADS * N_CALLS);
    json_object_put(result);
    jsonrpc_client_free(c);
}

/* ---- Errors made by hand ---- */

static void test_error_new_formats_message(void **state)
{
    (void)state;
    struct jsonrpc_error *e = jsonrpc_error_new(JSONRPC_INTERNAL_ERROR, "disk %d of %s", 3, "sr0");
    assert_int_equal(e->code, JSONRPC_INTERNAL_ERROR);
    assert_string_equal(e->message, "disk 3 of sr0");
    assert_null(e->app_code);
    assert_int_equal(e->n_app_params, 0);
    jsonrpc_error_free(e);
    jsonrpc_error_free(NULL);

    e = jsonrpc_app_error("SR_FULL");
    assert_string_equal(e->app_code, "SR_FULL");
    assert_int_equal(e->n_app_params, 0);
    jsonrpc_error_free(e);
}

#define T(name) cmocka_unit_test_setup_teardown(name, setup, teardown)

int main(void)
{
    const struct CMUnitTest tests[] = {
        T(test_call_returns_result),
        T(test_missing_required_param_refused),
        T(test_wrong_param_type_refused),
        T(test_param_types_checked_per_kind),
        T(test_int_beyond_int64_refused),
        T(test_extra_params_ignored),
        T(test_absent_params_accepted),
        T(test_array_params_refused),
        T(test_unknown_method_refused),
        T(test_app_error_round_trip),
        T(test_null_result_is_json_null),
        T(test_string_id_echoed),
        T(test_invalid_request_refused),
        T(test_pipelined_requests_answered_in_order),
        T(test_version_answers_start_string),
        T(test_log_set_changes_module_level),
        T(test_log_set_unknown_level_refused),
        T(test_counters_show_counts_calls_and_errors),
        T(test_notification_gets_no_response),
        T(test_garbage_line_gets_parse_error_and_closes),
        T(test_trailing_bytes_after_object_are_parse_error),
        T(test_oversized_line_refused),
        T(test_client_disconnect_mid_request_is_harmless),
        T(test_call_times_out_then_reconnects),
        T(test_long_poll_does_not_block_other_connections),
        T(test_server_restart_reconnects_transparently),
        T(test_call_without_server_is_refused),
        T(test_call_to_dead_socket_is_refused),
        T(test_eof_on_reused_connection_retries_once),
        T(test_eof_on_fresh_connection_not_retried),
        T(test_answer_with_wrong_id_refused),
        T(test_socket_is_private),
        T(test_start_replaces_stale_socket),
        T(test_start_refuses_live_socket),
        T(test_start_refuses_table_shadowing_builtin),
        T(test_stop_while_handler_blocks_returns),
        T(test_concurrent_clients_all_answered),
        T(test_error_new_formats_message),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
