"""PUT /import_raw_vdi?format=vhd of the VHDs that an ordered stream
cannot take: differencing VHDs (the deltas Xen Orchestra's backups keep
and send back on restore), written onto an existing VDI sector by sector
as their bitmaps say, and dynamic VHDs whose blocks are stored out of the
order of their offsets. xapi writes them at their offsets through NBD, on
a qemu-nbd that storaged hands over (vdi_import_nbd). The images are made
here, byte by byte after Microsoft's specification (qemu cannot write a
differencing VHD), and checked against the disk byte for byte."""
import http.client
import os
import random
import shutil
import struct
import urllib.parse
import uuid

import pytest

from test_export_import import (_comm, _storaged_pid, MiB, guest_content, image_path,
                                make_vdi, qemu_write, restarting_host, task_done)  # noqa: F401
from test_vhd import export_vhd
from xeniatest import wait_until

BLOCK = 2 * MiB
SECTOR = 512
SECTORS = BLOCK // SECTOR
DYNAMIC, DIFFERENCING = 3, 4


@pytest.fixture(scope="module")
def s(host):
    if not shutil.which("qemu-io") or not shutil.which("qemu-nbd"):
        pytest.skip("qemu-io or qemu-nbd is not installed")
    with host.session() as session:
        yield session


@pytest.fixture(scope="module")
def sr(s):
    return s("pool.get_default_SR", s("pool.get_all")[0])


def import_vhd(host, s, vdi, body, **query):
    """PUT /import_raw_vdi?format=vhd into vdi (or as query says): the
    task's record. A refused image may be refused before the whole body
    is sent, and the connection closed under the sender: the task says
    why."""
    task = s("task.create", "import", "")
    q = {"session_id": s.ref, "task_id": task, "format": "vhd"}
    q.update({"vdi": vdi} if vdi else query)
    conn = http.client.HTTPConnection("127.0.0.1", host.http_port, timeout=120)
    try:
        conn.request("PUT", "/import_raw_vdi?" + urllib.parse.urlencode(q), body=body)
        conn.getresponse().read()
    except (BrokenPipeError, ConnectionResetError):
        pass
    finally:
        conn.close()
    rec = task_done(s, task)
    s("task.destroy", task)
    return rec


def checksum(data, at):
    return ~sum(data[:at] + data[at + 4:]) & 0xFFFFFFFF


def footer(disk_type, size):
    f = bytearray(512)
    f[0:8] = b"conectix"
    struct.pack_into(">IIQI4sI4sQQHBBI", f, 8, 2, 0x00010000,
                     0xFFFFFFFFFFFFFFFF if disk_type == 2 else 512, 0, b"tap\0",
                     0x00010003, b"Lnux", size, size, 1024, 16, 63, disk_type)
    f[68:84] = uuid.uuid4().bytes
    struct.pack_into(">I", f, 64, checksum(f, 64))
    return bytes(f)


def header(table_offset, entries, parent, locator=None):
    h = bytearray(1024)
    h[0:8] = b"cxsparse"
    struct.pack_into(">QQIII", h, 8, 0xFFFFFFFFFFFFFFFF, table_offset, 0x00010000, entries, BLOCK)
    if parent:
        h[40:56] = parent
        h[64:64 + 16] = "base.vhd".encode("utf-16-be")
    if locator:
        # A parent locator (relative path, Windows style) pointing at the
        # bytes that hold the parent's name: ignored by the import.
        code, space, length, offset = locator
        struct.pack_into(">4sIIIQ", h, 576, code, space, length, 0, offset)
    struct.pack_into(">I", h, 36, checksum(h, 36))
    return bytes(h)


def make_vhd(size, blocks, disk_type=DYNAMIC, order=None, bat_patch=None):
    """A VHD of size bytes: blocks maps a block number to (bitmap, data)
    with bitmap a set of sector numbers; they are stored in the order given
    (default: increasing), after the BAT and, for a differencing image, a
    parent locator's data. bat_patch maps block numbers to raw BAT
    entries that replace what the layout gives."""
    entries = (size + BLOCK - 1) // BLOCK
    table = 512 + 1024
    bat_len = (entries * 4 + 511) // 512 * 512
    pos = table + bat_len
    locator = None
    extra = b""
    if disk_type == DIFFERENCING:
        name = "./base.vhd".encode("utf-16-le")
        extra = name + bytes(512 - len(name))
        locator = (b"W2ru", 1, len(name), pos)
        pos += len(extra)
    order = order if order is not None else sorted(blocks)
    bat = bytearray(b"\xff" * bat_len)
    body = bytearray()
    for b in order:
        sectors, data = blocks[b]
        struct.pack_into(">I", bat, 4 * b, (pos + len(body)) // 512)
        bitmap = bytearray(512)
        for sct in sectors:
            bitmap[sct // 8] |= 0x80 >> (sct % 8)
        body += bitmap + data.ljust(BLOCK, b"\0")
    for b, v in (bat_patch or {}).items():
        struct.pack_into(">I", bat, 4 * b, v)
    foot = footer(disk_type, size)
    parent = uuid.uuid4().bytes if disk_type == DIFFERENCING else None
    return foot + header(table, entries, parent, locator) + bytes(bat) + extra + bytes(body) + foot


def apply(disk, blocks, size):
    """What writing the image's present sectors onto disk gives."""
    out = bytearray(disk)
    for b, (sectors, data) in blocks.items():
        for sct in sectors:
            off = b * BLOCK + sct * SECTOR
            if off < size:
                out[off:off + SECTOR] = data[sct * SECTOR:(sct + 1) * SECTOR]
    return bytes(out)


def pattern(seed, n=BLOCK):
    return random.Random(seed).randbytes(n)


def written_vdi(host, s, sr, size, name):
    vdi = make_vdi(s, sr, size, name)
    qemu_write(image_path(host, s, vdi), (0x5a, 0, size))
    return vdi


def test_differencing_vhd_writes_only_the_sectors_its_bitmaps_mark(host, s, sr):
    size = 8 * MiB
    vdi = written_vdi(host, s, sr, size, "diff-dst")
    before = guest_content(image_path(host, s, vdi))
    blocks = {
        0: (set(range(8, 16)) | {SECTORS - 1}, pattern(1)),   # a few sectors
        2: (set(range(SECTORS)), pattern(2)),                  # the whole block
        3: (set(), pattern(3)),                                # allocated, nothing present
    }
    rec = import_vhd(host, s, vdi, make_vhd(size, blocks, DIFFERENCING))
    assert rec["status"] == "success", rec["error_info"]
    assert guest_content(image_path(host, s, vdi)) == apply(before, blocks, size)
    s("VDI.destroy", vdi)


def test_dynamic_vhd_with_blocks_stored_in_any_order(host, s, sr):
    size = 12 * MiB
    vdi = make_vdi(s, sr, size, "shuffled")
    blocks = {b: (set(range(SECTORS)), pattern(10 + b)) for b in (0, 1, 3, 4, 5)}
    order = [4, 0, 5, 3, 1]
    rec = import_vhd(host, s, vdi, make_vhd(size, blocks, DYNAMIC, order=order))
    assert rec["status"] == "success", rec["error_info"]
    assert guest_content(image_path(host, s, vdi)) == apply(bytes(size), blocks, size)
    s("VDI.destroy", vdi)


def test_xo_delta_round_trip_onto_a_clone_of_the_base(host, s, sr):
    """Xen Orchestra's delta backup and restore: export the VDI with the
    base's snapshot as base= (a dynamic VHD of the changed blocks), keep it
    as a differencing VHD (what XO's backups hold: type 4, the base as
    parent), and import either onto a clone of the base: the clone is
    then the VDI, byte for byte."""
    size = 10 * MiB
    src = make_vdi(s, sr, size, "xo-src")
    qemu_write(image_path(host, s, src), (0xab, 0, 3 * MiB), (0x11, 9 * MiB, MiB))
    base = s("VDI.snapshot", src, {})
    qemu_write(image_path(host, s, src), (0xcd, 4 * MiB + 512, 4096), (0x00, 9 * MiB, 4096),
               (0xee, 2 * MiB - 512, 1024))
    want = guest_content(image_path(host, s, src))
    _, delta, rec = export_vhd(host, s, src, base=s("VDI.get_uuid", base))
    assert rec["status"] == "success", rec["error_info"]
    as_diff = bytearray(delta)
    for at in (0, len(as_diff) - 512):   # both copies of the footer
        struct.pack_into(">I", as_diff, at + 60, DIFFERENCING)
        struct.pack_into(">I", as_diff, at + 64, checksum(as_diff[at:at + 512], 64))
    for image in (delta, bytes(as_diff)):
        clone = s("VDI.clone", base, {})
        assert guest_content(image_path(host, s, clone)) != want
        rec = import_vhd(host, s, clone, image)
        assert rec["status"] == "success", rec["error_info"]
        assert guest_content(image_path(host, s, clone)) == want
        s("VDI.destroy", clone)
    s("VDI.destroy", base)
    s("VDI.destroy", src)


def test_differencing_vhd_bigger_than_the_vdi_is_vdi_too_small_and_writes_nothing(host, s, sr):
    vdi = written_vdi(host, s, sr, 4 * MiB, "diff-small")
    before = guest_content(image_path(host, s, vdi))
    blocks = {0: (set(range(SECTORS)), pattern(20)), 2: (set(range(SECTORS)), pattern(21))}
    rec = import_vhd(host, s, vdi, make_vhd(6 * MiB, blocks, DIFFERENCING))
    assert rec["status"] == "failure"
    assert rec["error_info"] == ["VDI_TOO_SMALL", vdi, str(4 * MiB)]
    assert guest_content(image_path(host, s, vdi)) == before
    s("VDI.destroy", vdi)


def test_differencing_vhd_smaller_than_the_vdi_writes_its_part(host, s, sr):
    # XCP checks no size: the image's sectors land where they belong.
    vdi = written_vdi(host, s, sr, 6 * MiB, "diff-big")
    before = guest_content(image_path(host, s, vdi))
    blocks = {1: (set(range(0, SECTORS, 2)), pattern(22))}
    rec = import_vhd(host, s, vdi, make_vhd(4 * MiB, blocks, DIFFERENCING))
    assert rec["status"] == "success", rec["error_info"]
    assert guest_content(image_path(host, s, vdi)) == apply(before, blocks, 4 * MiB)
    s("VDI.destroy", vdi)


def refused(host, s, sr, image, error):
    """Imports image onto a written VDI: the import fails with error and
    the VDI is as it was (the BAT is read before any data)."""
    vdi = written_vdi(host, s, sr, 6 * MiB, "bad")
    before = guest_content(image_path(host, s, vdi))
    rec = import_vhd(host, s, vdi, image)
    assert rec["status"] == "failure"
    assert rec["error_info"] == error
    assert guest_content(image_path(host, s, vdi)) == before
    s("VDI.destroy", vdi)


MALFORMED = ["INTERNAL_ERROR", "The VHD stream is malformed"]


def test_bat_with_overlapping_blocks_is_malformed(host, s, sr):
    blocks = {0: (set(range(SECTORS)), pattern(30)), 1: (set(range(SECTORS)), pattern(31))}
    image = make_vhd(4 * MiB, blocks, DIFFERENCING)
    first = struct.unpack_from(">I", image, 512 + 1024)[0]
    refused(host, s, sr, make_vhd(4 * MiB, blocks, DIFFERENCING, bat_patch={1: first + 1}),
            MALFORMED)


def test_bat_pointing_past_the_end_is_premature_eof(host, s, sr):
    blocks = {0: (set(range(SECTORS)), pattern(32))}
    refused(host, s, sr, make_vhd(4 * MiB, blocks, DYNAMIC, bat_patch={1: 0x00100000}),
            ["IMPORT_ERROR_PREMATURE_EOF"])


def test_bad_header_checksum_is_malformed(host, s, sr):
    image = bytearray(make_vhd(4 * MiB, {0: (set(range(SECTORS)), pattern(33))}, DIFFERENCING))
    image[512 + 100] ^= 1
    refused(host, s, sr, bytes(image), MALFORMED)


def test_block_stored_before_the_bat_cannot_be_streamed(host, s, sr):
    # The layout is valid, but only seeking back could read it.
    size = 4 * MiB
    data = pattern(34)
    table = 512 + 1024 + 512 + BLOCK
    bat = bytearray(b"\xff" * 512)
    struct.pack_into(">I", bat, 0, (512 + 1024) // 512)
    bitmap = b"\xff" * 512
    foot = footer(DYNAMIC, size)
    image = foot + header(table, 2, None) + bitmap + data + bytes(bat) + foot
    refused(host, s, sr, image,
            ["INTERNAL_ERROR", "The VHD stores its BAT or a block before the structure that "
             "points to it: it cannot be imported as a stream"])


def test_differencing_vhd_without_a_vdi_is_refused(host, s, sr):
    image = make_vhd(4 * MiB, {0: (set(range(SECTORS)), pattern(35))}, DIFFERENCING)
    before = set(s("SR.get_VDIs", sr))
    rec = import_vhd(host, s, None, image, sr_id=sr)
    assert rec["status"] == "failure"
    assert rec["error_info"] == ["INTERNAL_ERROR",
                                 "Importing a differencing VHD needs the VDI it applies to (vdi=)"]
    assert set(s("SR.get_VDIs", sr)) == before


def test_vdi_is_free_after_a_failed_import(host, s, sr):
    vdi = written_vdi(host, s, sr, 4 * MiB, "free")
    image = make_vhd(4 * MiB, {0: (set(range(SECTORS)), pattern(36))}, DIFFERENCING)
    rec = import_vhd(host, s, vdi, image[:len(image) - 512 - BLOCK // 2])
    assert rec["status"] == "failure"
    # storaged let the VDI go: it can be imported into and destroyed.
    rec = import_vhd(host, s, vdi, image)
    assert rec["status"] == "success", rec["error_info"]
    s("VDI.destroy", vdi)


def test_storaged_killed_mid_import_fails_the_task_and_leaves_nothing(restarting_host):
    """kill -9 of storaged while a differencing VHD is written through NBD:
    qemu-nbd dies with it, the task fails, and once storaged is back the
    same import works."""
    host = restarting_host
    with host.session() as s:
        sr = s("pool.get_default_SR", s("pool.get_all")[0])
        size = 64 * MiB
        vdi = make_vdi(s, sr, size, "killed-import")
        blocks = {b: (set(range(SECTORS)), pattern(40 + b)) for b in range(size // BLOCK)}
        image = make_vhd(size, blocks, DIFFERENCING)
        pid = _storaged_pid(host)
        assert pid, "no storaged in the host's group"
        task = s("task.create", "import", "")
        conn = http.client.HTTPConnection("127.0.0.1", host.http_port, timeout=60)
        conn.putrequest("PUT", "/import_raw_vdi?" + urllib.parse.urlencode(
            {"session_id": s.ref, "task_id": task, "vdi": vdi, "format": "vhd"}))
        conn.putheader("Content-Length", str(len(image)))
        conn.endheaders()
        conn.send(image[:8 * MiB])
        wait_until(lambda: any(_comm(p) == "qemu-nbd" for p in host.group_pids()), 30,
                   what="qemu-nbd to serve the import")
        os.kill(pid, 9)
        try:
            conn.send(image[8 * MiB:])
        except OSError:
            pass
        conn.close()
        rec = task_done(s, task)
        s("task.destroy", task)
        assert rec["status"] == "failure"
        wait_until(lambda: not [p for p in host.group_pids() if _comm(p) == "qemu-nbd"], 10,
                   what="qemu-nbd to end")
        wait_until(lambda: _storaged_pid(host) not in (None, pid), 10, what="a new storaged")

        def import_works():
            try:
                return import_vhd(host, s, vdi, image)["status"] == "success"
            except (http.client.HTTPException, OSError):
                return False
        wait_until(import_works, 30, interval=0.5, what="imports to work again")
        assert guest_content(image_path(host, s, vdi)) == apply(bytes(size), blocks, size)
        s("VDI.destroy", vdi)
