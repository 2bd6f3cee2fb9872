"""The host messages an XCP-ng administrator and Xen Orchestra use, with
XCP's semantics: host.disable / enable (a disabled host takes no VM; it
is enabled again when xapi restarts unless disabled with auto_enable
false), the evacuation family (one host: every running VM answers
NO_HOSTS_AVAILABLE), host.destroy of a live host, reboot and shutdown
(disabled first, no guest running; the development host's power command
restarts or stops its own processes), restart_agent and shutdown_agent,
the server certificate, the hypervisor's console (dmesg, debug keys),
data sources, set_hostname_live (through a command of the test's, never
this machine's host name) and the memory messages; and their xe
commands."""
import os
import re
import socket
import ssl
import subprocess

import pytest

from xeniatest import READY_LINE, RUN_HOST, XenAPIError, build_dir, vm_record, wait_until

WAIT = 120  # seconds: a restart of a sanitized host on a loaded machine


@pytest.fixture
def s(host):
    with host.session() as session:
        yield session


def this_host(s):
    return s("host.get_all")[0]


def start_vm(s, name):
    ref = s("VM.create", vm_record(name_label=name))
    s("VM.start", ref, False, False)
    return ref


def drop_vm(s, ref):
    try:
        if s("VM.get_power_state", ref) != "Halted":
            s("VM.hard_shutdown", ref)
        s("VM.destroy", ref)
    except XenAPIError:
        pass


def xe(host, *args):
    env = dict(os.environ, XE_SOCKET=host.socket_path, HOME="/nonexistent")
    env.pop("XE_EXTRA_ARGS", None)
    r = subprocess.run([str(build_dir() / "xe"), *args], env=env, capture_output=True, text=True,
                       timeout=60)
    return r.returncode, r.stdout, r.stderr


def ok(host, *args):
    code, out, err = xe(host, *args)
    assert code == 0, (args, out, err)
    return out


# ---- disable, enable ----

def test_disable_refuses_vms_and_enable_takes_them_again(s):
    h = this_host(s)
    vm = s("VM.create", vm_record(name_label="disabled host"))
    try:
        assert s("host.get_enabled", h) is True
        allowed = set(s("host.get_allowed_operations", h))
        assert "reboot" not in allowed and "shutdown" not in allowed
        assert {"evacuate", "vm_start", "enable"} <= allowed
        s("host.disable", h)
        s("host.disable", h)  # already disabled: nothing to do, as XCP
        assert s("host.get_enabled", h) is False
        assert {"reboot", "shutdown"} <= set(s("host.get_allowed_operations", h))
        assert s.error("VM.start", vm, False, False) == ["NO_HOSTS_AVAILABLE"]
        assert s.error("VM.start_on", vm, h, False, False) == ["HOST_DISABLED", h]
        assert s.error("VM.assert_can_boot_here", vm, h) == ["HOST_DISABLED", h]
        assert s("VM.get_possible_hosts", vm) == []
        assert s("VM.get_power_state", vm) == "Halted"
        s("host.enable", h)
        assert s("host.get_enabled", h) is True
        assert s("host.get_current_operations", h) == {}
        s("VM.start", vm, False, False)
        assert s("VM.get_power_state", vm) == "Running"
    finally:
        s("host.enable", h)
        drop_vm(s, vm)


def test_reboot_and_shutdown_need_a_disabled_host(s):
    h = this_host(s)
    assert s.error("host.reboot", h) == ["HOST_NOT_DISABLED"]
    assert s.error("host.shutdown", h) == ["HOST_NOT_DISABLED"]
    assert s("host.get_current_operations", h) == {}


def test_reboot_of_a_host_running_guests_is_refused(s):
    h = this_host(s)
    vm = start_vm(s, "guest")
    try:
        s("host.disable", h)
        assert s.error("host.reboot", h) == ["HOST_IN_USE", h, "vm", vm]
        assert s.error("host.shutdown", h) == ["HOST_IN_USE", h, "vm", vm]
        assert s("host.get_current_operations", h) == {}
    finally:
        s("host.enable", h)
        drop_vm(s, vm)


def test_a_restart_of_xapi_enables_the_host_unless_auto_enable_was_false(fresh_host):
    with fresh_host.session() as s:
        h = this_host(s)
        s("host.disable", h)
    fresh_host.restart()
    with fresh_host.session() as s:
        assert s("host.get_enabled", h) is True
        s("host.disable", h, False)
    fresh_host.restart()
    with fresh_host.session() as s:
        assert s("host.get_enabled", h) is False
        assert "reboot" in s("host.get_allowed_operations", h)
        s("host.enable", h)
    fresh_host.restart()
    with fresh_host.session() as s:
        assert s("host.get_enabled", h) is True


# ---- evacuation ----

def test_evacuation_of_the_only_host(s):
    h = this_host(s)
    assert s("host.get_vms_which_prevent_evacuation", h) == {}
    s("host.assert_can_evacuate", h)
    s("host.evacuate", h)  # nothing runs: nothing to move
    vm = start_vm(s, "stays")
    try:
        assert s("host.get_vms_which_prevent_evacuation", h) == \
            {vm: ["NO_HOSTS_AVAILABLE", vm]}
        assert s.error("host.assert_can_evacuate", h) == \
            ["CANNOT_EVACUATE_HOST", "NO_HOSTS_AVAILABLE," + vm]
        assert s.error("host.evacuate", h) == ["NO_HOSTS_AVAILABLE", vm]
        assert s("VM.get_power_state", vm) == "Running"
        assert s("host.get_current_operations", h) == {}
        assert s("host.get_uncooperative_resident_VMs", h) == []
        assert s.error("host.evacuate", h, "OpaqueRef:nonet", 0)[0] == "HANDLE_INVALID"
    finally:
        drop_vm(s, vm)


def test_the_live_host_cannot_be_destroyed(s):
    h = this_host(s)
    assert s.error("host.destroy", h) == ["HOST_IS_LIVE", h]
    assert s.error("host.destroy", "OpaqueRef:nohost")[0] == "HANDLE_INVALID"


# ---- power and the agent ----

def xapi_starts(host):
    return host.log_text().count("xapi ready in")


def gated_power(tmp_path):
    """A power command that waits (a bounded time) for the test to open
    its gate, then does what the development host's own does; and the
    gate."""
    gate = tmp_path / "gate"
    cmd = tmp_path / "power"
    cmd.write_text('#!/bin/sh\nfor i in $(seq 1 1200); do\n'
                   '  [ -e %s ] && exec %s --power "$1"\n  sleep 0.1\ndone\nexit 1\n'
                   % (gate, RUN_HOST))
    cmd.chmod(0o755)
    return {"XENIA_POWER_COMMAND": str(cmd)}, gate


def test_reboot_restarts_the_development_host_enabled(host_factory, tmp_path):
    env, gate = gated_power(tmp_path)
    h_ = host_factory(env=env)
    with h_.session() as s:
        h = this_host(s)
        s("host.disable", h)
        starts, lines = xapi_starts(h_), len(h_.output)
        s("host.reboot", h)
        assert list(s("host.get_current_operations", h).values()) == ["reboot"]
        assert s.error("host.enable", h) == ["HOST_DISABLED_UNTIL_REBOOT", h]
        assert s.error("host.shutdown", h)[:4] == ["OTHER_OPERATION_IN_PROGRESS", "host", h,
                                                   "reboot"]
        assert s("host.get_enabled", h) is False
    gate.touch()
    wait_until(lambda: xapi_starts(h_) > starts and h_.alive(), WAIT, interval=0.2,
               what="the host back after its reboot")
    wait_until(lambda: READY_LINE in "\n".join(h_.output[lines:]), WAIT, interval=0.2,
               what="run-host ready again")
    with h_.session() as s:
        assert s("host.get_enabled", h) is True
        assert s("host.get_current_operations", h) == {}


def test_shutdown_stops_the_development_host(host_factory, tmp_path):
    env, gate = gated_power(tmp_path)
    h_ = host_factory(env=env)
    with h_.session() as s:
        h = this_host(s)
        s("host.disable", h)
        s("host.shutdown", h)
        assert list(s("host.get_current_operations", h).values()) == ["shutdown"]
    gate.touch()
    assert h_.proc.wait(WAIT) == 0
    assert h_._wait_group_gone(WAIT)


def test_restart_agent_answers_then_restarts_xapi(fresh_host):
    starts = xapi_starts(fresh_host)
    with fresh_host.session() as s:
        h = this_host(s)
        s("host.restart_agent", h)
    wait_until(lambda: xapi_starts(fresh_host) > starts, WAIT, interval=0.2,
               what="xapi started again")
    wait_until(lambda: fresh_host.alive(), WAIT, what="xapi alive")

    def answers():
        try:
            with fresh_host.session() as s2:
                return s2("host.get_uuid", h) != ""
        except (OSError, XenAPIError):
            return False
    wait_until(answers, WAIT, interval=0.2, what="the API again")
    assert "restarting the agent" in fresh_host.log_text()


def test_shutdown_agent_answers_then_stops_xapi(fresh_host):
    with fresh_host.session() as s:
        s("host.shutdown_agent")
    # xapi gone, run-host stops the rest and ends
    fresh_host.proc.wait(WAIT)
    assert fresh_host._wait_group_gone(WAIT)
    assert "restarting the agent" not in fresh_host.log_text()


# ---- certificate, console, memory ----

def test_server_certificate_is_the_one_https_presents(host, s):
    pem = s("host.get_server_certificate", this_host(s))
    assert pem.startswith("-----BEGIN CERTIFICATE-----")
    assert "PRIVATE KEY" not in pem
    served = ssl.get_server_certificate(("127.0.0.1", host.https_port))
    assert ssl.PEM_cert_to_DER_cert(pem) == ssl.PEM_cert_to_DER_cert(served)


def test_dmesg_debug_keys_and_clear(s):
    h = this_host(s)
    s("host.send_debug_keys", h, "hq")
    text = s("host.dmesg", h)
    assert "'h' pressed" in text and "'q' pressed" in text
    for bad in ["", "a b", "\t", "\u00e9", "x" * 65]:
        assert s.error("host.send_debug_keys", h, bad) == ["INVALID_VALUE", "keys", bad]
    cleared = s("host.dmesg_clear", h)
    assert "'q' pressed" in cleared
    assert "'q' pressed" not in s("host.dmesg", h)
    vm = start_vm(s, "console")
    drop_vm(s, vm)
    assert "built" in s("host.dmesg", h)


def test_memory_overhead_and_free_memory(s):
    h = this_host(s)
    assert int(s("host.compute_memory_overhead", h)) == int(s("host.get_memory_overhead", h))
    assert int(s("host.compute_free_memory", h)) > 0


# ---- data sources ----

def test_data_sources_as_xcp_names_them(s):
    h = this_host(s)
    ds = {d["name_label"]: d for d in s("host.get_data_sources", h)}
    assert {"memory_total_kib", "memory_free_kib", "cpu0", "cpu_avg", "loadavg"} <= set(ds)
    assert ds["memory_total_kib"]["units"] == "KiB"
    assert ds["cpu0"]["units"] == "(fraction)"
    total = float(s("host.query_data_source", h, "memory_total_kib"))
    assert total == int(s("host_metrics.get_memory_total", s("host.get_metrics", h))) / 1024
    free = float(s("host.query_data_source", h, "memory_free_kib"))
    assert 0 < free <= total
    assert 0 <= float(s("host.query_data_source", h, "cpu_avg")) <= 1
    s("host.record_data_source", h, "cpu0")
    s("host.forget_data_source_archives", h, "cpu0")
    for m in ["host.query_data_source", "host.record_data_source",
              "host.forget_data_source_archives"]:
        assert s.error(m, h, "no_such") == ["INTERNAL_ERROR", 'Rrd.Invalid_data_source("no_such")']


# ---- host name ----

def test_set_hostname_live_runs_the_command_and_checks_names(host_factory, tmp_path):
    out = tmp_path / "names"
    cmd = tmp_path / "set-hostname"
    cmd.write_text('#!/bin/sh\n[ "$1" = refuse ] && exit 3\necho "$1" >> %s\n' % out)
    cmd.chmod(0o755)
    h_ = host_factory(env={"XENIA_HOSTNAME_COMMAND": str(cmd)})
    with h_.session() as s:
        h = this_host(s)
        before = s("host.get_hostname", h)
        dom0 = [v for v in s("VM.get_all") if s("VM.get_is_control_domain", v)][0]
        s("host.set_hostname_live", h, "xenia-test.example")
        assert out.read_text() == "xenia-test.example\n"
        assert s("host.get_hostname", h) == "xenia-test.example"
        assert s("VM.get_name_label", dom0) == "Control domain on host: xenia-test.example"
        for bad, why in [("", "hostname empty"), ("a" * 256, "hostname is too long"),
                         ("-a", "hostname contains invalid characters"),
                         ("a-", "hostname contains invalid characters"),
                         ("a_b", "hostname contains invalid characters"),
                         ("a b", "hostname contains invalid characters")]:
            assert s.error("host.set_hostname_live", h, bad) == ["HOST_NAME_INVALID", why]
        assert s.error("host.set_hostname_live", h, "refuse")[0] == "INTERNAL_ERROR"
        assert s("host.get_hostname", h) == "xenia-test.example"
        assert out.read_text() == "xenia-test.example\n"
        assert before != ""
    assert socket.gethostname() != "xenia-test.example"


# ---- xe ----

def test_xe_host_commands(host, s):
    h = this_host(s)
    uuid = s("host.get_uuid", h)
    ok(host, "host-disable")
    assert s("host.get_enabled", h) is False
    ok(host, "host-enable")
    assert s("host.get_enabled", h) is True
    ok(host, "host-evacuate")
    assert ok(host, "host-get-vms-which-prevent-evacuation", "uuid=" + uuid) == ""
    assert "'x' pressed" not in ok(host, "host-dmesg")
    ok(host, "host-send-debug-keys", "host-uuid=" + uuid, "keys=x")
    assert "'x' pressed" in ok(host, "host-dmesg", "uuid=" + uuid)
    pem = ok(host, "host-get-server-certificate")
    assert pem.startswith("-----BEGIN CERTIFICATE-----")
    assert int(ok(host, "host-compute-free-memory")) > 0
    assert int(ok(host, "host-compute-memory-overhead")) >= 0
    listing = ok(host, "host-data-source-list")
    assert re.search(r"^name_label\s*: memory_total_kib$", listing, re.M), listing
    assert re.search(r"^\s+units: KiB$", listing, re.M), listing
    kib = ok(host, "host-data-source-query", "data-source=memory_total_kib").strip()
    assert re.fullmatch(r"\d+\.\d{6}", kib)
    ok(host, "host-data-source-record", "data-source=loadavg")
    ok(host, "host-data-source-forget", "data-source=loadavg")
    code, _, err = xe(host, "host-data-source-query", "data-source=nope")
    assert code == 1 and "Rrd.Invalid_data_source" in err
    code, _, err = xe(host, "host-reboot")
    assert code == 1 and "the host is not disabled" in err, err
    code, _, err = xe(host, "host-set-hostname-live", "host-uuid=" + uuid, "host-name=bad_name")
    assert (code, err) == (1, "The server name is invalid.\n"
                              "reason: hostname contains invalid characters\n")


def test_xe_host_evacuate_reports_the_vms_that_stay(host, s):
    h = this_host(s)
    uuid = s("host.get_uuid", h)
    vm = start_vm(s, "evac")
    try:
        out = ok(host, "host-get-vms-which-prevent-evacuation", "uuid=" + uuid)
        assert re.search(r"reason \( RO\): NO_HOSTS_AVAILABLE,%s$" % re.escape(vm), out, re.M), out
        code, _, err = xe(host, "host-evacuate")
        assert code == 1 and err.startswith("There were no servers available"), err
    finally:
        drop_vm(s, vm)
