/* Which interfaces' addresses networkd manages. As XCP's networkd does,
 * networkd touches the addresses of a bridge or VLAN only while xapi
 * gives it an IP configuration (static, DHCP, IPv6 autoconf); one with
 * none is left alone, so that dom0 may hold an address added by hand on
 * a private network. When a configuration goes back to none, the
 * addresses networkd set are flushed once, as XCP flushes then. The set
 * is kept in a file, written before networkd sets an address, so that a
 * restart (even after kill -9) still knows what it must flush and what
 * it must leave. Used by the reconciler thread alone. */
#pragma once

#include <json-c/json.h>
#include <stdbool.h>

struct addr_owner {
    char *path;
    json_object *map; /* interface -> {"4": true, "6": true} */
};

/* Reads path (a missing file is an empty set; an unreadable one too,
 * with *ret_why set, a new string, for the caller to log). */
void addr_owner_load(struct addr_owner *o, const char *path, char **ret_why);
void addr_owner_done(struct addr_owner *o);

/* Whether networkd manages the IPv<family> (4 or 6) addresses of iface. */
bool addr_owner_has(const struct addr_owner *o, const char *iface, int family);

/* Records that it does (or no longer does), writing the file when that
 * changes. Returns 0 or a negative errno (the file not written; the set
 * in memory is left as it was). */
int addr_owner_set(struct addr_owner *o, const char *iface, int family, bool owned);

/* Forgets interfaces that keep(iface, userdata) says are gone. */
int addr_owner_prune(struct addr_owner *o, bool (*keep)(const char *iface, void *userdata),
                     void *userdata);
