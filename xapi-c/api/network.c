/* network messages: create allocates the bridge (xapi<N>) and destroy
 * refuses a network that VIFs or PIFs still use, as xapi does, each
 * followed by the host's network configuration sent to networkd (see
 * network.h); purposes and the default locking mode. */
#include <stdlib.h>
#include <string.h>

#include "lib/strlist.h"
#include "lib/util.h"
#include "xapi-c/api.h"
#include "xapi-c/db.h"
#include "xapi-c/network.h"

/* The first ref of a set's canonical text, newly allocated, or NULL. */
static char *first_of(const char *set)
{
    struct strlist_iter it;
    const char *ref;
    char *first = NULL;
    strlist_iter_init(&it, set);
    if (strlist_iter_next(&it, NULL, &ref))
        first = xstrdup(ref);
    strlist_iter_done(&it);
    return first;
}

/* Names xapi gives (xenbrN, xapiN) and the kernel's (vifD.N, tapD.N,
 * ethN) are not for a client to choose, as on XCP; nor a PIF's device. db
 * lock held. */
static bool reserved(const char *br)
{
    static const char *const prefixes[] = {"xen", "xapi", "vif", "tap", "eth"};
    for (size_t i = 0; i < ELEMENTSOF(prefixes); i++)
        if (strncmp(br, prefixes[i], strlen(prefixes[i])) == 0)
            return true;
    size_t it = 0;
    const struct row *r;
    while (db_next(C_PIF, &it, &r))
        if (streq(r->v[FIDX(PIF, device)], br))
            return true;
    return false;
}

static struct api_error *network_create(struct call *c)
{
    char ref[64];
    char **vals = api_new_row(C_network, ref);
    struct api_error *e = NULL;
    api_rec_to_vals(c, vals);
    if (!vals[FIDX(network, other_config)])
        api_set_val(vals, FIDX(network, other_config), "{}");
    long long mtu = strtoll(vals[FIDX(network, MTU)], NULL, 10);
    if (mtu == 0)
        api_set_val(vals, FIDX(network, MTU), "1500");
    else if (mtu < 68 || mtu > 65535)
        e = api_fail(INVALID_VALUE, "MTU", vals[FIDX(network, MTU)]);
    struct net_tx *tx = net_tx_new();
    db_wrlock();
    const char *br = vals[FIDX(network, bridge)];
    if (e) {
    } else if (!*br) {
        char name[16];
        network_free_name("xapi", name);
        api_set_val(vals, FIDX(network, bridge), name);
    } else if (!network_valid_ifname(br) || reserved(br)) {
        e = api_fail(INVALID_VALUE, "bridge", br);
    } else {
        size_t it = 0;
        const struct row *r;
        while (!e && db_next(C_network, &it, &r))
            if (streq(r->v[FIDX(network, bridge)], br))
                e = api_fail(INVALID_VALUE, "bridge", br);
    }
    bool managed = streq(vals[FIDX(network, managed)], "true");
    if (!e) {
        net_tx_create(tx, C_network, ref, vals);
        vals = NULL;
        e = net_tx_apply(tx);
    }
    db_unlock();
    if (vals) {
        api_free_row(C_network, vals);
    }
    if (!e && managed && network_enabled())
        e = net_tx_commit(tx);
    else
        net_tx_free(tx);
    if (!e)
        out_string(c->out, ref);
    return e;
}

static struct api_error *network_destroy(struct call *c)
{
    const struct row *n = NULL;
    struct api_error *e;
    struct strbuf vifs, pifs;
    struct net_tx *tx = net_tx_new();

    strbuf_init(&vifs, 0);
    strbuf_init(&pifs, 0);
    db_wrlock();
    if (!(e = api_lookup(C_network, arg_str(c, 1), &n))) {
        char *vif = first_of(db_value(n, FIDX(network, VIFs), &vifs));
        char *pif = first_of(db_value(n, FIDX(network, PIFs), &pifs));
        if (vif)
            e = api_fail(NETWORK_CONTAINS_VIF, vif);
        else if (pif)
            e = api_fail(NETWORK_CONTAINS_PIF, pif);
        free(vif);
        free(pif);
        if (!e) {
            net_tx_delete(tx, n);
            e = net_tx_apply(tx);
        }
    }
    db_unlock();
    strbuf_done(&vifs);
    strbuf_done(&pifs);
    if (!e && network_enabled())
        e = net_tx_commit(tx);
    else
        net_tx_free(tx);
    if (!e)
        out_void(c->out);
    return e;
}

/* nbd and insecure_nbd exclude each other, as on XCP. */
static struct api_error *change_purpose(struct call *c, bool add)
{
    const struct row *n = NULL;
    const char *value = arg_str(c, 2);
    struct api_error *e;
    db_wrlock();
    if (!(e = api_lookup(C_network, arg_str(c, 1), &n))) {
        const char *set = n->v[FIDX(network, purpose)];
        const char *other = streq(value, "nbd") ? "insecure_nbd" : "nbd";
        struct strbuf sb;
        struct strlist_iter it;
        const char *v;
        if (add && strlist_contains(set, other))
            e = api_fail(NETWORK_INCOMPATIBLE_PURPOSES, value, other);
        strbuf_init(&sb, 32);
        strbuf_addc(&sb, '[');
        strlist_iter_init(&it, set);
        while (strlist_iter_next(&it, NULL, &v))
            if (!streq(v, value)) {
                if (sb.len > 1)
                    strbuf_addc(&sb, ',');
                strlist_add_quoted(&sb, v, strlen(v));
            }
        strlist_iter_done(&it);
        if (add) {
            if (sb.len > 1)
                strbuf_addc(&sb, ',');
            strlist_add_quoted(&sb, value, strlen(value));
        }
        strbuf_addc(&sb, ']');
        if (!e) {
            struct net_tx *tx = net_tx_new();
            net_tx_set(tx, n, FIDX(network, purpose), sb.buf);
            e = net_tx_apply(tx);
            net_tx_free(tx);
        }
        strbuf_done(&sb);
    }
    db_unlock();
    if (!e)
        out_void(c->out);
    return e;
}

static struct api_error *add_purpose(struct call *c)
{
    return change_purpose(c, true);
}

static struct api_error *remove_purpose(struct call *c)
{
    return change_purpose(c, false);
}

static struct api_error *set_default_locking_mode(struct call *c)
{
    const struct row *n = NULL;
    struct net_tx *tx = net_tx_new();
    db_wrlock();
    struct api_error *e = api_lookup(C_network, arg_str(c, 1), &n);
    if (!e) {
        net_tx_set(tx, n, FIDX(network, default_locking_mode), arg_str(c, 2));
        e = net_tx_apply(tx);
    }
    db_unlock();
    if (!e && network_enabled())
        e = net_tx_commit(tx); /* attached VIFs follow the network's default */
    else
        net_tx_free(tx);
    if (!e)
        out_void(c->out);
    return e;
}

void network_register(void);
void network_register(void)
{
    api_register_generic(C_network, MK_CREATE, network_create);
    api_register_generic(C_network, MK_DESTROY, network_destroy);
    api_register(M_network_add_purpose, add_purpose);
    api_register(M_network_remove_purpose, remove_purpose);
    api_register(M_network_set_default_locking_mode, set_default_locking_mode);
}
