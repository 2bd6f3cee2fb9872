"""Storage through the API: SRs, PBDs, VDIs and VBDs carried out by
storaged on real `file` and `iso` SRs (scripts/run-host starts it and gives
the host its default SRs), VM disks attached at start and released at
shutdown, clone, copy, snapshot, revert and provision with their disks, and
the SR's own metadata bringing every VDI back after SR.forget."""
import json
import os

import pytest

from xeniatest import Host, XenAPIError, scratch_sr, vm_record, wait_until

GiB = 1024 ** 3
MiB = 1024 ** 2



@pytest.fixture(scope="module")
def shost(request):
    h = Host().start()
    yield h
    h.close()


@pytest.fixture
def s(shost):
    with shost.session() as session:
        yield session


@pytest.fixture
def default_sr(s):
    pool = s("pool.get_all")[0]
    sr = s("pool.get_default_SR", pool)
    assert sr != "OpaqueRef:NULL"
    return sr


@pytest.fixture
def tmpdir_sr(s):
    """A file SR of its own in a temporary folder, destroyed afterwards."""
    with scratch_sr(s, "scratch") as (sr, d):
        yield sr, str(d)


def new_vdi(s, sr, size=64 * MiB, name="disk"):
    return s("VDI.create", {"SR": sr, "virtual_size": str(size), "type": "user",
                            "sharable": False, "read_only": False, "other_config": {},
                            "name_label": name, "name_description": ""})


def new_vbd(s, vm, vdi, userdevice="autodetect", type_="Disk", mode="RW", empty=False):
    return s("VBD.create", {"VM": vm, "VDI": vdi, "userdevice": userdevice, "bootable": True,
                            "mode": mode, "type": type_, "empty": empty, "other_config": {},
                            "qos_algorithm_type": "", "qos_algorithm_params": {}})


# ---- the development host's storage ------------------------------------------


def test_host_has_default_local_and_iso_srs(s, default_sr):
    rec = s("SR.get_record", default_sr)
    assert rec["type"] == "file" and rec["content_type"] == "user"
    assert int(rec["physical_size"]) > 0
    pbds = rec["PBDs"]
    assert len(pbds) == 1 and s("PBD.get_currently_attached", pbds[0])
    pool = s("pool.get_all")[0]
    assert s("pool.get_suspend_image_SR", pool) == default_sr
    isos = [r for r in s("SR.get_all_records").values() if r["type"] == "iso"]
    assert len(isos) == 1 and isos[0]["content_type"] == "iso"


def test_sm_records_name_the_drivers(s):
    types = s("SR.get_supported_types")
    assert {"file", "ext", "iso"} <= set(types)
    sms = {r["type"]: r for r in s("SM.get_all_records").values()}
    assert set(sms) == set(types)
    assert "VDI_CREATE" in sms["file"]["capabilities"]
    assert "location" in sms["file"]["configuration"]
    assert "VDI_SNAPSHOT" in sms["file"]["features"]


def test_unknown_sr_type_is_refused(s):
    host = s("host.get_all")[0]
    assert s.error("SR.create", host, {}, "0", "x", "", "nosuch", "user", False, {}) == \
        ["SR_UNKNOWN_DRIVER", "nosuch"]


# ---- VDIs ----------------------------------------------------------------------


def test_vdi_create_resize_destroy(s, tmpdir_sr):
    sr, d = tmpdir_sr
    vdi = new_vdi(s, sr, 64 * MiB, "first")
    rec = s("VDI.get_record", vdi)
    assert rec["SR"] == sr and rec["virtual_size"] == str(64 * MiB) and rec["managed"]
    assert rec["type"] == "user" and vdi in s("SR.get_VDIs", sr)
    assert int(s("SR.get_virtual_allocation", sr)) >= 64 * MiB
    s("VDI.resize", vdi, str(128 * MiB))
    assert s("VDI.get_virtual_size", vdi) == str(128 * MiB)
    s("VDI.destroy", vdi)
    assert vdi not in s("SR.get_VDIs", sr)
    assert s.error("VDI.get_record", vdi)[0] == "HANDLE_INVALID"


def test_snapshot_and_clone_keep_their_chain(s, tmpdir_sr):
    sr, _ = tmpdir_sr
    vdi = new_vdi(s, sr, 32 * MiB, "base")
    snap = s("VDI.snapshot", vdi, {})
    clone = s("VDI.clone", vdi, {})
    srec, crec = s("VDI.get_record", snap), s("VDI.get_record", clone)
    assert srec["is_a_snapshot"] and srec["snapshot_of"] == vdi
    assert srec["name_label"] == "base" and srec["virtual_size"] == str(32 * MiB)
    assert not crec["is_a_snapshot"] and crec["virtual_size"] == str(32 * MiB)
    assert s("VDI.get_snapshots", vdi) == [snap]
    managed = [v for v in s("SR.get_VDIs", sr) if s("VDI.get_managed", v)]
    assert set(managed) == {vdi, snap, clone}
    # deleting the snapshot leaves the others working
    s("VDI.destroy", snap)
    assert s("VDI.get_snapshots", vdi) == []
    s("SR.scan", sr)
    assert {vdi, clone} <= set(s("SR.get_VDIs", sr))


def test_vdi_copy_into_another_sr(s, tmpdir_sr, default_sr):
    sr, _ = tmpdir_sr
    vdi = new_vdi(s, default_sr, 16 * MiB, "to-copy")
    try:
        copy = s("VDI.copy", vdi, sr)
        rec = s("VDI.get_record", copy)
        assert rec["SR"] == sr and rec["virtual_size"] == str(16 * MiB)
        assert rec["name_label"] == "to-copy"
    finally:
        s("VDI.destroy", vdi)


def test_names_live_on_the_media_and_come_back_after_forget(s, tmpdir_sr):
    sr, d = tmpdir_sr
    vdi = new_vdi(s, sr, 8 * MiB, "before")
    uuid = s("VDI.get_uuid", vdi)
    s("VDI.set_name_label", vdi, "kept on disk")
    s("SR.set_name_label", sr, "scratch renamed")
    sr_uuid = s("SR.get_uuid", sr)
    pbd = s("SR.get_PBDs", sr)[0]
    assert s.error("SR.forget", sr) == ["SR_HAS_PBD", sr]
    s("PBD.unplug", pbd)
    s("SR.forget", sr)
    assert s.error("VDI.get_record", vdi)[0] == "HANDLE_INVALID"
    host = s("host.get_all")[0]
    probed = s("SR.probe", host, {"location": d}, "file", {})
    assert sr_uuid in probed and "scratch renamed" in probed
    ext = s("SR.probe_ext", host, {"location": d}, "file", {})
    assert [r["sr"]["uuid"] for r in ext] == [sr_uuid]
    sr2 = s("SR.introduce", sr_uuid, "scratch renamed", "", "file", "user", False, {})
    pbd2 = s("PBD.create", {"host": host, "SR": sr2, "device_config": {"location": d},
                            "other_config": {}})
    s("PBD.plug", pbd2)
    s("SR.scan", sr2)
    back = s("VDI.get_by_uuid", uuid)
    assert s("VDI.get_name_label", back) == "kept on disk"
    assert s("VDI.get_SR", back) == sr2


def test_sr_refusals(s, tmpdir_sr):
    sr, _ = tmpdir_sr
    new_vdi(s, sr)
    assert s.error("SR.destroy", sr) == ["SR_HAS_PBD", sr]
    pbd = s("SR.get_PBDs", sr)[0]
    host = s("host.get_all")[0]
    assert s.error("PBD.create", {"host": host, "SR": sr, "device_config": {},
                                  "other_config": {}})[0] == "PBD_EXISTS"
    s("PBD.unplug", pbd)
    assert s.error("SR.destroy", sr) == ["SR_NOT_EMPTY"]
    assert s.error("SR.scan", sr) == ["SR_HAS_NO_PBDS", sr]
    s("PBD.plug", pbd)


def test_iso_sr_lists_the_images_and_refuses_new_ones(s, shost):
    iso = [r for r, rec in s("SR.get_all_records").items() if rec["type"] == "iso"][0]
    library = shost.state_dir / "iso-library"
    (library / "installer.iso").write_bytes(b"\0" * 65536)
    try:
        s("SR.scan", iso)
        names = [s("VDI.get_name_label", v) for v in s("SR.get_VDIs", iso)]
        assert "installer.iso" in names
        code = s.error("VDI.create", {"SR": iso, "virtual_size": "1024", "type": "user",
                                      "sharable": False, "read_only": False,
                                      "other_config": {}})[0]
        assert code.startswith("SR_BACKEND_FAILURE") or code == "SR_OPERATION_NOT_SUPPORTED"
    finally:
        (library / "installer.iso").unlink()
        s("SR.scan", iso)


# ---- VBDs and VMs ---------------------------------------------------------------


@pytest.fixture
def vm(s):
    ref = s("VM.create", vm_record(name_label="disks"))
    yield ref
    try:
        if s("VM.get_power_state", ref) != "Halted":
            s("VM.hard_shutdown", ref)
        for vbd in s("VM.get_VBDs", ref):
            vdi = s("VBD.get_VDI", vbd)
            s("VBD.destroy", vbd)
            if vdi != "OpaqueRef:NULL" and s("SR.get_type", s("VDI.get_SR", vdi)) != "iso":
                s("VDI.destroy", vdi)
        s("VM.destroy", ref)
    except XenAPIError:
        pass


def test_vbd_create_checks(s, vm, default_sr):
    vdi = new_vdi(s, default_sr)
    vbd = new_vbd(s, vm, vdi)
    assert s("VBD.get_userdevice", vbd) == "0"
    assert s.error("VBD.create", {"VM": vm, "VDI": vdi, "userdevice": "0", "bootable": False,
                                  "mode": "RW", "type": "Disk", "empty": False,
                                  "other_config": {}, "qos_algorithm_type": "",
                                  "qos_algorithm_params": {}}) == ["DEVICE_ALREADY_EXISTS", "0"]
    assert s.error("VBD.create", {"VM": vm, "VDI": "OpaqueRef:NULL", "userdevice": "3",
                                  "bootable": False, "mode": "RW", "type": "CD", "empty": True,
                                  "other_config": {}, "qos_algorithm_type": "",
                                  "qos_algorithm_params": {}}) == ["VBD_CDS_MUST_BE_READONLY"]
    cd = new_vbd(s, vm, "OpaqueRef:NULL", "3", "CD", "RO", True)
    assert s.error("VBD.eject", cd) == ["VBD_IS_EMPTY", cd]
    assert s.error("VBD.insert", vbd, vdi) == ["VBD_NOT_REMOVABLE_MEDIA", vbd]
    assert "0" not in s("VM.get_allowed_VBD_devices", vm)


def test_start_attaches_disks_and_shutdown_releases_them(s, shost, vm, default_sr):
    vdi = new_vdi(s, default_sr)
    vbd = new_vbd(s, vm, vdi)
    s("VM.start", vm, False, False)
    assert s("VBD.get_currently_attached", vbd)
    assert s("VBD.get_device", vbd) == "xvda"
    # the simulated hypervisor keeps each domain's configuration in a file
    uuid = s("VM.get_uuid", vm)
    saved = json.loads((shost.state_dir / "sim-hypervisor" / "domains" /
                        (uuid + ".json")).read_text())
    disks = (saved.get("domain") or saved).get("disks")
    assert disks and disks[0]["device"] == "xvda" and disks[0]["target"]
    assert os.path.exists(disks[0]["target"]) and disks[0]["readwrite"]
    assert s.error("VDI.destroy", vdi) == ["VDI_IN_USE", vdi, "destroy"]
    pbd = s("SR.get_PBDs", default_sr)[0]
    assert s.error("PBD.unplug", pbd)[0] == "VDI_IN_USE"
    assert s.error("VBD.destroy", vbd)[0] == "OPERATION_NOT_ALLOWED"
    s("VM.clean_shutdown", vm)
    assert not s("VBD.get_currently_attached", vbd)


def test_start_needs_the_sr_plugged(s, vm, tmpdir_sr):
    sr, _ = tmpdir_sr
    vdi = new_vdi(s, sr)
    new_vbd(s, vm, vdi)
    pbd = s("SR.get_PBDs", sr)[0]
    s("PBD.unplug", pbd)
    try:
        assert s.error("VM.start", vm, False, False) == ["VM_REQUIRES_SR", vm, sr]
        assert s("VM.get_power_state", vm) == "Halted"
    finally:
        s("PBD.plug", pbd)


def test_clone_snapshot_copy_revert_with_disks(s, vm, default_sr, tmpdir_sr):
    other, _ = tmpdir_sr
    vdi = new_vdi(s, default_sr, 32 * MiB, "system")
    new_vbd(s, vm, vdi)
    clone = s("VM.clone", vm, "the clone")
    try:
        cvbd = s("VM.get_VBDs", clone)
        assert len(cvbd) == 1
        cvdi = s("VBD.get_VDI", cvbd[0])
        assert cvdi != vdi and s("VDI.get_virtual_size", cvdi) == str(32 * MiB)
    finally:
        for vbd in s("VM.get_VBDs", clone):
            d = s("VBD.get_VDI", vbd)
            s("VBD.destroy", vbd)
            s("VDI.destroy", d)
        s("VM.destroy", clone)

    copy = s("VM.copy", vm, "the copy", other)
    try:
        cvdi = s("VBD.get_VDI", s("VM.get_VBDs", copy)[0])
        assert s("VDI.get_SR", cvdi) == other
    finally:
        for vbd in s("VM.get_VBDs", copy):
            d = s("VBD.get_VDI", vbd)
            s("VBD.destroy", vbd)
            s("VDI.destroy", d)
        s("VM.destroy", copy)

    snap = s("VM.snapshot", vm, "snap")
    svdi = s("VBD.get_VDI", s("VM.get_VBDs", snap)[0])
    assert s("VDI.get_is_a_snapshot", svdi) and s("VDI.get_snapshot_of", svdi) == vdi
    s("VM.revert", snap)
    now = s("VBD.get_VDI", s("VM.get_VBDs", vm)[0])
    assert now != vdi and not s("VDI.get_is_a_snapshot", now)
    assert s.error("VDI.get_record", vdi)[0] == "HANDLE_INVALID"  # the old disk is gone
    for vbd in s("VM.get_VBDs", snap):
        d = s("VBD.get_VDI", vbd)
        s("VBD.destroy", vbd)
        s("VDI.destroy", d)
    s("VM.destroy", snap)


def test_provision_from_a_default_template(s, default_sr):
    tmpl = s("VM.get_by_name_label", "Debian Bookworm 12")[0]
    vm = s("VM.clone", tmpl, "installed")
    try:
        s("VM.provision", vm)
        vbds = s("VM.get_VBDs", vm)
        assert len(vbds) == 1
        vdi = s("VBD.get_VDI", vbds[0])
        assert s("VDI.get_SR", vdi) == default_sr
        assert s("VDI.get_virtual_size", vdi) == str(10 * GiB)
        assert s("VBD.get_userdevice", vbds[0]) == "0" and s("VBD.get_bootable", vbds[0])
        assert "disks" not in s("VM.get_other_config", vm)
        assert not s("VM.get_is_a_template", vm)
        assert s("VBD.get_other_config", vbds[0]) == {"owner": ""}
    finally:
        for vbd in s("VM.get_VBDs", vm):
            d = s("VBD.get_VDI", vbd)
            s("VBD.destroy", vbd)
            s("VDI.destroy", d)
        s("VM.destroy", vm)


def test_restart_keeps_srs_plugged_and_disks_attached(fresh_host):
    with fresh_host.session() as s:
        sr = s("pool.get_default_SR", s("pool.get_all")[0])
        vm = s("VM.create", vm_record(name_label="survivor"))
        vdi = new_vdi(s, sr)
        vbd = new_vbd(s, vm, vdi)
        s("VM.start", vm, False, False)
    fresh_host.restart()
    with fresh_host.session() as s:
        wait_until(lambda: s("VM.get_power_state", vm) == "Running", 10, what="VM running")
        assert s("PBD.get_currently_attached", s("SR.get_PBDs", sr)[0])
        assert s("VBD.get_currently_attached", vbd)
        s("VM.hard_shutdown", vm)
        assert not s("VBD.get_currently_attached", vbd)
