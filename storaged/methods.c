/* storaged's JSON-RPC methods (see methods.h). lib/jsonrpc has checked the
 * JSON types against the table; handlers check the rest and call sr.c. */
#include "storaged/methods.h"

#include <stdio.h>
#include <string.h>

#include "lib/log.h"
#include "lib/util.h"
#include "storaged/diag.h"
#include "storaged/drivers.h"
#include "storaged/revert.h"
#include "storaged/stream.h"

LOG_MODULE("methods");

static json_object *member(json_object *params, const char *name)
{
    json_object *v = NULL;
    json_object_object_get_ex(params, name, &v);
    return v;
}

static const char *get_string(json_object *params, const char *name)
{
    json_object *v = member(params, name);
    return v ? json_object_get_string(v) : NULL;
}

static bool get_bool(json_object *params, const char *name)
{
    json_object *v = member(params, name);
    return v && json_object_get_boolean(v);
}

/* A required or optional (NULL when absent) UUID parameter. */
static struct jsonrpc_error *get_uuid(json_object *params, const char *name, bool required,
                                      const char **ret)
{
    const char *s = get_string(params, name);

    if (!s && !required) {
        *ret = NULL;
        return NULL;
    }
    if (!s || !uuid_is_valid(s))
        return jsonrpc_error_new(JSONRPC_INVALID_PARAMS, "%s: a UUID is required", name);
    *ret = s;
    return NULL;
}

static struct jsonrpc_error *get_names(json_object *params, struct sd_names *ret)
{
    ret->name_label = get_string(params, "name_label");
    ret->name_description = get_string(params, "name_description");
    if ((ret->name_label && !utf8_is_valid(ret->name_label, strlen(ret->name_label))) ||
        (ret->name_description &&
         !utf8_is_valid(ret->name_description, strlen(ret->name_description))))
        return jsonrpc_error_new(JSONRPC_INVALID_PARAMS, "names must be UTF-8");
    return NULL;
}

/* device_config is a map of strings, as in the XenAPI. */
static struct jsonrpc_error *get_dc(json_object *params, json_object **ret)
{
    json_object *dc = member(params, "device_config");

    json_object_object_foreach(dc, k, v)
    {
        if (!json_object_is_type(v, json_type_string))
            return jsonrpc_error_new(JSONRPC_INVALID_PARAMS,
                                     "device_config: the value of %s is not a string", k);
    }
    *ret = dc;
    return NULL;
}

static struct jsonrpc_error *get_size(json_object *params, const char *name, int64_t *ret)
{
    int64_t x = json_object_get_int64(member(params, name));

    if (x <= 0)
        return jsonrpc_error_new(JSONRPC_INVALID_PARAMS,
                                 "%s: a positive size in bytes is "
                                 "required",
                                 name);
    *ret = x;
    return NULL;
}

static struct jsonrpc_error *null_result(struct jsonrpc_error *e, json_object **ret_result)
{
    *ret_result = NULL;
    return e;
}

static void lower(const char *s, char out[UUID_STR_LEN])
{
    for (size_t i = 0; i < UUID_STR_LEN; i++)
        out[i] = (char)(s[i] >= 'A' && s[i] <= 'F' ? s[i] - 'A' + 'a' : s[i]);
}

/* ---- handlers ---- */

#define HANDLER(fn)                                                                                \
    static struct jsonrpc_error *fn(json_object *params, json_object **ret_result, void *userdata)

HANDLER(m_sm_list)
{
    (void)params;
    (void)userdata;
    *ret_result = sd_drivers_to_json();
    return NULL;
}

HANDLER(m_sr_probe)
{
    json_object *dc;
    struct jsonrpc_error *e;

    if ((e = get_dc(params, &dc)))
        return e;
    return sd_sr_probe(userdata, get_string(params, "type"), dc, ret_result);
}

HANDLER(m_sr_create)
{
    const char *sr;
    json_object *dc;
    struct sd_names names;
    struct jsonrpc_error *e;

    if ((e = get_uuid(params, "sr_uuid", true, &sr)) || (e = get_dc(params, &dc)) ||
        (e = get_names(params, &names)))
        return e;
    char id[UUID_STR_LEN];
    lower(sr, id);
    return sd_sr_create(userdata, get_string(params, "type"), id, dc, &names,
                        get_bool(params, "shared"), ret_result);
}

HANDLER(m_sr_attach)
{
    const char *sr;
    json_object *dc;
    struct jsonrpc_error *e;

    if ((e = get_uuid(params, "sr_uuid", true, &sr)) || (e = get_dc(params, &dc)))
        return e;
    char id[UUID_STR_LEN];
    lower(sr, id);
    return sd_sr_attach(userdata, get_string(params, "type"), id, dc, ret_result);
}

/* The uuid parameters, lower-cased (the metadata keeps them so). */
struct ids {
    char sr[UUID_STR_LEN];
    char vdi[UUID_STR_LEN];
};

static struct jsonrpc_error *get_ids(json_object *params, bool vdi, struct ids *ret)
{
    const char *s;
    struct jsonrpc_error *e;

    if ((e = get_uuid(params, "sr_uuid", true, &s)))
        return e;
    lower(s, ret->sr);
    if (vdi) {
        if ((e = get_uuid(params, "vdi_uuid", true, &s)))
            return e;
        lower(s, ret->vdi);
    }
    return NULL;
}

HANDLER(m_sr_detach)
{
    struct ids id;
    struct jsonrpc_error *e;

    if ((e = get_ids(params, false, &id)))
        return e;
    return null_result(sd_sr_detach(userdata, id.sr), ret_result);
}

HANDLER(m_sr_list)
{
    (void)params;
    return sd_sr_list(userdata, ret_result);
}

HANDLER(m_sr_scan)
{
    struct ids id;
    struct jsonrpc_error *e;

    if ((e = get_ids(params, false, &id)))
        return e;
    return sd_sr_scan(userdata, id.sr, ret_result);
}

HANDLER(m_sr_update)
{
    struct ids id;
    struct sd_names names;
    struct jsonrpc_error *e;

    if ((e = get_ids(params, false, &id)) || (e = get_names(params, &names)))
        return e;
    return sd_sr_update(userdata, id.sr, &names, ret_result);
}

HANDLER(m_sr_delete)
{
    struct ids id;
    struct jsonrpc_error *e;

    if ((e = get_ids(params, false, &id)))
        return e;
    return null_result(sd_sr_delete(userdata, id.sr), ret_result);
}

HANDLER(m_vdi_create)
{
    struct ids id;
    struct sd_vdi_create a = {0};
    struct jsonrpc_error *e;

    if ((e = get_ids(params, false, &id)) ||
        (e = get_uuid(params, "vdi_uuid", false, &a.vdi_uuid)) ||
        (e = get_names(params, &a.names)) ||
        (e = get_size(params, "virtual_size", &a.virtual_size)))
        return e;
    a.sharable = get_bool(params, "sharable");
    a.read_only = get_bool(params, "read_only");
    a.format = get_string(params, "format");
    if (a.format && !streq(a.format, "qcow2") && !streq(a.format, "raw"))
        return jsonrpc_error_new(JSONRPC_INVALID_PARAMS, "format: qcow2 or raw");
    return sd_vdi_create(userdata, id.sr, &a, ret_result);
}

HANDLER(m_vdi_delete)
{
    struct ids id;
    struct jsonrpc_error *e;

    if ((e = get_ids(params, true, &id)))
        return e;
    return sd_vdi_delete(userdata, id.sr, id.vdi, ret_result);
}

HANDLER(m_vdi_resize)
{
    struct ids id;
    int64_t size = 0;
    struct jsonrpc_error *e;

    if ((e = get_ids(params, true, &id)) || (e = get_size(params, "new_size", &size)))
        return e;
    return sd_vdi_resize(userdata, id.sr, id.vdi, size, ret_result);
}

static struct jsonrpc_error *snapshot_or_clone(json_object *params, json_object **ret_result,
                                               struct storaged *sd, const char *new_name,
                                               bool clone)
{
    struct ids id;
    const char *new_uuid;
    struct sd_names names;
    struct jsonrpc_error *e;

    if ((e = get_ids(params, true, &id)) || (e = get_uuid(params, new_name, false, &new_uuid)) ||
        (e = get_names(params, &names)))
        return e;
    return sd_vdi_snapshot(sd, id.sr, id.vdi, new_uuid, &names, clone, ret_result);
}

HANDLER(m_vdi_snapshot)
{
    return snapshot_or_clone(params, ret_result, userdata, "snapshot_uuid", false);
}

HANDLER(m_vdi_clone)
{
    return snapshot_or_clone(params, ret_result, userdata, "clone_uuid", true);
}

HANDLER(m_vdi_update)
{
    struct ids id;
    struct sd_names names;
    struct jsonrpc_error *e;

    if ((e = get_ids(params, true, &id)) || (e = get_names(params, &names)))
        return e;
    return sd_vdi_update(userdata, id.sr, id.vdi, &names, ret_result);
}

HANDLER(m_vdi_introduce)
{
    struct ids id;
    struct jsonrpc_error *e;

    if ((e = get_ids(params, true, &id)))
        return e;
    return sd_vdi_introduce(userdata, id.sr, id.vdi, get_string(params, "location"), ret_result);
}

HANDLER(m_vdi_attach)
{
    struct ids id;
    struct jsonrpc_error *e;

    if ((e = get_ids(params, true, &id)))
        return e;
    return sd_vdi_attach(userdata, id.sr, id.vdi, get_bool(params, "read_write"), ret_result);
}

HANDLER(m_vdi_activate)
{
    struct ids id;
    struct jsonrpc_error *e;

    if ((e = get_ids(params, true, &id)))
        return e;
    return null_result(sd_vdi_activate(userdata, id.sr, id.vdi), ret_result);
}

HANDLER(m_vdi_deactivate)
{
    struct ids id;
    struct jsonrpc_error *e;

    if ((e = get_ids(params, true, &id)))
        return e;
    return null_result(sd_vdi_deactivate(userdata, id.sr, id.vdi), ret_result);
}

HANDLER(m_vdi_detach)
{
    struct ids id;
    struct jsonrpc_error *e;

    if ((e = get_ids(params, true, &id)))
        return e;
    return null_result(sd_vdi_detach(userdata, id.sr, id.vdi), ret_result);
}

HANDLER(m_vdi_copy)
{
    struct ids id;
    const char *dest, *dest_vdi, *into;
    struct jsonrpc_error *e;

    if ((e = get_ids(params, true, &id)) || (e = get_uuid(params, "dest_sr_uuid", true, &dest)) ||
        (e = get_uuid(params, "dest_vdi_uuid", false, &dest_vdi)) ||
        (e = get_uuid(params, "into_vdi_uuid", false, &into)))
        return e;
    if (dest_vdi && into)
        return jsonrpc_error_new(JSONRPC_INVALID_PARAMS,
                                 "dest_vdi_uuid names a new VDI, into_vdi_uuid an existing one: "
                                 "not both");
    const char *job = get_string(params, "job");
    if (job && (!*job || strlen(job) > 256))
        return jsonrpc_error_new(JSONRPC_INVALID_PARAMS, "job: 1 to 256 characters");
    char d[UUID_STR_LEN], in[UUID_STR_LEN];
    lower(dest, d);
    if (into) {
        lower(into, in);
        return sd_vdi_copy_into(userdata, id.sr, id.vdi, d, in, job, ret_result);
    }
    return sd_vdi_copy(userdata, id.sr, id.vdi, d, dest_vdi, job, ret_result);
}

HANDLER(m_job_status)
{
    return sd_job_status(userdata, get_string(params, "job"), ret_result);
}

HANDLER(m_job_cancel)
{
    return null_result(sd_job_cancel(userdata, get_string(params, "job")), ret_result);
}

/* ---- the table ---- */

static const struct jsonrpc_param p_none[] = {{0}};
static const struct jsonrpc_param p_probe[] = {
    {"type", JP_STRING, true}, {"device_config", JP_OBJECT, true}, {0}};
static const struct jsonrpc_param p_sr_create[] = {{"type", JP_STRING, true},
                                                   {"sr_uuid", JP_STRING, true},
                                                   {"device_config", JP_OBJECT, true},
                                                   {"name_label", JP_STRING, false},
                                                   {"name_description", JP_STRING, false},
                                                   {"shared", JP_BOOL, false},
                                                   {0}};
static const struct jsonrpc_param p_sr_attach[] = {{"type", JP_STRING, true},
                                                   {"sr_uuid", JP_STRING, true},
                                                   {"device_config", JP_OBJECT, true},
                                                   {0}};
static const struct jsonrpc_param p_sr[] = {{"sr_uuid", JP_STRING, true}, {0}};
static const struct jsonrpc_param p_sr_update[] = {{"sr_uuid", JP_STRING, true},
                                                   {"name_label", JP_STRING, false},
                                                   {"name_description", JP_STRING, false},
                                                   {0}};
static const struct jsonrpc_param p_vdi_create[] = {{"sr_uuid", JP_STRING, true},
                                                    {"vdi_uuid", JP_STRING, false},
                                                    {"name_label", JP_STRING, false},
                                                    {"name_description", JP_STRING, false},
                                                    {"virtual_size", JP_INT, true},
                                                    {"sharable", JP_BOOL, false},
                                                    {"read_only", JP_BOOL, false},
                                                    {"format", JP_STRING, false},
                                                    {0}};
static const struct jsonrpc_param p_vdi[] = {
    {"sr_uuid", JP_STRING, true}, {"vdi_uuid", JP_STRING, true}, {0}};
static const struct jsonrpc_param p_vdi_resize[] = {
    {"sr_uuid", JP_STRING, true}, {"vdi_uuid", JP_STRING, true}, {"new_size", JP_INT, true}, {0}};
static const struct jsonrpc_param p_vdi_snapshot[] = {
    {"sr_uuid", JP_STRING, true},           {"vdi_uuid", JP_STRING, true},
    {"snapshot_uuid", JP_STRING, false},    {"name_label", JP_STRING, false},
    {"name_description", JP_STRING, false}, {0}};
static const struct jsonrpc_param p_vdi_clone[] = {
    {"sr_uuid", JP_STRING, true},           {"vdi_uuid", JP_STRING, true},
    {"clone_uuid", JP_STRING, false},       {"name_label", JP_STRING, false},
    {"name_description", JP_STRING, false}, {0}};
static const struct jsonrpc_param p_vdi_update[] = {{"sr_uuid", JP_STRING, true},
                                                    {"vdi_uuid", JP_STRING, true},
                                                    {"name_label", JP_STRING, false},
                                                    {"name_description", JP_STRING, false},
                                                    {0}};
static const struct jsonrpc_param p_vdi_introduce[] = {{"sr_uuid", JP_STRING, true},
                                                       {"vdi_uuid", JP_STRING, true},
                                                       {"location", JP_STRING, false},
                                                       {0}};
static const struct jsonrpc_param p_vdi_attach[] = {{"sr_uuid", JP_STRING, true},
                                                    {"vdi_uuid", JP_STRING, true},
                                                    {"read_write", JP_BOOL, true},
                                                    {0}};
static const struct jsonrpc_param p_vdi_copy[] = {{"sr_uuid", JP_STRING, true},
                                                  {"vdi_uuid", JP_STRING, true},
                                                  {"dest_sr_uuid", JP_STRING, true},
                                                  {"dest_vdi_uuid", JP_STRING, false},
                                                  {"into_vdi_uuid", JP_STRING, false},
                                                  {"job", JP_STRING, false},
                                                  {0}};
static const struct jsonrpc_param p_job[] = {{"job", JP_STRING, true}, {0}};

static const struct jsonrpc_method methods[] = {
    {"sm_list", m_sm_list, p_none},
    {"sr_probe", m_sr_probe, p_probe},
    {"sr_create", m_sr_create, p_sr_create},
    {"sr_attach", m_sr_attach, p_sr_attach},
    {"sr_detach", m_sr_detach, p_sr},
    {"sr_list", m_sr_list, p_none},
    {"sr_scan", m_sr_scan, p_sr},
    {"sr_update", m_sr_update, p_sr_update},
    {"sr_delete", m_sr_delete, p_sr},
    {"vdi_create", m_vdi_create, p_vdi_create},
    {"vdi_delete", m_vdi_delete, p_vdi},
    {"vdi_resize", m_vdi_resize, p_vdi_resize},
    {"vdi_snapshot", m_vdi_snapshot, p_vdi_snapshot},
    {"vdi_clone", m_vdi_clone, p_vdi_clone},
    {"vdi_update", m_vdi_update, p_vdi_update},
    {"vdi_introduce", m_vdi_introduce, p_vdi_introduce},
    {"vdi_attach", m_vdi_attach, p_vdi_attach},
    {"vdi_activate", m_vdi_activate, p_vdi},
    {"vdi_deactivate", m_vdi_deactivate, p_vdi},
    {"vdi_detach", m_vdi_detach, p_vdi},
    {"vdi_copy", m_vdi_copy, p_vdi_copy},
    {"job_status", m_job_status, p_job},
    {"job_cancel", m_job_cancel, p_job},
    {"vdi_export", sd_m_vdi_export, sd_p_vdi_stream},
    {"vdi_import", sd_m_vdi_import, sd_p_vdi_stream},
    {"vdi_import_nbd", sd_m_vdi_import_nbd, sd_p_vdi_stream},
    {"vdi_revert", sd_m_vdi_revert, sd_p_vdi_revert},
    {"vdi_map", sd_m_vdi_map, sd_p_vdi_map},
    {"diagnostics", sd_m_diagnostics, sd_p_diagnostics},
    {0},
};

const struct jsonrpc_method *storaged_methods(void)
{
    return methods;
}
