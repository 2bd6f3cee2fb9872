/* Garbage collection of snapshot chains, like XCP's SMGC: hidden nodes
 * nothing depends on are deleted, a hidden node with one child is merged
 * into it. storaged/chain.c decides the steps; this file does them in the
 * order storaged/recover.c can finish or undo after a crash: a journal in
 * the metadata first, the files, then the metadata write that commits. */
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
#include "storaged/qcow2.h"
#include "storaged/recover.h"

LOG_MODULE("gc");

sd_error *sd_delete_image(struct storaged *sd, struct sd_sr *sr, const char *uuid)
{
    struct vdi_meta *v = sr_meta_find(&sr->meta, uuid);
    _cleanup_free_ char *path = sd_path_in(sr, v->file);
    int r;

    sr->meta.journal = (struct sr_journal){.op = "delete"};
    memcpy(sr->meta.journal.vdi, uuid, UUID_STR_LEN);
    if ((r = sr_meta_save(sr->root, &sr->meta)) < 0) {
        memset(&sr->meta.journal, 0, sizeof(sr->meta.journal));
        return sd_meta_failure(r, sr->uuid);
    }
    sd_fist(sd, "delete-journaled");
    if (unlink(path) < 0 && errno != ENOENT) {
        sd_error *e =
            sd_backend_failure(SM_VDI_REMOVE, "Failed to remove VDI %s: %s", uuid, strerror(errno));
        sd_roll_back(sr);
        return e;
    }
    sd_fist(sd, "delete-unlinked");
    sr_meta_remove(&sr->meta, uuid);
    memset(&sr->meta.journal, 0, sizeof(sr->meta.journal));
    if ((r = sr_meta_save(sr->root, &sr->meta)) < 0) {
        sd_roll_back(sr);
        return sd_meta_failure(r, sr->uuid);
    }
    return NULL;
}

/* Merges the hidden node base into its only child: the child's data is
 * committed into the base's image, which then replaces the child's. */
static sd_error *coalesce(struct storaged *sd, struct sd_sr *sr, const char *base_uuid,
                          const char *child_uuid)
{
    struct vdi_meta *b = sr_meta_find(&sr->meta, base_uuid);
    struct vdi_meta *c = sr_meta_find(&sr->meta, child_uuid);
    _cleanup_free_ char *bpath = sd_path_in(sr, b->file);
    _cleanup_free_ char *cpath = sd_path_in(sr, c->file);
    _cleanup_free_ char *err = NULL;
    char size[32];
    int r;

    sr->meta.journal = (struct sr_journal){.op = "coalesce"};
    memcpy(sr->meta.journal.vdi, child_uuid, UUID_STR_LEN);
    memcpy(sr->meta.journal.base, base_uuid, UUID_STR_LEN);
    if ((r = sr_meta_save(sr->root, &sr->meta)) < 0) {
        memset(&sr->meta.journal, 0, sizeof(sr->meta.journal));
        return sd_meta_failure(r, sr->uuid);
    }
    if (c->virtual_size > b->virtual_size) {
        snprintf(size, sizeof(size), "%lld", (long long)c->virtual_size);
        const char *argv[] = {"qemu-img", "resize", "-q", "-f", "qcow2", bpath, size, NULL};
        if ((r = sd_run(argv, &err)) != 0) {
            sd_roll_back(sr);
            return sd_tool_failure(SM_VDI_RESIZE, "qemu-img resize", r, err);
        }
        free(TAKE_PTR(err));
    }
    const char *argv[] = {"qemu-img", "commit", "-q", "-d", "-f", "qcow2", cpath, NULL};
    if ((r = sd_run(argv, &err)) != 0) {
        sd_roll_back(sr);
        return sd_tool_failure(SM_EIO, "qemu-img commit", r, err);
    }
    if ((r = sd_fsync_path(bpath)) < 0)
        log_warning_errno(r, "cannot fsync %s: %m", bpath);
    sd_fist(sd, "coalesce-committed");
    if (rename(bpath, cpath) < 0) {
        sd_error *e = sd_backend_failure(SM_EIO, "cannot rename %s: %s", bpath, strerror(errno));
        sd_roll_back(sr);
        return e;
    }
    sd_fist(sd, "coalesce-renamed");
    memcpy(c->parent, b->parent, sizeof(c->parent));
    sr_meta_remove(&sr->meta, base_uuid);
    memset(&sr->meta.journal, 0, sizeof(sr->meta.journal));
    if ((r = sr_meta_save(sr->root, &sr->meta)) < 0) {
        sd_roll_back(sr);
        return sd_meta_failure(r, sr->uuid);
    }
    log_info("SR %s: merged %s into %s", sr->uuid, base_uuid, child_uuid);
    return NULL;
}

/* Runs garbage collection until nothing is left to do, or a step fails
 * (logged: the SR stays consistent and the next scan tries again). */
void sd_gc(struct storaged *sd, struct sd_sr *sr)
{
    for (;;) {
        const char *node, *child;
        char n[UUID_STR_LEN], c[UUID_STR_LEN];
        sd_error *e = NULL;

        enum chain_gc_action a = chain_gc_next(&sr->meta, sd_vdi_busy, sr, &node, &child);
        if (a == CHAIN_GC_NONE)
            return;
        snprintf(n, sizeof(n), "%s", node);
        if (a == CHAIN_GC_DELETE) {
            e = sd_delete_image(sd, sr, n);
        } else {
            snprintf(c, sizeof(c), "%s", child);
            e = coalesce(sd, sr, n, c);
        }
        if (e) {
            log_error("SR %s: garbage collection stopped: %s %s", sr->uuid, e->app_code,
                      e->n_app_params > 1 ? e->app_params[1] : "");
            jsonrpc_error_free(e);
            return;
        }
    }
}
