/* vdi_revert: the VDI a snapshot was taken of takes the snapshot's
 * content (XenAPI's VDI.revert), on the SRs whose images are qcow2 files
 * (file, ext, nfs). See README.md. */
#pragma once

#include "lib/jsonrpc.h"

/* The handler and parameter table of the method, for storaged's table. */
struct jsonrpc_error *sd_m_vdi_revert(json_object *params, json_object **ret_result,
                                      void *userdata);
extern const struct jsonrpc_param sd_p_vdi_revert[];
