/* The JSON-RPC methods of networkd (README.md). A change checks its params
 * against the configuration (config.c), writes the new configuration to
 * its file, asks the reconciler to converge and waits for it, so that the
 * answer says whether the change is applied. Queries read the live system
 * (OVSDB over a connection of their own, netlink) rather than what was
 * asked for. */
#include "networkd/methods.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/cleanup.h"
#include "lib/log.h"
#include "lib/util.h"
#include "networkd/jsonutil.h"
#include "networkd/config.h"
#include "networkd/kernel.h"
#include "networkd/netd.h"
#include "networkd/ovsdb.h"
#include "networkd/tunnel.h"

LOG_MODULE("methods");

#define APPLY_TIMEOUT 60.0

typedef struct jsonrpc_error *(*mutator_fn)(json_object *doc, json_object *p,
                                            const struct cfg_check *c);
typedef struct jsonrpc_error *(*remover_fn)(json_object *doc, json_object *p);

static bool nic_exists(const char *name, void *userdata)
{
    return kernel_link_exists(userdata, name);
}

/* Replaces the configuration by doc (taken), saves it, converges and
 * waits. */
static struct jsonrpc_error *commit(struct netd *n, json_object *doc, json_object **ret_result)
{
    int r = cfg_save(n->config_path, doc);
    if (r < 0) {
        json_object_put(doc);
        return jsonrpc_app_error("STATE_WRITE_FAILED", n->config_path, strerror(-r));
    }
    json_object_put(n->config);
    n->config = doc;
    pthread_mutex_unlock(&n->lock);

    uint64_t gen = netd_kick(n);
    _cleanup_free_ char *err = NULL;
    r = netd_wait(n, gen, APPLY_TIMEOUT, &err);
    if (r == -ETIMEDOUT)
        return jsonrpc_app_error("NOT_APPLIED", "the reconciler did not finish in time");
    if (r < 0)
        return jsonrpc_app_error("NOT_APPLIED", "networkd is stopping");
    if (err)
        return jsonrpc_app_error("NOT_APPLIED", err);
    *ret_result = json_object_new_object();
    return NULL;
}

/* Applies fn to a copy of the configuration; lock held on success. */
static struct jsonrpc_error *change(struct netd *n, json_object *params, mutator_fn fn,
                                    remover_fn rm, json_object **ret_result)
{
    struct kernel *k = NULL;
    struct jsonrpc_error *e;
    json_object *doc = NULL;

    if (fn) {
        int r = kernel_open(&k);
        if (r < 0)
            return jsonrpc_app_error("KERNEL_ERROR", "netlink", strerror(-r));
    }
    struct cfg_check check = {.nic_exists = nic_exists, .userdata = k};
    pthread_mutex_lock(&n->lock);
    json_object_deep_copy(n->config, &doc, NULL);
    e = fn ? fn(doc, params, &check) : rm(doc, params);
    kernel_free(k);
    if (e) {
        pthread_mutex_unlock(&n->lock);
        json_object_put(doc);
        return e;
    }
    return commit(n, doc, ret_result);
}

#define SETTER(cname, fn)                                                                          \
    static struct jsonrpc_error *m_##cname(json_object *params, json_object **ret_result,          \
                                           void *userdata)                                         \
    {                                                                                              \
        return change(userdata, params, fn, NULL, ret_result);                                     \
    }
#define REMOVER(cname, fn)                                                                         \
    static struct jsonrpc_error *m_##cname(json_object *params, json_object **ret_result,          \
                                           void *userdata)                                         \
    {                                                                                              \
        return change(userdata, params, NULL, fn, ret_result);                                     \
    }

SETTER(bridge_set, cfg_bridge_set)
REMOVER(bridge_remove, cfg_bridge_remove)
SETTER(port_set, cfg_port_set)
REMOVER(port_remove, cfg_port_remove)
SETTER(vlan_set, cfg_vlan_set)
REMOVER(vlan_remove, cfg_vlan_remove)
SETTER(bond_set, cfg_bond_set)
REMOVER(bond_remove, cfg_bond_remove)
SETTER(ip_set, cfg_ip_set)
REMOVER(ip_remove, cfg_ip_remove)
SETTER(vif_plug, cfg_vif_plug)
REMOVER(vif_unplug, cfg_vif_unplug)
SETTER(tunnel_set, cfg_tunnel_set)
REMOVER(tunnel_remove, cfg_tunnel_remove)
SETTER(nic_set, cfg_nic_set)
REMOVER(nic_remove, cfg_nic_remove)

static struct jsonrpc_error *m_config_replace(json_object *params, json_object **ret_result,
                                              void *userdata)
{
    struct netd *n = userdata;
    struct kernel *k = NULL;
    json_object *in = NULL, *doc = NULL;
    int r;

    json_object_object_get_ex(params, "config", &in);
    if ((r = kernel_open(&k)) < 0)
        return jsonrpc_app_error("KERNEL_ERROR", "netlink", strerror(-r));
    struct cfg_check check = {.nic_exists = nic_exists, .userdata = k};
    struct jsonrpc_error *e = cfg_rebuild(in, &check, &doc);
    kernel_free(k);
    if (e)
        return e;
    pthread_mutex_lock(&n->lock);
    return commit(n, doc, ret_result);
}

static struct jsonrpc_error *m_config_get(json_object *params, json_object **ret_result,
                                          void *userdata)
{
    struct netd *n = userdata;
    (void)params;
    *ret_result = NULL;
    pthread_mutex_lock(&n->lock);
    json_object_deep_copy(n->config, ret_result, NULL);
    pthread_mutex_unlock(&n->lock);
    return NULL;
}

static struct jsonrpc_error *m_reconcile(json_object *params, json_object **ret_result,
                                         void *userdata)
{
    struct netd *n = userdata;
    (void)params;
    pthread_mutex_lock(&n->lock);
    json_object *doc = NULL;
    json_object_deep_copy(n->config, &doc, NULL);
    /* Unchanged configuration; commit rewrites the file, harmlessly. */
    return commit(n, doc, ret_result);
}

/* Long poll for xapi: answers {generation} once a link, an address or a
 * DHCP lease changed after generation since, or after timeout seconds. */
static struct jsonrpc_error *m_state_wait(json_object *params, json_object **ret_result,
                                          void *userdata)
{
    struct netd *n = userdata;
    json_object *v = NULL;
    int64_t since = 0, timeout = 30;
    if (json_object_object_get_ex(params, "since", &v))
        since = json_object_get_int64(v);
    if (json_object_object_get_ex(params, "timeout", &v))
        timeout = json_object_get_int64(v);
    char buf[32];
    if (since < 0) {
        snprintf(buf, sizeof(buf), "%" PRId64, since);
        return jsonrpc_app_error("INVALID_VALUE", "since", buf);
    }
    if (timeout < 0 || timeout > 60) {
        snprintf(buf, sizeof(buf), "%" PRId64, timeout);
        return jsonrpc_app_error("INVALID_VALUE", "timeout", buf);
    }
    uint64_t g = netd_wait_observed(n, (uint64_t)since, (double)timeout);
    *ret_result = json_object_new_object();
    json_object_object_add(*ret_result, "generation", json_object_new_int64((int64_t)g));
    return NULL;
}

static struct jsonrpc_error *m_nic_list(json_object *params, json_object **ret_result,
                                        void *userdata)
{
    struct netd *n = userdata;
    struct kernel *k = NULL;
    json_object *nics = NULL;
    int r;

    (void)params;
    if ((r = kernel_open(&k)) < 0 || (r = kernel_nics(k, &nics)) < 0) {
        kernel_free(k);
        return jsonrpc_app_error("KERNEL_ERROR", "netlink", strerror(-r));
    }
    kernel_free(k);
    /* A VIF's veth stand-in is not a NIC. */
    json_object *out = json_object_new_array();
    pthread_mutex_lock(&n->lock);
    for (size_t i = 0; i < ju_len(nics); i++) {
        json_object *nic = json_object_array_get_idx(nics, i), *name = NULL;
        json_object_object_get_ex(nic, "name", &name);
        const char *owner = cfg_name_owner(n->config, json_object_get_string(name));
        if (owner && streq(owner, "vifs"))
            continue;
        json_object_array_add(out, json_object_get(nic));
    }
    pthread_mutex_unlock(&n->lock);
    json_object_put(nics);
    *ret_result = out;
    return NULL;
}

/* ---- state/get ---- */

/* An OVSDB value as plain JSON: sets as arrays, maps as objects, UUIDs as
 * strings; an empty optional value as null. */
static json_object *plain(json_object *v, bool optional)
{
    if (!json_object_is_type(v, json_type_array))
        return json_object_get(v);
    const char *tag = json_object_get_string(json_object_array_get_idx(v, 0));
    json_object *body = json_object_array_get_idx(v, 1);
    if (streq(tag, "uuid") || streq(tag, "named-uuid"))
        return json_object_get(body);
    if (streq(tag, "map")) {
        json_object *o = json_object_new_object();
        for (size_t i = 0; i < ju_len(body); i++) {
            json_object *kv = json_object_array_get_idx(body, i);
            json_object_object_add(o, json_object_get_string(json_object_array_get_idx(kv, 0)),
                                   plain(json_object_array_get_idx(kv, 1), false));
        }
        return o;
    }
    if (optional && ju_len(body) == 0)
        return NULL;
    json_object *a = json_object_new_array();
    for (size_t i = 0; i < ju_len(body); i++)
        json_object_array_add(a, plain(json_object_array_get_idx(body, i), false));
    return a;
}

static json_object *select_op(const char *table, const char *const *cols)
{
    json_object *op = json_object_new_object(), *c = json_object_new_array();
    for (; *cols; cols++)
        json_object_array_add(c, json_object_new_string(*cols));
    json_object_object_add(op, "op", json_object_new_string("select"));
    json_object_object_add(op, "table", json_object_new_string(table));
    json_object_object_add(op, "where", json_object_new_array());
    json_object_object_add(op, "columns", c);
    return op;
}

/* uuid -> row with plain values (optional columns null when empty). */
static json_object *index_rows(json_object *result, const char *const *optional)
{
    json_object *rows = NULL, *idx = json_object_new_object();
    json_object_object_get_ex(result, "rows", &rows);
    for (size_t i = 0; i < ju_len(rows); i++) {
        json_object *row = json_object_array_get_idx(rows, i), *o = json_object_new_object();
        const char *uuid = NULL;
        json_object_object_foreach(ju_obj(row), col, val)
        {
            bool opt = false;
            for (const char *const *p = optional; *p; p++)
                opt |= streq(*p, col);
            if (streq(col, "_uuid")) {
                uuid = json_object_get_string(json_object_array_get_idx(val, 1));
                continue;
            }
            json_object_object_add(o, col, plain(val, opt));
        }
        if (uuid)
            json_object_object_add(idx, uuid, o);
        else
            json_object_put(o);
    }
    return idx;
}

/* Replaces the UUIDs in row[key] by the rows of idx they name. */
static void resolve(json_object *row, const char *key, json_object *idx)
{
    json_object *refs = NULL, *out = json_object_new_array();
    json_object_object_get_ex(row, key, &refs);
    for (size_t i = 0; i < ju_len(refs); i++) {
        json_object *r = NULL;
        if (json_object_object_get_ex(
                idx, json_object_get_string(json_object_array_get_idx(refs, i)), &r))
            json_object_array_add(out, json_object_get(r));
    }
    json_object_object_add(row, key, out);
}

static struct jsonrpc_error *ovs_state(struct netd *n, json_object **ret)
{
    static const char *const bcols[] = {"_uuid",         "name",      "ports",
                                        "datapath_type", "fail_mode", "external_ids",
                                        "other_config",  NULL};
    static const char *const pcols[] = {
        "_uuid", "name",         "interfaces",        "tag",          "fake_bridge", "bond_mode",
        "lacp",  "external_ids", "bond_active_slave", "other_config", NULL};
    static const char *const icols[] = {"_uuid",        "name",        "type",       "ofport",
                                        "mtu",          "link_state",  "mac_in_use", "error",
                                        "external_ids", "admin_state", NULL};
    static const char *const optional[] = {
        "fail_mode", "tag",         "bond_mode",         "lacp",
        "ofport",    "mtu",         "link_state",        "mac_in_use",
        "error",     "admin_state", "bond_active_slave", NULL};
    struct ovsdb *db = NULL;
    json_object *ops = json_object_new_array(), *res = NULL;
    _cleanup_free_ char *why = NULL;
    int r;

    json_object_array_add(ops, select_op("Bridge", bcols));
    json_object_array_add(ops, select_op("Port", pcols));
    json_object_array_add(ops, select_op("Interface", icols));
    if ((r = ovsdb_connect(n->opt.ovsdb, 2.0, &db)) < 0) {
        json_object_put(ops);
        return jsonrpc_app_error("OVSDB_UNAVAILABLE", n->opt.ovsdb, strerror(-r));
    }
    r = ovsdb_transact(db, ops, 10.0, &res, &why);
    ovsdb_free(db);
    if (r < 0)
        return jsonrpc_app_error("OVSDB_UNAVAILABLE", n->opt.ovsdb, why ? why : strerror(-r));
    json_object *bridges = index_rows(json_object_array_get_idx(res, 0), optional);
    json_object *ports = index_rows(json_object_array_get_idx(res, 1), optional);
    json_object *ifaces = index_rows(json_object_array_get_idx(res, 2), optional);
    json_object_put(res);
    json_object_object_foreach(ju_obj(ports), pu, port)
    {
        (void)pu;
        resolve(port, "interfaces", ifaces);
    }
    json_object *out = json_object_new_array();
    json_object_object_foreach(ju_obj(bridges), bu, br)
    {
        (void)bu;
        resolve(br, "ports", ports);
        json_object_array_add(out, json_object_get(br));
    }
    json_object_put(bridges);
    json_object_put(ports);
    json_object_put(ifaces);
    *ret = out;
    return NULL;
}

/* {iface: {pid, lease}} of the interfaces in IPv4 DHCP mode of ips. */
static json_object *dhcp_state(struct netd *n, json_object *ips)
{
    json_object *dhcp = json_object_new_object();
    json_object_object_foreach(ju_obj(ips), iface, ip)
    {
        json_object *v4 = NULL, *mode = NULL;
        json_object_object_get_ex(ip, "ipv4", &v4);
        json_object_object_get_ex(v4, "mode", &mode);
        if (!mode || !streq(json_object_get_string(mode), "dhcp"))
            continue;
        json_object *d = json_object_new_object();
        int pid = dhcp_pid(&n->dhcp, iface, 4);
        json_object_object_add(d, "pid", pid ? json_object_new_int(pid) : NULL);
        json_object_object_add(d, "lease", dhcp_lease(&n->dhcp, iface, 4));
        json_object_object_add(dhcp, iface, d);
    }
    return dhcp;
}

/* Only the DHCP part of state/get: cheap enough to follow every change. */
static struct jsonrpc_error *m_dhcp_list(json_object *params, json_object **ret_result,
                                         void *userdata)
{
    struct netd *n = userdata;
    json_object *ips = NULL;
    (void)params;
    pthread_mutex_lock(&n->lock);
    json_object_deep_copy(ju_member(n->config, "ips"), &ips, NULL);
    pthread_mutex_unlock(&n->lock);
    *ret_result = dhcp_state(n, ips);
    json_object_put(ips);
    return NULL;
}

static struct jsonrpc_error *m_state_get(json_object *params, json_object **ret_result,
                                         void *userdata)
{
    struct netd *n = userdata;
    json_object *o = json_object_new_object(), *bridges = NULL, *links = NULL, *routes = NULL;
    struct kernel *k = NULL;
    int r;

    (void)params;
    pthread_mutex_lock(&n->lock);
    json_object *rec = json_object_new_object();
    json_object_object_add(rec, "ovsdb_connected", json_object_new_boolean(n->ovsdb_connected));
    json_object_object_add(rec, "generation", json_object_new_int64((int64_t)n->want_gen));
    json_object_object_add(rec, "applied_generation", json_object_new_int64((int64_t)n->done_gen));
    json_object_object_add(rec, "observed_generation", json_object_new_int64((int64_t)n->obs_gen));
    json_object_object_add(rec, "last_error",
                           n->last_error ? json_object_new_string(n->last_error) : NULL);
    json_object_object_add(rec, "last_converge_seconds",
                           json_object_new_double(n->last_converge_s));
    json_object_object_add(rec, "converges", json_object_new_int64((int64_t)n->converges));
    json_object_object_add(rec, "ovsdb_connects", json_object_new_int64((int64_t)n->reconnects));
    json_object *ips = NULL;
    json_object_deep_copy(cfg_section(n->config, "ips"), &ips, NULL);
    pthread_mutex_unlock(&n->lock);
    json_object_object_add(o, "reconciler", rec);

    struct jsonrpc_error *e = ovs_state(n, &bridges);
    if (e) {
        /* The kernel's half is still worth reporting. */
        json_object_object_add(o, "bridges", NULL);
        json_object_object_add(o, "ovsdb_error", json_object_new_string(e->message));
        if (e->n_app_params > 1)
            json_object_object_add(o, "ovsdb_error", json_object_new_string(e->app_params[1]));
        jsonrpc_error_free(e);
    } else
        json_object_object_add(o, "bridges", bridges);

    if ((r = kernel_open(&k)) < 0 || (r = kernel_links(k, &links, &routes)) < 0) {
        kernel_free(k);
        json_object_put(o);
        json_object_put(ips);
        return jsonrpc_app_error("KERNEL_ERROR", "netlink", strerror(-r));
    }
    kernel_free(k);
    json_object_object_add(o, "links", links);
    json_object_object_add(o, "default_routes", routes);

    json_object_object_add(o, "dhcp", dhcp_state(n, ips));
    json_object_put(ips);
    *ret_result = o;
    return NULL;
}

/* ---- the table ---- */

static const struct jsonrpc_param p_none[] = {{0}};
static const struct jsonrpc_param p_name[] = {{"name", JP_STRING, true}, {0}};
static const struct jsonrpc_param p_bridge_set[] = {
    {"name", JP_STRING, true},          {"mtu", JP_INT, false},
    {"fail_mode", JP_STRING, false},    {"external_ids", JP_OBJECT, false},
    {"other_config", JP_OBJECT, false}, {0}};
static const struct jsonrpc_param p_port_set[] = {
    {"bridge", JP_STRING, true}, {"name", JP_STRING, true}, {0}};
static const struct jsonrpc_param p_vlan_set[] = {
    {"bridge", JP_STRING, true}, {"parent_bridge", JP_STRING, true}, {"tag", JP_INT, true},
    {"mtu", JP_INT, false},      {"external_ids", JP_OBJECT, false}, {0}};
static const struct jsonrpc_param p_vlan_remove[] = {{"bridge", JP_STRING, true}, {0}};
static const struct jsonrpc_param p_bond_set[] = {{"bridge", JP_STRING, true},
                                                  {"name", JP_STRING, true},
                                                  {"members", JP_ARRAY, true},
                                                  {"mode", JP_STRING, false},
                                                  {"properties", JP_OBJECT, false},
                                                  {"mac", JP_STRING, false},
                                                  {0}};
static const struct jsonrpc_param p_ip_set[] = {{"interface", JP_STRING, true},
                                                {"ipv4", JP_OBJECT, false},
                                                {"ipv6", JP_OBJECT, false},
                                                {"dns", JP_ARRAY, false},
                                                {"default_gateway", JP_BOOL, false},
                                                {"dns_interface", JP_BOOL, false},
                                                {0}};
static const struct jsonrpc_param p_ip_remove[] = {{"interface", JP_STRING, true}, {0}};
static const struct jsonrpc_param p_vif_plug[] = {{"bridge", JP_STRING, true},
                                                  {"name", JP_STRING, true},
                                                  {"mac", JP_STRING, true},
                                                  {"mtu", JP_INT, false},
                                                  {"locking_mode", JP_STRING, false},
                                                  {"ipv4_allowed", JP_ARRAY, false},
                                                  {"ipv6_allowed", JP_ARRAY, false},
                                                  {"external_ids", JP_OBJECT, false},
                                                  {"qos", JP_OBJECT, false},
                                                  {"stand_in", JP_OBJECT, false},
                                                  {0}};
static const struct jsonrpc_param p_state_wait[] = {
    {"since", JP_INT, true}, {"timeout", JP_INT, false}, {0}};
static const struct jsonrpc_param p_tunnel_set[] = {{"name", JP_STRING, true},
                                                    {"bridge", JP_STRING, true},
                                                    {"protocol", JP_STRING, false},
                                                    {"remote_ip", JP_STRING, true},
                                                    {"key", JP_STRING, false},
                                                    {"dst_port", JP_STRING, false},
                                                    {0}};
static const struct jsonrpc_param p_nic_set[] = {
    {"name", JP_STRING, true}, {"gro", JP_STRING, false}, {0}};
static const struct jsonrpc_param p_config_replace[] = {{"config", JP_OBJECT, true}, {0}};

static const struct jsonrpc_method methods[] = {
    {"nic/list", m_nic_list, p_none},
    {"config/get", m_config_get, p_none},
    {"config/replace", m_config_replace, p_config_replace},
    {"state/get", m_state_get, p_none},
    {"state/wait", m_state_wait, p_state_wait},
    {"dhcp/list", m_dhcp_list, p_none},
    {"reconcile", m_reconcile, p_none},
    {"bridge/set", m_bridge_set, p_bridge_set},
    {"bridge/remove", m_bridge_remove, p_name},
    {"port/set", m_port_set, p_port_set},
    {"port/remove", m_port_remove, p_name},
    {"vlan/set", m_vlan_set, p_vlan_set},
    {"vlan/remove", m_vlan_remove, p_vlan_remove},
    {"bond/set", m_bond_set, p_bond_set},
    {"bond/remove", m_bond_remove, p_name},
    {"ip/set", m_ip_set, p_ip_set},
    {"ip/remove", m_ip_remove, p_ip_remove},
    {"vif/plug", m_vif_plug, p_vif_plug},
    {"vif/unplug", m_vif_unplug, p_name},
    {"tunnel/set", m_tunnel_set, p_tunnel_set},
    {"tunnel/remove", m_tunnel_remove, p_name},
    {"nic/set", m_nic_set, p_nic_set},
    {"nic/remove", m_nic_remove, p_name},
    {0},
};

const struct jsonrpc_method *networkd_methods(void)
{
    return methods;
}
