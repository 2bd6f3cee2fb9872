"""Events (xenapi.md section 5): event.from with its initial dump,
blocking, coalescing, subscriptions and tokens; event.inject; the legacy
register/next/get_current_id; tokens that survive a restart."""

import threading
import time

import pytest

from xeniatest import TOKEN_RE, Session, XenAPIError, model, vm_record

LONG = 30.0  # the timeout of calls that must return early


def lname_to_class():
    return {c["name"].lower(): c["name"] for c in model()["classes"]}


def evfrom(s, classes, token="", timeout=5.0):
    return s("event.from", classes, token, float(timeout))


def current_token(s, classes=("vm",)):
    """A token after everything that exists (the initial dump's)."""
    return evfrom(s, list(classes), "", 0.0)["token"]


def by_ref(events):
    return {e["ref"]: e for e in events}


def later(delay, fn, *args):
    """Runs fn(*args) on a thread after delay seconds; the thread has
    .started_at (monotonic time just before fn runs) and .error."""
    def run():
        time.sleep(delay)
        t.started_at = time.monotonic()
        try:
            fn(*args)
        except Exception as e:  # reported by the test
            t.error = e
    t = threading.Thread(target=run, daemon=True)
    t.started_at = None
    t.error = None
    t.start()
    return t


@pytest.fixture
def vm(session):
    ref = session("VM.create", vm_record(name_label="event-vm"))
    yield ref
    try:
        session("VM.destroy", ref)
    except XenAPIError:
        pass


# ---- the initial dump --------------------------------------------------------


def test_empty_token_gives_an_add_with_snapshot_for_every_object(session):
    r = evfrom(session, ["vm", "host"])
    assert set(r) == {"events", "valid_ref_counts", "token"}
    got = by_ref(r["events"])
    want = set(session("VM.get_all")) | set(session("host.get_all"))
    assert set(got) == want and len(r["events"]) == len(want)
    for ref, e in got.items():
        assert e["operation"] == "add"
        cls = "VM" if e["class"] == "vm" else "host"
        assert e["class"] in ("vm", "host")
        assert e["snapshot"] == session("%s.get_record" % cls, ref)


def test_event_records_have_the_xapi_members(session):
    r = evfrom(session, ["host"])
    (e,) = r["events"]
    assert set(e) == {"id", "timestamp", "class", "operation", "ref", "snapshot"}
    assert isinstance(e["id"], str) and e["id"].isdigit()
    assert e["timestamp"] == "0.0"


def test_star_dumps_every_class(session):
    r = evfrom(session, ["*"])
    classes = {e["class"] for e in r["events"]}
    for c in ("host", "pool", "vm", "host_cpu", "host_metrics", "vm_metrics"):
        assert c in classes, "no %s event in the '*' dump" % c
    counts = {}
    for e in r["events"]:
        counts[e["class"]] = counts.get(e["class"], 0) + 1
    for c, n in r["valid_ref_counts"].items():
        if c != "message":
            assert counts.get(c, 0) == n, "%s: %d events, %d valid refs" % (
                c, counts.get(c, 0), n)


def test_valid_ref_counts_are_exact(session):
    session("VM.create", vm_record(name_label="counted"))
    counts = evfrom(session, ["vm"])["valid_ref_counts"]
    names = lname_to_class()
    checked = 0
    for lname, n in counts.items():
        assert lname == lname.lower()
        assert isinstance(n, int)
        cls = names[lname]
        try:
            refs = session("%s.get_all" % cls)
        except XenAPIError as e:
            assert e.code == "MESSAGE_METHOD_UNKNOWN"
            continue
        assert n == len(refs), "%s: valid_ref_counts %d, get_all %d" % (lname, n, len(refs))
        checked += 1
    assert checked > 20
    for secret in ("session", "user", "secret"):
        assert secret not in counts


def test_token_format(session):
    r = evfrom(session, ["vm"])
    assert TOKEN_RE.match(r["token"]), r["token"]


# ---- blocking and coalescing -------------------------------------------------------


def test_later_call_blocks_until_a_change_and_returns_a_mod(host, session, vm):
    token = current_token(session)
    writer = host.session()
    t = later(0.3, writer, "VM.set_name_label", vm, "changed while waiting")
    start = time.monotonic()
    r = evfrom(session, ["vm"], token, LONG)
    returned = time.monotonic()
    t.join(10)
    writer.close()
    assert t.error is None
    assert t.started_at is not None and returned >= t.started_at, \
        "event.from returned before the change was made"
    assert returned - start < LONG, "event.from waited for its timeout"
    (e,) = r["events"]
    assert (e["ref"], e["operation"], e["class"]) == (vm, "mod", "vm")
    assert e["snapshot"]["name_label"] == "changed while waiting"
    assert r["token"] > token


def test_changes_are_coalesced_into_one_mod_per_object(session, vm):
    token = current_token(session)
    for i in range(5):
        session("VM.set_name_label", vm, "step %d" % i)
    session("VM.add_tags", vm, "coalesced")
    r = evfrom(session, ["vm"], token)
    (e,) = r["events"]
    assert e["operation"] == "mod"
    assert e["snapshot"]["name_label"] == "step 4"
    assert e["snapshot"]["tags"] == ["coalesced"]


def test_created_after_the_token_is_an_add_even_if_modified(session):
    token = current_token(session)
    ref = session("VM.create", vm_record(name_label="new"))
    session("VM.set_name_label", ref, "new and changed")
    (e,) = evfrom(session, ["vm"], token)["events"]
    assert (e["ref"], e["operation"]) == (ref, "add")
    assert e["snapshot"]["name_label"] == "new and changed"


def test_destroyed_object_gives_a_del_without_snapshot(session):
    ref = session("VM.create", vm_record(name_label="doomed"))
    token = current_token(session)
    session("VM.set_name_label", ref, "doomed, changed")
    session("VM.destroy", ref)
    r = evfrom(session, ["vm"], token)
    (e,) = r["events"]
    assert (e["ref"], e["operation"], e["class"]) == (ref, "del", "vm")
    assert "snapshot" not in e


def test_created_and_destroyed_within_the_window_is_absent(session, vm):
    token = current_token(session)
    ghost = session("VM.create", vm_record(name_label="ghost"))
    session("VM.destroy", ghost)
    session("VM.set_name_label", vm, "a real change")
    r = evfrom(session, ["vm"], token)
    assert [e["ref"] for e in r["events"]] == [vm]


def test_timeout_returns_no_events_and_a_token(session):
    token = current_token(session)
    start = time.monotonic()
    r = evfrom(session, ["vm"], token, 0.5)
    assert r["events"] == []
    assert TOKEN_RE.match(r["token"]) and r["token"] >= token
    assert time.monotonic() - start < LONG


def test_several_calls_in_flight_on_one_session_all_wake(host, session, vm):
    token = current_token(session)
    results = [None, None]

    def wait(i):
        s = Session(host.url, login=False)
        s.ref = session.ref  # the same session on a connection of its own
        results[i] = evfrom(s, ["vm"], token, LONG)

    threads = [threading.Thread(target=wait, args=(i,), daemon=True) for i in range(2)]
    for t in threads:
        t.start()
    t = later(0.3, session, "VM.set_name_label", vm, "seen twice")
    for th in threads + [t]:
        th.join(LONG + 10)
    assert t.error is None
    for r in results:
        assert r is not None, "a blocked event.from did not return"
        assert [e["ref"] for e in r["events"]] == [vm]


# ---- subscriptions -------------------------------------------------------------------


def test_class_subscription_sees_only_that_class(session, vm):
    hosts = session("host.get_all")
    token = current_token(session, ["host", "vm"])
    session("VM.set_name_label", vm, "not for host watchers")
    session("host.add_to_other_config", hosts[0], "event-test", "1")
    try:
        r = evfrom(session, ["host"], token)
        assert [(e["class"], e["ref"]) for e in r["events"]] == [("host", hosts[0])]
    finally:
        session("host.remove_from_other_config", hosts[0], "event-test")


def test_object_subscription_sees_only_that_object(session, vm):
    other = session("VM.create", vm_record(name_label="other"))
    token = current_token(session)
    session("VM.set_name_label", other, "other changed")
    session("VM.set_name_label", vm, "watched changed")
    r = evfrom(session, ["vm/%s" % vm], token)
    assert [e["ref"] for e in r["events"]] == [vm]


def test_object_subscription_initial_dump_is_that_object(session, vm):
    r = evfrom(session, ["vm/%s" % vm])
    assert [(e["ref"], e["operation"]) for e in r["events"]] == [(vm, "add")]


@pytest.mark.parametrize("spelling", ["VM", "Vm", "vM"])
def test_class_names_are_case_insensitive(session, spelling):
    want = sorted((e["ref"], e["class"]) for e in evfrom(session, ["vm"])["events"])
    got = sorted((e["ref"], e["class"]) for e in evfrom(session, [spelling])["events"])
    assert got == want and all(c == "vm" for _, c in got)


@pytest.mark.parametrize("token", [
    "garbage", "12", "1,", "a,b", "1,2,3", "1,x", " ,1",
    ",1",
])
def test_malformed_token_is_event_from_token_parse_failure(session, token):
    assert session.error("event.from", ["vm"], token, 1.0) == \
        ["EVENT_FROM_TOKEN_PARSE_FAILURE", token]


def test_logout_wakes_a_blocked_event_from_with_session_invalid(host, session):
    waiter = host.session()
    token = current_token(waiter)
    outcome = {}

    def wait():
        try:
            outcome["result"] = evfrom(waiter, ["vm"], token, LONG)
        except XenAPIError as e:
            outcome["error"] = e.details

    th = threading.Thread(target=wait, daemon=True)
    start = time.monotonic()
    th.start()
    t = later(0.3, session.plain, "session.logout", waiter.ref)
    th.join(LONG + 10)
    t.join(10)
    assert t.error is None
    assert not th.is_alive(), "event.from did not return"
    assert outcome.get("error") == ["SESSION_INVALID", waiter.ref], outcome
    assert time.monotonic() - start < LONG


def test_message_events_with_message_subscription(session, vm):
    token = current_token(session, ["message"])
    ref = session("message.create", "EVENT_TEST", "2", "VM", session("VM.get_uuid", vm), "")
    try:
        r = evfrom(session, ["message"], token)
        assert [(e["class"], e["ref"], e["operation"]) for e in r["events"]] == \
            [("message", ref, "add")]
    finally:
        session("message.destroy", ref)


def test_task_life_is_add_mod_del(session):
    token = current_token(session, ["task"])
    task = session("task.create", "evented", "")
    (e,) = evfrom(session, ["task"], token)["events"]
    assert (e["ref"], e["operation"]) == (task, "add")
    token = current_token(session, ["task"])
    session("task.set_progress", task, 0.5)
    (e,) = evfrom(session, ["task"], token)["events"]
    assert (e["operation"], e["snapshot"]["progress"]) == ("mod", 0.5)
    token = current_token(session, ["task"])
    session("task.destroy", task)
    (e,) = evfrom(session, ["task"], token)["events"]
    assert (e["ref"], e["operation"]) == (task, "del")


def vbd_record(vm):
    return {"VM": vm, "VDI": "OpaqueRef:NULL", "userdevice": "3", "bootable": False,
            "mode": "RO", "type": "CD", "empty": True, "other_config": {},
            "qos_algorithm_type": "", "qos_algorithm_params": {}}


def test_relation_change_gives_a_mod_of_the_other_side(session, vm):
    token = current_token(session, ["vm", "vbd"])
    vbd = session("VBD.create", vbd_record(vm))
    got = {(e["class"], e["ref"]): e for e in evfrom(session, ["vm", "vbd"], token)["events"]}
    assert set(got) == {("vm", vm), ("vbd", vbd)}
    assert got[("vbd", vbd)]["operation"] == "add"
    assert got[("vm", vm)]["operation"] == "mod"
    assert got[("vm", vm)]["snapshot"]["VBDs"] == [vbd]
    token = current_token(session, ["vm"])
    session("VBD.destroy", vbd)
    (e,) = evfrom(session, ["vm"], token)["events"]
    assert (e["ref"], e["operation"], e["snapshot"]["VBDs"]) == (vm, "mod", [])


def test_vm_destroy_gives_del_events_for_what_went_with_it(session):
    vm = session("VM.create", vm_record(name_label="cascade"))
    vbd = session("VBD.create", vbd_record(vm))
    metrics = session("VM.get_metrics", vm)
    token = current_token(session, ["*"])
    session("VM.destroy", vm)
    got = {(e["class"], e["ref"]): e["operation"]
           for e in evfrom(session, ["*"], token)["events"]}
    assert got == {("vm", vm): "del", ("vbd", vbd): "del", ("vm_metrics", metrics): "del"}


def test_no_change_is_lost_under_concurrent_writes(host, session):
    """A client following event.from while four others create VMs sees
    every creation once; event.inject tells it when it has caught up."""
    token = current_token(session)
    created, errors = [], []

    def writer(i):
        try:
            with host.session() as s:
                for k in range(25):
                    created.append(s("VM.create", vm_record(name_label="burst %d.%d" % (i, k))))
        except Exception as e:  # reported below
            errors.append(repr(e))

    threads = [threading.Thread(target=writer, args=(i,), daemon=True) for i in range(4)]
    for t in threads:
        t.start()
    seen = {}
    deadline = time.monotonic() + LONG
    while any(t.is_alive() for t in threads) and time.monotonic() < deadline:
        r = evfrom(session, ["vm"], token, 1.0)
        for e in r["events"]:
            seen.setdefault(e["ref"], []).append(e["operation"])
        token = r["token"]
    for t in threads:
        t.join(LONG)
    assert not errors, errors
    pool = session("pool.get_all")[0]
    target = session("event.inject", "pool", pool)
    while token < target and time.monotonic() < deadline:
        r = evfrom(session, ["vm"], token, 1.0)
        for e in r["events"]:
            seen.setdefault(e["ref"], []).append(e["operation"])
        token = r["token"]
    assert token >= target, "event.from never caught up with the injected token"
    assert len(created) == 100
    missing = [r for r in created if r not in seen]
    assert not missing, "%d creations never seen in events" % len(missing)
    assert all(seen[r] == ["add"] for r in created), {r: seen[r] for r in created
                                                      if seen[r] != ["add"]}
    for r in created:
        session("VM.destroy", r)


# ---- event.inject ------------------------------------------------------------------


def test_inject_returns_a_later_token_and_gives_a_mod(session):
    pool = session("pool.get_all")[0]
    token = current_token(session, ["pool"])
    injected = session("event.inject", "pool", pool)
    assert TOKEN_RE.match(injected) and injected > token
    assert injected.endswith(",%020d" % 0)
    r = evfrom(session, ["pool"], token)
    assert [(e["ref"], e["operation"]) for e in r["events"]] == [(pool, "mod")]
    assert r["token"] >= injected


def test_inject_of_a_bad_ref_is_handle_invalid(session):
    bogus = "OpaqueRef:6ef08bce-0bf0-30ff-804f-5f0ee4bbdd13"
    assert session.error("event.inject", "VM", bogus) == ["HANDLE_INVALID", "VM", bogus]


# ---- legacy register / next ----------------------------------------------------------


def test_next_before_register_is_session_not_registered(host):
    with host.session() as s:
        err = s.error("event.next")
        assert err[0] == "SESSION_NOT_REGISTERED" and len(err) == 2
        assert err[1].startswith("trackid=") and s.ref not in err[1]


def test_register_then_next_returns_the_change(host, vm):
    with host.session() as s:
        s("event.register", ["vm"])
        s("VM.set_name_label", vm, "legacy")
        events = s("event.next")
        mine = [e for e in events if e["ref"] == vm]
        assert mine and mine[-1]["operation"] == "mod" and mine[-1]["class"] == "vm"
        assert mine[-1]["snapshot"]["name_label"] == "legacy"
        assert float(mine[-1]["timestamp"]) > 0


def test_next_blocks_until_a_change(host, vm):
    with host.session() as s, host.session() as writer:
        s("event.register", ["vm"])
        t = later(0.3, writer, "VM.set_name_label", vm, "legacy wait")
        events = s("event.next")
        returned = time.monotonic()
        t.join(10)
        assert t.error is None
        assert t.started_at is not None and returned >= t.started_at
        assert [(e["ref"], e["operation"], e["snapshot"]["name_label"]) for e in events] == \
            [(vm, "mod", "legacy wait")]


def test_next_ignores_unsubscribed_classes(host, vm):
    with host.session() as s:
        hostref = s("host.get_all")[0]
        s("event.register", ["host"])
        s("VM.set_name_label", vm, "not watched")
        s("host.add_to_other_config", hostref, "legacy-test", "1")
        try:
            events = s("event.next")
            assert events and all(e["class"] == "host" for e in events)
        finally:
            s("host.remove_from_other_config", hostref, "legacy-test")


def test_get_current_id_grows_with_changes(session, vm):
    a = int(session("event.get_current_id"))
    session("VM.set_name_label", vm, "bump")
    b = int(session("event.get_current_id"))
    assert b > a


# ---- tokens and restarts -----------------------------------------------------------


def test_token_survives_a_restart(fresh_host):
    with fresh_host.session() as s:
        vm = s("VM.create", vm_record(name_label="before restart"))
        token = current_token(s, ["*"])
    fresh_host.restart()
    with fresh_host.session() as s:
        s("VM.set_name_label", vm, "after restart")
        r = evfrom(s, ["vm"], token, 10.0)
        assert [(e["ref"], e["operation"]) for e in r["events"]] == [(vm, "mod")]
        assert r["events"][0]["snapshot"]["name_label"] == "after restart"
        everything = evfrom(s, ["*"], token, 10.0)["events"]
        assert not [e for e in everything if e["operation"] == "add"], \
            "a token from before the restart gave a full dump"
        assert vm in by_ref(everything)
