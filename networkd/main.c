/* networkd: the network agent. Holds the network configuration xapi asks
 * for, converges Open vSwitch (over OVSDB) and the kernel (over netlink)
 * to it, and answers JSON-RPC on a Unix socket (networkd/README.md). Runs
 * until SIGINT or SIGTERM, then stops the reconciler and the server and
 * exits 0; DHCP clients it started keep running for the next start. */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "lib/cleanup.h"
#include "lib/daemon.h"
#include "lib/jsonrpc.h"
#include "lib/log.h"
#include "lib/options.h"
#include "lib/util.h"
#include "networkd/methods.h"
#include "networkd/netd.h"

LOG_MODULE("networkd");

#define NETWORKD_VERSION "0.1.0"

struct options {
    char *socket, *state_dir, *run_dir, *ovsdb, *datapath, *resolv_conf, *script, *dhclient;
};

static struct options opt;

/* OVSDB remotes networkd can reach: a Unix socket. */
static bool ovsdb_remote_valid(const char *value)
{
    return strncmp(value, "unix:", 5) == 0 || value[0] == '/';
}

/* The options, into opt; options_done frees its strings. */
static const struct option_def networkd_option_table[] = {
    {.name = "socket",
     OPT_STRING(&opt.socket),
     .arg = "PATH",
     .help = "JSON-RPC socket",
     .def = "/run/xenia/networkd.sock"},
    {.name = "state-dir",
     OPT_STRING(&opt.state_dir),
     .arg = "DIR",
     .help = "state folder: networkd.json, DHCP leases",
     .def = "/var/lib/xenia"},
    {.name = "run-dir",
     OPT_STRING(&opt.run_dir),
     .arg = "DIR",
     .help = "run-time files: dhclient pid files",
     .def = "/run/xenia/networkd"},
    {.name = "ovsdb",
     OPT_STRING(&opt.ovsdb),
     .arg = "REMOTE",
     .help = "OVSDB server",
     .def = "unix:/run/openvswitch/db.sock",
     .valid = ovsdb_remote_valid,
     .valid_text = "unix:PATH"},
    {.name = "datapath",
     OPT_CHOICE(&opt.datapath, "system", "netdev"),
     .help = "datapath_type of the bridges",
     .def = "system"},
    {.name = "resolv-conf",
     OPT_STRING(&opt.resolv_conf),
     .arg = "PATH",
     .help = "where DNS servers are written",
     .def = "/etc/resolv.conf"},
    {.name = "dhclient-script",
     OPT_STRING(&opt.script),
     .arg = "PATH",
     .help = "the script dhclient runs",
     .def = "/usr/libexec/xenia/networkd-dhclient-script"},
    {.name = "dhclient",
     OPT_STRING(&opt.dhclient),
     .arg = "PATH",
     .help = "the DHCP client",
     .def = "/sbin/dhclient"},
    OPTIONS_LOG_LEVEL,
    {0},
};

static const struct options_spec networkd_options = {
    .program = "networkd",
    .options = networkd_option_table,
};

/* mkdir -p, for the run and state folders. */
static int make_dirs(const char *path, mode_t mode)
{
    _cleanup_free_ char *p = xstrdup(path);
    for (char *s = p + 1; *s; s++) {
        if (*s != '/')
            continue;
        *s = '\0';
        if (mkdir(p, mode) < 0 && errno != EEXIST)
            return -errno;
        *s = '/';
    }
    if (mkdir(p, mode) < 0 && errno != EEXIST)
        return -errno;
    return 0;
}

int main(int argc, char **argv)
{
    struct netd n = {0};
    struct jsonrpc_server *server = NULL;
    _cleanup_free_ char *why = NULL, *lock_path = NULL, *sock_dir = NULL;
    bool started = false;
    int r, rc = 1, lock_fd = -1;

    if ((r = options_parse(&networkd_options, argc, argv)) != 0)
        return r == OPTIONS_HELP ? 0 : 2;
    daemon_block_signals();
    /* the tools it runs stop on SIGTERM like any other process */
    daemon_unblock_signals_in_children();

    if ((r = make_dirs(opt.state_dir, 0700)) < 0 || (r = make_dirs(opt.run_dir, 0755)) < 0) {
        log_error_errno(r, "cannot create %s or %s: %m", opt.state_dir, opt.run_dir);
        goto out;
    }
    /* One networkd per state folder: two reconcilers would fight. */
    lock_path = xasprintf("%s/networkd.lock", opt.state_dir);
    lock_fd = open(lock_path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (lock_fd < 0 || flock(lock_fd, LOCK_EX | LOCK_NB) < 0) {
        log_error_errno(-errno, "cannot lock %s (another networkd?): %m", lock_path);
        goto out;
    }
    struct netd_options no = {.state_dir = opt.state_dir,
                              .run_dir = opt.run_dir,
                              .ovsdb = opt.ovsdb,
                              .datapath = opt.datapath,
                              .resolv_conf = opt.resolv_conf,
                              .dhclient_script = opt.script,
                              .dhclient = opt.dhclient};
    if ((r = netd_start(&n, &no, &why)) < 0) {
        log_error("cannot start: %s", why ? why : strerror(-r));
        goto out;
    }
    started = true;
    /* The socket's folder, however deep (daemon_serve makes one level). */
    sock_dir = xstrdup(opt.socket);
    char *slash = strrchr(sock_dir, '/');
    if (slash && slash != sock_dir) {
        *slash = '\0';
        make_dirs(sock_dir, 0755);
    }
    r = daemon_serve(opt.socket, networkd_methods(), NETWORKD_VERSION, &n, &server);
    if (r < 0) {
        log_error_errno(r, "cannot serve on %s: %m", opt.socket);
        goto out;
    }
    log_notice("networkd %s ready: socket %s, OVSDB %s, datapath %s", NETWORKD_VERSION, opt.socket,
               opt.ovsdb, opt.datapath);
    daemon_wait_for_stop();
    log_notice("stopping");
    rc = 0;
out:
    if (started)
        netd_begin_stop(&n);
    jsonrpc_server_stop(server);
    if (started)
        netd_stop(&n);
    if (lock_fd >= 0)
        close(lock_fd);
    options_done(&networkd_options);
    return rc;
}
