/* The table of domains both backends keep, with their busy marks, the
 * destroyed domains remembered for events/watch and the answer built from
 * them (see domtable.h). */
#include "hypervisor/domtable.h"

#include <stdio.h>
#include <stdlib.h>

#include "lib/log.h"
#include "lib/util.h"

LOG_MODULE("domtable");

static void destroyed_free(struct dm_domain *d)
{
    if (!d)
        return;
    dm_domain_done(d);
    free(d);
}

static int cmp_domid(const void *a, const void *b)
{
    const struct dm_domain *x = a, *y = b;
    return (x->domid > y->domid) - (x->domid < y->domid);
}

static int cmp_generation(const void *a, const void *b)
{
    const struct dm_domain *x = a, *y = b;
    return (x->generation > y->generation) - (x->generation < y->generation);
}

void domtable_init(struct domtable *t, struct events *events, size_t dom_size, size_t max_destroyed,
                   domtable_refresh_fn refresh, void *refresh_data)
{
    pthread_mutex_init(&t->lock, NULL);
    events_cond_init(&t->cond);
    t->events = events;
    hashmap_init(&t->domains);
    hashmap_init(&t->destroyed);
    t->evicted_generation = 0;
    t->max_destroyed = max_destroyed;
    t->dom_size = dom_size;
    t->refresh = refresh;
    t->refresh_data = refresh_data;
    t->stopping = false;
}

void domtable_done(struct domtable *t)
{
    const char *k;
    void *v;

    for (size_t i = 0; hashmap_next(&t->domains, &i, &k, &v);)
        domtable_dom_free(v);
    for (size_t i = 0; hashmap_next(&t->destroyed, &i, &k, &v);)
        destroyed_free(v);
    hashmap_done(&t->domains);
    hashmap_done(&t->destroyed);
    pthread_cond_destroy(&t->cond);
    pthread_mutex_destroy(&t->lock);
}

void domtable_stop(struct domtable *t)
{
    pthread_mutex_lock(&t->lock);
    t->stopping = true;
    pthread_cond_broadcast(&t->cond);
    pthread_mutex_unlock(&t->lock);
    events_stop(t->events);
}

struct dt_dom *domtable_dom_new(struct domtable *t, const char *uuid)
{
    struct dt_dom *dom = xcalloc(1, t->dom_size);

    snprintf(dom->d.uuid, sizeof(dom->d.uuid), "%s", uuid);
    return dom;
}

void domtable_dom_free(struct dt_dom *dom)
{
    if (!dom)
        return;
    dm_domain_done(&dom->d);
    free(dom);
}

void domtable_add(struct domtable *t, struct dt_dom *dom)
{
    hashmap_put(&t->domains, dom->d.uuid, dom);
}

struct dt_dom *domtable_find(struct domtable *t, const char *uuid)
{
    struct dt_dom *dom = hashmap_get(&t->domains, uuid);
    return dom && !dom->building ? dom : NULL;
}

struct dm_error *domtable_take(struct domtable *t, const char *uuid, struct dt_dom **ret)
{
    struct dm_error *e = t->refresh ? t->refresh(t->refresh_data) : NULL;

    if (e)
        return e;
    for (;;) {
        struct dt_dom *dom = domtable_find(t, uuid);
        if (!dom)
            return dm_fail(DM_ERR_NO_SUCH_DOMAIN, uuid);
        if (!dom->busy) {
            dom->busy = true;
            *ret = dom;
            return NULL;
        }
        pthread_cond_wait(&t->cond, &t->lock);
    }
}

struct dm_error *domtable_take_in(struct domtable *t, const char *uuid, unsigned states,
                                  enum dm_state expected, struct dt_dom **ret)
{
    struct dt_dom *dom;
    struct dm_error *e = domtable_take(t, uuid, &dom);

    if (e)
        return e;
    if (!(states & DT_IN(dom->d.state))) {
        e = dm_fail_state(&dom->d, expected);
        domtable_release(t, dom);
        return e;
    }
    *ret = dom;
    return NULL;
}

void domtable_release(struct domtable *t, struct dt_dom *dom)
{
    dom->busy = false;
    pthread_cond_broadcast(&t->cond);
    if (!t->refresh)
        return;
    struct dm_error *e = t->refresh(t->refresh_data);
    if (e) {
        log_error("%s", e->params[0]);
        dm_error_free(e);
    }
}

void domtable_changed(struct domtable *t, struct dt_dom *dom)
{
    dom->d.generation = events_bump(t->events);
    pthread_cond_broadcast(&t->cond);
}

struct dm_error *domtable_check_new(struct domtable *t, const char *uuid)
{
    return hashmap_get(&t->domains, uuid) ? dm_fail(DM_ERR_DOMAIN_EXISTS, uuid) : NULL;
}

struct dt_dom *domtable_build_start(struct domtable *t, const char *uuid,
                                    const struct dm_config *cfg)
{
    struct dt_dom *dom = domtable_dom_new(t, uuid);

    dom->d.domid = -1;
    dm_config_copy(&dom->d.cfg, cfg);
    dom->busy = dom->building = true;
    domtable_add(t, dom);
    return dom;
}

void domtable_build_abandon(struct domtable *t, struct dt_dom *dom)
{
    hashmap_remove(&t->domains, dom->d.uuid);
    domtable_dom_free(dom);
    pthread_cond_broadcast(&t->cond);
}

void domtable_relisted(struct domtable *t, const char *uuid)
{
    destroyed_free(hashmap_remove(&t->destroyed, uuid));
}

/* Remembers a destroyed domain (taking d), forgetting the oldest one past
 * the bound. */
static void remember_destroyed(struct domtable *t, struct dm_domain *d)
{
    destroyed_free(hashmap_put(&t->destroyed, d->uuid, d));
    while (t->destroyed.count > t->max_destroyed) {
        struct dm_domain *oldest = NULL;
        const char *k;
        void *v;
        for (size_t i = 0; hashmap_next(&t->destroyed, &i, &k, &v);) {
            struct dm_domain *x = v;
            if (!oldest || x->generation < oldest->generation)
                oldest = x;
        }
        if (oldest->generation > t->evicted_generation)
            t->evicted_generation = oldest->generation;
        hashmap_remove(&t->destroyed, oldest->uuid);
        destroyed_free(oldest);
    }
}

const struct dm_domain *domtable_get_destroyed(struct domtable *t, const char *uuid)
{
    return hashmap_get(&t->destroyed, uuid);
}

const struct dm_domain *domtable_gone(struct domtable *t, struct dt_dom *dom)
{
    struct dm_domain *d = xmalloc(sizeof(*d));
    char uuid[UUID_STR_LEN];

    hashmap_remove(&t->domains, dom->d.uuid);
    *d = dom->d;
    free(dom);
    d->state = DM_STATE_DESTROYED;
    d->memory_actual = 0;
    d->generation = events_bump(t->events);
    snprintf(uuid, sizeof(uuid), "%s", d->uuid);
    remember_destroyed(t, d); /* the newest: never the one forgotten */
    pthread_cond_broadcast(&t->cond);
    return domtable_get_destroyed(t, uuid);
}

struct dm_error *domtable_await_shutdown(struct domtable *t, struct dt_dom **domp, double deadline,
                                         struct dm_domain *ret_gone)
{
    struct dt_dom *dom = *domp;
    char uuid[UUID_STR_LEN];
    int domid = dom->d.domid;
    struct timespec ts = events_timespec(deadline);

    snprintf(uuid, sizeof(uuid), "%s", dom->d.uuid);
    domtable_release(t, dom);
    for (;;) {
        dom = domtable_find(t, uuid);
        if (!dom || dom->d.domid != domid) {
            const struct dm_domain *gone = domtable_get_destroyed(t, uuid);
            if (!ret_gone || !gone || gone->domid != domid)
                return dm_fail(DM_ERR_NO_SUCH_DOMAIN, uuid);
            dm_domain_copy(ret_gone, gone);
            *domp = NULL;
            return NULL;
        }
        if (!dom->busy && dom->d.state == DM_STATE_SHUTDOWN) {
            dom->busy = true;
            *domp = dom;
            return NULL;
        }
        if (t->stopping)
            return dm_failf(DM_ERR_BACKEND_FAILURE, "domaind is stopping");
        if (now_monotonic() >= deadline) {
            log_info("domain %s did not shut down in time", uuid);
            return dm_fail(DM_ERR_SHUTDOWN_TIMEOUT, uuid);
        }
        /* Whoever sees the guest shut down (an operation, sim/inject, the
         * xen backend's xenstore watch) records the change and broadcasts. */
        pthread_cond_timedwait(&t->cond, &t->lock, &ts);
    }
}

struct dm_error *domtable_get(struct domtable *t, const char *uuid, struct dm_domain *ret)
{
    struct dt_dom *dom = domtable_find(t, uuid);

    if (!dom)
        return dm_fail(DM_ERR_NO_SUCH_DOMAIN, uuid);
    dm_domain_copy(ret, &dom->d);
    return NULL;
}

void domtable_list(struct domtable *t, struct dm_domain_list *ret)
{
    struct dm_domain_list l = {0};
    const char *k;
    void *v;

    l.v = xcalloc(t->domains.count + 1, sizeof(*l.v));
    for (size_t i = 0; hashmap_next(&t->domains, &i, &k, &v);) {
        struct dt_dom *dom = v;
        if (!dom->building)
            dm_domain_copy(&l.v[l.n++], &dom->d);
    }
    qsort(l.v, l.n, sizeof(*l.v), cmp_domid);
    *ret = l;
}

void domtable_changes(struct domtable *t, uint64_t since, uint64_t *ret_generation, bool *ret_full,
                      struct dm_domain_list *ret)
{
    struct dm_domain_list l = {0};
    const char *k;
    void *v;

    pthread_mutex_lock(&t->lock);
    uint64_t g = events_generation(t->events);
    bool full = since == 0 || since > g || since < t->evicted_generation;
    l.v = xcalloc(t->domains.count + t->destroyed.count + 1, sizeof(*l.v));
    for (size_t i = 0; hashmap_next(&t->domains, &i, &k, &v);) {
        struct dt_dom *dom = v;
        if (!dom->building && (full || dom->d.generation > since))
            dm_domain_copy(&l.v[l.n++], &dom->d);
    }
    for (size_t i = 0; hashmap_next(&t->destroyed, &i, &k, &v);) {
        struct dm_domain *d = v;
        if (full || d->generation > since)
            dm_domain_copy(&l.v[l.n++], d);
    }
    pthread_mutex_unlock(&t->lock);
    qsort(l.v, l.n, sizeof(*l.v), cmp_generation);
    *ret_generation = g;
    *ret_full = full;
    *ret = l;
}
