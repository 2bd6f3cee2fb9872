/* Creates or refreshes this host's own objects at start (see bootstrap.h). */
#include "bootstrap.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "api.h"
#include "config.h"
#include "db.h"
#include "lib/log.h"
#include "lib/strlist.h"
#include "lib/util.h"
#include "sysinfo.h"
#include "vbdops.h"
#include "vmops.h"

LOG_MODULE("bootstrap");

#ifndef XENIA_VERSION
#define XENIA_VERSION "0.1.0"
#endif

/* Canonical text of a string map built from key/value pairs. */
struct mapb {
    struct strbuf sb;
};

static void mapb_init(struct mapb *m)
{
    strbuf_init(&m->sb, 256);
    strbuf_addc(&m->sb, '{');
}

static void mapb_add(struct mapb *m, const char *k, const char *v)
{
    if (m->sb.len > 1)
        strbuf_addc(&m->sb, ',');
    strlist_add_quoted(&m->sb, k, strlen(k));
    strbuf_addc(&m->sb, ':');
    strlist_add_quoted(&m->sb, v, strlen(v));
}

static char *mapb_finish(struct mapb *m)
{
    strbuf_addc(&m->sb, '}');
    return strbuf_detach(&m->sb, NULL);
}

static int read_inventory(const char *path, char uuid[UUID_STR_LEN])
{
    FILE *f = fopen(path, "re");
    char line[256];
    int r = -ENOENT;
    if (!f)
        return -errno;
    while (fgets(line, sizeof(line), f))
        if (strncmp(line, "INSTALLATION_UUID=", 18) == 0) {
            char *v = line + 18;
            v[strcspn(v, "\r\n")] = '\0';
            if (*v == '\'' || *v == '"') {
                v++;
                v[strcspn(v, "'\"")] = '\0';
            }
            if (uuid_is_valid(v)) {
                memcpy(uuid, v, UUID_STR_LEN); /* 36 characters and the NUL */
                r = 0;
            }
        }
    fclose(f);
    return r;
}

/* Adds INSTALLATION_UUID to the inventory, keeping what else the
 * installer wrote there (MANAGEMENT_INTERFACE, ...). */
static int write_inventory(const char *path, const char *uuid)
{
    char *tmp = xasprintf("%s.tmp", path);
    FILE *in = fopen(path, "re");
    FILE *f = fopen(tmp, "we");
    char line[1024];
    int r = 0;
    if (!f) {
        r = -errno;
        if (in)
            fclose(in);
        free(tmp);
        return r;
    }
    while (in && fgets(line, sizeof(line), in))
        if (strncmp(line, "INSTALLATION_UUID=", 18) != 0)
            fputs(line, f);
    if (in)
        fclose(in);
    fprintf(f, "INSTALLATION_UUID='%s'\n", uuid);
    if (fflush(f) != 0 || fsync(fileno(f)) < 0)
        r = -errno;
    fclose(f);
    if (r == 0 && rename(tmp, path) < 0)
        r = -errno;
    free(tmp);
    return r;
}

static void set_if_changed(struct changeset *cs, const struct row *r, int field, const char *v)
{
    if (!streq(r->v[field], v))
        changeset_set(cs, r->cls, r->ref, field, v);
}

static char *int_text(int64_t v)
{
    return xasprintf("%" PRId64, v);
}

static char *software_version(const struct sysinfo_host *si)
{
    struct mapb m;
    char api[16];
    snprintf(api, sizeof(api), "%d.%d", XAPI_API_MAJOR, XAPI_API_MINOR);
    mapb_init(&m);
    mapb_add(&m, "product_brand", "Xenia");
    mapb_add(&m, "product_version", XENIA_VERSION);
    mapb_add(&m, "product_version_text", XENIA_VERSION);
    mapb_add(&m, "product_version_text_short", XENIA_VERSION);
    mapb_add(&m, "platform_name", "Xenia");
    mapb_add(&m, "platform_version", XENIA_VERSION);
    mapb_add(&m, "build_number", XENIA_VERSION);
    mapb_add(&m, "hostname", xapi_cfg.hostname);
    mapb_add(&m, "xapi", api);
    mapb_add(&m, "xapi_build", XENIA_VERSION);
    if (*si->xen_version)
        mapb_add(&m, "xen", si->xen_version);
    mapb_add(&m, "linux", si->kernel);
    mapb_add(&m, "network_backend", "openvswitch");
    mapb_add(&m, "xencenter_min", api);
    mapb_add(&m, "xencenter_max", api);
    mapb_add(&m, "db_schema", "5.786");
    return mapb_finish(&m);
}

static char *cpu_info_map(const struct sysinfo_host *si)
{
    struct mapb m;
    char buf[32];
    const struct cpu_info *c = &si->cpus[0];
    mapb_init(&m);
    snprintf(buf, sizeof(buf), "%d", si->n_cpus);
    mapb_add(&m, "cpu_count", buf);
    mapb_add(&m, "socket_count", "1");
    mapb_add(&m, "vendor", c->vendor);
    snprintf(buf, sizeof(buf), "%d.000", c->speed_mhz);
    mapb_add(&m, "speed", buf);
    mapb_add(&m, "modelname", c->modelname);
    snprintf(buf, sizeof(buf), "%d", c->family);
    mapb_add(&m, "family", buf);
    snprintf(buf, sizeof(buf), "%d", c->model);
    mapb_add(&m, "model", buf);
    mapb_add(&m, "stepping", c->stepping);
    mapb_add(&m, "flags", c->flags ? c->flags : "");
    return mapb_finish(&m);
}

/* Host fields that follow the system: set at every start. */
static void refresh_host(struct changeset *cs, const struct row *h, const struct sysinfo_host *si)
{
    char *sv = software_version(si), *ci = cpu_info_map(si);
    char api_major[8], api_minor[8];
    snprintf(api_major, sizeof(api_major), "%d", XAPI_API_MAJOR);
    snprintf(api_minor, sizeof(api_minor), "%d", XAPI_API_MINOR);
    set_if_changed(cs, h, FIDX(host, software_version), sv);
    set_if_changed(cs, h, FIDX(host, cpu_info), ci);
    set_if_changed(cs, h, FIDX(host, API_version_major), api_major);
    set_if_changed(cs, h, FIDX(host, API_version_minor), api_minor);
    set_if_changed(cs, h, FIDX(host, hostname), xapi_cfg.hostname);
    set_if_changed(cs, h, FIDX(host, address), xapi_cfg.listen);
    free(sv);
    free(ci);
}

static void new_host(struct changeset *cs, const char *uuid, char ref[64], const char *metrics_ref)
{
    char **v = api_new_row(C_host, ref);
    api_set_val(v, FIDX(host, uuid), uuid);
    api_set_val(v, FIDX(host, name_label), xapi_cfg.hostname);
    api_set_val(v, FIDX(host, name_description), "Default install");
    api_set_val(v, FIDX(host, API_version_vendor), "XenSource");
    api_set_val(v, FIDX(host, enabled), "true");
    api_set_val(v, FIDX(host, capabilities),
                "[\"xen-3.0-x86_64\",\"hvm-3.0-x86_32\",\"hvm-3.0-x86_32p\",\"hvm-3.0-x86_64\"]");
    api_set_val(v, FIDX(host, sched_policy), "credit");
    api_set_val(v, FIDX(host, supported_bootloaders), "[\"pygrub\",\"eliloader\"]");
    api_set_val(v, FIDX(host, metrics), metrics_ref);
    api_set_val(v, FIDX(host, edition), "xcp-ng");
    api_set_val(v, FIDX(host, license_params), "{}");
    api_set_val(v, FIDX(host, other_config), "{\"agent_start_time\":\"0\"}");
    changeset_create(cs, C_host, ref, v);
}

static void sync_host_cpus(struct changeset *cs, const char *host_ref,
                           const struct sysinfo_host *si)
{
    size_t it = 0;
    const struct row *r;
    bool *have = xcalloc((size_t)si->n_cpus + 1, sizeof(bool));
    while (db_next(C_host_cpu, &it, &r)) {
        if (!streq(r->v[FIDX(host_cpu, host)], host_ref))
            continue;
        long n = strtol(r->v[FIDX(host_cpu, number)], NULL, 10);
        if (n >= 0 && n < si->n_cpus && !have[n])
            have[n] = true;
        else
            changeset_delete(cs, C_host_cpu, r->ref);
    }
    for (int i = 0; i < si->n_cpus; i++) {
        if (have[i])
            continue;
        const struct cpu_info *c = &si->cpus[i];
        char ref[64], buf[32];
        char **v = api_new_row(C_host_cpu, ref);
        api_set_val(v, FIDX(host_cpu, host), host_ref);
        snprintf(buf, sizeof(buf), "%d", i);
        api_set_val(v, FIDX(host_cpu, number), buf);
        api_set_val(v, FIDX(host_cpu, vendor), c->vendor);
        snprintf(buf, sizeof(buf), "%d", c->speed_mhz);
        api_set_val(v, FIDX(host_cpu, speed), buf);
        api_set_val(v, FIDX(host_cpu, modelname), c->modelname);
        snprintf(buf, sizeof(buf), "%d", c->family);
        api_set_val(v, FIDX(host_cpu, family), buf);
        snprintf(buf, sizeof(buf), "%d", c->model);
        api_set_val(v, FIDX(host_cpu, model), buf);
        api_set_val(v, FIDX(host_cpu, stepping), c->stepping);
        api_set_val(v, FIDX(host_cpu, flags), c->flags ? c->flags : "");
        api_set_val(v, FIDX(host_cpu, features), "");
        changeset_create(cs, C_host_cpu, ref, v);
    }
    free(have);
}

static void new_control_domain(struct changeset *cs, const char *host_ref,
                               const struct sysinfo_host *si, char vm_ref[64])
{
    char metrics_ref[64], when[DATETIME_LEN], label[300];
    char *mem = int_text(si->mem_total), *ncpu = int_text(si->n_cpus);
    char **m = api_new_row(C_VM_metrics, metrics_ref);
    char **v = api_new_row(C_VM, vm_ref);

    datetime_format(time(NULL), when);
    api_set_val(m, FIDX(VM_metrics, memory_actual), mem);
    api_set_val(m, FIDX(VM_metrics, VCPUs_number), ncpu);
    api_set_val(m, FIDX(VM_metrics, start_time), when);
    api_set_val(m, FIDX(VM_metrics, install_time), when);
    api_set_val(m, FIDX(VM_metrics, last_updated), when);
    api_set_val(m, FIDX(VM_metrics, current_domain_type), "pv");
    changeset_create(cs, C_VM_metrics, metrics_ref, m);

    snprintf(label, sizeof(label), "Control domain on host: %s", xapi_cfg.hostname);
    api_set_val(v, FIDX(VM, name_label), label);
    api_set_val(v, FIDX(VM, name_description),
                "The domain which manages physical devices and "
                "manages other domains");
    api_set_val(v, FIDX(VM, power_state), "Running");
    api_set_val(v, FIDX(VM, is_control_domain), "true");
    api_set_val(v, FIDX(VM, resident_on), host_ref);
    api_set_val(v, FIDX(VM, domid), "0");
    api_set_val(v, FIDX(VM, user_version), "1");
    api_set_val(v, FIDX(VM, memory_static_max), mem);
    api_set_val(v, FIDX(VM, memory_dynamic_max), mem);
    api_set_val(v, FIDX(VM, memory_dynamic_min), mem);
    api_set_val(v, FIDX(VM, memory_static_min), mem);
    api_set_val(v, FIDX(VM, memory_target), mem);
    api_set_val(v, FIDX(VM, VCPUs_max), ncpu);
    api_set_val(v, FIDX(VM, VCPUs_at_startup), ncpu);
    api_set_val(v, FIDX(VM, metrics), metrics_ref);
    api_set_val(v, FIDX(VM, domain_type), "pv");
    api_set_val(v, FIDX(VM, domarch), "x64");
    api_set_val(v, FIDX(VM, HVM_shadow_multiplier), "1");
    api_set_val(v, FIDX(VM, allowed_operations), "[]");
    changeset_create(cs, C_VM, vm_ref, v);
    free(mem);
    free(ncpu);
}

/* dom0's memory and VCPUs follow the system at every start. */
/* The control domain's memory and VCPUs, as sized (db lock held). */
static void size_control_domain(struct changeset *cs, const struct row *vm, int64_t mem_bytes,
                                int64_t vcpus)
{
    char *mem = int_text(mem_bytes), *ncpu = int_text(vcpus);
    static const int mem_fields[] = {FIDX(VM, memory_static_max), FIDX(VM, memory_dynamic_max),
                                     FIDX(VM, memory_dynamic_min), FIDX(VM, memory_static_min),
                                     FIDX(VM, memory_target)};
    for (size_t i = 0; i < ELEMENTSOF(mem_fields); i++)
        set_if_changed(cs, vm, mem_fields[i], mem);
    set_if_changed(cs, vm, FIDX(VM, VCPUs_max), ncpu);
    set_if_changed(cs, vm, FIDX(VM, VCPUs_at_startup), ncpu);
    const struct row *m = db_get(C_VM_metrics, vm->v[FIDX(VM, metrics)]);
    if (m) {
        set_if_changed(cs, m, FIDX(VM_metrics, memory_actual), mem);
        set_if_changed(cs, m, FIDX(VM_metrics, VCPUs_number), ncpu);
    }
    free(mem);
    free(ncpu);
}

void bootstrap_control_domain_size(int64_t mem_bytes, int64_t vcpus)
{
    struct changeset *cs = changeset_new();
    db_wrlock();
    const struct row *h = db_get(C_host, xapi_state.host_ref);
    const struct row *vm = h ? db_get(C_VM, h->v[FIDX(host, control_domain)]) : NULL;
    if (vm) {
        size_control_domain(cs, vm, mem_bytes, vcpus);
        if (changeset_size(cs) > 0 && db_apply(cs) < 0)
            log_error("cannot record the control domain's size");
    }
    db_unlock();
    changeset_free(cs);
}

static void refresh_metrics(struct changeset *cs, const struct row *hm,
                            const struct sysinfo_host *si)
{
    char when[DATETIME_LEN];
    char *total = int_text(si->mem_total);
    datetime_format(time(NULL), when);
    set_if_changed(cs, hm, FIDX(host_metrics, memory_total), total);
    set_if_changed(cs, hm, FIDX(host_metrics, live), "true");
    changeset_set(cs, C_host_metrics, hm->ref, FIDX(host_metrics, last_updated), when);
    free(total);
}

/* No operation survives a restart of xapi: what a VM or VBD still lists in
 * current_operations was under way when xapi stopped, and would block it
 * for ever. Cleared, and the allowed operations made again (db lock
 * held). */
static int clear_stale_operations(void)
{
    static const struct {
        int cls, cur;
    } classes[] = {{C_VM, FIDX(VM, current_operations)}, {C_VBD, FIDX(VBD, current_operations)}};
    struct changeset *cs = changeset_new();
    char(*refs)[64] = NULL;
    int *cls = NULL;
    size_t n = 0;
    for (size_t k = 0; k < ELEMENTSOF(classes); k++) {
        size_t it = 0;
        const struct row *r;
        while (db_next(classes[k].cls, &it, &r)) {
            if (strlist_count(r->v[classes[k].cur]) <= 0)
                continue;
            log_notice("%s %s: operations %s ended with xapi's last run",
                       model_classes[classes[k].cls].name, r->ref, r->v[classes[k].cur]);
            changeset_set(cs, classes[k].cls, r->ref, classes[k].cur, "{}");
            refs = xrealloc(refs, (n + 1) * sizeof(*refs));
            cls = xrealloc(cls, (n + 1) * sizeof(*cls));
            snprintf(refs[n], 64, "%s", r->ref);
            cls[n++] = classes[k].cls;
        }
    }
    int rc = n ? db_apply(cs) : 0;
    changeset_free(cs);
    cs = changeset_new();
    for (size_t i = 0; rc >= 0 && i < n; i++) {
        if (cls[i] == C_VBD) {
            vbdops_refresh(cs, refs[i], NULL);
        } else {
            char *allowed = vmops_allowed(db_get(C_VM, refs[i]));
            changeset_set(cs, C_VM, refs[i], FIDX(VM, allowed_operations), allowed);
            free(allowed);
        }
    }
    if (rc >= 0 && n)
        rc = db_apply(cs);
    changeset_free(cs);
    free(refs);
    free(cls);
    return rc;
}

int bootstrap_host(const char *state_dir)
{
    struct sysinfo_host si;
    char uuid[UUID_STR_LEN], host_ref[64];
    char *inv = xasprintf("%s/inventory", state_dir);
    int r;

    r = sysinfo_read(&si);
    if (r < 0) {
        free(inv);
        return log_error_errno(r, "cannot read the system's memory and CPUs: %m");
    }
    if (read_inventory(inv, uuid) < 0) {
        uuid_generate_str(uuid);
        if ((r = write_inventory(inv, uuid)) < 0) {
            log_error_errno(r, "cannot write %s: %m", inv);
            goto out;
        }
    }

    db_wrlock();
    struct changeset *cs = changeset_new();
    const struct row *h = db_get_by_uuid(C_host, uuid);
    if (!h) {
        char metrics_ref[64];
        char **m = api_new_row(C_host_metrics, metrics_ref);
        changeset_create(cs, C_host_metrics, metrics_ref, m);
        new_host(cs, uuid, host_ref, metrics_ref);
        log_notice("first start: creating host %s", uuid);
    } else
        snprintf(host_ref, sizeof(host_ref), "%s", h->ref);
    if ((r = db_apply(cs)) < 0)
        goto fail;
    changeset_free(cs);
    cs = changeset_new();
    h = db_get(C_host, host_ref);

    /* The pool: a host that has none is the master of a pool of its own. */
    size_t it = 0;
    const struct row *pool = NULL;
    db_next(C_pool, &it, &pool);
    if (!pool) {
        char pool_ref[64];
        char **p = api_new_row(C_pool, pool_ref);
        api_set_val(p, FIDX(pool, master), host_ref);
        changeset_create(cs, C_pool, pool_ref, p);
        snprintf(xapi_state.pool_ref, sizeof(xapi_state.pool_ref), "%s", pool_ref);
    } else
        snprintf(xapi_state.pool_ref, sizeof(xapi_state.pool_ref), "%s", pool->ref);

    const struct row *dom0 = NULL;
    it = 0;
    const struct row *vm;
    while (db_next(C_VM, &it, &vm))
        if (streq(vm->v[FIDX(VM, is_control_domain)], "true") &&
            streq(vm->v[FIDX(VM, resident_on)], host_ref))
            dom0 = vm;
    if (!dom0) {
        char vm_ref[64];
        new_control_domain(cs, host_ref, &si, vm_ref);
        changeset_set(cs, C_host, host_ref, FIDX(host, control_domain), vm_ref);
    } else {
        size_control_domain(cs, dom0, si.mem_total, si.n_cpus);
        set_if_changed(cs, h, FIDX(host, control_domain), dom0->ref);
    }
    refresh_host(cs, h, &si);
    const struct row *hm = db_get(C_host_metrics, h->v[FIDX(host, metrics)]);
    if (hm)
        refresh_metrics(cs, hm, &si);
    sync_host_cpus(cs, host_ref, &si);
    if ((r = db_apply(cs)) < 0 || (r = clear_stale_operations()) < 0)
        goto fail;

    snprintf(xapi_state.host_ref, sizeof(xapi_state.host_ref), "%s", host_ref);
    snprintf(xapi_state.host_uuid, sizeof(xapi_state.host_uuid), "%s", uuid);
    changeset_free(cs);
    db_unlock();
    r = 0;
    goto out;
fail:
    changeset_free(cs);
    db_unlock();
    log_error_errno(r, "cannot record the host's objects: %m");
out:
    sysinfo_done(&si);
    free(inv);
    return r;
}
