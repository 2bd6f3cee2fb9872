"""The API seen by real clients: Python's xmlrpc.client directly, and the
XenAPI bindings of Debian's python3-os-xenapi (xenapi.md sections 2-4)."""

import os
import re
import threading
import xmlrpc.client

import pytest

from xeniatest import (Session, UnixHTTPConnection, XenAPIError, classes_with, unwrap,
                       vm_record, wait_until, xml_body, xml_result)

REF_RE = re.compile(r"^OpaqueRef:[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")
UUID_RE = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")
BOGUS_REF = "OpaqueRef:6ef08bce-0bf0-30ff-804f-5f0ee4bbdd13"
BOGUS_UUID = "6ef08bce-0bf0-30ff-804f-5f0ee4bbdd13"


def meminfo_bytes(key="MemTotal"):
    with open("/proc/meminfo") as f:
        for line in f:
            if line.startswith(key + ":"):
                return int(line.split()[1]) * 1024
    raise AssertionError("no %s in /proc/meminfo" % key)


@pytest.fixture
def vm(session):
    ref = session("VM.create", vm_record(name_label="api-test-vm"))
    yield ref
    try:
        session("VM.destroy", ref)
    except XenAPIError:
        pass


@pytest.fixture(scope="module")
def this_host(host):
    with host.session() as s:
        return s("host.get_all")[0]


@pytest.fixture(scope="module")
def dom0(host, this_host):
    with host.session() as s:
        return s("host.get_control_domain", this_host)


def wait_task(s, task, timeout=20):
    """Polls a task until it leaves pending (bounded); its record."""
    def finished():
        rec = s("task.get_record", task)
        return rec if rec["status"] != "pending" else None
    return wait_until(finished, timeout, what="task %s to finish" % task)


# ---- sessions ---------------------------------------------------------------


def test_login_returns_a_session_ref(host):
    s = Session(host.url, password=host.password)
    try:
        assert REF_RE.match(s.ref)
    finally:
        s.close()


def test_bad_password_is_session_authentication_failed(host):
    with pytest.raises(XenAPIError) as e:
        Session(host.url, password="not the password")
    assert e.value.details == ["SESSION_AUTHENTICATION_FAILED", "root", "Authentication failure"]


def test_unknown_user_is_session_authentication_failed(host):
    with pytest.raises(XenAPIError) as e:
        Session(host.url, user="mallory", password=host.password)
    assert e.value.details[:2] == ["SESSION_AUTHENTICATION_FAILED", "mallory"]


def test_empty_password_over_tcp_is_refused(host):
    with pytest.raises(XenAPIError) as e:
        Session(host.url, password="")
    assert e.value.code == "SESSION_AUTHENTICATION_FAILED"


def test_logout_then_calls_are_session_invalid(host):
    s = host.session()
    ref = s.ref
    s("session.logout")
    with pytest.raises(XenAPIError) as e:
        s("pool.get_all")
    assert e.value.details == ["SESSION_INVALID", ref]


def test_failed_login_delay_does_not_hold_up_other_clients(host_factory):
    slow = host_factory(env={"XENIA_AUTH_FAIL_DELAY": "5"})
    outcome = {}

    def bad_login():
        try:
            Session(slow.url, password="wrong")
        except XenAPIError as e:
            outcome["error"] = e.details

    bad = threading.Thread(target=bad_login, daemon=True)
    bad.start()
    wait_until(lambda: "failed login" in slow.log_text(), 10, what="the failed login")
    with slow.session() as s:
        assert len(s("host.get_all")) == 1
    assert bad.is_alive(), "the failed login answered before its delay"
    bad.join(30)
    assert outcome.get("error") == ["SESSION_AUTHENTICATION_FAILED", "root",
                                    "Authentication failure"]


def test_session_record_names_this_host(session, this_host):
    rec = session("session.get_record", session.ref)
    assert rec["this_host"] == this_host
    assert UUID_RE.match(rec["uuid"])
    assert rec["is_local_superuser"] is True
    assert rec["originator"] == "xenia-tests"
    assert session("session.get_this_host", session.ref) == this_host
    assert session("session.get_by_uuid", rec["uuid"]) == session.ref


def test_sessions_are_independent(host):
    a, b = host.session(), host.session()
    try:
        assert a.ref != b.ref
        a("session.logout")
        assert len(b("host.get_all")) == 1
    finally:
        a.close()
        b.close()


# ---- the host, the pool and dom0 --------------------------------------------------


def test_one_pool_whose_master_is_the_host(session, this_host):
    pools = session("pool.get_all")
    assert len(pools) == 1
    assert session("pool.get_master", pools[0]) == this_host
    records = session("pool.get_all_records")
    assert list(records) == pools and records[pools[0]]["master"] == this_host


def test_host_api_version_is_2_21(session, this_host):
    rec = session("host.get_record", this_host)
    assert (rec["API_version_major"], rec["API_version_minor"]) == ("2", "21")
    assert rec["API_version_vendor"] == "XenSource"


def test_host_software_version_has_the_client_keys(session, this_host):
    sv = session("host.get_software_version", this_host)
    for key in ("product_version", "product_brand", "platform_name", "platform_version",
                "build_number", "hostname", "xapi", "xapi_build", "linux", "network_backend",
                "xencenter_min", "xencenter_max", "db_schema"):
        assert key in sv, "software_version lacks %s: %r" % (key, sv)
    assert sv["xencenter_min"] == sv["xencenter_max"] == "2.21"


def test_host_has_one_host_cpu_per_cpu(session, this_host):
    cpus = session("host.get_host_CPUs", this_host)
    assert len(cpus) == os.cpu_count()
    assert sorted(cpus) == sorted(session("host_cpu.get_all"))
    numbers = sorted(int(session("host_cpu.get_number", c)) for c in cpus)
    assert numbers == list(range(os.cpu_count()))
    assert session("host.get_cpu_info", this_host)["cpu_count"] == str(os.cpu_count())


def test_host_metrics_has_the_memory_total(session, this_host):
    metrics = session("host.get_metrics", this_host)
    rec = session("host_metrics.get_record", metrics)
    assert int(rec["memory_total"]) == meminfo_bytes()
    assert rec["live"] is True


def test_control_domain_is_running_on_the_host(session, this_host, dom0):
    rec = session("VM.get_record", dom0)
    assert rec["is_control_domain"] is True
    assert rec["power_state"] == "Running"
    assert rec["resident_on"] == this_host
    assert rec["domid"] == "0"
    assert rec["is_a_template"] is False
    assert int(rec["memory_static_max"]) == meminfo_bytes()
    assert int(rec["VCPUs_max"]) == os.cpu_count()
    assert rec["metrics"] in session("VM_metrics.get_all")


def test_host_resident_vms_contains_the_control_domain(session, this_host, dom0):
    assert dom0 in session("host.get_resident_VMs", this_host)
    assert dom0 in session("host.get_record", this_host)["resident_VMs"]


def test_exactly_one_control_domain(session):
    doms = session("VM.get_all_records_where", 'field "is_control_domain" = "true"')
    assert len(doms) == 1


@pytest.mark.parametrize("cls", classes_with("get_all"))
def test_get_all_records_answers_a_map(session, cls):
    records = session("%s.get_all_records" % cls)
    assert isinstance(records, dict)
    for ref, rec in records.items():
        assert ref.startswith("OpaqueRef:") and isinstance(rec, dict)
    if cls in classes_with("get_all"):
        assert sorted(session("%s.get_all" % cls)) == sorted(records)


def test_get_record_has_every_field_of_the_model(session, dom0):
    from xeniatest import model
    vm_class = [c for c in model()["classes"] if c["name"] == "VM"][0]
    want = {f[0] for f in vm_class["fields"] if f[4] != "removed"}
    assert set(session("VM.get_record", dom0)) == want


# ---- create, fields, maps and sets ---------------------------------------------


def test_vm_create_with_a_full_record_then_get_record_shows_it(session):
    rec = vm_record(name_label="full", name_description="all fields", user_version="3",
                    memory_static_max="4294967296", memory_dynamic_max="4294967296",
                    VCPUs_max="4", VCPUs_at_startup="2", VCPUs_params={"weight": "256"},
                    platform={"acpi": "1", "apic": "true"}, other_config={"k": "v"},
                    PV_args="console=hvc0", HVM_boot_params={"order": "dc"},
                    tags=["t1", "t2"], is_a_template=True, actions_after_crash="destroy")
    ref = session("VM.create", rec)
    try:
        assert REF_RE.match(ref)
        got = session("VM.get_record", ref)
        for k, v in rec.items():
            assert got[k] == v, "%s: sent %r, read %r" % (k, v, got[k])
        assert UUID_RE.match(got["uuid"])
        assert got["power_state"] == "Halted"
        assert got["resident_on"] == "OpaqueRef:NULL"
    finally:
        session("VM.destroy", ref)


def test_vm_create_defaults_the_optional_fields(session):
    rec = vm_record()
    for k in ("name_label", "name_description"):
        del rec[k]
    ref = session("VM.create", rec)
    try:
        got = session("VM.get_record", ref)
        assert got["name_label"] == "" and got["name_description"] == ""
        assert got["power_state"] == "Halted"
        assert got["tags"] == [] and got["blocked_operations"] == {}
        assert got["HVM_shadow_multiplier"] == 1.0
    finally:
        session("VM.destroy", ref)


def test_vm_create_ignores_ro_runtime_fields(session):
    ref = session("VM.create", vm_record(domid="42", is_control_domain=True,
                                         resident_on="OpaqueRef:NULL"))
    try:
        got = session("VM.get_record", ref)
        assert got["domid"] != "42"
        assert got["is_control_domain"] is False
    finally:
        session("VM.destroy", ref)


def test_vm_destroy_removes_it(session):
    ref = session("VM.create", vm_record())
    uuid = session("VM.get_uuid", ref)
    session("VM.destroy", ref)
    assert ref not in session("VM.get_all")
    assert session.error("VM.get_record", ref) == ["HANDLE_INVALID", "VM", ref]
    assert session.error("VM.get_by_uuid", uuid) == ["UUID_INVALID", "VM", uuid]


def test_created_vm_is_halted_with_domid_minus_1(session, vm):
    rec = session("VM.get_record", vm)
    assert rec["power_state"] == "Halted"
    assert rec["domid"] == "-1"


def test_created_vm_has_metrics_of_its_own(session, vm, dom0):
    metrics = session("VM.get_metrics", vm)
    assert metrics in session("VM_metrics.get_all")
    assert metrics != session("VM.get_metrics", dom0)


def test_vm_destroy_removes_its_vbds_and_metrics(session):
    vm = session("VM.create", vm_record())
    vbd = session("VBD.create", vbd_record(vm))
    metrics = session("VM.get_metrics", vm)
    session("VM.destroy", vm)
    assert vbd not in session("VBD.get_all")
    assert metrics not in session("VM_metrics.get_all")


def test_control_domain_cannot_be_destroyed(session, dom0):
    with pytest.raises(XenAPIError):
        session("VM.destroy", dom0)
    assert session("VM.get_is_control_domain", dom0) is True


def test_destroying_a_running_vm_is_vm_bad_power_state_in_lower_case(session):
    ref = session("VM.create", vm_record(power_state="Running"))
    err = session.error("VM.destroy", ref)
    assert err[:2] == ["VM_BAD_POWER_STATE", ref] and len(err) == 4
    assert "halted" in err[2].split(", ")
    assert err[3] == "running"


def test_destroying_a_running_vm_is_refused(session):
    ref = session("VM.create", vm_record(power_state="Running"))
    assert session.error("VM.destroy", ref)[:2] == ["VM_BAD_POWER_STATE", ref]
    assert ref in session("VM.get_all")


def test_suspended_vm_can_be_destroyed(session):
    ref = session("VM.create", vm_record(power_state="Suspended"))
    session("VM.destroy", ref)
    assert ref not in session("VM.get_all")


def test_vm_create_without_a_mandatory_field_is_internal_error(session):
    rec = vm_record()
    del rec["memory_static_max"]
    before = len(session("VM.get_all"))
    err = session.error("VM.create", rec)
    assert err[0] == "INTERNAL_ERROR" and len(err) == 2
    assert "memory_static_max" in err[1]
    assert len(session("VM.get_all")) == before


def test_set_name_label(session, vm):
    session("VM.set_name_label", vm, "renamed \u00e9")
    assert session("VM.get_name_label", vm) == "renamed \u00e9"
    assert session("VM.get_record", vm)["name_label"] == "renamed \u00e9"


def test_add_to_and_remove_from_other_config(session, vm):
    session("VM.add_to_other_config", vm, "alpha", "1")
    session("VM.add_to_other_config", vm, "beta", "2")
    assert session("VM.get_other_config", vm) == {"alpha": "1", "beta": "2"}
    session("VM.remove_from_other_config", vm, "alpha")
    assert session("VM.get_other_config", vm) == {"beta": "2"}


def test_add_to_map_with_an_existing_key_is_map_duplicate_key(session, vm):
    session("VM.add_to_other_config", vm, "dup", "1")
    uuid = session("VM.get_uuid", vm)
    assert session.error("VM.add_to_other_config", vm, "dup", "2") == \
        ["MAP_DUPLICATE_KEY", "VM", "other_config", uuid, "dup"]
    assert session("VM.get_other_config", vm)["dup"] == "1"


def test_remove_from_map_of_a_missing_key_is_no_error(session, vm):
    session("VM.remove_from_other_config", vm, "never-there")
    assert session("VM.get_other_config", vm) == {}


def test_set_of_a_map_field_replaces_it(session, vm):
    session("VM.set_VCPUs_params", vm, {"weight": "512", "cap": "50"})
    assert session("VM.get_VCPUs_params", vm) == {"weight": "512", "cap": "50"}
    session("VM.set_VCPUs_params", vm, {})
    assert session("VM.get_VCPUs_params", vm) == {}


def test_add_tags_twice_is_idempotent(session, vm):
    session("VM.add_tags", vm, "blue")
    session("VM.add_tags", vm, "blue")
    assert session("VM.get_tags", vm) == ["blue"]


def test_remove_tags(session, vm):
    session("VM.set_tags", vm, ["a", "b", "c"])
    session("VM.remove_tags", vm, "b")
    assert session("VM.get_tags", vm) == ["a", "c"]
    session("VM.remove_tags", vm, "not-a-tag")
    assert session("VM.get_tags", vm) == ["a", "c"]


@pytest.mark.parametrize("method", ["VM.set_power_state", "VM.set_uuid", "VM.set_domid",
                                    "VM.set_VBDs", "VM.add_VBDs", "host.set_API_version_major"])
def test_set_of_a_read_only_field_is_message_method_unknown(session, vm, method):
    assert session.error(method, vm, "x") == ["MESSAGE_METHOD_UNKNOWN", method]


def test_bad_ref_is_handle_invalid(session):
    assert session.error("VM.get_record", BOGUS_REF) == ["HANDLE_INVALID", "VM", BOGUS_REF]
    assert session.error("VM.get_name_label", "OpaqueRef:NULL") == \
        ["HANDLE_INVALID", "VM", "OpaqueRef:NULL"]
    assert session.error("VM.set_name_label", BOGUS_REF, "x") == \
        ["HANDLE_INVALID", "VM", BOGUS_REF]


def test_ref_of_another_class_is_handle_invalid(session, dom0):
    assert session.error("host.get_name_label", dom0) == ["HANDLE_INVALID", "host", dom0]


def test_unknown_uuid_is_uuid_invalid(session):
    assert session.error("VM.get_by_uuid", BOGUS_UUID) == ["UUID_INVALID", "VM", BOGUS_UUID]
    assert session.error("host.get_by_uuid", BOGUS_UUID) == ["UUID_INVALID", "host", BOGUS_UUID]


def test_get_by_uuid_finds_the_object(session, vm):
    assert session("VM.get_by_uuid", session("VM.get_uuid", vm)) == vm


def test_get_by_name_label_matches_exactly(session):
    a = session("VM.create", vm_record(name_label="by-name twin"))
    b = session("VM.create", vm_record(name_label="by-name twin"))
    c = session("VM.create", vm_record(name_label="by-name twin 2"))
    try:
        assert sorted(session("VM.get_by_name_label", "by-name twin")) == sorted([a, b])
        assert session("VM.get_by_name_label", "by-name") == []
    finally:
        for r in (a, b, c):
            session("VM.destroy", r)


# ---- *_where ----------------------------------------------------------------------


@pytest.fixture
def where_vms(session):
    refs = {
        "red": session("VM.create", vm_record(name_label="where-red", is_a_template=True)),
        "green": session("VM.create", vm_record(name_label="where-green")),
        "blue": session("VM.create", vm_record(name_label="where-blue")),
    }
    yield refs
    for r in refs.values():
        session("VM.destroy", r)


def test_get_all_records_where_field_equals(session, where_vms):
    got = session("VM.get_all_records_where", 'field "name_label" = "where-green"')
    assert list(got) == [where_vms["green"]]
    assert got[where_vms["green"]]["name_label"] == "where-green"


def test_get_all_records_where_compares_bools_as_text(session, where_vms):
    got = session("VM.get_all_records_where", 'field "is_a_template" = "true" and '
                  'field "name_label" = "where-red"')
    assert list(got) == [where_vms["red"]]


def test_get_all_records_where_or(session, where_vms):
    got = session("VM.get_all_records_where",
                  'field "name_label" = "where-red" or field "name_label" = "where-blue"')
    assert sorted(got) == sorted([where_vms["red"], where_vms["blue"]])


def test_get_all_records_where_not(session, where_vms):
    got = session("VM.get_all_records_where", 'not (field "name_label" = "where-red") and '
                  '(field "name_label" = "where-green" or field "name_label" = "where-red")')
    assert list(got) == [where_vms["green"]]


def test_get_all_records_where_true_and_false(session, where_vms):
    assert sorted(session("VM.get_all_records_where", "true")) == sorted(session("VM.get_all"))
    assert session("VM.get_all_records_where", "false") == {}


def test_get_all_where_answers_refs(session, where_vms):
    assert session("VM.get_all_where", 'field "name_label" = "where-blue"') == \
        [where_vms["blue"]]


@pytest.mark.parametrize("expr", ['field "name_label" =', 'field name_label = "x"',
                                  '(field "a" = "b"', 'field "a" = "b" and', "garbage"])
def test_malformed_where_expression_is_invalid_value(session, expr):
    err = session.error("VM.get_all_records_where", expr)
    assert err[0] == "INVALID_VALUE" and len(err) == 3 and err[1] == expr


# ---- messages without a handler, relations ------------------------------------------


def test_message_without_handler_is_message_not_implemented(session, vm):
    assert session.error("VM.retrieve_wlb_recommendations", vm) == \
        ["MESSAGE_NOT_IMPLEMENTED", "VM.retrieve_wlb_recommendations"]


def vbd_record(vm, **over):
    rec = {"VM": vm, "VDI": "OpaqueRef:NULL", "userdevice": "3", "bootable": False,
           "mode": "RO", "type": "CD", "empty": True, "other_config": {},
           "qos_algorithm_type": "", "qos_algorithm_params": {}}
    rec.update(over)
    return rec


def test_vbd_create_adds_it_to_vm_vbds(session, vm):
    vbd = session("VBD.create", vbd_record(vm))
    assert session("VM.get_VBDs", vm) == [vbd]
    assert session("VM.get_record", vm)["VBDs"] == [vbd]
    assert session("VBD.get_VM", vbd) == vm
    session("VBD.destroy", vbd)


def test_vbd_destroy_removes_it_from_vm_vbds(session, vm):
    a = session("VBD.create", vbd_record(vm, userdevice="1"))
    b = session("VBD.create", vbd_record(vm, userdevice="2"))
    assert sorted(session("VM.get_VBDs", vm)) == sorted([a, b])
    session("VBD.destroy", a)
    assert session("VM.get_VBDs", vm) == [b]
    session("VBD.destroy", b)
    assert session("VM.get_VBDs", vm) == []


def network_record(**over):
    rec = {"name_label": "test net", "name_description": "", "other_config": {}}
    rec.update(over)
    return rec


def vif_record(vm, network, **over):
    rec = {"device": "0", "network": network, "VM": vm, "MAC": "aa:bb:cc:dd:ee:01",
           "MTU": "1500", "other_config": {}, "qos_algorithm_type": "",
           "qos_algorithm_params": {}}
    rec.update(over)
    return rec


def test_network_create_defaults(session):
    net = session("network.create", {"other_config": {}})
    try:
        rec = session("network.get_record", net)
        # the bridge is auto-assigned when the record leaves it empty
        assert rec["MTU"] == "1500" and rec["bridge"].startswith("xapi") and rec["managed"] is True
        assert rec["VIFs"] == [] and rec["PIFs"] == []
    finally:
        session("network.destroy", net)


def test_vif_create_links_into_vm_and_network(session, vm):
    net = session("network.create", network_record())
    vif = session("VIF.create", vif_record(vm, net))
    try:
        assert session("VM.get_VIFs", vm) == [vif]
        assert session("network.get_VIFs", net) == [vif]
    finally:
        session("VIF.destroy", vif)
    assert session("VM.get_VIFs", vm) == [] and session("network.get_VIFs", net) == []
    session("network.destroy", net)


def test_network_destroy_with_a_vif_is_network_contains_vif(session, vm):
    net = session("network.create", network_record())
    vif = session("VIF.create", vif_record(vm, net))
    try:
        assert session.error("network.destroy", net)[0] == "NETWORK_CONTAINS_VIF"
        assert net in session("network.get_all")
    finally:
        session("VIF.destroy", vif)
        if net in session("network.get_all"):
            session("network.destroy", net)


@pytest.mark.parametrize("method", ["session.get_all", "user.get_all", "event.get_all",
                                    "event.get_record", "pool.get_by_name_label",
                                    "pool.create", "host.create", "SM.create",
                                    "VM_metrics.create", "host_cpu.destroy"])
def test_messages_the_model_does_not_generate_are_unknown(session, method):
    assert session.error(method, "x") == ["MESSAGE_METHOD_UNKNOWN", method]


# ---- message ------------------------------------------------------------------------


def test_message_create_and_get_record(session, dom0):
    uuid = session("VM.get_uuid", dom0)
    ref = session("message.create", "TEST_ALERT", "3", "VM", uuid, "body text")
    try:
        rec = session("message.get_record", ref)
        assert rec["name"] == "TEST_ALERT"
        assert rec["priority"] == "3"
        assert rec["cls"] == "VM"
        assert rec["obj_uuid"] == uuid
        assert rec["body"] == "body text"
        assert isinstance(rec["timestamp"], xmlrpc.client.DateTime)
        assert session("message.get_by_uuid", rec["uuid"]) == ref
    finally:
        session("message.destroy", ref)


def test_message_get_all_records_and_get_since(session, dom0):
    uuid = session("VM.get_uuid", dom0)
    ref = session("message.create", "TEST_SINCE", "5", "VM", uuid, "")
    try:
        assert ref in session("message.get_all_records")
        assert ref in session("message.get_all")
        assert ref in session("message.get_since", xmlrpc.client.DateTime("19700101T00:00:00Z"))
        assert ref not in session("message.get_since",
                                  xmlrpc.client.DateTime("20991231T00:00:00Z"))
        assert ref in session("message.get", "VM", uuid,
                              xmlrpc.client.DateTime("19700101T00:00:00Z"))
    finally:
        session("message.destroy", ref)


def test_message_destroy_removes_it(session, dom0):
    ref = session("message.create", "TEST_GONE", "1", "VM", session("VM.get_uuid", dom0), "")
    session("message.destroy", ref)
    assert ref not in session("message.get_all_records")
    assert session.error("message.get_record", ref)[0] == "HANDLE_INVALID"


# ---- tasks --------------------------------------------------------------------------


def test_task_create_is_pending_and_cancellable(session, this_host):
    task = session("task.create", "client task", "made by a test")
    try:
        rec = session("task.get_record", task)
        assert rec["status"] == "pending"
        assert rec["name_label"] == "client task"
        assert rec["name_description"] == "made by a test"
        assert "cancel" in rec["allowed_operations"]
        assert rec["resident_on"] == this_host
        assert task in session("task.get_all")
    finally:
        session("task.destroy", task)


def test_task_set_progress_and_status(session):
    task = session("task.create", "driven", "")
    try:
        session("task.set_progress", task, 0.5)
        assert session("task.get_progress", task) == 0.5
        session("task.set_status", task, "success")
        rec = session("task.get_record", task)
        assert rec["status"] == "success"
        assert rec["finished"].value >= rec["created"].value
    finally:
        session("task.destroy", task)


def test_task_cancel_ends_cancelled(session):
    task = session("task.create", "to cancel", "")
    try:
        session("task.cancel", task)
        rec = session("task.get_record", task)
        assert rec["status"] == "cancelled"
        assert rec["progress"] == 1.0
    finally:
        session("task.destroy", task)


def test_task_destroy_removes_it(session):
    task = session("task.create", "to destroy", "")
    session("task.destroy", task)
    assert task not in session("task.get_all")
    assert session.error("task.get_record", task) == ["HANDLE_INVALID", "task", task]


def test_async_vm_create_returns_a_task_that_succeeds_with_the_vm(session):
    task = session("Async.VM.create", vm_record(name_label="async-made"))
    assert REF_RE.match(task)
    try:
        rec = wait_task(session, task)
        assert rec["status"] == "success", rec
        assert rec["name_label"] == "Async.VM.create"
        assert rec["progress"] == 1.0
        m = re.fullmatch(r"<value>(OpaqueRef:[0-9a-f-]{36})</value>", rec["result"])
        assert m, rec["result"]
        vm = m.group(1)
        assert session("VM.get_name_label", vm) == "async-made"
        session("VM.destroy", vm)
    finally:
        session("task.destroy", task)


def test_async_vm_destroy_result_is_an_empty_value(session):
    vm = session("VM.create", vm_record())
    task = session("Async.VM.destroy", vm)
    try:
        rec = wait_task(session, task)
        assert rec["status"] == "success", rec
        assert rec["result"] in ("<value></value>", "<value/>")
        assert vm not in session("VM.get_all")
    finally:
        session("task.destroy", task)


def test_async_unimplemented_message_fails_with_message_not_implemented(session, vm):
    task = session("Async.VM.retrieve_wlb_recommendations", vm)
    try:
        rec = wait_task(session, task)
        assert rec["status"] == "failure"
        assert rec["error_info"] == ["MESSAGE_NOT_IMPLEMENTED", "VM.retrieve_wlb_recommendations"]
    finally:
        session("task.destroy", task)


def test_async_with_a_bad_session_fails_at_once(host):
    body = host.xml("Async.VM.create", "OpaqueRef:NULL", vm_record())
    with pytest.raises(XenAPIError) as e:
        unwrap(xml_result(body))
    assert e.value.code == "SESSION_INVALID"


def test_async_over_jsonrpc_result_is_still_xml(host, session):
    task = host.json_value("Async.VM.create", session.ref, vm_record(name_label="json-async"))
    try:
        rec = wait_task(session, task)
        assert rec["status"] == "success"
        assert re.fullmatch(r"<value>OpaqueRef:[0-9a-f-]{36}</value>", rec["result"])
        session("VM.destroy", rec["result"][len("<value>"):-len("</value>")])
    finally:
        session("task.destroy", task)


# ---- the local socket -------------------------------------------------------------


def unix_call(host, method, *params):
    conn = UnixHTTPConnection(host.socket_path, timeout=10)
    try:
        conn.request("POST", "/", body=xml_body(method, *params),
                     headers={"Content-Type": "text/xml"})
        r = conn.getresponse()
        assert r.status == 200
        return unwrap(xml_result(r.read()))
    finally:
        conn.close()


def test_unix_socket_root_login_needs_no_password(host):
    ref = unix_call(host, "session.login_with_password", "root", "")
    assert REF_RE.match(ref)
    assert len(unix_call(host, "host.get_all", ref)) == 1
    unix_call(host, "session.logout", ref)


def test_unix_socket_session_works_over_tcp(host):
    ref = unix_call(host, "session.login_with_password", "root", "anything")
    with host.session() as s:
        assert s.plain("pool.get_all", ref) == s("pool.get_all")


def test_unix_socket_other_user_still_needs_a_password(host):
    with pytest.raises(XenAPIError) as e:
        unix_call(host, "session.login_with_password", "mallory", "")
    assert e.value.code == "SESSION_AUTHENTICATION_FAILED"


def test_unix_socket_is_private(host):
    assert os.stat(host.socket_path).st_mode & 0o077 == 0


# ---- python3-os-xenapi --------------------------------------------------------------


@pytest.fixture
def XenAPI():
    return pytest.importorskip("os_xenapi.client.XenAPI")


@pytest.fixture
def osx(host, XenAPI):
    s = XenAPI.Session(host.url)
    s.xenapi.login_with_password("root", host.password, "1.0", "os-xenapi-tests")
    yield s
    try:
        s.xenapi.session.logout()
    except Exception:
        pass


def test_os_xenapi_login_reads_the_api_version(osx):
    assert osx.API_version == "2.21"


def test_os_xenapi_bad_password_raises_failure(host, XenAPI):
    s = XenAPI.Session(host.url)
    with pytest.raises(XenAPI.Failure) as e:
        s.xenapi.login_with_password("root", "wrong")
    assert e.value.details == ["SESSION_AUTHENTICATION_FAILED", "root", "Authentication failure"]


def test_os_xenapi_reads_records(osx, this_host, dom0):
    hosts = osx.xenapi.host.get_all_records()
    assert list(hosts) == [this_host]
    vms = osx.xenapi.VM.get_all_records()
    assert vms[dom0]["is_control_domain"] is True
    assert osx.xenapi.pool.get_master(osx.xenapi.pool.get_all()[0]) == this_host


def test_os_xenapi_create_modify_destroy_a_vm(osx, XenAPI):
    ref = osx.xenapi.VM.create(vm_record(name_label="os-xenapi vm"))
    osx.xenapi.VM.add_to_other_config(ref, "owner", "os-xenapi")
    assert osx.xenapi.VM.get_record(ref)["other_config"] == {"owner": "os-xenapi"}
    osx.xenapi.VM.destroy(ref)
    with pytest.raises(XenAPI.Failure) as e:
        osx.xenapi.VM.get_record(ref)
    assert e.value.details == ["HANDLE_INVALID", "VM", ref]


def test_os_xenapi_logs_in_again_after_session_invalid(host, osx):
    # Another client ends this session: the bindings see SESSION_INVALID,
    # log in again with the remembered credentials and retry.
    old = osx.handle
    with host.session() as s:
        s.plain("session.logout", old)
    assert len(osx.xenapi.host.get_all()) == 1
    assert osx.handle != old


def test_os_xenapi_failure_of_an_unimplemented_message(osx, XenAPI, dom0):
    with pytest.raises(XenAPI.Failure) as e:
        osx.xenapi.VM.retrieve_wlb_recommendations(dom0)
    assert e.value.details == ["MESSAGE_NOT_IMPLEMENTED", "VM.retrieve_wlb_recommendations"]


def test_first_start_keeps_what_the_installer_wrote_in_the_inventory(host_factory, tmp_path):
    state = tmp_path / "state"
    state.mkdir()
    (state / "inventory").write_text("MANAGEMENT_INTERFACE='xenbr7'\nBUILD_NUMBER='x'\n")
    h = host_factory(state_dir=str(state))
    with h.session() as s:
        uuid = s("host.get_uuid", s("host.get_all")[0])
    lines = (state / "inventory").read_text().splitlines()
    assert "MANAGEMENT_INTERFACE='xenbr7'" in lines and "BUILD_NUMBER='x'" in lines
    assert "INSTALLATION_UUID='%s'" % uuid in lines
