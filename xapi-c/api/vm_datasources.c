/* A VM's data sources (VM.get_data_sources, query_data_source,
 * record_data_source) as XCP's rrdd names them — memory, memory_target
 * and cpuN, the share of a physical CPU each vCPU used — answered from
 * what domaind reads of the domain now (domain/stats), not from archives:
 * Xenia keeps no RRDs. Every answer also brings VM_metrics up to date.
 * A vCPU's use is measured over the time since the VM's previous reading
 * here (a first reading takes two, a fifth of a second apart), where
 * XCP averages over its five-second step. forget_data_source_archives
 * forgets the VM's last reading. */
#include <inttypes.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "lib/hashmap.h"
#include "lib/util.h"
#include "xapi-c/api.h"
#include "xapi-c/datasources.h"
#include "xapi-c/db.h"
#include "xapi-c/domains.h"

/* The shortest time a vCPU's use is measured over. */
#define MIN_INTERVAL 0.2
/* Readings remembered, at most; past that they are all forgotten. */
#define MAX_SAMPLES 4096
#define MAX_VCPUS 128

/* One reading of a domain's vCPU times. */
struct sample {
    char uuid[40];
    int domid;
    double time;
    int n;
    double cpu[MAX_VCPUS];
};

static pthread_mutex_t samples_lock = PTHREAD_MUTEX_INITIALIZER;
static struct hashmap samples; /* VM uuid -> struct sample, the last reading */
static bool samples_ready;

static double num(json_object *o, const char *key)
{
    json_object *x;
    return json_object_object_get_ex(o, key, &x) ? json_object_get_double(x) : 0;
}

/* domaind's reading of the VM's domain. */
static struct api_error *read_stats(const char *vm, const char *uuid, json_object **ret)
{
    json_object *p = json_object_new_object();
    json_object_object_add(p, "uuid", json_object_new_string(uuid));
    struct api_error *e = domains_call(vm, "domain/stats", p, 30, ret);
    json_object_put(p);
    return e;
}

static void to_sample(json_object *st, const char *uuid, struct sample *s)
{
    json_object *vcpus, *v;
    memset(s, 0, sizeof(*s));
    snprintf(s->uuid, sizeof(s->uuid), "%s", uuid);
    s->domid = (int)num(st, "domid");
    s->time = num(st, "time");
    if (!json_object_object_get_ex(st, "vcpus", &vcpus) ||
        !json_object_is_type(vcpus, json_type_array))
        return;
    size_t n = json_object_array_length(vcpus);
    for (size_t i = 0; i < n && i < MAX_VCPUS; i++) {
        v = json_object_array_get_idx(vcpus, i);
        s->cpu[i] = num(v, "cpu_time");
        s->n = (int)i + 1;
    }
}

/* The last reading of uuid (copied into ret), if any; replaces it with
 * cur. */
static bool swap_sample(const struct sample *cur, struct sample *ret)
{
    bool found = false;
    pthread_mutex_lock(&samples_lock);
    if (!samples_ready) {
        hashmap_init(&samples);
        samples_ready = true;
    }
    struct sample *old = hashmap_get(&samples, cur->uuid);
    if (old) {
        *ret = *old;
        found = true;
    } else {
        if (samples.count >= MAX_SAMPLES) {
            size_t it = 0;
            const char *k;
            void *v;
            while (hashmap_next(&samples, &it, &k, &v))
                free(v);
            hashmap_done(&samples);
            hashmap_init(&samples);
        }
        old = xmalloc(sizeof(*old));
        *old = *cur;
        hashmap_put(&samples, old->uuid, old); /* the key lives in the value */
    }
    *old = *cur;
    pthread_mutex_unlock(&samples_lock);
    return found;
}

/* Records what the reading says in the VM's metrics. */
static void update_metrics(const char *vm, json_object *st, int online)
{
    char when[DATETIME_LEN], buf[32];
    struct changeset *cs = changeset_new();
    datetime_format(time(NULL), when);
    db_wrlock();
    const struct row *r = db_get(C_VM, vm);
    const struct row *m = r ? db_get(C_VM_metrics, r->v[FIDX(VM, metrics)]) : NULL;
    if (m) {
        snprintf(buf, sizeof(buf), "%" PRId64, (int64_t)num(st, "memory_actual"));
        changeset_set(cs, C_VM_metrics, m->ref, FIDX(VM_metrics, memory_actual), buf);
        snprintf(buf, sizeof(buf), "%d", online);
        changeset_set(cs, C_VM_metrics, m->ref, FIDX(VM_metrics, VCPUs_number), buf);
        changeset_set(cs, C_VM_metrics, m->ref, FIDX(VM_metrics, last_updated), when);
        db_apply(cs);
    }
    db_unlock();
    changeset_free(cs);
}

/* Reads the VM's data sources now. A VM without a domain has none. */
static struct api_error *read_sources(const char *vm_ref, struct ds_list *ret)
{
    char uuid[40] = "";
    int64_t static_max = 0;
    bool live = false;
    const struct row *vm = NULL;
    db_rdlock();
    struct api_error *e = api_lookup(C_VM, vm_ref, &vm);
    if (!e) {
        snprintf(uuid, sizeof(uuid), "%s", vm->v[FIDX(VM, uuid)]);
        static_max = strtoll(vm->v[FIDX(VM, memory_static_max)], NULL, 10);
        const char *ps = vm->v[FIDX(VM, power_state)];
        live = streq(ps, "Running") || streq(ps, "Paused");
    }
    db_unlock();
    if (e || !live)
        return e;

    json_object *st = NULL, *st0 = NULL;
    struct sample cur, prev;
    if ((e = read_stats(vm_ref, uuid, &st)))
        return e;
    to_sample(st, uuid, &cur);
    bool have = swap_sample(&cur, &prev) && prev.domid == cur.domid && prev.n == cur.n &&
                cur.time - prev.time >= MIN_INTERVAL;
    if (!have) { /* measure over an interval of its own */
        struct timespec ts = {0, (long)(MIN_INTERVAL * 1e9)};
        nanosleep(&ts, NULL);
        prev = cur;
        st0 = st;
        if ((e = read_stats(vm_ref, uuid, &st))) {
            json_object_put(st0);
            return e;
        }
        to_sample(st, uuid, &cur);
        swap_sample(&cur, &(struct sample){0});
        json_object_put(st0);
    }

    double max = static_max > 0 ? (double)static_max : INFINITY;
    ds_list_add(ret, "memory", "Memory currently allocated to VM", "B", 0, max,
                num(st, "memory_actual"));
    ds_list_add(ret, "memory_target", "Target of VM balloon driver", "B", 0, max,
                num(st, "memory_target"));
    json_object *vcpus, *v;
    int online = 0;
    if (json_object_object_get_ex(st, "vcpus", &vcpus) &&
        json_object_is_type(vcpus, json_type_array)) {
        double dt = cur.time - prev.time;
        for (int i = 0; i < cur.n; i++) {
            v = json_object_array_get_idx(vcpus, (size_t)i);
            json_object *on;
            if (!json_object_object_get_ex(v, "online", &on) || !json_object_get_boolean(on))
                continue;
            online++;
            double use = dt > 0 && prev.domid == cur.domid ? (cur.cpu[i] - prev.cpu[i]) / dt : 0;
            char name[16], description[48];
            snprintf(name, sizeof(name), "cpu%d", i);
            snprintf(description, sizeof(description), "CPU%d usage", i);
            ds_list_add(ret, name, description, "(fraction)", 0, 1,
                        use < 0   ? 0
                        : use > 1 ? 1
                                  : use);
        }
    }
    update_metrics(vm_ref, st, online);
    json_object_put(st);
    return NULL;
}

static struct api_error *get_data_sources(struct call *c)
{
    struct ds_list r = {0};
    struct api_error *e = read_sources(arg_str(c, 1), &r);
    if (!e)
        ds_write_records(c->out, &r);
    ds_list_done(&r);
    return e;
}

static struct api_error *query_data_source(struct call *c)
{
    struct ds_list r = {0};
    struct api_error *e = read_sources(arg_str(c, 1), &r);
    if (!e) {
        const struct ds *d = ds_list_find(&r, arg_str(c, 2));
        if (d)
            out_double(c->out, d->value);
        else
            e = ds_unknown(arg_str(c, 2));
    }
    ds_list_done(&r);
    return e;
}

/* Every source here is recorded already (XCP's standard ones are): asking
 * for one the VM has is done; another is the error a query gives. */
static struct api_error *record_data_source(struct call *c)
{
    struct ds_list r = {0};
    struct api_error *e = read_sources(arg_str(c, 1), &r);
    if (!e && !ds_list_find(&r, arg_str(c, 2)))
        e = ds_unknown(arg_str(c, 2));
    if (!e)
        out_void(c->out);
    ds_list_done(&r);
    return e;
}

/* XCP drops the source's archived RRD. Xenia keeps no archives: what it
 * keeps of a VM's sources is its last vCPU reading (the start of the next
 * cpuN rate), which goes, so the next reading measures afresh. A source
 * the VM does not have (memory, memory_target, cpuN below VCPUs_max) is
 * the error a query of it gives. */
static struct api_error *forget_data_source_archives(struct call *c)
{
    const struct row *vm = NULL;
    const char *name = arg_str(c, 2);
    char uuid[40] = "";
    int64_t vcpus = 0;
    db_rdlock();
    struct api_error *e = api_lookup(C_VM, arg_str(c, 1), &vm);
    if (!e) {
        snprintf(uuid, sizeof(uuid), "%s", vm->v[FIDX(VM, uuid)]);
        vcpus = strtoll(vm->v[FIDX(VM, VCPUs_max)], NULL, 10);
    }
    db_unlock();
    if (e)
        return e;
    char *end = NULL;
    long n = strncmp(name, "cpu", 3) == 0 && name[3] >= '0' && name[3] <= '9'
                 ? strtol(name + 3, &end, 10)
                 : -1;
    bool known = streq(name, "memory") || streq(name, "memory_target") ||
                 (n >= 0 && end && !*end && n < vcpus && n < MAX_VCPUS);
    if (!known)
        return ds_unknown(name);
    pthread_mutex_lock(&samples_lock);
    if (samples_ready)
        free(hashmap_remove(&samples, uuid));
    pthread_mutex_unlock(&samples_lock);
    out_void(c->out);
    return NULL;
}

void vm_datasources_register(void);
void vm_datasources_register(void)
{
    api_register(M_VM_forget_data_source_archives, forget_data_source_archives);
    api_register(M_VM_get_data_sources, get_data_sources);
    api_register(M_VM_query_data_source, query_data_source);
    api_register(M_VM_record_data_source, record_data_source);
}
