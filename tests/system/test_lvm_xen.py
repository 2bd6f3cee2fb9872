"""The lvm SR driver on a real disk, beyond its lifecycle
(test_storage_xen.py): VDI.copy from and into thin LVs, in every direction
between an lvm SR (on the session host's spare disk vdc) and a file SR in
dom0, checked by content with `qemu-img compare` and by the space the
copies take in the thin pool; VDI.introduce of an LV made by hand;
storaged killed with SIGKILL at each named step (FIST point) of the lvm
operations and restarted, after which SR.scan finds neither an orphan LV
nor a lost VDI; a guest kit VM whose disk is an lvm VDI (blkback, no
QEMU) reading and writing it; and the time lvm2's tools take per call in
dom0 with and without their device scan limited to the SR's disk
(printed, not judged).

Dom0's own view (`lvs`, the LVs' block devices, qemu-img) is the witness
where the API could only repeat what storaged says."""

import re
import time
import uuid as uuidlib

import pytest

from xenhost import XenAPIError, wait_until

MiB = 1024 * 1024
LVM_DEV = "/dev/vdc"
FILE_DIR = "/var/lib/xenia/sr-lvm-tests"
SIZE = 64 * MiB
NULL = "OpaqueRef:NULL"
ENV = "/etc/xenia/storaged.env"


# Calls that reach storaged (lvm2, qemu-img) or start a domain can take
# minutes under emulation on a loaded machine, past the XML-RPC client's
# timeout: they go through their Async form and a bounded wait on the task.
SLOW = {"SR.create", "SR.destroy", "SR.scan", "PBD.unplug", "VDI.create", "VDI.copy",
        "VDI.destroy", "VDI.snapshot", "VDI.introduce", "VDI.forget", "VM.start",
        "VM.clean_shutdown", "VM.hard_shutdown"}
TASK_WAIT = 900


class SlowCalls:
    def __init__(self, session):
        self.session = session

    def __call__(self, method, *args):
        if method not in SLOW:
            return self.session(method, *args)
        task = self.session("Async." + method, *args)
        try:
            wait_until(lambda: self.session("task.get_status", task) != "pending", TASK_WAIT,
                       1.0, "task of %s" % method)
            rec = self.session("task.get_record", task)
        finally:
            try:
                self.session("task.destroy", task)
            except XenAPIError:
                pass
        if rec["status"] != "success":
            raise XenAPIError(rec["error_info"])
        m = re.fullmatch(r"<value>(.*)</value>", rec["result"] or "", re.S)
        return m.group(1) if m else ""


@pytest.fixture(scope="module")
def lhost(host):
    assert len(host.extra_disks) >= 2
    return host


@pytest.fixture(scope="module")
def api(host):
    s = host.session()
    yield SlowCalls(s)
    s.logout()


@pytest.fixture(scope="module")
def srs(lhost, api):
    """An lvm SR on vdc and a file SR in dom0, for the module."""
    host_ref = api("host.get_all")[0]
    lhost.run("mkdir -p %s" % FILE_DIR)
    lvm = api("SR.create", host_ref, {"device": LVM_DEV}, "0", "lvm tests", "", "lvm", "user",
              False, {})
    try:
        fsr = api("SR.create", host_ref, {"location": FILE_DIR}, "0", "file tests", "", "file",
                  "user", False, {})
    except XenAPIError:
        _destroy_sr(api, lvm)
        raise
    yield lvm, fsr
    for sr in (fsr, lvm):
        _destroy_sr(api, sr)
    lhost.run("rm -rf %s" % FILE_DIR, check=False)


def _destroy_sr(api, sr):
    try:
        for vdi in api("SR.get_VDIs", sr):
            try:
                api("VDI.destroy", vdi)
            except XenAPIError:
                pass
        for pbd in api("SR.get_PBDs", sr):
            api("PBD.unplug", pbd)
        api("SR.destroy", sr)
    except XenAPIError:
        pass


def error(api, *args):
    try:
        api(*args)
    except XenAPIError as e:
        return e.details
    raise AssertionError("%s succeeded" % args[0])


def new_vdi(api, sr, name, size=SIZE):
    return api("VDI.create", {"SR": sr, "virtual_size": str(size), "type": "user",
                              "sharable": False, "read_only": False, "other_config": {},
                              "name_label": name, "name_description": ""})


def vg_of(api, sr):
    return "VG_XenStorage-" + api("SR.get_uuid", sr)


def lv_dev(api, sr, vdi):
    """The block device of an lvm VDI in dom0."""
    return "/dev/%s/LV-%s" % (vg_of(api, sr), api("VDI.get_uuid", vdi))


def image(h, api, vdi):
    """(path, format) of a VDI's data as qemu-img opens it in dom0."""
    sr = api("VDI.get_SR", vdi)
    if api("SR.get_type", sr) == "lvm":
        return lv_dev(api, sr, vdi), "raw"
    return "%s/%s" % (FILE_DIR, api("VDI.get_location", vdi)), (
        "qcow2" if api("VDI.get_location", vdi).endswith(".qcow2") else "raw")


def write_pattern(h, api, vdi, byte):
    """8 MiB of byte at 0 and 4 MiB of ~byte at 40 MiB; the rest left as
    it was (holes read as zeros)."""
    path, fmt = image(h, api, vdi)
    h.run("qemu-io -f %s -c 'write -P %d 0 8M' -c 'write -P %d 40M 4M' %s >/dev/null"
          % (fmt, byte, 255 - byte, path), timeout=300)


def same_content(h, api, a, b):
    """qemu-img compare of two VDIs' guest-visible data (0 = identical)."""
    pa, fa = image(h, api, a)
    pb, fb = image(h, api, b)
    r = h.run("qemu-img compare -U -f %s -F %s %s %s" % (fa, fb, pa, pb), timeout=300,
              check=False)
    return r.returncode == 0, r.stdout + r.stderr


def md5(h, api, vdi, size=SIZE):
    path, fmt = image(h, api, vdi)
    return h.run("t=$(mktemp); qemu-img convert -U -f %s -O raw %s $t && head -c %d $t | md5sum; "
                 "rm -f $t" % (fmt, path, size), timeout=300).stdout.split()[0]


def lv_report(h, api, sr):
    """{lv_name: (size, data_percent, tags)} of the SR's VG."""
    out = h.run("lvs --noheadings --units b --nosuffix --separator '|' "
                "-o lv_name,lv_size,data_percent,lv_tags %s" % vg_of(api, sr)).stdout
    rep = {}
    for line in out.splitlines():
        f = [x.strip() for x in line.split("|")]
        if len(f) == 4:
            rep[f[0]] = (int(f[1]), float(f[2] or 0), f[3])
    return rep


def vdi_lvs(h, api, sr):
    return {n[3:] for n in lv_report(h, api, sr) if n.startswith("LV-")}


def managed(api, sr):
    return {api("VDI.get_uuid", v) for v in api("SR.get_VDIs", sr) if api("VDI.get_managed", v)}


def wait_task(api, task, timeout=TASK_WAIT):
    wait_until(lambda: api("task.get_status", task) != "pending", timeout, 1.0, "the task")
    return api("task.get_record", task)


def test_copy_lvm_to_file_to_lvm_keeps_the_data_and_the_holes(lhost, api, srs):
    lvm, fsr = srs
    a = new_vdi(api, lvm, "lvm-source")
    write_pattern(lhost, api, a, 0x61)
    want = md5(lhost, api, a)

    # lvm -> file, as a task, with its progress to the end
    task = api("Async.VDI.copy", a, fsr, NULL, NULL)
    rec = wait_task(api, task)
    assert rec["status"] == "success", rec
    assert float(rec["progress"]) == 1.0
    b = re.fullmatch(r"<value>(.*)</value>", rec["result"]).group(1)
    assert api("VDI.get_SR", b) == fsr and api("VDI.get_virtual_size", b) == str(SIZE)
    assert api("VDI.get_name_label", b) == "lvm-source"
    ok, why = same_content(lhost, api, a, b)
    assert ok, why

    # file -> lvm: a thin LV of the virtual size, holding only the data
    c = api("VDI.copy", b, lvm, NULL, NULL)
    assert api("VDI.get_SR", c) == lvm and api("VDI.get_virtual_size", c) == str(SIZE)
    ok, why = same_content(lhost, api, b, c)
    assert ok, why
    assert md5(lhost, api, c) == want
    rep = lv_report(lhost, api, lvm)
    size, pct, tags = rep["LV-" + api("VDI.get_uuid", c)]
    assert size == SIZE and "xenia-vdi" in tags.split(",")
    # 12 MiB of 64 written: the zeros between stayed unallocated
    assert pct < 30.0, rep

    # lvm -> lvm
    d = api("VDI.copy", a, lvm, NULL, NULL)
    ok, why = same_content(lhost, api, a, d)
    assert ok, why
    assert lv_report(lhost, api, lvm)["LV-" + api("VDI.get_uuid", d)][1] < 30.0
    api("SR.scan", lvm)
    assert {api("VDI.get_uuid", v) for v in (a, c, d)} <= managed(api, lvm)
    assert int(api("VDI.get_physical_utilisation", c)) < SIZE // 2


def test_introduce_takes_in_an_lv_made_by_hand(lhost, api, srs):
    """An LV named like a VDI that storaged did not make survives scans
    (no tag: not taken for a leftover) until VDI.introduce takes it in."""
    lvm, _ = srs
    u = str(uuidlib.uuid4())
    vg = vg_of(api, lvm)
    lhost.run("lvcreate -q -y --thin -V 32m -n LV-%s %s/xenia-pool" % (u, vg), timeout=180)
    lhost.run("dd if=/dev/urandom of=/dev/%s/LV-%s bs=1M count=4 oflag=direct status=none"
              % (vg, u), timeout=180)
    want = lhost.run("head -c %d /dev/%s/LV-%s | md5sum" % (32 * MiB, vg, u)).stdout.split()[0]
    api("SR.scan", lvm)
    assert u not in managed(api, lvm)
    assert u in vdi_lvs(lhost, api, lvm)

    args = ["hand-made", "an LV made in dom0", lvm, "user", False, False, {}, "LV-" + u, {},
            {}, True, "0", "0", NULL, False, "19700101T00:00:00Z", NULL]
    vdi = api("VDI.introduce", u, *args)
    rec = api("VDI.get_record", vdi)
    assert rec["uuid"] == u and rec["SR"] == lvm and rec["name_label"] == "hand-made"
    assert rec["virtual_size"] == str(32 * MiB) and rec["location"] == "LV-" + u
    assert "xenia-vdi" in lv_report(lhost, api, lvm)["LV-" + u][2].split(",")
    api("SR.scan", lvm)
    assert u in managed(api, lvm)
    got = lhost.run("head -c %d /dev/%s/LV-%s | md5sum" % (32 * MiB, vg, u)).stdout.split()[0]
    assert got == want
    # the same again, an LV that is not there, a location that is not its LV
    assert error(api, "VDI.introduce", u, *args)[0] in ("INVALID_VALUE", "SR_BACKEND_FAILURE_43")
    other = str(uuidlib.uuid4())
    assert error(api, "VDI.introduce", other, *args[:7], "", *args[8:])[0] == \
        "VDI_LOCATION_MISSING"
    assert error(api, "VDI.introduce", other, *args)[0] == "SR_BACKEND_FAILURE_65"

    # forgotten by xapi, still in the SR: a scan brings it back, same uuid
    api("VDI.forget", vdi)
    api("SR.scan", lvm)
    assert u in managed(api, lvm)


@pytest.fixture(scope="module")
def blk_kit(lhost):
    """A copy of the guest kit's initramfs with xen-blkfront, as
    test_vm_disks_xen.py makes it."""
    from test_vm_disks_xen import KIT_INITRD, GUEST_KIT
    lhost.run("set -e; d=$(mktemp -d); cd $d; zcat %s/initrd.img | cpio -id --quiet; "
              "mkdir -p lib/modules; "
              "cp /lib/modules/$(uname -r)/kernel/drivers/block/xen-blkfront.ko lib/modules/; "
              "ln -sf busybox bin/insmod; "
              "find . | cpio -o -H newc --quiet | gzip > %s; cd /; rm -rf $d"
              % (GUEST_KIT, KIT_INITRD), timeout=120)
    return KIT_INITRD


def test_a_guest_reads_and_writes_its_lvm_disk(lhost, api, srs, blk_kit):
    """An lvm VDI reaches the guest through blkback (backend phy): what dom0
    wrote into the LV the guest reads, what the guest wrote dom0 finds."""
    from test_vm_disks_xen import new_vm, destroy_vm, domain_of, console, wait_disks, WAIT
    state = lhost.run("systemctl is-active xenia-domaind.service", check=False).stdout.strip()
    assert state == "active", "domaind is not running in dom0"
    lvm, _ = srs
    word = "lvm-guest-%s" % uuidlib.uuid4().hex[:8]
    vm = new_vm(api, blk_kit, args="xenia.readdisk=xvda xenia.writedisk=xvda:" + word)
    try:
        vdi = new_vdi(api, lvm, "guest disk", 48 * MiB)
        api("VBD.create", {"VM": vm, "VDI": vdi, "userdevice": "0", "bootable": False,
                           "mode": "RW", "type": "Disk", "empty": False, "other_config": {},
                           "qos_algorithm_type": "", "qos_algorithm_params": {}})
        dev = lv_dev(api, lvm, vdi)
        lhost.run("printf XXXXXXXXXXXXXXXX | dd of=%s oflag=direct bs=512 conv=sync status=none"
                  % dev)
        api("VM.start", vm, False, False)
        d = domain_of(lhost, api, vm)
        wait_disks(lhost, d["name"], {"xvda": 48 * MiB})
        wait_until(lambda: "XENIA-GUEST-KIT wrotedisk xvda" in console(lhost, d["name"]), WAIT,
                   2.0, "the guest to write xvda")
        assert "XENIA-GUEST-KIT readdisk xvda: " + "X" * 16 in console(lhost, d["name"])
        backend = lhost.run("xenstore-ls -f /local/domain/0/backend 2>/dev/null | "
                            "grep '/%d/.*/params' || true" % d["domid"]).stdout
        assert "/backend/vbd/" in backend and dev.split("/")[-1] in backend, backend
        api("VM.clean_shutdown", vm)
        # read past dom0's page cache: the guest wrote through blkback
        head = lhost.run("dd if=%s iflag=direct bs=512 count=1 status=none | head -c %d"
                         % (dev, len(word))).stdout
        assert head == word
    finally:
        destroy_vm(api, vm)


def test_lvm_call_times_with_and_without_a_device_scan(lhost, api, srs):
    """Figures only: lvm2's per-call time in dom0, scanning every block
    device or only the SR's (--devices, what storaged passes)."""
    lvm, _ = srs
    vg = vg_of(api, lvm)
    runs = 5
    res = {}
    for label, opt in (("every device", ""), ("--devices " + LVM_DEV, "--devices " + LVM_DEV)):
        for cmd in ("pvs %s %s" % (opt, LVM_DEV), "lvs %s %s" % (opt, vg),
                    "vgs %s %s" % (opt, vg)):
            t = time.monotonic()
            for _ in range(runs):
                lhost.run(cmd + " >/dev/null", timeout=120)
            res[(label, cmd.split()[0])] = (time.monotonic() - t) / runs
    # the ssh round trip, to subtract
    t = time.monotonic()
    for _ in range(runs):
        lhost.run("true")
    rtt = (time.monotonic() - t) / runs
    print("\n[lvm] per-call time in dom0 (mean of %d, ssh round trip %.2f s subtracted):"
          % (runs, rtt))
    for (label, tool), secs in sorted(res.items()):
        print("[lvm]   %-4s %-20s %.2f s" % (tool, label, max(0.0, secs - rtt)))


def test_copy_into_existing_vdis_of_either_sr(lhost, api, srs):
    """into_vdi: every byte of the source's size is written, zeros
    included, so nothing the target held shows through."""
    lvm, fsr = srs
    src = new_vdi(api, fsr, "file-source")
    write_pattern(lhost, api, src, 0x73)
    into_lvm = new_vdi(api, lvm, "lvm-target")
    into_file = new_vdi(api, fsr, "file-target")
    for t in (into_lvm, into_file):
        path, fmt = image(lhost, api, t)
        lhost.run("qemu-io -f %s -c 'write -P 0xab 0 %d' %s >/dev/null" % (fmt, SIZE, path),
                  timeout=300)

    assert api("VDI.copy", src, NULL, NULL, into_lvm) == into_lvm
    ok, why = same_content(lhost, api, src, into_lvm)
    assert ok, why
    lvm_src = new_vdi(api, lvm, "lvm-source-2")
    write_pattern(lhost, api, lvm_src, 0x74)
    assert api("VDI.copy", lvm_src, NULL, NULL, into_file) == into_file
    ok, why = same_content(lhost, api, lvm_src, into_file)
    assert ok, why
    # a target smaller than the source is refused
    small = new_vdi(api, lvm, "small", 16 * MiB)
    assert error(api, "VDI.copy", lvm_src, NULL, NULL, small)[0] == "VDI_TOO_SMALL"


def storaged_restart(h, fist=None):
    """Restarts storaged in dom0, with STORAGED_FIST=fist (None: without),
    and waits until the new process says it is ready. The unit's own
    readiness (its socket file exists) is not enough after a kill -9: the
    dead process's socket file is still there."""
    h.run("grep -v '^STORAGED_FIST=' %s > %s.new 2>/dev/null; %s mv %s.new %s; "
          "systemctl restart xenia-storaged.service"
          % (ENV, ENV, "echo STORAGED_FIST=%s >> %s.new;" % (fist, ENV) if fist else "", ENV, ENV),
          timeout=180)
    pid = h.run("systemctl show -p MainPID --value xenia-storaged.service").stdout.strip()
    wait_until(lambda: h.run("journalctl -b _PID=%s -o cat | grep -q 'ready: socket'" % pid,
                             check=False).returncode == 0, 180, 1.0, "storaged %s ready" % pid)


# point -> (operation, whether it committed before the kill)
FIST = {
    "create-written": ("create", False),
    "create-committed": ("create", True),
    "snapshot-created": ("snapshot", False),
    "snapshot-committed": ("snapshot", True),
    "delete-journaled": ("delete", True),
    "copy-lv-created": ("copy", False),
    "copy-converted": ("copy", False),
    "copy-committed": ("copy", True),
}


def test_kill_9_at_each_step_loses_nothing_and_leaves_no_orphan(lhost, api, srs):
    lvm, fsr = srs
    base = new_vdi(api, lvm, "fist-base")
    write_pattern(lhost, api, base, 0x66)
    want = md5(lhost, api, base)
    src = api("VDI.copy", base, fsr, NULL, NULL)
    try:
        for point, (op, committed) in sorted(FIST.items()):
            api("SR.scan", lvm)
            before = managed(api, lvm)
            victim = new_vdi(api, lvm, "fist-victim") if op == "delete" else None
            if victim:
                before = managed(api, lvm)
                victim_uuid = api("VDI.get_uuid", victim)
            storaged_restart(lhost, point)
            try:
                if op == "create":
                    new_vdi(api, lvm, "fist-" + point)
                elif op == "snapshot":
                    api("VDI.snapshot", base, {})
                elif op == "delete":
                    api("VDI.destroy", victim)
                else:
                    api("VDI.copy", src, lvm, NULL, NULL)
                raise AssertionError("%s: storaged was not killed" % point)
            except XenAPIError:
                pass
            storaged_restart(lhost)
            api("SR.scan", lvm)
            after = managed(api, lvm)
            # every VDI has its LV and every VDI LV is a VDI
            assert vdi_lvs(lhost, api, lvm) == after, point
            if op == "delete":
                assert after == before - {victim_uuid}, point
            elif committed:
                assert len(after - before) == 1 and before <= after, point
            else:
                assert after == before, point
        assert md5(lhost, api, base) == want
    finally:
        storaged_restart(lhost)
