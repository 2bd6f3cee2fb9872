/* networkd's JSON-RPC method table (README.md, "Methods"). userdata is the
 * struct netd. */
#pragma once

#include "lib/jsonrpc.h"

const struct jsonrpc_method *networkd_methods(void);
