/* The compressed forms of an XVA (xva.h), as XCP writes and reads them
 * (export.ml use_compression, import.ml with_open_archive): the whole tar
 * archive through gzip or zstd. A reader that finds by the magic number of
 * the first bytes whether the stream is gzip (1f 8b), zstd (28 b5 2f fd) or
 * a plain archive, and hands on the archive's bytes; and a writer that
 * compresses what it is given. Both stream through zlib and libzstd with
 * buffers of fixed size, so memory stays bounded whatever the archive's
 * size, and do no I/O of their own: the caller's functions move the bytes.
 * Neither blocks except in those functions. */
#pragma once

#include <stddef.h>
#include <sys/types.h>

enum xva_codec {
    XVA_PLAIN,
    XVA_GZIP,
    XVA_ZSTD,
};

/* The codec a query or CLI value names, as XCP's Compression_algorithms
 * reads it: "true" and "gzip" are gzip, "zstd" is zstd, anything else (or
 * NULL) none. */
enum xva_codec xva_codec_of_string(const char *s);
/* "false", "gzip" or "zstd", as XCP's CLI writes it in a query. */
const char *xva_codec_name(enum xva_codec c);

/* Reads up to len bytes: the count, 0 at the end of the stream, or a
 * negative errno. */
typedef ssize_t (*xva_read_fn)(void *arg, void *buf, size_t len);
/* Writes all of len bytes: 0 or a negative errno. */
typedef int (*xva_write_fn)(void *arg, const void *buf, size_t len);

struct xva_in;

/* A reader of the stream that fn reads (arg is passed on; both borrowed
 * for the reader's life). The codec is found at the first read. */
struct xva_in *xva_in_new(xva_read_fn fn, void *arg);
void xva_in_free(struct xva_in *in);
/* Reads exactly len bytes of the archive: 0; -EPIPE when the stream (or
 * the compressed stream) ends before; -EBADMSG when the compressed data is
 * corrupt (xva_in_why says how); or the error of fn. */
int xva_in_read_full(struct xva_in *in, void *buf, size_t len);
/* The codec found (XVA_PLAIN before the first read). */
enum xva_codec xva_in_codec(const struct xva_in *in);
/* After the archive's last member: a compressed stream is read to its end,
 * so that its trailing checks (gzip's CRC and length, zstd's checksum) are
 * verified. 0, -EPIPE, -EBADMSG or the error of fn; 0 at once for a plain
 * archive. */
int xva_in_finish(struct xva_in *in);
/* Why the compressed data was refused (borrowed), or "". */
const char *xva_in_why(const struct xva_in *in);

struct xva_out;

/* A writer that compresses with codec (or not, XVA_PLAIN) into fn, at
 * gzip's and zstd's default levels as XCP runs their command-line tools. */
struct xva_out *xva_out_new(enum xva_codec codec, xva_write_fn fn, void *arg);
/* Frees o (NULL: nothing); what was not finished is dropped. */
void xva_out_free(struct xva_out *o);
/* Compresses and writes len bytes: 0 or the error of fn (then every later
 * call fails with it). */
int xva_out_write(struct xva_out *o, const void *buf, size_t len);
/* Ends the compressed stream and writes what is left: 0 or an error. */
int xva_out_finish(struct xva_out *o);
