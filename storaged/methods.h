/* The JSON-RPC method table of storaged (storaged/README.md): parameter
 * checks that the table's types cannot express (UUIDs, sizes,
 * device_config values), then the operation in storaged/sr.h. */
#pragma once

#include "lib/jsonrpc.h"
#include "storaged/sr.h"

/* The table, for jsonrpc_server_start with the struct storaged as
 * userdata. Static data. */
const struct jsonrpc_method *storaged_methods(void);
