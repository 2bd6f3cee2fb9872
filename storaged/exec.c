/* fork/exec of external tools with their output captured (see exec.h). */
#include "storaged/exec.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include "lib/log.h"
#include "lib/strbuf.h"
#include "lib/util.h"

LOG_MODULE("exec");

#define MAX_CAPTURE (64 * 1024)

/* The environment of a child given a listening socket: environ with
 * LISTEN_FDS=1 and a LISTEN_PID slot that the child fills with its own pid
 * (only it knows it), made before fork since the child may not allocate. */
struct activation {
    char **envp;
    char pid[32];
};

static void activation_init(struct activation *a)
{
    size_t n = 0, k = 0;

    while (environ[n])
        n++;
    a->envp = xcalloc(n + 3, sizeof(*a->envp));
    for (size_t i = 0; i < n; i++)
        if (strncmp(environ[i], "LISTEN_", 7) != 0)
            a->envp[k++] = environ[i];
    a->envp[k++] = (char *)"LISTEN_FDS=1";
    a->envp[k++] = a->pid;
}

/* Writes LISTEN_PID=<pid> into the slot with async-signal-safe code. */
static void activation_fill(struct activation *a, pid_t pid)
{
    char digits[16];
    size_t n = 0, k = 0;

    do
        digits[n++] = (char)('0' + pid % 10);
    while ((pid /= 10) > 0 && n < sizeof(digits));
    memcpy(a->pid, "LISTEN_PID=", 11);
    k = 11;
    while (n > 0)
        a->pid[k++] = digits[--n];
    a->pid[k] = '\0';
}

/* In the child, between fork and exec: only async-signal-safe calls. */
static void child(const char *const *argv, int in, int out, int err, pid_t parent, int listen,
                  struct activation *act)
{
    sigset_t none;
    int null = in > 0 ? in : open("/dev/null", O_RDONLY);

    prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (getppid() != parent)
        _exit(127);
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, NULL);
    signal(SIGPIPE, SIG_DFL);
    if (null >= 0)
        dup2(null, 0);
    dup2(out, 1);
    dup2(err, 2);
    if (listen > 0) {
        /* dup2 onto itself would keep close-on-exec. */
        if (listen == 3)
            fcntl(3, F_SETFD, 0);
        else
            dup2(listen, 3);
        activation_fill(act, getpid());
        execvpe(argv[0], (char *const *)argv, act->envp);
        _exit(127);
    }
    execvp(argv[0], (char *const *)argv);
    _exit(127);
}

static void close_pair(int p[2])
{
    for (int i = 0; i < 2; i++)
        if (p[i] >= 0)
            close(p[i]);
}

static void capture(struct strbuf *sb, const char *data, size_t len)
{
    if (sb->len < MAX_CAPTURE)
        strbuf_add(sb, data, len < MAX_CAPTURE - sb->len ? len : MAX_CAPTURE - sb->len);
}

int exec_run(const char *const *argv, const struct exec_opts *opts, char **ret_stdout,
             char **ret_stderr)
{
    int po[2], pe[2], status, r = 0;
    struct strbuf out, err;
    pid_t parent = getpid(), pid;

    int in_fd = opts ? opts->stdin_fd : 0, out_fd = opts ? opts->stdout_fd : 0;
    int listen_fd = opts ? opts->listen_fd : 0;
    struct activation act = {0};

    po[0] = po[1] = -1;
    if (out_fd <= 0 && pipe2(po, O_CLOEXEC) < 0)
        return -errno;
    if (pipe2(pe, O_CLOEXEC) < 0) {
        r = -errno;
        close_pair(po);
        return r;
    }
    if (listen_fd > 0)
        activation_init(&act);
    pid = fork();
    if (pid < 0) {
        r = -errno;
        free(act.envp);
        close_pair(po);
        close_pair(pe);
        return r;
    }
    if (pid == 0)
        child(argv, in_fd, out_fd > 0 ? out_fd : po[1], pe[1], parent, listen_fd, &act);
    free(act.envp);
    if (po[1] >= 0)
        close(po[1]);
    close(pe[1]);

    strbuf_init(&out, 256);
    strbuf_init(&err, 256);
    struct pollfd fds[2] = {{.fd = po[0], .events = POLLIN}, {.fd = pe[0], .events = POLLIN}};
    int open_fds = po[0] >= 0 ? 2 : 1;
    while (open_fds > 0) {
        if (opts && opts->cancelled && opts->cancelled(opts->userdata)) {
            kill(pid, SIGKILL);
            r = -ECANCELED;
            break;
        }
        int n = poll(fds, 2, 100);
        if (n < 0 && errno != EINTR)
            break;
        for (int i = 0; i < 2 && n > 0; i++) {
            char buf[4096];
            if (fds[i].fd < 0 || !(fds[i].revents & (POLLIN | POLLHUP | POLLERR)))
                continue;
            ssize_t got = read(fds[i].fd, buf, sizeof(buf));
            if (got < 0 && errno == EINTR)
                continue;
            if (got <= 0) {
                close(fds[i].fd);
                fds[i].fd = -1;
                open_fds--;
                continue;
            }
            if (i == 0) {
                capture(&out, buf, (size_t)got);
                if (opts && opts->on_stdout)
                    opts->on_stdout(buf, (size_t)got, opts->userdata);
            } else {
                capture(&err, buf, (size_t)got);
            }
        }
    }
    for (int i = 0; i < 2; i++)
        if (fds[i].fd >= 0)
            close(fds[i].fd);
    while (waitpid(pid, &status, 0) < 0)
        if (errno != EINTR) {
            status = 127 << 8;
            break;
        }
    if (r == 0)
        r = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    log_debug("%s exited: %d", argv[0], r);
    if (ret_stdout)
        *ret_stdout = strbuf_detach(&out, NULL);
    else
        strbuf_done(&out);
    if (ret_stderr)
        *ret_stderr = strbuf_detach(&err, NULL);
    else
        strbuf_done(&err);
    return r;
}

char *exec_summary(const char *text)
{
    struct strbuf sb;

    strbuf_init(&sb, 128);
    for (const char *p = text; *p && sb.len < 1000;) {
        size_t n = strcspn(p, "\r\n");
        const char *s = p, *e = p + n;
        while (s < e && (*s == ' ' || *s == '\t'))
            s++;
        while (e > s && (e[-1] == ' ' || e[-1] == '\t'))
            e--;
        if (e > s) {
            if (sb.len)
                strbuf_adds(&sb, "; ");
            strbuf_add(&sb, s, (size_t)(e - s) < 1000 ? (size_t)(e - s) : 1000);
        }
        p += n;
        p += strspn(p, "\r\n");
    }
    return strbuf_detach(&sb, NULL);
}
