/* An SR's media: checking a driver's device_config, and making the media
 * reachable (a local folder, an ext4 file system on a block device, an NFS
 * export) at the place its files are read from. */
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

LOG_MODULE("media");

/* Checks device_config for the driver; for ext, that device is a block
 * device. */
static sd_error *check_dc(const struct sd_driver *drv, json_object *dc)
{
    if (streq(drv->type, "file") || streq(drv->type, "iso")) {
        const char *loc = sd_dc_get(dc, "location");
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
    if (streq(drv->type, "ext") || streq(drv->type, "lvm")) {
        const char *dev = sd_dc_get(dc, "device");
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
        const char *server = sd_dc_get(dc, "server"), *path = sd_dc_get(dc, "serverpath");
        const char *vers = sd_dc_get(dc, "nfsversion");
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

sd_error *sd_find_driver(const char *type, json_object *dc, const struct sd_driver **ret)
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

sd_error *sd_mount_ext(const char *dev, const char *mp, bool ro)
{
    int r = sd_mkdir_p(mp, 0700);

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
sd_error *sd_mount_nfs(const char *remote, const char *vers, bool ro, const char *mp,
                       enum sm_error code)
{
    _cleanup_free_ char *opts =
        xasprintf("%ssoft,proto=tcp,timeo=200,retrans=4,acdirmin=0,acdirmax=0,vers=%s",
                  ro ? "ro," : "", vers ? vers : "3");
    _cleanup_free_ char *err = NULL;
    const char *argv[] = {"mount", "-t", "nfs", "-o", opts, remote, mp, NULL};
    int r = sd_mkdir_p(mp, 0700);

    if (r < 0) {
        errno = -r;
        return sd_backend_failure(code, "cannot create %s: %m", mp);
    }
    r = sd_run(argv, &err);
    if (r != 0) {
        rmdir(mp);
        return sd_tool_failure(code,
                               code == SM_NFS_MOUNT ? "NFS mount error: mount"
                                                    : "Could not mount the directory "
                                                      "specified in Device Configuration: "
                                                      "mount",
                               r, err);
    }
    return NULL;
}

/* server:path for mount, with brackets around an IPv6 address. */
char *sd_nfs_remote(json_object *dc, const char *sub)
{
    const char *server = sd_dc_get(dc, "server");
    return xasprintf(strchr(server, ':') ? "[%s]:%s%s%s" : "%s:%s%s%s", server,
                     sd_dc_get(dc, "serverpath"), sub ? "/" : "", sub ? sub : "");
}

/* Unmounts mp and removes it. Returns 0, or a negative errno (logged) when
 * something keeps the file system busy; then mp stays mounted. */
int sd_unmount(const char *mp)
{
    if (umount2(mp, 0) < 0 && errno != EINVAL && errno != ENOENT)
        return log_warning_errno(-errno, "cannot unmount %s: %m", mp);
    rmdir(mp);
    return 0;
}

/* Makes the SR's media reachable: *ret_root is where its files are and
 * *ret_mounted whether storaged mounted it there. */
sd_error *sd_open_media(struct storaged *sd, const struct sd_driver *drv, const char *uuid,
                        json_object *dc, bool ro, char **ret_root, bool *ret_mounted)
{
    struct stat st;
    sd_error *e;

    if (streq(drv->type, "lvm")) {
        if ((e = sd_lvm_open(sd, uuid, dc, ro, ret_root)))
            return e;
        *ret_mounted = true;
        return NULL;
    }
    if (streq(drv->type, "ext") || streq(drv->type, "nfs") ||
        (streq(drv->type, "iso") && sd_dc_get(dc, "location")[0] != '/')) {
        _cleanup_free_ char *mp = sd_mount_point(sd, uuid);
        if (!sd_is_mount_point(mp)) {
            if (streq(drv->type, "ext")) {
                e = sd_mount_ext(sd_dc_get(dc, "device"), mp, ro);
            } else if (streq(drv->type, "nfs")) {
                /* Each NFS SR is a folder of its own under serverpath. */
                _cleanup_free_ char *remote = sd_nfs_remote(dc, uuid);
                e = sd_mount_nfs(remote, sd_dc_get(dc, "nfsversion"), ro, mp, SM_NFS_MOUNT);
            } else {
                e = sd_mount_nfs(sd_dc_get(dc, "location"), sd_dc_get(dc, "nfsversion"), true, mp,
                                 SM_ISO_MOUNT_FAILURE);
            }
            if (e)
                return e;
        }
        *ret_root = TAKE_PTR(mp);
        *ret_mounted = true;
        return NULL;
    }
    const char *loc = sd_dc_get(dc, "location");
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
