/* vdi_export and vdi_import: a VDI's guest-visible content as a byte
 * stream on a Unix socket that xapi listens on, so that xapi can serve
 * disk export and import over HTTP without running storage tools itself
 * (storaged/README.md, "Streams"). storaged connects to the socket and
 * runs nbdcopy with qemu-nbd on the image (the whole qcow2 chain, or a raw
 * image or LV) with the socket as its standard output or input; the call
 * answers when the copy has ended. */
#pragma once

#include "lib/jsonrpc.h"

/* The handlers and parameter table of the two methods, for storaged's
 * method table (methods.c); userdata is the struct storaged. */
struct jsonrpc_error *sd_m_vdi_export(json_object *params, json_object **ret_result,
                                      void *userdata);
struct jsonrpc_error *sd_m_vdi_import(json_object *params, json_object **ret_result,
                                      void *userdata);
/* vdi_import_nbd: as vdi_import, but storaged sends xapi over the socket
 * (SCM_RIGHTS, with one byte) a socket connected to qemu-nbd serving the
 * image writable, and answers when qemu-nbd has ended, which it does when
 * xapi closes that connection. */
struct jsonrpc_error *sd_m_vdi_import_nbd(json_object *params, json_object **ret_result,
                                          void *userdata);
extern const struct jsonrpc_param sd_p_vdi_stream[];

/* vdi_map: the blocks of a VDI that hold data (with base_uuid: the blocks
 * where it may differ from that VDI), as runs, for a VHD export
 * (README.md). Runs qemu-img map on the images; blocks. */
struct jsonrpc_error *sd_m_vdi_map(json_object *params, json_object **ret_result, void *userdata);
extern const struct jsonrpc_param sd_p_vdi_map[];
