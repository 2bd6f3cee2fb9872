/* A growable byte buffer that always stays NUL-terminated, for building
 * responses and canonical values. Allocation failure aborts: the daemons
 * treat running out of memory as fatal rather than half-answering. */
#pragma once

#include <stdarg.h>
#include <stddef.h>

struct strbuf {
    char *buf;  /* owned; NULL only after strbuf_detach */
    size_t len; /* bytes used, not counting the NUL */
    size_t alloc;
};

void strbuf_init(struct strbuf *sb, size_t hint);
/* Frees the buffer; the strbuf may be initialised again. */
void strbuf_done(struct strbuf *sb);
void strbuf_reset(struct strbuf *sb);
void strbuf_grow(struct strbuf *sb, size_t extra);
void strbuf_add(struct strbuf *sb, const void *data, size_t len);
void strbuf_adds(struct strbuf *sb, const char *s);
void strbuf_addf(struct strbuf *sb, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void strbuf_vaddf(struct strbuf *sb, const char *fmt, va_list ap)
    __attribute__((format(printf, 2, 0)));
/* Returns the buffer, which the caller now owns, and leaves sb empty and
 * unallocated but usable: no strbuf_done is needed after it. */
char *strbuf_detach(struct strbuf *sb, size_t *ret_len);

static inline void strbuf_addc(struct strbuf *sb, char c)
{
    if (sb->len + 1 >= sb->alloc)
        strbuf_grow(sb, 1);
    sb->buf[sb->len++] = c;
    sb->buf[sb->len] = '\0';
}
