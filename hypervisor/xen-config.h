/* The translation of a domain's configuration (domain/create's parameters,
 * struct dm_config) into libxl's (libxl_domain_config), for the xen
 * backend: the guest type and how it boots (kernel, ramdisk and command
 * line, a bootloader such as pygrub, or the HVM boot order), memory and
 * vCPUs, the platform keys, and the disks and nics arrays whose JSON shape
 * hypervisor/README.md defines. Pure functions: no libxl context and no
 * hypervisor are needed, so the unit tests check the result through
 * libxl's JSON form. */
#pragma once

#include <libxl.h>

#include "hypervisor/backend.h"

/* The hotplug script of a nic when its JSON names none: Xenia's bridges
 * are Open vSwitch bridges (networkd). */
#define XEN_DEFAULT_VIF_SCRIPT "vif-openvswitch"

/* Fills *ret (which it initialises: the caller disposes of it with
 * libxl_domain_config_dispose on success) with the configuration that
 * builds cfg as domain uuid. Returns NULL, or a DM_ERR_INVALID_PARAMS
 * error naming the parameter that cannot be built (and *ret untouched). */
struct dm_error *xen_config_build(const char *uuid, const struct dm_config *cfg,
                                  libxl_domain_config *ret);
/* Whether the domain d needs a device model to be built: an HVM guest
 * (its emulated machine), or a disk served by QEMU's qdisk backend. */
bool xen_config_needs_device_model(const libxl_domain_config *d);
/* The name of the channel (a secondary PV console, served by QEMU) that
 * gives a PV guest its QEMU. */
#define XEN_DM_CHANNEL "org.xenia.device-model"

/* Makes d's device model upstream QEMU at path dm (for every type: libxl
 * would fall back to the traditional QEMU, which Debian lacks, when its
 * default is missing). With pv_always, a PV or PVH guest gets its QEMU
 * (xenpv) even without a file disk, through a channel QEMU serves: libxl
 * starts a PV guest's QEMU only when building the domain, and refuses to
 * hot-plug a qdisk disk into a domain that has none. */
void xen_config_device_model(libxl_domain_config *d, const char *dm, bool pv_always);
/* Fills the initialised *ret with the disk d (checked by
 * dm_disk_from_json), for libxl's hot-plug calls. */
void xen_config_disk(const struct dm_disk *d, libxl_device_disk *ret);
/* Fills the initialised *ret with the nic o (a nics element with its
 * devid, checked by dm_nic_check), for libxl's hot-plug calls; the script
 * defaults to XEN_DEFAULT_VIF_SCRIPT. Returns NULL, or a
 * DM_ERR_INVALID_PARAMS error (*ret then disposed of by the caller). */
struct dm_error *xen_config_nic(json_object *o, libxl_device_nic *ret);
