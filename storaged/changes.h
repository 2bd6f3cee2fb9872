/* What a chain operation changed in an SR, told back to xapi so that it
 * updates just those rows instead of scanning the whole SR: the shape of
 * the SR's chains is taken before the operation, compared after it. */
#pragma once

#include <json-c/json.h>
#include <stddef.h>

#include "storaged/internal.h"

/* Where each VDI of an SR hung (its parent) at one moment. */
struct chain_shape {
    size_t n;
    char (*uuid)[UUID_STR_LEN];
    char (*parent)[UUID_STR_LEN];
};

/* Records the shape of the chains of m into *ret (chain_shape_done frees
 * it). */
void chain_shape_take(const struct sr_meta *m, struct chain_shape *ret);
void chain_shape_done(struct chain_shape *c);

/* {updated, removed, sr} for sr since before (a new object): updated the
 * vdi_info of every VDI that is new, moved in its chain, named in touched
 * (uuids, n_touched of them), or a snapshot of a VDI named in touched;
 * removed the uuids of the VDIs gone; sr the SR's sr_info. sd->lock held;
 * reads the images' sizes. */
json_object *chain_changes(const struct sd_sr *sr, const struct chain_shape *before,
                           const char *const *touched, size_t n_touched);
