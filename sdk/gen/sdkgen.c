/* Build-time generator of the C SDK: reads the data model (xapi-c/model.c,
 * the same table the server is built from) and writes the public headers
 * (xen/api/xen_<class>.h, _decl.h, one per enum and per map type, xen_all.h,
 * xen_api_failure.h) and the sources behind them: gen_types.c, the type
 * descriptors that the generic codec (sdk/src/xen_xmlrpc.c) walks, and
 * gen_<n>.c shards, one thin function per message of every class.
 *
 * Usage: sdkgen <output dir> <number of shards>. Names follow XenServer's C
 * SDK: xen_<class lower>_<message lower>, xen_<class>_record, enum
 * xen_<enum>, XEN_<ENUM>_<VALUE>, xen_<key>_<value>_map. */
#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "xapi-c/model.h"

static const char *outdir;

static char *fmt(const char *f, ...) __attribute__((format(printf, 1, 2)));
static char *fmt(const char *f, ...)
{
    va_list ap;
    char *s;
    va_start(ap, f);
    if (vasprintf(&s, f, ap) < 0)
        abort();
    va_end(ap);
    return s;
}

static char *lower(const char *s)
{
    char *r = strdup(s);
    for (char *p = r; *p; p++)
        *p = (char)tolower((unsigned char)*p);
    return r;
}

static char *upper_ident(const char *s)
{
    char *r = strdup(s);
    for (char *p = r; *p; p++)
        *p = isalnum((unsigned char)*p) ? (char)toupper((unsigned char)*p) : '_';
    return r;
}

static void die(const char *what, const char *detail)
{
    fprintf(stderr, "sdkgen: %s: %s\n", what, detail);
    exit(1);
}

static FILE *open_out(const char *rel)
{
    char *path = fmt("%s/%s", outdir, rel);
    FILE *f = fopen(path, "w");
    if (!f)
        die(path, strerror(errno));
    free(path);
    return f;
}

static void close_out(FILE *f)
{
    if (ferror(f) || fclose(f) != 0)
        die("write", strerror(errno));
}

/* C names of identifiers that the model spells like C keywords. */
static char *c_name(const char *name)
{
    static const char *const keywords[] = {
        "auto",     "break",  "case",   "char",     "const",    "continue", "default",  "do",
        "double",   "else",   "enum",   "extern",   "float",    "for",      "goto",     "if",
        "inline",   "int",    "long",   "register", "restrict", "return",   "short",    "signed",
        "sizeof",   "static", "struct", "switch",   "typedef",  "union",    "unsigned", "void",
        "volatile", "while",  "bool",   "true",     "false",    "result",   "session",  "handle"};
    char *l = lower(name);
    if (strcmp(l, "class") == 0) {
        free(l);
        return strdup("XEN_CLAZZ");
    }
    if (strcmp(l, "public") == 0) {
        free(l);
        return strdup("pubblic");
    }
    for (size_t i = 0; i < sizeof(keywords) / sizeof(keywords[0]); i++)
        if (strcmp(l, keywords[i]) == 0) {
            char *r = fmt("%s_", l);
            free(l);
            return r;
        }
    return l;
}

static const char *cls_name(int cls)
{
    return model_classes[cls].name;
}

/* ---- names of types, as XenServer's SDK spells them ---- */

static char *name_of(const struct type *t)
{
    switch (t->kind) {
    case T_STRING:
        return strdup("string");
    case T_INT:
        return strdup("int");
    case T_FLOAT:
        return strdup("float");
    case T_BOOL:
        return strdup("bool");
    case T_DATETIME:
        return strdup("datetime");
    case T_ENUM:
        return strdup(t->en->name);
    case T_REF:
        return strdup(cls_name(t->cls));
    case T_SET: {
        char *e = name_of(t->elem), *r = fmt("%s_set", e);
        free(e);
        return r;
    }
    case T_MAP: {
        char *k = name_of(t->key), *v = name_of(t->elem), *r = fmt("%s_%s_map", k, v);
        free(k);
        free(v);
        return r;
    }
    case T_RECORD: {
        char *l = lower(cls_name(t->cls)), *r = fmt("xen_%s_record", l);
        free(l);
        return r;
    }
    default:
        die("no name for type", t->text);
        return NULL;
    }
}

/* The typedef of a map type: xen_string_string_map. */
static char *map_typename(const struct type *t)
{
    char *n = name_of(t), *l = lower(n), *r = fmt("xen_%s", l);
    free(n);
    free(l);
    return r;
}

/* The typedef of a set type (xen_vm_set, xen_vm_record_opt_set, ...). */
static char *set_typename(const struct type *elem, bool rec)
{
    switch (elem->kind) {
    case T_STRING:
        return strdup("xen_string_set");
    case T_INT:
        return strdup("xen_int_set");
    case T_ENUM:
        return fmt("xen_%s_set", elem->en->name);
    case T_REF: {
        char *l = lower(cls_name(elem->cls)),
             *r = fmt(rec ? "xen_%s_record_opt_set" : "xen_%s_set", l);
        free(l);
        return r;
    }
    case T_RECORD: {
        char *l = lower(cls_name(elem->cls)), *r = fmt("xen_%s_record_set", l);
        free(l);
        return r;
    }
    case T_SET:
        if (elem->elem->kind == T_STRING)
            return strdup("xen_string_set_set");
        break;
    default:
        break;
    }
    die("no set type for", elem->text);
    return NULL;
}

/* The C type of a value of t, with its trailing space or star; rec: as a
 * record field or map value, where refs are record_opts. */
static char *c_type(const struct type *t, bool rec)
{
    switch (t->kind) {
    case T_STRING:
        return strdup("char *");
    case T_INT:
        return strdup("int64_t ");
    case T_FLOAT:
        return strdup("double ");
    case T_BOOL:
        return strdup("bool ");
    case T_DATETIME:
        return strdup("time_t ");
    case T_ENUM:
        return fmt("enum xen_%s ", t->en->name);
    case T_REF: {
        if (strcmp(cls_name(t->cls), "session") == 0)
            return strdup("xen_session *");
        char *l = lower(cls_name(t->cls));
        char *r = rec ? fmt("struct xen_%s_record_opt *", l) : fmt("xen_%s ", l);
        free(l);
        return r;
    }
    case T_SET: {
        char *s = set_typename(t->elem, rec), *r = fmt("struct %s *", s);
        free(s);
        return r;
    }
    case T_MAP: {
        char *m = map_typename(t), *r = fmt("%s *", m);
        free(m);
        return r;
    }
    case T_RECORD: {
        char *l = lower(cls_name(t->cls)), *r = fmt("struct xen_%s_record *", l);
        free(l);
        return r;
    }
    case T_OPTION:
        switch (t->elem->kind) {
        case T_INT:
            return strdup("int64_t *");
        case T_FLOAT:
            return strdup("double *");
        case T_BOOL:
            return strdup("bool *");
        case T_DATETIME:
            return strdup("time_t *");
        case T_ENUM:
            return fmt("enum xen_%s *", t->elem->en->name);
        default:
            return c_type(t->elem, rec);
        }
    default:
        die("no C type for", t->text);
        return NULL;
    }
}

/* True if the SDK can express t (the event batch and "<class> record" are
 * written by hand or left out, as upstream does; data_source has no class). */
static bool expressible(const struct type *t)
{
    switch (t->kind) {
    case T_VOID:
    case T_OTHER:
        return t->kind == T_VOID;
    case T_RECORD:
    case T_REF:
        return t->cls >= 0 && strcmp(cls_name(t->cls), "data_source") != 0;
    case T_SET:
        return expressible(t->elem);
    case T_MAP:
        return expressible(t->key) && expressible(t->elem);
    case T_OPTION:
        return expressible(t->elem);
    default:
        return true;
    }
}

/* The canonical text of a type, as the model writes it; yours to free. */
static char *type_text(const struct type *t)
{
    char *a, *b, *r;
    switch (t->kind) {
    case T_ENUM:
        return fmt("enum %s", t->en->name);
    case T_REF:
        return fmt("%s ref", cls_name(t->cls));
    case T_RECORD:
        return fmt("%s record", cls_name(t->cls));
    case T_SET:
    case T_OPTION:
        a = type_text(t->elem);
        r = fmt("%s %s", a, t->kind == T_SET ? "set" : "option");
        free(a);
        return r;
    case T_MAP:
        a = type_text(t->key);
        b = type_text(t->elem);
        r = fmt("(%s -> %s) map", a, b);
        free(a);
        free(b);
        return r;
    default:
        return name_of(t);
    }
}

/* ---- headers a type needs ---- */

struct names {
    char **v;
    int n;
};

static bool names_has(const struct names *s, const char *x)
{
    for (int i = 0; i < s->n; i++)
        if (strcmp(s->v[i], x) == 0)
            return true;
    return false;
}

/* Adds x (taking it) unless present; returns true if it was new. */
static bool names_add(struct names *s, char *x)
{
    if (names_has(s, x)) {
        free(x);
        return false;
    }
    s->v = realloc(s->v, (size_t)(s->n + 1) * sizeof(char *));
    s->v[s->n++] = x;
    return true;
}

static int cmp_names(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static struct names all_maps_text; /* map type texts, for the map headers */
static struct names all_headers;   /* for xen_all.h */

static void need_headers(struct names *h, const struct type *t)
{
    switch (t->kind) {
    case T_ENUM:
        names_add(h, strdup(t->en->name));
        break;
    case T_REF:
    case T_RECORD:
        if (strcmp(cls_name(t->cls), "session") != 0) {
            char *l = lower(cls_name(t->cls));
            names_add(h, fmt("%s_decl", l));
            free(l);
        }
        break;
    case T_SET:
        if (t->elem->kind == T_STRING)
            names_add(h, strdup("string_set"));
        else if (t->elem->kind == T_INT)
            names_add(h, strdup("int_set"));
        else if (t->elem->kind == T_SET)
            names_add(h, strdup("string_set_set"));
        else
            need_headers(h, t->elem);
        break;
    case T_MAP: {
        char *m = map_typename(t);
        names_add(h, strdup(m + 4));
        free(m);
        names_add(&all_maps_text, type_text(t));
        break;
    }
    case T_OPTION:
        need_headers(h, t->elem);
        break;
    default:
        break;
    }
}

static void write_includes(FILE *f, struct names *h, const char *self)
{
    if (h->n > 0)
        qsort(h->v, (size_t)h->n, sizeof(char *), cmp_names);
    fprintf(f, "#include <xen/api/xen_common.h>\n");
    for (int i = 0; i < h->n; i++)
        if (!self || strcmp(h->v[i], self) != 0)
            fprintf(f, "#include <xen/api/xen_%s.h>\n", h->v[i]);
    fprintf(f, "\n");
}

/* ---- type descriptors ---- */

struct desc {
    char *ident;
    const struct type *t;
    bool rec;
    bool is_record_of; /* the record struct of class cls */
    int cls;
};
static struct desc *descs;
static int n_descs;

static const char *desc_of(const struct type *t, bool rec);

static const char *desc_add(char *ident, const struct type *t, bool rec, int record_cls)
{
    for (int i = 0; i < n_descs; i++)
        if (strcmp(descs[i].ident, ident) == 0) {
            free(ident);
            return descs[i].ident;
        }
    descs = realloc(descs, (size_t)(n_descs + 1) * sizeof(*descs));
    descs[n_descs] = (struct desc){ident, t, rec, record_cls >= 0, record_cls};
    return descs[n_descs++].ident;
}

static const char *record_desc(int cls)
{
    char *l = lower(cls_name(cls));
    const char *r = desc_add(fmt("xen_type_%s_record_", l), NULL, true, cls);
    free(l);
    return r;
}

/* The descriptor of t (registering it and what it refers to). */
static const char *desc_of(const struct type *t, bool rec)
{
    switch (t->kind) {
    case T_STRING:
        return "xen_type_string_";
    case T_INT:
        return "xen_type_int_";
    case T_FLOAT:
        return "xen_type_float_";
    case T_BOOL:
        return "xen_type_bool_";
    case T_DATETIME:
        return "xen_type_datetime_";
    case T_REF:
        if (strcmp(cls_name(t->cls), "session") == 0)
            return "xen_type_session_";
        if (!rec)
            return "xen_type_ref_";
        record_desc(t->cls);
        {
            char *l = lower(cls_name(t->cls));
            const char *r = desc_add(fmt("xen_type_%s_record_opt_", l), t, true, -1);
            free(l);
            return r;
        }
    case T_ENUM:
        return desc_add(fmt("xen_type_%s_", t->en->name), t, false, -1);
    case T_SET: {
        if (t->elem->kind == T_INT)
            desc_add(strdup("xen_type_int32_"), NULL, false, -1);
        else
            desc_of(t->elem, rec);
        char *s = set_typename(t->elem, rec);
        const char *r = desc_add(fmt("xen_type_%s_", s), t, rec, -1);
        free(s);
        return r;
    }
    case T_MAP: {
        desc_of(t->key, false);
        desc_of(t->elem, true);
        char *m = map_typename(t);
        const char *r = desc_add(fmt("xen_type_%s_", m), t, true, -1);
        free(m);
        return r;
    }
    case T_RECORD:
        return record_desc(t->cls);
    case T_OPTION:
        switch (t->elem->kind) {
        case T_INT:
        case T_FLOAT:
        case T_BOOL:
        case T_DATETIME:
        case T_ENUM: {
            const char *inner = desc_of(t->elem, rec);
            return desc_add(fmt("xen_type_box_%s", inner + 9), t, rec, -1);
        }
        default:
            return desc_of(t->elem, rec);
        }
    default:
        die("no descriptor for", t->text);
        return NULL;
    }
}

/* ---- the classes ---- */

/* Classes the SDK has: all but session (written by hand in xen_common.c)
 * and data_source (left out, with the messages that return it). */
static bool sdk_class(int cls)
{
    const char *n = cls_name(cls);
    return strcmp(n, "session") != 0 && strcmp(n, "data_source") != 0;
}

static bool is_event(int cls)
{
    return strcmp(cls_name(cls), "event") == 0;
}

/* Fields of a class that go into its record. */
static bool sdk_field(const struct field_desc *f)
{
    return expressible(f->type);
}

struct param {
    const char *type_text;
    const struct type *type;
    const char *name;
};

struct message {
    char *name; /* as on the wire, after "<class>." */
    const struct type *result;
    struct param *params; /* without the session */
    int n_params;
    bool async;
    bool takes_session;
};

/* The generator's own reading of a type text. The model's parser interns
 * a bounded number of types, and the SDK needs more of them (every class's
 * "<class> ref set", every enum's set), so the generator keeps its own. */
static struct tcache {
    char *text;
    struct type *t;
} * tcache;
static int n_tcache;

static const struct type *ptype(const char *text);

static const struct type *parse_t(const char **p);

static void skip_sp(const char **p)
{
    while (**p == ' ')
        (*p)++;
}

static char *word_at(const char **p)
{
    skip_sp(p);
    const char *s = *p;
    while (**p && **p != ' ' && **p != '(' && **p != ')' && !(**p == '-' && (*p)[1] == '>'))
        (*p)++;
    return strndup(s, (size_t)(*p - s));
}

static struct type *tnew(enum type_kind k)
{
    struct type *t = calloc(1, sizeof(*t));
    t->kind = k;
    t->cls = -1;
    return t;
}

static const struct type *parse_primary_t(const char **p)
{
    const char *start = *p;
    struct type *t;
    skip_sp(p);
    if (**p == '(') {
        (*p)++;
        const struct type *k = parse_t(p);
        skip_sp(p);
        if (strncmp(*p, "->", 2) != 0)
            die("bad map type", start);
        *p += 2;
        const struct type *v = parse_t(p);
        skip_sp(p);
        if (**p != ')')
            die("bad map type", start);
        (*p)++;
        free(word_at(p)); /* "map" */
        t = tnew(T_MAP);
        t->key = k;
        t->elem = v;
        return t;
    }
    char *w = word_at(p);
    static const struct {
        const char *name;
        enum type_kind kind;
    } basic[] = {{"string", T_STRING}, {"int", T_INT},           {"float", T_FLOAT},
                 {"bool", T_BOOL},     {"datetime", T_DATETIME}, {"void", T_VOID}};
    for (size_t i = 0; i < sizeof(basic) / sizeof(basic[0]); i++)
        if (strcmp(w, basic[i].name) == 0) {
            free(w);
            return tnew(basic[i].kind);
        }
    if (strcmp(w, "enum") == 0) {
        char *n = word_at(p);
        t = tnew(T_ENUM);
        t->en = model_enum_by_name(n);
        if (!t->en)
            die("unknown enum", n);
        free(n);
        free(w);
        return t;
    }
    if (strcmp(w, "an") == 0) {
        free(w);
        free(word_at(p));
        free(word_at(p));
        return tnew(T_OTHER);
    }
    const char *save = *p;
    char *k = word_at(p);
    if (strcmp(k, "ref") == 0 || strcmp(k, "record") == 0) {
        t = tnew(strcmp(k, "ref") == 0 ? T_REF : T_RECORD);
        t->cls = model_class_by_name(w, false);
        free(k);
        free(w);
        return t;
    }
    *p = save;
    die("unknown type", start);
    return NULL;
}

static const struct type *parse_t(const char **p)
{
    const struct type *t = parse_primary_t(p);
    for (;;) {
        const char *save = *p;
        char *w = word_at(p);
        if (strcmp(w, "set") == 0 || strcmp(w, "option") == 0) {
            struct type *o = tnew(strcmp(w, "set") == 0 ? T_SET : T_OPTION);
            o->elem = t;
            t = o;
            free(w);
            continue;
        }
        free(w);
        *p = save;
        return t;
    }
}

static const struct type *ptype(const char *text)
{
    for (int i = 0; i < n_tcache; i++)
        if (strcmp(tcache[i].text, text) == 0)
            return tcache[i].t;
    const char *p = text;
    struct type *t = (struct type *)parse_t(&p);
    skip_sp(&p);
    if (*p)
        die("bad type", text);
    t->text = strdup(text);
    tcache = realloc(tcache, (size_t)(n_tcache + 1) * sizeof(*tcache));
    tcache[n_tcache++] = (struct tcache){strdup(text), t};
    return t;
}

static void msg_add(struct message **v, int *n, const char *name, const char *result, bool async,
                    int n_params, ...)
{
    struct message m = {
        strdup(name), ptype(result), calloc((size_t)n_params + 1, sizeof(struct param)),
        n_params,     async,         true};
    va_list ap;
    va_start(ap, n_params);
    for (int i = 0; i < n_params; i++) {
        m.params[i].type_text = va_arg(ap, const char *);
        m.params[i].type = ptype(m.params[i].type_text);
        m.params[i].name = va_arg(ap, const char *);
    }
    va_end(ap);
    for (int i = 0; i < *n; i++)
        if (strcmp((*v)[i].name, name) == 0) {
            free((*v)[i].name);
            free((*v)[i].params);
            (*v)[i] = m;
            return;
        }
    *v = realloc(*v, (size_t)(*n + 1) * sizeof(**v));
    (*v)[(*n)++] = m;
}

/* The messages of a class: the generic ones the server derives from the
 * model (xapi-c/generic.c), then the declared ones, which win by name.
 * Left out as in XenServer's SDK: the hidden get_all_records_where and
 * get_all_where, get_data_sources, and event.from (xen_event_batch.h). */
static struct message *class_messages(int cls, int *ret_n)
{
    const struct class_desc *c = &model_classes[cls];
    struct message *v = NULL;
    int n = 0;
    char *ref_t = fmt("%s ref", c->name), *rec_t = fmt("%s record", c->name),
         *refs_t = fmt("%s ref set", c->name),
         *map_t = fmt("(%s ref -> %s record) map", c->name, c->name);

    if ((c->flags & CF_DB) && !(c->flags & CF_CUSTOM_ACCESS)) {
        msg_add(&v, &n, "get_record", rec_t, false, 1, ref_t, "self");
        if (c->flags & CF_BY_UUID)
            msg_add(&v, &n, "get_by_uuid", ref_t, false, 1, "string", "uuid");
        if (c->flags & CF_BY_NAME)
            msg_add(&v, &n, "get_by_name_label", refs_t, false, 1, "string", "label");
        if (c->flags & CF_CTOR) {
            msg_add(&v, &n, "create", ref_t, true, 1, rec_t, "record");
            msg_add(&v, &n, "destroy", "void", true, 1, ref_t, "self");
        }
        if (c->flags & CF_GET_ALL) {
            msg_add(&v, &n, "get_all", refs_t, false, 0);
            msg_add(&v, &n, "get_all_records", map_t, false, 0);
        }
        for (int i = 0; i < c->n_fields; i++) {
            const struct field_desc *f = &c->fields[i];
            if (!sdk_field(f))
                continue;
            char *g = fmt("get_%s", f->name);
            msg_add(&v, &n, g, f->type_text, false, 1, ref_t, "self");
            free(g);
            if (f->qual != Q_RW || (f->flags & FF_COMPUTED) || f->state == S_REMOVED)
                continue;
            char *s = fmt("set_%s", f->name);
            msg_add(&v, &n, s, "void", false, 2, ref_t, "self", f->type_text, "value");
            free(s);
            if (f->type->kind == T_MAP) {
                char *a = fmt("add_to_%s", f->name), *r = fmt("remove_from_%s", f->name);
                msg_add(&v, &n, a, "void", false, 3, ref_t, "self", f->type->key->text, "key",
                        f->type->elem->text, "value");
                msg_add(&v, &n, r, "void", false, 2, ref_t, "self", f->type->key->text, "key");
                free(a);
                free(r);
            } else if (f->type->kind == T_SET) {
                char *a = fmt("add_%s", f->name), *r = fmt("remove_%s", f->name);
                msg_add(&v, &n, a, "void", false, 2, ref_t, "self", f->type->elem->text, "value");
                msg_add(&v, &n, r, "void", false, 2, ref_t, "self", f->type->elem->text, "value");
                free(a);
                free(r);
            }
        }
    }
    for (int i = 0; i < M__COUNT; i++) {
        const struct msg_desc *md = &model_msgs[i];
        if (md->cls != cls)
            continue;
        if (strcmp(md->name, "get_all_records_where") == 0 ||
            strcmp(md->name, "get_all_where") == 0 || strcmp(md->name, "get_data_sources") == 0 ||
            (is_event(cls) && strcmp(md->name, "from") == 0))
            continue;
        bool ok = expressible(md->result);
        for (int p = 0; p < md->n_params; p++)
            ok = ok && expressible(md->params[p].type);
        if (!ok)
            continue; /* it names a class the model no longer has (VMPP) */
        struct message m = {strdup(md->name),
                            md->result,
                            calloc((size_t)md->n_params + 1, sizeof(struct param)),
                            0,
                            md->flags & MF_ASYNC,
                            md->takes_session};
        for (int p = md->takes_session ? 1 : 0; p < md->n_params; p++)
            m.params[m.n_params++] =
                (struct param){md->params[p].type_text, md->params[p].type, md->params[p].name};
        int j;
        for (j = 0; j < n; j++)
            if (strcmp(v[j].name, m.name) == 0)
                break;
        if (j < n) {
            free(v[j].name);
            free(v[j].params);
            v[j] = m;
        } else {
            v = realloc(v, (size_t)(n + 1) * sizeof(*v));
            v[n++] = m;
        }
    }
    free(ref_t);
    free(rec_t);
    free(refs_t);
    free(map_t);
    *ret_n = n;
    return v;
}

static void messages_free(struct message *v, int n)
{
    for (int i = 0; i < n; i++) {
        free(v[i].name);
        free(v[i].params);
    }
    free(v);
}

static void write_prototype(FILE *f, const char *lc, const struct message *m, bool async, bool decl)
{
    char *mn = lower(m->name);
    fprintf(f, "%sbool\nxen_%s_%s%s(xen_session *session", decl ? "extern " : "", lc, mn,
            async ? "_async" : "");
    if (async)
        fprintf(f, ", xen_task *result");
    else if (m->result->kind != T_VOID) {
        char *ct = c_type(m->result, false);
        fprintf(f, ", %s*result", ct);
        free(ct);
    }
    for (int i = 0; i < m->n_params; i++) {
        char *ct = c_type(m->params[i].type, false), *pn = c_name(m->params[i].name);
        fprintf(f, ", %s%s", ct, pn);
        free(ct);
        free(pn);
    }
    fprintf(f, ")%s\n", decl ? ";\n" : "");
    free(mn);
}

static bool pointer_result(const struct type *t)
{
    switch (t->kind) {
    case T_STRING:
    case T_REF:
    case T_SET:
    case T_MAP:
    case T_RECORD:
    case T_OPTION:
        return true;
    default:
        return false;
    }
}

static void write_body(FILE *f, int cls, const struct message *m, bool async)
{
    const char *wire_cls = cls_name(cls);
    fprintf(f, "{\n");
    if (m->n_params > 0) {
        fprintf(f, "    const struct xen_arg_ xen_args_[] = {\n");
        for (int i = 0; i < m->n_params; i++) {
            char *pn = c_name(m->params[i].name);
            fprintf(f, "        {&%s, &%s},\n", desc_of(m->params[i].type, false), pn);
            free(pn);
        }
        fprintf(f, "    };\n");
    }
    const char *call = m->takes_session ? "xen_call_" : "xen_call_raw_";
    const char *args = m->n_params > 0 ? "xen_args_" : "NULL";
    if (async) {
        fprintf(f, "    *result = NULL;\n");
        fprintf(f, "    %s(session, \"Async.%s.%s\", %s, %d, &xen_type_ref_, result);\n", call,
                wire_cls, m->name, args, m->n_params);
    } else if (m->result->kind == T_VOID) {
        fprintf(f, "    %s(session, \"%s.%s\", %s, %d, NULL, NULL);\n", call, wire_cls, m->name,
                args, m->n_params);
    } else {
        if (pointer_result(m->result))
            fprintf(f, "    *result = NULL;\n");
        fprintf(f, "    %s(session, \"%s.%s\", %s, %d, &%s, result);\n", call, wire_cls, m->name,
                args, m->n_params, desc_of(m->result, false));
        /* A record fetched by its ref gets that ref as its handle. */
        if (m->result->kind == T_RECORD && m->result->cls == cls && !is_event(cls) &&
            m->n_params > 0 && m->params[0].type->kind == T_REF && m->params[0].type->cls == cls) {
            char *pn = c_name(m->params[0].name);
            fprintf(f,
                    "    if (session->ok && *result)\n        (*result)->handle = "
                    "xen_strdup_(%s);\n",
                    pn);
            free(pn);
        }
    }
    fprintf(f, "    return session->ok;\n}\n\n");
}

static void gen_class(int cls, FILE *src)
{
    const struct class_desc *c = &model_classes[cls];
    char *lc = lower(c->name), *uc = upper_ident(c->name);
    bool ev = is_event(cls);
    int n_msgs;
    struct message *msgs = class_messages(cls, &n_msgs);
    char *path;
    FILE *f;

    /* xen_<class>_decl.h */
    path = fmt("include/xen/api/xen_%s_decl.h", lc);
    f = open_out(path);
    free(path);
    fprintf(f,
            "/* Generated by sdkgen from the data model: the handle and record types of %s. */\n",
            c->name);
    fprintf(f, "#ifndef XEN_%s_DECL_H\n#define XEN_%s_DECL_H\n\n", uc, uc);
    if (!ev)
        fprintf(f, "typedef void *xen_%s;\n\nstruct xen_%s_set;\n", lc, lc);
    fprintf(f, "struct xen_%s_record;\nstruct xen_%s_record_set;\n", lc, lc);
    if (!ev)
        fprintf(f, "struct xen_%s_record_opt;\nstruct xen_%s_record_opt_set;\n", lc, lc);
    fprintf(f, "\n#endif\n");
    close_out(f);

    /* xen_<class>.h */
    struct names h = {0};
    names_add(&h, fmt("%s_decl", lc));
    for (int i = 0; i < c->n_fields; i++)
        if (sdk_field(&c->fields[i]))
            need_headers(&h, c->fields[i].type);
    for (int i = 0; i < n_msgs; i++) {
        need_headers(&h, msgs[i].result);
        for (int p = 0; p < msgs[i].n_params; p++)
            need_headers(&h, msgs[i].params[p].type);
    }
    path = fmt("include/xen/api/xen_%s.h", lc);
    f = open_out(path);
    free(path);
    if (!names_add(&all_headers, strdup(lc)))
        die("two headers with one name", lc);
    fprintf(f,
            "/* Generated by sdkgen from the data model: the %s class of the XenAPI.\n"
            " * Every call returns session->ok; on failure the session holds the error.\n"
            " * What a call returns through result is the caller's, to free with the\n"
            " * matching _free function. Calls block for one round trip. */\n",
            c->name);
    fprintf(f, "#ifndef XEN_%s_H\n#define XEN_%s_H\n\n", uc, uc);
    write_includes(f, &h, NULL);
    if (!ev) {
        fprintf(f,
                "/* Frees a handle; NULL is allowed. */\nextern void xen_%s_free(xen_%s %s);\n\n",
                lc, lc, lc);
        fprintf(f,
                "typedef struct xen_%s_set {\n    size_t size;\n    xen_%s *contents[];\n} "
                "xen_%s_set;\n\n",
                lc, lc, lc);
        fprintf(f,
                "extern xen_%s_set *xen_%s_set_alloc(size_t size);\nextern void "
                "xen_%s_set_free(xen_%s_set *set);\n\n",
                lc, lc, lc, lc);
    }
    fprintf(f, "typedef struct xen_%s_record {\n", lc);
    if (!ev)
        fprintf(f, "    xen_%s handle;\n", lc);
    for (int i = 0; i < c->n_fields; i++) {
        const struct field_desc *fd = &c->fields[i];
        if (!sdk_field(fd))
            continue;
        char *ct = c_type(fd->type, true), *fn = c_name(fd->name);
        fprintf(f, "    %s%s;\n", ct, fn);
        free(ct);
        free(fn);
    }
    fprintf(f, "} xen_%s_record;\n\n", lc);
    fprintf(
        f,
        "/* A zeroed record, yours to free. */\nextern xen_%s_record *xen_%s_record_alloc(void);\n",
        lc, lc);
    fprintf(f,
            "/* Frees the record and all it points to; NULL is allowed. */\nextern void "
            "xen_%s_record_free(xen_%s_record *record);\n\n",
            lc, lc);
    if (!ev) {
        fprintf(
            f,
            "typedef struct xen_%s_record_opt {\n    bool is_record;\n    union {\n        xen_%s "
            "handle;\n        xen_%s_record *record;\n    } u;\n} xen_%s_record_opt;\n\n",
            lc, lc, lc, lc);
        fprintf(f,
                "extern xen_%s_record_opt *xen_%s_record_opt_alloc(void);\nextern void "
                "xen_%s_record_opt_free(xen_%s_record_opt *record_opt);\n\n",
                lc, lc, lc, lc);
    }
    fprintf(f,
            "typedef struct xen_%s_record_set {\n    size_t size;\n    xen_%s_record "
            "*contents[];\n} xen_%s_record_set;\n\n",
            lc, lc, lc);
    fprintf(f,
            "extern xen_%s_record_set *xen_%s_record_set_alloc(size_t size);\nextern void "
            "xen_%s_record_set_free(xen_%s_record_set *set);\n\n",
            lc, lc, lc, lc);
    if (!ev) {
        fprintf(f,
                "typedef struct xen_%s_record_opt_set {\n    size_t size;\n    xen_%s_record_opt "
                "*contents[];\n} xen_%s_record_opt_set;\n\n",
                lc, lc, lc);
        fprintf(f,
                "extern xen_%s_record_opt_set *xen_%s_record_opt_set_alloc(size_t size);\nextern "
                "void xen_%s_record_opt_set_free(xen_%s_record_opt_set *set);\n\n",
                lc, lc, lc, lc);
    }
    for (int i = 0; i < n_msgs; i++) {
        fprintf(f, "/* %s.%s */\n", c->name, msgs[i].name);
        write_prototype(f, lc, &msgs[i], false, true);
        if (msgs[i].async)
            write_prototype(f, lc, &msgs[i], true, true);
    }
    fprintf(f, "#endif\n");
    close_out(f);
    for (int i = 0; i < h.n; i++)
        free(h.v[i]);
    free(h.v);

    /* The functions, into this class's shard. */
    fprintf(src, "/* ---- %s ---- */\n\n", c->name);
    const char *rd = record_desc(cls);
    if (!ev) {
        fprintf(src, "void xen_%s_free(xen_%s %s)\n{\n    free(%s);\n}\n\n", lc, lc, lc, lc);
        char *refs = fmt("%s ref set", c->name);
        const char *sd = desc_of(ptype(refs), false);
        free(refs);
        fprintf(src,
                "xen_%s_set *xen_%s_set_alloc(size_t size)\n{\n    return "
                "xen_container_alloc_(&%s, size);\n}\n\n",
                lc, lc, sd);
        fprintf(src,
                "void xen_%s_set_free(xen_%s_set *set)\n{\n    xen_ptr_free_(&%s, set);\n}\n\n", lc,
                lc, sd);
        char *ref = fmt("%s ref", c->name);
        const char *od = desc_of(ptype(ref), true);
        free(ref);
        fprintf(src,
                "xen_%s_record_opt *xen_%s_record_opt_alloc(void)\n{\n    return calloc(1, "
                "sizeof(xen_%s_record_opt));\n}\n\n",
                lc, lc, lc);
        fprintf(src,
                "void xen_%s_record_opt_free(xen_%s_record_opt *opt)\n{\n    xen_ptr_free_(&%s, "
                "opt);\n}\n\n",
                lc, lc, od);
        char *refs2 = fmt("%s ref set", c->name);
        const char *osd = desc_of(ptype(refs2), true);
        free(refs2);
        fprintf(src,
                "xen_%s_record_opt_set *xen_%s_record_opt_set_alloc(size_t size)\n{\n    return "
                "xen_container_alloc_(&%s, size);\n}\n\n",
                lc, lc, osd);
        fprintf(src,
                "void xen_%s_record_opt_set_free(xen_%s_record_opt_set *set)\n{\n    "
                "xen_ptr_free_(&%s, set);\n}\n\n",
                lc, lc, osd);
    }
    fprintf(src,
            "xen_%s_record *xen_%s_record_alloc(void)\n{\n    return calloc(1, "
            "sizeof(xen_%s_record));\n}\n\n",
            lc, lc, lc);
    fprintf(
        src,
        "void xen_%s_record_free(xen_%s_record *record)\n{\n    xen_ptr_free_(&%s, record);\n}\n\n",
        lc, lc, rd);
    char *recs = fmt("%s record set", c->name);
    const char *rsd = desc_of(ptype(recs), false);
    free(recs);
    fprintf(src,
            "xen_%s_record_set *xen_%s_record_set_alloc(size_t size)\n{\n    return "
            "xen_container_alloc_(&%s, size);\n}\n\n",
            lc, lc, rsd);
    fprintf(src,
            "void xen_%s_record_set_free(xen_%s_record_set *set)\n{\n    xen_ptr_free_(&%s, "
            "set);\n}\n\n",
            lc, lc, rsd);
    for (int i = 0; i < c->n_fields; i++)
        if (sdk_field(&c->fields[i]))
            desc_of(c->fields[i].type, true);
    for (int i = 0; i < n_msgs; i++) {
        write_prototype(src, lc, &msgs[i], false, false);
        write_body(src, cls, &msgs[i], false);
        if (msgs[i].async) {
            write_prototype(src, lc, &msgs[i], true, false);
            write_body(src, cls, &msgs[i], true);
        }
    }
    messages_free(msgs, n_msgs);
    free(lc);
    free(uc);
}

/* ---- the accessor check of the tests (sdk/tests/sdk-check.c) ---- */

/* For a class, a function that calls every generated getter on one object
 * and compares each answer with the field of its record (through
 * check_same(), which compares the values as they go on the wire), and
 * calls every setter of an RW field: strings are changed and read back,
 * maps and sets get a member added and removed, other types are set to
 * the value they have. */
static void gen_check(int cls, FILE *f)
{
    const struct class_desc *c = &model_classes[cls];
    char *lc = lower(c->name);
    fprintf(f,
            "int check_accessors_%s(xen_session *s, xen_%s self, const xen_%s_record *rec)\n{\n    "
            "int failed = 0;\n",
            lc, lc, lc);
    for (int i = 0; i < c->n_fields; i++) {
        const struct field_desc *fd = &c->fields[i];
        if (!sdk_field(fd))
            continue;
        char *fn = c_name(fd->name), *mn = lower(fd->name);
        char *ct = c_type(fd->type, false);
        bool ptr = pointer_result(fd->type);
        fprintf(f, "    {\n        %sv%s;\n", ct, ptr ? " = NULL" : "");
        if (!ptr)
            fprintf(f, "        memset(&v, 0, sizeof(v));\n");
        if (fd->state == S_REMOVED) /* the server answers MESSAGE_REMOVED */
            fprintf(
                f,
                "        failed += check_removed(s, \"%s.get_%s\", xen_%s_get_%s(s, &v, self));\n",
                c->name, fd->name, lc, mn);
        else
            fprintf(f,
                    "        if (!xen_%s_get_%s(s, &v, self))\n            failed += "
                    "check_failed(s, \"%s.get_%s\");\n        else\n",
                    lc, mn, c->name, fd->name);
        if (fd->state != S_REMOVED)
            fprintf(f, "            failed += check_same(\"%s.%s\", &%s, &v, &%s, &rec->%s);\n",
                    c->name, fd->name, desc_of(fd->type, false), desc_of(fd->type, true), fn);
        if (ptr)
            fprintf(f, "        xen_value_free_(&%s, &v);\n", desc_of(fd->type, false));
        fprintf(f, "    }\n");
        if (fd->qual == Q_RW && !(fd->flags & FF_COMPUTED) && fd->state != S_REMOVED) {
            const char *pd = desc_of(fd->type, false);
            if (fd->type->kind == T_STRING) {
                fprintf(f,
                        "    failed += check_set_string(s, \"%s.%s\", (check_set_fn)xen_%s_set_%s, "
                        "(check_get_fn)xen_%s_get_%s, self, rec->%s);\n",
                        c->name, fd->name, lc, mn, lc, mn, fn);
            } else if (fd->type->kind == T_MAP && fd->type->key->kind == T_STRING &&
                       fd->type->elem->kind == T_STRING) {
                fprintf(
                    f,
                    "    failed += check_map(s, \"%s.%s\", (check_add_fn)xen_%s_add_to_%s, "
                    "(check_remove_fn)xen_%s_remove_from_%s, (check_get_fn)xen_%s_get_%s, self);\n",
                    c->name, fd->name, lc, mn, lc, mn, lc, mn);
            } else if (fd->type->kind == T_SET && fd->type->elem->kind == T_STRING) {
                fprintf(f,
                        "    failed += check_set(s, \"%s.%s\", (check_remove_fn)xen_%s_add_%s, "
                        "(check_remove_fn)xen_%s_remove_%s, (check_get_fn)xen_%s_get_%s, self);\n",
                        c->name, fd->name, lc, mn, lc, mn, lc, mn);
            } else {
                /* The setter takes the value as the getter gives it. */
                fprintf(f, "    {\n        %sv%s;\n", ct, ptr ? " = NULL" : "");
                if (!ptr)
                    fprintf(f, "        memset(&v, 0, sizeof(v));\n");
                fprintf(f,
                        "        if (!xen_%s_get_%s(s, &v, self))\n            failed += "
                        "check_failed(s, \"%s.get_%s\");\n",
                        lc, mn, c->name, fd->name);
                fprintf(f,
                        "        else if (!xen_%s_set_%s(s, self, v))\n            failed += "
                        "check_setter_failed(s, \"%s.set_%s\");\n        else\n            "
                        "check_passed(\"%s.set_%s\");\n",
                        lc, mn, c->name, fd->name, c->name, fd->name);
                if (ptr)
                    fprintf(f, "        xen_value_free_(&%s, &v);\n", pd);
                fprintf(f, "    }\n");
            }
        }
        free(fn);
        free(mn);
        free(ct);
    }
    fprintf(f, "    return failed;\n}\n\n");
    free(lc);
}

/* ---- enums, maps, errors, descriptors ---- */

static void gen_enum(const struct enum_desc *e, FILE *src)
{
    char *uc = upper_ident(e->name);
    char *path = fmt("include/xen/api/xen_%s.h", e->name);
    FILE *f = open_out(path);
    free(path);
    if (!names_add(&all_headers, strdup(e->name)))
        die("two headers with one name", e->name);
    fprintf(f, "/* Generated by sdkgen from the data model: enum %s. */\n", e->name);
    fprintf(f, "#ifndef XEN_%s_H\n#define XEN_%s_H\n\n#include <xen/api/xen_common.h>\n\n", uc, uc);
    fprintf(f, "enum xen_%s {\n", e->name);
    for (size_t i = 0; i < e->n_values; i++) {
        char *v = upper_ident(e->values[i]);
        fprintf(f, "    XEN_%s_%s,\n", uc, v);
        free(v);
    }
    fprintf(f, "    /* A value unknown to this SDK version. */\n    XEN_%s_UNDEFINED\n};\n\n", uc);
    fprintf(f,
            "typedef struct xen_%s_set {\n    size_t size;\n    enum xen_%s contents[];\n} "
            "xen_%s_set;\n\n",
            e->name, e->name, e->name);
    fprintf(f,
            "extern xen_%s_set *xen_%s_set_alloc(size_t size);\nextern void "
            "xen_%s_set_free(xen_%s_set *set);\n\n",
            e->name, e->name, e->name, e->name);
    fprintf(f,
            "/* The wire name of val (\"undefined\" for UNDEFINED); static. */\nextern const char "
            "*xen_%s_to_string(enum xen_%s val);\n",
            e->name, e->name);
    fprintf(f,
            "/* The value named str, or XEN_%s_UNDEFINED. */\nextern enum xen_%s "
            "xen_%s_from_string(xen_session *session, const char *str);\n\n#endif\n",
            uc, e->name, e->name);
    close_out(f);

    char *set_text = fmt("enum %s set", e->name);
    const char *sd = desc_of(ptype(set_text), false);
    free(set_text);
    fprintf(src, "/* ---- enum %s ---- */\n\nstatic const char *const %s_names[] = {\n", e->name,
            e->name);
    for (size_t i = 0; i < e->n_values; i++)
        fprintf(src, "    \"%s\",\n", e->values[i]);
    fprintf(src, "    \"undefined\",\n};\n\n");
    fprintf(src,
            "xen_%s_set *xen_%s_set_alloc(size_t size)\n{\n    return xen_container_alloc_(&%s, "
            "size);\n}\n\n",
            e->name, e->name, sd);
    fprintf(src, "void xen_%s_set_free(xen_%s_set *set)\n{\n    xen_ptr_free_(&%s, set);\n}\n\n",
            e->name, e->name, sd);
    fprintf(src,
            "const char *xen_%s_to_string(enum xen_%s val)\n{\n    return (unsigned)val < %zu ? "
            "%s_names[val] : \"undefined\";\n}\n\n",
            e->name, e->name, e->n_values, e->name);
    fprintf(src,
            "enum xen_%s xen_%s_from_string(xen_session *session, const char *str)\n{\n    "
            "(void)session;\n    return (enum xen_%s)xen_enum_lookup_(str, %s_names, %zu);\n}\n\n",
            e->name, e->name, e->name, e->name, e->n_values);
    free(uc);
}

static void gen_map(const char *text, FILE *src)
{
    const struct type *t = ptype(text);
    char *m = map_typename(t), *um = upper_ident(m);
    char *path = fmt("include/xen/api/%s.h", m);
    FILE *f = open_out(path);
    free(path);
    if (!names_add(&all_headers, strdup(m + 4)))
        die("two headers with one name", m);
    struct names h = {0};
    need_headers(&h, t->key);
    need_headers(&h, t->elem);
    fprintf(f, "/* Generated by sdkgen from the data model: the map %s. */\n", text);
    fprintf(f, "#ifndef %s_H\n#define %s_H\n\n", um, um);
    write_includes(f, &h, m + 4);
    char *kt = c_type(t->key, false), *vt = c_type(t->elem, true);
    fprintf(f, "typedef struct %s_contents {\n    %skey;\n    %sval;\n} %s_contents;\n\n", m, kt,
            vt, m);
    fprintf(f, "typedef struct %s {\n    size_t size;\n    %s_contents contents[];\n} %s;\n\n", m,
            m, m);
    fprintf(f,
            "/* A map of size zeroed entries, yours to fill and free. */\nextern %s "
            "*%s_alloc(size_t size);\n",
            m, m);
    fprintf(f,
            "/* Frees the map and its keys and values; NULL is allowed. */\nextern void %s_free(%s "
            "*map);\n\n#endif\n",
            m, m);
    close_out(f);
    const char *d = desc_of(t, true);
    fprintf(src, "%s *%s_alloc(size_t size)\n{\n    return xen_container_alloc_(&%s, size);\n}\n\n",
            m, m, d);
    fprintf(src, "void %s_free(%s *map)\n{\n    xen_ptr_free_(&%s, map);\n}\n\n", m, m, d);
    for (int i = 0; i < h.n; i++)
        free(h.v[i]);
    free(h.v);
    free(kt);
    free(vt);
    free(m);
    free(um);
}

static void gen_failures(FILE *src)
{
    FILE *f = open_out("include/xen/api/xen_api_failure.h");
    fprintf(f, "/* Generated by sdkgen from the data model: the XenAPI's error codes. */\n");
    fprintf(f, "#ifndef XEN_API_FAILURE_H\n#define XEN_API_FAILURE_H\n\nenum xen_api_failure {\n");
    for (int i = 0; i < ERR__COUNT; i++)
        fprintf(f, "    XEN_API_FAILURE_%s,\n", model_errors[i].code);
    fprintf(f,
            "    /* A code unknown to this SDK version. */\n    XEN_API_FAILURE_UNDEFINED\n};\n\n");
    fprintf(f, "/* The code's name (\"UNDEFINED\" for UNDEFINED); static. */\nextern const char "
               "*xen_api_failure_to_string(enum xen_api_failure val);\n");
    fprintf(f, "/* The code named str, or XEN_API_FAILURE_UNDEFINED. */\nextern enum "
               "xen_api_failure xen_api_failure_from_string(const char *str);\n\n#endif\n");
    close_out(f);
    fprintf(src, "static const char *const failure_names[] = {\n");
    for (int i = 0; i < ERR__COUNT; i++)
        fprintf(src, "    \"%s\",\n", model_errors[i].code);
    fprintf(src, "};\n\n");
    fprintf(src,
            "const char *xen_api_failure_to_string(enum xen_api_failure val)\n{\n    return "
            "(unsigned)val < %d ? failure_names[val] : \"UNDEFINED\";\n}\n\n",
            ERR__COUNT);
    fprintf(src,
            "enum xen_api_failure xen_api_failure_from_string(const char *str)\n{\n    return "
            "(enum xen_api_failure)xen_enum_lookup_(str, failure_names, %d);\n}\n\n",
            ERR__COUNT);
}

static void write_desc(FILE *f, const struct desc *d)
{
    if (strcmp(d->ident, "xen_type_int32_") == 0)
        return; /* defined by the codec */
    if (d->is_record_of) {
        const struct class_desc *c = &model_classes[d->cls];
        char *lc = lower(c->name);
        fprintf(f, "static const struct xen_member %s_members[] = {\n", d->ident);
        if (!is_event(d->cls))
            fprintf(f, "    {NULL, &xen_type_ref_, offsetof(xen_%s_record, handle)},\n", lc);
        for (int i = 0; i < c->n_fields; i++) {
            const struct field_desc *fd = &c->fields[i];
            if (!sdk_field(fd))
                continue;
            char *fn = c_name(fd->name);
            fprintf(f, "    {\"%s\", &%s, offsetof(xen_%s_record, %s)},\n", fd->name,
                    desc_of(fd->type, true), lc, fn);
            free(fn);
        }
        fprintf(f,
                "};\n\nconst struct xen_type %s = {\n    .kind = XEN_K_STRUCT,\n    .slot_size = "
                "sizeof(void *),\n    .struct_size = sizeof(xen_%s_record),\n    .members = "
                "%s_members,\n    .n_members = sizeof(%s_members) / sizeof(%s_members[0]),\n};\n\n",
                d->ident, lc, d->ident, d->ident, d->ident);
        free(lc);
        return;
    }
    const struct type *t = d->t;
    switch (t->kind) {
    case T_REF: {
        fprintf(f,
                "const struct xen_type %s = {\n    .kind = XEN_K_OPT,\n    .slot_size = "
                "sizeof(void *),\n    .elem = &%s,\n};\n\n",
                d->ident, record_desc(t->cls));
        break;
    }
    case T_ENUM:
        fprintf(f,
                "const struct xen_type %s = {\n    .kind = XEN_K_ENUM,\n    .slot_size = "
                "sizeof(enum xen_%s),\n    .names = %s_names,\n    .n_names = %zu,\n};\n\n",
                d->ident, t->en->name, t->en->name, t->en->n_values);
        break;
    case T_SET: {
        char *s = set_typename(t->elem, d->rec);
        const char *ed = t->elem->kind == T_INT ? "xen_type_int32_" : desc_of(t->elem, d->rec);
        fprintf(
            f,
            "const struct xen_type %s = {\n    .kind = XEN_K_SET,\n    .slot_size = sizeof(void "
            "*),\n    .elem = &%s,\n    .contents_offset = offsetof(%s, contents),\n};\n\n",
            d->ident, ed, s);
        free(s);
        break;
    }
    case T_MAP: {
        char *m = map_typename(t);
        fprintf(
            f,
            "const struct xen_type %s = {\n    .kind = XEN_K_MAP,\n    .slot_size = sizeof(void "
            "*),\n    .elem = &%s,\n    .val = &%s,\n    .contents_offset = offsetof(%s, "
            "contents),\n    .entry_size = sizeof(%s_contents),\n    .key_offset = "
            "offsetof(%s_contents, key),\n    .val_offset = offsetof(%s_contents, val),\n};\n\n",
            d->ident, desc_of(t->key, false), desc_of(t->elem, true), m, m, m, m);
        free(m);
        break;
    }
    case T_OPTION:
        fprintf(f,
                "const struct xen_type %s = {\n    .kind = XEN_K_BOX,\n    .slot_size = "
                "sizeof(void *),\n    .elem = &%s,\n};\n\n",
                d->ident, desc_of(t->elem, d->rec));
        break;
    default:
        die("no descriptor emitter for", t->text);
    }
}

static FILE *open_src(const char *rel, const char *what)
{
    FILE *f = open_out(rel);
    fprintf(f, "/* Generated by sdkgen from the data model: %s. */\n", what);
    fprintf(f, "#include <stddef.h>\n#include <stdlib.h>\n\n#include "
               "<xen/api/xen_all.h>\n\n#include \"xen_internal.h\"\n#include \"gen_types.h\"\n\n");
    return f;
}

static void mkdirs(const char *rel)
{
    char *p = fmt("%s/%s", outdir, rel);
    for (char *s = p + 1; *s; s++)
        if (*s == '/') {
            *s = '\0';
            mkdir(p, 0755);
            *s = '/';
        }
    mkdir(p, 0755);
    free(p);
}

int main(int argc, char **argv)
{
    if (argc != 3 || atoi(argv[2]) < 1) {
        fprintf(stderr, "usage: sdkgen <output dir> <shards>\n");
        return 2;
    }
    outdir = argv[1];
    int n_shards = atoi(argv[2]);
    model_init();
    mkdirs("include/xen/api");
    mkdirs("src");

    FILE **shards = calloc((size_t)n_shards, sizeof(FILE *));
    for (int i = 0; i < n_shards; i++) {
        char *rel = fmt("src/gen_%d.c", i);
        shards[i] = open_src(rel, "the messages of some classes");
        free(rel);
    }
    int k = 0;
    for (int c = 0; c < C__COUNT; c++)
        if (sdk_class(c))
            gen_class(c, shards[k++ % n_shards]);
    for (int i = 0; i < n_shards; i++)
        close_out(shards[i]);
    free(shards);

    /* Descriptors the hand-written sources name (xen_common.c). */
    desc_of(ptype("int set"), false);
    desc_of(ptype("string set set"), false);
    desc_of(ptype("host ref"), true);
    desc_of(ptype("event record set"), false);
    desc_of(ptype("(string -> int) map"), true);
    FILE *check = open_out("src/gen_check.c");
    fprintf(check, "/* Generated by sdkgen: the accessor checks of sdk/tests/sdk-check.c. "
                   "*/\n#include <string.h>\n\n#include <xen/api/xen_all.h>\n\n#include "
                   "\"gen_types.h\"\n#include \"sdk-check.h\"\n\n");
    static const char *const checked[] = {"VM", "host", "pool", "network"};
    for (size_t i = 0; i < sizeof(checked) / sizeof(checked[0]); i++)
        gen_check(model_class_by_name(checked[i], false), check);
    close_out(check);

    FILE *types = open_src("src/gen_types.c", "type descriptors, enums, maps, error codes");
    /* The maps XenServer's SDK always has, used by hand-written code too. */
    static const char *const always[] = {
        "(string -> int) map", "(int -> int) map", "(string -> string set) map",
        "(string -> (string -> string) map) map", "(string -> string) map"};
    for (size_t i = 0; i < sizeof(always) / sizeof(always[0]); i++)
        names_add(&all_maps_text, strdup(always[i]));
    for (size_t i = 0; i < model_n_enums; i++)
        gen_enum(&model_enums[i], types);
    /* Map headers may name more maps (a map of maps): loop until stable. */
    for (int i = 0; i < all_maps_text.n; i++)
        gen_map(all_maps_text.v[i], types);
    gen_failures(types);
    /* Copies: writing may register more descriptors and move the array. */
    for (int i = 0; i < n_descs; i++) {
        struct desc d = descs[i];
        write_desc(types, &d);
    }
    close_out(types);

    FILE *th = open_out("src/gen_types.h");
    fprintf(th, "/* Generated by sdkgen: the type descriptors of gen_types.c. */\n#pragma "
                "once\n\n#include \"xen_internal.h\"\n\n");
    for (int i = 0; i < n_descs; i++)
        if (strcmp(descs[i].ident, "xen_type_int32_") != 0)
            fprintf(th, "extern const struct xen_type %s;\n", descs[i].ident);
    close_out(th);

    FILE *all = open_out("include/xen/api/xen_all.h");
    fprintf(all, "/* Generated by sdkgen: every header of the SDK. */\n#ifndef "
                 "XEN_API_XEN_ALL_H\n#define XEN_API_XEN_ALL_H\n\n");
    fprintf(all, "#include <xen/api/xen_api_failure.h>\n#include "
                 "<xen/api/xen_api_version.h>\n#include <xen/api/xen_common.h>\n#include "
                 "<xen/api/xen_event_batch.h>\n#include <xen/api/xen_int_set.h>\n#include "
                 "<xen/api/xen_string_set.h>\n#include <xen/api/xen_string_set_set.h>\n");
    qsort(all_headers.v, (size_t)all_headers.n, sizeof(char *), cmp_names);
    for (int i = 0; i < all_headers.n; i++)
        fprintf(all, "#include <xen/api/xen_%s.h>\n", all_headers.v[i]);
    fprintf(all, "\n#endif\n");
    close_out(all);
    return 0;
}
