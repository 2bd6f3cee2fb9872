/* Unit tests of storaged's tool runner (storaged/exec.c) as far as the
 * import through NBD needs it: a listening socket handed to the child by
 * socket activation (descriptor 3, LISTEN_FDS=1, LISTEN_PID the child's
 * own pid), and nothing of the kind otherwise. The child is sh. */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cmocka.h>

#include "storaged/exec.h"

/* Prints what socket activation tells the shell, and whether its
 * descriptor 3 is a socket (its /proc link names one). */
static const char *const SCRIPT[] = {
    "sh", "-c",
    "echo \"fds=$LISTEN_FDS pid=$LISTEN_PID self=$$\"; "
    "case $(readlink /proc/$$/fd/3 2>/dev/null) in socket:*) echo sock;; *) echo none;; esac",
    NULL};

static int listening_socket(void)
{
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

    assert_true(fd >= 0);
    /* An autobound abstract name is enough to listen on. */
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    assert_int_equal(bind(fd, (struct sockaddr *)&sa, sizeof(sa_family_t)), 0);
    assert_int_equal(listen(fd, 1), 0);
    return fd;
}

static void test_listen_fd_is_given_by_socket_activation(void **state)
{
    int l = listening_socket();
    char *out = NULL;
    unsigned long fds = 0, pid = 0, self = 1;

    (void)state;
    /* Put it above 3 so that the runner has to move it there. */
    int high = fcntl(l, F_DUPFD_CLOEXEC, 10);
    assert_true(high >= 10);
    struct exec_opts opts = {.listen_fd = high};
    assert_int_equal(exec_run(SCRIPT, &opts, &out, NULL), 0);
    assert_non_null(out);
    assert_int_equal(sscanf(out, "fds=%lu pid=%lu self=%lu", &fds, &pid, &self), 3);
    assert_int_equal(fds, 1);
    assert_int_equal(pid, self);
    assert_non_null(strstr(out, "\nsock\n"));
    free(out);
    close(high);
    close(l);
}

static void test_without_listen_fd_nothing_is_given(void **state)
{
    char *out = NULL;

    (void)state;
    /* Descriptor 3 may be anything the test runner left open (make's
     * jobserver): only the variables say there is no activation. */
    unsetenv("LISTEN_FDS");
    unsetenv("LISTEN_PID");
    assert_int_equal(exec_run(SCRIPT, NULL, &out, NULL), 0);
    assert_non_null(out);
    assert_non_null(strstr(out, "fds= pid= "));
    free(out);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_listen_fd_is_given_by_socket_activation),
        cmocka_unit_test(test_without_listen_fd_nothing_is_given),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
