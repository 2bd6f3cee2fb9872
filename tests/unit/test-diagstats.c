/* Tests of the diagnostic counters (xapi-c/diagstats.c): per-message call
 * timings with their mean and deviation, concurrent counting that loses
 * nothing, XCP's text form, the HTTP table and its bound, which call each
 * thread runs, and the compact counter. The counters are process-wide and never reset, so each test
 * uses keys of its own. */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "lib/util.h"
#include "xapi-c/diagstats.h"

static const struct diagstats_timing *find(const struct diagstats_timing *t, size_t n,
                                           const char *name)
{
    for (size_t i = 0; i < n; i++)
        if (streq(t[i].name, name))
            return &t[i];
    return NULL;
}

static void test_mean_and_deviation_of_calls(void **state)
{
    (void)state;
    static const char key = 0;
    size_t n;

    /* 1 s and 3 s: mean 2 s, deviation 1 s. */
    diagstats_call(&key, "VM.start", 1000000000u);
    diagstats_call(&key, "VM.start", 3000000000u);
    struct diagstats_timing *t = diagstats_timings(&n);
    const struct diagstats_timing *e = find(t, n, "VM.start");
    assert_non_null(e);
    assert_int_equal(e->n, 2);
    assert_true(e->mean_s > 1.999999 && e->mean_s < 2.000001);
    assert_true(e->sd_s > 0.999999 && e->sd_s < 1.000001);
    char *text = diagstats_timing_text(e, false);
    assert_string_equal(text, "2.000000 [sd = 1.000000]");
    free(text);
    text = diagstats_timing_text(e, true);
    assert_string_equal(text, "2.000000 [sd = 1.000000, n=2]");
    free(text);
    free(t);
}

static void test_uncalled_message_is_not_listed(void **state)
{
    (void)state;
    size_t n;
    struct diagstats_timing *t = diagstats_timings(&n);
    assert_null(find(t, n, "VM.never_called"));
    free(t);
}

#define THREADS 4
#define CALLS 20000

static char shared_key;

static void *caller(void *arg)
{
    (void)arg;
    for (int i = 0; i < CALLS; i++)
        diagstats_call(&shared_key, "host.get_uuid", 1000);
    return NULL;
}

static void test_concurrent_calls_all_counted(void **state)
{
    (void)state;
    pthread_t th[THREADS];
    size_t n;

    for (int i = 0; i < THREADS; i++)
        assert_int_equal(pthread_create(&th[i], NULL, caller, NULL), 0);
    for (int i = 0; i < THREADS; i++)
        pthread_join(th[i], NULL);
    struct diagstats_timing *t = diagstats_timings(&n);
    const struct diagstats_timing *e = find(t, n, "host.get_uuid");
    assert_non_null(e);
    assert_int_equal(e->n, THREADS * CALLS);
    assert_true(e->mean_s > 0.99e-6 && e->mean_s < 1.01e-6);
    free(t);
}

static void test_many_distinct_messages_each_have_their_slot(void **state)
{
    (void)state;
    /* Far more keys than the API has messages would need, all distinct. */
    static char keys[3000];
    static char names[3000][16];
    size_t n, found = 0;

    for (int i = 0; i < 3000; i++) {
        snprintf(names[i], sizeof(names[i]), "m.%d", i);
        diagstats_call(&keys[i], names[i], (uint64_t)i + 1);
    }
    struct diagstats_timing *t = diagstats_timings(&n);
    for (size_t i = 0; i < n; i++)
        if (strncmp(t[i].name, "m.", 2) == 0) {
            int k = atoi(t[i].name + 2);
            assert_int_equal(t[i].n, 1);
            assert_true(t[i].mean_s * 1e9 > k + 0.5 && t[i].mean_s * 1e9 < k + 1.5);
            found++;
        }
    assert_int_equal(found, 3000);
    free(t);
}

static const struct diagstats_http_row *http_find(const struct diagstats_http_row *r, size_t n,
                                                  const char *method, const char *uri)
{
    for (size_t i = 0; i < n; i++)
        if (streq(r[i].method, method) && streq(r[i].uri, uri))
            return &r[i];
    return NULL;
}

static void test_http_requests_and_closes_per_method_and_path(void **state)
{
    (void)state;
    size_t n;

    diagstats_http("POST", "/jsonrpc", false);
    diagstats_http("POST", "/jsonrpc", true);
    diagstats_http("GET", "/jsonrpc", false);
    struct diagstats_http_row *r = diagstats_http_rows(&n);
    const struct diagstats_http_row *post = http_find(r, n, "POST", "/jsonrpc");
    const struct diagstats_http_row *get = http_find(r, n, "GET", "/jsonrpc");
    assert_non_null(post);
    assert_non_null(get);
    assert_int_equal(post->requests, 2);
    assert_int_equal(post->connections, 1);
    assert_int_equal(post->framed, 0);
    assert_int_equal(get->requests, 1);
    /* First seen, first listed. */
    assert_true(post < get);
    free(r);
}

static void test_http_table_is_bounded_and_keeps_counting(void **state)
{
    (void)state;
    char path[64], long_path[400];
    size_t n;

    for (int i = 0; i < 500; i++) {
        snprintf(path, sizeof(path), "/invented/%d", i);
        diagstats_http("PUT", path, false);
    }
    memset(long_path, 'x', sizeof(long_path) - 1);
    long_path[sizeof(long_path) - 1] = '\0';
    diagstats_http("AVERYLONGMETHODNAME", long_path, true);
    struct diagstats_http_row *r = diagstats_http_rows(&n);
    assert_true(n <= 65);
    uint64_t total = 0;
    for (size_t i = 0; i < n; i++) {
        assert_true(strlen(r[i].method) < sizeof(r[i].method));
        assert_true(strlen(r[i].uri) < sizeof(r[i].uri));
        if (streq(r[i].method, "PUT") || streq(r[i].uri, "(other)"))
            total += r[i].requests;
    }
    /* Every request is still counted somewhere. */
    assert_int_equal(total, 501);
    assert_non_null(http_find(r, n, "(other)", "(other)"));
    free(r);
}

static const struct diagstats_thread *thread_find(const struct diagstats_thread *t, size_t n,
                                                  int tid)
{
    for (size_t i = 0; i < n; i++)
        if (t[i].tid == tid)
            return &t[i];
    return NULL;
}

/* The name the calling thread shows, or NULL when it shows none. */
static const char *shown(void)
{
    size_t n;
    struct diagstats_thread *t = diagstats_threads(&n);
    const struct diagstats_thread *me = thread_find(t, n, gettid());
    const char *name = me ? me->name : NULL;
    free(t);
    return name;
}

static void test_thread_shows_its_innermost_call(void **state)
{
    (void)state;
    struct diagstats_busy outer, inner;

    assert_null(shown());
    diagstats_enter("VM.start", diagstats_clock(), &outer);
    assert_string_equal(shown(), "VM.start");
    diagstats_enter("VBD.plug", diagstats_clock(), &inner);
    assert_string_equal(shown(), "VBD.plug");
    diagstats_leave(&inner);
    assert_string_equal(shown(), "VM.start");
    diagstats_leave(&outer);
    assert_null(shown());
}

static int ended_tid;

static void *ends_inside_a_call(void *arg)
{
    struct diagstats_busy b;
    (void)arg;
    ended_tid = gettid();
    diagstats_enter("event.from", diagstats_clock(), &b);
    return NULL;
}

static void test_thread_that_ends_gives_its_slot_back(void **state)
{
    (void)state;
    size_t n;

    /* Far more threads than there are slots, each ending mid-call. */
    for (int i = 0; i < 1500; i++) {
        pthread_t th;
        assert_int_equal(pthread_create(&th, NULL, ends_inside_a_call, NULL), 0);
        pthread_join(th, NULL);
        struct diagstats_thread *t = diagstats_threads(&n);
        assert_null(thread_find(t, n, ended_tid));
        free(t);
    }
    struct diagstats_busy b;
    diagstats_enter("still.counted", diagstats_clock(), &b);
    assert_string_equal(shown(), "still.counted");
    diagstats_leave(&b);
}

static void test_compact_is_counted(void **state)
{
    (void)state;
    uint64_t before = diagstats_compactions();
    void *p = malloc(1 << 20);
    free(p);
    diagstats_compact();
    assert_int_equal(diagstats_compactions(), before + 1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_mean_and_deviation_of_calls),
        cmocka_unit_test(test_uncalled_message_is_not_listed),
        cmocka_unit_test(test_concurrent_calls_all_counted),
        cmocka_unit_test(test_many_distinct_messages_each_have_their_slot),
        cmocka_unit_test(test_http_requests_and_closes_per_method_and_path),
        cmocka_unit_test(test_http_table_is_bounded_and_keeps_counting),
        cmocka_unit_test(test_thread_shows_its_innermost_call),
        cmocka_unit_test(test_thread_that_ends_gives_its_slot_back),
        cmocka_unit_test(test_compact_is_counted),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
