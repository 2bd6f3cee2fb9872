/* The field tables of the xe CLI (fields.h): one array per class view, in
 * the order and with the names XCP prints (xe-cli.md section 6), and the
 * few getters that are functions rather than data. Fields of XCP that the
 * data model does not have (host license-server) are left out rather than
 * shown with a made-up value. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "fields.h"
#include "lib/cleanup.h"
#include "lib/strlist.h"
#include "lib/util.h"

#define NID "<not in database>"

#define FLD(c, f, nm, tg, fl)                                                                      \
    {                                                                                              \
        .name = nm, .get = CG_FIELD, .field = FIDX(c, f), .set_msg = -1, .tag = TAG_##tg,          \
        .flags = fl                                                                                \
    }
#define NAMEOF(c, f, nm, fl)                                                                       \
    {                                                                                              \
        .name = nm, .get = CG_NAME, .field = FIDX(c, f), .set_msg = -1, .tag = TAG_RO, .flags = fl \
    }
#define VIA(c, f, tc, tf, nn, nm, tg, fl)                                                          \
    {                                                                                              \
        .name = nm, .get = CG_VIA, .field = FIDX(c, f), .tcls = C_##tc, .tfield = FIDX(tc, tf),    \
        .none = nn, .set_msg = -1, .tag = TAG_##tg, .flags = fl                                    \
    }
#define CALL(c, m, nm, onerr, tg, fl)                                                              \
    {                                                                                              \
        .name = nm, .get = CG_CALL, .field = -1, .msg = M_##c##_##m, .none = onerr, .set_msg = -1, \
        .tag = TAG_##tg, .flags = fl                                                               \
    }
#define CALL_ARG(c, m, a, nm, onerr, tg, fl)                                                       \
    {                                                                                              \
        .name = nm, .get = CG_CALL, .field = -1, .msg = M_##c##_##m, .arg = a, .argfield = -1,     \
        .none = onerr, .set_msg = -1, .tag = TAG_##tg, .flags = fl                                 \
    }
/* A message on the object a ref field names, with an argument built from
 * another field (io_read_kbs: VM.query_data_source(vbd.VM, "vbd_<device>_read")). */
#define CALL_ON(c, f, tc, m, a, af, nm, onerr, tg, fl)                                             \
    {                                                                                              \
        .name = nm, .get = CG_CALL, .field = FIDX(c, f), .msg = M_##tc##_##m, .arg = a,            \
        .argfield = FIDX(c, af), .none = onerr, .set_msg = -1, .tag = TAG_##tg, .flags = fl        \
    }
#define FN(f, nm, tg, fl)                                                                          \
    {                                                                                              \
        .name = nm, .get = CG_FN, .field = -1, .set_msg = -1, .fn = f, .tag = TAG_##tg,            \
        .flags = fl                                                                                \
    }
/* A pool field that is the hosts' own: their common value, else
 * "<inconsistent>"; set through pool.set_<f>. */
#define FROM_HOSTS(c, f, nm, tg, fl)                                                               \
    {                                                                                              \
        .name = nm, .get = CG_FN, .field = -1, .tcls = C_host, .tfield = FIDX(host, f),            \
        .set_msg = M_##c##_set_##f, .fn = from_hosts, .tag = TAG_##tg, .flags = fl                 \
    }
#define FROM_HOSTS_RO(f, nm, fl)                                                                   \
    {                                                                                              \
        .name = nm, .get = CG_FN, .field = -1, .tcls = C_host, .tfield = FIDX(host, f),            \
        .set_msg = -1, .fn = from_hosts, .tag = TAG_RO, .flags = fl                                \
    }

/* ---- getters that are functions ---- */

static const struct row *linked(const struct row *r, int field, int cls)
{
    return r->v[field] ? db_get(cls, r->v[field]) : NULL;
}

/* sr-list's host: the host of its one PBD, "<shared>" with several. */
static void sr_host(const struct cli_field_def *d, const struct row *r, struct strbuf *out)
{
    struct strbuf scratch;
    struct strlist_iter it;
    const char *k, *v, *pbd = NULL;
    size_t n = 0;
    (void)d;

    strbuf_init(&scratch, 0);
    strlist_iter_init(&it, db_value(r, FIDX(SR, PBDs), &scratch));
    while (strlist_iter_next(&it, &k, &v))
        if (n++ == 0)
            pbd = v;
    if (n > 1)
        strbuf_adds(out, "<shared>");
    else {
        const struct row *p = n == 1 ? db_get(C_PBD, pbd) : NULL;
        const struct row *h = p ? linked(p, FIDX(PBD, host), C_host) : NULL;
        strbuf_adds(out, h ? h->v[FIDX(host, name_label)] : NID);
    }
    strlist_iter_done(&it);
    strbuf_done(&scratch);
}

static void vbd_vdi_name(const struct cli_field_def *d, const struct row *r, struct strbuf *out)
{
    (void)d;
    if (r->v[FIDX(VBD, empty)] && streq(r->v[FIDX(VBD, empty)], "true")) {
        strbuf_adds(out, "<EMPTY>");
        return;
    }
    const struct row *vdi = linked(r, FIDX(VBD, VDI), C_VDI);
    strbuf_adds(out, vdi ? vdi->v[FIDX(VDI, name_label)] : NID);
}

static void pif_speed(const struct cli_field_def *d, const struct row *r, struct strbuf *out)
{
    const struct row *m = linked(r, FIDX(PIF, metrics), C_PIF_metrics);
    (void)d;
    if (!m)
        strbuf_adds(out, NID);
    else
        strbuf_addf(out, "%s Mbit/s", m->v[FIDX(PIF_metrics, speed)]);
}

static void pif_duplex(const struct cli_field_def *d, const struct row *r, struct strbuf *out)
{
    const struct row *m = linked(r, FIDX(PIF, metrics), C_PIF_metrics);
    (void)d;
    if (!m)
        strbuf_adds(out, NID);
    else if (streq(m->v[FIDX(PIF_metrics, duplex)], "true"))
        strbuf_adds(out, "full");
    else
        strbuf_adds(out, streq(m->v[FIDX(PIF_metrics, carrier)], "true") ? "half" : "unknown");
}

static void from_hosts(const struct cli_field_def *d, const struct row *r, struct strbuf *out)
{
    const struct type *t = model_classes[C_host].fields[d->tfield].type;
    const char *first = NULL;
    bool same = true, all = true;
    const struct row *h;
    size_t it = 0;
    (void)r;

    while (db_next(C_host, &it, &h)) {
        const char *v = h->v[d->tfield] ? h->v[d->tfield] : "";
        all = all && streq(v, "true");
        if (!first)
            first = v;
        else if (!streq(first, v))
            same = false;
    }
    if (d->flags & CF_ALL)
        strbuf_adds(out, all ? "true" : "false");
    else if (!first || !same)
        strbuf_adds(out, "<inconsistent>");
    else
        cli_render(t, first, 0, out);
}

/* ---- the tables ---- */

static const struct cli_field_def fields_vm[] = {
    FLD(VM, uuid, "uuid", RO, 0),
    FLD(VM, name_label, "name-label", RW, 0),
    FLD(VM, name_description, "name-description", RW, 0),
    FLD(VM, user_version, "user-version", RW, 0),
    FLD(VM, is_a_template, "is-a-template", RW, 0),
    FLD(VM, is_default_template, "is-default-template", RW, 0),
    FLD(VM, is_a_snapshot, "is-a-snapshot", RO, 0),
    FLD(VM, snapshot_of, "snapshot-of", RO, 0),
    FLD(VM, snapshots, "snapshots", RO, 0),
    FLD(VM, snapshot_time, "snapshot-time", RO, 0),
    FLD(VM, transportable_snapshot_id, "transportable-snapshot-id", RO, CF_HID),
    FLD(VM, snapshot_info, "snapshot-info", RO, 0),
    FLD(VM, parent, "parent", RO, 0),
    FLD(VM, children, "children", RO, 0),
    FLD(VM, is_control_domain, "is-control-domain", RO, 0),
    FLD(VM, power_state, "power-state", RO, 0),
    VIA(VM, metrics, VM_metrics, memory_actual, NID, "memory-actual", RO, 0),
    CALL_ARG(VM, query_data_source, "memory_target", "memory-target", "<unknown>", RO,
             CF_EXP | CF_INT),
    FLD(VM, memory_overhead, "memory-overhead", RO, 0),
    FLD(VM, memory_static_max, "memory-static-max", RW, 0),
    FLD(VM, memory_dynamic_max, "memory-dynamic-max", RW, 0),
    FLD(VM, memory_dynamic_min, "memory-dynamic-min", RW, 0),
    FLD(VM, memory_static_min, "memory-static-min", RW, 0),
    FLD(VM, suspend_VDI, "suspend-VDI-uuid", RW, 0),
    FLD(VM, suspend_SR, "suspend-SR-uuid", RW, 0),
    FLD(VM, VCPUs_params, "VCPUs-params", MRW, 0),
    FLD(VM, VCPUs_max, "VCPUs-max", RW, 0),
    FLD(VM, VCPUs_at_startup, "VCPUs-at-startup", RW, 0),
    FLD(VM, actions_after_shutdown, "actions-after-shutdown", RW, 0),
    FLD(VM, actions_after_softreboot, "actions-after-softreboot", RW, 0),
    FLD(VM, actions_after_reboot, "actions-after-reboot", RW, 0),
    FLD(VM, actions_after_crash, "actions-after-crash", RW, 0),
    FLD(VM, consoles, "console-uuids", SRO, 0),
    VIA(VM, metrics, VM_metrics, hvm, "false", "hvm", RO, 0),
    VIA(VM, metrics, VM_metrics, nomigrate, "false", "nomigrate", RO, CF_HID),
    VIA(VM, metrics, VM_metrics, nested_virt, "false", "nested-virt", RO, CF_HID),
    FLD(VM, platform, "platform", MRW, 0),
    VIA(VM, metrics, VM_metrics, numa_optimised, "false", "numa-optimised", RO, 0),
    VIA(VM, metrics, VM_metrics, numa_nodes, "0", "numa-nodes", RO, 0),
    VIA(VM, metrics, VM_metrics, numa_node_memory, "[]", "numa-node-memory", MRO, 0),
    FLD(VM, allowed_operations, "allowed-operations", SRO, 0),
    FLD(VM, current_operations, "current-operations", SRO, CF_VALUES),
    FLD(VM, blocked_operations, "blocked-operations", MRW, 0),
    CALL(VM, get_allowed_VBD_devices, "allowed-VBD-devices", "", SRO, CF_EXP),
    CALL(VM, get_allowed_VIF_devices, "allowed-VIF-devices", "", SRO, CF_EXP),
    CALL(VM, get_possible_hosts, "possible-hosts", NULL, RO, CF_EXP),
    FLD(VM, domain_type, "domain-type", RW, 0),
    VIA(VM, metrics, VM_metrics, current_domain_type, NID, "current-domain-type", RO, 0),
    FLD(VM, HVM_boot_policy, "HVM-boot-policy", RW, 0),
    FLD(VM, HVM_boot_params, "HVM-boot-params", MRW, 0),
    FLD(VM, HVM_shadow_multiplier, "HVM-shadow-multiplier", RW, 0),
    FLD(VM, NVRAM, "NVRAM", MRW, CF_HID),
    FLD(VM, PV_kernel, "PV-kernel", RW, 0),
    FLD(VM, PV_ramdisk, "PV-ramdisk", RW, 0),
    FLD(VM, PV_args, "PV-args", RW, 0),
    FLD(VM, PV_legacy_args, "PV-legacy-args", RW, 0),
    FLD(VM, PV_bootloader, "PV-bootloader", RW, 0),
    FLD(VM, PV_bootloader_args, "PV-bootloader-args", RW, 0),
    FLD(VM, last_boot_CPU_flags, "last-boot-CPU-flags", RO, 0),
    FLD(VM, last_booted_record, "last-boot-record", RO, CF_EXP | CF_QUOTE),
    FLD(VM, resident_on, "resident-on", RO, 0),
    FLD(VM, affinity, "affinity", RW, 0),
    FLD(VM, other_config, "other-config", MRW, 0),
    FLD(VM, domid, "dom-id", RO, 0),
    FLD(VM, recommendations, "recommendations", RO, 0),
    FLD(VM, xenstore_data, "xenstore-data", MRW, 0),
    FLD(VM, ha_always_run, "ha-always-run", RW, CF_DEP),
    FLD(VM, ha_restart_priority, "ha-restart-priority", RW, 0),
    FLD(VM, blobs, "blobs", RO, 0),
    VIA(VM, metrics, VM_metrics, start_time, "<unknown time>", "start-time", RO, 0),
    VIA(VM, metrics, VM_metrics, install_time, "<unknown time>", "install-time", RO, 0),
    VIA(VM, metrics, VM_metrics, VCPUs_number, NID, "VCPUs-number", RO, 0),
    CALL_ARG(VM, query_data_source, "cpu%d", "VCPUs-utilisation", "", MRO, CF_EXP | CF_PERCPU),
    VIA(VM, guest_metrics, VM_guest_metrics, os_version, NID, "os-version", MRO, 0),
    VIA(VM, guest_metrics, VM_guest_metrics, netbios_name, NID, "netbios-name", MRO, 0),
    VIA(VM, guest_metrics, VM_guest_metrics, PV_drivers_version, NID, "PV-drivers-version", MRO, 0),
    VIA(VM, guest_metrics, VM_guest_metrics, PV_drivers_up_to_date, NID, "PV-drivers-up-to-date",
        RO, CF_DEP),
    VIA(VM, guest_metrics, VM_guest_metrics, memory, NID, "memory", MRO, 0),
    VIA(VM, guest_metrics, VM_guest_metrics, disks, NID, "disks", MRO, 0),
    FLD(VM, VBDs, "VBDs", SRO, 0),
    VIA(VM, guest_metrics, VM_guest_metrics, networks, NID, "networks", MRO, 0),
    VIA(VM, guest_metrics, VM_guest_metrics, services, NID, "services", MRO, 0),
    VIA(VM, guest_metrics, VM_guest_metrics, PV_drivers_detected, NID, "PV-drivers-detected", RO,
        0),
    VIA(VM, guest_metrics, VM_guest_metrics, other, NID, "other", MRO, 0),
    VIA(VM, guest_metrics, VM_guest_metrics, live, NID, "live", RO, 0),
    VIA(VM, guest_metrics, VM_guest_metrics, last_updated, NID, "guest-metrics-last-updated", RO,
        0),
    VIA(VM, guest_metrics, VM_guest_metrics, can_use_hotplug_vbd, NID, "can-use-hotplug-vbd", RO,
        0),
    VIA(VM, guest_metrics, VM_guest_metrics, can_use_hotplug_vif, NID, "can-use-hotplug-vif", RO,
        0),
    CALL(VM, get_cooperative, "cooperative", "true", RO, CF_EXP | CF_DEP),
    FLD(VM, tags, "tags", SRW, CF_COMMA),
    FLD(VM, appliance, "appliance", RW, 0),
    FLD(VM, groups, "groups", RW, 0),
    FLD(VM, secureboot_certificates_state, "secureboot-certificates-state", RO, 0),
    FLD(VM, snapshot_schedule, "snapshot-schedule", RW, 0),
    FLD(VM, is_vmss_snapshot, "is-vmss-snapshot", RO, 0),
    FLD(VM, start_delay, "start-delay", RW, 0),
    FLD(VM, shutdown_delay, "shutdown-delay", RW, 0),
    FLD(VM, order, "order", RW, 0),
    FLD(VM, version, "version", RO, 0),
    FLD(VM, generation_id, "generation-id", RO, 0),
    FLD(VM, hardware_platform_version, "hardware-platform-version", RO, 0),
    FLD(VM, has_vendor_device, "has-vendor-device", RW, 0),
    FLD(VM, requires_reboot, "requires-reboot", RO, 0),
    FLD(VM, reference_label, "reference-label", RO, 0),
    FLD(VM, bios_strings, "bios-strings", MRO, 0),
    FLD(VM, pending_guidances, "pending-guidances", RO, 0),
    FLD(VM, VTPMs, "vtpms", RO, 0),
    FLD(VM, pending_guidances_recommended, "pending-guidances-recommended", RO, 0),
    FLD(VM, pending_guidances_full, "pending-guidances-full", RO, 0),
};

static const struct cli_field_def fields_host[] = {
    FLD(host, uuid, "uuid", RO, 0),
    FLD(host, name_label, "name-label", RW, 0),
    FLD(host, name_description, "name-description", RW, 0),
    FLD(host, allowed_operations, "allowed-operations", SRO, 0),
    FLD(host, current_operations, "current-operations", SRO, CF_VALUES),
    FLD(host, enabled, "enabled", RO, 0),
    FLD(host, display, "display", RO, 0),
    FLD(host, API_version_major, "API-version-major", RO, 0),
    FLD(host, API_version_minor, "API-version-minor", RO, 0),
    FLD(host, API_version_vendor, "API-version-vendor", RO, 0),
    FLD(host, API_version_vendor_implementation, "API-version-vendor-implementation", MRO, 0),
    FLD(host, logging, "logging", MRW, 0),
    FLD(host, suspend_image_sr, "suspend-image-sr-uuid", RW, 0),
    FLD(host, crash_dump_sr, "crash-dump-sr-uuid", RW, 0),
    FLD(host, software_version, "software-version", MRO, 0),
    FLD(host, capabilities, "capabilities", SRO, 0),
    FLD(host, other_config, "other-config", MRW, 0),
    FLD(host, cpu_info, "cpu_info", MRO, 0),
    FLD(host, chipset_info, "chipset-info", MRO, 0),
    FLD(host, hostname, "hostname", RO, 0),
    FLD(host, address, "address", RO, 0),
    FLD(host, https_only, "https-only", RW, 0),
    FLD(host, supported_bootloaders, "supported-bootloaders", SRO, 0),
    FLD(host, blobs, "blobs", RO, 0),
    FLD(host, memory_overhead, "memory-overhead", RO, 0),
    VIA(host, metrics, host_metrics, memory_total, NID, "memory-total", RO, 0),
    VIA(host, metrics, host_metrics, memory_free, NID, "memory-free", RO, 0),
    CALL(host, compute_free_memory, "memory-free-computed", NULL, RO, CF_EXP),
    VIA(host, metrics, host_metrics, live, NID, "host-metrics-live", RO, 0),
    FLD(host, patches, "patches", SRO, CF_DEP | CF_COMMA),
    FLD(host, updates, "updates", SRO, CF_COMMA),
    FLD(host, ha_statefiles, "ha-statefiles", RO, CF_REFTEXT),
    FLD(host, ha_network_peers, "ha-network-peers", RO, 0),
    FLD(host, external_auth_type, "external-auth-type", RO, 0),
    FLD(host, external_auth_service_name, "external-auth-service-name", RO, 0),
    FLD(host, external_auth_configuration, "external-auth-configuration", MRO, 0),
    FLD(host, edition, "edition", RO, 0),
    FLD(host, power_on_mode, "power-on-mode", RO, 0),
    FLD(host, power_on_config, "power-on-config", MRO, 0),
    FLD(host, local_cache_sr, "local-cache-sr", RO, 0),
    FLD(host, tags, "tags", SRW, CF_COMMA),
    FLD(host, ssl_legacy, "ssl-legacy", RW, 0),
    FLD(host, guest_VCPUs_params, "guest_VCPUs_params", MRW, 0),
    FLD(host, virtual_hardware_platform_versions, "virtual-hardware-platform-versions", SRO, 0),
    FLD(host, control_domain, "control-domain-uuid", RO, 0),
    FLD(host, resident_VMs, "resident-vms", SRO, 0),
    FLD(host, updates_requiring_reboot, "updates-requiring-reboot", SRO, 0),
    FLD(host, features, "features", SRO, 0),
    FLD(host, iscsi_iqn, "iscsi_iqn", RW, 0),
    FLD(host, multipathing, "multipathing", RW, 0),
    FLD(host, uefi_certificates, "uefi-certificates", RW, CF_HID),
    FLD(host, numa_affinity_policy, "numa-affinity-policy", RW, 0),
    FLD(host, pending_guidances, "pending-guidances", RO, 0),
    FLD(host, tls_verification_enabled, "tls-verification-enabled", RO, 0),
    FLD(host, last_software_update, "last-software-update", RO, 0),
    FLD(host, latest_synced_updates_applied, "latest-synced-updates-applied", RO, 0),
    FLD(host, pending_guidances_recommended, "pending-guidances-recommended", RO, 0),
    FLD(host, pending_guidances_full, "pending-guidances-full", RO, 0),
    FLD(host, last_update_hash, "last-update-hash", RO, 0),
    FLD(host, ssh_enabled, "ssh-enabled", RO, 0),
    FLD(host, ssh_enabled_timeout, "ssh-enabled-timeout", RW, 0),
    FLD(host, ssh_expiry, "ssh-expiry", RO, 0),
    FLD(host, console_idle_timeout, "console-idle-timeout", RW, 0),
    FLD(host, ssh_auto_mode, "ssh-auto-mode", RW, 0),
    FLD(host, max_cstate, "max-cstate", RW, 0),
    FLD(host, secure_boot, "secure-boot", RO, 0),
    FLD(host, ntp_mode, "ntp-mode", RW, 0),
    FLD(host, ntp_custom_servers, "ntp-custom-servers", SRO, CF_COMMA),
    FLD(host, timezone, "timezone", RW, 0),
};

static const struct cli_field_def fields_pool[] = {
    FLD(pool, uuid, "uuid", RO, 0),
    FLD(pool, name_label, "name-label", RW, 0),
    FLD(pool, name_description, "name-description", RW, 0),
    FLD(pool, master, "master", RO, 0),
    FLD(pool, default_SR, "default-SR", RW, 0),
    FLD(pool, crash_dump_SR, "crash-dump-SR", RW, 0),
    FLD(pool, suspend_image_SR, "suspend-image-SR", RW, 0),
    CALL(SR, get_supported_types, "supported-sr-types", NULL, RO, CF_EXP | CF_NOOBJ),
    FLD(pool, other_config, "other-config", MRW, 0),
    FLD(pool, allowed_operations, "allowed-operations", SRO, 0),
    FLD(pool, current_operations, "current-operations", SRO, CF_VALUES),
    FLD(pool, ha_enabled, "ha-enabled", RO, 0),
    FLD(pool, ha_configuration, "ha-configuration", RO, 0),
    FLD(pool, ha_statefiles, "ha-statefiles", RO, CF_REFTEXT),
    FLD(pool, ha_host_failures_to_tolerate, "ha-host-failures-to-tolerate", RW, 0),
    FLD(pool, ha_plan_exists_for, "ha-plan-exists-for", RO, 0),
    FLD(pool, ha_allow_overcommit, "ha-allow-overcommit", RW, 0),
    FLD(pool, ha_overcommitted, "ha-overcommitted", RO, 0),
    FLD(pool, ha_reboot_vm_on_internal_shutdown, "ha-reboot-vm-on-internal-shutdown", RW, 0),
    FLD(pool, blobs, "blobs", RO, 0),
    FLD(pool, wlb_url, "wlb-url", RO, 0),
    FLD(pool, wlb_username, "wlb-username", RO, 0),
    FLD(pool, wlb_enabled, "wlb-enabled", RW, 0),
    FLD(pool, wlb_verify_cert, "wlb-verify-cert", RW, 0),
    FLD(pool, igmp_snooping_enabled, "igmp-snooping-enabled", RW, 0),
    FLD(pool, gui_config, "gui-config", MRW, 0),
    FLD(pool, health_check_config, "health-check-config", MRW, 0),
    FLD(pool, vswitch_controller, "vswitch-controller", RO, CF_HID | CF_NOTSET),
    FLD(pool, restrictions, "restrictions", RO, 0),
    FLD(pool, tags, "tags", SRW, CF_COMMA),
    CALL(pool, get_license_state, "license-state", NULL, RO, 0),
    FLD(pool, ha_cluster_stack, "ha-cluster-stack", RO, 0),
    FLD(pool, guest_agent_config, "guest-agent-config", MRW, 0),
    FLD(pool, cpu_info, "cpu_info", MRO, 0),
    FLD(pool, policy_no_vendor_device, "policy-no-vendor-device", RW, 0),
    FLD(pool, live_patching_disabled, "live-patching-disabled", RW, 0),
    FLD(pool, uefi_certificates, "uefi-certificates", RW, CF_HID),
    FLD(pool, custom_uefi_certificates, "custom-uefi-certificates", RW, CF_HID),
    FLD(pool, tls_verification_enabled, "tls-verification-enabled", RO, 0),
    FLD(pool, client_certificate_auth_enabled, "client-certificate-auth-enabled", RO, 0),
    FLD(pool, client_certificate_auth_name, "client-certificate-auth-name", RO, 0),
    FLD(pool, repositories, "repositories", SRW, 0),
    FLD(pool, repository_proxy_url, "repository-proxy-url", RO, 0),
    FLD(pool, repository_proxy_username, "repository-proxy-username", RO, 0),
    FROM_HOSTS(pool, https_only, "https-only", RW, CF_ALL),
    FLD(pool, migration_compression, "migration-compression", RW, 0),
    FLD(pool, coordinator_bias, "coordinator-bias", RW, 0),
    FLD(pool, telemetry_frequency, "telemetry-frequency", RO, 0),
    FLD(pool, telemetry_next_collection, "telemetry-next-collection", RO, 0),
    FLD(pool, last_update_sync, "last-update-sync", RO, 0),
    FLD(pool, update_sync_frequency, "update-sync-frequency", RO, 0),
    FLD(pool, update_sync_day, "update-sync-day", RO, 0),
    FLD(pool, update_sync_enabled, "update-sync-enabled", RO, 0),
    FLD(pool, auto_update_vm_secureboot_certificates, "auto-update-vm-secureboot-certificates", RW,
        0),
    FLD(pool, recommendations, "recommendations", MRO, 0),
    FLD(pool, ext_auth_cache_enabled, "ext-auth-cache-enabled", RW, 0),
    FLD(pool, ext_auth_cache_size, "ext-auth-cache-size", RW, 0),
    FLD(pool, ext_auth_cache_expiry, "ext-auth-cache-expiry", RW, 0),
    FLD(pool, license_server, "license-server", MRW, 0),
    FROM_HOSTS_RO(ssh_enabled, "ssh-enabled", 0),
    FROM_HOSTS(pool, ssh_enabled_timeout, "ssh-enabled-timeout", RW, 0),
    FROM_HOSTS_RO(ssh_expiry, "ssh-expiry", 0),
    FROM_HOSTS(pool, console_idle_timeout, "console-idle-timeout", RW, 0),
    FROM_HOSTS(pool, ssh_auto_mode, "ssh-auto-mode", RW, 0),
    FLD(pool, limit_console_sessions, "limit-console-sessions", RW, 0),
    FLD(pool, vm_console_idle_timeout, "vm-console-idle-timeout", RW, 0),
};

static const struct cli_field_def fields_sr[] = {
    FLD(SR, uuid, "uuid", RO, 0),
    FLD(SR, name_label, "name-label", RW, 0),
    FLD(SR, name_description, "name-description", RW, 0),
    FN(sr_host, "host", RO, 0),
    FLD(SR, allowed_operations, "allowed-operations", SRO, 0),
    FLD(SR, current_operations, "current-operations", SRO, CF_VALUES),
    FLD(SR, VDIs, "VDIs", SRO, 0),
    FLD(SR, PBDs, "PBDs", SRO, 0),
    FLD(SR, virtual_allocation, "virtual-allocation", RO, 0),
    FLD(SR, physical_utilisation, "physical-utilisation", RO, 0),
    FLD(SR, physical_size, "physical-size", RO, 0),
    FLD(SR, type, "type", RO, 0),
    FLD(SR, content_type, "content-type", RO, 0),
    FLD(SR, shared, "shared", RW, 0),
    FLD(SR, introduced_by, "introduced-by", RO, 0),
    FLD(SR, is_tools_sr, "is-tools-sr", RO, 0),
    FLD(SR, other_config, "other-config", MRW, 0),
    FLD(SR, sm_config, "sm-config", MRO, 0),
    FLD(SR, blobs, "blobs", RO, 0),
    FLD(SR, local_cache_enabled, "local-cache-enabled", RO, 0),
    FLD(SR, tags, "tags", SRW, CF_COMMA),
    FLD(SR, clustered, "clustered", RO, 0),
};

static const struct cli_field_def fields_vdi[] = {
    FLD(VDI, uuid, "uuid", RO, 0),
    FLD(VDI, name_label, "name-label", RW, 0),
    FLD(VDI, name_description, "name-description", RW, 0),
    FLD(VDI, is_a_snapshot, "is-a-snapshot", RO, 0),
    FLD(VDI, snapshot_of, "snapshot-of", RO, 0),
    FLD(VDI, snapshots, "snapshots", RO, 0),
    FLD(VDI, snapshot_time, "snapshot-time", RO, 0),
    FLD(VDI, allowed_operations, "allowed-operations", SRO, 0),
    FLD(VDI, current_operations, "current-operations", SRO, CF_VALUES),
    FLD(VDI, SR, "sr-uuid", RO, 0),
    NAMEOF(VDI, SR, "sr-name-label", 0),
    FLD(VDI, VBDs, "vbd-uuids", SRO, 0),
    FLD(VDI, crash_dumps, "crashdump-uuids", SRO, 0),
    FLD(VDI, virtual_size, "virtual-size", RO, 0),
    FLD(VDI, physical_utilisation, "physical-utilisation", RO, 0),
    FLD(VDI, location, "location", RO, 0),
    FLD(VDI, type, "type", RO, 0),
    FLD(VDI, sharable, "sharable", RO, 0),
    FLD(VDI, read_only, "read-only", RO, 0),
    FLD(VDI, storage_lock, "storage-lock", RO, 0),
    FLD(VDI, managed, "managed", RO, 0),
    FLD(VDI, parent, "parent", RO, CF_DEP),
    FLD(VDI, missing, "missing", RO, 0),
    FLD(VDI, is_tools_iso, "is-tools-iso", RO, 0),
    FLD(VDI, other_config, "other-config", MRW, 0),
    FLD(VDI, xenstore_data, "xenstore-data", MRO, 0),
    FLD(VDI, sm_config, "sm-config", MRO, 0),
    FLD(VDI, on_boot, "on-boot", RW, 0),
    FLD(VDI, allow_caching, "allow-caching", RW, 0),
    FLD(VDI, metadata_latest, "metadata-latest", RO, 0),
    FLD(VDI, metadata_of_pool, "metadata-of-pool", RO, 0),
    FLD(VDI, tags, "tags", SRW, CF_COMMA),
    FLD(VDI, cbt_enabled, "cbt-enabled", RO, 0),
};

static const struct cli_field_def fields_vbd[] = {
    FLD(VBD, uuid, "uuid", RO, 0),
    FLD(VBD, VM, "vm-uuid", RO, 0),
    NAMEOF(VBD, VM, "vm-name-label", 0),
    FLD(VBD, VDI, "vdi-uuid", RO, 0),
    FN(vbd_vdi_name, "vdi-name-label", RO, 0),
    FLD(VBD, allowed_operations, "allowed-operations", SRO, 0),
    FLD(VBD, current_operations, "current-operations", SRO, CF_VALUES),
    FLD(VBD, empty, "empty", RO, 0),
    FLD(VBD, device, "device", RO, 0),
    FLD(VBD, userdevice, "userdevice", RW, 0),
    FLD(VBD, bootable, "bootable", RW, 0),
    FLD(VBD, mode, "mode", RW, 0),
    FLD(VBD, type, "type", RW, 0),
    FLD(VBD, unpluggable, "unpluggable", RW, 0),
    FLD(VBD, currently_attached, "currently-attached", RO, 0),
    CALL(VBD, assert_attachable, "attachable", NULL, RO, CF_EXP),
    FLD(VBD, storage_lock, "storage-lock", RO, 0),
    FLD(VBD, status_code, "status-code", RO, 0),
    FLD(VBD, status_detail, "status-detail", RO, 0),
    FLD(VBD, qos_algorithm_type, "qos_algorithm_type", RW, 0),
    FLD(VBD, qos_algorithm_params, "qos_algorithm_params", MRW, 0),
    FLD(VBD, qos_supported_algorithms, "qos_supported_algorithms", SRO, 0),
    FLD(VBD, other_config, "other-config", MRW, 0),
    CALL_ON(VBD, VM, VM, query_data_source, "vbd_%s_read", device, "io_read_kbs", "<unknown>", RO,
            CF_EXP | CF_KIB),
    CALL_ON(VBD, VM, VM, query_data_source, "vbd_%s_write", device, "io_write_kbs", "<unknown>", RO,
            CF_EXP | CF_KIB),
};

static const struct cli_field_def fields_pbd[] = {
    FLD(PBD, uuid, "uuid", RO, 0),
    FLD(PBD, host, "host", RO, CF_DEP),
    FLD(PBD, host, "host-uuid", RO, 0),
    NAMEOF(PBD, host, "host-name-label", 0),
    FLD(PBD, SR, "sr-uuid", RO, 0),
    NAMEOF(PBD, SR, "sr-name-label", 0),
    FLD(PBD, device_config, "device-config", MRO, 0),
    FLD(PBD, currently_attached, "currently-attached", RO, 0),
    FLD(PBD, other_config, "other-config", MRW, 0),
};

static const struct cli_field_def fields_network[] = {
    FLD(network, uuid, "uuid", RO, 0),
    FLD(network, name_label, "name-label", RW, 0),
    FLD(network, name_description, "name-description", RW, 0),
    FLD(network, VIFs, "VIF-uuids", SRO, 0),
    FLD(network, PIFs, "PIF-uuids", SRO, 0),
    FLD(network, MTU, "MTU", RW, 0),
    FLD(network, bridge, "bridge", RO, 0),
    FLD(network, managed, "managed", RO, 0),
    FLD(network, other_config, "other-config", MRW, 0),
    FLD(network, blobs, "blobs", RO, 0),
    FLD(network, tags, "tags", SRW, CF_COMMA),
    FLD(network, default_locking_mode, "default-locking-mode", RW, 0),
    FLD(network, purpose, "purpose", SRW, CF_COMMA),
};

static const struct cli_field_def fields_vif[] = {
    FLD(VIF, uuid, "uuid", RO, 0),
    FLD(VIF, VM, "vm-uuid", RO, 0),
    NAMEOF(VIF, VM, "vm-name-label", 0),
    FLD(VIF, allowed_operations, "allowed-operations", SRO, 0),
    FLD(VIF, current_operations, "current-operations", SRO, CF_VALUES),
    FLD(VIF, device, "device", RO, 0),
    FLD(VIF, MAC, "MAC", RO, 0),
    FLD(VIF, MAC_autogenerated, "MAC-autogenerated", RO, 0),
    FLD(VIF, MTU, "MTU", RO, 0),
    FLD(VIF, currently_attached, "currently-attached", RO, 0),
    FLD(VIF, qos_algorithm_type, "qos_algorithm_type", RW, 0),
    FLD(VIF, qos_algorithm_params, "qos_algorithm_params", MRW, 0),
    FLD(VIF, qos_supported_algorithms, "qos_supported_algorithms", SRO, 0),
    FLD(VIF, other_config, "other-config", MRW, 0),
    FLD(VIF, network, "network-uuid", RO, 0),
    NAMEOF(VIF, network, "network-name-label", 0),
    CALL_ON(VIF, VM, VM, query_data_source, "vif_%s_rx", device, "io_read_kbs", "<unknown>", RO,
            CF_EXP | CF_KIB),
    CALL_ON(VIF, VM, VM, query_data_source, "vif_%s_tx", device, "io_write_kbs", "<unknown>", RO,
            CF_EXP | CF_KIB),
    FLD(VIF, locking_mode, "locking-mode", RW, 0),
    FLD(VIF, ipv4_allowed, "ipv4-allowed", SRW, 0),
    FLD(VIF, ipv6_allowed, "ipv6-allowed", SRW, 0),
    FLD(VIF, ipv4_configuration_mode, "ipv4-configuration-mode", RO, 0),
    FLD(VIF, ipv4_addresses, "ipv4-addresses", RO, 0),
    FLD(VIF, ipv4_gateway, "ipv4-gateway", RO, 0),
    FLD(VIF, ipv6_configuration_mode, "ipv6-configuration-mode", RO, 0),
    FLD(VIF, ipv6_addresses, "ipv6-addresses", RO, 0),
    FLD(VIF, ipv6_gateway, "ipv6-gateway", RO, 0),
    FLD(VIF, trunks, "trunks", SRW, 0),
};

static const struct cli_field_def fields_pif[] = {
    FLD(PIF, uuid, "uuid", RO, 0),
    FLD(PIF, device, "device", RO, 0),
    FLD(PIF, MAC, "MAC", RO, 0),
    FLD(PIF, physical, "physical", RO, 0),
    FLD(PIF, managed, "managed", RO, 0),
    FLD(PIF, currently_attached, "currently-attached", RO, 0),
    FLD(PIF, MTU, "MTU", RO, 0),
    FLD(PIF, VLAN, "VLAN", RO, 0),
    FLD(PIF, VLAN_master_of, "vlan-master-of", RO, 0),
    FLD(PIF, VLAN_slave_of, "vlan-slave-of", RO, 0),
    FLD(PIF, bond_master_of, "bond-master-of", RO, 0),
    FLD(PIF, bond_slave_of, "bond-slave-of", RO, 0),
    FLD(PIF, sriov_physical_PIF_of, "sriov-physical-PIF-of", RO, 0),
    FLD(PIF, sriov_logical_PIF_of, "sriov-logical-PIF-of", RO, 0),
    FLD(PIF, tunnel_access_PIF_of, "tunnel-access-PIF-of", RO, 0),
    FLD(PIF, tunnel_transport_PIF_of, "tunnel-transport-PIF-of", RO, 0),
    FLD(PIF, management, "management", RO, 0),
    FLD(PIF, network, "network-uuid", RO, 0),
    NAMEOF(PIF, network, "network-name-label", 0),
    FLD(PIF, host, "host-uuid", RO, 0),
    NAMEOF(PIF, host, "host-name-label", 0),
    FLD(PIF, ip_configuration_mode, "IP-configuration-mode", RO, 0),
    FLD(PIF, IP, "IP", RO, 0),
    FLD(PIF, netmask, "netmask", RO, 0),
    FLD(PIF, gateway, "gateway", RO, 0),
    FLD(PIF, ipv6_configuration_mode, "IPv6-configuration-mode", RO, 0),
    FLD(PIF, IPv6, "IPv6", RO, 0),
    FLD(PIF, ipv6_gateway, "IPv6-gateway", RO, 0),
    FLD(PIF, primary_address_type, "primary-address-type", RO, 0),
    FLD(PIF, DNS, "DNS", RO, 0),
    FLD(PIF, properties, "properties", MRO, 0),
    FLD(PIF, capabilities, "capabilities", SRO, 0),
    CALL_ON(PIF, host, host, query_data_source, "pif_%s_rx", device, "io_read_kbs", "<unknown>", RO,
            CF_EXP | CF_KIB),
    CALL_ON(PIF, host, host, query_data_source, "pif_%s_tx", device, "io_write_kbs", "<unknown>",
            RO, CF_EXP | CF_KIB),
    VIA(PIF, metrics, PIF_metrics, carrier, NID, "carrier", RO, 0),
    VIA(PIF, metrics, PIF_metrics, vendor_id, NID, "vendor-id", RO, 0),
    VIA(PIF, metrics, PIF_metrics, vendor_name, NID, "vendor-name", RO, 0),
    VIA(PIF, metrics, PIF_metrics, device_id, NID, "device-id", RO, 0),
    VIA(PIF, metrics, PIF_metrics, device_name, NID, "device-name", RO, 0),
    FN(pif_speed, "speed", RO, 0),
    FN(pif_duplex, "duplex", RO, 0),
    FLD(PIF, disallow_unplug, "disallow-unplug", RW, 0),
    VIA(PIF, metrics, PIF_metrics, pci_bus_path, NID, "pci-bus-path", RO, 0),
    FLD(PIF, other_config, "other-config", MRW, 0),
    FLD(PIF, igmp_snooping_status, "igmp-snooping-status", RO, 0),
};

static const struct cli_field_def fields_task[] = {
    FLD(task, uuid, "uuid", RO, 0),
    FLD(task, name_label, "name-label", RO, 0),
    FLD(task, name_description, "name-description", RO, 0),
    FLD(task, subtask_of, "subtask_of", RO, 0),
    FLD(task, subtasks, "subtasks", RO, 0),
    FLD(task, resident_on, "resident-on", RO, 0),
    FLD(task, status, "status", RO, 0),
    FLD(task, progress, "progress", RO, 0),
    FLD(task, type, "type", RO, 0),
    FLD(task, result, "result", RO, 0),
    FLD(task, created, "created", RO, 0),
    FLD(task, finished, "finished", RO, 0),
    FLD(task, error_info, "error_info", RO, 0),
    FLD(task, allowed_operations, "allowed_operations", RO, 0),
    FLD(task, current_operations, "current_operations", RO, CF_VALUES),
    FLD(task, other_config, "other-config", MRW, 0),
};

static const struct cli_field_def fields_sm[] = {
    FLD(SM, uuid, "uuid", RO, 0),
    FLD(SM, name_label, "name-label", RO, 0),
    FLD(SM, name_description, "name-description", RO, 0),
    FLD(SM, type, "type", RO, 0),
    FLD(SM, vendor, "vendor", RO, 0),
    FLD(SM, copyright, "copyright", RO, 0),
    FLD(SM, required_api_version, "required-api-version", RO, 0),
    FLD(SM, capabilities, "capabilities", RO, CF_DEP),
    FLD(SM, features, "features", MRO, 0),
    FLD(SM, configuration, "configuration", RO, 0),
    FLD(SM, driver_filename, "driver-filename", RO, 0),
    FLD(SM, required_cluster_stack, "required-cluster-stack", RO, CF_COMMA),
    FLD(SM, supported_image_formats, "supported-image-formats", RO, 0),
};

static const struct cli_field_def fields_message[] = {
    FLD(message, uuid, "uuid", RO, 0),         FLD(message, name, "name", RO, 0),
    FLD(message, priority, "priority", RO, 0), FLD(message, cls, "class", RO, 0),
    FLD(message, obj_uuid, "obj-uuid", RO, 0), FLD(message, timestamp, "timestamp", RO, 0),
    FLD(message, body, "body", RO, 0),
};

#define TABLE(view, c)                                                                             \
    {                                                                                              \
#view,                                                                                     \
        {                                                                                          \
            C_##c, fields_##view, ELEMENTSOF(fields_##view)                                        \
        }                                                                                          \
    }

static const struct {
    const char *view;
    struct cli_field_table t;
} tables[] = {
    TABLE(vm, VM),
    {"template", {C_VM, fields_vm, ELEMENTSOF(fields_vm)}},
    {"snapshot", {C_VM, fields_vm, ELEMENTSOF(fields_vm)}},
    TABLE(host, host),
    TABLE(pool, pool),
    TABLE(sr, SR),
    TABLE(vdi, VDI),
    TABLE(vbd, VBD),
    TABLE(pbd, PBD),
    TABLE(network, network),
    TABLE(vif, VIF),
    TABLE(pif, PIF),
    TABLE(task, task),
    TABLE(sm, SM),
    TABLE(message, message),
};

const struct cli_field_table *cli_field_table(const char *view)
{
    for (size_t i = 0; i < ELEMENTSOF(tables); i++)
        if (streq(tables[i].view, view))
            return &tables[i].t;
    return NULL;
}

/* ---- enum spellings ---- */

/* Values xe spells differently from the API (records.ml, record_util.ml).
 * NULL as the value: every value of the enum, lower-cased. */
static const struct {
    const char *en, *value, *show;
} spellings[] = {
    {"vm_power_state", NULL, NULL},
    {"on_normal_exit", "destroy", "Destroy"},
    {"on_normal_exit", "restart", "Restart"},
    {"on_crash_behaviour", "destroy", "Destroy"},
    {"on_crash_behaviour", "coredump_and_destroy", "Core dump and destroy"},
    {"on_crash_behaviour", "restart", "Restart"},
    {"on_crash_behaviour", "coredump_and_restart", "Core dump and restart"},
    {"on_crash_behaviour", "preserve", "Preserve"},
    {"on_crash_behaviour", "rename_restart", "Rename restart"},
    {"on_softreboot_behavior", "destroy", "Destroy"},
    {"on_softreboot_behavior", "restart", "Restart"},
    {"on_softreboot_behavior", "preserve", "Preserve"},
    {"on_softreboot_behavior", "soft_reboot", "Soft reboot"},
    {"vdi_type", "system", "System"},
    {"vdi_type", "user", "User"},
    {"vdi_type", "ephemeral", "Ephemeral"},
    {"vdi_type", "suspend", "Suspend"},
    {"vdi_type", "crashdump", "Crashdump"},
    {"vdi_type", "ha_statefile", "HA statefile"},
    {"vdi_type", "metadata", "Metadata"},
    {"vdi_type", "redo_log", "Redo log"},
    {"vdi_type", "pvs_cache", "PVS cache"},
    {"vdi_type", "cbt_metadata", "CBT metadata"},
    {"domain_type", "pv_in_pvh", "pv-in-pvh"},
    {"console_protocol", "vt100", "VT100"},
    {"console_protocol", "rfb", "RFB"},
    {"console_protocol", "rdp", "RDP"},
    {"task_allowed_operations", "cancel", "Cancel"},
    {"task_allowed_operations", "destroy", "Destroy"},
    {"vm_operations", "assert_operation_valid", "assertoperationvalid"},
    {"vm_operations", "data_source_op", "data_sources_op"},
    {"host_allowed_operations", "vm_start", "VM.start"},
    {"host_allowed_operations", "vm_resume", "VM.resume"},
    {"host_allowed_operations", "vm_migrate", "VM.migrate"},
};

const char *cli_enum_show(const struct enum_desc *en, const char *value)
{
    static _Thread_local char lower[64];

    for (size_t i = 0; en && i < ELEMENTSOF(spellings); i++) {
        if (!streq(spellings[i].en, en->name))
            continue;
        if (!spellings[i].value) {
            size_t n = strlen(value);
            if (n >= sizeof(lower))
                return value;
            for (size_t j = 0; j <= n; j++)
                lower[j] = (char)(value[j] >= 'A' && value[j] <= 'Z' ? value[j] + 32 : value[j]);
            return lower;
        }
        if (streq(spellings[i].value, value))
            return spellings[i].show;
    }
    return value;
}

const char *cli_enum_parse(const struct enum_desc *en, const char *text)
{
    for (size_t i = 0; i < en->n_values; i++)
        if (strcasecmp(en->values[i], text) == 0 ||
            strcasecmp(cli_enum_show(en, en->values[i]), text) == 0)
            return en->values[i];
    return NULL;
}
