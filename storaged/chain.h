/* The snapshot chains of an SR as its metadata describes them: each VDI's
 * image may have a parent image (its backing file), so the VDIs form a
 * forest whose leaves are what users see and whose inner nodes are hidden
 * "base copies". These functions are pure: they read an sr_meta and decide;
 * storaged/sr.c does the files. */
#pragma once

#include <stdbool.h>
#include <stddef.h>

#include "storaged/meta.h"

/* XCP's limit on chain length (SR_BACKEND_FAILURE_109 beyond it). */
#define CHAIN_MAX_DEPTH 30

/* Checks that every parent is a VDI of m and that no chain loops back on
 * itself. Returns 0, or -EINVAL with a message for the caller in *ret_why. */
int chain_validate(const struct sr_meta *m, char **ret_why);

/* The number of VDIs whose parent is uuid; *ret_first (may be NULL) gets
 * the first of them (borrowed) or NULL. */
size_t chain_children(const struct sr_meta *m, const char *uuid, const struct vdi_meta **ret_first);

/* The number of images from uuid up to its root, counting both ends (1 for
 * a VDI without a parent); 0 if uuid is not in m. m must be valid. */
int chain_depth(const struct sr_meta *m, const char *uuid);

/* True if busy(uuid) holds for uuid or any VDI below it. */
bool chain_subtree_busy(const struct sr_meta *m, const char *uuid,
                        bool (*busy)(const char *uuid, void *userdata), void *userdata);

enum chain_gc_action {
    CHAIN_GC_NONE,
    CHAIN_GC_DELETE,   /* *ret_node is a hidden node nothing depends on */
    CHAIN_GC_COALESCE, /* *ret_node is a hidden node with one child, *ret_child */
};

/* The next garbage-collection step for m, like XCP's SMGC: a hidden node
 * without children is deleted; a hidden node with exactly one child is
 * merged into that child, unless the child's subtree is busy (attached or
 * being copied: then it waits for a later scan or detach). ret_node and
 * ret_child get uuids (borrowed from m). */
enum chain_gc_action chain_gc_next(const struct sr_meta *m,
                                   bool (*busy)(const char *uuid, void *userdata), void *userdata,
                                   const char **ret_node, const char **ret_child);
