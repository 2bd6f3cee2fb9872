/* Driver failures in XCP's form (see errors.h). */
#include "storaged/errors.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

#include "lib/cleanup.h"
#include "lib/util.h"

struct jsonrpc_error *sd_backend_failure(enum sm_error code, const char *fmt, ...)
{
    char name[48];
    _cleanup_free_ char *msg = NULL;
    va_list ap;

    va_start(ap, fmt);
    if (vasprintf(&msg, fmt, ap) < 0)
        abort();
    va_end(ap);
    snprintf(name, sizeof(name), "SR_BACKEND_FAILURE_%d", (int)code);
    return jsonrpc_app_error(name, "", msg, "");
}
