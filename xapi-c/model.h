/* The XenAPI data model at run time: classes, fields, enums, messages,
 * errors and relations, all derived from the declaration in the datamodel folder.
 * The .def files are expanded here into compile-time identifiers (C_VM,
 * F_VM_name_label, M_VM_start, ERR_HANDLE_INVALID) and into descriptor
 * tables; model_init() parses the declared type strings once. Nothing here
 * changes after model_init(), so every thread may read it without locks. */
#pragma once

#include <stdbool.h>
#include <stddef.h>

enum class_id {
#define CLASS(n, ...) C_##n,
#define FIELD(...)
#define END_CLASS(n)
#include "datamodel/classes.def"
#undef CLASS
#undef FIELD
#undef END_CLASS
    C__COUNT
};

/* Global field identifiers. The fields of a class are contiguous: the
 * index of field f within class c is FIDX(c, f). */
enum field_id {
#define CLASS(n, ...) FB_##n, FB_##n##__ = FB_##n - 1,
#define FIELD(c, n, ...) F_##c##_##n,
#define END_CLASS(n) FE_##n, FE_##n##__ = FE_##n - 1,
#include "datamodel/classes.def"
#undef CLASS
#undef FIELD
#undef END_CLASS
    F__COUNT
};
#define FIDX(c, f) (F_##c##_##f - FB_##c)

enum msg_id {
#define MSG(c, n, ...) M_##c##_##n,
#include "datamodel/messages.def"
#undef MSG
    M__COUNT
};

enum err_id {
#define ERR(code, ...) ERR_##code,
#include "datamodel/errors.def"
#undef ERR
    ERR__COUNT
};

enum lifecycle { S_PUBLISHED, S_PROTOTYPED, S_DEPRECATED, S_REMOVED };
enum qualifier { Q_RW, Q_RO_CTOR, Q_RO_RUN };

/* Class flags */
#define CF_DB 0x01            /* a table of the database */
#define CF_GET_ALL 0x02       /* get_all, get_all_records(_where) */
#define CF_CTOR 0x04          /* generated create and destroy */
#define CF_BY_NAME 0x08       /* get_by_name_label */
#define CF_BY_UUID 0x10       /* get_by_uuid */
#define CF_NOPERSIST 0x20     /* rows live in memory only (sessions, tasks) */
#define CF_CUSTOM_ACCESS 0x40 /* no generated messages: all are custom (message) */
/* Field flags */
#define FF_COMPUTED 0x01 /* the set side of a relation: derived, not stored */
/* Message flags */
#define MF_ASYNC 0x01 /* also served as Async.<class>.<message> */

enum type_kind {
    T_STRING,
    T_INT,
    T_FLOAT,
    T_BOOL,
    T_DATETIME,
    T_ENUM,
    T_REF,
    T_SET,
    T_MAP,
    T_RECORD, /* a class's record; cls NULL for event's "<class> record" */
    T_OPTION,
    T_VOID,
    T_OTHER, /* results the codecs do not describe ("an event batch") */
};

struct enum_desc {
    const char *name;
    const char *const *values;
    size_t n_values;
};

struct type {
    enum type_kind kind;
    const char *text;           /* as declared, e.g. "(string -> int) map" */
    const struct type *key;     /* T_MAP */
    const struct type *elem;    /* T_SET element, T_MAP value, T_OPTION */
    const struct enum_desc *en; /* T_ENUM */
    int cls;                    /* T_REF, T_RECORD: class id, or -1 */
};

struct class_desc;

struct field_desc {
    const char *name;
    size_t name_len;
    /* The member opening of this field in records, per wire. */
    char *xml_member, *json_member;
    size_t xml_member_len, json_member_len;
    const char *type_text;
    const struct type *type;
    enum qualifier qual;
    const char *def; /* canonical default, or NULL: none declared */
    enum lifecycle state;
    const char *since;
    unsigned flags;
    int cls;   /* owning class */
    int index; /* within the class */
    /* FF_COMPUTED: the field of another class whose refs make this set. */
    int rel_cls, rel_field;
};

struct class_desc {
    const char *name;  /* as on the wire: "VM" */
    const char *lname; /* lower case, as in events: "vm" */
    enum lifecycle state;
    const char *since;
    unsigned flags;
    struct field_desc *fields;
    int n_fields;
    int uuid_field;       /* index, or -1 */
    int name_label_field; /* index, or -1 */
};

struct param_desc {
    const char *type_text;
    const struct type *type;
    const char *name;
    const char *def; /* canonical default of an optional parameter, else NULL */
};

struct msg_desc {
    int cls;
    const char *name;
    const char *wire; /* "VM.start" */
    const char *result_text;
    const struct type *result;
    enum lifecycle state;
    const char *since;
    const char *min_role;
    unsigned flags;
    const char *errors;
    struct param_desc *params; /* including the session, when there is one */
    int n_params;
    int n_required;
    bool takes_session;
};

struct err_desc {
    const char *code;
    const char *params; /* comma-separated names */
};

extern struct class_desc model_classes[C__COUNT];
extern struct msg_desc model_msgs[M__COUNT];
extern const struct err_desc model_errors[ERR__COUNT];
extern const struct enum_desc model_enums[];
extern const size_t model_n_enums;

/* Builds the descriptors and parses every declared type. Aborts on an
 * inconsistent declaration (a programmer error). */
void model_init(void);

const struct class_desc *model_class(int id);
/* Finds a class by wire name, exactly, or ignoring case; -1 if none. */
int model_class_by_name(const char *name, bool ignore_case);
/* Finds a field of a class by name; -1 if none. */
int model_field_by_name(const struct class_desc *c, const char *name);
const struct enum_desc *model_enum_by_name(const char *name);
/* Parses a declared type; NULL if it is not well formed. The result lives as
 * long as the process. */
const struct type *model_parse_type(const char *text);
/* The value a field takes when a create leaves it out and none is declared:
 * the type's zero ("" / 0 / false / OpaqueRef:NULL / [] / {} / the epoch /
 * the first enum value). */
const char *model_type_zero(const struct type *t);
/* The default of a field: declared, else the type's zero. */
const char *model_field_default(const struct field_desc *f);
