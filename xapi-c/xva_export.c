/* GET /export?uuid=|ref=: a halted (or suspended) VM as an XVA (xva.h),
 * as XCP's export.ml writes it: ova.xml with the VM, its metrics, VBDs,
 * VIFs, their networks, the VDIs of its disks and their SRs, every
 * reference between them turned into the export's "Ref:<n>" ids and every
 * other one into OpaqueRef:NULL (sets keep only exported members); then
 * each disk that is not a CD nor in an ISO library, read through storaged,
 * in 1 MiB chunks with SHA-1 checksums, chunks of zeros left out. With
 * use_compression=true|gzip|zstd the whole archive goes through gzip or
 * zstd (xva_codec.h), as XCP's export handler pipes it; any other value
 * means none, as there.
 *
 * GET /export_metadata?uuid=|ref=: the same archive with ova.xml alone, of
 * a VM in any power state, which it keeps (XCP's metadata_handler with
 * preserve_power_state); with export_snapshots (true unless "false") the
 * VM's snapshots come too, with their objects and snapshot fields. Sent
 * with its length, as XCP builds it whole first. */
#include <errno.h>
#include <openssl/sha.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include "api.h"
#include "config.h"
#include "db.h"
#include "lib/log.h"
#include "lib/strlist.h"
#include "lib/util.h"
#include "marshal.h"
#include "out.h"
#include "vmops.h"
#include "xfer.h"
#include "xfer_vdi.h"
#include "xva.h"
#include "xva_codec.h"

LOG_MODULE("xva");

/* XCP writes an empty chunk when it skipped zeros this long, so that
 * firewalls do not cut an idle connection. */
#define KEEPALIVE_SECONDS 5

/* A disk to stream: its VDI and export id. */
struct disk {
    char vdi[64];
    char id[32];
    int64_t size;
};

/* The exported objects: internal ref to export id. */
struct ids {
    char (*ref)[64];
    int *cls;
    size_t n;
};

struct export_req {
    bool metadata;  /* /export_metadata */
    bool snapshots; /* with the VM's snapshots and the snapshot fields */
    char vm[64];
    /* The task under which the VM's current_operations holds the export
     * ("" until then). */
    char task[64];
    struct ids ids;
    enum xva_codec codec;
    /* The disks to stream, sorted by id. */
    struct disk *disks;
    size_t n_disks;
};

static const char *id_of(const struct ids *t, const char *ref, char out[32])
{
    for (size_t i = 0; i < t->n; i++)
        if (streq(t->ref[i], ref)) {
            snprintf(out, 32, "Ref:%zu", i);
            return out;
        }
    return NULL;
}

static void add_id(struct ids *t, int cls, const char *ref)
{
    char tmp[32];
    if (!ref || !*ref || streq(ref, "OpaqueRef:NULL") || id_of(t, ref, tmp) || !db_get(cls, ref))
        return;
    t->ref = xrealloc(t->ref, (t->n + 1) * sizeof(*t->ref));
    t->cls = xrealloc(t->cls, (t->n + 1) * sizeof(*t->cls));
    snprintf(t->ref[t->n], 64, "%s", ref);
    t->cls[t->n++] = cls;
}

static void release(struct export_req *rq);

static void export_free(void *p)
{
    struct export_req *rq = p;
    if (!rq)
        return;
    release(rq);
    free(rq->ids.ref);
    free(rq->ids.cls);
    free(rq->disks);
    free(rq);
}

/* The objects of a VM's export, as update_table walks them (db lock held). */
static void collect(struct export_req *rq, const struct row *vm);
static void collect(struct export_req *rq, const struct row *vm)
{
    struct strbuf scratch;
    struct strlist_iter it;
    const char *ref;

    strbuf_init(&scratch, 0);
    add_id(&rq->ids, C_VM, vm->ref);
    strlist_iter_init(&it, db_value(vm, FIDX(VM, VIFs), &scratch));
    while (strlist_iter_next(&it, NULL, &ref)) {
        const struct row *vif = db_get(C_VIF, ref);
        if (!vif)
            continue;
        add_id(&rq->ids, C_VIF, ref);
        add_id(&rq->ids, C_network, vif->v[FIDX(VIF, network)]);
    }
    strlist_iter_done(&it);
    strlist_iter_init(&it, db_value(vm, FIDX(VM, VBDs), &scratch));
    while (strlist_iter_next(&it, NULL, &ref)) {
        const struct row *vbd = db_get(C_VBD, ref);
        if (!vbd)
            continue;
        add_id(&rq->ids, C_VBD, ref);
        const struct row *vdi = db_get(C_VDI, vbd->v[FIDX(VBD, VDI)]);
        if (streq(vbd->v[FIDX(VBD, empty)], "true") || !vdi)
            continue;
        add_id(&rq->ids, C_VDI, vdi->ref);
        add_id(&rq->ids, C_SR, vdi->v[FIDX(VDI, SR)]);
        const struct row *sr = db_get(C_SR, vdi->v[FIDX(VDI, SR)]);
        if (streq(vbd->v[FIDX(VBD, type)], "CD") ||
            (sr && streq(sr->v[FIDX(SR, content_type)], "iso")))
            continue;
        rq->disks = xrealloc(rq->disks, (rq->n_disks + 1) * sizeof(*rq->disks));
        snprintf(rq->disks[rq->n_disks].vdi, 64, "%s", vdi->ref);
        id_of(&rq->ids, vdi->ref, rq->disks[rq->n_disks].id);
        rq->disks[rq->n_disks].size = strtoll(vdi->v[FIDX(VDI, virtual_size)], NULL, 10);
        rq->n_disks++;
    }
    strlist_iter_done(&it);
    add_id(&rq->ids, C_VM_metrics, vm->v[FIDX(VM, metrics)]);
    if (rq->snapshots && !streq(vm->v[FIDX(VM, is_a_snapshot)], "true")) {
        strlist_iter_init(&it, db_value(vm, FIDX(VM, snapshots), &scratch));
        while (strlist_iter_next(&it, NULL, &ref)) {
            const struct row *snap = db_get(C_VM, ref);
            if (snap)
                collect(rq, snap);
        }
        strlist_iter_done(&it);
    }
    strbuf_done(&scratch);
}

static int disk_order(const void *a, const void *b)
{
    return strcmp(((const struct disk *)a)->id, ((const struct disk *)b)->id);
}

/* A boolean query parameter as XCP's bool_of_string reads it: 1 true, 0
 * false, -1 anything else. */
static int query_bool(struct xfer *x, const char *name, int absent)
{
    const char *v = xfer_query(x, name);

    if (!v)
        return absent;
    return streq(v, "true") ? 1 : streq(v, "false") ? 0 : -1;
}

static int prepare(struct xfer *x, struct export_req *rq, struct api_error **ret_err);

static int export_prepare(struct xfer *x, struct api_error **ret_err)
{
    struct export_req *rq = xcalloc(1, sizeof(*rq));

    xfer_set_data(x, rq);
    return prepare(x, rq, ret_err);
}

static int metadata_prepare(struct xfer *x, struct api_error **ret_err)
{
    struct export_req *rq = xcalloc(1, sizeof(*rq));
    int snaps = query_bool(x, "export_snapshots", 1);

    xfer_set_data(x, rq);
    rq->metadata = true;
    if (snaps < 0 || query_bool(x, "include_vhd_parents", 0) < 0) {
        *ret_err = api_failf(INTERNAL_ERROR, "Invalid_argument(\"bool_of_string\")");
        return 500;
    }
    if (query_bool(x, "all", 0) != 0) {
        *ret_err = api_failf(INTERNAL_ERROR, "Exporting the metadata of all VMs (all=true) is "
                                             "not supported by this host");
        return 500;
    }
    /* include_vhd_parents adds the VDIs that sm-config's vhd-parent names:
     * this host's qcow2 chains keep their bases out of the database, so
     * there are none to add. */
    rq->snapshots = snaps == 1;
    return prepare(x, rq, ret_err);
}

static int prepare(struct xfer *x, struct export_req *rq, struct api_error **ret_err)
{
    const char *arg = xfer_query(x, "ref");
    const char *comp = xfer_query(x, "use_compression");

    if (!arg)
        arg = xfer_query(x, "uuid");
    if (!arg) {
        *ret_err = api_failf(INTERNAL_ERROR, "Missing uuid or ref query parameter");
        return 500;
    }
    /* XCP's metadata handler never compresses: it ignores the parameter. */
    if (!rq->metadata)
        rq->codec = xva_codec_of_string(comp);
    if (!rq->metadata && xfer_query(x, "export_snapshots") &&
        streq(xfer_query(x, "export_snapshots"), "true")) {
        *ret_err = api_failf(INTERNAL_ERROR, "Exports with snapshots are not supported yet");
        return 500;
    }
    db_rdlock();
    const struct row *vm = xfer_lookup(C_VM, arg);
    if (!vm) {
        db_unlock();
        *ret_err = api_fail(UUID_INVALID, "VM", arg);
        return 500;
    }
    const char *ps = vm->v[FIDX(VM, power_state)];
    if (!rq->metadata && !streq(ps, "Halted") && !streq(ps, "Suspended")) {
        char actual[32];
        snprintf(actual, sizeof(actual), "%s", ps);
        for (char *p = actual; *p; p++)
            *p = (char)(*p >= 'A' && *p <= 'Z' ? *p + 32 : *p);
        *ret_err = api_fail(VM_BAD_POWER_STATE, vm->ref, "halted", actual);
        db_unlock();
        return 500;
    }
    snprintf(rq->vm, sizeof(rq->vm), "%s", vm->ref);
    collect(rq, vm);
    db_unlock();
    qsort(rq->disks, rq->n_disks, sizeof(*rq->disks), disk_order);
    /* The VM shows the export in current_operations while it runs, and
     * nothing else may start on it meanwhile (XCP's with_vm_locked). */
    if ((*ret_err = vmops_begin(rq->vm, rq->metadata ? "metadata_export" : "export", xfer_task(x))))
        return 500;
    snprintf(rq->task, sizeof(rq->task), "%s", xfer_task(x));
    return 0;
}

/* The canonical text of value s of type t with references turned into
 * export ids (new string). */
static char *externalise(const struct ids *ids, const struct type *t, const char *s)
{
    char id[32];

    if (t->kind == T_REF)
        return xstrdup(id_of(ids, s, id) ? id : "OpaqueRef:NULL");
    if (t->kind == T_SET && t->elem->kind == T_REF) {
        struct strbuf sb;
        struct strlist_iter it;
        const char *v;
        strbuf_init(&sb, 64);
        strbuf_addc(&sb, '[');
        strlist_iter_init(&it, s);
        while (strlist_iter_next(&it, NULL, &v)) {
            if (!id_of(ids, v, id))
                continue;
            if (sb.len > 1)
                strbuf_addc(&sb, ',');
            strlist_add_quoted(&sb, id, strlen(id));
        }
        strlist_iter_done(&it);
        strbuf_addc(&sb, ']');
        return strbuf_detach(&sb, NULL);
    }
    if (t->kind == T_MAP && (t->key->kind == T_REF || t->elem->kind == T_REF))
        return xstrdup("{}");
    return xstrdup(s);
}

/* What an export never carries: runtime state (export.ml's make_*). */
static const char *reset_value(const struct export_req *rq, int cls, int f)
{
    if (cls == C_VM) {
        if (f == FIDX(VM, power_state) && !rq->metadata)
            return "Halted";
        if (f == FIDX(VM, is_a_snapshot) && !rq->snapshots)
            return "false";
        if (f == FIDX(VM, snapshot_time) && !rq->snapshots)
            return "19700101T00:00:00Z";
        if (f == FIDX(VM, transportable_snapshot_id))
            return "";
        if (f == FIDX(VM, domid))
            return "-1";
    }
    if (cls == C_VBD && f == FIDX(VBD, currently_attached))
        return "false";
    if (cls == C_VIF && f == FIDX(VIF, currently_attached))
        return "false";
    const struct field_desc *fd = &model_classes[cls].fields[f];
    if (streq(fd->name, "current_operations"))
        return "{}";
    if (streq(fd->name, "allowed_operations"))
        return "[]";
    return NULL;
}

static void write_record(struct out *o, const struct export_req *rq, const struct row *r)
{
    const struct class_desc *cd = &model_classes[r->cls];
    struct strbuf scratch;

    strbuf_init(&scratch, 0);
    out_struct_begin(o);
    for (int i = 0; i < cd->n_fields; i++) {
        const struct field_desc *f = &cd->fields[i];
        if (f->state == S_REMOVED)
            continue;
        const char *reset = reset_value(rq, r->cls, i);
        char *v = externalise(&rq->ids, f->type, reset ? reset : db_value(r, i, &scratch));
        out_member_spelled(o, f->xml_member, f->xml_member_len, f->json_member, f->json_member_len);
        marshal_to_wire(o, f->type, v);
        free(v);
    }
    out_struct_end(o);
    strbuf_done(&scratch);
}

/* ova.xml (db lock taken here). */
static char *ova_xml(const struct export_req *rq, size_t *ret_len)
{
    struct out o;
    char date[DATETIME_LEN];
    static const int order[] = {C_VM, C_VM_metrics, C_VBD, C_VIF, C_network, C_VDI, C_SR};

    out_init(&o, WIRE_XML);
    datetime_format(time(NULL), date);
    db_rdlock();
    const struct row *h = db_get(C_host, xapi_state.host_ref);
    const char *sv = h ? h->v[FIDX(host, software_version)] : "{}";
    char *pv = strmap_get(sv, "product_version"), *pb = strmap_get(sv, "product_brand");
    char *bn = strmap_get(sv, "build_number");
    out_struct_begin(&o);
    out_member(&o, "version");
    out_struct_begin(&o);
    out_member(&o, "hostname");
    out_string(&o, h ? h->v[FIDX(host, hostname)] : "");
    out_member(&o, "date");
    out_string(&o, date);
    out_member(&o, "product_version");
    out_string(&o, pv ? pv : "");
    out_member(&o, "product_brand");
    out_string(&o, pb ? pb : "");
    out_member(&o, "build_number");
    out_string(&o, bn ? bn : "");
    out_member(&o, "xapi_major");
    out_int(&o, h ? strtoll(h->v[FIDX(host, API_version_major)], NULL, 10) : 2);
    out_member(&o, "xapi_minor");
    out_int(&o, h ? strtoll(h->v[FIDX(host, API_version_minor)], NULL, 10) : 0);
    out_member(&o, "export_vsn");
    out_int(&o, XVA_EXPORT_VSN);
    out_struct_end(&o);
    free(pv);
    free(pb);
    free(bn);
    out_member(&o, "objects");
    out_array_begin(&o);
    for (size_t k = 0; k < ELEMENTSOF(order); k++)
        for (size_t i = 0; i < rq->ids.n; i++) {
            const struct row *r =
                rq->ids.cls[i] == order[k] ? db_get(order[k], rq->ids.ref[i]) : NULL;
            if (!r)
                continue;
            char id[32];
            out_struct_begin(&o);
            out_member(&o, "class");
            out_string(&o, model_classes[r->cls].name);
            out_member(&o, "id");
            out_string(&o, id_of(&rq->ids, r->ref, id));
            out_member(&o, "snapshot");
            write_record(&o, rq, r);
            out_struct_end(&o);
        }
    out_array_end(&o);
    out_struct_end(&o);
    db_unlock();
    size_t len;
    const char *v = out_value(&o, &len);
    char *text = xmalloc(len + 1);
    memcpy(text, v, len);
    text[len] = '\0';
    out_done(&o);
    *ret_len = len;
    return text;
}

static int to_client(void *arg, const void *buf, size_t len)
{
    return xfer_write(arg, buf, len);
}

/* One tar member: header, data, padding to the block size. */
static int tar_member(struct xva_out *o, const char *name, const void *data, size_t len)
{
    char block[XVA_BLOCK];
    static const char zeros[XVA_BLOCK];

    xva_tar_header(block, name, len, time(NULL));
    if (xva_out_write(o, block, sizeof(block)) < 0 || (len && xva_out_write(o, data, len) < 0))
        return -EPIPE;
    if (len % XVA_BLOCK && xva_out_write(o, zeros, XVA_BLOCK - len % XVA_BLOCK) < 0)
        return -EPIPE;
    return 0;
}

/* Room around a chunk for its member's header before it and its padding
 * and checksum member after it, so that each chunk goes out in one write
 * (small writes between large ones would wait on delayed ACKs). */
#define FRAME_SIZE (XVA_BLOCK + XVA_CHUNK + 3 * XVA_BLOCK)

/* The chunk of len bytes at frame + XVA_BLOCK as its two members. */
static int chunk_member(struct xva_out *o, const char *id, uint64_t no, unsigned char *frame,
                        size_t len)
{
    char name[64], hex[2 * SHA_DIGEST_LENGTH + 1];
    unsigned char md[SHA_DIGEST_LENGTH];
    size_t at = XVA_BLOCK + len;

    snprintf(name, sizeof(name), "%s/%08llu", id, (unsigned long long)no);
    SHA1(frame + XVA_BLOCK, len, md);
    for (size_t i = 0; i < SHA_DIGEST_LENGTH; i++)
        snprintf(hex + 2 * i, 3, "%02x", md[i]);
    xva_tar_header((char *)frame, name, len, time(NULL));
    if (len % XVA_BLOCK) {
        memset(frame + at, 0, XVA_BLOCK - len % XVA_BLOCK);
        at += XVA_BLOCK - len % XVA_BLOCK;
    }
    snprintf(name + strlen(name), sizeof(name) - strlen(name), ".checksum");
    xva_tar_header((char *)frame + at, name, strlen(hex), time(NULL));
    at += XVA_BLOCK;
    memset(frame + at, 0, XVA_BLOCK);
    memcpy(frame + at, hex, strlen(hex));
    at += XVA_BLOCK;
    return xva_out_write(o, frame, at);
}

static struct api_error *send_disk(struct xfer *x, struct xva_out *o, const char *vdi,
                                   const char *id, uint64_t *done, uint64_t total)
{
    struct xfer_vdi *sv = NULL;
    int64_t size = 0;
    struct api_error *e = xfer_vdi_open(vdi, false, &sv, &size);
    if (e)
        return e;
    unsigned char *frame = xmalloc(FRAME_SIZE), *buf = frame + XVA_BLOCK;
    uint64_t off = 0, no = 0;
    time_t last = time(NULL);
    while (off < (uint64_t)size) {
        size_t want = (uint64_t)size - off < XVA_CHUNK ? (size_t)((uint64_t)size - off) : XVA_CHUNK;
        size_t got = 0;
        while (got < want) {
            ssize_t n = read(xfer_vdi_fd(sv), buf + got, want - got);
            if (n < 0 && errno == EINTR)
                continue;
            if (n <= 0)
                break;
            got += (size_t)n;
        }
        if (got < want) {
            e = xfer_vdi_close(sv, true);
            free(frame);
            return e ? e : api_failf(INTERNAL_ERROR, "the disk %s ended early", vdi);
        }
        if (xfer_cancelled(x)) {
            api_error_free(xfer_vdi_close(sv, true));
            free(frame);
            return api_fail(TASK_CANCELLED, xfer_task(x));
        }
        bool edge = no == 0 || off + want >= (uint64_t)size;
        int r = 0;
        if (edge || !xva_is_zero(buf, want)) {
            r = chunk_member(o, id, no, frame, want);
            last = time(NULL);
        } else if (time(NULL) - last >= KEEPALIVE_SECONDS) {
            r = chunk_member(o, id, no, frame, 0);
            last = time(NULL);
        }
        if (r < 0) {
            api_error_free(xfer_vdi_close(sv, true));
            free(frame);
            return api_failf(INTERNAL_ERROR, "the client went away");
        }
        off += want;
        no++;
        *done += want;
        xfer_progress(x, *done, total);
    }
    free(frame);
    return xfer_vdi_close(sv, false);
}

/* Lets the VM go: before the task finishes, so that whoever sees it done
 * finds current_operations empty. */
static void release(struct export_req *rq)
{
    if (*rq->task)
        vmops_end(rq->vm, rq->task);
    *rq->task = '\0';
}

static struct api_error *export_stream(struct xfer *x, struct xva_out *o);

static struct api_error *export_run(struct xfer *x)
{
    struct export_req *rq = xfer_data(x);
    struct xva_out *o = xva_out_new(rq->codec, to_client, x);
    struct api_error *e = export_stream(x, o);

    xva_out_free(o);

    release(xfer_data(x));
    return e;
}

static struct api_error *export_stream(struct xfer *x, struct xva_out *o)
{
    struct export_req *rq = xfer_data(x);
    uint64_t total = 0, done = 0;
    size_t len;
    char *xml = ova_xml(rq, &len);
    char name[80];

    for (size_t i = 0; i < rq->n_disks; i++)
        total += (uint64_t)rq->disks[i].size;
    db_rdlock();
    const struct row *vm = db_get(C_VM, rq->vm);
    snprintf(name, sizeof(name), "%s.xva", vm ? vm->v[FIDX(VM, uuid)] : "vm");
    db_unlock();
    log_info("exporting VM %s: %zu objects, %zu disks, compression %s", rq->vm, rq->ids.n,
             rq->n_disks, xva_codec_name(rq->codec));
    if (xfer_send_head(x, "application/octet-stream", -1, name) < 0 ||
        tar_member(o, "ova.xml", xml, len) < 0) {
        free(xml);
        return api_failf(INTERNAL_ERROR, "the client went away");
    }
    free(xml);
    for (size_t i = 0; i < rq->n_disks; i++) {
        struct api_error *e = send_disk(x, o, rq->disks[i].vdi, rq->disks[i].id, &done, total);
        if (e)
            return e;
    }
    static const char end[2 * XVA_BLOCK];
    if (xva_out_write(o, end, sizeof(end)) < 0 || xva_out_finish(o) < 0)
        return api_failf(INTERNAL_ERROR, "the client went away");
    return NULL;
}

const struct xfer_route xva_export_route = {
    .method = "GET",
    .path = "/export",
    .realm = "VM.export",
    .label = "VM.export",
    .prepare = export_prepare,
    .run = export_run,
    .free_data = export_free,
};

/* The metadata archive: ova.xml and the end, with its length. */
static struct api_error *metadata_run(struct xfer *x)
{
    struct export_req *rq = xfer_data(x);
    size_t len;
    char *xml = ova_xml(rq, &len);
    static const char end[2 * XVA_BLOCK];
    uint64_t total = XVA_BLOCK + (len + XVA_BLOCK - 1) / XVA_BLOCK * XVA_BLOCK + sizeof(end);

    log_info("exporting the metadata of VM %s: %zu objects", rq->vm, rq->ids.n);
    release(rq);
    struct xva_out *o = xva_out_new(XVA_PLAIN, to_client, x);
    int r = xfer_send_head(x, "application/octet-stream", (int64_t)total, "export.xva");
    if (r == 0)
        r = tar_member(o, "ova.xml", xml, len);
    free(xml);
    if (r == 0)
        r = xva_out_write(o, end, sizeof(end));
    xva_out_free(o);
    if (r < 0)
        return api_failf(INTERNAL_ERROR, "the client went away");
    return NULL;
}

const struct xfer_route xva_export_metadata_route = {
    .method = "GET",
    .path = "/export_metadata",
    .realm = "VM.export_metadata",
    .label = "VM.export_metadata",
    .prepare = metadata_prepare,
    .run = metadata_run,
    .free_data = export_free,
};
