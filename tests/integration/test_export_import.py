"""Disk and VM export and import over HTTP, as XCP serves them:
GET /export_raw_vdi and PUT /import_raw_vdi (raw disk content through
storaged's vdi_export / vdi_import streams), GET /export and PUT /import
(XVA archives), with XCP's authentication, status codes and tasks."""
import base64
import hashlib
import http.client
import io
import os
import shutil
import subprocess
import tarfile
import tempfile
import urllib.parse

import pytest

from xeniatest import vm_record, wait_until

MiB = 1024 * 1024


@pytest.fixture(scope="module")
def s(host):
    if not shutil.which("qemu-io") or not shutil.which("nbdcopy"):
        pytest.skip("qemu-io or nbdcopy is not installed")
    with host.session() as session:
        yield session


@pytest.fixture(scope="module")
def sr(s):
    return s("pool.get_default_SR", s("pool.get_all")[0])


def image_path(host, s, vdi):
    return host.state_dir / "sr-local" / s("VDI.get_location", vdi)


def make_vdi(s, sr, size, name="disk"):
    return s("VDI.create", {"SR": sr, "virtual_size": str(size), "type": "user",
                            "sharable": False, "read_only": False, "other_config": {},
                            "name_label": name})


def qemu_write(path, *writes):
    """Writes patterns into a qcow2 image through qemu-io: (byte, offset,
    length) triples."""
    args = ["qemu-io", "-f", "qcow2"]
    for pattern, offset, length in writes:
        args += ["-c", "write -P 0x%02x %d %d" % (pattern, offset, length)]
    subprocess.run(args + [str(path)], check=True, capture_output=True, timeout=120)


def guest_content(path):
    """The disk as the guest sees it (through the whole chain)."""
    with tempfile.TemporaryDirectory() as d:
        raw = os.path.join(d, "disk.raw")
        subprocess.run(["qemu-img", "convert", "-O", "raw", str(path), raw],
                       check=True, capture_output=True, timeout=120)
        with open(raw, "rb") as f:
            return f.read()


def expected(size, writes):
    buf = bytearray(size)
    for pattern, offset, length in writes:
        buf[offset:offset + length] = bytes([pattern]) * length
    return bytes(buf)


def request(host, method, path, query, body=None, headers=None, timeout=120):
    conn = http.client.HTTPConnection("127.0.0.1", host.http_port, timeout=timeout)
    url = path + ("?" + urllib.parse.urlencode(query) if query else "")
    conn.request(method, url, body=body, headers=headers or {})
    resp = conn.getresponse()
    data = resp.read()
    conn.close()
    return resp, data


def task_done(s, task):
    wait_until(lambda: s("task.get_status", task) != "pending", 60, what="the task")
    return s("task.get_record", task)


def value_of(result):
    return result.split("<value>")[-1].split("</value>")[0]


WRITES = [(0xab, 0, MiB), (0xcd, 3 * MiB + 512, 4096), (0x11, 7 * MiB, MiB)]


@pytest.fixture(scope="module")
def written_vdi(host, s, sr):
    """An 8 MiB VDI with known content, part of it in a snapshot's base so
    that the export must read the chain."""
    vdi = make_vdi(s, sr, 8 * MiB, "exported")
    qemu_write(image_path(host, s, vdi), WRITES[0])
    snap = s("VDI.snapshot", vdi, {})
    qemu_write(image_path(host, s, vdi), *WRITES[1:])
    yield vdi
    s("VDI.destroy", snap)
    s("VDI.destroy", vdi)


def test_export_raw_vdi_gives_the_guest_view_of_the_chain(host, s, written_vdi):
    task = s("task.create", "export", "")
    resp, data = request(host, "GET", "/export_raw_vdi",
                         {"session_id": s.ref, "task_id": task,
                          "vdi": s("VDI.get_uuid", written_vdi), "format": "raw"})
    assert resp.status == 200
    assert resp.getheader("task-id") == task
    assert resp.getheader("content-type") == "application/octet-stream"
    assert len(data) == 8 * MiB
    assert hashlib.sha256(data).hexdigest() == hashlib.sha256(expected(8 * MiB, WRITES)).hexdigest()
    rec = task_done(s, task)
    assert rec["status"] == "success" and float(rec["progress"]) == 1.0
    s("task.destroy", task)


def test_export_raw_vdi_by_ref_without_task_and_basic_auth(host, s, written_vdi):
    auth = base64.b64encode(("root:" + host.password).encode()).decode()
    resp, data = request(host, "GET", "/export_raw_vdi", {"vdi": written_vdi},
                         headers={"Authorization": "Basic " + auth})
    assert resp.status == 200
    assert data == expected(8 * MiB, WRITES)
    task = resp.getheader("task-id")
    assert s("task.get_status", task) == "success"


def test_import_raw_vdi_writes_the_disk(host, s, sr):
    vdi = make_vdi(s, sr, 4 * MiB, "target")
    content = os.urandom(MiB) + bytes(2 * MiB) + b"\x5a" * MiB
    task = s("task.create", "import", "")
    resp, _ = request(host, "PUT", "/import_raw_vdi",
                      {"session_id": s.ref, "task_id": task, "vdi": vdi}, body=content)
    assert resp.status == 200
    rec = task_done(s, task)
    assert rec["status"] == "success", rec["error_info"]
    assert value_of(rec["result"]) == vdi
    assert guest_content(image_path(host, s, vdi)) == content
    s("task.destroy", task)
    s("VDI.destroy", vdi)


def test_import_raw_vdi_into_an_sr_makes_a_vdi(host, s, sr):
    content = b"\x42" * (2 * MiB)
    resp, _ = request(host, "PUT", "/import_raw_vdi", {"session_id": s.ref, "sr_id": sr},
                      body=content)
    assert resp.status == 200
    rec = task_done(s, resp.getheader("task-id"))
    assert rec["status"] == "success", rec["error_info"]
    vdi = value_of(rec["result"])
    assert s("VDI.get_name_label", vdi) == "Imported VDI"
    assert s("VDI.get_virtual_size", vdi) == str(2 * MiB)
    assert guest_content(image_path(host, s, vdi)) == content
    s("VDI.destroy", vdi)


def test_bad_session_is_401_with_the_realm(host, s, written_vdi):
    resp, _ = request(host, "GET", "/export_raw_vdi",
                      {"session_id": "OpaqueRef:nope", "vdi": written_vdi})
    assert resp.status == 401
    assert resp.getheader("WWW-Authenticate") == 'Basic realm="VDI.export_raw"'
    resp, _ = request(host, "GET", "/export_raw_vdi", {"vdi": written_vdi})
    assert resp.status == 401
    bad = base64.b64encode(b"root:wrong").decode()
    resp, _ = request(host, "PUT", "/import_raw_vdi", {"vdi": written_vdi}, body=b"x" * 10,
                      headers={"Authorization": "Basic " + bad})
    assert resp.status == 401
    assert resp.getheader("WWW-Authenticate") == 'Basic realm="VDI.import"'


def test_unknown_format_is_404_and_fails_the_task(host, s, written_vdi):
    task = s("task.create", "export", "")
    resp, _ = request(host, "GET", "/export_raw_vdi",
                      {"session_id": s.ref, "task_id": task, "vdi": written_vdi,
                       "format": "floppy"})
    assert resp.status == 404
    rec = task_done(s, task)
    assert rec["status"] == "failure"
    assert rec["error_info"] == ["INTERNAL_ERROR", "Unknown format floppy"]
    s("task.destroy", task)


def test_unknown_vdi_is_500_and_missing_target_is_400(host, s):
    resp, _ = request(host, "GET", "/export_raw_vdi",
                      {"session_id": s.ref, "vdi": "00000000-0000-0000-0000-000000000000"})
    assert resp.status == 500
    task = s("task.create", "import", "")
    resp, _ = request(host, "PUT", "/import_raw_vdi", {"session_id": s.ref, "task_id": task},
                      body=b"x")
    assert resp.status == 400
    rec = task_done(s, task)
    assert rec["error_info"][0] == "VDI_MISSING"
    s("task.destroy", task)


def test_import_larger_than_the_disk_fails_the_task(host, s, sr):
    vdi = make_vdi(s, sr, MiB, "small")
    resp, _ = request(host, "PUT", "/import_raw_vdi", {"session_id": s.ref, "vdi": vdi},
                      body=b"\x01" * (2 * MiB))
    rec = task_done(s, resp.getheader("task-id"))
    assert rec["status"] == "failure"
    assert rec["error_info"][0] == "VDI_TOO_SMALL"
    # the disk is free again afterwards
    s("VDI.destroy", vdi)


def test_client_that_disappears_mid_upload_fails_the_task(host, s, sr):
    vdi = make_vdi(s, sr, 8 * MiB, "cut")
    conn = http.client.HTTPConnection("127.0.0.1", host.http_port, timeout=30)
    conn.putrequest("PUT", "/import_raw_vdi?" + urllib.parse.urlencode(
        {"session_id": s.ref, "vdi": vdi}))
    conn.putheader("Content-Length", str(8 * MiB))
    conn.endheaders()
    conn.send(b"\x07" * MiB)
    resp = conn.getresponse()  # the 200 came before the body, as in XCP
    assert resp.status == 200
    task = resp.getheader("task-id")
    resp.close()
    conn.close()
    rec = task_done(s, task)
    assert rec["status"] == "failure"
    assert rec["error_info"][0] == "IMPORT_ERROR_PREMATURE_EOF"
    wait_until(lambda: _destroyable(s, vdi), 30, what="the VDI to be free")


def _destroyable(s, vdi):
    try:
        s("VDI.destroy", vdi)
        return True
    except Exception:
        return False


def test_task_cancel_stops_an_export(host, s, sr):
    vdi = make_vdi(s, sr, 64 * MiB, "cancelled")
    task = s("task.create", "export", "")
    conn = http.client.HTTPConnection("127.0.0.1", host.http_port, timeout=60)
    conn.request("GET", "/export_raw_vdi?" + urllib.parse.urlencode(
        {"session_id": s.ref, "task_id": task, "vdi": vdi}))
    resp = conn.getresponse()
    assert resp.status == 200
    assert len(resp.read(MiB)) == MiB
    s("task.cancel", task)
    got = MiB
    try:
        while True:
            part = resp.read(MiB)
            if not part:
                break
            got += len(part)
    except http.client.IncompleteRead as e:
        got += len(e.partial)
    conn.close()
    assert got < 64 * MiB
    rec = task_done(s, task)
    assert rec["status"] == "cancelled"
    assert rec["error_info"] == ["TASK_CANCELLED", task]
    s("task.destroy", task)
    s("VDI.destroy", vdi)


# ---------------------------------------------------------------------------
# XVA


DISK_A = [(0x61, 0, MiB), (0x62, 5 * MiB + 100, 3000)]
DISK_B = [(0x71, 2 * MiB, 2 * MiB), (0x72, 15 * MiB, MiB)]


def vbd(vm, vdi, device):
    return {"VM": vm, "VDI": vdi, "userdevice": device, "bootable": device == "0",
            "mode": "RW", "type": "Disk", "empty": False, "other_config": {"owner": ""},
            "qos_algorithm_type": "", "qos_algorithm_params": {}}


@pytest.fixture(scope="module")
def network(s):
    nets = [n for n in s("network.get_all") if s("network.get_name_label", n) == "xva-net"]
    net = nets[0] if nets else s("network.create", {"name_label": "xva-net",
                                                     "name_description": "for XVA tests",
                                                     "MTU": "1500", "other_config": {}})
    return net


@pytest.fixture(scope="module")
def two_disk_vm(host, s, sr, network):
    vm, a, b = make_two_disk_vm(host, s, sr, network)
    yield vm, a, b
    destroy_vm(s, vm)


def make_two_disk_vm(host, s, sr, network):
    """A halted VM with two disks of known content (written by qemu-io) and
    a VIF."""
    vm = s("VM.create", vm_record(name_label="xva-source", user_version="3"))
    a = make_vdi(s, sr, 6 * MiB, "disk-a")
    b = make_vdi(s, sr, 16 * MiB, "disk-b")
    qemu_write(image_path(host, s, a), *DISK_A)
    qemu_write(image_path(host, s, b), *DISK_B)
    s("VBD.create", vbd(vm, a, "0"))
    s("VBD.create", vbd(vm, b, "1"))
    s("VIF.create", {"device": "0", "network": network, "VM": vm, "MAC": "aa:bb:cc:00:11:22",
                     "MTU": "1500", "other_config": {}, "qos_algorithm_type": "",
                     "qos_algorithm_params": {}})
    return vm, a, b


def destroy_vm(s, vm):
    for v in s("VM.get_VBDs", vm):
        vdi = s("VBD.get_VDI", v)
        s("VBD.destroy", v)
        if vdi != "OpaqueRef:NULL":
            s("VDI.destroy", vdi)
    for v in s("VM.get_VIFs", vm):
        s("VIF.destroy", v)
    s("VM.destroy", vm)


def export_vm(host, s, vm):
    resp, data = request(host, "GET", "/export", {"session_id": s.ref,
                                                 "uuid": s("VM.get_uuid", vm)})
    assert resp.status == 200
    rec = task_done(s, resp.getheader("task-id"))
    assert rec["status"] == "success", rec["error_info"]
    return data


def import_xva(host, s, sr, data, **query):
    """PUTs an XVA under a task of ours: a refused import stops reading and
    closes, as XCP does, so the upload may break off; the task tells."""
    task = s("task.create", "import", "")
    q = {"session_id": s.ref, "sr_id": sr, "task_id": task}
    q.update(query)
    try:
        resp, _ = request(host, "PUT", "/import", q, body=data)
        assert resp.status == 200
        assert resp.getheader("task-id") == task
    except (BrokenPipeError, ConnectionResetError):
        pass
    rec = task_done(s, task)
    s("task.destroy", task)
    return rec


def vms_of(result):
    return [v.split("</value>")[0] for v in result.split("<value>")[1:] if v.startswith("OpaqueRef")]


def disks_by_device(s, vm):
    out = {}
    for v in s("VM.get_VBDs", vm):
        out[s("VBD.get_userdevice", v)] = s("VBD.get_VDI", v)
    return out


def test_xva_is_xcps_archive(host, s, two_disk_vm):
    vm, a, b = two_disk_vm
    data = export_vm(host, s, vm)
    tar = tarfile.open(fileobj=io.BytesIO(data))
    names = tar.getnames()
    assert names[0] == "ova.xml"
    ova = tar.extractfile("ova.xml").read().decode()
    assert "<name>objects</name>" in ova and "<name>export_vsn</name>" in ova
    for cls in ("VM", "VBD", "VIF", "VDI", "SR", "network"):
        assert "<value>%s</value>" % cls in ova
    assert "OpaqueRef:" not in ova.replace("OpaqueRef:NULL", "")
    disk_dirs = sorted({n.split("/")[0] for n in names[1:]})
    assert len(disk_dirs) == 2 and all(d.startswith("Ref:") for d in disk_dirs)
    for n in names[1:]:
        if n.endswith(".checksum"):
            chunk = tar.extractfile(n[:-len(".checksum")]).read()
            assert tar.extractfile(n).read().decode() == hashlib.sha1(chunk).hexdigest()
    # sparse: zero chunks are left out, but the first and last are there
    chunks = sorted(n for n in names if "/" in n and not n.endswith(".checksum"))
    assert len(chunks) < 6 + 16
    for d in disk_dirs:
        assert d + "/00000000" in chunks


def test_xva_round_trip(host, s, sr, network, two_disk_vm):
    vm, a, b = two_disk_vm
    data = export_vm(host, s, vm)
    rec = import_xva(host, s, sr, data)
    assert rec["status"] == "success", rec["error_info"]
    (new,) = vms_of(rec["result"])
    try:
        assert new != vm and s("VM.get_uuid", new) != s("VM.get_uuid", vm)
        r = s("VM.get_record", new)
        assert r["name_label"] == "xva-source" and r["power_state"] == "Halted"
        assert r["VCPUs_max"] == "2" and r["memory_static_max"] == str(1 << 30)
        disks = disks_by_device(s, new)
        assert sorted(disks) == ["0", "1"]
        assert s("VDI.get_SR", disks["0"]) == sr
        assert s("VDI.get_virtual_size", disks["0"]) == str(6 * MiB)
        assert s("VDI.get_name_label", disks["1"]) == "disk-b"
        assert guest_content(image_path(host, s, disks["0"])) == expected(6 * MiB, DISK_A)
        assert guest_content(image_path(host, s, disks["1"])) == expected(16 * MiB, DISK_B)
        (vif,) = s("VM.get_VIFs", new)
        assert s("VIF.get_network", vif) == network
        assert s("VIF.get_MAC", vif) != "aa:bb:cc:00:11:22"
    finally:
        destroy_vm(s, new)


def test_xva_restore_keeps_uuids_and_refuses_an_older_copy(host, s, sr, network):
    vm, a, b = make_two_disk_vm(host, s, sr, network)
    uuid = s("VM.get_uuid", vm)
    data = export_vm(host, s, vm)
    rec = import_xva(host, s, sr, data, restore="true")
    # the VM with that uuid is there, at the same version: refused
    assert rec["status"] == "failure"
    assert rec["error_info"][0] == "VM_TO_IMPORT_IS_NOT_NEWER_VERSION"
    before = set(s("VDI.get_all"))
    rec = import_xva(host, s, sr, data, restore="true", force="true")
    assert rec["status"] == "success", rec["error_info"]
    (new,) = vms_of(rec["result"])
    # it replaced the original VM: same uuid, MAC kept
    assert s("VM.get_uuid", new) == uuid
    assert s("VM.get_by_uuid", uuid) == new
    assert vm not in s("VM.get_all")
    (vif,) = s("VM.get_VIFs", new)
    assert s("VIF.get_MAC", vif) == "aa:bb:cc:00:11:22"
    assert len(set(s("VDI.get_all")) - before) == 2
    destroy_vm(s, new)
    # the fixture's VM was replaced; recreate nothing: its disks remain
    for vdi in (a, b):
        s("VDI.destroy", vdi)


def xxh64(data):
    """XXH64 with seed 0, from the algorithm's specification (current XCP
    releases checksum chunks with it, in ".xxhash" members)."""
    M = (1 << 64) - 1
    P1, P2, P3 = 11400714785074694791, 14029467366897019727, 1609587929392839161
    P4, P5 = 9650029242287828579, 2870177450012600261

    def rotl(x, r):
        return ((x << r) | (x >> (64 - r))) & M

    def rnd(acc, v):
        return (rotl((acc + v * P2) & M, 31) * P1) & M

    n, i = len(data), 0
    if n >= 32:
        v = [(P1 + P2) & M, P2, 0, (-P1) & M]
        while i + 32 <= n:
            for k in range(4):
                v[k] = rnd(v[k], int.from_bytes(data[i + 8 * k:i + 8 * k + 8], "little"))
            i += 32
        h = (rotl(v[0], 1) + rotl(v[1], 7) + rotl(v[2], 12) + rotl(v[3], 18)) & M
        for k in range(4):
            h = ((h ^ rnd(0, v[k])) * P1 + P4) & M
    else:
        h = P5
    h = (h + n) & M
    while i + 8 <= n:
        h = (rotl(h ^ rnd(0, int.from_bytes(data[i:i + 8], "little")), 27) * P1 + P4) & M
        i += 8
    if i + 4 <= n:
        h = (rotl(h ^ (int.from_bytes(data[i:i + 4], "little") * P1 & M), 23) * P2 + P3) & M
        i += 4
    while i < n:
        h = (rotl(h ^ (data[i] * P5 & M), 11) * P1) & M
        i += 1
    h ^= h >> 33
    h = (h * P2) & M
    h ^= h >> 29
    h = (h * P3) & M
    return h ^ (h >> 32)


def test_xxh64_of_the_fixture_matches_the_known_vectors():
    assert xxh64(b"") == 0xef46db3751d8e999
    assert xxh64(b"abc") == 0x44bc2cf5ad770999
    assert xxh64(b"x" * 1000) == 0x4cb9a3b69cb700e1


def xcp_xva(disks, with_xxhash=False, corrupt=False):
    """An XVA as XCP writes it, built from the format: ova.xml with the
    objects' records (refs as Ref:<n>), then 1 MiB chunks with SHA-1
    .checksum members, zero chunks left out except the first and last."""
    objs = []

    def struct(d):
        out = "<struct>"
        for k, v in d.items():
            out += "<member><name>%s</name>%s</member>" % (k, v)
        return out + "</struct>"

    def val(v):
        if isinstance(v, bool):
            return "<value><boolean>%d</boolean></value>" % v
        if isinstance(v, dict):
            return "<value>%s</value>" % struct({k: val(x) for k, x in v.items()})
        if isinstance(v, list):
            return "<value><array><data>%s</data></array></value>" % "".join(val(x) for x in v)
        return "<value>%s</value>" % v

    vm = {"uuid": "5ea1ab1e-0000-4000-8000-000000000001", "name_label": "from-xcp",
          "name_description": "", "power_state": "Halted", "user_version": "1",
          "is_a_template": False, "memory_static_max": "536870912",
          "memory_dynamic_max": "536870912", "memory_dynamic_min": "536870912",
          "memory_static_min": "268435456", "VCPUs_max": "1", "VCPUs_at_startup": "1",
          "VCPUs_params": {}, "actions_after_shutdown": "destroy",
          "actions_after_reboot": "restart", "actions_after_crash": "restart",
          "PV_bootloader": "", "HVM_boot_policy": "BIOS order",
          "HVM_boot_params": {"order": "cd"}, "platform": {"nx": "true"},
          "other_config": {"mac_seed": "x"}, "VBDs": ["Ref:2", "Ref:3"], "VIFs": ["Ref:4"],
          "resident_on": "OpaqueRef:NULL", "affinity": "OpaqueRef:NULL",
          "metrics": "OpaqueRef:NULL", "guest_metrics": "OpaqueRef:NULL",
          "suspend_VDI": "OpaqueRef:NULL", "version": "0", "unknown_future_field": "x"}
    objs.append(("VM", "Ref:0", vm))
    objs.append(("SR", "Ref:1", {"uuid": "5ea1ab1e-0000-4000-8000-0000000000aa",
                                 "name_label": "Local storage", "content_type": "user",
                                 "VDIs": ["Ref:5", "Ref:6"], "PBDs": []}))
    for i, dev in enumerate(("0", "1")):
        objs.append(("VBD", "Ref:%d" % (2 + i), {
            "uuid": "5ea1ab1e-0000-4000-8000-00000000000%d" % (2 + i), "VM": "Ref:0",
            "VDI": "Ref:%d" % (5 + i), "userdevice": dev, "bootable": dev == "0",
            "mode": "RW", "type": "Disk", "empty": False, "currently_attached": True,
            "other_config": {"owner": ""}}))
    objs.append(("VIF", "Ref:4", {"uuid": "5ea1ab1e-0000-4000-8000-000000000004",
                                  "device": "0", "network": "Ref:7", "VM": "Ref:0",
                                  "MAC": "02:00:00:00:00:04", "MTU": "1500",
                                  "other_config": {}}))
    for i, (size, _) in enumerate(disks):
        objs.append(("VDI", "Ref:%d" % (5 + i), {
            "uuid": "5ea1ab1e-0000-4000-8000-00000000000%d" % (5 + i),
            "name_label": "xcp disk %d" % i, "name_description": "", "SR": "Ref:1",
            "virtual_size": str(size), "type": "system", "sharable": False,
            "read_only": False, "other_config": {}, "VBDs": ["Ref:%d" % (2 + i)]}))
    objs.append(("network", "Ref:7", {"uuid": "5ea1ab1e-0000-4000-8000-000000000007",
                                      "name_label": "xcp-only-network", "bridge": "xenbr9",
                                      "MTU": "1500", "VIFs": ["Ref:4"], "PIFs": [],
                                      "other_config": {}}))
    header = {"hostname": "xcp-host", "date": "2024-01-01", "product_version": "8.2.1",
              "product_brand": "XCP-ng", "build_number": "release/yangtze",
              "xapi_major": "<i4>1</i4>", "xapi_minor": "<i4>20</i4>",
              "export_vsn": "<i4>2</i4>"}
    ova = "<value>" + struct({
        "version": "<value>%s</value>" % struct({k: ("<value>%s</value>" % v) for k, v in
                                                header.items()}),
        "objects": val([]).replace("<data></data>", "<data>%s</data>" % "".join(
            "<value>%s</value>" % struct({"class": val(c), "id": val(i),
                                          "snapshot": val(r)}) for c, i, r in objs)),
    }) + "</value>"
    buf = io.BytesIO()
    tar = tarfile.open(fileobj=buf, mode="w", format=tarfile.USTAR_FORMAT)

    def add(name, data):
        ti = tarfile.TarInfo(name)
        ti.size = len(data)
        ti.mode = 0o400
        tar.addfile(ti, io.BytesIO(data))

    add("ova.xml", ova.encode())
    for i, (size, content) in enumerate(disks):
        n = (size + MiB - 1) // MiB
        for c in range(n):
            chunk = content[c * MiB:(c + 1) * MiB]
            if c not in (0, n - 1) and chunk == bytes(len(chunk)):
                continue
            name = "Ref:%d/%08d" % (5 + i, c)
            add(name, chunk)
            if with_xxhash:
                digest, ext = "%016X" % xxh64(chunk), ".xxhash"
            else:
                digest, ext = hashlib.sha1(chunk).hexdigest(), ".checksum"
            if corrupt and c == 0:
                digest = "0" * len(digest)
            add(name + ext, digest.encode())
    tar.close()
    return buf.getvalue()


@pytest.mark.parametrize("xxhash", [False, True], ids=["sha1", "xxhash"])
def test_import_of_an_xva_in_xcps_format(host, s, sr, xxhash):
    a = expected(3 * MiB, [(0x33, 0, 100), (0x34, 2 * MiB + 1, 10)])
    b = os.urandom(MiB) + bytes(3 * MiB) + os.urandom(MiB // 2)
    data = xcp_xva([(len(a), a), (len(b), b)], with_xxhash=xxhash)
    nets_before = set(s("network.get_all"))
    rec = import_xva(host, s, sr, data)
    assert rec["status"] == "success", rec["error_info"]
    (vm,) = vms_of(rec["result"])
    try:
        r = s("VM.get_record", vm)
        assert r["name_label"] == "from-xcp" and r["uuid"] != "5ea1ab1e-0000-4000-8000-000000000001"
        assert r["HVM_boot_params"] == {"order": "cd"} and r["platform"] == {"nx": "true"}
        disks = disks_by_device(s, vm)
        assert guest_content(image_path(host, s, disks["0"])) == a
        assert guest_content(image_path(host, s, disks["1"])) == b
        assert s("VDI.get_name_label", disks["1"]) == "xcp disk 1"
        assert s("VBD.get_currently_attached", s("VM.get_VBDs", vm)[0]) is False
        (vif,) = s("VM.get_VIFs", vm)
        net = s("VIF.get_network", vif)
        assert net not in nets_before  # no network of that name or bridge: made
        assert s("network.get_name_label", net) == "xcp-only-network"
    finally:
        destroy_vm(s, vm)
        for n in set(s("network.get_all")) - nets_before:
            s("network.destroy", n)


@pytest.mark.parametrize("xxhash", [False, True], ids=["sha1", "xxhash"])
def test_import_with_a_bad_checksum_fails_and_leaves_nothing(host, s, sr, xxhash):
    a = b"\x01" * MiB
    data = xcp_xva([(len(a), a)], with_xxhash=xxhash, corrupt=True)
    vms, vdis, nets = (set(s(c + ".get_all")) for c in ("VM", "VDI", "network"))
    rec = import_xva(host, s, sr, data)
    assert rec["status"] == "failure"
    assert rec["error_info"] == ["IMPORT_ERROR_SOME_CHECKSUMS_FAILED"]
    assert set(s("VM.get_all")) == vms and set(s("VDI.get_all")) == vdis


def test_import_of_garbage_and_of_a_cut_archive(host, s, sr):
    rec = import_xva(host, s, sr, b"this is not a tar archive" * 100)
    assert rec["status"] == "failure" and rec["error_info"][0] == "IMPORT_ERROR"
    a = os.urandom(2 * MiB)
    data = xcp_xva([(len(a), a)])
    vdis = set(s("VDI.get_all"))
    rec = import_xva(host, s, sr, data[:len(data) // 2])
    assert rec["status"] == "failure"
    assert rec["error_info"][0] == "IMPORT_ERROR_PREMATURE_EOF"
    assert set(s("VDI.get_all")) == vdis


def test_export_of_a_running_vm_or_unknown_vm_is_refused(host, s):
    resp, _ = request(host, "GET", "/export", {"session_id": s.ref,
                                              "uuid": "00000000-0000-0000-0000-000000000000"})
    assert resp.status == 500
    resp, _ = request(host, "GET", "/export", {"uuid": "x"})
    assert resp.status == 401
    assert resp.getheader("WWW-Authenticate") == 'Basic realm="VM.export"'


# ---------------------------------------------------------------------------
# GET /export_metadata


def ova_objects(data):
    """The objects of an XVA's ova.xml as (class, record) pairs, and the
    archive's member names."""
    import xmlrpc.client
    with tarfile.open(fileobj=io.BytesIO(data)) as t:
        names = t.getnames()
        xml = t.extractfile("ova.xml").read().decode()
    (ova,), _ = xmlrpc.client.loads("<methodResponse><params><param>%s</param></params>"
                                    "</methodResponse>" % xml)
    return [(o["class"], o["id"], o["snapshot"]) for o in ova["objects"]], names


@pytest.fixture
def vm_with_snapshot(s, sr):
    vm = s("VM.create", vm_record(name_label="meta"))
    vdi = make_vdi(s, sr, 4 * MiB, "meta-disk")
    s("VBD.create", {"VM": vm, "VDI": vdi, "userdevice": "0", "bootable": True, "mode": "RW",
                     "type": "Disk", "empty": False, "other_config": {},
                     "qos_algorithm_type": "", "qos_algorithm_params": {}})
    snap = s("VM.snapshot", vm, "meta-snap")
    yield vm, snap
    for v in (snap, vm):
        for vbd in s("VM.get_VBDs", v):
            disk = s("VBD.get_VDI", vbd)
            s("VBD.destroy", vbd)
            s("VDI.destroy", disk)
        s("VM.destroy", v)


def test_export_metadata_is_ova_xml_alone_with_the_snapshots(host, s, vm_with_snapshot):
    vm, snap = vm_with_snapshot
    task = s("task.create", "meta", "")
    resp, data = request(host, "GET", "/export_metadata",
                         {"session_id": s.ref, "task_id": task, "uuid": s("VM.get_uuid", vm)})
    assert resp.status == 200
    assert int(resp.getheader("content-length")) == len(data)
    assert resp.getheader("content-disposition") == 'attachment; filename="export.xva"'
    objects, names = ova_objects(data)
    # No disk content, only ova.xml.
    assert names == ["ova.xml"]
    vms = {r["name_label"]: (i, r) for c, i, r in objects if c == "VM"}
    assert sorted(vms) == ["meta", "meta-snap"]
    vm_id, vm_rec = vms["meta"]
    snap_id, snap_rec = vms["meta-snap"]
    assert snap_rec["is_a_snapshot"] is True and vm_rec["is_a_snapshot"] is False
    assert snap_rec["snapshot_of"] == vm_id
    assert vm_rec["snapshots"] == [snap_id]
    # Both VMs' disks are described.
    assert len([c for c, _, _ in objects if c == "VDI"]) == 2
    assert task_done(s, task)["status"] == "success"
    s("task.destroy", task)


def test_export_metadata_without_snapshots(host, s, vm_with_snapshot):
    vm, snap = vm_with_snapshot
    resp, data = request(host, "GET", "/export_metadata",
                         {"session_id": s.ref, "ref": vm, "export_snapshots": "false"})
    assert resp.status == 200
    objects, _ = ova_objects(data)
    vms = [r for c, _, r in objects if c == "VM"]
    assert [r["name_label"] for r in vms] == ["meta"]
    assert vms[0]["snapshots"] == []


def test_export_metadata_keeps_a_running_vms_power_state(host, s, vm_with_snapshot):
    vm, _ = vm_with_snapshot
    s("VM.start", vm, False, False)
    try:
        # A full export refuses a running VM; its metadata is fine.
        resp, _ = request(host, "GET", "/export", {"session_id": s.ref, "ref": vm})
        assert resp.status == 500
        resp, data = request(host, "GET", "/export_metadata",
                             {"session_id": s.ref, "ref": vm, "export_snapshots": "false"})
        assert resp.status == 200
        objects, _ = ova_objects(data)
        assert [r["power_state"] for c, _, r in objects if c == "VM"] == ["Running"]
    finally:
        s("VM.hard_shutdown", vm)


def test_export_metadata_refuses_bad_arguments(host, s, vm_with_snapshot):
    vm, _ = vm_with_snapshot
    task = s("task.create", "meta", "")
    resp, _ = request(host, "GET", "/export_metadata",
                      {"session_id": s.ref, "task_id": task, "ref": vm,
                       "export_snapshots": "maybe"})
    assert resp.status == 500
    assert task_done(s, task)["error_info"] == ["INTERNAL_ERROR",
                                                'Invalid_argument("bool_of_string")']
    resp, _ = request(host, "GET", "/export_metadata", {"ref": vm})
    assert resp.status == 401
    assert resp.getheader("WWW-Authenticate") == 'Basic realm="VM.export_metadata"'


def test_vm_shows_export_in_current_operations_while_exported(host, s, sr):
    """XCP's with_vm_locked: the VM holds the export in current_operations
    for as long as it runs, and nothing else may start meanwhile."""
    vm = s("VM.create", vm_record(name_label="busy-export"))
    vdi = make_vdi(s, sr, 64 * MiB, "busy-disk")
    # More data than the socket buffers hold, so the export waits on us.
    qemu_write(image_path(host, s, vdi), (0x5a, 0, 48 * MiB))
    s("VBD.create", {"VM": vm, "VDI": vdi, "userdevice": "0", "bootable": True, "mode": "RW",
                     "type": "Disk", "empty": False, "other_config": {},
                     "qos_algorithm_type": "", "qos_algorithm_params": {}})
    assert "export" in s("VM.get_allowed_operations", vm)
    task = s("task.create", "export", "")
    conn = http.client.HTTPConnection("127.0.0.1", host.http_port, timeout=120)
    try:
        conn.request("GET", "/export?" + urllib.parse.urlencode(
            {"session_id": s.ref, "task_id": task, "ref": vm}))
        resp = conn.getresponse()
        assert resp.status == 200
        assert s("VM.get_current_operations", vm) == {task: "export"}
        assert "export" not in s("VM.get_allowed_operations", vm)
        err = s.error("VM.start", vm, False, False)
        assert err[0] == "OTHER_OPERATION_IN_PROGRESS"
        resp.read()
    finally:
        conn.close()
    assert task_done(s, task)["status"] == "success"
    assert s("VM.get_current_operations", vm) == {}
    s("task.destroy", task)
    s("VBD.destroy", s("VM.get_VBDs", vm)[0])
    s("VDI.destroy", vdi)
    s("VM.destroy", vm)


# ---------------------------------------------------------------------------
# Faults


RESTARTER = """#!/bin/sh
# storaged, started again whenever it dies, until this script is stopped.
trap 'kill -TERM $child 2>/dev/null; wait $child; exit 0' TERM INT
while :; do
    "$XVA_STORAGED" "$@" &
    child=$!
    wait $child
done
"""


@pytest.fixture
def restarting_host(tmp_path):
    """A host of its own whose storaged comes back after a kill -9 (run-host
    stops the host when an agent dies)."""
    from xeniatest import Host, build_dir
    wrapper = tmp_path / "storaged-restarter"
    wrapper.write_text(RESTARTER)
    wrapper.chmod(0o755)
    h = Host(env={"XENIA_STORAGED": str(wrapper),
                  "XVA_STORAGED": str(build_dir() / "storaged")})
    h.start()
    try:
        yield h
    finally:
        h.close()
        assert not h.sanitizer_reports()
        h.remove_state()


def test_storaged_killed_mid_export_fails_the_task_and_xapi_goes_on(restarting_host):
    """kill -9 of storaged while a client downloads: the download ends
    short, the task fails, no copy is left running, and once storaged is
    back exports work again."""
    host = restarting_host
    with host.session() as s:
        sr = s("pool.get_default_SR", s("pool.get_all")[0])
        vdi = make_vdi(s, sr, 64 * MiB, "killed")
        pid = _storaged_pid(host)
        assert pid, "no storaged in the host's group"
        conn = http.client.HTTPConnection("127.0.0.1", host.http_port, timeout=60)
        conn.request("GET", "/export_raw_vdi?" + urllib.parse.urlencode(
            {"session_id": s.ref, "vdi": vdi}))
        resp = conn.getresponse()
        assert resp.status == 200
        task = resp.getheader("task-id")
        first = resp.read(MiB)  # under way; the client reads no more for now
        assert len(first) == MiB
        os.kill(pid, 9)
        got = len(first)
        try:
            while True:
                part = resp.read(MiB)
                if not part:
                    break
                got += len(part)
        except http.client.IncompleteRead as e:
            got += len(e.partial)
        conn.close()
        assert got < 64 * MiB
        rec = task_done(s, task)
        assert rec["status"] == "failure"
        wait_until(lambda: not [p for p in host.group_pids()
                                if _comm(p) in ("nbdcopy", "qemu-nbd")], 10,
                   what="the copy to end")
        wait_until(lambda: _storaged_pid(host) not in (None, pid), 10, what="a new storaged")
        def export_works():
            try:
                resp, data = request(host, "GET", "/export_raw_vdi",
                                     {"session_id": s.ref, "vdi": vdi})
                return resp.status == 200 and data == bytes(64 * MiB)
            except (http.client.HTTPException, OSError):
                return False
        wait_until(export_works, 30, interval=0.5, what="exports to work again")
        s("VDI.destroy", vdi)


def _storaged_pid(host):
    for pid in host.group_pids():
        if _comm(pid) == "storaged":
            return pid
    return None


def _comm(pid):
    try:
        with open("/proc/%d/comm" % pid) as f:
            return f.read().strip()
    except OSError:
        return ""


def _connectable(path):
    import socket
    c = socket.socket(socket.AF_UNIX)
    try:
        c.connect(str(path))
        return True
    except OSError:
        return False
    finally:
        c.close()
