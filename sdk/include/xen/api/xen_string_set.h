/* A set of strings, as the XenAPI's "string set". */
#ifndef XEN_STRING_SET_H
#define XEN_STRING_SET_H

#include <stddef.h>

typedef struct xen_string_set {
    size_t size;
    char *contents[];
} xen_string_set;

/* A set of size NULL strings, yours to fill and free (NULL if out of
 * memory). */
extern xen_string_set *xen_string_set_alloc(size_t size);
/* Frees the set and its strings; NULL is allowed. */
extern void xen_string_set_free(xen_string_set *set);

#endif
