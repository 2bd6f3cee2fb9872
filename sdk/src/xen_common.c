/* The hand-written part of the SDK's public API: library set-up, the
 * session (login, logout, errors, the session class's calls, which
 * XenServer's SDK also writes by hand), the basic sets, the API version
 * table and event.from's batch. Everything goes through xen_call_(). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libxml/parser.h>

#include <xen/api/xen_all.h>

#include "gen_types.h"
#include "xen_internal.h"

#define SDK_MAJOR 2
#define SDK_MINOR 21
#define SDK_PATCH 0

void xen_init(void)
{
    xmlInitParser();
}

void xen_fini(void)
{
    /* libxml2's own state belongs to the application (xmlCleanupParser). */
}

/* ---- versions ---- */

static const struct {
    xen_api_version v;
    int major, minor;
} versions[] = {
    {xen_api_version_1_1, 1, 1},   {xen_api_version_1_2, 1, 2},   {xen_api_version_1_3, 1, 3},
    {xen_api_version_1_4, 1, 4},   {xen_api_version_1_5, 1, 5},   {xen_api_version_1_6, 1, 6},
    {xen_api_version_1_7, 1, 7},   {xen_api_version_1_8, 1, 8},   {xen_api_version_1_9, 1, 9},
    {xen_api_version_1_10, 1, 10}, {xen_api_version_2_0, 2, 0},   {xen_api_version_2_1, 2, 1},
    {xen_api_version_2_2, 2, 2},   {xen_api_version_2_3, 2, 3},   {xen_api_version_2_4, 2, 4},
    {xen_api_version_2_5, 2, 5},   {xen_api_version_2_6, 2, 6},   {xen_api_version_2_7, 2, 7},
    {xen_api_version_2_8, 2, 8},   {xen_api_version_2_9, 2, 9},   {xen_api_version_2_10, 2, 10},
    {xen_api_version_2_11, 2, 11}, {xen_api_version_2_12, 2, 12}, {xen_api_version_2_13, 2, 13},
    {xen_api_version_2_14, 2, 14}, {xen_api_version_2_15, 2, 15}, {xen_api_version_2_20, 2, 20},
    {xen_api_version_2_21, 2, 21}, {xen_api_version_2_23, 2, 23},
};
#define N_VERSIONS (sizeof(versions) / sizeof(versions[0]))

const char *xen_api_version_to_string(xen_api_version version)
{
    static const char *const fixed[N_VERSIONS] = {
        "1.1",  "1.2",  "1.3",  "1.4",  "1.5",  "1.6",  "1.7",  "1.8",  "1.9", "1.10",
        "2.0",  "2.1",  "2.2",  "2.3",  "2.4",  "2.5",  "2.6",  "2.7",  "2.8", "2.9",
        "2.10", "2.11", "2.12", "2.13", "2.14", "2.15", "2.20", "2.21", "2.23"};
    for (size_t i = 0; i < N_VERSIONS; i++)
        if (versions[i].v == version)
            return fixed[i];
    return "Unknown";
}

xen_api_version xen_api_version_from_int(int64_t major_version, int64_t minor_version)
{
    for (size_t i = 0; i < N_VERSIONS; i++)
        if (versions[i].major == major_version && versions[i].minor == minor_version)
            return versions[i].v;
    return xen_api_unknown_version;
}

xen_version *xen_get_client_side_version(void)
{
    xen_version *v = calloc(1, sizeof(*v));
    if (!v)
        return NULL;
    v->major = SDK_MAJOR;
    v->minor = SDK_MINOR;
    v->patch = SDK_PATCH;
    v->extraversion = strdup("xenia");
    return v;
}

void xen_version_free(xen_version *version)
{
    if (!version)
        return;
    free(version->extraversion);
    free(version);
}

/* ---- UUIDs ---- */

static int hexval(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

bool xen_uuid_string_to_bytes(char *uuid, char **bytes)
{
    if (!uuid || strlen(uuid) != 36)
        return false;
    unsigned char *b = malloc(16);
    if (!b)
        return false;
    int j = 0;
    for (int i = 0; i < 36; i++) {
        if (i == 8 || i == 13 || i == 18 || i == 23) {
            if (uuid[i] != '-')
                goto fail;
            continue;
        }
        int hi = hexval(uuid[i]), lo = hexval(uuid[i + 1]);
        if (hi < 0 || lo < 0)
            goto fail;
        b[j++] = (unsigned char)(hi << 4 | lo);
        i++;
    }
    *bytes = (char *)b;
    return true;
fail:
    free(b);
    return false;
}

bool xen_uuid_bytes_to_string(char *bytes, char **uuid)
{
    const unsigned char *b = (const unsigned char *)bytes;
    char *s = malloc(37);
    if (!b || !s) {
        free(s);
        return false;
    }
    snprintf(s, 37, "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x", b[0],
             b[1], b[2], b[3], b[4], b[5], b[6], b[7], b[8], b[9], b[10], b[11], b[12], b[13],
             b[14], b[15]);
    *uuid = s;
    return true;
}

void xen_uuid_free(char *uuid)
{
    free(uuid);
}

void xen_uuid_bytes_free(char *bytes)
{
    free(bytes);
}

/* ---- the basic sets ---- */

static const struct xen_type string_set_type = {
    .kind = XEN_K_SET,
    .slot_size = sizeof(void *),
    .elem = &xen_type_string_,
    .contents_offset = offsetof(xen_string_set, contents),
};

xen_string_set *xen_string_set_alloc(size_t size)
{
    return xen_container_alloc_(&string_set_type, size);
}

void xen_string_set_free(xen_string_set *set)
{
    xen_ptr_free_(&string_set_type, set);
}

xen_int_set *xen_int_set_alloc(size_t size)
{
    return xen_container_alloc_(&xen_type_xen_int_set_, size);
}

void xen_int_set_free(xen_int_set *set)
{
    free(set);
}

xen_string_set_set *xen_string_set_set_alloc(size_t size)
{
    return xen_container_alloc_(&xen_type_xen_string_set_set_, size);
}

void xen_string_set_set_free(xen_string_set_set *set)
{
    xen_ptr_free_(&xen_type_xen_string_set_set_, set);
}

/* ---- sessions ---- */

static xen_session *session_new(xen_call_func call_func, void *handle, xen_api_version version)
{
    xen_session *s = calloc(1, sizeof(*s));
    if (!s)
        return NULL;
    s->call_func = call_func;
    s->handle = handle;
    s->ok = true;
    s->api_version = version;
    return s;
}

/* The API version of the host the session is on. */
static void learn_api_version(xen_session *s)
{
    xen_host host = NULL;
    int64_t major = 0, minor = 0;
    if (xen_session_get_this_host(s, &host, s) && xen_host_get_api_version_major(s, &major, host) &&
        xen_host_get_api_version_minor(s, &minor, host))
        s->api_version = xen_api_version_from_int(major, minor);
    else
        s->api_version = xen_api_unknown_version;
    xen_host_free(host);
    /* The login worked; a host that hides its version is no failure. */
    xen_session_clear_error(s);
}

xen_session *xen_session_login_with_password(xen_call_func call_func, void *handle,
                                             const char *uname, const char *pwd,
                                             xen_api_version version)
{
    xen_session *s = session_new(call_func, handle, version);
    if (!s)
        return NULL;
    const char *v = xen_api_version_to_string(version);
    const struct xen_arg_ args[] = {
        {&xen_type_string_, &uname},
        {&xen_type_string_, &pwd},
        {&xen_type_string_, &v},
    };
    char *id = NULL;
    xen_call_raw_(s, "session.login_with_password", args, 3, &xen_type_string_, &id);
    s->session_id = id;
    if (s->ok)
        learn_api_version(s);
    return s;
}

xen_session *xen_session_slave_local_login_with_password(xen_call_func call_func, void *handle,
                                                         const char *uname, const char *pwd)
{
    xen_session *s = session_new(call_func, handle, xen_api_latest_version);
    if (!s)
        return NULL;
    const struct xen_arg_ args[] = {
        {&xen_type_string_, &uname},
        {&xen_type_string_, &pwd},
    };
    char *id = NULL;
    xen_call_raw_(s, "session.slave_local_login_with_password", args, 2, &xen_type_string_, &id);
    s->session_id = id;
    return s;
}

static void session_free(xen_session *s)
{
    xen_session_clear_error(s);
    free((char *)s->session_id);
    free(s);
}

void xen_session_logout(xen_session *session)
{
    if (!session)
        return;
    if (session->session_id) {
        xen_session_clear_error(session);
        xen_call_(session, "session.logout", NULL, 0, NULL, NULL);
    }
    session_free(session);
}

void xen_session_local_logout(xen_session *session)
{
    if (!session)
        return;
    if (session->session_id) {
        xen_session_clear_error(session);
        xen_call_(session, "session.local_logout", NULL, 0, NULL, NULL);
    }
    session_free(session);
}

void xen_session_clear_error(xen_session *session)
{
    for (int i = 0; i < session->error_description_count; i++)
        free(session->error_description[i]);
    free(session->error_description);
    session->error_description = NULL;
    session->error_description_count = 0;
    session->ok = true;
}

bool xen_session_logout_subject_identifier(xen_session *session, const char *subject_identifier)
{
    const struct xen_arg_ args[] = {{&xen_type_string_, &subject_identifier}};
    xen_call_(session, "session.logout_subject_identifier", args, 1, NULL, NULL);
    return session->ok;
}

bool xen_session_logout_subject_identifier_async(xen_session *session, xen_task *result,
                                                 const char *subject_identifier)
{
    const struct xen_arg_ args[] = {{&xen_type_string_, &subject_identifier}};
    *result = NULL;
    xen_call_(session, "Async.session.logout_subject_identifier", args, 1, &xen_type_ref_, result);
    return session->ok;
}

bool xen_session_get_all_subject_identifiers(xen_session *session, struct xen_string_set **result)
{
    *result = NULL;
    xen_call_(session, "session.get_all_subject_identifiers", NULL, 0, &string_set_type, result);
    return session->ok;
}

bool xen_session_get_all_subject_identifiers_async(xen_session *session, xen_task *result)
{
    *result = NULL;
    xen_call_(session, "Async.session.get_all_subject_identifiers", NULL, 0, &xen_type_ref_,
              result);
    return session->ok;
}

/* session.get_<field>(self_session's id), into a slot of type t. */
static bool session_get(xen_session *session, const char *method, xen_session *self,
                        const struct xen_type *t, void *result)
{
    const struct xen_arg_ args[] = {{&xen_type_session_, &self}};
    xen_call_(session, method, args, 1, t, result);
    return session->ok;
}

bool xen_session_get_uuid(xen_session *session, char **result, xen_session *self_session)
{
    *result = NULL;
    return session_get(session, "session.get_uuid", self_session, &xen_type_string_, result);
}

bool xen_session_get_this_host(xen_session *session, xen_host *result, xen_session *self_session)
{
    *result = NULL;
    return session_get(session, "session.get_this_host", self_session, &xen_type_ref_, result);
}

bool xen_session_get_this_user(xen_session *session, char **result, xen_session *self_session)
{
    *result = NULL;
    return session_get(session, "session.get_this_user", self_session, &xen_type_string_, result);
}

bool xen_session_get_last_active(xen_session *session, time_t *result, xen_session *self_session)
{
    return session_get(session, "session.get_last_active", self_session, &xen_type_datetime_,
                       result);
}

static const struct xen_member session_members[] = {
    {"uuid", &xen_type_string_, offsetof(xen_session_record, uuid)},
    {"this_host", &xen_type_host_record_opt_, offsetof(xen_session_record, this_host)},
    {"this_user", &xen_type_string_, offsetof(xen_session_record, this_user)},
    {"last_active", &xen_type_datetime_, offsetof(xen_session_record, last_active)},
};

static const struct xen_type session_record_type = {
    .kind = XEN_K_STRUCT,
    .slot_size = sizeof(void *),
    .struct_size = sizeof(xen_session_record),
    .members = session_members,
    .n_members = sizeof(session_members) / sizeof(session_members[0]),
};

xen_session_record *xen_session_record_alloc(void)
{
    return calloc(1, sizeof(xen_session_record));
}

void xen_session_record_free(xen_session_record *record)
{
    xen_ptr_free_(&session_record_type, record);
}

bool xen_session_get_record(xen_session *session, xen_session_record **result,
                            xen_session *self_session)
{
    *result = NULL;
    return session_get(session, "session.get_record", self_session, &session_record_type, result);
}

/* ---- event.from ---- */

static const struct xen_member batch_members[] = {
    {"events", &xen_type_xen_event_record_set_, offsetof(xen_event_batch, events)},
    {"valid_ref_counts", &xen_type_xen_string_int_map_,
     offsetof(xen_event_batch, valid_ref_counts)},
    {"token", &xen_type_string_, offsetof(xen_event_batch, token)},
};

static const struct xen_type batch_type = {
    .kind = XEN_K_STRUCT,
    .slot_size = sizeof(void *),
    .struct_size = sizeof(xen_event_batch),
    .members = batch_members,
    .n_members = sizeof(batch_members) / sizeof(batch_members[0]),
};

void xen_event_batch_free(xen_event_batch *batch)
{
    xen_ptr_free_(&batch_type, batch);
}

bool xen_event_from(xen_session *session, struct xen_event_batch **result,
                    struct xen_string_set *classes, char *token, double timeout)
{
    const struct xen_arg_ args[] = {
        {&string_set_type, &classes},
        {&xen_type_string_, &token},
        {&xen_type_float_, &timeout},
    };
    *result = NULL;
    xen_call_(session, "event.from", args, 3, &batch_type, result);
    return session->ok;
}
