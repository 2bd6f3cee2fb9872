/* JSON-RPC 2.0 over Unix stream sockets (see jsonrpc.h), both ends. The
 * server is one accept thread and one thread per connection: a handler may
 * block as long as it likes without holding up anyone else, and stopping
 * needs no event loop, only shutdown() on every socket so that blocked
 * reads and writes return. Requests are newline-framed and parsed by json-c
 * in strict mode with UTF-8 validated; a line that cannot be parsed closes
 * the connection, since nothing after it can be trusted to be framed
 * right. Built-in methods and the caller's table go through the same
 * parameter check, and every known method has a pair of atomic counters.
 * The client is deliberately simple: one blocking call at a time on one
 * connection, a deadline applied with poll() to every wait, and a single
 * reconnect when the server went away between calls. */
#include "jsonrpc.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <math.h>
#include <poll.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <sys/un.h>
#include <unistd.h>

#include "cleanup.h"
#include "log.h"
#include "strbuf.h"
#include "util.h"

LOG_MODULE("jsonrpc");

/* How much one read asks for: big enough that a large request takes few
 * system calls, small enough to be a harmless overshoot of the limit. */
#define READ_CHUNK (64 * 1024)
/* A connection's read buffer above this size is given back once it is
 * empty, so one large request does not pin 16 MiB for the connection's
 * lifetime. */
#define BUFFER_KEEP (256 * 1024)
/* How long the accept thread backs off when out of descriptors, rather
 * than spinning on a listening socket that stays readable. */
#define ACCEPT_BACKOFF_MS 100

DEFINE_CLEANUP_FUNC(json_object, json_object_put)

/* ---- Errors ---- */

struct jsonrpc_error *jsonrpc_error_new(int code, const char *fmt, ...)
{
    struct jsonrpc_error *e = xcalloc(1, sizeof(*e));
    struct strbuf sb;
    va_list ap;

    strbuf_init(&sb, 0);
    va_start(ap, fmt);
    strbuf_vaddf(&sb, fmt, ap);
    va_end(ap);
    e->code = code;
    e->message = strbuf_detach(&sb, NULL);
    return e;
}

struct jsonrpc_error *jsonrpc_app_error_(const char *app_code, ...)
{
    struct jsonrpc_error *e = xcalloc(1, sizeof(*e));
    va_list ap;
    size_t n = 0;

    va_start(ap, app_code);
    while (va_arg(ap, const char *))
        n++;
    va_end(ap);

    e->code = JSONRPC_APP_ERROR;
    /* The code is the message too: it is what a human reading a log of the
     * answer needs first, and the parameters are in data. */
    e->message = xstrdup(app_code);
    e->app_code = xstrdup(app_code);
    e->app_params = xcalloc(n, sizeof(char *));
    e->n_app_params = n;
    va_start(ap, app_code);
    for (size_t i = 0; i < n; i++)
        e->app_params[i] = xstrdup(va_arg(ap, const char *));
    va_end(ap);
    return e;
}

void jsonrpc_error_free(struct jsonrpc_error *e)
{
    if (!e)
        return;
    for (size_t i = 0; i < e->n_app_params; i++)
        free(e->app_params[i]);
    free(e->app_params);
    free(e->app_code);
    free(e->message);
    free(e);
}

/* ---- Helpers shared by both ends ---- */

/* Milliseconds left until deadline (CLOCK_MONOTONIC seconds) for poll():
 * -1 for no deadline, rounded up so a wait never ends just short of it. */
static int remaining_ms(double deadline)
{
    if (isinf(deadline))
        return -1;
    double left = ceil((deadline - now_monotonic()) * 1000.0);
    if (left <= 0)
        return 0;
    return left > INT_MAX ? INT_MAX : (int)left;
}

/* Waits until fd is ready for events or deadline passes (-ETIMEDOUT). A
 * socket in error counts as ready: the next call on it reports the error. */
static int wait_fd(int fd, short events, double deadline)
{
    for (;;) {
        struct pollfd p = {.fd = fd, .events = events};
        int r = poll(&p, 1, remaining_ms(deadline));
        if (r > 0)
            return 0;
        if (r == 0)
            return -ETIMEDOUT;
        if (errno != EINTR)
            return -errno;
    }
}

/* Sends the iovecs completely. MSG_NOSIGNAL turns a vanished peer into
 * EPIPE instead of a SIGPIPE that would kill the process, and
 * MSG_DONTWAIT with poll() lets a client's deadline cover a peer that
 * stops reading. Consumes iov. */
static int send_all(int fd, struct iovec *iov, size_t n, double deadline)
{
    while (n > 0) {
        struct msghdr m = {.msg_iov = iov, .msg_iovlen = n};
        ssize_t k = sendmsg(fd, &m, MSG_NOSIGNAL | MSG_DONTWAIT);
        if (k < 0) {
            if (errno == EINTR)
                continue;
            if (errno != EAGAIN && errno != EWOULDBLOCK)
                return -errno;
            int r = wait_fd(fd, POLLOUT, deadline);
            if (r < 0)
                return r;
            continue;
        }
        size_t done = (size_t)k;
        while (n > 0 && done >= iov->iov_len) {
            done -= iov->iov_len;
            iov++;
            n--;
        }
        if (n > 0) {
            iov->iov_base = (char *)iov->iov_base + done;
            iov->iov_len -= done;
        }
    }
    return 0;
}

static int send_line(int fd, const char *text, size_t len, double deadline)
{
    struct iovec iov[2] = {{.iov_base = (void *)text, .iov_len = len},
                           {.iov_base = (void *)"\n", .iov_len = 1}};
    return send_all(fd, iov, ELEMENTSOF(iov), deadline);
}

static bool is_json_ws(char c)
{
    return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

/* Parses one line as a JSON object. Returns it, or NULL with *why set. */
static json_object *parse_line(json_tokener *tok, const char *line, size_t len, const char **why)
{
    /* A raw NUL is never valid JSON, and json-c would stop at it quietly. */
    if (memchr(line, '\0', len)) {
        *why = "NUL byte in the message";
        return NULL;
    }
    json_tokener_reset(tok);
    json_object *root = json_tokener_parse_ex(tok, line, (int)len);
    enum json_tokener_error err = json_tokener_get_error(tok);
    if (err != json_tokener_success) {
        *why = err == json_tokener_continue ? "truncated JSON" : json_tokener_error_desc(err);
        json_object_put(root);
        return NULL;
    }
    size_t end = json_tokener_get_parse_end(tok);
    while (end < len && is_json_ws(line[end]))
        end++;
    if (end != len) {
        *why = "trailing bytes after the JSON value";
        json_object_put(root);
        return NULL;
    }
    if (!json_object_is_type(root, json_type_object)) {
        *why = "the message is not a JSON object";
        json_object_put(root);
        return NULL;
    }
    return root;
}

static json_tokener *tokener_new(void)
{
    json_tokener *tok = json_tokener_new_ex(JSON_TOKENER_DEFAULT_DEPTH);
    if (!tok) {
        fputs("out of memory\n", stderr);
        abort();
    }
    json_tokener_set_flags(tok, JSON_TOKENER_STRICT | JSON_TOKENER_VALIDATE_UTF8);
    return tok;
}

static int sockaddr_from_path(const char *path, struct sockaddr_un *sa)
{
    *sa = (struct sockaddr_un){.sun_family = AF_UNIX};
    if (strlen(path) >= sizeof(sa->sun_path))
        return -ENAMETOOLONG;
    strcpy(sa->sun_path, path);
    return 0;
}

/* ---- Server ---- */

struct conn {
    struct jsonrpc_server *server;
    pthread_t thread;
    int fd;    /* -1 once the thread has closed it; under server->lock */
    bool done; /* the thread has finished and can be joined; under lock */
    struct conn *next;
};

struct counter {
    atomic_ulong calls;
    atomic_ulong errors;
};

struct jsonrpc_server {
    char *path;
    dev_t sock_dev; /* the socket file we bound, so stop unlinks only it */
    ino_t sock_ino;
    char *version;
    const struct jsonrpc_method *methods;
    size_t n_methods;
    void *userdata;
    int listen_fd;
    int wake[2]; /* a pipe: a byte wakes the accept thread */
    pthread_t accept_thread;
    atomic_bool stopping;
    pthread_mutex_t lock;
    struct conn *conns;       /* under lock */
    struct counter *counters; /* built-ins first, then the table */
};

bool jsonrpc_server_stopping(const struct jsonrpc_server *s)
{
    return atomic_load(&s->stopping);
}

/* The built-in methods return their result, or NULL with *ret_error set to
 * an error object; unlike table handlers they can attach error data. */
struct builtin {
    const char *name;
    json_object *(*fn)(struct jsonrpc_server *s, json_object *params, json_object **ret_error);
    const struct jsonrpc_param *params;
};

static json_object *make_error(int code, const char *message, json_object *data)
{
    json_object *e = json_object_new_object();
    json_object_object_add(e, "code", json_object_new_int(code));
    json_object_object_add(e, "message", json_object_new_string(message));
    if (data)
        json_object_object_add(e, "data", data);
    return e;
}

static json_object *param_error(const char *name, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static json_object *param_error(const char *name, const char *fmt, ...)
{
    struct strbuf sb;
    va_list ap;

    strbuf_init(&sb, 0);
    va_start(ap, fmt);
    strbuf_vaddf(&sb, fmt, ap);
    va_end(ap);
    json_object *data = json_object_new_object();
    json_object_object_add(data, "param", json_object_new_string(name));
    json_object *e = make_error(JSONRPC_INVALID_PARAMS, sb.buf, data);
    strbuf_done(&sb);
    return e;
}

static json_object *builtin_version(struct jsonrpc_server *s, json_object *params,
                                    json_object **ret_error)
{
    (void)params;
    (void)ret_error;
    json_object *r = json_object_new_object();
    json_object_object_add(r, "version", json_object_new_string(s->version));
    return r;
}

static json_object *builtin_log_set(struct jsonrpc_server *s, json_object *params,
                                    json_object **ret_error)
{
    (void)s;
    json_object *module, *level;
    json_object_object_get_ex(params, "module", &module);
    json_object_object_get_ex(params, "level", &level);
    const char *m = json_object_get_string(module), *l = json_object_get_string(level);
    if (log_set_level(m, l) < 0) {
        *ret_error = param_error("level", "Invalid params: unknown log level '%s'", l);
        return NULL;
    }
    log_info("Log level of %s set to %s", m, l);
    return json_object_new_object();
}

static json_object *builtin_counters_show(struct jsonrpc_server *s, json_object *params,
                                          json_object **ret_error);

static const struct jsonrpc_param no_params[] = {{.name = NULL}};
static const struct jsonrpc_param log_set_params[] = {
    {"module", JP_STRING, true},
    {"level", JP_STRING, true},
    {.name = NULL},
};

static const struct builtin builtins[] = {
    {"version", builtin_version, no_params},
    {"log/set", builtin_log_set, log_set_params},
    {"counters/show", builtin_counters_show, no_params},
};
#define N_BUILTINS ELEMENTSOF(builtins)

static const char *method_name(const struct jsonrpc_server *s, size_t i)
{
    return i < N_BUILTINS ? builtins[i].name : s->methods[i - N_BUILTINS].name;
}

static json_object *builtin_counters_show(struct jsonrpc_server *s, json_object *params,
                                          json_object **ret_error)
{
    (void)params;
    (void)ret_error;
    json_object *r = json_object_new_object();
    for (size_t i = 0; i < N_BUILTINS + s->n_methods; i++) {
        json_object *c = json_object_new_object();
        json_object_object_add(c, "calls",
                               json_object_new_int64((int64_t)atomic_load(&s->counters[i].calls)));
        json_object_object_add(c, "errors",
                               json_object_new_int64((int64_t)atomic_load(&s->counters[i].errors)));
        json_object_object_add(r, method_name(s, i), c);
    }
    return r;
}

/* The index of the method called name (len bytes, which may hold a NUL a
 * JSON string can carry), built-ins first; -1 if there is none. */
static ssize_t find_method(const struct jsonrpc_server *s, const char *name, size_t len)
{
    if (strlen(name) != len)
        return -1;
    for (size_t i = 0; i < N_BUILTINS + s->n_methods; i++)
        if (streq(method_name(s, i), name))
            return (ssize_t)i;
    return -1;
}

static const char *ptype_name(enum jsonrpc_ptype t)
{
    switch (t) {
    case JP_STRING:
        return "a string";
    case JP_INT:
        return "an integer";
    case JP_NUMBER:
        return "a number";
    case JP_BOOL:
        return "a boolean";
    case JP_OBJECT:
        return "an object";
    case JP_ARRAY:
        return "an array";
    case JP_ANY:
        break;
    }
    return "any value";
}

/* json-c clamps integers beyond int64 silently (to INT64_MIN below, and
 * holds those above INT64_MAX as uint64, which json_object_get_int64
 * clamps), so a handler reading one would act on a number nobody sent.
 * Such integers are refused; INT64_MIN goes with them, since it cannot be
 * told apart from a clamped value. */
static bool int_in_range(json_object *v)
{
    int64_t i = json_object_get_int64(v);
    if (i == INT64_MIN)
        return false;
    return i != INT64_MAX || json_object_get_uint64(v) == (uint64_t)INT64_MAX;
}

static bool ptype_matches(json_object *v, enum jsonrpc_ptype t)
{
    switch (t) {
    case JP_STRING:
        return json_object_is_type(v, json_type_string);
    case JP_INT:
        return json_object_is_type(v, json_type_int) && int_in_range(v);
    case JP_NUMBER:
        if (json_object_is_type(v, json_type_int))
            return int_in_range(v);
        return json_object_is_type(v, json_type_double) && isfinite(json_object_get_double(v));
    case JP_BOOL:
        return json_object_is_type(v, json_type_boolean);
    case JP_OBJECT:
        return json_object_is_type(v, json_type_object);
    case JP_ARRAY:
        return json_object_is_type(v, json_type_array);
    case JP_ANY:
        return true;
    }
    return false;
}

/* Checks params (an object) against the table; NULL if they fit. JSON null
 * is a value like any other: it fits JP_ANY only, so a handler never finds
 * a null where the table promised a type. */
static json_object *check_params(const struct jsonrpc_param *table, json_object *params)
{
    for (const struct jsonrpc_param *p = table; p && p->name; p++) {
        json_object *v;
        if (!json_object_object_get_ex(params, p->name, &v)) {
            if (p->required)
                return param_error(p->name, "Invalid params: missing parameter '%s'", p->name);
            continue;
        }
        if (!ptype_matches(v, p->type))
            return param_error(p->name, "Invalid params: parameter '%s' must be %s", p->name,
                               ptype_name(p->type));
    }
    return NULL;
}

static json_object *error_to_json(const struct jsonrpc_error *e)
{
    json_object *data = NULL;
    if (e->app_code) {
        json_object *list = json_object_new_array_ext((int)e->n_app_params);
        for (size_t i = 0; i < e->n_app_params; i++)
            json_object_array_add(list, json_object_new_string(e->app_params[i]));
        data = json_object_new_object();
        json_object_object_add(data, "error", json_object_new_string(e->app_code));
        json_object_object_add(data, "params", list);
    }
    return make_error(e->code, e->message ? e->message : "", data);
}

/* Runs method i on params (NULL if the request had none). Returns NULL and
 * the result (owned, NULL for JSON null), or an error object. */
static json_object *call_method(struct jsonrpc_server *s, size_t i, json_object *params,
                                json_object **ret_result)
{
    _cleanup_(json_object_putp) json_object *empty = NULL;
    const struct jsonrpc_param *table =
        i < N_BUILTINS ? builtins[i].params : s->methods[i - N_BUILTINS].params;
    json_object *error = NULL;

    if (!params)
        params = empty = json_object_new_object();
    else if (json_object_is_type(params, json_type_array))
        return make_error(JSONRPC_INVALID_PARAMS,
                          "Invalid params: parameters are passed by name, in an object", NULL);
    error = check_params(table, params);
    if (error)
        return error;

    if (i < N_BUILTINS) {
        *ret_result = builtins[i].fn(s, params, &error);
        return error;
    }

    json_object *result = NULL;
    struct jsonrpc_error *e = s->methods[i - N_BUILTINS].fn(params, &result, s->userdata);
    if (e) {
        /* A handler that set a result and then failed would leak it. */
        json_object_put(result);
        error = error_to_json(e);
        jsonrpc_error_free(e);
        return error;
    }
    *ret_result = result;
    return NULL;
}

/* Takes id (borrowed; NULL for JSON null) and error or result (owned). */
static json_object *response_new(json_object *id, json_object *error, json_object *result)
{
    json_object *r = json_object_new_object();
    json_object_object_add(r, "jsonrpc", json_object_new_string("2.0"));
    json_object_object_add(r, "id", json_object_get(id));
    if (error)
        json_object_object_add(r, "error", error);
    else
        json_object_object_add(r, "result", result);
    return r;
}

static bool id_is_valid(json_object *id)
{
    return json_object_is_type(id, json_type_string) || json_object_is_type(id, json_type_int);
}

/* Serves one request. Returns the response to send, or NULL for a
 * notification. */
static json_object *dispatch(struct jsonrpc_server *s, json_object *req)
{
    json_object *id = NULL, *v, *params = NULL;
    bool has_id = json_object_object_get_ex(req, "id", &id);

    /* An id that cannot be echoed is answered with a null one, as
     * JSON-RPC 2.0 says for requests whose id cannot be made out. */
    if (has_id && !id_is_valid(id))
        return response_new(NULL,
                            make_error(JSONRPC_INVALID_REQUEST,
                                       "Invalid request: id must be a string or an integer", NULL),
                            NULL);
    if (!json_object_object_get_ex(req, "jsonrpc", &v) ||
        !json_object_is_type(v, json_type_string) || !streq(json_object_get_string(v), "2.0"))
        return response_new(
            id,
            make_error(JSONRPC_INVALID_REQUEST, "Invalid request: jsonrpc must be \"2.0\"", NULL),
            NULL);
    if (!json_object_object_get_ex(req, "method", &v) || !json_object_is_type(v, json_type_string))
        return response_new(
            id,
            make_error(JSONRPC_INVALID_REQUEST, "Invalid request: method must be a string", NULL),
            NULL);
    const char *name = json_object_get_string(v);
    size_t name_len = (size_t)json_object_get_string_len(v);
    if (json_object_object_get_ex(req, "params", &params) &&
        !json_object_is_type(params, json_type_object) &&
        !json_object_is_type(params, json_type_array))
        return response_new(
            id,
            make_error(JSONRPC_INVALID_REQUEST, "Invalid request: params must be an object", NULL),
            NULL);

    /* From here on the lines logged for this request carry its id. */
    char id_text[65] = "";
    if (has_id) {
        snprintf(id_text, sizeof(id_text), "%s", json_object_get_string(id));
        log_set_request_id(id_text);
    }

    json_object *result = NULL, *error;
    ssize_t i = find_method(s, name, name_len);
    if (i < 0) {
        struct strbuf sb;
        strbuf_init(&sb, 0);
        strbuf_adds(&sb, "Method not found: ");
        strbuf_add(&sb, name, strlen(name));
        error = make_error(JSONRPC_METHOD_NOT_FOUND, sb.buf, NULL);
        strbuf_done(&sb);
        log_debug("Unknown method %.64s", name);
    } else {
        log_debug("%s%s", name, has_id ? "" : " (notification)");
        atomic_fetch_add(&s->counters[i].calls, 1);
        error = call_method(s, (size_t)i, params, &result);
        if (error)
            atomic_fetch_add(&s->counters[i].errors, 1);
    }
    log_set_request_id(NULL);

    if (!has_id) {
        json_object_put(error);
        json_object_put(result);
        return NULL;
    }
    return response_new(id, error, result);
}

/* Sends resp (owned). Returns 0 or a negative errno. */
static int send_response(int fd, json_object *resp)
{
    _cleanup_(json_object_putp) json_object *r = resp;
    size_t len;
    const char *text = json_object_to_json_string_length(
        r, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE, &len);

    if (len > JSONRPC_MAX_MESSAGE) {
        /* The client would refuse it anyway; tell it why instead. */
        json_object *id = NULL;
        json_object_object_get_ex(r, "id", &id);
        log_warning("Response of %zu bytes is over the limit", len);
        json_object *small = response_new(
            id, make_error(JSONRPC_INTERNAL_ERROR, "Internal error: response too large", NULL),
            NULL);
        json_object_put(r);
        r = small;
        text = json_object_to_json_string_length(
            r, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE, &len);
    }
    return send_line(fd, text, len, INFINITY);
}

/* Answers a line that is not a request we can read; the caller then closes
 * the connection. */
static void send_parse_error(int fd, const char *why)
{
    char message[256];
    snprintf(message, sizeof(message), "Parse error: %s", why);
    log_warning("Refusing a message: %s", why);
    (void)send_response(fd,
                        response_new(NULL, make_error(JSONRPC_PARSE_ERROR, message, NULL), NULL));
}

/* Handles one line. Returns false when the connection must be closed. */
static bool handle_line(struct jsonrpc_server *s, int fd, json_tokener *tok, const char *line,
                        size_t len)
{
    const char *why = NULL;
    size_t k = 0;

    /* Blank lines (a "\r\n" from a terminal, say) frame nothing; skip them. */
    while (k < len && is_json_ws(line[k]))
        k++;
    if (k == len)
        return true;
    if (len > JSONRPC_MAX_MESSAGE) {
        send_parse_error(fd, "message too large");
        return false;
    }
    _cleanup_(json_object_putp) json_object *req = parse_line(tok, line, len, &why);
    if (!req) {
        send_parse_error(fd, why);
        return false;
    }
    json_object *resp = dispatch(s, req);
    if (!resp)
        return true;
    int r = send_response(fd, resp);
    if (r < 0) {
        log_full(LOG_DEBUG, r, "Client went away before its answer: %m");
        return false;
    }
    return true;
}

/* Reads and serves lines on fd until EOF, an error or a parse error. The
 * buffer holds at most one unfinished line of JSONRPC_MAX_MESSAGE bytes
 * plus one read, whatever the client sends. */
static void serve_connection(struct jsonrpc_server *s, int fd)
{
    json_tokener *tok = tokener_new();
    char *buf = NULL;
    size_t alloc = 0, start = 0, len = 0, scanned = 0;

    for (;;) {
        char *nl = len > scanned ? memchr(buf + scanned, '\n', len - scanned) : NULL;
        if (nl) {
            size_t end = (size_t)(nl - buf);
            if (!handle_line(s, fd, tok, buf + start, end - start))
                break;
            start = scanned = end + 1;
            if (start == len) {
                start = scanned = len = 0;
                if (alloc > BUFFER_KEEP) {
                    free(buf);
                    buf = NULL;
                    alloc = 0;
                }
            }
            continue;
        }
        scanned = len;
        if (len - start > JSONRPC_MAX_MESSAGE) {
            send_parse_error(fd, "message too large");
            break;
        }
        if (start > 0) {
            memmove(buf, buf + start, len - start);
            len -= start;
            scanned = len;
            start = 0;
        }
        if (alloc - len < READ_CHUNK) {
            size_t n = alloc * 2 > len + READ_CHUNK ? alloc * 2 : len + READ_CHUNK;
            if (n > JSONRPC_MAX_MESSAGE + 1 + READ_CHUNK)
                n = JSONRPC_MAX_MESSAGE + 1 + READ_CHUNK;
            buf = xrealloc(buf, n);
            alloc = n;
        }
        ssize_t k = recv(fd, buf + len, alloc - len, 0);
        if (k < 0 && errno == EINTR)
            continue;
        if (k < 0) {
            log_full(LOG_DEBUG, -errno, "Read failed: %m");
            break;
        }
        if (k == 0) {
            if (len > start)
                log_debug("Client closed the connection in the middle of a request");
            break;
        }
        len += (size_t)k;
    }
    free(buf);
    json_tokener_free(tok);
}

static void wake_accept_thread(struct jsonrpc_server *s)
{
    /* The pipe is non-blocking: if it is full, the thread is awake anyway. */
    ssize_t k = write(s->wake[1], "", 1);
    (void)k;
}

static void *conn_thread(void *arg)
{
    struct conn *c = arg;
    struct jsonrpc_server *s = c->server;

    serve_connection(s, c->fd);
    /* Closed under the lock so that stop never shuts down a descriptor
     * number that has been reused for something else. */
    pthread_mutex_lock(&s->lock);
    close(c->fd);
    c->fd = -1;
    c->done = true;
    pthread_mutex_unlock(&s->lock);
    wake_accept_thread(s); /* so it joins this thread now */
    return NULL;
}

/* Joins the connection threads that have finished. */
static void reap_connections(struct jsonrpc_server *s)
{
    struct conn *finished = NULL;

    pthread_mutex_lock(&s->lock);
    for (struct conn **p = &s->conns; *p;) {
        struct conn *c = *p;
        if (c->done) {
            *p = c->next;
            c->next = finished;
            finished = c;
        } else
            p = &c->next;
    }
    pthread_mutex_unlock(&s->lock);
    while (finished) {
        struct conn *c = finished;
        finished = c->next;
        pthread_join(c->thread, NULL);
        free(c);
    }
}

static void start_connection(struct jsonrpc_server *s, int fd)
{
    struct conn *c = xcalloc(1, sizeof(*c));
    c->server = s;
    c->fd = fd;
    int r = pthread_create(&c->thread, NULL, conn_thread, c);
    if (r != 0) {
        log_warning_errno(-r, "Cannot start a thread for a new connection: %m");
        close(fd);
        free(c);
        return;
    }
    pthread_mutex_lock(&s->lock);
    c->next = s->conns;
    s->conns = c;
    pthread_mutex_unlock(&s->lock);
}

static void *accept_thread(void *arg)
{
    struct jsonrpc_server *s = arg;

    while (!atomic_load(&s->stopping)) {
        struct pollfd p[2] = {{.fd = s->listen_fd, .events = POLLIN},
                              {.fd = s->wake[0], .events = POLLIN}};
        if (poll(p, 2, -1) < 0) {
            if (errno == EINTR)
                continue;
            log_error_errno(-errno, "Waiting for connections failed: %m");
            break;
        }
        if (p[1].revents) {
            char drain[64];
            while (read(s->wake[0], drain, sizeof(drain)) > 0)
                ;
            reap_connections(s);
            continue;
        }
        if (!p[0].revents)
            continue;
        int fd = accept4(s->listen_fd, NULL, NULL, SOCK_CLOEXEC);
        if (fd < 0) {
            if (errno == EINTR || errno == EAGAIN || errno == EWOULDBLOCK || errno == ECONNABORTED)
                continue;
            if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM) {
                log_warning_errno(-errno, "Cannot accept a connection: %m");
                struct pollfd w = {.fd = s->wake[0], .events = POLLIN};
                (void)poll(&w, 1, ACCEPT_BACKOFF_MS);
                continue;
            }
            if (!atomic_load(&s->stopping))
                log_error_errno(-errno, "Accepting connections failed: %m");
            break;
        }
        start_connection(s, fd);
    }
    return NULL;
}

/* Makes room at path: nothing there is fine; a socket nobody listens on is
 * a leftover of a server that died, and goes; a live server's socket or
 * anything that is not a socket stays, and is an error. */
static int remove_stale_socket(const char *path, const struct sockaddr_un *sa)
{
    struct stat st;

    if (lstat(path, &st) < 0)
        return errno == ENOENT ? 0 : -errno;
    if (!S_ISSOCK(st.st_mode))
        return -EEXIST;
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (fd < 0)
        return -errno;
    int r = connect(fd, (const struct sockaddr *)sa, sizeof(*sa));
    int e = errno;
    close(fd);
    if (r == 0 || e == EAGAIN)
        return -EADDRINUSE; /* a backlog that is full is live too */
    if (e != ECONNREFUSED)
        return -e;
    if (unlink(path) < 0 && errno != ENOENT)
        return -errno;
    return 0;
}

int jsonrpc_remove_stale_socket(const char *path)
{
    struct sockaddr_un sa;
    int r = sockaddr_from_path(path, &sa);
    return r < 0 ? r : remove_stale_socket(path, &sa);
}

static int validate_table(const struct jsonrpc_method *methods, size_t *ret_n)
{
    size_t n = 0;
    /* No table at all is a server of the built-ins alone. */
    for (; methods && methods[n].name; n++) {
        if (!methods[n].fn)
            return -EINVAL;
        for (size_t b = 0; b < N_BUILTINS; b++)
            if (streq(methods[n].name, builtins[b].name))
                return -EINVAL;
        for (size_t j = 0; j < n; j++)
            if (streq(methods[n].name, methods[j].name))
                return -EINVAL;
    }
    *ret_n = n;
    return 0;
}

int jsonrpc_server_start(const char *path, const struct jsonrpc_method *methods,
                         const char *version, void *userdata, struct jsonrpc_server **ret)
{
    struct sockaddr_un sa;
    struct jsonrpc_server *s = NULL;
    struct stat st;
    size_t n_methods;
    int fd = -1, wake[2] = {-1, -1}, r;
    bool bound = false;

    r = sockaddr_from_path(path, &sa);
    if (r < 0)
        return r;
    r = validate_table(methods, &n_methods);
    if (r < 0)
        return r;
    r = remove_stale_socket(path, &sa);
    if (r < 0)
        return r;

    fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (fd < 0) {
        r = -errno;
        goto out;
    }
    if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
        r = -errno;
        goto out;
    }
    bound = true;
    /* Before listen(), so there is no moment when a connection could be
     * made through the umask's looser mode. */
    if (chmod(path, 0600) < 0 || lstat(path, &st) < 0) {
        r = -errno;
        goto out;
    }
    if (listen(fd, SOMAXCONN) < 0) {
        r = -errno;
        goto out;
    }
    if (pipe2(wake, O_CLOEXEC | O_NONBLOCK) < 0) {
        r = -errno;
        goto out;
    }

    s = xcalloc(1, sizeof(*s));
    s->path = xstrdup(path);
    s->sock_dev = st.st_dev;
    s->sock_ino = st.st_ino;
    s->version = xstrdup(version ? version : "");
    s->methods = methods;
    s->n_methods = n_methods;
    s->userdata = userdata;
    s->listen_fd = fd;
    s->wake[0] = wake[0];
    s->wake[1] = wake[1];
    atomic_init(&s->stopping, false);
    pthread_mutex_init(&s->lock, NULL);
    s->counters = xcalloc(N_BUILTINS + n_methods, sizeof(*s->counters));
    for (size_t i = 0; i < N_BUILTINS + n_methods; i++) {
        atomic_init(&s->counters[i].calls, 0);
        atomic_init(&s->counters[i].errors, 0);
    }

    /* *ret is set before any request can be served, so a handler may reach
     * the server through userdata (see jsonrpc_server_stopping). */
    struct jsonrpc_server *old = *ret;
    *ret = s;
    r = pthread_create(&s->accept_thread, NULL, accept_thread, s);
    if (r != 0) {
        *ret = old;
        r = -r;
        pthread_mutex_destroy(&s->lock);
        free(s->counters);
        free(s->version);
        free(s->path);
        free(s);
        goto out;
    }
    log_debug("Listening on %s", path);
    return 0;

out:
    if (wake[0] >= 0) {
        close(wake[0]);
        close(wake[1]);
    }
    if (fd >= 0)
        close(fd);
    if (bound)
        unlink(path);
    return r;
}

void jsonrpc_server_stop(struct jsonrpc_server *s)
{
    struct stat st;

    if (!s)
        return;
    atomic_store(&s->stopping, true);
    shutdown(s->listen_fd, SHUT_RDWR);
    wake_accept_thread(s);
    pthread_join(s->accept_thread, NULL);
    close(s->listen_fd);

    /* No connection can be added now. Shutting the sockets down returns
     * every blocked read and write; a handler that is blocking must notice
     * jsonrpc_server_stopping() by itself. */
    pthread_mutex_lock(&s->lock);
    for (struct conn *c = s->conns; c; c = c->next)
        if (c->fd >= 0)
            shutdown(c->fd, SHUT_RDWR);
    pthread_mutex_unlock(&s->lock);
    while (s->conns) {
        struct conn *c = s->conns;
        s->conns = c->next;
        pthread_join(c->thread, NULL);
        free(c);
    }

    /* A server started on the same path since then owns the file now. */
    if (lstat(s->path, &st) == 0 && st.st_dev == s->sock_dev && st.st_ino == s->sock_ino)
        unlink(s->path);
    log_debug("Stopped listening on %s", s->path);
    close(s->wake[0]);
    close(s->wake[1]);
    pthread_mutex_destroy(&s->lock);
    free(s->counters);
    free(s->version);
    free(s->path);
    free(s);
}

/* ---- Client ---- */

struct jsonrpc_client {
    char *path;
    int fd; /* -1 when not connected */
    int64_t next_id;
    json_tokener *tok;
};

struct jsonrpc_client *jsonrpc_client_new(const char *path)
{
    struct jsonrpc_client *c = xcalloc(1, sizeof(*c));
    c->path = xstrdup(path);
    c->fd = -1;
    c->next_id = 1;
    c->tok = tokener_new();
    return c;
}

static void client_disconnect(struct jsonrpc_client *c)
{
    if (c->fd >= 0) {
        close(c->fd);
        c->fd = -1;
    }
}

void jsonrpc_client_free(struct jsonrpc_client *c)
{
    if (!c)
        return;
    client_disconnect(c);
    json_tokener_free(c->tok);
    free(c->path);
    free(c);
}

static int client_connect(struct jsonrpc_client *c, double deadline)
{
    struct sockaddr_un sa;
    int r = sockaddr_from_path(c->path, &sa);
    if (r < 0)
        return r;
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -errno;
    /* A Unix connect blocks while the server's backlog is full, for as long
     * as the send timeout says: make that the call's deadline. */
    int ms = remaining_ms(deadline);
    if (ms >= 0) {
        struct timeval tv = {.tv_sec = ms / 1000, .tv_usec = (ms % 1000) * 1000};
        if (ms == 0)
            tv.tv_usec = 1; /* zero would mean no timeout */
        (void)setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
    }
    while (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
        if (errno == EINTR)
            continue;
        r = errno == EAGAIN || errno == EINPROGRESS ? -ETIMEDOUT : -errno;
        close(fd);
        /* No socket file means no server as much as a dead socket does. */
        return r == -ENOENT ? -ECONNREFUSED : r;
    }
    c->fd = fd;
    return 0;
}

/* Reads one line into sb. On -ECONNRESET (EOF or reset), *ret_got_bytes
 * says whether any of the answer had arrived. */
static int read_line(int fd, double deadline, struct strbuf *sb, size_t *ret_len,
                     bool *ret_got_bytes)
{
    size_t scanned = 0;

    for (;;) {
        char *nl = memchr(sb->buf + scanned, '\n', sb->len - scanned);
        if (nl) {
            *ret_len = (size_t)(nl - sb->buf);
            return 0;
        }
        scanned = sb->len;
        if (sb->len > JSONRPC_MAX_MESSAGE)
            return -EMSGSIZE;
        strbuf_grow(sb, READ_CHUNK);
        ssize_t k = recv(fd, sb->buf + sb->len, sb->alloc - sb->len - 1, MSG_DONTWAIT);
        if (k < 0) {
            if (errno == EINTR)
                continue;
            if (errno != EAGAIN && errno != EWOULDBLOCK)
                return -errno;
            int r = wait_fd(fd, POLLIN, deadline);
            if (r < 0)
                return r;
            continue;
        }
        if (k == 0)
            return -ECONNRESET;
        sb->len += (size_t)k;
        sb->buf[sb->len] = '\0';
        *ret_got_bytes = true;
    }
}

static struct jsonrpc_error *error_from_json(json_object *err)
{
    struct jsonrpc_error *e = xcalloc(1, sizeof(*e));
    json_object *v, *data;

    e->code = json_object_object_get_ex(err, "code", &v) && json_object_is_type(v, json_type_int)
                  ? json_object_get_int(v)
                  : JSONRPC_INTERNAL_ERROR;
    e->message = xstrdup(json_object_object_get_ex(err, "message", &v) &&
                                 json_object_is_type(v, json_type_string)
                             ? json_object_get_string(v)
                             : "");
    if (!json_object_object_get_ex(err, "data", &data) ||
        !json_object_is_type(data, json_type_object))
        return e;
    if (json_object_object_get_ex(data, "error", &v) && json_object_is_type(v, json_type_string))
        e->app_code = xstrdup(json_object_get_string(v));
    if (json_object_object_get_ex(data, "params", &v) && json_object_is_type(v, json_type_array)) {
        size_t n = json_object_array_length(v);
        e->app_params = xcalloc(n, sizeof(char *));
        e->n_app_params = n;
        for (size_t i = 0; i < n; i++) {
            /* Not a string is not expected; its JSON text beats losing it. */
            const char *p = json_object_get_string(json_object_array_get_idx(v, i));
            e->app_params[i] = xstrdup(p ? p : "null");
        }
    }
    return e;
}

/* Reads the answer to request id from resp. Returns 0 with the result,
 * -EPROTO with the error, or -EBADMSG for anything else. *ret_desync is set
 * when the connection cannot be trusted with the next call. */
static int decode_response(json_object *resp, int64_t id, json_object **ret_result,
                           struct jsonrpc_error **ret_error, bool *ret_desync)
{
    json_object *rid = NULL, *v;
    bool has_error =
        json_object_object_get_ex(resp, "error", &v) && json_object_is_type(v, json_type_object);

    if (!json_object_object_get_ex(resp, "id", &rid))
        return -EBADMSG;
    if (!rid) {
        /* The server could not read the request it answers; it closes the
         * connection after that, and so do we. */
        *ret_desync = true;
        if (!has_error)
            return -EBADMSG;
    } else if (!json_object_is_type(rid, json_type_int) || json_object_get_int64(rid) != id)
        return -EBADMSG;

    if (has_error) {
        struct jsonrpc_error *e = error_from_json(v);
        if (ret_error)
            *ret_error = e;
        else
            jsonrpc_error_free(e);
        return -EPROTO;
    }
    if (!json_object_object_get_ex(resp, "result", &v))
        return -EBADMSG;
    if (ret_result)
        *ret_result = json_object_get(v);
    return 0;
}

/* Decodes the answer line (line_len bytes of the len read) to request id,
 * and drops the connection if it cannot be trusted any more. */
static int handle_answer(struct jsonrpc_client *c, const char *buf, size_t line_len, size_t len,
                         int64_t id, json_object **ret_result, struct jsonrpc_error **ret_error)
{
    const char *why = NULL;
    bool desync = line_len + 1 != len; /* bytes after the answer */
    int r;

    _cleanup_(json_object_putp) json_object *resp = parse_line(c->tok, buf, line_len, &why);
    if (!resp) {
        log_debug("Unreadable answer from %s: %s", c->path, why);
        r = -EBADMSG;
        desync = true;
    } else {
        r = decode_response(resp, id, ret_result, ret_error, &desync);
        if (r == -EBADMSG)
            desync = true;
    }
    if (desync)
        client_disconnect(c);
    return r;
}

int jsonrpc_call(struct jsonrpc_client *c, const char *method, json_object *params,
                 double timeout_s, json_object **ret_result, struct jsonrpc_error **ret_error)
{
    double deadline = timeout_s > 0 ? now_monotonic() + timeout_s : INFINITY;
    int64_t id = c->next_id++;
    size_t len;
    int r;

    _cleanup_(json_object_putp) json_object *req = json_object_new_object();
    json_object_object_add(req, "jsonrpc", json_object_new_string("2.0"));
    json_object_object_add(req, "id", json_object_new_int64(id));
    json_object_object_add(req, "method", json_object_new_string(method));
    json_object_object_add(req, "params",
                           params ? json_object_get(params) : json_object_new_object());
    const char *text = json_object_to_json_string_length(
        req, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE, &len);
    if (len > JSONRPC_MAX_MESSAGE)
        return -EMSGSIZE;

    struct strbuf sb;
    size_t line_len = 0;
    strbuf_init(&sb, 0);
    for (int attempt = 0;; attempt++) {
        bool was_open = c->fd >= 0, got_bytes = false;
        if (!was_open) {
            r = client_connect(c, deadline);
            if (r < 0)
                goto out;
        }
        r = send_line(c->fd, text, len, deadline);
        if (r == 0)
            r = read_line(c->fd, deadline, &sb, &line_len, &got_bytes);
        if (r == 0)
            break;
        client_disconnect(c);
        /* A connection that was open before this call and broke before
         * any of the answer came back most likely met a server that
         * restarted in between: one fresh connection is worth a try. */
        if (attempt == 0 && was_open && !got_bytes &&
            (r == -EPIPE || r == -ECONNRESET || r == -ENOTCONN)) {
            log_debug("Connection to %s lost, reconnecting", c->path);
            strbuf_reset(&sb);
            continue;
        }
        goto out;
    }

    r = handle_answer(c, sb.buf, line_len, sb.len, id, ret_result, ret_error);
out:
    strbuf_done(&sb);
    return r;
}
