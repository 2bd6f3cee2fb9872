/* Tunnels and NIC settings in networkd's configuration (README.md,
 * "tunnel/set", "nic/set"): the checks of each change and the OVS rows a
 * tunnel becomes. Pure data, like config.c, whose document they extend
 * with the sections "tunnels" ({port: {bridge, protocol, remote_ip, key?,
 * dst_port?}}) and "nics" ({nic: {gro}}). */
#pragma once

#include <json-c/json.h>

#include "lib/jsonrpc.h"
#include "networkd/config.h"

/* tunnel/set: a GRE or VXLAN port name on bridge (a real bridge of the
 * document) towards remote_ip (IPv4 or IPv6), with an optional key
 * (a decimal string, 0..2^32-1 for GRE, 0..2^24-1 for VXLAN) and, for
 * VXLAN, an optional UDP dst_port. */
struct jsonrpc_error *cfg_tunnel_set(json_object *doc, json_object *p, const struct cfg_check *c);
struct jsonrpc_error *cfg_tunnel_remove(json_object *doc, json_object *p);

/* nic/set: settings of a NIC applied with ethtool (gro: "on"|"off");
 * the NIC need not exist yet. */
struct jsonrpc_error *cfg_nic_set(json_object *doc, json_object *p, const struct cfg_check *c);
struct jsonrpc_error *cfg_nic_remove(json_object *doc, json_object *p);

/* The OVS Interface options of a tunnel entry (new object of strings):
 * remote_ip, key and dst_port as OVS names them. */
json_object *tunnel_ovs_options(json_object *tunnel);
