/* Unit tests of the compressed XVA streams (xapi-c/xva_codec.c): what the
 * writer compresses with gzip or zstd the reader finds by its magic and
 * gives back byte for byte, whatever the sizes of the source's reads; a
 * plain stream passes through; concatenated gzip members read as one
 * stream; a cut stream is -EPIPE and corrupt data -EBADMSG, both found by
 * xva_in_finish at the latest; the CLI's names of the codecs. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "xapi-c/xva_codec.h"

/* A growing buffer as the writer's sink. */
struct sink {
    unsigned char *buf;
    size_t len;
};

static int to_sink(void *arg, const void *buf, size_t len)
{
    struct sink *k = arg;
    k->buf = realloc(k->buf, k->len + len + 1);
    memcpy(k->buf + k->len, buf, len);
    k->len += len;
    return 0;
}

/* A source that hands out at most step bytes per read. */
struct source {
    const unsigned char *buf;
    size_t len, pos, step;
};

static ssize_t from_source(void *arg, void *buf, size_t len)
{
    struct source *s = arg;
    size_t n = s->len - s->pos;
    if (n > len)
        n = len;
    if (n > s->step)
        n = s->step;
    memcpy(buf, s->buf + s->pos, n);
    s->pos += n;
    return (ssize_t)n;
}

/* Test data: 3 MiB mixing runs of zeros and a pattern, compressible. */
static unsigned char *make_data(size_t len)
{
    unsigned char *d = malloc(len);
    for (size_t i = 0; i < len; i++)
        d[i] = (i / 65536) % 3 ? (unsigned char)(i * 7 + i / 511) : 0;
    return d;
}

static struct sink compress(enum xva_codec c, const unsigned char *data, size_t len)
{
    struct sink k = {0};
    struct xva_out *o = xva_out_new(c, to_sink, &k);
    /* in uneven pieces, as tar members come */
    for (size_t at = 0; at < len;) {
        size_t n = len - at < 100003 ? len - at : 100003;
        assert_int_equal(xva_out_write(o, data + at, n), 0);
        at += n;
    }
    assert_int_equal(xva_out_finish(o), 0);
    xva_out_free(o);
    return k;
}

static void round_trip(enum xva_codec c, size_t step)
{
    size_t len = 3 * 1024 * 1024;
    unsigned char *data = make_data(len), *back = malloc(len);
    struct sink k = compress(c, data, len);
    if (c != XVA_PLAIN)
        assert_true(k.len < len);
    struct source src = {k.buf, k.len, 0, step};
    struct xva_in *in = xva_in_new(from_source, &src);
    /* in reads of odd sizes */
    for (size_t at = 0; at < len;) {
        size_t n = len - at < 512 * 7 ? len - at : 512 * 7;
        assert_int_equal(xva_in_read_full(in, back + at, n), 0);
        at += n;
    }
    assert_int_equal(xva_in_codec(in), c);
    assert_memory_equal(back, data, len);
    assert_int_equal(xva_in_finish(in), 0);
    unsigned char extra;
    assert_int_equal(xva_in_read_full(in, &extra, 1), -EPIPE);
    xva_in_free(in);
    free(k.buf);
    free(data);
    free(back);
}

static void test_gzip_round_trip(void **state)
{
    (void)state;
    round_trip(XVA_GZIP, 1 << 20);
    round_trip(XVA_GZIP, 1);
}

static void test_zstd_round_trip(void **state)
{
    (void)state;
    round_trip(XVA_ZSTD, 1 << 20);
    round_trip(XVA_ZSTD, 3);
}

static void test_plain_passes_through(void **state)
{
    (void)state;
    round_trip(XVA_PLAIN, 1 << 20);
    round_trip(XVA_PLAIN, 5);
}

static void test_gzip_members_concatenated_are_one_stream(void **state)
{
    (void)state;
    size_t len = 1024 * 1024;
    unsigned char *data = make_data(len), *back = malloc(len);
    struct sink a = compress(XVA_GZIP, data, len / 2);
    struct sink b = compress(XVA_GZIP, data + len / 2, len / 2);
    to_sink(&a, b.buf, b.len);
    struct source src = {a.buf, a.len, 0, 4096};
    struct xva_in *in = xva_in_new(from_source, &src);
    assert_int_equal(xva_in_read_full(in, back, len), 0);
    assert_memory_equal(back, data, len);
    assert_int_equal(xva_in_finish(in), 0);
    xva_in_free(in);
    free(a.buf);
    free(b.buf);
    free(data);
    free(back);
}

/* Reads all the archive then finishes: the first error met. */
static int read_all(const unsigned char *buf, size_t len, size_t want)
{
    unsigned char *back = malloc(want);
    struct source src = {buf, len, 0, 65536};
    struct xva_in *in = xva_in_new(from_source, &src);
    int r = xva_in_read_full(in, back, want);
    if (r == 0)
        r = xva_in_finish(in);
    if (r == -EBADMSG)
        assert_true(strlen(xva_in_why(in)) > 0);
    xva_in_free(in);
    free(back);
    return r;
}

static void test_a_cut_stream_is_a_premature_end(void **state)
{
    (void)state;
    size_t len = 1024 * 1024;
    unsigned char *data = make_data(len);
    enum xva_codec cs[] = {XVA_GZIP, XVA_ZSTD};
    for (size_t i = 0; i < 2; i++) {
        struct sink k = compress(cs[i], data, len);
        assert_int_equal(read_all(k.buf, k.len / 2, len), -EPIPE);
        /* only the trailer missing: the data is all there, the end not */
        assert_int_equal(read_all(k.buf, k.len - 2, len), -EPIPE);
        free(k.buf);
    }
    free(data);
}

static void test_corrupt_data_is_refused(void **state)
{
    (void)state;
    size_t len = 1024 * 1024;
    unsigned char *data = make_data(len);
    enum xva_codec cs[] = {XVA_GZIP, XVA_ZSTD};
    for (size_t i = 0; i < 2; i++) {
        struct sink k = compress(cs[i], data, len);
        for (size_t j = k.len / 2; j < k.len / 2 + 16; j++)
            k.buf[j] ^= 0x5a;
        int r = read_all(k.buf, k.len, len);
        assert_true(r == -EBADMSG || r == -EPIPE);
        free(k.buf);
    }
    free(data);
}

static void test_trailing_garbage_after_gzip_is_refused(void **state)
{
    (void)state;
    size_t len = 4096;
    unsigned char *data = make_data(len);
    struct sink k = compress(XVA_GZIP, data, len);
    to_sink(&k, "garbage!", 8);
    assert_int_equal(read_all(k.buf, k.len, len), -EBADMSG);
    free(k.buf);
    free(data);
}

static void test_codec_names_follow_xcp(void **state)
{
    (void)state;
    assert_int_equal(xva_codec_of_string("true"), XVA_GZIP);
    assert_int_equal(xva_codec_of_string("gzip"), XVA_GZIP);
    assert_int_equal(xva_codec_of_string("zstd"), XVA_ZSTD);
    assert_int_equal(xva_codec_of_string("false"), XVA_PLAIN);
    assert_int_equal(xva_codec_of_string("lz4"), XVA_PLAIN);
    assert_int_equal(xva_codec_of_string(NULL), XVA_PLAIN);
    assert_string_equal(xva_codec_name(XVA_GZIP), "gzip");
    assert_string_equal(xva_codec_name(XVA_ZSTD), "zstd");
    assert_string_equal(xva_codec_name(XVA_PLAIN), "false");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_gzip_round_trip),
        cmocka_unit_test(test_zstd_round_trip),
        cmocka_unit_test(test_plain_passes_through),
        cmocka_unit_test(test_gzip_members_concatenated_are_one_stream),
        cmocka_unit_test(test_a_cut_stream_is_a_premature_end),
        cmocka_unit_test(test_corrupt_data_is_refused),
        cmocka_unit_test(test_trailing_garbage_after_gzip_is_refused),
        cmocka_unit_test(test_codec_names_follow_xcp),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
