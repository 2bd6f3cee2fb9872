/* Unit tests of the pool database (xapi-c/db.c), each run on a memory-only
 * database and again on an SQLite file in a temporary folder: create, get,
 * get_by_uuid, set, touch and delete through change sets; one generation
 * per op; -EEXIST, -ENOENT and -EINVAL leaving the database unchanged (a
 * change set is all or nothing); relation sets computed from the refs that
 * point at an object (VM.VBDs from VBD.VM) and the generation bump they
 * give it; db_changes_since (add, mod and del, coalescing, objects created
 * and deleted in between left out, the class and object filters); the JSON
 * form of change sets; db_wait_change and db_kick. On the file only: that
 * rows, generations, relation sets and tombstones come back after a reopen
 * while the CF_NOPERSIST classes (session, task) do not, and that columns
 * missing from an older file are added with their defaults. The database is a
 * process-wide singleton, so every test opens and closes it. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <sqlite3.h>

#include "lib/strbuf.h"
#include "lib/util.h"
#include "xapi-c/db.h"
#include "xapi-c/model.h"

#define VM1 "OpaqueRef:11111111-0000-0000-0000-000000000001"
#define VM2 "OpaqueRef:11111111-0000-0000-0000-000000000002"
#define VM3 "OpaqueRef:11111111-0000-0000-0000-000000000003"
#define VBD1 "OpaqueRef:22222222-0000-0000-0000-000000000001"
#define VBD2 "OpaqueRef:22222222-0000-0000-0000-000000000002"
#define TASK1 "OpaqueRef:33333333-0000-0000-0000-000000000001"
#define SESSION1 "OpaqueRef:44444444-0000-0000-0000-000000000001"
#define UUID_VM1 "aaaaaaaa-0000-4000-8000-000000000001"
#define UUID_VM2 "aaaaaaaa-0000-4000-8000-000000000002"
#define UUID_VM3 "aaaaaaaa-0000-4000-8000-000000000003"

/* ---- fixture: a fresh database per test, in memory or on a file ---- */

struct fixture {
    bool file;
    char dir[256];
    char path[300];
};

static struct fixture mem_fixture = {.file = false};
static struct fixture file_fixture = {.file = true};

static int open_db(struct fixture *fx)
{
    return db_open(fx->file ? fx->path : NULL);
}

static void remove_files(struct fixture *fx)
{
    static const char *const suffixes[] = {"", "-wal", "-shm", "-journal"};
    for (size_t i = 0; i < sizeof(suffixes) / sizeof(suffixes[0]); i++) {
        char p[400];
        snprintf(p, sizeof(p), "%s%s", fx->path, suffixes[i]);
        unlink(p);
    }
}

static int setup(void **state)
{
    struct fixture *fx = *state;
    if (fx->file) {
        const char *tmp = getenv("TMPDIR");
        snprintf(fx->dir, sizeof(fx->dir), "%s/test-db-XXXXXX", tmp && *tmp ? tmp : "/tmp");
        if (!mkdtemp(fx->dir))
            return -1;
        snprintf(fx->path, sizeof(fx->path), "%s/xapi.db", fx->dir);
    }
    return open_db(fx) < 0 ? -1 : 0;
}

static int teardown(void **state)
{
    struct fixture *fx = *state;
    db_close();
    if (fx->file) {
        remove_files(fx);
        rmdir(fx->dir);
    }
    return 0;
}

/* Closes and opens the same database again. */
static void reopen(struct fixture *fx)
{
    db_close();
    assert_int_equal(open_db(fx), 0);
}

/* Closes the database and opens a new, empty one in its place. */
static void reset(struct fixture *fx)
{
    db_close();
    if (fx->file)
        remove_files(fx);
    assert_int_equal(open_db(fx), 0);
}

/* ---- helpers ---- */

static char **new_values(int cls)
{
    return xcalloc((size_t)model_classes[cls].n_fields + 1, sizeof(char *));
}

static void put(char **v, int field, const char *s)
{
    free(v[field]);
    v[field] = xstrdup(s);
}

static void add_vm(struct changeset *cs, const char *ref, const char *uuid, const char *name)
{
    char **v = new_values(C_VM);
    if (uuid)
        put(v, FIDX(VM, uuid), uuid);
    if (name)
        put(v, FIDX(VM, name_label), name);
    changeset_create(cs, C_VM, ref, v);
}

static void add_vbd(struct changeset *cs, const char *ref, const char *vm)
{
    char **v = new_values(C_VBD);
    put(v, FIDX(VBD, VM), vm);
    changeset_create(cs, C_VBD, ref, v);
}

/* Applies cs under the write lock, frees it, returns db_apply's result. */
static int apply(struct changeset *cs)
{
    db_wrlock();
    int r = db_apply(cs);
    db_unlock();
    changeset_free(cs);
    return r;
}

static void create_vm(const char *ref, const char *uuid, const char *name)
{
    struct changeset *cs = changeset_new();
    add_vm(cs, ref, uuid, name);
    assert_int_equal(apply(cs), 0);
}

static void create_vbd(const char *ref, const char *vm)
{
    struct changeset *cs = changeset_new();
    add_vbd(cs, ref, vm);
    assert_int_equal(apply(cs), 0);
}

static void set_field(int cls, const char *ref, int field, const char *value)
{
    struct changeset *cs = changeset_new();
    changeset_set(cs, cls, ref, field, value);
    assert_int_equal(apply(cs), 0);
}

static void delete_row(int cls, const char *ref)
{
    struct changeset *cs = changeset_new();
    changeset_delete(cs, cls, ref);
    assert_int_equal(apply(cs), 0);
}

static int64_t generation(void)
{
    db_rdlock();
    int64_t g = db_generation();
    db_unlock();
    return g;
}

static bool exists(int cls, const char *ref)
{
    db_rdlock();
    bool e = db_get(cls, ref) != NULL;
    db_unlock();
    return e;
}

/* The value of a field (newly allocated), or NULL if there is no row. */
static char *value(int cls, const char *ref, int field)
{
    struct strbuf scratch;
    char *v = NULL;
    strbuf_init(&scratch, 64);
    db_rdlock();
    const struct row *r = db_get(cls, ref);
    if (r)
        v = xstrdup(db_value(r, field, &scratch));
    db_unlock();
    strbuf_done(&scratch);
    return v;
}

static void expect_field(int cls, const char *ref, int field, const char *want)
{
    char *v = value(cls, ref, field);
    if (!v)
        fail_msg("no row %s", ref);
    bool same = streq(v, want);
    char got[512];
    snprintf(got, sizeof(got), "%s", v);
    free(v);
    if (!same)
        fail_msg("%s.%s of %s is '%s', want '%s'", model_classes[cls].name,
                 model_classes[cls].fields[field].name, ref, got, want);
}

static int64_t row_gen(int cls, const char *ref)
{
    db_rdlock();
    const struct row *r = db_get(cls, ref);
    int64_t g = r ? r->gen : -1;
    db_unlock();
    return g;
}

static int64_t row_created_gen(int cls, const char *ref)
{
    db_rdlock();
    const struct row *r = db_get(cls, ref);
    int64_t g = r ? r->created_gen : -1;
    db_unlock();
    return g;
}

/* A text dump of every row of VM and VBD with generations and values, to
 * compare whole database states. Newly allocated. */
static char *dump(void)
{
    static const int classes[] = {C_VM, C_VBD};
    struct strbuf sb, scratch;
    strbuf_init(&sb, 1024);
    strbuf_init(&scratch, 64);
    db_rdlock();
    strbuf_addf(&sb, "gen=%lld\n", (long long)db_generation());
    for (size_t k = 0; k < sizeof(classes) / sizeof(classes[0]); k++) {
        int c = classes[k];
        const struct row *r;
        for (size_t it = 0; db_next(c, &it, &r);) {
            strbuf_addf(&sb, "%s %s gen=%lld cgen=%lld", model_classes[c].name, r->ref,
                        (long long)r->gen, (long long)r->created_gen);
            for (int f = 0; f < model_classes[c].n_fields; f++)
                strbuf_addf(&sb, " %s=%s", model_classes[c].fields[f].name,
                            db_value(r, f, &scratch));
            strbuf_addc(&sb, '\n');
        }
    }
    db_unlock();
    strbuf_done(&scratch);
    char *s = strbuf_detach(&sb, NULL);
    strbuf_done(&sb);
    return s;
}

/* Changes since a generation, in the classes listed (C__COUNT ends). */
struct changes {
    size_t n;
    struct db_event *ev;
};

static struct changes changes_since(int64_t since, const char *only_ref, ...)
{
    bool want[C__COUNT] = {0};
    va_list ap;
    va_start(ap, only_ref);
    for (int c; (c = va_arg(ap, int)) != C__COUNT;)
        want[c] = true;
    va_end(ap);
    struct changes ch;
    ch.n = db_changes_since(since, want, only_ref, &ch.ev);
    return ch;
}

static const struct db_event *find_event(const struct changes *ch, const char *ref)
{
    const struct db_event *found = NULL;
    for (size_t i = 0; i < ch->n; i++)
        if (streq(ch->ev[i].ref, ref)) {
            if (found)
                fail_msg("%s reported twice", ref);
            found = &ch->ev[i];
        }
    return found;
}

/* Forks a child to run part of a test in. The child gets the default
 * action for crash signals back (cmocka's handlers would carry on with the
 * rest of the suite in it) and must end with _exit(). Returns the pid, 0 in
 * the child. */
static pid_t fork_test_child(void)
{
    fflush(NULL);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        static const int sigs[] = {SIGSEGV, SIGBUS, SIGILL, SIGFPE, SIGABRT};
        for (size_t i = 0; i < sizeof(sigs) / sizeof(sigs[0]); i++)
            signal(sigs[i], SIG_DFL);
    }
    return pid;
}

/* Waits for a child that ran part of a test and fails the test unless it
 * exited with 0. Code that crashes today runs in a child, so that the crash
 * (or a sanitizer stopping the process) fails only its own test. */
static void expect_child_ok(pid_t pid, const char *what)
{
    int st = 0;
    assert_int_equal(waitpid(pid, &st, 0), pid);
    if (WIFSIGNALED(st))
        fail_msg("%s: the child was killed by signal %d", what, WTERMSIG(st));
    if (WEXITSTATUS(st) != 0)
        fail_msg("%s: the child failed with status %d (a crash or a wrong result)", what,
                 WEXITSTATUS(st));
}

/* ---- create, get, set, delete ---- */

static void test_db_starts_empty_at_generation_zero(void **state)
{
    (void)state;
    assert_int_equal(generation(), 0);
    db_rdlock();
    assert_int_equal(db_count(C_VM), 0);
    assert_null(db_get(C_VM, VM1));
    db_unlock();
}

static void test_db_create_then_get(void **state)
{
    (void)state;
    create_vm(VM1, UUID_VM1, "one");
    db_rdlock();
    const struct row *r = db_get(C_VM, VM1);
    assert_non_null(r);
    assert_string_equal(r->ref, VM1);
    assert_int_equal(r->cls, C_VM);
    assert_string_equal(r->v[FIDX(VM, name_label)], "one");
    assert_string_equal(r->v[FIDX(VM, uuid)], UUID_VM1);
    assert_null(r->v[FIDX(VM, VBDs)]); /* computed: not stored */
    assert_int_equal(db_count(C_VM), 1);
    assert_null(db_get(C_VBD, VM1)); /* classes are separate tables */
    db_unlock();
}

static void test_db_create_fills_defaults_of_missing_fields(void **state)
{
    (void)state;
    create_vm(VM1, UUID_VM1, NULL);
    expect_field(C_VM, VM1, FIDX(VM, power_state), "Halted");
    expect_field(C_VM, VM1, FIDX(VM, tags), "[]");
    expect_field(C_VM, VM1, FIDX(VM, snapshot_of), "OpaqueRef:NULL");
    expect_field(C_VM, VM1, FIDX(VM, user_version), "0");
    expect_field(C_VM, VM1, FIDX(VM, name_label), "");
    expect_field(C_VM, VM1, FIDX(VM, other_config), "{}");
}

static void test_db_get_by_uuid_finds_row(void **state)
{
    (void)state;
    create_vm(VM1, UUID_VM1, "one");
    create_vm(VM2, UUID_VM2, "two");
    db_rdlock();
    const struct row *r = db_get_by_uuid(C_VM, UUID_VM2);
    assert_non_null(r);
    assert_string_equal(r->ref, VM2);
    assert_null(db_get_by_uuid(C_VM, UUID_VM3));
    assert_null(db_get_by_uuid(C_VBD, UUID_VM1));
    db_unlock();
}

static void test_db_get_of_missing_ref_is_null(void **state)
{
    (void)state;
    create_vm(VM1, UUID_VM1, "one");
    assert_false(exists(C_VM, VM2));
    assert_false(exists(C_VM, "OpaqueRef:NULL"));
    assert_false(exists(C_VM, ""));
}

static void test_db_set_changes_field_and_row_gen(void **state)
{
    (void)state;
    create_vm(VM1, UUID_VM1, "one");
    int64_t created = row_gen(C_VM, VM1);
    set_field(C_VM, VM1, FIDX(VM, name_label), "renamed");
    expect_field(C_VM, VM1, FIDX(VM, name_label), "renamed");
    assert_int_equal(row_gen(C_VM, VM1), created + 1);
    assert_int_equal(row_created_gen(C_VM, VM1), created);
    assert_int_equal(generation(), created + 1);
}

static void test_db_set_of_uuid_moves_the_uuid_index(void **state)
{
    (void)state;
    create_vm(VM1, UUID_VM1, "one");
    set_field(C_VM, VM1, FIDX(VM, uuid), UUID_VM3);
    db_rdlock();
    assert_null(db_get_by_uuid(C_VM, UUID_VM1));
    const struct row *r = db_get_by_uuid(C_VM, UUID_VM3);
    assert_non_null(r);
    assert_string_equal(r->ref, VM1);
    db_unlock();
}

static void test_db_delete_removes_row_and_uuid(void **state)
{
    (void)state;
    create_vm(VM1, UUID_VM1, "one");
    create_vm(VM2, UUID_VM2, "two");
    delete_row(C_VM, VM1);
    db_rdlock();
    assert_null(db_get(C_VM, VM1));
    assert_null(db_get_by_uuid(C_VM, UUID_VM1));
    assert_non_null(db_get(C_VM, VM2));
    assert_int_equal(db_count(C_VM), 1);
    db_unlock();
}

static void test_db_touch_bumps_gen_without_changing_values(void **state)
{
    (void)state;
    create_vm(VM1, UUID_VM1, "one");
    int64_t before = row_gen(C_VM, VM1);
    struct changeset *cs = changeset_new();
    changeset_touch(cs, C_VM, VM1);
    assert_int_equal(apply(cs), 0);
    assert_int_equal(row_gen(C_VM, VM1), before + 1);
    expect_field(C_VM, VM1, FIDX(VM, name_label), "one");
}

static void test_db_generation_increases_by_one_per_op(void **state)
{
    (void)state;
    int64_t g0 = generation();
    struct changeset *cs = changeset_new();
    add_vm(cs, VM1, UUID_VM1, "one");
    add_vm(cs, VM2, UUID_VM2, "two");
    changeset_set(cs, C_VM, VM1, FIDX(VM, name_label), "uno");
    assert_int_equal(changeset_size(cs), 3);
    assert_int_equal(apply(cs), 0);
    assert_int_equal(generation(), g0 + 3);
    assert_int_equal(row_created_gen(C_VM, VM1), g0 + 1);
    assert_int_equal(row_created_gen(C_VM, VM2), g0 + 2);
    assert_int_equal(row_gen(C_VM, VM2), g0 + 2);
    assert_int_equal(row_gen(C_VM, VM1), g0 + 3);
    delete_row(C_VM, VM2);
    assert_int_equal(generation(), g0 + 4);
}

static void test_db_empty_changeset_changes_nothing(void **state)
{
    (void)state;
    create_vm(VM1, UUID_VM1, "one");
    int64_t g = generation();
    assert_int_equal(apply(changeset_new()), 0);
    assert_int_equal(generation(), g);
}

static void test_db_next_visits_each_row_once(void **state)
{
    (void)state;
    char refs[50][64];
    struct changeset *cs = changeset_new();
    for (int i = 0; i < 50; i++) {
        snprintf(refs[i], sizeof(refs[i]), "OpaqueRef:vm-%d", i);
        add_vm(cs, refs[i], NULL, refs[i]);
    }
    assert_int_equal(apply(cs), 0);
    int seen[50] = {0};
    size_t n = 0;
    db_rdlock();
    assert_int_equal(db_count(C_VM), 50);
    const struct row *r;
    for (size_t it = 0; db_next(C_VM, &it, &r);) {
        int i = atoi(r->ref + strlen("OpaqueRef:vm-"));
        assert_true(i >= 0 && i < 50);
        seen[i]++;
        n++;
    }
    db_unlock();
    assert_int_equal(n, 50);
    for (int i = 0; i < 50; i++)
        assert_int_equal(seen[i], 1);
}

static void test_db_values_with_quotes_and_utf8_are_kept(void **state)
{
    (void)state;
    const char *name = "it's \"quoted\" \\ caf\xc3\xa9 \xf0\x9f\x98\x80 '; DROP TABLE VM; --";
    create_vm(VM1, UUID_VM1, name);
    expect_field(C_VM, VM1, FIDX(VM, name_label), name);
    set_field(C_VM, VM1, FIDX(VM, tags), "[\"a\\\"b\",\"\"]");
    expect_field(C_VM, VM1, FIDX(VM, tags), "[\"a\\\"b\",\"\"]");
}

/* ---- validation: all or nothing ---- */

static void test_db_create_of_existing_ref_is_eexist(void **state)
{
    (void)state;
    create_vm(VM1, UUID_VM1, "one");
    int64_t g = generation();
    struct changeset *cs = changeset_new();
    add_vm(cs, VM1, UUID_VM2, "again");
    assert_int_equal(apply(cs), -EEXIST);
    expect_field(C_VM, VM1, FIDX(VM, name_label), "one");
    assert_int_equal(generation(), g);
    db_rdlock();
    assert_null(db_get_by_uuid(C_VM, UUID_VM2));
    db_unlock();
}

static void test_db_create_twice_in_one_changeset_is_eexist(void **state)
{
    (void)state;
    struct changeset *cs = changeset_new();
    add_vm(cs, VM1, UUID_VM1, "one");
    add_vm(cs, VM1, UUID_VM1, "one");
    assert_int_equal(apply(cs), -EEXIST);
    assert_false(exists(C_VM, VM1));
    assert_int_equal(generation(), 0);
}

static void test_db_set_of_missing_row_is_enoent(void **state)
{
    (void)state;
    struct changeset *cs = changeset_new();
    changeset_set(cs, C_VM, VM1, FIDX(VM, name_label), "x");
    assert_int_equal(apply(cs), -ENOENT);
    assert_false(exists(C_VM, VM1));
    assert_int_equal(generation(), 0);
}

static void test_db_delete_and_touch_of_missing_row_are_enoent(void **state)
{
    (void)state;
    struct changeset *cs = changeset_new();
    changeset_delete(cs, C_VM, VM1);
    assert_int_equal(apply(cs), -ENOENT);
    cs = changeset_new();
    changeset_touch(cs, C_VM, VM1);
    assert_int_equal(apply(cs), -ENOENT);
    assert_int_equal(generation(), 0);
}

static void test_db_delete_twice_in_one_changeset_is_enoent(void **state)
{
    (void)state;
    create_vm(VM1, UUID_VM1, "one");
    int64_t g = generation();
    struct changeset *cs = changeset_new();
    changeset_delete(cs, C_VM, VM1);
    changeset_delete(cs, C_VM, VM1);
    assert_int_equal(apply(cs), -ENOENT);
    assert_true(exists(C_VM, VM1));
    assert_int_equal(generation(), g);
}

static void test_db_set_after_delete_in_one_changeset_is_enoent(void **state)
{
    (void)state;
    create_vm(VM1, UUID_VM1, "one");
    struct changeset *cs = changeset_new();
    changeset_delete(cs, C_VM, VM1);
    changeset_set(cs, C_VM, VM1, FIDX(VM, name_label), "ghost");
    assert_int_equal(apply(cs), -ENOENT);
    expect_field(C_VM, VM1, FIDX(VM, name_label), "one");
}

static void test_db_set_of_computed_field_is_einval(void **state)
{
    (void)state;
    create_vm(VM1, UUID_VM1, "one");
    int64_t g = generation();
    struct changeset *cs = changeset_new();
    changeset_set(cs, C_VM, VM1, FIDX(VM, VBDs), "[\"" VBD1 "\"]");
    assert_int_equal(apply(cs), -EINVAL);
    expect_field(C_VM, VM1, FIDX(VM, VBDs), "[]");
    assert_int_equal(generation(), g);
}

static void test_db_set_of_field_out_of_range_is_einval(void **state)
{
    (void)state;
    create_vm(VM1, UUID_VM1, "one");
    struct changeset *cs = changeset_new();
    changeset_set(cs, C_VM, VM1, model_classes[C_VM].n_fields, "x");
    assert_int_equal(apply(cs), -EINVAL);
    cs = changeset_new();
    changeset_set(cs, C_VM, VM1, -1, "x");
    assert_int_equal(apply(cs), -EINVAL);
}

static void test_db_change_of_class_without_table_is_einval(void **state)
{
    (void)state;
    struct changeset *cs = changeset_new();
    changeset_create(cs, C_auth, "OpaqueRef:auth", new_values(C_auth));
    assert_int_equal(apply(cs), -EINVAL);
    db_rdlock();
    assert_int_equal(db_count(C_auth), 0);
    db_unlock();
    assert_int_equal(generation(), 0);
}

static void test_db_failing_third_op_applies_none(void **state)
{
    (void)state;
    create_vm(VM1, UUID_VM1, "one");
    char *before = dump();
    struct changeset *cs = changeset_new();
    add_vm(cs, VM2, UUID_VM2, "two");                          /* would succeed */
    changeset_set(cs, C_VM, VM1, FIDX(VM, name_label), "uno"); /* would succeed */
    changeset_set(cs, C_VM, "OpaqueRef:missing", FIDX(VM, name_label), "x");
    add_vbd(cs, VBD1, VM1);
    assert_int_equal(apply(cs), -ENOENT);
    char *after = dump();
    assert_string_equal(after, before);
    assert_false(exists(C_VM, VM2));
    assert_false(exists(C_VBD, VBD1));
    free(before);
    free(after);
}

static void test_db_failed_changeset_leaves_file_unchanged_after_reopen(void **state)
{
    struct fixture *fx = *state;
    create_vm(VM1, UUID_VM1, "one");
    struct changeset *cs = changeset_new();
    add_vm(cs, VM2, UUID_VM2, "two");
    add_vm(cs, VM1, UUID_VM1, "dup");
    assert_int_equal(apply(cs), -EEXIST);
    char *before = dump();
    reopen(fx);
    char *after = dump();
    assert_string_equal(after, before);
    free(before);
    free(after);
}

static void test_db_ops_see_earlier_ops_of_the_same_changeset(void **state)
{
    (void)state;
    struct changeset *cs = changeset_new();
    add_vm(cs, VM1, UUID_VM1, "one");
    changeset_set(cs, C_VM, VM1, FIDX(VM, name_label), "two");
    changeset_delete(cs, C_VM, VM1);
    add_vm(cs, VM1, UUID_VM1, "three");
    assert_int_equal(apply(cs), 0);
    expect_field(C_VM, VM1, FIDX(VM, name_label), "three");
    assert_int_equal(row_created_gen(C_VM, VM1), 4);
    db_rdlock();
    const struct row *r = db_get_by_uuid(C_VM, UUID_VM1);
    assert_non_null(r);
    assert_string_equal(r->v[FIDX(VM, name_label)], "three");
    db_unlock();
}

/* ---- relations ---- */

static void test_db_relation_lists_vbd_on_its_vm(void **state)
{
    (void)state;
    create_vm(VM1, UUID_VM1, "one");
    create_vm(VM2, UUID_VM2, "two");
    create_vbd(VBD1, VM1);
    expect_field(C_VM, VM1, FIDX(VM, VBDs), "[\"" VBD1 "\"]");
    expect_field(C_VM, VM2, FIDX(VM, VBDs), "[]");
}

static void test_db_relation_change_bumps_vm_gen(void **state)
{
    (void)state;
    create_vm(VM1, UUID_VM1, "one");
    create_vm(VM2, UUID_VM2, "two");
    int64_t vm2_gen = row_gen(C_VM, VM2);
    create_vbd(VBD1, VM1);
    assert_int_equal(row_gen(C_VM, VM1), row_gen(C_VBD, VBD1));
    assert_int_equal(row_gen(C_VM, VM1), generation());
    assert_int_equal(row_gen(C_VM, VM2), vm2_gen);
}

static void test_db_relation_keeps_every_vbd_in_creation_order(void **state)
{
    (void)state;
    create_vm(VM1, UUID_VM1, "one");
    create_vbd(VBD2, VM1);
    create_vbd(VBD1, VM1);
    expect_field(C_VM, VM1, FIDX(VM, VBDs), "[\"" VBD2 "\",\"" VBD1 "\"]");
}

static void test_db_relation_moving_vbd_updates_both_vms(void **state)
{
    (void)state;
    create_vm(VM1, UUID_VM1, "one");
    create_vm(VM2, UUID_VM2, "two");
    create_vbd(VBD1, VM1);
    set_field(C_VBD, VBD1, FIDX(VBD, VM), VM2);
    expect_field(C_VM, VM1, FIDX(VM, VBDs), "[]");
    expect_field(C_VM, VM2, FIDX(VM, VBDs), "[\"" VBD1 "\"]");
    int64_t g = generation();
    assert_int_equal(row_gen(C_VM, VM1), g);
    assert_int_equal(row_gen(C_VM, VM2), g);
}

static void test_db_relation_deleting_vbd_empties_the_set(void **state)
{
    (void)state;
    create_vm(VM1, UUID_VM1, "one");
    create_vbd(VBD1, VM1);
    create_vbd(VBD2, VM1);
    delete_row(C_VBD, VBD1);
    expect_field(C_VM, VM1, FIDX(VM, VBDs), "[\"" VBD2 "\"]");
    assert_int_equal(row_gen(C_VM, VM1), generation());
    delete_row(C_VBD, VBD2);
    expect_field(C_VM, VM1, FIDX(VM, VBDs), "[]");
}

static void test_db_relation_ignores_null_ref(void **state)
{
    (void)state;
    create_vm(VM1, UUID_VM1, "one");
    int64_t g = row_gen(C_VM, VM1);
    create_vbd(VBD1, "OpaqueRef:NULL");
    expect_field(C_VM, VM1, FIDX(VM, VBDs), "[]");
    assert_int_equal(row_gen(C_VM, VM1), g);
    set_field(C_VBD, VBD1, FIDX(VBD, VM), VM1);
    expect_field(C_VM, VM1, FIDX(VM, VBDs), "[\"" VBD1 "\"]");
    set_field(C_VBD, VBD1, FIDX(VBD, VM), "OpaqueRef:NULL");
    expect_field(C_VM, VM1, FIDX(VM, VBDs), "[]");
}

static void test_db_relation_counts_vbd_created_before_its_vm(void **state)
{
    (void)state;
    struct changeset *cs = changeset_new();
    add_vbd(cs, VBD1, VM1);
    add_vm(cs, VM1, UUID_VM1, "one");
    assert_int_equal(apply(cs), 0);
    expect_field(C_VM, VM1, FIDX(VM, VBDs), "[\"" VBD1 "\"]");
}

static void test_db_relation_of_self_vm_snapshots(void **state)
{
    (void)state;
    create_vm(VM1, UUID_VM1, "one");
    struct changeset *cs = changeset_new();
    char **v = new_values(C_VM);
    put(v, FIDX(VM, snapshot_of), VM1);
    changeset_create(cs, C_VM, VM2, v);
    assert_int_equal(apply(cs), 0);
    expect_field(C_VM, VM1, FIDX(VM, snapshots), "[\"" VM2 "\"]");
    expect_field(C_VM, VM2, FIDX(VM, snapshots), "[]");
}

/* ---- changes since a generation ---- */

static void test_db_changes_since_reports_add(void **state)
{
    (void)state;
    int64_t since = generation();
    create_vm(VM1, UUID_VM1, "one");
    db_rdlock();
    struct changes ch = changes_since(since, NULL, C_VM, C__COUNT);
    assert_int_equal(ch.n, 1);
    assert_int_equal(ch.ev[0].op, DB_ADD);
    assert_int_equal(ch.ev[0].cls, C_VM);
    assert_string_equal(ch.ev[0].ref, VM1);
    assert_ptr_equal(ch.ev[0].row, db_get(C_VM, VM1));
    assert_int_equal(ch.ev[0].gen, db_generation());
    db_unlock();
    free(ch.ev);
}

static void test_db_changes_since_reports_mod_of_older_row(void **state)
{
    (void)state;
    create_vm(VM1, UUID_VM1, "one");
    create_vm(VM2, UUID_VM2, "two");
    int64_t since = generation();
    set_field(C_VM, VM1, FIDX(VM, name_label), "uno");
    db_rdlock();
    struct changes ch = changes_since(since, NULL, C_VM, C__COUNT);
    assert_int_equal(ch.n, 1);
    assert_int_equal(ch.ev[0].op, DB_MOD);
    assert_string_equal(ch.ev[0].ref, VM1);
    assert_int_equal(ch.ev[0].gen, since + 1);
    db_unlock();
    free(ch.ev);
}

static void test_db_changes_since_reports_del_of_older_row(void **state)
{
    (void)state;
    create_vm(VM1, UUID_VM1, "one");
    int64_t since = generation();
    delete_row(C_VM, VM1);
    db_rdlock();
    struct changes ch = changes_since(since, NULL, C_VM, C__COUNT);
    assert_int_equal(ch.n, 1);
    assert_int_equal(ch.ev[0].op, DB_DEL);
    assert_string_equal(ch.ev[0].ref, VM1);
    assert_null(ch.ev[0].row);
    assert_int_equal(ch.ev[0].gen, since + 1);
    db_unlock();
    free(ch.ev);
}

static void test_db_changes_since_coalesces_changes_per_object(void **state)
{
    (void)state;
    create_vm(VM1, UUID_VM1, "one");
    int64_t since = generation();
    set_field(C_VM, VM1, FIDX(VM, name_label), "a");
    set_field(C_VM, VM1, FIDX(VM, name_label), "b");
    set_field(C_VM, VM1, FIDX(VM, name_description), "c");
    db_rdlock();
    struct changes ch = changes_since(since, NULL, C_VM, C__COUNT);
    assert_int_equal(ch.n, 1);
    assert_int_equal(ch.ev[0].op, DB_MOD);
    assert_int_equal(ch.ev[0].gen, generation());
    db_unlock();
    free(ch.ev);
}

static void test_db_changes_since_created_then_modified_is_add(void **state)
{
    (void)state;
    int64_t since = generation();
    create_vm(VM1, UUID_VM1, "one");
    set_field(C_VM, VM1, FIDX(VM, name_label), "uno");
    db_rdlock();
    struct changes ch = changes_since(since, NULL, C_VM, C__COUNT);
    assert_int_equal(ch.n, 1);
    assert_int_equal(ch.ev[0].op, DB_ADD);
    db_unlock();
    free(ch.ev);
}

static void test_db_changes_since_omits_created_and_deleted(void **state)
{
    (void)state;
    create_vm(VM1, UUID_VM1, "one");
    int64_t since = generation();
    create_vm(VM2, UUID_VM2, "two");
    set_field(C_VM, VM2, FIDX(VM, name_label), "dos");
    delete_row(C_VM, VM2);
    db_rdlock();
    struct changes ch = changes_since(since, NULL, C_VM, C__COUNT);
    assert_int_equal(ch.n, 0);
    db_unlock();
    free(ch.ev);
    /* From before its creation it is neither an add nor a delete either. */
    db_rdlock();
    ch = changes_since(0, NULL, C_VM, C__COUNT);
    assert_int_equal(ch.n, 1);
    assert_string_equal(ch.ev[0].ref, VM1);
    assert_int_equal(ch.ev[0].op, DB_ADD);
    db_unlock();
    free(ch.ev);
}

static void test_db_changes_since_current_generation_is_empty(void **state)
{
    (void)state;
    create_vm(VM1, UUID_VM1, "one");
    delete_row(C_VM, VM1);
    create_vm(VM2, UUID_VM2, "two");
    db_rdlock();
    struct changes ch = changes_since(db_generation(), NULL, C_VM, C_VBD, C__COUNT);
    assert_int_equal(ch.n, 0);
    db_unlock();
    free(ch.ev);
}

static void test_db_changes_since_filters_by_class(void **state)
{
    (void)state;
    int64_t since = generation();
    create_vm(VM1, UUID_VM1, "one");
    create_vm(VM2, UUID_VM2, "two");
    create_vbd(VBD1, VM2);
    create_vbd(VBD2, "OpaqueRef:NULL");
    delete_row(C_VBD, VBD2);
    db_rdlock();
    struct changes ch = changes_since(since, NULL, C_VBD, C__COUNT);
    assert_int_equal(ch.n, 1);
    assert_int_equal(ch.ev[0].cls, C_VBD);
    assert_string_equal(ch.ev[0].ref, VBD1);
    db_unlock();
    free(ch.ev);
    db_rdlock();
    ch = changes_since(since, NULL, C_VM, C__COUNT);
    assert_int_equal(ch.n, 2);
    assert_non_null(find_event(&ch, VM1));
    assert_non_null(find_event(&ch, VM2));
    db_unlock();
    free(ch.ev);
    db_rdlock();
    ch = changes_since(since, NULL, C_task, C__COUNT);
    assert_int_equal(ch.n, 0);
    db_unlock();
    free(ch.ev);
}

static void test_db_changes_since_filters_by_ref(void **state)
{
    (void)state;
    int64_t since = generation();
    create_vm(VM1, UUID_VM1, "one");
    create_vm(VM2, UUID_VM2, "two");
    set_field(C_VM, VM1, FIDX(VM, name_label), "uno");
    db_rdlock();
    struct changes ch = changes_since(since, VM2, C_VM, C__COUNT);
    assert_int_equal(ch.n, 1);
    assert_string_equal(ch.ev[0].ref, VM2);
    assert_int_equal(ch.ev[0].op, DB_ADD);
    db_unlock();
    free(ch.ev);
    db_rdlock();
    ch = changes_since(since, "OpaqueRef:other", C_VM, C__COUNT);
    assert_int_equal(ch.n, 0);
    db_unlock();
    free(ch.ev);
}

static void test_db_changes_since_filters_deletes_by_ref(void **state)
{
    (void)state;
    create_vm(VM1, UUID_VM1, "one");
    create_vm(VM2, UUID_VM2, "two");
    int64_t since = generation();
    delete_row(C_VM, VM1);
    delete_row(C_VM, VM2);
    db_rdlock();
    struct changes ch = changes_since(since, VM1, C_VM, C__COUNT);
    assert_int_equal(ch.n, 1);
    assert_string_equal(ch.ev[0].ref, VM1);
    assert_int_equal(ch.ev[0].op, DB_DEL);
    db_unlock();
    free(ch.ev);
}

static void test_db_changes_since_reports_recreated_ref_once(void **state)
{
    (void)state;
    create_vm(VM1, UUID_VM1, "one");
    int64_t since = generation();
    delete_row(C_VM, VM1);
    create_vm(VM1, UUID_VM1, "again");
    db_rdlock();
    struct changes ch = changes_since(since, NULL, C_VM, C__COUNT);
    size_t n = ch.n;
    bool last_is_del = n > 0 && ch.ev[n - 1].op == DB_DEL;
    db_unlock();
    free(ch.ev);
    /* Coalesced per object: the object is there now, so whatever the one
     * event says, it must not be that the object is gone. */
    assert_int_equal(n, 1);
    assert_false(last_is_del);
}

static void test_db_changes_since_reports_relation_change_as_mod_of_vm(void **state)
{
    (void)state;
    create_vm(VM1, UUID_VM1, "one");
    int64_t since = generation();
    create_vbd(VBD1, VM1);
    db_rdlock();
    struct changes ch = changes_since(since, NULL, C_VM, C_VBD, C__COUNT);
    assert_int_equal(ch.n, 2);
    const struct db_event *vm = find_event(&ch, VM1), *vbd = find_event(&ch, VBD1);
    assert_non_null(vm);
    assert_non_null(vbd);
    assert_int_equal(vm->op, DB_MOD);
    assert_int_equal(vbd->op, DB_ADD);
    db_unlock();
    free(ch.ev);
}

/* The body of the next test, run in a child: 0 if db_changes_since(since,
 * NULL, VM1) reported exactly the mod of VM1. */
static int changes_of_one_ref_without_classes(int64_t since)
{
    struct db_event *ev = NULL;
    db_rdlock();
    size_t n = db_changes_since(since, NULL, VM1, &ev);
    int r = n == 1 && streq(ev[0].ref, VM1) && ev[0].op == DB_MOD ? 0 : 1;
    db_unlock();
    free(ev);
    return r;
}

static void test_db_changes_since_without_class_filter_follows_one_ref(void **state)
{
    (void)state;
    /* db.h: "... or of the one object ref when want is NULL". */
    create_vm(VM1, UUID_VM1, "one");
    int64_t since = generation();
    set_field(C_VM, VM1, FIDX(VM, name_label), "uno");
    create_vm(VM2, UUID_VM2, "two");
    pid_t pid = fork_test_child();
    if (pid == 0)
        _exit(changes_of_one_ref_without_classes(since));
    expect_child_ok(pid, "db_changes_since(since, NULL, ref)");
}

/* ---- change sets as JSON ---- */

/* A change set with every kind of op, valid on a database holding VM1. */
static struct changeset *sample_changeset(void)
{
    struct changeset *cs = changeset_new();
    char **v = new_values(C_VM);
    put(v, FIDX(VM, uuid), UUID_VM2);
    put(v, FIDX(VM, name_label), "two \"quoted\" \\ caf\xc3\xa9\n");
    put(v, FIDX(VM, tags), "[\"x\",\"y\\\"z\"]");
    put(v, FIDX(VM, power_state), "Running");
    changeset_create(cs, C_VM, VM2, v);
    add_vbd(cs, VBD1, VM2);
    changeset_set(cs, C_VM, VM1, FIDX(VM, name_description), "desc\t\x01");
    changeset_touch(cs, C_VM, VM1);
    changeset_set(cs, C_VBD, VBD1, FIDX(VBD, VM), VM1);
    add_vm(cs, VM3, NULL, NULL);
    changeset_delete(cs, C_VM, VM3);
    return cs;
}

static void test_db_changeset_json_round_trip_is_identical(void **state)
{
    (void)state;
    struct changeset *cs = sample_changeset();
    char *json = changeset_to_json(cs);
    struct changeset *back = NULL;
    assert_int_equal(changeset_from_json(json, &back), 0);
    assert_non_null(back);
    assert_int_equal(changeset_size(back), changeset_size(cs));
    char *again = changeset_to_json(back);
    assert_string_equal(again, json);
    free(json);
    free(again);
    changeset_free(cs);
    changeset_free(back);
}

static void test_db_changeset_from_json_applies_identically(void **state)
{
    struct fixture *fx = *state;
    create_vm(VM1, UUID_VM1, "one");
    struct changeset *cs = sample_changeset();
    char *json = changeset_to_json(cs);
    assert_int_equal(apply(cs), 0);
    char *direct = dump();

    reset(fx);
    create_vm(VM1, UUID_VM1, "one");
    struct changeset *back = NULL;
    assert_int_equal(changeset_from_json(json, &back), 0);
    assert_int_equal(apply(back), 0);
    char *replayed = dump();
    assert_string_equal(replayed, direct);
    expect_field(C_VM, VM2, FIDX(VM, name_label), "two \"quoted\" \\ caf\xc3\xa9\n");
    expect_field(C_VM, VM1, FIDX(VM, VBDs), "[\"" VBD1 "\"]");
    free(json);
    free(direct);
    free(replayed);
}

static void test_db_changeset_from_json_rejects_malformed(void **state)
{
    static const char *const bad[] = {
        "",
        "not json",
        "{}",
        "\"text\"",
        "[{\"op\":\"create\",\"class\":\"VM\",\"ref\":\"r\"}]", /* no values */
        "[{\"op\":\"fly\",\"class\":\"VM\",\"ref\":\"r\"}]",
        "[{\"op\":\"delete\",\"class\":\"NoSuchClass\",\"ref\":\"r\"}]",
        "[{\"op\":\"delete\",\"ref\":\"r\"}]",
        "[{\"op\":\"delete\",\"class\":\"VM\"}]",
        "[{\"op\":\"set\",\"class\":\"VM\",\"ref\":\"r\",\"field\":\"nope\",\"value\":\"x\"}]",
        "[{\"op\":\"set\",\"class\":\"VM\",\"ref\":\"r\",\"field\":\"name_label\"}]",
        "[{\"class\":\"VM\",\"ref\":\"r\"}]",
        "[1]",
    };
    (void)state;
    /* On failure the output parameter is left as it was. */
    struct changeset *const untouched = changeset_new();
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        struct changeset *cs = untouched;
        if (changeset_from_json(bad[i], &cs) != -EINVAL)
            fail_msg("accepted %s", bad[i]);
        assert_ptr_equal(cs, untouched);
    }
    changeset_free(untouched);
}

static void test_db_changeset_from_json_accepts_empty_list(void **state)
{
    (void)state;
    struct changeset *cs = NULL;
    assert_int_equal(changeset_from_json("[]", &cs), 0);
    assert_int_equal(changeset_size(cs), 0);
    changeset_free(cs);
}

/* In a child: 0 if changeset_from_json refuses text with -EINVAL. */
static int from_json_refuses(const char *text)
{
    struct changeset *cs = NULL;
    int r = changeset_from_json(text, &cs);
    if (r == 0)
        changeset_free(cs);
    return r == -EINVAL ? 0 : 1;
}

static void expect_from_json_refused_in_child(const char *text)
{
    pid_t pid = fork_test_child();
    if (pid == 0)
        _exit(from_json_refuses(text));
    expect_child_ok(pid, text);
}

static void test_db_changeset_from_json_rejects_null_value(void **state)
{
    (void)state;
    expect_from_json_refused_in_child("[{\"op\":\"set\",\"class\":\"VM\",\"ref\":\"r\","
                                      "\"field\":\"name_label\",\"value\":null}]");
}

static void test_db_changeset_from_json_rejects_null_create_value(void **state)
{
    (void)state;
    expect_from_json_refused_in_child("[{\"op\":\"create\",\"class\":\"VM\",\"ref\":\"r\","
                                      "\"values\":{\"name_label\":null}}]");
}

static void test_db_changeset_from_json_rejects_null_class_and_op(void **state)
{
    (void)state;
    expect_from_json_refused_in_child("[{\"op\":\"delete\",\"class\":null,\"ref\":\"r\"}]");
    expect_from_json_refused_in_child("[{\"op\":null,\"class\":\"VM\",\"ref\":\"r\"}]");
}

static void test_db_changeset_from_json_rejects_values_that_are_not_an_object(void **state)
{
    (void)state;
    expect_from_json_refused_in_child(
        "[{\"op\":\"create\",\"class\":\"VM\",\"ref\":\"r\",\"values\":[]}]");
}

static void test_db_applied_changeset_still_serialises_the_same(void **state)
{
    (void)state;
    /* A change set is "self-contained, serialisable" (db.h): applying it
     * must not take its values away, e.g. before it is shipped to a log. */
    struct changeset *cs = changeset_new();
    add_vm(cs, VM1, UUID_VM1, "one");
    char *before = changeset_to_json(cs);
    db_wrlock();
    assert_int_equal(db_apply(cs), 0);
    db_unlock();
    char *after = changeset_to_json(cs);
    changeset_free(cs);
    bool same = streq(before, after);
    free(before);
    free(after);
    assert_true(same);
}

/* ---- waiting for changes ---- */

static void test_db_wait_change_returns_at_once_when_generation_passed(void **state)
{
    (void)state;
    create_vm(VM1, UUID_VM1, "one");
    int64_t g = generation();
    double t0 = now_monotonic();
    assert_int_equal(db_wait_change(g - 1, t0 + 10), g);
    assert_true(now_monotonic() - t0 < 1.0);
}

static void test_db_wait_change_returns_at_deadline(void **state)
{
    (void)state;
    int64_t g = generation();
    double t0 = now_monotonic();
    assert_int_equal(db_wait_change(g, t0 + 0.2), g);
    double waited = now_monotonic() - t0;
    assert_true(waited >= 0.19);
    assert_true(waited < 3.0);
}

static void test_db_wait_change_with_past_deadline_returns_at_once(void **state)
{
    (void)state;
    int64_t g = generation();
    double t0 = now_monotonic();
    assert_int_equal(db_wait_change(g, t0 - 1), g);
    assert_true(now_monotonic() - t0 < 1.0);
}

static void *apply_later(void *arg)
{
    (void)arg;
    struct timespec ts = {0, 100 * 1000 * 1000};
    nanosleep(&ts, NULL);
    struct changeset *cs = changeset_new();
    add_vm(cs, VM2, UUID_VM2, "two");
    db_wrlock();
    int r = db_apply(cs);
    db_unlock();
    changeset_free(cs);
    return (void *)(intptr_t)r;
}

static void test_db_wait_change_wakes_on_apply(void **state)
{
    (void)state;
    pthread_t th;
    void *ret;
    int64_t g = generation();
    double t0 = now_monotonic();
    assert_int_equal(pthread_create(&th, NULL, apply_later, NULL), 0);
    int64_t got = db_wait_change(g, t0 + 10);
    double waited = now_monotonic() - t0;
    pthread_join(th, &ret);
    assert_int_equal((intptr_t)ret, 0);
    assert_int_equal(got, g + 1);
    assert_true(waited < 5.0);
}

static void *kick_later(void *arg)
{
    (void)arg;
    struct timespec ts = {0, 100 * 1000 * 1000};
    nanosleep(&ts, NULL);
    db_kick();
    return NULL;
}

static void test_db_kick_wakes_waiter(void **state)
{
    (void)state;
    pthread_t th;
    int64_t g = generation();
    double t0 = now_monotonic();
    assert_int_equal(pthread_create(&th, NULL, kick_later, NULL), 0);
    int64_t got = db_wait_change(g, t0 + 10);
    double waited = now_monotonic() - t0;
    pthread_join(th, NULL);
    assert_int_equal(got, g);
    assert_true(waited < 5.0);
}

/* ---- files ---- */

static void test_db_path_and_integrity_check(void **state)
{
    struct fixture *fx = *state;
    create_vm(VM1, UUID_VM1, "one");
    create_vbd(VBD1, VM1);
    delete_row(C_VBD, VBD1);
    if (fx->file) {
        assert_non_null(db_path());
        assert_string_equal(db_path(), fx->path);
    } else
        assert_null(db_path());
    assert_int_equal(db_integrity_check(), 0);
}

static void test_db_reopen_restores_rows_and_values(void **state)
{
    struct fixture *fx = *state;
    create_vm(VM1, UUID_VM1, "one \"1\" caf\xc3\xa9");
    create_vm(VM2, UUID_VM2, "two");
    set_field(C_VM, VM2, FIDX(VM, tags), "[\"t\"]");
    set_field(C_VM, VM2, FIDX(VM, power_state), "Running");
    char *before = dump();
    reopen(fx);
    char *after = dump();
    assert_string_equal(after, before);
    expect_field(C_VM, VM1, FIDX(VM, name_label), "one \"1\" caf\xc3\xa9");
    expect_field(C_VM, VM2, FIDX(VM, tags), "[\"t\"]");
    free(before);
    free(after);
}

static void test_db_reopen_restores_generation(void **state)
{
    struct fixture *fx = *state;
    create_vm(VM1, UUID_VM1, "one");
    set_field(C_VM, VM1, FIDX(VM, name_label), "uno");
    set_field(C_VM, VM1, FIDX(VM, name_label), "eins");
    int64_t g = generation();
    reopen(fx);
    assert_int_equal(generation(), g);
    assert_int_equal(row_gen(C_VM, VM1), g);
    assert_int_equal(row_created_gen(C_VM, VM1), 1);
}

static void test_db_reopen_continues_generation(void **state)
{
    struct fixture *fx = *state;
    create_vm(VM1, UUID_VM1, "one");
    int64_t g = generation();
    reopen(fx);
    create_vm(VM2, UUID_VM2, "two");
    assert_int_equal(generation(), g + 1);
    assert_int_equal(row_created_gen(C_VM, VM2), g + 1);
}

static void test_db_reopen_restores_uuid_index(void **state)
{
    struct fixture *fx = *state;
    create_vm(VM1, UUID_VM1, "one");
    set_field(C_VM, VM1, FIDX(VM, uuid), UUID_VM3);
    reopen(fx);
    db_rdlock();
    const struct row *r = db_get_by_uuid(C_VM, UUID_VM3);
    assert_non_null(r);
    assert_string_equal(r->ref, VM1);
    assert_null(db_get_by_uuid(C_VM, UUID_VM1));
    db_unlock();
}

static void test_db_reopen_persists_delete(void **state)
{
    struct fixture *fx = *state;
    create_vm(VM1, UUID_VM1, "one");
    create_vm(VM2, UUID_VM2, "two");
    delete_row(C_VM, VM1);
    reopen(fx);
    assert_false(exists(C_VM, VM1));
    assert_true(exists(C_VM, VM2));
    db_rdlock();
    assert_int_equal(db_count(C_VM), 1);
    assert_null(db_get_by_uuid(C_VM, UUID_VM1));
    db_unlock();
}

static void test_db_reopen_restores_relation_sets(void **state)
{
    struct fixture *fx = *state;
    create_vm(VM1, UUID_VM1, "one");
    create_vm(VM2, UUID_VM2, "two");
    create_vbd(VBD1, VM1);
    create_vbd(VBD2, VM1);
    set_field(C_VBD, VBD2, FIDX(VBD, VM), VM2);
    reopen(fx);
    expect_field(C_VM, VM1, FIDX(VM, VBDs), "[\"" VBD1 "\"]");
    expect_field(C_VM, VM2, FIDX(VM, VBDs), "[\"" VBD2 "\"]");
}

static void test_db_reopen_keeps_generation_bumped_by_relation(void **state)
{
    struct fixture *fx = *state;
    create_vm(VM1, UUID_VM1, "one");
    create_vbd(VBD1, VM1);
    int64_t g = row_gen(C_VM, VM1);
    assert_int_equal(g, generation());
    reopen(fx);
    assert_int_equal(row_gen(C_VM, VM1), g);
}

static void test_db_reopen_keeps_generation_bumped_by_relation_delete(void **state)
{
    struct fixture *fx = *state;
    create_vm(VM1, UUID_VM1, "one");
    create_vbd(VBD1, VM1);
    delete_row(C_VBD, VBD1);
    int64_t g = row_gen(C_VM, VM1);
    assert_int_equal(g, generation());
    reopen(fx);
    assert_int_equal(row_gen(C_VM, VM1), g);
    expect_field(C_VM, VM1, FIDX(VM, VBDs), "[]");
}

static void test_db_reopen_keeps_tombstones_for_events(void **state)
{
    struct fixture *fx = *state;
    create_vm(VM1, UUID_VM1, "one");
    create_vm(VM2, UUID_VM2, "two");
    int64_t since = generation();
    delete_row(C_VM, VM1);
    reopen(fx);
    db_rdlock();
    struct changes ch = changes_since(since, NULL, C_VM, C__COUNT);
    assert_int_equal(ch.n, 1);
    assert_string_equal(ch.ev[0].ref, VM1);
    assert_int_equal(ch.ev[0].op, DB_DEL);
    assert_int_equal(ch.ev[0].gen, since + 1);
    db_unlock();
    free(ch.ev);
}

static void test_db_reopen_keeps_created_and_deleted_out_of_events(void **state)
{
    struct fixture *fx = *state;
    int64_t since = generation();
    create_vm(VM1, UUID_VM1, "one");
    delete_row(C_VM, VM1);
    reopen(fx);
    db_rdlock();
    struct changes ch = changes_since(since, NULL, C_VM, C__COUNT);
    assert_int_equal(ch.n, 0);
    db_unlock();
    free(ch.ev);
}

static void add_session_and_task(void)
{
    struct changeset *cs = changeset_new();
    char **s = new_values(C_session);
    put(s, FIDX(session, uuid), UUID_VM3);
    changeset_create(cs, C_session, SESSION1, s);
    char **t = new_values(C_task);
    put(t, FIDX(task, name_label), "a task");
    changeset_create(cs, C_task, TASK1, t);
    assert_int_equal(apply(cs), 0);
}

static void test_db_reopen_drops_nopersist_classes(void **state)
{
    struct fixture *fx = *state;
    create_vm(VM1, UUID_VM1, "one");
    add_session_and_task();
    assert_true(exists(C_session, SESSION1));
    assert_true(exists(C_task, TASK1));
    reopen(fx);
    assert_false(exists(C_session, SESSION1));
    assert_false(exists(C_task, TASK1));
    assert_true(exists(C_VM, VM1));
}

static void test_db_generation_survives_reopen_after_nopersist_change(void **state)
{
    struct fixture *fx = *state;
    create_vm(VM1, UUID_VM1, "one");
    add_session_and_task();
    int64_t g = generation();
    reopen(fx);
    /* A client holding a token at g must not miss the next changes, so the
     * generation must not go back across a restart. */
    assert_true(generation() >= g);
}

static void test_db_reopen_passes_integrity_check(void **state)
{
    struct fixture *fx = *state;
    struct changeset *cs = changeset_new();
    for (int i = 0; i < 200; i++) {
        char ref[64];
        snprintf(ref, sizeof(ref), "OpaqueRef:bulk-%d", i);
        add_vm(cs, ref, NULL, ref);
    }
    assert_int_equal(apply(cs), 0);
    delete_row(C_VM, "OpaqueRef:bulk-7");
    reopen(fx);
    db_rdlock();
    assert_int_equal(db_count(C_VM), 199);
    db_unlock();
    assert_int_equal(db_integrity_check(), 0);
}

/* Runs SQL on the closed database's file, as an older version of the
 * schema would have left it. */
static void sql_on_file(const struct fixture *fx, const char *sql)
{
    sqlite3 *h = NULL;
    assert_int_equal(sqlite3_open(fx->path, &h), SQLITE_OK);
    char *err = NULL;
    int r = sqlite3_exec(h, sql, NULL, NULL, &err);
    if (r != SQLITE_OK) {
        char msg[256];
        snprintf(msg, sizeof(msg), "%s", err ? err : "?");
        sqlite3_free(err);
        sqlite3_close(h);
        fail_msg("%s: %s", sql, msg);
    }
    sqlite3_close(h);
}

static void test_db_reopen_adds_missing_column_with_its_default(void **state)
{
    struct fixture *fx = *state;
    create_vm(VM1, UUID_VM1, "one");
    set_field(C_VM, VM1, FIDX(VM, power_state), "Running");
    db_close();
    /* A file written before VM.tags and VM.power_state existed. */
    sql_on_file(fx, "ALTER TABLE \"VM\" DROP COLUMN \"tags\"");
    sql_on_file(fx, "ALTER TABLE \"VM\" DROP COLUMN \"power_state\"");
    assert_int_equal(open_db(fx), 0);
    expect_field(C_VM, VM1, FIDX(VM, tags), "[]");
    expect_field(C_VM, VM1, FIDX(VM, power_state), "Halted");
    expect_field(C_VM, VM1, FIDX(VM, name_label), "one");
    /* And the new columns are written from then on. */
    set_field(C_VM, VM1, FIDX(VM, tags), "[\"new\"]");
    reopen(fx);
    expect_field(C_VM, VM1, FIDX(VM, tags), "[\"new\"]");
}

static void test_db_reopen_reads_null_column_as_default(void **state)
{
    struct fixture *fx = *state;
    create_vm(VM1, UUID_VM1, "one");
    db_close();
    sql_on_file(fx, "UPDATE \"VM\" SET \"other_config\" = NULL");
    assert_int_equal(open_db(fx), 0);
    expect_field(C_VM, VM1, FIDX(VM, other_config), "{}");
}

static void test_db_memory_database_is_empty_after_reopen(void **state)
{
    struct fixture *fx = *state;
    create_vm(VM1, UUID_VM1, "one");
    reopen(fx);
    assert_false(exists(C_VM, VM1));
    assert_int_equal(generation(), 0);
}

static void test_db_open_in_missing_directory_fails(void **state)
{
    (void)state;
    db_close();
    assert_true(db_open("/nonexistent-dir-for-xenia-tests/sub/xapi.db") < 0);
    db_close();
    assert_int_equal(db_open(NULL), 0); /* for the teardown */
}

/* clang-format off */
#define MEM(f) {#f " (memory)", f, setup, teardown, &mem_fixture}
#define FILE_DB(f) {#f " (file)", f, setup, teardown, &file_fixture}
/* clang-format on */
#define BOTH(f) MEM(f), FILE_DB(f)

int main(void)
{
    const struct CMUnitTest tests[] = {
        BOTH(test_db_starts_empty_at_generation_zero),
        BOTH(test_db_create_then_get),
        BOTH(test_db_create_fills_defaults_of_missing_fields),
        BOTH(test_db_get_by_uuid_finds_row),
        BOTH(test_db_get_of_missing_ref_is_null),
        BOTH(test_db_set_changes_field_and_row_gen),
        BOTH(test_db_set_of_uuid_moves_the_uuid_index),
        BOTH(test_db_delete_removes_row_and_uuid),
        BOTH(test_db_touch_bumps_gen_without_changing_values),
        BOTH(test_db_generation_increases_by_one_per_op),
        BOTH(test_db_empty_changeset_changes_nothing),
        BOTH(test_db_next_visits_each_row_once),
        BOTH(test_db_values_with_quotes_and_utf8_are_kept),
        BOTH(test_db_create_of_existing_ref_is_eexist),
        BOTH(test_db_create_twice_in_one_changeset_is_eexist),
        BOTH(test_db_set_of_missing_row_is_enoent),
        BOTH(test_db_delete_and_touch_of_missing_row_are_enoent),
        BOTH(test_db_delete_twice_in_one_changeset_is_enoent),
        BOTH(test_db_set_after_delete_in_one_changeset_is_enoent),
        BOTH(test_db_set_of_computed_field_is_einval),
        BOTH(test_db_set_of_field_out_of_range_is_einval),
        BOTH(test_db_change_of_class_without_table_is_einval),
        BOTH(test_db_failing_third_op_applies_none),
        FILE_DB(test_db_failed_changeset_leaves_file_unchanged_after_reopen),
        BOTH(test_db_ops_see_earlier_ops_of_the_same_changeset),
        BOTH(test_db_relation_lists_vbd_on_its_vm),
        BOTH(test_db_relation_change_bumps_vm_gen),
        BOTH(test_db_relation_keeps_every_vbd_in_creation_order),
        BOTH(test_db_relation_moving_vbd_updates_both_vms),
        BOTH(test_db_relation_deleting_vbd_empties_the_set),
        BOTH(test_db_relation_ignores_null_ref),
        BOTH(test_db_relation_counts_vbd_created_before_its_vm),
        BOTH(test_db_relation_of_self_vm_snapshots),
        BOTH(test_db_changes_since_reports_add),
        BOTH(test_db_changes_since_reports_mod_of_older_row),
        BOTH(test_db_changes_since_reports_del_of_older_row),
        BOTH(test_db_changes_since_coalesces_changes_per_object),
        BOTH(test_db_changes_since_created_then_modified_is_add),
        BOTH(test_db_changes_since_omits_created_and_deleted),
        BOTH(test_db_changes_since_current_generation_is_empty),
        BOTH(test_db_changes_since_filters_by_class),
        BOTH(test_db_changes_since_filters_by_ref),
        BOTH(test_db_changes_since_filters_deletes_by_ref),
        BOTH(test_db_changes_since_reports_relation_change_as_mod_of_vm),
        BOTH(test_db_changes_since_reports_recreated_ref_once),
        MEM(test_db_changes_since_without_class_filter_follows_one_ref),
        BOTH(test_db_changeset_json_round_trip_is_identical),
        BOTH(test_db_changeset_from_json_applies_identically),
        MEM(test_db_changeset_from_json_rejects_malformed),
        MEM(test_db_changeset_from_json_accepts_empty_list),
        MEM(test_db_changeset_from_json_rejects_null_value),
        MEM(test_db_changeset_from_json_rejects_null_create_value),
        MEM(test_db_changeset_from_json_rejects_null_class_and_op),
        MEM(test_db_changeset_from_json_rejects_values_that_are_not_an_object),
        MEM(test_db_applied_changeset_still_serialises_the_same),
        BOTH(test_db_wait_change_returns_at_once_when_generation_passed),
        BOTH(test_db_wait_change_returns_at_deadline),
        MEM(test_db_wait_change_with_past_deadline_returns_at_once),
        BOTH(test_db_wait_change_wakes_on_apply),
        MEM(test_db_kick_wakes_waiter),
        BOTH(test_db_path_and_integrity_check),
        FILE_DB(test_db_reopen_restores_rows_and_values),
        FILE_DB(test_db_reopen_restores_generation),
        FILE_DB(test_db_reopen_continues_generation),
        FILE_DB(test_db_reopen_restores_uuid_index),
        FILE_DB(test_db_reopen_persists_delete),
        FILE_DB(test_db_reopen_restores_relation_sets),
        FILE_DB(test_db_reopen_keeps_generation_bumped_by_relation),
        FILE_DB(test_db_reopen_keeps_generation_bumped_by_relation_delete),
        FILE_DB(test_db_reopen_keeps_tombstones_for_events),
        FILE_DB(test_db_reopen_keeps_created_and_deleted_out_of_events),
        FILE_DB(test_db_reopen_drops_nopersist_classes),
        FILE_DB(test_db_generation_survives_reopen_after_nopersist_change),
        FILE_DB(test_db_reopen_passes_integrity_check),
        FILE_DB(test_db_reopen_adds_missing_column_with_its_default),
        FILE_DB(test_db_reopen_reads_null_column_as_default),
        MEM(test_db_memory_database_is_empty_after_reopen),
        MEM(test_db_open_in_missing_directory_fails),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
