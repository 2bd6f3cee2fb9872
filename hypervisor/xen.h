/* The xen backend of domaind: Xen's domains through libxl (Xen 4.17), in
 * dom0. It keeps nothing of its own beyond what Xen holds: each domain's
 * domaind configuration is stored with libxl's per-domain userdata (which
 * Xen's toolstack removes with the domain), and what it remembers in memory
 * (the generation of each domain's last change, the destroyed domains for
 * events/watch) is rebuilt from Xen at start. See hypervisor/README.md. */
#pragma once

#include "hypervisor/backend.h"

/* The userdata id under which libxl keeps each domain's configuration. */
#define XEN_USERDATA_ID "xenia-domaind"

/* Upstream QEMU built for Xen, where Debian 12's qemu-system-xen installs
 * it and where Debian's libxl 4.17 looks for its qemu-xen device model:
 * it serves file disks (qdisk) and emulates HVM guests' devices. */
#define XEN_DEFAULT_DEVICE_MODEL "/usr/libexec/xen-qemu-system-i386"

struct xen_options {
    /* The device model (QEMU) of every domain; NULL: the default above. */
    const char *device_model;
    /* Every PV and PVH guest gets QEMU (--pv-device-model always), not
     * only those with a file disk at build. */
    bool pv_device_model_always;
};

/* Opens libxl and xenstore and reads the domains Xen has. Returns 0 and
 * the backend, or a negative errno after logging why (on a machine that
 * is not Xen's dom0: that libxl cannot reach the hypervisor). o is
 * borrowed for the call only. */
int xen_backend_new(const struct xen_options *o, struct backend **ret);
