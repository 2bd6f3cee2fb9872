/* PUT /import?sr_id=|sr_uuid=&restore=&force=: an XVA (xva.h) read back
 * as XCP's import.ml does. The objects of ova.xml become a new VM (its
 * own uuid, or the exported one with restore=true, replacing a halted VM
 * that has it when the import is newer or forced), its VBDs and VIFs,
 * and new VDIs in the SR asked for (or the pool's default SR), filled
 * from the chunks through storaged. Networks are matched by name_label,
 * then by bridge, and made when neither matches; a VIF gets a new MAC
 * unless restoring. CDs of ISO libraries are matched by location in the
 * ISO SRs here, or left empty. A failed import leaves nothing behind
 * (unless force=true, as XCP does). The task's result is the new VMs.
 * The archive may come compressed with gzip or zstd (xva_codec.h), and
 * from a URL as well (VM.import, xva_url.c).
 *
 * PUT /import_metadata?restore=&force=&dry_run=&vdi:<uuid>=<uuid>: an
 * archive of ova.xml alone (GET /export_metadata) read back as XCP's
 * metadata import does: no disk is made or written; SRs are the ones of
 * the same uuid here, and each VDI is the one vdi:<its uuid> names, else
 * the one with its location in the SR of its uuid (VDI_LOCATION_MISSING
 * when there is none, VDI_CONTENT_ID_MISSING when the SR is not here
 * either; with force=true the disk is left out instead). dry_run makes
 * nothing and answers an empty set. */
#include <errno.h>
#include <openssl/sha.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "api.h"
#include "config.h"
#include "db.h"
#include "lib/log.h"
#include "lib/strlist.h"
#include "lib/util.h"
#include "marshal.h"
#include "network.h"
#include "out.h"
#include "rpc.h"
#include "storage.h"
#include "taskcancel.h"
#include "vmops.h"
#include "xfer.h"
#include "xfer_vdi.h"
#include "xva.h"
#include "xva_codec.h"
#include "xva_import.h"

LOG_MODULE("xva");

/* One object of ova.xml and what it became here. */
struct obj {
    int cls;
    char id[32];
    const struct xv *rec;
    char ref[64]; /* the object it maps to, or "" */
    bool made;    /* made by this import (undone on failure) */
    int64_t size; /* VDI: its virtual size */
    bool stream;  /* VDI: its content follows in the archive */
};

struct import_req {
    char sr[64];
    bool restore, force;
    bool metadata, dry_run; /* /import_metadata */
    /* vdi:<uuid>=<uuid> of a metadata import: from, to */
    char (*map_from)[40], (*map_to)[40];
    size_t n_map;
    struct xfer *x; /* the request, or NULL (a URL import) */
    char task[64];
    struct xva_in *in;
    unsigned last_permille;
    struct rpc_call call; /* ova.xml decoded */
    struct obj *objs;
    size_t n;
    char replaced[64]; /* a VM replaced by restore (destroyed at the end) */
};

static void import_free(void *p)
{
    struct import_req *rq = p;
    if (!rq)
        return;
    rpc_call_done(&rq->call);
    free(rq->objs);
    free(rq->map_from);
    free(rq->map_to);
    xva_in_free(rq->in);
    free(rq);
}

static bool flag(struct xfer *x, const char *name)
{
    const char *v = xfer_query(x, name);
    return v && strcasecmp(v, "true") == 0;
}

static int import_prepare(struct xfer *x, struct api_error **ret_err)
{
    const char *arg = xfer_query(x, "sr_id");
    struct import_req *rq = xcalloc(1, sizeof(*rq));

    xfer_set_data(x, rq);
    rq->x = x;
    snprintf(rq->task, sizeof(rq->task), "%s", xfer_task(x));
    rq->restore = flag(x, "restore");
    rq->force = flag(x, "force");
    if (!arg)
        arg = xfer_query(x, "sr_uuid");
    db_rdlock();
    const struct row *sr = arg ? xfer_lookup(C_SR, arg) : NULL;
    if (!arg) {
        const struct row *pool = db_get(C_pool, xapi_state.pool_ref);
        sr = pool ? db_get(C_SR, pool->v[FIDX(pool, default_SR)]) : NULL;
        if (!sr)
            *ret_err = api_fail(DEFAULT_SR_NOT_FOUND,
                                pool ? pool->v[FIDX(pool, default_SR)] : "OpaqueRef:NULL");
    } else if (!sr) {
        *ret_err = api_fail(HANDLE_INVALID, "SR", arg);
    } else if (streq(sr->v[FIDX(SR, content_type)], "iso")) {
        *ret_err = api_fail(SR_OPERATION_NOT_SUPPORTED);
        db_unlock();
        return 400;
    }
    if (sr)
        snprintf(rq->sr, sizeof(rq->sr), "%s", sr->ref);
    db_unlock();
    if (*ret_err)
        return 500;
    /* libmicrohttpd would undo a chunked encoding, but XCP refuses it. */
    if (xfer_chunked(x)) {
        *ret_err = api_fail(IMPORT_ERROR_CANNOT_HANDLE_CHUNKED);
        return 403;
    }
    return 0;
}

/* ---- reading the archive ---- */

static bool job_cancelled(struct import_req *rq)
{
    return rq->x ? xfer_cancelled(rq->x) : task_cancel_requested(rq->task);
}

static void job_progress(struct import_req *rq, uint64_t done, uint64_t total)
{
    if (rq->x) {
        xfer_progress(rq->x, done, total);
        return;
    }
    unsigned pm = total ? (unsigned)(done >= total ? 1000 : done * 1000 / total) : 0;
    if (pm < rq->last_permille + 10 || pm >= 1000)
        return;
    rq->last_permille = pm;
    task_progress(rq->task, pm / 1000.0);
}

/* Reads len bytes of the archive, or fails as XCP does: a premature end,
 * or compressed data that does not decompress. */
static struct api_error *in_read(struct import_req *rq, void *buf, size_t len)
{
    int r = xva_in_read_full(rq->in, buf, len);
    if (r == -EBADMSG)
        return api_failf(IMPORT_ERROR, "%s", xva_in_why(rq->in));
    return r < 0 ? api_fail(IMPORT_ERROR_PREMATURE_EOF) : NULL;
}

/* The next member's header: 1, 0 at the archive's end, or an error. */
static struct api_error *next_member(struct import_req *rq, struct xva_member *m, bool *ret_end)
{
    unsigned char block[XVA_BLOCK];
    struct api_error *e;

    for (;;) {
        if ((e = in_read(rq, block, sizeof(block))))
            return e;
        int r = xva_tar_parse(block, m);
        if (r < 0)
            return api_failf(IMPORT_ERROR, "not a tar archive (bad header checksum)");
        *ret_end = r == 1;
        if (r == 1 || m->type == '0' || m->type == '\0')
            return NULL;
        /* Anything else (a directory, a pax header) carries no data we
         * use: skip it. */
        uint64_t left = (m->size + XVA_BLOCK - 1) / XVA_BLOCK * XVA_BLOCK;
        while (left > 0) {
            size_t n = left > sizeof(block) ? sizeof(block) : (size_t)left;
            if ((e = in_read(rq, block, n)))
                return e;
            left -= n;
        }
    }
}

/* Reads a member's data (len bytes) and its padding. */
static struct api_error *read_data(struct import_req *rq, void *buf, uint64_t len)
{
    unsigned char pad[XVA_BLOCK];
    struct api_error *e = len ? in_read(rq, buf, (size_t)len) : NULL;
    if (!e && len % XVA_BLOCK)
        e = in_read(rq, pad, XVA_BLOCK - len % XVA_BLOCK);
    return e;
}

/* ---- ova.xml ---- */

static struct api_error *parse_ova(struct import_req *rq, const char *xml, size_t len)
{
    struct strbuf sb;
    const char *why = NULL;

    /* The decoder of method calls reads the struct as its one parameter. */
    strbuf_init(&sb, len + 128);
    strbuf_adds(&sb, "<?xml version=\"1.0\"?><methodCall><methodName>ova</methodName><params>"
                     "<param>");
    const char *body = xml;
    if (len > 5 && strncmp(xml, "<?xml", 5) == 0) {
        const char *end = strstr(xml, "?>");
        if (end)
            body = end + 2;
    }
    strbuf_add(&sb, body, len - (size_t)(body - xml));
    strbuf_adds(&sb, "</param></params></methodCall>");
    int r = xmlrpc_parse_call(sb.buf, sb.len, &rq->call, &why);
    strbuf_done(&sb);
    if (r < 0 || rq->call.n_params != 1 || rq->call.params[0].kind != XV_STRUCT)
        return api_failf(IMPORT_ERROR, "ova.xml is not an XML-RPC struct: %s", why ? why : "");
    const struct xv *top = &rq->call.params[0];
    const struct xv *version = xv_member(top, "version");
    const struct xv *objects = xv_member(top, "objects");
    if (!version || !objects || objects->kind != XV_ARRAY)
        return api_failf(IMPORT_ERROR, "ova.xml has no version or objects");
    const struct xv *maj = xv_member(version, "xapi_major");
    const struct xv *min = xv_member(version, "xapi_minor");
    db_rdlock();
    const struct row *h = db_get(C_host, xapi_state.host_ref);
    int64_t my_maj = h ? strtoll(h->v[FIDX(host, API_version_major)], NULL, 10) : 0;
    int64_t my_min = h ? strtoll(h->v[FIDX(host, API_version_minor)], NULL, 10) : 0;
    db_unlock();
    int64_t o_maj = maj && maj->kind == XV_INT ? maj->i : 0;
    int64_t o_min = min && min->kind == XV_INT ? min->i : 0;
    if (my_maj < o_maj || (my_maj == o_maj && my_min < o_min))
        return api_fail(IMPORT_INCOMPATIBLE_VERSION);

    rq->objs = xcalloc(objects->agg.n + 1, sizeof(*rq->objs));
    for (size_t i = 0; i < objects->agg.n; i++) {
        const struct xv *o = &objects->agg.items[i];
        const struct xv *cls = xv_member(o, "class"), *id = xv_member(o, "id");
        const struct xv *snap = xv_member(o, "snapshot");
        if (!cls || cls->kind != XV_STRING || !id || id->kind != XV_STRING || !snap ||
            snap->kind != XV_STRUCT || strlen(id->str.s) >= sizeof(rq->objs[0].id))
            return api_failf(IMPORT_ERROR, "ova.xml: object %zu is malformed", i);
        int c = -1;
        for (int k = 0; k < C__COUNT; k++)
            if (strcasecmp(model_classes[k].name, cls->str.s) == 0)
                c = k;
        if (c < 0)
            continue; /* a class this host does not have (VGPU, PVS...) */
        struct obj *ob = &rq->objs[rq->n++];
        ob->cls = c;
        snprintf(ob->id, sizeof(ob->id), "%s", id->str.s);
        ob->rec = snap;
    }
    return NULL;
}

static struct obj *find_obj(struct import_req *rq, const char *id)
{
    for (size_t i = 0; i < rq->n; i++)
        if (streq(rq->objs[i].id, id))
            return &rq->objs[i];
    return NULL;
}

/* A field of an exported record as canonical text (new string), or NULL
 * when absent or not of the field's type. */
static char *field_text(const struct obj *o, int f)
{
    const struct field_desc *fd = &model_classes[o->cls].fields[f];
    const struct xv *v = xv_member(o->rec, fd->name);
    struct strbuf sb;

    if (!v)
        return NULL;
    strbuf_init(&sb, 32);
    struct api_error *e = marshal_from_wire(fd->type, v, &sb);
    if (e) {
        api_error_free(e);
        strbuf_done(&sb);
        return NULL;
    }
    return strbuf_detach(&sb, NULL);
}

/* The internal ref an exported reference maps to, or OpaqueRef:NULL. */
static const char *map_ref(struct import_req *rq, const char *id)
{
    struct obj *o = id ? find_obj(rq, id) : NULL;
    return o && *o->ref ? o->ref : "OpaqueRef:NULL";
}

/* The values of a new row of class cls from an exported record: every
 * stored field the record has, references mapped, except those skip
 * names. */
static char **row_from(struct import_req *rq, const struct obj *o, char ref[64], const int *skip,
                       size_t n_skip)
{
    const struct class_desc *cd = &model_classes[o->cls];
    char **v = api_new_row(o->cls, ref);

    for (int f = 0; f < cd->n_fields; f++) {
        bool skipped = f == cd->uuid_field;
        for (size_t k = 0; k < n_skip; k++)
            skipped = skipped || skip[k] == f;
        if (skipped || !v[f] || (cd->fields[f].flags & FF_COMPUTED))
            continue;
        const struct type *t = cd->fields[f].type;
        if ((t->kind == T_SET && t->elem->kind == T_REF) ||
            (t->kind == T_MAP && (t->key->kind == T_REF || t->elem->kind == T_REF)))
            continue; /* the other side of a relation, or runtime links */
        char *text = field_text(o, f);
        if (!text)
            continue;
        api_set_val(v, f, t->kind == T_REF ? map_ref(rq, text) : text);
        free(text);
    }
    return v;
}

/* Networks: by name_label, then bridge; else a new one (network.create's
 * way: a free xapi<N> bridge, configured by networkd). */
static struct api_error *map_network(struct import_req *rq, struct obj *o, const char *task)
{
    char *name = field_text(o, FIDX(network, name_label));
    char *bridge = field_text(o, FIDX(network, bridge));
    size_t it = 0;
    const struct row *r;
    struct api_error *e = NULL;

    db_rdlock();
    while (!*o->ref && db_next(C_network, &it, &r))
        if (name && streq(r->v[FIDX(network, name_label)], name))
            snprintf(o->ref, sizeof(o->ref), "%s", r->ref);
    it = 0;
    while (!*o->ref && db_next(C_network, &it, &r))
        if (bridge && *bridge && streq(r->v[FIDX(network, bridge)], bridge))
            snprintf(o->ref, sizeof(o->ref), "%s", r->ref);
    db_unlock();
    free(bridge);
    if (*o->ref) {
        free(name);
        return NULL;
    }
    static const int skip[] = {FIDX(network, bridge), FIDX(network, other_config)};
    char **v = row_from(rq, o, o->ref, skip, ELEMENTSOF(skip));
    char oc[128], br[16];
    snprintf(oc, sizeof(oc), "{\"import_task\":\"%s\"}", task);
    api_set_val(v, FIDX(network, other_config), oc);
    if (strtoll(v[FIDX(network, MTU)], NULL, 10) < 68)
        api_set_val(v, FIDX(network, MTU), "1500");
    struct net_tx *tx = net_tx_new();
    db_wrlock();
    network_free_name("xapi", br);
    api_set_val(v, FIDX(network, bridge), br);
    bool managed = streq(v[FIDX(network, managed)], "true");
    net_tx_create(tx, C_network, o->ref, v);
    e = net_tx_apply(tx);
    db_unlock();
    if (!e && managed && network_enabled())
        e = net_tx_commit(tx);
    else
        net_tx_free(tx);
    o->made = !e;
    log_info("import: made network '%s' (%s)", name ? name : "", e ? e->code : "ok");
    free(name);
    return e;
}

/* VDIs: new ones in the target SR; CDs of ISO libraries by location. */
static struct api_error *map_vdi(struct import_req *rq, struct obj *o)
{
    char *sr_id = field_text(o, FIDX(VDI, SR));
    struct obj *sro = sr_id ? find_obj(rq, sr_id) : NULL;
    char *ct = sro ? field_text(sro, FIDX(SR, content_type)) : NULL;
    bool iso = ct && streq(ct, "iso");
    free(sr_id);
    free(ct);
    if (iso) {
        char *loc = field_text(o, FIDX(VDI, location));
        size_t it = 0;
        const struct row *r;
        db_rdlock();
        while (loc && !*o->ref && db_next(C_VDI, &it, &r)) {
            const struct row *s = db_get(C_SR, r->v[FIDX(VDI, SR)]);
            if (s && streq(s->v[FIDX(SR, content_type)], "iso") &&
                streq(r->v[FIDX(VDI, location)], loc))
                snprintf(o->ref, sizeof(o->ref), "%s", r->ref);
        }
        db_unlock();
        free(loc);
        return NULL;
    }
    char ref[64];
    static const int skip[] = {FIDX(VDI, SR),          FIDX(VDI, location),
                               FIDX(VDI, sm_config),   FIDX(VDI, physical_utilisation),
                               FIDX(VDI, managed),     FIDX(VDI, missing),
                               FIDX(VDI, parent),      FIDX(VDI, is_a_snapshot),
                               FIDX(VDI, snapshot_of), FIDX(VDI, snapshot_time)};
    char **v = row_from(rq, o, ref, skip, ELEMENTSOF(skip));
    o->size = strtoll(v[FIDX(VDI, virtual_size)], NULL, 10);
    if (o->size <= 0) {
        api_free_row(C_VDI, v);
        return api_failf(IMPORT_ERROR, "VDI %s has no virtual size", o->id);
    }
    struct api_error *e = xfer_vdi_create(rq->sr, v, ref, o->ref);
    o->made = !e;
    o->stream = !e;
    return e;
}

/* Metadata: the SR of the exported one's uuid, if this pool has it. */
static void map_sr_by_uuid(struct obj *o)
{
    char *uuid = field_text(o, FIDX(SR, uuid));

    db_rdlock();
    const struct row *r = uuid ? db_get_by_uuid(C_SR, uuid) : NULL;
    if (r)
        snprintf(o->ref, sizeof(o->ref), "%s", r->ref);
    else
        log_warning("import: no SR with uuid %s: its VDIs are looked for one by one",
                    uuid ? uuid : "");
    db_unlock();
    free(uuid);
}

/* The VDI of uuid, or NULL (db lock held). */
static const struct row *vdi_by_uuid(const char *uuid)
{
    return uuid ? db_get_by_uuid(C_VDI, uuid) : NULL;
}

/* Metadata: the VDI an exported one stands for, as XCP's metadata import
 * finds it: the vdi:<uuid>= mapping, else by location in the SR of the
 * same uuid, else the VDI its other_config's maps_to names. */
static struct api_error *find_vdi(struct import_req *rq, struct obj *o)
{
    char *sr_id = field_text(o, FIDX(VDI, SR));
    struct obj *sro = sr_id ? find_obj(rq, sr_id) : NULL;
    char *ct = sro ? field_text(sro, FIDX(SR, content_type)) : NULL;
    bool iso = ct && streq(ct, "iso");
    free(sr_id);
    free(ct);
    if (iso)
        return map_vdi(rq, o); /* by location in an ISO library, or empty */
    char *uuid = field_text(o, FIDX(VDI, uuid));
    char *loc = field_text(o, FIDX(VDI, location));
    char *oc = field_text(o, FIDX(VDI, other_config));
    char *maps_to = oc ? strmap_get(oc, "maps_to") : NULL;
    const char *to = NULL;
    struct api_error *e = NULL;

    for (size_t i = 0; uuid && i < rq->n_map; i++)
        if (streq(rq->map_from[i], uuid))
            to = rq->map_to[i];
    db_rdlock();
    const struct row *r = NULL;
    if (to)
        r = vdi_by_uuid(to);
    if (!r && sro && *sro->ref && loc) {
        size_t it = 0;
        const struct row *v;
        while (!r && db_next(C_VDI, &it, &v))
            if (streq(v->v[FIDX(VDI, SR)], sro->ref) && streq(v->v[FIDX(VDI, location)], loc))
                r = v;
    }
    if (!r && maps_to)
        r = db_get(C_VDI, maps_to);
    if (r)
        snprintf(o->ref, sizeof(o->ref), "%s", r->ref);
    else if (rq->force)
        log_warning("import: found no VDI with location = %s: ignoring error because "
                    "'--force' is set",
                    loc ? loc : "");
    else if (sro && *sro->ref)
        e = api_fail(VDI_LOCATION_MISSING, sro->ref, loc ? loc : "");
    else
        e = api_error_new("VDI_CONTENT_ID_MISSING", NULL, 0);
    db_unlock();
    free(uuid);
    free(loc);
    free(oc);
    free(maps_to);
    return e;
}

/* The VM: a new row (restore keeps the uuid, replacing a halted VM that
 * has it when this one is newer or the import is forced). */
static struct api_error *map_vm(struct import_req *rq, struct obj *o)
{
    static const int skip[] = {FIDX(VM, power_state),
                               FIDX(VM, resident_on),
                               FIDX(VM, domid),
                               FIDX(VM, metrics),
                               FIDX(VM, guest_metrics),
                               FIDX(VM, suspend_VDI),
                               FIDX(VM, is_a_snapshot),
                               FIDX(VM, snapshot_of),
                               FIDX(VM, snapshot_time),
                               FIDX(VM, parent),
                               FIDX(VM, scheduled_to_be_resident_on),
                               FIDX(VM, affinity),
                               FIDX(VM, is_default_template),
                               FIDX(VM, current_operations),
                               FIDX(VM, allowed_operations)};
    char *uuid = field_text(o, FIDX(VM, uuid));
    char *version = field_text(o, FIDX(VM, version));
    struct api_error *e = NULL;

    if (rq->restore && uuid) {
        db_rdlock();
        const struct row *old = db_get_by_uuid(C_VM, uuid);
        if (old && !streq(old->v[FIDX(VM, power_state)], "Halted")) {
            char actual[32];
            snprintf(actual, sizeof(actual), "%s", old->v[FIDX(VM, power_state)]);
            for (char *p = actual; *p; p++)
                *p = (char)(*p >= 'A' && *p <= 'Z' ? *p + 32 : *p);
            e = api_fail(VM_BAD_POWER_STATE, old->ref, "halted", actual);
        } else if (old && !rq->force &&
                   strtoll(old->v[FIDX(VM, version)], NULL, 10) >=
                       (version ? strtoll(version, NULL, 10) : 0)) {
            e = api_fail(VM_TO_IMPORT_IS_NOT_NEWER_VERSION, old->ref, old->v[FIDX(VM, version)],
                         version ? version : "0");
        } else if (old) {
            snprintf(rq->replaced, sizeof(rq->replaced), "%s", old->ref);
        }
        db_unlock();
    }
    free(version);
    if (e || rq->dry_run) {
        free(uuid);
        return e;
    }
    char mref[64];
    char **v = row_from(rq, o, o->ref, skip, ELEMENTSOF(skip));
    char **m = api_new_row(C_VM_metrics, mref);
    if (rq->restore && uuid && !*rq->replaced)
        api_set_val(v, FIDX(VM, uuid), uuid);
    free(uuid);
    api_set_val(v, FIDX(VM, domid), "-1");
    api_set_val(v, FIDX(VM, metrics), mref);
    if (!rq->force) { /* an import is nobody's default template */
        api_set_val(v, FIDX(VM, is_default_template), "false");
    }
    struct changeset *cs = changeset_new();
    changeset_create(cs, C_VM_metrics, mref, m);
    changeset_create(cs, C_VM, o->ref, v);
    db_wrlock();
    e = api_apply(cs);
    db_unlock();
    o->made = !e;
    return e;
}

static struct api_error *map_devices(struct import_req *rq)
{
    struct changeset *cs = changeset_new();
    for (size_t i = 0; i < rq->n; i++) {
        struct obj *o = &rq->objs[i];
        if (o->cls == C_VBD) {
            static const int skip[] = {
                FIDX(VBD, currently_attached), FIDX(VBD, device),
                FIDX(VBD, status_code),        FIDX(VBD, status_detail),
                FIDX(VBD, runtime_properties), FIDX(VBD, metrics),
                FIDX(VBD, current_operations), FIDX(VBD, allowed_operations)};
            char **v = row_from(rq, o, o->ref, skip, ELEMENTSOF(skip));
            if (streq(v[FIDX(VBD, VM)], "OpaqueRef:NULL")) {
                api_free_row(C_VBD, v);
                *o->ref = '\0';
                continue;
            }
            if (streq(v[FIDX(VBD, VDI)], "OpaqueRef:NULL") && rq->metadata &&
                !streq(v[FIDX(VBD, type)], "CD") && !streq(v[FIDX(VBD, type)], "Floppy")) {
                /* a disk not found (force=true): left out, as XCP omits it */
                log_warning("import: VBD %s left out: its disk was not found", o->id);
                api_free_row(C_VBD, v);
                *o->ref = '\0';
                continue;
            }
            if (streq(v[FIDX(VBD, VDI)], "OpaqueRef:NULL"))
                api_set_val(v, FIDX(VBD, empty), "true");
            changeset_create(cs, C_VBD, o->ref, v);
            o->made = true;
        } else if (o->cls == C_VIF) {
            static const int skip[] = {FIDX(VIF, currently_attached),
                                       FIDX(VIF, status_code),
                                       FIDX(VIF, status_detail),
                                       FIDX(VIF, runtime_properties),
                                       FIDX(VIF, metrics),
                                       FIDX(VIF, current_operations),
                                       FIDX(VIF, allowed_operations)};
            char **v = row_from(rq, o, o->ref, skip, ELEMENTSOF(skip));
            if (streq(v[FIDX(VIF, VM)], "OpaqueRef:NULL")) {
                api_free_row(C_VIF, v);
                *o->ref = '\0';
                continue;
            }
            if (!rq->restore) {
                char mac[18];
                network_random_mac(mac);
                api_set_val(v, FIDX(VIF, MAC), mac);
                api_set_val(v, FIDX(VIF, MAC_autogenerated), "true");
            }
            changeset_create(cs, C_VIF, o->ref, v);
            o->made = true;
        }
    }
    db_wrlock();
    struct api_error *e = api_apply(cs);
    db_unlock();
    return e;
}

/* Undoes what the import made (a failure without force=true). */
static void undo(struct import_req *rq)
{
    struct changeset *cs = changeset_new();
    for (size_t i = 0; i < rq->n; i++) {
        struct obj *o = &rq->objs[i];
        if (o->made && o->cls == C_VDI)
            api_error_free(storage_vdi_delete(o->ref));
    }
    db_wrlock();
    for (size_t i = 0; i < rq->n; i++) {
        struct obj *o = &rq->objs[i];
        if (!o->made || o->cls == C_VDI || o->cls == C_network || !db_get(o->cls, o->ref))
            continue;
        if (o->cls == C_VM) {
            const struct row *vm = db_get(C_VM, o->ref);
            if (db_get(C_VM_metrics, vm->v[FIDX(VM, metrics)]))
                changeset_delete(cs, C_VM_metrics, vm->v[FIDX(VM, metrics)]);
        }
        changeset_delete(cs, o->cls, o->ref);
    }
    api_error_free(api_apply(cs));
    db_unlock();
}

/* Removes a VM that restore replaces: its row, metrics, VBDs and VIFs
 * (its disks stay, as XCP leaves them). */
static struct api_error *drop_replaced(const char *vm_ref)
{
    struct changeset *cs = changeset_new();
    struct strbuf scratch;
    struct strlist_iter it;
    const char *ref;
    strbuf_init(&scratch, 0);
    db_wrlock();
    const struct row *vm = db_get(C_VM, vm_ref);
    if (vm) {
        const int sets[] = {FIDX(VM, VBDs), FIDX(VM, VIFs)};
        for (size_t k = 0; k < ELEMENTSOF(sets); k++) {
            strlist_iter_init(&it, db_value(vm, sets[k], &scratch));
            while (strlist_iter_next(&it, NULL, &ref))
                changeset_delete(cs, k ? C_VIF : C_VBD, ref);
            strlist_iter_done(&it);
        }
        if (db_get(C_VM_metrics, vm->v[FIDX(VM, metrics)]))
            changeset_delete(cs, C_VM_metrics, vm->v[FIDX(VM, metrics)]);
        changeset_delete(cs, C_VM, vm_ref);
    }
    struct api_error *e = api_apply(cs);
    db_unlock();
    strbuf_done(&scratch);
    return e;
}

/* ---- the disks ---- */

struct sink {
    struct obj *vdi;
    struct xfer_vdi *sv;
    uint64_t off; /* bytes written so far */
};

static struct api_error *sink_close(struct sink *k, bool abort)
{
    struct api_error *e = k->sv ? xfer_vdi_close(k->sv, abort) : NULL;
    k->sv = NULL;
    k->vdi = NULL;
    k->off = 0;
    return e;
}

/* Writes len zero bytes into the disk (skipped chunks). */
static int write_zeros(struct sink *k, uint64_t len)
{
    static const unsigned char zeros[64 * 1024];
    while (len > 0) {
        size_t n = len > sizeof(zeros) ? sizeof(zeros) : (size_t)len;
        if (xfer_fd_write_all(xfer_vdi_fd(k->sv), zeros, n) < 0)
            return -EIO;
        len -= n;
        k->off += n;
    }
    return 0;
}

static bool checksum_ok(const char *name, const unsigned char *data, size_t len, const char *sum,
                        size_t sum_len)
{
    char hex[41];
    if (strlen(name) > 9 && streq(name + strlen(name) - 9, ".checksum")) {
        unsigned char md[SHA_DIGEST_LENGTH];
        SHA1(data, len, md);
        for (size_t i = 0; i < SHA_DIGEST_LENGTH; i++)
            snprintf(hex + 2 * i, 3, "%02x", md[i]);
        return sum_len == 40 && strncasecmp(hex, sum, 40) == 0;
    }
    snprintf(hex, sizeof(hex), "%016llX", (unsigned long long)xva_xxh64(data, len));
    return sum_len == 16 && strncasecmp(hex, sum, 16) == 0;
}

static struct api_error *read_disks(struct import_req *rq, bool *ret_bad_sums)
{
    struct sink k = {0};
    struct xva_member m, cm;
    bool end = false;
    uint64_t total = 0, done = 0;
    unsigned char *buf = xmalloc(XVA_CHUNK);
    char sum[64];
    struct api_error *e = NULL;

    for (size_t i = 0; i < rq->n; i++)
        if (rq->objs[i].stream)
            total += (uint64_t)rq->objs[i].size;
    while (!e) {
        if (job_cancelled(rq)) {
            e = api_fail(TASK_CANCELLED, rq->task);
            break;
        }
        if ((e = next_member(rq, &m, &end)) || end)
            break;
        char *slash = strchr(m.name, '/');
        char *digits = slash ? slash + 1 : NULL;
        char *endp = NULL;
        unsigned long long no = digits ? strtoull(digits, &endp, 10) : 0;
        if (!slash || !endp || *endp || endp - digits != 8) {
            e = api_fail(IMPORT_ERROR_UNEXPECTED_FILE, "Ref:<n>/<chunk>", m.name);
            break;
        }
        *slash = '\0';
        struct obj *o = find_obj(rq, m.name);
        *slash = '/';
        if (!o || o->cls != C_VDI || !o->stream) {
            *slash = '\0';
            e = api_fail(IMPORT_ERROR_FAILED_TO_FIND_OBJECT, m.name);
            break;
        }
        if (m.size > XVA_CHUNK || no * (uint64_t)XVA_CHUNK + m.size > (uint64_t)o->size) {
            e = api_failf(IMPORT_ERROR, "chunk %s lies outside its disk", m.name);
            break;
        }
        if ((e = read_data(rq, buf, m.size)))
            break;
        /* its checksum follows */
        if ((e = next_member(rq, &cm, &end)))
            break;
        char want_a[300], want_b[300];
        snprintf(want_a, sizeof(want_a), "%s.checksum", m.name);
        snprintf(want_b, sizeof(want_b), "%s.xxhash", m.name);
        if (end || (!streq(cm.name, want_a) && !streq(cm.name, want_b)) || cm.size >= sizeof(sum)) {
            e = api_fail(IMPORT_ERROR_UNEXPECTED_FILE, want_b, end ? "" : cm.name);
            break;
        }
        if ((e = read_data(rq, sum, cm.size)))
            break;
        if (!checksum_ok(cm.name, buf, (size_t)m.size, sum, (size_t)cm.size)) {
            log_warning("import: checksum mismatch for %s", m.name);
            *ret_bad_sums = true;
            if (!rq->force) {
                e = api_fail(IMPORT_ERROR_SOME_CHECKSUMS_FAILED);
                break;
            }
        }
        if (m.size == 0)
            continue; /* a keep-alive */
        if (k.vdi != o) {
            if ((e = sink_close(&k, false)))
                break;
            if ((e = xfer_vdi_open(o->ref, true, &k.sv, &o->size)))
                break;
            k.vdi = o;
        }
        uint64_t at = no * (uint64_t)XVA_CHUNK;
        if (at < k.off) {
            e = api_failf(IMPORT_ERROR, "chunk %s comes out of order", m.name);
            break;
        }
        if (write_zeros(&k, at - k.off) < 0 ||
            xfer_fd_write_all(xfer_vdi_fd(k.sv), buf, (size_t)m.size) < 0) {
            e = sink_close(&k, true);
            if (!e)
                e = api_failf(INTERNAL_ERROR, "the disk %s stopped taking data", o->ref);
            break;
        }
        k.off += m.size;
        done += m.size;
        job_progress(rq, done, total);
    }
    free(buf);
    struct api_error *ce = sink_close(&k, e != NULL);
    if (!e)
        e = ce;
    else
        api_error_free(ce);
    return e;
}

/* Reads ova.xml and makes the objects, then (a full import) the disks:
 * the new VMs go to ret_vms (new array of refs). */
static struct api_error *import_archive(struct import_req *rq, char (**ret_vms)[64], size_t *ret_n)
{
    struct xva_member m;
    bool end = false, bad_sums = false;
    struct api_error *e = next_member(rq, &m, &end);

    if (!e && end)
        e = api_fail(IMPORT_ERROR_PREMATURE_EOF);
    if (!e && !streq(m.name, "ova.xml"))
        e = api_fail(IMPORT_ERROR_UNEXPECTED_FILE, "ova.xml", m.name);
    if (!e && m.size > XVA_MAX_OVA)
        e = api_failf(IMPORT_ERROR, "ova.xml is too large");
    if (e)
        return e;
    char *xml = xmalloc((size_t)m.size + 1);
    if ((e = read_data(rq, xml, m.size))) {
        free(xml);
        return e;
    }
    xml[m.size] = '\0';
    e = parse_ova(rq, xml, (size_t)m.size);
    free(xml);
    if (e)
        return e;
    log_info("import%s: %zu objects, compression %s", rq->metadata ? " of metadata" : "", rq->n,
             xva_codec_name(xva_in_codec(rq->in)));

    /* SRs map to the target (metadata: to the SR of the same uuid); then
     * VDIs, networks, the VM, its devices. */
    for (size_t i = 0; !e && i < rq->n; i++)
        if (rq->objs[i].cls == C_SR && !rq->metadata)
            snprintf(rq->objs[i].ref, sizeof(rq->objs[i].ref), "%s", rq->sr);
        else if (rq->objs[i].cls == C_SR)
            map_sr_by_uuid(&rq->objs[i]);
    for (size_t i = 0; !e && i < rq->n; i++)
        if (rq->objs[i].cls == C_VDI)
            e = rq->metadata ? find_vdi(rq, &rq->objs[i]) : map_vdi(rq, &rq->objs[i]);
    for (size_t i = 0; !e && !rq->dry_run && i < rq->n; i++)
        if (rq->objs[i].cls == C_network)
            e = map_network(rq, &rq->objs[i], rq->task);
    size_t n_vms = 0;
    for (size_t i = 0; !e && i < rq->n; i++)
        if (rq->objs[i].cls == C_VM) {
            if (n_vms++)
                e = api_failf(IMPORT_ERROR, "archives of several VMs are not supported");
            else
                e = map_vm(rq, &rq->objs[i]);
        }
    if (!e && n_vms == 0)
        e = api_failf(IMPORT_ERROR, "ova.xml holds no VM");
    if (rq->dry_run) {
        *ret_vms = NULL;
        *ret_n = 0;
        return e;
    }
    if (!e)
        e = map_devices(rq);
    if (!e && !rq->metadata)
        e = read_disks(rq, &bad_sums);
    /* A compressed stream is checked to its end (its CRC or checksum). */
    if (!e && !rq->metadata) {
        int r = xva_in_finish(rq->in);
        if (r == -EBADMSG)
            e = api_failf(IMPORT_ERROR, "%s", xva_in_why(rq->in));
        else if (r < 0)
            e = api_fail(IMPORT_ERROR_PREMATURE_EOF);
    }
    if (e) {
        if (rq->force)
            log_warning("import failed (%s); force=true: nothing undone", e->code);
        else
            undo(rq);
        return e;
    }
    if (*rq->replaced && (e = drop_replaced(rq->replaced)))
        return e;
    char(*vms)[64] = xcalloc(rq->n + 1, sizeof(*vms));
    size_t n = 0;
    for (size_t i = 0; i < rq->n; i++)
        if (rq->objs[i].cls == C_VM && *rq->objs[i].ref) {
            /* the replaced VM's uuid is free now */
            if (*rq->replaced) {
                char *uuid = field_text(&rq->objs[i], FIDX(VM, uuid));
                struct changeset *cs = changeset_new();
                db_wrlock();
                if (uuid)
                    changeset_set(cs, C_VM, rq->objs[i].ref, FIDX(VM, uuid), uuid);
                api_error_free(api_apply(cs));
                db_unlock();
                free(uuid);
            }
            db_wrlock();
            const struct row *vm = db_get(C_VM, rq->objs[i].ref);
            if (vm) {
                char *allowed = vmops_allowed(vm);
                struct changeset *cs = changeset_new();
                changeset_set(cs, C_VM, vm->ref, FIDX(VM, allowed_operations), allowed);
                free(allowed);
                api_error_free(api_apply(cs));
            }
            db_unlock();
            snprintf(vms[n++], 64, "%s", rq->objs[i].ref);
        }
    log_info("import done: VM%s made", bad_sums ? " (with bad checksums, forced)" : "");
    *ret_vms = vms;
    *ret_n = n;
    return NULL;
}

static ssize_t from_request(void *arg, void *buf, size_t len)
{
    return xfer_read(arg, buf, len);
}

static struct api_error *import_run(struct xfer *x)
{
    struct import_req *rq = xfer_data(x);
    char(*vms)[64] = NULL;
    size_t n = 0;

    rq->in = xva_in_new(from_request, x);
    struct api_error *e = import_archive(rq, &vms, &n);
    if (e)
        return e;
    struct out o;
    out_init(&o, WIRE_XML);
    out_array_begin(&o);
    for (size_t i = 0; i < n; i++)
        out_string(&o, vms[i]);
    out_array_end(&o);
    size_t len;
    xfer_set_result(x, out_value(&o, &len));
    out_done(&o);
    free(vms);
    return NULL;
}

struct api_error *xva_import_stream(xva_read_fn fn, void *arg, const struct xva_import_opts *opts,
                                    char (**ret_vms)[64], size_t *ret_n)
{
    struct import_req *rq = xcalloc(1, sizeof(*rq));

    snprintf(rq->sr, sizeof(rq->sr), "%s", opts->sr);
    snprintf(rq->task, sizeof(rq->task), "%s", opts->task ? opts->task : "");
    rq->restore = opts->restore;
    rq->force = opts->force;
    rq->in = xva_in_new(fn, arg);
    struct api_error *e = import_archive(rq, ret_vms, ret_n);
    import_free(rq);
    return e;
}

const struct xfer_route xva_import_route = {
    .method = "PUT",
    .path = "/import",
    .realm = "VM.import",
    .label = "VM.import",
    .prepare = import_prepare,
    .run = import_run,
    .free_data = import_free,
};

/* ---- /import_metadata ---- */

static int metadata_prepare(struct xfer *x, struct api_error **ret_err)
{
    struct import_req *rq = xcalloc(1, sizeof(*rq));
    const char *k, *v;

    xfer_set_data(x, rq);
    rq->x = x;
    snprintf(rq->task, sizeof(rq->task), "%s", xfer_task(x));
    rq->metadata = true;
    rq->restore = flag(x, "restore");
    rq->force = flag(x, "force");
    rq->dry_run = flag(x, "dry_run");
    for (size_t i = 0; xfer_query_at(x, i, &k, &v); i++) {
        if (strncmp(k, "vdi:", 4) != 0 || !k[4])
            continue;
        if (strlen(k + 4) >= 40 || strlen(v) >= 40) {
            *ret_err = api_fail(UUID_INVALID, "VDI", strlen(k + 4) >= 40 ? k + 4 : v);
            return 500;
        }
        rq->map_from = xrealloc(rq->map_from, (rq->n_map + 1) * sizeof(*rq->map_from));
        rq->map_to = xrealloc(rq->map_to, (rq->n_map + 1) * sizeof(*rq->map_to));
        snprintf(rq->map_from[rq->n_map], 40, "%s", k + 4);
        snprintf(rq->map_to[rq->n_map++], 40, "%s", v);
    }
    return 0;
}

const struct xfer_route xva_import_metadata_route = {
    .method = "PUT",
    .path = "/import_metadata",
    .realm = "VM.import_metadata",
    .label = "VM.import_metadata",
    .prepare = metadata_prepare,
    .run = import_run,
    .free_data = import_free,
};
