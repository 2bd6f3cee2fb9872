/* The table of the diagnostic commands (xe-cli.md 3.20) and of
 * host-get-sm-diagnostics and host-get-thread-diagnostics, with XCP's
 * names, parameters, help texts and flags (cli_frontend.ml), and the host
 * selection they share. */
#include <stdlib.h>

#include "diagnostic.h"
#include "lib/util.h"

#define PARAMS(...) ((const char *const[]){__VA_ARGS__, NULL})

char *cli_diag_one_host(struct cli_ctx *ctx, const char *const *ignore)
{
    char **refs;
    size_t n;

    if (cli_select(ctx, cli_view_by_name("host"), ignore, false, &refs, &n))
        return NULL;
    if (n > 1) {
        /* --multiple was given: these commands still take one host. */
        for (size_t i = 0; i < n; i++)
            free(refs[i]);
        free(refs);
        cli_fail(ctx, "Multiple matching hosts found. Operation can only be performed on one "
                      "host at a time");
        return NULL;
    }
    char *ref = refs[0];
    free(refs);
    return ref;
}

const struct cli_cmd cli_diagnostic_cmds[] = {
    {"diagnostic-vm-status", PARAMS("uuid"), NULL,
     "Query the hosts on which the VM can boot, check the sharing/locking status of all VBDs.",
     CMD_STANDARD, cli_diag_vm_status, -1, NULL},
    {"diagnostic-vdi-status", PARAMS("uuid"), NULL,
     "Query the locking and sharing status of a VDI.", 0, cli_diag_vdi_status, -1, NULL},
    {"diagnostic-license-status", NULL, NULL, "Help diagnose pool-wide licensing problems.", 0,
     cli_diag_license_status, -1, NULL},
    {"diagnostic-timing-stats", NULL, NULL, "Print timing stats.", 0, cli_diag_timing_stats, -1,
     NULL},
    {"diagnostic-db-stats", NULL, NULL, "Print db stats.", 0, cli_diag_db_stats, -1, NULL},
    {"diagnostic-net-stats", NULL, PARAMS("uri", "method", "params"), "Print network stats.",
     CMD_HOST_SEL, cli_diag_net_stats, -1, NULL},
    {"diagnostic-gc-stats", NULL, NULL, "Print GC stats.", CMD_HOST_SEL, cli_diag_gc_stats, -1,
     NULL},
    {"diagnostic-compact", NULL, NULL, "Perform a major GC collection and heap compaction.",
     CMD_HOST_SEL, cli_diag_compact, -1, NULL},
    {"host-get-sm-diagnostics", PARAMS("uuid"), NULL, "Display per-host SM diagnostic information.",
     0, cli_diag_sm_diagnostics, -1, NULL},
    {"host-get-thread-diagnostics", PARAMS("uuid"), NULL,
     "Display per-host thread diagnostic information.", 0, cli_diag_thread_diagnostics, -1, NULL},
    {NULL, NULL, NULL, NULL, 0, NULL, -1, NULL},
};
