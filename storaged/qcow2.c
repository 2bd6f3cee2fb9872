/* qcow2 headers read and empty qcow2 images made (see qcow2.h). */
#include "storaged/qcow2.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "lib/cleanup.h"
#include "lib/util.h"

#define QCOW2_MAGIC 0x514649fbu /* "QFI\xfb" */
#define HEADER_READ 4096        /* the header and a backing name fit here */
#define MAX_BACKING_NAME 1023   /* QEMU's own limit */

/* What a new image is made of, as qemu-img 7.2 makes it. */
#define CLUSTER_BITS 16
#define CLUSTER_SIZE ((int64_t)1 << CLUSTER_BITS)
#define L2_COVERS (CLUSTER_SIZE / 8 * CLUSTER_SIZE) /* bytes one L1 entry maps */
#define MAX_IMAGE_SIZE ((int64_t)1 << 51)           /* a 32 MiB L1 table */
#define HEADER_LENGTH 112                           /* v3, with the compression type */
#define REFCOUNT_ORDER 4                            /* 16-bit refcounts */
#define EXT_BACKING_FORMAT 0xe2792acau
#define MAX_BACKING_FMT 16

static uint64_t be64(const uint8_t *p)
{
    uint64_t v = 0;
    for (int i = 0; i < 8; i++)
        v = v << 8 | p[i];
    return v;
}

static void put64(uint8_t *p, uint64_t v)
{
    for (int i = 7; i >= 0; i--, v >>= 8)
        p[i] = (uint8_t)v;
}

static void put32(uint8_t *p, uint32_t v)
{
    for (int i = 3; i >= 0; i--, v >>= 8)
        p[i] = (uint8_t)v;
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

int64_t qcow2_round_size(int64_t size)
{
    return size > INT64_MAX - 511 ? size : (size + 511) & ~(int64_t)511;
}

int qcow2_build(int64_t size, const char *backing, const char *backing_fmt, uint8_t **ret_buf,
                size_t *ret_data_len, int64_t *ret_len)
{
    size_t blen = backing ? strlen(backing) : 0, flen = backing_fmt ? strlen(backing_fmt) : 0;

    if (size <= 0 || size > MAX_IMAGE_SIZE || blen > MAX_BACKING_NAME || flen > MAX_BACKING_FMT ||
        (backing && blen == 0) || (backing_fmt && !backing))
        return -EINVAL;
    size = qcow2_round_size(size);
    /* Clusters: 0 the header, 1 the refcount table, 2 its one block, then
     * the L1 table, one entry per 512 MiB of virtual disk. */
    uint64_t l1_entries = (uint64_t)((size + L2_COVERS - 1) / L2_COVERS);
    uint64_t l1_clusters = (l1_entries * 8 + CLUSTER_SIZE - 1) / CLUSTER_SIZE;
    uint64_t clusters = 3 + l1_clusters;
    size_t data_len = 3 * (size_t)CLUSTER_SIZE;
    uint8_t *b = xcalloc(1, data_len);

    put32(b, QCOW2_MAGIC);
    put32(b + 4, 3);
    put32(b + 20, CLUSTER_BITS);
    put64(b + 24, (uint64_t)size);
    put32(b + 36, (uint32_t)l1_entries);
    put64(b + 40, 3 * (uint64_t)CLUSTER_SIZE);
    put64(b + 48, (uint64_t)CLUSTER_SIZE);
    put32(b + 56, 1);
    put32(b + 96, REFCOUNT_ORDER);
    put32(b + 100, HEADER_LENGTH);
    /* Header extensions follow the header: the backing format (so QEMU
     * never probes the base's format), then the end marker; then the
     * backing file name, which the header points at. */
    size_t off = HEADER_LENGTH;
    if (backing_fmt) {
        put32(b + off, EXT_BACKING_FORMAT);
        put32(b + off + 4, (uint32_t)flen);
        memcpy(b + off + 8, backing_fmt, flen);
        off += 8 + (flen + 7) / 8 * 8;
    }
    off += 8; /* the end of the extensions: type 0, length 0 */
    if (backing) {
        put64(b + 8, off);
        put32(b + 16, (uint32_t)blen);
        memcpy(b + off, backing, blen);
    }
    /* The refcount table names the block; the block counts each cluster
     * in use once. */
    put64(b + CLUSTER_SIZE, 2 * (uint64_t)CLUSTER_SIZE);
    for (uint64_t i = 0; i < clusters; i++) {
        b[2 * CLUSTER_SIZE + 2 * i] = 0;
        b[2 * CLUSTER_SIZE + 2 * i + 1] = 1;
    }
    *ret_buf = b;
    *ret_data_len = data_len;
    *ret_len = 3 * CLUSTER_SIZE + (int64_t)l1_entries * 8;
    return 0;
}

/* Writes the 4 KiB blocks of buf that hold something: the rest of the
 * image reads as zeros from holes, so a new image allocates three blocks
 * rather than three clusters, and flushing it has little to write. */
static int write_blocks(int fd, const uint8_t *buf, size_t len)
{
    static const uint8_t zero[4096];

    for (size_t off = 0; off < len; off += sizeof(zero)) {
        size_t n = len - off < sizeof(zero) ? len - off : sizeof(zero);
        if (memcmp(buf + off, zero, n) == 0)
            continue;
        for (size_t done = 0; done < n;) {
            ssize_t w = pwrite(fd, buf + off + done, n - done, (off_t)(off + done));
            if (w < 0 && errno == EINTR)
                continue;
            if (w < 0)
                return -errno;
            done += (size_t)w;
        }
    }
    return 0;
}

int qcow2_create(const char *path, int64_t size, const char *backing, const char *backing_fmt)
{
    _cleanup_free_ uint8_t *buf = NULL;
    size_t len = 0;
    int64_t file_len = 0;
    int r = qcow2_build(size, backing, backing_fmt, &buf, &len, &file_len);

    if (r < 0)
        return r;
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0)
        return -errno;
    if ((r = write_blocks(fd, buf, len)) == 0 && ftruncate(fd, (off_t)file_len) < 0)
        r = -errno;
    if (close(fd) < 0 && r == 0)
        r = -errno;
    return r;
}
