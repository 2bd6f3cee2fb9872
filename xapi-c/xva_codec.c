/* gzip and zstd streams of XVA archives (xva_codec.h) through zlib and
 * libzstd. The reader keeps one input buffer: its first bytes tell the
 * codec, and a plain archive is then served from it and from the source
 * directly. Concatenated gzip members and zstd frames are one stream, as
 * the command-line tools read them. */
#include "xva_codec.h"

#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <zlib.h>
#include <zstd.h>

#include "lib/util.h"
#include "xva.h"

#define IN_SIZE (128 * 1024)
#define OUT_SIZE (128 * 1024)
#define GZIP_LEVEL 6 /* gzip's default */
#define ZSTD_LEVEL 3 /* zstd's default */

enum xva_codec xva_codec_of_string(const char *s)
{
    if (s && (streq(s, "true") || streq(s, "gzip")))
        return XVA_GZIP;
    if (s && streq(s, "zstd"))
        return XVA_ZSTD;
    return XVA_PLAIN;
}

const char *xva_codec_name(enum xva_codec c)
{
    return c == XVA_GZIP ? "gzip" : c == XVA_ZSTD ? "zstd" : "false";
}

/* ---- reading ---- */

struct xva_in {
    xva_read_fn fn;
    void *arg;
    bool detected;
    enum xva_codec codec;
    unsigned char *buf; /* input: buf[pos..len) not consumed yet */
    size_t pos, len;
    bool eof;       /* the source ended */
    bool in_member; /* a gzip member or zstd frame is under way */
    bool z_ready;   /* z was initialised */
    z_stream z;
    ZSTD_DStream *zs;
    char why[128];
};

struct xva_in *xva_in_new(xva_read_fn fn, void *arg)
{
    struct xva_in *in = xcalloc(1, sizeof(*in));
    in->fn = fn;
    in->arg = arg;
    in->buf = xmalloc(IN_SIZE);
    return in;
}

void xva_in_free(struct xva_in *in)
{
    if (!in)
        return;
    if (in->z_ready)
        inflateEnd(&in->z);
    ZSTD_freeDStream(in->zs);
    free(in->buf);
    free(in);
}

enum xva_codec xva_in_codec(const struct xva_in *in)
{
    return in->codec;
}

const char *xva_in_why(const struct xva_in *in)
{
    return in->why;
}

/* Moves what is left to the start and reads more after it: 0 (eof may be
 * set) or the source's error. */
static int refill(struct xva_in *in)
{
    if (in->pos > 0) {
        memmove(in->buf, in->buf + in->pos, in->len - in->pos);
        in->len -= in->pos;
        in->pos = 0;
    }
    if (in->eof || in->len == IN_SIZE)
        return 0;
    ssize_t n = in->fn(in->arg, in->buf + in->len, IN_SIZE - in->len);
    if (n < 0)
        return (int)n;
    if (n == 0)
        in->eof = true;
    in->len += (size_t)n;
    return 0;
}

static int corrupt(struct xva_in *in, const char *what, const char *msg)
{
    snprintf(in->why, sizeof(in->why), "%s: %s", what, msg ? msg : "corrupt data");
    return -EBADMSG;
}

static int detect(struct xva_in *in)
{
    static const unsigned char zstd_magic[4] = {0x28, 0xb5, 0x2f, 0xfd};

    while (in->len < 4 && !in->eof) {
        int r = refill(in);
        if (r < 0)
            return r;
    }
    in->detected = true;
    if (in->len >= 4 && memcmp(in->buf, zstd_magic, 4) == 0) {
        in->codec = XVA_ZSTD;
        in->zs = ZSTD_createDStream();
        if (!in->zs)
            return -ENOMEM;
        /* Bounded memory: no window beyond zstd's own default limit. */
        ZSTD_DCtx_setParameter(in->zs, ZSTD_d_windowLogMax, 27);
    } else if (in->len >= 2 && in->buf[0] == 0x1f && in->buf[1] == 0x8b) {
        in->codec = XVA_GZIP;
        if (inflateInit2(&in->z, 16 + MAX_WBITS) != Z_OK)
            return -ENOMEM;
        in->z_ready = true;
    }
    return 0;
}

/* Some bytes of the archive: the count, 0 at its end, or an error. */
static ssize_t read_some(struct xva_in *in, unsigned char *out, size_t len)
{
    if (!in->detected) {
        int r = detect(in);
        if (r < 0)
            return r;
    }
    for (;;) {
        if (in->pos == in->len) {
            if (in->eof && in->codec == XVA_PLAIN)
                return 0;
            if (in->eof)
                return in->in_member ? -EPIPE : 0;
            if (in->codec == XVA_PLAIN && len >= IN_SIZE) {
                ssize_t n = in->fn(in->arg, out, len);
                if (n == 0)
                    in->eof = true;
                return n;
            }
            int r = refill(in);
            if (r < 0)
                return r;
            continue;
        }
        if (in->codec == XVA_PLAIN) {
            size_t n = in->len - in->pos < len ? in->len - in->pos : len;
            memcpy(out, in->buf + in->pos, n);
            in->pos += n;
            return (ssize_t)n;
        }
        size_t produced;
        if (in->codec == XVA_GZIP) {
            if (!in->in_member && in->len - in->pos < 2 && !in->eof) {
                int r = refill(in);
                if (r < 0)
                    return r;
                continue;
            }
            if (!in->in_member && (in->buf[in->pos] != 0x1f || in->len - in->pos < 2 ||
                                   in->buf[in->pos + 1] != 0x8b)) {
                /* What follows the last member is not another one: gzip
                 * ignores trailing zeros, and so does this. */
                if (xva_is_zero(in->buf + in->pos, in->len - in->pos)) {
                    in->pos = in->len;
                    continue;
                }
                return corrupt(in, "gzip", "trailing garbage after the compressed data");
            }
            in->in_member = true;
            in->z.next_in = in->buf + in->pos;
            in->z.avail_in = (uInt)(in->len - in->pos);
            in->z.next_out = out;
            in->z.avail_out = (uInt)(len > UINT32_MAX ? UINT32_MAX : len);
            int r = inflate(&in->z, Z_NO_FLUSH);
            in->pos = in->len - in->z.avail_in;
            produced = (size_t)(in->z.next_out - out);
            if (r == Z_STREAM_END) {
                in->in_member = false;
                inflateReset(&in->z);
            } else if (r != Z_OK && r != Z_BUF_ERROR) {
                return corrupt(in, "gzip", in->z.msg);
            }
        } else {
            ZSTD_inBuffer ib = {in->buf, in->len, in->pos};
            ZSTD_outBuffer ob = {out, len, 0};
            size_t r = ZSTD_decompressStream(in->zs, &ob, &ib);
            in->pos = ib.pos;
            produced = ob.pos;
            if (ZSTD_isError(r))
                return corrupt(in, "zstd", ZSTD_getErrorName(r));
            in->in_member = r != 0;
        }
        if (produced > 0)
            return (ssize_t)produced;
    }
}

int xva_in_read_full(struct xva_in *in, void *buf, size_t len)
{
    unsigned char *p = buf;

    while (len > 0) {
        ssize_t n = read_some(in, p, len);
        if (n < 0)
            return (int)n;
        if (n == 0)
            return -EPIPE;
        p += n;
        len -= (size_t)n;
    }
    return 0;
}

int xva_in_finish(struct xva_in *in)
{
    if (!in->detected || in->codec == XVA_PLAIN)
        return 0;
    unsigned char *scratch = xmalloc(OUT_SIZE);
    ssize_t n;
    while ((n = read_some(in, scratch, OUT_SIZE)) > 0)
        ;
    free(scratch);
    return (int)n;
}

/* ---- writing ---- */

struct xva_out {
    enum xva_codec codec;
    xva_write_fn fn;
    void *arg;
    int err;
    bool z_ready;
    z_stream z;
    ZSTD_CStream *zs;
    unsigned char *buf;
};

struct xva_out *xva_out_new(enum xva_codec codec, xva_write_fn fn, void *arg)
{
    struct xva_out *o = xcalloc(1, sizeof(*o));
    o->codec = codec;
    o->fn = fn;
    o->arg = arg;
    if (codec == XVA_PLAIN)
        return o;
    o->buf = xmalloc(OUT_SIZE);
    if (codec == XVA_GZIP) {
        if (deflateInit2(&o->z, GZIP_LEVEL, Z_DEFLATED, 16 + MAX_WBITS, 8, Z_DEFAULT_STRATEGY) ==
            Z_OK)
            o->z_ready = true;
        else
            o->err = -ENOMEM;
    } else {
        o->zs = ZSTD_createCStream();
        if (!o->zs ||
            ZSTD_isError(ZSTD_CCtx_setParameter(o->zs, ZSTD_c_compressionLevel, ZSTD_LEVEL)) ||
            ZSTD_isError(ZSTD_CCtx_setParameter(o->zs, ZSTD_c_checksumFlag, 1)))
            o->err = -ENOMEM;
    }
    return o;
}

void xva_out_free(struct xva_out *o)
{
    if (!o)
        return;
    if (o->z_ready)
        deflateEnd(&o->z);
    ZSTD_freeCStream(o->zs);
    free(o->buf);
    free(o);
}

/* Runs the compressor over buf (finishing the stream when end): 0 or an
 * error. */
static int pump(struct xva_out *o, const void *buf, size_t len, bool end)
{
    if (o->codec == XVA_GZIP) {
        o->z.next_in = (unsigned char *)(uintptr_t)buf;
        o->z.avail_in = (uInt)len;
        for (;;) {
            o->z.next_out = o->buf;
            o->z.avail_out = OUT_SIZE;
            int r = deflate(&o->z, end ? Z_FINISH : Z_NO_FLUSH);
            if (r == Z_STREAM_ERROR)
                return -EIO;
            size_t have = OUT_SIZE - o->z.avail_out;
            if (have && (o->err = o->fn(o->arg, o->buf, have)) < 0)
                return o->err;
            if (end ? r == Z_STREAM_END : o->z.avail_in == 0 && o->z.avail_out > 0)
                return 0;
        }
    }
    ZSTD_inBuffer ib = {buf, len, 0};
    for (;;) {
        ZSTD_outBuffer ob = {o->buf, OUT_SIZE, 0};
        size_t r = ZSTD_compressStream2(o->zs, &ob, &ib, end ? ZSTD_e_end : ZSTD_e_continue);
        if (ZSTD_isError(r))
            return -EIO;
        if (ob.pos && (o->err = o->fn(o->arg, o->buf, ob.pos)) < 0)
            return o->err;
        if (end ? r == 0 : ib.pos == ib.size && ob.pos < OUT_SIZE)
            return 0;
    }
}

int xva_out_write(struct xva_out *o, const void *buf, size_t len)
{
    if (o->err < 0)
        return o->err;
    if (o->codec == XVA_PLAIN)
        return o->err = o->fn(o->arg, buf, len);
    /* zlib counts in 32 bits */
    const unsigned char *p = buf;
    while (len > 0) {
        size_t n = len > (1u << 30) ? (1u << 30) : len;
        int r = pump(o, p, n, false);
        if (r < 0)
            return o->err = r;
        p += n;
        len -= n;
    }
    return 0;
}

int xva_out_finish(struct xva_out *o)
{
    if (o->err < 0 || o->codec == XVA_PLAIN)
        return o->err;
    int r = pump(o, NULL, 0, true);
    return r < 0 ? (o->err = r) : 0;
}
