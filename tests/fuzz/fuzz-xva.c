/* libFuzzer target for the tar headers of an XVA archive, which anyone who
 * may call PUT /import sends (xva_tar_parse, xapi-c/xva.h), and for the
 * chunk checks over any data (xva_xxh64, xva_is_zero). Besides the
 * sanitizers, it checks what the parser promises: a header it accepts has
 * a NUL-terminated name, a block of zeros is the end, and a header that
 * xva_tar_header wrote for the name and size it found parses back to the
 * same name and size. Wire into tests/fuzz/fuzz.mk with
 * FUZZ_SRCS_xva := xapi-c/xva_format.c. */
#include <assert.h>
#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "xapi-c/xva.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    unsigned char block[XVA_BLOCK];

    for (size_t off = 0; off < size; off += XVA_BLOCK) {
        size_t n = size - off < XVA_BLOCK ? size - off : XVA_BLOCK;
        struct xva_member m;
        memset(block, 0, sizeof(block));
        memcpy(block, data + off, n);
        int r = xva_tar_parse(block, &m);
        assert(r == 0 || r == 1 || r == -ENOTSUP || r == -EPROTO);
        assert((r == 1) == xva_is_zero(block, sizeof(block)));
        if (r != 0)
            continue;
        assert(memchr(m.name, '\0', sizeof(m.name)));
        /* Short plain names survive a round trip through the writer. */
        if (strlen(m.name) < 100 && m.size < (1ULL << 33)) {
            char again[XVA_BLOCK];
            struct xva_member m2;
            xva_tar_header(again, m.name, m.size, 0);
            assert(xva_tar_parse((const unsigned char *)again, &m2) == 0);
            assert(strcmp(m.name, m2.name) == 0 && m.size == m2.size && m2.type == '0');
        }
    }
    (void)xva_xxh64(data, size);
    return 0;
}
