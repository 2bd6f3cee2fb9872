/* Parser and evaluator of XAPI's filter expressions (see filter.h). */
#include "filter.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include "db.h"
#include "lib/strbuf.h"
#include "lib/util.h"

enum node_kind { N_TRUE, N_FALSE, N_NOT, N_AND, N_OR, N_EQ };

struct qual {
    int field; /* -1: a literal */
    char *lit;
};

struct filter {
    enum node_kind kind;
    struct filter *a, *b;
    struct qual l, r;
};

struct parser {
    const char *p;
    int cls;
    const char *err;
    int depth;
};

static void skip_ws(struct parser *ps)
{
    while (isspace((unsigned char)*ps->p))
        ps->p++;
}

static bool keyword(struct parser *ps, const char *kw)
{
    skip_ws(ps);
    size_t n = strlen(kw);
    if (strncmp(ps->p, kw, n) == 0 && !isalnum((unsigned char)ps->p[n]) && ps->p[n] != '_') {
        ps->p += n;
        return true;
    }
    return false;
}

static char *string_lit(struct parser *ps)
{
    struct strbuf sb;
    skip_ws(ps);
    if (*ps->p != '"')
        return NULL;
    ps->p++;
    strbuf_init(&sb, 32);
    while (*ps->p && *ps->p != '"') {
        if (*ps->p == '\\' && ps->p[1])
            ps->p++;
        strbuf_addc(&sb, *ps->p++);
    }
    if (*ps->p != '"') {
        strbuf_done(&sb);
        return NULL;
    }
    ps->p++;
    return strbuf_detach(&sb, NULL);
}

static bool qualifier(struct parser *ps, struct qual *q)
{
    q->field = -1;
    q->lit = NULL;
    if (keyword(ps, "field")) {
        char *name = string_lit(ps);
        if (!name) {
            ps->err = "expected a field name in quotes";
            return false;
        }
        q->field = model_field_by_name(&model_classes[ps->cls], name);
        free(name);
        if (q->field < 0) {
            ps->err = "unknown field";
            return false;
        }
        return true;
    }
    q->lit = string_lit(ps);
    if (!q->lit) {
        ps->err = "expected a string or a field";
        return false;
    }
    return true;
}

static struct filter *node(enum node_kind k)
{
    struct filter *f = xcalloc(1, sizeof(*f));
    f->kind = k;
    f->l.field = f->r.field = -1;
    return f;
}

static struct filter *parse_or(struct parser *ps);

static struct filter *parse_atom(struct parser *ps)
{
    if (++ps->depth > 64) {
        ps->err = "expression nested too deeply";
        return NULL;
    }
    skip_ws(ps);
    struct filter *f = NULL;
    if (*ps->p == '(') {
        ps->p++;
        f = parse_or(ps);
        skip_ws(ps);
        if (f && *ps->p != ')') {
            ps->err = "expected ')'";
            filter_free(f);
            f = NULL;
        } else if (f)
            ps->p++;
    } else if (keyword(ps, "true"))
        f = node(N_TRUE);
    else if (keyword(ps, "false"))
        f = node(N_FALSE);
    else if (keyword(ps, "not")) {
        struct filter *a = parse_atom(ps);
        if (a) {
            f = node(N_NOT);
            f->a = a;
        }
    } else {
        f = node(N_EQ);
        if (!qualifier(ps, &f->l)) {
            filter_free(f);
            f = NULL;
        } else {
            skip_ws(ps);
            if (*ps->p != '=') {
                ps->err = "expected '='";
                filter_free(f);
                f = NULL;
            } else {
                ps->p++;
                if (!qualifier(ps, &f->r)) {
                    filter_free(f);
                    f = NULL;
                }
            }
        }
    }
    ps->depth--;
    return f;
}

static struct filter *parse_and(struct parser *ps)
{
    struct filter *f = parse_atom(ps);
    while (f && keyword(ps, "and")) {
        struct filter *b = parse_atom(ps);
        if (!b) {
            filter_free(f);
            return NULL;
        }
        struct filter *n = node(N_AND);
        n->a = f;
        n->b = b;
        f = n;
    }
    return f;
}

static struct filter *parse_or(struct parser *ps)
{
    struct filter *f = parse_and(ps);
    while (f && keyword(ps, "or")) {
        struct filter *b = parse_and(ps);
        if (!b) {
            filter_free(f);
            return NULL;
        }
        struct filter *n = node(N_OR);
        n->a = f;
        n->b = b;
        f = n;
    }
    return f;
}

struct api_error *filter_parse(const char *text, int cls, struct filter **ret)
{
    struct parser ps = {text, cls, NULL, 0};
    struct filter *f = parse_or(&ps);
    if (f) {
        skip_ws(&ps);
        if (*ps.p) {
            ps.err = "unexpected text after the expression";
            filter_free(f);
            f = NULL;
        }
    }
    if (!f)
        return api_fail(INVALID_VALUE, text, ps.err ? ps.err : "syntax error");
    *ret = f;
    return NULL;
}

static const char *qual_value(const struct qual *q, const struct row *r, struct strbuf *scratch)
{
    return q->field < 0 ? q->lit : db_value(r, q->field, scratch);
}

static bool eval(const struct filter *f, const struct row *r, struct strbuf *s1, struct strbuf *s2)
{
    switch (f->kind) {
    case N_TRUE:
        return true;
    case N_FALSE:
        return false;
    case N_NOT:
        return !eval(f->a, r, s1, s2);
    case N_AND:
        return eval(f->a, r, s1, s2) && eval(f->b, r, s1, s2);
    case N_OR:
        return eval(f->a, r, s1, s2) || eval(f->b, r, s1, s2);
    case N_EQ:
        return streq(qual_value(&f->l, r, s1), qual_value(&f->r, r, s2));
    }
    return false;
}

bool filter_match(const struct filter *f, const struct row *r)
{
    struct strbuf s1, s2;
    strbuf_init(&s1, 0);
    strbuf_init(&s2, 0);
    bool m = eval(f, r, &s1, &s2);
    strbuf_done(&s1);
    strbuf_done(&s2);
    return m;
}

void filter_free(struct filter *f)
{
    if (!f)
        return;
    filter_free(f->a);
    filter_free(f->b);
    free(f->l.lit);
    free(f->r.lit);
    free(f);
}
