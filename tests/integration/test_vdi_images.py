"""The images storaged makes itself and the VDI operations added for issue
6, driven over storaged's socket as test_storaged.py does (same helpers):
empty qcow2 images written in-process (new VDIs and the overlays of a
snapshot or clone) checked by QEMU's own tools — `qemu-img check`, `qemu-img
info` and data written and read back with qemu-io — at sizes that need one
L1 entry, several, more than a cluster of L1 entries, and sizes that are not
a multiple of the cluster or of 512 bytes; raw (sparse) VDIs; and vdi_copy
into an existing VDI, with its refusals."""

import json
import os
import subprocess
import threading

import pytest

from test_storaged import (GIB, MIB, TOOL_TIMEOUT, RpcError, check_consistent,  # noqa: F401
                           file_sr, new_uuid, reads, rpc, scan, sd, tmp, vdi, write)
from xeniatest import wait_until

TIB = 1 << 40


def info(path):
    r = subprocess.run(["qemu-img", "info", "--output=json", "-U", str(path)],
                       capture_output=True, text=True, timeout=TOOL_TIMEOUT)
    assert r.returncode == 0, r.stderr
    return json.loads(r.stdout)


def check(path):
    r = subprocess.run(["qemu-img", "check", "--output=json", str(path)],
                       capture_output=True, text=True, timeout=TOOL_TIMEOUT)
    assert r.returncode == 0, r.stdout + r.stderr
    return json.loads(r.stdout)


def qio_fmt(path, fmt, cmd):
    return subprocess.run(["qemu-io", "-f", fmt, "-c", cmd, str(path)],
                          capture_output=True, text=True, timeout=TOOL_TIMEOUT)


# sizes: one L1 entry, a part of one, several, a full L1 cluster (8192
# entries) and one more entry (a second L1 cluster), and XCP's maximum
@pytest.mark.parametrize("size,expect", [
    (1, 512), (512, 512), (MIB + 1, MIB + 512), (3 * GIB + 12345, 3 * GIB + 12800),
    (4 * TIB, 4 * TIB), (4 * TIB + 1, 4 * TIB + 512), (16381 * GIB, 16381 * GIB)])
def test_new_qcow2_images_are_what_qemu_img_makes(sd, tmp, size, expect):
    sr, loc = file_sr(sd, tmp)
    v = vdi(sd, sr, size=size)
    assert v["virtual_size"] == expect and v["format"] == "qcow2"
    path = loc / v["location"]
    i = info(path)
    assert i["format"] == "qcow2" and i["virtual-size"] == expect
    assert i["cluster-size"] == 65536 and i["format-specific"]["data"]["compat"] == "1.1"
    assert "backing-filename" not in i
    c = check(path)
    assert c["check-errors"] == 0 and c.get("leaks", 0) == 0 and c.get("corruptions", 0) == 0
    assert c.get("allocated-clusters", 0) == 0
    # qemu-img makes the same layout: the same length and metadata
    ref = tmp / "ref.qcow2"
    subprocess.run(["qemu-img", "create", "-q", "-f", "qcow2", str(ref), str(size)], check=True,
                   timeout=TOOL_TIMEOUT)
    assert path.stat().st_size == ref.stat().st_size
    assert info(ref)["virtual-size"] == expect
    rc = check(ref)
    for k in ("image-end-offset", "total-clusters"):
        assert c[k] == rc[k], k
    # data at the start and in the last sector goes in and comes back
    last = expect - 512
    write(path, 0x5a, 0, 512)
    write(path, 0xa5, last, 512)
    assert reads(path, 0xa5, last, 512)
    if last > 0:
        assert reads(path, 0x5a, 0, 512)
    if last > 512:
        assert reads(path, 0x00, 512, 512)
    c = check(path)
    assert c["check-errors"] == 0 and c.get("leaks", 0) == 0 and c.get("corruptions", 0) == 0
    # a fresh storaged reads the header it wrote
    assert scan(sd, sr)[v["uuid"]]["virtual_size"] == expect


@pytest.mark.parametrize("op", ["vdi_snapshot", "vdi_clone"])
def test_overlays_name_their_base_and_format(sd, tmp, op):
    sr, loc = file_sr(sd, tmp)
    size = 5 * GIB + 4096
    v = vdi(sd, sr, size=size)
    write(loc / v["location"], 0x11, 0, MIB)
    write(loc / v["location"], 0x12, size - MIB, MIB)
    s = sd(op, sr_uuid=sr, vdi_uuid=v["uuid"])
    vdis = check_consistent(sd, sr, loc)
    base = vdis[s["parent"]]
    for u in (v["uuid"], s["uuid"]):
        path = loc / vdis[u]["location"]
        i = info(path)
        assert i["virtual-size"] == size
        assert i["backing-filename"] == base["location"]
        assert i["backing-filename-format"] == "qcow2"
        assert i["format-specific"]["data"]["compat"] == "1.1"
        assert reads(path, 0x11, 0, MIB) and reads(path, 0x12, size - MIB, MIB)
        assert check(path)["check-errors"] == 0
    # the VDI and its snapshot (or clone) go separate ways
    write(loc / vdis[v["uuid"]]["location"], 0x21, 0, MIB)
    write(loc / vdis[s["uuid"]]["location"], 0x22, 0, MIB)
    assert reads(loc / vdis[v["uuid"]]["location"], 0x21, 0, MIB)
    assert reads(loc / vdis[s["uuid"]]["location"], 0x22, 0, MIB)
    assert reads(loc / base["location"], 0x11, 0, MIB)
    # the answer carries the nodes the operation touched
    touched = {u["uuid"]: u for u in s["updated"]}
    assert set(touched) == {base["uuid"], v["uuid"]}
    assert touched[v["uuid"]]["parent"] == base["uuid"]
    assert not touched[base["uuid"]]["managed"]
    assert s["sr"]["uuid"] == sr


def test_raw_vdis_are_sparse_files(sd, tmp):
    sr, loc = file_sr(sd, tmp)
    v = vdi(sd, sr, size=GIB + 1, format="raw")
    assert v["format"] == "raw" and v["location"] == v["uuid"] + ".raw"
    assert v["virtual_size"] == GIB + 512
    path = loc / v["location"]
    assert path.stat().st_size == GIB + 512 and path.stat().st_blocks == 0
    assert info(path)["format"] == "raw"
    a = sd("vdi_attach", sr_uuid=sr, vdi_uuid=v["uuid"], read_write=True)
    assert a["format"] == "raw" and a["path"] == str(path)
    r = qio_fmt(path, "raw", "write -P 0x33 4096 4096")
    assert r.returncode == 0, r.stderr
    sd("vdi_detach", sr_uuid=sr, vdi_uuid=v["uuid"])
    # no snapshots of raw images (as XCP's file SR), but copies and resizes
    e = sd.error("vdi_snapshot", sr_uuid=sr, vdi_uuid=v["uuid"])
    assert e.app == "SR_BACKEND_FAILURE_82"
    c = sd("vdi_copy", sr_uuid=sr, vdi_uuid=v["uuid"], dest_sr_uuid=sr)
    assert c["format"] == "qcow2" and reads(loc / c["location"], 0x33, 4096, 4096)
    r = sd("vdi_resize", sr_uuid=sr, vdi_uuid=v["uuid"], new_size=2 * GIB)
    assert r["virtual_size"] == 2 * GIB and path.stat().st_size == 2 * GIB
    # found again by a fresh scan, and deleted like any other
    assert scan(sd, sr)[v["uuid"]]["format"] == "raw"
    check_consistent(sd, sr, loc)
    sd("vdi_delete", sr_uuid=sr, vdi_uuid=v["uuid"])
    assert not path.exists()
    # a format storaged does not make is a parameter error
    e = sd.error("vdi_create", sr_uuid=sr, virtual_size=MIB, format="vhd")
    assert e.code == -32602


@pytest.mark.parametrize("dest_fmt", ["qcow2", "raw"])
def test_copy_into_an_existing_vdi_overwrites_it(sd, tmp, dest_fmt):
    sr, loc = file_sr(sd, tmp)
    sr2, loc2 = file_sr(sd, tmp, name="sr2")
    src = vdi(sd, sr, size=8 * MIB)
    write(loc / src["location"], 0x44, 0, MIB)
    write(loc / src["location"], 0x45, 7 * MIB, MIB)
    # the destination held data everywhere, in a chain (qcow2) so the
    # copy must hide what its base holds too
    dst = vdi(sd, sr2, size=16 * MIB, format=dest_fmt, name_label="target")
    dpath = loc2 / dst["location"]
    r = qio_fmt(dpath, dest_fmt, "write -P 0x77 0 16M")
    assert r.returncode == 0, r.stderr
    if dest_fmt == "qcow2":
        sd("vdi_snapshot", sr_uuid=sr2, vdi_uuid=dst["uuid"])
    got = sd("vdi_copy", sr_uuid=sr, vdi_uuid=src["uuid"], dest_sr_uuid=sr2,
             into_vdi_uuid=dst["uuid"], job="into-1")
    assert got["uuid"] == dst["uuid"] and got["name_label"] == "target"
    assert got["virtual_size"] == 16 * MIB
    assert sd("job_status", job="into-1") == {"progress": 1.0, "done": True}

    def has(pattern, off, length):
        r = qio_fmt(dpath, dest_fmt, "read -P 0x%02x %d %d" % (pattern, off, length))
        return r.returncode == 0 and "verification failed" not in r.stdout

    assert has(0x44, 0, MIB) and has(0x00, MIB, 6 * MIB) and has(0x45, 7 * MIB, MIB)
    assert has(0x77, 8 * MIB, 8 * MIB)  # beyond the source: left alone
    # the source is unchanged and both SRs are sound
    assert reads(loc / src["location"], 0x44, 0, MIB)
    check_consistent(sd, sr, loc)
    if dest_fmt == "qcow2":
        check_consistent(sd, sr2, loc2)


def test_copy_into_refusals(sd, tmp):
    sr, loc = file_sr(sd, tmp)
    src = vdi(sd, sr, size=8 * MIB)
    small = vdi(sd, sr, size=4 * MIB)
    e = sd.error("vdi_copy", sr_uuid=sr, vdi_uuid=src["uuid"], dest_sr_uuid=sr,
                 into_vdi_uuid=small["uuid"])
    assert e.app == "VDI_TOO_SMALL" and e.params == [small["uuid"], str(8 * MIB)]
    ro = vdi(sd, sr, size=8 * MIB, read_only=True)
    e = sd.error("vdi_copy", sr_uuid=sr, vdi_uuid=src["uuid"], dest_sr_uuid=sr,
                 into_vdi_uuid=ro["uuid"])
    assert e.app == "VDI_READONLY" and e.params == [ro["uuid"]]
    busy = vdi(sd, sr, size=8 * MIB)
    sd("vdi_attach", sr_uuid=sr, vdi_uuid=busy["uuid"], read_write=False)
    e = sd.error("vdi_copy", sr_uuid=sr, vdi_uuid=src["uuid"], dest_sr_uuid=sr,
                 into_vdi_uuid=busy["uuid"])
    assert e.app == "VDI_IN_USE" and e.params == [busy["uuid"], "copy"]
    sd("vdi_detach", sr_uuid=sr, vdi_uuid=busy["uuid"])
    gone = new_uuid()
    e = sd.error("vdi_copy", sr_uuid=sr, vdi_uuid=src["uuid"], dest_sr_uuid=sr,
                 into_vdi_uuid=gone)
    assert e.app == "VDI_MISSING" and e.params == [sr, gone]
    e = sd.error("vdi_copy", sr_uuid=sr, vdi_uuid=src["uuid"], dest_sr_uuid=sr,
                 into_vdi_uuid=src["uuid"])
    assert e.app == "SR_BACKEND_FAILURE_78"
    e = sd.error("vdi_copy", sr_uuid=sr, vdi_uuid=src["uuid"], dest_sr_uuid=sr,
                 into_vdi_uuid=busy["uuid"], dest_vdi_uuid=new_uuid())
    assert e.code == -32602
    # a hidden base copy cannot be written
    s = sd("vdi_snapshot", sr_uuid=sr, vdi_uuid=busy["uuid"])
    e = sd.error("vdi_copy", sr_uuid=sr, vdi_uuid=src["uuid"], dest_sr_uuid=sr,
                 into_vdi_uuid=s["parent"])
    assert e.app == "SR_BACKEND_FAILURE_46"
    check_consistent(sd, sr, loc)
    assert os.path.exists(loc / ".xenia-sr.json")


@pytest.mark.parametrize("point", ["create-written", "create-committed"])
def test_a_crash_while_making_a_raw_vdi(sd, tmp, point):
    sr, loc = file_sr(sd, tmp)
    sd.restart(env={"STORAGED_FIST": point})
    new = new_uuid()
    with pytest.raises((ConnectionError, OSError)):
        vdi(sd, sr, vdi_uuid=new, format="raw", size=8 * MIB)
    sd.wait_dead()
    sd.start()
    vdis = check_consistent(sd, sr, loc)
    assert (new in vdis) == (point == "create-committed")
    if new in vdis:
        assert vdis[new]["format"] == "raw" and (loc / (new + ".raw")).stat().st_size == 8 * MIB


def test_kill9_during_a_copy_into(sd, tmp):
    sr, loc = file_sr(sd, tmp)
    src = vdi(sd, sr, size=512 * MIB)
    write(loc / src["location"], 0xc1, 0, 256 * MIB)
    dst = vdi(sd, sr, size=512 * MIB, name_label="into")

    def copy():
        try:
            sd("vdi_copy", sr_uuid=sr, vdi_uuid=src["uuid"], dest_sr_uuid=sr,
               into_vdi_uuid=dst["uuid"], job="into-big")
        except (ConnectionError, OSError, RpcError):
            pass

    t = threading.Thread(target=copy)
    t.start()

    def started():
        try:
            return rpc(sd.sock, "job_status", {"job": "into-big"})
        except RpcError:
            return None

    wait_until(started, 60, interval=0.005, what="the copy to start")
    sd.kill9()
    t.join(60)
    sd.start()
    # both VDIs are still there, sound and free again: the copy can be
    # made again, and the destination deleted
    vdis = check_consistent(sd, sr, loc)
    assert set(vdis) == {src["uuid"], dst["uuid"]}
    sd("vdi_copy", sr_uuid=sr, vdi_uuid=src["uuid"], dest_sr_uuid=sr, into_vdi_uuid=dst["uuid"])
    assert reads(loc / dst["location"], 0xc1, 0, 256 * MIB)
    assert reads(loc / src["location"], 0xc1, 0, 256 * MIB)
    sd("vdi_delete", sr_uuid=sr, vdi_uuid=dst["uuid"])
