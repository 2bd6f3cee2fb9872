/* vdi_snapshot and vdi_clone: the VDI's image becomes a hidden read-only
 * base, and the VDI and its snapshot (or clone) become new overlays on it.
 * A journal in the metadata, written before the first file step and
 * dropped by the write that commits, lets storaged/recover.c undo an
 * interrupted one. */
#include "storaged/internal.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include "lib/cleanup.h"
#include "lib/log.h"
#include "lib/util.h"
#include "storaged/chain.h"
#include "storaged/exec.h"
#include "storaged/lvmsr.h"
#include "storaged/qcow2.h"
#include "storaged/recover.h"

LOG_MODULE("snapshot");

/* An empty overlay on the base bfile, made in-process (storaged/qcow2.h),
 * not yet fsynced: the virtual size is that of the image at vpath (which
 * becomes the base), as qemu-img create -b makes it. */
static int create_overlay(const char *vpath, const char *bfile, const char *path)
{
    int64_t size;
    int r = qcow2_read_header(vpath, &size, NULL);
    return r < 0 ? r : qcow2_create(path, size, bfile, "qcow2");
}

sd_error *sd_vdi_snapshot(struct storaged *sd, const char *sr_uuid, const char *vdi_uuid,
                          const char *new_uuid, const struct sd_names *names, bool clone,
                          json_object **ret)
{
    const char *op = clone ? "clone" : "snapshot";
    enum sm_error code = clone ? SM_VDI_CLONE : SM_VDI_SNAPSHOT;
    char base[UUID_STR_LEN], created[UUID_STR_LEN];
    struct vdi_meta *v = NULL;
    struct sd_sr *sr = NULL;
    sd_error *e;
    int r;
    LOCKED(sd);

    if ((e = sd_get_sr(sd, sr_uuid, &sr)) || (e = sd_check_writable_sr(sr)) ||
        (e = sd_get_vdi(sr, vdi_uuid, &v)) || (e = sd_check_vdi_free(sr, v, op, true)))
        return e;
    if (sd_is_lvm(sr))
        return sd_lvm_vdi_snapshot(sd, sr, v, new_uuid, names, clone, ret);
    if (!v->managed)
        return sd_backend_failure(code, "Failed to %s VDI %s: it is a base copy", op, vdi_uuid);
    if (!streq(v->format, "qcow2"))
        return sd_backend_failure(code, "Failed to %s VDI %s: a %s image has no snapshots", op,
                                  vdi_uuid, v->format);
    if (chain_depth(&sr->meta, vdi_uuid) >= CHAIN_MAX_DEPTH)
        return sd_backend_failure(SM_SNAPSHOT_CHAIN_TOO_LONG,
                                  "The snapshot chain is too long: VDI %s has %d images", vdi_uuid,
                                  chain_depth(&sr->meta, vdi_uuid));
    if ((e = sd_new_vdi_uuid(sr, new_uuid, created)))
        return e;
    uuid_generate_str(base);

    _cleanup_free_ char *vpath = sd_path_in(sr, v->file);
    _cleanup_free_ char *vtmp = xasprintf("%s.tmp", vpath);
    _cleanup_free_ char *bfile = recover_base_file(base);
    _cleanup_free_ char *bpath = sd_path_in(sr, bfile);
    _cleanup_free_ char *cfile = xasprintf("%s.qcow2", created);
    _cleanup_free_ char *cpath = sd_path_in(sr, cfile);
    _cleanup_free_ char *ctmp = xasprintf("%s.tmp", cpath);

    /* The two overlays are written first, under temporary names that
     * recovery removes, then the journal; one flush of the disk then makes
     * the three durable before any file is renamed. */
    if ((r = create_overlay(vpath, bfile, ctmp)) < 0 ||
        (r = create_overlay(vpath, bfile, vtmp)) < 0) {
        unlink(ctmp);
        unlink(vtmp);
        return sd_backend_failure(code, "Failed to %s VDI %s: cannot make its overlays: %s", op,
                                  vdi_uuid, strerror(-r));
    }
    sr->meta.journal = (struct sr_journal){0};
    snprintf(sr->meta.journal.op, sizeof(sr->meta.journal.op), "%s", op);
    memcpy(sr->meta.journal.vdi, vdi_uuid, UUID_STR_LEN);
    memcpy(sr->meta.journal.base, base, UUID_STR_LEN);
    memcpy(sr->meta.journal.created, created, UUID_STR_LEN);
    if ((r = sr_meta_save_begin(sr->root, &sr->meta)) < 0 || (r = sd_fsync_path(ctmp)) < 0 ||
        (r = sd_fsync_path(vtmp)) < 0 || (r = sr_meta_save_end(sr->root)) < 0) {
        memset(&sr->meta.journal, 0, sizeof(sr->meta.journal));
        unlink(ctmp);
        unlink(vtmp);
        return sd_meta_failure(r, sr_uuid);
    }
    sd_fist(sd, "snapshot-journaled");
    if (rename(vpath, bpath) < 0) {
        e = sd_backend_failure(code, "Failed to %s VDI %s: %s", op, vdi_uuid, strerror(errno));
        goto fail;
    }
    sd_fist(sd, "snapshot-renamed");
    if (rename(ctmp, cpath) < 0) {
        e = sd_backend_failure(code, "Failed to %s VDI %s: %s", op, vdi_uuid, strerror(errno));
        goto fail;
    }
    sd_fist(sd, "snapshot-created");
    if (rename(vtmp, vpath) < 0) {
        e = sd_backend_failure(code, "Failed to %s VDI %s: %s", op, vdi_uuid, strerror(errno));
        goto fail;
    }
    sd_fist(sd, "snapshot-replaced");

    /* Commit: the base takes the VDI's place in the chain. */
    struct vdi_meta orig = *v;
    char now[DATETIME_LEN];
    datetime_format(time(NULL), now);
    struct vdi_meta *b = sr_meta_add(&sr->meta, base);
    meta_set_str(&b->name_label, "base copy");
    b->virtual_size = orig.virtual_size;
    memcpy(b->parent, orig.parent, UUID_STR_LEN);
    b->read_only = true;
    b->managed = false;
    struct vdi_meta *c = sr_meta_add(&sr->meta, created);
    meta_set_str(&c->name_label, names->name_label ? names->name_label : orig.name_label);
    meta_set_str(&c->name_description,
                 names->name_description ? names->name_description : orig.name_description);
    c->virtual_size = orig.virtual_size;
    memcpy(c->parent, base, UUID_STR_LEN);
    c->sharable = orig.sharable;
    c->read_only = orig.read_only;
    if (!clone) {
        c->is_a_snapshot = true;
        memcpy(c->snapshot_of, vdi_uuid, UUID_STR_LEN);
        memcpy(c->snapshot_time, now, DATETIME_LEN);
    }
    memcpy(sr_meta_find(&sr->meta, vdi_uuid)->parent, base, UUID_STR_LEN);
    memset(&sr->meta.journal, 0, sizeof(sr->meta.journal));
    if ((r = sr_meta_save(sr->root, &sr->meta)) < 0) {
        e = sd_meta_failure(r, sr_uuid);
        goto fail;
    }
    sd_fist(sd, "snapshot-committed");
    log_info("SR %s: %s of %s is %s (base %s)", sr_uuid, op, vdi_uuid, created, base);
    /* The other VDIs the chain change touched go with the answer, so that
     * xapi records them without scanning the whole SR. */
    json_object *o = sd_vdi_info(sr->root, sr_meta_find(&sr->meta, created));
    json_object *updated = json_object_new_array();
    json_object_array_add(updated, sd_vdi_info(sr->root, sr_meta_find(&sr->meta, base)));
    json_object_array_add(updated, sd_vdi_info(sr->root, sr_meta_find(&sr->meta, vdi_uuid)));
    json_object_object_add(o, "updated", updated);
    json_object_object_add(o, "sr", sd_sr_info(sr, &sr->meta, sr->root));
    *ret = o;
    return NULL;
fail:
    sd_roll_back(sr);
    return e;
}
