/* The state networkd's threads share: the desired configuration (held by
 * the method handlers, read by the reconciler), the generations that say
 * which change has been applied, and the reconciler thread that converges
 * OVS and the kernel (reconciler.c). Everything under lock. */
#pragma once

#include <json-c/json.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "networkd/dhcp.h"

struct nl_sock;

struct netd_options {
    const char *state_dir;
    const char *run_dir;
    const char *ovsdb;       /* OVSDB remote, "unix:PATH" */
    const char *datapath;    /* datapath_type of bridges: system or netdev */
    const char *resolv_conf; /* written from the DNS servers asked for */
    const char *dhclient_script;
    const char *dhclient;
};

struct netd {
    struct netd_options opt;
    char *config_path;
    char *ovs_rundir; /* the OVSDB socket's folder: bridges' .mgmt sockets */
    struct dhcp_paths dhcp;

    pthread_mutex_t lock;
    pthread_cond_t cond; /* done_gen moved, or stopping */
    json_object *config; /* desired; replaced whole on every change */
    uint64_t want_gen;   /* bumped by every change */
    uint64_t done_gen;   /* the want_gen the last convergence covered */
    char *last_error;    /* of that convergence, or NULL */
    bool ovsdb_connected;
    double last_converge_s; /* how long it took */
    uint64_t converges, reconnects;
    bool stopping;

    int wake_fd; /* eventfd that wakes the reconciler */
    pthread_t thread;

    /* What is observed (links, addresses, DHCP leases) changes: bumped by
     * the watcher (watch.c) and by the reconciler when a lease changes;
     * state/wait follows it. Under lock, signalled on cond. */
    uint64_t obs_gen;
    char *leases_seen; /* the DHCP leases as last seen, as JSON text */
    struct nl_sock *watch_sk;
    int watch_fd; /* eventfd that stops the watcher */
    pthread_t watch_thread;
};

/* Loads the configuration and starts the reconciler, which converges at
 * once (the configuration of before a restart comes back before xapi is
 * up). Returns 0, or a negative errno with *ret_why (caller frees). */
int netd_start(struct netd *n, const struct netd_options *opt, char **ret_why);
/* Stops the reconciler (waits for the convergence under way) and frees
 * what netd_start made. */
void netd_stop(struct netd *n);
/* Wakes waiters and the reconciler to stop; does not block. */
void netd_begin_stop(struct netd *n);

/* Asks for a convergence (after a change) and returns its generation;
 * lock must not be held. */
uint64_t netd_kick(struct netd *n);
/* Waits (at most timeout_s) until generation gen has been converged.
 * Returns 0 and *ret_error (new string, or NULL when it applied
 * cleanly); -ETIMEDOUT; -ECANCELED when networkd is stopping. */
int netd_wait(struct netd *n, uint64_t gen, double timeout_s, char **ret_error);

/* Something observed changed: bumps obs_gen and wakes state/wait; lock
 * must not be held. */
void netd_observed(struct netd *n);
/* Waits (at most timeout_s) until obs_gen is past since, and returns it
 * (at once when it already is; the current one on timeout or stop). */
uint64_t netd_wait_observed(struct netd *n, uint64_t since, double timeout_s);
