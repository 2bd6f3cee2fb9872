/* The VHD disk image format (Microsoft's "Virtual Hard Disk Image Format
 * Specification" 1.0), as XCP streams disks with format=vhd: a writer for
 * dynamic images laid out for streaming (footer copy, dynamic header, BAT,
 * then each allocated block as its sector bitmap and data in increasing
 * order, then the footer) and a push parser for dynamic, differencing and
 * fixed images arriving as a stream. Pure code over buffers: no I/O. All
 * on-disk integers are big-endian. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define VHD_SECTOR 512
#define VHD_FOOTER_SIZE 512
#define VHD_HEADER_SIZE 1024
/* The block size of the dynamic images written here (XCP's and qemu's). */
#define VHD_BLOCK (2 * 1024 * 1024)
/* The largest disk the format describes: 2040 GiB (the specification's
 * limit for the CHS geometry; XCP's limit too). */
#define VHD_MAX_SIZE (2040ULL * 1024 * 1024 * 1024)

enum vhd_type { VHD_FIXED = 2, VHD_DYNAMIC = 3, VHD_DIFFERENCING = 4 };

/* What a footer says. */
struct vhd_footer {
    uint64_t data_offset; /* the dynamic header's offset; ~0 for fixed */
    uint64_t current_size;
    uint32_t disk_type;
    uint8_t uuid[16];
};

/* Writes the 512-byte footer of an image of size bytes of the type:
 * creator "tap" (so that readers take current_size rather than the CHS
 * geometry as the size, as they do for XCP's images), the CHS geometry of
 * the specification, timestamp in seconds since 2000-01-01 UTC. */
void vhd_footer_make(uint8_t out[VHD_FOOTER_SIZE], enum vhd_type type, uint64_t size,
                     const uint8_t uuid[16], uint32_t timestamp);
/* Reads a footer: 0 and *ret, -EPROTO for anything that is not a valid
 * footer (cookie, checksum, type, size up to VHD_MAX_SIZE). */
int vhd_footer_parse(const uint8_t in[VHD_FOOTER_SIZE], struct vhd_footer *ret);

/* The number of bytes of a streamed dynamic image of size bytes with n
 * allocated blocks (VHD_BLOCK each): what vhd_dynamic_prelude, n blocks
 * (vhd_block_bitmap and VHD_BLOCK bytes each) and the footer add up to. */
uint64_t vhd_dynamic_length(uint64_t size, size_t n);
/* The start of a streamed dynamic image: footer copy, dynamic header and
 * BAT, where the k-th of the n increasing block numbers of blocks[] comes
 * k-th after it. Returns a new buffer (the caller frees it) of *ret_len
 * bytes, or NULL with EINVAL when size exceeds VHD_MAX_SIZE or a block
 * number is out of range or out of order. */
uint8_t *vhd_dynamic_prelude(uint64_t size, const uint32_t *blocks, size_t n,
                             const uint8_t uuid[16], uint32_t timestamp, size_t *ret_len);
/* The sector bitmap written before each block's data: every sector
 * present. */
void vhd_block_bitmap(uint8_t out[VHD_SECTOR]);
/* The number of VHD_BLOCK blocks of a disk of size bytes. */
uint32_t vhd_block_count(uint64_t size);

/* The push parser. It calls back with the image's data as it passes: each
 * call gives len bytes of the disk at byte offset off (within its
 * current_size): the sectors of allocated blocks whose bit is set in the
 * block's sector bitmap. What is never given is a hole: zeros for a
 * dynamic image, the parent's data for a differencing one (whose parent
 * locators are ignored). Blocks come in the order they are stored, which
 * is not always the order of their offsets: the whole BAT is read before
 * any data, so a sink writing at offsets needs to hold nothing. The
 * callback returns 0 or a negative errno that stops the
 * parse and is returned by vhd_reader_feed. */
typedef int (*vhd_data_fn)(uint64_t off, const uint8_t *data, size_t len, void *userdata);

struct vhd_reader;

/* A parser for one image. The image is fixed when its first sector is not
 * a valid footer of a dynamic or differencing image; a fixed image's data
 * is given as it comes (its footer, the last sector, is checked at the
 * end). Never fails. */
struct vhd_reader *vhd_reader_new(vhd_data_fn fn, void *userdata);
void vhd_reader_free(struct vhd_reader *r);
/* The stream's length in bytes when it is known in advance (an HTTP
 * Content-Length): then a header, BAT or block said to lie beyond it makes
 * vhd_reader_feed return -EPIPE as soon as the structure naming it is
 * read, before any data is given, rather than at the end. */
void vhd_reader_set_length(struct vhd_reader *r, uint64_t len);
/* Parses len more bytes. Returns 0, a callback's error, -EPROTO for a
 * malformed image (bad header or BAT, blocks overlapping each other),
 * -EPIPE for one the stream's known length cuts short, -ESPIPE for an image a stream cannot
 * read (the dynamic header stored before the end of the footer copy, the
 * BAT before the end of the header, a block before the end of the BAT:
 * valid layouts that no known writer makes, which would need seeking
 * back), or -EFBIG for a BAT beyond what its size needs or of more than
 * 1,044,480 entries (2040 GiB in 2 MiB blocks). */
int vhd_reader_feed(struct vhd_reader *r, const uint8_t *buf, size_t len);
/* At the end of the stream: 0 when the image was whole, -EPIPE when it
 * ended early, -EPROTO when a fixed image's footer is missing or does not
 * match its length. */
int vhd_reader_finish(struct vhd_reader *r);
/* Once the first footer was read (or, for a fixed image, at the end): the
 * image's type and size. Returns false before. */
bool vhd_reader_info(const struct vhd_reader *r, enum vhd_type *ret_type, uint64_t *ret_size);
