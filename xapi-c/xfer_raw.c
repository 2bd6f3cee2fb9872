/* GET /export_raw_vdi and PUT /import_raw_vdi: one disk's content as raw
 * bytes (export_raw_vdi.ml and import_raw_vdi.ml of XCP). vdi= names the
 * VDI by ref or uuid; format= is raw (the default) or vhd (xfer_vhd.c,
 * where base= names the VDI of a differencing export), other formats XCP
 * knows (tar, qcow2) are refused until they are done, and anything else is
 * XCP's "Unknown format" (404). An import without vdi= but with
 * sr_id= and a Content-Length makes a new VDI of that size, "Imported
 * VDI", as XCP does (of a VHD: of the image's size). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "api.h"
#include "db.h"
#include "lib/log.h"
#include "lib/util.h"
#include "out.h"
#include "xfer.h"
#include "xfer_vdi.h"
#include "xfer_vhd.h"

LOG_MODULE("xfer");

#define RAW_BLOCK (1024 * 1024)

struct raw_req {
    char vdi[64];
    char base[64]; /* "" for none */
    char sr[64];   /* the SR of a new VDI (sr_id=) */
    bool vhd;
};

/* format=: 0 for raw or vhd, else the HTTP status with the task's
 * error. */
static int check_format(struct xfer *x, struct raw_req *rq, struct api_error **ret_err)
{
    const char *f = xfer_query(x, "format");

    if (!f || strcasecmp(f, "raw") == 0)
        return 0;
    if (strcasecmp(f, "vhd") == 0) {
        rq->vhd = true;
        return 0;
    }
    if (strcasecmp(f, "tar") == 0 || strcasecmp(f, "qcow2") == 0)
        *ret_err = api_failf(INTERNAL_ERROR, "Format %s is not supported by this host yet", f);
    else
        *ret_err = api_failf(INTERNAL_ERROR, "Unknown format %s", f);
    return 404;
}

/* vdi= as a ref or uuid: 0, or 500 for an unknown one (XCP's lookup
 * raises UUID_INVALID). */
static int find_vdi(struct xfer *x, const char *arg, char out[64], struct api_error **ret_err)
{
    db_rdlock();
    const struct row *r = xfer_lookup(C_VDI, arg);
    if (r)
        snprintf(out, 64, "%s", r->ref);
    db_unlock();
    if (r)
        return 0;
    (void)x;
    *ret_err = api_fail(UUID_INVALID, "VDI", arg);
    return 500;
}

static int export_prepare(struct xfer *x, struct api_error **ret_err)
{
    const char *arg = xfer_query(x, "vdi");
    struct raw_req *rq;
    int status;

    if (!arg) {
        *ret_err = api_failf(INTERNAL_ERROR, "Missing vdi query parameter");
        return 500;
    }
    rq = xcalloc(1, sizeof(*rq));
    xfer_set_data(x, rq);
    if ((status = find_vdi(x, arg, rq->vdi, ret_err)) || (status = check_format(x, rq, ret_err)))
        return status;
    if ((arg = xfer_query(x, "base"))) {
        if (!rq->vhd) {
            *ret_err = api_failf(INTERNAL_ERROR, "Differencing exports (base=) need format=vhd");
            return 404;
        }
        return find_vdi(x, arg, rq->base, ret_err);
    }
    return 0;
}

static struct api_error *export_run(struct xfer *x)
{
    struct raw_req *rq = xfer_data(x);
    struct xfer_vdi *sv = NULL;
    int64_t size = 0;
    uint64_t sent = 0;
    char name[64];
    struct api_error *e;

    if (rq->vhd)
        return xfer_vhd_export(x, rq->vdi, *rq->base ? rq->base : NULL);
    if ((e = xfer_vdi_open(rq->vdi, false, &sv, &size)))
        return e;
    db_rdlock();
    const struct row *r = db_get(C_VDI, rq->vdi);
    snprintf(name, sizeof(name), "%s.raw", r ? r->v[FIDX(VDI, uuid)] : "disk");
    db_unlock();
    if (xfer_send_head(x, "application/octet-stream", size, name) < 0) {
        api_error_free(xfer_vdi_close(sv, true));
        return api_failf(INTERNAL_ERROR, "the client went away");
    }
    char *buf = xmalloc(RAW_BLOCK);
    for (;;) {
        ssize_t n = read(xfer_vdi_fd(sv), buf, RAW_BLOCK);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            break;
        if (xfer_cancelled(x)) {
            free(buf);
            api_error_free(xfer_vdi_close(sv, true));
            return api_fail(TASK_CANCELLED, xfer_task(x));
        }
        /* The last bytes go out once storaged has let the VDI go, so that
         * a client that has them all may destroy or change it at once. */
        bool last = sent + (uint64_t)n >= (uint64_t)size;
        if (last) {
            e = xfer_vdi_close(sv, false);
            sv = NULL;
            if (e) {
                free(buf);
                return e;
            }
        }
        if (xfer_write(x, buf, (size_t)n) < 0) {
            free(buf);
            api_error_free(xfer_vdi_close(sv, true));
            return api_failf(INTERNAL_ERROR, "the client went away");
        }
        sent += (uint64_t)n;
        xfer_progress(x, sent, (uint64_t)size);
        if (last)
            break;
    }
    free(buf);
    e = xfer_vdi_close(sv, false);
    if (!e && sent != (uint64_t)size)
        e = api_failf(INTERNAL_ERROR, "the disk %s ended early", rq->vdi);
    return e;
}

static int import_prepare(struct xfer *x, struct api_error **ret_err)
{
    const char *arg = xfer_query(x, "vdi"), *sr_arg = xfer_query(x, "sr_id");
    struct raw_req *rq = xcalloc(1, sizeof(*rq));
    int status;

    xfer_set_data(x, rq);
    if ((status = check_format(x, rq, ret_err)))
        return status;
    if (xfer_chunked(x)) {
        *ret_err = api_failf(INTERNAL_ERROR, "Cannot handle encoding: chunked");
        return 404;
    }
    if (arg)
        return find_vdi(x, arg, rq->vdi, ret_err);
    if (!sr_arg && !(sr_arg = xfer_query(x, "sr_uuid"))) {
        *ret_err = api_fail(VDI_MISSING);
        return 400;
    }
    if (xfer_content_length(x) < 0) {
        *ret_err = api_failf(INTERNAL_ERROR, "Not enough info supplied to import");
        return 400;
    }
    db_rdlock();
    const struct row *s = xfer_lookup(C_SR, sr_arg);
    if (s)
        snprintf(rq->sr, sizeof(rq->sr), "%s", s->ref);
    db_unlock();
    if (!*rq->sr) {
        *ret_err = api_fail(HANDLE_INVALID, "SR", sr_arg);
        return 500;
    }
    /* A VHD's disk size is in the image: its VDI is made once the first
     * sector has come (xfer_vhd.c). */
    if (rq->vhd)
        return 0;
    /* A new VDI the size of the upload, as XCP makes it. */
    if ((*ret_err = xfer_vdi_new_imported(rq->sr, xfer_content_length(x), rq->vdi)))
        return 500;
    return 0;
}

static struct api_error *import_run(struct xfer *x)
{
    struct raw_req *rq = xfer_data(x);
    struct xfer_vdi *sv = NULL;
    int64_t size = 0;
    uint64_t got = 0;
    struct api_error *e;

    if (rq->vhd)
        return xfer_vhd_import(x, *rq->vdi ? rq->vdi : NULL, rq->sr);
    if ((e = xfer_vdi_open(rq->vdi, true, &sv, &size)))
        return e;
    char *buf = xmalloc(RAW_BLOCK);
    for (;;) {
        ssize_t n = xfer_read(x, buf, RAW_BLOCK);
        if (n < 0) {
            free(buf);
            api_error_free(xfer_vdi_close(sv, true));
            return api_fail(IMPORT_ERROR_PREMATURE_EOF);
        }
        if (n == 0)
            break;
        if (xfer_cancelled(x)) {
            free(buf);
            api_error_free(xfer_vdi_close(sv, true));
            return api_fail(TASK_CANCELLED, xfer_task(x));
        }
        if ((uint64_t)n > (uint64_t)size - got) {
            free(buf);
            api_error_free(xfer_vdi_close(sv, true));
            char limit[32];
            snprintf(limit, sizeof(limit), "%lld", (long long)size);
            return api_fail(VDI_TOO_SMALL, rq->vdi, limit);
        }
        if (xfer_fd_write_all(xfer_vdi_fd(sv), buf, (size_t)n) < 0) {
            free(buf);
            /* storaged's answer says why it stopped reading. */
            e = xfer_vdi_close(sv, true);
            return e ? e : api_failf(INTERNAL_ERROR, "the disk %s stopped taking data", rq->vdi);
        }
        got += (uint64_t)n;
        xfer_progress(x, got, (uint64_t)size);
    }
    free(buf);
    if ((e = xfer_vdi_close(sv, false)))
        return e;
    struct out o;
    out_init(&o, WIRE_XML);
    out_string(&o, rq->vdi);
    size_t len;
    xfer_set_result(x, out_value(&o, &len));
    out_done(&o);
    return NULL;
}

const struct xfer_route xfer_export_raw_vdi = {
    .method = "GET",
    .path = "/export_raw_vdi",
    .realm = "VDI.export_raw",
    .label = "VDI.export_raw_vdi",
    .prepare = export_prepare,
    .run = export_run,
    .free_data = free,
};

const struct xfer_route xfer_import_raw_vdi = {
    .method = "PUT",
    .path = "/import_raw_vdi",
    .realm = "VDI.import",
    .label = "VDI.import",
    .prepare = import_prepare,
    .run = import_run,
    .free_data = free,
};
