/* The pool database: every object of every class, held in memory for
 * reads and persisted in SQLite (WAL) for durability. Nothing writes it but
 * db_apply(), which takes a change set — a self-contained, serialisable list
 * of creates, field updates and deletes — and applies it in one SQLite
 * transaction and then to memory. That is the seam where pool replication
 * plugs in: a change set is one entry of a replicated log.
 *
 * Every change gets the next generation number; each row keeps the
 * generation of its last change and of its creation, and a delete leaves a
 * tombstone, so event.from is a query on generations that survives a
 * restart. The set side of a one-to-many relation (VM.VBDs) is not stored:
 * it is computed from an index of the refs that point at the object, and a
 * change to those refs counts as a change of the object.
 *
 * Locking: one reader-writer lock. Readers hold db_rdlock() while they look
 * at rows (pointers into the database stay valid only while the lock is
 * held); a writer holds db_wrlock() across its reads and db_apply(), so
 * read-check-write sequences are atomic. Rows of classes marked
 * CF_NOPERSIST (sessions, tasks) live in memory only. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "lib/strbuf.h"
#include "model.h"

struct row {
    char *ref;
    int cls;
    int64_t gen;               /* generation of the last change */
    int64_t created_gen;       /* generation of the create */
    struct row *older, *newer; /* the class's rows in generation order (db.c's) */
    char *v[];                 /* canonical value per field; NULL for computed fields */
};

/* Opens (creating if needed) the database file and loads it. path NULL:
 * memory only (unit tests). Returns 0 or a negative errno (logged). */
int db_open(const char *path);
void db_close(void);

void db_rdlock(void);
void db_wrlock(void);
void db_unlock(void);

/* Lookups; the lock must be held. Borrowed results. */
const struct row *db_get(int cls, const char *ref);
const struct row *db_get_by_uuid(int cls, const char *uuid);
size_t db_count(int cls);
/* Iterates the rows of a class: for (size_t i = 0; db_next(c, &i, &r);) */
bool db_next(int cls, size_t *iter, const struct row **ret);
/* The canonical value of field i of r: the stored text, or for a computed
 * field the text built into scratch. Borrowed. */
const char *db_value(const struct row *r, int field, struct strbuf *scratch);

/* The newest generation; the lock must be held, or use db_wait_change. */
int64_t db_generation(void);

/* A change set. Values are copied in; the set owns its memory. */
struct changeset;
struct changeset *changeset_new(void);
void changeset_free(struct changeset *cs);
/* values: one canonical text per field of the class (NULL for computed
 * fields), taken over by the change set along with the array. */
void changeset_create(struct changeset *cs, int cls, const char *ref, char **values);
void changeset_set(struct changeset *cs, int cls, const char *ref, int field, const char *value);
/* Marks a row changed without changing a field (event.inject). */
void changeset_touch(struct changeset *cs, int cls, const char *ref);
void changeset_delete(struct changeset *cs, int cls, const char *ref);
size_t changeset_size(const struct changeset *cs);
/* The change set as JSON text (newly allocated), and back. */
char *changeset_to_json(const struct changeset *cs);
int changeset_from_json(const char *text, struct changeset **ret);

/* Applies a change set atomically; db_wrlock() must be held. Returns 0,
 * -EEXIST (create of an existing ref), -ENOENT (change of a missing row),
 * -EINVAL (bad field or class) or -EIO (SQLite failed; nothing applied).
 * Wakes every db_wait_change() on success. */
int db_apply(struct changeset *cs);

/* Blocks until the generation passes since, the monotonic deadline passes,
 * or db_kick() is called. Call without the lock. Returns the generation. */
int64_t db_wait_change(int64_t since, double deadline);
/* Wakes every waiter (e.g. its session ended). */
void db_kick(void);

enum db_event_op { DB_ADD, DB_MOD, DB_DEL };

struct db_event {
    int cls;
    const char *ref; /* borrowed while the lock is held */
    enum db_event_op op;
    const struct row *row; /* NULL for DB_DEL */
    int64_t gen;
};

/* Collects, coalesced per object, the changes after generation since in the
 * classes selected by want[] (C__COUNT entries), or of the one object ref
 * when want is NULL. An object created after since is an add, one that
 * existed before and changed a mod, one that existed before and is gone a
 * del; one created and deleted after since is left out. The lock must be
 * held; *ret is newly allocated (free it), entries borrow from the db. */
size_t db_changes_since(int64_t since, const bool *want, const char *only_ref,
                        struct db_event **ret);

/* The path of the SQLite file, for integrity checks; NULL in memory. */
const char *db_path(void);
/* Runs SQLite's integrity check; 0 if "ok". */
int db_integrity_check(void);
