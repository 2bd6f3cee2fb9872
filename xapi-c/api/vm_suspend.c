/* Suspend images on SRs (see vm_suspend.h): the choice of their SR, their
 * VDI by storaged (raw, so that domaind writes the image as it is), its
 * attachment for domaind, and its end. */
#include "xapi-c/api/vm_suspend.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/log.h"
#include "lib/strlist.h"
#include "lib/util.h"
#include "xapi-c/api.h"
#include "xapi-c/config.h"
#include "xapi-c/db.h"
#include "xapi-c/storage.h"

LOG_MODULE("suspend");

#define MiB (1024 * 1024LL)
/* What an image holds beyond the guest's memory: its page tables, the
 * state of its devices and device model, the header. A raw VDI is sparse:
 * room it does not use costs nothing. */
#define IMAGE_OVERHEAD (64 * MiB)

/* Whether ref names a row of cls (db lock held). */
static bool names(int cls, const char *ref)
{
    return ref && db_get(cls, ref) != NULL;
}

/* The SR of the VM's suspend images, as XCP chooses it (db lock held). */
static struct api_error *choose_sr(const struct row *vm, char ret_sr[64])
{
    const struct row *pool = db_get(C_pool, xapi_state.pool_ref);
    const struct row *host = db_get(C_host, xapi_state.host_ref);
    const char *choices[] = {
        vm->v[FIDX(VM, suspend_SR)],
        pool ? pool->v[FIDX(pool, suspend_image_SR)] : NULL,
        host ? host->v[FIDX(host, suspend_image_sr)] : NULL,
    };
    for (size_t i = 0; i < ELEMENTSOF(choices); i++) {
        if (!names(C_SR, choices[i]))
            continue;
        const struct row *sr = db_get(C_SR, choices[i]);
        if (!storage_sr_plugged(sr))
            return api_fail(SR_HAS_NO_PBDS, sr->ref);
        snprintf(ret_sr, 64, "%s", sr->ref);
        return NULL;
    }
    return api_fail(VM_NO_SUSPEND_SR, vm->ref);
}

struct api_error *vm_suspend_vdi_new(const char *vm_ref, char ret_vdi[64])
{
    char sr[64], ref[64];
    const struct row *vm = NULL;

    db_rdlock();
    struct api_error *e = api_lookup(C_VM, vm_ref, &vm);
    int64_t size = e ? 0 : strtoll(vm->v[FIDX(VM, memory_static_max)], NULL, 10);
    char *label = e ? NULL : xasprintf("Suspend image of %s", vm->v[FIDX(VM, name_label)]);
    if (!e)
        e = choose_sr(vm, sr);
    db_unlock();
    if (e) {
        free(label);
        return e;
    }
    size = (size + IMAGE_OVERHEAD + MiB - 1) / MiB * MiB;
    char **vals = api_new_row(C_VDI, ref);
    api_set_val(vals, FIDX(VDI, name_label), "Suspend image");
    api_set_val(vals, FIDX(VDI, name_description), label);
    api_set_val(vals, FIDX(VDI, type), "suspend");
    /* the mark start-up recovery knows it by (vm_suspend_vdi_recover) */
    char *mark = xasprintf("{\"%s\":\"%s\"}", SUSPEND_IMAGE_KEY, vm_ref);
    api_set_val(vals, FIDX(VDI, other_config), mark);
    free(mark);
    char *size_text = xasprintf("%" PRId64, size);
    api_set_val(vals, FIDX(VDI, virtual_size), size_text);
    free(size_text);
    free(label);
    /* domaind writes the image itself, byte for byte */
    return storage_vdi_create(sr, vals, ref, "raw", ret_vdi);
}

/* The SR of the VDI; false if the VDI is gone. */
static bool sr_of(const char *vdi_ref, char ret_sr[64])
{
    db_rdlock();
    const struct row *vdi = db_get(C_VDI, vdi_ref);
    if (vdi)
        snprintf(ret_sr, 64, "%s", vdi->v[FIDX(VDI, SR)]);
    db_unlock();
    return vdi != NULL;
}

struct api_error *vm_suspend_vdi_attach(const char *vdi_ref, bool read_write, char **ret_path)
{
    char sr[64];
    json_object *res = NULL, *v;

    if (!sr_of(vdi_ref, sr))
        return api_fail(HANDLE_INVALID, "VDI", vdi_ref);
    json_object *p = storage_params(sr, vdi_ref);
    json_object_object_add(p, "read_write", json_object_new_boolean(read_write));
    struct api_error *e = storage_call("vdi_attach", p, 300, &res);
    json_object_put(p);
    if (e)
        return e;
    const char *fmt = storage_json_str(res, "format");
    if (!json_object_object_get_ex(res, "path", &v) || !*json_object_get_string(v))
        e = api_failf(INTERNAL_ERROR, "storaged gave no path for the suspend image %s", vdi_ref);
    else if (*fmt && !streq(fmt, "raw"))
        e = api_failf(INTERNAL_ERROR, "the suspend image %s is a %s image, not a raw one", vdi_ref,
                      fmt);
    if (!e) {
        p = storage_params(sr, vdi_ref);
        e = storage_call("vdi_activate", p, 300, NULL);
        json_object_put(p);
    }
    if (e) {
        p = storage_params(sr, vdi_ref);
        api_error_free(storage_call("vdi_detach", p, 300, NULL));
        json_object_put(p);
        json_object_put(res);
        return e;
    }
    *ret_path = xstrdup(json_object_get_string(v));
    json_object_put(res);
    return NULL;
}

void vm_suspend_vdi_release(const char *vdi_ref)
{
    storage_vdi_release(vdi_ref, "suspend image");
}

bool vm_suspend_vdi_get(const char *vm_ref, char ret_vdi[64])
{
    db_rdlock();
    const struct row *vm = db_get(C_VM, vm_ref);
    bool found = vm && names(C_VDI, vm->v[FIDX(VM, suspend_VDI)]);
    if (found)
        snprintf(ret_vdi, 64, "%s", vm->v[FIDX(VM, suspend_VDI)]);
    db_unlock();
    return found;
}

void vm_suspend_vdi_set(const char *vm_ref, const char *vdi_ref)
{
    struct changeset *cs = changeset_new();
    db_wrlock();
    if (db_get(C_VM, vm_ref)) {
        changeset_set(cs, C_VM, vm_ref, FIDX(VM, suspend_VDI), vdi_ref);
        if (db_apply(cs) < 0)
            log_error("VM %s: cannot record its suspend VDI", vm_ref);
    }
    db_unlock();
    changeset_free(cs);
}

/* Whether a VM names vdi_ref as its suspend_VDI (db lock held). */
static bool still_named(const char *vdi_ref)
{
    size_t it = 0;
    const struct row *vm;
    while (db_next(C_VM, &it, &vm))
        if (streq(vm->v[FIDX(VM, suspend_VDI)], vdi_ref))
            return true;
    return false;
}

void vm_suspend_vdi_forget(const char *vdi_ref)
{
    db_rdlock();
    bool keep = !db_get(C_VDI, vdi_ref) || still_named(vdi_ref);
    db_unlock();
    if (keep)
        return;
    struct api_error *e = storage_vdi_delete(vdi_ref);
    if (e) {
        log_warning("suspend image %s: cannot delete it: %s %s", vdi_ref, e->code,
                    e->n ? e->params[0] : "");
        api_error_free(e);
    }
}

void vm_suspend_vdi_drop(const char *vm_ref)
{
    char vdi[64] = "";
    db_rdlock();
    const struct row *vm = db_get(C_VM, vm_ref);
    if (vm)
        snprintf(vdi, sizeof(vdi), "%s", vm->v[FIDX(VM, suspend_VDI)]);
    db_unlock();
    if (!*vdi || streq(vdi, "OpaqueRef:NULL"))
        return;
    /* a reference to a VDI that went (destroyed by a client) goes too */
    vm_suspend_vdi_set(vm_ref, "OpaqueRef:NULL");
    vm_suspend_vdi_forget(vdi);
}

/* Whether the VM ref has a suspend or a checkpoint under way, which may
 * have made vdi_ref and not yet named it (db lock held). */
static bool being_made(const char *vm_ref)
{
    const struct row *vm = db_get(C_VM, vm_ref);
    if (!vm)
        return false;
    const char *ops = vm->v[FIDX(VM, current_operations)];
    return strstr(ops, "\"suspend\"") || strstr(ops, "\"checkpoint\"");
}

bool vm_suspend_vdi_recover(void)
{
    char(*orphans)[64] = NULL;
    size_t n = 0, it = 0;
    const struct row *vdi;
    db_rdlock();
    while (db_next(C_VDI, &it, &vdi)) {
        char *owner = strmap_get(vdi->v[FIDX(VDI, other_config)], SUSPEND_IMAGE_KEY);
        if (owner && !still_named(vdi->ref) && !being_made(owner)) {
            orphans = xrealloc(orphans, (n + 1) * sizeof(*orphans));
            snprintf(orphans[n++], 64, "%s", vdi->ref);
        }
        free(owner);
    }
    db_unlock();
    bool done = true;
    for (size_t i = 0; i < n; i++) {
        log_notice("suspend image %s: no VM names it (xapi stopped while it was made): deleting it",
                   orphans[i]);
        struct api_error *e = storage_vdi_delete(orphans[i]);
        if (e) {
            log_warning("suspend image %s: cannot delete it: %s %s", orphans[i], e->code,
                        e->n ? e->params[0] : "");
            api_error_free(e);
            done = false;
        }
    }
    free(orphans);
    return done;
}
