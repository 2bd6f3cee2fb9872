/* Tests of the password checks: crypt(3) hashes in a credentials file, and
 * the PAM path refusing what it cannot vouch for. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "lib/log.h"
#include "xapi-c/auth.h"

static char path[] = "/tmp/xenia-test-auth-XXXXXX";

static int setup(void **state)
{
    (void)state;
    int fd = mkstemp(path);
    if (fd < 0)
        return -1;
    char *h = auth_hash_password("s3cret");
    if (!h)
        return -1;
    dprintf(fd, "# a comment line\nalice:%s\nroot:%s\n", h, h);
    free(h);
    close(fd);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    unlink(path);
    return 0;
}

static void test_hash_is_sha512_crypt(void **state)
{
    (void)state;
    char *h = auth_hash_password("x");
    assert_non_null(h);
    assert_memory_equal(h, "$6$", 3);
    char *h2 = auth_hash_password("x");
    assert_string_not_equal(h, h2); /* a fresh salt each time */
    free(h);
    free(h2);
}

static void test_right_password_passes(void **state)
{
    (void)state;
    assert_int_equal(auth_check_password(path, "root", "s3cret"), 0);
    assert_int_equal(auth_check_password(path, "alice", "s3cret"), 0);
}

static void test_wrong_password_is_refused(void **state)
{
    (void)state;
    assert_int_equal(auth_check_password(path, "root", "S3cret"), -EACCES);
    assert_int_equal(auth_check_password(path, "root", ""), -EACCES);
}

static void test_unknown_user_is_refused(void **state)
{
    (void)state;
    assert_int_equal(auth_check_password(path, "bob", "s3cret"), -ENOENT);
}

static void test_missing_file_is_an_error(void **state)
{
    (void)state;
    assert_int_equal(auth_check_password("/nonexistent/credentials", "root", "x"), -ENOENT);
}

static void test_pam_refuses_an_unknown_user(void **state)
{
    (void)state;
    int r = auth_check_password(NULL, "no-such-user-xenia-test", "x");
    assert_true(r < 0);
}

int main(void)
{
    log_set_level("*", "err");
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_hash_is_sha512_crypt),
        cmocka_unit_test(test_right_password_passes),
        cmocka_unit_test(test_wrong_password_is_refused),
        cmocka_unit_test(test_unknown_user_is_refused),
        cmocka_unit_test(test_missing_file_is_an_error),
        cmocka_unit_test(test_pam_refuses_an_unknown_user),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
