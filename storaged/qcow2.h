/* Reads the header of a qcow2 image (version 2 or 3): its virtual size and
 * backing file name. sr_scan reads a thousand of these, where one qemu-img
 * process per image would cost seconds; the header is a fixed, documented
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
