/* The backend interface of domaind: what a hypervisor must offer for
 * domaind to serve its JSON-RPC methods (hypervisor/README.md). A backend
 * is a table of operations (struct backend_ops) that the sim backend
 * (sim.c) implements today and the xen backend (libxl) will implement; the
 * method handlers (methods.c) turn JSON parameters into the C types below
 * and the backend's errors (struct dm_error, declared once in DM_ERRORS)
 * into JSON-RPC application errors. Every operation may be called from
 * several connection threads at once and may block for as long as the
 * hypervisor takes (a clean shutdown waits up to its timeout); none of
 * them holds a lock while it waits. This header names no JSON-RPC type:
 * only json-c values for the free-form parts of a domain's configuration. */
#pragma once

#include <json-c/json.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "hypervisor/events.h"
#include "lib/util.h"

/* domaind's application errors: code and number of string parameters, as
 * hypervisor/README.md lists them. */
#define DM_ERRORS(X)                                                                               \
    X(NO_SUCH_DOMAIN, 1)       /* uuid */                                                          \
    X(DOMAIN_EXISTS, 1)        /* uuid */                                                          \
    X(BAD_STATE, 3)            /* uuid, expected, actual */                                        \
    X(NOT_ENOUGH_MEMORY, 2)    /* needed, free (bytes) */                                          \
    X(TOO_MANY_VCPUS, 2)       /* asked, available */                                              \
    X(SHUTDOWN_TIMEOUT, 1)     /* uuid */                                                          \
    X(BOOTLOADER_FAILED, 2)    /* uuid, message */                                                 \
    X(BACKEND_FAILURE, 1)      /* message */                                                       \
    X(SIM_INJECTED_FAILURE, 1) /* method */                                                        \
    X(DEVICE_EXISTS, 2)        /* uuid, device */                                                  \
    X(NO_SUCH_DEVICE, 2)       /* uuid, device */                                                  \
    X(DETACH_REJECTED, 3)      /* uuid, device, message */

enum dm_err {
    DM_ERR_INVALID_PARAMS, /* a parameter out of range: JSON-RPC -32602, params: message */
#define DM_ERR_ENUM_(name, n) DM_ERR_##name,
    DM_ERRORS(DM_ERR_ENUM_)
#undef DM_ERR_ENUM_
        DM_ERR__COUNT
};

#define DM_ERROR_MAX_PARAMS 3

/* A failed operation: the code and its parameters (owned strings; unused
 * slots are NULL). */
struct dm_error {
    enum dm_err code;
    char *params[DM_ERROR_MAX_PARAMS];
    size_t n_params;
};

/* Makes an error from its string parameters, ending with NULL (dm_fail
 * adds it); the number must match the table. Never returns NULL. */
struct dm_error *dm_error_new_(enum dm_err code, ...);
#define dm_fail(code, ...) dm_error_new_(code, ##__VA_ARGS__, (const char *)NULL)
/* Makes an error with one formatted parameter: DM_ERR_INVALID_PARAMS or
 * DM_ERR_BACKEND_FAILURE. */
struct dm_error *dm_failf(enum dm_err code, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
void dm_error_free(struct dm_error *e);
/* "NO_SUCH_DOMAIN", ...; "INVALID_PARAMS" for DM_ERR_INVALID_PARAMS. */
const char *dm_error_name(enum dm_err code);

/* The enumerations of a domain, with their names on the wire. */
#define DM_TYPES(X) X(PV, "pv") X(PVH, "pvh") X(HVM, "hvm")
#define DM_STATES(X)                                                                               \
    X(RUNNING, "running")                                                                          \
    X(PAUSED, "paused")                                                                            \
    X(SHUTDOWN, "shutdown")                                                                        \
    X(DYING, "dying")                                                                              \
    X(DESTROYED, "destroyed")
/* DM_REASON_NONE (JSON null) while the domain has not shut down. */
#define DM_REASONS(X)                                                                              \
    X(NONE, NULL)                                                                                  \
    X(POWEROFF, "poweroff")                                                                        \
    X(REBOOT, "reboot")                                                                            \
    X(SUSPEND, "suspend")                                                                          \
    X(CRASH, "crash")                                                                              \
    X(HALT, "halt")

#define DM_ENUM_(prefix, name, text) prefix##name,
enum dm_type {
#define DM_TYPE_(name, text) DM_ENUM_(DM_TYPE_, name, text)
    DM_TYPES(DM_TYPE_)
#undef DM_TYPE_
        DM_TYPE__COUNT
};
enum dm_state {
#define DM_STATE_(name, text) DM_ENUM_(DM_STATE_, name, text)
    DM_STATES(DM_STATE_)
#undef DM_STATE_
        DM_STATE__COUNT
};
enum dm_reason {
#define DM_REASON_(name, text) DM_ENUM_(DM_REASON_, name, text)
    DM_REASONS(DM_REASON_)
#undef DM_REASON_
        DM_REASON__COUNT
};
#undef DM_ENUM_

/* Wire names, and their parsing: -1 for an unknown name. dm_reason_name
 * returns NULL for DM_REASON_NONE. */
const char *dm_type_name(enum dm_type t);
const char *dm_state_name(enum dm_state s);
const char *dm_reason_name(enum dm_reason r);
int dm_type_from_name(const char *s);
int dm_reason_from_name(const char *s);
int dm_state_from_name(const char *s);

/* What a domain is built from: the parameters of domain/create. Strings
 * and json values are owned (NULL when absent). */
struct dm_config {
    char *name;
    enum dm_type type;
    int64_t memory_max, memory_target; /* bytes */
    int vcpus_max, vcpus;
    char *kernel, *ramdisk, *cmdline, *bootloader, *bootloader_args, *boot_order;
    json_object *platform; /* an object */
    json_object *disks;    /* an array */
    json_object *nics;     /* an array */
};

/* Reads a configuration from the members of o named as domain/create's
 * parameters, checking types and ranges (memory_target in 1..memory_max,
 * vcpus in 1..vcpus_max). Returns NULL and fills *ret, or a
 * DM_ERR_INVALID_PARAMS error naming the parameter. */
struct dm_error *dm_config_from_json(json_object *o, struct dm_config *ret);
/* Adds the configuration's members to the object o. */
void dm_config_to_json(const struct dm_config *c, json_object *o);
void dm_config_copy(struct dm_config *dst, const struct dm_config *src);
void dm_config_done(struct dm_config *c);

/* A disk of a domain: one element of the disks array (domain/create,
 * domain/disk_attach), checked and with its defaults filled in, as
 * hypervisor/README.md describes it. */
enum dm_disk_format { DM_DISK_RAW, DM_DISK_QCOW2, DM_DISK_ISO };
enum dm_disk_backend { DM_DISK_QDISK, DM_DISK_PHY };
struct dm_disk {
    char device[8]; /* xvdX, hdX or sdX, one to three letters */
    char *target;   /* owned; "" for an empty cdrom */
    enum dm_disk_format format;
    enum dm_disk_backend backend;
    bool readwrite, cdrom;
};

/* Member key of the object o (a disk, a NIC; label names it in errors):
 * *ret is NULL when absent (or null); an error when it is not of type t. */
struct dm_error *dm_member(json_object *o, const char *label, const char *key, json_type t,
                           json_object **ret);
/* Reads the disk object o; label names it in errors ("disks[2]", "disk").
 * Returns NULL and fills *ret (dm_disk_done frees it), or an
 * DM_ERR_INVALID_PARAMS error naming the member. */
struct dm_error *dm_disk_from_json(json_object *o, const char *label, struct dm_disk *ret);
void dm_disk_done(struct dm_disk *d);
/* The disk of disks (an array, or NULL) whose device is device, or NULL;
 * borrowed. */
json_object *dm_disks_find(json_object *disks, const char *device);
/* The cdrom disk (a disks element) with target as its medium ("": none)
 * of format (NULL: as it was): a new object, in *ret, that
 * dm_disk_from_json accepts, or a DM_ERR_INVALID_PARAMS error (disk is
 * not a cdrom, target is not an absolute path). */
struct dm_error *dm_disk_new_media(json_object *disk, const char *target, const char *format,
                                   json_object **ret);
/* A new disks array: the elements of disks (NULL: none), shared, with
 * the element which replaced by with, or left out when with is NULL; with
 * which NULL, with is appended. disks itself is not changed: copies of a
 * configuration share it. */
json_object *dm_disks_replace(json_object *disks, json_object *which, json_object *with);

/* A domain as the hypervisor sees it. The configuration is owned. */
struct dm_domain {
    char uuid[UUID_STR_LEN]; /* lower case */
    int domid;
    enum dm_state state;
    enum dm_reason shutdown_reason;
    struct dm_config cfg;
    int64_t memory_actual;
    double start_time;   /* seconds since the epoch */
    uint64_t generation; /* of its last change (events/watch) */
};

void dm_domain_copy(struct dm_domain *dst, const struct dm_domain *src);
void dm_domain_done(struct dm_domain *d);
/* The domain as hypervisor/README.md describes it on the wire: a new
 * object {uuid, domid, name, type, state, shutdown_reason, memory_max,
 * memory_target, memory_actual, vcpus_max, vcpus, start_time}. */
json_object *dm_domain_to_json(const struct dm_domain *d);

/* A list of domains the caller owns (dm_domain_list_done frees them). */
struct dm_domain_list {
    struct dm_domain *v;
    size_t n;
};
void dm_domain_list_done(struct dm_domain_list *l);

/* The errors both backends make alike: BAD_STATE of d (expected, and
 * d's state), NOT_ENOUGH_MEMORY [needed, free] (a negative free as 0) and
 * TOO_MANY_VCPUS [asked, available]. */
struct dm_error *dm_fail_state(const struct dm_domain *d, enum dm_state expected);
struct dm_error *dm_fail_memory(int64_t needed, int64_t free_bytes);
struct dm_error *dm_fail_vcpus(int asked, int available);

/* What a domain uses now (domain/stats): times in seconds, memory in
 * bytes. vcpus has vcpus_max entries (owned; dm_stats_done frees it). */
struct dm_vcpu_stats {
    bool online;
    double cpu_time;
};
struct dm_stats {
    int domid;
    double time;     /* when sampled: CLOCK_MONOTONIC, for rates */
    double cpu_time; /* of every vCPU together, since the domain was built */
    int64_t memory_actual, memory_target;
    struct dm_vcpu_stats *vcpus;
    int n_vcpus;
};
void dm_stats_done(struct dm_stats *s);
/* The stats as hypervisor/README.md describes them on the wire. */
json_object *dm_stats_to_json(const char *uuid, const struct dm_stats *s);

struct dm_host_info {
    const char *backend;               /* static: "sim", "xen" */
    int64_t total_memory, free_memory; /* bytes */
    int nr_cpus;
    char xen_version[32];
    /* The control domain as the hypervisor has it (0: not known, as with
     * the sim, whose dom0 is the machine itself). */
    int64_t dom0_memory; /* bytes */
    int dom0_vcpus;
};

struct backend;

/* The operations of a backend. Each returns NULL on success and writes its
 * ret_* (owned by the caller), or returns an error (the caller frees it)
 * and leaves the domain in a true state: an operation that fails changes
 * nothing, except that a failed create or resume leaves no domain. uuids
 * are lower-case UUIDs. Each blocks while the hypervisor works. */
struct backend_ops {
    const char *name;
    /* Stops the backend for good: wakes waiters (events, guest shutdowns)
     * so that every call returns promptly. Does not block. */
    void (*stop)(struct backend *b);
    /* Frees the backend; no call may be running. */
    void (*free)(struct backend *b);

    struct dm_error *(*host_info)(struct backend *b, struct dm_host_info *ret);
    /* Every domain, by domid. */
    struct dm_error *(*list)(struct backend *b, struct dm_domain_list *ret);
    struct dm_error *(*get)(struct backend *b, const char *uuid, struct dm_domain *ret);
    /* Builds the domain paused, then unpauses it unless start_paused. */
    struct dm_error *(*create)(struct backend *b, const char *uuid, const struct dm_config *cfg,
                               bool start_paused, struct dm_domain *ret);
    /* clean: asks the guest and waits up to timeout seconds for it to shut
     * down (SHUTDOWN_TIMEOUT if it does not), then destroys the domain;
     * otherwise destroys it at once. ret is the domain as it ended (state
     * destroyed). */
    struct dm_error *(*shutdown)(struct backend *b, const char *uuid, bool clean, double timeout,
                                 struct dm_domain *ret);
    /* Like shutdown, then builds the domain again (new domid), running. */
    struct dm_error *(*reboot)(struct backend *b, const char *uuid, bool clean, double timeout,
                               struct dm_domain *ret);
    struct dm_error *(*pause)(struct backend *b, const char *uuid, struct dm_domain *ret);
    struct dm_error *(*unpause)(struct backend *b, const char *uuid, struct dm_domain *ret);
    /* Saves the running domain to the file path and destroys it. */
    struct dm_error *(*suspend)(struct backend *b, const char *uuid, const char *path);
    /* Builds the domain saved in path under uuid, running unless
     * start_paused. */
    struct dm_error *(*resume)(struct backend *b, const char *uuid, const char *path,
                               bool start_paused, struct dm_domain *ret);
    struct dm_error *(*set_memory_target)(struct backend *b, const char *uuid, int64_t target,
                                          struct dm_domain *ret);
    struct dm_error *(*set_vcpus)(struct backend *b, const char *uuid, int vcpus,
                                  struct dm_domain *ret);
    struct dm_error *(*destroy)(struct backend *b, const char *uuid);
    /* What the running or paused domain uses now (BAD_STATE otherwise).
     * Does not wait for an operation under way on the domain. */
    struct dm_error *(*stats)(struct backend *b, const char *uuid, struct dm_stats *ret);
    /* Hot-plug into a running or paused domain (BAD_STATE otherwise). The
     * domain's stored configuration follows each change, so that a reboot
     * of the guest and a restart of domaind keep the device set.
     * disk_attach adds disk (a disks element that dm_disk_from_json
     * accepts; borrowed) unless its device is taken (DEVICE_EXISTS).
     * disk_detach removes the disk device (NO_SUCH_DEVICE if none): it asks
     * the guest to release it and fails with DETACH_REJECTED if the guest
     * will not, unless force, which takes it away without asking.
     * cd_change puts the image target (of format, NULL for the default)
     * into the cdrom device, or empties it when target is "". */
    struct dm_error *(*disk_attach)(struct backend *b, const char *uuid, json_object *disk,
                                    struct dm_domain *ret);
    struct dm_error *(*disk_detach)(struct backend *b, const char *uuid, const char *device,
                                    bool force, struct dm_domain *ret);
    struct dm_error *(*cd_change)(struct backend *b, const char *uuid, const char *device,
                                  const char *target, const char *format, struct dm_domain *ret);
    /* NIC hot-plug, as for disks: nic_attach adds nic (a nics element
     * that dm_nic_check accepts, devid required; borrowed) unless its
     * devid is taken (DEVICE_EXISTS); nic_detach removes the nic devid
     * (NO_SUCH_DEVICE if none). The device is named by its devid in
     * errors. */
    struct dm_error *(*nic_attach)(struct backend *b, const char *uuid, json_object *nic,
                                   struct dm_domain *ret);
    struct dm_error *(*nic_detach)(struct backend *b, const char *uuid, int devid,
                                   struct dm_domain *ret);
    /* Does not block: the current generation (1 or more: 0 is never a
     * current one), and every domain changed after since, destroyed ones with state destroyed. When
     * since cannot be answered that way (0, a generation from before a reset, or older than the
     * oldest destroyed domain remembered) it sets *ret_full and lists every domain and every
     * remembered destroyed one: the caller takes a domain absent from that list as destroyed. */
    struct dm_error *(*changes)(struct backend *b, uint64_t since, uint64_t *ret_generation,
                                bool *ret_full, struct dm_domain_list *ret);
    /* The hypervisor's console ring (Xen's dmesg) as text, owned by the
     * caller; emptied after the reading when clear (hostctl.c). NULL in a
     * backend without one. */
    struct dm_error *(*console_read)(struct backend *b, bool clear, char **ret_text);
    /* Hands keys (checked: printable characters) to the hypervisor's
     * debug-key handler, as `xl debug-keys` does. */
    struct dm_error *(*debug_keys)(struct backend *b, const char *keys);

    /* The simulator's controls; NULL in other backends. sim_inject makes
     * the guest do event ("poweroff", "reboot", "crash", "suspend", "halt",
     * or "ignore": nothing) and, when ignore_shutdown is 0 or 1, sets
     * whether it ignores requests to shut down, and when refuse_detach is
     * 0 or 1, whether it refuses to release disks (disk_detach without
     * force then fails with DETACH_REJECTED). sim_fail makes the next
     * count calls of method (a domain/... method name) fail after their
     * first step. */
    struct dm_error *(*sim_inject)(struct backend *b, const char *uuid, const char *event,
                                   int ignore_shutdown, int refuse_detach);
    struct dm_error *(*sim_fail)(struct backend *b, const char *method, int count);
};

/* A backend: its operations, and the generation counter it bumps on every
 * change of a domain. */
struct backend {
    const struct backend_ops *ops;
    struct events events;
};

/* events/watch: what b->ops->changes answers for since, waiting up to
 * timeout seconds (on the backend's events) while that is nothing. Returns
 * early, with what there is, when the backend stops. */
struct dm_error *backend_watch(struct backend *b, uint64_t since, double timeout,
                               uint64_t *ret_generation, bool *ret_full,
                               struct dm_domain_list *ret);

/* The simulator's settings. */
struct sim_options {
    const char *state_path; /* the simulated hypervisor's state directory */
    int64_t memory;         /* bytes of host memory */
    int cpus;
    int step_ms;       /* the time each step of an operation takes; 0: none */
    int max_destroyed; /* destroyed domains remembered for events/watch; 0: 256 */
};

/* Opens the simulated hypervisor whose state is in o->state_path (a
 * missing file is an empty hypervisor), locking the file against a second
 * domaind. Returns 0 and the backend, or a negative errno after logging
 * why. */
int sim_backend_new(const struct sim_options *o, struct backend **ret);

static inline void backend_free(struct backend *b)
{
    if (b)
        b->ops->free(b);
}
