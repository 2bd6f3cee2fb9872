/* Async task execution and task lifetime (see tasks.h). */
#include "tasks.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "db.h"
#include "dispatch.h"
#include "lib/log.h"
#include "lib/strlist.h"
#include "lib/util.h"

LOG_MODULE("task");

struct job {
    struct call *c;
    char task[64];
    struct job *next;
};

static struct {
    pthread_mutex_t lock;
    pthread_cond_t cond;
    struct job *head, *tail;
    pthread_t *threads;
    int n_threads;
    bool stopping;
} q = {.lock = PTHREAD_MUTEX_INITIALIZER, .cond = PTHREAD_COND_INITIALIZER};

struct api_error *task_create(const char *session, const char *label, const char *description,
                              bool cancellable, char ret_ref[64])
{
    char ref[64], when[DATETIME_LEN];
    char **vals = api_new_row(C_task, ref);
    (void)session;
    datetime_format(time(NULL), when);
    api_set_val(vals, FIDX(task, name_label), label);
    api_set_val(vals, FIDX(task, name_description), description);
    api_set_val(vals, FIDX(task, created), when);
    api_set_val(vals, FIDX(task, status), "pending");
    api_set_val(vals, FIDX(task, resident_on), xapi_state.host_ref);
    api_set_val(vals, FIDX(task, type), "<none/>");
    api_set_val(vals, FIDX(task, backtrace), "()");
    api_set_val(vals, FIDX(task, allowed_operations), cancellable ? "[\"cancel\"]" : "[]");
    struct changeset *cs = changeset_new();
    changeset_create(cs, C_task, ref, vals);
    db_wrlock();
    int r = db_apply(cs);
    db_unlock();
    changeset_free(cs);
    if (r < 0)
        return api_failf(INTERNAL_ERROR, "cannot record the task: %s", strerror(-r));
    snprintf(ret_ref, 64, "%s", ref);
    return NULL;
}

void task_finish(const char *task, const char *result, const struct api_error *e)
{
    char when[DATETIME_LEN];
    struct changeset *cs = changeset_new();

    datetime_format(time(NULL), when);
    db_wrlock();
    const struct row *r = db_get(C_task, task);
    /* A client may have destroyed the task meanwhile, and a task ends once. */
    if (r && streq(r->v[FIDX(task, status)], "pending")) {
        if (e) {
            struct strbuf sb;
            strbuf_init(&sb, 128);
            strbuf_addc(&sb, '[');
            strlist_add_quoted(&sb, e->code, strlen(e->code));
            for (size_t i = 0; i < e->n; i++) {
                strbuf_addc(&sb, ',');
                strlist_add_quoted(&sb, e->params[i], strlen(e->params[i]));
            }
            strbuf_addc(&sb, ']');
            bool cancelled = streq(e->code, "TASK_CANCELLED");
            changeset_set(cs, C_task, task, FIDX(task, error_info), sb.buf);
            changeset_set(cs, C_task, task, FIDX(task, status),
                          cancelled ? "cancelled" : "failure");
            strbuf_done(&sb);
        } else {
            changeset_set(cs, C_task, task, FIDX(task, result), result ? result : "");
            changeset_set(cs, C_task, task, FIDX(task, status), "success");
        }
        changeset_set(cs, C_task, task, FIDX(task, progress), "1");
        changeset_set(cs, C_task, task, FIDX(task, finished), when);
        changeset_set(cs, C_task, task, FIDX(task, allowed_operations), "[]");
        changeset_set(cs, C_task, task, FIDX(task, current_operations), "{}");
        db_apply(cs);
    }
    db_unlock();
    changeset_free(cs);
}

static void *worker(void *arg)
{
    (void)arg;
    for (;;) {
        pthread_mutex_lock(&q.lock);
        while (!q.head && !q.stopping)
            pthread_cond_wait(&q.cond, &q.lock);
        struct job *j = q.head;
        if (!j) {
            pthread_mutex_unlock(&q.lock);
            return NULL;
        }
        q.head = j->next;
        if (!q.head)
            q.tail = NULL;
        pthread_mutex_unlock(&q.lock);

        struct out o;
        out_init(&o, WIRE_XML); /* task results are XML-RPC, whatever the caller spoke */
        j->c->out = &o;
        log_set_request_id(j->task + 10);
        struct api_error *e = dispatch_run(j->c);
        log_set_request_id(NULL);
        size_t len;
        task_finish(j->task, e ? NULL : out_value(&o, &len), e);
        api_error_free(e);
        out_done(&o);
        call_free(j->c);
        free(j);
    }
}

void tasks_init(int workers)
{
    q.stopping = false;
    q.n_threads = workers > 0 ? workers : 1;
    q.threads = xcalloc((size_t)q.n_threads, sizeof(pthread_t));
    for (int i = 0; i < q.n_threads; i++)
        pthread_create(&q.threads[i], NULL, worker, NULL);
}

void tasks_shutdown(void)
{
    pthread_mutex_lock(&q.lock);
    q.stopping = true;
    pthread_cond_broadcast(&q.cond);
    pthread_mutex_unlock(&q.lock);
    for (int i = 0; i < q.n_threads; i++)
        pthread_join(q.threads[i], NULL);
    free(q.threads);
    q.threads = NULL;
    q.n_threads = 0;
    while (q.head) { /* queued after the workers left */
        struct job *j = q.head;
        q.head = j->next;
        call_free(j->c);
        free(j);
    }
    q.tail = NULL;
}

struct api_error *tasks_start(struct call *c, const char *label, char ret_ref[64])
{
    struct job *j = xcalloc(1, sizeof(*j));
    struct api_error *e = task_create(c->session.ref, label, "", false, j->task);
    if (e) {
        call_free(c);
        free(j);
        return e;
    }
    c->task = xstrdup(j->task);
    j->c = c;
    snprintf(ret_ref, 64, "%s", j->task);
    pthread_mutex_lock(&q.lock);
    if (q.tail)
        q.tail->next = j;
    else
        q.head = j;
    q.tail = j;
    pthread_cond_signal(&q.cond);
    pthread_mutex_unlock(&q.lock);
    return NULL;
}

void tasks_gc(void)
{
    time_t now = time(NULL);
    struct changeset *cs = changeset_new();
    size_t it = 0;
    const struct row *r = NULL;

    db_wrlock();
    while (db_next(C_task, &it, &r)) {
        time_t created = 0, finished = 0;
        datetime_parse(r->v[FIDX(task, created)], &created);
        datetime_parse(r->v[FIDX(task, finished)], &finished);
        bool pending = streq(r->v[FIDX(task, status)], "pending");
        if ((!pending && finished > 0 && difftime(now, finished) > TASK_FINISHED_TTL) ||
            (pending && difftime(now, created) > TASK_PENDING_TTL))
            changeset_delete(cs, C_task, r->ref);
    }
    if (changeset_size(cs)) {
        log_info("destroying %zu expired tasks", changeset_size(cs));
        db_apply(cs);
    }
    db_unlock();
    changeset_free(cs);
}
