/* vdi_revert (see revert.h). The snapshot S is cloned, as vdi_clone does
 * it (S's image becomes a hidden base B, S and the clone T new overlays on
 * it), and then the VDI V that S was taken of takes T's image and place in
 * the chain in one metadata write, which commits: V keeps its uuid (so its
 * row, its VBDs and its snapshots stay), T is gone, and V's old image goes
 * (what only it held is merged away by garbage collection). V's old image
 * is renamed to "<file>.tmp" before the commit, so that recovery
 * (storaged/recover.c) puts it back if the commit never happens and
 * removes it if it did. */
#include "storaged/revert.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "lib/cleanup.h"
#include "lib/log.h"
#include "lib/util.h"
#include "storaged/changes.h"
#include "storaged/internal.h"
#include "storaged/lvmsr.h"
#include "storaged/sr.h"

LOG_MODULE("revert");

const struct jsonrpc_param sd_p_vdi_revert[] = {
    {"sr_uuid", JP_STRING, true}, {"snapshot_uuid", JP_STRING, true}, {0}};

/* The checks before the clone, under the lock: S a snapshot of a VDI V of
 * the SR that nothing uses. V's uuid goes to ret_vdi, the chains' shape
 * to before. */
static sd_error *check(struct storaged *sd, const char *sr_uuid, const char *snap,
                       char ret_vdi[UUID_STR_LEN], struct chain_shape *before)
{
    struct sd_sr *sr = NULL;
    struct vdi_meta *s = NULL, *v = NULL;
    sd_error *e;
    LOCKED(sd);

    if ((e = sd_get_sr(sd, sr_uuid, &sr)) || (e = sd_check_writable_sr(sr)) ||
        (e = sd_get_vdi(sr, snap, &s)))
        return e;
    if (sd_is_lvm(sr))
        return sd_backend_failure(SM_UNIMPLEMENTED, "vdi_revert is not implemented for lvm SRs");
    if (!s->is_a_snapshot || !*s->snapshot_of)
        return sd_backend_failure(SM_VDI_CLONE, "Failed to revert to VDI %s: it is no snapshot",
                                  snap);
    memcpy(ret_vdi, s->snapshot_of, UUID_STR_LEN);
    if ((e = sd_get_vdi(sr, ret_vdi, &v)) || (e = sd_check_vdi_free(sr, v, "revert", false)))
        return e;
    if (!v->managed)
        return sd_backend_failure(SM_VDI_CLONE, "Failed to revert VDI %s: it is a base copy",
                                  ret_vdi);
    chain_shape_take(&sr->meta, before);
    return NULL;
}

/* V takes the place of the clone T; on failure T is deleted again. */
static sd_error *swap(struct storaged *sd, const char *sr_uuid, const char *vuuid, const char *snap,
                      const char *tuuid, const struct chain_shape *before, json_object **ret)
{
    struct sd_sr *sr = NULL;
    struct vdi_meta *v = NULL, *t = NULL;
    sd_error *e;
    int r;
    LOCKED(sd);

    if ((e = sd_get_sr(sd, sr_uuid, &sr)))
        return e;
    if ((e = sd_get_vdi(sr, tuuid, &t)))
        return e;
    if ((e = sd_get_vdi(sr, vuuid, &v)) || (e = sd_check_vdi_free(sr, v, "revert", false))) {
        /* V changed meanwhile: the clone is dropped, nothing else moved
         * but S's image into a base, which GC merges back. */
        sd_error *de = sd_delete_image(sd, sr, tuuid);
        jsonrpc_error_free(de);
        sd_gc(sd, sr);
        return e;
    }
    _cleanup_free_ char *tfile = xstrdup(t->file);
    _cleanup_free_ char *opath = sd_path_in(sr, v->file);
    _cleanup_free_ char *otmp = xasprintf("%s.tmp", opath);
    char parent[UUID_STR_LEN];
    int64_t size = t->virtual_size;
    memcpy(parent, t->parent, UUID_STR_LEN);

    if (rename(opath, otmp) < 0) {
        e = sd_backend_failure(SM_VDI_CLONE, "Failed to revert VDI %s: %s", vuuid, strerror(errno));
        jsonrpc_error_free(sd_delete_image(sd, sr, tuuid));
        sd_gc(sd, sr);
        return e;
    }
    sd_fist(sd, "revert-renamed");
    sr_meta_remove(&sr->meta, tuuid);
    v = sr_meta_find(&sr->meta, vuuid); /* the removal moved the entries */
    meta_set_str(&v->file, tfile);
    memcpy(v->parent, parent, UUID_STR_LEN);
    v->virtual_size = size;
    snprintf(v->format, sizeof(v->format), "qcow2");
    if ((r = sr_meta_save(sr->root, &sr->meta)) < 0) {
        /* The media still hold the clone and V's image under .tmp:
         * rereading them puts the image back; the clone goes. */
        sd_roll_back(sr);
        jsonrpc_error_free(sd_delete_image(sd, sr, tuuid));
        sd_gc(sd, sr);
        return sd_meta_failure(r, sr_uuid);
    }
    sd_fist(sd, "revert-committed");
    if (unlink(otmp) < 0 && errno != ENOENT)
        log_warning("SR %s: cannot remove %s: %m (the next scan will)", sr_uuid, otmp);
    log_info("SR %s: reverted VDI %s to snapshot %s", sr_uuid, vuuid, snap);
    sd_gc(sd, sr);
    *ret = chain_changes(sr, before, (const char *const[]){vuuid, snap}, 2);
    json_object_object_add(*ret, "vdi_uuid", json_object_new_string(vuuid));
    return NULL;
}

static sd_error *vdi_revert(struct storaged *sd, const char *sr_uuid, const char *snap,
                            json_object **ret)
{
    char vuuid[UUID_STR_LEN] = "", tuuid[UUID_STR_LEN];
    struct chain_shape before = {0};
    json_object *made = NULL;
    sd_error *e = check(sd, sr_uuid, snap, vuuid, &before);

    if (!e) {
        uuid_generate_str(tuuid);
        e = sd_vdi_snapshot(sd, sr_uuid, snap, tuuid, &(struct sd_names){0}, true, &made);
        json_object_put(made);
    }
    if (!e)
        e = swap(sd, sr_uuid, vuuid, snap, tuuid, &before, ret);
    chain_shape_done(&before);
    return e;
}

/* A uuid parameter, lower-cased into out; -32602 if malformed. */
static sd_error *uuid_param(json_object *params, const char *key, char out[UUID_STR_LEN])
{
    json_object *v;
    const char *s = json_object_object_get_ex(params, key, &v) ? json_object_get_string(v) : "";
    if (!s || !uuid_is_valid(s))
        return jsonrpc_error_new(JSONRPC_INVALID_PARAMS, "%s: not a uuid", key);
    for (size_t i = 0; i < UUID_STR_LEN; i++)
        out[i] = (char)(s[i] >= 'A' && s[i] <= 'F' ? s[i] + 32 : s[i]);
    return NULL;
}

struct jsonrpc_error *sd_m_vdi_revert(json_object *params, json_object **ret_result, void *userdata)
{
    char sr[UUID_STR_LEN], snap[UUID_STR_LEN];
    sd_error *e;

    if ((e = uuid_param(params, "sr_uuid", sr)) || (e = uuid_param(params, "snapshot_uuid", snap)))
        return e;
    return vdi_revert(userdata, sr, snap, ret_result);
}
