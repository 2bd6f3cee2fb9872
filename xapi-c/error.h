/* XenAPI errors as values: a code from the error table and its parameters,
 * all strings. Functions that can fail at the API level return a
 * struct api_error * (NULL on success) and take their outputs by pointer;
 * whoever receives an error owns it and frees it with api_error_free(). The
 * dispatcher turns it into the XML-RPC or JSON-RPC failure. */
#pragma once

#include <stddef.h>

#include "lib/cleanup.h"
#include "model.h"

struct api_error {
    const char *code; /* static: from the error table, or "Fault" */
    size_t n;
    char **params;
};

/* Makes an error from the table with the given string parameters (NULL
 * ends the list; use api_fail, which adds it). Never returns NULL. */
struct api_error *api_fail_(enum err_id code, ...);
#define api_fail(code, ...) api_fail_(ERR_##code, ##__VA_ARGS__, (const char *)NULL)
/* As api_fail, with printf-formatted single parameter (INTERNAL_ERROR ...). */
struct api_error *api_failf_(enum err_id code, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
#define api_failf(code, ...) api_failf_(ERR_##code, __VA_ARGS__)
/* An error with a code that is not in the table (e.g. one read back from a
 * task's error_info); params are copied. */
struct api_error *api_error_new(const char *code, const char *const *params, size_t n);
void api_error_free(struct api_error *e);
DEFINE_CLEANUP_FUNC(struct api_error, api_error_free)
#define _cleanup_api_error_ _cleanup_(api_error_freep)
