/* dhclient processes for networkd (see dhcp.h). */
#include "networkd/dhcp.h"

#include <dirent.h>
#include <errno.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "lib/cleanup.h"
#include "lib/log.h"
#include "lib/util.h"

LOG_MODULE("dhcp");

extern char **environ;

static char *pid_path(const struct dhcp_paths *p, const char *iface, int family)
{
    return xasprintf("%s/dhclient%d-%s.pid", p->run_dir, family, iface);
}

static char *lease_facts_path(const struct dhcp_paths *p, const char *iface, int family)
{
    return xasprintf("%s/dhclient%d-%s.lease", p->run_dir, family, iface);
}

/* The pid in path if that process is a live dhclient, else 0. */
static int live_pid(const char *path)
{
    FILE *f = fopen(path, "re");
    long pid = 0;
    char comm[64] = "";

    if (!f)
        return 0;
    if (fscanf(f, "%ld", &pid) != 1)
        pid = 0;
    fclose(f);
    if (pid <= 1)
        return 0;
    _cleanup_free_ char *cp = xasprintf("/proc/%ld/comm", pid);
    f = fopen(cp, "re");
    if (!f)
        return 0;
    if (!fgets(comm, sizeof(comm), f))
        comm[0] = '\0';
    fclose(f);
    comm[strcspn(comm, "\n")] = '\0';
    return streq(comm, "dhclient") ? (int)pid : 0;
}

int dhcp_pid(const struct dhcp_paths *p, const char *iface, int family)
{
    _cleanup_free_ char *pp = pid_path(p, iface, family);
    return live_pid(pp);
}

int dhcp_ensure(const struct dhcp_paths *p, const char *iface, int family)
{
    _cleanup_free_ char *pp = pid_path(p, iface, family);
    _cleanup_free_ char *lf = xasprintf("%s/dhclient%d-%s.leases", p->state_dir, family, iface);
    _cleanup_free_ char *facts = lease_facts_path(p, iface, family);
    _cleanup_free_ char *env = xasprintf("XENIA_LEASE_FILE=%s", facts);
    char fam[3] = {'-', family == 6 ? '6' : '4', '\0'};
    pid_t pid;
    int status, r;

    if (live_pid(pp))
        return 0;
    char *argv[] = {(char *)p->dhclient,
                    fam,
                    (char *)"-nw",
                    (char *)"-pf",
                    pp,
                    (char *)"-lf",
                    lf,
                    (char *)"-sf",
                    (char *)p->script,
                    (char *)"-e",
                    env,
                    (char *)iface,
                    NULL};
    log_info("starting dhclient -%d on %s", family, iface);
    /* networkd blocks SIGTERM in every thread (main takes it with
     * sigwaitinfo); dhclient must not inherit that. */
    posix_spawnattr_t attr;
    sigset_t none;
    sigemptyset(&none);
    posix_spawnattr_init(&attr);
    posix_spawnattr_setsigmask(&attr, &none);
    posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGMASK);
    r = posix_spawn(&pid, p->dhclient, NULL, &attr, argv, environ);
    posix_spawnattr_destroy(&attr);
    if (r != 0)
        return log_error_errno(-r, "cannot start %s: %m", p->dhclient);
    /* With -nw the first process exits as soon as the daemon is forked. */
    for (int i = 0; i < 500; i++) {
        pid_t w = waitpid(pid, &status, WNOHANG);
        if (w == pid) {
            if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
                return log_error_errno(-EIO, "dhclient on %s failed (status %d)", iface, status);
            return 0;
        }
        usleep(10000);
    }
    kill(pid, SIGKILL);
    waitpid(pid, &status, 0);
    return log_error_errno(-ETIMEDOUT, "dhclient on %s did not start", iface);
}

static void stop_pidfile(const char *pp, const char *facts)
{
    int pid = live_pid(pp);
    if (pid) {
        kill(pid, SIGTERM);
        for (int i = 0; i < 200 && kill(pid, 0) == 0; i++)
            usleep(10000);
        if (kill(pid, 0) == 0)
            kill(pid, SIGKILL);
    }
    unlink(pp);
    unlink(facts);
}

void dhcp_stop(const struct dhcp_paths *p, const char *iface, int family)
{
    _cleanup_free_ char *pp = pid_path(p, iface, family);
    _cleanup_free_ char *facts = lease_facts_path(p, iface, family);
    if (live_pid(pp))
        log_info("stopping dhclient -%d on %s", family, iface);
    stop_pidfile(pp, facts);
}

void dhcp_stop_others(const struct dhcp_paths *p, json_object *keep)
{
    DIR *d = opendir(p->run_dir);
    struct dirent *de;

    if (!d)
        return;
    while ((de = readdir(d))) {
        int family;
        char iface[64];
        size_t n = strlen(de->d_name);
        if (n < 16 || strncmp(de->d_name, "dhclient", 8) != 0 || !streq(de->d_name + n - 4, ".pid"))
            continue;
        if (sscanf(de->d_name, "dhclient%d-%63[^ ]", &family, iface) != 2 ||
            (family != 4 && family != 6))
            continue;
        iface[strlen(iface) - 4] = '\0';
        json_object *k = NULL;
        char fk[2] = {(char)('0' + family), '\0'};
        if (json_object_object_get_ex(keep, iface, &k) && json_object_object_get_ex(k, fk, NULL))
            continue;
        dhcp_stop(p, iface, family);
    }
    closedir(d);
}

json_object *dhcp_lease(const struct dhcp_paths *p, const char *iface, int family)
{
    _cleanup_free_ char *facts = lease_facts_path(p, iface, family);
    FILE *f = fopen(facts, "re");
    char line[1024];

    if (!f)
        return NULL;
    json_object *o = json_object_new_object(), *dns = json_object_new_array();
    while (fgets(line, sizeof(line), f)) {
        line[strcspn(line, "\n")] = '\0';
        char *eq = strchr(line, '=');
        if (!eq)
            continue;
        *eq = '\0';
        const char *v = eq + 1;
        if (streq(line, "address") || streq(line, "router")) {
            if (*v)
                json_object_object_add(o, line, json_object_new_string(v));
        } else if (streq(line, "dns")) {
            _cleanup_free_ char *copy = xstrdup(v);
            char *save = NULL;
            for (char *t = strtok_r(copy, " ", &save); t; t = strtok_r(NULL, " ", &save))
                json_object_array_add(dns, json_object_new_string(t));
        }
    }
    fclose(f);
    json_object_object_add(o, "dns", dns);
    return o;
}
