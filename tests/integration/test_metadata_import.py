"""xe vm-import metadata=true and PUT /import_metadata: the counterpart of
/export_metadata, as XCP's metadata import does it. The VM's records come
back linked to the VDIs that are still there (found by SR uuid and
location, or mapped with vdi:<uuid>=<uuid>); a missing disk is
VDI_LOCATION_MISSING unless force=true; dry-run makes nothing."""
import gzip
import http.client
import re
import urllib.parse

import pytest

from test_cli import UUID, xe
from test_cli_export import s, tmp
from xeniatest import vm_record

MiB = 1024 * 1024
DRY_RUN_UUID = "xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx"


@pytest.fixture(scope="module")
def sr(s):
    return s("pool.get_default_SR", s("pool.get_all")[0])


def make_vdi(s, sr, name):
    return s("VDI.create", {"SR": sr, "virtual_size": str(MiB), "type": "user",
                            "sharable": False, "read_only": False, "other_config": {},
                            "name_label": name})


@pytest.fixture
def vm_disk(s, sr):
    """A halted VM with one disk and a CD drive; yields (vm, vdi). Whatever
    is left of both (and of VMs made on the disk) is destroyed after."""
    vm = s("VM.create", vm_record(name_label="meta-vm"))
    vdi = make_vdi(s, sr, "meta-disk")
    s("VBD.create", {"VM": vm, "VDI": vdi, "userdevice": "0", "bootable": True, "mode": "RW",
                     "type": "Disk", "empty": False, "other_config": {},
                     "qos_algorithm_type": "", "qos_algorithm_params": {}})
    s("VBD.create", {"VM": vm, "VDI": "OpaqueRef:NULL", "userdevice": "3", "bootable": False,
                     "mode": "RO", "type": "CD", "empty": True, "other_config": {},
                     "qos_algorithm_type": "", "qos_algorithm_params": {}})
    state = {"vdis": [vdi]}
    yield vm, vdi, state
    for v in s("VM.get_all"):
        if s("VM.get_name_label", v) == "meta-vm":
            for b in s("VM.get_VBDs", v):
                s("VBD.destroy", b)
            s("VM.destroy", v)
    for d in state["vdis"]:
        if d in s("VDI.get_all"):
            s("VDI.destroy", d)


def export_metadata(host, s, vm, path):
    code, out, err = xe(host, "vm-export", "vm=" + s("VM.get_uuid", vm), "filename=" + str(path),
                        "metadata=true")
    assert code == 0, err


def destroy_keeping_disks(s, vm):
    for b in s("VM.get_VBDs", vm):
        s("VBD.destroy", b)
    s("VM.destroy", vm)


def disks_of(s, vm):
    return sorted(s("VBD.get_VDI", b) for b in s("VM.get_VBDs", vm)
                  if s("VBD.get_type", b) == "Disk")


def meta_vms(s):
    return [v for v in s("VM.get_all") if s("VM.get_name_label", v) == "meta-vm"]


@pytest.mark.parametrize("preserve", [False, True])
def test_metadata_round_trip_relinks_the_disk(host, s, vm_disk, tmp, preserve):
    vm, vdi, _ = vm_disk
    uuid = s("VM.get_uuid", vm)
    meta = tmp / "meta.xva"
    export_metadata(host, s, vm, meta)
    destroy_keeping_disks(s, vm)
    args = ["vm-import", "filename=" + str(meta), "metadata=true"]
    if preserve:
        args.append("preserve=true")
    code, out, err = xe(host, *args)
    assert code == 0, err
    new_uuid = out.strip()
    assert re.fullmatch(UUID, new_uuid)
    assert (new_uuid == uuid) == preserve
    new = s("VM.get_by_uuid", new_uuid)
    assert s("VM.get_name_label", new) == "meta-vm"
    assert disks_of(s, new) == [vdi]
    # the CD drive came back empty
    cds = [b for b in s("VM.get_VBDs", new) if s("VBD.get_type", b) == "CD"]
    assert len(cds) == 1 and s("VBD.get_empty", cds[0])
    assert "start" in s("VM.get_allowed_operations", new)


def test_metadata_import_while_the_vm_exists_makes_a_second_vm(host, s, vm_disk, tmp):
    vm, vdi, _ = vm_disk
    meta = tmp / "meta.xva"
    export_metadata(host, s, vm, meta)
    code, out, err = xe(host, "vm-import", "filename=" + str(meta), "metadata=true")
    assert code == 0, err
    new = s("VM.get_by_uuid", out.strip())
    assert new != vm
    assert disks_of(s, new) == [vdi]


def test_metadata_import_with_preserve_refuses_to_replace_a_vm_not_older(host, s, vm_disk, tmp):
    vm, vdi, _ = vm_disk
    meta = tmp / "meta.xva"
    export_metadata(host, s, vm, meta)
    code, out, err = xe(host, "vm-import", "filename=" + str(meta), "metadata=true",
                        "preserve=true")
    assert code != 0
    assert "same version or an older version of an existing VM" in err, err
    assert meta_vms(s) == [vm]


def test_dry_run_makes_nothing(host, s, vm_disk, tmp):
    vm, vdi, _ = vm_disk
    meta = tmp / "meta.xva"
    export_metadata(host, s, vm, meta)
    destroy_keeping_disks(s, vm)
    before = set(s("VM.get_all")), set(s("VBD.get_all"))
    code, out, err = xe(host, "vm-import", "filename=" + str(meta), "metadata=true",
                        "dry-run=true")
    assert code == 0, err
    assert out.strip() == DRY_RUN_UUID
    assert (set(s("VM.get_all")), set(s("VBD.get_all"))) == before


def test_dry_run_needs_metadata(host, s, tmp):
    code, out, err = xe(host, "vm-import", "filename=" + str(tmp / "x.xva"), "dry-run=true")
    assert code != 0
    assert "Only metadata import function support dry-run" in err


def test_a_missing_disk_fails_unless_forced(host, s, sr, vm_disk, tmp):
    vm, vdi, _ = vm_disk
    location = s("VDI.get_location", vdi)
    meta = tmp / "meta.xva"
    export_metadata(host, s, vm, meta)
    destroy_keeping_disks(s, vm)
    s("VDI.destroy", vdi)
    before = set(s("VM.get_all")), set(s("VBD.get_all"))
    code, out, err = xe(host, "vm-import", "filename=" + str(meta), "metadata=true")
    assert code != 0
    assert "could not be found in the specified SR" in err and location in err, err
    assert (set(s("VM.get_all")), set(s("VBD.get_all"))) == before
    # force: the VM comes back without the disk
    code, out, err = xe(host, "vm-import", "filename=" + str(meta), "metadata=true",
                        "force=true")
    assert code == 0, err
    new = s("VM.get_by_uuid", out.strip())
    assert disks_of(s, new) == []


def test_vdi_map_links_another_disk(host, s, sr, vm_disk, tmp):
    vm, vdi, state = vm_disk
    other = make_vdi(s, sr, "meta-other")
    state["vdis"].append(other)
    meta = tmp / "meta.xva"
    export_metadata(host, s, vm, meta)
    destroy_keeping_disks(s, vm)
    code, out, err = xe(host, "vm-import", "filename=" + str(meta), "metadata=true",
                        "vdi:%s=%s" % (s("VDI.get_uuid", vdi), s("VDI.get_uuid", other)))
    assert code == 0, err
    assert disks_of(s, s("VM.get_by_uuid", out.strip())) == [other]


def test_http_import_metadata_of_a_gzip_archive(host, s, vm_disk, tmp):
    vm, vdi, _ = vm_disk
    meta = tmp / "meta.xva"
    export_metadata(host, s, vm, meta)
    destroy_keeping_disks(s, vm)
    body = gzip.compress(meta.read_bytes())
    conn = http.client.HTTPConnection("127.0.0.1", host.http_port, timeout=120)
    conn.request("PUT", "/import_metadata?" + urllib.parse.urlencode({"session_id": s.ref}),
                 body=body, headers={"Content-Length": str(len(body))})
    resp = conn.getresponse()
    resp.read()
    conn.close()
    assert resp.status == 200
    task = resp.getheader("task-id")
    assert s("task.get_status", task) == "success", s("task.get_error_info", task)
    (new,) = re.findall(r"OpaqueRef:[0-9a-f-]+", s("task.get_result", task))
    assert s("VM.get_name_label", new) == "meta-vm"
    assert disks_of(s, new) == [vdi]
    s("task.destroy", task)


def test_import_metadata_of_garbage_fails_cleanly(host, s, tmp):
    junk = tmp / "junk.xva"
    junk.write_bytes(b"\x00garbage" * 300)
    before = set(s("VM.get_all"))
    code, out, err = xe(host, "vm-import", "filename=" + str(junk), "metadata=true")
    assert code != 0
    assert "The VM could not be imported" in err and "not a tar archive" in err, err
    assert set(s("VM.get_all")) == before
