/* A set of integers, as the XenAPI's "int set". */
#ifndef XEN_INT_SET_H
#define XEN_INT_SET_H

#include <stddef.h>

typedef struct xen_int_set {
    size_t size;
    int contents[];
} xen_int_set;

/* A zeroed set of size integers, yours to free (NULL if out of memory). */
extern xen_int_set *xen_int_set_alloc(size_t size);
/* Frees the set; NULL is allowed. */
extern void xen_int_set_free(xen_int_set *set);

#endif
