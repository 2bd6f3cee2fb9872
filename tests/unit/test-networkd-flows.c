/* Unit tests of the OpenFlow rules of VIF locking (networkd/flows.c): a
 * bridge without locked or disabled VIFs has no table of networkd's; a
 * locked VIF may send only from its MAC and allowed addresses (XCP's
 * rules and priorities); a disabled one nothing; VIFs of a VLAN count on
 * its parent bridge; and the table ends with the plain switch. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "lib/jsonrpc.h"
#include "lib/util.h"
#include "networkd/config.h"
#include "networkd/flows.h"

typedef struct jsonrpc_error *(*setter_fn)(json_object *doc, json_object *p,
                                           const struct cfg_check *c);

static void apply(json_object *doc, setter_fn fn, const char *params)
{
    json_object *p = json_tokener_parse(params);
    assert_non_null(p);
    struct jsonrpc_error *e = fn(doc, p, NULL);
    if (e)
        fail_msg("%s refused: %s", params, e->app_code ? e->app_code : e->message);
    json_object_put(p);
}

static json_object *doc_with_vlan(void)
{
    json_object *doc = cfg_new();
    apply(doc, cfg_bridge_set, "{\"name\": \"xenbr0\"}");
    apply(doc, cfg_bridge_set, "{\"name\": \"xenbr1\"}");
    apply(doc, cfg_vlan_set, "{\"bridge\": \"xapi1\", \"parent_bridge\": \"xenbr0\", \"tag\": 5}");
    apply(doc, cfg_vif_plug,
          "{\"bridge\": \"xenbr1\", \"name\": \"vif1.0\", \"mac\": "
          "\"00:16:3e:00:00:01\", \"locking_mode\": \"unlocked\"}");
    return doc;
}

static size_t count(const char *text, const char *needle)
{
    size_t n = 0;
    for (const char *p = text; (p = strstr(p, needle)); p++)
        n++;
    return n;
}

static void test_no_table_without_locked_vifs(void **state)
{
    (void)state;
    json_object *doc = doc_with_vlan();
    assert_null(flows_for_bridge(doc, "xenbr0"));
    assert_null(flows_for_bridge(doc, "xenbr1"));
    assert_null(flows_for_bridge(doc, "nosuch"));
    json_object_put(doc);
}

static void test_locked_vif_sends_only_from_what_it_is_allowed(void **state)
{
    (void)state;
    json_object *doc = doc_with_vlan();
    apply(doc, cfg_vif_plug,
          "{\"bridge\": \"xapi1\", \"name\": \"vif2.0\", \"mac\": \"00:16:3e:00:00:02\", "
          "\"locking_mode\": \"locked\", \"ipv4_allowed\": [\"10.0.0.2\", \"10.0.0.3\"], "
          "\"ipv6_allowed\": [\"fd00::2\"]}");
    /* On the VLAN's parent, where its port is. */
    assert_null(flows_for_bridge(doc, "xenbr1"));
    char *t = flows_for_bridge(doc, "xenbr0");
    assert_non_null(t);
    assert_non_null(strstr(t, "priority=8000,in_port=\"vif2.0\",udp,dl_src=00:16:3e:00:00:02,"
                              "tp_dst=67,actions=normal\n"));
    assert_non_null(strstr(t, "arp_spa=0.0.0.0,actions=normal"));
    assert_non_null(strstr(t, "priority=6000,in_port=\"vif2.0\",ip,dl_src=00:16:3e:00:00:02,"
                              "nw_src=10.0.0.3,actions=normal\n"));
    assert_int_equal(count(t, ",ip,"), 2);
    assert_int_equal(count(t, "ipv6_src=fd00::2"), 5);
    assert_non_null(strstr(t, "icmp_type=134,actions=drop"));
    assert_non_null(strstr(t, "priority=4000,in_port=\"vif2.0\",actions=drop\n"));
    /* Nothing of an unlocked VIF; the plain switch last. */
    assert_null(strstr(t, "vif1.0"));
    size_t len = strlen(t);
    const char *tail = "priority=0,actions=normal\n";
    assert_true(len > strlen(tail) && streq(t + len - strlen(tail), tail));
    free(t);
    json_object_put(doc);
}

static void test_disabled_vif_sends_nothing(void **state)
{
    (void)state;
    json_object *doc = doc_with_vlan();
    apply(doc, cfg_vif_plug,
          "{\"bridge\": \"xenbr1\", \"name\": \"vif1.0\", \"mac\": "
          "\"00:16:3e:00:00:01\", \"locking_mode\": \"disabled\", "
          "\"ipv4_allowed\": [\"10.0.0.9\"]}");
    char *t = flows_for_bridge(doc, "xenbr1");
    assert_non_null(t);
    assert_string_equal(t, "priority=4000,in_port=\"vif1.0\",actions=drop\n"
                           "priority=0,actions=normal\n");
    free(t);
    json_object_put(doc);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_no_table_without_locked_vifs),
        cmocka_unit_test(test_locked_vif_sends_only_from_what_it_is_allowed),
        cmocka_unit_test(test_disabled_vif_sends_nothing),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
