/* VDI operations that both the VDI messages and the VM messages (clone,
 * snapshot, copy, revert, provision) carry out: a new VDI from an old one
 * by storaged, recorded with the rows of its chain (storage.h). */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <json-c/json.h>

#include "api.h"
#include "db.h"
#include "lib/util.h"
#include "storage.h"
#include "taskcancel.h"

/* The SR of a VDI, which must be plugged here. */
static struct api_error *sr_of(const char *vdi_ref, char ret_sr[64])
{
    const struct row *vdi = NULL, *sr = NULL;
    db_rdlock();
    struct api_error *e = api_lookup(C_VDI, vdi_ref, &vdi);
    if (!e)
        e = api_lookup(C_SR, vdi->v[FIDX(VDI, SR)], &sr);
    if (!e && !storage_sr_plugged(sr))
        e = api_fail(SR_HAS_NO_PBDS, sr->ref);
    if (!e)
        snprintf(ret_sr, 64, "%s", sr->ref);
    db_unlock();
    return e;
}

struct api_error *storage_vdi_duplicate(const char *vdi, bool snapshot, char ret_ref[64])
{
    char sr[64], type[32] = "user";
    json_object *info = NULL;
    struct api_error *e = sr_of(vdi, sr);
    if (e)
        return e;
    json_object *p = storage_params(sr, vdi);
    db_rdlock();
    const struct row *r = db_get(C_VDI, vdi);
    if (r) {
        json_object_object_add(p, "name_label",
                               json_object_new_string(r->v[FIDX(VDI, name_label)]));
        json_object_object_add(p, "name_description",
                               json_object_new_string(r->v[FIDX(VDI, name_description)]));
        snprintf(type, sizeof(type), "%s", r->v[FIDX(VDI, type)]);
    }
    db_unlock();
    const char *method = snapshot ? "vdi_snapshot" : "vdi_clone";
    storage_lock();
    e = storage_call(method, p, 600, &info);
    json_object_put(p);
    if (!e) {
        /* The chain changed shape: storaged lists the nodes it touched
         * (the new base and the VDI now on it) besides the new VDI. */
        json_object *list = json_object_new_array(), *upd = NULL;
        if (json_object_object_get_ex(info, "updated", &upd) &&
            json_object_is_type(upd, json_type_array))
            for (size_t i = 0; i < json_object_array_length(upd); i++)
                json_object_array_add(list, json_object_get(json_object_array_get_idx(upd, i)));
        json_object_array_add(list, json_object_get(info));
        json_object *sr_info = NULL;
        json_object_object_get_ex(info, "sr", &sr_info);
        e = storage_vdis_record(sr, list, sr_info);
        json_object_put(list);
    }
    if (!e) {
        db_wrlock();
        const struct row *n = db_get_by_uuid(C_VDI, storage_json_str(info, "uuid"));
        if (n) {
            snprintf(ret_ref, 64, "%s", n->ref);
            struct changeset *cs = changeset_new();
            changeset_set(cs, C_VDI, n->ref, FIDX(VDI, type), type);
            if (db_apply(cs) < 0)
                e = api_failf(INTERNAL_ERROR, "database: cannot record the new VDI");
            changeset_free(cs);
        } else {
            e = api_failf(INTERNAL_ERROR, "%s: the new VDI is not on the SR", method);
        }
        db_unlock();
    }
    storage_unlock();
    json_object_put(info);
    return e;
}

/* task.cancel of a copy: storaged stops the job, and vdi_copy answers
 * TASK_CANCELLED. */
static void cancel_copy(const char *task)
{
    json_object *p = json_object_new_object();
    json_object_object_add(p, "job", json_object_new_string(task));
    api_error_free(storage_call("job_cancel", p, 30, NULL));
    json_object_put(p);
}

/* While a copy runs, its progress as storaged reports it goes to the
 * task, twice a second; a cancel that came before storaged knew the job
 * is sent again. */
struct progress {
    const char *job;
    pthread_mutex_t lock;
    pthread_cond_t cond;
    bool done;
};

static void *follow_progress(void *arg)
{
    struct progress *pr = arg;
    for (;;) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        ts.tv_nsec += 500000000L;
        if (ts.tv_nsec >= 1000000000L) {
            ts.tv_sec++;
            ts.tv_nsec -= 1000000000L;
        }
        pthread_mutex_lock(&pr->lock);
        if (!pr->done)
            pthread_cond_timedwait(&pr->cond, &pr->lock, &ts);
        bool done = pr->done;
        pthread_mutex_unlock(&pr->lock);
        if (done)
            return NULL;
        if (task_cancel_requested(pr->job))
            cancel_copy(pr->job);
        json_object *p = json_object_new_object(), *res = NULL, *v;
        json_object_object_add(p, "job", json_object_new_string(pr->job));
        struct api_error *e = storage_call("job_status", p, 10, &res);
        if (!e && json_object_object_get_ex(res, "progress", &v))
            task_progress(pr->job, json_object_get_double(v));
        api_error_free(e);
        json_object_put(p);
        json_object_put(res);
    }
}

/* storaged's vdi_copy with params p, its progress followed into the task
 * job (may be NULL) and cancellable through it. */
static struct api_error *run_copy(json_object *p, const char *job, json_object **ret_info)
{
    struct api_error *e;
    struct progress pr = {
        .job = job, .lock = PTHREAD_MUTEX_INITIALIZER, .cond = PTHREAD_COND_INITIALIZER};
    pthread_t follower;
    bool following = false;
    if (job) {
        json_object_object_add(p, "job", json_object_new_string(job));
        task_cancellable_begin(job, cancel_copy);
        following = pthread_create(&follower, NULL, follow_progress, &pr) == 0;
    }
    e = storage_call("vdi_copy", p, 86400, ret_info);
    if (following) {
        pthread_mutex_lock(&pr.lock);
        pr.done = true;
        pthread_cond_signal(&pr.cond);
        pthread_mutex_unlock(&pr.lock);
        pthread_join(follower, NULL);
    }
    if (job)
        task_cancellable_end(job);
    return e;
}

struct api_error *storage_vdi_copy(const char *vdi, const char *dest, const char *job,
                                   char ret_ref[64])
{
    char sr[64], ref[64];
    json_object *info = NULL;
    struct api_error *e = sr_of(vdi, sr);
    const struct row *d = NULL;
    if (e)
        return e;
    db_rdlock();
    e = api_lookup(C_SR, dest, &d);
    if (!e && !storage_sr_plugged(d))
        e = api_fail(SR_HAS_NO_PBDS, d->ref);
    db_unlock();
    if (e)
        return e;
    json_object *p = storage_params(sr, vdi), *dp = storage_params(dest, NULL), *v;
    json_object_object_get_ex(dp, "sr_uuid", &v);
    json_object_object_add(p, "dest_sr_uuid", json_object_get(v));
    json_object_put(dp);
    e = run_copy(p, job, &info);
    json_object_put(p);
    if (!e) {
        char **vals = api_new_row(C_VDI, ref);
        db_rdlock();
        const struct row *r = db_get(C_VDI, vdi);
        const int keep[] = {FIDX(VDI, name_label),   FIDX(VDI, name_description), FIDX(VDI, type),
                            FIDX(VDI, other_config), FIDX(VDI, xenstore_data),    FIDX(VDI, tags)};
        for (size_t i = 0; r && i < ELEMENTSOF(keep); i++)
            api_set_val(vals, keep[i], r->v[keep[i]]);
        db_unlock();
        storage_lock();
        e = storage_vdi_record(dest, info, vals, ref, ret_ref);
        if (!e)
            api_error_free(storage_sr_refresh(dest));
        storage_unlock();
    }
    json_object_put(info);
    return e;
}

struct api_error *storage_vdi_copy_into(const char *vdi, const char *into, const char *job)
{
    char sr[64], dsr[64];
    json_object *info = NULL, *v;
    struct api_error *e = sr_of(vdi, sr);
    if (!e)
        e = sr_of(into, dsr);
    if (e)
        return e;
    json_object *p = storage_params(sr, vdi), *dp = storage_params(dsr, into);
    json_object_object_get_ex(dp, "sr_uuid", &v);
    json_object_object_add(p, "dest_sr_uuid", json_object_get(v));
    json_object_object_get_ex(dp, "vdi_uuid", &v);
    json_object_object_add(p, "into_vdi_uuid", json_object_get(v));
    json_object_put(dp);
    e = run_copy(p, job, &info);
    json_object_put(p);
    if (!e) { /* its data changed: so did its allocation, and the SR's */
        storage_lock();
        e = storage_vdi_record(dsr, info, NULL, NULL, NULL);
        if (!e)
            api_error_free(storage_sr_refresh(dsr));
        storage_unlock();
    }
    json_object_put(info);
    return e;
}

/* Whether storaged's answer lists what it changed. */
static bool lists_changes(json_object *res)
{
    json_object *v;
    return json_object_is_type(res, json_type_object) &&
           json_object_object_get_ex(res, "updated", &v) && json_object_is_type(v, json_type_array);
}

struct api_error *storage_vdi_delete(const char *vdi)
{
    char sr[64];
    struct api_error *e = sr_of(vdi, sr);
    if (e)
        return e;
    json_object *p = storage_params(sr, vdi), *res = NULL;
    storage_lock();
    e = storage_call("vdi_delete", p, 600, &res);
    json_object_put(p);
    if (!e) {
        struct changeset *cs = changeset_new();
        db_wrlock();
        if (db_get(C_VDI, vdi)) {
            changeset_delete(cs, C_VDI, vdi);
            if (db_apply(cs) < 0)
                e = api_failf(INTERNAL_ERROR, "database: cannot forget the VDI");
        }
        db_unlock();
        changeset_free(cs);
    }
    /* The chain may have been coalesced: storaged lists the nodes that
     * changed (an older one says nothing, and a scan finds them). */
    if (!e && lists_changes(res))
        e = storage_vdis_changed(sr, res);
    else if (!e)
        e = storage_sr_scan(sr);
    storage_unlock();
    json_object_put(res);
    return e;
}

struct api_error *storage_vdi_revert(const char *snapshot)
{
    char sr[64];
    struct api_error *e = sr_of(snapshot, sr);
    if (e)
        return e;
    json_object *p = storage_params(sr, NULL), *v, *res = NULL;
    json_object *sp = storage_params(NULL, snapshot);
    json_object_object_get_ex(sp, "vdi_uuid", &v);
    json_object_object_add(p, "snapshot_uuid", json_object_get(v));
    json_object_put(sp);
    storage_lock();
    e = storage_call("vdi_revert", p, 600, &res);
    json_object_put(p);
    if (!e)
        e = storage_vdis_changed(sr, res);
    storage_unlock();
    json_object_put(res);
    return e;
}

struct api_error *storage_vdi_create(const char *sr, char **vals, const char *vals_ref,
                                     const char *format, char ret_ref[64])
{
    json_object *info = NULL;
    json_object *p = storage_params(sr, NULL);

    json_object_object_add(p, "vdi_uuid", json_object_new_string(vals[FIDX(VDI, uuid)]));
    json_object_object_add(p, "name_label", json_object_new_string(vals[FIDX(VDI, name_label)]));
    json_object_object_add(p, "name_description",
                           json_object_new_string(vals[FIDX(VDI, name_description)]));
    json_object_object_add(p, "virtual_size",
                           json_object_new_int64(strtoll(vals[FIDX(VDI, virtual_size)], NULL, 10)));
    json_object_object_add(p, "sharable",
                           json_object_new_boolean(streq(vals[FIDX(VDI, sharable)], "true")));
    json_object_object_add(p, "read_only",
                           json_object_new_boolean(streq(vals[FIDX(VDI, read_only)], "true")));
    if (format)
        json_object_object_add(p, "format", json_object_new_string(format));
    storage_lock();
    struct api_error *e = storage_call("vdi_create", p, 600, &info);
    json_object_put(p);
    if (!e) {
        e = storage_vdi_record(sr, info, vals, vals_ref, ret_ref);
        vals = NULL;
    }
    if (!e)
        api_error_free(storage_sr_refresh(sr));
    storage_unlock();
    api_free_row(C_VDI, vals);
    json_object_put(info);
    return e;
}
