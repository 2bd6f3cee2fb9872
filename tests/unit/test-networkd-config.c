/* Unit tests of networkd's configuration checks (networkd/config.c): every
 * refusal of every change, with the error xapi relies on (XenAPI names
 * where one fits) and the document left as it was; what the accepted
 * changes record; the whole-document check of config/replace and of the
 * file (cfg_rebuild, cfg_load), and the atomic save. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "lib/cleanup.h"
#include "lib/jsonrpc.h"
#include "lib/util.h"
#include "networkd/config.h"

typedef struct jsonrpc_error *(*setter_fn)(json_object *doc, json_object *p,
                                           const struct cfg_check *c);
typedef struct jsonrpc_error *(*remover_fn)(json_object *doc, json_object *p);

/* NICs eth0..eth5 exist. */
static bool nic_exists(const char *name, void *userdata)
{
    (void)userdata;
    return strlen(name) == 4 && strncmp(name, "eth", 3) == 0 && name[3] >= '0' && name[3] <= '5';
}

static const struct cfg_check check = {.nic_exists = nic_exists};

static json_object *parse(const char *text)
{
    json_object *o = json_tokener_parse(text);
    if (!o)
        fail_msg("not JSON: %s", text);
    return o;
}

static struct jsonrpc_error *run(json_object *doc, setter_fn set, remover_fn rm, const char *params)
{
    json_object *p = parse(params);
    struct jsonrpc_error *e = set ? set(doc, p, &check) : rm(doc, p);
    json_object_put(p);
    return e;
}

static void ok(json_object *doc, setter_fn set, remover_fn rm, const char *params)
{
    struct jsonrpc_error *e = run(doc, set, rm, params);
    if (e)
        fail_msg("%s refused: %s %s", params, e->app_code ? e->app_code : "", e->message);
}

/* A host: xenbr0 with eth0 and the VLAN xapi1 (tag 42, a VIF on it),
 * xenbr1 with the bond bond1 of eth2 and eth3, and xenbr0's address. */
static json_object *host_doc(void)
{
    json_object *doc = cfg_new();
    ok(doc, cfg_bridge_set, NULL, "{\"name\": \"xenbr0\"}");
    ok(doc, cfg_bridge_set, NULL, "{\"name\": \"xenbr1\", \"mtu\": 9000}");
    ok(doc, cfg_bridge_set, NULL, "{\"name\": \"xapi5\"}");
    ok(doc, cfg_port_set, NULL, "{\"bridge\": \"xenbr0\", \"name\": \"eth0\"}");
    ok(doc, cfg_bond_set, NULL,
       "{\"bridge\": \"xenbr1\", \"name\": \"bond1\", \"members\": [\"eth2\", \"eth3\"]}");
    ok(doc, cfg_vlan_set, NULL,
       "{\"bridge\": \"xapi1\", \"parent_bridge\": \"xenbr0\", \"tag\": 42}");
    ok(doc, cfg_vif_plug, NULL,
       "{\"bridge\": \"xapi1\", \"name\": \"vif1.0\", \"mac\": \"00:16:3e:00:00:01\"}");
    ok(doc, cfg_ip_set, NULL,
       "{\"interface\": \"xenbr0\", \"ipv4\": {\"mode\": \"dhcp\"}, \"default_gateway\": true}");
    return doc;
}

struct refusal {
    setter_fn set;
    remover_fn rm;
    const char *params;
    const char *code;   /* app code, or NULL for invalid params */
    const char *param0; /* the error's first param, or NULL not to check */
};

#define S(fn, p, code, p0)                                                                         \
    {                                                                                              \
        fn, NULL, p, code, p0                                                                      \
    }
#define R(fn, p, code, p0)                                                                         \
    {                                                                                              \
        NULL, fn, p, code, p0                                                                      \
    }

static const struct refusal refusals[] = {
    /* bridge/set */
    S(cfg_bridge_set, "{}", NULL, NULL),
    S(cfg_bridge_set, "{\"name\": 5}", NULL, NULL),
    S(cfg_bridge_set, "{\"name\": \"\"}", "INVALID_NAME", "name"),
    S(cfg_bridge_set, "{\"name\": \"bad/name\"}", "INVALID_NAME", "name"),
    S(cfg_bridge_set, "{\"name\": \"a-name-of-16-chr\"}", "INVALID_NAME", "name"),
    S(cfg_bridge_set, "{\"name\": \"..\"}", "INVALID_NAME", "name"),
    S(cfg_bridge_set, "{\"name\": \"br 0\"}", "INVALID_NAME", "name"),
    S(cfg_bridge_set, "{\"name\": \"eth0\"}", "NAME_IN_USE", "eth0"),
    S(cfg_bridge_set, "{\"name\": \"xapi1\"}", "NAME_IN_USE", "xapi1"),
    S(cfg_bridge_set, "{\"name\": \"eth2\"}", "NAME_IN_USE", "eth2"),
    S(cfg_bridge_set, "{\"name\": \"xenbr0\", \"mtu\": 67}", "MTU_INVALID", "67"),
    S(cfg_bridge_set, "{\"name\": \"xenbr0\", \"mtu\": 65536}", "MTU_INVALID", "65536"),
    S(cfg_bridge_set, "{\"name\": \"xenbr0\", \"mtu\": \"1500\"}", NULL, NULL),
    S(cfg_bridge_set, "{\"name\": \"xenbr0\", \"fail_mode\": \"open\"}", "INVALID_VALUE",
      "fail_mode"),
    S(cfg_bridge_set, "{\"name\": \"xenbr0\", \"fail_mode\": 1}", "INVALID_VALUE", "fail_mode"),
    S(cfg_bridge_set, "{\"name\": \"xenbr0\", \"external_ids\": []}", NULL, NULL),
    S(cfg_bridge_set, "{\"name\": \"xenbr0\", \"external_ids\": {\"a\": 1}}", NULL, NULL),
    S(cfg_bridge_set, "{\"name\": \"xenbr0\", \"other_config\": {\"a\": null}}", NULL, NULL),
    /* bridge/remove */
    R(cfg_bridge_remove, "{}", NULL, NULL),
    R(cfg_bridge_remove, "{\"name\": \"xenbr0\"}", "PIF_VLAN_STILL_EXISTS", "xenbr0"),
    R(cfg_bridge_remove, "{\"name\": \"xenbr1\"}", "NETWORK_CONTAINS_PIF", "xenbr1"),
    /* port/set */
    S(cfg_port_set, "{\"bridge\": \"xenbr9\", \"name\": \"eth1\"}", "NO_SUCH_BRIDGE", "xenbr9"),
    S(cfg_port_set, "{\"bridge\": \"xapi1\", \"name\": \"eth1\"}", "NO_SUCH_BRIDGE", "xapi1"),
    S(cfg_port_set, "{\"bridge\": \"xenbr0\", \"name\": \"eth2\"}", "PIF_ALREADY_BONDED", "eth2"),
    S(cfg_port_set, "{\"bridge\": \"xenbr0\", \"name\": \"xenbr1\"}", "NAME_IN_USE", "xenbr1"),
    S(cfg_port_set, "{\"bridge\": \"xenbr0\", \"name\": \"eth9\"}", "NO_SUCH_NIC", "eth9"),
    S(cfg_port_set, "{\"bridge\": \"xenbr0\", \"name\": \"e/1\"}", "INVALID_NAME", "name"),
    S(cfg_port_set, "{\"name\": \"eth1\"}", NULL, NULL),
    /* vlan/set */
    S(cfg_vlan_set, "{\"bridge\": \"xapi2\", \"parent_bridge\": \"xenbr0\"}", NULL, NULL),
    S(cfg_vlan_set, "{\"bridge\": \"xapi2\", \"parent_bridge\": \"xenbr0\", \"tag\": \"7\"}", NULL,
      NULL),
    S(cfg_vlan_set, "{\"bridge\": \"xapi2\", \"parent_bridge\": \"xenbr0\", \"tag\": 4095}",
      "VLAN_TAG_INVALID", "4095"),
    S(cfg_vlan_set, "{\"bridge\": \"xapi2\", \"parent_bridge\": \"xenbr0\", \"tag\": -1}",
      "VLAN_TAG_INVALID", "-1"),
    S(cfg_vlan_set, "{\"bridge\": \"xapi2\", \"parent_bridge\": \"xenbr9\", \"tag\": 7}",
      "NO_SUCH_BRIDGE", "xenbr9"),
    S(cfg_vlan_set, "{\"bridge\": \"xapi2\", \"parent_bridge\": \"xenbr0\", \"tag\": 42}",
      "PIF_VLAN_EXISTS", "xenbr0"),
    S(cfg_vlan_set, "{\"bridge\": \"xenbr1\", \"parent_bridge\": \"xenbr0\", \"tag\": 7}",
      "NAME_IN_USE", "xenbr1"),
    S(cfg_vlan_set,
      "{\"bridge\": \"xapi2\", \"parent_bridge\": \"xenbr0\", \"tag\": 7, \"mtu\": 10}",
      "MTU_INVALID", "10"),
    /* vlan/remove */
    R(cfg_vlan_remove, "{}", NULL, NULL),
    R(cfg_vlan_remove, "{\"bridge\": \"xapi1\"}", "NETWORK_CONTAINS_VIF", "xapi1"),
    /* bond/set */
    S(cfg_bond_set,
      "{\"bridge\": \"xenbr9\", \"name\": \"bond2\", \"members\": [\"eth4\", "
      "\"eth5\"]}",
      "NO_SUCH_BRIDGE", "xenbr9"),
    S(cfg_bond_set,
      "{\"bridge\": \"xenbr0\", \"name\": \"bond2\", \"members\": [\"eth4\", "
      "\"eth5\"], \"mode\": \"round-robin\"}",
      "INVALID_VALUE", "mode"),
    S(cfg_bond_set,
      "{\"bridge\": \"xenbr0\", \"name\": \"bond2\", \"members\": [\"eth4\", "
      "\"eth5\"], \"mac\": \"00:11\"}",
      "MAC_INVALID", "00:11"),
    S(cfg_bond_set, "{\"bridge\": \"xenbr0\", \"name\": \"bond2\"}", NULL, NULL),
    S(cfg_bond_set, "{\"bridge\": \"xenbr0\", \"name\": \"bond2\", \"members\": \"eth4\"}", NULL,
      NULL),
    S(cfg_bond_set, "{\"bridge\": \"xenbr0\", \"name\": \"bond2\", \"members\": [\"eth4\"]}",
      "PIF_BOND_NEEDS_MORE_MEMBERS", NULL),
    S(cfg_bond_set, "{\"bridge\": \"xenbr0\", \"name\": \"bond2\", \"members\": [\"eth4\", 5]}",
      NULL, NULL),
    S(cfg_bond_set,
      "{\"bridge\": \"xenbr0\", \"name\": \"bond2\", \"members\": [\"eth4\", \"e 5\"]}",
      "INVALID_NAME", "members"),
    S(cfg_bond_set,
      "{\"bridge\": \"xenbr0\", \"name\": \"bond2\", \"members\": [\"eth4\", \"eth4\"]}",
      "INVALID_VALUE", "members"),
    S(cfg_bond_set,
      "{\"bridge\": \"xenbr0\", \"name\": \"bond2\", \"members\": [\"eth4\", \"eth2\"]}",
      "PIF_ALREADY_BONDED", "eth2"),
    S(cfg_bond_set,
      "{\"bridge\": \"xenbr0\", \"name\": \"bond2\", \"members\": [\"eth4\", \"xapi1\"]}",
      "NAME_IN_USE", "xapi1"),
    S(cfg_bond_set,
      "{\"bridge\": \"xenbr0\", \"name\": \"bond2\", \"members\": [\"eth4\", \"eth8\"]}",
      "NO_SUCH_NIC", "eth8"),
    S(cfg_bond_set,
      "{\"bridge\": \"xenbr0\", \"name\": \"xenbr1\", \"members\": [\"eth4\", \"eth5\"]}",
      "NAME_IN_USE", "xenbr1"),
    S(cfg_bond_set,
      "{\"bridge\": \"xenbr0\", \"name\": \"bond2\", \"members\": [\"eth4\", "
      "\"eth5\"], \"properties\": {\"colour\": \"red\"}}",
      "INVALID_VALUE", "colour"),
    S(cfg_bond_set,
      "{\"bridge\": \"xenbr0\", \"name\": \"bond2\", \"members\": [\"eth4\", "
      "\"eth5\"], \"properties\": {\"hashing_algorithm\": \"dst_mac\"}}",
      "INVALID_VALUE", "hashing_algorithm"),
    S(cfg_bond_set,
      "{\"bridge\": \"xenbr0\", \"name\": \"bond2\", \"members\": [\"eth4\", "
      "\"eth5\"], \"properties\": {\"updelay\": \"-1\"}}",
      "INVALID_VALUE", "updelay"),
    S(cfg_bond_set,
      "{\"bridge\": \"xenbr0\", \"name\": \"bond2\", \"members\": [\"eth4\", "
      "\"eth5\"], \"properties\": {\"miimon\": \"10x\"}}",
      "INVALID_VALUE", "miimon"),
    S(cfg_bond_set,
      "{\"bridge\": \"xenbr0\", \"name\": \"bond2\", \"members\": [\"eth4\", "
      "\"eth5\"], \"properties\": {\"lacp-time\": \"sometimes\"}}",
      "INVALID_VALUE", "lacp-time"),
    S(cfg_bond_set,
      "{\"bridge\": \"xenbr0\", \"name\": \"bond2\", \"members\": [\"eth4\", "
      "\"eth5\"], \"properties\": {\"lacp-fallback-ab\": \"yes\"}}",
      "INVALID_VALUE", "lacp-fallback-ab"),
    S(cfg_bond_set,
      "{\"bridge\": \"xenbr0\", \"name\": \"bond2\", \"members\": [\"eth4\", "
      "\"eth5\"], \"properties\": {\"detect-mode\": \"magic\"}}",
      "INVALID_VALUE", "detect-mode"),
    S(cfg_bond_set,
      "{\"bridge\": \"xenbr0\", \"name\": \"bond2\", \"members\": [\"eth4\", "
      "\"eth5\"], \"properties\": {\"updelay\": 5}}",
      NULL, NULL),
    /* ip/set */
    S(cfg_ip_set, "{\"interface\": \"eth0\"}", "NO_SUCH_BRIDGE", "eth0"),
    S(cfg_ip_set, "{\"interface\": \"xenbr1\", \"dns\": \"1.1.1.1\"}", NULL, NULL),
    S(cfg_ip_set, "{\"interface\": \"xenbr1\", \"dns\": [\"1.1.1\"]}", "PIF_CONFIGURATION_ERROR",
      "xenbr1"),
    S(cfg_ip_set, "{\"interface\": \"xenbr1\", \"dns\": [7]}", "PIF_CONFIGURATION_ERROR", "xenbr1"),
    S(cfg_ip_set, "{\"interface\": \"xenbr1\", \"default_gateway\": \"yes\"}", NULL, NULL),
    S(cfg_ip_set, "{\"interface\": \"xenbr1\", \"ipv4\": \"dhcp\"}", NULL, NULL),
    S(cfg_ip_set, "{\"interface\": \"xenbr1\", \"ipv4\": {}}", "PIF_CONFIGURATION_ERROR", "xenbr1"),
    S(cfg_ip_set, "{\"interface\": \"xenbr1\", \"ipv4\": {\"mode\": \"bootp\"}}",
      "PIF_CONFIGURATION_ERROR", "xenbr1"),
    S(cfg_ip_set, "{\"interface\": \"xenbr1\", \"ipv4\": {\"mode\": \"static\"}}",
      "PIF_CONFIGURATION_ERROR", "xenbr1"),
    S(cfg_ip_set,
      "{\"interface\": \"xenbr1\", \"ipv4\": {\"mode\": \"static\", \"address\": \"10.0.0.300\", "
      "\"netmask\": \"24\"}}",
      "PIF_CONFIGURATION_ERROR", "xenbr1"),
    S(cfg_ip_set,
      "{\"interface\": \"xenbr1\", \"ipv4\": {\"mode\": \"static\", \"address\": \"10.0.0.3\"}}",
      "PIF_CONFIGURATION_ERROR", "xenbr1"),
    S(cfg_ip_set,
      "{\"interface\": \"xenbr1\", \"ipv4\": {\"mode\": \"static\", \"address\": \"10.0.0.3\", "
      "\"netmask\": \"255.0.255.0\"}}",
      "PIF_CONFIGURATION_ERROR", "xenbr1"),
    S(cfg_ip_set,
      "{\"interface\": \"xenbr1\", \"ipv4\": {\"mode\": \"static\", \"address\": \"10.0.0.3\", "
      "\"netmask\": \"33\"}}",
      "PIF_CONFIGURATION_ERROR", "xenbr1"),
    S(cfg_ip_set,
      "{\"interface\": \"xenbr1\", \"ipv4\": {\"mode\": \"static\", \"address\": \"10.0.0.3\", "
      "\"netmask\": \"24\", \"gateway\": \"fd00::1\"}}",
      "PIF_CONFIGURATION_ERROR", "xenbr1"),
    S(cfg_ip_set, "{\"interface\": \"xenbr1\", \"ipv6\": []}", NULL, NULL),
    S(cfg_ip_set, "{\"interface\": \"xenbr1\", \"ipv6\": {\"mode\": \"slaac\"}}",
      "PIF_CONFIGURATION_ERROR", "xenbr1"),
    S(cfg_ip_set,
      "{\"interface\": \"xenbr1\", \"ipv6\": {\"mode\": \"static\", \"address\": \"fd00::2\"}}",
      "PIF_CONFIGURATION_ERROR", "xenbr1"),
    S(cfg_ip_set,
      "{\"interface\": \"xenbr1\", \"ipv6\": {\"mode\": \"static\", \"address\": \"fd00::2/129\"}}",
      "PIF_CONFIGURATION_ERROR", "xenbr1"),
    S(cfg_ip_set,
      "{\"interface\": \"xenbr1\", \"ipv6\": {\"mode\": \"static\", \"address\": \"fd00::2/64\", "
      "\"gateway\": \"10.0.0.1\"}}",
      "PIF_CONFIGURATION_ERROR", "xenbr1"),
    /* vif/plug */
    S(cfg_vif_plug,
      "{\"bridge\": \"xenbr9\", \"name\": \"vif2.0\", \"mac\": "
      "\"00:16:3e:00:00:02\"}",
      "NO_SUCH_BRIDGE", "xenbr9"),
    S(cfg_vif_plug, "{\"bridge\": \"xenbr0\", \"name\": \"vif2.0\"}", "MAC_INVALID", ""),
    S(cfg_vif_plug, "{\"bridge\": \"xenbr0\", \"name\": \"vif2.0\", \"mac\": \"00:16:3e:00:00\"}",
      "MAC_INVALID", "00:16:3e:00:00"),
    S(cfg_vif_plug,
      "{\"bridge\": \"xenbr0\", \"name\": \"vif2.0\", \"mac\": \"00:16:3e:00:00:0g\"}",
      "MAC_INVALID", "00:16:3e:00:00:0g"),
    S(cfg_vif_plug, "{\"bridge\": \"xenbr0\", \"name\": \"eth0\", \"mac\": \"00:16:3e:00:00:02\"}",
      "NAME_IN_USE", "eth0"),
    S(cfg_vif_plug,
      "{\"bridge\": \"xenbr0\", \"name\": \"vif2.0\", \"mac\": "
      "\"00:16:3e:00:00:02\", \"locking_mode\": \"strict\"}",
      "INVALID_VALUE", "locking_mode"),
    S(cfg_vif_plug,
      "{\"bridge\": \"xenbr0\", \"name\": \"vif2.0\", \"mac\": "
      "\"00:16:3e:00:00:02\", \"ipv4_allowed\": [\"10.0.0.1/24\"]}",
      "INVALID_VALUE", "ipv4_allowed"),
    S(cfg_vif_plug,
      "{\"bridge\": \"xenbr0\", \"name\": \"vif2.0\", \"mac\": "
      "\"00:16:3e:00:00:02\", \"ipv4_allowed\": \"10.0.0.1\"}",
      NULL, NULL),
    S(cfg_vif_plug,
      "{\"bridge\": \"xenbr0\", \"name\": \"vif2.0\", \"mac\": "
      "\"00:16:3e:00:00:02\", \"ipv6_allowed\": [\"10.0.0.1\"]}",
      "INVALID_VALUE", "ipv6_allowed"),
    S(cfg_vif_plug,
      "{\"bridge\": \"xenbr0\", \"name\": \"vif2.0\", \"mac\": "
      "\"00:16:3e:00:00:02\", \"qos\": {\"kbps\": -1}}",
      NULL, NULL),
    S(cfg_vif_plug,
      "{\"bridge\": \"xenbr0\", \"name\": \"vif2.0\", \"mac\": "
      "\"00:16:3e:00:00:02\", \"qos\": {\"kbps\": 4294967296}}",
      NULL, NULL),
    S(cfg_vif_plug,
      "{\"bridge\": \"xenbr0\", \"name\": \"vif2.0\", \"mac\": "
      "\"00:16:3e:00:00:02\", \"qos\": 5}",
      NULL, NULL),
    S(cfg_vif_plug,
      "{\"bridge\": \"xenbr0\", \"name\": \"vif2.0\", \"mac\": "
      "\"00:16:3e:00:00:02\", \"mtu\": 70000}",
      "MTU_INVALID", "70000"),
    S(cfg_vif_plug,
      "{\"bridge\": \"xenbr0\", \"name\": \"vif2.0\", \"mac\": "
      "\"00:16:3e:00:00:02\", \"stand_in\": \"veth\"}",
      NULL, NULL),
    S(cfg_vif_plug,
      "{\"bridge\": \"xenbr0\", \"name\": \"vif2.0\", \"mac\": "
      "\"00:16:3e:00:00:02\", \"stand_in\": {\"type\": \"tap\"}}",
      "INVALID_VALUE", "stand_in.type"),
    S(cfg_vif_plug,
      "{\"bridge\": \"xenbr0\", \"name\": \"vif2.0\", \"mac\": "
      "\"00:16:3e:00:00:02\", \"stand_in\": {\"type\": \"veth\"}}",
      "INVALID_NAME", "stand_in.peer"),
    S(cfg_vif_plug,
      "{\"bridge\": \"xenbr0\", \"name\": \"vif2.0\", \"mac\": "
      "\"00:16:3e:00:00:02\", \"stand_in\": {\"type\": \"veth\", \"peer\": "
      "\"vif2.0\"}}",
      "INVALID_NAME", "stand_in.peer"),
    S(cfg_vif_plug,
      "{\"bridge\": \"xenbr0\", \"name\": \"vif2.0\", \"mac\": "
      "\"00:16:3e:00:00:02\", \"stand_in\": {\"type\": \"veth\", \"peer\": "
      "\"p\", \"netns\": \"../x\"}}",
      "INVALID_NAME", "stand_in.netns"),
    S(cfg_vif_plug,
      "{\"bridge\": \"xenbr0\", \"name\": \"vif2.0\", \"mac\": "
      "\"00:16:3e:00:00:02\", \"stand_in\": {\"type\": \"veth\", \"peer\": "
      "\"eth0\"}}",
      "NAME_IN_USE", "eth0"),
    /* removals name what they remove */
    R(cfg_port_remove, "{}", NULL, NULL),
    R(cfg_bond_remove, "{\"name\": 1}", NULL, NULL),
    R(cfg_ip_remove, "{}", NULL, NULL),
    R(cfg_vif_unplug, "{}", NULL, NULL),
};

static void test_every_refusal_names_its_error_and_changes_nothing(void **state)
{
    (void)state;
    for (size_t i = 0; i < ELEMENTSOF(refusals); i++) {
        const struct refusal *t = &refusals[i];
        json_object *doc = host_doc();
        char *before = xstrdup(json_object_to_json_string(doc));
        struct jsonrpc_error *e = run(doc, t->set, t->rm, t->params);
        if (!e)
            fail_msg("accepted: %s", t->params);
        if (t->code) {
            if (e->code != JSONRPC_APP_ERROR || !e->app_code || !streq(e->app_code, t->code))
                fail_msg("%s: %s instead of %s", t->params, e->app_code ? e->app_code : e->message,
                         t->code);
            if (t->param0 && (e->n_app_params < 1 || !streq(e->app_params[0], t->param0)))
                fail_msg("%s: first param %s instead of %s", t->params,
                         e->n_app_params ? e->app_params[0] : "(none)", t->param0);
        } else if (e->code != JSONRPC_INVALID_PARAMS)
            fail_msg("%s: %d %s instead of invalid params", t->params, e->code, e->message);
        if (!streq(json_object_to_json_string(doc), before))
            fail_msg("%s changed the document though refused", t->params);
        jsonrpc_error_free(e);
        free(before);
        json_object_put(doc);
    }
}

static json_object *entry(json_object *doc, const char *section, const char *name)
{
    json_object *e = cfg_entry(doc, section, name);
    if (!e)
        fail_msg("no %s %s", section, name);
    return e;
}

static json_object *get(json_object *o, const char *name)
{
    json_object *v = NULL;
    json_object_object_get_ex(o, name, &v);
    return v;
}

static void test_accepted_changes_are_recorded_with_defaults(void **state)
{
    (void)state;
    json_object *doc = host_doc();
    json_object *br = entry(doc, "bridges", "xenbr0");
    assert_int_equal(json_object_get_int(get(br, "mtu")), 1500);
    assert_string_equal(json_object_get_string(get(br, "fail_mode")), "standalone");
    /* A VLAN takes its parent's MTU, a VIF its bridge's. */
    ok(doc, cfg_vlan_set, NULL,
       "{\"bridge\": \"xapi2\", \"parent_bridge\": \"xenbr1\", \"tag\": 0}");
    assert_int_equal(json_object_get_int(get(entry(doc, "vlans", "xapi2"), "mtu")), 9000);
    ok(doc, cfg_vif_plug, NULL,
       "{\"bridge\": \"xapi2\", \"name\": \"vif2.0\", \"mac\": \"00:16:3E:00:00:02\", "
       "\"ipv4_allowed\": [\"10.0.0.5\"]}");
    json_object *vif = entry(doc, "vifs", "vif2.0");
    assert_int_equal(json_object_get_int(get(vif, "mtu")), 9000);
    assert_string_equal(json_object_get_string(get(vif, "locking_mode")), "network_default");
    assert_int_equal(json_object_array_length(get(vif, "ipv4_allowed")), 1);
    /* The same VLAN again (xapi's retry) is fine; a re-plug too. */
    ok(doc, cfg_vlan_set, NULL,
       "{\"bridge\": \"xapi1\", \"parent_bridge\": \"xenbr0\", \"tag\": 42}");
    ok(doc, cfg_vif_plug, NULL,
       "{\"bridge\": \"xapi1\", \"name\": \"vif1.0\", \"mac\": \"00:16:3e:00:00:01\"}");
    /* A static address with a dotted netmask is kept as a prefix too. */
    ok(doc, cfg_ip_set, NULL,
       "{\"interface\": \"xenbr1\", \"ipv4\": {\"mode\": \"static\", \"address\": \"10.0.0.3\", "
       "\"netmask\": \"255.255.254.0\", \"gateway\": \"10.0.0.1\"}, \"default_gateway\": true}");
    json_object *v4 = get(entry(doc, "ips", "xenbr1"), "ipv4");
    assert_int_equal(json_object_get_int(get(v4, "prefix")), 23);
    /* One default gateway: the newest. */
    assert_true(json_object_get_boolean(get(entry(doc, "ips", "xenbr1"), "default_gateway")));
    assert_false(json_object_get_boolean(get(entry(doc, "ips", "xenbr0"), "default_gateway")));
    /* A standalone port moves into a bond. */
    ok(doc, cfg_bond_set, NULL,
       "{\"bridge\": \"xenbr0\", \"name\": \"bond0\", \"members\": [\"eth0\", \"eth1\"]}");
    assert_null(cfg_entry(doc, "ports", "eth0"));
    assert_string_equal(cfg_name_owner(doc, "eth0"), "bond members");
    /* Removals of what is not there succeed. */
    ok(doc, NULL, cfg_bridge_remove, "{\"name\": \"nosuch\"}");
    ok(doc, NULL, cfg_vlan_remove, "{\"bridge\": \"nosuch\"}");
    /* A bridge removed takes its IP configuration along. */
    ok(doc, NULL, cfg_bridge_remove, "{\"name\": \"xapi5\"}");
    assert_null(cfg_entry(doc, "bridges", "xapi5"));
    json_object_put(doc);
}

static void test_names_and_macs(void **state)
{
    (void)state;
    assert_true(cfg_ifname_valid("xenbr0"));
    assert_true(cfg_ifname_valid("vif12.3"));
    assert_true(cfg_ifname_valid("a-name-of-15ch"));
    assert_true(cfg_ifname_valid("a_name_of_15chr"));
    assert_false(cfg_ifname_valid("a_name_of_16chrs"));
    assert_false(cfg_ifname_valid(""));
    assert_false(cfg_ifname_valid("."));
    assert_false(cfg_ifname_valid("a:b"));
    assert_false(cfg_ifname_valid("a\nb"));
    assert_true(cfg_mac_valid("00:16:3e:AB:cd:ef"));
    assert_false(cfg_mac_valid("00:16:3e:AB:cd:e"));
    assert_false(cfg_mac_valid("00-16-3e-ab-cd-ef"));
    assert_false(cfg_mac_valid("00:16:3e:ab:cd:efa"));
}

static void test_rebuild_replays_a_document_and_refuses_bad_ones(void **state)
{
    (void)state;
    json_object *doc = host_doc(), *out = NULL;
    struct jsonrpc_error *e = cfg_rebuild(doc, &check, &out);
    assert_null(e);
    assert_string_equal(json_object_to_json_string(out), json_object_to_json_string(doc));
    json_object_put(out);
    json_object_put(doc);

    static const char *const bad[][2] = {
        {"[]", NULL},
        {"{\"bridges\": []}", NULL},
        {"{\"bridges\": {\"xenbr0\": 1}}", NULL},
        {"{\"bridges\": {\"bad name\": {}}}", "INVALID_NAME"},
        /* Entries are checked against each other: a port on no bridge. */
        {"{\"ports\": {\"eth0\": {\"bridge\": \"xenbr0\"}}}", "NO_SUCH_BRIDGE"},
        {"{\"bridges\": {\"xenbr0\": {}}, \"ports\": {\"eth7\": {\"bridge\": \"xenbr0\"}}}",
         "NO_SUCH_NIC"},
        {"{\"bridges\": {\"xenbr0\": {}}, \"vlans\": {\"a\": {\"parent_bridge\": \"xenbr0\", "
         "\"tag\": 1}, \"b\": {\"parent_bridge\": \"xenbr0\", \"tag\": 1}}}",
         "PIF_VLAN_EXISTS"},
    };
    for (size_t i = 0; i < ELEMENTSOF(bad); i++) {
        json_object *in = parse(bad[i][0]);
        out = NULL;
        e = cfg_rebuild(in, &check, &out);
        if (!e)
            fail_msg("accepted: %s", bad[i][0]);
        assert_null(out);
        if (bad[i][1])
            assert_string_equal(e->app_code ? e->app_code : "(none)", bad[i][1]);
        else
            assert_int_equal(e->code, JSONRPC_INVALID_PARAMS);
        jsonrpc_error_free(e);
        json_object_put(in);
    }
}

static void write_file(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
}

static void test_file_round_trip_and_refusals(void **state)
{
    (void)state;
    char dir[] = "/tmp/test-networkd-config-XXXXXX";
    assert_non_null(mkdtemp(dir));
    _cleanup_free_ char *path = xasprintf("%s/networkd.json", dir);
    json_object *doc = host_doc(), *back = NULL;
    char *why = NULL;

    /* No file yet: an empty configuration. */
    assert_int_equal(cfg_load(path, &back, &why), 0);
    assert_int_equal(json_object_object_length(cfg_section(back, "bridges")), 0);
    json_object_put(back);

    assert_int_equal(cfg_save(path, doc), 0);
    assert_int_equal(cfg_load(path, &back, &why), 0);
    assert_string_equal(json_object_to_json_string(back), json_object_to_json_string(doc));
    json_object_put(back);

    static const char *const bad[] = {
        "{\"format\": \"xenia-networkd\", \"version\": 1, \"bridges\": ",
        "{\"format\": \"something\", \"version\": 1}",
        "{\"format\": \"xenia-networkd\", \"version\": 2}",
        "{\"format\": \"xenia-networkd\"}",
        /* A VLAN on a bridge the file does not have. */
        ("{\"format\": \"xenia-networkd\", \"version\": 1, \"vlans\": {\"xapi1\": "
         "{\"parent_bridge\": \"xenbr0\", \"tag\": 1}}}"),
    };
    for (size_t i = 0; i < ELEMENTSOF(bad); i++) {
        write_file(path, bad[i]);
        back = NULL;
        why = NULL;
        assert_int_equal(cfg_load(path, &back, &why), -EINVAL);
        assert_null(back);
        assert_non_null(why);
        /* The reason names the file. */
        assert_non_null(strstr(why, path));
        free(why);
    }
    /* No temporary file is left behind. */
    _cleanup_free_ char *tmp = xasprintf("%s.tmp", path);
    assert_int_equal(access(tmp, F_OK), -1);
    unlink(path);
    rmdir(dir);
    json_object_put(doc);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_every_refusal_names_its_error_and_changes_nothing),
        cmocka_unit_test(test_accepted_changes_are_recorded_with_defaults),
        cmocka_unit_test(test_names_and_macs),
        cmocka_unit_test(test_rebuild_replays_a_document_and_refuses_bad_ones),
        cmocka_unit_test(test_file_round_trip_and_refusals),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
