/* VLAN.create and VLAN.destroy: a VLAN is an untagged PIF on the VLAN's
 * network, whose bridge networkd makes as a fake bridge on the tagged
 * PIF's bridge (vlan/set), as XCP does. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/util.h"
#include "xapi-c/api.h"
#include "xapi-c/config.h"
#include "xapi-c/db.h"
#include "xapi-c/network.h"

static bool is_null_ref(const char *ref)
{
    return !*ref || streq(ref, "OpaqueRef:NULL");
}

/* Whether the network has a PIF on this host (returned). db lock held. */
static const struct row *pif_on(const char *net_ref)
{
    size_t it = 0;
    const struct row *r;
    while (db_next(C_PIF, &it, &r))
        if (streq(r->v[FIDX(PIF, network)], net_ref) &&
            streq(r->v[FIDX(PIF, host)], xapi_state.host_ref))
            return r;
    return NULL;
}

static struct api_error *check(const struct row *tagged, int64_t tag, const struct row *net)
{
    char buf[32];
    snprintf(buf, sizeof(buf), "%" PRId64, tag);
    if (tag < 0 || tag > 4094)
        return api_fail(VLAN_TAG_INVALID, buf);
    if (!streq(tagged->v[FIDX(PIF, host)], xapi_state.host_ref))
        return api_fail(PIF_NOT_ATTACHED_TO_HOST, tagged->ref, xapi_state.host_ref);
    if (!is_null_ref(tagged->v[FIDX(PIF, bond_slave_of)]))
        return api_fail(CANNOT_ADD_VLAN_TO_BOND_SLAVE, tagged->ref);
    if (!is_null_ref(tagged->v[FIDX(PIF, VLAN_master_of)]))
        return api_fail(PIF_IS_VLAN, tagged->ref);
    size_t it = 0;
    const struct row *v;
    while (db_next(C_VLAN, &it, &v))
        if (streq(v->v[FIDX(VLAN, tagged_PIF)], tagged->ref) && streq(v->v[FIDX(VLAN, tag)], buf))
            return api_fail(PIF_VLAN_EXISTS, tagged->v[FIDX(PIF, device)]);
    const struct row *other = pif_on(net->ref);
    if (other)
        return api_fail(NETWORK_ALREADY_CONNECTED, net->ref, other->ref);
    if (!*net->v[FIDX(network, bridge)] || !streq(net->v[FIDX(network, managed)], "true"))
        return api_fail(NETWORK_UNMANAGED, net->ref);
    return NULL;
}

struct api_error *network_vlan_create(const char *tagged_ref, int64_t tag, const char *net_ref,
                                      char ret_vlan[64], char ret_pif[64])
{
    const struct row *tagged = NULL, *net = NULL;
    char vref[64], pref[64], mref[64], buf[32];
    struct net_tx *tx = net_tx_new();
    db_wrlock();
    struct api_error *e = api_lookup(C_PIF, tagged_ref, &tagged);
    if (!e)
        e = api_lookup(C_network, net_ref, &net);
    if (!e)
        e = check(tagged, tag, net);
    if (!e) {
        char **m = api_new_row(C_PIF_metrics, mref);
        const struct row *tm = db_get(C_PIF_metrics, tagged->v[FIDX(PIF, metrics)]);
        if (tm) /* the VLAN's link is its parent's */
            for (int f = 0; f < model_classes[C_PIF_metrics].n_fields; f++)
                if (tm->v[f] && f != FIDX(PIF_metrics, uuid))
                    api_set_val(m, f, tm->v[f]);
        net_tx_create(tx, C_PIF_metrics, mref, m);

        char **v = api_new_row(C_VLAN, vref);
        char **p = api_new_row(C_PIF, pref);
        snprintf(buf, sizeof(buf), "%" PRId64, tag);
        api_set_val(v, FIDX(VLAN, tagged_PIF), tagged->ref);
        api_set_val(v, FIDX(VLAN, untagged_PIF), pref);
        api_set_val(v, FIDX(VLAN, tag), buf);
        api_set_val(p, FIDX(PIF, device), tagged->v[FIDX(PIF, device)]);
        api_set_val(p, FIDX(PIF, network), net->ref);
        api_set_val(p, FIDX(PIF, host), xapi_state.host_ref);
        api_set_val(p, FIDX(PIF, MAC), tagged->v[FIDX(PIF, MAC)]);
        api_set_val(p, FIDX(PIF, MTU), net->v[FIDX(network, MTU)]);
        api_set_val(p, FIDX(PIF, VLAN), buf);
        api_set_val(p, FIDX(PIF, metrics), mref);
        api_set_val(p, FIDX(PIF, physical), "false");
        api_set_val(p, FIDX(PIF, currently_attached), "true");
        api_set_val(p, FIDX(PIF, VLAN_master_of), vref);
        net_tx_create(tx, C_PIF, pref, p);
        net_tx_create(tx, C_VLAN, vref, v);
        e = net_tx_apply(tx);
    }
    e = net_tx_end(tx, e);
    if (!e) {
        snprintf(ret_vlan, 64, "%s", vref);
        if (ret_pif)
            snprintf(ret_pif, 64, "%s", pref);
    }
    return e;
}

static struct api_error *vlan_create(struct call *c)
{
    char vref[64];
    struct api_error *e =
        network_vlan_create(arg_str(c, 1), arg_int(c, 2), arg_str(c, 3), vref, NULL);
    if (!e)
        out_string(c->out, vref);
    return e;
}

struct api_error *network_vlan_destroy(const char *vlan_ref)
{
    const struct row *v = NULL;
    struct net_tx *tx = net_tx_new();
    db_wrlock();
    struct api_error *e = api_lookup(C_VLAN, vlan_ref, &v);
    const struct row *p = e ? NULL : db_get(C_PIF, v->v[FIDX(VLAN, untagged_PIF)]);
    if (p && streq(p->v[FIDX(PIF, management)], "true"))
        e = api_fail(PIF_IS_MANAGEMENT_INTERFACE, p->ref);
    if (!e && p) {
        size_t it = 0;
        const struct row *vif;
        while (!e && db_next(C_VIF, &it, &vif))
            if (streq(vif->v[FIDX(VIF, network)], p->v[FIDX(PIF, network)]) &&
                streq(vif->v[FIDX(VIF, currently_attached)], "true"))
                e = api_fail(VIF_IN_USE, p->v[FIDX(PIF, network)], vif->ref);
    }
    if (!e) {
        if (p) {
            const struct row *m = db_get(C_PIF_metrics, p->v[FIDX(PIF, metrics)]);
            if (m)
                net_tx_delete(tx, m);
            net_tx_delete(tx, p);
        }
        net_tx_delete(tx, v);
        e = net_tx_apply(tx);
    }
    return net_tx_end(tx, e);
}

static struct api_error *vlan_destroy(struct call *c)
{
    struct api_error *e = network_vlan_destroy(arg_str(c, 1));
    if (!e)
        out_void(c->out);
    return e;
}

void vlan_register(void);
void vlan_register(void)
{
    api_register(M_VLAN_create, vlan_create);
    api_register(M_VLAN_destroy, vlan_destroy);
}
