/* Small utilities every daemon needs: allocation that aborts on failure,
 * random UUIDs, wall-clock time in the XenAPI's datetime form, UTF-8
 * validation. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <time.h>

void *xmalloc(size_t n);
void *xcalloc(size_t n, size_t size);
void *xrealloc(void *p, size_t n);
char *xstrdup(const char *s);
char *xstrndup(const char *s, size_t n);
char *xasprintf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#define UUID_STR_LEN 37 /* 36 characters and the NUL */

/* Writes a random (version 4) lower-case UUID into out. */
void uuid_generate_str(char out[UUID_STR_LEN]);
/* True if s is a lower- or upper-case 8-4-4-4-12 UUID. */
bool uuid_is_valid(const char *s);

/* Seconds since the epoch, with fractions, from CLOCK_REALTIME. */
double now_realtime(void);
/* Seconds from CLOCK_MONOTONIC. */
double now_monotonic(void);

#define DATETIME_LEN 19 /* "YYYYMMDDTHH:MM:SSZ" and the NUL */
/* Formats t (UTC) as the XenAPI writes datetimes: 20240420T12:00:00Z. */
void datetime_format(time_t t, char out[DATETIME_LEN]);
/* Parses "YYYYMMDDTHH:MM:SSZ" or RFC 3339 (with Z, an offset, or no zone,
 * taken as UTC). Returns 0 and the UTC time, or -EINVAL. */
int datetime_parse(const char *s, time_t *ret);

/* True if the len bytes at s are valid UTF-8. */
bool utf8_is_valid(const char *s, size_t len);

static inline bool streq(const char *a, const char *b)
{
    return strcmp(a, b) == 0;
}
