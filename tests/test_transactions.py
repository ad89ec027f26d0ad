"""MULTI/EXEC/DISCARD/WATCH with Redis 7.0's replies, and how a transaction
travels on the write stream (as MULTI ... EXEC)."""

import time

import pytest
import redis

from engine.protocol import RequestParser


def test_multi_exec_queues_and_runs(hf):
    assert hf.execute_command("MULTI") == b"OK"
    assert hf.execute_command("ECHO", "1") == b"QUEUED"  # ECHO: redis-py keeps the raw reply
    assert hf.execute_command("GET", "a") == b"QUEUED"
    assert hf.execute_command("EXEC") == [b"1", None]


def test_exec_discard_without_multi(hf):
    with pytest.raises(redis.ResponseError, match="EXEC without MULTI"):
        hf.execute_command("EXEC")
    with pytest.raises(redis.ResponseError, match="DISCARD without MULTI"):
        hf.execute_command("DISCARD")


def test_nested_multi_and_watch_inside_multi(hf):
    hf.execute_command("MULTI")
    with pytest.raises(redis.ResponseError, match="MULTI calls can not be nested"):
        hf.execute_command("MULTI")
    with pytest.raises(redis.ResponseError, match="WATCH inside MULTI is not allowed"):
        hf.execute_command("WATCH", "x")
    assert hf.execute_command("DISCARD") == b"OK"


def test_queue_time_error_aborts(hf):
    hf.execute_command("MULTI")
    hf.execute_command("SET", "a", "1")
    with pytest.raises(redis.ResponseError, match="unknown command"):
        hf.execute_command("NOSUCH")
    with pytest.raises(redis.exceptions.ExecAbortError, match="discarded because of previous errors"):
        hf.execute_command("EXEC")
    assert hf.get("a") is None


def test_runtime_error_does_not_abort(hf):
    hf.set("s", "notanumber")
    pipe = hf.pipeline(transaction=True)
    pipe.set("a", "1").incr("s").set("b", "2")
    res = pipe.execute(raise_on_error=False)
    assert res[0] is True and isinstance(res[1], redis.ResponseError) and res[2] is True
    assert hf.get("b") == b"2"


def test_watch_detects_other_client(hf_server):
    a, b = hf_server.client(), hf_server.client()
    a.set("w", "1")
    a.execute_command("WATCH", "w")
    b.set("w", "2")
    a.execute_command("MULTI")
    a.execute_command("SET", "w", "3")
    assert a.execute_command("EXEC") is None
    assert a.get("w") == b"2"


def test_watch_unwatch_and_untouched(hf_server):
    a, b = hf_server.client(), hf_server.client()
    a.execute_command("WATCH", "w")
    b.set("w", "x")
    a.execute_command("UNWATCH")
    a.execute_command("MULTI")
    a.execute_command("SET", "w", "mine")
    assert a.execute_command("EXEC") == [b"OK"]


def test_watch_flushall_and_expiry(hf_server):
    a, b = hf_server.client(), hf_server.client()
    a.set("w", "1")
    a.execute_command("WATCH", "w")
    b.execute_command("FLUSHALL")
    a.execute_command("MULTI")
    a.execute_command("PING")
    assert a.execute_command("EXEC") is None
    a.set("e", "1", px=50)
    a.execute_command("WATCH", "e")
    time.sleep(0.1)
    a.execute_command("MULTI")
    a.execute_command("PING")
    assert a.execute_command("EXEC") is None


def test_exec_null_reply_shapes(hf_server):
    for proto, null in ((2, b"*-1\r\n"), (3, b"_\r\n")):
        import socket
        s = socket.create_connection(("127.0.0.1", hf_server.port))
        s.settimeout(3)
        s.sendall(b"HELLO %d\r\n" % proto)
        time.sleep(0.1)
        s.recv(65536)
        s.sendall(b"WATCH k\r\n")
        assert s.recv(100) == b"+OK\r\n"
        hf_server.client().set("k", "changed")
        s.sendall(b"MULTI\r\nEXEC\r\n")
        time.sleep(0.1)
        assert s.recv(100) == b"+OK\r\n" + null
        s.close()


def test_transaction_propagates_as_multi_exec(holdfast_factory):
    r = holdfast_factory().client()
    r.execute_command("DEBUG", "PROPAGATED", "START")
    pipe = r.pipeline(transaction=True)
    pipe.set("a", "1").get("a").set("b", "2")
    pipe.execute()
    pipe = r.pipeline(transaction=True)
    pipe.get("a").get("b")  # read-only: nothing propagated
    pipe.execute()
    cmds = RequestParser().parse(r.execute_command("DEBUG", "PROPAGATED", "GET"))
    assert cmds == [[b"SELECT", b"0"], [b"MULTI"], [b"SET", b"a", b"1"], [b"SET", b"b", b"2"], [b"EXEC"]]


def test_queue_time_rejections_like_redis(hf_server, real_redis_server):
    """Commands Redis flags no-multi (SHUTDOWN, SAVE, SYNC, PSYNC) are refused
    at queue time, and so are unknown subcommands and subcommands with the
    wrong arity; each aborts the EXEC. Byte for byte with redis-server, and
    the server is still up afterwards (SHUTDOWN did not run)."""
    from rawresp import RawConn

    script = [("MULTI",), ("SET", "k", "v"), ("SHUTDOWN",), ("SHUTDOWN", "NOSAVE"), ("CLIENT", "NOSUCH"),
              ("CONFIG", "GET"), ("OBJECT", "FREQ"), ("EXEC",),
              ("MULTI",), ("SHUTDOWN",), ("DISCARD",), ("EXISTS", "k"), ("PING",)]
    replies = []
    for port in (hf_server.port, real_redis_server.port):
        conn = RawConn(port)
        conn("DEL", "k")
        replies.append([conn(*cmd) for cmd in script])
        conn.close()
    assert replies[0] == replies[1]
    assert replies[0][2] == b"-ERR Command not allowed inside a transaction\r\n"
    assert replies[0][4] == b"-ERR unknown subcommand 'NOSUCH'. Try CLIENT HELP.\r\n"
    assert replies[0][-1] == b"+PONG\r\n"


def test_exec_abort_error_discards_the_transaction():
    """What Server._reject makes of a refused EXEC (Redis's execCommandAbort):
    the transaction and the WATCHes go, the refusal's ERR prefix goes, other
    prefixes stay."""
    from engine.commands.transactions import exec_abort_error

    class Client:
        multi_queue = [("cmd", [b"SET", b"k", b"v"])]
        multi_error = True
        watched_keys = None
        flags = {"d"}

        def update_gate(self):
            self.gate_updated = True

    c = Client()
    assert exec_abort_error(c, b"ERR wrong number of arguments for 'exec' command") == \
        b"EXECABORT Transaction discarded because of: wrong number of arguments for 'exec' command"
    assert c.multi_queue is None and c.multi_error is False and c.gate_updated
    assert exec_abort_error(c, "NOAUTH Authentication required.") == \
        b"EXECABORT Transaction discarded because of: NOAUTH Authentication required."


@pytest.mark.interop
def test_refused_exec_aborts_like_redis(hf_server, real_redis_server):
    """An EXEC refused before it runs (wrong arity, NOAUTH) answers
    `EXECABORT Transaction discarded because of: ...` and discards the
    transaction and the WATCHes, inside MULTI or not, byte for byte with
    redis-server 7.0."""
    from rawresp import RawConn

    script = [("EXEC", "x"), ("EXEC",), ("MULTI",), ("SET", "k", "v"), ("EXEC", "x"), ("EXEC",), ("GET", "k"),
              ("SET", "w", "1"), ("WATCH", "w"), ("EXEC", "x"), ("MULTI",), ("EXEC",),
              ("DISCARD", "x"), ("MULTI",), ("DISCARD", "x"), ("EXEC",)]
    noauth = [("EXEC",), ("EXEC", "x"), ("MULTI",), ("EXEC",), ("AUTH", "pw"), ("EXEC",)]
    replies = []
    for port in (hf_server.port, real_redis_server.port):
        conn = RawConn(port)
        conn("DEL", "k", "w")
        got = [conn(*cmd) for cmd in script]
        conn("CONFIG", "SET", "requirepass", "pw")
        other = RawConn(port)
        try:
            got += [other(*cmd) for cmd in noauth]
        finally:
            conn("CONFIG", "SET", "requirepass", "")  # conn authenticated before the password was set
            other.close()
            conn.close()
        replies.append(got)
    assert replies[0] == replies[1]
    assert replies[0][0] == (b"-EXECABORT Transaction discarded because of: wrong number of arguments for "
                             b"'exec' command\r\n")
    assert replies[0][5] == b"-ERR EXEC without MULTI\r\n"
    assert replies[0][len(script)] == (b"-EXECABORT Transaction discarded because of: "
                                       b"NOAUTH Authentication required.\r\n")
