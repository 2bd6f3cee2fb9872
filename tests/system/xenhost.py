"""The system tests' harness: Xenia hosts made of real Xen 4.17 and a
Debian dom0, booted under QEMU with software emulation (TCG).

- Image: iso/mkimage makes a disk image from the cached root filesystem
  (iso/mkrootfs) with this tree's Xenia installed, a root password and an
  SSH key of this run; each host boots a qcow2 overlay of it, so hosts
  never write to the shared image.
- Host: one QEMU process per host, Xen as the multiboot kernel (QEMU's
  -kernel), dom0's kernel and initrd as its modules; the serial console
  (Xen's and dom0's) logged to <host dir>/console.log; user-mode
  networking that reaches nothing outside, forwarding the API (80, 443)
  and SSH (22) from free ports on 127.0.0.1. Commands run in dom0 through
  SSH with this run's key.
- Switch: several hosts share a second network for pools through a
  switch in this process (QEMU's -netdev stream on a Unix socket; frames
  are relayed between every connected host).

Every wait is bounded. QEMU runs in its own process group with a parent
death signal, and Host.stop() (also at exit) kills the group, so no QEMU
outlives the tests."""

import atexit
import ctypes
import os
import secrets
import shutil
import signal
import socket
import struct
import subprocess
import tempfile
import threading
import time
import urllib.error
import urllib.request
import xmlrpc.client
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
QEMU = "qemu-system-x86_64"
BOOT_TIMEOUT = float(os.environ.get("XENIA_SYSTEM_BOOT_TIMEOUT", "600"))
CALL_TIMEOUT = 120.0
# Xen: the serial console, dom0's fixed memory (no ballooning), a quiet
# boot. Dom0: the root disk, its console on Xen's console.
XEN_CMDLINE = ("console=com1 com1=115200 dom0_mem=1024M,max:1024M dom0_max_vcpus=2 "
               "loglvl=warning guest_loglvl=warning")
DOM0_CMDLINE = "root=/dev/vda rw console=hvc0 earlyprintk=xen"
GUEST_KIT = "/var/lib/xenia/guest-kit"
SPARE_DISK_MB = 1024  # each of the session host's spare disks (test_storage_xen)

_live = set()


def _kill_all():
    for h in list(_live):
        h.stop()


atexit.register(_kill_all)


def log(msg):
    print("[system] %s" % msg, flush=True)


def iso_build_dir():
    return Path(os.environ.get("XENIA_ISO_BUILD") or REPO / "build-iso").resolve()


def free_ports(n):
    socks = []
    try:
        for _ in range(n):
            s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            s.bind(("127.0.0.1", 0))
            socks.append(s)
        return [s.getsockname()[1] for s in socks]
    finally:
        for s in socks:
            s.close()


def wait_until(pred, timeout, interval=0.5, what="condition"):
    """Polls pred() until it returns a true value (returned) or timeout
    seconds pass (AssertionError)."""
    deadline = time.monotonic() + timeout
    while True:
        v = pred()
        if v:
            return v
        if time.monotonic() >= deadline:
            raise AssertionError("timed out after %.0f s waiting for %s" % (timeout, what))
        time.sleep(interval)


def why_impossible():
    """None when this machine can boot system-test hosts, else the reason."""
    if os.geteuid() != 0:
        return "needs root (loop mounts for the image)"
    for tool in (QEMU, "qemu-img", "mmdebstrap", "mke2fs", "ssh", "ssh-keygen"):
        if shutil.which(tool) is None:
            return "%s is not installed" % tool
    return None


class ImageError(Exception):
    pass


class Image:
    """A disk image of this tree's Xenia (iso/mkimage) with this run's
    root password and SSH keys, in a temporary folder."""

    def __init__(self, workdir=None):
        self.dir = Path(workdir or tempfile.mkdtemp(prefix="xenia-system-"))
        self.password = "xenia-" + secrets.token_hex(8)
        self.key = self.dir / "id_ed25519"
        self.hostkey = self.dir / "ssh_host_ed25519_key"
        self.seconds = None

    def build(self):
        t0 = time.monotonic()
        for k in (self.key, self.hostkey):
            subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "xenia-system",
                            "-f", str(k)], check=True, stdin=subprocess.DEVNULL)
        build = iso_build_dir()
        # mkimage builds xapi too; the hash needs it first.
        r = subprocess.run(["make", "-s", "-C", str(REPO), "-j2", "BUILD=%s" % build, "all"],
                           stdin=subprocess.DEVNULL, capture_output=True, text=True,
                           env=_env_without_make())
        if r.returncode != 0:
            raise ImageError("the build failed:\n" + r.stdout[-3000:] + r.stderr[-3000:])
        h = subprocess.run([str(build / "xapi"), "hash-password"], input=self.password + "\n",
                           capture_output=True, text=True, check=True)
        r = subprocess.run([str(REPO / "iso" / "mkimage"), "--out", str(self.dir / "image"),
                            "--build", str(build), "--root-password-hash", h.stdout.strip(),
                            "--authorized-key", str(self.key) + ".pub",
                            "--ssh-host-key", str(self.hostkey)],
                           stdin=subprocess.DEVNULL, capture_output=True, text=True,
                           env=_env_without_make(), timeout=3600)
        if r.returncode != 0:
            raise ImageError("iso/mkimage failed:\n" + r.stderr[-4000:])
        self.seconds = time.monotonic() - t0
        return self

    @property
    def image_dir(self):
        return self.dir / "image"

    def known_hosts_line(self, port):
        pub = (Path(str(self.hostkey) + ".pub")).read_text().split()
        return "[127.0.0.1]:%d %s %s\n" % (port, pub[0], pub[1])

    def remove(self):
        shutil.rmtree(self.dir, ignore_errors=True)


def _env_without_make():
    env = dict(os.environ)
    for k in ("MAKEFLAGS", "MFLAGS", "MAKELEVEL"):
        env.pop(k, None)
    return env


def _die_with_parent():
    """In the child before exec: its own process group, and SIGKILL when
    the harness dies, even by kill -9."""
    os.setpgid(0, 0)
    libc = ctypes.CDLL(None, use_errno=True)
    PR_SET_PDEATHSIG = 1
    libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)


class Switch:
    """An Ethernet hub for the hosts of a pool: each host's second NIC is a
    QEMU -netdev stream client on this Unix socket; every frame (4-byte
    big-endian length, then the frame) goes to every other host. Nothing
    leaves the machine."""

    def __init__(self, path):
        self.path = str(path)
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.bind(self.path)
        self.sock.listen(16)
        self.peers = []
        self.lock = threading.Lock()
        self.closed = False
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self):
        while not self.closed:
            try:
                c, _ = self.sock.accept()
            except OSError:
                return
            with self.lock:
                self.peers.append(c)
            threading.Thread(target=self._relay, args=(c,), daemon=True).start()

    @staticmethod
    def _read(c, n):
        buf = b""
        while len(buf) < n:
            part = c.recv(n - len(buf))
            if not part:
                return None
            buf += part
        return buf

    def _relay(self, c):
        try:
            while True:
                head = self._read(c, 4)
                if head is None:
                    break
                body = self._read(c, struct.unpack(">I", head)[0])
                if body is None:
                    break
                with self.lock:
                    others = [p for p in self.peers if p is not c]
                for p in others:
                    try:
                        p.sendall(head + body)
                    except OSError:
                        pass
        except OSError:
            pass
        finally:
            with self.lock:
                if c in self.peers:
                    self.peers.remove(c)
            c.close()

    def close(self):
        self.closed = True
        self.sock.close()
        with self.lock:
            for p in self.peers:
                p.close()
            self.peers = []
        try:
            os.unlink(self.path)
        except OSError:
            pass


class Host:
    """One Xenia host booted under QEMU from an Image. Start with boot(),
    wait with wait_api(); stop() kills QEMU (idempotent)."""

    def __init__(self, image, name="host1", switch=None, memory_mb=2048, cpus=2,
                 extra_disks=(), cpu="qemu64"):
        self.image = image
        # QEMU's -cpu: "qemu64" (PV guests only); "qemu64,+svm" gives Xen
        # the AMD SVM that TCG emulates, for HVM and PVH guests.
        self.cpu = cpu
        self.name = name
        self.dir = image.dir / name
        self.switch = switch
        self.memory_mb = memory_mb
        self.cpus = cpus
        # Sizes (MiB) of blank disks after the root disk: sparse raw files
        # in the host's folder, /dev/vdb, /dev/vdc... in dom0.
        self.extra_disks = list(extra_disks)
        self.proc = None
        self.boot_seconds = None
        self.http_port = self.https_port = self.ssh_port = None

    @property
    def console_log(self):
        return self.dir / "console.log"

    @property
    def url(self):
        return "http://127.0.0.1:%d/" % self.http_port

    def command_line(self):
        img = self.image.image_dir
        for p in (img / "vmlinuz", img / "initrd.img"):
            # -initrd separates modules with commas.
            assert "," not in str(p.resolve()), "a comma in %s" % p
        # restrict=on: nothing outside is reachable. (QEMU's DHCP server then
        # offers no router, so dom0 has no default route; without it, pings
        # to a guest that is gone leave through QEMU's NAT and stall its
        # network for a minute.)
        netdev = ("user,id=n0,restrict=on,hostfwd=tcp:127.0.0.1:%d-:80,"
                  "hostfwd=tcp:127.0.0.1:%d-:443,hostfwd=tcp:127.0.0.1:%d-:22"
                  % (self.http_port, self.https_port, self.ssh_port))
        cmd = [QEMU, "-name", "xenia-" + self.name, "-accel", "tcg", "-cpu", self.cpu,
               "-m", str(self.memory_mb), "-smp", str(self.cpus), "-nodefaults",
               "-display", "none", "-monitor", "none", "-no-reboot",
               "-serial", "file:%s" % self.console_log,
               "-pidfile", str(self.dir / "qemu.pid"),
               "-kernel", str((img / "xen").resolve()), "-append", XEN_CMDLINE,
               "-initrd", "%s %s,%s" % ((img / "vmlinuz").resolve(), DOM0_CMDLINE,
                                        (img / "initrd.img").resolve()),
               "-drive", "file=%s,format=qcow2,if=virtio" % (self.dir / "root.qcow2"),
               "-netdev", netdev, "-device", "virtio-net-pci,netdev=n0"]
        for i in range(len(self.extra_disks)):
            cmd += ["-drive", "file=%s,format=raw,if=virtio" % self.extra_disk(i)]
        if self.switch is not None:
            idx = int("".join(c for c in self.name if c.isdigit()) or "1")
            cmd += ["-netdev", "stream,id=p0,server=off,addr.type=unix,addr.path=%s"
                    % self.switch.path,
                    "-device", "virtio-net-pci,netdev=p0,mac=52:54:00:78:00:%02x" % (idx % 256)]
        return cmd

    def extra_disk(self, i):
        """The file of the i-th extra disk (/dev/vd<b+i> in dom0)."""
        return self.dir / ("disk%d.raw" % (i + 1))

    def boot(self):
        self.dir.mkdir(parents=True, exist_ok=True)
        for i, mb in enumerate(self.extra_disks):
            with open(self.extra_disk(i), "wb") as f:
                f.truncate(mb * 1024 * 1024)
        subprocess.run(["qemu-img", "create", "-q", "-f", "qcow2", "-F", "raw", "-b",
                        str(self.image.image_dir / "root.img"), str(self.dir / "root.qcow2")],
                       check=True)
        self.http_port, self.https_port, self.ssh_port = free_ports(3)
        (self.dir / "known_hosts").write_text(self.image.known_hosts_line(self.ssh_port))
        self.t_start = time.monotonic()
        self.proc = subprocess.Popen(self.command_line(), stdin=subprocess.DEVNULL,
                                     stdout=open(self.dir / "qemu.out", "wb"),
                                     stderr=subprocess.STDOUT, preexec_fn=_die_with_parent)
        _live.add(self)
        log("%s: QEMU %d booting (console %s)" % (self.name, self.proc.pid, self.console_log))
        return self

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def _api_answers(self):
        if not self.alive():
            raise AssertionError("QEMU of %s exited (%s); console tail:\n%s"
                                 % (self.name, self.proc.returncode, self.console_tail()))
        try:
            with urllib.request.urlopen(self.url, timeout=5) as r:
                r.read()
            return True
        except urllib.error.HTTPError:
            return True  # xapi answered, whatever it said
        except (OSError, ConnectionError):
            return False

    def wait_api(self, timeout=BOOT_TIMEOUT):
        """Waits until xapi answers on the forwarded port; returns the
        seconds since QEMU started."""
        try:
            wait_until(self._api_answers, timeout, 1.0, "xapi on %s" % self.name)
        except AssertionError as e:
            raise AssertionError("%s\nconsole tail:\n%s" % (e, self.console_tail()))
        secs = time.monotonic() - self.t_start
        if self.boot_seconds is None:
            self.boot_seconds = secs
            log("%s: API ready %.0f s after QEMU started" % (self.name, secs))
        return secs

    def console_tail(self, n=40):
        try:
            lines = self.console_log.read_text(errors="replace").splitlines()
        except OSError:
            return "(no console log)"
        return "\n".join(lines[-n:])

    def ssh_command(self, command):
        return ["ssh", "-q", "-p", str(self.ssh_port), "-i", str(self.image.key),
                "-o", "UserKnownHostsFile=%s" % (self.dir / "known_hosts"),
                "-o", "StrictHostKeyChecking=yes", "-o", "BatchMode=yes",
                "-o", "ConnectTimeout=20", "-o", "ServerAliveInterval=10",
                "-o", "LogLevel=ERROR",
                # Through the master connection when there is one (a key
                # exchange under emulation costs seconds), else directly.
                "-o", "ControlMaster=no", "-o", "ControlPath=%s" % (self.dir / "ssh.ctl"),
                "root@127.0.0.1", command]

    def run(self, command, timeout=120, check=True):
        """Runs a shell command in dom0; returns the CompletedProcess (text).
        check: raise AssertionError unless it exits 0."""
        try:
            r = subprocess.run(self.ssh_command(command), stdin=subprocess.DEVNULL,
                               capture_output=True, text=True, timeout=timeout)
        except subprocess.TimeoutExpired:
            raise AssertionError("dom0 command timed out after %d s: %s" % (timeout, command))
        if check and r.returncode != 0:
            raise AssertionError("dom0 command failed (%d): %s\nstdout: %s\nstderr: %s"
                                 % (r.returncode, command, r.stdout[-2000:], r.stderr[-2000:]))
        return r

    def wait_ssh(self, timeout=120):
        """Waits until SSH into dom0 works, then opens the master connection
        that later commands share (its output to /dev/null: a master that
        held a pipe open would keep subprocess.run waiting)."""
        def answers():
            try:
                return self.run("true", timeout=30, check=False).returncode == 0
            except AssertionError:  # timed out: not yet
                return False
        wait_until(answers, timeout, 2.0, "SSH into dom0 of %s" % self.name)
        cmd = self.ssh_command("true")[:-2]
        cmd[cmd.index("ControlMaster=no")] = "ControlMaster=yes"
        cmd += ["-o", "ControlPersist=yes", "-N", "-f", "root@127.0.0.1"]
        subprocess.run(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                       stderr=subprocess.DEVNULL, timeout=60)

    def session(self, password=None, login=True):
        return Session(self.url, password=password or self.image.password, login=login)

    def stop(self):
        if self.proc is None:
            return
        if (self.dir / "ssh.ctl").exists():
            subprocess.run(["ssh", "-q", "-o", "ControlPath=%s" % (self.dir / "ssh.ctl"),
                            "-O", "exit", "root@127.0.0.1"], stdin=subprocess.DEVNULL,
                           capture_output=True, timeout=30)
        try:
            os.killpg(self.proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        try:
            self.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            pass
        self.proc = None
        _live.discard(self)


class XenAPIError(Exception):
    def __init__(self, details):
        self.details = list(details)
        super().__init__(self.details)


class _Transport(xmlrpc.client.Transport):
    def make_connection(self, host):
        conn = super().make_connection(host)
        conn.timeout = CALL_TIMEOUT
        return conn


class Session:
    """An XML-RPC session with xmlrpc.client; s("VM.start", ref, False,
    False) calls with the session first and returns the Value or raises
    XenAPIError."""

    def __init__(self, url, user="root", password="", login=True):
        self.proxy = xmlrpc.client.ServerProxy(url, transport=_Transport(), allow_none=True)
        self.ref = None
        if login:
            self.ref = self.plain("session.login_with_password", user, password, "1.0",
                                  "xenia-system-tests")

    def plain(self, method, *args):
        res = getattr(self.proxy, method)(*args)
        if res.get("Status") == "Success":
            return res.get("Value")
        raise XenAPIError(res.get("ErrorDescription") or ["(no ErrorDescription)"])

    def __call__(self, method, *args):
        return self.plain(method, self.ref, *args)

    def logout(self):
        if self.ref:
            try:
                self.plain("session.logout", self.ref)
            except Exception:
                pass
            self.ref = None
