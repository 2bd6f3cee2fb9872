/* What the files of storaged's SR and VDI operations share, and nobody
 * else includes: the agent's state (struct storaged, the table of attached
 * SRs, the copy jobs), its lock, and the helpers every operation uses. The
 * operations themselves are declared in storaged/sr.h and live one group
 * per file: srops.c (SRs), vdiops.c (VDIs), snapshot.c (snapshot and
 * clone), gc.c (garbage collection of chains), attach.c (attach state),
 * copy.c (copies and their jobs), srtable.c (the SR table, the run folder,
 * start and stop), media.c (device_config and mounts), iso.c (ISO
 * libraries), srutil.c (helpers and JSON answers).
 *
 * Every function here expects sd->lock held by its caller, unless it says
 * otherwise. */
#pragma once

#include <json-c/json.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "lib/cleanup.h"
#include "lib/util.h"
#include "storaged/drivers.h"
#include "storaged/errors.h"
#include "storaged/meta.h"
#include "storaged/sr.h"

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
    bool cancel; /* job_cancel asked the copy to stop */
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
    pthread_mutex_t jobs_lock; /* guards jobs and job_seq; never held while taking lock */
    struct job jobs[MAX_JOBS];
    unsigned long job_seq;
};

static inline void sd_unlockp(pthread_mutex_t **m)
{
    if (*m)
        pthread_mutex_unlock(*m);
}
/* Holds sd->lock until the end of the enclosing block. */
#define LOCKED(sd)                                                                                 \
    _cleanup_(sd_unlockp) __attribute__((unused)) pthread_mutex_t *_locked_ = ({                   \
        pthread_mutex_lock(&(sd)->lock);                                                           \
        &(sd)->lock;                                                                               \
    })

/* ---- srutil.c: helpers and JSON answers ---- */
/* Kills storaged with SIGKILL if STORAGED_FIST names point. */
void sd_fist(struct storaged *sd, const char *point);
/* device_config[key] if it is a non-empty string (borrowed), else NULL. */
const char *sd_dc_get(json_object *dc, const char *key);
/* <root>/<file> of the SR: a new string. */
char *sd_path_in(const struct sd_sr *sr, const char *file);
/* True if path exists (a dangling symlink counts). */
bool sd_file_exists(const char *path);
/* fsyncs the file at path: 0 or a negative errno. Blocks on the disk. */
int sd_fsync_path(const char *path);
/* Makes path (truncated if it exists) a sparse file of size bytes, not
 * yet fsynced: 0 or a negative errno. */
int sd_create_sparse(const char *path, int64_t size);
/* The bytes allocated to the file at path (st_blocks), 0 if unreadable. */
int64_t sd_allocated(const char *path);
/* True if something is mounted at path. */
bool sd_is_mount_point(const char *path);
/* Makes path and its missing parents: 0 or a negative errno. */
int sd_mkdir_p(const char *path, mode_t mode);
/* Add a member to a JSON object. */
void sd_add_str(json_object *o, const char *k, const char *v);
void sd_add_int(json_object *o, const char *k, int64_t v);
void sd_add_bool(json_object *o, const char *k, bool v);
/* SR_BACKEND_FAILURE_181 for a metadata write that failed with errno -r. */
sd_error *sd_meta_failure(int r, const char *sr_uuid);
/* A tool's failure as a backend error, with what it wrote on stderr. */
sd_error *sd_tool_failure(enum sm_error code, const char *what, int status, const char *err);
/* Runs a tool; *ret_err (freed first, so one variable serves several
 * runs) gets its stderr. */
int sd_run(const char *const *argv, char **ret_err);
/* The sr_info and vdi_info answers (README.md): new JSON values. */
json_object *sd_sr_info(const struct sd_sr *sr, const struct sr_meta *m, const char *root);
json_object *sd_vdi_info(const char *root, const struct vdi_meta *v);

/* ---- srtable.c: the SR table and the run folder ---- */
/* The attached SR with that uuid (borrowed), or NULL. */
struct sd_sr *sd_find_sr(struct storaged *sd, const char *uuid);
/* As sd_find_sr, or SR_NOT_ATTACHED [sr]. */
sd_error *sd_get_sr(struct storaged *sd, const char *uuid, struct sd_sr **ret);
/* The VDI of sr with that uuid (borrowed), or VDI_MISSING [sr, vdi]. */
sd_error *sd_get_vdi(struct sd_sr *sr, const char *uuid, struct vdi_meta **ret);
/* The attachment of a VDI of sr (borrowed), or NULL. */
struct sd_attach *sd_find_att(const struct sd_sr *sr, const char *vdi);
/* True if the VDI (of the SR userdata) is attached or being copied from:
 * chain_gc_next's busy callback. */
bool sd_vdi_busy(const char *uuid, void *userdata);
/* Frees an SR of the table (not its media); NULL is fine. */
void sd_sr_free(struct sd_sr *sr);
/* Adds a copy of s to the string list *v of *n, or removes one equal to s. */
void sd_strv_add(char ***v, size_t *n, const char *s);
void sd_strv_remove(char **v, size_t *n, const char *s);
/* Mirrors an attached SR into the run folder (atomically). */
void sd_save_state(struct storaged *sd, const struct sd_sr *sr);
/* Removes an SR's file from the run folder. */
void sd_drop_state(struct storaged *sd, const char *uuid);
/* <state-dir>/sr-mounts/<uuid>: a new string. */
char *sd_mount_point(struct storaged *sd, const char *uuid);
/* Reads the SR metadata at root and checks it is the SR uuid. */
sd_error *sd_read_meta(const char *root, const char *uuid, struct sr_meta *ret);
/* sr_recover (storaged/recover.h) on sr, leaving its live temporaries. */
int sd_recover(struct sd_sr *sr);
/* After a failed chain operation: the metadata on the media still holds
 * its journal; reading it back and recovering undoes the operation. */
void sd_roll_back(struct sd_sr *sr);
/* Loads an SR whose media are open at root (copied) into the table. */
sd_error *sd_add_sr(struct storaged *sd, const struct sd_driver *drv, const char *uuid,
                    json_object *dc, const char *root, bool mounted, struct sd_sr **ret);
/* Refuses to let an SR go while something of it is in use. */
sd_error *sd_check_sr_idle(const struct sd_sr *sr, const char *op);
/* Detaches sr: unmounts it and forgets it. A file system something else
 * keeps busy (a shell in it) stays mounted and attached: SR_DEVICE_IN_USE,
 * what xapi makes of XCP's SRInUse. */
sd_error *sd_remove_sr(struct storaged *sd, struct sd_sr *sr);

/* ---- iso.c: ISO libraries ---- */
/* Rebuilds an ISO SR's VDI list from the files in its folder. */
int sd_iso_scan(struct sd_sr *sr);

/* ---- media.c: device_config and mounts ---- */
/* The driver of type, with dc checked for it: SR_UNKNOWN_DRIVER or the
 * driver's device_config error otherwise. */
sd_error *sd_find_driver(const char *type, json_object *dc, const struct sd_driver **ret);
/* Mounts dev as ext4 at mp (made if missing). Blocks. */
sd_error *sd_mount_ext(const char *dev, const char *mp, bool ro);
/* Mounts remote (server:/path) over NFS at mp with XCP's options: a soft
 * TCP mount, so a dead server fails calls instead of hanging them. */
sd_error *sd_mount_nfs(const char *remote, const char *vers, bool ro, const char *mp,
                       enum sm_error code);
/* server:path for mount, with brackets around an IPv6 address. */
char *sd_nfs_remote(json_object *dc, const char *sub);
/* Unmounts mp and removes it. Returns 0, or a negative errno (logged) when
 * something keeps the file system busy; then mp stays mounted. */
int sd_unmount(const char *mp);
/* Makes the SR's media reachable: *ret_root is where its files are and
 * *ret_mounted whether storaged mounted it there. */
sd_error *sd_open_media(struct storaged *sd, const struct sd_driver *drv, const char *uuid,
                        json_object *dc, bool ro, char **ret_root, bool *ret_mounted);

/* ---- gc.c: garbage collection ---- */
/* Deletes a VDI without children, image and metadata entry, under a
 * journal. */
sd_error *sd_delete_image(struct storaged *sd, struct sd_sr *sr, const char *uuid);
/* Runs garbage collection until nothing is left to do, or a step fails
 * (logged: the SR stays consistent and the next scan tries again). */
void sd_gc(struct storaged *sd, struct sd_sr *sr);

/* ---- vdiops.c: VDI checks ---- */
/* SR_OPERATION_NOT_SUPPORTED [sr] for an SR storaged never writes (iso). */
sd_error *sd_check_writable_sr(const struct sd_sr *sr);
/* The uuid of a new VDI: wanted (lower-cased), or a new one when NULL;
 * SR_BACKEND_FAILURE_43 if a VDI or image of sr has it already. */
sd_error *sd_new_vdi_uuid(const struct sd_sr *sr, const char *wanted, char out[UUID_STR_LEN]);
/* Refuses operations on a VDI that is attached, being copied, or hidden. */
sd_error *sd_check_vdi_free(const struct sd_sr *sr, const struct vdi_meta *v, const char *op,
                            bool allow_ro_attached);
