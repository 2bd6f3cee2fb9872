/* format=vhd of GET /export_raw_vdi and PUT /import_raw_vdi (xfer_vhd.c):
 * a VDI as a dynamic VHD, and a dynamic or fixed VHD into a VDI. */
#pragma once

#include "error.h"

struct xfer;

/* Sends the VDI vdi_ref as a streamed dynamic VHD holding the blocks with
 * data, or with base_ref (a VDI of the same SR sharing an ancestor, else
 * not NULL) only the blocks where the two may differ. Writes the answer's
 * head. Returns the task's error or NULL. Blocks. */
struct api_error *xfer_vhd_export(struct xfer *x, const char *vdi_ref, const char *base_ref);
/* Writes the VHD of the request's body into the VDI vdi_ref: its data,
 * zeros where it has none up to its size (beyond, the VDI is left as it
 * was). With vdi_ref NULL, into a new VDI "Imported VDI" of the image's
 * size in the SR sr_ref (a fixed image's size is its Content-Length less
 * its footer). Sets the task's result (the VDI) and returns NULL, or the
 * task's error: VDI_TOO_SMALL, IMPORT_ERROR_PREMATURE_EOF, INTERNAL_ERROR
 * for a malformed, differencing or out-of-order image. Blocks. */
struct api_error *xfer_vhd_import(struct xfer *x, const char *vdi_ref, const char *sr_ref);
