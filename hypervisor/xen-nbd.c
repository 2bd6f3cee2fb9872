/* File disks of PV and PVH domains without a device model, through the
 * kernel's NBD client and blkback (see xen-nbd.h). qemu-nbd is run with
 * posix_spawn, its output kept in a memfd (the daemon it leaves behind
 * holds no pipe of ours open). One mutex serialises the choice of a free
 * device, its connection and the reclaims, which would otherwise race for
 * the same /dev/nbdN. */
#include "hypervisor/xen-nbd.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>
#include <xenstore.h>

#include "lib/cleanup.h"
#include "lib/log.h"
#include "lib/util.h"

LOG_MODULE("xen-nbd");

extern char **environ;

#define QEMU_NBD "qemu-nbd"
/* Bounds of the waits on processes and the kernel (seconds). */
#define RUN_TIMEOUT 60.0
#define SETTLE_TIMEOUT 10.0
#define NBD_DEV_PREFIX "/dev/nbd"

struct xen_nbd {
    pthread_mutex_t lock;
    struct xs_handle *xs;
    /* The devices whose attach is under way: connected, not yet in a
     * backend's params. */
    char **pending;
    size_t npending;
};

/* ---- pure parts ---- */

bool xen_nbd_wanted(enum dm_type t, const struct dm_disk *d, bool has_dm)
{
    return t != DM_TYPE_HVM && !has_dm && d->backend != DM_DISK_PHY && *d->target;
}

bool xen_nbd_owner_parse(const char *cmdline, size_t len, const char *dev, uint32_t *ret_domid)
{
    bool connect = false, tagged = false;
    uint32_t domid = 0;
    size_t n = 0;

    if (len == 0 || cmdline[len - 1] != '\0')
        return false;
    for (const char *a = cmdline; a < cmdline + len; a += strlen(a) + 1, n++) {
        if (n == 0) {
            const char *base = strrchr(a, '/');
            if (!streq(base ? base + 1 : a, QEMU_NBD))
                return false;
            continue;
        }
        if (strncmp(a, "--connect=", 10) == 0 && streq(a + 10, dev)) {
            connect = true;
        } else if (strncmp(a, "--description=" XEN_NBD_TAG, 14 + strlen(XEN_NBD_TAG)) == 0) {
            const char *num = a + 14 + strlen(XEN_NBD_TAG);
            char *end;
            errno = 0;
            unsigned long v = strtoul(num, &end, 10);
            if (errno || end == num || *end || *num == '-' || v > UINT32_MAX)
                return false;
            domid = (uint32_t)v;
            tagged = true;
        }
    }
    if (!connect || !tagged)
        return false;
    *ret_domid = domid;
    return true;
}

/* ---- processes and files ---- */

/* Runs argv (found on PATH) with its output (both streams) into a memfd;
 * returns its exit status, or -1 when it could not be run or had to be
 * killed, with *ret_out (the caller's) its output's first line or why. */
static int run(const char *const argv[], char **ret_out)
{
    posix_spawn_file_actions_t fa;
    posix_spawnattr_t at;
    sigset_t none, dfl;
    pid_t pid;
    int status = -1, fd, rc;

    *ret_out = NULL;
    if ((fd = memfd_create("xen-nbd-out", MFD_CLOEXEC)) < 0) {
        *ret_out = xasprintf("memfd_create: %s", strerror(errno));
        return -1;
    }
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
    posix_spawn_file_actions_adddup2(&fa, fd, 1);
    posix_spawn_file_actions_adddup2(&fa, fd, 2);
    /* domaind blocks SIGINT and SIGTERM for its sigwait: qemu-nbd's
     * daemon must not inherit that (posix_spawn runs no atfork hook). */
    posix_spawnattr_init(&at);
    sigemptyset(&none);
    sigemptyset(&dfl);
    sigaddset(&dfl, SIGINT);
    sigaddset(&dfl, SIGTERM);
    sigaddset(&dfl, SIGPIPE);
    posix_spawnattr_setsigmask(&at, &none);
    posix_spawnattr_setsigdefault(&at, &dfl);
    posix_spawnattr_setflags(&at, POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);
    rc = posix_spawnp(&pid, argv[0], &fa, &at, (char *const *)argv, environ);
    posix_spawnattr_destroy(&at);
    posix_spawn_file_actions_destroy(&fa);
    if (rc) {
        *ret_out = xasprintf("cannot run %s: %s", argv[0], strerror(rc));
        close(fd);
        return -1;
    }
    double deadline = now_monotonic() + RUN_TIMEOUT;
    int st;
    for (;;) {
        pid_t w = waitpid(pid, &st, WNOHANG);
        if (w == pid) {
            status = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
            break;
        }
        if (w < 0 && errno != EINTR)
            break;
        if (now_monotonic() > deadline) {
            kill(pid, SIGKILL);
            waitpid(pid, &st, 0);
            *ret_out = xasprintf("%s did not end within %.0f s", argv[0], RUN_TIMEOUT);
            close(fd);
            return -1;
        }
        usleep(10000);
    }
    char buf[512];
    ssize_t n = pread(fd, buf, sizeof(buf) - 1, 0);
    close(fd);
    buf[n > 0 ? n : 0] = '\0';
    buf[strcspn(buf, "\n")] = '\0';
    *ret_out = xstrdup(buf);
    return status;
}

/* The first line of a small file (sysfs, procfs), or NULL. */
static char *read_small(const char *path, size_t *ret_len)
{
    char buf[4096];
    int fd = open(path, O_RDONLY | O_CLOEXEC);

    if (fd < 0)
        return NULL;
    ssize_t n = read(fd, buf, sizeof(buf) - 1);
    close(fd);
    if (n <= 0)
        return NULL;
    buf[n] = '\0';
    if (ret_len)
        *ret_len = (size_t)n;
    char *r = xmalloc((size_t)n + 1);
    memcpy(r, buf, (size_t)n + 1);
    return r;
}

/* The pid of the process serving /dev/nbd<i> (0: none, not connected). */
static long nbd_pid(int i)
{
    char path[64];
    snprintf(path, sizeof(path), "/sys/block/nbd%d/pid", i);
    _cleanup_free_ char *s = read_small(path, NULL);
    return s ? strtol(s, NULL, 10) : 0;
}

/* Whether /dev/nbd<i> is served and has its size: usable. */
static bool nbd_ready(int i)
{
    char path[64];
    snprintf(path, sizeof(path), "/sys/block/nbd%d/size", i);
    _cleanup_free_ char *s = read_small(path, NULL);
    return nbd_pid(i) > 0 && s && strtoll(s, NULL, 10) > 0;
}

static bool nbd_exists(int i)
{
    char path[64];
    snprintf(path, sizeof(path), "/sys/block/nbd%d", i);
    return access(path, F_OK) == 0;
}

/* The index of a /dev/nbdN path, or -1. */
static int nbd_index(const char *dev)
{
    char *end;

    if (strncmp(dev, NBD_DEV_PREFIX, strlen(NBD_DEV_PREFIX)) != 0)
        return -1;
    const char *num = dev + strlen(NBD_DEV_PREFIX);
    long v = strtol(num, &end, 10);
    return end == num || *end || v < 0 || v > 65535 ? -1 : (int)v;
}

/* Whether /dev/nbd<i> is served by a qemu-nbd of domaind's; its domain
 * then in *ret_domid. */
static bool nbd_owner(int i, uint32_t *ret_domid)
{
    char path[64], dev[32];
    size_t len = 0;
    long pid = nbd_pid(i);

    if (pid <= 0)
        return false;
    snprintf(path, sizeof(path), "/proc/%ld/cmdline", pid);
    snprintf(dev, sizeof(dev), NBD_DEV_PREFIX "%d", i);
    _cleanup_free_ char *cmd = read_small(path, &len);
    return cmd && xen_nbd_owner_parse(cmd, len, dev, ret_domid);
}

static bool is_pending(struct xen_nbd *n, const char *dev)
{
    for (size_t i = 0; i < n->npending; i++)
        if (streq(n->pending[i], dev))
            return true;
    return false;
}

/* ---- the interface ---- */

int xen_nbd_new(struct xen_nbd **ret)
{
    struct xen_nbd *n = xcalloc(1, sizeof(*n));

    if (!(n->xs = xs_open(0))) {
        int r = -errno;
        log_error("cannot open xenstore: %s", strerror(errno));
        free(n);
        return r ? r : -EIO;
    }
    pthread_mutex_init(&n->lock, NULL);
    *ret = n;
    return 0;
}

void xen_nbd_free(struct xen_nbd *n)
{
    if (!n)
        return;
    for (size_t i = 0; i < n->npending; i++)
        free(n->pending[i]);
    free(n->pending);
    xs_close(n->xs);
    pthread_mutex_destroy(&n->lock);
    free(n);
}

bool xen_nbd_domain_has_dm(struct xen_nbd *n, uint32_t domid)
{
    const char *keys[] = {"device-model-pid", "device-model-domid"};

    for (size_t i = 0; i < 2; i++) {
        char path[96];
        unsigned int len;
        snprintf(path, sizeof(path), "/local/domain/%u/image/%s", domid, keys[i]);
        pthread_mutex_lock(&n->lock);
        char *v = xs_read(n->xs, XBT_NULL, path, &len);
        pthread_mutex_unlock(&n->lock);
        free(v);
        if (v)
            return true;
    }
    return false;
}

/* Loads the nbd module unless it is there. Lock held. */
static struct dm_error *load_module(void)
{
    if (access("/sys/module/nbd", F_OK) == 0 && nbd_exists(0))
        return NULL;
    const char *argv[] = {"modprobe", "nbd", NULL};
    _cleanup_free_ char *out = NULL;
    int st = run(argv, &out);
    if (st != 0)
        return dm_failf(DM_ERR_BACKEND_FAILURE,
                        "a file disk of a domain without QEMU needs the kernel's NBD client, and "
                        "modprobe nbd failed: %s",
                        out && *out ? out : "no message");
    /* udev makes the nodes: the devices are there once sysfs has them */
    double deadline = now_monotonic() + SETTLE_TIMEOUT;
    while (!nbd_exists(0) && now_monotonic() < deadline)
        usleep(20000);
    if (!nbd_exists(0))
        return dm_failf(DM_ERR_BACKEND_FAILURE, "the nbd module is loaded but has no devices");
    return NULL;
}

static void disconnect(int i);

/* xen_nbd_connect with the lock held. */
static struct dm_error *connect_locked(struct xen_nbd *n, uint32_t domid, const struct dm_disk *d,
                                       char **ret_dev)
{
    struct dm_error *e;
    char dev[32] = "";
    int i;

    if ((e = load_module()))
        return e;
    for (i = 0; nbd_exists(i); i++) {
        snprintf(dev, sizeof(dev), NBD_DEV_PREFIX "%d", i);
        if (nbd_pid(i) == 0 && !is_pending(n, dev))
            break;
    }
    if (!nbd_exists(i))
        return dm_failf(DM_ERR_BACKEND_FAILURE, "no free NBD device for %s (all %d are in use)",
                        d->target, i);
    _cleanup_free_ char *connect = xasprintf("--connect=%s", dev);
    _cleanup_free_ char *tag = xasprintf("--description=" XEN_NBD_TAG "%u", domid);
    const char *argv[7], **a = argv;
    *a++ = QEMU_NBD;
    *a++ = connect;
    *a++ = tag;
    *a++ = d->format == DM_DISK_QCOW2 ? "--format=qcow2" : "--format=raw";
    if (!d->readwrite || d->cdrom)
        *a++ = "--read-only";
    *a++ = d->target;
    *a = NULL;
    _cleanup_free_ char *out = NULL;
    if (run(argv, &out) != 0)
        return dm_failf(DM_ERR_BACKEND_FAILURE, "cannot serve %s through %s (qemu-nbd): %s",
                        d->target, dev, out && *out ? out : "no message");
    /* qemu-nbd returns before its thread enters NBD_DO_IT, and until then
     * the kernel gives the device no size: blkback would find it empty. */
    double deadline = now_monotonic() + SETTLE_TIMEOUT;
    while (!nbd_ready(i) && now_monotonic() < deadline)
        usleep(20000);
    if (!nbd_ready(i)) {
        uint32_t owner;
        if (nbd_owner(i, &owner))
            disconnect(i);
        return dm_failf(DM_ERR_BACKEND_FAILURE,
                        "%s was connected to %s (qemu-nbd) but has no size after %.0f s", dev,
                        d->target, SETTLE_TIMEOUT);
    }
    n->pending = xrealloc(n->pending, (n->npending + 1) * sizeof(*n->pending));
    n->pending[n->npending++] = xstrdup(dev);
    log_info("%s served through %s for domid %u", d->target, dev, domid);
    *ret_dev = xstrdup(dev);
    return NULL;
}

struct dm_error *xen_nbd_connect(struct xen_nbd *n, uint32_t domid, const struct dm_disk *d,
                                 char **ret_dev)
{
    pthread_mutex_lock(&n->lock);
    struct dm_error *e = connect_locked(n, domid, d, ret_dev);
    pthread_mutex_unlock(&n->lock);
    return e;
}

void xen_nbd_settled(struct xen_nbd *n, const char *dev)
{
    pthread_mutex_lock(&n->lock);
    for (size_t i = 0; i < n->npending; i++) {
        if (streq(n->pending[i], dev)) {
            free(n->pending[i]);
            n->pending[i] = n->pending[--n->npending];
            break;
        }
    }
    pthread_mutex_unlock(&n->lock);
}

/* Disconnects /dev/nbd<i> (domaind's) and waits for it to be free. Lock
 * held. */
static void disconnect(int i)
{
    char dev[32];
    snprintf(dev, sizeof(dev), NBD_DEV_PREFIX "%d", i);
    const char *argv[] = {QEMU_NBD, "--disconnect", dev, NULL};
    _cleanup_free_ char *out = NULL;
    if (run(argv, &out) != 0) {
        log_warning("cannot disconnect %s: %s", dev, out && *out ? out : "no message");
        return;
    }
    double deadline = now_monotonic() + SETTLE_TIMEOUT;
    while (nbd_pid(i) > 0 && now_monotonic() < deadline)
        usleep(20000);
    if (nbd_pid(i) > 0)
        log_warning("%s is still served after its disconnection", dev);
    else
        log_info("%s disconnected", dev);
}

void xen_nbd_disconnect(struct xen_nbd *n, const char *dev)
{
    int i = nbd_index(dev);
    uint32_t domid;

    if (i < 0)
        return;
    pthread_mutex_lock(&n->lock);
    if (nbd_owner(i, &domid))
        disconnect(i);
    pthread_mutex_unlock(&n->lock);
}

/* Whether a vbd backend of domid has dev as its params. Lock held. */
static bool in_use(struct xen_nbd *n, uint32_t domid, const char *dev)
{
    char path[96];
    unsigned int num = 0;
    bool found = false;

    snprintf(path, sizeof(path), "/local/domain/0/backend/vbd/%u", domid);
    char **ids = xs_directory(n->xs, XBT_NULL, path, &num);
    for (unsigned int k = 0; ids && k < num && !found; k++) {
        unsigned int len;
        _cleanup_free_ char *p = xasprintf("%s/%s/params", path, ids[k]);
        _cleanup_free_ char *v = xs_read(n->xs, XBT_NULL, p, &len);
        found = v && streq(v, dev);
    }
    free(ids);
    return found;
}

void xen_nbd_reclaim(struct xen_nbd *n)
{
    if (!n)
        return;
    pthread_mutex_lock(&n->lock);
    for (int i = 0; nbd_exists(i); i++) {
        char dev[32];
        uint32_t domid;
        snprintf(dev, sizeof(dev), NBD_DEV_PREFIX "%d", i);
        if (is_pending(n, dev) || !nbd_owner(i, &domid) || in_use(n, domid, dev))
            continue;
        log_notice("%s (domid %u) is no domain's disk any more: disconnecting it", dev, domid);
        disconnect(i);
    }
    pthread_mutex_unlock(&n->lock);
}
