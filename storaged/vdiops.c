/* The VDI operations that make, change or drop a single image: vdi_create,
 * vdi_delete, vdi_resize, vdi_update and vdi_introduce. New images are
 * written under a temporary name and renamed into place after the metadata
 * that names them is on the media, so a crash leaves what
 * storaged/recover.c can explain. */
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
#include "storaged/changes.h"
#include "storaged/exec.h"
#include "storaged/lvmsr.h"
#include "storaged/qcow2.h"
#include "storaged/recover.h"

LOG_MODULE("vdiops");

sd_error *sd_check_writable_sr(const struct sd_sr *sr)
{
    if (streq(sr->drv->type, "iso"))
        return jsonrpc_app_error("SR_OPERATION_NOT_SUPPORTED", sr->uuid);
    return NULL;
}

sd_error *sd_new_vdi_uuid(const struct sd_sr *sr, const char *wanted, char out[UUID_STR_LEN])
{
    if (!wanted) {
        uuid_generate_str(out);
        return NULL;
    }
    snprintf(out, UUID_STR_LEN, "%s", wanted);
    for (char *p = out; *p; p++)
        *p = (char)tolower((unsigned char)*p);
    _cleanup_free_ char *file = xasprintf("%s.qcow2", out);
    _cleanup_free_ char *path = sd_path_in(sr, file);
    _cleanup_free_ char *rfile = xasprintf("%s.raw", out);
    _cleanup_free_ char *rpath = sd_path_in(sr, rfile);
    if (sr_meta_find(&sr->meta, out) || sd_file_exists(path) || sd_file_exists(rpath))
        return sd_backend_failure(SM_VDI_EXISTS, "The VDI already exists: %s", out);
    return NULL;
}

sd_error *sd_vdi_create(struct storaged *sd, const char *sr_uuid, const struct sd_vdi_create *a,
                        json_object **ret)
{
    char uuid[UUID_STR_LEN];
    struct sd_sr *sr = NULL;
    bool raw = a->format && streq(a->format, "raw");
    sd_error *e;
    int64_t real;
    int r;
    LOCKED(sd);

    if ((e = sd_get_sr(sd, sr_uuid, &sr)) || (e = sd_check_writable_sr(sr)))
        return e;
    if (sd_is_lvm(sr))
        return sd_lvm_vdi_create(sd, sr, a, ret);
    if (a->format && !raw && !streq(a->format, "qcow2"))
        return sd_backend_failure(SM_VDI_TYPE, "Invalid VDI type: %s (qcow2 or raw)", a->format);
    if (a->virtual_size <= 0 || a->virtual_size > MAX_VDI_SIZE)
        return sd_backend_failure(SM_VDI_SIZE, "VDI Invalid size: %lld is not in 1..%lld",
                                  (long long)a->virtual_size, (long long)MAX_VDI_SIZE);
    if ((e = sd_new_vdi_uuid(sr, a->vdi_uuid, uuid)))
        return e;
    _cleanup_free_ char *file = xasprintf("%s.%s", uuid, raw ? "raw" : "qcow2");
    _cleanup_free_ char *path = sd_path_in(sr, file);
    _cleanup_free_ char *tmp = xasprintf("%s.tmp", path);
    /* The image is made here rather than by qemu-img: a process start
     * was most of a create's time. A raw image is a sparse file. */
    real = qcow2_round_size(a->virtual_size);
    r = raw ? sd_create_sparse(tmp, real) : qcow2_create(tmp, real, NULL, NULL);
    if (r < 0) {
        unlink(tmp);
        errno = -r;
        return sd_backend_failure(SM_VDI_CREATE, "VDI Creation failed: %s: %m", tmp);
    }
    struct vdi_meta *v = sr_meta_add(&sr->meta, uuid);
    meta_set_str(&v->name_label, a->names.name_label ? a->names.name_label : "");
    meta_set_str(&v->name_description, a->names.name_description ? a->names.name_description : "");
    meta_set_str(&v->file, file);
    snprintf(v->format, sizeof(v->format), "%s", raw ? "raw" : "qcow2");
    v->virtual_size = real;
    v->sharable = a->sharable;
    v->read_only = a->read_only;
    /* The metadata is written before the image is flushed, so that one
     * flush of the disk takes both; it is committed (renamed into place)
     * only after. */
    if ((r = sr_meta_save_begin(sr->root, &sr->meta)) < 0) {
        sr_meta_remove(&sr->meta, uuid);
        unlink(tmp);
        return sd_meta_failure(r, sr_uuid);
    }
    if ((r = sd_fsync_path(tmp)) < 0) {
        sr_meta_remove(&sr->meta, uuid);
        unlink(tmp);
        errno = -r;
        return sd_backend_failure(SM_VDI_CREATE, "VDI Creation failed: %s: %m", tmp);
    }
    sd_fist(sd, "create-written");
    if ((r = sr_meta_save_end(sr->root)) < 0) {
        sr_meta_remove(&sr->meta, uuid);
        unlink(tmp);
        return sd_meta_failure(r, sr_uuid);
    }
    sd_fist(sd, "create-committed");
    if (rename(tmp, path) < 0)
        log_error("SR %s: cannot rename %s into place: %m (the next scan will)", sr_uuid, tmp);
    log_info("SR %s: created %s VDI %s (%lld bytes)", sr_uuid, v->format, uuid, (long long)real);
    *ret = sd_vdi_info(sr->root, sr_meta_find(&sr->meta, uuid));
    return NULL;
}

/* Refuses operations on a VDI that is attached, being copied, or hidden. */
sd_error *sd_check_vdi_free(const struct sd_sr *sr, const struct vdi_meta *v, const char *op,
                            bool allow_ro_attached)
{
    const struct sd_attach *at = sd_find_att(sr, v->uuid);

    if (at && !(allow_ro_attached && !at->read_write))
        return jsonrpc_app_error("VDI_IN_USE", v->uuid, op);
    for (size_t i = 0; i < sr->n_busy; i++)
        if (streq(sr->busy[i], v->uuid))
            return jsonrpc_app_error("VDI_IN_USE", v->uuid, op);
    return NULL;
}

sd_error *sd_vdi_delete(struct storaged *sd, const char *sr_uuid, const char *vdi_uuid,
                        json_object **ret)
{
    struct chain_shape before = {0};
    struct vdi_meta *v = NULL;
    struct sd_sr *sr = NULL;
    char uuid[UUID_STR_LEN];
    sd_error *e;
    LOCKED(sd);

    if ((e = sd_get_sr(sd, sr_uuid, &sr)) || (e = sd_check_writable_sr(sr)) ||
        (e = sd_get_vdi(sr, vdi_uuid, &v)) || (e = sd_check_vdi_free(sr, v, "destroy", false)))
        return e;
    memcpy(uuid, v->uuid, UUID_STR_LEN);
    if (!sd_is_lvm(sr) && !v->managed)
        return sd_backend_failure(SM_VDI_REMOVE,
                                  "Failed to remove VDI %s: it is a base copy that other VDIs "
                                  "depend on",
                                  vdi_uuid);
    chain_shape_take(&sr->meta, &before);
    if (sd_is_lvm(sr)) {
        e = sd_lvm_vdi_delete(sd, sr, v);
    } else if (chain_children(&sr->meta, v->uuid, NULL) > 0) {
        /* Other images depend on it: it becomes a hidden node, which GC
         * merges away when only one child is left. */
        v->managed = false;
        int r = sr_meta_save(sr->root, &sr->meta);
        if (r < 0) {
            v->managed = true;
            e = sd_meta_failure(r, sr_uuid);
        }
    } else {
        e = sd_delete_image(sd, sr, v->uuid);
    }
    if (!e && !sd_is_lvm(sr)) {
        log_info("SR %s: deleted VDI %s", sr_uuid, vdi_uuid);
        sd_gc(sd, sr);
    }
    if (!e)
        *ret = chain_changes(sr, &before, (const char *const[]){uuid}, 1);
    chain_shape_done(&before);
    return e;
}

sd_error *sd_vdi_resize(struct storaged *sd, const char *sr_uuid, const char *vdi_uuid,
                        int64_t new_size, json_object **ret)
{
    _cleanup_free_ char *err = NULL;
    struct vdi_meta *v = NULL;
    struct sd_sr *sr = NULL;
    char size[32];
    sd_error *e;
    int64_t real;
    int r;
    LOCKED(sd);

    if ((e = sd_get_sr(sd, sr_uuid, &sr)) || (e = sd_check_writable_sr(sr)) ||
        (e = sd_get_vdi(sr, vdi_uuid, &v)) || (e = sd_check_vdi_free(sr, v, "resize", false)))
        return e;
    if (sd_is_lvm(sr))
        return sd_lvm_vdi_resize(sd, sr, v, new_size, ret);
    if (!v->managed)
        return sd_backend_failure(SM_VDI_RESIZE, "VDI resize failed: %s is a base copy", vdi_uuid);
    /* XCP's drivers refuse a shrink this way (FileSR, and the SMAPIv3
     * plugins alike), so clients see the same error. */
    if (new_size < v->virtual_size)
        return sd_backend_failure(SM_VDI_SIZE,
                                  "VDI Invalid size [opterr=shrinking not allowed]: %s has "
                                  "%lld bytes, %lld asked",
                                  vdi_uuid, (long long)v->virtual_size, (long long)new_size);
    if (new_size > MAX_VDI_SIZE)
        return sd_backend_failure(SM_VDI_SIZE, "VDI Invalid size: %lld is over %lld",
                                  (long long)new_size, (long long)MAX_VDI_SIZE);
    if (new_size > v->virtual_size) {
        _cleanup_free_ char *path = sd_path_in(sr, v->file);
        snprintf(size, sizeof(size), "%lld", (long long)new_size);
        const char *fmt = streq(v->format, "qcow2") ? "qcow2" : "raw";
        const char *argv[] = {"qemu-img", "resize", "-q", "-f", fmt, path, size, NULL};
        if ((r = sd_run(argv, &err)) != 0)
            return sd_tool_failure(SM_VDI_RESIZE, "VDI resize failed: qemu-img resize", r, err);
        struct stat st;
        if (streq(fmt, "qcow2") ? qcow2_read_header(path, &real, NULL) < 0
                                : (stat(path, &st) < 0 ? true : (real = st.st_size, false)))
            real = new_size;
        v->virtual_size = real;
        if ((r = sr_meta_save(sr->root, &sr->meta)) < 0)
            return sd_meta_failure(r, sr_uuid);
    }
    *ret = sd_vdi_info(sr->root, v);
    return NULL;
}

sd_error *sd_vdi_update(struct storaged *sd, const char *sr_uuid, const char *vdi_uuid,
                        const struct sd_names *names, json_object **ret)
{
    struct vdi_meta *v = NULL;
    struct sd_sr *sr = NULL;
    sd_error *e;
    LOCKED(sd);

    if ((e = sd_get_sr(sd, sr_uuid, &sr)) || (e = sd_check_writable_sr(sr)) ||
        (e = sd_get_vdi(sr, vdi_uuid, &v)))
        return e;
    if (names->name_label)
        meta_set_str(&v->name_label, names->name_label);
    if (names->name_description)
        meta_set_str(&v->name_description, names->name_description);
    int r = sr_meta_save(sr->root, &sr->meta);
    if (r < 0)
        return sd_meta_failure(r, sr_uuid);
    *ret = sd_vdi_info(sr->root, v);
    if (sd_is_lvm(sr))
        sd_lvm_fill_usage(sr, *ret);
    return NULL;
}

/* What qemu-img says about an image: format, virtual size, backing file. */
static sd_error *image_info(const char *path, char **ret_format, int64_t *ret_size,
                            char **ret_backing)
{
    _cleanup_free_ char *out = NULL, *err = NULL;
    const char *argv[] = {"qemu-img", "info", "--output=json", path, NULL};
    int r = exec_run(argv, NULL, &out, &err);
    json_object *o, *v;

    if (r != 0)
        return sd_tool_failure(SM_VDI_LOAD, "Failed to load VDI: qemu-img info", r, err);
    o = json_tokener_parse(out);
    if (!o || !json_object_object_get_ex(o, "format", &v)) {
        json_object_put(o);
        return sd_backend_failure(SM_VDI_LOAD, "Failed to load VDI: qemu-img info gave no format");
    }
    *ret_format = xstrdup(json_object_get_string(v));
    *ret_size = json_object_object_get_ex(o, "virtual-size", &v) ? json_object_get_int64(v) : 0;
    *ret_backing = json_object_object_get_ex(o, "backing-filename", &v)
                       ? xstrdup(json_object_get_string(v))
                       : NULL;
    json_object_put(o);
    return NULL;
}

sd_error *sd_vdi_introduce(struct storaged *sd, const char *sr_uuid, const char *vdi_uuid,
                           const char *location, json_object **ret)
{
    _cleanup_free_ char *def = NULL, *format = NULL, *backing = NULL;
    const struct vdi_meta *parent = NULL;
    char uuid[UUID_STR_LEN];
    struct sd_sr *sr = NULL;
    int64_t size = 0;
    sd_error *e;
    LOCKED(sd);

    if ((e = sd_get_sr(sd, sr_uuid, &sr)) || (e = sd_check_writable_sr(sr)))
        return e;
    snprintf(uuid, sizeof(uuid), "%s", vdi_uuid);
    for (char *p = uuid; *p; p++)
        *p = (char)tolower((unsigned char)*p);
    if (sr_meta_find(&sr->meta, uuid))
        return sd_backend_failure(SM_VDI_EXISTS, "The VDI already exists: %s", uuid);
    if (sd_is_lvm(sr))
        return sd_lvm_vdi_introduce(sd, sr, uuid, location, ret);
    if (!location)
        location = def = xasprintf("%s.qcow2", uuid);
    for (size_t i = 0; i < sr->meta.n_vdis; i++)
        if (streq(sr->meta.vdis[i].file, location))
            return sd_backend_failure(SM_VDI_EXISTS, "The VDI already exists: %s is VDI %s",
                                      location, sr->meta.vdis[i].uuid);
    _cleanup_free_ char *path = sd_path_in(sr, location);
    struct stat st;
    if (!meta_file_name_ok(location) || stat(path, &st) < 0 || !S_ISREG(st.st_mode))
        return jsonrpc_app_error("VDI_LOCATION_MISSING", sr_uuid, location);
    if ((e = image_info(path, &format, &size, &backing)))
        return e;
    if (!streq(format, "qcow2") && !streq(format, "raw"))
        return sd_backend_failure(SM_VDI_TYPE, "Invalid VDI type: %s is a %s image", location,
                                  format);
    if (backing) {
        for (size_t i = 0; i < sr->meta.n_vdis && !parent; i++)
            if (streq(sr->meta.vdis[i].file, backing))
                parent = &sr->meta.vdis[i];
        if (!parent)
            return sd_backend_failure(SM_VDI_LOAD,
                                      "Failed to load VDI: its backing file %s is not a VDI of "
                                      "this SR",
                                      backing);
    }
    char parent_uuid[UUID_STR_LEN] = "";
    if (parent)
        memcpy(parent_uuid, parent->uuid, UUID_STR_LEN);
    struct vdi_meta *v = sr_meta_add(&sr->meta, uuid);
    meta_set_str(&v->file, location);
    snprintf(v->format, sizeof(v->format), "%s", format);
    memcpy(v->parent, parent_uuid, UUID_STR_LEN);
    v->virtual_size = size;
    int r = sr_meta_save(sr->root, &sr->meta);
    if (r < 0) {
        sr_meta_remove(&sr->meta, uuid);
        return sd_meta_failure(r, sr_uuid);
    }
    log_info("SR %s: introduced VDI %s at %s", sr_uuid, uuid, location);
    *ret = sd_vdi_info(sr->root, sr_meta_find(&sr->meta, uuid));
    return NULL;
}
