/* A VDI's guest-visible content as a stream, through storaged's vdi_export
 * and vdi_import (storaged/README.md, "Streams"): xapi listens on a Unix
 * socket in the abstract namespace, storaged connects to it and copies the
 * disk into it or out of it, and its call answers when the copy is over.
 * xapi itself never touches the image. */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include "error.h"

struct xfer_vdi;

/* Starts streaming the VDI vdi_ref: read its content from
 * xfer_vdi_fd (write false) or write its new content there (write true).
 * *ret_size is its virtual size. Blocks until storaged has connected
 * (bounded), or fails with storaged's error (VDI_IN_USE, ...). */
struct api_error *xfer_vdi_open(const char *vdi_ref, bool write, struct xfer_vdi **ret,
                                int64_t *ret_size);
/* Opens the VDI vdi_ref for writing at any offset: *ret_nbd_fd (the
 * caller's, to close) is a socket connected to an NBD server (qemu-nbd
 * run by storaged's vdi_import_nbd) serving the disk, to be spoken to
 * with libnbd. Close it before xfer_vdi_close(*ret, ...), which waits
 * until that server has ended; having flushed before closing it is what
 * makes the data safe. Blocks until storaged has connected (bounded), or
 * fails with storaged's error. */
struct api_error *xfer_vdi_open_nbd(const char *vdi_ref, struct xfer_vdi **ret, int *ret_nbd_fd,
                                    int64_t *ret_size);
/* The socket: a blocking stream of the disk's bytes. Borrowed. */
int xfer_vdi_fd(const struct xfer_vdi *v);
/* Ends the stream and frees v: after a write, the end of the data is
 * signalled and storaged's answer says whether it all reached the disk;
 * abort cuts the stream short (its error is then not interesting). Returns
 * storaged's error, or NULL. Blocks until storaged answers. */
struct api_error *xfer_vdi_close(struct xfer_vdi *v, bool abort);

/* Makes a new VDI in the SR sr_ref from the values of a new row vals
 * (taken) whose ref is vals_ref: storaged's vdi_create with its names,
 * size, sharable and read_only, then the row as storaged describes it.
 * The SR must be plugged here (SR_HAS_NO_PBDS) and not an ISO library
 * (SR_OPERATION_NOT_SUPPORTED). Blocks. */
struct api_error *xfer_vdi_create(const char *sr_ref, char **vals, const char *vals_ref,
                                  char ret_ref[64]);

/* A new VDI "Imported VDI" of size bytes in the SR sr_ref, for an upload
 * that names none (sr_id=), as XCP's import_raw_vdi makes it. Blocks. */
struct api_error *xfer_vdi_new_imported(const char *sr_ref, int64_t size, char ret_ref[64]);
