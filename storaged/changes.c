/* What a chain operation changed in an SR (see changes.h). */
#include "storaged/changes.h"

#include <stdlib.h>
#include <string.h>

#include "lib/util.h"
#include "storaged/lvmsr.h"

void chain_shape_take(const struct sr_meta *m, struct chain_shape *ret)
{
    ret->n = m->n_vdis;
    ret->uuid = xcalloc(m->n_vdis + 1, UUID_STR_LEN);
    ret->parent = xcalloc(m->n_vdis + 1, UUID_STR_LEN);
    for (size_t i = 0; i < m->n_vdis; i++) {
        memcpy(ret->uuid[i], m->vdis[i].uuid, UUID_STR_LEN);
        memcpy(ret->parent[i], m->vdis[i].parent, UUID_STR_LEN);
    }
}

void chain_shape_done(struct chain_shape *c)
{
    free(c->uuid);
    free(c->parent);
    c->uuid = c->parent = NULL;
    c->n = 0;
}

static bool named(const char *uuid, const char *const *list, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (*uuid && streq(uuid, list[i]))
            return true;
    return false;
}

json_object *chain_changes(const struct sd_sr *sr, const struct chain_shape *before,
                           const char *const *touched, size_t n_touched)
{
    json_object *o = json_object_new_object();
    json_object *updated = json_object_new_array(), *removed = json_object_new_array();
    for (size_t i = 0; i < sr->meta.n_vdis; i++) {
        const struct vdi_meta *v = &sr->meta.vdis[i];
        bool moved = false, known = false;
        for (size_t k = 0; k < before->n && !known; k++)
            if (streq(before->uuid[k], v->uuid)) {
                known = true;
                moved = !streq(before->parent[k], v->parent);
            }
        if (!known || moved || named(v->uuid, touched, n_touched) ||
            named(v->snapshot_of, touched, n_touched)) {
            json_object *info = sd_vdi_info(sr->root, v);
            if (sd_is_lvm(sr))
                sd_lvm_fill_usage(sr, info);
            json_object_array_add(updated, info);
        }
    }
    for (size_t k = 0; k < before->n; k++)
        if (!sr_meta_find(&sr->meta, before->uuid[k]))
            json_object_array_add(removed, json_object_new_string(before->uuid[k]));
    json_object_object_add(o, "updated", updated);
    json_object_object_add(o, "removed", removed);
    json_object_object_add(o, "sr", sd_sr_info(sr, &sr->meta, sr->root));
    return o;
}
