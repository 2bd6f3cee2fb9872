/* The response writer: results are written once, through this interface,
 * and come out as XML-RPC or JSON-RPC values depending on the writer's
 * wire. It writes only the value; rpc.h wraps it in the envelope. Values
 * follow xapi's serialiser: in XML-RPC strings and ints are bare
 * <value>text</value>, bools <boolean>, floats <double> (%.16g), datetimes
 * <dateTime.iso8601>; in JSON ints are numbers and datetimes strings. */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include "lib/strbuf.h"

enum wire { WIRE_XML, WIRE_JSON };

struct out {
    enum wire wire;
    struct strbuf sb; /* the value starts at sb.buf + base */
    size_t base;
    /* JSON: for each open array or struct, whether an element was written. */
    int depth;
    bool has_elem[64];
    bool after_key; /* JSON: a member name was written, its value comes next */
};

void out_init(struct out *o, enum wire w);
/* As out_init, leaving headroom bytes free before the value, so that an
 * envelope can later be written in front of it without moving it. */
void out_init_headroom(struct out *o, enum wire w, size_t headroom);
/* The value written so far and its length (borrowed). */
const char *out_value(const struct out *o, size_t *ret_len);
void out_done(struct out *o);
/* Drops what was written (e.g. when a handler fails half-way). */
void out_reset(struct out *o);

void out_string(struct out *o, const char *s);
void out_string_len(struct out *o, const char *s, size_t len);
void out_int(struct out *o, int64_t v);
/* Writes an int given as decimal text (canonical form). */
void out_int_text(struct out *o, const char *text);
/* XML-RPC <i4> (only event.from's counts use it); a number in JSON. */
void out_i4(struct out *o, int32_t v);
void out_double(struct out *o, double v);
/* Writes a float given as canonical text (%.16g). */
void out_double_text(struct out *o, const char *text);
void out_bool(struct out *o, bool v);
/* text is already "YYYYMMDDTHH:MM:SSZ". */
void out_datetime(struct out *o, const char *text);
void out_void(struct out *o);

void out_array_begin(struct out *o);
void out_array_end(struct out *o);
void out_struct_begin(struct out *o);
/* Names the next member; follow with exactly one value. */
void out_member(struct out *o, const char *name);
/* The same for a name of len bytes known to need no escaping (field names:
 * letters, digits and underscores). */
void out_member_plain(struct out *o, const char *name, size_t len);
/* The same with the member's opening already spelled for each wire:
 * "<member><name>N</name>" and "\"N\":" (see out_member_spell). */
void out_member_spelled(struct out *o, const char *xml, size_t xml_len, const char *json,
                        size_t json_len);
/* Spells a plain name's member opening for both wires; newly allocated. */
void out_member_spell(const char *name, char **ret_xml, char **ret_json);
void out_struct_end(struct out *o);
