/* Tasks: the record of a long-running operation. Async.* calls become a
 * task row and a job for a pool of worker threads; the job's outcome is
 * written back into the row (status, progress, result as an XML-RPC value
 * fragment, error_info) so clients poll it or watch task events. Finished
 * tasks are destroyed about 65 minutes after completion, pending ones after
 * 24 hours, as xapi does. */
#pragma once

#include "api.h"

#define TASK_FINISHED_TTL (65 * 60.0)
#define TASK_PENDING_TTL (24 * 3600.0)

void tasks_init(int workers);
/* Stops the workers after the jobs already queued. */
void tasks_shutdown(void);

/* Creates a pending task named label for session (a client-made task or
 * one for an Async call); its ref goes to ret_ref. */
struct api_error *task_create(const char *session, const char *label, const char *description,
                              bool cancellable, char ret_ref[64]);
/* Runs c (taken) as a task; the new task's ref goes to ret_ref. */
struct api_error *tasks_start(struct call *c, const char *label, char ret_ref[64]);

/* Destroys finished and stale tasks that have outlived their time. */
void tasks_gc(void);
/* Writes the outcome of a job into its task, if the task still exists and
 * is pending: result (an XML-RPC value, or NULL for none) on success, else
 * e's code and parameters (status cancelled for TASK_CANCELLED). */
void task_finish(const char *task, const char *result, const struct api_error *e);
