/* The pure half of the lvm driver (see lvm.h): names, command lines and
 * lvm2's JSON reports. */
#include "storaged/lvm.h"

#include <ctype.h>
#include <errno.h>
#include <json-c/json.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/cleanup.h"

char *lvm_vg_name(const char *sr_uuid)
{
    return xasprintf(LVM_VG_PREFIX "%s", sr_uuid);
}

bool lvm_vg_uuid(const char *vg_name, char out[UUID_STR_LEN])
{
    size_t plen = strlen(LVM_VG_PREFIX);

    if (strncmp(vg_name, LVM_VG_PREFIX, plen) != 0 || strlen(vg_name + plen) != UUID_STR_LEN - 1 ||
        !uuid_is_valid(vg_name + plen))
        return false;
    memcpy(out, vg_name + plen, UUID_STR_LEN);
    return true;
}

char *lvm_lv_name(const char *vdi_uuid)
{
    return xasprintf(LVM_LV_PREFIX "%s", vdi_uuid);
}

bool lvm_lv_uuid(const char *lv_name, char out[UUID_STR_LEN])
{
    size_t plen = strlen(LVM_LV_PREFIX);

    if (strncmp(lv_name, LVM_LV_PREFIX, plen) != 0 || strlen(lv_name + plen) != UUID_STR_LEN - 1 ||
        !uuid_is_valid(lv_name + plen))
        return false;
    memcpy(out, lv_name + plen, UUID_STR_LEN);
    return true;
}

char *lvm_lv_path(const char *vg, const char *lv)
{
    return xasprintf("/dev/%s/%s", vg, lv);
}

void lvm_cmd_done(struct lvm_cmd *cmd)
{
    for (size_t i = 0; i < cmd->n; i++)
        free(cmd->argv[i]);
    cmd->n = 0;
    cmd->argv[0] = NULL;
}

/* Appends the NULL-terminated list of words to cmd. */
static void words(struct lvm_cmd *cmd, ...)
{
    va_list ap;
    const char *w;

    va_start(ap, cmd);
    while ((w = va_arg(ap, const char *)) && cmd->n < sizeof(cmd->argv) / sizeof(*cmd->argv) - 1)
        cmd->argv[cmd->n++] = xstrdup(w);
    va_end(ap);
    cmd->argv[cmd->n] = NULL;
}

static void word_owned(struct lvm_cmd *cmd, char *w)
{
    cmd->argv[cmd->n++] = w;
    cmd->argv[cmd->n] = NULL;
}

/* A VG or LV name lvm would take for what it is: not empty, not an
 * option, no path separator. Ours are always made by lvm_*_name; this
 * keeps a wrong caller from turning a name into an option. */
static bool name_ok(const char *s)
{
    return s && *s && *s != '-' && !strchr(s, '/') && !strchr(s, ' ');
}

static const char *const REPORT_LVS_FIELDS =
    "lv_name,lv_size,lv_attr,pool_lv,origin,data_percent,lv_tags";
static const char *const REPORT_VGS_FIELDS = "vg_name,vg_size,vg_free";
static const char *const REPORT_PVS_FIELDS = "pv_name,vg_name";

int lvm_cmd_build(enum lvm_op op, const struct lvm_args *a, struct lvm_cmd *ret)
{
    struct lvm_cmd c = {.n = 0};
    bool need_dev =
        op == LVM_PVCREATE || op == LVM_VGCREATE || op == LVM_PVREMOVE || op == LVM_REPORT_PVS;
    bool need_vg = op != LVM_PVCREATE && op != LVM_PVREMOVE && op != LVM_REPORT_PVS;
    bool need_lv = op == LVM_THIN_CREATE || op == LVM_SNAPSHOT || op == LVM_EXTEND ||
                   op == LVM_REMOVE || op == LVM_ADDTAG;
    bool need_size = op == LVM_THIN_CREATE || op == LVM_EXTEND;

    if ((need_dev && (!a->dev || a->dev[0] != '/')) || (need_vg && !name_ok(a->vg)) ||
        (need_lv && !name_ok(a->lv)) || (a->lv && !name_ok(a->lv)) ||
        (op == LVM_SNAPSHOT && !name_ok(a->new_lv)) || (need_size && a->size <= 0) ||
        (a->devices && a->devices[0] != '/'))
        return -EINVAL;
    switch (op) {
    case LVM_PVCREATE:
        words(&c, "pvcreate", "-q", "-y", a->dev, NULL);
        break;
    case LVM_VGCREATE:
        words(&c, "vgcreate", "-q", a->vg, a->dev, NULL);
        break;
    case LVM_MGT_CREATE:
        words(&c, "lvcreate", "-q", "-y", "-L", LVM_MGT_SIZE, "-n", LVM_MGT_LV, a->vg, NULL);
        break;
    case LVM_POOL_CREATE:
        words(&c, "lvcreate", "-q", "-y", "--type", "thin-pool", "-l", "100%FREE", "-n",
              LVM_POOL_LV, a->vg, NULL);
        break;
    case LVM_THIN_CREATE:
        words(&c, "lvcreate", "-q", "-y", "--thin", "-V", NULL);
        word_owned(&c, xasprintf("%lldb", (long long)a->size));
        words(&c, "-n", a->lv, "--addtag", LVM_TAG, NULL);
        word_owned(&c, xasprintf("%s/%s", a->vg, LVM_POOL_LV));
        break;
    case LVM_SNAPSHOT:
        /* -kn: thin snapshots skip activation by default; a VDI must not. */
        words(&c, "lvcreate", "-q", "-y", "-s", "-kn", "-n", a->new_lv, "--addtag", LVM_TAG, NULL);
        word_owned(&c, xasprintf("%s/%s", a->vg, a->lv));
        break;
    case LVM_EXTEND:
        words(&c, "lvextend", "-q", "-L", NULL);
        word_owned(&c, xasprintf("%lldb", (long long)a->size));
        word_owned(&c, xasprintf("%s/%s", a->vg, a->lv));
        break;
    case LVM_REMOVE:
        words(&c, "lvremove", "-q", "-y", NULL);
        word_owned(&c, xasprintf("%s/%s", a->vg, a->lv));
        break;
    case LVM_ACTIVATE:
    case LVM_DEACTIVATE: {
        const char *flag = op == LVM_ACTIVATE ? "-ay" : "-an";
        if (a->lv) {
            words(&c, "lvchange", "-q", flag, NULL);
            word_owned(&c, xasprintf("%s/%s", a->vg, a->lv));
        } else {
            words(&c, "vgchange", "-q", flag, a->vg, NULL);
        }
        break;
    }
    case LVM_VGREMOVE:
        words(&c, "vgremove", "-q", "-y", "-f", a->vg, NULL);
        break;
    case LVM_PVREMOVE:
        words(&c, "pvremove", "-q", "-y", a->dev, NULL);
        break;
    case LVM_REPORT_LVS:
        words(&c, "lvs", "--reportformat", "json", "--units", "b", "--nosuffix", "-o",
              REPORT_LVS_FIELDS, a->vg, NULL);
        break;
    case LVM_REPORT_VGS:
        words(&c, "vgs", "--reportformat", "json", "--units", "b", "--nosuffix", "-o",
              REPORT_VGS_FIELDS, a->vg, NULL);
        break;
    case LVM_REPORT_PVS:
        words(&c, "pvs", "--reportformat", "json", "-o", REPORT_PVS_FIELDS, a->dev, NULL);
        break;
    case LVM_ADDTAG:
        words(&c, "lvchange", "-q", "--addtag", LVM_TAG, NULL);
        word_owned(&c, xasprintf("%s/%s", a->vg, a->lv));
        break;
    default:
        return -EINVAL;
    }
    if (a->devices) {
        /* Right after the command's name, before its positional words. */
        memmove(&c.argv[3], &c.argv[1], c.n * sizeof(*c.argv)); /* argv[n] is NULL */
        c.argv[1] = xstrdup("--devices");
        c.argv[2] = xstrdup(a->devices);
        c.n += 2;
    }
    *ret = c;
    return 0;
}

void lvm_lvs_free(struct lvm_lv *lvs, size_t n)
{
    for (size_t i = 0; lvs && i < n; i++) {
        free(lvs[i].name);
        free(lvs[i].pool);
        free(lvs[i].origin);
    }
    free(lvs);
}

void lvm_vg_done(struct lvm_vg *vg)
{
    free(vg->name);
    memset(vg, 0, sizeof(*vg));
}

/* The first report's array named kind ("lv", "vg"), borrowed from o. */
static int report_rows(json_object *o, const char *kind, json_object **ret, char **ret_why)
{
    json_object *rep, *first, *rows;

    if (!o || !json_object_is_type(o, json_type_object) ||
        !json_object_object_get_ex(o, "report", &rep) ||
        !json_object_is_type(rep, json_type_array) || json_object_array_length(rep) < 1 ||
        !(first = json_object_array_get_idx(rep, 0)) ||
        !json_object_is_type(first, json_type_object) ||
        !json_object_object_get_ex(first, kind, &rows) ||
        !json_object_is_type(rows, json_type_array)) {
        if (ret_why)
            *ret_why = xasprintf("not an lvm2 JSON report with a \"%s\" list", kind);
        return -EBADMSG;
    }
    *ret = rows;
    return 0;
}

/* The string field k of row, or NULL (with *ret_why set) if it is absent
 * or not a string. */
static const char *field(json_object *row, const char *k, char **ret_why)
{
    json_object *v;

    if (!json_object_is_type(row, json_type_object) || !json_object_object_get_ex(row, k, &v) ||
        !json_object_is_type(v, json_type_string)) {
        if (ret_why && !*ret_why)
            *ret_why = xasprintf("a report row has no string field %s", k);
        return NULL;
    }
    return json_object_get_string(v);
}

/* True if lv_tags (comma-separated, as lvs prints them) holds LVM_TAG. */
static bool has_tag(const char *tags)
{
    size_t len = strlen(LVM_TAG);

    for (const char *p = tags; p && *p; p = strchr(p, ',') ? strchr(p, ',') + 1 : NULL)
        if (strncmp(p, LVM_TAG, len) == 0 && (p[len] == ',' || p[len] == '\0'))
            return true;
    return false;
}

/* A byte count as lvm prints it with --units b --nosuffix. */
static bool parse_bytes(const char *s, int64_t *ret)
{
    int64_t v = 0;

    if (!s || !*s || strlen(s) > 18)
        return false;
    for (const char *p = s; *p; p++) {
        if (!isdigit((unsigned char)*p))
            return false;
        v = v * 10 + (*p - '0');
    }
    *ret = v;
    return true;
}

/* "12.34" as lvm prints a percentage, or "" for none (-1). */
static bool parse_percent(const char *s, double *ret)
{
    char *end;

    if (!*s) {
        *ret = -1;
        return true;
    }
    if (!isdigit((unsigned char)*s))
        return false;
    double v = strtod(s, &end);
    if (*end || v < 0 || v > 100)
        return false;
    *ret = v;
    return true;
}

int lvm_parse_lvs(const char *text, struct lvm_lv **ret, size_t *ret_n, char **ret_why)
{
    json_object *o = json_tokener_parse(text), *rows = NULL;
    char *why = NULL;
    struct lvm_lv *lvs = NULL;
    size_t n = 0;
    int r = report_rows(o, "lv", &rows, &why);

    if (r == 0) {
        size_t len = json_object_array_length(rows);
        lvs = xcalloc(len ? len : 1, sizeof(*lvs));
        for (; n < len && !why; n++) {
            json_object *row = json_object_array_get_idx(rows, n);
            struct lvm_lv *lv = &lvs[n];
            const char *name = field(row, "lv_name", &why), *size = field(row, "lv_size", &why);
            const char *attr = field(row, "lv_attr", &why), *pool = field(row, "pool_lv", &why);
            const char *origin = field(row, "origin", &why);
            const char *pct = field(row, "data_percent", &why);
            json_object *tags = NULL;
            if (why)
                break;
            /* Older reports (and LVs without tags) may not have it. */
            if (json_object_object_get_ex(row, "lv_tags", &tags) &&
                json_object_is_type(tags, json_type_string))
                lv->tagged = has_tag(json_object_get_string(tags));
            lv->name = xstrdup(name);
            lv->pool = xstrdup(pool);
            lv->origin = xstrdup(origin);
            if (!*name)
                why = xasprintf("an LV without a name");
            else if (!parse_bytes(size, &lv->size))
                why = xasprintf("LV %s has size \"%s\", not a byte count", name, size);
            else if (strlen(attr) >= sizeof(lv->attr))
                why = xasprintf("LV %s has a bad lv_attr", name);
            else if (!parse_percent(pct, &lv->data_percent))
                why = xasprintf("LV %s has data_percent \"%s\"", name, pct);
            else
                snprintf(lv->attr, sizeof(lv->attr), "%s", attr);
        }
        if (why) {
            lvm_lvs_free(lvs, len); /* calloc'd: rows not reached hold NULLs */
            r = -EBADMSG;
        }
    }
    json_object_put(o);
    if (r < 0) {
        if (ret_why)
            *ret_why = why;
        else
            free(why);
        return r;
    }
    *ret = lvs;
    *ret_n = n;
    return 0;
}

int lvm_parse_vgs(const char *text, struct lvm_vg *ret, char **ret_why)
{
    json_object *o = json_tokener_parse(text), *rows = NULL;
    char *why = NULL;
    struct lvm_vg vg = {0};
    int r = report_rows(o, "vg", &rows, &why);

    if (r == 0 && json_object_array_length(rows) == 0) {
        why = xasprintf("the report lists no VG");
        r = -ENOENT;
    } else if (r == 0) {
        json_object *row = json_object_array_get_idx(rows, 0);
        const char *name = field(row, "vg_name", &why), *size = field(row, "vg_size", &why);
        const char *free_ = field(row, "vg_free", &why);
        if (!why &&
            (!parse_bytes(size, &vg.size) || !parse_bytes(free_, &vg.free) || vg.free > vg.size))
            why = xasprintf("VG %s has sizes \"%s\" and \"%s\"", name, size, free_);
        if (why)
            r = -EBADMSG;
        else
            vg.name = xstrdup(name);
    }
    json_object_put(o);
    if (r < 0) {
        if (ret_why)
            *ret_why = why;
        else
            free(why);
        return r;
    }
    *ret = vg;
    return 0;
}

int64_t lvm_lv_used(const struct lvm_lv *lv)
{
    if (lv->data_percent < 0)
        return 0;
    /* In double, a size near 2^63 can round up past itself. */
    int64_t used = (int64_t)((double)lv->size * (lv->data_percent / 100.0));
    return used < lv->size ? used : lv->size;
}

bool lvm_lv_active(const struct lvm_lv *lv)
{
    return strlen(lv->attr) >= 5 && lv->attr[4] == 'a';
}

int lvm_parse_pvs(const char *text, char **ret_vg, char **ret_why)
{
    json_object *o = json_tokener_parse(text), *rows = NULL;
    char *why = NULL;
    int r = report_rows(o, "pv", &rows, &why);

    if (r == 0 && json_object_array_length(rows) == 0) {
        why = xasprintf("the report lists no PV");
        r = -ENOENT;
    } else if (r == 0) {
        const char *vg = field(json_object_array_get_idx(rows, 0), "vg_name", &why);
        if (why)
            r = -EBADMSG;
        else
            *ret_vg = xstrdup(vg);
    }
    json_object_put(o);
    if (r < 0) {
        if (ret_why)
            *ret_why = why;
        else
            free(why);
    }
    return r;
}

const struct lvm_lv *lvm_find_lv(const struct lvm_lv *lvs, size_t n, const char *name)
{
    for (size_t i = 0; i < n; i++)
        if (streq(lvs[i].name, name))
            return &lvs[i];
    return NULL;
}

int64_t lvm_sr_used(const struct lvm_vg *vg, const struct lvm_lv *lvs, size_t n)
{
    const struct lvm_lv *pool = lvm_find_lv(lvs, n, LVM_POOL_LV);
    int64_t outside = vg->size - vg->free;

    if (!pool)
        return outside;
    outside -= pool->size;
    return (outside > 0 ? outside : 0) + lvm_lv_used(pool);
}

int64_t lvm_pool_free(const struct lvm_lv *lvs, size_t n)
{
    const struct lvm_lv *pool = lvm_find_lv(lvs, n, LVM_POOL_LV);

    return pool ? pool->size - lvm_lv_used(pool) : -1;
}

static void push_uuid(char (**v)[UUID_STR_LEN], size_t *n, const char *uuid)
{
    *v = xrealloc(*v, (*n + 1) * sizeof(**v));
    memcpy((*v)[(*n)++], uuid, UUID_STR_LEN);
}

void lvm_plan_recover(const struct sr_meta *m, const struct lvm_lv *lvs, size_t n,
                      struct lvm_plan *ret)
{
    struct lvm_plan p = {0};
    char uuid[UUID_STR_LEN];

    for (size_t i = 0; i < n; i++)
        if (lvm_lv_uuid(lvs[i].name, uuid) && !sr_meta_find(m, uuid)) {
            if (lvs[i].tagged)
                push_uuid(&p.orphans, &p.n_orphans, uuid);
            else
                push_uuid(&p.foreign, &p.n_foreign, uuid);
        }
    for (size_t i = 0; i < m->n_vdis; i++) {
        const struct vdi_meta *v = &m->vdis[i];
        _cleanup_free_ char *name = lvm_lv_name(v->uuid);
        const struct lvm_lv *lv = lvm_find_lv(lvs, n, name);
        if (!lv) {
            push_uuid(&p.missing, &p.n_missing, v->uuid);
        } else if (lv->size != v->virtual_size) {
            push_uuid(&p.resized, &p.n_resized, v->uuid);
            p.sizes = xrealloc(p.sizes, p.n_resized * sizeof(*p.sizes));
            p.sizes[p.n_resized - 1] = lv->size;
        }
    }
    *ret = p;
}

void lvm_plan_done(struct lvm_plan *p)
{
    free(p->orphans);
    free(p->foreign);
    free(p->missing);
    free(p->resized);
    free(p->sizes);
    memset(p, 0, sizeof(*p));
}
