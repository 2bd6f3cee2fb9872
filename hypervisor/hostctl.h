/* domaind's host-level methods (hypervisor/README.md): host/dmesg, the
 * hypervisor's console ring as text (emptied after reading on request),
 * and host/debug_keys, which hands keys to the hypervisor's debug-key
 * handler; and the console ring the sim backend keeps of its own events,
 * since it has no Xen to read one from. */
#pragma once

#include <json-c/json.h>
#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>

#include "lib/jsonrpc.h"

/* A bounded text ring: the oldest lines go when it is full, as with Xen's
 * console ring. Thread-safe. */
struct console_ring {
    pthread_mutex_t lock;
    char *buf;
    size_t cap, start, len;
};

void console_ring_init(struct console_ring *r, size_t cap);
void console_ring_done(struct console_ring *r);
/* Appends one line ("(XEN) " and a newline are added). */
void console_ring_printf(struct console_ring *r, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* The ring's text (owned by the caller), oldest first; empties the ring
 * when clear. */
char *console_ring_read(struct console_ring *r, bool clear);

/* Whether keys are acceptable as Xen debug keys: 1 to 64 printable ASCII
 * characters. */
bool hostctl_keys_valid(const char *keys);

/* The handlers and parameter tables of host/dmesg and host/debug_keys,
 * with the backend as userdata (methods.c lists them). */
extern const struct jsonrpc_param hostctl_p_dmesg[];
extern const struct jsonrpc_param hostctl_p_debug_keys[];
struct jsonrpc_error *hostctl_dmesg(json_object *params, json_object **ret_result, void *userdata);
struct jsonrpc_error *hostctl_debug_keys(json_object *params, json_object **ret_result,
                                         void *userdata);
