/* The driver table (see drivers.h). Names and descriptions are those of
 * XCP's drivers (FileSR, EXTSR, NFSSR, ISOSR), because clients show and
 * match them, even though the images here are qcow2; configuration keys are
 * XCP's, and vendor and copyright are ours. Capabilities list only what storaged
 * really does for that type. */
#include "storaged/drivers.h"

#include <stddef.h>

#include "lib/util.h"

#define VENDOR "Xenia"
#define COPYRIGHT "(C) 2026 the Xenia authors"
#define DRIVER_VERSION "1.0"
#define API_VERSION "1.0"

static const char *const file_caps[] = {
    "SR_PROBE",      "SR_UPDATE",    "VDI_CREATE",     "VDI_DELETE",        "VDI_ATTACH",
    "VDI_DETACH",    "VDI_UPDATE",   "VDI_CLONE",      "VDI_SNAPSHOT",      "VDI_RESIZE",
    "VDI_INTRODUCE", "VDI_ACTIVATE", "VDI_DEACTIVATE", "THIN_PROVISIONING", NULL};
/* file, ext and nfs besides revert, which lvm lacks (storaged/revert.h). */
static const char *const qcow2_caps[] = {
    "SR_PROBE",       "SR_UPDATE",         "VDI_CREATE",    "VDI_DELETE",
    "VDI_ATTACH",     "VDI_DETACH",        "VDI_UPDATE",    "VDI_CLONE",
    "VDI_SNAPSHOT",   "VDI_RESIZE",        "VDI_INTRODUCE", "VDI_ACTIVATE",
    "VDI_DEACTIVATE", "THIN_PROVISIONING", "VDI_REVERT",    NULL};
static const char *const iso_caps[] = {"VDI_ATTACH", "VDI_DETACH", "SR_SCAN",
                                       "SR_ATTACH",  "SR_DETACH",  NULL};

static const char *const file_conf[] = {"location", "local directory path (required)", NULL};
static const char *const ext_conf[] = {"device", "local device path (required) (e.g. /dev/sda3)",
                                       NULL};
static const char *const iso_conf[] = {"location",
                                       "path to mount (required) (e.g. server:/path or a local "
                                       "directory)",
                                       "nfsversion", "NFS protocol version (3, 4, 4.0, 4.1)", NULL};
static const char *const lvm_conf[] = {"device", "local device path (required) (e.g. /dev/sda3)",
                                       NULL};
static const char *const nfs_conf[] = {"server",     "hostname or IP address (required)",
                                       "serverpath", "path on remote server (required)",
                                       "nfsversion", "NFS protocol version (3, 4, 4.0, 4.1)",
                                       NULL};

static const struct sd_driver drivers[] = {
    {"file", "Local Path VHD",
     "SR plugin which represents disks as VHD files stored on a local path", qcow2_caps, file_conf,
     "user", true},
    {"ext", "Local EXT3 VHD",
     "SR plugin which represents disks as VHD files stored on a local EXT3 filesystem, created "
     "inside an LVM volume",
     qcow2_caps, ext_conf, "user", true},
    {"iso", "ISO", "Handles CD images stored as files in iso format", iso_caps, iso_conf, "iso",
     true},
    {"lvm", "LVM", "SR plugin which represents disks as thin LVs on a local device", file_caps,
     lvm_conf, "user", true},
    {"nfs", "NFS VHD", "SR plugin which stores disks as VHD files on a remote NFS filesystem",
     qcow2_caps, nfs_conf, "user", true},
};

const struct sd_driver *sd_driver_find(const char *type)
{
    for (size_t i = 0; i < sizeof(drivers) / sizeof(drivers[0]); i++)
        if (streq(drivers[i].type, type))
            return &drivers[i];
    return NULL;
}

bool sd_driver_can(const struct sd_driver *d, const char *cap)
{
    for (const char *const *c = d->capabilities; *c; c++)
        if (streq(*c, cap))
            return true;
    return false;
}

json_object *sd_drivers_to_json(void)
{
    json_object *a = json_object_new_array();

    for (size_t i = 0; i < sizeof(drivers) / sizeof(drivers[0]); i++) {
        const struct sd_driver *d = &drivers[i];
        if (!d->implemented)
            continue;
        json_object *o = json_object_new_object();
        json_object *caps = json_object_new_array();
        json_object *features = json_object_new_object();
        json_object *conf = json_object_new_object();
        for (const char *const *c = d->capabilities; *c; c++) {
            json_object_array_add(caps, json_object_new_string(*c));
            json_object_object_add(features, *c, json_object_new_int64(1));
        }
        for (const char *const *c = d->configuration; *c; c += 2)
            json_object_object_add(conf, c[0], json_object_new_string(c[1]));
        json_object_object_add(o, "type", json_object_new_string(d->type));
        json_object_object_add(o, "name_label", json_object_new_string(d->name_label));
        json_object_object_add(o, "name_description", json_object_new_string(d->name_description));
        json_object_object_add(o, "vendor", json_object_new_string(VENDOR));
        json_object_object_add(o, "copyright", json_object_new_string(COPYRIGHT));
        json_object_object_add(o, "version", json_object_new_string(DRIVER_VERSION));
        json_object_object_add(o, "required_api_version", json_object_new_string(API_VERSION));
        json_object_object_add(o, "capabilities", caps);
        json_object_object_add(o, "features", features);
        json_object_object_add(o, "configuration", conf);
        /* Every type is served by this one daemon. */
        json_object_object_add(o, "driver_filename", json_object_new_string("/usr/sbin/storaged"));
        json_object_object_add(o, "required_cluster_stack", json_object_new_array());
        json_object *formats = json_object_new_array();
        json_object_array_add(
            formats, json_object_new_string(
                         streq(d->type, "iso") || streq(d->type, "lvm") ? "raw" : "qcow2"));
        json_object_object_add(o, "supported_image_formats", formats);
        json_object_array_add(a, o);
    }
    return a;
}
