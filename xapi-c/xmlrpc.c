/* XML-RPC: decoding a methodCall into a method name and a value tree, and
 * writing xapi's methodResponse envelopes (xenapi.md 1.2, 1.3). Requests
 * come from anyone who can reach the port, so the decoder is defensive:
 * libxml2 is never asked to substitute entities or load a DTD, a document
 * with a DOCTYPE is stopped as soon as the parser sees it (so no entity is
 * ever declared, let alone expanded), nesting is bounded by XV_MAX_DEPTH,
 * and libxml2's error messages never reach stderr. The parser is used from
 * every connection thread at once; each call has its own parser context. */
#include "xapi-c/rpc.h"

#include <errno.h>
#include <limits.h>
#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include <libxml/parser.h>
#include <libxml/tree.h>
#include <libxml/xmlerror.h>

#include "lib/strbuf.h"
#include "lib/util.h"

/* The XML halves of rpc_write_*, called by rpc.c only. rpc.h is the public
 * face of rpc.c, xmlrpc.c and jsonrpc.c, so these are declared in the two
 * files that use them rather than in a header of their own. */
void xmlrpc_write_success(struct strbuf *sb, const char *value, size_t value_len);
void xmlrpc_success_parts(struct strbuf *prefix, struct strbuf *suffix);
void xmlrpc_write_failure(struct strbuf *sb, const char *code, const char *const *params,
                          size_t n_params);
void xmlrpc_write_bare(struct strbuf *sb, const char *value, size_t value_len);

#define ADD_LIT(sb, lit) strbuf_add((sb), (lit), sizeof(lit) - 1)

/* ---- Decoding ---- */

static pthread_once_t init_once = PTHREAD_ONCE_INIT;

/* Each thread keeps one parser context: making one costs more than
 * parsing a typical call. It is freed when the thread ends. */
static pthread_key_t ctxt_key;

static void free_ctxt(void *p)
{
    xmlFreeParserCtxt(p);
}

static void init_libxml(void)
{
    /* libxml2 sets up its global tables lazily, which is not safe when the
     * first documents arrive on several threads at once. */
    xmlInitParser();
    pthread_key_create(&ctxt_key, free_ctxt);
}

static xmlParserCtxtPtr thread_ctxt(void)
{
    xmlParserCtxtPtr ctxt = pthread_getspecific(ctxt_key);
    if (!ctxt) {
        ctxt = xmlNewParserCtxt();
        if (ctxt && pthread_setspecific(ctxt_key, ctxt) != 0) {
            xmlFreeParserCtxt(ctxt);
            ctxt = NULL;
        }
    }
    return ctxt;
}

static void ignore_generic_error(void *ctx, const char *msg, ...)
{
    (void)ctx;
    (void)msg;
}

static void ignore_structured_error(void *ctx, xmlErrorPtr err)
{
    (void)ctx;
    (void)err;
}

struct parse {
    bool doctype; /* the parser met a DOCTYPE and was stopped */
};

/* Called by the parser at "<!DOCTYPE", before any of the internal subset is
 * read: stopping here means no entity is declared, so none can be expanded
 * or fetched. */
static void refuse_doctype(void *user, const xmlChar *name, const xmlChar *external_id,
                           const xmlChar *system_id)
{
    xmlParserCtxtPtr ctxt = user;
    struct parse *p = ctxt->_private;
    (void)name;
    (void)external_id;
    (void)system_id;
    p->doctype = true;
    xmlStopParser(ctxt);
}

static bool is_named(const xmlNode *n, const char *name)
{
    return n->type == XML_ELEMENT_NODE && strcmp((const char *)n->name, name) == 0;
}

static bool is_text(const xmlNode *n)
{
    return n->type == XML_TEXT_NODE || n->type == XML_CDATA_SECTION_NODE;
}

/* Comments and processing instructions carry no value and are skipped. */
static bool is_ignorable(const xmlNode *n)
{
    return n->type == XML_COMMENT_NODE || n->type == XML_PI_NODE;
}

static bool is_blank(char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

static bool all_blank(const xmlChar *s)
{
    if (!s)
        return true;
    for (; *s; s++)
        if (!is_blank((char)*s))
            return false;
    return true;
}

/* Counts the child elements of parent and reports the last one in
 * *ret_elem. Whitespace between elements is tolerated (pretty-printed
 * requests have it); other text, when text_ok is false, and any other kind
 * of node (an entity reference above all) make it fail. *ret_text says
 * whether there was text that is not whitespace. */
static int scan_children(const xmlNode *parent, bool text_ok, size_t *ret_count,
                         const xmlNode **ret_elem, bool *ret_text)
{
    size_t count = 0;
    const xmlNode *elem = NULL;
    bool text = false;

    for (const xmlNode *n = parent->children; n; n = n->next) {
        if (n->type == XML_ELEMENT_NODE) {
            count++;
            elem = n;
        } else if (is_text(n)) {
            if (!all_blank(n->content)) {
                if (!text_ok)
                    return -EINVAL;
                text = true;
            }
        } else if (!is_ignorable(n))
            return -EINVAL;
    }
    *ret_count = count;
    if (ret_elem)
        *ret_elem = elem;
    if (ret_text)
        *ret_text = text;
    return 0;
}

/* The text content of an element that may hold only text, byte for byte
 * (entities and character references are already decoded by then). Returns
 * a NUL-terminated copy and its length. */
static int gather_text(const xmlNode *parent, char **ret, size_t *ret_len)
{
    size_t len = 0;
    const xmlNode *only = NULL;
    size_t n_text = 0;

    for (const xmlNode *n = parent->children; n; n = n->next) {
        if (is_text(n)) {
            if (n->content) {
                len += strlen((const char *)n->content);
                only = n;
                n_text++;
            }
        } else if (!is_ignorable(n))
            return -EINVAL;
    }

    char *s = xmalloc(len + 1);
    if (n_text == 1)
        memcpy(s, only->content, len);
    else {
        size_t at = 0;
        for (const xmlNode *n = parent->children; n; n = n->next)
            if (is_text(n) && n->content) {
                size_t l = strlen((const char *)n->content);
                memcpy(s + at, n->content, l);
                at += l;
            }
    }
    s[len] = '\0';
    *ret = s;
    *ret_len = len;
    return 0;
}

static void trim(const char **s, size_t *len)
{
    while (*len > 0 && is_blank((*s)[0]))
        (*s)++, (*len)--;
    while (*len > 0 && is_blank((*s)[*len - 1]))
        (*len)--;
}

/* An XML-RPC integer: optional sign and decimal digits, surrounding
 * whitespace tolerated (Python's int() does the same). All three tags take
 * the whole int64 range, as the XenAPI's ints are 64-bit. */
static int parse_int(const char *s, size_t len, int64_t *ret)
{
    bool neg = false;
    uint64_t u = 0;

    trim(&s, &len);
    if (len > 0 && (s[0] == '-' || s[0] == '+')) {
        neg = s[0] == '-';
        s++;
        len--;
    }
    if (len == 0)
        return -EINVAL;
    for (size_t i = 0; i < len; i++) {
        if (s[i] < '0' || s[i] > '9')
            return -EINVAL;
        unsigned d = (unsigned)(s[i] - '0');
        if (u > (UINT64_MAX - d) / 10)
            return -ERANGE;
        u = u * 10 + d;
    }
    if (neg ? u > (uint64_t)INT64_MAX + 1 : u > (uint64_t)INT64_MAX)
        return -ERANGE;
    *ret = neg ? (int64_t)(0 - u) : (int64_t)u;
    return 0;
}

/* A decimal floating-point number; s is NUL-terminated after len bytes.
 * strtod alone would also take hex floats, "inf" and "nan", which no
 * XML-RPC client sends and which must not reach the database. */
static int parse_double(const char *s, size_t len, double *ret)
{
    size_t i = 0, digits = 0;
    char *end;

    trim(&s, &len);
    if (i < len && (s[i] == '-' || s[i] == '+'))
        i++;
    for (; i < len && s[i] >= '0' && s[i] <= '9'; i++)
        digits++;
    if (i < len && s[i] == '.')
        for (i++; i < len && s[i] >= '0' && s[i] <= '9'; i++)
            digits++;
    if (digits == 0)
        return -EINVAL;
    if (i < len && (s[i] == 'e' || s[i] == 'E')) {
        size_t exp_digits = 0;
        i++;
        if (i < len && (s[i] == '-' || s[i] == '+'))
            i++;
        for (; i < len && s[i] >= '0' && s[i] <= '9'; i++)
            exp_digits++;
        if (exp_digits == 0)
            return -EINVAL;
    }
    if (i != len)
        return -EINVAL;
    /* Only trailing blanks can follow, and strtod stops at them. */
    double d = strtod(s, &end);
    if (end != s + len)
        return -EINVAL;
    if (!isfinite(d))
        return -ERANGE;
    *ret = d;
    return 0;
}

static int parse_value(const xmlNode *value, int depth, struct xv *ret, const char **why);

static int parse_array(const xmlNode *array, int depth, struct xv *ret, const char **why)
{
    const xmlNode *data;
    size_t n;

    if (scan_children(array, false, &n, &data, NULL) < 0 || n != 1 || !is_named(data, "data")) {
        *why = "an <array> holds one <data>";
        return -EINVAL;
    }
    if (scan_children(data, false, &n, NULL, NULL) < 0) {
        *why = "unexpected content in <data>";
        return -EINVAL;
    }
    ret->kind = XV_ARRAY;
    ret->agg.n = n;
    ret->agg.items = n ? xcalloc(n, sizeof(struct xv)) : NULL;
    ret->agg.keys = NULL;
    size_t i = 0;
    for (const xmlNode *c = data->children; c; c = c->next) {
        if (c->type != XML_ELEMENT_NODE)
            continue;
        if (!is_named(c, "value")) {
            *why = "<data> holds only <value> elements";
            return -EINVAL;
        }
        int r = parse_value(c, depth + 1, &ret->agg.items[i++], why);
        if (r < 0)
            return r;
    }
    return 0;
}

static int parse_member(const xmlNode *member, int depth, char **ret_key, struct xv *ret,
                        const char **why)
{
    const xmlNode *name = NULL, *value = NULL;
    size_t n, len;

    if (!is_named(member, "member") || scan_children(member, false, &n, NULL, NULL) < 0 || n != 2) {
        *why = "a <struct> holds <member>s of one <name> and one <value>";
        return -EINVAL;
    }
    for (const xmlNode *c = member->children; c; c = c->next) {
        if (c->type != XML_ELEMENT_NODE)
            continue;
        if (is_named(c, "name") && !name)
            name = c;
        else if (is_named(c, "value") && !value)
            value = c;
    }
    if (!name || !value) {
        *why = "a <struct> holds <member>s of one <name> and one <value>";
        return -EINVAL;
    }
    if (gather_text(name, ret_key, &len) < 0) {
        *why = "a member <name> holds only text";
        return -EINVAL;
    }
    return parse_value(value, depth + 1, ret, why);
}

static int parse_struct(const xmlNode *st, int depth, struct xv *ret, const char **why)
{
    size_t n;

    if (scan_children(st, false, &n, NULL, NULL) < 0) {
        *why = "unexpected content in <struct>";
        return -EINVAL;
    }
    ret->kind = XV_STRUCT;
    ret->agg.n = n;
    ret->agg.items = n ? xcalloc(n, sizeof(struct xv)) : NULL;
    ret->agg.keys = n ? xcalloc(n, sizeof(char *)) : NULL;
    size_t i = 0;
    for (const xmlNode *c = st->children; c; c = c->next) {
        if (c->type != XML_ELEMENT_NODE)
            continue;
        int r = parse_member(c, depth, &ret->agg.keys[i], &ret->agg.items[i], why);
        i++;
        if (r < 0)
            return r;
    }
    return 0;
}

/* Scalars whose text is kept as it is sent. */
static int parse_text_kind(const xmlNode *el, enum xv_kind kind, struct xv *ret, const char **why)
{
    char *s;
    size_t len;

    if (gather_text(el, &s, &len) < 0) {
        *why = "a scalar value holds only text";
        return -EINVAL;
    }
    ret->kind = kind;
    ret->str.s = s;
    ret->str.len = len;
    return 0;
}

static int parse_typed(const xmlNode *el, int depth, struct xv *ret, const char **why)
{
    const char *name = (const char *)el->name;
    char *s;
    size_t len;
    int r;

    if (streq(name, "string"))
        return parse_text_kind(el, XV_STRING, ret, why);
    if (streq(name, "dateTime.iso8601"))
        return parse_text_kind(el, XV_DATETIME, ret, why);
    if (streq(name, "base64"))
        return parse_text_kind(el, XV_BASE64, ret, why);
    if (streq(name, "array") || streq(name, "struct")) {
        if (depth >= XV_MAX_DEPTH) {
            *why = "values nested too deep";
            return -EINVAL;
        }
        return streq(name, "array") ? parse_array(el, depth, ret, why)
                                    : parse_struct(el, depth, ret, why);
    }

    bool is_int = streq(name, "i4") || streq(name, "int") || streq(name, "i8");
    bool is_double = streq(name, "double");
    bool is_bool = streq(name, "boolean");
    bool is_nil = streq(name, "nil");
    if (!is_int && !is_double && !is_bool && !is_nil) {
        *why = "unknown value type";
        return -EINVAL;
    }
    if (gather_text(el, &s, &len) < 0) {
        *why = "a scalar value holds only text";
        return -EINVAL;
    }
    r = 0;
    if (is_int) {
        r = parse_int(s, len, &ret->i);
        if (r < 0)
            *why = r == -ERANGE ? "integer out of range" : "malformed integer";
        else
            ret->kind = XV_INT;
    } else if (is_double) {
        r = parse_double(s, len, &ret->d);
        if (r < 0)
            *why = r == -ERANGE ? "double out of range" : "malformed double";
        else
            ret->kind = XV_DOUBLE;
    } else if (is_bool) {
        /* As in xapi: "1" is true and anything else false. */
        ret->kind = XV_BOOL;
        ret->b = streq(s, "1");
    } else if (!all_blank((const xmlChar *)s)) {
        *why = "<nil/> holds nothing";
        r = -EINVAL;
    } else
        ret->kind = XV_NIL;
    free(s);
    return r < 0 ? -EINVAL : 0;
}

/* Decodes a <value> element into ret. depth counts the arrays and structs
 * around it. On failure ret may hold part of the tree, which xv_done frees. */
static int parse_value(const xmlNode *value, int depth, struct xv *ret, const char **why)
{
    const xmlNode *el;
    size_t n;
    bool text;

    if (scan_children(value, true, &n, &el, &text) < 0) {
        *why = "unexpected content in <value>";
        return -EINVAL;
    }
    if (n == 0) /* a bare string, possibly empty */
        return parse_text_kind(value, XV_STRING, ret, why);
    if (n > 1 || text) {
        *why = "a <value> holds one typed element or text";
        return -EINVAL;
    }
    return parse_typed(el, depth, ret, why);
}

static int parse_params(const xmlNode *params, struct rpc_call *c, const char **why)
{
    size_t n;

    if (scan_children(params, false, &n, NULL, NULL) < 0) {
        *why = "unexpected content in <params>";
        return -EINVAL;
    }
    c->params = n ? xcalloc(n, sizeof(struct xv)) : NULL;
    c->n_params = n;
    size_t i = 0;
    for (const xmlNode *p = params->children; p; p = p->next) {
        const xmlNode *value;
        size_t k;
        if (p->type != XML_ELEMENT_NODE)
            continue;
        if (!is_named(p, "param") || scan_children(p, false, &k, &value, NULL) < 0 || k != 1 ||
            !is_named(value, "value")) {
            *why = "a <param> holds one <value>";
            return -EINVAL;
        }
        int r = parse_value(value, 0, &c->params[i++], why);
        if (r < 0)
            return r;
    }
    return 0;
}

static int parse_call(const xmlDoc *doc, struct rpc_call *c, const char **why)
{
    const xmlNode *root = xmlDocGetRootElement(doc);
    const xmlNode *name = NULL, *params = NULL;
    size_t n, len;

    if (!root || !is_named(root, "methodCall")) {
        *why = "not a <methodCall>";
        return -EINVAL;
    }
    if (scan_children(root, false, &n, NULL, NULL) < 0) {
        *why = "unexpected content in <methodCall>";
        return -EINVAL;
    }
    for (const xmlNode *e = root->children; e; e = e->next) {
        if (e->type != XML_ELEMENT_NODE)
            continue;
        if (is_named(e, "methodName") && !name)
            name = e;
        else if (is_named(e, "params") && !params)
            params = e;
        else {
            *why = "a <methodCall> holds one <methodName> and at most one <params>";
            return -EINVAL;
        }
    }
    if (!name) {
        *why = "no <methodName>";
        return -EINVAL;
    }
    if (gather_text(name, &c->method, &len) < 0) {
        *why = "<methodName> holds only text";
        return -EINVAL;
    }
    return params ? parse_params(params, c, why) : 0;
}

/* Parses body into a document; NULL if it is not well-formed XML or has a
 * DOCTYPE (then *ret_doctype is set). */
static xmlDocPtr read_doc(const char *body, int len, bool *ret_doctype)
{
    struct parse p = {0};
    xmlDocPtr doc = NULL;

    /* Errors that libxml2 raises outside the parser context (encoding
     * conversion, for one) go to this thread's handlers: silence them for
     * the duration of the parse only, so nothing else using libxml2 on this
     * thread is affected. */
    xmlGenericErrorFunc saved_generic = xmlGenericError;
    void *saved_generic_ctx = xmlGenericErrorContext;
    xmlStructuredErrorFunc saved_structured = xmlStructuredError;
    void *saved_structured_ctx = xmlStructuredErrorContext;
    xmlSetGenericErrorFunc(NULL, ignore_generic_error);
    xmlSetStructuredErrorFunc(NULL, ignore_structured_error);

    xmlParserCtxtPtr ctxt = thread_ctxt();
    if (ctxt) {
        ctxt->_private = &p;
        ctxt->sax->internalSubset = refuse_doctype;
        ctxt->sax->serror = ignore_structured_error;
        /* Never XML_PARSE_NOENT, XML_PARSE_DTDLOAD or XML_PARSE_DTDATTR:
         * they would substitute entities or fetch a DTD. */
        doc = xmlCtxtReadMemory(ctxt, body, len, NULL, NULL,
                                XML_PARSE_NONET | XML_PARSE_NOERROR | XML_PARSE_NOWARNING |
                                    XML_PARSE_NOCDATA | XML_PARSE_COMPACT);
        ctxt->_private = NULL;
    }

    xmlSetGenericErrorFunc(saved_generic_ctx, saved_generic);
    xmlSetStructuredErrorFunc(saved_structured_ctx, saved_structured);

    if (doc && (doc->intSubset || doc->extSubset))
        p.doctype = true;
    if (p.doctype) {
        xmlFreeDoc(doc);
        doc = NULL;
    }
    *ret_doctype = p.doctype;
    return doc;
}

int xmlrpc_parse_call(const char *body, size_t len, struct rpc_call *ret, const char **ret_why)
{
    struct rpc_call c = {0};
    const char *why = NULL;
    bool doctype = false;
    xmlDocPtr doc = NULL;
    int r = -EINVAL;

    pthread_once(&init_once, init_libxml);

    if (len > INT_MAX)
        why = "request too large";
    else if (!(doc = read_doc(body, (int)len, &doctype)))
        why = doctype ? "a DOCTYPE is not allowed" : "not well-formed XML";
    else
        r = parse_call(doc, &c, &why);
    xmlFreeDoc(doc);

    if (r < 0) {
        rpc_call_done(&c);
        if (ret_why)
            *ret_why = why;
        return r;
    }
    *ret = c;
    return 0;
}

/* ---- Envelopes ---- */

static const char response_head[] = "<?xml version=\"1.0\"?><methodResponse><params><param>";
static const char response_tail[] = "</param></params></methodResponse>";

/* A result that is missing is written as void, so the envelope stays a
 * well-formed document whatever the caller hands in. */
static void add_value(struct strbuf *sb, const char *value, size_t value_len)
{
    if (value && value_len)
        strbuf_add(sb, value, value_len);
    else
        ADD_LIT(sb, "<value></value>");
}

void xmlrpc_success_parts(struct strbuf *prefix, struct strbuf *suffix)
{
    ADD_LIT(prefix, response_head);
    ADD_LIT(prefix, "<value><struct><member><name>Status</name><value>Success</value></member>"
                    "<member><name>Value</name>");
    ADD_LIT(suffix, "</member></struct></value>");
    ADD_LIT(suffix, response_tail);
}

void xmlrpc_write_success(struct strbuf *sb, const char *value, size_t value_len)
{
    struct strbuf suffix;
    strbuf_init(&suffix, 64);
    strbuf_grow(sb, value_len + 256);
    xmlrpc_success_parts(sb, &suffix);
    add_value(sb, value, value_len);
    strbuf_add(sb, suffix.buf, suffix.len);
    strbuf_done(&suffix);
}

void xmlrpc_write_failure(struct strbuf *sb, const char *code, const char *const *params,
                          size_t n_params)
{
    /* The description is an array of strings, escaped like any other
     * result, so it goes through the value writer, lent the caller's
     * buffer for the occasion. */
    struct out o = {.wire = WIRE_XML, .sb = *sb};

    ADD_LIT(&o.sb, response_head);
    ADD_LIT(&o.sb, "<value><struct><member><name>Status</name><value>Failure</value></member>"
                   "<member><name>ErrorDescription</name>");
    out_array_begin(&o);
    out_string(&o, code ? code : "");
    for (size_t i = 0; i < n_params; i++)
        out_string(&o, params[i] ? params[i] : "");
    out_array_end(&o);
    ADD_LIT(&o.sb, "</member></struct></value>");
    ADD_LIT(&o.sb, response_tail);
    *sb = o.sb;
}

void xmlrpc_write_bare(struct strbuf *sb, const char *value, size_t value_len)
{
    strbuf_grow(sb, value_len + 128);
    ADD_LIT(sb, response_head);
    add_value(sb, value, value_len);
    ADD_LIT(sb, response_tail);
}
