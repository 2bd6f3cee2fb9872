/* The core of the XenAPI C SDK: the session that every call goes through,
 * the transport hook the application supplies, library set-up, and the
 * session class's own calls. The shape (names, types, argument order) is
 * that of XenServer's C SDK, so that programs written against it build
 * against this library unchanged.
 *
 * Errors: every call returns bool and, on failure, leaves the error on the
 * session: ok becomes false and error_description holds the XenAPI error
 * code followed by its parameters (or TRANSPORT_FAULT, SERVER_FAULT or
 * FAULT for failures below the API). Once a session holds an error, calls
 * on it do nothing and fail until xen_session_clear_error(). */
#ifndef XEN_COMMON_H
#define XEN_COMMON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#ifndef XEN_CLAZZ
#ifdef __cplusplus
#define XEN_CLAZZ clazz
#else
#define XEN_CLAZZ class
#endif
#endif

#ifndef XEN_API_TYPE
#ifdef __cplusplus
#define XEN_API_TYPE type_name
#else
#define XEN_API_TYPE typename
#endif
#endif

#include <xen/api/xen_api_version.h>
#include <xen/api/xen_host_decl.h>
#include <xen/api/xen_task_decl.h>
#include <xen/api/xen_string_set.h>

/* Receives a piece of the HTTP response body; returns false to stop. */
typedef bool (*xen_result_func)(const void *data, size_t len, void *result_handle);

/* Supplied by the application: sends the len bytes of the XML-RPC request
 * (not NUL-terminated) to the server, and hands the response body to
 * result_func(data, len, result_handle), in as many pieces as it likes.
 * Returns 0 on success, or a non-zero code that the session reports as
 * TRANSPORT_FAULT. user_handle is the handle given at login. */
typedef int (*xen_call_func)(const void *data, size_t len, void *user_handle, void *result_handle,
                             xen_result_func result_func);

typedef struct {
    xen_call_func call_func;
    void *handle;
    const char *session_id;
    bool ok;
    char **error_description;
    int error_description_count;
    xen_api_version api_version;
} xen_session;

typedef struct xen_session_record {
    char *uuid;
    struct xen_host_record_opt *this_host;
    char *this_user;
    time_t last_active;
} xen_session_record;

/* A zeroed xen_session_record, yours to free. */
extern xen_session_record *xen_session_record_alloc(void);
/* Frees the record and everything it points to; NULL is allowed. */
extern void xen_session_record_free(xen_session_record *record);

struct xen_task_;
typedef struct xen_task_ *xen_task_id;

typedef struct {
    int progress;
    long eta;
} xen_task_status;

typedef struct {
    int major;
    int minor;
    int patch;
    char *extraversion;
} xen_version;

/* Frees a xen_version; NULL is allowed. */
extern void xen_version_free(xen_version *version);
/* The version of this library, yours to free. */
extern xen_version *xen_get_client_side_version(void);

/* Converts between the 36-character text form of a UUID and its 16 bytes;
 * the result is allocated and yours (free with xen_uuid_free or
 * xen_uuid_bytes_free). Return false on malformed input or no memory. */
extern bool xen_uuid_string_to_bytes(char *uuid, char **bytes);
extern bool xen_uuid_bytes_to_string(char *bytes, char **uuid);
extern void xen_uuid_free(char *uuid);
extern void xen_uuid_bytes_free(char *bytes);

/* Sets the library up; call once before anything else. The application
 * owns libxml2's own set-up (xmlInitParser) and clean-up. */
extern void xen_init(void);
/* Releases what xen_init() set up. */
extern void xen_fini(void);

/* Logs in and returns a new session (NULL only if out of memory). Check
 * session->ok: on failure the session holds the error and must still be
 * freed with xen_session_logout(). On success api_version is the API
 * version of the host the session is on. Blocks for the round trips. */
extern xen_session *xen_session_login_with_password(xen_call_func call_func, void *handle,
                                                    const char *uname, const char *pwd,
                                                    xen_api_version version);
/* The same through the host-local emergency login. */
extern xen_session *xen_session_slave_local_login_with_password(xen_call_func call_func,
                                                                void *handle, const char *uname,
                                                                const char *pwd);
/* Logs out (ignoring a failure) and frees the session. */
extern void xen_session_logout(xen_session *session);
/* Logs out of a local login and frees the session. */
extern void xen_session_local_logout(xen_session *session);
/* Logs out every session of a subject except this one. */
extern bool xen_session_logout_subject_identifier(xen_session *session,
                                                  const char *subject_identifier);
extern bool xen_session_logout_subject_identifier_async(xen_session *session, xen_task *result,
                                                        const char *subject_identifier);
/* The subject identifiers of every open session; *result is yours. */
extern bool xen_session_get_all_subject_identifiers(xen_session *session,
                                                    struct xen_string_set **result);
extern bool xen_session_get_all_subject_identifiers_async(xen_session *session, xen_task *result);
/* Forgets the error held by the session, so that calls run again. */
extern void xen_session_clear_error(xen_session *session);

/* Fields of the session self_session, asked through session. What is
 * returned through result is yours to free. */
extern bool xen_session_get_uuid(xen_session *session, char **result, xen_session *self_session);
extern bool xen_session_get_this_host(xen_session *session, xen_host *result,
                                      xen_session *self_session);
extern bool xen_session_get_this_user(xen_session *session, char **result,
                                      xen_session *self_session);
extern bool xen_session_get_last_active(xen_session *session, time_t *result,
                                        xen_session *self_session);
extern bool xen_session_get_record(xen_session *session, xen_session_record **result,
                                   xen_session *self_session);

#endif
