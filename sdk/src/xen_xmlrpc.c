/* The SDK's one codec: writes a call's parameters as an XML-RPC request,
 * hands it to the application's transport, and parses the XenAPI answer
 * (Status/Value, Status/ErrorDescription, or an XML-RPC fault) into C
 * values, all driven by the type descriptors of xen_internal.h. libxml2
 * builds and parses the XML; nothing here knows a class of the API. */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <libxml/parser.h>
#include <libxml/tree.h>

#include "xen_internal.h"

const struct xen_type xen_type_string_ = {.kind = XEN_K_STRING, .slot_size = sizeof(char *)};
const struct xen_type xen_type_ref_ = {.kind = XEN_K_REF, .slot_size = sizeof(char *)};
const struct xen_type xen_type_session_ = {.kind = XEN_K_SESSION, .slot_size = sizeof(void *)};
const struct xen_type xen_type_int_ = {.kind = XEN_K_INT, .slot_size = sizeof(int64_t)};
const struct xen_type xen_type_int32_ = {.kind = XEN_K_INT32, .slot_size = sizeof(int)};
const struct xen_type xen_type_float_ = {.kind = XEN_K_FLOAT, .slot_size = sizeof(double)};
const struct xen_type xen_type_bool_ = {.kind = XEN_K_BOOL, .slot_size = sizeof(bool)};
const struct xen_type xen_type_datetime_ = {.kind = XEN_K_DATETIME, .slot_size = sizeof(time_t)};

#define NULL_REF "OpaqueRef:NULL"

char *xen_strdup_(const char *in)
{
    return in ? strdup(in) : NULL;
}

int xen_enum_lookup_(const char *str, const char *const *names, int n)
{
    if (!str)
        return n;
    for (int i = 0; i < n; i++)
        if (strcmp(str, names[i]) == 0)
            return i;
    for (int i = 0; i < n; i++)
        if (strcasecmp(str, names[i]) == 0)
            return i;
    return n;
}

void xen_session_fail_(xen_session *s, const char *code, const char *param)
{
    if (!s->ok)
        return; /* the first error is the one that matters */
    char **d = calloc(2, sizeof(char *));
    s->ok = false;
    if (!d)
        return;
    d[0] = strdup(code);
    d[1] = strdup(param ? param : "");
    s->error_description = d;
    s->error_description_count = 2;
}

/* ---- memory ---- */

static size_t n_of(const void *container)
{
    return *(const size_t *)container;
}

void *xen_container_alloc_(const struct xen_type *t, size_t n)
{
    size_t each = t->kind == XEN_K_MAP ? t->entry_size : t->elem->slot_size;
    if (n > (SIZE_MAX - t->contents_offset) / (each ? each : 1))
        return NULL;
    void *p = calloc(1, t->contents_offset + n * each);
    if (p)
        *(size_t *)p = n;
    return p;
}

void xen_value_free_(const struct xen_type *t, void *p)
{
    switch (t->kind) {
    case XEN_K_STRING:
    case XEN_K_REF:
        free(*(char **)p);
        break;
    case XEN_K_SET:
    case XEN_K_MAP:
    case XEN_K_STRUCT:
    case XEN_K_OPT:
    case XEN_K_BOX:
        xen_ptr_free_(t, *(void **)p);
        break;
    default:
        break; /* scalars and the borrowed session */
    }
}

void xen_ptr_free_(const struct xen_type *t, void *ptr)
{
    char *c = ptr;
    if (!ptr)
        return;
    switch (t->kind) {
    case XEN_K_SET:
        for (size_t i = 0; i < n_of(c); i++)
            xen_value_free_(t->elem, c + t->contents_offset + i * t->elem->slot_size);
        break;
    case XEN_K_MAP:
        for (size_t i = 0; i < n_of(c); i++) {
            char *e = c + t->contents_offset + i * t->entry_size;
            xen_value_free_(t->elem, e + t->key_offset);
            xen_value_free_(t->val, e + t->val_offset);
        }
        break;
    case XEN_K_STRUCT:
        for (size_t i = 0; i < t->n_members; i++)
            xen_value_free_(t->members[i].type, c + t->members[i].offset);
        break;
    case XEN_K_OPT: {
        struct xen_opt_ *o = ptr;
        if (o->is_record)
            xen_ptr_free_(t->elem, o->u.record);
        else
            free(o->u.handle);
        break;
    }
    case XEN_K_BOX:
        break;
    default:
        return; /* not a pointer kind */
    }
    free(ptr);
}

/* ---- writing ---- */

static void write_value(xmlNodePtr value, const struct xen_type *t, const void *slot);

static void typed(xmlNodePtr value, const char *type, const char *text)
{
    xmlNewTextChild(value, NULL, BAD_CAST type, BAD_CAST text);
}

/* The text of a scalar slot (map keys; refs of record_opts). */
static const char *scalar_text(const struct xen_type *t, const void *slot, char buf[64])
{
    switch (t->kind) {
    case XEN_K_STRING:
        return *(char *const *)slot ? *(char *const *)slot : "";
    case XEN_K_REF:
        return *(char *const *)slot ? *(char *const *)slot : NULL_REF;
    case XEN_K_SESSION: {
        const xen_session *x = *(xen_session *const *)slot;
        return x && x->session_id ? x->session_id : NULL_REF;
    }
    case XEN_K_INT:
        snprintf(buf, 64, "%" PRId64, *(const int64_t *)slot);
        return buf;
    case XEN_K_INT32:
        snprintf(buf, 64, "%d", *(const int *)slot);
        return buf;
    case XEN_K_FLOAT:
        snprintf(buf, 64, "%.17g", *(const double *)slot);
        return buf;
    case XEN_K_BOOL:
        return *(const bool *)slot ? "1" : "0";
    case XEN_K_DATETIME: {
        struct tm tm;
        time_t tt = *(const time_t *)slot;
        if (!gmtime_r(&tt, &tm) || strftime(buf, 64, "%Y%m%dT%H:%M:%SZ", &tm) == 0)
            return "19700101T00:00:00Z";
        return buf;
    }
    case XEN_K_ENUM: {
        int v = *(const int *)slot;
        return v >= 0 && v < t->n_names ? t->names[v] : "undefined";
    }
    case XEN_K_OPT: {
        const struct xen_opt_ *o = *(const struct xen_opt_ *const *)slot;
        if (!o)
            return NULL_REF;
        if (!o->is_record)
            return o->u.handle ? o->u.handle : NULL_REF;
        /* A record stands for its object: its handle is its first member. */
        const char *rec = o->u.record;
        const char *h = rec ? *(char *const *)(rec + t->elem->members[0].offset) : NULL;
        return h ? h : NULL_REF;
    }
    default:
        return "";
    }
}

static void write_value(xmlNodePtr value, const struct xen_type *t, const void *slot)
{
    char buf[64];
    switch (t->kind) {
    case XEN_K_INT:
    case XEN_K_INT32:
    case XEN_K_STRING:
    case XEN_K_REF:
    case XEN_K_SESSION:
    case XEN_K_ENUM:
    case XEN_K_OPT:
        typed(value, "string", scalar_text(t, slot, buf));
        break;
    case XEN_K_FLOAT:
        typed(value, "double", scalar_text(t, slot, buf));
        break;
    case XEN_K_BOOL:
        typed(value, "boolean", scalar_text(t, slot, buf));
        break;
    case XEN_K_DATETIME:
        typed(value, "dateTime.iso8601", scalar_text(t, slot, buf));
        break;
    case XEN_K_SET: {
        const char *c = *(const char *const *)slot;
        xmlNodePtr data = xmlNewChild(xmlNewChild(value, NULL, BAD_CAST "array", NULL), NULL,
                                      BAD_CAST "data", NULL);
        for (size_t i = 0; c && i < n_of(c); i++)
            write_value(xmlNewChild(data, NULL, BAD_CAST "value", NULL), t->elem,
                        c + t->contents_offset + i * t->elem->slot_size);
        break;
    }
    case XEN_K_MAP: {
        const char *c = *(const char *const *)slot;
        xmlNodePtr st = xmlNewChild(value, NULL, BAD_CAST "struct", NULL);
        for (size_t i = 0; c && i < n_of(c); i++) {
            const char *e = c + t->contents_offset + i * t->entry_size;
            xmlNodePtr m = xmlNewChild(st, NULL, BAD_CAST "member", NULL);
            xmlNewTextChild(m, NULL, BAD_CAST "name",
                            BAD_CAST scalar_text(t->elem, e + t->key_offset, buf));
            write_value(xmlNewChild(m, NULL, BAD_CAST "value", NULL), t->val, e + t->val_offset);
        }
        break;
    }
    case XEN_K_STRUCT: {
        const char *c = *(const char *const *)slot;
        xmlNodePtr st = xmlNewChild(value, NULL, BAD_CAST "struct", NULL);
        for (size_t i = 0; c && i < t->n_members; i++) {
            if (!t->members[i].name)
                continue;
            xmlNodePtr m = xmlNewChild(st, NULL, BAD_CAST "member", NULL);
            xmlNewTextChild(m, NULL, BAD_CAST "name", BAD_CAST t->members[i].name);
            write_value(xmlNewChild(m, NULL, BAD_CAST "value", NULL), t->members[i].type,
                        c + t->members[i].offset);
        }
        break;
    }
    case XEN_K_BOX: {
        const void *inner = *(const void *const *)slot;
        static const char zero[16];
        write_value(value, t->elem, inner ? inner : zero);
        break;
    }
    }
}

char *xen_value_xml_(const struct xen_type *t, const void *p)
{
    xmlBufferPtr buf = xmlBufferCreate();
    xmlNodePtr value = xmlNewNode(NULL, BAD_CAST "value");
    char *r = NULL;
    if (buf && value) {
        write_value(value, t, p);
        if (xmlNodeDump(buf, NULL, value, 0, 0) >= 0)
            r = strdup((const char *)xmlBufferContent(buf));
    }
    xmlFreeNode(value);
    xmlBufferFree(buf);
    return r;
}

/* The request document as text, yours to xmlFree; NULL if out of memory. */
static xmlChar *make_request(const char *method, const struct xen_arg_ *args, int n, int *ret_len)
{
    xmlDocPtr doc = xmlNewDoc(BAD_CAST "1.0");
    xmlChar *text = NULL;
    if (!doc)
        return NULL;
    xmlNodePtr root = xmlNewNode(NULL, BAD_CAST "methodCall");
    xmlDocSetRootElement(doc, root);
    xmlNewTextChild(root, NULL, BAD_CAST "methodName", BAD_CAST method);
    xmlNodePtr params = xmlNewChild(root, NULL, BAD_CAST "params", NULL);
    for (int i = 0; i < n; i++) {
        xmlNodePtr p = xmlNewChild(params, NULL, BAD_CAST "param", NULL);
        write_value(xmlNewChild(p, NULL, BAD_CAST "value", NULL), args[i].type, args[i].slot);
    }
    xmlDocDumpMemory(doc, &text, ret_len);
    xmlFreeDoc(doc);
    return text;
}

/* ---- parsing ---- */

struct parse {
    xen_session *s;
    const char *why; /* the first problem found */
};

static int bad(struct parse *ps, const char *why)
{
    if (!ps->why)
        ps->why = why;
    return -1;
}

static bool is_elem(const xmlNode *n, const char *name)
{
    return n && n->type == XML_ELEMENT_NODE && strcmp((const char *)n->name, name) == 0;
}

static xmlNodePtr first_elem(const xmlNode *n)
{
    for (xmlNodePtr c = n ? n->children : NULL; c; c = c->next)
        if (c->type == XML_ELEMENT_NODE)
            return c;
    return NULL;
}

static xmlNodePtr next_elem(const xmlNode *n)
{
    for (xmlNodePtr c = n->next; c; c = c->next)
        if (c->type == XML_ELEMENT_NODE)
            return c;
    return NULL;
}

static xmlNodePtr child(const xmlNode *n, const char *name)
{
    xmlNodePtr c = first_elem(n);
    return is_elem(c, name) ? c : NULL;
}

/* The text of a scalar <value> (untyped means string), as a malloc'd
 * string, and its type in *ret_type; NULL if the value is not a scalar. */
static char *scalar_of(const xmlNode *value, const char **ret_type)
{
    xmlNodePtr c = first_elem(value);
    const xmlNode *holder = c ? c : value;
    if (c && (is_elem(c, "array") || is_elem(c, "struct")))
        return NULL;
    *ret_type = c ? (const char *)c->name : "string";
    xmlChar *x = xmlNodeGetContent(holder);
    char *r = strdup(x ? (const char *)x : "");
    xmlFree(x);
    return r;
}

static int parse_int(const char *text, int64_t *ret)
{
    char *end;
    errno = 0;
    long long v = strtoll(text, &end, 10);
    if (errno || end == text || *end)
        return -1;
    *ret = v;
    return 0;
}

static int parse_datetime(const char *text, time_t *ret)
{
    static const char *const formats[] = {"%Y%m%dT%H:%M:%S", "%Y%m%dT%H%M%S", "%Y-%m-%dT%H:%M:%S"};
    char *end;
    /* Unset datetimes come empty; event records carry seconds since the
     * epoch ("1700000000.25"), as xapi writes them. */
    if (!*text) {
        *ret = 0;
        return 0;
    }
    double secs = strtod(text, &end);
    if (end != text && !*end && strchr(text, 'T') == NULL) {
        *ret = (time_t)secs;
        return 0;
    }
    for (size_t i = 0; i < sizeof(formats) / sizeof(formats[0]); i++) {
        struct tm tm = {0};
        end = strptime(text, formats[i], &tm);
        if (!end)
            continue;
        /* The XenAPI sends UTC ("Z" or no zone); fractions are dropped. */
        if (*end == '.')
            while (*++end >= '0' && *end <= '9')
                ;
        if (*end && strcmp(end, "Z") != 0)
            continue;
        *ret = timegm(&tm);
        return 0;
    }
    return -1;
}

/* Parses a scalar text into a slot of t. */
static int parse_text(struct parse *ps, const struct xen_type *t, const char *text, void *slot)
{
    int64_t i;
    char *end;
    switch (t->kind) {
    case XEN_K_STRING:
    case XEN_K_REF:
        if (!(*(char **)slot = strdup(text)))
            return bad(ps, "Out of memory");
        return 0;
    case XEN_K_INT:
        if (parse_int(text, &i) < 0)
            return bad(ps, "Malformed int");
        *(int64_t *)slot = i;
        return 0;
    case XEN_K_INT32:
        if (parse_int(text, &i) < 0 || i < INT32_MIN || i > INT32_MAX)
            return bad(ps, "Malformed int");
        *(int *)slot = (int)i;
        return 0;
    case XEN_K_FLOAT:
        errno = 0;
        *(double *)slot = strtod(text, &end);
        if (errno == EINVAL || end == text || *end)
            return bad(ps, "Malformed double");
        return 0;
    case XEN_K_BOOL:
        if (strcmp(text, "1") == 0 || strcasecmp(text, "true") == 0)
            *(bool *)slot = true;
        else if (strcmp(text, "0") == 0 || strcasecmp(text, "false") == 0)
            *(bool *)slot = false;
        else
            return bad(ps, "Malformed boolean");
        return 0;
    case XEN_K_DATETIME:
        if (parse_datetime(text, (time_t *)slot) < 0)
            return bad(ps, "Malformed dateTime.iso8601");
        return 0;
    case XEN_K_ENUM:
        *(int *)slot = xen_enum_lookup_(text, t->names, t->n_names);
        return 0;
    case XEN_K_OPT: {
        struct xen_opt_ *o = calloc(1, sizeof(*o));
        if (!o || !(o->u.handle = strdup(text))) {
            free(o);
            return bad(ps, "Out of memory");
        }
        *(struct xen_opt_ **)slot = o;
        return 0;
    }
    default:
        return bad(ps, "Expected a structured value");
    }
}

static int parse_value(struct parse *ps, const struct xen_type *t, const xmlNode *value,
                       void *slot);

static int parse_set(struct parse *ps, const struct xen_type *t, const xmlNode *value, void *slot)
{
    xmlNodePtr data = child(child(value, "array"), "data");
    size_t n = 0;
    if (!data)
        return bad(ps, "Expected an array");
    for (xmlNodePtr v = first_elem(data); v; v = next_elem(v))
        n++;
    char *c = xen_container_alloc_(t, n);
    if (!c)
        return bad(ps, "Out of memory");
    *(void **)slot = c;
    size_t i = 0;
    for (xmlNodePtr v = first_elem(data); v; v = next_elem(v), i++)
        if (!is_elem(v, "value") ||
            parse_value(ps, t->elem, v, c + t->contents_offset + i * t->elem->slot_size) < 0)
            return bad(ps, "Malformed array");
    return 0;
}

static int parse_map(struct parse *ps, const struct xen_type *t, const xmlNode *value, void *slot)
{
    xmlNodePtr st = child(value, "struct");
    size_t n = 0;
    if (!st)
        return bad(ps, "Expected a struct");
    for (xmlNodePtr m = first_elem(st); m; m = next_elem(m))
        n++;
    char *c = xen_container_alloc_(t, n);
    if (!c)
        return bad(ps, "Out of memory");
    *(void **)slot = c;
    size_t i = 0;
    for (xmlNodePtr m = first_elem(st); m; m = next_elem(m), i++) {
        char *e = c + t->contents_offset + i * t->entry_size;
        xmlNodePtr name = child(m, "name");
        xmlNodePtr v = name ? next_elem(name) : NULL;
        if (!is_elem(m, "member") || !name || !is_elem(v, "value"))
            return bad(ps, "Malformed struct member");
        xmlChar *key = xmlNodeGetContent(name);
        int r = parse_text(ps, t->elem, key ? (const char *)key : "", e + t->key_offset);
        xmlFree(key);
        if (r < 0 || parse_value(ps, t->val, v, e + t->val_offset) < 0)
            return -1;
    }
    return 0;
}

static int parse_struct(struct parse *ps, const struct xen_type *t, const xmlNode *value,
                        void *slot)
{
    xmlNodePtr st = child(value, "struct");
    if (!st)
        return bad(ps, "Expected a struct");
    char *c = calloc(1, t->struct_size);
    if (!c)
        return bad(ps, "Out of memory");
    *(void **)slot = c;
    for (xmlNodePtr m = first_elem(st); m; m = next_elem(m)) {
        xmlNodePtr name = child(m, "name");
        xmlNodePtr v = name ? next_elem(name) : NULL;
        if (!is_elem(m, "member") || !name || !is_elem(v, "value"))
            return bad(ps, "Malformed struct member");
        xmlChar *key = xmlNodeGetContent(name);
        const struct xen_member *mb = NULL;
        for (size_t i = 0; key && i < t->n_members; i++)
            if (t->members[i].name && strcmp(t->members[i].name, (const char *)key) == 0)
                mb = &t->members[i];
        xmlFree(key);
        if (!mb)
            continue; /* a field this SDK version does not know */
        /* A repeated member replaces the first. */
        xen_value_free_(mb->type, c + mb->offset);
        memset(c + mb->offset, 0, mb->type->slot_size);
        if (parse_value(ps, mb->type, v, c + mb->offset) < 0)
            return -1;
    }
    return 0;
}

static int parse_value(struct parse *ps, const struct xen_type *t, const xmlNode *value, void *slot)
{
    const char *type;
    switch (t->kind) {
    case XEN_K_SET:
        return parse_set(ps, t, value, slot);
    case XEN_K_MAP:
        return parse_map(ps, t, value, slot);
    case XEN_K_STRUCT:
        return parse_struct(ps, t, value, slot);
    case XEN_K_BOX: {
        void *inner = calloc(1, t->elem->slot_size);
        if (!inner)
            return bad(ps, "Out of memory");
        *(void **)slot = inner;
        return parse_value(ps, t->elem, value, inner);
    }
    case XEN_K_OPT:
        if (child(value, "struct")) {
            struct xen_opt_ *o = calloc(1, sizeof(*o));
            if (!o)
                return bad(ps, "Out of memory");
            o->is_record = true;
            *(struct xen_opt_ **)slot = o;
            return parse_struct(ps, t->elem, value, &o->u.record);
        }
        break;
    default:
        break;
    }
    char *text = scalar_of(value, &type);
    if (!text)
        return bad(ps, "Expected a scalar value");
    int r = parse_text(ps, t, text, slot);
    free(text);
    return r;
}

static const struct xen_type error_set = {
    .kind = XEN_K_SET,
    .slot_size = sizeof(void *),
    .elem = &xen_type_string_,
    .contents_offset = offsetof(xen_string_set, contents),
};

/* The member named name of a struct <value>, or NULL. */
static xmlNodePtr member(const xmlNode *value, const char *name)
{
    for (xmlNodePtr m = first_elem(child(value, "struct")); m; m = next_elem(m)) {
        xmlNodePtr n = child(m, "name");
        if (!n)
            continue;
        xmlChar *k = xmlNodeGetContent(n);
        bool match = k && strcmp((const char *)k, name) == 0;
        xmlFree(k);
        if (match) {
            xmlNodePtr v = next_elem(n);
            return is_elem(v, "value") ? v : NULL;
        }
    }
    return NULL;
}

static void parse_fault(xen_session *s, const xmlNode *fault)
{
    const char *type;
    xmlNodePtr v = child(fault, "value");
    xmlNodePtr code = member(v, "faultCode"), msg = member(v, "faultString");
    char *c = code ? scalar_of(code, &type) : NULL, *m = msg ? scalar_of(msg, &type) : NULL;
    char **d = calloc(3, sizeof(char *));
    if (!c || !m || !d) {
        free(c);
        free(m);
        free(d);
        xen_session_fail_(s, "SERVER_FAULT", "Malformed fault");
        return;
    }
    d[0] = strdup("FAULT");
    d[1] = c;
    d[2] = m;
    s->ok = false;
    s->error_description = d;
    s->error_description_count = 3;
}

static void parse_response(xen_session *s, const char *body, size_t len, const struct xen_type *rt,
                           void *result)
{
    if (len > INT32_MAX) {
        xen_session_fail_(s, "SERVER_FAULT", "Response too large");
        return;
    }
    xmlDocPtr doc =
        xmlReadMemory(body, (int)len, NULL, NULL,
                      XML_PARSE_NONET | XML_PARSE_NOERROR | XML_PARSE_NOWARNING | XML_PARSE_HUGE);
    xmlNodePtr root = doc ? xmlDocGetRootElement(doc) : NULL;
    struct parse ps = {s, NULL};
    if (!is_elem(root, "methodResponse")) {
        xen_session_fail_(s, "SERVER_FAULT", "Couldn't parse the server response");
        goto out;
    }
    if (child(root, "fault")) {
        parse_fault(s, child(root, "fault"));
        goto out;
    }
    xmlNodePtr v = child(child(child(root, "params"), "param"), "value");
    xmlNodePtr status = v ? member(v, "Status") : NULL;
    const char *type;
    char *st = status ? scalar_of(status, &type) : NULL;
    if (!st) {
        xen_session_fail_(s, "SERVER_FAULT", "Server response does not have a Status");
        goto out;
    }
    if (strcmp(st, "Success") != 0) {
        xmlNodePtr ed = member(v, "ErrorDescription");
        xen_string_set *errs = NULL;
        if (!ed || parse_value(&ps, &error_set, ed, &errs) < 0 || errs->size == 0 ||
            errs->size > INT32_MAX) {
            xen_ptr_free_(&error_set, errs);
            xen_session_fail_(s, "SERVER_FAULT", "Malformed ErrorDescription");
        } else {
            char **d = malloc(errs->size * sizeof(char *));
            if (!d) {
                xen_ptr_free_(&error_set, errs);
                xen_session_fail_(s, "SERVER_FAULT", "Out of memory");
            } else {
                memcpy(d, errs->contents, errs->size * sizeof(char *));
                s->ok = false;
                s->error_description = d;
                s->error_description_count = (int)errs->size;
                free(errs);
            }
        }
        free(st);
        goto out;
    }
    free(st);
    if (!rt)
        goto out;
    xmlNodePtr value = member(v, "Value");
    /* Parse into a local slot: the caller's is written only on success. */
    union {
        char bytes[16];
        void *p;
        int64_t i;
        double d;
    } tmp;
    memset(&tmp, 0, sizeof(tmp));
    if (!value) {
        xen_session_fail_(s, "SERVER_FAULT", "Server response does not have a Value");
    } else if (parse_value(&ps, rt, value, &tmp) < 0) {
        xen_value_free_(rt, &tmp);
        xen_session_fail_(s, "SERVER_FAULT", ps.why ? ps.why : "Malformed Value");
    } else {
        memcpy(result, &tmp, rt->slot_size);
    }
out:
    xmlFreeDoc(doc);
}

/* ---- the call ---- */

struct buffer {
    char *data;
    size_t len, cap;
    bool oom;
};

static bool append(const void *data, size_t len, void *handle)
{
    struct buffer *b = handle;
    if (b->len + len + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 4096;
        while (cap < b->len + len + 1)
            cap *= 2;
        char *n = realloc(b->data, cap);
        if (!n) {
            b->oom = true;
            return false;
        }
        b->data = n;
        b->cap = cap;
    }
    memcpy(b->data + b->len, data, len);
    b->len += len;
    b->data[b->len] = '\0';
    return true;
}

void xen_call_raw_(xen_session *s, const char *method, const struct xen_arg_ *args, int n_args,
                   const struct xen_type *result_type, void *result)
{
    if (!s->ok)
        return;
    int len = 0;
    xmlChar *body = make_request(method, args, n_args, &len);
    if (!body) {
        xen_session_fail_(s, "SERVER_FAULT", "Out of memory");
        return;
    }
    struct buffer b = {0};
    int rc = s->call_func(body, (size_t)len, s->handle, &b, append);
    xmlFree(body);
    if (rc != 0) {
        char num[32];
        snprintf(num, sizeof(num), "%d", rc);
        xen_session_fail_(s, "TRANSPORT_FAULT", num);
    } else if (b.oom) {
        xen_session_fail_(s, "SERVER_FAULT", "Out of memory");
    } else {
        parse_response(s, b.data ? b.data : "", b.len, result_type, result);
    }
    free(b.data);
}

void xen_call_(xen_session *s, const char *method, const struct xen_arg_ *args, int n_args,
               const struct xen_type *result_type, void *result)
{
    if (!s->ok)
        return;
    struct xen_arg_ *all = malloc(((size_t)n_args + 1) * sizeof(*all));
    if (!all) {
        xen_session_fail_(s, "SERVER_FAULT", "Out of memory");
        return;
    }
    all[0] = (struct xen_arg_){&xen_type_string_, &s->session_id};
    if (n_args > 0)
        memcpy(all + 1, args, (size_t)n_args * sizeof(*all));
    xen_call_raw_(s, method, all, n_args + 1, result_type, result);
    free(all);
}
