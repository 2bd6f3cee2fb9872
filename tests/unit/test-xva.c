/* Unit tests of the pure parts of the XVA format (xapi-c/xva_format.c):
 * XXH64 against vectors computed with Debian's xxhsum (lengths that take
 * each path of the algorithm: empty, under 4, under 32, over 32 with a
 * tail, and a MiB-sized chunk); the zero test on short and long buffers,
 * with a non-zero byte at either end and in the middle; and tar headers:
 * what the writer makes parses back, ustar's prefix joins the name, and
 * gzip data, a bad checksum and the end of the archive are told apart. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "xapi-c/xva.h"

static void test_xxh64_matches_xxhsum_on_short_inputs(void **state)
{
    (void)state;
    assert_true(xva_xxh64("", 0) == 0xef46db3751d8e999ULL);
    assert_true(xva_xxh64("a", 1) == 0xd24ec4f1a98c6e5bULL);
    assert_true(xva_xxh64("abc", 3) == 0x44bc2cf5ad770999ULL);
}

static void test_xxh64_matches_xxhsum_on_long_inputs(void **state)
{
    (void)state;
    char *x = malloc(1000);
    memset(x, 'x', 1000);
    assert_true(xva_xxh64(x, 1000) == 0x4cb9a3b69cb700e1ULL);
    free(x);
    size_t n = 256 * 4099;
    unsigned char *b = malloc(n);
    for (size_t i = 0; i < n; i++)
        b[i] = (unsigned char)(i & 0xff);
    assert_true(xva_xxh64(b, n) == 0x080edd5feee4274dULL);
    free(b);
}

static void test_zero_test_sees_any_non_zero_byte(void **state)
{
    (void)state;
    size_t sizes[] = {0, 1, 15, 16, 17, 512, 1024 * 1024};
    for (size_t k = 0; k < sizeof(sizes) / sizeof(sizes[0]); k++) {
        size_t n = sizes[k];
        unsigned char *b = calloc(1, n + 1);
        assert_true(xva_is_zero(b, n));
        if (n == 0) {
            free(b);
            continue;
        }
        size_t at[] = {0, n / 2, n - 1};
        for (size_t i = 0; i < 3; i++) {
            b[at[i]] = 1;
            assert_false(xva_is_zero(b, n));
            b[at[i]] = 0;
        }
        free(b);
    }
}

static void test_tar_header_round_trip(void **state)
{
    char block[XVA_BLOCK];
    struct xva_member m;
    (void)state;
    xva_tar_header(block, "Ref:12/00000042.checksum", 40, 1700000000);
    assert_int_equal(xva_tar_parse((unsigned char *)block, &m), 0);
    assert_string_equal(m.name, "Ref:12/00000042.checksum");
    assert_true(m.size == 40);
    assert_int_equal(m.type, '0');
}

static void test_tar_prefix_joins_the_name(void **state)
{
    char block[XVA_BLOCK];
    struct xva_member m;
    (void)state;
    xva_tar_header(block, "00000001", 1048576, 0);
    memcpy(block + 345, "Ref:3", 5);
    /* the checksum again, with the prefix in */
    unsigned sum = 0;
    memset(block + 148, ' ', 8);
    for (size_t i = 0; i < XVA_BLOCK; i++)
        sum += (unsigned char)block[i];
    snprintf(block + 148, 8, "%06o", sum);
    assert_int_equal(xva_tar_parse((unsigned char *)block, &m), 0);
    assert_string_equal(m.name, "Ref:3/00000001");
    assert_true(m.size == 1048576);
}

static void test_tar_parse_tells_end_gzip_and_garbage_apart(void **state)
{
    unsigned char block[XVA_BLOCK] = {0};
    struct xva_member m;
    (void)state;
    assert_int_equal(xva_tar_parse(block, &m), 1);
    block[0] = 0x1f;
    block[1] = 0x8b;
    assert_int_equal(xva_tar_parse(block, &m), -ENOTSUP);
    memset(block, 'x', sizeof(block));
    assert_int_equal(xva_tar_parse(block, &m), -EPROTO);
    xva_tar_header((char *)block, "ova.xml", 10, 0);
    block[10] ^= 1; /* the name changed, the checksum did not */
    assert_int_equal(xva_tar_parse(block, &m), -EPROTO);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_xxh64_matches_xxhsum_on_short_inputs),
        cmocka_unit_test(test_xxh64_matches_xxhsum_on_long_inputs),
        cmocka_unit_test(test_zero_test_sees_any_non_zero_byte),
        cmocka_unit_test(test_tar_header_round_trip),
        cmocka_unit_test(test_tar_prefix_joins_the_name),
        cmocka_unit_test(test_tar_parse_tells_end_gzip_and_garbage_apart),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
