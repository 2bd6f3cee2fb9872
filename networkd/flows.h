/* VIF locking (locking_mode locked and disabled) as OpenFlow rules on the
 * VIF's bridge, as XCP's setup-vif-rules installs them with ovs-ofctl: a
 * locked VIF may send from its MAC, DHCP requests, ARP and IP from its
 * ipv4_allowed addresses, neighbour discovery and IP from its
 * ipv6_allowed ones, and nothing else; a disabled one sends nothing.
 * Everything else on the bridge is the NORMAL (learning switch) action.
 * A bridge whose VIFs are all unlocked has no table of networkd's. */
#pragma once

#include <json-c/json.h>

/* The whole flow table of bridge (a real bridge of doc; VIFs of its VLANs
 * count) in ovs-ofctl's flow-file syntax, ports by name, as a new string;
 * NULL when no VIF on it is locked or disabled. */
char *flows_for_bridge(json_object *doc, const char *bridge);

/* Makes bridge's table exactly text (ovs-ofctl replace-flows, which
 * changes only what differs), through its management socket in
 * ovs_rundir (<ovs_rundir>/<bridge>.mgmt). tmp_dir holds the flow file
 * meanwhile. Returns 0, or a negative errno and *ret_why (caller frees). */
int flows_apply(const char *ofctl, const char *ovs_rundir, const char *tmp_dir, const char *bridge,
                const char *text, char **ret_why);
