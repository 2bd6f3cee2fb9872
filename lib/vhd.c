/* VHD encoding and the streaming parser (see vhd.h). The parser never
 * seeks: it reads the footer copy, skips to the dynamic header, skips to
 * the BAT, sorts the allocated blocks by where they are stored and then
 * reads forward from one to the next. A header, BAT or block stored
 * before what precedes it in that order could only be read by seeking
 * back (-ESPIPE); two blocks sharing sectors are malformed (-EPROTO). */
#include "lib/vhd.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#define BAT_UNUSED 0xFFFFFFFFu
/* A block size is a power of two from a sector's bits' worth of sectors
 * (4 KiB) up to what any writer uses. */
#define MIN_BLOCK (VHD_SECTOR * 8)
#define MAX_BLOCK (256u * 1024 * 1024)
/* The BAT of the largest disk with 2 MiB blocks (4 MiB): a bigger one,
 * from smaller blocks, would make the parser hold too much. */
#define MAX_ENTRIES ((uint32_t)(VHD_MAX_SIZE / VHD_BLOCK))

static void put_be16(uint8_t *p, uint16_t v)
{
    p[0] = (uint8_t)(v >> 8);
    p[1] = (uint8_t)v;
}

static void put_be32(uint8_t *p, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        p[i] = (uint8_t)(v >> (24 - 8 * i));
}

static void put_be64(uint8_t *p, uint64_t v)
{
    for (int i = 0; i < 8; i++)
        p[i] = (uint8_t)(v >> (56 - 8 * i));
}

static uint32_t get_be32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static uint64_t get_be64(const uint8_t *p)
{
    return (uint64_t)get_be32(p) << 32 | get_be32(p + 4);
}

/* The one's complement of the sum of the bytes, the checksum field (at
 * off) counted as zero. */
static uint32_t checksum(const uint8_t *p, size_t len, size_t off)
{
    uint32_t sum = 0;

    for (size_t i = 0; i < len; i++)
        if (i < off || i >= off + 4)
            sum += p[i];
    return ~sum;
}

/* The specification's CHS geometry for a size (appendix "CHS
 * calculation"). */
static void geometry(uint64_t size, uint16_t *ret_c, uint8_t *ret_h, uint8_t *ret_s)
{
    uint64_t total = size / VHD_SECTOR, cth;
    uint32_t spt, heads;

    if (total > 65535ULL * 16 * 255)
        total = 65535ULL * 16 * 255;
    if (total >= 65535ULL * 16 * 63) {
        spt = 255;
        heads = 16;
        cth = total / spt;
    } else {
        spt = 17;
        cth = total / spt;
        heads = (uint32_t)((cth + 1023) / 1024);
        if (heads < 4)
            heads = 4;
        if (cth >= heads * 1024ULL || heads > 16) {
            spt = 31;
            heads = 16;
            cth = total / spt;
        }
        if (cth >= heads * 1024ULL) {
            spt = 63;
            heads = 16;
            cth = total / spt;
        }
    }
    *ret_c = (uint16_t)(cth / heads > 65535 ? 65535 : cth / heads);
    *ret_h = (uint8_t)heads;
    *ret_s = (uint8_t)spt;
}

void vhd_footer_make(uint8_t out[VHD_FOOTER_SIZE], enum vhd_type type, uint64_t size,
                     const uint8_t uuid[16], uint32_t timestamp)
{
    uint16_t c;
    uint8_t h, s;

    memset(out, 0, VHD_FOOTER_SIZE);
    memcpy(out, "conectix", 8);
    put_be32(out + 8, 2); /* features: reserved bit always set */
    put_be32(out + 12, 0x00010000);
    put_be64(out + 16, type == VHD_FIXED ? UINT64_MAX : VHD_FOOTER_SIZE);
    put_be32(out + 24, timestamp);
    memcpy(out + 28, "tap\0", 4);
    put_be32(out + 32, 0x00010003);
    memcpy(out + 36, "Lnux", 4);
    put_be64(out + 40, size);
    put_be64(out + 48, size);
    geometry(size, &c, &h, &s);
    put_be16(out + 56, c);
    out[58] = h;
    out[59] = s;
    put_be32(out + 60, (uint32_t)type);
    memcpy(out + 68, uuid, 16);
    put_be32(out + 64, checksum(out, VHD_FOOTER_SIZE, 64));
}

int vhd_footer_parse(const uint8_t in[VHD_FOOTER_SIZE], struct vhd_footer *ret)
{
    struct vhd_footer f;

    if (memcmp(in, "conectix", 8) != 0 || get_be32(in + 64) != checksum(in, VHD_FOOTER_SIZE, 64))
        return -EPROTO;
    f.data_offset = get_be64(in + 16);
    f.current_size = get_be64(in + 48);
    f.disk_type = get_be32(in + 60);
    memcpy(f.uuid, in + 68, 16);
    if (f.disk_type != VHD_FIXED && f.disk_type != VHD_DYNAMIC && f.disk_type != VHD_DIFFERENCING)
        return -EPROTO;
    if (f.current_size > VHD_MAX_SIZE || f.current_size % VHD_SECTOR)
        return -EPROTO;
    *ret = f;
    return 0;
}

uint32_t vhd_block_count(uint64_t size)
{
    return (uint32_t)((size + VHD_BLOCK - 1) / VHD_BLOCK);
}

static uint64_t bat_bytes(uint32_t entries)
{
    return ((uint64_t)entries * 4 + VHD_SECTOR - 1) / VHD_SECTOR * VHD_SECTOR;
}

uint64_t vhd_dynamic_length(uint64_t size, size_t n)
{
    return VHD_FOOTER_SIZE + VHD_HEADER_SIZE + bat_bytes(vhd_block_count(size)) +
           (uint64_t)n * (VHD_SECTOR + VHD_BLOCK) + VHD_FOOTER_SIZE;
}

uint8_t *vhd_dynamic_prelude(uint64_t size, const uint32_t *blocks, size_t n,
                             const uint8_t uuid[16], uint32_t timestamp, size_t *ret_len)
{
    uint32_t entries = vhd_block_count(size);
    uint64_t table = VHD_FOOTER_SIZE + VHD_HEADER_SIZE, data = table + bat_bytes(entries);

    if (size > VHD_MAX_SIZE || size % VHD_SECTOR || n > entries) {
        errno = EINVAL;
        return NULL;
    }
    for (size_t k = 0; k < n; k++)
        if (blocks[k] >= entries || (k > 0 && blocks[k] <= blocks[k - 1])) {
            errno = EINVAL;
            return NULL;
        }
    size_t len = (size_t)data;
    uint8_t *p = malloc(len);
    if (!p)
        return NULL;
    vhd_footer_make(p, VHD_DYNAMIC, size, uuid, timestamp);

    uint8_t *h = p + VHD_FOOTER_SIZE;
    memset(h, 0, VHD_HEADER_SIZE);
    memcpy(h, "cxsparse", 8);
    put_be64(h + 8, UINT64_MAX);
    put_be64(h + 16, table);
    put_be32(h + 24, 0x00010000);
    put_be32(h + 28, entries);
    put_be32(h + 32, VHD_BLOCK);
    put_be32(h + 36, checksum(h, VHD_HEADER_SIZE, 36));

    /* Unused entries and the BAT's padding are all ones. */
    memset(p + table, 0xFF, len - table);
    for (size_t k = 0; k < n; k++)
        put_be32(p + table + 4 * (uint64_t)blocks[k],
                 (uint32_t)((data + k * (uint64_t)(VHD_SECTOR + VHD_BLOCK)) / VHD_SECTOR));
    *ret_len = len;
    return p;
}

void vhd_block_bitmap(uint8_t out[VHD_SECTOR])
{
    memset(out, 0xFF, VHD_SECTOR);
}

/* The parser. */

enum phase {
    P_FIRST,     /* the first sector: a footer copy, or a fixed image's data */
    P_FIXED,     /* a fixed image's data and footer */
    P_TO_HEADER, /* skipping to the dynamic header */
    P_HEADER,
    P_TO_BAT,
    P_BAT,
    P_TO_BLOCK, /* skipping to the next block's bitmap */
    P_BITMAP,
    P_DATA,
    P_DONE, /* every block read: the rest (the footer) is ignored */
};

struct stored {
    uint64_t pos; /* where the block's bitmap is stored */
    uint32_t index;
};

struct vhd_reader {
    vhd_data_fn fn;
    void *userdata;
    enum phase phase;
    uint64_t pos;    /* bytes of the stream consumed */
    uint64_t length; /* the stream's, when known; else 0 */
    struct vhd_footer footer;
    bool have_footer;
    /* What the current structure is collected into. */
    uint8_t *buf;
    size_t want, have;
    /* Dynamic images. */
    uint64_t table_offset;
    uint32_t entries, block_size, bitmap_size;
    struct stored *blocks;
    size_t n_blocks, next;
    uint64_t block_off; /* bytes of the current block's data read */
    /* Fixed images: the last sector seen, held back as the footer. */
    uint8_t tail[VHD_FOOTER_SIZE];
    size_t tail_len;
    uint64_t fixed_len; /* bytes of data given */
};

struct vhd_reader *vhd_reader_new(vhd_data_fn fn, void *userdata)
{
    struct vhd_reader *r = calloc(1, sizeof(*r));

    if (!r)
        abort();
    r->fn = fn;
    r->userdata = userdata;
    r->phase = P_FIRST;
    r->want = VHD_FOOTER_SIZE;
    r->buf = malloc(VHD_FOOTER_SIZE);
    if (!r->buf)
        abort();
    return r;
}

void vhd_reader_free(struct vhd_reader *r)
{
    if (!r)
        return;
    free(r->buf);
    free(r->blocks);
    free(r);
}

void vhd_reader_set_length(struct vhd_reader *r, uint64_t len)
{
    r->length = len;
}

bool vhd_reader_info(const struct vhd_reader *r, enum vhd_type *ret_type, uint64_t *ret_size)
{
    if (!r->have_footer)
        return false;
    *ret_type = (enum vhd_type)r->footer.disk_type;
    *ret_size = r->footer.current_size;
    return true;
}

/* Starts collecting want bytes into the buffer. */
static void collect(struct vhd_reader *r, enum phase phase, size_t want)
{
    uint8_t *b = realloc(r->buf, want ? want : 1);

    if (!b)
        abort();
    r->buf = b;
    r->want = want;
    r->have = 0;
    r->phase = phase;
}

static int cmp_stored(const void *a, const void *b)
{
    const struct stored *x = a, *y = b;

    return x->pos < y->pos ? -1 : x->pos > y->pos;
}

/* Moves on to the next block, or to the end. */
static void next_block(struct vhd_reader *r)
{
    r->phase = r->next < r->n_blocks ? P_TO_BLOCK : P_DONE;
}

static int parse_header(struct vhd_reader *r)
{
    const uint8_t *h = r->buf;
    uint32_t bs;

    if (memcmp(h, "cxsparse", 8) != 0 || get_be32(h + 36) != checksum(h, VHD_HEADER_SIZE, 36))
        return -EPROTO;
    bs = get_be32(h + 32);
    if (bs < MIN_BLOCK || bs > MAX_BLOCK || (bs & (bs - 1)))
        return -EPROTO;
    r->block_size = bs;
    r->bitmap_size = (bs / VHD_SECTOR / 8 + VHD_SECTOR - 1) / VHD_SECTOR * VHD_SECTOR;
    r->entries = get_be32(h + 28);
    r->table_offset = get_be64(h + 16);
    if ((uint64_t)r->entries * bs < r->footer.current_size)
        return -EPROTO;
    /* More entries than the size needs would only make us hold a bigger
     * table: refuse them rather than trust them. */
    if (r->entries > r->footer.current_size / bs + 1 || r->entries > MAX_ENTRIES)
        return -EFBIG;
    /* Inside the header: malformed; before it: a layout for seeking. */
    if (r->table_offset < r->pos)
        return r->table_offset + (uint64_t)r->entries * 4 <= r->footer.data_offset ? -ESPIPE
                                                                                   : -EPROTO;
    if (r->length && r->table_offset + (uint64_t)r->entries * 4 > r->length)
        return -EPIPE;
    r->phase = P_TO_BAT;
    return 0;
}

static int parse_bat(struct vhd_reader *r)
{
    uint64_t bat_end = r->table_offset + (uint64_t)r->entries * 4;

    r->blocks = calloc(r->entries ? r->entries : 1, sizeof(*r->blocks));
    if (!r->blocks)
        abort();
    for (uint32_t i = 0; i < r->entries; i++) {
        uint32_t e = get_be32(r->buf + 4 * (size_t)i);
        if (e == BAT_UNUSED)
            continue;
        /* Past the end of the disk: nothing of it can be read. */
        if ((uint64_t)i * r->block_size >= r->footer.current_size)
            continue;
        r->blocks[r->n_blocks].pos = (uint64_t)e * VHD_SECTOR;
        r->blocks[r->n_blocks].index = i;
        if (r->blocks[r->n_blocks].pos < bat_end)
            return r->blocks[r->n_blocks].pos + r->bitmap_size + r->block_size <= r->table_offset
                       ? -ESPIPE
                       : -EPROTO;
        /* A block the stream cannot hold: it ends early, which is known
         * before any data is given rather than at the end. */
        if (r->length && r->blocks[r->n_blocks].pos + r->bitmap_size + r->block_size > r->length)
            return -EPIPE;
        r->n_blocks++;
    }
    qsort(r->blocks, r->n_blocks, sizeof(*r->blocks), cmp_stored);
    for (size_t k = 1; k < r->n_blocks; k++)
        if (r->blocks[k].pos < r->blocks[k - 1].pos + r->bitmap_size + r->block_size)
            return -EPROTO;
    next_block(r);
    return 0;
}

/* Gives the sectors of len bytes of the current block's data at buf whose
 * bit is set, in runs. */
static int give_data(struct vhd_reader *r, const uint8_t *buf, size_t len)
{
    const struct stored *b = &r->blocks[r->next];
    uint64_t base = (uint64_t)b->index * r->block_size;
    size_t i = 0;

    while (i < len) {
        uint64_t in = r->block_off + i;
        uint64_t sector = in / VHD_SECTOR;
        size_t run = (size_t)(VHD_SECTOR - in % VHD_SECTOR);
        bool set = r->buf[sector / 8] & (0x80 >> (sector % 8));
        /* Extend over the following sectors with the same bit. */
        while (i + run < len) {
            uint64_t s2 = (in + run) / VHD_SECTOR;
            if ((bool)(r->buf[s2 / 8] & (0x80 >> (s2 % 8))) != set)
                break;
            run += VHD_SECTOR;
        }
        if (run > len - i)
            run = len - i;
        uint64_t off = base + in;
        if (set && off < r->footer.current_size) {
            size_t n = run;
            if (off + n > r->footer.current_size)
                n = (size_t)(r->footer.current_size - off);
            int e = r->fn(off, buf + i, n, r->userdata);
            if (e)
                return e;
        }
        i += run;
    }
    return 0;
}

/* A fixed image: everything but the last sector seen is data. */
static int feed_fixed(struct vhd_reader *r, const uint8_t *buf, size_t len)
{
    int e;

    if (r->tail_len + len <= VHD_FOOTER_SIZE) {
        memcpy(r->tail + r->tail_len, buf, len);
        r->tail_len += len;
        return 0;
    }
    /* The held tail and the start of buf go out, the last sector stays. */
    size_t total = r->tail_len + len, out = total - VHD_FOOTER_SIZE;
    size_t from_tail = out < r->tail_len ? out : r->tail_len;
    if (from_tail && (e = r->fn(r->fixed_len, r->tail, from_tail, r->userdata)))
        return e;
    r->fixed_len += from_tail;
    size_t from_buf = out - from_tail;
    if (from_buf && (e = r->fn(r->fixed_len, buf, from_buf, r->userdata)))
        return e;
    r->fixed_len += from_buf;
    memmove(r->tail, r->tail + from_tail, r->tail_len - from_tail);
    r->tail_len -= from_tail;
    memcpy(r->tail + r->tail_len, buf + from_buf, len - from_buf);
    r->tail_len += len - from_buf;
    return 0;
}

/* The target of a skipping phase. */
static uint64_t skip_target(const struct vhd_reader *r)
{
    return r->phase == P_TO_HEADER ? r->footer.data_offset
           : r->phase == P_TO_BAT  ? r->table_offset
                                   : r->blocks[r->next].pos;
}

/* A structure was collected whole. */
static int collected(struct vhd_reader *r)
{
    switch (r->phase) {
    case P_FIRST:
        if (vhd_footer_parse(r->buf, &r->footer) == 0 && r->footer.disk_type != VHD_FIXED) {
            r->have_footer = true;
            if (r->footer.data_offset < r->pos || r->footer.data_offset > VHD_MAX_SIZE)
                return -EPROTO;
            if (r->length && r->footer.data_offset + VHD_HEADER_SIZE > r->length)
                return -EPIPE;
            r->phase = P_TO_HEADER;
            return 0;
        }
        /* A fixed image: this was its data. */
        r->phase = P_FIXED;
        r->pos -= VHD_FOOTER_SIZE;
        return vhd_reader_feed(r, r->buf, VHD_FOOTER_SIZE);
    case P_HEADER:
        return parse_header(r);
    case P_BAT:
        return parse_bat(r);
    case P_BITMAP:
        r->block_off = 0;
        r->phase = P_DATA;
        return 0;
    default:
        return 0;
    }
}

/* Takes the steps that need no more bytes: a skip already at its target,
 * a structure already whole (an empty BAT). */
static int settle(struct vhd_reader *r)
{
    int e;

    for (;;) {
        switch (r->phase) {
        case P_TO_HEADER:
        case P_TO_BAT:
        case P_TO_BLOCK:
            if (r->pos != skip_target(r))
                return 0;
            if (r->phase == P_TO_HEADER)
                collect(r, P_HEADER, VHD_HEADER_SIZE);
            else if (r->phase == P_TO_BAT)
                collect(r, P_BAT, (size_t)r->entries * 4);
            else
                collect(r, P_BITMAP, r->bitmap_size);
            break;
        case P_HEADER:
        case P_BAT:
        case P_BITMAP:
            if (r->have < r->want)
                return 0;
            if ((e = collected(r)))
                return e;
            break;
        default:
            return 0;
        }
    }
}

int vhd_reader_feed(struct vhd_reader *r, const uint8_t *buf, size_t len)
{
    int e;

    while (len > 0) {
        size_t n;
        if ((e = settle(r)))
            return e;
        switch (r->phase) {
        case P_FIXED:
            r->pos += len;
            return feed_fixed(r, buf, len);
        case P_DONE:
            r->pos += len;
            return 0;
        case P_TO_HEADER:
        case P_TO_BAT:
        case P_TO_BLOCK: {
            uint64_t gap = skip_target(r) - r->pos;
            n = gap < len ? (size_t)gap : len;
            r->pos += n;
            buf += n;
            len -= n;
            continue;
        }
        case P_DATA: {
            uint64_t left = r->block_size - r->block_off;
            n = left < len ? (size_t)left : len;
            if ((e = give_data(r, buf, n)))
                return e;
            r->block_off += n;
            r->pos += n;
            buf += n;
            len -= n;
            if (r->block_off == r->block_size) {
                r->next++;
                next_block(r);
            }
            continue;
        }
        case P_FIRST:
        case P_HEADER:
        case P_BAT:
        case P_BITMAP:
            break;
        }

        /* Collecting a structure. */
        n = r->want - r->have < len ? r->want - r->have : len;
        memcpy(r->buf + r->have, buf, n);
        r->have += n;
        r->pos += n;
        buf += n;
        len -= n;
        if (r->have == r->want && (e = r->phase == P_FIRST ? collected(r) : settle(r)))
            return e;
    }
    return settle(r);
}

int vhd_reader_finish(struct vhd_reader *r)
{
    int e = settle(r);

    if (e)
        return e;
    switch (r->phase) {
    case P_DONE:
        return 0;
    case P_FIXED: {
        struct vhd_footer f;
        if (r->tail_len != VHD_FOOTER_SIZE || vhd_footer_parse(r->tail, &f) != 0 ||
            f.disk_type != VHD_FIXED || f.current_size != r->fixed_len)
            return -EPROTO;
        r->footer = f;
        r->have_footer = true;
        return 0;
    }
    case P_FIRST:
        /* Nothing or less than a sector: not even a fixed image. */
        return r->have == 0 ? -EPIPE : -EPROTO;
    default:
        return -EPIPE;
    }
}
