/* format=vhd of GET /export_raw_vdi and PUT /import_raw_vdi (xfer_vhd.c):
 * a VDI as a dynamic VHD, and a dynamic, differencing or fixed VHD into a
 * VDI. */
#pragma once

#include "error.h"

struct xfer;

/* Sends the VDI vdi_ref as a streamed dynamic VHD holding the blocks with
 * data, or with base_ref (a VDI of the same SR sharing an ancestor, else
 * not NULL) only the blocks where the two may differ. Writes the answer's
 * head. Returns the task's error or NULL. Blocks. */
struct api_error *xfer_vhd_export(struct xfer *x, const char *vdi_ref, const char *base_ref);
/* Writes the VHD of the request's body into the VDI vdi_ref, as XCP's
 * vhd-tool does: only the sectors the image holds (a dynamic or
 * differencing image's allocated blocks, the sectors their bitmaps mark;
 * all of a fixed image), each at its offset whatever order the blocks are
 * stored in; the rest of the VDI is left as it was, which is how a delta
 * (a differencing VHD, or a dynamic one from export with base=) applies
 * onto a copy of its base. With vdi_ref NULL, into a new VDI "Imported
 * VDI" of the image's size in the SR sr_ref (a fixed image's size is its
 * Content-Length less its footer; a differencing image is refused). Sets
 * the task's result (the VDI) and returns NULL, or the task's error:
 * VDI_TOO_SMALL (an image bigger than the VDI, before anything is
 * written), IMPORT_ERROR_PREMATURE_EOF, INTERNAL_ERROR for a malformed
 * image or one that only seeking could read. Blocks. */
struct api_error *xfer_vhd_import(struct xfer *x, const char *vdi_ref, const char *sr_ref);
