/* Unit tests of the table of domains both domaind backends keep
 * (hypervisor/domtable.c), driven directly: records of a backend's size,
 * taking a domain (unknown, being built, in the wrong state), the
 * backend's refresh around an operation, destroyed domains remembered and
 * forgotten past the bound (raising evicted_generation, which makes an
 * older since a full answer), a rebuilt domain's destroyed record
 * forgotten, the events/watch answer, the list by domid, builds abandoned,
 * and the wait for a guest to shut down ending at once when it did, when
 * the domain is gone, when the deadline has passed and when the table
 * stops. No test waits for time to pass: the deadlines given are past. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hypervisor/domtable.h"
#include "lib/log.h"
#include "lib/util.h"

#define UUID_A "00000000-0000-0000-0000-00000000000a"
#define UUID_B "00000000-0000-0000-0000-00000000000b"
#define UUID_C "00000000-0000-0000-0000-00000000000c"

/* A backend's record: the table's, then its own. */
struct test_dom {
    struct dt_dom dt;
    int extra;
};

struct fixture {
    struct events events;
    struct domtable t;
    int refreshes;
    bool refresh_fails;
};

static struct dm_error *count_refresh(void *data)
{
    struct fixture *f = data;

    f->refreshes++;
    return f->refresh_fails ? dm_failf(DM_ERR_BACKEND_FAILURE, "refresh failed") : NULL;
}

static struct fixture *fixture_new(size_t max_destroyed, bool with_refresh)
{
    struct fixture *f = xcalloc(1, sizeof(*f));

    events_init(&f->events, 0);
    domtable_init(&f->t, &f->events, sizeof(struct test_dom), max_destroyed,
                  with_refresh ? count_refresh : NULL, f);
    return f;
}

static int setup(void **state)
{
    *state = fixture_new(8, false);
    return 0;
}

static int teardown(void **state)
{
    struct fixture *f = *state;

    domtable_done(&f->t);
    events_done(&f->events);
    free(f);
    return 0;
}

/* Adds a listed domain uuid with domid in state, as a change. */
static struct dt_dom *add(struct fixture *f, const char *uuid, int domid, enum dm_state state)
{
    struct dt_dom *dom = domtable_dom_new(&f->t, uuid);

    dom->d.domid = domid;
    dom->d.state = state;
    dom->d.memory_actual = 1 << 20;
    dom->d.cfg.name = xstrdup(uuid);
    domtable_add(&f->t, dom);
    domtable_changed(&f->t, dom);
    return dom;
}

static void assert_error(struct dm_error *e, enum dm_err code)
{
    assert_non_null(e);
    assert_int_equal(e->code, code);
    dm_error_free(e);
}

static void test_new_record_has_the_backend_size_zeroed(void **state)
{
    struct fixture *f = *state;
    struct dt_dom *dom = domtable_dom_new(&f->t, UUID_A);
    struct test_dom *td = (struct test_dom *)dom;

    assert_string_equal(dom->d.uuid, UUID_A);
    assert_int_equal(td->extra, 0);
    assert_false(dom->busy);
    td->extra = 7; /* the whole size is ours: ASan would say otherwise */
    domtable_dom_free(dom);
}

static void test_take_of_unknown_or_building_domain_is_no_such_domain(void **state)
{
    struct fixture *f = *state;
    struct dm_config cfg = {.name = (char *)"b"};
    struct dt_dom *dom;

    pthread_mutex_lock(&f->t.lock);
    assert_error(domtable_take(&f->t, UUID_A, &dom), DM_ERR_NO_SUCH_DOMAIN);
    domtable_build_start(&f->t, UUID_B, &cfg);
    assert_null(domtable_find(&f->t, UUID_B));
    assert_error(domtable_take(&f->t, UUID_B, &dom), DM_ERR_NO_SUCH_DOMAIN);
    assert_error(domtable_get(&f->t, UUID_B, &(struct dm_domain){0}), DM_ERR_NO_SUCH_DOMAIN);
    pthread_mutex_unlock(&f->t.lock);
}

static void test_take_marks_busy_and_release_clears(void **state)
{
    struct fixture *f = *state;
    struct dt_dom *dom = NULL;

    pthread_mutex_lock(&f->t.lock);
    struct dt_dom *a = add(f, UUID_A, 1, DM_STATE_RUNNING);
    assert_null(domtable_take(&f->t, UUID_A, &dom));
    assert_ptr_equal(dom, a);
    assert_true(a->busy);
    domtable_release(&f->t, a);
    assert_false(a->busy);
    pthread_mutex_unlock(&f->t.lock);
}

static void test_take_in_wrong_state_is_bad_state_and_releases(void **state)
{
    struct fixture *f = *state;
    struct dt_dom *dom = NULL;

    pthread_mutex_lock(&f->t.lock);
    struct dt_dom *a = add(f, UUID_A, 1, DM_STATE_PAUSED);
    struct dm_error *e =
        domtable_take_in(&f->t, UUID_A, DT_IN(DM_STATE_RUNNING), DM_STATE_RUNNING, &dom);
    assert_non_null(e);
    assert_int_equal(e->code, DM_ERR_BAD_STATE);
    assert_string_equal(e->params[0], UUID_A);
    assert_string_equal(e->params[1], "running");
    assert_string_equal(e->params[2], "paused");
    dm_error_free(e);
    assert_false(a->busy);
    assert_null(domtable_take_in(&f->t, UUID_A, DT_LIVE, DM_STATE_RUNNING, &dom));
    assert_ptr_equal(dom, a);
    domtable_release(&f->t, a);
    pthread_mutex_unlock(&f->t.lock);
}

static void test_refresh_runs_around_an_operation_and_its_error_stops_take(void **state)
{
    struct fixture *f = fixture_new(8, true);
    struct dt_dom *dom = NULL;

    pthread_mutex_lock(&f->t.lock);
    add(f, UUID_A, 1, DM_STATE_RUNNING);
    assert_null(domtable_take(&f->t, UUID_A, &dom));
    assert_int_equal(f->refreshes, 1);
    domtable_release(&f->t, dom);
    assert_int_equal(f->refreshes, 2);
    f->refresh_fails = true;
    assert_error(domtable_take(&f->t, UUID_A, &dom), DM_ERR_BACKEND_FAILURE);
    assert_false(((struct dt_dom *)hashmap_get(&f->t.domains, UUID_A))->busy);
    pthread_mutex_unlock(&f->t.lock);
    teardown((void **)&f);
    (void)state;
}

static void test_gone_domain_is_destroyed_and_reported_once(void **state)
{
    struct fixture *f = *state;
    struct dm_domain_list l;
    uint64_t g, before;
    bool full;

    pthread_mutex_lock(&f->t.lock);
    struct dt_dom *a = add(f, UUID_A, 3, DM_STATE_SHUTDOWN);
    pthread_mutex_unlock(&f->t.lock);
    domtable_changes(&f->t, 0, &before, &full, &l);
    dm_domain_list_done(&l);

    pthread_mutex_lock(&f->t.lock);
    const struct dm_domain *d = domtable_gone(&f->t, a);
    assert_int_equal(d->state, DM_STATE_DESTROYED);
    assert_int_equal(d->memory_actual, 0);
    assert_int_equal(d->domid, 3);
    assert_int_equal(d->generation, before + 1);
    assert_null(domtable_find(&f->t, UUID_A));
    assert_ptr_equal(domtable_get_destroyed(&f->t, UUID_A), d);
    pthread_mutex_unlock(&f->t.lock);

    domtable_changes(&f->t, before, &g, &full, &l);
    assert_false(full);
    assert_int_equal(g, before + 1);
    assert_int_equal(l.n, 1);
    assert_string_equal(l.v[0].uuid, UUID_A);
    assert_int_equal(l.v[0].state, DM_STATE_DESTROYED);
    dm_domain_list_done(&l);
    domtable_changes(&f->t, g, &g, &full, &l);
    assert_false(full);
    assert_int_equal(l.n, 0);
    dm_domain_list_done(&l);
}

static void test_destroyed_past_the_bound_are_forgotten_oldest_first(void **state)
{
    struct fixture *f = fixture_new(2, false);
    const char *uuids[] = {UUID_A, UUID_B, UUID_C};
    uint64_t gone_at[3], g;
    struct dm_domain_list l;
    bool full;

    pthread_mutex_lock(&f->t.lock);
    for (int i = 0; i < 3; i++)
        add(f, uuids[i], i + 1, DM_STATE_RUNNING);
    for (int i = 0; i < 3; i++)
        gone_at[i] = domtable_gone(&f->t, domtable_find(&f->t, uuids[i]))->generation;
    assert_int_equal(f->t.destroyed.count, 2);
    assert_null(domtable_get_destroyed(&f->t, UUID_A));
    assert_int_equal(f->t.evicted_generation, gone_at[0]);
    pthread_mutex_unlock(&f->t.lock);

    /* A since before the forgotten one's end may have missed it: full. */
    domtable_changes(&f->t, gone_at[0] - 1, &g, &full, &l);
    assert_true(full);
    assert_int_equal(l.n, 2);
    dm_domain_list_done(&l);
    domtable_changes(&f->t, gone_at[1] - 1, &g, &full, &l);
    assert_false(full);
    assert_int_equal(l.n, 2);
    assert_string_equal(l.v[0].uuid, UUID_B); /* by generation */
    assert_string_equal(l.v[1].uuid, UUID_C);
    dm_domain_list_done(&l);
    teardown((void **)&f);
    (void)state;
}

static void test_relisted_domain_forgets_its_destroyed_record(void **state)
{
    struct fixture *f = *state;

    pthread_mutex_lock(&f->t.lock);
    domtable_gone(&f->t, add(f, UUID_A, 1, DM_STATE_RUNNING));
    assert_non_null(domtable_get_destroyed(&f->t, UUID_A));
    add(f, UUID_A, 2, DM_STATE_RUNNING);
    domtable_relisted(&f->t, UUID_A);
    assert_null(domtable_get_destroyed(&f->t, UUID_A));
    pthread_mutex_unlock(&f->t.lock);
}

static void test_changes_since_zero_or_a_future_generation_is_full(void **state)
{
    struct fixture *f = *state;
    struct dm_domain_list l;
    uint64_t g;
    bool full;

    pthread_mutex_lock(&f->t.lock);
    add(f, UUID_A, 1, DM_STATE_RUNNING);
    pthread_mutex_unlock(&f->t.lock);
    domtable_changes(&f->t, 0, &g, &full, &l);
    assert_true(full);
    assert_int_equal(l.n, 1);
    dm_domain_list_done(&l);
    domtable_changes(&f->t, g + 5, &g, &full, &l);
    assert_true(full);
    assert_int_equal(l.n, 1);
    dm_domain_list_done(&l);
}

static void test_list_is_by_domid_without_domains_being_built(void **state)
{
    struct fixture *f = *state;
    struct dm_config cfg = {.name = (char *)"c"};
    struct dm_domain_list l;

    pthread_mutex_lock(&f->t.lock);
    add(f, UUID_A, 9, DM_STATE_RUNNING);
    add(f, UUID_B, 4, DM_STATE_PAUSED);
    domtable_build_start(&f->t, UUID_C, &cfg);
    domtable_list(&f->t, &l);
    pthread_mutex_unlock(&f->t.lock);
    assert_int_equal(l.n, 2);
    assert_int_equal(l.v[0].domid, 4);
    assert_int_equal(l.v[1].domid, 9);
    dm_domain_list_done(&l);
}

static void test_abandoned_build_leaves_no_record(void **state)
{
    struct fixture *f = *state;
    struct dm_config cfg = {.name = (char *)"a", .memory_max = 1, .memory_target = 1};

    pthread_mutex_lock(&f->t.lock);
    struct dt_dom *dom = domtable_build_start(&f->t, UUID_A, &cfg);
    assert_true(dom->busy && dom->building);
    assert_int_equal(dom->d.domid, -1);
    assert_error(domtable_check_new(&f->t, UUID_A), DM_ERR_DOMAIN_EXISTS);
    domtable_build_abandon(&f->t, dom);
    assert_null(domtable_check_new(&f->t, UUID_A));
    assert_int_equal(f->t.domains.count, 0);
    pthread_mutex_unlock(&f->t.lock);
}

static void test_await_returns_the_domain_taken_once_shut_down(void **state)
{
    struct fixture *f = *state;
    struct dt_dom *dom = NULL;

    pthread_mutex_lock(&f->t.lock);
    struct dt_dom *a = add(f, UUID_A, 1, DM_STATE_SHUTDOWN);
    assert_null(domtable_take(&f->t, UUID_A, &dom));
    assert_null(domtable_await_shutdown(&f->t, &dom, now_monotonic() - 1, NULL));
    assert_ptr_equal(dom, a);
    assert_true(a->busy);
    domtable_release(&f->t, a);
    pthread_mutex_unlock(&f->t.lock);
}

static void test_await_past_the_deadline_is_shutdown_timeout_released(void **state)
{
    struct fixture *f = *state;
    struct dt_dom *dom = NULL;

    pthread_mutex_lock(&f->t.lock);
    struct dt_dom *a = add(f, UUID_A, 1, DM_STATE_RUNNING);
    assert_null(domtable_take(&f->t, UUID_A, &dom));
    assert_error(domtable_await_shutdown(&f->t, &dom, now_monotonic() - 1, NULL),
                 DM_ERR_SHUTDOWN_TIMEOUT);
    assert_false(a->busy);
    pthread_mutex_unlock(&f->t.lock);
}

/* The refresh of a backend that sees the domain gone (as xen's does when
 * the operation releases it). */
static struct dm_error *gone_refresh(void *data)
{
    struct fixture *f = data;
    struct dt_dom *dom = hashmap_get(&f->t.domains, UUID_A);

    if (dom && !dom->busy)
        domtable_gone(&f->t, dom);
    return NULL;
}

static void test_await_of_a_domain_destroyed_meanwhile_gives_it(void **state)
{
    struct fixture *f = *state;
    struct dm_domain gone = {0};
    struct dt_dom *dom = NULL;

    pthread_mutex_lock(&f->t.lock);
    add(f, UUID_A, 5, DM_STATE_RUNNING);
    assert_null(domtable_take(&f->t, UUID_A, &dom));
    f->t.refresh = gone_refresh;
    assert_null(domtable_await_shutdown(&f->t, &dom, now_monotonic() + 3600, &gone));
    assert_null(dom);
    assert_string_equal(gone.uuid, UUID_A);
    assert_int_equal(gone.domid, 5);
    assert_int_equal(gone.state, DM_STATE_DESTROYED);
    dm_domain_done(&gone);

    /* Without ret_gone, the caller is told there is no such domain. */
    add(f, UUID_A, 6, DM_STATE_RUNNING);
    f->t.refresh = NULL;
    assert_null(domtable_take(&f->t, UUID_A, &dom));
    f->t.refresh = gone_refresh;
    assert_error(domtable_await_shutdown(&f->t, &dom, now_monotonic() + 3600, NULL),
                 DM_ERR_NO_SUCH_DOMAIN);
    f->t.refresh = NULL;
    pthread_mutex_unlock(&f->t.lock);
}

static void test_await_after_stop_is_backend_failure(void **state)
{
    struct fixture *f = *state;
    struct dt_dom *dom = NULL;

    domtable_stop(&f->t);
    assert_true(events_stopping(&f->events));
    pthread_mutex_lock(&f->t.lock);
    add(f, UUID_A, 1, DM_STATE_RUNNING);
    assert_null(domtable_take(&f->t, UUID_A, &dom));
    assert_error(domtable_await_shutdown(&f->t, &dom, now_monotonic() + 3600, NULL),
                 DM_ERR_BACKEND_FAILURE);
    pthread_mutex_unlock(&f->t.lock);
}

int main(void)
{
#define T(name) cmocka_unit_test_setup_teardown(name, setup, teardown)
    const struct CMUnitTest tests[] = {
        T(test_new_record_has_the_backend_size_zeroed),
        T(test_take_of_unknown_or_building_domain_is_no_such_domain),
        T(test_take_marks_busy_and_release_clears),
        T(test_take_in_wrong_state_is_bad_state_and_releases),
        T(test_gone_domain_is_destroyed_and_reported_once),
        T(test_relisted_domain_forgets_its_destroyed_record),
        T(test_changes_since_zero_or_a_future_generation_is_full),
        T(test_list_is_by_domid_without_domains_being_built),
        T(test_abandoned_build_leaves_no_record),
        T(test_await_returns_the_domain_taken_once_shut_down),
        T(test_await_past_the_deadline_is_shutdown_timeout_released),
        T(test_await_of_a_domain_destroyed_meanwhile_gives_it),
        T(test_await_after_stop_is_backend_failure),
        cmocka_unit_test(test_refresh_runs_around_an_operation_and_its_error_stops_take),
        cmocka_unit_test(test_destroyed_past_the_bound_are_forgotten_oldest_first),
    };
    log_set_level("*", "warn");
    return cmocka_run_group_tests(tests, NULL, NULL);
}
