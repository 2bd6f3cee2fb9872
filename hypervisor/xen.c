/* The xen backend (see xen.h): domaind's operations on Xen's domains with
 * libxl. Each operation is libxl's synchronous call (ao_how NULL: libxl
 * runs its own event loop in the calling thread, which its context allows
 * from several threads at once), made without the backend's mutex held.
 * The mutex guards the backend's picture of the domains, a table shared
 * with the sim (domtable.h): a copy of what libxl last listed, with the
 * generation of each domain's last change.
 * That picture is read again from Xen (xen_refresh) after every operation,
 * on every list or get, and whenever xenstore says a domain was built,
 * shut down or died (xen-watch.c); a change seen takes the next
 * generation and wakes events/watch and the clean shutdowns waiting for a
 * guest. Operations on one domain are serialised by the table, as the
 * sim's are: the domain is marked busy, and others wait. */
#include "hypervisor/xen.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <libxl.h>
#include <libxl_utils.h>

#include "hypervisor/domtable.h"
#include "hypervisor/nic.h"
#include "hypervisor/xen-config.h"
#include "hypervisor/xen-image.h"
#include "hypervisor/xen-log.h"
#include "hypervisor/xen-nbd.h"
#include "hypervisor/xen-watch.h"
#include "lib/cleanup.h"
#include "lib/hashmap.h"
#include "lib/log.h"
#include "lib/strbuf.h"
#include "lib/util.h"

LOG_MODULE("xen");

#define XEN_MAX_DESTROYED 256
/* The save stream libxl_domain_suspend writes in Xen 4.17. */
#define XEN_STREAM_VERSION 2
/* INVALID_DOMID as the uint32_t libxl writes. */
#define XEN_NO_DOMID ((uint32_t)INVALID_DOMID)
/* Xen's domids are below DOMID_FIRST_RESERVED (0x7ff0). */
#define XEN_MAX_DOMID 0x7fef

/* A domain in the backend's picture: the table's record (building while
 * created or resumed), and xen's own. */
struct xen_dom {
    struct dt_dom dt;
    bool rebuilding; /* a reboot's new domain is being built: left as it is */
    bool foreign;    /* not built by domaind: no configuration to rebuild it */
    bool seen;       /* listed by the refresh under way */
};

struct xen {
    struct backend b;
    libxl_ctx *ctx;
    xentoollog_logger *logger;
    char *device_model;  /* QEMU's path */
    bool pv_dm_always;   /* every PV and PVH guest gets QEMU, needed or not */
    struct xen_nbd *nbd; /* file disks of domains without QEMU */
    struct xen_watch *watch;
    struct domtable t; /* of struct xen_dom; its lock guards everything below too */
    /* Domids domaind destroyed: while Xen still lists one dying (its last
     * pages not yet released), it is gone for domaind. */
    uint8_t reaped[(XEN_MAX_DOMID + 1) / 8];
};

static bool bit_get(const uint8_t *map, uint32_t i)
{
    return i <= XEN_MAX_DOMID && (map[i / 8] >> (i % 8)) & 1;
}

static void bit_put(uint8_t *map, uint32_t i, bool on)
{
    if (i > XEN_MAX_DOMID)
        return;
    if (on)
        map[i / 8] |= (uint8_t)(1 << (i % 8));
    else
        map[i / 8] &= (uint8_t) ~(1 << (i % 8));
}

static struct xen *xen_of(struct backend *b)
{
    return (struct xen *)((char *)b - offsetof(struct xen, b));
}

static struct xen_dom *xen_dom(struct dt_dom *dom)
{
    return (struct xen_dom *)((char *)dom - offsetof(struct xen_dom, dt));
}

/* ---- errors ---- */

/* A failed libxl call: what libxl logged on this thread, or its code. */
static struct dm_error *fail_libxl(const char *what, int rc)
{
    const char *why = xen_log_last_error();

    if (*why)
        return dm_failf(DM_ERR_BACKEND_FAILURE, "%s: %s", what, why);
    return dm_failf(DM_ERR_BACKEND_FAILURE, "%s: libxl error %d", what, rc);
}

/* ---- what Xen says of a domain ---- */

static void uuid_of(const libxl_dominfo *info, char ret[UUID_STR_LEN])
{
    snprintf(ret, UUID_STR_LEN, LIBXL_UUID_FMT, LIBXL_UUID_BYTES(info->uuid));
}

static enum dm_reason reason_of(libxl_shutdown_reason r)
{
    switch (r) {
    case LIBXL_SHUTDOWN_REASON_POWEROFF:
        return DM_REASON_POWEROFF;
    case LIBXL_SHUTDOWN_REASON_REBOOT:
    case LIBXL_SHUTDOWN_REASON_SOFT_RESET:
        return DM_REASON_REBOOT;
    case LIBXL_SHUTDOWN_REASON_SUSPEND:
        return DM_REASON_SUSPEND;
    case LIBXL_SHUTDOWN_REASON_CRASH:
    case LIBXL_SHUTDOWN_REASON_WATCHDOG:
        return DM_REASON_CRASH;
    default:
        return DM_REASON_HALT;
    }
}

static void state_of(const libxl_dominfo *info, enum dm_state *state, enum dm_reason *reason)
{
    *reason = DM_REASON_NONE;
    if (info->dying) {
        *state = DM_STATE_DYING;
    } else if (info->shutdown) {
        *state = DM_STATE_SHUTDOWN;
        *reason = reason_of(info->shutdown_reason);
    } else if (info->paused) {
        *state = DM_STATE_PAUSED;
    } else {
        *state = DM_STATE_RUNNING;
    }
}

static enum dm_type type_of(libxl_domain_type t)
{
    return t == LIBXL_DOMAIN_TYPE_HVM   ? DM_TYPE_HVM
           : t == LIBXL_DOMAIN_TYPE_PVH ? DM_TYPE_PVH
                                        : DM_TYPE_PV;
}

/* Stores cfg with the domain domid, for the refreshes and reboots to
 * come. */
static struct dm_error *store_config(struct xen *x, uint32_t domid, const struct dm_config *cfg)
{
    json_object *o = json_object_new_object();
    size_t len;

    dm_config_to_json(cfg, o);
    const char *text = json_object_to_json_string_length(o, JSON_C_TO_STRING_PLAIN, &len);
    xen_log_clear();
    int rc = libxl_userdata_store(x->ctx, domid, XEN_USERDATA_ID, (const uint8_t *)text, (int)len);
    json_object_put(o);
    return rc ? fail_libxl("cannot store the domain's configuration", rc) : NULL;
}

/* The configuration stored with domid; false if there is none (a domain
 * that domaind did not build) or it cannot be read. */
static bool load_config(struct xen *x, uint32_t domid, struct dm_config *ret)
{
    uint8_t *data = NULL;
    int len = 0;

    if (libxl_userdata_retrieve(x->ctx, domid, XEN_USERDATA_ID, &data, &len) || !data || len <= 0) {
        free(data);
        return false;
    }
    json_tokener *tok = json_tokener_new();
    json_object *o = json_tokener_parse_ex(tok, (const char *)data, len);
    json_tokener_free(tok);
    free(data);
    struct dm_error *e = o ? dm_config_from_json(o, ret) : dm_failf(DM_ERR_BACKEND_FAILURE, "?");
    json_object_put(o);
    if (e) {
        log_warning("the configuration stored with domid %u is not valid: %s", domid, e->params[0]);
        dm_error_free(e);
        return false;
    }
    return true;
}

/* What can be said of a domain domaind did not build, from Xen alone. */
static void foreign_config(struct xen *x, const libxl_dominfo *info, struct dm_config *ret)
{
    struct dm_config c = {0};
    uint64_t target_kb = 0;
    char *name = libxl_domid_to_name(x->ctx, info->domid);

    c.name = name ? name : xasprintf("domid %u", info->domid);
    c.type = type_of(info->domain_type);
    c.memory_max = (int64_t)info->max_memkb * 1024;
    if (libxl_get_memory_target(x->ctx, info->domid, &target_kb) || target_kb == 0)
        target_kb = info->current_memkb;
    c.memory_target = (int64_t)target_kb * 1024;
    if (c.memory_max < c.memory_target)
        c.memory_max = c.memory_target;
    if (c.memory_target < 1)
        c.memory_target = c.memory_max = 1;
    c.vcpus_max = (int)info->vcpu_max_id + 1;
    c.vcpus = info->vcpu_online >= 1 && (int)info->vcpu_online <= c.vcpus_max
                  ? (int)info->vcpu_online
                  : c.vcpus_max;
    *ret = c;
}

/* ---- the picture, with the lock held ---- */

/* xd (not busy) is no longer in Xen: it becomes a destroyed domain. Frees
 * xd. */
static void xen_gone(struct xen *x, struct dt_dom *xd)
{
    const struct dm_domain *d = domtable_gone(&x->t, xd);

    log_info("domain %s (domid %d) destroyed", d->uuid, d->domid);
}

/* Whether a domain's change is news to events/watch (memory_actual moves
 * with the guest's balloon all the time and is not). */
static bool news(const struct dm_domain *a, const struct dm_domain *b)
{
    return a->domid != b->domid || a->state != b->state ||
           a->shutdown_reason != b->shutdown_reason || a->cfg.vcpus != b->cfg.vcpus ||
           a->cfg.memory_target != b->cfg.memory_target || a->cfg.memory_max != b->cfg.memory_max ||
           !streq(a->cfg.name ? a->cfg.name : "", b->cfg.name ? b->cfg.name : "");
}

/* Brings the picture of the domain of info (the one listed for its uuid)
 * up to date. */
static void xen_refresh_one(struct xen *x, const libxl_dominfo *info, const char *uuid)
{
    struct dt_dom *xd = hashmap_get(&x->t.domains, uuid);
    struct dm_domain nd = {0};
    bool same = xd && xd->d.domid == (int)info->domid;

    if (xd) {
        xen_dom(xd)->seen = true;
        if (xd->building || xen_dom(xd)->rebuilding)
            return;
    }
    snprintf(nd.uuid, sizeof(nd.uuid), "%s", uuid);
    nd.domid = (int)info->domid;
    state_of(info, &nd.state, &nd.shutdown_reason);
    nd.memory_actual = (int64_t)info->current_memkb * 1024;
    bool foreign = false;
    if (same) {
        dm_config_copy(&nd.cfg, &xd->d.cfg);
        nd.start_time = xd->d.start_time;
        foreign = xen_dom(xd)->foreign;
    } else {
        if (!load_config(x, info->domid, &nd.cfg)) {
            foreign_config(x, info, &nd.cfg);
            foreign = true;
        }
        uint32_t t = libxl_vm_get_start_time(x->ctx, info->domid);
        nd.start_time = t != (uint32_t)-1 && t != 0 ? (double)t : now_realtime();
    }
    /* The vCPUs online are Xen's to say. */
    if (info->vcpu_online >= 1 && (int)info->vcpu_online <= nd.cfg.vcpus_max)
        nd.cfg.vcpus = (int)info->vcpu_online;

    if (!xd) {
        xd = domtable_dom_new(&x->t, uuid);
        xd->d = nd;
        xen_dom(xd)->seen = true;
        domtable_add(&x->t, xd);
    } else if (news(&xd->d, &nd)) {
        nd.generation = xd->d.generation;
        dm_domain_done(&xd->d);
        xd->d = nd;
    } else {
        xd->d.memory_actual = nd.memory_actual;
        dm_domain_done(&nd);
        return;
    }
    xen_dom(xd)->foreign = foreign;
    domtable_relisted(&x->t, uuid);
    domtable_changed(&x->t, xd);
}

/* Whether listing a should be preferred to listing b, both of one uuid:
 * a living domain over a dying one (a reboot's new domain over the old),
 * else the newer. */
static bool better(const libxl_dominfo *a, const libxl_dominfo *b)
{
    if (a->dying != b->dying)
        return !a->dying;
    return a->domid > b->domid;
}

/* Reads the domains from Xen again, taking a generation for each that
 * changed, appeared or went. A domain that went while an operation holds
 * it is shown dying until the operation releases it. */
static struct dm_error *xen_refresh(struct xen *x)
{
    int n = 0;
    const char *k;
    void *v;

    xen_log_clear();
    libxl_dominfo *info = libxl_list_domain(x->ctx, &n);
    if (!info)
        return fail_libxl("cannot list the domains", ERROR_FAIL);

    char(*uuids)[UUID_STR_LEN] = xcalloc((size_t)n + 1, sizeof(*uuids));
    struct hashmap pick; /* uuid -> index + 1 of the entry to list */
    hashmap_init(&pick);
    uint8_t listed[sizeof(x->reaped)] = {0};
    for (int i = 0; i < n; i++) {
        bit_put(listed, info[i].domid, true);
        if (info[i].domid == 0 || (info[i].dying && bit_get(x->reaped, info[i].domid)))
            continue;
        uuid_of(&info[i], uuids[i]);
        intptr_t j = (intptr_t)hashmap_get(&pick, uuids[i]);
        if (!j || better(&info[i], &info[j - 1]))
            hashmap_put(&pick, uuids[i], (void *)(intptr_t)(i + 1));
    }
    for (size_t i = 0; hashmap_next(&x->t.domains, &i, &k, &v);)
        xen_dom(v)->seen = false;
    for (size_t i = 0; hashmap_next(&pick, &i, &k, &v);)
        xen_refresh_one(x, &info[(intptr_t)v - 1], k);
    hashmap_done(&pick);
    free(uuids);
    for (size_t i = 0; i < sizeof(listed); i++)
        x->reaped[i] &= listed[i];
    libxl_dominfo_list_free(info, n);

    /* What was not listed went; removing changes the map, so look again. */
    for (bool again = true; again;) {
        again = false;
        for (size_t i = 0; !again && hashmap_next(&x->t.domains, &i, &k, &v);) {
            struct dt_dom *xd = v;
            if (xen_dom(xd)->seen || xd->building)
                continue;
            if (!xd->busy) {
                xen_gone(x, xd);
                again = true;
            } else if (xd->d.state != DM_STATE_DYING) {
                xd->d.state = DM_STATE_DYING;
                domtable_changed(&x->t, xd);
            }
        }
    }
    return NULL;
}

/* The refresh the table calls before a domain is taken and after it is
 * released: a domain an operation destroyed becomes a destroyed one. */
static struct dm_error *xen_refresh_table(void *data)
{
    return xen_refresh(data);
}

/* The refresh of the xenstore watch: errors are logged, not answered. */
static void xen_refresh_cb(void *data)
{
    struct xen *x = data;

    pthread_mutex_lock(&x->t.lock);
    struct dm_error *e = xen_refresh(x);
    pthread_mutex_unlock(&x->t.lock);
    if (e) {
        log_error("%s", e->params[0]);
        dm_error_free(e);
    }
    /* A domain destroyed by another than domaind (xl destroy) leaves its
     * NBD devices to be released here. */
    xen_nbd_reclaim(x->nbd);
}

static struct dm_error *destroy_domid(struct xen *x, uint32_t domid);

/* ---- building ---- */

/* Checks that Xen has the memory to build cfg. No lock held. */
static struct dm_error *check_memory(struct xen *x, libxl_domain_config *cfg)
{
    uint64_t need_kb = 0, free_kb = 0;
    int rc;

    xen_log_clear();
    if ((rc = libxl_domain_need_memory(x->ctx, cfg, XEN_NO_DOMID, &need_kb)))
        return fail_libxl("cannot compute the memory the domain needs", rc);
    if ((rc = libxl_get_free_memory(x->ctx, &free_kb)))
        return fail_libxl("cannot read the host's free memory", rc);
    if (need_kb > free_kb)
        return dm_fail_memory((int64_t)need_kb * 1024, (int64_t)free_kb * 1024);
    return NULL;
}

/* Gives lc its device model: HVM guests and those with a qdisk disk get
 * QEMU; with pv_dm_always (and QEMU installed) every PV guest gets one
 * too. Without it a file disk plugged later into a guest without QEMU is
 * served through NBD (xen-nbd.h), and VM.start does not wait for a QEMU
 * nobody needs. A domain that needs QEMU when it is not there is refused
 * here rather than by a libxl failure half-way through. */
static struct dm_error *apply_device_model(struct xen *x, libxl_domain_config *lc)
{
    bool installed = access(x->device_model, X_OK) == 0;

    if (!installed && xen_config_needs_device_model(lc))
        return dm_failf(DM_ERR_BACKEND_FAILURE,
                        "the domain needs QEMU (file disks are served by its qdisk backend, HVM "
                        "guests are emulated by it) and %s cannot be run: %s (install "
                        "qemu-system-xen, or give domaind --device-model)",
                        x->device_model, strerror(errno));
    xen_config_device_model(lc, x->device_model, installed && x->pv_dm_always);
    return NULL;
}

/* Builds the domain uuid from cfg with libxl, paused: new (restore_fd -1)
 * or from a save stream, stores its configuration and unpauses it unless
 * start_paused. No lock held. Leaves no domain when it fails. */
static struct dm_error *xen_build_domain(struct xen *x, const char *uuid,
                                         const struct dm_config *cfg, int restore_fd,
                                         bool start_paused, bool check_mem, uint32_t *ret_domid)
{
    libxl_domain_config lc;
    uint32_t domid = XEN_NO_DOMID;
    struct dm_error *e;
    int rc;

    if ((e = xen_config_build(uuid, cfg, &lc)))
        return e;
    if ((e = apply_device_model(x, &lc)) || (check_mem && (e = check_memory(x, &lc)))) {
        libxl_domain_config_dispose(&lc);
        return e;
    }
    xen_log_clear();
    if (restore_fd < 0) {
        rc = libxl_domain_create_new(x->ctx, &lc, &domid, NULL, NULL);
    } else {
        libxl_domain_restore_params p;
        libxl_domain_restore_params_init(&p);
        p.checkpointed_stream = LIBXL_CHECKPOINTED_STREAM_NONE;
        p.stream_version = XEN_STREAM_VERSION;
        rc = libxl_domain_create_restore(x->ctx, &lc, &domid, restore_fd, -1, &p, NULL, NULL);
        libxl_domain_restore_params_dispose(&p);
    }
    libxl_domain_config_dispose(&lc);
    if (rc) {
        if (cfg->bootloader && strstr(xen_log_last_error(), "ootloader"))
            e = dm_fail(DM_ERR_BOOTLOADER_FAILED, uuid, xen_log_last_error());
        else
            e = fail_libxl(restore_fd < 0 ? "cannot build the domain" : "cannot restore the domain",
                           rc);
        goto fail;
    }
    if ((e = store_config(x, domid, cfg)))
        goto fail;
    if (!start_paused) {
        xen_log_clear();
        if ((rc = libxl_domain_unpause(x->ctx, domid, NULL))) {
            e = fail_libxl("cannot unpause the domain", rc);
            goto fail;
        }
    }
    log_info("domain %s built: domid %u%s", uuid, domid, start_paused ? ", paused" : "");
    *ret_domid = domid;
    return NULL;

fail:
    /* libxl may leave a half-built domain behind (ERROR_ABORTED and
     * others): none may remain. */
    if (domid != XEN_NO_DOMID) {
        struct dm_error *de = destroy_domid(x, domid);
        if (de) {
            log_error("cannot destroy the half-built domain %u of %s: %s", domid, uuid,
                      de->params[0]);
            dm_error_free(de);
        }
    }
    return e;
}

/* The domain uuid just built as domid, to ret. Lock held. */
static struct dm_error *xen_get_built(struct xen *x, const char *uuid, uint32_t domid,
                                      struct dm_domain *ret)
{
    struct dt_dom *xd = domtable_find(&x->t, uuid);

    if (!xd || xd->d.domid != (int)domid)
        return dm_failf(DM_ERR_BACKEND_FAILURE, "domain %s went as soon as it was built", uuid);
    dm_domain_copy(ret, &xd->d);
    return NULL;
}

/* create and resume: checks, then builds a domain that is not listed
 * until it is done. */
static struct dm_error *xen_create_from(struct xen *x, const char *uuid,
                                        const struct dm_config *cfg, int restore_fd,
                                        bool start_paused, struct dm_domain *ret)
{
    struct dm_error *e;
    libxl_physinfo pi;
    uint32_t domid;
    int rc;

    libxl_physinfo_init(&pi);
    xen_log_clear();
    rc = libxl_get_physinfo(x->ctx, &pi);
    int cpus = (int)pi.nr_cpus;
    libxl_physinfo_dispose(&pi);
    if (rc)
        return fail_libxl("cannot read the host's CPUs", rc);
    if (cfg->vcpus_max > cpus)
        return dm_fail_vcpus(cfg->vcpus_max, cpus);

    pthread_mutex_lock(&x->t.lock);
    if ((e = xen_refresh(x)) || (e = domtable_check_new(&x->t, uuid))) {
        pthread_mutex_unlock(&x->t.lock);
        return e;
    }
    struct dt_dom *xd = domtable_build_start(&x->t, uuid, cfg);
    pthread_mutex_unlock(&x->t.lock);

    e = xen_build_domain(x, uuid, cfg, restore_fd, start_paused, true, &domid);

    pthread_mutex_lock(&x->t.lock);
    if (e) {
        domtable_build_abandon(&x->t, xd);
    } else {
        xd->building = false;
        domtable_release(&x->t, xd);
        e = xen_get_built(x, uuid, domid, ret);
    }
    pthread_mutex_unlock(&x->t.lock);
    return e;
}

/* ---- operations ---- */

static struct dm_error *xen_host_info(struct backend *b, struct dm_host_info *ret)
{
    struct xen *x = xen_of(b);
    libxl_physinfo pi;
    uint64_t free_kb = 0;
    int rc;

    libxl_physinfo_init(&pi);
    xen_log_clear();
    if ((rc = libxl_get_physinfo(x->ctx, &pi))) {
        libxl_physinfo_dispose(&pi);
        return fail_libxl("cannot read the host's physical information", rc);
    }
    if ((rc = libxl_get_free_memory(x->ctx, &free_kb))) {
        libxl_physinfo_dispose(&pi);
        return fail_libxl("cannot read the host's free memory", rc);
    }
    const libxl_version_info *vi = libxl_get_version_info(x->ctx);
    if (!vi) {
        libxl_physinfo_dispose(&pi);
        return fail_libxl("cannot read Xen's version", ERROR_FAIL);
    }
    int64_t page = vi->pagesize > 0 ? vi->pagesize : 4096;
    *ret = (struct dm_host_info){
        .backend = "xen",
        .total_memory = (int64_t)pi.total_pages * page,
        .free_memory = (int64_t)free_kb * 1024,
        .nr_cpus = (int)pi.nr_cpus,
    };
    snprintf(ret->xen_version, sizeof(ret->xen_version), "%d.%d%s", vi->xen_version_major,
             vi->xen_version_minor, vi->xen_version_extra ? vi->xen_version_extra : "");
    libxl_physinfo_dispose(&pi);
    /* dom0 as Xen gives it memory (its kernel sees less: MemTotal leaves
     * out what the kernel reserves), as XCP reports the control domain */
    libxl_dominfo d0;
    libxl_dominfo_init(&d0);
    if (!libxl_domain_info(x->ctx, &d0, 0)) {
        ret->dom0_memory = (int64_t)d0.current_memkb * 1024;
        ret->dom0_vcpus = (int)d0.vcpu_online;
    }
    libxl_dominfo_dispose(&d0);
    return NULL;
}

static struct dm_error *xen_list(struct backend *b, struct dm_domain_list *ret)
{
    struct xen *x = xen_of(b);

    pthread_mutex_lock(&x->t.lock);
    struct dm_error *e = xen_refresh(x);
    if (!e)
        domtable_list(&x->t, ret);
    pthread_mutex_unlock(&x->t.lock);
    return e;
}

static struct dm_error *xen_get(struct backend *b, const char *uuid, struct dm_domain *ret)
{
    struct xen *x = xen_of(b);

    pthread_mutex_lock(&x->t.lock);
    struct dm_error *e = xen_refresh(x);
    if (!e)
        e = domtable_get(&x->t, uuid, ret);
    pthread_mutex_unlock(&x->t.lock);
    return e;
}

static struct dm_error *xen_create(struct backend *b, const char *uuid, const struct dm_config *cfg,
                                   bool start_paused, struct dm_domain *ret)
{
    return xen_create_from(xen_of(b), uuid, cfg, -1, start_paused, ret);
}

/* Asks the guest of domid to shut down or reboot. An HVM guest without PV
 * drivers has no control node to read: it gets the ACPI power button, as
 * xl's -F does (for a reboot too: domaind builds the domain again
 * whatever the guest's reason). No lock held. */
static struct dm_error *ask_guest(struct xen *x, uint32_t domid, enum dm_type type, bool reboot)
{
    int rc;

    xen_log_clear();
    rc = reboot ? libxl_domain_reboot(x->ctx, domid, NULL)
                : libxl_domain_shutdown(x->ctx, domid, NULL);
    if (rc == ERROR_NOPARAVIRT && type == DM_TYPE_HVM) {
        log_info("domid %u has no PV drivers: pressing its power button", domid);
        xen_log_clear();
        rc = libxl_send_trigger(x->ctx, domid, LIBXL_TRIGGER_POWER, 0, NULL);
    }
    if (rc == ERROR_NOPARAVIRT)
        return dm_failf(DM_ERR_BACKEND_FAILURE,
                        "the guest of domid %u has no PV drivers to be asked to shut down", domid);
    return rc ? fail_libxl("cannot ask the guest to shut down", rc) : NULL;
}

/* Destroys domid. No lock held. */
static struct dm_error *destroy_domid(struct xen *x, uint32_t domid)
{
    xen_log_clear();
    int rc = libxl_domain_destroy(x->ctx, domid, NULL);
    if (rc)
        return fail_libxl("cannot destroy the domain", rc);
    pthread_mutex_lock(&x->t.lock);
    bit_put(x->reaped, domid, true);
    pthread_mutex_unlock(&x->t.lock);
    /* libxl removed the domain's backends: its NBD devices are free. */
    xen_nbd_reclaim(x->nbd);
    return NULL;
}

/* shutdown and reboot: brings the domain down, cleanly or not; for a
 * reboot builds it again from its configuration. Lock held. */
static struct dm_error *xen_down(struct xen *x, const char *uuid, bool reboot, bool clean,
                                 double timeout, struct dm_domain *ret)
{
    double deadline = now_monotonic() + timeout;
    struct dt_dom *xd;
    struct dm_error *e;

    if ((e = domtable_take_in(&x->t, uuid, clean ? DT_ANY & ~DT_IN(DM_STATE_PAUSED) : DT_ANY,
                              DM_STATE_RUNNING, &xd)))
        return e;
    if (reboot && xen_dom(xd)->foreign) {
        e = dm_failf(DM_ERR_BACKEND_FAILURE,
                     "domain %s was not built by domaind: it cannot be built again", uuid);
        domtable_release(&x->t, xd);
        return e;
    }
    /* A guest that already shut down is not asked again. */
    if (clean && xd->d.state == DM_STATE_RUNNING) {
        uint32_t domid = (uint32_t)xd->d.domid;
        enum dm_type type = xd->d.cfg.type;
        pthread_mutex_unlock(&x->t.lock);
        e = ask_guest(x, domid, type, reboot);
        pthread_mutex_lock(&x->t.lock);
        if (e) {
            domtable_release(&x->t, xd);
            return e;
        }
        if ((e = domtable_await_shutdown(&x->t, &xd, deadline, reboot ? NULL : ret)) || !xd)
            return e;
    }

    uint32_t domid = (uint32_t)xd->d.domid;
    struct dm_config cfg;
    dm_config_copy(&cfg, &xd->d.cfg);
    pthread_mutex_unlock(&x->t.lock);
    e = destroy_domid(x, domid);
    pthread_mutex_lock(&x->t.lock);
    if (e || !reboot) {
        dm_config_done(&cfg);
        domtable_release(&x->t, xd); /* may free xd */
        if (e)
            return e;
        const struct dm_domain *gone = domtable_get_destroyed(&x->t, uuid);
        if (gone && gone->domid == (int)domid)
            dm_domain_copy(ret, gone);
        else
            e = dm_failf(DM_ERR_BACKEND_FAILURE, "domain %s (domid %u) is still there", uuid,
                         domid);
        return e;
    }

    /* The reboot's new domain; xd stays busy, dying, meanwhile, and the
     * refreshes leave it alone until its configuration is stored. */
    if (xd->d.state != DM_STATE_DYING) {
        xd->d.state = DM_STATE_DYING;
        domtable_changed(&x->t, xd);
    }
    xen_dom(xd)->rebuilding = true;
    pthread_mutex_unlock(&x->t.lock);
    uint32_t new_domid;
    e = xen_build_domain(x, uuid, &cfg, -1, false, false, &new_domid);
    dm_config_done(&cfg);
    pthread_mutex_lock(&x->t.lock);
    xen_dom(xd)->rebuilding = false;
    domtable_release(&x->t, xd);
    if (e)
        return e;
    return xen_get_built(x, uuid, new_domid, ret);
}

static struct dm_error *xen_shutdown(struct backend *b, const char *uuid, bool clean,
                                     double timeout, struct dm_domain *ret)
{
    struct xen *x = xen_of(b);

    pthread_mutex_lock(&x->t.lock);
    struct dm_error *e = xen_down(x, uuid, false, clean, timeout, ret);
    pthread_mutex_unlock(&x->t.lock);
    return e;
}

static struct dm_error *xen_reboot(struct backend *b, const char *uuid, bool clean, double timeout,
                                   struct dm_domain *ret)
{
    struct xen *x = xen_of(b);

    pthread_mutex_lock(&x->t.lock);
    struct dm_error *e = xen_down(x, uuid, true, clean, timeout, ret);
    pthread_mutex_unlock(&x->t.lock);
    return e;
}

/* pause and unpause: from one state to the other. */
static struct dm_error *xen_flip(struct backend *b, const char *uuid, bool pause,
                                 struct dm_domain *ret)
{
    struct xen *x = xen_of(b);
    enum dm_state from = pause ? DM_STATE_RUNNING : DM_STATE_PAUSED;
    struct dt_dom *xd;
    struct dm_error *e;

    pthread_mutex_lock(&x->t.lock);
    if ((e = domtable_take_in(&x->t, uuid, DT_IN(from), from, &xd)))
        goto out;
    uint32_t domid = (uint32_t)xd->d.domid;
    pthread_mutex_unlock(&x->t.lock);
    xen_log_clear();
    int rc =
        pause ? libxl_domain_pause(x->ctx, domid, NULL) : libxl_domain_unpause(x->ctx, domid, NULL);
    pthread_mutex_lock(&x->t.lock);
    domtable_release(&x->t, xd);
    if (rc)
        e = fail_libxl(pause ? "cannot pause the domain" : "cannot unpause the domain", rc);
    else
        e = domtable_get(&x->t, uuid, ret);
out:
    pthread_mutex_unlock(&x->t.lock);
    return e;
}

static struct dm_error *xen_pause(struct backend *b, const char *uuid, struct dm_domain *ret)
{
    return xen_flip(b, uuid, true, ret);
}

static struct dm_error *xen_unpause(struct backend *b, const char *uuid, struct dm_domain *ret)
{
    return xen_flip(b, uuid, false, ret);
}

/* Saves domid (configured as cfg) to path: a new file that replaces path
 * only once complete, or a path that exists (a suspend VDI that storaged
 * made, a block device) written in place from its start, neither
 * truncated nor replaced, for its SR owns it. No lock held. A failed save
 * leaves the guest running. */
static struct dm_error *save_image(struct xen *x, uint32_t domid, const struct dm_config *cfg,
                                   const char *path)
{
    struct stat st;
    bool in_place = stat(path, &st) == 0;
    _cleanup_free_ char *tmp = in_place ? xstrdup(path) : xasprintf("%s.tmp", path);
    struct dm_error *e = NULL;
    int fd, r, rc;

    fd = open(tmp, O_WRONLY | O_CLOEXEC | (in_place ? 0 : O_CREAT | O_TRUNC), 0600);
    if (fd < 0) {
        return dm_failf(DM_ERR_BACKEND_FAILURE, "cannot write the image %s: %s", path,
                        strerror(errno));
    }
    if ((r = xen_image_write_header(fd, cfg)) < 0) {
        e = dm_failf(DM_ERR_BACKEND_FAILURE, "cannot write the image %s: %s", path, strerror(-r));
        goto out;
    }
    xen_log_clear();
    if ((rc = libxl_domain_suspend(x->ctx, domid, fd, 0, NULL))) {
        e = fail_libxl("cannot save the domain", rc);
        /* The guest may have suspended before the save failed: it goes on
         * running, as xl's save does. */
        libxl_dominfo info;
        libxl_dominfo_init(&info);
        if (libxl_domain_info(x->ctx, &info, domid) == 0 && info.shutdown &&
            info.shutdown_reason == LIBXL_SHUTDOWN_REASON_SUSPEND &&
            libxl_domain_resume(x->ctx, domid, 1, NULL))
            log_error("cannot resume domid %u after its failed save", domid);
        libxl_dominfo_dispose(&info);
        goto out;
    }
    if (fsync(fd) < 0)
        e = dm_failf(DM_ERR_BACKEND_FAILURE, "cannot write the image %s: %s", path,
                     strerror(errno));
out:
    if (close(fd) < 0 && !e)
        e = dm_failf(DM_ERR_BACKEND_FAILURE, "cannot write the image %s: %s", path,
                     strerror(errno));
    if (!in_place) {
        if (!e && rename(tmp, path) < 0)
            e = dm_failf(DM_ERR_BACKEND_FAILURE, "cannot write the image %s: %s", path,
                         strerror(errno));
        if (e)
            unlink(tmp);
    }
    return e;
}

static struct dm_error *xen_suspend(struct backend *b, const char *uuid, const char *path)
{
    struct xen *x = xen_of(b);
    struct dt_dom *xd;
    struct dm_error *e;

    pthread_mutex_lock(&x->t.lock);
    if ((e = domtable_take_in(&x->t, uuid, DT_IN(DM_STATE_RUNNING), DM_STATE_RUNNING, &xd)))
        goto out;
    if (xen_dom(xd)->foreign) {
        e = dm_failf(DM_ERR_BACKEND_FAILURE,
                     "domain %s was not built by domaind: it could not be resumed", uuid);
        domtable_release(&x->t, xd);
        goto out;
    }
    uint32_t domid = (uint32_t)xd->d.domid;
    struct dm_config cfg;
    dm_config_copy(&cfg, &xd->d.cfg);
    pthread_mutex_unlock(&x->t.lock);
    if (!(e = save_image(x, domid, &cfg, path))) {
        log_info("domain %s (domid %u) saved to %s", uuid, domid, path);
        e = destroy_domid(x, domid);
    }
    dm_config_done(&cfg);
    pthread_mutex_lock(&x->t.lock);
    domtable_release(&x->t, xd);
out:
    pthread_mutex_unlock(&x->t.lock);
    return e;
}

static struct dm_error *xen_resume(struct backend *b, const char *uuid, const char *path,
                                   bool start_paused, struct dm_domain *ret)
{
    struct xen *x = xen_of(b);
    struct dm_config cfg;
    struct dm_error *e;
    int fd = open(path, O_RDONLY | O_CLOEXEC);

    if (fd < 0)
        return dm_failf(DM_ERR_BACKEND_FAILURE, "cannot read the image %s: %s", path,
                        strerror(errno));
    if (!(e = xen_image_read_header(fd, path, &cfg))) {
        e = xen_create_from(x, uuid, &cfg, fd, start_paused, ret);
        dm_config_done(&cfg);
    }
    close(fd);
    return e;
}

/* libxl's figures of domid: its CPU time and memory, and each vCPU's. */
static struct dm_error *read_stats(struct xen *x, uint32_t domid, struct dm_stats *ret)
{
    libxl_dominfo info;
    libxl_vcpuinfo *v;
    int n = 0, nr_cpus = 0, rc;

    libxl_dominfo_init(&info);
    xen_log_clear();
    if ((rc = libxl_domain_info(x->ctx, &info, domid))) {
        libxl_dominfo_dispose(&info);
        return fail_libxl("cannot read the domain's figures", rc);
    }
    ret->cpu_time = (double)info.cpu_time / 1e9;
    ret->memory_actual = (int64_t)info.current_memkb * 1024;
    libxl_dominfo_dispose(&info);
    if (!(v = libxl_list_vcpu(x->ctx, domid, &n, &nr_cpus)))
        return fail_libxl("cannot list the domain's vCPUs", ERROR_FAIL);
    for (int i = 0; i < n; i++) {
        uint32_t id = v[i].vcpuid;
        if (id < (uint32_t)ret->n_vcpus) {
            ret->vcpus[id].online = v[i].online;
            ret->vcpus[id].cpu_time = (double)v[i].vcpu_time / 1e9;
        }
    }
    libxl_vcpuinfo_list_free(v, n);
    return NULL;
}

static struct dm_error *xen_stats(struct backend *b, const char *uuid, struct dm_stats *ret)
{
    struct xen *x = xen_of(b);
    struct dm_stats st = {0};

    pthread_mutex_lock(&x->t.lock);
    struct dm_error *e = xen_refresh(x);
    struct dt_dom *xd = e ? NULL : domtable_find(&x->t, uuid);
    if (!e && !xd)
        e = dm_fail(DM_ERR_NO_SUCH_DOMAIN, uuid);
    else if (!e && xd->d.state != DM_STATE_RUNNING && xd->d.state != DM_STATE_PAUSED)
        e = dm_fail_state(&xd->d, DM_STATE_RUNNING);
    if (!e) {
        st.domid = xd->d.domid;
        st.memory_target = xd->d.cfg.memory_target;
        st.n_vcpus = xd->d.cfg.vcpus_max > 0 ? xd->d.cfg.vcpus_max : 1;
        st.vcpus = xcalloc((size_t)st.n_vcpus, sizeof(*st.vcpus));
    }
    pthread_mutex_unlock(&x->t.lock);
    if (e)
        return e;
    st.time = now_monotonic();
    if ((e = read_stats(x, (uint32_t)st.domid, &st))) {
        dm_stats_done(&st);
        return e;
    }
    *ret = st;
    return NULL;
}

/* ---- changes of a live domain's configuration ---- */

/* A change of a domain's configuration (set_memory_target, set_vcpus,
 * the hot-plug calls) under way: the domain (taken), its domid and a copy
 * of its configuration, which the change edits without the lock. */
struct xen_cfg_op {
    struct dt_dom *xd;
    char uuid[UUID_STR_LEN];
    uint32_t domid;
    struct dm_config cfg;
};

/* The part of the configuration a change sets. */
enum xen_cfg_part { XEN_CFG_MEMORY_TARGET, XEN_CFG_VCPUS, XEN_CFG_DISKS, XEN_CFG_NICS };

/* Begins a change: takes the running or paused domain uuid and copies
 * what the change needs. own_only refuses a domain domaind did not build
 * (a foreign one has no stored configuration to follow a device change).
 * Takes the lock for itself. */
static struct dm_error *xen_begin_cfg_op(struct xen *x, const char *uuid, bool own_only,
                                         struct xen_cfg_op *ret)
{
    struct dt_dom *xd;
    struct dm_error *e;

    pthread_mutex_lock(&x->t.lock);
    if ((e = domtable_take_in(&x->t, uuid, DT_LIVE, DM_STATE_RUNNING, &xd)))
        goto out;
    if (own_only && xen_dom(xd)->foreign) {
        domtable_release(&x->t, xd);
        e = dm_failf(DM_ERR_BACKEND_FAILURE,
                     "domain %s was not built by domaind: its devices are not domaind's", uuid);
        goto out;
    }
    ret->xd = xd;
    snprintf(ret->uuid, sizeof(ret->uuid), "%s", xd->d.uuid);
    ret->domid = (uint32_t)xd->d.domid;
    dm_config_copy(&ret->cfg, &xd->d.cfg);
out:
    pthread_mutex_unlock(&x->t.lock);
    return e;
}

/* Ends a change: when it succeeded (e NULL), op->cfg, which holds the new
 * part, is stored with the domain, the part is recorded in the picture,
 * and the domain goes to ret. Takes the lock for itself; returns e or a
 * later error. */
static struct dm_error *xen_end_cfg_op(struct xen *x, struct xen_cfg_op *op, enum xen_cfg_part part,
                                       struct dm_error *e, struct dm_domain *ret)
{
    if (!e)
        e = store_config(x, op->domid, &op->cfg);
    pthread_mutex_lock(&x->t.lock);
    if (!e && op->xd->d.domid == (int)op->domid) {
        struct dm_config *c = &op->xd->d.cfg;
        switch (part) {
        case XEN_CFG_MEMORY_TARGET:
            c->memory_target = op->cfg.memory_target;
            break;
        case XEN_CFG_VCPUS:
            c->vcpus = op->cfg.vcpus;
            break;
        case XEN_CFG_DISKS:
            json_object_put(c->disks);
            c->disks = json_object_get(op->cfg.disks);
            break;
        case XEN_CFG_NICS:
            json_object_put(c->nics);
            c->nics = json_object_get(op->cfg.nics);
            break;
        }
        domtable_changed(&x->t, op->xd);
    }
    domtable_release(&x->t, op->xd);
    if (!e)
        e = domtable_get(&x->t, op->uuid, ret);
    pthread_mutex_unlock(&x->t.lock);
    dm_config_done(&op->cfg);
    return e;
}

static struct dm_error *xen_set_memory_target(struct backend *b, const char *uuid, int64_t target,
                                              struct dm_domain *ret)
{
    struct xen *x = xen_of(b);
    struct xen_cfg_op op;
    struct dm_error *e;
    uint64_t free_kb = 0;
    int64_t more;
    int rc;

    if ((e = xen_begin_cfg_op(x, uuid, false, &op)))
        return e;
    xen_log_clear();
    if (target < 1024 || target > op.cfg.memory_max)
        e = dm_failf(DM_ERR_INVALID_PARAMS, "target: %lld is not in 1024..%lld (memory_max)",
                     (long long)target, (long long)op.cfg.memory_max);
    else if ((rc = libxl_get_free_memory(x->ctx, &free_kb)))
        e = fail_libxl("cannot read the host's free memory", rc);
    else if ((more = target - op.cfg.memory_target) > (int64_t)free_kb * 1024)
        e = dm_fail_memory(more, (int64_t)free_kb * 1024);
    else if ((rc = libxl_set_memory_target(x->ctx, op.domid, target / 1024, 0, 0)))
        e = fail_libxl("cannot set the domain's memory target", rc);
    op.cfg.memory_target = target;
    return xen_end_cfg_op(x, &op, XEN_CFG_MEMORY_TARGET, e, ret);
}

static struct dm_error *xen_set_vcpus(struct backend *b, const char *uuid, int vcpus,
                                      struct dm_domain *ret)
{
    struct xen *x = xen_of(b);
    struct xen_cfg_op op;
    struct dm_error *e;
    int rc;

    if ((e = xen_begin_cfg_op(x, uuid, false, &op)))
        return e;
    if (vcpus < 1) {
        e = dm_failf(DM_ERR_INVALID_PARAMS, "vcpus: at least 1");
    } else if (vcpus > op.cfg.vcpus_max) {
        e = dm_fail_vcpus(vcpus, op.cfg.vcpus_max);
    } else {
        /* libxl frees the map with free(): it is ours to allocate. */
        libxl_bitmap map;
        libxl_bitmap_init(&map);
        map.size = (uint32_t)((op.cfg.vcpus_max + 7) / 8);
        map.map = xcalloc(map.size, 1);
        for (int i = 0; i < vcpus; i++)
            libxl_bitmap_set(&map, i);
        xen_log_clear();
        if ((rc = libxl_set_vcpuonline(x->ctx, op.domid, &map, NULL)))
            e = fail_libxl("cannot set the domain's vCPUs", rc);
        libxl_bitmap_dispose(&map);
    }
    op.cfg.vcpus = vcpus;
    return xen_end_cfg_op(x, &op, XEN_CFG_VCPUS, e, ret);
}

static struct dm_error *xen_destroy(struct backend *b, const char *uuid)
{
    struct xen *x = xen_of(b);
    struct dt_dom *xd;
    struct dm_error *e;

    pthread_mutex_lock(&x->t.lock);
    if (!(e = domtable_take(&x->t, uuid, &xd))) {
        uint32_t domid = (uint32_t)xd->d.domid;
        pthread_mutex_unlock(&x->t.lock);
        e = destroy_domid(x, domid);
        pthread_mutex_lock(&x->t.lock);
        domtable_release(&x->t, xd);
    }
    pthread_mutex_unlock(&x->t.lock);
    return e;
}

/* ---- hot-plug ---- */

/* Ends a device change: when it succeeded (e NULL), the domain's disks
 * become disks (taken either way), as xen_end_cfg_op says. */
static struct dm_error *xen_end_dev_op(struct xen *x, struct xen_cfg_op *op, struct dm_error *e,
                                       json_object *disks, struct dm_domain *ret)
{
    if (!e) {
        json_object_put(op->cfg.disks);
        op->cfg.disks = disks;
    } else {
        json_object_put(disks);
    }
    return xen_end_cfg_op(x, op, XEN_CFG_DISKS, e, ret);
}

/* Begins the change of the disk device of the domain uuid (built by
 * domaind, running or paused), found in op->cfg (*ret_disk, borrowed):
 * NO_SUCH_DEVICE, the domain released, if there is none. */
static struct dm_error *xen_begin_disk_op(struct xen *x, const char *uuid, const char *device,
                                          struct xen_cfg_op *op, json_object **ret_disk)
{
    struct dm_error *e = xen_begin_cfg_op(x, uuid, true, op);

    if (e)
        return e;
    if (!(*ret_disk = dm_disks_find(op->cfg.disks, device)))
        return xen_end_cfg_op(x, op, XEN_CFG_DISKS, dm_fail(DM_ERR_NO_SUCH_DEVICE, uuid, device),
                              NULL);
    return NULL;
}

static struct dm_error *xen_disk_attach(struct backend *b, const char *uuid, json_object *disk,
                                        struct dm_domain *ret)
{
    struct xen *x = xen_of(b);
    struct xen_cfg_op op;
    json_object *copy = NULL, *disks = NULL;
    libxl_device_disk ld;
    struct dm_disk dd;
    struct dm_error *e;
    int rc;

    if ((e = dm_disk_from_json(disk, "disk", &dd)))
        return e;
    if (json_object_deep_copy(disk, &copy, NULL) < 0 || !copy) {
        dm_disk_done(&dd);
        return dm_failf(DM_ERR_BACKEND_FAILURE, "cannot copy the disk");
    }
    if ((e = xen_begin_cfg_op(x, uuid, true, &op)))
        goto out;
    if (dm_disks_find(op.cfg.disks, dd.device)) {
        e = dm_fail(DM_ERR_DEVICE_EXISTS, uuid, dd.device);
    } else {
        disks = dm_disks_replace(op.cfg.disks, NULL, copy);
        libxl_device_disk_init(&ld);
        xen_config_disk(&dd, &ld);
        /* libxl refuses a qdisk disk to a domain without QEMU: the file
         * becomes a block device for blkback. The stored configuration
         * keeps the file, which QEMU serves when the domain is built
         * again. */
        _cleanup_free_ char *nbd = NULL;
        if (xen_nbd_wanted(op.cfg.type, &dd, xen_nbd_domain_has_dm(x->nbd, op.domid)) &&
            !(e = xen_nbd_connect(x->nbd, op.domid, &dd, &nbd))) {
            free(ld.pdev_path);
            ld.pdev_path = xstrdup(nbd);
            ld.backend = LIBXL_DISK_BACKEND_PHY;
            ld.format = LIBXL_DISK_FORMAT_RAW;
        }
        xen_log_clear();
        if (!e && (rc = libxl_device_disk_add(x->ctx, op.domid, &ld, NULL)))
            e = fail_libxl("cannot attach the disk", rc);
        libxl_device_disk_dispose(&ld);
        if (nbd) {
            xen_nbd_settled(x->nbd, nbd);
            if (e)
                xen_nbd_disconnect(x->nbd, nbd);
        }
    }
    e = xen_end_dev_op(x, &op, e, disks, ret);
out:
    json_object_put(copy);
    dm_disk_done(&dd);
    return e;
}

static struct dm_error *xen_disk_detach(struct backend *b, const char *uuid, const char *device,
                                        bool force, struct dm_domain *ret)
{
    struct xen *x = xen_of(b);
    struct xen_cfg_op op;
    json_object *disks = NULL, *old;
    libxl_device_disk ld;
    struct dm_error *e;
    int rc;

    if ((e = xen_begin_disk_op(x, uuid, device, &op, &old)))
        return e;
    disks = dm_disks_replace(op.cfg.disks, old, NULL);
    libxl_device_disk_init(&ld);
    xen_log_clear();
    if ((rc = libxl_vdev_to_device_disk(x->ctx, op.domid, device, &ld))) {
        e = fail_libxl("cannot find the disk", rc);
    } else if (force) {
        if ((rc = libxl_device_disk_destroy(x->ctx, op.domid, &ld, NULL)))
            e = fail_libxl("cannot take the disk away", rc);
    } else if ((rc = libxl_device_disk_safe_remove(x->ctx, op.domid, &ld, NULL))) {
        /* libxl asked the guest's frontend to close the device and it
         * did not within libxl's 10 s: the guest keeps it (the plain
         * _remove would take it away by force then). */
        const char *why = xen_log_last_error();
        e = dm_fail(DM_ERR_DETACH_REJECTED, uuid, device,
                    *why ? why : "the guest did not release the device");
    }
    /* A file served through NBD: its device goes with the disk. */
    if (!e && ld.pdev_path)
        xen_nbd_disconnect(x->nbd, ld.pdev_path);
    libxl_device_disk_dispose(&ld);
    return xen_end_dev_op(x, &op, e, disks, ret);
}

static struct dm_error *xen_cd_change(struct backend *b, const char *uuid, const char *device,
                                      const char *target, const char *format, struct dm_domain *ret)
{
    struct xen *x = xen_of(b);
    struct xen_cfg_op op;
    json_object *cd = NULL, *disks = NULL, *old;
    libxl_device_disk ld;
    struct dm_disk dd;
    struct dm_error *e;
    int rc;

    if ((e = xen_begin_disk_op(x, uuid, device, &op, &old)))
        return e;
    if (!(e = dm_disk_new_media(old, target, format, &cd)) &&
        !(e = dm_disk_from_json(cd, "disk", &dd))) {
        disks = dm_disks_replace(op.cfg.disks, old, cd);
        libxl_device_disk_init(&ld);
        xen_config_disk(&dd, &ld);
        xen_log_clear();
        if ((rc = libxl_cdrom_insert(x->ctx, op.domid, &ld, NULL)))
            e = fail_libxl(*target ? "cannot insert the medium" : "cannot eject the medium", rc);
        libxl_device_disk_dispose(&ld);
        dm_disk_done(&dd);
    }
    e = xen_end_dev_op(x, &op, e, disks, ret);
    json_object_put(cd);
    return e;
}

static struct dm_error *xen_changes(struct backend *b, uint64_t since, uint64_t *ret_generation,
                                    bool *ret_full, struct dm_domain_list *ret)
{
    domtable_changes(&xen_of(b)->t, since, ret_generation, ret_full, ret);
    return NULL;
}

static void xen_stop(struct backend *b)
{
    domtable_stop(&xen_of(b)->t);
}

static void xen_free(struct backend *b)
{
    struct xen *x = xen_of(b);

    /* The watch thread refreshes under the lock: it goes first. */
    xen_watch_stop(x->watch);
    domtable_done(&x->t);
    libxl_ctx_free(x->ctx);
    xtl_logger_destroy(x->logger);
    xen_nbd_free(x->nbd);
    free(x->device_model);
    events_done(&x->b.events);
    free(x);
}

/* NIC hot-plug: libxl_device_nic_add and _remove; the nic's hotplug
 * script (vif-openvswitch) puts the vif on its bridge, where networkd's
 * vif/plug finds it and gives it the VIF's external_ids. */
static struct dm_error *xen_nic_attach(struct backend *b, const char *uuid, json_object *nic,
                                       struct dm_domain *ret)
{
    struct xen *x = xen_of(b);
    struct xen_cfg_op op;
    json_object *copy = NULL, *nics = NULL;
    libxl_device_nic ln;
    struct dm_error *e;
    int devid, rc;
    char dev[16];

    if ((e = dm_nic_check(nic, "nic", &devid)))
        return e;
    snprintf(dev, sizeof(dev), "%d", devid);
    if (json_object_deep_copy(nic, &copy, NULL) < 0 || !copy)
        return dm_failf(DM_ERR_BACKEND_FAILURE, "cannot copy the nic");
    if ((e = xen_begin_cfg_op(x, uuid, true, &op))) {
        json_object_put(copy);
        return e;
    }
    libxl_device_nic_init(&ln);
    if (dm_nics_find(op.cfg.nics, devid)) {
        e = dm_fail(DM_ERR_DEVICE_EXISTS, uuid, dev);
    } else if (!(e = xen_config_nic(copy, &ln))) {
        xen_log_clear();
        if ((rc = libxl_device_nic_add(x->ctx, op.domid, &ln, NULL)))
            e = fail_libxl("cannot attach the nic", rc);
        else
            nics = dm_disks_replace(op.cfg.nics, NULL, copy);
    }
    libxl_device_nic_dispose(&ln);
    json_object_put(copy);
    if (!e) {
        json_object_put(op.cfg.nics);
        op.cfg.nics = nics;
    }
    return xen_end_cfg_op(x, &op, XEN_CFG_NICS, e, ret);
}

static struct dm_error *xen_nic_detach(struct backend *b, const char *uuid, int devid,
                                       struct dm_domain *ret)
{
    struct xen *x = xen_of(b);
    struct xen_cfg_op op;
    json_object *old;
    libxl_device_nic ln;
    struct dm_error *e;
    int rc;
    char dev[16];

    snprintf(dev, sizeof(dev), "%d", devid);
    if ((e = xen_begin_cfg_op(x, uuid, true, &op)))
        return e;
    if (!(old = dm_nics_find(op.cfg.nics, devid)))
        return xen_end_cfg_op(x, &op, XEN_CFG_NICS, dm_fail(DM_ERR_NO_SUCH_DEVICE, uuid, dev),
                              NULL);
    libxl_device_nic_init(&ln);
    xen_log_clear();
    if ((rc = libxl_devid_to_device_nic(x->ctx, op.domid, devid, &ln)))
        e = fail_libxl("cannot find the nic", rc);
    else if ((rc = libxl_device_nic_remove(x->ctx, op.domid, &ln, NULL)))
        e = fail_libxl("cannot detach the nic", rc);
    libxl_device_nic_dispose(&ln);
    if (!e) {
        json_object *nics = dm_disks_replace(op.cfg.nics, old, NULL);
        json_object_put(op.cfg.nics);
        op.cfg.nics = nics;
    }
    return xen_end_cfg_op(x, &op, XEN_CFG_NICS, e, ret);
}

/* host/dmesg: Xen's console ring, line by line, as `xl dmesg` reads it. */
static struct dm_error *xen_console_read(struct backend *b, bool clear, char **ret_text)
{
    struct xen *x = xen_of(b);
    struct strbuf sb;
    char *line;
    int rc;

    xen_log_clear();
    libxl_xen_console_reader *cr = libxl_xen_console_read_start(x->ctx, clear);
    if (!cr)
        return fail_libxl("cannot read Xen's console ring", ERROR_FAIL);
    strbuf_init(&sb, 16384);
    while ((rc = libxl_xen_console_read_line(x->ctx, cr, &line)) > 0)
        strbuf_adds(&sb, line);
    libxl_xen_console_read_finish(x->ctx, cr);
    if (rc < 0) {
        strbuf_done(&sb);
        return fail_libxl("cannot read Xen's console ring", rc);
    }
    *ret_text = strbuf_detach(&sb, NULL);
    return NULL;
}

static struct dm_error *xen_debug_keys(struct backend *b, const char *keys)
{
    struct xen *x = xen_of(b);
    char *k = xstrdup(keys); /* libxl takes it without const */
    xen_log_clear();
    int rc = libxl_send_debug_keys(x->ctx, k);
    free(k);
    return rc ? fail_libxl("cannot send debug keys to Xen", rc) : NULL;
}

static const struct backend_ops xen_ops = {
    .name = "xen",
    .stop = xen_stop,
    .free = xen_free,
    .host_info = xen_host_info,
    .console_read = xen_console_read,
    .debug_keys = xen_debug_keys,
    .list = xen_list,
    .get = xen_get,
    .create = xen_create,
    .shutdown = xen_shutdown,
    .reboot = xen_reboot,
    .pause = xen_pause,
    .unpause = xen_unpause,
    .suspend = xen_suspend,
    .resume = xen_resume,
    .set_memory_target = xen_set_memory_target,
    .set_vcpus = xen_set_vcpus,
    .destroy = xen_destroy,
    .stats = xen_stats,
    .disk_attach = xen_disk_attach,
    .disk_detach = xen_disk_detach,
    .cd_change = xen_cd_change,
    .nic_attach = xen_nic_attach,
    .nic_detach = xen_nic_detach,
    .changes = xen_changes,
};

int xen_backend_new(const struct xen_options *o, struct backend **ret)
{
    struct xen *x = xcalloc(1, sizeof(*x));
    int rc, r;

    x->b.ops = &xen_ops;
    x->device_model = xstrdup(o && o->device_model ? o->device_model : XEN_DEFAULT_DEVICE_MODEL);
    x->pv_dm_always = o && o->pv_device_model_always;
    domtable_init(&x->t, &x->b.events, sizeof(struct xen_dom), XEN_MAX_DESTROYED, xen_refresh_table,
                  x);
    /* Nothing of domaind's is kept across its restarts, so generations
     * start from the clock (microseconds since the epoch): every token a
     * previous run handed out is older than this start, which takes a
     * generation of its own, so that events/watch answers it in full. */
    events_init(&x->b.events, (uint64_t)(now_realtime() * 1e6));
    x->t.evicted_generation = events_bump(&x->b.events);
    x->logger = xen_logger_new();

    xen_log_clear();
    if ((rc = libxl_ctx_alloc(&x->ctx, LIBXL_VERSION, 0, x->logger))) {
        const char *why = xen_log_last_error();
        log_error("cannot open libxl (is this Xen's dom0, with xenstored running?)%s%s",
                  *why ? ": " : "", why);
        x->ctx = NULL;
        r = -ENODEV;
        goto fail;
    }
    const libxl_version_info *vi = libxl_get_version_info(x->ctx);
    if (!vi) {
        log_error("libxl cannot read Xen's version: this is not Xen's dom0");
        r = -ENODEV;
        goto fail;
    }
    if ((r = xen_nbd_new(&x->nbd)) < 0)
        goto fail;
    pthread_mutex_lock(&x->t.lock);
    struct dm_error *e = xen_refresh(x);
    size_t n = x->t.domains.count;
    pthread_mutex_unlock(&x->t.lock);
    if (e) {
        log_error("%s", e->params[0]);
        dm_error_free(e);
        r = -EIO;
        goto fail;
    }
    /* NBD devices left by a previous run for domains now gone, or
     * connected just before it died and never attached. */
    xen_nbd_reclaim(x->nbd);
    if ((r = xen_watch_start(xen_refresh_cb, x, &x->watch)) < 0)
        goto fail;
    log_notice("xen backend: Xen %d.%d%s, %zu domains besides dom0", vi->xen_version_major,
               vi->xen_version_minor, vi->xen_version_extra ? vi->xen_version_extra : "", n);
    if (access(x->device_model, X_OK) < 0)
        log_warning("no device model: %s cannot be run (%s); domains with file disks and HVM "
                    "domains cannot be built",
                    x->device_model, strerror(errno));
    *ret = &x->b;
    return 0;

fail:
    xen_free(&x->b);
    return r;
}
