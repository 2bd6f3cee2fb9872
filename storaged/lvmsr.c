/* The lvm driver's operations (see lvmsr.h): SRs that are a VG with a
 * thin pool on a block device, VDIs that are thin LVs, snapshots and
 * clones that are thin snapshots. Every change is ordered so that the
 * metadata write commits it and storaged/lvm.c's recovery plan explains
 * any crash before or after that write. */
#include "storaged/lvmsr.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "lib/cleanup.h"
#include "lib/log.h"
#include "lib/util.h"
#include "storaged/exec.h"
#include "storaged/lvm.h"

LOG_MODULE("lvm");

/* Runs op; *err (freed first) gets its stderr, *out (may be NULL) its
 * stdout. The exit status, or a negative errno. */
static int lvm_exec(enum lvm_op op, const struct lvm_args *a, char **out, char **err)
{
    struct lvm_cmd c;
    int r = lvm_cmd_build(op, a, &c);

    free(*err);
    *err = NULL;
    if (r < 0)
        return r;
    r = exec_run((const char *const *)c.argv, NULL, out, err);
    lvm_cmd_done(&c);
    return r;
}

/* Runs op; a failure is the backend error code, saying what failed. */
static sd_error *run(enum lvm_op op, const struct lvm_args *a, enum sm_error code, const char *what)
{
    _cleanup_free_ char *err = NULL;
    int r = lvm_exec(op, a, NULL, &err);

    return r == 0 ? NULL : sd_tool_failure(code, what, r, err);
}

/* For clean-ups that may fail without changing the answer: logged. */
static void run_logged(enum lvm_op op, const struct lvm_args *a, const char *what)
{
    _cleanup_free_ char *err = NULL;
    int r = lvm_exec(op, a, NULL, &err);

    if (r != 0) {
        _cleanup_free_ char *line = exec_summary(err ? err : "");
        log_warning("%s failed (%d): %s", what, r, line);
    }
}

/* The VG the PV on dev belongs to: *ret_vg a new string, "" when dev is
 * not a PV or in no VG (pvs fails on a device that is not a PV). */
static sd_error *pv_vg(const char *dev, char **ret_vg)
{
    struct lvm_args a = {.dev = dev, .devices = dev};
    _cleanup_free_ char *out = NULL, *err = NULL, *why = NULL;
    int r = lvm_exec(LVM_REPORT_PVS, &a, &out, &err);

    if (r != 0 || lvm_parse_pvs(out ? out : "", ret_vg, &why) == -ENOENT) {
        *ret_vg = xstrdup("");
        return NULL;
    }
    if (why)
        return sd_backend_failure(SM_SR_UNAVAILABLE, "pvs %s: %s", dev, why);
    return NULL;
}

/* The SR's device, which every lvm command of the SR is limited to. */
static const char *sr_dev(const struct sd_sr *sr)
{
    return sd_dc_get(sr->dc, "device");
}

static sd_error *report_lvs(const char *vg, const char *dev, struct lvm_lv **ret, size_t *ret_n)
{
    struct lvm_args a = {.vg = vg, .devices = dev};
    _cleanup_free_ char *out = NULL, *err = NULL, *why = NULL;
    int r = lvm_exec(LVM_REPORT_LVS, &a, &out, &err);

    if (r != 0)
        return sd_tool_failure(SM_SR_UNAVAILABLE, "The SR is not available: lvs", r, err);
    if (lvm_parse_lvs(out ? out : "", ret, ret_n, &why) < 0)
        return sd_backend_failure(SM_SR_UNAVAILABLE, "lvs %s: %s", vg, why);
    return NULL;
}

static sd_error *report_vg(const char *vg, const char *dev, struct lvm_vg *ret)
{
    struct lvm_args a = {.vg = vg, .devices = dev};
    _cleanup_free_ char *out = NULL, *err = NULL, *why = NULL;
    int r = lvm_exec(LVM_REPORT_VGS, &a, &out, &err);

    if (r != 0)
        return sd_tool_failure(SM_SR_UNAVAILABLE, "The SR is not available: vgs", r, err);
    if (lvm_parse_vgs(out ? out : "", ret, &why) < 0)
        return sd_backend_failure(SM_SR_UNAVAILABLE, "vgs %s: %s", vg, why);
    return NULL;
}

/* The size lvs gives the LV (rounded to extents), or -1 if it cannot. */
static int64_t lv_size(const char *vg, const char *dev, const char *lv)
{
    struct lvm_lv *lvs = NULL;
    size_t n = 0;
    sd_error *e = report_lvs(vg, dev, &lvs, &n);
    int64_t size = -1;

    if (e) {
        jsonrpc_error_free(e);
        return -1;
    }
    const struct lvm_lv *l = lvm_find_lv(lvs, n, lv);
    if (l)
        size = l->size;
    lvm_lvs_free(lvs, n);
    return size;
}

static void remove_lv(const char *vg, const char *dev, const char *lv)
{
    struct lvm_args a = {.vg = vg, .lv = lv, .devices = dev};
    run_logged(LVM_REMOVE, &a, "lvremove");
}

char *sd_lvm_vdi_path(const struct sd_sr *sr, const struct vdi_meta *v)
{
    _cleanup_free_ char *vg = lvm_vg_name(sr->uuid);
    return lvm_lv_path(vg, v->file);
}

sd_error *sd_lvm_probe(struct storaged *sd, json_object *dc, json_object **ret)
{
    const char *dev = sd_dc_get(dc, "device");
    _cleanup_free_ char *vg = NULL;
    char uuid[UUID_STR_LEN], tmp[UUID_STR_LEN];
    struct sr_meta m;
    sd_error *e;

    if ((e = pv_vg(dev, &vg)))
        return e;
    json_object *a = json_object_new_array();
    *ret = a;
    if (!lvm_vg_uuid(vg, uuid))
        return NULL;
    struct sd_sr *sr = sd_find_sr(sd, uuid);
    if (sr) {
        json_object_array_add(a, sd_sr_info(sr, &sr->meta, sr->root));
        return NULL;
    }
    /* Not attached: MGT is activated and mounted read-only just long
     * enough to read the metadata. */
    uuid_generate_str(tmp);
    _cleanup_free_ char *name = xasprintf(".probe-%s", tmp);
    _cleanup_free_ char *mp = sd_mount_point(sd, name);
    _cleanup_free_ char *mgt = lvm_lv_path(vg, LVM_MGT_LV);
    struct lvm_args args = {.vg = vg, .lv = LVM_MGT_LV, .devices = dev};
    if ((e = run(LVM_ACTIVATE, &args, SM_SR_UNAVAILABLE, "The SR is not available: lvchange"))) {
        json_object_put(a);
        return e;
    }
    if (!(e = sd_mount_ext(mgt, mp, true))) {
        if (sr_meta_load(mp, &m, NULL) == 0) {
            if (streq(m.type, "lvm") && streq(m.uuid, uuid))
                json_object_array_add(a, sd_sr_info(NULL, &m, mp));
            sr_meta_done(&m);
        }
        sd_unmount(mp);
    } else {
        /* A VG of our name whose MGT holds no file system holds no SR. */
        jsonrpc_error_free(e);
    }
    run_logged(LVM_DEACTIVATE, &args, "lvchange -an MGT");
    return NULL;
}

/* Undoes a create that failed after vgcreate. */
static void undo_create(const char *vg, const char *dev)
{
    struct lvm_args a = {.vg = vg, .dev = dev, .devices = dev};
    run_logged(LVM_VGREMOVE, &a, "vgremove");
    run_logged(LVM_PVREMOVE, &a, "pvremove");
}

sd_error *sd_lvm_create(struct storaged *sd, json_object *dc, const struct sr_meta *m,
                        json_object **ret)
{
    const char *dev = sd_dc_get(dc, "device");
    _cleanup_free_ char *vg = lvm_vg_name(m->uuid), *old = NULL, *err = NULL;
    _cleanup_free_ char *mp = sd_mount_point(sd, m->uuid);
    _cleanup_free_ char *mgt = lvm_lv_path(vg, LVM_MGT_LV);
    struct lvm_args a = {.dev = dev, .vg = vg, .devices = dev};
    sd_error *e;
    int r;

    if (sd_is_mount_point(mp))
        return jsonrpc_app_error("SR_DEVICE_IN_USE");
    if ((e = pv_vg(dev, &old)))
        return e;
    if (*old)
        return sd_backend_failure(SM_SR_EXISTS, "The SR already exists: %s holds the VG %s", dev,
                                  old);
    if ((e = run(LVM_PVCREATE, &a, SM_LVM_FILESYSTEM, "LVM creation error: pvcreate")))
        return e;
    if ((e = run(LVM_VGCREATE, &a, SM_LVM_FILESYSTEM, "LVM creation error: vgcreate"))) {
        run_logged(LVM_PVREMOVE, &a, "pvremove");
        return e;
    }
    if ((e = run(LVM_MGT_CREATE, &a, SM_LVM_FILESYSTEM, "LVM creation error: lvcreate MGT")) ||
        (e = run(LVM_POOL_CREATE, &a, SM_LVM_FILESYSTEM, "LVM creation error: lvcreate thin pool")))
        goto fail;
    const char *mkfs[] = {"mkfs.ext4", "-F", "-q", "-m", "0", mgt, NULL};
    if ((r = sd_run(mkfs, &err)) != 0) {
        e = sd_tool_failure(SM_LVM_FILESYSTEM, "mkfs.ext4 of MGT", r, err);
        goto fail;
    }
    if ((e = sd_mount_ext(mgt, mp, false)))
        goto fail;
    if ((r = sr_meta_save(mp, m)) < 0) {
        e = sd_meta_failure(r, m->uuid);
        sd_unmount(mp);
        goto fail;
    }
    *ret = sd_sr_info(NULL, m, mp);
    sd_unmount(mp);
    run_logged(LVM_DEACTIVATE, &a, "vgchange -an");
    return NULL;
fail:
    undo_create(vg, dev);
    return e;
}

sd_error *sd_lvm_open(struct storaged *sd, const char *uuid, json_object *dc, bool ro,
                      char **ret_root)
{
    const char *dev = sd_dc_get(dc, "device");
    _cleanup_free_ char *vg = lvm_vg_name(uuid), *have = NULL;
    _cleanup_free_ char *mp = sd_mount_point(sd, uuid);
    _cleanup_free_ char *mgt = lvm_lv_path(vg, LVM_MGT_LV);
    struct lvm_args a = {.vg = vg, .devices = dev};
    sd_error *e;

    if ((e = pv_vg(dev, &have)))
        return e;
    if (!streq(have, vg))
        return sd_backend_failure(SM_SR_UNAVAILABLE,
                                  "The SR is not available: %s holds %s%s, not the VG of SR %s",
                                  dev, *have ? "the VG " : "no VG", have, uuid);
    if (!sd_is_mount_point(mp)) {
        if ((e = run(LVM_ACTIVATE, &a, SM_SR_UNAVAILABLE, "The SR is not available: vgchange")))
            return e;
        if ((e = sd_mount_ext(mgt, mp, ro))) {
            run_logged(LVM_DEACTIVATE, &a, "vgchange -an");
            return e;
        }
    }
    *ret_root = TAKE_PTR(mp);
    return NULL;
}

void sd_lvm_close(const char *sr_uuid, const char *dev)
{
    _cleanup_free_ char *vg = lvm_vg_name(sr_uuid);
    struct lvm_args a = {.vg = vg, .devices = dev};
    run_logged(LVM_DEACTIVATE, &a, "vgchange -an");
}

sd_error *sd_lvm_sr_delete(struct storaged *sd, struct sd_sr *sr)
{
    _cleanup_free_ char *vg = lvm_vg_name(sr->uuid);
    _cleanup_free_ char *dev = xstrdup(sd_dc_get(sr->dc, "device"));
    _cleanup_free_ char *uuid = xstrdup(sr->uuid);
    struct lvm_args a = {.vg = vg, .dev = dev, .devices = dev};
    sd_error *e;

    for (size_t i = 0; i < sr->meta.n_vdis; i++)
        if (sr->meta.vdis[i].managed)
            return jsonrpc_app_error("SR_NOT_EMPTY");
    /* Detach first (MGT unmounted, VG inactive), then the VG goes. */
    if ((e = sd_remove_sr(sd, sr)))
        return e;
    if ((e = run(LVM_VGREMOVE, &a, SM_FILE_SR_DELETE, "SR deletion error: vgremove")))
        return e;
    run_logged(LVM_PVREMOVE, &a, "pvremove");
    log_notice("deleted lvm SR %s (VG %s on %s)", uuid, vg, dev);
    return NULL;
}

int sd_lvm_recover(struct sd_sr *sr)
{
    _cleanup_free_ char *vg = lvm_vg_name(sr->uuid);
    struct lvm_lv *lvs = NULL;
    struct lvm_plan p;
    size_t n = 0;
    bool changed = false;
    sd_error *e = report_lvs(vg, sr_dev(sr), &lvs, &n);

    if (e) {
        log_warning("SR %s: no recovery: %s", sr->uuid,
                    e->n_app_params > 1 ? e->app_params[1] : e->app_code);
        jsonrpc_error_free(e);
        return 0;
    }
    lvm_plan_recover(&sr->meta, lvs, n, &p);
    lvm_lvs_free(lvs, n);
    for (size_t i = 0; i < p.n_orphans; i++) {
        _cleanup_free_ char *lv = lvm_lv_name(p.orphans[i]);
        bool live = false;
        /* A copy fills it right now and commits it when done. */
        for (size_t j = 0; j < sr->n_live; j++)
            live = live || streq(sr->live[j], lv);
        if (live)
            continue;
        log_notice("SR %s: removing %s, left by an interrupted operation", sr->uuid, lv);
        remove_lv(vg, sr_dev(sr), lv);
    }
    for (size_t i = 0; i < p.n_foreign; i++)
        log_info("SR %s: LV-%s is not a VDI and not made by storaged: left alone "
                 "(vdi_introduce takes it in)",
                 sr->uuid, p.foreign[i]);
    for (size_t i = 0; i < p.n_missing; i++) {
        log_notice("SR %s: VDI %s has no LV: forgotten", sr->uuid, p.missing[i]);
        sr_meta_remove(&sr->meta, p.missing[i]);
        changed = true;
    }
    for (size_t i = 0; i < p.n_resized; i++) {
        sr_meta_find(&sr->meta, p.resized[i])->virtual_size = p.sizes[i];
        changed = true;
    }
    lvm_plan_done(&p);
    /* lvm operations write no journal: one here was not written by them. */
    if (sr->meta.journal.op[0]) {
        log_warning("SR %s: dropping a %s journal, which lvm SRs do not use", sr->uuid,
                    sr->meta.journal.op);
        memset(&sr->meta.journal, 0, sizeof(sr->meta.journal));
        changed = true;
    }
    return changed ? sr_meta_save(sr->root, &sr->meta) : 0;
}

void sd_lvm_sizes(const char *sr_uuid, const char *dev, int64_t *ret_size, int64_t *ret_used)
{
    _cleanup_free_ char *vg = lvm_vg_name(sr_uuid);
    struct lvm_vg v = {0};
    struct lvm_lv *lvs = NULL;
    size_t n = 0;
    sd_error *e;

    *ret_size = *ret_used = 0;
    if ((e = report_vg(vg, dev, &v))) {
        jsonrpc_error_free(e);
        return;
    }
    *ret_size = v.size;
    if ((e = report_lvs(vg, dev, &lvs, &n)))
        jsonrpc_error_free(e);
    else
        *ret_used = lvm_sr_used(&v, lvs, n);
    lvm_lvs_free(lvs, n);
    lvm_vg_done(&v);
}

static void fill_one(json_object *o, const struct lvm_lv *lvs, size_t n)
{
    json_object *u;

    if (!json_object_object_get_ex(o, "uuid", &u))
        return;
    _cleanup_free_ char *name = lvm_lv_name(json_object_get_string(u));
    const struct lvm_lv *lv = lvm_find_lv(lvs, n, name);
    if (lv)
        sd_add_int(o, "physical_utilisation", lvm_lv_used(lv));
}

void sd_lvm_fill_usage(const struct sd_sr *sr, json_object *info)
{
    _cleanup_free_ char *vg = lvm_vg_name(sr->uuid);
    struct lvm_lv *lvs = NULL;
    size_t n = 0;
    sd_error *e = report_lvs(vg, sr_dev(sr), &lvs, &n);

    if (e) {
        jsonrpc_error_free(e);
        return;
    }
    if (json_object_is_type(info, json_type_array)) {
        for (size_t i = 0; i < json_object_array_length(info); i++)
            fill_one(json_object_array_get_idx(info, i), lvs, n);
    } else {
        fill_one(info, lvs, n);
    }
    lvm_lvs_free(lvs, n);
}

static json_object *vdi_answer(const struct sd_sr *sr, const char *uuid)
{
    json_object *o = sd_vdi_info(sr->root, sr_meta_find(&sr->meta, uuid));
    sd_lvm_fill_usage(sr, o);
    return o;
}

sd_error *sd_lvm_activate(const struct sd_sr *sr, const struct vdi_meta *v)
{
    _cleanup_free_ char *vg = lvm_vg_name(sr->uuid);
    struct lvm_args a = {.vg = vg, .lv = v->file, .devices = sr_dev(sr)};
    return run(LVM_ACTIVATE, &a, SM_VDI_UNAVAILABLE, "The VDI is not available: lvchange -ay");
}

sd_error *sd_lvm_vdi_create(struct storaged *sd, struct sd_sr *sr, const struct sd_vdi_create *a,
                            json_object **ret)
{
    _cleanup_free_ char *vg = lvm_vg_name(sr->uuid);
    char uuid[UUID_STR_LEN];
    sd_error *e;
    int r;

    if (a->virtual_size <= 0 || a->virtual_size > MAX_VDI_SIZE)
        return sd_backend_failure(SM_VDI_SIZE, "VDI Invalid size: %lld is not in 1..%lld",
                                  (long long)a->virtual_size, (long long)MAX_VDI_SIZE);
    if (a->format && !streq(a->format, "raw"))
        return sd_backend_failure(SM_VDI_TYPE, "Invalid VDI type: %s (an lvm SR holds raw VDIs)",
                                  a->format);
    if ((e = sd_new_vdi_uuid(sr, a->vdi_uuid, uuid)))
        return e;
    _cleanup_free_ char *lv = lvm_lv_name(uuid);
    struct lvm_args args = {.vg = vg, .lv = lv, .size = a->virtual_size, .devices = sr_dev(sr)};
    if ((e = run(LVM_THIN_CREATE, &args, SM_VDI_CREATE, "VDI Creation failed: lvcreate")))
        return e;
    sd_fist(sd, "create-written");
    int64_t real = lv_size(vg, sr_dev(sr), lv);
    if (real < 0) {
        remove_lv(vg, sr_dev(sr), lv);
        return sd_backend_failure(SM_VDI_CREATE, "VDI Creation failed: lvs does not list %s", lv);
    }
    struct vdi_meta *v = sr_meta_add(&sr->meta, uuid);
    meta_set_str(&v->name_label, a->names.name_label ? a->names.name_label : "");
    meta_set_str(&v->name_description, a->names.name_description ? a->names.name_description : "");
    meta_set_str(&v->file, lv);
    snprintf(v->format, sizeof(v->format), "raw");
    v->virtual_size = real;
    v->sharable = a->sharable;
    v->read_only = a->read_only;
    if ((r = sr_meta_save(sr->root, &sr->meta)) < 0) {
        sr_meta_remove(&sr->meta, uuid);
        remove_lv(vg, sr_dev(sr), lv);
        return sd_meta_failure(r, sr->uuid);
    }
    sd_fist(sd, "create-committed");
    log_info("SR %s: created VDI %s (thin LV of %lld bytes)", sr->uuid, uuid, (long long)real);
    *ret = vdi_answer(sr, uuid);
    return NULL;
}

sd_error *sd_lvm_vdi_delete(struct storaged *sd, struct sd_sr *sr, const struct vdi_meta *v)
{
    _cleanup_free_ char *vg = lvm_vg_name(sr->uuid);
    _cleanup_free_ char *lv = xstrdup(v->file);
    char uuid[UUID_STR_LEN];
    int r;

    memcpy(uuid, v->uuid, UUID_STR_LEN);
    /* The metadata commits the delete; an LV left by a crash after it is
     * an orphan that recovery removes. */
    struct sr_meta before;
    _cleanup_free_ char *doc = sr_meta_to_json(&sr->meta);
    sr_meta_remove(&sr->meta, uuid);
    if ((r = sr_meta_save(sr->root, &sr->meta)) < 0) {
        if (sr_meta_from_json(doc, &before, NULL) == 0) {
            sr_meta_done(&sr->meta);
            sr->meta = before;
        }
        return sd_meta_failure(r, sr->uuid);
    }
    sd_fist(sd, "delete-journaled");
    remove_lv(vg, sr_dev(sr), lv);
    log_info("SR %s: deleted VDI %s", sr->uuid, uuid);
    return NULL;
}

sd_error *sd_lvm_vdi_resize(struct storaged *sd, struct sd_sr *sr, struct vdi_meta *v,
                            int64_t new_size, json_object **ret)
{
    _cleanup_free_ char *vg = lvm_vg_name(sr->uuid);
    char uuid[UUID_STR_LEN];
    sd_error *e;

    (void)sd;
    memcpy(uuid, v->uuid, UUID_STR_LEN);
    if (new_size < v->virtual_size)
        return sd_backend_failure(SM_VDI_SIZE,
                                  "VDI Invalid size [opterr=shrinking not allowed]: %s has "
                                  "%lld bytes, %lld asked",
                                  uuid, (long long)v->virtual_size, (long long)new_size);
    if (new_size > MAX_VDI_SIZE)
        return sd_backend_failure(SM_VDI_SIZE, "VDI Invalid size: %lld is over %lld",
                                  (long long)new_size, (long long)MAX_VDI_SIZE);
    if (new_size > v->virtual_size) {
        struct lvm_args a = {.vg = vg, .lv = v->file, .size = new_size, .devices = sr_dev(sr)};
        if ((e = run(LVM_EXTEND, &a, SM_VDI_RESIZE, "VDI resize failed: lvextend")))
            return e;
        int64_t real = lv_size(vg, sr_dev(sr), v->file);
        v->virtual_size = real > 0 ? real : new_size;
        int r = sr_meta_save(sr->root, &sr->meta);
        if (r < 0)
            return sd_meta_failure(r, sr->uuid);
    }
    *ret = vdi_answer(sr, uuid);
    return NULL;
}

sd_error *sd_lvm_vdi_snapshot(struct storaged *sd, struct sd_sr *sr, const struct vdi_meta *v,
                              const char *new_uuid, const struct sd_names *names, bool clone,
                              json_object **ret)
{
    const char *op = clone ? "clone" : "snapshot";
    enum sm_error code = clone ? SM_VDI_CLONE : SM_VDI_SNAPSHOT;
    _cleanup_free_ char *vg = lvm_vg_name(sr->uuid);
    char created[UUID_STR_LEN], now[DATETIME_LEN];
    sd_error *e;
    int r;

    if ((e = sd_new_vdi_uuid(sr, new_uuid, created)))
        return e;
    _cleanup_free_ char *lv = lvm_lv_name(created);
    _cleanup_free_ char *what = xasprintf("Failed to %s VDI %s: lvcreate -s", op, v->uuid);
    struct lvm_args a = {.vg = vg, .lv = v->file, .new_lv = lv, .devices = sr_dev(sr)};
    if ((e = run(LVM_SNAPSHOT, &a, code, what)))
        return e;
    sd_fist(sd, "snapshot-created");
    /* v moves when a VDI is added: what the new one takes from it first. */
    struct vdi_meta orig = *v;
    _cleanup_free_ char *label = xstrdup(names->name_label ? names->name_label : orig.name_label);
    _cleanup_free_ char *desc =
        xstrdup(names->name_description ? names->name_description : orig.name_description);
    datetime_format(time(NULL), now);
    struct vdi_meta *c = sr_meta_add(&sr->meta, created);
    meta_set_str(&c->name_label, label);
    meta_set_str(&c->name_description, desc);
    meta_set_str(&c->file, lv);
    snprintf(c->format, sizeof(c->format), "raw");
    c->virtual_size = orig.virtual_size;
    c->sharable = orig.sharable;
    c->read_only = orig.read_only;
    if (!clone) {
        c->is_a_snapshot = true;
        memcpy(c->snapshot_of, orig.uuid, UUID_STR_LEN);
        memcpy(c->snapshot_time, now, DATETIME_LEN);
    }
    if ((r = sr_meta_save(sr->root, &sr->meta)) < 0) {
        sr_meta_remove(&sr->meta, created);
        remove_lv(vg, sr_dev(sr), lv);
        return sd_meta_failure(r, sr->uuid);
    }
    sd_fist(sd, "snapshot-committed");
    log_info("SR %s: %s of %s is %s (thin snapshot)", sr->uuid, op, orig.uuid, created);
    *ret = vdi_answer(sr, created);
    return NULL;
}

sd_error *sd_lvm_vdi_introduce(struct storaged *sd, struct sd_sr *sr, const char *uuid,
                               const char *location, json_object **ret)
{
    _cleanup_free_ char *vg = lvm_vg_name(sr->uuid), *lv = lvm_lv_name(uuid);
    struct lvm_lv *lvs = NULL;
    size_t n = 0;
    sd_error *e;
    int r;

    (void)sd;
    /* XCP's LVM SRs give a VDI its uuid as location; the LV name is ours. */
    if (location && !streq(location, lv) && !streq(location, uuid))
        return sd_backend_failure(SM_VDI_LOAD,
                                  "Failed to load VDI: the location of VDI %s of an lvm SR is its "
                                  "LV %s, not %s",
                                  uuid, lv, location);
    if ((e = report_lvs(vg, sr_dev(sr), &lvs, &n)))
        return e;
    const struct lvm_lv *l = lvm_find_lv(lvs, n, lv);
    /* A thin snapshot (it names its origin) is a VDI all the same. */
    bool thin = l && streq(l->pool, LVM_POOL_LV);
    int64_t size = l ? l->size : 0;
    bool tagged = l && l->tagged;
    lvm_lvs_free(lvs, n);
    if (!l)
        return jsonrpc_app_error("VDI_LOCATION_MISSING", sr->uuid, lv);
    if (!thin)
        return sd_backend_failure(SM_VDI_TYPE,
                                  "Invalid VDI type: %s is not a thin LV of the pool %s of VG %s",
                                  lv, LVM_POOL_LV, vg);
    struct vdi_meta *v = sr_meta_add(&sr->meta, uuid);
    meta_set_str(&v->file, lv);
    snprintf(v->format, sizeof(v->format), "raw");
    v->virtual_size = size;
    if ((r = sr_meta_save(sr->root, &sr->meta)) < 0) {
        sr_meta_remove(&sr->meta, uuid);
        return sd_meta_failure(r, sr->uuid);
    }
    /* Tagged only once committed: a crash before leaves the LV as it was,
     * untagged, which recovery never removes. */
    if (!tagged) {
        struct lvm_args a = {.vg = vg, .lv = lv, .devices = sr_dev(sr)};
        run_logged(LVM_ADDTAG, &a, "lvchange --addtag");
    }
    log_info("SR %s: introduced VDI %s (LV %s, %lld bytes)", sr->uuid, uuid, lv, (long long)size);
    *ret = vdi_answer(sr, uuid);
    return NULL;
}

sd_error *sd_lvm_copy_source(const struct sd_sr *sr, const struct vdi_meta *v, char **ret_path,
                             int64_t *ret_used)
{
    _cleanup_free_ char *vg = lvm_vg_name(sr->uuid);
    _cleanup_free_ char *path = lvm_lv_path(vg, v->file);
    struct lvm_lv *lvs = NULL;
    size_t n = 0;
    sd_error *e;

    /* The VG is active while the SR is attached: lvchange only when an
     * LV was left inactive. */
    if (access(path, F_OK) < 0 && (e = sd_lvm_activate(sr, v)))
        return e;
    *ret_used = 0;
    if (!report_lvs(vg, sr_dev(sr), &lvs, &n)) {
        const struct lvm_lv *l = lvm_find_lv(lvs, n, v->file);
        *ret_used = l ? lvm_lv_used(l) : 0;
    } else {
        *ret_used = v->virtual_size; /* unknown: the most it can be */
    }
    lvm_lvs_free(lvs, n);
    *ret_path = TAKE_PTR(path);
    return NULL;
}

sd_error *sd_lvm_free_space(const struct sd_sr *sr, int64_t *ret)
{
    _cleanup_free_ char *vg = lvm_vg_name(sr->uuid);
    struct lvm_lv *lvs = NULL;
    size_t n = 0;
    sd_error *e = report_lvs(vg, sr_dev(sr), &lvs, &n);

    if (e)
        return e;
    *ret = lvm_pool_free(lvs, n);
    lvm_lvs_free(lvs, n);
    if (*ret < 0)
        return sd_backend_failure(SM_SR_UNAVAILABLE, "The SR is not available: VG %s has no %s", vg,
                                  LVM_POOL_LV);
    return NULL;
}

sd_error *sd_lvm_copy_target(const char *sr_uuid, const char *dev, const char *uuid, int64_t size,
                             char **ret_path, int64_t *ret_size)
{
    _cleanup_free_ char *vg = lvm_vg_name(sr_uuid), *lv = lvm_lv_name(uuid);
    struct lvm_args a = {.vg = vg, .lv = lv, .size = size, .devices = dev};
    sd_error *e;

    if ((e = run(LVM_THIN_CREATE, &a, SM_VDI_CREATE, "VDI copy failed: lvcreate")))
        return e;
    int64_t real = lv_size(vg, dev, lv);
    if (real < size) {
        remove_lv(vg, dev, lv);
        return sd_backend_failure(SM_VDI_CREATE, "VDI copy failed: lvs does not list %s", lv);
    }
    *ret_path = lvm_lv_path(vg, lv);
    *ret_size = real;
    return NULL;
}

void sd_lvm_copy_drop(const char *sr_uuid, const char *dev, const char *uuid)
{
    _cleanup_free_ char *vg = lvm_vg_name(sr_uuid), *lv = lvm_lv_name(uuid);
    remove_lv(vg, dev, lv);
}
