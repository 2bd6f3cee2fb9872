/* Unit tests of the xe command table (xapi-c/cli/commands.c and every table
 * it joins: ops.c, storage_ops.c, network_ops.c, snapshot_ops.c, ...): that
 * no name is there twice (a second entry would be shadowed without a word), that
 * the table is sorted for the lookup, that every message an entry names is
 * one of the API's, that every entry has a function and help text and
 * well-formed parameter lists, that the enums the network commands parse
 * exist, and that the commands of the fourth round take XCP's parameters
 * (cli_frontend.ml) and are flagged as XCP flags them. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/util.h"
#include "xapi-c/api.h"
#include "xapi-c/cli/cli.h"
#include "xapi-c/model.h"

static int setup(void **state)
{
    (void)state;
    model_init();
    api_init();
    cli_init();
    return 0;
}

static void test_names_are_sorted_and_unique(void **state)
{
    size_t n;
    const struct cli_cmd *const *cmds = cli_commands(&n);

    (void)state;
    assert_true(n > 100);
    for (size_t i = 1; i < n; i++)
        if (strcmp(cmds[i - 1]->name, cmds[i]->name) >= 0)
            fail_msg("%s is listed before %s", cmds[i - 1]->name, cmds[i]->name);
}

static void test_every_entry_is_complete(void **state)
{
    size_t n;
    const struct cli_cmd *const *cmds = cli_commands(&n);

    (void)state;
    for (size_t i = 0; i < n; i++) {
        const struct cli_cmd *c = cmds[i];
        if (!c->fn || !c->help || !*c->help)
            fail_msg("%s has no function or no help", c->name);
        if (strchr(c->name, '=') || strchr(c->name, ' '))
            fail_msg("bad command name '%s'", c->name);
        for (int list = 0; list < 2; list++)
            for (const char *const *p = list ? c->opt : c->reqd; p && *p; p++)
                if (!**p || strchr(*p, ' ') || strchr(*p, ','))
                    fail_msg("%s has a bad parameter name '%s'", c->name, *p);
        if (c->message && !api_find_method(c->message))
            fail_msg("%s names %s, which the API does not have", c->name, c->message);
    }
}

static void test_parsed_enums_exist(void **state)
{
    static const char *const enums[] = {
        "ip_configuration_mode",       "ipv6_configuration_mode",     "primary_address_type",
        "vif_ipv4_configuration_mode", "vif_ipv6_configuration_mode", "bond_mode"};
    (void)state;
    for (size_t i = 0; i < ELEMENTSOF(enums); i++)
        if (!model_enum_by_name(enums[i]))
            fail_msg("no enum %s", enums[i]);
    /* bond-create's modes are hand-listed: they must be the model's. */
    const struct enum_desc *en = model_enum_by_name("bond_mode");
    assert_int_equal(en->n_values, 3);
    assert_string_equal(en->values[0], "balance-slb");
    assert_string_equal(en->values[1], "active-backup");
    assert_string_equal(en->values[2], "lacp");
}

/* "a,b,c" of a NULL-terminated list. */
static void join(char *buf, size_t len, const char *const *l)
{
    buf[0] = '\0';
    for (; l && *l; l++)
        snprintf(buf + strlen(buf), len - strlen(buf), "%s%s", buf[0] ? "," : "", *l);
}

static void test_fourth_round_commands_take_xcps_parameters(void **state)
{
    static const struct {
        const char *name, *reqd, *opt;
        unsigned flags;
    } want[] = {
        {"network-create", "name-label", "name-description,MTU,bridge,managed", 0},
        {"pif-reconfigure-ip", "uuid,mode", "IP,netmask,gateway,DNS", 0},
        {"pif-reconfigure-ipv6", "uuid,mode", "IPv6,gateway,DNS", 0},
        {"pif-set-primary-address-type", "uuid,primary_address_type", "", 0},
        {"pif-introduce", "host-uuid,device", "mac,managed", 0},
        {"pif-db-forget", "uuid", "", CMD_HIDDEN},
        {"vlan-create", "pif-uuid,vlan,network-uuid", "", 0},
        {"pool-vlan-create", "pif-uuid,vlan,network-uuid", "", 0},
        {"bond-create", "network-uuid,pif-uuids", "mac,mode,properties:", 0},
        {"bond-set-mode", "uuid,mode", "", 0},
        {"vif-create", "device,network-uuid,vm-uuid", "mac", 0},
        {"vif-move", "uuid,network-uuid", "", 0},
        {"vif-configure-ipv4", "uuid,mode", "address,gateway", 0},
        {"vif-configure-ipv6", "uuid,mode", "address,gateway", 0},
        {"vm-vif-list", "", "", CMD_STANDARD | CMD_VM_SEL},
        {"host-management-reconfigure", "pif-uuid", "", 0},
        {"host-management-disable", "", "", 0},
        {"pool-management-reconfigure", "network-uuid", "", 0},
        {"vm-checkpoint", "new-name-label", "new-name-description", CMD_STANDARD | CMD_VM_SEL},
        {"snapshot-uninstall", "", "uuid,snapshot-uuid,force", CMD_STANDARD},
        {"snapshot-disk-list", "", "uuid,snapshot-uuid,vbd-params,vdi-params",
         CMD_STANDARD | CMD_VM_SEL},
        {"snapshot-clone", "new-name-label", "uuid,new-name-description", CMD_STANDARD},
        {"snapshot-copy", "new-name-label", "uuid,new-name-description,sr-uuid", CMD_STANDARD},
        {"snapshot-revert", "", "uuid,snapshot-uuid", CMD_STANDARD},
        {"snapshot-destroy", "", "uuid,snapshot-uuid", 0},
        {"snapshot-reset-powerstate", "", "uuid,snapshot-uuid,force", CMD_STANDARD | CMD_VM_SEL},
        {"template-uninstall", "template-uuid", "force", CMD_STANDARD},
        {"host-get-vms-which-prevent-evacuation", "uuid", "", 0},
        {"tunnel-create", "pif-uuid,network-uuid", "protocol", 0},
        {"tunnel-destroy", "uuid", "", 0},
        {"vlan-destroy", "uuid", "", 0},
    };
    char buf[256];

    (void)state;
    for (size_t i = 0; i < ELEMENTSOF(want); i++) {
        const struct cli_cmd *c = cli_find(want[i].name);
        if (!c)
            fail_msg("no command %s", want[i].name);
        join(buf, sizeof(buf), c->reqd);
        if (strcmp(buf, want[i].reqd) != 0)
            fail_msg("%s requires %s, XCP %s", c->name, buf, want[i].reqd);
        join(buf, sizeof(buf), c->opt);
        if (strcmp(buf, want[i].opt) != 0)
            fail_msg("%s takes %s, XCP %s", c->name, buf, want[i].opt);
        assert_int_equal(c->flags, want[i].flags);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_names_are_sorted_and_unique),
        cmocka_unit_test(test_every_entry_is_complete),
        cmocka_unit_test(test_parsed_enums_exist),
        cmocka_unit_test(test_fourth_round_commands_take_xcps_parameters),
    };
    return cmocka_run_group_tests(tests, setup, NULL);
}
