/* tunnel.create and tunnel.destroy, as XCP's xapi_tunnel.ml: a tunnel is
 * an access PIF (device tunnel<N>, not physical, on the tunnel's network)
 * over a transport PIF that carries the IP traffic. networkd gives the
 * network's bridge a gre or vxlan port towards the other end once the
 * tunnel's other_config names it (remote_ip, key, dst_port: network.c),
 * which on XCP the SDN controller does; tunnel.status says whether that
 * port is there (active) and with which key. */
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

/* The access PIF of a tunnel, if p is one. db lock held. */
static bool is_access_pif(const struct row *p)
{
    size_t it = 0;
    const struct row *t;
    while (db_next(C_tunnel, &it, &t))
        if (streq(t->v[FIDX(tunnel, access_PIF)], p->ref))
            return true;
    return false;
}

/* XCP's checks, in its order. db lock held. */
static struct api_error *check_create(const struct row *transport, const struct row *net)
{
    if (!streq(net->v[FIDX(network, managed)], "true") || !*net->v[FIDX(network, bridge)])
        return api_fail(NETWORK_UNMANAGED, net->ref);
    if (!streq(transport->v[FIDX(PIF, host)], xapi_state.host_ref))
        return api_fail(PIF_NOT_ATTACHED_TO_HOST, transport->ref, xapi_state.host_ref);
    size_t it = 0;
    const struct row *r;
    while (db_next(C_PIF, &it, &r))
        if (streq(r->v[FIDX(PIF, network)], net->ref) &&
            streq(r->v[FIDX(PIF, host)], xapi_state.host_ref))
            return api_fail(NETWORK_ALREADY_CONNECTED, net->ref, r->ref);
    if (!streq(transport->v[FIDX(PIF, managed)], "true"))
        return api_fail(PIF_UNMANAGED, transport->ref);
    if (!is_null_ref(transport->v[FIDX(PIF, bond_slave_of)]))
        return api_fail(CANNOT_ADD_TUNNEL_TO_BOND_SLAVE, transport->ref);
    if (is_access_pif(transport))
        return api_fail(IS_TUNNEL_ACCESS_PIF, transport->ref);
    it = 0;
    while (db_next(C_host, &it, &r)) {
        char *backend = strmap_get(r->v[FIDX(host, software_version)], "network_backend");
        bool ovs = backend && streq(backend, "openvswitch");
        free(backend);
        if (!ovs)
            return api_fail(OPENVSWITCH_NOT_ACTIVE);
    }
    /* XCP raises this from plugging the new access PIF, after making the
     * records; refused before anything is made, a client sees the same
     * error and nothing is left behind. */
    if (streq(transport->v[FIDX(PIF, ip_configuration_mode)], "None"))
        return api_fail(TRANSPORT_PIF_NOT_CONFIGURED, transport->ref);
    return NULL;
}

/* The first tunnel<N> no access PIF of this host is. db lock held. */
static void device_name(char out[24])
{
    for (int n = 0; n < 10000; n++) {
        snprintf(out, 24, "tunnel%d", n);
        bool used = false;
        size_t it = 0;
        const struct row *t;
        while (!used && db_next(C_tunnel, &it, &t)) {
            const struct row *a = db_get(C_PIF, t->v[FIDX(tunnel, access_PIF)]);
            used = a && streq(a->v[FIDX(PIF, host)], xapi_state.host_ref) &&
                   streq(a->v[FIDX(PIF, device)], out);
        }
        if (!used)
            return;
    }
}

static struct api_error *create(struct call *c)
{
    const struct row *transport = NULL, *net = NULL;
    const char *proto = arg_str(c, 3);
    char tref[64], pref[64], dev[24], mac[18];
    struct net_tx *tx = net_tx_new();

    db_wrlock();
    struct api_error *e = api_lookup(C_PIF, arg_str(c, 1), &transport);
    if (!e)
        e = api_lookup(C_network, arg_str(c, 2), &net);
    if (!e)
        e = check_create(transport, net);
    if (!e) {
        device_name(dev);
        network_random_mac(mac);
        char **p = api_new_row(C_PIF, pref);
        api_set_val(p, FIDX(PIF, device), dev);
        api_set_val(p, FIDX(PIF, network), net->ref);
        api_set_val(p, FIDX(PIF, host), xapi_state.host_ref);
        api_set_val(p, FIDX(PIF, MAC), mac);
        api_set_val(p, FIDX(PIF, MTU), "-1");
        api_set_val(p, FIDX(PIF, VLAN), "-1");
        /* The tunnel's link is its transport's, as XCP shares them. */
        api_set_val(p, FIDX(PIF, metrics), transport->v[FIDX(PIF, metrics)]);
        api_set_val(p, FIDX(PIF, physical), "false");
        api_set_val(p, FIDX(PIF, currently_attached), "true");
        api_set_val(p, FIDX(PIF, primary_address_type),
                    transport->v[FIDX(PIF, primary_address_type)]);
        api_set_val(p, FIDX(PIF, managed), "true");
        api_set_val(p, FIDX(PIF, properties), "{}");
        net_tx_create(tx, C_PIF, pref, p);
        char **t = api_new_row(C_tunnel, tref);
        api_set_val(t, FIDX(tunnel, access_PIF), pref);
        api_set_val(t, FIDX(tunnel, transport_PIF), transport->ref);
        api_set_val(t, FIDX(tunnel, protocol), proto);
        net_tx_create(tx, C_tunnel, tref, t);
        /* Plugging the access PIF plugs its transport. */
        net_tx_set(tx, transport, FIDX(PIF, currently_attached), "true");
        e = net_tx_apply(tx);
    }
    e = net_tx_end(tx, e);
    if (!e)
        out_string(c->out, tref);
    return e;
}

static struct api_error *destroy(struct call *c)
{
    const struct row *t = NULL;
    struct net_tx *tx = net_tx_new();
    db_wrlock();
    struct api_error *e = api_lookup(C_tunnel, arg_str(c, 1), &t);
    const struct row *a = e ? NULL : db_get(C_PIF, t->v[FIDX(tunnel, access_PIF)]);
    if (a && !streq(a->v[FIDX(PIF, host)], xapi_state.host_ref))
        e = api_fail(PIF_NOT_ATTACHED_TO_HOST, a->ref, xapi_state.host_ref);
    else if (a && streq(a->v[FIDX(PIF, management)], "true"))
        e = api_fail(PIF_IS_MANAGEMENT_INTERFACE, a->ref);
    /* XCP unplugs the access PIF first, which a VIF in use refuses. */
    size_t it = 0;
    const struct row *vif;
    while (!e && a && db_next(C_VIF, &it, &vif))
        if (streq(vif->v[FIDX(VIF, network)], a->v[FIDX(PIF, network)]) &&
            streq(vif->v[FIDX(VIF, currently_attached)], "true"))
            e = api_fail(VIF_IN_USE, a->v[FIDX(PIF, network)], vif->ref);
    if (!e) {
        /* The metrics are the transport PIF's: they stay. */
        if (a)
            net_tx_delete(tx, a);
        net_tx_delete(tx, t);
        e = net_tx_apply(tx);
    }
    e = net_tx_end(tx, e);
    if (!e)
        out_void(c->out);
    return e;
}

void tunnel_register(void);
void tunnel_register(void)
{
    api_register(M_tunnel_create, create);
    api_register(M_tunnel_destroy, destroy);
}
