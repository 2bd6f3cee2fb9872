"""storaged driven over its Unix socket the way xapi drives it
(storaged/README.md): each test starts $XENIA_BUILD/storaged with its own
socket, state and run folders under a temporary folder, talks JSON-RPC to it
with a small newline-framed client, and checks every method and refusal on
file SRs, snapshot and clone chains with data written and read back through
qemu-io at every level, coalescing when a snapshot goes, forgetting and
rediscovering an SR, crashes at every named step of the chain operations
(STORAGED_FIST) and a kill -9 in the middle of a real copy, hostile
clients, ISO libraries, and ext SRs on a loop device (skipped when losetup
cannot make one). Every process, mount and loop device is released at the
end of its test, and sanitizer reports fail it."""

import calendar
import json
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import time
import uuid as uuidlib
from pathlib import Path

import pytest

from xeniatest import SANITIZER_MARKS, build_dir, wait_until

MIB = 1 << 20
GIB = 1 << 30
START_TIMEOUT = 15.0
STOP_TIMEOUT = 20.0
CALL_TIMEOUT = 120.0
TOOL_TIMEOUT = 120.0


def storaged_binary():
    return build_dir() / "storaged"


class RpcError(Exception):
    def __init__(self, error):
        super().__init__(json.dumps(error))
        self.code = error.get("code")
        self.data = error.get("data") or {}

    @property
    def app(self):
        return self.data.get("error")

    @property
    def params(self):
        return self.data.get("params")


def rpc(path, method, params=None, timeout=CALL_TIMEOUT):
    """One call on a connection of its own; raises RpcError on an error
    answer and ConnectionError when the daemon goes away."""
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(timeout)
    try:
        s.connect(str(path))
        req = {"jsonrpc": "2.0", "id": 1, "method": method, "params": params or {}}
        s.sendall((json.dumps(req) + "\n").encode())
        buf = b""
        while not buf.endswith(b"\n"):
            d = s.recv(1 << 20)
            if not d:
                raise ConnectionError("storaged closed the connection")
            buf += d
    finally:
        s.close()
    answer = json.loads(buf)
    if "error" in answer:
        raise RpcError(answer["error"])
    return answer["result"]


class Storaged:
    """A storaged in base/: socket s.sock, state/, run/."""

    def __init__(self, base, env=None):
        self.base = Path(base)
        self.sock = self.base / "s.sock"
        self.state = self.base / "state"
        self.run_dir = self.base / "run"
        self.proc = None
        self.logs = []
        self.start(env)

    def start(self, env=None, run_dir=None):
        if run_dir:
            self.run_dir = Path(run_dir)
        log = self.base / ("storaged-%d.log" % len(self.logs))
        self.logs.append(log)
        full_env = dict(os.environ)
        full_env.pop("STORAGED_FIST", None)
        full_env.update(env or {})
        with open(log, "w") as f:
            self.proc = subprocess.Popen(
                [str(storaged_binary()), "--socket", str(self.sock), "--state-dir",
                 str(self.state), "--run-dir", str(self.run_dir), "--log-level", "info"],
                stdout=f, stderr=subprocess.STDOUT, env=full_env)
        wait_until(self.ready, START_TIMEOUT, what="storaged to listen")

    def ready(self):
        if self.proc.poll() is not None:
            raise AssertionError("storaged exited: " + self.logs[-1].read_text())
        try:
            rpc(self.sock, "version", timeout=2)
            return True
        except (OSError, ConnectionError):
            return False

    def __call__(self, method, **params):
        return rpc(self.sock, method, params)

    def error(self, method, **params):
        with pytest.raises(RpcError) as ei:
            rpc(self.sock, method, params)
        return ei.value

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                assert self.proc.wait(STOP_TIMEOUT) == 0
            finally:
                if self.proc.poll() is None:
                    self.proc.kill()
                    self.proc.wait(STOP_TIMEOUT)

    def kill9(self):
        self.proc.kill()
        self.proc.wait(STOP_TIMEOUT)

    def wait_dead(self):
        self.proc.wait(STOP_TIMEOUT)

    def restart(self, env=None, run_dir=None):
        self.stop()
        self.start(env, run_dir)

    def check_logs(self):
        for log in self.logs:
            text = log.read_text(errors="replace")
            for mark in SANITIZER_MARKS:
                assert mark not in text, text


def unmount_under(path):
    """Unmounts whatever is mounted under path (deepest first)."""
    mounts = []
    with open("/proc/self/mounts") as f:
        for line in f:
            mp = line.split()[1].replace("\\040", " ")
            if mp.startswith(str(path) + "/"):
                mounts.append(mp)
    for mp in sorted(mounts, key=len, reverse=True):
        subprocess.run(["umount", "-l", mp], check=False, timeout=TOOL_TIMEOUT)


@pytest.fixture
def tmp():
    d = Path(tempfile.mkdtemp(prefix="storaged-test-"))
    yield d
    unmount_under(d)
    shutil.rmtree(d, ignore_errors=True)


@pytest.fixture
def sd(tmp):
    s = Storaged(tmp)
    yield s
    try:
        s.stop()
    finally:
        if s.proc.poll() is None:
            s.proc.kill()
    s.check_logs()


def new_uuid():
    return str(uuidlib.uuid4())


def file_sr(sd, tmp, name="sr1", attach=True):
    sr = new_uuid()
    loc = tmp / name
    sd("sr_create", type="file", sr_uuid=sr, device_config={"location": str(loc)},
       name_label=name, name_description="a test SR", shared=False)
    if attach:
        sd("sr_attach", type="file", sr_uuid=sr, device_config={"location": str(loc)})
    return sr, loc


def vdi(sd, sr, size=64 * MIB, **kw):
    args = dict(sr_uuid=sr, name_label="disk", name_description="", virtual_size=size,
                sharable=False, read_only=False)
    args.update(kw)
    return sd("vdi_create", **args)


def qio(path, cmd):
    return subprocess.run(["qemu-io", "-f", "qcow2", "-c", cmd, str(path)],
                          capture_output=True, text=True, timeout=TOOL_TIMEOUT)


def write(path, pattern, off, length):
    r = qio(path, "write -P 0x%02x %d %d" % (pattern, off, length))
    assert r.returncode == 0, r.stdout + r.stderr


def reads(path, pattern, off, length):
    r = qio(path, "read -P 0x%02x %d %d" % (pattern, off, length))
    return r.returncode == 0 and "verification failed" not in r.stdout


def scan(sd, sr):
    return {v["uuid"]: v for v in sd("sr_scan", sr_uuid=sr)["vdis"]}


def check_consistent(sd, sr, loc):
    """The SR's folder holds exactly its metadata and the images its scan
    lists, each a sound image whose backing file is its parent's."""
    vdis = scan(sd, sr)
    files = {p.name for p in Path(loc).iterdir()} - {"lost+found"}
    assert files == {".xenia-sr.json"} | {v["location"] for v in vdis.values()}, files
    for v in vdis.values():
        info = json.loads(subprocess.run(
            ["qemu-img", "info", "--output=json", "-U", str(Path(loc) / v["location"])],
            capture_output=True, text=True, check=True, timeout=TOOL_TIMEOUT).stdout)
        backing = info.get("backing-filename")
        if v["parent"]:
            assert backing == vdis[v["parent"]]["location"]
        else:
            assert backing is None
        assert info["format"] == v["format"]
        if v["format"] == "raw":  # nothing to check in a raw image
            continue
        check = subprocess.run(["qemu-img", "check", "-q", str(Path(loc) / v["location"])],
                               capture_output=True, text=True, timeout=TOOL_TIMEOUT)
        assert check.returncode == 0, check.stdout + check.stderr
    hidden = [v for v in vdis.values() if not v["managed"]]
    for h in hidden:
        children = [v for v in vdis.values() if v["parent"] == h["uuid"]]
        assert len(children) >= 2, "hidden node %s with %d children" % (h["uuid"], len(children))
    return vdis


# ---- the driver list ----

def test_sm_list_describes_each_implemented_driver(sd):
    sms = {s["type"]: s for s in sd("sm_list")}
    assert set(sms) == {"file", "ext", "iso", "lvm", "nfs"}
    assert {"server", "serverpath", "nfsversion"} <= set(sms["nfs"]["configuration"])
    f = sms["file"]
    assert "location" in f["configuration"]
    assert {"VDI_CREATE", "VDI_SNAPSHOT", "VDI_CLONE", "VDI_RESIZE", "SR_PROBE"} <= set(
        f["capabilities"])
    assert f["features"]["VDI_SNAPSHOT"] == 1
    assert "device" in sms["ext"]["configuration"]
    assert "VDI_CREATE" not in sms["iso"]["capabilities"]
    for s in sms.values():
        for key in ("name_label", "name_description", "vendor", "copyright", "version",
                    "required_api_version", "driver_filename"):
            assert isinstance(s[key], str) and s[key]
        assert s["required_cluster_stack"] == []


# ---- SRs ----

def test_file_sr_create_probe_attach_update_detach(sd, tmp):
    loc = tmp / "sr"
    dc = {"location": str(loc)}
    loc.mkdir()
    assert sd("sr_probe", type="file", device_config=dc) == []
    sr = new_uuid()
    info = sd("sr_create", type="file", sr_uuid=sr, device_config=dc, name_label="L",
              name_description="D", shared=False)
    assert info["uuid"] == sr and info["type"] == "file" and info["content_type"] == "user"
    assert info["name_label"] == "L" and info["physical_size"] > 0
    assert sd("sr_list") == []  # created, not attached
    e = sd.error("sr_create", type="file", sr_uuid=new_uuid(), device_config=dc, name_label="",
                 name_description="", shared=False)
    assert e.app == "SR_BACKEND_FAILURE_42" and e.params[0] == "" and sr in e.params[1]
    [probed] = sd("sr_probe", type="file", device_config=dc)
    assert probed["uuid"] == sr and probed["name_label"] == "L"
    other = new_uuid()
    e = sd.error("sr_attach", type="file", sr_uuid=other, device_config=dc)
    assert e.app == "SR_BACKEND_FAILURE_47"
    a = sd("sr_attach", type="file", sr_uuid=sr, device_config=dc)
    assert a["uuid"] == sr
    assert sd("sr_attach", type="file", sr_uuid=sr, device_config=dc)["uuid"] == sr
    assert sd("sr_list") == [{"sr_uuid": sr, "type": "file", "device_config": dc}]
    u = sd("sr_update", sr_uuid=sr, name_label="new name")
    assert u["name_label"] == "new name" and u["name_description"] == "D"
    assert sd("sr_scan", sr_uuid=sr)["sr"]["name_label"] == "new name"
    assert sd("sr_detach", sr_uuid=sr) is None
    assert sd("sr_detach", sr_uuid=sr) is None
    assert sd("sr_list") == []
    # The names were written on the media.
    assert sd("sr_probe", type="file", device_config=dc)[0]["name_label"] == "new name"
    assert sd.error("sr_scan", sr_uuid=sr).app == "SR_NOT_ATTACHED"


def test_bad_device_config_and_types_are_refused(sd, tmp):
    sr = new_uuid()

    def create(t, dc):
        return sd.error("sr_create", type=t, sr_uuid=sr, device_config=dc, name_label="",
                        name_description="", shared=False)

    assert create("file", {}).app == "SR_BACKEND_FAILURE_94"
    assert create("file", {"location": "relative"}).app == "SR_BACKEND_FAILURE_61"
    assert create("ext", {}).app == "SR_BACKEND_FAILURE_90"
    assert create("ext", {"device": str(tmp)}).app == "SR_BACKEND_FAILURE_91"
    assert create("iso", {}).app == "SR_BACKEND_FAILURE_94"
    e = create("nosuch", {"location": str(tmp)})
    assert e.app == "SR_UNKNOWN_DRIVER" and e.params == ["nosuch"]
    assert create("lvm", {}).app == "SR_BACKEND_FAILURE_90"
    assert create("lvm", {"device": "/dev/null"}).app == "SR_BACKEND_FAILURE_91"
    assert create("nfs", {"serverpath": "/p"}).app == "SR_BACKEND_FAILURE_102"
    assert create("nfs", {"server": "h"}).app == "SR_BACKEND_FAILURE_101"
    assert create("nfs", {"server": "h", "serverpath": "p"}).app == "SR_BACKEND_FAILURE_103"
    e = create("nfs", {"server": "h", "serverpath": "/p", "nfsversion": "9"})
    assert e.app == "SR_BACKEND_FAILURE_72"
    # No NFS server answers here (nor NFS in this kernel): the mount fails
    # with its own words, and nothing is left mounted.
    e = create("nfs", {"server": "127.0.0.1", "serverpath": "/nowhere"})
    assert e.app == "SR_BACKEND_FAILURE_73" and e.params[1]
    e = sd.error("sr_attach", type="nfs", sr_uuid=sr,
                 device_config={"server": "127.0.0.1", "serverpath": "/nowhere"})
    assert e.app == "SR_BACKEND_FAILURE_73"
    e = sd.error("sr_probe", type="nfs",
                 device_config={"server": "127.0.0.1", "serverpath": "/nowhere"})
    assert e.app == "SR_BACKEND_FAILURE_73"
    assert not any(os.path.ismount(p) for p in (sd.state / "sr-mounts").iterdir())
    e = sd.error("sr_probe", type="file", device_config={"location": str(tmp / "none")})
    assert e.app == "SR_BACKEND_FAILURE_47"
    e = sd.error("sr_create", type="file", sr_uuid="not-a-uuid", device_config={},
                 name_label="", name_description="", shared=False)
    assert e.code == -32602
    e = sd.error("sr_create", type="file", sr_uuid=sr, device_config={"location": 5},
                 name_label="", name_description="", shared=False)
    assert e.code == -32602
    assert sd("sr_list") == []


def test_sr_delete_refuses_a_non_empty_sr_then_removes_everything(sd, tmp):
    sr, loc = file_sr(sd, tmp)
    v = vdi(sd, sr)
    s = sd("vdi_snapshot", sr_uuid=sr, vdi_uuid=v["uuid"])
    assert sd.error("sr_delete", sr_uuid=sr).app == "SR_NOT_EMPTY"
    sd("vdi_delete", sr_uuid=sr, vdi_uuid=s["uuid"])
    sd("vdi_attach", sr_uuid=sr, vdi_uuid=v["uuid"], read_write=True)
    e = sd.error("sr_delete", sr_uuid=sr)
    assert e.app == "VDI_IN_USE" and e.params[0] == v["uuid"]
    sd("vdi_detach", sr_uuid=sr, vdi_uuid=v["uuid"])
    sd("vdi_delete", sr_uuid=sr, vdi_uuid=v["uuid"])
    assert sd("sr_delete", sr_uuid=sr) is None
    assert not loc.exists()
    assert sd("sr_list") == []
    assert sd.error("sr_delete", sr_uuid=sr).app == "SR_NOT_ATTACHED"


# ---- VDIs ----

def test_vdi_create_update_resize_and_their_refusals(sd, tmp):
    sr, loc = file_sr(sd, tmp)
    want = new_uuid()
    v = vdi(sd, sr, size=GIB, vdi_uuid=want, name_label="n", name_description="d")
    assert v["uuid"] == want and v["virtual_size"] == GIB and v["format"] == "qcow2"
    assert v["managed"] and not v["is_a_snapshot"] and v["parent"] == ""
    assert v["snapshot_time"] == "19700101T00:00:00Z" and v["physical_utilisation"] > 0
    assert (loc / v["location"]).exists()
    assert sd.error("vdi_create", sr_uuid=sr, vdi_uuid=want, virtual_size=MIB).app == \
        "SR_BACKEND_FAILURE_43"
    assert sd.error("vdi_create", sr_uuid=sr, virtual_size=0).code == -32602
    assert sd.error("vdi_create", sr_uuid=sr, virtual_size=1 << 60).app == \
        "SR_BACKEND_FAILURE_79"
    e = sd.error("vdi_create", sr_uuid=new_uuid(), virtual_size=MIB)
    assert e.app == "SR_NOT_ATTACHED"
    u = sd("vdi_update", sr_uuid=sr, vdi_uuid=want, name_label="renamed")
    assert u["name_label"] == "renamed" and u["name_description"] == "d"
    assert scan(sd, sr)[want]["name_label"] == "renamed"
    r = sd("vdi_resize", sr_uuid=sr, vdi_uuid=want, new_size=2 * GIB)
    assert r["virtual_size"] == 2 * GIB
    assert scan(sd, sr)[want]["virtual_size"] == 2 * GIB
    e = sd.error("vdi_resize", sr_uuid=sr, vdi_uuid=want, new_size=GIB)
    assert e.app == "SR_BACKEND_FAILURE_79" and "shrinking not allowed" in e.params[1]
    assert scan(sd, sr)[want]["virtual_size"] == 2 * GIB
    missing = new_uuid()
    e = sd.error("vdi_delete", sr_uuid=sr, vdi_uuid=missing)
    assert e.app == "VDI_MISSING" and e.params == [sr, missing]
    sd("vdi_delete", sr_uuid=sr, vdi_uuid=want)
    assert want not in scan(sd, sr)
    assert not (loc / v["location"]).exists()


def test_attach_activate_detach_and_what_they_block(sd, tmp):
    sr, loc = file_sr(sd, tmp)
    v = vdi(sd, sr)["uuid"]
    ro = vdi(sd, sr, read_only=True)["uuid"]
    e = sd.error("vdi_attach", sr_uuid=sr, vdi_uuid=ro, read_write=True)
    assert e.app == "VDI_READONLY" and e.params == [ro]
    assert sd("vdi_attach", sr_uuid=sr, vdi_uuid=ro, read_write=False)["read_write"] is False
    e = sd.error("vdi_activate", sr_uuid=sr, vdi_uuid=v)
    assert e.app == "SR_BACKEND_FAILURE_46"
    a = sd("vdi_attach", sr_uuid=sr, vdi_uuid=v, read_write=True)
    assert a == {"format": "qcow2", "path": str(loc / (v + ".qcow2")), "backend": "qdisk",
                 "read_write": True}
    assert sd("vdi_activate", sr_uuid=sr, vdi_uuid=v) is None
    for method, args, op in (("vdi_delete", {}, "destroy"),
                             ("vdi_resize", {"new_size": GIB}, "resize"),
                             ("vdi_snapshot", {}, "snapshot"), ("vdi_clone", {}, "clone"),
                             ("vdi_detach", {}, "detach")):
        e = sd.error(method, sr_uuid=sr, vdi_uuid=v, **args)
        assert e.app == "VDI_IN_USE" and e.params == [v, op], method
    e = sd.error("sr_detach", sr_uuid=sr)
    assert e.app == "VDI_IN_USE"
    # A restarted storaged still knows what is attached and active.
    sd.restart()
    assert sd.error("vdi_delete", sr_uuid=sr, vdi_uuid=v).app == "VDI_IN_USE"
    assert sd.error("vdi_detach", sr_uuid=sr, vdi_uuid=v).app == "VDI_IN_USE"
    sd("vdi_deactivate", sr_uuid=sr, vdi_uuid=v)
    sd("vdi_detach", sr_uuid=sr, vdi_uuid=v)
    sd("vdi_detach", sr_uuid=sr, vdi_uuid=v)
    # A read-only attachment does not stop a snapshot.
    s = sd("vdi_snapshot", sr_uuid=sr, vdi_uuid=ro)
    assert s["snapshot_of"] == ro
    sd("vdi_detach", sr_uuid=sr, vdi_uuid=ro)
    sd("vdi_delete", sr_uuid=sr, vdi_uuid=v)
    sd("sr_detach", sr_uuid=sr)


def xenapi_time(s):
    return calendar.timegm(time.strptime(s, "%Y%m%dT%H:%M:%SZ"))


def test_snapshot_time_is_when_it_was_taken_and_stays(sd, tmp):
    sr, loc = file_sr(sd, tmp)
    v = vdi(sd, sr, size=16 * MIB)
    before = int(time.time())
    s = sd("vdi_snapshot", sr_uuid=sr, vdi_uuid=v["uuid"])
    after = int(time.time()) + 1
    taken = s["snapshot_time"]
    assert before <= xenapi_time(taken) <= after, (before, taken, after)
    # A snapshot of the snapshot is taken later (or in the same second).
    s2 = sd("vdi_snapshot", sr_uuid=sr, vdi_uuid=s["uuid"])
    assert xenapi_time(taken) <= xenapi_time(s2["snapshot_time"]) <= int(time.time()) + 1
    # Clones and copies are not snapshots; the VDI itself never was one.
    c = sd("vdi_clone", sr_uuid=sr, vdi_uuid=s["uuid"])
    cp = sd("vdi_copy", sr_uuid=sr, vdi_uuid=s["uuid"], dest_sr_uuid=sr)
    for x in (c, cp):
        assert not x["is_a_snapshot"] and x["snapshot_time"] == "19700101T00:00:00Z"
    # The time stays what it was through a restart, rescans, and the
    # coalescing that follows the VDI's deletion.
    sd.restart()
    vdis = scan(sd, sr)
    assert vdis[s["uuid"]]["snapshot_time"] == taken
    assert vdis[v["uuid"]]["snapshot_time"] == "19700101T00:00:00Z"
    for x in (cp, c, s2, v):
        sd("vdi_delete", sr_uuid=sr, vdi_uuid=x["uuid"])
    vdis = check_consistent(sd, sr, loc)
    assert list(vdis) == [s["uuid"]]
    assert vdis[s["uuid"]]["snapshot_time"] == taken and vdis[s["uuid"]]["is_a_snapshot"]


def test_snapshot_and_clone_chains_keep_every_level_of_data(sd, tmp):
    sr, loc = file_sr(sd, tmp)
    v = vdi(sd, sr, size=64 * MIB)
    vid = v["uuid"]
    vpath = loc / v["location"]
    write(vpath, 0x11, 0, MIB)
    s1 = sd("vdi_snapshot", sr_uuid=sr, vdi_uuid=vid, name_label="s1")
    assert s1["is_a_snapshot"] and s1["snapshot_of"] == vid and s1["name_label"] == "s1"
    assert s1["snapshot_time"] != "19700101T00:00:00Z"
    write(vpath, 0x22, 0, MIB)
    s2 = sd("vdi_snapshot", sr_uuid=sr, vdi_uuid=vid)
    write(vpath, 0x33, 0, MIB)
    want = new_uuid()
    c = sd("vdi_clone", sr_uuid=sr, vdi_uuid=vid, clone_uuid=want, name_label="c")
    assert c["uuid"] == want and not c["is_a_snapshot"] and c["snapshot_of"] == ""
    cpath = loc / c["location"]
    write(cpath, 0x44, MIB, MIB)
    write(vpath, 0x55, 2 * MIB, MIB)
    vdis = check_consistent(sd, sr, loc)
    assert vdis[vid]["parent"] and not vdis[vdis[vid]["parent"]]["managed"]
    assert reads(loc / s1["location"], 0x11, 0, MIB)
    assert reads(loc / s2["location"], 0x22, 0, MIB)
    assert reads(vpath, 0x33, 0, MIB) and reads(vpath, 0x55, 2 * MIB, MIB)
    assert reads(vpath, 0x00, MIB, MIB)
    assert reads(cpath, 0x33, 0, MIB) and reads(cpath, 0x44, MIB, MIB)
    assert reads(cpath, 0x00, 2 * MIB, MIB)
    assert reads(loc / s1["location"], 0x00, MIB, 2 * MIB)

    # Deleting snapshots merges the bases they leave with one child.
    n_hidden = sum(not x["managed"] for x in vdis.values())
    sd("vdi_delete", sr_uuid=sr, vdi_uuid=s1["uuid"])
    vdis = check_consistent(sd, sr, loc)
    assert sum(not x["managed"] for x in vdis.values()) == n_hidden - 1
    assert reads(loc / s2["location"], 0x22, 0, MIB)
    assert reads(vpath, 0x33, 0, MIB) and reads(cpath, 0x44, MIB, MIB)
    sd("vdi_delete", sr_uuid=sr, vdi_uuid=s2["uuid"])
    sd("vdi_delete", sr_uuid=sr, vdi_uuid=want)
    vdis = check_consistent(sd, sr, loc)
    assert set(vdis) == {vid} and vdis[vid]["parent"] == ""
    assert reads(vpath, 0x33, 0, MIB) and reads(vpath, 0x55, 2 * MIB, MIB)
    assert reads(vpath, 0x00, MIB, MIB)


def test_deleting_the_original_keeps_its_snapshot(sd, tmp):
    sr, loc = file_sr(sd, tmp)
    v = vdi(sd, sr)
    write(loc / v["location"], 0x61, 0, MIB)
    s = sd("vdi_snapshot", sr_uuid=sr, vdi_uuid=v["uuid"])
    write(loc / v["location"], 0x62, 0, MIB)
    sd("vdi_delete", sr_uuid=sr, vdi_uuid=v["uuid"])
    vdis = check_consistent(sd, sr, loc)
    assert set(vdis) == {s["uuid"]} and vdis[s["uuid"]]["is_a_snapshot"]
    assert reads(loc / s["location"], 0x61, 0, MIB)


def test_a_merge_waits_while_the_child_is_attached(sd, tmp):
    sr, loc = file_sr(sd, tmp)
    v = vdi(sd, sr)
    write(loc / v["location"], 0x71, 0, MIB)
    s = sd("vdi_snapshot", sr_uuid=sr, vdi_uuid=v["uuid"])
    sd("vdi_attach", sr_uuid=sr, vdi_uuid=v["uuid"], read_write=True)
    sd("vdi_delete", sr_uuid=sr, vdi_uuid=s["uuid"])
    vdis = scan(sd, sr)
    assert len(vdis) == 2 and vdis[v["uuid"]]["parent"]  # the base waits
    sd("vdi_detach", sr_uuid=sr, vdi_uuid=v["uuid"])
    vdis = check_consistent(sd, sr, loc)
    assert set(vdis) == {v["uuid"]}
    assert reads(loc / v["location"], 0x71, 0, MIB)


def test_snapshot_chain_length_is_limited(sd, tmp):
    sr, loc = file_sr(sd, tmp)
    v = vdi(sd, sr, size=MIB)["uuid"]
    n = 0
    while True:
        try:
            sd("vdi_snapshot", sr_uuid=sr, vdi_uuid=v)
        except RpcError as e:
            assert e.app == "SR_BACKEND_FAILURE_109"
            break
        n += 1
        assert n < 40
    assert n == 29
    check_consistent(sd, sr, loc)


def test_introduce_takes_an_image_dropped_in_by_hand(sd, tmp):
    sr, loc = file_sr(sd, tmp)
    u = new_uuid()
    subprocess.run(["qemu-img", "create", "-q", "-f", "qcow2", str(loc / "disk.qcow2"), "8M"],
                   check=True, timeout=TOOL_TIMEOUT)
    e = sd.error("vdi_introduce", sr_uuid=sr, vdi_uuid=u, location="nothere.qcow2")
    assert e.app == "VDI_LOCATION_MISSING" and e.params == [sr, "nothere.qcow2"]
    e = sd.error("vdi_introduce", sr_uuid=sr, vdi_uuid=u, location="../x")
    assert e.app == "VDI_LOCATION_MISSING"
    v = sd("vdi_introduce", sr_uuid=sr, vdi_uuid=u, location="disk.qcow2")
    assert v["uuid"] == u and v["location"] == "disk.qcow2" and v["virtual_size"] == 8 * MIB
    e = sd.error("vdi_introduce", sr_uuid=sr, vdi_uuid=new_uuid(), location="disk.qcow2")
    assert e.app == "SR_BACKEND_FAILURE_43"
    # It then works like any other VDI.
    write(loc / "disk.qcow2", 0x5a, 0, MIB)
    s = sd("vdi_snapshot", sr_uuid=sr, vdi_uuid=u)
    assert reads(loc / s["location"], 0x5a, 0, MIB)
    check_consistent(sd, sr, loc)


def test_copy_flattens_reports_progress_and_checks_space(sd, tmp):
    sr, loc = file_sr(sd, tmp)
    sr2, loc2 = file_sr(sd, tmp, "sr2")
    v = vdi(sd, sr, size=256 * MIB)
    write(loc / v["location"], 0x81, 0, 32 * MIB)
    sd("vdi_snapshot", sr_uuid=sr, vdi_uuid=v["uuid"])
    write(loc / v["location"], 0x82, 64 * MIB, 32 * MIB)
    result = {}

    def copy():
        try:
            result["vdi"] = sd("vdi_copy", sr_uuid=sr, vdi_uuid=v["uuid"], dest_sr_uuid=sr2,
                               job="job-1")
        except Exception as e:  # noqa: BLE001 - reported below
            result["error"] = e

    t = threading.Thread(target=copy)
    t.start()
    seen = []

    def done():
        try:
            st = rpc(sd.sock, "job_status", {"job": "job-1"})
        except RpcError as e:
            assert e.app == "HANDLE_INVALID"
            return False
        seen.append(st["progress"])
        return st["done"]

    wait_until(done, 120, interval=0.01, what="the copy to finish")
    t.join(60)
    assert "error" not in result, result
    assert seen == sorted(seen) and seen[-1] == 1.0
    c = result["vdi"]
    assert c["parent"] == "" and c["virtual_size"] == 256 * MIB
    cpath = loc2 / c["location"]
    assert reads(cpath, 0x81, 0, 32 * MIB) and reads(cpath, 0x82, 64 * MIB, 32 * MIB)
    check_consistent(sd, sr2, loc2)
    e = sd.error("job_status", job="nosuch")
    assert e.app == "HANDLE_INVALID"
    e = sd.error("vdi_copy", sr_uuid=sr, vdi_uuid=v["uuid"], dest_sr_uuid=new_uuid())
    assert e.app == "SR_NOT_ATTACHED"


# ---- forgetting and rediscovering ----

def test_a_fresh_storaged_finds_every_vdi_again(sd, tmp):
    sr, loc = file_sr(sd, tmp)
    v = vdi(sd, sr, name_label="keep me")
    write(loc / v["location"], 0x91, 0, MIB)
    s = sd("vdi_snapshot", sr_uuid=sr, vdi_uuid=v["uuid"], name_label="snap")
    c = sd("vdi_clone", sr_uuid=sr, vdi_uuid=v["uuid"])
    ro = vdi(sd, sr, read_only=True, sharable=True)
    before = scan(sd, sr)
    # A new run folder is a rebooted host: nothing is attached any more.
    sd.restart(run_dir=tmp / "run-after-reboot")
    assert sd("sr_list") == []
    [p] = sd("sr_probe", type="file", device_config={"location": str(loc)})
    assert p["uuid"] == sr
    sd("sr_attach", type="file", sr_uuid=sr, device_config={"location": str(loc)})
    after = scan(sd, sr)
    for vv in before.values():
        vv.pop("physical_utilisation")
    for vv in after.values():
        vv.pop("physical_utilisation")
    assert after == before
    assert after[s["uuid"]]["is_a_snapshot"] and after[c["uuid"]]["name_label"] == "keep me"
    assert after[ro["uuid"]]["read_only"] and after[ro["uuid"]]["sharable"]
    assert reads(loc / s["location"], 0x91, 0, MIB)


# ---- crashes ----

FIST_SETUPS = {
    "create-written": "create", "create-committed": "create",
    "snapshot-journaled": "snapshot", "snapshot-renamed": "snapshot",
    "snapshot-created": "snapshot", "snapshot-replaced": "snapshot",
    "snapshot-committed": "snapshot",
    "delete-journaled": "delete", "delete-unlinked": "delete",
    "coalesce-committed": "coalesce", "coalesce-renamed": "coalesce",
    "copy-converted": "copy", "copy-committed": "copy",
}


@pytest.mark.parametrize("point", sorted(FIST_SETUPS))
def test_a_crash_at_any_step_leaves_the_sr_consistent(sd, tmp, point):
    op = FIST_SETUPS[point]
    sr, loc = file_sr(sd, tmp)
    v = vdi(sd, sr)
    vpath = loc / v["location"]
    write(vpath, 0xa1, 0, MIB)
    snap = None
    if op in ("delete", "coalesce"):
        snap = sd("vdi_snapshot", sr_uuid=sr, vdi_uuid=v["uuid"])
        write(vpath, 0xa2, 0, MIB)
    before = set(scan(sd, sr))
    sd.restart(env={"STORAGED_FIST": point})
    new = new_uuid()
    with pytest.raises((ConnectionError, OSError)):
        if op == "create":
            vdi(sd, sr, vdi_uuid=new)
        elif op == "snapshot":
            sd("vdi_snapshot", sr_uuid=sr, vdi_uuid=v["uuid"], snapshot_uuid=new)
        elif op == "delete":
            sd("vdi_delete", sr_uuid=sr, vdi_uuid=v["uuid"])
        elif op == "coalesce":
            sd("vdi_delete", sr_uuid=sr, vdi_uuid=snap["uuid"])
        else:
            sd("vdi_copy", sr_uuid=sr, vdi_uuid=v["uuid"], dest_sr_uuid=sr, dest_vdi_uuid=new)
    sd.wait_dead()
    sd.start()
    vdis = check_consistent(sd, sr, loc)
    if op in ("create", "snapshot", "copy"):
        assert (new in vdis) == (point in ("create-committed", "snapshot-committed",
                                            "copy-committed")), point
        assert before <= set(vdis)
    elif op == "delete":
        assert (v["uuid"] in vdis) == (point == "delete-journaled")
    elif op == "coalesce":
        assert set(vdis) == {v["uuid"]}  # the scan finishes the merge
    if v["uuid"] in vdis:
        want = 0xa2 if op in ("delete", "coalesce") else 0xa1
        assert reads(vpath, want, 0, MIB)
    if snap and snap["uuid"] in vdis:
        assert reads(loc / snap["location"], 0xa1, 0, MIB)
    if new in vdis:
        assert reads(loc / vdis[new]["location"], 0x00 if op == "create" else 0xa1, 0, MIB)


def test_kill9_during_a_real_copy(sd, tmp):
    sr, loc = file_sr(sd, tmp)
    v = vdi(sd, sr, size=512 * MIB)
    write(loc / v["location"], 0xb1, 0, 256 * MIB)

    def copy():
        try:
            sd("vdi_copy", sr_uuid=sr, vdi_uuid=v["uuid"], dest_sr_uuid=sr, job="big")
        except (ConnectionError, OSError, RpcError):
            pass

    t = threading.Thread(target=copy)
    t.start()

    def started():
        try:
            return rpc(sd.sock, "job_status", {"job": "big"})
        except RpcError:
            return None

    wait_until(started, 60, interval=0.005, what="the copy to start")
    sd.kill9()
    t.join(60)
    sd.start()
    vdis = check_consistent(sd, sr, loc)
    assert v["uuid"] in vdis and len(vdis) in (1, 2)
    assert reads(loc / v["location"], 0xb1, 0, 256 * MIB)


def slow_qemu_img(tmp):
    """A qemu-img in front of the real one whose convert, while the file
    block exists, does the real copy and then waits (up to 300 s) to be
    killed, after writing its pid to convert.pid: a copy that is certainly
    still running when job_cancel comes, whatever the disk's speed."""
    bindir = tmp / "bin"
    bindir.mkdir()
    real = shutil.which("qemu-img")
    script = bindir / "qemu-img"
    script.write_text(
        "#!/bin/sh\n"
        'if [ "$1" = convert ] && [ -e "%s" ]; then\n'
        '    "%s" "$@" || exit $?\n'
        '    echo $$ > "%s"\n'
        "    exec sleep 300\n"
        "fi\n"
        'exec "%s" "$@"\n' % (tmp / "block", real, tmp / "convert.pid", real))
    script.chmod(0o755)
    (tmp / "block").touch()
    return {"PATH": "%s:%s" % (bindir, os.environ.get("PATH", ""))}


def test_job_cancel_stops_a_copy_and_leaves_nothing(tmp):
    sd = Storaged(tmp, env=slow_qemu_img(tmp))
    try:
        sr, loc = file_sr(sd, tmp)
        sr2, loc2 = file_sr(sd, tmp, "sr2")
        v = vdi(sd, sr, size=64 * MIB)
        write(loc / v["location"], 0xd1, 0, 8 * MIB)
        result = {}

        def copy():
            try:
                result["vdi"] = sd("vdi_copy", sr_uuid=sr, vdi_uuid=v["uuid"],
                                   dest_sr_uuid=sr2, job="OpaqueRef:task-1")
            except Exception as e:  # noqa: BLE001 - checked below
                result["error"] = e

        t = threading.Thread(target=copy)
        t.start()
        pidfile = tmp / "convert.pid"
        wait_until(lambda: pidfile.exists() and pidfile.read_text().strip(), 60,
                   what="the copy to be written and waiting")
        pid = int(pidfile.read_text())
        st = sd("job_status", job="OpaqueRef:task-1")
        assert not st["done"]
        # The source is busy and the destination has a copy in progress.
        assert sd.error("vdi_delete", sr_uuid=sr, vdi_uuid=v["uuid"]).app == "VDI_IN_USE"
        assert [p.name for p in loc2.iterdir() if p.name.endswith(".tmp")]
        assert sd("job_cancel", job="OpaqueRef:task-1") is None
        t.join(60)
        assert not t.is_alive()
        e = result.get("error")
        assert isinstance(e, RpcError), result
        assert e.app == "TASK_CANCELLED" and e.params == ["OpaqueRef:task-1"]
        # qemu-img was killed and reaped by storaged.
        assert not Path("/proc/%d" % pid).exists()
        st = sd("job_status", job="OpaqueRef:task-1")
        assert st["done"] and st["error"] == "TASK_CANCELLED"
        # Nothing is left behind: no temporary file, no VDI, the metadata
        # as before; and nothing is left busy.
        assert check_consistent(sd, sr2, loc2) == {}
        assert set(check_consistent(sd, sr, loc)) == {v["uuid"]}
        # Cancelling a finished job changes nothing; an unknown one is refused.
        assert sd("job_cancel", job="OpaqueRef:task-1") is None
        assert sd("job_status", job="OpaqueRef:task-1")["error"] == "TASK_CANCELLED"
        e = sd.error("job_cancel", job="nosuch")
        assert e.app == "HANDLE_INVALID" and e.params == ["job", "nosuch"]
        assert sd.error("job_cancel").code == -32602
        # The next copy runs to its end.
        (tmp / "block").unlink()
        c = sd("vdi_copy", sr_uuid=sr, vdi_uuid=v["uuid"], dest_sr_uuid=sr2, job="again")
        assert reads(loc2 / c["location"], 0xd1, 0, 8 * MIB)
        assert set(check_consistent(sd, sr2, loc2)) == {c["uuid"]}
        assert sd("job_status", job="again")["done"]
        sd("sr_detach", sr_uuid=sr)
    finally:
        try:
            sd.stop()
        finally:
            if sd.proc.poll() is None:
                sd.proc.kill()
    sd.check_logs()


# ---- hostile clients ----

def test_garbage_and_vanishing_clients_do_not_hurt(sd, tmp):
    sr, loc = file_sr(sd, tmp)
    for junk in (b"\x00\xff garbage\n", b"{\"jsonrpc\": \"2.0\", \"method\": \n",
                 b"[1,2,3]\n", b"{}\n", b"\n" * 10, os.urandom(4096) + b"\n"):
        s = socket.socket(socket.AF_UNIX)
        s.settimeout(10)
        s.connect(str(sd.sock))
        s.sendall(junk)
        try:
            s.recv(65536)
        except OSError:
            pass
        s.close()
    # A client that goes away in the middle of a copy.
    v = vdi(sd, sr, size=64 * MIB)
    write(loc / v["location"], 0xc1, 0, 16 * MIB)
    s = socket.socket(socket.AF_UNIX)
    s.connect(str(sd.sock))
    s.sendall((json.dumps({"jsonrpc": "2.0", "id": 7, "method": "vdi_copy", "params": {
        "sr_uuid": sr, "vdi_uuid": v["uuid"], "dest_sr_uuid": sr, "job": "gone"}}) +
        "\n").encode())
    s.close()
    wait_until(lambda: rpc(sd.sock, "job_status", {"job": "gone"})["done"]
               if _job_known(sd, "gone") else False, 60, what="the orphaned copy")
    e = sd.error("vdi_snapshot", sr_uuid="x", vdi_uuid=v["uuid"])
    assert e.code == -32602
    assert sd.error("nosuch_method").code == -32601
    check_consistent(sd, sr, loc)


def _job_known(sd, job):
    try:
        rpc(sd.sock, "job_status", {"job": job})
        return True
    except RpcError:
        return False


# ---- ISO libraries ----

def test_iso_library_lists_images_read_only(sd, tmp):
    lib = tmp / "isos"
    lib.mkdir()
    (lib / "a.iso").write_bytes(b"A" * 4096)
    (lib / "b.IMG").write_bytes(b"B" * 8192)
    (lib / "notes.txt").write_text("not an image")
    sr = new_uuid()
    dc = {"location": str(lib)}
    info = sd("sr_create", type="iso", sr_uuid=sr, device_config=dc, name_label="ISOs",
              name_description="", shared=True)
    assert info["content_type"] == "iso"
    assert sd("sr_probe", type="iso", device_config=dc) == []
    sd("sr_attach", type="iso", sr_uuid=sr, device_config=dc)
    vdis = {v["name_label"]: v for v in sd("sr_scan", sr_uuid=sr)["vdis"]}
    assert set(vdis) == {"a.iso", "b.IMG"}
    a = vdis["a.iso"]
    assert a["format"] == "iso" and a["read_only"] and a["virtual_size"] == 4096
    assert a["location"] == "a.iso"
    e = sd.error("vdi_create", sr_uuid=sr, virtual_size=MIB)
    assert e.app == "SR_OPERATION_NOT_SUPPORTED" and e.params == [sr]
    assert sd.error("vdi_delete", sr_uuid=sr, vdi_uuid=a["uuid"]).app == \
        "SR_OPERATION_NOT_SUPPORTED"
    assert sd.error("vdi_attach", sr_uuid=sr, vdi_uuid=a["uuid"], read_write=True).app == \
        "VDI_READONLY"
    at = sd("vdi_attach", sr_uuid=sr, vdi_uuid=a["uuid"], read_write=False)
    assert at["format"] == "raw" and at["path"] == str(lib / "a.iso")
    sd("vdi_detach", sr_uuid=sr, vdi_uuid=a["uuid"])
    # An attached image that leaves the library can still be let go.
    b = vdis["b.IMG"]["uuid"]
    sd("vdi_attach", sr_uuid=sr, vdi_uuid=b, read_write=False)
    sd("vdi_activate", sr_uuid=sr, vdi_uuid=b)
    (lib / "b.IMG").rename(tmp / "b.IMG")
    assert b not in {v["uuid"] for v in sd("sr_scan", sr_uuid=sr)["vdis"]}
    sd("vdi_deactivate", sr_uuid=sr, vdi_uuid=b)
    sd("vdi_detach", sr_uuid=sr, vdi_uuid=b)
    assert sd.error("vdi_detach", sr_uuid=sr, vdi_uuid=b).app == "VDI_MISSING"
    (tmp / "b.IMG").rename(lib / "b.IMG")
    # The uuids are stable across scans and restarts.
    (lib / "c.iso").write_bytes(b"C" * 512)
    sd.restart()
    again = {v["name_label"]: v["uuid"] for v in sd("sr_scan", sr_uuid=sr)["vdis"]}
    assert again["a.iso"] == a["uuid"] and "c.iso" in again
    # An ISO can be copied into a disk SR.
    fsr, floc = file_sr(sd, tmp)
    c = sd("vdi_copy", sr_uuid=sr, vdi_uuid=a["uuid"], dest_sr_uuid=fsr)
    assert c["format"] == "qcow2" and c["virtual_size"] == 4096
    sd("sr_detach", sr_uuid=sr)
    assert sorted(p.name for p in lib.iterdir()) == ["a.iso", "b.IMG", "c.iso", "notes.txt"]


# ---- ext on a loop device ----

@pytest.fixture
def loopdev(tmp):
    if shutil.which("losetup") is None:
        pytest.skip("losetup is not installed")
    img = tmp / "disk.img"
    with open(img, "wb") as f:
        f.truncate(256 * MIB)
    r = subprocess.run(["losetup", "-f", "--show", str(img)], capture_output=True, text=True,
                       timeout=TOOL_TIMEOUT)
    if r.returncode != 0:
        pytest.skip("no loop device: " + r.stderr.strip())
    dev = r.stdout.strip()
    try:
        yield dev
    finally:
        unmount_under(tmp)
        subprocess.run(["losetup", "-d", dev], check=False, timeout=TOOL_TIMEOUT)


def test_ext_sr_on_a_loop_device(sd, tmp, loopdev):
    dc = {"device": loopdev}
    assert sd("sr_probe", type="ext", device_config=dc) == []
    sr = new_uuid()
    info = sd("sr_create", type="ext", sr_uuid=sr, device_config=dc, name_label="ext",
              name_description="", shared=False)
    assert info["type"] == "ext" and 200 * MIB < info["physical_size"] <= 256 * MIB
    mp = sd.state / "sr-mounts" / sr
    assert not os.path.ismount(mp)
    e = sd.error("sr_create", type="ext", sr_uuid=new_uuid(), device_config=dc, name_label="",
                 name_description="", shared=False)
    assert e.app == "SR_BACKEND_FAILURE_42"
    assert [p["uuid"] for p in sd("sr_probe", type="ext", device_config=dc)] == [sr]
    sd("sr_attach", type="ext", sr_uuid=sr, device_config=dc)
    assert os.path.ismount(mp)
    v = vdi(sd, sr, size=128 * MIB)
    write(mp / v["location"], 0xd1, 0, MIB)
    s = sd("vdi_snapshot", sr_uuid=sr, vdi_uuid=v["uuid"])
    write(mp / v["location"], 0xd2, 0, MIB)
    # Not enough room for a flat copy of 40 MiB of data.
    big = vdi(sd, sr, size=GIB)
    write(mp / big["location"], 0xd3, 0, 150 * MIB)
    e = sd.error("vdi_copy", sr_uuid=sr, vdi_uuid=big["uuid"], dest_sr_uuid=sr)
    assert e.app == "SR_FULL" and int(e.params[0]) > int(e.params[1])
    sd("vdi_delete", sr_uuid=sr, vdi_uuid=big["uuid"])
    # A restart keeps it mounted and attached; a detach unmounts it.
    sd.kill9()
    sd.start()
    assert [x["sr_uuid"] for x in sd("sr_list")] == [sr]
    check_consistent(sd, sr, mp)
    # Something else holding the file system keeps it attached.
    with open(mp / ".xenia-sr.json") as held:
        assert sd.error("sr_detach", sr_uuid=sr).app == "SR_DEVICE_IN_USE"
        assert held.read(1) == "{"
    assert os.path.ismount(mp) and [x["sr_uuid"] for x in sd("sr_list")] == [sr]
    sd("sr_detach", sr_uuid=sr)
    assert not os.path.ismount(mp)
    sd("sr_attach", type="ext", sr_uuid=sr, device_config=dc)
    assert reads(mp / s["location"], 0xd1, 0, MIB) and reads(mp / v["location"], 0xd2, 0, MIB)
    assert sd.error("sr_delete", sr_uuid=sr).app == "SR_NOT_EMPTY"
    sd("vdi_delete", sr_uuid=sr, vdi_uuid=s["uuid"])
    sd("vdi_delete", sr_uuid=sr, vdi_uuid=v["uuid"])
    sd("sr_delete", sr_uuid=sr)
    assert not os.path.ismount(mp)
    assert sd("sr_probe", type="ext", device_config=dc) == []


def test_media_that_went_away_fail_the_scan_instead_of_looking_empty(sd, tmp):
    sr, loc = file_sr(sd, tmp)
    v = vdi(sd, sr)["uuid"]
    moved = tmp / "moved"
    loc.rename(moved)
    loc.mkdir()  # like an unmounted mount point: an empty folder
    e = sd.error("sr_scan", sr_uuid=sr)
    assert e.app == "SR_BACKEND_FAILURE_47"
    loc.rmdir()
    moved.rename(loc)
    assert set(scan(sd, sr)) == {v}


def test_sigterm_during_a_copy_stops_cleanly(sd, tmp):
    sr, loc = file_sr(sd, tmp)
    v = vdi(sd, sr, size=512 * MIB)
    write(loc / v["location"], 0xe1, 0, 256 * MIB)
    errors = []

    def copy():
        try:
            sd("vdi_copy", sr_uuid=sr, vdi_uuid=v["uuid"], dest_sr_uuid=sr, job="stop")
        except (RpcError, ConnectionError, OSError) as e:
            errors.append(e)

    t = threading.Thread(target=copy)
    t.start()
    wait_until(lambda: _job_known(sd, "stop"), 60, interval=0.005, what="the copy to start")
    sd.stop()  # asserts exit status 0 within STOP_TIMEOUT
    t.join(60)
    sd.start()
    vdis = check_consistent(sd, sr, loc)
    assert v["uuid"] in vdis and len(vdis) == (1 if errors else 2)


def test_concurrent_clients_keep_the_metadata_whole(sd, tmp):
    sr, loc = file_sr(sd, tmp)
    made, failures = [], []

    def worker(n):
        try:
            for i in range(6):
                v = vdi(sd, sr, size=MIB, name_label="w%d-%d" % (n, i))
                s = sd("vdi_snapshot", sr_uuid=sr, vdi_uuid=v["uuid"])
                made.extend([v["uuid"], s["uuid"]])
                if i % 2:
                    sd("vdi_delete", sr_uuid=sr, vdi_uuid=s["uuid"])
                    made.remove(s["uuid"])
        except Exception as e:  # noqa: BLE001 - reported below
            failures.append(e)

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert not failures, failures
    vdis = check_consistent(sd, sr, loc)
    assert {u for u, v in vdis.items() if v["managed"]} == set(made)


def test_damaged_state_and_metadata_are_reported_not_fatal(sd, tmp):
    sr, loc = file_sr(sd, tmp)
    sd.stop()
    (sd.run_dir / (new_uuid() + ".json")).write_text("{not json")
    (sd.run_dir / (sr + ".json")).write_text('{"sr_uuid": "%s", "type": "nosuch"}' % sr)
    sd.start()
    assert sd("sr_list") == []
    meta = loc / ".xenia-sr.json"
    good = meta.read_text()
    meta.write_text(good.replace('"vdis":[', '"vdis":[{"uuid": 5},'))
    e = sd.error("sr_attach", type="file", sr_uuid=sr, device_config={"location": str(loc)})
    assert e.app == "SR_BACKEND_FAILURE_181" and "uuid" in e.params[1]
    meta.write_text(good)
    sd("sr_attach", type="file", sr_uuid=sr, device_config={"location": str(loc)})
    assert sd("sr_scan", sr_uuid=sr)["vdis"] == []
