"""domaind with the sim backend, driven over its Unix socket the way xapi
drives it (hypervisor/README.md): each test starts build/domaind (or
$XENIA_BUILD/domaind) in a temporary folder with a small simulated host,
talks JSON-RPC to it with a tiny newline-framed client, and checks the
domain lifecycle, the errors, sim/fail and sim/inject, events/watch
(blocking until a change, and a SIGTERM ending it), a kill -9 and restart
that keeps the running domains, the state directory (a file per domain, a
garbage one refusing the start), and hostile clients. Every process is
stopped at the end of its test, and the sanitizers' reports fail it."""

import atexit
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

GIB = 1 << 30
MIB = 1 << 20
HOST_MEMORY = 8 * GIB
HOST_CPUS = 4
DOM0_RESERVE = HOST_MEMORY // 10  # a tenth, when less than 1 GiB
STEP_MS = 5
START_TIMEOUT = 15.0
STOP_TIMEOUT = 10.0


def domaind_binary():
    return build_dir() / "domaind"


class RpcError(Exception):
    def __init__(self, error):
        super().__init__(json.dumps(error))
        self.code = error.get("code")
        self.message = error.get("message")
        self.data = error.get("data") or {}

    @property
    def app(self):
        """The application error code (NO_SUCH_DOMAIN...), or None."""
        return self.data.get("error")

    @property
    def params(self):
        return self.data.get("params")


class Client:
    """A JSON-RPC 2.0 client: one JSON object per line each way."""

    def __init__(self, path, timeout=30.0):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(timeout)
        self.sock.connect(str(path))
        self.reader = self.sock.makefile("rb")
        self.next_id = 0

    def send_raw(self, data):
        self.sock.sendall(data)

    def read_answer(self):
        line = self.reader.readline()
        if not line:
            raise ConnectionError("domaind closed the connection")
        return json.loads(line)

    def call(self, method, /, **params):
        self.next_id += 1
        req = {"jsonrpc": "2.0", "id": self.next_id, "method": method, "params": params}
        self.send_raw(json.dumps(req).encode() + b"\n")
        ans = self.read_answer()
        assert ans.get("id") == self.next_id, ans
        if "error" in ans:
            raise RpcError(ans["error"])
        return ans["result"]

    def error(self, method, /, **params):
        """Calls a method that must fail; returns the RpcError."""
        try:
            r = self.call(method, **params)
        except RpcError as e:
            return e
        raise AssertionError("%s answered %r instead of failing" % (method, r))

    def close(self):
        try:
            self.reader.close()
        finally:
            self.sock.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


_running = set()


@atexit.register
def _kill_leftovers():
    for d in list(_running):
        d.kill9()


class Domaind:
    """One domaind process on the sim backend, with its state, socket and
    log in a temporary folder (short, for the socket's path)."""

    def __init__(self, step_ms=STEP_MS):
        self.dir = Path(tempfile.mkdtemp(prefix="xd-", dir="/tmp"))
        self.socket_path = self.dir / "domaind.sock"
        self.log_path = self.dir / "domaind.log"
        self.step_ms = step_ms
        self.proc = None

    def args(self):
        return [str(domaind_binary()), "--backend", "sim", "--socket", str(self.socket_path),
                "--state-dir", str(self.dir), "--sim-memory", str(HOST_MEMORY),
                "--sim-cpus", str(HOST_CPUS), "--sim-step-ms", str(self.step_ms),
                "--log-level", "debug"]

    def start(self):
        with open(self.log_path, "ab") as log:
            self.proc = subprocess.Popen(self.args(), stdin=subprocess.DEVNULL,
                                         stdout=subprocess.DEVNULL, stderr=log)
        _running.add(self)

        def ready():
            if self.proc.poll() is not None:
                raise AssertionError("domaind exited %d:\n%s" % (self.proc.returncode,
                                                                 self.log_tail()))
            try:
                with self.client(timeout=2) as c:
                    return c.call("version")
            except OSError:
                return None

        wait_until(ready, START_TIMEOUT, what="domaind to answer")
        return self

    def client(self, timeout=30.0):
        return Client(self.socket_path, timeout)

    def call(self, method, /, **params):
        with self.client() as c:
            return c.call(method, **params)

    def error(self, method, /, **params):
        with self.client() as c:
            return c.error(method, **params)

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def stop(self, timeout=STOP_TIMEOUT):
        """SIGTERM and wait: the exit status, or AssertionError (after a
        kill -9) if it hangs."""
        if not self.alive():
            return self.proc.returncode if self.proc else None
        self.proc.send_signal(signal.SIGTERM)
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.kill9()
            raise AssertionError("domaind did not stop within %.0f s of SIGTERM" % timeout)

    def kill9(self):
        if self.alive():
            self.proc.kill()
        if self.proc is not None:
            self.proc.wait(STOP_TIMEOUT)
        _running.discard(self)

    def restart(self):
        self.kill9()
        return self.start()

    def log_text(self):
        try:
            return self.log_path.read_text(errors="replace")
        except OSError:
            return ""

    def log_tail(self, n=40):
        return "\n".join(self.log_text().splitlines()[-n:])

    def sanitizer_reports(self):
        return [l for l in self.log_text().splitlines() if any(m in l for m in SANITIZER_MARKS)]

    def remove(self):
        shutil.rmtree(self.dir, ignore_errors=True)


@pytest.fixture(scope="module", autouse=True)
def _domaind_built():
    if not domaind_binary().exists():
        pytest.fail("no domaind at %s: run make (or set XENIA_BUILD)" % domaind_binary())


@pytest.fixture
def make_domaind(request):
    """Starts as many domainds as a test needs; stops them all (SIGTERM,
    which must succeed with status 0 for those still running), and fails
    the test on a sanitizer report."""
    made = []

    def make(**kw):
        d = Domaind(**kw)
        made.append(d)
        return d.start()

    yield make
    problems = []
    for d in made:
        try:
            if d.alive():
                rc = d.stop()
                if rc != 0:
                    problems.append("domaind exited %r after SIGTERM" % rc)
        except AssertionError as e:
            problems.append(str(e))
        finally:
            d.kill9()
        reports = d.sanitizer_reports()
        if reports:
            problems.append("sanitizer reports in %s:\n%s" % (d.log_path, "\n".join(reports[:20])))
        failed = getattr(request.node, "rep_call", None)
        if problems or (failed is not None and failed.failed):
            print("--- domaind.log (tail) ---\n%s" % d.log_tail())
        else:
            d.remove()
    assert not problems, "\n".join(problems)


@pytest.fixture
def dd(make_domaind):
    return make_domaind()


def new_uuid():
    return str(uuidlib.uuid4())


def create(dd, uuid=None, target=256 * MIB, **over):
    params = dict(uuid=uuid or new_uuid(), name="vm", type="pv", memory_max=2 * target,
                  memory_target=target, vcpus_max=1, vcpus=1)
    params.update(over)
    return dd.call("domain/create", **params)


def by_uuid(domains):
    return {d["uuid"]: d for d in domains}


# ---- the built-ins and the host


def test_version_and_counters(dd):
    assert isinstance(dd.call("version")["version"], str)
    with dd.client() as c:
        c.call("host/info")
        c.call("host/info")
        c.error("domain/get", uuid=new_uuid())
        counters = c.call("counters/show")
    assert counters["host/info"]["calls"] >= 2
    assert counters["domain/get"]["errors"] >= 1


def test_log_set_changes_a_module_level(dd):
    dd.call("log/set", module="sim", level="warn")
    dd.call("log/set", module="*", level="debug")


def test_host_info_reports_the_simulated_host(dd):
    info = dd.call("host/info")
    assert info["backend"] == "sim"
    assert info["total_memory"] == HOST_MEMORY
    assert info["free_memory"] == HOST_MEMORY - DOM0_RESERVE
    assert info["nr_cpus"] == HOST_CPUS
    assert info["xen_version"]


# ---- the lifecycle


def test_create_gives_running_domain_with_domid(dd):
    u = new_uuid()
    d = create(dd, u, platform={"acpi": "1"}, disks=[{"vdev": "xvda"}], kernel="/boot/k")
    assert d["uuid"] == u
    assert d["state"] == "running"
    assert d["domid"] >= 1
    assert d["shutdown_reason"] is None
    assert d["memory_actual"] == d["memory_target"] == 256 * MIB
    assert set(d) == {"uuid", "domid", "name", "type", "state", "shutdown_reason",
                      "memory_max", "memory_target", "memory_actual", "vcpus_max", "vcpus",
                      "start_time"}
    assert dd.call("domain/get", uuid=u) == d
    assert dd.call("host/info")["free_memory"] == HOST_MEMORY - DOM0_RESERVE - 256 * MIB


def test_create_start_paused_and_list(dd):
    a, b = new_uuid(), new_uuid()
    da = create(dd, a)
    db = create(dd, b, start_paused=True)
    assert db["state"] == "paused"
    listed = dd.call("domain/list")
    assert [d["uuid"] for d in listed] == [a, b]
    assert db["domid"] > da["domid"]


def test_create_of_existing_uuid_fails(dd):
    u = new_uuid()
    create(dd, u)
    e = dd.error("domain/create", uuid=u, name="x", type="pv", memory_max=MIB,
                 memory_target=MIB, vcpus_max=1, vcpus=1)
    assert (e.app, e.params) == ("DOMAIN_EXISTS", [u])


def test_pause_and_unpause(dd):
    u = new_uuid()
    create(dd, u)
    assert dd.call("domain/pause", uuid=u)["state"] == "paused"
    e = dd.error("domain/pause", uuid=u)
    assert (e.app, e.params) == ("BAD_STATE", [u, "running", "paused"])
    assert dd.call("domain/unpause", uuid=u)["state"] == "running"


def test_clean_shutdown_destroys_domain(dd):
    u = new_uuid()
    domid = create(dd, u)["domid"]
    d = dd.call("domain/shutdown", uuid=u, clean=True)
    assert (d["state"], d["shutdown_reason"], d["domid"]) == ("destroyed", "poweroff", domid)
    assert dd.error("domain/get", uuid=u).app == "NO_SUCH_DOMAIN"
    assert dd.call("domain/list") == []


def test_hard_shutdown_destroys_paused_domain(dd):
    u = new_uuid()
    create(dd, u, start_paused=True)
    assert dd.error("domain/shutdown", uuid=u, clean=True).app == "BAD_STATE"
    assert dd.call("domain/shutdown", uuid=u, clean=False)["state"] == "destroyed"
    assert dd.call("domain/list") == []


def test_clean_shutdown_of_guest_ignoring_it_times_out(dd):
    u = new_uuid()
    create(dd, u)
    dd.call("sim/inject", uuid=u, event="ignore", ignore_shutdown=True)
    t0 = time.monotonic()
    e = dd.error("domain/shutdown", uuid=u, clean=True, timeout=0.3)
    assert (e.app, e.params) == ("SHUTDOWN_TIMEOUT", [u])
    assert 0.3 <= time.monotonic() - t0 < 10
    assert dd.call("domain/get", uuid=u)["state"] == "running"


def test_reboot_gives_new_domid(dd):
    u = new_uuid()
    domid = create(dd, u)["domid"]
    d = dd.call("domain/reboot", uuid=u, clean=True)
    assert d["state"] == "running"
    assert d["domid"] > domid
    d2 = dd.call("domain/reboot", uuid=u, clean=False)
    assert d2["domid"] > d["domid"]
    assert len(dd.call("domain/list")) == 1


def test_suspend_and_resume(dd):
    u = new_uuid()
    image = dd.dir / "suspend.img"
    domid = create(dd, u, target=512 * MIB, vcpus_max=2, name="saved")["domid"]
    dd.call("domain/set_memory_target", uuid=u, target=300 * MIB)
    assert dd.call("domain/suspend", uuid=u, path=str(image)) == {}
    assert image.exists()
    assert dd.call("domain/list") == []
    d = dd.call("domain/resume", uuid=u, path=str(image))
    assert d["state"] == "running"
    assert d["domid"] != domid
    assert (d["name"], d["memory_target"], d["vcpus_max"]) == ("saved", 300 * MIB, 2)
    e = dd.error("domain/resume", uuid=new_uuid(), path=str(dd.dir / "missing.img"))
    assert e.app == "BACKEND_FAILURE"


def test_set_vcpus(dd):
    u = new_uuid()
    create(dd, u, vcpus_max=2)
    assert dd.call("domain/set_vcpus", uuid=u, vcpus=2)["vcpus"] == 2
    e = dd.error("domain/set_vcpus", uuid=u, vcpus=3)
    assert (e.app, e.params) == ("TOO_MANY_VCPUS", ["3", "2"])


def test_destroy(dd):
    u = new_uuid()
    create(dd, u)
    assert dd.call("domain/destroy", uuid=u) == {}
    assert dd.error("domain/destroy", uuid=u).app == "NO_SUCH_DOMAIN"


# ---- limits and errors


def test_not_enough_memory(dd):
    create(dd, target=4 * GIB)
    free = HOST_MEMORY - DOM0_RESERVE - 4 * GIB
    e = dd.error("domain/create", uuid=new_uuid(), name="big", type="hvm",
                 memory_max=4 * GIB, memory_target=4 * GIB, vcpus_max=1, vcpus=1)
    assert e.code == -32000
    assert (e.app, e.params) == ("NOT_ENOUGH_MEMORY", [str(4 * GIB), str(free)])
    assert len(dd.call("domain/list")) == 1


def test_too_many_vcpus(dd):
    e = dd.error("domain/create", uuid=new_uuid(), name="wide", type="pvh", memory_max=MIB,
                 memory_target=MIB, vcpus_max=HOST_CPUS + 1, vcpus=1)
    assert (e.app, e.params) == ("TOO_MANY_VCPUS", [str(HOST_CPUS + 1), str(HOST_CPUS)])


def test_bad_params_are_refused(dd):
    with dd.client() as c:
        assert c.error("domain/get", uuid="not-a-uuid").code == -32602
        assert c.error("domain/get").code == -32602
        assert c.error("domain/create", uuid=new_uuid(), name="x", type="pv",
                       memory_max=MIB, memory_target=2 * MIB, vcpus_max=1,
                       vcpus=1).code == -32602
        assert c.error("domain/shutdown", uuid=new_uuid(), clean=True, timeout=-1).code == -32602
        assert c.error("sim/inject", uuid=new_uuid(), event="explode").code in (-32602, -32000)
        assert c.error("no/such/method").code == -32601
        assert c.call("domain/list") == []


# ---- the simulator's controls


def test_sim_fail_leaves_true_state(dd):
    u = new_uuid()
    dd.call("sim/fail", method="domain/create")
    e = dd.error("domain/create", uuid=u, name="x", type="pv", memory_max=MIB,
                 memory_target=MIB, vcpus_max=1, vcpus=1)
    assert (e.app, e.params) == ("SIM_INJECTED_FAILURE", ["domain/create"])
    assert dd.call("domain/list") == []
    assert dd.call("host/info")["free_memory"] == HOST_MEMORY - DOM0_RESERVE

    create(dd, u)
    dd.call("sim/fail", method="domain/shutdown", count=2)
    for clean in (True, False):
        assert dd.error("domain/shutdown", uuid=u, clean=clean).app == "SIM_INJECTED_FAILURE"
        assert dd.call("domain/get", uuid=u)["state"] == "running"
    assert dd.call("domain/shutdown", uuid=u, clean=True)["state"] == "destroyed"


def test_sim_inject_poweroff_is_reported_by_watch(dd):
    u = new_uuid()
    domid = create(dd, u)["domid"]
    g = dd.call("events/watch", since=0, timeout=1)["generation"]
    dd.call("sim/inject", uuid=u, event="poweroff")
    w = dd.call("events/watch", since=g, timeout=5)
    assert w["generation"] > g
    assert not w["full"]
    ev = by_uuid(w["events"])[u]
    assert (ev["state"], ev["shutdown_reason"], ev["domid"]) == ("shutdown", "poweroff", domid)
    # The domain stays until the toolstack destroys it.
    assert dd.call("domain/get", uuid=u)["state"] == "shutdown"
    dd.call("domain/destroy", uuid=u)
    w2 = dd.call("events/watch", since=w["generation"], timeout=5)
    assert by_uuid(w2["events"])[u]["state"] == "destroyed"


# ---- events/watch


def test_watch_since_0_answers_at_once_with_every_domain(dd):
    a, b = new_uuid(), new_uuid()
    create(dd, a)
    create(dd, b)
    t0 = time.monotonic()
    w = dd.call("events/watch", since=0, timeout=20)
    assert time.monotonic() - t0 < 5
    assert w["full"]
    assert set(by_uuid(w["events"])) == {a, b}


def test_watch_blocks_until_a_change(dd):
    u = new_uuid()
    create(dd, u)
    g = dd.call("events/watch", since=0)["generation"]
    answer = {}

    def watch():
        with dd.client() as c:
            t0 = time.monotonic()
            answer["w"] = c.call("events/watch", since=g, timeout=20)
            answer["took"] = time.monotonic() - t0

    t = threading.Thread(target=watch)
    t.start()
    time.sleep(0.3)
    assert t.is_alive(), "the watch returned with nothing to report"
    dd.call("domain/pause", uuid=u)
    t.join(15)
    assert not t.is_alive()
    assert 0.3 <= answer["took"] < 15
    assert [e["state"] for e in answer["w"]["events"]] == ["paused"]


def test_watch_with_nothing_new_returns_empty_after_timeout(dd):
    w = dd.call("events/watch", since=0)
    assert (w["full"], w["events"]) == (True, [])
    g = w["generation"]
    assert g > 0  # 0 would mean "everything" again
    t0 = time.monotonic()
    w = dd.call("events/watch", since=g, timeout=0.3)
    assert 0.3 <= time.monotonic() - t0 < 10
    assert w == {"generation": g, "full": False, "events": []}


# ---- crashes, restarts and hostile clients


def test_kill9_and_restart_keep_running_domains(dd):
    a, b, c = new_uuid(), new_uuid(), new_uuid()
    create(dd, a)
    create(dd, b, start_paused=True)
    create(dd, c)
    dd.call("sim/inject", uuid=c, event="crash")
    before = by_uuid(dd.call("domain/list"))
    g = dd.call("events/watch", since=0)["generation"]

    dd.restart()  # kill -9, then start again on the same state
    after = by_uuid(dd.call("domain/list"))
    assert after == before
    assert (after[a]["state"], after[b]["state"], after[c]["state"]) == (
        "running", "paused", "shutdown")
    # Generations go on, the restart taking one of its own: a watcher from
    # before it is told everything there is (what was destroyed before it
    # is forgotten), then nothing new since the generation that gave.
    w = dd.call("events/watch", since=g, timeout=0.2)
    assert (w["generation"], w["full"]) == (g + 1, True)
    assert by_uuid(w["events"]) == before
    w = dd.call("events/watch", since=g + 1, timeout=0.2)
    assert (w["generation"], w["full"], w["events"]) == (g + 1, False, [])
    d = create(dd)
    assert d["domid"] > max(x["domid"] for x in before.values())
    assert dd.call("host/info")["free_memory"] == HOST_MEMORY - DOM0_RESERVE - 4 * 256 * MIB


def test_state_is_a_file_per_domain_and_a_meta_file(dd):
    state = dd.dir / "sim-hypervisor"
    a, b = new_uuid(), new_uuid()
    create(dd, a)
    create(dd, b)
    assert sorted(p.name for p in (state / "domains").iterdir()) == sorted(
        [a + ".json", b + ".json"])
    rec = json.loads((state / "domains" / (a + ".json")).read_text())
    assert (rec["uuid"], rec["state"], rec["domid"]) == (a, "running", 1)
    dd.call("domain/destroy", uuid=a)
    assert [p.name for p in (state / "domains").iterdir()] == [b + ".json"]
    meta = json.loads((state / "meta.json").read_text())
    assert meta["format"] == "xenia-sim-hypervisor" and meta["next_domid"] == 3
    assert meta["generation"] == dd.call("events/watch", since=0)["generation"]


def test_garbage_domain_file_refuses_the_start(dd):
    u = new_uuid()
    create(dd, u)
    assert dd.stop() == 0
    path = dd.dir / "sim-hypervisor" / "domains" / (u + ".json")
    path.write_text('{"uuid": "' + u + '", "domid": ')
    r = subprocess.run(dd.args(), stdin=subprocess.DEVNULL, capture_output=True,
                       timeout=STOP_TIMEOUT)
    assert r.returncode == 1
    assert ("%s is not a valid domain file" % path).encode() in r.stderr


def test_garbage_on_the_socket_leaves_it_serving(dd):
    for junk in (b"this is not json\n", b'{"jsonrpc": "2.0", "id": 1, "method": 5}\n',
                 b'{"jsonrpc": "2.0", "id": 1, "method": "domain/get", "params": [1]}\n'):
        with dd.client(timeout=10) as c:
            c.send_raw(junk)
            assert "error" in c.read_answer()  # then domaind may hang up
    with dd.client(timeout=10) as c:
        c.send_raw(bytes(range(256)) * 16 + b"\n")
        try:
            c.read_answer()
        except (ConnectionError, OSError, ValueError):
            pass
    with dd.client(timeout=10) as c:
        c.send_raw(b'{"jsonrpc": "2.0", "id": 1, "method": "domain/li')  # and hang up
    assert dd.call("domain/list") == []
    assert dd.alive()


def test_client_vanishing_mid_call_leaves_it_serving(make_domaind):
    dd = make_domaind(step_ms=200)  # a create takes 0.4 s
    u = new_uuid()
    g = dd.call("events/watch", since=0)["generation"]
    c = dd.client()
    c.send_raw(json.dumps({"jsonrpc": "2.0", "id": 1, "method": "domain/create",
                           "params": dict(uuid=u, name="x", type="pv", memory_max=MIB,
                                          memory_target=MIB, vcpus_max=1,
                                          vcpus=1)}).encode() + b"\n")
    w = dd.client()
    w.send_raw(json.dumps({"jsonrpc": "2.0", "id": 2, "method": "events/watch",
                           "params": {"since": g, "timeout": 30}}).encode() + b"\n")
    time.sleep(0.1)
    c.close()
    w.close()
    # The create goes on without its client, and the server keeps serving.
    d = wait_until(lambda: by_uuid(dd.call("domain/list")).get(u), 10, what="the domain")
    wait_until(lambda: dd.call("domain/get", uuid=u)["state"] == "running", 10,
               what="the domain to run")
    assert d["domid"] >= 1
    assert dd.call("host/info")["backend"] == "sim"


def test_sigterm_while_a_watch_is_blocked_stops_promptly(dd):
    g = dd.call("events/watch", since=0)["generation"]
    c = dd.client(timeout=30)
    c.send_raw(json.dumps({"jsonrpc": "2.0", "id": 1, "method": "events/watch",
                           "params": {"since": g, "timeout": 60}}).encode() + b"\n")
    time.sleep(0.3)
    t0 = time.monotonic()
    assert dd.stop(timeout=10) == 0
    assert time.monotonic() - t0 < 5
    try:
        c.read_answer()  # an answer or the connection's end, not a hang
    except (ConnectionError, OSError):
        pass
    c.close()


def test_second_domaind_on_the_same_state_is_refused(dd):
    other = subprocess.run(
        [str(domaind_binary()), "--backend", "sim", "--socket", str(dd.dir / "other.sock"),
         "--state-dir", str(dd.dir), "--sim-memory", str(HOST_MEMORY)],
        stdin=subprocess.DEVNULL, capture_output=True, timeout=STOP_TIMEOUT)
    assert other.returncode == 1
    assert b"another domaind" in other.stderr
    assert dd.call("domain/list") == []


def test_xen_backend_without_xen_fails_cleanly(tmp_path):
    """Here there is no Xen: the xen backend says so and exits, it does not
    crash or serve a socket."""
    r = subprocess.run([str(domaind_binary()), "--backend", "xen", "--socket",
                        str(tmp_path / "s"), "--state-dir", str(tmp_path)],
                       stdin=subprocess.DEVNULL, capture_output=True, timeout=STOP_TIMEOUT)
    assert r.returncode == 1
    assert b"the xen backend cannot start" in r.stderr
    assert not (tmp_path / "s").exists()
