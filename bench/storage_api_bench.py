#!/usr/bin/python3
"""Storage through the API (part of `make bench`): the latency of
VDI.create (qcow2, and raw with sm_config:type=raw), VDI.snapshot and
VDI.clone on the development host's `file` SR, end to end (client, xapi,
storaged, the disk), for a small and a large virtual size; and SR.scan of
an SR holding many VDIs. Starts its own host
(scripts/run-host) in a temporary folder; prints figures, judges nothing.

Environment: XENIA_BUILD (default build/), XENIA_BENCH_VDI_ROUNDS (default
20), XENIA_BENCH_SCAN_VDIS (default 1000)."""
import os
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests" / "integration"))
from xeniatest import Host, JsonRpcClient  # noqa: E402

ROUNDS = int(os.environ.get("XENIA_BENCH_VDI_ROUNDS", "20"))
SCAN_VDIS = int(os.environ.get("XENIA_BENCH_SCAN_VDIS", "1000"))
GiB = 1024 ** 3



def timed(fn, *args):
    t = time.perf_counter()
    r = fn(*args)
    return r, (time.perf_counter() - t) * 1000


def main():
    host = Host().start()
    try:
        c = JsonRpcClient(host.http_port)
        s = c("session.login_with_password", "root", host.password, "1.0", "bench")
        sr = c("pool.get_default_SR", s, c("pool.get_all", s)[0])
        rec = {"SR": sr, "type": "user", "sharable": False, "read_only": False,
               "other_config": {}, "name_label": "bench", "name_description": ""}
        print("[5] storage through the API: the development host's file SR (images made by storaged),")
        print("    JSON-RPC on one keep-alive connection, median of %d (p95 nearest rank)" % ROUNDS)
        for size, label in ((GiB, "1 GiB"), (100 * GiB, "100 GiB")):
            made, times = [], {"VDI.create": [], "VDI.create raw": [], "VDI.snapshot": [],
                               "VDI.clone": []}
            for _ in range(ROUNDS):
                vdi, ms = timed(c, "VDI.create", s, dict(rec, virtual_size=str(size)))
                times["VDI.create"].append(ms)
                raw, ms = timed(c, "VDI.create", s, dict(rec, virtual_size=str(size),
                                                         sm_config={"type": "raw"}))
                times["VDI.create raw"].append(ms)
                made.append(raw)
                snap, ms = timed(c, "VDI.snapshot", s, vdi, {})
                times["VDI.snapshot"].append(ms)
                clone, ms = timed(c, "VDI.clone", s, vdi, {})
                times["VDI.clone"].append(ms)
                made += [clone, snap, vdi]
            for what, v in times.items():
                v.sort()
                p95 = v[min(len(v) - 1, int(round(0.95 * len(v))) - 1)]
                print("%s ms, %s virtual size: median %.1f, p95 %.1f" %
                      (what, label, statistics.median(v), p95))
            for vdi in made:
                c("VDI.destroy", s, vdi)
        t0 = time.perf_counter()
        for i in range(SCAN_VDIS):
            c("VDI.create", s, dict(rec, virtual_size=str(GiB), name_label="scan-%d" % i))
        made_s = time.perf_counter() - t0
        print("VDIs created for the scan: %d in %.1f s (%.0f/s)" %
              (SCAN_VDIS, made_s, SCAN_VDIS / made_s))
        scans = sorted(timed(c, "SR.scan", s, sr)[1] for _ in range(5))
        print("SR.scan ms, %d VDIs (median of 5): %.1f" % (SCAN_VDIS, statistics.median(scans)))
    finally:
        host.close()
        host.remove_state()


if __name__ == "__main__":
    main()
