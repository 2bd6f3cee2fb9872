/* Unit tests of networkd's OVSDB client (networkd/ovsdb.c) over a
 * socketpair standing in for ovsdb-server: how calls are encoded, how
 * replies, errors, echo requests and update notifications are decoded
 * from a stream split anywhere or packed several to a read, how a
 * transaction's per-operation errors are reported, and that garbage,
 * values that are not objects and a server going away end the
 * connection rather than the process. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "lib/util.h"
#include "networkd/ovsdb.h"

struct pair {
    struct ovsdb *db;
    int peer; /* the server's end */
};

static void open_pair(struct pair *p)
{
    int sv[2];
    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
    p->db = ovsdb_new(sv[0]);
    p->peer = sv[1];
}

static void close_pair(struct pair *p)
{
    ovsdb_free(p->db);
    if (p->peer >= 0)
        close(p->peer);
}

static void server_says(struct pair *p, const char *text)
{
    size_t len = strlen(text);
    assert_int_equal(write(p->peer, text, len), (ssize_t)len);
}

/* What the client sent so far, as one JSON value (it writes whole
 * messages, and the tests read after each). */
static json_object *client_said(struct pair *p)
{
    char buf[65536];
    ssize_t n = recv(p->peer, buf, sizeof(buf) - 1, MSG_DONTWAIT);
    assert_true(n > 0);
    buf[n] = '\0';
    json_object *v = json_tokener_parse(buf);
    if (!v)
        fail_msg("the client sent what is not one JSON value: %s", buf);
    return v;
}

static json_object *get(json_object *o, const char *name)
{
    json_object *v = NULL;
    json_object_object_get_ex(o, name, &v);
    return v;
}

static void test_call_is_encoded_and_its_reply_decoded(void **state)
{
    (void)state;
    struct pair p;
    json_object *result = NULL, *error = NULL;
    open_pair(&p);
    /* The answer is already there when the call reads. */
    server_says(&p, "{\"id\": 1, \"result\": [\"Open_vSwitch\"], \"error\": null}");
    json_object *params = json_object_new_array();
    json_object_array_add(params, json_object_new_string("x"));
    assert_int_equal(ovsdb_call(p.db, "list_dbs", params, 5, &result, &error), 0);
    assert_null(error);
    assert_string_equal(json_object_to_json_string_ext(result, JSON_C_TO_STRING_PLAIN),
                        "[\"Open_vSwitch\"]");
    json_object_put(result);
    json_object *req = client_said(&p);
    assert_string_equal(json_object_get_string(get(req, "method")), "list_dbs");
    assert_int_equal(json_object_get_int(get(req, "id")), 1);
    assert_string_equal(json_object_to_json_string_ext(get(req, "params"), JSON_C_TO_STRING_PLAIN),
                        "[\"x\"]");
    json_object_put(req);

    /* The next call has the next id; no params is an empty array. */
    server_says(&p, "{\"id\": 2, \"result\": null, \"error\": {\"error\": \"unknown method\"}}");
    assert_int_equal(ovsdb_call(p.db, "nosuch", NULL, 5, &result, &error), -EPROTO);
    assert_string_equal(json_object_get_string(get(error, "error")), "unknown method");
    json_object_put(error);
    req = client_said(&p);
    assert_int_equal(json_object_get_int(get(req, "id")), 2);
    assert_int_equal(json_object_array_length(get(req, "params")), 0);
    json_object_put(req);
    close_pair(&p);
}

static void test_replies_to_no_call_are_skipped(void **state)
{
    (void)state;
    struct pair p;
    json_object *result = NULL;
    open_pair(&p);
    /* Noise first (an id never sent, ids that are not numbers), then
     * the answer, all in one read. */
    server_says(&p, "{\"id\": 99, \"result\": 1, \"error\": null}"
                    "{\"id\": \"1\", \"result\": 2, \"error\": null}\n"
                    "{\"id\": null, \"result\": 3, \"error\": null}  "
                    "{\"id\": 1, \"result\": 4, \"error\": null}");
    assert_int_equal(ovsdb_call(p.db, "list_dbs", NULL, 5, &result, NULL), 0);
    assert_int_equal(json_object_get_int(result), 4);
    json_object_put(result);
    json_object_put(client_said(&p));
    close_pair(&p);
}

struct seen {
    int updates;
    char last[256];
};

static void on_update(json_object *params, void *userdata)
{
    struct seen *s = userdata;
    s->updates++;
    snprintf(s->last, sizeof(s->last), "%s",
             json_object_to_json_string_ext(params, JSON_C_TO_STRING_PLAIN));
}

static void test_stream_split_anywhere_or_packed(void **state)
{
    (void)state;
    static const char msgs[] =
        "{\"method\": \"update\", \"id\": null, \"params\": [null, {\"Open_vSwitch\": "
        "{\"u\": {\"new\": {\"cur_cfg\": 7}}}}]}\n"
        "{\"method\": \"echo\", \"id\": \"echo\", \"params\": [\"ping \\u00e9\"]}"
        "{\"method\": \"update\", \"id\": null, \"params\": [\"second\"]}";
    size_t len = strlen(msgs);
    /* Every split into two reads, and one byte at a time. */
    for (size_t cut = 0; cut <= len + 1; cut++) {
        struct pair p;
        struct seen s = {0};
        open_pair(&p);
        ovsdb_set_update_cb(p.db, on_update, &s);
        if (cut <= len) {
            assert_int_equal(ovsdb_feed(p.db, msgs, cut), 0);
            assert_int_equal(ovsdb_feed(p.db, msgs + cut, len - cut), 0);
        } else {
            for (size_t i = 0; i < len; i++)
                assert_int_equal(ovsdb_feed(p.db, msgs + i, 1), 0);
        }
        assert_int_equal(s.updates, 2);
        assert_string_equal(s.last, "[\"second\"]");
        /* The echo was answered with its id and params. */
        json_object *reply = client_said(&p);
        assert_string_equal(json_object_get_string(get(reply, "id")), "echo");
        assert_string_equal(
            json_object_get_string(json_object_array_get_idx(get(reply, "result"), 0)),
            "ping \u00e9");
        assert_true(json_object_object_get_ex(reply, "error", NULL));
        json_object_put(reply);
        close_pair(&p);
    }
}

static void test_garbage_ends_the_connection(void **state)
{
    (void)state;
    /* A number or literal is complete only at what follows it. */
    static const char *const bad[] = {
        "\x00\xff", "{\"id\": 1,,}", "[1, 2]", "42 ", "\"text\"", "null ", "{} ]", "nul!",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        struct pair p;
        open_pair(&p);
        size_t len = strlen(bad[i]) ? strlen(bad[i]) : 2;
        assert_int_equal(ovsdb_feed(p.db, bad[i], len), -EBADMSG);
        close_pair(&p);
    }
    /* Nesting deeper than the reader allows. */
    struct pair p;
    open_pair(&p);
    char deep[400];
    memset(deep, '[', sizeof(deep));
    assert_int_equal(ovsdb_feed(p.db, deep, sizeof(deep)), -EBADMSG);
    close_pair(&p);
}

static void test_server_going_away(void **state)
{
    (void)state;
    struct pair p;
    open_pair(&p);
    assert_int_equal(ovsdb_poll(p.db, 0), 0); /* nothing there yet */
    server_says(&p, "{\"method\": \"update\", \"id\": null, \"params\": [1]}");
    close(p.peer);
    p.peer = -1;
    int r = ovsdb_poll(p.db, 1000);
    if (r == 0)
        r = ovsdb_poll(p.db, 1000);
    assert_int_equal(r, -ECONNRESET);
    assert_int_equal(ovsdb_call(p.db, "list_dbs", NULL, 5, NULL, NULL), -ECONNRESET);
    close_pair(&p);
}

static void test_transact_reports_the_failed_operation(void **state)
{
    (void)state;
    struct pair p;
    json_object *results = NULL;
    char *why = NULL;
    open_pair(&p);

    server_says(&p, "{\"id\": 1, \"error\": null, \"result\": [{\"rows\": []}, {\"uuid\": "
                    "[\"uuid\", \"u\"]}]}");
    json_object *ops = json_tokener_parse("[{\"op\": \"select\", \"table\": \"Bridge\", "
                                          "\"where\": []}, {\"op\": \"comment\"}]");
    assert_int_equal(ovsdb_transact(p.db, ops, 5, &results, &why), 0);
    assert_int_equal(json_object_array_length(results), 2);
    json_object_put(results);
    /* Sent as ["Open_vSwitch", op...]. */
    json_object *req = client_said(&p);
    assert_string_equal(json_object_get_string(get(req, "method")), "transact");
    json_object *params = get(req, "params");
    assert_int_equal(json_object_array_length(params), 3);
    assert_string_equal(json_object_get_string(json_object_array_get_idx(params, 0)),
                        "Open_vSwitch");
    assert_string_equal(json_object_get_string(get(json_object_array_get_idx(params, 1), "op")),
                        "select");
    json_object_put(req);

    /* An operation failed: which, and why. */
    server_says(&p, "{\"id\": 2, \"error\": null, \"result\": [{}, {\"error\": \"constraint "
                    "violation\", \"details\": \"no such bridge\"}]}");
    assert_int_equal(ovsdb_transact(p.db, json_object_new_array(), 5, NULL, &why), -EPROTO);
    assert_string_equal(why, "operation 1: constraint violation: no such bridge");
    free(why);
    json_object_put(client_said(&p));

    /* The commit failed (one result more than operations). */
    server_says(&p, "{\"id\": 3, \"error\": null, \"result\": [{}, {\"error\": \"timed out\"}]}");
    assert_int_equal(ovsdb_transact(p.db, json_object_new_array(), 5, NULL, &why), -EPROTO);
    assert_string_equal(why, "operation 1: timed out");
    free(why);
    json_object_put(client_said(&p));

    server_says(&p, "{\"id\": 4, \"error\": null, \"result\": {\"not\": \"an array\"}}");
    assert_int_equal(ovsdb_transact(p.db, json_object_new_array(), 5, NULL, &why), -EPROTO);
    assert_non_null(why);
    free(why);
    json_object_put(client_said(&p));

    server_says(&p, "{\"id\": 5, \"error\": \"syntax error\", \"result\": null}");
    assert_int_equal(ovsdb_transact(p.db, json_object_new_array(), 5, NULL, &why), -EPROTO);
    assert_string_equal(why, "\"syntax error\"");
    free(why);
    json_object_put(client_said(&p));
    close_pair(&p);
}

static void test_connect_refusals(void **state)
{
    (void)state;
    struct ovsdb *db = NULL;
    char longpath[200];
    memset(longpath, 'a', sizeof(longpath) - 1);
    longpath[sizeof(longpath) - 1] = '\0';
    assert_int_equal(ovsdb_connect("tcp:127.0.0.1:6640", 1, &db), -EINVAL);
    assert_int_equal(ovsdb_connect("unix:/nonexistent/db.sock", 1, &db), -ENOENT);
    assert_int_equal(ovsdb_connect(longpath, 1, &db), -ENAMETOOLONG);
    assert_null(db);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_call_is_encoded_and_its_reply_decoded),
        cmocka_unit_test(test_replies_to_no_call_are_skipped),
        cmocka_unit_test(test_stream_split_anywhere_or_packed),
        cmocka_unit_test(test_garbage_ends_the_connection),
        cmocka_unit_test(test_server_going_away),
        cmocka_unit_test(test_transact_reports_the_failed_operation),
        cmocka_unit_test(test_connect_refusals),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
