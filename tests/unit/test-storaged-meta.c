/* Unit tests of storaged's on-media formats: the SR metadata document
 * (storaged/meta.c) round-trips every field and the journal, refuses each
 * kind of malformed document with a message, is written atomically and
 * read back; and the qcow2 header reader (storaged/qcow2.c) takes the
 * virtual size and backing file name from a header and refuses what is not
 * one. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "lib/cleanup.h"
#include "lib/util.h"
#include "storaged/meta.h"
#include "storaged/qcow2.h"

#define SR "11111111-2222-3333-4444-555555555555"
#define A "aaaaaaaa-0000-4000-8000-000000000001"
#define B "bbbbbbbb-0000-4000-8000-000000000002"
#define C "cccccccc-0000-4000-8000-000000000003"

static void sample(struct sr_meta *m)
{
    sr_meta_init(m);
    memcpy(m->uuid, SR, UUID_STR_LEN);
    snprintf(m->type, sizeof(m->type), "file");
    meta_set_str(&m->name_label, "Local \"disks\" é");
    meta_set_str(&m->name_description, "desc");
    m->shared = true;
    struct vdi_meta *b = sr_meta_add(m, B);
    b->managed = false;
    b->read_only = true;
    b->virtual_size = 1 << 30;
    struct vdi_meta *a = sr_meta_add(m, A);
    memcpy(a->parent, B, UUID_STR_LEN);
    meta_set_str(&a->name_label, "disk");
    a->virtual_size = 1 << 30;
    a->sharable = true;
    struct vdi_meta *c = sr_meta_add(m, C);
    memcpy(c->parent, B, UUID_STR_LEN);
    c->is_a_snapshot = true;
    memcpy(c->snapshot_of, A, UUID_STR_LEN);
    snprintf(c->snapshot_time, sizeof(c->snapshot_time), "20261126T10:11:12Z");
    meta_set_str(&c->file, "custom name.qcow2");
}

static void test_round_trip_keeps_every_field(void **state)
{
    (void)state;
    struct sr_meta m, back;
    sample(&m);
    m.journal = (struct sr_journal){.op = "snapshot"};
    memcpy(m.journal.vdi, A, UUID_STR_LEN);
    memcpy(m.journal.base, B, UUID_STR_LEN);
    _cleanup_free_ char *text = sr_meta_to_json(&m);
    assert_int_equal(sr_meta_from_json(text, &back, NULL), 0);
    _cleanup_free_ char *again = sr_meta_to_json(&back);
    assert_string_equal(text, again);
    assert_string_equal(back.name_label, "Local \"disks\" é");
    assert_int_equal(back.n_vdis, 3);
    const struct vdi_meta *c = sr_meta_find(&back, C);
    assert_non_null(c);
    assert_true(c->is_a_snapshot);
    assert_string_equal(c->snapshot_of, A);
    assert_string_equal(c->snapshot_time, "20261126T10:11:12Z");
    assert_string_equal(c->file, "custom name.qcow2");
    assert_false(sr_meta_find(&back, B)->managed);
    assert_string_equal(back.journal.op, "snapshot");
    assert_string_equal(back.journal.base, B);
    assert_string_equal(back.journal.created, "");
    sr_meta_done(&m);
    sr_meta_done(&back);
}

/* Replaces the first occurrence of from in text by to. */
static char *replace(const char *text, const char *from, const char *to)
{
    const char *p = strstr(text, from);
    assert_non_null(p);
    return xasprintf("%.*s%s%s", (int)(p - text), text, to, p + strlen(from));
}

static void expect_refused(const char *text, const char *why)
{
    struct sr_meta m;
    char *err = NULL;
    assert_int_equal(sr_meta_from_json(text, &m, &err), -EBADMSG);
    assert_non_null(err);
    if (!strstr(err, why))
        fail_msg("'%s' does not say '%s'", err, why);
    free(err);
}

static void test_malformed_documents_are_refused(void **state)
{
    (void)state;
    struct sr_meta m;
    sample(&m);
    _cleanup_free_ char *good = sr_meta_to_json(&m);
    sr_meta_done(&m);

    expect_refused("", "not a JSON object");
    expect_refused("[1]", "not a JSON object");
    expect_refused("{\"format\": \"other/1\"}", "not a xenia-sr/1");
    _cleanup_free_ char *t1 = replace(good, "\"uuid\":\"" SR, "\"uuid\":\"nope");
    expect_refused(t1, "uuid");
    _cleanup_free_ char *t2 =
        replace(good, "\"virtual_size\":1073741824", "\"virtual_size\":\"x\"");
    expect_refused(t2, "virtual_size");
    _cleanup_free_ char *t3 = replace(good, "\"parent\":\"" B, "\"parent\":\"" SR);
    expect_refused(t3, "not in the SR");
    _cleanup_free_ char *t4 = replace(good, "custom name.qcow2", "../escape.qcow2");
    expect_refused(t4, "bad file name");
    _cleanup_free_ char *t5 = replace(good, "\"uuid\":\"" C, "\"uuid\":\"" A);
    expect_refused(t5, "appears twice");
    /* B's own parent made A: B -> A -> B loops. */
    _cleanup_free_ char *t6 = replace(good, "\"parent\":\"\"", "\"parent\":\"" A "\"");
    expect_refused(t6, "loops");
    _cleanup_free_ char *t7 = replace(good, "\"format\":\"qcow2\"", "\"format\":\"vmdk\"");
    expect_refused(t7, "unknown format");
    _cleanup_free_ char *t8 = replace(good, "\"journal\":null", "\"journal\":{\"op\": \"x\"}");
    expect_refused(t8, "unknown journal operation");
    _cleanup_free_ char *t9 = replace(good, "20261126T10:11:12Z", "yesterday");
    expect_refused(t9, "snapshot_time");
}

/* Found by tests/fuzz/fuzz-storaged.c: year 970 parsed, but was written
 * back as "9700101T..." which no longer parsed, so an SR whose metadata
 * storaged had saved could not be attached again. */
static void test_snapshot_times_that_cannot_be_written_back_are_refused(void **state)
{
    (void)state;
    struct sr_meta m, back;
    sample(&m);
    _cleanup_free_ char *good = sr_meta_to_json(&m);
    sr_meta_done(&m);

    _cleanup_free_ char *t1 = replace(good, "20261126T10:11:12Z", "09700101T00:00:00Z");
    expect_refused(t1, "snapshot_time");
    _cleanup_free_ char *t2 = replace(good, "20261126T10:11:12Z", "19691231T23:59:59Z");
    expect_refused(t2, "snapshot_time");
    /* The last second a XenAPI datetime can hold still round-trips. */
    _cleanup_free_ char *t3 = replace(good, "20261126T10:11:12Z", "99991231T23:59:59Z");
    assert_int_equal(sr_meta_from_json(t3, &back, NULL), 0);
    _cleanup_free_ char *again = sr_meta_to_json(&back);
    assert_string_equal(again, t3);
    sr_meta_done(&back);
}

/* sr_meta_find goes through an index that sr_meta_add and sr_meta_remove
 * keep: it must stay right as the array grows (and moves) and as VDIs
 * leave from the middle, and the order of the rest must not change. */
static void test_find_stays_right_through_growth_and_removal(void **state)
{
    (void)state;
    enum { N = 300 };
    char uuids[N][UUID_STR_LEN];
    struct sr_meta m;

    sr_meta_init(&m);
    assert_null(sr_meta_find(&m, A));
    for (int i = 0; i < N; i++) {
        snprintf(uuids[i], UUID_STR_LEN, "00000000-0000-4000-8000-%012d", i);
        sr_meta_add(&m, uuids[i])->virtual_size = i;
    }
    for (int i = 0; i < N; i++)
        assert_int_equal(sr_meta_find(&m, uuids[i])->virtual_size, i);
    /* Every third one leaves, from the front, the middle and the end. */
    for (int i = 0; i < N; i += 3)
        sr_meta_remove(&m, uuids[i]);
    sr_meta_remove(&m, uuids[0]); /* absent: no-op */
    assert_int_equal(m.n_vdis, N - N / 3);
    for (int i = 0; i < N; i++) {
        struct vdi_meta *v = sr_meta_find(&m, uuids[i]);
        if (i % 3 == 0) {
            assert_null(v);
        } else {
            assert_non_null(v);
            assert_int_equal(v->virtual_size, i);
            assert_string_equal(v->uuid, uuids[i]);
        }
    }
    for (size_t i = 1; i < m.n_vdis; i++)
        assert_true(m.vdis[i - 1].virtual_size < m.vdis[i].virtual_size);
    /* A uuid that left can come back. */
    sr_meta_add(&m, uuids[0])->virtual_size = 7;
    assert_int_equal(sr_meta_find(&m, uuids[0])->virtual_size, 7);
    sr_meta_done(&m);
}

static void test_save_and_load_through_a_folder(void **state)
{
    (void)state;
    char dir[] = "/tmp/test-storaged-meta-XXXXXX";
    struct sr_meta m, back;
    assert_non_null(mkdtemp(dir));
    assert_int_equal(sr_meta_load(dir, &back, NULL), -ENOENT);
    sample(&m);
    assert_int_equal(sr_meta_save(dir, &m), 0);
    sr_meta_remove(&m, C);
    assert_int_equal(sr_meta_save(dir, &m), 0);
    assert_int_equal(sr_meta_load(dir, &back, NULL), 0);
    assert_int_equal(back.n_vdis, 2);
    assert_null(sr_meta_find(&back, C));
    sr_meta_done(&back);
    _cleanup_free_ char *tmp = xasprintf("%s/%s.tmp", dir, SR_META_FILE);
    assert_int_equal(access(tmp, F_OK), -1);
    _cleanup_free_ char *path = xasprintf("%s/%s", dir, SR_META_FILE);
    FILE *f = fopen(path, "w");
    fputs("{broken", f);
    fclose(f);
    char *err = NULL;
    assert_int_equal(sr_meta_load(dir, &back, &err), -EBADMSG);
    free(err);
    unlink(path);
    rmdir(dir);
    sr_meta_done(&m);
}

static void test_file_names(void **state)
{
    (void)state;
    assert_true(meta_file_name_ok("a.qcow2"));
    assert_true(meta_file_name_ok("with space.iso"));
    assert_false(meta_file_name_ok(""));
    assert_false(meta_file_name_ok(".xenia-sr.json"));
    assert_false(meta_file_name_ok("a/b"));
    assert_false(meta_file_name_ok(".."));
    assert_false(meta_file_name_ok("x.qcow2.tmp"));
}

static void put64(uint8_t *p, uint64_t v)
{
    for (int i = 7; i >= 0; i--, v >>= 8)
        p[i] = (uint8_t)v;
}

static void put32(uint8_t *p, uint32_t v)
{
    for (int i = 3; i >= 0; i--, v >>= 8)
        p[i] = (uint8_t)v;
}

static void header(uint8_t *buf, uint32_t version, uint64_t size, const char *backing)
{
    memset(buf, 0, 512);
    memcpy(buf, "QFI\xfb", 4);
    put32(buf + 4, version);
    put64(buf + 24, size);
    if (backing) {
        put64(buf + 8, 112);
        put32(buf + 16, (uint32_t)strlen(backing));
        memcpy(buf + 112, backing, strlen(backing));
    }
}

static void test_qcow2_header_gives_size_and_backing(void **state)
{
    (void)state;
    uint8_t buf[512];
    int64_t size;
    char *backing = NULL;

    header(buf, 3, 1ull << 40, "base.qcow2");
    assert_int_equal(qcow2_parse_header(buf, sizeof(buf), &size, &backing), 0);
    assert_int_equal(size, 1ll << 40);
    assert_string_equal(backing, "base.qcow2");
    free(backing);
    header(buf, 2, 12345 * 512, NULL);
    assert_int_equal(qcow2_parse_header(buf, sizeof(buf), &size, &backing), 0);
    assert_int_equal(size, 12345 * 512);
    assert_null(backing);
}

static void test_qcow2_header_refuses_other_data(void **state)
{
    (void)state;
    uint8_t buf[512];
    int64_t size;

    header(buf, 3, 1 << 20, NULL);
    assert_int_equal(qcow2_parse_header(buf, 40, &size, NULL), -EINVAL);
    buf[0] = 'X';
    assert_int_equal(qcow2_parse_header(buf, sizeof(buf), &size, NULL), -EINVAL);
    header(buf, 4, 1 << 20, NULL);
    assert_int_equal(qcow2_parse_header(buf, sizeof(buf), &size, NULL), -EINVAL);
    header(buf, 3, 1 << 20, "b.qcow2");
    assert_int_equal(qcow2_parse_header(buf, 115, &size, NULL), -ENODATA);
    put32(buf + 16, 5000);
    assert_int_equal(qcow2_parse_header(buf, sizeof(buf), &size, NULL), -EINVAL);
    header(buf, 3, UINT64_MAX, NULL);
    assert_int_equal(qcow2_parse_header(buf, sizeof(buf), &size, NULL), -EINVAL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_round_trip_keeps_every_field),
        cmocka_unit_test(test_malformed_documents_are_refused),
        cmocka_unit_test(test_snapshot_times_that_cannot_be_written_back_are_refused),
        cmocka_unit_test(test_find_stays_right_through_growth_and_removal),
        cmocka_unit_test(test_save_and_load_through_a_folder),
        cmocka_unit_test(test_file_names),
        cmocka_unit_test(test_qcow2_header_gives_size_and_backing),
        cmocka_unit_test(test_qcow2_header_refuses_other_data),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
