/* A small OVSDB client (RFC 7047, JSON-RPC 1.0 over a Unix stream socket)
 * on json-c: one connection, synchronous calls, and the server's messages
 * between them (echo requests answered, "update" notifications handed to a
 * callback). Replies arrive as back-to-back JSON values on the stream, so
 * input is parsed incrementally. Not thread-safe: one thread owns a
 * connection. */
#pragma once

#include <json-c/json.h>

struct ovsdb;

/* Called with the params of every "update" notification (borrowed). */
typedef void (*ovsdb_update_fn)(json_object *params, void *userdata);

/* Connects to remote ("unix:PATH" or a plain path), waiting at most
 * timeout_s. Returns 0 and a new connection in *ret (caller frees with
 * ovsdb_free), or a negative errno (-EINVAL for a remote that is not a
 * Unix socket, -ECONNREFUSED, -ENOENT...). */
int ovsdb_connect(const char *remote, double timeout_s, struct ovsdb **ret);
void ovsdb_free(struct ovsdb *db);
/* A connection over fd, a connected stream socket that it takes (closed
 * by ovsdb_free); for ovsdb_connect, and for tests over a socketpair. */
struct ovsdb *ovsdb_new(int fd);

void ovsdb_set_update_cb(struct ovsdb *db, ovsdb_update_fn fn, void *userdata);

/* The socket, for poll(): readable means call ovsdb_poll. */
int ovsdb_fd(const struct ovsdb *db);

/* Sends method with params (taken) and blocks at most timeout_s for its
 * answer, handling other messages meanwhile. Returns 0 and the result (new
 * reference) in *ret_result; -EPROTO with the server's error (new
 * reference) in *ret_error; -ETIMEDOUT; -ECONNRESET when the server went
 * away; -EBADMSG for garbage. After any negative return other than -EPROTO
 * the connection is dead: free it. ret_result and ret_error may be NULL. */
int ovsdb_call(struct ovsdb *db, const char *method, json_object *params, double timeout_s,
               json_object **ret_result, json_object **ret_error);

/* Handles what the server sent, waiting at most timeout_ms for something
 * (0: only what is there). Returns 0, or -ECONNRESET / -EBADMSG when the
 * connection is dead. */
int ovsdb_poll(struct ovsdb *db, int timeout_ms);

/* Takes len bytes the server sent (any split: part of a value, several
 * values) and handles every value they complete: replies are kept for
 * ovsdb_call, echo requests answered, updates handed to the callback.
 * Returns 0, or -EBADMSG for what is not a stream of JSON objects (the
 * connection is then dead). ovsdb_poll reads the socket into this. */
int ovsdb_feed(struct ovsdb *db, const char *buf, size_t len);

/* Runs a "transact" on database Open_vSwitch with the operations ops
 * (taken). Returns 0 and the array of results (new reference) when every
 * operation succeeded; -EPROTO with *ret_error set to a new string naming
 * the first failure (caller frees); other negative errno as ovsdb_call. */
int ovsdb_transact(struct ovsdb *db, json_object *ops, double timeout_s, json_object **ret_results,
                   char **ret_error);
