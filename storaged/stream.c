/* vdi_export, vdi_import and vdi_import_nbd (see stream.h): storaged
 * connects to the Unix socket xapi named and runs
 *
 *   nbdcopy -- [ qemu-nbd -r -f FMT IMAGE ] -                        (export)
 *   nbdcopy --flush -- - [ qemu-nbd --discard=unmap --detect-zeroes=unmap -f FMT IMAGE ]
 *                                                                    (import)
 *
 * with the socket as its standard output or input, or for vdi_import_nbd
 * hands xapi (SCM_RIGHTS) a socket connected to
 *
 *   qemu-nbd --discard=unmap --detect-zeroes=unmap -f FMT IMAGE
 *
 * (socket activation on a listening socket whose name is gone before
 * qemu-nbd starts, so that xapi's is its only client), for imports whose
 * data does not come in the order of its offsets (VHDs). qemu-nbd reads
 * a qcow2 image through its whole backing chain, so the stream is what
 * the guest sees; a raw image or an LV is read the same way with -f raw.
 * nbdcopy turns runs of zeros it reads into zero requests, so an import
 * leaves the image sparse (qemu-nbd's --detect-zeroes does the same for
 * xapi's NBD writes). The data never passes through storaged, which only
 * waits for nbdcopy or qemu-nbd to end: when xapi closes its end early,
 * nbdcopy fails on the socket (export) or sees the end of the stream
 * (import) and exits, and qemu-nbd ends with its only client; when
 * storaged dies, nbdcopy or qemu-nbd dies with it (PR_SET_PDEATHSIG). */
#include "storaged/stream.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "lib/fdpass.h"
#include "lib/log.h"
#include "lib/strbuf.h"
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

/* A listening socket with one connection already waiting on it, whose
 * name is gone: no one else can reach what will serve on it. Returns 0
 * with *ret_listen and *ret_client, or a negative errno. */
static int private_listener(int *ret_listen, int *ret_client)
{
    char dir[] = "/tmp/xenia-nbd-XXXXXX";
    struct sockaddr_un sun = {.sun_family = AF_UNIX};
    int l, c = -1, r = 0;

    if (!mkdtemp(dir))
        return -errno;
    snprintf(sun.sun_path, sizeof(sun.sun_path), "%s/s", dir);
    l = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (l < 0 || bind(l, (struct sockaddr *)&sun, sizeof(sun)) < 0 || listen(l, 1) < 0 ||
        (c = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) < 0 ||
        connect(c, (struct sockaddr *)&sun, sizeof(sun)) < 0)
        r = -errno;
    unlink(sun.sun_path);
    rmdir(dir);
    if (r < 0) {
        if (l >= 0)
            close(l);
        if (c >= 0)
            close(c);
        return r;
    }
    *ret_listen = l;
    *ret_client = c;
    return 0;
}

/* vdi_import_nbd's work: hands xapi its connection to qemu-nbd, then
 * waits for qemu-nbd, which ends with that connection. Returns as
 * exec_run does. */
static int serve_nbd(struct storaged *sd, int xapi_fd, const char *fmt, const char *path,
                     char **ret_err)
{
    const char *argv[] = {"qemu-nbd", "--discard=unmap", "--detect-zeroes=unmap", "-f", fmt, path,
                          NULL};
    int l = -1, c = -1, r;

    if ((r = private_listener(&l, &c)) < 0)
        return r;
    r = fd_send(xapi_fd, c);
    close(c);
    if (r == 0) {
        struct exec_opts opts = {
            .cancelled = sd->stopping, .userdata = sd->userdata, .listen_fd = l};
        r = exec_run(argv, &opts, NULL, ret_err);
    }
    close(l);
    return r;
}

enum stream_mode { STREAM_EXPORT, STREAM_IMPORT, STREAM_IMPORT_NBD };

static sd_error *vdi_stream(struct storaged *sd, json_object *params, enum stream_mode mode)
{
    bool write = mode != STREAM_EXPORT;
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
    if (mode == STREAM_IMPORT_NBD)
        r = serve_nbd(sd, fd, fmt, path, &err);
    else
        r = exec_run(write ? import_argv : export_argv, &opts, NULL, &err);
    close(fd);
    stream_end(sd, sr_id, vdi_id);
    if (r == -ECANCELED)
        return sd_backend_failure(SM_EIO, "VDI %s: storaged is stopping", vdi_id);
    if (r != 0) {
        _cleanup_free_ char *why = exec_summary(err ? err : "");
        log_warning("%s of VDI %s failed: %d %s", write ? "import" : "export", vdi_id, r, why);
        if (r < 0)
            return sd_backend_failure(SM_EIO, "VDI %s %s failed: %s", vdi_id,
                                      write ? "import" : "export", strerror(-r));
        return sd_backend_failure(
            SM_EIO, "VDI %s %s failed: %s: %s", vdi_id, write ? "import" : "export",
            mode == STREAM_IMPORT_NBD ? "qemu-nbd" : "nbdcopy", *why ? why : "(no message)");
    }
    log_info("%s of VDI %s of SR %s done", write ? "import" : "export", vdi_id, sr_id);
    return NULL;
}

struct jsonrpc_error *sd_m_vdi_export(json_object *params, json_object **ret_result, void *userdata)
{
    *ret_result = NULL;
    return vdi_stream(userdata, params, STREAM_EXPORT);
}

struct jsonrpc_error *sd_m_vdi_import(json_object *params, json_object **ret_result, void *userdata)
{
    *ret_result = NULL;
    return vdi_stream(userdata, params, STREAM_IMPORT);
}

struct jsonrpc_error *sd_m_vdi_import_nbd(json_object *params, json_object **ret_result,
                                          void *userdata)
{
    *ret_result = NULL;
    return vdi_stream(userdata, params, STREAM_IMPORT_NBD);
}

static void lower_uuid(char out[UUID_STR_LEN], const char *uuid)
{
    for (size_t i = 0; i < UUID_STR_LEN; i++)
        out[i] = (char)(uuid[i] >= 'A' && uuid[i] <= 'F' ? uuid[i] + 32 : uuid[i]);
}

/* vdi_map: which blocks of a VDI hold data, for xapi's VHD export. */

const struct jsonrpc_param sd_p_vdi_map[] = {{"sr_uuid", JP_STRING, true},
                                             {"vdi_uuid", JP_STRING, true},
                                             {"base_uuid", JP_STRING, false},
                                             {"block_size", JP_INT, false},
                                             {0}};

/* The largest map output kept (a badly fragmented image of 2 TiB). */
#define MAP_MAX_OUTPUT (256 * 1024 * 1024)
/* A chain longer than this is refused by snapshot; a loop in the
 * metadata stops here too. */
#define MAP_MAX_CHAIN 64

struct map_out {
    struct strbuf sb;
    bool overflow;
};

static void map_collect(const char *data, size_t len, void *userdata)
{
    struct map_out *o = userdata;

    if (o->sb.len + len > MAP_MAX_OUTPUT)
        o->overflow = true;
    else
        strbuf_add(&o->sb, data, len);
}

/* One image of a map: its path and format, and its chain as uuids from
 * itself down. */
struct map_image {
    char *path;
    const char *fmt;
    char chain[MAP_MAX_CHAIN][UUID_STR_LEN];
    size_t n_chain;
};

static sd_error *map_image_get(struct sd_sr *sr, const char *uuid, struct map_image *ret)
{
    struct vdi_meta *v = NULL, *top = NULL;
    sd_error *e;
    const char *cur = uuid;

    ret->n_chain = 0;
    while (*cur) {
        if (ret->n_chain == MAP_MAX_CHAIN)
            return sd_backend_failure(SM_SNAPSHOT_CHAIN_TOO_LONG, "The chain of VDI %s is too long",
                                      uuid);
        if ((e = sd_get_vdi(sr, cur, &v)))
            return e;
        if (sd_is_lvm(sr) && (e = sd_lvm_activate(sr, v)))
            return e;
        snprintf(ret->chain[ret->n_chain++], UUID_STR_LEN, "%s", v->uuid);
        if (!top)
            top = v;
        cur = v->parent;
    }
    ret->path = sd_is_lvm(sr) ? sd_lvm_vdi_path(sr, top) : sd_path_in(sr, top->file);
    ret->fmt = streq(top->format, "qcow2") ? "qcow2" : "raw";
    return NULL;
}

/* Marks the blocks of the extents of qemu-img map's JSON output that pass
 * the test: with max_depth < 0, data that is not known zero; else
 * anything allocated (zeros included) in the top max_depth layers. */
static sd_error *map_mark(const char *path, const char *fmt, int max_depth, uint64_t bs,
                          uint8_t *bits, uint64_t n_blocks)
{
    const char *argv[] = {"qemu-img", "map", "--output=json", "-f", fmt, path, NULL};
    struct map_out o = {0};
    _cleanup_free_ char *err = NULL;
    sd_error *e = NULL;
    int r;

    strbuf_init(&o.sb, 4096);
    struct exec_opts opts = {.on_stdout = map_collect, .userdata = &o};
    r = exec_run(argv, &opts, NULL, &err);
    if (r != 0 || o.overflow) {
        strbuf_done(&o.sb);
        return sd_tool_failure(SM_EIO, "qemu-img map", r ? r : -EFBIG, err);
    }
    json_object *arr = json_tokener_parse(o.sb.buf);
    strbuf_done(&o.sb);
    if (!arr || !json_object_is_type(arr, json_type_array)) {
        json_object_put(arr);
        return sd_backend_failure(SM_EIO, "qemu-img map gave no extents for %s", path);
    }
    for (size_t i = 0; i < json_object_array_length(arr); i++) {
        json_object *x = json_object_array_get_idx(arr, i), *f;
        int64_t start = -1, length = -1, depth = 0;
        bool data = false, zero = false, present = false;
        if (json_object_object_get_ex(x, "start", &f))
            start = json_object_get_int64(f);
        if (json_object_object_get_ex(x, "length", &f))
            length = json_object_get_int64(f);
        if (json_object_object_get_ex(x, "depth", &f))
            depth = json_object_get_int64(f);
        if (json_object_object_get_ex(x, "data", &f))
            data = json_object_get_boolean(f);
        if (json_object_object_get_ex(x, "zero", &f))
            zero = json_object_get_boolean(f);
        /* qemu-img 7.2 says present; older ones only data and zero. */
        present =
            json_object_object_get_ex(x, "present", &f) ? json_object_get_boolean(f) : data || zero;
        if (start < 0 || length <= 0) {
            e = sd_backend_failure(SM_EIO, "qemu-img map gave a bad extent for %s", path);
            break;
        }
        bool take = max_depth < 0 ? data && !zero : present && depth < max_depth;
        if (!take)
            continue;
        for (uint64_t b = (uint64_t)start / bs;
             b <= ((uint64_t)start + (uint64_t)length - 1) / bs && b < n_blocks; b++)
            bits[b / 8] |= (uint8_t)(1u << (b % 8));
    }
    json_object_put(arr);
    return e;
}

static sd_error *vdi_map(struct storaged *sd, json_object *params, json_object **ret)
{
    json_object *v;
    const char *sr_uuid = NULL, *vdi_uuid = NULL, *base_uuid = NULL;
    int64_t bs = 2 * 1024 * 1024, size = 0;
    struct map_image img = {0}, base = {0};
    int dv = -1, db = -1;
    sd_error *e = NULL;

    if (json_object_object_get_ex(params, "sr_uuid", &v))
        sr_uuid = json_object_get_string(v);
    if (json_object_object_get_ex(params, "vdi_uuid", &v))
        vdi_uuid = json_object_get_string(v);
    if (json_object_object_get_ex(params, "base_uuid", &v))
        base_uuid = json_object_get_string(v);
    if (json_object_object_get_ex(params, "block_size", &v))
        bs = json_object_get_int64(v);
    if (!sr_uuid || !uuid_is_valid(sr_uuid) || !vdi_uuid || !uuid_is_valid(vdi_uuid) ||
        (base_uuid && !uuid_is_valid(base_uuid)))
        return jsonrpc_error_new(JSONRPC_INVALID_PARAMS,
                                 "sr_uuid, vdi_uuid, base_uuid: UUIDs are required");
    if (bs < 512 || bs > (1 << 30) || (bs & (bs - 1)))
        return jsonrpc_error_new(JSONRPC_INVALID_PARAMS,
                                 "block_size: a power of two from 512 to 1 GiB is required");
    char sr_id[UUID_STR_LEN], vdi_id[UUID_STR_LEN], base_id[UUID_STR_LEN] = "";
    lower_uuid(sr_id, sr_uuid);
    lower_uuid(vdi_id, vdi_uuid);
    if (base_uuid) {
        lower_uuid(base_id, base_uuid);
        base_uuid = base_id;
    }
    sr_uuid = sr_id;
    vdi_uuid = vdi_id;

    {
        LOCKED(sd);
        struct sd_sr *sr = NULL;
        struct vdi_meta *m = NULL;
        if ((e = sd_get_sr(sd, sr_uuid, &sr)) || (e = sd_get_vdi(sr, vdi_uuid, &m)))
            return e;
        if (!m->managed)
            return sd_backend_failure(SM_VDI_UNAVAILABLE,
                                      "The VDI is not available: %s is a base copy", vdi_uuid);
        size = m->virtual_size;
        if ((e = map_image_get(sr, m->uuid, &img)))
            goto out_locked;
        if (base_uuid) {
            if ((e = map_image_get(sr, base_uuid, &base)))
                goto out_locked;
            /* The first layer of the VDI's chain that the base's shares:
             * what lies above it on either side differs. */
            for (size_t i = 0; i < img.n_chain && dv < 0; i++)
                for (size_t j = 0; j < base.n_chain; j++)
                    if (strcasecmp(img.chain[i], base.chain[j]) == 0) {
                        dv = (int)i;
                        db = (int)j;
                        break;
                    }
            if (dv < 0) {
                e = sd_backend_failure(SM_INVALID_ARG,
                                       "VDI %s and VDI %s share no ancestor: no difference "
                                       "between them can be made",
                                       base_uuid, vdi_uuid);
                goto out_locked;
            }
        }
        sd_strv_add(&sr->busy, &sr->n_busy, vdi_uuid);
        if (base_uuid)
            sd_strv_add(&sr->busy, &sr->n_busy, base_uuid);
    out_locked:
        if (e) {
            free(img.path);
            free(base.path);
            return e;
        }
    }

    uint64_t n_blocks = ((uint64_t)size + (uint64_t)bs - 1) / (uint64_t)bs;
    uint8_t *bits = xcalloc(n_blocks / 8 + 1, 1);
    e = map_mark(img.path, img.fmt, base_uuid ? dv : -1, (uint64_t)bs, bits, n_blocks);
    if (!e && base_uuid && db > 0)
        e = map_mark(base.path, base.fmt, db, (uint64_t)bs, bits, n_blocks);
    stream_end(sd, sr_uuid, vdi_uuid);
    if (base_uuid)
        stream_end(sd, sr_uuid, base_uuid);
    free(img.path);
    free(base.path);
    if (e) {
        free(bits);
        return e;
    }

    /* The marked blocks as runs [first, count]. */
    json_object *runs = json_object_new_array();
    for (uint64_t b = 0; b < n_blocks;) {
        if (!(bits[b / 8] & (1u << (b % 8)))) {
            b++;
            continue;
        }
        uint64_t first = b;
        while (b < n_blocks && (bits[b / 8] & (1u << (b % 8))))
            b++;
        json_object *run = json_object_new_array();
        json_object_array_add(run, json_object_new_int64((int64_t)first));
        json_object_array_add(run, json_object_new_int64((int64_t)(b - first)));
        json_object_array_add(runs, run);
    }
    free(bits);
    *ret = json_object_new_object();
    json_object_object_add(*ret, "virtual_size", json_object_new_int64(size));
    json_object_object_add(*ret, "block_size", json_object_new_int64(bs));
    json_object_object_add(*ret, "blocks", runs);
    return NULL;
}

struct jsonrpc_error *sd_m_vdi_map(json_object *params, json_object **ret_result, void *userdata)
{
    *ret_result = NULL;
    return vdi_map(userdata, params, ret_result);
}
