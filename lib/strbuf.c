/* Growable NUL-terminated buffer (see strbuf.h). */
#include "strbuf.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util.h"

void strbuf_init(struct strbuf *sb, size_t hint)
{
    sb->alloc = hint < 64 ? 64 : hint + 1;
    sb->buf = xmalloc(sb->alloc);
    sb->buf[0] = '\0';
    sb->len = 0;
}

void strbuf_done(struct strbuf *sb)
{
    free(sb->buf);
    sb->buf = NULL;
    sb->len = sb->alloc = 0;
}

void strbuf_reset(struct strbuf *sb)
{
    sb->len = 0;
    if (sb->buf)
        sb->buf[0] = '\0';
}

void strbuf_grow(struct strbuf *sb, size_t extra)
{
    if (sb->len + extra + 1 <= sb->alloc)
        return;
    size_t n = sb->alloc * 2;
    if (n < sb->len + extra + 1)
        n = sb->len + extra + 1;
    sb->buf = xrealloc(sb->buf, n);
    sb->alloc = n;
}

void strbuf_add(struct strbuf *sb, const void *data, size_t len)
{
    strbuf_grow(sb, len);
    memcpy(sb->buf + sb->len, data, len);
    sb->len += len;
    sb->buf[sb->len] = '\0';
}

void strbuf_adds(struct strbuf *sb, const char *s)
{
    strbuf_add(sb, s, strlen(s));
}

void strbuf_vaddf(struct strbuf *sb, const char *fmt, va_list ap)
{
    va_list cp;
    va_copy(cp, ap);
    int n = vsnprintf(sb->buf + sb->len, sb->alloc - sb->len, fmt, cp);
    va_end(cp);
    if (n < 0)
        return;
    if ((size_t)n >= sb->alloc - sb->len) {
        strbuf_grow(sb, (size_t)n);
        vsnprintf(sb->buf + sb->len, sb->alloc - sb->len, fmt, ap);
    }
    sb->len += (size_t)n;
}

void strbuf_addf(struct strbuf *sb, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    strbuf_vaddf(sb, fmt, ap);
    va_end(ap);
}

char *strbuf_detach(struct strbuf *sb, size_t *ret_len)
{
    char *b = sb->buf;
    if (ret_len)
        *ret_len = sb->len;
    /* Empty and unallocated: the next append allocates, strbuf_done is a
     * no-op, so a detached buffer needs no further call. */
    sb->buf = NULL;
    sb->len = sb->alloc = 0;
    return b;
}
