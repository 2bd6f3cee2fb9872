/* Live statistics of this xapi for the diagnostic commands (xe
 * diagnostic-timing-stats, diagnostic-net-stats, diagnostic-gc-stats):
 * how many times each API message ran and how long it took, and how many
 * HTTP requests each method and path had. Counting must cost a call next
 * to nothing, so the per-message table is a fixed array of slots claimed
 * once per message and updated with atomic adds, with no lock; the HTTP
 * table is small and takes a mutex only around an increment. Everything
 * lives for the life of the process and starts empty. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* A monotonic clock in nanoseconds, for timing a call. */
uint64_t diagstats_clock(void);

/* Records one call of the message named name, which took ns nanoseconds.
 * key identifies the message (its method table entry: it must live as
 * long as the process, and name with it); name is borrowed for as long.
 * Lock-free; never blocks. */
void diagstats_call(const void *key, const char *name, uint64_t ns);

/* What diagstats_timings reports for one message. */
struct diagstats_timing {
    const char *name; /* borrowed from the caller of diagstats_call */
    uint64_t n;
    double mean_s; /* arithmetic mean of the durations, seconds */
    double sd_s;   /* their standard deviation, seconds */
};

/* A snapshot of every message called so far, in no particular order: a
 * newly allocated array (free it) of *ret_n entries. */
struct diagstats_timing *diagstats_timings(size_t *ret_n);

/* Formats one entry as XCP's timing statistics do:
 * "<mean> [sd = <sd>]", or with counts "<mean> [sd = <sd>, n=<n>]".
 * Newly allocated. */
char *diagstats_timing_text(const struct diagstats_timing *t, bool counts);

/* Records one HTTP request (method as sent, path without its query),
 * and whether the connection closed after it. Both strings are copied
 * (and cut to a bounded length); past a bounded number of distinct
 * method/path pairs the rest are counted under the path "(other)", so
 * clients that invent paths cannot make it grow. */
void diagstats_http(const char *method, const char *path, bool closed);

/* One row of the HTTP table. */
struct diagstats_http_row {
    char method[16];
    char uri[128];
    uint64_t requests;
    uint64_t connections; /* requests after which the connection closed */
    uint64_t framed;      /* requests in XCP's framed protocol: Xenia has none */
};

/* A snapshot of the HTTP table in the order the pairs first appeared:
 * newly allocated (free it), *ret_n rows. */
struct diagstats_http_row *diagstats_http_rows(size_t *ret_n);

/* What a thread is doing: the message it runs and since when. */
struct diagstats_busy {
    const char *name; /* NULL: idle */
    uint64_t since;   /* diagstats_clock() */
};

/* Marks the calling thread as running the message name (borrowed, lives
 * as long as the process) since now (diagstats_clock(), which the caller
 * has read already to time the call); the mark it had goes to saved, for
 * diagstats_leave (a call may run calls of its own). The thread's slot is
 * given back when the thread ends. Lock-free. */
void diagstats_enter(const char *name, uint64_t now, struct diagstats_busy *saved);
/* Puts back the mark diagstats_enter saved. */
void diagstats_leave(const struct diagstats_busy *saved);

/* One thread running a call. */
struct diagstats_thread {
    int tid;
    const char *name;
    double seconds; /* how long it has run */
};

/* A snapshot of the threads running a call now, newly allocated (free
 * it), *ret_n of them, in no particular order. A thread that changes call
 * meanwhile may be seen with its new message and the old start. */
struct diagstats_thread *diagstats_threads(size_t *ret_n);

/* How many times diagstats_compact() ran. */
uint64_t diagstats_compactions(void);
/* Gives the allocator's free memory back to the system (malloc_trim) and
 * counts it; returns whether memory was released. */
bool diagstats_compact(void);
