/* The snapshot and template commands of xe (xe-cli.md 3.2, 3.3, 4.1): they
 * name one VM record by snapshot-uuid= or uuid= (template-uuid= for
 * templates), refuse a record that is not a snapshot (a template) with
 * XCP's message, and run what the VM commands run on it: revert, destroy,
 * uninstall with the disks it owns, clone, copy, power-state reset, the
 * disk list. The table of these commands is at the end of the file. */
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "lib/util.h"
#include "xapi-c/api.h"
#include "xapi-c/model.h"

#define PARAMS(...) ((const char *const[]){__VA_ARGS__, NULL})

/* The VM record uuid= names if its field flag (is_a_snapshot or
 * is_a_template) is set (newly allocated ref); NULL after printing the
 * error. */
static char *vm_of_kind(struct cli_ctx *ctx, const char *uuid, int flag, const char *kind)
{
    char *ref = cli_ref_of(C_VM, uuid);
    if (!ref) {
        cli_fail_api(ctx, api_fail(UUID_INVALID, "VM", uuid));
        return NULL;
    }
    _cleanup_free_ char *is = cli_field_of(C_VM, ref, flag);
    if (!is || !streq(is, "true")) {
        cli_fail(ctx, "This operation can only be performed on a VM %s. %s is not a VM %s.", kind,
                 uuid, kind);
        free(ref);
        return NULL;
    }
    return ref;
}

/* The snapshot of snapshot-uuid= (else uuid=); NULL after printing the
 * error. */
static char *snapshot_arg(struct cli_ctx *ctx)
{
    const char *uuid = cli_arg(ctx, "snapshot-uuid");
    if (!uuid)
        uuid = cli_arg(ctx, "uuid");
    if (!uuid) {
        cli_fail(ctx, "Required parameter not found: snapshot-uuid or uuid.");
        return NULL;
    }
    return vm_of_kind(ctx, uuid, FIDX(VM, is_a_snapshot), "snapshot");
}

static int cmd_snapshot_revert(struct cli_ctx *ctx)
{
    _cleanup_free_ char *snap = snapshot_arg(ctx);
    if (!snap)
        return 1;
    struct api_error *e = cli_call_long(ctx, "VM.revert", (const char *const[]){snap}, 1, NULL);
    return e ? cli_fail_api(ctx, e) : 0;
}

static int cmd_snapshot_destroy(struct cli_ctx *ctx)
{
    _cleanup_free_ char *snap = snapshot_arg(ctx);
    struct api_error *e = NULL;

    if (!snap)
        return 1;
    /* A checkpoint is a suspended snapshot: its image goes first. */
    _cleanup_free_ char *ps = cli_field_of(C_VM, snap, FIDX(VM, power_state));
    if (ps && !streq(ps, "Halted"))
        e = cli_call(ctx, "VM.hard_shutdown", (const char *const[]){snap}, 1, NULL);
    if (!e)
        e = cli_call(ctx, "VM.destroy", (const char *const[]){snap}, 1, NULL);
    return e ? cli_fail_api(ctx, e) : 0;
}

static int cmd_snapshot_uninstall(struct cli_ctx *ctx)
{
    _cleanup_free_ char *snap = snapshot_arg(ctx);
    if (!snap)
        return 1;
    return cli_uninstall(ctx, (char *const[]){snap}, 1);
}

static int cmd_template_uninstall(struct cli_ctx *ctx)
{
    _cleanup_free_ char *t =
        vm_of_kind(ctx, cli_arg(ctx, "template-uuid"), FIDX(VM, is_a_template), "template");
    if (!t)
        return 1;
    return cli_uninstall(ctx, (char *const[]){t}, 1);
}

static int cmd_snapshot_disk_list(struct cli_ctx *ctx)
{
    _cleanup_free_ char *snap = snapshot_arg(ctx);
    return snap ? cli_disk_list(ctx, snap, false) : 1;
}

static int cmd_snapshot_reset_powerstate(struct cli_ctx *ctx)
{
    if (!cli_arg_bool(ctx, "force", false))
        return cli_fail(ctx, "This operation is dangerous and may cause data loss. This "
                             "operation must be forced (use --force).");
    _cleanup_free_ char *snap = snapshot_arg(ctx);
    if (!snap)
        return 1;
    struct api_error *e =
        cli_call(ctx, "VM.power_state_reset", (const char *const[]){snap}, 1, NULL);
    return e ? cli_fail_api(ctx, e) : 0;
}

/* snapshot-clone and snapshot-copy: a new template of the snapshot, named
 * new-name-label; its uuid is printed. sr is the copy's SR, or NULL. */
static int clone_or_copy(struct cli_ctx *ctx, const char *sr)
{
    _cleanup_free_ char *snap = snapshot_arg(ctx), *nref = NULL;
    const char *desc = cli_arg(ctx, "new-name-description");
    struct api_error *e;

    if (!snap)
        return 1;
    if (sr)
        e = cli_call_long_str(ctx, "VM.copy",
                              (const char *const[]){snap, cli_arg(ctx, "new-name-label"), sr}, 3,
                              &nref);
    else
        e = cli_call_long_str(
            ctx, "VM.clone", (const char *const[]){snap, cli_arg(ctx, "new-name-label")}, 2, &nref);
    if (!e && desc)
        e = cli_call(ctx, "VM.set_name_description", (const char *const[]){nref, desc}, 2, NULL);
    if (e)
        return cli_fail_api(ctx, e);
    return cli_print_new(ctx, C_VM, nref);
}

static int cmd_snapshot_clone(struct cli_ctx *ctx)
{
    return clone_or_copy(ctx, NULL);
}

static int cmd_snapshot_copy(struct cli_ctx *ctx)
{
    /* XCP resolves the SR before the snapshot. */
    _cleanup_free_ char *sr =
        cli_arg(ctx, "sr-uuid") ? cli_ref_arg(ctx, C_SR, "sr-uuid") : xstrdup("OpaqueRef:NULL");
    return sr ? clone_or_copy(ctx, sr) : 1;
}

const struct cli_cmd cli_snapshot_cmds[] = {
    {"snapshot-revert", NULL, PARAMS("uuid", "snapshot-uuid"),
     "Revert an existing VM to a previous checkpointed or snapshotted state.", CMD_STANDARD,
     cmd_snapshot_revert, -1, "VM.revert"},
    {"snapshot-destroy", NULL, PARAMS("uuid", "snapshot-uuid"),
     "Destroy a snapshot. This leaves the storage associated with the snapshot intact. To delete "
     "storage too, use snapshot-uninstall.",
     0, cmd_snapshot_destroy, -1, "VM.destroy"},
    {"snapshot-uninstall", NULL, PARAMS("uuid", "snapshot-uuid", "force"),
     "Uninstall a snapshot. This operation will destroy those VDIs that are marked RW and "
     "connected to this snapshot only. To simply destroy the VM record, use snapshot-destroy.",
     CMD_STANDARD, cmd_snapshot_uninstall, -1, NULL},
    {"snapshot-disk-list", NULL, PARAMS("uuid", "snapshot-uuid", "vbd-params", "vdi-params"),
     "List the disks on the selected VM(s).", CMD_STANDARD | CMD_VM_SEL, cmd_snapshot_disk_list, -1,
     NULL},
    {"snapshot-reset-powerstate", NULL, PARAMS("uuid", "snapshot-uuid", "force"),
     "Force the VM powerstate to halted in the management toolstack database only. This command "
     "is used to recover a snapshot that is marked as 'suspended'. This is a potentially "
     "dangerous operation: you must ensure that you do not need the memory image anymore (ie. "
     "you will not be able to resume your snapshot anymore).",
     CMD_STANDARD | CMD_VM_SEL, cmd_snapshot_reset_powerstate, -1, "VM.power_state_reset"},
    {"snapshot-clone", PARAMS("new-name-label"), PARAMS("uuid", "new-name-description"),
     "Create a new template by cloning an existing snapshot, using storage-level fast disk clone "
     "operation where available.",
     CMD_STANDARD, cmd_snapshot_clone, -1, "VM.clone"},
    {"snapshot-copy", PARAMS("new-name-label"), PARAMS("uuid", "new-name-description", "sr-uuid"),
     "Create a new template by copying an existing VM, but without using storage-level fast disk "
     "clone operation (even if this is available). The disk images of the copied VM are "
     "guaranteed to be 'full images' - i.e. not part of a CoW chain.",
     CMD_STANDARD, cmd_snapshot_copy, -1, "VM.copy"},
    {"template-uninstall", PARAMS("template-uuid"), PARAMS("force"),
     "Uninstall a custom template. This operation will destroy those VDIs that are marked as "
     "'owned' by this template",
     CMD_STANDARD, cmd_template_uninstall, -1, NULL},
    {NULL, NULL, NULL, NULL, 0, NULL, -1, NULL},
};
