/* Unit tests of the canonical text of string lists and maps (lib/strlist.c):
 * how strlist_add_quoted quotes and escapes quotes, backslashes, control
 * characters and UTF-8; how the iterator walks arrays and objects, unescapes
 * what it reads and flags malformed text as bad; and the helpers built on
 * it, strlist_count, strlist_contains and strmap_get. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "lib/cleanup.h"
#include "lib/strbuf.h"
#include "lib/strlist.h"

/* The quoted form of the len bytes at s, newly allocated. */
static char *quote_len(const char *s, size_t len)
{
    struct strbuf sb;
    strbuf_init(&sb, 16);
    strlist_add_quoted(&sb, s, len);
    char *text = strbuf_detach(&sb, NULL);
    strbuf_done(&sb); /* detach leaves a fresh buffer behind */
    return text;
}

static char *quote(const char *s)
{
    return quote_len(s, strlen(s));
}

static void expect_quoted(const char *s, const char *want)
{
    char *got = quote(s);
    assert_string_equal(got, want);
    free(got);
}

/* Whether iterating text ends with it->bad set. */
static bool iter_is_bad(const char *text)
{
    struct strlist_iter it;
    const char *k, *v;
    strlist_iter_init(&it, text);
    while (strlist_iter_next(&it, &k, &v))
        ;
    bool bad = it.bad;
    strlist_iter_done(&it);
    return bad;
}

/* ---- quoting ---- */

static void test_quote_plain_string(void **state)
{
    (void)state;
    expect_quoted("abc", "\"abc\"");
}

static void test_quote_empty_string(void **state)
{
    (void)state;
    expect_quoted("", "\"\"");
}

static void test_quote_escapes_double_quote(void **state)
{
    (void)state;
    expect_quoted("a\"b", "\"a\\\"b\"");
}

static void test_quote_escapes_backslash(void **state)
{
    (void)state;
    expect_quoted("a\\b\\", "\"a\\\\b\\\\\"");
}

static void test_quote_escapes_newline_cr_tab(void **state)
{
    (void)state;
    expect_quoted("a\nb\rc\td", "\"a\\nb\\rc\\td\"");
}

static void test_quote_escapes_other_control_chars_as_u00xx(void **state)
{
    (void)state;
    expect_quoted("\x01\x08\x0c\x1f", "\"\\u0001\\u0008\\u000c\\u001f\"");
}

static void test_quote_keeps_slash_and_del(void **state)
{
    (void)state;
    expect_quoted("a/b\x7f", "\"a/b\x7f\"");
}

static void test_quote_passes_utf8_through(void **state)
{
    (void)state;
    /* é, €, U+1F600 */
    expect_quoted("\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80",
                  "\"\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80\"");
}

static void test_quote_escapes_embedded_nul(void **state)
{
    (void)state;
    char *got = quote_len("a\0b", 3);
    assert_string_equal(got, "\"a\\u0000b\"");
    free(got);
}

static void test_quote_appends_to_existing_text(void **state)
{
    struct strbuf sb;
    (void)state;
    strbuf_init(&sb, 4);
    strbuf_adds(&sb, "[");
    strlist_add_quoted(&sb, "x", 1);
    strbuf_adds(&sb, ",");
    strlist_add_quoted(&sb, "y\"", 2);
    strbuf_adds(&sb, "]");
    assert_string_equal(sb.buf, "[\"x\",\"y\\\"\"]");
    strbuf_done(&sb);
}

static void test_quote_round_trips_through_iterator(void **state)
{
    static const char *const samples[] = {
        "",
        "plain",
        "with \"quotes\"",
        "back\\slash",
        "line\nbreak\r\n",
        "\ttab",
        "\x01\x02\x1f ctl",
        "caf\xc3\xa9",
        "\xf0\x9f\x98\x80 emoji",
        "{\"json\":[1,2]}",
        "a/b",
    };
    (void)state;
    struct strbuf sb;
    strbuf_init(&sb, 64);
    strbuf_addc(&sb, '[');
    for (size_t i = 0; i < ELEMENTSOF(samples); i++) {
        if (i)
            strbuf_addc(&sb, ',');
        strlist_add_quoted(&sb, samples[i], strlen(samples[i]));
    }
    strbuf_addc(&sb, ']');

    struct strlist_iter it;
    const char *k, *v;
    size_t n = 0;
    strlist_iter_init(&it, sb.buf);
    while (strlist_iter_next(&it, &k, &v)) {
        assert_true(n < ELEMENTSOF(samples));
        assert_null(k);
        assert_string_equal(v, samples[n]);
        n++;
    }
    assert_false(it.bad);
    assert_int_equal(n, ELEMENTSOF(samples));
    strlist_iter_done(&it);
    strbuf_done(&sb);
}

/* ---- iteration ---- */

static void test_iter_array_yields_elements_in_order(void **state)
{
    struct strlist_iter it;
    const char *k = "unset", *v;
    (void)state;
    strlist_iter_init(&it, "[\"a\",\"b\",\"c\"]");
    assert_false(it.is_map);
    assert_true(strlist_iter_next(&it, &k, &v));
    assert_null(k);
    assert_string_equal(v, "a");
    assert_true(strlist_iter_next(&it, &k, &v));
    assert_string_equal(v, "b");
    assert_true(strlist_iter_next(&it, &k, &v));
    assert_string_equal(v, "c");
    assert_false(strlist_iter_next(&it, &k, &v));
    assert_false(it.bad);
    strlist_iter_done(&it);
}

static void test_iter_array_accepts_null_key_pointer(void **state)
{
    struct strlist_iter it;
    const char *v;
    (void)state;
    strlist_iter_init(&it, "[\"a\"]");
    assert_true(strlist_iter_next(&it, NULL, &v));
    assert_string_equal(v, "a");
    assert_false(strlist_iter_next(&it, NULL, &v));
    strlist_iter_done(&it);
}

static void test_iter_map_yields_pairs_in_order(void **state)
{
    struct strlist_iter it;
    const char *k, *v;
    (void)state;
    strlist_iter_init(&it, "{\"k1\":\"v1\",\"k2\":\"\"}");
    assert_true(it.is_map);
    assert_true(strlist_iter_next(&it, &k, &v));
    assert_string_equal(k, "k1");
    assert_string_equal(v, "v1");
    assert_true(strlist_iter_next(&it, &k, &v));
    assert_string_equal(k, "k2");
    assert_string_equal(v, "");
    assert_false(strlist_iter_next(&it, &k, &v));
    assert_false(it.bad);
    strlist_iter_done(&it);
}

static void test_iter_empty_array_and_object_yield_nothing(void **state)
{
    static const char *const texts[] = {"[]", "{}", "[ ]", " { } "};
    (void)state;
    for (size_t i = 0; i < ELEMENTSOF(texts); i++) {
        struct strlist_iter it;
        const char *k, *v;
        strlist_iter_init(&it, texts[i]);
        assert_false(strlist_iter_next(&it, &k, &v));
        assert_false(it.bad);
        strlist_iter_done(&it);
    }
}

static void test_iter_null_and_empty_text_are_empty(void **state)
{
    struct strlist_iter it;
    const char *v;
    (void)state;
    strlist_iter_init(&it, NULL);
    assert_false(strlist_iter_next(&it, NULL, &v));
    assert_false(it.bad);
    strlist_iter_done(&it);
    strlist_iter_init(&it, "");
    assert_false(strlist_iter_next(&it, NULL, &v));
    assert_false(it.bad);
    strlist_iter_done(&it);
}

static void test_iter_tolerates_whitespace(void **state)
{
    struct strlist_iter it;
    const char *k, *v;
    (void)state;
    strlist_iter_init(&it, " \n{ \"a\" :\t\"1\" ,\r\n \"b\" : \"2\" } ");
    assert_true(strlist_iter_next(&it, &k, &v));
    assert_string_equal(k, "a");
    assert_string_equal(v, "1");
    assert_true(strlist_iter_next(&it, &k, &v));
    assert_string_equal(k, "b");
    assert_string_equal(v, "2");
    assert_false(strlist_iter_next(&it, &k, &v));
    assert_false(it.bad);
    strlist_iter_done(&it);
}

static void test_iter_unescapes_simple_escapes(void **state)
{
    struct strlist_iter it;
    const char *v;
    (void)state;
    strlist_iter_init(&it, "[\"\\\"\\\\\\/\\n\\r\\t\\b\\f\"]");
    assert_true(strlist_iter_next(&it, NULL, &v));
    assert_string_equal(v, "\"\\/\n\r\t\b\f");
    strlist_iter_done(&it);
}

static void test_iter_unescapes_u_escapes_to_utf8(void **state)
{
    struct strlist_iter it;
    const char *v;
    (void)state;
    strlist_iter_init(&it, "[\"\\u0041\\u00e9\\u20AC\\u0001\"]");
    assert_true(strlist_iter_next(&it, NULL, &v));
    assert_string_equal(v, "A\xc3\xa9\xe2\x82\xac\x01");
    strlist_iter_done(&it);
}

static void test_iter_joins_surrogate_pairs(void **state)
{
    struct strlist_iter it;
    const char *v;
    (void)state;
    strlist_iter_init(&it, "[\"\\ud83d\\ude00\"]");
    assert_true(strlist_iter_next(&it, NULL, &v));
    assert_string_equal(v, "\xf0\x9f\x98\x80");
    strlist_iter_done(&it);
}

static void test_iter_unescapes_keys(void **state)
{
    struct strlist_iter it;
    const char *k, *v;
    (void)state;
    strlist_iter_init(&it, "{\"a\\\"b\":\"c\\\\d\"}");
    assert_true(strlist_iter_next(&it, &k, &v));
    assert_string_equal(k, "a\"b");
    assert_string_equal(v, "c\\d");
    strlist_iter_done(&it);
}

static void test_iter_after_end_keeps_returning_false(void **state)
{
    struct strlist_iter it;
    const char *v;
    (void)state;
    strlist_iter_init(&it, "[\"a\"]");
    assert_true(strlist_iter_next(&it, NULL, &v));
    assert_false(strlist_iter_next(&it, NULL, &v));
    assert_false(strlist_iter_next(&it, NULL, &v));
    assert_false(it.bad);
    strlist_iter_done(&it);
}

static void test_iter_flags_text_that_is_not_a_container(void **state)
{
    (void)state;
    assert_true(iter_is_bad("abc"));
    assert_true(iter_is_bad("\"a\""));
    assert_true(iter_is_bad("1"));
}

static void test_iter_flags_unterminated_string(void **state)
{
    (void)state;
    assert_true(iter_is_bad("[\"abc"));
    assert_true(iter_is_bad("[\"abc\\\"]"));
}

static void test_iter_flags_unterminated_container(void **state)
{
    (void)state;
    assert_true(iter_is_bad("["));
    assert_true(iter_is_bad("[\"a\""));
    assert_true(iter_is_bad("{\"a\":\"b\""));
}

static void test_iter_flags_missing_comma(void **state)
{
    (void)state;
    assert_true(iter_is_bad("[\"a\" \"b\"]"));
}

static void test_iter_flags_trailing_comma(void **state)
{
    (void)state;
    assert_true(iter_is_bad("[\"a\",]"));
    assert_true(iter_is_bad("[\"a\",,\"b\"]"));
}

static void test_iter_flags_leading_comma(void **state)
{
    (void)state;
    assert_true(iter_is_bad("[,\"a\"]"));
}

static void test_iter_flags_mismatched_brackets(void **state)
{
    (void)state;
    assert_true(iter_is_bad("[\"a\"}"));
    assert_true(iter_is_bad("{\"k\":\"v\"]"));
}

static void test_iter_flags_non_string_elements(void **state)
{
    (void)state;
    assert_true(iter_is_bad("[1]"));
    assert_true(iter_is_bad("[null]"));
    assert_true(iter_is_bad("[[\"a\"]]"));
    assert_true(iter_is_bad("{\"k\":1}"));
}

static void test_iter_flags_bad_escapes(void **state)
{
    (void)state;
    assert_true(iter_is_bad("[\"\\x\"]"));
    assert_true(iter_is_bad("[\"\\u12g4\"]"));
    assert_true(iter_is_bad("[\"\\u12\"]"));
}

static void test_iter_flags_map_without_colon(void **state)
{
    (void)state;
    assert_true(iter_is_bad("{\"a\"}"));
    assert_true(iter_is_bad("{\"a\" \"b\"}"));
}

static void test_iter_flags_pair_in_array(void **state)
{
    (void)state;
    assert_true(iter_is_bad("[\"a\":\"b\"]"));
}

/* ---- count, contains, get ---- */

static void test_count_counts_elements(void **state)
{
    (void)state;
    assert_int_equal(strlist_count("[]"), 0);
    assert_int_equal(strlist_count(NULL), 0);
    assert_int_equal(strlist_count(""), 0);
    assert_int_equal(strlist_count("[\"a\"]"), 1);
    assert_int_equal(strlist_count("[\"a\",\"b\",\"c\"]"), 3);
    assert_int_equal(strlist_count("{\"a\":\"1\",\"b\":\"2\"}"), 2);
}

static void test_count_of_malformed_text_is_minus_one(void **state)
{
    (void)state;
    assert_int_equal(strlist_count("[\"a\""), -1);
    assert_int_equal(strlist_count("nonsense"), -1);
    assert_int_equal(strlist_count("[\"a\",]"), -1);
}

static void test_count_flags_text_after_the_container(void **state)
{
    (void)state;
    assert_int_equal(strlist_count("[\"a\"]x"), -1);
    assert_int_equal(strlist_count("[]]"), -1);
}

static void test_contains_finds_present_element(void **state)
{
    (void)state;
    assert_true(strlist_contains("[\"a\",\"b\"]", "b"));
    assert_true(strlist_contains("[\"a\\\"q\"]", "a\"q"));
    assert_true(strlist_contains("[\"\"]", ""));
}

static void test_contains_rejects_absent_element(void **state)
{
    (void)state;
    assert_false(strlist_contains("[\"a\",\"b\"]", "c"));
    assert_false(strlist_contains("[\"ab\"]", "a"));
    assert_false(strlist_contains("[]", ""));
    assert_false(strlist_contains(NULL, "a"));
}

static void test_contains_on_malformed_text_is_false(void **state)
{
    (void)state;
    assert_false(strlist_contains("[\"a\" \"b\"]", "b"));
}

static void test_strmap_get_returns_copy_of_value(void **state)
{
    (void)state;
    char *v = strmap_get("{\"a\":\"1\",\"b\":\"x\\ny\"}", "b");
    assert_non_null(v);
    assert_string_equal(v, "x\ny");
    free(v);
}

static void test_strmap_get_of_missing_key_is_null(void **state)
{
    (void)state;
    assert_null(strmap_get("{\"a\":\"1\"}", "b"));
    assert_null(strmap_get("{}", "a"));
    assert_null(strmap_get(NULL, "a"));
}

static void test_strmap_get_matches_escaped_key(void **state)
{
    (void)state;
    char *v = strmap_get("{\"k\\\"ey\":\"v\"}", "k\"ey");
    assert_non_null(v);
    assert_string_equal(v, "v");
    free(v);
}

static void test_strmap_get_on_array_text_is_null(void **state)
{
    (void)state;
    assert_null(strmap_get("[\"a\",\"b\"]", "a"));
}

static void test_strmap_get_first_duplicate_wins(void **state)
{
    (void)state;
    char *v = strmap_get("{\"a\":\"1\",\"a\":\"2\"}", "a");
    assert_non_null(v);
    assert_string_equal(v, "1");
    free(v);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_quote_plain_string),
        cmocka_unit_test(test_quote_empty_string),
        cmocka_unit_test(test_quote_escapes_double_quote),
        cmocka_unit_test(test_quote_escapes_backslash),
        cmocka_unit_test(test_quote_escapes_newline_cr_tab),
        cmocka_unit_test(test_quote_escapes_other_control_chars_as_u00xx),
        cmocka_unit_test(test_quote_keeps_slash_and_del),
        cmocka_unit_test(test_quote_passes_utf8_through),
        cmocka_unit_test(test_quote_escapes_embedded_nul),
        cmocka_unit_test(test_quote_appends_to_existing_text),
        cmocka_unit_test(test_quote_round_trips_through_iterator),
        cmocka_unit_test(test_iter_array_yields_elements_in_order),
        cmocka_unit_test(test_iter_array_accepts_null_key_pointer),
        cmocka_unit_test(test_iter_map_yields_pairs_in_order),
        cmocka_unit_test(test_iter_empty_array_and_object_yield_nothing),
        cmocka_unit_test(test_iter_null_and_empty_text_are_empty),
        cmocka_unit_test(test_iter_tolerates_whitespace),
        cmocka_unit_test(test_iter_unescapes_simple_escapes),
        cmocka_unit_test(test_iter_unescapes_u_escapes_to_utf8),
        cmocka_unit_test(test_iter_joins_surrogate_pairs),
        cmocka_unit_test(test_iter_unescapes_keys),
        cmocka_unit_test(test_iter_after_end_keeps_returning_false),
        cmocka_unit_test(test_iter_flags_text_that_is_not_a_container),
        cmocka_unit_test(test_iter_flags_unterminated_string),
        cmocka_unit_test(test_iter_flags_unterminated_container),
        cmocka_unit_test(test_iter_flags_missing_comma),
        cmocka_unit_test(test_iter_flags_trailing_comma),
        cmocka_unit_test(test_iter_flags_leading_comma),
        cmocka_unit_test(test_iter_flags_mismatched_brackets),
        cmocka_unit_test(test_iter_flags_non_string_elements),
        cmocka_unit_test(test_iter_flags_bad_escapes),
        cmocka_unit_test(test_iter_flags_map_without_colon),
        cmocka_unit_test(test_iter_flags_pair_in_array),
        cmocka_unit_test(test_count_counts_elements),
        cmocka_unit_test(test_count_of_malformed_text_is_minus_one),
        cmocka_unit_test(test_count_flags_text_after_the_container),
        cmocka_unit_test(test_contains_finds_present_element),
        cmocka_unit_test(test_contains_rejects_absent_element),
        cmocka_unit_test(test_contains_on_malformed_text_is_false),
        cmocka_unit_test(test_strmap_get_returns_copy_of_value),
        cmocka_unit_test(test_strmap_get_of_missing_key_is_null),
        cmocka_unit_test(test_strmap_get_matches_escaped_key),
        cmocka_unit_test(test_strmap_get_on_array_text_is_null),
        cmocka_unit_test(test_strmap_get_first_duplicate_wins),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
