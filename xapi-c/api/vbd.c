/* VBD messages: create (a free slot for "autodetect", CDs read-only, one
 * device per slot), destroy of a detached VBD, plug, unplug and
 * unplug_force into and out of a running domain, and insert and eject of
 * a CD, in a halted VM (the record alone) or a running one (the domain's
 * drive too). Each of plug, unplug, unplug_force, insert and eject is an
 * operation of the VBD (vbdops.h): one at a time. Disks reach and leave a
 * domain through storaged (vmdisks.c attaches and releases their VDIs)
 * and domaind (domain/disk_attach, disk_detach, cd_change), whose device
 * errors become the XenAPI's here. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/log.h"
#include "lib/strlist.h"
#include "lib/util.h"
#include "xapi-c/api.h"
#include "xapi-c/config.h"
#include "xapi-c/db.h"
#include "xapi-c/domains.h"
#include "xapi-c/storage.h"
#include "xapi-c/vbdops.h"

LOG_MODULE("vbd");

#define MAX_SLOTS 16 /* as VM.get_allowed_VBD_devices offers them */
/* A clean detach waits for the guest to let the device go. */
#define DEVICE_TIMEOUT 300.0

/* Marks the slots the VM's VBDs use (db lock held). */
static void used_slots(const struct row *vm, bool used[MAX_SLOTS])
{
    struct strbuf scratch;
    struct strlist_iter it;
    const char *ref;
    strbuf_init(&scratch, 0);
    strlist_iter_init(&it, db_value(vm, FIDX(VM, VBDs), &scratch));
    while (strlist_iter_next(&it, NULL, &ref)) {
        const struct row *vbd = db_get(C_VBD, ref);
        char *end;
        long n = vbd ? strtol(vbd->v[FIDX(VBD, userdevice)], &end, 10) : -1;
        if (vbd && *vbd->v[FIDX(VBD, userdevice)] && !*end && n >= 0 && n < MAX_SLOTS)
            used[n] = true;
    }
    strlist_iter_done(&it);
    strbuf_done(&scratch);
}

/* The checks of create (db lock held); picks the slot for "autodetect". */
static struct api_error *check_new(char **v)
{
    const struct row *vm = NULL, *vdi = NULL;
    bool empty = streq(v[FIDX(VBD, empty)], "true");
    bool cd = streq(v[FIDX(VBD, type)], "CD");
    struct api_error *e = api_lookup(C_VM, v[FIDX(VBD, VM)], &vm);
    if (e)
        return e;
    if (!empty && (e = api_lookup(C_VDI, v[FIDX(VBD, VDI)], &vdi)))
        return e;
    if (empty && !cd)
        return api_fail(VBD_NOT_REMOVABLE_MEDIA, "OpaqueRef:NULL");
    if (cd && streq(v[FIDX(VBD, mode)], "RW"))
        return api_fail(VBD_CDS_MUST_BE_READONLY);
    if (empty)
        api_set_val(v, FIDX(VBD, VDI), "OpaqueRef:NULL");

    bool used[MAX_SLOTS] = {0};
    used_slots(vm, used);
    const char *want = v[FIDX(VBD, userdevice)];
    if (streq(want, "autodetect") || !*want) {
        for (int i = 0; i < MAX_SLOTS; i++)
            if (!used[i]) {
                char buf[16];
                snprintf(buf, sizeof(buf), "%d", i);
                api_set_val(v, FIDX(VBD, userdevice), buf);
                return NULL;
            }
        return api_fail(DEVICE_ALREADY_EXISTS, "autodetect");
    }
    char *end;
    long n = strtol(want, &end, 10);
    if (*end || n < 0 || n >= MAX_SLOTS)
        return api_fail(INVALID_DEVICE, want);
    if (used[n])
        return api_fail(DEVICE_ALREADY_EXISTS, want);
    return NULL;
}

static struct api_error *vbd_create(struct call *c)
{
    char ref[64];
    char **vals = api_new_row(C_VBD, ref);
    api_rec_to_vals(c, vals);
    db_wrlock();
    struct api_error *e = check_new(vals);
    if (!e) {
        api_set_val(vals, FIDX(VBD, currently_attached), "false");
        api_set_val(vals, FIDX(VBD, device), "");
        api_set_val(vals, FIDX(VBD, current_operations), "{}");
        struct changeset *cs = changeset_new();
        changeset_create(cs, C_VBD, ref, vals);
        vals = NULL;
        if (!(e = api_apply(cs))) {
            cs = changeset_new();
            vbdops_refresh(cs, ref, NULL);
            if (changeset_size(cs) > 0)
                e = api_apply(cs);
            else
                changeset_free(cs);
        }
    }
    db_unlock();
    if (vals) {
        api_free_row(C_VBD, vals);
    }
    if (!e)
        out_string(c->out, ref);
    return e;
}

static struct api_error *vbd_destroy(struct call *c)
{
    const struct row *vbd = NULL;
    db_wrlock();
    struct api_error *e = api_lookup(C_VBD, arg_str(c, 1), &vbd);
    if (!e && streq(vbd->v[FIDX(VBD, currently_attached)], "true"))
        e = api_fail(OPERATION_NOT_ALLOWED, "VBD is currently attached to a running VM");
    if (!e && strlist_count(vbd->v[FIDX(VBD, current_operations)]) > 0)
        e = api_fail(OPERATION_NOT_ALLOWED, "an operation is in progress on the VBD");
    if (!e) {
        struct changeset *cs = changeset_new();
        changeset_delete(cs, C_VBD, vbd->ref);
        e = api_apply(cs);
    }
    db_unlock();
    if (!e)
        out_void(c->out);
    return e;
}

/* ---- the device operations ---- */

/* What an operation needs of a VBD and its VM, read under the db lock. */
struct vbd_facts {
    char ref[64];
    char vm[64];
    char vm_uuid[40];
    char vdi[64];    /* its medium; "" for an empty CD */
    char device[16]; /* the guest's name for it while attached */
    bool live;       /* the VM is Running or Paused */
    bool attached;
};

static void read_facts(const char *vbd_ref, struct vbd_facts *f)
{
    memset(f, 0, sizeof(*f));
    snprintf(f->ref, sizeof(f->ref), "%s", vbd_ref);
    db_rdlock();
    const struct row *vbd = db_get(C_VBD, vbd_ref);
    const struct row *vm = vbd ? db_get(C_VM, vbd->v[FIDX(VBD, VM)]) : NULL;
    if (vbd && vm) {
        const char *ps = vm->v[FIDX(VM, power_state)];
        snprintf(f->vm, sizeof(f->vm), "%s", vm->ref);
        snprintf(f->vm_uuid, sizeof(f->vm_uuid), "%s", vm->v[FIDX(VM, uuid)]);
        if (!streq(vbd->v[FIDX(VBD, empty)], "true"))
            snprintf(f->vdi, sizeof(f->vdi), "%s", vbd->v[FIDX(VBD, VDI)]);
        snprintf(f->device, sizeof(f->device), "%s", vbd->v[FIDX(VBD, device)]);
        f->live = streq(ps, "Running") || streq(ps, "Paused");
        f->attached = streq(vbd->v[FIDX(VBD, currently_attached)], "true");
    }
    db_unlock();
}

/* Calls a domaind device method for the VBD f; params is borrowed.
 * Blocks: never with the db lock held. */
static struct api_error *device_call(const struct vbd_facts *f, const char *method,
                                     json_object *params)
{
    return domains_call_device(f->vm, "VBD", f->ref, method, params, DEVICE_TIMEOUT, NULL);
}

static json_object *device_params(const struct vbd_facts *f, const char *device)
{
    json_object *p = json_object_new_object();
    json_object_object_add(p, "uuid", json_object_new_string(f->vm_uuid));
    if (device)
        json_object_object_add(p, "device", json_object_new_string(device));
    return p;
}

static const char *disk_str(json_object *disk, const char *key)
{
    json_object *v;
    return json_object_object_get_ex(disk, key, &v) ? json_object_get_string(v) : "";
}

/* VBD.plug: the VDI attached and activated, then handed to the domain;
 * released again if the domain does not take it. */
static struct api_error *do_plug(struct call *c, const struct vbd_facts *f)
{
    json_object *disk = NULL;
    struct api_error *e = storage_vbd_attach(f->ref, NULL, &disk);
    (void)c;
    if (e)
        return e;
    char device[16];
    snprintf(device, sizeof(device), "%s", disk_str(disk, "device"));
    json_object *p = device_params(f, NULL);
    json_object_object_add(p, "disk", disk);
    e = device_call(f, "domain/disk_attach", p);
    json_object_put(p);
    if (!e && !storage_vbd_attached(f->ref, device)) /* the domain went away meanwhile */
        e = api_fail(VM_BAD_POWER_STATE, f->vm, "running", "halted");
    if (e && *f->vdi)
        storage_vdi_release(f->vdi, f->ref);
    return e;
}

/* VBD.unplug and unplug_force: the domain lets the disk go (asking the
 * guest unless force), then its VDI is released. */
static struct api_error *unplug_common(const struct vbd_facts *f, bool force)
{
    json_object *p = device_params(f, f->device);
    json_object_object_add(p, "force", json_object_new_boolean(force));
    struct api_error *e = device_call(f, "domain/disk_detach", p);
    json_object_put(p);
    if (e && streq(e->code, "DEVICE_ALREADY_DETACHED")) {
        /* The domain has no such disk (taken away behind xapi's back):
         * what is left to do is to let its VDI go. */
        log_warning("VBD %s: domain %s has no disk %s: recorded as detached", f->ref, f->vm_uuid,
                    f->device);
        api_error_free(e);
        e = NULL;
    }
    if (e)
        return e;
    storage_vbd_detached(f->ref);
    if (*f->vdi)
        storage_vdi_release(f->vdi, f->ref);
    return NULL;
}

static struct api_error *do_unplug(struct call *c, const struct vbd_facts *f)
{
    (void)c;
    return unplug_common(f, false);
}

static struct api_error *do_unplug_force(struct call *c, const struct vbd_facts *f)
{
    (void)c;
    return unplug_common(f, true);
}

/* Records the VBD's medium (vdi, or none); fails if the VBD is gone.
 * plugged: the domain's drive has it, which holds only if the VBD is
 * still attached (else the domain went away meanwhile: *ret_plugged says
 * whether it still is). */
static struct api_error *set_medium(const struct vbd_facts *f, const char *vdi, bool *ret_plugged)
{
    struct changeset *cs = changeset_new();
    db_wrlock();
    const struct row *vbd = db_get(C_VBD, f->ref);
    if (!vbd) {
        db_unlock();
        changeset_free(cs);
        return api_fail(HANDLE_INVALID, "VBD", f->ref);
    }
    *ret_plugged = streq(vbd->v[FIDX(VBD, currently_attached)], "true");
    changeset_set(cs, C_VBD, f->ref, FIDX(VBD, VDI), vdi ? vdi : "OpaqueRef:NULL");
    changeset_set(cs, C_VBD, f->ref, FIDX(VBD, empty), vdi ? "false" : "true");
    struct api_error *e = api_apply(cs);
    db_unlock();
    return e;
}

/* VBD.insert: in a running domain whose drive is plugged, the ISO's VDI
 * is attached and activated and the drive given it first. */
static struct api_error *do_insert(struct call *c, const struct vbd_facts *f)
{
    const struct row *vdi = NULL;
    char vdi_ref[64];
    bool plugged;
    db_rdlock();
    struct api_error *e = api_lookup(C_VDI, arg_str(c, 2), &vdi);
    if (!e)
        snprintf(vdi_ref, sizeof(vdi_ref), "%s", vdi->ref);
    db_unlock();
    if (e)
        return e;
    if (!f->live || !f->attached)
        return set_medium(f, vdi_ref, &plugged);

    json_object *disk = NULL;
    if ((e = storage_vbd_attach(f->ref, vdi_ref, &disk)))
        return e;
    json_object *p = device_params(f, f->device);
    json_object_object_add(p, "target", json_object_new_string(disk_str(disk, "target")));
    json_object_object_add(p, "format", json_object_new_string(disk_str(disk, "format")));
    json_object_put(disk);
    e = device_call(f, "domain/cd_change", p);
    json_object_put(p);
    if (!e)
        e = set_medium(f, vdi_ref, &plugged);
    /* Without a domain holding it (a failure, or the domain went away and
     * the VM's disks were released without this one) the VDI goes. */
    if (e || !plugged)
        storage_vdi_release(vdi_ref, f->ref);
    return e;
}

/* VBD.eject: a running domain's drive is emptied first, then the VDI it
 * held is released. */
static struct api_error *do_eject(struct call *c, const struct vbd_facts *f)
{
    struct api_error *e;
    bool plugged;
    (void)c;
    if (!f->live || !f->attached)
        return set_medium(f, NULL, &plugged);
    json_object *p = device_params(f, f->device);
    json_object_object_add(p, "target", json_object_new_string(""));
    e = device_call(f, "domain/cd_change", p);
    json_object_put(p);
    if (!e)
        e = set_medium(f, NULL, &plugged);
    /* A VM whose domain went away meanwhile released the medium itself. */
    if (!e && plugged && *f->vdi)
        storage_vdi_release(f->vdi, f->ref);
    return e;
}

typedef struct api_error *(*vbd_body_fn)(struct call *c, const struct vbd_facts *f);

/* Runs body as operation op on the VBD of argument 1: registered in its
 * current_operations for its duration, refused when it may not run. */
static struct api_error *run_op(struct call *c, const char *op, vbd_body_fn body)
{
    char key[64];
    struct vbd_facts f;
    const char *vbd = arg_str(c, 1);
    if (c->task)
        snprintf(key, sizeof(key), "%s", c->task);
    else
        api_new_ref(key); /* a synchronous call has no task: a key of its own */
    struct api_error *e = vbdops_begin(vbd, op, key);
    if (e)
        return e;
    read_facts(vbd, &f);
    e = body(c, &f);
    vbdops_end(vbd, key);
    if (!e)
        out_void(c->out);
    return e;
}

static struct api_error *vbd_plug(struct call *c)
{
    return run_op(c, "plug", do_plug);
}

static struct api_error *vbd_unplug(struct call *c)
{
    return run_op(c, "unplug", do_unplug);
}

static struct api_error *vbd_unplug_force(struct call *c)
{
    return run_op(c, "unplug_force", do_unplug_force);
}

static struct api_error *vbd_insert(struct call *c)
{
    return run_op(c, "insert", do_insert);
}

static struct api_error *vbd_eject(struct call *c)
{
    return run_op(c, "eject", do_eject);
}

static struct api_error *vbd_assert_attachable(struct call *c)
{
    struct api_error *e = vbdops_assert_attachable(arg_str(c, 1));
    if (!e)
        out_void(c->out);
    return e;
}

void vbd_register(void);
void vbd_register(void)
{
    api_register_generic(C_VBD, MK_CREATE, vbd_create);
    api_register_generic(C_VBD, MK_DESTROY, vbd_destroy);
    api_register(M_VBD_plug, vbd_plug);
    api_register(M_VBD_unplug, vbd_unplug);
    api_register(M_VBD_unplug_force, vbd_unplug_force);
    api_register(M_VBD_insert, vbd_insert);
    api_register(M_VBD_eject, vbd_eject);
    api_register(M_VBD_assert_attachable, vbd_assert_attachable);
}
