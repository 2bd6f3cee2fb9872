/* The default templates, declared as data (see templates.h). */
#include "templates.h"

#include <errno.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api.h"
#include "db.h"
#include "lib/log.h"
#include "lib/util.h"

LOG_MODULE("templates");

#define MiB (1024LL * 1024)
#define GiB (1024 * MiB)

struct template
{
    const char *label; /* reference_label: stable, also the lookup key */
    const char *name;  /* name_label as XCP-ng shows it */
    const char *description;
    bool hvm;
    bool windows;
    long long mem_min, mem_max; /* static_min / static_max = dynamic_max */
    int vcpus;
    long long disk; /* bytes of the system disk; 0: none */
    const char *distro;
};

static const struct template templates[] = {
    {"other-install-media", "Other install media",
     "Template which allows VM installation from install media", true, false, 256 * MiB, 2 * GiB, 1,
     32 * GiB, ""},
    {"debian-12", "Debian Bookworm 12", "Template for Debian 12 (64-bit)", true, false, 512 * MiB,
     2 * GiB, 1, 10 * GiB, "debian"},
    {"ubuntu-24.04", "Ubuntu Noble Numbat 24.04", "Template for Ubuntu 24.04 (64-bit)", true, false,
     1 * GiB, 2 * GiB, 1, 10 * GiB, "ubuntu"},
    {"centos-stream-9", "CentOS Stream 9", "Template for CentOS Stream 9 (64-bit)", true, false,
     1 * GiB, 2 * GiB, 1, 10 * GiB, "centos"},
    {"almalinux-9", "AlmaLinux 9", "Template for AlmaLinux 9 (64-bit)", true, false, 1 * GiB,
     2 * GiB, 1, 10 * GiB, "almalinux"},
    {"rocky-9", "Rocky Linux 9", "Template for Rocky Linux 9 (64-bit)", true, false, 1 * GiB,
     2 * GiB, 1, 10 * GiB, "rocky"},
    {"windows-10-64", "Windows 10 (64-bit)", "Template for Windows 10 (64-bit)", true, true,
     2 * GiB, 4 * GiB, 2, 32 * GiB, "windows"},
    {"windows-11", "Windows 11", "Template for Windows 11", true, true, 4 * GiB, 4 * GiB, 2,
     64 * GiB, "windows"},
    {"windows-server-2022-64", "Windows Server 2022 (64-bit)",
     "Template for Windows Server 2022 (64-bit)", true, true, 2 * GiB, 4 * GiB, 2, 32 * GiB,
     "windows"},
    {"generic-linux-pv", "Generic Linux PV", "Template for a Linux guest booted paravirtualised",
     false, false, 256 * MiB, 1 * GiB, 1, 8 * GiB, "linux"},
};

static bool have(const char *label)
{
    size_t it = 0;
    const struct row *r;
    while (db_next(C_VM, &it, &r))
        if (streq(r->v[FIDX(VM, reference_label)], label) &&
            streq(r->v[FIDX(VM, is_a_template)], "true"))
            return true;
    return false;
}

static void set_int(char **v, int f, long long n)
{
    char buf[32];
    snprintf(buf, sizeof(buf), "%lld", n);
    api_set_val(v, f, buf);
}

static void add_template(struct changeset *cs, const struct template *t)
{
    char ref[64], mref[64], *s;
    char **v = api_new_row(C_VM, ref);
    char **m = api_new_row(C_VM_metrics, mref);

    api_set_val(v, FIDX(VM, name_label), t->name);
    api_set_val(v, FIDX(VM, name_description), t->description);
    api_set_val(v, FIDX(VM, reference_label), t->label);
    api_set_val(v, FIDX(VM, is_a_template), "true");
    api_set_val(v, FIDX(VM, is_default_template), "true");
    api_set_val(v, FIDX(VM, user_version), "1");
    api_set_val(v, FIDX(VM, domid), "-1");
    set_int(v, FIDX(VM, memory_static_min), t->mem_min);
    set_int(v, FIDX(VM, memory_dynamic_min), t->mem_max);
    set_int(v, FIDX(VM, memory_dynamic_max), t->mem_max);
    set_int(v, FIDX(VM, memory_static_max), t->mem_max);
    set_int(v, FIDX(VM, VCPUs_max), t->vcpus);
    set_int(v, FIDX(VM, VCPUs_at_startup), t->vcpus);
    api_set_val(v, FIDX(VM, actions_after_shutdown), "destroy");
    api_set_val(v, FIDX(VM, actions_after_reboot), "restart");
    api_set_val(v, FIDX(VM, actions_after_crash), "restart");
    api_set_val(v, FIDX(VM, HVM_shadow_multiplier), "1");
    api_set_val(v, FIDX(VM, metrics), mref);
    if (t->hvm) {
        api_set_val(v, FIDX(VM, domain_type), "hvm");
        api_set_val(v, FIDX(VM, HVM_boot_policy), "BIOS order");
        api_set_val(v, FIDX(VM, HVM_boot_params), "{\"order\":\"cdn\"}");
        api_set_val(v, FIDX(VM, platform),
                    t->windows ? "{\"acpi\":\"1\",\"apic\":\"true\",\"pae\":\"true\",\"nx\":"
                                 "\"true\",\"viridian\":\"true\",\"device_id\":\"0002\"}"
                               : "{\"acpi\":\"1\",\"apic\":\"true\",\"pae\":\"true\",\"nx\":"
                                 "\"true\",\"viridian\":\"false\"}");
    } else {
        api_set_val(v, FIDX(VM, domain_type), "pv");
        api_set_val(v, FIDX(VM, PV_bootloader), "pygrub");
        api_set_val(v, FIDX(VM, platform), "{\"nx\":\"true\"}");
    }
    s = xasprintf("<restrictions><restriction field=\"memory-static-max\" max=\"%lld\"/>"
                  "<restriction field=\"vcpus-max\" max=\"32\"/>"
                  "<restriction property=\"number-of-vbds\" max=\"255\"/>"
                  "<restriction property=\"number-of-vifs\" max=\"7\"/></restrictions>",
                  1024 * GiB);
    api_set_val(v, FIDX(VM, recommendations), s);
    free(s);
    struct strbuf oc;
    strbuf_init(&oc, 256);
    strbuf_adds(&oc, "{\"default_template\":\"true\",\"linux_template\":");
    strbuf_adds(&oc, t->windows || !*t->distro ? "\"false\"" : "\"true\"");
    strbuf_adds(&oc, ",\"install-methods\":\"cdrom");
    if (!t->windows && *t->distro)
        strbuf_adds(&oc, ",nfs,http,ftp");
    strbuf_adds(&oc, "\"");
    if (t->disk) {
        strbuf_addf(&oc,
                    ",\"disks\":\"<provision><disk device=\\\"0\\\" size=\\\"%lld\\\" "
                    "sr=\\\"\\\" bootable=\\\"true\\\" type=\\\"system\\\"/></provision>\"",
                    t->disk);
    }
    if (*t->distro)
        strbuf_addf(&oc, ",\"install-distro\":\"%s\"", t->distro);
    strbuf_addc(&oc, '}');
    api_set_val(v, FIDX(VM, other_config), oc.buf);
    strbuf_done(&oc);
    changeset_create(cs, C_VM_metrics, mref, m);
    changeset_create(cs, C_VM, ref, v);
}

int templates_ensure(void)
{
    struct changeset *cs = changeset_new();
    db_wrlock();
    for (size_t i = 0; i < ELEMENTSOF(templates); i++)
        if (!have(templates[i].label))
            add_template(cs, &templates[i]);
    size_t n = changeset_size(cs) / 2;
    int r = db_apply(cs);
    db_unlock();
    changeset_free(cs);
    if (r < 0)
        return log_error_errno(r, "cannot create the default templates: %m");
    if (n)
        log_info("created %zu default templates", n);
    return 0;
}
