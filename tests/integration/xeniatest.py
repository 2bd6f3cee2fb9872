"""Helpers of the integration tests: a Xenia host run with scripts/run-host
in a temporary folder on free ports, and small clients for raw HTTP,
XML-RPC and JSON-RPC (xmlrpc.client, http.client, urllib; nothing else).

Every wait here is bounded, and a Host always tears down its processes."""

import atexit
import http.client
import json
import os
import re
import shutil
import signal
import socket
import ssl
import subprocess
import tempfile
import threading
import time
import urllib.error
import urllib.request
import contextlib
import xmlrpc.client
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
RUN_HOST = REPO / "scripts" / "run-host"
READY_LINE = "Xenia host ready."
READY_TIMEOUT = 30.0
STOP_TIMEOUT = 20.0
PASSWORD = "xenia-test-password"
AUTH_FAIL_DELAY = "0.05"

# What the sanitizers print when they find something (the log is xapi's
# stderr).
SANITIZER_MARKS = ("ERROR: AddressSanitizer", "ERROR: LeakSanitizer", "runtime error:",
                   "WARNING: ThreadSanitizer", "AddressSanitizer:DEADLYSIGNAL")


def build_dir():
    return Path(os.environ.get("XENIA_BUILD") or REPO / "build").resolve()


def xapi_binary():
    return build_dir() / "xapi"


def shared_dir():
    return Path(os.environ.get("XENIA_SHARED") or REPO.parent / "shared")


def free_ports(n):
    """n distinct free TCP ports on 127.0.0.1 (held together while chosen,
    so that they differ)."""
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


def wait_until(pred, timeout, interval=0.05, what="condition"):
    """Polls pred() until it returns a true value or the deadline passes;
    returns that value, or raises AssertionError on timeout."""
    deadline = time.monotonic() + timeout
    while True:
        v = pred()
        if v:
            return v
        if time.monotonic() >= deadline:
            raise AssertionError("timed out after %.1f s waiting for %s" % (timeout, what))
        time.sleep(interval)


def insecure_context():
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    return ctx


# ---------------------------------------------------------------------------
# Errors and sessions


class XenAPIError(Exception):
    """A Failure answer: details is the ErrorDescription (code first)."""

    def __init__(self, details):
        self.details = list(details)
        super().__init__(self.details)

    @property
    def code(self):
        return self.details[0] if self.details else None


def unwrap(result):
    """The Value of a Status/Value struct, or raises XenAPIError."""
    assert isinstance(result, dict), "not a XenAPI result struct: %r" % (result,)
    if result.get("Status") == "Success":
        return result.get("Value")
    assert result.get("Status") == "Failure", "bad Status in %r" % (result,)
    raise XenAPIError(result.get("ErrorDescription"))


class UnixHTTPConnection(http.client.HTTPConnection):
    """http.client over a Unix socket."""

    def __init__(self, path, timeout=30):
        super().__init__("localhost", timeout=timeout)
        self.unix_path = path

    def connect(self):
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.settimeout(self.timeout)
        s.connect(self.unix_path)
        self.sock = s


class UnixTransport(xmlrpc.client.Transport):
    def __init__(self, path):
        super().__init__()
        self.unix_path = path

    def make_connection(self, host):
        return UnixHTTPConnection(self.unix_path)


class TimeoutTransport(xmlrpc.client.Transport):
    """Bounds every socket operation, so that a hung server cannot hang a
    test."""

    def __init__(self, timeout):
        super().__init__()
        self.timeout = timeout

    def make_connection(self, host):
        conn = super().make_connection(host)
        conn.timeout = self.timeout
        return conn


class TimeoutSafeTransport(xmlrpc.client.SafeTransport):
    def __init__(self, timeout, context):
        super().__init__(context=context)
        self.timeout = timeout

    def make_connection(self, host):
        conn = super().make_connection(host)
        conn.timeout = self.timeout
        return conn


CALL_TIMEOUT = 90.0


class Session:
    """A logged-in XML-RPC session with xmlrpc.client. Not thread-safe:
    give each thread its own."""

    def __init__(self, url, user="root", password=PASSWORD, login=True, transport=None,
                 context=None, timeout=CALL_TIMEOUT):
        kw = {"allow_none": True}
        if transport is None:
            if url.startswith("https:"):
                transport = TimeoutSafeTransport(timeout, context)
            else:
                transport = TimeoutTransport(timeout)
        kw["transport"] = transport
        self.proxy = xmlrpc.client.ServerProxy(url, **kw)
        self.ref = None
        if login:
            self.ref = self.plain("session.login_with_password", user, password, "1.0",
                                  "xenia-tests")

    def raw(self, method, *args):
        """The decoded answer struct of a call, as sent."""
        return getattr(self.proxy, method)(*args)

    def plain(self, method, *args):
        """A call without the session: its Value, or raises XenAPIError."""
        return unwrap(self.raw(method, *args))

    def __call__(self, method, *args):
        """A call with this session first."""
        return unwrap(self.raw(method, self.ref, *args))

    def error(self, method, *args):
        """The ErrorDescription of a call that must fail."""
        try:
            v = self(method, *args)
        except XenAPIError as e:
            return e.details
        shown = repr(v)
        if len(shown) > 600:
            shown = shown[:600] + "..."
        raise AssertionError("%s succeeded with %s; a failure was expected" % (method, shown))

    def logout(self):
        if self.ref:
            try:
                self("session.logout")
            except (XenAPIError, OSError, xmlrpc.client.Error):
                pass
            self.ref = None

    def close(self):
        self.logout()
        self.proxy("close")()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def xml_body(method, *params):
    return xmlrpc.client.dumps(tuple(params), method, allow_none=True).encode()


def xml_result(body):
    """The single parameter of an XML-RPC methodResponse."""
    params, _ = xmlrpc.client.loads(body)
    assert len(params) == 1, body
    return params[0]


def agent_answer(host, name, rpc_method, **params):
    """One JSON-RPC call to an agent of the host (domaind, storaged,
    networkd: newline framing on <state>/<name>.sock): (result, error)."""
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
        s.settimeout(60)
        s.connect(str(host.state_dir / (name + ".sock")))
        s.sendall((json.dumps({"jsonrpc": "2.0", "id": 1, "method": rpc_method,
                               "params": params}) + "\n").encode())
        buf = b""
        while not buf.endswith(b"\n"):
            chunk = s.recv(65536)
            assert chunk, "%s closed the connection" % name
            buf += chunk
    answer = json.loads(buf)
    return answer.get("result"), answer.get("error")


def agent_call(host, name, rpc_method, **params):
    """As agent_answer, for a call that must succeed: its result."""
    result, error = agent_answer(host, name, rpc_method, **params)
    assert error is None, error
    return result


def vm_record(**over):
    """A full VM record for VM.create, as the generated SDKs send it."""
    rec = {
        "name_label": "test-vm",
        "name_description": "made by the integration tests",
        "user_version": "1",
        "is_a_template": False,
        "affinity": "OpaqueRef:NULL",
        "memory_static_max": "1073741824",
        "memory_dynamic_max": "1073741824",
        "memory_dynamic_min": "536870912",
        "memory_static_min": "268435456",
        "VCPUs_params": {},
        "VCPUs_max": "2",
        "VCPUs_at_startup": "1",
        "actions_after_shutdown": "destroy",
        "actions_after_reboot": "restart",
        "actions_after_crash": "restart",
        "PV_bootloader": "pygrub",
        "PV_kernel": "",
        "PV_ramdisk": "",
        "PV_args": "",
        "PV_bootloader_args": "",
        "PV_legacy_args": "",
        "HVM_boot_policy": "",
        "HVM_boot_params": {},
        "platform": {},
        "PCI_bus": "",
        "other_config": {},
        "recommendations": "",
    }
    rec.update(over)
    return rec


@contextlib.contextmanager
def scratch_sr(s, label="scratch", timeout=60):
    """A file SR of its own in a temporary folder, made through session s:
    yields (ref, folder); afterwards its VDIs (and their VBDs), PBDs and
    the SR itself are destroyed and the folder removed."""
    d = tempfile.mkdtemp(prefix="xsr-", dir="/tmp")
    host = s("host.get_all")[0]
    ref = s("SR.create", host, {"location": d}, "0", label, "", "file", "user", False, {})
    try:
        yield ref, Path(d)
    finally:
        try:
            for vdi in s("SR.get_VDIs", ref):
                if s("VDI.get_managed", vdi):
                    for vbd in s("VDI.get_VBDs", vdi):
                        s("VBD.destroy", vbd)
                    s("VDI.destroy", vdi)
            for pbd in s("SR.get_PBDs", ref):
                s("PBD.unplug", pbd)
            s("SR.destroy", ref)
        except XenAPIError:
            pass
        subprocess.run(["rm", "-rf", d], check=False, timeout=timeout)


class JsonRpcClient:
    """JSON-RPC over one keep-alive HTTP connection to a host's /jsonrpc
    (the benchmarks' client: no session handling of its own)."""

    def __init__(self, port):
        self.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=600)
        self.id = 0

    def __call__(self, method, *params):
        self.id += 1
        body = json.dumps({"jsonrpc": "2.0", "method": method, "params": list(params),
                           "id": self.id})
        self.conn.request("POST", "/jsonrpc", body, {"Content-Type": "application/json"})
        answer = json.loads(self.conn.getresponse().read())
        if "error" in answer:
            raise RuntimeError("%s: %s" % (method, answer["error"]))
        return answer["result"]


# ---------------------------------------------------------------------------
# The host

_running = set()  # hosts that may have processes, for the exit handler


@atexit.register
def _kill_leftovers():
    """Whatever ended the tests, no host outlives them."""
    for h in list(_running):
        h._kill_group(signal.SIGKILL)


class Host:
    """A Xenia host: scripts/run-host in its own process group, with its
    state in state_dir and the API on two free ports."""

    def __init__(self, state_dir=None, password=PASSWORD, ports=None, env=None):
        self.own_dir = state_dir is None
        self.state_dir = Path(state_dir or tempfile.mkdtemp(prefix="xh-", dir="/tmp"))
        self.password = password
        self.http_port, self.https_port = ports or free_ports(2)
        self.extra_env = dict(env or {})
        self.proc = None
        self.output = []
        self._ready = threading.Event()
        self._reader = None
        self.starts = 0

    # -- addresses
    @property
    def url(self):
        return "http://127.0.0.1:%d/" % self.http_port

    @property
    def https_url(self):
        return "https://127.0.0.1:%d/" % self.https_port

    @property
    def jsonrpc_url(self):
        return "http://127.0.0.1:%d/jsonrpc" % self.http_port

    @property
    def socket_path(self):
        return str(self.state_dir / "xapi.sock")

    @property
    def log_path(self):
        return self.state_dir / "xapi.log"

    @property
    def db_path(self):
        return self.state_dir / "pool.db"

    # -- life cycle
    def _env(self):
        env = dict(os.environ)
        env.update({
            "XENIA_STATE_DIR": str(self.state_dir),
            "XENIA_HTTP_PORT": str(self.http_port),
            "XENIA_HTTPS_PORT": str(self.https_port),
            "XENIA_ROOT_PASSWORD": self.password,
            "XENIA_AUTH_FAIL_DELAY": AUTH_FAIL_DELAY,
            "XENIA_BUILD": str(build_dir()),
        })
        env.setdefault("ASAN_OPTIONS", "abort_on_error=0:detect_leaks=0")
        env.setdefault("UBSAN_OPTIONS", "print_stacktrace=1:halt_on_error=1")
        env.update(self.extra_env)
        return env

    def _read_output(self, proc, ready):
        for raw in proc.stdout:
            line = raw.decode(errors="replace").rstrip("\n")
            self.output.append(line)
            if READY_LINE in line:
                ready.set()
        ready.set()  # EOF: the process is gone; start() looks at why

    def start(self, timeout=READY_TIMEOUT):
        assert self.proc is None or self.proc.poll() is not None, "host already running"
        self._ready = threading.Event()
        self.output = []
        self.proc = subprocess.Popen([str(RUN_HOST)], env=self._env(), stdin=subprocess.DEVNULL,
                                     stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                     start_new_session=True)
        self._reader = threading.Thread(target=self._read_output, args=(self.proc, self._ready),
                                        daemon=True)
        self._reader.start()
        _running.add(self)
        self.starts += 1
        if not self._ready.wait(timeout) or not any(READY_LINE in l for l in self.output):
            out = "\n".join(self.output[-20:])
            self._kill_group(signal.SIGKILL)
            raise AssertionError("host did not become ready within %.0f s:\n%s\n--- log:\n%s" %
                                 (timeout, out, self.log_tail()))
        return self

    def _kill_group(self, sig):
        # Only a group that still has processes: once run-host is reaped
        # and its group empty, the number is no longer ours.
        if self.proc is None or (self.proc.poll() is not None and not self.group_pids()):
            return
        try:
            os.killpg(self.proc.pid, sig)
        except ProcessLookupError:
            pass
        if sig == signal.SIGKILL:
            try:
                self.proc.wait(STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                pass
            self._wait_group_gone(STOP_TIMEOUT)

    def group_pids(self):
        """Every live process of the host's process group."""
        if self.proc is None:
            return []
        pgid = self.proc.pid
        pids = []
        for d in os.listdir("/proc"):
            if not d.isdigit():
                continue
            try:
                with open("/proc/%s/stat" % d) as f:
                    st = f.read()
            except OSError:
                continue
            fields = st[st.rindex(")") + 2:].split()
            # fields[0] is the state, fields[2] the process group
            if int(fields[2]) == pgid and fields[0] != "Z":
                pids.append(int(d))
        return pids

    def _wait_group_gone(self, timeout):
        deadline = time.monotonic() + timeout
        while self.group_pids() and time.monotonic() < deadline:
            time.sleep(0.05)
        return not self.group_pids()

    @property
    def xapi_pid(self):
        for pid in self.group_pids():
            try:
                with open("/proc/%d/comm" % pid) as f:
                    if f.read().strip() == "xapi":
                        return pid
            except OSError:
                pass
        return None

    def alive(self):
        return self.proc is not None and self.proc.poll() is None and self.xapi_pid is not None

    def kill9(self):
        """SIGKILL to every process of the host: a crash."""
        self._kill_group(signal.SIGKILL)

    def stop(self, timeout=STOP_TIMEOUT):
        """SIGTERM (run-host forwards it to xapi) and wait; returns the exit
        status of run-host, or raises AssertionError if it hangs (after
        killing it)."""
        if self.proc is None or self.proc.poll() is not None:
            return self.proc.returncode if self.proc else None
        self.proc.send_signal(signal.SIGTERM)
        try:
            rc = self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self._kill_group(signal.SIGKILL)
            raise AssertionError("host did not stop within %.0f s of SIGTERM" % timeout)
        if not self._wait_group_gone(timeout):
            self._kill_group(signal.SIGKILL)
            raise AssertionError("xapi outlived run-host after SIGTERM")
        return rc

    def restart(self):
        """Stops (if running) and starts again on the same state and ports."""
        if self.alive():
            self.stop()
        self._kill_group(signal.SIGKILL)  # leftovers of a kill9, if any
        return self.start()

    def close(self):
        """Always safe: stops the host, killing it if it must."""
        try:
            if self.proc is not None and self.proc.poll() is None:
                self.stop()
        finally:
            self._kill_group(signal.SIGKILL)
            _running.discard(self)

    def remove_state(self):
        if self.own_dir and not os.environ.get("XENIA_KEEP_STATE"):
            shutil.rmtree(self.state_dir, ignore_errors=True)

    def log_text(self):
        try:
            return self.log_path.read_text(errors="replace")
        except OSError:
            return ""

    def log_tail(self, n=30):
        return "\n".join(self.log_text().splitlines()[-n:])

    def sanitizer_reports(self):
        text = self.log_text()
        return [l for l in text.splitlines() if any(m in l for m in SANITIZER_MARKS)]

    # -- clients
    def session(self, user="root", password=None, https=False):
        if https:
            return Session(self.https_url, user, password or self.password,
                           context=insecure_context())
        return Session(self.url, user, password or self.password)

    def unix_session(self, user="root", password=""):
        return Session("http://localhost/", user, password,
                       transport=UnixTransport(self.socket_path))

    def post(self, path, body, headers=None, timeout=30):
        """One POST on a new connection: (status, headers, body). Never
        raises on an HTTP error status."""
        conn = http.client.HTTPConnection("127.0.0.1", self.http_port, timeout=timeout)
        try:
            h = {"Content-Type": "text/xml"}
            h.update(headers or {})
            conn.request("POST", path, body=body, headers=h)
            r = conn.getresponse()
            return r.status, r.headers, r.read()
        finally:
            conn.close()

    def xmlrpc_raw(self, body, path="/", timeout=30):
        """POST an XML-RPC body with urllib; (status, body bytes)."""
        if isinstance(body, str):
            body = body.encode()
        req = urllib.request.Request("http://127.0.0.1:%d%s" % (self.http_port, path),
                                     data=body, headers={"Content-Type": "text/xml"},
                                     method="POST")
        try:
            with urllib.request.urlopen(req, timeout=timeout) as r:
                return r.status, r.read()
        except urllib.error.HTTPError as e:
            return e.code, e.read()

    def xml(self, method, *params, path="/"):
        """An XML-RPC call by hand: the raw response body (asserts 200)."""
        status, body = self.xmlrpc_raw(xml_body(method, *params), path)
        assert status == 200, (status, body)
        return body

    def jsonrpc(self, method, params=None, id=1, version="2.0", extra=None):
        """A JSON-RPC call: (status, decoded body or raw bytes if not JSON)."""
        req = {"method": method, "id": id}
        if version is not None:
            req["jsonrpc"] = version
        if params is not None:
            req["params"] = params
        req.update(extra or {})
        return self.jsonrpc_raw(json.dumps(req).encode())

    def jsonrpc_raw(self, body):
        status, _, data = self.post("/jsonrpc", body, {"Content-Type": "application/json"})
        try:
            return status, json.loads(data)
        except ValueError:
            return status, data

    def json_value(self, method, *params):
        """The result of a JSON-RPC 2.0 call, or raises XenAPIError."""
        status, r = self.jsonrpc(method, list(params))
        assert status == 200, (status, r)
        if "error" in r:
            err = r["error"]
            raise XenAPIError([err["message"]] + list(err.get("data") or []))
        return r["result"]

    def __repr__(self):
        return "<Host %s http %d https %d>" % (self.state_dir, self.http_port, self.https_port)


def dump_model():
    # Leak checking is not what the model is read for (the runner turns it
    # off for the integration tests too).
    env = dict(os.environ)
    env["ASAN_OPTIONS"] = (env.get("ASAN_OPTIONS", "") + ":detect_leaks=0").lstrip(":")
    out = subprocess.run([str(xapi_binary()), "dump-model"], capture_output=True, timeout=60,
                         env=env)
    assert out.returncode == 0, "xapi dump-model failed (%d):\n%s" % (
        out.returncode, out.stderr.decode(errors="replace")[-3000:])
    return json.loads(out.stdout)


_model = None


def model():
    global _model
    if _model is None:
        _model = dump_model()
    return _model


def classes_with(method):
    """The classes whose method list (from dump-model) has this message."""
    return sorted(c["name"] for c in model()["classes"]
                  if any(m["name"] == method for m in c["methods"]))


TOKEN_RE = re.compile(r"^\d{20},\d{20}$")
