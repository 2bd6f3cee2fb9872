/* The checks of tunnel/set and nic/set (see tunnel.h). A tunnel is what
 * XCP's tunnel access PIF stands for on the wire: one OVS port of type gre
 * or vxlan on the tunnel network's bridge, towards the other end. NIC
 * settings are kept apart from ports: a NIC keeps them whichever bridge or
 * bond it is in. */
#include "networkd/tunnel.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/cleanup.h"
#include "lib/util.h"
#include "networkd/jsonutil.h"

/* An unsigned decimal string no greater than max; -1 otherwise. */
static long long parse_uint(const char *s, long long max)
{
    if (!s || !*s || strlen(s) > 12 || strspn(s, "0123456789") != strlen(s))
        return -1;
    long long v = strtoll(s, NULL, 10);
    return v <= max ? v : -1;
}

static bool ip_valid(const char *s)
{
    unsigned char buf[16];
    return s && (inet_pton(AF_INET, s, buf) == 1 || inet_pton(AF_INET6, s, buf) == 1);
}

/* A string param that must be there (type-checked by the method table). */
static const char *required(json_object *p, const char *key)
{
    return ju_str(p, key);
}

struct jsonrpc_error *cfg_tunnel_set(json_object *doc, json_object *p, const struct cfg_check *c)
{
    const char *name = required(p, "name"), *bridge = required(p, "bridge");
    const char *proto = ju_str(p, "protocol"), *remote = ju_str(p, "remote_ip");
    const char *key = ju_str(p, "key"), *port = ju_str(p, "dst_port");

    (void)c;
    if (!name || !bridge)
        return jsonrpc_error_new(JSONRPC_INVALID_PARAMS, "name and bridge are required");
    if (!cfg_ifname_valid(name))
        return jsonrpc_app_error("INVALID_NAME", "name", name);
    if (!cfg_ifname_valid(bridge))
        return jsonrpc_app_error("INVALID_NAME", "bridge", bridge);
    const char *owner = cfg_name_owner(doc, name);
    if (owner && !streq(owner, "tunnels"))
        return jsonrpc_app_error("NAME_IN_USE", name, owner);
    if (!cfg_entry(doc, "bridges", bridge))
        return jsonrpc_app_error("NO_SUCH_BRIDGE", bridge);
    if (!proto)
        proto = "gre";
    if (!streq(proto, "gre") && !streq(proto, "vxlan"))
        return jsonrpc_app_error("INVALID_VALUE", "protocol", proto);
    if (!ip_valid(remote))
        return jsonrpc_app_error("INVALID_VALUE", "remote_ip", remote ? remote : "");
    /* A GRE key is 32 bits, a VXLAN network identifier 24. */
    if (key && parse_uint(key, streq(proto, "gre") ? 0xffffffffLL : 0xffffffLL) < 0)
        return jsonrpc_app_error("INVALID_VALUE", "key", key);
    if (port && (streq(proto, "gre") || parse_uint(port, 65535) < 1))
        return jsonrpc_app_error("INVALID_VALUE", "dst_port", port);
    /* One tunnel per bridge, as one access PIF per tunnel network. */
    json_object_object_foreach(ju_obj(cfg_section(doc, "tunnels")), other, t)
    {
        const char *ob = ju_str(t, "bridge");
        if (!streq(other, name) && ob && streq(ob, bridge))
            return jsonrpc_app_error("NAME_IN_USE", bridge, other);
    }
    json_object *o = json_object_new_object();
    json_object_object_add(o, "bridge", json_object_new_string(bridge));
    json_object_object_add(o, "protocol", json_object_new_string(proto));
    json_object_object_add(o, "remote_ip", json_object_new_string(remote));
    if (key)
        json_object_object_add(o, "key", json_object_new_string(key));
    if (port)
        json_object_object_add(o, "dst_port", json_object_new_string(port));
    json_object_object_add(cfg_section(doc, "tunnels"), name, o);
    return NULL;
}

struct jsonrpc_error *cfg_tunnel_remove(json_object *doc, json_object *p)
{
    return cfg_entry_remove(doc, p, "name", "tunnels");
}

json_object *tunnel_ovs_options(json_object *tunnel)
{
    static const char *const keys[] = {"remote_ip", "key", "dst_port"};
    json_object *o = json_object_new_object();
    for (size_t i = 0; i < ELEMENTSOF(keys); i++) {
        const char *v = ju_str(tunnel, keys[i]);
        if (v)
            json_object_object_add(o, keys[i], json_object_new_string(v));
    }
    return o;
}

struct jsonrpc_error *cfg_nic_set(json_object *doc, json_object *p, const struct cfg_check *c)
{
    const char *name = ju_str(p, "name"), *gro = ju_str(p, "gro");

    (void)c;
    if (!name)
        return jsonrpc_error_new(JSONRPC_INVALID_PARAMS, "name: a string is required");
    if (!cfg_ifname_valid(name))
        return jsonrpc_app_error("INVALID_NAME", "name", name);
    if (gro && !streq(gro, "on") && !streq(gro, "off"))
        return jsonrpc_app_error("INVALID_VALUE", "gro", gro);
    json_object *o = json_object_new_object();
    if (gro)
        json_object_object_add(o, "gro", json_object_new_string(gro));
    json_object_object_add(cfg_section(doc, "nics"), name, o);
    return NULL;
}

struct jsonrpc_error *cfg_nic_remove(json_object *doc, json_object *p)
{
    return cfg_entry_remove(doc, p, "name", "nics");
}
