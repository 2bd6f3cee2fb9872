/* Unit tests of storaged's snapshot-chain logic (storaged/chain.c):
 * children and depth in a forest of VDIs, and the garbage collector's
 * choices: delete a hidden node nothing depends on, merge a hidden node
 * into its only child, leave alone a node with two children, and wait
 * while anything below the merge is busy. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/util.h"
#include "storaged/chain.h"

/* Makes a uuid from a small number. */
static const char *u(int n)
{
    static char buf[8][UUID_STR_LEN];
    static int next;
    char *s = buf[next++ % 8];
    snprintf(s, UUID_STR_LEN, "00000000-0000-4000-8000-%012d", n);
    return s;
}

static void add(struct sr_meta *m, int n, int parent, bool managed)
{
    struct vdi_meta *v = sr_meta_add(m, u(n));
    if (parent)
        snprintf(v->parent, sizeof(v->parent), "%s", u(parent));
    v->managed = managed;
}

static const char *busy_one;

static bool busy(const char *uuid, void *userdata)
{
    (void)userdata;
    return busy_one && streq(uuid, busy_one);
}

static void test_children_and_depth(void **state)
{
    (void)state;
    struct sr_meta m;
    const struct vdi_meta *first;
    sr_meta_init(&m);
    add(&m, 1, 0, false);
    add(&m, 2, 1, true);
    add(&m, 3, 1, false);
    add(&m, 4, 3, true);
    assert_int_equal(chain_children(&m, u(1), &first), 2);
    assert_string_equal(first->uuid, u(2));
    assert_int_equal(chain_children(&m, u(4), &first), 0);
    assert_null(first);
    assert_int_equal(chain_depth(&m, u(4)), 3);
    assert_int_equal(chain_depth(&m, u(1)), 1);
    assert_int_equal(chain_depth(&m, u(9)), 0);
    char *why = NULL;
    assert_int_equal(chain_validate(&m, &why), 0);
    snprintf(sr_meta_find(&m, u(1))->parent, UUID_STR_LEN, "%s", u(4));
    assert_int_equal(chain_validate(&m, &why), -EINVAL);
    assert_non_null(strstr(why, "loops"));
    free(why);
    sr_meta_done(&m);
}

static void test_gc_deletes_a_hidden_node_without_children(void **state)
{
    (void)state;
    struct sr_meta m;
    const char *node, *child;
    sr_meta_init(&m);
    add(&m, 1, 0, true);
    add(&m, 2, 0, false);
    busy_one = NULL;
    assert_int_equal(chain_gc_next(&m, busy, NULL, &node, &child), CHAIN_GC_DELETE);
    assert_string_equal(node, u(2));
    assert_null(child);
    sr_meta_done(&m);
}

static void test_gc_merges_a_hidden_node_with_one_child(void **state)
{
    (void)state;
    struct sr_meta m;
    const char *node, *child;
    sr_meta_init(&m);
    add(&m, 1, 0, false);
    add(&m, 2, 1, false);
    add(&m, 3, 2, true);
    add(&m, 4, 2, true);
    busy_one = NULL;
    assert_int_equal(chain_gc_next(&m, busy, NULL, &node, &child), CHAIN_GC_COALESCE);
    assert_string_equal(node, u(1));
    assert_string_equal(child, u(2));
    /* A busy leaf below the merge holds it back. */
    busy_one = u(4);
    assert_int_equal(chain_gc_next(&m, busy, NULL, &node, &child), CHAIN_GC_NONE);
    busy_one = NULL;
    sr_meta_done(&m);
}

static void test_gc_leaves_a_node_with_two_children(void **state)
{
    (void)state;
    struct sr_meta m;
    const char *node, *child;
    sr_meta_init(&m);
    add(&m, 1, 0, false);
    add(&m, 2, 1, true);
    add(&m, 3, 1, true);
    busy_one = NULL;
    assert_int_equal(chain_gc_next(&m, busy, NULL, &node, &child), CHAIN_GC_NONE);
    sr_meta_done(&m);
}

static void test_subtree_busy_looks_at_every_level(void **state)
{
    (void)state;
    struct sr_meta m;
    sr_meta_init(&m);
    add(&m, 1, 0, false);
    add(&m, 2, 1, false);
    add(&m, 3, 2, true);
    add(&m, 4, 0, true);
    busy_one = u(3);
    assert_true(chain_subtree_busy(&m, u(1), busy, NULL));
    assert_false(chain_subtree_busy(&m, u(4), busy, NULL));
    busy_one = NULL;
    assert_false(chain_subtree_busy(&m, u(1), busy, NULL));
    sr_meta_done(&m);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_children_and_depth),
        cmocka_unit_test(test_gc_deletes_a_hidden_node_without_children),
        cmocka_unit_test(test_gc_merges_a_hidden_node_with_one_child),
        cmocka_unit_test(test_gc_leaves_a_node_with_two_children),
        cmocka_unit_test(test_subtree_busy_looks_at_every_level),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
