/* A VDI's content streamed through storaged (see xfer_vdi.h). The call to
 * storaged blocks for as long as the copy runs, so it runs on a thread of
 * its own; a pipe tells the opener when it ended before connecting. */
#include "xfer_vdi.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "db.h"
#include "lib/fdpass.h"
#include "lib/log.h"
#include "lib/util.h"
#include "api.h"
#include "storage.h"

LOG_MODULE("xfer");

/* How long storaged may take to connect (it checks the VDI and starts
 * nbdcopy first). */
#define CONNECT_TIMEOUT_MS (60 * 1000)
/* A copy may last as long as the client keeps sending or reading. */
#define STREAM_CALL_TIMEOUT (7.0 * 24 * 3600)

struct xfer_vdi {
    int listen_fd, fd;
    int done_pipe[2]; /* the thread closes [1] when storaged answered */
    pthread_t thread;
    bool write;
    const char *method;
    json_object *params;
    struct api_error *err;
};

static void *call_thread(void *arg)
{
    struct xfer_vdi *v = arg;

    v->err = storage_call(v->method, v->params, STREAM_CALL_TIMEOUT, NULL);
    close(v->done_pipe[1]);
    v->done_pipe[1] = -1;
    return NULL;
}

/* A listening socket with a random name in the abstract namespace: no file
 * is left behind, whoever dies. */
static int listen_abstract(char name[64])
{
    struct sockaddr_un sun = {.sun_family = AF_UNIX};
    char id[UUID_STR_LEN];
    int fd;

    uuid_generate_str(id);
    snprintf(name, 64, "@xenia-xfer-%s", id);
    size_t len = strlen(name);
    memcpy(sun.sun_path, name, len);
    sun.sun_path[0] = '\0';
    fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -errno;
    if (bind(fd, (struct sockaddr *)&sun,
             (socklen_t)(offsetof(struct sockaddr_un, sun_path) + len)) < 0 ||
        listen(fd, 1) < 0) {
        int r = -errno;
        close(fd);
        return r;
    }
    return fd;
}

static void vdi_free(struct xfer_vdi *v)
{
    if (v->fd >= 0)
        close(v->fd);
    if (v->listen_fd >= 0)
        close(v->listen_fd);
    if (v->done_pipe[0] >= 0)
        close(v->done_pipe[0]);
    json_object_put(v->params);
    api_error_free(v->err);
    free(v);
}

/* Calls storaged's method on the VDI and waits for it to connect. */
static struct api_error *vdi_open(const char *vdi_ref, const char *method, bool write,
                                  struct xfer_vdi **ret, int64_t *ret_size)
{
    char name[64], sr[64] = "";
    int64_t size = 0;
    struct api_error *e = NULL;

    db_rdlock();
    const struct row *r = db_get(C_VDI, vdi_ref);
    if (r) {
        snprintf(sr, sizeof(sr), "%s", r->v[FIDX(VDI, SR)]);
        size = strtoll(r->v[FIDX(VDI, virtual_size)], NULL, 10);
    }
    db_unlock();
    if (!r)
        return api_fail(HANDLE_INVALID, "VDI", vdi_ref);

    struct xfer_vdi *v = xcalloc(1, sizeof(*v));
    v->fd = v->listen_fd = v->done_pipe[0] = v->done_pipe[1] = -1;
    v->write = write;
    v->method = method;
    v->listen_fd = listen_abstract(name);
    if (v->listen_fd < 0 || pipe2(v->done_pipe, O_CLOEXEC) < 0) {
        e = api_failf(INTERNAL_ERROR, "cannot make the VDI stream's socket: %s",
                      strerror(v->listen_fd < 0 ? -v->listen_fd : errno));
        vdi_free(v);
        return e;
    }
    v->params = storage_params(sr, vdi_ref);
    json_object_object_add(v->params, "socket", json_object_new_string(name));
    if (pthread_create(&v->thread, NULL, call_thread, v) != 0) {
        close(v->done_pipe[1]);
        vdi_free(v);
        return api_failf(INTERNAL_ERROR, "cannot start the VDI stream");
    }

    struct pollfd p[2] = {{.fd = v->listen_fd, .events = POLLIN},
                          {.fd = v->done_pipe[0], .events = POLLIN}};
    int n;
    do
        n = poll(p, 2, CONNECT_TIMEOUT_MS);
    while (n < 0 && errno == EINTR);
    if (n > 0 && (p[0].revents & POLLIN)) {
        v->fd = accept4(v->listen_fd, NULL, NULL, SOCK_CLOEXEC);
        struct ucred cred;
        socklen_t cl = sizeof(cred);
        /* Anyone in this network namespace could connect to the name:
         * only root (storaged) may. */
        if (v->fd >= 0 &&
            (getsockopt(v->fd, SOL_SOCKET, SO_PEERCRED, &cred, &cl) < 0 || cred.uid != 0)) {
            close(v->fd);
            v->fd = -1;
        }
    }
    close(v->listen_fd);
    v->listen_fd = -1;
    if (v->fd < 0) {
        /* storaged refused (its answer says why) or never came: shutting
         * the listener down makes a late connect fail, so the call ends. */
        pthread_join(v->thread, NULL);
        e = v->err
                ? v->err
                : api_failf(INTERNAL_ERROR, "storaged did not open the stream of VDI %s", vdi_ref);
        v->err = NULL;
        vdi_free(v);
        return e;
    }
    *ret = v;
    *ret_size = size;
    return NULL;
}

struct api_error *xfer_vdi_open(const char *vdi_ref, bool write, struct xfer_vdi **ret,
                                int64_t *ret_size)
{
    return vdi_open(vdi_ref, write ? "vdi_import" : "vdi_export", write, ret, ret_size);
}

struct api_error *xfer_vdi_open_nbd(const char *vdi_ref, struct xfer_vdi **ret, int *ret_nbd_fd,
                                    int64_t *ret_size)
{
    struct xfer_vdi *v = NULL;
    int64_t size = 0;
    struct api_error *e = vdi_open(vdi_ref, "vdi_import_nbd", true, &v, &size);

    if (e)
        return e;
    int fd = fd_recv(v->fd, CONNECT_TIMEOUT_MS);
    if (fd < 0) {
        e = xfer_vdi_close(v, true);
        return e ? e
                 : api_failf(INTERNAL_ERROR, "storaged did not open the disk of VDI %s", vdi_ref);
    }
    *ret = v;
    *ret_nbd_fd = fd;
    *ret_size = size;
    return NULL;
}

int xfer_vdi_fd(const struct xfer_vdi *v)
{
    return v->fd;
}

struct api_error *xfer_vdi_close(struct xfer_vdi *v, bool abort)
{
    struct api_error *e;

    if (!v)
        return NULL;
    if (v->write && !abort && strcmp(v->method, "vdi_import") == 0)
        shutdown(v->fd, SHUT_WR); /* the end of the data: nbdcopy flushes and exits */
    else {
        close(v->fd);
        v->fd = -1;
    }
    pthread_join(v->thread, NULL);
    e = v->err;
    v->err = NULL;
    vdi_free(v);
    return e;
}

struct api_error *xfer_vdi_create(const char *sr_ref, char **vals, const char *vals_ref,
                                  char ret_ref[64])
{
    struct api_error *e = NULL;

    db_rdlock();
    const struct row *sr = db_get(C_SR, sr_ref);
    if (!sr)
        e = api_fail(HANDLE_INVALID, "SR", sr_ref);
    else if (streq(sr->v[FIDX(SR, content_type)], "iso"))
        e = api_fail(SR_OPERATION_NOT_SUPPORTED, sr_ref);
    else if (!storage_sr_plugged(sr))
        e = api_fail(SR_HAS_NO_PBDS, sr_ref);
    db_unlock();
    if (e) {
        api_free_row(C_VDI, vals);
        return e;
    }
    api_set_val(vals, FIDX(VDI, SR), sr_ref);
    /* The image is written after this, so it cannot be read-only. */
    api_set_val(vals, FIDX(VDI, read_only), "false");
    return storage_vdi_create(sr_ref, vals, vals_ref, NULL, ret_ref);
}

struct api_error *xfer_vdi_new_imported(const char *sr_ref, int64_t size, char ret_ref[64])
{
    char ref[64], text[32];
    char **vals = api_new_row(C_VDI, ref);

    snprintf(text, sizeof(text), "%lld", (long long)size);
    api_set_val(vals, FIDX(VDI, name_label), "Imported VDI");
    api_set_val(vals, FIDX(VDI, virtual_size), text);
    api_set_val(vals, FIDX(VDI, type), "user");
    return xfer_vdi_create(sr_ref, vals, ref, ret_ref);
}
