/* The generic commands of every class (xe-cli.md 1.5, 1.7): <view>-list,
 * -param-list, -param-get, -param-set, -param-add, -param-remove and
 * -param-clear, and the selectors of 1.4. A class view names a class of the
 * data model, its default filters and default columns; its fields are
 * derived from the model once at start: the CLI name is the field's name
 * with hyphens, a reference to an object of the class the field is named
 * after becomes <class>-uuid followed by <class>-name-label, and the key
 * annotation ( RO)/( RW)/(SRO)/(SRW)/(MRO)/(MRW) follows the qualifier and
 * the type. Reads take the database's read lock and never hold it while
 * talking to the client; writes go through the API's own setters. */
#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "lib/strlist.h"
#include "lib/util.h"
#include "xapi-c/api.h"
#include "xapi-c/db.h"
#include "xapi-c/marshal.h"
#include "xapi-c/model.h"

enum cfield_kind {
    CF_RAW,  /* the field's own value */
    CF_NAME, /* the name-label of the object a ref field names */
};

/* One field as the CLI shows it. */
struct cfield {
    char *name; /* "name-label", "vm-uuid" */
    char *key;  /* "name-label ( RW)" */
    int field;  /* index in the class */
    enum cfield_kind kind;
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

static void view_add(struct view *v, size_t *cap, char *name, const char *tag, bool deprecated,
                     int field, enum cfield_kind kind, bool writable)
{
    if (v->n_fields == *cap) {
        *cap = *cap ? 2 * *cap : 32;
        v->fields = xrealloc(v->fields, *cap * sizeof(*v->fields));
    }
    v->fields[v->n_fields++] = (struct cfield){
        .name = name,
        .key = xasprintf("%s %s%s", name, tag, deprecated ? " [DEPRECATED]" : ""),
        .field = field,
        .kind = kind,
        .writable = writable,
    };
}

static void view_build(struct view *v)
{
    const struct class_desc *cd = &model_classes[v->cls];
    size_t cap = 0;

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
        bool dep = f->state == S_DEPRECATED;
        const char *tag = t->kind == T_MAP   ? (rw ? "(MRW)" : "(MRO)")
                          : t->kind == T_SET ? (rw ? "(SRW)" : "(SRO)")
                          : rw               ? "( RW)"
                                             : "( RO)";

        if (f->state == S_REMOVED)
            continue;
        if (t->kind == T_REF && t->cls >= 0) {
            const struct class_desc *target = &model_classes[t->cls];
            _cleanup_free_ char *lf = lower(f->name), *lc = lower(target->name);
            /* VBD.VM is shown as vm-uuid and vm-name-label, as xe does. */
            if (streq(lf, lc)) {
                view_add(v, &cap, xasprintf("%s-uuid", lc), tag, dep, i, CF_RAW, rw);
                if (target->name_label_field >= 0)
                    view_add(v, &cap, xasprintf("%s-name-label", lc), "( RO)", dep, i, CF_NAME,
                             false);
                continue;
            }
            if (strncmp(f->name, "suspend_", 8) == 0) {
                _cleanup_free_ char *n = cli_name(f->name);
                view_add(v, &cap, xasprintf("%s-uuid", n), tag, dep, i, CF_RAW, rw);
                continue;
            }
        }
        view_add(v, &cap, cli_name(f->name), tag, dep, i, CF_RAW, rw);
    }
}

static const struct cfield *view_field(const struct view *v, const char *name)
{
    for (size_t i = 0; i < v->n_fields; i++)
        if (streq(v->fields[i].name, name))
            return &v->fields[i];
    return NULL;
}

int cli_view_by_name(const char *name)
{
    for (size_t i = 0; i < ELEMENTSOF(views); i++)
        if (streq(views[i].name, name))
            return (int)i;
    return -1;
}

/* ---- rendering (the lock must be held) ---- */

static void render(const struct type *t, const char *canon, struct strbuf *out);

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

static void render(const struct type *t, const char *canon, struct strbuf *out)
{
    switch (t->kind) {
    case T_REF:
        render_ref(t->cls, canon, out, false);
        return;
    case T_FLOAT:
        strbuf_addf(out, "%.3f", strtod(canon, NULL));
        return;
    case T_ENUM:
        if (t->en && streq(t->en->name, "vm_power_state")) {
            _cleanup_free_ char *l = lower(canon);
            strbuf_adds(out, l);
        } else
            strbuf_adds(out, canon);
        return;
    case T_SET:
    case T_MAP: {
        struct strlist_iter it;
        const char *k, *v;
        bool first = true;
        strlist_iter_init(&it, canon);
        while (strlist_iter_next(&it, &k, &v)) {
            if (!first)
                strbuf_adds(out, "; ");
            first = false;
            if (t->kind == T_MAP) {
                render(t->key, k, out);
                strbuf_adds(out, ": ");
            }
            render(t->elem, v, out);
        }
        strlist_iter_done(&it);
        return;
    }
    default:
        strbuf_adds(out, canon ? canon : "");
        return;
    }
}

/* The rendered value of a CLI field of a row, into out (reset first). */
static void render_field(const struct view *v, const struct cfield *cf, const struct row *r,
                         struct strbuf *out)
{
    const struct field_desc *f = &model_classes[v->cls].fields[cf->field];
    struct strbuf scratch;

    strbuf_reset(out);
    strbuf_init(&scratch, 0);
    const char *canon = db_value(r, cf->field, &scratch);
    if (cf->kind == CF_NAME)
        render_ref(f->type->cls, canon, out, true);
    else
        render(f->type, canon ? canon : "", out);
    strbuf_done(&scratch);
}

/* ---- filters ---- */

enum filter_kind { FK_FIELD, FK_MAP_KEY, FK_SET_CONTAINS };

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
            const struct type *t = cf ? model_classes[v->cls].fields[cf->field].type : NULL;
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
            fs[n++] = (struct filter){FK_FIELD, cf, NULL, ctx->args[i].value};
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
    const struct field_desc *fd = &model_classes[v->cls].fields[f->cf->field];
    struct strbuf scratch;
    bool match = false;

    if (f->kind == FK_FIELD) {
        render_field(v, f->cf, r, tmp);
        if (fd->type->kind != T_MAP && strcasecmp(fd->name, "MAC") == 0)
            return strcasecmp(tmp->buf ? tmp->buf : "", f->value) == 0;
        return streq(tmp->buf ? tmp->buf : "", f->value);
    }
    strbuf_init(&scratch, 0);
    const char *canon = db_value(r, f->cf->field, &scratch);
    struct strlist_iter it;
    const char *k, *val;
    strlist_iter_init(&it, canon);
    while (!match && strlist_iter_next(&it, &k, &val)) {
        if (f->kind == FK_MAP_KEY) {
            match = streq(k, f->key) && streq(val, f->value);
        } else {
            strbuf_reset(tmp);
            render(fd->type->elem, val, tmp);
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

static void build_record(const struct view *v, const struct row *r, const char *const *cols,
                         const char *params, struct cli_record *rec)
{
    struct strbuf val;
    strbuf_init(&val, 64);
    for (size_t i = 0; i < v->n_fields; i++) {
        const struct cfield *cf = &v->fields[i];
        if (!wanted(cf, cols, params))
            continue;
        render_field(v, cf, r, &val);
        cli_record_add(rec, cf->key, val.buf ? val.buf : "");
    }
    strbuf_done(&val);
}

static void print_records(struct cli_ctx *ctx, struct cli_record *recs, size_t n)
{
    for (size_t i = 0; i < n; i++) {
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
        build_record(v, r, v->columns, params, &recs[n]);
        n++;
    }
    db_unlock();
    strbuf_done(&tmp);
    free(fs);
    print_records(ctx, recs, n);
    return 0;
}

/* Finds the object uuid= names; prints UUID_INVALID and returns 1 if
 * none. On success the db read lock is held. */
static int lookup_locked(struct cli_ctx *ctx, const struct view *v, const struct row **ret)
{
    const char *uuid = cli_arg(ctx, "uuid");
    db_rdlock();
    const struct row *r = db_get_by_uuid(v->cls, uuid);
    if (!r || !view_match(v, r, true)) {
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
    const struct row *r;

    if (lookup_locked(ctx, v, &r)) {
        free(rec);
        return 1;
    }
    build_record(v, r, NULL, NULL, rec);
    db_unlock();
    print_records(ctx, rec, 1);
    return 0;
}

static int cmd_param_get(struct cli_ctx *ctx)
{
    const struct view *v = &views[ctx->cmd->view];
    const char *pname = cli_arg(ctx, "param-name"), *pkey = cli_arg(ctx, "param-key");
    const struct cfield *cf = view_field(v, pname);
    const struct row *r;
    _cleanup_free_ char *text = NULL;
    struct strbuf val;

    if (lookup_locked(ctx, v, &r))
        return 1;
    if (!cf) {
        db_unlock();
        return cli_fail(ctx, "Unknown field '%s'", pname);
    }
    const struct field_desc *fd = &model_classes[v->cls].fields[cf->field];
    strbuf_init(&val, 64);
    if (pkey && fd->type->kind == T_MAP && cf->kind == CF_RAW) {
        struct strbuf scratch;
        strbuf_init(&scratch, 0);
        char *raw = strmap_get(db_value(r, cf->field, &scratch), pkey);
        strbuf_done(&scratch);
        if (raw)
            render(fd->type->elem, raw, &val);
        free(raw);
        db_unlock();
        if (!raw) {
            strbuf_done(&val);
            return cli_fail(ctx, "Key %s not found in map", pkey);
        }
    } else {
        render_field(v, cf, r, &val);
        db_unlock();
    }
    text = strbuf_detach(&val, NULL);
    strbuf_done(&val);
    cli_print_item(ctx, text ? text : "");
    return 0;
}

/* ---- writes ---- */

/* Parses a size with an optional binary suffix (xe-cli.md 1.1). */
static int parse_size(const char *s, int64_t *ret)
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
        if (parse_size(text, &v) < 0)
            return cli_fail(ctx,
                            "Failed to parse field '%s': expecting an integer (possibly with "
                            "suffix KiB, MiB, GiB, TiB), got '%s'",
                            fname, text);
        *ret = xasprintf("%" PRId64, v);
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
    if (!cf->writable)
        return cli_fail(ctx, "Field '%s' is read-only.", cf->name);
    /* A key that exists is replaced: remove it first, as xe does. */
    api_error_free(field_call(ctx, v, "remove_from_", cf->field, ref, key, NULL));
    if ((e = field_call(ctx, v, "add_to_", cf->field, ref, key, value)))
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
            if (!cf || model_classes[v->cls].fields[cf->field].type->kind != T_MAP)
                return cli_fail(ctx, "Unknown field '%s'", base);
            if (set_map_key(ctx, v, cf, ref, colon + 1, value))
                return 1;
            continue;
        }
        if (!(cf = view_field(v, name)))
            return cli_fail(ctx, "Unknown field '%s'", name);
        const struct type *t = model_classes[v->cls].fields[cf->field].type;
        if (t->kind == T_SET)
            return cli_fail(ctx, "Cannot param-set on set fields");
        if (t->kind == T_MAP)
            return cli_fail(ctx, "Field '%s' is a map or set. use the 'name:key=value' syntax.",
                            name);
        if (!cf->writable || cf->kind != CF_RAW)
            return cli_fail(ctx, "Field '%s' is read-only.", name);
        _cleanup_free_ char *canon = NULL;
        if (user_value(ctx, name, t, value, &canon))
            return 1;
        if ((e = field_call(ctx, v, "set_", cf->field, ref, canon, NULL)))
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
    enum type_kind k = model_classes[v->cls].fields[cf->field].type->kind;
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
    if (model_classes[v->cls].fields[cf->field].type->kind == T_SET) {
        const char *key = cli_arg(ctx, "param-key");
        if (!key)
            return cli_fail(ctx, "When adding a key to a set, use the syntax: *-param-add "
                                 "param-name=<name> param-key=<key>");
        if ((e = field_call(ctx, v, "add_", cf->field, ref, key, NULL)))
            return cli_fail_api(ctx, e);
        return 0;
    }
    for (size_t i = 0; i < ctx->n_args; i++) {
        const char *name = ctx->args[i].name;
        if (cli_is_stdparam(name) || streq(name, "uuid") || streq(name, "param-name") ||
            streq(name, "param-key"))
            continue;
        if ((e = field_call(ctx, v, "add_to_", cf->field, ref, name, ctx->args[i].value)))
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
    bool is_set = model_classes[v->cls].fields[cf->field].type->kind == T_SET;
    _cleanup_free_ char *text = collection_text(v, ref, cf->field);
    char *have = is_set ? NULL : strmap_get(text, key);
    bool present = is_set ? strlist_contains(text, key) : have != NULL;
    free(have);
    if (!present)
        return is_set ? cli_fail(ctx, "Key %s is not in the set", key)
                      : cli_fail(ctx, "Key %s is not in map", key);
    if ((e = field_call(ctx, v, is_set ? "remove_" : "remove_from_", cf->field, ref, key, NULL)))
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
    const struct type *t = model_classes[v->cls].fields[cf->field].type;
    if (!cf->writable || cf->kind != CF_RAW)
        return cli_fail(ctx, "Cannot clear this parameter");
    if (t->kind == T_SET || t->kind == T_MAP) {
        const char *empty = t->kind == T_SET ? "[]" : "{}";
        if ((e = field_call(ctx, v, "set_", cf->field, ref, empty, NULL)))
            return cli_fail_api(ctx, e);
        return 0;
    }
    _cleanup_free_ char *canon = NULL;
    if (user_value(ctx, pname, t, "", &canon))
        return cli_fail(ctx, "Cannot clear this parameter");
    if ((e = field_call(ctx, v, "set_", cf->field, ref, canon, NULL)))
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
        refs[n++] = xstrdup(r->ref);
    }
    db_unlock();
    strbuf_done(&tmp);
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
            enum type_kind k = model_classes[v->cls].fields[v->fields[j].field].type->kind;
            if (v->fields[j].writable) {
                any_rw = true;
                any_coll |= k == T_SET || k == T_MAP;
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
