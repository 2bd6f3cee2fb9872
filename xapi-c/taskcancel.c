/* Cancelling running Async tasks and their progress (see taskcancel.h). */
#include "taskcancel.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>

#include "db.h"
#include "lib/hashmap.h"
#include "lib/util.h"
#include "model.h"

static struct {
    pthread_mutex_t lock;
    struct hashmap hooks; /* task ref -> task_cancel_fn (boxed) */
    bool ready;
} tc = {.lock = PTHREAD_MUTEX_INITIALIZER};

struct hook {
    task_cancel_fn fn;
    bool requested; /* task.cancel was called */
};

static void set_allowed(const char *task, const char *allowed)
{
    struct changeset *cs = changeset_new();
    db_wrlock();
    if (db_get(C_task, task)) {
        changeset_set(cs, C_task, task, FIDX(task, allowed_operations), allowed);
        db_apply(cs);
    }
    db_unlock();
    changeset_free(cs);
}

void task_cancellable_begin(const char *task, task_cancel_fn fn)
{
    struct hook *h = xcalloc(1, sizeof(*h));
    h->fn = fn;
    pthread_mutex_lock(&tc.lock);
    if (!tc.ready) {
        hashmap_init(&tc.hooks);
        tc.ready = true;
    }
    free(hashmap_get(&tc.hooks, task));
    hashmap_put(&tc.hooks, task, h);
    pthread_mutex_unlock(&tc.lock);
    set_allowed(task, "[\"cancel\"]");
}

void task_cancellable_end(const char *task)
{
    pthread_mutex_lock(&tc.lock);
    if (tc.ready)
        free(hashmap_remove(&tc.hooks, task));
    pthread_mutex_unlock(&tc.lock);
    set_allowed(task, "[]");
}

bool task_cancel_running(const char *task)
{
    task_cancel_fn fn = NULL;
    pthread_mutex_lock(&tc.lock);
    struct hook *h = tc.ready ? hashmap_get(&tc.hooks, task) : NULL;
    if (h) {
        fn = h->fn;
        h->requested = true;
    }
    pthread_mutex_unlock(&tc.lock);
    if (!fn)
        return false;
    char ops[96];
    snprintf(ops, sizeof(ops), "{\"%s\":\"cancel\"}", task);
    struct changeset *cs = changeset_new();
    db_wrlock();
    if (db_get(C_task, task)) {
        changeset_set(cs, C_task, task, FIDX(task, current_operations), ops);
        db_apply(cs);
    }
    db_unlock();
    changeset_free(cs);
    fn(task);
    return true;
}

bool task_cancel_requested(const char *task)
{
    pthread_mutex_lock(&tc.lock);
    struct hook *h = tc.ready ? hashmap_get(&tc.hooks, task) : NULL;
    bool requested = h && h->requested;
    pthread_mutex_unlock(&tc.lock);
    return requested;
}

void task_progress(const char *task, double progress)
{
    char buf[32];
    snprintf(buf, sizeof(buf), "%.3f", progress < 0 ? 0 : progress > 1 ? 1 : progress);
    struct changeset *cs = changeset_new();
    db_wrlock();
    const struct row *r = db_get(C_task, task);
    if (r && streq(r->v[FIDX(task, status)], "pending") &&
        !streq(r->v[FIDX(task, progress)], buf)) {
        changeset_set(cs, C_task, task, FIDX(task, progress), buf);
        db_apply(cs);
    }
    db_unlock();
    changeset_free(cs);
}
