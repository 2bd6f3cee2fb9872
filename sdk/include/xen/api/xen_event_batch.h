/* What event.from returns: the events since a token, the number of live
 * objects per class, and the token to ask from next time. */
#ifndef XEN_EVENT_BATCH_H
#define XEN_EVENT_BATCH_H

#include <xen/api/xen_event.h>
#include <xen/api/xen_string_int_map.h>

typedef struct xen_event_batch {
    xen_event_record_set *events;
    xen_string_int_map *valid_ref_counts;
    char *token;
} xen_event_batch;

/* Frees the batch and everything in it; NULL is allowed. */
extern void xen_event_batch_free(xen_event_batch *batch);

/* Waits up to timeout seconds for events of the given classes ("*" for
 * all; "vm/<ref>" for one object) newer than token ("" for the present
 * state of everything). *result is yours to free. Blocks. */
extern bool xen_event_from(xen_session *session, struct xen_event_batch **result,
                           struct xen_string_set *classes, char *token, double timeout);

#endif
