/* Unit tests of the small utilities in lib/util.c: random UUIDs (format,
 * version and variant bits, that they differ) and uuid_is_valid; datetimes
 * in the XenAPI form and RFC 3339 (with Z, offsets, fractions or no zone),
 * their round trip and the rejection of malformed or out-of-range text;
 * UTF-8 validation of overlong forms, surrogates, out-of-range code points
 * and truncated sequences; and the allocation helpers. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "lib/cleanup.h"
#include "lib/util.h"

/* 2024-04-20T12:00:00Z */
#define T_20240420_1200 ((time_t)1713614400)

/* ---- UUIDs ---- */

static void test_uuid_generate_has_8_4_4_4_12_lower_hex_form(void **state)
{
    char u[UUID_STR_LEN];
    (void)state;
    uuid_generate_str(u);
    assert_int_equal(strlen(u), 36);
    for (int i = 0; i < 36; i++) {
        if (i == 8 || i == 13 || i == 18 || i == 23)
            assert_int_equal(u[i], '-');
        else
            assert_true(isxdigit((unsigned char)u[i]) && !isupper((unsigned char)u[i]));
    }
    assert_true(uuid_is_valid(u));
}

static void test_uuid_generate_sets_version_4_and_rfc_variant(void **state)
{
    (void)state;
    for (int n = 0; n < 100; n++) {
        char u[UUID_STR_LEN];
        uuid_generate_str(u);
        assert_int_equal(u[14], '4');
        assert_non_null(strchr("89ab", u[19]));
    }
}

static void test_uuid_generate_gives_different_uuids(void **state)
{
    char a[UUID_STR_LEN], b[UUID_STR_LEN];
    (void)state;
    uuid_generate_str(a);
    uuid_generate_str(b);
    assert_string_not_equal(a, b);
}

static int cmp_uuid(const void *a, const void *b)
{
    return strcmp(a, b);
}

static void test_uuid_generate_stays_unique_across_pool_refills(void **state)
{
    enum { N = 2000 }; /* many times the 16 UUIDs a refill of the pool holds */
    char(*u)[UUID_STR_LEN] = calloc(N, sizeof(*u));
    (void)state;
    assert_non_null(u);
    for (int i = 0; i < N; i++)
        uuid_generate_str(u[i]);
    qsort(u, N, sizeof(*u), cmp_uuid);
    for (int i = 1; i < N; i++)
        assert_string_not_equal(u[i - 1], u[i]);
    free(u);
}

static void test_uuid_is_valid_accepts_lower_and_upper_case(void **state)
{
    (void)state;
    assert_true(uuid_is_valid("0165f154-ba3e-034e-6b27-5d271af109ba"));
    assert_true(uuid_is_valid("0165F154-BA3E-034E-6B27-5D271AF109BA"));
    assert_true(uuid_is_valid("00000000-0000-0000-0000-000000000000"));
}

static void test_uuid_is_valid_rejects_malformed(void **state)
{
    static const char *const bad[] = {
        "",
        "0165f154",
        "0165f154-ba3e-034e-6b27-5d271af109b",   /* short */
        "0165f154-ba3e-034e-6b27-5d271af109ba0", /* long */
        "0165f154ba3e-034e-6b27-5d271af109ba0",  /* dash missing */
        "0165f15-4ba3e-034e-6b27-5d271af109ba",  /* dash misplaced */
        "0165f154-ba3e-034e-6b27-5d271af109bg",  /* not hex */
        "0165f154-ba3e-034e-6b27_5d271af109ba",
        "{0165f154-ba3e-034e-6b27-5d271af109b}",
        "OpaqueRef:0165f154-ba3e-034e-6b27-5d271af1",
    };
    (void)state;
    for (size_t i = 0; i < ELEMENTSOF(bad); i++)
        if (uuid_is_valid(bad[i]))
            fail_msg("accepted '%s'", bad[i]);
}

/* ---- datetimes ---- */

static time_t parse_ok(const char *s)
{
    time_t t = 0;
    int r = datetime_parse(s, &t);
    if (r != 0)
        fail_msg("rejected '%s': %d", s, r);
    return t;
}

static void test_datetime_format_writes_xapi_form(void **state)
{
    char buf[DATETIME_LEN];
    (void)state;
    datetime_format(T_20240420_1200, buf);
    assert_string_equal(buf, "20240420T12:00:00Z");
    datetime_format(0, buf);
    assert_string_equal(buf, "19700101T00:00:00Z");
    datetime_format((time_t)1709208007, buf);
    assert_string_equal(buf, "20240229T12:00:07Z");
}

static void test_datetime_parse_reads_xapi_form(void **state)
{
    (void)state;
    assert_int_equal(parse_ok("20240420T12:00:00Z"), T_20240420_1200);
    assert_int_equal(parse_ok("19700101T00:00:00Z"), 0);
}

static void test_datetime_parse_reads_rfc3339_utc(void **state)
{
    (void)state;
    assert_int_equal(parse_ok("2024-04-20T12:00:00Z"), T_20240420_1200);
    assert_int_equal(parse_ok("2024-04-20t12:00:00z"), T_20240420_1200);
    assert_int_equal(parse_ok("2024-04-20 12:00:00Z"), T_20240420_1200);
}

static void test_datetime_parse_applies_positive_offset(void **state)
{
    (void)state;
    /* 12:00 at +02:00 is 10:00Z. */
    assert_int_equal(parse_ok("2024-04-20T12:00:00+02:00"), T_20240420_1200 - 2 * 3600);
}

static void test_datetime_parse_applies_negative_offset(void **state)
{
    (void)state;
    /* 12:00 at -05:30 is 17:30Z. */
    assert_int_equal(parse_ok("2024-04-20T12:00:00-05:30"), T_20240420_1200 + 5 * 3600 + 1800);
}

static void test_datetime_parse_accepts_offset_without_colon(void **state)
{
    (void)state;
    assert_int_equal(parse_ok("2024-04-20T12:00:00+0200"), T_20240420_1200 - 2 * 3600);
    assert_int_equal(parse_ok("20240420T12:00:00+00:00"), T_20240420_1200);
}

static void test_datetime_parse_offset_crosses_midnight(void **state)
{
    (void)state;
    /* 2024-04-20T01:00:00+02:00 is 2024-04-19T23:00:00Z. */
    assert_int_equal(parse_ok("2024-04-20T01:00:00+02:00"), T_20240420_1200 - 13 * 3600);
}

static void test_datetime_parse_drops_fractions(void **state)
{
    (void)state;
    assert_int_equal(parse_ok("2024-04-20T12:00:00.999Z"), T_20240420_1200);
    assert_int_equal(parse_ok("2024-04-20T12:00:00.123456789+02:00"), T_20240420_1200 - 7200);
    assert_int_equal(parse_ok("20240420T12:00:00.5Z"), T_20240420_1200);
}

static void test_datetime_parse_without_zone_is_utc(void **state)
{
    (void)state;
    assert_int_equal(parse_ok("2024-04-20T12:00:00"), T_20240420_1200);
    assert_int_equal(parse_ok("20240420T12:00:00"), T_20240420_1200);
}

static void test_datetime_round_trips(void **state)
{
    static const time_t times[] = {
        0,          1,         951782400 /* 2000-02-29 */, T_20240420_1200,
        1709208007, 4102444799 /* 2099-12-31T23:59:59 */};
    (void)state;
    for (size_t i = 0; i < ELEMENTSOF(times); i++) {
        char buf[DATETIME_LEN], again[DATETIME_LEN];
        time_t t = 0;
        datetime_format(times[i], buf);
        assert_int_equal(datetime_parse(buf, &t), 0);
        assert_int_equal(t, times[i]);
        datetime_format(t, again);
        assert_string_equal(again, buf);
    }
}

static void test_datetime_parse_rejects_garbage(void **state)
{
    static const char *const bad[] = {
        "",
        "garbage",
        "2024",
        "2024-04-20",
        "20240420",
        "2024-04-20T12:00",
        "20240420T12:00Z",
        "2024/04/20T12:00:00Z",
        "2024-04-20X12:00:00Z",
        "2024-0420T12:00:00Z",
        "202404-20T12:00:00Z",
        "2024-04-20T12-00-00Z",
        "2024-04-20T12:00:00Zjunk",
        "2024-04-20T12:00:00 Z",
        "2024-04-20T12:00:00+2",
        "2024-04-20T12:00:00+02:0",
        "2024-04-20T12:00:00+",
        "2024-04-20T1a:00:00Z",
        " 2024-04-20T12:00:00Z",
    };
    (void)state;
    for (size_t i = 0; i < ELEMENTSOF(bad); i++) {
        time_t t = 0;
        if (datetime_parse(bad[i], &t) != -EINVAL)
            fail_msg("accepted '%s'", bad[i]);
    }
}

static void test_datetime_parse_rejects_out_of_range_fields(void **state)
{
    static const char *const bad[] = {
        "2024-00-20T12:00:00Z", "2024-13-20T12:00:00Z", "2024-04-00T12:00:00Z",
        "2024-04-32T12:00:00Z", "2024-04-20T24:00:00Z", "2024-04-20T12:60:00Z",
        "2024-04-20T12:00:61Z",
    };
    (void)state;
    for (size_t i = 0; i < ELEMENTSOF(bad); i++) {
        time_t t = 0;
        if (datetime_parse(bad[i], &t) != -EINVAL)
            fail_msg("accepted '%s'", bad[i]);
    }
}

static void test_datetime_parse_rejects_day_past_end_of_month(void **state)
{
    static const char *const bad[] = {
        "2024-02-30T00:00:00Z", /* leap year: 29 days */
        "2023-02-29T00:00:00Z", /* 28 days */
        "2024-04-31T00:00:00Z", /* April has 30 */
        "20241131T00:00:00Z",
    };
    (void)state;
    for (size_t i = 0; i < ELEMENTSOF(bad); i++) {
        time_t t = 0;
        if (datetime_parse(bad[i], &t) != -EINVAL)
            fail_msg("accepted '%s' as %lld", bad[i], (long long)t);
    }
}

static void test_datetime_parse_rejects_offset_out_of_range(void **state)
{
    static const char *const bad[] = {
        "2024-04-20T12:00:00+24:00",
        "2024-04-20T12:00:00+02:60",
        "2024-04-20T12:00:00-99:99",
    };
    (void)state;
    for (size_t i = 0; i < ELEMENTSOF(bad); i++) {
        time_t t = 0;
        if (datetime_parse(bad[i], &t) != -EINVAL)
            fail_msg("accepted '%s' as %lld", bad[i], (long long)t);
    }
}

static void test_datetime_parse_leaves_result_alone_on_failure(void **state)
{
    time_t t = 12345;
    (void)state;
    assert_int_equal(datetime_parse("2024-13-01T00:00:00Z", &t), -EINVAL);
    assert_int_equal(t, 12345);
    assert_int_equal(datetime_parse("nonsense", &t), -EINVAL);
    assert_int_equal(t, 12345);
}

/* ---- UTF-8 ---- */

static bool valid(const char *s)
{
    return utf8_is_valid(s, strlen(s));
}

static void test_utf8_accepts_ascii_and_empty(void **state)
{
    (void)state;
    assert_true(utf8_is_valid("", 0));
    assert_true(valid("plain ASCII \x01\x7f"));
}

static void test_utf8_accepts_multibyte_sequences(void **state)
{
    (void)state;
    assert_true(valid("\xc2\x80"));         /* U+0080, smallest 2-byte */
    assert_true(valid("caf\xc3\xa9"));      /* é */
    assert_true(valid("\xdf\xbf"));         /* U+07FF */
    assert_true(valid("\xe0\xa0\x80"));     /* U+0800, smallest 3-byte */
    assert_true(valid("\xe2\x82\xac"));     /* € */
    assert_true(valid("\xed\x9f\xbf"));     /* U+D7FF, below the surrogates */
    assert_true(valid("\xee\x80\x80"));     /* U+E000, above them */
    assert_true(valid("\xef\xbf\xbf"));     /* U+FFFF */
    assert_true(valid("\xf0\x90\x80\x80")); /* U+10000, smallest 4-byte */
    assert_true(valid("\xf0\x9f\x98\x80")); /* U+1F600 */
    assert_true(valid("\xf4\x8f\xbf\xbf")); /* U+10FFFF, the largest */
}

static void test_utf8_accepts_embedded_nul(void **state)
{
    (void)state;
    assert_true(utf8_is_valid("a\0b", 3));
}

static void test_utf8_rejects_overlong_forms(void **state)
{
    (void)state;
    assert_false(valid("\xc0\x80")); /* NUL in two bytes */
    assert_false(valid("\xc0\xaf")); /* '/' in two bytes */
    assert_false(valid("\xc1\xbf"));
    assert_false(valid("\xe0\x80\xaf"));     /* '/' in three bytes */
    assert_false(valid("\xe0\x9f\xbf"));     /* U+07FF in three bytes */
    assert_false(valid("\xf0\x80\x80\xaf")); /* '/' in four bytes */
    assert_false(valid("\xf0\x8f\xbf\xbf")); /* U+FFFF in four bytes */
}

static void test_utf8_rejects_surrogates(void **state)
{
    (void)state;
    assert_false(valid("\xed\xa0\x80"));             /* U+D800 */
    assert_false(valid("\xed\xaf\xbf"));             /* U+DBFF */
    assert_false(valid("\xed\xb0\x80"));             /* U+DC00 */
    assert_false(valid("\xed\xbf\xbf"));             /* U+DFFF */
    assert_false(valid("\xed\xa0\xbd\xed\xb8\x80")); /* a CESU-8 pair */
}

static void test_utf8_rejects_code_points_above_10ffff(void **state)
{
    (void)state;
    assert_false(valid("\xf4\x90\x80\x80"));
    assert_false(valid("\xf5\x80\x80\x80"));
    assert_false(valid("\xf7\xbf\xbf\xbf"));
}

static void test_utf8_rejects_invalid_lead_bytes(void **state)
{
    (void)state;
    assert_false(valid("\xf8\x88\x80\x80\x80"));
    assert_false(valid("\xfc\x84\x80\x80\x80\x80"));
    assert_false(valid("\xfe"));
    assert_false(valid("\xff"));
}

static void test_utf8_rejects_stray_continuation_bytes(void **state)
{
    (void)state;
    assert_false(valid("\x80"));
    assert_false(valid("a\xbf"));
    assert_false(valid("\xc3\xa9\xa9"));
}

static void test_utf8_rejects_truncated_sequences(void **state)
{
    (void)state;
    assert_false(valid("\xc3"));
    assert_false(valid("\xe2\x82"));
    assert_false(valid("\xf0\x9f\x98"));
    assert_false(valid("\xc3\x41"));         /* then 'A' */
    assert_false(valid("\xe2\x82\x41"));     /* then 'A' */
    assert_false(valid("\xf0\x9f\x41\x42")); /* then "AB" */
}

static void test_utf8_stops_at_the_given_length(void **state)
{
    (void)state;
    /* What lies after len is not looked at, and a sequence cut by len is
     * truncated. */
    assert_true(utf8_is_valid("ab\xff", 2));
    assert_false(utf8_is_valid("\xe2\x82\xac", 2));
}

/* ---- allocation and strings ---- */

static void test_xstrndup_copies_at_most_n_bytes(void **state)
{
    (void)state;
    char *s = xstrndup("abcdef", 3);
    assert_string_equal(s, "abc");
    free(s);
    s = xstrndup("ab", 10);
    assert_string_equal(s, "ab");
    free(s);
}

static void test_xasprintf_formats(void **state)
{
    (void)state;
    char *s = xasprintf("%s-%d", "vm", 42);
    assert_string_equal(s, "vm-42");
    free(s);
}

static void test_xmalloc_of_zero_bytes_is_usable(void **state)
{
    (void)state;
    void *p = xmalloc(0);
    assert_non_null(p);
    free(p);
    p = xcalloc(0, 0);
    assert_non_null(p);
    free(p);
}

static void test_streq_compares_text(void **state)
{
    (void)state;
    assert_true(streq("a", "a"));
    assert_false(streq("a", "ab"));
    assert_true(streq("", ""));
}

static void test_clocks_are_sane(void **state)
{
    (void)state;
    double a = now_monotonic(), b = now_monotonic();
    assert_true(b >= a);
    /* Later than 2020-01-01. */
    assert_true(now_realtime() > 1577836800.0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_uuid_generate_has_8_4_4_4_12_lower_hex_form),
        cmocka_unit_test(test_uuid_generate_sets_version_4_and_rfc_variant),
        cmocka_unit_test(test_uuid_generate_gives_different_uuids),
        cmocka_unit_test(test_uuid_generate_stays_unique_across_pool_refills),
        cmocka_unit_test(test_uuid_is_valid_accepts_lower_and_upper_case),
        cmocka_unit_test(test_uuid_is_valid_rejects_malformed),
        cmocka_unit_test(test_datetime_format_writes_xapi_form),
        cmocka_unit_test(test_datetime_parse_reads_xapi_form),
        cmocka_unit_test(test_datetime_parse_reads_rfc3339_utc),
        cmocka_unit_test(test_datetime_parse_applies_positive_offset),
        cmocka_unit_test(test_datetime_parse_applies_negative_offset),
        cmocka_unit_test(test_datetime_parse_accepts_offset_without_colon),
        cmocka_unit_test(test_datetime_parse_offset_crosses_midnight),
        cmocka_unit_test(test_datetime_parse_drops_fractions),
        cmocka_unit_test(test_datetime_parse_without_zone_is_utc),
        cmocka_unit_test(test_datetime_round_trips),
        cmocka_unit_test(test_datetime_parse_rejects_garbage),
        cmocka_unit_test(test_datetime_parse_rejects_out_of_range_fields),
        cmocka_unit_test(test_datetime_parse_rejects_day_past_end_of_month),
        cmocka_unit_test(test_datetime_parse_rejects_offset_out_of_range),
        cmocka_unit_test(test_datetime_parse_leaves_result_alone_on_failure),
        cmocka_unit_test(test_utf8_accepts_ascii_and_empty),
        cmocka_unit_test(test_utf8_accepts_multibyte_sequences),
        cmocka_unit_test(test_utf8_accepts_embedded_nul),
        cmocka_unit_test(test_utf8_rejects_overlong_forms),
        cmocka_unit_test(test_utf8_rejects_surrogates),
        cmocka_unit_test(test_utf8_rejects_code_points_above_10ffff),
        cmocka_unit_test(test_utf8_rejects_invalid_lead_bytes),
        cmocka_unit_test(test_utf8_rejects_stray_continuation_bytes),
        cmocka_unit_test(test_utf8_rejects_truncated_sequences),
        cmocka_unit_test(test_utf8_stops_at_the_given_length),
        cmocka_unit_test(test_xstrndup_copies_at_most_n_bytes),
        cmocka_unit_test(test_xasprintf_formats),
        cmocka_unit_test(test_xmalloc_of_zero_bytes_is_usable),
        cmocka_unit_test(test_streq_compares_text),
        cmocka_unit_test(test_clocks_are_sane),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
