/* The pool database: rows in memory, SQLite underneath, change sets as the
 * only way in (see db.h). */
#include "db.h"

#include <errno.h>
#include <json-c/json.h>
#include <pthread.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "lib/cleanup.h"
#include "lib/hashmap.h"
#include "lib/log.h"
#include "lib/strlist.h"
#include "lib/util.h"

LOG_MODULE("db");

/* Tombstones older than the newest MAX_TOMBSTONES are forgotten; a client
 * whose token is older than that still learns of deletions through
 * valid_ref_counts. */
#define MAX_TOMBSTONES 100000

struct reflist {
    char *key; /* the target ref: the index's key */
    size_t n, cap;
    const char **refs; /* borrowed from the rows that hold the ref */
};

struct relidx {
    int many_cls, many_field, one_cls, one_field;
    struct hashmap by_target; /* target ref -> struct reflist */
};

struct table {
    struct hashmap by_ref;
    struct hashmap by_uuid;
    /* Rows from the oldest change to the newest: event queries walk back
     * from the newest and stop at the first row older than their token. */
    struct row *oldest, *newest;
    int64_t max_gen; /* of its rows and tombstones: lets event queries skip it */
    bool persist;
    sqlite3_stmt *insert, *delete, *touch;
    sqlite3_stmt **set; /* per field, prepared on first use */
};

struct tomb {
    int cls;
    char *ref;
    int64_t gen, created_gen;
};

enum op_kind { OP_CREATE, OP_SET, OP_TOUCH, OP_DELETE };

struct op {
    enum op_kind kind;
    int cls;
    char *ref;
    int field;
    char *value;   /* OP_SET */
    char **values; /* OP_CREATE */
};

struct changeset {
    struct op *ops;
    size_t n, cap;
};

static struct {
    sqlite3 *sql;
    char *path;
    pthread_rwlock_t lock;
    struct table t[C__COUNT];
    struct relidx *rel;
    size_t n_rel;
    /* relations where a class is the ref-holding side, per class */
    size_t *rel_of[C__COUNT];
    size_t n_rel_of[C__COUNT];
    /* the relation that computes each field of a class, or -1 */
    int *rel_for[C__COUNT];
    struct tomb *tombs; /* in generation order */
    size_t n_tombs, cap_tombs;
    int64_t gen;
    pthread_mutex_t wait_lock;
    pthread_cond_t wait_cond;
    uint64_t kicks;
    sqlite3_stmt *put_meta, *add_tomb, *begin, *commit, *rollback;
} db;

/* ---- memory ---- */

static void row_free(const struct class_desc *c, struct row *r)
{
    if (!r)
        return;
    for (int i = 0; i < c->n_fields; i++)
        free(r->v[i]);
    free(r->ref);
    free(r);
}

static bool is_null_ref(const char *s)
{
    return !s || !*s || streq(s, "OpaqueRef:NULL");
}

static void reflist_add(struct relidx *ri, const char *target, const char *ref)
{
    struct reflist *l = hashmap_get(&ri->by_target, target);
    if (!l) {
        l = xcalloc(1, sizeof(*l));
        l->key = xstrdup(target);
        hashmap_put(&ri->by_target, l->key, l);
    }
    if (l->n == l->cap) {
        l->cap = l->cap ? l->cap * 2 : 4;
        l->refs = xrealloc(l->refs, l->cap * sizeof(*l->refs));
    }
    l->refs[l->n++] = ref;
}

static void reflist_remove(struct relidx *ri, const char *target, const char *ref)
{
    struct reflist *l = hashmap_get(&ri->by_target, target);
    if (!l)
        return;
    for (size_t i = 0; i < l->n; i++)
        if (streq(l->refs[i], ref)) {
            memmove(&l->refs[i], &l->refs[i + 1], (l->n - i - 1) * sizeof(*l->refs));
            l->n--;
            break;
        }
    if (l->n == 0) {
        hashmap_remove(&ri->by_target, target);
        free(l->key);
        free(l->refs);
        free(l);
    }
}

static void order_unlink(struct table *t, struct row *r)
{
    if (r->older)
        r->older->newer = r->newer;
    else if (t->oldest == r)
        t->oldest = r->newer;
    if (r->newer)
        r->newer->older = r->older;
    else if (t->newest == r)
        t->newest = r->older;
    r->older = r->newer = NULL;
}

static void order_append(struct table *t, struct row *r)
{
    r->older = t->newest;
    r->newer = NULL;
    if (t->newest)
        t->newest->newer = r;
    else
        t->oldest = r;
    t->newest = r;
}

/* Gives r the newest generation. */
static void bump(struct table *t, struct row *r, int64_t gen)
{
    r->gen = gen;
    if (gen > t->max_gen)
        t->max_gen = gen;
    order_unlink(t, r);
    order_append(t, r);
}

/* Records that the object target changed because a ref to it changed. */
static void touch_target(int cls, const char *target, int64_t gen, struct strbuf *dirty)
{
    struct row *t = hashmap_get(&db.t[cls].by_ref, target);
    if (!t)
        return;
    bump(&db.t[cls], t, gen);
    if (dirty) {
        /* Remember it for the SQL pass: class and ref, NUL separated. */
        strbuf_addf(dirty, "%d", cls);
        strbuf_addc(dirty, '\0');
        strbuf_add(dirty, t->ref, strlen(t->ref) + 1);
    }
}

static void index_row(const struct row *r, bool add, int only_field, int64_t gen,
                      struct strbuf *dirty)
{
    for (size_t k = 0; k < db.n_rel_of[r->cls]; k++) {
        struct relidx *ri = &db.rel[db.rel_of[r->cls][k]];
        if (only_field >= 0 && ri->many_field != only_field)
            continue;
        const char *target = r->v[ri->many_field];
        if (is_null_ref(target))
            continue;
        if (add)
            reflist_add(ri, target, r->ref);
        else
            reflist_remove(ri, target, r->ref);
        if (gen)
            touch_target(ri->one_cls, target, gen, dirty);
    }
}

const char *db_value(const struct row *r, int field, struct strbuf *scratch)
{
    const struct field_desc *f = &model_classes[r->cls].fields[field];
    if (!(f->flags & FF_COMPUTED))
        return r->v[field] ? r->v[field] : model_field_default(f);
    const struct hashmap *index = &db.rel[db.rel_for[r->cls][field]].by_target;
    if (index->count == 0) /* most relations of most pools are empty */
        return "[]";
    strbuf_reset(scratch);
    strbuf_addc(scratch, '[');
    struct reflist *l = hashmap_get(index, r->ref);
    for (size_t i = 0; l && i < l->n; i++) {
        if (i)
            strbuf_addc(scratch, ',');
        strlist_add_quoted(scratch, l->refs[i], strlen(l->refs[i]));
    }
    strbuf_addc(scratch, ']');
    return scratch->buf;
}

const struct row *db_get(int cls, const char *ref)
{
    return hashmap_get(&db.t[cls].by_ref, ref);
}

const struct row *db_get_by_uuid(int cls, const char *uuid)
{
    return hashmap_get(&db.t[cls].by_uuid, uuid);
}

size_t db_count(int cls)
{
    return db.t[cls].by_ref.count;
}

bool db_next(int cls, size_t *iter, const struct row **ret)
{
    void *v;
    if (!hashmap_next(&db.t[cls].by_ref, iter, NULL, &v))
        return false;
    *ret = v;
    return true;
}

int64_t db_generation(void)
{
    return db.gen;
}

void db_rdlock(void)
{
    pthread_rwlock_rdlock(&db.lock);
}

void db_wrlock(void)
{
    pthread_rwlock_wrlock(&db.lock);
}

void db_unlock(void)
{
    pthread_rwlock_unlock(&db.lock);
}

static void insert_row(struct row *r)
{
    struct table *t = &db.t[r->cls];
    const struct class_desc *c = &model_classes[r->cls];
    hashmap_put(&t->by_ref, r->ref, r);
    order_append(t, r);
    if (c->uuid_field >= 0 && r->v[c->uuid_field] && *r->v[c->uuid_field])
        hashmap_put(&t->by_uuid, r->v[c->uuid_field], r);
    if (r->gen > t->max_gen)
        t->max_gen = r->gen;
}

static void add_tomb(int cls, const char *ref, int64_t gen, int64_t created_gen)
{
    if (db.n_tombs == db.cap_tombs) {
        if (db.n_tombs >= MAX_TOMBSTONES) {
            size_t drop = db.n_tombs / 2;
            for (size_t i = 0; i < drop; i++)
                free(db.tombs[i].ref);
            memmove(db.tombs, db.tombs + drop, (db.n_tombs - drop) * sizeof(*db.tombs));
            db.n_tombs -= drop;
            if (db.sql) {
                char *sql = xasprintf("DELETE FROM _tombstones WHERE gen < %lld",
                                      (long long)db.tombs[0].gen);
                sqlite3_exec(db.sql, sql, NULL, NULL, NULL);
                free(sql);
            }
        } else {
            db.cap_tombs = db.cap_tombs ? db.cap_tombs * 2 : 256;
            db.tombs = xrealloc(db.tombs, db.cap_tombs * sizeof(*db.tombs));
        }
    }
    db.tombs[db.n_tombs++] = (struct tomb){cls, xstrdup(ref), gen, created_gen};
    if (gen > db.t[cls].max_gen)
        db.t[cls].max_gen = gen;
}

/* ---- SQLite ---- */

static int sql_exec(const char *sql)
{
    char *err = NULL;
    if (sqlite3_exec(db.sql, sql, NULL, NULL, &err) != SQLITE_OK) {
        log_error("SQL failed: %s: %s", err ? err : "?", sql);
        sqlite3_free(err);
        return -EIO;
    }
    return 0;
}

static sqlite3_stmt *sql_prepare(const char *sql)
{
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v3(db.sql, sql, -1, SQLITE_PREPARE_PERSISTENT, &st, NULL) != SQLITE_OK) {
        log_error("cannot prepare %s: %s", sql, sqlite3_errmsg(db.sql));
        return NULL;
    }
    return st;
}

static int sql_step_reset(sqlite3_stmt *st)
{
    int r = sqlite3_step(st);
    sqlite3_reset(st);
    sqlite3_clear_bindings(st);
    if (r != SQLITE_DONE && r != SQLITE_ROW) {
        log_error("SQL step failed: %s", sqlite3_errmsg(db.sql));
        return -EIO;
    }
    return 0;
}

static bool stored(const struct field_desc *f)
{
    return !(f->flags & FF_COMPUTED) && f->state != S_REMOVED;
}

static int create_schema(int cls)
{
    const struct class_desc *c = &model_classes[cls];
    struct strbuf sb;
    int r;

    strbuf_init(&sb, 1024);
    strbuf_addf(&sb,
                "CREATE TABLE IF NOT EXISTS \"%s\" (\"_ref\" TEXT PRIMARY KEY, \"_gen\" INTEGER "
                "NOT NULL, \"_cgen\" INTEGER NOT NULL",
                c->name);
    for (int i = 0; i < c->n_fields; i++)
        if (stored(&c->fields[i]))
            strbuf_addf(&sb, ", \"%s\" TEXT", c->fields[i].name);
    strbuf_adds(&sb, ")");
    r = sql_exec(sb.buf);
    if (r < 0)
        goto out;

    /* Columns that a newer model added: give them their default. */
    strbuf_reset(&sb);
    strbuf_addf(&sb, "PRAGMA table_info(\"%s\")", c->name);
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(db.sql, sb.buf, -1, &st, NULL) != SQLITE_OK) {
        r = -EIO;
        goto out;
    }
    bool *have = xcalloc((size_t)c->n_fields + 1, sizeof(bool));
    while (sqlite3_step(st) == SQLITE_ROW) {
        const char *col = (const char *)sqlite3_column_text(st, 1);
        int f = col ? model_field_by_name(c, col) : -1;
        if (f >= 0)
            have[f] = true;
    }
    sqlite3_finalize(st);
    for (int i = 0; i < c->n_fields && r == 0; i++) {
        if (have[i] || !stored(&c->fields[i]))
            continue;
        char *q = sqlite3_mprintf("ALTER TABLE \"%w\" ADD COLUMN \"%w\" TEXT DEFAULT %Q", c->name,
                                  c->fields[i].name, model_field_default(&c->fields[i]));
        r = sql_exec(q);
        sqlite3_free(q);
    }
    free(have);
out:
    strbuf_done(&sb);
    return r;
}

static int prepare_class(int cls)
{
    const struct class_desc *c = &model_classes[cls];
    struct table *t = &db.t[cls];
    struct strbuf sb, vals;

    strbuf_init(&sb, 1024);
    strbuf_init(&vals, 256);
    strbuf_addf(&sb, "INSERT OR REPLACE INTO \"%s\" (\"_ref\",\"_gen\",\"_cgen\"", c->name);
    strbuf_adds(&vals, "?,?,?");
    for (int i = 0; i < c->n_fields; i++)
        if (stored(&c->fields[i])) {
            strbuf_addf(&sb, ",\"%s\"", c->fields[i].name);
            strbuf_adds(&vals, ",?");
        }
    strbuf_addf(&sb, ") VALUES (%s)", vals.buf);
    t->insert = sql_prepare(sb.buf);
    strbuf_reset(&sb);
    strbuf_addf(&sb, "DELETE FROM \"%s\" WHERE \"_ref\"=?", c->name);
    t->delete = sql_prepare(sb.buf);
    strbuf_reset(&sb);
    strbuf_addf(&sb, "UPDATE \"%s\" SET \"_gen\"=?1 WHERE \"_ref\"=?2", c->name);
    t->touch = sql_prepare(sb.buf);
    t->set = xcalloc((size_t)c->n_fields + 1, sizeof(*t->set));
    strbuf_done(&sb);
    strbuf_done(&vals);
    return t->insert && t->delete &&t->touch ? 0 : -EIO;
}

static int cmp_gen(const void *a, const void *b)
{
    const struct row *x = *(const struct row *const *)a, *y = *(const struct row *const *)b;
    return x->gen < y->gen ? -1 : x->gen > y->gen;
}

/* Rows come back from SQLite in no particular order: put them in
 * generation order. */
static void order_sort(struct table *t)
{
    size_t n = 0;
    for (struct row *r = t->oldest; r; r = r->newer)
        n++;
    struct row **all = xcalloc(n + 1, sizeof(*all));
    n = 0;
    for (struct row *r = t->oldest; r; r = r->newer)
        all[n++] = r;
    qsort(all, n, sizeof(*all), cmp_gen);
    t->oldest = t->newest = NULL;
    for (size_t i = 0; i < n; i++)
        order_append(t, all[i]);
    free(all);
}

static int load_class(int cls)
{
    const struct class_desc *c = &model_classes[cls];
    struct strbuf sb;
    sqlite3_stmt *st = NULL;
    int *col_of = xcalloc((size_t)c->n_fields + 1, sizeof(int));
    int ncol = 3;

    strbuf_init(&sb, 1024);
    strbuf_adds(&sb, "SELECT \"_ref\",\"_gen\",\"_cgen\"");
    for (int i = 0; i < c->n_fields; i++) {
        col_of[i] = -1;
        if (stored(&c->fields[i])) {
            strbuf_addf(&sb, ",\"%s\"", c->fields[i].name);
            col_of[i] = ncol++;
        }
    }
    strbuf_addf(&sb, " FROM \"%s\"", c->name);
    int r = sqlite3_prepare_v2(db.sql, sb.buf, -1, &st, NULL) == SQLITE_OK ? 0 : -EIO;
    while (r == 0 && sqlite3_step(st) == SQLITE_ROW) {
        struct row *row = xcalloc(1, sizeof(*row) + (size_t)c->n_fields * sizeof(char *));
        row->ref = xstrdup((const char *)sqlite3_column_text(st, 0));
        row->cls = cls;
        row->gen = sqlite3_column_int64(st, 1);
        row->created_gen = sqlite3_column_int64(st, 2);
        for (int i = 0; i < c->n_fields; i++) {
            if (col_of[i] < 0)
                continue;
            const char *v = (const char *)sqlite3_column_text(st, col_of[i]);
            row->v[i] = xstrdup(v ? v : model_field_default(&c->fields[i]));
        }
        insert_row(row);
        if (row->gen > db.gen)
            db.gen = row->gen;
    }
    order_sort(&db.t[cls]);
    sqlite3_finalize(st);
    strbuf_done(&sb);
    free(col_of);
    return r;
}

static int load_tombstones(void)
{
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(db.sql, "SELECT class, ref, gen, cgen FROM _tombstones ORDER BY gen", -1,
                           &st, NULL) != SQLITE_OK)
        return -EIO;
    while (sqlite3_step(st) == SQLITE_ROW) {
        int cls = model_class_by_name((const char *)sqlite3_column_text(st, 0), false);
        if (cls < 0)
            continue;
        add_tomb(cls, (const char *)sqlite3_column_text(st, 1), sqlite3_column_int64(st, 2),
                 sqlite3_column_int64(st, 3));
        if (sqlite3_column_int64(st, 2) > db.gen)
            db.gen = sqlite3_column_int64(st, 2);
    }
    sqlite3_finalize(st);
    return 0;
}

static int load_meta(void)
{
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(db.sql, "SELECT value FROM _meta WHERE key='generation'", -1, &st,
                           NULL) != SQLITE_OK)
        return -EIO;
    if (sqlite3_step(st) == SQLITE_ROW && sqlite3_column_int64(st, 0) > db.gen)
        db.gen = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    return 0;
}

static int open_sql(const char *path)
{
    int r;
    if (sqlite3_open_v2(path, &db.sql, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, NULL) !=
        SQLITE_OK) {
        log_error("cannot open database %s: %s", path, db.sql ? sqlite3_errmsg(db.sql) : "?");
        return -EIO;
    }
    sqlite3_busy_timeout(db.sql, 5000);
    /* WAL with synchronous=NORMAL: a committed transaction survives the
     * process being killed; only a power loss may lose the newest ones. */
    r = sql_exec("PRAGMA journal_mode=WAL");
    if (r == 0)
        r = sql_exec("PRAGMA synchronous=NORMAL");
    if (r == 0)
        r = sql_exec("CREATE TABLE IF NOT EXISTS _meta (key TEXT PRIMARY KEY, value)");
    if (r == 0)
        r = sql_exec("CREATE TABLE IF NOT EXISTS _tombstones (class TEXT NOT NULL, ref TEXT NOT "
                     "NULL, gen INTEGER NOT NULL, cgen INTEGER NOT NULL)");
    if (r == 0)
        r = sql_exec("CREATE INDEX IF NOT EXISTS _tombstones_gen ON _tombstones(gen)");
    if (r < 0)
        return r;
    db.put_meta = sql_prepare("INSERT OR REPLACE INTO _meta (key, value) VALUES ('generation', ?)");
    db.add_tomb = sql_prepare("INSERT INTO _tombstones (class, ref, gen, cgen) VALUES (?,?,?,?)");
    db.begin = sql_prepare("BEGIN IMMEDIATE");
    db.commit = sql_prepare("COMMIT");
    db.rollback = sql_prepare("ROLLBACK");
    if (!db.put_meta || !db.add_tomb || !db.begin || !db.commit || !db.rollback)
        return -EIO;
    for (int c = 0; c < C__COUNT; c++) {
        if (!db.t[c].persist)
            continue;
        if ((r = create_schema(c)) < 0 || (r = prepare_class(c)) < 0 || (r = load_class(c)) < 0)
            return r;
    }
    if ((r = load_tombstones()) < 0)
        return r;
    return load_meta();
}

int db_open(const char *path)
{
    pthread_rwlockattr_t attr;
    int r = 0;

    model_init();
    memset(&db, 0, sizeof(db));
    /* Writers first: with thousands of reads a second, a reader-preferring
     * lock would starve writes. */
    pthread_rwlockattr_init(&attr);
    pthread_rwlockattr_setkind_np(&attr, PTHREAD_RWLOCK_PREFER_WRITER_NONRECURSIVE_NP);
    pthread_rwlock_init(&db.lock, &attr);
    pthread_rwlockattr_destroy(&attr);
    pthread_mutex_init(&db.wait_lock, NULL);
    pthread_condattr_t cattr;
    pthread_condattr_init(&cattr);
    pthread_condattr_setclock(&cattr, CLOCK_MONOTONIC);
    pthread_cond_init(&db.wait_cond, &cattr);
    pthread_condattr_destroy(&cattr);

    for (int c = 0; c < C__COUNT; c++) {
        hashmap_init(&db.t[c].by_ref);
        hashmap_init(&db.t[c].by_uuid);
        db.t[c].persist =
            (model_classes[c].flags & CF_DB) && !(model_classes[c].flags & CF_NOPERSIST) && path;
    }
    /* Relation indexes, from the computed fields' declarations. */
    for (int c = 0; c < C__COUNT; c++)
        for (int i = 0; i < model_classes[c].n_fields; i++)
            if (model_classes[c].fields[i].flags & FF_COMPUTED)
                db.n_rel++;
    db.rel = xcalloc(db.n_rel + 1, sizeof(*db.rel));
    for (int c = 0; c < C__COUNT; c++) {
        db.rel_for[c] = xcalloc((size_t)model_classes[c].n_fields + 1, sizeof(int));
        for (int i = 0; i < model_classes[c].n_fields; i++)
            db.rel_for[c][i] = -1;
    }
    size_t k = 0;
    for (int c = 0; c < C__COUNT; c++)
        for (int i = 0; i < model_classes[c].n_fields; i++) {
            const struct field_desc *f = &model_classes[c].fields[i];
            if (!(f->flags & FF_COMPUTED))
                continue;
            db.rel[k] = (struct relidx){f->rel_cls, f->rel_field, c, i, {0}};
            hashmap_init(&db.rel[k].by_target);
            db.rel_of[f->rel_cls] =
                xrealloc(db.rel_of[f->rel_cls], (db.n_rel_of[f->rel_cls] + 1) * sizeof(size_t));
            db.rel_of[f->rel_cls][db.n_rel_of[f->rel_cls]++] = k;
            db.rel_for[c][i] = (int)k;
            k++;
        }

    if (path) {
        db.path = xstrdup(path);
        r = open_sql(path);
        if (r < 0)
            return r;
    }
    for (int c = 0; c < C__COUNT; c++) {
        size_t it = 0;
        const struct row *row;
        while (db_next(c, &it, &row))
            index_row(row, true, -1, 0, NULL);
    }
    log_info("database %s: generation %lld", path ? path : "(memory)", (long long)db.gen);
    return 0;
}

static void free_table(int c)
{
    struct table *t = &db.t[c];
    size_t it = 0;
    void *v;
    while (hashmap_next(&t->by_ref, &it, NULL, &v))
        row_free(&model_classes[c], v);
    hashmap_done(&t->by_ref);
    hashmap_done(&t->by_uuid);
    sqlite3_finalize(t->insert);
    sqlite3_finalize(t->delete);
    sqlite3_finalize(t->touch);
    for (int i = 0; t->set && i < model_classes[c].n_fields; i++)
        sqlite3_finalize(t->set[i]);
    free(t->set);
}

void db_close(void)
{
    for (size_t k = 0; k < db.n_rel; k++) {
        size_t it = 0;
        const char *key;
        void *v;
        while (hashmap_next(&db.rel[k].by_target, &it, &key, &v)) {
            free(((struct reflist *)v)->key);
            free(((struct reflist *)v)->refs);
            free(v);
        }
        hashmap_done(&db.rel[k].by_target);
    }
    free(db.rel);
    for (int c = 0; c < C__COUNT; c++) {
        free(db.rel_of[c]);
        free(db.rel_for[c]);
        free_table(c);
    }
    for (size_t i = 0; i < db.n_tombs; i++)
        free(db.tombs[i].ref);
    free(db.tombs);
    sqlite3_finalize(db.put_meta);
    sqlite3_finalize(db.add_tomb);
    sqlite3_finalize(db.begin);
    sqlite3_finalize(db.commit);
    sqlite3_finalize(db.rollback);
    if (db.sql)
        sqlite3_close(db.sql);
    free(db.path);
    pthread_rwlock_destroy(&db.lock);
    memset(&db, 0, sizeof(db));
}

const char *db_path(void)
{
    return db.path;
}

int db_integrity_check(void)
{
    sqlite3_stmt *st = NULL;
    int r = -EIO;
    if (!db.sql)
        return 0;
    if (sqlite3_prepare_v2(db.sql, "PRAGMA integrity_check", -1, &st, NULL) != SQLITE_OK)
        return -EIO;
    if (sqlite3_step(st) == SQLITE_ROW && streq((const char *)sqlite3_column_text(st, 0), "ok"))
        r = 0;
    sqlite3_finalize(st);
    return r;
}

/* ---- change sets ---- */

struct changeset *changeset_new(void)
{
    return xcalloc(1, sizeof(struct changeset));
}

void changeset_free(struct changeset *cs)
{
    if (!cs)
        return;
    for (size_t i = 0; i < cs->n; i++) {
        struct op *o = &cs->ops[i];
        free(o->ref);
        free(o->value);
        if (o->values) {
            for (int f = 0; f < model_classes[o->cls].n_fields; f++)
                free(o->values[f]);
            free(o->values);
        }
    }
    free(cs->ops);
    free(cs);
}

static struct op *push(struct changeset *cs, enum op_kind kind, int cls, const char *ref)
{
    if (cs->n == cs->cap) {
        cs->cap = cs->cap ? cs->cap * 2 : 4;
        cs->ops = xrealloc(cs->ops, cs->cap * sizeof(*cs->ops));
    }
    struct op *o = &cs->ops[cs->n++];
    *o = (struct op){kind, cls, xstrdup(ref), -1, NULL, NULL};
    return o;
}

void changeset_create(struct changeset *cs, int cls, const char *ref, char **values)
{
    push(cs, OP_CREATE, cls, ref)->values = values;
}

void changeset_set(struct changeset *cs, int cls, const char *ref, int field, const char *value)
{
    struct op *o = push(cs, OP_SET, cls, ref);
    o->field = field;
    o->value = xstrdup(value);
}

void changeset_touch(struct changeset *cs, int cls, const char *ref)
{
    push(cs, OP_TOUCH, cls, ref);
}

void changeset_delete(struct changeset *cs, int cls, const char *ref)
{
    push(cs, OP_DELETE, cls, ref);
}

size_t changeset_size(const struct changeset *cs)
{
    return cs->n;
}

static const char *const op_names[] = {"create", "set", "touch", "delete"};

char *changeset_to_json(const struct changeset *cs)
{
    json_object *arr = json_object_new_array();
    for (size_t i = 0; i < cs->n; i++) {
        const struct op *o = &cs->ops[i];
        const struct class_desc *c = &model_classes[o->cls];
        json_object *j = json_object_new_object();
        json_object_object_add(j, "op", json_object_new_string(op_names[o->kind]));
        json_object_object_add(j, "class", json_object_new_string(c->name));
        json_object_object_add(j, "ref", json_object_new_string(o->ref));
        if (o->kind == OP_SET) {
            json_object_object_add(j, "field", json_object_new_string(c->fields[o->field].name));
            json_object_object_add(j, "value", json_object_new_string(o->value));
        } else if (o->kind == OP_CREATE) {
            json_object *vals = json_object_new_object();
            for (int f = 0; f < c->n_fields; f++)
                if (o->values[f])
                    json_object_object_add(vals, c->fields[f].name,
                                           json_object_new_string(o->values[f]));
            json_object_object_add(j, "values", vals);
        }
        json_object_array_add(arr, j);
    }
    char *s = xstrdup(json_object_to_json_string_ext(arr, JSON_C_TO_STRING_PLAIN));
    json_object_put(arr);
    return s;
}

/* A member that must be a JSON string; NULL if absent or not a string. */
static const char *json_string_member(json_object *j, const char *name)
{
    json_object *x;
    if (!json_object_is_type(j, json_type_object) || !json_object_object_get_ex(j, name, &x) ||
        !json_object_is_type(x, json_type_string))
        return NULL;
    return json_object_get_string(x);
}

int changeset_from_json(const char *text, struct changeset **ret)
{
    json_object *arr = json_tokener_parse(text);
    struct changeset *cs = NULL;
    int r = -EINVAL;

    if (!arr || !json_object_is_type(arr, json_type_array))
        goto out;
    cs = changeset_new();
    for (size_t i = 0; i < json_object_array_length(arr); i++) {
        json_object *j = json_object_array_get_idx(arr, i);
        const char *op = json_string_member(j, "op");
        const char *cname = json_string_member(j, "class");
        const char *ref = json_string_member(j, "ref");
        int cls = cname ? model_class_by_name(cname, false) : -1;
        if (!op || cls < 0 || !ref)
            goto out;
        const struct class_desc *c = &model_classes[cls];
        if (streq(op, "set")) {
            const char *fname = json_string_member(j, "field");
            const char *value = json_string_member(j, "value");
            int f = fname ? model_field_by_name(c, fname) : -1;
            if (f < 0 || !value)
                goto out;
            changeset_set(cs, cls, ref, f, value);
        } else if (streq(op, "create")) {
            json_object *vals;
            if (!json_object_object_get_ex(j, "values", &vals) ||
                !json_object_is_type(vals, json_type_object))
                goto out;
            char **v = xcalloc((size_t)c->n_fields + 1, sizeof(char *));
            bool ok = true;
            json_object_object_foreach(vals, key, val)
            {
                int f = model_field_by_name(c, key);
                if (!json_object_is_type(val, json_type_string))
                    ok = false;
                else if (f >= 0 && !v[f])
                    v[f] = xstrdup(json_object_get_string(val));
            }
            changeset_create(cs, cls, ref, v);
            if (!ok)
                goto out;
        } else if (streq(op, "touch"))
            changeset_touch(cs, cls, ref);
        else if (streq(op, "delete"))
            changeset_delete(cs, cls, ref);
        else
            goto out;
    }
    *ret = TAKE_PTR(cs);
    r = 0;
out:
    changeset_free(cs);
    json_object_put(arr);
    return r;
}

/* Whether ref exists once the first n ops of cs have run. */
static bool exists_after(const struct changeset *cs, size_t n, int cls, const char *ref)
{
    bool e = db_get(cls, ref) != NULL;
    for (size_t i = 0; i < n; i++) {
        const struct op *o = &cs->ops[i];
        if (o->cls != cls || !streq(o->ref, ref))
            continue;
        if (o->kind == OP_CREATE)
            e = true;
        else if (o->kind == OP_DELETE)
            e = false;
    }
    return e;
}

static int validate(const struct changeset *cs)
{
    for (size_t i = 0; i < cs->n; i++) {
        const struct op *o = &cs->ops[i];
        if (o->cls < 0 || o->cls >= C__COUNT || !(model_classes[o->cls].flags & CF_DB))
            return -EINVAL;
        bool e = exists_after(cs, i, o->cls, o->ref);
        if (o->kind == OP_CREATE && e)
            return -EEXIST;
        if (o->kind != OP_CREATE && !e)
            return -ENOENT;
        if (o->kind == OP_SET && (o->field < 0 || o->field >= model_classes[o->cls].n_fields ||
                                  !stored(&model_classes[o->cls].fields[o->field])))
            return -EINVAL;
    }
    return 0;
}

static void bind_text(sqlite3_stmt *st, int i, const char *s)
{
    sqlite3_bind_text(st, i, s, -1, SQLITE_STATIC);
}

static int sql_write_row(const struct row *r)
{
    const struct class_desc *c = &model_classes[r->cls];
    sqlite3_stmt *st = db.t[r->cls].insert;
    int n = 1;
    bind_text(st, n++, r->ref);
    sqlite3_bind_int64(st, n++, r->gen);
    sqlite3_bind_int64(st, n++, r->created_gen);
    for (int i = 0; i < c->n_fields; i++)
        if (stored(&c->fields[i]))
            bind_text(st, n++, r->v[i] ? r->v[i] : model_field_default(&c->fields[i]));
    return sql_step_reset(st);
}

static int sql_write_set(const struct row *r, int field)
{
    struct table *t = &db.t[r->cls];
    if (!t->set[field]) {
        char *q =
            sqlite3_mprintf("UPDATE \"%w\" SET \"%w\"=?1, \"_gen\"=?2 WHERE \"_ref\"=?3",
                            model_classes[r->cls].name, model_classes[r->cls].fields[field].name);
        t->set[field] = sql_prepare(q);
        sqlite3_free(q);
        if (!t->set[field])
            return -EIO;
    }
    bind_text(t->set[field], 1, r->v[field]);
    sqlite3_bind_int64(t->set[field], 2, r->gen);
    bind_text(t->set[field], 3, r->ref);
    return sql_step_reset(t->set[field]);
}

static int sql_write_touch(int cls, const char *ref, int64_t gen)
{
    sqlite3_stmt *st = db.t[cls].touch;
    sqlite3_bind_int64(st, 1, gen);
    bind_text(st, 2, ref);
    return sql_step_reset(st);
}

/* Applies one op to memory, and to SQLite when the class persists. A
 * failure of SQLite after memory changed cannot be undone: the caller
 * treats it as fatal. */
static int apply_op(struct op *o, int64_t gen, struct strbuf *dirty)
{
    const struct class_desc *c = &model_classes[o->cls];
    struct table *t = &db.t[o->cls];
    struct row *r;
    int rc = 0;

    switch (o->kind) {
    case OP_CREATE:
        r = xcalloc(1, sizeof(*r) + (size_t)c->n_fields * sizeof(char *));
        r->ref = xstrdup(o->ref);
        r->cls = o->cls;
        r->gen = r->created_gen = gen;
        for (int i = 0; i < c->n_fields; i++) {
            if (!stored(&c->fields[i]))
                continue;
            r->v[i] = xstrdup(o->values[i] ? o->values[i] : model_field_default(&c->fields[i]));
        }
        insert_row(r);
        index_row(r, true, -1, gen, dirty);
        if (t->persist)
            rc = sql_write_row(r);
        break;
    case OP_SET:
        r = hashmap_get(&t->by_ref, o->ref);
        index_row(r, false, o->field, gen, dirty);
        if (o->field == c->uuid_field && r->v[o->field])
            hashmap_remove(&t->by_uuid, r->v[o->field]);
        free(r->v[o->field]);
        r->v[o->field] = xstrdup(o->value);
        if (o->field == c->uuid_field)
            hashmap_put(&t->by_uuid, r->v[o->field], r);
        bump(t, r, gen);
        index_row(r, true, o->field, gen, dirty);
        if (t->persist)
            rc = sql_write_set(r, o->field);
        break;
    case OP_TOUCH:
        r = hashmap_get(&t->by_ref, o->ref);
        bump(t, r, gen);
        if (t->persist)
            rc = sql_write_touch(o->cls, r->ref, gen);
        break;
    case OP_DELETE:
        r = hashmap_remove(&t->by_ref, o->ref);
        order_unlink(t, r);
        if (c->uuid_field >= 0 && r->v[c->uuid_field])
            hashmap_remove(&t->by_uuid, r->v[c->uuid_field]);
        index_row(r, false, -1, gen, dirty);
        add_tomb(o->cls, r->ref, gen, r->created_gen);
        if (t->persist) {
            bind_text(t->delete, 1, r->ref);
            rc = sql_step_reset(t->delete);
            if (rc == 0) {
                bind_text(db.add_tomb, 1, c->name);
                bind_text(db.add_tomb, 2, r->ref);
                sqlite3_bind_int64(db.add_tomb, 3, gen);
                sqlite3_bind_int64(db.add_tomb, 4, r->created_gen);
                rc = sql_step_reset(db.add_tomb);
            }
        }
        row_free(c, r);
        break;
    }
    return rc;
}

int db_apply(struct changeset *cs)
{
    struct strbuf dirty;
    bool persist = false;
    int r;

    if (cs->n == 0)
        return 0;
    r = validate(cs);
    if (r < 0)
        return r;
    for (size_t i = 0; i < cs->n; i++)
        persist |= db.t[cs->ops[i].cls].persist;
    if (persist && sql_step_reset(db.begin) < 0)
        return -EIO;

    /* Validation guarantees the memory side cannot fail; SQLite can, but
     * only for reasons (disk full, I/O error) that leave no safe way to
     * go on with memory and disk apart. */
    strbuf_init(&dirty, 0);
    for (size_t i = 0; i < cs->n; i++) {
        int64_t gen = __atomic_add_fetch(&db.gen, 1, __ATOMIC_RELEASE);
        r = apply_op(&cs->ops[i], gen, persist ? &dirty : NULL);
        if (r < 0)
            goto fatal;
    }
    if (!persist && db.sql) {
        /* Sessions and tasks are not kept, but the generation they used
         * is: tokens handed out must stay valid across a restart. */
        sqlite3_bind_int64(db.put_meta, 1, db.gen);
        if ((r = sql_step_reset(db.put_meta)) < 0)
            goto fatal;
    }
    if (persist) {
        /* Objects whose relation sets changed: persist their generation. */
        for (size_t p = 0; p < dirty.len;) {
            int cls = atoi(dirty.buf + p);
            p += strlen(dirty.buf + p) + 1;
            const char *ref = dirty.buf + p;
            p += strlen(ref) + 1;
            const struct row *row = db_get(cls, ref);
            if (row && db.t[cls].persist && (r = sql_write_touch(cls, ref, row->gen)) < 0)
                goto fatal;
        }
        sqlite3_bind_int64(db.put_meta, 1, db.gen);
        if ((r = sql_step_reset(db.put_meta)) < 0 || (r = sql_step_reset(db.commit)) < 0)
            goto fatal;
    }
    strbuf_done(&dirty);

    pthread_mutex_lock(&db.wait_lock);
    pthread_cond_broadcast(&db.wait_cond);
    pthread_mutex_unlock(&db.wait_lock);
    return 0;
fatal:
    log_error("database write failed after memory changed; stopping to keep disk and memory "
              "consistent");
    abort();
}

int64_t db_wait_change(int64_t since, double deadline)
{
    int64_t g;
    pthread_mutex_lock(&db.wait_lock);
    uint64_t kicks = db.kicks;
    for (;;) {
        /* db.gen only grows under the write lock; a stale read here at
         * worst costs one more wait round, and db_apply broadcasts after
         * it changed. */
        g = __atomic_load_n(&db.gen, __ATOMIC_ACQUIRE);
        if (g > since || db.kicks != kicks)
            break;
        double now = now_monotonic();
        if (now >= deadline)
            break;
        struct timespec ts;
        ts.tv_sec = (time_t)deadline;
        ts.tv_nsec = (long)((deadline - (double)ts.tv_sec) * 1e9);
        pthread_cond_timedwait(&db.wait_cond, &db.wait_lock, &ts);
    }
    pthread_mutex_unlock(&db.wait_lock);
    return g;
}

void db_kick(void)
{
    pthread_mutex_lock(&db.wait_lock);
    db.kicks++;
    pthread_cond_broadcast(&db.wait_cond);
    pthread_mutex_unlock(&db.wait_lock);
}

size_t db_changes_since(int64_t since, const bool *want, const char *only_ref,
                        struct db_event **ret)
{
    size_t n = 0, cap = 16;
    struct db_event *ev = xmalloc(cap * sizeof(*ev));

#define PUSH(...)                                                                                  \
    do {                                                                                           \
        if (n == cap) {                                                                            \
            cap *= 2;                                                                              \
            ev = xrealloc(ev, cap * sizeof(*ev));                                                  \
        }                                                                                          \
        ev[n++] = (struct db_event){__VA_ARGS__};                                                  \
    } while (0)

    for (int c = 0; c < C__COUNT; c++) {
        if ((want && !want[c]) || db.t[c].max_gen <= since)
            continue;
        if (only_ref) {
            const struct row *r = db_get(c, only_ref);
            if (r && r->gen > since)
                PUSH(c, r->ref, r->created_gen > since ? DB_ADD : DB_MOD, r, r->gen);
            continue;
        }
        for (const struct row *r = db.t[c].newest; r && r->gen > since; r = r->older)
            PUSH(c, r->ref, r->created_gen > since ? DB_ADD : DB_MOD, r, r->gen);
    }
    /* Tombstones are in generation order: find the first one after since. */
    size_t lo = 0, hi = db.n_tombs;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        if (db.tombs[mid].gen <= since)
            lo = mid + 1;
        else
            hi = mid;
    }
    for (size_t i = lo; i < db.n_tombs; i++) {
        const struct tomb *t = &db.tombs[i];
        if ((want && !want[t->cls]) || t->created_gen > since)
            continue;
        if (db_get(t->cls, t->ref)) /* the ref lives again: its row speaks for it */
            continue;
        if (only_ref && !streq(only_ref, t->ref))
            continue;
        PUSH(t->cls, t->ref, DB_DEL, NULL, t->gen);
    }
#undef PUSH
    *ret = ev;
    return n;
}
