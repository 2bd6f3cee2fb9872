/* PIF messages (scan, introduce, forget, plug, unplug, the address
 * configuration) and the host's management interface
 * (host.management_reconfigure, host.get_management_interface): each a
 * database change followed by the host's network configuration sent to
 * networkd, undone if networkd refuses it (see network.h). */
#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/cleanup.h"
#include "lib/strlist.h"
#include "lib/util.h"
#include "xapi-c/api.h"
#include "xapi-c/config.h"
#include "xapi-c/db.h"
#include "xapi-c/network.h"

static bool is_null_ref(const char *ref)
{
    return !*ref || streq(ref, "OpaqueRef:NULL");
}

/* The first ref of a set's canonical text (scratch: a static buffer,
 * valid until the next call), or "". */
static const char *first_ref(const char *set)
{
    static __thread char out[64];
    struct strlist_iter it;
    const char *ref;
    out[0] = '\0';
    strlist_iter_init(&it, set);
    if (strlist_iter_next(&it, NULL, &ref))
        snprintf(out, sizeof(out), "%s", ref);
    strlist_iter_done(&it);
    return out;
}

/* The PIF named by argument i, which must be this host's. db lock held. */
static struct api_error *my_pif(const struct call *c, int i, const struct row **ret)
{
    struct api_error *e = api_lookup(C_PIF, arg_str(c, i), ret);
    if (!e && !streq((*ret)->v[FIDX(PIF, host)], xapi_state.host_ref))
        e = api_fail(PIF_NOT_ATTACHED_TO_HOST, (*ret)->ref, xapi_state.host_ref);
    return e;
}

static struct api_error *my_host(const struct call *c, int i)
{
    const struct row *h;
    struct api_error *e = api_lookup(C_host, arg_str(c, i), &h);
    if (!e && !streq(h->ref, xapi_state.host_ref))
        e = api_failf(OPERATION_NOT_ALLOWED, "host %s is not this host", h->ref);
    return e;
}

/* Runs a change built under the lock: applied, then sent to networkd. */
static struct api_error *finish(struct call *c, struct net_tx *tx, struct api_error *e)
{
    return net_tx_finish(tx, e, c->out);
}

static bool valid_ip(int af, const char *s)
{
    unsigned char buf[16];
    return inet_pton(af, s, buf) == 1;
}

static bool valid_netmask(const char *s)
{
    struct in_addr a;
    if (inet_pton(AF_INET, s, &a) != 1)
        return false;
    uint32_t m = ntohl(a.s_addr);
    return m != 0 && (~m & (~m + 1)) == 0; /* ones then zeros */
}

static struct api_error *check_dns(const char *dns)
{
    char *list = xstrdup(dns), *save = NULL;
    struct api_error *e = NULL;
    for (char *t = strtok_r(list, ", ", &save); t && !e; t = strtok_r(NULL, ", ", &save))
        if (!valid_ip(AF_INET, t) && !valid_ip(AF_INET6, t))
            e = api_fail(INVALID_IP_ADDRESS_SPECIFIED, "DNS");
    free(list);
    return e;
}

static struct api_error *scan(struct call *c)
{
    db_rdlock();
    struct api_error *e = my_host(c, 1);
    db_unlock();
    if (!e)
        e = network_scan(true);
    if (!e)
        out_void(c->out);
    return e;
}

static struct api_error *introduce(struct call *c)
{
    const char *mac = arg_str(c, 2), *dev = arg_str(c, 3);
    json_object *nics = NULL, *nic = NULL;
    db_rdlock();
    struct api_error *e = my_host(c, 1);
    db_unlock();
    if (!e)
        e = network_call("nic/list", NULL, 30, &nics);
    for (size_t i = 0; !e && i < network_alen(nics); i++) {
        json_object *n = json_object_array_get_idx(nics, i), *v;
        if (json_object_object_get_ex(n, "name", &v) && json_object_is_type(v, json_type_string) &&
            streq(json_object_get_string(v), dev))
            nic = n;
    }
    if (!e && !nic)
        e = api_fail(PIF_DEVICE_NOT_FOUND);
    if (!e) {
        json_object *v = NULL;
        json_object_object_get_ex(nic, "mac", &v);
        const char *have =
            json_object_is_type(v, json_type_string) ? json_object_get_string(v) : "";
        if (strcasecmp(have, mac) != 0)
            e = api_fail(MAC_DOES_NOT_EXIST, mac);
    }
    char ref[64];
    struct net_tx *tx = net_tx_new();
    db_wrlock();
    size_t it = 0;
    const struct row *r;
    while (!e && db_next(C_PIF, &it, &r))
        if (streq(r->v[FIDX(PIF, host)], xapi_state.host_ref) &&
            streq(r->v[FIDX(PIF, device)], dev) && streq(r->v[FIDX(PIF, physical)], "true"))
            e = api_fail(DUPLICATE_PIF_DEVICE_NAME, dev);
    if (!e) {
        network_new_pif(tx, nic, false, ref);
        e = net_tx_apply(tx);
    }
    db_unlock();
    json_object_put(nics);
    if (e)
        net_tx_free(tx);
    else
        e = net_tx_commit(tx);
    if (!e)
        out_string(c->out, ref);
    return e;
}

/* Refusals shared by forget and unplug. db lock held. */
static struct api_error *check_removable(const struct row *p)
{
    struct strbuf scratch;
    strbuf_init(&scratch, 0);
    struct api_error *e = NULL;
    if (streq(p->v[FIDX(PIF, management)], "true"))
        e = api_fail(PIF_IS_MANAGEMENT_INTERFACE, p->ref);
    else if (strlist_count(db_value(p, FIDX(PIF, VLAN_slave_of), &scratch)) > 0)
        e = api_fail(PIF_VLAN_STILL_EXISTS, p->ref);
    else if (strlist_count(db_value(p, FIDX(PIF, bond_master_of), &scratch)) > 0)
        e = api_failf(OPERATION_NOT_ALLOWED, "the PIF is a bond's: use Bond.destroy");
    else if (!is_null_ref(p->v[FIDX(PIF, bond_slave_of)]))
        e = api_fail(PIF_ALREADY_BONDED, p->ref);
    else if (strlist_count(db_value(p, FIDX(PIF, tunnel_transport_PIF_of), &scratch)) > 0 ||
             strlist_count(db_value(p, FIDX(PIF, tunnel_access_PIF_of), &scratch)) > 0)
        e = api_fail(PIF_TUNNEL_STILL_EXISTS, p->ref);
    strbuf_done(&scratch);
    return e;
}

static struct api_error *forget(struct call *c)
{
    const struct row *p = NULL;
    struct net_tx *tx = net_tx_new();
    db_wrlock();
    struct api_error *e = my_pif(c, 1, &p);
    if (!e)
        e = check_removable(p);
    if (!e && !is_null_ref(p->v[FIDX(PIF, VLAN_master_of)]))
        e = api_fail(PIF_IS_VLAN, p->ref);
    if (!e) {
        const struct row *m = db_get(C_PIF_metrics, p->v[FIDX(PIF, metrics)]);
        if (m)
            net_tx_delete(tx, m);
        net_tx_delete(tx, p);
    }
    return finish(c, tx, e);
}

/* Deprecated in favour of VLAN.destroy, and what it still does in XCP:
 * the VLAN whose master the PIF is goes, with it. */
static struct api_error *destroy(struct call *c)
{
    const struct row *p = NULL;
    char vlan[64] = "";
    db_rdlock();
    struct api_error *e = my_pif(c, 1, &p);
    if (!e && streq(p->v[FIDX(PIF, physical)], "true"))
        e = api_fail(PIF_IS_PHYSICAL, p->ref);
    else if (!e && is_null_ref(p->v[FIDX(PIF, VLAN_master_of)]))
        e = api_failf(OPERATION_NOT_ALLOWED, "use Bond.destroy or tunnel.destroy");
    else if (!e)
        snprintf(vlan, sizeof(vlan), "%s", p->v[FIDX(PIF, VLAN_master_of)]);
    db_unlock();
    if (!e)
        e = network_vlan_destroy(vlan);
    if (!e)
        out_void(c->out);
    return e;
}

static struct api_error *plug(struct call *c)
{
    const struct row *p = NULL;
    struct net_tx *tx = net_tx_new();
    db_wrlock();
    struct api_error *e = my_pif(c, 1, &p);
    if (!e && !is_null_ref(p->v[FIDX(PIF, bond_slave_of)]))
        e = api_fail(CANNOT_PLUG_BOND_SLAVE, p->ref);
    /* A tunnel's access PIF needs its transport plugged, with an address
     * (XCP's plug). */
    size_t it = 0;
    const struct row *t;
    while (!e && db_next(C_tunnel, &it, &t)) {
        if (!streq(t->v[FIDX(tunnel, access_PIF)], p->ref))
            continue;
        const struct row *tp = db_get(C_PIF, t->v[FIDX(tunnel, transport_PIF)]);
        if (tp && streq(tp->v[FIDX(PIF, ip_configuration_mode)], "None"))
            e = api_fail(TRANSPORT_PIF_NOT_CONFIGURED, tp->ref);
        else if (tp)
            net_tx_set(tx, tp, FIDX(PIF, currently_attached), "true");
    }
    if (!e)
        net_tx_set(tx, p, FIDX(PIF, currently_attached), "true");
    return finish(c, tx, e);
}

static struct api_error *unplug(struct call *c)
{
    const struct row *p = NULL;
    struct net_tx *tx = net_tx_new();
    db_wrlock();
    struct api_error *e = my_pif(c, 1, &p);
    if (!e && streq(p->v[FIDX(PIF, disallow_unplug)], "true"))
        e = api_fail(PIF_DOES_NOT_ALLOW_UNPLUG, p->ref);
    if (!e && streq(p->v[FIDX(PIF, management)], "true"))
        e = api_fail(PIF_IS_MANAGEMENT_INTERFACE, p->ref);
    /* The tunnels over a transport PIF go down with it (XCP's unplug). */
    size_t it = 0;
    const struct row *t;
    while (!e && db_next(C_tunnel, &it, &t)) {
        const struct row *a = streq(t->v[FIDX(tunnel, transport_PIF)], p->ref)
                                  ? db_get(C_PIF, t->v[FIDX(tunnel, access_PIF)])
                                  : NULL;
        if (a && streq(a->v[FIDX(PIF, management)], "true"))
            e = api_fail(PIF_IS_MANAGEMENT_INTERFACE, a->ref);
        else if (a)
            net_tx_set(tx, a, FIDX(PIF, currently_attached), "false");
    }
    if (!e)
        net_tx_set(tx, p, FIDX(PIF, currently_attached), "false");
    return finish(c, tx, e);
}

static struct api_error *reconfigure_ip(struct call *c)
{
    const struct row *p = NULL;
    const char *mode = arg_str(c, 2), *ip = arg_str(c, 3), *mask = arg_str(c, 4);
    const char *gw = arg_str(c, 5), *dns = arg_str(c, 6);
    bool is_static = streq(mode, "Static");
    struct net_tx *tx = net_tx_new();
    db_wrlock();
    struct api_error *e = my_pif(c, 1, &p);
    if (!e && !is_null_ref(p->v[FIDX(PIF, bond_slave_of)]))
        e = api_fail(CANNOT_PLUG_BOND_SLAVE, p->ref);
    else if (!e && streq(mode, "None") && streq(p->v[FIDX(PIF, management)], "true") &&
             streq(p->v[FIDX(PIF, primary_address_type)], "IPv4"))
        e = api_fail(PIF_IS_MANAGEMENT_INTERFACE, p->ref);
    else if (!e && is_static && !valid_ip(AF_INET, ip))
        e = api_fail(INVALID_IP_ADDRESS_SPECIFIED, "IP");
    else if (!e && is_static && !valid_netmask(mask))
        e = api_fail(INVALID_IP_ADDRESS_SPECIFIED, "netmask");
    else if (!e && is_static && *gw && !valid_ip(AF_INET, gw))
        e = api_fail(INVALID_IP_ADDRESS_SPECIFIED, "gateway");
    else if (!e)
        e = check_dns(dns);
    /* DHCP again keeps the lease's fields, which networkd's lease fills
     * in (network.c) when it changes */
    if (!e && !(streq(mode, "DHCP") && streq(p->v[FIDX(PIF, ip_configuration_mode)], "DHCP"))) {
        net_tx_set(tx, p, FIDX(PIF, IP), is_static ? ip : "");
        net_tx_set(tx, p, FIDX(PIF, netmask), is_static ? mask : "");
        net_tx_set(tx, p, FIDX(PIF, gateway), is_static ? gw : "");
        net_tx_set(tx, p, FIDX(PIF, DNS), streq(mode, "None") ? "" : dns);
    }
    if (!e) {
        net_tx_set(tx, p, FIDX(PIF, ip_configuration_mode), mode);
        net_tx_set(tx, p, FIDX(PIF, currently_attached), "true");
    }
    return finish(c, tx, e);
}

static struct api_error *reconfigure_ipv6(struct call *c)
{
    const struct row *p = NULL;
    const char *mode = arg_str(c, 2), *ip = arg_str(c, 3), *gw = arg_str(c, 4);
    const char *dns = arg_str(c, 5);
    bool is_static = streq(mode, "Static");
    struct net_tx *tx = net_tx_new();
    char addr[64] = "";
    const char *slash = strchr(ip, '/');
    if (slash && (size_t)(slash - ip) < sizeof(addr))
        snprintf(addr, sizeof(addr), "%.*s", (int)(slash - ip), ip);
    db_wrlock();
    struct api_error *e = my_pif(c, 1, &p);
    if (!e && !is_null_ref(p->v[FIDX(PIF, bond_slave_of)]))
        e = api_fail(CANNOT_PLUG_BOND_SLAVE, p->ref);
    else if (!e && streq(mode, "None") && streq(p->v[FIDX(PIF, management)], "true") &&
             streq(p->v[FIDX(PIF, primary_address_type)], "IPv6"))
        e = api_fail(PIF_IS_MANAGEMENT_INTERFACE, p->ref);
    else if (!e && is_static &&
             (!valid_ip(AF_INET6, addr) || atoi(slash + 1) < 1 || atoi(slash + 1) > 128))
        e = api_fail(INVALID_IP_ADDRESS_SPECIFIED, "IPv6");
    else if (!e && is_static && *gw && !valid_ip(AF_INET6, gw))
        e = api_fail(INVALID_IP_ADDRESS_SPECIFIED, "gateway");
    else if (!e)
        e = check_dns(dns);
    if (!e) {
        struct strbuf sb;
        strbuf_init(&sb, 64);
        strbuf_addc(&sb, '[');
        if (is_static)
            strlist_add_quoted(&sb, ip, strlen(ip));
        strbuf_addc(&sb, ']');
        net_tx_set(tx, p, FIDX(PIF, ipv6_configuration_mode), mode);
        net_tx_set(tx, p, FIDX(PIF, IPv6), sb.buf);
        net_tx_set(tx, p, FIDX(PIF, ipv6_gateway), is_static ? gw : "");
        if (*dns)
            net_tx_set(tx, p, FIDX(PIF, DNS), dns);
        net_tx_set(tx, p, FIDX(PIF, currently_attached), "true");
        strbuf_done(&sb);
    }
    return finish(c, tx, e);
}

static struct api_error *set_primary_address_type(struct call *c)
{
    const struct row *p = NULL;
    const char *type = arg_str(c, 2);
    struct net_tx *tx = net_tx_new();
    db_wrlock();
    struct api_error *e = my_pif(c, 1, &p);
    if (!e && streq(p->v[FIDX(PIF, management)], "true")) {
        int f = streq(type, "IPv6") ? FIDX(PIF, ipv6_configuration_mode)
                                    : FIDX(PIF, ip_configuration_mode);
        if (streq(p->v[f], "None"))
            e = streq(type, "IPv6") ? api_fail(PIF_HAS_NO_V6_NETWORK_CONFIGURATION, p->ref)
                                    : api_fail(PIF_HAS_NO_NETWORK_CONFIGURATION, p->ref);
    }
    if (!e)
        net_tx_set(tx, p, FIDX(PIF, primary_address_type), type);
    return finish(c, tx, e);
}

/* ---- the host's management interface ---- */

/* Makes pif_ref this host's management interface. */
static struct api_error *move_management(struct call *c, const char *pif_ref)
{
    const struct row *p = NULL;
    struct net_tx *tx = net_tx_new();
    db_wrlock();
    struct api_error *e = api_lookup(C_PIF, pif_ref, &p);
    if (!e && !streq(p->v[FIDX(PIF, host)], xapi_state.host_ref))
        e = api_fail(PIF_NOT_ATTACHED_TO_HOST, p->ref, xapi_state.host_ref);
    if (!e && !is_null_ref(p->v[FIDX(PIF, bond_slave_of)]))
        e = api_fail(CANNOT_PLUG_BOND_SLAVE, p->ref);
    else if (!e && streq(p->v[FIDX(PIF, primary_address_type)], "IPv6") &&
             streq(p->v[FIDX(PIF, ipv6_configuration_mode)], "None"))
        e = api_fail(PIF_HAS_NO_V6_NETWORK_CONFIGURATION, p->ref);
    else if (!e && streq(p->v[FIDX(PIF, primary_address_type)], "IPv4") &&
             streq(p->v[FIDX(PIF, ip_configuration_mode)], "None"))
        e = api_fail(PIF_HAS_NO_NETWORK_CONFIGURATION, p->ref);
    if (!e) {
        size_t it = 0;
        const struct row *r;
        while (db_next(C_PIF, &it, &r))
            if (r != p && streq(r->v[FIDX(PIF, host)], xapi_state.host_ref))
                net_tx_set(tx, r, FIDX(PIF, management), "false");
        net_tx_set(tx, p, FIDX(PIF, management), "true");
        net_tx_set(tx, p, FIDX(PIF, currently_attached), "true");
    }
    return finish(c, tx, e);
}

static struct api_error *management_reconfigure(struct call *c)
{
    return move_management(c, arg_str(c, 1));
}

/* The pool's form: the management interface of every host (this one,
 * until pools land) moves to its PIF on the network. */
static struct api_error *pool_management_reconfigure(struct call *c)
{
    const struct row *n = NULL, *r, *found = NULL;
    db_rdlock();
    struct api_error *e = api_lookup(C_network, arg_str(c, 1), &n);
    size_t it = 0;
    while (!e && !found && db_next(C_PIF, &it, &r))
        if (streq(r->v[FIDX(PIF, host)], xapi_state.host_ref) &&
            streq(r->v[FIDX(PIF, network)], n->ref))
            found = r;
    if (!e && !found)
        e = api_fail(PIF_NOT_PRESENT, xapi_state.host_ref, n->ref);
    char pif[64];
    if (!e)
        snprintf(pif, sizeof(pif), "%s", found->ref);
    db_unlock();
    return e ? e : move_management(c, pif);
}

static struct api_error *get_management_interface(struct call *c)
{
    const struct row *h = NULL, *r, *found = NULL;
    db_rdlock();
    struct api_error *e = api_lookup(C_host, arg_str(c, 1), &h);
    size_t it = 0;
    while (!e && !found && db_next(C_PIF, &it, &r))
        if (streq(r->v[FIDX(PIF, host)], h->ref) && streq(r->v[FIDX(PIF, management)], "true"))
            found = r;
    if (!e && !found)
        e = api_failf(INTERNAL_ERROR, "Management interface not found");
    if (!e)
        out_string(c->out, found->ref);
    db_unlock();
    return e;
}

/* ---- properties (gro), as XCP's set_property ---- */

static struct api_error *set_property(struct call *c)
{
    const struct row *p = NULL;
    const char *name = arg_str(c, 2), *value = arg_str(c, 3);
    struct net_tx *tx = net_tx_new();
    struct strbuf scratch;
    strbuf_init(&scratch, 0);
    db_wrlock();
    struct api_error *e = my_pif(c, 1, &p);
    if (!e && (!streq(name, "gro") || (!streq(value, "on") && !streq(value, "off")))) {
        _cleanup_free_ char *what = xasprintf("%s = %s", name, value);
        e = api_fail(INVALID_VALUE, "properties", what);
    }
    /* Only bond masters and unbonded physical PIFs have properties. */
    const char *bond = e ? "" : first_ref(db_value(p, FIDX(PIF, bond_master_of), &scratch));
    if (!e && ((!*bond && !streq(p->v[FIDX(PIF, physical)], "true")) ||
               !is_null_ref(p->v[FIDX(PIF, bond_slave_of)])))
        e = api_fail(CANNOT_CHANGE_PIF_PROPERTIES, p->ref);
    if (!e) {
        _cleanup_free_ char *props = strmap_with(p->v[FIDX(PIF, properties)], name, value);
        net_tx_set(tx, p, FIDX(PIF, properties), props);
        /* A bond's members take its properties (networkd applies them to
         * the NICs). */
        size_t it = 0;
        const struct row *r;
        while (*bond && db_next(C_PIF, &it, &r))
            if (streq(r->v[FIDX(PIF, bond_slave_of)], bond))
                net_tx_set(tx, r, FIDX(PIF, properties), props);
    }
    strbuf_done(&scratch);
    return finish(c, tx, e);
}

/* ---- the records alone, as XCP's db_introduce and db_forget ---- */

static struct api_error *db_forget(struct call *c)
{
    const struct row *p = NULL;
    struct net_tx *tx = net_tx_new();
    db_wrlock();
    struct api_error *e = api_lookup(C_PIF, arg_str(c, 1), &p);
    if (!e) {
        /* Only the record goes (no check, no unplug), as in XCP; its
         * metrics go with it unless another PIF (a tunnel's) shares them. */
        const struct row *m = db_get(C_PIF_metrics, p->v[FIDX(PIF, metrics)]);
        size_t it = 0;
        const struct row *r;
        while (m && db_next(C_PIF, &it, &r))
            if (r != p && streq(r->v[FIDX(PIF, metrics)], m->ref))
                m = NULL;
        if (m)
            net_tx_delete(tx, m);
        net_tx_delete(tx, p);
    }
    return finish(c, tx, e);
}

static struct api_error *db_introduce(struct call *c)
{
    /* Parameters by position, as the message declares them. */
    enum {
        DEVICE = 1,
        NETWORK,
        HOST,
        MAC,
        MTU,
        VLAN,
        PHYSICAL,
        IPMODE,
        IP,
        NETMASK,
        GATEWAY,
        DNS,
        BOND_SLAVE_OF,
        VLAN_MASTER_OF,
        MANAGEMENT,
        OTHER_CONFIG,
        DISALLOW_UNPLUG,
        IPV6MODE,
        IPV6,
        IPV6_GATEWAY,
        PRIMARY,
        MANAGED,
        PROPERTIES
    };
    static const struct {
        int arg, field;
    } copy[] = {{DEVICE, FIDX(PIF, device)},
                {NETWORK, FIDX(PIF, network)},
                {HOST, FIDX(PIF, host)},
                {MAC, FIDX(PIF, MAC)},
                {MTU, FIDX(PIF, MTU)},
                {VLAN, FIDX(PIF, VLAN)},
                {PHYSICAL, FIDX(PIF, physical)},
                {IPMODE, FIDX(PIF, ip_configuration_mode)},
                {IP, FIDX(PIF, IP)},
                {NETMASK, FIDX(PIF, netmask)},
                {GATEWAY, FIDX(PIF, gateway)},
                {DNS, FIDX(PIF, DNS)},
                {VLAN_MASTER_OF, FIDX(PIF, VLAN_master_of)},
                {MANAGEMENT, FIDX(PIF, management)},
                {OTHER_CONFIG, FIDX(PIF, other_config)},
                {DISALLOW_UNPLUG, FIDX(PIF, disallow_unplug)},
                {IPV6MODE, FIDX(PIF, ipv6_configuration_mode)},
                {IPV6, FIDX(PIF, IPv6)},
                {IPV6_GATEWAY, FIDX(PIF, ipv6_gateway)},
                {PRIMARY, FIDX(PIF, primary_address_type)},
                {MANAGED, FIDX(PIF, managed)},
                {PROPERTIES, FIDX(PIF, properties)}};
    const struct row *r = NULL;
    char pref[64], mref[64];
    struct net_tx *tx = net_tx_new();
    db_wrlock();
    struct api_error *e = api_lookup(C_network, arg_str(c, NETWORK), &r);
    if (!e)
        e = api_lookup(C_host, arg_str(c, HOST), &r);
    if (!e && !is_null_ref(arg_str(c, VLAN_MASTER_OF)))
        e = api_lookup(C_VLAN, arg_str(c, VLAN_MASTER_OF), &r);
    if (!e && !network_valid_mac(arg_str(c, MAC)))
        e = api_fail(MAC_INVALID, arg_str(c, MAC));
    if (!e) {
        char **m = api_new_row(C_PIF_metrics, mref);
        net_tx_create(tx, C_PIF_metrics, mref, m);
        char **v = api_new_row(C_PIF, pref);
        for (size_t i = 0; i < ELEMENTSOF(copy); i++)
            api_set_val(v, copy[i].field, arg_str(c, copy[i].arg));
        /* XCP records it unplugged and in no bond, whatever was given. */
        api_set_val(v, FIDX(PIF, currently_attached), "false");
        api_set_val(v, FIDX(PIF, bond_slave_of), "OpaqueRef:NULL");
        api_set_val(v, FIDX(PIF, metrics), mref);
        net_tx_create(tx, C_PIF, pref, v);
        e = net_tx_apply(tx);
    }
    e = net_tx_end(tx, e);
    if (!e)
        out_string(c->out, pref);
    return e;
}

void pif_register(void);
void pif_register(void)
{
    api_register(M_PIF_set_property, set_property);
    api_register(M_PIF_db_forget, db_forget);
    api_register(M_PIF_db_introduce, db_introduce);
    api_register(M_PIF_scan, scan);
    api_register(M_PIF_introduce, introduce);
    api_register(M_PIF_forget, forget);
    api_register(M_PIF_destroy, destroy);
    api_register(M_PIF_plug, plug);
    api_register(M_PIF_unplug, unplug);
    api_register(M_PIF_reconfigure_ip, reconfigure_ip);
    api_register(M_PIF_reconfigure_ipv6, reconfigure_ipv6);
    api_register(M_PIF_set_primary_address_type, set_primary_address_type);
    api_register(M_host_management_reconfigure, management_reconfigure);
    api_register(M_host_get_management_interface, get_management_interface);
    api_register(M_pool_management_reconfigure, pool_management_reconfigure);
}
