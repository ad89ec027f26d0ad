"""The one write path: what `propagate()` emits (the stream the AOF and the
replicas get), replayed into an empty server, rebuilds the same keyspace,
byte for byte and with the same absolute expiry times."""

import socket
import time

from rawresp import RawConn, reply_end

from engine.protocol import RequestParser


def dataset(r, dbs=16):
    """Every key of every db with its type, value and absolute expiry (ms)."""
    out = {}
    for db in range(dbs):
        r.execute_command("SELECT", db)
        for key in r.keys("*"):
            t = r.type(key)
            assert t == b"string", "extend dataset() when more types are propagated"
            out[(db, key)] = (r.get(key), r.execute_command("PEXPIRETIME", key))
    r.execute_command("SELECT", 0)
    return out


def replay(port, stream):
    """Apply a propagated stream as a replica would: raw RESP over a socket."""
    with socket.create_connection(("127.0.0.1", port)) as s:
        s.sendall(stream + b"*1\r\n$4\r\nPING\r\n")
        s.settimeout(10)
        buf = b""
        while not buf.endswith(b"+PONG\r\n"):
            chunk = s.recv(65536)
            assert chunk, "replay connection closed"
            buf += chunk
    assert b"-" not in buf.replace(b"$-1", b""), buf[:500]


def commands_in(stream):
    return RequestParser().parse(stream)


def test_replayed_stream_rebuilds_keyspace(holdfast_factory):
    src = holdfast_factory()
    dst = holdfast_factory()
    r = src.client()
    r.execute_command("DEBUG", "PROPAGATED", "START")

    r.set("plain", "v1")
    r.set("ex", "v2", ex=100)
    r.set("px", "v3", px=100000)
    r.set("keep", "v4", ex=50)
    r.set("keep", "v5", keepttl=True)
    r.set("nx", "first", nx=True)
    r.set("nx", "second", nx=True)  # not applied: must not be propagated
    r.mset({"m1": "a", "m2": "b"})
    r.msetnx({"m1": "x", "m3": "y"})  # fails as a whole
    r.append("plain", "-appended")
    r.setrange("plain", 0, "V")
    r.incr("counter")
    r.incrby("counter", 41)
    r.decr("counter")
    r.set("float", "10.5")
    r.incrbyfloat("float", "0.1")
    r.expire("m1", 1000)
    r.pexpire("m2", 5000000)
    r.expireat("plain", int(time.time()) + 3600)
    r.persist("keep")
    r.getex("counter", px=123456)
    r.getset("gs", "new")
    r.getdel("m3")
    r.rename("gs", "renamed")
    r.copy("renamed", "copied")
    r.delete("nx")
    r.execute_command("SELECT", 3)
    r.set("in-db-3", "x", ex=1000)
    r.move("in-db-3", 5)
    r.execute_command("SELECT", 0)
    r.set("short", "gone", px=30)
    r.set("past", "x")
    r.expire("past", -1)  # a past expiry deletes the key now
    time.sleep(0.1)
    assert r.get("short") is None  # lazily expired: propagated as DEL

    stream = r.execute_command("DEBUG", "PROPAGATED", "GET")
    cmds = commands_in(stream)
    names = [c[0].upper() for c in cmds]
    assert names[0] == b"SELECT"
    # Deterministic rewrites: no relative expiries, no INCRBYFLOAT on the wire.
    for c in cmds:
        upper = [a.upper() for a in c]
        assert c[0].upper() not in (b"EXPIRE", b"PEXPIRE", b"SETEX", b"PSETEX", b"INCRBYFLOAT", b"EXPIREAT")
        assert b"EX" not in upper[3:] and b"PX" not in upper[3:]
    assert [b"DEL", b"short"] in cmds
    assert not any(c[0].upper() == b"SET" and c[1] == b"nx" and c[2] == b"second" for c in cmds)

    replay(dst.port, stream)
    assert dataset(dst.client()) == dataset(r)
    assert dst.client().execute_command("DEBUG", "DIGEST") == r.execute_command("DEBUG", "DIGEST")


def test_select_emitted_only_when_db_changes(holdfast_factory):
    r = holdfast_factory().client()
    r.execute_command("DEBUG", "PROPAGATED", "START")
    r.set("a", "1")
    r.set("b", "2")
    r.execute_command("SELECT", 2)
    r.set("c", "3")
    r.execute_command("SELECT", 0)
    r.set("d", "4")
    cmds = commands_in(r.execute_command("DEBUG", "PROPAGATED", "GET"))
    assert cmds == [[b"SELECT", b"0"], [b"SET", b"a", b"1"], [b"SET", b"b", b"2"],
                    [b"SELECT", b"2"], [b"SET", b"c", b"3"],
                    [b"SELECT", b"0"], [b"SET", b"d", b"4"]]


def test_reads_and_failed_writes_propagate_nothing(holdfast_factory):
    r = holdfast_factory().client()
    r.set("s", "v")
    r.execute_command("DEBUG", "PROPAGATED", "START")
    r.get("s")
    r.exists("s")
    r.set("s", "w", xx=False, nx=True)  # NX on an existing key: no effect
    try:
        r.incr("s")  # not an integer: an error, no effect
    except Exception:
        pass
    r.expire("missing", 10)
    r.delete("missing")
    assert r.execute_command("DEBUG", "PROPAGATED", "GET") == b""


def test_active_expiry_propagates_del(holdfast_factory):
    r = holdfast_factory("--hz", "100").client()
    r.execute_command("DEBUG", "PROPAGATED", "START")
    for i in range(20):
        r.set("k%d" % i, "v", px=20)
    deadline = time.time() + 5
    while r.dbsize() and time.time() < deadline:
        time.sleep(0.05)
    assert r.dbsize() == 0
    cmds = commands_in(r.execute_command("DEBUG", "PROPAGATED", "GET"))
    dels = {c[1] for c in cmds if c[0] == b"DEL"}
    assert dels == {b"k%d" % i for i in range(20)}


def _send_read(conn, *requests):
    """Send `requests` in one write (one read for the server); their replies."""
    payload = b"".join(b"*%d\r\n" % len(r) + b"".join(b"$%d\r\n%s\r\n" % (len(a), a) for a in r) for r in requests)
    conn.sock.sendall(payload)
    replies = []
    while len(replies) < len(requests):
        end = reply_end(conn.buf, 0)
        if end is None:
            conn.buf += conn.sock.recv(65536)
            continue
        replies.append(conn.buf[:end])
        conn.buf = conn.buf[end:]
    return replies


def test_writes_propagate_as_themselves_whatever_read_ran_them(holdfast_factory):
    """A SET that is a whole read of its own, or a run of SETs that is the
    whole read, is propagated as the bytes the client sent; nothing else
    may be: a queued SET run by an EXEC read, a SET run after its client
    unblocks, a run that is only part of its read."""
    srv = holdfast_factory()
    ctl = RawConn(srv.port)
    ctl("DEBUG", "PROPAGATED", "START")
    c = RawConn(srv.port)
    _send_read(c, [b"SET", b"a", b"1"])
    _send_read(c, [b"set", b"b", b"1"], [b"SET", b"c", b"2"])
    _send_read(c, [b"SET", b"d", b"1"], [b"GET", b"d"], [b"SET", b"e", b"2"], [b"SET", b"f", b"3"])
    _send_read(c, [b"MULTI"])
    _send_read(c, [b"SET", b"g", b"1"])
    assert _send_read(c, [b"EXEC"]) == [b"*1\r\n+OK\r\n"]
    blocked = RawConn(srv.port)
    blocked.sock.sendall(b"*3\r\n$5\r\nBLPOP\r\n$1\r\nq\r\n$1\r\n0\r\n")
    time.sleep(0.2)
    blocked.sock.sendall(b"*3\r\n$3\r\nSET\r\n$1\r\nh\r\n$1\r\n1\r\n")  # waits behind BLPOP
    time.sleep(0.2)
    ctl("RPUSH", "q", "x")
    blocked.sock.settimeout(10)
    got = b""
    while not got.endswith(b"+OK\r\n"):
        got += blocked.sock.recv(65536)
    cmds = commands_in(ctl("DEBUG", "PROPAGATED", "GET").split(b"\r\n", 1)[1][:-2])
    assert cmds == [[b"SELECT", b"0"], [b"SET", b"a", b"1"], [b"set", b"b", b"1"], [b"SET", b"c", b"2"],
                    [b"SET", b"d", b"1"], [b"SET", b"e", b"2"], [b"SET", b"f", b"3"],
                    [b"MULTI"], [b"SET", b"g", b"1"], [b"EXEC"],
                    [b"RPUSH", b"q", b"x"], [b"LPOP", b"q"], [b"SET", b"h", b"1"]]
