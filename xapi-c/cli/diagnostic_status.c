/* diagnostic-vm-status and diagnostic-vdi-status, as XCP's CLI prints
 * them (cli_operations.ml): the object's key fields, its VBDs with their
 * locks and attachment, and for a VM whether it can boot on each host and
 * why not, from the same checks VM.start makes (VM.assert_can_boot_here,
 * VM.assert_agile), called through the API as the command's session. */
#include <stdlib.h>
#include <string.h>

#include "diagnostic.h"
#include "lib/cleanup.h"
#include "lib/strlist.h"
#include "lib/util.h"
#include "xapi-c/db.h"

#define COLS(...) ((const char *const[]){__VA_ARGS__, NULL})

/* The refs in the set field of an object (newly allocated, *ret_n). */
static char **refs_of(int cls, const char *ref, int field, size_t *ret_n)
{
    _cleanup_free_ char *text = cli_field_of(cls, ref, field);
    struct strlist_iter it;
    const char *v;
    char **refs = NULL;
    size_t n = 0;

    strlist_iter_init(&it, text);
    while (strlist_iter_next(&it, NULL, &v)) {
        refs = xrealloc(refs, (n + 1) * sizeof(char *));
        refs[n++] = xstrdup(v);
    }
    strlist_iter_done(&it);
    *ret_n = n;
    return refs;
}

static void refs_free(char **refs, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(refs[i]);
    free(refs);
}

/* XCP's Cli_util.ref_convert: "<uuid> (<name-label>)" for an object it
 * knows, the reference itself otherwise. */
static char *ref_convert(int cls, const char *ref)
{
    char *out = NULL;
    db_rdlock();
    const struct row *r = db_get(cls, ref);
    if (r) {
        const struct class_desc *cd = &model_classes[cls];
        const char *name = cd->name_label_field >= 0 ? r->v[cd->name_label_field] : NULL;
        out =
            name ? xasprintf("%s (%s)", r->v[cd->uuid_field], name) : xstrdup(r->v[cd->uuid_field]);
    }
    db_unlock();
    return out ? out : xstrdup(ref);
}

static const char *param(const struct api_error *e, size_t i)
{
    return i < e->n ? e->params[i] : "<server did not provide reference>";
}

/* XCP's print_assert_exception: why a VM cannot start on a host or be
 * agile, in words for the errors it knows, else as OCaml prints the
 * exception. Newly allocated. */
static char *why_text(const struct api_error *e)
{
    const char *c = e->code;
    if (streq(c, "VM_REQUIRES_SR")) {
        _cleanup_free_ char *sr = ref_convert(C_SR, param(e, 1));
        return xasprintf("VM requires access to SR: %s", sr);
    }
    if (streq(c, "HOST_DISABLED"))
        return xstrdup("Host disabled (use 'xe host-enable' to re-enable)");
    if (streq(c, "HOST_DISABLED_INDEFINITELY"))
        return xstrdup("Host disabled indefinitely (use 'xe host-enable' to re-enable)");
    if (streq(c, "HOST_NOT_LIVE"))
        return xstrdup("Host down");
    if (streq(c, "HOST_NOT_ENOUGH_FREE_MEMORY"))
        return xstrdup("Not enough free memory");
    if (streq(c, "HOST_NOT_ENOUGH_PCPUS") && e->n == 2)
        return xasprintf("Not enough CPUs (VM needs %s, but host has %s)", e->params[0],
                         e->params[1]);
    if (streq(c, "VM_REQUIRES_NETWORK")) {
        _cleanup_free_ char *net = ref_convert(C_network, param(e, 1));
        return xasprintf("VM requires access to network: %s", net);
    }
    if (streq(c, "HOST_CANNOT_ATTACH_NETWORK")) {
        _cleanup_free_ char *net = ref_convert(C_network, param(e, 1));
        return xasprintf("Host cannot attach to network: %s", net);
    }
    if (streq(c, "VM_HVM_REQUIRED"))
        return xstrdup("HVM not supported");
    if (streq(c, "INVALID_VALUE") && e->n == 2)
        return xasprintf("Field has invalid value: %s = %s", e->params[0], e->params[1]);
    if (streq(c, "HA_CONSTRAINT_VIOLATION_SR_NOT_SHARED") && e->n == 1) {
        _cleanup_free_ char *sr = ref_convert(C_SR, e->params[0]);
        return xasprintf("VM requires access to non-shared SR: %s. SR must both be marked as "
                         "shared and a properly configured PBD must be plugged-in on every host",
                         sr);
    }
    if (streq(c, "HA_CONSTRAINT_VIOLATION_NETWORK_NOT_SHARED") && e->n == 1) {
        _cleanup_free_ char *net = ref_convert(C_network, e->params[0]);
        return xasprintf("VM requires access to non-shared Network: %s. Network must either be "
                         "entirely virtual or there must be a PIF connecting to this Network on "
                         "every host.",
                         net);
    }
    struct strbuf sb;
    strbuf_init(&sb, 64);
    strbuf_addf(&sb, "Server_error(%s, [ ", c);
    for (size_t i = 0; i < e->n; i++)
        strbuf_addf(&sb, "%s%s", i ? "; " : "", e->params[i]);
    strbuf_adds(&sb, " ])");
    return strbuf_detach(&sb, NULL);
}

/* One table: each host's name-label and whether the VM can boot there. */
static void host_report(struct cli_ctx *ctx, const char *vm)
{
    struct cli_record rec = {0};
    char **hosts = NULL;
    size_t n = 0, it = 0;
    const struct row *r;

    db_rdlock();
    while (db_next(C_host, &it, &r)) {
        hosts = xrealloc(hosts, (n + 1) * sizeof(char *));
        hosts[n++] = xstrdup(r->ref);
    }
    db_unlock();
    for (size_t i = 0; i < n; i++) {
        _cleanup_free_ char *label = cli_field_of(C_host, hosts[i], FIDX(host, name_label));
        struct api_error *e =
            cli_call(ctx, "VM.assert_can_boot_here", (const char *const[]){vm, hosts[i]}, 2, NULL);
        if (!label) /* gone meanwhile */
            label = xstrdup(hosts[i]);
        if (!e) {
            cli_record_add(&rec, label, "OK");
            continue;
        }
        _cleanup_free_ char *why = why_text(e);
        _cleanup_free_ char *val = xasprintf("Cannot start here [%s]", why);
        cli_record_add(&rec, label, val);
        api_error_free(e);
    }
    refs_free(hosts, n);
    cli_print_record(ctx, &rec);
    cli_record_done(&rec);
}

int cli_diag_vm_status(struct cli_ctx *ctx)
{
    _cleanup_free_ char *vm = cli_ref_arg(ctx, C_VM, "uuid");
    size_t n;

    if (!vm)
        return 1;
    if (cli_print_fields(ctx, "vm", vm,
                         COLS("uuid", "name-label", "power-state", "possible-hosts")) < 0)
        return cli_fail_api(ctx, api_fail(HANDLE_INVALID, "VM", vm));
    cli_print_item(ctx, "Checking to see whether disks are attachable");
    char **vbds = refs_of(C_VM, vm, FIDX(VM, VBDs), &n);
    for (size_t i = 0; i < n; i++)
        cli_print_fields(ctx, "vbd", vbds[i],
                         COLS("uuid", "userdevice", "device", "vdi-uuid", "empty", "mode", "type",
                              "storage-lock", "attachable"));
    refs_free(vbds, n);
    cli_print_item(ctx, "Checking to see whether VM can boot on each host");
    host_report(ctx, vm);

    struct api_error *e = cli_call(ctx, "VM.assert_agile", (const char *const[]){vm}, 1, NULL);
    if (!e) {
        cli_print_item(ctx, "VM is agile.");
        return 0;
    }
    _cleanup_free_ char *why = why_text(e);
    _cleanup_free_ char *line = xasprintf("VM is not agile because: %s", why);
    api_error_free(e);
    cli_print_item(ctx, line);
    return 0;
}

static void show_vbds(struct cli_ctx *ctx, char **vbds, const bool *pick, size_t n, bool want)
{
    for (size_t i = 0; i < n; i++)
        if (pick[i] == want)
            cli_print_fields(
                ctx, "vbd", vbds[i],
                COLS("uuid", "userdevice", "device", "empty", "mode", "type", "storage-lock"));
}

int cli_diag_vdi_status(struct cli_ctx *ctx)
{
    _cleanup_free_ char *vdi = cli_ref_arg(ctx, C_VDI, "uuid");
    size_t n, n_active = 0;

    if (!vdi)
        return 1;
    if (cli_print_fields(ctx, "vdi", vdi,
                         COLS("uuid", "name-label", "sr-uuid", "mode", "read-only", "sharable",
                              "storage-lock")) < 0)
        return cli_fail_api(ctx, api_fail(HANDLE_INVALID, "VDI", vdi));
    char **vbds = refs_of(C_VDI, vdi, FIDX(VDI, VBDs), &n);
    _cleanup_free_ bool *active = xcalloc(n + 1, sizeof(bool));
    for (size_t i = 0; i < n; i++) {
        _cleanup_free_ char *att = cli_field_of(C_VBD, vbds[i], FIDX(VBD, currently_attached));
        active[i] = att && streq(att, "true");
        n_active += active[i];
    }
    if (n_active == 0)
        cli_print_item(ctx, "no active VBDs.");
    else {
        cli_print_item(ctx, "active VBDs:");
        show_vbds(ctx, vbds, active, n, true);
    }
    if (n_active < n) {
        cli_print_item(ctx, "inactive VBDs:");
        show_vbds(ctx, vbds, active, n, false);
    }
    refs_free(vbds, n);
    return 0;
}
