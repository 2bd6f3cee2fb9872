/* The xen backend's notice of domain changes that it did not make itself:
 * a thread watching xenstore's @introduceDomain (a domain was built) and
 * @releaseDomain (a domain shut down or died: xenstored fires it on Xen's
 * VIRQ_DOM_EXC), which calls a function each time either fires, so that
 * the backend reads the domains again and bumps its generations. */
#pragma once

struct xen_watch;

/* Opens a xenstore connection, sets both watches and starts the thread,
 * which calls fn(data) once at start and after every batch of watch
 * events (never two calls at once). Returns 0, or a negative errno after
 * logging why. */
int xen_watch_start(void (*fn)(void *data), void *data, struct xen_watch **ret);

/* Stops the thread (waiting for a call of fn under way to return) and
 * frees the watch. NULL is fine. */
void xen_watch_stop(struct xen_watch *w);
