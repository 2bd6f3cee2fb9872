"""The compiled data model (`xapi dump-model`) against the reference model
of the XenAPI (xenapi-model.json, published with the reference): classes,
fields, defaults, enums, custom messages and generated messages."""

import http.client
import json

import pytest

from xeniatest import dump_model, shared_dir

REFERENCE = shared_dir() / "reference" / "xenapi-model.json"

# Ours also exposes these two, which the reference leaves out (hidden in
# xapi's documentation, but callable).
HIDDEN_GENERATED = {"get_all_records_where", "get_all_where"}


@pytest.fixture(scope="module")
def reference():
    if not REFERENCE.exists():
        pytest.skip("no reference model at %s (set XENIA_SHARED)" % REFERENCE)
    return json.loads(REFERENCE.read_text())


@pytest.fixture(scope="module")
def ours():
    return dump_model()


@pytest.fixture(scope="module")
def ref_classes(reference):
    """The reference classes that are not removed, by name."""
    return {c["name"]: c for c in reference["classes"] if c["state"] != "removed"}


@pytest.fixture(scope="module")
def our_classes(ours):
    return {c["name"]: c for c in ours["classes"]}


def report(diffs, what, limit=60):
    lines = ["%d %s differ from the reference:" % (len(diffs), what)]
    lines += ["  " + d for d in diffs[:limit]]
    if len(diffs) > limit:
        lines.append("  ... and %d more" % (len(diffs) - limit))
    return "\n".join(lines)


# ---- normalising defaults -------------------------------------------------


def split_top(text):
    """Splits on the commas that are outside double quotes."""
    parts, cur, quoted, escaped = [], "", False, False
    for ch in text:
        if quoted:
            cur += ch
            if escaped:
                escaped = False
            elif ch == "\\":
                escaped = True
            elif ch == '"':
                quoted = False
        elif ch == '"':
            quoted = True
            cur += ch
        elif ch == ",":
            parts.append(cur.strip())
            cur = ""
        else:
            cur += ch
    if cur.strip():
        parts.append(cur.strip())
    return parts


def unquote(text):
    text = text.strip()
    if len(text) >= 2 and text[0] == '"' and text[-1] == '"':
        return json.loads(text)
    return text


def ref_default(type_text, value):
    """A reference default (`{}`, `{a, b}`, `{"k" -> "v"}`, `"s"`, `Null`,
    `1.`) in the canonical form of ours."""
    if value is None:
        return None
    if type_text.endswith(" map"):
        assert value.startswith("{") and value.endswith("}"), value
        out = {}
        for item in split_top(value[1:-1]):
            k, arrow, v = item.partition("->")
            assert arrow, "bad map default %r" % value
            out[unquote(k)] = unquote(v)
        return out
    if type_text.endswith(" set"):
        assert value.startswith("{") and value.endswith("}"), value
        return [unquote(x) for x in split_top(value[1:-1])]
    if type_text == "float":
        return float(value)
    if type_text.endswith(" ref") and value == "Null":
        return "OpaqueRef:NULL"
    if type_text == "string":
        return unquote(value)
    return value


def our_default(type_text, value):
    if value is None:
        return None
    if type_text.endswith(" map") or type_text.endswith(" set"):
        return json.loads(value)
    if type_text == "float":
        return float(value)
    return value


def test_normalising_reference_defaults():
    assert ref_default("(string -> string) map", '{"address" -> "localhost", "port" -> "27000"}') \
        == {"address": "localhost", "port": "27000"}
    assert ref_default("int set", "{0}") == ["0"]
    assert ref_default("string set", '{"a", "b, c"}') == ["a", "b, c"]
    assert ref_default("string set", "{}") == []
    assert ref_default("VM ref", "Null") == "OpaqueRef:NULL"
    assert ref_default("float", "1.") == our_default("float", "1")
    assert ref_default("string", '""') == ""


# ---- the tests --------------------------------------------------------------


def test_every_class_is_in_the_model(ref_classes, our_classes):
    missing = sorted(set(ref_classes) - set(our_classes))
    assert not missing, report(missing, "classes (missing)")


def test_classes_have_the_reference_state_and_release(ref_classes, our_classes):
    diffs = []
    for name, rc in sorted(ref_classes.items()):
        oc = our_classes.get(name)
        if oc is None:
            continue
        for key in ("state", "since"):
            if rc[key] != oc[key]:
                diffs.append("%s.%s: reference %r, ours %r" % (name, key, rc[key], oc[key]))
    assert not diffs, report(diffs, "class attributes")


def test_every_field_is_in_the_model(ref_classes, our_classes):
    diffs = []
    for name, rc in sorted(ref_classes.items()):
        oc = our_classes.get(name)
        if oc is None:
            continue
        have = {f[0] for f in oc["fields"]}
        want = {f[0] for f in rc["fields"]}
        diffs += ["%s.%s missing" % (name, f) for f in sorted(want - have)]
        diffs += ["%s.%s not in the reference" % (name, f) for f in sorted(have - want)]
    assert not diffs, report(diffs, "field lists")


@pytest.mark.parametrize("index,attr", [(1, "type"), (2, "qualifier"), (4, "state"),
                                        (5, "since")])
def test_fields_match_the_reference(ref_classes, our_classes, index, attr):
    diffs = []
    for name, rc in sorted(ref_classes.items()):
        oc = our_classes.get(name)
        if oc is None:
            continue
        theirs = {f[0]: f for f in oc["fields"]}
        for f in rc["fields"]:
            o = theirs.get(f[0])
            if o is not None and o[index] != f[index]:
                diffs.append("%s.%s %s: reference %r, ours %r" % (name, f[0], attr, f[index],
                                                                  o[index]))
    assert not diffs, report(diffs, "field %ss" % attr)


def test_field_defaults_match_the_reference(ref_classes, our_classes):
    diffs = []
    for name, rc in sorted(ref_classes.items()):
        oc = our_classes.get(name)
        if oc is None:
            continue
        theirs = {f[0]: f for f in oc["fields"]}
        for f in rc["fields"]:
            o = theirs.get(f[0])
            if o is None:
                continue
            want = ref_default(f[1], f[3])
            have = our_default(o[1], o[3])
            if want != have:
                diffs.append("%s.%s (%s): reference %r (%r), ours %r" % (
                    name, f[0], f[1], f[3], want, o[3]))
    assert not diffs, report(diffs, "field defaults")


def test_every_enum_has_the_reference_values(ref_classes, ours):
    diffs = []
    seen = set()
    for name, rc in sorted(ref_classes.items()):
        for enum, values in sorted(rc["enums"].items()):
            if enum in seen:
                continue
            seen.add(enum)
            have = ours["enums"].get(enum)
            if have is None:
                diffs.append("%s (of %s) missing" % (enum, name))
            elif have != values:
                diffs.append("%s: reference %r, ours %r" % (enum, values, have))
    assert not diffs, report(diffs, "enums")


def test_every_custom_message_is_in_the_model(ref_classes, our_classes):
    diffs = []
    for name, rc in sorted(ref_classes.items()):
        oc = our_classes.get(name)
        if oc is None:
            continue
        have = set(oc["messages"])
        want = {m["name"] for m in rc["messages"]}
        diffs += ["%s.%s missing" % (name, m) for m in sorted(want - have)]
        diffs += ["%s.%s not in the reference" % (name, m) for m in sorted(have - want)]
    assert not diffs, report(diffs, "custom messages")


def test_every_custom_message_is_served(ref_classes, our_classes):
    """Each custom message has a method on the wire (answering
    MESSAGE_NOT_IMPLEMENTED if it has no handler yet), so that clients get
    no MESSAGE_METHOD_UNKNOWN for a message of the API."""
    diffs = []
    for name, rc in sorted(ref_classes.items()):
        oc = our_classes.get(name)
        if oc is None:
            continue
        served = {m["name"] for m in oc["methods"]}
        diffs += ["%s.%s" % (name, m["name"]) for m in rc["messages"]
                  if m["name"] not in served]
    assert not diffs, report(diffs, "custom messages (not served)")


def test_custom_message_signatures_match_the_reference(ref_classes, host):
    """Every custom message, called with one parameter too few, answers
    MESSAGE_PARAMETER_COUNT_MISMATCH with the reference's count of
    mandatory parameters (not counting the session)."""
    diffs = []
    conn = http.client.HTTPConnection("127.0.0.1", host.http_port, timeout=30)
    try:
        for name, rc in sorted(ref_classes.items()):
            for m in rc["messages"]:
                params = m["params"]
                required = sum(1 for p in params if p[2])
                base = 1 if params and params[0][0] == "session ref" else 0
                wire = "%s.%s" % (name, m["name"])
                body = json.dumps({"jsonrpc": "2.0", "id": 1, "method": wire,
                                   "params": [""] * (required - 1)})
                conn.request("POST", "/jsonrpc", body, {"Content-Type": "application/json"})
                r = json.loads(conn.getresponse().read())
                err = r.get("error") or {}
                got = [err.get("message")] + list(err.get("data") or [])
                want = ["MESSAGE_PARAMETER_COUNT_MISMATCH", wire, str(required - base)]
                if got[:3] != want:
                    diffs.append("%s: %r, expected %r" % (wire, got, want))
    finally:
        conn.close()
    assert not diffs, report(diffs, "custom message signatures")


def test_generated_messages_match_the_reference(ref_classes, our_classes):
    diffs = []
    for name, rc in sorted(ref_classes.items()):
        oc = our_classes.get(name)
        if oc is None:
            continue
        have = {m["name"] for m in oc["methods"] if m["generic"]} - HIDDEN_GENERATED
        want = set(rc["generated_messages"])
        if have != want:
            diffs.append("%s: missing %s; not in the reference %s" % (
                name, sorted(want - have), sorted(have - want)))
    assert not diffs, report(diffs, "classes' generated messages")


def test_hidden_where_messages_exist_where_get_all_does(our_classes):
    diffs = []
    for name, oc in sorted(our_classes.items()):
        generic = {m["name"] for m in oc["methods"] if m["generic"]}
        if "get_all_records" in generic and not HIDDEN_GENERATED <= generic:
            diffs.append(name)
    assert not diffs, report(diffs, "classes without get_all_records_where/get_all_where")
