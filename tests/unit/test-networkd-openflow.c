/* Unit tests of networkd's OpenFlow 1.4 encoding (networkd/openflow.c):
 * a flow of the locking rules byte for byte as the specification lays it
 * out (prerequisites first, NORMAL as an apply-actions instruction); a
 * drop flow has no instruction; flows it cannot encode are refused,
 * saying why, leaving the buffer as it was; the bundle wrapping, the
 * delete of every flow, and the reading of port descriptions. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "lib/cleanup.h"
#include "lib/util.h"
#include "networkd/openflow.h"

static json_object *ports(void)
{
    json_object *p = json_object_new_object();
    json_object_object_add(p, "vif1.0", json_object_new_int64(3));
    return p;
}

static void test_dhcp_rule_is_encoded_as_the_specification_says(void **state)
{
    (void)state;
    static const uint8_t want[] = {
        0x05, 0x0e, 0x00, 0x70, 0x00, 0x00, 0x00, 0x2a, /* header, xid 42 */
        0,    0,    0,    0,    0,    0,    0,    0,    0,    0,
        0,    0,    0,    0,    0,    0,                /* cookie, mask */
        0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x1f, 0x40, /* table 0, add, priority 8000 */
        0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, /* buffer, out_port */
        0xff, 0xff, 0xff, 0xff, 0x00, 0x00, 0x00, 0x00, /* out_group, flags, importance */
        0x00, 0x01, 0x00, 0x27,                         /* OXM match, 39 bytes */
        0x80, 0x00, 0x00, 0x04, 0x00, 0x00, 0x00, 0x03, /* in_port 3 */
        0x80, 0x00, 0x08, 0x06, 0x00, 0x16, 0x3e, 0x00, 0x00, 0x01, /* eth_src */
        0x80, 0x00, 0x0a, 0x02, 0x08, 0x00,                         /* eth_type IPv4 */
        0x80, 0x00, 0x14, 0x01, 0x11,                               /* ip_proto UDP */
        0x80, 0x00, 0x20, 0x02, 0x00, 0x43,                         /* udp_dst 67 */
        0x00,                                                       /* padding */
        0x00, 0x04, 0x00, 0x18, 0x00, 0x00, 0x00, 0x00,             /* apply actions */
        0x00, 0x00, 0x00, 0x10, 0xff, 0xff, 0xff, 0xfa,             /* output NORMAL */
        0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
    };
    json_object *p = ports();
    struct strbuf sb;
    char *why = NULL;

    strbuf_init(&sb, 64);
    assert_int_equal(of_put_flow(&sb, 42,
                                 "priority=8000,in_port=\"vif1.0\",udp,dl_src=00:16:3e:00:00:01,"
                                 "tp_dst=67,actions=normal",
                                 p, &why),
                     0);
    assert_int_equal(sb.len, sizeof(want));
    assert_memory_equal(sb.buf, want, sizeof(want));
    assert_int_equal(of_msg_len((const uint8_t *)sb.buf, sb.len), sizeof(want));
    strbuf_done(&sb);
    json_object_put(p);
}

static void test_neighbour_discovery_fields_follow_their_prerequisites(void **state)
{
    (void)state;
    json_object *p = ports();
    struct strbuf sb;
    char *why = NULL;

    strbuf_init(&sb, 64);
    assert_int_equal(of_put_flow(&sb, 1,
                                 "priority=8000,in_port=\"vif1.0\",icmp6,dl_src=00:16:3e:00:00:01,"
                                 "ipv6_src=fd00::1,icmp_type=136,nd_target=fd00::1,actions=normal",
                                 p, &why),
                     0);
    /* the OXM fields in order: in_port, eth_src, eth_type, ip_proto,
     * ipv6_src, icmpv6_type, nd_target */
    static const uint8_t order[] = {0, 4, 5, 10, 26, 29, 31};
    const uint8_t *m = (const uint8_t *)sb.buf + 52;
    for (size_t i = 0; i < sizeof(order); i++) {
        assert_int_equal(m[0], 0x80);
        assert_int_equal(m[2] >> 1, order[i]);
        m += 4 + m[3];
    }
    assert_int_equal(sb.len % 8, 0);
    strbuf_done(&sb);
    json_object_put(p);
}

static void test_drop_rule_has_no_instruction(void **state)
{
    (void)state;
    json_object *p = ports();
    struct strbuf sb;
    char *why = NULL;

    strbuf_init(&sb, 64);
    assert_int_equal(of_put_flow(&sb, 1, "priority=4000,in_port=\"vif1.0\",actions=drop", p, &why),
                     0);
    /* header and match (in_port, padded to 16 bytes), nothing after */
    assert_int_equal(sb.len, 48 + 16);
    strbuf_reset(&sb);
    assert_int_equal(of_put_flow(&sb, 1, "priority=0,actions=normal\n", p, &why), 0);
    assert_int_equal(sb.len, 48 + 8 + 24);
    strbuf_done(&sb);
    json_object_put(p);
}

static void test_flows_it_cannot_encode_are_refused(void **state)
{
    (void)state;
    static const struct {
        const char *flow, *why;
    } bad[] = {
        {"priority=1,in_port=\"vif2.0\",actions=drop", "vif2.0 is not on the bridge"},
        {"priority=1,vlan_tci=5,actions=drop", "vlan_tci"},
        {"priority=1,ip", "actions (missing)"},
        {"priority=1,actions=flood", "actions"},
        {"priority=1,actions=drop,ip", "actions"},
        {"priority=70000,actions=drop", "priority"},
        {"priority=1,ip,nw_src=10.0.0.300,actions=drop", "nw_src"},
        {"priority=1,dl_src=00:16:3e,actions=drop", "dl_src"},
        {"priority=1,nw_src=10.0.0.1,actions=drop", "nw_src or an IP protocol without ip"},
        {"priority=1,ip,tp_dst=67,actions=drop", "tp_dst without tcp or udp"},
        {"priority=1,icmp6,icmp_type=136,nd_sll=00:16:3e:00:00:01,actions=drop",
         "nd_sll without icmp6 and icmp_type 135"},
        {"priority=1,ip,arp,actions=drop", "arp"},
    };
    json_object *p = ports();
    struct strbuf sb;

    strbuf_init(&sb, 64);
    strbuf_adds(&sb, "kept");
    for (size_t i = 0; i < ELEMENTSOF(bad); i++) {
        char *why = NULL;
        assert_int_equal(of_put_flow(&sb, 1, bad[i].flow, p, &why), -EINVAL);
        assert_non_null(why);
        if (!strstr(why, bad[i].why))
            fail_msg("%s: %s", bad[i].flow, why);
        free(why);
        assert_int_equal(sb.len, 4);
    }
    strbuf_done(&sb);
    json_object_put(p);
}

static void test_bundle_add_wraps_a_whole_message(void **state)
{
    (void)state;
    struct strbuf inner, sb;

    strbuf_init(&inner, 64);
    strbuf_init(&sb, 64);
    of_put_delete_all(&inner, 9);
    assert_int_equal(inner.len, 56);
    assert_int_equal((uint8_t)inner.buf[24], 0xff); /* every table */
    assert_int_equal(inner.buf[25], 3);             /* OFPFC_DELETE */
    of_put_bundle_add(&sb, 9, 1, OFPBF_ATOMIC | OFPBF_ORDERED, inner.buf, inner.len);
    const uint8_t *m = (const uint8_t *)sb.buf;
    assert_int_equal(of_msg_type(m), OFPT_BUNDLE_ADD_MESSAGE);
    assert_int_equal(of_msg_len(m, sb.len), 16 + 56);
    assert_int_equal(of_msg_xid(m), 9);
    assert_int_equal(m[11], 1); /* bundle id */
    assert_int_equal(m[15], 3); /* flags */
    assert_memory_equal(m + 16, inner.buf, inner.len);
    strbuf_reset(&sb);
    of_put_bundle_control(&sb, 10, 1, OFPBCT_COMMIT_REQUEST, OFPBF_ATOMIC);
    assert_int_equal(sb.len, 16);
    assert_int_equal(of_bundle_control_type((const uint8_t *)sb.buf, sb.len),
                     OFPBCT_COMMIT_REQUEST);
    strbuf_done(&inner);
    strbuf_done(&sb);
}

static void test_port_descriptions_are_read_and_short_ones_refused(void **state)
{
    (void)state;
    uint8_t msg[16 + 2 * 40] = {0x05, OFPT_MULTIPART_REPLY, 0, sizeof(msg),      0, 0, 0, 2,
                                0,    OFPMP_PORT_DESC,      0, OFPMPF_REPLY_MORE};
    uint8_t *a = msg + 16, *b = msg + 56;
    a[3] = 1, a[5] = 40;
    memcpy(a + 16, "eth0", 4);
    b[0] = 0xff, b[1] = 0xff, b[2] = 0xff, b[3] = 0xfe, b[5] = 40; /* LOCAL */
    memcpy(b + 16, "xenbr0xxxxxxxxxx", 16);                        /* no NUL */
    json_object *p = json_object_new_object();
    int more = 0;

    assert_int_equal(of_parse_port_desc(msg, sizeof(msg), p, &more), 0);
    assert_true(more);
    assert_int_equal(json_object_get_int64(json_object_object_get(p, "eth0")), 1);
    assert_int_equal(json_object_get_int64(json_object_object_get(p, "xenbr0xxxxxxxxxx")),
                     0xfffffffe);
    assert_int_equal(of_parse_port_desc(msg, sizeof(msg) - 1, p, &more), -EBADMSG);
    b[5] = 39;
    assert_int_equal(of_parse_port_desc(msg, sizeof(msg), p, &more), -EBADMSG);
    msg[9] = 1;
    assert_int_equal(of_parse_port_desc(msg, sizeof(msg), p, &more), -EBADMSG);
    json_object_put(p);

    uint8_t err[12] = {0x05, OFPT_ERROR, 0, 12, 0, 0, 0, 5, 0, 17, 0, 2};
    char *text = of_error_text(err, sizeof(err));
    assert_non_null(strstr(text, "BUNDLE_FAILED"));
    free(text);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_dhcp_rule_is_encoded_as_the_specification_says),
        cmocka_unit_test(test_neighbour_discovery_fields_follow_their_prerequisites),
        cmocka_unit_test(test_drop_rule_has_no_instruction),
        cmocka_unit_test(test_flows_it_cannot_encode_are_refused),
        cmocka_unit_test(test_bundle_add_wraps_a_whole_message),
        cmocka_unit_test(test_port_descriptions_are_read_and_short_ones_refused),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
