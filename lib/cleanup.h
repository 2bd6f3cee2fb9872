/* Scope-bound ownership helpers: a local marked _cleanup_free_ (or with a
 * type's own _cleanup_ function) is released when it goes out of scope, and
 * TAKE_PTR() hands it on to whoever returns it. */
#pragma once

#include <stdlib.h>

#define _cleanup_(f) __attribute__((cleanup(f)))

static inline void freep(void *p)
{
    free(*(void **)p);
}
#define _cleanup_free_ _cleanup_(freep)

/* Defines NAME##p(TYPE **) that calls FN on a non-NULL pointer, for use with
 * _cleanup_(). */
#define DEFINE_CLEANUP_FUNC(type, fn)                                                              \
    static inline void fn##p(type **p)                                                             \
    {                                                                                              \
        if (*p)                                                                                    \
            fn(*p);                                                                                \
    }

/* Returns the pointer and clears the variable, so cleanup no longer frees it. */
#define TAKE_PTR(p)                                                                                \
    ({                                                                                             \
        typeof(p) _tp = (p);                                                                       \
        (p) = NULL;                                                                                \
        _tp;                                                                                       \
    })

#define ELEMENTSOF(a) (sizeof(a) / sizeof((a)[0]))
