/* OpenFlow 1.4 encoding and decoding for networkd's locking rules (see
 * openflow.h). Matches are OXM TLVs, written in an order where every
 * field follows its prerequisites (Ethernet type, then IP protocol, then
 * ports and ICMP types, then neighbour discovery fields), as switches
 * check them in the order they read them. */
#include "networkd/openflow.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/cleanup.h"
#include "lib/util.h"

enum {
    OFPFC_ADD = 0,
    OFPFC_DELETE = 3,
    OFPMT_OXM = 1,
    OFPIT_APPLY_ACTIONS = 4,
    OFPAT_OUTPUT = 0,
    OXM_CLASS_OPENFLOW_BASIC = 0x8000,
};

#define OFPP_NORMAL 0xfffffffaU
#define OFPP_ANY 0xffffffffU
#define OFPG_ANY 0xffffffffU
#define OFP_NO_BUFFER 0xffffffffU
#define OFPTT_ALL 0xff

static void put8(struct strbuf *out, uint8_t v)
{
    strbuf_add(out, &v, 1);
}

static void put16(struct strbuf *out, uint16_t v)
{
    v = htons(v);
    strbuf_add(out, &v, 2);
}

static void put32(struct strbuf *out, uint32_t v)
{
    v = htonl(v);
    strbuf_add(out, &v, 4);
}

static void put_zeros(struct strbuf *out, size_t n)
{
    static const uint8_t zeros[8];
    while (n) {
        size_t k = n < sizeof(zeros) ? n : sizeof(zeros);
        strbuf_add(out, zeros, k);
        n -= k;
    }
}

static uint16_t get16(const uint8_t *p)
{
    return (uint16_t)(p[0] << 8 | p[1]);
}

static uint32_t get32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

/* Writes the length of the message that starts at start. */
static void fix_len(struct strbuf *out, size_t start)
{
    uint16_t len = htons((uint16_t)(out->len - start));
    memcpy(out->buf + start + 2, &len, 2);
}

static void put_header(struct strbuf *out, uint8_t type, uint32_t xid)
{
    put8(out, OFP_VERSION_14);
    put8(out, type);
    put16(out, OFP_HEADER_LEN);
    put32(out, xid);
}

void of_put_header_only(struct strbuf *out, uint8_t type, uint32_t xid)
{
    put_header(out, type, xid);
}

void of_put_port_desc_request(struct strbuf *out, uint32_t xid)
{
    size_t start = out->len;
    put_header(out, OFPT_MULTIPART_REQUEST, xid);
    put16(out, OFPMP_PORT_DESC);
    put16(out, 0);
    put_zeros(out, 4);
    fix_len(out, start);
}

void of_put_bundle_control(struct strbuf *out, uint32_t xid, uint32_t bundle_id, uint16_t type,
                           uint16_t flags)
{
    size_t start = out->len;
    put_header(out, OFPT_BUNDLE_CONTROL, xid);
    put32(out, bundle_id);
    put16(out, type);
    put16(out, flags);
    fix_len(out, start);
}

void of_put_bundle_add(struct strbuf *out, uint32_t xid, uint32_t bundle_id, uint16_t flags,
                       const void *msg, size_t len)
{
    size_t start = out->len;
    put_header(out, OFPT_BUNDLE_ADD_MESSAGE, xid);
    put32(out, bundle_id);
    put16(out, 0);
    put16(out, flags);
    strbuf_add(out, msg, len);
    fix_len(out, start);
}

/* The part of a FLOW_MOD before its match. */
static void put_flow_mod_head(struct strbuf *out, uint32_t xid, uint8_t table, uint8_t command,
                              uint16_t priority)
{
    put_header(out, OFPT_FLOW_MOD, xid);
    put_zeros(out, 16); /* cookie, cookie_mask */
    put8(out, table);
    put8(out, command);
    put16(out, 0); /* idle_timeout */
    put16(out, 0); /* hard_timeout */
    put16(out, priority);
    put32(out, OFP_NO_BUFFER);
    put32(out, OFPP_ANY);
    put32(out, OFPG_ANY);
    put16(out, 0); /* flags */
    put16(out, 0); /* importance */
}

void of_put_delete_all(struct strbuf *out, uint32_t xid)
{
    size_t start = out->len;
    put_flow_mod_head(out, xid, OFPTT_ALL, OFPFC_DELETE, 0);
    put16(out, OFPMT_OXM);
    put16(out, 4);
    put_zeros(out, 4);
    fix_len(out, start);
}

/* The match fields the locking rules use, in the order they are
 * written (prerequisites first), as OXM field numbers. */
enum field {
    F_IN_PORT,
    F_ETH_SRC,
    F_ETH_TYPE,
    F_IP_PROTO,
    F_IPV4_SRC,
    F_TP_DST,
    F_ARP_SPA,
    F_ARP_SHA,
    F_IPV6_SRC,
    F_ICMP_TYPE,
    F_ND_TARGET,
    F_ND_SLL,
    F_COUNT
};

struct match {
    bool has[F_COUNT];
    uint32_t in_port;
    uint8_t eth_src[6], arp_sha[6], nd_sll[6];
    uint16_t eth_type, tp_dst;
    uint8_t ip_proto, icmp_type;
    uint8_t ipv4_src[4], arp_spa[4];
    uint8_t ipv6_src[16], nd_target[16];
};

/* Shorthands for an Ethernet type and an IP protocol (0: none). */
static const struct {
    const char *name;
    uint16_t eth_type;
    uint8_t ip_proto;
} protocols[] = {
    {"ip", 0x0800, 0},     {"arp", 0x0806, 0},  {"icmp", 0x0800, 1},
    {"tcp", 0x0800, 6},    {"udp", 0x0800, 17}, {"ipv6", 0x86dd, 0},
    {"icmp6", 0x86dd, 58}, {"tcp6", 0x86dd, 6}, {"udp6", 0x86dd, 17},
};

enum kind { K_MAC, K_U8, K_U16, K_IPV4, K_IPV6 };

/* key=value fields (in_port, priority and actions are handled apart). */
static const struct {
    const char *name;
    enum field field;
    enum kind kind;
    size_t offset;
} fields[] = {
    {"dl_src", F_ETH_SRC, K_MAC, offsetof(struct match, eth_src)},
    {"tp_dst", F_TP_DST, K_U16, offsetof(struct match, tp_dst)},
    {"arp_sha", F_ARP_SHA, K_MAC, offsetof(struct match, arp_sha)},
    {"arp_spa", F_ARP_SPA, K_IPV4, offsetof(struct match, arp_spa)},
    {"nw_src", F_IPV4_SRC, K_IPV4, offsetof(struct match, ipv4_src)},
    {"ipv6_src", F_IPV6_SRC, K_IPV6, offsetof(struct match, ipv6_src)},
    {"icmp_type", F_ICMP_TYPE, K_U8, offsetof(struct match, icmp_type)},
    {"nd_sll", F_ND_SLL, K_MAC, offsetof(struct match, nd_sll)},
    {"nd_target", F_ND_TARGET, K_IPV6, offsetof(struct match, nd_target)},
};

static bool parse_mac(const char *s, uint8_t mac[6])
{
    unsigned b[6];
    char end;
    if (sscanf(s, "%2x:%2x:%2x:%2x:%2x:%2x%c", &b[0], &b[1], &b[2], &b[3], &b[4], &b[5], &end) != 6)
        return false;
    for (int i = 0; i < 6; i++)
        mac[i] = (uint8_t)b[i];
    return true;
}

static bool parse_uint(const char *s, unsigned long max, unsigned long *ret)
{
    char *end;
    errno = 0;
    unsigned long v = strtoul(s, &end, 10);
    if (!*s || *end || errno || v > max || *s == '-')
        return false;
    *ret = v;
    return true;
}

static bool parse_value(enum kind kind, const char *v, void *dst)
{
    unsigned long n;
    switch (kind) {
    case K_MAC:
        return parse_mac(v, dst);
    case K_U8:
        if (!parse_uint(v, 255, &n))
            return false;
        *(uint8_t *)dst = (uint8_t)n;
        return true;
    case K_U16:
        if (!parse_uint(v, 65535, &n))
            return false;
        *(uint16_t *)dst = (uint16_t)n;
        return true;
    case K_IPV4:
        return inet_pton(AF_INET, v, dst) == 1;
    case K_IPV6:
        return inet_pton(AF_INET6, v, dst) == 1;
    }
    return false;
}

static void oxm(struct strbuf *out, uint8_t field, const void *value, uint8_t len)
{
    put16(out, OXM_CLASS_OPENFLOW_BASIC);
    put8(out, (uint8_t)(field << 1));
    put8(out, len);
    strbuf_add(out, value, len);
}

/* Writes the match, or says which field lacks its prerequisite. */
static const char *put_match(struct strbuf *out, const struct match *m)
{
    size_t start = out->len;
    bool v4 = m->has[F_ETH_TYPE] && m->eth_type == 0x0800;
    bool v6 = m->has[F_ETH_TYPE] && m->eth_type == 0x86dd;
    bool arp = m->has[F_ETH_TYPE] && m->eth_type == 0x0806;
    uint8_t b[4];

    if ((m->has[F_IP_PROTO] && !v4 && !v6) || (m->has[F_IPV4_SRC] && !v4))
        return "nw_src or an IP protocol without ip";
    if ((m->has[F_ARP_SPA] || m->has[F_ARP_SHA]) && !arp)
        return "arp_spa or arp_sha without arp";
    if (m->has[F_IPV6_SRC] && !v6)
        return "ipv6_src without ipv6";
    if (m->has[F_TP_DST] && !(m->has[F_IP_PROTO] && (m->ip_proto == 6 || m->ip_proto == 17)))
        return "tp_dst without tcp or udp";
    bool icmp6 = m->has[F_IP_PROTO] && v6 && m->ip_proto == 58;
    if (m->has[F_ICMP_TYPE] && !icmp6 && !(v4 && m->has[F_IP_PROTO] && m->ip_proto == 1))
        return "icmp_type without icmp or icmp6";
    if (m->has[F_ND_TARGET] &&
        !(icmp6 && m->has[F_ICMP_TYPE] && (m->icmp_type == 135 || m->icmp_type == 136)))
        return "nd_target without icmp6 and icmp_type 135 or 136";
    if (m->has[F_ND_SLL] && !(icmp6 && m->has[F_ICMP_TYPE] && m->icmp_type == 135))
        return "nd_sll without icmp6 and icmp_type 135";

    put16(out, OFPMT_OXM);
    put16(out, 0);
    if (m->has[F_IN_PORT]) {
        uint32_t p = htonl(m->in_port);
        oxm(out, 0, &p, 4);
    }
    if (m->has[F_ETH_SRC])
        oxm(out, 4, m->eth_src, 6);
    if (m->has[F_ETH_TYPE]) {
        b[0] = (uint8_t)(m->eth_type >> 8), b[1] = (uint8_t)m->eth_type;
        oxm(out, 5, b, 2);
    }
    if (m->has[F_IP_PROTO])
        oxm(out, 10, &m->ip_proto, 1);
    if (m->has[F_IPV4_SRC])
        oxm(out, 11, m->ipv4_src, 4);
    if (m->has[F_TP_DST]) {
        b[0] = (uint8_t)(m->tp_dst >> 8), b[1] = (uint8_t)m->tp_dst;
        oxm(out, m->ip_proto == 6 ? 14 : 16, b, 2);
    }
    if (m->has[F_ARP_SPA])
        oxm(out, 22, m->arp_spa, 4);
    if (m->has[F_ARP_SHA])
        oxm(out, 24, m->arp_sha, 6);
    if (m->has[F_IPV6_SRC])
        oxm(out, 26, m->ipv6_src, 16);
    if (m->has[F_ICMP_TYPE])
        oxm(out, v6 ? 29 : 19, &m->icmp_type, 1);
    if (m->has[F_ND_TARGET])
        oxm(out, 31, m->nd_target, 16);
    if (m->has[F_ND_SLL])
        oxm(out, 32, m->nd_sll, 6);
    uint16_t mlen = htons((uint16_t)(out->len - start));
    memcpy(out->buf + start + 2, &mlen, 2);
    put_zeros(out, (8 - (out->len - start) % 8) % 8);
    return NULL;
}

/* Splits the next "key" or "key=value" off *p (values may be quoted);
 * NULL at the end. */
static char *next_token(char **p, char **ret_value)
{
    char *s = *p, *key = s;
    if (!*s)
        return NULL;
    *ret_value = NULL;
    while (*s && *s != ',' && *s != '=')
        s++;
    if (*s == '=') {
        *s++ = '\0';
        if (*s == '"') {
            *ret_value = ++s;
            while (*s && *s != '"')
                s++;
            if (*s)
                *s++ = '\0';
        } else {
            *ret_value = s;
            while (*s && *s != ',')
                s++;
        }
    }
    if (*s == ',')
        *s++ = '\0';
    *p = s;
    return key;
}

int of_put_flow(struct strbuf *out, uint32_t xid, const char *line, json_object *ports,
                char **ret_why)
{
    char *copy = xstrdup(line), *p = copy, *key, *value;
    struct match m = {0};
    unsigned long priority = 32768;
    int action = -1; /* 0 drop, 1 normal */
    const char *bad = NULL;
    char *why = NULL;
    size_t start = out->len;

    copy[strcspn(copy, "\n")] = '\0';
    while (!bad && (key = next_token(&p, &value))) {
        size_t i;
        if (streq(key, "priority")) {
            if (!value || !parse_uint(value, 65535, &priority))
                bad = "priority";
            continue;
        }
        if (streq(key, "actions")) {
            if (value && streq(value, "drop"))
                action = 0;
            else if (value && streq(value, "normal"))
                action = 1;
            else
                bad = "actions";
            /* nothing may follow the actions */
            if (*p)
                bad = "actions";
            continue;
        }
        if (streq(key, "in_port")) {
            json_object *no = NULL;
            if (!value || !json_object_object_get_ex(ports, value, &no)) {
                why = xasprintf("port %s is not on the bridge", value ? value : "(none)");
                break;
            }
            m.in_port = (uint32_t)json_object_get_int64(no);
            m.has[F_IN_PORT] = true;
            continue;
        }
        for (i = 0; i < ELEMENTSOF(protocols); i++)
            if (streq(key, protocols[i].name))
                break;
        if (i < ELEMENTSOF(protocols)) {
            if (value || m.has[F_ETH_TYPE]) {
                bad = key;
                continue;
            }
            m.has[F_ETH_TYPE] = true;
            m.eth_type = protocols[i].eth_type;
            if (protocols[i].ip_proto) {
                m.has[F_IP_PROTO] = true;
                m.ip_proto = protocols[i].ip_proto;
            }
            continue;
        }
        for (i = 0; i < ELEMENTSOF(fields); i++)
            if (streq(key, fields[i].name))
                break;
        if (i == ELEMENTSOF(fields) || !value || m.has[fields[i].field] ||
            !parse_value(fields[i].kind, value, (uint8_t *)&m + fields[i].offset)) {
            bad = key;
            continue;
        }
        m.has[fields[i].field] = true;
    }
    if (!why && !bad && action < 0)
        bad = "actions (missing)";
    if (!why && !bad) {
        put_flow_mod_head(out, xid, 0, OFPFC_ADD, (uint16_t)priority);
        const char *prereq = put_match(out, &m);
        if (prereq)
            why = xasprintf("cannot encode the flow %s: %s", line, prereq);
        else if (action == 1) {
            put16(out, OFPIT_APPLY_ACTIONS);
            put16(out, 24);
            put_zeros(out, 4);
            put16(out, OFPAT_OUTPUT);
            put16(out, 16);
            put32(out, OFPP_NORMAL);
            put16(out, 0); /* max_len */
            put_zeros(out, 6);
        }
    } else if (bad)
        why = xasprintf("cannot encode the flow %s: bad or unknown %s", line, bad);
    free(copy);
    if (why) {
        out->len = start;
        *ret_why = why;
        return -EINVAL;
    }
    fix_len(out, start);
    return 0;
}

size_t of_msg_len(const uint8_t *buf, size_t len)
{
    if (len < OFP_HEADER_LEN)
        return 0;
    return get16(buf + 2);
}

uint32_t of_msg_xid(const uint8_t *msg)
{
    return get32(msg + 4);
}

int of_parse_port_desc(const uint8_t *msg, size_t len, json_object *ports, int *ret_more)
{
    if (len < 16 || of_msg_type(msg) != OFPT_MULTIPART_REPLY || get16(msg + 8) != OFPMP_PORT_DESC)
        return -EBADMSG;
    int more = get16(msg + 10) & OFPMPF_REPLY_MORE;
    for (size_t off = 16; off < len;) {
        if (len - off < 40)
            return -EBADMSG;
        const uint8_t *port = msg + off;
        size_t plen = get16(port + 4);
        if (plen < 40 || plen > len - off)
            return -EBADMSG;
        char name[17];
        memcpy(name, port + 16, 16);
        name[16] = '\0';
        json_object_object_add(ports, name, json_object_new_int64(get32(port)));
        off += plen;
    }
    *ret_more = more;
    return 0;
}

int of_bundle_control_type(const uint8_t *msg, size_t len)
{
    if (len < 16)
        return -1;
    return get16(msg + 12);
}

char *of_error_text(const uint8_t *msg, size_t len)
{
    static const char *const types[] = {
        [0] = "HELLO_FAILED",           [1] = "BAD_REQUEST",    [2] = "BAD_ACTION",
        [3] = "BAD_INSTRUCTION",        [4] = "BAD_MATCH",      [5] = "FLOW_MOD_FAILED",
        [13] = "TABLE_FEATURES_FAILED", [17] = "BUNDLE_FAILED",
    };
    if (len < 12)
        return xstrdup("a short OpenFlow error message");
    unsigned type = get16(msg + 8), code = get16(msg + 10);
    const char *name = type < ELEMENTSOF(types) && types[type] ? types[type] : "error";
    return xasprintf("OpenFlow error %s (type %u, code %u)", name, type, code);
}
