/* Unit tests of networkd's tunnels and NIC settings (networkd/tunnel.c and
 * their rows in plan.c): what tunnel/set and nic/set accept and refuse
 * (and that a refusal leaves the document as it was), that a tunnel's
 * bridge cannot go while the tunnel is on it, that a whole document with
 * them survives cfg_rebuild, and that a tunnel becomes a gre or vxlan
 * Interface with its options on its bridge. */
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
#include "networkd/plan.h"
#include "networkd/tunnel.h"

typedef struct jsonrpc_error *(*setter_fn)(json_object *doc, json_object *p,
                                           const struct cfg_check *c);

static json_object *parse(const char *text)
{
    json_object *o = json_tokener_parse(text);
    assert_non_null(o);
    return o;
}

static void apply(json_object *doc, setter_fn fn, const char *params)
{
    json_object *p = parse(params);
    struct jsonrpc_error *e = fn(doc, p, NULL);
    if (e)
        fail_msg("%s refused: %s %s", params, e->app_code ? e->app_code : "", e->message);
    json_object_put(p);
}

/* A change that must be refused with code (first param param0, if not
 * NULL), leaving doc unchanged. */
static void refused(json_object *doc, setter_fn fn, const char *params, const char *code,
                    const char *param0)
{
    json_object *p = parse(params);
    char *before = xstrdup(json_object_to_json_string(doc));
    struct jsonrpc_error *e = fn(doc, p, NULL);
    assert_non_null(e);
    assert_non_null(e->app_code);
    assert_string_equal(e->app_code, code);
    if (param0) {
        assert_true(e->n_app_params > 0);
        assert_string_equal(e->app_params[0], param0);
    }
    assert_string_equal(before, json_object_to_json_string(doc));
    free(before);
    jsonrpc_error_free(e);
    json_object_put(p);
}

static struct jsonrpc_error *bridge_remove(json_object *doc, json_object *p,
                                           const struct cfg_check *c)
{
    (void)c;
    return cfg_bridge_remove(doc, p);
}

static struct jsonrpc_error *tunnel_remove(json_object *doc, json_object *p,
                                           const struct cfg_check *c)
{
    (void)c;
    return cfg_tunnel_remove(doc, p);
}

static struct jsonrpc_error *nic_remove(json_object *doc, json_object *p, const struct cfg_check *c)
{
    (void)c;
    return cfg_nic_remove(doc, p);
}

static json_object *doc_with_bridge(void)
{
    json_object *doc = cfg_new();
    apply(doc, cfg_bridge_set, "{\"name\": \"xapi1\"}");
    apply(doc, cfg_bridge_set, "{\"name\": \"xenbr0\"}");
    return doc;
}

static const char *entry_str(json_object *doc, const char *section, const char *name,
                             const char *key)
{
    json_object *e = cfg_entry(doc, section, name), *v = NULL;
    if (!e || !json_object_object_get_ex(e, key, &v))
        return NULL;
    return json_object_get_string(v);
}

static void test_tunnel_set_records_the_port(void **state)
{
    (void)state;
    json_object *doc = doc_with_bridge();
    apply(doc, cfg_tunnel_set,
          "{\"name\": \"tunnel0\", \"bridge\": \"xapi1\", \"remote_ip\": \"192.0.2.1\", "
          "\"key\": \"4294967295\"}");
    assert_string_equal(entry_str(doc, "tunnels", "tunnel0", "protocol"), "gre");
    assert_string_equal(entry_str(doc, "tunnels", "tunnel0", "key"), "4294967295");
    assert_string_equal(cfg_name_owner(doc, "tunnel0"), "tunnels");
    /* Set again: replaced in place. */
    apply(doc, cfg_tunnel_set,
          "{\"name\": \"tunnel0\", \"bridge\": \"xapi1\", \"protocol\": \"vxlan\", "
          "\"remote_ip\": \"fd00::1\", \"dst_port\": \"4789\"}");
    assert_string_equal(entry_str(doc, "tunnels", "tunnel0", "protocol"), "vxlan");
    assert_null(entry_str(doc, "tunnels", "tunnel0", "key"));
    apply(doc, tunnel_remove, "{\"name\": \"tunnel0\"}");
    assert_null(cfg_entry(doc, "tunnels", "tunnel0"));
    apply(doc, tunnel_remove, "{\"name\": \"tunnel0\"}"); /* idempotent */
    json_object_put(doc);
}

static void test_tunnel_set_refusals(void **state)
{
    (void)state;
    json_object *doc = doc_with_bridge();
    refused(doc, cfg_tunnel_set,
            "{\"name\": \"tunnel0\", \"bridge\": \"nobr\", \"remote_ip\": \"192.0.2.1\"}",
            "NO_SUCH_BRIDGE", "nobr");
    refused(doc, cfg_tunnel_set,
            "{\"name\": \"tunnel0\", \"bridge\": \"xapi1\", \"remote_ip\": \"192.0.2\"}",
            "INVALID_VALUE", "remote_ip");
    refused(doc, cfg_tunnel_set,
            "{\"name\": \"tunnel0\", \"bridge\": \"xapi1\", \"protocol\": \"ipip\", "
            "\"remote_ip\": \"192.0.2.1\"}",
            "INVALID_VALUE", "protocol");
    refused(doc, cfg_tunnel_set,
            "{\"name\": \"tunnel0\", \"bridge\": \"xapi1\", \"remote_ip\": \"192.0.2.1\", "
            "\"key\": \"4294967296\"}",
            "INVALID_VALUE", "key");
    refused(doc, cfg_tunnel_set,
            "{\"name\": \"tunnel0\", \"bridge\": \"xapi1\", \"protocol\": \"vxlan\", "
            "\"remote_ip\": \"192.0.2.1\", \"key\": \"16777216\"}",
            "INVALID_VALUE", "key");
    refused(doc, cfg_tunnel_set,
            "{\"name\": \"tunnel0\", \"bridge\": \"xapi1\", \"remote_ip\": \"192.0.2.1\", "
            "\"dst_port\": \"4789\"}",
            "INVALID_VALUE", "dst_port");
    refused(doc, cfg_tunnel_set,
            "{\"name\": \"tunnel0\", \"bridge\": \"xapi1\", \"protocol\": \"vxlan\", "
            "\"remote_ip\": \"192.0.2.1\", \"dst_port\": \"0\"}",
            "INVALID_VALUE", "dst_port");
    refused(doc, cfg_tunnel_set,
            "{\"name\": \"xenbr0\", \"bridge\": \"xapi1\", \"remote_ip\": \"192.0.2.1\"}",
            "NAME_IN_USE", "xenbr0");
    refused(doc, cfg_tunnel_set,
            "{\"name\": \"bad/name\", \"bridge\": \"xapi1\", \"remote_ip\": \"192.0.2.1\"}",
            "INVALID_NAME", "name");
    apply(doc, cfg_tunnel_set,
          "{\"name\": \"tunnel0\", \"bridge\": \"xapi1\", \"remote_ip\": \"192.0.2.1\"}");
    /* One tunnel per bridge; the bridge stays while the tunnel is on it. */
    refused(doc, cfg_tunnel_set,
            "{\"name\": \"tunnel1\", \"bridge\": \"xapi1\", \"remote_ip\": \"192.0.2.2\"}",
            "NAME_IN_USE", "xapi1");
    refused(doc, bridge_remove, "{\"name\": \"xapi1\"}", "NETWORK_CONTAINS_PIF", "xapi1");
    json_object_put(doc);
}

static void test_nic_set_and_refusals(void **state)
{
    (void)state;
    json_object *doc = cfg_new();
    apply(doc, cfg_nic_set, "{\"name\": \"eth1\", \"gro\": \"off\"}");
    assert_string_equal(entry_str(doc, "nics", "eth1", "gro"), "off");
    /* Not a port: the NIC's name stays free for OVS. */
    assert_null(cfg_name_owner(doc, "eth1"));
    refused(doc, cfg_nic_set, "{\"name\": \"eth1\", \"gro\": \"maybe\"}", "INVALID_VALUE", "gro");
    refused(doc, cfg_nic_set, "{\"name\": \"\", \"gro\": \"on\"}", "INVALID_NAME", "name");
    apply(doc, nic_remove, "{\"name\": \"eth1\"}");
    assert_null(cfg_entry(doc, "nics", "eth1"));
    json_object_put(doc);
}

static void test_rebuild_keeps_tunnels_and_nics(void **state)
{
    (void)state;
    json_object *doc = doc_with_bridge(), *out = NULL;
    apply(doc, cfg_tunnel_set,
          "{\"name\": \"tunnel0\", \"bridge\": \"xapi1\", \"remote_ip\": \"192.0.2.1\", "
          "\"key\": \"7\"}");
    apply(doc, cfg_nic_set, "{\"name\": \"eth0\", \"gro\": \"on\"}");
    assert_null(cfg_rebuild(doc, NULL, &out));
    assert_string_equal(json_object_to_json_string(doc), json_object_to_json_string(out));
    json_object_put(out);
    /* A document whose tunnel names a bridge it lacks is refused whole. */
    json_object_object_del(cfg_section(doc, "bridges"), "xapi1");
    out = NULL;
    struct jsonrpc_error *e = cfg_rebuild(doc, NULL, &out);
    assert_non_null(e);
    assert_string_equal(e->app_code, "NO_SUCH_BRIDGE");
    assert_null(out);
    jsonrpc_error_free(e);
    json_object_put(doc);
}

/* The insert into Interface of the row called name, or NULL. */
static json_object *inserted_iface(json_object *ops, const char *name)
{
    for (size_t i = 0; i < json_object_array_length(ops); i++) {
        json_object *o = json_object_array_get_idx(ops, i), *row = NULL, *v = NULL, *t = NULL;
        json_object_object_get_ex(o, "row", &row);
        json_object_object_get_ex(o, "table", &t);
        if (row && streq(json_object_get_string(t), "Interface") &&
            json_object_object_get_ex(row, "name", &v) && streq(json_object_get_string(v), name))
            return row;
    }
    return NULL;
}

static void test_plan_makes_the_tunnel_interface(void **state)
{
    (void)state;
    json_object *doc = doc_with_bridge(), *ops = NULL;
    apply(doc, cfg_tunnel_set,
          "{\"name\": \"tunnel0\", \"bridge\": \"xapi1\", \"protocol\": \"vxlan\", "
          "\"remote_ip\": \"192.0.2.1\", \"key\": \"5000\", \"dst_port\": \"8472\"}");
    json_object *snap = parse("[{\"rows\": [{\"_uuid\": [\"uuid\", \"root\"], \"bridges\": "
                              "[\"set\", []], \"next_cfg\": 1, \"cur_cfg\": 1}]},"
                              "{\"rows\": []}, {\"rows\": []}, {\"rows\": []}]");
    int64_t next = 0;
    assert_int_equal(plan_build(doc, snap, "netdev", &ops, &next), 0);
    json_object *row = inserted_iface(ops, "tunnel0"), *v = NULL;
    assert_non_null(row);
    assert_true(json_object_object_get_ex(row, "type", &v));
    assert_string_equal(json_object_get_string(v), "vxlan");
    assert_true(json_object_object_get_ex(row, "options", &v));
    /* ["map", [[k, v]...]] in the tunnel's order */
    json_object *pairs = json_object_array_get_idx(v, 1);
    assert_int_equal(json_object_array_length(pairs), 3);
    const char *want[][2] = {{"remote_ip", "192.0.2.1"}, {"key", "5000"}, {"dst_port", "8472"}};
    for (size_t i = 0; i < 3; i++) {
        json_object *kv = json_object_array_get_idx(pairs, i);
        assert_string_equal(json_object_get_string(json_object_array_get_idx(kv, 0)), want[i][0]);
        assert_string_equal(json_object_get_string(json_object_array_get_idx(kv, 1)), want[i][1]);
    }
    /* Other interfaces get no options column: left as OVS has them. */
    json_object *br = inserted_iface(ops, "xapi1");
    assert_non_null(br);
    assert_false(json_object_object_get_ex(br, "options", NULL));
    json_object_put(ops);
    json_object_put(snap);
    json_object_put(doc);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_tunnel_set_records_the_port),
        cmocka_unit_test(test_tunnel_set_refusals),
        cmocka_unit_test(test_nic_set_and_refusals),
        cmocka_unit_test(test_rebuild_keeps_tunnels_and_nics),
        cmocka_unit_test(test_plan_makes_the_tunnel_interface),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
