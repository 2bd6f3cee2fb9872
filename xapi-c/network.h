/* xapi's side of networkd: calls to it with its errors turned into XenAPI
 * errors, and the host's whole network configuration derived from the
 * database (bridges of networks, NIC ports, bonds, VLANs, addresses,
 * ports of the VIFs of running VMs) sent as one config/replace. Every
 * change of the network objects is a database change followed by that
 * resynchronisation; a change networkd refuses is undone in the database,
 * so the two never disagree for long. At start a thread waits for
 * networkd, discovers the NICs on a first start (PIFs, networks and
 * bridges xenbr<N>, the management interface) and sends the
 * configuration, so that a restart of xapi, networkd or the host finds the
 * network as it was left; it then sends the configuration again after
 * changes no handler of ours made (network.set_MTU and the other generic
 * setters) and refreshes PIF_metrics and Bond.links_up every 5 s. A second
 * thread follows networkd's state/wait: whenever a link, an address or a
 * DHCP lease changes, PIF_metrics (carrier, speed, duplex), Bond.links_up
 * and the IP, netmask, gateway and DNS of DHCP PIFs (from their leases,
 * as XCP shows them) are refreshed at once. */
#pragma once

#include <json-c/json.h>
#include <stdbool.h>
#include <stdint.h>

#include "db.h"
#include "error.h"

/* socket_path NULL or "": no networkd on this host (network messages
 * fail with a clear error, VMs start without ports). management_nic: the
 * NIC to make the management interface on a first start (NULL: the
 * inventory's MANAGEMENT_INTERFACE, else the NIC carrying the address the
 * API listens on). vif_stand_in: NULL, or "internal" on a development host
 * (networkd makes an OVS internal port for each VIF, standing in for
 * netback's vifD.N). */
void network_init(const char *socket_path, const char *management_nic, const char *vif_stand_in);
void network_shutdown(void);
bool network_enabled(void);

/* Calls a networkd method; params borrowed, result (new reference) to
 * ret_result when not NULL. Blocks: never with the db lock held. */
struct api_error *network_call(const char *method, json_object *params, double timeout,
                               json_object **ret_result);

/* Sends the configuration the database describes (skipped when it is what
 * was last sent successfully). Takes the db lock. */
struct api_error *network_sync(void);

/* A change of network objects with its undo: built under db_wrlock, each
 * set/create/delete recorded with what reverses it. */
struct net_tx;
struct net_tx *net_tx_new(void);
void net_tx_free(struct net_tx *tx);
void net_tx_create(struct net_tx *tx, int cls, const char *ref, char **vals);
void net_tx_set(struct net_tx *tx, const struct row *r, int field, const char *value);
void net_tx_delete(struct net_tx *tx, const struct row *r);
/* Applies the change; db_wrlock held. On failure the tx is unchanged. */
struct api_error *net_tx_apply(struct net_tx *tx);
/* After net_tx_apply, without the lock: sends the configuration; if
 * networkd refuses it, the change is undone and the configuration sent
 * again. Frees tx. */
struct api_error *net_tx_commit(struct net_tx *tx);
/* The end of a message's change, db_wrlock held: unlocks, then commits the
 * change (e NULL: applied) or frees it (e: failed, or no networkd to tell). */
struct api_error *net_tx_end(struct net_tx *tx, struct api_error *e);
/* The end of a message whose answer is void, db_wrlock held: applies the
 * change unless e, ends it (net_tx_end) and writes the void answer to o
 * when all went well. */
struct out;
struct api_error *net_tx_finish(struct net_tx *tx, struct api_error *e, struct out *o);

/* A new PIF (and its PIF_metrics and network with bridge xenbr<N>) for a
 * NIC as nic/list describes it, into tx; db_wrlock held. */
void network_new_pif(struct net_tx *tx, json_object *nic, bool attached, char ret_ref[64]);
/* Updates the PIF_metrics of this host's PIFs from nic/list and, when
 * introduce, creates PIFs for the NICs that have none (PIF.scan). */
struct api_error *network_scan(bool introduce);
/* The smallest "<prefix><N>" no network bridge (or PIF device of this
 * host, for "bond") uses; db lock held. */
void network_free_name(const char *prefix, char out[16]);
/* Whether value is a Linux interface name networkd accepts. */
bool network_valid_ifname(const char *name);
/* The length of a JSON array; 0 for anything else (networkd's answers
 * are not trusted to have the right shape). */
size_t network_alen(json_object *a);
/* Whether mac is a unicast aa:bb:cc:dd:ee:ff. */
bool network_valid_mac(const char *mac);

/* VLAN.create's work (api/vlan.c): a VLAN with tag on tagged_ref's PIF
 * (of this host), its untagged PIF on net_ref; the new VLAN's ref to
 * ret_vlan, its PIF's to ret_pif (may be NULL). Takes the db lock. */
struct api_error *network_vlan_create(const char *tagged_ref, int64_t tag, const char *net_ref,
                                      char ret_vlan[64], char ret_pif[64]);
/* VLAN.destroy's work. Takes the db lock. */
struct api_error *network_vlan_destroy(const char *vlan_ref);

/* domaind's "nics" of a VM: [{devid, mac, bridge, mtu}] of its VIFs. */
json_object *network_vm_nics(const char *vm_ref);
/* domaind's nic of one VIF (an element of network_vm_nics), for
 * domain/nic_attach; db lock held. */
json_object *network_vif_nic(const struct row *vif);
/* The VM's domain exists: its VIFs are attached and get their ports. */
struct api_error *network_vm_plug(const char *vm_ref);
/* network_vm_plug for a resumed VM, whose guest runs either way: errors
 * are logged. */
void network_vm_resumed(const char *vm_ref);
/* Called whenever a VM's power state is recorded: a VM without a domain
 * has no attached VIFs; a domain with a new domid gets its ports renamed.
 * Errors are logged. */
void network_vm_record(const char *vm_ref, bool live);

/* A new VIF MAC: random, locally administered and unicast, as XCP makes
 * them. */
void network_random_mac(char out[18]);
