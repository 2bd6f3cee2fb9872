/* The watcher thread: kernel link and address notifications bump netd's
 * observed generation (netd_observed), which state/wait reports. */
#pragma once

#include "networkd/netd.h"

/* Starts the watcher of n. Returns 0, or a negative errno with *ret_why
 * (caller frees). */
int watch_start(struct netd *n, char **ret_why);
/* Stops it (no-op if it did not start). */
void watch_stop(struct netd *n);
