"""The VM lifecycle through the API, on the sim backend: xapi drives domaind
(scripts/run-host starts both). Every transition, the refusals, concurrent
operations, guest-initiated stops, restarts of the host while VMs run, and
injected backend failures that must leave the VM in a true state."""
import json
import threading

import pytest

from xeniatest import Host, XenAPIError, agent_call, vm_record, wait_until


def domaind(host, rpc_method, **params):
    return agent_call(host, "domaind", rpc_method, **params)

GiB = 1024 ** 3



@pytest.fixture(scope="module")
def lhost(request):
    h = Host().start()
    yield h
    h.close()


@pytest.fixture
def s(lhost):
    with lhost.session() as session:
        yield session


@pytest.fixture
def vm(s):
    ref = s("VM.create", vm_record(name_label="lifecycle"))
    yield ref
    try:
        if s("VM.get_power_state", ref) != "Halted":
            s("VM.hard_shutdown", ref)
        s("VM.destroy", ref)
    except XenAPIError:
        pass


def power(s, vm):
    return s("VM.get_power_state", vm)


def wait_power(s, vm, state, timeout=15):
    wait_until(lambda: power(s, vm) == state, timeout, what="VM %s" % state)


def test_start_makes_the_vm_running_with_a_domain(s, vm, lhost):
    s("VM.start", vm, False, False)
    rec = s("VM.get_record", vm)
    assert rec["power_state"] == "Running"
    assert int(rec["domid"]) > 0
    assert rec["resident_on"] in s("host.get_all")
    metrics = s("VM_metrics.get_record", rec["metrics"])
    assert metrics["memory_actual"] == rec["memory_dynamic_max"]
    assert metrics["VCPUs_number"] == rec["VCPUs_at_startup"]
    dom = domaind(lhost, "domain/get", uuid=rec["uuid"])
    assert dom["state"] == "running" and str(dom["domid"]) == rec["domid"]
    assert vm in s("host.get_resident_VMs", rec["resident_on"])


def test_allowed_operations_follow_the_power_state(s, vm):
    assert "start" in s("VM.get_allowed_operations", vm)
    assert "clean_shutdown" not in s("VM.get_allowed_operations", vm)
    s("VM.start", vm, False, False)
    allowed = s("VM.get_allowed_operations", vm)
    assert {"clean_shutdown", "hard_shutdown", "pause", "suspend", "clean_reboot"} <= set(allowed)
    assert "start" not in allowed and "destroy" not in allowed


def test_start_of_a_running_vm_is_vm_bad_power_state(s, vm):
    s("VM.start", vm, False, False)
    assert s.error("VM.start", vm, False, False) == ["VM_BAD_POWER_STATE", vm, "halted", "running"]


def test_shutdown_of_a_halted_vm_is_vm_bad_power_state(s, vm):
    assert s.error("VM.clean_shutdown", vm) == ["VM_BAD_POWER_STATE", vm, "running", "halted"]


def test_start_paused_then_unpause(s, vm):
    s("VM.start", vm, True, False)
    assert power(s, vm) == "Paused"
    s("VM.unpause", vm)
    assert power(s, vm) == "Running"


def test_pause_and_unpause(s, vm):
    s("VM.start", vm, False, False)
    s("VM.pause", vm)
    assert power(s, vm) == "Paused"
    assert s.error("VM.clean_shutdown", vm)[0] == "VM_BAD_POWER_STATE"
    s("VM.unpause", vm)
    assert power(s, vm) == "Running"


def test_clean_shutdown_halts_and_forgets_the_domain(s, vm, lhost):
    s("VM.start", vm, False, False)
    s("VM.clean_shutdown", vm)
    rec = s("VM.get_record", vm)
    assert (rec["power_state"], rec["domid"], rec["resident_on"]) == ("Halted", "-1",
                                                                      "OpaqueRef:NULL")
    assert all(d["uuid"] != rec["uuid"] for d in domaind(lhost, "domain/list"))


def test_hard_shutdown_of_a_paused_vm(s, vm):
    s("VM.start", vm, True, False)
    s("VM.hard_shutdown", vm)
    assert power(s, vm) == "Halted"


def test_reboots_give_a_new_domid(s, vm):
    s("VM.start", vm, False, False)
    first = s("VM.get_domid", vm)
    s("VM.clean_reboot", vm)
    second = s("VM.get_domid", vm)
    s("VM.hard_reboot", vm)
    third = s("VM.get_domid", vm)
    assert power(s, vm) == "Running"
    assert len({first, second, third}) == 3


def test_suspend_and_resume(s, vm):
    s("VM.start", vm, False, False)
    s("VM.suspend", vm)
    rec = s("VM.get_record", vm)
    assert (rec["power_state"], rec["domid"]) == ("Suspended", "-1")
    assert "resume" in rec["allowed_operations"]
    s("VM.resume", vm, False, False)
    assert power(s, vm) == "Running"


def test_hard_shutdown_of_a_suspended_vm_halts_it(s, vm):
    s("VM.start", vm, False, False)
    s("VM.suspend", vm)
    s("VM.hard_shutdown", vm)
    assert power(s, vm) == "Halted"


def test_shutdown_is_clean_when_the_guest_complies(s, vm):
    s("VM.start", vm, False, False)
    s("VM.shutdown", vm)
    assert power(s, vm) == "Halted"


def test_a_template_cannot_start(s):
    tmpl = s("VM.create", vm_record(is_a_template=True))
    try:
        assert s.error("VM.start", tmpl, False, False) == ["VM_IS_TEMPLATE", tmpl, "start"]
    finally:
        s("VM.destroy", tmpl)


def test_the_control_domain_cannot_be_shut_down(s):
    dom0 = [r for r, v in s("VM.get_all_records").items() if v["is_control_domain"]][0]
    assert s.error("VM.clean_shutdown", dom0)[0] == "OPERATION_NOT_ALLOWED"


def test_too_much_memory_is_host_not_enough_free_memory(s):
    big = str(64 * 1024 * GiB)
    ref = s("VM.create", vm_record(memory_static_max=big, memory_dynamic_max=big,
                                   memory_dynamic_min=big))
    try:
        err = s.error("VM.start", ref, False, False)
        assert err[0] == "HOST_NOT_ENOUGH_FREE_MEMORY" and len(err) == 3
        assert power(s, ref) == "Halted"
    finally:
        s("VM.destroy", ref)


def test_memory_limits_out_of_order_are_refused(s):
    ref = s("VM.create", vm_record(memory_dynamic_min="2147483648"))
    try:
        assert s.error("VM.start", ref, False, False)[0] == "MEMORY_CONSTRAINT_VIOLATION"
    finally:
        s("VM.destroy", ref)


def test_destroy_of_a_running_vm_is_refused(s, vm):
    s("VM.start", vm, False, False)
    assert s.error("VM.destroy", vm) == ["VM_BAD_POWER_STATE", vm, "halted, suspended", "running"]


def test_set_memory_dynamic_range_live(s, vm):
    s("VM.start", vm, False, False)
    s("VM.set_memory_dynamic_range", vm, "536870912", "805306368")
    rec = s("VM.get_record", vm)
    assert rec["memory_dynamic_max"] == "805306368"
    assert s("VM_metrics.get_memory_actual", rec["metrics"]) == "805306368"
    assert s.error("VM.set_memory_dynamic_range", vm, "1", "2")[0] == \
        "MEMORY_CONSTRAINT_VIOLATION"


def test_set_vcpus_number_live(s, vm):
    s("VM.start", vm, False, False)
    s("VM.set_VCPUs_number_live", vm, "2")
    assert s("VM_metrics.get_VCPUs_number", s("VM.get_metrics", vm)) == "2"
    assert s.error("VM.set_VCPUs_number_live", vm, "3")[0] == "INVALID_VALUE"


def test_assert_operation_valid(s, vm):
    s("VM.assert_operation_valid", vm, "start")
    assert s.error("VM.assert_operation_valid", vm, "clean_shutdown")[0] == "VM_BAD_POWER_STATE"


def test_power_state_reset_refuses_a_live_domain(s, vm):
    s("VM.start", vm, False, False)
    assert s.error("VM.power_state_reset", vm) == ["DOMAIN_EXISTS", vm]


def test_async_start_reports_through_its_task(s, vm):
    task = s("Async.VM.start", vm, False, False)
    rec = wait_until(lambda: (lambda r: r if r["status"] != "pending" else None)(
        s("task.get_record", task)), 20, what="the task")
    assert rec["status"] == "success" and rec["result"] in ("<value></value>", "<value/>")
    assert power(s, vm) == "Running"
    s("task.destroy", task)


def test_clone_of_a_default_template_then_start(s):
    tmpl = [r for r, v in s("VM.get_all_records").items()
            if v["is_a_template"] and v["is_default_template"] and not v["HVM_boot_policy"]][0]
    clone = s("VM.clone", tmpl, "from-template")
    try:
        rec = s("VM.get_record", clone)
        assert rec["is_a_template"] and not rec["is_default_template"]
        assert "default_template" not in rec["other_config"]
        s("VM.set_is_a_template", clone, False)
        s("VM.start", clone, False, False)
        assert power(s, clone) == "Running"
        s("VM.hard_shutdown", clone)
    finally:
        s("VM.destroy", clone)


def test_default_templates_are_there(s):
    names = {v["name_label"] for v in s("VM.get_all_records").values()
             if v["is_a_template"] and v["is_default_template"]}
    for n in ("Other install media", "Debian Bookworm 12", "Ubuntu Noble Numbat 24.04",
              "Rocky Linux 9", "AlmaLinux 9", "CentOS Stream 9", "Windows 10 (64-bit)",
              "Windows 11", "Windows Server 2022 (64-bit)", "Generic Linux PV"):
        assert n in names


# ---- guest-initiated stops, applied per actions_after_* ----------------------


def test_guest_poweroff_halts_the_vm(s, vm, lhost):
    s("VM.start", vm, False, False)
    domaind(lhost, "sim/inject", uuid=s("VM.get_uuid", vm), event="poweroff")
    wait_power(s, vm, "Halted")
    assert s("VM.get_domid", vm) == "-1"


def test_guest_reboot_restarts_the_domain(s, vm, lhost):
    s("VM.start", vm, False, False)
    first = s("VM.get_domid", vm)
    domaind(lhost, "sim/inject", uuid=s("VM.get_uuid", vm), event="reboot")
    wait_until(lambda: s("VM.get_domid", vm) not in (first, "-1"), 15, what="a new domid")
    assert power(s, vm) == "Running"


def test_guest_crash_with_destroy_halts_the_vm(s, lhost):
    ref = s("VM.create", vm_record(actions_after_crash="destroy"))
    try:
        s("VM.start", ref, False, False)
        domaind(lhost, "sim/inject", uuid=s("VM.get_uuid", ref), event="crash")
        wait_power(s, ref, "Halted")
    finally:
        s("VM.destroy", ref)


def test_guest_poweroff_is_seen_through_event_from(s, vm, lhost):
    s("VM.start", vm, False, False)
    token = s("event.from", ["vm"], "", 0.0)["token"]
    domaind(lhost, "sim/inject", uuid=s("VM.get_uuid", vm), event="poweroff")

    def halted_event():
        nonlocal token
        batch = s("event.from", ["vm"], token, 5.0)
        token = batch["token"]
        return any(e["ref"] == vm and e.get("snapshot", {}).get("power_state") == "Halted"
                   for e in batch["events"])
    wait_until(halted_event, 20, interval=0, what="a Halted event")


# ---- concurrency and failures -------------------------------------------------


def test_a_second_operation_is_other_operation_in_progress():
    h = Host(env={"XENIA_DOMAIND_ARGS": "--sim-step-ms 400"}).start()
    try:
        with h.session() as s:
            vm = s("VM.create", vm_record())
            task = s("Async.VM.start", vm, False, False)
            wait_until(lambda: s("VM.get_current_operations", vm), 10, what="the start to begin")
            err = s.error("VM.clean_shutdown", vm)
            assert err == ["OTHER_OPERATION_IN_PROGRESS", "VM", vm, "start", task]
            wait_until(lambda: s("task.get_status", task) != "pending", 20, what="the start")
            assert s("task.get_status", task) == "success"
            assert s("VM.get_current_operations", vm) == {}
    finally:
        h.close()


def test_two_clients_racing_to_start_one_vm(s, vm, lhost):
    results = []

    def go():
        with lhost.session() as mine:
            try:
                mine("VM.start", vm, False, False)
                results.append("ok")
            except XenAPIError as e:
                results.append(e.code)
    threads = [threading.Thread(target=go) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert results.count("ok") == 1
    assert set(results) - {"ok"} <= {"OTHER_OPERATION_IN_PROGRESS", "VM_BAD_POWER_STATE"}
    assert power(s, vm) == "Running"


def test_an_injected_create_failure_leaves_the_vm_halted(s, vm, lhost):
    domaind(lhost, "sim/fail", method="domain/create")
    err = s.error("VM.start", vm, False, False)
    assert err[0] == "INTERNAL_ERROR"
    rec = s("VM.get_record", vm)
    assert rec["power_state"] == "Halted" and rec["current_operations"] == {}
    assert "start" in rec["allowed_operations"]
    s("VM.start", vm, False, False)
    assert power(s, vm) == "Running"


def test_an_injected_shutdown_failure_leaves_the_vm_running(s, vm, lhost):
    s("VM.start", vm, False, False)
    domaind(lhost, "sim/fail", method="domain/shutdown")
    assert s.error("VM.hard_shutdown", vm)[0] == "INTERNAL_ERROR"
    assert power(s, vm) == "Running"


# ---- restarts while VMs run ---------------------------------------------------


def test_running_vms_survive_a_host_restart():
    h = Host().start()
    try:
        with h.session() as s:
            vm = s("VM.create", vm_record())
            s("VM.start", vm, False, False)
            domid = s("VM.get_domid", vm)
        h.restart()
        with h.session() as s:
            wait_until(lambda: s("VM.get_power_state", vm) == "Running", 10, what="Running")
            assert s("VM.get_domid", vm) == domid
    finally:
        h.close()


def test_running_vms_survive_a_kill9_and_restart():
    h = Host().start()
    try:
        with h.session() as s:
            vm = s("VM.create", vm_record())
            s("VM.start", vm, False, False)
            domid = s("VM.get_domid", vm)
        h.kill9()
        h.start()
        with h.session() as s:
            assert s("VM.get_power_state", vm) == "Running"
            assert s("VM.get_domid", vm) == domid
            s("VM.clean_shutdown", vm)
            assert s("VM.get_power_state", vm) == "Halted"
    finally:
        h.close()


def test_a_domain_that_died_while_xapi_was_down_is_halted():
    h = Host().start()
    try:
        with h.session() as s:
            vm = s("VM.create", vm_record())
            s("VM.start", vm, False, False)
            uuid = s("VM.get_uuid", vm)
        h.stop()
        # The simulated hypervisor loses the domain while nobody watches.
        dom = h.state_dir / "sim-hypervisor" / "domains" / (uuid + ".json")
        assert json.loads(dom.read_text())["uuid"] == uuid
        dom.unlink()
        h.start()
        with h.session() as s:
            wait_until(lambda: s("VM.get_power_state", vm) == "Halted", 10, what="Halted")
            assert s("VM.get_domid", vm) == "-1"
    finally:
        h.close()


# ---- snapshots ----------------------------------------------------------------


def test_snapshot_of_a_running_vm_then_revert(s, vm):
    s("VM.set_PV_args", vm, "before")
    s("VM.start", vm, False, False)
    snap = s("VM.snapshot", vm, "snap-1")
    try:
        rec = s("VM.get_record", snap)
        assert rec["is_a_snapshot"] and rec["is_a_template"]
        assert rec["snapshot_of"] == vm and rec["power_state"] == "Halted"
        assert rec["PV_args"] == "before"
        assert snap in s("VM.get_snapshots", vm)
        assert s.error("VM.start", snap, False, False) == ["VM_IS_SNAPSHOT", snap, "start"]
        s("VM.set_PV_args", vm, "after")
        s("VM.revert", snap)
        reverted = s("VM.get_record", vm)
        assert reverted["PV_args"] == "before"
        assert reverted["power_state"] == "Halted" and reverted["parent"] == snap
        assert reverted["name_label"] == "lifecycle" and not reverted["is_a_snapshot"]
    finally:
        s("VM.destroy", snap)


def test_revert_of_a_vm_that_is_not_a_snapshot_is_refused(s, vm):
    assert s.error("VM.revert", vm) == ["REVERT_ONLY_ALLOWED_ON_SNAPSHOT"]


def test_destroying_a_suspended_vm_removes_its_image(s, lhost):
    ref = s("VM.create", vm_record())
    s("VM.start", ref, False, False)
    s("VM.suspend", ref)
    image = s("VM.get_suspend_VDI", ref)  # on the pool's suspend image SR
    assert s("VDI.get_type", image) == "suspend"
    s("VM.destroy", ref)
    assert s.error("VDI.get_type", image)[0] == "HANDLE_INVALID"
    assert not (lhost.state_dir / "suspend").exists()  # no image outside SRs


def test_host_memory_is_the_hypervisors():
    h = Host(env={"XENIA_DOMAIND_ARGS": "--sim-memory 48G"}).start()
    try:
        with h.session() as s:
            host = s("host.get_all")[0]
            metrics = s("host.get_metrics", host)
            wait_until(lambda: s("host_metrics.get_memory_total", metrics) == str(48 * GiB), 10,
                       what="host_metrics to follow domaind")
    finally:
        h.close()
