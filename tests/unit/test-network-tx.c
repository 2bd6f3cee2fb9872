/* Tests of xapi's side of networking that need no networkd
 * (xapi-c/network.c): a change that networkd does not take is undone in
 * the database, exactly; bridge and bond names are allocated first free;
 * interface names and MACs are checked as networkd checks them; and the
 * "nics" a VM's domain gets from its VIFs. On a memory-only database,
 * with no networkd (every sync fails, so every commit must undo). */
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
#include "xapi-c/config.h"
#include "xapi-c/db.h"
#include "xapi-c/network.h"

static int setup(void **state)
{
    (void)state;
    log_set_level("*", "err");
    snprintf(xapi_state.host_ref, sizeof(xapi_state.host_ref), "OpaqueRef:host");
    network_init(NULL, NULL, NULL);
    return db_open(NULL);
}

static int teardown(void **state)
{
    (void)state;
    network_shutdown();
    db_close();
    return 0;
}

/* A row of cls with fields set from name/value pairs (NULL ends). */
static void make(int cls, char ref[64], ...)
{
    va_list ap;
    char **v = api_new_row(cls, ref);
    va_start(ap, ref);
    for (const char *f; (f = va_arg(ap, const char *));)
        api_set_val(v, model_field_by_name(&model_classes[cls], f), va_arg(ap, const char *));
    va_end(ap);
    struct changeset *cs = changeset_new();
    changeset_create(cs, cls, ref, v);
    db_wrlock();
    assert_int_equal(db_apply(cs), 0);
    db_unlock();
    changeset_free(cs);
}

static char *field(int cls, const char *ref, const char *name)
{
    db_rdlock();
    const struct row *r = db_get(cls, ref);
    char *v = r ? xstrdup(r->v[model_field_by_name(&model_classes[cls], name)]) : NULL;
    db_unlock();
    return v;
}

static void test_a_refused_change_is_undone_exactly(void **state)
{
    (void)state;
    char net[64], pif[64], fresh[64];
    make(C_network, net, "name_label", "before", "bridge", "xenbr0", NULL);
    make(C_PIF, pif, "device", "eth0", "network", net, "host", "OpaqueRef:host", "MAC",
         "02:00:00:00:00:01", "IP", "10.0.0.2", NULL);
    char *uuid = field(C_PIF, pif, "uuid");

    struct net_tx *tx = net_tx_new();
    db_wrlock();
    char **v = api_new_row(C_network, fresh);
    net_tx_create(tx, C_network, fresh, v);
    net_tx_set(tx, db_get(C_network, net), FIDX(network, name_label), "after");
    net_tx_set(tx, db_get(C_network, net), FIDX(network, name_label), "after again");
    net_tx_delete(tx, db_get(C_PIF, pif));
    assert_null(net_tx_apply(tx));
    db_unlock();
    char *label = field(C_network, net, "name_label");
    assert_string_equal(label, "after again");
    free(label);
    assert_null(field(C_PIF, pif, "device"));

    struct api_error *e = net_tx_commit(tx); /* no networkd: refused */
    assert_non_null(e);
    assert_string_equal(e->code, "INTERNAL_ERROR");
    api_error_free(e);
    assert_null(field(C_network, fresh, "uuid"));
    label = field(C_network, net, "name_label");
    assert_string_equal(label, "before");
    free(label);
    char *back = field(C_PIF, pif, "uuid"), *ip = field(C_PIF, pif, "IP");
    assert_string_equal(back, uuid);
    assert_string_equal(ip, "10.0.0.2");
    free(back);
    free(ip);
    free(uuid);
}

static void test_names_are_allocated_first_free(void **state)
{
    (void)state;
    char r[64], name[16];
    make(C_network, r, "bridge", "xapi0", NULL);
    make(C_network, r, "bridge", "xapi2", NULL);
    make(C_PIF, r, "device", "bond0", "host", "OpaqueRef:host", NULL);
    db_rdlock();
    network_free_name("xapi", name);
    assert_string_equal(name, "xapi1");
    network_free_name("bond", name);
    assert_string_equal(name, "bond1");
    network_free_name("xenbr", name);
    assert_string_equal(name, "xenbr0");
    db_unlock();
}

static void test_names_and_macs_are_checked(void **state)
{
    (void)state;
    assert_true(network_valid_ifname("xenbr0"));
    assert_true(network_valid_ifname("a.b-c_d"));
    assert_false(network_valid_ifname(""));
    assert_false(network_valid_ifname("0123456789abcdef"));
    assert_false(network_valid_ifname("a/b"));
    assert_false(network_valid_ifname(".."));
    assert_true(network_valid_mac("02:00:5e:10:00:01"));
    assert_true(network_valid_mac("AA:bb:CC:00:11:22"));
    assert_false(network_valid_mac("01:00:5e:10:00:01")); /* multicast */
    assert_false(network_valid_mac("02:00:5e:10:00"));
    assert_false(network_valid_mac("02:00:5e:10:00:0g"));
    assert_false(network_valid_mac("02-00-5e-10-00-01"));
    assert_false(network_valid_mac("02:00:5e:10:00:012"));
}

static void test_a_vms_vifs_become_domaind_nics(void **state)
{
    (void)state;
    char vm[64], other[64], net[64], r[64];
    make(C_VM, vm, NULL);
    make(C_VM, other, NULL);
    make(C_network, net, "bridge", "xapi3", "MTU", "9000", NULL);
    make(C_VIF, r, "VM", vm, "network", net, "device", "2", "MAC", "02:00:00:00:00:02", NULL);
    make(C_VIF, r, "VM", other, "network", net, "device", "0", "MAC", "02:00:00:00:00:03", NULL);
    json_object *nics = network_vm_nics(vm);
    assert_int_equal(json_object_array_length(nics), 1);
    assert_string_equal(
        json_object_to_json_string_ext(json_object_array_get_idx(nics, 0), JSON_C_TO_STRING_PLAIN),
        "{\"devid\":2,\"mac\":\"02:00:00:00:00:02\",\"bridge\":\"xapi3\","
        "\"mtu\":9000}");
    json_object_put(nics);
    /* without networkd the VIFs stay detached: nothing claims a port */
    assert_null(network_vm_plug(vm));
    char *att = field(C_VIF, r, "currently_attached");
    assert_string_equal(att, "false");
    free(att);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_a_refused_change_is_undone_exactly, setup, teardown),
        cmocka_unit_test_setup_teardown(test_names_are_allocated_first_free, setup, teardown),
        cmocka_unit_test_setup_teardown(test_names_and_macs_are_checked, setup, teardown),
        cmocka_unit_test_setup_teardown(test_a_vms_vifs_become_domaind_nics, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
