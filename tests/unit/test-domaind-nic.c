/* Unit tests of the nic checks both domaind backends apply to
 * domain/nic_attach (hypervisor/nic.c): a complete nic accepted with its
 * devid, each member refused for its type or range (naming it), an
 * unknown member and a missing devid refused, and a nic found by its
 * devid or, without one, by its index as in domain/create. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "hypervisor/nic.h"

/* Checks the nic given as JSON text; returns the error's parameter (the
 * message, to be freed) or NULL when accepted (devid in *devid). */
static char *check(const char *text, int *devid)
{
    json_object *o = json_tokener_parse(text);
    assert_non_null(o);
    struct dm_error *e = dm_nic_check(o, "nic", devid);
    json_object_put(o);
    if (!e)
        return NULL;
    assert_int_equal(e->code, DM_ERR_INVALID_PARAMS);
    char *msg = strdup(e->params[0]);
    dm_error_free(e);
    return msg;
}

static void refused_naming(const char *text, const char *what)
{
    int devid = -7;
    char *msg = check(text, &devid);
    assert_non_null(msg);
    assert_non_null(strstr(msg, what));
    assert_int_equal(devid, -7); /* written only on success */
    free(msg);
}

static void test_a_complete_nic_is_accepted(void **state)
{
    (void)state;
    int devid = -1;
    assert_null(check("{\"devid\": 3, \"mac\": \"00:16:3E:aa:bb:cc\", \"bridge\": \"xenbr0\","
                      " \"mtu\": 9000, \"script\": \"vif-openvswitch\"}",
                      &devid));
    assert_int_equal(devid, 3);
    assert_null(check("{\"devid\": 1023}", &devid));
    assert_int_equal(devid, 1023);
}

static void test_devid_is_required_and_in_range(void **state)
{
    (void)state;
    refused_naming("{}", "nic.devid");
    refused_naming("{\"devid\": -1}", "nic.devid");
    refused_naming("{\"devid\": 1024}", "nic.devid");
    refused_naming("{\"devid\": \"1\"}", "nic.devid");
}

static void test_a_bad_member_is_named(void **state)
{
    (void)state;
    refused_naming("{\"devid\": 0, \"mac\": \"01:00:5e:00:00:01\"}", "nic.mac"); /* group */
    refused_naming("{\"devid\": 0, \"mac\": \"00:16:3e:aa:bb\"}", "nic.mac");
    refused_naming("{\"devid\": 0, \"mac\": \"00-16-3e-aa-bb-cc\"}", "nic.mac");
    refused_naming("{\"devid\": 0, \"mac\": 5}", "nic.mac");
    refused_naming("{\"devid\": 0, \"bridge\": \"\"}", "nic.bridge");
    refused_naming("{\"devid\": 0, \"bridge\": \"a-name-too-long-\"}", "nic.bridge");
    refused_naming("{\"devid\": 0, \"bridge\": \"br 0\"}", "nic.bridge");
    refused_naming("{\"devid\": 0, \"mtu\": 67}", "nic.mtu");
    refused_naming("{\"devid\": 0, \"mtu\": 65536}", "nic.mtu");
    refused_naming("{\"devid\": 0, \"script\": \"\"}", "nic.script");
    refused_naming("{\"devid\": 0, \"model\": \"e1000\"}", "nic.model");
    refused_naming("[0]", "nic");
}

static void test_nics_are_found_by_devid_or_index(void **state)
{
    (void)state;
    json_object *nics = json_tokener_parse("[{\"mac\": \"00:16:3e:00:00:01\"},"
                                           " {\"devid\": 5}, {}]");
    assert_non_null(nics);
    assert_ptr_equal(dm_nics_find(nics, 0), json_object_array_get_idx(nics, 0));
    assert_ptr_equal(dm_nics_find(nics, 5), json_object_array_get_idx(nics, 1));
    assert_ptr_equal(dm_nics_find(nics, 2), json_object_array_get_idx(nics, 2));
    assert_null(dm_nics_find(nics, 1)); /* index 1 has a devid of its own */
    assert_null(dm_nics_find(NULL, 0));
    json_object_put(nics);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_a_complete_nic_is_accepted),
        cmocka_unit_test(test_devid_is_required_and_in_range),
        cmocka_unit_test(test_a_bad_member_is_named),
        cmocka_unit_test(test_nics_are_found_by_devid_or_index),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
