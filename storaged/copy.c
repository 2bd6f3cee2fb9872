/* vdi_copy and its jobs: a flattened copy of a VDI into a new VDI of another
 * (or the same) SR, made by qemu-img convert without holding storaged's
 * lock, with its progress readable by job_status and stoppable by
 * job_cancel. */
#include "storaged/internal.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include "lib/cleanup.h"
#include "lib/log.h"
#include "lib/util.h"
#include "storaged/chain.h"
#include "storaged/exec.h"
#include "storaged/lvm.h"
#include "storaged/lvmsr.h"
#include "storaged/qcow2.h"
#include "storaged/recover.h"

LOG_MODULE("copy");

static struct job *find_job(struct storaged *sd, const char *id)
{
    for (size_t i = 0; i < MAX_JOBS; i++)
        if (sd->jobs[i].id && streq(sd->jobs[i].id, id))
            return &sd->jobs[i];
    return NULL;
}

static void job_start(struct storaged *sd, const char *id)
{
    struct job *j = NULL;

    pthread_mutex_lock(&sd->jobs_lock);
    j = find_job(sd, id);
    for (size_t i = 0; !j && i < MAX_JOBS; i++)
        if (!sd->jobs[i].id)
            j = &sd->jobs[i];
    for (size_t i = 0; !j && i < MAX_JOBS; i++)
        if (sd->jobs[i].done && (!j || sd->jobs[i].seq < j->seq))
            j = &sd->jobs[i];
    if (!j) /* 64 copies at once: the oldest stops being reported */
        j = &sd->jobs[0];
    free(j->id);
    free(j->error);
    *j = (struct job){.id = xstrdup(id), .seq = ++sd->job_seq};
    pthread_mutex_unlock(&sd->jobs_lock);
}

static void job_update(struct storaged *sd, const char *id, double progress, bool done,
                       const char *error)
{
    pthread_mutex_lock(&sd->jobs_lock);
    struct job *j = find_job(sd, id);
    if (j) {
        if (progress > j->progress)
            j->progress = progress;
        j->done = done;
        if (error)
            meta_set_str(&j->error, error);
    }
    pthread_mutex_unlock(&sd->jobs_lock);
}

sd_error *sd_job_status(struct storaged *sd, const char *job, json_object **ret)
{
    sd_error *e = NULL;

    pthread_mutex_lock(&sd->jobs_lock);
    struct job *j = find_job(sd, job);
    if (!j) {
        e = jsonrpc_app_error("HANDLE_INVALID", "job", job);
    } else {
        json_object *o = json_object_new_object();
        json_object_object_add(o, "progress", json_object_new_double(j->progress));
        sd_add_bool(o, "done", j->done);
        if (j->error)
            sd_add_str(o, "error", j->error);
        *ret = o;
    }
    pthread_mutex_unlock(&sd->jobs_lock);
    return e;
}

struct copy_progress {
    struct storaged *sd;
    const char *job;
    char tail[64]; /* the end of the output so far: a report may be split */
};

/* qemu-img convert -p writes "    (12.34/100%)\r" as it goes. */
static void on_copy_output(const char *data, size_t len, void *userdata)
{
    struct copy_progress *cp = userdata;
    char buf[sizeof(cp->tail) * 2];
    size_t have = strlen(cp->tail);

    if (len >= sizeof(cp->tail))
        have = 0, data += len - (sizeof(cp->tail) - 1), len = sizeof(cp->tail) - 1;
    memcpy(buf, cp->tail, have);
    memcpy(buf + have, data, len);
    buf[have + len] = '\0';
    char *end = strstr(buf, "/100%)"), *last = NULL;
    while (end) {
        last = end;
        end = strstr(end + 1, "/100%)");
    }
    if (last) {
        char *open = last;
        while (open > buf && open[-1] != '(')
            open--;
        double pct = strtod(open, NULL);
        if (cp->job && pct >= 0 && pct <= 100)
            job_update(cp->sd, cp->job, pct / 100.0, false, NULL);
    }
    size_t total = have + len;
    size_t keep = total < sizeof(cp->tail) - 1 ? total : sizeof(cp->tail) - 1;
    memmove(cp->tail, buf + total - keep, keep);
    cp->tail[keep] = '\0';
}

/* True once job_cancel asked the job named id to stop. */
static bool job_cancelled(struct storaged *sd, const char *id)
{
    pthread_mutex_lock(&sd->jobs_lock);
    struct job *j = find_job(sd, id);
    bool cancel = j && j->cancel;
    pthread_mutex_unlock(&sd->jobs_lock);
    return cancel;
}

sd_error *sd_job_cancel(struct storaged *sd, const char *job)
{
    sd_error *e = NULL;

    pthread_mutex_lock(&sd->jobs_lock);
    struct job *j = find_job(sd, job);
    if (!j)
        e = jsonrpc_app_error("HANDLE_INVALID", "job", job);
    else if (!j->done) /* a finished job has nothing left to stop */
        j->cancel = true;
    pthread_mutex_unlock(&sd->jobs_lock);
    if (!e)
        log_info("job %s: cancel requested", job);
    return e;
}

static bool copy_cancelled(void *userdata)
{
    struct copy_progress *cp = userdata;
    return (cp->job && job_cancelled(cp->sd, cp->job)) ||
           (cp->sd->stopping && cp->sd->stopping(cp->sd->userdata));
}

/* The bytes a chain's images hold: what a flattened copy needs at most. */
static int64_t chain_allocated(const struct sd_sr *sr, const struct vdi_meta *v)
{
    int64_t n = 0;

    for (; v; v = v->parent[0] ? sr_meta_find(&sr->meta, v->parent) : NULL) {
        _cleanup_free_ char *p = sd_path_in(sr, v->file);
        n += sd_allocated(p);
    }
    return n;
}

sd_error *sd_vdi_copy(struct storaged *sd, const char *sr_uuid, const char *vdi_uuid,
                      const char *dest_sr_uuid, const char *dest_vdi_uuid, const char *job,
                      json_object **ret)
{
    struct sd_sr *sr = NULL, *dest = NULL;
    struct vdi_meta *v = NULL;
    char uuid[UUID_STR_LEN];
    _cleanup_free_ char *src = NULL, *tmp = NULL, *tmpname = NULL, *path = NULL, *err = NULL;
    _cleanup_free_ char *name_label = NULL, *name_description = NULL, *dest_dev = NULL;
    bool sharable, read_only, to_lvm;
    int64_t need = 0, avail = -1, src_size, lv_size = 0;
    const char *fmt;
    sd_error *e = NULL;
    int r;

    pthread_mutex_lock(&sd->lock);
    if ((e = sd_get_sr(sd, sr_uuid, &sr)) || (e = sd_get_vdi(sr, vdi_uuid, &v)) ||
        (e = sd_get_sr(sd, dest_sr_uuid, &dest)) || (e = sd_check_writable_sr(dest)) ||
        (e = sd_new_vdi_uuid(dest, dest_vdi_uuid, uuid)) ||
        (e = sd_is_lvm(sr) ? sd_lvm_copy_source(sr, v, &src, &need) : NULL) ||
        (e = sd_is_lvm(dest) ? sd_lvm_free_space(dest, &avail) : NULL)) {
        pthread_mutex_unlock(&sd->lock);
        return e;
    }
    to_lvm = sd_is_lvm(dest);
    if (!sd_is_lvm(sr)) {
        need = chain_allocated(sr, v);
        src = sd_path_in(sr, v->file);
    }
    struct statvfs vfs;
    if (!to_lvm && statvfs(dest->root, &vfs) == 0)
        avail = (int64_t)vfs.f_bavail * (int64_t)vfs.f_frsize;
    if (avail >= 0 && need > avail) {
        char a[32], b[32];
        snprintf(a, sizeof(a), "%lld", (long long)need);
        snprintf(b, sizeof(b), "%lld", (long long)avail);
        pthread_mutex_unlock(&sd->lock);
        return jsonrpc_app_error("SR_FULL", a, b);
    }
    fmt = streq(v->format, "qcow2") ? "qcow2" : "raw";
    src_size = v->virtual_size;
    if (to_lvm) {
        /* The LV is made below, without the lock; meanwhile the live list
         * keeps recovery from taking it for an orphan. */
        tmpname = lvm_lv_name(uuid);
        dest_dev = xstrdup(sd_dc_get(dest->dc, "device"));
    } else {
        tmpname = xasprintf("%s.qcow2.tmp", uuid);
        tmp = sd_path_in(dest, tmpname);
        path = xasprintf("%s/%s.qcow2", dest->root, uuid);
    }
    name_label = xstrdup(v->name_label);
    name_description = xstrdup(v->name_description);
    sharable = v->sharable;
    read_only = streq(v->format, "iso") ? false : v->read_only;
    sd_strv_add(&sr->busy, &sr->n_busy, vdi_uuid);
    sd_strv_add(&dest->live, &dest->n_live, tmpname);
    dest->copies_into++;
    if (job)
        job_start(sd, job);
    pthread_mutex_unlock(&sd->lock);

    /* The data moves without the lock: other calls go on meanwhile. */
    struct copy_progress cp = {.sd = sd, .job = job};
    struct exec_opts opts = {
        .on_stdout = on_copy_output, .cancelled = copy_cancelled, .userdata = &cp};
    sd_error *made = NULL;
    if (to_lvm) {
        /* A new thin LV reads zeros where unwritten: --target-is-zero
         * writes only the data, so the source's holes stay unallocated in
         * the pool. */
        made = sd_lvm_copy_target(dest_sr_uuid, dest_dev, uuid, src_size, &tmp, &lv_size);
        sd_fist(sd, "copy-lv-created");
        const char *argv[] = {"qemu-img", "convert", "-p", "-n",  "--target-is-zero",
                              "-f",       fmt,       "-O", "raw", src,
                              tmp,        NULL};
        r = made ? -EIO : exec_run(argv, &opts, NULL, &err);
    } else {
        const char *argv[] = {"qemu-img", "convert", "-p", "-f", fmt,
                              "-O",       "qcow2",   src,  tmp,  NULL};
        r = exec_run(argv, &opts, NULL, &err);
    }
    if (r == 0)
        r = sd_fsync_path(tmp);
    sd_fist(sd, "copy-converted");
    /* A cancel that comes after qemu-img finished still wins as long as
     * nothing is committed: the copy is dropped below like any failure. */
    bool cancelled = job && (r == 0 || r == -ECANCELED) && job_cancelled(sd, job);

    pthread_mutex_lock(&sd->lock);
    sd_strv_remove(sr->busy, &sr->n_busy, vdi_uuid);
    sd_strv_remove(dest->live, &dest->n_live, tmpname);
    dest->copies_into--;
    int64_t size = lv_size;
    if (made) {
        e = made;
    } else if (cancelled) {
        e = jsonrpc_app_error("TASK_CANCELLED", job);
    } else if (r != 0) {
        e = sd_tool_failure(SM_VDI_CREATE, "VDI copy failed: qemu-img convert", r, err);
    } else if (!to_lvm && (r = qcow2_read_header(tmp, &size, NULL)) < 0) {
        errno = -r;
        e = sd_backend_failure(SM_VDI_CREATE, "VDI copy failed: %s: %m", tmp);
    } else if (sr_meta_find(&dest->meta, uuid)) {
        e = sd_backend_failure(SM_VDI_EXISTS, "The VDI already exists: %s", uuid);
    }
    if (!e) {
        struct vdi_meta *d = sr_meta_add(&dest->meta, uuid);
        if (to_lvm) {
            meta_set_str(&d->file, tmpname);
            snprintf(d->format, sizeof(d->format), "raw");
        }
        meta_set_str(&d->name_label, name_label);
        meta_set_str(&d->name_description, name_description);
        d->virtual_size = size;
        d->sharable = sharable;
        d->read_only = read_only;
        if ((r = sr_meta_save(dest->root, &dest->meta)) < 0) {
            sr_meta_remove(&dest->meta, uuid);
            e = sd_meta_failure(r, dest_sr_uuid);
        }
    }
    if (e) {
        if (to_lvm && !made)
            sd_lvm_copy_drop(dest_sr_uuid, dest_dev, uuid);
        else if (!to_lvm)
            unlink(tmp);
        if (cancelled)
            log_info("job %s: copy of VDI %s cancelled, nothing kept", job, vdi_uuid);
    } else {
        sd_fist(sd, "copy-committed");
        if (!to_lvm && rename(tmp, path) < 0)
            log_error("SR %s: cannot rename %s into place: %m (the next scan will)", dest_sr_uuid,
                      tmp);
        *ret = sd_vdi_info(dest->root, sr_meta_find(&dest->meta, uuid));
        if (to_lvm)
            sd_lvm_fill_usage(dest, *ret);
        log_info("copied VDI %s of SR %s to VDI %s of SR %s", vdi_uuid, sr_uuid, uuid,
                 dest_sr_uuid);
    }
    if (job)
        job_update(sd, job, e ? 0 : 1.0, true, e ? e->app_code : NULL);
    pthread_mutex_unlock(&sd->lock);
    return e;
}

/* Refuses an into_vdi that cannot take the copy, as xapi's VDI.copy does. */
static sd_error *check_into(const struct sd_sr *dest, const struct vdi_meta *d, int64_t need_size)
{
    sd_error *e;

    if (!d->managed)
        return sd_backend_failure(SM_VDI_UNAVAILABLE, "The VDI is not available: %s is a base copy",
                                  d->uuid);
    if (d->read_only || streq(d->format, "iso"))
        return jsonrpc_app_error("VDI_READONLY", d->uuid);
    if ((e = sd_check_vdi_free(dest, d, "copy", false)))
        return e;
    if (d->virtual_size < need_size) {
        char size[32];
        snprintf(size, sizeof(size), "%lld", (long long)need_size);
        return jsonrpc_app_error("VDI_TOO_SMALL", d->uuid, size);
    }
    return NULL;
}

sd_error *sd_vdi_copy_into(struct storaged *sd, const char *sr_uuid, const char *vdi_uuid,
                           const char *dest_sr_uuid, const char *into_uuid, const char *job,
                           json_object **ret)
{
    struct sd_sr *sr = NULL, *dest = NULL;
    struct vdi_meta *v = NULL, *d = NULL;
    _cleanup_free_ char *src = NULL, *dst = NULL, *err = NULL;
    char sfmt[8], dfmt[8];
    sd_error *e = NULL;
    int r;

    pthread_mutex_lock(&sd->lock);
    if ((e = sd_get_sr(sd, sr_uuid, &sr)) || (e = sd_get_vdi(sr, vdi_uuid, &v)) ||
        (e = sd_get_sr(sd, dest_sr_uuid, &dest)) || (e = sd_check_writable_sr(dest)) ||
        (e = sd_get_vdi(dest, into_uuid, &d)) || (e = check_into(dest, d, v->virtual_size))) {
        pthread_mutex_unlock(&sd->lock);
        return e;
    }
    if (d == v) {
        pthread_mutex_unlock(&sd->lock);
        return sd_backend_failure(SM_VDI_CREATE, "VDI copy failed: %s into itself", vdi_uuid);
    }
    /* An lvm VDI is read and written as its LV's block device. */
    int64_t unused;
    if ((e = sd_is_lvm(sr) ? sd_lvm_copy_source(sr, v, &src, &unused) : NULL) ||
        (e = sd_is_lvm(dest) ? sd_lvm_copy_source(dest, d, &dst, &unused) : NULL)) {
        pthread_mutex_unlock(&sd->lock);
        return e;
    }
    if (!src)
        src = sd_path_in(sr, v->file);
    if (!dst)
        dst = sd_path_in(dest, d->file);
    snprintf(sfmt, sizeof(sfmt), "%s", streq(v->format, "qcow2") ? "qcow2" : "raw");
    snprintf(dfmt, sizeof(dfmt), "%s", d->format);
    /* Both ends are busy while the data moves: no delete, resize,
     * snapshot or merge of either, and no detach of the destination. */
    sd_strv_add(&sr->busy, &sr->n_busy, vdi_uuid);
    sd_strv_add(&dest->busy, &dest->n_busy, into_uuid);
    dest->copies_into++;
    if (job)
        job_start(sd, job);
    pthread_mutex_unlock(&sd->lock);

    /* The data is written in place (-n: the image exists), every block of
     * the source's size, zeros included, so that nothing of what the VDI
     * held before shows through; what lies beyond is left as it was, as
     * XCP's copy leaves it. */
    struct copy_progress cp = {.sd = sd, .job = job};
    struct exec_opts opts = {
        .on_stdout = on_copy_output, .cancelled = copy_cancelled, .userdata = &cp};
    const char *argv[] = {"qemu-img", "convert", "-p", "-n", "-f", sfmt,
                          "-O",       dfmt,      src,  dst,  NULL};
    r = exec_run(argv, &opts, NULL, &err);
    if (r == 0)
        r = sd_fsync_path(dst);
    bool cancelled = job && (r == 0 || r == -ECANCELED) && job_cancelled(sd, job);

    pthread_mutex_lock(&sd->lock);
    sd_strv_remove(sr->busy, &sr->n_busy, vdi_uuid);
    sd_strv_remove(dest->busy, &dest->n_busy, into_uuid);
    dest->copies_into--;
    if (cancelled)
        e = jsonrpc_app_error("TASK_CANCELLED", job);
    else if (r != 0)
        e = sd_tool_failure(SM_VDI_CREATE, "VDI copy failed: qemu-img convert", r, err);
    else if (!(d = sr_meta_find(&dest->meta, into_uuid)))
        e = jsonrpc_app_error("VDI_MISSING", dest_sr_uuid, into_uuid);
    if (!e) {
        *ret = sd_vdi_info(dest->root, d);
        if (sd_is_lvm(dest))
            sd_lvm_fill_usage(dest, *ret);
        log_info("copied VDI %s of SR %s into VDI %s of SR %s", vdi_uuid, sr_uuid, into_uuid,
                 dest_sr_uuid);
    } else if (cancelled) {
        log_info("job %s: copy of VDI %s into %s cancelled: its data is partly written", job,
                 vdi_uuid, into_uuid);
    }
    if (job)
        job_update(sd, job, e ? 0 : 1.0, true, e ? e->app_code : NULL);
    pthread_mutex_unlock(&sd->lock);
    return e;
}
