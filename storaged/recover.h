/* Brings an SR's media back to a consistent state after an interrupted
 * operation: storaged killed (even with SIGKILL) in the middle of one, or an
 * operation that failed half-way. Runs when an SR is attached, when it is
 * scanned, when storaged starts, and after every failed chain operation.
 *
 * The rules, which every operation in storaged/sr.c is ordered to fit:
 *  - a journal in the metadata names the one chain operation (snapshot,
 *    clone, delete, coalesce) that did not commit; each is undone, or, where
 *    its last irreversible step already happened, finished;
 *  - a "<file>.tmp" whose <file> belongs to a VDI of the metadata but does
 *    not exist is the finished image of a create or copy whose metadata
 *    committed: it is renamed into place; any other temporary file is
 *    removed unless the caller says it is still being written;
 *  - a VDI without children whose image is gone is dropped from the
 *    metadata (XCP's scan forgets such VDIs too).
 * Blocks on the disk. */
#pragma once

#include <stdbool.h>
#include <stddef.h>

#include "storaged/meta.h"

/* Applies the rules to the SR at root whose metadata is *m (updated in
 * place, and saved if anything changed). live names temporary files (n_live
 * of them) that operations still write and must be left alone. Sets
 * *ret_changed (may be NULL) when it did something. Returns 0 or a negative
 * errno from saving the metadata. */
int sr_recover(const char *root, struct sr_meta *m, const char *const *live, size_t n_live,
               bool *ret_changed);

/* The file name of the hidden base created for a snapshot or clone. A new
 * string. */
char *recover_base_file(const char *base_uuid);
