"""VDI operations through the API on `file` SRs (issue 6): raw VDIs asked
for with sm_config:type=raw, VDI.copy into an existing VDI with xapi's
refusals, VDI.resize_online answered as XCP answers it for a file SR (no
VDI_RESIZE_ONLINE capability), and the rows of a snapshot or clone chain
recorded from what the operation reports, which a full SR.scan afterwards
must find nothing to correct in."""
import json
import subprocess
from pathlib import Path

import pytest

from xeniatest import Host, XenAPIError, agent_answer, agent_call, scratch_sr, vm_record, wait_until

MiB = 1024 ** 2
TOOL_TIMEOUT = 120


@pytest.fixture(scope="module")
def shost():
    h = Host().start()
    yield h
    h.close()


@pytest.fixture
def s(shost):
    with shost.session() as session:
        yield session


@pytest.fixture
def sr(s):
    """A file SR of its own in a temporary folder: (ref, folder)."""
    with scratch_sr(s, "ops", timeout=TOOL_TIMEOUT) as made:
        yield made


@pytest.fixture
def vm(s):
    ref = s("VM.create", vm_record(name_label="vdi-ops"))
    yield ref
    try:
        if s("VM.get_power_state", ref) != "Halted":
            s("VM.hard_shutdown", ref)
        for vbd in s("VM.get_VBDs", ref):
            s("VBD.destroy", vbd)
        s("VM.destroy", ref)
    except XenAPIError:
        pass


def new_vdi(s, sr, size=16 * MiB, name="disk", read_only=False, sm_config=None):
    rec = {"SR": sr, "virtual_size": str(size), "type": "user", "sharable": False,
           "read_only": read_only, "other_config": {}, "name_label": name,
           "name_description": ""}
    if sm_config is not None:
        rec["sm_config"] = sm_config
    return s("VDI.create", rec)


def attach_to(s, vm, vdi, mode="RW"):
    vbd = s("VBD.create", {"VM": vm, "VDI": vdi, "userdevice": "autodetect", "bootable": False,
                           "mode": mode, "type": "Disk", "empty": False, "other_config": {},
                           "qos_algorithm_type": "", "qos_algorithm_params": {}})
    return vbd


def image(s, d, vdi):
    return d / s("VDI.get_location", vdi)


def qemu_io(path, fmt, cmd):
    r = subprocess.run(["qemu-io", "-f", fmt, "-c", cmd, str(path)], capture_output=True,
                       text=True, timeout=TOOL_TIMEOUT)
    assert r.returncode == 0, r.stderr
    return "verification failed" not in r.stdout


def image_format(path):
    r = subprocess.run(["qemu-img", "info", "--output=json", "-U", str(path)],
                       capture_output=True, text=True, timeout=TOOL_TIMEOUT, check=True)
    return json.loads(r.stdout)["format"]


# ---- raw VDIs --------------------------------------------------------------------


def test_sm_config_type_raw_makes_a_raw_vdi(s, sr, vm):
    ref, d = sr
    vdi = new_vdi(s, ref, 16 * MiB + 1, "suspend-image", sm_config={"type": "raw"})
    rec = s("VDI.get_record", vdi)
    assert rec["location"].endswith(".raw") and rec["sm_config"]["type"] == "raw"
    assert rec["virtual_size"] == str(16 * MiB + 512)
    path = d / rec["location"]
    assert image_format(path) == "raw" and path.stat().st_size == 16 * MiB + 512
    assert path.stat().st_blocks == 0
    # other types of sm_config leave the SR's own format
    other = new_vdi(s, ref, 16 * MiB, sm_config={"type": "vhd"})
    assert image_format(image(s, d, other)) == "qcow2"
    # a raw disk is attached to a domain as raw
    attach_to(s, vm, vdi)
    s("VM.start", vm, False, False)
    vbd = s("VM.get_VBDs", vm)[0]
    assert s("VBD.get_currently_attached", vbd)
    s("VM.hard_shutdown", vm)
    # raw images have no snapshots on a file SR, as in XCP
    assert s.error("VDI.snapshot", vdi, {})[0] == "SR_BACKEND_FAILURE_82"


# ---- VDI.copy into an existing VDI -----------------------------------------------


def test_copy_into_an_existing_vdi(s, sr):
    ref, d = sr
    src = new_vdi(s, ref, 8 * MiB, "source")
    qemu_io(image(s, d, src), "qcow2", "write -P 0x5a 0 1M")
    dst = new_vdi(s, ref, 16 * MiB, "target")
    qemu_io(image(s, d, dst), "qcow2", "write -P 0x77 0 16M")
    before = set(s("SR.get_VDIs", ref))
    got = s("VDI.copy", src, "OpaqueRef:NULL", "OpaqueRef:NULL", dst)
    assert got == dst
    assert set(s("SR.get_VDIs", ref)) == before  # no new VDI
    rec = s("VDI.get_record", dst)
    assert rec["name_label"] == "target" and rec["virtual_size"] == str(16 * MiB)
    path = image(s, d, dst)
    assert qemu_io(path, "qcow2", "read -P 0x5a 0 1M")
    assert qemu_io(path, "qcow2", "read -P 0x00 1M 7M")
    assert qemu_io(path, "qcow2", "read -P 0x77 8M 8M")
    # as an async task too, into a raw VDI of another size
    raw = new_vdi(s, ref, 8 * MiB, "raw target", sm_config={"type": "raw"})
    task = s("Async.VDI.copy", src, "OpaqueRef:NULL", "OpaqueRef:NULL", raw)
    wait_until(lambda: s("task.get_status", task) != "pending", 120, what="the copy task")
    assert s("task.get_status", task) == "success", s("task.get_error_info", task)
    assert s("task.get_result", task).find(raw) >= 0
    assert qemu_io(image(s, d, raw), "raw", "read -P 0x5a 0 1M")


def test_copy_into_refusals(s, sr, vm):
    ref, d = sr
    src = new_vdi(s, ref, 8 * MiB, "source")
    small = new_vdi(s, ref, 4 * MiB, "small")
    assert s.error("VDI.copy", src, "OpaqueRef:NULL", "OpaqueRef:NULL", small) == [
        "VDI_TOO_SMALL", small, str(8 * MiB)]
    ro = new_vdi(s, ref, 8 * MiB, "ro", read_only=True)
    assert s.error("VDI.copy", src, "OpaqueRef:NULL", "OpaqueRef:NULL", ro) == [
        "VDI_READONLY", ro]
    busy = new_vdi(s, ref, 8 * MiB, "busy")
    attach_to(s, vm, busy)
    s("VM.start", vm, False, False)
    assert s.error("VDI.copy", src, "OpaqueRef:NULL", "OpaqueRef:NULL", busy) == [
        "VDI_IN_USE", busy, "copy"]
    s("VM.hard_shutdown", vm)
    # as in xapi, a ref that is no VDI asks for a new copy
    n = len(s("SR.get_VDIs", ref))
    got = s("VDI.copy", src, ref, "OpaqueRef:NULL", "OpaqueRef:NULL")
    assert got not in (src, small, ro, busy) and len(s("SR.get_VDIs", ref)) == n + 1


# ---- resize_online ---------------------------------------------------------------


def test_resize_online_is_not_offered_by_file_srs(s, sr, vm):
    ref, _ = sr
    sm = [r for r in s("SM.get_all_records").values() if r["type"] == "file"][0]
    assert "VDI_RESIZE_ONLINE" not in sm["capabilities"] and "VDI_RESIZE" in sm["capabilities"]
    vdi = new_vdi(s, ref, 8 * MiB)
    assert s.error("VDI.resize_online", vdi, str(16 * MiB)) == [
        "SR_OPERATION_NOT_SUPPORTED", ref]
    attach_to(s, vm, vdi)
    s("VM.start", vm, False, False)
    assert s.error("VDI.resize_online", vdi, str(16 * MiB)) == [
        "SR_OPERATION_NOT_SUPPORTED", ref]
    assert s.error("VDI.resize", vdi, str(16 * MiB)) == ["VDI_IN_USE", vdi, "resize"]
    s("VM.hard_shutdown", vm)
    s("VDI.resize", vdi, str(16 * MiB))
    assert s("VDI.get_virtual_size", vdi) == str(16 * MiB)


def test_resize_on_an_iso_sr_is_not_supported(s):
    iso = [r for r, rec in s("SR.get_all_records").items() if rec["type"] == "iso"][0]
    for v in s("SR.get_VDIs", iso):
        assert s.error("VDI.resize", v, str(1 << 30)) == ["SR_OPERATION_NOT_SUPPORTED", iso]


# ---- chains recorded without a scan ----------------------------------------------


def vdi_rows(s, sr):
    fields = ("uuid", "managed", "parent", "is_a_snapshot", "snapshot_of", "virtual_size",
              "physical_utilisation", "location", "read_only", "name_label", "type")
    return {v: {f: s("VDI.get_record", v)[f] for f in fields} for v in s("SR.get_VDIs", sr)}


@pytest.mark.parametrize("op", ["VDI.snapshot", "VDI.clone"])
def test_a_chain_operation_records_what_a_scan_would(s, sr, op):
    ref, d = sr
    vdi = new_vdi(s, ref, 8 * MiB, "chained")
    s("VDI.set_name_description", vdi, "kept")
    qemu_io(image(s, d, vdi), "qcow2", "write -P 0x42 0 2M")
    s("SR.scan", ref)
    new = s(op, vdi, {})
    rows = vdi_rows(s, ref)
    base = [v for v, r in rows.items() if not r["managed"]]
    assert len(base) == 1 and rows[base[0]]["read_only"]
    assert rows[vdi]["parent"] == base[0] and rows[new]["parent"] == base[0]
    assert rows[new]["is_a_snapshot"] == (op == "VDI.snapshot")
    assert rows[new]["snapshot_of"] == (vdi if op == "VDI.snapshot" else "OpaqueRef:NULL")
    # the VDI's own image is now an empty overlay: its row says so
    assert int(rows[vdi]["physical_utilisation"]) < 2 * MiB
    assert int(rows[base[0]]["physical_utilisation"]) >= 2 * MiB
    # a full scan finds nothing to correct
    s("SR.scan", ref)
    assert vdi_rows(s, ref) == rows


def scans(shost):
    return agent_call(shost, "storaged", "counters/show")["sr_scan"]["calls"]


def test_destroy_in_a_chain_records_the_merge_without_a_scan(shost, s, sr):
    ref, d = sr
    vdi = new_vdi(s, ref, 8 * MiB, "chained")
    qemu_io(image(s, d, vdi), "qcow2", "write -P 0x11 0 1M")
    first = s("VDI.snapshot", vdi, {})
    qemu_io(image(s, d, vdi), "qcow2", "write -P 0x22 1M 1M")
    second = s("VDI.snapshot", vdi, {})
    before = vdi_rows(s, ref)
    bases = [v for v, r in before.items() if not r["managed"]]
    assert len(bases) == 2
    lower = [b for b in bases if before[b]["parent"] == "OpaqueRef:NULL"][0]
    upper = [b for b in bases if b != lower][0]
    n = scans(shost)
    s("VDI.destroy", first)
    assert scans(shost) == n  # the rows come from vdi_delete's answer
    rows = vdi_rows(s, ref)
    # the lower base had only the upper one left: merged into it
    assert lower not in rows and first not in rows
    assert rows[upper]["parent"] == "OpaqueRef:NULL"
    assert int(rows[upper]["physical_utilisation"]) >= 2 * MiB
    assert rows[vdi]["parent"] == upper and rows[second]["parent"] == upper
    assert rows[second]["snapshot_of"] == vdi
    sr_rec = s("SR.get_record", ref)
    s("SR.scan", ref)
    assert scans(shost) == n + 1
    assert vdi_rows(s, ref) == rows  # a full scan finds nothing to correct
    assert s("SR.get_record", ref)["virtual_allocation"] == sr_rec["virtual_allocation"]
    # the merged chain still reads as it was written
    path = image(s, d, second)
    assert qemu_io(path, "qcow2", "read -P 0x11 0 1M")
    assert qemu_io(path, "qcow2", "read -P 0x22 1M 1M")


def test_destroy_of_a_snapshotted_vdi_records_its_snapshot_without_a_scan(shost, s, sr):
    ref, d = sr
    vdi = new_vdi(s, ref, 8 * MiB, "origin")
    qemu_io(image(s, d, vdi), "qcow2", "write -P 0x33 0 1M")
    snap = s("VDI.snapshot", vdi, {})
    n = scans(shost)
    s("VDI.destroy", vdi)
    assert scans(shost) == n
    rows = vdi_rows(s, ref)
    # the base merged into the snapshot, the only VDI left; its origin is gone
    assert list(rows) == [snap]
    assert rows[snap]["parent"] == "OpaqueRef:NULL" and rows[snap]["snapshot_of"] == "OpaqueRef:NULL"
    assert int(rows[snap]["physical_utilisation"]) >= 1 * MiB
    s("SR.scan", ref)
    assert vdi_rows(s, ref) == rows
    assert qemu_io(image(s, d, snap), "qcow2", "read -P 0x33 0 1M")



# ---- VDI.revert ------------------------------------------------------------------


def test_revert_gives_the_vdi_its_snapshots_content(shost, s, sr, vm):
    ref, d = sr
    assert "VDI_REVERT" in [r for r in s("SM.get_all_records").values()
                            if r["type"] == "file"][0]["capabilities"]
    vdi = new_vdi(s, ref, 8 * MiB, "reverted")
    vbd = attach_to(s, vm, vdi)
    qemu_io(image(s, d, vdi), "qcow2", "write -P 0x11 0 1M")
    snap = s("VDI.snapshot", vdi, {})
    qemu_io(image(s, d, vdi), "qcow2", "write -P 0x22 0 2M")
    s("VDI.resize", vdi, str(16 * MiB))
    n = scans(shost)
    s("VDI.revert", snap)
    assert scans(shost) == n  # rows from vdi_revert's answer
    # the same VDI, with its VBD, holds the snapshot's content and size again
    assert s("VDI.get_VBDs", vdi) == [vbd]
    assert s("VDI.get_virtual_size", vdi) == str(8 * MiB)
    assert qemu_io(image(s, d, vdi), "qcow2", "read -P 0x11 0 1M")
    assert qemu_io(image(s, d, vdi), "qcow2", "read -P 0x00 1M 1M")
    assert qemu_io(image(s, d, snap), "qcow2", "read -P 0x11 0 1M")
    rows = vdi_rows(s, ref)
    assert rows[snap]["snapshot_of"] == vdi and rows[snap]["is_a_snapshot"]
    assert rows[vdi]["parent"] == rows[snap]["parent"] != "OpaqueRef:NULL"
    s("SR.scan", ref)
    assert vdi_rows(s, ref) == rows  # a full scan finds nothing to correct
    # what the VDI wrote after the snapshot is gone from the SR
    assert len([v for v, r in rows.items() if not r["managed"]]) == 1
    # the reverted VDI lives on: it boots, snapshots again and is destroyed
    s("VM.start", vm, False, False)
    s("VM.hard_shutdown", vm)
    again = s("VDI.snapshot", vdi, {})
    s("VDI.destroy", snap)
    s("VDI.destroy", again)
    assert qemu_io(image(s, d, vdi), "qcow2", "read -P 0x11 0 1M")
    rows = vdi_rows(s, ref)
    s("SR.scan", ref)
    assert vdi_rows(s, ref) == rows


def test_revert_refusals(s, sr, vm):
    ref, d = sr
    vdi = new_vdi(s, ref, 8 * MiB, "busy")
    assert s.error("VDI.revert", vdi) == ["ONLY_REVERT_SNAPSHOT"]
    snap = s("VDI.snapshot", vdi, {})
    attach_to(s, vm, vdi)
    s("VM.start", vm, False, False)
    assert s.error("VDI.revert", snap) == ["VDI_IN_USE", vdi, "revert_from"]
    s("VM.hard_shutdown", vm)
    assert s.error("VDI.revert", "OpaqueRef:nope")[0] == "HANDLE_INVALID"
    # the ISO library's driver has no revert
    iso = [r for r, rec in s("SR.get_all_records").items() if rec["type"] == "iso"][0]
    for v in s("SR.get_VDIs", iso)[:1]:
        assert s.error("VDI.revert", v) == ["SR_OPERATION_NOT_SUPPORTED", iso]


def test_storaged_reverts_only_to_snapshots(shost, s, sr):
    ref, _ = sr
    vdi = new_vdi(s, ref, 8 * MiB, "not a snapshot")
    sr_uuid, uuid = s("SR.get_uuid", ref), s("VDI.get_uuid", vdi)
    _, err = agent_answer(shost, "storaged", "vdi_revert", sr_uuid=sr_uuid, snapshot_uuid=uuid)
    assert err["data"]["error"] == "SR_BACKEND_FAILURE_81"
    _, err = agent_answer(shost, "storaged", "vdi_revert", sr_uuid=sr_uuid, snapshot_uuid="x")
    assert err["code"] == -32602
