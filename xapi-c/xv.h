/* The wire value tree: what the XML-RPC and JSON-RPC decoders make of a
 * request's parameters, before they are checked against the types the data
 * model declares (marshal.h). Both protocols decode to the same tree, so
 * everything after decoding is protocol-blind. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum xv_kind {
    XV_NIL,      /* <nil/>, JSON null */
    XV_STRING,   /* <string>, a bare <value>, a JSON string */
    XV_INT,      /* <i4>, <int>, <i8>, a JSON integer */
    XV_DOUBLE,   /* <double>, a JSON number with a fraction or exponent */
    XV_BOOL,     /* <boolean>, JSON true/false */
    XV_DATETIME, /* <dateTime.iso8601>; text as sent */
    XV_BASE64,   /* <base64>; text as sent, not decoded */
    XV_ARRAY,
    XV_STRUCT,
};

struct xv {
    enum xv_kind kind;
    union {
        struct {
            char *s; /* NUL-terminated, may contain NUL bytes before len */
            size_t len;
        } str;     /* XV_STRING, XV_DATETIME, XV_BASE64 */
        int64_t i; /* XV_INT */
        double d;  /* XV_DOUBLE */
        bool b;    /* XV_BOOL */
        struct {
            size_t n;
            struct xv *items; /* n values */
            char **keys;      /* XV_STRUCT only: n member names */
        } agg;                /* XV_ARRAY, XV_STRUCT */
    };
};

/* Decoders refuse trees nested deeper than this. */
#define XV_MAX_DEPTH 64

/* Frees what v holds (not v itself). */
void xv_done(struct xv *v);
/* Frees an array of n values and the array. */
void xv_free_array(struct xv *v, size_t n);
/* Name of a kind, for error messages: "string", "int", ... */
const char *xv_kind_name(enum xv_kind k);
/* Looks up a member of a struct; NULL if absent or v is not a struct. */
const struct xv *xv_member(const struct xv *v, const char *name);
