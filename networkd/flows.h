/* VIF locking (locking_mode locked and disabled) as OpenFlow rules on the
 * VIF's bridge, the rules XCP's setup-vif-rules installs with ovs-ofctl: a
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

/* Makes each job's bridge table exactly its text, speaking OpenFlow 1.4
 * to ovs-vswitchd on the bridge's management socket
 * (<ovs_rundir>/<bridge>.mgmt): every bridge at once, each table
 * replaced in one atomic bundle. Blocks until every job is done or
 * timeout_ms has passed (the jobs left fail with -ETIMEDOUT). */
void flows_apply_all(const char *ovs_rundir, struct flows_job *jobs, size_t n, int timeout_ms);
