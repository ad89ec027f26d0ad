"""Replies leave only from before_sleep, after the subsystems' hooks (the AOF
flush and fsync): otherwise `appendfsync always` could acknowledge a write
that is not on disk yet. In process, over a real socketpair."""

import select
import socket

from engine.client import Client
from engine.config import Config
from engine.server import Server


def _drain(sock):
    out = b""
    while True:
        try:
            chunk = sock.recv(65536)
        except BlockingIOError:
            return out
        if not chunk:
            return out
        out += chunk


def test_socket_draining_does_not_send_replies_before_the_aof_hooks():
    srv = Server(Config())
    ours, peer = socket.socketpair()
    ours.setblocking(False)
    peer.setblocking(False)
    try:
        c = Client(srv, ours, "test:1", "test:2")
        srv.clients[c.fd] = c
        srv.loop.ep.register(c.fd, select.EPOLLIN | select.EPOLLOUT)
        # A client whose earlier output waited for the socket to drain, and
        # a reply of this iteration (a write the AOF has not synced yet).
        c.wpending = memoryview(b"earlier-reply\r\n")
        c.wbuf = [b"+OK\r\n"]
        c.wbuf_bytes = 5
        seen_by_hook = []
        srv.before_sleep_hooks.append(lambda: seen_by_hook.append(_drain(peer)))

        srv.loop.handle_writable(c)  # EPOLLOUT fired in the middle of the event dispatch
        assert _drain(peer) == b"earlier-reply\r\n"
        assert c in srv.pending_writes

        srv.before_sleep()
        assert seen_by_hook == [b""], "the reply left before the AOF hook ran"
        assert _drain(peer) == b"+OK\r\n"
    finally:
        ours.close()
        peer.close()
