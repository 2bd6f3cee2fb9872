/* Construction of XenAPI error values (see error.h). */
#include "error.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/util.h"

struct api_error *api_fail_(enum err_id code, ...)
{
    struct api_error *e = xcalloc(1, sizeof(*e));
    va_list ap;
    size_t cap = 4;

    e->code = model_errors[code].code;
    e->params = xcalloc(cap, sizeof(char *));
    va_start(ap, code);
    for (const char *p; (p = va_arg(ap, const char *));) {
        if (e->n == cap) {
            cap *= 2;
            e->params = xrealloc(e->params, cap * sizeof(char *));
        }
        e->params[e->n++] = xstrdup(p);
    }
    va_end(ap);
    return e;
}

struct api_error *api_failf_(enum err_id code, const char *fmt, ...)
{
    va_list ap;
    char *msg;
    va_start(ap, fmt);
    if (vasprintf(&msg, fmt, ap) < 0)
        abort();
    va_end(ap);
    struct api_error *e = api_fail_(code, msg, (const char *)NULL);
    free(msg);
    return e;
}

struct api_error *api_error_new(const char *code, const char *const *params, size_t n)
{
    struct api_error *e = xcalloc(1, sizeof(*e));
    e->code = "Fault";
    for (int i = 0; i < ERR__COUNT; i++)
        if (streq(model_errors[i].code, code)) {
            e->code = model_errors[i].code;
            break;
        }
    e->params = xcalloc(n + (streq(e->code, code) ? 0 : 1), sizeof(char *));
    if (!streq(e->code, code)) /* keep an unknown code visible as Fault's message */
        e->params[e->n++] = xstrdup(code);
    for (size_t i = 0; i < n; i++)
        e->params[e->n++] = xstrdup(params[i]);
    return e;
}

void api_error_free(struct api_error *e)
{
    if (!e)
        return;
    for (size_t i = 0; i < e->n; i++)
        free(e->params[i]);
    free(e->params);
    free(e);
}
