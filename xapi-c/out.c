/* The response value writer (see out.h): every result is written once,
 * through these calls, and comes out as XML-RPC exactly as xapi's
 * serialiser writes it, or as compact JSON. This is the hot path of
 * get_all_records on large pools, so values are appended straight into the
 * writer's buffer with inline appends, strings that need no escaping (most
 * of them) are copied in one piece, and nothing is allocated or formatted
 * through printf except doubles. */
#include "xapi-c/out.h"

#include <assert.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/cleanup.h"
#include "lib/strlist.h"

/* strbuf_add, inlined: most appends are a few bytes, so the call would
 * cost more than the copy. Keeps the buffer NUL-terminated as strbuf does. */
static inline void put(struct strbuf *sb, const void *p, size_t n)
{
    if (sb->len + n >= sb->alloc)
        strbuf_grow(sb, n);
    memcpy(sb->buf + sb->len, p, n);
    sb->len += n;
    sb->buf[sb->len] = '\0';
}

#define PUT_LIT(sb, lit) put((sb), (lit), sizeof(lit) - 1)

void out_init_headroom(struct out *o, enum wire w, size_t headroom)
{
    o->wire = w;
    strbuf_init(&o->sb, 1024 + headroom);
    memset(o->sb.buf, ' ', headroom);
    o->sb.len = o->base = headroom;
    o->sb.buf[o->sb.len] = '\0';
    o->depth = 0;
    o->after_key = false;
    memset(o->has_elem, 0, sizeof(o->has_elem));
}

void out_init(struct out *o, enum wire w)
{
    out_init_headroom(o, w, 0);
}

const char *out_value(const struct out *o, size_t *ret_len)
{
    *ret_len = o->sb.len - o->base;
    return o->sb.buf + o->base;
}

void out_done(struct out *o)
{
    strbuf_done(&o->sb);
}

void out_reset(struct out *o)
{
    o->sb.len = o->base;
    o->sb.buf[o->sb.len] = '\0';
    o->depth = 0;
    o->after_key = false;
}

/* How each byte is written in XML: copied, dropped, or replaced by an
 * entity. Bytes from 0x7f up are copied, so UTF-8 passes through. */
enum { X_COPY, X_DROP, X_LT, X_GT, X_AMP, X_QUOT };
static const unsigned char xml_class[256] = {
    [0x00 ... 0x08] = X_DROP,
    [0x0b ... 0x0c] = X_DROP,
    [0x0e ... 0x1f] = X_DROP,
    ['<'] = X_LT,
    ['>'] = X_GT,
    ['&'] = X_AMP,
    ['"'] = X_QUOT,
};

/* Appends the entity for a byte of class cls (nothing for dropped bytes). */
static inline void put_entity(struct strbuf *sb, unsigned char cls)
{
    switch (cls) {
    case X_LT:
        PUT_LIT(sb, "&lt;");
        break;
    case X_GT:
        PUT_LIT(sb, "&gt;");
        break;
    case X_AMP:
        PUT_LIT(sb, "&amp;");
        break;
    case X_QUOT:
        PUT_LIT(sb, "&quot;");
        break;
    default:
        break;
    }
}

/* Appends s as XML character data, the way xapi's Xmlrpc.encode does. */
static void xml_escape(struct strbuf *sb, const char *s, size_t len)
{
    size_t i = 0;
    while (i < len && xml_class[(unsigned char)s[i]] == X_COPY)
        i++;
    put(sb, s, i);
    if (i == len)
        return;

    size_t start = i;
    for (; i < len; i++) {
        unsigned char cls = xml_class[(unsigned char)s[i]];
        if (cls == X_COPY)
            continue;
        put(sb, s + start, i - start);
        start = i + 1;
        put_entity(sb, cls);
    }
    put(sb, s + start, len - start);
}

/* Bytes that JSON needs escaped. */
static const bool json_special[256] = {
    [0x00 ... 0x1f] = true,
    ['"'] = true,
    ['\\'] = true,
};

/* Appends s as a JSON string literal: copied between quotes when it needs
 * no escaping, else through strlist_add_quoted. */
static void json_quote(struct strbuf *sb, const char *s, size_t len)
{
    size_t i = 0;
    while (i < len && !json_special[(unsigned char)s[i]])
        i++;
    if (i < len) {
        strlist_add_quoted(sb, s, len);
        return;
    }
    if (sb->len + len + 2 >= sb->alloc)
        strbuf_grow(sb, len + 2);
    sb->buf[sb->len++] = '"';
    put(sb, s, len);
    sb->buf[sb->len++] = '"';
    sb->buf[sb->len] = '\0';
}

/* JSON needs a separator before every value but the first of a container,
 * except right after a member name, which wrote its own. */
static inline void json_before_value(struct out *o)
{
    if (o->after_key) {
        o->after_key = false;
        return;
    }
    if (o->depth > 0) {
        if (o->has_elem[o->depth - 1])
            strbuf_addc(&o->sb, ',');
        o->has_elem[o->depth - 1] = true;
    }
}

/* Formats v in decimal just before end (at least 20 bytes of room); returns
 * where the digits start. */
static char *fmt_i64(char *end, int64_t v)
{
    uint64_t u = v < 0 ? -(uint64_t)v : (uint64_t)v;
    char *p = end;
    do {
        *--p = (char)('0' + u % 10);
        u /= 10;
    } while (u);
    if (v < 0)
        *--p = '-';
    return p;
}

/* Bare scalars (ints, numbers, literals) are <value>text</value> in XML,
 * the text itself in JSON. */
static inline void scalar_begin(struct out *o)
{
    if (o->wire == WIRE_JSON)
        json_before_value(o);
    else
        PUT_LIT(&o->sb, "<value>");
}

static inline void scalar_end(struct out *o)
{
    if (o->wire == WIRE_XML)
        PUT_LIT(&o->sb, "</value>");
}

/* Writes an already safe token (digits, a number, a literal) as a value. */
static void scalar_raw(struct out *o, const char *text, size_t len)
{
    scalar_begin(o);
    put(&o->sb, text, len);
    scalar_end(o);
}

void out_string_len(struct out *o, const char *s, size_t len)
{
    if (o->wire == WIRE_JSON) {
        json_before_value(o);
        json_quote(&o->sb, s, len);
        return;
    }
    PUT_LIT(&o->sb, "<value>");
    xml_escape(&o->sb, s, len);
    PUT_LIT(&o->sb, "</value>");
}

void out_string(struct out *o, const char *s)
{
    if (o->wire == WIRE_JSON) {
        out_string_len(o, s, strlen(s));
        return;
    }
    /* One pass over a C string: NUL is in the dropped class, so the copy
     * loop stops on it as on any byte that needs an entity. */
    struct strbuf *sb = &o->sb;
    const char *p = s;
    PUT_LIT(sb, "<value>");
    for (;;) {
        const char *start = p;
        while (xml_class[(unsigned char)*p] == X_COPY)
            p++;
        put(sb, start, (size_t)(p - start));
        if (!*p)
            break;
        put_entity(sb, xml_class[(unsigned char)*p++]);
    }
    PUT_LIT(sb, "</value>");
}

void out_int(struct out *o, int64_t v)
{
    char buf[24];
    char *end = buf + sizeof(buf);
    char *p = fmt_i64(end, v);
    scalar_raw(o, p, (size_t)(end - p));
}

void out_int_text(struct out *o, const char *text)
{
    /* The text comes from the database, but a malformed one must not break
     * the document (or, in JSON, its syntax), so anything but an optional
     * minus and digits is written as 0. Leading zeros are dropped because
     * JSON does not allow them. */
    const char *p = text + (text[0] == '-');
    size_t n = strspn(p, "0123456789");
    if (n == 0 || p[n] != '\0') {
        scalar_raw(o, "0", 1);
        return;
    }
    while (n > 1 && *p == '0') {
        p++;
        n--;
    }
    scalar_begin(o);
    if (text[0] == '-')
        PUT_LIT(&o->sb, "-");
    put(&o->sb, p, n);
    scalar_end(o);
}

void out_i4(struct out *o, int32_t v)
{
    char buf[16];
    char *end = buf + sizeof(buf);
    char *p = fmt_i64(end, v);
    if (o->wire == WIRE_JSON) {
        scalar_raw(o, p, (size_t)(end - p));
        return;
    }
    PUT_LIT(&o->sb, "<value><i4>");
    put(&o->sb, p, (size_t)(end - p));
    PUT_LIT(&o->sb, "</i4></value>");
}

void out_double_text(struct out *o, const char *text)
{
    /* Canonical floats are already %.16g of a finite value; anything else
     * is written through out_double, which checks. */
    size_t n = strspn(text, "0123456789+-.e");
    if (n == 0 || text[n] != '\0' || n > 32) {
        out_double(o, strtod(text, NULL));
        return;
    }
    if (o->wire == WIRE_JSON) {
        scalar_raw(o, text, n);
        return;
    }
    PUT_LIT(&o->sb, "<value><double>");
    put(&o->sb, text, n);
    PUT_LIT(&o->sb, "</double></value>");
}

void out_double(struct out *o, double v)
{
    char buf[40];
    /* inf and nan have no spelling that strict XML-RPC or JSON parsers
     * accept, so a non-finite value is written as 0. */
    int n = isfinite(v) ? snprintf(buf, sizeof(buf), "%.16g", v) : 0;
    if (n <= 0 || (size_t)n >= sizeof(buf)) {
        buf[0] = '0';
        n = 1;
    }
    if (o->wire == WIRE_JSON) {
        scalar_raw(o, buf, (size_t)n);
        return;
    }
    PUT_LIT(&o->sb, "<value><double>");
    put(&o->sb, buf, (size_t)n);
    PUT_LIT(&o->sb, "</double></value>");
}

void out_bool(struct out *o, bool v)
{
    if (o->wire == WIRE_JSON) {
        if (v)
            scalar_raw(o, "true", 4);
        else
            scalar_raw(o, "false", 5);
        return;
    }
    if (v)
        PUT_LIT(&o->sb, "<value><boolean>1</boolean></value>");
    else
        PUT_LIT(&o->sb, "<value><boolean>0</boolean></value>");
}

void out_datetime(struct out *o, const char *text)
{
    size_t len = strlen(text);
    if (o->wire == WIRE_JSON) {
        json_before_value(o);
        json_quote(&o->sb, text, len);
        return;
    }
    PUT_LIT(&o->sb, "<value><dateTime.iso8601>");
    xml_escape(&o->sb, text, len);
    PUT_LIT(&o->sb, "</dateTime.iso8601></value>");
}

void out_void(struct out *o)
{
    if (o->wire == WIRE_JSON)
        scalar_raw(o, "\"\"", 2);
    else
        PUT_LIT(&o->sb, "<value></value>");
}

/* Opens a container level. Deeper nesting than has_elem can track is a
 * programming error: no XenAPI value comes near it. */
static void push(struct out *o)
{
    assert(o->depth < (int)ELEMENTSOF(o->has_elem));
    o->has_elem[o->depth++] = false;
}

static void pop(struct out *o)
{
    assert(o->depth > 0);
    o->depth--;
}

void out_array_begin(struct out *o)
{
    if (o->wire == WIRE_JSON) {
        json_before_value(o);
        strbuf_addc(&o->sb, '[');
    } else
        PUT_LIT(&o->sb, "<value><array><data>");
    push(o);
}

void out_array_end(struct out *o)
{
    pop(o);
    if (o->wire == WIRE_JSON)
        strbuf_addc(&o->sb, ']');
    else
        PUT_LIT(&o->sb, "</data></array></value>");
}

void out_struct_begin(struct out *o)
{
    if (o->wire == WIRE_JSON) {
        json_before_value(o);
        strbuf_addc(&o->sb, '{');
    } else
        PUT_LIT(&o->sb, "<value><struct>");
    push(o);
}

void out_member_plain(struct out *o, const char *name, size_t len)
{
    bool *has = &o->has_elem[o->depth - 1];
    if (o->wire == WIRE_JSON) {
        if (*has)
            strbuf_addc(&o->sb, ',');
        strbuf_grow(&o->sb, len + 3);
        o->sb.buf[o->sb.len++] = '"';
        put(&o->sb, name, len);
        PUT_LIT(&o->sb, "\":");
        o->after_key = true;
    } else {
        if (*has)
            PUT_LIT(&o->sb, "</member>");
        PUT_LIT(&o->sb, "<member><name>");
        put(&o->sb, name, len);
        PUT_LIT(&o->sb, "</name>");
    }
    *has = true;
}

void out_member_spelled(struct out *o, const char *xml, size_t xml_len, const char *json,
                        size_t json_len)
{
    bool *has = &o->has_elem[o->depth - 1];
    if (o->wire == WIRE_JSON) {
        if (*has)
            strbuf_addc(&o->sb, ',');
        put(&o->sb, json, json_len);
        o->after_key = true;
    } else {
        if (*has)
            PUT_LIT(&o->sb, "</member>");
        put(&o->sb, xml, xml_len);
    }
    *has = true;
}

void out_member_spell(const char *name, char **ret_xml, char **ret_json)
{
    struct strbuf sb;
    strbuf_init(&sb, 64);
    PUT_LIT(&sb, "<member><name>");
    xml_escape(&sb, name, strlen(name));
    PUT_LIT(&sb, "</name>");
    *ret_xml = strbuf_detach(&sb, NULL);
    json_quote(&sb, name, strlen(name));
    strbuf_addc(&sb, ':');
    *ret_json = strbuf_detach(&sb, NULL);
}

void out_member(struct out *o, const char *name)
{
    assert(o->depth > 0);
    bool *has = &o->has_elem[o->depth - 1];
    size_t len = strlen(name);
    if (o->wire == WIRE_JSON) {
        if (*has)
            strbuf_addc(&o->sb, ',');
        json_quote(&o->sb, name, len);
        strbuf_addc(&o->sb, ':');
        o->after_key = true;
    } else {
        /* A member is closed when the next one starts or the struct ends,
         * since the value in between may itself be a container. */
        if (*has)
            PUT_LIT(&o->sb, "</member>");
        PUT_LIT(&o->sb, "<member><name>");
        xml_escape(&o->sb, name, len);
        PUT_LIT(&o->sb, "</name>");
    }
    *has = true;
}

void out_struct_end(struct out *o)
{
    bool had = o->depth > 0 && o->has_elem[o->depth - 1];
    pop(o);
    if (o->wire == WIRE_JSON)
        strbuf_addc(&o->sb, '}');
    else if (had)
        PUT_LIT(&o->sb, "</member></struct></value>");
    else
        PUT_LIT(&o->sb, "</struct></value>");
}
