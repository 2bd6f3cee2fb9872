/* The storage agent's state and operations: the SRs attached on this host
 * (with their drivers, media roots and metadata), the VDIs attached or
 * active on it, and every SR and VDI operation of the method table
 * (storaged/README.md). Runtime state (which SRs and VDIs are attached)
 * is mirrored in the run folder so that a restarted storaged knows it; the
 * truth about what an SR holds is its own metadata (storaged/meta.h).
 *
 * Every operation returns NULL on success (with its result, a new JSON
 * value, in *ret where it has one) or an error for the caller: a XenAPI
 * error as storaged/errors.h describes. Operations are serialised by one
 * lock, except the data copy of vdi_copy, so they may be called from
 * several threads; they block on disks and external tools. */
#pragma once

#include <json-c/json.h>
#include <stdbool.h>
#include <stdint.h>

#include "lib/jsonrpc.h"

struct storaged;

struct storaged_options {
    const char *state_dir; /* mount points live in <state_dir>/sr-mounts */
    const char *run_dir;   /* runtime state */
    /* Polled during long copies: true makes them give up (the daemon is
     * stopping). May be NULL. */
    bool (*stopping)(void *userdata);
    void *userdata;
};

/* Creates the folders, reloads the runtime state of a previous run
 * (remounting what must be mounted and recovering each SR) and returns 0
 * and the agent in *ret (freed with storaged_free), or a negative errno. */
int storaged_new(const struct storaged_options *o, struct storaged **ret);
/* Frees sd; leaves SRs attached and mounted (they belong to the host, not
 * to this process). NULL is fine. */
void storaged_free(struct storaged *sd);

typedef struct jsonrpc_error sd_error;

struct sd_names {
    const char *name_label;       /* NULL: unchanged, or the default */
    const char *name_description; /* NULL: unchanged, or the default */
};

sd_error *sd_sr_probe(struct storaged *sd, const char *type, json_object *dc, json_object **ret);
sd_error *sd_sr_create(struct storaged *sd, const char *type, const char *sr_uuid, json_object *dc,
                       const struct sd_names *names, bool shared, json_object **ret);
sd_error *sd_sr_attach(struct storaged *sd, const char *type, const char *sr_uuid, json_object *dc,
                       json_object **ret);
sd_error *sd_sr_detach(struct storaged *sd, const char *sr_uuid);
sd_error *sd_sr_list(struct storaged *sd, json_object **ret);
sd_error *sd_sr_scan(struct storaged *sd, const char *sr_uuid, json_object **ret);
sd_error *sd_sr_update(struct storaged *sd, const char *sr_uuid, const struct sd_names *names,
                       json_object **ret);
sd_error *sd_sr_delete(struct storaged *sd, const char *sr_uuid);

struct sd_vdi_create {
    const char *vdi_uuid; /* NULL: a new one */
    struct sd_names names;
    int64_t virtual_size;
    bool sharable;
    bool read_only;
    const char *format; /* "qcow2" (NULL: the default) or "raw" */
};

sd_error *sd_vdi_create(struct storaged *sd, const char *sr_uuid, const struct sd_vdi_create *a,
                        json_object **ret);
/* Deletes a VDI, then garbage-collects; *ret tells what changed (README:
 * vdi_delete's result). */
sd_error *sd_vdi_delete(struct storaged *sd, const char *sr_uuid, const char *vdi_uuid,
                        json_object **ret);
sd_error *sd_vdi_resize(struct storaged *sd, const char *sr_uuid, const char *vdi_uuid,
                        int64_t new_size, json_object **ret);
/* Snapshot (clone false) or clone (clone true) of a VDI into new_uuid (NULL:
 * a new one). */
sd_error *sd_vdi_snapshot(struct storaged *sd, const char *sr_uuid, const char *vdi_uuid,
                          const char *new_uuid, const struct sd_names *names, bool clone,
                          json_object **ret);
sd_error *sd_vdi_update(struct storaged *sd, const char *sr_uuid, const char *vdi_uuid,
                        const struct sd_names *names, json_object **ret);
sd_error *sd_vdi_introduce(struct storaged *sd, const char *sr_uuid, const char *vdi_uuid,
                           const char *location, json_object **ret);
sd_error *sd_vdi_attach(struct storaged *sd, const char *sr_uuid, const char *vdi_uuid,
                        bool read_write, json_object **ret);
sd_error *sd_vdi_activate(struct storaged *sd, const char *sr_uuid, const char *vdi_uuid);
sd_error *sd_vdi_deactivate(struct storaged *sd, const char *sr_uuid, const char *vdi_uuid);
sd_error *sd_vdi_detach(struct storaged *sd, const char *sr_uuid, const char *vdi_uuid);
/* Copies a VDI (flattened) into a new VDI of dest_sr_uuid. job (may be
 * NULL) names it for sd_job_status while it runs. Blocks for the copy,
 * without holding the lock. */
sd_error *sd_vdi_copy(struct storaged *sd, const char *sr_uuid, const char *vdi_uuid,
                      const char *dest_sr_uuid, const char *dest_vdi_uuid, const char *job,
                      json_object **ret);
/* Copies a VDI into the existing VDI into_uuid of dest_sr_uuid, in place:
 * the first virtual_size bytes of the source, zeros included; the rest of
 * into_uuid is left alone. Refused (VDI_READONLY, VDI_IN_USE, VDI_TOO_SMALL
 * [into, needed size]) when into_uuid cannot take it. Blocks for the copy,
 * without holding the lock. */
sd_error *sd_vdi_copy_into(struct storaged *sd, const char *sr_uuid, const char *vdi_uuid,
                           const char *dest_sr_uuid, const char *into_uuid, const char *job,
                           json_object **ret);
/* {progress, done} of a copy started with that job name (and "error", the
 * error code, if it failed). Does not block on a running copy. */
sd_error *sd_job_status(struct storaged *sd, const char *job, json_object **ret);
/* Asks the copy started with that job name to stop: its qemu-img is
 * killed, what it wrote is removed, and its vdi_copy answers
 * TASK_CANCELLED [job]. A no-op once the job is done; HANDLE_INVALID for an
 * unknown job. Does not wait for the copy to stop. */
sd_error *sd_job_cancel(struct storaged *sd, const char *job);
