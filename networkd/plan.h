/* The OVS half of a convergence, as a pure function: from the desired
 * configuration and a snapshot of OVSDB, the one transaction that makes
 * OVSDB say what is desired (README.md, "How the configuration maps onto
 * OVS"). Rows are matched by name and updated in place, so a converged
 * system gets a transaction that changes nothing; rows no longer wanted
 * are dropped from their bridge and left to OVSDB's garbage collection.
 * Bridges networkd made carry external_ids:xenia-managed=true; bridges
 * without it are left alone unless the configuration names them. */
#pragma once

#include <json-c/json.h>
#include <stdint.h>

/* The read operations whose results plan_build takes as its snapshot (a
 * new array of OVSDB operations for ovsdb_transact). */
json_object *plan_snapshot_ops(void);

/* Builds the transaction. doc is the desired configuration (config.h),
 * snapshot the results of plan_snapshot_ops, datapath the datapath_type
 * of new bridges ("system" or "netdev"). Returns 0, the operations in
 * *ret_ops (new) and the next_cfg that ovs-vswitchd acknowledges through
 * cur_cfg once it has applied them; or -EBADMSG for a snapshot that is not
 * one. Rows the snapshot shows as wanted get no operation; when nothing
 * is to change, *ret_ops is empty and *ret_next_cfg the current next_cfg
 * (no transaction to send, only ovs-vswitchd's catching up to wait for). */
int plan_build(json_object *doc, json_object *snapshot, const char *datapath, json_object **ret_ops,
               int64_t *ret_next_cfg);

/* The OVS bond settings for a bond's mode and properties (as Bond does):
 * bond_mode, lacp, and the Port other_config keys. Exposed for the unit
 * tests. ret_bond_mode and ret_lacp are static strings. */
void plan_bond_settings(const char *mode, json_object *properties, const char **ret_bond_mode,
                        const char **ret_lacp, int64_t *ret_updelay, int64_t *ret_downdelay,
                        json_object **ret_other_config);
