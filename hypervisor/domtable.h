/* The table of domains that both backends keep (sim.c, xen.c): the
 * domains by uuid with the generation of their last change, the marks
 * that serialise the operations on one domain (busy: others wait on the
 * table's condition variable), the destroyed domains remembered, up to a
 * bound, for events/watch, and the events/watch answer built from them.
 * What a domain is made of and how it changes is the backend's: each
 * backend's record of a domain starts with a struct dt_dom and may add
 * its own fields after it (the table allocates records of the size it is
 * given). A backend whose picture must be read again from the hypervisor
 * before a domain is taken and after it is released (xen) gives a refresh
 * function. The table's mutex guards the table and whatever the backend
 * keeps beside it; it is taken before the events' own (events.h). Unless
 * said otherwise, a function is called with the mutex held and does not
 * block. */
#pragma once

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "hypervisor/backend.h"
#include "lib/hashmap.h"

/* A domain of the table: the start of a backend's record. */
struct dt_dom {
    struct dm_domain d; /* d.uuid is the key in domains */
    bool busy;          /* an operation is under way: others wait */
    bool building;      /* created or resumed, not done: not listed */
};

/* Reads the hypervisor's domains into the table again; an error stops
 * domtable_take. Called with the mutex held. */
typedef struct dm_error *(*domtable_refresh_fn)(void *data);

struct domtable {
    pthread_mutex_t lock;        /* the table, and what its backend keeps with it */
    pthread_cond_t cond;         /* on CLOCK_MONOTONIC: a domain changed or was released */
    struct events *events;       /* the backend's generation counter */
    struct hashmap domains;      /* uuid -> struct dt_dom (the backend's record) */
    struct hashmap destroyed;    /* uuid -> struct dm_domain, state destroyed */
    uint64_t evicted_generation; /* a since before it may miss a forgotten destroyed domain */
    size_t max_destroyed;
    size_t dom_size; /* of the backend's records */
    domtable_refresh_fn refresh;
    void *refresh_data;
    bool stopping;
};

/* Makes an empty table of records of dom_size bytes (a struct dt_dom
 * first) that counts generations on events (borrowed, initialised by the
 * caller) and remembers up to max_destroyed destroyed domains. refresh
 * (NULL: none) is called with refresh_data. Not locked. */
void domtable_init(struct domtable *t, struct events *events, size_t dom_size, size_t max_destroyed,
                   domtable_refresh_fn refresh, void *refresh_data);
/* Frees the records and the table's own; no call may be running. */
void domtable_done(struct domtable *t);
/* Wakes every waiter for good, then the events' (events_stop). Takes the
 * mutex itself. */
void domtable_stop(struct domtable *t);

/* A new record (zeroed, of the table's size) for the domain uuid, not in
 * the table yet: domtable_add puts it there. Needs no lock. */
struct dt_dom *domtable_dom_new(struct domtable *t, const char *uuid);
/* Frees a record that is not in the table; NULL is fine. */
void domtable_dom_free(struct dt_dom *dom);
/* Puts dom (taken) in the table under its uuid, which has no record. */
void domtable_add(struct domtable *t, struct dt_dom *dom);

/* The listed domain uuid (not being built), or NULL; borrowed. */
struct dt_dom *domtable_find(struct domtable *t, const char *uuid);
/* Refreshes, waits (the mutex released meanwhile) until no operation is
 * under way on the domain uuid, then marks it busy for the caller.
 * NO_SUCH_DOMAIN if there is none, or the refresh's error. */
struct dm_error *domtable_take(struct domtable *t, const char *uuid, struct dt_dom **ret);
/* Sets of states for domtable_take_in: one state, any, running or
 * paused. */
#define DT_IN(state) (1u << (state))
#define DT_ANY (~0u)
#define DT_LIVE (DT_IN(DM_STATE_RUNNING) | DT_IN(DM_STATE_PAUSED))
/* domtable_take, for an operation that needs the domain in one of states:
 * otherwise it fails with BAD_STATE [uuid, expected, the domain's state],
 * the domain released. */
struct dm_error *domtable_take_in(struct domtable *t, const char *uuid, unsigned states,
                                  enum dm_state expected, struct dt_dom **ret);
/* Ends an operation on dom, wakes the waiters and refreshes (a refresh
 * error is logged): dom may be freed by then. */
void domtable_release(struct domtable *t, struct dt_dom *dom);
/* Records a change of dom: it takes the next generation, waiters woken. */
void domtable_changed(struct domtable *t, struct dt_dom *dom);

/* DOMAIN_EXISTS if the table has a record of uuid (listed or being
 * built). */
struct dm_error *domtable_check_new(struct domtable *t, const char *uuid);
/* Adds a record for a domain of cfg to be built under uuid: not listed,
 * busy, domid -1. Returns it (borrowed). */
struct dt_dom *domtable_build_start(struct domtable *t, const char *uuid,
                                    const struct dm_config *cfg);
/* Forgets dom, whose build failed, and wakes the waiters. Frees dom. */
void domtable_build_abandon(struct domtable *t, struct dt_dom *dom);
/* The domain uuid is listed again (built): the destroyed one of that uuid
 * it replaces is forgotten, since its last change is the new one's. */
void domtable_relisted(struct domtable *t, const char *uuid);

/* The destroyed domain uuid remembered, or NULL; borrowed until the mutex
 * is released. */
const struct dm_domain *domtable_get_destroyed(struct domtable *t, const char *uuid);
/* dom is gone: it becomes a destroyed domain (state destroyed, no
 * memory, the next generation), remembered for events/watch (the oldest
 * past the bound is forgotten, raising evicted_generation), and waiters
 * are woken. Frees dom; returns the destroyed domain, borrowed until the
 * mutex is released. */
const struct dm_domain *domtable_gone(struct domtable *t, struct dt_dom *dom);

/* A guest that was asked to shut down: releases *domp (busy), then waits,
 * the mutex released meanwhile, until the guest shuts down (then *domp is
 * taken again and NULL returned), the domain is destroyed by someone else
 * (then *domp is NULL and ret_gone, when given, the destroyed domain; with
 * ret_gone NULL it is NO_SUCH_DOMAIN), the table stops (BACKEND_FAILURE)
 * or the deadline (CLOCK_MONOTONIC seconds) passes (SHUTDOWN_TIMEOUT).
 * Blocks. */
struct dm_error *domtable_await_shutdown(struct domtable *t, struct dt_dom **domp, double deadline,
                                         struct dm_domain *ret_gone);

/* domain/get: a copy of the listed domain uuid in *ret, or NO_SUCH_DOMAIN. */
struct dm_error *domtable_get(struct domtable *t, const char *uuid, struct dm_domain *ret);
/* domain/list: copies of the listed domains, by domid, in *ret (the
 * caller's). */
void domtable_list(struct domtable *t, struct dm_domain_list *ret);
/* The changes for events/watch (backend_ops.changes): the generation now,
 * whether the answer is full, and the domains changed after since (all of
 * them and the destroyed ones remembered when full), by generation. Takes
 * the mutex itself. */
void domtable_changes(struct domtable *t, uint64_t since, uint64_t *ret_generation, bool *ret_full,
                      struct dm_domain_list *ret);
