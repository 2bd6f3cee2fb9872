/* qcow2 images without qemu-img: reading the header of one (version 2 or
 * 3: its virtual size and backing file name), and making an empty one (a
 * new VDI, or the overlays of a snapshot or clone). sr_scan reads a
 * thousand headers, where one qemu-img process per image would cost
 * seconds; and a qemu-img process per new image was most of the time of
 * vdi_create, vdi_snapshot and vdi_clone. The format is a fixed, documented
 * big-endian layout (docs/interop/qcow2.txt in QEMU). */
#pragma once

#include <stddef.h>
#include <stdint.h>

/* Parses the first len bytes of an image. Returns 0 with the virtual size
 * and the backing file name (a new string, or NULL when there is none) or
 * -EINVAL if buf does not start a valid qcow2 header, -ENODATA if the
 * backing file name lies beyond len. ret_backing may be NULL. */
int qcow2_parse_header(const uint8_t *buf, size_t len, int64_t *ret_size, char **ret_backing);

/* Reads the header of the file at path: as above, or a negative errno
 * from opening or reading it. Blocks on the disk. */
int qcow2_read_header(const char *path, int64_t *ret_size, char **ret_backing);

/* The virtual size qemu-img gives an image asked for size bytes: size
 * rounded up to 512 bytes. */
int64_t qcow2_round_size(int64_t size);

/* The bytes of an empty qcow2 version 3 image of size bytes (rounded as
 * qcow2_round_size does) with 64 KiB clusters, laid out as qemu-img 7.2
 * lays it out: the header (with a backing file name and a backing format
 * extension when backing_fmt is not NULL), a refcount table and one refcount
 * block at clusters 1 and 2, and an all-zero L1 table from cluster 3. The
 * file is *ret_len bytes long, of which the first *ret_data_len are in
 * *ret_buf (a new buffer for the caller); the rest, the L1 table, is zero.
 * Returns 0, or -EINVAL for a size outside 1..2^51 (8 PiB: an L1 table of
 * 32 MiB, QEMU's limit), an empty backing name or one longer than QEMU
 * allows (1,023 bytes), or a backing_fmt without a backing name or over
 * 16 bytes. */
int qcow2_build(int64_t size, const char *backing, const char *backing_fmt, uint8_t **ret_buf,
                size_t *ret_data_len, int64_t *ret_len);

/* Writes the image qcow2_build describes to path (created, or truncated if
 * it exists, mode 0644), as a sparse file (only the blocks that are not
 * zeros are written). It does not fsync it: the caller does, once the
 * other files of its step are written too, so that one flush of the disk
 * serves them all. Returns 0 or a negative errno (the file may then be
 * left behind: the caller removes it). */
int qcow2_create(const char *path, int64_t size, const char *backing, const char *backing_fmt);
