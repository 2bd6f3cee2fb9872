/* domaind: creates and controls this host's domains for xapi, over
 * JSON-RPC on a Unix socket (hypervisor/README.md). Reads its options,
 * picks the backend (xen in dom0, else the simulator), opens it and serves
 * the method table until SIGINT or SIGTERM, when it wakes every waiting
 * call, stops the server and exits 0. */
#include <errno.h>
#include <getopt.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "hypervisor/backend.h"
#include "hypervisor/methods.h"
#include "hypervisor/xen.h"
#include "lib/cleanup.h"
#include "lib/jsonrpc.h"
#include "lib/log.h"
#include "lib/util.h"

LOG_MODULE("domaind");

#define DOMAIND_VERSION "0.1.0"

struct domaind_config {
    char *socket;
    char *state_dir;
    char *backend; /* NULL: detect */
    char *sim_state;
    int64_t sim_memory; /* 0: the machine's */
    int sim_cpus;       /* 0: the machine's */
    int sim_step_ms;
};

static void usage(FILE *f)
{
    fprintf(f, "Usage: domaind [OPTIONS]\n\n"
               "  --socket PATH        JSON-RPC socket (/run/xenia/domaind.sock)\n"
               "  --state-dir DIR      state folder (/var/lib/xenia)\n"
               "  --backend xen|sim    the hypervisor (xen in dom0, else sim)\n"
               "  --sim-state DIR      the simulator's state (<state-dir>/sim-hypervisor)\n"
               "  --sim-memory BYTES   the simulated host's memory, K/M/G/T suffixes\n"
               "                       allowed (the machine's)\n"
               "  --sim-cpus N         the simulated host's CPUs (the machine's)\n"
               "  --sim-step-ms N      the time each step of an operation takes (20)\n"
               "  --log-level LEVEL    err, warn, notice, info, debug\n");
}

/* Parses a whole decimal number in min..max. */
static int parse_int(const char *s, int64_t min, int64_t max, int64_t *ret)
{
    char *end;
    long long x;

    errno = 0;
    x = strtoll(s, &end, 10);
    if (errno || end == s || *end || x < min || x > max)
        return -EINVAL;
    *ret = x;
    return 0;
}

/* Parses bytes with an optional binary K, M, G or T suffix. */
static int parse_bytes(const char *s, int64_t *ret)
{
    static const char units[] = "KMGT";
    _cleanup_free_ char *num = xstrdup(s);
    size_t len = strlen(num);
    int shift = 0;
    int64_t x;

    if (len > 0) {
        const char *u = strchr(units, num[len - 1] & ~0x20);
        if (u && *u) {
            shift = 10 * (int)(u - units + 1);
            num[len - 1] = '\0';
        }
    }
    if (parse_int(num, 1, INT64_MAX >> shift, &x) < 0)
        return -EINVAL;
    *ret = x << shift;
    return 0;
}

static int parse_args(int argc, char **argv, struct domaind_config *c)
{
    enum { O_SOCKET = 256, O_STATE, O_BACKEND, O_SIM_STATE, O_MEM, O_CPUS, O_STEP, O_LOG };
    static const struct option opts[] = {{"socket", required_argument, NULL, O_SOCKET},
                                         {"state-dir", required_argument, NULL, O_STATE},
                                         {"backend", required_argument, NULL, O_BACKEND},
                                         {"sim-state", required_argument, NULL, O_SIM_STATE},
                                         {"sim-memory", required_argument, NULL, O_MEM},
                                         {"sim-cpus", required_argument, NULL, O_CPUS},
                                         {"sim-step-ms", required_argument, NULL, O_STEP},
                                         {"log-level", required_argument, NULL, O_LOG},
                                         {"help", no_argument, NULL, 'h'},
                                         {0}};
    int64_t x;

    c->socket = xstrdup("/run/xenia/domaind.sock");
    c->state_dir = xstrdup("/var/lib/xenia");
    c->sim_step_ms = 20;
    for (int o; (o = getopt_long(argc, argv, "h", opts, NULL)) != -1;) {
        char **target = NULL;
        switch (o) {
        case O_SOCKET:
            target = &c->socket;
            break;
        case O_STATE:
            target = &c->state_dir;
            break;
        case O_BACKEND:
            if (!streq(optarg, "xen") && !streq(optarg, "sim")) {
                fprintf(stderr, "domaind: --backend is xen or sim, not %s\n", optarg);
                return -EINVAL;
            }
            target = &c->backend;
            break;
        case O_SIM_STATE:
            target = &c->sim_state;
            break;
        case O_MEM:
            if (parse_bytes(optarg, &c->sim_memory) < 0) {
                fprintf(stderr, "domaind: --sim-memory takes bytes, not %s\n", optarg);
                return -EINVAL;
            }
            break;
        case O_CPUS:
            if (parse_int(optarg, 1, 4096, &x) < 0) {
                fprintf(stderr, "domaind: --sim-cpus takes 1..4096, not %s\n", optarg);
                return -EINVAL;
            }
            c->sim_cpus = (int)x;
            break;
        case O_STEP:
            if (parse_int(optarg, 0, 60000, &x) < 0) {
                fprintf(stderr, "domaind: --sim-step-ms takes 0..60000, not %s\n", optarg);
                return -EINVAL;
            }
            c->sim_step_ms = (int)x;
            break;
        case O_LOG:
            if (log_set_level("*", optarg) < 0) {
                fprintf(stderr, "domaind: unknown log level %s\n", optarg);
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
        fprintf(stderr, "domaind: unexpected argument %s\n", argv[optind]);
        return -EINVAL;
    }
    if (!c->sim_state)
        c->sim_state = xasprintf("%s/sim-hypervisor", c->state_dir);
    return 0;
}

static void config_done(struct domaind_config *c)
{
    free(c->socket);
    free(c->state_dir);
    free(c->backend);
    free(c->sim_state);
}

/* The first line of a small file, without its newline; NULL if none. */
static char *read_line(const char *path)
{
    char buf[256];
    FILE *f = fopen(path, "re");

    if (!f)
        return NULL;
    char *l = fgets(buf, sizeof(buf), f);
    fclose(f);
    if (!l)
        return NULL;
    buf[strcspn(buf, "\n")] = '\0';
    return xstrdup(buf);
}

/* Xen's dom0: the hypervisor is Xen and this domain is the one with the
 * null handle. A Xen guest (a domU) is not a host: it gets the simulator. */
static bool running_in_dom0(void)
{
    _cleanup_free_ char *type = read_line("/sys/hypervisor/type");
    _cleanup_free_ char *uuid = read_line("/sys/hypervisor/uuid");

    return type && streq(type, "xen") && uuid &&
           streq(uuid, "00000000-0000-0000-0000-000000000000");
}

static int64_t machine_memory(void)
{
    char line[256];
    long long kb = 0;
    FILE *f = fopen("/proc/meminfo", "re");

    if (!f)
        return 0;
    while (fgets(line, sizeof(line), f))
        if (sscanf(line, "MemTotal: %lld kB", &kb) == 1)
            break;
    fclose(f);
    return (int64_t)kb * 1024;
}

static int machine_cpus(void)
{
    cpu_set_t set;

    if (sched_getaffinity(0, sizeof(set), &set) == 0)
        return CPU_COUNT(&set);
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    return n > 0 ? (int)n : 1;
}

/* Makes the folder that holds path, one level, like xapi does. */
static void make_parent(const char *path, mode_t mode)
{
    _cleanup_free_ char *dir = xstrdup(path);
    char *slash = strrchr(dir, '/');

    if (slash && slash != dir) {
        *slash = '\0';
        mkdir(dir, mode);
    }
}

/* In a child of fork(): the signals main blocks for itself are the
 * child's again. sigprocmask is async-signal-safe. */
static void unblock_in_child(void)
{
    sigset_t sigs;

    sigemptyset(&sigs);
    sigaddset(&sigs, SIGINT);
    sigaddset(&sigs, SIGTERM);
    sigprocmask(SIG_UNBLOCK, &sigs, NULL);
}

/* Opens the simulator as the options say. Returns 0 or a negative errno
 * after logging why. */
static int open_sim(const struct domaind_config *cfg, struct backend **ret)
{
    if (mkdir(cfg->state_dir, 0700) < 0 && errno != EEXIST)
        return log_error_errno(-errno, "cannot create %s: %m", cfg->state_dir);
    struct sim_options so = {
        .state_path = cfg->sim_state,
        .memory = cfg->sim_memory ? cfg->sim_memory : machine_memory(),
        .cpus = cfg->sim_cpus ? cfg->sim_cpus : machine_cpus(),
        .step_ms = cfg->sim_step_ms,
    };
    if (so.memory <= 0) {
        log_error("cannot read the machine's memory from /proc/meminfo: give --sim-memory");
        return -EINVAL;
    }
    return sim_backend_new(&so, ret);
}

int main(int argc, char **argv)
{
    struct domaind_config cfg = {0};
    struct jsonrpc_server *server = NULL;
    struct backend *b = NULL;
    sigset_t sigs;
    int r, rc = 1;

    if (parse_args(argc, argv, &cfg) < 0) {
        config_done(&cfg);
        return 2;
    }

    /* Signals are taken synchronously by the main thread; every other
     * thread inherits the mask. */
    sigemptyset(&sigs);
    sigaddset(&sigs, SIGINT);
    sigaddset(&sigs, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &sigs, NULL);
    signal(SIGPIPE, SIG_IGN);
    /* The processes libxl starts (device models, bootloaders) must stop
     * on SIGTERM like any other. */
    pthread_atfork(NULL, NULL, unblock_in_child);

    if (!cfg.backend)
        cfg.backend = xstrdup(running_in_dom0() ? "xen" : "sim");
    if (streq(cfg.backend, "xen")) {
        if (xen_backend_new(&b) < 0) {
            log_error("the xen backend cannot start: on a machine without Xen, run with "
                      "--backend sim");
            goto out;
        }
    } else if (open_sim(&cfg, &b) < 0) {
        goto out;
    }

    make_parent(cfg.socket, 0755);
    r = jsonrpc_server_start(cfg.socket, domaind_methods(b), DOMAIND_VERSION, b, &server);
    if (r < 0) {
        log_error_errno(r, "cannot serve on %s: %m", cfg.socket);
        goto out;
    }
    log_notice("domaind %s ready: backend %s, socket %s", DOMAIND_VERSION, b->ops->name,
               cfg.socket);

    for (;;) {
        int sig = sigwaitinfo(&sigs, NULL);
        if (sig == SIGINT || sig == SIGTERM)
            break;
    }
    log_notice("stopping");
    /* Waiting calls (events/watch, guest shutdowns) return first, so that
     * their connections can close. */
    b->ops->stop(b);
    jsonrpc_server_stop(server);
    rc = 0;
out:
    backend_free(b);
    config_done(&cfg);
    return rc;
}
