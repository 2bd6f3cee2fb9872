/* storaged: the storage agent. It creates, attaches and scans this host's
 * SRs and their VDIs for xapi, over JSON-RPC on a Unix socket
 * (storaged/README.md). Reads its options, brings back the SRs a previous
 * run had attached, and serves the method table until SIGINT or SIGTERM,
 * when it stops the server (running copies give up) and exits 0. */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "lib/jsonrpc.h"
#include "lib/log.h"
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

static void usage(FILE *f)
{
    fprintf(f, "Usage: storaged [OPTIONS]\n\n"
               "  --socket PATH        JSON-RPC socket (/run/xenia/storaged.sock)\n"
               "  --state-dir DIR      state folder; SR mount points go under\n"
               "                       DIR/sr-mounts (/var/lib/xenia)\n"
               "  --run-dir DIR        runtime state: attached SRs and VDIs\n"
               "                       (/run/xenia/storaged)\n"
               "  --log-level LEVEL    err, warn, notice, info, debug\n");
}

static int parse_args(int argc, char **argv, struct storaged_config *c)
{
    enum { O_SOCKET = 256, O_STATE, O_RUN, O_LOG };
    static const struct option opts[] = {{"socket", required_argument, NULL, O_SOCKET},
                                         {"state-dir", required_argument, NULL, O_STATE},
                                         {"run-dir", required_argument, NULL, O_RUN},
                                         {"log-level", required_argument, NULL, O_LOG},
                                         {"help", no_argument, NULL, 'h'},
                                         {0}};

    c->socket = xstrdup("/run/xenia/storaged.sock");
    c->state_dir = xstrdup("/var/lib/xenia");
    c->run_dir = xstrdup("/run/xenia/storaged");
    for (int o; (o = getopt_long(argc, argv, "h", opts, NULL)) != -1;) {
        char **target = NULL;
        switch (o) {
        case O_SOCKET:
            target = &c->socket;
            break;
        case O_STATE:
            target = &c->state_dir;
            break;
        case O_RUN:
            target = &c->run_dir;
            break;
        case O_LOG:
            if (log_set_level("*", optarg) < 0) {
                fprintf(stderr, "storaged: unknown log level %s\n", optarg);
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
            if (optarg[0] != '/') {
                fprintf(stderr, "storaged: %s must be an absolute path\n", optarg);
                return -EINVAL;
            }
            free(*target);
            *target = xstrdup(optarg);
        }
    }
    if (optind < argc) {
        fprintf(stderr, "storaged: unexpected argument %s\n", argv[optind]);
        return -EINVAL;
    }
    return 0;
}

static void config_done(struct storaged_config *c)
{
    free(c->socket);
    free(c->state_dir);
    free(c->run_dir);
}

/* Copies ask this while they run: the server is going away. */
static bool server_stopping(void *userdata)
{
    struct jsonrpc_server *const *s = userdata;
    return *s && jsonrpc_server_stopping(*s);
}

/* Makes the folder that holds path, one level. */
static void make_parent(const char *path, mode_t mode)
{
    char *dir = xstrdup(path);
    char *slash = strrchr(dir, '/');

    if (slash && slash != dir) {
        *slash = '\0';
        mkdir(dir, mode);
    }
    free(dir);
}

int main(int argc, char **argv)
{
    struct storaged_config cfg = {0};
    struct jsonrpc_server *server = NULL;
    struct storaged *sd = NULL;
    sigset_t sigs;
    int r, rc = 1;

    if (parse_args(argc, argv, &cfg) < 0) {
        config_done(&cfg);
        return 2;
    }
    sigemptyset(&sigs);
    sigaddset(&sigs, SIGINT);
    sigaddset(&sigs, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &sigs, NULL);
    signal(SIGPIPE, SIG_IGN);

    make_parent(cfg.run_dir, 0755);
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
    if (storaged_new(&so, &sd) < 0)
        goto out;
    make_parent(cfg.socket, 0755);
    r = jsonrpc_server_start(cfg.socket, storaged_methods(), STORAGED_VERSION, sd, &server);
    if (r < 0) {
        log_error_errno(r, "cannot serve on %s: %m", cfg.socket);
        goto out;
    }
    log_notice("storaged %s ready: socket %s", STORAGED_VERSION, cfg.socket);
    for (;;) {
        int sig = sigwaitinfo(&sigs, NULL);
        if (sig == SIGINT || sig == SIGTERM)
            break;
    }
    log_notice("stopping");
    jsonrpc_server_stop(server);
    rc = 0;
out:
    storaged_free(sd);
    config_done(&cfg);
    return rc;
}
