/* The VBD operation table and current_operations (see vbdops.h). */
#include "vbdops.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/log.h"
#include "lib/strbuf.h"
#include "lib/strlist.h"
#include "lib/util.h"

LOG_MODULE("vbdops");

typedef struct api_error *(*vbd_rule_fn)(const struct row *vbd, const struct row *vm,
                                         const char *power);

static bool is_true(const char *v)
{
    return streq(v, "true");
}

static bool live(const char *power)
{
    return streq(power, "Running") || streq(power, "Paused");
}

/* VM_BAD_POWER_STATE [vm, "running", actual], the actual state in lower
 * case as XenAPI gives it. */
static struct api_error *not_live(const struct row *vm, const char *power)
{
    char actual[32];
    size_t i = 0;
    for (; power[i] && i < sizeof(actual) - 1; i++)
        actual[i] = (char)(power[i] >= 'A' && power[i] <= 'Z' ? power[i] - 'A' + 'a' : power[i]);
    actual[i] = '\0';
    return api_fail(VM_BAD_POWER_STATE, vm->ref, "running", actual);
}

static struct api_error *rule_plug(const struct row *vbd, const struct row *vm, const char *power)
{
    if (!live(power))
        return not_live(vm, power);
    if (is_true(vbd->v[FIDX(VBD, currently_attached)]))
        return api_fail(DEVICE_ALREADY_ATTACHED, vbd->ref);
    return NULL;
}

static struct api_error *rule_unplug(const struct row *vbd, const struct row *vm, const char *power)
{
    if (!live(power))
        return not_live(vm, power);
    if (!is_true(vbd->v[FIDX(VBD, currently_attached)]))
        return api_fail(DEVICE_ALREADY_DETACHED, vbd->ref);
    if (!is_true(vbd->v[FIDX(VBD, unpluggable)]))
        return api_fail(VBD_NOT_UNPLUGGABLE, vbd->ref);
    return NULL;
}

/* A CD's medium changes in a halted VM (the record alone) or a running
 * one (the domain's drive too), not in a suspended one, whose image holds
 * the drive as it was. */
static struct api_error *rule_media(const struct row *vbd, const struct row *vm, const char *power)
{
    if (!streq(vbd->v[FIDX(VBD, type)], "CD"))
        return api_fail(VBD_NOT_REMOVABLE_MEDIA, vbd->ref);
    if (streq(power, "Suspended"))
        return not_live(vm, power);
    return NULL;
}

static struct api_error *rule_insert(const struct row *vbd, const struct row *vm, const char *power)
{
    struct api_error *e = rule_media(vbd, vm, power);
    if (!e && !is_true(vbd->v[FIDX(VBD, empty)]))
        e = api_fail(VBD_NOT_EMPTY, vbd->ref);
    return e;
}

static struct api_error *rule_eject(const struct row *vbd, const struct row *vm, const char *power)
{
    struct api_error *e = rule_media(vbd, vm, power);
    if (!e && is_true(vbd->v[FIDX(VBD, empty)]))
        e = api_fail(VBD_IS_EMPTY, vbd->ref);
    return e;
}

/* The operations carried out here, in the order allowed_operations lists
 * them. */
static const struct {
    const char *name;
    vbd_rule_fn rule;
} ops[] = {
    {"eject", rule_eject},   {"insert", rule_insert},       {"plug", rule_plug},
    {"unplug", rule_unplug}, {"unplug_force", rule_unplug},
};

/* The running operation of a current_operations map as an
 * OTHER_OPERATION_IN_PROGRESS error of cls, or NULL. */
static struct api_error *busy(const char *cls, const char *ref, const char *current)
{
    struct strlist_iter it;
    const char *k, *v;
    struct api_error *e = NULL;
    strlist_iter_init(&it, current);
    if (strlist_iter_next(&it, &k, &v))
        e = api_fail(OTHER_OPERATION_IN_PROGRESS, cls, ref, v, k);
    strlist_iter_done(&it);
    return e;
}

static struct api_error *check(const struct row *vbd, const struct row *vm, const char *power,
                               const char *op)
{
    struct api_error *e = busy("VBD", vbd->ref, vbd->v[FIDX(VBD, current_operations)]);
    if (e)
        return e;
    for (size_t i = 0; i < ELEMENTSOF(ops); i++)
        if (streq(ops[i].name, op))
            return ops[i].rule(vbd, vm, power);
    return api_fail(OPERATION_NOT_ALLOWED, "This operation is not supported");
}

/* The allowed_operations of vbd as canonical text (newly allocated). */
static char *allowed(const struct row *vbd, const struct row *vm, const char *power)
{
    struct strbuf sb;
    strbuf_init(&sb, 64);
    strbuf_addc(&sb, '[');
    for (size_t i = 0; vm && i < ELEMENTSOF(ops); i++) {
        struct api_error *e = check(vbd, vm, power, ops[i].name);
        if (!e) {
            if (sb.len > 1)
                strbuf_addc(&sb, ',');
            strlist_add_quoted(&sb, ops[i].name, strlen(ops[i].name));
        }
        api_error_free(e);
    }
    strbuf_addc(&sb, ']');
    return strbuf_detach(&sb, NULL);
}

void vbdops_refresh(struct changeset *cs, const char *vbd_ref, const char *vm_power)
{
    const struct row *vbd = db_get(C_VBD, vbd_ref);
    if (!vbd)
        return;
    const struct row *vm = db_get(C_VM, vbd->v[FIDX(VBD, VM)]);
    char *a = allowed(vbd, vm, vm_power ? vm_power : vm ? vm->v[FIDX(VM, power_state)] : "");
    if (!streq(a, vbd->v[FIDX(VBD, allowed_operations)]))
        changeset_set(cs, C_VBD, vbd_ref, FIDX(VBD, allowed_operations), a);
    free(a);
}

/* Sets current_operations ({} or {task: op}) and allowed_operations. db
 * write lock held. */
static void set_current(const char *vbd_ref, const char *task, const char *op)
{
    struct changeset *cs = changeset_new();
    struct strbuf sb;
    strbuf_init(&sb, 64);
    strbuf_addc(&sb, '{');
    if (op) {
        strlist_add_quoted(&sb, task, strlen(task));
        strbuf_addc(&sb, ':');
        strlist_add_quoted(&sb, op, strlen(op));
    }
    strbuf_addc(&sb, '}');
    changeset_set(cs, C_VBD, vbd_ref, FIDX(VBD, current_operations), sb.buf);
    if (op) /* nothing else may start meanwhile */
        changeset_set(cs, C_VBD, vbd_ref, FIDX(VBD, allowed_operations), "[]");
    if (db_apply(cs) < 0)
        log_error("VBD %s: cannot record its current operations", vbd_ref);
    changeset_free(cs);
    strbuf_done(&sb);
    if (!op) {
        cs = changeset_new();
        vbdops_refresh(cs, vbd_ref, NULL);
        if (changeset_size(cs) > 0 && db_apply(cs) < 0)
            log_error("VBD %s: cannot record its allowed operations", vbd_ref);
        changeset_free(cs);
    }
}

struct api_error *vbdops_begin(const char *vbd_ref, const char *op, const char *task)
{
    const struct row *vbd = NULL, *vm = NULL;
    db_wrlock();
    struct api_error *e = api_lookup(C_VBD, vbd_ref, &vbd);
    if (!e)
        e = api_lookup(C_VM, vbd->v[FIDX(VBD, VM)], &vm);
    if (!e)
        e = busy("VM", vm->ref, vm->v[FIDX(VM, current_operations)]);
    if (!e)
        e = check(vbd, vm, vm->v[FIDX(VM, power_state)], op);
    if (!e)
        set_current(vbd->ref, task, op);
    db_unlock();
    return e;
}

void vbdops_end(const char *vbd_ref, const char *task)
{
    (void)task; /* one operation at a time: it is the one there is */
    db_wrlock();
    if (db_get(C_VBD, vbd_ref))
        set_current(vbd_ref, task, NULL);
    db_unlock();
}

/* Whether another VBD of the VDI (not vbd) holds it now: attached or in
 * an operation, its VM neither suspended (really
 * offline) nor the control domain (which shares disks safely); rw says
 * whether one of those writes. db lock held. */
static bool vdi_held_elsewhere(const struct row *vdi, const struct row *vbd, bool *ret_rw)
{
    struct strbuf scratch;
    struct strlist_iter it;
    const char *ref;
    bool held = false;
    *ret_rw = false;
    strbuf_init(&scratch, 0);
    strlist_iter_init(&it, db_value(vdi, FIDX(VDI, VBDs), &scratch));
    while (strlist_iter_next(&it, NULL, &ref)) {
        const struct row *o = db_get(C_VBD, ref);
        const struct row *vm = o ? db_get(C_VM, o->v[FIDX(VBD, VM)]) : NULL;
        if (!o || o == vbd || !vm || streq(vm->v[FIDX(VM, power_state)], "Suspended") ||
            is_true(vm->v[FIDX(VM, is_control_domain)]))
            continue;
        struct api_error *op = busy("VBD", o->ref, o->v[FIDX(VBD, current_operations)]);
        bool in_op = op != NULL;
        api_error_free(op);
        if (is_true(o->v[FIDX(VBD, currently_attached)]) || in_op) {
            held = true;
            *ret_rw = *ret_rw || streq(o->v[FIDX(VBD, mode)], "RW");
        }
    }
    strlist_iter_done(&it);
    strbuf_done(&scratch);
    return held;
}

struct api_error *vbdops_assert_attachable(const char *vbd_ref)
{
    const struct row *vbd = NULL, *vm, *vdi;
    db_rdlock();
    struct api_error *e = api_lookup(C_VBD, vbd_ref, &vbd);
    if (e)
        goto out;
    vm = db_get(C_VM, vbd->v[FIDX(VBD, VM)]);
    if ((e = busy("VBD", vbd->ref, vbd->v[FIDX(VBD, current_operations)])))
        goto out;
    /* A suspended VM's CD can be neither changed nor attached: its resume
     * attaches it. */
    if (vm && streq(vbd->v[FIDX(VBD, type)], "CD") &&
        streq(vm->v[FIDX(VM, power_state)], "Suspended")) {
        e = api_fail(VM_BAD_POWER_STATE, vm->ref, "halted, running", "suspended");
        goto out;
    }
    if (is_true(vbd->v[FIDX(VBD, empty)]))
        goto out;
    vdi = db_get(C_VDI, vbd->v[FIDX(VBD, VDI)]);
    if (!vdi) {
        e = api_fail(HANDLE_INVALID, "VDI", vbd->v[FIDX(VBD, VDI)]);
        goto out;
    }
    /* xapi names the VBD here, not the VDI. */
    if (!is_true(vdi->v[FIDX(VDI, managed)])) {
        e = api_fail(VDI_NOT_MANAGED, vbd->ref);
        goto out;
    }
    if ((e = busy("VDI", vdi->ref, vdi->v[FIDX(VDI, current_operations)])))
        goto out;
    if (!is_true(vbd->v[FIDX(VBD, currently_attached)])) {
        bool rw, need_write = streq(vbd->v[FIDX(VBD, mode)], "RW");
        bool held = vdi_held_elsewhere(vdi, vbd, &rw);
        bool dom0 = vm && is_true(vm->v[FIDX(VM, is_control_domain)]);
        /* xapi gives VDI_IN_USE only the VDI here. */
        if (!is_true(vdi->v[FIDX(VDI, sharable)]) && !dom0 && (rw || (need_write && held)))
            e = api_fail(VDI_IN_USE, vdi->ref);
        else if (need_write && is_true(vdi->v[FIDX(VDI, read_only)]))
            e = api_fail(VDI_READONLY, vdi->ref);
    }
out:
    db_unlock();
    return e;
}
