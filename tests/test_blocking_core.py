"""The blocking core in process, without sockets: the timeout heap, and a
waiter whose serving raises."""

import time

# ---- the blocking core alone (in process) ----------------------------------------------


class _FakeClient:
    def __init__(self):
        self.blocked = None
        self.deferred = None
        self.closed = False
        self.out = []

    def write(self, data):
        self.out.append(data)


def test_timeout_heap_does_not_grow_with_served_clients():
    from engine.config import Config
    from engine.server import Server

    srv = Server(Config())
    blk = srv.blocking
    db = srv.keyspace.dbs[0]
    far = int(time.time() * 1000) + 3_600_000
    clients = [_FakeClient() for _ in range(5)]
    for i in range(5000):
        c = clients[i % 5]
        blk.block(c, db, [b"k"], far, lambda *a: None, lambda c: b"*-1\r\n")
        blk.unblock(c, b"+served\r\n")
    assert blk.blocked_clients == 0
    assert len(blk._timeouts) < 3000  # stale entries are swept, not kept for an hour
    assert blk.clients_in_timeout_table() == 0
    c = clients[0]
    blk.block(c, db, [b"k"], far, lambda *a: None, lambda c: b"*-1\r\n")
    assert blk.clients_in_timeout_table() == 1
    assert blk.ms_to_next_timeout(far - 1000) == 1001
    blk.check_timeouts(far + 1)
    assert c.blocked is None and c.out[-1] == b"*-1\r\n"
    assert blk.clients_in_timeout_table() == 0
    assert blk.ms_to_next_timeout(far) is None


def test_a_waiter_whose_serving_raises_gets_an_error_and_the_rest_are_served():
    """In-process: a bug while serving one blocked client (a raising serve
    function stands in for it) answers that client with an error; the next
    waiter on the key is still served and the pushing client is unharmed."""
    from engine.client import Client
    from engine.config import Config
    from engine.server import Server

    class NullSock:
        def fileno(self):
            return -1

    srv = Server(Config())
    a, b, pusher = (Client(srv, NullSock(), "127.0.0.1:%d" % i, "127.0.0.1:1") for i in (2, 3, 4))
    for c in (a, b):
        srv.process_input(c, b"*3\r\n$5\r\nBLPOP\r\n$1\r\nq\r\n$1\r\n0\r\n")
        assert c.blocked is not None

    def broken(*_args):
        raise RuntimeError("bug in a serve function")

    a.blocked.serve = broken
    srv.process_input(pusher, b"*3\r\n$5\r\nRPUSH\r\n$1\r\nq\r\n$1\r\nx\r\n")
    assert b"".join(pusher.wbuf) == b":1\r\n"
    assert b"".join(a.wbuf).startswith(b"-ERR internal error serving the blocked command")
    assert b"".join(b.wbuf) == b"*2\r\n$1\r\nq\r\n$1\r\nx\r\n"
    assert a.blocked is None and b.blocked is None
