/* Logging with a level per module, settable at run time. Each source file
 * names its module once with LOG_MODULE("name"); every line carries the
 * module and, when set, the id of the request being served, so a request
 * can be followed through the log. Lines go to stderr (the journal picks
 * them up under systemd). Never log a secret: passwords, the pool secret or
 * session references. */
#pragma once

#include <errno.h>

enum log_level { LOG_ERR = 3, LOG_WARN = 4, LOG_NOTICE = 5, LOG_INFO = 6, LOG_DEBUG = 7 };

#define LOG_MODULE(name) static const char log_module_[] __attribute__((unused)) = name

/* The request id of the calling thread, or NULL. Borrowed: the caller keeps
 * the string alive while it is set. */
void log_set_request_id(const char *id);

/* Sets the level of one module ("*" for the default of all). Returns 0, or
 * -EINVAL for an unknown level name. */
int log_set_level(const char *module, const char *level);
/* Parses "err", "warn", "notice", "info" or "debug"; -1 if none. */
int log_level_from_name(const char *name);
const char *log_level_name(int level);

int log_enabled(const char *module, int level);
void log_emit(const char *module, int level, int errnum, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

#define log_full(level, errnum, ...)                                                               \
    ({                                                                                             \
        int _e = (errnum);                                                                         \
        if (log_enabled(log_module_, level))                                                       \
            log_emit(log_module_, level, _e < 0 ? -_e : _e, __VA_ARGS__);                          \
        _e < 0 ? _e : -_e;                                                                         \
    })

#define log_error(...) log_full(LOG_ERR, 0, __VA_ARGS__)
#define log_warning(...) log_full(LOG_WARN, 0, __VA_ARGS__)
#define log_notice(...) log_full(LOG_NOTICE, 0, __VA_ARGS__)
#define log_info(...) log_full(LOG_INFO, 0, __VA_ARGS__)
#define log_debug(...) log_full(LOG_DEBUG, 0, __VA_ARGS__)
/* Logs with %m bound to -r (or r), and returns -|r|: the one idiom that both
 * logs and returns an error. */
#define log_error_errno(r, ...) log_full(LOG_ERR, r, __VA_ARGS__)
#define log_warning_errno(r, ...) log_full(LOG_WARN, r, __VA_ARGS__)
