"""Compressed XVAs, as XCP makes and reads them: xe vm-export
compress=true|gzip|zstd and GET /export?use_compression=, and imports that
find gzip or zstd by the archive's magic number, whoever compressed it
(xapi itself or the gzip and zstd tools). A corrupt or cut compressed
stream fails the import cleanly and leaves nothing behind."""
import gzip
import http.client
import re
import shutil
import subprocess
import tarfile
import urllib.parse

import pytest

from test_cli import UUID, xe
from test_cli_export import (destroy_vm_and_disks, expected, guest_content, image_path, s,
                             tmp, vm_with_disk)

MiB = 1024 * 1024
GZIP_MAGIC = b"\x1f\x8b"
ZSTD_MAGIC = b"\x28\xb5\x2f\xfd"



def need(tool):
    if not shutil.which(tool):
        pytest.skip("%s is not installed" % tool)


def decompress(path, magic):
    """The plain tar archive of a compressed export (bytes)."""
    data = path.read_bytes()
    if magic == GZIP_MAGIC:
        return gzip.decompress(data)
    need("zstd")
    return subprocess.run(["zstd", "-dc"], input=data, capture_output=True, check=True,
                          timeout=120).stdout


def import_and_check(host, s, xva):
    code, out, err = xe(host, "vm-import", "filename=" + str(xva))
    assert code == 0, err
    assert re.fullmatch(UUID, out.strip())
    new = s("VM.get_by_uuid", out.strip())
    try:
        assert s("VM.get_name_label", new) == "cli-export"
        (vbd,) = s("VM.get_VBDs", new)
        assert guest_content(image_path(host, s, s("VBD.get_VDI", vbd))) == expected(4 * MiB)
    finally:
        destroy_vm_and_disks(s, new)


def put_import(host, s, body):
    """PUT /import of body: the import task's status and error_info."""
    conn = http.client.HTTPConnection("127.0.0.1", host.http_port, timeout=120)
    conn.request("PUT", "/import?" + urllib.parse.urlencode({"session_id": s.ref}), body=body,
                 headers={"Content-Length": str(len(body))})
    resp = conn.getresponse()
    resp.read()
    conn.close()
    task = resp.getheader("task-id")
    try:
        return s("task.get_status", task), s("task.get_error_info", task)
    finally:
        s("task.destroy", task)


IMPORT_ERRORS = ("IMPORT_ERROR", "IMPORT_ERROR_PREMATURE_EOF",
                 "IMPORT_ERROR_SOME_CHECKSUMS_FAILED")


def objects(s):
    return set(s("VM.get_all")), set(s("VDI.get_all")), set(s("VBD.get_all"))


@pytest.mark.parametrize("compress,magic", [("true", GZIP_MAGIC), ("gzip", GZIP_MAGIC),
                                            ("zstd", ZSTD_MAGIC)])
def test_compressed_export_round_trip(host, s, vm_with_disk, tmp, compress, magic):
    vm, vdi = vm_with_disk
    xva = tmp / "vm.xva"
    code, out, err = xe(host, "vm-export", "vm=" + s("VM.get_uuid", vm), "filename=" + str(xva),
                        "compress=" + compress)
    assert code == 0, err
    assert xva.read_bytes()[:len(magic)] == magic
    plain = tmp / "plain.tar"
    plain.write_bytes(decompress(xva, magic))
    with tarfile.open(plain) as t:
        names = t.getnames()
    assert names[0] == "ova.xml"
    assert "Ref:" in names[1] and names[2].endswith(".checksum")
    # the compressed archive is smaller than the plain one
    assert xva.stat().st_size < plain.stat().st_size
    import_and_check(host, s, xva)


def test_compress_false_or_unknown_exports_plain(host, s, vm_with_disk, tmp):
    vm, vdi = vm_with_disk
    for value in ("false", "lz4"):
        xva = tmp / ("vm-%s.xva" % value)
        code, out, err = xe(host, "vm-export", "vm=" + s("VM.get_uuid", vm),
                            "filename=" + str(xva), "compress=" + value)
        assert code == 0, err
        with tarfile.open(xva, "r:") as t:
            assert t.getnames()[0] == "ova.xml"


@pytest.mark.parametrize("value,magic", [("true", GZIP_MAGIC), ("zstd", ZSTD_MAGIC)])
def test_http_export_use_compression(host, s, vm_with_disk, value, magic):
    vm, vdi = vm_with_disk
    conn = http.client.HTTPConnection("127.0.0.1", host.http_port, timeout=120)
    query = urllib.parse.urlencode({"session_id": s.ref, "uuid": s("VM.get_uuid", vm),
                                    "use_compression": value})
    conn.request("GET", "/export?" + query)
    resp = conn.getresponse()
    body = resp.read()
    conn.close()
    assert resp.status == 200
    assert resp.getheader("task-id", "").startswith("OpaqueRef:")
    assert body[:len(magic)] == magic


@pytest.mark.parametrize("tool,magic", [("gzip", GZIP_MAGIC), ("zstd", ZSTD_MAGIC)])
def test_import_of_an_archive_compressed_by_the_tool(host, s, vm_with_disk, tmp, tool, magic):
    need(tool)
    vm, vdi = vm_with_disk
    xva = tmp / "vm.xva"
    code, out, err = xe(host, "vm-export", "vm=" + s("VM.get_uuid", vm), "filename=" + str(xva))
    assert code == 0, err
    subprocess.run([tool, "-q", str(xva)], check=True, timeout=120)
    packed = tmp / ("vm.xva." + ("gz" if tool == "gzip" else "zst"))
    assert packed.read_bytes()[:len(magic)] == magic
    import_and_check(host, s, packed)


def test_import_over_http_of_a_gzip_archive_with_several_members(host, s, vm_with_disk, tmp):
    """Concatenated gzip members are one stream, as gzip -d reads them."""
    vm, vdi = vm_with_disk
    xva = tmp / "vm.xva"
    code, out, err = xe(host, "vm-export", "vm=" + s("VM.get_uuid", vm), "filename=" + str(xva))
    assert code == 0, err
    data = xva.read_bytes()
    half = len(data) // 2
    packed = tmp / "two.xva.gz"
    packed.write_bytes(gzip.compress(data[:half]) + gzip.compress(data[half:]))
    import_and_check(host, s, packed)


@pytest.mark.parametrize("compress", ["gzip", "zstd"])
@pytest.mark.parametrize("damage", ["corrupt", "truncated"])
def test_a_damaged_compressed_archive_fails_cleanly(host, s, vm_with_disk, tmp, compress, damage):
    vm, vdi = vm_with_disk
    xva = tmp / "vm.xva"
    code, out, err = xe(host, "vm-export", "vm=" + s("VM.get_uuid", vm), "filename=" + str(xva),
                        "compress=" + compress)
    assert code == 0, err
    data = bytearray(xva.read_bytes())
    if damage == "corrupt":
        # past ova.xml, in the disk's data: the VM and its disk were made
        # before the damage is met, and must go again
        for i in range(len(data) * 3 // 4, len(data) * 3 // 4 + 64):
            data[i] ^= 0x5a
    else:
        data = data[:len(data) * 3 // 4]
    before = objects(s)
    status, error = put_import(host, s, bytes(data))
    assert status == "failure"
    assert error[0] in IMPORT_ERRORS, error
    if damage == "truncated":
        assert error == ["IMPORT_ERROR_PREMATURE_EOF"]
    assert objects(s) == before
    # the host still works
    assert host.alive()
    assert s("VM.get_name_label", vm) == "cli-export"


def test_garbage_with_a_gzip_magic_fails_cleanly(host, s, tmp):
    bad = tmp / "junk.xva"
    bad.write_bytes(GZIP_MAGIC + b"\x08\x00" + b"junk" * 5000)
    before = objects(s)
    status, error = put_import(host, s, bad.read_bytes())
    assert status == "failure"
    assert error[0] == "IMPORT_ERROR" and error[1].startswith("gzip: "), error
    # xe says it in its words
    code, out, err = xe(host, "vm-import", "filename=" + str(bad))
    assert code != 0
    assert "The VM could not be imported" in err and "gzip" in err, err
    assert objects(s) == before
