/* libFuzzer target for the XML-RPC decoder: every input goes through
 * fuzz_rpc_one (fuzz-rpc.c), which decodes it and checks what the response
 * writers make of it. */
#include <stddef.h>
#include <stdint.h>

#include "tests/fuzz/fuzz-rpc.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    return fuzz_rpc_one(data, size, WIRE_XML);
}
