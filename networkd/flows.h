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

/* One bridge's table to install: bridge and text are the caller's;
 * result (0 or a negative errno) and why (new string on failure) are set
 * by flows_apply_all. */
struct flows_job {
    const char *bridge;
    const char *text;
    int result;
    char *why;
};

/* Makes each job's bridge table exactly its text with ovs-ofctl
 * replace-flows (which changes only what differs, here in one OpenFlow
 * bundle), through the bridge's management socket in ovs_rundir
 * (<ovs_rundir>/<bridge>.mgmt), at most parallel of them at a time.
 * tmp_dir holds the flow files meanwhile. */
void flows_apply_all(const char *ofctl, const char *ovs_rundir, const char *tmp_dir,
                     struct flows_job *jobs, size_t n, size_t parallel);
