/* networkd's netlink and sysfs side (see kernel.h). Caches are filled per
 * call: the reconciler runs rarely enough that freshness beats the cost
 * of a dump. */
#include "networkd/kernel.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/if.h>
#include <linux/if_arp.h>
#include <linux/rtnetlink.h>
#include <netlink/netlink.h>
#include <netlink/route/addr.h>
#include <netlink/route/link.h>
#include <netlink/route/link/veth.h>
#include <netlink/route/route.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "lib/cleanup.h"
#include "lib/log.h"
#include "lib/util.h"

LOG_MODULE("kernel");

/* What the handle read (links, addresses, default routes) is kept until
 * it changes something of that kind, or kernel_forget: a pass over a
 * thousand VIF ports is then a few dumps, not a round trip per port and a
 * full dump per bridge. */
struct kernel {
    struct nl_sock *sk;
    struct nl_cache *links, *addrs, *routes4, *routes6;
};

/* libnl's errors are its own numbers; most map onto errno. */
static int nlerr(int e)
{
    switch (-e) {
    case 0:
        return 0;
    case NLE_EXIST:
        return -EEXIST;
    case NLE_NOADDR:
    case NLE_OBJ_NOTFOUND:
        return -ENOENT;
    case NLE_NODEV:
        return -ENODEV;
    case NLE_PERM:
        return -EPERM;
    case NLE_NOMEM:
        return -ENOMEM;
    case NLE_INVAL:
        return -EINVAL;
    case NLE_BUSY:
        return -EBUSY;
    case NLE_RANGE:
        return -ERANGE;
    default:
        return -EIO;
    }
}

int kernel_open(struct kernel **ret)
{
    struct nl_sock *sk = nl_socket_alloc();
    int r;

    if (!sk)
        return -ENOMEM;
    if ((r = nl_connect(sk, NETLINK_ROUTE)) < 0) {
        nl_socket_free(sk);
        return nlerr(r);
    }
    struct kernel *k = xcalloc(1, sizeof(*k));
    k->sk = sk;
    *ret = k;
    return 0;
}

static void drop_cache(struct nl_cache **c)
{
    if (*c)
        nl_cache_free(*c);
    *c = NULL;
}

void kernel_forget(struct kernel *k)
{
    drop_cache(&k->links);
    drop_cache(&k->addrs);
    drop_cache(&k->routes4);
    drop_cache(&k->routes6);
}

void kernel_free(struct kernel *k)
{
    if (!k)
        return;
    kernel_forget(k);
    nl_socket_free(k->sk);
    free(k);
}

static void cache_freep(struct nl_cache **c)
{
    if (*c)
        nl_cache_free(*c);
}
#define _cleanup_cache_ _cleanup_(cache_freep)

static int links_cache(struct kernel *k, struct nl_cache **ret)
{
    return nlerr(rtnl_link_alloc_cache(k->sk, AF_UNSPEC, ret));
}

static int get_link(struct kernel *k, const char *name, struct rtnl_link **ret);

/* One lookup by name, not a dump: it runs for every VIF of a
 * convergence. */
bool kernel_link_exists(struct kernel *k, const char *name)
{
    struct rtnl_link *l = NULL;
    if (get_link(k, name, &l) < 0)
        return false;
    rtnl_link_put(l);
    return true;
}

/* The first line of a sysfs file, or NULL. */
static char *sysfs_read(const char *name, const char *attr)
{
    _cleanup_free_ char *path = xasprintf("/sys/class/net/%s/%s", name, attr);
    char buf[256];
    FILE *f = fopen(path, "re");
    if (!f)
        return NULL;
    char *l = fgets(buf, sizeof(buf), f);
    fclose(f);
    if (!l)
        return NULL;
    buf[strcspn(buf, "\n")] = '\0';
    return xstrdup(buf);
}

/* The last component of a sysfs symlink, or NULL. */
static char *sysfs_link(const char *name, const char *attr)
{
    _cleanup_free_ char *path = xasprintf("/sys/class/net/%s/%s", name, attr);
    char buf[PATH_MAX];
    ssize_t n = readlink(path, buf, sizeof(buf) - 1);
    if (n < 0)
        return NULL;
    buf[n] = '\0';
    char *slash = strrchr(buf, '/');
    return xstrdup(slash ? slash + 1 : buf);
}

static void add_str(json_object *o, const char *key, const char *v)
{
    json_object_object_add(o, key, v ? json_object_new_string(v) : NULL);
}

static void add_mac(json_object *o, struct rtnl_link *l)
{
    struct nl_addr *a = rtnl_link_get_addr(l);
    char buf[64] = "";
    if (a && nl_addr_get_len(a) == 6)
        nl_addr2str(a, buf, sizeof(buf));
    add_str(o, "mac", buf[0] ? buf : NULL);
}

static json_object *nic_facts(struct rtnl_link *l)
{
    const char *name = rtnl_link_get_name(l);
    const char *kind = rtnl_link_get_type(l);
    json_object *o = json_object_new_object();
    _cleanup_free_ char *speed = sysfs_read(name, "speed");
    _cleanup_free_ char *duplex = sysfs_read(name, "duplex");
    _cleanup_free_ char *driver = sysfs_link(name, "device/driver");
    _cleanup_free_ char *subsys = sysfs_link(name, "device/subsystem");
    _cleanup_free_ char *dev = sysfs_link(name, "device");
    _cleanup_free_ char *vendor = sysfs_read(name, "device/vendor");
    _cleanup_free_ char *device = sysfs_read(name, "device/device");
    long sp = speed ? strtol(speed, NULL, 10) : -1;

    add_str(o, "name", name);
    add_mac(o, l);
    json_object_object_add(o, "carrier", json_object_new_boolean(rtnl_link_get_carrier(l) == 1));
    json_object_object_add(o, "mtu", json_object_new_int((int)rtnl_link_get_mtu(l)));
    json_object_object_add(o, "speed", json_object_new_int64(sp > 0 ? sp : -1));
    add_str(o, "duplex",
            duplex && (streq(duplex, "full") || streq(duplex, "half")) ? duplex : "unknown");
    if (!driver && kind)
        driver = xstrdup(kind);
    add_str(o, "driver", driver);
    add_str(o, "pci", subsys && streq(subsys, "pci") ? dev : NULL);
    add_str(o, "vendor_id", vendor && strncmp(vendor, "0x", 2) == 0 ? vendor + 2 : vendor);
    add_str(o, "device_id", device && strncmp(device, "0x", 2) == 0 ? device + 2 : device);
    add_str(o, "kind", kind ? kind : "physical");
    return o;
}

int kernel_nics(struct kernel *k, json_object **ret)
{
    _cleanup_cache_ struct nl_cache *c = NULL;
    int r = links_cache(k, &c);
    if (r < 0)
        return r;
    json_object *a = json_object_new_array();
    for (struct nl_object *o = nl_cache_get_first(c); o; o = nl_cache_get_next(o)) {
        struct rtnl_link *l = (struct rtnl_link *)o;
        const char *name = rtnl_link_get_name(l), *kind = rtnl_link_get_type(l);
        if (rtnl_link_get_arptype(l) != ARPHRD_ETHER)
            continue;
        _cleanup_free_ char *dev = sysfs_link(name, "device");
        /* A real NIC has a device; a veth stands in for one on a test
         * host. Xen's vifs and qemu's taps are not NICs. */
        bool nic = (dev && !kind) || (kind && streq(kind, "veth"));
        if (!nic || strncmp(name, "vif", 3) == 0 || strncmp(name, "tap", 3) == 0)
            continue;
        json_object_array_add(a, nic_facts(l));
    }
    *ret = a;
    return 0;
}

static void format_addr(struct nl_addr *a, char *buf, size_t size)
{
    char ip[INET6_ADDRSTRLEN] = "";
    inet_ntop(nl_addr_get_family(a), nl_addr_get_binary_addr(a), ip, sizeof(ip));
    snprintf(buf, size, "%s/%u", ip, nl_addr_get_prefixlen(a));
}

static json_object *link_addrs(struct nl_cache *ac, int ifindex)
{
    json_object *arr = json_object_new_array();
    for (struct nl_object *o = nl_cache_get_first(ac); o; o = nl_cache_get_next(o)) {
        struct rtnl_addr *a = (struct rtnl_addr *)o;
        struct nl_addr *local = rtnl_addr_get_local(a);
        char buf[80];
        if (rtnl_addr_get_ifindex(a) != ifindex || !local)
            continue;
        nl_addr_set_prefixlen(local, rtnl_addr_get_prefixlen(a));
        format_addr(local, buf, sizeof(buf));
        json_object_array_add(arr, json_object_new_string(buf));
    }
    return arr;
}

static json_object *default_route(struct nl_cache *rc, struct nl_cache *lc, int af)
{
    for (struct nl_object *o = nl_cache_get_first(rc); o; o = nl_cache_get_next(o)) {
        struct rtnl_route *rt = (struct rtnl_route *)o;
        struct nl_addr *dst = rtnl_route_get_dst(rt);
        if (rtnl_route_get_family(rt) != af || rtnl_route_get_table(rt) != RT_TABLE_MAIN ||
            (dst && nl_addr_get_prefixlen(dst) != 0) || rtnl_route_get_nnexthops(rt) < 1)
            continue;
        struct rtnl_nexthop *nh = rtnl_route_nexthop_n(rt, 0);
        struct nl_addr *gw = rtnl_route_nh_get_gateway(nh);
        char ifname[IFNAMSIZ] = "", ip[INET6_ADDRSTRLEN] = "";
        rtnl_link_i2name(lc, rtnl_route_nh_get_ifindex(nh), ifname, sizeof(ifname));
        if (gw)
            inet_ntop(af, nl_addr_get_binary_addr(gw), ip, sizeof(ip));
        json_object *r = json_object_new_object();
        add_str(r, "interface", ifname);
        add_str(r, "gateway", gw ? ip : NULL);
        return r;
    }
    return NULL;
}

int kernel_links(struct kernel *k, json_object **ret_links, json_object **ret_routes)
{
    _cleanup_cache_ struct nl_cache *lc = NULL, *ac = NULL, *rc = NULL;
    int r;

    if ((r = links_cache(k, &lc)) < 0 || (r = nlerr(rtnl_addr_alloc_cache(k->sk, &ac))) < 0 ||
        (r = nlerr(rtnl_route_alloc_cache(k->sk, AF_UNSPEC, 0, &rc))) < 0)
        return r;
    json_object *arr = json_object_new_array();
    for (struct nl_object *o = nl_cache_get_first(lc); o; o = nl_cache_get_next(o)) {
        struct rtnl_link *l = (struct rtnl_link *)o;
        json_object *j = json_object_new_object();
        const char *kind = rtnl_link_get_type(l);
        add_str(j, "name", rtnl_link_get_name(l));
        json_object_object_add(j, "ifindex", json_object_new_int(rtnl_link_get_ifindex(l)));
        json_object_object_add(j, "up", json_object_new_boolean(rtnl_link_get_flags(l) & IFF_UP));
        json_object_object_add(j, "carrier",
                               json_object_new_boolean(rtnl_link_get_carrier(l) == 1));
        json_object_object_add(j, "mtu", json_object_new_int((int)rtnl_link_get_mtu(l)));
        add_mac(j, l);
        add_str(j, "kind", kind);
        json_object_object_add(j, "addresses", link_addrs(ac, rtnl_link_get_ifindex(l)));
        json_object_array_add(arr, j);
    }
    json_object *routes = json_object_new_object();
    json_object_object_add(routes, "ipv4", default_route(rc, lc, AF_INET));
    json_object_object_add(routes, "ipv6", default_route(rc, lc, AF_INET6));
    *ret_links = arr;
    *ret_routes = routes;
    return 0;
}

/* The link called name: from what this handle read, else (a link made
 * since) from the kernel. */
static int get_link(struct kernel *k, const char *name, struct rtnl_link **ret)
{
    if (!k->links && rtnl_link_alloc_cache(k->sk, AF_UNSPEC, &k->links) < 0)
        k->links = NULL;
    if (k->links && (*ret = rtnl_link_get_by_name(k->links, name)))
        return 0;
    int r = nlerr(rtnl_link_get_kernel(k->sk, 0, name, ret));
    return r == -ENOENT ? -ENODEV : r;
}

int kernel_link_up(struct kernel *k, const char *name, int mtu)
{
    struct rtnl_link *l = NULL;
    int r;

    if ((r = get_link(k, name, &l)) < 0)
        return r;
    bool up = rtnl_link_get_flags(l) & IFF_UP;
    bool mtu_ok = mtu <= 0 || rtnl_link_get_mtu(l) == (unsigned)mtu;
    if (!up || !mtu_ok) {
        struct rtnl_link *change = rtnl_link_alloc();
        if (!up)
            rtnl_link_set_flags(change, IFF_UP);
        if (!mtu_ok)
            rtnl_link_set_mtu(change, (unsigned)mtu);
        /* the cached link is stale in flags alone: seen down again, it
         * is brought up again, harmlessly */
        r = nlerr(rtnl_link_change(k->sk, l, change, 0));
        rtnl_link_put(change);
    }
    rtnl_link_put(l);
    return r;
}

int kernel_link_down(struct kernel *k, const char *name)
{
    struct rtnl_link *l = NULL;
    int r = get_link(k, name, &l);

    if (r == -ENODEV)
        return 0;
    if (r < 0)
        return r;
    if (rtnl_link_get_flags(l) & IFF_UP) {
        struct rtnl_link *change = rtnl_link_alloc();
        rtnl_link_unset_flags(change, IFF_UP);
        r = nlerr(rtnl_link_change(k->sk, l, change, 0));
        rtnl_link_put(change);
    }
    rtnl_link_put(l);
    return r;
}

/* "a/len" normalised (as format_addr writes it); false if not one. */
static bool normalise_cidr(const char *s, int af, char *buf, size_t size)
{
    char ip[INET6_ADDRSTRLEN + 1];
    unsigned char bin[16];
    const char *slash = strchr(s, '/');
    if (!slash || (size_t)(slash - s) >= sizeof(ip))
        return false;
    memcpy(ip, s, (size_t)(slash - s));
    ip[slash - s] = '\0';
    if (inet_pton(af, ip, bin) != 1)
        return false;
    inet_ntop(af, bin, ip, sizeof(ip));
    snprintf(buf, size, "%s/%ld", ip, strtol(slash + 1, NULL, 10));
    return true;
}

static bool want_has(json_object *want, int af, const char *have)
{
    for (size_t i = 0; want && i < json_object_array_length(want); i++) {
        char buf[80];
        if (normalise_cidr(json_object_get_string(json_object_array_get_idx(want, i)), af, buf,
                           sizeof(buf)) &&
            streq(buf, have))
            return true;
    }
    return false;
}

int kernel_addrs_sync(struct kernel *k, const char *name, int af, json_object *want)
{
    struct rtnl_link *l = NULL;
    bool changed = false;
    int r, ifindex;

    if ((r = get_link(k, name, &l)) < 0)
        return r;
    ifindex = rtnl_link_get_ifindex(l);
    rtnl_link_put(l);
    if (!k->addrs && (r = nlerr(rtnl_addr_alloc_cache(k->sk, &k->addrs))) < 0) {
        k->addrs = NULL;
        return r;
    }
    struct nl_cache *ac = k->addrs;

    json_object *have = json_object_new_object();
    for (struct nl_object *o = nl_cache_get_first(ac); o; o = nl_cache_get_next(o)) {
        struct rtnl_addr *a = (struct rtnl_addr *)o;
        struct nl_addr *local = rtnl_addr_get_local(a);
        char buf[80];
        if (rtnl_addr_get_ifindex(a) != ifindex || rtnl_addr_get_family(a) != af || !local)
            continue;
        if (af == AF_INET6 && rtnl_addr_get_scope(a) == RT_SCOPE_LINK)
            continue;
        nl_addr_set_prefixlen(local, rtnl_addr_get_prefixlen(a));
        format_addr(local, buf, sizeof(buf));
        if (want_has(want, af, buf)) {
            json_object_object_add(have, buf, NULL);
            continue;
        }
        log_info("removing %s from %s", buf, name);
        changed = true;
        int e = nlerr(rtnl_addr_delete(k->sk, a, 0));
        if (e < 0 && e != -ENOENT && r == 0)
            r = e;
    }
    for (size_t i = 0; want && i < json_object_array_length(want); i++) {
        const char *s = json_object_get_string(json_object_array_get_idx(want, i));
        char buf[80];
        struct nl_addr *local = NULL;
        if (!normalise_cidr(s, af, buf, sizeof(buf))) {
            r = -EINVAL;
            continue;
        }
        if (json_object_object_get_ex(have, buf, NULL))
            continue;
        if (nl_addr_parse(buf, af, &local) < 0) {
            r = -EINVAL;
            continue;
        }
        struct rtnl_addr *a = rtnl_addr_alloc();
        rtnl_addr_set_ifindex(a, ifindex);
        rtnl_addr_set_local(a, local);
        rtnl_addr_set_prefixlen(a, nl_addr_get_prefixlen(local));
        if (af == AF_INET6)
            rtnl_addr_set_flags(a, IFA_F_NODAD);
        log_info("adding %s to %s", buf, name);
        changed = true;
        int e = nlerr(rtnl_addr_add(k->sk, a, 0));
        if (e < 0 && e != -EEXIST && r == 0)
            r = e;
        rtnl_addr_put(a);
        nl_addr_put(local);
    }
    json_object_put(have);
    if (changed)
        drop_cache(&k->addrs);
    return r;
}

int kernel_default_route(struct kernel *k, const char *name, int af, const char *gateway)
{
    struct nl_cache **cache = af == AF_INET ? &k->routes4 : &k->routes6;
    struct rtnl_link *l = NULL;
    unsigned char gw_bin[16];
    bool found = false;
    int r, ifindex;

    if (gateway && inet_pton(af, gateway, gw_bin) != 1)
        return -EINVAL;
    if ((r = get_link(k, name, &l)) < 0)
        return gateway ? r : 0;
    ifindex = rtnl_link_get_ifindex(l);
    rtnl_link_put(l);
    if (!*cache && (r = nlerr(rtnl_route_alloc_cache(k->sk, af, 0, cache))) < 0) {
        *cache = NULL;
        return r;
    }
    struct nl_cache *rc = *cache;
    bool removed = false;
    for (struct nl_object *o = nl_cache_get_first(rc); o; o = nl_cache_get_next(o)) {
        struct rtnl_route *rt = (struct rtnl_route *)o;
        struct nl_addr *dst = rtnl_route_get_dst(rt);
        if (rtnl_route_get_table(rt) != RT_TABLE_MAIN || (dst && nl_addr_get_prefixlen(dst)) ||
            rtnl_route_get_nnexthops(rt) != 1)
            continue;
        struct rtnl_nexthop *nh = rtnl_route_nexthop_n(rt, 0);
        struct nl_addr *gw = rtnl_route_nh_get_gateway(nh);
        bool ours = rtnl_route_nh_get_ifindex(nh) == ifindex;
        bool same = ours && gateway && gw &&
                    memcmp(nl_addr_get_binary_addr(gw), gw_bin, af == AF_INET ? 4 : 16) == 0;
        if (same)
            found = true;
        else if (ours) {
            log_info("removing a default route through %s", name);
            removed = true;
            int e = nlerr(rtnl_route_delete(k->sk, rt, 0));
            if (e < 0 && e != -ENOENT)
                r = e;
        }
    }
    if (removed)
        drop_cache(cache);
    if (!gateway || found)
        return r;
    drop_cache(cache);
    struct rtnl_route *rt = rtnl_route_alloc();
    struct rtnl_nexthop *nh = rtnl_route_nh_alloc();
    struct nl_addr *dst = NULL, *gw = nl_addr_build(af, gw_bin, af == AF_INET ? 4 : 16);
    nl_addr_parse(af == AF_INET ? "0.0.0.0/0" : "::/0", af, &dst);
    rtnl_route_set_family(rt, (uint8_t)af);
    rtnl_route_set_table(rt, RT_TABLE_MAIN);
    rtnl_route_set_dst(rt, dst);
    rtnl_route_nh_set_ifindex(nh, ifindex);
    rtnl_route_nh_set_gateway(nh, gw);
    rtnl_route_add_nexthop(rt, nh);
    log_info("default route through %s via %s", name, gateway);
    r = nlerr(rtnl_route_add(k->sk, rt, NLM_F_CREATE | NLM_F_REPLACE));
    rtnl_route_put(rt);
    nl_addr_put(dst);
    nl_addr_put(gw);
    return r;
}

static int write_sysctl(const char *path, const char *value)
{
    int fd = open(path, O_WRONLY | O_CLOEXEC);
    if (fd < 0)
        return -errno;
    ssize_t n = write(fd, value, strlen(value));
    int r = n < 0 ? -errno : 0;
    close(fd);
    return r;
}

int kernel_ipv6_autoconf(const char *name, bool on)
{
    _cleanup_free_ char *ra = xasprintf("/proc/sys/net/ipv6/conf/%s/accept_ra", name);
    _cleanup_free_ char *ac = xasprintf("/proc/sys/net/ipv6/conf/%s/autoconf", name);
    int r = write_sysctl(ra, on ? "1" : "0");
    if (r < 0)
        return r;
    return write_sysctl(ac, on ? "1" : "0");
}

int kernel_veth_create(struct kernel *k, const char *name, const char *peer, const char *peer_mac,
                       const char *netns, int mtu)
{
    struct rtnl_link *l = rtnl_link_veth_alloc();
    struct nl_addr *mac = NULL;
    int fd = -1, r;

    if (!l)
        return -ENOMEM;
    struct rtnl_link *p = rtnl_link_veth_get_peer(l);
    rtnl_link_set_name(l, name);
    rtnl_link_set_name(p, peer);
    if (mtu > 0) {
        rtnl_link_set_mtu(l, (unsigned)mtu);
        rtnl_link_set_mtu(p, (unsigned)mtu);
    }
    /* Xen's netback gives its vif this address; the guest's MAC is on
     * the other side. */
    struct nl_addr *backend = NULL;
    if (nl_addr_parse("fe:ff:ff:ff:ff:ff", AF_LLC, &backend) == 0) {
        rtnl_link_set_addr(l, backend);
        nl_addr_put(backend);
    }
    if (peer_mac && nl_addr_parse(peer_mac, AF_LLC, &mac) == 0) {
        rtnl_link_set_addr(p, mac);
        nl_addr_put(mac);
    }
    if (netns) {
        _cleanup_free_ char *path = xasprintf("/run/netns/%s", netns);
        fd = open(path, O_RDONLY | O_CLOEXEC);
        if (fd < 0) {
            r = -errno;
            rtnl_link_put(p);
            rtnl_link_veth_release(l);
            return r;
        }
        rtnl_link_set_ns_fd(p, fd);
    }
    r = nlerr(rtnl_link_add(k->sk, l, NLM_F_CREATE | NLM_F_EXCL));
    kernel_forget(k);
    if (fd >= 0)
        close(fd);
    rtnl_link_put(p);
    rtnl_link_veth_release(l);
    return r;
}

int kernel_link_delete(struct kernel *k, const char *name)
{
    struct rtnl_link *l = NULL;
    int r = get_link(k, name, &l);
    if (r == -ENODEV)
        return 0;
    if (r < 0)
        return r;
    r = nlerr(rtnl_link_delete(k->sk, l));
    rtnl_link_put(l);
    kernel_forget(k);
    return r == -ENODEV ? 0 : r;
}
