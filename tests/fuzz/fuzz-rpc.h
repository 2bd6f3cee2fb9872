/* The shared body of the RPC decoders' fuzz targets (fuzz-rpc.c). */
#pragma once

#include <stddef.h>
#include <stdint.h>

#include "xapi-c/out.h"

/* Decodes data as a call of wire w and checks what the writers make of it;
 * aborts on a failed check. Returns 0, as libFuzzer wants. */
int fuzz_rpc_one(const uint8_t *data, size_t size, enum wire w);
