/* libxl's messages in domaind's log (see xen-log.h). libxl logs a great
 * deal at its debug levels, so those map to domaind's debug; its errors
 * are also kept per thread for the error that the call answers. */
#include "hypervisor/xen-log.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/log.h"
#include "lib/util.h"

LOG_MODULE("libxl");

static _Thread_local char last_error[1200];

void xen_log_clear(void)
{
    last_error[0] = '\0';
}

const char *xen_log_last_error(void)
{
    return last_error;
}

static int log_level_of(xentoollog_level level)
{
    if (level >= XTL_ERROR)
        return LOG_ERR;
    if (level == XTL_WARN)
        return LOG_WARN;
    if (level == XTL_NOTICE)
        return LOG_NOTICE;
    if (level == XTL_INFO)
        return LOG_INFO;
    return LOG_DEBUG;
}

static void xen_vmessage(xentoollog_logger *logger, xentoollog_level level, int errnoval,
                         const char *context, const char *format, va_list al)
    __attribute__((format(printf, 5, 0)));

static void xen_vmessage(xentoollog_logger *logger, xentoollog_level level, int errnoval,
                         const char *context, const char *format, va_list al)
{
    char msg[1024];
    int lvl = log_level_of(level);

    (void)logger;
    vsnprintf(msg, sizeof(msg), format, al);
    if (level >= XTL_ERROR) {
        if (errnoval > 0)
            snprintf(last_error, sizeof(last_error), "%s: %s", msg, strerror(errnoval));
        else
            snprintf(last_error, sizeof(last_error), "%s", msg);
    }
    if (!log_enabled(log_module_, lvl))
        return;
    if (errnoval > 0)
        log_emit(log_module_, lvl, errnoval, "%s%s%s: %m", context ? context : "",
                 context ? ": " : "", msg);
    else
        log_emit(log_module_, lvl, 0, "%s%s%s", context ? context : "", context ? ": " : "", msg);
}

static void xen_destroy(xentoollog_logger *logger)
{
    free(logger);
}

xentoollog_logger *xen_logger_new(void)
{
    xentoollog_logger *l = xcalloc(1, sizeof(*l));

    l->vmessage = xen_vmessage;
    l->progress = NULL;
    l->destroy = xen_destroy;
    return l;
}
