/* Facts read from the running system for the host's records: memory,
 * CPUs, kernel and hypervisor versions. */
#pragma once

#include <stdint.h>

struct cpu_info {
    char vendor[64];
    char modelname[128];
    int family, model;
    char stepping[16];
    int speed_mhz;
    char *flags; /* owned */
};

struct sysinfo_host {
    int64_t mem_total; /* bytes */
    int64_t mem_free;  /* bytes */
    int n_cpus;
    struct cpu_info *cpus; /* n_cpus entries, owned */
    char kernel[128];      /* uname release */
    char xen_version[64];  /* "" when not running on Xen */
};

/* Reads /proc/meminfo, /proc/cpuinfo, uname and /sys/hypervisor. */
int sysinfo_read(struct sysinfo_host *ret);
void sysinfo_done(struct sysinfo_host *s);
