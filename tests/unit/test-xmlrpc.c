/* Unit tests of the XML-RPC codec (xapi-c/xmlrpc.c, rpc.c, xv.c): every
 * value form a client may send, pretty-printed requests, hostile documents
 * (DOCTYPEs, entity bombs, external entities, deep nesting, truncated and
 * binary bodies), and the response envelopes byte for byte. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "lib/strbuf.h"
#include "lib/util.h"
#include "xapi-c/rpc.h"

/* Why the last parse_params() failed. */
static const char *last_why;

/* A call of method "m" with the given <param> contents. */
static int parse_params(const char *params, struct rpc_call *c)
{
    struct strbuf sb;
    const char *why = NULL;
    strbuf_init(&sb, 0);
    strbuf_addf(&sb,
                "<?xml version=\"1.0\"?><methodCall><methodName>m</methodName>"
                "<params>%s</params></methodCall>",
                params);
    int r = xmlrpc_parse_call(sb.buf, sb.len, c, &why);
    if (r < 0)
        assert_non_null(why);
    last_why = why;
    strbuf_done(&sb);
    return r;
}

/* Parses a call with one parameter, given as its <value> element. */
static const struct xv *parse_one(const char *value, struct rpc_call *c)
{
    struct strbuf sb;
    strbuf_init(&sb, 0);
    strbuf_addf(&sb, "<param>%s</param>", value);
    assert_int_equal(parse_params(sb.buf, c), 0);
    strbuf_done(&sb);
    assert_int_equal(c->n_params, 1);
    return &c->params[0];
}

/* The body must be refused, with a reason, and ret left alone. */
static void expect_refused_len(const char *body, size_t len)
{
    struct rpc_call c = {.method = (char *)"untouched"};
    const char *why = NULL;
    assert_int_equal(xmlrpc_parse_call(body, len, &c, &why), -EINVAL);
    assert_non_null(why);
    assert_string_equal(c.method, "untouched");
}

static void expect_refused(const char *body)
{
    expect_refused_len(body, strlen(body));
}

static void expect_param_refused(const char *value)
{
    struct rpc_call c;
    struct strbuf sb;
    strbuf_init(&sb, 0);
    strbuf_addf(&sb, "<param>%s</param>", value);
    assert_int_equal(parse_params(sb.buf, &c), -EINVAL);
    strbuf_done(&sb);
}

static void check_string(const struct xv *v, const char *s, size_t len)
{
    assert_int_equal(v->kind, XV_STRING);
    assert_int_equal(v->str.len, len);
    assert_memory_equal(v->str.s, s, len);
    assert_int_equal(v->str.s[len], '\0');
}

/* ---- Calls ---- */

static void test_xmlrpc_method_without_params(void **state)
{
    static const char body[] =
        "<?xml version=\"1.0\"?><methodCall><methodName>system.listMethods</methodName>"
        "</methodCall>";
    struct rpc_call c;
    (void)state;
    assert_int_equal(xmlrpc_parse_call(body, strlen(body), &c, NULL), 0);
    assert_string_equal(c.method, "system.listMethods");
    assert_int_equal(c.n_params, 0);
    assert_null(c.json_id);
    rpc_call_done(&c);
}

static void test_xmlrpc_empty_params(void **state)
{
    struct rpc_call c;
    (void)state;
    assert_int_equal(parse_params("", &c), 0);
    assert_string_equal(c.method, "m");
    assert_int_equal(c.n_params, 0);
    rpc_call_done(&c);
}

static void test_xmlrpc_params_in_order(void **state)
{
    struct rpc_call c;
    (void)state;
    assert_int_equal(parse_params("<param><value>OpaqueRef:s</value></param>"
                                  "<param><value><string>OpaqueRef:v</string></value></param>",
                                  &c),
                     0);
    assert_int_equal(c.n_params, 2);
    check_string(&c.params[0], "OpaqueRef:s", 11);
    check_string(&c.params[1], "OpaqueRef:v", 11);
    rpc_call_done(&c);
}

static void test_xmlrpc_without_xml_declaration(void **state)
{
    static const char body[] = "<methodCall><methodName>a.b</methodName></methodCall>";
    struct rpc_call c;
    (void)state;
    assert_int_equal(xmlrpc_parse_call(body, strlen(body), &c, NULL), 0);
    assert_string_equal(c.method, "a.b");
    rpc_call_done(&c);
}

/* What Python's xmlrpc.client sends: a newline after nearly every tag. */
static void test_xmlrpc_pretty_printed_call(void **state)
{
    static const char body[] = "<?xml version='1.0'?>\n"
                               "<methodCall>\n"
                               "<methodName>VM.create</methodName>\n"
                               "<params>\n"
                               "<param>\n"
                               "<value><string>OpaqueRef:s</string></value>\n"
                               "</param>\n"
                               "<param>\n"
                               "<value><struct>\n"
                               "<member>\n"
                               "<name>name_label</name>\n"
                               "<value><string>vm</string></value>\n"
                               "</member>\n"
                               "<member>\n"
                               "<name>tags</name>\n"
                               "<value><array><data>\n"
                               "<value><string>a</string></value>\n"
                               "<value><int>1</int></value>\n"
                               "</data></array></value>\n"
                               "</member>\n"
                               "</struct></value>\n"
                               "</param>\n"
                               "</params>\n"
                               "</methodCall>\n";
    struct rpc_call c;
    (void)state;
    assert_int_equal(xmlrpc_parse_call(body, strlen(body), &c, NULL), 0);
    assert_string_equal(c.method, "VM.create");
    assert_int_equal(c.n_params, 2);
    const struct xv *rec = &c.params[1];
    assert_int_equal(rec->kind, XV_STRUCT);
    assert_int_equal(rec->agg.n, 2);
    check_string(xv_member(rec, "name_label"), "vm", 2);
    const struct xv *tags = xv_member(rec, "tags");
    assert_int_equal(tags->kind, XV_ARRAY);
    assert_int_equal(tags->agg.n, 2);
    check_string(&tags->agg.items[0], "a", 1);
    assert_int_equal(tags->agg.items[1].kind, XV_INT);
    assert_int_equal(tags->agg.items[1].i, 1);
    rpc_call_done(&c);
}

static void test_xmlrpc_whitespace_around_value_element(void **state)
{
    struct rpc_call c;
    (void)state;
    const struct xv *v = parse_one("<value>\n  <i4>5</i4>\n</value>", &c);
    assert_int_equal(v->kind, XV_INT);
    assert_int_equal(v->i, 5);
    rpc_call_done(&c);
}

static void test_xmlrpc_comments_ignored(void **state)
{
    struct rpc_call c;
    (void)state;
    const struct xv *v = parse_one("<!-- c --><value>ab<!-- c -->cd</value>", &c);
    check_string(v, "abcd", 4);
    rpc_call_done(&c);
}

static void test_xmlrpc_latin1_converted_to_utf8(void **state)
{
    static const char body[] = "<?xml version=\"1.0\" encoding=\"ISO-8859-1\"?>"
                               "<methodCall><methodName>m</methodName><params>"
                               "<param><value>caf\xe9</value></param></params></methodCall>";
    struct rpc_call c;
    (void)state;
    assert_int_equal(xmlrpc_parse_call(body, strlen(body), &c, NULL), 0);
    check_string(&c.params[0], "caf\xc3\xa9", 5);
    rpc_call_done(&c);
}

static void test_xmlrpc_many_params(void **state)
{
    struct strbuf sb;
    struct rpc_call c;
    (void)state;
    strbuf_init(&sb, 0);
    for (int i = 0; i < 10000; i++)
        strbuf_addf(&sb, "<param><value><int>%d</int></value></param>", i);
    assert_int_equal(parse_params(sb.buf, &c), 0);
    assert_int_equal(c.n_params, 10000);
    assert_int_equal(c.params[9999].i, 9999);
    rpc_call_done(&c);
    strbuf_done(&sb);
}

static void test_xmlrpc_huge_string_param(void **state)
{
    const size_t n = 4 << 20;
    struct strbuf sb;
    struct rpc_call c;
    (void)state;
    strbuf_init(&sb, n + 64);
    strbuf_adds(&sb, "<value>");
    for (size_t i = 0; i < n; i++)
        strbuf_addc(&sb, (char)('a' + i % 26));
    strbuf_adds(&sb, "</value>");
    const struct xv *v = parse_one(sb.buf, &c);
    assert_int_equal(v->kind, XV_STRING);
    assert_int_equal(v->str.len, n);
    assert_memory_equal(v->str.s, sb.buf + 7, n);
    rpc_call_done(&c);
    strbuf_done(&sb);
}

/* ---- Strings ---- */

static void test_xmlrpc_bare_string_param(void **state)
{
    struct rpc_call c;
    (void)state;
    check_string(parse_one("<value>Halted</value>", &c), "Halted", 6);
    rpc_call_done(&c);
}

static void test_xmlrpc_string_tag_param(void **state)
{
    struct rpc_call c;
    (void)state;
    check_string(parse_one("<value><string>Halted</string></value>", &c), "Halted", 6);
    rpc_call_done(&c);
}

static void test_xmlrpc_empty_value_element_is_empty_string(void **state)
{
    struct rpc_call c;
    (void)state;
    check_string(parse_one("<value/>", &c), "", 0);
    rpc_call_done(&c);
}

static void test_xmlrpc_empty_value_pair_is_empty_string(void **state)
{
    struct rpc_call c;
    (void)state;
    check_string(parse_one("<value></value>", &c), "", 0);
    rpc_call_done(&c);
}

static void test_xmlrpc_empty_string_tag(void **state)
{
    struct rpc_call c;
    (void)state;
    check_string(parse_one("<value><string/></value>", &c), "", 0);
    rpc_call_done(&c);
}

static void test_xmlrpc_bare_string_keeps_whitespace(void **state)
{
    struct rpc_call c;
    (void)state;
    check_string(parse_one("<value>  a b\t\n </value>", &c), "  a b\t\n ", 8);
    rpc_call_done(&c);
}

static void test_xmlrpc_string_tag_keeps_whitespace(void **state)
{
    struct rpc_call c;
    (void)state;
    check_string(parse_one("<value><string> \n </string></value>", &c), " \n ", 3);
    rpc_call_done(&c);
}

static void test_xmlrpc_string_entities_decoded(void **state)
{
    struct rpc_call c;
    (void)state;
    check_string(parse_one("<value>&lt;&amp;&gt;&quot;&apos;&#65;&#x263A;&#13;</value>", &c),
                 "<&>\"'A\xe2\x98\xba\r", 10);
    rpc_call_done(&c);
}

static void test_xmlrpc_string_cdata(void **state)
{
    struct rpc_call c;
    (void)state;
    check_string(parse_one("<value><string>a<![CDATA[<b>&c]]>d</string></value>", &c), "a<b>&cd",
                 7);
    rpc_call_done(&c);
}

static void test_xmlrpc_string_utf8_byte_exact(void **state)
{
    struct rpc_call c;
    (void)state;
    check_string(parse_one("<value>\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80</value>", &c),
                 "\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80", 9);
    rpc_call_done(&c);
}

static void test_xmlrpc_string_with_markup_refused(void **state)
{
    (void)state;
    expect_param_refused("<value><string>a<b/>c</string></value>");
}

/* ---- Integers ---- */

static void test_xmlrpc_i4_param(void **state)
{
    struct rpc_call c;
    (void)state;
    const struct xv *v = parse_one("<value><i4>-42</i4></value>", &c);
    assert_int_equal(v->kind, XV_INT);
    assert_int_equal(v->i, -42);
    rpc_call_done(&c);
}

static void test_xmlrpc_int_param(void **state)
{
    struct rpc_call c;
    (void)state;
    const struct xv *v = parse_one("<value><int>+7</int></value>", &c);
    assert_int_equal(v->kind, XV_INT);
    assert_int_equal(v->i, 7);
    rpc_call_done(&c);
}

static void test_xmlrpc_i8_param(void **state)
{
    struct rpc_call c;
    (void)state;
    const struct xv *v = parse_one("<value><i8>4294967296</i8></value>", &c);
    assert_int_equal(v->kind, XV_INT);
    assert_int_equal(v->i, 4294967296);
    rpc_call_done(&c);
}

static void test_xmlrpc_i8_extremes(void **state)
{
    struct rpc_call c;
    (void)state;
    assert_int_equal(parse_params("<param><value><i8>9223372036854775807</i8></value></param>"
                                  "<param><value><i8>-9223372036854775808</i8></value></param>",
                                  &c),
                     0);
    assert_true(c.params[0].i == INT64_MAX);
    assert_true(c.params[1].i == INT64_MIN);
    rpc_call_done(&c);
}

static void test_xmlrpc_i8_out_of_range_refused(void **state)
{
    (void)state;
    expect_param_refused("<value><i8>9223372036854775808</i8></value>");
    assert_string_equal(last_why, "integer out of range");
    expect_param_refused("<value><i8>-9223372036854775809</i8></value>");
    assert_string_equal(last_why, "integer out of range");
    expect_param_refused("<value><i8>99999999999999999999999</i8></value>");
    assert_string_equal(last_why, "integer out of range");
}

static void test_xmlrpc_int_tolerates_surrounding_whitespace(void **state)
{
    struct rpc_call c;
    (void)state;
    const struct xv *v = parse_one("<value><int>\n 12 \t</int></value>", &c);
    assert_int_equal(v->kind, XV_INT);
    assert_int_equal(v->i, 12);
    rpc_call_done(&c);
}

static void test_xmlrpc_malformed_int_refused(void **state)
{
    (void)state;
    expect_param_refused("<value><int></int></value>");
    expect_param_refused("<value><int>-</int></value>");
    expect_param_refused("<value><int>1 2</int></value>");
    expect_param_refused("<value><int>0x10</int></value>");
    expect_param_refused("<value><i4>1.0</i4></value>");
}

/* Clients send ints that do not fit 32 bits as strings; they stay strings
 * here and the marshaller turns them into ints. */
static void test_xmlrpc_int_as_string_param(void **state)
{
    struct rpc_call c;
    (void)state;
    check_string(parse_one("<value><string>4294967296</string></value>", &c), "4294967296", 10);
    rpc_call_done(&c);
}

/* ---- Other scalars ---- */

static void test_xmlrpc_double_param(void **state)
{
    struct rpc_call c;
    (void)state;
    const struct xv *v = parse_one("<value><double>-0.25</double></value>", &c);
    assert_int_equal(v->kind, XV_DOUBLE);
    assert_true(v->d == -0.25);
    rpc_call_done(&c);
}

static void test_xmlrpc_double_with_exponent(void **state)
{
    struct rpc_call c;
    (void)state;
    const struct xv *v = parse_one("<value><double> 1.5e3 </double></value>", &c);
    assert_int_equal(v->kind, XV_DOUBLE);
    assert_true(v->d == 1500.0);
    rpc_call_done(&c);
}

static void test_xmlrpc_double_with_many_digits(void **state)
{
    struct strbuf sb;
    struct rpc_call c;
    (void)state;
    strbuf_init(&sb, 0);
    strbuf_adds(&sb, "<value><double>0.");
    for (int i = 0; i < 300; i++)
        strbuf_addc(&sb, '0');
    strbuf_adds(&sb, "5e300</double></value>");
    const struct xv *v = parse_one(sb.buf, &c);
    assert_int_equal(v->kind, XV_DOUBLE);
    assert_true(v->d > 4.9e-1 && v->d < 5.1e-1);
    rpc_call_done(&c);
    strbuf_done(&sb);
}

static void test_xmlrpc_malformed_double_refused(void **state)
{
    (void)state;
    expect_param_refused("<value><double></double></value>");
    expect_param_refused("<value><double>abc</double></value>");
    expect_param_refused("<value><double>1e</double></value>");
    expect_param_refused("<value><double>0x1p3</double></value>");
}

static void test_xmlrpc_nonfinite_double_refused(void **state)
{
    (void)state;
    expect_param_refused("<value><double>inf</double></value>");
    expect_param_refused("<value><double>nan</double></value>");
    expect_param_refused("<value><double>1e999</double></value>");
}

static void test_xmlrpc_boolean_one_is_true(void **state)
{
    struct rpc_call c;
    (void)state;
    const struct xv *v = parse_one("<value><boolean>1</boolean></value>", &c);
    assert_int_equal(v->kind, XV_BOOL);
    assert_true(v->b);
    rpc_call_done(&c);
}

static void test_xmlrpc_boolean_zero_is_false(void **state)
{
    struct rpc_call c;
    (void)state;
    const struct xv *v = parse_one("<value><boolean>0</boolean></value>", &c);
    assert_int_equal(v->kind, XV_BOOL);
    assert_false(v->b);
    rpc_call_done(&c);
}

static void test_xmlrpc_boolean_other_text_is_false(void **state)
{
    struct rpc_call c;
    (void)state;
    assert_int_equal(parse_params("<param><value><boolean>true</boolean></value></param>"
                                  "<param><value><boolean></boolean></value></param>"
                                  "<param><value><boolean> 1</boolean></value></param>",
                                  &c),
                     0);
    for (size_t i = 0; i < c.n_params; i++) {
        assert_int_equal(c.params[i].kind, XV_BOOL);
        assert_false(c.params[i].b);
    }
    rpc_call_done(&c);
}

static void test_xmlrpc_datetime_kept_as_text(void **state)
{
    struct rpc_call c;
    (void)state;
    const struct xv *v =
        parse_one("<value><dateTime.iso8601>20240420T12:00:00Z</dateTime.iso8601></value>", &c);
    assert_int_equal(v->kind, XV_DATETIME);
    assert_string_equal(v->str.s, "20240420T12:00:00Z");
    assert_int_equal(v->str.len, 18);
    rpc_call_done(&c);
}

static void test_xmlrpc_base64_kept_as_text(void **state)
{
    struct rpc_call c;
    (void)state;
    const struct xv *v = parse_one("<value><base64>aGVs\nbG8=\n</base64></value>", &c);
    assert_int_equal(v->kind, XV_BASE64);
    assert_string_equal(v->str.s, "aGVs\nbG8=\n");
    rpc_call_done(&c);
}

static void test_xmlrpc_nil_param(void **state)
{
    struct rpc_call c;
    (void)state;
    assert_int_equal(parse_params("<param><value><nil/></value></param>"
                                  "<param><value><nil></nil></value></param>",
                                  &c),
                     0);
    assert_int_equal(c.params[0].kind, XV_NIL);
    assert_int_equal(c.params[1].kind, XV_NIL);
    rpc_call_done(&c);
}

static void test_xmlrpc_nil_with_content_refused(void **state)
{
    (void)state;
    expect_param_refused("<value><nil>x</nil></value>");
}

static void test_xmlrpc_unknown_type_refused(void **state)
{
    (void)state;
    expect_param_refused("<value><float>1</float></value>");
    expect_param_refused("<value><ex:i8 xmlns:ex=\"x\">1</ex:i8><foo/></value>");
}

static void test_xmlrpc_two_typed_elements_refused(void **state)
{
    (void)state;
    expect_param_refused("<value><string>a</string><string>b</string></value>");
}

static void test_xmlrpc_text_beside_typed_element_refused(void **state)
{
    (void)state;
    expect_param_refused("<value>x<string>a</string></value>");
}

/* ---- Arrays and structs ---- */

static void test_xmlrpc_array_param(void **state)
{
    struct rpc_call c;
    (void)state;
    const struct xv *v = parse_one("<value><array><data><value>a</value><value><i4>2</i4></value>"
                                   "<value><boolean>1</boolean></value></data></array></value>",
                                   &c);
    assert_int_equal(v->kind, XV_ARRAY);
    assert_int_equal(v->agg.n, 3);
    assert_null(v->agg.keys);
    check_string(&v->agg.items[0], "a", 1);
    assert_int_equal(v->agg.items[1].i, 2);
    assert_true(v->agg.items[2].b);
    rpc_call_done(&c);
}

static void test_xmlrpc_empty_array(void **state)
{
    struct rpc_call c;
    (void)state;
    const struct xv *v = parse_one("<value><array><data/></array></value>", &c);
    assert_int_equal(v->kind, XV_ARRAY);
    assert_int_equal(v->agg.n, 0);
    rpc_call_done(&c);
}

static void test_xmlrpc_array_without_data_refused(void **state)
{
    (void)state;
    expect_param_refused("<value><array></array></value>");
    expect_param_refused("<value><array><value>a</value></array></value>");
    expect_param_refused("<value><array><data/><data/></array></value>");
}

static void test_xmlrpc_array_data_holds_only_values(void **state)
{
    (void)state;
    expect_param_refused("<value><array><data><string>a</string></data></array></value>");
    expect_param_refused("<value><array><data>text</data></array></value>");
}

static void test_xmlrpc_struct_param(void **state)
{
    struct rpc_call c;
    (void)state;
    const struct xv *v = parse_one("<value><struct>"
                                   "<member><name>b</name><value>x</value></member>"
                                   "<member><value><i4>1</i4></value><name>a</name></member>"
                                   "</struct></value>",
                                   &c);
    assert_int_equal(v->kind, XV_STRUCT);
    assert_int_equal(v->agg.n, 2);
    assert_string_equal(v->agg.keys[0], "b");
    assert_string_equal(v->agg.keys[1], "a");
    check_string(&v->agg.items[0], "x", 1);
    assert_int_equal(v->agg.items[1].i, 1);
    rpc_call_done(&c);
}

static void test_xmlrpc_empty_struct(void **state)
{
    struct rpc_call c;
    (void)state;
    const struct xv *v = parse_one("<value><struct/></value>", &c);
    assert_int_equal(v->kind, XV_STRUCT);
    assert_int_equal(v->agg.n, 0);
    rpc_call_done(&c);
}

static void test_xmlrpc_member_name_decoded(void **state)
{
    struct rpc_call c;
    (void)state;
    const struct xv *v = parse_one(
        "<value><struct><member><name>a&amp;b</name><value/></member></struct></value>", &c);
    assert_string_equal(v->agg.keys[0], "a&b");
    assert_non_null(xv_member(v, "a&b"));
    rpc_call_done(&c);
}

static void test_xmlrpc_member_without_name_refused(void **state)
{
    (void)state;
    expect_param_refused("<value><struct><member><value>x</value></member></struct></value>");
}

static void test_xmlrpc_member_without_value_refused(void **state)
{
    (void)state;
    expect_param_refused("<value><struct><member><name>a</name></member></struct></value>");
}

static void test_xmlrpc_member_with_extra_element_refused(void **state)
{
    (void)state;
    expect_param_refused("<value><struct><member><name>a</name><value/><value/></member>"
                         "</struct></value>");
    expect_param_refused("<value><struct><foo/></struct></value>");
}

static void test_xmlrpc_nested_struct_in_array(void **state)
{
    struct rpc_call c;
    (void)state;
    const struct xv *v =
        parse_one("<value><array><data><value><struct><member><name>k</name><value><array>"
                  "<data><value>deep</value></data></array></value></member></struct></value>"
                  "</data></array></value>",
                  &c);
    const struct xv *k = xv_member(&v->agg.items[0], "k");
    assert_non_null(k);
    check_string(&k->agg.items[0], "deep", 4);
    rpc_call_done(&c);
}

/* n arrays nested in one another around a string. */
static char *nested_arrays(int n)
{
    struct strbuf sb;
    strbuf_init(&sb, 0);
    strbuf_adds(&sb, "<param>");
    for (int i = 0; i < n; i++)
        strbuf_adds(&sb, "<value><array><data>");
    strbuf_adds(&sb, "<value>x</value>");
    for (int i = 0; i < n; i++)
        strbuf_adds(&sb, "</data></array></value>");
    strbuf_adds(&sb, "</param>");
    char *s = strbuf_detach(&sb, NULL);
    strbuf_done(&sb);
    return s;
}

static void test_xmlrpc_accepts_max_depth(void **state)
{
    struct rpc_call c;
    char *p = nested_arrays(XV_MAX_DEPTH);
    (void)state;
    assert_int_equal(parse_params(p, &c), 0);
    const struct xv *v = &c.params[0];
    for (int i = 0; i < XV_MAX_DEPTH; i++) {
        assert_int_equal(v->kind, XV_ARRAY);
        v = &v->agg.items[0];
    }
    check_string(v, "x", 1);
    rpc_call_done(&c);
    free(p);
}

static void test_xmlrpc_refuses_deep_nesting(void **state)
{
    struct rpc_call c;
    char *p = nested_arrays(XV_MAX_DEPTH + 1);
    (void)state;
    assert_int_equal(parse_params(p, &c), -EINVAL);
    assert_string_equal(last_why, "values nested too deep");
    free(p);
}

static void test_xmlrpc_refuses_deep_struct_nesting(void **state)
{
    struct strbuf sb;
    struct rpc_call c;
    (void)state;
    strbuf_init(&sb, 0);
    strbuf_adds(&sb, "<param>");
    for (int i = 0; i <= XV_MAX_DEPTH; i++)
        strbuf_adds(&sb, "<value><struct><member><name>a</name>");
    strbuf_adds(&sb, "<value/>");
    for (int i = 0; i <= XV_MAX_DEPTH; i++)
        strbuf_adds(&sb, "</member></struct></value>");
    strbuf_adds(&sb, "</param>");
    assert_int_equal(parse_params(sb.buf, &c), -EINVAL);
    assert_string_equal(last_why, "values nested too deep");
    strbuf_done(&sb);
}

static void test_xmlrpc_refuses_very_deep_document(void **state)
{
    char *p = nested_arrays(100000);
    struct rpc_call c;
    (void)state;
    assert_int_equal(parse_params(p, &c), -EINVAL);
    free(p);
}

/* ---- Malformed and hostile documents ---- */

static void test_xmlrpc_empty_body_refused(void **state)
{
    (void)state;
    expect_refused_len("", 0);
    expect_refused("   \n");
}

static void test_xmlrpc_wrong_root_refused(void **state)
{
    (void)state;
    expect_refused("<methodResponse><params/></methodResponse>");
}

static void test_xmlrpc_missing_method_name_refused(void **state)
{
    (void)state;
    expect_refused("<methodCall><params/></methodCall>");
}

static void test_xmlrpc_two_method_names_refused(void **state)
{
    (void)state;
    expect_refused("<methodCall><methodName>a</methodName><methodName>b</methodName>"
                   "</methodCall>");
}

static void test_xmlrpc_method_name_with_markup_refused(void **state)
{
    (void)state;
    expect_refused("<methodCall><methodName>a<b/></methodName></methodCall>");
}

static void test_xmlrpc_text_in_call_refused(void **state)
{
    (void)state;
    expect_refused("<methodCall>x<methodName>a</methodName></methodCall>");
}

static void test_xmlrpc_param_without_value_refused(void **state)
{
    struct rpc_call c;
    (void)state;
    assert_int_equal(parse_params("<param></param>", &c), -EINVAL);
    assert_int_equal(parse_params("<param><string>a</string></param>", &c), -EINVAL);
    assert_int_equal(parse_params("<value>a</value>", &c), -EINVAL);
}

static void test_xmlrpc_every_truncation_refused(void **state)
{
    static const char body[] = "<?xml version=\"1.0\"?>\n<methodCall><methodName>VM.start"
                               "</methodName><params><param><value><struct><member><name>a"
                               "</name><value><array><data><value><i4>1</i4></value></data>"
                               "</array></value></member></struct></value></param></params>"
                               "</methodCall>";
    (void)state;
    for (size_t len = 0; len < strlen(body); len++)
        expect_refused_len(body, len);
}

static void test_xmlrpc_binary_garbage_refused(void **state)
{
    char buf[512];
    unsigned x = 12345;
    (void)state;
    for (int round = 0; round < 200; round++) {
        for (size_t i = 0; i < sizeof(buf); i++) {
            x = x * 1103515245 + 12345;
            buf[i] = (char)(x >> 16);
        }
        expect_refused_len(buf, (size_t)(round * 7) % sizeof(buf) + 1);
    }
}

static void test_xmlrpc_embedded_nul_refused(void **state)
{
    static const char body[] = "<methodCall><methodName>a\0b</methodName></methodCall>";
    (void)state;
    expect_refused_len(body, sizeof(body) - 1);
}

static void test_xmlrpc_invalid_utf8_refused(void **state)
{
    (void)state;
    expect_refused("<methodCall><methodName>a\xff\xfe</methodName></methodCall>");
}

static void test_xmlrpc_refuses_doctype(void **state)
{
    (void)state;
    expect_refused("<?xml version=\"1.0\"?><!DOCTYPE methodCall>"
                   "<methodCall><methodName>m</methodName></methodCall>");
}

static void test_xmlrpc_refuses_internal_subset(void **state)
{
    (void)state;
    expect_refused("<!DOCTYPE methodCall [<!ELEMENT methodCall ANY>]>"
                   "<methodCall><methodName>m</methodName></methodCall>");
}

static void test_xmlrpc_refuses_billion_laughs(void **state)
{
    static const char body[] =
        "<?xml version=\"1.0\"?>\n"
        "<!DOCTYPE lolz [\n"
        " <!ENTITY lol \"lol\">\n"
        " <!ENTITY lol1 \"&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;\">\n"
        " <!ENTITY lol2 \"&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;\">\n"
        " <!ENTITY lol3 \"&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;\">\n"
        " <!ENTITY lol4 \"&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;\">\n"
        " <!ENTITY lol5 \"&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;\">\n"
        " <!ENTITY lol6 \"&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;\">\n"
        " <!ENTITY lol7 \"&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;\">\n"
        " <!ENTITY lol8 \"&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;\">\n"
        " <!ENTITY lol9 \"&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;\">\n"
        "]>\n"
        "<methodCall><methodName>m</methodName><params><param><value>&lol9;</value></param>"
        "</params></methodCall>";
    struct rpc_call c;
    const char *why = NULL;
    (void)state;
    assert_int_equal(xmlrpc_parse_call(body, strlen(body), &c, &why), -EINVAL);
    assert_string_equal(why, "a DOCTYPE is not allowed");
}

static void test_xmlrpc_refuses_external_entity(void **state)
{
    static const char body[] = "<?xml version=\"1.0\"?>\n"
                               "<!DOCTYPE foo [<!ENTITY xxe SYSTEM \"file:///etc/passwd\">]>\n"
                               "<methodCall><methodName>&xxe;</methodName></methodCall>";
    struct rpc_call c;
    const char *why = NULL;
    (void)state;
    assert_int_equal(xmlrpc_parse_call(body, strlen(body), &c, &why), -EINVAL);
    assert_string_equal(why, "a DOCTYPE is not allowed");
}

static void test_xmlrpc_refuses_external_parameter_entity(void **state)
{
    (void)state;
    expect_refused("<!DOCTYPE foo [<!ENTITY % p SYSTEM \"http://127.0.0.1:1/x.dtd\"> %p;]>"
                   "<methodCall><methodName>m</methodName></methodCall>");
}

static void test_xmlrpc_refuses_external_dtd(void **state)
{
    (void)state;
    expect_refused("<!DOCTYPE methodCall SYSTEM \"file:///etc/passwd\">"
                   "<methodCall><methodName>m</methodName></methodCall>");
}

static void test_xmlrpc_refuses_undeclared_entity(void **state)
{
    (void)state;
    expect_refused("<methodCall><methodName>&foo;</methodName></methodCall>");
}

/* XInclude is never processed: an include element is just an unexpected
 * element. */
static void test_xmlrpc_ignores_xinclude(void **state)
{
    (void)state;
    expect_refused("<methodCall xmlns:xi=\"http://www.w3.org/2001/XInclude\"><methodName>"
                   "<xi:include href=\"/etc/passwd\" parse=\"text\"/></methodName></methodCall>");
}

/* libxml2 prints errors to stderr unless told otherwise. */
static void test_xmlrpc_errors_not_printed(void **state)
{
    static const char *const bad[] = {
        "<methodCall>",
        "<a></b>",
        "<methodCall><methodName>&foo;</methodName></methodCall>",
        "<?xml version=\"1.0\" encoding=\"nonsense\"?><methodCall/>",
        "<?xml version=\"1.0\" encoding=\"UTF-16\"?><methodCall/>",
        ("<?xml version=\"1.0\" encoding=\"EUC-JP\"?><methodCall><methodName>\xff\xff\xff"
         "</methodName></methodCall>"),
        "<!DOCTYPE x [<!ENTITY a \"&b;\"><!ENTITY b \"&a;\">]><x>&a;</x>",
    };
    char path[] = "/tmp/test-xmlrpc-stderr-XXXXXX";
    int fd = mkstemp(path);
    (void)state;
    assert_true(fd >= 0);
    fflush(stderr);
    int saved = dup(2);
    assert_true(saved >= 0);
    dup2(fd, 2);
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        struct rpc_call c;
        const char *why;
        int r = xmlrpc_parse_call(bad[i], strlen(bad[i]), &c, &why);
        if (r == 0)
            rpc_call_done(&c);
    }
    fflush(stderr);
    dup2(saved, 2);
    close(saved);
    struct stat st;
    assert_int_equal(fstat(fd, &st), 0);
    close(fd);
    unlink(path);
    assert_int_equal(st.st_size, 0);
}

static void *parse_many(void *arg)
{
    static const char body[] = "<methodCall><methodName>VM.get_record</methodName><params>"
                               "<param><value>OpaqueRef:s</value></param><param><value><struct>"
                               "<member><name>k</name><value><i8>-1</i8></value></member>"
                               "</struct></value></param></params></methodCall>";
    (void)arg;
    for (int i = 0; i < 300; i++) {
        struct rpc_call c;
        if (xmlrpc_parse_call(body, strlen(body), &c, NULL) < 0)
            return (void *)1;
        bool ok = c.n_params == 2 && xv_member(&c.params[1], "k")->i == -1;
        rpc_call_done(&c);
        if (!ok)
            return (void *)1;
        static const char bad[] = "<!DOCTYPE x><methodCall/>";
        if (xmlrpc_parse_call(bad, strlen(bad), &c, NULL) == 0)
            return (void *)1;
    }
    return NULL;
}

static void test_xmlrpc_parses_concurrently(void **state)
{
    pthread_t t[6];
    (void)state;
    for (size_t i = 0; i < 6; i++)
        assert_int_equal(pthread_create(&t[i], NULL, parse_many, NULL), 0);
    for (size_t i = 0; i < 6; i++) {
        void *r;
        assert_int_equal(pthread_join(t[i], &r), 0);
        assert_null(r);
    }
}

/* ---- The value tree ---- */

static void test_xv_member_first_of_duplicates(void **state)
{
    struct rpc_call c;
    (void)state;
    const struct xv *v = parse_one("<value><struct><member><name>a</name><value>1</value></member>"
                                   "<member><name>a</name><value>2</value></member>"
                                   "</struct></value>",
                                   &c);
    check_string(xv_member(v, "a"), "1", 1);
    rpc_call_done(&c);
}

static void test_xv_member_absent_is_null(void **state)
{
    struct rpc_call c;
    (void)state;
    const struct xv *v = parse_one("<value><struct/></value>", &c);
    assert_null(xv_member(v, "a"));
    rpc_call_done(&c);
}

static void test_xv_member_of_non_struct_is_null(void **state)
{
    struct rpc_call c;
    (void)state;
    const struct xv *v = parse_one("<value><array><data/></array></value>", &c);
    assert_null(xv_member(v, "a"));
    assert_null(xv_member(NULL, "a"));
    rpc_call_done(&c);
}

static void test_xv_kind_names(void **state)
{
    (void)state;
    assert_string_equal(xv_kind_name(XV_NIL), "nil");
    assert_string_equal(xv_kind_name(XV_STRING), "string");
    assert_string_equal(xv_kind_name(XV_INT), "int");
    assert_string_equal(xv_kind_name(XV_DOUBLE), "double");
    assert_string_equal(xv_kind_name(XV_BOOL), "bool");
    assert_string_equal(xv_kind_name(XV_DATETIME), "datetime");
    assert_string_equal(xv_kind_name(XV_BASE64), "base64");
    assert_string_equal(xv_kind_name(XV_ARRAY), "array");
    assert_string_equal(xv_kind_name(XV_STRUCT), "struct");
}

static void test_xv_done_twice_is_harmless(void **state)
{
    struct rpc_call c;
    (void)state;
    parse_one("<value><array><data><value>a</value></data></array></value>", &c);
    xv_done(&c.params[0]);
    xv_done(&c.params[0]);
    assert_int_equal(c.params[0].kind, XV_NIL);
    rpc_call_done(&c);
}

/* ---- Envelopes ---- */

static void test_xmlrpc_success_envelope(void **state)
{
    struct strbuf sb;
    (void)state;
    strbuf_init(&sb, 0);
    rpc_write_success(&sb, NULL, WIRE_XML, "<value>Running</value>", 22);
    assert_string_equal(sb.buf,
                        "<?xml version=\"1.0\"?><methodResponse><params><param><value><struct>"
                        "<member><name>Status</name><value>Success</value></member>"
                        "<member><name>Value</name><value>Running</value></member>"
                        "</struct></value></param></params></methodResponse>");
    strbuf_done(&sb);
}

static void test_xmlrpc_success_envelope_of_nothing_is_void(void **state)
{
    struct strbuf sb;
    (void)state;
    strbuf_init(&sb, 0);
    rpc_write_success(&sb, NULL, WIRE_XML, NULL, 0);
    assert_string_equal(sb.buf,
                        "<?xml version=\"1.0\"?><methodResponse><params><param><value><struct>"
                        "<member><name>Status</name><value>Success</value></member>"
                        "<member><name>Value</name><value></value></member>"
                        "</struct></value></param></params></methodResponse>");
    strbuf_done(&sb);
}

static void test_xmlrpc_failure_envelope(void **state)
{
    static const char *const params[] = {"VM", "OpaqueRef:a19e"};
    struct strbuf sb;
    (void)state;
    strbuf_init(&sb, 0);
    rpc_write_failure(&sb, NULL, WIRE_XML, "HANDLE_INVALID", params, 2);
    assert_string_equal(sb.buf,
                        "<?xml version=\"1.0\"?><methodResponse><params><param><value><struct>"
                        "<member><name>Status</name><value>Failure</value></member>"
                        "<member><name>ErrorDescription</name><value><array><data>"
                        "<value>HANDLE_INVALID</value><value>VM</value>"
                        "<value>OpaqueRef:a19e</value>"
                        "</data></array></value></member>"
                        "</struct></value></param></params></methodResponse>");
    strbuf_done(&sb);
}

static void test_xmlrpc_failure_envelope_without_params(void **state)
{
    struct strbuf sb;
    (void)state;
    strbuf_init(&sb, 0);
    rpc_write_failure(&sb, NULL, WIRE_XML, "MESSAGE_REMOVED", NULL, 0);
    assert_string_equal(sb.buf,
                        "<?xml version=\"1.0\"?><methodResponse><params><param><value><struct>"
                        "<member><name>Status</name><value>Failure</value></member>"
                        "<member><name>ErrorDescription</name><value><array><data>"
                        "<value>MESSAGE_REMOVED</value>"
                        "</data></array></value></member>"
                        "</struct></value></param></params></methodResponse>");
    strbuf_done(&sb);
}

static void test_xmlrpc_failure_envelope_escapes_params(void **state)
{
    static const char *const params[] = {"<a&b>\x01\"", NULL};
    struct strbuf sb;
    (void)state;
    strbuf_init(&sb, 0);
    rpc_write_failure(&sb, NULL, WIRE_XML, "INTERNAL_ERROR", params, 2);
    assert_non_null(strstr(sb.buf, "<value>INTERNAL_ERROR</value><value>&lt;a&amp;b&gt;&quot;"
                                   "</value><value></value></data>"));
    strbuf_done(&sb);
}

static void test_xmlrpc_envelope_appends_to_buffer(void **state)
{
    struct strbuf sb;
    (void)state;
    strbuf_init(&sb, 0);
    strbuf_adds(&sb, "X");
    rpc_write_failure(&sb, NULL, WIRE_XML, "E", NULL, 0);
    assert_true(strncmp(sb.buf, "X<?xml", 6) == 0);
    assert_int_equal(sb.len, strlen(sb.buf));
    strbuf_done(&sb);
}

static void test_xmlrpc_bare_envelope(void **state)
{
    static const char value[] = "<value><array><data><value>VM.start</value></data></array>"
                                "</value>";
    struct strbuf sb;
    (void)state;
    strbuf_init(&sb, 0);
    rpc_write_bare(&sb, NULL, WIRE_XML, value, strlen(value));
    assert_string_equal(sb.buf, "<?xml version=\"1.0\"?><methodResponse><params><param>"
                                "<value><array><data><value>VM.start</value></data></array>"
                                "</value></param></params></methodResponse>");
    strbuf_done(&sb);
}

/* A response must be a document our own decoder's libxml2 accepts. */
static void test_xmlrpc_envelopes_are_well_formed(void **state)
{
    static const char *const params[] = {"a<b", "\x02&"};
    struct strbuf sb;
    struct rpc_call c;
    (void)state;
    strbuf_init(&sb, 0);
    rpc_write_failure(&sb, NULL, WIRE_XML, "X&Y", params, 2);
    /* The request decoder reads the response's <params> as a call's. */
    const char *from = strstr(sb.buf, "<params>");
    const char *to = strstr(sb.buf, "</methodResponse>");
    assert_non_null(from);
    assert_non_null(to);
    struct strbuf doc;
    strbuf_init(&doc, 0);
    strbuf_adds(&doc, "<methodCall><methodName>r</methodName>");
    strbuf_add(&doc, from, (size_t)(to - from));
    strbuf_adds(&doc, "</methodCall>");
    assert_int_equal(xmlrpc_parse_call(doc.buf, doc.len, &c, NULL), 0);
    const struct xv *desc = xv_member(&c.params[0], "ErrorDescription");
    assert_non_null(desc);
    assert_int_equal(desc->agg.n, 3);
    assert_string_equal(desc->agg.items[0].str.s, "X&Y");
    assert_string_equal(desc->agg.items[1].str.s, "a<b");
    assert_string_equal(desc->agg.items[2].str.s, "&");
    rpc_call_done(&c);
    strbuf_done(&doc);
    strbuf_done(&sb);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_xmlrpc_method_without_params),
        cmocka_unit_test(test_xmlrpc_empty_params),
        cmocka_unit_test(test_xmlrpc_params_in_order),
        cmocka_unit_test(test_xmlrpc_without_xml_declaration),
        cmocka_unit_test(test_xmlrpc_pretty_printed_call),
        cmocka_unit_test(test_xmlrpc_whitespace_around_value_element),
        cmocka_unit_test(test_xmlrpc_comments_ignored),
        cmocka_unit_test(test_xmlrpc_latin1_converted_to_utf8),
        cmocka_unit_test(test_xmlrpc_many_params),
        cmocka_unit_test(test_xmlrpc_huge_string_param),
        cmocka_unit_test(test_xmlrpc_bare_string_param),
        cmocka_unit_test(test_xmlrpc_string_tag_param),
        cmocka_unit_test(test_xmlrpc_empty_value_element_is_empty_string),
        cmocka_unit_test(test_xmlrpc_empty_value_pair_is_empty_string),
        cmocka_unit_test(test_xmlrpc_empty_string_tag),
        cmocka_unit_test(test_xmlrpc_bare_string_keeps_whitespace),
        cmocka_unit_test(test_xmlrpc_string_tag_keeps_whitespace),
        cmocka_unit_test(test_xmlrpc_string_entities_decoded),
        cmocka_unit_test(test_xmlrpc_string_cdata),
        cmocka_unit_test(test_xmlrpc_string_utf8_byte_exact),
        cmocka_unit_test(test_xmlrpc_string_with_markup_refused),
        cmocka_unit_test(test_xmlrpc_i4_param),
        cmocka_unit_test(test_xmlrpc_int_param),
        cmocka_unit_test(test_xmlrpc_i8_param),
        cmocka_unit_test(test_xmlrpc_i8_extremes),
        cmocka_unit_test(test_xmlrpc_i8_out_of_range_refused),
        cmocka_unit_test(test_xmlrpc_int_tolerates_surrounding_whitespace),
        cmocka_unit_test(test_xmlrpc_malformed_int_refused),
        cmocka_unit_test(test_xmlrpc_int_as_string_param),
        cmocka_unit_test(test_xmlrpc_double_param),
        cmocka_unit_test(test_xmlrpc_double_with_exponent),
        cmocka_unit_test(test_xmlrpc_double_with_many_digits),
        cmocka_unit_test(test_xmlrpc_malformed_double_refused),
        cmocka_unit_test(test_xmlrpc_nonfinite_double_refused),
        cmocka_unit_test(test_xmlrpc_boolean_one_is_true),
        cmocka_unit_test(test_xmlrpc_boolean_zero_is_false),
        cmocka_unit_test(test_xmlrpc_boolean_other_text_is_false),
        cmocka_unit_test(test_xmlrpc_datetime_kept_as_text),
        cmocka_unit_test(test_xmlrpc_base64_kept_as_text),
        cmocka_unit_test(test_xmlrpc_nil_param),
        cmocka_unit_test(test_xmlrpc_nil_with_content_refused),
        cmocka_unit_test(test_xmlrpc_unknown_type_refused),
        cmocka_unit_test(test_xmlrpc_two_typed_elements_refused),
        cmocka_unit_test(test_xmlrpc_text_beside_typed_element_refused),
        cmocka_unit_test(test_xmlrpc_array_param),
        cmocka_unit_test(test_xmlrpc_empty_array),
        cmocka_unit_test(test_xmlrpc_array_without_data_refused),
        cmocka_unit_test(test_xmlrpc_array_data_holds_only_values),
        cmocka_unit_test(test_xmlrpc_struct_param),
        cmocka_unit_test(test_xmlrpc_empty_struct),
        cmocka_unit_test(test_xmlrpc_member_name_decoded),
        cmocka_unit_test(test_xmlrpc_member_without_name_refused),
        cmocka_unit_test(test_xmlrpc_member_without_value_refused),
        cmocka_unit_test(test_xmlrpc_member_with_extra_element_refused),
        cmocka_unit_test(test_xmlrpc_nested_struct_in_array),
        cmocka_unit_test(test_xmlrpc_accepts_max_depth),
        cmocka_unit_test(test_xmlrpc_refuses_deep_nesting),
        cmocka_unit_test(test_xmlrpc_refuses_deep_struct_nesting),
        cmocka_unit_test(test_xmlrpc_refuses_very_deep_document),
        cmocka_unit_test(test_xmlrpc_empty_body_refused),
        cmocka_unit_test(test_xmlrpc_wrong_root_refused),
        cmocka_unit_test(test_xmlrpc_missing_method_name_refused),
        cmocka_unit_test(test_xmlrpc_two_method_names_refused),
        cmocka_unit_test(test_xmlrpc_method_name_with_markup_refused),
        cmocka_unit_test(test_xmlrpc_text_in_call_refused),
        cmocka_unit_test(test_xmlrpc_param_without_value_refused),
        cmocka_unit_test(test_xmlrpc_every_truncation_refused),
        cmocka_unit_test(test_xmlrpc_binary_garbage_refused),
        cmocka_unit_test(test_xmlrpc_embedded_nul_refused),
        cmocka_unit_test(test_xmlrpc_invalid_utf8_refused),
        cmocka_unit_test(test_xmlrpc_refuses_doctype),
        cmocka_unit_test(test_xmlrpc_refuses_internal_subset),
        cmocka_unit_test(test_xmlrpc_refuses_billion_laughs),
        cmocka_unit_test(test_xmlrpc_refuses_external_entity),
        cmocka_unit_test(test_xmlrpc_refuses_external_parameter_entity),
        cmocka_unit_test(test_xmlrpc_refuses_external_dtd),
        cmocka_unit_test(test_xmlrpc_refuses_undeclared_entity),
        cmocka_unit_test(test_xmlrpc_ignores_xinclude),
        cmocka_unit_test(test_xmlrpc_errors_not_printed),
        cmocka_unit_test(test_xmlrpc_parses_concurrently),
        cmocka_unit_test(test_xv_member_first_of_duplicates),
        cmocka_unit_test(test_xv_member_absent_is_null),
        cmocka_unit_test(test_xv_member_of_non_struct_is_null),
        cmocka_unit_test(test_xv_kind_names),
        cmocka_unit_test(test_xv_done_twice_is_harmless),
        cmocka_unit_test(test_xmlrpc_success_envelope),
        cmocka_unit_test(test_xmlrpc_success_envelope_of_nothing_is_void),
        cmocka_unit_test(test_xmlrpc_failure_envelope),
        cmocka_unit_test(test_xmlrpc_failure_envelope_without_params),
        cmocka_unit_test(test_xmlrpc_failure_envelope_escapes_params),
        cmocka_unit_test(test_xmlrpc_envelope_appends_to_buffer),
        cmocka_unit_test(test_xmlrpc_bare_envelope),
        cmocka_unit_test(test_xmlrpc_envelopes_are_well_formed),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
