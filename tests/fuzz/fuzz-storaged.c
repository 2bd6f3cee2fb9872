/* libFuzzer target for what storaged reads from an SR's media, which
 * anyone with access to the media can write: the SR metadata document
 * (sr_meta_from_json, storaged/meta.h) and the qcow2 image header
 * (qcow2_parse_header, and qcow2_read_header over a memfd holding the
 * input); and for lvm2's JSON reports, which the lvm driver parses
 * (storaged/lvm.h). Besides the sanitizers, it checks what the parsers promise: a
 * document that parses has sound chains and survives a round trip through
 * sr_meta_to_json unchanged; a header that parses has a non-negative size
 * and a backing name within QEMU's limit, and reading it from a file gives
 * what parsing its first 4 KiB gives. */
#include <assert.h>
#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "storaged/chain.h"
#include "storaged/lvm.h"
#include "storaged/meta.h"
#include "storaged/qcow2.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void metadata(const uint8_t *data, size_t size)
{
    char *text = strndup((const char *)data, size);
    struct sr_meta m, again;
    char *why = NULL;

    assert(text);
    int r = sr_meta_from_json(text, &m, &why);
    free(text);
    if (r < 0) {
        assert(r == -EBADMSG && why && *why);
        free(why);
        return;
    }
    assert(chain_validate(&m, &why) == 0);
    for (size_t i = 0; i < m.n_vdis; i++) {
        assert(meta_file_name_ok(m.vdis[i].file));
        assert(chain_depth(&m, m.vdis[i].uuid) >= 1);
        assert((size_t)chain_depth(&m, m.vdis[i].uuid) <= m.n_vdis);
    }
    char *json = sr_meta_to_json(&m);
    r = sr_meta_from_json(json, &again, &why);
    if (r < 0)
        fprintf(stderr, "re-encoded metadata refused: %s\n%s\n", why, json);
    assert(r == 0);
    char *json2 = sr_meta_to_json(&again);
    assert(strcmp(json, json2) == 0);
    free(json);
    free(json2);
    sr_meta_done(&m);
    sr_meta_done(&again);
}

/* qcow2_read_header reads this much; parsing that prefix must agree. */
#define HEADER_READ 4096

static void header(const uint8_t *data, size_t size)
{
    int64_t vsize = -1, vsize2 = -1;
    char *backing = NULL, *backing2 = NULL;

    int r = qcow2_parse_header(data, size, &vsize, &backing);
    assert(r == 0 || r == -EINVAL || r == -ENODATA);
    if (r == 0) {
        assert(vsize >= 0);
        assert(!backing || strlen(backing) <= 1023);
        assert(qcow2_parse_header(data, size, &vsize2, NULL) == 0 && vsize2 == vsize);
    }
    free(backing);

    int fd = memfd_create("qcow2", MFD_CLOEXEC);
    if (fd < 0)
        return;
    if (size && write(fd, data, size) != (ssize_t)size) {
        close(fd);
        return;
    }
    char path[64];
    snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
    size_t prefix = size < HEADER_READ ? size : HEADER_READ;
    int rp = qcow2_parse_header(data, prefix, &vsize, &backing);
    int rf = qcow2_read_header(path, &vsize2, &backing2);
    assert(rp == rf);
    if (rp == 0) {
        assert(vsize == vsize2);
        assert((!backing && !backing2) || (backing && backing2 && !strcmp(backing, backing2)));
        free(backing);
        free(backing2);
    }
    close(fd);
}

/* A parsed report keeps what lvm_lv_used and lvm_lv_active promise. */
static void lvm_reports(const uint8_t *data, size_t size)
{
    char *text = strndup((const char *)data, size);
    struct lvm_lv *lvs = NULL;
    struct lvm_vg vg;
    size_t n = 0;
    char *why = NULL;

    assert(text);
    if (lvm_parse_lvs(text, &lvs, &n, &why) == 0) {
        for (size_t i = 0; i < n; i++) {
            assert(lvs[i].name && *lvs[i].name && lvs[i].size >= 0);
            assert(lvm_lv_used(&lvs[i]) >= 0 && lvm_lv_used(&lvs[i]) <= lvs[i].size);
            (void)lvm_lv_active(&lvs[i]);
        }
        lvm_lvs_free(lvs, n);
    } else {
        assert(why);
    }
    free(why);
    why = NULL;
    if (lvm_parse_vgs(text, &vg, &why) == 0) {
        assert(vg.name && vg.free >= 0 && vg.free <= vg.size);
        lvm_vg_done(&vg);
    }
    free(why);
    free(text);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    lvm_reports(data, size);
    metadata(data, size);
    header(data, size);
    return 0;
}
