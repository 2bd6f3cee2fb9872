#!/usr/bin/python3
"""storaged's figures (`make bench` runs this through scripts/run-bench):
VDI create, snapshot and clone latency on a file SR (median of 20, for 1
GiB and 100 GiB virtual sizes), with storaged's own CPU time per call and
the disk's flush latency beside them (on a busy machine the wall time is
mostly waiting: the CPU time is what storaged itself costs), sr_scan time
with 1,000 and 5,000 VDIs (independent, and in snapshot chains), and
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
SCAN_VDIS = (1000, 5000)
ZERO_UUID = "00000000-0000-0000-0000-000000000000"
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
        run(sock, tmp, proc.pid)
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


def vdi_entry(u, label, parent="", managed=True, snapshot_of=""):
    return {"uuid": u, "name_label": label, "name_description": "",
            "virtual_size": 1 << 30, "parent": parent, "is_a_snapshot": bool(snapshot_of),
            "snapshot_of": snapshot_of,
            "snapshot_time": "20260101T00:00:00Z" if snapshot_of else "19700101T00:00:00Z",
            "sharable": False, "read_only": not managed, "managed": managed,
            "file": u + ".qcow2", "format": "qcow2"}


def cpu_seconds(pid):
    """User and system CPU time a process has used so far."""
    fields = Path("/proc/%d/stat" % pid).read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def scan_bench(sock, tmp, n, chained, pid):
    """sr_scan of an SR of n VDIs written straight in the documented
    on-media format: n independent images, or (chained) n/3 snapshot
    chains, each a hidden base with the VDI and its snapshot on top, as
    vdi_snapshot leaves them. Images are copies of one template; an
    overlay's backing name is patched in place (every uuid is as long as
    the template's), so each image is what qemu-img would have made."""
    loc = tmp / ("scan-%d-%s" % (n, "chained" if chained else "flat"))
    loc.mkdir()
    base_t = tmp / "template.qcow2"
    top_t = tmp / "template-top.qcow2"
    if not base_t.exists():
        subprocess.run(["qemu-img", "create", "-q", "-f", "qcow2", str(base_t), "1G"], check=True)
        subprocess.run(["qemu-img", "create", "-q", "-u", "-f", "qcow2", "-F", "qcow2", "-b",
                        ZERO_UUID + ".qcow2", str(top_t), "1G"], check=True)
    base_bytes = base_t.read_bytes()
    top_bytes = top_t.read_bytes()
    vdis = []
    if not chained:
        for i in range(n):
            u = str(uuid.uuid4())
            (loc / (u + ".qcow2")).write_bytes(base_bytes)
            vdis.append(vdi_entry(u, "vdi %d" % i))
    else:
        for i in range(n // 3):
            b, v, s = (str(uuid.uuid4()) for _ in range(3))
            (loc / (b + ".qcow2")).write_bytes(base_bytes)
            top = top_bytes.replace(ZERO_UUID.encode(), b.encode(), 1)
            (loc / (v + ".qcow2")).write_bytes(top)
            (loc / (s + ".qcow2")).write_bytes(top)
            vdis += [vdi_entry(b, "base copy", managed=False), vdi_entry(v, "vdi %d" % i, b),
                     vdi_entry(s, "vdi %d" % i, b, snapshot_of=v)]
    sr = str(uuid.uuid4())
    (loc / ".xenia-sr.json").write_text(json.dumps({
        "format": "xenia-sr/1", "uuid": sr, "type": "file", "name_label": "scan",
        "name_description": "", "content_type": "user", "shared": False, "vdis": vdis,
        "journal": None}))
    call(sock, "sr_attach", type="file", sr_uuid=sr, device_config={"location": str(loc)})
    scans = []
    cpu = cpu_seconds(pid)
    for _ in range(5):
        r = {}
        scans.append(timed(lambda: r.update(call(sock, "sr_scan", sr_uuid=sr))))
        assert len(r["vdis"]) == len(vdis)
    # storaged's own CPU time tells its work apart from a loaded machine's.
    cpu = (cpu_seconds(pid) - cpu) / 5
    print("  sr_scan      %5d VDIs %-8s %s wall (median of 5), %s storaged CPU "
          "(mean; %.1f us per VDI)" % (len(vdis), "chained" if chained else "flat",
                                       ms(statistics.median(scans)), ms(cpu),
                                       cpu * 1e6 / len(vdis)))
    call(sock, "sr_detach", sr_uuid=sr)
    shutil.rmtree(loc, ignore_errors=True)


def flush_latency(folder):
    """The median time to write and fsync a small new file in folder: what
    each durable step of a VDI operation waits for."""
    times = []
    for i in range(ROUNDS):
        p = folder / (".flush-%d" % i)
        fd = os.open(p, os.O_WRONLY | os.O_CREAT, 0o600)
        t = time.perf_counter()
        os.write(fd, b"x" * 4096)
        os.fsync(fd)
        times.append(time.perf_counter() - t)
        os.close(fd)
        p.unlink()
    return statistics.median(times)


def run(sock, tmp, pid):
    print("storaged (file SR on %s, median of %d)" % (tmp, ROUNDS))
    sr = file_sr(sock, tmp / "sr")
    print("  disk flush   %s (write and fsync of a new 4 KiB file)" % ms(flush_latency(tmp)))
    for size, label in ((1 << 30, "1 GiB"), (100 << 30, "100 GiB")):
        creates, snaps, clones = [], [], []
        cpu = {}
        made = []
        c0 = cpu_seconds(pid)
        for _ in range(ROUNDS):
            r = {}
            creates.append(timed(lambda: r.update(call(
                sock, "vdi_create", sr_uuid=sr, virtual_size=size, name_label="b",
                name_description="", sharable=False, read_only=False))))
            made.append(r["uuid"])
        cpu["create"], c0 = (cpu_seconds(pid) - c0) / ROUNDS, cpu_seconds(pid)
        src = made[0]
        for _ in range(ROUNDS):
            snaps.append(timed(lambda: call(sock, "vdi_snapshot", sr_uuid=sr, vdi_uuid=src)))
        cpu["snapshot"], c0 = (cpu_seconds(pid) - c0) / ROUNDS, cpu_seconds(pid)
        src = made[1]
        for _ in range(ROUNDS):
            clones.append(timed(lambda: call(sock, "vdi_clone", sr_uuid=sr, vdi_uuid=src)))
        cpu["clone"] = (cpu_seconds(pid) - c0) / ROUNDS
        for what, v in (("create", creates), ("snapshot", snaps), ("clone", clones)):
            print("  vdi_%-8s %-8s %s wall, %s storaged CPU (mean)" % (
                what, label, ms(statistics.median(v)), ms(cpu[what])))

    for n in SCAN_VDIS:
        for chained in (False, True):
            scan_bench(sock, tmp, n, chained, pid)

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
