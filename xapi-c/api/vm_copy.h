/* What vm.c takes from vm_copy.c: the disks of a revert and of provision,
 * the snapshot of a checkpoint, and the registration of clone, copy and
 * snapshot. */
#pragma once

#include "xapi-c/error.h"

/* The VM takes clones of the snapshot's disks and its VIFs in place of its
 * own; its old disks are deleted. */
struct api_error *vm_revert_devices(const char *vm_ref, const char *snapshot_ref);
/* Makes the disks a VM's other_config:disks lists (from its template) and
 * their VBDs (owned by the VM), then drops the key; the VM is no longer a
 * template. */
struct api_error *vm_provision_disks(const char *vm_ref);
/* Snapshots the VM (halted or suspended: its disks are not in use) as
 * VM.snapshot does, named name; with suspend_vdi, the snapshot is a
 * checkpoint: Suspended, with that memory image (shared). Its ref goes to
 * ret_ref. Blocks; takes the db lock. */
struct api_error *vm_snapshot_take(const char *vm_ref, const char *name, const char *suspend_vdi,
                                   char ret_ref[64]);
void vm_copy_register(void);
