/* Unit tests of the open-addressing string hash map (lib/hashmap.c): lookups
 * in an empty map, insertion, replacement, removal, the reuse and purging of
 * tombstones (including lookups of keys that probe past one), growth past
 * thousands of keys, and iteration that visits every live key exactly once.
 * Collisions are made on purpose by picking keys whose FNV-1a hashes share
 * their low bits. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/cleanup.h"
#include "lib/hashmap.h"

/* The map's hash (FNV-1a), to build colliding keys. */
static unsigned fnv1a(const char *s)
{
    uint32_t h = 2166136261u;
    for (; *s; s++) {
        h ^= (unsigned char)*s;
        h *= 16777619u;
    }
    return h;
}

/* Fills keys[n][16] with distinct keys "k<i>" whose hashes share the bits
 * under mask with the first one. */
static void colliding_keys(char keys[][16], size_t n, unsigned mask)
{
    unsigned want = 0;
    size_t found = 0;
    for (unsigned i = 0; found < n; i++) {
        char k[16];
        snprintf(k, sizeof(k), "k%u", i);
        if (found == 0)
            want = fnv1a(k) & mask;
        if ((fnv1a(k) & mask) == want)
            memcpy(keys[found++], k, sizeof(k));
    }
}

static bool is_power_of_two(size_t n)
{
    return n && (n & (n - 1)) == 0;
}

static void test_hashmap_get_on_empty_map_is_null(void **state)
{
    struct hashmap m;
    (void)state;
    hashmap_init(&m);
    assert_null(hashmap_get(&m, "missing"));
    assert_null(hashmap_get(&m, ""));
    assert_int_equal(m.count, 0);
    hashmap_done(&m);
}

static void test_hashmap_put_then_get_returns_value(void **state)
{
    struct hashmap m;
    int a = 1, b = 2;
    (void)state;
    hashmap_init(&m);
    assert_null(hashmap_put(&m, "a", &a));
    assert_null(hashmap_put(&m, "b", &b));
    assert_ptr_equal(hashmap_get(&m, "a"), &a);
    assert_ptr_equal(hashmap_get(&m, "b"), &b);
    assert_null(hashmap_get(&m, "c"));
    assert_int_equal(m.count, 2);
    hashmap_done(&m);
}

static void test_hashmap_empty_string_is_a_key(void **state)
{
    struct hashmap m;
    int a = 1;
    (void)state;
    hashmap_init(&m);
    hashmap_put(&m, "", &a);
    assert_ptr_equal(hashmap_get(&m, ""), &a);
    hashmap_done(&m);
}

static void test_hashmap_lookup_compares_text_not_pointers(void **state)
{
    struct hashmap m;
    int a = 1;
    char key[] = "OpaqueRef:abc", probe[] = "OpaqueRef:abc";
    (void)state;
    hashmap_init(&m);
    hashmap_put(&m, key, &a);
    assert_ptr_equal(hashmap_get(&m, probe), &a);
    hashmap_done(&m);
}

static void test_hashmap_put_replaces_and_returns_previous(void **state)
{
    struct hashmap m;
    int a = 1, b = 2;
    (void)state;
    hashmap_init(&m);
    assert_null(hashmap_put(&m, "k", &a));
    assert_ptr_equal(hashmap_put(&m, "k", &b), &a);
    assert_ptr_equal(hashmap_get(&m, "k"), &b);
    assert_int_equal(m.count, 1);
    hashmap_done(&m);
}

static void test_hashmap_replace_keeps_the_new_key_pointer(void **state)
{
    struct hashmap m;
    int a = 1, b = 2;
    char first[] = "k", second[] = "k";
    const char *k;
    void *v;
    size_t it = 0;
    (void)state;
    hashmap_init(&m);
    hashmap_put(&m, first, &a);
    hashmap_put(&m, second, &b);
    /* The first key's storage may now go away: the map must not use it. */
    first[0] = 'x';
    assert_ptr_equal(hashmap_get(&m, "k"), &b);
    assert_true(hashmap_next(&m, &it, &k, &v));
    assert_ptr_equal(k, second);
    hashmap_done(&m);
}

static void test_hashmap_remove_returns_value_and_forgets_key(void **state)
{
    struct hashmap m;
    int a = 1;
    (void)state;
    hashmap_init(&m);
    hashmap_put(&m, "k", &a);
    assert_ptr_equal(hashmap_remove(&m, "k"), &a);
    assert_null(hashmap_get(&m, "k"));
    assert_int_equal(m.count, 0);
    hashmap_done(&m);
}

static void test_hashmap_remove_of_missing_key_is_null(void **state)
{
    struct hashmap m;
    int a = 1;
    (void)state;
    hashmap_init(&m);
    assert_null(hashmap_remove(&m, "k"));
    hashmap_put(&m, "k", &a);
    assert_null(hashmap_remove(&m, "other"));
    assert_ptr_equal(hashmap_remove(&m, "k"), &a);
    assert_null(hashmap_remove(&m, "k"));
    assert_int_equal(m.count, 0);
    hashmap_done(&m);
}

static void test_hashmap_get_probes_past_tombstone(void **state)
{
    struct hashmap m;
    char keys[3][16];
    int v[3] = {0, 1, 2};
    (void)state;
    hashmap_init(&m);
    colliding_keys(keys, 3, (unsigned)m.cap - 1);
    for (int i = 0; i < 3; i++)
        hashmap_put(&m, keys[i], &v[i]);
    /* The first of the chain becomes a tombstone; the others lie past it. */
    assert_ptr_equal(hashmap_remove(&m, keys[0]), &v[0]);
    assert_null(hashmap_get(&m, keys[0]));
    assert_ptr_equal(hashmap_get(&m, keys[1]), &v[1]);
    assert_ptr_equal(hashmap_get(&m, keys[2]), &v[2]);
    /* And a replace of a key past the tombstone does not duplicate it. */
    assert_ptr_equal(hashmap_put(&m, keys[2], &v[0]), &v[2]);
    assert_int_equal(m.count, 2);
    hashmap_done(&m);
}

static void test_hashmap_reinsert_reuses_tombstone(void **state)
{
    struct hashmap m;
    char keys[2][16];
    int a = 1, b = 2;
    (void)state;
    hashmap_init(&m);
    colliding_keys(keys, 2, (unsigned)m.cap - 1);
    hashmap_put(&m, keys[0], &a);
    hashmap_put(&m, keys[1], &b);
    size_t used = m.used;
    hashmap_remove(&m, keys[0]);
    assert_int_equal(m.used, used);
    hashmap_put(&m, keys[0], &a);
    assert_int_equal(m.used, used); /* the tombstone's slot, not a new one */
    assert_int_equal(m.count, 2);
    assert_ptr_equal(hashmap_get(&m, keys[0]), &a);
    assert_ptr_equal(hashmap_get(&m, keys[1]), &b);
    hashmap_done(&m);
}

static void test_hashmap_churn_purges_tombstones_without_growing(void **state)
{
    struct hashmap m;
    static char keys[20000][16];
    int a = 1;
    (void)state;
    hashmap_init(&m);
    size_t cap = m.cap;
    for (size_t i = 0; i < ELEMENTSOF(keys); i++) {
        snprintf(keys[i], sizeof(keys[i]), "churn%zu", i);
        hashmap_put(&m, keys[i], &a);
        assert_ptr_equal(hashmap_remove(&m, keys[i]), &a);
        assert_true(m.used < m.cap);
    }
    assert_int_equal(m.count, 0);
    assert_int_equal(m.cap, cap);
    for (size_t i = 0; i < ELEMENTSOF(keys); i += 997)
        assert_null(hashmap_get(&m, keys[i]));
    hashmap_done(&m);
}

static void test_hashmap_grows_past_thousands_of_keys(void **state)
{
    enum { N = 50000 };
    struct hashmap m;
    char(*keys)[24] = calloc(N, sizeof(*keys));
    (void)state;
    assert_non_null(keys);
    hashmap_init(&m);
    for (size_t i = 0; i < N; i++) {
        snprintf(keys[i], sizeof(keys[i]), "OpaqueRef:%zu", i);
        assert_null(hashmap_put(&m, keys[i], keys[i]));
    }
    assert_int_equal(m.count, N);
    assert_true(is_power_of_two(m.cap));
    assert_true(m.used * 4 < m.cap * 3);
    for (size_t i = 0; i < N; i++)
        assert_ptr_equal(hashmap_get(&m, keys[i]), keys[i]);
    assert_null(hashmap_get(&m, "OpaqueRef:50000"));
    hashmap_done(&m);
    free(keys);
}

static void test_hashmap_removals_after_growth_leave_others_reachable(void **state)
{
    enum { N = 10000 };
    struct hashmap m;
    char(*keys)[24] = calloc(N, sizeof(*keys));
    (void)state;
    assert_non_null(keys);
    hashmap_init(&m);
    for (size_t i = 0; i < N; i++) {
        snprintf(keys[i], sizeof(keys[i]), "uuid-%zu", i);
        hashmap_put(&m, keys[i], keys[i]);
    }
    for (size_t i = 0; i < N; i += 2)
        assert_ptr_equal(hashmap_remove(&m, keys[i]), keys[i]);
    assert_int_equal(m.count, N / 2);
    for (size_t i = 0; i < N; i++) {
        if (i % 2)
            assert_ptr_equal(hashmap_get(&m, keys[i]), keys[i]);
        else
            assert_null(hashmap_get(&m, keys[i]));
    }
    hashmap_done(&m);
    free(keys);
}

static void test_hashmap_iteration_visits_each_key_once(void **state)
{
    enum { N = 5000 };
    struct hashmap m;
    char(*keys)[16] = calloc(N, sizeof(*keys));
    int *seen = calloc(N, sizeof(int));
    size_t idx[N];
    (void)state;
    assert_non_null(keys);
    assert_non_null(seen);
    hashmap_init(&m);
    for (size_t i = 0; i < N; i++) {
        snprintf(keys[i], sizeof(keys[i]), "key%zu", i);
        idx[i] = i;
        hashmap_put(&m, keys[i], &idx[i]);
    }
    for (size_t i = 0; i < N; i += 3)
        hashmap_remove(&m, keys[i]);

    const char *k;
    void *v;
    size_t visited = 0;
    for (size_t it = 0; hashmap_next(&m, &it, &k, &v);) {
        size_t i = *(size_t *)v;
        assert_true(i < N);
        assert_ptr_equal(k, keys[i]);
        seen[i]++;
        visited++;
    }
    assert_int_equal(visited, m.count);
    for (size_t i = 0; i < N; i++)
        assert_int_equal(seen[i], i % 3 == 0 ? 0 : 1);
    hashmap_done(&m);
    free(keys);
    free(seen);
}

static void test_hashmap_iteration_of_empty_map_ends_at_once(void **state)
{
    struct hashmap m;
    int a = 1;
    size_t it = 0;
    const char *k = NULL;
    void *v = NULL;
    (void)state;
    hashmap_init(&m);
    assert_false(hashmap_next(&m, &it, &k, &v));
    hashmap_put(&m, "x", &a);
    hashmap_remove(&m, "x");
    it = 0;
    assert_false(hashmap_next(&m, &it, &k, &v));
    assert_null(k);
    assert_null(v);
    hashmap_done(&m);
}

static void test_hashmap_iteration_accepts_null_outputs(void **state)
{
    struct hashmap m;
    int a = 1, b = 2;
    size_t n = 0;
    (void)state;
    hashmap_init(&m);
    hashmap_put(&m, "a", &a);
    hashmap_put(&m, "b", &b);
    for (size_t it = 0; hashmap_next(&m, &it, NULL, NULL);)
        n++;
    assert_int_equal(n, 2);
    hashmap_done(&m);
}

static void test_hashmap_can_be_reinitialised_after_done(void **state)
{
    struct hashmap m;
    int a = 1;
    (void)state;
    hashmap_init(&m);
    hashmap_put(&m, "a", &a);
    hashmap_done(&m);
    assert_null(m.slots);
    assert_int_equal(m.count, 0);
    hashmap_init(&m);
    assert_null(hashmap_get(&m, "a"));
    hashmap_done(&m);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_hashmap_get_on_empty_map_is_null),
        cmocka_unit_test(test_hashmap_put_then_get_returns_value),
        cmocka_unit_test(test_hashmap_empty_string_is_a_key),
        cmocka_unit_test(test_hashmap_lookup_compares_text_not_pointers),
        cmocka_unit_test(test_hashmap_put_replaces_and_returns_previous),
        cmocka_unit_test(test_hashmap_replace_keeps_the_new_key_pointer),
        cmocka_unit_test(test_hashmap_remove_returns_value_and_forgets_key),
        cmocka_unit_test(test_hashmap_remove_of_missing_key_is_null),
        cmocka_unit_test(test_hashmap_get_probes_past_tombstone),
        cmocka_unit_test(test_hashmap_reinsert_reuses_tombstone),
        cmocka_unit_test(test_hashmap_churn_purges_tombstones_without_growing),
        cmocka_unit_test(test_hashmap_grows_past_thousands_of_keys),
        cmocka_unit_test(test_hashmap_removals_after_growth_leave_others_reachable),
        cmocka_unit_test(test_hashmap_iteration_visits_each_key_once),
        cmocka_unit_test(test_hashmap_iteration_of_empty_map_ends_at_once),
        cmocka_unit_test(test_hashmap_iteration_accepts_null_outputs),
        cmocka_unit_test(test_hashmap_can_be_reinitialised_after_done),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
