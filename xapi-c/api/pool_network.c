/* The pool's network messages: pool.create_VLAN and
 * pool.create_VLAN_from_PIF make one VLAN on every host of the pool (a
 * PIF per host on the VLAN's network), as XCP does: each host's VLAN
 * through VLAN.create's work, and the ones made so far destroyed again
 * when one fails. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/util.h"
#include "xapi-c/api.h"
#include "xapi-c/config.h"
#include "xapi-c/db.h"
#include "xapi-c/network.h"
#include "xapi-c/out.h"

/* The PIFs to tag, one per host. */
struct targets {
    char (*pif)[64];
    size_t n;
};

static void targets_add(struct targets *t, const char *ref)
{
    t->pif = xrealloc(t->pif, (t->n + 1) * sizeof(*t->pif));
    snprintf(t->pif[t->n++], 64, "%s", ref);
}

static struct api_error *check_tag(int64_t tag)
{
    char buf[32];
    snprintf(buf, sizeof(buf), "%" PRId64, tag);
    return tag < 0 || tag > 4094 ? api_fail(VLAN_TAG_INVALID, buf) : NULL;
}

/* Only this host's VLANs can be made until hosts call each other: a PIF
 * of another host is refused before anything is made. db lock held. */
static struct api_error *check_hosts(const struct targets *t)
{
    for (size_t i = 0; i < t->n; i++) {
        const struct row *p = db_get(C_PIF, t->pif[i]);
        if (p && !streq(p->v[FIDX(PIF, host)], xapi_state.host_ref))
            return api_failf(INTERNAL_ERROR,
                             "cannot make a VLAN on host %s: calls to other hosts of the pool "
                             "are not implemented",
                             p->v[FIDX(PIF, host)]);
    }
    return NULL;
}

/* VLANs on every target, undone on the first failure; the new untagged
 * PIFs are the answer. */
static struct api_error *create_all(struct call *c, const struct targets *t, int64_t tag,
                                    const char *net_ref)
{
    char(*vlans)[64] = xcalloc(t->n ? t->n : 1, 64);
    char(*pifs)[64] = xcalloc(t->n ? t->n : 1, 64);
    struct api_error *e = NULL;
    size_t made = 0;

    for (; made < t->n && !e; made++)
        e = network_vlan_create(t->pif[made], tag, net_ref, vlans[made], pifs[made]);
    if (e) {
        made--; /* the one that failed made nothing */
        for (size_t i = made; i-- > 0;) {
            struct api_error *e2 = network_vlan_destroy(vlans[i]);
            api_error_free(e2);
        }
    } else {
        out_array_begin(c->out);
        for (size_t i = 0; i < made; i++)
            out_string(c->out, pifs[i]);
        out_array_end(c->out);
    }
    free(vlans);
    free(pifs);
    return e;
}

static struct api_error *create_VLAN_from_PIF(struct call *c)
{
    const struct row *pif = NULL, *net = NULL;
    struct targets t = {0};
    int64_t tag = arg_int(c, 3);
    char net_ref[64] = "";

    db_rdlock();
    struct api_error *e = api_lookup(C_PIF, arg_str(c, 1), &pif);
    if (!e)
        e = api_lookup(C_network, arg_str(c, 2), &net);
    if (!e)
        e = check_tag(tag);
    if (!e) {
        /* the PIF's network has the PIF of each host to tag */
        size_t it = 0;
        const struct row *p;
        while (db_next(C_PIF, &it, &p))
            if (streq(p->v[FIDX(PIF, network)], pif->v[FIDX(PIF, network)]))
                targets_add(&t, p->ref);
        e = check_hosts(&t);
        snprintf(net_ref, sizeof(net_ref), "%s", net->ref);
    }
    db_unlock();
    if (!e)
        e = create_all(c, &t, tag, net_ref);
    free(t.pif);
    return e;
}

static struct api_error *create_VLAN(struct call *c)
{
    const struct row *net = NULL;
    const char *device = arg_str(c, 1);
    struct targets t = {0};
    int64_t tag = arg_int(c, 3);
    char net_ref[64] = "";

    db_rdlock();
    struct api_error *e = api_lookup(C_network, arg_str(c, 2), &net);
    if (!e)
        e = check_tag(tag);
    size_t it = 0;
    const struct row *h;
    while (!e && db_next(C_host, &it, &h)) {
        /* the host's untagged PIF of that device: a NIC or a bond */
        size_t it2 = 0;
        const struct row *p, *found = NULL;
        while (!found && db_next(C_PIF, &it2, &p))
            if (streq(p->v[FIDX(PIF, host)], h->ref) && streq(p->v[FIDX(PIF, device)], device) &&
                streq(p->v[FIDX(PIF, VLAN)], "-1"))
                found = p;
        if (found)
            targets_add(&t, found->ref);
        else
            e = api_fail(INVALID_VALUE, "device", device);
    }
    if (!e)
        e = check_hosts(&t);
    if (!e)
        snprintf(net_ref, sizeof(net_ref), "%s", net->ref);
    db_unlock();
    if (!e)
        e = create_all(c, &t, tag, net_ref);
    free(t.pif);
    return e;
}

void pool_network_register(void);
void pool_network_register(void)
{
    api_register(M_pool_create_VLAN, create_VLAN);
    api_register(M_pool_create_VLAN_from_PIF, create_VLAN_from_PIF);
}
