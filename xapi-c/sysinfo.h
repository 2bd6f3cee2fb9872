/* Facts read from the running system for the host's records and data
 * sources: memory, CPUs, kernel and hypervisor versions, the CPUs' time
 * and the load average. */
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

#define SYSINFO_MAX_CPUS 512

/* Jiffies each CPU the kernel shows spent busy (all but idle and iowait)
 * and in all, from /proc/stat (in dom0: dom0's vCPUs). */
struct sysinfo_cpu_times {
    int n;
    unsigned long long busy[SYSINFO_MAX_CPUS], total[SYSINFO_MAX_CPUS];
};

/* Reads /proc/stat; 0, or -errno when it cannot be read. */
int sysinfo_cpu_times(struct sysinfo_cpu_times *ret);
/* The one-minute load average of /proc/loadavg (0 if unreadable). */
double sysinfo_loadavg(void);
