/* A VM's disks for its domain: each VBD's VDI is attached and activated by
 * storaged and handed to domaind as a disk — for all of them at VM.start,
 * for one at VBD.plug and VBD.insert — and deactivated and detached again
 * when the domain lets it go (storage.h). One VBD is always handled by the
 * same code (view_vbd, attach_one, release_vdi, set_attached), whoever
 * asks. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api.h"
#include "db.h"
#include "lib/log.h"
#include "lib/strlist.h"
#include "lib/util.h"
#include "storage.h"
#include "vbdops.h"

LOG_MODULE("vmdisks");

/* What one VBD needs, read under the db lock. */
struct vbd_view {
    char ref[64];
    char vdi[64];
    char sr[64];
    char device[16];
    bool empty, cd, rw, attached;
};

static void add_str(json_object *o, const char *k, const char *v)
{
    json_object_object_add(o, k, json_object_new_string(v));
}

static bool is_hvm(const struct row *vm)
{
    const char *dt = vm->v[FIDX(VM, domain_type)];
    return streq(dt, "hvm") ||
           (!streq(dt, "pv") && !streq(dt, "pvh") && *vm->v[FIDX(VM, HVM_boot_policy)]);
}

/* The guest's name for slot n: IDE names for the first four of an HVM
 * guest (where its firmware looks), xvd names otherwise. */
static void device_name(bool hvm, long n, char out[16])
{
    if (n < 0 || n > 25)
        n = 25;
    if (hvm && n < 4)
        snprintf(out, 16, "hd%c", (char)('a' + n));
    else
        snprintf(out, 16, "xvd%c", (char)('a' + n));
}

/* Reads the VBD vbd of the VM vm into b (db lock held), with vdi_ref as
 * its medium when not NULL (a CD being inserted). check: with the checks
 * an attachment makes (the SR plugged, a read-only VDI not written). */
static struct api_error *view_vbd(const struct row *vm, const struct row *vbd, const char *vdi_ref,
                                  bool check, struct vbd_view *b)
{
    memset(b, 0, sizeof(*b));
    snprintf(b->ref, sizeof(b->ref), "%s", vbd->ref);
    b->empty = !vdi_ref && streq(vbd->v[FIDX(VBD, empty)], "true");
    b->cd = streq(vbd->v[FIDX(VBD, type)], "CD");
    b->rw = streq(vbd->v[FIDX(VBD, mode)], "RW") && !b->cd;
    b->attached = streq(vbd->v[FIDX(VBD, currently_attached)], "true");
    device_name(is_hvm(vm), strtol(vbd->v[FIDX(VBD, userdevice)], NULL, 10), b->device);
    if (b->empty)
        return NULL;
    const struct row *vdi = db_get(C_VDI, vdi_ref ? vdi_ref : vbd->v[FIDX(VBD, VDI)]);
    if (!vdi && !check) {
        b->empty = true; /* nothing left to release but the flag */
        return NULL;
    }
    if (!vdi)
        return api_fail(VM_REQUIRES_VDI, vm->ref, vdi_ref ? vdi_ref : vbd->v[FIDX(VBD, VDI)]);
    snprintf(b->vdi, sizeof(b->vdi), "%s", vdi->ref);
    snprintf(b->sr, sizeof(b->sr), "%s", vdi->v[FIDX(VDI, SR)]);
    if (!check)
        return NULL;
    const struct row *sr = db_get(C_SR, b->sr);
    if (!sr || !storage_sr_plugged(sr))
        return api_fail(VM_REQUIRES_SR, vm->ref, b->sr);
    if (b->rw && streq(vdi->v[FIDX(VDI, read_only)], "true"))
        return api_fail(VDI_READONLY, vdi->ref);
    return NULL;
}

/* The VM's VBDs (db lock held); check: with the checks start makes. */
static struct api_error *read_vbds(const char *vm_ref, bool check, struct vbd_view **ret,
                                   size_t *ret_n)
{
    struct strbuf scratch;
    struct strlist_iter it;
    const char *ref;
    struct vbd_view *v = NULL;
    size_t n = 0;
    struct api_error *e = NULL;
    const struct row *vm = db_get(C_VM, vm_ref);
    if (!vm)
        return api_fail(HANDLE_INVALID, "VM", vm_ref);
    strbuf_init(&scratch, 0);
    strlist_iter_init(&it, db_value(vm, FIDX(VM, VBDs), &scratch));
    while (!e && strlist_iter_next(&it, NULL, &ref)) {
        const struct row *vbd = db_get(C_VBD, ref);
        if (!vbd)
            continue;
        v = xrealloc(v, (n + 1) * sizeof(*v));
        e = view_vbd(vm, vbd, NULL, check, &v[n++]);
    }
    strlist_iter_done(&it);
    strbuf_done(&scratch);
    if (e) {
        free(v);
        return e;
    }
    *ret = v;
    *ret_n = n;
    return NULL;
}

/* Records the VBD attached (with its device) or detached, and its
 * allowed_operations as they are with the VM in vm_power (NULL: its
 * power state). Only while the VM is Running or Paused when live_only.
 * Takes the db lock; false if nothing was recorded. */
static bool set_attached(const struct vbd_view *b, bool attached, const char *vm_power,
                         bool live_only)
{
    struct changeset *cs = changeset_new();
    bool done = false;
    db_wrlock();
    const struct row *vbd = db_get(C_VBD, b->ref);
    const struct row *vm = vbd ? db_get(C_VM, vbd->v[FIDX(VBD, VM)]) : NULL;
    const char *ps = vm ? vm->v[FIDX(VM, power_state)] : "";
    if (vbd && (!live_only || streq(ps, "Running") || streq(ps, "Paused"))) {
        changeset_set(cs, C_VBD, b->ref, FIDX(VBD, currently_attached),
                      attached ? "true" : "false");
        if (attached)
            changeset_set(cs, C_VBD, b->ref, FIDX(VBD, device), b->device);
        if (db_apply(cs) < 0)
            log_error("VBD %s: cannot record attachment", b->ref);
        else
            done = true;
        changeset_free(cs);
        cs = changeset_new();
        vbdops_refresh(cs, b->ref, vm_power);
        if (changeset_size(cs) > 0 && db_apply(cs) < 0)
            log_error("VBD %s: cannot record its allowed operations", b->ref);
    }
    changeset_free(cs);
    db_unlock();
    return done;
}

/* Deactivates then detaches the VDI vdi of the SR sr; errors logged (the
 * domain has let it go whatever storaged says). */
static void release_vdi(const char *sr, const char *vdi, const char *who)
{
    static const char *const steps[] = {"vdi_deactivate", "vdi_detach"};
    for (size_t i = 0; i < ELEMENTSOF(steps); i++) {
        json_object *p = storage_params(sr, vdi);
        struct api_error *e = storage_call(steps[i], p, 300, NULL);
        if (e)
            log_warning("VBD %s: %s of %s failed: %s %s", who, steps[i], vdi, e->code,
                        e->n ? e->params[0] : "");
        api_error_free(e);
        json_object_put(p);
    }
}

/* An empty drive, which the guest sees all the same: QEMU's (the only
 * backend that takes no medium). */
static json_object *empty_disk(const struct vbd_view *b)
{
    json_object *d = json_object_new_object();
    add_str(d, "device", b->device);
    add_str(d, "target", "");
    add_str(d, "format", "raw");
    json_object_object_add(d, "readwrite", json_object_new_boolean(false));
    json_object_object_add(d, "cdrom", json_object_new_boolean(true));
    return d;
}

/* Attaches and activates b's VDI and makes domaind's disk of it; an empty
 * drive needs nothing from storaged. On failure nothing stays attached. */
static struct api_error *attach_one(const struct vbd_view *b, json_object **ret_disk)
{
    if (b->empty) {
        *ret_disk = empty_disk(b);
        return NULL;
    }
    json_object *res = NULL, *p = storage_params(b->sr, b->vdi);
    json_object_object_add(p, "read_write", json_object_new_boolean(b->rw));
    struct api_error *e = storage_call("vdi_attach", p, 300, &res);
    json_object_put(p);
    if (e)
        return e;
    p = storage_params(b->sr, b->vdi);
    if ((e = storage_call("vdi_activate", p, 300, NULL))) {
        json_object_put(p);
        p = storage_params(b->sr, b->vdi);
        api_error_free(storage_call("vdi_detach", p, 300, NULL));
        json_object_put(p);
        json_object_put(res);
        return e;
    }
    json_object_put(p);
    json_object *d = json_object_new_object(), *v;
    add_str(d, "device", b->device);
    const char *keys[] = {"path", "format", "backend"};
    const char *as[] = {"target", "format", "backend"};
    for (size_t i = 0; i < ELEMENTSOF(keys); i++)
        add_str(d, as[i],
                json_object_object_get_ex(res, keys[i], &v) ? json_object_get_string(v) : "");
    json_object_object_add(d, "readwrite", json_object_new_boolean(b->rw));
    json_object_object_add(d, "cdrom", json_object_new_boolean(b->cd));
    json_object_put(res);
    *ret_disk = d;
    return NULL;
}

/* What the domain held of b is let go: its VDI and the flag. */
static void release_one(const struct vbd_view *b, const char *vm_power)
{
    if (!b->empty)
        release_vdi(b->sr, b->vdi, b->ref);
    set_attached(b, false, vm_power, false);
}

struct api_error *storage_vm_check(const char *vm_ref)
{
    struct vbd_view *v = NULL;
    size_t n = 0;
    db_rdlock();
    struct api_error *e = read_vbds(vm_ref, true, &v, &n);
    db_unlock();
    free(v);
    return e;
}

struct api_error *storage_vm_attach(const char *vm_ref, json_object **ret_disks)
{
    struct vbd_view *v = NULL;
    size_t n = 0;
    db_rdlock();
    struct api_error *e = read_vbds(vm_ref, true, &v, &n);
    db_unlock();
    if (e)
        return e;
    json_object *disks = json_object_new_array();
    size_t done = 0;
    for (; done < n && !e; done++) {
        json_object *d = NULL;
        if ((e = attach_one(&v[done], &d)))
            break;
        json_object_array_add(disks, d);
        /* The domain is built next: the VBD's operations are a running
         * VM's (a failed build releases them, as Halted). */
        set_attached(&v[done], true, "Running", false);
    }
    if (e) {
        for (size_t i = 0; i < done; i++)
            release_one(&v[i], NULL);
        json_object_put(disks);
        disks = NULL;
    }
    free(v);
    *ret_disks = disks;
    return e;
}

void storage_vm_release(const char *vm_ref)
{
    struct vbd_view *v = NULL;
    size_t n = 0;
    db_rdlock();
    struct api_error *e = read_vbds(vm_ref, false, &v, &n);
    db_unlock();
    if (e) { /* the VM itself is gone */
        api_error_free(e);
        return;
    }
    for (size_t i = 0; i < n; i++) {
        if (v[i].attached) {
            release_one(&v[i], NULL);
            continue;
        }
        /* Not the domain's: only what it may do now changed. */
        struct changeset *cs = changeset_new();
        db_wrlock();
        vbdops_refresh(cs, v[i].ref, NULL);
        if (changeset_size(cs) > 0 && db_apply(cs) < 0)
            log_error("VBD %s: cannot record its allowed operations", v[i].ref);
        db_unlock();
        changeset_free(cs);
    }
    free(v);
}

/* The view of the VBD vbd_ref (db lock taken here). */
static struct api_error *view_one(const char *vbd_ref, const char *vdi_ref, bool check,
                                  struct vbd_view *ret)
{
    const struct row *vbd = NULL, *vm = NULL;
    db_rdlock();
    struct api_error *e = api_lookup(C_VBD, vbd_ref, &vbd);
    if (!e)
        e = api_lookup(C_VM, vbd->v[FIDX(VBD, VM)], &vm);
    if (!e)
        e = view_vbd(vm, vbd, vdi_ref, check, ret);
    db_unlock();
    return e;
}

struct api_error *storage_vbd_attach(const char *vbd_ref, const char *vdi_ref,
                                     json_object **ret_disk)
{
    struct vbd_view b;
    struct api_error *e = view_one(vbd_ref, vdi_ref, true, &b);
    return e ? e : attach_one(&b, ret_disk);
}

bool storage_vbd_attached(const char *vbd_ref, const char *device)
{
    struct vbd_view b = {0};
    snprintf(b.ref, sizeof(b.ref), "%s", vbd_ref);
    snprintf(b.device, sizeof(b.device), "%s", device);
    return set_attached(&b, true, NULL, true);
}

void storage_vbd_detached(const char *vbd_ref)
{
    struct vbd_view b = {0};
    snprintf(b.ref, sizeof(b.ref), "%s", vbd_ref);
    set_attached(&b, false, NULL, false);
}

void storage_vdi_release(const char *vdi_ref, const char *who)
{
    char sr[64] = "";
    db_rdlock();
    const struct row *vdi = db_get(C_VDI, vdi_ref);
    if (vdi)
        snprintf(sr, sizeof(sr), "%s", vdi->v[FIDX(VDI, SR)]);
    db_unlock();
    if (!*sr) {
        log_warning("VBD %s: VDI %s is gone: nothing to release", who, vdi_ref);
        return;
    }
    release_vdi(sr, vdi_ref, who);
}
