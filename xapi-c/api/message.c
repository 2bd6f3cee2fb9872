/* Custom messages of class message: administrator alerts. They are rows
 * like any other here (xapi keeps them in files of their own); the lookups
 * that carry generic names are served by the generic code. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "xapi-c/api.h"
#include "xapi-c/db.h"
#include "lib/strlist.h"
#include "lib/util.h"

static struct api_error *create(struct call *c)
{
    char ref[64], when[DATETIME_LEN];
    char **vals = api_new_row(C_message, ref);
    datetime_format(time(NULL), when);
    api_set_val(vals, FIDX(message, name), arg_str(c, 1));
    api_set_val(vals, FIDX(message, priority), arg_str(c, 2));
    api_set_val(vals, FIDX(message, cls), arg_str(c, 3));
    api_set_val(vals, FIDX(message, obj_uuid), arg_str(c, 4));
    api_set_val(vals, FIDX(message, body), arg_str(c, 5));
    api_set_val(vals, FIDX(message, timestamp), when);
    struct changeset *cs = changeset_new();
    changeset_create(cs, C_message, ref, vals);
    db_wrlock();
    int r = db_apply(cs);
    db_unlock();
    changeset_free(cs);
    if (r < 0)
        return api_failf(INTERNAL_ERROR, "database: %s", strerror(-r));
    out_string(c->out, ref);
    return NULL;
}

/* Writes the messages newer than since and, when given, of one object. */
static struct api_error *select_since(struct call *c, const char *since_text, const char *cls,
                                      const char *obj_uuid)
{
    time_t since = 0;
    size_t it = 0;
    const struct row *r = NULL;
    datetime_parse(since_text, &since);
    db_rdlock();
    out_struct_begin(c->out);
    while (db_next(C_message, &it, &r)) {
        time_t t = 0;
        datetime_parse(r->v[FIDX(message, timestamp)], &t);
        if (t <= since && since > 0)
            continue;
        if (cls && (!streq(r->v[FIDX(message, cls)], cls) ||
                    !streq(r->v[FIDX(message, obj_uuid)], obj_uuid)))
            continue;
        out_member(c->out, r->ref);
        api_write_record(c->out, r);
    }
    out_struct_end(c->out);
    db_unlock();
    return NULL;
}

static struct api_error *get_since(struct call *c)
{
    return select_since(c, arg_str(c, 1), NULL, NULL);
}

static struct api_error *get(struct call *c)
{
    return select_since(c, arg_str(c, 3), arg_str(c, 1), arg_str(c, 2));
}

static struct api_error *destroy_refs(struct call *c, const char *const *refs, size_t n)
{
    struct api_error *e = NULL;
    const struct row *r = NULL;
    struct changeset *cs = changeset_new();
    db_wrlock();
    for (size_t i = 0; i < n && !e; i++)
        if (!(e = api_lookup(C_message, refs[i], &r)))
            changeset_delete(cs, C_message, r->ref);
    if (!e)
        db_apply(cs);
    db_unlock();
    changeset_free(cs);
    if (!e)
        out_void(c->out);
    return e;
}

static struct api_error *destroy(struct call *c)
{
    const char *ref = arg_str(c, 1);
    return destroy_refs(c, &ref, 1);
}

static struct api_error *destroy_many(struct call *c)
{
    struct strlist_iter it;
    const char *v;
    char **refs = NULL;
    size_t n = 0;
    strlist_iter_init(&it, arg_str(c, 1));
    while (strlist_iter_next(&it, NULL, &v)) {
        refs = xrealloc(refs, (n + 1) * sizeof(char *));
        refs[n++] = xstrdup(v);
    }
    strlist_iter_done(&it);
    struct api_error *e = destroy_refs(c, (const char *const *)refs, n);
    for (size_t i = 0; i < n; i++)
        free(refs[i]);
    free(refs);
    return e;
}

void message_register(void);
void message_register(void)
{
    api_register(M_message_create, create);
    api_register(M_message_get_since, get_since);
    api_register(M_message_get, get);
    api_register(M_message_destroy, destroy);
    api_register(M_message_destroy_many, destroy_many);
}
