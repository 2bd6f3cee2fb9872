/* format=vhd on GET /export_raw_vdi and PUT /import_raw_vdi, as XCP's
 * vhd-tool serves them. An export asks storaged which 2 MiB blocks hold
 * data (vdi_map: all of them with data, or with base= those where the VDI
 * may differ from the base), sends a dynamic VHD's footer copy, header and
 * BAT for exactly those blocks, then reads the disk's stream from storaged
 * and sends the listed blocks, each behind its sector bitmap, and the
 * footer: the length is known before the first byte. An import parses a
 * dynamic, differencing or fixed VHD as it arrives (lib/vhd.h) and writes
 * what it holds at its offsets through NBD, on a connection to qemu-nbd
 * that storaged hands over (vdi_import_nbd): the blocks may be stored in
 * any order, and nothing but the current write (2 MiB at most) and the
 * BAT is held in memory. Raw imports keep storaged's ordered stream
 * (xfer_raw.c), which is faster for data that comes in order. */
#include "xfer_vhd.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <libnbd.h>

#include "api.h"
#include "db.h"
#include "lib/log.h"
#include "lib/util.h"
#include "lib/vhd.h"
#include "out.h"
#include "storage.h"
#include "xfer.h"
#include "xfer_vdi.h"

LOG_MODULE("xfer");

/* vdi_map may read the metadata of a long chain. */
#define MAP_TIMEOUT 600.0
/* Seconds from the Unix epoch to VHD's (2000-01-01 UTC). */
#define VHD_EPOCH 946684800

/* Reads exactly len bytes from a blocking descriptor: 0, or -EPIPE when it
 * ends first, or a negative errno. */
static int fd_read_full(int fd, void *buf, size_t len)
{
    size_t got = 0;

    while (got < len) {
        ssize_t n = read(fd, (char *)buf + got, len - got);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return -errno;
        if (n == 0)
            return -EPIPE;
        got += (size_t)n;
    }
    return 0;
}

/* The blocks vdi_map lists, in increasing order. */
static struct api_error *vhd_blocks(const char *vdi_ref, const char *base_ref, uint32_t **ret,
                                    size_t *ret_n)
{
    json_object *params, *res = NULL, *runs, *v;
    struct api_error *e;

    db_rdlock();
    const struct row *r = db_get(C_VDI, vdi_ref);
    char sr[64] = "";
    if (r)
        snprintf(sr, sizeof(sr), "%s", r->v[FIDX(VDI, SR)]);
    const struct row *b = base_ref ? db_get(C_VDI, base_ref) : NULL;
    char base_uuid[64] = "", base_sr[64] = "";
    if (b) {
        snprintf(base_uuid, sizeof(base_uuid), "%s", b->v[FIDX(VDI, uuid)]);
        snprintf(base_sr, sizeof(base_sr), "%s", b->v[FIDX(VDI, SR)]);
    }
    db_unlock();
    if (!r)
        return api_fail(HANDLE_INVALID, "VDI", vdi_ref);
    if (base_ref && !b)
        return api_fail(HANDLE_INVALID, "VDI", base_ref);
    if (base_ref && strcmp(base_sr, sr) != 0)
        return api_failf(INTERNAL_ERROR,
                         "The base VDI %s is not in the SR of VDI %s: no difference can be made",
                         base_ref, vdi_ref);
    params = storage_params(sr, vdi_ref);
    if (base_ref)
        json_object_object_add(params, "base_uuid", json_object_new_string(base_uuid));
    json_object_object_add(params, "block_size", json_object_new_int64(VHD_BLOCK));
    e = storage_call("vdi_map", params, MAP_TIMEOUT, &res);
    json_object_put(params);
    if (e)
        return e;
    uint32_t *blocks = NULL;
    size_t n = 0, alloc = 0;
    if (json_object_object_get_ex(res, "blocks", &runs) &&
        json_object_is_type(runs, json_type_array)) {
        for (size_t i = 0; i < json_object_array_length(runs); i++) {
            v = json_object_array_get_idx(runs, i);
            int64_t first = json_object_get_int64(json_object_array_get_idx(v, 0));
            int64_t count = json_object_get_int64(json_object_array_get_idx(v, 1));
            for (int64_t k = 0; k < count && first >= 0 && first + k <= UINT32_MAX; k++) {
                if (n == alloc) {
                    alloc = alloc ? 2 * alloc : 256;
                    blocks = xrealloc(blocks, alloc * sizeof(*blocks));
                }
                blocks[n++] = (uint32_t)(first + k);
            }
        }
    }
    json_object_put(res);
    *ret = blocks;
    *ret_n = n;
    return NULL;
}

struct api_error *xfer_vhd_export(struct xfer *x, const char *vdi_ref, const char *base_ref)
{
    struct xfer_vdi *sv = NULL;
    uint32_t *blocks = NULL;
    size_t n = 0, len = 0;
    int64_t size = 0;
    uint8_t uuid[16];
    char name[64];
    struct api_error *e = vhd_blocks(vdi_ref, base_ref, &blocks, &n);

    if (e)
        return e;
    db_rdlock();
    const struct row *r = db_get(C_VDI, vdi_ref);
    snprintf(name, sizeof(name), "%s.vhd", r ? r->v[FIDX(VDI, uuid)] : "disk");
    size = r ? strtoll(r->v[FIDX(VDI, virtual_size)], NULL, 10) : 0;
    db_unlock();
    if (size > (int64_t)VHD_MAX_SIZE) {
        free(blocks);
        return api_failf(INTERNAL_ERROR, "VDI %s is larger than a VHD can describe (2040 GiB)",
                         vdi_ref);
    }
    /* The image's uuid is the VDI's, as vhd-tool writes it. */
    memset(uuid, 0, sizeof(uuid));
    for (size_t i = 0, j = 0; name[i] && name[i] != '.' && j < 32; i++) {
        int d = name[i] >= '0' && name[i] <= '9'   ? name[i] - '0'
                : name[i] >= 'a' && name[i] <= 'f' ? name[i] - 'a' + 10
                                                   : -1;
        if (d < 0)
            continue;
        uuid[j / 2] |= (uint8_t)(j % 2 ? d : d << 4);
        j++;
    }
    uint32_t stamp = (uint32_t)(time(NULL) - VHD_EPOCH);
    uint8_t *pre = vhd_dynamic_prelude((uint64_t)size, blocks, n, uuid, stamp, &len);
    if (!pre) {
        free(blocks);
        return api_failf(INTERNAL_ERROR, "storaged listed blocks beyond the end of VDI %s",
                         vdi_ref);
    }
    if ((e = xfer_vdi_open(vdi_ref, false, &sv, &size))) {
        free(pre);
        free(blocks);
        return e;
    }
    uint64_t total = vhd_dynamic_length((uint64_t)size, n), sent = 0;
    uint8_t *buf = xmalloc(VHD_SECTOR + VHD_BLOCK), footer[VHD_FOOTER_SIZE];
    const char *why = NULL;
    if (xfer_send_head(x, "application/vhd", (int64_t)total, name) < 0 ||
        xfer_write(x, pre, len) < 0) {
        why = "the client went away";
        goto out;
    }
    sent = len;
    vhd_block_bitmap(buf);
    size_t k = 0;
    for (uint32_t b = 0; b < vhd_block_count((uint64_t)size) && k < n; b++) {
        uint64_t off = (uint64_t)b * VHD_BLOCK;
        size_t l = (uint64_t)size - off < VHD_BLOCK ? (size_t)((uint64_t)size - off) : VHD_BLOCK;
        /* Blocks not listed are read and dropped: the stream is in order. */
        int rr = fd_read_full(xfer_vdi_fd(sv), buf + VHD_SECTOR, l);
        if (rr < 0) {
            why = "the disk's stream ended early";
            goto out;
        }
        if (xfer_cancelled(x)) {
            free(buf);
            free(pre);
            free(blocks);
            api_error_free(xfer_vdi_close(sv, true));
            return api_fail(TASK_CANCELLED, xfer_task(x));
        }
        if (blocks[k] != b)
            continue;
        k++;
        memset(buf + VHD_SECTOR + l, 0, VHD_BLOCK - l);
        if (xfer_write(x, buf, VHD_SECTOR + VHD_BLOCK) < 0) {
            why = "the client went away";
            goto out;
        }
        sent += VHD_SECTOR + VHD_BLOCK;
        xfer_progress(x, sent, total);
    }
out:
    free(buf);
    free(pre);
    free(blocks);
    /* The rest of the disk's stream is not needed: cut it short, and wait
     * until storaged has let the VDI go before the last bytes, so that a
     * client that got them all may use the VDI at once. */
    api_error_free(xfer_vdi_close(sv, true));
    if (!why) {
        vhd_footer_make(footer, VHD_DYNAMIC, (uint64_t)size, uuid, stamp);
        if (xfer_write(x, footer, sizeof(footer)) < 0)
            why = "the client went away";
    }
    if (why)
        return api_failf(INTERNAL_ERROR, "VHD export of VDI %s: %s", vdi_ref, why);
    return NULL;
}

/* The import's writer: each piece of data at its offset on the disk,
 * through NBD, runs that follow one another gathered into one write of up
 * to WRITE_MAX bytes. IN_FLIGHT writes may be under way at once, so that
 * reading the upload and writing the disk overlap: that is all the memory
 * an import holds besides the BAT. */
#define WRITE_MAX (2 * 1024 * 1024)
#define IN_FLIGHT 4

struct sink;

struct slot {
    struct sink *sink;
    uint8_t *buf;
    bool busy; /* its write is under way */
};

struct sink {
    struct vhd_reader *reader;
    struct nbd_handle *nbd;
    struct slot slots[IN_FLIGHT];
    unsigned cur;     /* the slot being filled */
    uint64_t buf_off; /* where its data goes */
    size_t buf_len;
    uint64_t size; /* the VDI's */
    bool too_small;
    int write_errno; /* the first failed write's */
    char *nbd_error; /* why writing failed */
};

static int write_done(void *user_data, int *error)
{
    struct slot *sl = user_data;

    sl->busy = false;
    if (*error && !sl->sink->write_errno)
        sl->sink->write_errno = *error;
    return 1;
}

/* Notes the first failure; returns it as a negative errno. */
static int sink_failed(struct sink *s, int err, const char *what)
{
    if (!s->nbd_error) {
        if (what)
            s->nbd_error = xstrdup(what);
        else
            s->nbd_error = xstrdup(strerror(err));
    }
    return -err;
}

/* Lets libnbd send and receive what it can without waiting. */
static int sink_pump(struct sink *s)
{
    int r;

    while ((r = nbd_poll(s->nbd, 0)) > 0)
        ;
    if (r < 0)
        return sink_failed(s, EIO, nbd_get_error());
    if (s->write_errno)
        return sink_failed(s, s->write_errno, NULL);
    return 0;
}

/* Starts writing the slot being filled and moves on to a free one,
 * waiting for one if all are busy. */
static int sink_send(struct sink *s)
{
    struct slot *sl = &s->slots[s->cur];

    if (s->buf_len) {
        sl->busy = true;
        nbd_completion_callback cb = {.callback = write_done, .user_data = sl};
        if (nbd_aio_pwrite(s->nbd, sl->buf, s->buf_len, s->buf_off, cb, 0) < 0) {
            sl->busy = false;
            return sink_failed(s, EIO, nbd_get_error());
        }
        s->buf_len = 0;
        s->cur = (s->cur + 1) % IN_FLIGHT;
    }
    while (s->slots[s->cur].busy && !s->write_errno)
        if (nbd_poll(s->nbd, -1) < 0)
            return sink_failed(s, EIO, nbd_get_error());
    return s->write_errno ? sink_failed(s, s->write_errno, NULL) : 0;
}

/* Waits until every write started has ended. */
static int sink_drain(struct sink *s)
{
    int r = sink_send(s);

    while (nbd_aio_in_flight(s->nbd) > 0)
        if (nbd_poll(s->nbd, -1) < 0)
            return sink_failed(s, EIO, nbd_get_error());
    return r ? r : s->write_errno ? sink_failed(s, s->write_errno, NULL) : 0;
}

static int sink_data(uint64_t off, const uint8_t *data, size_t len, void *userdata)
{
    struct sink *s = userdata;
    enum vhd_type t;
    uint64_t vsize;
    int r;

    /* The image's size is known from its first sector (a dynamic or
     * differencing image's): a bigger one is refused before anything is
     * written, where XCP fails on the first write past the end. */
    if ((vhd_reader_info(s->reader, &t, &vsize) && vsize > s->size) || off + len > s->size) {
        s->too_small = true;
        return -EFBIG;
    }
    while (len > 0) {
        if (s->buf_len && (off != s->buf_off + s->buf_len || s->buf_len == WRITE_MAX) &&
            (r = sink_send(s)) < 0)
            return r;
        if (!s->buf_len)
            s->buf_off = off;
        size_t n = WRITE_MAX - s->buf_len < len ? WRITE_MAX - s->buf_len : len;
        memcpy(s->slots[s->cur].buf + s->buf_len, data, n);
        s->buf_len += n;
        off += n;
        data += n;
        len -= n;
    }
    return 0;
}

/* The task's error for a parse that stopped with r. */
static struct api_error *import_error(const char *vdi_ref, const struct sink *s, int r)
{
    char limit[32];

    if (s->too_small) {
        snprintf(limit, sizeof(limit), "%lld", (long long)s->size);
        return api_fail(VDI_TOO_SMALL, vdi_ref, limit);
    }
    if (s->nbd_error)
        return api_failf(INTERNAL_ERROR, "Writing VDI %s failed: %s", vdi_ref, s->nbd_error);
    if (r == -EPIPE)
        return api_fail(IMPORT_ERROR_PREMATURE_EOF);
    if (r == -ESPIPE)
        return api_failf(INTERNAL_ERROR,
                         "The VHD stores its BAT or a block before the structure that points to "
                         "it: it cannot be imported as a stream");
    if (r == -EPROTO || r == -EFBIG)
        return api_failf(INTERNAL_ERROR, "The VHD stream is malformed");
    return NULL;
}

/* Connects libnbd to the socket fd (taken) and opens the disk. */
static struct nbd_handle *nbd_open_fd(int fd, char **ret_error)
{
    struct nbd_handle *nbd = nbd_create();

    if (!nbd) {
        close(fd);
        *ret_error = xstrdup(nbd_get_error() ? nbd_get_error() : "libnbd failed");
        return NULL;
    }
    if (nbd_connect_socket(nbd, fd) < 0) {
        *ret_error = xstrdup(nbd_get_error() ? nbd_get_error() : "NBD handshake failed");
        nbd_close(nbd);
        return NULL;
    }
    return nbd;
}

/* The new VDI of an upload without vdi=: the image's size from its first
 * sector (first, VHD_FOOTER_SIZE bytes read). */
static struct api_error *new_vdi(struct xfer *x, const char *sr_ref, const uint8_t *first,
                                 char ret_ref[64])
{
    struct vhd_footer f;
    int64_t len = xfer_content_length(x);

    /* A differencing image's holes are a parent's data that a new VDI does
     * not have: it is refused, as XCP refuses any VHD without vdi=. */
    if (vhd_footer_parse(first, &f) == 0 && f.disk_type == VHD_DYNAMIC)
        return xfer_vdi_new_imported(sr_ref, (int64_t)f.current_size, ret_ref);
    if (vhd_footer_parse(first, &f) == 0 && f.disk_type == VHD_DIFFERENCING)
        return api_failf(INTERNAL_ERROR, "Importing a differencing VHD needs the VDI it applies "
                                         "to (vdi=)");
    /* A fixed image: its data, then its footer. */
    if (len < VHD_FOOTER_SIZE || (len - VHD_FOOTER_SIZE) % VHD_SECTOR)
        return api_failf(INTERNAL_ERROR, "The VHD stream is malformed");
    return xfer_vdi_new_imported(sr_ref, len - VHD_FOOTER_SIZE, ret_ref);
}

struct api_error *xfer_vhd_import(struct xfer *x, const char *vdi_ref, const char *sr_ref)
{
    struct xfer_vdi *sv = NULL;
    int64_t size = 0;
    uint64_t got = 0;
    uint8_t first[VHD_FOOTER_SIZE];
    char made[64];
    struct api_error *e;
    struct sink s = {0};
    int r = 0, fd = -1;
    char *why = NULL;

    if (!vdi_ref) {
        if (xfer_read_full(x, first, sizeof(first)) < 0)
            return api_fail(IMPORT_ERROR_PREMATURE_EOF);
        if ((e = new_vdi(x, sr_ref, first, made)))
            return e;
        vdi_ref = made;
        got = sizeof(first);
    }
    if ((e = xfer_vdi_open_nbd(vdi_ref, &sv, &fd, &size)))
        return e;
    if (!(s.nbd = nbd_open_fd(fd, &why))) {
        e = xfer_vdi_close(sv, true);
        if (!e)
            e = api_failf(INTERNAL_ERROR, "Opening VDI %s failed: %s", vdi_ref, why);
        free(why);
        return e;
    }
    s.size = (uint64_t)size;
    for (int i = 0; i < IN_FLIGHT; i++)
        s.slots[i] = (struct slot){.sink = &s, .buf = xmalloc(WRITE_MAX)};
    s.reader = vhd_reader_new(sink_data, &s);
    int64_t expect = xfer_content_length(x);
    if (expect > 0)
        vhd_reader_set_length(s.reader, (uint64_t)expect);
    if (got)
        r = vhd_reader_feed(s.reader, first, sizeof(first));
    uint8_t *buf = xmalloc(1024 * 1024);
    bool cancelled = false;
    while (r == 0) {
        ssize_t n = xfer_read(x, buf, 1024 * 1024);
        if (n < 0) {
            r = -EPIPE;
            break;
        }
        if (n == 0)
            break;
        if (xfer_cancelled(x)) {
            cancelled = true;
            r = -ECANCELED;
            break;
        }
        if ((r = vhd_reader_feed(s.reader, buf, (size_t)n)) < 0 || (r = sink_pump(&s)) < 0)
            break;
        got += (uint64_t)n;
        if (expect > 0)
            xfer_progress(x, got, (uint64_t)expect);
    }
    free(buf);
    if (r == 0)
        r = vhd_reader_finish(s.reader);
    enum vhd_type t = VHD_DYNAMIC;
    uint64_t vsize = 0;
    /* A fixed image's size is known at its end. */
    if (r == 0 && vhd_reader_info(s.reader, &t, &vsize) && vsize > s.size) {
        s.too_small = true;
        r = -EFBIG;
    }
    if (r == 0)
        r = sink_drain(&s);
    if (r == 0 && nbd_flush(s.nbd, 0) < 0)
        r = sink_failed(&s, EIO, nbd_get_error());
    if (r == 0)
        nbd_shutdown(s.nbd, 0);
    /* Closing the connection ends qemu-nbd, and so storaged's call;
     * writes still under way are dropped with it. */
    nbd_close(s.nbd);
    vhd_reader_free(s.reader);
    for (int i = 0; i < IN_FLIGHT; i++)
        free(s.slots[i].buf);
    if (r < 0) {
        e = cancelled ? api_fail(TASK_CANCELLED, xfer_task(x)) : import_error(vdi_ref, &s, r);
        free(s.nbd_error);
        struct api_error *se = xfer_vdi_close(sv, true);
        if (e) {
            api_error_free(se);
            return e;
        }
        return se ? se : api_failf(INTERNAL_ERROR, "the disk %s stopped taking data", vdi_ref);
    }
    if ((e = xfer_vdi_close(sv, false)))
        return e;
    struct out o;
    out_init(&o, WIRE_XML);
    out_string(&o, vdi_ref);
    size_t len;
    xfer_set_result(x, out_value(&o, &len));
    out_done(&o);
    return NULL;
}
