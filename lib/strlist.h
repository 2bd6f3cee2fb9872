/* The canonical text of a list of strings and of a string-to-string map: a
 * JSON array of strings ["a","b"] and a JSON object {"k":"v"}. Structured
 * values are stored and compared in this form; these helpers write it and
 * walk it without building a tree. */
#pragma once

#include <stdbool.h>
#include <stddef.h>

#include "strbuf.h"

/* Appends s as a JSON string literal (quotes and escapes). */
void strlist_add_quoted(struct strbuf *sb, const char *s, size_t len);

/* A cursor over the elements of an array, or the key/value pairs of an
 * object, in canonical text. Strings it yields are unescaped into its own
 * buffers and stay valid until the next call. */
struct strlist_iter {
    const char *p;
    struct strbuf key, val;
    bool is_map;
    bool first; /* no element read yet */
    bool bad;
};

/* Starts on text, which must be "[...]" or "{...}"; an empty or NULL text is
 * taken as empty. */
void strlist_iter_init(struct strlist_iter *it, const char *text);
/* Yields the next element (ret_key stays NULL for arrays). Returns false at
 * the end, or on malformed text (then it->bad is set). */
bool strlist_iter_next(struct strlist_iter *it, const char **ret_key, const char **ret_val);
void strlist_iter_done(struct strlist_iter *it);

/* Counts the elements; -1 if the text is malformed. */
long strlist_count(const char *text);
/* True if the array text holds s. */
bool strlist_contains(const char *text, const char *s);
/* Looks up key in object text: a newly allocated value, or NULL. */
char *strmap_get(const char *text, const char *key);
/* The object text with key set to value, or removed when value is NULL
 * (newly allocated). */
char *strmap_with(const char *text, const char *key, const char *value);
