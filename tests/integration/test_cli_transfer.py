"""The thin client's file transfers at the protocol level (xe-cli.md 5): a
fake server in this test speaks the thin CLI protocol on a Unix socket,
asks xe for Load, HttpGet and HttpPut, and serves the HTTP side channel on
the same socket. xe must move files the user named (or, for a download, a
new file in the current directory), create downloads exclusively with mode
0600, follow redirects, and refuse any other file with `File not
permitted`."""

import os
import socket
import stat
import struct
import subprocess
import threading

import pytest

from xeniatest import build_dir

XE_TIMEOUT = 30
PREFIX = b"XenSource thin CLI protocol"
COMMAND, RESPONSE, BLOB = 9, 10, 11
LOAD, EXIT, HTTP_GET, HTTP_PUT = 1, 4, 12, 13
OK, FAILED = 5, 6
CHUNK, END = 7, 8


def s32(v):
    return struct.pack("<I", v)


def pstr(s):
    b = s.encode()
    return s32(len(b)) + b


def frame(payload):
    return s32(len(payload)) + payload


def recv_exact(conn, n):
    buf = b""
    while len(buf) < n:
        part = conn.recv(n - len(buf))
        if not part:
            raise EOFError("peer closed")
        buf += part
    return buf


def recv_frame(conn):
    n = struct.unpack("<I", recv_exact(conn, 4))[0]
    return recv_exact(conn, n)


def read_http_head(conn):
    head = b""
    while b"\r\n\r\n" not in head:
        part = conn.recv(1)
        if not part:
            raise EOFError("peer closed in the head")
        head += part
    return head.decode()


class FakeServer:
    """A thin CLI server whose script (a function of the connection) runs
    for POST /cli; GET and PUT are answered from self.files and recorded in
    self.uploads. Every socket has a timeout, so a stuck xe fails the test
    instead of hanging it."""

    def __init__(self, path, script):
        self.path = path
        self.script = script
        self.responses = []
        self.uploads = {}
        self.files = {}
        self.redirects = {}
        self.errors = []
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.bind(path)
        self.sock.listen(8)
        self.sock.settimeout(XE_TIMEOUT)
        self.stopping = False
        self.thread = threading.Thread(target=self.serve, daemon=True)
        self.thread.start()

    def serve(self):
        while not self.stopping:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            threading.Thread(target=self.handle, args=(conn,), daemon=True).start()

    def handle(self, conn):
        conn.settimeout(XE_TIMEOUT)
        try:
            head = read_http_head(conn)
            method, path = head.split(" ")[:2]
            length = 0
            for line in head.split("\r\n")[1:]:
                if line.lower().startswith("content-length:"):
                    length = int(line.split(":", 1)[1])
            if method == "POST" and path == "/cli":
                recv_exact(conn, length)
                conn.sendall(PREFIX + s32(0) + s32(2))
                recv_exact(conn, len(PREFIX) + 8)
                self.script(self, conn)
            elif path in self.redirects:
                conn.sendall(("HTTP/1.0 302 Found\r\nlocation: %s\r\n\r\n"
                              % self.redirects[path]).encode())
            elif method == "GET" and path in self.files:
                data = self.files[path]
                conn.sendall(b"HTTP/1.0 200 OK\r\ncontent-length: %d\r\n\r\n" % len(data) + data)
            elif method == "PUT":
                conn.sendall(b"HTTP/1.0 200 OK\r\n\r\n")
                data = b""
                while len(data) < length:
                    part = conn.recv(65536)
                    if not part:
                        break
                    data += part
                self.uploads[path] = data
            else:
                conn.sendall(b"HTTP/1.0 404 Not Found\r\n\r\n")
        except Exception as e:  # reported by the test through self.errors
            self.errors.append(repr(e))
        finally:
            conn.close()

    def command(self, conn, tag, *strings):
        conn.sendall(frame(s32(COMMAND) + s32(tag) + b"".join(pstr(s) for s in strings)))

    def response(self, conn):
        f = recv_frame(conn)
        kind, value = struct.unpack("<II", f[:8])
        assert kind == RESPONSE
        self.responses.append(value)
        return value

    def blobs(self, conn):
        data = b""
        while True:
            f = recv_frame(conn)
            kind, tag = struct.unpack("<II", f[:8])
            assert kind == BLOB
            if tag == END:
                return data
            data += recv_exact(conn, struct.unpack("<I", f[8:12])[0])

    def exit(self, conn, code=0):
        conn.sendall(frame(s32(COMMAND) + s32(EXIT) + s32(code)))

    def close(self):
        self.stopping = True
        # shutdown() wakes the accept() blocked in the serving thread.
        try:
            self.sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        self.sock.close()
        self.thread.join(timeout=XE_TIMEOUT)


@pytest.fixture
def place(tmp_path):
    """A work folder (xe's current directory) and a socket path."""
    work = tmp_path / "work"
    work.mkdir()
    return tmp_path, work, str(tmp_path / "cli.sock")


def run_xe(sock, cwd, *args):
    env = dict(os.environ, XE_SOCKET=sock, HOME="/nonexistent")
    env.pop("XE_EXTRA_ARGS", None)
    r = subprocess.run([str(build_dir() / "xe"), *args], env=env, cwd=cwd, capture_output=True,
                       text=True, timeout=XE_TIMEOUT)
    return r.returncode, r.stdout, r.stderr


def serve(sock, script):
    return FakeServer(sock, script)


def test_get_into_a_named_file(place):
    tmp, work, sock = place
    target = tmp / "out.img"

    def script(srv, conn):
        srv.command(conn, HTTP_GET, str(target), "/export?uuid=1")
        srv.exit(conn, 0 if srv.response(conn) == OK else 1)

    srv = serve(sock, script)
    srv.files["/export?uuid=1"] = b"disk image bytes" * 1000
    try:
        code, _, err = run_xe(sock, work, "vm-export", "filename=" + str(target))
    finally:
        srv.close()
    assert code == 0, err
    assert srv.responses == [OK] and not srv.errors
    assert target.read_bytes() == b"disk image bytes" * 1000
    assert stat.S_IMODE(target.stat().st_mode) == 0o600


def test_get_follows_a_redirect_to_another_url(place):
    tmp, work, sock = place
    target = tmp / "moved.img"

    def script(srv, conn):
        srv.command(conn, HTTP_GET, str(target), "/first")
        srv.exit(conn, 0 if srv.response(conn) == OK else 1)

    srv = serve(sock, script)
    srv.redirects["/first"] = "/second"
    srv.files["/second"] = b"after the redirect"
    try:
        code, _, err = run_xe(sock, work, "vm-export", "filename=" + str(target))
    finally:
        srv.close()
    assert code == 0, err
    assert target.read_bytes() == b"after the redirect"


def test_get_into_the_current_directory_is_allowed(place):
    _, work, sock = place

    def script(srv, conn):
        srv.command(conn, HTTP_GET, "fresh.bin", "/data")
        srv.exit(conn, 0 if srv.response(conn) == OK else 1)

    srv = serve(sock, script)
    srv.files["/data"] = b"x"
    try:
        code, _, err = run_xe(sock, work, "vm-export")
    finally:
        srv.close()
    assert code == 0, err
    assert (work / "fresh.bin").read_bytes() == b"x"


def test_get_of_a_file_not_on_the_command_line_is_refused(place):
    tmp, work, sock = place
    evil = tmp / "elsewhere" / "authorized_keys"
    evil.parent.mkdir()

    def script(srv, conn):
        srv.command(conn, HTTP_GET, str(evil), "/data")
        srv.exit(conn, 0 if srv.response(conn) == OK else 1)

    srv = serve(sock, script)
    srv.files["/data"] = b"ssh-rsa attacker"
    try:
        code, _, err = run_xe(sock, work, "vm-export", "filename=" + str(tmp / "mine.img"))
    finally:
        srv.close()
    assert "File not permitted: " + str(evil) in err
    assert srv.responses == [FAILED]
    assert code == 1
    assert not evil.exists()


def test_get_through_dotdot_out_of_the_current_directory_is_refused(place):
    tmp, work, sock = place

    def script(srv, conn):
        srv.command(conn, HTTP_GET, "../escaped", "/data")
        srv.exit(conn, 0 if srv.response(conn) == OK else 1)

    srv = serve(sock, script)
    srv.files["/data"] = b"x"
    try:
        code, _, err = run_xe(sock, work, "vm-export")
    finally:
        srv.close()
    assert "File not permitted" in err and code == 1
    assert not (tmp / "escaped").exists()


def test_get_never_overwrites_an_existing_file(place):
    tmp, work, sock = place
    target = tmp / "precious"
    target.write_bytes(b"keep me")

    def script(srv, conn):
        srv.command(conn, HTTP_GET, str(target), "/data")
        srv.exit(conn, 0 if srv.response(conn) == OK else 1)

    srv = serve(sock, script)
    srv.files["/data"] = b"overwritten"
    try:
        code, _, err = run_xe(sock, work, "vm-export", "filename=" + str(target))
    finally:
        srv.close()
    assert code == 1 and srv.responses == [FAILED]
    assert "File exists" in err
    assert target.read_bytes() == b"keep me"


def test_get_does_not_follow_a_symlink(place):
    tmp, work, sock = place
    victim = tmp / "victim"
    link = tmp / "link"
    link.symlink_to(victim)

    def script(srv, conn):
        srv.command(conn, HTTP_GET, str(link), "/data")
        srv.exit(conn, 0 if srv.response(conn) == OK else 1)

    srv = serve(sock, script)
    srv.files["/data"] = b"through the link"
    try:
        code, _, _ = run_xe(sock, work, "vm-export", "filename=" + str(link))
    finally:
        srv.close()
    assert code == 1 and srv.responses == [FAILED]
    assert not victim.exists()


def test_get_to_stdout_with_an_empty_name(place):
    _, work, sock = place

    def script(srv, conn):
        srv.command(conn, HTTP_GET, "", "/data")
        srv.exit(conn, 0 if srv.response(conn) == OK else 1)

    srv = serve(sock, script)
    srv.files["/data"] = b"to stdout"
    try:
        code, out, err = run_xe(sock, work, "vm-export")
    finally:
        srv.close()
    assert code == 0, err
    assert out == "to stdout"


def test_failed_get_leaves_no_file(place):
    tmp, work, sock = place
    target = tmp / "missing.img"

    def script(srv, conn):
        srv.command(conn, HTTP_GET, str(target), "/nowhere")
        srv.exit(conn, 0 if srv.response(conn) == OK else 1)

    srv = serve(sock, script)
    try:
        code, _, err = run_xe(sock, work, "vm-export", "filename=" + str(target))
    finally:
        srv.close()
    assert code == 1 and srv.responses == [FAILED]
    assert "404" in err
    assert not target.exists()


def test_put_of_a_named_file(place):
    tmp, work, sock = place
    source = tmp / "in.img"
    source.write_bytes(bytes(range(256)) * 500)

    def script(srv, conn):
        srv.command(conn, HTTP_PUT, str(source), "/import?sr=1")
        srv.exit(conn, 0 if srv.response(conn) == OK else 1)

    srv = serve(sock, script)
    try:
        code, _, err = run_xe(sock, work, "vm-import", "filename=" + str(source))
    finally:
        srv.close()
    assert code == 0, err
    assert srv.uploads["/import?sr=1"] == bytes(range(256)) * 500


def test_put_of_a_file_not_on_the_command_line_is_refused(place):
    tmp, work, sock = place
    secret = tmp / "shadow"
    secret.write_bytes(b"root:hash")
    named = tmp / "named.img"
    named.write_bytes(b"ok")

    def script(srv, conn):
        srv.command(conn, HTTP_PUT, str(secret), "/import")
        srv.exit(conn, 0 if srv.response(conn) == OK else 1)

    srv = serve(sock, script)
    try:
        code, _, err = run_xe(sock, work, "vm-import", "filename=" + str(named))
    finally:
        srv.close()
    assert "File not permitted: " + str(secret) in err
    assert srv.responses == [FAILED] and code == 1
    assert srv.uploads == {}


def test_put_from_the_current_directory_needs_the_name_too(place):
    # Only downloads may use the current directory without being named.
    _, work, sock = place
    (work / "local.img").write_bytes(b"data")

    def script(srv, conn):
        srv.command(conn, HTTP_PUT, "local.img", "/import")
        srv.exit(conn, 0 if srv.response(conn) == OK else 1)

    srv = serve(sock, script)
    try:
        code, _, err = run_xe(sock, work, "vm-import")
    finally:
        srv.close()
    assert "File not permitted" in err and code == 1
    assert srv.uploads == {}


def test_load_of_a_file_not_on_the_command_line_is_refused(place):
    tmp, work, sock = place
    secret = tmp / "secret"
    secret.write_bytes(b"private")

    def script(srv, conn):
        srv.command(conn, LOAD, str(secret))
        srv.exit(conn, 0 if srv.response(conn) == OK else 1)

    srv = serve(sock, script)
    try:
        code, _, err = run_xe(sock, work, "patch-upload", "file-name=" + str(tmp / "other"))
    finally:
        srv.close()
    assert "File not permitted" in err and code == 1
    assert srv.responses == [FAILED]


def test_load_of_a_named_file_through_another_path(place):
    tmp, work, sock = place
    f = tmp / "conf"
    f.write_bytes(b"contents")
    got = {}

    def script(srv, conn):
        srv.command(conn, LOAD, str(tmp / "work" / ".." / "conf"))
        if srv.response(conn) == OK:
            got["data"] = srv.blobs(conn)
        srv.exit(conn, 0)

    srv = serve(sock, script)
    try:
        code, _, err = run_xe(sock, work, "patch-upload", "file-name=" + str(f))
    finally:
        srv.close()
    assert code == 0, err
    assert got["data"] == b"contents"
