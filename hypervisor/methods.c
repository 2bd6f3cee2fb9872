/* The JSON-RPC methods of domaind (see methods.h and README.md). lib/jsonrpc
 * has checked each request's parameter types against the table below, so
 * a handler reads its parameters, checks what the types cannot say (a
 * UUID, a range), calls the backend, and returns the result or the
 * backend's error as a JSON-RPC error. Handlers may block: each connection
 * has its own thread. */
#include "hypervisor/methods.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hypervisor/hostctl.h"
#include "hypervisor/nic.h"
#include "lib/cleanup.h"
#include "lib/log.h"
#include "lib/util.h"

LOG_MODULE("methods");

#define DEFAULT_SHUTDOWN_TIMEOUT 60.0
#define DEFAULT_WATCH_TIMEOUT 30.0

static struct jsonrpc_error *to_jsonrpc(struct dm_error *e)
{
    struct jsonrpc_error *je;

    if (e->code == DM_ERR_INVALID_PARAMS)
        je = jsonrpc_error_new(JSONRPC_INVALID_PARAMS, "%s", e->params[0]);
    else
        /* Unused slots are NULL, so the list ends after the last one. */
        je = jsonrpc_app_error(dm_error_name(e->code), e->params[0], e->params[1], e->params[2]);
    dm_error_free(e);
    return je;
}

struct jsonrpc_error *domaind_error_to_jsonrpc(struct dm_error *e)
{
    return to_jsonrpc(e);
}

static json_object *member(json_object *params, const char *name)
{
    json_object *v = NULL;
    json_object_object_get_ex(params, name, &v);
    return v;
}

static const char *get_string(json_object *params, const char *name)
{
    json_object *v = member(params, name);
    return v ? json_object_get_string(v) : NULL;
}

static bool get_bool(json_object *params, const char *name, bool def)
{
    json_object *v = member(params, name);
    return v ? json_object_get_boolean(v) : def;
}

static struct jsonrpc_error *get_uuid(json_object *params, char ret[UUID_STR_LEN])
{
    const char *s = get_string(params, "uuid");

    if (!s || !uuid_is_valid(s))
        return jsonrpc_error_new(JSONRPC_INVALID_PARAMS, "uuid: a UUID is required");
    for (size_t i = 0; i < UUID_STR_LEN; i++)
        ret[i] = (char)(s[i] >= 'A' && s[i] <= 'F' ? s[i] - 'A' + 'a' : s[i]);
    return NULL;
}

static struct jsonrpc_error *get_seconds(json_object *params, const char *name, double def,
                                         double *ret)
{
    json_object *v = member(params, name);
    double t = v ? json_object_get_double(v) : def;

    if (!(t >= 0 && t <= DOMAIND_MAX_WAIT))
        return jsonrpc_error_new(JSONRPC_INVALID_PARAMS, "%s: seconds in 0..%.0f expected", name,
                                 DOMAIND_MAX_WAIT);
    *ret = t;
    return NULL;
}

static struct jsonrpc_error *get_int(json_object *params, const char *name, int64_t def,
                                     int64_t min, int64_t max, int64_t *ret)
{
    json_object *v = member(params, name);
    int64_t x = v ? json_object_get_int64(v) : def;

    if (x < min || x > max)
        return jsonrpc_error_new(JSONRPC_INVALID_PARAMS, "%s: %lld is not in %lld..%lld", name,
                                 (long long)x, (long long)min, (long long)max);
    *ret = x;
    return NULL;
}

/* Answers with the domain d (and frees it), or with the error e. */
static struct jsonrpc_error *domain_result(struct dm_error *e, struct dm_domain *d,
                                           json_object **ret_result)
{
    if (e)
        return to_jsonrpc(e);
    *ret_result = dm_domain_to_json(d);
    dm_domain_done(d);
    return NULL;
}

static struct jsonrpc_error *empty_result(struct dm_error *e, json_object **ret_result)
{
    if (e)
        return to_jsonrpc(e);
    *ret_result = json_object_new_object();
    return NULL;
}

static json_object *list_to_json(struct dm_domain_list *l)
{
    json_object *a = json_object_new_array_ext((int)l->n);
    for (size_t i = 0; i < l->n; i++)
        json_object_array_add(a, dm_domain_to_json(&l->v[i]));
    dm_domain_list_done(l);
    return a;
}

/* ---- handlers ---- */

static struct jsonrpc_error *m_host_info(json_object *params, json_object **ret_result,
                                         void *userdata)
{
    struct backend *b = userdata;
    struct dm_host_info hi;
    struct dm_error *e;

    (void)params;
    if ((e = b->ops->host_info(b, &hi)))
        return to_jsonrpc(e);
    json_object *o = json_object_new_object();
    json_object_object_add(o, "backend", json_object_new_string(hi.backend));
    json_object_object_add(o, "total_memory", json_object_new_int64(hi.total_memory));
    json_object_object_add(o, "free_memory", json_object_new_int64(hi.free_memory));
    json_object_object_add(o, "nr_cpus", json_object_new_int(hi.nr_cpus));
    json_object_object_add(o, "xen_version", json_object_new_string(hi.xen_version));
    if (hi.dom0_memory > 0) {
        json_object_object_add(o, "dom0_memory", json_object_new_int64(hi.dom0_memory));
        json_object_object_add(o, "dom0_vcpus", json_object_new_int(hi.dom0_vcpus));
    }
    *ret_result = o;
    return NULL;
}

static struct jsonrpc_error *m_list(json_object *params, json_object **ret_result, void *userdata)
{
    struct backend *b = userdata;
    struct dm_domain_list l;
    struct dm_error *e;

    (void)params;
    if ((e = b->ops->list(b, &l)))
        return to_jsonrpc(e);
    *ret_result = list_to_json(&l);
    return NULL;
}

typedef struct dm_error *(*stop_fn)(struct backend *b, const char *uuid, bool clean, double timeout,
                                    struct dm_domain *ret);
typedef struct dm_error *(*uuid_fn)(struct backend *b, const char *uuid, struct dm_domain *ret);

/* domain/shutdown and domain/reboot: the same parameters, the same answer. */
static struct jsonrpc_error *stop_method(json_object *params, json_object **ret_result,
                                         struct backend *b, stop_fn fn)
{
    struct jsonrpc_error *je;
    char uuid[UUID_STR_LEN];
    struct dm_domain d;
    double timeout;

    if ((je = get_uuid(params, uuid)) ||
        (je = get_seconds(params, "timeout", DEFAULT_SHUTDOWN_TIMEOUT, &timeout)))
        return je;
    return domain_result(fn(b, uuid, get_bool(params, "clean", true), timeout, &d), &d, ret_result);
}

/* Methods that take only the domain's uuid and answer the domain. */
static struct jsonrpc_error *uuid_method(json_object *params, json_object **ret_result,
                                         struct backend *b, uuid_fn fn)
{
    struct jsonrpc_error *je;
    char uuid[UUID_STR_LEN];
    struct dm_domain d;

    if ((je = get_uuid(params, uuid)))
        return je;
    return domain_result(fn(b, uuid, &d), &d, ret_result);
}

static struct jsonrpc_error *m_get(json_object *params, json_object **ret_result, void *userdata)
{
    struct backend *b = userdata;
    return uuid_method(params, ret_result, b, b->ops->get);
}

static struct jsonrpc_error *m_create(json_object *params, json_object **ret_result, void *userdata)
{
    struct backend *b = userdata;
    struct jsonrpc_error *je;
    char uuid[UUID_STR_LEN];
    struct dm_config cfg;
    struct dm_domain d;
    struct dm_error *e;

    if ((je = get_uuid(params, uuid)))
        return je;
    if ((e = dm_config_from_json(params, &cfg)))
        return to_jsonrpc(e);
    e = b->ops->create(b, uuid, &cfg, get_bool(params, "start_paused", false), &d);
    dm_config_done(&cfg);
    return domain_result(e, &d, ret_result);
}

static struct jsonrpc_error *m_shutdown(json_object *params, json_object **ret_result,
                                        void *userdata)
{
    struct backend *b = userdata;
    return stop_method(params, ret_result, b, b->ops->shutdown);
}

static struct jsonrpc_error *m_reboot(json_object *params, json_object **ret_result, void *userdata)
{
    struct backend *b = userdata;
    return stop_method(params, ret_result, b, b->ops->reboot);
}

static struct jsonrpc_error *m_pause(json_object *params, json_object **ret_result, void *userdata)
{
    struct backend *b = userdata;
    return uuid_method(params, ret_result, b, b->ops->pause);
}

static struct jsonrpc_error *m_unpause(json_object *params, json_object **ret_result,
                                       void *userdata)
{
    struct backend *b = userdata;
    return uuid_method(params, ret_result, b, b->ops->unpause);
}

static struct jsonrpc_error *m_suspend(json_object *params, json_object **ret_result,
                                       void *userdata)
{
    struct backend *b = userdata;
    struct jsonrpc_error *je;
    char uuid[UUID_STR_LEN];

    if ((je = get_uuid(params, uuid)))
        return je;
    return empty_result(b->ops->suspend(b, uuid, get_string(params, "path")), ret_result);
}

static struct jsonrpc_error *m_resume(json_object *params, json_object **ret_result, void *userdata)
{
    struct backend *b = userdata;
    struct jsonrpc_error *je;
    char uuid[UUID_STR_LEN];
    struct dm_domain d;

    if ((je = get_uuid(params, uuid)))
        return je;
    return domain_result(b->ops->resume(b, uuid, get_string(params, "path"),
                                        get_bool(params, "start_paused", false), &d),
                         &d, ret_result);
}

static struct jsonrpc_error *m_set_memory_target(json_object *params, json_object **ret_result,
                                                 void *userdata)
{
    struct backend *b = userdata;
    struct jsonrpc_error *je;
    char uuid[UUID_STR_LEN];
    struct dm_domain d;
    int64_t target;

    if ((je = get_uuid(params, uuid)) || (je = get_int(params, "target", 0, 1, INT64_MAX, &target)))
        return je;
    return domain_result(b->ops->set_memory_target(b, uuid, target, &d), &d, ret_result);
}

static struct jsonrpc_error *m_set_vcpus(json_object *params, json_object **ret_result,
                                         void *userdata)
{
    struct backend *b = userdata;
    struct jsonrpc_error *je;
    char uuid[UUID_STR_LEN];
    struct dm_domain d;
    int64_t vcpus;

    if ((je = get_uuid(params, uuid)) || (je = get_int(params, "vcpus", 0, 1, INT32_MAX, &vcpus)))
        return je;
    return domain_result(b->ops->set_vcpus(b, uuid, (int)vcpus, &d), &d, ret_result);
}

static struct jsonrpc_error *m_destroy(json_object *params, json_object **ret_result,
                                       void *userdata)
{
    struct backend *b = userdata;
    struct jsonrpc_error *je;
    char uuid[UUID_STR_LEN];

    if ((je = get_uuid(params, uuid)))
        return je;
    return empty_result(b->ops->destroy(b, uuid), ret_result);
}

static struct jsonrpc_error *m_stats(json_object *params, json_object **ret_result, void *userdata)
{
    struct backend *b = userdata;
    struct jsonrpc_error *je;
    char uuid[UUID_STR_LEN];
    struct dm_stats st;
    struct dm_error *e;

    if ((je = get_uuid(params, uuid)))
        return je;
    if ((e = b->ops->stats(b, uuid, &st)))
        return to_jsonrpc(e);
    *ret_result = dm_stats_to_json(uuid, &st);
    dm_stats_done(&st);
    return NULL;
}

/* The device parameter of disk_detach and cd_change: a guest's name for a
 * disk, checked by the backend against the domain's disks. */
static struct jsonrpc_error *get_device(json_object *params, const char **ret)
{
    const char *s = get_string(params, "device");

    if (!s || !*s || strlen(s) > 16)
        return jsonrpc_error_new(JSONRPC_INVALID_PARAMS, "device: a device name is required");
    *ret = s;
    return NULL;
}

static struct jsonrpc_error *m_disk_attach(json_object *params, json_object **ret_result,
                                           void *userdata)
{
    struct backend *b = userdata;
    struct jsonrpc_error *je;
    char uuid[UUID_STR_LEN];
    struct dm_domain d;
    struct dm_disk dd;
    struct dm_error *e;
    json_object *disk = member(params, "disk");

    if ((je = get_uuid(params, uuid)))
        return je;
    if ((e = dm_disk_from_json(disk, "disk", &dd)))
        return to_jsonrpc(e);
    dm_disk_done(&dd);
    return domain_result(b->ops->disk_attach(b, uuid, disk, &d), &d, ret_result);
}

static struct jsonrpc_error *m_disk_detach(json_object *params, json_object **ret_result,
                                           void *userdata)
{
    struct backend *b = userdata;
    struct jsonrpc_error *je;
    char uuid[UUID_STR_LEN];
    struct dm_domain d;
    const char *device;

    if ((je = get_uuid(params, uuid)) || (je = get_device(params, &device)))
        return je;
    return domain_result(b->ops->disk_detach(b, uuid, device, get_bool(params, "force", false), &d),
                         &d, ret_result);
}

/* NIC hot-plug (nic.h): the nic checked before the backend sees it. */
static struct jsonrpc_error *m_nic_attach(json_object *params, json_object **ret_result,
                                          void *userdata)
{
    struct backend *b = userdata;
    struct jsonrpc_error *je;
    char uuid[UUID_STR_LEN];
    struct dm_domain d;
    struct dm_error *e;
    json_object *nic = member(params, "nic");
    int devid;

    if ((je = get_uuid(params, uuid)))
        return je;
    if ((e = dm_nic_check(nic, "nic", &devid)))
        return to_jsonrpc(e);
    return domain_result(b->ops->nic_attach(b, uuid, nic, &d), &d, ret_result);
}

static struct jsonrpc_error *m_nic_detach(json_object *params, json_object **ret_result,
                                          void *userdata)
{
    struct backend *b = userdata;
    struct jsonrpc_error *je;
    char uuid[UUID_STR_LEN];
    struct dm_domain d;
    int64_t devid;

    if ((je = get_uuid(params, uuid)) ||
        (je = get_int(params, "devid", -1, 0, DM_NIC_MAX_DEVID, &devid)))
        return je;
    return domain_result(b->ops->nic_detach(b, uuid, (int)devid, &d), &d, ret_result);
}

static struct jsonrpc_error *m_cd_change(json_object *params, json_object **ret_result,
                                         void *userdata)
{
    struct backend *b = userdata;
    struct jsonrpc_error *je;
    char uuid[UUID_STR_LEN];
    struct dm_domain d;
    const char *device;

    if ((je = get_uuid(params, uuid)) || (je = get_device(params, &device)))
        return je;
    return domain_result(b->ops->cd_change(b, uuid, device, get_string(params, "target"),
                                           get_string(params, "format"), &d),
                         &d, ret_result);
}

static struct jsonrpc_error *m_watch(json_object *params, json_object **ret_result, void *userdata)
{
    struct backend *b = userdata;
    struct jsonrpc_error *je;
    struct dm_domain_list l;
    struct dm_error *e;
    int64_t since;
    double timeout;
    uint64_t g;
    bool full;

    if ((je = get_int(params, "since", 0, 0, INT64_MAX, &since)) ||
        (je = get_seconds(params, "timeout", DEFAULT_WATCH_TIMEOUT, &timeout)))
        return je;
    if ((e = backend_watch(b, (uint64_t)since, timeout, &g, &full, &l)))
        return to_jsonrpc(e);
    json_object *o = json_object_new_object();
    json_object_object_add(o, "generation", json_object_new_int64((int64_t)g));
    json_object_object_add(o, "full", json_object_new_boolean(full));
    json_object_object_add(o, "events", list_to_json(&l));
    *ret_result = o;
    return NULL;
}

static struct jsonrpc_error *m_sim_inject(json_object *params, json_object **ret_result,
                                          void *userdata)
{
    struct backend *b = userdata;
    struct jsonrpc_error *je;
    char uuid[UUID_STR_LEN];
    json_object *ignore = member(params, "ignore_shutdown");
    json_object *refuse = member(params, "refuse_detach");

    if ((je = get_uuid(params, uuid)))
        return je;
    const char *event = get_string(params, "event");
    /* Event "ignore" alone means: ignore shutdown requests. */
    int flag = ignore                              ? json_object_get_boolean(ignore)
               : streq(event, "ignore") && !refuse ? 1
                                                   : -1;
    int refuse_flag = refuse ? json_object_get_boolean(refuse) : -1;
    return empty_result(b->ops->sim_inject(b, uuid, event, flag, refuse_flag), ret_result);
}

static struct jsonrpc_error *m_sim_fail(json_object *params, json_object **ret_result,
                                        void *userdata)
{
    struct backend *b = userdata;
    struct jsonrpc_error *je;
    int64_t count;

    if ((je = get_int(params, "count", 1, 0, INT32_MAX, &count)))
        return je;
    return empty_result(b->ops->sim_fail(b, get_string(params, "method"), (int)count), ret_result);
}

/* ---- the table ---- */

static const struct jsonrpc_param p_none[] = {{0}};
static const struct jsonrpc_param p_uuid[] = {{"uuid", JP_STRING, true}, {0}};
static const struct jsonrpc_param p_create[] = {
    {"uuid", JP_STRING, true},        {"name", JP_STRING, true},
    {"type", JP_STRING, true},        {"memory_max", JP_INT, true},
    {"memory_target", JP_INT, true},  {"vcpus_max", JP_INT, true},
    {"vcpus", JP_INT, true},          {"kernel", JP_STRING, false},
    {"ramdisk", JP_STRING, false},    {"cmdline", JP_STRING, false},
    {"bootloader", JP_STRING, false}, {"bootloader_args", JP_STRING, false},
    {"boot_order", JP_STRING, false}, {"platform", JP_OBJECT, false},
    {"disks", JP_ARRAY, false},       {"nics", JP_ARRAY, false},
    {"start_paused", JP_BOOL, false}, {0},
};
static const struct jsonrpc_param p_shutdown[] = {
    {"uuid", JP_STRING, true}, {"clean", JP_BOOL, true}, {"timeout", JP_NUMBER, false}, {0}};
static const struct jsonrpc_param p_suspend[] = {
    {"uuid", JP_STRING, true}, {"path", JP_STRING, true}, {0}};
static const struct jsonrpc_param p_resume[] = {
    {"uuid", JP_STRING, true}, {"path", JP_STRING, true}, {"start_paused", JP_BOOL, false}, {0}};
static const struct jsonrpc_param p_memory[] = {
    {"uuid", JP_STRING, true}, {"target", JP_INT, true}, {0}};
static const struct jsonrpc_param p_vcpus[] = {
    {"uuid", JP_STRING, true}, {"vcpus", JP_INT, true}, {0}};
static const struct jsonrpc_param p_watch[] = {
    {"since", JP_INT, true}, {"timeout", JP_NUMBER, false}, {0}};
static const struct jsonrpc_param p_disk_attach[] = {
    {"uuid", JP_STRING, true}, {"disk", JP_OBJECT, true}, {0}};
static const struct jsonrpc_param p_disk_detach[] = {
    {"uuid", JP_STRING, true}, {"device", JP_STRING, true}, {"force", JP_BOOL, false}, {0}};
static const struct jsonrpc_param p_nic_attach[] = {
    {"uuid", JP_STRING, true}, {"nic", JP_OBJECT, true}, {0}};
static const struct jsonrpc_param p_nic_detach[] = {
    {"uuid", JP_STRING, true}, {"devid", JP_INT, true}, {0}};
static const struct jsonrpc_param p_cd_change[] = {{"uuid", JP_STRING, true},
                                                   {"device", JP_STRING, true},
                                                   {"target", JP_STRING, true},
                                                   {"format", JP_STRING, false},
                                                   {0}};
static const struct jsonrpc_param p_inject[] = {{"uuid", JP_STRING, true},
                                                {"event", JP_STRING, true},
                                                {"ignore_shutdown", JP_BOOL, false},
                                                {"refuse_detach", JP_BOOL, false},
                                                {0}};
static const struct jsonrpc_param p_fail[] = {
    {"method", JP_STRING, true}, {"count", JP_INT, false}, {0}};

/* Every backend's methods, and the simulator's controls. */
#define DOMAIND_METHODS(X)                                                                         \
    X("host/info", m_host_info, p_none)                                                            \
    X("host/dmesg", hostctl_dmesg, hostctl_p_dmesg)                                                \
    X("host/debug_keys", hostctl_debug_keys, hostctl_p_debug_keys)                                 \
    X("domain/list", m_list, p_none)                                                               \
    X("domain/get", m_get, p_uuid)                                                                 \
    X("domain/create", m_create, p_create)                                                         \
    X("domain/shutdown", m_shutdown, p_shutdown)                                                   \
    X("domain/reboot", m_reboot, p_shutdown)                                                       \
    X("domain/pause", m_pause, p_uuid)                                                             \
    X("domain/unpause", m_unpause, p_uuid)                                                         \
    X("domain/suspend", m_suspend, p_suspend)                                                      \
    X("domain/resume", m_resume, p_resume)                                                         \
    X("domain/set_memory_target", m_set_memory_target, p_memory)                                   \
    X("domain/set_vcpus", m_set_vcpus, p_vcpus)                                                    \
    X("domain/destroy", m_destroy, p_uuid)                                                         \
    X("domain/stats", m_stats, p_uuid)                                                             \
    X("domain/disk_attach", m_disk_attach, p_disk_attach)                                          \
    X("domain/disk_detach", m_disk_detach, p_disk_detach)                                          \
    X("domain/cd_change", m_cd_change, p_cd_change)                                                \
    X("domain/nic_attach", m_nic_attach, p_nic_attach)                                             \
    X("domain/nic_detach", m_nic_detach, p_nic_detach)                                             \
    X("events/watch", m_watch, p_watch)
#define SIM_METHODS(X)                                                                             \
    X("sim/inject", m_sim_inject, p_inject)                                                        \
    X("sim/fail", m_sim_fail, p_fail)

#define METHOD_ROW_(name, fn, params) {name, fn, params},
static const struct jsonrpc_method methods[] = {DOMAIND_METHODS(METHOD_ROW_){0}};
static const struct jsonrpc_method sim_methods[] = {DOMAIND_METHODS(METHOD_ROW_)
                                                        SIM_METHODS(METHOD_ROW_){0}};
#undef METHOD_ROW_

const struct jsonrpc_method *domaind_methods(const struct backend *b)
{
    return b->ops->sim_inject ? sim_methods : methods;
}
