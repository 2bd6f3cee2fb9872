"""xe vm-export, vm-import, vdi-export and vdi-import: the thin client
moves the file over a side connection (HttpGet / HttpPut) to xapi's
/export, /import, /export_raw_vdi and /import_raw_vdi, over the Unix
socket, plain HTTP and TLS; the command reports from its task."""
import os
import re
import shutil
import subprocess
import tarfile
import tempfile

import pytest

from test_cli import UUID, xe
from xeniatest import vm_record

MiB = 1024 * 1024
CONTENT = [(0x5c, 0, MiB), (0x3d, 3 * MiB, 4096)]


@pytest.fixture(scope="module")
def s(host):
    if not shutil.which("qemu-io") or not shutil.which("nbdcopy"):
        pytest.skip("qemu-io or nbdcopy is not installed")
    with host.session() as session:
        yield session


@pytest.fixture
def tmp(tmp_path):
    return tmp_path


def image_path(host, s, vdi):
    return host.state_dir / "sr-local" / s("VDI.get_location", vdi)


def guest_content(path):
    with tempfile.TemporaryDirectory() as d:
        raw = os.path.join(d, "disk.raw")
        subprocess.run(["qemu-img", "convert", "-O", "raw", str(path), raw], check=True,
                       capture_output=True, timeout=120)
        with open(raw, "rb") as f:
            return f.read()


def expected(size):
    buf = bytearray(size)
    for pattern, offset, length in CONTENT:
        buf[offset:offset + length] = bytes([pattern]) * length
    return bytes(buf)


@pytest.fixture(scope="module")
def vm_with_disk(host, s):
    sr = s("pool.get_default_SR", s("pool.get_all")[0])
    vm = s("VM.create", vm_record(name_label="cli-export"))
    vdi = s("VDI.create", {"SR": sr, "virtual_size": str(4 * MiB), "type": "user",
                           "sharable": False, "read_only": False, "other_config": {},
                           "name_label": "cli-disk"})
    args = ["qemu-io", "-f", "qcow2"]
    for pattern, offset, length in CONTENT:
        args += ["-c", "write -P 0x%02x %d %d" % (pattern, offset, length)]
    subprocess.run(args + [str(image_path(host, s, vdi))], check=True, capture_output=True)
    s("VBD.create", {"VM": vm, "VDI": vdi, "userdevice": "0", "bootable": True, "mode": "RW",
                     "type": "Disk", "empty": False, "other_config": {},
                     "qos_algorithm_type": "", "qos_algorithm_params": {}})
    yield vm, vdi
    for v in s("VM.get_VBDs", vm):
        s("VBD.destroy", v)
    s("VDI.destroy", vdi)
    s("VM.destroy", vm)


def destroy_vm_and_disks(s, vm):
    for v in s("VM.get_VBDs", vm):
        vdi = s("VBD.get_VDI", v)
        s("VBD.destroy", v)
        s("VDI.destroy", vdi)
    s("VM.destroy", vm)


@pytest.mark.parametrize("remote", [None, "http", "https"])
def test_vm_export_then_import(host, s, vm_with_disk, tmp, remote):
    vm, vdi = vm_with_disk
    xva = tmp / "vm.xva"
    code, out, err = xe(host, "vm-export", "vm=" + s("VM.get_uuid", vm), "filename=" + str(xva),
                        remote=remote)
    assert code == 0, err
    assert out.strip() == "Export succeeded"
    assert oct(os.stat(xva).st_mode & 0o777) == "0o600"
    with tarfile.open(xva) as t:
        assert t.getnames()[0] == "ova.xml"
    code, out, err = xe(host, "vm-import", "filename=" + str(xva), remote=remote)
    assert code == 0, err
    new_uuid = out.strip()
    assert re.fullmatch(UUID, new_uuid)
    new = s("VM.get_by_uuid", new_uuid)
    try:
        assert s("VM.get_name_label", new) == "cli-export"
        (vbd,) = s("VM.get_VBDs", new)
        assert guest_content(image_path(host, s, s("VBD.get_VDI", vbd))) == expected(4 * MiB)
    finally:
        destroy_vm_and_disks(s, new)


@pytest.mark.parametrize("remote", [None, "https"])
def test_vdi_export_then_import(host, s, vm_with_disk, tmp, remote):
    vm, vdi = vm_with_disk
    raw = tmp / "disk.raw"
    code, out, err = xe(host, "vdi-export", "uuid=" + s("VDI.get_uuid", vdi),
                        "filename=" + str(raw), "format=raw", remote=remote)
    assert code == 0, err
    assert raw.read_bytes() == expected(4 * MiB)
    sr = s("VDI.get_SR", vdi)
    target = s("VDI.create", {"SR": sr, "virtual_size": str(4 * MiB), "type": "user",
                              "sharable": False, "read_only": False, "other_config": {},
                              "name_label": "cli-target"})
    try:
        code, out, err = xe(host, "vdi-import", "uuid=" + s("VDI.get_uuid", target),
                            "filename=" + str(raw), "format=raw", remote=remote)
        assert code == 0, err
        assert guest_content(image_path(host, s, target)) == expected(4 * MiB)
    finally:
        s("VDI.destroy", target)


def test_vdi_import_too_large_reports_the_error(host, s, vm_with_disk, tmp):
    vm, vdi = vm_with_disk
    sr = s("VDI.get_SR", vdi)
    small = s("VDI.create", {"SR": sr, "virtual_size": str(MiB), "type": "user",
                             "sharable": False, "read_only": False, "other_config": {},
                             "name_label": "small"})
    big = tmp / "big.raw"
    big.write_bytes(b"\x01" * (2 * MiB))
    try:
        code, out, err = xe(host, "vdi-import", "uuid=" + s("VDI.get_uuid", small),
                            "filename=" + str(big))
        assert code != 0
        assert "VDI_TOO_SMALL" in err or "too small" in err.lower(), err
    finally:
        s("VDI.destroy", small)


def test_vm_import_of_a_bad_file_fails(host, s, tmp):
    junk = tmp / "junk.xva"
    junk.write_bytes(b"not an archive" * 1000)
    code, out, err = xe(host, "vm-import", "filename=" + str(junk))
    assert code != 0
    assert "IMPORT_ERROR" in err or "import" in err.lower(), err


def test_export_refuses_what_is_not_supported(host, s, vm_with_disk, tmp):
    vm, vdi = vm_with_disk
    code, out, err = xe(host, "vm-export", "vm=" + s("VM.get_uuid", vm),
                        "filename=" + str(tmp / "x.xva"), "include-snapshots=true")
    assert code != 0 and "not supported" in err, err


def test_export_to_an_existing_file_fails_at_once(host, s, vm_with_disk, tmp):
    vm, vdi = vm_with_disk
    there = tmp / "there.xva"
    there.write_bytes(b"keep me")
    code, out, err = xe(host, "vm-export", "vm=" + s("VM.get_uuid", vm),
                        "filename=" + str(there))
    assert code != 0
    assert there.read_bytes() == b"keep me"
    # the command's task is gone
    assert not [t for t in s("task.get_all") if s("task.get_name_label", t) == "VM.export"]


def test_vm_export_metadata_writes_ova_xml_alone(host, s, vm_with_disk, tmp):
    vm, vdi = vm_with_disk
    xva = tmp / "meta.xva"
    code, out, err = xe(host, "vm-export", "vm=" + s("VM.get_uuid", vm), "filename=" + str(xva),
                        "metadata=true")
    assert code == 0, err
    assert out.strip() == "Export succeeded"
    with tarfile.open(xva) as t:
        assert t.getnames() == ["ova.xml"]
        assert b"cli-disk" in t.extractfile("ova.xml").read()


def test_snapshot_export_to_template_imports_as_a_template(host, s, vm_with_disk, tmp):
    vm, vdi = vm_with_disk
    snap = s("VM.snapshot", vm, "cli-snap")
    xva = tmp / "snap.xva"
    try:
        code, out, err = xe(host, "snapshot-export-to-template",
                            "snapshot-uuid=" + s("VM.get_uuid", snap), "filename=" + str(xva))
        assert code == 0, err
        assert out.strip() == "Export succeeded"
        code, out, err = xe(host, "vm-import", "filename=" + str(xva))
        assert code == 0, err
        new = s("VM.get_by_uuid", out.strip())
        try:
            assert s("VM.get_is_a_template", new) is True
            assert s("VM.get_is_a_snapshot", new) is False
            assert s("VM.get_name_label", new) == "cli-snap"
            (vbd,) = s("VM.get_VBDs", new)
            assert guest_content(image_path(host, s, s("VBD.get_VDI", vbd))) == expected(4 * MiB)
        finally:
            destroy_vm_and_disks(s, new)
    finally:
        destroy_vm_and_disks(s, snap)


def test_snapshot_export_to_template_refuses_a_vm(host, s, vm_with_disk, tmp):
    vm, vdi = vm_with_disk
    code, out, err = xe(host, "snapshot-export-to-template", "snapshot-uuid=" + s("VM.get_uuid", vm),
                        "filename=" + str(tmp / "x.xva"))
    assert code != 0 and "not a snapshot" in err
    assert not (tmp / "x.xva").exists()


def qemu_write(path, writes):
    args = ["qemu-io", "-f", "qcow2"]
    for pattern, offset, length in writes:
        args += ["-c", "write -P 0x%02x %d %d" % (pattern, offset, length)]
    subprocess.run(args + [str(path)], check=True, capture_output=True, timeout=120)


def test_vdi_export_vhd_with_base(host, s, tmp):
    """xe vdi-export format=vhd base=: the blocks written since the base
    snapshot only; the full VHD imports back with vdi-import format=vhd."""
    sr = s("pool.get_default_SR", s("pool.get_all")[0])
    vdi = s("VDI.create", {"SR": sr, "virtual_size": str(4 * MiB), "type": "user",
                           "sharable": False, "read_only": False, "other_config": {},
                           "name_label": "cli-vhd-src"})
    qemu_write(image_path(host, s, vdi), CONTENT)
    base = s("VDI.snapshot", vdi, {})
    qemu_write(image_path(host, s, vdi), [(0x77, 2 * MiB, 4096)])
    top = s("VDI.snapshot", vdi, {})
    try:
        full, delta = tmp / "full.vhd", tmp / "delta.vhd"
        code, _, err = xe(host, "vdi-export", "uuid=" + s("VDI.get_uuid", top),
                          "filename=" + str(full), "format=vhd")
        assert code == 0, err
        code, _, err = xe(host, "vdi-export", "uuid=" + s("VDI.get_uuid", top),
                          "filename=" + str(delta), "format=vhd",
                          "base=" + s("VDI.get_uuid", base))
        assert code == 0, err
        # The full image has the two written blocks, the delta one.
        assert os.path.getsize(full) - os.path.getsize(delta) == 2 * MiB + 512
        target = s("VDI.create", {"SR": s("VDI.get_SR", vdi), "virtual_size": str(4 * MiB),
                                  "type": "user", "sharable": False, "read_only": False,
                                  "other_config": {}, "name_label": "cli-vhd"})
        try:
            code, _, err = xe(host, "vdi-import", "uuid=" + s("VDI.get_uuid", target),
                              "filename=" + str(full), "format=vhd")
            assert code == 0, err
            want = bytearray(expected(4 * MiB))
            want[2 * MiB:2 * MiB + 4096] = b"\x77" * 4096
            assert guest_content(image_path(host, s, target)) == bytes(want)
        finally:
            s("VDI.destroy", target)
    finally:
        for v in (top, base, vdi):
            s("VDI.destroy", v)
