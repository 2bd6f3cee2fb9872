/* The xenstore watch thread of the xen backend (see xen-watch.h). It
 * sleeps in poll() on the xenstore connection's descriptor and on a pipe
 * that xen_watch_stop writes to, so stopping it never waits for Xen. */
#include "hypervisor/xen-watch.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <stdlib.h>
#include <unistd.h>
#include <xenstore.h>

#include "lib/log.h"
#include "lib/util.h"

LOG_MODULE("xen-watch");

struct xen_watch {
    struct xs_handle *xs;
    int stop_pipe[2];
    pthread_t thread;
    void (*fn)(void *data);
    void *data;
};

static void *watch_thread(void *arg)
{
    struct xen_watch *w = arg;
    struct pollfd p[2] = {{.fd = xs_fileno(w->xs), .events = POLLIN},
                          {.fd = w->stop_pipe[0], .events = POLLIN}};

    w->fn(w->data);
    for (;;) {
        if (poll(p, 2, -1) < 0) {
            if (errno == EINTR)
                continue;
            log_error_errno(-errno, "poll on xenstore failed, domain changes go unseen: %m");
            break;
        }
        if (p[1].revents)
            break;
        if (p[0].revents & (POLLERR | POLLHUP | POLLNVAL)) {
            log_error("the xenstore connection closed: domain changes go unseen");
            break;
        }
        /* Every pending event at once: one reading of the domains covers
         * them all. */
        char **v;
        bool any = false;
        while ((v = xs_check_watch(w->xs))) {
            log_debug("xenstore watch %s fired", v[XS_WATCH_PATH]);
            free(v);
            any = true;
        }
        if (any)
            w->fn(w->data);
    }
    return NULL;
}

int xen_watch_start(void (*fn)(void *data), void *data, struct xen_watch **ret)
{
    struct xen_watch *w = xcalloc(1, sizeof(*w));
    int r;

    w->fn = fn;
    w->data = data;
    w->stop_pipe[0] = w->stop_pipe[1] = -1;
    if (!(w->xs = xs_open(0))) {
        r = log_error_errno(-errno, "cannot connect to xenstore: %m");
        goto fail;
    }
    if (!xs_watch(w->xs, "@introduceDomain", "introduce") ||
        !xs_watch(w->xs, "@releaseDomain", "release")) {
        r = log_error_errno(-errno, "cannot watch xenstore's domain events: %m");
        goto fail;
    }
    if (pipe2(w->stop_pipe, O_CLOEXEC) < 0) {
        r = log_error_errno(-errno, "cannot make a pipe: %m");
        goto fail;
    }
    if ((r = -pthread_create(&w->thread, NULL, watch_thread, w)) < 0) {
        log_error_errno(r, "cannot start the xenstore watch thread: %m");
        goto fail;
    }
    *ret = w;
    return 0;

fail:
    if (w->xs)
        xs_close(w->xs);
    if (w->stop_pipe[0] >= 0) {
        close(w->stop_pipe[0]);
        close(w->stop_pipe[1]);
    }
    free(w);
    return r;
}

void xen_watch_stop(struct xen_watch *w)
{
    if (!w)
        return;
    while (write(w->stop_pipe[1], "x", 1) < 0 && errno == EINTR)
        ;
    pthread_join(w->thread, NULL);
    xs_close(w->xs);
    close(w->stop_pipe[0]);
    close(w->stop_pipe[1]);
    free(w);
}
