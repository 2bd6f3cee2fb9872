/* networkd's desired configuration: what xapi asked for, as one JSON
 * document (README.md, "Configuration"), the checks every change goes
 * through, and its file. Pure data: nothing here touches OVS or the
 * kernel, so the reconciler can take a copy and converge to it.
 *
 * The document is {"format": "xenia-networkd", "version": 1, "bridges",
 * "vlans", "ports", "bonds", "ips", "vifs", "tunnels", "nics"}, each
 * section an object keyed by name (tunnels and nics: tunnel.h). Every cfg_* mutator checks its
 * params (already type-checked by the method table) against the document, and on success changes
 * doc and returns NULL; on failure it returns an error (caller frees) and leaves doc as it was. */
#pragma once

#include <json-c/json.h>
#include <stdbool.h>

#include "lib/jsonrpc.h"

#define NETD_MTU_MIN 68
#define NETD_MTU_MAX 65535
#define NETD_MTU_DEFAULT 1500

/* Whether a NIC of that name exists; NULL skips the check (a NIC may
 * appear after a restart). */
typedef bool (*cfg_nic_exists_fn)(const char *name, void *userdata);

struct cfg_check {
    cfg_nic_exists_fn nic_exists;
    void *userdata;
};

/* A new empty document (caller owns). */
json_object *cfg_new(void);

/* True if s can be a Linux interface name (1..15 characters of
 * [A-Za-z0-9_.-], not "." or ".."). */
bool cfg_ifname_valid(const char *s);
/* True for six colon-separated hex bytes. */
bool cfg_mac_valid(const char *s);

struct jsonrpc_error *cfg_bridge_set(json_object *doc, json_object *p, const struct cfg_check *c);
struct jsonrpc_error *cfg_bridge_remove(json_object *doc, json_object *p);
struct jsonrpc_error *cfg_port_set(json_object *doc, json_object *p, const struct cfg_check *c);
struct jsonrpc_error *cfg_port_remove(json_object *doc, json_object *p);
struct jsonrpc_error *cfg_vlan_set(json_object *doc, json_object *p, const struct cfg_check *c);
struct jsonrpc_error *cfg_vlan_remove(json_object *doc, json_object *p);
struct jsonrpc_error *cfg_bond_set(json_object *doc, json_object *p, const struct cfg_check *c);
struct jsonrpc_error *cfg_bond_remove(json_object *doc, json_object *p);
struct jsonrpc_error *cfg_ip_set(json_object *doc, json_object *p, const struct cfg_check *c);
struct jsonrpc_error *cfg_ip_remove(json_object *doc, json_object *p);
struct jsonrpc_error *cfg_vif_plug(json_object *doc, json_object *p, const struct cfg_check *c);
struct jsonrpc_error *cfg_vif_unplug(json_object *doc, json_object *p);

/* Checks a whole document (a file, or config/replace) by replaying every
 * entry through the mutators above into a new document. Returns NULL and
 * the new document in *ret (caller owns), or the first error. */
struct jsonrpc_error *cfg_rebuild(json_object *in, const struct cfg_check *c, json_object **ret);

/* Reads path: 0 and the checked document in *ret (an empty one when the
 * file does not exist), or a negative errno with *ret_why (caller frees)
 * saying what is wrong. */
int cfg_load(const char *path, json_object **ret, char **ret_why);
/* Writes doc to path atomically (temporary file, fsync, rename, fsync of
 * the folder). Returns 0 or a negative errno. */
int cfg_save(const char *path, json_object *doc);

/* Which section of doc holds name (as a bridge, vlan, port, bond, vif or
 * tunnel),
 * or NULL: they share OVS's one namespace of ports. */
const char *cfg_name_owner(json_object *doc, const char *name);

/* The section object (borrowed) and one entry of it (borrowed, or NULL). */
json_object *cfg_section(json_object *doc, const char *section);
json_object *cfg_entry(json_object *doc, const char *section, const char *name);
/* Removes the entry of section that parameter key of p names (a string is
 * required; a name that is not there is done already). */
struct jsonrpc_error *cfg_entry_remove(json_object *doc, json_object *p, const char *key,
                                       const char *section);
