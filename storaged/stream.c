/* vdi_export and vdi_import (see stream.h): storaged connects to the Unix
 * socket xapi named and runs
 *
 *   nbdcopy -- [ qemu-nbd -r -f FMT IMAGE ] -                        (export)
 *   nbdcopy --flush -- - [ qemu-nbd --discard=unmap --detect-zeroes=unmap -f FMT IMAGE ]
 *                                                                    (import)
 *
 * with the socket as its standard output or input. qemu-nbd reads a qcow2
 * image through its whole backing chain, so the stream is what the guest
 * sees; a raw image or an LV is read the same way with -f raw. nbdcopy
 * turns runs of zeros it reads into zero requests, so an import leaves the
 * image sparse. The data never passes through storaged, which only waits
 * for nbdcopy to end: when xapi closes its end early, nbdcopy fails on
 * the socket (export) or sees the end of the stream (import) and exits;
 * when storaged dies, nbdcopy dies with it (PR_SET_PDEATHSIG) and qemu-nbd
 * ends with its only client. */
#include "storaged/stream.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "lib/log.h"
#include "lib/util.h"
#include "storaged/exec.h"
#include "storaged/internal.h"
#include "storaged/lvmsr.h"

LOG_MODULE("stream");

/* What nbdcopy writes on stderr is kept for the error message up to this. */

const struct jsonrpc_param sd_p_vdi_stream[] = {
    {"sr_uuid", JP_STRING, true}, {"vdi_uuid", JP_STRING, true}, {"socket", JP_STRING, true}, {0}};

/* Connects to xapi's socket: a path, or "@name" for a name in the abstract
 * namespace (no file to clean up when xapi dies). Returns the socket or a
 * negative errno. */
static int connect_socket(const char *name)
{
    struct sockaddr_un sun = {.sun_family = AF_UNIX};
    size_t len = strlen(name);
    socklen_t salen;
    int fd, r;

    if (len == 0 || len >= sizeof(sun.sun_path))
        return -ENAMETOOLONG;
    memcpy(sun.sun_path, name, len);
    salen = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + len);
    if (name[0] == '@')
        sun.sun_path[0] = '\0';
    else
        salen += 1;
    fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -errno;
    if (connect(fd, (struct sockaddr *)&sun, salen) < 0) {
        r = -errno;
        close(fd);
        return r;
    }
    return fd;
}

/* The image and its format for qemu-nbd, with the VDI marked busy (no
 * delete, resize, snapshot or merge while the stream runs). */
static sd_error *stream_begin(struct storaged *sd, const char *sr_uuid, const char *vdi_uuid,
                              bool write, char **ret_path, const char **ret_fmt)
{
    struct sd_sr *sr = NULL;
    struct vdi_meta *v = NULL;
    sd_error *e;
    LOCKED(sd);

    if ((e = sd_get_sr(sd, sr_uuid, &sr)) || (e = sd_get_vdi(sr, vdi_uuid, &v)))
        return e;
    if (!v->managed)
        return sd_backend_failure(SM_VDI_UNAVAILABLE, "The VDI is not available: %s is a base copy",
                                  vdi_uuid);
    if (write &&
        ((e = sd_check_writable_sr(sr)) || (e = sd_check_vdi_free(sr, v, "import", false))))
        return e;
    if (write && (v->read_only || streq(v->format, "iso")))
        return jsonrpc_app_error("VDI_READONLY", vdi_uuid);
    if (sd_is_lvm(sr) && (e = sd_lvm_activate(sr, v)))
        return e;
    *ret_path = sd_is_lvm(sr) ? sd_lvm_vdi_path(sr, v) : sd_path_in(sr, v->file);
    *ret_fmt = streq(v->format, "qcow2") ? "qcow2" : "raw";
    sd_strv_add(&sr->busy, &sr->n_busy, vdi_uuid);
    return NULL;
}

static void stream_end(struct storaged *sd, const char *sr_uuid, const char *vdi_uuid)
{
    LOCKED(sd);
    struct sd_sr *sr = sd_find_sr(sd, sr_uuid);

    if (sr)
        sd_strv_remove(sr->busy, &sr->n_busy, vdi_uuid);
}

static sd_error *vdi_stream(struct storaged *sd, json_object *params, bool write)
{
    json_object *v;
    const char *sr_uuid = NULL, *vdi_uuid = NULL, *sock = NULL;
    _cleanup_free_ char *path = NULL, *err = NULL;
    const char *fmt = NULL;
    sd_error *e;
    int fd, r;

    if (json_object_object_get_ex(params, "sr_uuid", &v))
        sr_uuid = json_object_get_string(v);
    if (json_object_object_get_ex(params, "vdi_uuid", &v))
        vdi_uuid = json_object_get_string(v);
    if (json_object_object_get_ex(params, "socket", &v))
        sock = json_object_get_string(v);
    if (!sr_uuid || !uuid_is_valid(sr_uuid) || !vdi_uuid || !uuid_is_valid(vdi_uuid))
        return jsonrpc_error_new(JSONRPC_INVALID_PARAMS, "sr_uuid, vdi_uuid: UUIDs are required");
    if (!sock || !*sock || strlen(sock) >= sizeof(((struct sockaddr_un *)0)->sun_path))
        return jsonrpc_error_new(JSONRPC_INVALID_PARAMS,
                                 "socket: a Unix socket path or @name is required");
    char sr_id[UUID_STR_LEN], vdi_id[UUID_STR_LEN];
    for (size_t i = 0; i < UUID_STR_LEN; i++) {
        sr_id[i] = (char)(sr_uuid[i] >= 'A' && sr_uuid[i] <= 'F' ? sr_uuid[i] + 32 : sr_uuid[i]);
        vdi_id[i] =
            (char)(vdi_uuid[i] >= 'A' && vdi_uuid[i] <= 'F' ? vdi_uuid[i] + 32 : vdi_uuid[i]);
    }

    if ((e = stream_begin(sd, sr_id, vdi_id, write, &path, &fmt)))
        return e;
    fd = connect_socket(sock);
    if (fd < 0) {
        stream_end(sd, sr_id, vdi_id);
        errno = -fd;
        return sd_backend_failure(SM_VDI_UNAVAILABLE, "Cannot connect to %s: %m", sock);
    }
    const char *export_argv[] = {"nbdcopy", "--", "[", "qemu-nbd", "-r", "-f",
                                 fmt,       path, "]", "-",        NULL};
    const char *import_argv[] = {"nbdcopy",
                                 "--flush",
                                 "--",
                                 "-",
                                 "[",
                                 "qemu-nbd",
                                 "--discard=unmap",
                                 "--detect-zeroes=unmap",
                                 "-f",
                                 fmt,
                                 path,
                                 "]",
                                 NULL};
    log_info("%s of VDI %s of SR %s started", write ? "import" : "export", vdi_id, sr_id);
    /* The socket is nbdcopy's input (import) or output (export); a
     * stopping storaged kills it. */
    struct exec_opts opts = {.cancelled = sd->stopping,
                             .userdata = sd->userdata,
                             .stdin_fd = write ? fd : 0,
                             .stdout_fd = write ? 0 : fd};
    r = exec_run(write ? import_argv : export_argv, &opts, NULL, &err);
    close(fd);
    stream_end(sd, sr_id, vdi_id);
    if (r == -ECANCELED)
        return sd_backend_failure(SM_EIO, "VDI %s: storaged is stopping", vdi_id);
    if (r != 0) {
        _cleanup_free_ char *why = exec_summary(err ? err : "");
        log_warning("%s of VDI %s failed: %d %s", write ? "import" : "export", vdi_id, r, why);
        return sd_backend_failure(SM_EIO, "VDI %s %s failed: nbdcopy: %s", vdi_id,
                                  write ? "import" : "export", *why ? why : "(no message)");
    }
    log_info("%s of VDI %s of SR %s done", write ? "import" : "export", vdi_id, sr_id);
    return NULL;
}

struct jsonrpc_error *sd_m_vdi_export(json_object *params, json_object **ret_result, void *userdata)
{
    *ret_result = NULL;
    return vdi_stream(userdata, params, false);
}

struct jsonrpc_error *sd_m_vdi_import(json_object *params, json_object **ret_result, void *userdata)
{
    *ret_result = NULL;
    return vdi_stream(userdata, params, true);
}
