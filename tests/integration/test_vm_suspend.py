"""Suspend images on SRs, checkpoints and their revert, on the sim backend:
VM.suspend makes a raw VDI of type suspend on the VM's suspend_SR (else
the pool's suspend_image_SR, else the host's), domaind saves the domain
into it through storaged's attachment, VM.suspend_VDI names it, and resume,
hard_shutdown and destroy let it go; VM.checkpoint is a snapshot that keeps
the memory image, and VM.revert to it brings the VM back Suspended."""
import os
import subprocess
import tempfile

import pytest

from xeniatest import Host, XenAPIError, agent_call, vm_record

MiB = 1024 ** 2
NULL = "OpaqueRef:NULL"


@pytest.fixture(scope="module")
def shost():
    h = Host().start()
    yield h
    h.close()
    h.remove_state()


@pytest.fixture
def s(shost):
    with shost.session() as session:
        yield session


@pytest.fixture
def pool(s):
    return s("pool.get_all")[0]


def cleanup_vm(s, vm):
    try:
        for snap in s("VM.get_snapshots", vm):
            s("VM.destroy", snap)
        if s("VM.get_power_state", vm) != "Halted":
            s("VM.hard_shutdown", vm)
        s("VM.destroy", vm)
    except XenAPIError:
        pass


@pytest.fixture
def vm(s):
    """A running VM (256 MiB) without disks, torn down afterwards."""
    ref = s("VM.create", vm_record(name_label="suspendable",
                                   memory_static_max=str(256 * MiB),
                                   memory_dynamic_max=str(256 * MiB),
                                   memory_dynamic_min=str(128 * MiB),
                                   memory_static_min=str(128 * MiB)))
    s("VM.start", ref, False, False)
    yield ref
    cleanup_vm(s, ref)


@pytest.fixture
def other_sr(s):
    """A file SR of its own in a temporary folder, destroyed afterwards."""
    d = tempfile.mkdtemp(prefix="xsusp-", dir="/tmp")
    host = s("host.get_all")[0]
    sr = s("SR.create", host, {"location": d}, "0", "suspend-here", "", "file", "user", False,
           {})
    yield sr, d
    try:
        for vdi in s("SR.get_VDIs", sr):
            s("VDI.destroy", vdi)
        for pbd in s("SR.get_PBDs", sr):
            s("PBD.unplug", pbd)
        s("SR.destroy", sr)
    except XenAPIError:
        pass
    subprocess.run(["rm", "-rf", d], check=False)


def suspend_vdis(s):
    return {ref for ref, r in s("VDI.get_all_records").items() if r["type"] == "suspend"}


def image_path(s, vdi):
    """The file of a VDI of a file SR: the SR's folder and the VDI's location."""
    sr = s("VDI.get_SR", vdi)
    pbd = s("SR.get_PBDs", sr)[0]
    folder = s("PBD.get_device_config", pbd)["location"]
    return os.path.join(folder, s("VDI.get_location", vdi))


def test_suspend_writes_the_image_to_a_suspend_vdi_of_the_pools_sr(s, vm, pool):
    before = suspend_vdis(s)
    s("VM.suspend", vm)
    rec = s("VM.get_record", vm)
    assert rec["power_state"] == "Suspended"
    vdi = rec["suspend_VDI"]
    assert vdi != NULL and suspend_vdis(s) - before == {vdi}
    vrec = s("VDI.get_record", vdi)
    assert vrec["SR"] == s("pool.get_suspend_image_SR", pool)
    assert vrec["type"] == "suspend"
    assert int(vrec["virtual_size"]) >= 256 * MiB
    with open(image_path(s, vdi), "rb") as f:  # the sim's image: the domain's record
        assert b"xenia-sim-image" in f.read(4096)


def test_resume_reads_the_image_then_destroys_its_vdi(s, vm):
    before = suspend_vdis(s)
    s("VM.suspend", vm)
    vdi = s("VM.get_suspend_VDI", vm)
    s("VM.resume", vm, False, False)
    assert s("VM.get_power_state", vm) == "Running"
    assert s("VM.get_suspend_VDI", vm) == NULL
    assert suspend_vdis(s) == before
    assert s.error("VDI.get_record", vdi)[0] == "HANDLE_INVALID"


def test_the_vms_suspend_sr_comes_first(s, vm, other_sr):
    sr, _ = other_sr
    s("VM.set_suspend_SR", vm, sr)
    s("VM.suspend", vm)
    vdi = s("VM.get_suspend_VDI", vm)
    assert s("VDI.get_SR", vdi) == sr
    assert s("SR.get_VDIs", sr) == [vdi]
    s("VM.resume", vm, False, False)
    assert s("SR.get_VDIs", sr) == []


def test_no_suspend_sr_is_vm_no_suspend_sr(s, vm, pool):
    saved = s("pool.get_suspend_image_SR", pool)
    host = s("host.get_all")[0]
    saved_host = s("host.get_suspend_image_sr", host)
    s("pool.set_suspend_image_SR", pool, NULL)
    s("host.set_suspend_image_sr", host, NULL)
    try:
        before = suspend_vdis(s)
        assert s.error("VM.suspend", vm) == ["VM_NO_SUSPEND_SR", vm]
        assert s("VM.get_power_state", vm) == "Running"
        assert suspend_vdis(s) == before
    finally:
        s("pool.set_suspend_image_SR", pool, saved)
        s("host.set_suspend_image_sr", host, saved_host)


def test_the_hosts_suspend_image_sr_is_the_last_choice(s, vm, pool, other_sr):
    sr, _ = other_sr
    saved = s("pool.get_suspend_image_SR", pool)
    host = s("host.get_all")[0]
    saved_host = s("host.get_suspend_image_sr", host)
    s("pool.set_suspend_image_SR", pool, NULL)
    s("host.set_suspend_image_sr", host, sr)
    try:
        s("VM.suspend", vm)
        assert s("VDI.get_SR", s("VM.get_suspend_VDI", vm)) == sr
        s("VM.hard_shutdown", vm)
    finally:
        s("pool.set_suspend_image_SR", pool, saved)
        s("host.set_suspend_image_sr", host, saved_host)
    assert s("SR.get_VDIs", sr) == []


def test_hard_shutdown_of_a_suspended_vm_destroys_its_image(s, vm):
    before = suspend_vdis(s)
    s("VM.suspend", vm)
    s("VM.hard_shutdown", vm)
    rec = s("VM.get_record", vm)
    assert (rec["power_state"], rec["suspend_VDI"]) == ("Halted", NULL)
    assert suspend_vdis(s) == before


def test_destroy_of_a_suspended_vm_destroys_its_image(s, pool):
    before = suspend_vdis(s)
    ref = s("VM.create", vm_record(name_label="doomed"))
    s("VM.start", ref, False, False)
    s("VM.suspend", ref)
    assert len(suspend_vdis(s) - before) == 1
    s("VM.destroy", ref)
    assert suspend_vdis(s) == before


def test_a_failed_save_leaves_the_vm_running_and_no_image(s, vm, shost):
    before = suspend_vdis(s)
    agent_call(shost, "domaind", "sim/fail", method="domain/suspend")
    err = s.error("VM.suspend", vm)
    assert err[0] == "INTERNAL_ERROR" and "SIM_INJECTED_FAILURE" in err[1]
    rec = s("VM.get_record", vm)
    assert (rec["power_state"], rec["suspend_VDI"]) == ("Running", NULL)
    assert suspend_vdis(s) == before


def test_a_resume_that_fails_keeps_the_image(s, vm, shost):
    s("VM.suspend", vm)
    vdi = s("VM.get_suspend_VDI", vm)
    agent_call(shost, "domaind", "sim/fail", method="domain/resume")
    err = s.error("VM.resume", vm, False, False)
    assert err[0] == "INTERNAL_ERROR" and "SIM_INJECTED_FAILURE" in err[1]
    rec = s("VM.get_record", vm)
    assert (rec["power_state"], rec["suspend_VDI"]) == ("Suspended", vdi)
    s("VM.resume", vm, False, False)
    assert s("VM.get_power_state", vm) == "Running"


# ---- checkpoint and revert ---------------------------------------------------------------


def test_checkpoint_keeps_the_vm_running_and_the_snapshot_its_memory(s, vm):
    domid = s("VM.get_domid", vm)
    snap = s("VM.checkpoint", vm, "cp1")
    rec = s("VM.get_record", vm)
    assert rec["power_state"] == "Running" and rec["suspend_VDI"] == NULL
    assert rec["domid"] != domid  # suspended and resumed: a new domain
    srec = s("VM.get_record", snap)
    assert srec["is_a_snapshot"] and srec["snapshot_of"] == vm
    assert srec["name_label"] == "cp1"
    assert srec["power_state"] == "Suspended"
    assert s("VDI.get_type", srec["suspend_VDI"]) == "suspend"
    assert snap in rec["snapshots"]


def test_checkpoint_of_a_halted_vm_is_vm_bad_power_state(s):
    ref = s("VM.create", vm_record(name_label="halted"))
    try:
        err = s.error("VM.checkpoint", ref, "cp")
        assert err[0] == "VM_BAD_POWER_STATE" and err[1] == ref
    finally:
        s("VM.destroy", ref)


def test_checkpoint_of_a_suspended_vm_shares_its_image(s, vm):
    s("VM.suspend", vm)
    image = s("VM.get_suspend_VDI", vm)
    snap = s("VM.checkpoint", vm, "cp-suspended")
    assert s("VM.get_suspend_VDI", snap) == image
    s("VM.resume", vm, False, False)  # the checkpoint keeps the image
    assert s("VDI.get_type", image) == "suspend"
    assert s("VM.get_suspend_VDI", vm) == NULL


def test_revert_to_a_checkpoint_brings_the_vm_back_suspended(s, vm):
    snap = s("VM.checkpoint", vm, "cp2")
    image = s("VM.get_suspend_VDI", snap)
    s("VM.hard_shutdown", vm)
    s("VM.revert", snap)
    rec = s("VM.get_record", vm)
    assert rec["power_state"] == "Suspended"
    assert rec["suspend_VDI"] == image
    s("VM.resume", vm, False, False)
    assert s("VM.get_power_state", vm) == "Running"
    assert s("VM.get_suspend_VDI", snap) == image  # still the checkpoint's
    s("VM.revert", snap)  # again, from a running VM
    assert s("VM.get_power_state", vm) == "Suspended"


def test_destroying_the_checkpoint_destroys_its_image(s, vm):
    before = suspend_vdis(s)
    snap = s("VM.checkpoint", vm, "cp3")
    image = s("VM.get_suspend_VDI", snap)
    assert suspend_vdis(s) - before == {image}
    s("VM.destroy", snap)
    assert suspend_vdis(s) == before


def test_an_image_shared_by_a_checkpoint_and_its_vm_outlives_either(s, vm):
    before = suspend_vdis(s)
    snap = s("VM.checkpoint", vm, "cp4")
    image = s("VM.get_suspend_VDI", snap)
    s("VM.revert", snap)
    assert s("VM.get_suspend_VDI", vm) == image
    s("VM.destroy", snap)  # the VM still needs it
    assert s("VDI.get_type", image) == "suspend"
    s("VM.resume", vm, False, False)
    assert suspend_vdis(s) == before


def test_allowed_operations_list_checkpoint_while_running(s, vm):
    assert "checkpoint" in s("VM.get_allowed_operations", vm)
    s("VM.hard_shutdown", vm)
    assert "checkpoint" not in s("VM.get_allowed_operations", vm)


def test_a_checkpoint_whose_save_fails_is_vm_checkpoint_suspend_failed(s, vm, shost):
    before = suspend_vdis(s)
    agent_call(shost, "domaind", "sim/fail", method="domain/suspend")
    assert s.error("VM.checkpoint", vm, "cp-fail") == ["VM_CHECKPOINT_SUSPEND_FAILED", vm]
    assert s("VM.get_power_state", vm) == "Running"
    assert s("VM.get_snapshots", vm) == []
    assert suspend_vdis(s) == before


def test_a_checkpoint_whose_resume_fails_leaves_the_vm_suspended(s, vm, shost):
    agent_call(shost, "domaind", "sim/fail", method="domain/resume")
    assert s.error("VM.checkpoint", vm, "cp-fail") == ["VM_CHECKPOINT_RESUME_FAILED", vm]
    snaps = s("VM.get_snapshots", vm)
    assert len(snaps) == 1  # taken before the resume failed, as XCP leaves it
    rec = s("VM.get_record", vm)
    assert rec["power_state"] == "Suspended"
    assert rec["suspend_VDI"] == s("VM.get_suspend_VDI", snaps[0])
    s("VM.resume", vm, False, False)
    assert s("VM.get_power_state", vm) == "Running"


def test_a_checkpoint_without_a_suspend_sr_is_vm_no_suspend_sr(s, vm, pool):
    saved = s("pool.get_suspend_image_SR", pool)
    host = s("host.get_all")[0]
    saved_host = s("host.get_suspend_image_sr", host)
    s("pool.set_suspend_image_SR", pool, NULL)
    s("host.set_suspend_image_sr", host, NULL)
    try:
        assert s.error("VM.checkpoint", vm, "cp") == ["VM_NO_SUSPEND_SR", vm]
        assert s("VM.get_power_state", vm) == "Running"
    finally:
        s("pool.set_suspend_image_SR", pool, saved)
        s("host.set_suspend_image_sr", host, saved_host)
