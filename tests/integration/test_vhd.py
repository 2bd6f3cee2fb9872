"""format=vhd on GET /export_raw_vdi and PUT /import_raw_vdi, as XCP's
vhd-tool serves them and Xen Orchestra uses them: a dynamic VHD holding
only the blocks with data, base= for the blocks that differ from another
VDI (delta backups), and dynamic or fixed VHDs imported into a VDI (only
their data is written, as XCP does; differencing VHDs and blocks stored out
of order: test_vhd_import_diff.py). The images are checked with qemu's own
VHD (vpc) reader and made by its writer."""
import os
import shutil
import subprocess
import tempfile

import pytest

from test_export_import import (MiB, expected, guest_content, image_path, make_vdi,
                                qemu_write, request, task_done)

BLOCK = 2 * MiB


@pytest.fixture(scope="module")
def s(host):
    if not shutil.which("qemu-io") or not shutil.which("nbdcopy"):
        pytest.skip("qemu-io or nbdcopy is not installed")
    with host.session() as session:
        yield session


@pytest.fixture(scope="module")
def sr(s):
    return s("pool.get_default_SR", s("pool.get_all")[0])


@pytest.fixture
def tmp():
    with tempfile.TemporaryDirectory() as d:
        yield d


def export_vhd(host, s, vdi, base=None):
    task = s("task.create", "export", "")
    query = {"session_id": s.ref, "task_id": task, "vdi": vdi, "format": "vhd"}
    if base:
        query["base"] = base
    resp, data = request(host, "GET", "/export_raw_vdi", query)
    rec = task_done(s, task)
    s("task.destroy", task)
    return resp, data, rec


def import_vhd(host, s, vdi, body):
    task = s("task.create", "import", "")
    resp, _ = request(host, "PUT", "/import_raw_vdi",
                      {"session_id": s.ref, "task_id": task, "vdi": vdi, "format": "vhd"},
                      body=body)
    rec = task_done(s, task)
    s("task.destroy", task)
    return resp, rec


def qemu_info(path):
    out = subprocess.run(["qemu-img", "info", "--output=json", "-f", "vpc", path],
                         check=True, capture_output=True, text=True, timeout=60).stdout
    import json
    return json.loads(out)


def vhd_blocks(data):
    """The block numbers a dynamic VHD's BAT lists."""
    assert data[:8] == b"conectix"
    table = int.from_bytes(data[512 + 16:512 + 24], "big")
    entries = int.from_bytes(data[512 + 28:512 + 32], "big")
    bat = data[table:table + 4 * entries]
    return [i for i in range(entries) if bat[4 * i:4 * i + 4] != b"\xff\xff\xff\xff"]


WRITES = [(0xab, 0, MiB), (0xcd, 5 * MiB + 512, 4096), (0x11, 9 * MiB, MiB)]


def test_export_is_a_dynamic_vhd_of_the_blocks_with_data(host, s, sr, tmp):
    size = 10 * MiB
    vdi = make_vdi(s, sr, size, "vhd-out")
    qemu_write(image_path(host, s, vdi), *WRITES)
    resp, data, rec = export_vhd(host, s, s("VDI.get_uuid", vdi))
    assert resp.status == 200, data
    assert rec["status"] == "success", rec["error_info"]
    # XCP's Importexport.Format: application/vhd, <uuid>.vhd.
    assert resp.getheader("content-type") == "application/vhd"
    assert resp.getheader("content-disposition") == \
        'attachment; filename="%s.vhd"' % s("VDI.get_uuid", vdi)
    assert int(resp.getheader("content-length")) == len(data)
    # Blocks 0, 2 and 4 hold data; 1 and 3 are left out.
    assert vhd_blocks(data) == [0, 2, 4]
    path = os.path.join(tmp, "out.vhd")
    with open(path, "wb") as f:
        f.write(data)
    info = qemu_info(path)
    assert info["format"] == "vpc" and info["virtual-size"] == size
    # qemu-img compare: the same guest-visible content as the VDI's image.
    subprocess.run(["qemu-img", "compare", "-f", "vpc", "-F", "qcow2", path,
                    str(image_path(host, s, vdi))], check=True, capture_output=True, timeout=60)
    # qemu reads the same disk back.
    raw = os.path.join(tmp, "out.raw")
    subprocess.run(["qemu-img", "convert", "-f", "vpc", "-O", "raw", path, raw], check=True,
                   capture_output=True, timeout=60)
    with open(raw, "rb") as f:
        assert f.read() == expected(size, WRITES)
    s("VDI.destroy", vdi)


def test_export_of_an_empty_disk_has_no_blocks(host, s, sr):
    vdi = make_vdi(s, sr, 6 * MiB, "vhd-empty")
    resp, data, rec = export_vhd(host, s, vdi)
    assert resp.status == 200 and rec["status"] == "success"
    assert vhd_blocks(data) == []
    # Footer copy, header, one sector of BAT, footer.
    assert len(data) == 512 + 1024 + 512 + 512
    s("VDI.destroy", vdi)


def test_import_of_qemus_dynamic_vhd(host, s, sr, tmp):
    size = 8 * MiB
    raw = os.path.join(tmp, "in.raw")
    content = expected(size, [(0x42, 0, 3 * MiB), (0x99, 7 * MiB - 512, 512)])
    with open(raw, "wb") as f:
        f.write(content)
    vhd = os.path.join(tmp, "in.vhd")
    subprocess.run(["qemu-img", "convert", "-f", "raw", "-O", "vpc", "-o",
                    "subformat=dynamic,force_size=on", raw, vhd], check=True,
                   capture_output=True, timeout=60)
    vdi = make_vdi(s, sr, size, "vhd-in")
    # As XCP's vhd-tool does, only the image's data is written: what was
    # there before stays in its holes (how a delta applies onto a copy of
    # its base).
    qemu_write(image_path(host, s, vdi), (0x77, 4 * MiB, MiB))
    with open(vhd, "rb") as f:
        resp, rec = import_vhd(host, s, vdi, f.read())
    assert resp.status == 200
    assert rec["status"] == "success", rec["error_info"]
    assert guest_content(image_path(host, s, vdi)) == expected(
        size, [(0x42, 0, 3 * MiB), (0x77, 4 * MiB, MiB), (0x99, 7 * MiB - 512, 512)])
    s("VDI.destroy", vdi)


def test_import_of_a_fixed_vhd(host, s, sr, tmp):
    size = 4 * MiB
    raw = os.path.join(tmp, "in.raw")
    content = os.urandom(MiB) + bytes(3 * MiB)
    with open(raw, "wb") as f:
        f.write(content)
    vhd = os.path.join(tmp, "in.vhd")
    subprocess.run(["qemu-img", "convert", "-f", "raw", "-O", "vpc", "-o",
                    "subformat=fixed,force_size=on", raw, vhd], check=True,
                   capture_output=True, timeout=60)
    vdi = make_vdi(s, sr, size, "vhd-fixed")
    with open(vhd, "rb") as f:
        resp, rec = import_vhd(host, s, vdi, f.read())
    assert rec["status"] == "success", rec["error_info"]
    assert guest_content(image_path(host, s, vdi)) == content
    s("VDI.destroy", vdi)


def test_export_then_import_round_trip(host, s, sr):
    size = 10 * MiB
    src = make_vdi(s, sr, size, "vhd-src")
    qemu_write(image_path(host, s, src), *WRITES)
    _, data, rec = export_vhd(host, s, src)
    assert rec["status"] == "success"
    dst = make_vdi(s, sr, size, "vhd-dst")
    resp, rec = import_vhd(host, s, dst, data)
    assert rec["status"] == "success", rec["error_info"]
    assert guest_content(image_path(host, s, dst)) == expected(size, WRITES)
    s("VDI.destroy", src)
    s("VDI.destroy", dst)


def test_import_into_a_smaller_vdi_is_vdi_too_small(host, s, sr):
    src = make_vdi(s, sr, 6 * MiB, "vhd-big")
    qemu_write(image_path(host, s, src), (0x33, 5 * MiB, MiB))
    _, data, _ = export_vhd(host, s, src)
    dst = make_vdi(s, sr, 4 * MiB, "vhd-small")
    _, rec = import_vhd(host, s, dst, data)
    assert rec["status"] == "failure"
    assert rec["error_info"][0] == "VDI_TOO_SMALL"
    s("VDI.destroy", src)
    s("VDI.destroy", dst)


def test_truncated_vhd_is_premature_eof(host, s, sr):
    src = make_vdi(s, sr, 4 * MiB, "vhd-t")
    qemu_write(image_path(host, s, src), (0x33, 0, MiB))
    _, data, _ = export_vhd(host, s, src)
    dst = make_vdi(s, sr, 4 * MiB, "vhd-t2")
    _, rec = import_vhd(host, s, dst, data[:len(data) // 2])
    assert rec["status"] == "failure"
    assert rec["error_info"] == ["IMPORT_ERROR_PREMATURE_EOF"]
    s("VDI.destroy", src)
    s("VDI.destroy", dst)


def test_garbage_is_refused(host, s, sr):
    dst = make_vdi(s, sr, 4 * MiB, "vhd-g")
    _, rec = import_vhd(host, s, dst, b"not a vhd at all" * 100)
    assert rec["status"] == "failure"
    assert rec["error_info"] == ["INTERNAL_ERROR", "The VHD stream is malformed"]
    s("VDI.destroy", dst)


def test_delta_export_against_a_snapshot(host, s, sr, tmp):
    """Xen Orchestra's delta backup: snapshot, write, snapshot again, export
    the second snapshot with the first as base; the base plus the delta is
    the second snapshot."""
    size = 10 * MiB
    vdi = make_vdi(s, sr, size, "vhd-delta")
    first = [(0xab, 0, MiB), (0x11, 9 * MiB, MiB)]
    qemu_write(image_path(host, s, vdi), *first)
    snap1 = s("VDI.snapshot", vdi, {})
    second = [(0xcd, 4 * MiB, 4096), (0x00, 9 * MiB, 4096)]
    qemu_write(image_path(host, s, vdi), *second)
    snap2 = s("VDI.snapshot", vdi, {})
    resp, data, rec = export_vhd(host, s, snap2, base=s("VDI.get_uuid", snap1))
    assert resp.status == 200 and rec["status"] == "success", rec["error_info"]
    # Only the blocks written after the first snapshot, zeros included.
    assert vhd_blocks(data) == [2, 4]
    # Applied onto a copy of the base, the delta gives the second snapshot.
    base_raw = os.path.join(tmp, "base.raw")
    with open(base_raw, "wb") as f:
        f.write(guest_content(image_path(host, s, snap1)))
    delta = os.path.join(tmp, "delta.vhd")
    with open(delta, "wb") as f:
        f.write(data)
    delta_raw = os.path.join(tmp, "delta.raw")
    subprocess.run(["qemu-img", "convert", "-f", "vpc", "-O", "raw", delta, delta_raw],
                   check=True, capture_output=True, timeout=60)
    with open(base_raw, "r+b") as b, open(delta_raw, "rb") as d:
        for block in vhd_blocks(data):
            d.seek(block * BLOCK)
            b.seek(block * BLOCK)
            b.write(d.read(BLOCK))
    with open(base_raw, "rb") as f:
        assert f.read() == expected(size, first + second)
    for v in (snap2, snap1, vdi):
        s("VDI.destroy", v)


def test_delta_export_against_an_unrelated_vdi_is_refused(host, s, sr):
    a = make_vdi(s, sr, 4 * MiB, "vhd-a")
    b = make_vdi(s, sr, 4 * MiB, "vhd-b")
    resp, _, rec = export_vhd(host, s, a, base=b)
    assert rec["status"] == "failure"
    assert rec["error_info"][0] == "SR_BACKEND_FAILURE_1"
    s("VDI.destroy", a)
    s("VDI.destroy", b)


def test_base_without_vhd_format_is_refused(host, s, sr):
    a = make_vdi(s, sr, 4 * MiB, "vhd-c")
    task = s("task.create", "export", "")
    resp, _ = request(host, "GET", "/export_raw_vdi",
                      {"session_id": s.ref, "task_id": task, "vdi": a, "base": a})
    assert resp.status == 404
    rec = task_done(s, task)
    assert rec["error_info"] == ["INTERNAL_ERROR", "Differencing exports (base=) need format=vhd"]
    s("VDI.destroy", a)


def test_client_leaving_mid_export_frees_the_vdi(host, s, sr):
    """A client that reads the head and goes away: the task fails, xapi and
    storaged go on, and the VDI is free again once the task has ended."""
    import http.client
    import urllib.parse
    from xeniatest import wait_until
    vdi = make_vdi(s, sr, 64 * MiB, "vhd-leave")
    # More data than the socket buffers hold, so the export is mid-way.
    qemu_write(image_path(host, s, vdi), (0x5a, 0, 48 * MiB))
    task = s("task.create", "export", "")
    conn = http.client.HTTPConnection("127.0.0.1", host.http_port, timeout=120)
    conn.request("GET", "/export_raw_vdi?" + urllib.parse.urlencode(
        {"session_id": s.ref, "task_id": task, "vdi": vdi, "format": "vhd"}))
    resp = conn.getresponse()
    assert resp.status == 200
    resp.read(4096)
    resp.close()
    conn.close()
    rec = task_done(s, task)
    assert rec["status"] == "failure"
    s("task.destroy", task)
    # The same VDI exports whole afterwards, and can be destroyed.
    wait_until(lambda: export_vhd(host, s, vdi)[2]["status"] == "success", 60,
               what="the VDI to be free")
    s("VDI.destroy", vdi)


def test_upload_cut_short_fails_and_frees_the_vdi(host, s, sr):
    import http.client
    import urllib.parse
    src = make_vdi(s, sr, 8 * MiB, "vhd-cut-src")
    qemu_write(image_path(host, s, src), (0x21, 0, 8 * MiB))
    _, data, _ = export_vhd(host, s, src)
    dst = make_vdi(s, sr, 8 * MiB, "vhd-cut-dst")
    task = s("task.create", "import", "")
    conn = http.client.HTTPConnection("127.0.0.1", host.http_port, timeout=120)
    conn.putrequest("PUT", "/import_raw_vdi?" + urllib.parse.urlencode(
        {"session_id": s.ref, "task_id": task, "vdi": dst, "format": "vhd"}))
    conn.putheader("Content-Length", str(len(data)))
    conn.endheaders()
    conn.send(data[:len(data) // 3])
    conn.close()
    rec = task_done(s, task)
    assert rec["status"] == "failure"
    assert rec["error_info"] == ["IMPORT_ERROR_PREMATURE_EOF"]
    s("task.destroy", task)
    # The VDI takes a whole upload afterwards.
    resp, rec = import_vhd(host, s, dst, data)
    assert rec["status"] == "success", rec["error_info"]
    assert guest_content(image_path(host, s, dst)) == expected(8 * MiB, [(0x21, 0, 8 * MiB)])
    s("VDI.destroy", src)
    s("VDI.destroy", dst)


@pytest.mark.parametrize("subformat", ["dynamic", "fixed"])
def test_import_into_a_new_vdi_of_the_images_size(host, s, sr, tmp, subformat):
    """No vdi=, sr_id=: a new "Imported VDI" the size of the image (not of
    the upload), as XCP makes it; the task's result is the VDI."""
    size = 6 * MiB
    raw = os.path.join(tmp, "in.raw")
    content = expected(size, [(0x61, MiB, MiB)])
    with open(raw, "wb") as f:
        f.write(content)
    vhd = os.path.join(tmp, "in.vhd")
    subprocess.run(["qemu-img", "convert", "-f", "raw", "-O", "vpc", "-o",
                    "subformat=%s,force_size=on" % subformat, raw, vhd], check=True,
                   capture_output=True, timeout=60)
    task = s("task.create", "import", "")
    with open(vhd, "rb") as f:
        resp, _ = request(host, "PUT", "/import_raw_vdi",
                          {"session_id": s.ref, "task_id": task, "sr_id": sr, "format": "vhd"},
                          body=f.read())
    assert resp.status == 200
    rec = task_done(s, task)
    s("task.destroy", task)
    assert rec["status"] == "success", rec["error_info"]
    vdi = rec["result"].split("<value>")[-1].split("</value>")[0]
    assert s("VDI.get_name_label", vdi) == "Imported VDI"
    assert s("VDI.get_virtual_size", vdi) == str(size)
    assert guest_content(image_path(host, s, vdi)) == content
    s("VDI.destroy", vdi)


@pytest.mark.parametrize("fmt", ["raw", "vhd"])
def test_vdi_is_free_once_the_whole_export_has_arrived(host, s, sr, fmt):
    """What backup tools do: read an export to its end, then destroy the
    snapshot at once, without waiting on the task."""
    vdi = make_vdi(s, sr, 8 * MiB, "vhd-free")
    qemu_write(image_path(host, s, vdi), (0x3c, 0, 8 * MiB))
    resp, data = request(host, "GET", "/export_raw_vdi",
                         {"session_id": s.ref, "vdi": vdi, "format": fmt})
    assert resp.status == 200
    assert len(data) == int(resp.getheader("content-length"))
    s("VDI.destroy", vdi)
