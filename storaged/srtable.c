/* The table of SRs attached on this host and its mirror in the run folder
 * (one <sr_uuid>.json per SR), so that a restarted storaged, even after
 * kill -9, brings them back: loading an SR into the table (reading and
 * recovering its metadata), letting one go, and storaged's start and stop. */
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
#include "storaged/lvmsr.h"
#include "storaged/qcow2.h"
#include "storaged/recover.h"

LOG_MODULE("sr");

struct sd_sr *sd_find_sr(struct storaged *sd, const char *uuid)
{
    for (size_t i = 0; i < sd->n_srs; i++)
        if (streq(sd->srs[i]->uuid, uuid))
            return sd->srs[i];
    return NULL;
}

sd_error *sd_get_sr(struct storaged *sd, const char *uuid, struct sd_sr **ret)
{
    struct sd_sr *sr = sd_find_sr(sd, uuid);

    if (!sr)
        return jsonrpc_app_error("SR_NOT_ATTACHED", uuid);
    *ret = sr;
    return NULL;
}

sd_error *sd_get_vdi(struct sd_sr *sr, const char *uuid, struct vdi_meta **ret)
{
    struct vdi_meta *v = sr_meta_find(&sr->meta, uuid);

    if (!v)
        return jsonrpc_app_error("VDI_MISSING", sr->uuid, uuid);
    *ret = v;
    return NULL;
}

struct sd_attach *sd_find_att(const struct sd_sr *sr, const char *vdi)
{
    for (size_t i = 0; i < sr->n_att; i++)
        if (streq(sr->att[i].uuid, vdi))
            return &sr->att[i];
    return NULL;
}

bool sd_vdi_busy(const char *uuid, void *userdata)
{
    const struct sd_sr *sr = userdata;

    if (sd_find_att(sr, uuid))
        return true;
    for (size_t i = 0; i < sr->n_busy; i++)
        if (streq(sr->busy[i], uuid))
            return true;
    return false;
}

void sd_sr_free(struct sd_sr *sr)
{
    if (!sr)
        return;
    json_object_put(sr->dc);
    free(sr->root);
    sr_meta_done(&sr->meta);
    free(sr->att);
    for (size_t i = 0; i < sr->n_busy; i++)
        free(sr->busy[i]);
    free(sr->busy);
    for (size_t i = 0; i < sr->n_live; i++)
        free(sr->live[i]);
    free(sr->live);
    free(sr);
}
DEFINE_CLEANUP_FUNC(struct sd_sr, sd_sr_free)

void sd_strv_add(char ***v, size_t *n, const char *s)
{
    *v = xrealloc(*v, (*n + 1) * sizeof(**v));
    (*v)[(*n)++] = xstrdup(s);
}

void sd_strv_remove(char **v, size_t *n, const char *s)
{
    for (size_t i = 0; i < *n; i++)
        if (streq(v[i], s)) {
            free(v[i]);
            v[i] = v[--*n];
            return;
        }
}

static char *state_path(struct storaged *sd, const char *uuid)
{
    return xasprintf("%s/%s.json", sd->run_dir, uuid);
}

/* Mirrors an attached SR into the run folder (atomically). */
void sd_save_state(struct storaged *sd, const struct sd_sr *sr)
{
    _cleanup_free_ char *path = state_path(sd, sr->uuid);
    _cleanup_free_ char *tmp = xasprintf("%s.tmp", path);
    json_object *o = json_object_new_object();
    json_object *vdis = json_object_new_object();

    sd_add_str(o, "sr_uuid", sr->uuid);
    sd_add_str(o, "type", sr->drv->type);
    json_object_object_add(o, "device_config", json_object_get(sr->dc));
    sd_add_str(o, "root", sr->root);
    sd_add_bool(o, "mounted", sr->mounted);
    for (size_t i = 0; i < sr->n_att; i++) {
        json_object *a = json_object_new_object();
        sd_add_bool(a, "read_write", sr->att[i].read_write);
        sd_add_bool(a, "active", sr->att[i].active);
        json_object_object_add(vdis, sr->att[i].uuid, a);
    }
    json_object_object_add(o, "vdis", vdis);
    if (json_object_to_file_ext(tmp, o, JSON_C_TO_STRING_PLAIN) < 0 || rename(tmp, path) < 0)
        log_error("cannot write %s: %s", path, strerror(errno));
    json_object_put(o);
}

void sd_drop_state(struct storaged *sd, const char *uuid)
{
    _cleanup_free_ char *path = state_path(sd, uuid);
    unlink(path);
}

char *sd_mount_point(struct storaged *sd, const char *uuid)
{
    return xasprintf("%s/sr-mounts/%s", sd->state_dir, uuid);
}

/* Reads the SR metadata at root and checks it is the SR uuid. */
sd_error *sd_read_meta(const char *root, const char *uuid, struct sr_meta *ret)
{
    _cleanup_free_ char *why = NULL;
    int r = sr_meta_load(root, ret, &why);

    if (r == -ENOENT)
        return sd_backend_failure(SM_SR_UNAVAILABLE,
                                  "The SR is not available: there is no SR "
                                  "on %s",
                                  root);
    if (r < 0) {
        errno = -r;
        return sd_backend_failure(SM_METADATA_ERROR, "cannot read the SR metadata on %s: %s", root,
                                  why ? why : strerror(-r));
    }
    if (uuid && !streq(ret->uuid, uuid)) {
        sd_error *e =
            sd_backend_failure(SM_SR_UNAVAILABLE, "The SR is not available: %s holds SR %s, not %s",
                               root, ret->uuid, uuid);
        sr_meta_done(ret);
        return e;
    }
    return NULL;
}

int sd_recover(struct sd_sr *sr)
{
    if (streq(sr->drv->type, "iso"))
        return 0;
    if (sd_is_lvm(sr))
        return sd_lvm_recover(sr);
    return sr_recover(sr->root, &sr->meta, (const char *const *)sr->live, sr->n_live, NULL);
}

/* After a failed chain operation: the metadata on the media still holds
 * its journal; reading it back and recovering undoes the operation. */
void sd_roll_back(struct sd_sr *sr)
{
    struct sr_meta m;
    _cleanup_free_ char *why = NULL;

    if (sr_meta_load(sr->root, &m, &why) < 0) {
        log_error("SR %s: cannot reread the metadata to roll back: %s", sr->uuid,
                  why ? why : "unreadable");
        return;
    }
    sr_meta_done(&sr->meta);
    sr->meta = m;
    if (sd_recover(sr) < 0)
        log_error("SR %s: the roll back could not save the metadata", sr->uuid);
}

/* Loads an SR whose media are open at root (copied) into the table. */
sd_error *sd_add_sr(struct storaged *sd, const struct sd_driver *drv, const char *uuid,
                    json_object *dc, const char *root, bool mounted, struct sd_sr **ret)
{
    _cleanup_(sd_sr_freep) struct sd_sr *sr = xcalloc(1, sizeof(*sr));
    sd_error *e;

    memcpy(sr->uuid, uuid, UUID_STR_LEN);
    sr->drv = drv;
    sr->dc = json_object_get(dc);
    sr->root = xstrdup(root);
    sr->mounted = mounted;
    if (streq(drv->type, "iso")) {
        sr_meta_init(&sr->meta);
        memcpy(sr->meta.uuid, uuid, UUID_STR_LEN);
        snprintf(sr->meta.type, sizeof(sr->meta.type), "iso");
        meta_set_str(&sr->meta.content_type, "iso");
        int r = sd_iso_scan(sr);
        if (r < 0) {
            errno = -r;
            return sd_backend_failure(SM_ISO_LOCAL_PATH, "cannot read %s: %m", root);
        }
    } else {
        if ((e = sd_read_meta(root, uuid, &sr->meta)))
            return e;
        if (!streq(sr->meta.type, drv->type)) {
            return sd_backend_failure(SM_SR_UNAVAILABLE,
                                      "The SR is not available: SR %s is of type %s, not %s", uuid,
                                      sr->meta.type, drv->type);
        }
        if (sd_recover(sr) < 0)
            return sd_backend_failure(SM_METADATA_ERROR, "cannot recover SR %s", uuid);
    }
    sd->srs = xrealloc(sd->srs, (sd->n_srs + 1) * sizeof(*sd->srs));
    sd->srs[sd->n_srs++] = sr;
    *ret = TAKE_PTR(sr);
    return NULL;
}

/* Refuses to let an SR go while something of it is in use. */
sd_error *sd_check_sr_idle(const struct sd_sr *sr, const char *op)
{
    if (sr->n_att > 0)
        return jsonrpc_app_error("VDI_IN_USE", sr->att[0].uuid, op);
    if (sr->n_busy > 0)
        return jsonrpc_app_error("VDI_IN_USE", sr->busy[0], op);
    if (sr->copies_into > 0)
        return jsonrpc_app_error("SR_DEVICE_IN_USE");
    return NULL;
}

/* Detaches sr: unmounts it and forgets it. A file system something else
 * keeps busy (a shell in it) stays mounted and attached: SR_DEVICE_IN_USE,
 * what xapi makes of XCP's SRInUse. */
sd_error *sd_remove_sr(struct storaged *sd, struct sd_sr *sr)
{
    if (sr->mounted && sd_unmount(sr->root) < 0)
        return jsonrpc_app_error("SR_DEVICE_IN_USE");
    if (sd_is_lvm(sr))
        sd_lvm_close(sr->uuid, sd_dc_get(sr->dc, "device"));
    for (size_t i = 0; i < sd->n_srs; i++)
        if (sd->srs[i] == sr) {
            sd->srs[i] = sd->srs[--sd->n_srs];
            break;
        }
    sd_drop_state(sd, sr->uuid);
    log_notice("detached SR %s", sr->uuid);
    sd_sr_free(sr);
    return NULL;
}

/* Brings back one SR recorded by a previous run. */
static void reload_sr(struct storaged *sd, const char *file)
{
    json_object *o = json_object_from_file(file), *dc = NULL, *vdis = NULL, *v;
    const struct sd_driver *drv = NULL;
    struct sd_sr *sr = NULL;
    char *root = NULL;
    bool mounted = false;
    sd_error *e;

    if (!o || !json_object_object_get_ex(o, "sr_uuid", &v) ||
        !uuid_is_valid(json_object_get_string(v)) || strlen(json_object_get_string(v)) != 36) {
        log_error("%s: not a storaged state file: ignored", file);
        json_object_put(o);
        return;
    }
    char uuid[UUID_STR_LEN];
    snprintf(uuid, sizeof(uuid), "%s", json_object_get_string(v));
    json_object_object_get_ex(o, "device_config", &dc);
    json_object *type = NULL;
    json_object_object_get_ex(o, "type", &type);
    if ((e = sd_find_driver(type ? json_object_get_string(type) : "", dc, &drv)) ||
        (e = sd_open_media(sd, drv, uuid, dc, false, &root, &mounted)) ||
        (e = sd_add_sr(sd, drv, uuid, dc, root, mounted, &sr))) {
        log_error("cannot bring back SR %s: %s %s", uuid, e->app_code,
                  e->n_app_params > 1 ? e->app_params[1] : "");
        jsonrpc_error_free(e);
        if (root && mounted)
            sd_unmount(root);
        free(root);
        unlink(file);
        json_object_put(o);
        return;
    }
    if (json_object_object_get_ex(o, "vdis", &vdis) &&
        json_object_is_type(vdis, json_type_object)) {
        json_object_object_foreach(vdis, k, a)
        {
            json_object *rw = NULL, *act = NULL;
            if (!sr_meta_find(&sr->meta, k))
                continue;
            json_object_object_get_ex(a, "read_write", &rw);
            json_object_object_get_ex(a, "active", &act);
            sr->att = xrealloc(sr->att, (sr->n_att + 1) * sizeof(*sr->att));
            struct sd_attach *at = &sr->att[sr->n_att++];
            *at = (struct sd_attach){0};
            snprintf(at->uuid, sizeof(at->uuid), "%s", k);
            at->read_write = rw && json_object_get_boolean(rw);
            at->active = act && json_object_get_boolean(act);
        }
    }
    json_object_put(o);
    free(root);
    sd_save_state(sd, sr);
    log_notice("brought back %s SR %s (%zu VDIs attached)", drv->type, uuid, sr->n_att);
}

int storaged_new(const struct storaged_options *o, struct storaged **ret)
{
    struct storaged *sd = xcalloc(1, sizeof(*sd));
    _cleanup_free_ char *mounts = xasprintf("%s/sr-mounts", o->state_dir);
    const char *f = getenv("STORAGED_FIST");
    int r;

    sd->state_dir = xstrdup(o->state_dir);
    sd->run_dir = xstrdup(o->run_dir);
    sd->stopping = o->stopping;
    sd->userdata = o->userdata;
    sd->fist = f && *f ? xstrdup(f) : NULL;
    pthread_mutex_init(&sd->lock, NULL);
    pthread_mutex_init(&sd->jobs_lock, NULL);
    if ((r = sd_mkdir_p(mounts, 0700)) < 0 || (r = sd_mkdir_p(o->run_dir, 0700)) < 0) {
        storaged_free(sd);
        return log_error_errno(r, "cannot create %s or %s: %m", mounts, o->run_dir);
    }
    DIR *d = opendir(o->run_dir);
    struct dirent *e;
    if (d) {
        while ((e = readdir(d))) {
            size_t len = strlen(e->d_name);
            if (len != 36 + 5 || !streq(e->d_name + 36, ".json"))
                continue;
            _cleanup_free_ char *path = xasprintf("%s/%s", o->run_dir, e->d_name);
            reload_sr(sd, path);
        }
        closedir(d);
    }
    *ret = sd;
    return 0;
}

void storaged_free(struct storaged *sd)
{
    if (!sd)
        return;
    for (size_t i = 0; i < sd->n_srs; i++)
        sd_sr_free(sd->srs[i]);
    free(sd->srs);
    for (size_t i = 0; i < MAX_JOBS; i++) {
        free(sd->jobs[i].id);
        free(sd->jobs[i].error);
    }
    pthread_mutex_destroy(&sd->lock);
    pthread_mutex_destroy(&sd->jobs_lock);
    free(sd->state_dir);
    free(sd->run_dir);
    free(sd->fist);
    free(sd);
}
