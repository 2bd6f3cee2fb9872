/* JSON-RPC 1.0 and 2.0 on the one endpoint: decoding a request object into
 * a method name and a value tree, and writing the response objects of
 * either version (xenapi.md 1.5). json-c does the parsing, in strict mode
 * and with its nesting bounded by XV_MAX_DEPTH; what it lets through that
 * the XenAPI cannot take (integers beyond int64, which json-c clamps
 * silently, infinities, NaN, trailing bytes) is refused here. */
#include "xapi-c/rpc.h"

#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "lib/strbuf.h"
#include "lib/strlist.h"
#include "lib/util.h"

/* The JSON halves of rpc_write_*, called by rpc.c only. rpc.h is the public
 * face of rpc.c, xmlrpc.c and jsonrpc.c, so these are declared in the two
 * files that use them rather than in a header of their own. */
void jsonrpc_write_success(struct strbuf *sb, const struct rpc_call *call, const char *value,
                           size_t value_len);
void jsonrpc_success_parts(const struct rpc_call *call, struct strbuf *prefix,
                           struct strbuf *suffix);
void jsonrpc_write_failure(struct strbuf *sb, const struct rpc_call *call, const char *code,
                           const char *const *params, size_t n_params);

#define ADD_LIT(sb, lit) strbuf_add((sb), (lit), sizeof(lit) - 1)

/* ---- Decoding ---- */

struct conv {
    const char *why;
    /* json-c turns an integer below INT64_MIN into INT64_MIN without a
     * word; when that value shows up, the text is checked for the cause. */
    bool saw_int64_min;
};

static int convert_int(struct json_object *j, int64_t *ret, struct conv *cv)
{
    int64_t v = json_object_get_int64(j);
    /* Integers above INT64_MAX are kept by json-c as uint64 (and those
     * above UINT64_MAX clamped to it); either way too big for the XenAPI. */
    if (v == INT64_MAX && json_object_get_uint64(j) > (uint64_t)INT64_MAX) {
        cv->why = "integer out of range";
        return -ERANGE;
    }
    if (v == INT64_MIN)
        cv->saw_int64_min = true;
    *ret = v;
    return 0;
}

/* Converts a json-c value into ret. On failure ret may hold part of the
 * tree, which xv_done frees. The recursion is bounded by the tokener's
 * depth limit. */
static int convert(struct json_object *j, struct xv *ret, struct conv *cv)
{
    switch (json_object_get_type(j)) {
    case json_type_null:
        ret->kind = XV_NIL;
        return 0;
    case json_type_boolean:
        ret->kind = XV_BOOL;
        ret->b = json_object_get_boolean(j);
        return 0;
    case json_type_double: {
        double d = json_object_get_double(j);
        if (!isfinite(d)) {
            cv->why = "number out of range";
            return -ERANGE;
        }
        ret->kind = XV_DOUBLE;
        ret->d = d;
        return 0;
    }
    case json_type_int: {
        int64_t i;
        int r = convert_int(j, &i, cv);
        if (r < 0)
            return r;
        ret->kind = XV_INT;
        ret->i = i;
        return 0;
    }
    case json_type_string: {
        size_t len = (size_t)json_object_get_string_len(j);
        char *s = xmalloc(len + 1);
        memcpy(s, json_object_get_string(j), len);
        s[len] = '\0';
        ret->kind = XV_STRING;
        ret->str.s = s;
        ret->str.len = len;
        return 0;
    }
    case json_type_array: {
        size_t n = json_object_array_length(j);
        ret->kind = XV_ARRAY;
        ret->agg.n = n;
        ret->agg.items = n ? xcalloc(n, sizeof(struct xv)) : NULL;
        ret->agg.keys = NULL;
        for (size_t i = 0; i < n; i++) {
            int r = convert(json_object_array_get_idx(j, i), &ret->agg.items[i], cv);
            if (r < 0)
                return r;
        }
        return 0;
    }
    case json_type_object: {
        size_t n = (size_t)json_object_object_length(j);
        size_t i = 0;
        ret->kind = XV_STRUCT;
        ret->agg.n = n;
        ret->agg.items = n ? xcalloc(n, sizeof(struct xv)) : NULL;
        ret->agg.keys = n ? xcalloc(n, sizeof(char *)) : NULL;
        /* json-c keeps members in the order they were sent. */
        json_object_object_foreach(j, key, val)
        {
            ret->agg.keys[i] = xstrdup(key);
            int r = convert(val, &ret->agg.items[i], cv);
            i++;
            if (r < 0)
                return r;
        }
        return 0;
    }
    }
    cv->why = "unexpected JSON type";
    return -EINVAL;
}

/* True if the (well-formed, strict) JSON text holds an integer literal
 * below INT64_MIN. */
static bool has_negative_overflow(const char *s, size_t len)
{
    static const char min_digits[] = "9223372036854775808";
    for (size_t i = 0; i < len; i++) {
        if (s[i] == '"') {
            for (i++; i < len && s[i] != '"'; i++)
                if (s[i] == '\\')
                    i++;
            continue;
        }
        if (s[i] != '-')
            continue;
        size_t j = i + 1;
        while (j < len && s[j] == '0')
            j++;
        size_t start = j;
        while (j < len && s[j] >= '0' && s[j] <= '9')
            j++;
        size_t n = j - start;
        bool fraction = j < len && (s[j] == '.' || s[j] == 'e' || s[j] == 'E');
        if (!fraction && (n > sizeof(min_digits) - 1 ||
                          (n == sizeof(min_digits) - 1 && memcmp(s + start, min_digits, n) > 0)))
            return true;
        i = j - 1;
    }
    return false;
}

static bool is_json_ws(char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

/* Parses the whole body as one JSON value; NULL (and *why) if it is not
 * exactly that. */
static struct json_object *tokenize(const char *body, size_t len, const char **why)
{
    struct json_object *root = NULL;
    struct json_tokener *tok;

    if (len > INT_MAX) {
        *why = "request too large";
        return NULL;
    }
    tok = json_tokener_new_ex(XV_MAX_DEPTH);
    if (!tok) {
        *why = "out of memory";
        return NULL;
    }
    json_tokener_set_flags(tok, JSON_TOKENER_STRICT);
    root = json_tokener_parse_ex(tok, body ? body : "", (int)len);
    enum json_tokener_error err = json_tokener_get_error(tok);
    if (err == json_tokener_success) {
        /* json-c stops quietly at a NUL byte after a complete value. */
        size_t end = json_tokener_get_parse_end(tok);
        while (end < len && is_json_ws(body[end]))
            end++;
        if (end != len) {
            *why = "trailing bytes after the request";
            json_object_put(root);
            root = NULL;
        } else if (!json_object_is_type(root, json_type_object)) {
            *why = "the request is not a JSON object";
            json_object_put(root);
            root = NULL;
        }
    } else if (err == json_tokener_error_depth)
        *why = "values nested too deep";
    else if (err == json_tokener_continue)
        *why = "truncated JSON";
    else
        *why = "malformed JSON";
    json_tokener_free(tok);
    return root;
}

static int parse_envelope(struct json_object *root, const char *body, size_t len,
                          struct rpc_call *c, const char **why)
{
    struct json_object *method, *version, *id, *params = NULL;
    struct conv cv = {0};
    int r;

    if (!json_object_object_get_ex(root, "method", &method) ||
        !json_object_is_type(method, json_type_string)) {
        *why = "Invalid field 'method'";
        return -EINVAL;
    }
    const char *m = json_object_get_string(method);
    if (strlen(m) != (size_t)json_object_get_string_len(method)) {
        *why = "Invalid field 'method'";
        return -EINVAL;
    }

    if (!json_object_object_get_ex(root, "jsonrpc", &version))
        c->json_version = 1;
    else if (json_object_is_type(version, json_type_string) &&
             streq(json_object_get_string(version), "2.0"))
        c->json_version = 2;
    else {
        *why = "Invalid field 'jsonrpc'";
        return -EINVAL;
    }

    if (!json_object_object_get_ex(root, "id", &id) ||
        (!json_object_is_type(id, json_type_string) && !json_object_is_type(id, json_type_int))) {
        *why = "Invalid field 'id'";
        return -EINVAL;
    }
    if (json_object_is_type(id, json_type_int)) {
        int64_t unused;
        r = convert_int(id, &unused, &cv);
        if (r < 0) {
            *why = "Invalid field 'id'";
            return -EINVAL;
        }
    }

    json_object_object_get_ex(root, "params", &params);
    enum json_type pt = json_object_get_type(params);
    if (pt == json_type_array) {
        size_t n = json_object_array_length(params);
        c->params = n ? xcalloc(n, sizeof(struct xv)) : NULL;
        c->n_params = n;
        for (size_t i = 0; i < n; i++) {
            r = convert(json_object_array_get_idx(params, i), &c->params[i], &cv);
            if (r < 0) {
                *why = cv.why;
                return -EINVAL;
            }
        }
    } else if (c->json_version == 1) {
        *why = "Invalid field 'params'";
        return -EINVAL;
    } else if (pt == json_type_object) {
        c->params = xcalloc(1, sizeof(struct xv));
        c->n_params = 1;
        r = convert(params, &c->params[0], &cv);
        if (r < 0) {
            *why = cv.why;
            return -EINVAL;
        }
    } else if (pt != json_type_null) {
        *why = "Invalid field 'params'";
        return -EINVAL;
    }

    if (cv.saw_int64_min && has_negative_overflow(body, len)) {
        *why = "integer out of range";
        return -EINVAL;
    }

    c->method = xstrdup(m);
    c->json_id = xstrdup(json_object_to_json_string_ext(id, JSON_C_TO_STRING_PLAIN |
                                                                JSON_C_TO_STRING_NOSLASHESCAPE));
    return 0;
}

int jsonrpc_parse_call(const char *body, size_t len, struct rpc_call *ret, const char **ret_why)
{
    struct rpc_call c = {0};
    const char *why = NULL;
    int r = -EINVAL;

    struct json_object *root = tokenize(body, len, &why);
    if (root)
        r = parse_envelope(root, body, len, &c, &why);
    json_object_put(root);

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

/* Before a call is decoded there is no version or id to answer with:
 * then the answer is 2.0 with id 0. */
static int version_of(const struct rpc_call *call)
{
    return call && call->json_id && call->json_version == 1 ? 1 : 2;
}

static void add_id(struct strbuf *sb, const struct rpc_call *call)
{
    if (call && call->json_id)
        strbuf_adds(sb, call->json_id);
    else
        strbuf_addc(sb, '0');
}

void jsonrpc_success_parts(const struct rpc_call *call, struct strbuf *prefix,
                           struct strbuf *suffix)
{
    bool v1 = version_of(call) == 1;

    if (v1)
        ADD_LIT(prefix, "{\"result\":");
    else
        ADD_LIT(prefix, "{\"jsonrpc\":\"2.0\",\"result\":");
    if (v1)
        ADD_LIT(suffix, ",\"error\":null,\"id\":");
    else
        ADD_LIT(suffix, ",\"id\":");
    add_id(suffix, call);
    strbuf_addc(suffix, '}');
}

void jsonrpc_write_success(struct strbuf *sb, const struct rpc_call *call, const char *value,
                           size_t value_len)
{
    struct strbuf suffix;
    strbuf_init(&suffix, 64);
    strbuf_grow(sb, value_len + 64);
    jsonrpc_success_parts(call, sb, &suffix);
    /* A missing result is written as void, so the answer stays JSON. */
    if (value && value_len)
        strbuf_add(sb, value, value_len);
    else
        ADD_LIT(sb, "\"\"");
    strbuf_add(sb, suffix.buf, suffix.len);
    strbuf_done(&suffix);
}

void jsonrpc_write_failure(struct strbuf *sb, const struct rpc_call *call, const char *code,
                           const char *const *params, size_t n_params)
{
    bool v1 = version_of(call) == 1;

    if (!code)
        code = "";
    if (v1) {
        ADD_LIT(sb, "{\"result\":null,\"error\":[");
        strlist_add_quoted(sb, code, strlen(code));
        if (n_params)
            strbuf_addc(sb, ',');
    } else {
        ADD_LIT(sb, "{\"jsonrpc\":\"2.0\",\"error\":{\"code\":1,\"message\":");
        strlist_add_quoted(sb, code, strlen(code));
        ADD_LIT(sb, ",\"data\":[");
    }
    for (size_t i = 0; i < n_params; i++) {
        const char *p = params[i] ? params[i] : "";
        if (i)
            strbuf_addc(sb, ',');
        strlist_add_quoted(sb, p, strlen(p));
    }
    if (v1)
        ADD_LIT(sb, "],\"id\":");
    else
        ADD_LIT(sb, "]},\"id\":");
    add_id(sb, call);
    strbuf_addc(sb, '}');
}
