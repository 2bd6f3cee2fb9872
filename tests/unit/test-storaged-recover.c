/* Unit tests of storaged's crash recovery (storaged/recover.c) on a
 * temporary folder whose "images" are small text files: every state an
 * interrupted snapshot, delete or merge can leave is brought back to one
 * the metadata explains (undone before its last step, finished after it),
 * temporary files are completed or removed, live ones are left alone, and
 * a leaf whose image is gone is forgotten. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "lib/cleanup.h"
#include "lib/util.h"
#include "storaged/recover.h"

#define SR "11111111-2222-3333-4444-555555555555"
#define A "aaaaaaaa-0000-4000-8000-000000000001"
#define B "bbbbbbbb-0000-4000-8000-000000000002"
#define C "cccccccc-0000-4000-8000-000000000003"
#define P "dddddddd-0000-4000-8000-000000000004"

static char dir[64];

static int setup(void **state)
{
    (void)state;
    snprintf(dir, sizeof(dir), "/tmp/test-storaged-recover-XXXXXX");
    return mkdtemp(dir) ? 0 : -1;
}

static int teardown(void **state)
{
    (void)state;
    _cleanup_free_ char *cmd = xasprintf("rm -rf '%s'", dir);
    return system(cmd) == 0 ? 0 : -1;
}

static void put(const char *name, const char *text)
{
    _cleanup_free_ char *p = xasprintf("%s/%s", dir, name);
    FILE *f = fopen(p, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
}

/* The file's text, or NULL if it does not exist. */
static char *get(const char *name)
{
    _cleanup_free_ char *p = xasprintf("%s/%s", dir, name);
    char buf[256] = "";
    FILE *f = fopen(p, "r");
    if (!f)
        return NULL;
    if (!fgets(buf, sizeof(buf), f))
        buf[0] = '\0';
    fclose(f);
    return xstrdup(buf);
}

static void expect(const char *name, const char *text)
{
    _cleanup_free_ char *got = get(name);
    if (!text) {
        if (got)
            fail_msg("%s should not exist", name);
        return;
    }
    if (!got)
        fail_msg("%s is missing", name);
    assert_string_equal(got, text);
}

static void base_meta(struct sr_meta *m)
{
    sr_meta_init(m);
    memcpy(m->uuid, SR, UUID_STR_LEN);
    snprintf(m->type, sizeof(m->type), "file");
    sr_meta_add(m, A);
}

static void journal(struct sr_meta *m, const char *op, const char *vdi, const char *base,
                    const char *created)
{
    snprintf(m->journal.op, sizeof(m->journal.op), "%s", op);
    snprintf(m->journal.vdi, UUID_STR_LEN, "%s", vdi);
    snprintf(m->journal.base, UUID_STR_LEN, "%s", base);
    snprintf(m->journal.created, UUID_STR_LEN, "%s", created);
}

/* Runs recovery and checks it saved a journal-free metadata file. */
static void recover_and_reload(struct sr_meta *m, const char *const *live, size_t n)
{
    struct sr_meta back;
    bool changed = false;
    assert_int_equal(sr_recover(dir, m, live, n, &changed), 0);
    assert_true(changed);
    assert_string_equal(m->journal.op, "");
    assert_int_equal(sr_meta_load(dir, &back, NULL), 0);
    assert_string_equal(back.journal.op, "");
    assert_int_equal(back.n_vdis, m->n_vdis);
    sr_meta_done(&back);
}

static void test_snapshot_after_the_rename_is_undone(void **state)
{
    (void)state;
    struct sr_meta m;
    base_meta(&m);
    journal(&m, "snapshot", A, B, C);
    put(B ".qcow2", "original");
    recover_and_reload(&m, NULL, 0);
    expect(A ".qcow2", "original");
    expect(B ".qcow2", NULL);
    sr_meta_done(&m);
}

static void test_snapshot_with_new_images_is_undone(void **state)
{
    (void)state;
    struct sr_meta m;
    base_meta(&m);
    journal(&m, "clone", A, B, C);
    put(B ".qcow2", "original");
    put(A ".qcow2", "overlay");
    put(C ".qcow2", "clone overlay");
    put(A ".qcow2.tmp", "half");
    recover_and_reload(&m, NULL, 0);
    expect(A ".qcow2", "original");
    expect(B ".qcow2", NULL);
    expect(C ".qcow2", NULL);
    expect(A ".qcow2.tmp", NULL);
    assert_int_equal(m.n_vdis, 1);
    sr_meta_done(&m);
}

static void test_snapshot_before_the_rename_changes_nothing(void **state)
{
    (void)state;
    struct sr_meta m;
    base_meta(&m);
    journal(&m, "snapshot", A, B, C);
    put(A ".qcow2", "original");
    recover_and_reload(&m, NULL, 0);
    expect(A ".qcow2", "original");
    sr_meta_done(&m);
}

static void test_delete_is_finished_or_forgotten(void **state)
{
    (void)state;
    struct sr_meta m;
    base_meta(&m);
    journal(&m, "delete", A, "", "");
    put(A ".qcow2", "still here");
    recover_and_reload(&m, NULL, 0);
    assert_non_null(sr_meta_find(&m, A));
    journal(&m, "delete", A, "", "");
    _cleanup_free_ char *path = xasprintf("%s/%s", dir, A ".qcow2");
    assert_int_equal(unlink(path), 0);
    recover_and_reload(&m, NULL, 0);
    assert_null(sr_meta_find(&m, A));
    sr_meta_done(&m);
}

static void test_coalesce_is_finished_after_its_rename(void **state)
{
    (void)state;
    struct sr_meta m;
    sr_meta_init(&m);
    memcpy(m.uuid, SR, UUID_STR_LEN);
    snprintf(m.type, sizeof(m.type), "file");
    sr_meta_add(&m, P)->managed = false;
    struct vdi_meta *b = sr_meta_add(&m, B);
    b->managed = false;
    memcpy(b->parent, P, UUID_STR_LEN);
    memcpy(sr_meta_add(&m, C)->parent, B, UUID_STR_LEN);
    memcpy(sr_meta_add(&m, A)->parent, P, UUID_STR_LEN);
    put(P ".qcow2", "p");
    put(A ".qcow2", "a");
    put(B ".qcow2", "b with c merged");
    put(C ".qcow2", "c");
    journal(&m, "coalesce", C, B, "");
    recover_and_reload(&m, NULL, 0);
    assert_non_null(sr_meta_find(&m, B)); /* before the rename: undone */
    assert_string_equal(sr_meta_find(&m, C)->parent, B);
    _cleanup_free_ char *from = xasprintf("%s/%s", dir, B ".qcow2");
    _cleanup_free_ char *to = xasprintf("%s/%s", dir, C ".qcow2");
    assert_int_equal(rename(from, to), 0);
    journal(&m, "coalesce", C, B, "");
    recover_and_reload(&m, NULL, 0);
    assert_null(sr_meta_find(&m, B));
    assert_string_equal(sr_meta_find(&m, C)->parent, P);
    expect(C ".qcow2", "b with c merged");
    sr_meta_done(&m);
}

static void test_temporaries_are_completed_removed_or_left_alone(void **state)
{
    (void)state;
    struct sr_meta m;
    base_meta(&m);
    sr_meta_add(&m, B);
    put(A ".qcow2.tmp", "finished image");
    put(B ".qcow2", "b");
    put(B ".qcow2.tmp", "stale");
    put(C ".qcow2.tmp", "orphan");
    put(P ".qcow2.tmp", "being copied");
    put(SR_META_FILE ".tmp", "half metadata");
    put("dropped by hand.qcow2", "x");
    const char *live[] = {P ".qcow2.tmp"};
    recover_and_reload(&m, live, 1);
    expect(A ".qcow2", "finished image");
    expect(A ".qcow2.tmp", NULL);
    expect(B ".qcow2", "b");
    expect(B ".qcow2.tmp", NULL);
    expect(C ".qcow2.tmp", NULL);
    expect(P ".qcow2.tmp", "being copied");
    expect("dropped by hand.qcow2", "x");
    sr_meta_done(&m);
}

static void test_a_leaf_without_its_image_is_forgotten(void **state)
{
    (void)state;
    struct sr_meta m;
    sr_meta_init(&m);
    memcpy(m.uuid, SR, UUID_STR_LEN);
    snprintf(m.type, sizeof(m.type), "file");
    sr_meta_add(&m, B)->managed = false;
    memcpy(sr_meta_add(&m, A)->parent, B, UUID_STR_LEN);
    memcpy(sr_meta_add(&m, C)->parent, B, UUID_STR_LEN);
    put(C ".qcow2", "c");
    recover_and_reload(&m, NULL, 0);
    assert_null(sr_meta_find(&m, A));
    assert_non_null(sr_meta_find(&m, B)); /* C still needs it, even without its file */
    assert_non_null(sr_meta_find(&m, C));
    bool changed = true;
    assert_int_equal(sr_recover(dir, &m, NULL, 0, &changed), 0);
    assert_false(changed);
    sr_meta_done(&m);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_snapshot_after_the_rename_is_undone, setup, teardown),
        cmocka_unit_test_setup_teardown(test_snapshot_with_new_images_is_undone, setup, teardown),
        cmocka_unit_test_setup_teardown(test_snapshot_before_the_rename_changes_nothing, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_delete_is_finished_or_forgotten, setup, teardown),
        cmocka_unit_test_setup_teardown(test_coalesce_is_finished_after_its_rename, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_temporaries_are_completed_removed_or_left_alone, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_a_leaf_without_its_image_is_forgotten, setup,
                                        teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
