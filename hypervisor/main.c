/* domaind: creates and controls this host's domains for xapi, over
 * JSON-RPC on a Unix socket (hypervisor/README.md). Reads its options,
 * picks the backend (xen in dom0, else the simulator), opens it and serves
 * the method table until SIGINT or SIGTERM, when it wakes every waiting
 * call, stops the server and exits 0. */
#include <errno.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "hypervisor/backend.h"
#include "hypervisor/methods.h"
#include "hypervisor/xen.h"
#include "lib/cleanup.h"
#include "lib/daemon.h"
#include "lib/jsonrpc.h"
#include "lib/log.h"
#include "lib/options.h"
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
    char *device_model;
    char *pv_device_model; /* always or when-needed */
};

static struct domaind_config cfg;

/* The options, into cfg; options_done frees its strings. */
static const struct option_def domaind_option_table[] = {
    {.name = "socket",
     OPT_STRING(&cfg.socket),
     .arg = "PATH",
     .help = "JSON-RPC socket",
     .def = "/run/xenia/domaind.sock"},
    {.name = "state-dir",
     OPT_STRING(&cfg.state_dir),
     .arg = "DIR",
     .help = "state folder",
     .def = "/var/lib/xenia"},
    {.name = "backend",
     OPT_CHOICE(&cfg.backend, "xen", "sim"),
     .help = "the hypervisor",
     .def_text = "xen in dom0, else sim"},
    {.name = "sim-state",
     OPT_STRING(&cfg.sim_state),
     .arg = "DIR",
     .help = "the simulator's state",
     .def_text = "<state-dir>/sim-hypervisor"},
    {.name = "sim-memory",
     OPT_SIZE(&cfg.sim_memory),
     .help = "the simulated host's memory, K/M/G/T suffixes allowed",
     .def_text = "the machine's"},
    {.name = "sim-cpus",
     OPT_INT(&cfg.sim_cpus, 1, 4096),
     .help = "the simulated host's CPUs",
     .def_text = "the machine's"},
    {.name = "sim-step-ms",
     OPT_INT(&cfg.sim_step_ms, 0, 60000),
     .help = "the time each step of an operation takes",
     .def = "20"},
    {.name = "device-model",
     OPT_STRING(&cfg.device_model),
     .arg = "PATH",
     .help = "the xen backend's device model (QEMU built for Xen)",
     .def = XEN_DEFAULT_DEVICE_MODEL},
    {.name = "pv-device-model",
     OPT_CHOICE(&cfg.pv_device_model, "always", "when-needed"),
     .help = "whether every PV and PVH guest gets QEMU, or only those with a file disk",
     .def = "when-needed"},
    OPTIONS_LOG_LEVEL,
    {0},
};

static const struct options_spec domaind_options = {
    .program = "domaind",
    .options = domaind_option_table,
};

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

/* Opens the simulator as the options say. Returns 0 or a negative errno
 * after logging why. */
static int open_sim(const struct domaind_config *c, struct backend **ret)
{
    if (mkdir(c->state_dir, 0700) < 0 && errno != EEXIST)
        return log_error_errno(-errno, "cannot create %s: %m", c->state_dir);
    struct sim_options so = {
        .state_path = c->sim_state,
        .memory = c->sim_memory ? c->sim_memory : machine_memory(),
        .cpus = c->sim_cpus ? c->sim_cpus : machine_cpus(),
        .step_ms = c->sim_step_ms,
    };
    if (so.memory <= 0) {
        log_error("cannot read the machine's memory from /proc/meminfo: give --sim-memory");
        return -EINVAL;
    }
    return sim_backend_new(&so, ret);
}

int main(int argc, char **argv)
{
    struct jsonrpc_server *server = NULL;
    struct backend *b = NULL;
    int r, rc = 1;

    if ((r = options_parse(&domaind_options, argc, argv)) != 0)
        return r == OPTIONS_HELP ? 0 : 2;
    if (!cfg.sim_state)
        cfg.sim_state = xasprintf("%s/sim-hypervisor", cfg.state_dir);

    daemon_block_signals();
    /* The processes libxl starts (device models, bootloaders) must stop
     * on SIGTERM like any other. */
    daemon_unblock_signals_in_children();

    if (!cfg.backend)
        cfg.backend = xstrdup(running_in_dom0() ? "xen" : "sim");
    if (streq(cfg.backend, "xen")) {
        struct xen_options xo = {.device_model = cfg.device_model,
                                 .pv_device_model_always = streq(cfg.pv_device_model, "always")};
        if (xen_backend_new(&xo, &b) < 0) {
            log_error("the xen backend cannot start: on a machine without Xen, run with "
                      "--backend sim");
            goto out;
        }
    } else if (open_sim(&cfg, &b) < 0) {
        goto out;
    }

    r = daemon_serve(cfg.socket, domaind_methods(b), DOMAIND_VERSION, b, &server);
    if (r < 0) {
        log_error_errno(r, "cannot serve on %s: %m", cfg.socket);
        goto out;
    }
    log_notice("domaind %s ready: backend %s, socket %s", DOMAIND_VERSION, b->ops->name,
               cfg.socket);

    daemon_wait_for_stop();
    log_notice("stopping");
    /* Waiting calls (events/watch, guest shutdowns) return first, so that
     * their connections can close. */
    b->ops->stop(b);
    jsonrpc_server_stop(server);
    rc = 0;
out:
    backend_free(b);
    options_done(&domaind_options);
    return rc;
}
