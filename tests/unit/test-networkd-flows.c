/* Unit tests of the OpenFlow rules of VIF locking (networkd/flows.c): a
 * bridge without locked or disabled VIFs has no table of networkd's; a
 * locked VIF may send only from its MAC and allowed addresses (XCP's
 * rules and priorities); a disabled one nothing; VIFs of a VLAN count on
 * its parent bridge; and the table ends with the plain switch. Tables
 * are installed over OpenFlow on every bridge at once (stand-in switches
 * here), each with its own result. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <pthread.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "lib/jsonrpc.h"
#include "lib/util.h"
#include "networkd/config.h"
#include "networkd/flows.h"
#include "networkd/openflow.h"

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

/* A stand-in ovs-vswitchd for one bridge: answers HELLO, the port
 * description (vif1.0 is port 7), the bundle; counts the flows added in
 * the bundle; in mode "reject" refuses the second flow, in "silent" never
 * answers. */
struct fake_switch {
    char path[128];
    const char *mode;
    int listen_fd;
    pthread_t thread;
    int flows, deletes, committed;
    uint32_t in_port;
};

static void send_msg(int fd, uint8_t type, uint32_t xid, const void *body, size_t blen)
{
    uint8_t h[8] = {OFP_VERSION_14,
                    type,
                    (uint8_t)((8 + blen) >> 8),
                    (uint8_t)(8 + blen),
                    (uint8_t)(xid >> 24),
                    (uint8_t)(xid >> 16),
                    (uint8_t)(xid >> 8),
                    (uint8_t)xid};
    assert_int_equal(write(fd, h, 8), 8);
    if (blen)
        assert_int_equal(write(fd, body, blen), (ssize_t)blen);
}

static bool read_full(int fd, uint8_t *buf, size_t len)
{
    for (size_t got = 0; got < len;) {
        ssize_t n = read(fd, buf + got, len - got);
        if (n <= 0)
            return false;
        got += (size_t)n;
    }
    return true;
}

static void *fake_switch_run(void *arg)
{
    struct fake_switch *fs = arg;
    int fd = accept(fs->listen_fd, NULL, NULL);
    uint8_t buf[4096];
    int adds = 0;

    while (fd >= 0 && read_full(fd, buf, 8)) {
        size_t len = of_msg_len(buf, 8);
        uint32_t xid = of_msg_xid(buf);
        if (len < 8 || len > sizeof(buf) || !read_full(fd, buf + 8, len - 8))
            break;
        if (streq(fs->mode, "silent"))
            continue;
        if (buf[1] == OFPT_HELLO) {
            send_msg(fd, OFPT_HELLO, xid, NULL, 0);
        } else if (buf[1] == OFPT_MULTIPART_REQUEST) {
            uint8_t body[8 + 40] = {0, OFPMP_PORT_DESC};
            uint8_t *port = body + 8;
            port[3] = 7;  /* port_no */
            port[5] = 40; /* length */
            memcpy(port + 16, "vif1.0", 6);
            send_msg(fd, OFPT_MULTIPART_REPLY, xid, body, sizeof(body));
        } else if (buf[1] == OFPT_BUNDLE_ADD_MESSAGE) {
            const uint8_t *fm = buf + 16;
            assert_int_equal(fm[1], OFPT_FLOW_MOD);
            assert_int_equal(of_msg_xid(fm), xid);
            if (fm[25] == 3) /* OFPFC_DELETE */
                fs->deletes++;
            else if (++adds == 2 && streq(fs->mode, "reject")) {
                uint8_t body[4] = {0, 5, 0, 0}; /* FLOW_MOD_FAILED */
                send_msg(fd, OFPT_ERROR, xid, body, sizeof(body));
            } else {
                fs->flows++;
                /* a match's first OXM is its in_port, when it has one */
                if (fm[52] == 0x80 && fm[53] == 0 && fm[54] == 0 && fm[55] == 4)
                    fs->in_port = (uint32_t)fm[56] << 24 | (uint32_t)fm[57] << 16 |
                                  (uint32_t)fm[58] << 8 | fm[59];
            }
        } else if (buf[1] == OFPT_BARRIER_REQUEST) {
            send_msg(fd, OFPT_BARRIER_REPLY, xid, NULL, 0);
        } else if (buf[1] == OFPT_BUNDLE_CONTROL) {
            uint8_t body[8] = {0};
            memcpy(body, buf + 8, 8);
            body[5] = buf[13] == OFPBCT_COMMIT_REQUEST ? OFPBCT_COMMIT_REPLY : OFPBCT_OPEN_REPLY;
            if (buf[13] == OFPBCT_COMMIT_REQUEST)
                fs->committed = 1;
            send_msg(fd, OFPT_BUNDLE_CONTROL, xid, body, sizeof(body));
        }
    }
    if (fd >= 0)
        close(fd);
    return NULL;
}

static void fake_switch_start(struct fake_switch *fs, const char *dir, const char *bridge,
                              const char *mode)
{
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    snprintf(fs->path, sizeof(fs->path), "%s/%s.mgmt", dir, bridge);
    assert_true(strlen(fs->path) < sizeof(sa.sun_path));
    memcpy(sa.sun_path, fs->path, strlen(fs->path) + 1);
    fs->mode = mode;
    fs->listen_fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    assert_true(fs->listen_fd >= 0);
    assert_int_equal(bind(fs->listen_fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
    assert_int_equal(listen(fs->listen_fd, 4), 0);
    assert_int_equal(pthread_create(&fs->thread, NULL, fake_switch_run, fs), 0);
}

static void fake_switch_stop(struct fake_switch *fs)
{
    /* the client has closed its end: the thread's read ends */
    assert_int_equal(pthread_join(fs->thread, NULL), 0);
    close(fs->listen_fd);
    unlink(fs->path);
}

static void test_tables_are_installed_together_each_with_its_result(void **state)
{
    (void)state;
    char dir[] = "/tmp/test-networkd-flows-XXXXXX";
    assert_non_null(mkdtemp(dir));
    static const char table[] = "priority=4000,in_port=\"vif1.0\",actions=drop\n"
                                "priority=6000,in_port=\"vif1.0\",ip,nw_src=10.0.0.1,"
                                "actions=normal\n"
                                "priority=0,actions=normal\n";
    const char *modes[] = {"ok", "reject", "ok", "silent", "ok", "ok"};
    struct fake_switch fs[6] = {0};
    struct flows_job jobs[7];
    char names[7][16];

    for (int i = 0; i < 7; i++) {
        snprintf(names[i], sizeof(names[i]), "br%d", i);
        jobs[i] = (struct flows_job){.bridge = names[i], .text = table};
        if (i < 6)
            fake_switch_start(&fs[i], dir, names[i], modes[i]);
    }
    /* br5's table names a port the bridge lacks; br6 has no socket */
    jobs[5].text = "priority=4000,in_port=\"vif9.0\",actions=drop\n";
    flows_apply_all(dir, jobs, 7, 2000);
    for (int i = 0; i < 6; i++)
        fake_switch_stop(&fs[i]);
    for (int i = 0; i < 5; i += 2) {
        assert_int_equal(jobs[i].result, 0);
        assert_null(jobs[i].why);
        /* the old table deleted and the new one added, in one bundle */
        assert_int_equal(fs[i].deletes, 1);
        assert_int_equal(fs[i].flows, 3);
        assert_int_equal(fs[i].committed, 1);
        /* vif1.0 by the number the switch gave it */
        assert_int_equal(fs[i].in_port, 7);
    }
    assert_int_equal(jobs[1].result, -EIO);
    assert_non_null(strstr(jobs[1].why, "FLOW_MOD_FAILED"));
    assert_non_null(strstr(jobs[1].why, "nw_src=10.0.0.1"));
    /* a refused flow: no commit of the rest */
    assert_int_equal(fs[1].committed, 0);
    assert_int_equal(jobs[3].result, -ETIMEDOUT);
    assert_non_null(strstr(jobs[3].why, "did not answer"));
    assert_int_equal(jobs[5].result, -EINVAL);
    assert_non_null(strstr(jobs[5].why, "vif9.0"));
    assert_true(jobs[6].result < 0);
    assert_non_null(strstr(jobs[6].why, "br6.mgmt"));
    for (int i = 0; i < 7; i++)
        free(jobs[i].why);
    assert_int_equal(rmdir(dir), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_no_table_without_locked_vifs),
        cmocka_unit_test(test_locked_vif_sends_only_from_what_it_is_allowed),
        cmocka_unit_test(test_disabled_vif_sends_nothing),
        cmocka_unit_test(test_tables_are_installed_together_each_with_its_result),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
