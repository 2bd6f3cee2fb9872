/* The host's life as XCP manages it: host.disable and host.enable (a
 * disabled host takes no new VMs; it stays disabled across a restart of
 * xapi only when disabled with auto_enable false, or after a reboot or
 * shutdown was asked until the machine really restarts), the evacuation
 * plan (host.assert_can_evacuate, get_vms_which_prevent_evacuation,
 * evacuate: each running VM goes to another enabled, live host of the
 * pool; with none, each answers NO_HOSTS_AVAILABLE as in XCP),
 * host.reboot and host.shutdown (disabled first, no guest running, then
 * the power command runs), host.restart_agent and host.shutdown_agent
 * (xapi stops cleanly after answering), and host.destroy of a host that is
 * gone. host.allowed_operations and current_operations follow XCP's rules
 * (xapi_host_helpers.ml).
 *
 * Configuration (environment, as main.c's): XENIA_POWER_COMMAND, the
 * shell command run with "reboot" or "poweroff" as its last argument
 * (default "systemctl"; the development host gives one that restarts or
 * stops its own processes). Flags in the state directory: host-auto-enable
 * ("false" while the host stays disabled) and host-disabled-until-reboot
 * (the boot id of the boot in which a reboot or shutdown was asked). */
#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "lib/cleanup.h"
#include "lib/file.h"
#include "lib/log.h"
#include "lib/strbuf.h"
#include "lib/strlist.h"
#include "lib/util.h"
#include "xapi-c/api.h"
#include "xapi-c/api/host.h"
#include "xapi-c/config.h"
#include "xapi-c/db.h"

LOG_MODULE("host");

#define AUTO_ENABLE_FILE "host-auto-enable"
#define UNTIL_REBOOT_FILE "host-disabled-until-reboot"
#define BOOT_ID_PATH "/proc/sys/kernel/random/boot_id"
/* Seconds between the answer to a call and the act that ends xapi, so the
 * answer reaches the client first (XCP waits 1 s for restart_agent). */
#define ACT_DELAY 1

/* ---- flags in the state directory ---- */

static char *state_file(const char *name)
{
    return xasprintf("%s/%s", xapi_cfg.state_dir, name);
}

/* Writes value and a newline to path whole or not at all. */
static int write_text(const char *path, const char *value)
{
    _cleanup_free_ char *line = xasprintf("%s\n", value);
    return write_file_atomic(path, line, strlen(line), true);
}

/* Sets the flag name to value, or removes it when value is NULL. */
static int write_flag(const char *name, const char *value)
{
    char *path = state_file(name);
    int r = value ? write_text(path, value) : unlink(path) < 0 && errno != ENOENT ? -errno : 0;
    if (r < 0)
        log_error_errno(r, "cannot update %s: %m", path);
    free(path);
    return r;
}

static bool auto_enable(void)
{
    char v[16], *path = state_file(AUTO_ENABLE_FILE);
    read_first_line(path, v, sizeof(v));
    free(path);
    return !streq(v, "false");
}

/* Whether a reboot or shutdown was asked in this boot of the machine. */
static bool disabled_until_reboot(void)
{
    char asked[64], boot[64], *path = state_file(UNTIL_REBOOT_FILE);
    read_first_line(path, asked, sizeof(asked));
    free(path);
    read_first_line(BOOT_ID_PATH, boot, sizeof(boot));
    return *asked && streq(asked, boot);
}

/* ---- allowed and current operations ---- */

static const char *const all_ops[] = {"provision",     "evacuate", "shutdown",  "reboot",
                                      "power_on",      "vm_start", "vm_resume", "vm_migrate",
                                      "apply_updates", "enable"};

static bool in(const char *op, const char *const *set)
{
    for (; *set; set++)
        if (streq(op, *set))
            return true;
    return false;
}

static const char *const creating[] = {"provision", "vm_resume", "vm_migrate", NULL};
static const char *const removing[] = {"evacuate", "reboot", "shutdown", NULL};

/* Why op may not run on host h now (the db lock held), or NULL. */
static struct api_error *op_error(const struct row *h, const char *op)
{
    struct strlist_iter it;
    const char *k, *v;
    struct api_error *e = NULL;
    strlist_iter_init(&it, h->v[FIDX(host, current_operations)]);
    while (!e && strlist_iter_next(&it, &k, &v)) {
        bool clash =
            (in(op, creating) && in(v, removing)) || (in(op, removing) && in(v, creating)) ||
            (streq(v, "reboot") && (streq(op, "shutdown") || streq(op, "apply_updates"))) ||
            (streq(v, "shutdown") && (streq(op, "reboot") || streq(op, "apply_updates"))) ||
            (streq(v, "apply_updates") &&
             (streq(op, "reboot") || streq(op, "shutdown") || streq(op, "enable"))) ||
            (streq(v, "provision") && streq(op, "provision"));
        if (clash)
            e = api_fail(OTHER_OPERATION_IN_PROGRESS, "host", h->ref, v, k);
    }
    strlist_iter_done(&it);
    if (e)
        return e;
    if (streq(h->v[FIDX(host, enabled)], "true") &&
        (streq(op, "reboot") || streq(op, "shutdown") || streq(op, "apply_updates")))
        return api_fail(HOST_NOT_DISABLED);
    if (streq(op, "power_on")) {
        const struct row *m = db_get(C_host_metrics, h->v[FIDX(host, metrics)]);
        if (!m || streq(m->v[FIDX(host_metrics, live)], "true"))
            return api_fail(HOST_IS_LIVE, h->ref);
        if (!*h->v[FIDX(host, power_on_mode)])
            return api_fail(HOST_POWER_ON_MODE_DISABLED);
    }
    return NULL;
}

/* Brings allowed_operations up to date with the row (db write lock held). */
static void refresh_allowed(const struct row *h)
{
    struct strbuf sb;
    strbuf_init(&sb, 128);
    strbuf_addc(&sb, '[');
    for (size_t i = 0; i < ELEMENTSOF(all_ops); i++) {
        struct api_error *e = op_error(h, all_ops[i]);
        if (!e) {
            if (sb.len > 1)
                strbuf_addc(&sb, ',');
            strlist_add_quoted(&sb, all_ops[i], strlen(all_ops[i]));
        }
        api_error_free(e);
    }
    strbuf_addc(&sb, ']');
    char *allowed = strbuf_detach(&sb, NULL);
    if (!streq(allowed, h->v[FIDX(host, allowed_operations)])) {
        struct changeset *cs = changeset_new();
        changeset_set(cs, C_host, h->ref, FIDX(host, allowed_operations), allowed);
        db_apply(cs);
        changeset_free(cs);
    }
    free(allowed);
}

/* Sets one field of the host and refreshes allowed_operations (db write
 * lock held). */
static void set_field(const char *host, int field, const char *value)
{
    struct changeset *cs = changeset_new();
    changeset_set(cs, C_host, host, field, value);
    db_apply(cs);
    changeset_free(cs);
    const struct row *h = db_get(C_host, host);
    if (h)
        refresh_allowed(h);
}

/* Checks that the host is this one and op may run, and records op under
 * key in current_operations. */
static struct api_error *op_begin(const char *host, const char *op, const char *key)
{
    const struct row *h = NULL;
    db_wrlock();
    struct api_error *e = api_lookup(C_host, host, &h);
    if (!e && !streq(host, xapi_state.host_ref))
        e = api_fail(HOST_OFFLINE, host);
    if (!e)
        e = op_error(h, op);
    if (!e) {
        char *cur = strmap_with(h->v[FIDX(host, current_operations)], key, op);
        set_field(host, FIDX(host, current_operations), cur);
        free(cur);
    }
    db_unlock();
    return e;
}

static void op_end(const char *host, const char *key)
{
    db_wrlock();
    const struct row *h = db_get(C_host, host);
    if (h) {
        char *cur = strmap_with(h->v[FIDX(host, current_operations)], key, NULL);
        set_field(host, FIDX(host, current_operations), cur);
        free(cur);
    }
    db_unlock();
}

static void op_key(const struct call *c, char key[64])
{
    if (c->task)
        snprintf(key, 64, "%s", c->task);
    else
        api_new_ref(key); /* a synchronous call has no task: a key of its own */
}

/* The host of argument 1 when it is this host (HOST_OFFLINE for another:
 * its calls would be forwarded to it, and pools are yet to come). */
static struct api_error *this_host(const struct call *c)
{
    const struct row *h = NULL;
    db_rdlock();
    struct api_error *e = api_lookup(C_host, arg_str(c, 1), &h);
    if (!e && !streq(h->ref, xapi_state.host_ref))
        e = api_fail(HOST_OFFLINE, h->ref);
    db_unlock();
    return e;
}

struct api_error *host_assert_enabled(const char *host_ref)
{
    const struct row *h = NULL;
    db_rdlock();
    struct api_error *e = api_lookup(C_host, host_ref, &h);
    if (!e && !streq(h->v[FIDX(host, enabled)], "true"))
        e = api_fail(HOST_DISABLED, host_ref);
    db_unlock();
    return e;
}

/* ---- disable, enable ---- */

static struct api_error *disable(struct call *c)
{
    struct api_error *e = this_host(c);
    if (e)
        return e;
    db_wrlock();
    const struct row *h = db_get(C_host, arg_str(c, 1));
    if (h && streq(h->v[FIDX(host, enabled)], "true")) {
        log_notice("host %s disabled by request", h->v[FIDX(host, uuid)]);
        set_field(arg_str(c, 1), FIDX(host, enabled), "false");
        if (!arg_bool(c, 2))
            write_flag(AUTO_ENABLE_FILE, "false");
    }
    db_unlock();
    out_void(c->out);
    return NULL;
}

static struct api_error *enable(struct call *c)
{
    char key[64];
    const char *host = arg_str(c, 1);
    op_key(c, key);
    struct api_error *e = op_begin(host, "enable", key);
    if (e)
        return e;
    db_wrlock();
    const struct row *h = db_get(C_host, host);
    if (h && !streq(h->v[FIDX(host, enabled)], "true")) {
        if (disabled_until_reboot())
            e = api_fail(HOST_DISABLED_UNTIL_REBOOT, host);
        else if (write_flag(AUTO_ENABLE_FILE, NULL) < 0)
            e = api_failf(INTERNAL_ERROR, "cannot clear the host's auto-enable flag");
        else {
            log_notice("host %s enabled by request", h->v[FIDX(host, uuid)]);
            set_field(host, FIDX(host, enabled), "true");
        }
    }
    db_unlock();
    op_end(host, key);
    if (!e)
        out_void(c->out);
    return e;
}

/* ---- evacuation ---- */

void host_plan_done(struct host_plan *p)
{
    for (size_t i = 0; i < p->n; i++)
        api_error_free(p->v[i].why);
    free(p->v);
    p->v = NULL;
    p->n = 0;
}

static int64_t field_int(const struct row *r, int f)
{
    return r->v[f] ? strtoll(r->v[f], NULL, 10) : 0;
}

/* The memory a resident VM holds: what its metrics say, else its
 * memory_static_max (db lock held). */
static int64_t vm_memory(const struct row *vm)
{
    const struct row *m = db_get(C_VM_metrics, vm->v[FIDX(VM, metrics)]);
    int64_t actual = m ? field_int(m, FIDX(VM_metrics, memory_actual)) : 0;
    return actual > 0 ? actual : field_int(vm, FIDX(VM, memory_static_max));
}

/* A host's free memory as the database knows it (another host's domaind
 * is not ours to ask): its total, less its overhead and what its resident
 * VMs hold, the control domain's included (db lock held). */
static int64_t db_free_memory(const struct row *h, const struct row *metrics)
{
    int64_t free_mem = field_int(metrics, FIDX(host_metrics, memory_total)) -
                       field_int(h, FIDX(host, memory_overhead));
    size_t it = 0;
    const struct row *vm;
    while (db_next(C_VM, &it, &vm))
        if (streq(vm->v[FIDX(VM, resident_on)], h->ref))
            free_mem -= vm_memory(vm);
    return free_mem;
}

void host_plan_compute(const char *host, struct host_plan *ret)
{
    struct target {
        const char *ref;
        int64_t free;
    } *targets = NULL;
    size_t n_targets = 0, it = 0;
    const struct row *r;

    memset(ret, 0, sizeof(*ret));
    while (db_next(C_host, &it, &r)) {
        const struct row *m = db_get(C_host_metrics, r->v[FIDX(host, metrics)]);
        if (streq(r->ref, host) || !streq(r->v[FIDX(host, enabled)], "true") || !m ||
            !streq(m->v[FIDX(host_metrics, live)], "true"))
            continue;
        targets = xrealloc(targets, (n_targets + 1) * sizeof(*targets));
        targets[n_targets++] = (struct target){r->ref, db_free_memory(r, m)};
    }
    it = 0;
    while (db_next(C_VM, &it, &r)) {
        if (!streq(r->v[FIDX(VM, resident_on)], host) ||
            streq(r->v[FIDX(VM, is_control_domain)], "true"))
            continue;
        ret->v = xrealloc(ret->v, (ret->n + 1) * sizeof(*ret->v));
        struct host_plan_entry *pe = &ret->v[ret->n++];
        memset(pe, 0, sizeof(*pe));
        snprintf(pe->vm, sizeof(pe->vm), "%s", r->ref);
        if (n_targets == 0) {
            pe->why = api_fail(NO_HOSTS_AVAILABLE, r->ref);
            continue;
        }
        int64_t need = field_int(r, FIDX(VM, memory_static_max));
        struct target *best = NULL;
        for (size_t i = 0; i < n_targets; i++)
            if (targets[i].free >= need && (!best || targets[i].free > best->free))
                best = &targets[i];
        if (!best) {
            pe->why = api_fail(HOST_NOT_ENOUGH_FREE_MEMORY, r->ref);
            continue;
        }
        best->free -= need;
        snprintf(pe->target, sizeof(pe->target), "%s", best->ref);
    }
    free(targets);
}

static struct api_error *plan_for(const char *host, struct host_plan *ret)
{
    const struct row *h = NULL;
    db_rdlock();
    struct api_error *e = api_lookup(C_host, host, &h);
    if (!e)
        host_plan_compute(host, ret);
    db_unlock();
    return e;
}

/* An error's code and parameters as XCP joins them: "CODE,p1,p2". */
static void add_joined(struct strbuf *sb, const struct api_error *e)
{
    strbuf_adds(sb, e->code);
    for (size_t i = 0; i < e->n; i++) {
        strbuf_addc(sb, ',');
        strbuf_adds(sb, e->params[i]);
    }
}

static struct api_error *assert_can_evacuate(struct call *c)
{
    struct host_plan p;
    struct api_error *e = plan_for(arg_str(c, 1), &p);
    if (e)
        return e;
    struct strbuf sb;
    strbuf_init(&sb, 128);
    for (size_t i = 0; i < p.n; i++)
        if (p.v[i].why) {
            if (sb.len)
                strbuf_addc(&sb, '|');
            add_joined(&sb, p.v[i].why);
        }
    if (sb.len)
        e = api_fail(CANNOT_EVACUATE_HOST, sb.buf);
    else
        out_void(c->out);
    strbuf_done(&sb);
    host_plan_done(&p);
    return e;
}

static struct api_error *get_vms_which_prevent_evacuation(struct call *c)
{
    struct host_plan p;
    struct api_error *e = plan_for(arg_str(c, 1), &p);
    if (e)
        return e;
    out_struct_begin(c->out);
    for (size_t i = 0; i < p.n; i++) {
        const struct api_error *why = p.v[i].why;
        if (!why)
            continue;
        out_member(c->out, p.v[i].vm);
        out_array_begin(c->out);
        out_string(c->out, why->code);
        for (size_t j = 0; j < why->n; j++)
            out_string(c->out, why->params[j]);
        out_array_end(c->out);
    }
    out_struct_end(c->out);
    host_plan_done(&p);
    return NULL;
}

/* XCP's dummy answer for a deprecated message: no VM is uncooperative. */
static struct api_error *get_uncooperative_resident_vms(struct call *c)
{
    const struct row *h = NULL;
    db_rdlock();
    struct api_error *e = api_lookup(C_host, arg_str(c, 1), &h);
    db_unlock();
    if (!e) {
        out_array_begin(c->out);
        out_array_end(c->out);
    }
    return e;
}

static struct api_error *evacuate(struct call *c)
{
    char key[64];
    const char *host = arg_str(c, 1), *network = arg_str(c, 2);
    struct host_plan p = {0};
    struct api_error *e = NULL;

    if (!streq(network, "OpaqueRef:NULL")) {
        const struct row *n = NULL;
        db_rdlock();
        e = api_lookup(C_network, network, &n);
        db_unlock();
        if (e)
            return e;
    }
    op_key(c, key);
    if ((e = op_begin(host, "evacuate", key)))
        return e;
    if (!(e = plan_for(host, &p))) {
        for (size_t i = 0; i < p.n && !e; i++)
            if (p.v[i].why) /* XCP raises the first error of the plan */
                e = api_error_new(p.v[i].why->code, (const char *const *)p.v[i].why->params,
                                  p.v[i].why->n);
        /* Moving a VM is VM.pool_migrate, which comes with pools. */
        const struct method *m = api_find_method("VM.pool_migrate");
        for (size_t i = 0; i < p.n && !e; i++)
            if (!m || !m->fn)
                e = api_fail(MESSAGE_NOT_IMPLEMENTED, "VM.pool_migrate");
    }
    host_plan_done(&p);
    op_end(host, key);
    if (!e)
        out_void(c->out);
    return e;
}

/* ---- power ---- */

/* The one act that ends this xapi (a reboot, a shutdown, a stop or
 * restart of the agent), once asked: the others are refused while it is
 * under way. */
static pthread_mutex_t act_lock = PTHREAD_MUTEX_INITIALIZER;
static bool restart_requested;
static bool act_pending;
static char act_what[32], act_key[64]; /* the operation and its key */

int host_run_command(const char *cmd, const char *arg)
{
    char *script = xasprintf("%s \"$1\"", cmd);
    pid_t pid = fork();
    if (pid < 0) {
        free(script);
        return -errno;
    }
    if (pid == 0) {
        execl("/bin/sh", "sh", "-c", script, "sh", arg, (char *)NULL);
        _exit(127);
    }
    free(script);
    int status;
    while (waitpid(pid, &status, 0) < 0)
        if (errno != EINTR)
            return -errno;
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

struct power_act {
    char host[64], key[64];
    char *what; /* "reboot", "poweroff" */
};

/* After the answer went, runs the power command; a command that fails
 * leaves the host as it was asked (disabled), the operation ended. */
static void *power_thread(void *arg)
{
    struct power_act *a = arg;
    sleep(ACT_DELAY);
    const char *cmd = getenv("XENIA_POWER_COMMAND");
    cmd = cmd && *cmd ? cmd : "systemctl";
    log_notice("host %s: running %s %s", a->what, cmd, a->what);
    int r = host_run_command(cmd, a->what);
    if (r != 0) {
        log_error("the host's %s command %s failed (%d): the host stays up, disabled", a->what, cmd,
                  r);
        write_flag(UNTIL_REBOOT_FILE, NULL);
        op_end(a->host, a->key);
        pthread_mutex_lock(&act_lock);
        act_pending = false;
        pthread_mutex_unlock(&act_lock);
    }
    free(a->what);
    free(a);
    return NULL;
}

/* The first running guest of host, or false (db lock held). */
static bool running_guest(const char *host, char ret_vm[64])
{
    size_t it = 0;
    const struct row *r;
    while (db_next(C_VM, &it, &r))
        if (streq(r->v[FIDX(VM, resident_on)], host) &&
            !streq(r->v[FIDX(VM, is_control_domain)], "true") &&
            (streq(r->v[FIDX(VM, power_state)], "Running") ||
             streq(r->v[FIDX(VM, power_state)], "Paused"))) {
            snprintf(ret_vm, 64, "%s", r->ref);
            return true;
        }
    return false;
}

static struct api_error *power(struct call *c, const char *op, const char *what)
{
    char key[64], vm[64], boot[64];
    const char *host = arg_str(c, 1);
    struct api_error *e;

    op_key(c, key);
    if ((e = op_begin(host, op, key)))
        return e;
    db_rdlock();
    bool busy = running_guest(host, vm);
    db_unlock();
    if (busy)
        e = api_fail(HOST_IN_USE, host, "vm", vm);
    pthread_mutex_lock(&act_lock);
    if (!e && act_pending)
        e = api_fail(OTHER_OPERATION_IN_PROGRESS, "host", host, act_what, act_key);
    if (!e) {
        /* Nothing may enable the host again until the machine restarts. */
        read_first_line(BOOT_ID_PATH, boot, sizeof(boot));
        if (write_flag(UNTIL_REBOOT_FILE, boot) < 0)
            e = api_failf(INTERNAL_ERROR, "cannot record the host's %s", what);
    }
    if (!e) {
        struct power_act *a = xcalloc(1, sizeof(*a));
        snprintf(a->host, sizeof(a->host), "%s", host);
        snprintf(a->key, sizeof(a->key), "%s", key);
        a->what = xstrdup(what);
        pthread_t t;
        if (pthread_create(&t, NULL, power_thread, a) != 0) {
            free(a->what);
            free(a);
            write_flag(UNTIL_REBOOT_FILE, NULL);
            e = api_failf(INTERNAL_ERROR, "cannot start the host's %s", what);
        } else {
            pthread_detach(t);
            act_pending = true;
            snprintf(act_what, sizeof(act_what), "%s", op);
            snprintf(act_key, sizeof(act_key), "%s", key);
        }
    }
    pthread_mutex_unlock(&act_lock);
    if (e) {
        op_end(host, key);
        return e;
    }
    /* The operation stays in current_operations until the host goes. */
    out_void(c->out);
    return NULL;
}

static struct api_error *reboot(struct call *c)
{
    return power(c, "reboot", "reboot");
}

static struct api_error *shutdown(struct call *c)
{
    return power(c, "shutdown", "poweroff");
}

/* ---- the agent ---- */

static void *stop_thread(void *arg)
{
    (void)arg;
    sleep(ACT_DELAY);
    kill(getpid(), SIGTERM); /* main stops cleanly, then host_agent_finish */
    return NULL;
}

static struct api_error *stop_agent(bool restart)
{
    pthread_t t;
    pthread_mutex_lock(&act_lock);
    if (act_pending) {
        struct api_error *e =
            api_fail(OTHER_OPERATION_IN_PROGRESS, "host", xapi_state.host_ref, act_what, act_key);
        pthread_mutex_unlock(&act_lock);
        return e;
    }
    if (pthread_create(&t, NULL, stop_thread, NULL) != 0) {
        pthread_mutex_unlock(&act_lock);
        return api_failf(INTERNAL_ERROR, "cannot stop the agent");
    }
    pthread_detach(t);
    act_pending = true;
    restart_requested = restart;
    snprintf(act_what, sizeof(act_what), "%s", restart ? "restart_agent" : "shutdown_agent");
    api_new_ref(act_key);
    pthread_mutex_unlock(&act_lock);
    log_notice("the agent will %s in %d s, as asked", restart ? "restart" : "stop", ACT_DELAY);
    return NULL;
}

static struct api_error *restart_agent(struct call *c)
{
    struct api_error *e = this_host(c);
    if (!e)
        e = stop_agent(true);
    if (!e)
        out_void(c->out);
    return e;
}

static struct api_error *shutdown_agent(struct call *c)
{
    struct api_error *e = stop_agent(false);
    if (!e)
        out_void(c->out);
    return e;
}

void host_agent_finish(char **argv)
{
    pthread_mutex_lock(&act_lock);
    bool restart = restart_requested;
    pthread_mutex_unlock(&act_lock);
    if (!restart)
        return;
    /* The binary's own path, not /proc/self/exe: the process keeps its
     * name ("xapi"), as tools that look for it expect. */
    char self[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);
    if (n <= 0) {
        log_error_errno(-errno, "cannot restart the agent: %m");
        return;
    }
    self[n] = '\0';
    log_notice("restarting the agent");
    execv(self, argv);
    log_error_errno(-errno, "cannot restart the agent: %m");
}

/* ---- destroy ---- */

/* XCP's host.destroy: only for a host that is gone (this one, or a live
 * one, answers HOST_IS_LIVE), with no guest resident on it. */
static struct api_error *destroy(struct call *c)
{
    const char *host = arg_str(c, 1);
    const struct row *h = NULL, *r;
    struct api_error *e;
    size_t it = 0;

    db_wrlock();
    if ((e = api_lookup(C_host, host, &h)))
        goto out;
    const struct row *m = db_get(C_host_metrics, h->v[FIDX(host, metrics)]);
    if (streq(host, xapi_state.host_ref) || (m && streq(m->v[FIDX(host_metrics, live)], "true"))) {
        e = api_fail(HOST_IS_LIVE, host);
        goto out;
    }
    struct changeset *cs = changeset_new();
    while (!e && db_next(C_VM, &it, &r)) {
        if (!streq(r->v[FIDX(VM, resident_on)], host))
            continue;
        if (streq(r->v[FIDX(VM, is_control_domain)], "true"))
            changeset_delete(cs, C_VM, r->ref);
        else
            e = api_fail(HOST_HAS_RESIDENT_VMS, host);
    }
    if (!e) {
        changeset_delete(cs, C_host, host);
        if (m)
            changeset_delete(cs, C_host_metrics, m->ref);
        e = api_apply(cs);
    } else
        changeset_free(cs);
out:
    db_unlock();
    if (!e)
        out_void(c->out);
    return e;
}

/* ---- start ---- */

/* At xapi's start (XCP's consider_enabling_host): the host is enabled
 * unless it was disabled with auto_enable false or is waiting for a
 * reboot; operations under way when xapi stopped are over. */
void host_startup(void)
{
    if (!disabled_until_reboot())
        write_flag(UNTIL_REBOOT_FILE, NULL); /* the machine restarted */
    bool enabled = auto_enable() && !disabled_until_reboot();
    db_wrlock();
    const struct row *h = db_get(C_host, xapi_state.host_ref);
    if (h) {
        struct changeset *cs = changeset_new();
        changeset_set(cs, C_host, h->ref, FIDX(host, current_operations), "{}");
        changeset_set(cs, C_host, h->ref, FIDX(host, enabled), enabled ? "true" : "false");
        db_apply(cs);
        changeset_free(cs);
        refresh_allowed(db_get(C_host, xapi_state.host_ref));
        if (!enabled)
            log_notice("the host stays disabled (%s)",
                       auto_enable() ? "a reboot is under way" : "auto_enable is false");
    }
    db_unlock();
}

void host_power_register(void);
void host_power_register(void)
{
    api_register(M_host_disable, disable);
    api_register(M_host_enable, enable);
    api_register(M_host_assert_can_evacuate, assert_can_evacuate);
    api_register(M_host_get_vms_which_prevent_evacuation, get_vms_which_prevent_evacuation);
    api_register(M_host_get_uncooperative_resident_VMs, get_uncooperative_resident_vms);
    api_register(M_host_evacuate, evacuate);
    api_register(M_host_reboot, reboot);
    api_register(M_host_shutdown, shutdown);
    api_register(M_host_restart_agent, restart_agent);
    api_register(M_host_shutdown_agent, shutdown_agent);
    api_register(M_host_destroy, destroy);
}
