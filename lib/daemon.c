/* The signal mask, the stop wait and the socket set-up of the agent
 * daemons (see daemon.h). */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "lib/cleanup.h"
#include "lib/daemon.h"
#include "lib/util.h"

static void stop_signals(sigset_t *sigs)
{
    sigemptyset(sigs);
    sigaddset(sigs, SIGINT);
    sigaddset(sigs, SIGTERM);
}

void daemon_block_signals(void)
{
    sigset_t sigs;

    stop_signals(&sigs);
    pthread_sigmask(SIG_BLOCK, &sigs, NULL);
    signal(SIGPIPE, SIG_IGN);
}

/* Runs in the child of fork(): sigprocmask is async-signal-safe. */
static void unblock_in_child(void)
{
    sigset_t sigs;

    stop_signals(&sigs);
    sigprocmask(SIG_UNBLOCK, &sigs, NULL);
}

void daemon_unblock_signals_in_children(void)
{
    pthread_atfork(NULL, NULL, unblock_in_child);
}

int daemon_wait_for_stop(void)
{
    sigset_t sigs;

    stop_signals(&sigs);
    for (;;) {
        int sig = sigwaitinfo(&sigs, NULL);
        if (sig == SIGINT || sig == SIGTERM)
            return sig;
    }
}

int daemon_wait_for_stop_timeout(unsigned seconds)
{
    struct timespec ts = {(time_t)seconds, 0};
    sigset_t sigs;

    stop_signals(&sigs);
    int sig = sigtimedwait(&sigs, NULL, &ts);
    return sig == SIGINT || sig == SIGTERM ? sig : 0;
}

int daemon_make_parent_dir(const char *path, mode_t mode)
{
    _cleanup_free_ char *dir = xstrdup(path);
    char *slash = strrchr(dir, '/');

    if (!slash || slash == dir)
        return 0;
    *slash = '\0';
    if (mkdir(dir, mode) < 0 && errno != EEXIST)
        return -errno;
    return 0;
}

int daemon_serve(const char *socket, const struct jsonrpc_method *methods, const char *version,
                 void *userdata, struct jsonrpc_server **ret)
{
    /* A folder that cannot be made shows as the server's own error. */
    (void)daemon_make_parent_dir(socket, 0755);
    return jsonrpc_server_start(socket, methods, version, userdata, ret);
}
