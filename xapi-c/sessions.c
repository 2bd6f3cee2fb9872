/* The session store (see sessions.h). */
#include "sessions.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "db.h"
#include "lib/hashmap.h"
#include "lib/log.h"
#include "lib/strbuf.h"
#include "lib/strlist.h"
#include "lib/util.h"

LOG_MODULE("session");

/* last_active in the session's row is refreshed at most this often: a
 * database write per call would cost more than the field is worth. */
#define ROW_REFRESH_INTERVAL 60.0

struct sess {
    char ref[64];
    char *user;
    char *originator;
    bool superuser, is_pool;
    double created, last_active, row_refreshed; /* monotonic */
    bool registered;
    char **subs;
    size_t n_subs;
    int64_t event_gen;
};

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static struct hashmap sessions;

void sessions_init(void)
{
    hashmap_init(&sessions);
}

static void sess_free(struct sess *s)
{
    free(s->user);
    free(s->originator);
    for (size_t i = 0; i < s->n_subs; i++)
        free(s->subs[i]);
    free(s->subs);
    free(s);
}

void sessions_shutdown(void)
{
    size_t it = 0;
    void *v;
    pthread_mutex_lock(&lock);
    while (hashmap_next(&sessions, &it, NULL, &v))
        sess_free(v);
    hashmap_done(&sessions);
    pthread_mutex_unlock(&lock);
}

static void row_remove(const char *ref)
{
    db_wrlock();
    if (db_get(C_session, ref)) {
        struct changeset *cs = changeset_new();
        changeset_delete(cs, C_session, ref);
        db_apply(cs);
        changeset_free(cs);
    }
    db_unlock();
}

/* Drops the least recently used sessions of an originator beyond the limit;
 * returns the refs to remove from the database (lock held). */
static size_t over_limit(const char *originator, char (*victims)[64], size_t max)
{
    size_t n = 0, count = 0;
    size_t it = 0;
    void *v;
    while (hashmap_next(&sessions, &it, NULL, &v))
        if (streq(((struct sess *)v)->originator, originator))
            count++;
    while (count >= SESSIONS_PER_ORIGINATOR && n < max) {
        struct sess *oldest = NULL;
        it = 0;
        while (hashmap_next(&sessions, &it, NULL, &v)) {
            struct sess *s = v;
            if (streq(s->originator, originator) &&
                (!oldest || s->last_active < oldest->last_active))
                oldest = s;
        }
        if (!oldest)
            break;
        snprintf(victims[n++], 64, "%s", oldest->ref);
        hashmap_remove(&sessions, oldest->ref);
        sess_free(oldest);
        count--;
    }
    return n;
}

struct api_error *session_create(const char *user, const char *originator, bool superuser,
                                 bool is_pool, char ret_ref[64])
{
    struct sess *s = xcalloc(1, sizeof(*s));
    char victims[4][64];
    char ref[64], when[DATETIME_LEN];
    size_t n_victims;

    /* The row's ref is the session's: random, from getrandom(), a bearer
     * secret. */
    char **vals = api_new_row(C_session, ref);
    snprintf(s->ref, sizeof(s->ref), "%s", ref);
    s->user = xstrdup(user);
    s->originator = xstrdup(originator ? originator : "");
    s->superuser = superuser;
    s->is_pool = is_pool;
    s->created = s->last_active = s->row_refreshed = now_monotonic();

    pthread_mutex_lock(&lock);
    n_victims = over_limit(s->originator, victims, ELEMENTSOF(victims));
    hashmap_put(&sessions, s->ref, s);
    pthread_mutex_unlock(&lock);
    for (size_t i = 0; i < n_victims; i++)
        row_remove(victims[i]);
    if (n_victims)
        db_kick();

    datetime_format(time(NULL), when);
    api_set_val(vals, FIDX(session, this_host), xapi_state.host_ref);
    api_set_val(vals, FIDX(session, last_active), when);
    api_set_val(vals, FIDX(session, validation_time), when);
    api_set_val(vals, FIDX(session, pool), is_pool ? "true" : "false");
    api_set_val(vals, FIDX(session, is_local_superuser), superuser ? "true" : "false");
    api_set_val(vals, FIDX(session, auth_user_name), user);
    api_set_val(vals, FIDX(session, originator), s->originator);
    struct changeset *cs = changeset_new();
    changeset_create(cs, C_session, ref, vals);
    db_wrlock();
    int r = db_apply(cs);
    db_unlock();
    changeset_free(cs);
    if (r < 0) {
        pthread_mutex_lock(&lock);
        sess_free(hashmap_remove(&sessions, ref));
        pthread_mutex_unlock(&lock);
        return api_failf(INTERNAL_ERROR, "cannot record the session: %s", strerror(-r));
    }
    snprintf(ret_ref, 64, "%s", ref);
    return NULL;
}

struct api_error *session_destroy(const char *ref)
{
    pthread_mutex_lock(&lock);
    struct sess *s = hashmap_remove(&sessions, ref);
    pthread_mutex_unlock(&lock);
    if (!s)
        return api_fail(SESSION_INVALID, ref);
    sess_free(s);
    row_remove(ref);
    db_kick(); /* blocked event.from calls of this session see it gone */
    return NULL;
}

struct api_error *session_check(const char *ref, struct session_info *ret)
{
    bool refresh = false;
    double now = now_monotonic();

    pthread_mutex_lock(&lock);
    struct sess *s = hashmap_get(&sessions, ref);
    if (!s || now - s->last_active > SESSION_IDLE_TIMEOUT) {
        pthread_mutex_unlock(&lock);
        return api_fail(SESSION_INVALID, ref);
    }
    s->last_active = now;
    if (now - s->row_refreshed > ROW_REFRESH_INTERVAL) {
        s->row_refreshed = now;
        refresh = true;
    }
    if (ret) {
        snprintf(ret->ref, sizeof(ret->ref), "%s", s->ref);
        ret->user = xstrdup(s->user);
        ret->originator = xstrdup(s->originator);
        ret->local_superuser = s->superuser;
        ret->is_pool = s->is_pool;
    }
    pthread_mutex_unlock(&lock);

    if (refresh) {
        char when[DATETIME_LEN];
        datetime_format(time(NULL), when);
        db_wrlock();
        if (db_get(C_session, ref)) {
            struct changeset *cs = changeset_new();
            changeset_set(cs, C_session, ref, FIDX(session, last_active), when);
            db_apply(cs);
            changeset_free(cs);
        }
        db_unlock();
    }
    return NULL;
}

bool session_is_valid(const char *ref)
{
    pthread_mutex_lock(&lock);
    bool ok = hashmap_get(&sessions, ref) != NULL;
    pthread_mutex_unlock(&lock);
    return ok;
}

void session_info_done(struct session_info *s)
{
    free(s->user);
    free(s->originator);
    s->user = s->originator = NULL;
}

void sessions_gc(void)
{
    double now = now_monotonic();
    char(*victims)[64] = NULL;
    size_t n = 0, cap = 0;
    size_t it = 0;
    void *v;

    pthread_mutex_lock(&lock);
    while (hashmap_next(&sessions, &it, NULL, &v)) {
        struct sess *s = v;
        if (now - s->last_active <= SESSION_IDLE_TIMEOUT)
            continue;
        if (n == cap) {
            cap = cap ? cap * 2 : 16;
            victims = xrealloc(victims, cap * sizeof(*victims));
        }
        snprintf(victims[n++], 64, "%s", s->ref);
    }
    for (size_t i = 0; i < n; i++)
        sess_free(hashmap_remove(&sessions, victims[i]));
    pthread_mutex_unlock(&lock);
    for (size_t i = 0; i < n; i++)
        row_remove(victims[i]);
    if (n) {
        log_info("expired %zu idle sessions", n);
        db_kick();
    }
    free(victims);
}

struct api_error *session_event_register(const char *ref, const char *const *classes, size_t n,
                                         bool add)
{
    pthread_mutex_lock(&lock);
    struct sess *s = hashmap_get(&sessions, ref);
    if (!s) {
        pthread_mutex_unlock(&lock);
        return api_fail(SESSION_INVALID, ref);
    }
    if (add && !s->registered) {
        s->registered = true;
        db_rdlock();
        s->event_gen = db_generation();
        db_unlock();
    }
    for (size_t i = 0; i < n; i++) {
        size_t j;
        for (j = 0; j < s->n_subs; j++)
            if (streq(s->subs[j], classes[i]))
                break;
        if (add && j == s->n_subs) {
            s->subs = xrealloc(s->subs, (s->n_subs + 1) * sizeof(char *));
            s->subs[s->n_subs++] = xstrdup(classes[i]);
        } else if (!add && j < s->n_subs) {
            free(s->subs[j]);
            s->subs[j] = s->subs[--s->n_subs];
        }
    }
    pthread_mutex_unlock(&lock);
    return NULL;
}

int session_event_state(const char *ref, char ***ret_classes, size_t *ret_n, int64_t *ret_gen)
{
    int r = -ENOENT;
    pthread_mutex_lock(&lock);
    struct sess *s = hashmap_get(&sessions, ref);
    if (s && s->registered) {
        char **c = xcalloc(s->n_subs + 1, sizeof(char *));
        for (size_t i = 0; i < s->n_subs; i++)
            c[i] = xstrdup(s->subs[i]);
        *ret_classes = c;
        *ret_n = s->n_subs;
        *ret_gen = s->event_gen;
        r = 0;
    }
    pthread_mutex_unlock(&lock);
    return r;
}

void session_event_set_gen(const char *ref, int64_t gen)
{
    pthread_mutex_lock(&lock);
    struct sess *s = hashmap_get(&sessions, ref);
    if (s && gen > s->event_gen)
        s->event_gen = gen;
    pthread_mutex_unlock(&lock);
}
