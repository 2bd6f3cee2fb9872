/* What every backend shares (see backend.h): the error table and the
 * domain enumerations with their wire names, the domain configuration and
 * record with their JSON forms, and the events/watch wait built on a
 * backend's changes operation and its generation counter. */
#include "hypervisor/backend.h"

#include <assert.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/cleanup.h"
#include "lib/log.h"
#include "lib/strbuf.h"
#include "lib/util.h"

LOG_MODULE("backend");

static const struct {
    const char *name;
    size_t n_params;
} errors[DM_ERR__COUNT] = {[DM_ERR_INVALID_PARAMS] = {"INVALID_PARAMS", 1},
#define DM_ERR_ROW_(name, n) [DM_ERR_##name] = {#name, n},
                           DM_ERRORS(DM_ERR_ROW_)
#undef DM_ERR_ROW_
};

const char *dm_error_name(enum dm_err code)
{
    assert(code < DM_ERR__COUNT);
    return errors[code].name;
}

struct dm_error *dm_error_new_(enum dm_err code, ...)
{
    struct dm_error *e = xcalloc(1, sizeof(*e));
    va_list ap;

    assert(code < DM_ERR__COUNT);
    e->code = code;
    va_start(ap, code);
    for (const char *p; (p = va_arg(ap, const char *));) {
        assert(e->n_params < DM_ERROR_MAX_PARAMS);
        e->params[e->n_params++] = xstrdup(p);
    }
    va_end(ap);
    assert(e->n_params == errors[code].n_params);
    return e;
}

struct dm_error *dm_failf(enum dm_err code, const char *fmt, ...)
{
    struct dm_error *e = xcalloc(1, sizeof(*e));
    struct strbuf sb;
    va_list ap;

    assert(errors[code].n_params == 1);
    strbuf_init(&sb, 64);
    va_start(ap, fmt);
    strbuf_vaddf(&sb, fmt, ap);
    va_end(ap);
    e->code = code;
    e->params[0] = strbuf_detach(&sb, NULL);
    e->n_params = 1;
    return e;
}

struct dm_error *dm_fail_state(const struct dm_domain *d, enum dm_state expected)
{
    return dm_fail(DM_ERR_BAD_STATE, d->uuid, dm_state_name(expected), dm_state_name(d->state));
}

struct dm_error *dm_fail_memory(int64_t needed, int64_t free_bytes)
{
    char n[24], f[24];

    snprintf(n, sizeof(n), "%lld", (long long)needed);
    snprintf(f, sizeof(f), "%lld", (long long)(free_bytes > 0 ? free_bytes : 0));
    return dm_fail(DM_ERR_NOT_ENOUGH_MEMORY, n, f);
}

struct dm_error *dm_fail_vcpus(int asked, int available)
{
    char a[16], v[16];

    snprintf(a, sizeof(a), "%d", asked);
    snprintf(v, sizeof(v), "%d", available);
    return dm_fail(DM_ERR_TOO_MANY_VCPUS, a, v);
}

void dm_error_free(struct dm_error *e)
{
    if (!e)
        return;
    for (size_t i = 0; i < e->n_params; i++)
        free(e->params[i]);
    free(e);
}

#define DM_NAME_(name, text) text,
static const char *const type_names[] = {DM_TYPES(DM_NAME_)};
static const char *const state_names[] = {DM_STATES(DM_NAME_)};
static const char *const reason_names[] = {DM_REASONS(DM_NAME_)};
#undef DM_NAME_

static int name_index(const char *const *names, int n, const char *s)
{
    for (int i = 0; i < n; i++)
        if (names[i] && s && streq(names[i], s))
            return i;
    return -1;
}

const char *dm_type_name(enum dm_type t)
{
    assert(t < DM_TYPE__COUNT);
    return type_names[t];
}

const char *dm_state_name(enum dm_state s)
{
    assert(s < DM_STATE__COUNT);
    return state_names[s];
}

const char *dm_reason_name(enum dm_reason r)
{
    assert(r < DM_REASON__COUNT);
    return reason_names[r];
}

int dm_type_from_name(const char *s)
{
    return name_index(type_names, DM_TYPE__COUNT, s);
}

int dm_state_from_name(const char *s)
{
    return name_index(state_names, DM_STATE__COUNT, s);
}

int dm_reason_from_name(const char *s)
{
    return name_index(reason_names, DM_REASON__COUNT, s);
}

/* The optional string members of a configuration, declared once. */
#define DM_CONFIG_STRINGS(X)                                                                       \
    X(kernel) X(ramdisk) X(cmdline) X(bootloader) X(bootloader_args) X(boot_order)

static struct dm_error *get_int(json_object *o, const char *name, int64_t min, int64_t max,
                                int64_t *ret)
{
    json_object *v;

    if (!json_object_object_get_ex(o, name, &v) || !json_object_is_type(v, json_type_int))
        return dm_failf(DM_ERR_INVALID_PARAMS, "%s: an integer is required", name);
    int64_t x = json_object_get_int64(v);
    if (x < min || x > max)
        return dm_failf(DM_ERR_INVALID_PARAMS, "%s: %lld is not in %lld..%lld", name, (long long)x,
                        (long long)min, (long long)max);
    *ret = x;
    return NULL;
}

/* An optional member of type t: NULL when absent or null. */
static struct dm_error *get_opt(json_object *o, const char *name, json_type t, json_object **ret)
{
    json_object *v = NULL;

    if (json_object_object_get_ex(o, name, &v) && v && !json_object_is_type(v, t))
        return dm_failf(DM_ERR_INVALID_PARAMS, "%s: %s expected", name, json_type_to_name(t));
    *ret = v;
    return NULL;
}

/* The most vCPUs and bytes a domain may be given: Xen's limits, far above
 * any host's. */
#define DM_MAX_VCPUS 4096
#define DM_MAX_MEMORY ((int64_t)1 << 50)

struct dm_error *dm_config_from_json(json_object *o, struct dm_config *ret)
{
    struct dm_config c = {0};
    struct dm_error *e;
    json_object *v;
    int64_t x;
    int t;

    if (!o || !json_object_is_type(o, json_type_object))
        return dm_failf(DM_ERR_INVALID_PARAMS, "the configuration is not an object");
    if ((e = get_opt(o, "name", json_type_string, &v)))
        return e;
    if (!v)
        return dm_failf(DM_ERR_INVALID_PARAMS, "name: a string is required");
    if ((e = get_opt(o, "type", json_type_string, &v)))
        return e;
    if (!v || (t = dm_type_from_name(json_object_get_string(v))) < 0)
        return dm_failf(DM_ERR_INVALID_PARAMS, "type: pv, pvh or hvm expected");
    c.type = t;
    if ((e = get_int(o, "memory_max", 1, DM_MAX_MEMORY, &c.memory_max)) ||
        (e = get_int(o, "memory_target", 1, c.memory_max, &c.memory_target)))
        return e;
    if ((e = get_int(o, "vcpus_max", 1, DM_MAX_VCPUS, &x)))
        return e;
    c.vcpus_max = (int)x;
    if ((e = get_int(o, "vcpus", 1, c.vcpus_max, &x)))
        return e;
    c.vcpus = (int)x;

    /* Everything is checked before anything is owned. */
#define DM_CHECK_STRING_(m)                                                                        \
    if ((e = get_opt(o, #m, json_type_string, &v)))                                                \
        return e;
    DM_CONFIG_STRINGS(DM_CHECK_STRING_)
#undef DM_CHECK_STRING_
    json_object *platform, *disks, *nics;
    if ((e = get_opt(o, "platform", json_type_object, &platform)) ||
        (e = get_opt(o, "disks", json_type_array, &disks)) ||
        (e = get_opt(o, "nics", json_type_array, &nics)))
        return e;

    json_object_object_get_ex(o, "name", &v);
    c.name = xstrdup(json_object_get_string(v));
#define DM_TAKE_STRING_(m)                                                                         \
    if (json_object_object_get_ex(o, #m, &v) && v)                                                 \
        c.m = xstrdup(json_object_get_string(v));
    DM_CONFIG_STRINGS(DM_TAKE_STRING_)
#undef DM_TAKE_STRING_
    c.platform = platform ? json_object_get(platform) : NULL;
    c.disks = disks ? json_object_get(disks) : NULL;
    c.nics = nics ? json_object_get(nics) : NULL;
    *ret = c;
    return NULL;
}

void dm_config_to_json(const struct dm_config *c, json_object *o)
{
    json_object_object_add(o, "name", json_object_new_string(c->name ? c->name : ""));
    json_object_object_add(o, "type", json_object_new_string(dm_type_name(c->type)));
    json_object_object_add(o, "memory_max", json_object_new_int64(c->memory_max));
    json_object_object_add(o, "memory_target", json_object_new_int64(c->memory_target));
    json_object_object_add(o, "vcpus_max", json_object_new_int(c->vcpus_max));
    json_object_object_add(o, "vcpus", json_object_new_int(c->vcpus));
#define DM_ADD_STRING_(m)                                                                          \
    if (c->m)                                                                                      \
        json_object_object_add(o, #m, json_object_new_string(c->m));
    DM_CONFIG_STRINGS(DM_ADD_STRING_)
#undef DM_ADD_STRING_
    if (c->platform)
        json_object_object_add(o, "platform", json_object_get(c->platform));
    if (c->disks)
        json_object_object_add(o, "disks", json_object_get(c->disks));
    if (c->nics)
        json_object_object_add(o, "nics", json_object_get(c->nics));
}

static char *strdup_or_null(const char *s)
{
    return s ? xstrdup(s) : NULL;
}

void dm_config_copy(struct dm_config *dst, const struct dm_config *src)
{
    *dst = *src;
    dst->name = strdup_or_null(src->name);
#define DM_COPY_STRING_(m) dst->m = strdup_or_null(src->m);
    DM_CONFIG_STRINGS(DM_COPY_STRING_)
#undef DM_COPY_STRING_
    dst->platform = src->platform ? json_object_get(src->platform) : NULL;
    dst->disks = src->disks ? json_object_get(src->disks) : NULL;
    dst->nics = src->nics ? json_object_get(src->nics) : NULL;
}

void dm_config_done(struct dm_config *c)
{
    free(c->name);
#define DM_FREE_STRING_(m) free(c->m);
    DM_CONFIG_STRINGS(DM_FREE_STRING_)
#undef DM_FREE_STRING_
    json_object_put(c->platform);
    json_object_put(c->disks);
    json_object_put(c->nics);
    *c = (struct dm_config){0};
}

/* ---- disks ---- */

/* xvd, hd or sd, then one to three letters: the virtual device names
 * libxl takes for whole disks. */
static bool device_valid(const char *s)
{
    size_t p = strncmp(s, "xvd", 3) == 0                                ? 3
               : (strncmp(s, "hd", 2) == 0 || strncmp(s, "sd", 2) == 0) ? 2
                                                                        : 0;
    size_t n = strlen(s + p);

    if (p == 0 || n < 1 || n > 3)
        return false;
    for (size_t i = p; s[i]; i++)
        if (s[i] < 'a' || s[i] > 'z')
            return false;
    return true;
}

struct dm_error *dm_member(json_object *o, const char *label, const char *key, json_type t,
                           json_object **ret)
{
    json_object *v = NULL;

    if (json_object_object_get_ex(o, key, &v) && v && !json_object_is_type(v, t))
        return dm_failf(DM_ERR_INVALID_PARAMS, "%s.%s: %s expected", label, key,
                        json_type_to_name(t));
    *ret = v;
    return NULL;
}

struct dm_error *dm_disk_from_json(json_object *o, const char *label, struct dm_disk *ret)
{
    static const char *const allowed[] = {"device",    "target", "format", "backend",
                                          "readwrite", "cdrom",  NULL};
    json_object *device, *target, *format, *backend, *rw, *cdrom;
    struct dm_disk d = {0};
    struct dm_error *e;

    if (!o || !json_object_is_type(o, json_type_object))
        return dm_failf(DM_ERR_INVALID_PARAMS, "%s: an object expected", label);
    json_object_object_foreach(o, key, val)
    {
        (void)val;
        bool known = false;
        for (const char *const *a = allowed; *a && !known; a++)
            known = streq(*a, key);
        if (!known)
            return dm_failf(DM_ERR_INVALID_PARAMS, "%s.%s: unknown member", label, key);
    }
    if ((e = dm_member(o, label, "device", json_type_string, &device)) ||
        (e = dm_member(o, label, "target", json_type_string, &target)) ||
        (e = dm_member(o, label, "format", json_type_string, &format)) ||
        (e = dm_member(o, label, "backend", json_type_string, &backend)) ||
        (e = dm_member(o, label, "readwrite", json_type_boolean, &rw)) ||
        (e = dm_member(o, label, "cdrom", json_type_boolean, &cdrom)))
        return e;
    if (!device || !device_valid(json_object_get_string(device)))
        return dm_failf(DM_ERR_INVALID_PARAMS, "%s.device: xvdX, hdX or sdX expected", label);

    const char *fmt = format ? json_object_get_string(format) : "raw";
    if (streq(fmt, "raw"))
        d.format = DM_DISK_RAW;
    else if (streq(fmt, "qcow2"))
        d.format = DM_DISK_QCOW2;
    else if (streq(fmt, "iso"))
        d.format = DM_DISK_ISO;
    else
        return dm_failf(DM_ERR_INVALID_PARAMS, "%s.format: raw, qcow2 or iso expected", label);
    d.cdrom = cdrom ? json_object_get_boolean(cdrom) : d.format == DM_DISK_ISO;
    d.readwrite = rw ? json_object_get_boolean(rw) : !d.cdrom;
    const char *path = target ? json_object_get_string(target) : "";
    if (d.cdrom && d.readwrite)
        return dm_failf(DM_ERR_INVALID_PARAMS, "%s.readwrite: a cdrom is read-only", label);
    if (!*path && !d.cdrom)
        return dm_failf(DM_ERR_INVALID_PARAMS,
                        "%s.target: a path is required (only a cdrom may be empty)", label);
    if (*path && path[0] != '/')
        return dm_failf(DM_ERR_INVALID_PARAMS, "%s.target: an absolute path expected", label);

    /* A block device goes to blkback; an image file to QEMU's qdisk. */
    bool raw = d.format != DM_DISK_QCOW2;
    const char *be = backend                                 ? json_object_get_string(backend)
                     : raw && strncmp(path, "/dev/", 5) == 0 ? "phy"
                                                             : "qdisk";
    if (streq(be, "phy"))
        d.backend = DM_DISK_PHY;
    else if (streq(be, "qdisk"))
        d.backend = DM_DISK_QDISK;
    else
        return dm_failf(DM_ERR_INVALID_PARAMS, "%s.backend: qdisk or phy expected", label);
    if (d.backend == DM_DISK_PHY && !raw)
        return dm_failf(DM_ERR_INVALID_PARAMS,
                        "%s.backend: phy takes raw data; a qcow2 image needs qdisk", label);
    if (d.backend == DM_DISK_PHY && !*path)
        return dm_failf(DM_ERR_INVALID_PARAMS, "%s.backend: an empty cdrom needs qdisk", label);

    snprintf(d.device, sizeof(d.device), "%s", json_object_get_string(device));
    d.target = xstrdup(path);
    *ret = d;
    return NULL;
}

void dm_disk_done(struct dm_disk *d)
{
    free(d->target);
    d->target = NULL;
}

json_object *dm_disks_find(json_object *disks, const char *device)
{
    size_t n =
        disks && json_object_is_type(disks, json_type_array) ? json_object_array_length(disks) : 0;

    for (size_t i = 0; i < n; i++) {
        json_object *d = json_object_array_get_idx(disks, i), *v;
        if (json_object_object_get_ex(d, "device", &v) &&
            json_object_is_type(v, json_type_string) && streq(json_object_get_string(v), device))
            return d;
    }
    return NULL;
}

struct dm_error *dm_disk_new_media(json_object *disk, const char *target, const char *format,
                                   json_object **ret)
{
    struct dm_disk d;
    json_object *n = NULL;
    struct dm_error *e;

    if ((e = dm_disk_from_json(disk, "disk", &d)))
        return e;
    bool cdrom = d.cdrom;
    dm_disk_done(&d);
    if (!cdrom)
        return dm_failf(DM_ERR_INVALID_PARAMS, "device: not a cdrom");
    if (*target && target[0] != '/')
        return dm_failf(DM_ERR_INVALID_PARAMS, "target: an absolute path expected");
    if (json_object_deep_copy(disk, &n, NULL) < 0 || !n)
        return dm_failf(DM_ERR_BACKEND_FAILURE, "cannot copy the disk");
    /* The backend follows the new medium: its default is recomputed. */
    json_object_object_del(n, "backend");
    json_object_object_add(n, "target", json_object_new_string(target));
    json_object_object_add(n, "cdrom", json_object_new_boolean(true));
    json_object_object_add(n, "readwrite", json_object_new_boolean(false));
    if (format)
        json_object_object_add(n, "format", json_object_new_string(format));
    if ((e = dm_disk_from_json(n, "disk", &d))) {
        json_object_put(n);
        return e;
    }
    dm_disk_done(&d);
    *ret = n;
    return NULL;
}

json_object *dm_disks_replace(json_object *disks, json_object *which, json_object *with)
{
    size_t n =
        disks && json_object_is_type(disks, json_type_array) ? json_object_array_length(disks) : 0;
    json_object *a = json_object_new_array_ext((int)n + 1);

    for (size_t i = 0; i < n; i++) {
        json_object *d = json_object_array_get_idx(disks, i);
        if (d != which)
            json_object_array_add(a, json_object_get(d));
        else if (with)
            json_object_array_add(a, json_object_get(with));
    }
    if (!which && with)
        json_object_array_add(a, json_object_get(with));
    return a;
}

void dm_domain_copy(struct dm_domain *dst, const struct dm_domain *src)
{
    *dst = *src;
    dm_config_copy(&dst->cfg, &src->cfg);
}

void dm_domain_done(struct dm_domain *d)
{
    dm_config_done(&d->cfg);
}

json_object *dm_domain_to_json(const struct dm_domain *d)
{
    json_object *o = json_object_new_object();
    const char *reason = dm_reason_name(d->shutdown_reason);

    json_object_object_add(o, "uuid", json_object_new_string(d->uuid));
    json_object_object_add(o, "domid", json_object_new_int(d->domid));
    json_object_object_add(o, "name", json_object_new_string(d->cfg.name ? d->cfg.name : ""));
    json_object_object_add(o, "type", json_object_new_string(dm_type_name(d->cfg.type)));
    json_object_object_add(o, "state", json_object_new_string(dm_state_name(d->state)));
    json_object_object_add(o, "shutdown_reason", reason ? json_object_new_string(reason) : NULL);
    json_object_object_add(o, "memory_max", json_object_new_int64(d->cfg.memory_max));
    json_object_object_add(o, "memory_target", json_object_new_int64(d->cfg.memory_target));
    json_object_object_add(o, "memory_actual", json_object_new_int64(d->memory_actual));
    json_object_object_add(o, "vcpus_max", json_object_new_int(d->cfg.vcpus_max));
    json_object_object_add(o, "vcpus", json_object_new_int(d->cfg.vcpus));
    json_object_object_add(o, "start_time", json_object_new_double(d->start_time));
    return o;
}

void dm_stats_done(struct dm_stats *s)
{
    free(s->vcpus);
    s->vcpus = NULL;
    s->n_vcpus = 0;
}

json_object *dm_stats_to_json(const char *uuid, const struct dm_stats *s)
{
    json_object *o = json_object_new_object(), *a = json_object_new_array();

    json_object_object_add(o, "uuid", json_object_new_string(uuid));
    json_object_object_add(o, "domid", json_object_new_int(s->domid));
    json_object_object_add(o, "time", json_object_new_double(s->time));
    json_object_object_add(o, "cpu_time", json_object_new_double(s->cpu_time));
    json_object_object_add(o, "memory_actual", json_object_new_int64(s->memory_actual));
    json_object_object_add(o, "memory_target", json_object_new_int64(s->memory_target));
    for (int i = 0; i < s->n_vcpus; i++) {
        json_object *v = json_object_new_object();
        json_object_object_add(v, "id", json_object_new_int(i));
        json_object_object_add(v, "online", json_object_new_boolean(s->vcpus[i].online));
        json_object_object_add(v, "cpu_time", json_object_new_double(s->vcpus[i].cpu_time));
        json_object_array_add(a, v);
    }
    json_object_object_add(o, "vcpus", a);
    return o;
}

void dm_domain_list_done(struct dm_domain_list *l)
{
    for (size_t i = 0; i < l->n; i++)
        dm_domain_done(&l->v[i]);
    free(l->v);
    l->v = NULL;
    l->n = 0;
}

struct dm_error *backend_watch(struct backend *b, uint64_t since, double timeout,
                               uint64_t *ret_generation, bool *ret_full, struct dm_domain_list *ret)
{
    double deadline = now_monotonic() + timeout;

    for (;;) {
        struct dm_domain_list l = {0};
        uint64_t g;
        bool full;
        struct dm_error *e = b->ops->changes(b, since, &g, &full, &l);
        if (e)
            return e;
        /* A full answer is news even when empty: it says there is no
         * domain. The generation was read under the backend's lock with the
         * list, so a change after it makes events_wait return at once. */
        if (full || l.n > 0 || now_monotonic() >= deadline || events_stopping(&b->events) ||
            !events_wait(&b->events, g, deadline)) {
            if (!full && l.n == 0)
                log_debug("watch since %llu: nothing until generation %llu",
                          (unsigned long long)since, (unsigned long long)g);
            *ret_generation = g;
            *ret_full = full;
            *ret = l;
            return NULL;
        }
        dm_domain_list_done(&l);
    }
}
