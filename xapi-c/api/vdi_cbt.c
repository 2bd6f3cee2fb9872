/* VDI messages that storaged's drivers do not offer, answered as XCP
 * answers them for an SR whose driver lacks the capability: changed block
 * tracking (enable_cbt, disable_cbt, data_destroy, list_changed_blocks:
 * capability VDI_CONFIG_CBT). xapi refuses these
 * with SR_OPERATION_NOT_SUPPORTED [sr] before any check of the VDI, as
 * the SR's allowed operations go first. And get_nbd_info, which is [] as
 * in XCP while no network has purpose nbd or insecure_nbd on a host that
 * has the SR plugged; Xenia runs no NBD server (XCP's xapi-nbd on port
 * 10809), so where XCP would name one it fails NOT_IMPLEMENTED rather
 * than point a client at a server that is not there. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/strlist.h"
#include "lib/util.h"
#include "xapi-c/api.h"
#include "xapi-c/db.h"

/* The SR of the VDI of argument i, which must offer cap: else
 * SR_OPERATION_NOT_SUPPORTED [sr]. When it does, storaged has no method
 * for it: UNIMPLEMENTED_IN_SM_BACKEND [sr], what xapi answers when a
 * backend offers a feature it does not implement. */
static struct api_error *sr_must_offer(struct call *c, int i, const char *cap)
{
    const struct row *vdi = NULL, *sr = NULL, *sm;
    bool offered = false;
    db_rdlock();
    struct api_error *e = api_lookup(C_VDI, arg_str(c, i), &vdi);
    if (!e)
        e = api_lookup(C_SR, vdi->v[FIDX(VDI, SR)], &sr);
    for (size_t it = 0; !e && !offered && db_next(C_SM, &it, &sm);)
        if (streq(sm->v[FIDX(SM, type)], sr->v[FIDX(SR, type)]))
            offered = strlist_contains(sm->v[FIDX(SM, capabilities)], cap);
    if (!e)
        e = offered ? api_fail(UNIMPLEMENTED_IN_SM_BACKEND, sr->ref)
                    : api_fail(SR_OPERATION_NOT_SUPPORTED, sr->ref);
    db_unlock();
    return e;
}

static struct api_error *vdi_enable_cbt(struct call *c)
{
    return sr_must_offer(c, 1, "VDI_CONFIG_CBT");
}

static struct api_error *vdi_disable_cbt(struct call *c)
{
    return sr_must_offer(c, 1, "VDI_CONFIG_CBT");
}

static struct api_error *vdi_data_destroy(struct call *c)
{
    return sr_must_offer(c, 1, "VDI_CONFIG_CBT");
}

/* list_changed_blocks(vdi_from, vdi_to): the SR of vdi_to decides, as in
 * xapi; vdi_from must be a VDI all the same. */
static struct api_error *vdi_list_changed_blocks(struct call *c)
{
    const struct row *from = NULL;
    db_rdlock();
    struct api_error *e = api_lookup(C_VDI, arg_str(c, 1), &from);
    db_unlock();
    return e ? e : sr_must_offer(c, 2, "VDI_CONFIG_CBT");
}

/* Whether network n has purpose nbd or insecure_nbd. db lock held. */
static bool nbd_network(const struct row *n)
{
    const char *p = n ? n->v[FIDX(network, purpose)] : "[]";
    return strlist_contains(p, "nbd") || strlist_contains(p, "insecure_nbd");
}

/* Whether a host with a plugged PBD of sr has an attached PIF with an
 * address on an NBD network: where XCP would list an NBD server. db lock
 * held. */
static bool nbd_would_be_served(const struct row *sr)
{
    struct strbuf scratch;
    struct strlist_iter it;
    const char *ref;
    bool served = false;
    strbuf_init(&scratch, 0);
    strlist_iter_init(&it, db_value(sr, FIDX(SR, PBDs), &scratch));
    while (!served && strlist_iter_next(&it, NULL, &ref)) {
        const struct row *pbd = db_get(C_PBD, ref), *pif;
        if (!pbd || !streq(pbd->v[FIDX(PBD, currently_attached)], "true"))
            continue;
        for (size_t i = 0; !served && db_next(C_PIF, &i, &pif);)
            served = streq(pif->v[FIDX(PIF, host)], pbd->v[FIDX(PBD, host)]) &&
                     streq(pif->v[FIDX(PIF, currently_attached)], "true") &&
                     nbd_network(db_get(C_network, pif->v[FIDX(PIF, network)])) &&
                     (*pif->v[FIDX(PIF, IP)] || !streq(pif->v[FIDX(PIF, IPv6)], "[]"));
    }
    strlist_iter_done(&it);
    strbuf_done(&scratch);
    return served;
}

static struct api_error *vdi_get_nbd_info(struct call *c)
{
    const struct row *vdi = NULL, *sr = NULL;
    db_rdlock();
    struct api_error *e = api_lookup(C_VDI, arg_str(c, 1), &vdi);
    if (!e && streq(vdi->v[FIDX(VDI, type)], "cbt_metadata"))
        e = api_fail(VDI_INCOMPATIBLE_TYPE, vdi->ref, "cbt_metadata");
    if (!e)
        e = api_lookup(C_SR, vdi->v[FIDX(VDI, SR)], &sr);
    if (!e && nbd_would_be_served(sr))
        e = api_fail(NOT_IMPLEMENTED, "VDI.get_nbd_info: Xenia runs no NBD server");
    db_unlock();
    if (!e) {
        out_array_begin(c->out);
        out_array_end(c->out);
    }
    return e;
}

void vdi_cbt_register(void);
void vdi_cbt_register(void)
{
    api_register(M_VDI_enable_cbt, vdi_enable_cbt);
    api_register(M_VDI_disable_cbt, vdi_disable_cbt);
    api_register(M_VDI_data_destroy, vdi_data_destroy);
    api_register(M_VDI_list_changed_blocks, vdi_list_changed_blocks);
    api_register(M_VDI_get_nbd_info, vdi_get_nbd_info);
}
