/* Crash recovery of an SR's media (see recover.h). Every step is idempotent,
 * so a crash during recovery is recovered by the next run. */
#include "storaged/recover.h"

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "lib/cleanup.h"
#include "lib/log.h"
#include "lib/util.h"
#include "storaged/chain.h"

LOG_MODULE("recover");

char *recover_base_file(const char *base_uuid)
{
    return xasprintf("%s.qcow2", base_uuid);
}

static bool exists(const char *root, const char *file)
{
    _cleanup_free_ char *p = xasprintf("%s/%s", root, file);
    struct stat st;
    return lstat(p, &st) == 0;
}

static void remove_file(const char *root, const char *file)
{
    _cleanup_free_ char *p = xasprintf("%s/%s", root, file);
    if (unlink(p) == 0)
        log_notice("%s: removed %s left by an interrupted operation", root, file);
}

static int rename_file(const char *root, const char *from, const char *to)
{
    _cleanup_free_ char *a = xasprintf("%s/%s", root, from);
    _cleanup_free_ char *b = xasprintf("%s/%s", root, to);

    if (rename(a, b) < 0)
        return log_error_errno(-errno, "%s: cannot rename %s to %s: %m", root, from, to);
    log_notice("%s: renamed %s back to %s", root, from, to);
    return 0;
}

/* Undoes a snapshot or clone: the metadata still describes the VDI before
 * it. Its image was renamed to the base's name first; a new image under
 * its own name exists only after that. */
static void undo_snapshot(const char *root, const struct sr_meta *m)
{
    const struct vdi_meta *v = sr_meta_find(m, m->journal.vdi);
    _cleanup_free_ char *base = recover_base_file(m->journal.base);
    _cleanup_free_ char *created = xasprintf("%s.qcow2", m->journal.created);
    _cleanup_free_ char *created_tmp = xasprintf("%s.tmp", created);

    if (v) {
        _cleanup_free_ char *tmp = xasprintf("%s.tmp", v->file);
        if (exists(root, base)) {
            if (exists(root, v->file))
                remove_file(root, v->file);
            rename_file(root, base, v->file);
        }
        remove_file(root, tmp);
    }
    if (m->journal.created[0] && !sr_meta_find(m, m->journal.created)) {
        remove_file(root, created_tmp);
        remove_file(root, created);
    }
}

/* A delete that removed the image is finished; one that did not is undone
 * by forgetting it was started. */
static void finish_delete(const char *root, struct sr_meta *m)
{
    const struct vdi_meta *v = sr_meta_find(m, m->journal.vdi);

    if (v && !exists(root, v->file)) {
        log_notice("%s: finishing the deletion of VDI %s", root, v->uuid);
        sr_meta_remove(m, m->journal.vdi);
    }
}

/* A coalesce renames the parent's image (now holding the child's data too)
 * over the child's as its last step: before that, nothing visible changed;
 * after it, only the metadata is behind. */
static void finish_coalesce(const char *root, struct sr_meta *m)
{
    struct vdi_meta *base = sr_meta_find(m, m->journal.base);
    struct vdi_meta *child = sr_meta_find(m, m->journal.vdi);

    if (!base || !child || exists(root, base->file))
        return;
    log_notice("%s: finishing the merge of %s into %s", root, base->uuid, child->uuid);
    memcpy(child->parent, base->parent, sizeof(child->parent));
    sr_meta_remove(m, m->journal.base);
}

static bool is_live(const char *name, const char *const *live, size_t n_live)
{
    for (size_t i = 0; i < n_live; i++)
        if (streq(live[i], name))
            return true;
    return false;
}

static bool clean_temporaries(const char *root, const struct sr_meta *m, const char *const *live,
                              size_t n_live)
{
    DIR *d = opendir(root);
    struct dirent *e;
    bool changed = false;

    if (!d)
        return false;
    while ((e = readdir(d))) {
        size_t len = strlen(e->d_name);
        if (len <= 4 || !streq(e->d_name + len - 4, ".tmp") || is_live(e->d_name, live, n_live))
            continue;
        _cleanup_free_ char *target = xstrndup(e->d_name, len - 4);
        bool wanted = false;
        for (size_t i = 0; i < m->n_vdis && !wanted; i++)
            wanted = streq(m->vdis[i].file, target);
        if (wanted && !exists(root, target)) {
            log_notice("%s: completing %s from its finished temporary file", root, target);
            rename_file(root, e->d_name, target);
        } else {
            remove_file(root, e->d_name);
        }
        changed = true;
    }
    closedir(d);
    return changed;
}

static bool drop_missing(const char *root, struct sr_meta *m)
{
    bool changed = false;

    for (size_t i = 0; i < m->n_vdis;) {
        struct vdi_meta *v = &m->vdis[i];
        if (!exists(root, v->file) && chain_children(m, v->uuid, NULL) == 0) {
            log_warning("%s: the image of VDI %s (%s) is gone: forgetting it", root, v->uuid,
                        v->file);
            sr_meta_remove(m, v->uuid);
            changed = true;
            i = 0;
            continue;
        }
        i++;
    }
    return changed;
}

int sr_recover(const char *root, struct sr_meta *m, const char *const *live, size_t n_live,
               bool *ret_changed)
{
    bool changed = false;

    if (m->journal.op[0]) {
        log_notice("%s: recovering an interrupted %s of VDI %s", root, m->journal.op,
                   m->journal.vdi);
        if (streq(m->journal.op, "snapshot") || streq(m->journal.op, "clone"))
            undo_snapshot(root, m);
        else if (streq(m->journal.op, "delete"))
            finish_delete(root, m);
        else if (streq(m->journal.op, "coalesce"))
            finish_coalesce(root, m);
        memset(&m->journal, 0, sizeof(m->journal));
        changed = true;
    }
    if (clean_temporaries(root, m, live, n_live))
        changed = true;
    if (drop_missing(root, m))
        changed = true;
    if (ret_changed)
        *ret_changed = changed;
    return changed ? sr_meta_save(root, m) : 0;
}
