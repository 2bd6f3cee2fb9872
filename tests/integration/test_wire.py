"""The wire protocol at the byte level (xenapi.md 1.1, 1.2, 1.5, 1.6): raw
HTTP requests and the exact shape of what comes back."""

import http.client
import json
import re
import socket
import ssl
import warnings

import pytest

from xeniatest import (XenAPIError, insecure_context, unwrap, vm_record, xml_body, xml_result)

SUCCESS_PREFIX = (b'<?xml version="1.0"?><methodResponse><params><param><value><struct>'
                  b"<member><name>Status</name><value>Success</value></member>"
                  b"<member><name>Value</name>")
FAILURE_PREFIX = (b'<?xml version="1.0"?><methodResponse><params><param><value><struct>'
                  b"<member><name>Status</name><value>Failure</value></member>"
                  b"<member><name>ErrorDescription</name><value><array><data>")
SUFFIX = b"</member></struct></value></param></params></methodResponse>"
REF = rb"OpaqueRef:[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"


def value_of(body):
    """The bytes of the Value member of a success envelope."""
    assert body.startswith(SUCCESS_PREFIX), body[:300]
    assert body.endswith(SUFFIX), body[-200:]
    return body[len(SUCCESS_PREFIX):-len(SUFFIX)]


@pytest.fixture(scope="module")
def sref(host):
    """A session ref on the shared host (kept for the module)."""
    s = host.session()
    yield s.ref
    s.close()


@pytest.fixture(scope="module")
def host_ref(host, sref):
    return host.json_value("host.get_all", sref)[0]


@pytest.fixture(scope="module")
def vm(host, sref):
    return host.json_value("VM.create", sref, vm_record(name_label="wire-vm"))


# ---- XML-RPC envelopes ----------------------------------------------------


def test_success_envelope_is_status_then_value_without_whitespace(host):
    body = host.xml("session.login_with_password", "root", host.password)
    assert re.fullmatch(re.escape(SUCCESS_PREFIX) + b"<value>" + REF + b"</value>" +
                        re.escape(SUFFIX), body), body


def test_failure_envelope_is_status_then_error_description_of_strings(host):
    body = host.xml("session.login_with_password", "root", "wrong password")
    assert body == (FAILURE_PREFIX + b"<value>SESSION_AUTHENTICATION_FAILED</value>"
                    b"<value>root</value><value>Authentication failure</value>"
                    b"</data></array></value>" + SUFFIX)


def test_strings_are_bare_values(host, sref, vm):
    body = host.xml("VM.get_name_label", sref, vm)
    assert value_of(body) == b"<value>wire-vm</value>"


def test_string_escaping_round_trips(host, sref):
    label = 'a<b>&"c\'d \u00e9\u4e2d'
    ref = host.json_value("VM.create", sref, vm_record(name_label=label))
    body = host.xml("VM.get_name_label", sref, ref)
    assert b"<b>" not in value_of(body)
    assert xml_result(body)["Value"] == label


def test_ints_are_untagged_decimal_strings(host, sref, host_ref):
    body = host.xml("host.get_API_version_major", sref, host_ref)
    assert value_of(body) == b"<value>2</value>"


def test_large_ints_are_untagged_decimal_strings(host, sref, vm):
    body = host.xml("VM.get_memory_static_max", sref, vm)
    assert value_of(body) == b"<value>1073741824</value>"


def test_bools_are_boolean_tags(host, sref, host_ref, vm):
    assert value_of(host.xml("host.get_enabled", sref, host_ref)) == \
        b"<value><boolean>1</boolean></value>"
    assert value_of(host.xml("VM.get_is_a_template", sref, vm)) == \
        b"<value><boolean>0</boolean></value>"


def test_datetimes_are_iso8601_tags(host, sref, host_ref):
    body = host.xml("host.get_servertime", sref, host_ref)
    assert re.fullmatch(rb"<value><dateTime.iso8601>\d{8}T\d\d:\d\d:\d\dZ</dateTime.iso8601>"
                        rb"</value>", value_of(body)), body


def test_floats_are_doubles(host, sref, vm):
    body = host.xml("VM.get_HVM_shadow_multiplier", sref, vm)
    assert value_of(body) == b"<value><double>1</double></value>"


def test_void_result_is_the_empty_string(host, sref, vm):
    body = host.xml("VM.set_name_description", sref, vm, "void test")
    assert value_of(body) == b"<value></value>"


def test_empty_set_is_an_empty_array(host, sref):
    body = host.xml("VM.get_by_name_label", sref, "no VM has this name")
    assert value_of(body) == b"<value><array><data></data></array></value>"


def test_empty_map_is_an_empty_struct(host, sref, vm):
    body = host.xml("VM.get_xenstore_data", sref, vm)
    assert value_of(body) == b"<value><struct></struct></value>"


def test_null_ref_is_the_opaqueref_null_string(host, sref, vm):
    body = host.xml("VM.get_affinity", sref, vm)
    assert value_of(body) == b"<value>OpaqueRef:NULL</value>"


def test_list_methods_is_a_bare_array_of_names(host):
    body = host.xml("system.listMethods")
    assert body.startswith(b'<?xml version="1.0"?><methodResponse><params><param><value>'
                           b"<array><data><value>"), body[:200]
    assert b"<name>Status</name>" not in body
    names = xml_result(body)
    assert isinstance(names, list)
    for expected in ("VM.get_record", "VM.start", "session.login_with_password",
                     "event.from", "host.get_all_records", "VM_metrics.get_record"):
        assert expected in names
    assert not [n for n in names if n.startswith("Async.")]
    assert len(names) == len(set(names))


def test_host_list_methods_is_a_normal_call(host, sref):
    body = host.xml("host.list_methods", sref)
    names = unwrap(xml_result(body))
    assert names == xml_result(host.xml("system.listMethods"))


def test_request_string_may_be_tagged_or_bare(host, sref, vm):
    tagged = host.xml("VM.get_name_label", sref, vm)
    bare = ('<?xml version="1.0"?><methodCall><methodName>VM.get_name_label</methodName>'
            "<params><param><value>%s</value></param><param><value>%s</value></param>"
            "</params></methodCall>" % (sref, vm))
    status, body = host.xmlrpc_raw(bare)
    assert status == 200
    assert body == tagged


def test_request_without_params_element(host):
    status, body = host.xmlrpc_raw('<?xml version="1.0"?><methodCall><methodName>'
                                   "system.listMethods</methodName></methodCall>")
    assert status == 200
    assert "VM.get_record" in xml_result(body)


@pytest.mark.parametrize("text", ["  spaced  ", "", "\U0001F600 four-byte", "tab\tand\nnewline",
                                  "a<b>&c\"d'e"])
def test_strings_round_trip_exactly(host, sref, vm, text):
    escaped = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    body = ('<?xml version="1.0"?><methodCall><methodName>VM.set_name_description</methodName>'
            "<params><param><value>%s</value></param><param><value>%s</value></param>"
            "<param><value>%s</value></param></params></methodCall>" % (sref, vm, escaped))
    status, _ = host.xmlrpc_raw(body.encode())
    assert status == 200
    assert unwrap(xml_result(host.xml("VM.get_name_description", sref, vm))) == text
    assert host.json_value("VM.get_name_description", sref, vm) == text


@pytest.mark.parametrize("value", ["9223372036854775807", "-9223372036854775808", "0"])
def test_int64_limits_round_trip(host, sref, vm, value):
    host.json_value("VM.set_user_version", sref, vm, value)
    assert value_of(host.xml("VM.get_user_version", sref, vm)) == \
        b"<value>%s</value>" % value.encode()
    assert host.json_value("VM.get_user_version", sref, vm) == int(value)


@pytest.mark.parametrize("value", ["9223372036854775808", "1.5", "12abc", ""])
def test_bad_int_is_internal_error(host, sref, vm, value):
    with pytest.raises(XenAPIError) as e:
        host.json_value("VM.set_user_version", sref, vm, value)
    assert e.value.code == "INTERNAL_ERROR"


# ---- HTTP -------------------------------------------------------------------


def test_xmlrpc_content_type_is_exactly_text_xml(host):
    status, headers, _ = host.post("/", xml_body("system.listMethods"))
    assert status == 200
    assert headers.get_all("Content-Type") == ["text/xml"]


def test_jsonrpc_content_type_is_exactly_application_json(host):
    status, headers, _ = host.post("/jsonrpc", json.dumps(
        {"jsonrpc": "2.0", "method": "system.listMethods", "id": 0}).encode(),
        {"Content-Type": "application/json"})
    assert status == 200
    assert headers.get_all("Content-Type") == ["application/json"]


@pytest.mark.parametrize("path,body", [
    ("/", xml_body("system.listMethods")),
    ("/jsonrpc", b'{"jsonrpc":"2.0","method":"system.listMethods","id":0}'),
    ("/", b"not xml at all"),
])
def test_answers_carry_cors_and_no_cache_headers(host, path, body):
    status, headers, _ = host.post(path, body)
    assert headers.get("Access-Control-Allow-Origin") == "*"
    assert headers.get("Access-Control-Allow-Headers") == "X-Requested-With"
    assert headers.get("Cache-Control") == "no-cache, no-store"


@pytest.mark.parametrize("path", ["/", "/json", "/jsonrpc"])
def test_options_preflight_is_answered_with_cors_headers(host, path):
    conn = http.client.HTTPConnection("127.0.0.1", host.http_port, timeout=10)
    try:
        conn.request("OPTIONS", path, headers={
            "Origin": "https://xo.example", "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "content-type"})
        r = conn.getresponse()
        r.read()
        assert r.status == 200
        assert r.getheader("Access-Control-Allow-Origin") == "*"
        assert r.getheader("Access-Control-Allow-Headers") == "X-Requested-With"
    finally:
        conn.close()


def test_malformed_request_is_http_500_html_and_closes(host):
    status, headers, body = host.post("/", b"<methodCall><oops")
    assert status == 500
    assert headers.get("Content-Type") == "text/html"
    assert headers.get("Connection", "").lower() == "close"
    assert b"<html>" in body


def test_keep_alive_serves_many_calls_on_one_connection(host, sref):
    conn = http.client.HTTPConnection("127.0.0.1", host.http_port, timeout=10)
    try:
        first_sock = None
        for i in range(6):
            path, body, ctype = (("/jsonrpc", json.dumps({"jsonrpc": "2.0", "id": i,
                                                          "method": "host.get_all",
                                                          "params": [sref]}).encode(),
                                  "application/json") if i % 2 else
                                 ("/", xml_body("host.get_all", sref), "text/xml"))
            conn.request("POST", path, body=body, headers={"Content-Type": ctype})
            r = conn.getresponse()
            r.read()
            assert r.status == 200
            assert (r.getheader("Connection") or "").lower() != "close"
            assert conn.sock is not None, "the server closed the connection after call %d" % i
            if first_sock is None:
                first_sock = conn.sock
                local = conn.sock.getsockname()
            assert conn.sock is first_sock and conn.sock.getsockname() == local
    finally:
        conn.close()


def test_http_1_0_request_is_answered_and_closed(host):
    with socket.create_connection(("127.0.0.1", host.http_port), timeout=10) as s:
        body = xml_body("system.listMethods")
        s.sendall(b"POST / HTTP/1.0\r\nContent-Type: text/xml\r\nContent-Length: %d\r\n\r\n"
                  % len(body) + body)
        data = b""
        while True:  # the server closes: reading ends
            chunk = s.recv(65536)
            if not chunk:
                break
            data += chunk
    head, _, rest = data.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.") and b" 200 " in head.split(b"\r\n")[0]
    assert b"VM.get_record" in rest


@pytest.mark.parametrize("path", ["/RPC2", "/xmlrpc", "/some/other/path"])
def test_any_post_path_is_xmlrpc(host, path):
    status, headers, body = host.post(path, xml_body("session.login_with_password", "root",
                                                     host.password))
    assert status == 200
    assert headers.get("Content-Type") == "text/xml"
    assert re.fullmatch(re.escape(SUCCESS_PREFIX) + b"<value>" + REF + b"</value>" +
                        re.escape(SUFFIX), body)


def test_get_is_not_the_api(host):
    conn = http.client.HTTPConnection("127.0.0.1", host.http_port, timeout=10)
    try:
        conn.request("GET", "/")
        r = conn.getresponse()
        body = r.read()
        assert r.status == 200
        assert b"methodResponse" not in body
    finally:
        conn.close()


# ---- JSON-RPC -----------------------------------------------------------------


def test_jsonrpc_1_0_success_envelope(host):
    status, r = host.jsonrpc("session.login_with_password", ["root", host.password],
                             id=17, version=None)
    assert status == 200
    assert set(r) == {"result", "error", "id"}
    assert r["error"] is None and r["id"] == 17
    assert re.fullmatch(REF.decode(), r["result"])


def test_jsonrpc_1_0_failure_envelope(host):
    status, r = host.jsonrpc("session.login_with_password", ["root", "bad"], id="x1",
                             version=None)
    assert status == 200
    assert r == {"result": None, "error": ["SESSION_AUTHENTICATION_FAILED", "root",
                                           "Authentication failure"], "id": "x1"}


def test_jsonrpc_2_0_success_envelope(host):
    status, r = host.jsonrpc("session.login_with_password", ["root", host.password], id=5)
    assert status == 200
    assert set(r) == {"jsonrpc", "result", "id"}
    assert r["jsonrpc"] == "2.0" and r["id"] == 5


def test_jsonrpc_2_0_failure_envelope(host):
    status, r = host.jsonrpc("session.login_with_password", ["root", "bad"], id="abc")
    assert status == 200
    assert r == {"jsonrpc": "2.0", "id": "abc",
                 "error": {"code": 1, "message": "SESSION_AUTHENTICATION_FAILED",
                           "data": ["root", "Authentication failure"]}}


def test_jsonrpc_2_0_without_params_means_no_parameters(host):
    status, r = host.jsonrpc("system.listMethods", None)
    assert status == 200
    assert "VM.get_record" in r["result"]


def test_jsonrpc_ints_are_numbers(host, sref, host_ref):
    assert host.json_value("host.get_API_version_major", sref, host_ref) == 2
    assert host.json_value("host.get_enabled", sref, host_ref) is True


@pytest.mark.parametrize("id_", [None, "missing"])
@pytest.mark.parametrize("version", [None, "2.0"])
def test_jsonrpc_without_id_is_http_500(host, id_, version):
    req = {"method": "system.listMethods", "params": []}
    if version:
        req["jsonrpc"] = version
    if id_ is None:
        req["id"] = None
    status, _ = host.jsonrpc_raw(json.dumps(req).encode())
    assert status == 500


@pytest.mark.parametrize("version", ["3.0", "1.0", 2])
def test_jsonrpc_unknown_version_is_http_500(host, version):
    status, _ = host.jsonrpc("system.listMethods", [], version=version)
    assert status == 500


def test_jsonrpc_1_0_requires_params(host):
    status, _ = host.jsonrpc("system.listMethods", None, version=None)
    assert status == 500


def test_jsonrpc_without_method_is_http_500(host):
    status, _ = host.jsonrpc_raw(b'{"jsonrpc":"2.0","params":[],"id":1}')
    assert status == 500


def test_sessions_are_shared_between_xmlrpc_and_jsonrpc(host):
    body = host.xml("session.login_with_password", "root", host.password)
    ref = unwrap(xml_result(body))
    assert host.json_value("session.get_this_host", ref, ref).startswith("OpaqueRef:")


# ---- parameters and dispatch -----------------------------------------------------


def test_ints_are_accepted_as_strings_and_as_ints(host, sref, vm):
    host.json_value("VM.set_user_version", sref, vm, "5")
    assert host.json_value("VM.get_user_version", sref, vm) == 5
    host.json_value("VM.set_user_version", sref, vm, 6)
    assert host.json_value("VM.get_user_version", sref, vm) == 6
    for tag, n in (("i4", 7), ("int", 8), ("i8", 9), ("string", 10)):
        body = ('<?xml version="1.0"?><methodCall><methodName>VM.set_user_version</methodName>'
                "<params><param><value>%s</value></param><param><value>%s</value></param>"
                "<param><value><%s>%d</%s></value></param></params></methodCall>"
                % (sref, vm, tag, n, tag))
        status, answer = host.xmlrpc_raw(body)
        assert status == 200 and unwrap(xml_result(answer)) == ""
        assert host.json_value("VM.get_user_version", sref, vm) == n


def test_floats_are_accepted_as_ints_and_strings(host, sref):
    task = host.json_value("task.create", sref, "float test", "")
    for v, want in ((0.25, 0.25), (1, 1.0), ("0.5", 0.5)):
        host.json_value("task.set_progress", sref, task, v)
        assert host.json_value("task.get_progress", sref, task) == want
    host.json_value("task.destroy", sref, task)


def test_underscore_alias_of_class_dot_message(host, sref):
    assert host.json_value("host_get_all", sref) == host.json_value("host.get_all", sref)
    assert host.json_value("VM_metrics_get_all", sref) == \
        host.json_value("VM_metrics.get_all", sref)


def test_parameter_count_mismatch_counts_without_the_session(host, sref, vm):
    with pytest.raises(XenAPIError) as e:
        host.json_value("VM.get_name_label", sref)
    assert e.value.details == ["MESSAGE_PARAMETER_COUNT_MISMATCH", "VM.get_name_label", "1", "0"]
    with pytest.raises(XenAPIError) as e:
        host.json_value("VM.get_name_label", sref, vm, "extra")
    assert e.value.details == ["MESSAGE_PARAMETER_COUNT_MISMATCH", "VM.get_name_label", "1", "2"]


def test_parameter_count_mismatch_of_async_names_the_message_without_prefix(host, sref):
    with pytest.raises(XenAPIError) as e:
        host.json_value("Async.VM.destroy", sref)
    assert e.value.details == ["MESSAGE_PARAMETER_COUNT_MISMATCH", "VM.destroy", "1", "0"]


def test_login_takes_two_to_four_parameters(host):
    for extra in ([], ["1.0"], ["1.0", "tests"]):
        ref = host.json_value("session.login_with_password", "root", host.password, *extra)
        assert ref.startswith("OpaqueRef:")
    with pytest.raises(XenAPIError) as e:
        host.json_value("session.login_with_password", "root")
    assert e.value.details == ["MESSAGE_PARAMETER_COUNT_MISMATCH",
                               "session.login_with_password", "2", "1"]


@pytest.mark.parametrize("params", [[], ["OpaqueRef:whatever"]])
def test_unknown_method_is_message_method_unknown(host, params):
    with pytest.raises(XenAPIError) as e:
        host.json_value("VM.no_such_message", *params)
    assert e.value.details == ["MESSAGE_METHOD_UNKNOWN", "VM.no_such_message"]


def test_unknown_class_is_message_method_unknown(host, sref):
    with pytest.raises(XenAPIError) as e:
        host.json_value("Nonsense.get_all", sref)
    assert e.value.details == ["MESSAGE_METHOD_UNKNOWN", "Nonsense.get_all"]


def test_async_of_a_message_without_async_form_is_a_fault(host, sref, vm):
    with pytest.raises(XenAPIError) as e:
        host.json_value("Async.VM.get_name_label", sref, vm)
    assert e.value.details == ["Fault",
                               "No async mode for this operation (rpc: VM.get_name_label)"]


def test_wrong_parameter_type_is_internal_error(host, sref, vm):
    with pytest.raises(XenAPIError) as e:
        host.json_value("VM.set_is_a_template", sref, vm, "yes")
    assert e.value.code == "INTERNAL_ERROR" and len(e.value.details) == 2


def test_wrong_parameter_type_over_xmlrpc_is_internal_error(host, sref, vm):
    body = host.xml("VM.set_is_a_template", sref, vm, "true")
    with pytest.raises(XenAPIError) as e:
        unwrap(xml_result(body))
    assert e.value.code == "INTERNAL_ERROR"


def test_invalid_utf8_string_is_invalid_value(host, sref, vm):
    before = host.json_value("VM.get_name_label", sref, vm)
    body = (b'{"jsonrpc":"2.0","id":1,"method":"VM.set_name_label","params":["%s","%s","a\xffb"]}'
            % (sref.encode(), vm.encode()))
    status, r = host.jsonrpc_raw(body)
    assert status == 200
    assert r["error"]["code"] == 1
    assert r["error"]["message"] == "INVALID_VALUE"
    assert r["error"]["data"][0] == "Invalid UTF-8 string in parameter"
    assert host.json_value("VM.get_name_label", sref, vm) == before


def test_enum_params_match_case_insensitively(host, sref, vm):
    host.json_value("VM.set_actions_after_shutdown", sref, vm, "RESTART")
    assert host.json_value("VM.get_actions_after_shutdown", sref, vm) == "restart"
    host.json_value("VM.set_actions_after_shutdown", sref, vm, "Destroy")
    assert host.json_value("VM.get_actions_after_shutdown", sref, vm) == "destroy"


def test_unknown_enum_value_is_internal_error(host, sref, vm):
    with pytest.raises(XenAPIError) as e:
        host.json_value("VM.set_actions_after_shutdown", sref, vm, "explode")
    assert e.value.code == "INTERNAL_ERROR"


def test_null_parameter_is_internal_error(host, sref):
    with pytest.raises(XenAPIError) as e:
        host.json_value("VM.get_name_label", sref, None)
    assert e.value.code == "INTERNAL_ERROR"
    body = ('<?xml version="1.0"?><methodCall><methodName>VM.get_name_label</methodName>'
            "<params><param><value>%s</value></param><param><value><nil/></value></param>"
            "</params></methodCall>" % sref)
    status, answer = host.xmlrpc_raw(body)
    assert status == 200
    with pytest.raises(XenAPIError) as e:
        unwrap(xml_result(answer))
    assert e.value.code == "INTERNAL_ERROR"


def test_control_characters_are_dropped_from_xml_output(host, sref, vm):
    host.json_value("VM.set_name_description", sref, vm, "a\u0001b\u001fc\td\ne")
    body = host.xml("VM.get_name_description", sref, vm)
    assert unwrap(xml_result(body)) == "abc\td\ne"


@pytest.mark.parametrize("since,included", [
    ("19700101T00:00:00Z", True), ("1970-01-01T00:00:00Z", True),
    ("1970-01-01T02:00:00+02:00", True), ("20990101T00:00:00Z", False),
    ("2099-01-01T00:00:00-05:00", False), ("20990101T00:00:00", False),
])
def test_datetime_params_accept_both_formats_as_strings(host, sref, vm, since, included):
    uuid = host.json_value("VM.get_uuid", sref, vm)
    msg = host.json_value("message.create", sref, "DATETIME_TEST", "1", "VM", uuid, "")
    try:
        assert (msg in host.json_value("message.get_since", sref, since)) == included
    finally:
        host.json_value("message.destroy", sref, msg)


def test_datetime_params_accept_the_xmlrpc_tag(host, sref):
    body = ('<?xml version="1.0"?><methodCall><methodName>message.get_since</methodName>'
            "<params><param><value>%s</value></param><param><value><dateTime.iso8601>"
            "20990101T00:00:00Z</dateTime.iso8601></value></param></params></methodCall>" % sref)
    status, answer = host.xmlrpc_raw(body)
    assert status == 200 and unwrap(xml_result(answer)) == {}


def test_malformed_datetime_is_internal_error(host, sref):
    with pytest.raises(XenAPIError) as e:
        host.json_value("message.get_since", sref, "last tuesday")
    assert e.value.code == "INTERNAL_ERROR"


@pytest.mark.parametrize("value", ["inf", "-inf", "nan", "1e400"])
def test_non_finite_doubles_never_reach_the_output(host, sref, value):
    task = host.json_value("task.create", sref, "non-finite", "")
    try:
        body = ('<?xml version="1.0"?><methodCall><methodName>task.set_progress</methodName>'
                "<params><param><value>%s</value></param><param><value>%s</value></param>"
                "<param><value><double>%s</double></value></param></params></methodCall>"
                % (sref, task, value))
        host.xmlrpc_raw(body)  # refused or accepted: what matters is what comes out
        progress = host.json_value("task.get_progress", sref, task)  # strict JSON
        assert progress == progress and abs(progress) != float("inf")
        unwrap(xml_result(host.xml("task.get_progress", sref, task)))
    finally:
        host.json_value("task.destroy", sref, task)


def test_system_is_alive_echoes_its_parameter(host):
    assert unwrap(xml_result(host.xml("system.isAlive:probe", "hello"))) == "hello"


def test_bad_session_is_session_invalid(host, vm):
    bogus = "OpaqueRef:00000000-0000-0000-0000-000000000000"
    with pytest.raises(XenAPIError) as e:
        host.json_value("VM.get_name_label", bogus, vm)
    assert e.value.details == ["SESSION_INVALID", bogus]


# ---- HTTPS ------------------------------------------------------------------------


def test_https_serves_the_api(host):
    s = host.session(https=True)
    try:
        assert len(s("host.get_all")) == 1
    finally:
        s.close()


def _handshake(host, version):
    ctx = insecure_context()
    ctx.set_ciphers("DEFAULT:@SECLEVEL=0")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        ctx.minimum_version = version
        ctx.maximum_version = version
    with socket.create_connection(("127.0.0.1", host.https_port), timeout=10) as raw:
        with ctx.wrap_socket(raw) as tls:
            return tls.version()


def test_tls_1_2_and_1_3_are_accepted(host):
    assert _handshake(host, ssl.TLSVersion.TLSv1_2) == "TLSv1.2"
    assert _handshake(host, ssl.TLSVersion.TLSv1_3) == "TLSv1.3"


def test_tls_1_1_is_refused(host):
    with pytest.raises((ssl.SSLError, ConnectionResetError)):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)
            _handshake(host, ssl.TLSVersion.TLSv1_1)
