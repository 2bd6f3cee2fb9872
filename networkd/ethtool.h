/* NIC offload settings through the ethtool ioctl (SIOCETHTOOL), as XCP's
 * networkd applies PIF.properties (only "gro" today). */
#pragma once

#include <json-c/json.h>
#include <stdbool.h>

#include "lib/strbuf.h"

/* Reads whether generic receive offload is on for ifname: 0 and *ret_on,
 * or a negative errno (-ENODEV: no such link; -EOPNOTSUPP). Does not
 * block. */
int ethtool_get_gro(const char *ifname, bool *ret_on);
/* Turns generic receive offload on or off. Returns 0 or a negative errno. */
int ethtool_set_gro(const char *ifname, bool on);

/* Applies the "nics" section of doc to the NICs present (a NIC that is
 * not there is skipped: it is applied when it appears, on a later pass),
 * changing only what differs; failures are appended to errs. */
void ethtool_converge(json_object *doc, struct strbuf *errs);
