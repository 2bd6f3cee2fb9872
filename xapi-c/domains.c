/* Calls to domaind and the watcher of its events (see domains.h). */
#include "domains.h"

#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "bootstrap.h"
#include "config.h"
#include "db.h"
#include "lib/jsonrpc.h"
#include "lib/log.h"
#include "lib/util.h"
#include "vmops.h"
#include "xapi-c/api/vm_suspend.h"

LOG_MODULE("domains");

/* Seconds of one long-poll: short, so that xapi stops promptly. */
#define WATCH_TIMEOUT 2.0
#define RETRY_DELAY 1.0 /* between attempts while domaind is away */

static struct {
    char *path;
    pthread_t thread;
    bool running;
    bool synced;
    pthread_mutex_t lock;
    pthread_cond_t cond;
    bool stopping;
} w = {.lock = PTHREAD_MUTEX_INITIALIZER, .cond = PTHREAD_COND_INITIALIZER};

/* A device of a VM a call is about: its class ("VBD") and ref. */
struct device {
    const char *cls, *ref;
};

/* domaind's application errors, as the XenAPI errors a client expects. */
static struct api_error *map_error(const char *vm_ref, const struct device *dev, const char *method,
                                   const struct jsonrpc_error *je)
{
    const char *code = je->app_code ? je->app_code : "";
    const char *p0 = je->n_app_params > 0 ? je->app_params[0] : "";
    const char *p1 = je->n_app_params > 1 ? je->app_params[1] : "";
    const char *p2 = je->n_app_params > 2 ? je->app_params[2] : "";
    if (streq(code, "NOT_ENOUGH_MEMORY"))
        return api_fail(HOST_NOT_ENOUGH_FREE_MEMORY, p0, p1);
    if (streq(code, "TOO_MANY_VCPUS"))
        return api_fail(HOST_NOT_ENOUGH_PCPUS, p0, p1);
    if (streq(code, "SHUTDOWN_TIMEOUT"))
        return api_fail(VM_FAILED_SHUTDOWN_ACKNOWLEDGMENT, vm_ref);
    if (streq(code, "BOOTLOADER_FAILED"))
        return api_fail(BOOTLOADER_FAILED, vm_ref, p1);
    if (streq(code, "BAD_STATE") && je->n_app_params > 2)
        return api_fail(VM_BAD_POWER_STATE, vm_ref, p1, p2);
    if (streq(code, "NO_SUCH_DOMAIN"))
        return api_fail(VM_BAD_POWER_STATE, vm_ref, "running", "halted");
    if (dev && streq(code, "DEVICE_EXISTS"))
        return api_fail(DEVICE_ALREADY_ATTACHED, dev->ref);
    if (dev && streq(code, "NO_SUCH_DEVICE"))
        return api_fail(DEVICE_ALREADY_DETACHED, dev->ref);
    if (dev && streq(code, "DETACH_REJECTED"))
        return api_fail(DEVICE_DETACH_REJECTED, dev->cls, dev->ref, p2);
    return api_failf(INTERNAL_ERROR, "domaind %s: %s%s%s", method, *code ? code : je->message,
                     *p0 ? " " : "", p0);
}

static struct api_error *call(const char *vm_ref, const struct device *dev, const char *method,
                              json_object *params, double timeout, json_object **ret_result)
{
    struct jsonrpc_client *cl = jsonrpc_client_new(w.path);
    struct jsonrpc_error *je = NULL;
    json_object *res = NULL;
    struct api_error *e = NULL;

    int r = jsonrpc_call(cl, method, params, timeout, &res, &je);
    jsonrpc_client_free(cl);
    if (r == -EPROTO && je)
        e = map_error(vm_ref, dev, method, je);
    else if (r < 0)
        e = api_failf(INTERNAL_ERROR, "domaind is not answering (%s): %s", method, strerror(-r));
    jsonrpc_error_free(je);
    if (!e && ret_result)
        *ret_result = res;
    else
        json_object_put(res);
    return e;
}

struct api_error *domains_call(const char *vm_ref, const char *method, json_object *params,
                               double timeout, json_object **ret_result)
{
    return call(vm_ref, NULL, method, params, timeout, ret_result);
}

struct api_error *domains_call_device(const char *vm_ref, const char *dev_class,
                                      const char *dev_ref, const char *method, json_object *params,
                                      double timeout, json_object **ret_result)
{
    const struct device dev = {dev_class, dev_ref};
    return call(vm_ref, &dev, method, params, timeout, ret_result);
}

bool domains_synced(void)
{
    pthread_mutex_lock(&w.lock);
    bool s = w.synced;
    pthread_mutex_unlock(&w.lock);
    return s;
}

/* Sleeps up to s seconds, or until domains_shutdown; false when stopping. */
static bool pause_for(double s)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    ts.tv_sec += (time_t)s;
    ts.tv_nsec += (long)((s - (double)(time_t)s) * 1e9);
    if (ts.tv_nsec >= 1000000000L) {
        ts.tv_sec++;
        ts.tv_nsec -= 1000000000L;
    }
    pthread_mutex_lock(&w.lock);
    if (!w.stopping)
        pthread_cond_timedwait(&w.cond, &w.lock, &ts);
    bool go_on = !w.stopping;
    pthread_mutex_unlock(&w.lock);
    return go_on;
}

/* The hypervisor's memory is the host's: host_metrics follows what domaind
 * reports (the sim may be told to have more or less than the machine). */
static void record_host_memory(void)
{
    json_object *info = NULL, *total = NULL;
    struct api_error *e = domains_call("", "host/info", NULL, 30, &info);
    if (e) {
        api_error_free(e);
        return;
    }
    json_object *d0m, *d0v;
    if (json_object_object_get_ex(info, "dom0_memory", &d0m) &&
        json_object_object_get_ex(info, "dom0_vcpus", &d0v))
        bootstrap_control_domain_size(json_object_get_int64(d0m), json_object_get_int64(d0v));
    if (json_object_object_get_ex(info, "total_memory", &total)) {
        char buf[32], when[DATETIME_LEN];
        snprintf(buf, sizeof(buf), "%" PRId64, json_object_get_int64(total));
        datetime_format(time(NULL), when);
        db_wrlock();
        const struct row *h = db_get(C_host, xapi_state.host_ref);
        const struct row *m = h ? db_get(C_host_metrics, h->v[FIDX(host, metrics)]) : NULL;
        if (m && !streq(m->v[FIDX(host_metrics, memory_total)], buf)) {
            struct changeset *cs = changeset_new();
            changeset_set(cs, C_host_metrics, m->ref, FIDX(host_metrics, memory_total), buf);
            changeset_set(cs, C_host_metrics, m->ref, FIDX(host_metrics, last_updated), when);
            db_apply(cs);
            changeset_free(cs);
        }
        db_unlock();
    }
    json_object_put(info);
}

static void *watch(void *arg)
{
    (void)arg;
    struct jsonrpc_client *cl = jsonrpc_client_new(w.path);
    int64_t since = 0;
    bool warned = false, recovered = false;

    for (;;) {
        pthread_mutex_lock(&w.lock);
        bool stop = w.stopping;
        pthread_mutex_unlock(&w.lock);
        if (stop)
            break;

        json_object *params = json_object_new_object(), *res = NULL;
        struct jsonrpc_error *je = NULL;
        json_object_object_add(params, "since", json_object_new_int64(since));
        json_object_object_add(params, "timeout", json_object_new_double(WATCH_TIMEOUT));
        int r = jsonrpc_call(cl, "events/watch", params, WATCH_TIMEOUT + 10, &res, &je);
        json_object_put(params);
        if (r < 0) {
            if (!warned)
                log_warning("cannot follow domaind's events: %s%s", je ? je->message : strerror(-r),
                            " (retrying)");
            warned = true;
            jsonrpc_error_free(je);
            json_object_put(res);
            if (!pause_for(RETRY_DELAY))
                break;
            continue;
        }
        if (warned)
            log_notice("following domaind's events again");
        warned = false;

        json_object *gen = NULL, *events = NULL, *fullj = NULL;
        json_object_object_get_ex(res, "generation", &gen);
        json_object_object_get_ex(res, "events", &events);
        json_object_object_get_ex(res, "full", &fullj);
        int64_t g = gen ? json_object_get_int64(gen) : 0;
        if (g < since) {
            /* domaind's hypervisor state went back (it was lost): read it
             * all again. */
            log_warning("domaind's generation went back from %" PRId64 " to %" PRId64, since, g);
            since = 0;
            json_object_put(res);
            continue;
        }
        /* A full answer lists every domain (the first one, or when domaind
         * no longer knows what changed since our generation). */
        bool full = since == 0 || (fullj && json_object_get_boolean(fullj));
        vmops_domain_events(events, full);
        since = g;
        if (full) {
            record_host_memory();
            /* every VM's power state is true now: images of suspends
             * that a stop of xapi cut short can be told and go */
            if (!recovered)
                recovered = vm_suspend_vdi_recover();
            pthread_mutex_lock(&w.lock);
            w.synced = true;
            pthread_mutex_unlock(&w.lock);
        }
        json_object_put(res);
    }
    jsonrpc_client_free(cl);
    return NULL;
}

void domains_init(const char *socket_path)
{
    w.path = xstrdup(socket_path);
    w.stopping = false;
    w.running = pthread_create(&w.thread, NULL, watch, NULL) == 0;
}

void domains_shutdown(void)
{
    pthread_mutex_lock(&w.lock);
    w.stopping = true;
    pthread_cond_broadcast(&w.cond);
    pthread_mutex_unlock(&w.lock);
    if (w.running) {
        /* A long-poll in flight ends within its timeout at the latest;
         * cancelling the thread is not needed because the client socket
         * is closed when domaind stops too. */
        pthread_join(w.thread, NULL);
        w.running = false;
    }
    free(w.path);
    w.path = NULL;
}
