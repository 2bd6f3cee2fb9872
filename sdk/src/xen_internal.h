/* The SDK's private machinery: a type descriptor for every C type the API
 * uses, so that one generic codec (xen_xmlrpc.c) marshals parameters to
 * XML-RPC, parses answers into C values and frees them. The generated code
 * (gen_types.c and the gen_*.c shards, from the data model) is only tables
 * of descriptors and thin functions that name them.
 *
 * A value of a descriptor lives in a "slot": a char * for strings and refs,
 * an int64_t, double, bool, time_t or int (enums) for scalars, and a pointer
 * for sets, maps, records, record_opts and boxed options. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include <xen/api/xen_common.h>

enum xen_kind {
    XEN_K_STRING,   /* char *; NULL is sent as "" */
    XEN_K_REF,      /* char *; NULL is sent as OpaqueRef:NULL */
    XEN_K_SESSION,  /* xen_session *: its session_id is sent */
    XEN_K_INT,      /* int64_t, as a string on the wire */
    XEN_K_INT32,    /* int, the element of xen_int_set */
    XEN_K_FLOAT,    /* double */
    XEN_K_BOOL,     /* bool */
    XEN_K_DATETIME, /* time_t, UTC */
    XEN_K_ENUM,     /* int: an index in names, or n_names for "undefined" */
    XEN_K_SET,      /* { size_t size; elem contents[]; } * */
    XEN_K_MAP,      /* { size_t size; { key; val; } contents[]; } * */
    XEN_K_STRUCT,   /* a record: pointer to a struct of members */
    XEN_K_OPT,      /* struct xen_opt_ *: a ref, or a record of elem */
    XEN_K_BOX,      /* pointer to one elem (int64_t *, bool *, ...) */
};

struct xen_member {
    const char *name; /* on the wire; NULL: local only (a record's handle) */
    const struct xen_type *type;
    size_t offset;
};

struct xen_type {
    enum xen_kind kind;
    size_t slot_size;            /* bytes of one value in a slot */
    const struct xen_type *elem; /* SET element, MAP key, OPT record, BOX value */
    const struct xen_type *val;  /* MAP value */
    size_t contents_offset;      /* SET, MAP: where contents[] starts */
    size_t entry_size;           /* MAP: one contents entry */
    size_t key_offset, val_offset;
    const char *const *names; /* ENUM */
    int n_names;
    size_t struct_size; /* STRUCT */
    const struct xen_member *members;
    size_t n_members;
};

/* What every xen_<class>_record_opt looks like. */
struct xen_opt_ {
    bool is_record;
    union {
        void *handle;
        void *record;
    } u;
};

/* One parameter of a call: its type and where its slot is. */
struct xen_arg_ {
    const struct xen_type *type;
    const void *slot;
};

/* The descriptors of the basic types (xen_xmlrpc.c). */
extern const struct xen_type xen_type_string_;
extern const struct xen_type xen_type_ref_;
extern const struct xen_type xen_type_session_;
extern const struct xen_type xen_type_int_;
extern const struct xen_type xen_type_int32_;
extern const struct xen_type xen_type_float_;
extern const struct xen_type xen_type_bool_;
extern const struct xen_type xen_type_datetime_;

/* Calls method with the session first, then args; on success parses the
 * Value into *result (a slot of result_type, which may be NULL for void).
 * Does nothing if the session already holds an error. On failure the
 * session holds the error description. */
void xen_call_(xen_session *s, const char *method, const struct xen_arg_ *args, int n_args,
               const struct xen_type *result_type, void *result);
/* The same without the session first (logins). */
void xen_call_raw_(xen_session *s, const char *method, const struct xen_arg_ *args, int n_args,
                   const struct xen_type *result_type, void *result);

/* Frees what the slot at p holds (not the slot itself). */
void xen_value_free_(const struct xen_type *t, void *p);
/* A zeroed set or map of n elements of type t (SET or MAP); NULL if out of
 * memory. */
void *xen_container_alloc_(const struct xen_type *t, size_t n);
/* Frees a set, map, record or record_opt given as a pointer. */
void xen_ptr_free_(const struct xen_type *t, void *ptr);

/* Records the error on the session, unless one is there already; takes
 * ownership of nothing. */
void xen_session_fail_(xen_session *s, const char *code, const char *param);

/* The XML-RPC text of the value in the slot at p, yours to free; NULL if
 * out of memory. Two values that go on the wire alike give one text (a ref
 * and a record_opt of it do), which the tests use to compare them. */
char *xen_value_xml_(const struct xen_type *t, const void *p);

char *xen_strdup_(const char *in);
/* The index of str in names, or n (UNDEFINED). */
int xen_enum_lookup_(const char *str, const char *const *names, int n);
