/* Unit tests for lib/options: defaults, environment variables and arguments
 * in that order, each kind's checks and error lines, --help, and the usage
 * text derived from the table. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "lib/log.h"
#include "lib/options.h"
#include "lib/util.h"

struct config {
    char *socket, *name, *mode, *remote;
    int count;
    int64_t size;
    double delay;
    bool force;
};

static struct config cfg;

static bool remote_valid(const char *value)
{
    return strncmp(value, "unix:", 5) == 0;
}

static const struct option_def table[] = {
    {.name = "socket",
     OPT_PATH(&cfg.socket),
     .help = "the socket",
     .def = "/run/t.sock",
     .env = "TEST_OPTIONS_SOCKET"},
    {.name = "name",
     OPT_STRING(&cfg.name),
     .help = "a name",
     .def = "nobody",
     .env = "TEST_OPTIONS_NAME",
     .env_empty = true},
    {.name = "mode",
     OPT_CHOICE(&cfg.mode, "fast", "slow", "off"),
     .help = "the mode",
     .def = "fast"},
    {.name = "remote",
     OPT_STRING(&cfg.remote),
     .arg = "REMOTE",
     .help = "the remote",
     .valid = remote_valid,
     .valid_text = "unix:PATH"},
    {.name = "count", OPT_INT(&cfg.count, 1, 10), .help = "how many", .def = "3"},
    {.name = "size", OPT_SIZE(&cfg.size), .help = "how much", .def_text = "all of it"},
    {.name = "delay",
     OPT_DOUBLE(&cfg.delay, 0, 60),
     .help = "seconds to wait",
     .def = "5",
     .env = "TEST_OPTIONS_DELAY"},
    {.name = "force", OPT_FLAG(&cfg.force), .help = "do it anyway"},
    OPTIONS_LOG_LEVEL,
    {0},
};

static const struct options_spec spec = {
    .program = "prog",
    .also = (const char *const[]){"dump < file", NULL},
    .options = table,
};

static char out[4096], err[4096]; /* what the last parse wrote to stdout, stderr */

/* Points file descriptor fd at a temporary file until release_fd, which
 * puts the file's text in buf. */
static void catch_fd(int fd, FILE *stream, FILE **ret_tmp, int *ret_saved)
{
    FILE *f = tmpfile();
    assert_non_null(f);
    fflush(stream);
    *ret_saved = dup(fd);
    dup2(fileno(f), fd);
    *ret_tmp = f;
}

static void release_fd(int fd, FILE *stream, char *buf, size_t size, FILE *tmp, int saved)
{
    fflush(stream);
    dup2(saved, fd);
    close(saved);
    rewind(tmp);
    size_t n = fread(buf, 1, size - 1, tmp);
    buf[n] = '\0';
    fclose(tmp);
}

/* Parses the NULL-terminated arguments after "prog", with stdout caught in
 * out and stderr in err. Returns what options_parse returns. */
static int parse(const char *first, ...)
{
    char *argv[32] = {xstrdup("prog")};
    int argc = 1, r;
    va_list ap;

    va_start(ap, first);
    for (const char *a = first; a; a = va_arg(ap, const char *)) {
        assert_true(argc < 31);
        argv[argc++] = xstrdup(a);
    }
    va_end(ap);

    FILE *tmp_out, *tmp_err;
    int saved_out, saved_err;
    catch_fd(1, stdout, &tmp_out, &saved_out);
    catch_fd(2, stderr, &tmp_err, &saved_err);
    r = options_parse(&spec, argc, argv);
    release_fd(2, stderr, err, sizeof(err), tmp_err, saved_err);
    release_fd(1, stdout, out, sizeof(out), tmp_out, saved_out);
    for (int i = 0; i < argc; i++)
        free(argv[i]);
    return r;
}

static char *usage_text(void)
{
    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);

    assert_non_null(f);
    options_usage(&spec, f);
    fclose(f);
    return text;
}

static int reset(void **state)
{
    (void)state;
    options_done(&spec);
    memset(&cfg, 0, sizeof(cfg));
    unsetenv("TEST_OPTIONS_SOCKET");
    unsetenv("TEST_OPTIONS_DELAY");
    unsetenv("TEST_OPTIONS_NAME");
    log_set_level("*", "notice");
    return 0;
}

static void test_options_defaults_without_arguments(void **state)
{
    (void)state;
    assert_int_equal(parse(NULL), 0);
    assert_string_equal(cfg.socket, "/run/t.sock");
    assert_string_equal(cfg.name, "nobody");
    assert_string_equal(cfg.mode, "fast");
    assert_int_equal(cfg.count, 3);
    assert_int_equal(cfg.size, 0);
    assert_true(cfg.delay == 5.0);
    assert_false(cfg.force);
    assert_string_equal(err, "");
}

static void test_options_arguments_replace_defaults(void **state)
{
    (void)state;
    assert_int_equal(parse("--socket", "/tmp/x.sock", "--name=n1", "--mode", "off", "--count", "10",
                           "--size", "7", "--delay", "0.5", "--force", NULL),
                     0);
    assert_string_equal(cfg.socket, "/tmp/x.sock");
    assert_string_equal(cfg.name, "n1");
    assert_string_equal(cfg.mode, "off");
    assert_int_equal(cfg.count, 10);
    assert_int_equal(cfg.size, 7);
    assert_true(cfg.delay == 0.5);
    assert_true(cfg.force);
}

static void test_options_last_repeated_option_wins(void **state)
{
    (void)state;
    assert_int_equal(parse("--name", "a", "--name", "b", NULL), 0);
    assert_string_equal(cfg.name, "b");
}

static void test_options_environment_replaces_default(void **state)
{
    (void)state;
    setenv("TEST_OPTIONS_SOCKET", "/env.sock", 1);
    setenv("TEST_OPTIONS_DELAY", "12", 1);
    assert_int_equal(parse(NULL), 0);
    assert_string_equal(cfg.socket, "/env.sock");
    assert_true(cfg.delay == 12.0);
}

static void test_options_argument_replaces_environment(void **state)
{
    (void)state;
    setenv("TEST_OPTIONS_SOCKET", "/env.sock", 1);
    assert_int_equal(parse("--socket", "/arg.sock", NULL), 0);
    assert_string_equal(cfg.socket, "/arg.sock");
}

static void test_options_empty_environment_keeps_default(void **state)
{
    (void)state;
    setenv("TEST_OPTIONS_SOCKET", "", 1);
    assert_int_equal(parse(NULL), 0);
    assert_string_equal(cfg.socket, "/run/t.sock");
}

static void test_options_empty_environment_counts_where_asked(void **state)
{
    (void)state;
    setenv("TEST_OPTIONS_NAME", "", 1);
    assert_int_equal(parse(NULL), 0);
    assert_string_equal(cfg.name, "");
}

static void test_options_bad_environment_is_an_error(void **state)
{
    (void)state;
    setenv("TEST_OPTIONS_DELAY", "soon", 1);
    assert_int_equal(parse(NULL), -EINVAL);
    assert_string_equal(err, "prog: TEST_OPTIONS_DELAY takes 0..60, not soon\n");
}

static void test_options_relative_path_is_refused(void **state)
{
    (void)state;
    assert_int_equal(parse("--socket", "t.sock", NULL), -EINVAL);
    assert_string_equal(err, "prog: t.sock must be an absolute path\n");
}

static void test_options_int_out_of_range_is_refused(void **state)
{
    (void)state;
    assert_int_equal(parse("--count", "11", NULL), -EINVAL);
    assert_string_equal(err, "prog: --count takes 1..10, not 11\n");
    assert_int_equal(parse("--count", "0", NULL), -EINVAL);
}

static void test_options_int_with_junk_is_refused(void **state)
{
    (void)state;
    assert_int_equal(parse("--count", "3x", NULL), -EINVAL);
    assert_int_equal(parse("--count", "", NULL), -EINVAL);
    assert_int_equal(parse("--count", "99999999999999999999", NULL), -EINVAL);
}

static void test_options_size_suffixes_are_binary(void **state)
{
    (void)state;
    assert_int_equal(parse("--size", "4K", NULL), 0);
    assert_int_equal(cfg.size, 4096);
    assert_int_equal(parse("--size", "3m", NULL), 0);
    assert_int_equal(cfg.size, 3 * 1024 * 1024);
    assert_int_equal(parse("--size", "2G", NULL), 0);
    assert_int_equal(cfg.size, 2LL << 30);
    assert_int_equal(parse("--size", "1t", NULL), 0);
    assert_int_equal(cfg.size, 1LL << 40);
}

static void test_options_bad_size_is_refused(void **state)
{
    (void)state;
    assert_int_equal(parse("--size", "0", NULL), -EINVAL);
    assert_string_equal(err, "prog: --size takes bytes, not 0\n");
    assert_int_equal(parse("--size", "K", NULL), -EINVAL);
    assert_int_equal(parse("--size", "5X", NULL), -EINVAL);
    assert_int_equal(parse("--size", "", NULL), -EINVAL);
    assert_int_equal(parse("--size", "9000000T", NULL), -EINVAL);
    assert_int_equal(parse("--size", "-1K", NULL), -EINVAL);
}

static void test_options_double_not_a_number_is_refused(void **state)
{
    (void)state;
    assert_int_equal(parse("--delay", "nan", NULL), -EINVAL);
    assert_int_equal(parse("--delay", "61", NULL), -EINVAL);
    assert_int_equal(parse("--delay", "1s", NULL), -EINVAL);
}

static void test_options_unknown_choice_names_the_choices(void **state)
{
    (void)state;
    assert_int_equal(parse("--mode", "medium", NULL), -EINVAL);
    assert_string_equal(err, "prog: --mode is fast, slow or off, not medium\n");
}

static void test_options_check_refuses_with_its_text(void **state)
{
    (void)state;
    assert_int_equal(parse("--remote", "tcp:1.2.3.4:6640", NULL), -EINVAL);
    assert_string_equal(err, "prog: --remote takes unix:PATH, not tcp:1.2.3.4:6640\n");
    assert_int_equal(parse("--remote", "unix:/x", NULL), 0);
    assert_string_equal(cfg.remote, "unix:/x");
}

static void test_options_log_level_takes_effect(void **state)
{
    (void)state;
    assert_false(log_enabled("anything", LOG_DEBUG));
    assert_int_equal(parse("--log-level", "debug", NULL), 0);
    assert_true(log_enabled("anything", LOG_DEBUG));
}

static void test_options_unknown_log_level_is_refused(void **state)
{
    (void)state;
    assert_int_equal(parse("--log-level", "loud", NULL), -EINVAL);
    assert_string_equal(err, "prog: unknown log level loud\n");
}

static void test_options_unexpected_argument_is_refused(void **state)
{
    (void)state;
    assert_int_equal(parse("--count", "2", "extra", NULL), -EINVAL);
    assert_string_equal(err, "prog: unexpected argument extra\n");
}

static void test_options_unknown_option_prints_usage(void **state)
{
    (void)state;
    assert_int_equal(parse("--bogus", NULL), -EINVAL);
    assert_non_null(strstr(err, "'--bogus'"));
    assert_non_null(strstr(err, "Usage: prog [OPTIONS]\n"));
    assert_string_equal(out, "");
}

static void test_options_missing_argument_is_refused(void **state)
{
    (void)state;
    assert_int_equal(parse("--name", NULL), -EINVAL);
    assert_non_null(strstr(err, "Usage: prog"));
}

static void test_options_help_asks_to_exit(void **state)
{
    (void)state;
    assert_int_equal(parse("--help", NULL), OPTIONS_HELP);
    assert_non_null(strstr(out, "Usage: prog [OPTIONS]\n"));
    assert_int_equal(parse("-h", NULL), OPTIONS_HELP);
    assert_non_null(strstr(out, "  --help "));
    assert_string_equal(err, "");
}

static void test_options_usage_derives_lines_from_table(void **state)
{
    (void)state;
    char *u = usage_text();

    assert_non_null(strstr(u, "Usage: prog [OPTIONS]\n       prog dump < file\n\n"));
    assert_non_null(
        strstr(u, "  --socket PATH         the socket (TEST_OPTIONS_SOCKET; /run/t.sock)\n"));
    assert_non_null(strstr(u, "  --mode fast|slow|off  the mode (fast)\n"));
    assert_non_null(strstr(u, "  --remote REMOTE       the remote\n"));
    assert_non_null(strstr(u, "  --size BYTES          how much (all of it)\n"));
    assert_non_null(strstr(u, "  --force               do it anyway\n"));
    assert_non_null(strstr(u, "  --log-level LEVEL     err, warn, notice, info, debug\n"));
    assert_non_null(strstr(u, "  --help                this text\n"));
    free(u);
}

static void test_options_usage_wraps_long_help(void **state)
{
    (void)state;
    static char *target;
    static const char long_help[] = "one two three four five six seven eight nine ten eleven "
                                    "twelve thirteen fourteen fifteen sixteen seventeen";
    const struct option_def t[] = {{.name = "x", OPT_STRING(&target), .help = long_help}, {0}};
    const struct options_spec s = {.program = "p", .options = t};
    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);

    options_usage(&s, f);
    fclose(f);
    for (char *line = text, *nl; (nl = strchr(line, '\n')); line = nl + 1)
        assert_true(nl - line <= 79);
    assert_non_null(strstr(text, "  --x TEXT  one two"));
    assert_non_null(strstr(text, "\n            "));
    free(text);
}

static void test_options_failure_frees_what_it_set(void **state)
{
    (void)state;
    assert_int_equal(parse("--name", "n", "--count", "99", NULL), -EINVAL);
    assert_null(cfg.socket);
    assert_null(cfg.name);
    assert_null(cfg.mode);
}

static void test_options_help_frees_what_it_set(void **state)
{
    (void)state;
    assert_int_equal(parse("--name", "n", "--help", NULL), OPTIONS_HELP);
    assert_null(cfg.name);
    assert_null(cfg.socket);
}

static void test_options_done_frees_and_clears_strings(void **state)
{
    (void)state;
    assert_int_equal(parse("--name", "n", NULL), 0);
    options_done(&spec);
    assert_null(cfg.socket);
    assert_null(cfg.name);
    assert_null(cfg.mode);
    assert_int_equal(cfg.count, 3);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_teardown(test_options_defaults_without_arguments, reset),
        cmocka_unit_test_teardown(test_options_arguments_replace_defaults, reset),
        cmocka_unit_test_teardown(test_options_last_repeated_option_wins, reset),
        cmocka_unit_test_teardown(test_options_environment_replaces_default, reset),
        cmocka_unit_test_teardown(test_options_argument_replaces_environment, reset),
        cmocka_unit_test_teardown(test_options_empty_environment_keeps_default, reset),
        cmocka_unit_test_teardown(test_options_empty_environment_counts_where_asked, reset),
        cmocka_unit_test_teardown(test_options_bad_environment_is_an_error, reset),
        cmocka_unit_test_teardown(test_options_relative_path_is_refused, reset),
        cmocka_unit_test_teardown(test_options_int_out_of_range_is_refused, reset),
        cmocka_unit_test_teardown(test_options_int_with_junk_is_refused, reset),
        cmocka_unit_test_teardown(test_options_size_suffixes_are_binary, reset),
        cmocka_unit_test_teardown(test_options_bad_size_is_refused, reset),
        cmocka_unit_test_teardown(test_options_double_not_a_number_is_refused, reset),
        cmocka_unit_test_teardown(test_options_unknown_choice_names_the_choices, reset),
        cmocka_unit_test_teardown(test_options_check_refuses_with_its_text, reset),
        cmocka_unit_test_teardown(test_options_log_level_takes_effect, reset),
        cmocka_unit_test_teardown(test_options_unknown_log_level_is_refused, reset),
        cmocka_unit_test_teardown(test_options_unexpected_argument_is_refused, reset),
        cmocka_unit_test_teardown(test_options_unknown_option_prints_usage, reset),
        cmocka_unit_test_teardown(test_options_missing_argument_is_refused, reset),
        cmocka_unit_test_teardown(test_options_help_asks_to_exit, reset),
        cmocka_unit_test_teardown(test_options_usage_derives_lines_from_table, reset),
        cmocka_unit_test_teardown(test_options_usage_wraps_long_help, reset),
        cmocka_unit_test_teardown(test_options_failure_frees_what_it_set, reset),
        cmocka_unit_test_teardown(test_options_help_frees_what_it_set, reset),
        cmocka_unit_test_teardown(test_options_done_frees_and_clears_strings, reset),
    };
    return cmocka_run_group_tests(tests, NULL, reset);
}
