/* Sessions: bearer references handed out by login, checked on every call,
 * expired after 24 hours idle, at most 500 per originator (the oldest
 * dropped), as xapi does. They live in memory (a restart ends them all, as
 * in xapi) with a row in the session table for the API to read. */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include "api.h"

#define SESSION_IDLE_TIMEOUT (24 * 3600.0)
#define SESSIONS_PER_ORIGINATOR 500

void sessions_init(void);
void sessions_shutdown(void);

/* Creates a session; its ref goes to ret_ref (a secret: never log it). */
struct api_error *session_create(const char *user, const char *originator, bool superuser,
                                 bool is_pool, char ret_ref[64]);
/* Ends a session (logout) and wakes its blocked event calls. */
struct api_error *session_destroy(const char *ref);
/* Checks ref and refreshes its activity; copies its facts into ret. Fails
 * SESSION_INVALID [ref]. */
struct api_error *session_check(const char *ref, struct session_info *ret);
bool session_is_valid(const char *ref);
void session_info_done(struct session_info *s);
/* Ends sessions idle longer than the timeout. */
void sessions_gc(void);

/* The legacy event.register subscription of a session. */
struct api_error *session_event_register(const char *ref, const char *const *classes, size_t n,
                                         bool add);
/* Copies the subscription and the generation last read; -ENOENT if the
 * session never registered. */
int session_event_state(const char *ref, char ***ret_classes, size_t *ret_n, int64_t *ret_gen);
void session_event_set_gen(const char *ref, int64_t gen);
