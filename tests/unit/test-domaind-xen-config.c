/* Unit tests of the xen backend's translation of domain/create's
 * parameters into libxl's domain configuration (hypervisor/xen-config.c),
 * checked through libxl's own JSON form of the result
 * (libxl_domain_config_gen_json), with no libxl context and no
 * hypervisor: PV with a kernel, PV with pygrub and its arguments, PVH,
 * HVM with its boot order and platform keys, memory and vCPUs, disks
 * (qdisk for qcow2 files, phy for block devices, an empty cdrom) and nics
 * (MAC, bridge, MTU, the Open vSwitch hotplug script), the device model
 * (QEMU: which domains need it, its path, and the channel that makes
 * libxl start it for every PV guest with --pv-device-model always),
 * and the refusal, naming the parameter, of what cannot be built. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libxl.h>
#include <libxl_json.h>

#include "hypervisor/backend.h"
#include "hypervisor/xen-config.h"
#include "lib/util.h"

#define UUID "6f1c2b9e-1d4a-4c3e-9b7a-0e5f2d8c1a01"
#define MIB ((int64_t)1 << 20)

/* How build() ends: with the configuration as xen_config_build leaves
 * it, or with xen_config_device_model applied (QEMU at TEST_DM), a PV
 * guest getting its QEMU always or only when it needs one. */
enum dm_step { DM_NONE, DM_PV_ALWAYS, DM_PV_WHEN_NEEDED };
static enum dm_step dm_step;
/* xen_config_needs_device_model of the last configuration built. */
static bool needs_dm;
#define TEST_DM "/opt/test/qemu-xen"

/* The libxl configuration built from the domain/create parameters in
 * params_json, as libxl's JSON parsed by json-c; NULL with *ret_error
 * set when the build is refused. */
static json_object *build(const char *params_json, struct dm_error **ret_error)
{
    json_object *params = json_tokener_parse(params_json);
    struct dm_config cfg;
    libxl_domain_config d;

    assert_non_null(params);
    assert_null(dm_config_from_json(params, &cfg));
    json_object_put(params);
    struct dm_error *e = xen_config_build(UUID, &cfg, &d);
    dm_config_done(&cfg);
    if (e) {
        *ret_error = e;
        return NULL;
    }
    needs_dm = xen_config_needs_device_model(&d);
    if (dm_step != DM_NONE)
        xen_config_device_model(&d, TEST_DM, dm_step == DM_PV_ALWAYS);
    yajl_gen g = yajl_gen_alloc(NULL);
    assert_non_null(g);
    assert_int_equal(libxl_domain_config_gen_json(g, &d), yajl_gen_status_ok);
    const unsigned char *buf;
    size_t len;
    assert_int_equal(yajl_gen_get_buf(g, &buf, &len), yajl_gen_status_ok);
    json_object *o = json_tokener_parse((const char *)buf);
    yajl_gen_free(g);
    libxl_domain_config_dispose(&d);
    assert_non_null(o);
    return o;
}

static json_object *build_ok(const char *params_json)
{
    struct dm_error *e = NULL;
    json_object *o = build(params_json, &e);
    if (e)
        fail_msg("refused: %s", e->params[0]);
    return o;
}

/* The refusal's message, which must name what. */
static void assert_refused(const char *params_json, const char *what)
{
    struct dm_error *e = NULL;
    json_object *o = build(params_json, &e);

    if (o)
        fail_msg("built, though %s is wrong", what);
    assert_int_equal(e->code, DM_ERR_INVALID_PARAMS);
    if (!strstr(e->params[0], what))
        fail_msg("the error \"%s\" does not name %s", e->params[0], what);
    dm_error_free(e);
}

/* The member at a dotted path ("b_info.type.pv" takes libxl's "type.pv"
 * key whole when it exists), or NULL. */
static json_object *at(json_object *o, const char *path)
{
    char buf[256];
    snprintf(buf, sizeof(buf), "%s", path);
    for (char *p = buf; o && *p;) {
        json_object *v;
        char *dot = strchr(p, '.');
        /* libxl's keyed unions are "type.hvm": try the two parts whole. */
        if (dot && strncmp(p, "type.", 5) == 0) {
            dot = strchr(dot + 1, '.');
        }
        if (dot)
            *dot = '\0';
        if (json_object_is_type(o, json_type_array))
            v = json_object_array_get_idx(o, (size_t)atoi(p));
        else if (!json_object_object_get_ex(o, p, &v))
            return NULL;
        o = v;
        p = dot ? dot + 1 : p + strlen(p);
    }
    return o;
}

static const char *str_at(json_object *o, const char *path)
{
    json_object *v = at(o, path);
    return v ? json_object_get_string(v) : NULL;
}

static int64_t int_at(json_object *o, const char *path)
{
    json_object *v = at(o, path);
    if (!v)
        fail_msg("%s is missing", path);
    return json_object_get_int64(v);
}

#define BASE(type)                                                                                 \
    "\"name\":\"vm1\",\"type\":\"" type "\",\"memory_max\":1073741824,"                            \
    "\"memory_target\":536870912,\"vcpus_max\":4,\"vcpus\":2"

static void test_pv_with_kernel(void **state)
{
    (void)state;
    json_object *o =
        build_ok("{" BASE("pv") ",\"kernel\":\"/boot/vmlinuz\","
                                "\"ramdisk\":\"/boot/initrd\",\"cmdline\":\"console=hvc0 ro\"}");

    assert_string_equal(str_at(o, "c_info.type"), "pv");
    assert_string_equal(str_at(o, "c_info.name"), "vm1");
    assert_string_equal(str_at(o, "c_info.uuid"), UUID);
    assert_string_equal(str_at(o, "b_info.kernel"), "/boot/vmlinuz");
    assert_string_equal(str_at(o, "b_info.ramdisk"), "/boot/initrd");
    assert_string_equal(str_at(o, "b_info.cmdline"), "console=hvc0 ro");
    assert_null(at(o, "b_info.bootloader"));
    json_object_put(o);
}

static void test_memory_in_kib_and_vcpus_online(void **state)
{
    (void)state;
    json_object *o = build_ok("{\"name\":\"m\",\"type\":\"pv\",\"kernel\":\"/k\","
                              "\"memory_max\":1073741825,\"memory_target\":268436479,"
                              "\"vcpus_max\":8,\"vcpus\":3}");

    /* The maximum rounds up to whole KiB, the target down. */
    assert_int_equal(int_at(o, "b_info.max_memkb"), 1048577);
    assert_int_equal(int_at(o, "b_info.target_memkb"), 262144);
    assert_int_equal(int_at(o, "b_info.max_vcpus"), 8);
    json_object *avail = at(o, "b_info.avail_vcpus");
    assert_non_null(avail);
    assert_int_equal(json_object_array_length(avail), 3);
    for (int i = 0; i < 3; i++)
        assert_int_equal(json_object_get_int(json_object_array_get_idx(avail, (size_t)i)), i);
    json_object_put(o);
}

static void test_pv_with_pygrub_and_its_arguments(void **state)
{
    (void)state;
    json_object *o = build_ok("{" BASE("pv") ",\"bootloader\":\"pygrub\","
                                             "\"bootloader_args\":\"  --entry=1   -q \"}");

    assert_string_equal(str_at(o, "b_info.bootloader"), "pygrub");
    json_object *args = at(o, "b_info.bootloader_args");
    assert_non_null(args);
    assert_int_equal(json_object_array_length(args), 2);
    assert_string_equal(json_object_get_string(json_object_array_get_idx(args, 0)), "--entry=1");
    assert_string_equal(json_object_get_string(json_object_array_get_idx(args, 1)), "-q");
    json_object_put(o);
}

static void test_pvh(void **state)
{
    (void)state;
    json_object *o = build_ok("{" BASE("pvh") ",\"kernel\":\"/boot/vmlinuz\"}");

    assert_string_equal(str_at(o, "c_info.type"), "pvh");
    assert_string_equal(str_at(o, "b_info.kernel"), "/boot/vmlinuz");
    json_object_put(o);
}

static void test_hvm_boot_order_and_platform(void **state)
{
    (void)state;
    json_object *o =
        build_ok("{" BASE("hvm") ",\"boot_order\":\"dc\",\"platform\":{\"viridian\":\"true\","
                                 "\"acpi\":\"1\",\"apic\":true,\"pae\":\"true\",\"nx\":\"false\","
                                 "\"videoram\":\"16\",\"vga\":\"std\",\"device-model\":"
                                 "\"qemu-upstream-compat\",\"timeoffset\":\"-3600\","
                                 "\"cores-per-socket\":\"2\",\"device_id\":\"0001\"}}");

    assert_string_equal(str_at(o, "c_info.type"), "hvm");
    assert_string_equal(str_at(o, "b_info.type.hvm.boot"), "dc");
    assert_string_equal(str_at(o, "b_info.type.hvm.viridian"), "True");
    assert_string_equal(str_at(o, "b_info.type.hvm.pae"), "True");
    assert_string_equal(str_at(o, "b_info.type.hvm.nx"), "False");
    assert_string_equal(str_at(o, "b_info.type.hvm.vga.kind"), "std");
    assert_string_equal(str_at(o, "b_info.type.hvm.timeoffset"), "-3600");
    assert_string_equal(str_at(o, "b_info.acpi"), "True");
    assert_string_equal(str_at(o, "b_info.apic"), "True");
    assert_string_equal(str_at(o, "b_info.device_model_version"), "qemu_xen");
    assert_int_equal(int_at(o, "b_info.video_memkb"), 16 * 1024);
    json_object_put(o);
}

static void test_hvm_uefi_device_model_takes_ovmf(void **state)
{
    (void)state;
    json_object *o =
        build_ok("{" BASE("hvm") ",\"platform\":{\"device-model\":\"qemu-upstream-uefi\"}}");

    assert_string_equal(str_at(o, "b_info.type.hvm.bios"), "ovmf");
    json_object_put(o);
}

static void test_hvm_keys_leave_a_pv_domain_alone(void **state)
{
    (void)state;
    /* XCP-ng's PV templates carry them too. */
    json_object *o = build_ok(
        "{" BASE("pv") ",\"kernel\":\"/k\",\"boot_order\":\"cd\","
                       "\"platform\":{\"nx\":\"true\",\"acpi\":\"1\",\"videoram\":\"8\"}}");

    assert_null(at(o, "b_info.acpi"));
    assert_null(at(o, "b_info.video_memkb"));
    assert_null(at(o, "b_info.type.pv.boot"));
    json_object_put(o);
}

static void test_disks_qdisk_phy_and_empty_cdrom(void **state)
{
    (void)state;
    json_object *o = build_ok(
        "{" BASE("hvm") ",\"disks\":["
                        "{\"device\":\"xvda\",\"target\":\"/srv/sr/a.qcow2\",\"format\":\"qcow2\"},"
                        "{\"device\":\"xvdb\",\"target\":\"/dev/vg0/lv1\",\"readwrite\":false},"
                        "{\"device\":\"hdc\",\"format\":\"iso\",\"cdrom\":true},"
                        "{\"device\":\"hdd\",\"target\":\"/srv/iso/d.iso\",\"format\":\"iso\"}]}");

    assert_string_equal(str_at(o, "disks.0.vdev"), "xvda");
    assert_string_equal(str_at(o, "disks.0.pdev_path"), "/srv/sr/a.qcow2");
    assert_string_equal(str_at(o, "disks.0.backend"), "qdisk");
    assert_string_equal(str_at(o, "disks.0.format"), "qcow2");
    assert_int_equal(int_at(o, "disks.0.readwrite"), 1);
    assert_null(at(o, "disks.0.is_cdrom"));

    assert_string_equal(str_at(o, "disks.1.backend"), "phy");
    assert_string_equal(str_at(o, "disks.1.format"), "raw");
    assert_null(at(o, "disks.1.readwrite"));

    assert_null(at(o, "disks.2.pdev_path"));
    assert_string_equal(str_at(o, "disks.2.format"), "empty");
    assert_int_equal(int_at(o, "disks.2.is_cdrom"), 1);

    assert_string_equal(str_at(o, "disks.3.format"), "raw");
    assert_string_equal(str_at(o, "disks.3.backend"), "qdisk");
    assert_int_equal(int_at(o, "disks.3.is_cdrom"), 1);
    assert_null(at(o, "disks.3.readwrite"));
    json_object_put(o);
}

/* build_ok with the device model applied (step), and whether the domain
 * needed one in *ret_needs. */
static json_object *build_dm_ok(const char *params_json, enum dm_step step, bool *ret_needs)
{
    dm_step = step;
    json_object *o = build_ok(params_json);
    dm_step = DM_NONE;
    *ret_needs = needs_dm;
    return o;
}

#define QCOW2_DISK "{\"device\":\"xvda\",\"target\":\"/srv/sr/a.qcow2\",\"format\":\"qcow2\"}"
#define PHY_DISK "{\"device\":\"xvdb\",\"target\":\"/dev/vg/lv\"}"

static void test_file_disks_and_hvm_need_the_device_model(void **state)
{
    (void)state;
    bool needs = true;
    json_object *o;

    o = build_dm_ok("{" BASE("pv") ",\"kernel\":\"/k\",\"disks\":[" PHY_DISK "," QCOW2_DISK "]}",
                    DM_NONE, &needs);
    assert_true(needs);
    json_object_put(o);
    o = build_dm_ok("{" BASE("pvh") ",\"kernel\":\"/k\",\"disks\":[" QCOW2_DISK "]}", DM_NONE,
                    &needs);
    assert_true(needs);
    json_object_put(o);
    o = build_dm_ok("{" BASE("hvm") "}", DM_NONE, &needs);
    assert_true(needs);
    json_object_put(o);
    /* blkback serves block devices: no QEMU for them */
    o = build_dm_ok("{" BASE("pv") ",\"kernel\":\"/k\",\"disks\":[" PHY_DISK "]}", DM_NONE, &needs);
    assert_false(needs);
    json_object_put(o);
    o = build_dm_ok("{" BASE("pv") ",\"kernel\":\"/k\"}", DM_NONE, &needs);
    assert_false(needs);
    json_object_put(o);
}

/* --pv-device-model when-needed (the default): a PV or PVH guest gets QEMU
 * only for a disk QEMU serves (a file, qcow2 or raw, or a CD drive, empty
 * or not), which libxl starts QEMU for by itself: no channel is added. */
static void test_pv_guest_gets_qemu_only_when_needed(void **state)
{
    (void)state;
    bool needs;
    json_object *o;
    static const char *const with_qemu[] = {
        "{" BASE("pv") ",\"kernel\":\"/k\",\"disks\":[" QCOW2_DISK "]}",
        "{" BASE("pvh") ",\"kernel\":\"/k\",\"disks\":[{\"device\":\"xvdc\","
                        "\"target\":\"/srv/sr/b.img\"}]}",
        "{" BASE("pv") ",\"kernel\":\"/k\",\"disks\":[{\"device\":\"xvdd\","
                       "\"target\":\"/srv/iso/d.iso\",\"format\":\"iso\"}]}",
        "{" BASE("pv") ",\"kernel\":\"/k\",\"disks\":[{\"device\":\"xvdd\","
                       "\"cdrom\":true}]}",
    };
    static const char *const without[] = {
        "{" BASE("pv") ",\"kernel\":\"/k\"}",
        "{" BASE("pvh") ",\"kernel\":\"/k\"}",
        "{" BASE("pv") ",\"kernel\":\"/k\",\"disks\":[" PHY_DISK "]}",
    };

    for (size_t i = 0; i < sizeof(with_qemu) / sizeof(*with_qemu); i++) {
        o = build_dm_ok(with_qemu[i], DM_PV_WHEN_NEEDED, &needs);
        assert_true(needs);
        assert_null(at(o, "channels"));
        assert_string_equal(str_at(o, "disks.0.backend"), "qdisk");
        json_object_put(o);
    }
    for (size_t i = 0; i < sizeof(without) / sizeof(*without); i++) {
        o = build_dm_ok(without[i], DM_PV_WHEN_NEEDED, &needs);
        assert_false(needs);
        assert_null(at(o, "channels"));
        json_object_put(o);
        /* the old behaviour, --pv-device-model always */
        o = build_dm_ok(without[i], DM_PV_ALWAYS, &needs);
        assert_string_equal(str_at(o, "channels.0.name"), XEN_DM_CHANNEL);
        json_object_put(o);
    }
    o = build_dm_ok("{" BASE("hvm") "}", DM_PV_WHEN_NEEDED, &needs);
    assert_true(needs);
    json_object_put(o);
}

static void test_device_model_is_upstream_qemu_at_its_path(void **state)
{
    (void)state;
    bool needs;
    const char *types[] = {"pv", "pvh", "hvm"};

    for (size_t i = 0; i < 3; i++) {
        char params[512];
        snprintf(params, sizeof(params),
                 "{\"name\":\"vm1\",\"type\":\"%s\",\"memory_max\":"
                 "1073741824,\"memory_target\":536870912,\"vcpus_max\":1,\"vcpus\":1%s}",
                 types[i], i < 2 ? ",\"kernel\":\"/k\"" : "");
        json_object *o = build_dm_ok(params, DM_PV_WHEN_NEEDED, &needs);
        assert_string_equal(str_at(o, "b_info.device_model"), TEST_DM);
        assert_string_equal(str_at(o, "b_info.device_model_version"), "qemu_xen");
        json_object_put(o);
    }
}

static void test_pv_guest_gets_its_qemu_through_a_channel(void **state)
{
    (void)state;
    bool needs;
    json_object *o;

    /* no file disk yet: the channel alone makes libxl start QEMU, which
     * a file disk plugged later needs */
    o = build_dm_ok("{" BASE("pv") ",\"kernel\":\"/k\"}", DM_PV_ALWAYS, &needs);
    assert_int_equal(json_object_array_length(at(o, "channels")), 1);
    assert_string_equal(str_at(o, "channels.0.name"), XEN_DM_CHANNEL);
    /* libxl's keyed union: the member is named for the connection */
    assert_true(json_object_object_get_ex(at(o, "channels.0"), "connection.pty", NULL));
    assert_int_equal(int_at(o, "channels.0.devid"), 0);
    json_object_put(o);
    o = build_dm_ok("{" BASE("pvh") ",\"kernel\":\"/k\",\"disks\":[" PHY_DISK "]}", DM_PV_ALWAYS,
                    &needs);
    assert_string_equal(str_at(o, "channels.0.name"), XEN_DM_CHANNEL);
    json_object_put(o);
    /* QEMU not wanted for PV guests that do not need it: no channel */
    o = build_dm_ok("{" BASE("pv") ",\"kernel\":\"/k\"}", DM_PV_WHEN_NEEDED, &needs);
    assert_null(at(o, "channels"));
    json_object_put(o);
    /* an HVM guest has its QEMU anyway */
    o = build_dm_ok("{" BASE("hvm") "}", DM_PV_ALWAYS, &needs);
    assert_null(at(o, "channels"));
    json_object_put(o);
}

static void test_nics_mac_bridge_mtu_and_script(void **state)
{
    (void)state;
    json_object *o = build_ok(
        "{" BASE("pv") ",\"kernel\":\"/k\",\"nics\":["
                       "{\"mac\":\"00:16:3E:0a:0b:0c\",\"bridge\":\"xenbr0\",\"mtu\":9000},"
                       "{\"devid\":5,\"bridge\":\"xapi1\",\"script\":\"vif-bridge\"}]}");

    assert_int_equal(int_at(o, "nics.0.devid"), 0);
    assert_string_equal(str_at(o, "nics.0.mac"), "00:16:3e:0a:0b:0c");
    assert_string_equal(str_at(o, "nics.0.bridge"), "xenbr0");
    assert_int_equal(int_at(o, "nics.0.mtu"), 9000);
    assert_string_equal(str_at(o, "nics.0.script"), XEN_DEFAULT_VIF_SCRIPT);
    assert_int_equal(int_at(o, "nics.1.devid"), 5);
    assert_string_equal(str_at(o, "nics.1.script"), "vif-bridge");
    json_object_put(o);
}

static void test_boot_that_cannot_be_built_is_refused(void **state)
{
    (void)state;
    assert_refused("{" BASE("pv") "}", "kernel");
    assert_refused("{" BASE("pvh") ",\"cmdline\":\"x\"}", "kernel");
    assert_refused("{" BASE("hvm") ",\"bootloader\":\"pygrub\"}", "bootloader");
    assert_refused("{" BASE("pv") ",\"kernel\":\"/k\",\"bootloader_args\":\"-q\"}",
                   "bootloader_args");
    assert_refused("{" BASE("hvm") ",\"ramdisk\":\"/r\"}", "ramdisk");
    assert_refused("{" BASE("hvm") ",\"boot_order\":\"cdc\"}", "boot_order");
    assert_refused("{" BASE("hvm") ",\"boot_order\":\"x\"}", "boot_order");
}

static void test_bad_platform_values_are_refused(void **state)
{
    (void)state;
    assert_refused("{" BASE("hvm") ",\"platform\":{\"viridian\":\"maybe\"}}", "platform.viridian");
    assert_refused("{" BASE("hvm") ",\"platform\":{\"videoram\":\"lots\"}}", "platform.videoram");
    assert_refused("{" BASE("hvm") ",\"platform\":{\"videoram\":\"100000\"}}", "platform.videoram");
    assert_refused("{" BASE("hvm") ",\"platform\":{\"vga\":\"vesa\"}}", "platform.vga");
    assert_refused("{" BASE("hvm") ",\"platform\":{\"device-model\":\"qemu-trad\"}}",
                   "platform.device-model");
    /* Checked even where the key would have no effect. */
    assert_refused("{" BASE("pv") ",\"kernel\":\"/k\",\"platform\":{\"nx\":7}}", "platform.nx");
}

static void test_bad_disks_are_refused(void **state)
{
    (void)state;
    assert_refused("{" BASE("hvm") ",\"disks\":[7]}", "disks[0]");
    assert_refused("{" BASE("hvm") ",\"disks\":[{\"target\":\"/a\"}]}", "disks[0].device");
    assert_refused("{" BASE("hvm") ",\"disks\":[{\"device\":\"vda\",\"target\":\"/a\"}]}",
                   "disks[0].device");
    assert_refused("{" BASE("hvm") ",\"disks\":[{\"device\":\"xvda\"}]}", "disks[0].target");
    assert_refused("{" BASE("hvm") ",\"disks\":[{\"device\":\"xvda\",\"target\":\"a.img\"}]}",
                   "disks[0].target");
    assert_refused("{" BASE("hvm") ",\"disks\":[{\"device\":\"xvda\",\"target\":\"/a\","
                                   "\"format\":\"vmdk\"}]}",
                   "disks[0].format");
    assert_refused("{" BASE("hvm") ",\"disks\":[{\"device\":\"xvda\",\"target\":\"/a\","
                                   "\"format\":\"qcow2\",\"backend\":\"phy\"}]}",
                   "disks[0].backend");
    assert_refused("{" BASE("hvm") ",\"disks\":[{\"device\":\"hdc\",\"cdrom\":true,"
                                   "\"readwrite\":true}]}",
                   "disks[0].readwrite");
    assert_refused("{" BASE("hvm") ",\"disks\":[{\"device\":\"xvda\",\"target\":\"/a\","
                                   "\"size\":1}]}",
                   "disks[0].size");
    assert_refused("{" BASE("hvm") ",\"disks\":[{\"device\":\"xvda\",\"target\":\"/a\"},"
                                   "{\"device\":\"xvda\",\"target\":\"/b\"}]}",
                   "disks[1].device");
}

static void test_bad_nics_are_refused(void **state)
{
    (void)state;
    assert_refused("{" BASE("hvm") ",\"nics\":[{\"mac\":\"00:16:3e:0a:0b\"}]}", "nics[0].mac");
    assert_refused("{" BASE("hvm") ",\"nics\":[{\"mac\":\"00:16:3e:0a:0b:0g\"}]}", "nics[0].mac");
    /* A group address is no interface's. */
    assert_refused("{" BASE("hvm") ",\"nics\":[{\"mac\":\"01:16:3e:0a:0b:0c\"}]}", "nics[0].mac");
    assert_refused("{" BASE("hvm") ",\"nics\":[{\"mtu\":20}]}", "nics[0].mtu");
    assert_refused("{" BASE("hvm") ",\"nics\":[{\"devid\":-1}]}", "nics[0].devid");
    assert_refused("{" BASE("hvm") ",\"nics\":[{\"bridge\":\"\"}]}", "nics[0].bridge");
    assert_refused("{" BASE("hvm") ",\"nics\":[{},{\"devid\":0}]}", "nics[1].devid");
    assert_refused("{" BASE("hvm") ",\"nics\":[{\"model\":\"e1000\"}]}", "nics[0].model");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_pv_with_kernel),
        cmocka_unit_test(test_memory_in_kib_and_vcpus_online),
        cmocka_unit_test(test_pv_with_pygrub_and_its_arguments),
        cmocka_unit_test(test_pvh),
        cmocka_unit_test(test_hvm_boot_order_and_platform),
        cmocka_unit_test(test_hvm_uefi_device_model_takes_ovmf),
        cmocka_unit_test(test_hvm_keys_leave_a_pv_domain_alone),
        cmocka_unit_test(test_disks_qdisk_phy_and_empty_cdrom),
        cmocka_unit_test(test_file_disks_and_hvm_need_the_device_model),
        cmocka_unit_test(test_pv_guest_gets_qemu_only_when_needed),
        cmocka_unit_test(test_device_model_is_upstream_qemu_at_its_path),
        cmocka_unit_test(test_pv_guest_gets_its_qemu_through_a_channel),
        cmocka_unit_test(test_nics_mac_bridge_mtu_and_script),
        cmocka_unit_test(test_boot_that_cannot_be_built_is_refused),
        cmocka_unit_test(test_bad_platform_values_are_refused),
        cmocka_unit_test(test_bad_disks_are_refused),
        cmocka_unit_test(test_bad_nics_are_refused),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
