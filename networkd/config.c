/* networkd's desired configuration (see config.h): the checks behind each
 * method, the document they build, and its file. Errors name the XenAPI
 * error xapi will raise where one fits (VLAN_TAG_INVALID,
 * PIF_CONFIGURATION_ERROR...), else an agent error of networkd's own. */
#include "networkd/config.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "lib/cleanup.h"
#include "lib/file.h"
#include "lib/strbuf.h"
#include "lib/util.h"
#include "networkd/jsonutil.h"
#include "networkd/tunnel.h"

#define CFG_FORMAT "xenia-networkd"
#define CFG_VERSION 1

static const char *const sections[] = {"bridges", "vlans", "ports",   "bonds",
                                       "ips",     "vifs",  "tunnels", "nics"};

json_object *cfg_new(void)
{
    json_object *doc = json_object_new_object();
    json_object_object_add(doc, "format", json_object_new_string(CFG_FORMAT));
    json_object_object_add(doc, "version", json_object_new_int(CFG_VERSION));
    for (size_t i = 0; i < ELEMENTSOF(sections); i++)
        json_object_object_add(doc, sections[i], json_object_new_object());
    return doc;
}

json_object *cfg_section(json_object *doc, const char *section)
{
    json_object *s = NULL;
    json_object_object_get_ex(doc, section, &s);
    return s;
}

json_object *cfg_entry(json_object *doc, const char *section, const char *name)
{
    json_object *e = NULL;
    json_object_object_get_ex(cfg_section(doc, section), name, &e);
    return e;
}

const char *cfg_name_owner(json_object *doc, const char *name)
{
    static const char *const owners[] = {"bridges", "vlans", "ports", "bonds", "vifs", "tunnels"};
    for (size_t i = 0; i < ELEMENTSOF(owners); i++)
        if (cfg_entry(doc, owners[i], name))
            return owners[i];
    /* A bond's members are taken too. */
    json_object_object_foreach(ju_obj(cfg_section(doc, "bonds")), bname, bond)
    {
        json_object *members = NULL;
        (void)bname;
        json_object_object_get_ex(bond, "members", &members);
        for (size_t i = 0; i < ju_len(members); i++)
            if (streq(json_object_get_string(json_object_array_get_idx(members, i)), name))
                return "bond members";
    }
    return NULL;
}

bool cfg_ifname_valid(const char *s)
{
    size_t n = strlen(s);
    if (n == 0 || n > 15 || streq(s, ".") || streq(s, ".."))
        return false;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '_' || c == '-' || c == '.'))
            return false;
    }
    return true;
}

bool cfg_mac_valid(const char *s)
{
    if (strlen(s) != 17)
        return false;
    for (int i = 0; i < 17; i++) {
        char c = s[i];
        bool hex = (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
        if (i % 3 == 2 ? c != ':' : !hex)
            return false;
    }
    return true;
}

/* ---- reading params ---- */

static json_object *member(json_object *o, const char *name)
{
    json_object *v = NULL;
    if (o && json_object_is_type(o, json_type_object))
        json_object_object_get_ex(o, name, &v);
    return v;
}

static const char *str(json_object *o, const char *name)
{
    json_object *v = member(o, name);
    return v && json_object_is_type(v, json_type_string) ? json_object_get_string(v) : NULL;
}

static struct jsonrpc_error *bad_param(const char *name, const char *why)
{
    return jsonrpc_error_new(JSONRPC_INVALID_PARAMS, "%s: %s", name, why);
}

struct jsonrpc_error *cfg_entry_remove(json_object *doc, json_object *p, const char *key,
                                       const char *section)
{
    const char *name = str(p, key);
    if (!name)
        return bad_param(key, "a string is required");
    json_object_object_del(cfg_section(doc, section), name);
    return NULL;
}

/* A required interface-name parameter. */
static struct jsonrpc_error *get_name(json_object *p, const char *key, const char **ret)
{
    const char *s = str(p, key);
    if (!s)
        return bad_param(key, "a string is required");
    if (!cfg_ifname_valid(s))
        return jsonrpc_app_error("INVALID_NAME", key, s);
    *ret = s;
    return NULL;
}

/* An optional string -> string map; a copy in *ret (empty when absent). */
static struct jsonrpc_error *get_string_map(json_object *p, const char *key, json_object **ret)
{
    json_object *m = member(p, key);
    if (m && !json_object_is_type(m, json_type_object))
        return bad_param(key, "an object of strings is expected");
    json_object *out = json_object_new_object();
    if (m) {
        json_object_object_foreach(ju_obj(m), k, v)
        {
            if (!json_object_is_type(v, json_type_string)) {
                json_object_put(out);
                return jsonrpc_error_new(JSONRPC_INVALID_PARAMS, "%s.%s: a string is expected", key,
                                         k);
            }
            json_object_object_add(out, k, json_object_get(v));
        }
    }
    *ret = out;
    return NULL;
}

static struct jsonrpc_error *get_mtu(json_object *p, int64_t def, int64_t *ret)
{
    json_object *v = member(p, "mtu");
    int64_t mtu = v ? json_object_get_int64(v) : def;
    if (v && !json_object_is_type(v, json_type_int))
        return bad_param("mtu", "an integer is expected");
    if (mtu < NETD_MTU_MIN || mtu > NETD_MTU_MAX) {
        char buf[32];
        snprintf(buf, sizeof(buf), "%lld", (long long)mtu);
        return jsonrpc_app_error("MTU_INVALID", buf);
    }
    *ret = mtu;
    return NULL;
}

static bool one_of(const char *s, const char *const *choices)
{
    for (; *choices; choices++)
        if (streq(s, *choices))
            return true;
    return false;
}

static struct jsonrpc_error *name_free(json_object *doc, const char *name, const char *section)
{
    const char *owner = cfg_name_owner(doc, name);
    if (owner && !streq(owner, section))
        return jsonrpc_app_error("NAME_IN_USE", name, owner);
    return NULL;
}

static bool real_bridge(json_object *doc, const char *name)
{
    return cfg_entry(doc, "bridges", name) != NULL;
}

/* ---- bridges ---- */

struct jsonrpc_error *cfg_bridge_set(json_object *doc, json_object *p, const struct cfg_check *c)
{
    static const char *const fail_modes[] = {"standalone", "secure", NULL};
    struct jsonrpc_error *e;
    json_object *eids = NULL, *oc = NULL;
    const char *name, *fail_mode = str(p, "fail_mode");
    int64_t mtu;

    (void)c;
    if ((e = get_name(p, "name", &name)) || (e = name_free(doc, name, "bridges")) ||
        (e = get_mtu(p, NETD_MTU_DEFAULT, &mtu)))
        return e;
    if (member(p, "fail_mode") && (!fail_mode || !one_of(fail_mode, fail_modes)))
        return jsonrpc_app_error("INVALID_VALUE", "fail_mode",
                                 fail_mode ? fail_mode : "(not a string)");
    if ((e = get_string_map(p, "external_ids", &eids)))
        return e;
    if ((e = get_string_map(p, "other_config", &oc))) {
        json_object_put(eids);
        return e;
    }
    json_object *b = json_object_new_object();
    json_object_object_add(b, "mtu", json_object_new_int64(mtu));
    json_object_object_add(b, "fail_mode",
                           json_object_new_string(fail_mode ? fail_mode : "standalone"));
    json_object_object_add(b, "external_ids", eids);
    json_object_object_add(b, "other_config", oc);
    json_object_object_add(cfg_section(doc, "bridges"), name, b);
    return NULL;
}

/* The first entry of section whose key field is value, or NULL. */
static const char *find_by(json_object *doc, const char *section, const char *key,
                           const char *value)
{
    json_object_object_foreach(ju_obj(cfg_section(doc, section)), n, o)
    {
        const char *v = str(o, key);
        if (v && streq(v, value))
            return n;
    }
    return NULL;
}

struct jsonrpc_error *cfg_bridge_remove(json_object *doc, json_object *p)
{
    const char *name = str(p, "name"), *user;

    if (!name)
        return bad_param("name", "a string is required");
    if (!real_bridge(doc, name))
        return NULL;
    if ((user = find_by(doc, "vlans", "parent_bridge", name)))
        return jsonrpc_app_error("PIF_VLAN_STILL_EXISTS", name, user);
    if ((user = find_by(doc, "vifs", "bridge", name)))
        return jsonrpc_app_error("NETWORK_CONTAINS_VIF", name, user);
    if ((user = find_by(doc, "ports", "bridge", name)) ||
        (user = find_by(doc, "bonds", "bridge", name)) ||
        (user = find_by(doc, "tunnels", "bridge", name)))
        return jsonrpc_app_error("NETWORK_CONTAINS_PIF", name, user);
    json_object_object_del(cfg_section(doc, "bridges"), name);
    json_object_object_del(cfg_section(doc, "ips"), name);
    return NULL;
}

/* ---- ports (a NIC on a bridge) ---- */

static struct jsonrpc_error *check_nic(const struct cfg_check *c, const char *name)
{
    if (c && c->nic_exists && !c->nic_exists(name, c->userdata))
        return jsonrpc_app_error("NO_SUCH_NIC", name);
    return NULL;
}

struct jsonrpc_error *cfg_port_set(json_object *doc, json_object *p, const struct cfg_check *c)
{
    struct jsonrpc_error *e;
    const char *bridge, *name, *owner;

    if ((e = get_name(p, "bridge", &bridge)) || (e = get_name(p, "name", &name)))
        return e;
    if (!real_bridge(doc, bridge))
        return jsonrpc_app_error("NO_SUCH_BRIDGE", bridge);
    owner = cfg_name_owner(doc, name);
    if (owner && streq(owner, "bond members"))
        return jsonrpc_app_error("PIF_ALREADY_BONDED", name);
    if ((e = name_free(doc, name, "ports")) || (e = check_nic(c, name)))
        return e;
    json_object *o = json_object_new_object();
    json_object_object_add(o, "bridge", json_object_new_string(bridge));
    json_object_object_add(cfg_section(doc, "ports"), name, o);
    return NULL;
}

struct jsonrpc_error *cfg_port_remove(json_object *doc, json_object *p)
{
    return cfg_entry_remove(doc, p, "name", "ports");
}

/* ---- VLANs: fake bridges on a parent bridge ---- */

struct jsonrpc_error *cfg_vlan_set(json_object *doc, json_object *p, const struct cfg_check *c)
{
    struct jsonrpc_error *e;
    const char *bridge, *parent, *other;
    json_object *tagv = member(p, "tag"), *eids = NULL;
    int64_t mtu;

    (void)c;
    if ((e = get_name(p, "bridge", &bridge)) || (e = get_name(p, "parent_bridge", &parent)) ||
        (e = name_free(doc, bridge, "vlans")))
        return e;
    if (!tagv || !json_object_is_type(tagv, json_type_int))
        return bad_param("tag", "an integer is required");
    int64_t tag = json_object_get_int64(tagv);
    if (tag < 0 || tag > 4094) {
        char buf[32];
        snprintf(buf, sizeof(buf), "%lld", (long long)tag);
        return jsonrpc_app_error("VLAN_TAG_INVALID", buf);
    }
    if (!real_bridge(doc, parent))
        return jsonrpc_app_error("NO_SUCH_BRIDGE", parent);
    json_object_object_foreach(ju_obj(cfg_section(doc, "vlans")), vname, v)
    {
        other = str(v, "parent_bridge");
        if (!streq(vname, bridge) && streq(other, parent) &&
            json_object_get_int64(member(v, "tag")) == tag)
            return jsonrpc_app_error("PIF_VLAN_EXISTS", parent, vname);
    }
    int64_t parent_mtu = json_object_get_int64(member(cfg_entry(doc, "bridges", parent), "mtu"));
    if ((e = get_mtu(p, parent_mtu, &mtu)) || (e = get_string_map(p, "external_ids", &eids)))
        return e;
    json_object *o = json_object_new_object();
    json_object_object_add(o, "parent_bridge", json_object_new_string(parent));
    json_object_object_add(o, "tag", json_object_new_int64(tag));
    json_object_object_add(o, "mtu", json_object_new_int64(mtu));
    json_object_object_add(o, "external_ids", eids);
    json_object_object_add(cfg_section(doc, "vlans"), bridge, o);
    return NULL;
}

struct jsonrpc_error *cfg_vlan_remove(json_object *doc, json_object *p)
{
    const char *name = str(p, "bridge"), *user;

    if (!name)
        return bad_param("bridge", "a string is required");
    if (!cfg_entry(doc, "vlans", name))
        return NULL;
    if ((user = find_by(doc, "vifs", "bridge", name)))
        return jsonrpc_app_error("NETWORK_CONTAINS_VIF", name, user);
    json_object_object_del(cfg_section(doc, "vlans"), name);
    json_object_object_del(cfg_section(doc, "ips"), name);
    return NULL;
}

/* ---- bonds ---- */

/* Bond properties as Bond.properties names them, with their checks. */
static struct jsonrpc_error *check_bond_property(const char *k, const char *v)
{
    static const char *const hashing[] = {"src_mac", "tcpudp_ports", NULL};
    static const char *const lacp_time[] = {"fast", "slow", NULL};
    static const char *const boolean[] = {"true", "false", NULL};
    static const char *const detect[] = {"carrier", "miimon", NULL};
    static const char *const numeric[] = {
        "updelay", "downdelay", "miimon", "rebalance-interval", "lacp-aggregation-key", NULL};
    bool ok;

    if (streq(k, "hashing_algorithm"))
        ok = one_of(v, hashing);
    else if (streq(k, "lacp-time"))
        ok = one_of(v, lacp_time);
    else if (streq(k, "lacp-fallback-ab"))
        ok = one_of(v, boolean);
    else if (streq(k, "detect-mode"))
        ok = one_of(v, detect);
    else if (one_of(k, numeric)) {
        char *end;
        errno = 0;
        long long x = strtoll(v, &end, 10);
        ok = *v && !*end && !errno && x >= 0 && x <= 86400000;
    } else
        return jsonrpc_app_error("INVALID_VALUE", k, "unknown bond property");
    return ok ? NULL : jsonrpc_app_error("INVALID_VALUE", k, v);
}

struct jsonrpc_error *cfg_bond_set(json_object *doc, json_object *p, const struct cfg_check *c)
{
    static const char *const modes[] = {"balance-slb", "active-backup", "lacp", NULL};
    struct jsonrpc_error *e;
    const char *bridge, *name, *mode = str(p, "mode"), *mac = str(p, "mac");
    json_object *members = member(p, "members"), *props = NULL;

    if ((e = get_name(p, "bridge", &bridge)) || (e = get_name(p, "name", &name)) ||
        (e = name_free(doc, name, "bonds")))
        return e;
    if (!real_bridge(doc, bridge))
        return jsonrpc_app_error("NO_SUCH_BRIDGE", bridge);
    if (!mode)
        mode = "balance-slb";
    if (!one_of(mode, modes))
        return jsonrpc_app_error("INVALID_VALUE", "mode", mode);
    if (mac && !cfg_mac_valid(mac))
        return jsonrpc_app_error("MAC_INVALID", mac);
    if (!members || !json_object_is_type(members, json_type_array))
        return bad_param("members", "an array of NIC names is required");
    size_t n = ju_len(members);
    if (n < 2)
        return jsonrpc_app_error("PIF_BOND_NEEDS_MORE_MEMBERS");
    for (size_t i = 0; i < n; i++) {
        json_object *m = json_object_array_get_idx(members, i);
        if (!json_object_is_type(m, json_type_string))
            return bad_param("members", "an array of NIC names is required");
        const char *mn = json_object_get_string(m);
        if (!cfg_ifname_valid(mn))
            return jsonrpc_app_error("INVALID_NAME", "members", mn);
        for (size_t j = 0; j < i; j++)
            if (streq(mn, json_object_get_string(json_object_array_get_idx(members, j))))
                return jsonrpc_app_error("INVALID_VALUE", "members", mn);
        /* A member may be a standalone port now (it moves into the bond),
         * or already in this bond; not in another bond or anything else. */
        const char *owner = cfg_name_owner(doc, mn);
        if (owner && streq(owner, "bond members")) {
            json_object *mine = member(cfg_entry(doc, "bonds", name), "members");
            bool in_mine = false;
            for (size_t j = 0; j < ju_len(mine); j++)
                in_mine |= streq(mn, json_object_get_string(json_object_array_get_idx(mine, j)));
            if (!in_mine)
                return jsonrpc_app_error("PIF_ALREADY_BONDED", mn);
        } else if (owner && !streq(owner, "ports"))
            return jsonrpc_app_error("NAME_IN_USE", mn, owner);
        if ((e = check_nic(c, mn)))
            return e;
    }
    if ((e = get_string_map(p, "properties", &props)))
        return e;
    json_object_object_foreach(ju_obj(props), k, v)
    {
        if ((e = check_bond_property(k, json_object_get_string(v)))) {
            json_object_put(props);
            return e;
        }
    }
    for (size_t i = 0; i < n; i++)
        json_object_object_del(cfg_section(doc, "ports"),
                               json_object_get_string(json_object_array_get_idx(members, i)));
    json_object *o = json_object_new_object();
    json_object_object_add(o, "bridge", json_object_new_string(bridge));
    json_object_object_add(o, "members", json_object_get(members));
    json_object_object_add(o, "mode", json_object_new_string(mode));
    json_object_object_add(o, "properties", props);
    if (mac)
        json_object_object_add(o, "mac", json_object_new_string(mac));
    json_object_object_add(cfg_section(doc, "bonds"), name, o);
    return NULL;
}

struct jsonrpc_error *cfg_bond_remove(json_object *doc, json_object *p)
{
    return cfg_entry_remove(doc, p, "name", "bonds");
}

/* ---- IP configuration of a bridge's (or VLAN's) interface ---- */

/* PIF_CONFIGURATION_ERROR [iface, why what]. */
static struct jsonrpc_error *ip_error(const char *iface, const char *why, const char *what)
{
    char msg[256];
    snprintf(msg, sizeof(msg), "%s%s", why, what);
    return jsonrpc_app_error("PIF_CONFIGURATION_ERROR", iface, msg);
}

/* A netmask, dotted ("255.255.255.0") or a prefix length ("24"), as a
 * prefix length; -1 if it is neither. */
static int netmask_prefix(const char *s)
{
    struct in_addr a;
    char *end;

    if (inet_pton(AF_INET, s, &a) == 1) {
        uint32_t m = ntohl(a.s_addr);
        int len = 0;
        while (len < 32 && (m & (0x80000000u >> len)))
            len++;
        return (len == 32 || (m << len) == 0) ? len : -1;
    }
    long x = strtol(s, &end, 10);
    return *s && !*end && x >= 0 && x <= 32 ? (int)x : -1;
}

/* "addr/len" with a valid address of family af and a prefix length. */
static bool cidr_valid(const char *s, int af)
{
    unsigned char buf[16];
    char addr[64], *end;
    const char *slash = strchr(s, '/');

    if (!slash || (size_t)(slash - s) >= sizeof(addr))
        return false;
    memcpy(addr, s, (size_t)(slash - s));
    addr[slash - s] = '\0';
    long len = strtol(slash + 1, &end, 10);
    return inet_pton(af, addr, buf) == 1 && slash[1] && !*end && len >= 0 &&
           len <= (af == AF_INET ? 32 : 128);
}

static bool addr_valid(const char *s, int af)
{
    unsigned char buf[16];
    return inet_pton(af, s, buf) == 1;
}

static struct jsonrpc_error *get_ipv4(const char *iface, json_object *in, json_object **ret)
{
    static const char *const modes[] = {"none", "dhcp", "static", NULL};
    const char *mode = in ? str(in, "mode") : "none";
    json_object *out = json_object_new_object();

    if (in && !json_object_is_type(in, json_type_object))
        goto bad_type;
    if (!mode || !one_of(mode, modes)) {
        json_object_put(out);
        return ip_error(iface, "ipv4.mode must be none, dhcp or static, not ",
                        mode ? mode : "missing");
    }
    json_object_object_add(out, "mode", json_object_new_string(mode));
    if (streq(mode, "static")) {
        const char *a = str(in, "address"), *m = str(in, "netmask"), *g = str(in, "gateway");
        int prefix = m ? netmask_prefix(m) : -1;
        struct jsonrpc_error *e = NULL;
        if (!a || !addr_valid(a, AF_INET))
            e = ip_error(iface, "ipv4.address is not an IPv4 address: ", a ? a : "missing");
        else if (prefix < 0)
            e = ip_error(iface, "ipv4.netmask is not a netmask: ", m ? m : "missing");
        else if (g && *g && !addr_valid(g, AF_INET))
            e = ip_error(iface, "ipv4.gateway is not an IPv4 address: ", g);
        if (e) {
            json_object_put(out);
            return e;
        }
        json_object_object_add(out, "address", json_object_new_string(a));
        json_object_object_add(out, "netmask", json_object_new_string(m));
        json_object_object_add(out, "prefix", json_object_new_int(prefix));
        if (g && *g)
            json_object_object_add(out, "gateway", json_object_new_string(g));
    }
    *ret = out;
    return NULL;
bad_type:
    json_object_put(out);
    return bad_param("ipv4", "an object is expected");
}

static struct jsonrpc_error *get_ipv6(const char *iface, json_object *in, json_object **ret)
{
    static const char *const modes[] = {"none", "autoconf", "dhcp", "static", NULL};
    const char *mode = in ? str(in, "mode") : "none";

    if (in && !json_object_is_type(in, json_type_object))
        return bad_param("ipv6", "an object is expected");
    if (!mode || !one_of(mode, modes))
        return ip_error(iface, "ipv6.mode must be none, autoconf, dhcp or static, not ",
                        mode ? mode : "missing");
    json_object *out = json_object_new_object();
    json_object_object_add(out, "mode", json_object_new_string(mode));
    if (streq(mode, "static")) {
        const char *a = str(in, "address"), *g = str(in, "gateway");
        if (!a || !cidr_valid(a, AF_INET6)) {
            json_object_put(out);
            return ip_error(iface, "ipv6.address must be address/prefix: ", a ? a : "missing");
        }
        if (g && *g && !addr_valid(g, AF_INET6)) {
            json_object_put(out);
            return ip_error(iface, "ipv6.gateway is not an IPv6 address: ", g);
        }
        json_object_object_add(out, "address", json_object_new_string(a));
        if (g && *g)
            json_object_object_add(out, "gateway", json_object_new_string(g));
    }
    *ret = out;
    return NULL;
}

struct jsonrpc_error *cfg_ip_set(json_object *doc, json_object *p, const struct cfg_check *c)
{
    struct jsonrpc_error *e;
    const char *iface;
    json_object *v4 = NULL, *v6 = NULL, *dns = member(p, "dns"), *gw = member(p, "default_gateway");
    json_object *dns_if = member(p, "dns_interface");

    (void)c;
    if ((e = get_name(p, "interface", &iface)))
        return e;
    if (!real_bridge(doc, iface) && !cfg_entry(doc, "vlans", iface))
        return jsonrpc_app_error("NO_SUCH_BRIDGE", iface);
    if (dns && !json_object_is_type(dns, json_type_array))
        return bad_param("dns", "an array of addresses is expected");
    for (size_t i = 0; dns && i < ju_len(dns); i++) {
        json_object *d = json_object_array_get_idx(dns, i);
        const char *ds = json_object_is_type(d, json_type_string) ? json_object_get_string(d) : "";
        if (!addr_valid(ds, AF_INET) && !addr_valid(ds, AF_INET6))
            return ip_error(iface, "dns: not an IP address: ", ds);
    }
    if (gw && !json_object_is_type(gw, json_type_boolean))
        return bad_param("default_gateway", "a boolean is expected");
    if (dns_if && !json_object_is_type(dns_if, json_type_boolean))
        return bad_param("dns_interface", "a boolean is expected");
    if ((e = get_ipv4(iface, member(p, "ipv4"), &v4)))
        return e;
    if ((e = get_ipv6(iface, member(p, "ipv6"), &v6))) {
        json_object_put(v4);
        return e;
    }
    bool is_gw = gw && json_object_get_boolean(gw);
    bool is_dns = dns_if && json_object_get_boolean(dns_if);
    /* One interface holds the default route, and one gives resolv.conf,
     * as with XCP's set_gateway_interface and set_dns_interface: the
     * newest one asked for it. */
    json_object_object_foreach(ju_obj(cfg_section(doc, "ips")), other, oip)
    {
        (void)other;
        if (is_gw)
            json_object_object_add(oip, "default_gateway", json_object_new_boolean(false));
        if (is_dns)
            json_object_object_add(oip, "dns_interface", json_object_new_boolean(false));
    }
    json_object *o = json_object_new_object();
    json_object_object_add(o, "ipv4", v4);
    json_object_object_add(o, "ipv6", v6);
    json_object_object_add(o, "dns", dns ? json_object_get(dns) : json_object_new_array());
    json_object_object_add(o, "default_gateway", json_object_new_boolean(is_gw));
    json_object_object_add(o, "dns_interface", json_object_new_boolean(is_dns));
    json_object_object_add(cfg_section(doc, "ips"), iface, o);
    return NULL;
}

struct jsonrpc_error *cfg_ip_remove(json_object *doc, json_object *p)
{
    return cfg_entry_remove(doc, p, "interface", "ips");
}

/* ---- VIFs ---- */

static struct jsonrpc_error *check_ip_list(json_object *p, const char *key, int af)
{
    json_object *l = member(p, key);
    if (!l)
        return NULL;
    if (!json_object_is_type(l, json_type_array))
        return bad_param(key, "an array of addresses is expected");
    for (size_t i = 0; i < ju_len(l); i++) {
        json_object *a = json_object_array_get_idx(l, i);
        const char *s = json_object_is_type(a, json_type_string) ? json_object_get_string(a) : "";
        if (!addr_valid(s, af))
            return jsonrpc_app_error("INVALID_VALUE", key, s);
    }
    return NULL;
}

static struct jsonrpc_error *get_stand_in(json_object *p, const char *name, json_object **ret)
{
    static const char *const types[] = {"veth", "internal", NULL};
    json_object *s = member(p, "stand_in");
    const char *type, *peer, *netns;

    *ret = NULL;
    if (!s)
        return NULL;
    if (!json_object_is_type(s, json_type_object))
        return bad_param("stand_in", "an object is expected");
    type = str(s, "type");
    if (!type || !one_of(type, types))
        return jsonrpc_app_error("INVALID_VALUE", "stand_in.type", type ? type : "missing");
    json_object *out = json_object_new_object();
    json_object_object_add(out, "type", json_object_new_string(type));
    if (streq(type, "veth")) {
        peer = str(s, "peer");
        netns = str(s, "netns");
        if (!peer || !cfg_ifname_valid(peer) || streq(peer, name)) {
            json_object_put(out);
            return jsonrpc_app_error("INVALID_NAME", "stand_in.peer", peer ? peer : "missing");
        }
        if (netns && (!*netns || strchr(netns, '/') || streq(netns, ".") || streq(netns, ".."))) {
            json_object_put(out);
            return jsonrpc_app_error("INVALID_NAME", "stand_in.netns", netns);
        }
        json_object_object_add(out, "peer", json_object_new_string(peer));
        if (netns)
            json_object_object_add(out, "netns", json_object_new_string(netns));
    }
    *ret = out;
    return NULL;
}

struct jsonrpc_error *cfg_vif_plug(json_object *doc, json_object *p, const struct cfg_check *c)
{
    static const char *const locking[] = {"network_default", "unlocked", "locked", "disabled",
                                          NULL};
    struct jsonrpc_error *e;
    const char *bridge, *name, *mac = str(p, "mac"), *lm = str(p, "locking_mode");
    json_object *eids = NULL, *qos = member(p, "qos"), *stand_in = NULL, *br;
    int64_t mtu, kbps = 0;

    (void)c;
    if ((e = get_name(p, "bridge", &bridge)) || (e = get_name(p, "name", &name)) ||
        (e = name_free(doc, name, "vifs")))
        return e;
    if (!(br = cfg_entry(doc, "bridges", bridge)) && !(br = cfg_entry(doc, "vlans", bridge)))
        return jsonrpc_app_error("NO_SUCH_BRIDGE", bridge);
    if (!mac || !cfg_mac_valid(mac))
        return jsonrpc_app_error("MAC_INVALID", mac ? mac : "");
    if (!lm)
        lm = "network_default";
    if (!one_of(lm, locking))
        return jsonrpc_app_error("INVALID_VALUE", "locking_mode", lm);
    if ((e = check_ip_list(p, "ipv4_allowed", AF_INET)) ||
        (e = check_ip_list(p, "ipv6_allowed", AF_INET6)))
        return e;
    if (qos) {
        json_object *k = member(qos, "kbps");
        if (!json_object_is_type(qos, json_type_object) || !k ||
            !json_object_is_type(k, json_type_int) || json_object_get_int64(k) < 0 ||
            json_object_get_int64(k) > 0xffffffffLL)
            return bad_param("qos", "{\"kbps\": 0..4294967295} is expected");
        kbps = json_object_get_int64(k);
    }
    if ((e = get_mtu(p, json_object_get_int64(member(br, "mtu")), &mtu)) ||
        (e = get_stand_in(p, name, &stand_in)))
        return e;
    /* A peer in this namespace must not take a name OVS or a NIC uses; one
     * moved into another namespace is that namespace's business. */
    const char *peer = str(stand_in, "peer");
    if (peer && !str(stand_in, "netns") && cfg_name_owner(doc, peer)) {
        e = jsonrpc_app_error("NAME_IN_USE", peer, cfg_name_owner(doc, peer));
        json_object_put(stand_in);
        return e;
    }
    if ((e = get_string_map(p, "external_ids", &eids))) {
        json_object_put(stand_in);
        return e;
    }
    json_object *o = json_object_new_object();
    json_object_object_add(o, "bridge", json_object_new_string(bridge));
    json_object_object_add(o, "mac", json_object_new_string(mac));
    json_object_object_add(o, "mtu", json_object_new_int64(mtu));
    json_object_object_add(o, "locking_mode", json_object_new_string(lm));
    json_object *l4 = member(p, "ipv4_allowed"), *l6 = member(p, "ipv6_allowed");
    json_object_object_add(o, "ipv4_allowed", l4 ? json_object_get(l4) : json_object_new_array());
    json_object_object_add(o, "ipv6_allowed", l6 ? json_object_get(l6) : json_object_new_array());
    json_object_object_add(o, "external_ids", eids);
    if (qos) {
        json_object *q = json_object_new_object();
        json_object_object_add(q, "kbps", json_object_new_int64(kbps));
        json_object_object_add(o, "qos", q);
    }
    if (stand_in)
        json_object_object_add(o, "stand_in", stand_in);
    json_object_object_add(cfg_section(doc, "vifs"), name, o);
    return NULL;
}

struct jsonrpc_error *cfg_vif_unplug(json_object *doc, json_object *p)
{
    const char *name = str(p, "name");
    if (!name)
        return bad_param("name", "a string is required");
    json_object_object_del(cfg_section(doc, "vifs"), name);
    return NULL;
}

/* ---- the whole document ---- */

typedef struct jsonrpc_error *(*setter_fn)(json_object *doc, json_object *p,
                                           const struct cfg_check *c);

/* Replays section of in through fn, each entry with its name under key. */
static struct jsonrpc_error *replay(json_object *in, json_object *out, const char *section,
                                    const char *key, setter_fn fn, const struct cfg_check *c)
{
    json_object *s = member(in, section);
    if (!s)
        return NULL;
    if (!json_object_is_type(s, json_type_object))
        return jsonrpc_error_new(JSONRPC_INVALID_PARAMS, "%s: an object is expected", section);
    json_object_object_foreach(ju_obj(s), name, entry)
    {
        if (!json_object_is_type(entry, json_type_object))
            return jsonrpc_error_new(JSONRPC_INVALID_PARAMS, "%s.%s: an object is expected",
                                     section, name);
        json_object *p = json_object_new_object();
        json_object_object_foreach(ju_obj(entry), k, v)
        {
            json_object_object_add(p, k, json_object_get(v));
        }
        json_object_object_add(p, key, json_object_new_string(name));
        struct jsonrpc_error *e = fn(out, p, c);
        json_object_put(p);
        if (e)
            return e;
    }
    return NULL;
}

struct jsonrpc_error *cfg_rebuild(json_object *in, const struct cfg_check *c, json_object **ret)
{
    json_object *out = cfg_new();
    struct jsonrpc_error *e;

    if (!json_object_is_type(in, json_type_object)) {
        json_object_put(out);
        return jsonrpc_error_new(JSONRPC_INVALID_PARAMS, "the configuration is not an object");
    }
    if ((e = replay(in, out, "bridges", "name", cfg_bridge_set, c)) ||
        (e = replay(in, out, "vlans", "bridge", cfg_vlan_set, c)) ||
        (e = replay(in, out, "ports", "name", cfg_port_set, c)) ||
        (e = replay(in, out, "bonds", "name", cfg_bond_set, c)) ||
        (e = replay(in, out, "ips", "interface", cfg_ip_set, c)) ||
        (e = replay(in, out, "vifs", "name", cfg_vif_plug, c)) ||
        (e = replay(in, out, "tunnels", "name", cfg_tunnel_set, c)) ||
        (e = replay(in, out, "nics", "name", cfg_nic_set, c))) {
        json_object_put(out);
        return e;
    }
    /* ip/set with default_gateway or dns_interface clears it elsewhere,
     * so a document naming several keeps the last, as the same calls one
     * by one would. */
    *ret = out;
    return NULL;
}

int cfg_load(const char *path, json_object **ret, char **ret_why)
{
    json_object *in = json_object_from_file(path);
    struct jsonrpc_error *e;

    if (!in) {
        if (access(path, F_OK) < 0 && errno == ENOENT) {
            *ret = cfg_new();
            return 0;
        }
        *ret_why = xasprintf("%s: not readable JSON: %s", path, json_util_get_last_err());
        return -EINVAL;
    }
    const char *fmt = str(in, "format");
    json_object *ver = member(in, "version");
    if (!fmt || !streq(fmt, CFG_FORMAT) || !ver || json_object_get_int(ver) != CFG_VERSION) {
        json_object_put(in);
        *ret_why = xasprintf("%s: not a %s version %d file", path, CFG_FORMAT, CFG_VERSION);
        return -EINVAL;
    }
    e = cfg_rebuild(in, NULL, ret);
    json_object_put(in);
    if (e) {
        struct strbuf sb;
        strbuf_init(&sb, 64);
        strbuf_addf(&sb, "%s: %s", path, e->message);
        for (size_t i = 0; i < e->n_app_params; i++)
            strbuf_addf(&sb, " %s", e->app_params[i]);
        *ret_why = strbuf_detach(&sb, NULL);
        jsonrpc_error_free(e);
        return -EINVAL;
    }
    return 0;
}

int cfg_save(const char *path, json_object *doc)
{
    const char *text =
        json_object_to_json_string_ext(doc, JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_SPACED);
    _cleanup_free_ char *line = xasprintf("%s\n", text);
    return write_file_atomic(path, line, strlen(line), true);
}
