/* Typed conversion between wire values and canonical text (see marshal.h). */
#include "marshal.h"

#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "lib/strlist.h"
#include "lib/util.h"

static struct api_error *type_error(const struct type *t, const char *got)
{
    /* xapi reports unmarshalling failures as INTERNAL_ERROR with the
     * unmarshaller's message. */
    return api_failf(INTERNAL_ERROR, "Unmarshalling error: expected %s, received %s", t->text, got);
}

static int parse_int64(const char *s, int64_t *ret)
{
    char *end;
    if (!*s)
        return -EINVAL;
    errno = 0;
    long long v = strtoll(s, &end, 10);
    if (errno || *end || end == s)
        return -EINVAL;
    *ret = v;
    return 0;
}

static void add_double(struct strbuf *out, double d)
{
    char buf[64];
    if (!isfinite(d))
        d = 0;
    snprintf(buf, sizeof(buf), "%.16g", d);
    strbuf_adds(out, buf);
}

static struct api_error *scalar_from_text(const struct type *t, const char *s, size_t len,
                                          struct strbuf *out)
{
    switch (t->kind) {
    case T_STRING:
    case T_REF:
        if (strlen(s) != len || !utf8_is_valid(s, len))
            return api_fail(INVALID_VALUE, "Invalid UTF-8 string in parameter", "");
        strbuf_add(out, s, len);
        return NULL;
    case T_INT: {
        int64_t v;
        if (parse_int64(s, &v) < 0)
            return type_error(t, "a string that is not an int");
        strbuf_addf(out, "%" PRId64, v);
        return NULL;
    }
    case T_FLOAT: {
        char *end;
        double d = strtod(s, &end);
        if (!*s || *end)
            return type_error(t, "a string that is not a float");
        add_double(out, d);
        return NULL;
    }
    case T_BOOL:
        if (strcasecmp(s, "true") == 0)
            strbuf_adds(out, "true");
        else if (strcasecmp(s, "false") == 0)
            strbuf_adds(out, "false");
        else
            return type_error(t, "a string");
        return NULL;
    case T_DATETIME: {
        time_t when;
        char buf[DATETIME_LEN];
        if (datetime_parse(s, &when) < 0)
            return type_error(t, "a string that is not a datetime");
        datetime_format(when, buf);
        strbuf_adds(out, buf);
        return NULL;
    }
    case T_ENUM:
        for (size_t i = 0; i < t->en->n_values; i++)
            if (strcasecmp(t->en->values[i], s) == 0) {
                strbuf_adds(out, t->en->values[i]);
                return NULL;
            }
        return api_failf(INTERNAL_ERROR, "Unmarshalling error: unknown value '%s' of enum %s", s,
                         t->en->name);
    case T_OPTION:
        return scalar_from_text(t->elem, s, len, out);
    default:
        return type_error(t, "a string");
    }
}

static bool is_structured(const struct type *t)
{
    return t->kind == T_SET || t->kind == T_MAP || t->kind == T_RECORD;
}

/* Canonical text of a nested value is stored as a string inside the
 * enclosing set or map. */
static struct api_error *add_elem(const struct type *t, const struct xv *v, struct strbuf *out)
{
    struct strbuf tmp;
    strbuf_init(&tmp, 32);
    struct api_error *e = marshal_from_wire(t, v, &tmp);
    if (!e)
        strlist_add_quoted(out, tmp.buf, tmp.len);
    strbuf_done(&tmp);
    return e;
}

struct api_error *marshal_from_wire(const struct type *t, const struct xv *v, struct strbuf *out)
{
    switch (t->kind) {
    case T_SET:
        if (v->kind != XV_ARRAY)
            return type_error(t, xv_kind_name(v->kind));
        strbuf_addc(out, '[');
        for (size_t i = 0; i < v->agg.n; i++) {
            if (i)
                strbuf_addc(out, ',');
            struct api_error *e = add_elem(t->elem, &v->agg.items[i], out);
            if (e)
                return e;
        }
        strbuf_addc(out, ']');
        return NULL;
    case T_MAP:
        if (v->kind != XV_STRUCT)
            return type_error(t, xv_kind_name(v->kind));
        strbuf_addc(out, '{');
        for (size_t i = 0; i < v->agg.n; i++) {
            struct strbuf key;
            strbuf_init(&key, 32);
            struct api_error *e =
                scalar_from_text(t->key, v->agg.keys[i], strlen(v->agg.keys[i]), &key);
            if (e) {
                strbuf_done(&key);
                return e;
            }
            if (i)
                strbuf_addc(out, ',');
            strlist_add_quoted(out, key.buf, key.len);
            strbuf_done(&key);
            strbuf_addc(out, ':');
            e = add_elem(t->elem, &v->agg.items[i], out);
            if (e)
                return e;
        }
        strbuf_addc(out, '}');
        return NULL;
    case T_RECORD:
    case T_VOID:
    case T_OTHER:
        return type_error(t, xv_kind_name(v->kind));
    case T_OPTION:
        if (v->kind == XV_NIL)
            return NULL;
        return marshal_from_wire(t->elem, v, out);
    default:
        break;
    }

    switch (v->kind) {
    case XV_STRING:
        if (t->kind == T_BOOL) /* only a real boolean is a bool, as in xapi */
            return type_error(t, "string");
        if (t->kind == T_STRING || t->kind == T_REF) {
            if (!utf8_is_valid(v->str.s, v->str.len) || strlen(v->str.s) != v->str.len)
                return api_fail(INVALID_VALUE, "Invalid UTF-8 string in parameter",
                                utf8_is_valid(v->str.s, v->str.len) ? v->str.s : "");
            strbuf_add(out, v->str.s, v->str.len);
            return NULL;
        }
        return scalar_from_text(t, v->str.s, v->str.len, out);
    case XV_DATETIME:
        if (t->kind != T_DATETIME && t->kind != T_STRING)
            return type_error(t, "datetime");
        return scalar_from_text(t, v->str.s, v->str.len, out);
    case XV_INT:
        if (t->kind == T_INT) {
            strbuf_addf(out, "%" PRId64, v->i);
            return NULL;
        }
        if (t->kind == T_FLOAT) {
            add_double(out, (double)v->i);
            return NULL;
        }
        return type_error(t, "int");
    case XV_DOUBLE:
        if (t->kind != T_FLOAT)
            return type_error(t, "float");
        add_double(out, v->d);
        return NULL;
    case XV_BOOL:
        if (t->kind != T_BOOL)
            return type_error(t, "bool");
        strbuf_adds(out, v->b ? "true" : "false");
        return NULL;
    default:
        return type_error(t, xv_kind_name(v->kind));
    }
}

struct api_error *marshal_from_text(const struct type *t, const char *s, struct strbuf *out)
{
    struct strlist_iter it;
    struct strbuf elem;
    struct api_error *e = NULL;
    const char *k, *v;
    bool first = true;

    if (!is_structured(t))
        return scalar_from_text(t, s, strlen(s), out);
    if (t->kind == T_RECORD || (t->kind == T_SET && s[0] != '[') ||
        (t->kind == T_MAP && s[0] != '{'))
        return type_error(t, "malformed text");
    /* Each element is checked and normalised against its own type. */
    strbuf_init(&elem, 32);
    strbuf_addc(out, t->kind == T_SET ? '[' : '{');
    strlist_iter_init(&it, s);
    while (!e && strlist_iter_next(&it, &k, &v)) {
        if (!first)
            strbuf_addc(out, ',');
        first = false;
        if (t->kind == T_MAP) {
            strbuf_reset(&elem);
            if ((e = marshal_from_text(t->key, k, &elem)))
                break;
            strlist_add_quoted(out, elem.buf, elem.len);
            strbuf_addc(out, ':');
        }
        strbuf_reset(&elem);
        if ((e = marshal_from_text(t->elem, v, &elem)))
            break;
        strlist_add_quoted(out, elem.buf, elem.len);
    }
    if (!e && it.bad)
        e = type_error(t, "malformed text");
    strlist_iter_done(&it);
    strbuf_done(&elem);
    if (!e)
        strbuf_addc(out, t->kind == T_SET ? ']' : '}');
    return e;
}

void marshal_to_wire(struct out *o, const struct type *t, const char *s)
{
    switch (t->kind) {
    case T_STRING:
    case T_REF:
    case T_ENUM:
        out_string(o, s);
        return;
    case T_INT:
        out_int_text(o, s);
        return;
    case T_FLOAT:
        out_double_text(o, s);
        return;
    case T_BOOL:
        out_bool(o, streq(s, "true"));
        return;
    case T_DATETIME:
        out_datetime(o, s);
        return;
    case T_OPTION:
        marshal_to_wire(o, t->elem, s);
        return;
    case T_SET: {
        struct strlist_iter it;
        const char *v;
        out_array_begin(o);
        if (s[0] == '[' && s[1] == ']') { /* most sets are empty: skip the iterator */
            out_array_end(o);
            return;
        }
        strlist_iter_init(&it, s);
        while (strlist_iter_next(&it, NULL, &v))
            marshal_to_wire(o, t->elem, v);
        strlist_iter_done(&it);
        out_array_end(o);
        return;
    }
    case T_MAP: {
        struct strlist_iter it;
        const char *k, *v;
        out_struct_begin(o);
        if (s[0] == '{' && s[1] == '}') {
            out_struct_end(o);
            return;
        }
        strlist_iter_init(&it, s);
        while (strlist_iter_next(&it, &k, &v)) {
            out_member(o, k);
            marshal_to_wire(o, t->elem, v);
        }
        strlist_iter_done(&it);
        out_struct_end(o);
        return;
    }
    default:
        out_string(o, s ? s : "");
        return;
    }
}
