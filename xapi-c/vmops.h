/* The VM power-state machine: which operations a VM allows in which power
 * state (the table behind allowed_operations and VM_BAD_POWER_STATE),
 * current_operations as a lock per VM (a second operation fails with
 * OTHER_OPERATION_IN_PROGRESS), and how what domaind reports becomes the
 * VM's power_state, domid, resident_on and metrics. */
#pragma once

#include <json-c/json.h>
#include <stdbool.h>

#include "api.h"

/* Power states as bits, for the operation table. */
enum {
    PS_HALTED = 1,
    PS_PAUSED = 2,
    PS_RUNNING = 4,
    PS_SUSPENDED = 8,
};

/* The operations this toolstack carries out, with the power states each
 * needs. */
struct vm_op_desc {
    const char *name;
    unsigned states;
    bool on_template; /* allowed on a (non-snapshot) template */
    bool on_snapshot; /* allowed on a snapshot */
    bool internal;    /* a lock only: never listed in allowed_operations */
};

const struct vm_op_desc *vmops_find(const char *op);
/* Bits of a power state name ("Running"); 0 if unknown. */
unsigned vmops_state_bit(const char *power_state);

/* Checks that op may run on vm now (db lock held): the VM exists, is not
 * the control domain, template and snapshot rules, blocked_operations, no
 * other operation in progress, the power state. */
struct api_error *vmops_check(const char *vm_ref, const char *op);
/* Checks as vmops_check, then records op in current_operations under the
 * key task (the call's task, or a fresh ref for a synchronous call) and
 * refreshes allowed_operations. Takes the db lock itself. */
struct api_error *vmops_begin(const char *vm_ref, const char *op, const char *task);
/* Removes task's operation and refreshes allowed_operations. */
void vmops_end(const char *vm_ref, const char *task);
/* The allowed_operations of a VM row's current state, as canonical text
 * (newly allocated); the db lock must be held. */
char *vmops_allowed(const struct row *vm);

/* Records a domain as domaind described it (NULL: no domain) in the VM
 * uuid's row and its metrics. Takes the db lock. */
void vmops_record(const char *vm_ref, json_object *domain);
/* Records the VM as Suspended (its domain gone, its image kept). */
void vmops_record_suspended(const char *vm_ref);

/* Applies a batch of domaind events (watcher thread). full: the batch lists
 * every domain, so a running VM of this host missing from it has died. */
void vmops_domain_events(json_object *events, bool full);
