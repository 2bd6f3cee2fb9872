/* Cancelling a running Async task: the operation a task runs may say how
 * it is stopped (a storaged copy job, say) for as long as it runs; then
 * task.cancel calls that, the task lists "cancel" in allowed_operations
 * meanwhile, and the operation ends with TASK_CANCELLED, which makes the
 * task "cancelled". The progress such an operation reports goes to the
 * task's row. */
#pragma once

#include <stdbool.h>

typedef void (*task_cancel_fn)(const char *task);

/* While the running task may be cancelled, by fn. */
void task_cancellable_begin(const char *task, task_cancel_fn fn);
void task_cancellable_end(const char *task);
/* task.cancel of a running task: calls its fn (outside every lock) and
 * returns true; false when the task has none. */
bool task_cancel_running(const char *task);
/* Whether task.cancel was called on the running task (an operation whose
 * cancel came before it could act on it asks again). */
bool task_cancel_requested(const char *task);
/* Records progress (0..1) in the task's row. */
void task_progress(const char *task, double progress);
