/* Snapshot-chain logic over an SR's metadata (see chain.h). The forest is
 * small (hundreds to thousands of VDIs), so plain scans of the VDI array
 * are fast enough and keep this obviously correct. */
#include "storaged/chain.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

int chain_validate(const struct sr_meta *m, char **ret_why)
{
    for (size_t i = 0; i < m->n_vdis; i++) {
        const struct vdi_meta *v = &m->vdis[i];
        size_t steps = 0;

        if (v->parent[0] && !sr_meta_find(m, v->parent)) {
            *ret_why =
                xasprintf("VDI %s has parent %s, which is not in the SR", v->uuid, v->parent);
            return -EINVAL;
        }
        for (const struct vdi_meta *p = v; p && p->parent[0]; p = sr_meta_find(m, p->parent))
            if (++steps > m->n_vdis) {
                *ret_why = xasprintf("the chain of VDI %s loops", v->uuid);
                return -EINVAL;
            }
    }
    return 0;
}

size_t chain_children(const struct sr_meta *m, const char *uuid, const struct vdi_meta **ret_first)
{
    size_t n = 0;

    if (ret_first)
        *ret_first = NULL;
    for (size_t i = 0; i < m->n_vdis; i++)
        if (streq(m->vdis[i].parent, uuid)) {
            if (n++ == 0 && ret_first)
                *ret_first = &m->vdis[i];
        }
    return n;
}

int chain_depth(const struct sr_meta *m, const char *uuid)
{
    int d = 0;

    for (const struct vdi_meta *v = sr_meta_find(m, uuid); v;
         v = v->parent[0] ? sr_meta_find(m, v->parent) : NULL)
        d++;
    return d;
}

bool chain_subtree_busy(const struct sr_meta *m, const char *uuid,
                        bool (*busy)(const char *uuid, void *userdata), void *userdata)
{
    if (busy(uuid, userdata))
        return true;
    for (size_t i = 0; i < m->n_vdis; i++)
        if (streq(m->vdis[i].parent, uuid) &&
            chain_subtree_busy(m, m->vdis[i].uuid, busy, userdata))
            return true;
    return false;
}

enum chain_gc_action chain_gc_next(const struct sr_meta *m,
                                   bool (*busy)(const char *uuid, void *userdata), void *userdata,
                                   const char **ret_node, const char **ret_child)
{
    /* Every VDI's children counted in one pass (scan runs this for every
     * SR of n VDIs: it must stay O(n), not O(n) per hidden node). */
    struct kids {
        size_t n;
        const struct vdi_meta *first;
    } *kids = xcalloc(m->n_vdis ? m->n_vdis : 1, sizeof(*kids));
    enum chain_gc_action a = CHAIN_GC_NONE;

    for (size_t i = 0; i < m->n_vdis; i++) {
        const struct vdi_meta *p = m->vdis[i].parent[0] ? sr_meta_find(m, m->vdis[i].parent) : NULL;
        if (p && kids[p - m->vdis].n++ == 0)
            kids[p - m->vdis].first = &m->vdis[i];
    }
    for (size_t i = 0; i < m->n_vdis && a == CHAIN_GC_NONE; i++) {
        const struct vdi_meta *v = &m->vdis[i], *child = kids[i].first;

        if (v->managed)
            continue;
        if (kids[i].n == 0 && !busy(v->uuid, userdata)) {
            *ret_node = v->uuid;
            *ret_child = NULL;
            a = CHAIN_GC_DELETE;
        } else if (kids[i].n == 1 && !busy(v->uuid, userdata) &&
                   !chain_subtree_busy(m, child->uuid, busy, userdata)) {
            *ret_node = v->uuid;
            *ret_child = child->uuid;
            a = CHAIN_GC_COALESCE;
        }
    }
    free(kids);
    return a;
}
