"""Hostile and broken input, crashes and restarts: the host refuses bad
requests cleanly, keeps serving, keeps every acknowledged write across a
kill -9, and restarts into the same objects."""

import random
import socket
import sqlite3
import ssl
import threading
import time

import pytest

from xeniatest import (Session, XenAPIError, insecure_context, vm_record, wait_until,
                       xml_body)

MAX_BODY = 300 * 1024


def assert_healthy(host):
    """The process is alive and a login, a read and a logout work."""
    assert host.alive(), "xapi is gone:\n" + host.log_tail()
    with host.session() as s:
        assert len(s("host.get_all")) == 1


def xml_call_doc(method, inner):
    return ('<?xml version="1.0"?><methodCall><methodName>%s</methodName><params><param>'
            "<value>%s</value></param></params></methodCall>" % (method, inner)).encode()


def read_http_response(sock, limit=1 << 20):
    """Reads until the server closes or a full response with a
    Content-Length has arrived (bounded by the socket timeout)."""
    data = b""
    while len(data) < limit:
        try:
            chunk = sock.recv(65536)
        except (ConnectionResetError, socket.timeout):
            break
        if not chunk:
            break
        data += chunk
        head, sep, body = data.partition(b"\r\n\r\n")
        if sep:
            for line in head.split(b"\r\n")[1:]:
                k, _, v = line.partition(b":")
                if k.strip().lower() == b"content-length" and len(body) >= int(v):
                    return data
    return data


def status_of(response):
    first = response.split(b"\r\n", 1)[0]
    parts = first.split()
    return int(parts[1]) if len(parts) > 1 and parts[0].startswith(b"HTTP/") else None


# ---- malformed requests ------------------------------------------------------------

BAD_XML = {
    "malformed": b"<methodCall><methodName>VM.get_all</methodName><params><param>",
    "truncated": xml_body("session.login_with_password", "root", "x")[:-40],
    "binary": bytes(random.Random(1).randrange(256) for _ in range(4096)),
    "empty": b"",
    "not_a_method_call": b'<?xml version="1.0"?><methodResponse><params/></methodResponse>',
    "no_method_name": b'<?xml version="1.0"?><methodCall><params/></methodCall>',
    "nul_bytes": b'<?xml version="1.0"?><methodCall><methodName>VM.\x00get_all</methodName>'
                 b"<params/></methodCall>",
    "unknown_value_type": xml_call_doc("VM.get_all", "<bogus>1</bogus>"),
    "bad_int": xml_call_doc("VM.get_all", "<int>12abc</int>"),
    "bad_double": xml_call_doc("VM.get_all", "<double>1e999999x</double>"),
    "bad_datetime": xml_call_doc("VM.get_all", "<dateTime.iso8601>yesterday</dateTime.iso8601>"),
    "bad_base64": xml_call_doc("VM.get_all", "<base64>!!!</base64>"),
    "member_without_name": xml_call_doc("VM.get_all", "<struct><member><value>1</value>"
                                        "</member></struct>"),
}


@pytest.mark.parametrize("name", sorted(BAD_XML))
def test_bad_xml_gets_an_answer_and_the_host_survives(host, name):
    status, body = host.xmlrpc_raw(BAD_XML[name])
    if status == 200:  # a parsed call whose values are refused
        assert b"<name>Status</name><value>Failure</value>" in body, body[:300]
    else:
        assert status == 500
    assert_healthy(host)


@pytest.mark.parametrize("name", ["malformed", "truncated", "binary", "empty"])
def test_unparseable_xml_is_http_500(host, name):
    status, _ = host.xmlrpc_raw(BAD_XML[name])
    assert status == 500


def billion_laughs():
    ents = ['<!ENTITY lol0 "lol">']
    for i in range(1, 10):
        ents.append('<!ENTITY lol%d "%s">' % (i, ("&lol%d;" % (i - 1)) * 10))
    return ('<?xml version="1.0"?><!DOCTYPE lolz [%s]><methodCall><methodName>'
            "session.login_with_password</methodName><params><param><value>&lol9;</value>"
            "</param><param><value>x</value></param></params></methodCall>" % "".join(ents))


def test_billion_laughs_is_refused(host):
    status, body = host.xmlrpc_raw(billion_laughs(), timeout=60)
    assert status == 500
    assert b"lollollol" not in body
    assert_healthy(host)


@pytest.mark.parametrize("where", ["value", "method"])
def test_external_entity_is_never_resolved(host, where):
    doc = ('<?xml version="1.0"?><!DOCTYPE x [<!ENTITY e SYSTEM "file:///etc/passwd">]>'
           "<methodCall><methodName>%s</methodName><params><param><value>%s</value></param>"
           "<param><value>x</value></param></params></methodCall>"
           % (("&e;", "root") if where == "method" else ("session.login_with_password", "&e;")))
    status, body = host.xmlrpc_raw(doc)
    assert status == 500
    assert b"root:" not in body and b"/bin/" not in body
    assert_healthy(host)


def test_parameter_entity_is_never_resolved(host):
    doc = ('<?xml version="1.0"?><!DOCTYPE x [<!ENTITY % p SYSTEM "file:///etc/passwd"> %p;]>'
           "<methodCall><methodName>system.listMethods</methodName><params/></methodCall>")
    status, body = host.xmlrpc_raw(doc)
    assert status == 500
    assert b"root:" not in body
    assert_healthy(host)


def test_element_nesting_10000_deep_is_a_clean_error(host):
    doc = xml_call_doc("VM.get_all", "<a>" * 10000 + "x" + "</a>" * 10000)
    status, _ = host.xmlrpc_raw(doc)
    assert status == 500
    assert_healthy(host)


def test_value_nesting_6000_deep_is_a_clean_error(host):
    n = 6000  # as deep as fits in the body limit
    doc = xml_call_doc("VM.get_all", "<array><data><value>" * n + "x" +
                       "</value></data></array>" * n)
    assert len(doc) < MAX_BODY
    status, _ = host.xmlrpc_raw(doc)
    assert status == 500
    assert_healthy(host)


def test_json_nesting_10000_deep_is_http_500(host):
    body = b'{"jsonrpc":"2.0","id":1,"method":"VM.get_all","params":[' + b"[" * 10000 + \
        b"]" * 10000 + b"]}"
    status, _ = host.jsonrpc_raw(body)
    assert status == 500
    assert_healthy(host)


@pytest.mark.parametrize("body", [
    b"", b"garbage", b"{", b'{"jsonrpc":"2.0","method":"VM.get_all","params":[', b"[]", b"null",
    b'"just a string"', b'{"jsonrpc":"2.0","method":12,"params":[],"id":1}',
    b'{"jsonrpc":"2.0","method":"VM.get_all","params":[],"id":1} trailing',
    b'{"jsonrpc":"2.0","method":"VM.get_all","params":"notalist","id":1}',
    b'{"method":"VM.get_all","params":{"a":1},"id":1}',
    b"\xff\xfe\x00garbage",
], ids=lambda b: repr(b[:24]))
def test_json_garbage_is_http_500(host, body):
    status, _ = host.jsonrpc_raw(body)
    assert status == 500
    assert_healthy(host)


# ---- body size -------------------------------------------------------------------


def test_body_over_300_kib_is_413(host):
    status, _, _ = host.post("/", b" " * (MAX_BODY + 1))
    assert status == 413
    assert_healthy(host)


def test_body_of_exactly_300_kib_is_served(host):
    call = xml_body("session.login_with_password", "root", host.password)
    body = call + b" " * (MAX_BODY - len(call))
    status, _, data = host.post("/", body)
    assert status == 200
    assert b"<value>Success</value>" in data


def test_huge_declared_length_is_413_without_sending_it(host):
    with socket.create_connection(("127.0.0.1", host.http_port), timeout=10) as s:
        s.sendall(b"POST / HTTP/1.1\r\nHost: x\r\nContent-Type: text/xml\r\n"
                  b"Content-Length: 10000000000\r\n\r\n")
        assert status_of(read_http_response(s)) == 413
    assert_healthy(host)


def test_chunked_body_over_300_kib_is_413(host):
    with socket.create_connection(("127.0.0.1", host.http_port), timeout=20) as s:
        s.sendall(b"POST / HTTP/1.1\r\nHost: x\r\nContent-Type: text/xml\r\n"
                  b"Transfer-Encoding: chunked\r\n\r\n")
        chunk = b" " * 65536
        try:
            for _ in range(6):  # 384 KiB
                s.sendall(b"%x\r\n" % len(chunk) + chunk + b"\r\n")
            s.sendall(b"0\r\n\r\n")
        except (BrokenPipeError, ConnectionResetError):
            pass  # the server may stop reading once it has refused
        response = read_http_response(s)
    assert status_of(response) == 413
    assert_healthy(host)


def test_chunked_body_under_the_limit_is_served(host):
    call = xml_body("session.login_with_password", "root", host.password)
    with socket.create_connection(("127.0.0.1", host.http_port), timeout=10) as s:
        s.sendall(b"POST / HTTP/1.1\r\nHost: x\r\nContent-Type: text/xml\r\n"
                  b"Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n")
        for i in range(0, len(call), 50):
            part = call[i:i + 50]
            s.sendall(b"%x\r\n" % len(part) + part + b"\r\n")
        s.sendall(b"0\r\n\r\n")
        response = read_http_response(s)
    assert status_of(response) == 200
    assert b"<value>Success</value>" in response


# ---- misbehaving clients ------------------------------------------------------------


def test_client_that_sends_half_a_body_and_closes(host):
    with socket.create_connection(("127.0.0.1", host.http_port), timeout=10) as s:
        body = xml_body("session.login_with_password", "root", host.password)
        s.sendall(b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n" % len(body) +
                  body[:len(body) // 2])
    assert_healthy(host)


def test_client_that_connects_and_sends_nothing(host):
    idle = [socket.create_connection(("127.0.0.1", host.http_port), timeout=10)
            for _ in range(5)]
    try:
        assert_healthy(host)  # served while the idle connections stay open
    finally:
        for s in idle:
            s.close()
    assert_healthy(host)


def test_client_that_sends_half_the_headers_and_waits(host):
    with socket.create_connection(("127.0.0.1", host.http_port), timeout=10) as s:
        s.sendall(b"POST / HTTP/1.1\r\nHost: x\r\nContent-Le")
        assert_healthy(host)
    assert_healthy(host)


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_garbage_bytes_on_the_http_port(host, seed):
    rnd = random.Random(seed)
    with socket.create_connection(("127.0.0.1", host.http_port), timeout=10) as s:
        s.sendall(bytes(rnd.randrange(256) for _ in range(2000)) + b"\r\n\r\n")
        response = read_http_response(s)
    assert response == b"" or status_of(response) in (400, 405, 411, 413, 414, 431, 500, 505)
    assert_healthy(host)


def test_garbage_bytes_on_the_https_port(host):
    with socket.create_connection(("127.0.0.1", host.https_port), timeout=10) as s:
        try:
            s.sendall(b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello" * 10)
            read_http_response(s)
        except (ConnectionResetError, BrokenPipeError):
            pass
    assert_healthy(host)


def test_tls_client_that_stops_mid_handshake(host):
    ctx = insecure_context()
    raw = socket.create_connection(("127.0.0.1", host.https_port), timeout=10)
    tls = ctx.wrap_socket(raw, do_handshake_on_connect=False)
    try:
        tls.setblocking(False)
        try:
            tls.do_handshake()
        except (ssl.SSLWantReadError, ssl.SSLWantWriteError):
            pass
    finally:
        raw.close()
    assert_healthy(host)
    with host.session(https=True) as s:
        assert len(s("pool.get_all")) == 1


# ---- load -------------------------------------------------------------------------


def test_50_concurrent_clients_all_succeed(host):
    n_clients, seconds, max_rounds = 50, 3.0, 200
    errors, rounds = [], [0] * n_clients
    start = threading.Barrier(n_clients, timeout=30)

    def client(i):
        try:
            start.wait()
            deadline = time.monotonic() + seconds
            while time.monotonic() < deadline and rounds[i] < max_rounds:
                s = Session(host.url, password=host.password, timeout=60)
                records = s("VM.get_all_records")
                assert any(r["is_control_domain"] for r in records.values())
                s("session.logout")
                s.ref = None
                rounds[i] += 1
        except Exception as e:  # collected and reported below
            errors.append("client %d: %r" % (i, e))

    threads = [threading.Thread(target=client, args=(i,), daemon=True) for i in range(n_clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert not [t for t in threads if t.is_alive()], "clients still running after 120 s"
    assert not errors, "\n".join(errors[:10])
    assert all(r >= 1 for r in rounds), rounds
    assert_healthy(host)


def test_concurrent_map_updates_lose_nothing(host):
    with host.session() as s:
        vm = s("VM.create", vm_record(name_label="contended"))
    errors = []

    def adder(i):
        try:
            with host.session() as s:
                for k in range(20):
                    s("VM.add_to_other_config", vm, "t%d-k%d" % (i, k), str(k))
                    s("VM.add_tags", vm, "t%d" % i)
        except Exception as e:  # reported below
            errors.append(repr(e))

    threads = [threading.Thread(target=adder, args=(i,), daemon=True) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert not errors, errors
    with host.session() as s:
        oc = s("VM.get_other_config", vm)
        assert sorted(oc) == sorted("t%d-k%d" % (i, k) for i in range(8) for k in range(20))
        assert sorted(s("VM.get_tags", vm)) == sorted("t%d" % i for i in range(8))
        s("VM.destroy", vm)


# ---- crash, restart, independence ----------------------------------------------------


def integrity_check(db_path):
    conn = sqlite3.connect("file:%s?mode=ro" % db_path, uri=True, timeout=10)
    try:
        return conn.execute("PRAGMA integrity_check").fetchall()
    finally:
        conn.close()


def test_kill9_during_writes_keeps_every_acknowledged_write(fresh_host):
    host = fresh_host
    n_writers = 4
    acked_vms = [[] for _ in range(n_writers)]  # (ref, name) of acknowledged creates
    label_acked = [None] * n_writers            # last acknowledged label of the writer's VM
    label_sent = [None] * n_writers             # the label in flight (maybe committed)
    own_vm = [None] * n_writers
    stop = threading.Event()
    ready = threading.Barrier(n_writers + 1, timeout=30)

    def writer(i):
        s = Session(host.url, password=host.password, timeout=30)
        own_vm[i] = s("VM.create", vm_record(name_label="writer %d" % i))
        ready.wait()
        k = 0
        while not stop.is_set() and k < 100000:
            k += 1
            try:
                if k % 2:
                    name = "w%d-vm%d" % (i, k)
                    ref = s("VM.create", vm_record(name_label=name))
                    acked_vms[i].append((ref, name))
                else:
                    label_sent[i] = "w%d-label%d" % (i, k)
                    s("VM.set_name_label", own_vm[i], label_sent[i])
                    label_acked[i] = label_sent[i]
            except Exception:
                return  # the host is gone

    threads = [threading.Thread(target=writer, args=(i,), daemon=True) for i in range(n_writers)]
    for t in threads:
        t.start()
    ready.wait()
    wait_until(lambda: sum(len(a) for a in acked_vms) >= 150, 60,
               what="150 acknowledged writes")
    host.kill9()
    stop.set()
    for t in threads:
        t.join(30)
    assert not [t for t in threads if t.is_alive()]
    assert not host.alive()

    host.start()
    with host.session() as s:
        vms = s("VM.get_all_records")
        for i in range(n_writers):
            for ref, name in acked_vms[i]:
                assert ref in vms, "acknowledged VM %s (%s) lost in the crash" % (name, ref)
                assert vms[ref]["name_label"] == name
            assert vms[own_vm[i]]["name_label"] in (label_acked[i], label_sent[i])
            # A VM's metrics were written with it.
            for ref, _ in acked_vms[i][-3:]:
                assert s("VM_metrics.get_record", vms[ref]["metrics"])
    assert integrity_check(host.db_path) == [("ok",)]


def host_identity(s):
    hosts = s("host.get_all_records")
    (href, h), = hosts.items()
    pools = s("pool.get_all_records")
    doms = s("VM.get_all_records_where", 'field "is_control_domain" = "true"')
    return {
        "host": (href, h["uuid"]),
        "pools": sorted((r, p["uuid"], p["master"]) for r, p in pools.items()),
        "dom0": sorted((r, v["uuid"], v["metrics"]) for r, v in doms.items()),
        "host_metrics": h["metrics"],
        "host_cpus": sorted(h["host_CPUs"]),
        "counts": {c: len(s("%s.get_all" % c)) for c in
                   ("host", "pool", "VM", "VM_metrics", "host_cpu", "host_metrics")},
    }


@pytest.mark.parametrize("how", ["stop", "kill9"])
def test_restart_keeps_host_pool_and_dom0_without_duplicates(fresh_host, how):
    with fresh_host.session() as s:
        before = host_identity(s)
        s("VM.create", vm_record(name_label="survivor"))
    (fresh_host.kill9 if how == "kill9" else fresh_host.stop)()
    fresh_host.start()
    with fresh_host.session() as s:
        after = host_identity(s)
        assert [v["name_label"] for v in s("VM.get_all_records").values()
                if v["name_label"] == "survivor"] == ["survivor"]
    before["counts"]["VM"] += 1
    before["counts"]["VM_metrics"] += 1
    assert after == before
    assert len(after["dom0"]) == 1


def test_several_restarts_create_nothing_twice(fresh_host):
    with fresh_host.session() as s:
        before = host_identity(s)
    for _ in range(3):
        fresh_host.restart()
    with fresh_host.session() as s:
        assert host_identity(s) == before


def test_sessions_do_not_survive_a_restart(fresh_host):
    s = fresh_host.session()
    fresh_host.restart()
    with pytest.raises(XenAPIError) as e:
        s("pool.get_all")
    assert e.value.details == ["SESSION_INVALID", s.ref]


def test_sigterm_stops_cleanly(fresh_host):
    assert fresh_host.stop() == 0
    assert not fresh_host.group_pids()
    assert "stopping" in fresh_host.log_text()


def test_sigterm_stops_with_an_idle_connection_open(fresh_host):
    with socket.create_connection(("127.0.0.1", fresh_host.http_port), timeout=10):
        assert fresh_host.stop() == 0


def test_sigterm_stops_while_an_event_from_is_blocked(fresh_host):
    s = fresh_host.session()
    token = s("event.from", ["vm"], "", 0.0)["token"]
    body = xml_body("event.from", s.ref, ["vm"], token, 300.0)
    with socket.create_connection(("127.0.0.1", fresh_host.http_port), timeout=30) as c:
        c.sendall(b"POST / HTTP/1.1\r\nHost: x\r\nContent-Type: text/xml\r\n"
                  b"Content-Length: %d\r\n\r\n" % len(body) + body)
        time.sleep(0.3)  # the call is now waiting in the server
        assert fresh_host.stop(timeout=10) == 0


def test_two_hosts_side_by_side_are_independent(host_factory):
    a, b = host_factory(), host_factory()
    assert a.state_dir != b.state_dir
    with a.session() as sa, b.session() as sb:
        ha, hb = sa("host.get_all")[0], sb("host.get_all")[0]
        assert sa("host.get_uuid", ha) != sb("host.get_uuid", hb)
        vm = sa("VM.create", vm_record(name_label="only on a"))
        assert vm in sa("VM.get_all") and vm not in sb("VM.get_all")
        assert sb("VM.get_by_name_label", "only on a") == []
        assert sb.error("VM.get_record", vm) == ["HANDLE_INVALID", "VM", vm]
        # A session of one host means nothing to the other.
        with pytest.raises(XenAPIError) as e:
            sb.plain("pool.get_all", sa.ref)
        assert e.value.details == ["SESSION_INVALID", sa.ref]
    a.stop()
    assert_healthy(b)
