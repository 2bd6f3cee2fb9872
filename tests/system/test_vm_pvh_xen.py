"""A PVH guest on real Xen through the API. Xen needs hardware
virtualisation for PVH (and HVM) guests: under QEMU's software emulation
it gets AMD's SVM with nested paging from `-cpu qemu64,+svm,+npt`
(xenhost.Host's cpu option), and `xl info` then lists `hvm` and `hap` in
its virt_caps. This module boots a host of its own with that CPU (the
session's host has none, as most tests need none), makes a VM of
domain_type pvh with VM.create (the guest kit's kernel booted directly, as
a PV guest's) and sees the kit's marker on its console. A boot and a PVH
guest under emulation take minutes: one host, one guest."""

import pytest

import xenhost
from xenhost import GUEST_KIT, wait_until

MiB = 1024 * 1024
MARKER = "XENIA-GUEST-KIT up"
WAIT = 600  # seconds: a PVH guest under nested emulation on a loaded machine
SVM_CPU = "qemu64,+svm,+npt"


@pytest.fixture(scope="module")
def svm_host(image):
    h = xenhost.Host(image, "svm1", cpu=SVM_CPU)
    try:
        h.boot()
        h.wait_api()
        h.wait_ssh()
        yield h
    finally:
        h.stop()


def vm_record(name):
    """A full record for VM.create, as the generated SDKs send it: a PVH
    guest kit with 256 MiB and 1 VCPU."""
    mem = str(256 * MiB)
    return {
        "name_label": name, "name_description": "PVH system test", "user_version": "1",
        "is_a_template": False, "affinity": "OpaqueRef:NULL",
        "memory_static_max": mem, "memory_dynamic_max": mem, "memory_dynamic_min": mem,
        "memory_static_min": mem, "VCPUs_params": {}, "VCPUs_max": "1",
        "VCPUs_at_startup": "1", "actions_after_shutdown": "destroy",
        "actions_after_reboot": "restart", "actions_after_crash": "destroy",
        "PV_bootloader": "", "PV_kernel": GUEST_KIT + "/vmlinuz",
        "PV_ramdisk": GUEST_KIT + "/initrd.img", "PV_args": "console=hvc0 xenia.mode=stay",
        "PV_bootloader_args": "", "PV_legacy_args": "", "HVM_boot_policy": "",
        "HVM_boot_params": {}, "platform": {}, "PCI_bus": "", "other_config": {},
        "recommendations": "", "domain_type": "pvh",
    }


def test_xen_under_emulated_svm_offers_hvm(svm_host):
    caps = svm_host.run("xl info | grep -E '^(virt_caps|xen_caps)'").stdout
    assert "hvm" in caps.split("virt_caps", 1)[1].split("\n", 1)[0], caps
    assert "hvm-3.0-x86_64" in caps, caps


def test_a_pvh_guest_starts_through_the_api(svm_host):
    api = svm_host.session()
    vm = api("VM.create", vm_record("pvh-kit"))
    try:
        assert api("VM.get_domain_type", vm) == "pvh"
        api("VM.start", vm, False, False)
        rec = api("VM.get_record", vm)
        assert rec["power_state"] == "Running"
        line = svm_host.run("xl list -l %s | grep -m1 '\"type\"'" % rec["domid"]).stdout
        assert "pvh" in line, line
        wait_until(lambda: MARKER in svm_host.run(
            "cat /var/log/xen/console/guest-pvh-kit.log 2>/dev/null || true").stdout,
            WAIT, 5.0, "the PVH guest's marker")
        api("VM.hard_shutdown", vm)
        assert api("VM.get_power_state", vm) == "Halted"
    finally:
        try:
            if api("VM.get_power_state", vm) != "Halted":
                api("VM.hard_shutdown", vm)
            api("VM.destroy", vm)
        finally:
            api.logout()
