#!/usr/bin/python3
"""Disk and VM transfer over HTTP (part of `make bench`): MiB/s of GET
/export_raw_vdi, PUT /import_raw_vdi (raw, and format=vhd: a dynamic VHD,
made and parsed by xapi), GET /export and PUT /import of a VM
with one 256 MiB disk on the development host's `file` SR (xapi, storaged,
nbdcopy and qemu-nbd), next to reading the raw file the disk was filled from and to nbdcopy
reading the image into null: (storaged's side alone, without HTTP). The
disk is filled with random data, so nothing is skipped as zeros; a second
line gives the XVA export of the same disk mostly empty (sparse chunks
left out). Starts its own host (scripts/run-host) in a temporary folder;
prints figures, judges nothing.

Environment: XENIA_BUILD (default build/), XENIA_BENCH_TRANSFER_MIB
(default 256)."""
import http.client
import os
import subprocess
import sys
import tempfile
import time
import urllib.parse
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests" / "integration"))
from xeniatest import Host, vm_record, JsonRpcClient  # noqa: E402

MIB = int(os.environ.get("XENIA_BENCH_TRANSFER_MIB", "256"))
SIZE = MIB * 1024 * 1024



def get(port, path, query, save=None):
    """Downloads, counting (and writing to save if given); returns (bytes,
    seconds)."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=600)
    t = time.perf_counter()
    conn.request("GET", path + "?" + urllib.parse.urlencode(query))
    resp = conn.getresponse()
    if resp.status != 200:
        raise RuntimeError("GET %s: HTTP %d" % (path, resp.status))
    n = 0
    out = open(save, "wb") if save else None
    while True:
        chunk = resp.read(1 << 20)
        if not chunk:
            break
        n += len(chunk)
        if out:
            out.write(chunk)
    if out:
        out.close()
    conn.close()
    return n, time.perf_counter() - t


def put(port, path, query, filename, c, s):
    """Uploads a file; waits for the task; returns seconds."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=600)
    t = time.perf_counter()
    with open(filename, "rb") as f:
        conn.request("PUT", path + "?" + urllib.parse.urlencode(query), body=f,
                     headers={"Content-Length": str(os.path.getsize(filename))})
        resp = conn.getresponse()
        resp.read()
    task = resp.getheader("task-id")
    while c("task.get_status", s, task) == "pending":
        time.sleep(0.01)
    elapsed = time.perf_counter() - t
    rec = c("task.get_record", s, task)
    if rec["status"] != "success":
        raise RuntimeError("PUT %s: %s" % (path, rec["error_info"]))
    conn.close()
    return elapsed, rec["result"]


def rate(nbytes, seconds):
    return nbytes / (1024 * 1024) / seconds


def main():
    host = Host().start()
    tmp = tempfile.mkdtemp(prefix="xfer-bench-")
    try:
        c = JsonRpcClient(host.http_port)
        s = c("session.login_with_password", "root", host.password, "1.0", "bench")
        sr = c("pool.get_default_SR", s, c("pool.get_all", s)[0])
        rec = {"SR": sr, "type": "user", "sharable": False, "read_only": False,
               "other_config": {}, "name_label": "bench", "name_description": "",
               "virtual_size": str(SIZE)}
        vdi = c("VDI.create", s, rec)
        image = host.state_dir / "sr-local" / c("VDI.get_location", s, vdi)
        data = os.path.join(tmp, "random.raw")
        with open(data, "wb") as f:
            for _ in range(MIB):
                f.write(os.urandom(1 << 20))
        subprocess.run(["qemu-img", "convert", "-n", "-O", "qcow2", data, str(image)],
                       check=True, capture_output=True)
        print("[transfer] a %d MiB disk of random data on the file SR (qcow2), over plain "
              "HTTP on loopback; MiB/s of the disk's size" % MIB)
        t = time.perf_counter()
        with open(data, "rb") as f:
            while f.read(1 << 20):
                pass
        print("reading the raw file (page cache): %.0f MiB/s" %
              rate(SIZE, time.perf_counter() - t))
        t = time.perf_counter()
        subprocess.run(["nbdcopy", "--", "[", "qemu-nbd", "-r", "-f", "qcow2", str(image), "]",
                        "null:"], check=True, capture_output=True)
        print("nbdcopy of the qcow2 image to null: (storaged's side alone): %.0f MiB/s" %
              rate(SIZE, time.perf_counter() - t))
        n, secs = get(host.http_port, "/export_raw_vdi", {"session_id": s, "vdi": vdi})
        assert n == SIZE
        print("GET /export_raw_vdi: %.0f MiB/s" % rate(SIZE, secs))
        target = c("VDI.create", s, dict(rec, name_label="bench-target"))
        secs, _ = put(host.http_port, "/import_raw_vdi", {"session_id": s, "vdi": target}, data,
                      c, s)
        print("PUT /import_raw_vdi: %.0f MiB/s" % rate(SIZE, secs))
        c("VDI.destroy", s, target)

        n, secs = get(host.http_port, "/export_raw_vdi",
                      {"session_id": s, "vdi": vdi, "format": "vhd"})
        print("GET /export_raw_vdi format=vhd: %.0f MiB/s (image %.0f MiB)" %
              (rate(SIZE, secs), n / 2 ** 20))
        # the image to upload, made by qemu-img from the same data
        vhd = os.path.join(tmp, "disk.vhd")
        subprocess.run(["qemu-img", "convert", "-f", "raw", "-O", "vpc", "-o",
                        "subformat=dynamic,force_size=on", data, vhd],
                       check=True, capture_output=True)
        target = c("VDI.create", s, dict(rec, name_label="bench-vhd"))
        secs, _ = put(host.http_port, "/import_raw_vdi",
                      {"session_id": s, "vdi": target, "format": "vhd"}, vhd, c, s)
        print("PUT /import_raw_vdi format=vhd: %.0f MiB/s" % rate(SIZE, secs))
        c("VDI.destroy", s, target)
        os.unlink(vhd)

        # a delta: 1/16 of the disk rewritten after a snapshot
        base = c("VDI.snapshot", s, vdi, {})
        subprocess.run(["qemu-io", "-f", "qcow2", "-c",
                        "write -P 0x42 0 %d" % (SIZE // 16), str(image)],
                       check=True, capture_output=True)
        top = c("VDI.snapshot", s, vdi, {})
        n, secs = get(host.http_port, "/export_raw_vdi",
                      {"session_id": s, "vdi": top, "format": "vhd", "base": base})
        print("GET /export_raw_vdi format=vhd base= (1/16 changed): %.2f s, image %.1f MiB" %
              (secs, n / 2 ** 20))
        c("VDI.destroy", s, top)
        c("VDI.destroy", s, base)

        vm = c("VM.create", s, vm_record(name_label="bench-vm"))
        c("VBD.create", s, {"VM": vm, "VDI": vdi, "userdevice": "0", "bootable": True,
                            "mode": "RW", "type": "Disk", "empty": False, "other_config": {},
                            "qos_algorithm_type": "", "qos_algorithm_params": {}})
        xva = os.path.join(tmp, "vm.xva")
        conn = http.client.HTTPConnection("127.0.0.1", host.http_port, timeout=600)
        t = time.perf_counter()
        conn.request("GET", "/export?" + urllib.parse.urlencode({"session_id": s, "ref": vm}))
        resp = conn.getresponse()
        with open(xva, "wb") as f:
            while True:
                chunk = resp.read(1 << 20)
                if not chunk:
                    break
                f.write(chunk)
        secs = time.perf_counter() - t
        conn.close()
        print("GET /export (XVA, SHA-1 per chunk): %.0f MiB/s (archive %.0f MiB)" %
              (rate(SIZE, secs), os.path.getsize(xva) / 2 ** 20))
        secs, result = put(host.http_port, "/import", {"session_id": s, "sr_id": sr}, xva, c, s)
        print("PUT /import (XVA, checksums verified): %.0f MiB/s" % rate(SIZE, secs))
        new = result.split("<value>")[-1].split("</value>")[0]
        for vbd in c("VM.get_VBDs", s, new):
            d = c("VBD.get_VDI", s, vbd)
            c("VBD.destroy", s, vbd)
            c("VDI.destroy", s, d)
        c("VM.destroy", s, new)

        # compressed exports of the same VM (random data: the codecs' own
        # speed, nothing to gain in size) and the import of each
        for codec in ("gzip", "zstd"):
            path = os.path.join(tmp, "vm.xva." + codec)
            n, secs = get(host.http_port, "/export",
                          {"session_id": s, "ref": vm, "use_compression": codec}, save=path)
            print("GET /export use_compression=%s: %.0f MiB/s (archive %.0f MiB)" %
                  (codec, rate(SIZE, secs), n / 2 ** 20))
            secs, result = put(host.http_port, "/import", {"session_id": s, "sr_id": sr}, path,
                               c, s)
            print("PUT /import (%s archive): %.0f MiB/s" % (codec, rate(SIZE, secs)))
            new = result.split("<value>")[-1].split("</value>")[0]
            for vbd in c("VM.get_VBDs", s, new):
                d = c("VBD.get_VDI", s, vbd)
                c("VBD.destroy", s, vbd)
                c("VDI.destroy", s, d)
            c("VM.destroy", s, new)

        # the same export of a mostly empty disk: zero chunks are left out
        sparse = c("VDI.create", s, dict(rec, name_label="bench-sparse"))
        vm2 = c("VM.create", s, vm_record(name_label="bench-sparse"))
        c("VBD.create", s, {"VM": vm2, "VDI": sparse, "userdevice": "0", "bootable": True,
                            "mode": "RW", "type": "Disk", "empty": False, "other_config": {},
                            "qos_algorithm_type": "", "qos_algorithm_params": {}})
        n, secs = get(host.http_port, "/export", {"session_id": s, "ref": vm2})
        print("GET /export of an empty %d MiB disk: %.0f MiB/s of disk, archive %.1f MiB" %
              (MIB, rate(SIZE, secs), n / 2 ** 20))
        n, secs = get(host.http_port, "/export_raw_vdi",
                      {"session_id": s, "vdi": sparse, "format": "vhd"})
        print("GET /export_raw_vdi format=vhd of the empty disk: %.0f MiB/s of disk, "
              "image %.1f MiB" % (rate(SIZE, secs), n / 2 ** 20))
    finally:
        host.close()
        host.remove_state()
        for f in Path(tmp).glob("*"):
            f.unlink()
        os.rmdir(tmp)


if __name__ == "__main__":
    main()
