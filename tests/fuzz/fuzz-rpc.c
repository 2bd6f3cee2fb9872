/* The body of the libFuzzer targets of the two RPC decoders: whatever a
 * decoder accepts is written back out through the response writer on both
 * wires and wrapped in the envelopes, and the results are checked: the JSON
 * must be read back by a strict JSON parser and, when every string is text
 * XML can carry, the XML by the XML-RPC decoder; a JSON-RPC id must come
 * back as it came. Any crash, leak, sanitizer report or failed check is a
 * finding. */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "lib/strbuf.h"
#include "lib/util.h"
#include "xapi-c/out.h"
#include "xapi-c/rpc.h"

#include "tests/fuzz/fuzz-rpc.h"

/* Writes v with every writer call its kind maps to. */
static void emit(struct out *o, const struct xv *v)
{
    switch (v->kind) {
    case XV_NIL:
        out_void(o);
        break;
    case XV_STRING:
        out_string_len(o, v->str.s, v->str.len);
        break;
    case XV_INT:
        if (v->i >= INT32_MIN && v->i <= INT32_MAX)
            out_i4(o, (int32_t)v->i);
        else
            out_int(o, v->i);
        break;
    case XV_DOUBLE:
        out_double(o, v->d);
        break;
    case XV_BOOL:
        out_bool(o, v->b);
        break;
    case XV_DATETIME:
        out_datetime(o, v->str.s);
        break;
    case XV_BASE64:
        /* Arbitrary text, to exercise the int-text validation. */
        out_int_text(o, v->str.s);
        break;
    case XV_ARRAY:
        out_array_begin(o);
        for (size_t i = 0; i < v->agg.n; i++)
            emit(o, &v->agg.items[i]);
        out_array_end(o);
        break;
    case XV_STRUCT:
        out_struct_begin(o);
        for (size_t i = 0; i < v->agg.n; i++) {
            out_member(o, v->agg.keys[i]);
            emit(o, &v->agg.items[i]);
        }
        out_struct_end(o);
        break;
    }
}

/* Valid UTF-8 without U+FFFE and U+FFFF, the two characters (beside the
 * controls the writer drops) that UTF-8 allows and XML does not. */
static bool xml_safe_text(const char *s, size_t len)
{
    return utf8_is_valid(s, len) && !memmem(s, len, "\xef\xbf\xbe", 3) &&
           !memmem(s, len, "\xef\xbf\xbf", 3);
}

static bool xml_safe(const struct xv *v)
{
    switch (v->kind) {
    case XV_STRING:
    case XV_DATETIME:
    case XV_BASE64:
        return xml_safe_text(v->str.s, v->str.len);
    case XV_ARRAY:
    case XV_STRUCT:
        for (size_t i = 0; i < v->agg.n; i++)
            if (!xml_safe(&v->agg.items[i]) ||
                (v->agg.keys && !xml_safe_text(v->agg.keys[i], strlen(v->agg.keys[i]))))
                return false;
        return true;
    default:
        return true;
    }
}

static void check_json(const char *s, size_t len)
{
    struct json_tokener *tok = json_tokener_new_ex(2 * XV_MAX_DEPTH);
    json_tokener_set_flags(tok, JSON_TOKENER_STRICT);
    struct json_object *j = json_tokener_parse_ex(tok, s, (int)len);
    if (json_tokener_get_error(tok) != json_tokener_success ||
        json_tokener_get_parse_end(tok) != len)
        abort();
    json_object_put(j);
    json_tokener_free(tok);
}

/* json-c waits for more digits after a number that ends its input, so a
 * lone value is checked inside an array. */
static void check_json_value(const char *s, size_t len)
{
    struct strbuf sb;
    strbuf_init(&sb, len + 2);
    strbuf_addc(&sb, '[');
    strbuf_add(&sb, s, len);
    strbuf_addc(&sb, ']');
    check_json(sb.buf, sb.len);
    strbuf_done(&sb);
}

int fuzz_rpc_one(const uint8_t *data, size_t size, enum wire w)
{
    struct rpc_call call;
    const char *why;
    int r = w == WIRE_JSON ? jsonrpc_parse_call((const char *)data, size, &call, &why)
                           : xmlrpc_parse_call((const char *)data, size, &call, &why);

    if (r < 0) {
        if (!why)
            abort();
        return 0;
    }

    struct out xml, json;
    struct strbuf sb, doc;
    out_init(&xml, WIRE_XML);
    out_init(&json, WIRE_JSON);
    strbuf_init(&sb, 0);
    strbuf_init(&doc, 0);
    strbuf_adds(&doc, "<methodCall><methodName>r</methodName><params>");

    for (size_t i = 0; i < call.n_params; i++) {
        out_reset(&xml);
        out_reset(&json);
        emit(&xml, &call.params[i]);
        emit(&json, &call.params[i]);
        if (xml.depth != 0 || json.depth != 0 || json.after_key)
            abort();
        check_json_value(json.sb.buf, json.sb.len);

        strbuf_adds(&doc, "<param>");
        strbuf_add(&doc, xml.sb.buf, xml.sb.len);
        strbuf_adds(&doc, "</param>");

        strbuf_reset(&sb);
        rpc_write_success(&sb, &call, WIRE_JSON, json.sb.buf, json.sb.len);
        check_json(sb.buf, sb.len);
        strbuf_reset(&sb);
        rpc_write_success(&sb, &call, WIRE_XML, xml.sb.buf, xml.sb.len);
        strbuf_reset(&sb);
        rpc_write_bare(&sb, &call, WIRE_XML, xml.sb.buf, xml.sb.len);
    }
    strbuf_adds(&doc, "</params></methodCall>");

    /* What the writer made of the parameters is a call the XML-RPC decoder
     * takes, and a JSON-RPC id goes back to the client as it came. */
    bool safe = true;
    for (size_t i = 0; i < call.n_params; i++)
        safe = safe && xml_safe(&call.params[i]);
    struct rpc_call back;
    if (safe) {
        if (xmlrpc_parse_call(doc.buf, doc.len, &back, &why) < 0 || back.n_params != call.n_params)
            abort();
        rpc_call_done(&back);
    }
    if (w == WIRE_JSON) {
        strbuf_reset(&sb);
        rpc_write_success(&sb, &call, WIRE_JSON, "1", 1);
        sb.buf[sb.len - 1] = ',';
        strbuf_adds(&sb, "\"method\":\"r\",\"params\":[]}");
        if (jsonrpc_parse_call(sb.buf, sb.len, &back, &why) < 0 ||
            strcmp(back.json_id, call.json_id))
            abort();
        rpc_call_done(&back);
    }

    /* The string parameters as an error's parameters. */
    const char **params = calloc(call.n_params + 1, sizeof(*params));
    size_t n = 0;
    for (size_t i = 0; i < call.n_params; i++)
        if (call.params[i].kind == XV_STRING)
            params[n++] = call.params[i].str.s;
    strbuf_reset(&sb);
    rpc_write_failure(&sb, &call, WIRE_JSON, call.method, params, n);
    check_json(sb.buf, sb.len);
    strbuf_reset(&sb);
    rpc_write_failure(&sb, NULL, WIRE_JSON, call.method, params, n);
    check_json(sb.buf, sb.len);
    strbuf_reset(&sb);
    rpc_write_failure(&sb, &call, WIRE_XML, call.method, params, n);
    free(params);

    strbuf_done(&doc);
    strbuf_done(&sb);
    out_done(&xml);
    out_done(&json);
    rpc_call_done(&call);
    return 0;
}
