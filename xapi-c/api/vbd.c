/* VBD messages: create (a free slot for "autodetect", CDs read-only, one
 * device per slot), destroy of a detached VBD, and insert and eject of a
 * CD while the VM is halted. Disks reach a running domain at VM.start
 * (vmdisks.c); hot-plug into a running domain waits for domaind's device
 * calls, so plug and unplug answer MESSAGE_NOT_IMPLEMENTED until then. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/strlist.h"
#include "lib/util.h"
#include "xapi-c/api.h"
#include "xapi-c/db.h"

#define MAX_SLOTS 16 /* as VM.get_allowed_VBD_devices offers them */

static struct api_error *apply(struct changeset *cs)
{
    int r = db_apply(cs);
    changeset_free(cs);
    return r < 0 ? api_failf(INTERNAL_ERROR, "database: %s", strerror(-r)) : NULL;
}

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
        struct changeset *cs = changeset_new();
        changeset_create(cs, C_VBD, ref, vals);
        vals = NULL;
        e = apply(cs);
    }
    db_unlock();
    if (vals) {
        for (int i = 0; i < model_classes[C_VBD].n_fields; i++)
            free(vals[i]);
        free(vals);
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
    if (!e) {
        struct changeset *cs = changeset_new();
        changeset_delete(cs, C_VBD, vbd->ref);
        e = apply(cs);
    }
    db_unlock();
    if (!e)
        out_void(c->out);
    return e;
}

/* The CD VBD of argument 1 in a halted VM (db lock held). */
static struct api_error *cd_of_halted(struct call *c, const struct row **ret)
{
    const struct row *vbd = NULL;
    struct api_error *e = api_lookup(C_VBD, arg_str(c, 1), &vbd);
    if (e)
        return e;
    if (!streq(vbd->v[FIDX(VBD, type)], "CD"))
        return api_fail(VBD_NOT_REMOVABLE_MEDIA, vbd->ref);
    const struct row *vm = db_get(C_VM, vbd->v[FIDX(VBD, VM)]);
    if (vm && !streq(vm->v[FIDX(VM, power_state)], "Halted"))
        return api_fail(MESSAGE_NOT_IMPLEMENTED, "CD change in a running VM");
    *ret = vbd;
    return NULL;
}

static struct api_error *vbd_insert(struct call *c)
{
    const struct row *vbd = NULL, *vdi = NULL;
    db_wrlock();
    struct api_error *e = cd_of_halted(c, &vbd);
    if (!e && !streq(vbd->v[FIDX(VBD, empty)], "true"))
        e = api_fail(VBD_NOT_EMPTY, vbd->ref);
    if (!e)
        e = api_lookup(C_VDI, arg_str(c, 2), &vdi);
    if (!e) {
        struct changeset *cs = changeset_new();
        changeset_set(cs, C_VBD, vbd->ref, FIDX(VBD, VDI), vdi->ref);
        changeset_set(cs, C_VBD, vbd->ref, FIDX(VBD, empty), "false");
        e = apply(cs);
    }
    db_unlock();
    if (!e)
        out_void(c->out);
    return e;
}

static struct api_error *vbd_eject(struct call *c)
{
    const struct row *vbd = NULL;
    db_wrlock();
    struct api_error *e = cd_of_halted(c, &vbd);
    if (!e && streq(vbd->v[FIDX(VBD, empty)], "true"))
        e = api_fail(VBD_IS_EMPTY, vbd->ref);
    if (!e) {
        struct changeset *cs = changeset_new();
        changeset_set(cs, C_VBD, vbd->ref, FIDX(VBD, VDI), "OpaqueRef:NULL");
        changeset_set(cs, C_VBD, vbd->ref, FIDX(VBD, empty), "true");
        e = apply(cs);
    }
    db_unlock();
    if (!e)
        out_void(c->out);
    return e;
}

void vbd_register(void);
void vbd_register(void)
{
    api_register_generic(C_VBD, MK_CREATE, vbd_create);
    api_register_generic(C_VBD, MK_DESTROY, vbd_destroy);
    api_register(M_VBD_insert, vbd_insert);
    api_register(M_VBD_eject, vbd_eject);
}
