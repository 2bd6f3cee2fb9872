/* Custom messages of class task: client-made tasks and their updates,
 * cancel and destroy (xenapi.md section 4). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "xapi-c/api.h"
#include "xapi-c/taskcancel.h"
#include "xapi-c/db.h"
#include "xapi-c/tasks.h"
#include "lib/strlist.h"
#include "lib/util.h"

static struct api_error *create(struct call *c)
{
    char ref[64];
    struct api_error *e = task_create(c->session.ref, arg_str(c, 1), arg_str(c, 2), true, ref);
    if (!e)
        out_string(c->out, ref);
    return e;
}

/* Sets fields of one task; pairs of field index and value, ending at -1. */
static struct api_error *update(struct call *c, const char *ref, int field, const char *value,
                                int field2, const char *value2)
{
    const struct row *r = NULL;
    struct api_error *e;
    db_wrlock();
    if (!(e = api_lookup(C_task, ref, &r))) {
        struct changeset *cs = changeset_new();
        changeset_set(cs, C_task, ref, field, value);
        if (field2 >= 0)
            changeset_set(cs, C_task, ref, field2, value2);
        db_apply(cs);
        changeset_free(cs);
    }
    db_unlock();
    if (!e)
        out_void(c->out);
    return e;
}

static struct api_error *set_status(struct call *c)
{
    const char *st = arg_str(c, 2);
    char when[DATETIME_LEN];
    if (streq(st, "pending") || streq(st, "cancelling"))
        return update(c, arg_str(c, 1), FIDX(task, status), st, -1, NULL);
    datetime_format(time(NULL), when);
    return update(c, arg_str(c, 1), FIDX(task, status), st, FIDX(task, finished), when);
}

static struct api_error *set_progress(struct call *c)
{
    return update(c, arg_str(c, 1), FIDX(task, progress), arg_str(c, 2), -1, NULL);
}

static struct api_error *set_result(struct call *c)
{
    return update(c, arg_str(c, 1), FIDX(task, result), arg_str(c, 2), -1, NULL);
}

static struct api_error *set_error_info(struct call *c)
{
    return update(c, arg_str(c, 1), FIDX(task, error_info), arg_str(c, 2), -1, NULL);
}

static struct api_error *cancel(struct call *c)
{
    const struct row *r = NULL;
    struct api_error *e;
    char when[DATETIME_LEN];

    /* A running operation that can be stopped: it ends as cancelled. */
    if (task_cancel_running(arg_str(c, 1))) {
        out_void(c->out);
        return NULL;
    }

    datetime_format(time(NULL), when);
    db_wrlock();
    if (!(e = api_lookup(C_task, arg_str(c, 1), &r))) {
        if (!strlist_contains(r->v[FIDX(task, allowed_operations)], "cancel"))
            e = api_fail(OPERATION_NOT_ALLOWED, "The task cannot be cancelled");
        else {
            /* Only client-made tasks are cancellable: their owner drives
             * them, so the cancellation is final at once. */
            struct changeset *cs = changeset_new();
            changeset_set(cs, C_task, r->ref, FIDX(task, status), "cancelled");
            changeset_set(cs, C_task, r->ref, FIDX(task, finished), when);
            changeset_set(cs, C_task, r->ref, FIDX(task, progress), "1");
            changeset_set(cs, C_task, r->ref, FIDX(task, allowed_operations), "[]");
            db_apply(cs);
            changeset_free(cs);
        }
    }
    db_unlock();
    if (!e)
        out_void(c->out);
    return e;
}

static struct api_error *destroy(struct call *c)
{
    return generic_call(c, MK_DESTROY, C_task, -1);
}

void task_register(void);
void task_register(void)
{
    api_register(M_task_create, create);
    api_register(M_task_destroy, destroy);
    api_register(M_task_cancel, cancel);
    api_register(M_task_set_status, set_status);
    api_register(M_task_set_progress, set_progress);
    api_register(M_task_set_result, set_result);
    api_register(M_task_set_error_info, set_error_info);
}
