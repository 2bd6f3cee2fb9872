/* Unit tests of the typed conversion between wire values and canonical text
 * (xapi-c/marshal.c). From the wire: every scalar type from every wire kind
 * it accepts (ints also as decimal strings, bools only as real booleans,
 * enums in any case normalised to the model's spelling, datetimes in the
 * XenAPI form and RFC 3339), options, sets, maps and nested types, and
 * every error path (INTERNAL_ERROR for a value of the wrong shape,
 * INVALID_VALUE for invalid UTF-8). From text: validation and
 * normalisation of canonical text. To the wire: the exact text written on
 * XML-RPC and JSON-RPC for every type, including nested sets and maps. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/strbuf.h"
#include "lib/util.h"
#include "xapi-c/error.h"
#include "xapi-c/marshal.h"
#include "xapi-c/model.h"
#include "xapi-c/out.h"
#include "xapi-c/xv.h"

static int setup_model(void **state)
{
    (void)state;
    model_init();
    return 0;
}

/* ---- building wire values ---- */

static struct xv xv_strn(const char *s, size_t len)
{
    struct xv v = {.kind = XV_STRING};
    v.str.s = xmalloc(len + 1);
    memcpy(v.str.s, s, len);
    v.str.s[len] = '\0';
    v.str.len = len;
    return v;
}

static struct xv xv_str(const char *s)
{
    return xv_strn(s, strlen(s));
}

static struct xv xv_datetime(const char *s)
{
    struct xv v = xv_str(s);
    v.kind = XV_DATETIME;
    return v;
}

static struct xv xv_base64(const char *s)
{
    struct xv v = xv_str(s);
    v.kind = XV_BASE64;
    return v;
}

static struct xv xv_int(int64_t i)
{
    return (struct xv){.kind = XV_INT, .i = i};
}

static struct xv xv_double(double d)
{
    return (struct xv){.kind = XV_DOUBLE, .d = d};
}

static struct xv xv_bool(bool b)
{
    return (struct xv){.kind = XV_BOOL, .b = b};
}

static struct xv xv_nil(void)
{
    return (struct xv){.kind = XV_NIL};
}

/* An array of n values, which it takes over. */
static struct xv xv_array(size_t n, ...)
{
    struct xv v = {.kind = XV_ARRAY};
    va_list ap;
    v.agg.n = n;
    v.agg.items = xcalloc(n ? n : 1, sizeof(struct xv));
    va_start(ap, n);
    for (size_t i = 0; i < n; i++)
        v.agg.items[i] = va_arg(ap, struct xv);
    va_end(ap);
    return v;
}

/* A struct of n members given as name, value, name, value... */
static struct xv xv_struct(size_t n, ...)
{
    struct xv v = {.kind = XV_STRUCT};
    va_list ap;
    v.agg.n = n;
    v.agg.items = xcalloc(n ? n : 1, sizeof(struct xv));
    v.agg.keys = xcalloc(n ? n : 1, sizeof(char *));
    va_start(ap, n);
    for (size_t i = 0; i < n; i++) {
        v.agg.keys[i] = xstrdup(va_arg(ap, const char *));
        v.agg.items[i] = va_arg(ap, struct xv);
    }
    va_end(ap);
    return v;
}

static const struct type *type(const char *text)
{
    const struct type *t = model_parse_type(text);
    if (!t)
        fail_msg("bad type '%s'", text);
    return t;
}

/* Converts v (which it frees) as type text; checks that it succeeds with
 * canonical text want. */
static void expect_wire_ok(const char *type_text, struct xv v, const char *want)
{
    struct strbuf sb;
    strbuf_init(&sb, 32);
    struct api_error *e = marshal_from_wire(type(type_text), &v, &sb);
    xv_done(&v);
    if (e) {
        char msg[512];
        snprintf(msg, sizeof(msg), "%s: %s", e->code, e->n ? e->params[0] : "");
        api_error_free(e);
        strbuf_done(&sb);
        fail_msg("%s failed: %s", type_text, msg);
    }
    char *got = xstrdup(sb.buf);
    strbuf_done(&sb);
    if (!streq(got, want)) {
        char msg[512];
        snprintf(msg, sizeof(msg), "%s: got '%s', want '%s'", type_text, got, want);
        free(got);
        fail_msg("%s", msg);
    }
    free(got);
}

/* Converts v (which it frees) as type text; checks that it fails with code,
 * and returns the first parameter of the error (newly allocated). */
static char *expect_wire_error(const char *type_text, struct xv v, const char *code)
{
    struct strbuf sb;
    strbuf_init(&sb, 32);
    struct api_error *e = marshal_from_wire(type(type_text), &v, &sb);
    xv_done(&v);
    strbuf_done(&sb);
    if (!e)
        fail_msg("%s: accepted a bad value", type_text);
    char *p0 = xstrdup(e->n ? e->params[0] : "");
    bool same = streq(e->code, code);
    char got[64];
    snprintf(got, sizeof(got), "%s", e->code);
    api_error_free(e);
    if (!same) {
        free(p0);
        fail_msg("%s: got %s, want %s", type_text, got, code);
    }
    return p0;
}

static void expect_shape_error(const char *type_text, struct xv v)
{
    free(expect_wire_error(type_text, v, "INTERNAL_ERROR"));
}

/* ---- from the wire: scalars ---- */

static void test_marshal_string_passes_through(void **state)
{
    (void)state;
    expect_wire_ok("string", xv_str("hello \"world\" \\ \n"), "hello \"world\" \\ \n");
    expect_wire_ok("string", xv_str(""), "");
    expect_wire_ok("string", xv_str("caf\xc3\xa9 \xf0\x9f\x98\x80"),
                   "caf\xc3\xa9 \xf0\x9f\x98\x80");
}

static void test_marshal_string_rejects_invalid_utf8_as_invalid_value(void **state)
{
    (void)state;
    free(expect_wire_error("string", xv_str("bad \xc0\x80"), "INVALID_VALUE"));
    free(expect_wire_error("string", xv_str("\xed\xa0\x80"), "INVALID_VALUE"));
    free(expect_wire_error("string", xv_str("cut \xe2\x82"), "INVALID_VALUE"));
}

static void test_marshal_string_rejects_embedded_nul_as_invalid_value(void **state)
{
    (void)state;
    free(expect_wire_error("string", xv_strn("a\0b", 3), "INVALID_VALUE"));
}

static void test_marshal_string_accepts_datetime_text(void **state)
{
    (void)state;
    expect_wire_ok("string", xv_datetime("20240420T12:00:00Z"), "20240420T12:00:00Z");
}

static void test_marshal_string_rejects_other_kinds(void **state)
{
    (void)state;
    expect_shape_error("string", xv_int(1));
    expect_shape_error("string", xv_bool(true));
    expect_shape_error("string", xv_double(1.5));
    expect_shape_error("string", xv_nil());
    expect_shape_error("string", xv_base64("AAAA"));
    expect_shape_error("string", xv_array(0));
    expect_shape_error("string", xv_struct(0));
}

static void test_marshal_int_from_int(void **state)
{
    (void)state;
    expect_wire_ok("int", xv_int(42), "42");
    expect_wire_ok("int", xv_int(-7), "-7");
    expect_wire_ok("int", xv_int(0), "0");
    expect_wire_ok("int", xv_int(INT64_MAX), "9223372036854775807");
    expect_wire_ok("int", xv_int(INT64_MIN), "-9223372036854775808");
}

static void test_marshal_int_from_decimal_string(void **state)
{
    (void)state;
    expect_wire_ok("int", xv_str("123"), "123");
    expect_wire_ok("int", xv_str("-5"), "-5");
    expect_wire_ok("int", xv_str("0042"), "42");
    expect_wire_ok("int", xv_str("9223372036854775807"), "9223372036854775807");
}

static void test_marshal_int_rejects_non_decimal_strings(void **state)
{
    (void)state;
    expect_shape_error("int", xv_str(""));
    expect_shape_error("int", xv_str("12abc"));
    expect_shape_error("int", xv_str("1.5"));
    expect_shape_error("int", xv_str("abc"));
    expect_shape_error("int", xv_str("9223372036854775808"));
    expect_shape_error("int", xv_str("-"));
}

static void test_marshal_int_rejects_other_kinds(void **state)
{
    (void)state;
    expect_shape_error("int", xv_double(1.0));
    expect_shape_error("int", xv_bool(true));
    expect_shape_error("int", xv_nil());
    expect_shape_error("int", xv_datetime("20240420T12:00:00Z"));
    expect_shape_error("int", xv_array(1, xv_int(1)));
}

static void test_marshal_float_from_double_int_and_string(void **state)
{
    (void)state;
    expect_wire_ok("float", xv_double(1.5), "1.5");
    expect_wire_ok("float", xv_double(0.1), "0.1");
    expect_wire_ok("float", xv_double(-2.0), "-2");
    expect_wire_ok("float", xv_double(1e300), "1e+300");
    expect_wire_ok("float", xv_int(3), "3");
    expect_wire_ok("float", xv_str("2.5"), "2.5");
    expect_wire_ok("float", xv_str("1.0"), "1");
}

static void test_marshal_float_rejects_bad_values(void **state)
{
    (void)state;
    expect_shape_error("float", xv_str("abc"));
    expect_shape_error("float", xv_str(""));
    expect_shape_error("float", xv_str("1.5x"));
    expect_shape_error("float", xv_bool(false));
    expect_shape_error("float", xv_nil());
}

static void test_marshal_bool_from_boolean(void **state)
{
    (void)state;
    expect_wire_ok("bool", xv_bool(true), "true");
    expect_wire_ok("bool", xv_bool(false), "false");
}

static void test_marshal_bool_rejects_strings_and_ints(void **state)
{
    (void)state;
    expect_shape_error("bool", xv_str("true"));
    expect_shape_error("bool", xv_str("false"));
    expect_shape_error("bool", xv_str("1"));
    expect_shape_error("bool", xv_int(1));
    expect_shape_error("bool", xv_double(0));
    expect_shape_error("bool", xv_nil());
}

static void test_marshal_datetime_from_xapi_form(void **state)
{
    (void)state;
    expect_wire_ok("datetime", xv_datetime("20240420T12:00:00Z"), "20240420T12:00:00Z");
    expect_wire_ok("datetime", xv_str("20240420T12:00:00Z"), "20240420T12:00:00Z");
}

static void test_marshal_datetime_from_rfc3339_normalises_to_utc(void **state)
{
    (void)state;
    expect_wire_ok("datetime", xv_datetime("2024-04-20T12:00:00+02:00"), "20240420T10:00:00Z");
    expect_wire_ok("datetime", xv_str("2024-04-20T12:00:00.25Z"), "20240420T12:00:00Z");
}

static void test_marshal_datetime_rejects_bad_values(void **state)
{
    (void)state;
    expect_shape_error("datetime", xv_datetime("yesterday"));
    expect_shape_error("datetime", xv_str("2024-13-01T00:00:00Z"));
    expect_shape_error("datetime", xv_int(1713614400));
    expect_shape_error("datetime", xv_bool(true));
}

static void test_marshal_enum_normalises_case(void **state)
{
    (void)state;
    expect_wire_ok("enum vm_power_state", xv_str("Halted"), "Halted");
    expect_wire_ok("enum vm_power_state", xv_str("halted"), "Halted");
    expect_wire_ok("enum vm_power_state", xv_str("RUNNING"), "Running");
}

static void test_marshal_enum_rejects_unknown_value(void **state)
{
    (void)state;
    char *msg = expect_wire_error("enum vm_power_state", xv_str("Exploded"), "INTERNAL_ERROR");
    assert_non_null(strstr(msg, "Exploded"));
    free(msg);
    expect_shape_error("enum vm_power_state", xv_str(""));
    expect_shape_error("enum vm_power_state", xv_int(0));
}

static void test_marshal_ref_passes_through(void **state)
{
    (void)state;
    expect_wire_ok("VM ref", xv_str("OpaqueRef:abc"), "OpaqueRef:abc");
    expect_wire_ok("VM ref", xv_str("OpaqueRef:NULL"), "OpaqueRef:NULL");
    expect_shape_error("VM ref", xv_int(1));
    free(expect_wire_error("VM ref", xv_str("OpaqueRef:\xff"), "INVALID_VALUE"));
}

static void test_marshal_option_nil_is_empty(void **state)
{
    (void)state;
    expect_wire_ok("string option", xv_nil(), "");
    expect_wire_ok("string option", xv_str("x"), "x");
    expect_wire_ok("int option", xv_str("7"), "7");
    expect_shape_error("int option", xv_bool(true));
}

static void test_marshal_type_error_names_expected_type(void **state)
{
    (void)state;
    char *msg = expect_wire_error("(string -> int) map", xv_array(0), "INTERNAL_ERROR");
    assert_non_null(strstr(msg, "Unmarshalling error"));
    assert_non_null(strstr(msg, "(string -> int) map"));
    free(msg);
}

static void test_marshal_record_void_and_other_are_rejected(void **state)
{
    (void)state;
    expect_shape_error("VM record", xv_struct(0));
    expect_shape_error("void", xv_str(""));
    expect_shape_error("an event batch", xv_struct(0));
}

/* ---- from the wire: sets and maps ---- */

static void test_marshal_set_of_strings(void **state)
{
    (void)state;
    expect_wire_ok("string set", xv_array(3, xv_str("a"), xv_str("b\"c"), xv_str("")),
                   "[\"a\",\"b\\\"c\",\"\"]");
    expect_wire_ok("string set", xv_array(0), "[]");
}

static void test_marshal_set_normalises_elements(void **state)
{
    (void)state;
    expect_wire_ok("int set", xv_array(2, xv_int(1), xv_str("02")), "[\"1\",\"2\"]");
    expect_wire_ok("enum vm_power_state set", xv_array(2, xv_str("running"), xv_str("PAUSED")),
                   "[\"Running\",\"Paused\"]");
}

static void test_marshal_set_of_sets_nests_text(void **state)
{
    (void)state;
    expect_wire_ok("string set set", xv_array(2, xv_array(1, xv_str("a")), xv_array(0)),
                   "[\"[\\\"a\\\"]\",\"[]\"]");
}

static void test_marshal_set_rejects_non_array(void **state)
{
    (void)state;
    expect_shape_error("string set", xv_str("a"));
    expect_shape_error("string set", xv_struct(0));
    expect_shape_error("string set", xv_nil());
}

static void test_marshal_set_rejects_bad_element(void **state)
{
    (void)state;
    expect_shape_error("int set", xv_array(2, xv_int(1), xv_str("x")));
    free(expect_wire_error("string set", xv_array(2, xv_str("ok"), xv_str("\xff")),
                           "INVALID_VALUE"));
}

static void test_marshal_map_of_strings(void **state)
{
    (void)state;
    expect_wire_ok("(string -> string) map",
                   xv_struct(2, "k", xv_str("v"), "q\"k", xv_str("line\n")),
                   "{\"k\":\"v\",\"q\\\"k\":\"line\\n\"}");
    expect_wire_ok("(string -> string) map", xv_struct(0), "{}");
}

static void test_marshal_map_normalises_enum_values(void **state)
{
    (void)state;
    expect_wire_ok("(string -> enum vm_operations) map",
                   xv_struct(2, "task1", xv_str("START"), "task2", xv_str("clean_shutdown")),
                   "{\"task1\":\"start\",\"task2\":\"clean_shutdown\"}");
}

static void test_marshal_map_normalises_keys(void **state)
{
    (void)state;
    expect_wire_ok("(int -> string) map", xv_struct(1, "007", xv_str("x")), "{\"7\":\"x\"}");
    expect_wire_ok("(enum vm_power_state -> int) map", xv_struct(1, "halted", xv_int(1)),
                   "{\"Halted\":\"1\"}");
}

static void test_marshal_map_rejects_bad_key(void **state)
{
    (void)state;
    expect_shape_error("(int -> string) map", xv_struct(1, "x", xv_str("v")));
    free(expect_wire_error("(string -> string) map", xv_struct(1, "\xc3", xv_str("v")),
                           "INVALID_VALUE"));
}

static void test_marshal_map_rejects_bad_value(void **state)
{
    (void)state;
    expect_shape_error("(string -> int) map", xv_struct(1, "k", xv_str("x")));
    expect_shape_error("(string -> enum vm_operations) map", xv_struct(1, "k", xv_str("fly")));
}

static void test_marshal_map_rejects_non_struct(void **state)
{
    (void)state;
    expect_shape_error("(string -> string) map", xv_array(0));
    expect_shape_error("(string -> string) map", xv_str("{}"));
}

static void test_marshal_nested_map_of_sets(void **state)
{
    (void)state;
    expect_wire_ok("(string -> string set) map",
                   xv_struct(2, "a", xv_array(2, xv_str("x"), xv_str("y")), "b", xv_array(0)),
                   "{\"a\":\"[\\\"x\\\",\\\"y\\\"]\",\"b\":\"[]\"}");
}

/* ---- from text ---- */

static void expect_text_ok(const char *type_text, const char *s, const char *want)
{
    struct strbuf sb;
    strbuf_init(&sb, 32);
    struct api_error *e = marshal_from_text(type(type_text), s, &sb);
    if (e) {
        api_error_free(e);
        strbuf_done(&sb);
        fail_msg("%s: rejected '%s'", type_text, s);
    }
    bool same = streq(sb.buf, want);
    char got[256];
    snprintf(got, sizeof(got), "%s", sb.buf);
    strbuf_done(&sb);
    if (!same)
        fail_msg("%s: '%s' gave '%s', want '%s'", type_text, s, got, want);
}

static void expect_text_error(const char *type_text, const char *s, const char *code)
{
    struct strbuf sb;
    strbuf_init(&sb, 32);
    struct api_error *e = marshal_from_text(type(type_text), s, &sb);
    strbuf_done(&sb);
    if (!e)
        fail_msg("%s: accepted '%s'", type_text, s);
    bool same = streq(e->code, code);
    api_error_free(e);
    if (!same)
        fail_msg("%s: '%s' failed with another code than %s", type_text, s, code);
}

static void test_marshal_from_text_normalises_scalars(void **state)
{
    (void)state;
    expect_text_ok("string", "as is", "as is");
    expect_text_ok("int", "0042", "42");
    expect_text_ok("float", "1.0", "1");
    expect_text_ok("bool", "TRUE", "true");
    expect_text_ok("bool", "false", "false");
    expect_text_ok("enum vm_power_state", "halted", "Halted");
    expect_text_ok("datetime", "2024-04-20T12:00:00+02:00", "20240420T10:00:00Z");
    expect_text_ok("VM ref", "OpaqueRef:NULL", "OpaqueRef:NULL");
}

static void test_marshal_from_text_rejects_bad_scalars(void **state)
{
    (void)state;
    expect_text_error("int", "x", "INTERNAL_ERROR");
    expect_text_error("float", "x", "INTERNAL_ERROR");
    expect_text_error("bool", "yes", "INTERNAL_ERROR");
    expect_text_error("enum vm_power_state", "sideways", "INTERNAL_ERROR");
    expect_text_error("datetime", "soon", "INTERNAL_ERROR");
    expect_text_error("string", "\xff", "INVALID_VALUE");
}

static void test_marshal_from_text_accepts_structured_text(void **state)
{
    (void)state;
    expect_text_ok("string set", "[\"a\",\"b\"]", "[\"a\",\"b\"]");
    expect_text_ok("string set", "[]", "[]");
    expect_text_ok("(string -> string) map", "{\"k\":\"v\"}", "{\"k\":\"v\"}");
}

static void test_marshal_from_text_rejects_wrong_container(void **state)
{
    (void)state;
    expect_text_error("string set", "{}", "INTERNAL_ERROR");
    expect_text_error("(string -> string) map", "[]", "INTERNAL_ERROR");
    expect_text_error("string set", "[\"a\"", "INTERNAL_ERROR");
    expect_text_error("string set", "a", "INTERNAL_ERROR");
}

static void test_marshal_from_text_checks_set_elements(void **state)
{
    (void)state;
    expect_text_error("int set", "[\"not a number\"]", "INTERNAL_ERROR");
}

static void test_marshal_from_text_normalises_map_values(void **state)
{
    (void)state;
    expect_text_ok("(string -> enum vm_power_state) map", "{\"a\":\"halted\"}",
                   "{\"a\":\"Halted\"}");
}

/* ---- to the wire ---- */

static void expect_out(enum wire w, const char *type_text, const char *canonical, const char *want)
{
    struct out o;
    out_init(&o, w);
    marshal_to_wire(&o, type(type_text), canonical);
    size_t len;
    const char *text = out_value(&o, &len);
    bool same = len == strlen(want) && memcmp(text, want, len) == 0;
    char got[1024];
    snprintf(got, sizeof(got), "%.*s", (int)len, text);
    out_done(&o);
    if (!same)
        fail_msg("%s %s '%s': got %s, want %s", w == WIRE_XML ? "XML" : "JSON", type_text,
                 canonical, got, want);
}

static void test_marshal_to_wire_string(void **state)
{
    (void)state;
    expect_out(WIRE_XML, "string", "a<b&\"c\"", "<value>a&lt;b&amp;&quot;c&quot;</value>");
    expect_out(WIRE_JSON, "string", "a<b\"c\"\n", "\"a<b\\\"c\\\"\\n\"");
}

static void test_marshal_to_wire_int_is_bare_in_xml_and_number_in_json(void **state)
{
    (void)state;
    expect_out(WIRE_XML, "int", "42", "<value>42</value>");
    expect_out(WIRE_XML, "int", "-9223372036854775808", "<value>-9223372036854775808</value>");
    expect_out(WIRE_JSON, "int", "42", "42");
    expect_out(WIRE_JSON, "int", "-7", "-7");
}

static void test_marshal_to_wire_float(void **state)
{
    (void)state;
    expect_out(WIRE_XML, "float", "1.5", "<value><double>1.5</double></value>");
    expect_out(WIRE_JSON, "float", "1.5", "1.5");
    expect_out(WIRE_JSON, "float", "1", "1");
}

static void test_marshal_to_wire_bool(void **state)
{
    (void)state;
    expect_out(WIRE_XML, "bool", "true", "<value><boolean>1</boolean></value>");
    expect_out(WIRE_XML, "bool", "false", "<value><boolean>0</boolean></value>");
    expect_out(WIRE_JSON, "bool", "true", "true");
    expect_out(WIRE_JSON, "bool", "false", "false");
}

static void test_marshal_to_wire_datetime(void **state)
{
    (void)state;
    expect_out(WIRE_XML, "datetime", "20240420T12:00:00Z",
               "<value><dateTime.iso8601>20240420T12:00:00Z</dateTime.iso8601></value>");
    expect_out(WIRE_JSON, "datetime", "20240420T12:00:00Z", "\"20240420T12:00:00Z\"");
}

static void test_marshal_to_wire_enum_and_ref_are_strings(void **state)
{
    (void)state;
    expect_out(WIRE_XML, "enum vm_power_state", "Halted", "<value>Halted</value>");
    expect_out(WIRE_JSON, "enum vm_power_state", "Halted", "\"Halted\"");
    expect_out(WIRE_XML, "VM ref", "OpaqueRef:NULL", "<value>OpaqueRef:NULL</value>");
    expect_out(WIRE_JSON, "VM ref", "OpaqueRef:NULL", "\"OpaqueRef:NULL\"");
}

static void test_marshal_to_wire_option_writes_its_element(void **state)
{
    (void)state;
    expect_out(WIRE_JSON, "int option", "5", "5");
    expect_out(WIRE_XML, "string option", "x", "<value>x</value>");
}

static void test_marshal_to_wire_set_of_ints(void **state)
{
    (void)state;
    expect_out(WIRE_XML, "int set", "[\"1\",\"2\"]",
               "<value><array><data><value>1</value><value>2</value></data></array></value>");
    expect_out(WIRE_JSON, "int set", "[\"1\",\"2\"]", "[1,2]");
}

static void test_marshal_to_wire_empty_set_and_map(void **state)
{
    (void)state;
    expect_out(WIRE_XML, "string set", "[]", "<value><array><data></data></array></value>");
    expect_out(WIRE_JSON, "string set", "[]", "[]");
    expect_out(WIRE_XML, "(string -> string) map", "{}", "<value><struct></struct></value>");
    expect_out(WIRE_JSON, "(string -> string) map", "{}", "{}");
}

static void test_marshal_to_wire_map_of_ints(void **state)
{
    (void)state;
    expect_out(WIRE_XML, "(string -> int) map", "{\"a\":\"1\",\"b\":\"-2\"}",
               "<value><struct><member><name>a</name><value>1</value></member>"
               "<member><name>b</name><value>-2</value></member></struct></value>");
    expect_out(WIRE_JSON, "(string -> int) map", "{\"a\":\"1\",\"b\":\"-2\"}",
               "{\"a\":1,\"b\":-2}");
}

static void test_marshal_to_wire_nested_map_of_sets(void **state)
{
    (void)state;
    const char *text = "{\"k\":\"[\\\"a\\\",\\\"b\\\"]\",\"e\":\"[]\"}";
    expect_out(WIRE_JSON, "(string -> string set) map", text, "{\"k\":[\"a\",\"b\"],\"e\":[]}");
    expect_out(WIRE_XML, "(string -> string set) map", text,
               "<value><struct><member><name>k</name><value><array><data><value>a</value>"
               "<value>b</value></data></array></value></member><member><name>e</name>"
               "<value><array><data></data></array></value></member></struct></value>");
}

static void test_marshal_to_wire_set_of_sets(void **state)
{
    (void)state;
    expect_out(WIRE_JSON, "string set set", "[\"[\\\"a\\\"]\",\"[]\"]", "[[\"a\"],[]]");
}

static void test_marshal_to_wire_set_of_maps_with_datetimes(void **state)
{
    (void)state;
    expect_out(WIRE_JSON, "(string -> datetime) map set",
               "[\"{\\\"t\\\":\\\"20240420T12:00:00Z\\\"}\"]", "[{\"t\":\"20240420T12:00:00Z\"}]");
}

static void test_marshal_round_trip_wire_to_json(void **state)
{
    (void)state;
    struct xv v = xv_struct(2, "x", xv_array(2, xv_str("1"), xv_int(2)), "y", xv_array(0));
    struct strbuf sb;
    strbuf_init(&sb, 32);
    const struct type *t = type("(string -> int set) map");
    struct api_error *e = marshal_from_wire(t, &v, &sb);
    xv_done(&v);
    assert_null(e);
    struct out o;
    out_init(&o, WIRE_JSON);
    marshal_to_wire(&o, t, sb.buf);
    size_t len;
    const char *text = out_value(&o, &len);
    assert_int_equal(len, strlen("{\"x\":[1,2],\"y\":[]}"));
    assert_memory_equal(text, "{\"x\":[1,2],\"y\":[]}", len);
    out_done(&o);
    strbuf_done(&sb);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_marshal_string_passes_through),
        cmocka_unit_test(test_marshal_string_rejects_invalid_utf8_as_invalid_value),
        cmocka_unit_test(test_marshal_string_rejects_embedded_nul_as_invalid_value),
        cmocka_unit_test(test_marshal_string_accepts_datetime_text),
        cmocka_unit_test(test_marshal_string_rejects_other_kinds),
        cmocka_unit_test(test_marshal_int_from_int),
        cmocka_unit_test(test_marshal_int_from_decimal_string),
        cmocka_unit_test(test_marshal_int_rejects_non_decimal_strings),
        cmocka_unit_test(test_marshal_int_rejects_other_kinds),
        cmocka_unit_test(test_marshal_float_from_double_int_and_string),
        cmocka_unit_test(test_marshal_float_rejects_bad_values),
        cmocka_unit_test(test_marshal_bool_from_boolean),
        cmocka_unit_test(test_marshal_bool_rejects_strings_and_ints),
        cmocka_unit_test(test_marshal_datetime_from_xapi_form),
        cmocka_unit_test(test_marshal_datetime_from_rfc3339_normalises_to_utc),
        cmocka_unit_test(test_marshal_datetime_rejects_bad_values),
        cmocka_unit_test(test_marshal_enum_normalises_case),
        cmocka_unit_test(test_marshal_enum_rejects_unknown_value),
        cmocka_unit_test(test_marshal_ref_passes_through),
        cmocka_unit_test(test_marshal_option_nil_is_empty),
        cmocka_unit_test(test_marshal_type_error_names_expected_type),
        cmocka_unit_test(test_marshal_record_void_and_other_are_rejected),
        cmocka_unit_test(test_marshal_set_of_strings),
        cmocka_unit_test(test_marshal_set_normalises_elements),
        cmocka_unit_test(test_marshal_set_of_sets_nests_text),
        cmocka_unit_test(test_marshal_set_rejects_non_array),
        cmocka_unit_test(test_marshal_set_rejects_bad_element),
        cmocka_unit_test(test_marshal_map_of_strings),
        cmocka_unit_test(test_marshal_map_normalises_enum_values),
        cmocka_unit_test(test_marshal_map_normalises_keys),
        cmocka_unit_test(test_marshal_map_rejects_bad_key),
        cmocka_unit_test(test_marshal_map_rejects_bad_value),
        cmocka_unit_test(test_marshal_map_rejects_non_struct),
        cmocka_unit_test(test_marshal_nested_map_of_sets),
        cmocka_unit_test(test_marshal_from_text_normalises_scalars),
        cmocka_unit_test(test_marshal_from_text_rejects_bad_scalars),
        cmocka_unit_test(test_marshal_from_text_accepts_structured_text),
        cmocka_unit_test(test_marshal_from_text_rejects_wrong_container),
        cmocka_unit_test(test_marshal_from_text_checks_set_elements),
        cmocka_unit_test(test_marshal_from_text_normalises_map_values),
        cmocka_unit_test(test_marshal_to_wire_string),
        cmocka_unit_test(test_marshal_to_wire_int_is_bare_in_xml_and_number_in_json),
        cmocka_unit_test(test_marshal_to_wire_float),
        cmocka_unit_test(test_marshal_to_wire_bool),
        cmocka_unit_test(test_marshal_to_wire_datetime),
        cmocka_unit_test(test_marshal_to_wire_enum_and_ref_are_strings),
        cmocka_unit_test(test_marshal_to_wire_option_writes_its_element),
        cmocka_unit_test(test_marshal_to_wire_set_of_ints),
        cmocka_unit_test(test_marshal_to_wire_empty_set_and_map),
        cmocka_unit_test(test_marshal_to_wire_map_of_ints),
        cmocka_unit_test(test_marshal_to_wire_nested_map_of_sets),
        cmocka_unit_test(test_marshal_to_wire_set_of_sets),
        cmocka_unit_test(test_marshal_to_wire_set_of_maps_with_datetimes),
        cmocka_unit_test(test_marshal_round_trip_wire_to_json),
    };
    return cmocka_run_group_tests(tests, setup_model, NULL);
}
