/* A VM's data sources (VM.get_data_sources, query_data_source,
 * record_data_source) as XCP's rrdd names them — memory, memory_target
 * and cpuN, the share of a physical CPU each vCPU used — answered from
 * what domaind reads of the domain now (domain/stats), not from archives:
 * Xenia keeps no RRDs. Every answer also brings VM_metrics up to date.
 * A vCPU's use is measured over the time since the VM's previous reading
 * here (a first reading takes two, a fifth of a second apart), where
 * XCP averages over its five-second step. */
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

/* One data source and its reading. */
struct ds {
    char name[16];
    char description[48];
    const char *units;
    double min, max, value;
};

struct readings {
    struct ds v[2 + MAX_VCPUS];
    size_t n;
};

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

static void add_ds(struct readings *r, const char *name, const char *description, const char *units,
                   double min, double max, double value)
{
    struct ds *d = &r->v[r->n++];
    snprintf(d->name, sizeof(d->name), "%s", name);
    snprintf(d->description, sizeof(d->description), "%s", description);
    d->units = units;
    d->min = min;
    d->max = max;
    d->value = value;
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
static struct api_error *read_sources(const char *vm_ref, struct readings *ret)
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
    ret->n = 0;
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
    add_ds(ret, "memory", "Memory currently allocated to VM", "B", 0, max,
           num(st, "memory_actual"));
    add_ds(ret, "memory_target", "Target of VM balloon driver", "B", 0, max,
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
            add_ds(ret, name, description, "(fraction)", 0, 1, use < 0 ? 0 : use > 1 ? 1 : use);
        }
    }
    update_metrics(vm_ref, st, online);
    json_object_put(st);
    return NULL;
}

/* The reading named name, or NULL. */
static const struct ds *find(const struct readings *r, const char *name)
{
    for (size_t i = 0; i < r->n; i++)
        if (streq(r->v[i].name, name))
            return &r->v[i];
    return NULL;
}

/* What XCP's rrdd answers for a data source a VM does not have. */
static struct api_error *unknown_source(const char *name)
{
    return api_failf(INTERNAL_ERROR, "Rrd.Invalid_data_source(\"%s\")", name);
}

static struct api_error *get_data_sources(struct call *c)
{
    struct readings *r = xmalloc(sizeof(*r));
    struct api_error *e = read_sources(arg_str(c, 1), r);
    if (!e) {
        out_array_begin(c->out);
        for (size_t i = 0; i < r->n; i++) {
            const struct ds *d = &r->v[i];
            out_struct_begin(c->out);
            out_member(c->out, "name_label");
            out_string(c->out, d->name);
            out_member(c->out, "name_description");
            out_string(c->out, d->description);
            out_member(c->out, "enabled");
            out_bool(c->out, true);
            out_member(c->out, "standard");
            out_bool(c->out, true);
            out_member(c->out, "units");
            out_string(c->out, d->units);
            out_member(c->out, "min");
            out_double(c->out, d->min);
            out_member(c->out, "max");
            out_double(c->out, d->max);
            out_member(c->out, "value");
            out_double(c->out, d->value);
            out_struct_end(c->out);
        }
        out_array_end(c->out);
    }
    free(r);
    return e;
}

static struct api_error *query_data_source(struct call *c)
{
    struct readings *r = xmalloc(sizeof(*r));
    struct api_error *e = read_sources(arg_str(c, 1), r);
    if (!e) {
        const struct ds *d = find(r, arg_str(c, 2));
        if (d)
            out_double(c->out, d->value);
        else
            e = unknown_source(arg_str(c, 2));
    }
    free(r);
    return e;
}

/* Every source here is recorded already (XCP's standard ones are): asking
 * for one the VM has is done; another is the error a query gives. */
static struct api_error *record_data_source(struct call *c)
{
    struct readings *r = xmalloc(sizeof(*r));
    struct api_error *e = read_sources(arg_str(c, 1), r);
    if (!e && !find(r, arg_str(c, 2)))
        e = unknown_source(arg_str(c, 2));
    if (!e)
        out_void(c->out);
    free(r);
    return e;
}

void vm_datasources_register(void);
void vm_datasources_register(void)
{
    api_register(M_VM_get_data_sources, get_data_sources);
    api_register(M_VM_query_data_source, query_data_source);
    api_register(M_VM_record_data_source, record_data_source);
}
