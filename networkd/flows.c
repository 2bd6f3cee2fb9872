/* VIF locking through OpenFlow (see flows.h). The rules and priorities
 * are XCP's, so that a host looks the same to whoever dumps its flows. */
#include "networkd/flows.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "lib/cleanup.h"
#include "lib/strbuf.h"
#include "lib/util.h"
#include "networkd/jsonutil.h"

extern char **environ;

/* The real bridge a VIF's port is on: its bridge, or a VLAN's parent. */
static const char *vif_real_bridge(json_object *doc, json_object *vif)
{
    const char *br = ju_str(vif, "bridge");
    json_object *vlan = br ? ju_member(ju_member(doc, "vlans"), br) : NULL;
    return vlan ? ju_str(vlan, "parent_bridge") : br;
}

static void locked_rules(struct strbuf *sb, const char *port, const char *mac, json_object *v4,
                         json_object *v6)
{
    /* DHCP requests, and ARP probes (from 0.0.0.0) with the VIF's MAC. */
    strbuf_addf(sb, "priority=8000,in_port=\"%s\",udp,dl_src=%s,tp_dst=67,actions=normal\n", port,
                mac);
    strbuf_addf(sb,
                "priority=7000,in_port=\"%s\",arp,dl_src=%s,arp_sha=%s,arp_spa=0.0.0.0,"
                "actions=normal\n",
                port, mac, mac);
    for (size_t i = 0; i < ju_len(v4); i++) {
        const char *a = json_object_get_string(json_object_array_get_idx(v4, i));
        strbuf_addf(sb,
                    "priority=7000,in_port=\"%s\",arp,dl_src=%s,arp_sha=%s,arp_spa=%s,"
                    "actions=normal\n",
                    port, mac, mac, a);
        strbuf_addf(sb, "priority=6000,in_port=\"%s\",ip,dl_src=%s,nw_src=%s,actions=normal\n",
                    port, mac, a);
    }
    for (size_t i = 0; i < ju_len(v6); i++) {
        const char *a = json_object_get_string(json_object_array_get_idx(v6, i));
        strbuf_addf(sb,
                    "priority=8000,in_port=\"%s\",icmp6,dl_src=%s,ipv6_src=%s,icmp_type=135,"
                    "nd_sll=%s,actions=normal\n",
                    port, mac, a, mac);
        strbuf_addf(sb,
                    "priority=8000,in_port=\"%s\",icmp6,dl_src=%s,ipv6_src=%s,icmp_type=136,"
                    "nd_target=%s,actions=normal\n",
                    port, mac, a, a);
        static const char *const protos[] = {"icmp6", "tcp6", "udp6"};
        for (size_t j = 0; j < ELEMENTSOF(protos); j++)
            strbuf_addf(sb,
                        "priority=5000,in_port=\"%s\",%s,dl_src=%s,ipv6_src=%s,actions=normal\n",
                        port, protos[j], mac, a);
    }
    /* Other neighbour discovery, router advertisements, redirects, mobile
     * prefix and multicast router messages are dropped. */
    strbuf_addf(sb, "priority=7000,in_port=\"%s\",icmp6,icmp_type=135,actions=drop\n", port);
    strbuf_addf(sb, "priority=7000,in_port=\"%s\",icmp6,icmp_type=136,actions=drop\n", port);
    static const int types[] = {134, 137, 146, 147, 151, 152, 153};
    for (size_t i = 0; i < ELEMENTSOF(types); i++)
        strbuf_addf(sb, "priority=6000,in_port=\"%s\",icmp6,icmp_type=%d,actions=drop\n", port,
                    types[i]);
}

char *flows_for_bridge(json_object *doc, const char *bridge)
{
    struct strbuf sb;
    bool any = false;

    strbuf_init(&sb, 1024);
    json_object_object_foreach(ju_obj(ju_member(doc, "vifs")), name, vif)
    {
        const char *lm = ju_str(vif, "locking_mode"), *br = vif_real_bridge(doc, vif);
        if (!lm || !br || !streq(br, bridge) || !(streq(lm, "locked") || streq(lm, "disabled")))
            continue;
        any = true;
        if (streq(lm, "locked"))
            locked_rules(&sb, name, ju_str(vif, "mac"), ju_member(vif, "ipv4_allowed"),
                         ju_member(vif, "ipv6_allowed"));
        /* Whatever no rule above lets through. */
        strbuf_addf(&sb, "priority=4000,in_port=\"%s\",actions=drop\n", name);
    }
    if (!any) {
        strbuf_done(&sb);
        return NULL;
    }
    /* What a standalone bridge does without rules of ours. */
    strbuf_adds(&sb, "priority=0,actions=normal\n");
    return strbuf_detach(&sb, NULL);
}

/* Starts ovs-ofctl replace-flows for job j: its flow file written, its
 * complaints going to a file, for the error message. */
static int job_start(const char *ofctl, const char *ovs_rundir, const char *tmp_dir,
                     struct flows_job *j, pid_t *ret_pid)
{
    _cleanup_free_ char *path = xasprintf("%s/flows-%s.txt", tmp_dir, j->bridge);
    _cleanup_free_ char *target = xasprintf("unix:%s/%s.mgmt", ovs_rundir, j->bridge);
    _cleanup_free_ char *errpath = xasprintf("%s/flows-%s.err", tmp_dir, j->bridge);
    size_t len = strlen(j->text);
    int fd, r;

    fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0 || write(fd, j->text, len) != (ssize_t)len) {
        r = errno ? -errno : -EIO;
        j->why = xasprintf("cannot write %s: %s", path, strerror(-r));
        if (fd >= 0)
            close(fd);
        unlink(path);
        return r;
    }
    close(fd);

    posix_spawn_file_actions_t fa;
    posix_spawnattr_t attr;
    sigset_t none;
    /* --bundle: the table changes in one OpenFlow transaction, so a VIF is
     * never half locked while it is rewritten. */
    char *argv[] = {(char *)ofctl,
                    (char *)"-t",
                    (char *)"30",
                    (char *)"-O",
                    (char *)"OpenFlow14",
                    (char *)"--bundle",
                    (char *)"replace-flows",
                    target,
                    path,
                    NULL};
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
    posix_spawn_file_actions_addopen(&fa, 2, errpath, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    /* networkd blocks SIGTERM in every thread; the child must not. */
    sigemptyset(&none);
    posix_spawnattr_init(&attr);
    posix_spawnattr_setsigmask(&attr, &none);
    posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGMASK);
    r = posix_spawn(ret_pid, ofctl, &fa, &attr, argv, environ);
    posix_spawn_file_actions_destroy(&fa);
    posix_spawnattr_destroy(&attr);
    if (r != 0) {
        unlink(path);
        unlink(errpath);
        j->why = xasprintf("cannot run %s: %s", ofctl, strerror(r));
        return -r;
    }
    return 0;
}

/* Waits for job j's ovs-ofctl and records how it went. */
static void job_finish(const char *ofctl, const char *tmp_dir, struct flows_job *j, pid_t pid)
{
    _cleanup_free_ char *path = xasprintf("%s/flows-%s.txt", tmp_dir, j->bridge);
    _cleanup_free_ char *errpath = xasprintf("%s/flows-%s.err", tmp_dir, j->bridge);
    int status = 0;

    while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
        ;
    unlink(path);
    if (WIFEXITED(status) && WEXITSTATUS(status) == 0) {
        unlink(errpath);
        j->result = 0;
        return;
    }
    char msg[512] = "";
    FILE *f = fopen(errpath, "re");
    if (f) {
        size_t n = fread(msg, 1, sizeof(msg) - 1, f);
        msg[n] = '\0';
        msg[strcspn(msg, "\n")] = '\0';
        fclose(f);
    }
    unlink(errpath);
    j->why =
        xasprintf("%s replace-flows %s failed: %s", ofctl, j->bridge, *msg ? msg : "(no message)");
    j->result = -EIO;
}

void flows_apply_all(const char *ofctl, const char *ovs_rundir, const char *tmp_dir,
                     struct flows_job *jobs, size_t n, size_t parallel)
{
    /* pids[i % parallel] is job i's while it runs; jobs are reaped in the
     * order they started, by pid, so that no other child of networkd's
     * (dhclient launchers) is reaped here. */
    _cleanup_free_ pid_t *pids = xcalloc(parallel ? parallel : 1, sizeof(pid_t));
    size_t started = 0, done = 0;

    if (!parallel)
        parallel = 1;
    while (done < n) {
        while (started < n && started - done < parallel) {
            struct flows_job *j = &jobs[started];
            j->result = job_start(ofctl, ovs_rundir, tmp_dir, j, &pids[started % parallel]);
            if (j->result < 0)
                pids[started % parallel] = 0;
            started++;
        }
        if (pids[done % parallel] > 0)
            job_finish(ofctl, tmp_dir, &jobs[done], pids[done % parallel]);
        done++;
    }
}
