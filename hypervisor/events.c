/* The generation counter and the condition variable that events/watch
 * sleeps on (see events.h). */
#include "hypervisor/events.h"

#include <errno.h>

#include "lib/util.h"

void events_cond_init(pthread_cond_t *cond)
{
    pthread_condattr_t attr;

    pthread_condattr_init(&attr);
    pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
    pthread_cond_init(cond, &attr);
    pthread_condattr_destroy(&attr);
}

void events_init(struct events *ev, uint64_t generation)
{
    pthread_mutex_init(&ev->lock, NULL);
    events_cond_init(&ev->cond);
    ev->generation = generation;
    ev->stopping = false;
}

void events_done(struct events *ev)
{
    pthread_cond_destroy(&ev->cond);
    pthread_mutex_destroy(&ev->lock);
}

uint64_t events_bump(struct events *ev)
{
    pthread_mutex_lock(&ev->lock);
    uint64_t g = ++ev->generation;
    pthread_cond_broadcast(&ev->cond);
    pthread_mutex_unlock(&ev->lock);
    return g;
}

uint64_t events_generation(struct events *ev)
{
    pthread_mutex_lock(&ev->lock);
    uint64_t g = ev->generation;
    pthread_mutex_unlock(&ev->lock);
    return g;
}

bool events_wait(struct events *ev, uint64_t seen, double deadline)
{
    struct timespec ts = events_timespec(deadline);
    bool moved;

    pthread_mutex_lock(&ev->lock);
    while (ev->generation <= seen && !ev->stopping && now_monotonic() < deadline)
        if (pthread_cond_timedwait(&ev->cond, &ev->lock, &ts) == ETIMEDOUT)
            break;
    moved = ev->generation > seen;
    pthread_mutex_unlock(&ev->lock);
    return moved;
}

void events_stop(struct events *ev)
{
    pthread_mutex_lock(&ev->lock);
    ev->stopping = true;
    pthread_cond_broadcast(&ev->cond);
    pthread_mutex_unlock(&ev->lock);
}

bool events_stopping(struct events *ev)
{
    pthread_mutex_lock(&ev->lock);
    bool s = ev->stopping;
    pthread_mutex_unlock(&ev->lock);
    return s;
}
