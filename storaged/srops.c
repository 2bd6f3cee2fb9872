/* The SR operations of the method table: sr_probe, sr_create, sr_attach,
 * sr_detach, sr_list, sr_scan, sr_update and sr_delete, for each driver. */
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

LOG_MODULE("srops");

/* The SRs of an NFS export: the folders under serverpath that hold the
 * metadata of an nfs SR. */
static sd_error *probe_nfs(struct storaged *sd, json_object *dc, const char *name,
                           json_object **ret)
{
    _cleanup_free_ char *mp = sd_mount_point(sd, name);
    _cleanup_free_ char *remote = sd_nfs_remote(dc, NULL);
    struct dirent *de;
    sd_error *e;
    DIR *d;

    if ((e = sd_mount_nfs(remote, sd_dc_get(dc, "nfsversion"), true, mp, SM_NFS_MOUNT)))
        return e;
    json_object *a = json_object_new_array();
    if ((d = opendir(mp))) {
        while ((de = readdir(d))) {
            _cleanup_free_ char *dir = xasprintf("%s/%s", mp, de->d_name);
            struct sr_meta m;
            if (!uuid_is_valid(de->d_name) || sr_meta_load(dir, &m, NULL) < 0)
                continue;
            if (streq(m.type, "nfs") && streq(m.uuid, de->d_name))
                json_object_array_add(a, sd_sr_info(NULL, &m, dir));
            sr_meta_done(&m);
        }
        closedir(d);
    }
    sd_unmount(mp);
    *ret = a;
    return NULL;
}

sd_error *sd_sr_probe(struct storaged *sd, const char *type, json_object *dc, json_object **ret)
{
    const struct sd_driver *drv = NULL;
    _cleanup_free_ char *root = NULL;
    _cleanup_free_ char *probe_uuid = NULL;
    bool mounted = false;
    struct sr_meta m;
    sd_error *e;
    char tmp[UUID_STR_LEN];
    LOCKED(sd);

    if ((e = sd_find_driver(type, dc, &drv)))
        return e;
    /* A probe mounts read-only at a mount point of its own. */
    uuid_generate_str(tmp);
    probe_uuid = xasprintf(".probe-%s", tmp);
    if (streq(drv->type, "nfs"))
        return probe_nfs(sd, dc, probe_uuid, ret);
    if (streq(drv->type, "lvm"))
        return sd_lvm_probe(sd, dc, ret);
    if ((e = sd_open_media(sd, drv, probe_uuid, dc, true, &root, &mounted))) {
        /* An ext device without a file system holds no SR. */
        if (streq(drv->type, "ext")) {
            jsonrpc_error_free(e);
            *ret = json_object_new_array();
            return NULL;
        }
        return e;
    }
    json_object *a = json_object_new_array();
    if (!streq(drv->type, "iso") && sr_meta_load(root, &m, NULL) == 0) {
        if (streq(m.type, drv->type))
            json_object_array_add(a, sd_sr_info(NULL, &m, root));
        sr_meta_done(&m);
    }
    if (mounted)
        sd_unmount(root);
    *ret = a;
    return NULL;
}

/* Refuses media that already hold an SR. */
static sd_error *check_no_sr(const char *root)
{
    struct sr_meta old;

    if (sr_meta_load(root, &old, NULL) == -ENOENT)
        return NULL;
    sd_error *e = old.uuid[0]
                      ? sd_backend_failure(SM_SR_EXISTS, "The SR already exists: %s holds SR %s",
                                           root, old.uuid)
                      : sd_backend_failure(SM_SR_EXISTS,
                                           "The SR already exists: %s holds SR "
                                           "metadata",
                                           root);
    sr_meta_done(&old);
    return e;
}

static sd_error *create_ext(struct storaged *sd, json_object *dc, const struct sr_meta *m,
                            json_object **ret)
{
    const char *dev = sd_dc_get(dc, "device");
    _cleanup_free_ char *mp = sd_mount_point(sd, m->uuid);
    _cleanup_free_ char *err = NULL;
    sd_error *e;
    int r;

    if (sd_is_mount_point(mp))
        return jsonrpc_app_error("SR_DEVICE_IN_USE");
    /* A file system that mounts and holds SR metadata is an SR already. */
    if (!sd_mount_ext(dev, mp, true)) {
        e = check_no_sr(mp);
        sd_unmount(mp);
        if (e)
            return e;
    }
    const char *argv[] = {"mkfs.ext4", "-F", "-q", "-m", "0", dev, NULL};
    if ((r = sd_run(argv, &err)) != 0)
        return sd_tool_failure(SM_LVM_FILESYSTEM, "mkfs.ext4", r, err);
    if ((e = sd_mount_ext(dev, mp, false)))
        return e;
    if ((r = sr_meta_save(mp, m)) < 0)
        e = sd_meta_failure(r, m->uuid);
    else
        *ret = sd_sr_info(NULL, m, mp);
    sd_unmount(mp);
    return e;
}

/* An NFS SR is the folder <serverpath>/<sr_uuid> on the server, made here
 * with the SR's metadata in it, as XCP's NFSSR does. */
static sd_error *create_nfs(struct storaged *sd, json_object *dc, const struct sr_meta *m,
                            json_object **ret)
{
    _cleanup_free_ char *name = xasprintf(".create-%s", m->uuid);
    _cleanup_free_ char *mp = sd_mount_point(sd, name);
    _cleanup_free_ char *remote = sd_nfs_remote(dc, NULL);
    _cleanup_free_ char *dir = xasprintf("%s/%s", mp, m->uuid);
    sd_error *e;
    int r;

    if ((e = sd_mount_nfs(remote, sd_dc_get(dc, "nfsversion"), false, mp, SM_NFS_MOUNT)))
        return e;
    if (mkdir(dir, 0700) < 0 && errno != EEXIST)
        e = sd_backend_failure(SM_NFS_CREATE, "NFS SR creation error: %s/%s: %s", remote, m->uuid,
                               strerror(errno));
    else if (!(e = check_no_sr(dir))) {
        if ((r = sr_meta_save(dir, m)) < 0)
            e = sd_meta_failure(r, m->uuid);
        else
            *ret = sd_sr_info(NULL, m, dir);
    }
    sd_unmount(mp);
    return e;
}

/* Removes an NFS SR's folder from the server once it is empty. */
static void remove_nfs_folder(struct storaged *sd, json_object *dc, const char *sr_uuid)
{
    _cleanup_free_ char *name = xasprintf(".delete-%s", sr_uuid);
    _cleanup_free_ char *mp = sd_mount_point(sd, name);
    _cleanup_free_ char *remote = sd_nfs_remote(dc, NULL);
    _cleanup_free_ char *dir = xasprintf("%s/%s", mp, sr_uuid);
    sd_error *e = sd_mount_nfs(remote, sd_dc_get(dc, "nfsversion"), false, mp, SM_NFS_MOUNT);

    if (e) {
        log_warning("SR %s: cannot remove its folder from %s: %s", sr_uuid, remote,
                    e->n_app_params > 1 ? e->app_params[1] : e->app_code);
        jsonrpc_error_free(e);
        return;
    }
    if (rmdir(dir) < 0)
        log_warning("SR %s: cannot remove %s: %m", sr_uuid, dir);
    sd_unmount(mp);
}

sd_error *sd_sr_create(struct storaged *sd, const char *type, const char *sr_uuid, json_object *dc,
                       const struct sd_names *names, bool shared, json_object **ret)
{
    const struct sd_driver *drv = NULL;
    _cleanup_free_ char *root = NULL;
    struct sr_meta m;
    bool mounted;
    sd_error *e;
    int r;
    LOCKED(sd);

    if ((e = sd_find_driver(type, dc, &drv)))
        return e;
    if (sd_find_sr(sd, sr_uuid))
        return sd_backend_failure(SM_SR_EXISTS, "The SR already exists: %s is attached", sr_uuid);
    sr_meta_init(&m);
    memcpy(m.uuid, sr_uuid, UUID_STR_LEN);
    snprintf(m.type, sizeof(m.type), "%s", drv->type);
    meta_set_str(&m.name_label, names->name_label ? names->name_label : "");
    meta_set_str(&m.name_description, names->name_description ? names->name_description : "");
    meta_set_str(&m.content_type, drv->content_type);
    m.shared = shared;

    if (streq(drv->type, "iso")) {
        /* An ISO library is someone else's folder: nothing is written to
         * it; checking that it can be reached is the whole creation. */
        if (!(e = sd_open_media(sd, drv, sr_uuid, dc, true, &root, &mounted))) {
            *ret = sd_sr_info(NULL, &m, root);
            if (mounted)
                sd_unmount(root);
        }
    } else if (streq(drv->type, "ext")) {
        e = create_ext(sd, dc, &m, ret);
    } else if (streq(drv->type, "nfs")) {
        e = create_nfs(sd, dc, &m, ret);
    } else if (streq(drv->type, "lvm")) {
        e = sd_lvm_create(sd, dc, &m, ret);
    } else {
        const char *loc = sd_dc_get(dc, "location");
        if (mkdir(loc, 0700) < 0 && errno != EEXIST)
            e = sd_backend_failure(SM_FILE_SR_CREATE, "File SR creation error: %s: %s", loc,
                                   strerror(errno));
        else if (!(e = check_no_sr(loc))) {
            if ((r = sr_meta_save(loc, &m)) < 0)
                e = sd_meta_failure(r, sr_uuid);
            else
                *ret = sd_sr_info(NULL, &m, loc);
        }
    }
    if (!e)
        log_notice("created %s SR %s", drv->type, sr_uuid);
    sr_meta_done(&m);
    return e;
}

sd_error *sd_sr_attach(struct storaged *sd, const char *type, const char *sr_uuid, json_object *dc,
                       json_object **ret)
{
    const struct sd_driver *drv = NULL;
    struct sd_sr *sr = NULL;
    char *root = NULL;
    bool mounted;
    sd_error *e;
    LOCKED(sd);

    sr = sd_find_sr(sd, sr_uuid);
    if (sr) {
        if (!streq(sr->drv->type, type))
            return sd_backend_failure(SM_SR_UNAVAILABLE, "SR %s is attached with type %s, not %s",
                                      sr_uuid, sr->drv->type, type);
        *ret = sd_sr_info(sr, &sr->meta, sr->root);
        return NULL;
    }
    if ((e = sd_find_driver(type, dc, &drv)))
        return e;
    if ((e = sd_open_media(sd, drv, sr_uuid, dc, false, &root, &mounted)))
        return e;
    if ((e = sd_add_sr(sd, drv, sr_uuid, dc, root, mounted, &sr))) {
        if (mounted)
            sd_unmount(root);
        free(root);
        return e;
    }
    free(root);
    sd_save_state(sd, sr);
    log_notice("attached %s SR %s at %s", type, sr_uuid, sr->root);
    *ret = sd_sr_info(sr, &sr->meta, sr->root);
    return NULL;
}

sd_error *sd_sr_detach(struct storaged *sd, const char *sr_uuid)
{
    struct sd_sr *sr = NULL;
    sd_error *e;
    LOCKED(sd);

    sr = sd_find_sr(sd, sr_uuid);
    if (!sr)
        return NULL;
    if ((e = sd_check_sr_idle(sr, "unplug")))
        return e;
    return sd_remove_sr(sd, sr);
}

sd_error *sd_sr_list(struct storaged *sd, json_object **ret)
{
    json_object *a = json_object_new_array();
    LOCKED(sd);

    for (size_t i = 0; i < sd->n_srs; i++) {
        json_object *o = json_object_new_object();
        sd_add_str(o, "sr_uuid", sd->srs[i]->uuid);
        sd_add_str(o, "type", sd->srs[i]->drv->type);
        json_object_object_add(o, "device_config", json_object_get(sd->srs[i]->dc));
        json_object_array_add(a, o);
    }
    *ret = a;
    return NULL;
}

sd_error *sd_sr_scan(struct storaged *sd, const char *sr_uuid, json_object **ret)
{
    struct sd_sr *sr = NULL;
    sd_error *e;
    LOCKED(sd);

    if ((e = sd_get_sr(sd, sr_uuid, &sr)))
        return e;
    if (streq(sr->drv->type, "iso")) {
        int r = sd_iso_scan(sr);
        if (r < 0) {
            errno = -r;
            return sd_backend_failure(SM_SR_UNAVAILABLE, "The SR is not available: %s: %m",
                                      sr->root);
        }
    } else {
        /* The media are the truth: their metadata is read again, so media
         * that went away (an unmounted folder) fail the scan rather than
         * look empty, and a size changed behind storaged's back (or by a
         * resize that crashed before its commit) is taken from the image. */
        struct sr_meta fresh;
        if ((e = sd_read_meta(sr->root, sr_uuid, &fresh)))
            return e;
        sr_meta_done(&sr->meta);
        sr->meta = fresh;
        int r = sd_recover(sr);
        if (r < 0)
            return sd_meta_failure(r, sr_uuid);
        sd_gc(sd, sr);
        bool changed = false;
        for (size_t i = 0; i < sr->meta.n_vdis; i++) {
            struct vdi_meta *v = &sr->meta.vdis[i];
            _cleanup_free_ char *path = sd_path_in(sr, v->file);
            int64_t size;
            struct stat st;
            if (streq(v->format, "qcow2") && qcow2_read_header(path, &size, NULL) == 0)
                ;
            else if (!streq(v->format, "qcow2") && stat(path, &st) == 0)
                size = st.st_size;
            else
                continue;
            if (size != v->virtual_size) {
                v->virtual_size = size;
                changed = true;
            }
        }
        if (changed && (r = sr_meta_save(sr->root, &sr->meta)) < 0)
            return sd_meta_failure(r, sr_uuid);
    }
    json_object *o = json_object_new_object();
    json_object *vdis = json_object_new_array_ext((int)sr->meta.n_vdis);
    json_object_object_add(o, "sr", sd_sr_info(sr, &sr->meta, sr->root));
    for (size_t i = 0; i < sr->meta.n_vdis; i++)
        json_object_array_add(vdis, sd_vdi_info(sr->root, &sr->meta.vdis[i]));
    if (sd_is_lvm(sr))
        sd_lvm_fill_usage(sr, vdis);
    json_object_object_add(o, "vdis", vdis);
    *ret = o;
    return NULL;
}

sd_error *sd_sr_update(struct storaged *sd, const char *sr_uuid, const struct sd_names *names,
                       json_object **ret)
{
    struct sd_sr *sr = NULL;
    sd_error *e;
    LOCKED(sd);

    if ((e = sd_get_sr(sd, sr_uuid, &sr)))
        return e;
    if (names->name_label)
        meta_set_str(&sr->meta.name_label, names->name_label);
    if (names->name_description)
        meta_set_str(&sr->meta.name_description, names->name_description);
    /* An ISO library keeps no metadata: its names live with xapi. Without
     * names this only reports the sizes (xapi asks after every VDI
     * change), so there is nothing to write. */
    if (!streq(sr->drv->type, "iso") && (names->name_label || names->name_description)) {
        int r = sr_meta_save(sr->root, &sr->meta);
        if (r < 0)
            return sd_meta_failure(r, sr_uuid);
    }
    *ret = sd_sr_info(sr, &sr->meta, sr->root);
    return NULL;
}

sd_error *sd_sr_delete(struct storaged *sd, const char *sr_uuid)
{
    struct sd_sr *sr = NULL;
    sd_error *e;
    LOCKED(sd);

    if ((e = sd_get_sr(sd, sr_uuid, &sr)))
        return e;
    if ((e = sd_check_sr_idle(sr, "destroy")))
        return e;
    if (streq(sr->drv->type, "iso"))
        return sd_remove_sr(sd, sr);
    if (sd_is_lvm(sr))
        return sd_lvm_sr_delete(sd, sr);
    for (size_t i = 0; i < sr->meta.n_vdis; i++)
        if (sr->meta.vdis[i].managed)
            return jsonrpc_app_error("SR_NOT_EMPTY");
    /* What is left are hidden nodes GC could not remove yet. */
    for (size_t i = 0; i < sr->meta.n_vdis; i++) {
        _cleanup_free_ char *path = sd_path_in(sr, sr->meta.vdis[i].file);
        if (unlink(path) < 0 && errno != ENOENT)
            return sd_backend_failure(SM_FILE_SR_DELETE, "File SR deletion error: %s: %s", path,
                                      strerror(errno));
    }
    _cleanup_free_ char *meta = sd_path_in(sr, SR_META_FILE);
    if (unlink(meta) < 0 && errno != ENOENT)
        return sd_backend_failure(SM_FILE_SR_DELETE, "File SR deletion error: %s: %s", meta,
                                  strerror(errno));
    if (streq(sr->drv->type, "file")) {
        if (rmdir(sr->root) < 0)
            log_info("SR %s: %s is left in place: %m", sr_uuid, sr->root);
    }
    _cleanup_free_ char *dev =
        streq(sr->drv->type, "ext") ? xstrdup(sd_dc_get(sr->dc, "device")) : NULL;
    json_object *nfs_dc = streq(sr->drv->type, "nfs") ? json_object_get(sr->dc) : NULL;
    if ((e = sd_remove_sr(sd, sr))) {
        /* The SR is empty but still attached: a later delete finishes. */
        json_object_put(nfs_dc);
        return e;
    }
    if (nfs_dc) {
        remove_nfs_folder(sd, nfs_dc, sr_uuid);
        json_object_put(nfs_dc);
    }
    if (dev) {
        _cleanup_free_ char *err = NULL;
        const char *argv[] = {"wipefs", "-q", "-a", dev, NULL};
        int r = sd_run(argv, &err);
        if (r != 0)
            log_warning("SR %s: wipefs %s failed (%d): %s", sr_uuid, dev, r, err);
    }
    log_notice("deleted SR %s", sr_uuid);
    return NULL;
}
