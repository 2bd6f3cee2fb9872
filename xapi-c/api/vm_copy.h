/* What vm.c takes from vm_copy.c: the disks of a revert and of provision,
 * and the registration of clone, copy and snapshot. */
#pragma once

#include "xapi-c/error.h"

/* The VM takes clones of the snapshot's disks and its VIFs in place of its
 * own; its old disks are deleted. */
struct api_error *vm_revert_devices(const char *vm_ref, const char *snapshot_ref);
/* Makes the disks a VM's other_config:disks lists (from its template) and
 * their VBDs (owned by the VM), then drops the key; the VM is no longer a
 * template. */
struct api_error *vm_provision_disks(const char *vm_ref);
void vm_copy_register(void);
