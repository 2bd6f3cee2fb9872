/* The XVA format of XCP's VM export (export.ml, import.ml, stream_vdi.ml):
 * an uncompressed tar archive whose first member is ova.xml, an XML-RPC
 * struct {version: {hostname, date, product_version, product_brand,
 * build_number, xapi_major, xapi_minor, export_vsn}, objects: [{class, id,
 * snapshot}]} holding the VM, its metrics, VBDs, VIFs, networks, VDIs and
 * SRs as records whose references are the export's own ids "Ref:<n>" (or
 * OpaqueRef:NULL for objects left out); then each disk's content as
 * members "Ref:<n>/<chunk, 8 digits>" of XVA_CHUNK bytes (the last may be
 * shorter), each followed by "<member>.checksum" (SHA-1, hex) or
 * "<member>.xxhash" (XXH64, 16 upper-case hex digits). Chunks of zeros are
 * left out except a disk's first and last; an empty chunk may come as a
 * keep-alive. The disks come in the order of their ids as strings. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#define XVA_CHUNK (1024 * 1024)
#define XVA_BLOCK 512
/* export_vsn 2: checksums inline, no checksum table at the end. */
#define XVA_EXPORT_VSN 2
/* ova.xml is refused above this size. */
#define XVA_MAX_OVA (64 * 1024 * 1024)

/* XXH64 of buf with seed 0. */
uint64_t xva_xxh64(const void *buf, size_t len);
/* True if the len bytes at buf are all zero. */
bool xva_is_zero(const void *buf, size_t len);

/* A ustar header of a regular file, mode 0400, owned by root. */
void xva_tar_header(char block[XVA_BLOCK], const char *name, uint64_t size, time_t mtime);

/* A member's header as read. */
struct xva_member {
    char name[272]; /* a ustar prefix, '/', and a name */
    uint64_t size;
    char type; /* '0' or '\0': a regular file */
};
/* Reads a tar header block: 0 and *ret, 1 for a block of zeros (the end
 * of the archive), -ENOTSUP for gzip data (a compressed export), -EPROTO
 * for anything else that is not a tar header. */
int xva_tar_parse(const unsigned char block[XVA_BLOCK], struct xva_member *ret);
