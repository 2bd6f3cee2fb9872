"""Helpers of networkd's integration tests: a development host's network
(scripts/host-network: a namespace with a private OVS and stand-in NICs),
networkd run inside it, a JSON-RPC client, and small tools that work
without iputils (ICMP echo from Python) or 802.1q in the kernel.

Every wait is bounded, and a NetHost removes everything it made."""

import itertools
import json
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from pathlib import Path

from xeniatest import REPO, build_dir, wait_until

HOST_NETWORK = REPO / "scripts" / "host-network"
PYTHON = "/usr/bin/python3"
_counter = itertools.count()


class RPCError(Exception):
    def __init__(self, error):
        self.error = error
        data = error.get("data") or {}
        self.code = data.get("error") if isinstance(data, dict) else None
        self.params = data.get("params", []) if isinstance(data, dict) else []
        super().__init__(json.dumps(error))


def rpc(path, method, params=None, timeout=60):
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
                raise ConnectionError("networkd closed the connection")
            buf += d
    finally:
        s.close()
    resp = json.loads(buf)
    if "error" in resp:
        raise RPCError(resp["error"])
    return resp["result"]


def sh(*args, check=True, timeout=30, **kw):
    return subprocess.run([str(a) for a in args], check=check, timeout=timeout,
                          capture_output=True, text=True, **kw)


def ping(netns, dst, timeout=10.0):
    """True if dst answers an ICMP echo sent from netns within timeout."""
    script = r"""
import os, socket, struct, sys, time
dst, deadline = sys.argv[1], time.monotonic() + float(sys.argv[2])
def csum(b):
    s = sum(struct.unpack('!%dH' % (len(b) // 2), b))
    s = (s >> 16) + (s & 0xffff); s += s >> 16
    return ~s & 0xffff
s = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_ICMP)
ident = os.getpid() & 0xffff
seq = 0
while time.monotonic() < deadline:
    seq += 1
    hdr = struct.pack('!BBHHH', 8, 0, 0, ident, seq) + b'xenia-ping'
    pkt = struct.pack('!BBHHH', 8, 0, csum(hdr), ident, seq) + b'xenia-ping'
    try:
        s.sendto(pkt, (dst, 0))
    except OSError:
        time.sleep(0.2); continue
    end = min(deadline, time.monotonic() + 0.3)
    while time.monotonic() < end:
        s.settimeout(max(0.01, end - time.monotonic()))
        try:
            data, addr = s.recvfrom(2048)
        except socket.timeout:
            break
        ihl = (data[0] & 15) * 4
        t, _, _, i, q = struct.unpack('!BBHHH', data[ihl:ihl + 8])
        if t == 0 and i == ident and addr[0] == dst:
            sys.exit(0)
sys.exit(1)
"""
    r = subprocess.run(["ip", "netns", "exec", netns, PYTHON, "-c", script, dst, str(timeout)],
                       timeout=timeout + 10, capture_output=True)
    return r.returncode == 0


class Netns:
    """A plain network namespace, removed on close (with its processes)."""

    def __init__(self, name):
        self.name = name
        sh("ip", "netns", "add", name)
        sh("ip", "-n", name, "link", "set", "lo", "up")

    def run(self, *args, **kw):
        return sh("ip", "netns", "exec", self.name, *args, **kw)

    def close(self):
        pids = sh("ip", "netns", "pids", self.name, check=False).stdout.split()
        for p in pids:
            try:
                os.kill(int(p), signal.SIGKILL)
            except (ProcessLookupError, ValueError):
                pass
        sh("ip", "netns", "del", self.name, check=False)


def start_ovs(netns, d):
    """A private ovsdb-server and ovs-vswitchd (netdev) in netns, files in
    d (kept: conf.db survives a restart unless removed)."""
    d = Path(d)
    d.mkdir(parents=True, exist_ok=True)
    env = ["env", "OVS_RUNDIR=%s" % d, "OVS_LOGDIR=%s" % d, "OVS_DBDIR=%s" % d]
    if not (d / "conf.db").exists():
        sh("ovsdb-tool", "create", d / "conf.db", "/usr/share/openvswitch/vswitch.ovsschema")
    sh("ip", "netns", "exec", netns, *env, "ovsdb-server", "--remote=punix:%s/db.sock" % d,
       "--pidfile=%s/ovsdb.pid" % d, "--unixctl=%s/ovsdb.ctl" % d,
       "--log-file=%s/ovsdb.log" % d, "-vconsole:off", "--detach", d / "conf.db")
    sh("ip", "netns", "exec", netns, *env, "ovs-vsctl", "--db=unix:%s/db.sock" % d,
       "--no-wait", "init")
    _start_vswitchd(netns, d)


def _start_vswitchd(netns, d):
    env = ["env", "OVS_RUNDIR=%s" % d, "OVS_LOGDIR=%s" % d, "OVS_DBDIR=%s" % d]
    sh("ip", "netns", "exec", netns, *env, "ovs-vswitchd", "unix:%s/db.sock" % d,
       "--pidfile=%s/vswitchd.pid" % d, "--unixctl=%s/vswitchd.ctl" % d,
       "--log-file=%s/vswitchd.log" % d, "-vconsole:off", "--detach")
    wait_until(lambda: (d / "vswitchd.ctl").exists(), 10, what="ovs-vswitchd")


def restart_vswitchd(netns, d, timeout=60):
    """Restarts ovs-vswitchd alone, as a crash and its restart would:
    ovsdb-server stays (networkd's connection with it), the bridges come
    back with empty OpenFlow tables, and OVSDB says nothing of it."""
    d = Path(d)
    pid = _pid(d / "vswitchd.pid")
    sh("ip", "netns", "exec", netns, "env", "OVS_RUNDIR=%s" % d, "ovs-appctl", "-T", "60", "-t",
       d / "vswitchd.ctl", "exit", check=False, timeout=timeout + 10)
    deadline = time.monotonic() + timeout
    while pid and Path("/proc/%d" % pid).exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    if pid and Path("/proc/%d" % pid).exists():
        os.kill(pid, signal.SIGKILL)
    (d / "vswitchd.ctl").unlink(missing_ok=True)
    _start_vswitchd(netns, d)


def _pid(path):
    try:
        return int(Path(path).read_text().strip())
    except (OSError, ValueError):
        return None


def stop_ovs(netns, d, cleanup=True, timeout=60):
    """Stops the OVS in d and waits (bounded) until its processes are gone:
    exit --cleanup of a big switch takes a while."""
    d = Path(d)
    pids = [p for p in (_pid(d / "vswitchd.pid"), _pid(d / "ovsdb.pid")) if p]
    env = ["env", "OVS_RUNDIR=%s" % d]
    args = ["exit", "--cleanup"] if cleanup else ["exit"]
    sh("ip", "netns", "exec", netns, *env, "ovs-appctl", "-T", "60", "-t", d / "vswitchd.ctl",
       *args, check=False)
    sh("ip", "netns", "exec", netns, *env, "ovs-appctl", "-T", "5", "-t", d / "ovsdb.ctl",
       "exit", check=False)
    deadline = time.monotonic() + timeout
    for p in pids:
        while Path("/proc/%d" % p).exists() and time.monotonic() < deadline:
            time.sleep(0.05)
        if Path("/proc/%d" % p).exists():
            os.kill(p, signal.SIGKILL)


def vsctl(netns, d, *args):
    """ovs-vsctl against the OVS in d; JSON output for find/list."""
    return sh("ip", "netns", "exec", netns, "env", "OVS_RUNDIR=%s" % d, "ovs-vsctl",
              "--db=unix:%s/db.sock" % d, "--timeout=10", *args).stdout


def ovs_rows(netns, d, table, *conds):
    """The rows of table as dicts of plain values (ovs-vsctl JSON)."""
    out = json.loads(vsctl(netns, d, "--format=json", "find", table, *conds))
    rows = []
    for r in out["data"]:
        rows.append({h: _plain(v) for h, v in zip(out["headings"], r)})
    return rows


def _plain(v):
    if isinstance(v, list) and len(v) == 2 and v[0] == "map":
        return {k: _plain(x) for k, x in v[1]}
    if isinstance(v, list) and len(v) == 2 and v[0] == "set":
        return [_plain(x) for x in v[1]]
    if isinstance(v, list) and len(v) == 2 and v[0] == "uuid":
        return v[1]
    return v


class NetHost:
    """A development host's network with networkd running in it."""

    def __init__(self, nics=2):
        self.tmp = Path(tempfile.mkdtemp(prefix="xenia-nd-"))
        self.name = "nd%d-%d" % (os.getpid(), next(_counter))
        self.nics = nics
        self.proc = None
        self.extra = []
        r = sh(HOST_NETWORK, "start", self.tmp, self.name, nics, check=False, timeout=60)
        if r.returncode != 0:
            sh(HOST_NETWORK, "stop", self.tmp, self.name, check=False)
            shutil.rmtree(self.tmp, ignore_errors=True)
            raise RuntimeError("host-network start failed: %s" % r.stderr.strip())
        self.vars = {}
        for line in r.stdout.splitlines():
            k, _, v = line.partition("=")
            self.vars[k] = v.strip("'")
        self.ns = self.vars["NETNS"]
        self.out = self.vars["OUTSIDE_NETNS"]
        self.ovs = Path(self.vars["OVS_RUNDIR"])
        self.sock = self.tmp / "networkd.sock"
        self.log_path = self.tmp / "networkd.log"
        self.start()

    def start(self):
        args = ["ip", "netns", "exec", self.ns, str(build_dir() / "networkd"),
                "--socket", str(self.sock), "--state-dir", str(self.tmp / "state"),
                "--log-level", "info"] + self.vars["NETWORKD_ARGS"].split()
        self.log = open(self.log_path, "a")
        self.proc = subprocess.Popen(args, stdout=self.log, stderr=subprocess.STDOUT)
        wait_until(lambda: self.proc.poll() is not None or self._answers(), 20,
                   what="networkd to answer")
        assert self.proc.poll() is None, "networkd exited: %s" % self.log_tail()

    def _answers(self):
        try:
            rpc(self.sock, "version", timeout=2)
            return True
        except (OSError, RPCError, ValueError):
            return False

    def call(self, method, **params):
        return rpc(self.sock, method, params)

    def stop(self, sig=signal.SIGTERM):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                rc = self.proc.wait(20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                rc = self.proc.wait(10)
        else:
            rc = self.proc.returncode if self.proc else None
        self.proc = None
        self.log.close()
        return rc

    def netns(self, label):
        n = Netns("%s-%s" % (self.name, label))
        self.extra.append(n)
        return n

    def log_tail(self, n=30):
        try:
            return "\n".join(self.log_path.read_text().splitlines()[-n:])
        except OSError:
            return ""

    def sanitizer_reports(self):
        try:
            text = self.log_path.read_text()
        except OSError:
            return []
        return [l for l in text.splitlines()
                if "ERROR: AddressSanitizer" in l or "runtime error:" in l
                or "ERROR: LeakSanitizer" in l]

    def close(self):
        try:
            if self.proc:
                self.stop()
        finally:
            for n in self.extra:
                n.close()
            sh(HOST_NETWORK, "stop", self.tmp, self.name, check=False, timeout=60)

    def remove(self):
        shutil.rmtree(self.tmp, ignore_errors=True)

    def addresses(self, link):
        for l in self.call("state/get")["links"]:
            if l["name"] == link:
                return l["addresses"]
        return None
