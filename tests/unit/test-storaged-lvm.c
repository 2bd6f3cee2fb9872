/* Unit tests of the pure half of storaged's lvm driver (storaged/lvm.h):
 * the names it gives VGs and LVs, the lvm2 command lines it runs, and
 * the parsing of lvm2's JSON reports, from reports as lvm2 2.03 prints
 * them. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "lib/cleanup.h"
#include "storaged/lvm.h"

#define SR "0b6f4ad6-46f5-4ab2-9c6b-7a0f0e0c6a11"
#define V1 "5b4cc2c1-7f4e-4b6e-8f7e-2f4d1c9a0b01"
#define V2 "5b4cc2c1-7f4e-4b6e-8f7e-2f4d1c9a0b02"

/* What `vgs --reportformat json --units b --nosuffix -o
 * vg_name,vg_size,vg_free VG` printed for a VG on a 256 MiB loop device. */
static const char VGS[] = "  {\n"
                          "      \"report\": [\n"
                          "          {\n"
                          "              \"vg\": [\n"
                          "                  {\"vg_name\":\"VG_XenStorage-test\", "
                          "\"vg_size\":\"264241152\", \"vg_free\":\"264241152\"}\n"
                          "              ]\n"
                          "          }\n"
                          "      ]\n"
                          "  }\n";

/* An SR's VG as lvs lists it: MGT, the pool, a VDI and its snapshot
 * (both made by storaged, so tagged; the snapshot also has a tag of
 * someone else's). */
static const char LVS[] =
    "{\"report\": [{\"lv\": ["
    "{\"lv_name\":\"MGT\", \"lv_size\":\"67108864\", \"lv_attr\":\"-wi-ao----\", "
    "\"pool_lv\":\"\", \"origin\":\"\", \"data_percent\":\"\"},"
    "{\"lv_name\":\"xenia-pool\", \"lv_size\":\"10737418240\", \"lv_attr\":\"twi-aotz--\", "
    "\"pool_lv\":\"\", \"origin\":\"\", \"data_percent\":\"3.52\"},"
    "{\"lv_name\":\"LV-" V1 "\", \"lv_size\":\"1073741824\", \"lv_attr\":\"Vwi-a-tz--\", "
    "\"pool_lv\":\"xenia-pool\", \"origin\":\"\", \"data_percent\":\"25.00\", "
    "\"lv_tags\":\"xenia-vdi\"},"
    "{\"lv_name\":\"LV-" V2 "\", \"lv_size\":\"1073741824\", \"lv_attr\":\"Vwi---tz-k\", "
    "\"pool_lv\":\"xenia-pool\", \"origin\":\"LV-" V1 "\", \"data_percent\":\"0.00\", "
    "\"lv_tags\":\"backup,xenia-vdi\"}"
    "]}]}";

static void test_names_follow_xcp_and_map_back(void **state)
{
    (void)state;
    _cleanup_free_ char *vg = lvm_vg_name(SR);
    _cleanup_free_ char *lv = lvm_lv_name(V1);
    _cleanup_free_ char *path = lvm_lv_path(vg, lv);
    char uuid[UUID_STR_LEN];

    assert_string_equal(vg, "VG_XenStorage-" SR);
    assert_string_equal(lv, "LV-" V1);
    assert_string_equal(path, "/dev/VG_XenStorage-" SR "/LV-" V1);
    assert_true(lvm_lv_uuid(lv, uuid));
    assert_string_equal(uuid, V1);
    assert_false(lvm_lv_uuid("MGT", uuid));
    assert_false(lvm_lv_uuid("xenia-pool", uuid));
    assert_false(lvm_lv_uuid("LV-not-a-uuid", uuid));
    assert_false(lvm_lv_uuid("LV-" V1 "x", uuid));
    assert_false(lvm_lv_uuid("VHD-" V1, uuid));
}

static void expect_cmd(enum lvm_op op, const struct lvm_args *a, const char *const *want)
{
    struct lvm_cmd c;
    size_t n = 0;

    assert_int_equal(lvm_cmd_build(op, a, &c), 0);
    for (; want[n]; n++) {
        assert_true(n < c.n);
        assert_string_equal(c.argv[n], want[n]);
    }
    assert_int_equal(c.n, n);
    assert_null(c.argv[n]);
    lvm_cmd_done(&c);
}

static void test_command_lines(void **state)
{
    (void)state;
    const char *vg = "VG_XenStorage-" SR, *lv = "LV-" V1, *snap = "LV-" V2;
    struct lvm_args a = {.dev = "/dev/sdb", .vg = vg, .lv = lv, .new_lv = snap, .size = 1073741824};

    expect_cmd(LVM_PVCREATE, &a, (const char *[]){"pvcreate", "-q", "-y", "/dev/sdb", NULL});
    expect_cmd(LVM_VGCREATE, &a, (const char *[]){"vgcreate", "-q", vg, "/dev/sdb", NULL});
    expect_cmd(LVM_MGT_CREATE, &a,
               (const char *[]){"lvcreate", "-q", "-y", "-L", "64m", "-n", "MGT", vg, NULL});
    expect_cmd(LVM_POOL_CREATE, &a,
               (const char *[]){"lvcreate", "-q", "-y", "--type", "thin-pool", "-l", "100%FREE",
                                "-n", "xenia-pool", vg, NULL});
    _cleanup_free_ char *pool = xasprintf("%s/xenia-pool", vg);
    expect_cmd(LVM_THIN_CREATE, &a,
               (const char *[]){"lvcreate", "-q", "-y", "--thin", "-V", "1073741824b", "-n", lv,
                                "--addtag", "xenia-vdi", pool, NULL});
    _cleanup_free_ char *vglv = xasprintf("%s/%s", vg, lv);
    expect_cmd(LVM_SNAPSHOT, &a,
               (const char *[]){"lvcreate", "-q", "-y", "-s", "-kn", "-n", snap, "--addtag",
                                "xenia-vdi", vglv, NULL});
    expect_cmd(LVM_ADDTAG, &a,
               (const char *[]){"lvchange", "-q", "--addtag", "xenia-vdi", vglv, NULL});
    expect_cmd(LVM_EXTEND, &a, (const char *[]){"lvextend", "-q", "-L", "1073741824b", vglv, NULL});
    expect_cmd(LVM_REMOVE, &a, (const char *[]){"lvremove", "-q", "-y", vglv, NULL});
    expect_cmd(LVM_ACTIVATE, &a, (const char *[]){"lvchange", "-q", "-ay", vglv, NULL});
    expect_cmd(LVM_DEACTIVATE, &a, (const char *[]){"lvchange", "-q", "-an", vglv, NULL});
    struct lvm_args whole = {.vg = vg};
    expect_cmd(LVM_ACTIVATE, &whole, (const char *[]){"vgchange", "-q", "-ay", vg, NULL});
    expect_cmd(LVM_VGREMOVE, &a, (const char *[]){"vgremove", "-q", "-y", "-f", vg, NULL});
    expect_cmd(LVM_PVREMOVE, &a, (const char *[]){"pvremove", "-q", "-y", "/dev/sdb", NULL});
    expect_cmd(LVM_REPORT_LVS, &a,
               (const char *[]){"lvs", "--reportformat", "json", "--units", "b", "--nosuffix", "-o",
                                "lv_name,lv_size,lv_attr,pool_lv,origin,data_percent,lv_tags", vg,
                                NULL});
    expect_cmd(LVM_REPORT_VGS, &a,
               (const char *[]){"vgs", "--reportformat", "json", "--units", "b", "--nosuffix", "-o",
                                "vg_name,vg_size,vg_free", vg, NULL});
}

/* With the SR's device given, every command looks at that device only:
 * --devices comes right after the command's name. */
static void test_command_lines_limited_to_the_srs_device(void **state)
{
    (void)state;
    const char *vg = "VG_XenStorage-" SR, *lv = "LV-" V1;
    struct lvm_args a = {.dev = "/dev/vdc", .vg = vg, .lv = lv, .devices = "/dev/vdc"};
    _cleanup_free_ char *vglv = xasprintf("%s/%s", vg, lv);

    expect_cmd(LVM_PVCREATE, &a,
               (const char *[]){"pvcreate", "--devices", "/dev/vdc", "-q", "-y", "/dev/vdc", NULL});
    expect_cmd(LVM_REMOVE, &a,
               (const char *[]){"lvremove", "--devices", "/dev/vdc", "-q", "-y", vglv, NULL});
    expect_cmd(LVM_REPORT_VGS, &a,
               (const char *[]){"vgs", "--devices", "/dev/vdc", "--reportformat", "json", "--units",
                                "b", "--nosuffix", "-o", "vg_name,vg_size,vg_free", vg, NULL});
    struct lvm_args whole = {.vg = vg, .devices = "/dev/vdc"};
    expect_cmd(LVM_DEACTIVATE, &whole,
               (const char *[]){"vgchange", "--devices", "/dev/vdc", "-q", "-an", vg, NULL});
    struct lvm_cmd c;
    /* Not a path: it would be read as an option or a name. */
    a.devices = "vdc";
    assert_int_equal(lvm_cmd_build(LVM_REMOVE, &a, &c), -EINVAL);
    a.devices = "--all";
    assert_int_equal(lvm_cmd_build(LVM_REMOVE, &a, &c), -EINVAL);
}

static void test_command_lines_refuse_bad_arguments(void **state)
{
    (void)state;
    struct lvm_cmd c;
    const char *vg = "VG_XenStorage-" SR;

    assert_int_equal(lvm_cmd_build(LVM_PVCREATE, &(struct lvm_args){.dev = "sdb"}, &c), -EINVAL);
    assert_int_equal(lvm_cmd_build(LVM_PVCREATE, &(struct lvm_args){0}, &c), -EINVAL);
    assert_int_equal(lvm_cmd_build(LVM_VGCREATE, &(struct lvm_args){.dev = "/dev/sdb"}, &c),
                     -EINVAL);
    /* A name that would be read as an option, or a path. */
    assert_int_equal(lvm_cmd_build(LVM_REMOVE, &(struct lvm_args){.vg = vg, .lv = "-ff"}, &c),
                     -EINVAL);
    assert_int_equal(lvm_cmd_build(LVM_REMOVE, &(struct lvm_args){.vg = "a/b", .lv = "x"}, &c),
                     -EINVAL);
    assert_int_equal(
        lvm_cmd_build(LVM_THIN_CREATE, &(struct lvm_args){.vg = vg, .lv = "LV-" V1, .size = 0}, &c),
        -EINVAL);
    assert_int_equal(lvm_cmd_build(LVM_SNAPSHOT, &(struct lvm_args){.vg = vg, .lv = "LV-" V1}, &c),
                     -EINVAL);
    assert_int_equal(lvm_cmd_build(LVM_ADDTAG, &(struct lvm_args){.vg = vg}, &c), -EINVAL);
}

static void test_parse_vgs_report(void **state)
{
    (void)state;
    struct lvm_vg vg;

    assert_int_equal(lvm_parse_vgs(VGS, &vg, NULL), 0);
    assert_string_equal(vg.name, "VG_XenStorage-test");
    assert_int_equal(vg.size, 264241152);
    assert_int_equal(vg.free, 264241152);
    lvm_vg_done(&vg);
}

static void test_parse_lvs_report(void **state)
{
    (void)state;
    struct lvm_lv *lvs = NULL;
    size_t n = 0;
    char uuid[UUID_STR_LEN];

    assert_int_equal(lvm_parse_lvs(LVS, &lvs, &n, NULL), 0);
    assert_int_equal(n, 4);
    assert_string_equal(lvs[0].name, "MGT");
    assert_true(lvs[0].data_percent < 0);
    assert_int_equal(lvm_lv_used(&lvs[0]), 0);
    assert_true(lvm_lv_active(&lvs[0]));
    assert_string_equal(lvs[2].pool, "xenia-pool");
    assert_int_equal(lvs[2].size, 1073741824);
    assert_int_equal(lvm_lv_used(&lvs[2]), 268435456);
    assert_true(lvm_lv_active(&lvs[2]));
    assert_string_equal(lvs[3].origin, "LV-" V1);
    assert_false(lvs[0].tagged);
    assert_true(lvs[2].tagged);
    assert_true(lvs[3].tagged);
    assert_false(lvm_lv_active(&lvs[3]));
    assert_true(lvm_lv_uuid(lvs[3].name, uuid));
    assert_string_equal(uuid, V2);
    lvm_lvs_free(lvs, n);

    /* Only the whole tag counts; a report without lv_tags has none. */
    assert_int_equal(lvm_parse_lvs("{\"report\":[{\"lv\":["
                                   "{\"lv_name\":\"a\",\"lv_size\":\"1\",\"lv_attr\":\"\","
                                   "\"pool_lv\":\"\",\"origin\":\"\",\"data_percent\":\"\","
                                   "\"lv_tags\":\"xenia-vdi2,old-xenia-vdi\"},"
                                   "{\"lv_name\":\"b\",\"lv_size\":\"1\",\"lv_attr\":\"\","
                                   "\"pool_lv\":\"\",\"origin\":\"\",\"data_percent\":\"\"}]}]}",
                                   &lvs, &n, NULL),
                     0);
    assert_int_equal(n, 2);
    assert_false(lvs[0].tagged);
    assert_false(lvs[1].tagged);
    lvm_lvs_free(lvs, n);

    assert_int_equal(lvm_parse_lvs("{\"report\":[{\"lv\":[]}]}", &lvs, &n, NULL), 0);
    assert_int_equal(n, 0);
    lvm_lvs_free(lvs, n);
}

static void expect_lvs_refused(const char *text, const char *why_part)
{
    struct lvm_lv *lvs = NULL;
    size_t n = 0;
    char *why = NULL;

    assert_int_equal(lvm_parse_lvs(text, &lvs, &n, &why), -EBADMSG);
    assert_non_null(why);
    if (!strstr(why, why_part))
        fail_msg("\"%s\" does not say \"%s\"", why, why_part);
    free(why);
}

static void test_bad_reports_are_refused(void **state)
{
    (void)state;
    struct lvm_vg vg;
    char *why = NULL;

    expect_lvs_refused("", "report");
    expect_lvs_refused("[]", "report");
    expect_lvs_refused("{\"report\": []}", "report");
    expect_lvs_refused("{\"report\": [{\"vg\": []}]}", "\"lv\"");
    expect_lvs_refused("{\"report\": [{\"lv\": [{\"lv_name\": \"x\"}]}]}", "lv_size");
    /* Sizes printed without --units b --nosuffix. */
    expect_lvs_refused(
        "{\"report\":[{\"lv\":[{\"lv_name\":\"x\",\"lv_size\":\"<10.00g\","
        "\"lv_attr\":\"\",\"pool_lv\":\"\",\"origin\":\"\",\"data_percent\":\"\"}]}]}",
        "byte count");
    expect_lvs_refused(
        "{\"report\":[{\"lv\":[{\"lv_name\":\"x\",\"lv_size\":\"1\","
        "\"lv_attr\":\"\",\"pool_lv\":\"\",\"origin\":\"\",\"data_percent\":\"x\"}]}]}",
        "data_percent");
    expect_lvs_refused(
        "{\"report\":[{\"lv\":[{\"lv_name\":\"x\",\"lv_size\":1,"
        "\"lv_attr\":\"\",\"pool_lv\":\"\",\"origin\":\"\",\"data_percent\":\"\"}]}]}",
        "lv_size");
    assert_int_equal(lvm_parse_vgs("{\"report\":[{\"vg\":[]}]}", &vg, &why), -ENOENT);
    free(why);
    why = NULL;
    assert_int_equal(lvm_parse_vgs("{\"report\":[{\"vg\":[{\"vg_name\":\"v\",\"vg_size\":\"1\","
                                   "\"vg_free\":\"2\"}]}]}",
                                   &vg, &why),
                     -EBADMSG);
    free(why);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_names_follow_xcp_and_map_back),
        cmocka_unit_test(test_command_lines),
        cmocka_unit_test(test_command_lines_limited_to_the_srs_device),
        cmocka_unit_test(test_command_lines_refuse_bad_arguments),
        cmocka_unit_test(test_parse_vgs_report),
        cmocka_unit_test(test_parse_lvs_report),
        cmocka_unit_test(test_bad_reports_are_refused),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
