/* The generation counter behind domaind's events/watch: every change to a
 * domain takes the next generation, and callers of events/watch sleep on a
 * condition variable until the generation moves past the one they have
 * seen, their deadline passes, or domaind stops. The counter is a number
 * only: what changed at which generation is the backend's to remember
 * (each domain records the generation of its last change). Thread-safe:
 * the counter has its own mutex, which may be taken while a backend holds
 * its own lock (backend lock first, then this one). */
#pragma once

#include <math.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <time.h>

struct events {
    pthread_mutex_t lock;
    pthread_cond_t cond; /* on CLOCK_MONOTONIC */
    uint64_t generation; /* the last one handed out */
    bool stopping;
};

/* Initialises cond on CLOCK_MONOTONIC, the clock of the deadlines here
 * (events_timespec). */
void events_cond_init(pthread_cond_t *cond);

/* Starts counting after generation (0 for a fresh hypervisor, the saved
 * value after a restart). */
void events_init(struct events *ev, uint64_t generation);
void events_done(struct events *ev);

/* Takes the next generation, wakes every waiter and returns it. Does not
 * block beyond the counter's mutex. */
uint64_t events_bump(struct events *ev);
/* The last generation handed out. */
uint64_t events_generation(struct events *ev);

/* Blocks until the generation is past seen (returns true), or until
 * deadline (CLOCK_MONOTONIC seconds, as now_monotonic()) passes or
 * events_stop is called (returns false). */
bool events_wait(struct events *ev, uint64_t seen, double deadline);

/* Wakes every waiter for good: from now on events_wait returns at once. */
void events_stop(struct events *ev);
bool events_stopping(struct events *ev);

/* A CLOCK_MONOTONIC deadline in seconds as the timespec that
 * pthread_cond_timedwait takes (with a condition variable on that clock). */
static inline struct timespec events_timespec(double deadline)
{
    double whole;
    double frac = modf(deadline, &whole);
    return (struct timespec){.tv_sec = (time_t)whole, .tv_nsec = (long)(frac * 1e9)};
}
