/* SR messages that only inspect an SR: whether it could hold HA's
 * statefile or the pool's replicated database (the checks xapi's
 * xha_statefile.ml and xapi_sr.ml make, in their order and with their
 * errors), and its data sources. XCP's SR data sources come from rrdd,
 * which keeps an RRD for an SR only while a plugin (iostat of tapdisk)
 * reports on it; Xenia has no such plugin, so an SR has no data sources:
 * the answers are rrdd's for an SR it holds no RRD of. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/strlist.h"
#include "lib/util.h"
#include "xapi-c/api.h"
#include "xapi-c/db.h"

/* Every host has a PBD for the SR and every PBD is plugged, else
 * SR_HAS_NO_PBDS [sr] (what xapi raises for either). db lock held. */
static struct api_error *check_pbds_everywhere(const struct row *sr)
{
    struct strbuf scratch;
    struct strlist_iter it;
    const char *ref;
    struct api_error *e = NULL;
    size_t n_hosts = 0, n_connected = 0;
    const struct row *h;
    strbuf_init(&scratch, 0);
    for (size_t i = 0; db_next(C_host, &i, &h);) {
        bool connected = false;
        n_hosts++;
        strlist_iter_init(&it, db_value(sr, FIDX(SR, PBDs), &scratch));
        while (!connected && strlist_iter_next(&it, NULL, &ref)) {
            const struct row *pbd = db_get(C_PBD, ref);
            connected = pbd && streq(pbd->v[FIDX(PBD, host)], h->ref);
        }
        strlist_iter_done(&it);
        n_connected += connected;
    }
    if (n_connected < n_hosts)
        e = api_fail(SR_HAS_NO_PBDS, sr->ref);
    strlist_iter_init(&it, db_value(sr, FIDX(SR, PBDs), &scratch));
    while (!e && strlist_iter_next(&it, NULL, &ref)) {
        const struct row *pbd = db_get(C_PBD, ref);
        if (pbd && !streq(pbd->v[FIDX(PBD, currently_attached)], "true"))
            e = api_fail(SR_HAS_NO_PBDS, sr->ref);
    }
    strlist_iter_done(&it);
    strbuf_done(&scratch);
    return e;
}

/* The SM row of the SR's type, or the internal error xapi raises when
 * there is none. db lock held. */
static struct api_error *sm_of(const struct row *sr, const struct row **ret_sm)
{
    const struct row *sm;
    for (size_t i = 0; db_next(C_SM, &i, &sm);)
        if (streq(sm->v[FIDX(SM, type)], sr->v[FIDX(SR, type)])) {
            *ret_sm = sm;
            return NULL;
        }
    return api_failf(INTERNAL_ERROR, "SR does not have corresponding SM record: %s %s", sr->ref,
                     sr->v[FIDX(SR, type)]);
}

/* Whether the SM's features (a map) name feature. */
static bool has_feature(const struct row *sm, const char *feature)
{
    char *v = strmap_get(sm->v[FIDX(SM, features)], feature);
    bool found = v != NULL;
    free(v);
    return found;
}

/* The statefile needs a driver that can attach a VDI without a VM
 * (VDI_GENERATE_CONFIG or VDI_ATTACH_OFFLINE); none of storaged's does.
 * Past that check xapi would also check the SR's free space for the
 * statefile and the redo log: that is left for when a driver qualifies,
 * and until then such a driver is refused plainly rather than approved
 * unchecked. */
static struct api_error *assert_can_host_ha_statefile(struct call *c)
{
    const struct row *sr = NULL, *sm = NULL;
    db_rdlock();
    struct api_error *e = api_lookup(C_SR, arg_str(c, 1), &sr);
    if (!e)
        e = check_pbds_everywhere(sr);
    if (!e)
        e = sm_of(sr, &sm);
    if (!e && !has_feature(sm, "VDI_GENERATE_CONFIG") && !has_feature(sm, "VDI_ATTACH_OFFLINE"))
        e = api_fail(SR_OPERATION_NOT_SUPPORTED, sr->ref);
    else if (!e)
        e = api_fail(NOT_IMPLEMENTED, "SR.assert_can_host_ha_statefile (free space check)");
    db_unlock();
    if (!e)
        out_void(c->out);
    return e;
}

static struct api_error *assert_supports_database_replication(struct call *c)
{
    const struct row *sr = NULL, *sm = NULL;
    db_rdlock();
    struct api_error *e = api_lookup(C_SR, arg_str(c, 1), &sr);
    if (!e)
        e = check_pbds_everywhere(sr);
    if (!e)
        e = sm_of(sr, &sm);
    if (!e && !has_feature(sm, "SR_METADATA"))
        e = api_fail(SR_OPERATION_NOT_SUPPORTED, sr->ref);
    db_unlock();
    if (!e)
        out_void(c->out);
    return e;
}

/* rrdd's answer for an SR it keeps no RRD of (Datasource_missing). */
static struct api_error *no_rrd(const struct row *sr)
{
    return api_failf(INTERNAL_ERROR, "Rrd_interface.Rrdd_error(Datasource_missing(\"SR: %s\"))",
                     sr->v[FIDX(SR, uuid)]);
}

static struct api_error *get_data_sources(struct call *c)
{
    const struct row *sr = NULL;
    db_rdlock();
    struct api_error *e = api_lookup(C_SR, arg_str(c, 1), &sr);
    db_unlock();
    if (!e) {
        out_array_begin(c->out);
        out_array_end(c->out);
    }
    return e;
}

/* query_data_source and record_data_source fail alike. */
static struct api_error *query_data_source(struct call *c)
{
    const struct row *sr = NULL;
    db_rdlock();
    struct api_error *e = api_lookup(C_SR, arg_str(c, 1), &sr);
    if (!e)
        e = no_rrd(sr);
    db_unlock();
    return e;
}

/* Forgetting the archive of a source that has none is done, as rrdd
 * does it. */
static struct api_error *forget_data_source_archives(struct call *c)
{
    const struct row *sr = NULL;
    db_rdlock();
    struct api_error *e = api_lookup(C_SR, arg_str(c, 1), &sr);
    db_unlock();
    if (!e)
        out_void(c->out);
    return e;
}

void sr_checks_register(void);
void sr_checks_register(void)
{
    api_register(M_SR_assert_can_host_ha_statefile, assert_can_host_ha_statefile);
    api_register(M_SR_assert_supports_database_replication, assert_supports_database_replication);
    api_register(M_SR_get_data_sources, get_data_sources);
    api_register(M_SR_query_data_source, query_data_source);
    api_register(M_SR_record_data_source, query_data_source);
    api_register(M_SR_forget_data_source_archives, forget_data_source_archives);
}
