/* Bulk data over HTTP, as xapi serves it beside the RPC paths (xenapi.md
 * 1.1): GET /export_raw_vdi, PUT /import_raw_vdi (xfer_raw.c, xfer_vhd.c),
 * GET /export, GET /export_metadata, PUT /import and PUT /import_metadata
 * (xva_export.c, xva_import.c). xfer.c claims these requests from the HTTP server before
 * their body is read (http_stream_handler), authenticates them as XCP
 * does (session_id=, or HTTP basic auth, or the host's Unix socket), runs
 * them under the task the client named with task_id= (or a new one),
 * writes the answer's head on the connection itself, and records the
 * outcome in the task. A PUT's body reaches its handler through a pipe
 * read on a thread of its own, so handlers read and write with plain
 * blocking calls. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "error.h"
#include "http.h"

struct xfer;

/* One path served as a stream. */
struct xfer_route {
    const char *method;
    const char *path;
    const char *realm; /* the 401's Basic realm, as XCP names it */
    const char *label; /* the name of a task made for the request */
    /* Checks the request once it is authenticated and its task known;
     * returns 0 to go on, or an HTTP status to refuse it with (*ret_err,
     * when set, fails the task). May keep state in xfer_set_data. */
    int (*prepare)(struct xfer *x, struct api_error **ret_err);
    /* Serves it: a GET writes its answer's head (xfer_send_head) and data;
     * a PUT reads the body with xfer_read (the 200 is sent already).
     * Returns the task's error, or NULL after xfer_set_result. */
    struct api_error *(*run)(struct xfer *x);
    /* Frees what prepare kept (may be NULL). */
    void (*free_data)(void *data);
};

/* The request's query parameter name, or NULL (copied at claim time, so
 * valid for the whole request). */
const char *xfer_query(const struct xfer *x, const char *name);
/* The i-th query parameter in *ret_key and *ret_value (borrowed, valid
 * for the whole request): false past the last one. */
bool xfer_query_at(const struct xfer *x, size_t i, const char **ret_key, const char **ret_value);
/* The request's Content-Length, or -1 when it has none. */
int64_t xfer_content_length(const struct xfer *x);
/* Whether the body comes with Transfer-Encoding: chunked. */
bool xfer_chunked(const struct xfer *x);
/* The session and the task the request runs under. */
const char *xfer_session(const struct xfer *x);
const char *xfer_task(const struct xfer *x);
void xfer_set_data(struct xfer *x, void *data);
void *xfer_data(const struct xfer *x);
/* The task's result: an XML-RPC value fragment (copied). */
void xfer_set_result(struct xfer *x, const char *xml_value);
/* Whether task.cancel was called on the request's task: a handler that
 * sees it stops and fails with TASK_CANCELLED [task]. */
bool xfer_cancelled(const struct xfer *x);
/* Records progress done/total in the task (no more often than each 1%). */
void xfer_progress(struct xfer *x, uint64_t done, uint64_t total);

/* A GET's 200 with the task-id header, content_type, an optional
 * Content-Length (-1: none, the answer ends with the connection) and an
 * optional attachment file name. 0 or -EPIPE. */
int xfer_send_head(struct xfer *x, const char *content_type, int64_t length, const char *filename);
/* Writes the whole buffer on the connection: 0, or -EPIPE once the client
 * is gone (or stopped reading for the connection timeout). */
int xfer_write(struct xfer *x, const void *buf, size_t len);
/* Reads up to len bytes of a PUT's body: the count, 0 at its end, or a
 * negative errno. Blocks. */
ssize_t xfer_read(struct xfer *x, void *buf, size_t len);
/* Reads exactly len bytes: 0, -EPIPE at a premature end, or an errno. */
int xfer_read_full(struct xfer *x, void *buf, size_t len);

/* The routes (xfer_raw.c, xva_export.c, xva_import.c). */
extern const struct xfer_route xfer_export_raw_vdi, xfer_import_raw_vdi;
extern const struct xfer_route xva_export_route, xva_export_metadata_route, xva_import_route,
    xva_import_metadata_route;

/* The object of class cls named by a ref or a uuid (db lock held), or
 * NULL. */
struct row;
const struct row *xfer_lookup(int cls, const char *ref_or_uuid);
/* Writes all of buf to a blocking descriptor: 0 or a negative errno. */
int xfer_fd_write_all(int fd, const void *buf, size_t len);
