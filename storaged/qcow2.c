/* qcow2 header reading (see qcow2.h). */
#include "storaged/qcow2.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "lib/util.h"

#define QCOW2_MAGIC 0x514649fbu /* "QFI\xfb" */
#define HEADER_READ 4096        /* the header and a backing name fit here */
#define MAX_BACKING_NAME 1023   /* QEMU's own limit */

static uint64_t be64(const uint8_t *p)
{
    uint64_t v = 0;
    for (int i = 0; i < 8; i++)
        v = v << 8 | p[i];
    return v;
}

static uint32_t be32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

int qcow2_parse_header(const uint8_t *buf, size_t len, int64_t *ret_size, char **ret_backing)
{
    if (len < 72 || be32(buf) != QCOW2_MAGIC)
        return -EINVAL;
    uint32_t version = be32(buf + 4);
    uint64_t off = be64(buf + 8);
    uint32_t blen = be32(buf + 16);
    uint64_t size = be64(buf + 24);
    if ((version != 2 && version != 3) || size > INT64_MAX || blen > MAX_BACKING_NAME ||
        (off == 0) != (blen == 0))
        return -EINVAL;
    if (off && (off > len || blen > len - off))
        return -ENODATA;
    if (ret_backing)
        *ret_backing = off ? xstrndup((const char *)buf + off, blen) : NULL;
    *ret_size = (int64_t)size;
    return 0;
}

int qcow2_read_header(const char *path, int64_t *ret_size, char **ret_backing)
{
    uint8_t buf[HEADER_READ];
    size_t got = 0;
    int fd = open(path, O_RDONLY | O_CLOEXEC);

    if (fd < 0)
        return -errno;
    while (got < sizeof(buf)) {
        ssize_t n = pread(fd, buf + got, sizeof(buf) - got, (off_t)got);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            int r = -errno;
            close(fd);
            return r;
        }
        if (n == 0)
            break;
        got += (size_t)n;
    }
    close(fd);
    return qcow2_parse_header(buf, got, ret_size, ret_backing);
}
