#!/usr/bin/python3
"""storaged's figures (`make bench` runs this through scripts/run-bench):
VDI create, snapshot and clone latency on a file SR (median of 20, for 1
GiB and 100 GiB virtual sizes), sr_scan time with 1,000 VDIs, and
sequential write throughput into a qcow2 VDI through qemu-io against the
same write into a raw file. Starts its own storaged ($XENIA_BUILD/storaged,
else build/storaged) in a temporary folder and stops it. Prints figures,
never a verdict."""

import json
import os
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

TOP = Path(__file__).resolve().parents[1]
ROUNDS = 20
SCAN_VDIS = 1000
WRITE_MIB = 256


def build_dir():
    return Path(os.environ.get("XENIA_BUILD") or TOP / "build").resolve()


def call(sock, method, **params):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(600)
    s.connect(str(sock))
    s.sendall((json.dumps({"jsonrpc": "2.0", "id": 1, "method": method,
                           "params": params}) + "\n").encode())
    buf = b""
    while not buf.endswith(b"\n"):
        d = s.recv(1 << 20)
        if not d:
            raise ConnectionError("storaged closed the connection")
        buf += d
    s.close()
    a = json.loads(buf)
    if "error" in a:
        raise RuntimeError("%s: %s" % (method, a["error"]))
    return a["result"]


def timed(fn):
    t = time.perf_counter()
    fn()
    return time.perf_counter() - t


def ms(x):
    return "%.1f ms" % (x * 1000)


def main():
    binary = build_dir() / "storaged"
    if not binary.exists():
        print("storaged benchmark: no %s (run make)" % binary)
        return 1
    tmp = Path(tempfile.mkdtemp(prefix="storaged-bench-"))
    sock = tmp / "s.sock"
    log = open(tmp / "storaged.log", "w")
    proc = subprocess.Popen([str(binary), "--socket", str(sock), "--state-dir",
                             str(tmp / "state"), "--run-dir", str(tmp / "run"),
                             "--log-level", "warn"], stdout=log, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 15
        while True:
            try:
                call(sock, "version")
                break
            except OSError:
                if time.monotonic() > deadline or proc.poll() is not None:
                    raise RuntimeError("storaged did not start")
                time.sleep(0.05)
        run(sock, tmp)
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(30)
        log.close()
        shutil.rmtree(tmp, ignore_errors=True)
    return 0


def file_sr(sock, loc):
    sr = str(uuid.uuid4())
    dc = {"location": str(loc)}
    call(sock, "sr_create", type="file", sr_uuid=sr, device_config=dc, name_label="bench",
         name_description="", shared=False)
    call(sock, "sr_attach", type="file", sr_uuid=sr, device_config=dc)
    return sr


def run(sock, tmp):
    print("storaged (file SR on %s, median of %d)" % (tmp, ROUNDS))
    sr = file_sr(sock, tmp / "sr")
    for size, label in ((1 << 30, "1 GiB"), (100 << 30, "100 GiB")):
        creates, snaps, clones = [], [], []
        made = []
        for _ in range(ROUNDS):
            r = {}
            creates.append(timed(lambda: r.update(call(
                sock, "vdi_create", sr_uuid=sr, virtual_size=size, name_label="b",
                name_description="", sharable=False, read_only=False))))
            made.append(r["uuid"])
        src = made[0]
        for _ in range(ROUNDS):
            snaps.append(timed(lambda: call(sock, "vdi_snapshot", sr_uuid=sr, vdi_uuid=src)))
        src = made[1]
        for _ in range(ROUNDS):
            clones.append(timed(lambda: call(sock, "vdi_clone", sr_uuid=sr, vdi_uuid=src)))
        print("  vdi_create   %-8s %s" % (label, ms(statistics.median(creates))))
        print("  vdi_snapshot %-8s %s" % (label, ms(statistics.median(snaps))))
        print("  vdi_clone    %-8s %s" % (label, ms(statistics.median(clones))))

    # 1,000 VDIs: images copied from one template and listed in the SR
    # metadata (the documented on-media format), then attached and scanned.
    loc = tmp / "scan"
    loc.mkdir()
    template = tmp / "template.qcow2"
    subprocess.run(["qemu-img", "create", "-q", "-f", "qcow2", str(template), "1G"], check=True)
    sr2 = str(uuid.uuid4())
    vdis = []
    for i in range(SCAN_VDIS):
        u = str(uuid.uuid4())
        shutil.copyfile(template, loc / (u + ".qcow2"))
        vdis.append({"uuid": u, "name_label": "vdi %d" % i, "name_description": "",
                     "virtual_size": 1 << 30, "parent": "", "is_a_snapshot": False,
                     "snapshot_of": "", "snapshot_time": "19700101T00:00:00Z",
                     "sharable": False, "read_only": False, "managed": True,
                     "file": u + ".qcow2", "format": "qcow2"})
    (loc / ".xenia-sr.json").write_text(json.dumps({
        "format": "xenia-sr/1", "uuid": sr2, "type": "file", "name_label": "scan",
        "name_description": "", "content_type": "user", "shared": False, "vdis": vdis,
        "journal": None}))
    call(sock, "sr_attach", type="file", sr_uuid=sr2, device_config={"location": str(loc)})
    scans = []
    for _ in range(5):
        r = {}
        scans.append(timed(lambda: r.update(call(sock, "sr_scan", sr_uuid=sr2))))
        assert len(r["vdis"]) == SCAN_VDIS
    print("  sr_scan      %d VDIs %s (median of 5)" % (SCAN_VDIS, ms(statistics.median(scans))))

    # Sequential writes: a qcow2 VDI against a raw file on the same disk.
    v = call(sock, "vdi_create", sr_uuid=sr, virtual_size=1 << 30, name_label="w",
             name_description="", sharable=False, read_only=False)
    raw = tmp / "raw.img"
    with open(raw, "wb") as f:
        f.truncate(1 << 30)
    rates = {}
    for name, fmt, path in (("qcow2 VDI", "qcow2", tmp / "sr" / v["location"]),
                            ("raw file", "raw", raw)):
        t = timed(lambda: subprocess.run(
            ["qemu-io", "-f", fmt, "-c", "write -P 0x5a 0 %dM" % WRITE_MIB, "-c", "flush",
             str(path)], check=True, capture_output=True))
        rates[name] = WRITE_MIB / t
        print("  seq write    %-9s %.0f MiB/s (%d MiB, qemu-io, flushed)" % (
            name, rates[name], WRITE_MIB))
    print("  seq write    qcow2/raw ratio %.2f" % (rates["qcow2 VDI"] / rates["raw file"]))


if __name__ == "__main__":
    sys.exit(main())
