/* Unit tests of the VHD writer and streaming parser (lib/vhd.c): images
 * written here parse back to the same data, fed whole or byte by byte;
 * fixed, differencing and malformed images. Compatibility with qemu's own
 * VHD reader and writer is checked by tests/integration/test_vhd.py. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "lib/vhd.h"

static const uint8_t UUID[16] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16};

/* A disk image in memory that the parser's callback writes into. */
struct sink {
    uint8_t *disk;
    uint64_t size;
    size_t calls;
    uint64_t given; /* bytes given */
};

static int sink_fn(uint64_t off, const uint8_t *data, size_t len, void *userdata)
{
    struct sink *s = userdata;

    assert_true(off + len <= s->size);
    memcpy(s->disk + off, data, len);
    s->calls++;
    s->given += len;
    return 0;
}

/* A streamed dynamic image of the disk, with the blocks that are not all
 * zero allocated. */
static uint8_t *make_dynamic(const uint8_t *disk, uint64_t size, size_t *ret_len)
{
    uint32_t nb = vhd_block_count(size), *blocks = calloc(nb, sizeof(*blocks));
    size_t n = 0, len;
    static const uint8_t zero[VHD_BLOCK];

    for (uint32_t i = 0; i < nb; i++) {
        uint64_t off = (uint64_t)i * VHD_BLOCK;
        size_t l = size - off < VHD_BLOCK ? (size_t)(size - off) : VHD_BLOCK;
        if (memcmp(disk + off, zero, l) != 0)
            blocks[n++] = i;
    }
    uint8_t *pre = vhd_dynamic_prelude(size, blocks, n, UUID, 1000, &len);
    assert_non_null(pre);
    uint64_t total = vhd_dynamic_length(size, n);
    uint8_t *img = calloc(1, (size_t)total), *p = img;
    memcpy(p, pre, len);
    p += len;
    for (size_t k = 0; k < n; k++) {
        uint64_t off = (uint64_t)blocks[k] * VHD_BLOCK;
        size_t l = size - off < VHD_BLOCK ? (size_t)(size - off) : VHD_BLOCK;
        vhd_block_bitmap(p);
        memcpy(p + VHD_SECTOR, disk + off, l);
        p += VHD_SECTOR + VHD_BLOCK;
    }
    vhd_footer_make(p, VHD_DYNAMIC, size, UUID, 1000);
    p += VHD_FOOTER_SIZE;
    assert_int_equal(p - img, total);
    free(pre);
    free(blocks);
    *ret_len = (size_t)total;
    return img;
}

static uint8_t *pattern_disk(uint64_t size)
{
    uint8_t *d = calloc(1, (size_t)size);

    /* Block 0 and the partial last block hold data, block 1 is zero. */
    for (size_t i = 0; i < 4096; i++)
        d[i] = (uint8_t)(i * 7 + 1);
    for (uint64_t i = 2 * VHD_BLOCK + 512; i < size; i++)
        d[i] = (uint8_t)(i % 251);
    return d;
}

static void parse_all(const uint8_t *img, size_t len, size_t step, struct sink *s, int want)
{
    struct vhd_reader *r = vhd_reader_new(sink_fn, s);
    int e = 0;

    for (size_t off = 0; off < len && !e; off += step)
        e = vhd_reader_feed(r, img + off, len - off < step ? len - off : step);
    if (!e)
        e = vhd_reader_finish(r);
    assert_int_equal(e, want);
    vhd_reader_free(r);
}

static void test_footer_round_trip(void **state)
{
    uint8_t f[VHD_FOOTER_SIZE];
    struct vhd_footer p;

    (void)state;
    vhd_footer_make(f, VHD_DYNAMIC, 10 * 1024 * 1024, UUID, 42);
    assert_int_equal(vhd_footer_parse(f, &p), 0);
    assert_int_equal(p.disk_type, VHD_DYNAMIC);
    assert_int_equal(p.current_size, 10 * 1024 * 1024);
    assert_int_equal(p.data_offset, VHD_FOOTER_SIZE);
    assert_memory_equal(p.uuid, UUID, 16);
    f[100] ^= 1;
    assert_int_equal(vhd_footer_parse(f, &p), -EPROTO);
}

static void test_footer_geometry_covers_size(void **state)
{
    uint8_t f[VHD_FOOTER_SIZE];

    (void)state;
    /* A 40 GiB disk: 16 heads, 63 sectors, and enough cylinders. */
    vhd_footer_make(f, VHD_FIXED, 40ULL << 30, UUID, 0);
    uint32_t c = (uint32_t)f[56] << 8 | f[57];
    assert_int_equal(f[58], 16);
    assert_int_equal(f[59], 255);
    assert_true((uint64_t)c * 16 * 255 * 512 <= 40ULL << 30);
    assert_true(c > 20000);
}

static void test_dynamic_round_trip(void **state)
{
    uint64_t size = 5 * 1024 * 1024 + 4096; /* three blocks, the last partial */
    uint8_t *disk = pattern_disk(size);
    size_t len;
    uint8_t *img = make_dynamic(disk, size, &len);

    (void)state;
    assert_int_equal(len, vhd_dynamic_length(size, 2));
    size_t steps[] = {len, 65536, 511, 1};
    for (size_t i = 0; i < sizeof(steps) / sizeof(*steps); i++) {
        struct sink s = {.disk = calloc(1, (size_t)size), .size = size};
        parse_all(img, len, steps[i], &s, 0);
        assert_memory_equal(s.disk, disk, (size_t)size);
        /* The zero block is a hole, not data. */
        assert_int_equal(s.given, VHD_BLOCK + (size - 2 * VHD_BLOCK));
        free(s.disk);
    }
    free(img);
    free(disk);
}

static void test_prelude_refuses_bad_blocks(void **state)
{
    uint32_t unordered[] = {2, 1}, out_of_range[] = {3};
    size_t len;

    (void)state;
    assert_null(vhd_dynamic_prelude(4 * 1024 * 1024, unordered, 2, UUID, 0, &len));
    assert_null(vhd_dynamic_prelude(4 * 1024 * 1024, out_of_range, 1, UUID, 0, &len));
    assert_null(vhd_dynamic_prelude(VHD_MAX_SIZE + 512, NULL, 0, UUID, 0, &len));
}

static void test_fixed_round_trip(void **state)
{
    uint64_t size = 3 * 4096;
    uint8_t *img = malloc((size_t)size + VHD_FOOTER_SIZE);
    struct sink s = {.disk = calloc(1, (size_t)size), .size = size};
    enum vhd_type t;
    uint64_t sz;

    (void)state;
    for (size_t i = 0; i < size; i++)
        img[i] = (uint8_t)(i * 13);
    vhd_footer_make(img + size, VHD_FIXED, size, UUID, 0);
    struct vhd_reader *r = vhd_reader_new(sink_fn, &s);
    for (size_t off = 0; off < size + VHD_FOOTER_SIZE; off += 700) {
        size_t n = size + VHD_FOOTER_SIZE - off < 700 ? size + VHD_FOOTER_SIZE - off : 700;
        assert_int_equal(vhd_reader_feed(r, img + off, n), 0);
    }
    assert_int_equal(vhd_reader_finish(r), 0);
    assert_true(vhd_reader_info(r, &t, &sz));
    assert_int_equal(t, VHD_FIXED);
    assert_int_equal(sz, size);
    assert_memory_equal(s.disk, img, (size_t)size);
    vhd_reader_free(r);
    free(s.disk);
    free(img);
}

static void test_fixed_without_footer_is_refused(void **state)
{
    uint8_t data[4096];
    struct sink s = {.disk = calloc(1, sizeof(data)), .size = sizeof(data)};

    (void)state;
    memset(data, 0x5A, sizeof(data));
    parse_all(data, sizeof(data), sizeof(data), &s, -EPROTO);
    free(s.disk);
}

static void test_truncated_dynamic_is_premature_end(void **state)
{
    uint64_t size = 5 * 1024 * 1024;
    uint8_t *disk = pattern_disk(size);
    size_t len;
    uint8_t *img = make_dynamic(disk, size, &len);
    struct sink s = {.disk = calloc(1, (size_t)size), .size = size};

    (void)state;
    parse_all(img, len - VHD_FOOTER_SIZE - 1000, 4096, &s, -EPIPE);
    free(s.disk);
    free(img);
    free(disk);
}

static void test_empty_stream_is_premature_end(void **state)
{
    struct sink s = {0};
    struct vhd_reader *r = vhd_reader_new(sink_fn, &s);

    (void)state;
    assert_int_equal(vhd_reader_finish(r), -EPIPE);
    vhd_reader_free(r);
}

/* Rewrites a BAT entry of a streamed image. */
static void set_bat(uint8_t *img, uint32_t index, uint32_t sector)
{
    uint8_t *p = img + VHD_FOOTER_SIZE + VHD_HEADER_SIZE + 4 * (size_t)index;
    p[0] = (uint8_t)(sector >> 24);
    p[1] = (uint8_t)(sector >> 16);
    p[2] = (uint8_t)(sector >> 8);
    p[3] = (uint8_t)sector;
}

static void test_overlapping_blocks_are_refused(void **state)
{
    uint64_t size = 5 * 1024 * 1024;
    uint8_t *disk = pattern_disk(size);
    size_t len;
    uint8_t *img = make_dynamic(disk, size, &len);
    struct sink s = {.disk = calloc(1, (size_t)size), .size = size};

    (void)state;
    /* Block 2 stored one sector after block 0. */
    set_bat(img, 2, (VHD_FOOTER_SIZE + VHD_HEADER_SIZE + VHD_SECTOR) / VHD_SECTOR + 1);
    parse_all(img, len, len, &s, -EPROTO);
    /* Block 0 stored inside the BAT. */
    set_bat(img, 2, UINT32_MAX);
    set_bat(img, 0, (VHD_FOOTER_SIZE + VHD_HEADER_SIZE) / VHD_SECTOR);
    parse_all(img, len, len, &s, -EPROTO);
    free(s.disk);
    free(img);
    free(disk);
}

static void test_blocks_stored_out_of_order_parse(void **state)
{
    uint64_t size = 5 * 1024 * 1024;
    uint8_t *disk = pattern_disk(size);
    size_t len;
    uint8_t *img = make_dynamic(disk, size, &len);
    struct sink s = {.disk = calloc(1, (size_t)size), .size = size};
    uint64_t first = VHD_FOOTER_SIZE + VHD_HEADER_SIZE + VHD_SECTOR;

    (void)state;
    /* Swap where blocks 0 and 2 are stored, and their content. */
    uint8_t *tmp = malloc(VHD_SECTOR + VHD_BLOCK);
    memcpy(tmp, img + first, VHD_SECTOR + VHD_BLOCK);
    memmove(img + first, img + first + VHD_SECTOR + VHD_BLOCK, VHD_SECTOR + VHD_BLOCK);
    memcpy(img + first + VHD_SECTOR + VHD_BLOCK, tmp, VHD_SECTOR + VHD_BLOCK);
    set_bat(img, 0, (uint32_t)((first + VHD_SECTOR + VHD_BLOCK) / VHD_SECTOR));
    set_bat(img, 2, (uint32_t)(first / VHD_SECTOR));
    parse_all(img, len, 4096, &s, 0);
    assert_memory_equal(s.disk, disk, (size_t)size);
    free(tmp);
    free(s.disk);
    free(img);
    free(disk);
}

/* A differencing image gives only the sectors its bitmaps mark. */
static void test_differencing_gives_marked_sectors_only(void **state)
{
    uint64_t size = 4 * 1024 * 1024;
    uint8_t *disk = calloc(1, (size_t)size);
    size_t len;
    enum vhd_type t;
    uint64_t sz;

    (void)state;
    memset(disk, 0xAB, VHD_BLOCK);
    uint8_t *img = make_dynamic(disk, size, &len);
    /* Make it differencing: type 4, checksum again. */
    uint8_t *f = img;
    f[63] = VHD_DIFFERENCING;
    f[64] = f[65] = f[66] = f[67] = 0;
    uint32_t sum = 0;
    for (size_t i = 0; i < VHD_FOOTER_SIZE; i++)
        sum += f[i];
    sum = ~sum;
    f[64] = (uint8_t)(sum >> 24);
    f[65] = (uint8_t)(sum >> 16);
    f[66] = (uint8_t)(sum >> 8);
    f[67] = (uint8_t)sum;
    /* Only sectors 8..15 of block 0 are present. */
    uint8_t *bitmap = img + VHD_FOOTER_SIZE + VHD_HEADER_SIZE + VHD_SECTOR;
    memset(bitmap, 0, VHD_SECTOR);
    bitmap[1] = 0xFF;
    struct sink s = {.disk = calloc(1, (size_t)size), .size = size};
    struct vhd_reader *r = vhd_reader_new(sink_fn, &s);
    assert_int_equal(vhd_reader_feed(r, img, len), 0);
    assert_int_equal(vhd_reader_finish(r), 0);
    assert_true(vhd_reader_info(r, &t, &sz));
    assert_int_equal(t, VHD_DIFFERENCING);
    assert_int_equal(s.given, 8 * VHD_SECTOR);
    assert_int_equal(s.disk[8 * VHD_SECTOR], 0xAB);
    assert_int_equal(s.disk[0], 0);
    assert_int_equal(s.disk[16 * VHD_SECTOR], 0);
    vhd_reader_free(r);
    free(s.disk);
    free(img);
    free(disk);
}

static void put32(uint8_t *p, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        p[i] = (uint8_t)(v >> (24 - 8 * i));
}

/* The image of make_dynamic with its BAT moved after the blocks, as a
 * writer that seeks may leave it: the header points there and the BAT's
 * entries move down by the BAT's own length. */
static uint8_t *bat_after_blocks(const uint8_t *img, size_t len)
{
    const uint8_t *h = img + VHD_FOOTER_SIZE;
    uint32_t entries = (uint32_t)h[28] << 24 | (uint32_t)h[29] << 16 | (uint32_t)h[30] << 8 | h[31];
    size_t head = VHD_FOOTER_SIZE + VHD_HEADER_SIZE;
    size_t bat = ((size_t)entries * 4 + VHD_SECTOR - 1) / VHD_SECTOR * VHD_SECTOR;
    size_t blocks = len - head - bat - VHD_FOOTER_SIZE;
    uint8_t *out = malloc(len);

    memcpy(out, img, head);
    memcpy(out + head, img + head + bat, blocks);
    memcpy(out + head + blocks, img + head, bat);
    memcpy(out + len - VHD_FOOTER_SIZE, img + len - VHD_FOOTER_SIZE, VHD_FOOTER_SIZE);
    uint8_t *nh = out + VHD_FOOTER_SIZE;
    for (int i = 0; i < 8; i++)
        nh[16 + i] = (uint8_t)((uint64_t)(head + blocks) >> (56 - 8 * i));
    memset(nh + 36, 0, 4);
    uint32_t sum = 0;
    for (size_t i = 0; i < VHD_HEADER_SIZE; i++)
        sum += nh[i];
    put32(nh + 36, ~sum);
    for (uint32_t i = 0; i < entries; i++) {
        uint8_t *e = out + head + blocks + 4 * (size_t)i;
        uint32_t v = (uint32_t)e[0] << 24 | (uint32_t)e[1] << 16 | (uint32_t)e[2] << 8 | e[3];
        if (v != UINT32_MAX)
            put32(e, v - (uint32_t)(bat / VHD_SECTOR));
    }
    return out;
}

/* Blocks before the BAT are a valid layout that only seeking back could
 * read: refused as such, before any data is given. */
static void test_blocks_before_the_bat_need_seeking(void **state)
{
    uint64_t size = 5 * 1024 * 1024;
    uint8_t *disk = pattern_disk(size);
    size_t len;
    uint8_t *img = make_dynamic(disk, size, &len);
    uint8_t *moved = bat_after_blocks(img, len);
    struct sink s = {.disk = calloc(1, (size_t)size), .size = size};

    (void)state;
    parse_all(moved, len, 4096, &s, -ESPIPE);
    assert_int_equal(s.calls, 0);
    free(moved);
    free(s.disk);
    free(img);
    free(disk);
}

/* With the stream's length known, a block said to lie beyond it makes
 * the stream end early at once: nothing is given before the error. */
static void test_known_length_refuses_blocks_beyond_it_before_any_data(void **state)
{
    uint64_t size = 5 * 1024 * 1024;
    uint8_t *disk = pattern_disk(size);
    size_t len;
    uint8_t *img = make_dynamic(disk, size, &len);
    struct sink s = {.disk = calloc(1, (size_t)size), .size = size};
    struct vhd_reader *r = vhd_reader_new(sink_fn, &s);

    (void)state;
    /* Cut inside the last block: the BAT still names it. */
    vhd_reader_set_length(r, len - VHD_FOOTER_SIZE - 1);
    assert_int_equal(vhd_reader_feed(r, img, len - VHD_FOOTER_SIZE - 1), -EPIPE);
    assert_int_equal(s.calls, 0);
    vhd_reader_free(r);

    /* The whole image with its true length parses. */
    r = vhd_reader_new(sink_fn, &s);
    vhd_reader_set_length(r, len);
    assert_int_equal(vhd_reader_feed(r, img, len), 0);
    assert_int_equal(vhd_reader_finish(r), 0);
    assert_memory_equal(s.disk, disk, (size_t)size);
    vhd_reader_free(r);
    free(s.disk);
    free(img);
    free(disk);
}

/* A BAT said to lie inside the dynamic header is malformed, not a layout
 * for seeking. */
static void test_bat_inside_the_header_is_malformed(void **state)
{
    uint64_t size = 5 * 1024 * 1024;
    uint8_t *disk = pattern_disk(size);
    size_t len;
    uint8_t *img = make_dynamic(disk, size, &len);
    uint8_t *h = img + VHD_FOOTER_SIZE;
    struct sink s = {.disk = calloc(1, (size_t)size), .size = size};

    (void)state;
    memset(h + 16, 0, 8);
    h[22] = 0x04; /* 1024: inside the header at 512..1536 */
    memset(h + 36, 0, 4);
    uint32_t sum = 0;
    for (size_t i = 0; i < VHD_HEADER_SIZE; i++)
        sum += h[i];
    put32(h + 36, ~sum);
    parse_all(img, len, len, &s, -EPROTO);
    assert_int_equal(s.calls, 0);
    free(s.disk);
    free(img);
    free(disk);
}

static int failing_fn(uint64_t off, const uint8_t *data, size_t len, void *userdata)
{
    (void)off, (void)data, (void)len, (void)userdata;
    return -ENOSPC;
}

static void test_callback_error_stops_parse(void **state)
{
    uint64_t size = 5 * 1024 * 1024;
    uint8_t *disk = pattern_disk(size);
    size_t len;
    uint8_t *img = make_dynamic(disk, size, &len);
    struct vhd_reader *r = vhd_reader_new(failing_fn, NULL);

    (void)state;
    assert_int_equal(vhd_reader_feed(r, img, len), -ENOSPC);
    vhd_reader_free(r);
    free(img);
    free(disk);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_footer_round_trip),
        cmocka_unit_test(test_footer_geometry_covers_size),
        cmocka_unit_test(test_dynamic_round_trip),
        cmocka_unit_test(test_prelude_refuses_bad_blocks),
        cmocka_unit_test(test_fixed_round_trip),
        cmocka_unit_test(test_fixed_without_footer_is_refused),
        cmocka_unit_test(test_truncated_dynamic_is_premature_end),
        cmocka_unit_test(test_empty_stream_is_premature_end),
        cmocka_unit_test(test_overlapping_blocks_are_refused),
        cmocka_unit_test(test_blocks_stored_out_of_order_parse),
        cmocka_unit_test(test_differencing_gives_marked_sectors_only),
        cmocka_unit_test(test_callback_error_stops_parse),
        cmocka_unit_test(test_blocks_before_the_bat_need_seeking),
        cmocka_unit_test(test_known_length_refuses_blocks_beyond_it_before_any_data),
        cmocka_unit_test(test_bat_inside_the_header_is_malformed),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
