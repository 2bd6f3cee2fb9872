/* The pure parts of the XVA format (xva.h), with no I/O, so that unit
 * tests and the fuzzer reach them: the tar headers, the checks the chunks
 * carry (XXH64, the ".xxhash" members of current XCP releases, written
 * here from the algorithm's published specification, as Debian's
 * libxxhash is not a dependency of xapi), and the zero test that makes
 * exports sparse. */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "xva.h"

#define P1 11400714785074694791ULL
#define P2 14029467366897019727ULL
#define P3 1609587929392839161ULL
#define P4 9650029242287828579ULL
#define P5 2870177450012600261ULL

static uint64_t rotl(uint64_t x, int r)
{
    return (x << r) | (x >> (64 - r));
}

static uint64_t rd64(const unsigned char *p)
{
    uint64_t v;
    memcpy(&v, p, 8);
    return v; /* little-endian hosts only, as the spec's reference reads */
}

static uint32_t rd32(const unsigned char *p)
{
    uint32_t v;
    memcpy(&v, p, 4);
    return v;
}

static uint64_t round64(uint64_t acc, uint64_t input)
{
    acc += input * P2;
    acc = rotl(acc, 31);
    return acc * P1;
}

static uint64_t merge(uint64_t acc, uint64_t val)
{
    acc ^= round64(0, val);
    return acc * P1 + P4;
}

uint64_t xva_xxh64(const void *buf, size_t len)
{
    const unsigned char *p = buf, *end = p + len;
    uint64_t h;

    if (len >= 32) {
        uint64_t v1 = P1 + P2, v2 = P2, v3 = 0, v4 = 0 - P1;
        const unsigned char *limit = end - 32;
        do {
            v1 = round64(v1, rd64(p));
            v2 = round64(v2, rd64(p + 8));
            v3 = round64(v3, rd64(p + 16));
            v4 = round64(v4, rd64(p + 24));
            p += 32;
        } while (p <= limit);
        h = rotl(v1, 1) + rotl(v2, 7) + rotl(v3, 12) + rotl(v4, 18);
        h = merge(h, v1);
        h = merge(h, v2);
        h = merge(h, v3);
        h = merge(h, v4);
    } else {
        h = P5;
    }
    h += (uint64_t)len;
    while (p + 8 <= end) {
        h ^= round64(0, rd64(p));
        h = rotl(h, 27) * P1 + P4;
        p += 8;
    }
    if (p + 4 <= end) {
        h ^= (uint64_t)rd32(p) * P1;
        h = rotl(h, 23) * P2 + P3;
        p += 4;
    }
    while (p < end) {
        h ^= (*p) * P5;
        h = rotl(h, 11) * P1;
        p++;
    }
    h ^= h >> 33;
    h *= P2;
    h ^= h >> 29;
    h *= P3;
    h ^= h >> 32;
    return h;
}

bool xva_is_zero(const void *buf, size_t len)
{
    const unsigned char *p = buf;

    /* The first bytes are zero and each byte equals the one 16 later:
     * memcmp does the long comparison at memory speed. */
    if (len <= 16) {
        for (size_t i = 0; i < len; i++)
            if (p[i])
                return false;
        return true;
    }
    for (size_t i = 0; i < 16; i++)
        if (p[i])
            return false;
    return memcmp(p, p + 16, len - 16) == 0;
}

void xva_tar_header(char block[XVA_BLOCK], const char *name, uint64_t size, time_t mtime)
{
    unsigned sum = 0;

    memset(block, 0, XVA_BLOCK);
    snprintf(block, 100, "%s", name);
    snprintf(block + 100, 8, "%07o", 0400);
    snprintf(block + 108, 8, "%07o", 0);
    snprintf(block + 116, 8, "%07o", 0);
    snprintf(block + 124, 12, "%011llo", (unsigned long long)size);
    snprintf(block + 136, 12, "%011llo", (unsigned long long)mtime);
    memset(block + 148, ' ', 8);
    block[156] = '0';
    memcpy(block + 257, "ustar", 6);
    memcpy(block + 263, "00", 2);
    for (size_t i = 0; i < XVA_BLOCK; i++)
        sum += (unsigned char)block[i];
    snprintf(block + 148, 8, "%06o", sum);
    block[155] = ' ';
}

/* An octal field; it ends at a NUL, a space or the field's end. */
static uint64_t octal(const unsigned char *p, size_t n)
{
    uint64_t v = 0;
    size_t i = 0;

    while (i < n && p[i] == ' ')
        i++;
    for (; i < n && p[i] >= '0' && p[i] <= '7'; i++) {
        if (v > (UINT64_MAX >> 3))
            return UINT64_MAX;
        v = v * 8 + (uint64_t)(p[i] - '0');
    }
    return v;
}

int xva_tar_parse(const unsigned char block[XVA_BLOCK], struct xva_member *ret)
{
    unsigned sum = 0;

    if (xva_is_zero(block, XVA_BLOCK))
        return 1;
    if (block[0] == 0x1f && block[1] == 0x8b)
        return -ENOTSUP; /* gzip: XCP's compressed exports */
    for (size_t i = 0; i < XVA_BLOCK; i++)
        sum += i >= 148 && i < 156 ? ' ' : block[i];
    if (sum != octal(block + 148, 8))
        return -EPROTO;
    ret->size = octal(block + 124, 12);
    ret->type = (char)block[156];
    /* ustar's prefix field holds the start of a long name. */
    char prefix[160] = "";
    if (memcmp(block + 257, "ustar", 5) == 0 && block[345])
        snprintf(prefix, sizeof(prefix), "%.155s/", (const char *)block + 345);
    snprintf(ret->name, sizeof(ret->name), "%s%.100s", prefix, (const char *)block);
    return 0;
}
