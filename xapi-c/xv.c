/* The wire value tree shared by the XML-RPC and JSON-RPC decoders (see
 * xv.h): releasing a tree, naming its kinds in error messages, and looking
 * up struct members. Trees are at most XV_MAX_DEPTH deep, because the
 * decoders refuse deeper ones, so the recursion here is bounded. */
#include "xapi-c/xv.h"

#include <stdlib.h>
#include <string.h>

void xv_done(struct xv *v)
{
    switch (v->kind) {
    case XV_STRING:
    case XV_DATETIME:
    case XV_BASE64:
        free(v->str.s);
        break;
    case XV_ARRAY:
    case XV_STRUCT:
        for (size_t i = 0; i < v->agg.n; i++) {
            xv_done(&v->agg.items[i]);
            if (v->agg.keys)
                free(v->agg.keys[i]);
        }
        free(v->agg.items);
        free(v->agg.keys);
        break;
    case XV_NIL:
    case XV_INT:
    case XV_DOUBLE:
    case XV_BOOL:
        break;
    }
    /* A value that is freed twice, or read after being freed, is then a
     * harmless nil rather than a dangling pointer. */
    v->kind = XV_NIL;
}

void xv_free_array(struct xv *v, size_t n)
{
    if (!v)
        return;
    for (size_t i = 0; i < n; i++)
        xv_done(&v[i]);
    free(v);
}

const char *xv_kind_name(enum xv_kind k)
{
    switch (k) {
    case XV_NIL:
        return "nil";
    case XV_STRING:
        return "string";
    case XV_INT:
        return "int";
    case XV_DOUBLE:
        return "double";
    case XV_BOOL:
        return "bool";
    case XV_DATETIME:
        return "datetime";
    case XV_BASE64:
        return "base64";
    case XV_ARRAY:
        return "array";
    case XV_STRUCT:
        return "struct";
    }
    return "unknown";
}

const struct xv *xv_member(const struct xv *v, const char *name)
{
    if (!v || v->kind != XV_STRUCT)
        return NULL;
    /* The first of duplicate members wins, as in xapi's association lists. */
    for (size_t i = 0; i < v->agg.n; i++)
        if (strcmp(v->agg.keys[i], name) == 0)
            return &v->agg.items[i];
    return NULL;
}
