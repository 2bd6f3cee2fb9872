/* A VM's disks for its domain: at start each VBD's VDI is attached and
 * activated by storaged and handed to domaind as a disk; when the domain
 * is gone they are deactivated and detached again (storage.h). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api.h"
#include "db.h"
#include "lib/log.h"
#include "lib/strlist.h"
#include "lib/util.h"
#include "storage.h"

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
    bool hvm = streq(vm->v[FIDX(VM, domain_type)], "hvm") ||
               (!streq(vm->v[FIDX(VM, domain_type)], "pv") &&
                !streq(vm->v[FIDX(VM, domain_type)], "pvh") && *vm->v[FIDX(VM, HVM_boot_policy)]);
    strbuf_init(&scratch, 0);
    strlist_iter_init(&it, db_value(vm, FIDX(VM, VBDs), &scratch));
    while (!e && strlist_iter_next(&it, NULL, &ref)) {
        const struct row *vbd = db_get(C_VBD, ref);
        if (!vbd)
            continue;
        v = xrealloc(v, (n + 1) * sizeof(*v));
        struct vbd_view *b = &v[n++];
        memset(b, 0, sizeof(*b));
        snprintf(b->ref, sizeof(b->ref), "%s", vbd->ref);
        b->empty = streq(vbd->v[FIDX(VBD, empty)], "true");
        b->cd = streq(vbd->v[FIDX(VBD, type)], "CD");
        b->rw = streq(vbd->v[FIDX(VBD, mode)], "RW");
        b->attached = streq(vbd->v[FIDX(VBD, currently_attached)], "true");
        device_name(hvm, strtol(vbd->v[FIDX(VBD, userdevice)], NULL, 10), b->device);
        if (b->empty)
            continue;
        const struct row *vdi = db_get(C_VDI, vbd->v[FIDX(VBD, VDI)]);
        if (!vdi && !check) {
            b->empty = true; /* nothing left to release but the flag */
            continue;
        }
        if (!vdi) {
            e = api_fail(VM_REQUIRES_VDI, vm_ref, vbd->v[FIDX(VBD, VDI)]);
            break;
        }
        snprintf(b->vdi, sizeof(b->vdi), "%s", vdi->ref);
        snprintf(b->sr, sizeof(b->sr), "%s", vdi->v[FIDX(VDI, SR)]);
        const struct row *sr = db_get(C_SR, b->sr);
        if (!check)
            continue;
        if (!sr || !storage_sr_plugged(sr))
            e = api_fail(VM_REQUIRES_SR, vm_ref, b->sr);
        else if (b->rw && streq(vdi->v[FIDX(VDI, read_only)], "true"))
            e = api_fail(VDI_READONLY, vdi->ref);
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

static void set_attached(const struct vbd_view *b, bool attached)
{
    struct changeset *cs = changeset_new();
    db_wrlock();
    if (db_get(C_VBD, b->ref)) {
        changeset_set(cs, C_VBD, b->ref, FIDX(VBD, currently_attached),
                      attached ? "true" : "false");
        if (attached)
            changeset_set(cs, C_VBD, b->ref, FIDX(VBD, device), b->device);
        if (db_apply(cs) < 0)
            log_error("VBD %s: cannot record attachment", b->ref);
    }
    changeset_free(cs);
    db_unlock();
}

/* deactivate then detach; errors logged. */
static void release_one(const struct vbd_view *b)
{
    static const char *const steps[] = {"vdi_deactivate", "vdi_detach"};
    for (size_t i = 0; i < ELEMENTSOF(steps); i++) {
        json_object *p = storage_params(b->sr, b->vdi);
        struct api_error *e = storage_call(steps[i], p, 300, NULL);
        if (e)
            log_warning("VBD %s: %s failed: %s %s", b->ref, steps[i], e->code,
                        e->n ? e->params[0] : "");
        api_error_free(e);
        json_object_put(p);
    }
    set_attached(b, false);
}

static struct api_error *attach_one(const struct vbd_view *b, json_object **ret_disk)
{
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
        if (v[done].empty) { /* an empty drive the guest sees all the same */
            d = json_object_new_object();
            add_str(d, "device", v[done].device);
            add_str(d, "target", "");
            add_str(d, "format", "raw");
            add_str(d, "backend", "phy");
            json_object_object_add(d, "readwrite", json_object_new_boolean(false));
            json_object_object_add(d, "cdrom", json_object_new_boolean(true));
        } else if ((e = attach_one(&v[done], &d))) {
            break;
        }
        json_object_array_add(disks, d);
        set_attached(&v[done], true);
    }
    if (e) {
        for (size_t i = 0; i < done; i++)
            if (!v[i].empty)
                release_one(&v[i]);
            else
                set_attached(&v[i], false);
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
        if (!v[i].attached)
            continue;
        if (v[i].empty)
            set_attached(&v[i], false);
        else
            release_one(&v[i]);
    }
    free(v);
}
