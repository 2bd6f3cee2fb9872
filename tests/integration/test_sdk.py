"""The C SDK (sdk/) against a live host: the example (login, the VMs with
their power states, events with event.from), sdk-check (every generic
accessor of VM, host, pool and network, VM.start and clean_shutdown, an
Async call followed through its task, errors on the session), and a
program written in the style of XenServer's own SDK examples. The binaries
come from $XENIA_BUILD/sdk (make builds them)."""
import subprocess
import threading

import pytest

from xeniatest import Host, build_dir, model, vm_record

RUN_TIMEOUT = 120


def sdk_bin(*parts):
    path = build_dir().joinpath("sdk", *parts)
    assert path.exists(), "%s is not built (make BUILD=...)" % path
    return str(path)


@pytest.fixture(scope="module")
def host():
    h = Host().start()
    yield h
    h.close()
    h.remove_state()


def run(args, timeout=RUN_TIMEOUT):
    r = subprocess.run(args, capture_output=True, timeout=timeout)
    return r.returncode, r.stdout.decode(errors="replace"), r.stderr.decode(errors="replace")


def test_example_lists_vms_with_power_states(host):
    with host.session() as s:
        vm = s("VM.create", vm_record(name_label="sdk-example-vm"))
        try:
            rc, out, err = run([sdk_bin("examples", "xen-list-vms"), host.url, "root",
                                host.password])
            assert rc == 0, err
            uuid = s("VM.get_uuid", vm)
            assert "vm %s Halted sdk-example-vm" % uuid in out.splitlines()
            assert "api version 2.21" in out
        finally:
            s("VM.destroy", vm)


def test_example_follows_events(host):
    with host.session() as s:
        vm = s("VM.create", vm_record(name_label="sdk-events-vm"))
        try:
            p = subprocess.Popen([sdk_bin("examples", "xen-list-vms"), host.url, "root",
                                  host.password, "1", "30"], stdout=subprocess.PIPE,
                                 stderr=subprocess.PIPE)
            lines = []
            ready = threading.Event()

            def read():
                for raw in p.stdout:
                    lines.append(raw.decode().rstrip("\n"))
                    if lines[-1] == "following events":
                        ready.set()
                ready.set()

            t = threading.Thread(target=read, daemon=True)
            t.start()
            try:
                assert ready.wait(RUN_TIMEOUT), "the example never started following events"
                s("VM.set_name_description", vm, "changed by the test")
                assert p.wait(RUN_TIMEOUT) == 0, p.stderr.read().decode()
            finally:
                if p.poll() is None:
                    p.kill()
                    p.wait()
            t.join(RUN_TIMEOUT)
            assert "event mod vm %s" % vm in lines, lines
        finally:
            s("VM.destroy", vm)


def test_sdk_check_accessors_lifecycle_async_and_errors(host):
    vm_methods = next(c for c in model()["classes"] if c["name"] == "VM")["methods"]
    agile = next(m for m in vm_methods if m["name"] == "assert_agile")
    not_impl = "-" if agile["implemented"] else "VM.assert_agile"
    rc, out, err = run([sdk_bin("tests", "sdk-check"), host.url, host.password, not_impl])
    failures = [l for l in out.splitlines() if l.startswith("FAIL")]
    assert rc == 0 and not failures, "\n".join(failures) + err[-3000:]
    passed = [l for l in out.splitlines() if l.startswith("ok ")]
    # Every getter of the four classes ran, and the non-accessor checks.
    for name in ("vm.get_record", "vm.get_by_uuid", "VM.get_by_name_label", "host.get_all",
                 "pool.get_all_records", "network.get_record", "VM.name_label",
                 "VM.other_config", "VM.tags", "pool.name_description", "network.MTU",
                 "VM.start", "VM.clean_shutdown", "Async.VM.start task",
                 "HANDLE_INVALID on the session", "error sticks", "clear_error"):
        assert "ok " + name in passed, name
    assert len(passed) > 300, len(passed)


def test_upstream_style_program(host):
    rc, out, err = run([sdk_bin("tests", "upstream-style"), host.url, "root", host.password])
    assert rc == 0, err
    assert any(l.startswith("token ") for l in out.splitlines()), out
    assert any("\tRunning\tOpaqueRef:" in l for l in out.splitlines()), out


def test_bad_password_is_an_error_on_the_session(host):
    rc, out, err = run([sdk_bin("examples", "xen-list-vms"), host.url, "root", "wrong"])
    assert rc == 1
    assert "SESSION_AUTHENTICATION_FAILED" in err


def test_unreachable_host_is_a_transport_fault():
    rc, out, err = run([sdk_bin("examples", "xen-list-vms"), "http://127.0.0.1:1/", "root",
                        "x"])
    assert rc == 1
    assert "TRANSPORT_FAULT" in err
