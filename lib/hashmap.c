/* Open-addressing string hash map (see hashmap.h). */
#include "hashmap.h"

#include <stdint.h>
#include <string.h>

#include <stdlib.h>

#include "util.h"

static const char tombstone_[1];
#define HM_TOMBSTONE tombstone_

static unsigned hash_str(const char *s)
{
    /* FNV-1a: keys are refs and uuids, already well spread. */
    uint32_t h = 2166136261u;
    for (; *s; s++) {
        h ^= (unsigned char)*s;
        h *= 16777619u;
    }
    return h;
}

void hashmap_init(struct hashmap *m)
{
    m->cap = 16;
    m->slots = xcalloc(m->cap, sizeof(*m->slots));
    m->count = m->used = 0;
}

void hashmap_done(struct hashmap *m)
{
    free(m->slots);
    m->slots = NULL;
    m->cap = m->count = m->used = 0;
}

static struct hm_slot *find(const struct hashmap *m, const char *key, unsigned h)
{
    size_t mask = m->cap - 1;
    for (size_t i = h & mask;; i = (i + 1) & mask) {
        struct hm_slot *s = &m->slots[i];
        if (!s->key)
            return NULL;
        if (s->key != HM_TOMBSTONE && s->hash == h && streq(s->key, key))
            return s;
    }
}

void *hashmap_get(const struct hashmap *m, const char *key)
{
    struct hm_slot *s = find(m, key, hash_str(key));
    return s ? s->value : NULL;
}

static void resize(struct hashmap *m, size_t cap)
{
    struct hm_slot *old = m->slots;
    size_t oldcap = m->cap;
    m->slots = xcalloc(cap, sizeof(*m->slots));
    m->cap = cap;
    m->used = m->count;
    for (size_t i = 0; i < oldcap; i++) {
        if (!old[i].key || old[i].key == HM_TOMBSTONE)
            continue;
        size_t j = old[i].hash & (cap - 1);
        while (m->slots[j].key)
            j = (j + 1) & (cap - 1);
        m->slots[j] = old[i];
    }
    free(old);
}

void *hashmap_put(struct hashmap *m, const char *key, void *value)
{
    unsigned h = hash_str(key);
    struct hm_slot *s = find(m, key, h);
    if (s) {
        void *prev = s->value;
        s->value = value;
        s->key = key;
        return prev;
    }
    if ((m->used + 1) * 4 >= m->cap * 3)
        resize(m, m->count * 2 >= m->cap / 2 ? m->cap * 2 : m->cap);
    size_t mask = m->cap - 1;
    size_t i = h & mask;
    while (m->slots[i].key && m->slots[i].key != HM_TOMBSTONE)
        i = (i + 1) & mask;
    if (!m->slots[i].key)
        m->used++;
    m->slots[i] = (struct hm_slot){key, value, h};
    m->count++;
    return NULL;
}

void *hashmap_remove(struct hashmap *m, const char *key)
{
    struct hm_slot *s = find(m, key, hash_str(key));
    if (!s)
        return NULL;
    void *prev = s->value;
    s->key = HM_TOMBSTONE;
    s->value = NULL;
    m->count--;
    return prev;
}

bool hashmap_next(const struct hashmap *m, size_t *iter, const char **ret_key, void **ret_value)
{
    for (size_t i = *iter; i < m->cap; i++) {
        if (m->slots[i].key && m->slots[i].key != HM_TOMBSTONE) {
            if (ret_key)
                *ret_key = m->slots[i].key;
            if (ret_value)
                *ret_value = m->slots[i].value;
            *iter = i + 1;
            return true;
        }
    }
    *iter = m->cap;
    return false;
}
