/* A hash map from NUL-terminated string keys to pointers, with open
 * addressing. The map does not own keys or values: a key must stay valid
 * while it is in the map (typically it points into the value). Not
 * thread-safe; callers lock. */
#pragma once

#include <stdbool.h>
#include <stddef.h>

struct hashmap {
    struct hm_slot {
        const char *key; /* NULL: empty; HM_TOMBSTONE: deleted */
        void *value;
        unsigned hash;
    } * slots;
    size_t cap;   /* a power of two */
    size_t count; /* live entries */
    size_t used;  /* live entries and tombstones */
};

void hashmap_init(struct hashmap *m);
void hashmap_done(struct hashmap *m);
void *hashmap_get(const struct hashmap *m, const char *key);
/* Inserts or replaces; returns the previous value or NULL. */
void *hashmap_put(struct hashmap *m, const char *key, void *value);
/* Removes and returns the value, or NULL if absent. */
void *hashmap_remove(struct hashmap *m, const char *key);

/* Iteration: for (size_t i = 0; hashmap_next(m, &i, &k, &v);) — the map must
 * not change during it. */
bool hashmap_next(const struct hashmap *m, size_t *iter, const char **ret_key, void **ret_value);
