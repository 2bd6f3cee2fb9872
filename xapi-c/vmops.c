/* The VM power-state machine and the recording of domain states (see
 * vmops.h). */
#include "vmops.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "config.h"
#include "db.h"
#include "domains.h"
#include "lib/log.h"
#include "lib/strlist.h"
#include "lib/util.h"
#include "network.h"
#include "storage.h"

LOG_MODULE("vmops");

#define ALL_STATES (PS_HALTED | PS_PAUSED | PS_RUNNING | PS_SUSPENDED)

/* The operations carried out here and the power states they need
 * (xenapi.md 6.6). allowed_operations lists those a VM may run now. */
static const struct vm_op_desc ops[] = {
    {"start", PS_HALTED, false, false, false},
    {"start_on", PS_HALTED, false, false, false},
    {"pause", PS_RUNNING, false, false, false},
    {"unpause", PS_PAUSED, false, false, false},
    {"clean_shutdown", PS_RUNNING, false, false, false},
    {"clean_reboot", PS_RUNNING, false, false, false},
    {"hard_shutdown", PS_RUNNING | PS_PAUSED | PS_SUSPENDED, false, true, false},
    {"shutdown", PS_RUNNING | PS_PAUSED | PS_SUSPENDED, false, false, false},
    {"hard_reboot", PS_RUNNING | PS_PAUSED, false, false, false},
    {"suspend", PS_RUNNING, false, false, false},
    {"resume", PS_SUSPENDED, false, false, false},
    {"resume_on", PS_SUSPENDED, false, false, false},
    {"power_state_reset", ALL_STATES, true, true, true}, /* not listed, as in XCP */
    {"changing_dynamic_range", PS_HALTED | PS_RUNNING, true, false, false},
    {"changing_VCPUs_live", PS_RUNNING, false, false, false},
    {"destroy", PS_HALTED | PS_SUSPENDED, true, true, false},
    {"clone", PS_HALTED, true, true, false},
    {"copy", PS_HALTED, true, true, false},
    {"snapshot", ALL_STATES, false, false, false},
    {"checkpoint", PS_RUNNING | PS_PAUSED | PS_SUSPENDED, false, false, false},
    {"revert", ALL_STATES, false, true, false},
    {"provision", PS_HALTED, true, false, false},
    /* GET /export and /export_metadata, for their time (xva_export.c). */
    {"export", PS_HALTED | PS_SUSPENDED, true, true, false},
    {"metadata_export", ALL_STATES, true, true, false},
    /* Locks only, as XCP keeps them out of allowed_operations. */
    {"awaiting_memory_live", PS_RUNNING, false, false, true},
    {"send_sysrq", PS_RUNNING, false, false, true},
    {"send_trigger", PS_RUNNING, false, false, true},
    /* The VM that a snapshot reverts, for the time of the revert. */
    {"reverting", ALL_STATES, false, false, true},
};

static const char *const state_names[] = {"Halted", "Paused", "Running", "Suspended"};

const struct vm_op_desc *vmops_find(const char *op)
{
    for (size_t i = 0; i < ELEMENTSOF(ops); i++)
        if (streq(ops[i].name, op))
            return &ops[i];
    return NULL;
}

unsigned vmops_state_bit(const char *power_state)
{
    for (size_t i = 0; i < ELEMENTSOF(state_names); i++)
        if (streq(state_names[i], power_state))
            return 1u << i;
    return 0;
}

static bool is_true(const char *v)
{
    return streq(v, "true");
}

static void lower(char *s)
{
    for (; *s; s++)
        if (*s >= 'A' && *s <= 'Z')
            *s = (char)(*s - 'A' + 'a');
}

/* The first key and value of a map's canonical text, or false if empty. */
static bool first_entry(const char *map, char **ret_key, char **ret_val)
{
    struct strlist_iter it;
    const char *k, *v;
    bool found = false;
    strlist_iter_init(&it, map);
    if (strlist_iter_next(&it, &k, &v)) {
        *ret_key = xstrdup(k);
        *ret_val = xstrdup(v);
        found = true;
    }
    strlist_iter_done(&it);
    return found;
}

/* Every rule but the power state's; NULL if op may run as far as they go. */
static struct api_error *check_rules(const struct row *vm, const struct vm_op_desc *op)
{
    char *k, *v;
    bool snapshot = is_true(vm->v[FIDX(VM, is_a_snapshot)]);
    bool template = is_true(vm->v[FIDX(VM, is_a_template)]) && !snapshot;

    if (is_true(vm->v[FIDX(VM, is_control_domain)]))
        return api_fail(OPERATION_NOT_ALLOWED,
                        "This operation is not allowed on the control domain");
    if (template && !op->on_template)
        return api_fail(VM_IS_TEMPLATE, vm->ref, op->name);
    if (snapshot && !op->on_snapshot)
        return api_fail(VM_IS_SNAPSHOT, vm->ref, op->name);
    char *blocked = strmap_get(vm->v[FIDX(VM, blocked_operations)], op->name);
    if (blocked) {
        struct api_error *e = api_fail(OPERATION_BLOCKED, vm->ref, blocked);
        free(blocked);
        return e;
    }
    if (first_entry(vm->v[FIDX(VM, current_operations)], &k, &v)) {
        struct api_error *e = api_fail(OTHER_OPERATION_IN_PROGRESS, "VM", vm->ref, v, k);
        free(k);
        free(v);
        return e;
    }
    return NULL;
}

static struct api_error *check_state(const struct row *vm, const struct vm_op_desc *op)
{
    const char *ps = vm->v[FIDX(VM, power_state)];
    if (op->states & vmops_state_bit(ps))
        return NULL;
    struct strbuf expected;
    strbuf_init(&expected, 64);
    for (size_t i = 0; i < ELEMENTSOF(state_names); i++)
        if (op->states & (1u << i)) {
            if (expected.len)
                strbuf_adds(&expected, ", ");
            strbuf_adds(&expected, state_names[i]);
        }
    char *actual = xstrdup(ps);
    lower(expected.buf);
    lower(actual);
    struct api_error *e = api_fail(VM_BAD_POWER_STATE, vm->ref, expected.buf, actual);
    strbuf_done(&expected);
    free(actual);
    return e;
}

struct api_error *vmops_check(const char *vm_ref, const char *op_name)
{
    const struct row *vm = NULL;
    struct api_error *e = api_lookup(C_VM, vm_ref, &vm);
    if (e)
        return e;
    const struct vm_op_desc *op = vmops_find(op_name);
    if (!op)
        return api_fail(OPERATION_NOT_ALLOWED, "This operation is not supported");
    if ((e = check_rules(vm, op)))
        return e;
    return check_state(vm, op);
}

char *vmops_allowed(const struct row *vm)
{
    struct strbuf sb;
    strbuf_init(&sb, 128);
    strbuf_addc(&sb, '[');
    for (size_t i = 0; i < ELEMENTSOF(ops); i++) {
        if (ops[i].internal)
            continue;
        struct api_error *e = check_rules(vm, &ops[i]);
        if (!e)
            e = check_state(vm, &ops[i]);
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

/* Sets current_operations and recomputes allowed_operations from the
 * row as it will be (db write lock held). */
static void set_ops(const struct row *vm, char *current)
{
    struct changeset *cs = changeset_new();
    changeset_set(cs, C_VM, vm->ref, FIDX(VM, current_operations), current);
    db_apply(cs);
    changeset_free(cs);
    char *allowed = vmops_allowed(vm);
    if (!streq(allowed, vm->v[FIDX(VM, allowed_operations)])) {
        cs = changeset_new();
        changeset_set(cs, C_VM, vm->ref, FIDX(VM, allowed_operations), allowed);
        db_apply(cs);
        changeset_free(cs);
    }
    free(allowed);
}

struct api_error *vmops_begin(const char *vm_ref, const char *op, const char *task)
{
    db_wrlock();
    struct api_error *e = vmops_check(vm_ref, op);
    if (!e) {
        const struct row *vm = db_get(C_VM, vm_ref);
        char *cur = strmap_with(vm->v[FIDX(VM, current_operations)], task, op);
        set_ops(vm, cur);
        free(cur);
    }
    db_unlock();
    return e;
}

void vmops_end(const char *vm_ref, const char *task)
{
    db_wrlock();
    const struct row *vm = db_get(C_VM, vm_ref);
    if (vm) {
        char *cur = strmap_with(vm->v[FIDX(VM, current_operations)], task, NULL);
        set_ops(vm, cur);
        free(cur);
    }
    db_unlock();
}

static int64_t json_int(json_object *o, const char *key, int64_t def)
{
    json_object *x;
    return json_object_object_get_ex(o, key, &x) ? json_object_get_int64(x) : def;
}

static const char *json_str(json_object *o, const char *key)
{
    json_object *x;
    return json_object_object_get_ex(o, key, &x) && json_object_is_type(x, json_type_string)
               ? json_object_get_string(x)
               : NULL;
}

/* Writes the VM's power state and the facts that go with it. */
static void record(const char *vm_ref, const char *power_state, json_object *dom)
{
    char when[DATETIME_LEN], buf[32];
    struct changeset *cs = changeset_new();
    bool live = streq(power_state, "Running") || streq(power_state, "Paused");

    datetime_format(time(NULL), when);
    db_wrlock();
    const struct row *vm = db_get(C_VM, vm_ref);
    if (!vm)
        goto out;
    bool was_live = vmops_state_bit(vm->v[FIDX(VM, power_state)]) & (PS_RUNNING | PS_PAUSED);
    changeset_set(cs, C_VM, vm_ref, FIDX(VM, power_state), power_state);
    snprintf(buf, sizeof(buf), "%" PRId64, live ? json_int(dom, "domid", -1) : (int64_t)-1);
    changeset_set(cs, C_VM, vm_ref, FIDX(VM, domid), buf);
    changeset_set(cs, C_VM, vm_ref, FIDX(VM, resident_on),
                  live ? xapi_state.host_ref : "OpaqueRef:NULL");
    const struct row *m = db_get(C_VM_metrics, vm->v[FIDX(VM, metrics)]);
    if (m) {
        snprintf(buf, sizeof(buf), "%" PRId64, live ? json_int(dom, "memory_actual", 0) : 0);
        changeset_set(cs, C_VM_metrics, m->ref, FIDX(VM_metrics, memory_actual), buf);
        snprintf(buf, sizeof(buf), "%" PRId64, live ? json_int(dom, "vcpus", 0) : 0);
        changeset_set(cs, C_VM_metrics, m->ref, FIDX(VM_metrics, VCPUs_number), buf);
        if (live && !was_live)
            changeset_set(cs, C_VM_metrics, m->ref, FIDX(VM_metrics, start_time), when);
        const char *type = live ? json_str(dom, "type") : NULL;
        changeset_set(cs, C_VM_metrics, m->ref, FIDX(VM_metrics, current_domain_type),
                      type ? type : "unspecified");
        changeset_set(cs, C_VM_metrics, m->ref, FIDX(VM_metrics, hvm),
                      type && streq(type, "hvm") ? "true" : "false");
        changeset_set(cs, C_VM_metrics, m->ref, FIDX(VM_metrics, last_updated), when);
    }
    db_apply(cs);
    vm = db_get(C_VM, vm_ref);
    char *allowed = vmops_allowed(vm);
    if (!streq(allowed, vm->v[FIDX(VM, allowed_operations)])) {
        struct changeset *cs2 = changeset_new();
        changeset_set(cs2, C_VM, vm_ref, FIDX(VM, allowed_operations), allowed);
        db_apply(cs2);
        changeset_free(cs2);
    }
    free(allowed);
out:
    db_unlock();
    changeset_free(cs);
    if (!live) /* the domain is gone: so is its hold on the disks */
        storage_vm_release(vm_ref);
    network_vm_record(vm_ref, live); /* network.c: VIF ports follow the domain */
}

void vmops_record(const char *vm_ref, json_object *dom)
{
    const char *state = dom ? json_str(dom, "state") : NULL;
    if (state && streq(state, "running"))
        record(vm_ref, "Running", dom);
    else if (state && streq(state, "paused"))
        record(vm_ref, "Paused", dom);
    else
        record(vm_ref, "Halted", NULL);
}

void vmops_record_suspended(const char *vm_ref)
{
    record(vm_ref, "Suspended", NULL);
}

/* The VM's ref, whether it has an operation in progress, and what it
 * should do after a guest-initiated stop for reason; copied under the
 * lock. */
struct vm_view {
    char ref[64];
    char power_state[16];
    bool busy;
    char action[32];
};

static bool view_vm(const char *uuid, const char *reason, struct vm_view *ret)
{
    bool found = false;
    db_rdlock();
    const struct row *vm = db_get_by_uuid(C_VM, uuid);
    if (vm && !is_true(vm->v[FIDX(VM, is_control_domain)])) {
        snprintf(ret->ref, sizeof(ret->ref), "%s", vm->ref);
        snprintf(ret->power_state, sizeof(ret->power_state), "%s", vm->v[FIDX(VM, power_state)]);
        ret->busy = strlist_count(vm->v[FIDX(VM, current_operations)]) > 0;
        int f = FIDX(VM, actions_after_shutdown);
        if (reason && streq(reason, "reboot"))
            f = FIDX(VM, actions_after_reboot);
        else if (reason && streq(reason, "crash"))
            f = FIDX(VM, actions_after_crash);
        snprintf(ret->action, sizeof(ret->action), "%s", vm->v[f]);
        found = true;
    }
    db_unlock();
    return found;
}

/* A guest stopped by itself: do what the VM's actions_after_* say, as an
 * operation of its own so that clients do not race it. */
static void after_guest_stop(const char *uuid, const char *reason)
{
    struct vm_view v;
    char task[64];
    if (!view_vm(uuid, reason, &v) || v.busy || streq(reason, "suspend"))
        return;
    bool restart = strstr(v.action, "restart") != NULL;
    bool preserve = streq(v.action, "preserve");
    api_new_ref(task);
    if (vmops_begin(v.ref, restart ? "hard_reboot" : "hard_shutdown", task)) {
        return; /* someone else acts on it: their operation records the outcome */
    }
    json_object *params = json_object_new_object(), *dom = NULL;
    json_object_object_add(params, "uuid", json_object_new_string(uuid));
    /* Look again: an event may be stale (the domain was rebooted since). */
    struct api_error *e = domains_call(v.ref, "domain/get", params, 30, &dom);
    const char *state = dom ? json_str(dom, "state") : NULL;
    if (!e && state && streq(state, "shutdown")) {
        json_object *res = NULL;
        log_info("VM %s stopped (%s): %s", uuid, reason, v.action);
        if (preserve) {
            json_object_object_add(dom, "state", json_object_new_string("paused"));
            vmops_record(v.ref, dom);
        } else if (restart) {
            json_object_object_add(params, "clean", json_object_new_boolean(false));
            e = domains_call(v.ref, "domain/reboot", params, 120, &res);
            vmops_record(v.ref, e ? NULL : res);
        } else {
            e = domains_call(v.ref, "domain/destroy", params, 120, NULL);
            vmops_record(v.ref, NULL);
        }
        json_object_put(res);
    } else if (!e && state)
        vmops_record(v.ref, dom);
    if (e) {
        log_warning("VM %s: acting on its stop failed: %s", uuid, e->code);
        api_error_free(e);
    }
    json_object_put(dom);
    json_object_put(params);
    vmops_end(v.ref, task);
}

static void on_event(json_object *dom)
{
    const char *uuid = json_str(dom, "uuid"), *state = json_str(dom, "state");
    struct vm_view v;
    if (!uuid || !state || !view_vm(uuid, NULL, &v))
        return;
    if (streq(state, "shutdown")) {
        const char *reason = json_str(dom, "shutdown_reason");
        after_guest_stop(uuid, reason ? reason : "poweroff");
        return;
    }
    if (v.busy) /* the operation in progress records its own outcome */
        return;
    if (streq(state, "running") || streq(state, "paused"))
        vmops_record(v.ref, dom);
    else if (streq(state, "destroyed") &&
             (vmops_state_bit(v.power_state) & (PS_RUNNING | PS_PAUSED)))
        vmops_record(v.ref, NULL);
}

void vmops_domain_events(json_object *events, bool full)
{
    size_t n = events && json_object_is_type(events, json_type_array)
                   ? json_object_array_length(events)
                   : 0;
    for (size_t i = 0; i < n; i++)
        on_event(json_object_array_get_idx(events, i));
    if (!full)
        return;
    /* Every domain was listed: a VM that this host thinks runs but has no
     * domain died while nobody watched. */
    char(*dead)[64] = NULL;
    size_t n_dead = 0;
    db_rdlock();
    size_t it = 0;
    const struct row *vm;
    while (db_next(C_VM, &it, &vm)) {
        if (is_true(vm->v[FIDX(VM, is_control_domain)]) ||
            !streq(vm->v[FIDX(VM, resident_on)], xapi_state.host_ref) ||
            !(vmops_state_bit(vm->v[FIDX(VM, power_state)]) & (PS_RUNNING | PS_PAUSED)) ||
            strlist_count(vm->v[FIDX(VM, current_operations)]) > 0)
            continue;
        bool listed = false;
        for (size_t i = 0; i < n && !listed; i++) {
            json_object *d = json_object_array_get_idx(events, i);
            const char *u = json_str(d, "uuid"), *s = json_str(d, "state");
            listed = u && s && streq(u, vm->v[FIDX(VM, uuid)]) && !streq(s, "destroyed");
        }
        if (!listed) {
            dead = xrealloc(dead, (n_dead + 1) * sizeof(*dead));
            snprintf(dead[n_dead++], 64, "%s", vm->ref);
        }
    }
    db_unlock();
    for (size_t i = 0; i < n_dead; i++) {
        log_notice("VM %s has no domain any more: Halted", dead[i]);
        vmops_record(dead[i], NULL);
    }
    free(dead);
}
