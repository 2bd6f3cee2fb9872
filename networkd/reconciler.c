/* networkd's reconciler: one thread owns the OVSDB connection and
 * converges OVS and the kernel to the desired configuration at start, on
 * every change, and whenever the connection comes back after ovsdb-server
 * went away (it may come back empty). Between changes it re-checks the
 * kernel side every second (links up, addresses, default route, DHCP
 * clients), since a restarted ovs-vswitchd recreates its taps down and
 * without addresses. */
#include "networkd/netd.h"

#include <errno.h>
#include <inttypes.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "lib/cleanup.h"
#include "lib/log.h"
#include "lib/strbuf.h"
#include "lib/util.h"
#include "networkd/jsonutil.h"
#include "networkd/config.h"
#include "networkd/ethtool.h"
#include "networkd/addrown.h"
#include "networkd/flows.h"
#include "networkd/kernel.h"
#include "networkd/ovsdb.h"
#include "networkd/plan.h"
#include "networkd/watch.h"

LOG_MODULE("reconciler");

#define OVSDB_TIMEOUT 10.0
#define VSWITCHD_TIMEOUT 10.0
#define KERNEL_PERIOD 1.0
#define RECONNECT_PERIOD 0.5
/* A convergence that failed (OVSDB refused it, a device missing) is tried
 * again this often until one succeeds, without waiting for a change. */
#define RETRY_PERIOD 2.0
/* A restarted ovs-vswitchd forgets OpenFlow rules without OVSDB saying
 * so: the bridges' OpenFlow sockets are looked at this often, and a table
 * that failed to install is tried again (converge_flows). */
#define FLOWS_PERIOD 5.0
/* How long an install of the locking rules waits for ovs-vswitchd. */
#define FLOWS_TIMEOUT_MS 30000

/* What the thread keeps between rounds. */
struct rstate {
    struct ovsdb *db;
    int64_t cur_cfg;
    json_object *applied; /* the configuration last converged (for cleanup) */
    json_object *flows;   /* bridges with a table of ours: bridge -> true */
    double next_flows;
    struct addr_owner addrs; /* interfaces whose addresses are networkd's */
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

static void add_error(struct strbuf *errs, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static void add_error(struct strbuf *errs, const char *fmt, ...)
{
    va_list ap;
    if (errs->len)
        strbuf_adds(errs, "; ");
    va_start(ap, fmt);
    strbuf_vaddf(errs, fmt, ap);
    va_end(ap);
}

/* Monitor results and update notifications carry cur_cfg of the one
 * Open_vSwitch row. */
static void take_cur_cfg(json_object *updates, struct rstate *rs)
{
    json_object_object_foreach(ju_obj(member(updates, "Open_vSwitch")), uuid, row)
    {
        json_object *cfg = member(member(row, "new"), "cur_cfg");
        (void)uuid;
        if (cfg)
            rs->cur_cfg = json_object_get_int64(cfg);
    }
}

static void on_update(json_object *params, void *userdata)
{
    take_cur_cfg(json_object_array_get_idx(params, 1), userdata);
}

static int connect_ovsdb(struct netd *n, struct rstate *rs)
{
    struct ovsdb *db = NULL;
    json_object *result = NULL, *params, *req, *mon;
    int r = ovsdb_connect(n->opt.ovsdb, 2.0, &db);

    if (r < 0)
        return r;
    ovsdb_set_update_cb(db, on_update, rs);
    params = json_object_new_array();
    json_object_array_add(params, json_object_new_string("Open_vSwitch"));
    json_object_array_add(params, json_object_new_string("cur_cfg"));
    req = json_object_new_object();
    mon = json_object_new_object();
    json_object *cols = json_object_new_array();
    json_object_array_add(cols, json_object_new_string("cur_cfg"));
    json_object_object_add(mon, "columns", cols);
    json_object_object_add(req, "Open_vSwitch", mon);
    json_object_array_add(params, req);
    rs->cur_cfg = -1;
    if ((r = ovsdb_call(db, "monitor", params, OVSDB_TIMEOUT, &result, NULL)) < 0) {
        ovsdb_free(db);
        return r == -EPROTO ? -EIO : r;
    }
    take_cur_cfg(result, rs);
    json_object_put(result);
    rs->db = db;
    return 0;
}

static void drop_ovsdb(struct netd *n, struct rstate *rs)
{
    ovsdb_free(rs->db);
    rs->db = NULL;
    pthread_mutex_lock(&n->lock);
    n->ovsdb_connected = false;
    pthread_mutex_unlock(&n->lock);
}

/* The veth stand-ins of the configuration: vif name -> its stand_in. */
static void veth_stand_ins(json_object *doc, json_object *out)
{
    json_object_object_foreach(ju_obj(member(doc, "vifs")), name, vif)
    {
        json_object *si = member(vif, "stand_in");
        if (si && streq(str(si, "type"), "veth"))
            json_object_object_add(out, name, json_object_get(si));
    }
}

static bool same_stand_in(json_object *a, json_object *b)
{
    const char *pa = str(a, "peer"), *pb = str(b, "peer");
    const char *na = str(a, "netns"), *nb = str(b, "netns");
    return pa && pb && streq(pa, pb) && ((!na && !nb) || (na && nb && streq(na, nb)));
}

static void make_stand_ins(struct kernel *k, json_object *doc, json_object *applied,
                           struct strbuf *errs)
{
    json_object *want = json_object_new_object(), *had = json_object_new_object();
    veth_stand_ins(doc, want);
    veth_stand_ins(applied, had);
    json_object_object_foreach(ju_obj(want), name, si)
    {
        json_object *old = member(had, name);
        if (old && !same_stand_in(old, si))
            kernel_link_delete(k, name);
        if (kernel_link_exists(k, name))
            continue;
        json_object *vif = member(member(doc, "vifs"), name);
        int r = kernel_veth_create(k, name, str(si, "peer"), str(vif, "mac"), str(si, "netns"),
                                   (int)json_object_get_int64(member(vif, "mtu")));
        if (r < 0 && r != -EEXIST)
            add_error(errs, "cannot create the veth stand-in of %s: %s", name, strerror(-r));
    }
    json_object_put(want);
    json_object_put(had);
}

static void remove_stale_stand_ins(struct kernel *k, json_object *doc, json_object *applied)
{
    json_object *want = json_object_new_object(), *had = json_object_new_object();
    veth_stand_ins(doc, want);
    veth_stand_ins(applied, had);
    json_object_object_foreach(ju_obj(had), name, si)
    {
        (void)si;
        if (!member(want, name) && !cfg_name_owner(doc, name)) {
            log_info("removing the veth stand-in of %s", name);
            kernel_link_delete(k, name);
        }
    }
    json_object_put(want);
    json_object_put(had);
}

/* The OVS half: one transaction, then wait for ovs-vswitchd to apply it. */
static int converge_ovs(struct netd *n, struct rstate *rs, json_object *doc, struct strbuf *errs)
{
    json_object *snapshot = NULL, *ops = NULL;
    _cleanup_free_ char *why = NULL;
    int64_t target;
    int r;

    r = ovsdb_transact(rs->db, plan_snapshot_ops(), OVSDB_TIMEOUT, &snapshot, &why);
    if (r < 0)
        goto fail;
    r = plan_build(doc, snapshot, n->opt.datapath, &ops, &target);
    json_object_put(snapshot);
    if (r < 0) {
        add_error(errs, "OVSDB answered a snapshot that is not one");
        return r;
    }
    if (ju_len(ops) > 0)
        r = ovsdb_transact(rs->db, ops, OVSDB_TIMEOUT, NULL, &why);
    else
        json_object_put(ops);
    if (r < 0)
        goto fail;
    double deadline = now_monotonic() + VSWITCHD_TIMEOUT;
    while (rs->cur_cfg < target) {
        double left = deadline - now_monotonic();
        if (left <= 0) {
            add_error(errs,
                      "ovs-vswitchd did not apply the configuration within %.0f s (is it "
                      "running?)",
                      VSWITCHD_TIMEOUT);
            return -ETIMEDOUT;
        }
        if ((r = ovsdb_poll(rs->db, (int)(left * 1000) + 1)) < 0)
            goto fail;
    }
    return 0;
fail:
    if (r == -EPROTO)
        add_error(errs, "OVSDB refused the transaction: %s", why ? why : "?");
    else
        add_error(errs, "OVSDB: %s", strerror(-r));
    return r;
}

/* Who serves a bridge's OpenFlow socket: its inode and change time. A
 * restarted ovs-vswitchd, or a bridge made again, makes the socket anew
 * with an empty flow table; "" when there is none. */
static char *mgmt_identity(struct netd *n, const char *bridge)
{
    _cleanup_free_ char *path = xasprintf("%s/%s.mgmt", n->ovs_rundir, bridge);
    struct stat st;
    if (stat(path, &st) < 0)
        return xstrdup("");
    return xasprintf("%ju:%ju:%jd.%09ld", (uintmax_t)st.st_dev, (uintmax_t)st.st_ino,
                     (intmax_t)st.st_ctim.tv_sec, st.st_ctim.tv_nsec);
}

/* The OpenFlow half: the locking rules of each bridge. A bridge's table
 * is installed when its text changed, or when its OpenFlow socket is not
 * the one it was installed through (ovs-vswitchd restarted and forgot its
 * rules without OVSDB saying so), so that a converged host costs a stat()
 * per bridge; the installs run all at once. rs->flows keeps,
 * for each bridge with a table of ours, {text, sock} as last installed. */
static void converge_flows(struct netd *n, struct rstate *rs, json_object *doc, struct strbuf *errs)
{
    json_object *stale = json_object_new_array();
    json_object *texts = json_object_new_object(), *socks = json_object_new_object();
    json_object *plain = json_object_new_object(); /* bridges going back to the default */
    struct flows_job *jobs = NULL;
    size_t njobs = 0;

    if (!rs->flows)
        rs->flows = json_object_new_object();
    json_object_object_foreach(rs->flows, gone, unused)
    {
        (void)unused;
        if (!member(member(doc, "bridges"), gone))
            json_object_array_add(stale, json_object_new_string(gone));
    }
    for (size_t i = 0; i < ju_len(stale); i++)
        json_object_object_del(rs->flows,
                               json_object_get_string(json_object_array_get_idx(stale, i)));
    json_object_put(stale);

    json_object_object_foreach(ju_obj(member(doc, "bridges")), br, unused2)
    {
        (void)unused2;
        char *text = flows_for_bridge(doc, br);
        json_object *had = member(rs->flows, br);
        if (!text && !had)
            continue;
        /* Back to the bridge's default once no VIF is locked. */
        if (!text) {
            text = xstrdup("priority=0,actions=normal\n");
            json_object_object_add(plain, br, json_object_new_boolean(true));
        }
        _cleanup_free_ char *sock = mgmt_identity(n, br);
        const char *had_text = str(had, "text"), *had_sock = str(had, "sock");
        if (had_text && had_sock && streq(had_text, text) && streq(had_sock, sock)) {
            free(text);
            continue;
        }
        json_object_object_add(texts, br, json_object_new_string(text));
        json_object_object_add(socks, br, json_object_new_string(sock));
        free(text);
        jobs = xrealloc(jobs, (njobs + 1) * sizeof(*jobs));
        jobs[njobs++] = (struct flows_job){.bridge = br};
    }
    for (size_t i = 0; i < njobs; i++)
        jobs[i].text = str(texts, jobs[i].bridge);
    if (njobs)
        flows_apply_all(n->ovs_rundir, jobs, njobs, FLOWS_TIMEOUT_MS);
    for (size_t i = 0; i < njobs; i++) {
        const char *name = jobs[i].bridge;
        if (jobs[i].result < 0) {
            add_error(errs, "cannot set the locking rules of %s: %s", name, jobs[i].why);
            /* still ours: tried again next time, with whatever it needs then */
            json_object *o = json_object_new_object();
            json_object_object_add(o, "text", json_object_new_string(""));
            json_object_object_add(rs->flows, name, o);
        } else if (member(plain, name))
            json_object_object_del(rs->flows, name);
        else {
            json_object *o = json_object_new_object();
            json_object_object_add(o, "text", json_object_get(member(texts, name)));
            json_object_object_add(o, "sock", json_object_get(member(socks, name)));
            json_object_object_add(rs->flows, name, o);
        }
        free(jobs[i].why);
    }
    free(jobs);
    json_object_put(texts);
    json_object_put(socks);
    json_object_put(plain);
    rs->next_flows = now_monotonic() + FLOWS_PERIOD;
}

static void set_up(struct kernel *k, const char *name, int mtu, struct strbuf *errs)
{
    int r = kernel_link_up(k, name, mtu);
    if (r < 0)
        add_error(errs, "cannot bring %s up: %s", name, strerror(-r));
}

static void sync_addrs(struct kernel *k, const char *name, int af, json_object *want,
                       struct strbuf *errs)
{
    int r = kernel_addrs_sync(k, name, af, want);
    if (r < 0)
        add_error(errs, "cannot set the IPv%d addresses of %s: %s", af == AF_INET ? 4 : 6, name,
                  strerror(-r));
}

static void one_addr(struct kernel *k, const char *name, int af, const char *addr,
                     struct strbuf *errs)
{
    json_object *want = json_object_new_array();
    if (addr)
        json_object_array_add(want, json_object_new_string(addr));
    sync_addrs(k, name, af, want, errs);
    json_object_put(want);
}

/* Takes (or gives up) the IPv<family> addresses of iface: false when
 * that cannot be recorded, and then nothing is done to them. */
static bool own_addrs(struct addr_owner *ao, const char *iface, int family, bool owned,
                      struct strbuf *errs)
{
    int r = addr_owner_set(ao, iface, family, owned);
    if (r < 0)
        add_error(errs, "cannot record the IPv%d addresses of %s in %s: %s", family, iface,
                  ao->path, strerror(-r));
    return r == 0;
}

/* An interface with no IPv<family> configuration is left alone, unless
 * networkd managed its addresses until now: then they are flushed, once,
 * as XCP does when a PIF goes to mode None. */
static void release_addrs(struct addr_owner *ao, struct kernel *k, const char *iface, int family,
                          struct strbuf *errs)
{
    if (!addr_owner_has(ao, iface, family) || !kernel_link_exists(k, iface))
        return;
    if (family == 6)
        kernel_ipv6_autoconf(iface, false);
    size_t before = errs->len;
    one_addr(k, iface, family == 4 ? AF_INET : AF_INET6, NULL, errs);
    if (errs->len == before)
        own_addrs(ao, iface, family, false, errs);
}

/* Addresses, DHCP and default routes of one interface (a bridge's or a
 * VLAN's); ip is its entry of "ips", or NULL for none. keep collects the
 * DHCP clients wanted, dns the DNS servers (NULL: this interface's are
 * not wanted). */
static void converge_ip(struct netd *n, struct kernel *k, struct addr_owner *ao, const char *iface,
                        json_object *ip, json_object *keep, json_object *dns, json_object *leases,
                        struct strbuf *errs)
{
    json_object *v4 = member(ip, "ipv4"), *v6 = member(ip, "ipv6");
    const char *m4 = v4 ? str(v4, "mode") : "none", *m6 = v6 ? str(v6, "mode") : "none";
    bool gw = json_object_get_boolean(member(ip, "default_gateway"));
    const char *gw4 = NULL, *gw6 = NULL;
    json_object *lease = NULL, *k4 = json_object_new_object();
    char buf[64];

    if (!streq(m4, "none") && !own_addrs(ao, iface, 4, true, errs)) {
        /* not recorded: not touched either, tried again next round */
    } else if (streq(m4, "static")) {
        snprintf(buf, sizeof(buf), "%s/%d", str(v4, "address"),
                 json_object_get_int(member(v4, "prefix")));
        one_addr(k, iface, AF_INET, buf, errs);
        gw4 = str(v4, "gateway");
    } else if (streq(m4, "dhcp")) {
        json_object_object_add(k4, "4", json_object_new_boolean(true));
        int r = dhcp_ensure(&n->dhcp, iface, 4);
        if (r < 0)
            add_error(errs, "cannot start dhclient on %s: %s", iface, strerror(-r));
        lease = dhcp_lease(&n->dhcp, iface, 4);
        if (lease)
            json_object_object_add(leases, iface, json_object_get(lease));
        gw4 = str(lease, "router");
    } else
        release_addrs(ao, k, iface, 4, errs);

    if (!streq(m6, "none") && !own_addrs(ao, iface, 6, true, errs)) {
        /* as above */
    } else if (streq(m6, "static")) {
        kernel_ipv6_autoconf(iface, false);
        one_addr(k, iface, AF_INET6, str(v6, "address"), errs);
        gw6 = str(v6, "gateway");
    } else if (streq(m6, "autoconf")) {
        int r = kernel_ipv6_autoconf(iface, true);
        if (r < 0)
            add_error(errs, "cannot turn on IPv6 autoconfiguration on %s: %s", iface, strerror(-r));
    } else if (streq(m6, "dhcp")) {
        json_object_object_add(k4, "6", json_object_new_boolean(true));
        int r = dhcp_ensure(&n->dhcp, iface, 6);
        if (r < 0)
            add_error(errs, "cannot start dhclient -6 on %s: %s", iface, strerror(-r));
    } else
        release_addrs(ao, k, iface, 6, errs);
    if (json_object_object_length(k4))
        json_object_object_add(keep, iface, json_object_get(k4));
    json_object_put(k4);

    int r = kernel_default_route(k, iface, AF_INET, gw ? gw4 : NULL);
    if (r < 0)
        add_error(errs, "cannot set the default route through %s: %s", iface, strerror(-r));
    r = kernel_default_route(k, iface, AF_INET6, gw ? gw6 : NULL);
    if (r < 0)
        add_error(errs, "cannot set the IPv6 default route through %s: %s", iface, strerror(-r));

    json_object *list = member(ip, "dns");
    if (ju_len(list) == 0)
        list = member(lease, "dns");
    for (size_t i = 0; dns && i < ju_len(list); i++)
        json_object_array_add(dns, json_object_get(json_object_array_get_idx(list, i)));
    json_object_put(lease);
}

/* Writes resolv.conf when there are DNS servers and it says otherwise. */
static void write_resolv_conf(struct netd *n, json_object *dns, struct strbuf *errs)
{
    struct strbuf sb;
    json_object *seen = json_object_new_object();

    if (ju_len(dns) == 0) {
        json_object_put(seen);
        return;
    }
    strbuf_init(&sb, 128);
    strbuf_adds(&sb, "# Written by xenia networkd.\n");
    for (size_t i = 0; i < ju_len(dns); i++) {
        const char *s = json_object_get_string(json_object_array_get_idx(dns, i));
        if (json_object_object_get_ex(seen, s, NULL))
            continue;
        json_object_object_add(seen, s, NULL);
        strbuf_addf(&sb, "nameserver %s\n", s);
    }
    json_object_put(seen);
    char old[4096];
    FILE *f = fopen(n->opt.resolv_conf, "re");
    size_t len = f ? fread(old, 1, sizeof(old), f) : 0;
    if (f)
        fclose(f);
    if (len == sb.len && memcmp(old, sb.buf, len) == 0) {
        strbuf_done(&sb);
        return;
    }
    _cleanup_free_ char *tmp = xasprintf("%s.networkd", n->opt.resolv_conf);
    f = fopen(tmp, "we");
    if (!f || fwrite(sb.buf, 1, sb.len, f) != sb.len || fclose(f) != 0 ||
        rename(tmp, n->opt.resolv_conf) < 0) {
        add_error(errs, "cannot write %s: %s", n->opt.resolv_conf, strerror(errno));
        if (f)
            unlink(tmp);
    }
    strbuf_done(&sb);
}

static void note_leases(struct netd *n, json_object *leases);

/* A NIC that is a port of a bridge (or a bond member) carries no
 * addresses: they belong on the bridge, where ip/set puts them, and an
 * address left on the port would answer beside the bridge's (XCP's
 * networkd flushes them too). IPv6 link-local addresses stay; turning
 * autoconfiguration off keeps router advertisements from adding more.
 * Only once OVS has taken the NIC (applied: the configuration OVS last
 * accepted), so that an OVS that is down does not cost the host its
 * management address. */
static void port_nic(struct kernel *k, json_object *applied, const char *nic, int mtu,
                     struct strbuf *errs)
{
    const char *owner = cfg_name_owner(applied, nic);
    set_up(k, nic, mtu, errs);
    if (!owner || !(streq(owner, "ports") || streq(owner, "bond members")) ||
        !kernel_link_exists(k, nic))
        return;
    kernel_ipv6_autoconf(nic, false);
    sync_addrs(k, nic, AF_INET, NULL, errs);
    sync_addrs(k, nic, AF_INET6, NULL, errs);
}

static bool iface_configured(const char *iface, void *doc)
{
    return member(member(doc, "bridges"), iface) || member(member(doc, "vlans"), iface);
}

/* The kernel half, also run alone every second. */
static void converge_kernel(struct netd *n, struct kernel *k, struct addr_owner *ao,
                            json_object *doc, json_object *applied, struct strbuf *errs)
{
    json_object *keep = json_object_new_object(), *dns = json_object_new_array();
    json_object *ips = member(doc, "ips"), *leases = json_object_new_object();

    /* ovs-vswitchd makes and removes ports of its own */
    kernel_forget(k);

    json_object_object_foreach(ju_obj(member(doc, "bridges")), br, b)
    {
        int mtu = (int)json_object_get_int64(member(b, "mtu"));
        set_up(k, br, mtu, errs);
        json_object_object_foreach(ju_obj(member(doc, "ports")), nic, p)
        {
            if (streq(str(p, "bridge"), br))
                port_nic(k, applied, nic, mtu, errs);
        }
        json_object_object_foreach(ju_obj(member(doc, "bonds")), bond, bd)
        {
            json_object *members = member(bd, "members");
            (void)bond;
            if (!streq(str(bd, "bridge"), br))
                continue;
            for (size_t i = 0; i < ju_len(members); i++)
                port_nic(k, applied, json_object_get_string(json_object_array_get_idx(members, i)),
                         mtu, errs);
        }
    }
    /* NIC settings (PIF.properties), on whatever bridge or bond. */
    ethtool_converge(doc, errs);
    json_object_object_foreach(ju_obj(member(doc, "vlans")), vlan, v)
    {
        set_up(k, vlan, (int)json_object_get_int64(member(v, "mtu")), errs);
    }
    json_object_object_foreach(ju_obj(member(doc, "vifs")), vif, vf)
    {
        /* On a Xen host the vif appears when the guest connects: not an
         * error until then. */
        if (!member(vf, "stand_in") && !kernel_link_exists(k, vif))
            continue;
        /* A disabled VIF is down, as XCP leaves it. */
        const char *lm = str(vf, "locking_mode");
        if (lm && streq(lm, "disabled")) {
            int r = kernel_link_down(k, vif);
            if (r < 0)
                add_error(errs, "cannot take %s down: %s", vif, strerror(-r));
        } else
            set_up(k, vif, (int)json_object_get_int64(member(vf, "mtu")), errs);
    }
    /* resolv.conf comes from the DNS interface alone when there is one
     * (XCP's set_dns_interface); otherwise from every interface, the
     * default-route interface first, so that its DNS comes first. */
    bool dns_chosen = false;
    json_object_object_foreach(ju_obj(ips), dif, dip)
    {
        (void)dif;
        dns_chosen = dns_chosen || json_object_get_boolean(member(dip, "dns_interface"));
    }
    for (int pass = 0; pass < 2; pass++) {
        const char *sections[] = {"bridges", "vlans"};
        for (size_t s = 0; s < 2; s++) {
            json_object_object_foreach(ju_obj(member(doc, sections[s])), iface, unused)
            {
                json_object *ip = member(ips, iface);
                bool gw = json_object_get_boolean(member(ip, "default_gateway"));
                (void)unused;
                bool want_dns = !dns_chosen || json_object_get_boolean(member(ip, "dns_interface"));
                if (gw == (pass == 0))
                    converge_ip(n, k, ao, iface, ip, keep, want_dns ? dns : NULL, leases, errs);
            }
        }
    }
    /* A bridge or VLAN that is gone took its addresses with it. */
    int r = addr_owner_prune(ao, iface_configured, doc);
    if (r < 0)
        add_error(errs, "cannot write %s: %s", ao->path, strerror(-r));
    dhcp_stop_others(&n->dhcp, keep);
    write_resolv_conf(n, dns, errs);
    note_leases(n, leases);
    json_object_put(leases);
    json_object_put(keep);
    json_object_put(dns);
}

static char *converge(struct netd *n, struct rstate *rs, json_object *doc)
{
    struct kernel *k = NULL;
    struct strbuf errs;
    double t0 = now_monotonic(), t_ovs = t0, t_flows = t0;
    int r;

    strbuf_init(&errs, 64);
    if ((r = kernel_open(&k)) < 0) {
        add_error(&errs, "netlink: %s", strerror(-r));
        goto out;
    }
    make_stand_ins(k, doc, rs->applied, &errs);
    r = converge_ovs(n, rs, doc, &errs);
    t_ovs = t_flows = now_monotonic();
    if (r == 0) {
        converge_flows(n, rs, doc, &errs);
        t_flows = now_monotonic();
        remove_stale_stand_ins(k, doc, rs->applied);
        json_object_put(rs->applied);
        rs->applied = NULL; /* deep_copy writes only to a NULL target */
        json_object_deep_copy(doc, &rs->applied, NULL);
    }
    converge_kernel(n, k, &rs->addrs, doc, rs->applied, &errs);
out:
    kernel_free(k);
    pthread_mutex_lock(&n->lock);
    n->last_converge_s = now_monotonic() - t0;
    n->converges++;
    pthread_mutex_unlock(&n->lock);
    if (errs.len)
        log_warning("convergence incomplete: %s", errs.buf);
    else
        log_info("converged in %.3f s (stand-ins and OVSDB %.3f s, OpenFlow %.3f s, kernel %.3f s)",
                 now_monotonic() - t0, t_ovs - t0, t_flows - t_ovs, now_monotonic() - t_flows);
    return errs.len ? strbuf_detach(&errs, NULL) : (strbuf_done(&errs), NULL);
}

static void finish(struct netd *n, uint64_t gen, char *error)
{
    pthread_mutex_lock(&n->lock);
    if (gen > n->done_gen || (gen == n->done_gen && error)) {
        free(n->last_error);
        n->last_error = error;
        n->done_gen = gen;
        error = NULL;
    }
    pthread_cond_broadcast(&n->cond);
    pthread_mutex_unlock(&n->lock);
    free(error);
}

static void *reconciler_main(void *arg)
{
    struct netd *n = arg;
    struct rstate rs = {0};
    bool full = true;
    uint64_t done = 0;
    double next_kernel = 0, next_connect = 0, retry_at = 0;
    _cleanup_free_ char *addrs_path = xasprintf("%s/networkd-addresses.json", n->opt.state_dir);
    char *why = NULL;

    addr_owner_load(&rs.addrs, addrs_path, &why);
    if (why)
        log_warning("%s", why);
    free(why);

    for (;;) {
        pthread_mutex_lock(&n->lock);
        bool stopping = n->stopping;
        uint64_t want = n->want_gen;
        json_object *doc = NULL;
        json_object_deep_copy(n->config, &doc, NULL);
        pthread_mutex_unlock(&n->lock);
        if (stopping) {
            json_object_put(doc);
            break;
        }
        double now = now_monotonic();
        if (!rs.db && now >= next_connect) {
            int r = connect_ovsdb(n, &rs);
            if (r == 0) {
                log_notice("connected to OVSDB at %s", n->opt.ovsdb);
                pthread_mutex_lock(&n->lock);
                n->ovsdb_connected = true;
                n->reconnects++;
                pthread_mutex_unlock(&n->lock);
                full = true;
                /* OVS may have restarted meanwhile: every table of ours
                 * is installed again once. */
                json_object_object_foreach(ju_obj(rs.flows), br, had)
                {
                    (void)br;
                    json_object_object_del(had, "sock");
                }
            } else {
                if (full)
                    log_warning("cannot reach OVSDB at %s: %s; retrying", n->opt.ovsdb,
                                strerror(-r));
                full = false;
                next_connect = now + RECONNECT_PERIOD;
                if (want > done) {
                    finish(n, want,
                           xasprintf("OVSDB unavailable at %s: %s", n->opt.ovsdb, strerror(-r)));
                    done = want;
                }
            }
        }
        if (rs.db && (want > done || full || (retry_at > 0 && now_monotonic() >= retry_at))) {
            char *err = converge(n, &rs, doc);
            retry_at = err ? now_monotonic() + RETRY_PERIOD : 0;
            /* A dead connection is noticed by the poll below. */
            finish(n, want, err);
            done = want;
            full = false;
            next_kernel = now_monotonic() + KERNEL_PERIOD;
        } else if (now_monotonic() >= next_kernel) {
            struct kernel *k = NULL;
            struct strbuf errs;
            strbuf_init(&errs, 0);
            if (kernel_open(&k) == 0) {
                converge_kernel(n, k, &rs.addrs, doc, rs.applied, &errs);
                kernel_free(k);
            }
            if (rs.db && now_monotonic() >= rs.next_flows)
                converge_flows(n, &rs, doc, &errs);
            if (errs.len)
                log_debug("kernel check: %s", errs.buf);
            strbuf_done(&errs);
            next_kernel = now_monotonic() + KERNEL_PERIOD;
        }
        json_object_put(doc);

        struct pollfd p[2] = {{.fd = n->wake_fd, .events = POLLIN},
                              {.fd = rs.db ? ovsdb_fd(rs.db) : -1, .events = POLLIN}};
        double until = next_kernel;
        if (!rs.db && next_connect < until)
            until = next_connect;
        int ms = (int)((until - now_monotonic()) * 1000) + 1;
        if (ms < 0)
            ms = 0;
        if (poll(p, 2, ms) > 0) {
            if (p[0].revents) {
                uint64_t v;
                if (read(n->wake_fd, &v, sizeof(v)) < 0)
                    v = 0;
            }
            if (p[1].revents && rs.db && ovsdb_poll(rs.db, 0) < 0) {
                log_warning("lost the OVSDB connection; reconnecting");
                drop_ovsdb(n, &rs);
                full = true;
                next_connect = now_monotonic();
            }
        }
    }
    if (rs.db)
        drop_ovsdb(n, &rs);
    json_object_put(rs.applied);
    json_object_put(rs.flows);
    addr_owner_done(&rs.addrs);
    return NULL;
}

uint64_t netd_kick(struct netd *n)
{
    uint64_t one = 1, gen;
    pthread_mutex_lock(&n->lock);
    gen = ++n->want_gen;
    pthread_mutex_unlock(&n->lock);
    if (write(n->wake_fd, &one, sizeof(one)) < 0)
        log_warning("cannot wake the reconciler: %m");
    return gen;
}

int netd_wait(struct netd *n, uint64_t gen, double timeout_s, char **ret_error)
{
    double deadline = now_realtime() + timeout_s;
    int r = 0;

    pthread_mutex_lock(&n->lock);
    while (n->done_gen < gen && !n->stopping) {
        struct timespec ts;
        double d = deadline;
        if (now_realtime() >= deadline) {
            r = -ETIMEDOUT;
            break;
        }
        ts.tv_sec = (time_t)d;
        ts.tv_nsec = (long)((d - (double)ts.tv_sec) * 1e9);
        pthread_cond_timedwait(&n->cond, &n->lock, &ts);
    }
    if (r == 0 && n->done_gen < gen)
        r = -ECANCELED;
    if (r == 0)
        *ret_error = n->last_error ? xstrdup(n->last_error) : NULL;
    pthread_mutex_unlock(&n->lock);
    return r;
}

void netd_observed(struct netd *n)
{
    pthread_mutex_lock(&n->lock);
    n->obs_gen++;
    pthread_cond_broadcast(&n->cond);
    pthread_mutex_unlock(&n->lock);
}

uint64_t netd_wait_observed(struct netd *n, uint64_t since, double timeout_s)
{
    double deadline = now_realtime() + timeout_s;
    pthread_mutex_lock(&n->lock);
    while (n->obs_gen <= since && !n->stopping && now_realtime() < deadline) {
        struct timespec ts = {.tv_sec = (time_t)deadline};
        ts.tv_nsec = (long)((deadline - (double)ts.tv_sec) * 1e9);
        pthread_cond_timedwait(&n->cond, &n->lock, &ts);
    }
    uint64_t g = n->obs_gen;
    pthread_mutex_unlock(&n->lock);
    return g;
}

/* The DHCP leases of the interfaces in DHCP mode changed since the last
 * look (a renewal may change the DNS servers alone, which netlink does
 * not tell): state/wait's followers are told. */
static void note_leases(struct netd *n, json_object *leases)
{
    const char *text = json_object_to_json_string_ext(leases, JSON_C_TO_STRING_PLAIN);
    bool changed;
    pthread_mutex_lock(&n->lock);
    changed = !n->leases_seen || !streq(n->leases_seen, text);
    if (changed) {
        free(n->leases_seen);
        n->leases_seen = xstrdup(text);
    }
    pthread_mutex_unlock(&n->lock);
    if (changed)
        netd_observed(n);
}

int netd_start(struct netd *n, const struct netd_options *opt, char **ret_why)
{
    int r;

    n->opt = *opt;
    n->config_path = xasprintf("%s/networkd.json", opt->state_dir);
    /* ovs-vswitchd puts each bridge's OpenFlow socket beside OVSDB's. */
    const char *sock = strncmp(opt->ovsdb, "unix:", 5) == 0 ? opt->ovsdb + 5 : opt->ovsdb;
    n->ovs_rundir = xstrdup(sock);
    char *slash = strrchr(n->ovs_rundir, '/');
    if (slash)
        *slash = '\0';
    else {
        free(n->ovs_rundir);
        n->ovs_rundir = xstrdup(".");
    }
    n->dhcp = (struct dhcp_paths){.run_dir = opt->run_dir,
                                  .state_dir = opt->state_dir,
                                  .script = opt->dhclient_script,
                                  .dhclient = opt->dhclient};
    if ((r = cfg_load(n->config_path, &n->config, ret_why)) < 0)
        return r;
    pthread_mutex_init(&n->lock, NULL);
    pthread_cond_init(&n->cond, NULL);
    n->wake_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    if (n->wake_fd < 0) {
        *ret_why = xasprintf("eventfd: %s", strerror(errno));
        return -errno;
    }
    n->want_gen = 1;
    n->obs_gen = 1;
    n->watch_fd = -1;
    if ((r = watch_start(n, ret_why)) < 0)
        return r;
    if ((r = -pthread_create(&n->thread, NULL, reconciler_main, n)) < 0) {
        *ret_why = xasprintf("cannot start the reconciler: %s", strerror(-r));
        return r;
    }
    return 0;
}

void netd_begin_stop(struct netd *n)
{
    uint64_t one = 1;
    pthread_mutex_lock(&n->lock);
    n->stopping = true;
    pthread_cond_broadcast(&n->cond);
    pthread_mutex_unlock(&n->lock);
    if (write(n->wake_fd, &one, sizeof(one)) < 0)
        log_warning("cannot wake the reconciler: %m");
}

void netd_stop(struct netd *n)
{
    netd_begin_stop(n);
    pthread_join(n->thread, NULL);
    watch_stop(n);
    close(n->wake_fd);
    free(n->leases_seen);
    json_object_put(n->config);
    free(n->last_error);
    free(n->config_path);
    free(n->ovs_rundir);
    pthread_mutex_destroy(&n->lock);
    pthread_cond_destroy(&n->cond);
}
