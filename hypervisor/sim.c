/* The sim backend: a simulated hypervisor for machines without Xen. Its
 * domains live in memory and in a state directory (a file per domain,
 * written atomically when the domain changes, read back at start), so
 * they survive a restart of domaind the way Xen's domains do. It accounts
 * the host's memory (less a dom0 reservation) and CPUs, makes every
 * operation take steps of step_ms each (the one mutex is never held while
 * a step passes: the domain is marked busy instead, and other operations
 * on it wait), fails the next calls of a method after their first step
 * when sim/fail asks, and lets a test make the guest power off, reboot,
 * crash, suspend, ignore shutdown requests or refuse to release a disk
 * (sim/inject). Disks are hot-plugged into and out of running or paused
 * domains, and cdrom media changed, in a step each, the domain's saved
 * configuration following. The domains, their busy marks and the
 * destroyed domains remembered in memory, up to a bound, for events/watch
 * are a table shared with the xen backend (domtable.h). */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "hypervisor/backend.h"
#include "hypervisor/hostctl.h"
#include "hypervisor/domtable.h"
#include "hypervisor/nic.h"
#include "lib/cleanup.h"
#include "lib/file.h"
#include "lib/hashmap.h"
#include "lib/log.h"
#include "lib/strbuf.h"
#include "lib/util.h"

LOG_MODULE("sim");

#define SIM_STATE_FORMAT "xenia-sim-hypervisor"
#define SIM_STATE_VERSION 2 /* 1 was a single file holding everything */
#define SIM_IMAGE_FORMAT "xenia-sim-image"
#define SIM_FORMAT_VERSION 1 /* of the images */
#define SIM_META_FILE "meta.json"
#define SIM_DOMAINS_DIR "domains"
#define SIM_LOCK_FILE "lock"
#define SIM_MAX_FILE (64 * 1024 * 1024)
/* An image is a domain's record: what lies past this is not its. */
#define SIM_MAX_IMAGE (1024 * 1024)
#define SIM_DOMID_MAX 32751 /* Xen's DOMID_FIRST_RESERVED - 1 */
#define SIM_MAX_DESTROYED 256
#define SIM_DOM0_RESERVE ((int64_t)1 << 30) /* or a tenth of memory when less */
#define SIM_XEN_VERSION "4.17.0-sim"
/* Bytes of the sim's console ring (Xen's default is 16 KiB a CPU). */
#define SIM_CONSOLE_RING (64 * 1024)

/* The operations that take steps, and so can be made to fail (sim/fail),
 * with their method names. */
#define SIM_OPS(X)                                                                                 \
    X(CREATE, "domain/create")                                                                     \
    X(SHUTDOWN, "domain/shutdown")                                                                 \
    X(REBOOT, "domain/reboot")                                                                     \
    X(PAUSE, "domain/pause")                                                                       \
    X(UNPAUSE, "domain/unpause")                                                                   \
    X(SUSPEND, "domain/suspend")                                                                   \
    X(RESUME, "domain/resume")                                                                     \
    X(SET_MEMORY_TARGET, "domain/set_memory_target")                                               \
    X(SET_VCPUS, "domain/set_vcpus")                                                               \
    X(DESTROY, "domain/destroy")                                                                   \
    X(DISK_ATTACH, "domain/disk_attach")                                                           \
    X(DISK_DETACH, "domain/disk_detach")                                                           \
    X(CD_CHANGE, "domain/cd_change")                                                               \
    X(NIC_ATTACH, "domain/nic_attach")                                                             \
    X(NIC_DETACH, "domain/nic_detach")

enum sim_op {
#define SIM_OP_ENUM_(name, text) SIM_OP_##name,
    SIM_OPS(SIM_OP_ENUM_)
#undef SIM_OP_ENUM_
        SIM_OP__COUNT
};

static const char *const op_names[] = {
#define SIM_OP_NAME_(name, text) text,
    SIM_OPS(SIM_OP_NAME_)
#undef SIM_OP_NAME_
};

/* How the simulated guest behaves (sim/inject), saved with its domain. */
struct sim_guest {
    bool ignore_shutdown; /* clean shutdown and reboot requests */
    bool refuse_detach;   /* requests to release a disk */
};

/* A domain of the simulated hypervisor: the table's record (building
 * until the first step of its creation or resumption is done), and the
 * sim's own. */
struct sim_dom {
    struct dt_dom dt;
    struct sim_guest guest;
    int64_t pending; /* memory reserved by an operation under way */
};

struct sim {
    struct backend b;
    struct domtable t; /* of struct sim_dom; its lock guards everything below too */
    int next_domid;
    int64_t memory, reserve;
    int cpus, step_ms;
    char *state_dir, *meta_path, *domains_dir;
    int lock_fd;
    int fail[SIM_OP__COUNT];
    struct console_ring console; /* host/dmesg: the sim's own events */
};

static struct sim *sim_of(struct backend *b)
{
    return (struct sim *)((char *)b - offsetof(struct sim, b));
}

static struct sim_dom *sim_dom(struct dt_dom *dom)
{
    return (struct sim_dom *)((char *)dom - offsetof(struct sim_dom, dt));
}

/* ---- files ---- */

/* Writes a suspend image: a path that exists (a VDI that storaged made
 * for it, a file or a block device) is written in place from its start,
 * neither truncated nor replaced, for the SR owns that file; a new path is
 * written atomically. What follows the image in place is ignored when it
 * is read back. */
static int write_image(const char *path, const char *data, size_t len)
{
    struct stat st;
    int fd, r = 0;

    if (stat(path, &st) < 0)
        return write_file_atomic(path, data, len, true);
    if ((fd = open(path, O_WRONLY | O_CLOEXEC)) < 0)
        return -errno;
    r = write_all(fd, data, len);
    if (r == 0 && fsync(fd) < 0)
        r = -errno;
    if (close(fd) < 0 && r == 0)
        r = -errno;
    return r;
}

/* Reads at most max bytes of path into a new NUL-terminated buffer. */
static int read_file(const char *path, size_t max, char **ret, size_t *ret_len)
{
    struct strbuf sb;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    int r = 0;

    if (fd < 0)
        return -errno;
    strbuf_init(&sb, 4096);
    while (sb.len < max) {
        strbuf_grow(&sb, 65536);
        size_t room = sb.alloc - sb.len - 1;
        ssize_t n = read(fd, sb.buf + sb.len, room < max - sb.len ? room : max - sb.len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            r = -errno;
            break;
        }
        if (n == 0)
            break;
        sb.len += (size_t)n;
        sb.buf[sb.len] = '\0';
    }
    close(fd);
    if (r < 0) {
        strbuf_done(&sb);
        return r;
    }
    *ret = strbuf_detach(&sb, ret_len);
    return 0;
}

/* Parses the JSON object at the start of text: the whole text when strict,
 * else what follows it is ignored (an image on a device). NULL if it is
 * not one. */
static json_object *parse_object(const char *text, size_t len, bool strict)
{
    json_tokener *tok = json_tokener_new();
    json_object *o = json_tokener_parse_ex(tok, text, (int)len);
    size_t end = json_tokener_get_parse_end(tok);

    if (o && strict)
        for (; end < len; end++)
            if (!strchr(" \t\r\n", text[end])) {
                json_object_put(o);
                o = NULL;
                break;
            }
    json_tokener_free(tok);
    if (o && !json_object_is_type(o, json_type_object)) {
        json_object_put(o);
        o = NULL;
    }
    return o;
}

/* ---- domain records on disk ---- */

/* A domain as the state file and suspend images hold it: its wire form,
 * its configuration, the generation of its last change and the guest's
 * behaviour. */
static json_object *record_to_json(const struct dm_domain *d, const struct sim_guest *g)
{
    json_object *o = dm_domain_to_json(d);

    dm_config_to_json(&d->cfg, o);
    json_object_object_add(o, "generation", json_object_new_int64((int64_t)d->generation));
    if (g->ignore_shutdown)
        json_object_object_add(o, "ignore_shutdown", json_object_new_boolean(true));
    if (g->refuse_detach)
        json_object_object_add(o, "refuse_detach", json_object_new_boolean(true));
    return o;
}

static bool get_member(json_object *o, const char *name, json_type t, json_object **ret)
{
    return json_object_object_get_ex(o, name, ret) && json_object_is_type(*ret, t);
}

/* Reads a record back; a message in *ret_why when it is not one. */
static int record_from_json(json_object *o, uint64_t max_generation, struct dm_domain *ret,
                            struct sim_guest *ret_guest, char **ret_why)
{
    struct dm_domain d = {0};
    struct dm_error *e;
    json_object *v;
    int64_t x;
    int st, reason = DM_REASON_NONE;

    if (!json_object_is_type(o, json_type_object)) {
        *ret_why = xstrdup("a domain is not an object");
        return -EINVAL;
    }
    if (!get_member(o, "uuid", json_type_string, &v) || !uuid_is_valid(json_object_get_string(v))) {
        *ret_why = xstrdup("a domain has no valid uuid");
        return -EINVAL;
    }
    snprintf(d.uuid, sizeof(d.uuid), "%s", json_object_get_string(v));
    for (char *p = d.uuid; *p; p++)
        if (*p >= 'A' && *p <= 'F')
            *p = (char)(*p - 'A' + 'a');
    if (!get_member(o, "domid", json_type_int, &v) || (x = json_object_get_int64(v)) < 1 ||
        x > SIM_DOMID_MAX) {
        *ret_why = xasprintf("domain %s: bad domid", d.uuid);
        return -EINVAL;
    }
    d.domid = (int)x;
    if (!get_member(o, "state", json_type_string, &v) ||
        (st = dm_state_from_name(json_object_get_string(v))) < 0) {
        *ret_why = xasprintf("domain %s: bad state", d.uuid);
        return -EINVAL;
    }
    d.state = st;
    if (json_object_object_get_ex(o, "shutdown_reason", &v) && v &&
        (!json_object_is_type(v, json_type_string) ||
         (reason = dm_reason_from_name(json_object_get_string(v))) < 0)) {
        *ret_why = xasprintf("domain %s: bad shutdown_reason", d.uuid);
        return -EINVAL;
    }
    d.shutdown_reason = reason;
    if (!get_member(o, "memory_actual", json_type_int, &v) ||
        (d.memory_actual = json_object_get_int64(v)) < 0) {
        *ret_why = xasprintf("domain %s: bad memory_actual", d.uuid);
        return -EINVAL;
    }
    if (!json_object_object_get_ex(o, "start_time", &v) ||
        !(json_object_is_type(v, json_type_double) || json_object_is_type(v, json_type_int))) {
        *ret_why = xasprintf("domain %s: bad start_time", d.uuid);
        return -EINVAL;
    }
    d.start_time = json_object_get_double(v);
    if (!get_member(o, "generation", json_type_int, &v) || (x = json_object_get_int64(v)) < 0 ||
        (uint64_t)x > max_generation) {
        *ret_why = xasprintf("domain %s: bad generation", d.uuid);
        return -EINVAL;
    }
    d.generation = (uint64_t)x;
    ret_guest->ignore_shutdown =
        get_member(o, "ignore_shutdown", json_type_boolean, &v) && json_object_get_boolean(v);
    ret_guest->refuse_detach =
        get_member(o, "refuse_detach", json_type_boolean, &v) && json_object_get_boolean(v);
    if ((e = dm_config_from_json(o, &d.cfg))) {
        *ret_why = xasprintf("domain %s: %s", d.uuid, e->params[0]);
        dm_error_free(e);
        return -EINVAL;
    }
    *ret = d;
    return 0;
}

/* ---- the state directory ----
 *
 * The state is a directory, so that a change costs the same whatever the
 * number of domains. meta.json holds the format, the version, the
 * generation, the next domid and evicted_generation, and is written again
 * on every change (it is small); domains/<uuid>.json holds the record of
 * one listed domain, written when that domain changes and removed when it
 * is destroyed; lock is flocked by the domaind that uses the directory.
 * Files are written by write_file_atomic without fsync (the simulated
 * hypervisor's domains do not survive a power loss either, as Xen's do not). Destroyed domains
 * are remembered in memory only: sim_load says how events/watch stays
 * right across a restart that forgets them. */

/* Writes meta.json. Lock held. */
static int sim_write_meta(struct sim *s)
{
    json_object *root = json_object_new_object();
    size_t len;

    json_object_object_add(root, "format", json_object_new_string(SIM_STATE_FORMAT));
    json_object_object_add(root, "version", json_object_new_int(SIM_STATE_VERSION));
    json_object_object_add(root, "generation",
                           json_object_new_int64((int64_t)events_generation(&s->b.events)));
    json_object_object_add(root, "next_domid", json_object_new_int(s->next_domid));
    json_object_object_add(root, "evicted_generation",
                           json_object_new_int64((int64_t)s->t.evicted_generation));
    const char *text = json_object_to_json_string_length(root, JSON_C_TO_STRING_PLAIN, &len);
    int r = write_file_atomic(s->meta_path, text, len, false);
    json_object_put(root);
    return r;
}

/* Writes the file of the domain uuid: sd's record, or, when sd is NULL
 * (the domain is gone), no file. Lock held. A failure is logged: the
 * domain is as it is whether or not its file could follow it, and its
 * next change tries again. */
static void sim_save_domain(struct sim *s, const char *uuid, struct dt_dom *sd)
{
    _cleanup_free_ char *path = xasprintf("%s/%s.json", s->domains_dir, uuid);
    int r = 0;

    if (sd) {
        json_object *o = record_to_json(&sd->d, &sim_dom(sd)->guest);
        size_t len;
        const char *text = json_object_to_json_string_length(o, JSON_C_TO_STRING_PLAIN, &len);
        r = write_file_atomic(path, text, len, false);
        json_object_put(o);
    } else if (unlink(path) < 0 && errno != ENOENT) {
        r = -errno;
    }
    if (r < 0)
        log_error_errno(r, "cannot %s %s: %m", sd ? "write" : "remove", path);
}

/* Saves a change of the domain uuid (sd, or NULL when it is gone). Lock
 * held, from the change to the end of the writes, so nobody sees a change
 * before it is saved. meta.json goes first: a crash between the two
 * writes then leaves a generation past the domain's change, and at worst
 * the domain as it was before a change nobody saw — a destroyed domain's
 * file left behind is in state dying (every destruction goes through it),
 * which the next start finishes. */
static void sim_save(struct sim *s, const char *uuid, struct dt_dom *sd)
{
    int r = sim_write_meta(s);

    if (r < 0)
        log_error_errno(r, "cannot write %s: %m", s->meta_path);
    sim_save_domain(s, uuid, sd);
}

static void sim_gone(struct sim *s, struct dt_dom *sd, struct dm_domain *ret);

/* Reads meta.json: the next domid, evicted_generation and the generation
 * (*ret_generation). A missing one is a hypervisor that never changed. */
static int sim_load_meta(struct sim *s, uint64_t *ret_generation)
{
    _cleanup_free_ char *text = NULL, *why = NULL;
    json_object *root = NULL, *v;
    uint64_t generation;
    size_t len;
    int64_t x;
    int r;

    r = read_file(s->meta_path, SIM_MAX_FILE, &text, &len);
    if (r == -ENOENT) {
        _cleanup_free_ char *old = xasprintf("%s.json", s->state_dir);
        if (access(old, F_OK) == 0)
            log_warning("%s, the state of an older domaind, is not read: its domains are gone",
                        old);
        log_info("no %s: a new simulated hypervisor", s->meta_path);
        *ret_generation = 0;
        return 0;
    }
    if (r < 0)
        return log_error_errno(r, "cannot read %s: %m", s->meta_path);
    root = parse_object(text, len, true);
    if (!root || !get_member(root, "format", json_type_string, &v) ||
        !streq(json_object_get_string(v), SIM_STATE_FORMAT)) {
        why = xstrdup("not the state of a simulated hypervisor");
        goto bad;
    }
    if (!get_member(root, "version", json_type_int, &v) ||
        json_object_get_int(v) != SIM_STATE_VERSION) {
        why = xasprintf("unknown version (this domaind reads version %d)", SIM_STATE_VERSION);
        goto bad;
    }
    if (!get_member(root, "generation", json_type_int, &v) || (x = json_object_get_int64(v)) < 0) {
        why = xstrdup("bad generation");
        goto bad;
    }
    generation = (uint64_t)x;
    if (!get_member(root, "next_domid", json_type_int, &v) || (x = json_object_get_int64(v)) < 1 ||
        x > SIM_DOMID_MAX) {
        why = xstrdup("bad next_domid");
        goto bad;
    }
    s->next_domid = (int)x;
    if (!get_member(root, "evicted_generation", json_type_int, &v) ||
        (x = json_object_get_int64(v)) < 0 || (uint64_t)x > generation) {
        why = xstrdup("bad evicted_generation");
        goto bad;
    }
    s->t.evicted_generation = (uint64_t)x;
    json_object_put(root);
    *ret_generation = generation;
    return 0;

bad:
    json_object_put(root);
    log_error("%s is not a valid sim state file: %s", s->meta_path, why ? why : "bad JSON");
    return -EINVAL;
}

/* Reads the domain file name (in domains/) into s, raising *generation to
 * its domain's last change. owner[domid] is the uuid of the domain read
 * with that domid, if any. */
static int sim_load_domain(struct sim *s, const char *name, const char **owner,
                           uint64_t *generation)
{
    _cleanup_free_ char *path = xasprintf("%s/%s", s->domains_dir, name), *text = NULL, *why = NULL;
    size_t n = strlen(name), len;
    struct dt_dom *sd;
    json_object *o;
    int r;

    if (n != UUID_STR_LEN - 1 + strlen(".json") || !streq(name + UUID_STR_LEN - 1, ".json")) {
        log_error("%s is not the file of a domain (<uuid>.json): remove it", path);
        return -EINVAL;
    }
    if ((r = read_file(path, SIM_MAX_FILE, &text, &len)) < 0)
        return log_error_errno(r, "cannot read %s: %m", path);
    if (!(o = parse_object(text, len, true))) {
        log_error("%s is not a valid domain file: bad JSON", path);
        return -EINVAL;
    }
    sd = domtable_dom_new(&s->t, "");
    r = record_from_json(o, UINT64_MAX, &sd->d, &sim_dom(sd)->guest, &why);
    json_object_put(o);
    if (r < 0) {
        free(sd);
        log_error("%s is not a valid domain file: %s", path, why);
        return r;
    }
    if (strncmp(name, sd->d.uuid, UUID_STR_LEN - 1) != 0)
        why = xasprintf("it holds domain %s", sd->d.uuid);
    else if (sd->d.state == DM_STATE_DESTROYED)
        why = xstrdup("the domain is destroyed");
    else if (owner[sd->d.domid])
        why = xasprintf("domid %d is domain %s's too", sd->d.domid, owner[sd->d.domid]);
    if (why) {
        log_error("%s is not a valid domain file: %s", path, why);
        domtable_dom_free(sd);
        return -EINVAL;
    }
    if (sd->d.generation > *generation)
        *generation = sd->d.generation;
    domtable_add(&s->t, sd);
    owner[sd->d.domid] = sd->d.uuid;
    return 0;
}

/* Reads every domain file into s, raising *generation to the newest
 * change they hold, and removes the temporary files a crash left. */
static int sim_load_domains(struct sim *s, uint64_t *generation)
{
    _cleanup_free_ const char **owner = xcalloc(SIM_DOMID_MAX + 1, sizeof(*owner));
    DIR *dir = opendir(s->domains_dir);
    struct dirent *de;
    int r = 0;

    if (!dir)
        return log_error_errno(-errno, "cannot read %s: %m", s->domains_dir);
    for (;;) {
        errno = 0;
        if (!(de = readdir(dir))) {
            if (errno)
                r = log_error_errno(-errno, "cannot read %s: %m", s->domains_dir);
            break;
        }
        size_t n = strlen(de->d_name);
        if (streq(de->d_name, ".") || streq(de->d_name, ".."))
            continue;
        if (n > 4 && streq(de->d_name + n - 4, ".tmp")) {
            unlinkat(dirfd(dir), de->d_name, 0);
            continue;
        }
        if ((r = sim_load_domain(s, de->d_name, owner, generation)) < 0)
            break;
    }
    closedir(dir);
    return r;
}

/* Reads the simulated hypervisor back from its directory. */
static int sim_load(struct sim *s)
{
    uint64_t generation;
    int r;

    if ((r = sim_load_meta(s, &generation)) < 0 || (r = sim_load_domains(s, &generation)) < 0)
        return r;
    /* Generations go on from the saved ones (nothing runs yet), but the
     * destroyed domains are forgotten: a caller whose since is from before
     * this start may have missed a destruction, and must get a full
     * answer. So the start takes a generation of its own (1 for a new
     * hypervisor: 0 means "everything" to events/watch) and every since
     * before it is older than evicted_generation; a caller at it (which a
     * full answer gave) is then told the changes from there. It is saved
     * at once, so that the next start goes on after it. */
    s->b.events.generation = generation;
    s->t.evicted_generation = events_bump(&s->b.events);
    if ((r = sim_write_meta(s)) < 0)
        return log_error_errno(r, "cannot write %s: %m", s->meta_path);

    /* A domain that was being destroyed when domaind stopped is gone by
     * now, as it would be on Xen. */
    for (bool again = true; again;) {
        const char *k;
        void *val;
        again = false;
        for (size_t i = 0; !again && hashmap_next(&s->t.domains, &i, &k, &val);)
            if (((struct dt_dom *)val)->d.state == DM_STATE_DYING) {
                sim_gone(s, val, NULL); /* changes the map: look again */
                again = true;
            }
    }
    log_info("%s: %zu domains, generation %llu", s->state_dir, s->t.domains.count,
             (unsigned long long)events_generation(&s->b.events));
    return 0;
}

/* ---- the simulated hypervisor, with the lock held ---- */

static int64_t sim_free_memory(struct sim *s)
{
    int64_t used = 0;
    const char *k;
    void *v;

    for (size_t i = 0; hashmap_next(&s->t.domains, &i, &k, &v);) {
        struct dt_dom *sd = v;
        used += sd->d.cfg.memory_target + sim_dom(sd)->pending;
    }
    return s->memory - s->reserve - used;
}

static int sim_alloc_domid(struct sim *s)
{
    for (int tries = 0; tries < SIM_DOMID_MAX; tries++) {
        int id = s->next_domid;
        bool used = false;
        const char *k;
        void *v;

        s->next_domid = id >= SIM_DOMID_MAX ? 1 : id + 1;
        for (size_t i = 0; !used && hashmap_next(&s->t.domains, &i, &k, &v);)
            used = ((struct dt_dom *)v)->d.domid == id;
        if (!used)
            return id;
    }
    return -1;
}

/* Lets n steps pass. The lock is released meanwhile (a timed wait on the
 * condition variable); a stopping simulator takes no time. */
static void sim_sleep(struct sim *s, int n)
{
    if (s->step_ms <= 0 || n <= 0)
        return;
    double deadline = now_monotonic() + (double)n * s->step_ms / 1000.0;
    struct timespec ts = events_timespec(deadline);
    while (!s->t.stopping && now_monotonic() < deadline)
        pthread_cond_timedwait(&s->t.cond, &s->t.lock, &ts);
}

/* Lets one step of op pass; true if the operation must fail there (its
 * first step, when sim/fail asked). */
static bool sim_step_fails(struct sim *s, enum sim_op op, int *steps)
{
    sim_sleep(s, 1);
    if ((*steps)++ == 0 && s->fail[op] > 0) {
        s->fail[op]--;
        log_info("%s fails after its first step, as sim/fail asked", op_names[op]);
        return true;
    }
    return false;
}

static struct dm_error *fail_injected(enum sim_op op)
{
    return dm_fail(DM_ERR_SIM_INJECTED_FAILURE, op_names[op]);
}

/* Records a change of sd: next generation, waiters woken, sd saved. */
static void sim_changed(struct sim *s, struct dt_dom *sd)
{
    domtable_changed(&s->t, sd);
    sim_save(s, sd->d.uuid, sd);
}

/* The domain sd is gone: it becomes a destroyed one, copied to ret when
 * not NULL. Frees sd. */
static void sim_gone(struct sim *s, struct dt_dom *sd, struct dm_domain *ret)
{
    /* May forget another destroyed domain: evicted_generation, saved. */
    const struct dm_domain *d = domtable_gone(&s->t, sd);

    if (ret)
        dm_domain_copy(ret, d);
    log_info("domain %s (domid %d) destroyed", d->uuid, d->domid);
    console_ring_printf(&s->console, "sim: domain %d (%s) destroyed", d->domid, d->uuid);
    sim_save(s, d->uuid, NULL);
}

/* A domain built (created or resumed) becomes visible, paused, with a new
 * domid. */
static struct dm_error *sim_built(struct sim *s, struct dt_dom *sd)
{
    int domid = sim_alloc_domid(s);

    if (domid < 0)
        return dm_failf(DM_ERR_BACKEND_FAILURE, "no free domid");
    sd->d.domid = domid;
    sd->d.state = DM_STATE_PAUSED;
    sd->d.shutdown_reason = DM_REASON_NONE;
    sd->d.memory_actual = sd->d.cfg.memory_target;
    sd->d.start_time = now_realtime();
    sd->building = false;
    domtable_relisted(&s->t, sd->d.uuid);
    sim_changed(s, sd);
    return NULL;
}

/* Adds a domain to build, not listed yet, reserving its memory after the
 * checks that creating it must pass. */
static struct dm_error *sim_start_build(struct sim *s, const char *uuid,
                                        const struct dm_config *cfg, struct dt_dom **ret)
{
    struct dm_error *e = domtable_check_new(&s->t, uuid);

    if (e)
        return e;
    if (cfg->vcpus_max > s->cpus)
        return dm_fail_vcpus(cfg->vcpus_max, s->cpus);
    int64_t avail = sim_free_memory(s);
    if (cfg->memory_target > avail)
        return dm_fail_memory(cfg->memory_target, avail);

    *ret = domtable_build_start(&s->t, uuid, cfg);
    return NULL;
}

/* Builds sd (taken, building) in steps of op: paused, then running unless
 * start_paused. The domain is released at the end, copied to ret. */
static struct dm_error *sim_build(struct sim *s, struct dt_dom *sd, enum sim_op op,
                                  bool start_paused, struct dm_domain *ret)
{
    struct dm_error *e;
    int steps = 0;

    if (sim_step_fails(s, op, &steps)) {
        domtable_build_abandon(&s->t, sd);
        return fail_injected(op);
    }
    if ((e = sim_built(s, sd))) {
        domtable_build_abandon(&s->t, sd);
        return e;
    }
    if (!start_paused) {
        sim_sleep(s, 1);
        sd->d.state = DM_STATE_RUNNING;
        sim_changed(s, sd);
    }
    log_info("domain %s built: domid %d, %s", sd->d.uuid, sd->d.domid, dm_state_name(sd->d.state));
    console_ring_printf(&s->console, "sim: domain %d (%s) built", sd->d.domid, sd->d.uuid);
    dm_domain_copy(ret, &sd->d);
    domtable_release(&s->t, sd);
    return NULL;
}

/* Asks the guest of sd (taken, running) to shut down for reason, and
 * waits for it: one step for the guest to react, or until the deadline if
 * it ignores requests. On success sd is in state shutdown, taken; *sdp is
 * NULL if someone else destroyed it meanwhile (ret_gone then has it). */
static struct dm_error *sim_ask_guest(struct sim *s, struct dt_dom **sdp, enum sim_op op,
                                      enum dm_reason reason, double deadline, int *steps,
                                      struct dm_domain *ret_gone)
{
    struct dt_dom *sd = *sdp;

    if (sim_step_fails(s, op, steps)) {
        domtable_release(&s->t, sd);
        return fail_injected(op);
    }
    if (sim_dom(sd)->guest.ignore_shutdown)
        return domtable_await_shutdown(&s->t, sdp, deadline, ret_gone);
    sd->d.state = DM_STATE_SHUTDOWN;
    sd->d.shutdown_reason = reason;
    sim_changed(s, sd);
    return NULL;
}

/* Destroys sd (taken): dying for one step of op, then gone. If that is
 * the operation's first step and it must fail, sd is left as it was. */
static struct dm_error *sim_destroy_step(struct sim *s, struct dt_dom *sd, enum sim_op op,
                                         int *steps, bool keep, struct dm_domain *ret)
{
    enum dm_state before = sd->d.state;

    sd->d.state = DM_STATE_DYING;
    sim_changed(s, sd);
    if (sim_step_fails(s, op, steps)) {
        sd->d.state = before;
        sim_changed(s, sd);
        domtable_release(&s->t, sd);
        return fail_injected(op);
    }
    if (!keep)
        sim_gone(s, sd, ret);
    return NULL;
}

/* ---- operations ---- */

static struct dm_error *sim_host_info(struct backend *b, struct dm_host_info *ret)
{
    struct sim *s = sim_of(b);

    pthread_mutex_lock(&s->t.lock);
    int64_t avail = sim_free_memory(s);
    pthread_mutex_unlock(&s->t.lock);
    *ret = (struct dm_host_info){
        .backend = "sim",
        .total_memory = s->memory,
        .free_memory = avail > 0 ? avail : 0,
        .nr_cpus = s->cpus,
    };
    snprintf(ret->xen_version, sizeof(ret->xen_version), "%s", SIM_XEN_VERSION);
    return NULL;
}

static struct dm_error *sim_list(struct backend *b, struct dm_domain_list *ret)
{
    struct sim *s = sim_of(b);

    pthread_mutex_lock(&s->t.lock);
    domtable_list(&s->t, ret);
    pthread_mutex_unlock(&s->t.lock);
    return NULL;
}

static struct dm_error *sim_get(struct backend *b, const char *uuid, struct dm_domain *ret)
{
    struct sim *s = sim_of(b);

    pthread_mutex_lock(&s->t.lock);
    struct dm_error *e = domtable_get(&s->t, uuid, ret);
    pthread_mutex_unlock(&s->t.lock);
    return e;
}

/* A simulated guest runs no code: its vCPUs use no time. Memory is what
 * the simulated balloon holds. */
static struct dm_error *sim_stats(struct backend *b, const char *uuid, struct dm_stats *ret)
{
    struct sim *s = sim_of(b);
    struct dm_error *e = NULL;

    pthread_mutex_lock(&s->t.lock);
    struct dt_dom *sd = domtable_find(&s->t, uuid);
    if (!sd)
        e = dm_fail(DM_ERR_NO_SUCH_DOMAIN, uuid);
    else if (sd->d.state != DM_STATE_RUNNING && sd->d.state != DM_STATE_PAUSED)
        e = dm_fail_state(&sd->d, DM_STATE_RUNNING);
    else {
        *ret = (struct dm_stats){
            .domid = sd->d.domid,
            .time = now_monotonic(),
            .memory_actual = sd->d.memory_actual,
            .memory_target = sd->d.cfg.memory_target,
            .vcpus = xcalloc((size_t)sd->d.cfg.vcpus_max, sizeof(*ret->vcpus)),
            .n_vcpus = sd->d.cfg.vcpus_max,
        };
        for (int i = 0; i < ret->n_vcpus; i++)
            ret->vcpus[i].online = i < sd->d.cfg.vcpus;
    }
    pthread_mutex_unlock(&s->t.lock);
    return e;
}

static struct dm_error *sim_create(struct backend *b, const char *uuid, const struct dm_config *cfg,
                                   bool start_paused, struct dm_domain *ret)
{
    struct sim *s = sim_of(b);
    struct dt_dom *sd;
    struct dm_error *e;

    pthread_mutex_lock(&s->t.lock);
    if (!(e = sim_start_build(s, uuid, cfg, &sd)))
        e = sim_build(s, sd, SIM_OP_CREATE, start_paused, ret);
    pthread_mutex_unlock(&s->t.lock);
    return e;
}

/* shutdown and reboot: brings the domain down, cleanly or not; for a
 * reboot builds it again. */
static struct dm_error *sim_down(struct sim *s, const char *uuid, enum sim_op op, bool clean,
                                 double timeout, struct dm_domain *ret)
{
    double deadline = now_monotonic() + timeout;
    bool reboot = op == SIM_OP_REBOOT;
    struct dt_dom *sd;
    struct dm_error *e;
    int steps = 0;

    if ((e = domtable_take_in(&s->t, uuid, clean ? DT_ANY & ~DT_IN(DM_STATE_PAUSED) : DT_ANY,
                              DM_STATE_RUNNING, &sd)))
        return e;
    /* A guest that already shut down is not asked again. */
    if (clean && sd->d.state == DM_STATE_RUNNING) {
        e = sim_ask_guest(s, &sd, op, reboot ? DM_REASON_REBOOT : DM_REASON_POWEROFF, deadline,
                          &steps, reboot ? NULL : ret);
        if (e || !sd)
            return e;
    }
    if ((e = sim_destroy_step(s, sd, op, &steps, reboot, ret)) || !reboot)
        return e;

    /* The reboot's new domain: the old one's memory is the new one's. */
    sim_sleep(s, 1);
    if ((e = sim_built(s, sd))) {
        sim_gone(s, sd, NULL);
        return e;
    }
    sim_sleep(s, 1);
    sd->d.state = DM_STATE_RUNNING;
    sim_changed(s, sd);
    log_info("domain %s rebooted: domid %d", sd->d.uuid, sd->d.domid);
    dm_domain_copy(ret, &sd->d);
    domtable_release(&s->t, sd);
    return NULL;
}

static struct dm_error *sim_shutdown(struct backend *b, const char *uuid, bool clean,
                                     double timeout, struct dm_domain *ret)
{
    struct sim *s = sim_of(b);

    pthread_mutex_lock(&s->t.lock);
    struct dm_error *e = sim_down(s, uuid, SIM_OP_SHUTDOWN, clean, timeout, ret);
    pthread_mutex_unlock(&s->t.lock);
    return e;
}

static struct dm_error *sim_reboot(struct backend *b, const char *uuid, bool clean, double timeout,
                                   struct dm_domain *ret)
{
    struct sim *s = sim_of(b);

    pthread_mutex_lock(&s->t.lock);
    struct dm_error *e = sim_down(s, uuid, SIM_OP_REBOOT, clean, timeout, ret);
    pthread_mutex_unlock(&s->t.lock);
    return e;
}

/* pause and unpause: from one state to the other in one step. */
static struct dm_error *sim_flip(struct sim *s, const char *uuid, enum sim_op op,
                                 enum dm_state from, enum dm_state to, struct dm_domain *ret)
{
    struct dt_dom *sd;
    struct dm_error *e;
    int steps = 0;

    if ((e = domtable_take_in(&s->t, uuid, DT_IN(from), from, &sd)))
        return e;
    if (sim_step_fails(s, op, &steps))
        e = fail_injected(op);
    else {
        sd->d.state = to;
        sim_changed(s, sd);
        dm_domain_copy(ret, &sd->d);
    }
    domtable_release(&s->t, sd);
    return e;
}

static struct dm_error *sim_pause(struct backend *b, const char *uuid, struct dm_domain *ret)
{
    struct sim *s = sim_of(b);

    pthread_mutex_lock(&s->t.lock);
    struct dm_error *e = sim_flip(s, uuid, SIM_OP_PAUSE, DM_STATE_RUNNING, DM_STATE_PAUSED, ret);
    pthread_mutex_unlock(&s->t.lock);
    return e;
}

static struct dm_error *sim_unpause(struct backend *b, const char *uuid, struct dm_domain *ret)
{
    struct sim *s = sim_of(b);

    pthread_mutex_lock(&s->t.lock);
    struct dm_error *e = sim_flip(s, uuid, SIM_OP_UNPAUSE, DM_STATE_PAUSED, DM_STATE_RUNNING, ret);
    pthread_mutex_unlock(&s->t.lock);
    return e;
}

static struct dm_error *sim_suspend_locked(struct sim *s, const char *uuid, const char *path)
{
    struct dt_dom *sd;
    struct dm_error *e;
    int steps = 0;

    if ((e = domtable_take_in(&s->t, uuid, DT_IN(DM_STATE_RUNNING), DM_STATE_RUNNING, &sd)))
        return e;
    if (sim_step_fails(s, SIM_OP_SUSPEND, &steps)) {
        domtable_release(&s->t, sd);
        return fail_injected(SIM_OP_SUSPEND);
    }

    /* The image is the domain's record; sd is ours (busy) while the lock
     * is released for the write. */
    json_object *image = json_object_new_object();
    json_object_object_add(image, "format", json_object_new_string(SIM_IMAGE_FORMAT));
    json_object_object_add(image, "version", json_object_new_int(SIM_FORMAT_VERSION));
    json_object_object_add(image, "domain", record_to_json(&sd->d, &sim_dom(sd)->guest));
    struct strbuf sb;
    strbuf_init(&sb, 1024);
    strbuf_adds(&sb, json_object_to_json_string_ext(image, JSON_C_TO_STRING_PLAIN));
    strbuf_addc(&sb, '\n');
    json_object_put(image);
    pthread_mutex_unlock(&s->t.lock);
    int r = write_image(path, sb.buf, sb.len);
    pthread_mutex_lock(&s->t.lock);
    strbuf_done(&sb);
    if (r < 0) {
        errno = -r;
        e = dm_failf(DM_ERR_BACKEND_FAILURE, "cannot write the image %s: %m", path);
        domtable_release(&s->t, sd);
        return e;
    }

    sd->d.state = DM_STATE_SHUTDOWN;
    sd->d.shutdown_reason = DM_REASON_SUSPEND;
    sim_changed(s, sd);
    log_info("domain %s (domid %d) saved to %s", sd->d.uuid, sd->d.domid, path);
    return sim_destroy_step(s, sd, SIM_OP_SUSPEND, &steps, false, NULL);
}

static struct dm_error *sim_suspend(struct backend *b, const char *uuid, const char *path)
{
    struct sim *s = sim_of(b);

    pthread_mutex_lock(&s->t.lock);
    struct dm_error *e = sim_suspend_locked(s, uuid, path);
    pthread_mutex_unlock(&s->t.lock);
    return e;
}

/* Reads the configuration saved in a suspend image. */
static struct dm_error *read_image(const char *path, struct dm_config *ret,
                                   struct sim_guest *ret_guest)
{
    _cleanup_free_ char *text = NULL, *why = NULL;
    struct dm_domain d;
    json_object *root, *v, *dom;
    size_t len;
    int r;

    if ((r = read_file(path, SIM_MAX_IMAGE, &text, &len)) < 0) {
        errno = -r;
        return dm_failf(DM_ERR_BACKEND_FAILURE, "cannot read the image %s: %m", path);
    }
    /* Written in place, an image is followed by what the file held. */
    root = parse_object(text, len, false);
    if (!root || !get_member(root, "format", json_type_string, &v) ||
        !streq(json_object_get_string(v), SIM_IMAGE_FORMAT) ||
        !get_member(root, "version", json_type_int, &v) ||
        json_object_get_int(v) != SIM_FORMAT_VERSION ||
        !get_member(root, "domain", json_type_object, &dom)) {
        json_object_put(root);
        return dm_failf(DM_ERR_BACKEND_FAILURE, "%s is not a suspend image of the sim backend",
                        path);
    }
    r = record_from_json(dom, UINT64_MAX, &d, ret_guest, &why);
    json_object_put(root);
    if (r < 0)
        return dm_failf(DM_ERR_BACKEND_FAILURE, "%s is not a valid suspend image: %s", path, why);
    *ret = d.cfg;
    return NULL;
}

static struct dm_error *sim_resume(struct backend *b, const char *uuid, const char *path,
                                   bool start_paused, struct dm_domain *ret)
{
    struct sim *s = sim_of(b);
    struct dm_config cfg;
    struct dt_dom *sd;
    struct dm_error *e;
    struct sim_guest guest;

    if ((e = read_image(path, &cfg, &guest)))
        return e;
    pthread_mutex_lock(&s->t.lock);
    if (!(e = sim_start_build(s, uuid, &cfg, &sd))) {
        sim_dom(sd)->guest = guest;
        e = sim_build(s, sd, SIM_OP_RESUME, start_paused, ret);
    }
    pthread_mutex_unlock(&s->t.lock);
    dm_config_done(&cfg);
    return e;
}

static struct dm_error *sim_set_memory_target_locked(struct sim *s, const char *uuid,
                                                     int64_t target, struct dm_domain *ret)
{
    struct dt_dom *sd;
    struct dm_error *e;
    int steps = 0;

    if ((e = domtable_take_in(&s->t, uuid, DT_LIVE, DM_STATE_RUNNING, &sd)))
        return e;
    if (target < 1 || target > sd->d.cfg.memory_max) {
        e = dm_failf(DM_ERR_INVALID_PARAMS, "target: %lld is not in 1..%lld (memory_max)",
                     (long long)target, (long long)sd->d.cfg.memory_max);
        domtable_release(&s->t, sd);
        return e;
    }
    int64_t more = target - sd->d.cfg.memory_target, avail = sim_free_memory(s);
    if (more > avail) {
        domtable_release(&s->t, sd);
        return dm_fail_memory(more, avail);
    }
    sim_dom(sd)->pending = more > 0 ? more : 0;
    if (sim_step_fails(s, SIM_OP_SET_MEMORY_TARGET, &steps)) {
        e = fail_injected(SIM_OP_SET_MEMORY_TARGET);
    } else {
        sd->d.cfg.memory_target = sd->d.memory_actual = target;
        sim_changed(s, sd);
        dm_domain_copy(ret, &sd->d);
    }
    sim_dom(sd)->pending = 0;
    domtable_release(&s->t, sd);
    return e;
}

static struct dm_error *sim_set_memory_target(struct backend *b, const char *uuid, int64_t target,
                                              struct dm_domain *ret)
{
    struct sim *s = sim_of(b);

    pthread_mutex_lock(&s->t.lock);
    struct dm_error *e = sim_set_memory_target_locked(s, uuid, target, ret);
    pthread_mutex_unlock(&s->t.lock);
    return e;
}

static struct dm_error *sim_set_vcpus(struct backend *b, const char *uuid, int vcpus,
                                      struct dm_domain *ret)
{
    struct sim *s = sim_of(b);
    struct dt_dom *sd;
    struct dm_error *e;
    int steps = 0;

    pthread_mutex_lock(&s->t.lock);
    if ((e = domtable_take_in(&s->t, uuid, DT_LIVE, DM_STATE_RUNNING, &sd)))
        goto out;
    if (vcpus < 1)
        e = dm_failf(DM_ERR_INVALID_PARAMS, "vcpus: at least 1");
    else if (vcpus > sd->d.cfg.vcpus_max)
        e = dm_fail_vcpus(vcpus, sd->d.cfg.vcpus_max);
    else if (sim_step_fails(s, SIM_OP_SET_VCPUS, &steps))
        e = fail_injected(SIM_OP_SET_VCPUS);
    else {
        sd->d.cfg.vcpus = vcpus;
        sim_changed(s, sd);
        dm_domain_copy(ret, &sd->d);
    }
    domtable_release(&s->t, sd);
out:
    pthread_mutex_unlock(&s->t.lock);
    return e;
}

static struct dm_error *sim_destroy(struct backend *b, const char *uuid)
{
    struct sim *s = sim_of(b);
    struct dt_dom *sd;
    struct dm_error *e;
    int steps = 0;

    pthread_mutex_lock(&s->t.lock);
    if (!(e = domtable_take(&s->t, uuid, &sd)))
        e = sim_destroy_step(s, sd, SIM_OP_DESTROY, &steps, false, NULL);
    pthread_mutex_unlock(&s->t.lock);
    return e;
}

/* ---- hot-plug: one step each ---- */

/* Takes the running or paused domain uuid, with its disk device (in
 * *ret_disk, borrowed): NO_SUCH_DEVICE, the domain released, if it has
 * none. */
static struct dm_error *sim_take_disk(struct sim *s, const char *uuid, const char *device,
                                      struct dt_dom **ret, json_object **ret_disk)
{
    struct dt_dom *sd;
    struct dm_error *e = domtable_take_in(&s->t, uuid, DT_LIVE, DM_STATE_RUNNING, &sd);

    if (e)
        return e;
    if (!(*ret_disk = dm_disks_find(sd->d.cfg.disks, device))) {
        e = dm_fail(DM_ERR_NO_SUCH_DEVICE, sd->d.uuid, device);
        domtable_release(&s->t, sd);
        return e;
    }
    *ret = sd;
    return NULL;
}

/* The device change of sd (taken) is done: its disks are now disks
 * (taken), saved, and sd copied to ret. */
static void sim_set_disks(struct sim *s, struct dt_dom *sd, json_object *disks,
                          struct dm_domain *ret)
{
    json_object_put(sd->d.cfg.disks);
    sd->d.cfg.disks = disks;
    sim_changed(s, sd);
    dm_domain_copy(ret, &sd->d);
}

static struct dm_error *sim_disk_attach(struct backend *b, const char *uuid, json_object *disk,
                                        struct dm_domain *ret)
{
    struct sim *s = sim_of(b);
    json_object *copy = NULL;
    struct dt_dom *sd = NULL;
    struct dm_disk dd;
    struct dm_error *e;
    int steps = 0;

    if ((e = dm_disk_from_json(disk, "disk", &dd)))
        return e;
    /* Kept as given, in a copy of its own. */
    if (json_object_deep_copy(disk, &copy, NULL) < 0 || !copy) {
        dm_disk_done(&dd);
        return dm_failf(DM_ERR_BACKEND_FAILURE, "cannot copy the disk");
    }
    pthread_mutex_lock(&s->t.lock);
    if ((e = domtable_take_in(&s->t, uuid, DT_LIVE, DM_STATE_RUNNING, &sd)))
        goto out;
    if (dm_disks_find(sd->d.cfg.disks, dd.device))
        e = dm_fail(DM_ERR_DEVICE_EXISTS, sd->d.uuid, dd.device);
    else if (sim_step_fails(s, SIM_OP_DISK_ATTACH, &steps))
        e = fail_injected(SIM_OP_DISK_ATTACH);
    else {
        sim_set_disks(s, sd, dm_disks_replace(sd->d.cfg.disks, NULL, copy), ret);
        log_info("domain %s: disk %s attached (%s)", sd->d.uuid, dd.device,
                 *dd.target ? dd.target : "empty");
    }
    domtable_release(&s->t, sd);
out:
    pthread_mutex_unlock(&s->t.lock);
    json_object_put(copy);
    dm_disk_done(&dd);
    return e;
}

static struct dm_error *sim_disk_detach(struct backend *b, const char *uuid, const char *device,
                                        bool force, struct dm_domain *ret)
{
    struct sim *s = sim_of(b);
    struct dt_dom *sd = NULL;
    json_object *old;
    struct dm_error *e;
    int steps = 0;

    pthread_mutex_lock(&s->t.lock);
    if ((e = sim_take_disk(s, uuid, device, &sd, &old)))
        goto out;
    if (sim_step_fails(s, SIM_OP_DISK_DETACH, &steps))
        e = fail_injected(SIM_OP_DISK_DETACH);
    else if (!force && sim_dom(sd)->guest.refuse_detach) /* it was asked during the step */
        e = dm_fail(DM_ERR_DETACH_REJECTED, sd->d.uuid, device,
                    "the guest refused to release the device");
    else {
        sim_set_disks(s, sd, dm_disks_replace(sd->d.cfg.disks, old, NULL), ret);
        log_info("domain %s: disk %s detached%s", sd->d.uuid, device, force ? " by force" : "");
    }
    domtable_release(&s->t, sd);
out:
    pthread_mutex_unlock(&s->t.lock);
    return e;
}

static struct dm_error *sim_cd_change(struct backend *b, const char *uuid, const char *device,
                                      const char *target, const char *format, struct dm_domain *ret)
{
    struct sim *s = sim_of(b);
    json_object *cd = NULL, *old;
    struct dt_dom *sd = NULL;
    struct dm_error *e;
    int steps = 0;

    pthread_mutex_lock(&s->t.lock);
    if ((e = sim_take_disk(s, uuid, device, &sd, &old)))
        goto out;
    if ((e = dm_disk_new_media(old, target, format, &cd)))
        ;
    else if (sim_step_fails(s, SIM_OP_CD_CHANGE, &steps))
        e = fail_injected(SIM_OP_CD_CHANGE);
    else {
        sim_set_disks(s, sd, dm_disks_replace(sd->d.cfg.disks, old, cd), ret);
        log_info("domain %s: cdrom %s %s%s", sd->d.uuid, device, *target ? "holds " : "ejected",
                 target);
    }
    domtable_release(&s->t, sd);
out:
    pthread_mutex_unlock(&s->t.lock);
    json_object_put(cd);
    return e;
}

static struct dm_error *sim_changes(struct backend *b, uint64_t since, uint64_t *ret_generation,
                                    bool *ret_full, struct dm_domain_list *ret)
{
    domtable_changes(&sim_of(b)->t, since, ret_generation, ret_full, ret);
    return NULL;
}

static struct dm_error *sim_inject_locked(struct sim *s, const char *uuid, const char *event,
                                          int ignore_shutdown, int refuse_detach)
{
    bool nothing = streq(event, "ignore");
    int reason = nothing ? DM_REASON_NONE : dm_reason_from_name(event);
    struct dt_dom *sd;
    struct dm_error *e;

    if (reason < 0)
        return dm_failf(DM_ERR_INVALID_PARAMS,
                        "event: poweroff, reboot, crash, suspend, halt or ignore expected");
    if ((e = domtable_take_in(&s->t, uuid, nothing ? DT_ANY : DT_IN(DM_STATE_RUNNING),
                              DM_STATE_RUNNING, &sd)))
        return e;
    if (ignore_shutdown >= 0)
        sim_dom(sd)->guest.ignore_shutdown = ignore_shutdown;
    if (refuse_detach >= 0)
        sim_dom(sd)->guest.refuse_detach = refuse_detach;
    if (nothing) {
        sim_save_domain(s, sd->d.uuid, sd);
    } else {
        sd->d.state = DM_STATE_SHUTDOWN;
        sd->d.shutdown_reason = reason;
        sim_changed(s, sd);
        log_info("guest of domain %s (domid %d): %s", sd->d.uuid, sd->d.domid, event);
    }
    domtable_release(&s->t, sd);
    return NULL;
}

static struct dm_error *sim_inject(struct backend *b, const char *uuid, const char *event,
                                   int ignore_shutdown, int refuse_detach)
{
    struct sim *s = sim_of(b);

    pthread_mutex_lock(&s->t.lock);
    struct dm_error *e = sim_inject_locked(s, uuid, event, ignore_shutdown, refuse_detach);
    pthread_mutex_unlock(&s->t.lock);
    return e;
}

static struct dm_error *sim_fail(struct backend *b, const char *method, int count)
{
    struct sim *s = sim_of(b);

    if (count < 0)
        return dm_failf(DM_ERR_INVALID_PARAMS, "count: at least 0");
    for (int op = 0; op < SIM_OP__COUNT; op++)
        if (streq(op_names[op], method)) {
            pthread_mutex_lock(&s->t.lock);
            s->fail[op] = count;
            pthread_mutex_unlock(&s->t.lock);
            return NULL;
        }
    return dm_failf(DM_ERR_INVALID_PARAMS, "method: %s has no steps that could fail", method);
}

static void sim_stop(struct backend *b)
{
    domtable_stop(&sim_of(b)->t);
}

static void sim_free(struct backend *b)
{
    struct sim *s = sim_of(b);

    domtable_done(&s->t);
    if (s->lock_fd >= 0)
        close(s->lock_fd); /* releases the lock */
    free(s->state_dir);
    free(s->meta_path);
    free(s->domains_dir);
    events_done(&s->b.events);
    console_ring_done(&s->console);
    free(s);
}

static struct dm_error *sim_console_read(struct backend *b, bool clear, char **ret_text)
{
    *ret_text = console_ring_read(&sim_of(b)->console, clear);
    return NULL;
}

/* Xen answers each key on its console; the sim notes it there. */
static struct dm_error *sim_debug_keys(struct backend *b, const char *keys)
{
    for (const char *k = keys; *k; k++)
        console_ring_printf(&sim_of(b)->console, "'%c' pressed -> handled by the simulator", *k);
    return NULL;
}

/* NIC hot-plug: the domain's nics in its configuration, one step each;
 * there is no device to make (networkd's stand-ins play the VIFs). nic
 * (taken) is the one to add as devid, or NULL to remove devid. */
static struct dm_error *sim_nic_change(struct sim *s, const char *uuid, int devid, json_object *nic,
                                       struct dm_domain *ret)
{
    enum sim_op op = nic ? SIM_OP_NIC_ATTACH : SIM_OP_NIC_DETACH;
    struct dt_dom *sd = NULL;
    json_object *old;
    struct dm_error *e;
    int steps = 0;
    char dev[16];

    snprintf(dev, sizeof(dev), "%d", devid);
    pthread_mutex_lock(&s->t.lock);
    if ((e = domtable_take_in(&s->t, uuid, DT_LIVE, DM_STATE_RUNNING, &sd)))
        goto out;
    old = dm_nics_find(sd->d.cfg.nics, devid);
    if (nic && old) {
        e = dm_fail(DM_ERR_DEVICE_EXISTS, sd->d.uuid, dev);
    } else if (!nic && !old) {
        e = dm_fail(DM_ERR_NO_SUCH_DEVICE, sd->d.uuid, dev);
    } else if (sim_step_fails(s, op, &steps)) {
        e = fail_injected(op);
    } else {
        json_object *nics = dm_disks_replace(sd->d.cfg.nics, old, nic);
        json_object_put(sd->d.cfg.nics);
        sd->d.cfg.nics = nics;
        sim_changed(s, sd);
        dm_domain_copy(ret, &sd->d);
        log_info("domain %s: nic %d %s", sd->d.uuid, devid, nic ? "attached" : "detached");
    }
    domtable_release(&s->t, sd);
out:
    pthread_mutex_unlock(&s->t.lock);
    json_object_put(nic);
    return e;
}

static struct dm_error *sim_nic_attach(struct backend *b, const char *uuid, json_object *nic,
                                       struct dm_domain *ret)
{
    json_object *copy = NULL;
    struct dm_error *e;
    int devid;

    if ((e = dm_nic_check(nic, "nic", &devid)))
        return e;
    if (json_object_deep_copy(nic, &copy, NULL) < 0 || !copy)
        return dm_failf(DM_ERR_BACKEND_FAILURE, "cannot copy the nic");
    return sim_nic_change(sim_of(b), uuid, devid, copy, ret);
}

static struct dm_error *sim_nic_detach(struct backend *b, const char *uuid, int devid,
                                       struct dm_domain *ret)
{
    return sim_nic_change(sim_of(b), uuid, devid, NULL, ret);
}

static const struct backend_ops sim_ops = {
    .name = "sim",
    .stop = sim_stop,
    .free = sim_free,
    .host_info = sim_host_info,
    .list = sim_list,
    .get = sim_get,
    .create = sim_create,
    .shutdown = sim_shutdown,
    .reboot = sim_reboot,
    .pause = sim_pause,
    .unpause = sim_unpause,
    .suspend = sim_suspend,
    .resume = sim_resume,
    .stats = sim_stats,
    .set_memory_target = sim_set_memory_target,
    .set_vcpus = sim_set_vcpus,
    .destroy = sim_destroy,
    .disk_attach = sim_disk_attach,
    .disk_detach = sim_disk_detach,
    .cd_change = sim_cd_change,
    .nic_attach = sim_nic_attach,
    .nic_detach = sim_nic_detach,
    .changes = sim_changes,
    .console_read = sim_console_read,
    .debug_keys = sim_debug_keys,
    .sim_inject = sim_inject,
    .sim_fail = sim_fail,
};

/* Creates the state directory and its domains/ when missing, and locks
 * the directory against a second domaind. */
static int sim_open_dir(struct sim *s)
{
    _cleanup_free_ char *lock_path = xasprintf("%s/" SIM_LOCK_FILE, s->state_dir);
    struct stat st;
    int r;

    if (mkdir(s->state_dir, 0700) < 0 && errno != EEXIST)
        return log_error_errno(-errno, "cannot create %s: %m", s->state_dir);
    if (stat(s->state_dir, &st) < 0)
        return log_error_errno(-errno, "cannot read %s: %m", s->state_dir);
    if (!S_ISDIR(st.st_mode)) {
        log_error("%s is not a directory: the simulated hypervisor's state is one", s->state_dir);
        return -ENOTDIR;
    }
    s->lock_fd = open(lock_path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (s->lock_fd < 0)
        return log_error_errno(-errno, "cannot open %s: %m", lock_path);
    if (flock(s->lock_fd, LOCK_EX | LOCK_NB) < 0) {
        r = -errno;
        if (r == -EWOULDBLOCK)
            log_error("another domaind is using the simulated hypervisor %s", s->state_dir);
        else
            log_error_errno(r, "cannot lock %s: %m", lock_path);
        return r;
    }
    if (mkdir(s->domains_dir, 0700) < 0 && errno != EEXIST)
        return log_error_errno(-errno, "cannot create %s: %m", s->domains_dir);
    return 0;
}

int sim_backend_new(const struct sim_options *o, struct backend **ret)
{
    struct sim *s = xcalloc(1, sizeof(*s));
    int r;

    s->b.ops = &sim_ops;
    s->memory = o->memory;
    s->reserve = o->memory / 10 < SIM_DOM0_RESERVE ? o->memory / 10 : SIM_DOM0_RESERVE;
    s->cpus = o->cpus;
    s->step_ms = o->step_ms;
    s->state_dir = xstrdup(o->state_path);
    s->meta_path = xasprintf("%s/" SIM_META_FILE, o->state_path);
    s->domains_dir = xasprintf("%s/" SIM_DOMAINS_DIR, o->state_path);
    domtable_init(&s->t, &s->b.events, sizeof(struct sim_dom),
                  o->max_destroyed > 0 ? (size_t)o->max_destroyed : SIM_MAX_DESTROYED, NULL, NULL);
    events_init(&s->b.events, 0); /* sim_load sets it */
    s->next_domid = 1;
    s->lock_fd = -1;
    console_ring_init(&s->console, SIM_CONSOLE_RING);
    console_ring_printf(&s->console, "Xen version %s (Xenia simulator)", SIM_XEN_VERSION);

    if ((r = sim_open_dir(s)) < 0 || (r = sim_load(s)) < 0)
        goto fail;
    log_notice("sim backend: %lld bytes (%lld for dom0), %d CPUs, steps of %d ms, state in %s",
               (long long)s->memory, (long long)s->reserve, s->cpus, s->step_ms, s->state_dir);
    *ret = &s->b;
    return 0;

fail:
    sim_free(&s->b);
    return r;
}
