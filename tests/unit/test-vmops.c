/* Tests of the VM power-state machine (xapi-c/vmops.c): which operations a
 * VM allows in each state, the refusals with their exact parameters, the
 * current_operations lock, and how a domain's state is recorded. On a
 * memory-only database. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "lib/log.h"
#include "lib/strlist.h"
#include "lib/util.h"
#include "xapi-c/api.h"
#include "xapi-c/config.h"
#include "xapi-c/db.h"
#include "xapi-c/vmops.h"

static char vm[64];

/* A VM in the given power state with the given flag fields. */
static void make_vm(const char *power, const char *field, const char *value)
{
    char mref[64];
    char **v = api_new_row(C_VM, vm);
    char **m = api_new_row(C_VM_metrics, mref);
    api_set_val(v, FIDX(VM, power_state), power);
    api_set_val(v, FIDX(VM, metrics), mref);
    if (field)
        api_set_val(v, model_field_by_name(&model_classes[C_VM], field), value);
    struct changeset *cs = changeset_new();
    changeset_create(cs, C_VM_metrics, mref, m);
    changeset_create(cs, C_VM, vm, v);
    db_wrlock();
    assert_int_equal(db_apply(cs), 0);
    db_unlock();
    changeset_free(cs);
}

static int setup(void **state)
{
    (void)state;
    log_set_level("*", "err");
    snprintf(xapi_state.host_ref, sizeof(xapi_state.host_ref), "OpaqueRef:host");
    return db_open(NULL);
}

static int teardown(void **state)
{
    (void)state;
    db_close();
    return 0;
}

/* Checks op on the VM; the error as "CODE p1 p2 ..." or "" when allowed. */
static char *check(const char *op)
{
    db_rdlock();
    struct api_error *e = vmops_check(vm, op);
    db_unlock();
    if (!e)
        return xstrdup("");
    struct strbuf sb;
    strbuf_init(&sb, 64);
    strbuf_adds(&sb, e->code);
    for (size_t i = 0; i < e->n; i++) {
        strbuf_addc(&sb, ' ');
        strbuf_adds(&sb, streq(e->params[i], vm) ? "VM" : e->params[i]);
    }
    api_error_free(e);
    return strbuf_detach(&sb, NULL);
}

#define assert_check(op, want)                                                                     \
    do {                                                                                           \
        char *got_ = check(op);                                                                    \
        assert_string_equal(got_, want);                                                           \
        free(got_);                                                                                \
    } while (0)

static void test_halted_vm_may_start_but_not_shut_down(void **state)
{
    (void)state;
    make_vm("Halted", NULL, NULL);
    assert_check("start", "");
    assert_check("clean_shutdown", "VM_BAD_POWER_STATE VM running halted");
}

static void test_expected_states_are_listed_in_lower_case(void **state)
{
    (void)state;
    make_vm("Halted", NULL, NULL);
    assert_check("hard_shutdown", "VM_BAD_POWER_STATE VM paused, running, suspended halted");
}

static void test_running_vm_may_not_be_destroyed(void **state)
{
    (void)state;
    make_vm("Running", NULL, NULL);
    assert_check("destroy", "VM_BAD_POWER_STATE VM halted, suspended running");
    assert_check("pause", "");
}

static void test_suspended_vm_may_resume(void **state)
{
    (void)state;
    make_vm("Suspended", NULL, NULL);
    assert_check("resume", "");
    assert_check("unpause", "VM_BAD_POWER_STATE VM paused suspended");
}

static void test_template_may_not_start_but_may_be_cloned(void **state)
{
    (void)state;
    make_vm("Halted", "is_a_template", "true");
    assert_check("start", "VM_IS_TEMPLATE VM start");
    assert_check("clone", "");
    assert_check("destroy", "");
}

static void test_snapshot_may_not_start(void **state)
{
    (void)state;
    make_vm("Halted", "is_a_snapshot", "true");
    assert_check("start", "VM_IS_SNAPSHOT VM start");
}

static void test_control_domain_is_not_operated(void **state)
{
    (void)state;
    make_vm("Running", "is_control_domain", "true");
    assert_check("clean_shutdown",
                 "OPERATION_NOT_ALLOWED This operation is not allowed on the control domain");
}

static void test_blocked_operation_is_refused_with_its_reason(void **state)
{
    (void)state;
    make_vm("Halted", "blocked_operations", "{\"start\":\"maintenance\"}");
    assert_check("start", "OPERATION_BLOCKED VM maintenance");
    assert_check("destroy", "");
}

static void test_an_operation_in_progress_locks_the_vm(void **state)
{
    (void)state;
    make_vm("Halted", NULL, NULL);
    struct api_error *e = vmops_begin(vm, "start", "OpaqueRef:task1");
    assert_null(e);
    assert_check("destroy", "OTHER_OPERATION_IN_PROGRESS VM VM start OpaqueRef:task1");
    db_rdlock();
    const struct row *r = db_get(C_VM, vm);
    assert_string_equal(r->v[FIDX(VM, allowed_operations)], "[]");
    assert_string_equal(r->v[FIDX(VM, current_operations)], "{\"OpaqueRef:task1\":\"start\"}");
    db_unlock();
    vmops_end(vm, "OpaqueRef:task1");
    assert_check("destroy", "");
    db_rdlock();
    r = db_get(C_VM, vm);
    assert_string_equal(r->v[FIDX(VM, current_operations)], "{}");
    assert_true(strlist_contains(r->v[FIDX(VM, allowed_operations)], "start"));
    assert_false(strlist_contains(r->v[FIDX(VM, allowed_operations)], "clean_shutdown"));
    db_unlock();
}

static void test_recording_a_running_domain(void **state)
{
    (void)state;
    make_vm("Halted", NULL, NULL);
    json_object *dom = json_tokener_parse("{\"state\":\"running\",\"domid\":7,"
                                          "\"memory_actual\":1048576,\"vcpus\":2,\"type\":\"pv\"}");
    vmops_record(vm, dom);
    json_object_put(dom);
    db_rdlock();
    const struct row *r = db_get(C_VM, vm);
    assert_string_equal(r->v[FIDX(VM, power_state)], "Running");
    assert_string_equal(r->v[FIDX(VM, domid)], "7");
    assert_string_equal(r->v[FIDX(VM, resident_on)], "OpaqueRef:host");
    const struct row *m = db_get(C_VM_metrics, r->v[FIDX(VM, metrics)]);
    assert_string_equal(m->v[FIDX(VM_metrics, memory_actual)], "1048576");
    assert_string_equal(m->v[FIDX(VM_metrics, VCPUs_number)], "2");
    assert_true(strlist_contains(r->v[FIDX(VM, allowed_operations)], "clean_shutdown"));
    db_unlock();
}

static void test_recording_no_domain_halts_the_vm(void **state)
{
    (void)state;
    make_vm("Running", "domid", "3");
    vmops_record(vm, NULL);
    db_rdlock();
    const struct row *r = db_get(C_VM, vm);
    assert_string_equal(r->v[FIDX(VM, power_state)], "Halted");
    assert_string_equal(r->v[FIDX(VM, domid)], "-1");
    assert_string_equal(r->v[FIDX(VM, resident_on)], "OpaqueRef:NULL");
    db_unlock();
}

static void test_recording_suspended(void **state)
{
    (void)state;
    make_vm("Running", NULL, NULL);
    vmops_record_suspended(vm);
    assert_check("resume", "");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_halted_vm_may_start_but_not_shut_down, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_expected_states_are_listed_in_lower_case, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_running_vm_may_not_be_destroyed, setup, teardown),
        cmocka_unit_test_setup_teardown(test_suspended_vm_may_resume, setup, teardown),
        cmocka_unit_test_setup_teardown(test_template_may_not_start_but_may_be_cloned, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_snapshot_may_not_start, setup, teardown),
        cmocka_unit_test_setup_teardown(test_control_domain_is_not_operated, setup, teardown),
        cmocka_unit_test_setup_teardown(test_blocked_operation_is_refused_with_its_reason, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_an_operation_in_progress_locks_the_vm, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_recording_a_running_domain, setup, teardown),
        cmocka_unit_test_setup_teardown(test_recording_no_domain_halts_the_vm, setup, teardown),
        cmocka_unit_test_setup_teardown(test_recording_suspended, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
