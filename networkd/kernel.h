/* The kernel half of networkd: links, addresses and default routes through
 * netlink (libnl-route-3), ethtool-style facts from sysfs, and veth pairs
 * for stand-in VIFs. One struct kernel is one netlink socket: not
 * thread-safe, so each thread opens its own. Every call blocks only for a
 * netlink round trip. A handle keeps the links, addresses and routes it
 * read until it changes one of them itself: open one per pass, and call
 * kernel_forget when something else (ovs-vswitchd) may have changed them
 * meanwhile. */
#pragma once

#include <json-c/json.h>
#include <stdbool.h>

struct kernel;

/* Opens a netlink socket in the calling thread's network namespace.
 * Returns 0 and a new handle in *ret (free with kernel_free), or a
 * negative errno. */
int kernel_open(struct kernel **ret);
void kernel_free(struct kernel *k);
/* Drops what the handle read: the next call reads the kernel again. */
void kernel_forget(struct kernel *k);

bool kernel_link_exists(struct kernel *k, const char *name);

/* The links that look like NICs (a device in sysfs, or a veth) as a new
 * array of {name, mac, carrier, mtu, speed (Mb/s, -1 unknown), duplex
 * ("full"|"half"|"unknown"), driver, pci, vendor_id, device_id, kind}.
 * Returns 0 or a negative errno. */
int kernel_nics(struct kernel *k, json_object **ret);

/* Every link as a new array of {name, ifindex, up, carrier, mtu, mac,
 * kind, addresses: ["a/len"...]}, and the default routes as
 * {ipv4: {interface, gateway} | null, ipv6: ...}. */
int kernel_links(struct kernel *k, json_object **ret_links, json_object **ret_routes);

/* Brings name up, and sets its MTU when mtu > 0. -ENODEV if absent. */
int kernel_link_up(struct kernel *k, const char *name, int mtu);

/* Takes name down; 0 if it is not there. */
int kernel_link_down(struct kernel *k, const char *name);

/* Makes the global addresses of family af (AF_INET or AF_INET6) on name
 * exactly want (an array of "address/prefix" strings; NULL: none).
 * IPv6 link-local addresses are kept. */
int kernel_addrs_sync(struct kernel *k, const char *name, int af, json_object *want);

/* Makes the main table's default route of family af go through gateway on
 * name; with gateway NULL removes default routes through name. */
int kernel_default_route(struct kernel *k, const char *name, int af, const char *gateway);

/* Turns IPv6 router advertisements and autoconfiguration on name on or
 * off (sysctl under /proc/sys/net/ipv6/conf). */
int kernel_ipv6_autoconf(const char *name, bool on);

/* Makes a veth pair name <-> peer, the peer with MAC peer_mac and, when
 * netns is not NULL, moved into that named namespace (/run/netns/NAME);
 * both ends get mtu when > 0. Returns 0, -EEXIST if name exists, or a
 * negative errno. */
int kernel_veth_create(struct kernel *k, const char *name, const char *peer, const char *peer_mac,
                       const char *netns, int mtu);
/* Deletes link name; 0 if it is not there. */
int kernel_link_delete(struct kernel *k, const char *name);
