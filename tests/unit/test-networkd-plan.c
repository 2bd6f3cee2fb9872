/* Unit tests of networkd's plan (networkd/plan.c): from a desired
 * configuration and a snapshot of OVSDB to the one transaction of a
 * convergence. New rows are inserted with their name, existing ones are
 * updated in place by UUID (so a converged system gets no inserts),
 * bridges that are not networkd's are kept, managed ones no longer wanted
 * are dropped, VLANs are fake bridges, VIFs on a VLAN carry its tag, bonds
 * get XCP's settings, and a snapshot that is not one is refused. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "lib/cleanup.h"
#include "lib/jsonrpc.h"
#include "lib/strbuf.h"
#include "lib/util.h"
#include "networkd/config.h"
#include "networkd/plan.h"

typedef struct jsonrpc_error *(*setter_fn)(json_object *doc, json_object *p,
                                           const struct cfg_check *c);

static json_object *parse(const char *text)
{
    json_object *o = json_tokener_parse(text);
    assert_non_null(o);
    return o;
}

/* Applies one configuration change that must succeed. */
static void apply(json_object *doc, setter_fn fn, const char *params)
{
    json_object *p = parse(params);
    struct jsonrpc_error *e = fn(doc, p, NULL);
    if (e)
        fail_msg("%s refused: %s %s", params, e->app_code ? e->app_code : "", e->message);
    json_object_put(p);
}

/* A snapshot (the results of plan_snapshot_ops) of an initialised
 * database holding the given Bridge, Port and Interface rows. */
static json_object *snapshot(const char *bridges, const char *ports, const char *ifaces)
{
    char *text = xasprintf("[{\"rows\": [{\"_uuid\": [\"uuid\", \"root-0000\"], \"bridges\": "
                           "[\"set\", []], \"next_cfg\": 41, \"cur_cfg\": 41}]},"
                           "{\"rows\": [%s]}, {\"rows\": [%s]}, {\"rows\": [%s]}]",
                           bridges, ports, ifaces);
    json_object *s = parse(text);
    free(text);
    return s;
}

static json_object *build(json_object *doc, json_object *snap, int64_t *next_cfg)
{
    json_object *ops = NULL;
    assert_int_equal(plan_build(doc, snap, "netdev", &ops, next_cfg), 0);
    json_object_put(snap);
    assert_true(json_object_is_type(ops, json_type_array));
    return ops;
}

static json_object *get(json_object *o, const char *name)
{
    json_object *v = NULL;
    if (o && json_object_is_type(o, json_type_object))
        json_object_object_get_ex(o, name, &v);
    return v;
}

static const char *get_str(json_object *o, const char *name)
{
    json_object *v = get(o, name);
    return v ? json_object_get_string(v) : NULL;
}

static size_t count_ops(json_object *ops, const char *op, const char *table)
{
    size_t n = 0;
    for (size_t i = 0; i < json_object_array_length(ops); i++) {
        json_object *o = json_object_array_get_idx(ops, i);
        if (streq(get_str(o, "op"), op) && (!table || streq(get_str(o, "table"), table)))
            n++;
    }
    return n;
}

/* The row of the insert into table of the row called name, or NULL. */
static json_object *inserted(json_object *ops, const char *table, const char *name)
{
    for (size_t i = 0; i < json_object_array_length(ops); i++) {
        json_object *o = json_object_array_get_idx(ops, i);
        json_object *row = get(o, "row");
        if (streq(get_str(o, "op"), "insert") && streq(get_str(o, "table"), table) &&
            get_str(row, "name") && streq(get_str(row, "name"), name))
            return row;
    }
    return NULL;
}

/* The row of the update of table where _uuid == uuid, or NULL. */
static json_object *updated(json_object *ops, const char *table, const char *uuid)
{
    for (size_t i = 0; i < json_object_array_length(ops); i++) {
        json_object *o = json_object_array_get_idx(ops, i);
        if (!streq(get_str(o, "op"), "update") || !streq(get_str(o, "table"), table))
            continue;
        json_object *cond = json_object_array_get_idx(get(o, "where"), 0);
        json_object *val = json_object_array_get_idx(cond, 2);
        if (streq(json_object_get_string(json_object_array_get_idx(val, 1)), uuid))
            return get(o, "row");
    }
    return NULL;
}

/* The value of key in an OVSDB ["map", [[k, v]...]], or NULL. */
static const char *map_get(json_object *m, const char *key)
{
    json_object *pairs = json_object_array_get_idx(m, 1);
    assert_string_equal(json_object_get_string(json_object_array_get_idx(m, 0)), "map");
    for (size_t i = 0; i < json_object_array_length(pairs); i++) {
        json_object *kv = json_object_array_get_idx(pairs, i);
        if (streq(json_object_get_string(json_object_array_get_idx(kv, 0)), key))
            return json_object_get_string(json_object_array_get_idx(kv, 1));
    }
    return NULL;
}

/* The elements of an OVSDB ["set", [...]] (an atom alone is a set of one
 * in OVSDB, but plan always writes the set form). */
static json_object *set_elems(json_object *s)
{
    assert_string_equal(json_object_get_string(json_object_array_get_idx(s, 0)), "set");
    return json_object_array_get_idx(s, 1);
}

/* True if the set s holds a reference [kind, id]. */
static bool set_has_ref(json_object *s, const char *kind, const char *id)
{
    json_object *e = set_elems(s);
    for (size_t i = 0; i < json_object_array_length(e); i++) {
        json_object *r = json_object_array_get_idx(e, i);
        if (streq(json_object_get_string(json_object_array_get_idx(r, 0)), kind) &&
            streq(json_object_get_string(json_object_array_get_idx(r, 1)), id))
            return true;
    }
    return false;
}

/* The named-uuid an insert of table/name was given. */
static const char *insert_id(json_object *ops, const char *table, const char *name)
{
    for (size_t i = 0; i < json_object_array_length(ops); i++) {
        json_object *o = json_object_array_get_idx(ops, i);
        if (streq(get_str(o, "op"), "insert") && streq(get_str(o, "table"), table) &&
            streq(get_str(get(o, "row"), "name") ?: "", name))
            return get_str(o, "uuid-name");
    }
    return NULL;
}

static json_object *nic_bridge_doc(void)
{
    json_object *doc = cfg_new();
    apply(doc, cfg_bridge_set,
          "{\"name\": \"xenbr0\", \"mtu\": 9000, \"external_ids\": "
          "{\"xs-network-uuids\": \"n0\"}, \"other_config\": "
          "{\"mac-table-size\": \"4096\", \"mcast_snooping_enable\": "
          "\"true\"}}");
    apply(doc, cfg_port_set, "{\"bridge\": \"xenbr0\", \"name\": \"eth0\"}");
    return doc;
}

static void test_empty_database_gets_a_root_row(void **state)
{
    (void)state;
    json_object *doc = cfg_new();
    int64_t next_cfg = 0;
    json_object *ops = build(
        doc, parse("[{\"rows\": []}, {\"rows\": []}, {\"rows\": []}, {\"rows\": []}]"), &next_cfg);
    assert_int_equal(json_object_array_length(ops), 1);
    assert_int_equal(count_ops(ops, "insert", "Open_vSwitch"), 1);
    json_object *row = get(json_object_array_get_idx(ops, 0), "row");
    assert_int_equal(json_object_get_int(get(row, "next_cfg")), 1);
    assert_int_equal(json_object_array_length(set_elems(get(row, "bridges"))), 0);
    assert_int_equal(next_cfg, 1);
    json_object_put(ops);
    json_object_put(doc);
}

static void test_new_bridge_is_inserted_with_its_ports(void **state)
{
    (void)state;
    json_object *doc = nic_bridge_doc();
    int64_t next_cfg = 0;
    json_object *ops = build(doc, snapshot("", "", ""), &next_cfg);

    assert_int_equal(next_cfg, 42);
    assert_int_equal(count_ops(ops, "update", NULL), 1); /* the root row */
    json_object *br = inserted(ops, "Bridge", "xenbr0");
    assert_non_null(br);
    assert_string_equal(get_str(br, "datapath_type"), "netdev");
    assert_string_equal(get_str(br, "fail_mode"), "standalone");
    assert_string_equal(map_get(get(br, "external_ids"), "xs-network-uuids"), "n0");
    assert_string_equal(map_get(get(br, "external_ids"), "xenia-managed"), "true");
    assert_string_equal(map_get(get(br, "other_config"), "mac-table-size"), "4096");
    /* Its own column in OVS, not a key. */
    assert_null(map_get(get(br, "other_config"), "mcast_snooping_enable"));
    assert_true(json_object_get_boolean(get(br, "mcast_snooping_enable")));

    json_object *internal = inserted(ops, "Interface", "xenbr0");
    assert_non_null(internal);
    assert_string_equal(get_str(internal, "type"), "internal");
    assert_int_equal(json_object_get_int(get(internal, "mtu_request")), 9000);
    json_object *nic = inserted(ops, "Interface", "eth0");
    assert_non_null(nic);
    assert_string_equal(get_str(nic, "type"), "");
    assert_int_equal(json_object_get_int(get(nic, "mtu_request")), 9000);

    /* Ports refer to their interfaces and the bridge to its ports, all
     * by the named UUIDs of this transaction. */
    json_object *port = inserted(ops, "Port", "eth0");
    assert_true(
        set_has_ref(get(port, "interfaces"), "named-uuid", insert_id(ops, "Interface", "eth0")));
    assert_true(set_has_ref(get(br, "ports"), "named-uuid", insert_id(ops, "Port", "eth0")));
    assert_true(set_has_ref(get(br, "ports"), "named-uuid", insert_id(ops, "Port", "xenbr0")));
    assert_int_equal(json_object_array_length(set_elems(get(br, "ports"))), 2);

    json_object *root = updated(ops, "Open_vSwitch", "root-0000");
    assert_non_null(root);
    assert_true(
        set_has_ref(get(root, "bridges"), "named-uuid", insert_id(ops, "Bridge", "xenbr0")));
    /* ovs-vswitchd is asked to acknowledge through cur_cfg. */
    assert_int_equal(count_ops(ops, "mutate", "Open_vSwitch"), 1);
    json_object_put(ops);
    json_object_put(doc);
}

static void test_converged_system_gets_updates_only(void **state)
{
    (void)state;
    json_object *doc = nic_bridge_doc();
    int64_t next_cfg = 0;
    json_object *ops =
        build(doc,
              snapshot("{\"_uuid\": [\"uuid\", \"b-1\"], \"name\": \"xenbr0\", \"external_ids\": "
                       "[\"map\", [[\"xenia-managed\", \"true\"]]]}",
                       "{\"_uuid\": [\"uuid\", \"p-1\"], \"name\": \"xenbr0\"},"
                       "{\"_uuid\": [\"uuid\", \"p-2\"], \"name\": \"eth0\"}",
                       "{\"_uuid\": [\"uuid\", \"i-1\"], \"name\": \"xenbr0\"},"
                       "{\"_uuid\": [\"uuid\", \"i-2\"], \"name\": \"eth0\"}"),
              &next_cfg);
    assert_int_equal(count_ops(ops, "insert", NULL), 0);
    json_object *br = updated(ops, "Bridge", "b-1");
    assert_non_null(br);
    /* name is immutable in OVSDB: never in an update. */
    assert_null(get(br, "name"));
    assert_true(set_has_ref(get(br, "ports"), "uuid", "p-1"));
    assert_true(set_has_ref(get(br, "ports"), "uuid", "p-2"));
    assert_true(set_has_ref(get(updated(ops, "Port", "p-2"), "interfaces"), "uuid", "i-2"));
    assert_non_null(updated(ops, "Interface", "i-1"));
    assert_true(
        set_has_ref(get(updated(ops, "Open_vSwitch", "root-0000"), "bridges"), "uuid", "b-1"));
    json_object_put(ops);
    json_object_put(doc);
}

/* What OVSDB holds after the transaction ops on an empty initialised
 * database: each inserted row under a UUID of its uuid-name, references
 * to new rows resolved, the root's bridges as the update set them. */
static json_object *applied_snapshot(json_object *ops)
{
    struct strbuf sb;
    const char *text = json_object_to_json_string_ext(ops, JSON_C_TO_STRING_PLAIN);
    strbuf_init(&sb, strlen(text));
    for (const char *p = text; *p;) {
        static const char named[] = "[\"named-uuid\",\"";
        if (strncmp(p, named, sizeof(named) - 1) == 0) {
            strbuf_adds(&sb, "[\"uuid\",\"u-");
            p += sizeof(named) - 1;
        } else
            strbuf_addc(&sb, *p++);
    }
    json_object *resolved = parse(sb.buf);
    strbuf_done(&sb);
    json_object *tables[3] = {json_object_new_array(), json_object_new_array(),
                              json_object_new_array()};
    static const char *const names[3] = {"Bridge", "Port", "Interface"};
    json_object *bridges = NULL;
    for (size_t i = 0; i < json_object_array_length(resolved); i++) {
        json_object *op = json_object_array_get_idx(resolved, i);
        const char *table = get_str(op, "table");
        if (streq(get_str(op, "op"), "update") && streq(table, "Open_vSwitch"))
            bridges = json_object_get(get(get(op, "row"), "bridges"));
        if (!streq(get_str(op, "op"), "insert"))
            continue;
        json_object *row = NULL;
        json_object_deep_copy(get(op, "row"), &row, NULL);
        char *u = xasprintf("u-%s", get_str(op, "uuid-name"));
        json_object *ref = json_object_new_array();
        json_object_array_add(ref, json_object_new_string("uuid"));
        json_object_array_add(ref, json_object_new_string(u));
        free(u);
        json_object_object_add(row, "_uuid", ref);
        for (size_t t = 0; t < 3; t++)
            if (streq(table, names[t]))
                json_object_array_add(tables[t], json_object_get(row));
        json_object_put(row);
    }
    assert_non_null(bridges);
    json_object *snap = json_object_new_array(), *root = json_object_new_object();
    json_object *root_rows = json_object_new_array(), *r0 = json_object_new_object();
    json_object *uuid = json_object_new_array();
    json_object_array_add(uuid, json_object_new_string("uuid"));
    json_object_array_add(uuid, json_object_new_string("root-0000"));
    json_object_object_add(r0, "_uuid", uuid);
    json_object_object_add(r0, "bridges", bridges);
    json_object_object_add(r0, "next_cfg", json_object_new_int(42));
    json_object_object_add(r0, "cur_cfg", json_object_new_int(42));
    json_object_array_add(root_rows, r0);
    json_object_object_add(root, "rows", root_rows);
    json_object_array_add(snap, root);
    for (size_t t = 0; t < 3; t++) {
        json_object *res = json_object_new_object();
        json_object_object_add(res, "rows", tables[t]);
        json_object_array_add(snap, res);
    }
    json_object_put(resolved);
    return snap;
}

static void test_converged_system_gets_no_transaction(void **state)
{
    (void)state;
    json_object *doc = nic_bridge_doc();
    apply(doc, cfg_vlan_set, "{\"bridge\": \"xapi1\", \"parent_bridge\": \"xenbr0\", \"tag\": 5}");
    apply(doc, cfg_vif_plug,
          "{\"bridge\": \"xapi1\", \"name\": \"vif1.0\", \"mac\": \"00:16:3e:00:00:01\", "
          "\"external_ids\": {\"xs-vm-uuid\": \"v\"}, \"qos\": {\"kbps\": 100}}");
    int64_t next_cfg = 0;
    json_object *first = build(doc, snapshot("", "", ""), &next_cfg);
    assert_int_equal(next_cfg, 42);

    /* What OVS holds is what is wanted: nothing to send, no new next_cfg. */
    json_object *ops = build(doc, applied_snapshot(first), &next_cfg);
    assert_int_equal(json_object_array_length(ops), 0);
    assert_int_equal(next_cfg, 42);
    json_object_put(ops);

    /* One column differs: that row alone is written, with the root. */
    apply(doc, cfg_vif_plug,
          "{\"bridge\": \"xapi1\", \"name\": \"vif1.0\", \"mac\": \"00:16:3e:00:00:01\", "
          "\"external_ids\": {\"xs-vm-uuid\": \"v\"}, \"qos\": {\"kbps\": 200}}");
    ops = build(doc, applied_snapshot(first), &next_cfg);
    assert_int_equal(next_cfg, 43);
    assert_int_equal(count_ops(ops, "insert", NULL), 0);
    assert_int_equal(count_ops(ops, "update", "Interface"), 1);
    assert_int_equal(count_ops(ops, "update", "Port"), 0);
    assert_int_equal(count_ops(ops, "update", "Bridge"), 0);
    json_object_put(ops);
    json_object_put(first);
    json_object_put(doc);
}

static void test_foreign_bridges_stay_and_stale_managed_ones_go(void **state)
{
    (void)state;
    json_object *doc = cfg_new();
    int64_t next_cfg = 0;
    json_object *ops =
        build(doc,
              snapshot("{\"_uuid\": [\"uuid\", \"b-ext\"], \"name\": \"br-ext\", \"external_ids\": "
                       "[\"map\", []]},"
                       "{\"_uuid\": [\"uuid\", \"b-old\"], \"name\": \"xenbr9\", \"external_ids\": "
                       "[\"map\", [[\"xenia-managed\", \"true\"]]]}",
                       "", ""),
              &next_cfg);
    json_object *bridges = get(updated(ops, "Open_vSwitch", "root-0000"), "bridges");
    assert_true(set_has_ref(bridges, "uuid", "b-ext"));
    assert_false(set_has_ref(bridges, "uuid", "b-old"));
    assert_int_equal(json_object_array_length(set_elems(bridges)), 1);
    /* Neither is written to: the foreign one is not ours, the stale one
     * goes with OVSDB's garbage collection. */
    assert_null(updated(ops, "Bridge", "b-ext"));
    assert_null(updated(ops, "Bridge", "b-old"));
    json_object_put(ops);
    json_object_put(doc);
}

static void test_vlan_is_a_fake_bridge_and_its_vifs_are_tagged(void **state)
{
    (void)state;
    json_object *doc = nic_bridge_doc();
    apply(doc, cfg_vlan_set,
          "{\"bridge\": \"xapi1\", \"parent_bridge\": \"xenbr0\", \"tag\": "
          "42, \"external_ids\": {\"xs-network-uuids\": \"v\"}}");
    apply(doc, cfg_vif_plug,
          "{\"bridge\": \"xapi1\", \"name\": \"vif3.0\", \"mac\": "
          "\"00:16:3e:00:00:03\", \"external_ids\": {\"xs-vm-uuid\": "
          "\"vm\"}, \"qos\": {\"kbps\": 1000}}");
    int64_t next_cfg = 0;
    json_object *ops = build(doc, snapshot("", "", ""), &next_cfg);

    /* No bridge of its own: a port of the parent. */
    assert_null(inserted(ops, "Bridge", "xapi1"));
    json_object *br = inserted(ops, "Bridge", "xenbr0");
    assert_true(set_has_ref(get(br, "ports"), "named-uuid", insert_id(ops, "Port", "xapi1")));
    assert_true(set_has_ref(get(br, "ports"), "named-uuid", insert_id(ops, "Port", "vif3.0")));
    json_object *fake = inserted(ops, "Port", "xapi1");
    assert_int_equal(json_object_get_int(get(fake, "tag")), 42);
    assert_true(json_object_get_boolean(get(fake, "fake_bridge")));
    assert_string_equal(map_get(get(fake, "external_ids"), "fake-bridge-xs-network-uuids"), "v");
    assert_string_equal(get_str(inserted(ops, "Interface", "xapi1"), "type"), "internal");

    json_object *vport = inserted(ops, "Port", "vif3.0");
    assert_int_equal(json_object_get_int(get(vport, "tag")), 42);
    assert_false(json_object_get_boolean(get(vport, "fake_bridge")));
    json_object *vif = inserted(ops, "Interface", "vif3.0");
    assert_string_equal(get_str(vif, "type"), "");
    assert_string_equal(map_get(get(vif, "external_ids"), "xs-vm-uuid"), "vm");
    assert_string_equal(map_get(get(vif, "external_ids"), "attached-mac"), "00:16:3e:00:00:03");
    assert_int_equal(json_object_get_int(get(vif, "ingress_policing_rate")), 1000);
    assert_int_equal(json_object_get_int(get(vif, "ingress_policing_burst")), 100);
    /* The VLAN's MTU: its parent's. */
    assert_int_equal(json_object_get_int(get(vif, "mtu_request")), 9000);
    json_object_put(ops);
    json_object_put(doc);
}

static void test_internal_stand_in_gets_type_and_mac(void **state)
{
    (void)state;
    json_object *doc = nic_bridge_doc();
    apply(doc, cfg_vif_plug,
          "{\"bridge\": \"xenbr0\", \"name\": \"vif2.0\", \"mac\": "
          "\"00:16:3e:00:00:02\", \"stand_in\": {\"type\": \"internal\"}}");
    int64_t next_cfg = 0;
    json_object *ops = build(doc, snapshot("", "", ""), &next_cfg);
    json_object *vif = inserted(ops, "Interface", "vif2.0");
    assert_string_equal(get_str(vif, "type"), "internal");
    assert_string_equal(get_str(vif, "mac"), "00:16:3e:00:00:02");
    /* Not on a VLAN: no tag. */
    assert_int_equal(
        json_object_array_length(set_elems(get(inserted(ops, "Port", "vif2.0"), "tag"))), 0);
    json_object_put(ops);
    json_object_put(doc);
}

static void test_bond_port_has_its_members_and_settings(void **state)
{
    (void)state;
    json_object *doc = nic_bridge_doc();
    apply(doc, cfg_bond_set,
          "{\"bridge\": \"xenbr0\", \"name\": \"bond0\", \"members\": [\"eth0\", \"eth1\"], "
          "\"mode\": \"active-backup\", \"properties\": {\"updelay\": \"0\", \"miimon\": "
          "\"100\"}, \"mac\": \"02:00:00:00:00:01\"}");
    int64_t next_cfg = 0;
    json_object *ops = build(doc, snapshot("", "", ""), &next_cfg);
    /* eth0 moved from a port of its own into the bond. */
    assert_null(inserted(ops, "Port", "eth0"));
    json_object *bond = inserted(ops, "Port", "bond0");
    assert_non_null(bond);
    assert_string_equal(get_str(bond, "bond_mode"), "active-backup");
    assert_string_equal(get_str(bond, "lacp"), "off");
    assert_string_equal(get_str(bond, "mac"), "02:00:00:00:00:01");
    assert_int_equal(json_object_get_int(get(bond, "bond_updelay")), 0);
    assert_int_equal(json_object_get_int(get(bond, "bond_downdelay")), 200);
    assert_string_equal(map_get(get(bond, "other_config"), "bond-miimon-interval"), "100");
    json_object *members = get(bond, "interfaces");
    assert_int_equal(json_object_array_length(set_elems(members)), 2);
    assert_true(set_has_ref(members, "named-uuid", insert_id(ops, "Interface", "eth0")));
    assert_true(set_has_ref(members, "named-uuid", insert_id(ops, "Interface", "eth1")));
    json_object_put(ops);
    json_object_put(doc);
}

static void test_bond_settings_follow_xcp(void **state)
{
    (void)state;
    const char *mode, *lacp;
    int64_t up, down;
    json_object *oc = NULL, *props = parse("{\"hashing_algorithm\": \"tcpudp_ports\", "
                                           "\"lacp-time\": \"fast\", \"detect-mode\": "
                                           "\"miimon\", \"rebalance-interval\": \"5000\", "
                                           "\"downdelay\": \"7\"}");
    plan_bond_settings("lacp", props, &mode, &lacp, &up, &down, &oc);
    assert_string_equal(mode, "balance-tcp");
    assert_string_equal(lacp, "active");
    assert_int_equal(up, 31000);
    assert_int_equal(down, 7);
    assert_string_equal(get_str(oc, "lacp-time"), "fast");
    assert_string_equal(get_str(oc, "bond-detect-mode"), "miimon");
    assert_string_equal(get_str(oc, "bond-rebalance-interval"), "5000");
    assert_null(get(oc, "hashing_algorithm"));
    json_object_put(oc);
    json_object_put(props);

    plan_bond_settings("lacp", NULL, &mode, &lacp, &up, &down, &oc);
    assert_string_equal(mode, "balance-slb");
    assert_string_equal(lacp, "active");
    json_object_put(oc);
    plan_bond_settings("balance-slb", NULL, &mode, &lacp, &up, &down, &oc);
    assert_string_equal(mode, "balance-slb");
    assert_string_equal(lacp, "off");
    assert_int_equal(json_object_object_length(oc), 0);
    json_object_put(oc);
}

static void test_snapshot_that_is_not_one_is_refused(void **state)
{
    (void)state;
    static const char *const bad[] = {
        "[]",
        "{}",
        "[{\"rows\": []}, {\"rows\": []}, {\"rows\": []}]",
        "[{\"rows\": []}, {\"rows\": {}}, {\"rows\": []}, {\"rows\": []}]",
        "[{\"error\": \"x\"}, {\"rows\": []}, {\"rows\": []}, {\"rows\": []}]",
        /* A root row without a UUID. */
        "[{\"rows\": [{\"next_cfg\": 1}]}, {\"rows\": []}, {\"rows\": []}, {\"rows\": []}]",
        "[{\"rows\": [{\"_uuid\": 5}]}, {\"rows\": []}, {\"rows\": []}, {\"rows\": []}]",
    };
    json_object *doc = nic_bridge_doc();
    for (size_t i = 0; i < ELEMENTSOF(bad); i++) {
        json_object *snap = parse(bad[i]), *ops = NULL;
        int64_t next_cfg = 0;
        assert_int_equal(plan_build(doc, snap, "system", &ops, &next_cfg), -EBADMSG);
        assert_null(ops);
        json_object_put(snap);
    }
    json_object_put(doc);
}

static void test_snapshot_ops_read_the_four_tables(void **state)
{
    (void)state;
    static const char *const tables[] = {"Open_vSwitch", "Bridge", "Port", "Interface"};
    json_object *ops = plan_snapshot_ops();
    assert_int_equal(json_object_array_length(ops), 4);
    for (size_t i = 0; i < 4; i++) {
        json_object *op = json_object_array_get_idx(ops, i);
        assert_string_equal(get_str(op, "op"), "select");
        assert_string_equal(get_str(op, "table"), tables[i]);
        assert_int_equal(json_object_array_length(get(op, "where")), 0);
        assert_string_equal(
            json_object_get_string(json_object_array_get_idx(get(op, "columns"), 0)), "_uuid");
    }
    json_object_put(ops);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_empty_database_gets_a_root_row),
        cmocka_unit_test(test_new_bridge_is_inserted_with_its_ports),
        cmocka_unit_test(test_converged_system_gets_updates_only),
        cmocka_unit_test(test_converged_system_gets_no_transaction),
        cmocka_unit_test(test_foreign_bridges_stay_and_stale_managed_ones_go),
        cmocka_unit_test(test_vlan_is_a_fake_bridge_and_its_vifs_are_tagged),
        cmocka_unit_test(test_internal_stand_in_gets_type_and_mac),
        cmocka_unit_test(test_bond_port_has_its_members_and_settings),
        cmocka_unit_test(test_bond_settings_follow_xcp),
        cmocka_unit_test(test_snapshot_that_is_not_one_is_refused),
        cmocka_unit_test(test_snapshot_ops_read_the_four_tables),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
