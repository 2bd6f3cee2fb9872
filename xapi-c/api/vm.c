/* VM messages that the API core serves: create, which gives a new VM its
 * metrics object as xapi does, and destroy, which removes the VM's metrics,
 * VBDs, VIFs and consoles with it (xapi has no VM_HAS_VBDS error: the
 * disks themselves stay). The lifecycle messages come with domaind. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "xapi-c/api.h"
#include "xapi-c/db.h"
#include "lib/strlist.h"
#include "lib/util.h"

static struct api_error *apply(struct changeset *cs)
{
    int r = db_apply(cs);
    changeset_free(cs);
    return r < 0 ? api_failf(INTERNAL_ERROR, "database: %s", strerror(-r)) : NULL;
}

static struct api_error *vm_create(struct call *c)
{
    char ref[64], mref[64], when[DATETIME_LEN];
    char **vals = api_new_row(C_VM, ref);
    char **m = api_new_row(C_VM_metrics, mref);
    struct changeset *cs = changeset_new();

    api_rec_to_vals(c, vals);
    datetime_format(time(NULL), when);
    api_set_val(m, FIDX(VM_metrics, memory_actual), vals[FIDX(VM, memory_static_max)]);
    api_set_val(m, FIDX(VM_metrics, VCPUs_number), vals[FIDX(VM, VCPUs_at_startup)]);
    api_set_val(m, FIDX(VM_metrics, install_time), when);
    api_set_val(m, FIDX(VM_metrics, last_updated), when);
    api_set_val(vals, FIDX(VM, metrics), mref);
    api_set_val(vals, FIDX(VM, domid), "-1"); /* no domain until it runs */
    changeset_create(cs, C_VM_metrics, mref, m);
    changeset_create(cs, C_VM, ref, vals);
    db_wrlock();
    struct api_error *e = apply(cs);
    db_unlock();
    if (!e)
        out_string(c->out, ref);
    return e;
}

/* Deletes the objects of cls listed in a relation set of vm. */
static void delete_related(struct changeset *cs, const struct row *vm, int set_field, int cls)
{
    struct strbuf scratch;
    struct strlist_iter it;
    const char *ref;
    strbuf_init(&scratch, 0);
    strlist_iter_init(&it, db_value(vm, set_field, &scratch));
    while (strlist_iter_next(&it, NULL, &ref))
        changeset_delete(cs, cls, ref);
    strlist_iter_done(&it);
    strbuf_done(&scratch);
}

static struct api_error *vm_destroy(struct call *c)
{
    const struct row *vm = NULL;
    struct api_error *e;

    db_wrlock();
    if (!(e = api_lookup(C_VM, arg_str(c, 1), &vm))) {
        struct changeset *cs = changeset_new();
        if (streq(vm->v[FIDX(VM, is_control_domain)], "true"))
            e = api_fail(OPERATION_NOT_ALLOWED, "The control domain cannot be destroyed");
        else if (!streq(vm->v[FIDX(VM, power_state)], "Halted") &&
                 !streq(vm->v[FIDX(VM, power_state)], "Suspended"))
            e = api_fail(VM_BAD_POWER_STATE, vm->ref, "halted",
                         streq(vm->v[FIDX(VM, power_state)], "Running") ? "running" : "paused");
        if (e) {
            changeset_free(cs);
        } else {
            const char *metrics[] = {vm->v[FIDX(VM, metrics)], vm->v[FIDX(VM, guest_metrics)]};
            const int mcls[] = {C_VM_metrics, C_VM_guest_metrics};
            for (int i = 0; i < 2; i++)
                if (db_get(mcls[i], metrics[i]))
                    changeset_delete(cs, mcls[i], metrics[i]);
            delete_related(cs, vm, FIDX(VM, VBDs), C_VBD);
            delete_related(cs, vm, FIDX(VM, VIFs), C_VIF);
            delete_related(cs, vm, FIDX(VM, consoles), C_console);
            changeset_delete(cs, C_VM, vm->ref);
            e = apply(cs);
        }
    }
    db_unlock();
    if (!e)
        out_void(c->out);
    return e;
}

void vm_register(void);
void vm_register(void)
{
    api_register_generic(C_VM, MK_CREATE, vm_create);
    api_register_generic(C_VM, MK_DESTROY, vm_destroy);
}
