/* VM messages that only read or set the VM's record, each as XCP's xapi
 * answers it: the deprecated get_cooperative and set_HVM_boot_policy,
 * set_domain_type (which sets the boot policy with the type),
 * compute_memory_overhead (XCP's memory model), set_suspend_VDI,
 * copy_bios_strings, the HA restart priority, agility and the disaster
 * recovery checks, the secure boot readiness, and wait_memory_target_live
 * (which asks domaind how far the balloon is). Messages XCP itself answers
 * with NOT_IMPLEMENTED (query_services) answer the same here. */
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "lib/log.h"
#include "lib/strlist.h"
#include "lib/util.h"
#include "xapi-c/api.h"
#include "xapi-c/db.h"
#include "xapi-c/domains.h"
#include "xapi-c/sessions.h"
#include "xapi-c/vmops.h"

LOG_MODULE("vm");

#define MiB (1024 * 1024LL)
/* How close the balloon must come to its target, and how long
 * wait_memory_target_live waits for it (XCP: 1 MiB, 256 s). */
#define TARGET_TOLERANCE MiB
#define TARGET_TIMEOUT 256

static int64_t val_int(const struct row *r, int f)
{
    return strtoll(r->v[f], NULL, 10);
}

static struct api_error *set_fields(const char *vm, const int *fields, const char *const *values,
                                    size_t n)
{
    struct changeset *cs = changeset_new();
    for (size_t i = 0; i < n; i++)
        changeset_set(cs, C_VM, vm, fields[i], values[i]);
    return api_apply(cs);
}

/* Deprecated since XCP 6: every VM is cooperative. */
static struct api_error *get_cooperative(struct call *c)
{
    const struct row *vm = NULL;
    db_rdlock();
    struct api_error *e = api_lookup(C_VM, arg_str(c, 1), &vm);
    db_unlock();
    if (!e)
        out_bool(c->out, true);
    return e;
}

/* XCP's model (xapi-idl memory.ml): MiB for Xen's own use of the domain
 * — 1 MiB of external extra, 1 more inside HVM guests, the shadow pages
 * (256 per vCPU, and two per MiB of memory: the p2m map and the resident
 * shadow, times the shadow multiplier, at least 1 MiB), and 38 pages per
 * vCPU — for the VM's static maximum and VCPUs_max. */
static int64_t overhead_bytes(int64_t static_max, int64_t vcpus, double multiplier, bool hvm)
{
    int64_t max_mib = (static_max + MiB - 1) / MiB;
    int64_t shadow_pages = 256 * vcpus + 2 * max_mib;
    int64_t shadow_mib = (shadow_pages + 255) / 256;
    int64_t shadow = (int64_t)((double)shadow_mib * multiplier);
    if (shadow < 1)
        shadow = 1;
    int64_t mib = (hvm ? 1 : 0) + 1 + shadow + (38 * vcpus + 255) / 256;
    return mib * MiB;
}

static struct api_error *compute_memory_overhead(struct call *c)
{
    const struct row *vm = NULL;
    db_rdlock();
    struct api_error *e = api_lookup(C_VM, arg_str(c, 1), &vm);
    if (!e) {
        const char *dt = vm->v[FIDX(VM, domain_type)];
        bool hvm = streq(dt, "hvm") || streq(dt, "pvh") ||
                   (streq(dt, "unspecified") && *vm->v[FIDX(VM, HVM_boot_policy)]);
        out_int(c->out, overhead_bytes(val_int(vm, FIDX(VM, memory_static_max)),
                                       val_int(vm, FIDX(VM, VCPUs_max)),
                                       strtod(vm->v[FIDX(VM, HVM_shadow_multiplier)], NULL), hvm));
    }
    db_unlock();
    return e;
}

/* Deprecated: the boot policy decides the domain type ("" is PV). */
static struct api_error *set_HVM_boot_policy(struct call *c)
{
    const struct row *vm = NULL;
    db_wrlock();
    struct api_error *e = api_lookup(C_VM, arg_str(c, 1), &vm);
    if (!e) {
        const int f[] = {FIDX(VM, domain_type), FIDX(VM, HVM_boot_policy)};
        const char *v[] = {*arg_str(c, 2) ? "hvm" : "pv", arg_str(c, 2)};
        e = set_fields(vm->ref, f, v, 2);
    }
    db_unlock();
    if (!e)
        out_void(c->out);
    return e;
}

/* The domain type decides the boot policy, as XCP derives it: HVM boots
 * in BIOS order, the others have none. */
static struct api_error *set_domain_type(struct call *c)
{
    const char *type = arg_str(c, 2);
    if (streq(type, "unspecified"))
        return api_fail(INVALID_VALUE, "domain_type", type);
    const struct row *vm = NULL;
    db_wrlock();
    struct api_error *e = api_lookup(C_VM, arg_str(c, 1), &vm);
    if (!e) {
        const int f[] = {FIDX(VM, domain_type), FIDX(VM, HVM_boot_policy)};
        const char *v[] = {type, streq(type, "hvm") ? "BIOS order" : ""};
        e = set_fields(vm->ref, f, v, 2);
    }
    db_unlock();
    if (!e)
        out_void(c->out);
    return e;
}

/* A suspended VM's image may be replaced by another VDI with the same
 * content: XCP compares the two VDIs' checksums. Xenia's storaged has no
 * checksum of a VDI yet, so naming the image it has is accepted (and
 * changes nothing), another VDI is refused with NOT_IMPLEMENTED saying
 * why, after XCP's other checks. */
static struct api_error *set_suspend_VDI(struct call *c)
{
    const struct row *vm = NULL, *vdi = NULL;
    db_rdlock();
    struct api_error *e = api_lookup(C_VM, arg_str(c, 1), &vm);
    if (!e)
        e = api_lookup(C_VDI, arg_str(c, 2), &vdi);
    if (!e && !streq(vm->v[FIDX(VM, power_state)], "Suspended")) {
        char *actual = xstrdup(vm->v[FIDX(VM, power_state)]);
        for (char *p = actual; *p; p++)
            if (*p >= 'A' && *p <= 'Z')
                *p = (char)(*p - 'A' + 'a');
        e = api_fail(VM_BAD_POWER_STATE, vm->ref, "suspended", actual);
        free(actual);
    }
    if (!e && streq(vdi->v[FIDX(VDI, type)], "cbt_metadata"))
        e = api_fail(VDI_INCOMPATIBLE_TYPE, vm->ref, "cbt_metadata");
    if (!e && !streq(vm->v[FIDX(VM, suspend_VDI)], vdi->ref))
        e = api_fail(NOT_IMPLEMENTED, "VM.set_suspend_VDI: comparing the checksums of two VDIs");
    db_unlock();
    if (!e)
        out_void(c->out);
    return e;
}

static struct api_error *copy_bios_strings(struct call *c)
{
    const struct row *vm = NULL, *host = NULL;
    db_wrlock();
    struct api_error *e = api_lookup(C_VM, arg_str(c, 1), &vm);
    if (!e)
        e = api_lookup(C_host, arg_str(c, 2), &host);
    if (!e && strlist_count(vm->v[FIDX(VM, bios_strings)]) > 0)
        e = api_fail(VM_BIOS_STRINGS_ALREADY_SET);
    if (!e) { /* the affinity sends the VM to the host its strings are from */
        const int f[] = {FIDX(VM, bios_strings), FIDX(VM, affinity)};
        const char *v[] = {host->v[FIDX(host, bios_strings)], host->ref};
        e = set_fields(vm->ref, f, v, 2);
    }
    db_unlock();
    if (!e)
        out_void(c->out);
    return e;
}

/* "restart", "best-effort" or "" (not protected); a running VM's
 * ha_always_run follows whether it is "restart", as in XCP. */
static struct api_error *set_priority(const char *vm_ref, const char *value)
{
    const struct row *vm = NULL;
    if (!streq(value, "restart") && !streq(value, "best-effort") && *value)
        return api_fail(INVALID_VALUE, "ha_restart_priority", value);
    db_wrlock();
    struct api_error *e = api_lookup(C_VM, vm_ref, &vm);
    if (!e && !streq(vm->v[FIDX(VM, ha_restart_priority)], value)) {
        bool running = streq(vm->v[FIDX(VM, power_state)], "Running");
        const int f[] = {FIDX(VM, ha_restart_priority), FIDX(VM, ha_always_run)};
        const char *v[] = {value, streq(value, "restart") ? "true" : "false"};
        e = set_fields(vm->ref, f, v, running ? 2 : 1);
    }
    db_unlock();
    return e;
}

static struct api_error *set_ha_restart_priority(struct call *c)
{
    struct api_error *e = set_priority(arg_str(c, 1), arg_str(c, 2));
    if (!e)
        out_void(c->out);
    return e;
}

/* Deprecated: true is priority "restart", false none. */
static struct api_error *set_ha_always_run(struct call *c)
{
    struct api_error *e = set_priority(arg_str(c, 1), arg_bool(c, 2) ? "restart" : "");
    if (!e)
        out_void(c->out);
    return e;
}

static bool host_enabled(const struct row *h)
{
    return streq(h->v[FIDX(host, enabled)], "true");
}

/* XCP's is_sr_properly_shared: shared, and plugged on every enabled host
 * (db lock held). */
static bool sr_properly_shared(const struct row *sr)
{
    if (!streq(sr->v[FIDX(SR, shared)], "true"))
        return false;
    size_t it = 0;
    const struct row *h;
    while (db_next(C_host, &it, &h)) {
        if (!host_enabled(h))
            continue;
        bool plugged = false;
        size_t jt = 0;
        const struct row *pbd;
        while (!plugged && db_next(C_PBD, &jt, &pbd))
            plugged = streq(pbd->v[FIDX(PBD, SR)], sr->ref) &&
                      streq(pbd->v[FIDX(PBD, host)], h->ref) &&
                      streq(pbd->v[FIDX(PBD, currently_attached)], "true");
        if (!plugged)
            return false;
    }
    return true;
}

/* XCP's is_network_properly_shared: every enabled host has a PIF (not a
 * bond's slave) on it; a host-internal network has none (db lock held). */
static bool network_properly_shared(const char *network)
{
    size_t it = 0;
    const struct row *h;
    while (db_next(C_host, &it, &h)) {
        if (!host_enabled(h))
            continue;
        bool found = false;
        size_t jt = 0;
        const struct row *pif;
        while (!found && db_next(C_PIF, &jt, &pif))
            found = streq(pif->v[FIDX(PIF, network)], network) &&
                    streq(pif->v[FIDX(PIF, host)], h->ref) &&
                    !db_get(C_Bond, pif->v[FIDX(PIF, bond_slave_of)]);
        if (!found)
            return false;
    }
    return true;
}

static struct api_error *assert_agile(struct call *c)
{
    const struct row *vm = NULL;
    struct strbuf scratch;
    struct strlist_iter it;
    const char *ref;
    strbuf_init(&scratch, 0);
    db_rdlock();
    struct api_error *e = api_lookup(C_VM, arg_str(c, 1), &vm);
    if (!e) {
        strlist_iter_init(&it, db_value(vm, FIDX(VM, VBDs), &scratch));
        while (!e && strlist_iter_next(&it, NULL, &ref)) {
            const struct row *vbd = db_get(C_VBD, ref);
            if (!vbd || streq(vbd->v[FIDX(VBD, empty)], "true"))
                continue;
            const struct row *vdi = db_get(C_VDI, vbd->v[FIDX(VBD, VDI)]);
            const struct row *sr = vdi ? db_get(C_SR, vdi->v[FIDX(VDI, SR)]) : NULL;
            if (sr && !sr_properly_shared(sr))
                e = api_fail(HA_CONSTRAINT_VIOLATION_SR_NOT_SHARED, sr->ref);
        }
        strlist_iter_done(&it);
    }
    if (!e) {
        strlist_iter_init(&it, db_value(vm, FIDX(VM, VIFs), &scratch));
        while (!e && strlist_iter_next(&it, NULL, &ref)) {
            const struct row *vif = db_get(C_VIF, ref);
            if (vif && !network_properly_shared(vif->v[FIDX(VIF, network)]))
                e = api_fail(HA_CONSTRAINT_VIOLATION_NETWORK_NOT_SHARED,
                             vif->v[FIDX(VIF, network)]);
        }
        strlist_iter_done(&it);
    }
    db_unlock();
    strbuf_done(&scratch);
    if (!e)
        out_void(c->out);
    return e;
}

/* The SRs (not ISO libraries) of the VM's disks other than CDs, into
 * ret (at most max, deduplicated); db lock held. */
static size_t required_srs(const struct row *vm, char (*ret)[64], size_t max)
{
    struct strbuf scratch;
    struct strlist_iter it;
    const char *ref;
    size_t n = 0;
    strbuf_init(&scratch, 0);
    strlist_iter_init(&it, db_value(vm, FIDX(VM, VBDs), &scratch));
    while (n < max && strlist_iter_next(&it, NULL, &ref)) {
        const struct row *vbd = db_get(C_VBD, ref);
        if (!vbd || streq(vbd->v[FIDX(VBD, type)], "CD"))
            continue;
        const struct row *vdi = db_get(C_VDI, vbd->v[FIDX(VBD, VDI)]);
        const struct row *sr = vdi ? db_get(C_SR, vdi->v[FIDX(VDI, SR)]) : NULL;
        if (!sr || streq(sr->v[FIDX(SR, content_type)], "iso"))
            continue;
        bool seen = false;
        for (size_t i = 0; i < n && !seen; i++)
            seen = streq(ret[i], sr->ref);
        if (!seen)
            snprintf(ret[n++], 64, "%s", sr->ref);
    }
    strlist_iter_done(&it);
    strbuf_done(&scratch);
    return n;
}

/* Whether the pool of session_to has the SR of uuid with a plugged PBD.
 * session_to can only be a session of this pool (Xenia does not log in to
 * other pools for disaster recovery yet), so its database is this one. */
static bool sr_available(const char *sr_ref)
{
    size_t it = 0;
    const struct row *pbd;
    while (db_next(C_PBD, &it, &pbd))
        if (streq(pbd->v[FIDX(PBD, SR)], sr_ref) &&
            streq(pbd->v[FIDX(PBD, currently_attached)], "true"))
            return true;
    return false;
}

#define MAX_SRS 64

static struct api_error *recovery_check(struct call *c, bool assert)
{
    const struct row *vm = NULL;
    char(*srs)[64] = xcalloc(MAX_SRS, 64);
    if (!session_is_valid(arg_str(c, 2))) {
        free(srs);
        return api_fail(SESSION_INVALID, arg_str(c, 2));
    }
    db_rdlock();
    struct api_error *e = api_lookup(C_VM, arg_str(c, 1), &vm);
    if (!e) {
        size_t n = required_srs(vm, srs, MAX_SRS);
        if (!assert)
            out_array_begin(c->out);
        for (size_t i = 0; i < n && !e; i++) {
            if (sr_available(srs[i]))
                continue;
            if (assert)
                e = api_fail(VM_REQUIRES_SR, vm->ref, srs[i]);
            else
                out_string(c->out, srs[i]);
        }
        if (!assert)
            out_array_end(c->out);
        else if (!e)
            out_void(c->out);
    }
    db_unlock();
    free(srs);
    return e;
}

static struct api_error *get_SRs_required_for_recovery(struct call *c)
{
    return recovery_check(c, false);
}

static struct api_error *assert_can_be_recovered(struct call *c)
{
    return recovery_check(c, true);
}

/* XCP: not_supported for BIOS firmware, disabled without platform
 * secureboot, first_boot until the VM has EFI variables. Reading the
 * certificates out of the variables takes varstored, which Xenia has
 * not: that case fails saying so. */
static struct api_error *get_secureboot_readiness(struct call *c)
{
    const struct row *vm = NULL;
    const char *answer = NULL;
    db_rdlock();
    struct api_error *e = api_lookup(C_VM, arg_str(c, 1), &vm);
    if (!e) {
        char *fw = strmap_get(vm->v[FIDX(VM, HVM_boot_params)], "firmware");
        char *sb = strmap_get(vm->v[FIDX(VM, platform)], "secureboot");
        char *vars = strmap_get(vm->v[FIDX(VM, NVRAM)], "EFI-variables");
        if (fw && !streq(fw, "bios") && !streq(fw, "uefi"))
            e = api_fail(INVALID_VALUE, "HVM-boot-params['firmware']", fw);
        else if (!fw || streq(fw, "bios"))
            answer = "not_supported";
        else if (!sb || !(streq(sb, "true") || streq(sb, "1")))
            answer = "disabled";
        else if (!vars)
            answer = "first_boot";
        else
            e = api_fail(NOT_IMPLEMENTED,
                         "VM.get_secureboot_readiness: reading the certificates in the VM's EFI "
                         "variables (no varstored here)");
        free(fw);
        free(sb);
        free(vars);
    }
    db_unlock();
    if (answer)
        out_string(c->out, answer);
    return e;
}

/* Waits (at most TARGET_TIMEOUT s) for the running VM's balloon to come
 * within TARGET_TOLERANCE of its target, then records memory_actual. */
static struct api_error *wait_memory_target_live(struct call *c)
{
    const char *vm_ref = arg_str(c, 1);
    char uuid[40] = "", task[64];
    api_new_ref(task);
    struct api_error *e = vmops_begin(vm_ref, "awaiting_memory_live", task);
    if (e)
        return e;
    db_rdlock();
    const struct row *vm = db_get(C_VM, vm_ref);
    snprintf(uuid, sizeof(uuid), "%s", vm ? vm->v[FIDX(VM, uuid)] : "");
    db_unlock();
    json_object *p = json_object_new_object();
    json_object_object_add(p, "uuid", json_object_new_string(uuid));
    for (int waited = 0; !e; waited++) {
        json_object *st = NULL, *v;
        if ((e = domains_call(vm_ref, "domain/stats", p, 30, &st)))
            break;
        int64_t actual =
            json_object_object_get_ex(st, "memory_actual", &v) ? json_object_get_int64(v) : 0;
        int64_t target =
            json_object_object_get_ex(st, "memory_target", &v) ? json_object_get_int64(v) : 0;
        json_object_put(st);
        if (llabs(actual - target) <= TARGET_TOLERANCE) {
            char buf[32];
            snprintf(buf, sizeof(buf), "%" PRId64, actual);
            db_wrlock();
            vm = db_get(C_VM, vm_ref);
            if (vm && db_get(C_VM_metrics, vm->v[FIDX(VM, metrics)])) {
                struct changeset *cs = changeset_new();
                changeset_set(cs, C_VM_metrics, vm->v[FIDX(VM, metrics)],
                              FIDX(VM_metrics, memory_actual), buf);
                e = api_apply(cs);
            }
            db_unlock();
            break;
        }
        if (waited >= TARGET_TIMEOUT) {
            /* XCP's VM_MEMORY_TARGET_WAIT_TIMEOUT is not in the published
             * error table this server is built from */
            e = api_failf(INTERNAL_ERROR, "VM_MEMORY_TARGET_WAIT_TIMEOUT %s",
                          c->task ? c->task : task);
            break;
        }
        struct timespec ts = {1, 0};
        nanosleep(&ts, NULL);
    }
    json_object_put(p);
    vmops_end(vm_ref, task);
    if (!e)
        out_void(c->out);
    return e;
}

/* XCP answers NOT_IMPLEMENTED: it has no guest-agent services query. */
static struct api_error *query_services(struct call *c)
{
    const struct row *vm = NULL;
    db_rdlock();
    struct api_error *e = api_lookup(C_VM, arg_str(c, 1), &vm);
    db_unlock();
    return e ? e : api_fail(NOT_IMPLEMENTED, "query_services");
}

void vm_messages_register(void);
void vm_messages_register(void)
{
    api_register(M_VM_get_cooperative, get_cooperative);
    api_register(M_VM_compute_memory_overhead, compute_memory_overhead);
    api_register(M_VM_set_HVM_boot_policy, set_HVM_boot_policy);
    api_register(M_VM_set_domain_type, set_domain_type);
    api_register(M_VM_set_suspend_VDI, set_suspend_VDI);
    api_register(M_VM_copy_bios_strings, copy_bios_strings);
    api_register(M_VM_set_ha_restart_priority, set_ha_restart_priority);
    api_register(M_VM_set_ha_always_run, set_ha_always_run);
    api_register(M_VM_assert_agile, assert_agile);
    api_register(M_VM_get_SRs_required_for_recovery, get_SRs_required_for_recovery);
    api_register(M_VM_assert_can_be_recovered, assert_can_be_recovered);
    api_register(M_VM_get_secureboot_readiness, get_secureboot_readiness);
    api_register(M_VM_wait_memory_target_live, wait_memory_target_live);
    api_register(M_VM_query_services, query_services);
}
