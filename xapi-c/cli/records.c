/* The generic commands of every class (xe-cli.md 1.5, 1.7): <view>-list,
 * -param-list, -param-get, -param-set, -param-add, -param-remove and
 * -param-clear, and the selectors of 1.4. A class view names a class of the
 * data model, its default filters and default columns; its fields are
 * derived from the model once at start: the CLI name is the field's name
 * with hyphens, a reference to an object of the class the field is named
 * after becomes <class>-uuid followed by <class>-name-label, and the key
 * annotation ( RO)/( RW)/(SRO)/(SRW)/(MRO)/(MRW) follows the qualifier and
 * the type. Reads take the database's read lock and never hold it while
 * talking to the client or calling a message: message-backed fields, and
 * filters on them, are computed once the lock is released. Writes go
 * through the API's own setters. */
#include <ctype.h>
#include <json-c/json.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "fields.h"
#include "lib/strlist.h"
#include "lib/util.h"
#include "xapi-c/api.h"
#include "xapi-c/db.h"
#include "xapi-c/marshal.h"
#include "xapi-c/model.h"

/* One field as a view shows it. */
struct cfield {
    const char *name;
    char *key; /* "name-label ( RW)" */
    const struct cli_field_def *d;
    bool writable; /* param-set/add/remove apply */
};

enum view_filter { VF_NONE, VF_VM, VF_TEMPLATE, VF_SNAPSHOT };

struct view {
    const char *name;
    int cls;
    enum view_filter filter;
    const char *const *columns; /* default *-list columns; NULL: every field */
    struct cfield *fields;
    size_t n_fields;
};

#define COLS(...) ((const char *const[]){__VA_ARGS__, NULL})

static struct view views[] = {
    {"vm", C_VM, VF_VM, COLS("uuid", "name-label", "power-state"), NULL, 0},
    {"template", C_VM, VF_TEMPLATE, COLS("uuid", "name-label", "name-description"), NULL, 0},
    /* XCP also asks for snapshot_of and snapshot_time, names no field has. */
    {"snapshot", C_VM, VF_SNAPSHOT,
     COLS("uuid", "name-label", "name-description", "is-vmss-snapshot"), NULL, 0},
    {"host", C_host, VF_NONE, COLS("uuid", "name-label", "name-description"), NULL, 0},
    {"host-cpu", C_host_cpu, VF_NONE, COLS("uuid", "number", "vendor", "speed", "utilisation"),
     NULL, 0},
    {"host-crashdump", C_host_crashdump, VF_NONE, COLS("uuid", "timestamp", "size"), NULL, 0},
    {"pool", C_pool, VF_NONE,
     COLS("uuid", "name-label", "name-description", "master", "default-SR"), NULL, 0},
    {"sr", C_SR, VF_NONE,
     COLS("uuid", "name-label", "name-description", "host", "type", "content-type"), NULL, 0},
    {"vdi", C_VDI, VF_NONE,
     COLS("uuid", "name-label", "name-description", "sr-uuid", "virtual-size", "sharable",
          "read-only"),
     NULL, 0},
    {"vbd", C_VBD, VF_NONE, COLS("uuid", "vm-uuid", "vm-name-label", "vdi-uuid", "empty", "device"),
     NULL, 0},
    {"pbd", C_PBD, VF_NONE,
     COLS("uuid", "host-uuid", "sr-uuid", "device-config", "currently-attached"), NULL, 0},
    {"vif", C_VIF, VF_NONE, COLS("uuid", "vm-uuid", "device", "network-uuid"), NULL, 0},
    {"network", C_network, VF_NONE, COLS("uuid", "name-label", "name-description", "bridge"), NULL,
     0},
    {"pif", C_PIF, VF_NONE,
     COLS("uuid", "device", "MAC", "currently-attached", "VLAN", "network-uuid", "host-uuid"), NULL,
     0},
    {"bond", C_Bond, VF_NONE, COLS("uuid", "master", "slaves"), NULL, 0},
    {"vlan", C_VLAN, VF_NONE, COLS("uuid", "tagged-PIF", "untagged-PIF", "tag"), NULL, 0},
    {"tunnel", C_tunnel, VF_NONE, COLS("uuid", "access-PIF", "transport-PIF", "status"), NULL, 0},
    {"console", C_console, VF_NONE,
     COLS("uuid", "vm-uuid", "vm-name-label", "protocol", "location"), NULL, 0},
    {"task", C_task, VF_NONE, COLS("uuid", "name-label", "name-description", "status", "progress"),
     NULL, 0},
    {"sm", C_SM, VF_NONE,
     COLS("uuid", "name-label", "name-description", "type", "vendor", "copyright", "configuration"),
     NULL, 0},
    {"message", C_message, VF_NONE, NULL, NULL, 0},
    {"secret", C_secret, VF_NONE, NULL, NULL, 0},
    {"appliance", C_VM_appliance, VF_NONE, NULL, NULL, 0},
    {"vmss", C_VMSS, VF_NONE, NULL, NULL, 0},
    {"subject", C_subject, VF_NONE, NULL, NULL, 0},
    {"role", C_role, VF_NONE, NULL, NULL, 0},
};

/* ---- the field tables ---- */

static char *cli_name(const char *api_name)
{
    char *s = xstrdup(api_name);
    for (char *p = s; *p; p++)
        if (*p == '_')
            *p = '-';
    return s;
}

static char *lower(const char *s)
{
    char *l = xstrdup(s);
    for (char *p = l; *p; p++)
        *p = (char)tolower((unsigned char)*p);
    return l;
}

static const char *const tag_text[] = {
    [TAG_RO] = "( RO)",  [TAG_RW] = "( RW)",  [TAG_SRO] = "(SRO)",
    [TAG_SRW] = "(SRW)", [TAG_MRO] = "(MRO)", [TAG_MRW] = "(MRW)",
};

static void view_add(struct view *v, size_t *cap, const struct cli_field_def *d)
{
    if (v->n_fields == *cap) {
        *cap = *cap ? 2 * *cap : 32;
        v->fields = xrealloc(v->fields, *cap * sizeof(*v->fields));
    }
    v->fields[v->n_fields++] = (struct cfield){
        .name = d->name,
        .key = xasprintf("%s %s%s", d->name, tag_text[d->tag],
                         d->flags & CF_DEP ? " [DEPRECATED]" : ""),
        .d = d,
        .writable = (d->tag == TAG_RW || d->tag == TAG_SRW || d->tag == TAG_MRW) &&
                    (d->get == CG_FIELD || d->set_msg >= 0),
    };
}

/* A derived definition, kept for the life of the process. */
static const struct cli_field_def *derived(char *name, enum cf_get get, int field, enum cf_tag tag,
                                           unsigned flags)
{
    struct cli_field_def *d = xcalloc(1, sizeof(*d));
    *d = (struct cli_field_def){
        .name = name, .get = get, .field = field, .set_msg = -1, .tag = tag, .flags = flags};
    return d;
}

/* For classes without a table: every field of the model, named with
 * hyphens; a reference to an object of the class it is named after shows
 * as <class>-uuid and <class>-name-label. */
static void view_derive(struct view *v, size_t *cap)
{
    const struct class_desc *cd = &model_classes[v->cls];

    for (int i = 0; i < cd->n_fields; i++) {
        const struct field_desc *f = &cd->fields[i];
        const struct type *t = f->type;
        /* Writable if the API has the setter (or map/set add) for it: some
         * fields are declared read-only but have custom setters. */
        _cleanup_free_ char *setter = xasprintf("%s.%s%s", cd->name,
                                                t->kind == T_MAP   ? "add_to_"
                                                : t->kind == T_SET ? "add_"
                                                                   : "set_",
                                                f->name);
        bool rw = !(f->flags & FF_COMPUTED) && api_find_method(setter) != NULL;
        unsigned dep = f->state == S_DEPRECATED ? CF_DEP : 0;
        enum cf_tag tag = t->kind == T_MAP   ? (rw ? TAG_MRW : TAG_MRO)
                          : t->kind == T_SET ? (rw ? TAG_SRW : TAG_SRO)
                          : rw               ? TAG_RW
                                             : TAG_RO;

        if (f->state == S_REMOVED)
            continue;
        if (t->kind == T_REF && t->cls >= 0) {
            const struct class_desc *target = &model_classes[t->cls];
            _cleanup_free_ char *lf = lower(f->name), *lc = lower(target->name);
            if (streq(lf, lc)) {
                view_add(v, cap, derived(xasprintf("%s-uuid", lc), CG_FIELD, i, tag, dep));
                if (target->name_label_field >= 0)
                    view_add(v, cap,
                             derived(xasprintf("%s-name-label", lc), CG_NAME, i, TAG_RO, dep));
                continue;
            }
        }
        view_add(v, cap, derived(cli_name(f->name), CG_FIELD, i, tag, dep));
    }
}

static void view_build(struct view *v)
{
    const struct cli_field_table *t = cli_field_table(v->name);
    size_t cap = 0;

    if (!t) {
        view_derive(v, &cap);
        return;
    }
    for (size_t i = 0; i < t->n; i++)
        view_add(v, &cap, &t->defs[i]);
}

static const struct cfield *view_field(const struct view *v, const char *name)
{
    for (size_t i = 0; i < v->n_fields; i++)
        if (streq(v->fields[i].name, name))
            return &v->fields[i];
    return NULL;
}

/* The model type of a field a view shows directly (CG_FIELD), else NULL. */
static const struct type *own_type(const struct view *v, const struct cfield *cf)
{
    if (cf->d->get != CG_FIELD)
        return NULL;
    return model_classes[v->cls].fields[cf->d->field].type;
}

int cli_view_by_name(const char *name)
{
    for (size_t i = 0; i < ELEMENTSOF(views); i++)
        if (streq(views[i].name, name))
            return (int)i;
    return -1;
}

/* ---- rendering (the lock must be held) ---- */

static void render_ref(int cls, const char *ref, struct strbuf *out, bool name)
{
    const struct row *r = cls >= 0 && (model_classes[cls].flags & CF_DB) ? db_get(cls, ref) : NULL;
    const struct class_desc *cd = cls >= 0 ? &model_classes[cls] : NULL;
    int f = cd ? (name ? cd->name_label_field : cd->uuid_field) : -1;

    if (!r || f < 0 || !r->v[f]) {
        strbuf_adds(out, "<not in database>");
        return;
    }
    strbuf_adds(out, r->v[f]);
}

/* A ref held as a plain string (pool.ha_statefiles): its uuid in any class. */
static void render_ref_text(const char *ref, struct strbuf *out)
{
    for (int c = 0; c < C__COUNT; c++) {
        const struct row *r;
        if (!(model_classes[c].flags & CF_DB) || model_classes[c].uuid_field < 0 ||
            !(r = db_get(c, ref)))
            continue;
        strbuf_adds(out, r->v[model_classes[c].uuid_field]);
        return;
    }
    strbuf_adds(out, "<not in database>");
}

void cli_render(const struct type *t, const char *canon, unsigned flags, struct strbuf *out)
{
    if (!canon)
        canon = "";
    switch (t->kind) {
    case T_REF:
        render_ref(t->cls, canon, out, false);
        return;
    case T_FLOAT:
        strbuf_addf(out, "%.3f", strtod(canon, NULL));
        return;
    case T_ENUM:
        strbuf_adds(out, cli_enum_show(t->en, canon));
        return;
    case T_SET:
    case T_MAP: {
        struct strlist_iter it;
        const char *k, *v;
        bool first = true;
        strlist_iter_init(&it, canon);
        while (strlist_iter_next(&it, &k, &v)) {
            if (!first)
                strbuf_adds(out, flags & CF_COMMA ? ", " : "; ");
            first = false;
            if (t->kind == T_MAP && !(flags & CF_VALUES)) {
                cli_render(t->key, k, 0, out);
                strbuf_adds(out, ": ");
            }
            if (flags & CF_REFTEXT)
                render_ref_text(v, out);
            else
                cli_render(t->elem, v, 0, out);
        }
        strlist_iter_done(&it);
        return;
    }
    default:
        if ((flags & CF_NOTSET) && !*canon)
            strbuf_adds(out, "<not set>");
        else if (flags & CF_QUOTE)
            strbuf_addf(out, "'%s'", canon);
        else
            strbuf_adds(out, canon);
        return;
    }
}

/* The rendered value of a CLI field of a row, into out (reset first).
 * Message-backed fields render nothing here: resolve_call() computes them
 * once the lock is released. */
static void render_field(const struct view *v, const struct cfield *cf, const struct row *r,
                         struct strbuf *out)
{
    const struct cli_field_def *d = cf->d;
    struct strbuf scratch;

    strbuf_reset(out);
    strbuf_addc(out, '\0');
    strbuf_reset(out);
    switch (d->get) {
    case CG_FIELD:
    case CG_NAME: {
        const struct field_desc *f = &model_classes[v->cls].fields[d->field];
        strbuf_init(&scratch, 0);
        const char *canon = db_value(r, d->field, &scratch);
        if (d->get == CG_NAME)
            render_ref(f->type->cls, canon ? canon : "", out, true);
        else
            cli_render(f->type, canon, d->flags, out);
        strbuf_done(&scratch);
        return;
    }
    case CG_VIA: {
        const char *ref = r->v[d->field];
        const struct row *o = ref ? db_get(d->tcls, ref) : NULL;
        if (!o) {
            strbuf_adds(out, d->none);
            return;
        }
        strbuf_init(&scratch, 0);
        cli_render(model_classes[d->tcls].fields[d->tfield].type, db_value(o, d->tfield, &scratch),
                   d->flags, out);
        strbuf_done(&scratch);
        return;
    }
    case CG_FN:
        d->fn(d, r, out);
        return;
    case CG_CALL:
        return;
    }
}

/* ---- message-backed fields ---- */

/* What a message-backed field needs from its row, taken under the lock. */
struct pending {
    size_t rec, idx; /* where the value goes */
    const struct cli_field_def *d;
    char *obj; /* the object the message is called on */
    char *arg; /* its string argument, or NULL */
    int ncpu;  /* CF_PERCPU */
};

static void pending_take(struct pending *p, const struct view *v, const struct cfield *cf,
                         const struct row *r, size_t rec, size_t idx)
{
    const struct cli_field_def *d = cf->d;
    *p = (struct pending){.rec = rec, .idx = idx, .d = d};
    p->obj = xstrdup(d->field < 0 ? r->ref : r->v[d->field] ? r->v[d->field] : "OpaqueRef:NULL");
    if (d->arg && d->argfield >= 0) {
        const char *pct = strstr(d->arg, "%s");
        const char *val = r->v[d->argfield] ? r->v[d->argfield] : "";
        p->arg = pct ? xasprintf("%.*s%s%s", (int)(pct - d->arg), d->arg, val, pct + 2)
                     : xstrdup(d->arg);
    } else if (d->arg)
        p->arg = xstrdup(d->arg);
    if (d->flags & CF_PERCPU) {
        const char *m = r->v[FIDX(VM, metrics)];
        const struct row *mr = v->cls == C_VM && m ? db_get(C_VM_metrics, m) : NULL;
        p->ncpu = mr ? atoi(mr->v[FIDX(VM_metrics, VCPUs_number)]) : 0;
    }
}

/* Renders a message's JSON result as xe shows it. */
static void render_json(const struct type *t, json_object *j, unsigned flags, struct strbuf *out)
{
    switch (t->kind) {
    case T_VOID:
        strbuf_adds(out, "true");
        return;
    case T_FLOAT: {
        double f = json_object_get_double(j);
        if (json_object_is_type(j, json_type_string))
            f = strtod(json_object_get_string(j), NULL);
        if (flags & CF_KIB)
            f /= 1024.0;
        if (flags & CF_INT)
            strbuf_addf(out, "%lld", (long long)f);
        else
            strbuf_addf(out, "%.3f", f);
        return;
    }
    case T_REF:
        db_rdlock();
        render_ref(t->cls, json_object_get_string(j), out, false);
        db_unlock();
        return;
    case T_SET:
        for (size_t i = 0;
             json_object_is_type(j, json_type_array) && i < json_object_array_length(j); i++) {
            if (i)
                strbuf_adds(out, "; ");
            render_json(t->elem, json_object_array_get_idx(j, i), flags, out);
        }
        return;
    case T_MAP: {
        bool first = true;
        if (!json_object_is_type(j, json_type_object))
            return;
        json_object_object_foreach(j, k, val)
        {
            strbuf_addf(out, "%s%s: ", first ? "" : "; ", k);
            render_json(t->elem, val, flags, out);
            first = false;
        }
        return;
    }
    default:
        strbuf_adds(out, json_object_get_string(j) ? json_object_get_string(j) : "");
        return;
    }
}

/* Calls the message of a pending field; the value goes to out. */
static void resolve_call(struct cli_ctx *ctx, const struct pending *p, struct strbuf *out)
{
    const struct cli_field_def *d = p->d;
    const struct msg_desc *m = &model_msgs[d->msg];
    const char *args[2];
    size_t n = 0;
    struct api_error *e = NULL;
    char *json = NULL;

    strbuf_reset(out);
    if (!(d->flags & CF_NOOBJ))
        args[n++] = p->obj;
    if (d->flags & CF_PERCPU) {
        /* One data source per VCPU; any failure leaves the value empty, as
         * in xe. */
        for (int i = 0; i < p->ncpu && !e; i++) {
            _cleanup_free_ char *src = xasprintf("cpu%d", i);
            args[n] = src;
            if (!(e = cli_call(ctx, m->wire, args, n + 1, &json))) {
                json_object *j = json_tokener_parse(json);
                strbuf_addf(out, "%s%d: ", i ? "; " : "", i);
                render_json(m->result, j, 0, out);
                json_object_put(j);
            }
            free(json);
            json = NULL;
        }
        if (e) {
            strbuf_reset(out);
            api_error_free(e);
        }
        return;
    }
    if (p->arg)
        args[n++] = p->arg;
    if ((e = cli_call(ctx, m->wire, args, n, &json))) {
        if (m->result->kind == T_VOID)
            strbuf_addf(out, "false (error: %s)", e->code);
        else if (d->none)
            strbuf_adds(out, d->none);
        else
            strbuf_addf(out, "<error: %s>", e->code);
        api_error_free(e);
        return;
    }
    json_object *j = json_tokener_parse(json);
    render_json(m->result, j, d->flags, out);
    json_object_put(j);
    free(json);
}

/* ---- filters ---- */

/* FK_CALL: a plain filter on a message-backed field, decided after the
 * database lock is released (the message is called for each candidate). */
enum filter_kind { FK_FIELD, FK_MAP_KEY, FK_SET_CONTAINS, FK_CALL };

struct filter {
    enum filter_kind kind;
    const struct cfield *cf;
    const char *key; /* FK_MAP_KEY */
    const char *value;
};

/* Words that are never filters: stdparams, params, database:*, and the
 * command's own ignore list (compared up to a ':'). */
static bool not_a_filter(const char *name, const char *const *ignore)
{
    size_t n = strcspn(name, ":");
    if (cli_is_stdparam(name) || streq(name, "params") || strncmp(name, "database:", 9) == 0)
        return true;
    for (; ignore && *ignore; ignore++)
        if (strlen(*ignore) == n && strncmp(*ignore, name, n) == 0)
            return true;
    return false;
}

/* The legacy filter name <collection>-<rest> (xe-cli.md 1.5): the map (or
 * set) field of kind whose name, followed by '-', starts name with
 * something after it; the longest such name wins. NULL if none. */
static const struct cfield *legacy_collection(const struct view *v, const char *name,
                                              enum type_kind kind)
{
    const struct cfield *best = NULL;
    for (size_t i = 0; i < v->n_fields; i++) {
        const struct cfield *cf = &v->fields[i];
        const struct type *t = own_type(v, cf);
        size_t n = strlen(cf->name);
        if (t && t->kind == kind && strncmp(name, cf->name, n) == 0 && name[n] == '-' &&
            name[n + 1] && (!best || n > strlen(best->name)))
            best = cf;
    }
    return best;
}

/* Parses the filters among the arguments; prints the error and returns 1
 * for a name that is not a field. */
static int parse_filters(struct cli_ctx *ctx, const struct view *v, const char *const *ignore,
                         struct filter **ret, size_t *ret_n)
{
    struct filter *fs = xcalloc(ctx->n_args + 1, sizeof(*fs));
    size_t n = 0;

    for (size_t i = 0; i < ctx->n_args; i++) {
        const char *name = ctx->args[i].name;
        const char *colon = strchr(name, ':');
        const struct cfield *cf;

        if (not_a_filter(name, ignore))
            continue;
        if (colon) {
            _cleanup_free_ char *base = xstrndup(name, (size_t)(colon - name));
            cf = view_field(v, base);
            const struct type *t = cf ? own_type(v, cf) : NULL;
            if (t && t->kind == T_MAP) {
                fs[n++] = (struct filter){FK_MAP_KEY, cf, colon + 1, ctx->args[i].value};
                continue;
            }
            if (t && t->kind == T_SET) {
                if (!streq(colon + 1, "contains")) {
                    free(fs);
                    return cli_fail(ctx, "Invalid syntax for set filtering (should be "
                                         "set-param:contains=key)");
                }
                fs[n++] = (struct filter){FK_SET_CONTAINS, cf, NULL, ctx->args[i].value};
                continue;
            }
        } else if ((cf = view_field(v, name))) {
            fs[n++] = (struct filter){cf->d->get == CG_CALL ? FK_CALL : FK_FIELD, cf, NULL,
                                      ctx->args[i].value};
            continue;
        } else if ((cf = legacy_collection(v, name, T_MAP))) {
            /* The legacy <map>-<key>=v form. */
            fs[n++] =
                (struct filter){FK_MAP_KEY, cf, name + strlen(cf->name) + 1, ctx->args[i].value};
            continue;
        } else if ((cf = legacy_collection(v, name, T_SET))) {
            if (!streq(name + strlen(cf->name) + 1, "contains")) {
                free(fs);
                return cli_fail(ctx, "Invalid syntax for set filtering (should be "
                                     "set-param:contains=key)");
            }
            fs[n++] = (struct filter){FK_SET_CONTAINS, cf, NULL, ctx->args[i].value};
            continue;
        }
        free(fs);
        return cli_fail(ctx, "Unknown field '%s'", name);
    }
    *ret = fs;
    *ret_n = n;
    return 0;
}

static bool filter_match(const struct view *v, const struct filter *f, const struct row *r,
                         struct strbuf *tmp)
{
    struct strbuf scratch;
    bool match = false;

    if (f->kind == FK_CALL)
        return true; /* decided by call_filters_decide() */
    if (f->kind == FK_FIELD) {
        render_field(v, f->cf, r, tmp);
        /* Only MAC compares ignoring case, as in xe. */
        if (streq(f->cf->name, "MAC"))
            return strcasecmp(tmp->buf ? tmp->buf : "", f->value) == 0;
        return streq(tmp->buf ? tmp->buf : "", f->value);
    }
    const struct type *t = own_type(v, f->cf);
    strbuf_init(&scratch, 0);
    const char *canon = db_value(r, f->cf->d->field, &scratch);
    struct strlist_iter it;
    const char *k, *val;
    strlist_iter_init(&it, canon);
    while (!match && strlist_iter_next(&it, &k, &val)) {
        if (f->kind == FK_MAP_KEY) {
            match = streq(k, f->key) && streq(val, f->value);
        } else {
            strbuf_reset(tmp);
            cli_render(t->elem, val, 0, tmp);
            match = streq(tmp->buf ? tmp->buf : "", f->value);
        }
    }
    strlist_iter_done(&it);
    strbuf_done(&scratch);
    return match;
}

static bool field_is_true(const struct row *r, int field)
{
    return r->v[field] && streq(r->v[field], "true");
}

/* The view's own filters: which VM rows are VMs, templates, snapshots. */
static bool view_match(const struct view *v, const struct row *r, bool allow_dom0)
{
    switch (v->filter) {
    case VF_VM:
        return !field_is_true(r, FIDX(VM, is_a_template)) &&
               (allow_dom0 || !field_is_true(r, FIDX(VM, is_control_domain)));
    case VF_TEMPLATE:
        return field_is_true(r, FIDX(VM, is_a_template)) &&
               !field_is_true(r, FIDX(VM, is_a_snapshot));
    case VF_SNAPSHOT:
        return field_is_true(r, FIDX(VM, is_a_snapshot));
    default:
        return true;
    }
}

/* ---- records ---- */

/* Is field cf printed? cols NULL: every field. */
static bool wanted(const struct cfield *cf, const char *const *cols, const char *params)
{
    if (params) {
        if (streq(params, "all"))
            return true;
        for (const char *p = params; p;) {
            const char *comma = strchr(p, ',');
            size_t n = comma ? (size_t)(comma - p) : strlen(p);
            if (strlen(cf->name) == n && strncmp(cf->name, p, n) == 0)
                return true;
            p = comma ? comma + 1 : NULL;
        }
        return false;
    }
    if (!cols)
        return true;
    for (; *cols; cols++)
        if (streq(*cols, cf->name))
            return true;
    return false;
}

/* Message-backed fields found while building records. */
struct pendings {
    struct pending *p;
    size_t n, cap;
};

static void pendings_add(struct pendings *pd, const struct view *v, const struct cfield *cf,
                         const struct row *r, size_t rec, size_t idx)
{
    if (pd->n == pd->cap) {
        pd->cap = pd->cap ? 2 * pd->cap : 8;
        pd->p = xrealloc(pd->p, pd->cap * sizeof(*pd->p));
    }
    pending_take(&pd->p[pd->n++], v, cf, r, rec, idx);
}

/* Builds the printed record of a row (lock held). In a list, expensive
 * fields show "<expensive field>"; message-backed fields are left for
 * resolve_pendings(). Hidden fields are never printed. */
static void build_record(const struct view *v, const struct row *r, const char *const *cols,
                         const char *params, bool list, struct cli_record *rec, size_t rec_i,
                         struct pendings *pd)
{
    struct strbuf val;
    strbuf_init(&val, 64);
    for (size_t i = 0; i < v->n_fields; i++) {
        const struct cfield *cf = &v->fields[i];
        if ((cf->d->flags & CF_HID) || !wanted(cf, cols, params))
            continue;
        if (list && (cf->d->flags & CF_EXP)) {
            cli_record_add(rec, cf->key, "<expensive field>");
            continue;
        }
        if (cf->d->get == CG_CALL) {
            pendings_add(pd, v, cf, r, rec_i, rec->n);
            cli_record_add(rec, cf->key, "");
            continue;
        }
        render_field(v, cf, r, &val);
        cli_record_add(rec, cf->key, val.buf ? val.buf : "");
    }
    strbuf_done(&val);
}

/* Computes the message-backed values, with the lock released, of the
 * records keep says are printed (keep NULL: all). */
static void resolve_pendings(struct cli_ctx *ctx, struct cli_record *recs, struct pendings *pd,
                             const bool *keep)
{
    struct strbuf val;
    strbuf_init(&val, 64);
    for (size_t i = 0; i < pd->n; i++) {
        struct pending *p = &pd->p[i];
        if (!keep || keep[p->rec]) {
            resolve_call(ctx, p, &val);
            free(recs[p->rec].vals[p->idx]);
            recs[p->rec].vals[p->idx] = xstrdup(val.buf ? val.buf : "");
        }
        free(p->obj);
        free(p->arg);
    }
    strbuf_done(&val);
    free(pd->p);
    *pd = (struct pendings){0};
}

/* Takes what the message-backed filters need from candidate row r (lock
 * held): one pending per filter, rec the candidate, idx the filter. */
static void call_filters_take(const struct view *v, const struct filter *fs, size_t nf,
                              const struct row *r, size_t cand, struct pendings *fp)
{
    for (size_t i = 0; i < nf; i++)
        if (fs[i].kind == FK_CALL)
            pendings_add(fp, v, fs[i].cf, r, cand, i);
}

/* Calls the messages of the message-backed filters (lock released) and
 * clears keep[c] for each candidate whose value differs; frees fp. */
static void call_filters_decide(struct cli_ctx *ctx, const struct filter *fs, struct pendings *fp,
                                bool *keep)
{
    struct strbuf val;
    strbuf_init(&val, 64);
    for (size_t i = 0; i < fp->n; i++) {
        struct pending *p = &fp->p[i];
        if (keep[p->rec]) {
            resolve_call(ctx, p, &val);
            keep[p->rec] = streq(val.buf ? val.buf : "", fs[p->idx].value);
        }
        free(p->obj);
        free(p->arg);
    }
    strbuf_done(&val);
    free(fp->p);
    *fp = (struct pendings){0};
}

static void print_records(struct cli_ctx *ctx, struct cli_record *recs, size_t n, const bool *keep)
{
    for (size_t i = 0; i < n; i++) {
        if (keep[i])
            cli_print_record(ctx, &recs[i]);
        cli_record_done(&recs[i]);
    }
    free(recs);
}

static int cmd_list(struct cli_ctx *ctx)
{
    const struct view *v = &views[ctx->cmd->view];
    bool all = cli_arg_bool(ctx, "all", false);
    const char *params = cli_arg(ctx, "params");
    struct filter *fs = NULL;
    size_t nf = 0, it = 0, n = 0, cap = 0;
    struct cli_record *recs = NULL;
    struct pendings pd = {0}, fp = {0};
    const struct row *r;
    struct strbuf tmp;

    if (parse_filters(ctx, v, NULL, &fs, &nf))
        return 1;
    strbuf_init(&tmp, 64);
    db_rdlock();
    while (db_next(v->cls, &it, &r)) {
        bool keep = all || view_match(v, r, true);
        for (size_t i = 0; keep && !all && i < nf; i++)
            keep = filter_match(v, &fs[i], r, &tmp);
        if (!keep)
            continue;
        if (n == cap) {
            cap = cap ? 2 * cap : 16;
            recs = xrealloc(recs, cap * sizeof(*recs));
        }
        recs[n] = (struct cli_record){0};
        build_record(v, r, v->columns, params, true, &recs[n], n, &pd);
        if (!all)
            call_filters_take(v, fs, nf, r, n, &fp);
        n++;
    }
    db_unlock();
    strbuf_done(&tmp);
    _cleanup_free_ bool *keep = xcalloc(n + 1, sizeof(bool));
    for (size_t i = 0; i < n; i++)
        keep[i] = true;
    call_filters_decide(ctx, fs, &fp, keep);
    free(fs);
    resolve_pendings(ctx, recs, &pd, keep);
    print_records(ctx, recs, n, keep);
    return 0;
}

/* Finds the object uuid= names; prints UUID_INVALID and returns 1 if
 * none. On success the db read lock is held. As in XCP (get_by_uuid of the
 * class), the view's own filters do not apply: vm-param-get reads a
 * template or a snapshot too. */
static int lookup_locked(struct cli_ctx *ctx, const struct view *v, const struct row **ret)
{
    const char *uuid = cli_arg(ctx, "uuid");
    db_rdlock();
    const struct row *r = db_get_by_uuid(v->cls, uuid);
    if (!r) {
        db_unlock();
        return cli_fail_api(ctx, api_fail(UUID_INVALID, model_classes[v->cls].name, uuid));
    }
    *ret = r;
    return 0;
}

static int cmd_param_list(struct cli_ctx *ctx)
{
    const struct view *v = &views[ctx->cmd->view];
    struct cli_record *rec = xcalloc(1, sizeof(*rec));
    struct pendings pd = {0};
    const struct row *r;

    if (lookup_locked(ctx, v, &r)) {
        free(rec);
        return 1;
    }
    build_record(v, r, NULL, NULL, false, rec, 0, &pd);
    db_unlock();
    resolve_pendings(ctx, rec, &pd, NULL);
    print_records(ctx, rec, 1, (const bool[]){true});
    return 0;
}

/* The canonical text of a map a field shows (its own, or a linked
 * object's), newly allocated; NULL if the field is not such a map. */
static char *map_text(const struct view *v, const struct cfield *cf, const struct row *r,
                      const struct type **ret_t)
{
    const struct cli_field_def *d = cf->d;
    const struct row *o = r;
    int cls = v->cls, field = d->field;
    struct strbuf scratch;

    if (d->get == CG_VIA) {
        o = r->v[d->field] ? db_get(d->tcls, r->v[d->field]) : NULL;
        cls = d->tcls;
        field = d->tfield;
    } else if (d->get != CG_FIELD)
        return NULL;
    if (!o || model_classes[cls].fields[field].type->kind != T_MAP)
        return NULL;
    *ret_t = model_classes[cls].fields[field].type;
    strbuf_init(&scratch, 0);
    char *text = xstrdup(db_value(o, field, &scratch));
    strbuf_done(&scratch);
    return text;
}

static int cmd_param_get(struct cli_ctx *ctx)
{
    const struct view *v = &views[ctx->cmd->view];
    const char *pname = cli_arg(ctx, "param-name"), *pkey = cli_arg(ctx, "param-key");
    const struct cfield *cf = view_field(v, pname);
    const struct type *mt = NULL;
    const struct row *r;
    struct strbuf val;

    if (lookup_locked(ctx, v, &r))
        return 1;
    if (!cf) {
        db_unlock();
        return cli_fail(ctx, "Unknown field '%s'", pname);
    }
    strbuf_init(&val, 64);
    _cleanup_free_ char *map = pkey ? map_text(v, cf, r, &mt) : NULL;
    if (map) {
        char *raw = strmap_get(map, pkey);
        if (raw)
            cli_render(mt->elem, raw, 0, &val);
        db_unlock();
        if (!raw) {
            strbuf_done(&val);
            return cli_fail(ctx, "Key %s not found in map", pkey);
        }
        free(raw);
    } else if (cf->d->get == CG_CALL) {
        struct pending p;
        pending_take(&p, v, cf, r, 0, 0);
        db_unlock();
        resolve_call(ctx, &p, &val);
        free(p.obj);
        free(p.arg);
    } else {
        render_field(v, cf, r, &val);
        db_unlock();
    }
    cli_print_item(ctx, val.buf ? val.buf : "");
    strbuf_done(&val);
    return 0;
}

static int print_object(struct cli_ctx *ctx, const char *view, const char *ref,
                        const char *const *cols, const char *params, bool list)
{
    const struct view *v = &views[cli_view_by_name(view)];
    struct cli_record *rec = xcalloc(1, sizeof(*rec));
    struct pendings pd = {0};

    db_rdlock();
    const struct row *r = db_get(v->cls, ref);
    if (!r) {
        db_unlock();
        free(rec);
        return -ENOENT;
    }
    build_record(v, r, cols, params, list, rec, 0, &pd);
    db_unlock();
    resolve_pendings(ctx, rec, &pd, NULL);
    print_records(ctx, rec, 1, (const bool[]){true});
    return 0;
}

int cli_print_object(struct cli_ctx *ctx, const char *view, const char *ref,
                     const char *const *cols, const char *params)
{
    return print_object(ctx, view, ref, cols, params, true);
}

int cli_print_fields(struct cli_ctx *ctx, const char *view, const char *ref,
                     const char *const *cols)
{
    return print_object(ctx, view, ref, cols, NULL, false);
}

/* ---- writes ---- */

int cli_parse_size(const char *s, int64_t *ret)
{
    static const struct {
        const char *suffix;
        int shift;
    } units[] = {{"", 0},     {"b", 0},    {"bytes", 0}, {"k", 10},   {"kb", 10},
                 {"kib", 10}, {"m", 20},   {"mb", 20},   {"mib", 20}, {"g", 30},
                 {"gb", 30},  {"gib", 30}, {"t", 40},    {"tb", 40},  {"tib", 40}};
    char *end;
    errno = 0;
    long long v = strtoll(s, &end, 0);
    if (errno || end == s)
        return -EINVAL;
    while (*end == ' ')
        end++;
    for (size_t i = 0; i < ELEMENTSOF(units); i++)
        if (strcasecmp(end, units[i].suffix) == 0) {
            if (v < 0 ? v < (INT64_MIN >> units[i].shift) : v > (INT64_MAX >> units[i].shift))
                return -ERANGE;
            *ret = (int64_t)v * ((int64_t)1 << units[i].shift);
            return 0;
        }
    return -EINVAL;
}

/* Converts what the user typed for a value of type t into canonical text
 * (newly allocated in ret); prints the error and returns 1 on failure. */
static int user_value(struct cli_ctx *ctx, const char *fname, const struct type *t,
                      const char *text, char **ret)
{
    struct strbuf sb;
    struct api_error *e;

    switch (t->kind) {
    case T_REF:
        if (!*text) {
            *ret = xstrdup("OpaqueRef:NULL");
            return 0;
        }
        if (!(*ret = cli_ref_of(t->cls, text)))
            return cli_fail_api(
                ctx, api_fail(UUID_INVALID, t->cls >= 0 ? model_classes[t->cls].name : "", text));
        return 0;
    case T_INT: {
        int64_t v;
        if (cli_parse_size(text, &v) < 0)
            return cli_fail(ctx,
                            "Failed to parse field '%s': expecting an integer (possibly with "
                            "suffix KiB, MiB, GiB, TiB), got '%s'",
                            fname, text);
        *ret = xasprintf("%" PRId64, v);
        return 0;
    }
    case T_ENUM: {
        const char *val = cli_enum_parse(t->en, text);
        if (!val)
            return cli_fail(ctx, "Failed to parse parameter '%s': invalid value '%s'", fname, text);
        *ret = xstrdup(val);
        return 0;
    }
    case T_BOOL:
        if (!streq(text, "true") && !streq(text, "false"))
            return cli_fail(
                ctx, "Failed to parse parameter '%s': expecting a boolean (true or false)", fname);
        break;
    default:
        break;
    }
    strbuf_init(&sb, 32);
    if ((e = marshal_from_text(t, text, &sb))) {
        strbuf_done(&sb);
        api_error_free(e);
        return cli_fail(ctx, "Failed to parse parameter '%s': invalid value '%s'", fname, text);
    }
    *ret = strbuf_detach(&sb, NULL);
    strbuf_done(&sb);
    return 0;
}

/* Runs Class.<verb><field>(ref, args...). */
static struct api_error *field_call(struct cli_ctx *ctx, const struct view *v, const char *verb,
                                    int field, const char *ref, const char *a1, const char *a2)
{
    const struct class_desc *cd = &model_classes[v->cls];
    _cleanup_free_ char *wire = xasprintf("%s.%s%s", cd->name, verb, cd->fields[field].name);
    const char *args[3] = {ref, a1, a2};
    return cli_call(ctx, wire, args, a2 ? 3 : a1 ? 2 : 1, NULL);
}

/* The ref of the object uuid= names, or NULL after printing the error. */
static char *target_ref(struct cli_ctx *ctx, const struct view *v)
{
    const struct row *r;
    if (lookup_locked(ctx, v, &r))
        return NULL;
    char *ref = xstrdup(r->ref);
    db_unlock();
    return ref;
}

static int set_map_key(struct cli_ctx *ctx, const struct view *v, const struct cfield *cf,
                       const char *ref, const char *key, const char *value)
{
    struct api_error *e;
    /* The properties of PIFs and bonds are read-only maps whose keys
     * param-set sets one by one through <Class>.set_property, as in XCP. */
    if ((v->cls == C_PIF && cf->d->field == FIDX(PIF, properties)) ||
        (v->cls == C_Bond && cf->d->field == FIDX(Bond, properties))) {
        _cleanup_free_ char *wire = xasprintf("%s.set_property", model_classes[v->cls].name);
        if ((e = cli_call(ctx, wire, (const char *const[]){ref, key, value}, 3, NULL)))
            return cli_fail_api(ctx, e);
        return 0;
    }
    if (!cf->writable)
        return cli_fail(ctx, "Field '%s' is read-only.", cf->name);
    /* A key that exists is replaced: remove it first, as xe does. */
    api_error_free(field_call(ctx, v, "remove_from_", cf->d->field, ref, key, NULL));
    if ((e = field_call(ctx, v, "add_to_", cf->d->field, ref, key, value)))
        return cli_fail_api(ctx, e);
    return 0;
}

/* A derived RW field (pool ssh-enabled-timeout): its own setter message,
 * the value typed as that message's parameter. */
static int set_derived(struct cli_ctx *ctx, const struct cfield *cf, const char *ref,
                       const char *value)
{
    const struct msg_desc *m = &model_msgs[cf->d->set_msg];
    _cleanup_free_ char *canon = NULL;
    struct api_error *e;

    if (user_value(ctx, cf->name, m->params[m->n_params - 1].type, value, &canon))
        return 1;
    if ((e = cli_call(ctx, m->wire, (const char *const[]){ref, canon}, 2, NULL)))
        return cli_fail_api(ctx, e);
    return 0;
}

static int cmd_param_set(struct cli_ctx *ctx)
{
    const struct view *v = &views[ctx->cmd->view];
    _cleanup_free_ char *ref = target_ref(ctx, v);

    if (!ref)
        return 1;
    for (size_t i = 0; i < ctx->n_args; i++) {
        const char *name = ctx->args[i].name, *value = ctx->args[i].value;
        const char *colon = strchr(name, ':');
        const struct cfield *cf;
        struct api_error *e;

        if (cli_is_stdparam(name) || streq(name, "uuid"))
            continue;
        if (colon) {
            _cleanup_free_ char *base = xstrndup(name, (size_t)(colon - name));
            cf = view_field(v, base);
            if (!cf || !own_type(v, cf) || own_type(v, cf)->kind != T_MAP)
                return cli_fail(ctx, "Unknown field '%s'", base);
            if (set_map_key(ctx, v, cf, ref, colon + 1, value))
                return 1;
            continue;
        }
        if (!(cf = view_field(v, name)) && (cf = legacy_collection(v, name, T_MAP))) {
            /* The legacy <map>-<key>=v form. */
            if (set_map_key(ctx, v, cf, ref, name + strlen(cf->name) + 1, value))
                return 1;
            continue;
        }
        if (!cf)
            return cli_fail(ctx, "Unknown field '%s'", name);
        if (cf->writable && cf->d->set_msg >= 0) {
            if (set_derived(ctx, cf, ref, value))
                return 1;
            continue;
        }
        const struct type *t = own_type(v, cf);
        if (!t)
            return cli_fail(ctx, "Field '%s' is read-only.", name);
        if (t->kind == T_SET)
            return cli_fail(ctx, "Cannot param-set on set fields");
        if (t->kind == T_MAP)
            return cli_fail(ctx, "Field '%s' is a map or set. use the 'name:key=value' syntax.",
                            name);
        if (!cf->writable || cf->d->get != CG_FIELD)
            return cli_fail(ctx, "Field '%s' is read-only.", name);
        _cleanup_free_ char *canon = NULL;
        if (user_value(ctx, name, t, value, &canon))
            return 1;
        if ((e = field_call(ctx, v, "set_", cf->d->field, ref, canon, NULL)))
            return cli_fail_api(ctx, e);
    }
    return 0;
}

/* The set or map field param-name= names, writable; NULL after printing
 * the error. */
static const struct cfield *collection_field(struct cli_ctx *ctx, const struct view *v)
{
    const char *pname = cli_arg(ctx, "param-name");
    const struct cfield *cf = view_field(v, pname);
    if (!cf) {
        cli_fail(ctx, "Unknown field '%s'", pname);
        return NULL;
    }
    if (!own_type(v, cf)) {
        cli_fail(ctx, "Field '%s' is not a set or map", pname);
        return NULL;
    }
    enum type_kind k = own_type(v, cf)->kind;
    if (k != T_SET && k != T_MAP) {
        cli_fail(ctx, "Field '%s' is not a set or map", pname);
        return NULL;
    }
    if (!cf->writable) {
        cli_fail(ctx, "Parameter is read-only");
        return NULL;
    }
    return cf;
}

static int cmd_param_add(struct cli_ctx *ctx)
{
    const struct view *v = &views[ctx->cmd->view];
    _cleanup_free_ char *ref = target_ref(ctx, v);
    const struct cfield *cf;
    struct api_error *e;

    if (!ref || !(cf = collection_field(ctx, v)))
        return 1;
    if (own_type(v, cf)->kind == T_SET) {
        const char *key = cli_arg(ctx, "param-key");
        if (!key)
            return cli_fail(ctx, "When adding a key to a set, use the syntax: *-param-add "
                                 "param-name=<name> param-key=<key>");
        if ((e = field_call(ctx, v, "add_", cf->d->field, ref, key, NULL)))
            return cli_fail_api(ctx, e);
        return 0;
    }
    for (size_t i = 0; i < ctx->n_args; i++) {
        const char *name = ctx->args[i].name;
        if (cli_is_stdparam(name) || streq(name, "uuid") || streq(name, "param-name") ||
            streq(name, "param-key"))
            continue;
        if ((e = field_call(ctx, v, "add_to_", cf->d->field, ref, name, ctx->args[i].value)))
            return cli_fail_api(ctx, e);
    }
    return 0;
}

/* The keys (map) or members (set) of a field of the object, as a canonical
 * list text (newly allocated). */
static char *collection_text(const struct view *v, const char *ref, int field)
{
    struct strbuf scratch;
    char *text = NULL;
    strbuf_init(&scratch, 0);
    db_rdlock();
    const struct row *r = db_get(v->cls, ref);
    if (r)
        text = xstrdup(db_value(r, field, &scratch));
    db_unlock();
    strbuf_done(&scratch);
    return text ? text : xstrdup("[]");
}

static int cmd_param_remove(struct cli_ctx *ctx)
{
    const struct view *v = &views[ctx->cmd->view];
    _cleanup_free_ char *ref = target_ref(ctx, v);
    const char *key = cli_arg(ctx, "param-key");
    const struct cfield *cf;
    struct api_error *e;

    if (!ref || !(cf = collection_field(ctx, v)))
        return 1;
    bool is_set = own_type(v, cf)->kind == T_SET;
    _cleanup_free_ char *text = collection_text(v, ref, cf->d->field);
    char *have = is_set ? NULL : strmap_get(text, key);
    bool present = is_set ? strlist_contains(text, key) : have != NULL;
    free(have);
    if (!present)
        return is_set ? cli_fail(ctx, "Key %s is not in the set", key)
                      : cli_fail(ctx, "Key %s is not in map", key);
    if ((e = field_call(ctx, v, is_set ? "remove_" : "remove_from_", cf->d->field, ref, key, NULL)))
        return cli_fail_api(ctx, e);
    return 0;
}

static int cmd_param_clear(struct cli_ctx *ctx)
{
    const struct view *v = &views[ctx->cmd->view];
    _cleanup_free_ char *ref = target_ref(ctx, v);
    const char *pname = cli_arg(ctx, "param-name");
    const struct cfield *cf = view_field(v, pname);
    struct api_error *e;

    if (!ref)
        return 1;
    if (!cf)
        return cli_fail(ctx, "Unknown field '%s'", pname);
    const struct type *t = own_type(v, cf);
    if (!t || !cf->writable)
        return cli_fail(ctx, "Cannot clear this parameter");
    if (t->kind == T_SET || t->kind == T_MAP) {
        const char *empty = t->kind == T_SET ? "[]" : "{}";
        if ((e = field_call(ctx, v, "set_", cf->d->field, ref, empty, NULL)))
            return cli_fail_api(ctx, e);
        return 0;
    }
    _cleanup_free_ char *canon = NULL;
    if (user_value(ctx, pname, t, "", &canon))
        return cli_fail(ctx, "Cannot clear this parameter");
    if ((e = field_call(ctx, v, "set_", cf->d->field, ref, canon, NULL)))
        return cli_fail_api(ctx, e);
    return 0;
}

/* ---- selection ---- */

int cli_select(struct cli_ctx *ctx, int view, const char *const *ignore, bool allow_dom0,
               char ***ret_refs, size_t *ret_n)
{
    const struct view *v = &views[view];
    const char *shortcut = v->cls == C_VM ? "vm" : v->cls == C_host ? "host" : "sr";
    const char *sval = cli_arg(ctx, shortcut);
    const char *my_ignore[32];
    size_t ni = 0, it = 0, n = 0, nf = 0;
    struct filter *fs = NULL;
    const struct row *r;
    char **refs = NULL;
    struct strbuf tmp;
    struct pendings fp = {0};

    my_ignore[ni++] = shortcut;
    for (; ignore && *ignore && ni < ELEMENTSOF(my_ignore) - 1; ignore++)
        my_ignore[ni++] = *ignore;
    my_ignore[ni] = NULL;
    if (parse_filters(ctx, v, my_ignore, &fs, &nf))
        return 1;
    const struct class_desc *cd = &model_classes[v->cls];
    strbuf_init(&tmp, 64);
    db_rdlock();
    while (db_next(v->cls, &it, &r)) {
        if (!view_match(v, r, allow_dom0))
            continue;
        if (sval) {
            bool hit = streq(r->v[cd->uuid_field], sval) ||
                       (cd->name_label_field >= 0 && streq(r->v[cd->name_label_field], sval)) ||
                       (v->cls == C_host && streq(r->v[FIDX(host, hostname)], sval));
            if (!hit)
                continue;
        }
        bool keep = true;
        for (size_t i = 0; keep && i < nf; i++)
            keep = filter_match(v, &fs[i], r, &tmp);
        if (!keep)
            continue;
        refs = xrealloc(refs, (n + 1) * sizeof(char *));
        call_filters_take(v, fs, nf, r, n, &fp);
        refs[n++] = xstrdup(r->ref);
    }
    db_unlock();
    strbuf_done(&tmp);
    if (fp.n) {
        _cleanup_free_ bool *keep = xcalloc(n + 1, sizeof(bool));
        size_t kept = 0;
        for (size_t i = 0; i < n; i++)
            keep[i] = true;
        call_filters_decide(ctx, fs, &fp, keep);
        for (size_t i = 0; i < n; i++) {
            if (keep[i])
                refs[kept++] = refs[i];
            else
                free(refs[i]);
        }
        n = kept;
    }
    free(fs);
    const char *what = v->cls == C_VM ? "VMs" : "hosts";
    if (n == 0)
        return free(refs), cli_fail(ctx, "No matching %s found", what);
    if (n > 1 && !cli_arg_bool(ctx, "multiple", false)) {
        for (size_t i = 0; i < n; i++)
            free(refs[i]);
        free(refs);
        return v->cls == C_VM ? cli_fail(ctx, "Multiple matches VMs found. --multiple required to "
                                              "complete the operation")
                              : cli_fail(ctx, "Multiple matching hosts found. --multiple required "
                                              "to complete the operation");
    }
    *ret_refs = refs;
    *ret_n = n;
    return 0;
}

int cli_event_match(struct cli_ctx *ctx, int view)
{
    const struct view *v = &views[view];
    struct strbuf tmp;
    size_t it = 0;
    const struct row *r;
    int found = 0;

    for (size_t i = 0; i < ctx->n_args; i++)
        if (!streq(ctx->args[i].name, "class") && !cli_is_stdparam(ctx->args[i].name) &&
            !view_field(v, ctx->args[i].name)) {
            cli_fail(ctx, "key missing: %s", ctx->args[i].name);
            return -1;
        }
    strbuf_init(&tmp, 64);
    db_rdlock();
    while (!found && db_next(v->cls, &it, &r)) {
        bool keep = view_match(v, r, true);
        for (size_t i = 0; keep && i < ctx->n_args; i++) {
            const char *name = ctx->args[i].name, *want = ctx->args[i].value;
            if (streq(name, "class") || cli_is_stdparam(name))
                continue;
            bool neg = strncmp(want, "/=", 2) == 0;
            render_field(v, view_field(v, name), r, &tmp);
            keep = streq(tmp.buf ? tmp.buf : "", neg ? want + 2 : want) != neg;
        }
        found = keep;
    }
    db_unlock();
    strbuf_done(&tmp);
    return found;
}

char *cli_uuid_of(int cls, const char *ref)
{
    char *u = NULL;
    db_rdlock();
    const struct row *r = db_get(cls, ref);
    if (r && model_classes[cls].uuid_field >= 0)
        u = xstrdup(r->v[model_classes[cls].uuid_field]);
    db_unlock();
    return u;
}

char *cli_ref_of(int cls, const char *uuid)
{
    char *ref = NULL;
    if (cls < 0 || !(model_classes[cls].flags & CF_DB))
        return NULL;
    db_rdlock();
    const struct row *r = db_get_by_uuid(cls, uuid);
    if (r)
        ref = xstrdup(r->ref);
    db_unlock();
    return ref;
}

char *cli_field_of(int cls, const char *ref, int field)
{
    struct strbuf scratch;
    char *v = NULL;
    strbuf_init(&scratch, 0);
    db_rdlock();
    const struct row *r = db_get(cls, ref);
    if (r)
        v = xstrdup(db_value(r, field, &scratch));
    db_unlock();
    strbuf_done(&scratch);
    return v;
}

/* ---- the generated commands ---- */

static const char *const req_uuid[] = {"uuid", NULL};
static const char *const req_get[] = {"uuid", "param-name", NULL};
static const char *const opt_get[] = {"param-key", NULL};
static const char *const req_remove[] = {"uuid", "param-name", "param-key", NULL};
static const char *const opt_add[] = {"param-key", NULL};
static const char *const opt_list[] = {"params", NULL};

static void add_cmd(struct cli_cmd **cmds, size_t *n, size_t *cap, struct cli_cmd c)
{
    if (*n == *cap) {
        *cap = *cap ? 2 * *cap : 256;
        *cmds = xrealloc(*cmds, *cap * sizeof(**cmds));
    }
    (*cmds)[(*n)++] = c;
}

void cli_records_commands(struct cli_cmd **cmds, size_t *n, size_t *cap)
{
    for (size_t i = 0; i < ELEMENTSOF(views); i++) {
        struct view *v = &views[i];
        bool any_rw = false, any_coll = false;
        int vi = (int)i;

        view_build(v);
        for (size_t j = 0; j < v->n_fields; j++) {
            enum cf_tag t = v->fields[j].d->tag;
            if (v->fields[j].writable) {
                any_rw = true;
                any_coll |= t == TAG_SRW || t == TAG_MRW;
            }
        }
        const char *nm = v->name;
        add_cmd(cmds, n, cap,
                (struct cli_cmd){
                    xasprintf("%s-list", nm), NULL, opt_list,
                    xasprintf("Lists all the %ss, filtered by the optional arguments.", nm), 0,
                    cmd_list, vi, NULL});
        add_cmd(cmds, n, cap,
                (struct cli_cmd){xasprintf("%s-param-list", nm), req_uuid, NULL,
                                 xasprintf("Lists all the parameters of the %s.", nm), 0,
                                 cmd_param_list, vi, NULL});
        add_cmd(cmds, n, cap,
                (struct cli_cmd){xasprintf("%s-param-get", nm), req_get, opt_get,
                                 xasprintf("Gets one parameter of the %s.", nm), 0, cmd_param_get,
                                 vi, NULL});
        if (!any_rw)
            continue;
        add_cmd(cmds, n, cap,
                (struct cli_cmd){xasprintf("%s-param-set", nm), req_uuid, NULL,
                                 xasprintf("Sets parameters of the %s.", nm), 0, cmd_param_set, vi,
                                 NULL});
        add_cmd(cmds, n, cap,
                (struct cli_cmd){xasprintf("%s-param-clear", nm), req_get, NULL,
                                 xasprintf("Clears a parameter of the %s.", nm), 0, cmd_param_clear,
                                 vi, NULL});
        if (!any_coll)
            continue;
        add_cmd(cmds, n, cap,
                (struct cli_cmd){xasprintf("%s-param-add", nm), req_get, opt_add,
                                 xasprintf("Adds to a set or map parameter of the %s.", nm), 0,
                                 cmd_param_add, vi, NULL});
        add_cmd(
            cmds, n, cap,
            (struct cli_cmd){xasprintf("%s-param-remove", nm), req_remove, NULL,
                             xasprintf("Removes a key from a set or map parameter of the %s.", nm),
                             0, cmd_param_remove, vi, NULL});
    }
}
