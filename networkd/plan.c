/* Builds the OVSDB transaction of a convergence (see plan.h). The layout
 * follows what XCP's networkd makes with ovs-vsctl: a bridge per network
 * with its internal port; NICs and bonds as ports; a VLAN as a "fake
 * bridge" (an internal port with the tag and fake_bridge=true on the
 * parent, its external_ids under fake-bridge-*); VIFs as ports of the
 * bridge, tagged when their bridge is a VLAN. */
#include "networkd/plan.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/cleanup.h"
#include "lib/strbuf.h"
#include "lib/util.h"
#include "networkd/jsonutil.h"
#include "networkd/tunnel.h"

#define MANAGED_KEY "xenia-managed"

/* Names of existing rows to their UUIDs, per table. */
struct names {
    json_object *bridge, *port, *iface; /* name -> uuid string */
};

struct builder {
    json_object *ops;
    struct names existing;
    json_object *rows; /* uuid -> the existing row as the snapshot has it */
    int counter;
};

static json_object *member(json_object *o, const char *name)
{
    json_object *v = NULL;
    if (o && json_object_is_type(o, json_type_object))
        json_object_object_get_ex(o, name, &v);
    return v;
}

static const char *str(json_object *o, const char *name)
{
    json_object *v = member(o, name);
    return v ? json_object_get_string(v) : NULL;
}

static json_object *pair(const char *tag, json_object *v)
{
    json_object *a = json_object_new_array();
    json_object_array_add(a, json_object_new_string(tag));
    json_object_array_add(a, v);
    return a;
}

static json_object *empty_set(void)
{
    return pair("set", json_object_new_array());
}

static json_object *opt_int(int64_t v, bool present)
{
    return present ? json_object_new_int64(v) : empty_set();
}

static json_object *opt_str(const char *s)
{
    return s ? json_object_new_string(s) : empty_set();
}

/* A JSON object of strings as an OVSDB map, with prefix before each key. */
static json_object *ovs_map(json_object *m, const char *prefix, json_object *extra)
{
    json_object *pairs = json_object_new_array();
    json_object *srcs[] = {m, extra};
    for (size_t s = 0; s < ELEMENTSOF(srcs); s++) {
        if (!srcs[s])
            continue;
        json_object_object_foreach(ju_obj(srcs[s]), k, v)
        {
            json_object *kv = json_object_new_array();
            char *key = xasprintf("%s%s", s == 0 && prefix ? prefix : "", k);
            json_object_array_add(kv, json_object_new_string(key));
            free(key);
            json_object_array_add(kv, json_object_new_string(json_object_get_string(v)));
            json_object_array_add(pairs, kv);
        }
    }
    return pair("map", pairs);
}

/* An OVSDB value in a form where equal values are equal strings: a set
 * (a lone atom is a set of one) or a map, its members sorted. A reference
 * to a row still to insert ("named-uuid") equals nothing that exists. */
static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static char *canonical(json_object *v)
{
    const char *tag = json_object_is_type(v, json_type_array) && ju_len(v) == 2
                          ? json_object_get_string(json_object_array_get_idx(v, 0))
                          : NULL;
    bool set = tag && streq(tag, "set"), map = tag && streq(tag, "map");
    json_object *elems = set || map ? json_object_array_get_idx(v, 1) : NULL;
    size_t n = set || map ? ju_len(elems) : 1;
    char **parts = xcalloc(n ? n : 1, sizeof(char *));
    struct strbuf sb;

    for (size_t i = 0; i < n; i++) {
        json_object *e = set || map ? json_object_array_get_idx(elems, i) : v;
        parts[i] = xstrdup(json_object_to_json_string_ext(e, JSON_C_TO_STRING_PLAIN));
    }
    qsort(parts, n, sizeof(char *), cmp_str);
    strbuf_init(&sb, 64);
    strbuf_adds(&sb, map ? "M" : "S");
    for (size_t i = 0; i < n; i++) {
        strbuf_addf(&sb, "\x1f%s", parts[i]);
        free(parts[i]);
    }
    free(parts);
    return strbuf_detach(&sb, NULL);
}

/* Whether every column of row has the value the existing row has. */
static bool row_unchanged(json_object *existing, json_object *row)
{
    if (!existing)
        return false;
    json_object_object_foreach(row, col, want)
    {
        json_object *have = member(existing, col);
        if (!have)
            return false;
        _cleanup_free_ char *a = canonical(want);
        _cleanup_free_ char *b = canonical(have);
        if (!streq(a, b))
            return false;
    }
    return true;
}

/* Inserts or updates the row of table named name; returns a reference to
 * it (new), and takes row. An update that would change nothing is left
 * out, so that a converged system gets no transaction at all (and
 * ovs-vswitchd no reconfiguration of every port). */
static json_object *put_row(struct builder *b, const char *table, json_object *names,
                            const char *name, json_object *row)
{
    json_object *op;
    json_object *uuid = member(names, name);

    if (uuid) {
        if (row_unchanged(member(b->rows, json_object_get_string(uuid)), row)) {
            json_object_put(row);
            return pair("uuid", json_object_get(uuid));
        }
        op = json_object_new_object();
        json_object_object_add(op, "table", json_object_new_string(table));
        json_object *where = json_object_new_array(), *cond = json_object_new_array();
        json_object_array_add(cond, json_object_new_string("_uuid"));
        json_object_array_add(cond, json_object_new_string("=="));
        json_object_array_add(cond, pair("uuid", json_object_get(uuid)));
        json_object_array_add(where, cond);
        json_object_object_add(op, "op", json_object_new_string("update"));
        json_object_object_add(op, "where", where);
        json_object_object_add(op, "row", row);
        json_object_array_add(b->ops, op);
        return pair("uuid", json_object_get(uuid));
    }
    op = json_object_new_object();
    json_object_object_add(op, "table", json_object_new_string(table));
    /* name is immutable in OVSDB: set on insert only. */
    json_object_object_add(row, "name", json_object_new_string(name));
    char *id = xasprintf("row%d", b->counter++);
    json_object_object_add(op, "op", json_object_new_string("insert"));
    json_object_object_add(op, "row", row);
    json_object_object_add(op, "uuid-name", json_object_new_string(id));
    json_object_array_add(b->ops, op);
    json_object *ref = pair("named-uuid", json_object_new_string(id));
    free(id);
    return ref;
}

struct iface_spec {
    const char *name;
    const char *type; /* "" for a system device */
    int64_t mtu;      /* 0: leave to OVS */
    json_object *external_ids;
    json_object *other_config;
    const char *mac;
    int64_t kbps;         /* ingress policing; 0: none */
    json_object *options; /* a tunnel's remote_ip, key...; NULL: column left alone */
};

static json_object *put_iface(struct builder *b, const struct iface_spec *s)
{
    json_object *row = json_object_new_object();
    json_object_object_add(row, "type", json_object_new_string(s->type));
    json_object_object_add(row, "mtu_request", opt_int(s->mtu, s->mtu > 0));
    json_object_object_add(row, "external_ids", ovs_map(s->external_ids, NULL, NULL));
    json_object_object_add(row, "other_config", ovs_map(s->other_config, NULL, NULL));
    json_object_object_add(row, "mac", opt_str(s->mac));
    json_object_object_add(row, "ingress_policing_rate", json_object_new_int64(s->kbps));
    json_object_object_add(row, "ingress_policing_burst",
                           json_object_new_int64(s->kbps ? s->kbps / 10 : 0));
    if (s->options)
        json_object_object_add(row, "options", ovs_map(s->options, NULL, NULL));
    return put_row(b, "Interface", b->existing.iface, s->name, row);
}

struct port_spec {
    const char *name;
    json_object *ifaces; /* array of references, taken */
    int64_t tag;         /* -1: none */
    bool fake_bridge;
    const char *bond_mode, *lacp, *mac;
    int64_t updelay, downdelay;
    json_object *external_ids; /* borrowed */
    const char *eid_prefix;
    json_object *other_config; /* borrowed */
};

static json_object *put_port(struct builder *b, const struct port_spec *s)
{
    json_object *row = json_object_new_object();
    json_object_object_add(row, "interfaces", pair("set", s->ifaces));
    json_object_object_add(row, "tag", opt_int(s->tag, s->tag >= 0));
    json_object_object_add(row, "fake_bridge", json_object_new_boolean(s->fake_bridge));
    json_object_object_add(row, "bond_mode", opt_str(s->bond_mode));
    json_object_object_add(row, "lacp", opt_str(s->lacp));
    json_object_object_add(row, "mac", opt_str(s->mac));
    json_object_object_add(row, "bond_updelay", json_object_new_int64(s->updelay));
    json_object_object_add(row, "bond_downdelay", json_object_new_int64(s->downdelay));
    json_object_object_add(row, "external_ids", ovs_map(s->external_ids, s->eid_prefix, NULL));
    json_object_object_add(row, "other_config", ovs_map(s->other_config, NULL, NULL));
    return put_row(b, "Port", b->existing.port, s->name, row);
}

/* A port with one interface of the same name. */
static json_object *put_simple_port(struct builder *b, const struct iface_spec *is, int64_t tag,
                                    bool fake_bridge, json_object *port_eids, const char *prefix)
{
    json_object *ifaces = json_object_new_array();
    json_object_array_add(ifaces, put_iface(b, is));
    struct port_spec ps = {.name = is->name,
                           .ifaces = ifaces,
                           .tag = tag,
                           .fake_bridge = fake_bridge,
                           .external_ids = port_eids,
                           .eid_prefix = prefix};
    return put_port(b, &ps);
}

void plan_bond_settings(const char *mode, json_object *properties, const char **ret_bond_mode,
                        const char **ret_lacp, int64_t *ret_updelay, int64_t *ret_downdelay,
                        json_object **ret_other_config)
{
    /* Property name -> Port other_config key, as XCP's networkd maps them. */
    static const char *const keys[][2] = {{"lacp-time", "lacp-time"},
                                          {"lacp-fallback-ab", "lacp-fallback-ab"},
                                          {"detect-mode", "bond-detect-mode"},
                                          {"miimon", "bond-miimon-interval"},
                                          {"rebalance-interval", "bond-rebalance-interval"}};
    const char *hashing = str(properties, "hashing_algorithm");
    const char *up = str(properties, "updelay"), *down = str(properties, "downdelay");
    json_object *oc = json_object_new_object();

    if (streq(mode, "lacp")) {
        *ret_lacp = "active";
        *ret_bond_mode = hashing && streq(hashing, "tcpudp_ports") ? "balance-tcp" : "balance-slb";
    } else {
        *ret_lacp = "off";
        *ret_bond_mode = streq(mode, "active-backup") ? "active-backup" : "balance-slb";
    }
    /* XCP's defaults: 31 s before a returning link is used, 200 ms before
     * a failed one is dropped. */
    *ret_updelay = up ? strtoll(up, NULL, 10) : 31000;
    *ret_downdelay = down ? strtoll(down, NULL, 10) : 200;
    for (size_t i = 0; i < ELEMENTSOF(keys); i++) {
        const char *v = str(properties, keys[i][0]);
        if (v)
            json_object_object_add(oc, keys[i][1], json_object_new_string(v));
    }
    *ret_other_config = oc;
}

json_object *plan_snapshot_ops(void)
{
    /* every column plan_build writes, to leave out what is already so */
    static const char *const tables[][2] = {
        {"Open_vSwitch", "bridges next_cfg cur_cfg"},
        {"Bridge", "name external_ids ports datapath_type fail_mode other_config "
                   "mcast_snooping_enable"},
        {"Port", "name interfaces tag fake_bridge bond_mode lacp mac bond_updelay "
                 "bond_downdelay external_ids other_config"},
        {"Interface", "name type mtu_request external_ids other_config mac "
                      "ingress_policing_rate ingress_policing_burst options"}};
    json_object *ops = json_object_new_array();
    for (size_t i = 0; i < ELEMENTSOF(tables); i++) {
        json_object *op = json_object_new_object(), *cols = json_object_new_array();
        _cleanup_free_ char *list = xstrdup(tables[i][1]);
        char *save = NULL;
        json_object_array_add(cols, json_object_new_string("_uuid"));
        for (char *t = strtok_r(list, " ", &save); t; t = strtok_r(NULL, " ", &save))
            json_object_array_add(cols, json_object_new_string(t));
        json_object_object_add(op, "op", json_object_new_string("select"));
        json_object_object_add(op, "table", json_object_new_string(tables[i][0]));
        json_object_object_add(op, "where", json_object_new_array());
        json_object_object_add(op, "columns", cols);
        json_object_array_add(ops, op);
    }
    return ops;
}

/* The "rows" of result i of the snapshot, or NULL. */
static json_object *rows(json_object *snapshot, size_t i)
{
    if (i >= ju_len(snapshot)) /* also when it is not an array */
        return NULL;
    json_object *r = member(json_object_array_get_idx(snapshot, i), "rows");
    return r && json_object_is_type(r, json_type_array) ? r : NULL;
}

/* ["uuid", "..."] -> "..." */
static const char *uuid_of(json_object *v)
{
    if (!v || !json_object_is_type(v, json_type_array) || ju_len(v) != 2)
        return NULL;
    json_object *s = json_object_array_get_idx(v, 1);
    return json_object_is_type(s, json_type_string) ? json_object_get_string(s) : NULL;
}

static json_object *name_map(json_object *rs)
{
    json_object *m = json_object_new_object();
    for (size_t i = 0; i < ju_len(rs); i++) {
        json_object *row = json_object_array_get_idx(rs, i);
        const char *name = str(row, "name"), *u = uuid_of(member(row, "_uuid"));
        if (name && u)
            json_object_object_add(m, name, json_object_new_string(u));
    }
    return m;
}

/* An OVSDB map value ["map", [[k, v]...]] has k = v. */
static bool map_has(json_object *m, const char *key, const char *value)
{
    json_object *pairs = json_object_array_get_idx(m, 1);
    for (size_t i = 0; pairs && i < ju_len(pairs); i++) {
        json_object *kv = json_object_array_get_idx(pairs, i);
        if (streq(json_object_get_string(json_object_array_get_idx(kv, 0)), key) &&
            streq(json_object_get_string(json_object_array_get_idx(kv, 1)), value))
            return true;
    }
    return false;
}

/* Adds the ports of one real bridge to refs. */
static void build_bridge_ports(struct builder *b, json_object *doc, const char *br,
                               json_object *bcfg, json_object *refs)
{
    int64_t mtu = json_object_get_int64(member(bcfg, "mtu"));

    struct iface_spec self = {.name = br, .type = "internal", .mtu = mtu};
    json_object_array_add(refs, put_simple_port(b, &self, -1, false, NULL, NULL));

    json_object_object_foreach(ju_obj(member(doc, "ports")), nic, pcfg)
    {
        if (!streq(str(pcfg, "bridge"), br))
            continue;
        struct iface_spec is = {.name = nic, .type = "", .mtu = mtu};
        json_object_array_add(refs, put_simple_port(b, &is, -1, false, NULL, NULL));
    }

    json_object_object_foreach(ju_obj(member(doc, "bonds")), bond, bd)
    {
        if (!streq(str(bd, "bridge"), br))
            continue;
        json_object *props = member(bd, "properties"), *members = member(bd, "members");
        json_object *ifaces = json_object_new_array(), *oc, *ioc = json_object_new_object();
        const char *key = str(props, "lacp-aggregation-key");
        if (key)
            json_object_object_add(ioc, "lacp-aggregation-key", json_object_new_string(key));
        for (size_t i = 0; i < ju_len(members); i++) {
            struct iface_spec is = {
                .name = json_object_get_string(json_object_array_get_idx(members, i)),
                .type = "",
                .mtu = mtu,
                .other_config = ioc};
            json_object_array_add(ifaces, put_iface(b, &is));
        }
        json_object_put(ioc);
        struct port_spec ps = {.name = bond, .ifaces = ifaces, .tag = -1, .mac = str(bd, "mac")};
        plan_bond_settings(str(bd, "mode"), props, &ps.bond_mode, &ps.lacp, &ps.updelay,
                           &ps.downdelay, &oc);
        ps.other_config = oc;
        json_object_array_add(refs, put_port(b, &ps));
        json_object_put(oc);
    }

    json_object_object_foreach(ju_obj(member(doc, "vlans")), vlan, vcfg)
    {
        if (!streq(str(vcfg, "parent_bridge"), br))
            continue;
        struct iface_spec is = {
            .name = vlan, .type = "internal", .mtu = json_object_get_int64(member(vcfg, "mtu"))};
        json_object_array_add(refs,
                              put_simple_port(b, &is, json_object_get_int64(member(vcfg, "tag")),
                                              true, member(vcfg, "external_ids"), "fake-bridge-"));
    }

    /* A tunnel: a gre or vxlan port towards the other end (tunnel.h). */
    json_object_object_foreach(ju_obj(member(doc, "tunnels")), tun, tcfg)
    {
        if (!streq(str(tcfg, "bridge"), br))
            continue;
        json_object *opts = tunnel_ovs_options(tcfg);
        struct iface_spec is = {.name = tun, .type = str(tcfg, "protocol"), .options = opts};
        json_object_array_add(refs, put_simple_port(b, &is, -1, false, NULL, NULL));
        json_object_put(opts);
    }

    json_object_object_foreach(ju_obj(member(doc, "vifs")), vif, vf)
    {
        const char *vbr = str(vf, "bridge");
        json_object *vl = member(member(doc, "vlans"), vbr);
        int64_t tag = -1;
        if (vl) {
            if (!streq(str(vl, "parent_bridge"), br))
                continue;
            tag = json_object_get_int64(member(vl, "tag"));
        } else if (!streq(vbr, br))
            continue;
        const char *st = str(member(vf, "stand_in"), "type");
        bool internal = st && streq(st, "internal");
        json_object *kb = member(member(vf, "qos"), "kbps");
        /* XCP's vif hotplug script sets attached-mac beside the
         * xs-*-uuid keys xapi passes. */
        json_object *eids = json_object_new_object();
        json_object_object_foreach(ju_obj(member(vf, "external_ids")), k, v)
        {
            json_object_object_add(eids, k, json_object_get(v));
        }
        if (!member(eids, "attached-mac"))
            json_object_object_add(eids, "attached-mac", json_object_new_string(str(vf, "mac")));
        struct iface_spec is = {.name = vif,
                                .type = internal ? "internal" : "",
                                .mtu = json_object_get_int64(member(vf, "mtu")),
                                .external_ids = eids,
                                .mac = internal ? str(vf, "mac") : NULL,
                                .kbps = kb ? json_object_get_int64(kb) : 0};
        json_object_array_add(refs, put_simple_port(b, &is, tag, false, NULL, NULL));
        json_object_put(eids);
    }
}

static json_object *root_where(const char *root)
{
    json_object *where = json_object_new_array(), *cond = json_object_new_array();
    json_object_array_add(cond, json_object_new_string("_uuid"));
    json_object_array_add(cond, json_object_new_string("=="));
    json_object_array_add(cond, pair("uuid", json_object_new_string(root)));
    json_object_array_add(where, cond);
    return where;
}

int plan_build(json_object *doc, json_object *snapshot, const char *datapath, json_object **ret_ops,
               int64_t *ret_next_cfg)
{
    json_object *ovs = rows(snapshot, 0), *brs = rows(snapshot, 1), *ports = rows(snapshot, 2),
                *ifaces = rows(snapshot, 3);
    const char *root = NULL;
    int64_t next_cfg = 0;

    if (!ovs || !brs || !ports || !ifaces)
        return -EBADMSG;
    json_object *root_row = ju_len(ovs) ? json_object_array_get_idx(ovs, 0) : NULL;
    if (root_row) {
        root = uuid_of(member(root_row, "_uuid"));
        next_cfg = json_object_get_int64(member(root_row, "next_cfg"));
        if (!root)
            return -EBADMSG;
    }

    struct builder b = {.ops = json_object_new_array(),
                        .existing = {name_map(brs), name_map(ports), name_map(ifaces)},
                        .rows = json_object_new_object()};
    json_object *tabs[] = {brs, ports, ifaces};
    for (size_t t = 0; t < ELEMENTSOF(tabs); t++)
        for (size_t i = 0; i < ju_len(tabs[t]); i++) {
            json_object *row = json_object_array_get_idx(tabs[t], i);
            const char *u = uuid_of(member(row, "_uuid"));
            if (u)
                json_object_object_add(b.rows, u, json_object_get(row));
        }
    json_object *bridge_refs = json_object_new_array();

    /* Bridges that are not ours stay as they are. */
    for (size_t i = 0; i < ju_len(brs); i++) {
        json_object *row = json_object_array_get_idx(brs, i);
        const char *name = str(row, "name"), *u = uuid_of(member(row, "_uuid"));
        if (!name || !u || member(member(doc, "bridges"), name) ||
            map_has(member(row, "external_ids"), MANAGED_KEY, "true"))
            continue;
        json_object_array_add(bridge_refs, pair("uuid", json_object_new_string(u)));
    }

    json_object_object_foreach(ju_obj(member(doc, "bridges")), br, bcfg)
    {
        json_object *port_refs = json_object_new_array();
        build_bridge_ports(&b, doc, br, bcfg, port_refs);
        json_object *managed = json_object_new_object();
        json_object_object_add(managed, MANAGED_KEY, json_object_new_string("true"));
        json_object *oc = json_object_new_object();
        const char *snoop = NULL;
        json_object_object_foreach(ju_obj(member(bcfg, "other_config")), k, v)
        {
            /* A column of its own in OVS, a key in XCP's other_config. */
            if (streq(k, "mcast_snooping_enable") || streq(k, "mcast-snooping-enable"))
                snoop = json_object_get_string(v);
            else
                json_object_object_add(oc, k, json_object_get(v));
        }
        json_object *row = json_object_new_object();
        json_object_object_add(row, "ports", pair("set", port_refs));
        json_object_object_add(row, "datapath_type", json_object_new_string(datapath));
        json_object_object_add(row, "fail_mode",
                               json_object_new_string(str(bcfg, "fail_mode") ?: "standalone"));
        json_object_object_add(row, "external_ids",
                               ovs_map(member(bcfg, "external_ids"), NULL, managed));
        json_object_object_add(row, "other_config", ovs_map(oc, NULL, NULL));
        json_object_object_add(row, "mcast_snooping_enable",
                               json_object_new_boolean(snoop && streq(snoop, "true")));
        json_object_array_add(bridge_refs, put_row(&b, "Bridge", b.existing.bridge, br, row));
        json_object_put(managed);
        json_object_put(oc);
    }

    json_object *root_row_new = json_object_new_object();
    json_object_object_add(root_row_new, "bridges", pair("set", bridge_refs));
    json_object *op = json_object_new_object();
    json_object_object_add(op, "table", json_object_new_string("Open_vSwitch"));
    if (root && ju_len(b.ops) == 0 && row_unchanged(root_row, root_row_new)) {
        /* Nothing to change: ovs-vswitchd has only to have caught up. */
        json_object_put(root_row_new);
        json_object_put(op);
        json_object_put(b.existing.bridge);
        json_object_put(b.existing.port);
        json_object_put(b.existing.iface);
        json_object_put(b.rows);
        *ret_ops = b.ops;
        *ret_next_cfg = next_cfg;
        return 0;
    }
    if (root) {
        json_object_object_add(op, "op", json_object_new_string("update"));
        json_object_object_add(op, "where", root_where(root));
        json_object_object_add(op, "row", root_row_new);
        json_object_array_add(b.ops, op);
        /* Asks ovs-vswitchd to say when it has applied this, through
         * cur_cfg, as ovs-vsctl does. */
        json_object *mut = json_object_new_object(), *muts = json_object_new_array(),
                    *m = json_object_new_array();
        json_object_array_add(m, json_object_new_string("next_cfg"));
        json_object_array_add(m, json_object_new_string("+="));
        json_object_array_add(m, json_object_new_int(1));
        json_object_array_add(muts, m);
        json_object_object_add(mut, "op", json_object_new_string("mutate"));
        json_object_object_add(mut, "table", json_object_new_string("Open_vSwitch"));
        json_object_object_add(mut, "where", root_where(root));
        json_object_object_add(mut, "mutations", muts);
        json_object_array_add(b.ops, mut);
    } else {
        /* A database nobody initialised (ovs-vsctl init was not run). */
        json_object_object_add(root_row_new, "next_cfg", json_object_new_int(1));
        json_object_object_add(op, "op", json_object_new_string("insert"));
        json_object_object_add(op, "row", root_row_new);
        json_object_array_add(b.ops, op);
    }
    json_object_put(b.existing.bridge);
    json_object_put(b.existing.port);
    json_object_put(b.existing.iface);
    json_object_put(b.rows);
    *ret_ops = b.ops;
    *ret_next_cfg = next_cfg + 1;
    return 0;
}
