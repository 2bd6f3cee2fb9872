/* Unit tests of XAPI's filter expressions (xapi-c/filter.c), parsed against
 * the VM class and evaluated on rows of an in-memory database: field =
 * literal and literal = field, literal and field comparisons by canonical
 * text (including enums, ints and computed relation sets), true and false,
 * not/and/or precedence and parentheses, escapes in literals, INVALID_VALUE
 * for unknown fields and every kind of syntax error, the bound on nesting
 * depth, long flat chains, and that parsing and freeing leaves no memory
 * behind. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/strbuf.h"
#include "lib/util.h"
#include "xapi-c/db.h"
#include "xapi-c/error.h"
#include "xapi-c/filter.h"
#include "xapi-c/model.h"

#define VM_A "OpaqueRef:vm-a"
#define VM_B "OpaqueRef:vm-b"
#define VBD_1 "OpaqueRef:vbd-1"

/* Rows: VM a ("alpha", description "alpha", user_version 3, one VBD), VM b
 * ("b\"q", description "", Running). */
static int setup_db(void **state)
{
    (void)state;
    if (db_open(NULL) < 0)
        return -1;
    struct changeset *cs = changeset_new();
    int n = model_classes[C_VM].n_fields;
    char **a = xcalloc((size_t)n + 1, sizeof(char *));
    a[FIDX(VM, name_label)] = xstrdup("alpha");
    a[FIDX(VM, name_description)] = xstrdup("alpha");
    a[FIDX(VM, user_version)] = xstrdup("3");
    changeset_create(cs, C_VM, VM_A, a);
    char **b = xcalloc((size_t)n + 1, sizeof(char *));
    b[FIDX(VM, name_label)] = xstrdup("b\"q");
    b[FIDX(VM, power_state)] = xstrdup("Running");
    changeset_create(cs, C_VM, VM_B, b);
    char **d = xcalloc((size_t)model_classes[C_VBD].n_fields + 1, sizeof(char *));
    d[FIDX(VBD, VM)] = xstrdup(VM_A);
    changeset_create(cs, C_VBD, VBD_1, d);
    db_wrlock();
    int r = db_apply(cs);
    db_unlock();
    changeset_free(cs);
    return r;
}

static int teardown_db(void **state)
{
    (void)state;
    db_close();
    return 0;
}

static struct filter *parse_vm(const char *text)
{
    struct filter *f = NULL;
    struct api_error *e = filter_parse(text, C_VM, &f);
    if (e) {
        char msg[256];
        snprintf(msg, sizeof(msg), "%s", e->n > 1 ? e->params[1] : e->code);
        api_error_free(e);
        fail_msg("rejected '%s': %s", text, msg);
    }
    assert_non_null(f);
    return f;
}

static bool matches(const char *text, const char *ref)
{
    struct filter *f = parse_vm(text);
    db_rdlock();
    const struct row *r = db_get(C_VM, ref);
    assert_non_null(r);
    bool m = filter_match(f, r);
    db_unlock();
    filter_free(f);
    return m;
}

/* Checks that text fails to parse with INVALID_VALUE [text, reason]; the
 * reason is returned, newly allocated. */
static char *parse_error(const char *text, int cls)
{
    /* On failure the output parameter is left as it was. */
    struct filter *sentinel = NULL;
    assert_null(filter_parse("true", cls, &sentinel));
    struct filter *f = sentinel;
    struct api_error *e = filter_parse(text, cls, &f);
    bool untouched = f == sentinel;
    if (!untouched)
        filter_free(f);
    filter_free(sentinel);
    if (!e)
        fail_msg("accepted '%s'", text);
    bool ok = streq(e->code, "INVALID_VALUE") && e->n == 2 && streq(e->params[0], text);
    char *reason = xstrdup(e->n == 2 ? e->params[1] : "");
    api_error_free(e);
    assert_true(untouched);
    if (!ok) {
        free(reason);
        fail_msg("'%s': not INVALID_VALUE [expr, reason]", text);
    }
    return reason;
}

static void expect_syntax_error(const char *text)
{
    free(parse_error(text, C_VM));
}

/* ---- comparisons ---- */

static void test_filter_field_equals_literal(void **state)
{
    (void)state;
    assert_true(matches("field \"name_label\" = \"alpha\"", VM_A));
    assert_false(matches("field \"name_label\" = \"alpha\"", VM_B));
}

static void test_filter_literal_equals_field(void **state)
{
    (void)state;
    assert_true(matches("\"alpha\" = field \"name_label\"", VM_A));
    assert_false(matches("\"alpha\" = field \"name_label\"", VM_B));
}

static void test_filter_literal_equals_literal(void **state)
{
    (void)state;
    assert_true(matches("\"x\" = \"x\"", VM_A));
    assert_false(matches("\"x\" = \"y\"", VM_A));
}

static void test_filter_field_equals_field(void **state)
{
    (void)state;
    assert_true(matches("field \"name_label\" = field \"name_description\"", VM_A));
    assert_false(matches("field \"name_label\" = field \"name_description\"", VM_B));
}

static void test_filter_comparison_is_exact_text(void **state)
{
    (void)state;
    assert_false(matches("field \"name_label\" = \"Alpha\"", VM_A));
    assert_false(matches("field \"name_label\" = \"alph\"", VM_A));
    assert_false(matches("field \"name_label\" = \"alpha \"", VM_A));
}

static void test_filter_literal_unescapes_quotes(void **state)
{
    (void)state;
    assert_true(matches("field \"name_label\" = \"b\\\"q\"", VM_B));
}

static void test_filter_enum_field_compares_canonical_spelling(void **state)
{
    (void)state;
    assert_true(matches("field \"power_state\" = \"Halted\"", VM_A));
    assert_true(matches("field \"power_state\" = \"Running\"", VM_B));
    assert_false(matches("field \"power_state\" = \"halted\"", VM_A));
}

static void test_filter_int_field_compares_decimal_text(void **state)
{
    (void)state;
    assert_true(matches("field \"user_version\" = \"3\"", VM_A));
    assert_true(matches("field \"user_version\" = \"0\"", VM_B));
}

static void test_filter_computed_field_compares_its_set_text(void **state)
{
    (void)state;
    assert_true(matches("field \"VBDs\" = \"[\\\"" VBD_1 "\\\"]\"", VM_A));
    assert_true(matches("field \"VBDs\" = \"[]\"", VM_B));
}

static void test_filter_compares_two_computed_fields(void **state)
{
    (void)state;
    /* Each side has its own scratch buffer. */
    assert_false(matches("field \"VBDs\" = field \"VIFs\"", VM_A));
    assert_true(matches("field \"VBDs\" = field \"VIFs\"", VM_B));
}

/* ---- logic ---- */

static void test_filter_true_and_false(void **state)
{
    (void)state;
    assert_true(matches("true", VM_A));
    assert_false(matches("false", VM_A));
}

static void test_filter_not_negates(void **state)
{
    (void)state;
    assert_false(matches("not true", VM_A));
    assert_true(matches("not false", VM_A));
    assert_true(matches("not not true", VM_A));
    assert_true(matches("not field \"name_label\" = \"alpha\"", VM_B));
}

static void test_filter_and_requires_both(void **state)
{
    (void)state;
    assert_true(matches("true and true", VM_A));
    assert_false(matches("true and false", VM_A));
    assert_false(matches("false and true", VM_A));
    assert_true(
        matches("field \"name_label\" = \"alpha\" and field \"power_state\" = \"Halted\"", VM_A));
}

static void test_filter_or_requires_either(void **state)
{
    (void)state;
    assert_true(matches("false or true", VM_A));
    assert_true(matches("true or false", VM_A));
    assert_false(matches("false or false", VM_A));
}

static void test_filter_and_binds_tighter_than_or(void **state)
{
    (void)state;
    /* true or (false and false) */
    assert_true(matches("true or false and false", VM_A));
    /* (false and true) or true */
    assert_true(matches("false and true or true", VM_A));
    /* (false and false) or false */
    assert_false(matches("false and false or false", VM_A));
}

static void test_filter_not_binds_tighter_than_and(void **state)
{
    (void)state;
    /* (not false) and false */
    assert_false(matches("not false and false", VM_A));
    /* (not true) or true */
    assert_true(matches("not true or true", VM_A));
}

static void test_filter_parentheses_group(void **state)
{
    (void)state;
    assert_false(matches("(true or false) and false", VM_A));
    assert_true(matches("not (false and true)", VM_A));
    assert_false(matches("not (true or false)", VM_A));
    assert_true(matches("((((true))))", VM_A));
}

static void test_filter_whitespace_is_free(void **state)
{
    (void)state;
    assert_true(matches("  \t(\ntrue\n)\tand\r\nfield\"name_label\"=\"alpha\"  ", VM_A));
}

static void test_filter_keywords_need_a_word_boundary(void **state)
{
    (void)state;
    expect_syntax_error("truex");
    expect_syntax_error("true andfalse");
    expect_syntax_error("nottrue");
    expect_syntax_error("true_");
}

/* ---- errors ---- */

static void test_filter_unknown_field_is_invalid_value(void **state)
{
    (void)state;
    char *reason = parse_error("field \"no_such_field\" = \"x\"", C_VM);
    assert_non_null(strstr(reason, "unknown field"));
    free(reason);
}

static void test_filter_field_is_looked_up_in_the_given_class(void **state)
{
    (void)state;
    free(parse_error("field \"power_state\" = \"Halted\"", C_VBD));
    struct filter *f = NULL;
    struct api_error *e = filter_parse("field \"VM\" = \"x\"", C_VBD, &f);
    assert_null(e);
    filter_free(f);
}

static void test_filter_syntax_errors_are_invalid_value(void **state)
{
    static const char *const bad[] = {
        "",
        "   ",
        "field",
        "field name_label = \"a\"",
        "field \"name_label\"",
        "field \"name_label\" \"a\"",
        "field \"name_label\" =",
        "field \"name_label\" = ",
        "field \"name_label\" = \"a",
        "\"unterminated",
        "= \"a\"",
        "(true",
        "true)",
        "()",
        "true and",
        "and true",
        "or true",
        "true or",
        "not",
        "true true",
        "field \"name_label\" = \"a\" extra",
        "field \"name_label\" == \"a\"",
        "\"a\" = \"b\" = \"c\"",
    };
    (void)state;
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        expect_syntax_error(bad[i]);
}

static char *repeat(const char *head, const char *unit, size_t n, const char *mid,
                    const char *tail_unit)
{
    struct strbuf sb;
    strbuf_init(&sb, 64);
    strbuf_adds(&sb, head);
    for (size_t i = 0; i < n; i++)
        strbuf_adds(&sb, unit);
    strbuf_adds(&sb, mid);
    for (size_t i = 0; tail_unit && i < n; i++)
        strbuf_adds(&sb, tail_unit);
    char *s = strbuf_detach(&sb, NULL);
    strbuf_done(&sb);
    return s;
}

static void test_filter_moderate_nesting_is_accepted(void **state)
{
    (void)state;
    char *s = repeat("", "(", 40, "true", ")");
    assert_true(matches(s, VM_A));
    free(s);
    s = repeat("", "not ", 40, "true", NULL);
    assert_true(matches(s, VM_A));
    free(s);
}

static void test_filter_deep_parentheses_are_refused(void **state)
{
    (void)state;
    char *s = repeat("", "(", 100000, "true", ")");
    char *reason = parse_error(s, C_VM);
    assert_non_null(strstr(reason, "nested too deeply"));
    free(reason);
    free(s);
}

static void test_filter_deep_not_chain_is_refused(void **state)
{
    (void)state;
    char *s = repeat("", "not ", 100000, "true", NULL);
    char *reason = parse_error(s, C_VM);
    assert_non_null(strstr(reason, "nested too deeply"));
    free(reason);
    free(s);
}

static void test_filter_long_flat_chain_is_accepted(void **state)
{
    (void)state;
    /* About the largest chain an RPC body (300 KiB) can carry. */
    char *s = repeat("false", " or false", 30000, " or true", NULL);
    assert_true(matches(s, VM_A));
    free(s);
    s = repeat("true", " and true", 30000, " and false", NULL);
    assert_false(matches(s, VM_A));
    free(s);
}

static void test_filter_free_accepts_null(void **state)
{
    (void)state;
    filter_free(NULL);
}

static void test_filter_parse_and_free_leave_no_heap_behind(void **state)
{
    (void)state;
    const char *text = "field \"name_label\" = \"alpha\" or \"x\" = field \"name_description\"";
    /* Warm up allocator caches before measuring. */
    for (int i = 0; i < 10; i++)
        filter_free(parse_vm(text));
    struct mallinfo2 before = mallinfo2();
    for (int i = 0; i < 2000; i++)
        filter_free(parse_vm(text));
    struct mallinfo2 after = mallinfo2();
    size_t grown = after.uordblks > before.uordblks ? after.uordblks - before.uordblks : 0;
    if (grown > 16384)
        fail_msg("2000 parse/free cycles kept %zu bytes", grown);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_filter_field_equals_literal),
        cmocka_unit_test(test_filter_literal_equals_field),
        cmocka_unit_test(test_filter_literal_equals_literal),
        cmocka_unit_test(test_filter_field_equals_field),
        cmocka_unit_test(test_filter_comparison_is_exact_text),
        cmocka_unit_test(test_filter_literal_unescapes_quotes),
        cmocka_unit_test(test_filter_enum_field_compares_canonical_spelling),
        cmocka_unit_test(test_filter_int_field_compares_decimal_text),
        cmocka_unit_test(test_filter_computed_field_compares_its_set_text),
        cmocka_unit_test(test_filter_compares_two_computed_fields),
        cmocka_unit_test(test_filter_true_and_false),
        cmocka_unit_test(test_filter_not_negates),
        cmocka_unit_test(test_filter_and_requires_both),
        cmocka_unit_test(test_filter_or_requires_either),
        cmocka_unit_test(test_filter_and_binds_tighter_than_or),
        cmocka_unit_test(test_filter_not_binds_tighter_than_and),
        cmocka_unit_test(test_filter_parentheses_group),
        cmocka_unit_test(test_filter_whitespace_is_free),
        cmocka_unit_test(test_filter_keywords_need_a_word_boundary),
        cmocka_unit_test(test_filter_unknown_field_is_invalid_value),
        cmocka_unit_test(test_filter_field_is_looked_up_in_the_given_class),
        cmocka_unit_test(test_filter_syntax_errors_are_invalid_value),
        cmocka_unit_test(test_filter_moderate_nesting_is_accepted),
        cmocka_unit_test(test_filter_deep_parentheses_are_refused),
        cmocka_unit_test(test_filter_deep_not_chain_is_refused),
        cmocka_unit_test(test_filter_long_flat_chain_is_accepted),
        cmocka_unit_test(test_filter_free_accepts_null),
        cmocka_unit_test(test_filter_parse_and_free_leave_no_heap_behind),
    };
    return cmocka_run_group_tests(tests, setup_db, teardown_db);
}
