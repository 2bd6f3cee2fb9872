/* The SRs and VDIs of this host (see sr.h). Every operation that changes an
 * SR's media is ordered so that a crash at any point leaves what
 * storaged/recover.c can explain: new images are written under a
 * temporary name and renamed into place after the metadata that names
 * them; chain operations (snapshot, clone, delete, coalesce) write a
 * journal into the metadata before their first file step and drop it in
 * the write that commits them. STORAGED_FIST=<point> in the environment
 * makes storaged kill itself at that named point (like XCP's FIST points),
 * which is how the tests crash it mid-operation. */
#include "storaged/sr.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <openssl/sha.h>
#include <pthread.h>
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
#include "storaged/drivers.h"
#include "storaged/errors.h"
#include "storaged/exec.h"
#include "storaged/meta.h"
#include "storaged/qcow2.h"
#include "storaged/recover.h"

LOG_MODULE("sr");

/* XCP-ng's limit for qcow2 VDIs (16,381 GiB). */
#define MAX_VDI_SIZE ((int64_t)16381 << 30)
#define MAX_JOBS 64

struct sd_attach {
    char uuid[UUID_STR_LEN];
    bool read_write;
    bool active;
};

struct sd_sr {
    char uuid[UUID_STR_LEN];
    const struct sd_driver *drv;
    json_object *dc; /* device_config, owned */
    char *root;      /* where the SR's files are */
    bool mounted;    /* root is a mount point storaged made */
    struct sr_meta meta;
    struct sd_attach *att;
    size_t n_att;
    char **busy; /* VDIs being copied from (a multiset) */
    size_t n_busy;
    char **live; /* temporary files being written */
    size_t n_live;
    int copies_into;
};

struct job {
    char *id;
    double progress;
    bool done;
    char *error;
    unsigned long seq; /* for evicting the oldest finished job */
};

struct storaged {
    char *state_dir;
    char *run_dir;
    bool (*stopping)(void *userdata);
    void *userdata;
    char *fist;
    pthread_mutex_t lock;
    struct sd_sr **srs;
    size_t n_srs;
    pthread_mutex_t jobs_lock;
    struct job jobs[MAX_JOBS];
    unsigned long job_seq;
};

static void unlockp(pthread_mutex_t **m)
{
    if (*m)
        pthread_mutex_unlock(*m);
}
#define LOCKED(sd)                                                                                 \
    _cleanup_(unlockp) __attribute__((unused)) pthread_mutex_t *_locked_ = ({                      \
        pthread_mutex_lock(&(sd)->lock);                                                           \
        &(sd)->lock;                                                                               \
    })

static void fist(struct storaged *sd, const char *point)
{
    if (sd->fist && streq(sd->fist, point)) {
        log_warning("fault injection point %s reached: killing storaged", point);
        raise(SIGKILL);
    }
}

/* ---- small helpers ---- */

static const char *dc_get(json_object *dc, const char *key)
{
    json_object *v = NULL;

    if (!dc || !json_object_object_get_ex(dc, key, &v) || !json_object_is_type(v, json_type_string))
        return NULL;
    const char *s = json_object_get_string(v);
    return *s ? s : NULL;
}

static char *path_in(const struct sd_sr *sr, const char *file)
{
    return xasprintf("%s/%s", sr->root, file);
}

static bool file_exists(const char *path)
{
    struct stat st;
    return lstat(path, &st) == 0;
}

static int fsync_path(const char *path)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC), r = 0;

    if (fd < 0)
        return -errno;
    if (fsync(fd) < 0)
        r = -errno;
    close(fd);
    return r;
}

static int64_t allocated(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 ? (int64_t)st.st_blocks * 512 : 0;
}

static bool is_mount_point(const char *path)
{
    struct stat a, b;
    _cleanup_free_ char *parent = xasprintf("%s/..", path);
    return stat(path, &a) == 0 && stat(parent, &b) == 0 && a.st_dev != b.st_dev;
}

static int mkdir_p(const char *path, mode_t mode)
{
    _cleanup_free_ char *p = xstrdup(path);

    for (char *s = p + 1; *s; s++)
        if (*s == '/') {
            *s = '\0';
            if (mkdir(p, mode) < 0 && errno != EEXIST)
                return -errno;
            *s = '/';
        }
    if (mkdir(p, mode) < 0 && errno != EEXIST)
        return -errno;
    return 0;
}

static void add_str(json_object *o, const char *k, const char *v)
{
    json_object_object_add(o, k, json_object_new_string(v));
}

static void add_int(json_object *o, const char *k, int64_t v)
{
    json_object_object_add(o, k, json_object_new_int64(v));
}

static void add_bool(json_object *o, const char *k, bool v)
{
    json_object_object_add(o, k, json_object_new_boolean(v));
}

static sd_error *meta_failure(int r, const char *sr_uuid)
{
    errno = -r;
    return sd_backend_failure(SM_METADATA_ERROR, "cannot write the metadata of SR %s: %m", sr_uuid);
}

/* A tool's failure as a backend error, with what it wrote on stderr. */
static sd_error *tool_failure(enum sm_error code, const char *what, int status, const char *err)
{
    _cleanup_free_ char *line = exec_summary(err ? err : "");

    if (status < 0) {
        errno = -status;
        return sd_backend_failure(code, "%s: %m", what);
    }
    return sd_backend_failure(code, "%s failed (exit status %d): %s", what, status, line);
}

/* Runs a tool; *ret_err (freed first, so one variable serves several
 * runs) gets its stderr. */
static int run(const char *const *argv, char **ret_err)
{
    free(*ret_err);
    *ret_err = NULL;
    return exec_run(argv, NULL, NULL, ret_err);
}

/* ---- JSON answers ---- */

static json_object *sr_info(const struct sd_sr *sr, const struct sr_meta *m, const char *root)
{
    json_object *o = json_object_new_object();
    struct statvfs vfs;
    int64_t size = 0, used = 0, virt = 0;

    if (statvfs(root, &vfs) == 0) {
        size = (int64_t)vfs.f_blocks * (int64_t)vfs.f_frsize;
        used = (int64_t)(vfs.f_blocks - vfs.f_bfree) * (int64_t)vfs.f_frsize;
    }
    for (size_t i = 0; i < m->n_vdis; i++)
        virt += m->vdis[i].virtual_size;
    if (streq(m->type, "iso"))
        used = virt; /* an ISO library's size is its images, not the whole share */
    add_str(o, "uuid", m->uuid);
    add_str(o, "type", m->type);
    add_str(o, "name_label", m->name_label);
    add_str(o, "name_description", m->name_description);
    add_int(o, "physical_size", size);
    add_int(o, "physical_utilisation", used);
    add_int(o, "virtual_allocation", virt);
    add_str(o, "content_type", m->content_type);
    add_bool(o, "shared", m->shared);
    (void)sr;
    return o;
}

static json_object *vdi_info(const char *root, const struct vdi_meta *v)
{
    json_object *o = json_object_new_object();
    _cleanup_free_ char *path = xasprintf("%s/%s", root, v->file);

    add_str(o, "uuid", v->uuid);
    add_str(o, "name_label", v->name_label);
    add_str(o, "name_description", v->name_description);
    add_int(o, "virtual_size", v->virtual_size);
    add_int(o, "physical_utilisation", allocated(path));
    add_str(o, "parent", v->parent);
    add_bool(o, "is_a_snapshot", v->is_a_snapshot);
    add_str(o, "snapshot_of", v->snapshot_of);
    add_str(o, "snapshot_time", v->snapshot_time);
    add_bool(o, "sharable", v->sharable);
    add_bool(o, "read_only", v->read_only);
    add_bool(o, "managed", v->managed);
    add_str(o, "location", v->file);
    add_str(o, "format", v->format);
    return o;
}

/* ---- the SR table and runtime state ---- */

static struct sd_sr *find_sr(struct storaged *sd, const char *uuid)
{
    for (size_t i = 0; i < sd->n_srs; i++)
        if (streq(sd->srs[i]->uuid, uuid))
            return sd->srs[i];
    return NULL;
}

static sd_error *get_sr(struct storaged *sd, const char *uuid, struct sd_sr **ret)
{
    struct sd_sr *sr = find_sr(sd, uuid);

    if (!sr)
        return jsonrpc_app_error("SR_NOT_ATTACHED", uuid);
    *ret = sr;
    return NULL;
}

static sd_error *get_vdi(struct sd_sr *sr, const char *uuid, struct vdi_meta **ret)
{
    struct vdi_meta *v = sr_meta_find(&sr->meta, uuid);

    if (!v)
        return jsonrpc_app_error("VDI_MISSING", sr->uuid, uuid);
    *ret = v;
    return NULL;
}

static struct sd_attach *find_att(const struct sd_sr *sr, const char *vdi)
{
    for (size_t i = 0; i < sr->n_att; i++)
        if (streq(sr->att[i].uuid, vdi))
            return &sr->att[i];
    return NULL;
}

static bool vdi_busy(const char *uuid, void *userdata)
{
    const struct sd_sr *sr = userdata;

    if (find_att(sr, uuid))
        return true;
    for (size_t i = 0; i < sr->n_busy; i++)
        if (streq(sr->busy[i], uuid))
            return true;
    return false;
}

static void sr_free(struct sd_sr *sr)
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
DEFINE_CLEANUP_FUNC(struct sd_sr, sr_free)

static void strv_add(char ***v, size_t *n, const char *s)
{
    *v = xrealloc(*v, (*n + 1) * sizeof(**v));
    (*v)[(*n)++] = xstrdup(s);
}

static void strv_remove(char **v, size_t *n, const char *s)
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
static void save_state(struct storaged *sd, const struct sd_sr *sr)
{
    _cleanup_free_ char *path = state_path(sd, sr->uuid);
    _cleanup_free_ char *tmp = xasprintf("%s.tmp", path);
    json_object *o = json_object_new_object();
    json_object *vdis = json_object_new_object();

    add_str(o, "sr_uuid", sr->uuid);
    add_str(o, "type", sr->drv->type);
    json_object_object_add(o, "device_config", json_object_get(sr->dc));
    add_str(o, "root", sr->root);
    add_bool(o, "mounted", sr->mounted);
    for (size_t i = 0; i < sr->n_att; i++) {
        json_object *a = json_object_new_object();
        add_bool(a, "read_write", sr->att[i].read_write);
        add_bool(a, "active", sr->att[i].active);
        json_object_object_add(vdis, sr->att[i].uuid, a);
    }
    json_object_object_add(o, "vdis", vdis);
    if (json_object_to_file_ext(tmp, o, JSON_C_TO_STRING_PLAIN) < 0 || rename(tmp, path) < 0)
        log_error("cannot write %s: %s", path, strerror(errno));
    json_object_put(o);
}

static void drop_state(struct storaged *sd, const char *uuid)
{
    _cleanup_free_ char *path = state_path(sd, uuid);
    unlink(path);
}

static char *mount_point(struct storaged *sd, const char *uuid)
{
    return xasprintf("%s/sr-mounts/%s", sd->state_dir, uuid);
}

/* ---- ISO libraries ---- */

/* A stable uuid for an ISO file: name-based (version 5 style) from the SR
 * uuid and the file name, so every scan, on every host, gives the same. */
static void iso_uuid(const char *sr_uuid, const char *name, char out[UUID_STR_LEN])
{
    unsigned char md[SHA_DIGEST_LENGTH];
    _cleanup_free_ char *key = xasprintf("%s/%s", sr_uuid, name);

    SHA1((const unsigned char *)key, strlen(key), md);
    md[6] = (md[6] & 0x0f) | 0x50;
    md[8] = (md[8] & 0x3f) | 0x80;
    snprintf(out, UUID_STR_LEN,
             "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x", md[0], md[1],
             md[2], md[3], md[4], md[5], md[6], md[7], md[8], md[9], md[10], md[11], md[12], md[13],
             md[14], md[15]);
}

static bool iso_name(const char *name)
{
    size_t len = strlen(name);
    return len > 4 && name[0] != '.' &&
           (strcasecmp(name + len - 4, ".iso") == 0 || strcasecmp(name + len - 4, ".img") == 0);
}

/* Rebuilds an ISO SR's VDI list from the files in its folder. */
static int iso_scan(struct sd_sr *sr)
{
    DIR *d = opendir(sr->root);
    struct dirent *e;

    if (!d)
        return -errno;
    while (sr->meta.n_vdis)
        sr_meta_remove(&sr->meta, sr->meta.vdis[0].uuid);
    while ((e = readdir(d))) {
        _cleanup_free_ char *path = path_in(sr, e->d_name);
        char uuid[UUID_STR_LEN];
        struct stat st;

        if (!iso_name(e->d_name) || stat(path, &st) < 0 || !S_ISREG(st.st_mode) ||
            !utf8_is_valid(e->d_name, strlen(e->d_name)))
            continue;
        iso_uuid(sr->uuid, e->d_name, uuid);
        struct vdi_meta *v = sr_meta_add(&sr->meta, uuid);
        meta_set_str(&v->name_label, e->d_name);
        meta_set_str(&v->file, e->d_name);
        snprintf(v->format, sizeof(v->format), "iso");
        v->virtual_size = st.st_size;
        v->read_only = true;
    }
    closedir(d);
    return 0;
}

/* ---- media: checking device_config, mounting ---- */

/* Checks device_config for the driver; for ext, that device is a block
 * device. */
static sd_error *check_dc(const struct sd_driver *drv, json_object *dc)
{
    if (streq(drv->type, "file") || streq(drv->type, "iso")) {
        const char *loc = dc_get(dc, "location");
        if (!loc)
            return sd_backend_failure(SM_CONFIG_LOCATION_MISSING,
                                      "The request is missing the location parameter");
        if (streq(drv->type, "file") && loc[0] != '/')
            return sd_backend_failure(SM_FILE_SR_CREATE,
                                      "location must be an absolute path, not %s", loc);
        if (streq(drv->type, "iso") && loc[0] != '/' && !strchr(loc, ':'))
            return sd_backend_failure(SM_ISO_LOCAL_PATH,
                                      "Invalid local path %s: give an absolute path or "
                                      "server:/path",
                                      loc);
        return NULL;
    }
    if (streq(drv->type, "ext")) {
        const char *dev = dc_get(dc, "device");
        struct stat st;
        if (!dev)
            return sd_backend_failure(SM_CONFIG_DEVICE_MISSING,
                                      "The request is missing the device parameter");
        if (stat(dev, &st) < 0 || !S_ISBLK(st.st_mode))
            return sd_backend_failure(SM_CONFIG_DEVICE_INVALID,
                                      "The device is not a valid path: %s is not a block device",
                                      dev);
        return NULL;
    }
    if (streq(drv->type, "nfs")) {
        const char *server = dc_get(dc, "server"), *path = dc_get(dc, "serverpath");
        const char *vers = dc_get(dc, "nfsversion");
        if (!server)
            return sd_backend_failure(SM_CONFIG_SERVER_MISSING,
                                      "The request is missing the server parameter");
        if (!path)
            return sd_backend_failure(SM_CONFIG_SERVER_PATH_MISSING,
                                      "The request is missing the serverpath parameter");
        if (path[0] != '/')
            return sd_backend_failure(SM_CONFIG_SERVER_PATH_BAD,
                                      "The serverpath argument is not valid: %s", path);
        if (vers && !streq(vers, "3") && !streq(vers, "4") && !streq(vers, "4.0") &&
            !streq(vers, "4.1") && !streq(vers, "4.2"))
            return sd_backend_failure(SM_NFS_VERSION,
                                      "Required NFS server version unsupported: %s (3, 4, 4.0, "
                                      "4.1 or 4.2)",
                                      vers);
        return NULL;
    }
    return sd_backend_failure(SM_UNIMPLEMENTED,
                              "The %s driver is not implemented by this storaged: SRs of type "
                              "%s cannot be used yet",
                              drv->type, drv->type);
}

static sd_error *find_driver(const char *type, json_object *dc, const struct sd_driver **ret)
{
    const struct sd_driver *drv = sd_driver_find(type);
    sd_error *e;

    if (!drv)
        return jsonrpc_app_error("SR_UNKNOWN_DRIVER", type);
    if ((e = check_dc(drv, dc)))
        return e;
    *ret = drv;
    return NULL;
}

static sd_error *mount_ext(const char *dev, const char *mp, bool ro)
{
    int r = mkdir_p(mp, 0700);

    if (r < 0) {
        errno = -r;
        return sd_backend_failure(SM_SR_UNAVAILABLE, "cannot create %s: %m", mp);
    }
    if (mount(dev, mp, "ext4", ro ? MS_RDONLY : MS_NOATIME, NULL) < 0) {
        sd_error *e = sd_backend_failure(SM_SR_UNAVAILABLE, "cannot mount %s as ext4: %s", dev,
                                         strerror(errno));
        rmdir(mp);
        return e;
    }
    return NULL;
}

/* Mounts remote (server:/path) over NFS at mp with XCP's options: a soft
 * TCP mount, so a dead server fails calls instead of hanging them. */
static sd_error *mount_nfs(const char *remote, const char *vers, bool ro, const char *mp,
                           enum sm_error code)
{
    _cleanup_free_ char *opts =
        xasprintf("%ssoft,proto=tcp,timeo=200,retrans=4,acdirmin=0,acdirmax=0,vers=%s",
                  ro ? "ro," : "", vers ? vers : "3");
    _cleanup_free_ char *err = NULL;
    const char *argv[] = {"mount", "-t", "nfs", "-o", opts, remote, mp, NULL};
    int r = mkdir_p(mp, 0700);

    if (r < 0) {
        errno = -r;
        return sd_backend_failure(code, "cannot create %s: %m", mp);
    }
    r = run(argv, &err);
    if (r != 0) {
        rmdir(mp);
        return tool_failure(code,
                            code == SM_NFS_MOUNT ? "NFS mount error: mount"
                                                 : "Could not mount the directory "
                                                   "specified in Device Configuration: "
                                                   "mount",
                            r, err);
    }
    return NULL;
}

/* server:path for mount, with brackets around an IPv6 address. */
static char *nfs_remote(json_object *dc, const char *sub)
{
    const char *server = dc_get(dc, "server");
    return xasprintf(strchr(server, ':') ? "[%s]:%s%s%s" : "%s:%s%s%s", server,
                     dc_get(dc, "serverpath"), sub ? "/" : "", sub ? sub : "");
}

/* Unmounts mp and removes it. Returns 0, or a negative errno (logged) when
 * something keeps the file system busy; then mp stays mounted. */
static int unmount(const char *mp)
{
    if (umount2(mp, 0) < 0 && errno != EINVAL && errno != ENOENT)
        return log_warning_errno(-errno, "cannot unmount %s: %m", mp);
    rmdir(mp);
    return 0;
}

/* Makes the SR's media reachable: *ret_root is where its files are and
 * *ret_mounted whether storaged mounted it there. */
static sd_error *open_media(struct storaged *sd, const struct sd_driver *drv, const char *uuid,
                            json_object *dc, bool ro, char **ret_root, bool *ret_mounted)
{
    struct stat st;
    sd_error *e;

    if (streq(drv->type, "ext") || streq(drv->type, "nfs") ||
        (streq(drv->type, "iso") && dc_get(dc, "location")[0] != '/')) {
        _cleanup_free_ char *mp = mount_point(sd, uuid);
        if (!is_mount_point(mp)) {
            if (streq(drv->type, "ext")) {
                e = mount_ext(dc_get(dc, "device"), mp, ro);
            } else if (streq(drv->type, "nfs")) {
                /* Each NFS SR is a folder of its own under serverpath. */
                _cleanup_free_ char *remote = nfs_remote(dc, uuid);
                e = mount_nfs(remote, dc_get(dc, "nfsversion"), ro, mp, SM_NFS_MOUNT);
            } else {
                e = mount_nfs(dc_get(dc, "location"), dc_get(dc, "nfsversion"), true, mp,
                              SM_ISO_MOUNT_FAILURE);
            }
            if (e)
                return e;
        }
        *ret_root = TAKE_PTR(mp);
        *ret_mounted = true;
        return NULL;
    }
    const char *loc = dc_get(dc, "location");
    if (stat(loc, &st) < 0 || !S_ISDIR(st.st_mode))
        return streq(drv->type, "iso")
                   ? sd_backend_failure(SM_ISO_LOCAL_PATH, "Invalid local path %s: %s", loc,
                                        strerror(errno ? errno : ENOTDIR))
                   : sd_backend_failure(SM_SR_UNAVAILABLE, "The SR is not available: %s: %s", loc,
                                        strerror(errno ? errno : ENOTDIR));
    *ret_root = xstrdup(loc);
    *ret_mounted = false;
    return NULL;
}

/* Reads the SR metadata at root and checks it is the SR uuid. */
static sd_error *read_meta(const char *root, const char *uuid, struct sr_meta *ret)
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

static int recover(struct sd_sr *sr)
{
    if (streq(sr->drv->type, "iso"))
        return 0;
    return sr_recover(sr->root, &sr->meta, (const char *const *)sr->live, sr->n_live, NULL);
}

/* After a failed chain operation: the metadata on the media still holds
 * its journal; reading it back and recovering undoes the operation. */
static void roll_back(struct sd_sr *sr)
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
    if (recover(sr) < 0)
        log_error("SR %s: the roll back could not save the metadata", sr->uuid);
}

/* ---- garbage collection ---- */

static sd_error *delete_image(struct storaged *sd, struct sd_sr *sr, const char *uuid)
{
    struct vdi_meta *v = sr_meta_find(&sr->meta, uuid);
    _cleanup_free_ char *path = path_in(sr, v->file);
    int r;

    sr->meta.journal = (struct sr_journal){.op = "delete"};
    memcpy(sr->meta.journal.vdi, uuid, UUID_STR_LEN);
    if ((r = sr_meta_save(sr->root, &sr->meta)) < 0) {
        memset(&sr->meta.journal, 0, sizeof(sr->meta.journal));
        return meta_failure(r, sr->uuid);
    }
    fist(sd, "delete-journaled");
    if (unlink(path) < 0 && errno != ENOENT) {
        sd_error *e =
            sd_backend_failure(SM_VDI_REMOVE, "Failed to remove VDI %s: %s", uuid, strerror(errno));
        roll_back(sr);
        return e;
    }
    fist(sd, "delete-unlinked");
    sr_meta_remove(&sr->meta, uuid);
    memset(&sr->meta.journal, 0, sizeof(sr->meta.journal));
    if ((r = sr_meta_save(sr->root, &sr->meta)) < 0) {
        roll_back(sr);
        return meta_failure(r, sr->uuid);
    }
    return NULL;
}

/* Merges the hidden node base into its only child: the child's data is
 * committed into the base's image, which then replaces the child's. */
static sd_error *coalesce(struct storaged *sd, struct sd_sr *sr, const char *base_uuid,
                          const char *child_uuid)
{
    struct vdi_meta *b = sr_meta_find(&sr->meta, base_uuid);
    struct vdi_meta *c = sr_meta_find(&sr->meta, child_uuid);
    _cleanup_free_ char *bpath = path_in(sr, b->file);
    _cleanup_free_ char *cpath = path_in(sr, c->file);
    _cleanup_free_ char *err = NULL;
    char size[32];
    int r;

    sr->meta.journal = (struct sr_journal){.op = "coalesce"};
    memcpy(sr->meta.journal.vdi, child_uuid, UUID_STR_LEN);
    memcpy(sr->meta.journal.base, base_uuid, UUID_STR_LEN);
    if ((r = sr_meta_save(sr->root, &sr->meta)) < 0) {
        memset(&sr->meta.journal, 0, sizeof(sr->meta.journal));
        return meta_failure(r, sr->uuid);
    }
    if (c->virtual_size > b->virtual_size) {
        snprintf(size, sizeof(size), "%lld", (long long)c->virtual_size);
        const char *argv[] = {"qemu-img", "resize", "-q", "-f", "qcow2", bpath, size, NULL};
        if ((r = run(argv, &err)) != 0) {
            roll_back(sr);
            return tool_failure(SM_VDI_RESIZE, "qemu-img resize", r, err);
        }
        free(TAKE_PTR(err));
    }
    const char *argv[] = {"qemu-img", "commit", "-q", "-d", "-f", "qcow2", cpath, NULL};
    if ((r = run(argv, &err)) != 0) {
        roll_back(sr);
        return tool_failure(SM_EIO, "qemu-img commit", r, err);
    }
    if ((r = fsync_path(bpath)) < 0)
        log_warning_errno(r, "cannot fsync %s: %m", bpath);
    fist(sd, "coalesce-committed");
    if (rename(bpath, cpath) < 0) {
        sd_error *e = sd_backend_failure(SM_EIO, "cannot rename %s: %s", bpath, strerror(errno));
        roll_back(sr);
        return e;
    }
    fist(sd, "coalesce-renamed");
    memcpy(c->parent, b->parent, sizeof(c->parent));
    sr_meta_remove(&sr->meta, base_uuid);
    memset(&sr->meta.journal, 0, sizeof(sr->meta.journal));
    if ((r = sr_meta_save(sr->root, &sr->meta)) < 0) {
        roll_back(sr);
        return meta_failure(r, sr->uuid);
    }
    log_info("SR %s: merged %s into %s", sr->uuid, base_uuid, child_uuid);
    return NULL;
}

/* Runs garbage collection until nothing is left to do, or a step fails
 * (logged: the SR stays consistent and the next scan tries again). */
static void gc(struct storaged *sd, struct sd_sr *sr)
{
    for (;;) {
        const char *node, *child;
        char n[UUID_STR_LEN], c[UUID_STR_LEN];
        sd_error *e = NULL;

        enum chain_gc_action a = chain_gc_next(&sr->meta, vdi_busy, sr, &node, &child);
        if (a == CHAIN_GC_NONE)
            return;
        snprintf(n, sizeof(n), "%s", node);
        if (a == CHAIN_GC_DELETE) {
            e = delete_image(sd, sr, n);
        } else {
            snprintf(c, sizeof(c), "%s", child);
            e = coalesce(sd, sr, n, c);
        }
        if (e) {
            log_error("SR %s: garbage collection stopped: %s %s", sr->uuid, e->app_code,
                      e->n_app_params > 1 ? e->app_params[1] : "");
            jsonrpc_error_free(e);
            return;
        }
    }
}

/* ---- SR operations ---- */

/* The SRs of an NFS export: the folders under serverpath that hold the
 * metadata of an nfs SR. */
static sd_error *probe_nfs(struct storaged *sd, json_object *dc, const char *name,
                           json_object **ret)
{
    _cleanup_free_ char *mp = mount_point(sd, name);
    _cleanup_free_ char *remote = nfs_remote(dc, NULL);
    struct dirent *de;
    sd_error *e;
    DIR *d;

    if ((e = mount_nfs(remote, dc_get(dc, "nfsversion"), true, mp, SM_NFS_MOUNT)))
        return e;
    json_object *a = json_object_new_array();
    if ((d = opendir(mp))) {
        while ((de = readdir(d))) {
            _cleanup_free_ char *dir = xasprintf("%s/%s", mp, de->d_name);
            struct sr_meta m;
            if (!uuid_is_valid(de->d_name) || sr_meta_load(dir, &m, NULL) < 0)
                continue;
            if (streq(m.type, "nfs") && streq(m.uuid, de->d_name))
                json_object_array_add(a, sr_info(NULL, &m, dir));
            sr_meta_done(&m);
        }
        closedir(d);
    }
    unmount(mp);
    *ret = a;
    return NULL;
}

sd_error *sd_sr_probe(struct storaged *sd, const char *type, json_object *dc, json_object **ret)
{
    const struct sd_driver *drv = NULL;
    _cleanup_free_ char *root = NULL;
    _cleanup_free_ char *probe_uuid = NULL;
    bool mounted = false;
    struct sr_meta m;
    sd_error *e;
    char tmp[UUID_STR_LEN];
    LOCKED(sd);

    if ((e = find_driver(type, dc, &drv)))
        return e;
    /* A probe mounts read-only at a mount point of its own. */
    uuid_generate_str(tmp);
    probe_uuid = xasprintf(".probe-%s", tmp);
    if (streq(drv->type, "nfs"))
        return probe_nfs(sd, dc, probe_uuid, ret);
    if ((e = open_media(sd, drv, probe_uuid, dc, true, &root, &mounted))) {
        /* An ext device without a file system holds no SR. */
        if (streq(drv->type, "ext")) {
            jsonrpc_error_free(e);
            *ret = json_object_new_array();
            return NULL;
        }
        return e;
    }
    json_object *a = json_object_new_array();
    if (!streq(drv->type, "iso") && sr_meta_load(root, &m, NULL) == 0) {
        if (streq(m.type, drv->type))
            json_object_array_add(a, sr_info(NULL, &m, root));
        sr_meta_done(&m);
    }
    if (mounted)
        unmount(root);
    *ret = a;
    return NULL;
}

/* Refuses media that already hold an SR. */
static sd_error *check_no_sr(const char *root)
{
    struct sr_meta old;

    if (sr_meta_load(root, &old, NULL) == -ENOENT)
        return NULL;
    sd_error *e = old.uuid[0]
                      ? sd_backend_failure(SM_SR_EXISTS, "The SR already exists: %s holds SR %s",
                                           root, old.uuid)
                      : sd_backend_failure(SM_SR_EXISTS,
                                           "The SR already exists: %s holds SR "
                                           "metadata",
                                           root);
    sr_meta_done(&old);
    return e;
}

static sd_error *create_ext(struct storaged *sd, json_object *dc, const struct sr_meta *m,
                            json_object **ret)
{
    const char *dev = dc_get(dc, "device");
    _cleanup_free_ char *mp = mount_point(sd, m->uuid);
    _cleanup_free_ char *err = NULL;
    sd_error *e;
    int r;

    if (is_mount_point(mp))
        return jsonrpc_app_error("SR_DEVICE_IN_USE");
    /* A file system that mounts and holds SR metadata is an SR already. */
    if (!mount_ext(dev, mp, true)) {
        e = check_no_sr(mp);
        unmount(mp);
        if (e)
            return e;
    }
    const char *argv[] = {"mkfs.ext4", "-F", "-q", "-m", "0", dev, NULL};
    if ((r = run(argv, &err)) != 0)
        return tool_failure(SM_LVM_FILESYSTEM, "mkfs.ext4", r, err);
    if ((e = mount_ext(dev, mp, false)))
        return e;
    if ((r = sr_meta_save(mp, m)) < 0)
        e = meta_failure(r, m->uuid);
    else
        *ret = sr_info(NULL, m, mp);
    unmount(mp);
    return e;
}

/* An NFS SR is the folder <serverpath>/<sr_uuid> on the server, made here
 * with the SR's metadata in it, as XCP's NFSSR does. */
static sd_error *create_nfs(struct storaged *sd, json_object *dc, const struct sr_meta *m,
                            json_object **ret)
{
    _cleanup_free_ char *name = xasprintf(".create-%s", m->uuid);
    _cleanup_free_ char *mp = mount_point(sd, name);
    _cleanup_free_ char *remote = nfs_remote(dc, NULL);
    _cleanup_free_ char *dir = xasprintf("%s/%s", mp, m->uuid);
    sd_error *e;
    int r;

    if ((e = mount_nfs(remote, dc_get(dc, "nfsversion"), false, mp, SM_NFS_MOUNT)))
        return e;
    if (mkdir(dir, 0700) < 0 && errno != EEXIST)
        e = sd_backend_failure(SM_NFS_CREATE, "NFS SR creation error: %s/%s: %s", remote, m->uuid,
                               strerror(errno));
    else if (!(e = check_no_sr(dir))) {
        if ((r = sr_meta_save(dir, m)) < 0)
            e = meta_failure(r, m->uuid);
        else
            *ret = sr_info(NULL, m, dir);
    }
    unmount(mp);
    return e;
}

/* Removes an NFS SR's folder from the server once it is empty. */
static void remove_nfs_folder(struct storaged *sd, json_object *dc, const char *sr_uuid)
{
    _cleanup_free_ char *name = xasprintf(".delete-%s", sr_uuid);
    _cleanup_free_ char *mp = mount_point(sd, name);
    _cleanup_free_ char *remote = nfs_remote(dc, NULL);
    _cleanup_free_ char *dir = xasprintf("%s/%s", mp, sr_uuid);
    sd_error *e = mount_nfs(remote, dc_get(dc, "nfsversion"), false, mp, SM_NFS_MOUNT);

    if (e) {
        log_warning("SR %s: cannot remove its folder from %s: %s", sr_uuid, remote,
                    e->n_app_params > 1 ? e->app_params[1] : e->app_code);
        jsonrpc_error_free(e);
        return;
    }
    if (rmdir(dir) < 0)
        log_warning("SR %s: cannot remove %s: %m", sr_uuid, dir);
    unmount(mp);
}

sd_error *sd_sr_create(struct storaged *sd, const char *type, const char *sr_uuid, json_object *dc,
                       const struct sd_names *names, bool shared, json_object **ret)
{
    const struct sd_driver *drv = NULL;
    _cleanup_free_ char *root = NULL;
    struct sr_meta m;
    bool mounted;
    sd_error *e;
    int r;
    LOCKED(sd);

    if ((e = find_driver(type, dc, &drv)))
        return e;
    if (find_sr(sd, sr_uuid))
        return sd_backend_failure(SM_SR_EXISTS, "The SR already exists: %s is attached", sr_uuid);
    sr_meta_init(&m);
    memcpy(m.uuid, sr_uuid, UUID_STR_LEN);
    snprintf(m.type, sizeof(m.type), "%s", drv->type);
    meta_set_str(&m.name_label, names->name_label ? names->name_label : "");
    meta_set_str(&m.name_description, names->name_description ? names->name_description : "");
    meta_set_str(&m.content_type, drv->content_type);
    m.shared = shared;

    if (streq(drv->type, "iso")) {
        /* An ISO library is someone else's folder: nothing is written to
         * it; checking that it can be reached is the whole creation. */
        if (!(e = open_media(sd, drv, sr_uuid, dc, true, &root, &mounted))) {
            *ret = sr_info(NULL, &m, root);
            if (mounted)
                unmount(root);
        }
    } else if (streq(drv->type, "ext")) {
        e = create_ext(sd, dc, &m, ret);
    } else if (streq(drv->type, "nfs")) {
        e = create_nfs(sd, dc, &m, ret);
    } else {
        const char *loc = dc_get(dc, "location");
        if (mkdir(loc, 0700) < 0 && errno != EEXIST)
            e = sd_backend_failure(SM_FILE_SR_CREATE, "File SR creation error: %s: %s", loc,
                                   strerror(errno));
        else if (!(e = check_no_sr(loc))) {
            if ((r = sr_meta_save(loc, &m)) < 0)
                e = meta_failure(r, sr_uuid);
            else
                *ret = sr_info(NULL, &m, loc);
        }
    }
    if (!e)
        log_notice("created %s SR %s", drv->type, sr_uuid);
    sr_meta_done(&m);
    return e;
}

/* Loads an SR whose media are open at root (copied) into the table. */
static sd_error *add_sr(struct storaged *sd, const struct sd_driver *drv, const char *uuid,
                        json_object *dc, const char *root, bool mounted, struct sd_sr **ret)
{
    _cleanup_(sr_freep) struct sd_sr *sr = xcalloc(1, sizeof(*sr));
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
        int r = iso_scan(sr);
        if (r < 0) {
            errno = -r;
            return sd_backend_failure(SM_ISO_LOCAL_PATH, "cannot read %s: %m", root);
        }
    } else {
        if ((e = read_meta(root, uuid, &sr->meta)))
            return e;
        if (!streq(sr->meta.type, drv->type)) {
            return sd_backend_failure(SM_SR_UNAVAILABLE,
                                      "The SR is not available: SR %s is of type %s, not %s", uuid,
                                      sr->meta.type, drv->type);
        }
        if (recover(sr) < 0)
            return sd_backend_failure(SM_METADATA_ERROR, "cannot recover SR %s", uuid);
    }
    sd->srs = xrealloc(sd->srs, (sd->n_srs + 1) * sizeof(*sd->srs));
    sd->srs[sd->n_srs++] = sr;
    *ret = TAKE_PTR(sr);
    return NULL;
}

sd_error *sd_sr_attach(struct storaged *sd, const char *type, const char *sr_uuid, json_object *dc,
                       json_object **ret)
{
    const struct sd_driver *drv = NULL;
    struct sd_sr *sr = NULL;
    char *root = NULL;
    bool mounted;
    sd_error *e;
    LOCKED(sd);

    sr = find_sr(sd, sr_uuid);
    if (sr) {
        if (!streq(sr->drv->type, type))
            return sd_backend_failure(SM_SR_UNAVAILABLE, "SR %s is attached with type %s, not %s",
                                      sr_uuid, sr->drv->type, type);
        *ret = sr_info(sr, &sr->meta, sr->root);
        return NULL;
    }
    if ((e = find_driver(type, dc, &drv)))
        return e;
    if ((e = open_media(sd, drv, sr_uuid, dc, false, &root, &mounted)))
        return e;
    if ((e = add_sr(sd, drv, sr_uuid, dc, root, mounted, &sr))) {
        if (mounted)
            unmount(root);
        free(root);
        return e;
    }
    free(root);
    save_state(sd, sr);
    log_notice("attached %s SR %s at %s", type, sr_uuid, sr->root);
    *ret = sr_info(sr, &sr->meta, sr->root);
    return NULL;
}

/* Refuses to let an SR go while something of it is in use. */
static sd_error *check_sr_idle(const struct sd_sr *sr, const char *op)
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
static sd_error *remove_sr(struct storaged *sd, struct sd_sr *sr)
{
    if (sr->mounted && unmount(sr->root) < 0)
        return jsonrpc_app_error("SR_DEVICE_IN_USE");
    for (size_t i = 0; i < sd->n_srs; i++)
        if (sd->srs[i] == sr) {
            sd->srs[i] = sd->srs[--sd->n_srs];
            break;
        }
    drop_state(sd, sr->uuid);
    log_notice("detached SR %s", sr->uuid);
    sr_free(sr);
    return NULL;
}

sd_error *sd_sr_detach(struct storaged *sd, const char *sr_uuid)
{
    struct sd_sr *sr = NULL;
    sd_error *e;
    LOCKED(sd);

    sr = find_sr(sd, sr_uuid);
    if (!sr)
        return NULL;
    if ((e = check_sr_idle(sr, "unplug")))
        return e;
    return remove_sr(sd, sr);
}

sd_error *sd_sr_list(struct storaged *sd, json_object **ret)
{
    json_object *a = json_object_new_array();
    LOCKED(sd);

    for (size_t i = 0; i < sd->n_srs; i++) {
        json_object *o = json_object_new_object();
        add_str(o, "sr_uuid", sd->srs[i]->uuid);
        add_str(o, "type", sd->srs[i]->drv->type);
        json_object_object_add(o, "device_config", json_object_get(sd->srs[i]->dc));
        json_object_array_add(a, o);
    }
    *ret = a;
    return NULL;
}

sd_error *sd_sr_scan(struct storaged *sd, const char *sr_uuid, json_object **ret)
{
    struct sd_sr *sr = NULL;
    sd_error *e;
    LOCKED(sd);

    if ((e = get_sr(sd, sr_uuid, &sr)))
        return e;
    if (streq(sr->drv->type, "iso")) {
        int r = iso_scan(sr);
        if (r < 0) {
            errno = -r;
            return sd_backend_failure(SM_SR_UNAVAILABLE, "The SR is not available: %s: %m",
                                      sr->root);
        }
    } else {
        /* The media are the truth: their metadata is read again, so media
         * that went away (an unmounted folder) fail the scan rather than
         * look empty, and a size changed behind storaged's back (or by a
         * resize that crashed before its commit) is taken from the image. */
        struct sr_meta fresh;
        if ((e = read_meta(sr->root, sr_uuid, &fresh)))
            return e;
        sr_meta_done(&sr->meta);
        sr->meta = fresh;
        int r = recover(sr);
        if (r < 0)
            return meta_failure(r, sr_uuid);
        gc(sd, sr);
        bool changed = false;
        for (size_t i = 0; i < sr->meta.n_vdis; i++) {
            struct vdi_meta *v = &sr->meta.vdis[i];
            _cleanup_free_ char *path = path_in(sr, v->file);
            int64_t size;
            struct stat st;
            if (streq(v->format, "qcow2") && qcow2_read_header(path, &size, NULL) == 0)
                ;
            else if (!streq(v->format, "qcow2") && stat(path, &st) == 0)
                size = st.st_size;
            else
                continue;
            if (size != v->virtual_size) {
                v->virtual_size = size;
                changed = true;
            }
        }
        if (changed && (r = sr_meta_save(sr->root, &sr->meta)) < 0)
            return meta_failure(r, sr_uuid);
    }
    json_object *o = json_object_new_object();
    json_object *vdis = json_object_new_array_ext((int)sr->meta.n_vdis);
    json_object_object_add(o, "sr", sr_info(sr, &sr->meta, sr->root));
    for (size_t i = 0; i < sr->meta.n_vdis; i++)
        json_object_array_add(vdis, vdi_info(sr->root, &sr->meta.vdis[i]));
    json_object_object_add(o, "vdis", vdis);
    *ret = o;
    return NULL;
}

sd_error *sd_sr_update(struct storaged *sd, const char *sr_uuid, const struct sd_names *names,
                       json_object **ret)
{
    struct sd_sr *sr = NULL;
    sd_error *e;
    LOCKED(sd);

    if ((e = get_sr(sd, sr_uuid, &sr)))
        return e;
    if (names->name_label)
        meta_set_str(&sr->meta.name_label, names->name_label);
    if (names->name_description)
        meta_set_str(&sr->meta.name_description, names->name_description);
    /* An ISO library keeps no metadata: its names live with xapi. */
    if (!streq(sr->drv->type, "iso")) {
        int r = sr_meta_save(sr->root, &sr->meta);
        if (r < 0)
            return meta_failure(r, sr_uuid);
    }
    *ret = sr_info(sr, &sr->meta, sr->root);
    return NULL;
}

sd_error *sd_sr_delete(struct storaged *sd, const char *sr_uuid)
{
    struct sd_sr *sr = NULL;
    sd_error *e;
    LOCKED(sd);

    if ((e = get_sr(sd, sr_uuid, &sr)))
        return e;
    if ((e = check_sr_idle(sr, "destroy")))
        return e;
    if (streq(sr->drv->type, "iso"))
        return remove_sr(sd, sr);
    for (size_t i = 0; i < sr->meta.n_vdis; i++)
        if (sr->meta.vdis[i].managed)
            return jsonrpc_app_error("SR_NOT_EMPTY");
    /* What is left are hidden nodes GC could not remove yet. */
    for (size_t i = 0; i < sr->meta.n_vdis; i++) {
        _cleanup_free_ char *path = path_in(sr, sr->meta.vdis[i].file);
        if (unlink(path) < 0 && errno != ENOENT)
            return sd_backend_failure(SM_FILE_SR_DELETE, "File SR deletion error: %s: %s", path,
                                      strerror(errno));
    }
    _cleanup_free_ char *meta = path_in(sr, SR_META_FILE);
    if (unlink(meta) < 0 && errno != ENOENT)
        return sd_backend_failure(SM_FILE_SR_DELETE, "File SR deletion error: %s: %s", meta,
                                  strerror(errno));
    if (streq(sr->drv->type, "file")) {
        if (rmdir(sr->root) < 0)
            log_info("SR %s: %s is left in place: %m", sr_uuid, sr->root);
    }
    _cleanup_free_ char *dev =
        streq(sr->drv->type, "ext") ? xstrdup(dc_get(sr->dc, "device")) : NULL;
    json_object *nfs_dc = streq(sr->drv->type, "nfs") ? json_object_get(sr->dc) : NULL;
    if ((e = remove_sr(sd, sr))) {
        /* The SR is empty but still attached: a later delete finishes. */
        json_object_put(nfs_dc);
        return e;
    }
    if (nfs_dc) {
        remove_nfs_folder(sd, nfs_dc, sr_uuid);
        json_object_put(nfs_dc);
    }
    if (dev) {
        _cleanup_free_ char *err = NULL;
        const char *argv[] = {"wipefs", "-q", "-a", dev, NULL};
        int r = run(argv, &err);
        if (r != 0)
            log_warning("SR %s: wipefs %s failed (%d): %s", sr_uuid, dev, r, err);
    }
    log_notice("deleted SR %s", sr_uuid);
    return NULL;
}

/* ---- VDI operations ---- */

static sd_error *check_writable_sr(const struct sd_sr *sr)
{
    if (streq(sr->drv->type, "iso"))
        return jsonrpc_app_error("SR_OPERATION_NOT_SUPPORTED", sr->uuid);
    return NULL;
}

static sd_error *new_vdi_uuid(const struct sd_sr *sr, const char *wanted, char out[UUID_STR_LEN])
{
    if (!wanted) {
        uuid_generate_str(out);
        return NULL;
    }
    snprintf(out, UUID_STR_LEN, "%s", wanted);
    for (char *p = out; *p; p++)
        *p = (char)tolower((unsigned char)*p);
    _cleanup_free_ char *file = xasprintf("%s.qcow2", out);
    _cleanup_free_ char *path = path_in(sr, file);
    if (sr_meta_find(&sr->meta, out) || file_exists(path))
        return sd_backend_failure(SM_VDI_EXISTS, "The VDI already exists: %s", out);
    return NULL;
}

sd_error *sd_vdi_create(struct storaged *sd, const char *sr_uuid, const struct sd_vdi_create *a,
                        json_object **ret)
{
    char uuid[UUID_STR_LEN], size[32];
    _cleanup_free_ char *err = NULL;
    struct sd_sr *sr = NULL;
    sd_error *e;
    int64_t real;
    int r;
    LOCKED(sd);

    if ((e = get_sr(sd, sr_uuid, &sr)) || (e = check_writable_sr(sr)))
        return e;
    if (a->virtual_size <= 0 || a->virtual_size > MAX_VDI_SIZE)
        return sd_backend_failure(SM_VDI_SIZE, "VDI Invalid size: %lld is not in 1..%lld",
                                  (long long)a->virtual_size, (long long)MAX_VDI_SIZE);
    if ((e = new_vdi_uuid(sr, a->vdi_uuid, uuid)))
        return e;
    _cleanup_free_ char *file = xasprintf("%s.qcow2", uuid);
    _cleanup_free_ char *path = path_in(sr, file);
    _cleanup_free_ char *tmp = xasprintf("%s.tmp", path);
    snprintf(size, sizeof(size), "%lld", (long long)a->virtual_size);
    const char *argv[] = {"qemu-img", "create", "-q", "-f", "qcow2", tmp, size, NULL};
    if ((r = run(argv, &err)) != 0) {
        unlink(tmp);
        return tool_failure(SM_VDI_CREATE, "VDI Creation failed: qemu-img create", r, err);
    }
    if ((r = fsync_path(tmp)) < 0 || (r = qcow2_read_header(tmp, &real, NULL)) < 0) {
        unlink(tmp);
        errno = -r;
        return sd_backend_failure(SM_VDI_CREATE, "VDI Creation failed: %s: %m", tmp);
    }
    fist(sd, "create-written");
    struct vdi_meta *v = sr_meta_add(&sr->meta, uuid);
    meta_set_str(&v->name_label, a->names.name_label ? a->names.name_label : "");
    meta_set_str(&v->name_description, a->names.name_description ? a->names.name_description : "");
    v->virtual_size = real;
    v->sharable = a->sharable;
    v->read_only = a->read_only;
    if ((r = sr_meta_save(sr->root, &sr->meta)) < 0) {
        sr_meta_remove(&sr->meta, uuid);
        unlink(tmp);
        return meta_failure(r, sr_uuid);
    }
    fist(sd, "create-committed");
    if (rename(tmp, path) < 0)
        log_error("SR %s: cannot rename %s into place: %m (the next scan will)", sr_uuid, tmp);
    log_info("SR %s: created VDI %s (%lld bytes)", sr_uuid, uuid, (long long)real);
    *ret = vdi_info(sr->root, sr_meta_find(&sr->meta, uuid));
    return NULL;
}

/* Refuses operations on a VDI that is attached, being copied, or hidden. */
static sd_error *check_vdi_free(const struct sd_sr *sr, const struct vdi_meta *v, const char *op,
                                bool allow_ro_attached)
{
    const struct sd_attach *at = find_att(sr, v->uuid);

    if (at && !(allow_ro_attached && !at->read_write))
        return jsonrpc_app_error("VDI_IN_USE", v->uuid, op);
    for (size_t i = 0; i < sr->n_busy; i++)
        if (streq(sr->busy[i], v->uuid))
            return jsonrpc_app_error("VDI_IN_USE", v->uuid, op);
    return NULL;
}

sd_error *sd_vdi_delete(struct storaged *sd, const char *sr_uuid, const char *vdi_uuid)
{
    struct vdi_meta *v = NULL;
    struct sd_sr *sr = NULL;
    sd_error *e;
    LOCKED(sd);

    if ((e = get_sr(sd, sr_uuid, &sr)) || (e = check_writable_sr(sr)) ||
        (e = get_vdi(sr, vdi_uuid, &v)) || (e = check_vdi_free(sr, v, "destroy", false)))
        return e;
    if (!v->managed)
        return sd_backend_failure(SM_VDI_REMOVE,
                                  "Failed to remove VDI %s: it is a base copy that other VDIs "
                                  "depend on",
                                  vdi_uuid);
    if (chain_children(&sr->meta, v->uuid, NULL) > 0) {
        /* Other images depend on it: it becomes a hidden node, which GC
         * merges away when only one child is left. */
        v->managed = false;
        int r = sr_meta_save(sr->root, &sr->meta);
        if (r < 0) {
            v->managed = true;
            return meta_failure(r, sr_uuid);
        }
    } else if ((e = delete_image(sd, sr, v->uuid))) {
        return e;
    }
    log_info("SR %s: deleted VDI %s", sr_uuid, vdi_uuid);
    gc(sd, sr);
    return NULL;
}

sd_error *sd_vdi_resize(struct storaged *sd, const char *sr_uuid, const char *vdi_uuid,
                        int64_t new_size, json_object **ret)
{
    _cleanup_free_ char *err = NULL;
    struct vdi_meta *v = NULL;
    struct sd_sr *sr = NULL;
    char size[32];
    sd_error *e;
    int64_t real;
    int r;
    LOCKED(sd);

    if ((e = get_sr(sd, sr_uuid, &sr)) || (e = check_writable_sr(sr)) ||
        (e = get_vdi(sr, vdi_uuid, &v)) || (e = check_vdi_free(sr, v, "resize", false)))
        return e;
    if (!v->managed)
        return sd_backend_failure(SM_VDI_RESIZE, "VDI resize failed: %s is a base copy", vdi_uuid);
    /* XCP's drivers refuse a shrink this way (FileSR, and the SMAPIv3
     * plugins alike), so clients see the same error. */
    if (new_size < v->virtual_size)
        return sd_backend_failure(SM_VDI_SIZE,
                                  "VDI Invalid size [opterr=shrinking not allowed]: %s has "
                                  "%lld bytes, %lld asked",
                                  vdi_uuid, (long long)v->virtual_size, (long long)new_size);
    if (new_size > MAX_VDI_SIZE)
        return sd_backend_failure(SM_VDI_SIZE, "VDI Invalid size: %lld is over %lld",
                                  (long long)new_size, (long long)MAX_VDI_SIZE);
    if (new_size > v->virtual_size) {
        _cleanup_free_ char *path = path_in(sr, v->file);
        snprintf(size, sizeof(size), "%lld", (long long)new_size);
        const char *fmt = streq(v->format, "qcow2") ? "qcow2" : "raw";
        const char *argv[] = {"qemu-img", "resize", "-q", "-f", fmt, path, size, NULL};
        if ((r = run(argv, &err)) != 0)
            return tool_failure(SM_VDI_RESIZE, "VDI resize failed: qemu-img resize", r, err);
        struct stat st;
        if (streq(fmt, "qcow2") ? qcow2_read_header(path, &real, NULL) < 0
                                : (stat(path, &st) < 0 ? true : (real = st.st_size, false)))
            real = new_size;
        v->virtual_size = real;
        if ((r = sr_meta_save(sr->root, &sr->meta)) < 0)
            return meta_failure(r, sr_uuid);
    }
    *ret = vdi_info(sr->root, v);
    return NULL;
}

static int create_overlay(const char *backing, const char *path, char **ret_err)
{
    const char *argv[] = {"qemu-img", "create", "-q",    "-f", "qcow2", "-F",
                          "qcow2",    "-b",     backing, path, NULL};
    int r = run(argv, ret_err);
    if (r == 0)
        r = fsync_path(path);
    return r;
}

sd_error *sd_vdi_snapshot(struct storaged *sd, const char *sr_uuid, const char *vdi_uuid,
                          const char *new_uuid, const struct sd_names *names, bool clone,
                          json_object **ret)
{
    const char *op = clone ? "clone" : "snapshot";
    enum sm_error code = clone ? SM_VDI_CLONE : SM_VDI_SNAPSHOT;
    char base[UUID_STR_LEN], created[UUID_STR_LEN];
    _cleanup_free_ char *err = NULL;
    struct vdi_meta *v = NULL;
    struct sd_sr *sr = NULL;
    sd_error *e;
    int r;
    LOCKED(sd);

    if ((e = get_sr(sd, sr_uuid, &sr)) || (e = check_writable_sr(sr)) ||
        (e = get_vdi(sr, vdi_uuid, &v)) || (e = check_vdi_free(sr, v, op, true)))
        return e;
    if (!v->managed)
        return sd_backend_failure(code, "Failed to %s VDI %s: it is a base copy", op, vdi_uuid);
    if (!streq(v->format, "qcow2"))
        return sd_backend_failure(code, "Failed to %s VDI %s: a %s image has no snapshots", op,
                                  vdi_uuid, v->format);
    if (chain_depth(&sr->meta, vdi_uuid) >= CHAIN_MAX_DEPTH)
        return sd_backend_failure(SM_SNAPSHOT_CHAIN_TOO_LONG,
                                  "The snapshot chain is too long: VDI %s has %d images", vdi_uuid,
                                  chain_depth(&sr->meta, vdi_uuid));
    if ((e = new_vdi_uuid(sr, new_uuid, created)))
        return e;
    uuid_generate_str(base);

    _cleanup_free_ char *vpath = path_in(sr, v->file);
    _cleanup_free_ char *vtmp = xasprintf("%s.tmp", vpath);
    _cleanup_free_ char *bfile = recover_base_file(base);
    _cleanup_free_ char *bpath = path_in(sr, bfile);
    _cleanup_free_ char *cfile = xasprintf("%s.qcow2", created);
    _cleanup_free_ char *cpath = path_in(sr, cfile);
    _cleanup_free_ char *ctmp = xasprintf("%s.tmp", cpath);

    sr->meta.journal = (struct sr_journal){0};
    snprintf(sr->meta.journal.op, sizeof(sr->meta.journal.op), "%s", op);
    memcpy(sr->meta.journal.vdi, vdi_uuid, UUID_STR_LEN);
    memcpy(sr->meta.journal.base, base, UUID_STR_LEN);
    memcpy(sr->meta.journal.created, created, UUID_STR_LEN);
    if ((r = sr_meta_save(sr->root, &sr->meta)) < 0) {
        memset(&sr->meta.journal, 0, sizeof(sr->meta.journal));
        return meta_failure(r, sr_uuid);
    }
    fist(sd, "snapshot-journaled");
    if (rename(vpath, bpath) < 0) {
        e = sd_backend_failure(code, "Failed to %s VDI %s: %s", op, vdi_uuid, strerror(errno));
        goto fail;
    }
    fist(sd, "snapshot-renamed");
    if ((r = create_overlay(bfile, ctmp, &err)) != 0 ||
        (r = create_overlay(bfile, vtmp, &err)) != 0) {
        e = tool_failure(code, "qemu-img create", r, err);
        goto fail;
    }
    if (rename(ctmp, cpath) < 0) {
        e = sd_backend_failure(code, "Failed to %s VDI %s: %s", op, vdi_uuid, strerror(errno));
        goto fail;
    }
    fist(sd, "snapshot-created");
    if (rename(vtmp, vpath) < 0) {
        e = sd_backend_failure(code, "Failed to %s VDI %s: %s", op, vdi_uuid, strerror(errno));
        goto fail;
    }
    fist(sd, "snapshot-replaced");

    /* Commit: the base takes the VDI's place in the chain. */
    struct vdi_meta orig = *v;
    char now[DATETIME_LEN];
    datetime_format(time(NULL), now);
    struct vdi_meta *b = sr_meta_add(&sr->meta, base);
    meta_set_str(&b->name_label, "base copy");
    b->virtual_size = orig.virtual_size;
    memcpy(b->parent, orig.parent, UUID_STR_LEN);
    b->read_only = true;
    b->managed = false;
    struct vdi_meta *c = sr_meta_add(&sr->meta, created);
    meta_set_str(&c->name_label, names->name_label ? names->name_label : orig.name_label);
    meta_set_str(&c->name_description,
                 names->name_description ? names->name_description : orig.name_description);
    c->virtual_size = orig.virtual_size;
    memcpy(c->parent, base, UUID_STR_LEN);
    c->sharable = orig.sharable;
    c->read_only = orig.read_only;
    if (!clone) {
        c->is_a_snapshot = true;
        memcpy(c->snapshot_of, vdi_uuid, UUID_STR_LEN);
        memcpy(c->snapshot_time, now, DATETIME_LEN);
    }
    memcpy(sr_meta_find(&sr->meta, vdi_uuid)->parent, base, UUID_STR_LEN);
    memset(&sr->meta.journal, 0, sizeof(sr->meta.journal));
    if ((r = sr_meta_save(sr->root, &sr->meta)) < 0) {
        e = meta_failure(r, sr_uuid);
        goto fail;
    }
    fist(sd, "snapshot-committed");
    log_info("SR %s: %s of %s is %s (base %s)", sr_uuid, op, vdi_uuid, created, base);
    *ret = vdi_info(sr->root, sr_meta_find(&sr->meta, created));
    return NULL;
fail:
    roll_back(sr);
    return e;
}

sd_error *sd_vdi_update(struct storaged *sd, const char *sr_uuid, const char *vdi_uuid,
                        const struct sd_names *names, json_object **ret)
{
    struct vdi_meta *v = NULL;
    struct sd_sr *sr = NULL;
    sd_error *e;
    LOCKED(sd);

    if ((e = get_sr(sd, sr_uuid, &sr)) || (e = check_writable_sr(sr)) ||
        (e = get_vdi(sr, vdi_uuid, &v)))
        return e;
    if (names->name_label)
        meta_set_str(&v->name_label, names->name_label);
    if (names->name_description)
        meta_set_str(&v->name_description, names->name_description);
    int r = sr_meta_save(sr->root, &sr->meta);
    if (r < 0)
        return meta_failure(r, sr_uuid);
    *ret = vdi_info(sr->root, v);
    return NULL;
}

/* What qemu-img says about an image: format, virtual size, backing file. */
static sd_error *image_info(const char *path, char **ret_format, int64_t *ret_size,
                            char **ret_backing)
{
    _cleanup_free_ char *out = NULL, *err = NULL;
    const char *argv[] = {"qemu-img", "info", "--output=json", path, NULL};
    int r = exec_run(argv, NULL, &out, &err);
    json_object *o, *v;

    if (r != 0)
        return tool_failure(SM_VDI_LOAD, "Failed to load VDI: qemu-img info", r, err);
    o = json_tokener_parse(out);
    if (!o || !json_object_object_get_ex(o, "format", &v)) {
        json_object_put(o);
        return sd_backend_failure(SM_VDI_LOAD, "Failed to load VDI: qemu-img info gave no format");
    }
    *ret_format = xstrdup(json_object_get_string(v));
    *ret_size = json_object_object_get_ex(o, "virtual-size", &v) ? json_object_get_int64(v) : 0;
    *ret_backing = json_object_object_get_ex(o, "backing-filename", &v)
                       ? xstrdup(json_object_get_string(v))
                       : NULL;
    json_object_put(o);
    return NULL;
}

sd_error *sd_vdi_introduce(struct storaged *sd, const char *sr_uuid, const char *vdi_uuid,
                           const char *location, json_object **ret)
{
    _cleanup_free_ char *def = NULL, *format = NULL, *backing = NULL;
    const struct vdi_meta *parent = NULL;
    char uuid[UUID_STR_LEN];
    struct sd_sr *sr = NULL;
    int64_t size = 0;
    sd_error *e;
    LOCKED(sd);

    if ((e = get_sr(sd, sr_uuid, &sr)) || (e = check_writable_sr(sr)))
        return e;
    snprintf(uuid, sizeof(uuid), "%s", vdi_uuid);
    for (char *p = uuid; *p; p++)
        *p = (char)tolower((unsigned char)*p);
    if (sr_meta_find(&sr->meta, uuid))
        return sd_backend_failure(SM_VDI_EXISTS, "The VDI already exists: %s", uuid);
    if (!location)
        location = def = xasprintf("%s.qcow2", uuid);
    for (size_t i = 0; i < sr->meta.n_vdis; i++)
        if (streq(sr->meta.vdis[i].file, location))
            return sd_backend_failure(SM_VDI_EXISTS, "The VDI already exists: %s is VDI %s",
                                      location, sr->meta.vdis[i].uuid);
    _cleanup_free_ char *path = path_in(sr, location);
    struct stat st;
    if (!meta_file_name_ok(location) || stat(path, &st) < 0 || !S_ISREG(st.st_mode))
        return jsonrpc_app_error("VDI_LOCATION_MISSING", sr_uuid, location);
    if ((e = image_info(path, &format, &size, &backing)))
        return e;
    if (!streq(format, "qcow2") && !streq(format, "raw"))
        return sd_backend_failure(SM_VDI_TYPE, "Invalid VDI type: %s is a %s image", location,
                                  format);
    if (backing) {
        for (size_t i = 0; i < sr->meta.n_vdis && !parent; i++)
            if (streq(sr->meta.vdis[i].file, backing))
                parent = &sr->meta.vdis[i];
        if (!parent)
            return sd_backend_failure(SM_VDI_LOAD,
                                      "Failed to load VDI: its backing file %s is not a VDI of "
                                      "this SR",
                                      backing);
    }
    char parent_uuid[UUID_STR_LEN] = "";
    if (parent)
        memcpy(parent_uuid, parent->uuid, UUID_STR_LEN);
    struct vdi_meta *v = sr_meta_add(&sr->meta, uuid);
    meta_set_str(&v->file, location);
    snprintf(v->format, sizeof(v->format), "%s", format);
    memcpy(v->parent, parent_uuid, UUID_STR_LEN);
    v->virtual_size = size;
    int r = sr_meta_save(sr->root, &sr->meta);
    if (r < 0) {
        sr_meta_remove(&sr->meta, uuid);
        return meta_failure(r, sr_uuid);
    }
    log_info("SR %s: introduced VDI %s at %s", sr_uuid, uuid, location);
    *ret = vdi_info(sr->root, sr_meta_find(&sr->meta, uuid));
    return NULL;
}

sd_error *sd_vdi_attach(struct storaged *sd, const char *sr_uuid, const char *vdi_uuid,
                        bool read_write, json_object **ret)
{
    struct vdi_meta *v = NULL;
    struct sd_sr *sr = NULL;
    sd_error *e;
    LOCKED(sd);

    if ((e = get_sr(sd, sr_uuid, &sr)) || (e = get_vdi(sr, vdi_uuid, &v)))
        return e;
    if (!v->managed)
        return sd_backend_failure(SM_VDI_UNAVAILABLE, "The VDI is not available: %s is a base copy",
                                  vdi_uuid);
    if (read_write && v->read_only)
        return jsonrpc_app_error("VDI_READONLY", vdi_uuid);
    struct sd_attach *at = find_att(sr, vdi_uuid);
    if (!at) {
        sr->att = xrealloc(sr->att, (sr->n_att + 1) * sizeof(*sr->att));
        at = &sr->att[sr->n_att++];
        *at = (struct sd_attach){0};
        memcpy(at->uuid, v->uuid, UUID_STR_LEN);
    }
    at->read_write = at->read_write || read_write;
    save_state(sd, sr);
    json_object *o = json_object_new_object();
    _cleanup_free_ char *path = path_in(sr, v->file);
    add_str(o, "format", streq(v->format, "qcow2") ? "qcow2" : "raw");
    add_str(o, "path", path);
    add_str(o, "backend", "qdisk");
    add_bool(o, "read_write", read_write);
    *ret = o;
    return NULL;
}

static sd_error *set_active(struct storaged *sd, const char *sr_uuid, const char *vdi_uuid,
                            bool active)
{
    struct vdi_meta *v = NULL;
    struct sd_sr *sr = NULL;
    sd_error *e;
    LOCKED(sd);

    if ((e = get_sr(sd, sr_uuid, &sr)))
        return e;
    /* An attachment is let go even if its image vanished (an ISO removed
     * from its library): only taking one needs the VDI. */
    struct sd_attach *at = find_att(sr, vdi_uuid);
    if (!at && (e = get_vdi(sr, vdi_uuid, &v)))
        return e;
    if (!at) {
        if (!active)
            return NULL;
        return sd_backend_failure(SM_VDI_UNAVAILABLE,
                                  "The VDI is not available: %s is not attached", vdi_uuid);
    }
    at->active = active;
    save_state(sd, sr);
    return NULL;
}

sd_error *sd_vdi_activate(struct storaged *sd, const char *sr_uuid, const char *vdi_uuid)
{
    return set_active(sd, sr_uuid, vdi_uuid, true);
}

sd_error *sd_vdi_deactivate(struct storaged *sd, const char *sr_uuid, const char *vdi_uuid)
{
    return set_active(sd, sr_uuid, vdi_uuid, false);
}

sd_error *sd_vdi_detach(struct storaged *sd, const char *sr_uuid, const char *vdi_uuid)
{
    struct vdi_meta *v = NULL;
    struct sd_sr *sr = NULL;
    sd_error *e;
    LOCKED(sd);

    if ((e = get_sr(sd, sr_uuid, &sr)))
        return e;
    struct sd_attach *at = find_att(sr, vdi_uuid);
    if (!at)
        return get_vdi(sr, vdi_uuid, &v);
    if (at->active)
        return jsonrpc_app_error("VDI_IN_USE", vdi_uuid, "detach");
    *at = sr->att[--sr->n_att];
    save_state(sd, sr);
    /* A merge that waited for this VDI can run now. */
    if (!streq(sr->drv->type, "iso"))
        gc(sd, sr);
    return NULL;
}

/* ---- copies and their jobs ---- */

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
        add_bool(o, "done", j->done);
        if (j->error)
            add_str(o, "error", j->error);
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

static bool copy_cancelled(void *userdata)
{
    struct copy_progress *cp = userdata;
    return cp->sd->stopping && cp->sd->stopping(cp->sd->userdata);
}

/* The bytes a chain's images hold: what a flattened copy needs at most. */
static int64_t chain_allocated(const struct sd_sr *sr, const struct vdi_meta *v)
{
    int64_t n = 0;

    for (; v; v = v->parent[0] ? sr_meta_find(&sr->meta, v->parent) : NULL) {
        _cleanup_free_ char *p = path_in(sr, v->file);
        n += allocated(p);
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
    _cleanup_free_ char *name_label = NULL, *name_description = NULL;
    bool sharable, read_only;
    const char *fmt;
    sd_error *e = NULL;
    int r;

    pthread_mutex_lock(&sd->lock);
    if ((e = get_sr(sd, sr_uuid, &sr)) || (e = get_vdi(sr, vdi_uuid, &v)) ||
        (e = get_sr(sd, dest_sr_uuid, &dest)) || (e = check_writable_sr(dest)) ||
        (e = new_vdi_uuid(dest, dest_vdi_uuid, uuid))) {
        pthread_mutex_unlock(&sd->lock);
        return e;
    }
    int64_t need = chain_allocated(sr, v);
    struct statvfs vfs;
    if (statvfs(dest->root, &vfs) == 0) {
        int64_t avail = (int64_t)vfs.f_bavail * (int64_t)vfs.f_frsize;
        if (need > avail) {
            char a[32], b[32];
            snprintf(a, sizeof(a), "%lld", (long long)need);
            snprintf(b, sizeof(b), "%lld", (long long)avail);
            pthread_mutex_unlock(&sd->lock);
            return jsonrpc_app_error("SR_FULL", a, b);
        }
    }
    src = path_in(sr, v->file);
    fmt = streq(v->format, "qcow2") ? "qcow2" : "raw";
    tmpname = xasprintf("%s.qcow2.tmp", uuid);
    tmp = path_in(dest, tmpname);
    path = xasprintf("%s/%s.qcow2", dest->root, uuid);
    name_label = xstrdup(v->name_label);
    name_description = xstrdup(v->name_description);
    sharable = v->sharable;
    read_only = streq(v->format, "iso") ? false : v->read_only;
    strv_add(&sr->busy, &sr->n_busy, vdi_uuid);
    strv_add(&dest->live, &dest->n_live, tmpname);
    dest->copies_into++;
    if (job)
        job_start(sd, job);
    pthread_mutex_unlock(&sd->lock);

    /* The data moves without the lock: other calls go on meanwhile. */
    struct copy_progress cp = {.sd = sd, .job = job};
    struct exec_opts opts = {
        .on_stdout = on_copy_output, .cancelled = copy_cancelled, .userdata = &cp};
    const char *argv[] = {"qemu-img", "convert", "-p", "-f", fmt, "-O", "qcow2", src, tmp, NULL};
    r = exec_run(argv, &opts, NULL, &err);
    if (r == 0)
        r = fsync_path(tmp);
    fist(sd, "copy-converted");

    pthread_mutex_lock(&sd->lock);
    strv_remove(sr->busy, &sr->n_busy, vdi_uuid);
    strv_remove(dest->live, &dest->n_live, tmpname);
    dest->copies_into--;
    int64_t size = 0;
    if (r != 0) {
        e = tool_failure(SM_VDI_CREATE, "VDI copy failed: qemu-img convert", r, err);
    } else if ((r = qcow2_read_header(tmp, &size, NULL)) < 0) {
        errno = -r;
        e = sd_backend_failure(SM_VDI_CREATE, "VDI copy failed: %s: %m", tmp);
    } else if (sr_meta_find(&dest->meta, uuid)) {
        e = sd_backend_failure(SM_VDI_EXISTS, "The VDI already exists: %s", uuid);
    }
    if (!e) {
        struct vdi_meta *d = sr_meta_add(&dest->meta, uuid);
        meta_set_str(&d->name_label, name_label);
        meta_set_str(&d->name_description, name_description);
        d->virtual_size = size;
        d->sharable = sharable;
        d->read_only = read_only;
        if ((r = sr_meta_save(dest->root, &dest->meta)) < 0) {
            sr_meta_remove(&dest->meta, uuid);
            e = meta_failure(r, dest_sr_uuid);
        }
    }
    if (e) {
        unlink(tmp);
    } else {
        fist(sd, "copy-committed");
        if (rename(tmp, path) < 0)
            log_error("SR %s: cannot rename %s into place: %m (the next scan will)", dest_sr_uuid,
                      tmp);
        *ret = vdi_info(dest->root, sr_meta_find(&dest->meta, uuid));
        log_info("copied VDI %s of SR %s to VDI %s of SR %s", vdi_uuid, sr_uuid, uuid,
                 dest_sr_uuid);
    }
    if (job)
        job_update(sd, job, e ? 0 : 1.0, true, e ? e->app_code : NULL);
    pthread_mutex_unlock(&sd->lock);
    return e;
}

/* ---- start and stop ---- */

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
    if ((e = find_driver(type ? json_object_get_string(type) : "", dc, &drv)) ||
        (e = open_media(sd, drv, uuid, dc, false, &root, &mounted)) ||
        (e = add_sr(sd, drv, uuid, dc, root, mounted, &sr))) {
        log_error("cannot bring back SR %s: %s %s", uuid, e->app_code,
                  e->n_app_params > 1 ? e->app_params[1] : "");
        jsonrpc_error_free(e);
        if (root && mounted)
            unmount(root);
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
    save_state(sd, sr);
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
    if ((r = mkdir_p(mounts, 0700)) < 0 || (r = mkdir_p(o->run_dir, 0700)) < 0) {
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
        sr_free(sd->srs[i]);
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
