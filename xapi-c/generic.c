/* The method table and the generic messages of every class, derived from
 * the data model: getters and setters per field, map and set updates,
 * get_record, lookups, get_all*, create and destroy (xenapi.md section 3). */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api.h"
#include "db.h"
#include "filter.h"
#include "lib/hashmap.h"
#include "lib/log.h"
#include "lib/strlist.h"
#include "lib/util.h"
#include "marshal.h"

LOG_MODULE("api");

static struct hashmap methods;
static const char **names;
static size_t n_names;
static api_handler_fn generic_override[C__COUNT][2];

void api_new_ref(char out[64])
{
    char u[UUID_STR_LEN];
    uuid_generate_str(u);
    snprintf(out, 64, "OpaqueRef:%s", u);
}

/* ---- the method table ---- */

static struct param_desc *params_new(int n)
{
    return xcalloc((size_t)n, sizeof(struct param_desc));
}

static void params_free(struct param_desc *p, int n)
{
    for (int i = 0; i < n; i++)
        free((char *)p[i].type_text);
    free(p);
}

static void param_set(struct param_desc *p, const char *type_text, const char *name)
{
    p->type_text = xstrdup(type_text);
    p->type = model_parse_type(type_text);
    p->name = name;
    if (!p->type) {
        fprintf(stderr, "api: bad generated type %s\n", type_text);
        abort();
    }
}

static struct method *add_method(const char *cls_name, const char *name, enum method_kind kind,
                                 int cls, int field)
{
    struct method *m = xcalloc(1, sizeof(*m));
    m->wire = xasprintf("%s.%s", cls_name, name);
    m->kind = kind;
    m->cls = cls;
    m->field = field;
    m->msg = -1;
    m->takes_session = true;
    m->state = S_PUBLISHED;
    struct method *old = hashmap_put(&methods, m->wire, m);
    if (old) {            /* a later declaration wins; the key now points into m */
        if (old->msg < 0) /* generated parameters belong to the method */
            params_free((struct param_desc *)old->params, old->n_params);
        free(old->wire);
        free(old);
    }
    return m;
}

/* A generic method with the session, self and optional extra parameters. */
static struct method *add_generic(int cls, const char *name, enum method_kind kind, int field,
                                  const char *self_type, const char *result_text, int n_extra,
                                  const char *t1, const char *n1, const char *t2, const char *n2)
{
    const struct class_desc *c = &model_classes[cls];
    struct method *m = add_method(c->name, name, kind, cls, field);
    int n = 1 + (self_type ? 1 : 0) + n_extra;
    struct param_desc *p = params_new(n);
    int i = 0;
    param_set(&p[i++], "session ref", "session_id");
    if (self_type)
        param_set(&p[i++], self_type, "self");
    if (n_extra >= 1)
        param_set(&p[i++], t1, n1);
    if (n_extra >= 2)
        param_set(&p[i++], t2, n2);
    m->params = p;
    m->n_params = m->n_required = n;
    m->result = model_parse_type(result_text);
    m->async = kind == MK_CREATE || kind == MK_DESTROY;
    if (field >= 0)
        m->state = c->fields[field].state;
    return m;
}

static void add_class_methods(int cls)
{
    const struct class_desc *c = &model_classes[cls];
    char ref_t[128], rec_t[128], refs_t[128], map_t[160], buf[160];

    if (!(c->flags & CF_DB) || (c->flags & CF_CUSTOM_ACCESS))
        return;
    snprintf(ref_t, sizeof(ref_t), "%s ref", c->name);
    snprintf(rec_t, sizeof(rec_t), "%s record", c->name);
    snprintf(refs_t, sizeof(refs_t), "%s ref set", c->name);
    snprintf(map_t, sizeof(map_t), "(%s ref -> %s record) map", c->name, c->name);

    add_generic(cls, "get_record", MK_GET_RECORD, -1, ref_t, rec_t, 0, 0, 0, 0, 0);
    if (c->flags & CF_BY_UUID)
        add_generic(cls, "get_by_uuid", MK_GET_BY_UUID, -1, NULL, ref_t, 1, "string", "uuid", 0, 0);
    if (c->flags & CF_BY_NAME)
        add_generic(cls, "get_by_name_label", MK_GET_BY_NAME_LABEL, -1, NULL, refs_t, 1, "string",
                    "label", 0, 0);
    if (c->flags & CF_GET_ALL) {
        add_generic(cls, "get_all", MK_GET_ALL, -1, NULL, refs_t, 0, 0, 0, 0, 0);
        add_generic(cls, "get_all_records", MK_GET_ALL_RECORDS, -1, NULL, map_t, 0, 0, 0, 0, 0);
        add_generic(cls, "get_all_records_where", MK_GET_ALL_RECORDS_WHERE, -1, NULL, map_t, 1,
                    "string", "expr", 0, 0);
        add_generic(cls, "get_all_where", MK_GET_ALL_WHERE, -1, NULL, refs_t, 1, "string", "expr",
                    0, 0);
    }
    if (c->flags & CF_CTOR) {
        add_generic(cls, "create", MK_CREATE, -1, NULL, ref_t, 1, rec_t, "args", 0, 0);
        add_generic(cls, "destroy", MK_DESTROY, -1, ref_t, "void", 0, 0, 0, 0, 0);
    }
    for (int i = 0; i < c->n_fields; i++) {
        const struct field_desc *f = &c->fields[i];
        snprintf(buf, sizeof(buf), "get_%s", f->name);
        add_generic(cls, buf, MK_GET_FIELD, i, ref_t, f->type_text, 0, 0, 0, 0, 0);
        if (f->qual != Q_RW || (f->flags & FF_COMPUTED) || f->state == S_REMOVED)
            continue;
        snprintf(buf, sizeof(buf), "set_%s", f->name);
        add_generic(cls, buf, MK_SET_FIELD, i, ref_t, "void", 1, f->type_text, "value", 0, 0);
        if (f->type->kind == T_MAP) {
            snprintf(buf, sizeof(buf), "add_to_%s", f->name);
            add_generic(cls, buf, MK_ADD_TO_MAP, i, ref_t, "void", 2, f->type->key->text, "key",
                        f->type->elem->text, "value");
            snprintf(buf, sizeof(buf), "remove_from_%s", f->name);
            add_generic(cls, buf, MK_REMOVE_FROM_MAP, i, ref_t, "void", 1, f->type->key->text,
                        "key", 0, 0);
        } else if (f->type->kind == T_SET) {
            snprintf(buf, sizeof(buf), "add_%s", f->name);
            add_generic(cls, buf, MK_ADD_TO_SET, i, ref_t, "void", 1, f->type->elem->text, "value",
                        0, 0);
            snprintf(buf, sizeof(buf), "remove_%s", f->name);
            add_generic(cls, buf, MK_REMOVE_FROM_SET, i, ref_t, "void", 1, f->type->elem->text,
                        "value", 0, 0);
        }
    }
}

/* A custom message whose name is a generic one (message.get_record,
 * task.set_other_config) is served by the generic code. */
static void generic_kind_of(const struct msg_desc *md, enum method_kind *kind, int *field)
{
    static const struct {
        const char *name;
        enum method_kind kind;
    } whole[] = {{"get_record", MK_GET_RECORD},
                 {"get_by_uuid", MK_GET_BY_UUID},
                 {"get_by_name_label", MK_GET_BY_NAME_LABEL},
                 {"get_all", MK_GET_ALL},
                 {"get_all_records", MK_GET_ALL_RECORDS},
                 {"get_all_records_where", MK_GET_ALL_RECORDS_WHERE},
                 {"get_all_where", MK_GET_ALL_WHERE}};
    static const struct {
        const char *prefix;
        enum method_kind kind;
    } per_field[] = {{"add_to_", MK_ADD_TO_MAP},
                     {"remove_from_", MK_REMOVE_FROM_MAP},
                     {"set_", MK_SET_FIELD},
                     {"get_", MK_GET_FIELD}};
    const struct class_desc *c = &model_classes[md->cls];

    *kind = MK_CUSTOM;
    *field = -1;
    for (size_t i = 0; i < ELEMENTSOF(whole); i++)
        if (streq(md->name, whole[i].name)) {
            *kind = whole[i].kind;
            return;
        }
    for (size_t i = 0; i < ELEMENTSOF(per_field); i++) {
        size_t n = strlen(per_field[i].prefix);
        if (strncmp(md->name, per_field[i].prefix, n) != 0)
            continue;
        int f = model_field_by_name(c, md->name + n);
        if (f < 0)
            continue;
        /* Only when the parameters are the generic ones: an explicit
         * setter of an RO field with the shape (self, value) is generic in
         * effect, but may need validation, so it stays custom. */
        if (per_field[i].kind == MK_SET_FIELD && c->fields[f].qual != Q_RW &&
            !streq(c->fields[f].type_text, "(string -> string) map"))
            continue;
        *kind = per_field[i].kind;
        *field = f;
        return;
    }
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

void api_register(enum msg_id msg, api_handler_fn fn)
{
    struct method *m = hashmap_get(&methods, model_msgs[msg].wire);
    if (m)
        m->fn = fn;
}

void api_register_generic(int cls, enum method_kind kind, api_handler_fn fn)
{
    generic_override[cls][kind == MK_DESTROY] = fn;
}

/* Handlers of each class with custom messages (api/). */
void session_register(void);
void event_register(void);
void task_register(void);
void message_register(void);
void host_register(void);
void vm_register(void);
void network_register(void);
void sr_register(void);
void pbd_register(void);
void vdi_register(void);
void vbd_register(void);
void pif_register(void); /* networking: api/pif.c, vif.c, vlan.c, bond.c */
void vif_register(void);
void vlan_register(void);
void pool_network_register(void);
void bond_register(void);
void tunnel_register(void);
void host_network_register(void);

void api_init(void)
{
    hashmap_init(&methods);
    for (int c = 0; c < C__COUNT; c++)
        add_class_methods(c);
    for (int i = 0; i < M__COUNT; i++) {
        const struct msg_desc *md = &model_msgs[i];
        enum method_kind kind;
        int field;
        generic_kind_of(md, &kind, &field);
        struct method *m = add_method(model_classes[md->cls].name, md->name, kind, md->cls, field);
        m->msg = i;
        m->params = md->params;
        m->n_params = md->n_params;
        m->n_required = md->n_required;
        m->result = md->result;
        m->async = md->flags & MF_ASYNC;
        m->takes_session = md->takes_session;
        m->state = md->state;
    }
    session_register();
    event_register();
    task_register();
    message_register();
    host_register();
    vm_register();
    network_register();
    sr_register();
    pbd_register();
    vdi_register();
    vbd_register();
    pif_register();
    vif_register();
    vlan_register();
    pool_network_register();
    bond_register();
    tunnel_register();
    host_network_register();

    size_t it = 0;
    const char *k;
    names = xcalloc(methods.count + 1, sizeof(char *));
    while (hashmap_next(&methods, &it, &k, NULL))
        names[n_names++] = k;
    qsort(names, n_names, sizeof(char *), cmp_str);
}

const struct method *api_find_method(const char *wire)
{
    return hashmap_get(&methods, wire);
}

const char *const *api_method_names(size_t *ret_n)
{
    *ret_n = n_names;
    return names;
}

/* ---- arguments ---- */

const char *arg_str(const struct call *c, int i)
{
    return i < c->n_args && c->args[i] ? c->args[i] : "";
}

int64_t arg_int(const struct call *c, int i)
{
    return strtoll(arg_str(c, i), NULL, 10);
}

double arg_float(const struct call *c, int i)
{
    return strtod(arg_str(c, i), NULL);
}

bool arg_bool(const struct call *c, int i)
{
    return streq(arg_str(c, i), "true");
}

/* ---- generic handlers ---- */

struct api_error *api_lookup(int cls, const char *ref, const struct row **ret_row)
{
    const struct row *r = db_get(cls, ref);
    if (!r)
        return api_fail(HANDLE_INVALID, model_classes[cls].name, ref);
    *ret_row = r;
    return NULL;
}

void api_write_record(struct out *o, const struct row *row)
{
    const struct class_desc *c = &model_classes[row->cls];
    struct strbuf scratch;
    strbuf_init(&scratch, 0);
    out_struct_begin(o);
    for (int i = 0; i < c->n_fields; i++) {
        if (c->fields[i].state == S_REMOVED)
            continue;
        const struct field_desc *f = &c->fields[i];
        out_member_spelled(o, f->xml_member, f->xml_member_len, f->json_member, f->json_member_len);
        marshal_to_wire(o, f->type, db_value(row, i, &scratch));
    }
    out_struct_end(o);
    strbuf_done(&scratch);
}

static struct api_error *get_all_records(struct call *c, int cls, const struct filter *f,
                                         bool with_records)
{
    size_t it = 0;
    const struct row *r = NULL;
    if (with_records)
        out_struct_begin(c->out);
    else
        out_array_begin(c->out);
    size_t n = 0, start = c->out->sb.len;
    while (db_next(cls, &it, &r)) {
        if (f && !filter_match(f, r))
            continue;
        if (with_records) {
            out_member(c->out, r->ref);
            api_write_record(c->out, r);
        } else
            out_string(c->out, r->ref);
        /* Size the buffer once from the first record rather than doubling
         * it through a large answer: each doubling copies and faults in
         * the whole answer again. */
        if (++n == 1)
            strbuf_grow(&c->out->sb, (c->out->sb.len - start) * db_count(cls) * 9 / 8);
    }
    if (with_records)
        out_struct_end(c->out);
    else
        out_array_end(c->out);
    return NULL;
}

static struct api_error *read_call(struct call *c, enum method_kind kind, int cls, int field)
{
    const struct class_desc *cd = &model_classes[cls];
    const struct row *r = NULL;
    struct api_error *e = NULL;
    struct filter *f = NULL;

    if (kind == MK_GET_ALL_RECORDS_WHERE || kind == MK_GET_ALL_WHERE) {
        e = filter_parse(arg_str(c, 1), cls, &f);
        if (e)
            return e;
    }
    db_rdlock();
    switch (kind) {
    case MK_GET_RECORD:
        if (!(e = api_lookup(cls, arg_str(c, 1), &r)))
            api_write_record(c->out, r);
        break;
    case MK_GET_FIELD: {
        struct strbuf scratch;
        if ((e = api_lookup(cls, arg_str(c, 1), &r)))
            break;
        strbuf_init(&scratch, 0);
        marshal_to_wire(c->out, cd->fields[field].type, db_value(r, field, &scratch));
        strbuf_done(&scratch);
        break;
    }
    case MK_GET_BY_UUID:
        r = db_get_by_uuid(cls, arg_str(c, 1));
        if (r)
            out_string(c->out, r->ref);
        else
            e = api_fail(UUID_INVALID, cd->name, arg_str(c, 1));
        break;
    case MK_GET_BY_NAME_LABEL: {
        size_t it = 0;
        out_array_begin(c->out);
        while (db_next(cls, &it, &r))
            if (cd->name_label_field >= 0 && streq(r->v[cd->name_label_field], arg_str(c, 1)))
                out_string(c->out, r->ref);
        out_array_end(c->out);
        break;
    }
    case MK_GET_ALL:
    case MK_GET_ALL_WHERE:
        e = get_all_records(c, cls, f, false);
        break;
    case MK_GET_ALL_RECORDS:
    case MK_GET_ALL_RECORDS_WHERE:
        e = get_all_records(c, cls, f, true);
        break;
    default:
        e = api_failf(INTERNAL_ERROR, "not a read: %s", c->m->wire);
    }
    db_unlock();
    filter_free(f);
    return e;
}

static char *set_update(const char *text, const char *elem, bool add)
{
    struct strlist_iter it;
    struct strbuf sb;
    const char *v;
    bool first = true;

    strbuf_init(&sb, strlen(text) + 32);
    strbuf_addc(&sb, '[');
    strlist_iter_init(&it, text);
    while (strlist_iter_next(&it, NULL, &v)) {
        if (streq(v, elem))
            continue;
        if (!first)
            strbuf_addc(&sb, ',');
        first = false;
        strlist_add_quoted(&sb, v, strlen(v));
    }
    strlist_iter_done(&it);
    if (add) {
        if (!first)
            strbuf_addc(&sb, ',');
        strlist_add_quoted(&sb, elem, strlen(elem));
    }
    strbuf_addc(&sb, ']');
    return strbuf_detach(&sb, NULL);
}

static struct api_error *apply_or_fail(struct changeset *cs)
{
    int r = db_apply(cs);
    changeset_free(cs);
    if (r == -ENOENT || r == -EEXIST)
        return api_failf(INTERNAL_ERROR, "database: %s", strerror(-r));
    if (r < 0)
        return api_failf(INTERNAL_ERROR, "database write failed: %s", strerror(-r));
    return NULL;
}

static struct api_error *write_call(struct call *c, enum method_kind kind, int cls, int field)
{
    const struct class_desc *cd = &model_classes[cls];
    const struct row *r = NULL;
    struct api_error *e;
    char *nv = NULL;

    db_wrlock();
    if ((e = api_lookup(cls, arg_str(c, 1), &r)))
        goto out;
    const char *cur = r->v[field];
    switch (kind) {
    case MK_SET_FIELD:
        nv = xstrdup(arg_str(c, 2));
        break;
    case MK_ADD_TO_MAP: {
        char *have = strmap_get(cur, arg_str(c, 2));
        if (have) {
            free(have);
            e = api_fail(MAP_DUPLICATE_KEY, cd->name, cd->fields[field].name,
                         cd->uuid_field >= 0 ? r->v[cd->uuid_field] : r->ref, arg_str(c, 2));
            goto out;
        }
        nv = strmap_with(cur, arg_str(c, 2), arg_str(c, 3));
        break;
    }
    case MK_REMOVE_FROM_MAP:
        nv = strmap_with(cur, arg_str(c, 2), NULL);
        break;
    case MK_ADD_TO_SET:
        if (strlist_contains(cur, arg_str(c, 2)))
            goto out;
        nv = set_update(cur, arg_str(c, 2), true);
        break;
    case MK_REMOVE_FROM_SET:
        if (!strlist_contains(cur, arg_str(c, 2)))
            goto out;
        nv = set_update(cur, arg_str(c, 2), false);
        break;
    default:
        e = api_failf(INTERNAL_ERROR, "not a write: %s", c->m->wire);
        goto out;
    }
    if (!streq(nv, cur)) {
        struct changeset *cs = changeset_new();
        changeset_set(cs, cls, r->ref, field, nv);
        e = apply_or_fail(cs);
    }
out:
    db_unlock();
    free(nv);
    if (!e)
        out_void(c->out);
    return e;
}

char **api_new_row(int cls, char ret_ref[64])
{
    const struct class_desc *cd = &model_classes[cls];
    char **vals = xcalloc((size_t)cd->n_fields + 1, sizeof(char *));
    api_new_ref(ret_ref);
    for (int i = 0; i < cd->n_fields; i++)
        if (!(cd->fields[i].flags & FF_COMPUTED) && cd->fields[i].state != S_REMOVED)
            vals[i] = xstrdup(model_field_default(&cd->fields[i]));
    if (cd->uuid_field >= 0) {
        char uuid[UUID_STR_LEN];
        uuid_generate_str(uuid);
        api_set_val(vals, cd->uuid_field, uuid);
    }
    return vals;
}

void api_free_row(int cls, char **vals)
{
    if (!vals)
        return;
    for (int i = 0; i < model_classes[cls].n_fields; i++)
        free(vals[i]);
    free(vals);
}

struct api_error *api_apply(struct changeset *cs)
{
    int r = db_apply(cs);
    changeset_free(cs);
    return r < 0 ? api_failf(INTERNAL_ERROR, "database: %s", strerror(-r)) : NULL;
}

void api_set_val(char **vals, int i, const char *v)
{
    free(vals[i]);
    vals[i] = xstrdup(v);
}

void api_rec_to_vals(const struct call *c, char **vals)
{
    const struct class_desc *cd = &model_classes[c->m->cls];
    for (int i = 0; c->rec && i < cd->n_fields; i++)
        if (c->rec_given[i] && cd->fields[i].qual != Q_RO_RUN &&
            !(cd->fields[i].flags & FF_COMPUTED) && cd->fields[i].state != S_REMOVED)
            api_set_val(vals, i, c->rec[i]);
}

static struct api_error *create_call(struct call *c, int cls)
{
    char ref[64];
    char **vals = api_new_row(cls, ref);
    api_rec_to_vals(c, vals);
    struct changeset *cs = changeset_new();
    changeset_create(cs, cls, ref, vals);
    db_wrlock();
    struct api_error *e = apply_or_fail(cs);
    db_unlock();
    if (!e)
        out_string(c->out, ref);
    return e;
}

static struct api_error *destroy_call(struct call *c, int cls)
{
    const struct row *r = NULL;
    struct api_error *e;
    db_wrlock();
    if (!(e = api_lookup(cls, arg_str(c, 1), &r))) {
        struct changeset *cs = changeset_new();
        changeset_delete(cs, cls, r->ref);
        e = apply_or_fail(cs);
    }
    db_unlock();
    if (!e)
        out_void(c->out);
    return e;
}

struct api_error *generic_call(struct call *c, enum method_kind kind, int cls, int field)
{
    switch (kind) {
    case MK_CREATE:
        if (generic_override[cls][0] && c->m->kind == MK_CREATE)
            return generic_override[cls][0](c);
        return create_call(c, cls);
    case MK_DESTROY:
        if (generic_override[cls][1] && c->m->kind == MK_DESTROY)
            return generic_override[cls][1](c);
        return destroy_call(c, cls);
    case MK_SET_FIELD:
    case MK_ADD_TO_MAP:
    case MK_REMOVE_FROM_MAP:
    case MK_ADD_TO_SET:
    case MK_REMOVE_FROM_SET:
        return write_call(c, kind, cls, field);
    case MK_CUSTOM:
        return api_fail(MESSAGE_NOT_IMPLEMENTED, c->m->wire);
    default:
        return read_call(c, kind, cls, field);
    }
}
