/* The OVSDB client of networkd (see ovsdb.h). Each message is written
 * whole; what is read goes through one json_tokener that keeps partial
 * values between reads, so several values in one read or one value over
 * several reads both work. */
#include "networkd/ovsdb.h"

#include <errno.h>
#include <limits.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "lib/cleanup.h"
#include "lib/log.h"
#include "lib/strbuf.h"
#include "lib/util.h"
#include "networkd/jsonutil.h"

LOG_MODULE("ovsdb");

struct ovsdb {
    int fd;
    json_tokener *tok;
    int64_t next_id;
    ovsdb_update_fn update_fn;
    void *update_ud;
    /* Values parsed but not yet taken by the caller waiting for them. */
    json_object **queue;
    size_t n_queue, alloc_queue;
};

static int remaining_ms(double deadline)
{
    double left = deadline - now_monotonic();
    if (left <= 0)
        return 0;
    return left > 1e6 ? 1000000000 : (int)(left * 1000) + 1;
}

int ovsdb_connect(const char *remote, double timeout_s, struct ovsdb **ret)
{
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    const char *path = remote;
    int fd, r;

    if (strncmp(remote, "unix:", 5) == 0)
        path = remote + 5;
    else if (strchr(remote, ':'))
        return -EINVAL;
    if (strlen(path) >= sizeof(sa.sun_path))
        return -ENAMETOOLONG;
    strcpy(sa.sun_path, path);
    fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (fd < 0)
        return -errno;
    r = connect(fd, (struct sockaddr *)&sa, sizeof(sa));
    if (r < 0 && errno == EINPROGRESS) {
        struct pollfd p = {.fd = fd, .events = POLLOUT};
        int err = 0;
        socklen_t len = sizeof(err);
        r = poll(&p, 1, (int)(timeout_s * 1000));
        if (r == 0) {
            close(fd);
            return -ETIMEDOUT;
        }
        if (r > 0 && getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) == 0 && err == 0)
            r = 0;
        else {
            close(fd);
            return err ? -err : -ECONNREFUSED;
        }
    } else if (r < 0) {
        r = -errno;
        close(fd);
        return r;
    }
    *ret = ovsdb_new(fd);
    return 0;
}

struct ovsdb *ovsdb_new(int fd)
{
    struct ovsdb *db = xcalloc(1, sizeof(*db));
    db->fd = fd;
    /* OVSDB's messages nest a dozen levels; 64 leaves room. */
    db->tok = json_tokener_new_ex(64);
    db->next_id = 1;
    return db;
}

void ovsdb_free(struct ovsdb *db)
{
    if (!db)
        return;
    close(db->fd);
    json_tokener_free(db->tok);
    for (size_t i = 0; i < db->n_queue; i++)
        json_object_put(db->queue[i]);
    free(db->queue);
    free(db);
}

void ovsdb_set_update_cb(struct ovsdb *db, ovsdb_update_fn fn, void *userdata)
{
    db->update_fn = fn;
    db->update_ud = userdata;
}

int ovsdb_fd(const struct ovsdb *db)
{
    return db->fd;
}

static int send_json(struct ovsdb *db, json_object *msg, double deadline)
{
    size_t len;
    const char *text = json_object_to_json_string_length(msg, JSON_C_TO_STRING_PLAIN, &len);
    size_t off = 0;

    while (off < len) {
        ssize_t n = send(db->fd, text + off, len - off, MSG_NOSIGNAL);
        if (n > 0) {
            off += (size_t)n;
            continue;
        }
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && errno == EAGAIN) {
            struct pollfd p = {.fd = db->fd, .events = POLLOUT};
            int ms = remaining_ms(deadline);
            if (ms == 0 || poll(&p, 1, ms) == 0)
                return -ETIMEDOUT;
            continue;
        }
        return -ECONNRESET;
    }
    return 0;
}

/* Answers echo requests and hands notifications on; keeps replies. */
static void dispatch(struct ovsdb *db, json_object *msg)
{
    json_object *method = NULL, *id = NULL, *params = NULL;

    json_object_object_get_ex(msg, "method", &method);
    json_object_object_get_ex(msg, "id", &id);
    json_object_object_get_ex(msg, "params", &params);
    if (method && json_object_is_type(method, json_type_string)) {
        const char *m = json_object_get_string(method);
        if (streq(m, "echo") && id) {
            json_object *reply = json_object_new_object();
            json_object_object_add(reply, "id", json_object_get(id));
            json_object_object_add(reply, "result", json_object_get(params));
            json_object_object_add(reply, "error", NULL);
            send_json(db, reply, now_monotonic() + 1);
            json_object_put(reply);
        } else if (streq(m, "update") && db->update_fn) {
            db->update_fn(params, db->update_ud);
        }
        json_object_put(msg);
        return;
    }
    /* Calls are synchronous: a reply to anything but a call made is
     * noise, and keeping it would let a confused server grow the queue. */
    if (!id || !json_object_is_type(id, json_type_int) || json_object_get_int64(id) < 1 ||
        json_object_get_int64(id) >= db->next_id) {
        log_debug("dropping a reply to no call of ours");
        json_object_put(msg);
        return;
    }
    if (db->n_queue == db->alloc_queue) {
        db->alloc_queue = db->alloc_queue ? 2 * db->alloc_queue : 4;
        db->queue = xrealloc(db->queue, db->alloc_queue * sizeof(*db->queue));
    }
    db->queue[db->n_queue++] = msg;
}

int ovsdb_feed(struct ovsdb *db, const char *buf, size_t len)
{
    size_t off = 0;
    while (off < len) {
        size_t chunk = len - off > INT_MAX ? INT_MAX : len - off;
        json_object *v = json_tokener_parse_ex(db->tok, buf + off, (int)chunk);
        enum json_tokener_error e = json_tokener_get_error(db->tok);
        if (e == json_tokener_continue) {
            off += chunk;
            continue;
        }
        if (e != json_tokener_success || !v) {
            json_object_put(v);
            log_warning("garbage from ovsdb-server: %s", json_tokener_error_desc(e));
            return -EBADMSG;
        }
        off += json_tokener_get_parse_end(db->tok);
        json_tokener_reset(db->tok);
        if (!json_object_is_type(v, json_type_object)) {
            json_object_put(v);
            log_warning("ovsdb-server sent a JSON value that is not an object");
            return -EBADMSG;
        }
        dispatch(db, v);
    }
    return 0;
}

/* Reads what is there (waiting at most ms for the first byte) and
 * dispatches every whole value. */
static int read_some(struct ovsdb *db, int ms)
{
    char buf[65536];
    struct pollfd p = {.fd = db->fd, .events = POLLIN};
    int r = poll(&p, 1, ms);

    if (r < 0)
        return errno == EINTR ? 0 : -errno;
    if (r == 0)
        return 0;
    ssize_t n = recv(db->fd, buf, sizeof(buf), 0);
    if (n < 0)
        return errno == EAGAIN || errno == EINTR ? 0 : -ECONNRESET;
    if (n == 0)
        return -ECONNRESET;
    return ovsdb_feed(db, buf, (size_t)n);
}

static json_object *take_reply(struct ovsdb *db, int64_t id)
{
    for (size_t i = 0; i < db->n_queue; i++) {
        json_object *jid = NULL;
        json_object_object_get_ex(db->queue[i], "id", &jid);
        if (jid && json_object_is_type(jid, json_type_int) && json_object_get_int64(jid) == id) {
            json_object *v = db->queue[i];
            memmove(&db->queue[i], &db->queue[i + 1], (db->n_queue - i - 1) * sizeof(*db->queue));
            db->n_queue--;
            return v;
        }
    }
    return NULL;
}

int ovsdb_call(struct ovsdb *db, const char *method, json_object *params, double timeout_s,
               json_object **ret_result, json_object **ret_error)
{
    double deadline = now_monotonic() + timeout_s;
    int64_t id = db->next_id++;
    json_object *msg = json_object_new_object();
    json_object *reply;
    int r;

    json_object_object_add(msg, "method", json_object_new_string(method));
    json_object_object_add(msg, "params", params ? params : json_object_new_array());
    json_object_object_add(msg, "id", json_object_new_int64(id));
    r = send_json(db, msg, deadline);
    json_object_put(msg);
    if (r < 0)
        return r;
    while (!(reply = take_reply(db, id))) {
        int ms = remaining_ms(deadline);
        if (ms == 0)
            return -ETIMEDOUT;
        if ((r = read_some(db, ms)) < 0)
            return r;
    }
    json_object *result = NULL, *error = NULL;
    json_object_object_get_ex(reply, "result", &result);
    json_object_object_get_ex(reply, "error", &error);
    if (error) {
        if (ret_error)
            *ret_error = json_object_get(error);
        r = -EPROTO;
    } else {
        if (ret_result)
            *ret_result = json_object_get(result);
        r = 0;
    }
    json_object_put(reply);
    return r;
}

int ovsdb_poll(struct ovsdb *db, int timeout_ms)
{
    return read_some(db, timeout_ms);
}

int ovsdb_transact(struct ovsdb *db, json_object *ops, double timeout_s, json_object **ret_results,
                   char **ret_error)
{
    json_object *params = json_object_new_array();
    json_object *results = NULL, *error = NULL;
    int r;

    json_object_array_add(params, json_object_new_string("Open_vSwitch"));
    size_t n = ju_len(ops);
    for (size_t i = 0; i < n; i++)
        json_object_array_add(params, json_object_get(json_object_array_get_idx(ops, i)));
    json_object_put(ops);
    r = ovsdb_call(db, "transact", params, timeout_s, &results, &error);
    if (r == -EPROTO) {
        *ret_error = xstrdup(json_object_to_json_string(error));
        json_object_put(error);
        return r;
    }
    if (r < 0)
        return r;
    if (!json_object_is_type(results, json_type_array)) {
        json_object_put(results);
        *ret_error = xstrdup("transact answer is not an array");
        return -EPROTO;
    }
    /* RFC 7047 4.1.3: a failed operation has an "error" member; a failed
     * commit adds one more result after the operations. */
    size_t nr = ju_len(results);
    for (size_t i = 0; i < nr; i++) {
        json_object *res = json_object_array_get_idx(results, i), *e = NULL, *d = NULL;
        if (res && json_object_object_get_ex(res, "error", &e) && e) {
            json_object_object_get_ex(res, "details", &d);
            *ret_error = xasprintf("operation %zu: %s%s%s", i, json_object_get_string(e),
                                   d ? ": " : "", d ? json_object_get_string(d) : "");
            json_object_put(results);
            return -EPROTO;
        }
    }
    if (ret_results)
        *ret_results = results;
    else
        json_object_put(results);
    return 0;
}
