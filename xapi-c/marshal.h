/* Typed conversion between the wire and the canonical text of values. The
 * canonical text is what the database stores and compares: strings as they
 * are, ints in decimal, floats with %.16g, bools "true"/"false", datetimes
 * "YYYYMMDDTHH:MM:SSZ", enums in the model's spelling, refs as they are,
 * sets as a JSON array of canonical texts and maps as a JSON object from
 * canonical key to canonical value (lib/strlist.h). Decoding applies xapi's
 * lenient rules (ints as strings, enums in any case, two date formats). */
#pragma once

#include "error.h"
#include "lib/strbuf.h"
#include "model.h"
#include "out.h"
#include "xv.h"

/* Checks v against t and appends its canonical text to out. A value of the
 * wrong shape gives INTERNAL_ERROR with an unmarshalling message, invalid
 * UTF-8 gives INVALID_VALUE, as xapi answers. */
struct api_error *marshal_from_wire(const struct type *t, const struct xv *v, struct strbuf *out);

/* Checks that canonical text s (e.g. a parameter default, or a value given
 * as text by a filter) is a valid value of t, and normalises it into out. */
struct api_error *marshal_from_text(const struct type *t, const char *s, struct strbuf *out);

/* Writes the canonical text s as a value of type t. */
void marshal_to_wire(struct out *o, const struct type *t, const char *s);
