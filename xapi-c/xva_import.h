/* Importing an XVA from any byte stream (xva_import.c): the PUT /import
 * handler reads the request's body, VM.import (xva_url.c) a download. */
#pragma once

#include <stdbool.h>
#include <stddef.h>

#include "error.h"
#include "xva_codec.h"

struct xva_import_opts {
    const char *sr;   /* the SR of the new disks (a ref, checked by the caller) */
    bool restore;     /* keep the exported uuids (full_restore) */
    bool force;       /* ignore bad checksums; undo nothing on failure */
    const char *task; /* the task it runs under: progress, task.cancel */
};

/* Imports the archive, plain or compressed, that fn(arg) reads, as PUT
 * /import does: the new VMs go to *ret_vms (a new array of *ret_n refs).
 * Returns the import's error (nothing is left behind unless force), or
 * NULL. Blocks for the whole transfer. */
struct api_error *xva_import_stream(xva_read_fn fn, void *arg, const struct xva_import_opts *opts,
                                    char (**ret_vms)[64], size_t *ret_n);
