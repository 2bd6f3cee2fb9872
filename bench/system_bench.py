#!/usr/bin/python3
"""System benchmarks on real Xen 4.17 under QEMU (TCG), printed as
"<what>, <conditions>: <number>" lines and never judged:

- boot time of the dom0 image, from starting QEMU to xapi answering;
- VM.start of the guest kit's PV guest (the Generic Linux PV
  template's smallest memory, 256 MiB, as every memory limit, and 1 vCPU) through the API
  (XML-RPC from outside QEMU, from sending the call to its answer) against
  `xl create` of the same guest in the same dom0 (timed inside dom0), the
  median of 5 each, and their ratio. The guests stay up until destroyed,
  untimed, between rounds.

Uses the system tests' harness (tests/system/xenhost.py): the image is made
with iso/mkimage from the cached root filesystem and the gcc build in
$XENIA_ISO_BUILD (default build-iso). Needs root, QEMU and mmdebstrap; says
why and exits 0 when it cannot run. Takes 5 to 10 minutes on 2 CPUs."""

import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests" / "system"))
import xenhost  # noqa: E402

ROUNDS = 5


def xl_create_seconds(host, i, mib):
    name = "bench-xl-%d" % i
    cfg = ("name=\"%s\"\ntype=\"pv\"\nkernel=\"%s/vmlinuz\"\nramdisk=\"%s/initrd.img\"\n"
           "extra=\"console=hvc0 xenia.mode=stay\"\nmemory=%d\nvcpus=1\n"
           % (name, xenhost.GUEST_KIT, xenhost.GUEST_KIT, mib))
    out = host.run("cat > /tmp/%s.cfg <<'EOF'\n%sEOF\n"
                   "t0=$(date +%%s.%%N); xl create -q /tmp/%s.cfg >/dev/null; t1=$(date +%%s.%%N)\n"
                   "echo \"$t0 $t1\"" % (name, cfg, name), timeout=300).stdout.split()
    host.run("xl destroy %s" % name, timeout=120)
    return float(out[-1]) - float(out[-2])


def xen_backend_missing(host):
    if host.run("systemctl is-active xenia-domaind.service", check=False).stdout.strip() \
            == "active":
        return None
    probe = host.run("timeout 20 domaind --backend xen --socket /tmp/domaind-probe.sock "
                     "--state-dir /tmp/domaind-probe 2>&1; true", timeout=60).stdout.strip()
    return probe.splitlines()[-1] if probe else "domaind is not running"


def vm_start_seconds(api, vm):
    t0 = time.monotonic()
    api("VM.start", vm, False, False)
    secs = time.monotonic() - t0
    api("VM.hard_shutdown", vm)
    return secs


def new_vm(api):
    """The guest kit as a VM cloned from the Generic Linux PV template, with
    the template's smallest memory and 1 VCPU; returns (vm, memory MiB)."""
    tmpl = [r for r, v in api("VM.get_all_records").items()
            if v["is_a_template"] and v["name_label"] == "Generic Linux PV"][0]
    vm = api("VM.clone", tmpl, "bench-api")
    api("VM.set_is_a_template", vm, False)
    # A kernel from dom0's files, not pygrub on a boot disk (as on XCP-ng).
    api("VM.set_PV_bootloader", vm, "")
    api("VM.set_PV_kernel", vm, xenhost.GUEST_KIT + "/vmlinuz")
    api("VM.set_PV_ramdisk", vm, xenhost.GUEST_KIT + "/initrd.img")
    api("VM.set_PV_args", vm, "console=hvc0 xenia.mode=stay")
    # All four limits at the template's smallest memory: xl's guest has
    # memory = maxmem, and a larger static max would build a bigger
    # domain than xl's.
    smin = api("VM.get_memory_static_min", vm)
    api("VM.set_memory_limits", vm, smin, smin, smin, smin)
    assert api("VM.get_VCPUs_at_startup", vm) == "1"
    return vm, int(smin) // (1024 * 1024)


def main():
    print("Xenia system benchmarks (Xen 4.17 + Debian dom0 under QEMU TCG, 2 vCPUs, 2 GiB)")
    why = xenhost.why_impossible()
    if why:
        print("system benchmarks: not run: %s" % why)
        return 0
    image = xenhost.Image()
    host = None
    try:
        try:
            image.build()
        except xenhost.ImageError as e:
            print("system benchmarks: not run: the image could not be made: %s" % e)
            return 0
        print("image from the cached root filesystem (iso/mkimage), s: %.1f" % image.seconds)
        host = xenhost.Host(image, "bench").boot()
        print("dom0 boot to a ready API (QEMU start to xapi answering), s: %.1f"
              % host.wait_api())
        host.wait_ssh()

        api = host.session()
        vm, mib = new_vm(api)
        xl = [xl_create_seconds(host, i, mib) for i in range(ROUNDS)]
        xl_med = statistics.median(xl)
        print("xl create of the guest kit (%d MiB, 1 vCPU, in dom0), median of %d, ms: %.0f"
              % (mib, ROUNDS, xl_med * 1000))

        missing = xen_backend_missing(host)
        if missing:
            print("VM.start of the guest kit (API), median of %d, ms: n/a (%s)"
                  % (ROUNDS, missing))
            print("VM.start / xl create ratio: n/a")
            return 0
        times = [vm_start_seconds(api, vm) for _ in range(ROUNDS)]
        api("VM.destroy", vm)
        med = statistics.median(times)
        print("VM.start of the guest kit (API, XML-RPC from outside QEMU), median of %d, ms: %.0f"
              % (ROUNDS, med * 1000))
        print("VM.start / xl create ratio: %.2f" % (med / xl_med))
        return 0
    finally:
        if host is not None:
            host.stop()
        image.remove()


if __name__ == "__main__":
    sys.exit(main())
