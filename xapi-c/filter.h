/* XAPI's filter expressions for get_all_records_where and get_all_where:
 *   expr := "true" | "false" | "not" expr | expr "and" expr | expr "or" expr
 *         | "(" expr ")" | q "=" q      q := "field" STRING | STRING
 * A field compares by its canonical text. */
#pragma once

#include <stdbool.h>

#include "error.h"

struct row;
struct filter;

/* Parses text against the fields of class cls. A malformed expression or an
 * unknown field gives INVALID_VALUE [expr, reason]. */
struct api_error *filter_parse(const char *text, int cls, struct filter **ret);
/* Evaluates on a row; the db lock must be held. */
bool filter_match(const struct filter *f, const struct row *r);
void filter_free(struct filter *f);
