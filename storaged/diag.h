/* diagnostics: what storaged holds right now, for xe
 * host-get-sm-diagnostics (README.md): the attached SRs with their
 * attached and active VDIs, what is being copied from and into them, and
 * the copy jobs it remembers. */
#pragma once

#include "lib/jsonrpc.h"

/* The handler and parameter table of the method, for storaged's method
 * table (methods.c); userdata is the struct storaged. Never blocks on the
 * media: it reads the tables under their locks. */
struct jsonrpc_error *sd_m_diagnostics(json_object *params, json_object **ret_result,
                                       void *userdata);
extern const struct jsonrpc_param sd_p_diagnostics[];
