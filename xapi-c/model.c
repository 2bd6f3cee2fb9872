/* Expands the datamodel declaration into descriptor tables (see model.h). */
#include "model.h"

#include <assert.h>
#include <ctype.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "lib/util.h"
#include "out.h"

#define ENUM(n, ...) static const char *const enum_values_##n[] = {__VA_ARGS__};
#include "datamodel/enums.def"
#undef ENUM

const struct enum_desc model_enums[] = {
#define ENUM(n, ...) {#n, enum_values_##n, ELEMENTS(enum_values_##n)},
#define ELEMENTS(a) (sizeof(a) / sizeof((a)[0]))
#include "datamodel/enums.def"
#undef ENUM
};
const size_t model_n_enums = ELEMENTS(model_enums);

/* clang-format off */
static struct field_desc all_fields[F__COUNT] = {
#define CLASS(...)
#define END_CLASS(...)
#define FIELD(c, n, type_, q, def_, st, since_, fl)                                                \
    [F_##c##_##n] = {.name = #n, .name_len = sizeof(#n) - 1, .type_text = type_, .qual = q,       \
                     .def = def_, .state = st, .since = since_, .flags = fl, .cls = C_##c,         \
                     .index = F_##c##_##n - FB_##c, .rel_cls = -1, .rel_field = -1},
#include "datamodel/classes.def"
#undef CLASS
#undef FIELD
#undef END_CLASS
};
/* clang-format on */

struct class_desc model_classes[C__COUNT] = {
#define CLASS(n, st, since, fl) [C_##n] = {#n, NULL, st, since, fl, NULL, 0, -1, -1},
#define FIELD(...)
#define END_CLASS(n)
#include "datamodel/classes.def"
#undef CLASS
#undef FIELD
#undef END_CLASS
};

static const int class_first_field[C__COUNT] = {
#define CLASS(n, ...) [C_##n] = FB_##n,
#define FIELD(...)
#define END_CLASS(n)
#include "datamodel/classes.def"
#undef CLASS
#undef FIELD
#undef END_CLASS
};

static const int class_end_field[C__COUNT] = {
#define CLASS(n, ...)
#define FIELD(...)
#define END_CLASS(n) [C_##n] = FE_##n,
#include "datamodel/classes.def"
#undef CLASS
#undef FIELD
#undef END_CLASS
};

static const char *const msg_params_text[M__COUNT] = {
#define MSG(c, n, res, st, since, role, fl, errs, params) [M_##c##_##n] = params,
#include "datamodel/messages.def"
#undef MSG
};

struct msg_desc model_msgs[M__COUNT] = {
#define MSG(c, n, res, st, since, role, fl, errs, params)                                          \
    [M_##c##_##n] = {C_##c, #n, #c "." #n, res, NULL, st, since, role, fl, errs, NULL, 0, 0, false},
#include "datamodel/messages.def"
#undef MSG
};

const struct err_desc model_errors[ERR__COUNT] = {
#define ERR(code, params) [ERR_##code] = {#code, params},
#include "datamodel/errors.def"
#undef ERR
};

static const struct {
    int many_cls, many_field, one_cls, one_field;
} relations[] = {
#define RELATION(mc, mf, oc, of) {C_##mc, FIDX(mc, mf), C_##oc, FIDX(oc, of)},
#include "datamodel/relations.def"
#undef RELATION
};

/* Parsed types, interned by text. */
#define MAX_TYPES 512
static struct type types[MAX_TYPES];
static int n_types;
static pthread_mutex_t types_lock = PTHREAD_MUTEX_INITIALIZER;

const struct class_desc *model_class(int id)
{
    return id >= 0 && id < C__COUNT ? &model_classes[id] : NULL;
}

int model_class_by_name(const char *name, bool ignore_case)
{
    for (int i = 0; i < C__COUNT; i++)
        if (ignore_case ? strcasecmp(model_classes[i].name, name) == 0
                        : streq(model_classes[i].name, name))
            return i;
    return -1;
}

int model_field_by_name(const struct class_desc *c, const char *name)
{
    for (int i = 0; i < c->n_fields; i++)
        if (streq(c->fields[i].name, name))
            return i;
    return -1;
}

const struct enum_desc *model_enum_by_name(const char *name)
{
    for (size_t i = 0; i < model_n_enums; i++)
        if (streq(model_enums[i].name, name))
            return &model_enums[i];
    return NULL;
}

/* A recursive-descent parser over the declared type grammar:
 *   type    := primary { "set" | "option" }
 *   primary := "(" type "->" type ")" "map" | "enum" NAME | NAME "ref"
 *            | NAME "record" | "<class>" "record" | basic */
struct tp {
    const char *p;
};

static void skip(struct tp *t)
{
    while (*t->p == ' ')
        t->p++;
}

static int word(struct tp *t, char *buf, size_t size)
{
    skip(t);
    size_t n = 0;
    while (t->p[n] && t->p[n] != ' ' && t->p[n] != '(' && t->p[n] != ')') {
        if (t->p[n] == '-' && t->p[n + 1] == '>')
            break;
        n++;
    }
    if (n == 0 || n >= size)
        return -1;
    memcpy(buf, t->p, n);
    buf[n] = '\0';
    t->p += n;
    return 0;
}

static const struct type *intern(struct type proto, const char *text, size_t len)
{
    for (int i = 0; i < n_types; i++)
        if (strlen(types[i].text) == len && strncmp(types[i].text, text, len) == 0)
            return &types[i];
    assert(n_types < MAX_TYPES);
    proto.text = xstrndup(text, len);
    types[n_types] = proto;
    return &types[n_types++];
}

static const struct type *parse(struct tp *t);

static const struct type *parse_primary(struct tp *t)
{
    char w[64];
    const char *start;
    skip(t);
    start = t->p;
    if (*t->p == '(') {
        t->p++;
        const struct type *k = parse(t);
        skip(t);
        if (!k || strncmp(t->p, "->", 2) != 0)
            return NULL;
        t->p += 2;
        const struct type *v = parse(t);
        skip(t);
        if (!v || *t->p != ')')
            return NULL;
        t->p++;
        if (word(t, w, sizeof(w)) < 0 || !streq(w, "map"))
            return NULL;
        return intern((struct type){.kind = T_MAP, .key = k, .elem = v, .cls = -1}, start,
                      (size_t)(t->p - start));
    }
    if (word(t, w, sizeof(w)) < 0)
        return NULL;
    static const struct {
        const char *name;
        enum type_kind kind;
    } basic[] = {{"string", T_STRING}, {"int", T_INT},           {"float", T_FLOAT},
                 {"bool", T_BOOL},     {"datetime", T_DATETIME}, {"void", T_VOID}};
    for (size_t i = 0; i < ELEMENTS(basic); i++)
        if (streq(w, basic[i].name))
            return intern((struct type){.kind = basic[i].kind, .cls = -1}, start,
                          (size_t)(t->p - start));
    if (streq(w, "enum")) {
        if (word(t, w, sizeof(w)) < 0)
            return NULL;
        const struct enum_desc *e = model_enum_by_name(w);
        if (!e)
            return NULL;
        return intern((struct type){.kind = T_ENUM, .en = e, .cls = -1}, start,
                      (size_t)(t->p - start));
    }
    if (streq(w, "an")) { /* "an event batch" */
        t->p += strlen(t->p);
        return intern((struct type){.kind = T_OTHER, .cls = -1}, start, (size_t)(t->p - start));
    }
    char kw[16];
    const char *save = t->p;
    if (word(t, kw, sizeof(kw)) == 0 && (streq(kw, "ref") || streq(kw, "record"))) {
        int c = streq(w, "<class>") ? -1 : model_class_by_name(w, false);
        return intern((struct type){.kind = streq(kw, "ref") ? T_REF : T_RECORD, .cls = c}, start,
                      (size_t)(t->p - start));
    }
    t->p = save;
    return NULL;
}

static const struct type *parse(struct tp *t)
{
    const char *start;
    skip(t);
    start = t->p;
    const struct type *ty = parse_primary(t);
    while (ty) {
        char w[16];
        const char *save = t->p;
        if (word(t, w, sizeof(w)) < 0) {
            t->p = save;
            break;
        }
        if (streq(w, "set"))
            ty = intern((struct type){.kind = T_SET, .elem = ty, .cls = -1}, start,
                        (size_t)(t->p - start));
        else if (streq(w, "option"))
            ty = intern((struct type){.kind = T_OPTION, .elem = ty, .cls = -1}, start,
                        (size_t)(t->p - start));
        else {
            t->p = save;
            break;
        }
    }
    return ty;
}

const struct type *model_parse_type(const char *text)
{
    struct tp t = {text};
    pthread_mutex_lock(&types_lock);
    const struct type *ty = parse(&t);
    skip(&t);
    if (ty && *t.p)
        ty = NULL;
    pthread_mutex_unlock(&types_lock);
    return ty;
}

const char *model_type_zero(const struct type *t)
{
    switch (t->kind) {
    case T_INT:
        return "0";
    case T_FLOAT:
        return "0";
    case T_BOOL:
        return "false";
    case T_DATETIME:
        return "19700101T00:00:00Z";
    case T_ENUM:
        return t->en->n_values ? t->en->values[0] : "";
    case T_REF:
        return "OpaqueRef:NULL";
    case T_SET:
        return "[]";
    case T_MAP:
        return "{}";
    default:
        return "";
    }
}

const char *model_field_default(const struct field_desc *f)
{
    return f->def ? f->def : model_type_zero(f->type);
}

static void parse_params(struct msg_desc *m, const char *text)
{
    char *copy = xstrdup(text);
    char *save = NULL;
    int cap = 8;
    m->params = xcalloc((size_t)cap, sizeof(*m->params));
    for (char *tok = strtok_r(copy, ";", &save); tok; tok = strtok_r(NULL, ";", &save)) {
        struct param_desc *p;
        if (m->n_params == cap) {
            cap *= 2;
            m->params = xrealloc(m->params, (size_t)cap * sizeof(*m->params));
        }
        p = &m->params[m->n_params++];
        char *eq = strchr(tok, '=');
        if (eq) {
            *eq = '\0';
            p->def = xstrdup(eq + 1);
        } else
            p->def = NULL;
        char *sp = strrchr(tok, ' ');
        assert(sp);
        *sp = '\0';
        p->name = xstrdup(sp + 1);
        p->type_text = xstrdup(tok);
        p->type = model_parse_type(tok);
        if (!p->type) {
            fprintf(stderr, "model: %s: bad parameter type '%s'\n", m->wire, tok);
            abort();
        }
        if (!p->def)
            m->n_required++;
    }
    free(copy);
    m->takes_session = m->n_params > 0 && streq(m->params[0].type_text, "session ref") &&
                       streq(m->params[0].name, "session_id");
}

void model_init(void)
{
    static bool done;
    if (done)
        return;
    done = true;
    for (int c = 0; c < C__COUNT; c++) {
        struct class_desc *cd = &model_classes[c];
        char *l = xstrdup(cd->name);
        for (char *p = l; *p; p++)
            *p = (char)tolower((unsigned char)*p);
        cd->lname = l;
        cd->fields = &all_fields[class_first_field[c]];
        cd->n_fields = class_end_field[c] - class_first_field[c];
        for (int i = 0; i < cd->n_fields; i++) {
            struct field_desc *f = &cd->fields[i];
            f->type = model_parse_type(f->type_text);
            if (!f->type) {
                fprintf(stderr, "model: %s.%s: bad type '%s'\n", cd->name, f->name, f->type_text);
                abort();
            }
            out_member_spell(f->name, &f->xml_member, &f->json_member);
            f->xml_member_len = strlen(f->xml_member);
            f->json_member_len = strlen(f->json_member);
            if (streq(f->name, "uuid"))
                cd->uuid_field = i;
            if (streq(f->name, "name_label"))
                cd->name_label_field = i;
        }
    }
    for (size_t i = 0; i < ELEMENTS(relations); i++) {
        struct field_desc *one =
            &model_classes[relations[i].one_cls].fields[relations[i].one_field];
        one->rel_cls = relations[i].many_cls;
        one->rel_field = relations[i].many_field;
    }
    for (int m = 0; m < M__COUNT; m++) {
        struct msg_desc *md = &model_msgs[m];
        md->result = model_parse_type(md->result_text);
        if (!md->result) {
            fprintf(stderr, "model: %s: bad result type '%s'\n", md->wire, md->result_text);
            abort();
        }
        parse_params(md, msg_params_text[m]);
    }
}
