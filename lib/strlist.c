/* Canonical JSON text of string lists and maps (see strlist.h). */
#include "strlist.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util.h"

void strlist_add_quoted(struct strbuf *sb, const char *s, size_t len)
{
    static const char hex[] = "0123456789abcdef";
    strbuf_grow(sb, len + 2);
    strbuf_addc(sb, '"');
    size_t start = 0;
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c >= 0x20 && c != '"' && c != '\\')
            continue;
        strbuf_add(sb, s + start, i - start);
        start = i + 1;
        switch (c) {
        case '"':
            strbuf_add(sb, "\\\"", 2);
            break;
        case '\\':
            strbuf_add(sb, "\\\\", 2);
            break;
        case '\n':
            strbuf_add(sb, "\\n", 2);
            break;
        case '\r':
            strbuf_add(sb, "\\r", 2);
            break;
        case '\t':
            strbuf_add(sb, "\\t", 2);
            break;
        default: {
            char u[6] = {'\\', 'u', '0', '0', hex[c >> 4], hex[c & 15]};
            strbuf_add(sb, u, 6);
        }
        }
    }
    strbuf_add(sb, s + start, len - start);
    strbuf_addc(sb, '"');
}

static int hexval(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

static void add_utf8(struct strbuf *sb, unsigned cp)
{
    if (cp < 0x80)
        strbuf_addc(sb, (char)cp);
    else if (cp < 0x800) {
        strbuf_addc(sb, (char)(0xc0 | (cp >> 6)));
        strbuf_addc(sb, (char)(0x80 | (cp & 0x3f)));
    } else if (cp < 0x10000) {
        strbuf_addc(sb, (char)(0xe0 | (cp >> 12)));
        strbuf_addc(sb, (char)(0x80 | ((cp >> 6) & 0x3f)));
        strbuf_addc(sb, (char)(0x80 | (cp & 0x3f)));
    } else {
        strbuf_addc(sb, (char)(0xf0 | (cp >> 18)));
        strbuf_addc(sb, (char)(0x80 | ((cp >> 12) & 0x3f)));
        strbuf_addc(sb, (char)(0x80 | ((cp >> 6) & 0x3f)));
        strbuf_addc(sb, (char)(0x80 | (cp & 0x3f)));
    }
}

/* Reads a string literal at *pp into out; false if malformed. */
static bool read_string(const char **pp, struct strbuf *out)
{
    const char *p = *pp;
    strbuf_reset(out);
    if (*p != '"')
        return false;
    p++;
    for (;;) {
        const char *q = p;
        while (*q && *q != '"' && *q != '\\')
            q++;
        strbuf_add(out, p, (size_t)(q - p));
        p = q;
        if (*p == '"')
            break;
        if (*p != '\\')
            return false;
        p++;
        switch (*p) {
        case '"':
        case '\\':
        case '/':
            strbuf_addc(out, *p);
            break;
        case 'n':
            strbuf_addc(out, '\n');
            break;
        case 'r':
            strbuf_addc(out, '\r');
            break;
        case 't':
            strbuf_addc(out, '\t');
            break;
        case 'b':
            strbuf_addc(out, '\b');
            break;
        case 'f':
            strbuf_addc(out, '\f');
            break;
        case 'u': {
            unsigned cp = 0;
            for (int i = 1; i <= 4; i++) {
                int h = hexval(p[i]);
                if (h < 0)
                    return false;
                cp = cp * 16 + (unsigned)h;
            }
            p += 4;
            if (cp >= 0xd800 && cp < 0xdc00 && p[1] == '\\' && p[2] == 'u') {
                unsigned lo = 0;
                for (int i = 3; i <= 6; i++) {
                    int h = hexval(p[i]);
                    if (h < 0)
                        return false;
                    lo = lo * 16 + (unsigned)h;
                }
                if (lo >= 0xdc00 && lo < 0xe000) {
                    cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
                    p += 6;
                }
            }
            add_utf8(out, cp);
            break;
        }
        default:
            return false;
        }
        p++;
    }
    *pp = p + 1;
    return true;
}

static const char *skip_ws(const char *p)
{
    while (*p == ' ' || *p == '\n' || *p == '\t' || *p == '\r')
        p++;
    return p;
}

void strlist_iter_init(struct strlist_iter *it, const char *text)
{
    strbuf_init(&it->key, 32);
    strbuf_init(&it->val, 64);
    it->bad = false;
    it->is_map = false;
    it->first = true;
    it->p = NULL;
    if (!text)
        return;
    const char *p = skip_ws(text);
    if (*p == '[' || *p == '{') {
        it->is_map = *p == '{';
        it->p = skip_ws(p + 1);
    } else if (*p)
        it->bad = true;
}

bool strlist_iter_next(struct strlist_iter *it, const char **ret_key, const char **ret_val)
{
    const char *p = it->p;
    char close = it->is_map ? '}' : ']';
    if (!p || it->bad)
        return false;
    if (*p == close) {
        /* The end: nothing but white space may follow the container. */
        it->p = NULL;
        if (*skip_ws(p + 1))
            it->bad = true;
        return false;
    }
    if (!it->first) {
        if (*p != ',')
            goto bad;
        p = skip_ws(p + 1);
    }
    it->first = false;
    if (ret_key)
        *ret_key = NULL;
    if (it->is_map) {
        if (!read_string(&p, &it->key))
            goto bad;
        p = skip_ws(p);
        if (*p != ':')
            goto bad;
        p = skip_ws(p + 1);
        if (ret_key)
            *ret_key = it->key.buf;
    }
    if (!read_string(&p, &it->val))
        goto bad;
    p = skip_ws(p);
    if (*p != ',' && *p != close)
        goto bad;
    it->p = p;
    *ret_val = it->val.buf;
    return true;
bad:
    it->bad = true;
    return false;
}

void strlist_iter_done(struct strlist_iter *it)
{
    strbuf_done(&it->key);
    strbuf_done(&it->val);
}

long strlist_count(const char *text)
{
    struct strlist_iter it;
    const char *v;
    long n = 0;
    strlist_iter_init(&it, text);
    while (strlist_iter_next(&it, NULL, &v))
        n++;
    if (it.bad)
        n = -1;
    strlist_iter_done(&it);
    return n;
}

bool strlist_contains(const char *text, const char *s)
{
    struct strlist_iter it;
    const char *v;
    bool found = false;
    strlist_iter_init(&it, text);
    while (!found && strlist_iter_next(&it, NULL, &v))
        found = streq(v, s);
    strlist_iter_done(&it);
    return found;
}

char *strmap_get(const char *text, const char *key)
{
    struct strlist_iter it;
    const char *k, *v;
    char *found = NULL;
    strlist_iter_init(&it, text);
    while (!found && strlist_iter_next(&it, &k, &v))
        if (k && streq(k, key))
            found = xstrdup(v);
    strlist_iter_done(&it);
    return found;
}

char *strmap_with(const char *text, const char *key, const char *value)
{
    struct strlist_iter it;
    struct strbuf sb;
    const char *k, *v;
    bool first = true;

    strbuf_init(&sb, (text ? strlen(text) : 0) + 32);
    strbuf_addc(&sb, '{');
    strlist_iter_init(&it, text);
    while (strlist_iter_next(&it, &k, &v)) {
        if (streq(k, key))
            continue;
        if (!first)
            strbuf_addc(&sb, ',');
        first = false;
        strlist_add_quoted(&sb, k, strlen(k));
        strbuf_addc(&sb, ':');
        strlist_add_quoted(&sb, v, strlen(v));
    }
    strlist_iter_done(&it);
    if (value) {
        if (!first)
            strbuf_addc(&sb, ',');
        strlist_add_quoted(&sb, key, strlen(key));
        strbuf_addc(&sb, ':');
        strlist_add_quoted(&sb, value, strlen(value));
    }
    strbuf_addc(&sb, '}');
    return strbuf_detach(&sb, NULL);
}
