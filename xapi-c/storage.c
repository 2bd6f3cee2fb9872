/* Calls to storaged, the SM records of its drivers, the rows of SRs and
 * VDIs made to agree with the media, and the resynchronisation at start
 * (see storage.h). */
#include "storage.h"

#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "api.h"
#include "config.h"
#include "lib/jsonrpc.h"
#include "lib/log.h"
#include "lib/strlist.h"
#include "lib/util.h"

LOG_MODULE("storage");

#define RETRY_DELAY 1.0 /* between attempts while storaged is away */

static struct {
    char *path;
    pthread_t thread;
    bool running, stopping;
    pthread_mutex_t lock; /* guards stopping */
    pthread_cond_t cond;
    pthread_mutex_t op_lock; /* storage_lock() */
} st = {.lock = PTHREAD_MUTEX_INITIALIZER,
        .cond = PTHREAD_COND_INITIALIZER,
        .op_lock = PTHREAD_MUTEX_INITIALIZER};

void storage_lock(void)
{
    pthread_mutex_lock(&st.op_lock);
}

void storage_unlock(void)
{
    pthread_mutex_unlock(&st.op_lock);
}

/* XCP's driver errors are SR_BACKEND_FAILURE_<n>, one code per n (n from
 * XE_SR_ERRORCODES.xml, below 1000), which no fixed table lists: the codes
 * storaged answers are kept here, once each, so that they reach clients
 * as they are rather than as a Fault. NULL for any other code. */
static const char *backend_failure_code(const char *code)
{
    static char codes[1000][32];
    static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
    const char *prefix = "SR_BACKEND_FAILURE_";
    size_t len = strlen(prefix);
    if (strncmp(code, prefix, len) != 0 || !code[len] || strlen(code + len) > 3)
        return NULL;
    int n = 0;
    for (const char *p = code + len; *p; p++) {
        if (*p < '0' || *p > '9')
            return NULL;
        n = n * 10 + (*p - '0');
    }
    pthread_mutex_lock(&lock);
    if (!codes[n][0])
        snprintf(codes[n], sizeof(codes[n]), "%s%d", prefix, n);
    pthread_mutex_unlock(&lock);
    return streq(codes[n], code) ? codes[n] : NULL; /* "_082" is not 82's */
}

static struct api_error *storaged_error(const struct jsonrpc_error *je)
{
    const char *code = backend_failure_code(je->app_code);
    if (!code)
        return api_error_new(je->app_code, (const char *const *)je->app_params, je->n_app_params);
    struct api_error *e = xcalloc(1, sizeof(*e));
    e->code = code;
    e->params = xcalloc(je->n_app_params + 1, sizeof(char *));
    for (size_t i = 0; i < je->n_app_params; i++)
        e->params[e->n++] = xstrdup(je->app_params[i]);
    return e;
}

struct api_error *storage_call(const char *method, json_object *params, double timeout,
                               json_object **ret_result)
{
    struct jsonrpc_client *cl = jsonrpc_client_new(st.path);
    struct jsonrpc_error *je = NULL;
    json_object *res = NULL;
    struct api_error *e = NULL;

    int r = jsonrpc_call(cl, method, params, timeout, &res, &je);
    jsonrpc_client_free(cl);
    if (r == -EPROTO && je && je->app_code)
        /* storaged names the XenAPI error itself (SR_BACKEND_FAILURE_<n>
         * included): it goes to the client as it is. */
        e = storaged_error(je);
    else if (r == -EPROTO && je)
        e = api_failf(INTERNAL_ERROR, "storaged %s: %s", method, je->message);
    else if (r < 0)
        e = api_failf(INTERNAL_ERROR, "storaged is not answering (%s): %s", method, strerror(-r));
    jsonrpc_error_free(je);
    if (!e && ret_result)
        *ret_result = res;
    else
        json_object_put(res);
    return e;
}

/* ---- JSON values as rows' canonical text ---- */

const char *storage_json_str(json_object *o, const char *key)
{
    json_object *v;
    if (!o || !json_object_object_get_ex(o, key, &v) || !v)
        return "";
    return json_object_get_string(v);
}

static bool jbool(json_object *o, const char *key)
{
    json_object *v;
    return o && json_object_object_get_ex(o, key, &v) && json_object_get_boolean(v);
}

/* A JSON array of strings or an object of scalars as canonical text
 * (newly allocated); anything else is the empty set or map. */
static char *canon(json_object *o, bool map)
{
    struct strbuf sb;
    strbuf_init(&sb, 64);
    strbuf_addc(&sb, map ? '{' : '[');
    bool first = true;
    if (map && json_object_is_type(o, json_type_object)) {
        json_object_object_foreach(o, k, v)
        {
            const char *s = json_object_get_string(v);
            if (!first)
                strbuf_addc(&sb, ',');
            first = false;
            strlist_add_quoted(&sb, k, strlen(k));
            strbuf_addc(&sb, ':');
            strlist_add_quoted(&sb, s ? s : "", s ? strlen(s) : 0);
        }
    } else if (!map && json_object_is_type(o, json_type_array)) {
        for (size_t i = 0; i < json_object_array_length(o); i++) {
            const char *s = json_object_get_string(json_object_array_get_idx(o, i));
            if (!first)
                strbuf_addc(&sb, ',');
            first = false;
            strlist_add_quoted(&sb, s ? s : "", s ? strlen(s) : 0);
        }
    }
    strbuf_addc(&sb, map ? '}' : ']');
    return strbuf_detach(&sb, NULL);
}

static json_object *jget(json_object *o, const char *key)
{
    json_object *v = NULL;
    if (o)
        json_object_object_get_ex(o, key, &v);
    return v;
}

static void set_int(struct changeset *cs, int cls, const char *ref, int f, json_object *o,
                    const char *key)
{
    char buf[32];
    snprintf(buf, sizeof(buf), "%" PRId64, json_object_get_int64(jget(o, key)));
    changeset_set(cs, cls, ref, f, buf);
}

void storage_sr_sizes(struct changeset *cs, const char *sr_ref, json_object *info)
{
    set_int(cs, C_SR, sr_ref, FIDX(SR, physical_size), info, "physical_size");
    set_int(cs, C_SR, sr_ref, FIDX(SR, physical_utilisation), info, "physical_utilisation");
    set_int(cs, C_SR, sr_ref, FIDX(SR, virtual_allocation), info, "virtual_allocation");
}

json_object *storage_params(const char *sr_ref, const char *vdi_ref)
{
    json_object *p = json_object_new_object();
    db_rdlock();
    const struct row *sr = sr_ref ? db_get(C_SR, sr_ref) : NULL;
    const struct row *vdi = vdi_ref ? db_get(C_VDI, vdi_ref) : NULL;
    if (sr_ref)
        json_object_object_add(p, "sr_uuid",
                               json_object_new_string(sr ? sr->v[FIDX(SR, uuid)] : ""));
    if (vdi_ref)
        json_object_object_add(p, "vdi_uuid",
                               json_object_new_string(vdi ? vdi->v[FIDX(VDI, uuid)] : ""));
    db_unlock();
    return p;
}

bool storage_sr_plugged(const struct row *sr)
{
    struct strbuf scratch;
    struct strlist_iter it;
    const char *ref;
    bool plugged = false;
    strbuf_init(&scratch, 0);
    strlist_iter_init(&it, db_value(sr, FIDX(SR, PBDs), &scratch));
    while (!plugged && strlist_iter_next(&it, NULL, &ref)) {
        const struct row *pbd = db_get(C_PBD, ref);
        plugged = pbd && streq(pbd->v[FIDX(PBD, host)], xapi_state.host_ref) &&
                  streq(pbd->v[FIDX(PBD, currently_attached)], "true");
    }
    strlist_iter_done(&it);
    strbuf_done(&scratch);
    return plugged;
}

/* ---- VDI rows from vdi_info ---- */

/* The fields of a VDI row that the media decide. refs maps the uuids of
 * VDIs known to this update to their refs (parent, snapshot_of). */
static void vdi_fields(struct changeset *cs, const char *ref, const struct row *old, char **vals,
                       json_object *info, const char *(*ref_of)(const char *uuid, void *), void *ud)
{
    struct {
        int f;
        const char *v;
    } set[16];
    int n = 0;
    char vsize[32], psize[32];
    snprintf(vsize, sizeof(vsize), "%" PRId64, json_object_get_int64(jget(info, "virtual_size")));
    snprintf(psize, sizeof(psize), "%" PRId64,
             json_object_get_int64(jget(info, "physical_utilisation")));
    const char *parent = ref_of(storage_json_str(info, "parent"), ud);
    const char *snap_of = ref_of(storage_json_str(info, "snapshot_of"), ud);
    const char *when = storage_json_str(info, "snapshot_time");
    set[n].f = FIDX(VDI, virtual_size), set[n++].v = vsize;
    set[n].f = FIDX(VDI, physical_utilisation), set[n++].v = psize;
    set[n].f = FIDX(VDI, location), set[n++].v = storage_json_str(info, "location");
    set[n].f = FIDX(VDI, managed), set[n++].v = jbool(info, "managed") ? "true" : "false";
    set[n].f = FIDX(VDI, missing), set[n++].v = "false";
    set[n].f = FIDX(VDI, is_a_snapshot),
    set[n++].v = jbool(info, "is_a_snapshot") ? "true" : "false";
    set[n].f = FIDX(VDI, snapshot_of), set[n++].v = snap_of;
    set[n].f = FIDX(VDI, parent), set[n++].v = parent;
    set[n].f = FIDX(VDI, snapshot_time), set[n++].v = *when ? when : "19700101T00:00:00Z";
    set[n].f = FIDX(VDI, sharable), set[n++].v = jbool(info, "sharable") ? "true" : "false";
    set[n].f = FIDX(VDI, read_only), set[n++].v = jbool(info, "read_only") ? "true" : "false";
    for (int i = 0; i < n; i++) {
        if (vals)
            api_set_val(vals, set[i].f, set[i].v);
        else if (!streq(old->v[set[i].f], set[i].v))
            changeset_set(cs, C_VDI, ref, set[i].f, set[i].v);
    }
}

/* A new VDI row for info in sr_ref (names from the media). */
static char **vdi_new_vals(const char *sr_ref, json_object *info, const char *type, char ref[64])
{
    char **v = api_new_row(C_VDI, ref);
    api_set_val(v, FIDX(VDI, uuid), storage_json_str(info, "uuid"));
    api_set_val(v, FIDX(VDI, name_label), storage_json_str(info, "name_label"));
    api_set_val(v, FIDX(VDI, name_description), storage_json_str(info, "name_description"));
    api_set_val(v, FIDX(VDI, SR), sr_ref);
    api_set_val(v, FIDX(VDI, type), type ? type : "user");
    const char *fmt = storage_json_str(info, "format");
    if (*fmt && !streq(fmt, "iso")) {
        struct strbuf sb;
        strbuf_init(&sb, 48);
        strbuf_adds(&sb, "{\"image-format\":");
        strlist_add_quoted(&sb, fmt, strlen(fmt));
        strbuf_addc(&sb, '}');
        api_set_val(v, FIDX(VDI, sm_config), sb.buf);
        strbuf_done(&sb);
    }
    return v;
}

/* Refs by uuid: the rows being created in this update first, then the
 * database. */
struct uuid_refs {
    size_t n;
    char (*uuid)[40];
    char (*ref)[64];
};

static const char *lookup_ref(const char *uuid, void *ud)
{
    struct uuid_refs *m = ud;
    if (!*uuid)
        return "OpaqueRef:NULL";
    for (size_t i = 0; i < m->n; i++)
        if (streq(m->uuid[i], uuid))
            return m->ref[i];
    const struct row *r = db_get_by_uuid(C_VDI, uuid);
    return r ? r->ref : "OpaqueRef:NULL";
}

struct api_error *storage_vdi_record(const char *sr_ref, json_object *info, char **vals,
                                     const char *vals_ref, char ret_ref[64])
{
    char ref[64];
    struct uuid_refs none = {0};
    struct changeset *cs = changeset_new();
    const char *uuid = storage_json_str(info, "uuid");
    struct api_error *e = NULL;
    db_wrlock();
    const struct row *old = uuid_is_valid(uuid) ? db_get_by_uuid(C_VDI, uuid) : NULL;
    if (!uuid_is_valid(uuid)) {
        e = api_failf(INTERNAL_ERROR, "storaged answered a VDI without a uuid");
    } else if (old) {
        snprintf(ref, sizeof(ref), "%s", old->ref);
        vdi_fields(cs, ref, old, NULL, info, lookup_ref, &none);
    } else {
        char **v = vals;
        if (v) {
            snprintf(ref, sizeof(ref), "%s", vals_ref);
            api_set_val(v, FIDX(VDI, uuid), uuid);
            api_set_val(v, FIDX(VDI, SR), sr_ref);
            vals = NULL;
        } else {
            v = vdi_new_vals(sr_ref, info, NULL, ref);
        }
        vdi_fields(cs, ref, NULL, v, info, lookup_ref, &none);
        changeset_create(cs, C_VDI, ref, v);
    }
    if (!e)
        e = api_apply(cs);
    else
        changeset_free(cs);
    db_unlock();
    if (vals) {
        api_free_row(C_VDI, vals);
    }
    if (!e && ret_ref)
        snprintf(ret_ref, 64, "%s", ref);
    return e;
}

struct api_error *storage_sr_refresh(const char *sr_ref)
{
    json_object *p = storage_params(sr_ref, NULL), *res = NULL;
    struct api_error *e = storage_call("sr_update", p, 300, &res);
    json_object_put(p);
    if (e)
        return e;
    struct changeset *cs = changeset_new();
    storage_sr_sizes(cs, sr_ref, res);
    db_wrlock();
    e = db_get(C_SR, sr_ref) ? api_apply(cs) : (changeset_free(cs), NULL);
    db_unlock();
    json_object_put(res);
    return e;
}

/* Whether a VBD of the VDI is attached to a domain. db lock held. */
static bool vdi_attached(const struct row *vdi)
{
    struct strbuf scratch;
    struct strlist_iter it;
    const char *ref;
    bool attached = false;
    strbuf_init(&scratch, 0);
    strlist_iter_init(&it, db_value(vdi, FIDX(VDI, VBDs), &scratch));
    while (!attached && strlist_iter_next(&it, NULL, &ref)) {
        const struct row *vbd = db_get(C_VBD, ref);
        attached = vbd && streq(vbd->v[FIDX(VBD, currently_attached)], "true");
    }
    strlist_iter_done(&it);
    strbuf_done(&scratch);
    return attached;
}

/* Adds to cs the rows of the VDIs listed in vdis (an array of vdi_info)
 * in sr_ref: existing rows updated, new ones created; m gets each listed
 * uuid with its ref. db lock held. */
static void record_listed(struct changeset *cs, const char *sr_ref, json_object *vdis,
                          struct uuid_refs *m)
{
    size_t n = json_object_is_type(vdis, json_type_array) ? json_object_array_length(vdis) : 0;
    char ***fresh = xcalloc(n + 1, sizeof(char **)); /* new rows' values, by index */
    m->n = 0;
    m->uuid = xcalloc(n + 1, 40);
    m->ref = xcalloc(n + 1, 64);
    /* Every listed VDI gets its ref first, so that chains resolve. */
    for (size_t i = 0; i < n; i++) {
        json_object *info = json_object_array_get_idx(vdis, i);
        const char *uuid = storage_json_str(info, "uuid");
        if (!uuid_is_valid(uuid))
            continue;
        const struct row *old = db_get_by_uuid(C_VDI, uuid);
        snprintf(m->uuid[m->n], 40, "%s", uuid);
        if (old)
            snprintf(m->ref[m->n], 64, "%s", old->ref);
        else
            fresh[i] = vdi_new_vals(sr_ref, info, NULL, m->ref[m->n]);
        m->n++;
    }
    for (size_t i = 0, k = 0; i < n; i++) {
        json_object *info = json_object_array_get_idx(vdis, i);
        if (!uuid_is_valid(storage_json_str(info, "uuid")))
            continue;
        const char *ref = m->ref[k++];
        if (fresh[i]) {
            vdi_fields(cs, ref, NULL, fresh[i], info, lookup_ref, m);
            changeset_create(cs, C_VDI, ref, fresh[i]);
        } else {
            vdi_fields(cs, ref, db_get(C_VDI, ref), NULL, info, lookup_ref, m);
        }
    }
    free(fresh);
}

struct api_error *storage_vdis_record(const char *sr_ref, json_object *vdis, json_object *sr_info)
{
    struct uuid_refs m = {0};
    struct api_error *e;
    struct changeset *cs = changeset_new();
    db_wrlock();
    if (!db_get(C_SR, sr_ref)) {
        changeset_free(cs);
        e = api_fail(HANDLE_INVALID, "SR", sr_ref);
    } else {
        record_listed(cs, sr_ref, vdis, &m);
        if (sr_info)
            storage_sr_sizes(cs, sr_ref, sr_info);
        e = api_apply(cs);
    }
    db_unlock();
    free(m.uuid);
    free(m.ref);
    return e;
}

/* Forgets the row of a VDI of sr_ref that the media no longer hold, or
 * only marks it missing while a domain uses it, as a scan does. db lock
 * held. */
static void forget_vanished(struct changeset *cs, const char *sr_ref, const struct row *vdi)
{
    if (!vdi || !streq(vdi->v[FIDX(VDI, SR)], sr_ref))
        return;
    if (vdi_attached(vdi))
        changeset_set(cs, C_VDI, vdi->ref, FIDX(VDI, missing), "true");
    else
        changeset_delete(cs, C_VDI, vdi->ref);
}

struct api_error *storage_vdis_changed(const char *sr_ref, json_object *answer)
{
    struct uuid_refs m = {0};
    struct api_error *e;
    json_object *removed = jget(answer, "removed"), *sr_info = jget(answer, "sr");
    struct changeset *cs = changeset_new();
    db_wrlock();
    if (!db_get(C_SR, sr_ref)) {
        changeset_free(cs);
        e = api_fail(HANDLE_INVALID, "SR", sr_ref);
    } else {
        record_listed(cs, sr_ref, jget(answer, "updated"), &m);
        size_t n =
            json_object_is_type(removed, json_type_array) ? json_object_array_length(removed) : 0;
        for (size_t i = 0; i < n; i++) {
            const char *uuid = json_object_get_string(json_object_array_get_idx(removed, i));
            if (uuid && uuid_is_valid(uuid))
                forget_vanished(cs, sr_ref, db_get_by_uuid(C_VDI, uuid));
        }
        if (sr_info)
            storage_sr_sizes(cs, sr_ref, sr_info);
        e = api_apply(cs);
    }
    db_unlock();
    free(m.uuid);
    free(m.ref);
    return e;
}

struct api_error *storage_sr_scan(const char *sr_ref)
{
    json_object *p = storage_params(sr_ref, NULL), *res = NULL;
    struct api_error *e = storage_call("sr_scan", p, 600, &res);
    json_object_put(p);
    if (e)
        return e;
    struct uuid_refs m = {0};
    struct changeset *cs = changeset_new();

    db_wrlock();
    const struct row *sr = db_get(C_SR, sr_ref);
    if (!sr) {
        db_unlock();
        changeset_free(cs);
        e = api_fail(HANDLE_INVALID, "SR", sr_ref);
        goto out;
    }
    record_listed(cs, sr_ref, jget(res, "vdis"), &m);
    /* Rows the media no longer hold: forgotten, unless a domain uses them
     * (then only marked missing). */
    struct strbuf scratch;
    struct strlist_iter it;
    const char *ref;
    strbuf_init(&scratch, 0);
    strlist_iter_init(&it, db_value(sr, FIDX(SR, VDIs), &scratch));
    while (strlist_iter_next(&it, NULL, &ref)) {
        bool listed = false;
        for (size_t i = 0; i < m.n && !listed; i++)
            listed = streq(m.ref[i], ref);
        if (!listed)
            forget_vanished(cs, sr_ref, db_get(C_VDI, ref));
    }
    strlist_iter_done(&it);
    strbuf_done(&scratch);
    storage_sr_sizes(cs, sr_ref, jget(res, "sr"));
    e = api_apply(cs);
    db_unlock();
out:
    free(m.uuid);
    free(m.ref);
    json_object_put(res);
    return e;
}

/* ---- start: SM records and plugged PBDs ---- */

/* One SM row per driver storaged offers, found again by type. */
static struct api_error *record_drivers(json_object *list)
{
    struct changeset *cs = changeset_new();
    size_t n = json_object_is_type(list, json_type_array) ? json_object_array_length(list) : 0;
    db_wrlock();
    for (size_t i = 0; i < n; i++) {
        json_object *d = json_object_array_get_idx(list, i);
        const char *type = storage_json_str(d, "type");
        if (!*type)
            continue;
        const struct row *old = NULL, *r;
        size_t it = 0;
        while (!old && db_next(C_SM, &it, &r))
            if (streq(r->v[FIDX(SM, type)], type))
                old = r;
        char ref[64];
        char **vals = NULL;
        if (old)
            snprintf(ref, sizeof(ref), "%s", old->ref);
        else
            vals = api_new_row(C_SM, ref);
        char *caps = canon(jget(d, "capabilities"), false);
        char *feats = canon(jget(d, "features"), true);
        char *conf = canon(jget(d, "configuration"), true);
        char *stack = canon(jget(d, "required_cluster_stack"), false);
        const struct {
            int f;
            const char *v;
        } set[] = {
            {FIDX(SM, type), type},
            {FIDX(SM, name_label), storage_json_str(d, "name_label")},
            {FIDX(SM, name_description), storage_json_str(d, "name_description")},
            {FIDX(SM, vendor), storage_json_str(d, "vendor")},
            {FIDX(SM, copyright), storage_json_str(d, "copyright")},
            {FIDX(SM, version), storage_json_str(d, "version")},
            {FIDX(SM, required_api_version), storage_json_str(d, "required_api_version")},
            {FIDX(SM, driver_filename), storage_json_str(d, "driver_filename")},
            {FIDX(SM, capabilities), caps},
            {FIDX(SM, features), feats},
            {FIDX(SM, configuration), conf},
            {FIDX(SM, required_cluster_stack), stack},
        };
        for (size_t k = 0; k < ELEMENTSOF(set); k++) {
            if (vals)
                api_set_val(vals, set[k].f, set[k].v);
            else if (!streq(old->v[set[k].f], set[k].v))
                changeset_set(cs, C_SM, ref, set[k].f, set[k].v);
        }
        if (vals)
            changeset_create(cs, C_SM, ref, vals);
        free(caps);
        free(feats);
        free(conf);
        free(stack);
    }
    struct api_error *e = changeset_size(cs) ? api_apply(cs) : (changeset_free(cs), NULL);
    db_unlock();
    return e;
}

/* sr_attach's params for a PBD: its SR's uuid and type, its
 * device_config. db lock held. */
static json_object *attach_params(const struct row *pbd, const struct row *sr)
{
    json_object *p = json_object_new_object();
    json_object *dc = json_tokener_parse(pbd->v[FIDX(PBD, device_config)]);
    json_object_object_add(p, "sr_uuid", json_object_new_string(sr->v[FIDX(SR, uuid)]));
    json_object_object_add(p, "type", json_object_new_string(sr->v[FIDX(SR, type)]));
    json_object_object_add(p, "device_config", dc ? dc : json_object_new_object());
    return p;
}

struct api_error *storage_pbd_attach(const char *pbd_ref)
{
    char sr_ref[64];
    json_object *p, *res = NULL;
    db_rdlock();
    const struct row *pbd = db_get(C_PBD, pbd_ref);
    const struct row *sr = pbd ? db_get(C_SR, pbd->v[FIDX(PBD, SR)]) : NULL;
    if (!pbd || !sr) {
        db_unlock();
        return api_fail(HANDLE_INVALID, pbd ? "SR" : "PBD", pbd ? pbd->v[FIDX(PBD, SR)] : pbd_ref);
    }
    snprintf(sr_ref, sizeof(sr_ref), "%s", sr->ref);
    p = attach_params(pbd, sr);
    db_unlock();
    struct api_error *e = storage_call("sr_attach", p, 600, &res);
    json_object_put(p);
    struct changeset *cs = changeset_new();
    if (!e) {
        changeset_set(cs, C_PBD, pbd_ref, FIDX(PBD, currently_attached), "true");
        storage_sr_sizes(cs, sr_ref, res);
    }
    db_wrlock();
    if (!e && db_get(C_PBD, pbd_ref) && db_get(C_SR, sr_ref))
        e = api_apply(cs);
    else
        changeset_free(cs);
    db_unlock();
    json_object_put(res);
    return e;
}

/* Plugs again, through sr_attach, each PBD of this host that was plugged
 * (storaged forgets its attachments when the host restarts); one that
 * fails is marked unplugged rather than left claiming an SR it lost. */
static void replug(void)
{
    char(*refs)[64] = NULL;
    size_t n = 0;
    db_rdlock();
    size_t it = 0;
    const struct row *pbd;
    while (db_next(C_PBD, &it, &pbd))
        if (streq(pbd->v[FIDX(PBD, host)], xapi_state.host_ref) &&
            streq(pbd->v[FIDX(PBD, currently_attached)], "true")) {
            refs = xrealloc(refs, (n + 1) * sizeof(*refs));
            snprintf(refs[n++], 64, "%s", pbd->ref);
        }
    db_unlock();
    for (size_t i = 0; i < n; i++) {
        struct api_error *e = storage_pbd_attach(refs[i]);
        if (!e)
            continue;
        log_warning("PBD %s could not be plugged again: %s %s", refs[i], e->code,
                    e->n ? e->params[0] : "");
        api_error_free(e);
        struct changeset *cs = changeset_new();
        db_wrlock();
        if (db_get(C_PBD, refs[i])) {
            changeset_set(cs, C_PBD, refs[i], FIDX(PBD, currently_attached), "false");
            api_error_free(api_apply(cs));
        } else {
            changeset_free(cs);
        }
        db_unlock();
    }
    free(refs);
}

static bool pause_for(double s)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    ts.tv_sec += (time_t)s;
    pthread_mutex_lock(&st.lock);
    if (!st.stopping)
        pthread_cond_timedwait(&st.cond, &st.lock, &ts);
    bool go_on = !st.stopping;
    pthread_mutex_unlock(&st.lock);
    return go_on;
}

static void *sync_thread(void *arg)
{
    (void)arg;
    for (bool warned = false;;) {
        json_object *list = NULL, *p = json_object_new_object();
        struct api_error *e = storage_call("sm_list", p, 30, &list);
        json_object_put(p);
        if (!e) {
            e = record_drivers(list);
            json_object_put(list);
            if (!e) {
                storage_lock();
                replug();
                storage_unlock();
                log_info("storaged: drivers recorded, PBDs plugged");
                return NULL;
            }
        }
        if (!warned)
            log_warning("storaged not ready (%s %s); retrying", e->code, e->n ? e->params[0] : "");
        warned = true;
        api_error_free(e);
        if (!pause_for(RETRY_DELAY))
            return NULL;
    }
}

void storage_init(const char *socket_path)
{
    st.path = xstrdup(socket_path);
    st.running = pthread_create(&st.thread, NULL, sync_thread, NULL) == 0;
}

void storage_shutdown(void)
{
    pthread_mutex_lock(&st.lock);
    st.stopping = true;
    pthread_cond_broadcast(&st.cond);
    pthread_mutex_unlock(&st.lock);
    if (st.running)
        pthread_join(st.thread, NULL);
    st.running = false;
    free(st.path);
    st.path = NULL;
}
