/* Unit tests of the response value writer (xapi-c/out.c): every value kind
 * on both wires, byte for byte against what xapi writes, and the JSON it
 * writes read back by a strict parser. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <string.h>

#include <json-c/json.h>

#include "lib/util.h"
#include "xapi-c/out.h"
#include "xapi-c/rpc.h"

static void expect_text(const struct out *o, const char *want)
{
    assert_string_equal(o->sb.buf, want);
    assert_int_equal(o->sb.len, strlen(want));
}

/* ---- XML-RPC ---- */

static void test_out_xml_string_is_bare_value(void **state)
{
    struct out o;
    (void)state;
    out_init(&o, WIRE_XML);
    out_string(&o, "Running");
    expect_text(&o, "<value>Running</value>");
    out_done(&o);
}

static void test_out_xml_string_escapes(void **state)
{
    struct out o;
    (void)state;
    out_init(&o, WIRE_XML);
    out_string(&o, "a<b>c&d\"e'f");
    expect_text(&o, "<value>a&lt;b&gt;c&amp;d&quot;e'f</value>");
    out_done(&o);
}

static void test_out_xml_string_drops_control_chars(void **state)
{
    struct out o;
    (void)state;
    out_init(&o, WIRE_XML);
    out_string(&o, "a\x01\x08\x0b\x0c\x1f"
                   "b");
    expect_text(&o, "<value>ab</value>");
    out_done(&o);
}

static void test_out_xml_string_keeps_tab_lf_cr(void **state)
{
    struct out o;
    (void)state;
    out_init(&o, WIRE_XML);
    out_string(&o, "a\tb\nc\rd");
    expect_text(&o, "<value>a\tb\nc\rd</value>");
    out_done(&o);
}

static void test_out_xml_string_passes_utf8(void **state)
{
    struct out o;
    (void)state;
    out_init(&o, WIRE_XML);
    out_string(&o, "caf\xc3\xa9 \xe2\x98\xba \xf0\x9f\x98\x80 \x7f");
    expect_text(&o, "<value>caf\xc3\xa9 \xe2\x98\xba \xf0\x9f\x98\x80 \x7f</value>");
    out_done(&o);
}

static void test_out_xml_string_len_drops_nul(void **state)
{
    struct out o;
    (void)state;
    out_init(&o, WIRE_XML);
    out_string_len(&o, "a\0b", 3);
    expect_text(&o, "<value>ab</value>");
    out_done(&o);
}

static void test_out_xml_empty_string(void **state)
{
    struct out o;
    (void)state;
    out_init(&o, WIRE_XML);
    out_string(&o, "");
    expect_text(&o, "<value></value>");
    out_done(&o);
}

static void test_out_xml_int_is_bare_decimal(void **state)
{
    struct out o;
    (void)state;
    out_init(&o, WIRE_XML);
    out_int(&o, 42);
    out_int(&o, 4294967296);
    out_int(&o, 0);
    out_int(&o, -7);
    expect_text(&o, "<value>42</value><value>4294967296</value><value>0</value><value>-7</value>");
    out_done(&o);
}

static void test_out_xml_int_extremes(void **state)
{
    struct out o;
    (void)state;
    out_init(&o, WIRE_XML);
    out_int(&o, INT64_MIN);
    out_int(&o, INT64_MAX);
    expect_text(&o, "<value>-9223372036854775808</value><value>9223372036854775807</value>");
    out_done(&o);
}

static void test_out_xml_int_text(void **state)
{
    struct out o;
    (void)state;
    out_init(&o, WIRE_XML);
    out_int_text(&o, "-123");
    out_int_text(&o, "8589934592");
    expect_text(&o, "<value>-123</value><value>8589934592</value>");
    out_done(&o);
}

static void test_out_xml_int_text_invalid_is_zero(void **state)
{
    struct out o;
    (void)state;
    out_init(&o, WIRE_XML);
    out_int_text(&o, "12a");
    out_int_text(&o, "");
    out_int_text(&o, "-");
    out_int_text(&o, "<x>");
    out_int_text(&o, " 1");
    expect_text(&o, "<value>0</value><value>0</value><value>0</value><value>0</value>"
                    "<value>0</value>");
    out_done(&o);
}

static void test_out_xml_i4_is_tagged(void **state)
{
    struct out o;
    (void)state;
    out_init(&o, WIRE_XML);
    out_i4(&o, 3);
    out_i4(&o, INT32_MIN);
    expect_text(&o, "<value><i4>3</i4></value><value><i4>-2147483648</i4></value>");
    out_done(&o);
}

static void test_out_xml_double(void **state)
{
    struct out o;
    (void)state;
    out_init(&o, WIRE_XML);
    out_double(&o, 0.5);
    out_double(&o, 1.0 / 3.0);
    out_double(&o, 1e300);
    out_double(&o, 2);
    expect_text(&o, "<value><double>0.5</double></value>"
                    "<value><double>0.3333333333333333</double></value>"
                    "<value><double>1e+300</double></value>"
                    "<value><double>2</double></value>");
    out_done(&o);
}

static void test_out_xml_double_nonfinite_is_zero(void **state)
{
    struct out o;
    (void)state;
    out_init(&o, WIRE_XML);
    out_double(&o, INFINITY);
    out_double(&o, -INFINITY);
    out_double(&o, NAN);
    expect_text(&o, "<value><double>0</double></value><value><double>0</double></value>"
                    "<value><double>0</double></value>");
    out_done(&o);
}

static void test_out_xml_bool(void **state)
{
    struct out o;
    (void)state;
    out_init(&o, WIRE_XML);
    out_bool(&o, true);
    out_bool(&o, false);
    expect_text(&o, "<value><boolean>1</boolean></value><value><boolean>0</boolean></value>");
    out_done(&o);
}

static void test_out_xml_datetime(void **state)
{
    struct out o;
    (void)state;
    out_init(&o, WIRE_XML);
    out_datetime(&o, "20240420T12:00:00Z");
    expect_text(&o, "<value><dateTime.iso8601>20240420T12:00:00Z</dateTime.iso8601></value>");
    out_done(&o);
}

static void test_out_xml_void(void **state)
{
    struct out o;
    (void)state;
    out_init(&o, WIRE_XML);
    out_void(&o);
    expect_text(&o, "<value></value>");
    out_done(&o);
}

static void test_out_xml_empty_array(void **state)
{
    struct out o;
    (void)state;
    out_init(&o, WIRE_XML);
    out_array_begin(&o);
    out_array_end(&o);
    expect_text(&o, "<value><array><data></data></array></value>");
    out_done(&o);
}

static void test_out_xml_array(void **state)
{
    struct out o;
    (void)state;
    out_init(&o, WIRE_XML);
    out_array_begin(&o);
    out_string(&o, "a");
    out_int(&o, 1);
    out_array_end(&o);
    expect_text(&o, "<value><array><data><value>a</value><value>1</value></data></array></value>");
    out_done(&o);
}

static void test_out_xml_empty_struct(void **state)
{
    struct out o;
    (void)state;
    out_init(&o, WIRE_XML);
    out_struct_begin(&o);
    out_struct_end(&o);
    expect_text(&o, "<value><struct></struct></value>");
    out_done(&o);
}

static void test_out_xml_struct(void **state)
{
    struct out o;
    (void)state;
    out_init(&o, WIRE_XML);
    out_struct_begin(&o);
    out_member(&o, "name_label");
    out_string(&o, "vm");
    out_member(&o, "memory");
    out_int(&o, 1024);
    out_struct_end(&o);
    expect_text(&o, "<value><struct>"
                    "<member><name>name_label</name><value>vm</value></member>"
                    "<member><name>memory</name><value>1024</value></member>"
                    "</struct></value>");
    out_done(&o);
}

static void test_out_xml_member_name_escaped(void **state)
{
    struct out o;
    (void)state;
    out_init(&o, WIRE_XML);
    out_struct_begin(&o);
    out_member(&o, "a<&>b");
    out_bool(&o, true);
    out_struct_end(&o);
    expect_text(&o, "<value><struct><member><name>a&lt;&amp;&gt;b</name>"
                    "<value><boolean>1</boolean></value></member></struct></value>");
    out_done(&o);
}

static void test_out_xml_nested_containers(void **state)
{
    struct out o;
    (void)state;
    out_init(&o, WIRE_XML);
    out_struct_begin(&o);
    out_member(&o, "m");
    out_struct_begin(&o);
    out_member(&o, "k");
    out_string(&o, "v");
    out_struct_end(&o);
    out_member(&o, "l");
    out_array_begin(&o);
    out_struct_begin(&o);
    out_struct_end(&o);
    out_array_end(&o);
    out_struct_end(&o);
    expect_text(&o, "<value><struct>"
                    "<member><name>m</name><value><struct>"
                    "<member><name>k</name><value>v</value></member>"
                    "</struct></value></member>"
                    "<member><name>l</name><value><array><data>"
                    "<value><struct></struct></value>"
                    "</data></array></value></member>"
                    "</struct></value>");
    out_done(&o);
}

/* What the writer produces must be read back to the same tree by the
 * request decoder. */
static void test_out_xml_reads_back(void **state)
{
    struct out o;
    struct strbuf doc;
    struct rpc_call c;
    const char *why = NULL;
    (void)state;
    out_init(&o, WIRE_XML);
    out_struct_begin(&o);
    out_member(&o, "s");
    out_string(&o, "<&>\"\t\n");
    out_member(&o, "i");
    out_int(&o, -5);
    out_member(&o, "a");
    out_array_begin(&o);
    out_double(&o, 0.25);
    out_bool(&o, true);
    out_datetime(&o, "20240420T12:00:00Z");
    out_array_end(&o);
    out_struct_end(&o);

    strbuf_init(&doc, 0);
    strbuf_adds(&doc, "<methodCall><methodName>m</methodName><params><param>");
    strbuf_add(&doc, o.sb.buf, o.sb.len);
    strbuf_adds(&doc, "</param></params></methodCall>");
    assert_int_equal(xmlrpc_parse_call(doc.buf, doc.len, &c, &why), 0);
    assert_int_equal(c.n_params, 1);
    const struct xv *v = &c.params[0];
    assert_int_equal(v->kind, XV_STRUCT);
    assert_string_equal(xv_member(v, "s")->str.s, "<&>\"\t\n");
    assert_int_equal(xv_member(v, "i")->kind, XV_STRING); /* ints are bare text */
    assert_string_equal(xv_member(v, "i")->str.s, "-5");
    const struct xv *a = xv_member(v, "a");
    assert_int_equal(a->agg.n, 3);
    assert_true(a->agg.items[0].kind == XV_DOUBLE && a->agg.items[0].d == 0.25);
    assert_true(a->agg.items[1].kind == XV_BOOL && a->agg.items[1].b);
    assert_int_equal(a->agg.items[2].kind, XV_DATETIME);
    rpc_call_done(&c);
    strbuf_done(&doc);
    out_done(&o);
}

/* ---- JSON ---- */

static void test_out_json_string(void **state)
{
    struct out o;
    (void)state;
    out_init(&o, WIRE_JSON);
    out_string(&o, "Running");
    expect_text(&o, "\"Running\"");
    out_done(&o);
}

static void test_out_json_string_escapes(void **state)
{
    struct out o;
    (void)state;
    out_init(&o, WIRE_JSON);
    out_string(&o, "q\"b\\n\nt\tr\rc\x01<>&/");
    expect_text(&o, "\"q\\\"b\\\\n\\nt\\tr\\rc\\u0001<>&/\"");
    out_done(&o);
}

static void test_out_json_string_passes_utf8(void **state)
{
    struct out o;
    (void)state;
    out_init(&o, WIRE_JSON);
    out_string(&o, "caf\xc3\xa9 \xf0\x9f\x98\x80");
    expect_text(&o, "\"caf\xc3\xa9 \xf0\x9f\x98\x80\"");
    out_done(&o);
}

static void test_out_json_string_len_escapes_nul(void **state)
{
    struct out o;
    (void)state;
    out_init(&o, WIRE_JSON);
    out_string_len(&o, "a\0b", 3);
    expect_text(&o, "\"a\\u0000b\"");
    out_done(&o);
}

static void test_out_json_int_is_number(void **state)
{
    struct out o;
    (void)state;
    out_init(&o, WIRE_JSON);
    out_array_begin(&o);
    out_int(&o, 4294967296);
    out_int(&o, INT64_MIN);
    out_int(&o, INT64_MAX);
    out_i4(&o, -3);
    out_array_end(&o);
    expect_text(&o, "[4294967296,-9223372036854775808,9223372036854775807,-3]");
    out_done(&o);
}

static void test_out_json_int_text(void **state)
{
    struct out o;
    (void)state;
    out_init(&o, WIRE_JSON);
    out_array_begin(&o);
    out_int_text(&o, "-123");
    out_int_text(&o, "0");
    out_int_text(&o, "8589934592");
    out_array_end(&o);
    expect_text(&o, "[-123,0,8589934592]");
    out_done(&o);
}

static void test_out_json_int_text_invalid_is_zero(void **state)
{
    struct out o;
    (void)state;
    out_init(&o, WIRE_JSON);
    out_array_begin(&o);
    out_int_text(&o, "1.5");
    out_int_text(&o, "");
    out_int_text(&o, "--1");
    out_int_text(&o, "1e3");
    out_int_text(&o, "\"1\"");
    out_array_end(&o);
    expect_text(&o, "[0,0,0,0,0]");
    out_done(&o);
}

static void test_out_json_int_text_drops_leading_zeros(void **state)
{
    struct out o;
    (void)state;
    out_init(&o, WIRE_JSON);
    out_array_begin(&o);
    out_int_text(&o, "007");
    out_int_text(&o, "-0012");
    out_int_text(&o, "000");
    out_array_end(&o);
    expect_text(&o, "[7,-12,0]");
    out_done(&o);
}

static void test_out_json_double(void **state)
{
    struct out o;
    (void)state;
    out_init(&o, WIRE_JSON);
    out_array_begin(&o);
    out_double(&o, 0.1);
    out_double(&o, -2.5e-10);
    out_double(&o, INFINITY);
    out_double(&o, NAN);
    out_array_end(&o);
    expect_text(&o, "[0.1,-2.5e-10,0,0]");
    out_done(&o);
}

static void test_out_json_bool_datetime_void(void **state)
{
    struct out o;
    (void)state;
    out_init(&o, WIRE_JSON);
    out_array_begin(&o);
    out_bool(&o, true);
    out_bool(&o, false);
    out_datetime(&o, "20240420T12:00:00Z");
    out_void(&o);
    out_array_end(&o);
    expect_text(&o, "[true,false,\"20240420T12:00:00Z\",\"\"]");
    out_done(&o);
}

static void test_out_json_empty_containers(void **state)
{
    struct out o;
    (void)state;
    out_init(&o, WIRE_JSON);
    out_array_begin(&o);
    out_array_begin(&o);
    out_array_end(&o);
    out_struct_begin(&o);
    out_struct_end(&o);
    out_array_end(&o);
    expect_text(&o, "[[],{}]");
    out_done(&o);
}

static void test_out_json_struct_commas_and_colons(void **state)
{
    struct out o;
    (void)state;
    out_init(&o, WIRE_JSON);
    out_struct_begin(&o);
    out_member(&o, "a");
    out_int(&o, 1);
    out_member(&o, "b");
    out_struct_begin(&o);
    out_member(&o, "c");
    out_array_begin(&o);
    out_string(&o, "x");
    out_string(&o, "y");
    out_array_end(&o);
    out_member(&o, "d");
    out_struct_begin(&o);
    out_struct_end(&o);
    out_struct_end(&o);
    out_member(&o, "e\"");
    out_void(&o);
    out_struct_end(&o);
    expect_text(&o, "{\"a\":1,\"b\":{\"c\":[\"x\",\"y\"],\"d\":{}},\"e\\\"\":\"\"}");
    out_done(&o);
}

static void test_out_reset_drops_output_and_state(void **state)
{
    struct out o;
    (void)state;
    out_init(&o, WIRE_JSON);
    out_struct_begin(&o);
    out_member(&o, "a");
    out_reset(&o);
    out_array_begin(&o);
    out_int(&o, 1);
    out_array_end(&o);
    expect_text(&o, "[1]");
    out_done(&o);
}

/* Many records with every kind of value, through a strict JSON parser. */
static void test_out_json_is_valid_json(void **state)
{
    struct out o;
    (void)state;
    out_init(&o, WIRE_JSON);
    out_struct_begin(&o);
    for (int i = 0; i < 1000; i++) {
        char ref[64];
        snprintf(ref, sizeof(ref), "OpaqueRef:%d", i);
        out_member(&o, ref);
        out_struct_begin(&o);
        out_member(&o, "name");
        out_string(&o, "ctl\x01\x1f\"\\ \xc3\xa9");
        out_member(&o, "n");
        out_int(&o, (int64_t)i * -1000000007);
        out_member(&o, "t");
        out_int_text(&o, "x");
        out_member(&o, "f");
        out_double(&o, i / 7.0);
        out_member(&o, "l");
        out_array_begin(&o);
        out_bool(&o, i & 1);
        out_void(&o);
        out_i4(&o, i);
        out_array_end(&o);
        out_struct_end(&o);
    }
    out_struct_end(&o);

    struct json_tokener *tok = json_tokener_new();
    json_tokener_set_flags(tok, JSON_TOKENER_STRICT);
    struct json_object *j = json_tokener_parse_ex(tok, o.sb.buf, (int)o.sb.len);
    assert_int_equal(json_tokener_get_error(tok), json_tokener_success);
    assert_int_equal(json_tokener_get_parse_end(tok), o.sb.len);
    assert_int_equal(json_object_object_length(j), 1000);
    struct json_object *r, *name;
    assert_true(json_object_object_get_ex(j, "OpaqueRef:7", &r));
    assert_true(json_object_object_get_ex(r, "name", &name));
    assert_string_equal(json_object_get_string(name), "ctl\x01\x1f\"\\ \xc3\xa9");
    json_object_put(j);
    json_tokener_free(tok);
    out_done(&o);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_out_xml_string_is_bare_value),
        cmocka_unit_test(test_out_xml_string_escapes),
        cmocka_unit_test(test_out_xml_string_drops_control_chars),
        cmocka_unit_test(test_out_xml_string_keeps_tab_lf_cr),
        cmocka_unit_test(test_out_xml_string_passes_utf8),
        cmocka_unit_test(test_out_xml_string_len_drops_nul),
        cmocka_unit_test(test_out_xml_empty_string),
        cmocka_unit_test(test_out_xml_int_is_bare_decimal),
        cmocka_unit_test(test_out_xml_int_extremes),
        cmocka_unit_test(test_out_xml_int_text),
        cmocka_unit_test(test_out_xml_int_text_invalid_is_zero),
        cmocka_unit_test(test_out_xml_i4_is_tagged),
        cmocka_unit_test(test_out_xml_double),
        cmocka_unit_test(test_out_xml_double_nonfinite_is_zero),
        cmocka_unit_test(test_out_xml_bool),
        cmocka_unit_test(test_out_xml_datetime),
        cmocka_unit_test(test_out_xml_void),
        cmocka_unit_test(test_out_xml_empty_array),
        cmocka_unit_test(test_out_xml_array),
        cmocka_unit_test(test_out_xml_empty_struct),
        cmocka_unit_test(test_out_xml_struct),
        cmocka_unit_test(test_out_xml_member_name_escaped),
        cmocka_unit_test(test_out_xml_nested_containers),
        cmocka_unit_test(test_out_xml_reads_back),
        cmocka_unit_test(test_out_json_string),
        cmocka_unit_test(test_out_json_string_escapes),
        cmocka_unit_test(test_out_json_string_passes_utf8),
        cmocka_unit_test(test_out_json_string_len_escapes_nul),
        cmocka_unit_test(test_out_json_int_is_number),
        cmocka_unit_test(test_out_json_int_text),
        cmocka_unit_test(test_out_json_int_text_invalid_is_zero),
        cmocka_unit_test(test_out_json_int_text_drops_leading_zeros),
        cmocka_unit_test(test_out_json_double),
        cmocka_unit_test(test_out_json_bool_datetime_void),
        cmocka_unit_test(test_out_json_empty_containers),
        cmocka_unit_test(test_out_json_struct_commas_and_colons),
        cmocka_unit_test(test_out_reset_drops_output_and_state),
        cmocka_unit_test(test_out_json_is_valid_json),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
