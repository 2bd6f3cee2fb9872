/* VM messages: create, which gives a new VM its metrics object as xapi
 * does; destroy, which removes the VM's metrics, VBDs, VIFs and consoles
 * with it (xapi has no VM_HAS_VBDS error: the disks themselves stay); and
 * the lifecycle — start, shutdown, reboot, pause, suspend, resume, memory
 * and VCPUs live — carried out by domaind, each as an operation in the
 * VM's current_operations (vmops.h) so that conflicting calls are refused;
 * a domain gets its disks from storaged as it starts (vmdisks.c); a
 * suspended VM's memory image is a VDI on an SR (vm_suspend.c), which
 * checkpoint keeps in a snapshot and revert gives back. Clone, copy,
 * snapshot, and the disks of revert and provision are vm_copy.c's; data
 * sources are vm_datasources.c's; the messages that only read or set the
 * record are vm_messages.c's. */
#include <errno.h>
#include <signal.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "xapi-c/api.h"
#include "xapi-c/api/host.h"
#include "xapi-c/api/vm_copy.h"
#include "xapi-c/api/vm_suspend.h"
#include "xapi-c/config.h"
#include "xapi-c/domains.h"
#include "xapi-c/network.h"
#include "xapi-c/storage.h"
#include "xapi-c/vmops.h"
#include "xapi-c/db.h"
#include "lib/log.h"
#include "lib/strlist.h"
#include "lib/util.h"

LOG_MODULE("vm");

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
    struct api_error *e = api_apply(cs);
    if (!e) {
        char *allowed = vmops_allowed(db_get(C_VM, ref));
        cs = changeset_new();
        changeset_set(cs, C_VM, ref, FIDX(VM, allowed_operations), allowed);
        free(allowed);
        e = api_apply(cs);
    }
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
    char image[64] = "";

    db_wrlock();
    if (!(e = api_lookup(C_VM, arg_str(c, 1), &vm))) {
        struct changeset *cs = changeset_new();
        e = vmops_check(vm->ref, "destroy");
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
            /* its image goes too, unless a checkpoint shares it */
            snprintf(image, sizeof(image), "%s", vm->v[FIDX(VM, suspend_VDI)]);
            changeset_delete(cs, C_VM, vm->ref);
            e = api_apply(cs);
        }
    }
    db_unlock();
    if (!e && *image && !streq(image, "OpaqueRef:NULL"))
        vm_suspend_vdi_forget(image);
    if (!e)
        out_void(c->out);
    return e;
}

/* ---- the lifecycle ---- */

typedef struct api_error *(*op_body_fn)(struct call *c, const char *vm);

/* Runs body as operation op on the VM of argument 1: registered in
 * current_operations for its duration, refused when it may not run. */
static struct api_error *run_op(struct call *c, const char *op, op_body_fn body)
{
    char key[64];
    const char *vm = arg_str(c, 1);
    if (c->task)
        snprintf(key, sizeof(key), "%s", c->task);
    else
        api_new_ref(key); /* a synchronous call has no task: a key of its own */
    struct api_error *e = vmops_begin(vm, op, key);
    if (e)
        return e;
    e = body(c, vm);
    vmops_end(vm, key);
    if (!e)
        out_void(c->out);
    return e;
}

/* The VM's uuid as a JSON params object. */
static json_object *uuid_params(const char *vm_ref)
{
    json_object *p = json_object_new_object();
    db_rdlock();
    const struct row *vm = db_get(C_VM, vm_ref);
    json_object_object_add(p, "uuid", json_object_new_string(vm ? vm->v[FIDX(VM, uuid)] : ""));
    db_unlock();
    return p;
}

static int64_t val_int(const struct row *r, int f)
{
    return strtoll(r->v[f], NULL, 10);
}

static void add_str(json_object *p, const char *k, const char *v)
{
    json_object_object_add(p, k, json_object_new_string(v));
}

/* The domain to build, from the VM's record; checks the memory and VCPU
 * settings first. */
static struct api_error *domain_spec(const char *vm_ref, bool paused, json_object **ret)
{
    struct api_error *e = NULL;
    db_rdlock();
    const struct row *vm = db_get(C_VM, vm_ref);
    int64_t smin = val_int(vm, FIDX(VM, memory_static_min));
    int64_t smax = val_int(vm, FIDX(VM, memory_static_max));
    int64_t dmin = val_int(vm, FIDX(VM, memory_dynamic_min));
    int64_t dmax = val_int(vm, FIDX(VM, memory_dynamic_max));
    int64_t vmax = val_int(vm, FIDX(VM, VCPUs_max));
    int64_t vstart = val_int(vm, FIDX(VM, VCPUs_at_startup));
    if (!(smin <= dmin && dmin <= dmax && dmax <= smax) || smax <= 0)
        e = api_fail(MEMORY_CONSTRAINT_VIOLATION,
                     "Memory limits must satisfy: static_min <= dynamic_min <= dynamic_max <= "
                     "static_max");
    else if (vstart < 1 || vstart > vmax)
        e = api_fail(INVALID_VALUE, "VCPUs_at_startup", vm->v[FIDX(VM, VCPUs_at_startup)]);
    if (e) {
        db_unlock();
        return e;
    }
    const char *dt = vm->v[FIDX(VM, domain_type)];
    const char *type = streq(dt, "hvm") || streq(dt, "pvh") || streq(dt, "pv") ? dt
                       : *vm->v[FIDX(VM, HVM_boot_policy)]                     ? "hvm"
                                                                               : "pv";
    json_object *p = json_object_new_object();
    add_str(p, "uuid", vm->v[FIDX(VM, uuid)]);
    add_str(p, "name", vm->v[FIDX(VM, name_label)]);
    add_str(p, "type", type);
    json_object_object_add(p, "memory_max", json_object_new_int64(smax));
    json_object_object_add(p, "memory_target", json_object_new_int64(dmax));
    json_object_object_add(p, "vcpus_max", json_object_new_int64(vmax));
    json_object_object_add(p, "vcpus", json_object_new_int64(vstart));
    /* domaind's optional parameters are left out rather than sent empty */
    const struct {
        const char *key;
        int field;
    } opt[] = {{"kernel", FIDX(VM, PV_kernel)},
               {"ramdisk", FIDX(VM, PV_ramdisk)},
               {"cmdline", FIDX(VM, PV_args)},
               {"bootloader", FIDX(VM, PV_bootloader)},
               {"bootloader_args", FIDX(VM, PV_bootloader_args)}};
    for (size_t i = 0; i < ELEMENTSOF(opt); i++)
        if (*vm->v[opt[i].field])
            add_str(p, opt[i].key, vm->v[opt[i].field]);
    char *order = strmap_get(vm->v[FIDX(VM, HVM_boot_params)], "order");
    if (order && *order)
        add_str(p, "boot_order", order);
    free(order);
    json_object *platform = json_tokener_parse(vm->v[FIDX(VM, platform)]);
    json_object_object_add(p, "platform", platform ? platform : json_object_new_object());
    json_object_object_add(p, "disks", json_object_new_array());
    json_object_object_add(p, "nics", json_object_new_array());
    json_object_object_add(p, "start_paused", json_object_new_boolean(paused));
    db_unlock();
    *ret = p;
    return NULL;
}

static struct api_error *check_host(const char *host)
{
    const struct row *h = NULL;
    db_rdlock();
    struct api_error *e = api_lookup(C_host, host, &h);
    db_unlock();
    if (!e && !streq(host, xapi_state.host_ref))
        e = api_fail(HOST_NOT_LIVE);
    return e;
}

/* Builds the VM's domain, with its disks attached by storaged, and
 * records it. */
static struct api_error *create_domain(const char *vm, bool paused)
{
    json_object *spec = NULL, *dom = NULL, *disks = NULL;
    struct api_error *e = domain_spec(vm, paused, &spec);
    if (!e && !(e = storage_vm_attach(vm, &disks))) {
        json_object_object_add(spec, "disks", disks);
        json_object_object_add(spec, "nics", network_vm_nics(vm)); /* network.c */
        e = domains_call(vm, "domain/create", spec, 300, &dom);
        if (e)
            storage_vm_release(vm);
    }
    if (!e)
        vmops_record(vm, dom);
    if (!e && (e = network_vm_plug(vm))) { /* no ports: no domain either */
        json_object *p = uuid_params(vm);
        json_object_object_add(p, "clean", json_object_new_boolean(false));
        api_error_free(domains_call(vm, "domain/shutdown", p, 300, NULL));
        json_object_put(p);
        vmops_record(vm, NULL);
    }
    json_object_put(spec);
    json_object_put(dom);
    return e;
}

/* VM.start and resume pick a host: none when this one is disabled. */
static struct api_error *any_host(void)
{
    struct api_error *e = host_assert_enabled(xapi_state.host_ref); /* host.h */
    if (e) {
        api_error_free(e);
        return api_fail(NO_HOSTS_AVAILABLE);
    }
    return NULL;
}

static struct api_error *do_start(struct call *c, const char *vm)
{
    struct api_error *e = any_host();
    return e ? e : create_domain(vm, arg_bool(c, 2));
}

static struct api_error *start(struct call *c)
{
    return run_op(c, "start", do_start);
}

static struct api_error *do_start_on(struct call *c, const char *vm)
{
    struct api_error *e = check_host(arg_str(c, 2));
    if (!e)
        e = host_assert_enabled(arg_str(c, 2));
    return e ? e : create_domain(vm, arg_bool(c, 3));
}

static struct api_error *start_on(struct call *c)
{
    return run_op(c, "start_on", do_start_on);
}

/* Calls a domaind method on the VM's domain and records what it answers. */
static struct api_error *domain_op(const char *vm, const char *method, json_object *extra)
{
    json_object *p = uuid_params(vm), *dom = NULL;
    if (extra) {
        json_object_object_foreach(extra, k, v)
        {
            json_object_object_add(p, k, json_object_get(v));
        }
    }
    struct api_error *e = domains_call(vm, method, p, 300, &dom);
    if (!e)
        vmops_record(vm, streq(method, "domain/shutdown") ? NULL : dom);
    json_object_put(p);
    json_object_put(dom);
    json_object_put(extra);
    return e;
}

static json_object *with_clean(bool clean)
{
    json_object *x = json_object_new_object();
    json_object_object_add(x, "clean", json_object_new_boolean(clean));
    return x;
}

static bool is_suspended(const char *vm)
{
    db_rdlock();
    const struct row *r = db_get(C_VM, vm);
    bool s = r && streq(r->v[FIDX(VM, power_state)], "Suspended");
    db_unlock();
    return s;
}

static bool is_paused(const char *vm)
{
    db_rdlock();
    const struct row *r = db_get(C_VM, vm);
    bool p = r && streq(r->v[FIDX(VM, power_state)], "Paused");
    db_unlock();
    return p;
}

static struct api_error *do_clean_shutdown(struct call *c, const char *vm)
{
    (void)c;
    return domain_op(vm, "domain/shutdown", with_clean(true));
}

static struct api_error *do_hard_shutdown(struct call *c, const char *vm)
{
    (void)c;
    if (is_suspended(vm)) { /* no domain: the saved image goes */
        vm_suspend_vdi_drop(vm);
        vmops_record(vm, NULL);
        return NULL;
    }
    return domain_op(vm, "domain/shutdown", with_clean(false));
}

static struct api_error *do_shutdown(struct call *c, const char *vm)
{
    if (is_suspended(vm))
        return do_hard_shutdown(c, vm);
    struct api_error *e = domain_op(vm, "domain/shutdown", with_clean(true));
    if (!e)
        return NULL;
    api_error_free(e); /* the guest did not comply: force it */
    return domain_op(vm, "domain/shutdown", with_clean(false));
}

static struct api_error *do_clean_reboot(struct call *c, const char *vm)
{
    (void)c;
    return domain_op(vm, "domain/reboot", with_clean(true));
}

static struct api_error *do_hard_reboot(struct call *c, const char *vm)
{
    (void)c;
    return domain_op(vm, "domain/reboot", with_clean(false));
}

static struct api_error *do_pause(struct call *c, const char *vm)
{
    (void)c;
    return domain_op(vm, "domain/pause", NULL);
}

static struct api_error *do_unpause(struct call *c, const char *vm)
{
    (void)c;
    return domain_op(vm, "domain/unpause", NULL);
}

/* Fault injection for the tests: XENIA_TEST_CRASH=<point> kills xapi
 * (SIGKILL, as a crash would) when it reaches that point. */
static void crash_point(const char *point)
{
    const char *want = getenv("XENIA_TEST_CRASH");
    if (want && streq(want, point)) {
        log_warning("XENIA_TEST_CRASH: dying at %s", point);
        raise(SIGKILL);
    }
}

/* Suspends the running VM into a new suspend VDI, which its suspend_VDI
 * names once the domain is saved; on failure the VDI goes again. */
static struct api_error *suspend_to_sr(const char *vm)
{
    char vdi[64];
    char *path = NULL;
    struct api_error *e = vm_suspend_vdi_new(vm, vdi);
    if (e)
        return e;
    crash_point("suspend-vdi-made");
    if (!(e = vm_suspend_vdi_attach(vdi, true, &path))) {
        json_object *p = uuid_params(vm);
        add_str(p, "path", path);
        e = domains_call(vm, "domain/suspend", p, 600, NULL);
        json_object_put(p);
        vm_suspend_vdi_release(vdi);
    }
    free(path);
    if (e) {
        vm_suspend_vdi_forget(vdi);
        return e;
    }
    vm_suspend_vdi_set(vm, vdi);
    vmops_record_suspended(vm);
    return NULL;
}

static struct api_error *do_suspend(struct call *c, const char *vm)
{
    (void)c;
    return suspend_to_sr(vm);
}

/* Builds the domain again from the VM's suspend image, then lets the image
 * go (a checkpoint that shares it keeps it). */
static struct api_error *resume_common(const char *vm, bool paused)
{
    char vdi[64];
    char *path = NULL;
    if (!vm_suspend_vdi_get(vm, vdi))
        return api_fail(VM_REQUIRES_VDI, vm, "OpaqueRef:NULL");
    struct api_error *e = vm_suspend_vdi_attach(vdi, false, &path);
    if (e)
        return e;
    json_object *p = uuid_params(vm), *dom = NULL, *disks = NULL;
    add_str(p, "path", path);
    json_object_object_add(p, "start_paused", json_object_new_boolean(paused));
    e = storage_vm_attach(vm, &disks);
    if (!e) { /* the image names its disks: they must be there again */
        json_object_put(disks);
        e = domains_call(vm, "domain/resume", p, 600, &dom);
        if (e)
            storage_vm_release(vm);
    }
    vm_suspend_vdi_release(vdi);
    if (!e) {
        vmops_record(vm, dom);
        vm_suspend_vdi_drop(vm);
        network_vm_resumed(vm); /* network.c: the VIFs' ports again */
    }
    json_object_put(p);
    json_object_put(dom);
    free(path);
    return e;
}

static struct api_error *do_resume(struct call *c, const char *vm)
{
    struct api_error *e = any_host();
    return e ? e : resume_common(vm, arg_bool(c, 2));
}

static struct api_error *do_resume_on(struct call *c, const char *vm)
{
    struct api_error *e = check_host(arg_str(c, 2));
    if (!e)
        e = host_assert_enabled(arg_str(c, 2));
    return e ? e : resume_common(vm, arg_bool(c, 3));
}

/* As XCP: the record is forced to Halted whatever the VM is (a template,
 * a snapshot too), except the control domain, and a VM whose domain still
 * exists here (DOMAIN_EXISTS: resetting would lose track of it). */
static struct api_error *do_power_state_reset(struct call *c, const char *vm)
{
    (void)c;
    db_rdlock();
    const struct row *r = db_get(C_VM, vm);
    bool live = r && vmops_state_bit(r->v[FIDX(VM, power_state)]) & (PS_RUNNING | PS_PAUSED);
    db_unlock();
    if (live) {
        json_object *p = uuid_params(vm), *dom = NULL;
        struct api_error *e = domains_call(vm, "domain/get", p, 30, &dom);
        json_object_put(p);
        json_object_put(dom);
        if (!e)
            return api_fail(DOMAIN_EXISTS, vm);
        api_error_free(e);
    }
    vm_suspend_vdi_drop(vm); /* a Suspended VM reset to Halted has no image */
    vmops_record(vm, NULL);
    return NULL;
}

static struct api_error *op_power_state_reset(struct call *c)
{
    const struct row *r = NULL;
    db_rdlock();
    struct api_error *e = api_lookup(C_VM, arg_str(c, 1), &r);
    if (!e && streq(r->v[FIDX(VM, is_control_domain)], "true"))
        e = api_fail(CANNOT_RESET_CONTROL_DOMAIN, r->ref);
    db_unlock();
    return e ? e : run_op(c, "power_state_reset", do_power_state_reset);
}

static struct api_error *do_dynamic_range(struct call *c, const char *vm)
{
    int64_t min = arg_int(c, 2), max = arg_int(c, 3);
    struct api_error *e = NULL;
    bool running = false;
    db_rdlock();
    const struct row *r = db_get(C_VM, vm);
    if (!(val_int(r, FIDX(VM, memory_static_min)) <= min && min <= max &&
          max <= val_int(r, FIDX(VM, memory_static_max))))
        e = api_fail(MEMORY_CONSTRAINT_VIOLATION,
                     "Memory limits must satisfy: static_min <= dynamic_min <= dynamic_max <= "
                     "static_max");
    running = streq(r->v[FIDX(VM, power_state)], "Running");
    db_unlock();
    if (e)
        return e;
    if (running) {
        json_object *x = json_object_new_object();
        json_object_object_add(x, "target", json_object_new_int64(max));
        if ((e = domain_op(vm, "domain/set_memory_target", x)))
            return e;
    }
    struct changeset *cs = changeset_new();
    changeset_set(cs, C_VM, vm, FIDX(VM, memory_dynamic_min), arg_str(c, 2));
    changeset_set(cs, C_VM, vm, FIDX(VM, memory_dynamic_max), arg_str(c, 3));
    db_wrlock();
    e = api_apply(cs);
    db_unlock();
    return e;
}

static struct api_error *do_vcpus_live(struct call *c, const char *vm)
{
    int64_t n = arg_int(c, 2);
    db_rdlock();
    const struct row *r = db_get(C_VM, vm);
    bool ok = n >= 1 && n <= val_int(r, FIDX(VM, VCPUs_max));
    db_unlock();
    if (!ok)
        return api_fail(INVALID_VALUE, "nvcpu", arg_str(c, 2));
    json_object *x = json_object_new_object();
    json_object_object_add(x, "vcpus", json_object_new_int64(n));
    return domain_op(vm, "domain/set_vcpus", x);
}

static struct api_error *do_provision(struct call *c, const char *vm)
{
    (void)c;
    return vm_provision_disks(vm);
}

#define OP_HANDLER(name, op)                                                                       \
    static struct api_error *op_##name(struct call *c)                                             \
    {                                                                                              \
        return run_op(c, op, do_##name);                                                           \
    }
OP_HANDLER(clean_shutdown, "clean_shutdown")
OP_HANDLER(hard_shutdown, "hard_shutdown")
OP_HANDLER(shutdown, "shutdown")
OP_HANDLER(clean_reboot, "clean_reboot")
OP_HANDLER(hard_reboot, "hard_reboot")
OP_HANDLER(pause, "pause")
OP_HANDLER(unpause, "unpause")
OP_HANDLER(suspend, "suspend")
OP_HANDLER(resume, "resume")
OP_HANDLER(resume_on, "resume_on")
OP_HANDLER(dynamic_range, "changing_dynamic_range")
OP_HANDLER(vcpus_live, "changing_VCPUs_live")
OP_HANDLER(provision, "provision")

static struct api_error *assert_operation_valid(struct call *c)
{
    db_rdlock();
    struct api_error *e = vmops_check(arg_str(c, 1), arg_str(c, 2));
    db_unlock();
    if (!e)
        out_void(c->out);
    return e;
}

static struct api_error *update_allowed_operations(struct call *c)
{
    const struct row *vm = NULL;
    db_wrlock();
    struct api_error *e = api_lookup(C_VM, arg_str(c, 1), &vm);
    if (!e) {
        char *allowed = vmops_allowed(vm);
        struct changeset *cs = changeset_new();
        changeset_set(cs, C_VM, vm->ref, FIDX(VM, allowed_operations), allowed);
        free(allowed);
        e = api_apply(cs);
    }
    db_unlock();
    if (!e)
        out_void(c->out);
    return e;
}

/* Device slots still free among the VM's VBDs or VIFs: "0".."max-1". */
static struct api_error *allowed_devices(struct call *c, int set_field, int cls, int dev_field,
                                         int max)
{
    const struct row *vm = NULL;
    struct strbuf scratch;
    bool used[16] = {0};
    strbuf_init(&scratch, 0);
    db_rdlock();
    struct api_error *e = api_lookup(C_VM, arg_str(c, 1), &vm);
    if (!e) {
        struct strlist_iter it;
        const char *ref;
        strlist_iter_init(&it, db_value(vm, set_field, &scratch));
        while (strlist_iter_next(&it, NULL, &ref)) {
            const struct row *d = db_get(cls, ref);
            long n = d ? strtol(d->v[dev_field], NULL, 10) : -1;
            if (d && n >= 0 && n < max && *d->v[dev_field])
                used[n] = true;
        }
        strlist_iter_done(&it);
        out_array_begin(c->out);
        for (int i = 0; i < max; i++)
            if (!used[i]) {
                char buf[16];
                snprintf(buf, sizeof(buf), "%d", i);
                out_string(c->out, buf);
            }
        out_array_end(c->out);
    }
    db_unlock();
    strbuf_done(&scratch);
    return e;
}

static struct api_error *get_allowed_VBD_devices(struct call *c)
{
    return allowed_devices(c, FIDX(VM, VBDs), C_VBD, FIDX(VBD, userdevice), 16);
}

static struct api_error *get_allowed_VIF_devices(struct call *c)
{
    return allowed_devices(c, FIDX(VM, VIFs), C_VIF, FIDX(VIF, device), 7);
}

/* Fields a revert keeps from the VM rather than taking from the snapshot:
 * what the VM is, and its runtime state. */
static const int revert_keeps[] = {
    FIDX(VM, uuid),
    FIDX(VM, name_label),
    FIDX(VM, name_description),
    FIDX(VM, allowed_operations),
    FIDX(VM, current_operations),
    FIDX(VM, power_state),
    FIDX(VM, domid),
    FIDX(VM, resident_on),
    FIDX(VM, metrics),
    FIDX(VM, guest_metrics),
    FIDX(VM, is_a_template),
    FIDX(VM, is_a_snapshot),
    FIDX(VM, snapshot_of),
    FIDX(VM, snapshot_time),
    FIDX(VM, is_default_template),
    FIDX(VM, scheduled_to_be_resident_on),
    FIDX(VM, blobs),
    FIDX(VM, reference_label),
};

/* VM.revert(snapshot): the VM the snapshot was taken of is stopped if it
 * runs, and takes the snapshot's configuration again. */
static struct api_error *vm_revert(struct call *c)
{
    const char *snap = arg_str(c, 1);
    char key[64], vm[64] = "";
    const struct row *s = NULL;
    struct api_error *e;

    db_rdlock();
    e = api_lookup(C_VM, snap, &s);
    if (!e && !streq(s->v[FIDX(VM, is_a_snapshot)], "true"))
        e = api_fail(REVERT_ONLY_ALLOWED_ON_SNAPSHOT);
    if (!e) {
        snprintf(vm, sizeof(vm), "%s", s->v[FIDX(VM, snapshot_of)]);
        if (!db_get(C_VM, vm))
            e = api_fail(VM_REVERT_FAILED, vm, snap);
    }
    db_unlock();
    if (e)
        return e;
    if (c->task)
        snprintf(key, sizeof(key), "%s", c->task);
    else
        api_new_ref(key);
    if ((e = vmops_begin(snap, "revert", key)))
        return e;
    if ((e = vmops_begin(vm, "reverting", key))) {
        vmops_end(snap, key);
        return e;
    }
    if (is_suspended(vm)) /* its saved image no longer matches what it becomes */
        e = do_hard_shutdown(c, vm);
    else {
        db_rdlock();
        const struct row *r = db_get(C_VM, vm);
        bool live = r && !streq(r->v[FIDX(VM, power_state)], "Halted");
        db_unlock();
        if (live)
            e = domain_op(vm, "domain/shutdown", with_clean(false));
    }
    if (!e)
        e = vm_revert_devices(vm, snap);
    if (!e) {
        struct changeset *cs = changeset_new();
        const struct class_desc *cd = &model_classes[C_VM];
        db_wrlock();
        const struct row *from = db_get(C_VM, snap), *to = db_get(C_VM, vm);
        for (int i = 0; from && to && i < cd->n_fields; i++) {
            bool keep = !to->v[i] || !from->v[i];
            for (size_t k = 0; k < ELEMENTSOF(revert_keeps) && !keep; k++)
                keep = revert_keeps[k] == i;
            if (!keep && !streq(to->v[i], from->v[i]))
                changeset_set(cs, C_VM, vm, i, from->v[i]);
        }
        changeset_set(cs, C_VM, vm, FIDX(VM, parent), snap);
        e = api_apply(cs);
        db_unlock();
    }
    /* A checkpoint's VM comes back Suspended, with the checkpoint's image
     * (shared: resuming lets the VM's hold on it go, not the image). */
    char image[64];
    if (!e && vm_suspend_vdi_get(vm, image))
        vmops_record_suspended(vm);
    vmops_end(vm, key);
    vmops_end(snap, key);
    if (!e)
        out_void(c->out);
    return e;
}

/* VM.checkpoint: a snapshot with the VM's memory, as XCP takes it: a
 * running VM is suspended to its suspend SR, its disks snapshotted with
 * the image as the snapshot's suspend_VDI, then resumed from that image
 * (which the snapshot keeps); a suspended VM is snapshotted with its
 * image. */
static struct api_error *vm_checkpoint(struct call *c)
{
    char key[64], ref[64], image[64];
    const char *vm = arg_str(c, 1);
    if (c->task)
        snprintf(key, sizeof(key), "%s", c->task);
    else
        api_new_ref(key);
    struct api_error *e = vmops_begin(vm, "checkpoint", key), *why;
    if (e)
        return e;
    /* As XCP: a running VM is suspended for its memory; a paused one is
     * snapshotted as it is, without (a Halted snapshot, as VM.snapshot) */
    bool suspended = is_suspended(vm), running = !suspended && !is_paused(vm);
    if (running && (why = suspend_to_sr(vm))) {
        log_warning("VM %s: checkpoint: suspend failed: %s", vm, why->code);
        /* XCP names its own failures; a missing suspend SR is the VM's */
        if (streq(why->code, "VM_NO_SUSPEND_SR") || streq(why->code, "SR_HAS_NO_PBDS"))
            e = why;
        else {
            api_error_free(why);
            e = api_fail(VM_CHECKPOINT_SUSPEND_FAILED, vm);
        }
    }
    bool with_image = running || suspended;
    if (!e && with_image && !vm_suspend_vdi_get(vm, image))
        e = api_fail(VM_REQUIRES_VDI, vm, "OpaqueRef:NULL");
    if (!e)
        e = vm_snapshot_take(vm, arg_str(c, 2), with_image ? image : NULL, ref);
    if (running && is_suspended(vm) && (why = resume_common(vm, false))) {
        log_warning("VM %s: checkpoint: resume failed: %s", vm, why->code);
        api_error_free(why);
        if (!e)
            e = api_fail(VM_CHECKPOINT_RESUME_FAILED, vm);
    }
    vmops_end(vm, key);
    if (!e)
        out_string(c->out, ref);
    return e;
}

/* Whether the VM could start on host now: the host is this one (the pool
 * is one host until pools land), it has the memory and the CPUs, and the
 * VM's disks are reachable. */
static struct api_error *boot_check(const char *vm, const char *host)
{
    const struct row *r = NULL, *h = NULL;
    json_object *info = NULL, *v;
    db_rdlock();
    struct api_error *e = api_lookup(C_VM, vm, &r);
    if (!e)
        e = api_lookup(C_host, host, &h);
    if (!e && !streq(host, xapi_state.host_ref))
        e = api_fail(HOST_NOT_LIVE);
    int64_t mem = e ? 0 : val_int(r, FIDX(VM, memory_static_max));
    int64_t vcpus = e ? 0 : val_int(r, FIDX(VM, VCPUs_at_startup));
    db_unlock();
    if (!e)
        e = host_assert_enabled(host);
    if (!e)
        e = domains_call(vm, "host/info", NULL, 30, &info);
    if (!e) {
        int64_t free_mem =
            json_object_object_get_ex(info, "free_memory", &v) ? json_object_get_int64(v) : 0;
        int64_t cpus =
            json_object_object_get_ex(info, "nr_cpus", &v) ? json_object_get_int64(v) : 0;
        char a[32], b[32];
        if (mem > free_mem) {
            snprintf(a, sizeof(a), "%" PRId64, mem);
            snprintf(b, sizeof(b), "%" PRId64, free_mem);
            e = api_fail(HOST_NOT_ENOUGH_FREE_MEMORY, a, b);
        } else if (vcpus > cpus) {
            snprintf(a, sizeof(a), "%" PRId64, vcpus);
            snprintf(b, sizeof(b), "%" PRId64, cpus);
            e = api_fail(HOST_NOT_ENOUGH_PCPUS, a, b);
        }
    }
    json_object_put(info);
    if (!e)
        e = storage_vm_check(vm);
    return e;
}

static struct api_error *assert_can_boot_here(struct call *c)
{
    struct api_error *e = boot_check(arg_str(c, 1), arg_str(c, 2));
    if (!e)
        out_void(c->out);
    return e;
}

static struct api_error *get_possible_hosts(struct call *c)
{
    const struct row *r = NULL;
    db_rdlock();
    struct api_error *e = api_lookup(C_VM, arg_str(c, 1), &r);
    db_unlock();
    if (e)
        return e;
    struct api_error *why = boot_check(arg_str(c, 1), xapi_state.host_ref);
    out_array_begin(c->out);
    if (!why)
        out_string(c->out, xapi_state.host_ref);
    out_array_end(c->out);
    api_error_free(why);
    return NULL;
}

static struct api_error *get_boot_record(struct call *c)
{
    return generic_call(c, MK_GET_RECORD, C_VM, -1);
}

void vm_limits_register(void);
void vm_import_register(void);
void vm_messages_register(void);
void vm_datasources_register(void);
void vm_register(void);
void vm_register(void)
{
    api_register_generic(C_VM, MK_CREATE, vm_create);
    api_register_generic(C_VM, MK_DESTROY, vm_destroy);
    api_register(M_VM_start, start);
    api_register(M_VM_start_on, start_on);
    api_register(M_VM_clean_shutdown, op_clean_shutdown);
    api_register(M_VM_hard_shutdown, op_hard_shutdown);
    api_register(M_VM_shutdown, op_shutdown);
    api_register(M_VM_clean_reboot, op_clean_reboot);
    api_register(M_VM_hard_reboot, op_hard_reboot);
    api_register(M_VM_pause, op_pause);
    api_register(M_VM_unpause, op_unpause);
    api_register(M_VM_suspend, op_suspend);
    api_register(M_VM_resume, op_resume);
    api_register(M_VM_resume_on, op_resume_on);
    api_register(M_VM_power_state_reset, op_power_state_reset);
    api_register(M_VM_set_memory_dynamic_range, op_dynamic_range);
    api_register(M_VM_set_VCPUs_number_live, op_vcpus_live);
    api_register(M_VM_assert_operation_valid, assert_operation_valid);
    api_register(M_VM_update_allowed_operations, update_allowed_operations);
    api_register(M_VM_get_allowed_VBD_devices, get_allowed_VBD_devices);
    api_register(M_VM_get_allowed_VIF_devices, get_allowed_VIF_devices);
    api_register(M_VM_get_boot_record, get_boot_record);
    api_register(M_VM_assert_can_boot_here, assert_can_boot_here);
    api_register(M_VM_get_possible_hosts, get_possible_hosts);
    api_register(M_VM_provision, op_provision);
    vm_copy_register();
    vm_limits_register();
    vm_import_register();
    api_register(M_VM_revert, vm_revert);
    api_register(M_VM_checkpoint, vm_checkpoint);
    vm_datasources_register();
    vm_messages_register();
}
