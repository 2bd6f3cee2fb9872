"""Storage repositories on real media, through the API only (XML-RPC from
outside QEMU): an `ext` SR and an `lvm` SR each on a blank virtio disk of
their own, and an `nfs` SR on an export that dom0 itself serves over
127.0.0.1 (set up with `host.run`, the only dom0-side step). On each:
VDI create, snapshot, clone, resize and destroy, SR.scan with a true
physical utilisation, then SR.forget and SR.probe, SR.introduce,
PBD.create and plug and SR.scan bringing every VDI back with its uuid,
and SR.destroy. Dom0's own view (`lvs`, `mount`) is the witness where
the API could only repeat what storaged says.

The session's host boots with the two spare disks (conftest.py)."""

import re

import pytest

from xenhost import XenAPIError

MiB = 1024 * 1024
EXT_DEV, LVM_DEV = "/dev/vdb", "/dev/vdc"
NFS_DIR = "/srv/xenia-nfs"
# Thin LVs are made of 4 MiB extents; 64 MiB is one size every driver
# gives back as asked.
SIZE = 64 * MiB


@pytest.fixture(scope="module")
def shost(host):
    """The session's host: it boots with two spare disks (vdb, vdc) for these
    SRs (conftest.py), so this module costs no boot of its own."""
    assert len(host.extra_disks) >= 2
    return host


@pytest.fixture(scope="module")
def sapi(api):
    return api


@pytest.fixture(scope="module")
def nfs_export(shost):
    """dom0 serves NFS_DIR to itself."""
    shost.run("mkdir -p %s /etc/exports.d && echo '%s 127.0.0.1(rw,sync,no_root_squash,no_subtree_check)' "
              "> /etc/exports.d/xenia-test.exports && systemctl restart nfs-server && "
              "exportfs -ra" % (NFS_DIR, NFS_DIR), timeout=180)
    yield NFS_DIR
    shost.run("rm -f /etc/exports.d/xenia-test.exports; exportfs -ra", timeout=120,
              check=False)


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


def is_managed(api, vdi):
    """False also for a VDI gone meanwhile (a base copy merged away)."""
    try:
        return api("VDI.get_managed", vdi)
    except XenAPIError as e:
        if e.details[0] == "HANDLE_INVALID":
            return False
        raise


def destroy_vdis(api, sr):
    """Destroys the SR's VDIs one at a time: destroying one may remove
    hidden base copies (qcow2 chains) that an older list still names."""
    while True:
        managed = [v for v in api("SR.get_VDIs", sr) if is_managed(api, v)]
        if not managed:
            return
        api("VDI.destroy", managed[0])


def managed_uuids(api, sr):
    return {api("VDI.get_uuid", v) for v in api("SR.get_VDIs", sr) if api("VDI.get_managed", v)}


def lvs(shost, sr_uuid):
    """{lv_name: size in bytes} of the SR's VG, as dom0's lvm2 sees it."""
    out = shost.run("lvs --noheadings --units b --nosuffix -o lv_name,lv_size "
                    "VG_XenStorage-%s" % sr_uuid).stdout
    return {f[0]: int(f[1]) for f in (line.split() for line in out.splitlines()) if len(f) == 2}


def exercise(shost, api, sr, kind):
    """Everything but the forget: VDI create, snapshot, clone, resize,
    destroy, scan. Returns {uuid: name} of the VDIs left on the SR."""
    sr_uuid = api("SR.get_uuid", sr)
    vdi = new_vdi(api, sr, "%s-disk" % kind)
    rec = api("VDI.get_record", vdi)
    assert rec["SR"] == sr and rec["virtual_size"] == str(SIZE) and rec["managed"]

    snap = api("VDI.snapshot", vdi, {})
    clone = api("VDI.clone", vdi, {})
    srec, crec = api("VDI.get_record", snap), api("VDI.get_record", clone)
    assert srec["is_a_snapshot"] and srec["snapshot_of"] == vdi
    assert srec["name_label"] == "%s-disk" % kind and srec["virtual_size"] == str(SIZE)
    assert not crec["is_a_snapshot"] and crec["virtual_size"] == str(SIZE)
    assert api("VDI.get_snapshots", vdi) == [snap]

    api("VDI.resize", vdi, str(2 * SIZE))
    assert api("VDI.get_virtual_size", vdi) == str(2 * SIZE)
    assert error(api, "VDI.resize", vdi, str(SIZE))[0] == "SR_BACKEND_FAILURE_79"

    doomed = new_vdi(api, sr, "%s-doomed" % kind)
    doomed_uuid = api("VDI.get_uuid", doomed)
    api("VDI.destroy", doomed)
    assert doomed not in api("SR.get_VDIs", sr)

    if kind == "lvm":
        # Every VDI is a thin LV of the SR's VG, its size what lvm gives.
        have = lvs(shost, sr_uuid)
        for v in (vdi, snap, clone):
            assert have["LV-" + api("VDI.get_uuid", v)] == int(api("VDI.get_virtual_size", v))
        assert "LV-" + doomed_uuid not in have and "MGT" in have
        # A thin snapshot keeps its data while its origin is written (as a
        # guest would, here from dom0), and the origin's use grows.
        vg = "/dev/VG_XenStorage-%s/" % sr_uuid
        u, su = api("VDI.get_uuid", vdi), api("VDI.get_uuid", snap)
        shost.run("dd if=/dev/urandom of=%sLV-%s bs=1M count=8 oflag=direct status=none"
                  % (vg, u), timeout=180)
        zeros = shost.run("head -c %d /dev/zero | md5sum" % (8 * MiB)).stdout.split()[0]
        got = shost.run("head -c %d %sLV-%s | md5sum" % (8 * MiB, vg, su)).stdout.split()[0]
        assert got == zeros
        api("SR.scan", sr)
        assert int(api("VDI.get_physical_utilisation", vdi)) >= 8 * MiB
        assert int(api("VDI.get_physical_utilisation", snap)) < 8 * MiB

    api("SR.scan", sr)
    left = {api("VDI.get_uuid", v): api("VDI.get_name_label", v) for v in (vdi, snap, clone)}
    assert managed_uuids(api, sr) == set(left)
    assert int(api("SR.get_physical_size", sr)) > 0
    assert int(api("SR.get_physical_utilisation", sr)) > 0
    assert int(api("SR.get_virtual_allocation", sr)) >= 4 * SIZE
    return left


def forget_and_bring_back(shost, api, sr, kind, dc):
    """SR.forget, then SR.probe finds it from device_config alone, and
    SR.introduce + PBD.create + plug + scan bring its VDIs back with their
    uuids, names and snapshot links. Returns the new SR ref."""
    sr_uuid = api("SR.get_uuid", sr)
    left = {api("VDI.get_uuid", v): api("VDI.get_name_label", v)
            for v in api("SR.get_VDIs", sr) if api("VDI.get_managed", v)}
    snap_of = {api("VDI.get_uuid", v): api("VDI.get_snapshot_of", v)
               for v in api("SR.get_VDIs", sr) if api("VDI.get_is_a_snapshot", v)}
    snap_of = {k: api("VDI.get_uuid", v) for k, v in snap_of.items()}
    api("SR.set_name_label", sr, "%s kept on disk" % kind)
    for pbd in api("SR.get_PBDs", sr):
        api("PBD.unplug", pbd)
    api("SR.forget", sr)
    assert error(api, "SR.get_record", sr)[0] == "HANDLE_INVALID"
    if kind == "lvm":
        # Detached: the VG is inactive, so another host could take it.
        attrs = shost.run("lvs --noheadings -o lv_attr VG_XenStorage-%s" % sr_uuid).stdout
        assert attrs.split() and all(a[4] != "a" for a in attrs.split()), attrs

    host = api("host.get_all")[0]
    probed = api("SR.probe", host, dc, kind, {})
    assert sr_uuid in probed and "%s kept on disk" % kind in probed
    ext = api("SR.probe_ext", host, dc, kind, {})
    assert [r["sr"]["uuid"] for r in ext] == [sr_uuid]

    sr2 = api("SR.introduce", sr_uuid, "%s kept on disk" % kind, "", kind, "user", False, {})
    pbd = api("PBD.create", {"host": host, "SR": sr2, "device_config": dc, "other_config": {}})
    api("PBD.plug", pbd)
    api("SR.scan", sr2)
    assert managed_uuids(api, sr2) == set(left)
    for u, name in left.items():
        v = api("VDI.get_by_uuid", u)
        assert api("VDI.get_name_label", v) == name and api("VDI.get_SR", v) == sr2
    for u, of in snap_of.items():
        assert api("VDI.get_uuid", api("VDI.get_snapshot_of", api("VDI.get_by_uuid", u))) == of
    return sr2


def destroy(shost, api, sr, kind):
    sr_uuid = api("SR.get_uuid", sr)
    assert error(api, "SR.destroy", sr) == ["SR_HAS_PBD", sr]
    destroy_vdis(api, sr)
    for pbd in api("SR.get_PBDs", sr):
        api("PBD.unplug", pbd)
    api("SR.destroy", sr)
    assert error(api, "SR.get_record", sr)[0] == "HANDLE_INVALID"
    assert sr_uuid not in shost.run("mount").stdout
    if kind == "lvm":
        assert shost.run("vgs VG_XenStorage-%s" % sr_uuid, check=False).returncode != 0
        assert shost.run("pvs %s" % LVM_DEV, check=False).returncode != 0


def whole_life(shost, api, kind, dc):
    host = api("host.get_all")[0]
    sr = api("SR.create", host, dc, "0", "%s SR" % kind, "", kind, "user", False, {})
    try:
        assert api("SR.get_type", sr) == kind
        exercise(shost, api, sr, kind)
        sr = forget_and_bring_back(shost, api, sr, kind, dc)
        destroy(shost, api, sr, kind)
        sr = None
    finally:
        if sr is not None:
            _cleanup(api, sr)


def _cleanup(api, sr):
    try:
        destroy_vdis(api, sr)
        for pbd in api("SR.get_PBDs", sr):
            api("PBD.unplug", pbd)
        api("SR.destroy", sr)
    except XenAPIError:
        pass


def test_sm_lists_ext_lvm_and_nfs(sapi):
    types = {rec["type"]: rec for rec in sapi("SM.get_all_records").values()}
    assert {"ext", "lvm", "nfs"} <= set(types)
    assert "VDI_SNAPSHOT" in types["lvm"]["capabilities"]


def test_ext_sr_on_a_disk(shost, sapi):
    whole_life(shost, sapi, "ext", {"device": EXT_DEV})


def test_lvm_sr_on_a_disk(shost, sapi):
    whole_life(shost, sapi, "lvm", {"device": LVM_DEV})


def test_lvm_sr_refuses_a_disk_that_holds_an_sr(shost, sapi):
    host = sapi("host.get_all")[0]
    sr = sapi("SR.create", host, {"device": LVM_DEV}, "0", "first", "", "lvm", "user", False, {})
    try:
        e = error(sapi, "SR.create", host, {"device": LVM_DEV}, "0", "second", "", "lvm", "user",
                  False, {})
        assert e[0] == "SR_BACKEND_FAILURE_42", e
        assert re.search("VG_XenStorage-%s" % sapi("SR.get_uuid", sr), e[2]), e
    finally:
        _cleanup(sapi, sr)


def test_nfs_sr_on_dom0s_own_export(shost, sapi, nfs_export):
    dc = {"server": "127.0.0.1", "serverpath": nfs_export}
    whole_life(shost, sapi, "nfs", dc)
    # The SR's folder on the server went with it.
    assert shost.run("ls -A %s" % nfs_export).stdout.strip() == ""
