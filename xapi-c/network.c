/* Calls to networkd, the host's network configuration derived from the
 * database, changes with their undo, NIC discovery, the resynchronisation
 * at start, and the thread that then follows the database's network rows
 * and the NICs' link state (see network.h). */
#include "network.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/random.h>
#include <string.h>
#include <time.h>

#include "api.h"
#include "config.h"
#include "lib/jsonrpc.h"
#include "lib/log.h"
#include "lib/strlist.h"
#include "lib/util.h"

LOG_MODULE("network");

#define RETRY_DELAY 1.0      /* between attempts while networkd is away */
#define SYNC_TIMEOUT 120.0   /* networkd waits up to 60 s for a convergence */
#define METRICS_INTERVAL 5.0 /* seconds between refreshes of PIF_metrics */

static struct {
    char *path; /* NULL: no networkd */
    char *management_nic;
    char *stand_in;
    pthread_t thread, watcher;
    bool running, watching, stopping, ready;
    pthread_mutex_t lock; /* guards stopping, ready */
    pthread_cond_t cond;
    pthread_mutex_t sync_lock; /* one config/replace at a time; guards last_sent */
    char *last_sent;
    bool resent; /* a new configuration went to networkd: leases to read again (lock) */
} nw = {.lock = PTHREAD_MUTEX_INITIALIZER,
        .cond = PTHREAD_COND_INITIALIZER,
        .sync_lock = PTHREAD_MUTEX_INITIALIZER};

bool network_enabled(void)
{
    return nw.path != NULL;
}

/* ---- calls ---- */

static bool xenapi_code(const char *code)
{
    for (int i = 0; i < ERR__COUNT; i++)
        if (streq(model_errors[i].code, code))
            return true;
    return false;
}

struct api_error *network_call(const char *method, json_object *params, double timeout,
                               json_object **ret_result)
{
    if (!nw.path)
        return api_failf(INTERNAL_ERROR, "this host has no network agent (networkd): %s", method);
    struct jsonrpc_client *cl = jsonrpc_client_new(nw.path);
    struct jsonrpc_error *je = NULL;
    json_object *res = NULL;
    struct api_error *e = NULL;

    int r = jsonrpc_call(cl, method, params, timeout, &res, &je);
    jsonrpc_client_free(cl);
    if (r == -EPROTO && je && je->app_code && streq(je->app_code, "NOT_IMPLEMENTED"))
        e = api_failf(MESSAGE_NOT_IMPLEMENTED, "networkd: %s %s",
                      je->n_app_params > 0 ? je->app_params[0] : "",
                      je->n_app_params > 1 ? je->app_params[1] : "");
    else if (r == -EPROTO && je && je->app_code && xenapi_code(je->app_code))
        /* networkd names the XenAPI error itself (VLAN_TAG_INVALID...) */
        e = api_error_new(je->app_code, (const char *const *)je->app_params, je->n_app_params);
    else if (r == -EPROTO && je && je->app_code) {
        struct strbuf sb;
        strbuf_init(&sb, 64);
        strbuf_addf(&sb, "networkd %s: %s", method, je->app_code);
        for (size_t i = 0; i < je->n_app_params; i++)
            strbuf_addf(&sb, " %s", je->app_params[i]);
        e = api_failf(INTERNAL_ERROR, "%s", sb.buf);
        strbuf_done(&sb);
    } else if (r == -EPROTO && je)
        e = api_failf(INTERNAL_ERROR, "networkd %s: %s", method, je->message);
    else if (r < 0)
        e = api_failf(INTERNAL_ERROR, "networkd is not answering (%s): %s", method, strerror(-r));
    jsonrpc_error_free(je);
    if (!e && ret_result)
        *ret_result = res;
    else
        json_object_put(res);
    return e;
}

/* ---- small helpers ---- */

size_t network_alen(json_object *a)
{
    return json_object_is_type(a, json_type_array) ? json_object_array_length(a) : 0;
}

static json_object *jget(json_object *o, const char *key)
{
    json_object *v = NULL;
    if (o)
        json_object_object_get_ex(o, key, &v);
    return v;
}

static const char *jstr(json_object *o, const char *key)
{
    json_object *v = jget(o, key);
    return v && json_object_is_type(v, json_type_string) ? json_object_get_string(v) : "";
}

static void add_str(json_object *o, const char *k, const char *v)
{
    json_object_object_add(o, k, json_object_new_string(v));
}

static bool is_null_ref(const char *ref)
{
    return !ref || !*ref || streq(ref, "OpaqueRef:NULL");
}

static bool mine(const struct row *pif)
{
    return streq(pif->v[FIDX(PIF, host)], xapi_state.host_ref);
}

bool network_valid_ifname(const char *name)
{
    size_t n = strlen(name);
    if (n < 1 || n > 15 || streq(name, ".") || streq(name, ".."))
        return false;
    for (size_t i = 0; i < n; i++)
        if (!isalnum((unsigned char)name[i]) && !strchr("_.-", name[i]))
            return false;
    return true;
}

bool network_valid_mac(const char *mac)
{
    unsigned b[6];
    char tail;
    if (strlen(mac) != 17 || sscanf(mac, "%2x:%2x:%2x:%2x:%2x:%2x%c", &b[0], &b[1], &b[2], &b[3],
                                    &b[4], &b[5], &tail) != 6)
        return false;
    for (int i = 0; i < 17; i++)
        if (i % 3 == 2 ? mac[i] != ':' : !isxdigit((unsigned char)mac[i]))
            return false;
    return !(b[0] & 1);
}

static bool name_used(const char *prefix, const char *name)
{
    size_t it = 0;
    const struct row *r;
    while (db_next(C_network, &it, &r))
        if (streq(r->v[FIDX(network, bridge)], name))
            return true;
    if (streq(prefix, "bond")) {
        it = 0;
        while (db_next(C_PIF, &it, &r))
            if (mine(r) && streq(r->v[FIDX(PIF, device)], name))
                return true;
    }
    return false;
}

void network_free_name(const char *prefix, char out[16])
{
    for (int i = 0; i < 10000; i++) {
        snprintf(out, 16, "%s%d", prefix, i);
        if (!name_used(prefix, out))
            return;
    }
}

/* ---- changes with their undo ---- */

enum undo_kind { U_DELETE, U_SET, U_CREATE };

struct undo {
    enum undo_kind kind;
    int cls, field;
    char *ref, *value;
    char **vals;
};

struct net_tx {
    struct changeset *cs;
    struct undo *u;
    size_t n;
};

struct net_tx *net_tx_new(void)
{
    struct net_tx *tx = xcalloc(1, sizeof(*tx));
    tx->cs = changeset_new();
    return tx;
}

static void free_vals(int cls, char **vals)
{
    if (!vals)
        return;
    for (int i = 0; i < model_classes[cls].n_fields; i++)
        free(vals[i]);
    free(vals);
}

void net_tx_free(struct net_tx *tx)
{
    if (!tx)
        return;
    changeset_free(tx->cs);
    for (size_t i = 0; i < tx->n; i++) {
        free(tx->u[i].ref);
        free(tx->u[i].value);
        free_vals(tx->u[i].cls, tx->u[i].vals);
    }
    free(tx->u);
    free(tx);
}

static struct undo *push(struct net_tx *tx, enum undo_kind k, int cls, const char *ref)
{
    tx->u = xrealloc(tx->u, (tx->n + 1) * sizeof(*tx->u));
    struct undo *u = &tx->u[tx->n++];
    *u = (struct undo){.kind = k, .cls = cls, .field = -1, .ref = xstrdup(ref)};
    return u;
}

void net_tx_create(struct net_tx *tx, int cls, const char *ref, char **vals)
{
    changeset_create(tx->cs, cls, ref, vals);
    push(tx, U_DELETE, cls, ref);
}

void net_tx_set(struct net_tx *tx, const struct row *r, int field, const char *value)
{
    if (streq(r->v[field], value))
        return;
    changeset_set(tx->cs, r->cls, r->ref, field, value);
    struct undo *u = push(tx, U_SET, r->cls, r->ref);
    u->field = field;
    u->value = xstrdup(r->v[field]);
}

void net_tx_delete(struct net_tx *tx, const struct row *r)
{
    int nf = model_classes[r->cls].n_fields;
    struct undo *u = push(tx, U_CREATE, r->cls, r->ref);
    u->vals = xcalloc((size_t)nf + 1, sizeof(char *));
    for (int i = 0; i < nf; i++)
        u->vals[i] = r->v[i] ? xstrdup(r->v[i]) : NULL;
    changeset_delete(tx->cs, r->cls, r->ref);
}

struct api_error *net_tx_apply(struct net_tx *tx)
{
    if (changeset_size(tx->cs) == 0)
        return NULL;
    int r = db_apply(tx->cs);
    return r < 0 ? api_failf(INTERNAL_ERROR, "database: %s", strerror(-r)) : NULL;
}

/* Reverses an applied tx, last change first. */
static void revert(struct net_tx *tx)
{
    struct changeset *cs = changeset_new();
    db_wrlock();
    for (size_t i = tx->n; i-- > 0;) {
        struct undo *u = &tx->u[i];
        if (u->kind == U_DELETE)
            changeset_delete(cs, u->cls, u->ref);
        else if (u->kind == U_SET)
            changeset_set(cs, u->cls, u->ref, u->field, u->value);
        else {
            changeset_create(cs, u->cls, u->ref, u->vals);
            u->vals = NULL;
        }
    }
    int r = db_apply(cs);
    db_unlock();
    changeset_free(cs);
    if (r < 0)
        log_error("cannot undo a refused network change: %s", strerror(-r));
}

struct api_error *net_tx_end(struct net_tx *tx, struct api_error *e)
{
    db_unlock();
    if (e || !network_enabled())
        net_tx_free(tx);
    else
        e = net_tx_commit(tx);
    return e;
}

struct api_error *net_tx_finish(struct net_tx *tx, struct api_error *e, struct out *o)
{
    if (!e)
        e = net_tx_apply(tx);
    e = net_tx_end(tx, e);
    if (!e)
        out_void(o);
    return e;
}

struct api_error *net_tx_commit(struct net_tx *tx)
{
    struct api_error *e = network_sync();
    if (e && changeset_size(tx->cs) > 0) {
        log_warning("network change refused (%s %s): undone", e->code, e->n ? e->params[0] : "");
        revert(tx);
        struct api_error *e2 = nw.path ? network_sync() : NULL;
        if (e2)
            log_error("network configuration not restored: %s %s", e2->code,
                      e2->n ? e2->params[0] : "");
        api_error_free(e2);
    }
    net_tx_free(tx);
    return e;
}

/* ---- the desired configuration ---- */

/* The first ref of a set's canonical text, or "" (scratch holds it). */
static const char *first_ref(const char *set, char out[64])
{
    struct strlist_iter it;
    const char *ref;
    out[0] = '\0';
    strlist_iter_init(&it, set);
    if (strlist_iter_next(&it, NULL, &ref))
        snprintf(out, 64, "%s", ref);
    strlist_iter_done(&it);
    return out;
}

static const char *net_bridge(const char *net_ref)
{
    const struct row *n = db_get(C_network, net_ref);
    return n ? n->v[FIDX(network, bridge)] : "";
}

static int64_t net_mtu(const char *net_ref)
{
    const struct row *n = db_get(C_network, net_ref);
    return n ? strtoll(n->v[FIDX(network, MTU)], NULL, 10) : 1500;
}

static json_object *map_json(const char *text)
{
    json_object *o = json_tokener_parse(text ? text : "{}");
    if (!json_object_is_type(o, json_type_object)) {
        json_object_put(o);
        o = json_object_new_object();
    }
    return o;
}

static json_object *set_json(const char *text)
{
    json_object *o = json_tokener_parse(text ? text : "[]");
    if (!json_object_is_type(o, json_type_array)) {
        json_object_put(o);
        o = json_object_new_array();
    }
    return o;
}

static const char *lower_mode(const char *m)
{
    if (streq(m, "DHCP"))
        return "dhcp";
    if (streq(m, "Static"))
        return "static";
    if (streq(m, "Autoconf"))
        return "autoconf";
    return "none";
}

/* ips entry of a PIF with an address configuration, or NULL. */
static json_object *pif_ip(const struct row *p)
{
    const char *m4 = p->v[FIDX(PIF, ip_configuration_mode)];
    const char *m6 = p->v[FIDX(PIF, ipv6_configuration_mode)];
    if (streq(m4, "None") && streq(m6, "None"))
        return NULL;
    json_object *ip = json_object_new_object(), *v4 = json_object_new_object();
    add_str(v4, "mode", lower_mode(m4));
    if (streq(m4, "Static")) {
        add_str(v4, "address", p->v[FIDX(PIF, IP)]);
        add_str(v4, "netmask", p->v[FIDX(PIF, netmask)]);
        if (*p->v[FIDX(PIF, gateway)])
            add_str(v4, "gateway", p->v[FIDX(PIF, gateway)]);
    }
    json_object_object_add(ip, "ipv4", v4);
    json_object *v6 = json_object_new_object();
    add_str(v6, "mode", lower_mode(m6));
    if (streq(m6, "Static")) {
        char first[64];
        json_object *addrs = set_json(p->v[FIDX(PIF, IPv6)]);
        snprintf(first, sizeof(first), "%s",
                 network_alen(addrs) ? json_object_get_string(json_object_array_get_idx(addrs, 0))
                                     : "");
        json_object_put(addrs);
        add_str(v6, "address", first);
        if (*p->v[FIDX(PIF, ipv6_gateway)])
            add_str(v6, "gateway", p->v[FIDX(PIF, ipv6_gateway)]);
    }
    json_object_object_add(ip, "ipv6", v6);
    json_object *dns = json_object_new_array();
    /* A DHCP PIF's DNS is its lease's (written there by dhcp_pifs), not
     * a configuration: networkd follows the lease itself. */
    char *list = xstrdup(streq(m4, "DHCP") ? "" : p->v[FIDX(PIF, DNS)]), *save = NULL;
    for (char *t = strtok_r(list, ", ", &save); t; t = strtok_r(NULL, ", ", &save))
        json_object_array_add(dns, json_object_new_string(t));
    free(list);
    json_object_object_add(ip, "dns", dns);
    return ip;
}

/* Whether the PIF's other_config says key=true. */
static bool other_config_true(const struct row *p, const char *key)
{
    char *v = strmap_get(p->v[FIDX(PIF, other_config)], key);
    bool yes = v && streq(v, "true");
    free(v);
    return yes;
}

/* Whether the PIF has an address of its primary type, XCP's condition
 * for a gateway or DNS interface. */
static bool has_primary_address(const struct row *p)
{
    bool v6 = streq(p->v[FIDX(PIF, primary_address_type)], "IPv6");
    return !streq(p->v[v6 ? FIDX(PIF, ipv6_configuration_mode) : FIDX(PIF, ip_configuration_mode)],
                  "None");
}

/* The interface (the ips entry) whose flag key prev (the configuration
 * networkd has) sets, if ips holds it with an address of its primary
 * type (candidates); NULL if none. */
static const char *previous_holder(json_object *prev, json_object *candidates, const char *key)
{
    json_object *ips = jget(prev, "ips");
    if (!json_object_is_type(ips, json_type_object))
        return NULL;
    json_object_object_foreach(ips, iface, ip)
    {
        if (json_object_get_boolean(jget(ip, key)) && jget(candidates, iface))
            return iface;
    }
    return NULL;
}

/* Marks the gateway or DNS interface in ips (flag key, "default_gateway"
 * or "dns_interface"), chosen as XCP's determine_gateway_and_dns_ifs
 * does among the interfaces with an address of their primary type
 * (candidates, bridge -> PIF device): the one whose PIF has
 * other_config:defaultroute=true or peerdns=true (flagged; the first by
 * device name if several), else the management one. Without either XCP keeps the interface its
 * networkd has (host.management_disable does not touch it) until a PIF comes up, then takes any:
 * the one networkd has (prev) if still a candidate, else the first by device name. So disabling
 * management keeps dom0's default route and DNS. */
static void choose_interface(json_object *ips, json_object *candidates, json_object *flagged,
                             const char *mgmt, json_object *prev, const char *key)
{
    const char *pick = NULL, *pick_dev = NULL;
    json_object_object_foreach(flagged, fbr, fdev)
    {
        const char *dev = json_object_get_string(fdev);
        if (!pick || strcmp(dev, pick_dev) < 0) {
            pick = fbr;
            pick_dev = dev;
        }
    }
    if (!pick && mgmt && jget(candidates, mgmt))
        pick = mgmt;
    if (!pick)
        pick = previous_holder(prev, candidates, key);
    if (!pick) {
        json_object_object_foreach(candidates, cbr, cdev)
        {
            const char *dev = json_object_get_string(cdev);
            if (!pick || strcmp(dev, pick_dev) < 0) {
                pick = cbr;
                pick_dev = dev;
            }
        }
    }
    json_object_object_foreach(ips, iface, ip)
    {
        json_object_object_add(ip, key, json_object_new_boolean(pick && streq(iface, pick)));
    }
}

static void add_vif(json_object *vifs, const struct row *vif)
{
    const struct row *vm = db_get(C_VM, vif->v[FIDX(VIF, VM)]);
    const struct row *net = db_get(C_network, vif->v[FIDX(VIF, network)]);
    if (!vm || !net || !*net->v[FIDX(network, bridge)])
        return;
    const char *ps = vm->v[FIDX(VM, power_state)];
    long domid = strtol(vm->v[FIDX(VM, domid)], NULL, 10);
    if ((!streq(ps, "Running") && !streq(ps, "Paused")) || domid < 0 ||
        !streq(vm->v[FIDX(VM, resident_on)], xapi_state.host_ref))
        return;
    char name[32];
    snprintf(name, sizeof(name), "vif%ld.%s", domid, vif->v[FIDX(VIF, device)]);
    json_object *o = json_object_new_object();
    add_str(o, "bridge", net->v[FIDX(network, bridge)]);
    add_str(o, "mac", vif->v[FIDX(VIF, MAC)]);
    json_object_object_add(o, "mtu",
                           json_object_new_int64(strtoll(net->v[FIDX(network, MTU)], NULL, 10)));
    const char *lm = vif->v[FIDX(VIF, locking_mode)];
    /* network_default follows the network's default: unlocked or disabled */
    if (streq(lm, "network_default") &&
        !streq(net->v[FIDX(network, default_locking_mode)], "unlocked"))
        lm = net->v[FIDX(network, default_locking_mode)];
    add_str(o, "locking_mode", lm);
    json_object_object_add(o, "ipv4_allowed", set_json(vif->v[FIDX(VIF, ipv4_allowed)]));
    json_object_object_add(o, "ipv6_allowed", set_json(vif->v[FIDX(VIF, ipv6_allowed)]));
    json_object *ids = json_object_new_object();
    add_str(ids, "xs-vm-uuid", vm->v[FIDX(VM, uuid)]);
    add_str(ids, "xs-vif-uuid", vif->v[FIDX(VIF, uuid)]);
    add_str(ids, "xs-network-uuid", net->v[FIDX(network, uuid)]);
    json_object_object_add(o, "external_ids", ids);
    const char *qt = vif->v[FIDX(VIF, qos_algorithm_type)];
    if (qt && streq(qt, "ratelimit")) {
        char *kbps = strmap_get(vif->v[FIDX(VIF, qos_algorithm_params)], "kbps");
        if (kbps && strtoll(kbps, NULL, 10) > 0) {
            json_object *q = json_object_new_object();
            json_object_object_add(q, "kbps", json_object_new_int64(strtoll(kbps, NULL, 10)));
            json_object_object_add(o, "qos", q);
        }
        free(kbps);
    }
    if (nw.stand_in) {
        json_object *si = json_object_new_object();
        add_str(si, "type", nw.stand_in);
        json_object_object_add(o, "stand_in", si);
    }
    json_object_object_add(vifs, name, o);
}

/* Whether s is an IPv4 or IPv6 address. */
static bool ip_address(const char *s)
{
    unsigned char buf[16];
    return s && (inet_pton(AF_INET, s, buf) == 1 || inet_pton(AF_INET6, s, buf) == 1);
}

/* Whether s is a decimal number no greater than max. */
static bool small_number(const char *s, long long max)
{
    return s && *s && strlen(s) <= 12 && strspn(s, "0123456789") == strlen(s) &&
           strtoll(s, NULL, 10) <= max;
}

/* The networkd entry of a tunnel whose access PIF is this host's and
 * plugged, or NULL: its port exists once other_config names the other
 * end (remote_ip, and optionally key and dst_port), as the SDN
 * controller adds it on XCP. A value networkd would refuse leaves the
 * tunnel inactive rather than the whole host's configuration refused.
 * db lock held. */
static json_object *tunnel_entry(const struct row *t, const char **ret_name)
{
    const struct row *a = db_get(C_PIF, t->v[FIDX(tunnel, access_PIF)]);
    if (!a || !mine(a) || !streq(a->v[FIDX(PIF, currently_attached)], "true"))
        return NULL;
    const char *br = net_bridge(a->v[FIDX(PIF, network)]);
    const char *proto = t->v[FIDX(tunnel, protocol)];
    bool vxlan = streq(proto, "vxlan");
    const char *oc = t->v[FIDX(tunnel, other_config)];
    char *remote = strmap_get(oc, "remote_ip"), *key = strmap_get(oc, "key");
    char *port = strmap_get(oc, "dst_port");
    json_object *o = NULL;
    if (*br && network_valid_ifname(a->v[FIDX(PIF, device)]) && ip_address(remote) &&
        (!key || small_number(key, vxlan ? 0xffffffLL : 0xffffffffLL)) &&
        (!port || (vxlan && small_number(port, 65535) && strtol(port, NULL, 10) > 0))) {
        o = json_object_new_object();
        add_str(o, "bridge", br);
        add_str(o, "protocol", vxlan ? "vxlan" : "gre");
        add_str(o, "remote_ip", remote);
        if (key)
            add_str(o, "key", key);
        if (port)
            add_str(o, "dst_port", port);
        *ret_name = a->v[FIDX(PIF, device)];
    }
    free(remote);
    free(key);
    free(port);
    return o;
}

/* Tunnels and the bridge MAC of their networks (XCP gives a tunnel's
 * bridge its access PIF's MAC); db lock held. */
static void add_tunnels(json_object *tunnels, json_object *bridges)
{
    size_t it = 0;
    const struct row *t;
    while (db_next(C_tunnel, &it, &t)) {
        const struct row *a = db_get(C_PIF, t->v[FIDX(tunnel, access_PIF)]);
        json_object *b = NULL;
        if (a && mine(a) &&
            json_object_object_get_ex(bridges, net_bridge(a->v[FIDX(PIF, network)]), &b) &&
            network_valid_mac(a->v[FIDX(PIF, MAC)])) {
            json_object *oc = json_object_new_object();
            add_str(oc, "hwaddr", a->v[FIDX(PIF, MAC)]);
            json_object_object_add(b, "other_config", oc);
        }
        const char *name = NULL;
        json_object *e = tunnel_entry(t, &name);
        if (e)
            json_object_object_add(tunnels, name, e);
    }
}

/* PIF.properties networkd applies to NICs (gro), for this host's
 * physical PIFs; db lock held. */
static void add_nic_properties(json_object *nics)
{
    size_t it = 0;
    const struct row *p;
    while (db_next(C_PIF, &it, &p)) {
        if (!mine(p) || !streq(p->v[FIDX(PIF, physical)], "true") ||
            !network_valid_ifname(p->v[FIDX(PIF, device)]))
            continue;
        char *gro = strmap_get(p->v[FIDX(PIF, properties)], "gro");
        if (gro && (streq(gro, "on") || streq(gro, "off"))) {
            json_object *o = json_object_new_object();
            add_str(o, "gro", gro);
            json_object_object_add(nics, p->v[FIDX(PIF, device)], o);
        }
        free(gro);
    }
}

/* The whole configuration of this host's network; prev is the one
 * networkd has (or NULL), for the gateway and DNS interfaces; db lock
 * held. */
static json_object *build_config(json_object *prev)
{
    json_object *doc = json_object_new_object();
    json_object *bridges = json_object_new_object(), *vlans = json_object_new_object();
    json_object *ports = json_object_new_object(), *bonds = json_object_new_object();
    json_object *ips = json_object_new_object(), *vifs = json_object_new_object();
    size_t it = 0;
    const struct row *r;
    struct strbuf scratch;
    char ref[64];
    /* bridge -> device of the PIFs that may hold the default route or DNS */
    json_object *candidates = json_object_new_object();
    json_object *defaultroute = json_object_new_object(), *peerdns = json_object_new_object();
    const char *mgmt = NULL;

    strbuf_init(&scratch, 0);
    add_str(doc, "format", "xenia-networkd");
    json_object_object_add(doc, "version", json_object_new_int(1));

    /* PIFs first: VLAN networks are fake bridges, not bridges */
    while (db_next(C_PIF, &it, &r)) {
        if (!mine(r))
            continue;
        const char *br = net_bridge(r->v[FIDX(PIF, network)]);
        bool attached = streq(r->v[FIDX(PIF, currently_attached)], "true");
        if (!*br)
            continue;
        const struct row *vlan = db_get(C_VLAN, r->v[FIDX(PIF, VLAN_master_of)]);
        first_ref(db_value(r, FIDX(PIF, bond_master_of), &scratch), ref);
        const struct row *bond = *ref ? db_get(C_Bond, ref) : NULL;
        if (vlan) {
            const struct row *tagged = db_get(C_PIF, vlan->v[FIDX(VLAN, tagged_PIF)]);
            if (!tagged || !attached)
                continue;
            json_object *v = json_object_new_object();
            add_str(v, "parent_bridge", net_bridge(tagged->v[FIDX(PIF, network)]));
            json_object_object_add(
                v, "tag", json_object_new_int64(strtoll(vlan->v[FIDX(VLAN, tag)], NULL, 10)));
            json_object_object_add(v, "mtu",
                                   json_object_new_int64(net_mtu(r->v[FIDX(PIF, network)])));
            json_object_object_add(vlans, br, v);
        } else if (bond) {
            json_object *b = json_object_new_object(), *members = json_object_new_array();
            size_t it2 = 0;
            const struct row *s;
            while (db_next(C_PIF, &it2, &s))
                if (streq(s->v[FIDX(PIF, bond_slave_of)], bond->ref))
                    json_object_array_add(members, json_object_new_string(s->v[FIDX(PIF, device)]));
            add_str(b, "bridge", br);
            json_object_object_add(b, "members", members);
            add_str(b, "mode", bond->v[FIDX(Bond, mode)]);
            json_object_object_add(b, "properties", map_json(bond->v[FIDX(Bond, properties)]));
            add_str(b, "mac", r->v[FIDX(PIF, MAC)]);
            json_object_object_add(bonds, r->v[FIDX(PIF, device)], b);
        } else if (streq(r->v[FIDX(PIF, physical)], "true") &&
                   is_null_ref(r->v[FIDX(PIF, bond_slave_of)]) && attached) {
            json_object *p = json_object_new_object();
            add_str(p, "bridge", br);
            json_object_object_add(ports, r->v[FIDX(PIF, device)], p);
        }
        json_object *ip =
            attached && is_null_ref(r->v[FIDX(PIF, bond_slave_of)]) ? pif_ip(r) : NULL;
        if (ip) {
            json_object_object_add(ips, br, ip);
            if (has_primary_address(r)) {
                const char *dev = r->v[FIDX(PIF, device)];
                add_str(candidates, br, dev);
                if (other_config_true(r, "defaultroute"))
                    add_str(defaultroute, br, dev);
                if (other_config_true(r, "peerdns"))
                    add_str(peerdns, br, dev);
                if (streq(r->v[FIDX(PIF, management)], "true"))
                    mgmt = br;
            }
        }
    }
    choose_interface(ips, candidates, defaultroute, mgmt, prev, "default_gateway");
    choose_interface(ips, candidates, peerdns, mgmt, prev, "dns_interface");
    json_object_put(candidates);
    json_object_put(defaultroute);
    json_object_put(peerdns);
    it = 0;
    while (db_next(C_network, &it, &r)) {
        const char *br = r->v[FIDX(network, bridge)];
        if (!*br || json_object_object_get_ex(vlans, br, NULL) ||
            !streq(r->v[FIDX(network, managed)], "true"))
            continue;
        json_object *b = json_object_new_object(), *ids = json_object_new_object();
        json_object_object_add(b, "mtu",
                               json_object_new_int64(strtoll(r->v[FIDX(network, MTU)], NULL, 10)));
        add_str(ids, "xs-network-uuids", r->v[FIDX(network, uuid)]);
        json_object_object_add(b, "external_ids", ids);
        json_object_object_add(bridges, br, b);
    }
    it = 0;
    while (db_next(C_VIF, &it, &r))
        if (streq(r->v[FIDX(VIF, currently_attached)], "true"))
            add_vif(vifs, r);
    json_object *tunnels = json_object_new_object(), *nics = json_object_new_object();
    add_tunnels(tunnels, bridges);
    add_nic_properties(nics);
    strbuf_done(&scratch);
    json_object_object_add(doc, "bridges", bridges);
    json_object_object_add(doc, "vlans", vlans);
    json_object_object_add(doc, "ports", ports);
    json_object_object_add(doc, "bonds", bonds);
    json_object_object_add(doc, "ips", ips);
    json_object_object_add(doc, "vifs", vifs);
    json_object_object_add(doc, "tunnels", tunnels);
    json_object_object_add(doc, "nics", nics);
    return doc;
}

/* tunnel.status of this host's tunnels after a configuration networkd
 * took: active when its port is in it, with the key it carries. */
static void tunnel_status(json_object *doc)
{
    json_object *tunnels = jget(doc, "tunnels");
    struct changeset *cs = changeset_new();
    size_t it = 0;
    const struct row *t;
    db_wrlock();
    while (db_next(C_tunnel, &it, &t)) {
        const struct row *a = db_get(C_PIF, t->v[FIDX(tunnel, access_PIF)]);
        if (!a || !mine(a))
            continue;
        json_object *e = jget(tunnels, a->v[FIDX(PIF, device)]);
        json_object *st = json_object_new_object();
        add_str(st, "active", e ? "true" : "false");
        if (e && jget(e, "key"))
            add_str(st, "key", jstr(e, "key"));
        const char *text = json_object_to_json_string_ext(st, JSON_C_TO_STRING_PLAIN);
        json_object *have = map_json(t->v[FIDX(tunnel, status)]);
        if (!json_object_equal(have, st))
            changeset_set(cs, C_tunnel, t->ref, FIDX(tunnel, status), text);
        json_object_put(have);
        json_object_put(st);
    }
    int r = changeset_size(cs) ? db_apply(cs) : 0;
    db_unlock();
    changeset_free(cs);
    if (r < 0)
        log_warning("tunnel status not recorded: %s", strerror(-r));
}

struct api_error *network_sync(void)
{
    if (!nw.path)
        return api_failf(INTERNAL_ERROR, "this host has no network agent (networkd)");
    pthread_mutex_lock(&nw.sync_lock);
    /* What networkd has: which interfaces hold the default route and DNS
     * when no PIF says (after host.management_disable). */
    json_object *prev = nw.last_sent ? json_tokener_parse(nw.last_sent) : NULL;
    if (!prev) {
        struct api_error *pe = network_call("config/get", NULL, 10, &prev);
        api_error_free(pe);
    }
    db_rdlock();
    json_object *doc = build_config(prev);
    db_unlock();
    json_object_put(prev);
    const char *text = json_object_to_json_string_ext(doc, JSON_C_TO_STRING_PLAIN);
    struct api_error *e = NULL;
    if (!nw.last_sent || !streq(nw.last_sent, text)) {
        json_object *p = json_object_new_object();
        json_object_object_add(p, "config", json_object_get(doc));
        e = network_call("config/replace", p, SYNC_TIMEOUT, NULL);
        json_object_put(p);
        free(nw.last_sent);
        /* after a failure networkd holds something else: send again next time */
        nw.last_sent = e ? NULL : xstrdup(text);
        if (!e) {
            tunnel_status(doc);
            log_info("network configuration sent");
            pthread_mutex_lock(&nw.lock);
            nw.resent = true;
            pthread_mutex_unlock(&nw.lock);
        }
    }
    pthread_mutex_unlock(&nw.sync_lock);
    json_object_put(doc);
    return e;
}

/* ---- NICs ---- */

static void metrics_vals(json_object *nic, char **v, const struct row *old, struct net_tx *tx)
{
    char speed[32], when[DATETIME_LEN];
    int64_t s = json_object_get_int64(jget(nic, "speed"));
    snprintf(speed, sizeof(speed), "%" PRId64, s > 0 ? s : 0);
    datetime_format(time(NULL), when);
    const struct {
        int f;
        const char *v;
    } set[] = {
        {FIDX(PIF_metrics, carrier),
         json_object_get_boolean(jget(nic, "carrier")) ? "true" : "false"},
        {FIDX(PIF_metrics, vendor_id), jstr(nic, "vendor_id")},
        {FIDX(PIF_metrics, device_id), jstr(nic, "device_id")},
        {FIDX(PIF_metrics, vendor_name), ""},
        {FIDX(PIF_metrics, device_name), ""},
        {FIDX(PIF_metrics, speed), speed},
        {FIDX(PIF_metrics, duplex), streq(jstr(nic, "duplex"), "full") ? "true" : "false"},
        {FIDX(PIF_metrics, pci_bus_path), jstr(nic, "pci")},
        {FIDX(PIF_metrics, last_updated), when},
    };
    bool changed = false;
    for (size_t i = 0; i < ELEMENTSOF(set); i++) {
        if (v)
            api_set_val(v, set[i].f, set[i].v);
        else if (set[i].f == FIDX(PIF_metrics, last_updated))
            continue;
        else if (!streq(old->v[set[i].f], set[i].v)) {
            net_tx_set(tx, old, set[i].f, set[i].v);
            changed = true;
        }
    }
    if (changed)
        net_tx_set(tx, old, FIDX(PIF_metrics, last_updated), when);
}

/* Bond.links_up from the members' carrier as nic/list has it. */
static void bonds_links(struct net_tx *tx, json_object *nics)
{
    size_t it = 0;
    const struct row *b, *p;
    while (db_next(C_Bond, &it, &b)) {
        long up = 0;
        size_t it2 = 0;
        while (db_next(C_PIF, &it2, &p)) {
            if (!streq(p->v[FIDX(PIF, bond_slave_of)], b->ref))
                continue;
            for (size_t i = 0; i < network_alen(nics); i++) {
                json_object *nic = json_object_array_get_idx(nics, i);
                if (streq(jstr(nic, "name"), p->v[FIDX(PIF, device)]) &&
                    json_object_get_boolean(jget(nic, "carrier")))
                    up++;
            }
        }
        char buf[32];
        snprintf(buf, sizeof(buf), "%ld", up);
        net_tx_set(tx, b, FIDX(Bond, links_up), buf);
    }
}

/* The network xenbrN of ethN when no PIF of this host is on it. */
static const struct row *reusable_network(const char *dev)
{
    char br[32];
    size_t it = 0;
    const struct row *n, *p;
    if (strncmp(dev, "eth", 3) != 0 || strlen(dev) > 12)
        return NULL;
    snprintf(br, sizeof(br), "xenbr%s", dev + 3);
    while (db_next(C_network, &it, &n)) {
        if (!streq(n->v[FIDX(network, bridge)], br))
            continue;
        size_t it2 = 0;
        while (db_next(C_PIF, &it2, &p))
            if (mine(p) && streq(p->v[FIDX(PIF, network)], n->ref))
                return NULL;
        return n;
    }
    return NULL;
}

void network_new_pif(struct net_tx *tx, json_object *nic, bool attached, char ret_ref[64])
{
    const char *dev = jstr(nic, "name");
    char br[16], mref[64], nref[64], pref[64], label[96], mtu[32];
    /* ethN's network is xenbrN, another NIC's br<dev>, as on XCP, when
     * that name is free */
    bool eth = strncmp(dev, "eth", 3) == 0 && dev[3] &&
               strspn(dev + 3, "0123456789") == strlen(dev + 3) && strlen(dev) < 12;
    if (eth)
        snprintf(br, sizeof(br), "xenbr%s", dev + 3);
    else if (strlen(dev) <= 13)
        snprintf(br, sizeof(br), "br%s", dev);
    if ((!eth && strlen(dev) > 13) || name_used("", br))
        network_free_name("xenbr", br);
    int64_t m = json_object_get_int64(jget(nic, "mtu"));
    snprintf(mtu, sizeof(mtu), "%" PRId64, m > 0 ? m : 1500);

    char **mv = api_new_row(C_PIF_metrics, mref);
    metrics_vals(nic, mv, NULL, tx);
    api_set_val(mv, FIDX(PIF_metrics, other_config), "{}");
    net_tx_create(tx, C_PIF_metrics, mref, mv);

    /* a NIC forgotten and found again gets its network back */
    const struct row *old = reusable_network(dev);
    if (old) {
        snprintf(nref, sizeof(nref), "%s", old->ref);
    } else {
        char **nv = api_new_row(C_network, nref);
        snprintf(label, sizeof(label), "Pool-wide network associated with %s", dev);
        api_set_val(nv, FIDX(network, name_label), label);
        api_set_val(nv, FIDX(network, bridge), br);
        api_set_val(nv, FIDX(network, MTU), mtu);
        api_set_val(nv, FIDX(network, other_config), "{}");
        net_tx_create(tx, C_network, nref, nv);
    }

    char **pv = api_new_row(C_PIF, pref);
    api_set_val(pv, FIDX(PIF, device), dev);
    api_set_val(pv, FIDX(PIF, network), nref);
    api_set_val(pv, FIDX(PIF, host), xapi_state.host_ref);
    api_set_val(pv, FIDX(PIF, MAC), jstr(nic, "mac"));
    api_set_val(pv, FIDX(PIF, MTU), mtu);
    api_set_val(pv, FIDX(PIF, VLAN), "-1");
    api_set_val(pv, FIDX(PIF, metrics), mref);
    api_set_val(pv, FIDX(PIF, physical), "true");
    api_set_val(pv, FIDX(PIF, currently_attached), attached ? "true" : "false");
    net_tx_create(tx, C_PIF, pref, pv);
    if (ret_ref)
        snprintf(ret_ref, 64, "%s", pref);
}

static const struct row *pif_by_device(const char *dev)
{
    size_t it = 0;
    const struct row *r;
    while (db_next(C_PIF, &it, &r))
        if (mine(r) && streq(r->v[FIDX(PIF, device)], dev) &&
            streq(r->v[FIDX(PIF, physical)], "true"))
            return r;
    return NULL;
}

static bool have_pifs(void)
{
    size_t it = 0;
    const struct row *r;
    bool found = false;
    db_rdlock();
    while (!found && db_next(C_PIF, &it, &r))
        found = mine(r);
    db_unlock();
    return found;
}

struct api_error *network_scan(bool introduce)
{
    json_object *nics = NULL;
    struct api_error *e = network_call("nic/list", NULL, 30, &nics);
    if (e)
        return e;
    struct net_tx *tx = net_tx_new();
    bool created = false;
    db_wrlock();
    for (size_t i = 0; i < network_alen(nics); i++) {
        json_object *nic = json_object_array_get_idx(nics, i);
        const struct row *p = pif_by_device(jstr(nic, "name"));
        const struct row *m = p ? db_get(C_PIF_metrics, p->v[FIDX(PIF, metrics)]) : NULL;
        if (m)
            metrics_vals(nic, NULL, m, tx);
        else if (!p && introduce && network_valid_ifname(jstr(nic, "name"))) {
            network_new_pif(tx, nic, false, NULL);
            created = true;
        }
    }
    bonds_links(tx, nics);
    e = net_tx_apply(tx);
    db_unlock();
    json_object_put(nics);
    if (!e && created)
        return net_tx_commit(tx);
    net_tx_free(tx);
    return e;
}

/* The NIC of the first start's management interface; NULL if none. */
static char *management_nic(json_object *nics, json_object *state)
{
    if (nw.management_nic)
        return xstrdup(nw.management_nic);
    char *inv = xasprintf("%s/inventory", xapi_cfg.state_dir);
    FILE *f = fopen(inv, "re");
    char line[256], *found = NULL;
    free(inv);
    while (f && !found && fgets(line, sizeof(line), f)) {
        if (strncmp(line, "MANAGEMENT_INTERFACE=", 21) != 0)
            continue;
        char *v = line + 21;
        v[strcspn(v, "\r\n")] = '\0';
        if (*v == '\'' || *v == '"') {
            v++;
            v[strcspn(v, "'\"")] = '\0';
        }
        /* XCP's inventory names the bridge: xenbrN is ethN's */
        if (strncmp(v, "xenbr", 5) == 0)
            found = xasprintf("eth%s", v + 5);
        else if (*v)
            found = xstrdup(v);
    }
    if (f)
        fclose(f);
    if (found)
        return found;
    /* the NIC that holds the address the API listens on */
    json_object *links = jget(state, "links");
    for (size_t i = 0; i < network_alen(links); i++) {
        json_object *l = json_object_array_get_idx(links, i);
        json_object *addrs = jget(l, "addresses");
        for (size_t k = 0; k < network_alen(addrs); k++) {
            const char *a = json_object_get_string(json_object_array_get_idx(addrs, k));
            size_t n = strlen(xapi_cfg.listen);
            if (a && strncmp(a, xapi_cfg.listen, n) == 0 && a[n] == '/')
                for (size_t j = 0; j < network_alen(nics); j++)
                    if (streq(jstr(json_object_array_get_idx(nics, j), "name"), jstr(l, "name")))
                        return xstrdup(jstr(l, "name"));
        }
    }
    return NULL;
}

/* The management PIF's address as its NIC has it now: static with the
 * NIC's IPv4 address (and the default route's gateway when it goes
 * through the NIC), or DHCP when the NIC has none. */
static void management_address(struct net_tx *tx, const struct row *pif, json_object *state)
{
    const char *dev = pif->v[FIDX(PIF, device)];
    json_object *links = jget(state, "links");
    char ip[64] = "", mask[INET_ADDRSTRLEN] = "";
    for (size_t i = 0; i < network_alen(links) && !*ip; i++) {
        json_object *l = json_object_array_get_idx(links, i);
        if (!streq(jstr(l, "name"), dev))
            continue;
        json_object *addrs = jget(l, "addresses");
        for (size_t k = 0; k < network_alen(addrs) && !*ip; k++) {
            const char *a = json_object_get_string(json_object_array_get_idx(addrs, k));
            const char *slash = a ? strchr(a, '/') : NULL;
            if (!slash || !strchr(a, '.') || (size_t)(slash - a) >= sizeof(ip))
                continue;
            int len = atoi(slash + 1);
            if (len < 0 || len > 32)
                continue;
            snprintf(ip, sizeof(ip), "%.*s", (int)(slash - a), a);
            struct in_addr m = {.s_addr = htonl(len ? 0xffffffffu << (32 - len) : 0)};
            inet_ntop(AF_INET, &m, mask, sizeof(mask));
        }
    }
    net_tx_set(tx, pif, FIDX(PIF, management), "true");
    if (!*ip) {
        net_tx_set(tx, pif, FIDX(PIF, ip_configuration_mode), "DHCP");
        return;
    }
    json_object *gw = jget(jget(state, "default_routes"), "ipv4");
    net_tx_set(tx, pif, FIDX(PIF, ip_configuration_mode), "Static");
    net_tx_set(tx, pif, FIDX(PIF, IP), ip);
    net_tx_set(tx, pif, FIDX(PIF, netmask), mask);
    if (gw && streq(jstr(gw, "interface"), dev))
        net_tx_set(tx, pif, FIDX(PIF, gateway), jstr(gw, "gateway"));
}

/* First start: a PIF, network and bridge for every NIC, the management
 * interface's address moved onto its bridge. */
static struct api_error *first_start(void)
{
    json_object *nics = NULL, *state = NULL;
    struct api_error *e = network_call("nic/list", NULL, 30, &nics);
    if (!e)
        e = network_call("state/get", NULL, 30, &state);
    if (e) {
        json_object_put(nics);
        return e;
    }
    char *mgmt = management_nic(nics, state);
    struct net_tx *tx = net_tx_new();
    char mref[64] = "";
    db_wrlock();
    for (size_t i = 0; i < network_alen(nics); i++) {
        json_object *nic = json_object_array_get_idx(nics, i);
        char ref[64];
        if (!network_valid_ifname(jstr(nic, "name")) || pif_by_device(jstr(nic, "name")))
            continue; /* a PIF.scan came first */
        network_new_pif(tx, nic, true, ref);
        if (mgmt && streq(jstr(nic, "name"), mgmt))
            snprintf(mref, sizeof(mref), "%s", ref);
    }
    e = net_tx_apply(tx);
    net_tx_free(tx);
    const struct row *mp = !e && *mref ? db_get(C_PIF, mref) : NULL;
    if (mp) {
        tx = net_tx_new();
        management_address(tx, mp, state);
        e = net_tx_apply(tx);
        net_tx_free(tx);
    }
    db_unlock();
    if (!e)
        log_notice("first start: %zu NICs, management interface %s", network_alen(nics),
                   *mref ? mgmt : "none");
    if (mgmt && !*mref)
        log_warning("management interface %s is not a NIC of this host", mgmt);
    free(mgmt);
    json_object_put(nics);
    json_object_put(state);
    return e;
}

/* ---- VMs ---- */

json_object *network_vif_nic(const struct row *vif)
{
    const struct row *net = db_get(C_network, vif->v[FIDX(VIF, network)]);
    json_object *n = json_object_new_object();
    json_object_object_add(n, "devid",
                           json_object_new_int64(strtoll(vif->v[FIDX(VIF, device)], NULL, 10)));
    add_str(n, "mac", vif->v[FIDX(VIF, MAC)]);
    if (net && *net->v[FIDX(network, bridge)])
        add_str(n, "bridge", net->v[FIDX(network, bridge)]);
    json_object_object_add(
        n, "mtu",
        json_object_new_int64(net ? strtoll(net->v[FIDX(network, MTU)], NULL, 10) : 1500));
    return n;
}

json_object *network_vm_nics(const char *vm_ref)
{
    json_object *a = json_object_new_array();
    size_t it = 0;
    const struct row *r;
    db_rdlock();
    while (db_next(C_VIF, &it, &r))
        if (streq(r->v[FIDX(VIF, VM)], vm_ref))
            json_object_array_add(a, network_vif_nic(r));
    db_unlock();
    return a;
}

/* Marks every VIF of the VM attached or not, into tx; db lock held. */
static void vm_vifs(struct net_tx *tx, const char *vm_ref, bool attached)
{
    size_t it = 0;
    const struct row *r;
    while (db_next(C_VIF, &it, &r))
        if (streq(r->v[FIDX(VIF, VM)], vm_ref))
            net_tx_set(tx, r, FIDX(VIF, currently_attached), attached ? "true" : "false");
}

struct api_error *network_vm_plug(const char *vm_ref)
{
    struct net_tx *tx = net_tx_new();
    db_wrlock();
    if (nw.path)
        vm_vifs(tx, vm_ref, true);
    struct api_error *e = net_tx_apply(tx);
    db_unlock();
    /* A VM without VIFs has no port to ask networkd for. */
    if (e || !nw.path || changeset_size(tx->cs) == 0) {
        if (!nw.path)
            log_info("VM %s started without VIF ports: no networkd", vm_ref);
        net_tx_free(tx);
        return e;
    }
    return net_tx_commit(tx);
}

void network_vm_resumed(const char *vm_ref)
{
    struct api_error *e = network_vm_plug(vm_ref);
    if (e)
        log_warning("VM %s resumed without VIF ports: %s %s", vm_ref, e->code,
                    e->n ? e->params[0] : "");
    api_error_free(e);
}

void network_vm_record(const char *vm_ref, bool live)
{
    struct net_tx *tx = net_tx_new();
    bool has_vifs = false;
    db_wrlock();
    size_t it = 0;
    const struct row *r;
    while (db_next(C_VIF, &it, &r))
        if (streq(r->v[FIDX(VIF, VM)], vm_ref) &&
            streq(r->v[FIDX(VIF, currently_attached)], "true"))
            has_vifs = true;
    if (!live)
        vm_vifs(tx, vm_ref, false);
    struct api_error *e = net_tx_apply(tx);
    db_unlock();
    net_tx_free(tx);
    pthread_mutex_lock(&nw.lock);
    bool ready = nw.ready;
    pthread_mutex_unlock(&nw.lock);
    /* before the start thread's first sync, that sync carries the change */
    if (!e && has_vifs && nw.path && ready)
        e = network_sync();
    if (e)
        log_warning("VM %s: VIF ports not updated: %s %s", vm_ref, e->code,
                    e->n ? e->params[0] : "");
    api_error_free(e);
}

/* ---- what networkd observes: carrier, DHCP leases ---- */

static bool pause_for(double s);
static bool stopping(void);

#define WATCH_TIMEOUT 2 /* seconds of each state/wait: bounds network_shutdown */

/* A lease's "address/mask" (dotted mask or prefix length) as the address
 * and a dotted netmask; "" and "" when it is not one. */
static void lease_address(const char *a, char ip[64], char mask[INET_ADDRSTRLEN])
{
    const char *slash = strchr(a, '/');
    struct in_addr in;
    ip[0] = mask[0] = '\0';
    if (!slash || (size_t)(slash - a) >= 64)
        return;
    snprintf(ip, 64, "%.*s", (int)(slash - a), a);
    if (inet_pton(AF_INET, ip, &in) != 1) {
        ip[0] = '\0';
        return;
    }
    if (strchr(slash + 1, '.')) {
        if (inet_pton(AF_INET, slash + 1, &in) == 1)
            inet_ntop(AF_INET, &in, mask, INET_ADDRSTRLEN);
        return;
    }
    char *end;
    long len = strtol(slash + 1, &end, 10);
    if (*end || len < 0 || len > 32)
        return;
    in.s_addr = htonl(len ? 0xffffffffu << (32 - len) : 0);
    inet_ntop(AF_INET, &in, mask, INET_ADDRSTRLEN);
}

/* IP, netmask, gateway and DNS of this host's attached DHCP PIFs from
 * their leases (dhcp/list: {bridge: {pid, lease: {address, router,
 * dns}}}), as XCP shows them; "" while there is no lease. */
static struct api_error *dhcp_pifs(json_object *leases)
{
    struct net_tx *tx = net_tx_new();
    size_t it = 0;
    const struct row *p;
    db_wrlock();
    while (db_next(C_PIF, &it, &p)) {
        if (!mine(p) || !streq(p->v[FIDX(PIF, ip_configuration_mode)], "DHCP") ||
            !streq(p->v[FIDX(PIF, currently_attached)], "true"))
            continue;
        json_object *lease = jget(jget(leases, net_bridge(p->v[FIDX(PIF, network)])), "lease");
        char ip[64], mask[INET_ADDRSTRLEN];
        struct strbuf dns;
        strbuf_init(&dns, 64);
        lease_address(jstr(lease, "address"), ip, mask);
        json_object *list = jget(lease, "dns");
        for (size_t i = 0; i < network_alen(list); i++) {
            const char *d = json_object_get_string(json_object_array_get_idx(list, i));
            if (d)
                strbuf_addf(&dns, "%s%s", dns.len ? "," : "", d);
        }
        net_tx_set(tx, p, FIDX(PIF, IP), ip);
        net_tx_set(tx, p, FIDX(PIF, netmask), mask);
        net_tx_set(tx, p, FIDX(PIF, gateway), *ip ? jstr(lease, "router") : "");
        net_tx_set(tx, p, FIDX(PIF, DNS), *ip && dns.len ? dns.buf : "");
        strbuf_done(&dns);
    }
    struct api_error *e = net_tx_apply(tx);
    db_unlock();
    net_tx_free(tx);
    return e;
}

/* Follows networkd's state/wait: whenever a link, an address or a DHCP
 * lease changes on the host, PIF_metrics (carrier, speed, duplex),
 * Bond.links_up and the DHCP PIFs' addresses are refreshed, without a
 * PIF.scan. A restarted networkd counts from 1 again: any generation other
 * than the one asked about is a change. */
static void *watch_thread(void *arg)
{
    int64_t since = 0;
    (void)arg;
    while (!stopping()) {
        pthread_mutex_lock(&nw.lock);
        bool ready = nw.ready, resent = nw.resent;
        nw.resent = false;
        pthread_mutex_unlock(&nw.lock);
        if (!ready) {
            pause_for(RETRY_DELAY);
            continue;
        }
        /* a PIF that became DHCP may have its lease already */
        if (resent)
            since = 0;
        json_object *p = json_object_new_object(), *res = NULL;
        json_object_object_add(p, "since", json_object_new_int64(since));
        json_object_object_add(p, "timeout", json_object_new_int(WATCH_TIMEOUT));
        struct api_error *e = network_call("state/wait", p, WATCH_TIMEOUT + 10, &res);
        json_object_put(p);
        int64_t g = e ? since : json_object_get_int64(jget(res, "generation"));
        json_object_put(res);
        if (!e && g != since) {
            json_object *leases = NULL;
            e = network_scan(false);
            if (!e)
                e = network_call("dhcp/list", NULL, 30, &leases);
            if (!e)
                e = dhcp_pifs(leases);
            json_object_put(leases);
            if (!e)
                since = g;
        }
        if (e) {
            log_debug("link state and leases not followed: %s %s", e->code,
                      e->n ? e->params[0] : "");
            api_error_free(e);
            pause_for(RETRY_DELAY);
        }
    }
    return NULL;
}

/* ---- start ---- */

static bool pause_for(double s)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    ts.tv_sec += (time_t)s;
    pthread_mutex_lock(&nw.lock);
    if (!nw.stopping)
        pthread_cond_timedwait(&nw.cond, &nw.lock, &ts);
    bool go_on = !nw.stopping;
    pthread_mutex_unlock(&nw.lock);
    return go_on;
}

static bool stopping(void)
{
    pthread_mutex_lock(&nw.lock);
    bool s = nw.stopping;
    pthread_mutex_unlock(&nw.lock);
    return s;
}

/* Changes made without a message of ours (network.set_MTU and the other
 * generic setters, other_config...) reach networkd too: every change of
 * the network classes is followed by a sync, which costs nothing when the
 * configuration is what was last sent. */
static void follow_changes(void)
{
    bool want[C__COUNT] = {false};
    want[C_network] = want[C_PIF] = want[C_VIF] = want[C_VLAN] = want[C_Bond] = true;
    want[C_tunnel] = true;
    db_rdlock();
    int64_t since = db_generation();
    db_unlock();
    double next_scan = now_monotonic() + METRICS_INTERVAL;
    while (!stopping()) {
        if (now_monotonic() >= next_scan) {
            /* the NICs' carrier and speed, as XCP's monitor has them */
            struct api_error *se = network_scan(false);
            if (se)
                log_debug("NIC metrics not refreshed: %s %s", se->code, se->n ? se->params[0] : "");
            api_error_free(se);
            next_scan = now_monotonic() + METRICS_INTERVAL;
        }
        int64_t g = db_wait_change(since, now_monotonic() + 1.0);
        if (g == since)
            continue;
        struct db_event *ev = NULL;
        db_rdlock();
        size_t n = db_changes_since(since, want, NULL, &ev);
        db_unlock();
        free(ev);
        since = g;
        struct api_error *e = n ? network_sync() : NULL;
        if (e)
            log_warning("network configuration not applied: %s %s", e->code,
                        e->n ? e->params[0] : "");
        api_error_free(e);
    }
}

static void *sync_thread(void *arg)
{
    (void)arg;
    for (bool warned = false;;) {
        struct api_error *e = network_call("version", NULL, 10, NULL);
        if (!e)
            e = have_pifs() ? network_scan(false) : first_start();
        if (!e) {
            pthread_mutex_lock(&nw.lock);
            nw.ready = true;
            pthread_mutex_unlock(&nw.lock);
            e = network_sync();
            if (!e) {
                log_info("networkd: configuration restored");
                follow_changes();
                return NULL;
            }
        }
        if (!warned)
            log_warning("networkd not ready (%s %s); retrying", e->code, e->n ? e->params[0] : "");
        warned = true;
        api_error_free(e);
        if (!pause_for(RETRY_DELAY))
            return NULL;
    }
}

void network_init(const char *socket_path, const char *management_nic, const char *vif_stand_in)
{
    nw.stopping = nw.ready = false;
    nw.path = socket_path && *socket_path ? xstrdup(socket_path) : NULL;
    nw.management_nic = management_nic && *management_nic ? xstrdup(management_nic) : NULL;
    nw.stand_in = vif_stand_in && *vif_stand_in ? xstrdup(vif_stand_in) : NULL;
    if (!nw.path) {
        log_notice("no networkd: the host's network is not managed");
        return;
    }
    nw.running = pthread_create(&nw.thread, NULL, sync_thread, NULL) == 0;
    nw.watching = pthread_create(&nw.watcher, NULL, watch_thread, NULL) == 0;
}

void network_shutdown(void)
{
    pthread_mutex_lock(&nw.lock);
    nw.stopping = true;
    pthread_cond_broadcast(&nw.cond);
    pthread_mutex_unlock(&nw.lock);
    if (nw.running)
        pthread_join(nw.thread, NULL);
    if (nw.watching)
        pthread_join(nw.watcher, NULL);
    nw.running = nw.watching = false;
    free(nw.path);
    free(nw.management_nic);
    free(nw.stand_in);
    free(nw.last_sent);
    nw.path = nw.management_nic = nw.stand_in = nw.last_sent = NULL;
}

void network_random_mac(char out[18])
{
    unsigned char b[6];
    if (getrandom(b, sizeof(b), 0) != sizeof(b))
        for (size_t i = 0; i < sizeof(b); i++)
            b[i] = (unsigned char)rand();
    b[0] = (unsigned char)((b[0] & 0xfc) | 0x02);
    snprintf(out, 18, "%02x:%02x:%02x:%02x:%02x:%02x", b[0], b[1], b[2], b[3], b[4], b[5]);
}
