/* The VM's memory limits and VCPU counts set while it is halted:
 * set_memory_limits, set_memory_static_range, set_memory (static max and
 * the dynamic range at once), the single-limit setters, and
 * set_VCPUs_max / set_VCPUs_at_startup — each checked against the rules a
 * domain is built by (static_min <= dynamic_min <= dynamic_max <=
 * static_max; 1 <= VCPUs_at_startup <= VCPUs_max). The dynamic range of a
 * running VM is set_memory_dynamic_range's (vm.c). */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/strlist.h"
#include "lib/util.h"
#include "xapi-c/api.h"
#include "xapi-c/db.h"
#include "xapi-c/vmops.h"

enum { SMIN, SMAX, DMIN, DMAX, N_LIMITS };

static const int limit_fields[N_LIMITS] = {
    FIDX(VM, memory_static_min),
    FIDX(VM, memory_static_max),
    FIDX(VM, memory_dynamic_min),
    FIDX(VM, memory_dynamic_max),
};

/* Which limits a message sets, from which of its arguments (0: left as
 * it is). */
static const struct {
    int msg;
    int arg[N_LIMITS];
} setters[] = {
    {M_VM_set_memory_limits, {2, 3, 4, 5}},
    {M_VM_set_memory_static_range, {2, 3, 0, 0}},
    {M_VM_set_memory_static_min, {2, 0, 0, 0}},
    {M_VM_set_memory_static_max, {0, 2, 0, 0}},
    {M_VM_set_memory_dynamic_min, {0, 0, 2, 0}},
    {M_VM_set_memory_dynamic_max, {0, 0, 0, 2}},
    {M_VM_set_memory, {0, 2, 2, 2}},
};

/* The VM of argument 1, which must be halted with nothing under way (db
 * lock held). */
static struct api_error *halted_vm(struct call *c, const struct row **ret)
{
    const struct row *vm = NULL;
    struct api_error *e = api_lookup(C_VM, arg_str(c, 1), &vm);
    if (e)
        return e;
    const char *ps = vm->v[FIDX(VM, power_state)];
    if (!streq(ps, "Halted")) {
        char actual[16];
        snprintf(actual, sizeof(actual), "%s", ps);
        for (char *p = actual; *p; p++)
            *p = (char)(*p >= 'A' && *p <= 'Z' ? *p - 'A' + 'a' : *p);
        return api_fail(VM_BAD_POWER_STATE, vm->ref, "halted", actual);
    }
    if (strlist_count(vm->v[FIDX(VM, current_operations)]) > 0 &&
        (e = vmops_check(vm->ref, "changing_dynamic_range")))
        return e; /* OTHER_OPERATION_IN_PROGRESS */
    *ret = vm;
    return NULL;
}

static struct api_error *set_limits(struct call *c)
{
    const int *args = NULL;
    for (size_t i = 0; i < ELEMENTSOF(setters) && !args; i++)
        if (setters[i].msg == c->m->msg)
            args = setters[i].arg;
    if (!args)
        return api_fail(MESSAGE_NOT_IMPLEMENTED, c->wire_name);
    const struct row *vm = NULL;
    db_wrlock();
    struct api_error *e = halted_vm(c, &vm);
    if (!e) {
        int64_t v[N_LIMITS];
        for (int i = 0; i < N_LIMITS; i++)
            v[i] = args[i] ? arg_int(c, args[i]) : strtoll(vm->v[limit_fields[i]], NULL, 10);
        if (!(v[SMIN] <= v[DMIN] && v[DMIN] <= v[DMAX] && v[DMAX] <= v[SMAX]) || v[SMIN] < 0)
            e = api_fail(MEMORY_CONSTRAINT_VIOLATION,
                         "Memory limits must satisfy: static_min <= dynamic_min <= dynamic_max "
                         "<= static_max");
        if (!e) {
            struct changeset *cs = changeset_new();
            for (int i = 0; i < N_LIMITS; i++) {
                char buf[32];
                snprintf(buf, sizeof(buf), "%" PRId64, v[i]);
                if (!streq(vm->v[limit_fields[i]], buf))
                    changeset_set(cs, C_VM, vm->ref, limit_fields[i], buf);
            }
            e = api_apply(cs);
        }
    }
    db_unlock();
    if (!e)
        out_void(c->out);
    return e;
}

/* set_VCPUs_max (halted) and set_VCPUs_at_startup: at least one VCPU at
 * startup, never more than the maximum. */
static struct api_error *set_vcpus(struct call *c)
{
    bool max = c->m->msg == M_VM_set_VCPUs_max;
    const struct row *vm = NULL;
    int64_t n = arg_int(c, 2);
    db_wrlock();
    struct api_error *e = max ? halted_vm(c, &vm) : api_lookup(C_VM, arg_str(c, 1), &vm);
    if (!e) {
        int64_t other =
            strtoll(vm->v[max ? FIDX(VM, VCPUs_at_startup) : FIDX(VM, VCPUs_max)], NULL, 10);
        if (n < 1 || (max ? n < other : n > other))
            e = api_fail(INVALID_VALUE, max ? "VCPUs_max" : "VCPUs_at_startup", arg_str(c, 2));
    }
    if (!e) {
        struct changeset *cs = changeset_new();
        changeset_set(cs, C_VM, vm->ref, max ? FIDX(VM, VCPUs_max) : FIDX(VM, VCPUs_at_startup),
                      arg_str(c, 2));
        e = api_apply(cs);
    }
    db_unlock();
    if (!e)
        out_void(c->out);
    return e;
}

void vm_limits_register(void);
void vm_limits_register(void)
{
    for (size_t i = 0; i < ELEMENTSOF(setters); i++)
        api_register(setters[i].msg, set_limits);
    api_register(M_VM_set_VCPUs_max, set_vcpus);
    api_register(M_VM_set_VCPUs_at_startup, set_vcpus);
}
