/* The few OpenFlow 1.4 messages networkd speaks to ovs-vswitchd on a
 * bridge's management socket to install VIF locking rules without an
 * ovs-ofctl process per bridge: HELLO, ECHO, the port description
 * request, and FLOW_MODs inside an atomic bundle. Flows come as the text
 * flows_for_bridge writes (ovs-ofctl's flow syntax, restricted to the
 * fields the locking rules use), so the text stays the one description
 * of a table that networkd compares, logs and tests. Pure encoding and
 * decoding: nothing here does I/O. */
#pragma once

#include <json-c/json.h>
#include <stddef.h>
#include <stdint.h>

#include "lib/strbuf.h"

#define OFP_VERSION_14 0x05
#define OFP_HEADER_LEN 8

enum {
    OFPT_HELLO = 0,
    OFPT_ERROR = 1,
    OFPT_ECHO_REQUEST = 2,
    OFPT_ECHO_REPLY = 3,
    OFPT_FLOW_MOD = 14,
    OFPT_MULTIPART_REQUEST = 18,
    OFPT_MULTIPART_REPLY = 19,
    OFPT_BARRIER_REQUEST = 20,
    OFPT_BARRIER_REPLY = 21,
    OFPT_BUNDLE_CONTROL = 33,
    OFPT_BUNDLE_ADD_MESSAGE = 34,
};

enum {
    OFPMP_PORT_DESC = 13,
    OFPMPF_REPLY_MORE = 1,
};

enum {
    OFPBCT_OPEN_REQUEST = 0,
    OFPBCT_OPEN_REPLY = 1,
    OFPBCT_COMMIT_REQUEST = 4,
    OFPBCT_COMMIT_REPLY = 5,
    OFPBF_ATOMIC = 1,
    OFPBF_ORDERED = 2,
};

/* Appends a message with only a header (HELLO, BARRIER_REQUEST). */
void of_put_header_only(struct strbuf *out, uint8_t type, uint32_t xid);

/* Appends an OFPMP_PORT_DESC multipart request. */
void of_put_port_desc_request(struct strbuf *out, uint32_t xid);

/* Appends an OFPT_BUNDLE_CONTROL of type (OFPBCT_*) for bundle_id. */
void of_put_bundle_control(struct strbuf *out, uint32_t xid, uint32_t bundle_id, uint16_t type,
                           uint16_t flags);

/* Appends a FLOW_MOD deleting every flow of every table. */
void of_put_delete_all(struct strbuf *out, uint32_t xid);

/* Appends the FLOW_MOD (OFPFC_ADD to table 0) that one line of flow text
 * describes, e.g. "priority=7000,in_port=\"vif1.0\",arp,dl_src=...,
 * actions=normal". ports maps port names to OpenFlow port numbers
 * (int). Returns 0, or -EINVAL with *ret_why (a new string) saying what
 * it cannot encode; out is then as it was. */
int of_put_flow(struct strbuf *out, uint32_t xid, const char *line, json_object *ports,
                char **ret_why);

/* Appends msg (a whole message, its xid the same as this one's) wrapped
 * in an OFPT_BUNDLE_ADD_MESSAGE for bundle_id. */
void of_put_bundle_add(struct strbuf *out, uint32_t xid, uint32_t bundle_id, uint16_t flags,
                       const void *msg, size_t len);

/* The length of the message at the start of buf (len bytes), or 0 when
 * fewer than a header's bytes are there. A length below a header's is
 * returned as is: the caller treats it as a broken stream. */
size_t of_msg_len(const uint8_t *buf, size_t len);

static inline uint8_t of_msg_type(const uint8_t *msg)
{
    return msg[1];
}

uint32_t of_msg_xid(const uint8_t *msg);

/* Adds the ports of an OFPMP_PORT_DESC reply (a whole message) to ports
 * (name -> number) and sets *ret_more when another part follows.
 * Returns 0, or -EBADMSG when it is not such a reply or is cut short. */
int of_parse_port_desc(const uint8_t *msg, size_t len, json_object *ports, int *ret_more);

/* The bundle control type (OFPBCT_*) of an OFPT_BUNDLE_CONTROL message,
 * or -1 when it is too short. */
int of_bundle_control_type(const uint8_t *msg, size_t len);

/* A new string describing an OFPT_ERROR message: its type and code,
 * with the names OVS's errors for flows and bundles have. */
char *of_error_text(const uint8_t *msg, size_t len);
