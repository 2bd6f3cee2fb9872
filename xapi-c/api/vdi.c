/* VDI messages: create, destroy, snapshot, clone, copy, resize,
 * introduce, forget, update and the names kept on the media — each
 * carried out by storaged on the VDI's SR, then the rows made to agree
 * with what the SR holds (storage.h). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/strlist.h"
#include "lib/util.h"
#include "xapi-c/api.h"
#include "xapi-c/db.h"
#include "xapi-c/storage.h"

/* The SR sr_ref, which must be plugged here (db lock held). */
static struct api_error *check_sr(const char *sr_ref)
{
    const struct row *sr = NULL;
    struct api_error *e = api_lookup(C_SR, sr_ref, &sr);
    if (!e && !storage_sr_plugged(sr))
        e = api_fail(SR_HAS_NO_PBDS, sr->ref);
    return e;
}

/* Whether a VBD of the VDI is attached to a domain (db lock held). */
static bool attached(const struct row *vdi)
{
    struct strbuf scratch;
    struct strlist_iter it;
    const char *ref;
    bool found = false;
    strbuf_init(&scratch, 0);
    strlist_iter_init(&it, db_value(vdi, FIDX(VDI, VBDs), &scratch));
    while (!found && strlist_iter_next(&it, NULL, &ref)) {
        const struct row *vbd = db_get(C_VBD, ref);
        found = vbd && streq(vbd->v[FIDX(VBD, currently_attached)], "true");
    }
    strlist_iter_done(&it);
    strbuf_done(&scratch);
    return found;
}

/* The VDI of argument 1 and its SR (plugged here); op names the
 * operation for VDI_IN_USE when the VDI must not be attached (NULL: it
 * may be). */
static struct api_error *lookup(struct call *c, const char *op, char ret_vdi[64], char ret_sr[64])
{
    const struct row *vdi = NULL;
    db_rdlock();
    struct api_error *e = api_lookup(C_VDI, arg_str(c, 1), &vdi);
    if (!e)
        e = check_sr(vdi->v[FIDX(VDI, SR)]);
    if (!e && op && attached(vdi))
        e = api_fail(VDI_IN_USE, vdi->ref, op);
    if (!e) {
        snprintf(ret_vdi, 64, "%s", vdi->ref);
        snprintf(ret_sr, 64, "%s", vdi->v[FIDX(VDI, SR)]);
    }
    db_unlock();
    return e;
}

static struct api_error *vdi_create(struct call *c)
{
    char ref[64], sr[64];
    char **vals = api_new_row(C_VDI, ref);
    api_rec_to_vals(c, vals);
    snprintf(sr, sizeof(sr), "%s", vals[FIDX(VDI, SR)]);
    db_rdlock();
    struct api_error *e = check_sr(sr);
    db_unlock();
    if (!e && strtoll(vals[FIDX(VDI, virtual_size)], NULL, 10) < 0)
        e = api_fail(INVALID_VALUE, "virtual_size", vals[FIDX(VDI, virtual_size)]);
    if (e) {
        api_free_row(C_VDI, vals);
        return e;
    }
    /* XCP's SMs honour sm_config:type=raw: a raw image rather than the
     * SR's own format (suspend images are raw). */
    char *type = strmap_get(vals[FIDX(VDI, sm_config)], "type");
    e = storage_vdi_create(sr, vals, ref, type && streq(type, "raw") ? "raw" : NULL, ref);
    free(type);
    if (!e)
        out_string(c->out, ref);
    return e;
}

/* The VDI's VBDs (db lock held), newly allocated canonical text. */
static char *vbds_of(const struct row *vdi)
{
    struct strbuf scratch;
    strbuf_init(&scratch, 0);
    char *v = xstrdup(db_value(vdi, FIDX(VDI, VBDs), &scratch));
    strbuf_done(&scratch);
    return v;
}

/* destroy: unattached VBDs of the VDI go with it, as in xapi. */
static struct api_error *vdi_destroy(struct call *c)
{
    char vdi[64], sr[64];
    struct api_error *e = lookup(c, "destroy", vdi, sr);
    if (e)
        return e;
    db_rdlock();
    const struct row *r = db_get(C_VDI, vdi);
    char *vbds = r ? vbds_of(r) : NULL;
    db_unlock();
    if (!(e = storage_vdi_delete(vdi)) && vbds) {
        struct strlist_iter it;
        const char *ref;
        struct changeset *cs = changeset_new();
        db_wrlock();
        strlist_iter_init(&it, vbds);
        while (strlist_iter_next(&it, NULL, &ref))
            if (db_get(C_VBD, ref))
                changeset_delete(cs, C_VBD, ref);
        strlist_iter_done(&it);
        e = api_apply(cs);
        db_unlock();
    }
    free(vbds);
    if (!e)
        out_void(c->out);
    return e;
}

static struct api_error *new_vdi(struct call *c, bool snapshot)
{
    char vdi[64], sr[64], ref[64];
    struct api_error *e = lookup(c, NULL, vdi, sr);
    if (!e)
        e = storage_vdi_duplicate(vdi, snapshot, ref);
    if (!e)
        out_string(c->out, ref);
    return e;
}

static struct api_error *vdi_snapshot(struct call *c)
{
    return new_vdi(c, true);
}

static struct api_error *vdi_clone(struct call *c)
{
    return new_vdi(c, false);
}

/* Whether into can take a copy of src, checked as xapi's VDI.copy does
 * (read-only, then too small), and besides: not attached, on a plugged
 * SR. db lock held. */
static struct api_error *check_into(const struct row *src, const struct row *into)
{
    if (streq(into->v[FIDX(VDI, read_only)], "true"))
        return api_fail(VDI_READONLY, into->ref);
    if (strtoll(into->v[FIDX(VDI, virtual_size)], NULL, 10) <
        strtoll(src->v[FIDX(VDI, virtual_size)], NULL, 10))
        return api_fail(VDI_TOO_SMALL, into->ref, src->v[FIDX(VDI, virtual_size)]);
    if (attached(into))
        return api_fail(VDI_IN_USE, into->ref, "copy");
    return check_sr(into->v[FIDX(VDI, SR)]);
}

/* copy(vdi, sr, base_vdi, into_vdi): a full copy into into_vdi when it is
 * a VDI (as in xapi, any other ref asks for a new one), else into a new
 * VDI of sr (the VDI's own SR when sr is NULL). base_vdi would only spare
 * writing blocks that into_vdi already holds: the copy is whole anyway. */
static struct api_error *vdi_copy(struct call *c)
{
    char vdi[64], sr[64], ref[64];
    const char *into = c->n_args > 4 ? arg_str(c, 4) : "";
    struct api_error *e = lookup(c, NULL, vdi, sr);
    bool copy_into = false;
    if (e)
        return e;
    db_rdlock();
    const struct row *src = db_get(C_VDI, vdi), *dst = *into ? db_get(C_VDI, into) : NULL;
    if (!src)
        e = api_fail(HANDLE_INVALID, "VDI", vdi);
    else if (streq(src->v[FIDX(VDI, managed)], "false"))
        e = api_fail(VDI_NOT_MANAGED, vdi);
    else if (dst && !(e = check_into(src, dst)))
        copy_into = true;
    if (copy_into)
        snprintf(ref, sizeof(ref), "%s", dst->ref);
    db_unlock();
    const char *to = c->n_args > 2 ? arg_str(c, 2) : "";
    if (!e && copy_into)
        e = storage_vdi_copy_into(vdi, ref, c->task);
    else if (!e)
        e = storage_vdi_copy(vdi, *to && !streq(to, "OpaqueRef:NULL") ? to : sr, c->task, ref);
    if (!e)
        out_string(c->out, ref);
    return e;
}

/* Whether the driver of the SR sr_ref offers cap (its SM row's
 * capabilities): SR_OPERATION_NOT_SUPPORTED [sr] if not, as xapi checks
 * the SM's features before a VDI operation. */
static struct api_error *check_capability(const char *sr_ref, const char *cap)
{
    bool found = false;
    db_rdlock();
    const struct row *sr = db_get(C_SR, sr_ref), *sm;
    for (size_t it = 0; sr && !found && db_next(C_SM, &it, &sm);)
        if (streq(sm->v[FIDX(SM, type)], sr->v[FIDX(SR, type)]))
            found = strlist_contains(sm->v[FIDX(SM, capabilities)], cap);
    db_unlock();
    return found ? NULL : api_fail(SR_OPERATION_NOT_SUPPORTED, sr_ref);
}

/* resize and resize_online take the same storage path, as in xapi: they
 * differ in whether the VDI may be attached, and in the driver
 * capability they need (file SRs, as XCP's FileSR, lack
 * VDI_RESIZE_ONLINE). */
static struct api_error *resize(struct call *c, bool online)
{
    char vdi[64], sr[64];
    json_object *info = NULL;
    struct api_error *e = lookup(c, online ? NULL : "resize", vdi, sr);
    if (!e)
        e = check_capability(sr, online ? "VDI_RESIZE_ONLINE" : "VDI_RESIZE");
    if (e)
        return e;
    json_object *p = storage_params(sr, vdi);
    json_object_object_add(p, "new_size", json_object_new_int64(arg_int(c, 2)));
    storage_lock();
    e = storage_call("vdi_resize", p, 600, &info);
    json_object_put(p);
    if (!e)
        e = storage_vdi_record(sr, info, NULL, NULL, NULL);
    if (!e)
        api_error_free(storage_sr_refresh(sr));
    storage_unlock();
    json_object_put(info);
    if (!e)
        out_void(c->out);
    return e;
}

static struct api_error *vdi_resize(struct call *c)
{
    return resize(c, false);
}

static struct api_error *vdi_resize_online(struct call *c)
{
    return resize(c, true);
}

/* introduce(uuid, name_label, name_description, SR, type, sharable,
 * read_only, other_config, location, xenstore_data, sm_config, ...) */
static struct api_error *vdi_introduce(struct call *c)
{
    const char *uuid = arg_str(c, 1), *sr = arg_str(c, 4);
    char ref[64];
    json_object *info = NULL;
    if (!uuid_is_valid(uuid))
        return api_fail(UUID_INVALID, "VDI", uuid);
    db_rdlock();
    struct api_error *e = check_sr(sr);
    if (!e && db_get_by_uuid(C_VDI, uuid))
        e = api_fail(INVALID_VALUE, "uuid", uuid); /* already known */
    db_unlock();
    if (e)
        return e;
    json_object *p = storage_params(sr, NULL);
    json_object_object_add(p, "vdi_uuid", json_object_new_string(uuid));
    if (*arg_str(c, 9))
        json_object_object_add(p, "location", json_object_new_string(arg_str(c, 9)));
    storage_lock();
    e = storage_call("vdi_introduce", p, 600, &info);
    json_object_put(p);
    if (!e) {
        char **vals = api_new_row(C_VDI, ref);
        const struct {
            int f, arg;
        } from[] = {{FIDX(VDI, name_label), 2},     {FIDX(VDI, name_description), 3},
                    {FIDX(VDI, type), 5},           {FIDX(VDI, other_config), 8},
                    {FIDX(VDI, xenstore_data), 10}, {FIDX(VDI, sm_config), 11}};
        for (size_t i = 0; i < ELEMENTSOF(from); i++)
            if (from[i].arg < c->n_args)
                api_set_val(vals, from[i].f, arg_str(c, from[i].arg));
        e = storage_vdi_record(sr, info, vals, ref, ref);
    }
    storage_unlock();
    json_object_put(info);
    if (!e)
        out_string(c->out, ref);
    return e;
}

static struct api_error *vdi_forget(struct call *c)
{
    const struct row *vdi = NULL;
    db_wrlock();
    struct api_error *e = api_lookup(C_VDI, arg_str(c, 1), &vdi);
    if (!e) {
        struct changeset *cs = changeset_new();
        changeset_delete(cs, C_VDI, vdi->ref);
        e = api_apply(cs);
    }
    db_unlock();
    if (!e)
        out_void(c->out);
    return e;
}

static struct api_error *vdi_update(struct call *c)
{
    char vdi[64], sr[64];
    struct api_error *e = lookup(c, NULL, vdi, sr);
    if (!e) {
        storage_lock();
        e = storage_sr_scan(sr);
        storage_unlock();
    }
    if (!e)
        out_void(c->out);
    return e;
}

/* Names live on the media as well, when the SR is plugged here. */
static struct api_error *set_name(struct call *c, int field)
{
    char vdi[64], sr[64];
    json_object *info = NULL;
    const struct row *r = NULL;
    const char *v = arg_str(c, 2);
    db_rdlock();
    struct api_error *e = api_lookup(C_VDI, arg_str(c, 1), &r);
    bool plugged = false;
    if (!e) {
        const struct row *s = db_get(C_SR, r->v[FIDX(VDI, SR)]);
        plugged = s && storage_sr_plugged(s);
        snprintf(vdi, sizeof(vdi), "%s", r->ref);
        snprintf(sr, sizeof(sr), "%s", r->v[FIDX(VDI, SR)]);
    }
    db_unlock();
    if (e)
        return e;
    if (plugged) {
        json_object *p = storage_params(sr, vdi);
        json_object_object_add(p,
                               field == FIDX(VDI, name_label) ? "name_label" : "name_description",
                               json_object_new_string(v));
        e = storage_call("vdi_update", p, 300, &info);
        json_object_put(p);
        json_object_put(info);
    }
    if (!e) {
        struct changeset *cs = changeset_new();
        changeset_set(cs, C_VDI, vdi, field, v);
        db_wrlock();
        e = db_get(C_VDI, vdi) ? api_apply(cs) : (changeset_free(cs), NULL);
        db_unlock();
    }
    if (!e)
        out_void(c->out);
    return e;
}

static struct api_error *vdi_set_name_label(struct call *c)
{
    return set_name(c, FIDX(VDI, name_label));
}

static struct api_error *vdi_set_name_description(struct call *c)
{
    return set_name(c, FIDX(VDI, name_description));
}

/* Flags kept in the database only. */
static struct api_error *set_flag(struct call *c, int field)
{
    const struct row *r = NULL;
    db_wrlock();
    struct api_error *e = api_lookup(C_VDI, arg_str(c, 1), &r);
    if (!e) {
        struct changeset *cs = changeset_new();
        changeset_set(cs, C_VDI, r->ref, field, arg_bool(c, 2) ? "true" : "false");
        e = api_apply(cs);
    }
    db_unlock();
    if (!e)
        out_void(c->out);
    return e;
}

static struct api_error *vdi_set_read_only(struct call *c)
{
    return set_flag(c, FIDX(VDI, read_only));
}

static struct api_error *vdi_set_sharable(struct call *c)
{
    return set_flag(c, FIDX(VDI, sharable));
}

static struct api_error *vdi_set_allow_caching(struct call *c)
{
    return set_flag(c, FIDX(VDI, allow_caching));
}

/* xapi's ONLY_REVERT_SNAPSHOT, which the published model's error table
 * lacks: made here, so that clients get the code rather than a Fault. */
static struct api_error *only_revert_snapshot(void)
{
    struct api_error *e = xcalloc(1, sizeof(*e));
    e->code = "ONLY_REVERT_SNAPSHOT";
    e->params = xcalloc(1, sizeof(char *));
    return e;
}

/* revert(snapshot), checked in xapi's order: the SR must offer
 * VDI_REVERT, the VDI be a snapshot, and the VDI it was taken of not in use
 * (its content is replaced). */
static struct api_error *vdi_revert(struct call *c)
{
    const struct row *snap = NULL, *vdi = NULL;
    char ref[64], sr[64];
    db_rdlock();
    struct api_error *e = api_lookup(C_VDI, arg_str(c, 1), &snap);
    if (!e) {
        snprintf(ref, sizeof(ref), "%s", snap->ref);
        snprintf(sr, sizeof(sr), "%s", snap->v[FIDX(VDI, SR)]);
    }
    db_unlock();
    if (!e)
        e = check_capability(sr, "VDI_REVERT");
    db_rdlock();
    if (!e && !(snap = db_get(C_VDI, ref)))
        e = api_fail(HANDLE_INVALID, "VDI", ref);
    if (!e && !streq(snap->v[FIDX(VDI, is_a_snapshot)], "true"))
        e = only_revert_snapshot();
    if (!e)
        e = api_lookup(C_VDI, snap->v[FIDX(VDI, snapshot_of)], &vdi);
    if (!e && attached(vdi))
        e = api_fail(VDI_IN_USE, vdi->ref, "revert_from");
    db_unlock();
    if (!e)
        e = storage_vdi_revert(ref);
    if (!e)
        out_void(c->out);
    return e;
}

void vdi_cbt_register(void);
void vdi_register(void);
void vdi_register(void)
{
    vdi_cbt_register();
    api_register_generic(C_VDI, MK_CREATE, vdi_create);
    api_register_generic(C_VDI, MK_DESTROY, vdi_destroy);
    api_register(M_VDI_snapshot, vdi_snapshot);
    api_register(M_VDI_clone, vdi_clone);
    api_register(M_VDI_copy, vdi_copy);
    api_register(M_VDI_resize, vdi_resize);
    api_register(M_VDI_resize_online, vdi_resize_online);
    api_register(M_VDI_introduce, vdi_introduce);
    api_register(M_VDI_forget, vdi_forget);
    api_register(M_VDI_update, vdi_update);
    api_register(M_VDI_revert, vdi_revert);
    api_register(M_VDI_set_name_label, vdi_set_name_label);
    api_register(M_VDI_set_name_description, vdi_set_name_description);
    api_register(M_VDI_set_read_only, vdi_set_read_only);
    api_register(M_VDI_set_sharable, vdi_set_sharable);
    api_register(M_VDI_set_allow_caching, vdi_set_allow_caching);
}
