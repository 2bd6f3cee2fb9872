/* domaind's JSON-RPC method table (hypervisor/README.md): the parameters
 * of each method, declared as data for lib/jsonrpc to check, and the
 * handlers that turn them into calls of the backend and the backend's
 * errors into application errors. */
#pragma once

#include "hypervisor/backend.h"
#include "lib/jsonrpc.h"

/* The methods to serve with backend b as the server's userdata: the sim/
 * methods only when b is the simulator. Static; ends with a {NULL} entry. */
const struct jsonrpc_method *domaind_methods(const struct backend *b);

/* A backend's error as the JSON-RPC error to answer; frees e. */
struct jsonrpc_error *domaind_error_to_jsonrpc(struct dm_error *e);

/* The most seconds a call may wait (shutdown timeout, events/watch). */
#define DOMAIND_MAX_WAIT 86400.0
