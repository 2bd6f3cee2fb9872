"""The VM messages that were missing, on the sim backend, each with XCP's
answers and refusals: checkpoint of a paused VM, power_state_reset of
snapshots and templates, the suspend image a crash of xapi left behind
(killed with XENIA_TEST_CRASH right after making it), data source
archives, get_cooperative, compute_memory_overhead (XCP's memory model),
set_HVM_boot_policy, set_suspend_VDI, copy_bios_strings, the HA restart
priority, assert_agile, the disaster recovery checks, secure boot
readiness, wait_memory_target_live and query_services."""
import shutil
import tempfile

import pytest

from xeniatest import Host, XenAPIError, vm_record, wait_until

MiB = 1024 ** 2
NULL = "OpaqueRef:NULL"


@pytest.fixture(scope="module")
def mhost():
    h = Host().start()
    yield h
    h.close()
    h.remove_state()


@pytest.fixture
def s(mhost):
    with mhost.session() as session:
        yield session


def destroy_vm(s, vm):
    try:
        for snap in s("VM.get_snapshots", vm):
            s("VM.destroy", snap)
        if s("VM.get_power_state", vm) != "Halted":
            s("VM.hard_shutdown", vm)
        for vbd in s("VM.get_VBDs", vm):
            s("VBD.destroy", vbd)
        for vif in s("VM.get_VIFs", vm):
            s("VIF.destroy", vif)
        s("VM.destroy", vm)
    except XenAPIError:
        pass


@pytest.fixture
def vms(s):
    made = []

    def make(start=False, **over):
        rec = dict(memory_static_max=str(256 * MiB), memory_dynamic_max=str(256 * MiB),
                   memory_dynamic_min=str(128 * MiB), memory_static_min=str(128 * MiB))
        rec.update(over)
        vm = s("VM.create", vm_record(**rec))
        made.append(vm)
        if start:
            s("VM.start", vm, False, False)
        return vm

    yield make
    for vm in made:
        destroy_vm(s, vm)


# ---- loose ends of the lifecycle ----

def test_checkpoint_of_a_paused_vm_snapshots_its_disks_without_memory(s, vms):
    vm = vms(start=True)
    s("VM.pause", vm)
    assert "checkpoint" in s("VM.get_allowed_operations", vm)
    cp = s("VM.checkpoint", vm, "paused-cp")
    rec = s("VM.get_record", cp)
    assert rec["is_a_snapshot"] and rec["snapshot_of"] == vm
    assert rec["power_state"] == "Halted" and rec["suspend_VDI"] == NULL
    assert s("VM.get_power_state", vm) == "Paused"
    s("VM.unpause", vm)
    assert s("VM.get_power_state", vm) == "Running"


def test_checkpoint_of_a_halted_vm_is_refused(s, vms):
    vm = vms()
    err = s.error("VM.checkpoint", vm, "no")
    assert err[0] == "VM_BAD_POWER_STATE" and err[2:] == ["paused, running, suspended", "halted"]


def test_power_state_reset_of_a_snapshot_and_a_template(s, vms):
    vm = vms(start=True)
    s("VM.suspend", vm)
    cp = s("VM.checkpoint", vm, "cp")
    assert s("VM.get_power_state", cp) == "Suspended"
    s("VM.power_state_reset", cp)  # XCP does not refuse snapshots
    assert s("VM.get_power_state", cp) == "Halted"
    assert s("VM.get_suspend_VDI", cp) == NULL
    # the VM keeps the image the checkpoint shared
    image = s("VM.get_suspend_VDI", vm)
    assert image != NULL and s("VDI.get_uuid", image)
    s("VM.resume", vm, False, False)
    assert s("VM.get_power_state", vm) == "Running"

    tpl = vms(is_a_template=True)
    s("VM.power_state_reset", tpl)
    assert s("VM.get_power_state", tpl) == "Halted"
    assert "power_state_reset" not in s("VM.get_allowed_operations", tpl)


def test_power_state_reset_refuses_a_vm_whose_domain_exists(s, vms):
    vm = vms(start=True)
    assert s.error("VM.power_state_reset", vm) == ["DOMAIN_EXISTS", vm]
    assert s("VM.get_power_state", vm) == "Running"


def test_power_state_reset_refuses_the_control_domain(s):
    dom0 = [v for v, r in s("VM.get_all_records").items() if r["is_control_domain"]][0]
    assert s.error("VM.power_state_reset", dom0) == ["CANNOT_RESET_CONTROL_DOMAIN", dom0]


def marked_images(s):
    return [v for v, r in s("VDI.get_all_records").items()
            if "xenia-suspend-image-of" in r["other_config"]]


def test_a_suspend_image_left_by_a_crash_is_deleted_at_the_next_start():
    h = Host(env={"XENIA_TEST_CRASH": "suspend-vdi-made"}).start()
    try:
        with h.session() as s:
            vm = s("VM.create", vm_record(name_label="crashing",
                                          memory_static_max=str(256 * MiB),
                                          memory_dynamic_max=str(256 * MiB),
                                          memory_dynamic_min=str(128 * MiB),
                                          memory_static_min=str(128 * MiB)))
            s("VM.start", vm, False, False)
            before = set(s("VDI.get_all"))
            with pytest.raises(Exception):
                s("VM.suspend", vm)  # xapi dies under the call
        wait_until(lambda: h.xapi_pid is None, 30, what="xapi to die")
        assert "dying at suspend-vdi-made" in h.log_text()
        h.kill9()
        del h.extra_env["XENIA_TEST_CRASH"]
        h.start()
        with h.session() as s:
            wait_until(lambda: not marked_images(s), 60, what="the orphan image to go")
            assert set(s("VDI.get_all")) == before
            assert "no VM names it" in h.log_text()
            # the VM did not lose its domain, and suspends as it should now
            assert s("VM.get_power_state", vm) == "Running"
            s("VM.suspend", vm)
            image = s("VM.get_suspend_VDI", vm)
            assert marked_images(s) == [image]
            assert s("VDI.get_other_config", image)["xenia-suspend-image-of"] == vm
            s("VM.resume", vm, False, False)
            wait_until(lambda: not marked_images(s), 30, what="the image to go after resume")
            s("VM.hard_shutdown", vm)
            s("VM.destroy", vm)
    finally:
        h.close()
        h.remove_state()


def test_forget_data_source_archives(s, vms):
    vm = vms(start=True, VCPUs_max="2", VCPUs_at_startup="2")
    assert 0 <= s("VM.query_data_source", vm, "cpu1") <= 1
    for name in ("cpu0", "cpu1", "memory", "memory_target"):
        s("VM.forget_data_source_archives", vm, name)
    assert 0 <= s("VM.query_data_source", vm, "cpu0") <= 1  # measured afresh
    for bad in ("cpu2", "cpu", "cpu1x", "nonsense"):
        err = s.error("VM.forget_data_source_archives", vm, bad)
        assert err == ["INTERNAL_ERROR", 'Rrd.Invalid_data_source("%s")' % bad], err


# ---- messages on the record ----

def test_get_cooperative_is_always_true(s, vms):
    assert s("VM.get_cooperative", vms()) is True


@pytest.mark.parametrize("static_max,vcpus,mult,boot,want_mib", [
    # (1 [HVM]) + 1 + shadow(256 per vCPU + 2 per MiB, in MiB, x mult) + 38 pages per vCPU
    (1024 * MiB, 2, "1", "", 0 + 1 + 10 + 1),
    (1024 * MiB, 2, "1", "BIOS order", 1 + 1 + 10 + 1),
    (256 * MiB, 1, "1", "", 0 + 1 + 3 + 1),
    (4096 * MiB, 8, "4", "BIOS order", 1 + 1 + 4 * 40 + 2),
    (100 * MiB + 1, 1, "0.1", "", 0 + 1 + 1 + 1),
])
def test_compute_memory_overhead_follows_xcps_model(s, vms, static_max, vcpus, mult, boot,
                                                     want_mib):
    vm = vms(memory_static_max=str(static_max), memory_dynamic_max=str(static_max),
             memory_dynamic_min=str(static_max), memory_static_min=str(static_max),
             VCPUs_max=str(vcpus), HVM_shadow_multiplier=float(mult), HVM_boot_policy=boot)
    assert int(s("VM.compute_memory_overhead", vm)) == want_mib * MiB


def test_set_hvm_boot_policy_sets_the_domain_type(s, vms):
    vm = vms()
    s("VM.set_HVM_boot_policy", vm, "BIOS order")
    assert (s("VM.get_HVM_boot_policy", vm), s("VM.get_domain_type", vm)) == ("BIOS order", "hvm")
    s("VM.set_HVM_boot_policy", vm, "")
    assert (s("VM.get_HVM_boot_policy", vm), s("VM.get_domain_type", vm)) == ("", "pv")


def test_set_domain_type_sets_the_boot_policy(s, vms):
    vm = vms()
    s("VM.set_domain_type", vm, "hvm")
    assert (s("VM.get_domain_type", vm), s("VM.get_HVM_boot_policy", vm)) == ("hvm", "BIOS order")
    s("VM.set_domain_type", vm, "pvh")
    assert (s("VM.get_domain_type", vm), s("VM.get_HVM_boot_policy", vm)) == ("pvh", "")
    assert s.error("VM.set_domain_type", vm, "unspecified") == [
        "INVALID_VALUE", "domain_type", "unspecified"]
    assert s.error("VM.set_domain_type", vm, "xen")[0] == "INTERNAL_ERROR"  # unmarshalling
    assert s("VM.get_domain_type", vm) == "pvh"


def test_set_suspend_vdi(s, vms):
    vm = vms(start=True)
    assert s.error("VM.set_suspend_VDI", vm, NULL)[0] == "HANDLE_INVALID"
    sr = s("pool.get_suspend_image_SR", s("pool.get_all")[0])
    other = s("VDI.create", {"SR": sr, "virtual_size": str(MiB), "type": "user",
                             "name_label": "other", "sharable": False, "read_only": False,
                             "other_config": {}})
    try:
        assert s.error("VM.set_suspend_VDI", vm, other) == \
            ["VM_BAD_POWER_STATE", vm, "suspended", "running"]
        s("VM.suspend", vm)
        image = s("VM.get_suspend_VDI", vm)
        s("VM.set_suspend_VDI", vm, image)  # the same image: nothing changes
        assert s("VM.get_suspend_VDI", vm) == image
        err = s.error("VM.set_suspend_VDI", vm, other)
        assert err[0] == "NOT_IMPLEMENTED" and "checksum" in err[1]
        assert s("VM.get_suspend_VDI", vm) == image
        s("VM.resume", vm, False, False)
    finally:
        s("VDI.destroy", other)


def test_copy_bios_strings_takes_the_hosts_once(s, vms):
    host = s("host.get_all")[0]
    vm = vms()
    s("VM.copy_bios_strings", vm, host)
    assert s("VM.get_bios_strings", vm) == s("host.get_bios_strings", host)
    assert s("VM.get_affinity", vm) == host
    if s("host.get_bios_strings", host):
        assert s.error("VM.copy_bios_strings", vm, host) == ["VM_BIOS_STRINGS_ALREADY_SET"]
    else:  # nothing was copied (a host without DMI): XCP lets it copy again
        s("VM.copy_bios_strings", vm, host)
    assert s.error("VM.copy_bios_strings", vm, NULL)[0] == "HANDLE_INVALID"


def test_ha_restart_priority(s, vms):
    halted, running = vms(), vms(start=True)
    s("VM.set_ha_restart_priority", halted, "restart")
    assert s("VM.get_ha_restart_priority", halted) == "restart"
    assert s("VM.get_ha_always_run", halted) is False  # only a running VM is protected now
    s("VM.set_ha_restart_priority", running, "restart")
    assert s("VM.get_ha_always_run", running) is True
    s("VM.set_ha_restart_priority", running, "best-effort")
    assert s("VM.get_ha_always_run", running) is False
    assert s.error("VM.set_ha_restart_priority", running, "always") == \
        ["INVALID_VALUE", "ha_restart_priority", "always"]
    assert s("VM.get_ha_restart_priority", running) == "best-effort"
    s("VM.set_ha_always_run", running, True)
    assert (s("VM.get_ha_restart_priority", running), s("VM.get_ha_always_run", running)) == \
        ("restart", True)
    s("VM.set_ha_always_run", running, False)
    assert (s("VM.get_ha_restart_priority", running), s("VM.get_ha_always_run", running)) == \
        ("", False)


@pytest.fixture
def file_sr(s):
    d = tempfile.mkdtemp(prefix="xmsg-", dir="/tmp")
    host = s("host.get_all")[0]
    sr = s("SR.create", host, {"location": d}, "0", "msgs", "", "file", "user", False, {})
    yield sr
    try:
        for vdi in s("SR.get_VDIs", sr):
            s("VDI.destroy", vdi)
        for pbd in s("SR.get_PBDs", sr):
            if s("PBD.get_currently_attached", pbd):
                s("PBD.unplug", pbd)
        s("SR.destroy", sr)
    except XenAPIError:
        pass
    shutil.rmtree(d, ignore_errors=True)


def disk(s, vm, sr, device="0", type_="Disk"):
    vdi = s("VDI.create", {"SR": sr, "virtual_size": str(MiB), "type": "user",
                           "name_label": "d", "sharable": False, "read_only": False,
                           "other_config": {}})
    s("VBD.create", {"VM": vm, "VDI": vdi, "userdevice": device, "bootable": False,
                     "mode": "RW", "type": type_, "empty": False, "other_config": {},
                     "qos_algorithm_type": "", "qos_algorithm_params": {}})
    return vdi


def test_assert_agile(s, vms, file_sr):
    vm = vms()
    s("VM.assert_agile", vm)  # nothing that ties it to a host
    disk(s, vm, file_sr)
    assert s.error("VM.assert_agile", vm) == ["HA_CONSTRAINT_VIOLATION_SR_NOT_SHARED", file_sr]
    s("SR.set_shared", file_sr, True)
    s("VM.assert_agile", vm)  # shared and plugged on the (one) host
    net = s("network.create", {"name_label": "internal", "name_description": "",
                               "other_config": {}, "MTU": "1500"})
    try:
        vif = s("VIF.create", {"device": "0", "network": net, "VM": vm,
                               "MAC": "", "MTU": "0", "other_config": {},
                               "qos_algorithm_type": "", "qos_algorithm_params": {}})
        assert s.error("VM.assert_agile", vm) == \
            ["HA_CONSTRAINT_VIOLATION_NETWORK_NOT_SHARED", net]
        s("VIF.destroy", vif)
    finally:
        s("network.destroy", net)
    s("VM.assert_agile", vm)


def test_recovery_checks(s, mhost, vms, file_sr):
    vm = vms()
    session = s.ref
    assert s("VM.get_SRs_required_for_recovery", vm, session) == []
    s("VM.assert_can_be_recovered", vm, session)
    disk(s, vm, file_sr)
    assert s("VM.get_SRs_required_for_recovery", vm, session) == []
    pbd = s("SR.get_PBDs", file_sr)[0]
    s("PBD.unplug", pbd)
    assert s("VM.get_SRs_required_for_recovery", vm, session) == [file_sr]
    assert s.error("VM.assert_can_be_recovered", vm, session) == ["VM_REQUIRES_SR", vm, file_sr]
    s("PBD.plug", pbd)
    s("VM.assert_can_be_recovered", vm, session)
    bogus = "OpaqueRef:00000000-0000-0000-0000-000000000000"
    assert s.error("VM.get_SRs_required_for_recovery", vm, bogus) == ["SESSION_INVALID", bogus]


def test_secureboot_readiness(s, vms):
    assert s("VM.get_secureboot_readiness", vms()) == "not_supported"
    uefi = {"firmware": "uefi", "order": "cd"}
    assert s("VM.get_secureboot_readiness",
             vms(HVM_boot_policy="BIOS order", HVM_boot_params=uefi)) == "disabled"
    sb = vms(HVM_boot_policy="BIOS order", HVM_boot_params=uefi,
             platform={"secureboot": "true"})
    assert s("VM.get_secureboot_readiness", sb) == "first_boot"
    bad = vms(HVM_boot_policy="BIOS order", HVM_boot_params={"firmware": "coreboot"})
    assert s.error("VM.get_secureboot_readiness", bad) == \
        ["INVALID_VALUE", "HVM-boot-params['firmware']", "coreboot"]


def test_wait_memory_target_live(s, vms):
    vm = vms(start=True)
    s("VM.set_memory_dynamic_range", vm, str(128 * MiB), str(192 * MiB))
    s("VM.wait_memory_target_live", vm)
    assert int(s("VM_metrics.get_memory_actual", s("VM.get_metrics", vm))) == 192 * MiB
    halted = vms()
    err = s.error("VM.wait_memory_target_live", halted)
    assert err == ["VM_BAD_POWER_STATE", halted, "running", "halted"]


def test_query_services_is_not_implemented_as_in_xcp(s, vms):
    assert s.error("VM.query_services", vms()) == ["NOT_IMPLEMENTED", "query_services"]
    assert s.error("VM.query_services", NULL)[0] == "HANDLE_INVALID"
