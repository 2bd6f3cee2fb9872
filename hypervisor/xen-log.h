/* The logger domaind gives libxl (a xentoollog logger): libxl's messages
 * go to domaind's log under module "libxl", and the last error libxl
 * reported on the calling thread is kept, so that a failed call's
 * BACKEND_FAILURE can say what libxl said rather than a bare error code. */
#pragma once

#include <xentoollog.h>

/* A new logger; free it with xtl_logger_destroy() after the libxl context
 * that uses it. Never returns NULL. */
xentoollog_logger *xen_logger_new(void);

/* Forgets the calling thread's last libxl error: call before a libxl call
 * whose failure is to be explained. */
void xen_log_clear(void);
/* The last error libxl logged on the calling thread since xen_log_clear,
 * or "" if none. Borrowed: valid until the thread's next libxl call. */
const char *xen_log_last_error(void);
