/* The seam between the files of the diagnostic commands (xe-cli.md 3.20):
 * diagnostic_status.c (what a VM or VDI needs and has), diagnostic_license.c
 * (licences of the pool's hosts), diagnostic_stats.c (this xapi's own
 * counters and heap), diagnostic_host.c (host-get-sm-diagnostics and
 * host-get-thread-diagnostics) and diagnostic_ops.c, which holds their
 * table. Each
 * function is a command: it prints its output and returns the exit
 * status. */
#pragma once

#include "cli.h"

int cli_diag_vm_status(struct cli_ctx *ctx);
int cli_diag_vdi_status(struct cli_ctx *ctx);
int cli_diag_license_status(struct cli_ctx *ctx);
int cli_diag_timing_stats(struct cli_ctx *ctx);
int cli_diag_db_stats(struct cli_ctx *ctx);
int cli_diag_net_stats(struct cli_ctx *ctx);
int cli_diag_gc_stats(struct cli_ctx *ctx);
int cli_diag_compact(struct cli_ctx *ctx);
int cli_diag_sm_diagnostics(struct cli_ctx *ctx);
int cli_diag_thread_diagnostics(struct cli_ctx *ctx);

/* The one host a host-selector command runs on, as XCP's do_host_op with
 * multiple=false picks it: newly allocated ref, or NULL after printing the
 * error. ignore: the command's own parameters (NULL-terminated). */
char *cli_diag_one_host(struct cli_ctx *ctx, const char *const *ignore);
