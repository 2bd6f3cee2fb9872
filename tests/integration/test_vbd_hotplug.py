"""Hot-plug of disks into running VMs: VBD.plug, VBD.unplug and
VBD.unplug_force, and CD insert and eject while the VM runs, through
storaged (the VDI attached and activated, then released) and domaind's
domain/disk_attach, disk_detach and cd_change on the sim backend, with
every refusal XenAPI names, a guest refusing to let a disk go (the sim's
refuse_detach), one operation at a time per VBD, and a hot-plugged disk
surviving a restart of the host."""
import json
import os
import select
import tempfile
import threading
import time

import pytest

from xeniatest import (Host, XenAPIError, agent_answer as agent, agent_call, vm_record,
                       wait_until)

MiB = 1024 ** 2


def domaind(host, rpc_method, **params):
    return agent_call(host, "domaind", rpc_method, **params)


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
def default_sr(s):
    return s("pool.get_default_SR", s("pool.get_all")[0])


def new_vdi(s, sr, name="hot"):
    return s("VDI.create", {"SR": sr, "virtual_size": str(16 * MiB), "type": "user",
                            "sharable": False, "read_only": False, "other_config": {},
                            "name_label": name, "name_description": ""})


def new_vbd(s, vm, vdi, userdevice="autodetect", type_="Disk", mode="RW", empty=False):
    return s("VBD.create", {"VM": vm, "VDI": vdi, "userdevice": userdevice, "bootable": False,
                            "mode": mode, "type": type_, "empty": empty, "other_config": {},
                            "qos_algorithm_type": "", "qos_algorithm_params": {}})


def cleanup_vm(s, vm):
    """Stops and destroys a VM with its VBDs and their user VDIs."""
    try:
        if s("VM.get_power_state", vm) != "Halted":
            s("VM.hard_shutdown", vm)
        for vbd in s("VM.get_VBDs", vm):
            vdi = s("VBD.get_VDI", vbd)
            s("VBD.destroy", vbd)
            if vdi != "OpaqueRef:NULL" and s("SR.get_type", s("VDI.get_SR", vdi)) != "iso":
                s("VDI.destroy", vdi)
        s("VM.destroy", vm)
    except XenAPIError:
        pass


@pytest.fixture
def running_vm(s):
    """A running VM without disks, torn down afterwards."""
    vm = s("VM.create", vm_record(name_label="hotplug"))
    s("VM.start", vm, False, False)
    yield vm
    cleanup_vm(s, vm)


def domain_disks(host, s, vm):
    """The disks of the VM's domain as the simulated hypervisor keeps them."""
    d = domaind(host, "domain/get", uuid=s("VM.get_uuid", vm))
    assert d["state"] in ("running", "paused")
    path = host.state_dir / "sim-hypervisor" / "domains" / (d["uuid"] + ".json")
    saved = json.loads(path.read_text())
    return {x["device"]: x for x in (saved.get("disks") or [])}


def iso_vdi(s, host, name):
    """A VDI of the ISO library for a small file called name."""
    (host.state_dir / "iso-library" / name).write_bytes(b"\0" * 65536)
    iso = [r for r, rec in s("SR.get_all_records").items() if rec["type"] == "iso"][0]
    s("SR.scan", iso)
    found = [v for v in s("SR.get_VDIs", iso) if s("VDI.get_name_label", v) == name]
    assert len(found) == 1
    return found[0]


# ---- plug and unplug ----------------------------------------------------------


def test_plug_then_unplug_on_a_running_vm(s, shost, running_vm, default_sr):
    vm = running_vm
    vdi = new_vdi(s, default_sr)
    vbd = new_vbd(s, vm, vdi)
    assert not s("VBD.get_currently_attached", vbd)
    assert "plug" in s("VBD.get_allowed_operations", vbd)
    s("VBD.plug", vbd)
    assert s("VBD.get_currently_attached", vbd)
    device = s("VBD.get_device", vbd)
    assert device == "xvda"
    disk = domain_disks(shost, s, vm)[device]
    assert disk["readwrite"] and os.path.exists(disk["target"])
    assert s.error("VDI.destroy", vdi) == ["VDI_IN_USE", vdi, "destroy"]
    ops = s("VBD.get_allowed_operations", vbd)
    assert "unplug" in ops and "unplug_force" in ops and "plug" not in ops
    assert s("VBD.get_current_operations", vbd) == {}

    s("VBD.unplug", vbd)
    assert not s("VBD.get_currently_attached", vbd)
    assert device not in domain_disks(shost, s, vm)
    assert s("VM.get_power_state", vm) == "Running"
    # released by storaged: the disk can go
    s("VBD.destroy", vbd)
    s("VDI.destroy", vdi)


def test_plug_needs_a_running_or_paused_vm(s, default_sr):
    vm = s("VM.create", vm_record(name_label="halted"))
    try:
        vbd = new_vbd(s, vm, new_vdi(s, default_sr))
        assert s.error("VBD.plug", vbd) == ["VM_BAD_POWER_STATE", vm, "running", "halted"]
        assert s.error("VBD.unplug", vbd) == ["VM_BAD_POWER_STATE", vm, "running", "halted"]
        assert "plug" not in s("VBD.get_allowed_operations", vbd)
    finally:
        cleanup_vm(s, vm)


def test_plug_into_a_paused_vm(s, shost, running_vm, default_sr):
    s("VM.pause", running_vm)
    vbd = new_vbd(s, running_vm, new_vdi(s, default_sr))
    s("VBD.plug", vbd)
    assert s("VBD.get_device", vbd) in domain_disks(shost, s, running_vm)
    s("VBD.unplug", vbd)
    assert not s("VBD.get_currently_attached", vbd)


def test_refusals_of_plug_and_unplug(s, running_vm, default_sr):
    vbd = new_vbd(s, running_vm, new_vdi(s, default_sr))
    assert s.error("VBD.unplug", vbd) == ["DEVICE_ALREADY_DETACHED", vbd]
    assert s.error("VBD.unplug_force", vbd) == ["DEVICE_ALREADY_DETACHED", vbd]
    s("VBD.plug", vbd)
    assert s.error("VBD.plug", vbd) == ["DEVICE_ALREADY_ATTACHED", vbd]
    s("VBD.set_unpluggable", vbd, False)
    assert s.error("VBD.unplug", vbd) == ["VBD_NOT_UNPLUGGABLE", vbd]
    assert s.error("VBD.unplug_force", vbd) == ["VBD_NOT_UNPLUGGABLE", vbd]
    assert s("VBD.get_currently_attached", vbd)
    s("VBD.set_unpluggable", vbd, True)
    s("VBD.unplug", vbd)


def test_a_failed_attach_releases_the_vdi(s, shost, running_vm, default_sr):
    vdi = new_vdi(s, default_sr)
    vbd = new_vbd(s, running_vm, vdi)
    domaind(shost, "sim/fail", method="domain/disk_attach")
    err = s.error("VBD.plug", vbd)
    assert err[0] == "INTERNAL_ERROR" and "SIM_INJECTED_FAILURE" in err[1]
    assert not s("VBD.get_currently_attached", vbd)
    assert s("VBD.get_current_operations", vbd) == {}
    assert "plug" in s("VBD.get_allowed_operations", vbd)
    s("VBD.destroy", vbd)
    s("VDI.destroy", vdi)  # storaged let it go


def test_guest_refusing_unplug_and_unplug_force(s, shost, running_vm, default_sr):
    vbd = new_vbd(s, running_vm, new_vdi(s, default_sr))
    s("VBD.plug", vbd)
    device = s("VBD.get_device", vbd)
    domaind(shost, "sim/inject", uuid=s("VM.get_uuid", running_vm), event="ignore",
            refuse_detach=True)
    err = s.error("VBD.unplug", vbd)
    assert err[:2] == ["DEVICE_DETACH_REJECTED", "VBD"] and err[2] == vbd and err[3]
    assert s("VBD.get_currently_attached", vbd)
    assert device in domain_disks(shost, s, running_vm)
    s("VBD.unplug_force", vbd)
    assert not s("VBD.get_currently_attached", vbd)
    assert device not in domain_disks(shost, s, running_vm)
    # refuse_detach alone did not make the guest ignore shutdown requests
    s("VM.clean_shutdown", running_vm)
    assert s("VM.get_power_state", running_vm) == "Halted"


def test_disks_of_a_stopped_vm_are_released(s, running_vm, default_sr):
    vdi = new_vdi(s, default_sr)
    vbd = new_vbd(s, running_vm, vdi)
    s("VBD.plug", vbd)
    s("VM.hard_shutdown", running_vm)
    assert not s("VBD.get_currently_attached", vbd)
    assert s("VBD.get_allowed_operations", vbd) == []
    s("VBD.destroy", vbd)
    s("VDI.destroy", vdi)


# ---- CDs ------------------------------------------------------------------------


def test_cd_insert_and_eject_while_running(s, shost):
    vm = s("VM.create", vm_record(name_label="cd"))
    iso = iso_vdi(s, shost, "x.iso")
    try:
        cd = new_vbd(s, vm, "OpaqueRef:NULL", "3", "CD", "RO", True)
        s("VM.start", vm, False, False)
        assert s("VBD.get_currently_attached", cd)
        device = s("VBD.get_device", cd)
        empty = domain_disks(shost, s, vm)[device]
        # an empty drive is QEMU's: blkback (phy) takes no empty medium
        assert empty["target"] == "" and empty.get("backend", "qdisk") == "qdisk"
        assert set(s("VBD.get_allowed_operations", cd)) == {"insert", "unplug", "unplug_force"}
        assert s.error("VBD.eject", cd) == ["VBD_IS_EMPTY", cd]

        s("VBD.insert", cd, iso)
        assert s("VBD.get_VDI", cd) == iso and not s("VBD.get_empty", cd)
        assert s("VBD.get_currently_attached", cd)
        target = domain_disks(shost, s, vm)[device]["target"]
        assert target and os.path.exists(target)
        assert s.error("VBD.insert", cd, iso) == ["VBD_NOT_EMPTY", cd]
        assert "eject" in s("VBD.get_allowed_operations", cd)

        s("VBD.eject", cd)
        assert s("VBD.get_empty", cd) and s("VBD.get_VDI", cd) == "OpaqueRef:NULL"
        assert domain_disks(shost, s, vm)[device]["target"] == ""
        assert s("VBD.get_currently_attached", cd)
        # the ISO was released: it goes in again
        s("VBD.insert", cd, iso)
        s("VM.hard_shutdown", vm)
        assert not s("VBD.get_currently_attached", cd)
        s("VBD.eject", cd)  # a halted VM's CD: the record alone
        assert s("VBD.get_empty", cd)
    finally:
        cleanup_vm(s, vm)
        (shost.state_dir / "iso-library" / "x.iso").unlink()


def test_insert_into_a_disk_is_refused(s, running_vm, default_sr):
    vbd = new_vbd(s, running_vm, new_vdi(s, default_sr))
    assert s.error("VBD.insert", vbd, "OpaqueRef:NULL") == ["VBD_NOT_REMOVABLE_MEDIA", vbd]
    assert s.error("VBD.eject", vbd) == ["VBD_NOT_REMOVABLE_MEDIA", vbd]


# ---- one operation at a time ------------------------------------------------------


def fifo_writer(path):
    """Whether another process has the FIFO path open."""
    for pid in os.listdir("/proc"):
        if not pid.isdigit() or int(pid) == os.getpid():
            continue
        try:
            fds = os.listdir("/proc/%s/fd" % pid)
        except OSError:
            continue
        for fd in fds:
            try:
                if os.readlink("/proc/%s/fd/%s" % (pid, fd)) == path:
                    return True
            except OSError:
                pass
    return False


def drain(fd, timeout=30):
    """Reads the FIFO fd until its writer closes it (or there is none)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        ready, _, _ = select.select([fd], [], [], max(0.0, deadline - time.monotonic()))
        if ready and not os.read(fd, 65536):
            return


def test_a_second_operation_on_a_vbd_is_refused(s, shost, default_sr):
    """domaind is kept busy on the domain by a suspend writing its image
    into a FIFO that nobody reads yet (the image, with a long kernel
    command line, is more than the pipe holds); the unplug waits behind
    it, and meanwhile the VBD says so."""
    vm = s("VM.create", vm_record(name_label="busy", PV_args="x" * 200000))
    fifo_dir = tempfile.mkdtemp(prefix="xhp-", dir="/tmp")
    fifo = os.path.join(fifo_dir, "image")
    os.mkfifo(fifo)
    reader = os.open(fifo, os.O_RDONLY | os.O_NONBLOCK)
    suspend = None
    try:
        s("VM.start", vm, False, False)
        vbd = new_vbd(s, vm, new_vdi(s, default_sr))
        s("VBD.plug", vbd)
        suspend = threading.Thread(target=agent, args=(shost, "domaind", "domain/suspend"),
                                   kwargs={"uuid": s("VM.get_uuid", vm), "path": fifo},
                                   daemon=True)
        suspend.start()
        wait_until(lambda: fifo_writer(fifo), 30, what="domaind writing the image")
        task = s("Async.VBD.unplug", vbd)
        wait_until(lambda: s("VBD.get_current_operations", vbd) == {task: "unplug"}, 30,
                   what="the unplug under way")
        assert s.error("VBD.unplug", vbd) == ["OTHER_OPERATION_IN_PROGRESS", "VBD", vbd,
                                              "unplug", task]
        assert s.error("VBD.plug", vbd)[0] == "OTHER_OPERATION_IN_PROGRESS"
        assert s("VBD.get_allowed_operations", vbd) == []
        assert s.error("VBD.destroy", vbd)[0] == "OPERATION_NOT_ALLOWED"
        # Reading the image lets the suspend end (the sim cannot fsync a
        # FIFO: the domain may go on running), and the unplug goes on:
        # either way the disk is let go and the VBD free again.
        drain(reader)
        wait_until(lambda: s("task.get_status", task) != "pending", 30, what="the unplug")
        assert s("VBD.get_current_operations", vbd) == {}
        wait_until(lambda: not s("VBD.get_currently_attached", vbd), 30, what="VBD released")
        if s("task.get_status", task) == "success":
            assert s("VM.get_power_state", vm) == "Running"
            assert "plug" in s("VBD.get_allowed_operations", vbd)
    finally:
        drain(reader)
        os.close(reader)
        if suspend:
            suspend.join(60)
        os.unlink(fifo)
        os.rmdir(fifo_dir)
        cleanup_vm(s, vm)


# ---- restarts ---------------------------------------------------------------------


def test_restart_keeps_a_hot_plugged_disk(fresh_host):
    with fresh_host.session() as s:
        sr = s("pool.get_default_SR", s("pool.get_all")[0])
        vm = s("VM.create", vm_record(name_label="survivor"))
        s("VM.start", vm, False, False)
        vbd = new_vbd(s, vm, new_vdi(s, sr))
        s("VBD.plug", vbd)
        device = s("VBD.get_device", vbd)
    fresh_host.restart()
    with fresh_host.session() as s:
        wait_until(lambda: s("VM.get_power_state", vm) == "Running", 10, what="VM running")
        assert s("VBD.get_currently_attached", vbd)
        assert device in domain_disks(fresh_host, s, vm)
        # the guest reboots with it too
        s("VM.clean_reboot", vm)
        assert device in domain_disks(fresh_host, s, vm)
        s("VBD.unplug", vbd)
        assert device not in domain_disks(fresh_host, s, vm)
        cleanup_vm(s, vm)


# ---- domaind's device calls -----------------------------------------------------


def test_domaind_device_calls_check_their_parameters(s, shost, running_vm):
    uuid = s("VM.get_uuid", running_vm)
    _, err = agent(shost, "domaind", "domain/disk_attach", uuid=uuid, disk="xvdb")
    assert err["code"] == -32602
    _, err = agent(shost, "domaind", "domain/disk_attach", uuid=uuid,
                   disk={"device": "xvdb", "target": "relative.img"})
    assert err["code"] == -32602 and "disk.target" in err["message"]
    _, err = agent(shost, "domaind", "domain/disk_attach", uuid=uuid,
                   disk={"device": "xvdb", "target": "/srv/b.img", "bogus": 1})
    assert err["code"] == -32602 and "disk.bogus" in err["message"]
    _, err = agent(shost, "domaind", "domain/disk_detach", uuid=uuid, device="xvdq")
    assert err["data"] == {"error": "NO_SUCH_DEVICE", "params": [uuid, "xvdq"]}
    domaind(shost, "domain/disk_attach", uuid=uuid, disk={"device": "xvdb", "target": "/srv/b"})
    _, err = agent(shost, "domaind", "domain/disk_attach", uuid=uuid,
                   disk={"device": "xvdb", "target": "/srv/c"})
    assert err["data"] == {"error": "DEVICE_EXISTS", "params": [uuid, "xvdb"]}
    _, err = agent(shost, "domaind", "domain/cd_change", uuid=uuid, device="xvdb",
                   target="/srv/x.iso")
    assert err["code"] == -32602
    domaind(shost, "domain/disk_detach", uuid=uuid, device="xvdb", force=True)
    _, err = agent(shost, "domaind", "domain/disk_detach", uuid="not-a-uuid", device="xvdb")
    assert err["code"] == -32602
