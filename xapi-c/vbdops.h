/* The operations of a VBD (xenapi.md 6.9: plug, unplug, unplug_force,
 * insert, eject): which of them a VBD allows in its state and its VM's
 * (allowed_operations, and the error a refused one fails with), and
 * current_operations as a lock per VBD: one operation at a time, a second
 * one fails with OTHER_OPERATION_IN_PROGRESS, as a VM's do (vmops.h). */
#pragma once

#include "api.h"
#include "db.h"

/* Checks that op may run on the VBD vbd_ref now, records it in
 * current_operations under the key task and empties allowed_operations.
 * Refused as well while an operation runs on the VBD's VM. Takes the db
 * lock. */
struct api_error *vbdops_begin(const char *vbd_ref, const char *op, const char *task);
/* Ends the operation of task and recomputes allowed_operations. Takes the
 * db lock. */
void vbdops_end(const char *vbd_ref, const char *task);
/* Recomputes the allowed_operations of the VBD vbd_ref as if its VM's
 * power_state were vm_power ("Running"...; NULL: as it is), adding the
 * change to cs. The db lock must be held. */
void vbdops_refresh(struct changeset *cs, const char *vbd_ref, const char *vm_power);
/* VBD.assert_attachable: whether the VBD's disk could be attached now,
 * checked as xapi checks its attach operation (operations in progress on
 * the VBD or its VDI, a suspended VM's CD, an unmanaged VDI, and, unless
 * the VBD is attached already, sharing with other VBDs and a read-only
 * VDI), with xapi's errors. An empty VBD passes. Takes the db lock. */
struct api_error *vbdops_assert_attachable(const char *vbd_ref);
