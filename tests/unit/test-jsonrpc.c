/* Unit tests of the JSON-RPC codec (xapi-c/jsonrpc.c, rpc.c): versions 1.0
 * and 2.0 on one endpoint, the id rules, every JSON value kind, integers
 * beyond int64 that json-c would clamp, malformed, truncated, binary and
 * deeply nested bodies, and the response objects byte for byte. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/strbuf.h"
#include "lib/util.h"
#include "xapi-c/rpc.h"

static const char *last_why;

static int parse(const char *body, struct rpc_call *c)
{
    last_why = NULL;
    return jsonrpc_parse_call(body, strlen(body), c, &last_why);
}

/* The body must be refused, with a reason, and ret left alone. */
static void expect_refused_len(const char *body, size_t len)
{
    struct rpc_call c = {.method = (char *)"untouched"};
    const char *why = NULL;
    assert_int_equal(jsonrpc_parse_call(body, len, &c, &why), -EINVAL);
    assert_non_null(why);
    assert_string_equal(c.method, "untouched");
    last_why = why;
}

static void expect_refused(const char *body)
{
    expect_refused_len(body, strlen(body));
}

/* Parses a 1.0 call whose params array holds the given JSON text. */
static const struct xv *parse_one(const char *param, struct rpc_call *c)
{
    struct strbuf sb;
    strbuf_init(&sb, 0);
    strbuf_addf(&sb, "{\"method\":\"m\",\"params\":[%s],\"id\":1}", param);
    assert_int_equal(parse(sb.buf, c), 0);
    strbuf_done(&sb);
    assert_int_equal(c->n_params, 1);
    return &c->params[0];
}

static void expect_param_refused(const char *param)
{
    struct strbuf sb;
    strbuf_init(&sb, 0);
    strbuf_addf(&sb, "{\"method\":\"m\",\"params\":[%s],\"id\":1}", param);
    expect_refused(sb.buf);
    strbuf_done(&sb);
}

static void check_string(const struct xv *v, const char *s, size_t len)
{
    assert_int_equal(v->kind, XV_STRING);
    assert_int_equal(v->str.len, len);
    assert_memory_equal(v->str.s, s, len);
    assert_int_equal(v->str.s[len], '\0');
}

/* ---- Envelope ---- */

static void test_jsonrpc_v1_call(void **state)
{
    struct rpc_call c;
    (void)state;
    assert_int_equal(
        parse("{\"method\":\"VM.get_record\",\"params\":[\"OpaqueRef:s\",\"OpaqueRef:v\"],"
              "\"id\":7}",
              &c),
        0);
    assert_string_equal(c.method, "VM.get_record");
    assert_int_equal(c.json_version, 1);
    assert_string_equal(c.json_id, "7");
    assert_int_equal(c.n_params, 2);
    check_string(&c.params[1], "OpaqueRef:v", 11);
    rpc_call_done(&c);
}

static void test_jsonrpc_v2_call(void **state)
{
    struct rpc_call c;
    (void)state;
    assert_int_equal(parse(" {\"jsonrpc\":\"2.0\",\"method\":\"session.login_with_password\","
                           "\"params\":[\"root\",\"pw\"],\"id\":\"abc\"}\n",
                           &c),
                     0);
    assert_string_equal(c.method, "session.login_with_password");
    assert_int_equal(c.json_version, 2);
    assert_string_equal(c.json_id, "\"abc\"");
    assert_int_equal(c.n_params, 2);
    rpc_call_done(&c);
}

static void test_jsonrpc_pretty_printed_call(void **state)
{
    struct rpc_call c;
    (void)state;
    assert_int_equal(parse("{\n  \"jsonrpc\": \"2.0\",\n  \"method\": \"VM.create\",\n"
                           "  \"params\": [\n    \"s\",\n    {\n      \"name_label\": \"vm\"\n"
                           "    }\n  ],\n  \"id\": 0\n}\n",
                           &c),
                     0);
    assert_int_equal(c.n_params, 2);
    check_string(xv_member(&c.params[1], "name_label"), "vm", 2);
    assert_string_equal(c.json_id, "0");
    rpc_call_done(&c);
}

static void test_jsonrpc_missing_id_fails(void **state)
{
    (void)state;
    expect_refused("{\"method\":\"m\",\"params\":[]}");
    assert_string_equal(last_why, "Invalid field 'id'");
}

static void test_jsonrpc_null_id_fails(void **state)
{
    (void)state;
    expect_refused("{\"method\":\"m\",\"params\":[],\"id\":null}");
    assert_string_equal(last_why, "Invalid field 'id'");
}

static void test_jsonrpc_id_of_other_type_fails(void **state)
{
    (void)state;
    expect_refused("{\"method\":\"m\",\"params\":[],\"id\":1.5}");
    expect_refused("{\"method\":\"m\",\"params\":[],\"id\":true}");
    expect_refused("{\"method\":\"m\",\"params\":[],\"id\":[1]}");
    expect_refused("{\"method\":\"m\",\"params\":[],\"id\":{}}");
}

static void test_jsonrpc_id_kept_as_json_text(void **state)
{
    struct rpc_call c;
    (void)state;
    assert_int_equal(parse("{\"method\":\"m\",\"params\":[],\"id\":\"a\\\"b/\\u00e9\"}", &c), 0);
    assert_string_equal(c.json_id, "\"a\\\"b/\xc3\xa9\"");
    rpc_call_done(&c);
    assert_int_equal(parse("{\"method\":\"m\",\"params\":[],\"id\":-9223372036854775808}", &c), 0);
    assert_string_equal(c.json_id, "-9223372036854775808");
    rpc_call_done(&c);
}

static void test_jsonrpc_id_out_of_range_fails(void **state)
{
    (void)state;
    expect_refused("{\"method\":\"m\",\"params\":[],\"id\":9223372036854775808}");
    expect_refused("{\"method\":\"m\",\"params\":[],\"id\":-9223372036854775809}");
}

static void test_jsonrpc_missing_method_fails(void **state)
{
    (void)state;
    expect_refused("{\"params\":[],\"id\":1}");
    assert_string_equal(last_why, "Invalid field 'method'");
}

static void test_jsonrpc_method_not_string_fails(void **state)
{
    (void)state;
    expect_refused("{\"method\":1,\"params\":[],\"id\":1}");
    expect_refused("{\"method\":null,\"params\":[],\"id\":1}");
}

static void test_jsonrpc_method_with_nul_fails(void **state)
{
    (void)state;
    expect_refused("{\"method\":\"a\\u0000b\",\"params\":[],\"id\":1}");
}

static void test_jsonrpc_unknown_version_fails(void **state)
{
    (void)state;
    expect_refused("{\"jsonrpc\":\"1.0\",\"method\":\"m\",\"params\":[],\"id\":1}");
    assert_string_equal(last_why, "Invalid field 'jsonrpc'");
    expect_refused("{\"jsonrpc\":2,\"method\":\"m\",\"params\":[],\"id\":1}");
    expect_refused("{\"jsonrpc\":null,\"method\":\"m\",\"params\":[],\"id\":1}");
    expect_refused("{\"jsonrpc\":\"2.0 \",\"method\":\"m\",\"params\":[],\"id\":1}");
}

static void test_jsonrpc_v1_requires_params_array(void **state)
{
    (void)state;
    expect_refused("{\"method\":\"m\",\"id\":1}");
    assert_string_equal(last_why, "Invalid field 'params'");
    expect_refused("{\"method\":\"m\",\"params\":null,\"id\":1}");
    expect_refused("{\"method\":\"m\",\"params\":{},\"id\":1}");
    expect_refused("{\"method\":\"m\",\"params\":\"x\",\"id\":1}");
}

static void test_jsonrpc_v2_params_absent_is_none(void **state)
{
    struct rpc_call c;
    (void)state;
    assert_int_equal(parse("{\"jsonrpc\":\"2.0\",\"method\":\"m\",\"id\":1}", &c), 0);
    assert_int_equal(c.n_params, 0);
    assert_null(c.params);
    rpc_call_done(&c);
}

static void test_jsonrpc_v2_params_null_is_none(void **state)
{
    struct rpc_call c;
    (void)state;
    assert_int_equal(parse("{\"jsonrpc\":\"2.0\",\"method\":\"m\",\"params\":null,\"id\":1}", &c),
                     0);
    assert_int_equal(c.n_params, 0);
    rpc_call_done(&c);
}

static void test_jsonrpc_v2_params_object_is_one_struct(void **state)
{
    struct rpc_call c;
    (void)state;
    assert_int_equal(
        parse("{\"jsonrpc\":\"2.0\",\"method\":\"m\",\"params\":{\"a\":1},\"id\":1}", &c), 0);
    assert_int_equal(c.n_params, 1);
    assert_int_equal(c.params[0].kind, XV_STRUCT);
    assert_int_equal(xv_member(&c.params[0], "a")->i, 1);
    rpc_call_done(&c);
}

static void test_jsonrpc_v2_params_scalar_fails(void **state)
{
    (void)state;
    expect_refused("{\"jsonrpc\":\"2.0\",\"method\":\"m\",\"params\":\"x\",\"id\":1}");
    expect_refused("{\"jsonrpc\":\"2.0\",\"method\":\"m\",\"params\":3,\"id\":1}");
}

static void test_jsonrpc_unknown_fields_ignored(void **state)
{
    struct rpc_call c;
    (void)state;
    assert_int_equal(parse("{\"x\":[1,{}],\"method\":\"m\",\"params\":[],\"id\":1}", &c), 0);
    rpc_call_done(&c);
}

static void test_jsonrpc_body_not_object_fails(void **state)
{
    (void)state;
    expect_refused("[{\"method\":\"m\",\"params\":[],\"id\":1}]");
    expect_refused("\"m\"");
    expect_refused("null");
    expect_refused("1");
}

static void test_jsonrpc_trailing_garbage_fails(void **state)
{
    (void)state;
    expect_refused("{\"method\":\"m\",\"params\":[],\"id\":1}x");
    expect_refused("{\"method\":\"m\",\"params\":[],\"id\":1}{}");
}

static void test_jsonrpc_trailing_nul_fails(void **state)
{
    static const char body[] = "{\"method\":\"m\",\"params\":[],\"id\":1}\0junk";
    (void)state;
    expect_refused_len(body, sizeof(body) - 1);
}

static void test_jsonrpc_embedded_nul_fails(void **state)
{
    static const char body[] = "{\"method\":\"m\0\",\"params\":[],\"id\":1}";
    (void)state;
    expect_refused_len(body, sizeof(body) - 1);
}

static void test_jsonrpc_non_json_syntax_fails(void **state)
{
    (void)state;
    expect_refused("{'method':'m','params':[],'id':1}");
    expect_refused("{\"method\":\"m\",\"params\":[],\"id\":1,}");
    expect_refused("{\"method\":\"m\",/* c */\"params\":[],\"id\":1}");
    expect_param_refused("1,");
    expect_param_refused("TRUE");
    expect_param_refused("01");
}

static void test_jsonrpc_empty_body_fails(void **state)
{
    (void)state;
    expect_refused_len("", 0);
    expect_refused(" \n");
}

static void test_jsonrpc_every_truncation_fails(void **state)
{
    static const char body[] = "{\"jsonrpc\":\"2.0\",\"method\":\"VM.start\",\"params\":[\"s\","
                               "{\"a\":[1,2.5,true,null,\"x\\u00e9\"]}],\"id\":\"q\"}";
    (void)state;
    for (size_t len = 0; len < strlen(body); len++)
        expect_refused_len(body, len);
}

static void test_jsonrpc_binary_garbage_fails(void **state)
{
    char buf[512];
    unsigned x = 54321;
    (void)state;
    for (int round = 0; round < 200; round++) {
        for (size_t i = 0; i < sizeof(buf); i++) {
            x = x * 1103515245 + 12345;
            buf[i] = (char)(x >> 16);
        }
        expect_refused_len(buf, (size_t)(round * 7) % sizeof(buf) + 1);
    }
}

/* ---- Values ---- */

static void test_jsonrpc_string_param(void **state)
{
    struct rpc_call c;
    (void)state;
    check_string(parse_one("\"Halted\"", &c), "Halted", 6);
    rpc_call_done(&c);
}

static void test_jsonrpc_string_escapes_decoded(void **state)
{
    struct rpc_call c;
    (void)state;
    check_string(parse_one("\"q\\\"b\\\\s\\/n\\nt\\tu\\u00e9\\ud83d\\ude00\"", &c),
                 "q\"b\\s/n\nt\tu\xc3\xa9\xf0\x9f\x98\x80", 17);
    rpc_call_done(&c);
}

static void test_jsonrpc_string_keeps_nul(void **state)
{
    struct rpc_call c;
    (void)state;
    check_string(parse_one("\"a\\u0000b\"", &c), "a\0b", 3);
    rpc_call_done(&c);
}

static void test_jsonrpc_string_utf8_passed_through(void **state)
{
    struct rpc_call c;
    (void)state;
    check_string(parse_one("\"\xc3\xa9\xe2\x82\xac\"", &c), "\xc3\xa9\xe2\x82\xac", 5);
    rpc_call_done(&c);
}

/* json-c does not check UTF-8, so neither does the decoder: the
 * dispatcher answers a bad string with INVALID_VALUE, as xapi does. */
static void test_jsonrpc_invalid_utf8_passed_through(void **state)
{
    struct rpc_call c;
    (void)state;
    check_string(parse_one("\"\xff\xfe\"", &c), "\xff\xfe", 2);
    rpc_call_done(&c);
}

static void test_jsonrpc_int_param(void **state)
{
    struct rpc_call c;
    (void)state;
    const struct xv *v = parse_one("4294967296", &c);
    assert_int_equal(v->kind, XV_INT);
    assert_int_equal(v->i, 4294967296);
    rpc_call_done(&c);
}

static void test_jsonrpc_negative_int_param(void **state)
{
    struct rpc_call c;
    (void)state;
    const struct xv *v = parse_one("-3", &c);
    assert_int_equal(v->kind, XV_INT);
    assert_int_equal(v->i, -3);
    rpc_call_done(&c);
}

static void test_jsonrpc_int64_extremes(void **state)
{
    struct rpc_call c;
    (void)state;
    assert_int_equal(
        parse("{\"method\":\"m\",\"params\":[9223372036854775807,-9223372036854775808,-0],"
              "\"id\":1}",
              &c),
        0);
    assert_true(c.params[0].i == INT64_MAX);
    assert_true(c.params[1].i == INT64_MIN);
    assert_true(c.params[2].kind == XV_INT && c.params[2].i == 0);
    rpc_call_done(&c);
}

static void test_jsonrpc_int_overflow_fails(void **state)
{
    (void)state;
    expect_param_refused("9223372036854775808");
    assert_string_equal(last_why, "integer out of range");
    expect_param_refused("18446744073709551615");
    expect_param_refused("99999999999999999999999999");
}

static void test_jsonrpc_negative_int_overflow_fails(void **state)
{
    (void)state;
    expect_param_refused("-9223372036854775809");
    assert_string_equal(last_why, "integer out of range");
    expect_param_refused("[\"-99999999999999999999\",-99999999999999999999]");
    expect_param_refused("{\"k\":-00000009223372036854775809}");
}

/* An INT64_MIN in the body makes the decoder look for clamped integers; a
 * string or a fraction that looks like one is not. */
static void test_jsonrpc_int64_min_beside_big_strings(void **state)
{
    struct rpc_call c;
    (void)state;
    assert_int_equal(parse("{\"method\":\"m\",\"params\":[-9223372036854775808,"
                           "\"-99999999999999999999\",-99999999999999999999.5,"
                           "-99999999999999999999e0,\"\\\"-99999999999999999999\"],\"id\":1}",
                           &c),
                     0);
    assert_int_equal(c.n_params, 5);
    assert_int_equal(c.params[2].kind, XV_DOUBLE);
    rpc_call_done(&c);
}

static void test_jsonrpc_double_with_fraction(void **state)
{
    struct rpc_call c;
    (void)state;
    const struct xv *v = parse_one("0.5", &c);
    assert_int_equal(v->kind, XV_DOUBLE);
    assert_true(v->d == 0.5);
    rpc_call_done(&c);
}

static void test_jsonrpc_double_with_exponent(void **state)
{
    struct rpc_call c;
    (void)state;
    const struct xv *v = parse_one("1e3", &c);
    assert_int_equal(v->kind, XV_DOUBLE);
    assert_true(v->d == 1000.0);
    rpc_call_done(&c);
}

static void test_jsonrpc_nonfinite_double_fails(void **state)
{
    (void)state;
    expect_param_refused("1e999");
    expect_param_refused("-1e999");
    expect_param_refused("NaN");
    expect_param_refused("Infinity");
    expect_param_refused("-Infinity");
}

static void test_jsonrpc_bool_param(void **state)
{
    struct rpc_call c;
    (void)state;
    assert_int_equal(parse("{\"method\":\"m\",\"params\":[true,false],\"id\":1}", &c), 0);
    assert_true(c.params[0].kind == XV_BOOL && c.params[0].b);
    assert_true(c.params[1].kind == XV_BOOL && !c.params[1].b);
    rpc_call_done(&c);
}

static void test_jsonrpc_null_param(void **state)
{
    struct rpc_call c;
    (void)state;
    assert_int_equal(parse_one("null", &c)->kind, XV_NIL);
    rpc_call_done(&c);
}

static void test_jsonrpc_array_param(void **state)
{
    struct rpc_call c;
    (void)state;
    const struct xv *v = parse_one("[\"a\",1,[],{}]", &c);
    assert_int_equal(v->kind, XV_ARRAY);
    assert_int_equal(v->agg.n, 4);
    assert_null(v->agg.keys);
    check_string(&v->agg.items[0], "a", 1);
    assert_int_equal(v->agg.items[2].kind, XV_ARRAY);
    assert_int_equal(v->agg.items[2].agg.n, 0);
    assert_int_equal(v->agg.items[3].kind, XV_STRUCT);
    assert_int_equal(v->agg.items[3].agg.n, 0);
    rpc_call_done(&c);
}

static void test_jsonrpc_object_param_keeps_member_order(void **state)
{
    struct rpc_call c;
    (void)state;
    const struct xv *v = parse_one("{\"z\":1,\"a\":\"x\",\"m\":{\"k\":[true]}}", &c);
    assert_int_equal(v->kind, XV_STRUCT);
    assert_int_equal(v->agg.n, 3);
    assert_string_equal(v->agg.keys[0], "z");
    assert_string_equal(v->agg.keys[1], "a");
    assert_string_equal(v->agg.keys[2], "m");
    assert_true(xv_member(xv_member(v, "m"), "k")->agg.items[0].b);
    rpc_call_done(&c);
}

/* n arrays nested in one another, as the only parameter of a 2.0 call. */
static char *nested(int n)
{
    struct strbuf sb;
    strbuf_init(&sb, 0);
    strbuf_adds(&sb, "{\"jsonrpc\":\"2.0\",\"method\":\"m\",\"id\":1,\"params\":[");
    for (int i = 0; i < n; i++)
        strbuf_addc(&sb, '[');
    strbuf_adds(&sb, "1");
    for (int i = 0; i < n; i++)
        strbuf_addc(&sb, ']');
    strbuf_adds(&sb, "]}");
    char *s = strbuf_detach(&sb, NULL);
    strbuf_done(&sb);
    return s;
}

/* The object and the params array are two of the XV_MAX_DEPTH levels. */
static void test_jsonrpc_accepts_nesting_within_limit(void **state)
{
    struct rpc_call c;
    char *body = nested(XV_MAX_DEPTH - 3);
    (void)state;
    assert_int_equal(parse(body, &c), 0);
    const struct xv *v = &c.params[0];
    for (int i = 0; i < XV_MAX_DEPTH - 3; i++)
        v = &v->agg.items[0];
    assert_int_equal(v->kind, XV_INT);
    rpc_call_done(&c);
    free(body);
}

static void test_jsonrpc_refuses_deep_nesting(void **state)
{
    char *body = nested(XV_MAX_DEPTH - 2);
    (void)state;
    expect_refused(body);
    assert_string_equal(last_why, "values nested too deep");
    free(body);
}

static void test_jsonrpc_refuses_very_deep_document(void **state)
{
    char *body = nested(1000000);
    (void)state;
    expect_refused(body);
    free(body);
}

static void test_jsonrpc_huge_string_param(void **state)
{
    const size_t n = 4 << 20;
    struct strbuf sb;
    struct rpc_call c;
    (void)state;
    strbuf_init(&sb, n + 64);
    strbuf_addc(&sb, '"');
    for (size_t i = 0; i < n; i++)
        strbuf_addc(&sb, (char)('a' + i % 26));
    strbuf_addc(&sb, '"');
    const struct xv *v = parse_one(sb.buf, &c);
    assert_int_equal(v->str.len, n);
    assert_memory_equal(v->str.s, sb.buf + 1, n);
    rpc_call_done(&c);
    strbuf_done(&sb);
}

static void test_jsonrpc_many_params(void **state)
{
    struct strbuf sb;
    struct rpc_call c;
    (void)state;
    strbuf_init(&sb, 0);
    strbuf_adds(&sb, "{\"method\":\"m\",\"id\":1,\"params\":[0");
    for (int i = 1; i < 10000; i++)
        strbuf_addf(&sb, ",%d", i);
    strbuf_adds(&sb, "]}");
    assert_int_equal(parse(sb.buf, &c), 0);
    assert_int_equal(c.n_params, 10000);
    assert_int_equal(c.params[9999].i, 9999);
    rpc_call_done(&c);
    strbuf_done(&sb);
}

/* ---- Envelopes ---- */

static struct rpc_call *call_of(const char *body, struct rpc_call *c)
{
    assert_int_equal(parse(body, c), 0);
    return c;
}

static void test_jsonrpc_v1_success_envelope(void **state)
{
    struct rpc_call c;
    struct strbuf sb;
    (void)state;
    strbuf_init(&sb, 0);
    call_of("{\"method\":\"m\",\"params\":[],\"id\":7}", &c);
    rpc_write_success(&sb, &c, WIRE_JSON, "\"Running\"", 9);
    assert_string_equal(sb.buf, "{\"result\":\"Running\",\"error\":null,\"id\":7}");
    rpc_call_done(&c);
    strbuf_done(&sb);
}

static void test_jsonrpc_v1_failure_envelope(void **state)
{
    static const char *const params[] = {"VM", "OpaqueRef:a"};
    struct rpc_call c;
    struct strbuf sb;
    (void)state;
    strbuf_init(&sb, 0);
    call_of("{\"method\":\"m\",\"params\":[],\"id\":\"x\"}", &c);
    rpc_write_failure(&sb, &c, WIRE_JSON, "HANDLE_INVALID", params, 2);
    assert_string_equal(sb.buf, "{\"result\":null,\"error\":[\"HANDLE_INVALID\",\"VM\","
                                "\"OpaqueRef:a\"],\"id\":\"x\"}");
    rpc_call_done(&c);
    strbuf_done(&sb);
}

static void test_jsonrpc_v1_failure_envelope_without_params(void **state)
{
    struct rpc_call c;
    struct strbuf sb;
    (void)state;
    strbuf_init(&sb, 0);
    call_of("{\"method\":\"m\",\"params\":[],\"id\":1}", &c);
    rpc_write_failure(&sb, &c, WIRE_JSON, "MESSAGE_REMOVED", NULL, 0);
    assert_string_equal(sb.buf, "{\"result\":null,\"error\":[\"MESSAGE_REMOVED\"],\"id\":1}");
    rpc_call_done(&c);
    strbuf_done(&sb);
}

static void test_jsonrpc_v2_success_envelope(void **state)
{
    struct rpc_call c;
    struct strbuf sb;
    (void)state;
    strbuf_init(&sb, 0);
    call_of("{\"jsonrpc\":\"2.0\",\"method\":\"m\",\"id\":\"q\"}", &c);
    rpc_write_success(&sb, &c, WIRE_JSON, "[1,2]", 5);
    assert_string_equal(sb.buf, "{\"jsonrpc\":\"2.0\",\"result\":[1,2],\"id\":\"q\"}");
    rpc_call_done(&c);
    strbuf_done(&sb);
}

static void test_jsonrpc_v2_failure_envelope(void **state)
{
    static const char *const params[] = {"VM", "OpaqueRef:a"};
    struct rpc_call c;
    struct strbuf sb;
    (void)state;
    strbuf_init(&sb, 0);
    call_of("{\"jsonrpc\":\"2.0\",\"method\":\"m\",\"id\":3}", &c);
    rpc_write_failure(&sb, &c, WIRE_JSON, "HANDLE_INVALID", params, 2);
    assert_string_equal(sb.buf, "{\"jsonrpc\":\"2.0\",\"error\":{\"code\":1,\"message\":"
                                "\"HANDLE_INVALID\",\"data\":[\"VM\",\"OpaqueRef:a\"]},\"id\":3}");
    rpc_call_done(&c);
    strbuf_done(&sb);
}

static void test_jsonrpc_v2_failure_envelope_without_params(void **state)
{
    struct rpc_call c;
    struct strbuf sb;
    (void)state;
    strbuf_init(&sb, 0);
    call_of("{\"jsonrpc\":\"2.0\",\"method\":\"m\",\"id\":3}", &c);
    rpc_write_failure(&sb, &c, WIRE_JSON, "SESSION_INVALID", NULL, 0);
    assert_string_equal(sb.buf, "{\"jsonrpc\":\"2.0\",\"error\":{\"code\":1,\"message\":"
                                "\"SESSION_INVALID\",\"data\":[]},\"id\":3}");
    rpc_call_done(&c);
    strbuf_done(&sb);
}

static void test_jsonrpc_failure_envelope_escapes(void **state)
{
    static const char *const params[] = {"a\"b\\c\n\x01", NULL};
    struct rpc_call c;
    struct strbuf sb;
    (void)state;
    strbuf_init(&sb, 0);
    call_of("{\"method\":\"m\",\"params\":[],\"id\":1}", &c);
    rpc_write_failure(&sb, &c, WIRE_JSON, "E\"", params, 2);
    assert_string_equal(sb.buf, "{\"result\":null,\"error\":[\"E\\\"\",\"a\\\"b\\\\c\\n\\u0001\","
                                "\"\"],\"id\":1}");
    rpc_call_done(&c);
    strbuf_done(&sb);
}

static void test_jsonrpc_without_call_answers_v2_id_0(void **state)
{
    struct strbuf sb;
    (void)state;
    strbuf_init(&sb, 0);
    rpc_write_failure(&sb, NULL, WIRE_JSON, "HOST_IS_SLAVE", (const char *const[]){"1.2.3.4"}, 1);
    assert_string_equal(sb.buf, "{\"jsonrpc\":\"2.0\",\"error\":{\"code\":1,\"message\":"
                                "\"HOST_IS_SLAVE\",\"data\":[\"1.2.3.4\"]},\"id\":0}");
    strbuf_reset(&sb);
    rpc_write_success(&sb, NULL, WIRE_JSON, "true", 4);
    assert_string_equal(sb.buf, "{\"jsonrpc\":\"2.0\",\"result\":true,\"id\":0}");
    strbuf_done(&sb);
}

static void test_jsonrpc_call_without_id_answers_v2_id_0(void **state)
{
    struct rpc_call c = {.json_version = 1};
    struct strbuf sb;
    (void)state;
    strbuf_init(&sb, 0);
    rpc_write_success(&sb, &c, WIRE_JSON, "1", 1);
    assert_string_equal(sb.buf, "{\"jsonrpc\":\"2.0\",\"result\":1,\"id\":0}");
    strbuf_done(&sb);
}

static void test_jsonrpc_success_of_nothing_is_void(void **state)
{
    struct rpc_call c;
    struct strbuf sb;
    (void)state;
    strbuf_init(&sb, 0);
    call_of("{\"method\":\"m\",\"params\":[],\"id\":1}", &c);
    rpc_write_success(&sb, &c, WIRE_JSON, NULL, 0);
    assert_string_equal(sb.buf, "{\"result\":\"\",\"error\":null,\"id\":1}");
    rpc_call_done(&c);
    strbuf_done(&sb);
}

static void test_jsonrpc_bare_is_success(void **state)
{
    struct rpc_call c;
    struct strbuf sb;
    (void)state;
    strbuf_init(&sb, 0);
    call_of("{\"jsonrpc\":\"2.0\",\"method\":\"system.listMethods\",\"id\":5}", &c);
    rpc_write_bare(&sb, &c, WIRE_JSON, "[\"VM.start\"]", 12);
    assert_string_equal(sb.buf, "{\"jsonrpc\":\"2.0\",\"result\":[\"VM.start\"],\"id\":5}");
    strbuf_reset(&sb);
    rpc_call_done(&c);
    call_of("{\"method\":\"system.listMethods\",\"params\":[],\"id\":5}", &c);
    rpc_write_bare(&sb, &c, WIRE_JSON, "[]", 2);
    assert_string_equal(sb.buf, "{\"result\":[],\"error\":null,\"id\":5}");
    rpc_call_done(&c);
    strbuf_done(&sb);
}

/* What a client sends back (its id) must reach it unchanged, and the
 * answer must be a request-shaped object our own decoder can read. */
static void test_jsonrpc_envelope_reads_back(void **state)
{
    struct rpc_call c, back;
    struct strbuf sb;
    (void)state;
    strbuf_init(&sb, 0);
    call_of("{\"jsonrpc\":\"2.0\",\"method\":\"m\",\"id\":\"\\u00e9/\\\"\"}", &c);
    rpc_write_failure(&sb, &c, WIRE_JSON, "E", (const char *const[]){"p"}, 1);
    /* Turn the answer into a call by adding a method. */
    sb.buf[sb.len - 1] = ',';
    strbuf_adds(&sb, "\"method\":\"r\"}");
    assert_int_equal(parse(sb.buf, &back), 0);
    assert_string_equal(back.json_id, c.json_id);
    rpc_call_done(&back);
    rpc_call_done(&c);
    strbuf_done(&sb);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_jsonrpc_v1_call),
        cmocka_unit_test(test_jsonrpc_v2_call),
        cmocka_unit_test(test_jsonrpc_pretty_printed_call),
        cmocka_unit_test(test_jsonrpc_missing_id_fails),
        cmocka_unit_test(test_jsonrpc_null_id_fails),
        cmocka_unit_test(test_jsonrpc_id_of_other_type_fails),
        cmocka_unit_test(test_jsonrpc_id_kept_as_json_text),
        cmocka_unit_test(test_jsonrpc_id_out_of_range_fails),
        cmocka_unit_test(test_jsonrpc_missing_method_fails),
        cmocka_unit_test(test_jsonrpc_method_not_string_fails),
        cmocka_unit_test(test_jsonrpc_method_with_nul_fails),
        cmocka_unit_test(test_jsonrpc_unknown_version_fails),
        cmocka_unit_test(test_jsonrpc_v1_requires_params_array),
        cmocka_unit_test(test_jsonrpc_v2_params_absent_is_none),
        cmocka_unit_test(test_jsonrpc_v2_params_null_is_none),
        cmocka_unit_test(test_jsonrpc_v2_params_object_is_one_struct),
        cmocka_unit_test(test_jsonrpc_v2_params_scalar_fails),
        cmocka_unit_test(test_jsonrpc_unknown_fields_ignored),
        cmocka_unit_test(test_jsonrpc_body_not_object_fails),
        cmocka_unit_test(test_jsonrpc_trailing_garbage_fails),
        cmocka_unit_test(test_jsonrpc_trailing_nul_fails),
        cmocka_unit_test(test_jsonrpc_embedded_nul_fails),
        cmocka_unit_test(test_jsonrpc_non_json_syntax_fails),
        cmocka_unit_test(test_jsonrpc_empty_body_fails),
        cmocka_unit_test(test_jsonrpc_every_truncation_fails),
        cmocka_unit_test(test_jsonrpc_binary_garbage_fails),
        cmocka_unit_test(test_jsonrpc_string_param),
        cmocka_unit_test(test_jsonrpc_string_escapes_decoded),
        cmocka_unit_test(test_jsonrpc_string_keeps_nul),
        cmocka_unit_test(test_jsonrpc_string_utf8_passed_through),
        cmocka_unit_test(test_jsonrpc_invalid_utf8_passed_through),
        cmocka_unit_test(test_jsonrpc_int_param),
        cmocka_unit_test(test_jsonrpc_negative_int_param),
        cmocka_unit_test(test_jsonrpc_int64_extremes),
        cmocka_unit_test(test_jsonrpc_int_overflow_fails),
        cmocka_unit_test(test_jsonrpc_negative_int_overflow_fails),
        cmocka_unit_test(test_jsonrpc_int64_min_beside_big_strings),
        cmocka_unit_test(test_jsonrpc_double_with_fraction),
        cmocka_unit_test(test_jsonrpc_double_with_exponent),
        cmocka_unit_test(test_jsonrpc_nonfinite_double_fails),
        cmocka_unit_test(test_jsonrpc_bool_param),
        cmocka_unit_test(test_jsonrpc_null_param),
        cmocka_unit_test(test_jsonrpc_array_param),
        cmocka_unit_test(test_jsonrpc_object_param_keeps_member_order),
        cmocka_unit_test(test_jsonrpc_accepts_nesting_within_limit),
        cmocka_unit_test(test_jsonrpc_refuses_deep_nesting),
        cmocka_unit_test(test_jsonrpc_refuses_very_deep_document),
        cmocka_unit_test(test_jsonrpc_huge_string_param),
        cmocka_unit_test(test_jsonrpc_many_params),
        cmocka_unit_test(test_jsonrpc_v1_success_envelope),
        cmocka_unit_test(test_jsonrpc_v1_failure_envelope),
        cmocka_unit_test(test_jsonrpc_v1_failure_envelope_without_params),
        cmocka_unit_test(test_jsonrpc_v2_success_envelope),
        cmocka_unit_test(test_jsonrpc_v2_failure_envelope),
        cmocka_unit_test(test_jsonrpc_v2_failure_envelope_without_params),
        cmocka_unit_test(test_jsonrpc_failure_envelope_escapes),
        cmocka_unit_test(test_jsonrpc_without_call_answers_v2_id_0),
        cmocka_unit_test(test_jsonrpc_call_without_id_answers_v2_id_0),
        cmocka_unit_test(test_jsonrpc_success_of_nothing_is_void),
        cmocka_unit_test(test_jsonrpc_bare_is_success),
        cmocka_unit_test(test_jsonrpc_envelope_reads_back),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
