/* xapi's side of storaged: calls to it with its errors passed through as
 * the XenAPI errors they name, the SM records of the drivers it offers,
 * and the reconciliation of SR and VDI rows with what an SR's media hold
 * (after a scan, and after each operation that changes a VDI chain). At
 * start a thread waits for storaged, records its drivers and plugs again
 * the PBDs of this host that were plugged, so that a restart of xapi, of
 * storaged or of the host finds its SRs as it left them. */
#pragma once

#include <json-c/json.h>
#include <stdbool.h>

#include "db.h"
#include "error.h"

void storage_init(const char *socket_path);
void storage_shutdown(void);

/* Calls a storaged method; params is borrowed, the result (a new
 * reference, possibly NULL) goes to ret_result when not NULL. Blocks:
 * never call with the database lock held. */
struct api_error *storage_call(const char *method, json_object *params, double timeout,
                               json_object **ret_result);

/* A string member of storaged's answer o, or "" when absent. */
const char *storage_json_str(json_object *o, const char *key);

/* Serialises the storage operations that read a chain from storaged and
 * write it to the database, so that two of them cannot interleave. */
void storage_lock(void);
void storage_unlock(void);

/* Adds to cs the SR's sizes from an sr_info of storaged. */
void storage_sr_sizes(struct changeset *cs, const char *sr_ref, json_object *info);

/* Records one VDI as storaged described it (a vdi_info) in the SR sr_ref:
 * updates the row with its uuid, or creates one — from vals (the values
 * of a new row vals_ref, taken) when given, else with the media's names
 * and type "user". Its ref goes to ret_ref when not NULL. Takes the db
 * lock. */
struct api_error *storage_vdi_record(const char *sr_ref, json_object *info, char **vals,
                                     const char *vals_ref, char ret_ref[64]);

/* Records the VDIs storaged listed (vdis, an array of vdi_info) in the SR
 * sr_ref in one change set, with the SR's sizes from sr_info (NULL: left
 * alone): each row updated, or created with the media's names and type
 * "user"; no other row changes. What a chain operation answers with the
 * VDIs it touched, so that no scan of the whole SR follows it. Takes the
 * db lock. */
struct api_error *storage_vdis_record(const char *sr_ref, json_object *vdis, json_object *sr_info);

/* Records what a chain operation of storaged says it changed in the SR
 * sr_ref (answer: {updated: [vdi_info], removed: [uuid], sr: sr_info},
 * each member optional): listed VDIs updated or created as in
 * storage_vdis_record, removed ones forgotten (only marked missing while
 * a domain uses them, as a scan does), the SR's sizes; one change set, no
 * scan. Takes the db lock. */
struct api_error *storage_vdis_changed(const char *sr_ref, json_object *answer);

/* Records the SR's sizes as storaged reports them now (sr_update). */
struct api_error *storage_sr_refresh(const char *sr_ref);

/* SR.scan: reads the SR's VDIs from its media and makes the rows agree
 * (new ones introduced, vanished ones forgotten, sizes and chains
 * updated). The caller holds storage_lock. */
struct api_error *storage_sr_scan(const char *sr_ref);

/* The params object naming an SR (and a VDI) for storaged; NULL ref gives
 * "" for its uuid. Takes the db lock. */
json_object *storage_params(const char *sr_ref, const char *vdi_ref);

/* PBD.plug's work: sr_attach with the PBD's device_config, then the PBD
 * is currently_attached and the SR's sizes are recorded. */
struct api_error *storage_pbd_attach(const char *pbd_ref);

/* Whether the SR has a plugged PBD on this host. db lock held. */
bool storage_sr_plugged(const struct row *sr);

/* A snapshot (or a clone) of a VDI by storaged, recorded with its chain,
 * named and typed as the original; its ref goes to ret_ref. */
struct api_error *storage_vdi_duplicate(const char *vdi_ref, bool snapshot, char ret_ref[64]);
/* A full copy of a VDI into a new VDI of the SR dest; job names the task
 * whose progress storaged reports (or NULL). */
struct api_error *storage_vdi_copy(const char *vdi_ref, const char *dest, const char *job,
                                   char ret_ref[64]);
/* VDI.copy into an existing VDI: the data of vdi written over into's
 * (storaged checks and does it; the caller has checked into as xapi does),
 * its row then updated; job as above. */
struct api_error *storage_vdi_copy_into(const char *vdi, const char *into, const char *job);
/* Deletes a VDI from its SR and its row; the rows of the chain nodes that
 * storaged's garbage collection then changed follow from its answer (a
 * scan only if storaged does not say). */
struct api_error *storage_vdi_delete(const char *vdi_ref);
/* VDI.revert's work: the VDI the snapshot was taken of takes its
 * content (storaged's vdi_revert; the caller has checked what xapi
 * checks), and the rows of the chain follow storaged's answer. */
struct api_error *storage_vdi_revert(const char *snapshot_ref);
/* A new VDI made by storaged in the plugged SR sr from the values of a new
 * row vals_ref (taken: uuid, names, virtual_size, sharable, read_only), in
 * format (NULL: the SR's own), and its row; the ref goes to ret_ref. */
struct api_error *storage_vdi_create(const char *sr, char **vals, const char *vals_ref,
                                     const char *format, char ret_ref[64]);

/* Whether the VM's disks could be attached now: every VDI there, on a
 * plugged SR, writable where the VBD writes. */
struct api_error *storage_vm_check(const char *vm_ref);
/* Attaches and activates the disks of a VM's VBDs for its domain, and
 * returns domaind's "disks" array; on failure what was attached is
 * released. */
struct api_error *storage_vm_attach(const char *vm_ref, json_object **ret_disks);
/* Deactivates and detaches every attached VBD of the VM (its domain is
 * gone). Errors are logged: the domain is gone either way. */
void storage_vm_release(const char *vm_ref);

/* One VBD for its VM's running domain (VBD.plug, VBD.insert), as
 * storage_vm_attach does each: attaches and activates vdi_ref (NULL: the
 * VBD's own VDI; nothing for an empty CD) and returns domaind's disk
 * object (its "device" is the guest's name for the VBD). Records nothing:
 * storage_vbd_attached does, once the domain has the disk, or
 * storage_vdi_release undoes it. Blocks; takes the db lock. */
struct api_error *storage_vbd_attach(const char *vbd_ref, const char *vdi_ref,
                                     json_object **ret_disk);
/* Records the VBD attached as device, if its VM is still Running or
 * Paused: false if it is not (its domain went away meanwhile, and with it
 * the disk: the caller releases the VDI). Takes the db lock. */
bool storage_vbd_attached(const char *vbd_ref, const char *device);
/* Records the VBD detached. Takes the db lock. */
void storage_vbd_detached(const char *vbd_ref);
/* Deactivates and detaches a VDI that a domain no longer uses; errors are
 * logged under who (the VBD's ref). Blocks; takes the db lock. */
void storage_vdi_release(const char *vdi_ref, const char *who);
