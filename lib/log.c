/* Per-module log levels and the line format (see log.h). */
#include "log.h"

#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "util.h"

#define MAX_OVERRIDES 32

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static int default_level = LOG_INFO;
static struct {
    char module[32];
    int level;
} overrides[MAX_OVERRIDES];
static int n_overrides;
static __thread const char *request_id;

static const char *const names[] = {[LOG_ERR] = "err",
                                    [LOG_WARN] = "warn",
                                    [LOG_NOTICE] = "notice",
                                    [LOG_INFO] = "info",
                                    [LOG_DEBUG] = "debug"};

void log_set_request_id(const char *id)
{
    request_id = id;
}

int log_level_from_name(const char *name)
{
    for (int i = LOG_ERR; i <= LOG_DEBUG; i++)
        if (streq(name, names[i]))
            return i;
    return -1;
}

const char *log_level_name(int level)
{
    return level >= LOG_ERR && level <= LOG_DEBUG ? names[level] : "?";
}

int log_set_level(const char *module, const char *level)
{
    int l = log_level_from_name(level);
    if (l < 0)
        return -EINVAL;
    pthread_mutex_lock(&lock);
    if (streq(module, "*")) {
        __atomic_store_n(&default_level, l, __ATOMIC_RELAXED);
        __atomic_store_n(&n_overrides, 0, __ATOMIC_RELEASE);
    } else {
        int i;
        for (i = 0; i < n_overrides; i++)
            if (streq(overrides[i].module, module))
                break;
        if (i < MAX_OVERRIDES)
            __atomic_store_n(&overrides[i].level, l, __ATOMIC_RELAXED);
        if (i == n_overrides && n_overrides < MAX_OVERRIDES) {
            snprintf(overrides[i].module, sizeof(overrides[i].module), "%s", module);
            __atomic_store_n(&n_overrides, n_overrides + 1, __ATOMIC_RELEASE);
        }
    }
    pthread_mutex_unlock(&lock);
    return 0;
}

int log_enabled(const char *module, int level)
{
    /* Read without the lock (this runs on every log call): a stale level
     * for one line is harmless, and the atomics keep the reads whole. */
    int l = __atomic_load_n(&default_level, __ATOMIC_RELAXED);
    int n = __atomic_load_n(&n_overrides, __ATOMIC_ACQUIRE);
    for (int i = 0; i < n; i++)
        if (streq(overrides[i].module, module)) {
            l = __atomic_load_n(&overrides[i].level, __ATOMIC_RELAXED);
            break;
        }
    return level <= l;
}

void log_emit(const char *module, int level, int errnum, const char *fmt, ...)
{
    char line[2048];
    char when[32];
    struct timespec ts;
    struct tm tm;
    va_list ap;

    clock_gettime(CLOCK_REALTIME, &ts);
    gmtime_r(&ts.tv_sec, &tm);
    strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%S", &tm);
    errno = errnum;
    va_start(ap, fmt);
    vsnprintf(line, sizeof(line), fmt, ap);
    va_end(ap);
    if (request_id)
        fprintf(stderr, "%s.%03ldZ %s %s [%s] %s\n", when, ts.tv_nsec / 1000000,
                log_level_name(level), module, request_id, line);
    else
        fprintf(stderr, "%s.%03ldZ %s %s %s\n", when, ts.tv_nsec / 1000000, log_level_name(level),
                module, line);
}
