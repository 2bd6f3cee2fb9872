/* Unit tests of the empty qcow2 images storaged makes itself
 * (storaged/qcow2.c): the header says what qemu-img 7.2 would say (version
 * 3, 64 KiB clusters, 16-bit refcounts, the size rounded up to 512 bytes),
 * the L1 table has one entry per 512 MiB, the refcount block counts every
 * cluster in use once, an overlay names its backing file and format where
 * the header parser finds them, and sizes or names QEMU would refuse are
 * refused. The integration tests (test_vdi_images.py) check the same
 * images with qemu-img check and qemu-io. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "storaged/qcow2.h"

#define CLUSTER 65536
#define GIB ((int64_t)1 << 30)

static uint64_t get64(const uint8_t *p)
{
    uint64_t v = 0;
    for (int i = 0; i < 8; i++)
        v = v << 8 | p[i];
    return v;
}

static uint32_t get32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

struct image {
    uint8_t *buf;
    size_t len;
    int64_t file_len;
};

static struct image build(int64_t size, const char *backing, const char *fmt)
{
    struct image im = {0};
    assert_int_equal(qcow2_build(size, backing, fmt, &im.buf, &im.len, &im.file_len), 0);
    assert_true(im.len >= 3 * CLUSTER);
    return im;
}

static void test_header_is_version_3_with_qemu_defaults(void **state)
{
    (void)state;
    struct image im = build(GIB, NULL, NULL);
    assert_int_equal(get32(im.buf), 0x514649fb);
    assert_int_equal(get32(im.buf + 4), 3);
    assert_int_equal(get64(im.buf + 8), 0); /* no backing file */
    assert_int_equal(get32(im.buf + 20), 16);
    assert_int_equal(get64(im.buf + 24), GIB);
    assert_int_equal(get32(im.buf + 32), 0); /* no encryption */
    assert_int_equal(get32(im.buf + 36), 2); /* two L1 entries of 512 MiB */
    assert_int_equal(get64(im.buf + 40), 3 * CLUSTER);
    assert_int_equal(get64(im.buf + 48), CLUSTER);
    assert_int_equal(get32(im.buf + 56), 1);
    assert_int_equal(get32(im.buf + 60), 0); /* no snapshots */
    assert_int_equal(get64(im.buf + 72), 0); /* no feature bits: clean */
    assert_int_equal(get64(im.buf + 80), 0);
    assert_int_equal(get64(im.buf + 88), 0);
    assert_int_equal(get32(im.buf + 96), 4);
    assert_int_equal(get32(im.buf + 100), 112);
    assert_int_equal(im.buf[104], 0); /* zlib */
    /* the extensions end right after the header */
    assert_int_equal(get32(im.buf + 112), 0);
    assert_int_equal(get32(im.buf + 116), 0);
    assert_int_equal(im.file_len, 3 * CLUSTER + 2 * 8);
    int64_t size = 0;
    char *backing = (char *)"x";
    assert_int_equal(qcow2_parse_header(im.buf, 4096, &size, &backing), 0);
    assert_int_equal(size, GIB);
    assert_null(backing);
    free(im.buf);
}

static void test_refcounts_cover_every_cluster_in_use(void **state)
{
    (void)state;
    /* 16 TiB needs 32768 L1 entries: four clusters of them */
    struct image im = build((int64_t)16 << 40, NULL, NULL);
    assert_int_equal(get32(im.buf + 36), 32768);
    assert_int_equal(im.file_len, 3 * CLUSTER + 32768 * 8);
    assert_int_equal(get64(im.buf + CLUSTER), 2 * CLUSTER); /* the table names the block */
    assert_int_equal(get64(im.buf + CLUSTER + 8), 0);
    const uint8_t *block = im.buf + 2 * CLUSTER;
    for (int i = 0; i < 7; i++)
        assert_int_equal(block[2 * i] << 8 | block[2 * i + 1], 1);
    assert_int_equal(block[14] << 8 | block[15], 0);
    free(im.buf);
}

static void test_l1_entries_per_512_mib(void **state)
{
    (void)state;
    const struct {
        int64_t size;
        uint32_t l1;
    } cases[] = {
        {1, 1},
        {512 << 20, 1},
        {(512 << 20) + 1, 2},
        {(int64_t)4 << 40, 8192},       /* one full cluster of L1 entries */
        {((int64_t)4 << 40) + 1, 8193}, /* and one more: a second cluster */
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct image im = build(cases[i].size, NULL, NULL);
        assert_int_equal(get32(im.buf + 36), cases[i].l1);
        assert_int_equal(im.file_len, 3 * CLUSTER + (int64_t)cases[i].l1 * 8);
        uint32_t l1_clusters = (cases[i].l1 * 8 + CLUSTER - 1) / CLUSTER;
        const uint8_t *block = im.buf + 2 * CLUSTER;
        assert_int_equal(block[2 * (3 + l1_clusters) - 1], 1);
        assert_int_equal(block[2 * (3 + l1_clusters) + 1], 0);
        free(im.buf);
    }
}

static void test_sizes_round_up_to_512_bytes(void **state)
{
    (void)state;
    assert_int_equal(qcow2_round_size(1), 512);
    assert_int_equal(qcow2_round_size(512), 512);
    assert_int_equal(qcow2_round_size(513), 1024);
    struct image im = build(GIB + 1, NULL, NULL);
    assert_int_equal(get64(im.buf + 24), GIB + 512);
    assert_int_equal(get32(im.buf + 36), 3);
    free(im.buf);
}

static void test_overlay_names_its_backing_file_and_format(void **state)
{
    (void)state;
    const char *name = "0b9a3f5e-0000-4000-8000-000000000001.qcow2";
    struct image im = build(5 * GIB, name, "qcow2");
    /* the backing format extension, then the end marker, then the name */
    assert_int_equal(get32(im.buf + 112), 0xe2792aca);
    assert_int_equal(get32(im.buf + 116), 5);
    assert_memory_equal(im.buf + 120, "qcow2\0\0\0", 8);
    assert_int_equal(get32(im.buf + 128), 0);
    assert_int_equal(get32(im.buf + 132), 0);
    assert_int_equal(get64(im.buf + 8), 136);
    assert_int_equal(get32(im.buf + 16), strlen(name));
    int64_t size = 0;
    char *backing = NULL;
    assert_int_equal(qcow2_parse_header(im.buf, 4096, &size, &backing), 0);
    assert_int_equal(size, 5 * GIB);
    assert_string_equal(backing, name);
    free(backing);
    free(im.buf);
}

static void test_what_qemu_refuses_is_refused(void **state)
{
    (void)state;
    uint8_t *buf = NULL;
    size_t len;
    int64_t flen;
    char longname[1100];
    memset(longname, 'a', sizeof(longname) - 1);
    longname[sizeof(longname) - 1] = '\0';
    assert_int_equal(qcow2_build(0, NULL, NULL, &buf, &len, &flen), -EINVAL);
    assert_int_equal(qcow2_build(-1, NULL, NULL, &buf, &len, &flen), -EINVAL);
    assert_int_equal(qcow2_build(((int64_t)1 << 51) + 1, NULL, NULL, &buf, &len, &flen), -EINVAL);
    assert_int_equal(qcow2_build(GIB, longname, "qcow2", &buf, &len, &flen), -EINVAL);
    assert_int_equal(qcow2_build(GIB, "", "qcow2", &buf, &len, &flen), -EINVAL);
    assert_int_equal(qcow2_build(GIB, NULL, "qcow2", &buf, &len, &flen), -EINVAL);
    assert_int_equal(qcow2_build(GIB, "b", "a-format-name-too-long", &buf, &len, &flen), -EINVAL);
    assert_null(buf);
}

static void test_create_writes_the_image_with_a_sparse_l1_table(void **state)
{
    (void)state;
    char dir[] = "/tmp/test-qcow2-XXXXXX";
    assert_non_null(mkdtemp(dir));
    char path[64];
    snprintf(path, sizeof(path), "%s/i.qcow2", dir);
    /* over an existing file, which it truncates */
    int fd = open(path, O_WRONLY | O_CREAT, 0600);
    assert_true(fd >= 0);
    assert_int_equal(ftruncate(fd, 10 * CLUSTER), 0);
    close(fd);
    assert_int_equal(qcow2_create(path, (int64_t)16 << 40, "base.qcow2", "qcow2"), 0);
    struct stat st;
    assert_int_equal(stat(path, &st), 0);
    assert_int_equal(st.st_size, 3 * CLUSTER + 32768 * 8);
    int64_t size = 0;
    char *backing = NULL;
    assert_int_equal(qcow2_read_header(path, &size, &backing), 0);
    assert_int_equal(size, (int64_t)16 << 40);
    assert_string_equal(backing, "base.qcow2");
    free(backing);
    unlink(path);
    /* a folder that is not there */
    snprintf(path, sizeof(path), "%s/no/i.qcow2", dir);
    assert_int_equal(qcow2_create(path, GIB, NULL, NULL), -ENOENT);
    rmdir(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_header_is_version_3_with_qemu_defaults),
        cmocka_unit_test(test_refcounts_cover_every_cluster_in_use),
        cmocka_unit_test(test_l1_entries_per_512_mib),
        cmocka_unit_test(test_sizes_round_up_to_512_bytes),
        cmocka_unit_test(test_overlay_names_its_backing_file_and_format),
        cmocka_unit_test(test_what_qemu_refuses_is_refused),
        cmocka_unit_test(test_create_writes_the_image_with_a_sparse_l1_table),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
