/* A set of sets of strings, as the XenAPI's "string set set". */
#ifndef XEN_STRING_SET_SET_H
#define XEN_STRING_SET_SET_H

#include <stddef.h>

#include <xen/api/xen_string_set.h>

typedef struct xen_string_set_set {
    size_t size;
    xen_string_set *contents[];
} xen_string_set_set;

/* A set of size NULL sets, yours to fill and free (NULL if out of memory). */
extern xen_string_set_set *xen_string_set_set_alloc(size_t size);
/* Frees the set and every set in it; NULL is allowed. */
extern void xen_string_set_set_free(xen_string_set_set *set);

#endif
