/* Unit tests of the header of the xen backend's suspend images
 * (hypervisor/xen-image.c): a configuration written is read back whole;
 * the reader stops exactly at the end of the header, where libxl's save
 * stream begins; and a file that is not an image (another format, a later
 * version, cut short, with a bad configuration) is a BACKEND_FAILURE that
 * names the file. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "hypervisor/backend.h"
#include "hypervisor/xen-image.h"
#include "lib/util.h"

#define STREAM "LibxlFmt stream bytes"

struct fx {
    char path[64];
};

static int setup(void **state)
{
    struct fx *f = calloc(1, sizeof(*f));
    snprintf(f->path, sizeof(f->path), "/tmp/test-xen-image-XXXXXX");
    int fd = mkstemp(f->path);
    assert_true(fd >= 0);
    close(fd);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fx *f = *state;
    unlink(f->path);
    free(f);
    return 0;
}

static void config_of(const char *json, struct dm_config *ret)
{
    json_object *o = json_tokener_parse(json);
    assert_non_null(o);
    assert_null(dm_config_from_json(o, ret));
    json_object_put(o);
}

static void write_text(const char *path, const char *text)
{
    int fd = open(path, O_WRONLY | O_TRUNC);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
    close(fd);
}

/* The read's error message (freed), which must name the file and why. */
static void assert_not_image(struct fx *f, const char *why)
{
    struct dm_config c;
    int fd = open(f->path, O_RDONLY);
    assert_true(fd >= 0);
    struct dm_error *e = xen_image_read_header(fd, f->path, &c);
    close(fd);
    assert_non_null(e);
    assert_int_equal(e->code, DM_ERR_BACKEND_FAILURE);
    if (!strstr(e->params[0], f->path) || !strstr(e->params[0], why))
        fail_msg("\"%s\" does not say %s", e->params[0], why);
    dm_error_free(e);
}

static void test_round_trip_stops_where_the_stream_starts(void **state)
{
    struct fx *f = *state;
    struct dm_config in, out;

    config_of("{\"name\":\"vm\",\"type\":\"pv\",\"memory_max\":268435456,"
              "\"memory_target\":134217728,\"vcpus_max\":2,\"vcpus\":1,"
              "\"kernel\":\"/boot/vmlinuz\",\"cmdline\":\"ro\",\"platform\":{\"nx\":\"true\"},"
              "\"disks\":[{\"device\":\"xvda\",\"target\":\"/dev/vg/lv\"}]}",
              &in);
    int fd = open(f->path, O_WRONLY | O_TRUNC);
    assert_int_equal(xen_image_write_header(fd, &in), 0);
    assert_int_equal(write(fd, STREAM, strlen(STREAM)), (ssize_t)strlen(STREAM));
    close(fd);

    fd = open(f->path, O_RDONLY);
    assert_null(xen_image_read_header(fd, f->path, &out));
    char rest[64] = {0};
    assert_int_equal(read(fd, rest, sizeof(rest) - 1), (ssize_t)strlen(STREAM));
    assert_string_equal(rest, STREAM);
    close(fd);

    assert_string_equal(out.name, "vm");
    assert_int_equal(out.type, DM_TYPE_PV);
    assert_int_equal(out.memory_max, 268435456);
    assert_int_equal(out.memory_target, 134217728);
    assert_int_equal(out.vcpus_max, 2);
    assert_int_equal(out.vcpus, 1);
    assert_string_equal(out.kernel, "/boot/vmlinuz");
    assert_string_equal(out.cmdline, "ro");
    assert_true(json_object_equal(out.platform, in.platform));
    assert_true(json_object_equal(out.disks, in.disks));
    assert_null(out.nics);
    dm_config_done(&in);
    dm_config_done(&out);
}

static void test_other_files_are_not_images(void **state)
{
    struct fx *f = *state;

    write_text(f->path, "");
    assert_not_image(f, "ends before its header");
    write_text(f->path, "{\"format\":\"xenia-sim-image\",\"version\":1}\n");
    assert_not_image(f, "no header line");
    write_text(f->path, "xenia-xen-image 2 10\n{\"config\":");
    assert_not_image(f, "unknown version");
    write_text(f->path, "xenia-xen-image 1 0\n");
    assert_not_image(f, "bad length");
    write_text(f->path, "xenia-xen-image 1 99999999999\n");
    assert_not_image(f, "bad length");
    write_text(f->path, "xenia-xen-image 1 40\n{\"config\":{}}");
    assert_not_image(f, "ends inside its configuration");
    write_text(f->path, "xenia-xen-image 1 5\n{\"con");
    assert_not_image(f, "not valid JSON");
    write_text(f->path, "xenia-xen-image 1 12\n{\"config\":7}");
    assert_not_image(f, "not an object");
    write_text(f->path, "xenia-xen-image 1 23\n{\"config\":{\"name\":\"x\"}}");
    assert_not_image(f, "type");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_round_trip_stops_where_the_stream_starts, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_other_files_are_not_images, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
