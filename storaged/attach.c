/* Attach state of VDIs: vdi_attach, vdi_activate, vdi_deactivate and
 * vdi_detach. Nothing on the media changes; the state lives in the SR table
 * and its mirror in the run folder. */
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

LOG_MODULE("attach");

sd_error *sd_vdi_attach(struct storaged *sd, const char *sr_uuid, const char *vdi_uuid,
                        bool read_write, json_object **ret)
{
    struct vdi_meta *v = NULL;
    struct sd_sr *sr = NULL;
    sd_error *e;
    LOCKED(sd);

    if ((e = sd_get_sr(sd, sr_uuid, &sr)) || (e = sd_get_vdi(sr, vdi_uuid, &v)))
        return e;
    if (!v->managed)
        return sd_backend_failure(SM_VDI_UNAVAILABLE, "The VDI is not available: %s is a base copy",
                                  vdi_uuid);
    if (read_write && v->read_only)
        return jsonrpc_app_error("VDI_READONLY", vdi_uuid);
    if (sd_is_lvm(sr) && (e = sd_lvm_activate(sr, v)))
        return e;
    struct sd_attach *at = sd_find_att(sr, vdi_uuid);
    if (!at) {
        sr->att = xrealloc(sr->att, (sr->n_att + 1) * sizeof(*sr->att));
        at = &sr->att[sr->n_att++];
        *at = (struct sd_attach){0};
        memcpy(at->uuid, v->uuid, UUID_STR_LEN);
    }
    at->read_write = at->read_write || read_write;
    sd_save_state(sd, sr);
    json_object *o = json_object_new_object();
    _cleanup_free_ char *path = sd_is_lvm(sr) ? sd_lvm_vdi_path(sr, v) : sd_path_in(sr, v->file);
    sd_add_str(o, "format", streq(v->format, "qcow2") ? "qcow2" : "raw");
    sd_add_str(o, "path", path);
    sd_add_str(o, "backend", sd_is_lvm(sr) ? "phy" : "qdisk");
    sd_add_bool(o, "read_write", read_write);
    *ret = o;
    return NULL;
}

static sd_error *set_active(struct storaged *sd, const char *sr_uuid, const char *vdi_uuid,
                            bool active)
{
    struct vdi_meta *v = NULL;
    struct sd_sr *sr = NULL;
    sd_error *e;
    LOCKED(sd);

    if ((e = sd_get_sr(sd, sr_uuid, &sr)))
        return e;
    /* An attachment is let go even if its image vanished (an ISO removed
     * from its library): only taking one needs the VDI. */
    struct sd_attach *at = sd_find_att(sr, vdi_uuid);
    if (!at && (e = sd_get_vdi(sr, vdi_uuid, &v)))
        return e;
    if (!at) {
        if (!active)
            return NULL;
        return sd_backend_failure(SM_VDI_UNAVAILABLE,
                                  "The VDI is not available: %s is not attached", vdi_uuid);
    }
    at->active = active;
    sd_save_state(sd, sr);
    return NULL;
}

sd_error *sd_vdi_activate(struct storaged *sd, const char *sr_uuid, const char *vdi_uuid)
{
    return set_active(sd, sr_uuid, vdi_uuid, true);
}

sd_error *sd_vdi_deactivate(struct storaged *sd, const char *sr_uuid, const char *vdi_uuid)
{
    return set_active(sd, sr_uuid, vdi_uuid, false);
}

sd_error *sd_vdi_detach(struct storaged *sd, const char *sr_uuid, const char *vdi_uuid)
{
    struct vdi_meta *v = NULL;
    struct sd_sr *sr = NULL;
    sd_error *e;
    LOCKED(sd);

    if ((e = sd_get_sr(sd, sr_uuid, &sr)))
        return e;
    struct sd_attach *at = sd_find_att(sr, vdi_uuid);
    if (!at)
        return sd_get_vdi(sr, vdi_uuid, &v);
    if (at->active)
        return jsonrpc_app_error("VDI_IN_USE", vdi_uuid, "detach");
    *at = sr->att[--sr->n_att];
    sd_save_state(sd, sr);
    /* A merge that waited for this VDI can run now. */
    if (!streq(sr->drv->type, "iso"))
        sd_gc(sd, sr);
    return NULL;
}
