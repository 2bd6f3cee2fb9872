/* Unit tests of the pure parts of domaind's NBD service of file disks
 * (hypervisor/xen-nbd.c): which hot-plugged disks go through NBD (a file
 * meant for qdisk, in a PV or PVH domain without QEMU) and how a qemu-nbd
 * of domaind's is told from any other by its command line, which is all
 * that a restarted domaind has to find its devices again. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <string.h>

#include "hypervisor/xen-nbd.h"

static struct dm_disk disk(const char *target, enum dm_disk_backend backend)
{
    struct dm_disk d = {.device = "xvdb",
                        .target = (char *)target,
                        .format = DM_DISK_QCOW2,
                        .backend = backend,
                        .readwrite = true};
    return d;
}

static void test_files_of_pv_domains_without_qemu_go_through_nbd(void **state)
{
    (void)state;
    struct dm_disk file = disk("/srv/sr/a.qcow2", DM_DISK_QDISK);
    struct dm_disk block = disk("/dev/vg/lv", DM_DISK_PHY);
    struct dm_disk empty_cd = disk("", DM_DISK_QDISK);

    assert_true(xen_nbd_wanted(DM_TYPE_PV, &file, false));
    assert_true(xen_nbd_wanted(DM_TYPE_PVH, &file, false));
    /* QEMU is there: it serves the file (qdisk) */
    assert_false(xen_nbd_wanted(DM_TYPE_PV, &file, true));
    /* an HVM guest always has QEMU */
    assert_false(xen_nbd_wanted(DM_TYPE_HVM, &file, false));
    /* blkback serves block devices itself */
    assert_false(xen_nbd_wanted(DM_TYPE_PV, &block, false));
    /* an empty drive has nothing to serve */
    assert_false(xen_nbd_wanted(DM_TYPE_PV, &empty_cd, false));
}

/* cmdline as /proc/PID/cmdline holds it: each argument NUL-terminated. */
#define CMD(s) s, sizeof(s) - 1

static void test_qemu_nbd_of_domaind_is_found_by_its_command_line(void **state)
{
    (void)state;
    uint32_t domid = 0;

    assert_true(
        xen_nbd_owner_parse(CMD("/usr/bin/qemu-nbd\0--connect=/dev/nbd3\0--description=" XEN_NBD_TAG
                                "17\0--format=qcow2\0/srv/sr/a.qcow2\0"),
                            "/dev/nbd3", &domid));
    assert_int_equal(domid, 17);
    assert_true(xen_nbd_owner_parse(
        CMD("qemu-nbd\0--description=" XEN_NBD_TAG "0\0--connect=/dev/nbd0\0/f\0"), "/dev/nbd0",
        &domid));
    assert_int_equal(domid, 0);
}

static void test_other_processes_are_not_domainds(void **state)
{
    (void)state;
    uint32_t domid = 99;

    /* another device */
    assert_false(xen_nbd_owner_parse(
        CMD("qemu-nbd\0--connect=/dev/nbd3\0--description=" XEN_NBD_TAG "17\0/f\0"), "/dev/nbd31",
        &domid));
    /* someone else's qemu-nbd: no tag, or another's */
    assert_false(
        xen_nbd_owner_parse(CMD("qemu-nbd\0--connect=/dev/nbd3\0/f\0"), "/dev/nbd3", &domid));
    assert_false(xen_nbd_owner_parse(
        CMD("qemu-nbd\0--connect=/dev/nbd3\0--description=backup\0/f\0"), "/dev/nbd3", &domid));
    /* not qemu-nbd */
    assert_false(
        xen_nbd_owner_parse(CMD("/bin/sh\0--connect=/dev/nbd3\0--description=" XEN_NBD_TAG "17\0"),
                            "/dev/nbd3", &domid));
    /* a tag that is not a domid */
    assert_false(
        xen_nbd_owner_parse(CMD("qemu-nbd\0--connect=/dev/nbd3\0--description=" XEN_NBD_TAG "x7\0"),
                            "/dev/nbd3", &domid));
    assert_false(
        xen_nbd_owner_parse(CMD("qemu-nbd\0--connect=/dev/nbd3\0--description=" XEN_NBD_TAG "\0"),
                            "/dev/nbd3", &domid));
    assert_false(
        xen_nbd_owner_parse(CMD("qemu-nbd\0--connect=/dev/nbd3\0--description=" XEN_NBD_TAG "-1\0"),
                            "/dev/nbd3", &domid));
    assert_false(xen_nbd_owner_parse(
        CMD("qemu-nbd\0--connect=/dev/nbd3\0--description=" XEN_NBD_TAG "99999999999\0"),
        "/dev/nbd3", &domid));
    /* truncated or empty */
    assert_false(xen_nbd_owner_parse("qemu-nbd\0--connect=/dev/nbd3", 28, "/dev/nbd3", &domid));
    assert_false(xen_nbd_owner_parse("", 0, "/dev/nbd3", &domid));
    assert_int_equal(domid, 99);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_files_of_pv_domains_without_qemu_go_through_nbd),
        cmocka_unit_test(test_qemu_nbd_of_domaind_is_found_by_its_command_line),
        cmocka_unit_test(test_other_processes_are_not_domainds),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
