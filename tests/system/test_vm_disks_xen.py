"""What is left of the VM lifecycle on real Xen, through the API only, with
dom0's view (`xl list`, `xl vcpu-list`, the guests' console logs, the
device models' processes, the VDI files) as the witness: a PV guest kit
with a disk (a VDI on a file SR this test makes through the API) that the
guest sees, reads and writes, a disk hot-plugged into the running guest
(VBD.plug) and unplugged, the disks across suspend and resume and a
restart of domaind, the balloon target (VM.set_memory_dynamic_range),
VCPUs set live, the data sources read from Xen, and suspend to a suspend
VDI on that SR and resume.

The guest kit learns to see disks here: the test adds xen-blkfront (a
module of dom0's kernel) and busybox's insmod to a copy of its initramfs,
and boots it with `xenia.disks=1` (iso/guest-kit/init reports the block
devices it sees on its console, and `xenia.readdisk=`/`xenia.writedisk=`
read and write a disk's first bytes). File VDIs of a guest started with
one are served by QEMU's qdisk backend (Debian's qemu-system-xen, one QEMU
per such PV guest, which libxl starts with the domain): dom0 without it is
a failure. A PV guest started without a file disk has no QEMU; a file VDI
plugged into it is served by qemu-nbd through the kernel's NBD client and
blkback, and its /dev/nbdN is released on unplug and with the domain, also
across a restart of domaind. Each boot under emulation costs a minute or
more: one VM per test, the SR and the kit made once for the module."""

import json
import uuid as uuidlib

import pytest

from xenhost import GUEST_KIT, XenAPIError, wait_until

MiB = 1024 * 1024
MARKER = "XENIA-GUEST-KIT up"
WAIT = 240  # seconds: a guest under nested emulation on a loaded machine
KIT_INITRD = GUEST_KIT + "/initrd-disks.img"
SR_DIR = "/var/lib/xenia/sr-system-tests"
NULL = "OpaqueRef:NULL"
QEMU = "/usr/libexec/xen-qemu-system-i386"


@pytest.fixture(scope="module")
def xen(host):
    """domaind runs with the xen backend in dom0."""
    state = host.run("systemctl is-active xenia-domaind.service", check=False).stdout.strip()
    if state != "active":
        journal = host.run("journalctl -b -u xenia-domaind.service -o cat | tail -n 30").stdout
        pytest.fail("domaind is not running in dom0:\n%s" % journal)
    return host


@pytest.fixture(scope="module")
def api(xen):
    s = xen.session()
    yield s
    s.logout()


@pytest.fixture(scope="module")
def kit(xen):
    """A copy of the guest kit's initramfs with xen-blkfront and insmod."""
    xen.run("set -e; d=$(mktemp -d); cd $d; zcat %s/initrd.img | cpio -id --quiet; "
            "mkdir -p lib/modules; "
            "cp /lib/modules/$(uname -r)/kernel/drivers/block/xen-blkfront.ko lib/modules/; "
            "ln -sf busybox bin/insmod; "
            "find . | cpio -o -H newc --quiet | gzip > %s; cd /; rm -rf $d"
            % (GUEST_KIT, KIT_INITRD), timeout=120)
    return KIT_INITRD


@pytest.fixture(scope="module")
def sr(xen, api):
    """A file SR in dom0 made through the API, the pool's suspend image SR
    for the module; destroyed afterwards."""
    xen.run("mkdir -p %s" % SR_DIR)
    pool = api("pool.get_all")[0]
    host_ref = api("host.get_all")[0]
    ref = api("SR.create", host_ref, {"location": SR_DIR}, "0", "system tests", "", "file",
              "user", False, {})
    saved = api("pool.get_suspend_image_SR", pool)
    api("pool.set_suspend_image_SR", pool, ref)
    yield ref
    api("pool.set_suspend_image_SR", pool, saved)
    try:
        for vdi in api("SR.get_VDIs", ref):
            api("VDI.destroy", vdi)
        for pbd in api("SR.get_PBDs", ref):
            api("PBD.unplug", pbd)
        api("SR.destroy", ref)
    except XenAPIError:
        pass
    xen.run("rm -rf %s" % SR_DIR, check=False)


@pytest.fixture(scope="module")
def qdisk(xen):
    """File VDIs need QEMU's qdisk backend in dom0: Debian's
    qemu-system-xen, where libxl looks for it."""
    r = xen.run("test -x %s" % QEMU, check=False)
    assert r.returncode == 0, "dom0 has no %s (qemu-system-xen): file VDIs cannot be attached" % QEMU
    return QEMU


def qemus(host, domid):
    """The device models (QEMU, xenpv) running for domid."""
    out = host.run("pgrep -a -f '^%s .*-xen-domid %d ' || true" % (QEMU, domid)).stdout
    return [line for line in out.splitlines() if "xenpv" in line]


def nbd_served(host):
    """dom0's NBD devices that a process serves, as {"nbdN": pid}."""
    out = host.run("for f in /sys/block/nbd*/pid; do [ -e \"$f\" ] && "
                   "echo \"$f $(cat $f)\"; done; true").stdout
    return {line.split("/")[3]: int(line.split()[1]) for line in out.splitlines() if line}


def _template(api):
    for ref, rec in api("VM.get_all_records").items():
        if rec["is_a_template"] and rec["name_label"] == "Generic Linux PV":
            return ref
    raise AssertionError("no Generic Linux PV template")


def new_vm(api, initrd, vcpus_max=1, static_max=None, args=""):
    """A guest kit VM reporting its disks, with the template's smallest
    memory (and up to static_max), 1 VCPU at start (of vcpus_max), and
    args added to its kernel command line."""
    vm = api("VM.clone", _template(api), "disks-%s" % uuidlib.uuid4().hex[:6])
    api("VM.set_is_a_template", vm, False)
    api("VM.set_PV_bootloader", vm, "")
    api("VM.set_PV_kernel", vm, GUEST_KIT + "/vmlinuz")
    api("VM.set_PV_ramdisk", vm, initrd)
    api("VM.set_PV_args", vm,
        ("console=hvc0 xenia.mode=stay xenia.disks=1 xenia.cpus=1 " + args).strip())
    smin = api("VM.get_memory_static_min", vm)
    smax = str(static_max) if static_max else smin
    api("VM.set_memory_limits", vm, smin, smax, smax, smax)
    api("VM.set_VCPUs_max", vm, str(vcpus_max))
    api("VM.set_VCPUs_at_startup", vm, "1")
    return vm


def destroy_vm(api, vm):
    try:
        if api("VM.get_power_state", vm) != "Halted":
            api("VM.hard_shutdown", vm)
        for vbd in api("VM.get_VBDs", vm):
            vdi = api("VBD.get_VDI", vbd)
            api("VBD.destroy", vbd)
            if vdi != NULL:
                api("VDI.destroy", vdi)
        api("VM.destroy", vm)
    except XenAPIError:
        pass


def new_disk(api, sr, vm, size, userdevice):
    vdi = api("VDI.create", {"SR": sr, "virtual_size": str(size), "type": "user",
                             "sharable": False, "read_only": False, "other_config": {},
                             "name_label": "disk%s" % userdevice, "name_description": ""})
    vbd = api("VBD.create", {"VM": vm, "VDI": vdi, "userdevice": str(userdevice),
                             "bootable": False, "mode": "RW", "type": "Disk", "empty": False,
                             "other_config": {}, "qos_algorithm_type": "",
                             "qos_algorithm_params": {}})
    return vdi, vbd


def xl_list(host):
    """{uuid: {"name", "domid", "mem" (MiB), "vcpus", "state"}} from `xl list -v`."""
    doms = {}
    for line in host.run("xl list -v").stdout.splitlines()[1:]:
        f = line.split()
        if len(f) >= 7 and f[1] != "0":
            doms[f[6].lower()] = {"name": f[0], "domid": int(f[1]), "mem": int(f[2]),
                                  "vcpus": int(f[3]), "state": f[4]}
    return doms


def console(host, name):
    return host.run("cat /var/log/xen/console/guest-%s.log 2>/dev/null || true" % name).stdout


def domain_of(host, api, vm):
    rec = api("VM.get_record", vm)
    assert rec["power_state"] == "Running", rec["power_state"]
    doms = xl_list(host)
    assert rec["uuid"].lower() in doms, (rec["uuid"], doms)
    d = doms[rec["uuid"].lower()]
    assert d["domid"] == int(rec["domid"])
    return d


def disk_reports(text):
    """The disk lines of a console log, each as {device: sectors}."""
    out = []
    for line in text.splitlines():
        if "XENIA-GUEST-KIT disks:" in line:
            devs = line.split("disks:", 1)[1].split()
            out.append(dict(d.split(":", 1) for d in devs if ":" in d))
    return out


def wait_disks(host, name, want):
    """Waits until the guest reports exactly the disks want ({dev: bytes})."""
    sectors = {d: str(b // 512) for d, b in want.items()}
    wait_until(lambda: sectors in disk_reports(console(host, name)), WAIT, 2.0,
               "the guest to report disks %s" % sectors)


def vdi_file(xen, api, vdi):
    """The VDI's file in dom0 and its format (qemu-img's word)."""
    path = "%s/%s" % (SR_DIR, api("VDI.get_location", vdi))
    info = json.loads(xen.run("qemu-img info --output=json -U %s" % path).stdout)
    return path, info["format"]


def test_the_guest_sees_reads_and_writes_its_disk(xen, api, kit, sr, qdisk):
    """The guest's file disk is served by its own QEMU (qdisk), which goes
    with the domain; what dom0 wrote into the VDI the guest reads, and
    what the guest wrote dom0 finds in the VDI once the guest is gone."""
    word = "guest-wrote-%s" % uuidlib.uuid4().hex[:8]
    vm = new_vm(api, kit, args="xenia.readdisk=xvda xenia.writedisk=xvda:" + word)
    try:
        vdi, _ = new_disk(api, sr, vm, 48 * MiB, 0)
        path, fmt = vdi_file(xen, api, vdi)
        xen.run("qemu-io -f %s -c 'write -P 0x58 0 16' %s" % (fmt, path))
        api("VM.start", vm, False, False)
        d = domain_of(xen, api, vm)
        assert len(qemus(xen, d["domid"])) == 1, xen.run("ps -ef").stdout
        wait_disks(xen, d["name"], {"xvda": 48 * MiB})
        wait_until(lambda: "XENIA-GUEST-KIT wrotedisk xvda" in console(xen, d["name"]), WAIT,
                   2.0, "the guest to write xvda")
        assert "XENIA-GUEST-KIT readdisk xvda: " + "X" * 16 in console(xen, d["name"])
        api("VM.clean_shutdown", vm)
        wait_until(lambda: qemus(xen, d["domid"]) == [], 60, 1.0, "the guest's QEMU to stop")
        head = xen.run("t=$(mktemp); qemu-img dd -f %s -O raw if=%s of=$t bs=512 count=1 && "
                       "head -c %d $t; rm -f $t" % (fmt, path, len(word))).stdout
        assert head == word
    finally:
        destroy_vm(api, vm)


def test_a_disk_plugged_into_a_guest_without_qemu_is_served_through_nbd(xen, api, kit, sr,
                                                                         qdisk):
    """A guest started without a file disk has no QEMU; a file VDI plugged
    into it is served by qemu-nbd on a /dev/nbdN that blkback gives the
    guest, which reads what dom0 wrote. The device survives a restart of
    domaind, and is released by the unplug, and with the domain."""
    vm = new_vm(api, kit, args="xenia.readdisk=xvdb")
    try:
        api("VM.start", vm, False, False)
        d = domain_of(xen, api, vm)
        wait_until(lambda: MARKER in console(xen, d["name"]), WAIT, 2.0, "the guest's marker")
        assert qemus(xen, d["domid"]) == [], xen.run("ps -ef").stdout
        before = nbd_served(xen)
        vdi, vbd = new_disk(api, sr, vm, 32 * MiB, 1)
        path, fmt = vdi_file(xen, api, vdi)
        xen.run("qemu-io -f %s -c 'write -P 0x59 0 16' %s" % (fmt, path))
        api("VBD.plug", vbd)
        assert api("VBD.get_currently_attached", vbd)
        served = set(nbd_served(xen)) - set(before)
        assert len(served) == 1, (before, nbd_served(xen))
        dev = served.pop()
        params = xen.run("xenstore-ls -f /local/domain/0/backend/vbd/%d" % d["domid"]).stdout
        assert "params = \"/dev/%s\"" % dev in params, params
        assert qemus(xen, d["domid"]) == []
        wait_disks(xen, d["name"], {"xvdb": 32 * MiB})
        wait_until(lambda: "XENIA-GUEST-KIT readdisk xvdb: " + "Y" * 16
                   in console(xen, d["name"]), WAIT, 2.0, "the guest to read xvdb")

        # a restart of domaind finds the device in use and leaves it
        xen.run("systemctl restart xenia-domaind.service", timeout=180)
        wait_until(lambda: xen.run("systemctl is-active xenia-domaind.service",
                                   check=False).stdout.strip() == "active", 60, 1.0,
                   "domaind back")
        assert dev in nbd_served(xen)
        api("VBD.unplug", vbd)
        assert not api("VBD.get_currently_attached", vbd)
        wait_until(lambda: disk_reports(console(xen, d["name"]))[-1] == {}, WAIT, 2.0,
                   "the guest to lose xvdb")
        assert nbd_served(xen) == before

        # plugged again, it goes with the domain
        api("VBD.plug", vbd)
        assert len(set(nbd_served(xen)) - set(before)) == 1
        wait_disks(xen, d["name"], {"xvdb": 32 * MiB})
        api("VM.hard_shutdown", vm)
        assert nbd_served(xen) == before
    finally:
        destroy_vm(api, vm)


def test_an_nbd_device_left_by_a_crash_is_reclaimed_when_domaind_starts(xen):
    """A qemu-nbd of domaind's (its description names a domid) whose device
    no vbd backend uses, as a crash between connect and attach leaves it,
    is disconnected when domaind starts; someone else's is left alone."""
    xen.run("modprobe nbd && for i in $(seq 50); do [ -e /sys/block/nbd15 ] && break; "
            "sleep 0.1; done; [ -e /sys/block/nbd15 ]")
    img = xen.run("mktemp /var/tmp/nbd-leak.XXXXXX").stdout.strip()
    free = [i for i in range(16) if "nbd%d" % i not in nbd_served(xen)]
    assert len(free) >= 2, nbd_served(xen)
    ours, theirs = "nbd%d" % free[-1], "nbd%d" % free[-2]
    try:
        xen.run("truncate -s 8M %s %s.2 && "
                "qemu-nbd --connect=/dev/%s --description=xenia-domaind:domid=32000 "
                "--format=raw %s && "
                "qemu-nbd --connect=/dev/%s --read-only --format=raw %s.2"
                % (img, img, ours, img, theirs, img))
        wait_until(lambda: {ours, theirs} <= set(nbd_served(xen)), 30, 0.5,
                   "both devices served")
        xen.run("systemctl restart xenia-domaind.service", timeout=180)
        wait_until(lambda: xen.run("systemctl is-active xenia-domaind.service",
                                   check=False).stdout.strip() == "active", 60, 1.0,
                   "domaind back")
        served = nbd_served(xen)
        assert ours not in served and theirs in served, served
    finally:
        xen.run("qemu-nbd --disconnect /dev/%s; qemu-nbd --disconnect /dev/%s; rm -f %s %s.2"
                % (ours, theirs, img, img), check=False)


def test_disks_through_suspend_resume_and_a_restart_of_domaind(xen, api, kit, sr, qdisk):
    """A guest with a file disk is suspended and resumed (a new domain,
    with a new QEMU serving the disk), domaind restarts under it, and a
    second disk is still plugged in and seen beside the first."""
    vm = new_vm(api, kit)
    try:
        new_disk(api, sr, vm, 40 * MiB, 0)
        api("VM.start", vm, False, False)
        d = domain_of(xen, api, vm)
        wait_disks(xen, d["name"], {"xvda": 40 * MiB})
        api("VM.suspend", vm)
        assert api("VM.get_power_state", vm) == "Suspended"
        wait_until(lambda: qemus(xen, d["domid"]) == [], 60, 1.0, "the guest's QEMU to stop")
        api("VM.resume", vm, False, False)
        d2 = domain_of(xen, api, vm)
        assert len(qemus(xen, d2["domid"])) == 1

        xen.run("systemctl restart xenia-domaind.service", timeout=180)
        wait_until(lambda: xen.run("systemctl is-active xenia-domaind.service",
                                   check=False).stdout.strip() == "active", 60, 1.0,
                   "domaind back")
        # the guest's QEMU lives on with the guest, not with domaind
        assert len(qemus(xen, d2["domid"])) == 1
        assert domain_of(xen, api, vm)["domid"] == d2["domid"]

        _, vbd = new_disk(api, sr, vm, 24 * MiB, 1)
        api("VBD.plug", vbd)
        wait_disks(xen, d2["name"], {"xvda": 40 * MiB, "xvdb": 24 * MiB})
        api("VM.clean_shutdown", vm)
        assert "XENIA-GUEST-KIT stopping: poweroff" in console(xen, d2["name"])
        wait_until(lambda: qemus(xen, d2["domid"]) == [], 60, 1.0, "the guest's QEMU to stop")
    finally:
        destroy_vm(api, vm)


def test_balloon_vcpus_data_sources_and_suspend_to_the_sr(xen, api, kit, sr):
    """One guest for what needs no disk: set_memory_dynamic_range moves the
    balloon (xl list), set_VCPUs_number_live brings a vCPU online (xl
    vcpu-list), the data sources are Xen's figures, and suspend writes the
    image to a suspend VDI on the SR, from which resume brings it back."""
    vm = new_vm(api, kit, vcpus_max=2, static_max=320 * MiB)
    try:
        smin = int(api("VM.get_memory_static_min", vm))
        api("VM.start", vm, False, False)
        d = domain_of(xen, api, vm)
        uuid = api("VM.get_uuid", vm).lower()
        wait_until(lambda: MARKER in console(xen, d["name"]), WAIT, 2.0, "the guest's marker")
        assert d["mem"] >= 319

        # the balloon: the guest gives memory back down to the new target
        api("VM.set_memory_dynamic_range", vm, str(smin), str(smin))
        wait_until(lambda: xl_list(xen)[uuid]["mem"] <= smin // MiB + 1, WAIT, 2.0,
                   "the balloon down to %d MiB" % (smin // MiB))
        assert float(api("VM.query_data_source", vm, "memory_target")) == smin

        # a second vCPU online
        api("VM.set_VCPUs_number_live", vm, "2")
        wait_until(lambda: xl_list(xen)[uuid]["vcpus"] == 2, WAIT, 2.0, "2 vCPUs online")
        sources = {x["name_label"]: x for x in api("VM.get_data_sources", vm)}
        assert {"memory", "memory_target", "cpu0", "cpu1"} <= set(sources)
        assert float(sources["memory"]["value"]) > 0
        assert 0.0 <= float(api("VM.query_data_source", vm, "cpu0")) <= 1.0
        stats = xen.run("xl vcpu-list %d" % d["domid"]).stdout
        assert stats.count("-b-") + stats.count("r--") + stats.count("-p-") >= 2, stats

        # suspend to the SR, resume from it
        before = set(api("SR.get_VDIs", sr))
        api("VM.suspend", vm)
        rec = api("VM.get_record", vm)
        assert rec["power_state"] == "Suspended"
        assert uuid not in xl_list(xen)
        image = rec["suspend_VDI"]
        assert api("VDI.get_SR", image) == sr and api("VDI.get_type", image) == "suspend"
        assert set(api("SR.get_VDIs", sr)) - before == {image}
        head = xen.run("head -c 16 %s/%s" % (SR_DIR, api("VDI.get_location", image))).stdout
        assert head.startswith("xenia-xen-image")
        api("VM.resume", vm, False, False)
        d2 = domain_of(xen, api, vm)
        assert d2["vcpus"] == 2
        assert set(api("SR.get_VDIs", sr)) == before
        # the guest lives on: it still answers Xen (a clean shutdown)
        api("VM.clean_shutdown", vm)
        assert "XENIA-GUEST-KIT stopping: poweroff" in console(xen, d2["name"])
    finally:
        destroy_vm(api, vm)
