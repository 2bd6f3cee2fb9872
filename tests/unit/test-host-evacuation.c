/* Tests of the host evacuation plan (xapi-c/api/host_power.c,
 * host_plan_compute) on pools that the integration tests cannot make yet:
 * which hosts take VMs (enabled, live, not the one evacuated), where each
 * VM goes (the most free memory: total less what runs there), the errors of VMs that cannot go, and
 * that the control domain never moves. On a memory-only database. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "lib/log.h"
#include "lib/util.h"
#include "xapi-c/api.h"
#include "xapi-c/api/host.h"
#include "xapi-c/config.h"
#include "xapi-c/db.h"

#define GIB "1073741824"

static void apply(struct changeset *cs)
{
    db_wrlock();
    assert_int_equal(db_apply(cs), 0);
    db_unlock();
    changeset_free(cs);
}

/* A host, enabled or not, with metrics saying live and memory_total. */
static void make_host(char ref[64], bool enabled, bool live, const char *memory_total)
{
    char mref[64];
    char **h = api_new_row(C_host, ref);
    char **m = api_new_row(C_host_metrics, mref);
    api_set_val(h, FIDX(host, enabled), enabled ? "true" : "false");
    api_set_val(h, FIDX(host, metrics), mref);
    api_set_val(m, FIDX(host_metrics, live), live ? "true" : "false");
    api_set_val(m, FIDX(host_metrics, memory_total), memory_total);
    struct changeset *cs = changeset_new();
    changeset_create(cs, C_host_metrics, mref, m);
    changeset_create(cs, C_host, ref, h);
    apply(cs);
}

/* A VM resident on host with memory_static_max bytes. */
static void make_vm(char ref[64], const char *host, const char *memory, bool control)
{
    char **v = api_new_row(C_VM, ref);
    api_set_val(v, FIDX(VM, resident_on), host);
    api_set_val(v, FIDX(VM, power_state), "Running");
    api_set_val(v, FIDX(VM, memory_static_max), memory);
    api_set_val(v, FIDX(VM, is_control_domain), control ? "true" : "false");
    struct changeset *cs = changeset_new();
    changeset_create(cs, C_VM, ref, v);
    apply(cs);
}

static struct host_plan plan_of(const char *host)
{
    struct host_plan p;
    db_rdlock();
    host_plan_compute(host, &p);
    db_unlock();
    return p;
}

static const struct host_plan_entry *entry(const struct host_plan *p, const char *vm)
{
    for (size_t i = 0; i < p->n; i++)
        if (streq(p->v[i].vm, vm))
            return &p->v[i];
    fail_msg("no plan for %s", vm);
    return NULL;
}

/* The entry's error as "CODE p1 ...", or "" when it moves. */
static void assert_why(const struct host_plan_entry *pe, const char *code, const char *param)
{
    assert_non_null(pe->why);
    assert_string_equal(pe->why->code, code);
    assert_int_equal(pe->why->n, 1);
    assert_string_equal(pe->why->params[0], param);
    assert_string_equal(pe->target, "");
}

static int setup(void **state)
{
    (void)state;
    log_set_level("*", "err");
    return db_open(NULL);
}

static int teardown(void **state)
{
    (void)state;
    db_close();
    return 0;
}

static void test_a_lone_host_has_nowhere_to_send_its_vms(void **state)
{
    (void)state;
    char h[64], vm[64], dom0[64];
    make_host(h, true, true, GIB);
    make_vm(vm, h, "268435456", false);
    make_vm(dom0, h, GIB, true);
    struct host_plan p = plan_of(h);
    assert_int_equal(p.n, 1); /* the control domain never moves */
    assert_why(entry(&p, vm), "NO_HOSTS_AVAILABLE", vm);
    host_plan_done(&p);
}

static void test_disabled_or_dead_hosts_take_nothing(void **state)
{
    (void)state;
    char h[64], off[64], dead[64], vm[64];
    make_host(h, true, true, GIB);
    make_host(off, false, true, GIB);
    make_host(dead, true, false, GIB);
    make_vm(vm, h, "268435456", false);
    struct host_plan p = plan_of(h);
    assert_why(entry(&p, vm), "NO_HOSTS_AVAILABLE", vm);
    host_plan_done(&p);
}

static void test_vms_go_where_most_memory_is_free(void **state)
{
    (void)state;
    char h[64], small[64], big[64], a[64], b[64], c[64];
    make_host(h, false, true, "0");            /* the host evacuated is disabled, as XO does */
    make_host(small, true, true, "805306368"); /* 768 MiB, none used */
    make_host(big, true, true, GIB);
    make_vm(a, h, "629145600", false); /* 600 MiB */
    make_vm(b, h, "629145600", false);
    make_vm(c, h, "629145600", false);
    struct host_plan p = plan_of(h);
    assert_int_equal(p.n, 3);
    /* 1 GiB and 768 MiB free: the first VM of 600 MiB goes to the larger,
     * which then has less free than the other, where the second goes; the
     * third fits nowhere. */
    int to_big = 0, to_small = 0, stuck = 0;
    const char *vms[] = {a, b, c};
    for (size_t i = 0; i < 3; i++) {
        const struct host_plan_entry *pe = entry(&p, vms[i]);
        if (pe->why) {
            assert_why(pe, "HOST_NOT_ENOUGH_FREE_MEMORY", vms[i]);
            stuck++;
        } else if (streq(pe->target, big))
            to_big++;
        else if (streq(pe->target, small))
            to_small++;
        else
            fail_msg("%s planned to %s", vms[i], pe->target);
    }
    assert_int_equal(to_big, 1);
    assert_int_equal(to_small, 1);
    assert_int_equal(stuck, 1);
    host_plan_done(&p);
}

static void test_what_a_target_runs_is_not_free(void **state)
{
    (void)state;
    char h[64], other[64], vm[64], there[64];
    make_host(h, true, true, GIB);
    make_host(other, true, true, GIB);
    make_vm(there, other, "536870912", false); /* half of other's memory */
    make_vm(vm, h, "629145600", false);        /* 600 MiB: more than the rest */
    struct host_plan p = plan_of(h);
    assert_why(entry(&p, vm), "HOST_NOT_ENOUGH_FREE_MEMORY", vm);
    host_plan_done(&p);
}

static void test_vms_of_other_hosts_are_not_planned(void **state)
{
    (void)state;
    char h[64], other[64], mine[64], theirs[64];
    make_host(h, true, true, GIB);
    make_host(other, true, true, GIB);
    make_vm(mine, h, "268435456", false);
    make_vm(theirs, other, "268435456", false);
    struct host_plan p = plan_of(h);
    assert_int_equal(p.n, 1);
    assert_null(entry(&p, mine)->why);
    assert_string_equal(entry(&p, mine)->target, other);
    host_plan_done(&p);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_a_lone_host_has_nowhere_to_send_its_vms, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_disabled_or_dead_hosts_take_nothing, setup, teardown),
        cmocka_unit_test_setup_teardown(test_vms_go_where_most_memory_is_free, setup, teardown),
        cmocka_unit_test_setup_teardown(test_what_a_target_runs_is_not_free, setup, teardown),
        cmocka_unit_test_setup_teardown(test_vms_of_other_hosts_are_not_planned, setup, teardown),
    };
    model_init();
    return cmocka_run_group_tests(tests, NULL, NULL);
}
