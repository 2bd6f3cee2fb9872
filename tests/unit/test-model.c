/* Unit tests of the run-time data model (xapi-c/model.c): that the class,
 * field, enum, message, error and relation tables agree with the lines of
 * the .def files they are expanded from; that FIDX() and the field
 * descriptors agree on names and indices; lookups by name; the parser of
 * declared type strings in every form it must accept, and its rejection of
 * malformed ones; field defaults and type zeros, and that every declared
 * default is already in canonical form; the computed relation fields
 * (VM.VBDs from VBD.VM); and the parsing of message parameters (required
 * and optional ones, whether a message takes a session). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/cleanup.h"
#include "lib/strbuf.h"
#include "lib/util.h"
#include "xapi-c/error.h"
#include "xapi-c/marshal.h"
#include "xapi-c/model.h"

static int setup_model(void **state)
{
    (void)state;
    model_init();
    return 0;
}

/* Counts the lines of a datamodel .def file that begin with prefix; -1 if
 * the file cannot be read. The file is found next to this source file. */
static long count_def_lines(const char *def, const char *prefix)
{
    static const char self[] = "tests/unit/test-model.c";
    size_t flen = strlen(__FILE__);
    size_t rootlen = flen >= strlen(self) ? flen - strlen(self) : 0;
    char *path = xasprintf("%.*sxapi-c/datamodel/%s", (int)rootlen, __FILE__, def);
    FILE *f = fopen(path, "r");
    free(path);
    if (!f)
        return -1;
    char line[8192];
    long n = 0;
    while (fgets(line, sizeof(line), f))
        if (strncmp(line, prefix, strlen(prefix)) == 0)
            n++;
    fclose(f);
    return n;
}

static long def_lines_or_skip(const char *def, const char *prefix)
{
    long n = count_def_lines(def, prefix);
    if (n < 0)
        skip();
    return n;
}

static const struct field_desc *field(int cls, int idx)
{
    return &model_classes[cls].fields[idx];
}

/* ---- tables against the .def files ---- */

static void test_model_class_count_matches_def(void **state)
{
    (void)state;
    assert_int_equal(C__COUNT, def_lines_or_skip("classes.def", "CLASS("));
    assert_int_equal(C__COUNT, def_lines_or_skip("classes.def", "END_CLASS("));
}

static void test_model_field_count_matches_def(void **state)
{
    long total = 0;
    (void)state;
    for (int c = 0; c < C__COUNT; c++)
        total += model_classes[c].n_fields;
    assert_int_equal(total, F__COUNT);
    assert_int_equal(F__COUNT, def_lines_or_skip("classes.def", "FIELD("));
}

static void test_model_enum_count_matches_def(void **state)
{
    (void)state;
    assert_int_equal(model_n_enums, def_lines_or_skip("enums.def", "ENUM("));
}

static void test_model_message_count_matches_def(void **state)
{
    (void)state;
    assert_int_equal(M__COUNT, def_lines_or_skip("messages.def", "MSG("));
}

static void test_model_error_count_matches_def(void **state)
{
    (void)state;
    assert_int_equal(ERR__COUNT, def_lines_or_skip("errors.def", "ERR("));
}

static void test_model_relation_count_matches_computed_fields(void **state)
{
    long computed = 0;
    (void)state;
    for (int c = 0; c < C__COUNT; c++)
        for (int i = 0; i < model_classes[c].n_fields; i++)
            if (field(c, i)->flags & FF_COMPUTED)
                computed++;
    assert_int_equal(computed, def_lines_or_skip("relations.def", "RELATION("));
}

/* ---- identifiers and descriptors ---- */

static void test_model_fidx_names_the_field(void **state)
{
    (void)state;
    assert_string_equal(field(C_VM, FIDX(VM, name_label))->name, "name_label");
    assert_string_equal(field(C_VM, FIDX(VM, power_state))->name, "power_state");
    assert_string_equal(field(C_VM, FIDX(VM, VBDs))->name, "VBDs");
    assert_string_equal(field(C_VBD, FIDX(VBD, VM))->name, "VM");
    assert_string_equal(field(C_session, FIDX(session, uuid))->name, "uuid");
    assert_int_equal(FIDX(session, uuid), 0);
}

static void test_model_field_descriptors_know_their_class_and_index(void **state)
{
    (void)state;
    for (int c = 0; c < C__COUNT; c++) {
        const struct class_desc *cd = &model_classes[c];
        for (int i = 0; i < cd->n_fields; i++) {
            assert_int_equal(cd->fields[i].cls, c);
            assert_int_equal(cd->fields[i].index, i);
            assert_non_null(cd->fields[i].type);
            assert_string_equal(cd->fields[i].type->text, cd->fields[i].type_text);
        }
    }
}

static void test_model_field_names_are_unique_within_a_class(void **state)
{
    (void)state;
    for (int c = 0; c < C__COUNT; c++) {
        const struct class_desc *cd = &model_classes[c];
        for (int i = 0; i < cd->n_fields; i++)
            assert_int_equal(model_field_by_name(cd, cd->fields[i].name), i);
    }
}

static void test_model_uuid_and_name_label_indices(void **state)
{
    (void)state;
    assert_int_equal(model_classes[C_VM].uuid_field, FIDX(VM, uuid));
    assert_int_equal(model_classes[C_VM].name_label_field, FIDX(VM, name_label));
    assert_int_equal(model_classes[C_VBD].uuid_field, FIDX(VBD, uuid));
    assert_int_equal(model_classes[C_VBD].name_label_field, -1);
    assert_int_equal(model_classes[C_auth].uuid_field, -1);
    assert_int_equal(model_classes[C_auth].n_fields, 0);
}

static void test_model_class_names_and_lower_case_names(void **state)
{
    (void)state;
    assert_string_equal(model_classes[C_VM].name, "VM");
    assert_string_equal(model_classes[C_VM].lname, "vm");
    assert_string_equal(model_classes[C_VBD].lname, "vbd");
    assert_string_equal(model_classes[C_session].lname, "session");
    assert_ptr_equal(model_class(C_VM), &model_classes[C_VM]);
    assert_null(model_class(-1));
    assert_null(model_class(C__COUNT));
}

static void test_model_class_flags(void **state)
{
    (void)state;
    assert_true(model_classes[C_VM].flags & CF_DB);
    assert_false(model_classes[C_VM].flags & CF_NOPERSIST);
    assert_true(model_classes[C_session].flags & CF_NOPERSIST);
    assert_true(model_classes[C_task].flags & CF_NOPERSIST);
    assert_true(model_classes[C_task].flags & CF_DB);
    assert_false(model_classes[C_auth].flags & CF_DB);
}

static void test_model_class_by_name_exact_and_ignoring_case(void **state)
{
    (void)state;
    assert_int_equal(model_class_by_name("VM", false), C_VM);
    assert_int_equal(model_class_by_name("vm", false), -1);
    assert_int_equal(model_class_by_name("vm", true), C_VM);
    assert_int_equal(model_class_by_name("Vbd", true), C_VBD);
    assert_int_equal(model_class_by_name("no_such_class", true), -1);
    assert_int_equal(model_class_by_name("", false), -1);
}

static void test_model_field_by_name(void **state)
{
    (void)state;
    assert_int_equal(model_field_by_name(&model_classes[C_VM], "power_state"),
                     FIDX(VM, power_state));
    assert_int_equal(model_field_by_name(&model_classes[C_VM], "Power_State"), -1);
    assert_int_equal(model_field_by_name(&model_classes[C_VM], "no_such_field"), -1);
}

static void test_model_enum_by_name(void **state)
{
    (void)state;
    const struct enum_desc *e = model_enum_by_name("vm_power_state");
    assert_non_null(e);
    assert_string_equal(e->name, "vm_power_state");
    bool halted = false, running = false;
    for (size_t i = 0; i < e->n_values; i++) {
        halted |= streq(e->values[i], "Halted");
        running |= streq(e->values[i], "Running");
    }
    assert_true(halted && running);
    assert_null(model_enum_by_name("no_such_enum"));
}

static void test_model_error_table(void **state)
{
    (void)state;
    assert_string_equal(model_errors[ERR_HANDLE_INVALID].code, "HANDLE_INVALID");
    assert_string_equal(model_errors[ERR_HANDLE_INVALID].params, "class,handle");
    assert_string_equal(model_errors[ERR_INTERNAL_ERROR].code, "INTERNAL_ERROR");
    assert_string_equal(model_errors[ERR_INVALID_VALUE].code, "INVALID_VALUE");
    for (int i = 0; i < ERR__COUNT; i++) {
        assert_non_null(model_errors[i].code);
        assert_non_null(model_errors[i].params);
    }
}

static void test_model_api_fail_uses_table_code_and_params(void **state)
{
    (void)state;
    struct api_error *e = api_fail(HANDLE_INVALID, "VM", "OpaqueRef:x");
    assert_string_equal(e->code, "HANDLE_INVALID");
    assert_int_equal(e->n, 2);
    assert_string_equal(e->params[0], "VM");
    assert_string_equal(e->params[1], "OpaqueRef:x");
    api_error_free(e);
    e = api_failf(INTERNAL_ERROR, "n=%d", 7);
    assert_string_equal(e->code, "INTERNAL_ERROR");
    assert_int_equal(e->n, 1);
    assert_string_equal(e->params[0], "n=7");
    api_error_free(e);
}

static void test_model_api_error_new_keeps_unknown_code_as_fault(void **state)
{
    (void)state;
    const char *params[] = {"a"};
    struct api_error *e = api_error_new("NOT_A_CODE", params, 1);
    assert_string_equal(e->code, "Fault");
    assert_int_equal(e->n, 2);
    assert_string_equal(e->params[0], "NOT_A_CODE");
    assert_string_equal(e->params[1], "a");
    api_error_free(e);
    e = api_error_new("HANDLE_INVALID", params, 1);
    assert_string_equal(e->code, "HANDLE_INVALID");
    assert_int_equal(e->n, 1);
    api_error_free(e);
}

/* ---- type parsing ---- */

static const struct type *parse_ok(const char *text)
{
    const struct type *t = model_parse_type(text);
    if (!t)
        fail_msg("rejected '%s'", text);
    return t;
}

static void test_model_parse_basic_types(void **state)
{
    static const struct {
        const char *text;
        enum type_kind kind;
    } cases[] = {{"string", T_STRING}, {"int", T_INT},           {"float", T_FLOAT},
                 {"bool", T_BOOL},     {"datetime", T_DATETIME}, {"void", T_VOID}};
    (void)state;
    for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
        const struct type *t = parse_ok(cases[i].text);
        assert_int_equal(t->kind, cases[i].kind);
        assert_string_equal(t->text, cases[i].text);
    }
}

static void test_model_parse_enum(void **state)
{
    (void)state;
    const struct type *t = parse_ok("enum vm_power_state");
    assert_int_equal(t->kind, T_ENUM);
    assert_ptr_equal(t->en, model_enum_by_name("vm_power_state"));
}

static void test_model_parse_ref(void **state)
{
    (void)state;
    const struct type *t = parse_ok("VM ref");
    assert_int_equal(t->kind, T_REF);
    assert_int_equal(t->cls, C_VM);
    assert_int_equal(parse_ok("session ref")->cls, C_session);
}

static void test_model_parse_record(void **state)
{
    (void)state;
    const struct type *t = parse_ok("VM record");
    assert_int_equal(t->kind, T_RECORD);
    assert_int_equal(t->cls, C_VM);
}

static void test_model_parse_any_class_record(void **state)
{
    (void)state;
    const struct type *t = parse_ok("<class> record");
    assert_int_equal(t->kind, T_RECORD);
    assert_int_equal(t->cls, -1);
}

static void test_model_parse_set(void **state)
{
    (void)state;
    const struct type *t = parse_ok("VM ref set");
    assert_int_equal(t->kind, T_SET);
    assert_int_equal(t->elem->kind, T_REF);
    assert_int_equal(t->elem->cls, C_VM);
}

static void test_model_parse_set_of_sets(void **state)
{
    (void)state;
    const struct type *t = parse_ok("string set set");
    assert_int_equal(t->kind, T_SET);
    assert_int_equal(t->elem->kind, T_SET);
    assert_int_equal(t->elem->elem->kind, T_STRING);
    assert_string_equal(t->elem->text, "string set");
}

static void test_model_parse_map_to_enum(void **state)
{
    (void)state;
    const struct type *t = parse_ok("(string -> enum vm_operations) map");
    assert_int_equal(t->kind, T_MAP);
    assert_int_equal(t->key->kind, T_STRING);
    assert_int_equal(t->elem->kind, T_ENUM);
    assert_ptr_equal(t->elem->en, model_enum_by_name("vm_operations"));
    assert_string_equal(t->text, "(string -> enum vm_operations) map");
}

static void test_model_parse_nested_map(void **state)
{
    (void)state;
    const struct type *t = parse_ok("(VM ref -> (string -> string set) map) map");
    assert_int_equal(t->kind, T_MAP);
    assert_int_equal(t->key->kind, T_REF);
    assert_int_equal(t->key->cls, C_VM);
    assert_int_equal(t->elem->kind, T_MAP);
    assert_int_equal(t->elem->elem->kind, T_SET);
    assert_int_equal(t->elem->elem->elem->kind, T_STRING);
}

static void test_model_parse_set_of_maps(void **state)
{
    (void)state;
    const struct type *t = parse_ok("(string -> string) map set");
    assert_int_equal(t->kind, T_SET);
    assert_int_equal(t->elem->kind, T_MAP);
}

static void test_model_parse_option(void **state)
{
    (void)state;
    const struct type *t = parse_ok("string option");
    assert_int_equal(t->kind, T_OPTION);
    assert_int_equal(t->elem->kind, T_STRING);
    t = parse_ok("VM ref option");
    assert_int_equal(t->kind, T_OPTION);
    assert_int_equal(t->elem->kind, T_REF);
}

static void test_model_parse_event_batch(void **state)
{
    (void)state;
    assert_int_equal(parse_ok("an event batch")->kind, T_OTHER);
}

static void test_model_parse_interns_equal_texts(void **state)
{
    (void)state;
    assert_ptr_equal(parse_ok("(string -> int) map"), parse_ok("(string -> int) map"));
    assert_ptr_equal(parse_ok("string"), parse_ok("string"));
}

static void test_model_parse_rejects_malformed(void **state)
{
    static const char *const bad[] = {
        "",
        " ",
        "strin",
        "String",
        "enum",
        "enum no_such_enum",
        "set",
        "ref",
        "VM",
        "VM reference",
        "string set garbage",
        "string set )",
        "(string -> int)",
        "(string -> int) set",
        "(string int) map",
        "(string -> int map",
        "(string -> ) map",
        "( -> int) map",
        "-> int",
        "string -> int",
        "((string -> int) map",
    };
    (void)state;
    for (size_t i = 0; i < ELEMENTSOF(bad); i++)
        if (model_parse_type(bad[i]))
            fail_msg("accepted '%s'", bad[i]);
}

/* ---- defaults ---- */

static const char *default_of(int cls, int idx)
{
    return model_field_default(field(cls, idx));
}

static void test_model_default_declared_enum(void **state)
{
    (void)state;
    assert_string_equal(default_of(C_VM, FIDX(VM, power_state)), "Halted");
}

static void test_model_default_declared_set(void **state)
{
    (void)state;
    assert_string_equal(default_of(C_VM, FIDX(VM, tags)), "[]");
}

static void test_model_default_declared_null_ref(void **state)
{
    (void)state;
    assert_string_equal(default_of(C_VM, FIDX(VM, snapshot_of)), "OpaqueRef:NULL");
}

static void test_model_default_float_is_canonical(void **state)
{
    (void)state;
    /* Floats are canonically %.16g: 1.0 is "1". */
    assert_string_equal(default_of(C_VM, FIDX(VM, HVM_shadow_multiplier)), "1");
}

static void test_model_default_without_declaration_is_type_zero(void **state)
{
    (void)state;
    assert_null(field(C_VM, FIDX(VM, uuid))->def);
    assert_string_equal(default_of(C_VM, FIDX(VM, uuid)), "");
    assert_null(field(C_VM, FIDX(VM, VBDs))->def);
    assert_string_equal(default_of(C_VM, FIDX(VM, VBDs)), "[]");
}

static void test_model_type_zero_per_kind(void **state)
{
    (void)state;
    assert_string_equal(model_type_zero(parse_ok("string")), "");
    assert_string_equal(model_type_zero(parse_ok("int")), "0");
    assert_string_equal(model_type_zero(parse_ok("float")), "0");
    assert_string_equal(model_type_zero(parse_ok("bool")), "false");
    assert_string_equal(model_type_zero(parse_ok("datetime")), "19700101T00:00:00Z");
    assert_string_equal(model_type_zero(parse_ok("VM ref")), "OpaqueRef:NULL");
    assert_string_equal(model_type_zero(parse_ok("string set")), "[]");
    assert_string_equal(model_type_zero(parse_ok("(string -> string) map")), "{}");
    const struct enum_desc *e = model_enum_by_name("vm_power_state");
    assert_string_equal(model_type_zero(parse_ok("enum vm_power_state")), e->values[0]);
}

/* Whether text is a valid value of t already in canonical form; on failure
 * describes why in why[]. */
static bool is_canonical(const struct type *t, const char *text, char *why, size_t len)
{
    struct strbuf sb;
    strbuf_init(&sb, 64);
    struct api_error *e = marshal_from_text(t, text, &sb);
    bool ok = !e && streq(sb.buf, text);
    if (e)
        snprintf(why, len, "%s", e->n ? e->params[0] : e->code);
    else if (!ok)
        snprintf(why, len, "canonical form is '%s'", sb.buf);
    api_error_free(e);
    strbuf_done(&sb);
    return ok;
}

static void test_model_every_declared_field_default_is_canonical(void **state)
{
    char why[256], list[4096] = "";
    int bad = 0;
    (void)state;
    for (int c = 0; c < C__COUNT; c++)
        for (int i = 0; i < model_classes[c].n_fields; i++) {
            const struct field_desc *f = field(c, i);
            if (!f->def || is_canonical(f->type, f->def, why, sizeof(why)))
                continue;
            if (bad++ < 12) {
                size_t n = strlen(list);
                snprintf(list + n, sizeof(list) - n, " %s.%s='%s' (%s);", model_classes[c].name,
                         f->name, f->def, why);
            }
        }
    if (bad)
        fail_msg("%d non-canonical defaults:%s", bad, list);
}

static void test_model_every_type_zero_is_canonical(void **state)
{
    char why[256];
    (void)state;
    for (int c = 0; c < C__COUNT; c++)
        for (int i = 0; i < model_classes[c].n_fields; i++) {
            const struct type *t = field(c, i)->type;
            if (t->kind == T_RECORD || t->kind == T_OTHER || t->kind == T_VOID ||
                t->kind == T_OPTION)
                continue;
            if (!is_canonical(t, model_type_zero(t), why, sizeof(why)))
                fail_msg("zero of %s is '%s': %s", t->text, model_type_zero(t), why);
        }
}

/* ---- relations ---- */

static void test_model_vm_vbds_is_computed_from_vbd_vm(void **state)
{
    (void)state;
    const struct field_desc *f = field(C_VM, FIDX(VM, VBDs));
    assert_true(f->flags & FF_COMPUTED);
    assert_int_equal(f->rel_cls, C_VBD);
    assert_int_equal(f->rel_field, FIDX(VBD, VM));
    assert_int_equal(f->type->kind, T_SET);
    assert_int_equal(f->type->elem->cls, C_VBD);
}

static void test_model_stored_fields_have_no_relation(void **state)
{
    (void)state;
    const struct field_desc *f = field(C_VBD, FIDX(VBD, VM));
    assert_false(f->flags & FF_COMPUTED);
    assert_int_equal(f->rel_cls, -1);
    assert_int_equal(f->rel_field, -1);
    assert_int_equal(field(C_VM, FIDX(VM, name_label))->rel_cls, -1);
}

static void test_model_every_computed_field_is_a_set_of_refs_back(void **state)
{
    (void)state;
    for (int c = 0; c < C__COUNT; c++)
        for (int i = 0; i < model_classes[c].n_fields; i++) {
            const struct field_desc *f = field(c, i);
            if (!(f->flags & FF_COMPUTED))
                continue;
            if (f->rel_cls < 0 || f->rel_field < 0)
                fail_msg("%s.%s is computed but has no relation", model_classes[c].name, f->name);
            const struct field_desc *ref = field(f->rel_cls, f->rel_field);
            assert_int_equal(ref->type->kind, T_REF);
            assert_int_equal(ref->type->cls, c);
            assert_int_equal(f->type->kind, T_SET);
            assert_int_equal(f->type->elem->kind, T_REF);
            assert_int_equal(f->type->elem->cls, f->rel_cls);
        }
}

/* ---- messages ---- */

static void test_model_login_with_password_params(void **state)
{
    (void)state;
    const struct msg_desc *m = &model_msgs[M_session_login_with_password];
    assert_string_equal(m->wire, "session.login_with_password");
    assert_int_equal(m->cls, C_session);
    assert_false(m->takes_session);
    assert_int_equal(m->n_params, 4);
    assert_int_equal(m->n_required, 2);
    assert_string_equal(m->params[0].name, "uname");
    assert_null(m->params[0].def);
    assert_string_equal(m->params[1].name, "pwd");
    assert_null(m->params[1].def);
    assert_string_equal(m->params[2].name, "version");
    assert_string_equal(m->params[2].def, "1.1");
    assert_string_equal(m->params[3].name, "originator");
    assert_string_equal(m->params[3].def, "");
    assert_int_equal(m->params[3].type->kind, T_STRING);
    assert_int_equal(m->result->kind, T_REF);
    assert_int_equal(m->result->cls, C_session);
}

static void test_model_vm_start_takes_session(void **state)
{
    (void)state;
    const struct msg_desc *m = &model_msgs[M_VM_start];
    assert_string_equal(m->wire, "VM.start");
    assert_string_equal(m->name, "start");
    assert_int_equal(m->cls, C_VM);
    assert_true(m->takes_session);
    assert_true(m->flags & MF_ASYNC);
    assert_int_equal(m->n_params, 4);
    assert_int_equal(m->n_required, 4);
    assert_string_equal(m->params[0].name, "session_id");
    assert_int_equal(m->params[1].type->kind, T_REF);
    assert_int_equal(m->params[1].type->cls, C_VM);
    assert_string_equal(m->params[1].name, "vm");
    assert_int_equal(m->params[2].type->kind, T_BOOL);
    assert_int_equal(m->result->kind, T_VOID);
}

static void test_model_event_from_returns_event_batch(void **state)
{
    (void)state;
    assert_int_equal(model_msgs[M_event_from].result->kind, T_OTHER);
}

static void test_model_every_message_is_parsed(void **state)
{
    (void)state;
    for (int i = 0; i < M__COUNT; i++) {
        const struct msg_desc *m = &model_msgs[i];
        assert_non_null(m->result);
        assert_true(m->n_required <= m->n_params);
        char *wire = xasprintf("%s.%s", model_classes[m->cls].name, m->name);
        assert_string_equal(m->wire, wire);
        free(wire);
        for (int p = 0; p < m->n_params; p++) {
            assert_non_null(m->params[p].type);
            assert_non_null(m->params[p].name);
            assert_true(*m->params[p].name);
        }
        if (m->takes_session) {
            assert_int_equal(m->params[0].type->kind, T_REF);
            assert_int_equal(m->params[0].type->cls, C_session);
        }
    }
}

static void test_model_required_params_come_first(void **state)
{
    (void)state;
    for (int i = 0; i < M__COUNT; i++) {
        const struct msg_desc *m = &model_msgs[i];
        for (int p = 0; p < m->n_params; p++)
            if ((p < m->n_required) != (m->params[p].def == NULL))
                fail_msg("%s: parameter %s out of order", m->wire, m->params[p].name);
    }
}

static void test_model_every_param_default_is_valid_for_its_type(void **state)
{
    (void)state;
    for (int i = 0; i < M__COUNT; i++) {
        const struct msg_desc *m = &model_msgs[i];
        for (int p = 0; p < m->n_params; p++) {
            if (!m->params[p].def)
                continue;
            struct strbuf sb;
            strbuf_init(&sb, 32);
            struct api_error *e = marshal_from_text(m->params[p].type, m->params[p].def, &sb);
            strbuf_done(&sb);
            if (e) {
                api_error_free(e);
                fail_msg("%s: default '%s' of %s is not a %s", m->wire, m->params[p].def,
                         m->params[p].name, m->params[p].type_text);
            }
        }
    }
}

static void test_model_init_is_idempotent(void **state)
{
    (void)state;
    const struct field_desc *fields = model_classes[C_VM].fields;
    const struct param_desc *params = model_msgs[M_VM_start].params;
    const char *lname = model_classes[C_VM].lname;
    model_init();
    assert_ptr_equal(model_classes[C_VM].fields, fields);
    assert_ptr_equal(model_msgs[M_VM_start].params, params);
    assert_ptr_equal(model_classes[C_VM].lname, lname);
    assert_int_equal(model_msgs[M_VM_start].n_params, 4);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_model_class_count_matches_def),
        cmocka_unit_test(test_model_field_count_matches_def),
        cmocka_unit_test(test_model_enum_count_matches_def),
        cmocka_unit_test(test_model_message_count_matches_def),
        cmocka_unit_test(test_model_error_count_matches_def),
        cmocka_unit_test(test_model_relation_count_matches_computed_fields),
        cmocka_unit_test(test_model_fidx_names_the_field),
        cmocka_unit_test(test_model_field_descriptors_know_their_class_and_index),
        cmocka_unit_test(test_model_field_names_are_unique_within_a_class),
        cmocka_unit_test(test_model_uuid_and_name_label_indices),
        cmocka_unit_test(test_model_class_names_and_lower_case_names),
        cmocka_unit_test(test_model_class_flags),
        cmocka_unit_test(test_model_class_by_name_exact_and_ignoring_case),
        cmocka_unit_test(test_model_field_by_name),
        cmocka_unit_test(test_model_enum_by_name),
        cmocka_unit_test(test_model_error_table),
        cmocka_unit_test(test_model_api_fail_uses_table_code_and_params),
        cmocka_unit_test(test_model_api_error_new_keeps_unknown_code_as_fault),
        cmocka_unit_test(test_model_parse_basic_types),
        cmocka_unit_test(test_model_parse_enum),
        cmocka_unit_test(test_model_parse_ref),
        cmocka_unit_test(test_model_parse_record),
        cmocka_unit_test(test_model_parse_any_class_record),
        cmocka_unit_test(test_model_parse_set),
        cmocka_unit_test(test_model_parse_set_of_sets),
        cmocka_unit_test(test_model_parse_map_to_enum),
        cmocka_unit_test(test_model_parse_nested_map),
        cmocka_unit_test(test_model_parse_set_of_maps),
        cmocka_unit_test(test_model_parse_option),
        cmocka_unit_test(test_model_parse_event_batch),
        cmocka_unit_test(test_model_parse_interns_equal_texts),
        cmocka_unit_test(test_model_parse_rejects_malformed),
        cmocka_unit_test(test_model_default_declared_enum),
        cmocka_unit_test(test_model_default_declared_set),
        cmocka_unit_test(test_model_default_declared_null_ref),
        cmocka_unit_test(test_model_default_float_is_canonical),
        cmocka_unit_test(test_model_default_without_declaration_is_type_zero),
        cmocka_unit_test(test_model_type_zero_per_kind),
        cmocka_unit_test(test_model_every_declared_field_default_is_canonical),
        cmocka_unit_test(test_model_every_type_zero_is_canonical),
        cmocka_unit_test(test_model_vm_vbds_is_computed_from_vbd_vm),
        cmocka_unit_test(test_model_stored_fields_have_no_relation),
        cmocka_unit_test(test_model_every_computed_field_is_a_set_of_refs_back),
        cmocka_unit_test(test_model_login_with_password_params),
        cmocka_unit_test(test_model_vm_start_takes_session),
        cmocka_unit_test(test_model_event_from_returns_event_batch),
        cmocka_unit_test(test_model_every_message_is_parsed),
        cmocka_unit_test(test_model_required_params_come_first),
        cmocka_unit_test(test_model_every_param_default_is_valid_for_its_type),
        cmocka_unit_test(test_model_init_is_idempotent),
    };
    return cmocka_run_group_tests(tests, setup_model, NULL);
}
