/* The network interfaces (nics) of a domain's configuration as both
 * backends keep them for hot-plug (domain/nic_attach, domain/nic_detach;
 * hypervisor/README.md): one nics element checked the same way whatever
 * the backend, and a nic found by its devid. The xen backend turns an
 * element into libxl's form itself (xen-config.c). */
#pragma once

#include <json-c/json.h>

#include "hypervisor/backend.h"

/* The largest devid, as libxl and the guests' frontends take them. */
#define DM_NIC_MAX_DEVID 1023

/* Checks the nic object o for domain/nic_attach: only the members devid
 * (required, 0..DM_NIC_MAX_DEVID), mac (a unicast aa:bb:cc:dd:ee:ff),
 * bridge (a Linux interface name), mtu (68..65535) and script (a name),
 * each of its type. label names o in errors ("nic"). Returns NULL and
 * writes *ret_devid, or a DM_ERR_INVALID_PARAMS error naming the member.
 * Does not block. */
struct dm_error *dm_nic_check(json_object *o, const char *label, int *ret_devid);

/* The element of nics (an array, or NULL) whose devid is devid (an
 * element without one has its index, as in domain/create), or NULL;
 * borrowed. */
json_object *dm_nics_find(json_object *nics, int devid);
