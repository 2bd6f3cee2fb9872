"""The xe CLI: our thin client (build/xe) against xapi's /cli handler on a
real host, over the Unix socket, plain TCP and TLS. Golden layouts for the
generic commands, the custom VM commands, errors and exit codes, and the
protocol's corner cases (a peer that is not a thin client, a body over the
cap, a client that hangs up mid-command: xapi keeps serving), and --progress
on long operations (a task drawn on stderr, destroyed afterwards)."""

import os
import re
import socket
import struct
import subprocess

import pytest

from xeniatest import PASSWORD, Host, build_dir, vm_record

XE_TIMEOUT = 30
UUID = r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"
PREFIX = b"XenSource thin CLI protocol"


@pytest.fixture(scope="module")
def host():
    h = Host()
    h.start()
    yield h
    h.close()
    assert not h.sanitizer_reports()


def xe(host, *args, env=None, stdin=None, remote=None):
    """Runs build/xe; returns (status, stdout, stderr). remote: "http" or
    "https" to go over TCP with the password instead of the socket."""
    e = dict(os.environ, XE_SOCKET=host.socket_path, HOME="/nonexistent")
    e.pop("XE_EXTRA_ARGS", None)
    e.update(env or {})
    argv = [str(build_dir() / "xe"), *args]
    if remote == "http":
        argv += ["-s", "127.0.0.1", "-p", str(host.http_port), "--nossl", "-pw", PASSWORD]
    elif remote == "https":
        argv += ["-s", "127.0.0.1", "-p", str(host.https_port), "-pw", PASSWORD]
    r = subprocess.run(argv, env=e, input=stdin, capture_output=True, text=True,
                       timeout=XE_TIMEOUT)
    return r.returncode, r.stdout, r.stderr


def ok(host, *args, **kw):
    code, out, err = xe(host, *args, **kw)
    assert code == 0, (args, out, err)
    return out


def dom0(host):
    return ok(host, "vm-list", "is-control-domain=true", "--minimal").strip()


def new_vm(host, name):
    """A halted VM made through the XML-RPC API; its uuid."""
    with host.session() as s:
        return s("VM.get_uuid", s("VM.create", vm_record(name_label=name)))


def test_vm_install(host):
    tmpl = ok(host, "template-list", "--minimal").strip().split(",")[0]
    pool = ok(host, "pool-list", "--minimal").strip()
    default_sr = ok(host, "pool-param-get", "uuid=" + pool, "param-name=default-SR").strip()
    before = ok(host, "vm-list", "--all", "--minimal")
    code, out, err = xe(host, "vm-install", "template-uuid=" + tmpl, "new-name-label=inst")
    if default_sr == "<not in database>":
        # Provisioning the template's disks needs an SR: the clone is
        # removed again and the error printed.
        assert code == 1 and "SR" in err
        after = ok(host, "vm-list", "--all", "--minimal")
        assert sorted(after.strip().split(",")) == sorted(before.strip().split(","))
    else:
        assert code == 0, err
        vm = out.strip()
        assert ok(host, "vm-param-get", "uuid=" + vm, "param-name=is-a-template") == "false\n"
        assert ok(host, "vm-param-get", "uuid=" + vm, "param-name=name-description") == \
            "Installed via xe CLI\n"
        ok(host, "vm-uninstall", "uuid=" + vm, "--force")
    code, _, err = xe(host, "vm-install", "template=no-such-template", "new-name-label=x")
    assert code == 1 and err == "Error: No templates matched\n"


def test_vm_list_layout_is_xcps(host):
    out = ok(host, "vm-list", "is-control-domain=true")
    expect = (r"uuid \( RO\)           : %s\n"
              r"     name-label \( RW\): Control domain on host: [^\n]*\n"
              r"    power-state \( RO\): running\n\n\n") % UUID
    assert re.fullmatch(expect, out), out


def test_pool_list_layout(host):
    out = ok(host, "pool-list")
    lines = out.split("\n")
    assert re.fullmatch(r"uuid \( RO\) {16}: " + UUID, lines[0])
    assert lines[1] == "          name-label ( RW): "
    assert re.fullmatch(r"          default-SR \( RW\): (%s|<not in database>)" % UUID, lines[4])
    assert lines[5:] == ["", "", ""]


def test_list_filters_and_params(host):
    vm = new_vm(host, "filter-me")
    assert ok(host, "vm-list", "name-label=filter-me", "params=power-state", "--minimal") == \
        "halted\n"
    assert ok(host, "vm-list", "uuid=" + vm, "--minimal") == vm + "\n"
    assert ok(host, "vm-list", "name-label=nobody-has-this") == ""
    assert ok(host, "vm-list", "name-label=nobody-has-this", "--minimal") == "\n"
    out = ok(host, "vm-list", "uuid=" + vm, "params=name-label,uuid")
    # Printed in the record's order, not the order given.
    assert out.split("\n")[0].startswith("uuid ( RO)")
    code, _, err = xe(host, "vm-list", "no-such-field=1")
    assert code == 1 and err == "Error: Unknown field 'no-such-field'\n"
    ok(host, "vm-param-set", "uuid=" + vm, "other-config:colour=blue")
    assert ok(host, "vm-list", "other-config:colour=blue", "--minimal") == vm + "\n"
    ok(host, "vm-param-add", "uuid=" + vm, "param-name=tags", "param-key=prod")
    assert ok(host, "vm-list", "tags:contains=prod", "--minimal") == vm + "\n"
    # --all drops every filter, templates included.
    n_all = len(ok(host, "vm-list", "--all", "--minimal").strip().split(","))
    n_tmpl = len(ok(host, "template-list", "--minimal").strip().split(","))
    assert n_all >= n_tmpl + 2
    ok(host, "vm-uninstall", "uuid=" + vm, "--force")


def test_minimal_escapes_commas_and_backslashes(host):
    vm = new_vm(host, "a,b\\c")
    assert ok(host, "vm-list", "uuid=" + vm, "params=name-label", "--minimal") == "a\\,b\\\\c\n"
    ok(host, "vm-uninstall", "uuid=" + vm, "--force")


def test_param_commands(host):
    vm = new_vm(host, "params")
    out = ok(host, "vm-param-list", "uuid=" + vm)
    keys = [l.split(":")[0].strip() for l in out.split("\n") if l]
    assert keys[0] == "uuid ( RO)"
    assert "name-label ( RW)" in keys and "other-config (MRW)" in keys
    # All keys are right-aligned to one width after the first.
    width = out.index(":")
    assert all(l.index(": ") == width for l in out.split("\n")[1:] if l)
    assert ok(host, "vm-param-get", "uuid=" + vm, "param-name=power-state") == "halted\n"
    ok(host, "vm-param-set", "uuid=" + vm, "name-label=renamed", "name-description=d",
       "other-config:k=v1")
    ok(host, "vm-param-set", "uuid=" + vm, "other-config:k=v2")
    assert ok(host, "vm-param-get", "uuid=" + vm, "param-name=name-label") == "renamed\n"
    assert ok(host, "vm-param-get", "uuid=" + vm, "param-name=other-config",
              "param-key=k") == "v2\n"
    code, _, err = xe(host, "vm-param-get", "uuid=" + vm, "param-name=other-config",
                      "param-key=nokey")
    assert code == 1 and err == "Error: Key nokey not found in map\n"
    ok(host, "vm-param-add", "uuid=" + vm, "param-name=other-config", "a=1", "b=2")
    ok(host, "vm-param-remove", "uuid=" + vm, "param-name=other-config", "param-key=a")
    code, _, err = xe(host, "vm-param-remove", "uuid=" + vm, "param-name=other-config",
                      "param-key=a")
    assert code == 1 and err == "Error: Key a is not in map\n"
    ok(host, "vm-param-clear", "uuid=" + vm, "param-name=other-config")
    assert ok(host, "vm-param-get", "uuid=" + vm, "param-name=other-config") == "\n"
    ok(host, "vm-param-set", "uuid=" + vm, "user-version=2KiB")
    assert ok(host, "vm-param-get", "uuid=" + vm, "param-name=user-version") == "2048\n"
    code, _, err = xe(host, "vm-param-set", "uuid=" + vm, "power-state=running")
    assert code == 1 and err == "Error: Field 'power-state' is read-only.\n"
    code, _, err = xe(host, "vm-param-set", "uuid=" + vm, "is-a-template=maybe")
    assert code == 1 and "expecting a boolean" in err
    code, _, err = xe(host, "vm-param-set", "uuid=" + vm, "other-config=x")
    assert code == 1 and "use the 'name:key=value' syntax" in err
    ok(host, "vm-uninstall", "uuid=" + vm, "--force")


def test_uuid_invalid_is_the_multi_line_error(host):
    code, out, err = xe(host, "vm-param-list", "uuid=nonsense")
    assert code == 1 and out == ""
    assert err == "The uuid you supplied was invalid.\ntype: VM\nuuid: nonsense\n"


def test_vm_lifecycle_commands(host):
    vm = new_vm(host, "life")
    ok(host, "vm-start", "vm=life")
    assert ok(host, "vm-param-get", "uuid=" + vm, "param-name=power-state") == "running\n"
    code, out, err = xe(host, "vm-start", "vm=life")
    assert code == 1
    lines = err.split("\n")
    assert lines[0].startswith("You attempted an operation on a VM that was not in an "
                               "appropriate power state")
    assert lines[1] == "vm: %s (life)" % vm
    ok(host, "vm-pause", "uuid=" + vm)
    assert ok(host, "vm-param-get", "uuid=" + vm, "param-name=power-state") == "paused\n"
    ok(host, "vm-unpause", "uuid=" + vm)
    ok(host, "vm-reboot", "vm=" + vm, "--force")
    ok(host, "vm-shutdown", "vm=" + vm, "--force")
    assert ok(host, "vm-param-get", "uuid=" + vm, "param-name=power-state") == "halted\n"
    clone = ok(host, "vm-clone", "vm=" + vm, "new-name-label=life-clone").strip()
    assert re.fullmatch(UUID, clone)
    assert ok(host, "vm-param-get", "uuid=" + clone, "param-name=name-label") == "life-clone\n"
    snap = ok(host, "vm-snapshot", "vm=" + vm, "new-name-label=life-snap").strip()
    assert ok(host, "snapshot-list", "uuid=" + snap, "--minimal") == snap + "\n"
    # Two VMs match: --multiple is needed.
    code, _, err = xe(host, "vm-shutdown", "power-state=halted")
    assert code == 1 and err.startswith("Error: Multiple matches VMs found")
    ok(host, "vm-uninstall", "uuid=" + clone, "--force")
    ok(host, "vm-destroy", "uuid=" + snap)
    # The prompt: anything but "yes" aborts and exits 0.
    code, out, _ = xe(host, "vm-uninstall", "uuid=" + vm, stdin="no\n")
    assert code == 0 and "Type 'yes' to continue" in out
    assert "Aborted (you typed: 'no')" in out
    assert ok(host, "vm-list", "uuid=" + vm, "--minimal") == vm + "\n"
    out = ok(host, "vm-uninstall", "uuid=" + vm, stdin="yes\n")
    assert "All objects destroyed" in out
    assert ok(host, "vm-list", "uuid=" + vm, "--minimal") == "\n"


BAR_DONE = re.compile(r"\r 100%   #{40}\n$")


def xe_bar(host, *args):
    """Runs xe keeping stderr as it came: text mode would turn the bar's
    carriage returns into newlines."""
    env = dict(os.environ, XE_SOCKET=host.socket_path, HOME="/nonexistent")
    env.pop("XE_EXTRA_ARGS", None)
    r = subprocess.run([str(build_dir() / "xe"), *args], env=env, capture_output=True,
                       timeout=XE_TIMEOUT)
    return r.returncode, r.stdout.decode(), r.stderr.decode()


def tasks(host):
    return set(filter(None, ok(host, "task-list", "--minimal").strip().split(",")))


def test_progress_runs_long_operations_as_tasks(host):
    vm = new_vm(host, "prog")
    before = tasks(host)
    code, out, err = xe_bar(host, "vm-start", "uuid=" + vm, "--progress")
    assert code == 0, err
    # The bar is drawn on stderr, redrawn in place, and ends at 100 %.
    assert err.startswith("\r") and BAR_DONE.search(err), repr(err)
    assert out == ""
    assert ok(host, "vm-param-get", "uuid=" + vm, "param-name=power-state") == "running\n"
    # A failure is printed as without --progress, after the bar.
    code, _, err = xe_bar(host, "vm-start", "uuid=" + vm, "progress=true")
    assert code == 1
    assert err.split("\n")[1].startswith("You attempted an operation on a VM that was not in "
                                         "an appropriate power state"), repr(err)
    code, _, err = xe_bar(host, "vm-shutdown", "uuid=" + vm, "--force", "--progress")
    assert code == 0 and BAR_DONE.search(err), repr(err)
    assert ok(host, "vm-param-get", "uuid=" + vm, "param-name=power-state") == "halted\n"
    # A long operation returning a ref prints it as the plain command does;
    # progress= is not taken for a field filter.
    code, out, err = xe_bar(host, "vm-clone", "uuid=" + vm, "new-name-label=prog-clone",
                        "--progress")
    assert code == 0 and BAR_DONE.search(err), repr(err)
    clone = out.strip()
    assert ok(host, "vm-param-get", "uuid=" + clone, "param-name=name-label") == \
        "prog-clone\n"
    # The tasks were the commands' own: none is left behind.
    assert tasks(host) == before
    # Without --progress nothing is drawn.
    code, _, err = xe_bar(host, "vm-start", "uuid=" + vm)
    assert code == 0 and err == ""
    ok(host, "vm-shutdown", "uuid=" + vm, "--force")
    ok(host, "vm-destroy", "uuid=" + clone)
    ok(host, "vm-destroy", "uuid=" + vm)


def test_dom0_is_never_selected_by_filters(host):
    code, _, err = xe(host, "vm-shutdown", "is-control-domain=true")
    assert code == 1 and err == "Error: No matching VMs found\n"


def test_unimplemented_message_is_reported_like_xcp(host):
    code, out, err = xe(host, "pool-sync-database")
    assert code == 1
    assert err == "Error code: MESSAGE_NOT_IMPLEMENTED\nError parameters: pool.sync_database\n"


def test_host_pool_task_message_commands(host):
    hosts = ok(host, "host-list", "--minimal").strip()
    assert re.fullmatch(UUID, hosts)
    ok(host, "host-cpu-info")
    pool = ok(host, "pool-list", "--minimal").strip()
    ok(host, "pool-param-set", "uuid=" + pool, "name-label=my pool")
    assert ok(host, "pool-param-get", "uuid=" + pool, "param-name=name-label") == "my pool\n"
    ok(host, "message-create", "name=hello", "priority=3", "body=b", "host-uuid=" + hosts)
    msg = ok(host, "message-list", "name=hello", "--minimal").strip()
    assert re.fullmatch(UUID, msg)
    ok(host, "message-destroy", "uuid=" + msg)
    assert ok(host, "message-list", "name=hello", "--minimal") == "\n"
    ok(host, "task-list")
    # event-wait returns at once when the condition already holds.
    ok(host, "event-wait", "class=host", "uuid=" + hosts)
    code, _, err = xe(host, "event-wait", "class=host", "nofield=1")
    assert code == 1 and err == "Error: key missing: nofield\n"


def test_usage_errors(host):
    code, _, err = xe(host, "frobnicate")
    assert code == 1 and err == "Unknown command: frobnicate\nFor usage run: 'xe help'\n"
    code, _, err = xe(host, "vm-clone")
    assert code == 1
    assert err == "Required parameter not found: new-name-label\nFor usage run: 'xe help'\n"
    code, _, err = xe(host, "vm-list", "-z")
    assert code == 1 and err == "Syntax error: \nFor usage run: 'xe help'\n"


def test_help(host):
    names = ok(host, "help", "--minimal", "--all").strip().split(",")
    assert "vm-list" in names and "vm-start" in names and "help" in names
    out = ok(host, "help", "vm-shutdown")
    assert out.startswith("command name            : vm-shutdown\n"
                          "        reqd params     : \n"
                          "        optional params : force, <vm-selectors>\n")
    assert ok(host, "help").startswith("Usage: xe <command>")
    code, out, err = xe(host)
    assert code == 0 and out.startswith("Usage")
    assert ok(host, "-version") == "ThinCLI protocol: 0.2\n"


def test_tcp_and_tls_need_the_password(host):
    for remote in ("http", "https"):
        assert re.fullmatch(UUID + "\n", ok(host, "host-list", "--minimal", remote=remote))
    argv = ["host-list", "-s", "127.0.0.1", "-p", str(host.http_port), "--nossl", "-pw", "wrong"]
    code, _, err = xe(host, *argv)
    assert code == 1 and err == "Authentication failed\nFor usage run: 'xe help'\n"


def test_extra_args_and_rc_file(host, tmp_path):
    (tmp_path / ".xe").write_text("minimal=true\n")
    out = ok(host, "host-list", env={"HOME": str(tmp_path)})
    assert re.fullmatch(UUID + "\n", out)
    (tmp_path / ".xe").write_text("garbage\n")
    code, out, err = xe(host, "host-list", env={"HOME": str(tmp_path)})
    assert code == 0 and "Error parsing rc file. No defaults loaded" in err
    env = {"XE_EXTRA_ARGS": "server=127.0.0.1,port=%d,nossl=true,password=%s" %
           (host.http_port, PASSWORD), "XE_SOCKET": "/nonexistent"}
    assert re.fullmatch(UUID + "\n", ok(host, "host-list", "--minimal", env=env))


def test_password_file(host, tmp_path):
    pwf = tmp_path / "pw"
    pwf.write_text("root\n%s\n" % PASSWORD)
    out = ok(host, "host-list", "--minimal", "-s", "127.0.0.1", "-p", str(host.http_port),
             "--nossl", "-pwf", str(pwf))
    assert re.fullmatch(UUID + "\n", out)
    pwf.write_text("root\n")
    code, _, err = xe(host, "host-list", "-s", "127.0.0.1", "-pwf", str(pwf))
    assert code == 1 and "password file format" in err


# -- the protocol from a raw socket

def raw_request(host, body, handshake=True):
    s = socket.socket(socket.AF_UNIX)
    s.settimeout(XE_TIMEOUT)
    s.connect(host.socket_path)
    s.sendall(b"POST /cli HTTP/1.0\r\ncontent-length: %d\r\n\r\n" % len(body) + body)
    return s


def read_exact(s, n):
    buf = b""
    while len(buf) < n:
        chunk = s.recv(n - len(buf))
        if not chunk:
            break
        buf += chunk
    return buf


def still_serving(host):
    assert re.fullmatch(UUID + "\n", ok(host, "host-list", "--minimal"))


def test_server_sends_handshake_and_exit(host):
    s = raw_request(host, b"host-list\n--minimal\nusername=root\npassword=")
    hs = read_exact(s, 35)
    assert hs == PREFIX + struct.pack("<ii", 0, 2)
    s.sendall(hs)
    msgs = []
    while True:
        (n,) = struct.unpack("<i", read_exact(s, 4))
        payload = read_exact(s, n)
        kind, tag = struct.unpack("<ii", payload[:8])
        msgs.append((kind, tag))
        if tag == 4:
            assert struct.unpack("<i", payload[8:12]) == (0,)
            break
    assert msgs[0] == (9, 0) and msgs[-1] == (9, 4)
    s.close()


def test_garbage_handshake_and_hangups_leave_xapi_serving(host):
    s = raw_request(host, b"vm-list\nusername=root\npassword=")
    read_exact(s, 35)
    s.sendall(b"GARBAGE" * 5)
    s.close()
    s = raw_request(host, b"vm-list\nusername=root\npassword=")
    s.close()  # before the handshake
    s = raw_request(host, b"event-wait\nclass=host\nuuid=none\nusername=root\npassword=")
    hs = read_exact(s, 35)
    s.sendall(hs)
    s.close()  # while the command blocks
    still_serving(host)


def test_body_over_the_cap_is_refused(host):
    body = b"vm-list\n" + b"x=" + b"y" * (210 * 1024)
    s = raw_request(host, body)
    answer = read_exact(s, 12)
    assert answer.startswith(b"HTTP/1.1 413")
    s.close()
    still_serving(host)


def test_http_answer_instead_of_handshake(host, tmp_path):
    # A plain HTTP server (not xapi): the client must say so and exit 1.
    srv = socket.socket(socket.AF_UNIX)
    path = str(tmp_path / "http.sock")
    srv.bind(path)
    srv.listen(1)
    proc = subprocess.Popen([str(build_dir() / "xe"), "vm-list"],
                            env=dict(os.environ, XE_SOCKET=path, HOME="/nonexistent"),
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        srv.settimeout(XE_TIMEOUT)
        c, _ = srv.accept()
        c.settimeout(XE_TIMEOUT)
        req = b""
        while b"\r\n\r\n" not in req:
            req += c.recv(4096)
        head, body = req.split(b"\r\n\r\n", 1)
        length = int(re.search(rb"content-length: (\d+)", head).group(1))
        while len(body) < length:
            body += c.recv(4096)
        c.sendall(b"HTTP/1.1 404 Not Found\r\ncontent-length: 0\r\n\r\n")
        c.close()
        _, err = proc.communicate(timeout=XE_TIMEOUT)
        assert proc.returncode == 1 and err == "Server internal error.\n"
    finally:
        proc.kill()
        proc.wait()
        srv.close()


def test_xapi_survives_kill_and_restart_for_xe(host):
    host.kill9()
    host.start()
    still_serving(host)
