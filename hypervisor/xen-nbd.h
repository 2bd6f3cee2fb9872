/* File disks (raw files, qcow2 VDIs) hot-plugged into a PV or PVH domain
 * that has no device model: libxl 4.17 serves file disks with QEMU's
 * qdisk backend and refuses to hot-plug one into a domain built without
 * QEMU, so such a disk is served, as XCP-ng's tapdisk would, by a block
 * device: qemu-nbd connects the file to a free /dev/nbdN of the kernel's
 * NBD client, which blkback (libxl's phy backend) then gives the guest.
 *
 * Each qemu-nbd carries its owner in its command line (a description
 * naming the domid), so that nothing needs to be remembered across
 * domaind's restarts: xen_nbd_reclaim finds the connected devices from
 * /sys/block/nbdN/pid, and disconnects those of domaind's whose domain no
 * longer has a vbd backend on them (xenstore's `params`): a domain
 * destroyed, a crash between connect and attach, a failed attach. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "hypervisor/backend.h"

/* The qemu-nbd description that marks a device as domaind's, followed by
 * the domid. */
#define XEN_NBD_TAG "xenia-domaind:domid="

struct xen_nbd;

/* Opens xenstore. Returns 0, or a negative errno after logging why. */
int xen_nbd_new(struct xen_nbd **ret);
void xen_nbd_free(struct xen_nbd *n);

/* Whether the domain domid has a device model running (libxl's record of
 * its pid in xenstore). */
bool xen_nbd_domain_has_dm(struct xen_nbd *n, uint32_t domid);

/* Whether the disk d, hot-plugged into a domain of type t that has a
 * device model (has_dm) or not, is to be served through NBD: a file
 * meant for qdisk, in a PV or PVH domain without QEMU. */
bool xen_nbd_wanted(enum dm_type t, const struct dm_disk *d, bool has_dm);

/* Connects d's target (its format; read-only unless d->readwrite) to a
 * free NBD device for domid, loading the nbd module when needed. Returns
 * NULL and the device's path (*ret_dev, the caller's to free), which stays
 * out of xen_nbd_reclaim's reach until xen_nbd_settled; or a
 * BACKEND_FAILURE error saying why. */
struct dm_error *xen_nbd_connect(struct xen_nbd *n, uint32_t domid, const struct dm_disk *d,
                                 char **ret_dev);
/* The attach of dev ended (attached or not): reclaim may judge it again. */
void xen_nbd_settled(struct xen_nbd *n, const char *dev);
/* Disconnects dev if it is an NBD device domaind connected; anything else
 * is left alone. Waits (bounded) for its qemu-nbd to let go. */
void xen_nbd_disconnect(struct xen_nbd *n, const char *dev);
/* Disconnects every NBD device of domaind's that no vbd backend of its
 * domain uses, but those whose attach is under way. */
void xen_nbd_reclaim(struct xen_nbd *n);

/* Whether cmdline (a /proc/PID/cmdline: len bytes of NUL-terminated
 * arguments) is a qemu-nbd that domaind started on the device dev; then
 * *ret_domid is the domain it was started for. */
bool xen_nbd_owner_parse(const char *cmdline, size_t len, const char *dev, uint32_t *ret_domid);
