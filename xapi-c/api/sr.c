/* SR messages: create (the driver formats the media, then the SR is
 * plugged on this host and scanned), introduce and forget (rows only),
 * destroy (the media too), scan, update, probe and probe_ext, the names
 * kept on the media, and the supported types — all carried out by
 * storaged. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/strlist.h"
#include "lib/util.h"
#include "xapi-c/api.h"
#include "xapi-c/config.h"
#include "xapi-c/db.h"
#include "xapi-c/storage.h"

/* A map argument (canonical text) as a JSON object. */
static json_object *map_arg(const struct call *c, int i)
{
    json_object *o = json_tokener_parse(arg_str(c, i));
    return o && json_object_is_type(o, json_type_object) ? o : json_object_new_object();
}

static bool have_driver(const char *type)
{
    size_t it = 0;
    const struct row *r;
    bool found = false;
    db_rdlock();
    while (!found && db_next(C_SM, &it, &r))
        found = streq(r->v[FIDX(SM, type)], type);
    db_unlock();
    return found;
}

/* The host argument: this host (the pool is one host until pools land). */
static struct api_error *check_host(const char *host)
{
    const struct row *h = NULL;
    db_rdlock();
    struct api_error *e = api_lookup(C_host, host, &h);
    db_unlock();
    if (!e && !streq(host, xapi_state.host_ref))
        e = api_fail(HOST_OFFLINE, host);
    return e;
}

/* Deletes the SR's row with its PBDs and VDIs (db lock held). */
static void delete_sr_rows(struct changeset *cs, const struct row *sr)
{
    const int sets[] = {FIDX(SR, PBDs), FIDX(SR, VDIs)};
    const int cls[] = {C_PBD, C_VDI};
    struct strbuf scratch;
    strbuf_init(&scratch, 0);
    for (size_t i = 0; i < ELEMENTSOF(sets); i++) {
        struct strlist_iter it;
        const char *ref;
        strlist_iter_init(&it, db_value(sr, sets[i], &scratch));
        while (strlist_iter_next(&it, NULL, &ref))
            changeset_delete(cs, cls[i], ref);
        strlist_iter_done(&it);
    }
    strbuf_done(&scratch);
    changeset_delete(cs, C_SR, sr->ref);
}

static struct api_error *sr_create(struct call *c)
{
    const char *host = arg_str(c, 1), *type = arg_str(c, 6);
    char uuid[UUID_STR_LEN], sr_ref[64], pbd_ref[64];
    json_object *info = NULL;
    struct api_error *e = check_host(host);
    if (e)
        return e;
    if (!have_driver(type))
        return api_fail(SR_UNKNOWN_DRIVER, type);

    uuid_generate_str(uuid);
    json_object *p = json_object_new_object();
    json_object_object_add(p, "type", json_object_new_string(type));
    json_object_object_add(p, "sr_uuid", json_object_new_string(uuid));
    json_object_object_add(p, "device_config", map_arg(c, 2));
    json_object_object_add(p, "name_label", json_object_new_string(arg_str(c, 4)));
    json_object_object_add(p, "name_description", json_object_new_string(arg_str(c, 5)));
    json_object_object_add(p, "shared", json_object_new_boolean(arg_bool(c, 8)));
    storage_lock();
    e = storage_call("sr_create", p, 600, &info);
    json_object_put(p);
    if (e)
        goto out;

    char **sr = api_new_row(C_SR, sr_ref);
    char **pbd = api_new_row(C_PBD, pbd_ref);
    const char *ct = *arg_str(c, 7) ? arg_str(c, 7) : storage_json_str(info, "content_type");
    api_set_val(sr, FIDX(SR, uuid), uuid);
    api_set_val(sr, FIDX(SR, name_label), arg_str(c, 4));
    api_set_val(sr, FIDX(SR, name_description), arg_str(c, 5));
    api_set_val(sr, FIDX(SR, type), type);
    api_set_val(sr, FIDX(SR, content_type), ct);
    api_set_val(sr, FIDX(SR, shared), arg_bool(c, 8) ? "true" : "false");
    api_set_val(sr, FIDX(SR, sm_config), arg_str(c, 9));
    api_set_val(pbd, FIDX(PBD, host), host);
    api_set_val(pbd, FIDX(PBD, SR), sr_ref);
    api_set_val(pbd, FIDX(PBD, device_config), arg_str(c, 2));
    struct changeset *cs = changeset_new();
    changeset_create(cs, C_SR, sr_ref, sr);
    changeset_create(cs, C_PBD, pbd_ref, pbd);
    storage_sr_sizes(cs, sr_ref, info);
    db_wrlock();
    e = api_apply(cs);
    db_unlock();
    if (e)
        goto out;
    if (!(e = storage_pbd_attach(pbd_ref)))
        e = storage_sr_scan(sr_ref);
    if (e) { /* the SR stays on its media, where probe finds it; no rows */
        db_wrlock();
        const struct row *r = db_get(C_SR, sr_ref);
        if (r) {
            cs = changeset_new();
            delete_sr_rows(cs, r);
            api_error_free(api_apply(cs));
        }
        db_unlock();
    }
out:
    storage_unlock();
    json_object_put(info);
    if (!e)
        out_string(c->out, sr_ref);
    return e;
}

static struct api_error *sr_introduce(struct call *c)
{
    const char *uuid = arg_str(c, 1);
    char ref[64];
    struct api_error *e = NULL;
    if (!uuid_is_valid(uuid))
        return api_fail(UUID_INVALID, "SR", uuid);
    db_wrlock();
    if (db_get_by_uuid(C_SR, uuid)) {
        e = api_fail(SR_UUID_EXISTS, uuid);
    } else {
        char **sr = api_new_row(C_SR, ref);
        api_set_val(sr, FIDX(SR, uuid), uuid);
        api_set_val(sr, FIDX(SR, name_label), arg_str(c, 2));
        api_set_val(sr, FIDX(SR, name_description), arg_str(c, 3));
        api_set_val(sr, FIDX(SR, type), arg_str(c, 4));
        api_set_val(sr, FIDX(SR, content_type), arg_str(c, 5));
        api_set_val(sr, FIDX(SR, shared), arg_bool(c, 6) ? "true" : "false");
        api_set_val(sr, FIDX(SR, sm_config), arg_str(c, 7));
        struct changeset *cs = changeset_new();
        changeset_create(cs, C_SR, ref, sr);
        e = api_apply(cs);
    }
    db_unlock();
    if (!e)
        out_string(c->out, ref);
    return e;
}

/* The SR of argument 1, refused while a PBD of it is plugged (forget and
 * destroy). ret_pbd: one of its PBDs, or "" (db lock held). */
static struct api_error *unplugged_sr(struct call *c, const struct row **ret_sr, char ret_pbd[64])
{
    const struct row *sr = NULL;
    struct api_error *e = api_lookup(C_SR, arg_str(c, 1), &sr);
    if (e)
        return e;
    struct strbuf scratch;
    struct strlist_iter it;
    const char *ref;
    ret_pbd[0] = '\0';
    strbuf_init(&scratch, 0);
    strlist_iter_init(&it, db_value(sr, FIDX(SR, PBDs), &scratch));
    while (!e && strlist_iter_next(&it, NULL, &ref)) {
        const struct row *pbd = db_get(C_PBD, ref);
        if (pbd && streq(pbd->v[FIDX(PBD, currently_attached)], "true"))
            e = api_fail(SR_HAS_PBD, sr->ref);
        else if (pbd && (!ret_pbd[0] || streq(pbd->v[FIDX(PBD, host)], xapi_state.host_ref)))
            snprintf(ret_pbd, 64, "%s", ref);
    }
    strlist_iter_done(&it);
    strbuf_done(&scratch);
    *ret_sr = sr;
    return e;
}

static struct api_error *sr_forget(struct call *c)
{
    const struct row *sr = NULL;
    char pbd[64];
    db_wrlock();
    struct api_error *e = unplugged_sr(c, &sr, pbd);
    if (!e) {
        struct changeset *cs = changeset_new();
        delete_sr_rows(cs, sr);
        e = api_apply(cs);
    }
    db_unlock();
    if (!e)
        out_void(c->out);
    return e;
}

/* Whether the SR holds a managed VDI (db lock held). */
static bool has_managed_vdis(const struct row *sr)
{
    struct strbuf scratch;
    struct strlist_iter it;
    const char *ref;
    bool found = false;
    strbuf_init(&scratch, 0);
    strlist_iter_init(&it, db_value(sr, FIDX(SR, VDIs), &scratch));
    while (!found && strlist_iter_next(&it, NULL, &ref)) {
        const struct row *v = db_get(C_VDI, ref);
        found = v && streq(v->v[FIDX(VDI, managed)], "true");
    }
    strlist_iter_done(&it);
    strbuf_done(&scratch);
    return found;
}

/* destroy: the storage goes with the rows. storaged deletes an attached
 * SR, so the SR is attached for the deletion through one of its PBDs. */
static struct api_error *sr_destroy(struct call *c)
{
    const struct row *sr = NULL;
    char pbd[64], sr_ref[64];
    storage_lock();
    db_rdlock();
    struct api_error *e = unplugged_sr(c, &sr, pbd);
    if (!e && !pbd[0])
        e = api_fail(SR_HAS_NO_PBDS, sr->ref);
    if (!e && has_managed_vdis(sr))
        e = api_fail(SR_NOT_EMPTY);
    if (!e)
        snprintf(sr_ref, sizeof(sr_ref), "%s", sr->ref);
    db_unlock();
    if (!e && !(e = storage_pbd_attach(pbd))) {
        json_object *p = storage_params(sr_ref, NULL);
        e = storage_call("sr_delete", p, 600, NULL);
        json_object_put(p);
        if (e) { /* still there: back to unplugged, as it was */
            json_object *d = storage_params(sr_ref, NULL);
            api_error_free(storage_call("sr_detach", d, 600, NULL));
            json_object_put(d);
            struct changeset *cs = changeset_new();
            db_wrlock();
            if (db_get(C_PBD, pbd)) {
                changeset_set(cs, C_PBD, pbd, FIDX(PBD, currently_attached), "false");
                api_error_free(api_apply(cs));
            } else {
                changeset_free(cs);
            }
            db_unlock();
        }
    }
    if (!e) {
        db_wrlock();
        if ((sr = db_get(C_SR, sr_ref))) {
            struct changeset *cs = changeset_new();
            delete_sr_rows(cs, sr);
            e = api_apply(cs);
        }
        db_unlock();
    }
    storage_unlock();
    if (!e)
        out_void(c->out);
    return e;
}

/* The SR of argument 1, which must be plugged on this host. */
static struct api_error *plugged_sr(struct call *c, char ret_ref[64])
{
    const struct row *sr = NULL;
    db_rdlock();
    struct api_error *e = api_lookup(C_SR, arg_str(c, 1), &sr);
    if (!e && !storage_sr_plugged(sr))
        e = api_fail(SR_HAS_NO_PBDS, sr->ref);
    if (!e)
        snprintf(ret_ref, 64, "%s", sr->ref);
    db_unlock();
    return e;
}

static struct api_error *sr_scan(struct call *c)
{
    char ref[64];
    struct api_error *e = plugged_sr(c, ref);
    if (!e) {
        storage_lock();
        e = storage_sr_scan(ref);
        storage_unlock();
    }
    if (!e)
        out_void(c->out);
    return e;
}

/* sr_update with the given names (NULL: unchanged), then the sizes and
 * names recorded. */
static struct api_error *update_sr(const char *ref, const char *label, const char *desc)
{
    json_object *p = storage_params(ref, NULL), *res = NULL;
    if (label)
        json_object_object_add(p, "name_label", json_object_new_string(label));
    if (desc)
        json_object_object_add(p, "name_description", json_object_new_string(desc));
    struct api_error *e = storage_call("sr_update", p, 300, &res);
    json_object_put(p);
    if (e)
        return e;
    struct changeset *cs = changeset_new();
    storage_sr_sizes(cs, ref, res);
    if (label)
        changeset_set(cs, C_SR, ref, FIDX(SR, name_label), label);
    if (desc)
        changeset_set(cs, C_SR, ref, FIDX(SR, name_description), desc);
    db_wrlock();
    e = db_get(C_SR, ref) ? api_apply(cs) : (changeset_free(cs), NULL);
    db_unlock();
    json_object_put(res);
    return e;
}

static struct api_error *sr_update(struct call *c)
{
    char ref[64];
    struct api_error *e = plugged_sr(c, ref);
    if (!e)
        e = update_sr(ref, NULL, NULL);
    if (!e)
        out_void(c->out);
    return e;
}

/* set_name_label / set_name_description: on the media too when the SR is
 * plugged here, so that a probe or an introduce elsewhere finds them. */
static struct api_error *set_name(struct call *c, int field)
{
    const struct row *sr = NULL;
    char ref[64];
    bool plugged = false;
    const char *v = arg_str(c, 2);
    db_rdlock();
    struct api_error *e = api_lookup(C_SR, arg_str(c, 1), &sr);
    if (!e) {
        plugged = storage_sr_plugged(sr);
        snprintf(ref, sizeof(ref), "%s", sr->ref);
    }
    db_unlock();
    if (!e && plugged)
        e = update_sr(ref, field == FIDX(SR, name_label) ? v : NULL,
                      field == FIDX(SR, name_label) ? NULL : v);
    else if (!e) {
        struct changeset *cs = changeset_new();
        changeset_set(cs, C_SR, ref, field, v);
        db_wrlock();
        e = db_get(C_SR, ref) ? api_apply(cs) : (changeset_free(cs), NULL);
        db_unlock();
    }
    if (!e)
        out_void(c->out);
    return e;
}

static struct api_error *sr_set_name_label(struct call *c)
{
    return set_name(c, FIDX(SR, name_label));
}

static struct api_error *sr_set_name_description(struct call *c)
{
    return set_name(c, FIDX(SR, name_description));
}

static struct api_error *sr_set_shared(struct call *c)
{
    const struct row *sr = NULL;
    db_wrlock();
    struct api_error *e = api_lookup(C_SR, arg_str(c, 1), &sr);
    if (!e) {
        struct changeset *cs = changeset_new();
        changeset_set(cs, C_SR, sr->ref, FIDX(SR, shared), arg_bool(c, 2) ? "true" : "false");
        e = api_apply(cs);
    }
    db_unlock();
    if (!e)
        out_void(c->out);
    return e;
}

/* sr_probe's list of SRs found with these device_config and type. */
static struct api_error *probe(struct call *c, json_object **ret)
{
    struct api_error *e = check_host(arg_str(c, 1));
    if (e)
        return e;
    if (!have_driver(arg_str(c, 3)))
        return api_fail(SR_UNKNOWN_DRIVER, arg_str(c, 3));
    json_object *p = json_object_new_object();
    json_object_object_add(p, "type", json_object_new_string(arg_str(c, 3)));
    json_object_object_add(p, "device_config", map_arg(c, 2));
    e = storage_call("sr_probe", p, 300, ret);
    json_object_put(p);
    return e;
}

static void xml_text(struct strbuf *sb, const char *s)
{
    for (; *s; s++) {
        switch (*s) {
        case '<':
            strbuf_adds(sb, "&lt;");
            break;
        case '>':
            strbuf_adds(sb, "&gt;");
            break;
        case '&':
            strbuf_adds(sb, "&amp;");
            break;
        default:
            strbuf_addc(sb, *s);
        }
    }
}

/* probe answers XML as XCP's file-based drivers print it: an SRlist with
 * one SR element per SR found. */
static struct api_error *sr_probe(struct call *c)
{
    json_object *list = NULL;
    struct api_error *e = probe(c, &list);
    if (e)
        return e;
    struct strbuf sb;
    strbuf_init(&sb, 256);
    strbuf_adds(&sb, "<?xml version=\"1.0\" ?>\n<SRlist>\n");
    size_t n = json_object_is_type(list, json_type_array) ? json_object_array_length(list) : 0;
    for (size_t i = 0; i < n; i++) {
        json_object *sr = json_object_array_get_idx(list, i);
        const char *tags[][2] = {{"UUID", "uuid"},
                                 {"name_label", "name_label"},
                                 {"name_description", "name_description"}};
        strbuf_adds(&sb, "\t<SR>\n");
        for (size_t k = 0; k < ELEMENTSOF(tags); k++) {
            strbuf_addf(&sb, "\t\t<%s>\n\t\t\t", tags[k][0]);
            xml_text(&sb, storage_json_str(sr, tags[k][1]));
            strbuf_addf(&sb, "\n\t\t</%s>\n", tags[k][0]);
        }
        strbuf_adds(&sb, "\t</SR>\n");
    }
    strbuf_adds(&sb, "</SRlist>\n");
    out_string(c->out, sb.buf);
    strbuf_done(&sb);
    json_object_put(list);
    return NULL;
}

static void member_str(struct out *o, const char *k, const char *v)
{
    out_member(o, k);
    out_string(o, v);
}

/* probe_ext: a probe_result per SR found, with its sr_stat. */
static struct api_error *sr_probe_ext(struct call *c)
{
    json_object *list = NULL;
    struct api_error *e = probe(c, &list);
    if (e)
        return e;
    size_t n = json_object_is_type(list, json_type_array) ? json_object_array_length(list) : 0;
    json_object *dc = map_arg(c, 2);
    out_array_begin(c->out);
    for (size_t i = 0; i < n; i++) {
        json_object *sr = json_object_array_get_idx(list, i), *v;
        int64_t size =
            json_object_object_get_ex(sr, "physical_size", &v) ? json_object_get_int64(v) : 0;
        int64_t used = json_object_object_get_ex(sr, "physical_utilisation", &v)
                           ? json_object_get_int64(v)
                           : 0;
        out_struct_begin(c->out);
        out_member(c->out, "configuration");
        out_struct_begin(c->out);
        json_object_object_foreach(dc, k, val)
        {
            member_str(c->out, k, json_object_get_string(val));
        }
        out_struct_end(c->out);
        out_member(c->out, "complete");
        out_bool(c->out, true);
        out_member(c->out, "sr");
        out_struct_begin(c->out);
        member_str(c->out, "uuid", storage_json_str(sr, "uuid"));
        member_str(c->out, "name_label", storage_json_str(sr, "name_label"));
        member_str(c->out, "name_description", storage_json_str(sr, "name_description"));
        out_member(c->out, "free_space");
        out_int(c->out, size - used);
        out_member(c->out, "total_space");
        out_int(c->out, size);
        out_member(c->out, "clustered");
        out_bool(c->out, false);
        member_str(c->out, "health", "healthy");
        out_struct_end(c->out);
        out_member(c->out, "extra_info");
        out_struct_begin(c->out);
        out_struct_end(c->out);
        out_struct_end(c->out);
    }
    out_array_end(c->out);
    json_object_put(dc);
    json_object_put(list);
    return NULL;
}

static struct api_error *sr_get_supported_types(struct call *c)
{
    size_t it = 0;
    const struct row *r;
    db_rdlock();
    out_array_begin(c->out);
    while (db_next(C_SM, &it, &r))
        out_string(c->out, r->v[FIDX(SM, type)]);
    out_array_end(c->out);
    db_unlock();
    return NULL;
}

void sr_checks_register(void);
void sr_register(void);
void sr_register(void)
{
    sr_checks_register();
    api_register(M_SR_create, sr_create);
    api_register(M_SR_introduce, sr_introduce);
    api_register(M_SR_forget, sr_forget);
    api_register(M_SR_destroy, sr_destroy);
    api_register(M_SR_scan, sr_scan);
    api_register(M_SR_update, sr_update);
    api_register(M_SR_probe, sr_probe);
    api_register(M_SR_probe_ext, sr_probe_ext);
    api_register(M_SR_set_name_label, sr_set_name_label);
    api_register(M_SR_set_name_description, sr_set_name_description);
    api_register(M_SR_set_shared, sr_set_shared);
    api_register(M_SR_get_supported_types, sr_get_supported_types);
}
