/* What every agent daemon does around its work: SIGINT and SIGTERM taken
 * synchronously by the main thread (so that no handler runs on a thread
 * holding a lock), SIGPIPE ignored (a client that goes away is a write
 * error, not death), and the JSON-RPC server on a socket whose folder is
 * made first. The shape is:
 *
 *     daemon_block_signals();           before any thread starts
 *     daemon_serve(socket, ...);
 *     daemon_wait_for_stop();
 *     jsonrpc_server_stop(server);
 */
#pragma once

#include <sys/types.h>

#include "lib/jsonrpc.h"

/* Blocks SIGINT and SIGTERM in the calling thread, so that every thread it
 * starts afterwards inherits the mask and only daemon_wait_for_stop takes
 * them, and ignores SIGPIPE. Call it first in main. */
void daemon_block_signals(void);

/* Makes the processes this one forks from now on start with SIGINT and
 * SIGTERM unblocked, so that helpers it runs (device models, bootloaders)
 * stop on SIGTERM like any other process. */
void daemon_unblock_signals_in_children(void);

/* Blocks until SIGINT or SIGTERM arrives (daemon_block_signals first);
 * returns the signal. */
int daemon_wait_for_stop(void);

/* Like daemon_wait_for_stop, but returns 0 once seconds have passed without
 * either signal: for a main loop with periodic work. */
int daemon_wait_for_stop_timeout(unsigned seconds);

/* Makes the folder that holds path, one level (its parent must exist),
 * with mode; an existing one is fine. Returns 0 or a negative errno. */
int daemon_make_parent_dir(const char *path, mode_t mode);

/* Makes the folder that holds socket (one level, mode 0755, an existing one
 * is fine) and starts the JSON-RPC server on socket, as jsonrpc_server_start
 * (which see for the arguments, ownership and errors). Does not log: the
 * caller says "cannot serve on" in its own module. */
int daemon_serve(const char *socket, const struct jsonrpc_method *methods, const char *version,
                 void *userdata, struct jsonrpc_server **ret);
