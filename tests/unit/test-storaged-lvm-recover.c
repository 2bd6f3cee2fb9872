/* Unit tests of the pure decisions of storaged's lvm driver that the
 * operations in storaged/lvmsr.c act on: which VG and PV an SR is (pvs
 * reports, VG names back to SR uuids), how much of the SR is used, and
 * the recovery plan that makes the metadata the commit point of every lvm
 * operation (orphan LVs removed, VDIs without an LV forgotten, sizes taken
 * from the LVs). */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "lib/cleanup.h"
#include "storaged/lvm.h"
#include "storaged/meta.h"

#define SR "0b6f4ad6-46f5-4ab2-9c6b-7a0f0e0c6a11"
#define V1 "5b4cc2c1-7f4e-4b6e-8f7e-2f4d1c9a0b01"
#define V2 "5b4cc2c1-7f4e-4b6e-8f7e-2f4d1c9a0b02"
#define V3 "5b4cc2c1-7f4e-4b6e-8f7e-2f4d1c9a0b03"
#define V4 "5b4cc2c1-7f4e-4b6e-8f7e-2f4d1c9a0b04"

/* What `pvs --reportformat json -o pv_name,vg_name /dev/vdb` printed for
 * a PV of an SR, and for a PV in no VG. */
static const char PVS_IN_VG[] = "  {\n      \"report\": [\n          {\n"
                                "              \"pv\": [\n"
                                "                  {\"pv_name\":\"/dev/vdb\", "
                                "\"vg_name\":\"VG_XenStorage-" SR "\"}\n"
                                "              ]\n          }\n      ]\n  }\n";
static const char PVS_NO_VG[] =
    "{\"report\": [{\"pv\": [{\"pv_name\":\"/dev/vdc\", \"vg_name\":\"\"}]}]}";

static void test_vg_names_map_back_to_sr_uuids(void **state)
{
    (void)state;
    char uuid[UUID_STR_LEN];

    assert_true(lvm_vg_uuid("VG_XenStorage-" SR, uuid));
    assert_string_equal(uuid, SR);
    assert_false(lvm_vg_uuid("VG_XenStorage-", uuid));
    assert_false(lvm_vg_uuid("VG_XenStorage-" SR "x", uuid));
    assert_false(lvm_vg_uuid("vg0", uuid));
    assert_false(lvm_vg_uuid("", uuid));
}

static void test_pvs_command_and_report(void **state)
{
    (void)state;
    struct lvm_args a = {.dev = "/dev/vdb"};
    struct lvm_cmd c;
    char *vg = NULL, *why = NULL;

    assert_int_equal(lvm_cmd_build(LVM_REPORT_PVS, &a, &c), 0);
    assert_string_equal(c.argv[0], "pvs");
    assert_string_equal(c.argv[1], "--reportformat");
    assert_string_equal(c.argv[2], "json");
    assert_string_equal(c.argv[c.n - 1], "/dev/vdb");
    lvm_cmd_done(&c);
    a.dev = "vdb"; /* not a path: never an option or a name */
    assert_int_equal(lvm_cmd_build(LVM_REPORT_PVS, &a, &c), -EINVAL);

    assert_int_equal(lvm_parse_pvs(PVS_IN_VG, &vg, NULL), 0);
    assert_string_equal(vg, "VG_XenStorage-" SR);
    free(vg);
    vg = NULL;
    assert_int_equal(lvm_parse_pvs(PVS_NO_VG, &vg, NULL), 0);
    assert_string_equal(vg, "");
    free(vg);
    vg = NULL;
    assert_int_equal(lvm_parse_pvs("{\"report\": [{\"pv\": []}]}", &vg, &why), -ENOENT);
    assert_null(vg);
    free(why);
    why = NULL;
    assert_int_equal(
        lvm_parse_pvs("{\"report\": [{\"pv\": [{\"pv_name\":\"/dev/vdb\"}]}]}", &vg, &why),
        -EBADMSG);
    assert_non_null(strstr(why, "vg_name"));
    free(why);
    why = NULL;
    assert_int_equal(lvm_parse_pvs("not json", &vg, &why), -EBADMSG);
    assert_null(vg);
    free(why);
}

static struct lvm_lv mk_lv(const char *name, int64_t size, double pct)
{
    struct lvm_lv lv = {.name = (char *)name, .size = size, .data_percent = pct};
    return lv;
}

static void test_sr_used_counts_outside_the_pool_and_the_pool_data(void **state)
{
    (void)state;
    struct lvm_vg vg = {.name = (char *)"VG", .size = 1000 << 20, .free = 4 << 20};
    struct lvm_lv lvs[] = {
        mk_lv("MGT", 64 << 20, -1),
        mk_lv(LVM_POOL_LV, 900 << 20, 10.0),
        mk_lv("LV-" V1, 200 << 20, 45.0),
    };
    struct lvm_lv no_pool[] = {mk_lv("MGT", 64 << 20, -1)};

    /* 1000 - 4 free - 900 pool = 96 MiB outside (MGT, pool metadata),
     * plus 10% of the pool's 900 MiB. */
    assert_int_equal(lvm_sr_used(&vg, lvs, 3), (96 << 20) + (90 << 20));
    /* Without a pool (a VG being made), what is allocated. */
    assert_int_equal(lvm_sr_used(&vg, lvs, 1), 996 << 20);
    assert_ptr_equal(lvm_find_lv(lvs, 3, "LV-" V1), &lvs[2]);
    assert_null(lvm_find_lv(lvs, 3, "LV-" V2));
    /* What a copy into the SR may fill: the pool's data not in use. */
    assert_int_equal(lvm_pool_free(lvs, 3), (900 << 20) - (90 << 20));
    assert_int_equal(lvm_pool_free(no_pool, 1), -1);
}

static void add_vdi(struct sr_meta *m, const char *uuid, int64_t size)
{
    struct vdi_meta *v = sr_meta_add(m, uuid);
    _cleanup_free_ char *lv = lvm_lv_name(uuid);
    meta_set_str(&v->file, lv);
    snprintf(v->format, sizeof(v->format), "raw");
    v->virtual_size = size;
}

static void test_recovery_plan(void **state)
{
    (void)state;
    struct sr_meta m;
    struct lvm_plan p;

    sr_meta_init(&m);
    memcpy(m.uuid, SR, UUID_STR_LEN);
    add_vdi(&m, V1, 8 << 20); /* its LV is there, same size */
    add_vdi(&m, V2, 8 << 20); /* its LV is gone: forgotten */
    /* V3's LV, made by storaged (tagged), is not in the metadata: an
     * interrupted create, snapshot or copy, or a delete that committed:
     * removed. V4's LV was made by someone else (no tag), for
     * vdi_introduce: left alone. V1 was extended to 12 MiB by a resize
     * that did not commit. MGT and the pool are not VDIs. */
    struct lvm_lv lvs[] = {
        mk_lv("MGT", 64 << 20, -1),   mk_lv(LVM_POOL_LV, 900 << 20, 1.0),
        mk_lv("LV-" V1, 12 << 20, 0), mk_lv("LV-" V3, 8 << 20, 0),
        mk_lv("LV-" V4, 8 << 20, 0),
    };
    lvs[2].tagged = lvs[3].tagged = true;
    lvm_plan_recover(&m, lvs, 5, &p);
    assert_int_equal(p.n_orphans, 1);
    assert_string_equal(p.orphans[0], V3);
    assert_int_equal(p.n_foreign, 1);
    assert_string_equal(p.foreign[0], V4);
    assert_int_equal(p.n_missing, 1);
    assert_string_equal(p.missing[0], V2);
    assert_int_equal(p.n_resized, 1);
    assert_string_equal(p.resized[0], V1);
    assert_int_equal(p.sizes[0], 12 << 20);
    lvm_plan_done(&p);

    /* A consistent SR needs nothing. */
    sr_meta_remove(&m, V2);
    sr_meta_find(&m, V1)->virtual_size = 12 << 20;
    add_vdi(&m, V3, 8 << 20);
    add_vdi(&m, V4, 8 << 20); /* introduced: its LV is a VDI's now */
    lvm_plan_recover(&m, lvs, 5, &p);
    assert_int_equal(p.n_orphans + p.n_foreign + p.n_missing + p.n_resized, 0);
    lvm_plan_done(&p);

    /* An empty VG (lvs listed nothing) forgets every VDI: the caller runs
     * the plan only on a report lvs gave. */
    lvm_plan_recover(&m, NULL, 0, &p);
    assert_int_equal(p.n_missing, 3);
    lvm_plan_done(&p);
    sr_meta_done(&m);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_vg_names_map_back_to_sr_uuids),
        cmocka_unit_test(test_pvs_command_and_report),
        cmocka_unit_test(test_sr_used_counts_outside_the_pool_and_the_pool_data),
        cmocka_unit_test(test_recovery_plan),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
