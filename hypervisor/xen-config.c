/* Builds libxl's domain configuration from domaind's (see xen-config.h).
 * Every member of the disks (by dm_disk_from_json, which the hot-plug
 * calls share) and nics objects and every platform value is checked, so
 * that a bad one is an INVALID_PARAMS error naming it rather than a libxl
 * failure half-way through building the domain. Platform keys that Xenia
 * does not act on are ignored, as XCP-ng ignores them: XenAPI clients put
 * keys of their own there. */
#include "hypervisor/xen-config.h"

#include <ctype.h>
#include <stdarg.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libxl_utils.h>

#include "lib/log.h"
#include "lib/util.h"

LOG_MODULE("xen-config");

/* The largest video memory an HVM guest's emulated card is given (MiB). */
#define XEN_MAX_VIDEORAM_MIB 256

static struct dm_error *invalid(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static struct dm_error *invalid(const char *fmt, ...)
{
    char buf[256];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(buf, sizeof(buf), fmt, ap);
    va_end(ap);
    return dm_fail(DM_ERR_INVALID_PARAMS, buf);
}

/* ---- platform ---- */

/* A platform flag: a JSON boolean, or the strings XenAPI maps hold
 * ("true", "false", "1", "0"). */
static struct dm_error *platform_bool(json_object *v, const char *key, bool *ret)
{
    if (json_object_is_type(v, json_type_boolean)) {
        *ret = json_object_get_boolean(v);
        return NULL;
    }
    const char *s = json_object_is_type(v, json_type_string) ? json_object_get_string(v) : NULL;
    if (s && (streq(s, "true") || streq(s, "1"))) {
        *ret = true;
        return NULL;
    }
    if (s && (streq(s, "false") || streq(s, "0"))) {
        *ret = false;
        return NULL;
    }
    return invalid("platform.%s: true or false expected", key);
}

/* A platform number: a JSON integer or a decimal string, in min..max. */
static struct dm_error *platform_int(json_object *v, const char *key, int64_t min, int64_t max,
                                     int64_t *ret)
{
    int64_t x;

    if (json_object_is_type(v, json_type_int)) {
        x = json_object_get_int64(v);
    } else if (json_object_is_type(v, json_type_string)) {
        const char *s = json_object_get_string(v);
        char *end;
        errno = 0;
        x = strtoll(s, &end, 10);
        if (errno || end == s || *end)
            return invalid("platform.%s: a number expected", key);
    } else {
        return invalid("platform.%s: a number expected", key);
    }
    if (x < min || x > max)
        return invalid("platform.%s: %lld is not in %lld..%lld", key, (long long)x, (long long)min,
                       (long long)max);
    *ret = x;
    return NULL;
}

static struct dm_error *platform_string(json_object *v, const char *key, const char **ret)
{
    if (!json_object_is_type(v, json_type_string))
        return invalid("platform.%s: a string expected", key);
    *ret = json_object_get_string(v);
    return NULL;
}

/* The platform keys that act on an HVM guest, each checked for every type
 * (a bad value is an error even where the key has no effect). */
static struct dm_error *apply_platform(json_object *platform, bool hvm, libxl_domain_build_info *b)
{
    struct dm_error *e = NULL;

    if (!platform)
        return NULL;
    json_object_object_foreach(platform, key, v)
    {
        bool flag = false;
        int64_t x = 0;
        const char *s = NULL;

        if (streq(key, "acpi") || streq(key, "apic") || streq(key, "viridian") ||
            streq(key, "pae") || streq(key, "nx") || streq(key, "hpet")) {
            if ((e = platform_bool(v, key, &flag)))
                return e;
            if (!hvm)
                continue;
            libxl_defbool *db = streq(key, "acpi")       ? &b->acpi
                                : streq(key, "apic")     ? &b->apic
                                : streq(key, "viridian") ? &b->u.hvm.viridian
                                : streq(key, "pae")      ? &b->u.hvm.pae
                                : streq(key, "nx")       ? &b->u.hvm.nx
                                                         : &b->u.hvm.hpet;
            libxl_defbool_set(db, flag);
        } else if (streq(key, "videoram")) {
            if ((e = platform_int(v, key, 1, XEN_MAX_VIDEORAM_MIB, &x)))
                return e;
            if (hvm)
                b->video_memkb = (uint64_t)x * 1024;
        } else if (streq(key, "timeoffset")) {
            if ((e = platform_int(v, key, -86400LL * 366 * 100, 86400LL * 366 * 100, &x)))
                return e;
            if (hvm) {
                free(b->u.hvm.timeoffset);
                b->u.hvm.timeoffset = xasprintf("%lld", (long long)x);
            }
        } else if (streq(key, "vga")) {
            if ((e = platform_string(v, key, &s)))
                return e;
            libxl_vga_interface_type kind;
            if (streq(s, "std"))
                kind = LIBXL_VGA_INTERFACE_TYPE_STD;
            else if (streq(s, "cirrus"))
                kind = LIBXL_VGA_INTERFACE_TYPE_CIRRUS;
            else if (streq(s, "none"))
                kind = LIBXL_VGA_INTERFACE_TYPE_NONE;
            else
                return invalid("platform.vga: std, cirrus or none expected");
            if (hvm)
                b->u.hvm.vga.kind = kind;
        } else if (streq(key, "device-model")) {
            /* XCP-ng's names: upstream QEMU is the only device model
             * Debian's Xen has; -uefi boots it with OVMF. */
            if ((e = platform_string(v, key, &s)))
                return e;
            bool uefi = streq(s, "qemu-upstream-uefi");
            if (!uefi && !streq(s, "qemu-upstream-compat") && !streq(s, "qemu-upstream") &&
                !streq(s, "qemu-xen"))
                return invalid("platform.device-model: %s is not available (qemu-upstream-compat, "
                               "qemu-upstream-uefi)",
                               s);
            if (hvm) {
                b->device_model_version = LIBXL_DEVICE_MODEL_VERSION_QEMU_XEN;
                if (uefi)
                    b->u.hvm.bios = LIBXL_BIOS_TYPE_OVMF;
            }
        } else {
            log_debug("platform key %s ignored", key);
        }
    }
    return NULL;
}

/* ---- boot ---- */

/* Splits bootloader_args on blanks into a libxl string list. */
static libxl_string_list split_args(const char *s)
{
    size_t n = 0, cap = 4;
    char **v = xcalloc(cap, sizeof(*v));

    for (const char *p = s; *p;) {
        while (*p && isspace((unsigned char)*p))
            p++;
        if (!*p)
            break;
        const char *start = p;
        while (*p && !isspace((unsigned char)*p))
            p++;
        if (n + 2 > cap)
            v = xrealloc(v, (cap *= 2) * sizeof(*v));
        v[n++] = xstrndup(start, (size_t)(p - start));
    }
    v[n] = NULL;
    return v;
}

/* The HVM boot order: drives a (floppy), c (disk), d (cdrom), n
 * (network), each at most once. */
static bool boot_order_valid(const char *s)
{
    size_t n = strlen(s);

    if (n == 0 || n > 4)
        return false;
    for (size_t i = 0; i < n; i++)
        if (!strchr("acdn", s[i]) || strchr(s + i + 1, s[i]))
            return false;
    return true;
}

static struct dm_error *apply_boot(const struct dm_config *c, libxl_domain_build_info *b)
{
    bool hvm = c->type == DM_TYPE_HVM;

    if (c->bootloader && hvm)
        return invalid("bootloader: an hvm domain boots from its firmware, not a bootloader");
    if (!hvm && !c->kernel && !c->bootloader)
        return invalid("kernel: a %s domain needs a kernel or a bootloader", dm_type_name(c->type));
    if (c->bootloader_args && !c->bootloader)
        return invalid("bootloader_args: given without a bootloader");
    if ((c->ramdisk || c->cmdline) && !c->kernel && !c->bootloader)
        return invalid("%s: given without a kernel", c->ramdisk ? "ramdisk" : "cmdline");
    if (c->kernel)
        b->kernel = xstrdup(c->kernel);
    if (c->ramdisk)
        b->ramdisk = xstrdup(c->ramdisk);
    if (c->cmdline)
        b->cmdline = xstrdup(c->cmdline);
    if (c->bootloader) {
        if (!*c->bootloader)
            return invalid("bootloader: a program name or path expected");
        b->bootloader = xstrdup(c->bootloader);
        if (c->bootloader_args)
            b->bootloader_args = split_args(c->bootloader_args);
    }
    if (c->boot_order && hvm) {
        if (!boot_order_valid(c->boot_order))
            return invalid("boot_order: letters of a, c, d, n, each once, expected");
        b->u.hvm.boot = xstrdup(c->boot_order);
    }
    return NULL;
}

/* ---- disks and nics ---- */

/* Checks that o (element i of array name) has only the members listed in
 * allowed, NULL-terminated. */
static struct dm_error *check_members(json_object *o, const char *name, size_t i,
                                      const char *const *allowed)
{
    if (!json_object_is_type(o, json_type_object))
        return invalid("%s[%zu]: an object expected", name, i);
    json_object_object_foreach(o, key, v)
    {
        (void)v;
        bool known = false;
        for (const char *const *a = allowed; *a && !known; a++)
            known = streq(*a, key);
        if (!known)
            return invalid("%s[%zu].%s: unknown member", name, i, key);
    }
    return NULL;
}

/* Member key of o: *ret is NULL when absent (or null); an error when it is
 * not of type t. */
static struct dm_error *member(json_object *o, const char *name, size_t i, const char *key,
                               json_type t, json_object **ret)
{
    json_object *v = NULL;

    if (json_object_object_get_ex(o, key, &v) && v && !json_object_is_type(v, t))
        return invalid("%s[%zu].%s: %s expected", name, i, key, json_type_to_name(t));
    *ret = v;
    return NULL;
}

void xen_config_disk(const struct dm_disk *dd, libxl_device_disk *d)
{
    bool empty = !*dd->target;

    d->vdev = xstrdup(dd->device);
    d->pdev_path = empty ? NULL : xstrdup(dd->target);
    d->format = empty                         ? LIBXL_DISK_FORMAT_EMPTY
                : dd->format == DM_DISK_QCOW2 ? LIBXL_DISK_FORMAT_QCOW2
                                              : LIBXL_DISK_FORMAT_RAW;
    d->backend = dd->backend == DM_DISK_PHY ? LIBXL_DISK_BACKEND_PHY : LIBXL_DISK_BACKEND_QDISK;
    d->readwrite = dd->readwrite;
    d->is_cdrom = dd->cdrom;
    d->removable = dd->cdrom;
}

static struct dm_error *disk_from_json(json_object *o, size_t i, libxl_device_disk *d)
{
    struct dm_disk dd;
    char label[32];
    struct dm_error *e;

    snprintf(label, sizeof(label), "disks[%zu]", i);
    if ((e = dm_disk_from_json(o, label, &dd)))
        return e;
    xen_config_disk(&dd, d);
    dm_disk_done(&dd);
    return NULL;
}

/* Parses "aa:bb:cc:dd:ee:ff" (any case) into a unicast MAC. */
static bool mac_parse(const char *s, libxl_mac *ret)
{
    unsigned int b[6];
    char tail;

    if (strlen(s) != 17 || sscanf(s, "%2x:%2x:%2x:%2x:%2x:%2x%c", &b[0], &b[1], &b[2], &b[3], &b[4],
                                  &b[5], &tail) != 6)
        return false;
    for (size_t i = 0; i < 6; i++) {
        if (!isxdigit((unsigned char)s[3 * i]) || !isxdigit((unsigned char)s[3 * i + 1]) ||
            (i < 5 && s[3 * i + 2] != ':'))
            return false;
        (*ret)[i] = (uint8_t)b[i];
    }
    return !(b[0] & 1); /* a group address is no interface's */
}

static struct dm_error *nic_from_json(json_object *o, size_t i, libxl_device_nic *n)
{
    static const char *const allowed[] = {"devid", "mac", "bridge", "mtu", "script", NULL};
    json_object *devid, *mac, *bridge, *mtu, *script;
    struct dm_error *e;

    if ((e = check_members(o, "nics", i, allowed)) ||
        (e = member(o, "nics", i, "devid", json_type_int, &devid)) ||
        (e = member(o, "nics", i, "mac", json_type_string, &mac)) ||
        (e = member(o, "nics", i, "bridge", json_type_string, &bridge)) ||
        (e = member(o, "nics", i, "mtu", json_type_int, &mtu)) ||
        (e = member(o, "nics", i, "script", json_type_string, &script)))
        return e;
    int64_t id = devid ? json_object_get_int64(devid) : (int64_t)i;
    if (id < 0 || id > 1023)
        return invalid("nics[%zu].devid: %lld is not in 0..1023", i, (long long)id);
    if (mac && !mac_parse(json_object_get_string(mac), &n->mac))
        return invalid("nics[%zu].mac: a unicast MAC aa:bb:cc:dd:ee:ff expected", i);
    if (bridge && !*json_object_get_string(bridge))
        return invalid("nics[%zu].bridge: a bridge name expected", i);
    if (mtu && (json_object_get_int64(mtu) < 68 || json_object_get_int64(mtu) > 65535))
        return invalid("nics[%zu].mtu: %lld is not in 68..65535", i,
                       (long long)json_object_get_int64(mtu));
    if (script && !*json_object_get_string(script))
        return invalid("nics[%zu].script: a script name expected", i);
    n->devid = (libxl_devid)id;
    if (bridge)
        n->bridge = xstrdup(json_object_get_string(bridge));
    if (mtu)
        n->mtu = (int)json_object_get_int64(mtu);
    n->script = xstrdup(script ? json_object_get_string(script) : XEN_DEFAULT_VIF_SCRIPT);
    return NULL;
}

struct dm_error *xen_config_nic(json_object *o, libxl_device_nic *ret)
{
    /* o's own devid is used: the index only stands in when it has none */
    return nic_from_json(o, 0, ret);
}

static struct dm_error *apply_devices(const struct dm_config *c, libxl_domain_config *d)
{
    struct dm_error *e;
    size_t nd = c->disks ? json_object_array_length(c->disks) : 0;
    size_t nn = c->nics ? json_object_array_length(c->nics) : 0;

    if (nd > 0) {
        d->disks = xcalloc(nd, sizeof(*d->disks));
        for (size_t i = 0; i < nd; i++) {
            libxl_device_disk_init(&d->disks[i]);
            d->num_disks = (int)i + 1;
            if ((e = disk_from_json(json_object_array_get_idx(c->disks, i), i, &d->disks[i])))
                return e;
            for (size_t j = 0; j < i; j++)
                if (streq(d->disks[j].vdev, d->disks[i].vdev))
                    return invalid("disks[%zu].device: %s is disks[%zu]'s too", i, d->disks[i].vdev,
                                   j);
        }
    }
    if (nn > 0) {
        d->nics = xcalloc(nn, sizeof(*d->nics));
        for (size_t i = 0; i < nn; i++) {
            libxl_device_nic_init(&d->nics[i]);
            d->num_nics = (int)i + 1;
            if ((e = nic_from_json(json_object_array_get_idx(c->nics, i), i, &d->nics[i])))
                return e;
            for (size_t j = 0; j < i; j++)
                if (d->nics[j].devid == d->nics[i].devid)
                    return invalid("nics[%zu].devid: %d is nics[%zu]'s too", i, d->nics[i].devid,
                                   j);
        }
    }
    return NULL;
}

/* ---- the device model ---- */

bool xen_config_needs_device_model(const libxl_domain_config *d)
{
    if (d->c_info.type == LIBXL_DOMAIN_TYPE_HVM)
        return true;
    for (int i = 0; i < d->num_disks; i++)
        if (d->disks[i].backend == LIBXL_DISK_BACKEND_QDISK)
            return true;
    return false;
}

void xen_config_device_model(libxl_domain_config *d, const char *dm, bool pv_always)
{
    libxl_domain_build_info *b = &d->b_info;

    b->device_model_version = LIBXL_DEVICE_MODEL_VERSION_QEMU_XEN;
    free(b->device_model);
    b->device_model = xstrdup(dm);
    if (!pv_always || d->c_info.type == LIBXL_DOMAIN_TYPE_HVM || d->num_channels > 0)
        return;
    /* Of the devices a PV guest can have, a channel (a secondary console,
     * which QEMU serves on a pty) is the one whose presence alone makes
     * libxl 4.17 start QEMU (libxl__need_xenpv_qemu): a keyboard would
     * not. */
    d->channels = xcalloc(1, sizeof(*d->channels));
    libxl_device_channel_init(&d->channels[0]);
    d->channels[0].devid = 0;
    d->channels[0].name = xstrdup(XEN_DM_CHANNEL);
    libxl_device_channel_init_connection(&d->channels[0], LIBXL_CHANNEL_CONNECTION_PTY);
    d->num_channels = 1;
}

/* ---- the whole ---- */

static libxl_domain_type libxl_type(enum dm_type t)
{
    switch (t) {
    case DM_TYPE_PV:
        return LIBXL_DOMAIN_TYPE_PV;
    case DM_TYPE_PVH:
        return LIBXL_DOMAIN_TYPE_PVH;
    case DM_TYPE_HVM:
    default:
        return LIBXL_DOMAIN_TYPE_HVM;
    }
}

struct dm_error *xen_config_build(const char *uuid, const struct dm_config *cfg,
                                  libxl_domain_config *ret)
{
    libxl_domain_config d;
    libxl_domain_create_info *c = &d.c_info;
    libxl_domain_build_info *b = &d.b_info;
    struct dm_error *e;

    if (cfg->type >= DM_TYPE__COUNT || cfg->vcpus < 1 || cfg->vcpus > cfg->vcpus_max ||
        cfg->memory_target < 1 || cfg->memory_target > cfg->memory_max)
        return invalid("the configuration is not one dm_config_from_json accepts");
    if (cfg->memory_target < 1024)
        return invalid("memory_target: at least 1024 bytes");

    libxl_domain_config_init(&d);
    c->type = libxl_type(cfg->type);
    if (libxl_uuid_from_string(&c->uuid, uuid) != 0) {
        libxl_domain_config_dispose(&d);
        return invalid("uuid: a UUID is required");
    }
    c->name = xstrdup(cfg->name);
    libxl_domain_build_info_init_type(b, c->type);

    b->max_vcpus = cfg->vcpus_max;
    /* libxl frees the bitmap's map with free(): it is ours to allocate. */
    b->avail_vcpus.size = (uint32_t)((cfg->vcpus_max + 7) / 8);
    b->avail_vcpus.map = xcalloc(b->avail_vcpus.size, 1);
    for (int i = 0; i < cfg->vcpus; i++)
        libxl_bitmap_set(&b->avail_vcpus, i);
    /* libxl counts KiB: the maximum rounds up, the target down. */
    b->max_memkb = (uint64_t)(cfg->memory_max + 1023) / 1024;
    b->target_memkb = (uint64_t)cfg->memory_target / 1024;

    /* domaind leaves a domain that stopped by itself for xapi to decide
     * about (actions_after_*); libxl acts on none of these itself. */
    d.on_poweroff = d.on_reboot = d.on_watchdog = d.on_crash = d.on_soft_reset =
        LIBXL_ACTION_ON_SHUTDOWN_PRESERVE;

    if ((e = apply_boot(cfg, b)) ||
        (e = apply_platform(cfg->platform, cfg->type == DM_TYPE_HVM, b)) ||
        (e = apply_devices(cfg, &d))) {
        libxl_domain_config_dispose(&d);
        return e;
    }
    *ret = d;
    return NULL;
}
