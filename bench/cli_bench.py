#!/usr/bin/python3
"""Prints figures for the xe CLI: the wall time of `xe vm-list` with 1,000
VMs in the database, `xe pool-param-set` in a loop as writes per second,
each including the start of the xe process, and `xe -version` in a loop,
which is the start of the process alone (no server). Figures only."""
import os
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests" / "integration"))
from xeniatest import Host, build_dir, vm_record  # noqa: E402

N_VMS = 1000
N_WRITES = 200


def main():
    h = Host()
    h.start()
    try:
        env = dict(os.environ, XE_SOCKET=h.socket_path, HOME="/nonexistent")
        xe = str(build_dir() / "xe")
        with h.session() as s:
            for i in range(N_VMS):
                s("VM.create", vm_record(name_label="bench-%d" % i))
        runs = []
        for _ in range(5):
            t0 = time.monotonic()
            subprocess.run([xe, "vm-list"], env=env, check=True, stdout=subprocess.DEVNULL)
            runs.append(time.monotonic() - t0)
        print("xe vm-list, %d VMs: best %.3f s, median %.3f s" %
              (N_VMS, min(runs), sorted(runs)[len(runs) // 2]))
        pool = subprocess.run([xe, "pool-list", "--minimal"], env=env, check=True,
                              capture_output=True, text=True).stdout.strip()
        t0 = time.monotonic()
        for i in range(N_WRITES):
            subprocess.run([xe, "pool-param-set", "uuid=" + pool, "name-description=%d" % i],
                           env=env, check=True)
        dt = time.monotonic() - t0
        print("xe pool-param-set: %.1f writes/s (%d writes, process start included)" %
              (N_WRITES / dt, N_WRITES))
        t0 = time.monotonic()
        for i in range(N_WRITES):
            subprocess.run([xe, "-version"], env=env, check=True, stdout=subprocess.DEVNULL)
        dt = time.monotonic() - t0
        print("xe -version: %.1f runs/s (%d runs, the process start alone)" %
              (N_WRITES / dt, N_WRITES))
    finally:
        h.close()


if __name__ == "__main__":
    main()
