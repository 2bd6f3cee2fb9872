/* What other parts of xapi need from the host messages: the check that
 * refuses to place a VM on a disabled host (VM.start, resume, ... as XCP's
 * assert_can_boot_here), and the restart of xapi that host.restart_agent
 * asks for, which main carries out once it has stopped cleanly. */
#pragma once

#include <stddef.h>

#include "xapi-c/error.h"

/* One resident guest of a host and where evacuating the host would take
 * it (target), or why it cannot go (why, owned; target is then ""). */
struct host_plan_entry {
    char vm[64];
    char target[64];
    struct api_error *why;
};

struct host_plan {
    struct host_plan_entry *v;
    size_t n;
};

/* XCP's compute_evacuation_plan_no_wlb for host: the other enabled, live
 * hosts are the targets; with none, every resident guest answers
 * NO_HOSTS_AVAILABLE [vm]; otherwise each goes to the target with the most
 * free memory (host_metrics.memory_total less the host's
 * memory_overhead, what its resident VMs hold and what the plan already
 * put there) that holds its memory_static_max, or answers
 * HOST_NOT_ENOUGH_FREE_MEMORY [vm]. The db lock must be held. */
void host_plan_compute(const char *host, struct host_plan *ret);
void host_plan_done(struct host_plan *p);

/* Runs the shell command cmd (the configured power or host-name command)
 * with arg as its last argument and waits for it; its exit status, or
 * -errno. */
int host_run_command(const char *cmd, const char *arg);

/* HOST_DISABLED [host] when host is disabled; HANDLE_INVALID if it is not
 * a host. Takes the db lock itself. */
struct api_error *host_assert_enabled(const char *host_ref);

/* Called by main once the host's row exists (after bootstrap): the host
 * is enabled, or stays disabled (host.disable with auto_enable false, or a
 * reboot under way), and its current_operations are cleared. */
void host_startup(void);

/* Called by main after a clean stop: when host.restart_agent asked for a
 * restart, runs xapi again in this process with argv; otherwise returns. */
void host_agent_finish(char **argv);
