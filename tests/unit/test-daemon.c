/* Unit tests for lib/daemon: the stop signals are held for the main thread
 * and given back to forked children, SIGPIPE is ignored, the stop wait
 * returns the signal, and the server is started in a folder made for it. */
#include <errno.h>
#include <json-c/json.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "lib/daemon.h"
#include "lib/jsonrpc.h"
#include "lib/util.h"

static char tmpdir[64];

static int make_tmpdir(void **state)
{
    (void)state;
    snprintf(tmpdir, sizeof(tmpdir), "/tmp/test-daemon-XXXXXX");
    assert_non_null(mkdtemp(tmpdir));
    daemon_block_signals();
    return 0;
}

static int remove_tmpdir(void **state)
{
    (void)state;
    char *cmd = xasprintf("rm -rf '%s'", tmpdir);
    int r = system(cmd);
    free(cmd);
    return r == 0 ? 0 : -1;
}

static bool blocked(int sig)
{
    sigset_t now;

    pthread_sigmask(SIG_BLOCK, NULL, &now);
    return sigismember(&now, sig) == 1;
}

static void test_daemon_blocks_stop_signals_and_ignores_sigpipe(void **state)
{
    (void)state;
    struct sigaction sa;

    assert_true(blocked(SIGINT));
    assert_true(blocked(SIGTERM));
    assert_int_equal(sigaction(SIGPIPE, NULL, &sa), 0);
    assert_true(sa.sa_handler == SIG_IGN);
}

static void test_daemon_wait_returns_pending_sigterm(void **state)
{
    (void)state;
    raise(SIGTERM);
    assert_int_equal(daemon_wait_for_stop(), SIGTERM);
}

static void test_daemon_wait_returns_pending_sigint(void **state)
{
    (void)state;
    raise(SIGINT);
    assert_int_equal(daemon_wait_for_stop(), SIGINT);
}

static void test_daemon_wait_with_timeout_returns_0_without_signal(void **state)
{
    (void)state;
    assert_int_equal(daemon_wait_for_stop_timeout(0), 0);
}

static void test_daemon_wait_with_timeout_returns_pending_signal(void **state)
{
    (void)state;
    raise(SIGTERM);
    assert_int_equal(daemon_wait_for_stop_timeout(0), SIGTERM);
    assert_int_equal(daemon_wait_for_stop_timeout(0), 0);
}

static void test_daemon_children_get_stop_signals_back(void **state)
{
    (void)state;
    int status;

    daemon_unblock_signals_in_children();
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0)
        _exit(!blocked(SIGTERM) && !blocked(SIGINT) ? 0 : 1);
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFEXITED(status));
    assert_int_equal(WEXITSTATUS(status), 0);
    /* The parent keeps them blocked. */
    assert_true(blocked(SIGTERM));
}

static void test_daemon_make_parent_dir_makes_one_level(void **state)
{
    (void)state;
    char *path = xasprintf("%s/run/x.sock", tmpdir);
    char *dir = xasprintf("%s/run", tmpdir);
    struct stat st;

    assert_int_equal(daemon_make_parent_dir(path, 0750), 0);
    assert_int_equal(stat(dir, &st), 0);
    assert_true(S_ISDIR(st.st_mode));
    assert_int_equal(daemon_make_parent_dir(path, 0750), 0); /* already there */
    free(path);
    free(dir);
}

static void test_daemon_make_parent_dir_needs_the_grandparent(void **state)
{
    (void)state;
    char *path = xasprintf("%s/a/b/x.sock", tmpdir);

    assert_int_equal(daemon_make_parent_dir(path, 0755), -ENOENT);
    free(path);
}

static void test_daemon_make_parent_dir_of_top_level_names_is_a_no_op(void **state)
{
    (void)state;
    assert_int_equal(daemon_make_parent_dir("x.sock", 0755), 0);
    assert_int_equal(daemon_make_parent_dir("/x.sock", 0755), 0);
}

static void test_daemon_serve_answers_in_a_new_folder(void **state)
{
    (void)state;
    char *path = xasprintf("%s/serve/d.sock", tmpdir);
    struct jsonrpc_server *server = NULL;
    json_object *result = NULL;

    assert_int_equal(daemon_serve(path, NULL, "9.8.7", NULL, &server), 0);
    struct jsonrpc_client *c = jsonrpc_client_new(path);
    assert_int_equal(jsonrpc_call(c, "version", NULL, 10, &result, NULL), 0);
    json_object *v = NULL;
    assert_true(json_object_object_get_ex(result, "version", &v));
    assert_string_equal(json_object_get_string(v), "9.8.7");
    json_object_put(result);
    jsonrpc_client_free(c);
    jsonrpc_server_stop(server);
    assert_int_equal(access(path, F_OK), -1);
    free(path);
}

static void test_daemon_serve_fails_where_no_folder_can_be_made(void **state)
{
    (void)state;
    char *path = xasprintf("%s/no/such/d.sock", tmpdir);
    struct jsonrpc_server *server = NULL;

    assert_true(daemon_serve(path, NULL, "1", NULL, &server) < 0);
    assert_null(server);
    free(path);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_daemon_blocks_stop_signals_and_ignores_sigpipe),
        cmocka_unit_test(test_daemon_wait_returns_pending_sigterm),
        cmocka_unit_test(test_daemon_wait_returns_pending_sigint),
        cmocka_unit_test(test_daemon_wait_with_timeout_returns_0_without_signal),
        cmocka_unit_test(test_daemon_wait_with_timeout_returns_pending_signal),
        cmocka_unit_test(test_daemon_children_get_stop_signals_back),
        cmocka_unit_test(test_daemon_make_parent_dir_makes_one_level),
        cmocka_unit_test(test_daemon_make_parent_dir_needs_the_grandparent),
        cmocka_unit_test(test_daemon_make_parent_dir_of_top_level_names_is_a_no_op),
        cmocka_unit_test(test_daemon_serve_answers_in_a_new_folder),
        cmocka_unit_test(test_daemon_serve_fails_where_no_folder_can_be_made),
    };
    return cmocka_run_group_tests(tests, make_tmpdir, remove_tmpdir);
}
