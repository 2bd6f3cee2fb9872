/* The host's data sources (host.get_data_sources, query_data_source,
 * record_data_source, forget_data_source_archives) under XCP's rrdd names:
 * memory_total_kib and memory_free_kib as the hypervisor has them
 * (domaind's host/info), loadavg, and cpu<N> and cpu_avg, the busy share of
 * each CPU that /proc/stat shows (dom0's CPUs: on Xen these are dom0's
 * vCPUs, not the physical CPUs rrdd reads from Xen). A CPU's use is
 * measured since the previous reading here (a first reading takes two, a
 * fifth of a second apart). Xenia keeps no archives: each answer is a
 * reading taken now, recording is always on, and there is nothing to
 * forget. */
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "lib/util.h"
#include "xapi-c/api.h"
#include "xapi-c/config.h"
#include "xapi-c/datasources.h"
#include "xapi-c/db.h"
#include "xapi-c/domains.h"
#include "xapi-c/sysinfo.h"

/* The shortest time a CPU's use is measured over. */
#define MIN_INTERVAL 0.2

/* One reading of the CPUs' times. */
struct cpu_sample {
    double time;
    struct sysinfo_cpu_times t;
};

static pthread_mutex_t sample_lock = PTHREAD_MUTEX_INITIALIZER;
static struct cpu_sample last; /* last.time 0: none yet */

static void read_cpus(struct cpu_sample *s)
{
    s->time = now_monotonic();
    if (sysinfo_cpu_times(&s->t) < 0)
        s->t.n = 0;
}

/* This reading and the one the use is measured from. */
static void cpu_readings(struct cpu_sample *cur, struct cpu_sample *prev)
{
    pthread_mutex_lock(&sample_lock);
    *prev = last;
    pthread_mutex_unlock(&sample_lock);
    read_cpus(cur);
    if (prev->time == 0 || prev->t.n != cur->t.n || cur->time - prev->time < MIN_INTERVAL) {
        struct timespec ts = {0, (long)(MIN_INTERVAL * 1e9)};
        *prev = *cur;
        nanosleep(&ts, NULL);
        read_cpus(cur);
    }
    pthread_mutex_lock(&sample_lock);
    last = *cur;
    pthread_mutex_unlock(&sample_lock);
}

static double num(json_object *o, const char *key)
{
    json_object *x;
    return json_object_object_get_ex(o, key, &x) ? json_object_get_double(x) : 0;
}

/* Reads the data sources of host (this host: another one's are its own
 * to read). */
static struct api_error *read_sources(const char *host, struct ds_list *ret)
{
    const struct row *h = NULL;
    json_object *info = NULL;
    db_rdlock();
    struct api_error *e = api_lookup(C_host, host, &h);
    if (!e && !streq(host, xapi_state.host_ref))
        e = api_fail(HOST_OFFLINE, host);
    db_unlock();
    if (e || (e = domains_call("", "host/info", NULL, 30, &info)))
        return e;
    struct cpu_sample *cur = xmalloc(sizeof(*cur)), *prev = xmalloc(sizeof(*prev));
    cpu_readings(cur, prev);

    double total_kib = num(info, "total_memory") / 1024, free_kib = num(info, "free_memory") / 1024;
    ds_list_add(ret, "memory_total_kib", "Total amount of memory for the host", "KiB", 0, INFINITY,
                total_kib);
    ds_list_add(ret, "memory_free_kib", "Total amount of free memory", "KiB", 0, INFINITY,
                free_kib);
    double sum = 0;
    for (int i = 0; i < cur->t.n; i++) {
        unsigned long long dt = cur->t.total[i] - prev->t.total[i];
        double use = dt ? (double)(cur->t.busy[i] - prev->t.busy[i]) / (double)dt : 0;
        use = use < 0 ? 0 : use > 1 ? 1 : use;
        char name[16], description[48];
        snprintf(name, sizeof(name), "cpu%d", i);
        snprintf(description, sizeof(description), "Physical cpu usage for cpu %d", i);
        ds_list_add(ret, name, description, "(fraction)", 0, 1, use);
        sum += use;
    }
    ds_list_add(ret, "cpu_avg", "Average physical cpu usage", "(fraction)", 0, 1,
                cur->t.n ? sum / cur->t.n : 0);
    ds_list_add(ret, "loadavg", "Domain0 loadavg", "", 0, INFINITY, sysinfo_loadavg());
    free(cur);
    free(prev);
    json_object_put(info);
    return NULL;
}

static struct api_error *get_data_sources(struct call *c)
{
    struct ds_list l = {0};
    struct api_error *e = read_sources(arg_str(c, 1), &l);
    if (!e)
        ds_write_records(c->out, &l);
    ds_list_done(&l);
    return e;
}

static struct api_error *query_data_source(struct call *c)
{
    struct ds_list l = {0};
    struct api_error *e = read_sources(arg_str(c, 1), &l);
    if (!e) {
        const struct ds *d = ds_list_find(&l, arg_str(c, 2));
        if (d)
            out_double(c->out, d->value);
        else
            e = ds_unknown(arg_str(c, 2));
    }
    ds_list_done(&l);
    return e;
}

/* Recording a source the host has is done already (every one is
 * recorded); forgetting its archives is done too (there are none). A
 * source the host does not have is the error a query gives. */
static struct api_error *known_source(struct call *c)
{
    struct ds_list l = {0};
    struct api_error *e = read_sources(arg_str(c, 1), &l);
    if (!e && !ds_list_find(&l, arg_str(c, 2)))
        e = ds_unknown(arg_str(c, 2));
    if (!e)
        out_void(c->out);
    ds_list_done(&l);
    return e;
}

void host_datasources_register(void);
void host_datasources_register(void)
{
    api_register(M_host_get_data_sources, get_data_sources);
    api_register(M_host_query_data_source, query_data_source);
    api_register(M_host_record_data_source, known_source);
    api_register(M_host_forget_data_source_archives, known_source);
}
