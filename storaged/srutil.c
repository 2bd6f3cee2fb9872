/* Small helpers shared by storaged's SR and VDI operations: device_config
 * lookups, paths and file checks, running tools and turning their
 * failures into backend errors, and the sr_info and vdi_info JSON answers
 * (storaged/README.md). STORAGED_FIST=<point> in the environment makes
 * storaged kill itself at that named point (like XCP's FIST points), which
 * is how the tests crash it mid-operation. */
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

void sd_fist(struct storaged *sd, const char *point)
{
    if (sd->fist && streq(sd->fist, point)) {
        log_warning("fault injection point %s reached: killing storaged", point);
        raise(SIGKILL);
    }
}

const char *sd_dc_get(json_object *dc, const char *key)
{
    json_object *v = NULL;

    if (!dc || !json_object_object_get_ex(dc, key, &v) || !json_object_is_type(v, json_type_string))
        return NULL;
    const char *s = json_object_get_string(v);
    return *s ? s : NULL;
}

char *sd_path_in(const struct sd_sr *sr, const char *file)
{
    return xasprintf("%s/%s", sr->root, file);
}

bool sd_file_exists(const char *path)
{
    struct stat st;
    return lstat(path, &st) == 0;
}

int sd_fsync_path(const char *path)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC), r = 0;

    if (fd < 0)
        return -errno;
    if (fsync(fd) < 0)
        r = -errno;
    close(fd);
    return r;
}

int sd_create_sparse(const char *path, int64_t size)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644), r = 0;

    if (fd < 0)
        return -errno;
    if (ftruncate(fd, (off_t)size) < 0)
        r = -errno;
    if (close(fd) < 0 && r == 0)
        r = -errno;
    return r;
}

int64_t sd_allocated(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 ? (int64_t)st.st_blocks * 512 : 0;
}

bool sd_is_mount_point(const char *path)
{
    struct stat a, b;
    _cleanup_free_ char *parent = xasprintf("%s/..", path);
    return stat(path, &a) == 0 && stat(parent, &b) == 0 && a.st_dev != b.st_dev;
}

int sd_mkdir_p(const char *path, mode_t mode)
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

void sd_add_str(json_object *o, const char *k, const char *v)
{
    json_object_object_add(o, k, json_object_new_string(v));
}

void sd_add_int(json_object *o, const char *k, int64_t v)
{
    json_object_object_add(o, k, json_object_new_int64(v));
}

void sd_add_bool(json_object *o, const char *k, bool v)
{
    json_object_object_add(o, k, json_object_new_boolean(v));
}

sd_error *sd_meta_failure(int r, const char *sr_uuid)
{
    errno = -r;
    return sd_backend_failure(SM_METADATA_ERROR, "cannot write the metadata of SR %s: %m", sr_uuid);
}

/* A tool's failure as a backend error, with what it wrote on stderr. */
sd_error *sd_tool_failure(enum sm_error code, const char *what, int status, const char *err)
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
int sd_run(const char *const *argv, char **ret_err)
{
    free(*ret_err);
    *ret_err = NULL;
    return exec_run(argv, NULL, NULL, ret_err);
}

json_object *sd_sr_info(const struct sd_sr *sr, const struct sr_meta *m, const char *root)
{
    json_object *o = json_object_new_object();
    struct statvfs vfs;
    int64_t size = 0, used = 0, virt = 0;

    if (streq(m->type, "lvm")) {
        sd_lvm_sizes(m->uuid, sr ? sd_dc_get(sr->dc, "device") : NULL, &size, &used);
    } else if (statvfs(root, &vfs) == 0) {
        size = (int64_t)vfs.f_blocks * (int64_t)vfs.f_frsize;
        used = (int64_t)(vfs.f_blocks - vfs.f_bfree) * (int64_t)vfs.f_frsize;
    }
    for (size_t i = 0; i < m->n_vdis; i++)
        virt += m->vdis[i].virtual_size;
    if (streq(m->type, "iso"))
        used = virt; /* an ISO library's size is its images, not the whole share */
    sd_add_str(o, "uuid", m->uuid);
    sd_add_str(o, "type", m->type);
    sd_add_str(o, "name_label", m->name_label);
    sd_add_str(o, "name_description", m->name_description);
    sd_add_int(o, "physical_size", size);
    sd_add_int(o, "physical_utilisation", used);
    sd_add_int(o, "virtual_allocation", virt);
    sd_add_str(o, "content_type", m->content_type);
    sd_add_bool(o, "shared", m->shared);
    (void)sr;
    return o;
}

json_object *sd_vdi_info(const char *root, const struct vdi_meta *v)
{
    json_object *o = json_object_new_object();
    _cleanup_free_ char *path = xasprintf("%s/%s", root, v->file);

    sd_add_str(o, "uuid", v->uuid);
    sd_add_str(o, "name_label", v->name_label);
    sd_add_str(o, "name_description", v->name_description);
    sd_add_int(o, "virtual_size", v->virtual_size);
    sd_add_int(o, "physical_utilisation", sd_allocated(path));
    sd_add_str(o, "parent", v->parent);
    sd_add_bool(o, "is_a_snapshot", v->is_a_snapshot);
    sd_add_str(o, "snapshot_of", v->snapshot_of);
    sd_add_str(o, "snapshot_time", v->snapshot_time);
    sd_add_bool(o, "sharable", v->sharable);
    sd_add_bool(o, "read_only", v->read_only);
    sd_add_bool(o, "managed", v->managed);
    sd_add_str(o, "location", v->file);
    sd_add_str(o, "format", v->format);
    return o;
}
