/* Live statistics for the diagnostic commands (see diagstats.h). */
#include "diagstats.h"

#include <malloc.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "lib/util.h"

/* More slots than the API has methods (about 4000 with every generated
 * getter and setter), so open addressing stays short. A power of two. */
#define TIMING_SLOTS 8192
#define HTTP_ROWS 64

struct timing_slot {
    const void *key; /* claimed once with a compare-and-swap, never freed */
    const char *name;
    uint64_t n;
    uint64_t sum_ns;
    double sum_sq; /* seconds squared, added with a compare-and-swap loop */
};

static struct timing_slot slots[TIMING_SLOTS];

uint64_t diagstats_clock(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static size_t slot_hash(const void *key)
{
    uint64_t h = (uint64_t)(uintptr_t)key * 0x9E3779B97F4A7C15u;
    return (size_t)(h >> 51) & (TIMING_SLOTS - 1);
}

/* The slot of key, claimed if it has none; NULL if the table is full. */
static struct timing_slot *slot_of(const void *key, const char *name)
{
    size_t i = slot_hash(key);
    for (size_t probes = 0; probes < TIMING_SLOTS; probes++, i = (i + 1) & (TIMING_SLOTS - 1)) {
        struct timing_slot *s = &slots[i];
        const void *k = __atomic_load_n(&s->key, __ATOMIC_ACQUIRE);
        if (!k) {
            const void *expected = NULL;
            if (__atomic_compare_exchange_n(&s->key, &expected, key, false, __ATOMIC_ACQ_REL,
                                            __ATOMIC_ACQUIRE)) {
                __atomic_store_n(&s->name, name, __ATOMIC_RELEASE);
                return s;
            }
            k = expected;
        }
        if (k == key)
            return s;
    }
    return NULL;
}

void diagstats_call(const void *key, const char *name, uint64_t ns)
{
    struct timing_slot *s = slot_of(key, name);
    if (!s)
        return;
    double sec = (double)ns / 1e9, old, upd;
    __atomic_add_fetch(&s->sum_ns, ns, __ATOMIC_RELAXED);
    __atomic_load(&s->sum_sq, &old, __ATOMIC_RELAXED);
    do
        upd = old + sec * sec;
    while (!__atomic_compare_exchange(&s->sum_sq, &old, &upd, true, __ATOMIC_RELAXED,
                                      __ATOMIC_RELAXED));
    /* The count last: a reader that sees it sees the sums that go with it
     * (or newer ones), never a count ahead of its sums. */
    __atomic_add_fetch(&s->n, 1, __ATOMIC_RELEASE);
}

struct diagstats_timing *diagstats_timings(size_t *ret_n)
{
    struct diagstats_timing *t = NULL;
    size_t n = 0, cap = 0;

    for (size_t i = 0; i < TIMING_SLOTS; i++) {
        struct timing_slot *s = &slots[i];
        const char *name = __atomic_load_n(&s->name, __ATOMIC_ACQUIRE);
        uint64_t cnt = __atomic_load_n(&s->n, __ATOMIC_ACQUIRE);
        if (!name || cnt == 0)
            continue;
        double sum = (double)__atomic_load_n(&s->sum_ns, __ATOMIC_RELAXED) / 1e9;
        double sq;
        __atomic_load(&s->sum_sq, &sq, __ATOMIC_RELAXED);
        double mean = sum / (double)cnt;
        double var = sq / (double)cnt - mean * mean;
        if (n == cap) {
            cap = cap ? 2 * cap : 64;
            t = xrealloc(t, cap * sizeof(*t));
        }
        t[n++] = (struct diagstats_timing){
            .name = name, .n = cnt, .mean_s = mean, .sd_s = var > 0 ? sqrt(var) : 0.0};
    }
    *ret_n = n;
    return t;
}

char *diagstats_timing_text(const struct diagstats_timing *t, bool counts)
{
    if (counts)
        return xasprintf("%f [sd = %f, n=%llu]", t->mean_s, t->sd_s, (unsigned long long)t->n);
    return xasprintf("%f [sd = %f]", t->mean_s, t->sd_s);
}

/* ---- HTTP ---- */

static pthread_mutex_t http_lock = PTHREAD_MUTEX_INITIALIZER;
/* The last row is where pairs beyond the first HTTP_ROWS go. */
static struct diagstats_http_row http_rows[HTTP_ROWS + 1];
static size_t n_http_rows;

static void copy_cut(char *dst, size_t size, const char *src)
{
    snprintf(dst, size, "%s", src ? src : "");
}

void diagstats_http(const char *method, const char *path, bool closed)
{
    char m[sizeof(http_rows[0].method)], u[sizeof(http_rows[0].uri)];
    struct diagstats_http_row *row = NULL;

    copy_cut(m, sizeof(m), method);
    copy_cut(u, sizeof(u), path);
    pthread_mutex_lock(&http_lock);
    for (size_t i = 0; i < n_http_rows && !row; i++)
        if (streq(http_rows[i].method, m) && streq(http_rows[i].uri, u))
            row = &http_rows[i];
    if (!row && n_http_rows < HTTP_ROWS) {
        row = &http_rows[n_http_rows++];
        memcpy(row->method, m, sizeof(m));
        memcpy(row->uri, u, sizeof(u));
    }
    if (!row) {
        row = &http_rows[HTTP_ROWS];
        copy_cut(row->method, sizeof(row->method), "(other)");
        copy_cut(row->uri, sizeof(row->uri), "(other)");
    }
    row->requests++;
    if (closed)
        row->connections++;
    pthread_mutex_unlock(&http_lock);
}

struct diagstats_http_row *diagstats_http_rows(size_t *ret_n)
{
    struct diagstats_http_row *r = xcalloc(HTTP_ROWS + 1, sizeof(*r));
    size_t n;

    pthread_mutex_lock(&http_lock);
    n = n_http_rows;
    memcpy(r, http_rows, n * sizeof(*r));
    if (http_rows[HTTP_ROWS].requests)
        r[n++] = http_rows[HTTP_ROWS];
    pthread_mutex_unlock(&http_lock);
    *ret_n = n;
    return r;
}

/* ---- threads ---- */

/* More than the connection limit and the task workers together; a thread
 * beyond them is not shown. */
#define THREAD_SLOTS 1024

struct thread_slot {
    int tid; /* 0: free; claimed with a compare-and-swap */
    const char *name;
    uint64_t since;
};

static struct thread_slot threads[THREAD_SLOTS];
static __thread struct thread_slot *my_slot;
static pthread_key_t slot_key;
static pthread_once_t slot_once = PTHREAD_ONCE_INIT;

/* The thread ends: its slot is free for another. */
static void slot_release(void *p)
{
    struct thread_slot *s = p;
    __atomic_store_n(&s->name, NULL, __ATOMIC_RELEASE);
    __atomic_store_n(&s->tid, 0, __ATOMIC_RELEASE);
}

static void slot_key_init(void)
{
    if (pthread_key_create(&slot_key, slot_release) != 0)
        abort();
}

static struct thread_slot *slot_claim(void)
{
    if (my_slot)
        return my_slot;
    pthread_once(&slot_once, slot_key_init);
    int tid = gettid();
    for (size_t i = 0; i < THREAD_SLOTS; i++) {
        int expected = 0;
        if (__atomic_compare_exchange_n(&threads[i].tid, &expected, tid, false, __ATOMIC_ACQ_REL,
                                        __ATOMIC_RELAXED)) {
            my_slot = &threads[i];
            pthread_setspecific(slot_key, my_slot);
            return my_slot;
        }
    }
    return NULL;
}

void diagstats_enter(const char *name, uint64_t now, struct diagstats_busy *saved)
{
    struct thread_slot *s = slot_claim();
    if (!s) {
        *saved = (struct diagstats_busy){0};
        return;
    }
    saved->name = __atomic_load_n(&s->name, __ATOMIC_RELAXED);
    saved->since = __atomic_load_n(&s->since, __ATOMIC_RELAXED);
    __atomic_store_n(&s->since, now, __ATOMIC_RELAXED);
    __atomic_store_n(&s->name, name, __ATOMIC_RELEASE);
}

void diagstats_leave(const struct diagstats_busy *saved)
{
    struct thread_slot *s = my_slot;
    if (!s)
        return;
    __atomic_store_n(&s->since, saved->since, __ATOMIC_RELAXED);
    __atomic_store_n(&s->name, saved->name, __ATOMIC_RELEASE);
}

struct diagstats_thread *diagstats_threads(size_t *ret_n)
{
    struct diagstats_thread *t = NULL;
    size_t n = 0;
    uint64_t now = diagstats_clock();

    for (size_t i = 0; i < THREAD_SLOTS; i++) {
        int tid = __atomic_load_n(&threads[i].tid, __ATOMIC_ACQUIRE);
        const char *name = __atomic_load_n(&threads[i].name, __ATOMIC_ACQUIRE);
        uint64_t since = __atomic_load_n(&threads[i].since, __ATOMIC_RELAXED);
        if (!tid || !name)
            continue;
        t = xrealloc(t, (n + 1) * sizeof(*t));
        t[n++] = (struct diagstats_thread){
            .tid = tid, .name = name, .seconds = now > since ? (double)(now - since) / 1e9 : 0.0};
    }
    *ret_n = n;
    return t;
}

/* ---- the heap ---- */

static uint64_t compactions;

uint64_t diagstats_compactions(void)
{
    return __atomic_load_n(&compactions, __ATOMIC_RELAXED);
}

bool diagstats_compact(void)
{
    int released = malloc_trim(0);
    __atomic_add_fetch(&compactions, 1, __ATOMIC_RELAXED);
    return released != 0;
}
