/* Bond messages: create makes a bond master PIF (bond<N>) on the given
 * network over the member PIFs, moving the members' address configuration
 * and the management role onto it as XCP does; destroy moves them back to
 * the primary member; set_mode and set_property change the OVS bond
 * (networkd's bond/set). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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

/* The address configuration that moves between a bond and its primary
 * member. */
static const int ip_fields[] = {
    FIDX(PIF, ip_configuration_mode),
    FIDX(PIF, IP),
    FIDX(PIF, netmask),
    FIDX(PIF, gateway),
    FIDX(PIF, DNS),
    FIDX(PIF, ipv6_configuration_mode),
    FIDX(PIF, IPv6),
    FIDX(PIF, ipv6_gateway),
    FIDX(PIF, primary_address_type),
    FIDX(PIF, management),
};

static const char *cleared(int f)
{
    if (f == FIDX(PIF, ip_configuration_mode) || f == FIDX(PIF, ipv6_configuration_mode))
        return "None";
    if (f == FIDX(PIF, IPv6))
        return "[]";
    if (f == FIDX(PIF, primary_address_type))
        return "IPv4";
    if (f == FIDX(PIF, management))
        return "false";
    return "";
}

static bool has_ip(const struct row *p)
{
    return !streq(p->v[FIDX(PIF, ip_configuration_mode)], "None") ||
           !streq(p->v[FIDX(PIF, ipv6_configuration_mode)], "None") ||
           streq(p->v[FIDX(PIF, management)], "true");
}

static struct api_error *check_member(const struct row *p)
{
    struct api_error *e = NULL;
    if (!streq(p->v[FIDX(PIF, host)], xapi_state.host_ref))
        e = api_fail(PIF_CANNOT_BOND_CROSS_HOST);
    else if (!is_null_ref(p->v[FIDX(PIF, bond_slave_of)]))
        e = api_fail(PIF_ALREADY_BONDED, p->ref);
    else if (!is_null_ref(p->v[FIDX(PIF, VLAN_master_of)]))
        e = api_fail(PIF_IS_VLAN, p->ref);
    else if (!streq(p->v[FIDX(PIF, physical)], "true"))
        e = api_fail(PIF_IS_NOT_PHYSICAL, p->ref);
    return e;
}

/* What rides on the PIFs from moves to the PIF to (ref, device, MAC and
 * network given, as its row may be in this change only), as XCP does
 * when a bond is made or unmade: their VLANs, and the attached VIFs on
 * their networks. db lock held. */
static void move_dependents(struct net_tx *tx, const struct row *const *from, size_t n,
                            const char *to, const char *dev, const char *mac, const char *net)
{
    size_t it = 0;
    const struct row *r;
    while (db_next(C_VLAN, &it, &r))
        for (size_t i = 0; i < n; i++) {
            if (!streq(r->v[FIDX(VLAN, tagged_PIF)], from[i]->ref))
                continue;
            net_tx_set(tx, r, FIDX(VLAN, tagged_PIF), to);
            const struct row *u = db_get(C_PIF, r->v[FIDX(VLAN, untagged_PIF)]);
            if (u) {
                net_tx_set(tx, u, FIDX(PIF, device), dev);
                net_tx_set(tx, u, FIDX(PIF, MAC), mac);
            }
        }
    it = 0;
    while (db_next(C_VIF, &it, &r))
        for (size_t i = 0; i < n; i++)
            if (streq(r->v[FIDX(VIF, currently_attached)], "true") &&
                streq(r->v[FIDX(VIF, network)], from[i]->v[FIDX(PIF, network)]))
                net_tx_set(tx, r, FIDX(VIF, network), net);
}

static struct api_error *check_props(const char *mode, const char *props)
{
    struct strlist_iter it;
    const char *k, *v;
    struct api_error *e = NULL;
    (void)mode;
    strlist_iter_init(&it, props);
    while (!e && strlist_iter_next(&it, &k, &v)) {
        if (streq(k, "hashing_algorithm") && !streq(v, "src_mac") && !streq(v, "tcpudp_ports"))
            e = api_fail(INVALID_VALUE, "hashing_algorithm", v);
    }
    strlist_iter_done(&it);
    return e;
}

static struct api_error *bond_create(struct call *c)
{
    const struct row *net = NULL;
    const char *members = arg_str(c, 2), *mac = arg_str(c, 3), *mode = arg_str(c, 4);
    const char *props = arg_str(c, 5);
    char bref[64], pref[64], mref[64], dev[16];
    struct net_tx *tx = net_tx_new();
    const struct row *m[16];
    size_t n = 0;
    db_wrlock();
    struct api_error *e = api_lookup(C_network, arg_str(c, 1), &net);
    struct strlist_iter it;
    const char *ref;
    strlist_iter_init(&it, members);
    while (!e && strlist_iter_next(&it, NULL, &ref)) {
        const struct row *p;
        if ((e = api_lookup(C_PIF, ref, &p)))
            break;
        bool dup = false;
        for (size_t i = 0; i < n; i++)
            dup = dup || m[i] == p;
        if (dup)
            continue;
        if (n == ELEMENTSOF(m))
            e = api_fail(INVALID_VALUE, "members", "more than 16 PIFs");
        else if (!(e = check_member(p)))
            m[n++] = p;
    }
    strlist_iter_done(&it);
    if (!e && n < 2)
        e = api_fail(PIF_BOND_NEEDS_MORE_MEMBERS);
    if (!e && *mac && !network_valid_mac(mac))
        e = api_fail(MAC_INVALID, mac);
    if (!e)
        e = check_props(mode, props);
    if (!e) {
        size_t it2 = 0;
        const struct row *r;
        while (!e && db_next(C_PIF, &it2, &r))
            if (streq(r->v[FIDX(PIF, network)], net->ref) &&
                streq(r->v[FIDX(PIF, host)], xapi_state.host_ref))
                e = api_fail(NETWORK_ALREADY_CONNECTED, net->ref, r->ref);
    }
    if (!e && (!*net->v[FIDX(network, bridge)] || !streq(net->v[FIDX(network, managed)], "true")))
        e = api_fail(NETWORK_UNMANAGED, net->ref);
    if (!e) {
        /* the primary member: the one with an address (management first) */
        const struct row *primary = m[0];
        for (size_t i = 0; i < n; i++)
            if (streq(m[i]->v[FIDX(PIF, management)], "true") || (has_ip(m[i]) && !has_ip(primary)))
                primary = m[i];
        network_free_name("bond", dev);
        char **mv = api_new_row(C_PIF_metrics, mref);
        const struct row *pm = db_get(C_PIF_metrics, primary->v[FIDX(PIF, metrics)]);
        if (pm)
            for (int f = 0; f < model_classes[C_PIF_metrics].n_fields; f++)
                if (pm->v[f] && f != FIDX(PIF_metrics, uuid))
                    api_set_val(mv, f, pm->v[f]);
        net_tx_create(tx, C_PIF_metrics, mref, mv);
        char **p = api_new_row(C_PIF, pref);
        api_set_val(p, FIDX(PIF, device), dev);
        api_set_val(p, FIDX(PIF, network), net->ref);
        api_set_val(p, FIDX(PIF, host), xapi_state.host_ref);
        api_set_val(p, FIDX(PIF, MAC), *mac ? mac : primary->v[FIDX(PIF, MAC)]);
        api_set_val(p, FIDX(PIF, MTU), net->v[FIDX(network, MTU)]);
        api_set_val(p, FIDX(PIF, VLAN), "-1");
        api_set_val(p, FIDX(PIF, metrics), mref);
        api_set_val(p, FIDX(PIF, physical), "false");
        api_set_val(p, FIDX(PIF, currently_attached), "true");
        for (size_t i = 0; i < ELEMENTSOF(ip_fields); i++)
            api_set_val(p, ip_fields[i], primary->v[ip_fields[i]]);
        net_tx_create(tx, C_PIF, pref, p);
        char **b = api_new_row(C_Bond, bref);
        api_set_val(b, FIDX(Bond, master), pref);
        api_set_val(b, FIDX(Bond, primary_slave), primary->ref);
        api_set_val(b, FIDX(Bond, mode), mode);
        api_set_val(b, FIDX(Bond, properties), props);
        char links[32];
        size_t up = 0;
        for (size_t i = 0; i < n; i++) {
            const struct row *mm = db_get(C_PIF_metrics, m[i]->v[FIDX(PIF, metrics)]);
            up += mm && streq(mm->v[FIDX(PIF_metrics, carrier)], "true");
        }
        snprintf(links, sizeof(links), "%zu", up);
        api_set_val(b, FIDX(Bond, links_up), links);
        api_set_val(b, FIDX(Bond, auto_update_mac), *mac ? "false" : "true");
        net_tx_create(tx, C_Bond, bref, b);
        move_dependents(tx, m, n, pref, dev, *mac ? mac : primary->v[FIDX(PIF, MAC)], net->ref);
        for (size_t i = 0; i < n; i++) {
            net_tx_set(tx, m[i], FIDX(PIF, bond_slave_of), bref);
            for (size_t k = 0; k < ELEMENTSOF(ip_fields); k++)
                net_tx_set(tx, m[i], ip_fields[k], cleared(ip_fields[k]));
        }
        e = net_tx_apply(tx);
    }
    e = net_tx_end(tx, e);
    if (!e)
        out_string(c->out, bref);
    return e;
}

static struct api_error *bond_destroy(struct call *c)
{
    const struct row *b = NULL;
    struct net_tx *tx = net_tx_new();
    db_wrlock();
    struct api_error *e = api_lookup(C_Bond, arg_str(c, 1), &b);
    const struct row *master = e ? NULL : db_get(C_PIF, b->v[FIDX(Bond, master)]);
    if (!e) {
        const struct row *primary = db_get(C_PIF, b->v[FIDX(Bond, primary_slave)]);
        size_t it = 0;
        const struct row *r;
        while (db_next(C_PIF, &it, &r)) {
            if (!streq(r->v[FIDX(PIF, bond_slave_of)], b->ref))
                continue;
            if (!primary)
                primary = r;
            net_tx_set(tx, r, FIDX(PIF, bond_slave_of), "OpaqueRef:NULL");
            net_tx_set(tx, r, FIDX(PIF, currently_attached), "true");
        }
        if (master && primary) {
            for (size_t k = 0; k < ELEMENTSOF(ip_fields); k++)
                net_tx_set(tx, primary, ip_fields[k], master->v[ip_fields[k]]);
            const struct row *from[] = {master};
            move_dependents(tx, from, 1, primary->ref, primary->v[FIDX(PIF, device)],
                            primary->v[FIDX(PIF, MAC)], primary->v[FIDX(PIF, network)]);
        }
        if (master) {
            const struct row *m = db_get(C_PIF_metrics, master->v[FIDX(PIF, metrics)]);
            if (m)
                net_tx_delete(tx, m);
            net_tx_delete(tx, master);
        }
        net_tx_delete(tx, b);
        e = net_tx_apply(tx);
    }
    e = net_tx_end(tx, e);
    if (!e)
        out_void(c->out);
    return e;
}

static struct api_error *set_mode(struct call *c)
{
    const struct row *b = NULL;
    struct net_tx *tx = net_tx_new();
    db_wrlock();
    struct api_error *e = api_lookup(C_Bond, arg_str(c, 1), &b);
    if (!e)
        net_tx_set(tx, b, FIDX(Bond, mode), arg_str(c, 2));
    return net_tx_finish(tx, e, c->out);
}

static struct api_error *set_property(struct call *c)
{
    const struct row *b = NULL;
    const char *name = arg_str(c, 2), *value = arg_str(c, 3);
    struct net_tx *tx = net_tx_new();
    db_wrlock();
    struct api_error *e = api_lookup(C_Bond, arg_str(c, 1), &b);
    if (!e) {
        char *props = strmap_with(b->v[FIDX(Bond, properties)], name, value);
        e = check_props(b->v[FIDX(Bond, mode)], props);
        if (!e)
            net_tx_set(tx, b, FIDX(Bond, properties), props);
        free(props);
    }
    return net_tx_finish(tx, e, c->out);
}

void bond_register(void);
void bond_register(void)
{
    api_register(M_Bond_create, bond_create);
    api_register(M_Bond_destroy, bond_destroy);
    api_register(M_Bond_set_mode, set_mode);
    api_register(M_Bond_set_property, set_property);
}
