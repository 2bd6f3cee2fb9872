/* PBD messages: create (one PBD per SR and host), plug and unplug (the SR
 * attached on this host by storaged, or detached when no running VM uses
 * its disks), destroy of an unplugged PBD, and its device_config. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/strlist.h"
#include "lib/util.h"
#include "xapi-c/api.h"
#include "xapi-c/config.h"
#include "xapi-c/db.h"
#include "xapi-c/storage.h"

static struct api_error *pbd_create(struct call *c)
{
    char ref[64];
    char **vals = api_new_row(C_PBD, ref);
    api_rec_to_vals(c, vals);
    const char *sr_ref = vals[FIDX(PBD, SR)], *host = vals[FIDX(PBD, host)];
    const struct row *sr = NULL, *h = NULL;
    struct api_error *e;
    db_wrlock();
    if (!(e = api_lookup(C_SR, sr_ref, &sr)) && !(e = api_lookup(C_host, host, &h))) {
        struct strbuf scratch;
        struct strlist_iter it;
        const char *p;
        strbuf_init(&scratch, 0);
        strlist_iter_init(&it, db_value(sr, FIDX(SR, PBDs), &scratch));
        while (!e && strlist_iter_next(&it, NULL, &p)) {
            const struct row *other = db_get(C_PBD, p);
            if (other && streq(other->v[FIDX(PBD, host)], host))
                e = api_fail(PBD_EXISTS, sr_ref, host, p);
        }
        strlist_iter_done(&it);
        strbuf_done(&scratch);
    }
    if (!e) {
        api_set_val(vals, FIDX(PBD, currently_attached), "false");
        struct changeset *cs = changeset_new();
        changeset_create(cs, C_PBD, ref, vals);
        vals = NULL;
        e = api_apply(cs);
    }
    db_unlock();
    if (vals) {
        api_free_row(C_PBD, vals);
    }
    if (!e)
        out_string(c->out, ref);
    return e;
}

/* The PBD of argument 1 with whether it is plugged, and its SR. */
static struct api_error *lookup(struct call *c, char ret_ref[64], char ret_sr[64],
                                bool *ret_plugged)
{
    const struct row *pbd = NULL;
    db_rdlock();
    struct api_error *e = api_lookup(C_PBD, arg_str(c, 1), &pbd);
    if (!e) {
        snprintf(ret_ref, 64, "%s", pbd->ref);
        snprintf(ret_sr, 64, "%s", pbd->v[FIDX(PBD, SR)]);
        *ret_plugged = streq(pbd->v[FIDX(PBD, currently_attached)], "true");
        if (!streq(pbd->v[FIDX(PBD, host)], xapi_state.host_ref))
            e = api_fail(HOST_OFFLINE, pbd->v[FIDX(PBD, host)]);
    }
    db_unlock();
    return e;
}

static struct api_error *pbd_destroy(struct call *c)
{
    const struct row *pbd = NULL;
    db_wrlock();
    struct api_error *e = api_lookup(C_PBD, arg_str(c, 1), &pbd);
    if (!e && streq(pbd->v[FIDX(PBD, currently_attached)], "true"))
        e = api_fail(OPERATION_NOT_ALLOWED, "PBD is currently attached");
    if (!e) {
        struct changeset *cs = changeset_new();
        changeset_delete(cs, C_PBD, pbd->ref);
        e = api_apply(cs);
    }
    db_unlock();
    if (!e)
        out_void(c->out);
    return e;
}

static struct api_error *pbd_plug(struct call *c)
{
    char ref[64], sr[64];
    bool plugged;
    struct api_error *e = lookup(c, ref, sr, &plugged);
    if (!e && !plugged) { /* plugging a plugged PBD does nothing, as in xapi */
        storage_lock();
        e = storage_pbd_attach(ref);
        storage_unlock();
    }
    if (!e)
        out_void(c->out);
    return e;
}

/* A VDI of the SR that a domain uses, into ret (db lock held). */
static bool vdi_in_use(const struct row *sr, char ret[64])
{
    struct strbuf scratch, vbds;
    struct strlist_iter it;
    const char *ref;
    bool used = false;
    strbuf_init(&scratch, 0);
    strbuf_init(&vbds, 0);
    strlist_iter_init(&it, db_value(sr, FIDX(SR, VDIs), &scratch));
    while (!used && strlist_iter_next(&it, NULL, &ref)) {
        const struct row *vdi = db_get(C_VDI, ref);
        if (!vdi)
            continue;
        struct strlist_iter vi;
        const char *vbd_ref;
        strlist_iter_init(&vi, db_value(vdi, FIDX(VDI, VBDs), &vbds));
        while (!used && strlist_iter_next(&vi, NULL, &vbd_ref)) {
            const struct row *vbd = db_get(C_VBD, vbd_ref);
            used = vbd && streq(vbd->v[FIDX(VBD, currently_attached)], "true");
        }
        strlist_iter_done(&vi);
        if (used)
            snprintf(ret, 64, "%s", vdi->ref);
    }
    strlist_iter_done(&it);
    strbuf_done(&scratch);
    strbuf_done(&vbds);
    return used;
}

static struct api_error *pbd_unplug(struct call *c)
{
    char ref[64], sr_ref[64], vdi[64];
    bool plugged;
    struct api_error *e = lookup(c, ref, sr_ref, &plugged);
    if (!e && !plugged)
        e = api_fail(DEVICE_ALREADY_DETACHED, ref);
    if (e)
        return e;
    storage_lock();
    db_rdlock();
    const struct row *sr = db_get(C_SR, sr_ref);
    if (sr && vdi_in_use(sr, vdi))
        e = api_fail(VDI_IN_USE, vdi, "unplug");
    db_unlock();
    if (!e) {
        json_object *p = storage_params(sr_ref, NULL);
        e = storage_call("sr_detach", p, 600, NULL);
        json_object_put(p);
    }
    if (!e) {
        struct changeset *cs = changeset_new();
        changeset_set(cs, C_PBD, ref, FIDX(PBD, currently_attached), "false");
        db_wrlock();
        e = db_get(C_PBD, ref) ? api_apply(cs) : (changeset_free(cs), NULL);
        db_unlock();
    }
    storage_unlock();
    if (!e)
        out_void(c->out);
    return e;
}

static struct api_error *pbd_set_device_config(struct call *c)
{
    const struct row *pbd = NULL;
    db_wrlock();
    struct api_error *e = api_lookup(C_PBD, arg_str(c, 1), &pbd);
    if (!e && streq(pbd->v[FIDX(PBD, currently_attached)], "true"))
        e = api_fail(OPERATION_NOT_ALLOWED, "PBD is currently attached");
    if (!e) {
        struct changeset *cs = changeset_new();
        changeset_set(cs, C_PBD, pbd->ref, FIDX(PBD, device_config), arg_str(c, 2));
        e = api_apply(cs);
    }
    db_unlock();
    if (!e)
        out_void(c->out);
    return e;
}

void pbd_register(void);
void pbd_register(void)
{
    api_register_generic(C_PBD, MK_CREATE, pbd_create);
    api_register_generic(C_PBD, MK_DESTROY, pbd_destroy);
    api_register(M_PBD_plug, pbd_plug);
    api_register(M_PBD_unplug, pbd_unplug);
    api_register(M_PBD_set_device_config, pbd_set_device_config);
}
