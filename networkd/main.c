/* networkd: the network agent. Holds the network configuration xapi asks
 * for, converges Open vSwitch (over OVSDB) and the kernel (over netlink)
 * to it, and answers JSON-RPC on a Unix socket (networkd/README.md). Runs
 * until SIGINT or SIGTERM, then stops the reconciler and the server and
 * exits 0; DHCP clients it started keep running for the next start. */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "lib/cleanup.h"
#include "lib/jsonrpc.h"
#include "lib/log.h"
#include "lib/util.h"
#include "networkd/methods.h"
#include "networkd/netd.h"

LOG_MODULE("networkd");

#define NETWORKD_VERSION "0.1.0"

struct options {
    char *socket, *state_dir, *run_dir, *ovsdb, *datapath, *resolv_conf, *script, *dhclient;
};

static void usage(FILE *f)
{
    fprintf(f, "Usage: networkd [OPTIONS]\n\n"
               "  --socket PATH           JSON-RPC socket (/run/xenia/networkd.sock)\n"
               "  --state-dir DIR         state folder: networkd.json, DHCP leases "
               "(/var/lib/xenia)\n"
               "  --run-dir DIR           run-time files: dhclient pid files "
               "(/run/xenia/networkd)\n"
               "  --ovsdb REMOTE          OVSDB server (unix:/run/openvswitch/db.sock)\n"
               "  --datapath system|netdev  datapath_type of the bridges (system)\n"
               "  --resolv-conf PATH      where DNS servers are written (/etc/resolv.conf)\n"
               "  --dhclient-script PATH  (/usr/libexec/xenia/networkd-dhclient-script)\n"
               "  --dhclient PATH         (/sbin/dhclient)\n"
               "  --log-level LEVEL       err, warn, notice, info, debug\n");
}

static int parse_args(int argc, char **argv, struct options *o)
{
    enum { O_SOCKET = 256, O_STATE, O_RUN, O_OVSDB, O_DP, O_RESOLV, O_SCRIPT, O_DHCLIENT, O_LOG };
    static const struct option opts[] = {{"socket", required_argument, NULL, O_SOCKET},
                                         {"state-dir", required_argument, NULL, O_STATE},
                                         {"run-dir", required_argument, NULL, O_RUN},
                                         {"ovsdb", required_argument, NULL, O_OVSDB},
                                         {"datapath", required_argument, NULL, O_DP},
                                         {"resolv-conf", required_argument, NULL, O_RESOLV},
                                         {"dhclient-script", required_argument, NULL, O_SCRIPT},
                                         {"dhclient", required_argument, NULL, O_DHCLIENT},
                                         {"log-level", required_argument, NULL, O_LOG},
                                         {"help", no_argument, NULL, 'h'},
                                         {0}};

    o->socket = xstrdup("/run/xenia/networkd.sock");
    o->state_dir = xstrdup("/var/lib/xenia");
    o->run_dir = xstrdup("/run/xenia/networkd");
    o->ovsdb = xstrdup("unix:/run/openvswitch/db.sock");
    o->datapath = xstrdup("system");
    o->resolv_conf = xstrdup("/etc/resolv.conf");
    o->script = xstrdup("/usr/libexec/xenia/networkd-dhclient-script");
    o->dhclient = xstrdup("/sbin/dhclient");
    for (int c; (c = getopt_long(argc, argv, "h", opts, NULL)) != -1;) {
        char **target = NULL;
        switch (c) {
        case O_SOCKET:
            target = &o->socket;
            break;
        case O_STATE:
            target = &o->state_dir;
            break;
        case O_RUN:
            target = &o->run_dir;
            break;
        case O_OVSDB:
            if (strncmp(optarg, "unix:", 5) != 0 && optarg[0] != '/') {
                fprintf(stderr, "networkd: --ovsdb takes unix:PATH, not %s\n", optarg);
                return -EINVAL;
            }
            target = &o->ovsdb;
            break;
        case O_DP:
            if (!streq(optarg, "system") && !streq(optarg, "netdev")) {
                fprintf(stderr, "networkd: --datapath is system or netdev, not %s\n", optarg);
                return -EINVAL;
            }
            target = &o->datapath;
            break;
        case O_RESOLV:
            target = &o->resolv_conf;
            break;
        case O_SCRIPT:
            target = &o->script;
            break;
        case O_DHCLIENT:
            target = &o->dhclient;
            break;
        case O_LOG:
            if (log_set_level("*", optarg) < 0) {
                fprintf(stderr, "networkd: unknown log level %s\n", optarg);
                return -EINVAL;
            }
            break;
        case 'h':
            usage(stdout);
            exit(0);
        default:
            usage(stderr);
            return -EINVAL;
        }
        if (target) {
            free(*target);
            *target = xstrdup(optarg);
        }
    }
    if (optind < argc) {
        fprintf(stderr, "networkd: unexpected argument %s\n", argv[optind]);
        return -EINVAL;
    }
    return 0;
}

static void options_done(struct options *o)
{
    free(o->socket);
    free(o->state_dir);
    free(o->run_dir);
    free(o->ovsdb);
    free(o->datapath);
    free(o->resolv_conf);
    free(o->script);
    free(o->dhclient);
}

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
    struct options o = {0};
    struct netd n = {0};
    struct jsonrpc_server *server = NULL;
    _cleanup_free_ char *why = NULL, *lock_path = NULL, *sock_dir = NULL;
    bool started = false;
    sigset_t sigs;
    int r, rc = 1, lock_fd = -1;

    if (parse_args(argc, argv, &o) < 0) {
        options_done(&o);
        return 2;
    }
    sigemptyset(&sigs);
    sigaddset(&sigs, SIGINT);
    sigaddset(&sigs, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &sigs, NULL);
    signal(SIGPIPE, SIG_IGN);

    if ((r = make_dirs(o.state_dir, 0700)) < 0 || (r = make_dirs(o.run_dir, 0755)) < 0) {
        log_error_errno(r, "cannot create %s or %s: %m", o.state_dir, o.run_dir);
        goto out;
    }
    /* One networkd per state folder: two reconcilers would fight. */
    lock_path = xasprintf("%s/networkd.lock", o.state_dir);
    lock_fd = open(lock_path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (lock_fd < 0 || flock(lock_fd, LOCK_EX | LOCK_NB) < 0) {
        log_error_errno(-errno, "cannot lock %s (another networkd?): %m", lock_path);
        goto out;
    }
    struct netd_options no = {.state_dir = o.state_dir,
                              .run_dir = o.run_dir,
                              .ovsdb = o.ovsdb,
                              .datapath = o.datapath,
                              .resolv_conf = o.resolv_conf,
                              .dhclient_script = o.script,
                              .dhclient = o.dhclient};
    if ((r = netd_start(&n, &no, &why)) < 0) {
        log_error("cannot start: %s", why ? why : strerror(-r));
        goto out;
    }
    started = true;
    sock_dir = xstrdup(o.socket);
    char *slash = strrchr(sock_dir, '/');
    if (slash && slash != sock_dir) {
        *slash = '\0';
        make_dirs(sock_dir, 0755);
    }
    r = jsonrpc_server_start(o.socket, networkd_methods(), NETWORKD_VERSION, &n, &server);
    if (r < 0) {
        log_error_errno(r, "cannot serve on %s: %m", o.socket);
        goto out;
    }
    log_notice("networkd %s ready: socket %s, OVSDB %s, datapath %s", NETWORKD_VERSION, o.socket,
               o.ovsdb, o.datapath);
    for (;;) {
        int sig = sigwaitinfo(&sigs, NULL);
        if (sig == SIGINT || sig == SIGTERM)
            break;
    }
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
    options_done(&o);
    return rc;
}
