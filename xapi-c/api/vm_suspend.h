/* Suspend images on SRs: the VDI (of type suspend) that holds a suspended
 * VM's memory, as XCP keeps it — made in the VM's suspend_SR, else the
 * pool's suspend_image_SR, else the host's suspend_image_sr, attached
 * through storaged for domaind to write or read, and named by the VM's
 * suspend_VDI while the VM is Suspended. A checkpoint (a snapshot with its
 * memory) shares the image it was taken from with the VM it reverts to:
 * an image goes when no VM names it any more. */
#pragma once

#include <stdbool.h>

#include "xapi-c/error.h"

/* A new suspend VDI for the VM vm_ref, sized for its memory, on the SR the
 * VM's suspend images go to (VM_NO_SUSPEND_SR if none is set;
 * SR_HAS_NO_PBDS if it is not plugged here). Blocks; takes the db lock. */
struct api_error *vm_suspend_vdi_new(const char *vm_ref, char ret_vdi[64]);

/* Attaches and activates the VDI for domaind (read_write to write an image
 * into it); the path domaind takes goes to *ret_path (owned). On failure
 * nothing stays attached. Blocks; takes the db lock. */
struct api_error *vm_suspend_vdi_attach(const char *vdi_ref, bool read_write, char **ret_path);

/* Deactivates and detaches it again; errors are logged. */
void vm_suspend_vdi_release(const char *vdi_ref);

/* The VM's suspend_VDI (NULL reference: "OpaqueRef:NULL") into ret_vdi;
 * false if it names no VDI. Takes the db lock. */
bool vm_suspend_vdi_get(const char *vm_ref, char ret_vdi[64]);

/* Sets the VM's suspend_VDI. Takes the db lock. */
void vm_suspend_vdi_set(const char *vm_ref, const char *vdi_ref);

/* The image vdi_ref is no longer needed by a VM that named it: it is
 * deleted unless a VM still names it (a checkpoint and the VM reverted to
 * it share one). Errors are logged. Blocks; takes the db lock. */
void vm_suspend_vdi_forget(const char *vdi_ref);

/* The VM lets its image go: suspend_VDI set to null, and the image
 * forgotten as above. */
void vm_suspend_vdi_drop(const char *vm_ref);

/* The other_config key that marks a suspend VDI made here, with the ref of
 * the VM it was made for: an image xapi made and died before naming in
 * VM.suspend_VDI is found by it. */
#define SUSPEND_IMAGE_KEY "xenia-suspend-image-of"

/* Start-up recovery: deletes every marked suspend VDI that no VM names,
 * unless its VM has a suspend or checkpoint under way. True when nothing
 * is left to do (false: a deletion failed, try again later). Blocks;
 * takes the db lock. */
bool vm_suspend_vdi_recover(void);
