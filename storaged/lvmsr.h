/* The operations of the lvm driver (storaged/README.md, "The lvm
 * driver"): they run lvm2's tools, with the command lines of
 * storaged/lvm.h, through storaged's exec helper. The SR's metadata
 * document lives on the ext4 file system of its MGT LV, mounted at the
 * SR's mount point while it is attached, so it is written atomically the
 * way every SR's is (temporary file, fsync, rename, fsync of the folder),
 * and the metadata write is the commit point of every lvm operation
 * (lvm.h, lvm_plan_recover).
 *
 * The dispatch files (srops.c, vdiops.c, snapshot.c, attach.c, media.c,
 * srtable.c, srutil.c, copy.c) call these for SRs of type lvm, after
 * their common checks (SR attached, VDI present and free). Like the rest
 * of internal.h, they expect sd->lock held, but for sd_lvm_copy_target
 * and sd_lvm_copy_drop. */
#pragma once

#include "storaged/internal.h"

static inline bool sd_is_lvm(const struct sd_sr *sr)
{
    return streq(sr->drv->type, "lvm");
}

/* sr_probe: [sr_info] of the SR whose VG is on device_config:device, or
 * [] when the device holds none. */
sd_error *sd_lvm_probe(struct storaged *sd, json_object *dc, json_object **ret);
/* sr_create: PV, VG, MGT with the metadata m, thin pool; the VG is left
 * inactive (the SR detached). Undone on failure. */
sd_error *sd_lvm_create(struct storaged *sd, json_object *dc, const struct sr_meta *m,
                        json_object **ret);
/* Activates the SR's VG and mounts its MGT at the SR's mount point
 * (*ret_root, new). Checks the VG is on device_config:device. */
sd_error *sd_lvm_open(struct storaged *sd, const char *uuid, json_object *dc, bool ro,
                      char **ret_root);
/* Deactivates the SR's VG once its MGT is unmounted (logged on failure):
 * what sr_detach leaves, so that another host may activate it. */
void sd_lvm_close(const char *sr_uuid, const char *dev);
/* sr_delete once the SR is idle: removes the VG and the PV label. */
sd_error *sd_lvm_sr_delete(struct storaged *sd, struct sd_sr *sr);
/* Recovery (lvm_plan_recover) of an attached SR: 0 or a negative errno
 * from saving the metadata. A failing lvs changes nothing. */
int sd_lvm_recover(struct sd_sr *sr);
/* The SR's physical_size (the VG's) and physical_utilisation (lvm.h,
 * lvm_sr_used); 0 for what lvm cannot tell. dev (may be NULL) is the
 * SR's device, the only one lvm then looks at. */
void sd_lvm_sizes(const char *sr_uuid, const char *dev, int64_t *ret_size, int64_t *ret_used);
/* Sets physical_utilisation of vdi_info answers (one object or an array
 * of them) from the thin LVs' data_percent, with one lvs. */
void sd_lvm_fill_usage(const struct sd_sr *sr, json_object *info);
/* /dev/<vg>/LV-<uuid>: a new string. */
char *sd_lvm_vdi_path(const struct sd_sr *sr, const struct vdi_meta *v);
/* Activates a VDI's LV (idempotent) before it is attached. */
sd_error *sd_lvm_activate(const struct sd_sr *sr, const struct vdi_meta *v);
/* vdi_introduce of uuid (lower-case, not a VDI of sr): its LV
 * "LV-<uuid>", a thin LV of the SR's pool that the metadata does not name
 * (made by hand, or kept from elsewhere), becomes a raw VDI of its size.
 * location, when given, must be that LV's name or the uuid (XCP's LVM
 * location). VDI_LOCATION_MISSING when there is no such LV, _66 when it is
 * not a thin LV of the pool. The LV gets LVM_TAG once committed. */
sd_error *sd_lvm_vdi_introduce(struct storaged *sd, struct sd_sr *sr, const char *uuid,
                               const char *location, json_object **ret);

/* vdi_copy's use of lvm VDIs (storaged/copy.c). */
/* The block device of v to read (activated if it was not): *ret_path new;
 * *ret_used the bytes its LV holds in the pool (what a copy needs). */
sd_error *sd_lvm_copy_source(const struct sd_sr *sr, const struct vdi_meta *v, char **ret_path,
                             int64_t *ret_used);
/* The bytes the SR's thin pool can still take. */
sd_error *sd_lvm_free_space(const struct sd_sr *sr, int64_t *ret);
/* Makes the thin LV "LV-<uuid>" of at least size bytes in the SR's pool
 * for a copy to fill (it reads zeros where unwritten): *ret_path its
 * device, *ret_size its size (rounded up to extents), both for the
 * caller. Not committed: until the metadata names it, it is an orphan
 * that recovery removes unless the SR's live list names it. Takes no
 * lock and touches no SR of the table, so the caller may run it without
 * sd->lock. Blocks on lvm. */
sd_error *sd_lvm_copy_target(const char *sr_uuid, const char *dev, const char *uuid, int64_t size,
                             char **ret_path, int64_t *ret_size);
/* Removes the LV of a copy that failed (logged on failure). */
void sd_lvm_copy_drop(const char *sr_uuid, const char *dev, const char *uuid);

sd_error *sd_lvm_vdi_create(struct storaged *sd, struct sd_sr *sr, const struct sd_vdi_create *a,
                            json_object **ret);
sd_error *sd_lvm_vdi_delete(struct storaged *sd, struct sd_sr *sr, const struct vdi_meta *v);
sd_error *sd_lvm_vdi_resize(struct storaged *sd, struct sd_sr *sr, struct vdi_meta *v,
                            int64_t new_size, json_object **ret);
/* A snapshot (clone false) or clone: a thin snapshot of the VDI's LV. */
sd_error *sd_lvm_vdi_snapshot(struct storaged *sd, struct sd_sr *sr, const struct vdi_meta *v,
                              const char *new_uuid, const struct sd_names *names, bool clone,
                              json_object **ret);
