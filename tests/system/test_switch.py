"""The pool network's hub (xenhost.Switch) with plain sockets standing in
for QEMU's -netdev stream clients: each frame reaches every other host,
whole, and never comes back to its sender."""

import socket
import struct

from xenhost import Switch, wait_until


def _client(path):
    c = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    c.settimeout(10)
    c.connect(path)
    return c


def _frame(payload):
    return struct.pack(">I", len(payload)) + payload


def _read_frame(c):
    head = b""
    while len(head) < 4:
        head += c.recv(4 - len(head))
    n = struct.unpack(">I", head)[0]
    body = b""
    while len(body) < n:
        body += c.recv(n - len(body))
    return body


def test_a_frame_reaches_every_other_host_and_not_its_sender(tmp_path):
    sw = Switch(tmp_path / "pool.sock")
    clients = []
    try:
        clients = [_client(sw.path) for _ in range(3)]
        wait_until(lambda: len(sw.peers) == 3, 10, 0.05, "three peers")
        big = bytes(range(256)) * 6  # a full-size Ethernet frame, 1536 bytes
        # Sent in two pieces: the hub must reassemble, not relay pieces.
        data = _frame(big)
        clients[0].sendall(data[:700])
        clients[0].sendall(data[700:])
        assert _read_frame(clients[1]) == big
        assert _read_frame(clients[2]) == big
        clients[0].settimeout(0.5)
        try:
            got = clients[0].recv(1)
        except socket.timeout:
            got = None
        assert got is None, "the sender got its own frame back"
        # A host that leaves is forgotten; the others still talk.
        clients[2].close()
        wait_until(lambda: len(sw.peers) == 2, 10, 0.05, "the peer to go")
        clients[1].sendall(_frame(b"hello"))
        clients[0].settimeout(10)
        assert _read_frame(clients[0]) == b"hello"
    finally:
        for c in clients:
            c.close()
        sw.close()
