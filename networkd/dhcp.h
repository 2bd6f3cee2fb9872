/* DHCP clients for interfaces in DHCP mode: one dhclient per interface and
 * address family, with its pid file under the run folder and its lease
 * database under the state folder, running networkd's dhclient-script,
 * which writes the lease's router and DNS servers to a key=value file
 * that networkd reads (dhcp_lease). dhclients outlive networkd: a
 * restarted networkd adopts them through their pid files. */
#pragma once

#include <json-c/json.h>
#include <stdbool.h>

struct dhcp_paths {
    const char *run_dir;   /* pid and lease-fact files */
    const char *state_dir; /* dhclient's lease databases */
    const char *script;    /* networkd's dhclient-script */
    const char *dhclient;  /* the dhclient binary */
};

/* Starts dhclient for iface (family 4 or 6) unless one runs. Returns 0 or
 * a negative errno. Blocks until dhclient has gone to the background (it
 * is started with -nw). */
int dhcp_ensure(const struct dhcp_paths *p, const char *iface, int family);
/* Stops the dhclient of iface and family if there is one (SIGTERM, then
 * SIGKILL after 2 s) and removes its files. */
void dhcp_stop(const struct dhcp_paths *p, const char *iface, int family);
/* Stops every dhclient of the run folder whose interface is not in keep
 * with that family (keep: iface -> {"4": true, "6": true}). */
void dhcp_stop_others(const struct dhcp_paths *p, json_object *keep);
/* The pid of the running dhclient of iface, or 0. */
int dhcp_pid(const struct dhcp_paths *p, const char *iface, int family);
/* The facts of the current lease ({address, router, dns: []}, new), or
 * NULL when there is none yet. */
json_object *dhcp_lease(const struct dhcp_paths *p, const char *iface, int family);
