/* storaged: the storage agent. It creates, attaches and scans this host's
 * SRs and their VDIs for xapi, over JSON-RPC on a Unix socket
 * (storaged/README.md). Reads its options, brings back the SRs a previous
 * run had attached, and serves the method table until SIGINT or SIGTERM,
 * when it stops the server (running copies give up) and exits 0. */
#include <errno.h>
#include <string.h>
#include <sys/stat.h>

#include "lib/daemon.h"
#include "lib/jsonrpc.h"
#include "lib/log.h"
#include "lib/options.h"
#include "lib/util.h"
#include "storaged/methods.h"
#include "storaged/sr.h"

LOG_MODULE("storaged");

#define STORAGED_VERSION "0.1.0"

struct storaged_config {
    char *socket;
    char *state_dir;
    char *run_dir;
};

static struct storaged_config cfg;

/* The options, into cfg; options_done frees its strings. */
static const struct option_def storaged_option_table[] = {
    {.name = "socket",
     OPT_PATH(&cfg.socket),
     .help = "JSON-RPC socket",
     .def = "/run/xenia/storaged.sock"},
    {.name = "state-dir",
     OPT_PATH(&cfg.state_dir),
     .arg = "DIR",
     .help = "state folder; SR mount points go under DIR/sr-mounts",
     .def = "/var/lib/xenia"},
    {.name = "run-dir",
     OPT_PATH(&cfg.run_dir),
     .arg = "DIR",
     .help = "runtime state: attached SRs and VDIs",
     .def = "/run/xenia/storaged"},
    OPTIONS_LOG_LEVEL,
    {0},
};

static const struct options_spec storaged_options = {
    .program = "storaged",
    .options = storaged_option_table,
};

/* Copies ask this while they run: the server is going away. */
static bool server_stopping(void *userdata)
{
    struct jsonrpc_server *const *s = userdata;
    return *s && jsonrpc_server_stopping(*s);
}

int main(int argc, char **argv)
{
    struct jsonrpc_server *server = NULL;
    struct storaged *sd = NULL;
    int r, rc = 1;

    if ((r = options_parse(&storaged_options, argc, argv)) != 0)
        return r == OPTIONS_HELP ? 0 : 2;
    daemon_block_signals();
    /* the tools it runs stop on SIGTERM like any other process */
    daemon_unblock_signals_in_children();

    /* storaged_new makes the run folder itself and says why if it cannot. */
    (void)daemon_make_parent_dir(cfg.run_dir, 0755);
    struct storaged_options so = {
        .state_dir = cfg.state_dir,
        .run_dir = cfg.run_dir,
        .stopping = server_stopping,
        .userdata = &server,
    };
    if (mkdir(cfg.state_dir, 0700) < 0 && errno != EEXIST) {
        log_error_errno(-errno, "cannot create %s: %m", cfg.state_dir);
        goto out;
    }
    /* Recovery can take a while (lvm2 under emulation): a dead storaged's
     * socket must not make it look ready meanwhile (wait-socket, systemd) */
    if ((r = jsonrpc_remove_stale_socket(cfg.socket)) < 0) {
        log_error_errno(r, "cannot serve on %s: %m", cfg.socket);
        goto out;
    }
    if (storaged_new(&so, &sd) < 0)
        goto out;
    r = daemon_serve(cfg.socket, storaged_methods(), STORAGED_VERSION, sd, &server);
    if (r < 0) {
        log_error_errno(r, "cannot serve on %s: %m", cfg.socket);
        goto out;
    }
    log_notice("storaged %s ready: socket %s", STORAGED_VERSION, cfg.socket);
    daemon_wait_for_stop();
    log_notice("stopping");
    jsonrpc_server_stop(server);
    rc = 0;
out:
    storaged_free(sd);
    options_done(&storaged_options);
    return rc;
}
