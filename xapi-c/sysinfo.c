/* Reads the host's memory, CPUs, versions, CPU times and load from /proc
 * and /sys (see sysinfo.h). */
#include "sysinfo.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/utsname.h>
#include <unistd.h>

#include "lib/file.h"
#include "lib/util.h"

static int64_t meminfo_kb(const char *key)
{
    FILE *f = fopen("/proc/meminfo", "re");
    char line[256];
    int64_t v = -1;
    size_t n = strlen(key);
    if (!f)
        return -1;
    while (fgets(line, sizeof(line), f))
        if (strncmp(line, key, n) == 0 && line[n] == ':') {
            v = strtoll(line + n + 1, NULL, 10);
            break;
        }
    fclose(f);
    return v;
}

static const char *value_of(char *line)
{
    char *colon = strchr(line, ':');
    if (!colon)
        return "";
    colon++;
    while (*colon == ' ' || *colon == '\t')
        colon++;
    colon[strcspn(colon, "\n")] = '\0';
    return colon;
}

int sysinfo_read(struct sysinfo_host *s)
{
    struct utsname u;
    memset(s, 0, sizeof(*s));
    s->mem_total = meminfo_kb("MemTotal") * 1024;
    s->mem_free = meminfo_kb("MemAvailable") * 1024;
    if (uname(&u) == 0)
        snprintf(s->kernel, sizeof(s->kernel), "%s", u.release);

    char type[32], major[16], minor[16], extra[32];
    read_first_line("/sys/hypervisor/type", type, sizeof(type));
    if (streq(type, "xen")) {
        read_first_line("/sys/hypervisor/version/major", major, sizeof(major));
        read_first_line("/sys/hypervisor/version/minor", minor, sizeof(minor));
        read_first_line("/sys/hypervisor/version/extra", extra, sizeof(extra));
        snprintf(s->xen_version, sizeof(s->xen_version), "%s.%s%s", major, minor, extra);
    }

    FILE *f = fopen("/proc/cpuinfo", "re");
    if (f) {
        char *line = NULL;
        size_t cap = 0;
        struct cpu_info *cur = NULL;
        while (getline(&line, &cap, f) > 0) {
            if (strncmp(line, "processor", 9) == 0) {
                s->cpus = xrealloc(s->cpus, (size_t)(s->n_cpus + 1) * sizeof(*s->cpus));
                cur = &s->cpus[s->n_cpus++];
                memset(cur, 0, sizeof(*cur));
            } else if (!cur)
                continue;
            else if (strncmp(line, "vendor_id", 9) == 0)
                snprintf(cur->vendor, sizeof(cur->vendor), "%s", value_of(line));
            else if (strncmp(line, "model name", 10) == 0)
                snprintf(cur->modelname, sizeof(cur->modelname), "%s", value_of(line));
            else if (strncmp(line, "cpu family", 10) == 0)
                cur->family = atoi(value_of(line));
            else if (strncmp(line, "model\t", 6) == 0)
                cur->model = atoi(value_of(line));
            else if (strncmp(line, "stepping", 8) == 0)
                snprintf(cur->stepping, sizeof(cur->stepping), "%s", value_of(line));
            else if (strncmp(line, "cpu MHz", 7) == 0)
                cur->speed_mhz = (int)strtod(value_of(line), NULL);
            else if (strncmp(line, "flags", 5) == 0 && !cur->flags)
                cur->flags = xstrdup(value_of(line));
        }
        free(line);
        fclose(f);
    }
    if (s->n_cpus == 0) { /* no /proc/cpuinfo details (some architectures) */
        long n = sysconf(_SC_NPROCESSORS_ONLN);
        s->n_cpus = n > 0 ? (int)n : 1;
        s->cpus = xcalloc((size_t)s->n_cpus, sizeof(*s->cpus));
    }
    return s->mem_total > 0 ? 0 : -EIO;
}

void sysinfo_done(struct sysinfo_host *s)
{
    for (int i = 0; i < s->n_cpus; i++)
        free(s->cpus[i].flags);
    free(s->cpus);
    s->cpus = NULL;
}

int sysinfo_cpu_times(struct sysinfo_cpu_times *ret)
{
    FILE *f = fopen("/proc/stat", "re");
    char line[512];
    ret->n = 0;
    if (!f)
        return -errno;
    while (fgets(line, sizeof(line), f) && ret->n < SYSINFO_MAX_CPUS) {
        unsigned long long v[8] = {0}, total = 0;
        int cpu;
        if (strncmp(line, "cpu", 3) != 0 || line[3] < '0' || line[3] > '9')
            continue;
        if (sscanf(line, "cpu%d %llu %llu %llu %llu %llu %llu %llu %llu", &cpu, &v[0], &v[1], &v[2],
                   &v[3], &v[4], &v[5], &v[6], &v[7]) < 5)
            continue;
        for (int i = 0; i < 8; i++)
            total += v[i];
        ret->busy[ret->n] = total - v[3] - v[4]; /* less idle and iowait */
        ret->total[ret->n] = total;
        ret->n++;
    }
    fclose(f);
    return 0;
}

double sysinfo_loadavg(void)
{
    FILE *f = fopen("/proc/loadavg", "re");
    double v = 0;
    if (f) {
        if (fscanf(f, "%lf", &v) != 1)
            v = 0;
        fclose(f);
    }
    return v;
}
