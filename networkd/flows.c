/* VIF locking through OpenFlow (see flows.h). The rules and priorities
 * are XCP's, so that a host looks the same to whoever dumps its flows. */
#include "networkd/flows.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "lib/cleanup.h"
#include "lib/strbuf.h"
#include "lib/util.h"
#include "networkd/jsonutil.h"
#include "networkd/openflow.h"

/* The real bridge a VIF's port is on: its bridge, or a VLAN's parent. */
static const char *vif_real_bridge(json_object *doc, json_object *vif)
{
    const char *br = ju_str(vif, "bridge");
    json_object *vlan = br ? ju_member(ju_member(doc, "vlans"), br) : NULL;
    return vlan ? ju_str(vlan, "parent_bridge") : br;
}

static void locked_rules(struct strbuf *sb, const char *port, const char *mac, json_object *v4,
                         json_object *v6)
{
    /* DHCP requests, and ARP probes (from 0.0.0.0) with the VIF's MAC. */
    strbuf_addf(sb, "priority=8000,in_port=\"%s\",udp,dl_src=%s,tp_dst=67,actions=normal\n", port,
                mac);
    strbuf_addf(sb,
                "priority=7000,in_port=\"%s\",arp,dl_src=%s,arp_sha=%s,arp_spa=0.0.0.0,"
                "actions=normal\n",
                port, mac, mac);
    for (size_t i = 0; i < ju_len(v4); i++) {
        const char *a = json_object_get_string(json_object_array_get_idx(v4, i));
        strbuf_addf(sb,
                    "priority=7000,in_port=\"%s\",arp,dl_src=%s,arp_sha=%s,arp_spa=%s,"
                    "actions=normal\n",
                    port, mac, mac, a);
        strbuf_addf(sb, "priority=6000,in_port=\"%s\",ip,dl_src=%s,nw_src=%s,actions=normal\n",
                    port, mac, a);
    }
    for (size_t i = 0; i < ju_len(v6); i++) {
        const char *a = json_object_get_string(json_object_array_get_idx(v6, i));
        strbuf_addf(sb,
                    "priority=8000,in_port=\"%s\",icmp6,dl_src=%s,ipv6_src=%s,icmp_type=135,"
                    "nd_sll=%s,actions=normal\n",
                    port, mac, a, mac);
        strbuf_addf(sb,
                    "priority=8000,in_port=\"%s\",icmp6,dl_src=%s,ipv6_src=%s,icmp_type=136,"
                    "nd_target=%s,actions=normal\n",
                    port, mac, a, a);
        static const char *const protos[] = {"icmp6", "tcp6", "udp6"};
        for (size_t j = 0; j < ELEMENTSOF(protos); j++)
            strbuf_addf(sb,
                        "priority=5000,in_port=\"%s\",%s,dl_src=%s,ipv6_src=%s,actions=normal\n",
                        port, protos[j], mac, a);
    }
    /* Other neighbour discovery, router advertisements, redirects, mobile
     * prefix and multicast router messages are dropped. */
    strbuf_addf(sb, "priority=7000,in_port=\"%s\",icmp6,icmp_type=135,actions=drop\n", port);
    strbuf_addf(sb, "priority=7000,in_port=\"%s\",icmp6,icmp_type=136,actions=drop\n", port);
    static const int types[] = {134, 137, 146, 147, 151, 152, 153};
    for (size_t i = 0; i < ELEMENTSOF(types); i++)
        strbuf_addf(sb, "priority=6000,in_port=\"%s\",icmp6,icmp_type=%d,actions=drop\n", port,
                    types[i]);
}

char *flows_for_bridge(json_object *doc, const char *bridge)
{
    struct strbuf sb;
    bool any = false;

    strbuf_init(&sb, 1024);
    json_object_object_foreach(ju_obj(ju_member(doc, "vifs")), name, vif)
    {
        const char *lm = ju_str(vif, "locking_mode"), *br = vif_real_bridge(doc, vif);
        if (!lm || !br || !streq(br, bridge) || !(streq(lm, "locked") || streq(lm, "disabled")))
            continue;
        any = true;
        if (streq(lm, "locked"))
            locked_rules(&sb, name, ju_str(vif, "mac"), ju_member(vif, "ipv4_allowed"),
                         ju_member(vif, "ipv6_allowed"));
        /* Whatever no rule above lets through. */
        strbuf_addf(&sb, "priority=4000,in_port=\"%s\",actions=drop\n", name);
    }
    if (!any) {
        strbuf_done(&sb);
        return NULL;
    }
    /* What a standalone bridge does without rules of ours. */
    strbuf_adds(&sb, "priority=0,actions=normal\n");
    return strbuf_detach(&sb, NULL);
}

/* Installing tables: one OpenFlow connection per bridge, all of them at
 * once in one poll loop, so that the cost is a few of ovs-vswitchd's main
 * loop iterations for every bridge together, not a process and a dozen
 * round trips per bridge as with ovs-ofctl. On each connection: HELLO, the
 * port description (the rules name ports, OpenFlow numbers them), then
 * one atomic bundle that deletes every flow and adds the new table, so
 * that a VIF is never half locked while its table is rewritten, and a
 * barrier before its commit. */

enum {
    XID_HELLO = 1,
    XID_PORTS,
    XID_OPEN,
    XID_DELETE,
    XID_FLOW0 = 16, /* line i of the table: XID_FLOW0 + i; then the commit */
};

#define BUNDLE_ID 1

struct conn {
    struct flows_job *job;
    int fd;
    struct strbuf out, in;
    size_t sent;
    json_object *ports;
    uint32_t barrier_xid, commit_xid;
    bool done;
};

static void conn_finish(struct conn *c, int result, char *why)
{
    c->job->result = result;
    c->job->why = why;
    c->done = true;
    if (c->fd >= 0)
        close(c->fd);
    c->fd = -1;
}

/* Line i (0-based) of text, as a new string. */
static char *nth_line(const char *text, size_t i)
{
    while (i-- && text)
        text = (text = strchr(text, '\n')) ? text + 1 : NULL;
    return text ? xstrndup(text, strcspn(text, "\n")) : xstrdup("(none)");
}

static void conn_start(struct conn *c, const char *ovs_rundir)
{
    _cleanup_free_ char *path = xasprintf("%s/%s.mgmt", ovs_rundir, c->job->bridge);
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    int dirfd = -1, r = 0;

    /* A long folder is reached through its descriptor, as OVS does. */
    if (strlen(path) >= sizeof(sa.sun_path)) {
        dirfd = open(ovs_rundir, O_PATH | O_DIRECTORY | O_CLOEXEC);
        if (dirfd < 0)
            return conn_finish(c, -errno, xasprintf("cannot open %s: %m", ovs_rundir));
        snprintf(sa.sun_path, sizeof(sa.sun_path), "/proc/self/fd/%d/%s.mgmt", dirfd,
                 c->job->bridge);
    } else
        memcpy(sa.sun_path, path, strlen(path) + 1);
    c->fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (c->fd < 0 || connect(c->fd, (struct sockaddr *)&sa, sizeof(sa)) < 0)
        r = -errno;
    if (dirfd >= 0)
        close(dirfd);
    if (r < 0)
        return conn_finish(c, r, xasprintf("cannot connect to %s: %s", path, strerror(-r)));
    of_put_header_only(&c->out, OFPT_HELLO, XID_HELLO);
    of_put_port_desc_request(&c->out, XID_PORTS);
    of_put_bundle_control(&c->out, XID_OPEN, BUNDLE_ID, OFPBCT_OPEN_REQUEST,
                          OFPBF_ATOMIC | OFPBF_ORDERED);
}

/* Queues the bundle once the port numbers are known. */
static void conn_send_table(struct conn *c)
{
    struct strbuf msg;
    const char *text = c->job->text;
    uint32_t xid = XID_FLOW0;

    strbuf_init(&msg, 256);
    of_put_delete_all(&msg, XID_DELETE);
    of_put_bundle_add(&c->out, XID_DELETE, BUNDLE_ID, OFPBF_ATOMIC | OFPBF_ORDERED, msg.buf,
                      msg.len);
    for (const char *line = text; *line; xid++) {
        size_t len = strcspn(line, "\n");
        _cleanup_free_ char *one = xstrndup(line, len);
        char *why = NULL;
        strbuf_reset(&msg);
        if (of_put_flow(&msg, xid, one, c->ports, &why) < 0) {
            strbuf_done(&msg);
            return conn_finish(c, -EINVAL, why);
        }
        of_put_bundle_add(&c->out, xid, BUNDLE_ID, OFPBF_ATOMIC | OFPBF_ORDERED, msg.buf, msg.len);
        line += len + (line[len] == '\n');
    }
    strbuf_done(&msg);
    /* The commit waits for every add to be accepted: a switch may leave
     * a refused message out of the bundle and commit the rest. */
    c->barrier_xid = xid;
    c->commit_xid = xid + 1;
    of_put_header_only(&c->out, OFPT_BARRIER_REQUEST, c->barrier_xid);
}

static void conn_error(struct conn *c, const uint8_t *msg, size_t len)
{
    _cleanup_free_ char *what = of_error_text(msg, len);
    uint32_t xid = of_msg_xid(msg);
    char *why;

    if (xid >= XID_FLOW0 && xid < c->barrier_xid) {
        _cleanup_free_ char *line = nth_line(c->job->text, xid - XID_FLOW0);
        why = xasprintf("%s for the flow %s", what, line);
    } else
        why = xasprintf("%s (%s)", what,
                        xid == XID_HELLO    ? "in the hello"
                        : xid == XID_PORTS  ? "asking for the ports"
                        : xid == XID_OPEN   ? "opening the bundle"
                        : xid == XID_DELETE ? "deleting the old flows"
                                            : "committing the bundle");
    conn_finish(c, -EIO, why);
}

/* Handles one whole message from ovs-vswitchd. */
static void conn_message(struct conn *c, const uint8_t *msg, size_t len)
{
    int more = 0;

    switch (of_msg_type(msg)) {
    case OFPT_HELLO:
        if (msg[0] < OFP_VERSION_14)
            conn_finish(c, -EPROTONOSUPPORT,
                        xasprintf("ovs-vswitchd offers OpenFlow version 0x%02x on %s, not 1.4",
                                  msg[0], c->job->bridge));
        break;
    case OFPT_ERROR:
        conn_error(c, msg, len);
        break;
    case OFPT_ECHO_REQUEST: {
        size_t start = c->out.len;
        strbuf_add(&c->out, msg, len);
        c->out.buf[start + 1] = OFPT_ECHO_REPLY;
        break;
    }
    case OFPT_MULTIPART_REPLY:
        if (of_msg_xid(msg) != XID_PORTS)
            break;
        if (of_parse_port_desc(msg, len, c->ports, &more) < 0)
            conn_finish(c, -EBADMSG, xasprintf("a port description that cannot be read"));
        else if (!more)
            conn_send_table(c);
        break;
    case OFPT_BARRIER_REPLY:
        if (c->barrier_xid && of_msg_xid(msg) == c->barrier_xid)
            of_put_bundle_control(&c->out, c->commit_xid, BUNDLE_ID, OFPBCT_COMMIT_REQUEST,
                                  OFPBF_ATOMIC | OFPBF_ORDERED);
        break;
    case OFPT_BUNDLE_CONTROL:
        if (c->commit_xid && of_msg_xid(msg) == c->commit_xid &&
            of_bundle_control_type(msg, len) == OFPBCT_COMMIT_REPLY)
            conn_finish(c, 0, NULL);
        break;
    default:
        break;
    }
}

static void conn_read(struct conn *c)
{
    char buf[65536];
    ssize_t n = read(c->fd, buf, sizeof(buf));

    if (n < 0 && (errno == EAGAIN || errno == EINTR))
        return;
    if (n <= 0)
        return conn_finish(c, n < 0 ? -errno : -ECONNRESET,
                           n < 0 ? xasprintf("reading from ovs-vswitchd: %m")
                                 : xstrdup("ovs-vswitchd closed the connection"));
    strbuf_add(&c->in, buf, (size_t)n);
    size_t off = 0;
    while (!c->done) {
        const uint8_t *p = (const uint8_t *)c->in.buf + off;
        size_t avail = c->in.len - off, len = of_msg_len(p, avail);
        if (!len || len > avail)
            break;
        if (len < OFP_HEADER_LEN)
            return conn_finish(c, -EBADMSG, xstrdup("a broken OpenFlow stream"));
        conn_message(c, p, len);
        off += len;
    }
    if (!c->done) {
        memmove(c->in.buf, c->in.buf + off, c->in.len - off);
        c->in.len -= off;
    }
}

static void conn_write(struct conn *c)
{
    while (c->sent < c->out.len) {
        ssize_t n = send(c->fd, c->out.buf + c->sent, c->out.len - c->sent, MSG_NOSIGNAL);
        if (n < 0 && (errno == EAGAIN || errno == EINTR))
            return;
        if (n < 0)
            return conn_finish(c, -errno, xasprintf("writing to ovs-vswitchd: %m"));
        c->sent += (size_t)n;
    }
}

void flows_apply_all(const char *ovs_rundir, struct flows_job *jobs, size_t n, int timeout_ms)
{
    _cleanup_free_ struct conn *conns = xcalloc(n ? n : 1, sizeof(*conns));
    _cleanup_free_ struct pollfd *pfds = xcalloc(n ? n : 1, sizeof(*pfds));
    double deadline = now_monotonic() + timeout_ms / 1000.0;
    size_t left = n;

    for (size_t i = 0; i < n; i++) {
        struct conn *c = &conns[i];
        *c = (struct conn){.job = &jobs[i], .fd = -1, .ports = json_object_new_object()};
        jobs[i].result = 0;
        jobs[i].why = NULL;
        strbuf_init(&c->out, 4096);
        strbuf_init(&c->in, 4096);
        conn_start(c, ovs_rundir);
        if (c->done)
            left--;
    }
    while (left) {
        double now = now_monotonic();
        size_t np = 0;
        if (now >= deadline)
            break;
        for (size_t i = 0; i < n; i++) {
            if (conns[i].done)
                continue;
            pfds[np++] = (struct pollfd){
                .fd = conns[i].fd,
                .events = POLLIN | (conns[i].sent < conns[i].out.len ? POLLOUT : 0)};
        }
        int r = poll(pfds, np, (int)((deadline - now) * 1000) + 1);
        if (r < 0 && errno != EINTR)
            break;
        np = 0;
        for (size_t i = 0; i < n; i++) {
            struct conn *c = &conns[i];
            if (c->done)
                continue;
            short ev = r > 0 ? pfds[np].revents : 0;
            np++;
            if (ev & POLLOUT)
                conn_write(c);
            if (!c->done && (ev & (POLLIN | POLLHUP | POLLERR)))
                conn_read(c);
            if (!c->done && c->sent < c->out.len)
                conn_write(c);
            if (c->done)
                left--;
        }
    }
    for (size_t i = 0; i < n; i++) {
        struct conn *c = &conns[i];
        if (!c->done)
            conn_finish(c, -ETIMEDOUT,
                        xasprintf("ovs-vswitchd did not answer on %s within %d s", c->job->bridge,
                                  timeout_ms / 1000));
        strbuf_done(&c->out);
        strbuf_done(&c->in);
        json_object_put(c->ports);
    }
}
