"""Expiry: EXPIRE family with NX/XX/GT/LT, TTL/PTTL/EXPIRETIME, PERSIST,
lazy and active expiry, and the propagated stream (relative -> absolute,
expired -> DEL) replaying to the same keyspace.

Clock-dependent behaviour is tested in-process on a Server whose `now_ms`
the test sets, so nothing here waits on wall time except one end-to-end
check of active expiry."""

import time

import pytest
import redis

from engine.config import Config
from engine.memory_sink import MemorySink
from engine.protocol import RequestParser
from engine.server import Server


def err(fn, *args):
    with pytest.raises(redis.ResponseError) as e:
        fn(*args)
    return str(e.value)


# ---- over sockets -------------------------------------------------------------------


def test_expire_ttl_persist(hf):
    hf.set("k", "v")
    assert hf.ttl("k") == -1
    assert hf.pttl("k") == -1
    assert hf.ttl("nokey") == -2
    assert hf.pttl("nokey") == -2
    assert hf.expire("k", 100) is True
    assert 99 <= hf.ttl("k") <= 100
    assert 99000 <= hf.pttl("k") <= 100000
    assert hf.pexpire("k", 200000) is True
    assert 199 <= hf.ttl("k") <= 200
    assert hf.expireat("k", 99999999999) is True
    assert hf.execute_command("EXPIRETIME", "k") == 99999999999
    assert hf.execute_command("PEXPIRETIME", "k") == 99999999999000
    assert hf.pexpireat("k", 99999999999123) is True
    assert hf.execute_command("EXPIRETIME", "k") == 99999999999  # rounded like TTL
    assert hf.execute_command("PEXPIRETIME", "nokey") == -2
    assert hf.persist("k") is True
    assert hf.persist("k") is False
    assert hf.persist("nokey") is False
    assert hf.execute_command("EXPIRETIME", "k") == -1
    assert hf.expire("nokey", 10) is False


def test_expire_flags(hf):
    hf.set("k", "v")
    assert hf.execute_command("EXPIRE", "k", "100", "XX") == 0  # no TTL yet
    assert hf.execute_command("EXPIRE", "k", "100", "GT") == 0  # no TTL counts as infinite
    assert hf.execute_command("EXPIRE", "k", "100", "LT") == 1
    assert hf.execute_command("EXPIRE", "k", "50", "NX") == 0
    assert hf.execute_command("EXPIRE", "k", "200", "GT") == 1
    assert hf.execute_command("EXPIRE", "k", "100", "GT") == 0
    assert hf.execute_command("EXPIRE", "k", "300", "LT") == 0
    assert hf.execute_command("EXPIRE", "k", "150", "lt") == 1
    assert 149 <= hf.ttl("k") <= 150
    assert hf.execute_command("EXPIRE", "k", "10", "XX", "GT") == 0
    assert hf.persist("k")
    assert hf.execute_command("EXPIRE", "k", "10", "NX") == 1


@pytest.mark.parametrize("args,msg", [
    (("10", "NX", "XX"), "NX and XX, GT or LT options at the same time are not compatible"),
    (("10", "NX", "GT"), "NX and XX, GT or LT options at the same time are not compatible"),
    (("10", "GT", "LT"), "GT and LT options at the same time are not compatible"),
    (("10", "FOO"), "Unsupported option FOO"),
    (("abc", "FOO"), "Unsupported option FOO"),  # options first, then the number
    (("abc",), "value is not an integer or out of range"),
    (("9223372036854775807",), "invalid expire time in 'expire' command"),
    (("-9223372036854775808",), "invalid expire time in 'expire' command"),
])
def test_expire_errors(hf, args, msg):
    hf.set("k", "v")
    assert err(hf.execute_command, "EXPIRE", "k", *args) == msg


def test_expire_overflow_names_the_command(hf):
    hf.set("k", "v")
    assert err(hf.execute_command, "PEXPIRE", "k", "9223372036854775807") == \
        "invalid expire time in 'pexpire' command"
    assert err(hf.execute_command, "EXPIREAT", "k", "9223372036854776") == \
        "invalid expire time in 'expireat' command"
    assert hf.execute_command("PEXPIREAT", "k", "9223372036854775807") == 1


def test_past_expiry_deletes(hf):
    for cmd in (("EXPIRE", "k", "-1"), ("PEXPIRE", "k", "0"), ("EXPIREAT", "k", "1"), ("PEXPIREAT", "k", "1")):
        hf.set("k", "v")
        assert hf.execute_command(*cmd) == 1
        assert hf.exists("k") == 0


def test_lazy_and_active_expiry_end_to_end(hf):
    before = hf.info("stats")["expired_keys"]
    hf.set("lazy", "v", px=30)
    hf.mset({"active:%d" % i: "v" for i in range(50)})
    for i in range(50):
        hf.pexpire("active:%d" % i, 30)
    time.sleep(0.1)
    assert hf.get("lazy") is None
    deadline = time.time() + 5  # the cron (hz 10) removes the rest without being asked
    while hf.dbsize() and time.time() < deadline:
        time.sleep(0.05)
    assert hf.dbsize() == 0
    assert hf.info("stats")["expired_keys"] - before == 51


# ---- in-process: a controllable clock and the propagated stream -----------------------------


class FakeClient:
    """What command handlers use of a client."""

    def __init__(self, srv):
        self.server = srv
        self.db = srv.keyspace.dbs[0]
        self.resp = 2
        self.kind = "normal"


class Inproc:
    def __init__(self):
        self.srv = Server(Config())
        self.sink = MemorySink()
        self.srv.add_propagation_target(self.sink)
        self.c = FakeClient(self.srv)

    def __call__(self, *args):
        argv = [a if isinstance(a, bytes) else str(a).encode() for a in args]
        if argv[0].upper() == b"SELECT":
            self.c.db = self.srv.keyspace.dbs[int(argv[1])]
            return b"+OK\r\n"
        return self.srv.commands[argv[0].lower()].handler(self.c, argv)

    def stream(self):
        return RequestParser(1 << 30).parse(self.sink.getvalue())

    def state(self):
        return [(dict(db.data), dict(db.expires)) for db in self.srv.keyspace.dbs]


@pytest.fixture
def ip():
    return Inproc()


def test_lazy_expiry_counts_and_propagates_del(ip):
    ip.srv.now_ms = 1_000_000
    ip("SET", "k", "v", "PX", "100")
    ip.srv.now_ms += 100
    assert ip("GET", "k") == b"$-1\r\n"
    assert ip.srv.keyspace.expired_keys == 1
    assert ip.stream()[-1] == [b"DEL", b"k"]
    assert "k" not in ip.srv.keyspace.dbs[0].atime


def test_active_expiry_counts_and_propagates_del(ip):
    ip.srv.now_ms = 1_000_000
    for i in range(30):
        ip("SET", "k%d" % i, "v", "PX", "10")
    ip("SET", "keep", "v", "EX", "100")
    ip.srv.now_ms += 20
    ip.srv.keyspace.active_expire_cycle(1_000_000)
    db = ip.srv.keyspace.dbs[0]
    assert list(db.data) == [b"keep"]
    assert ip.srv.keyspace.expired_keys == 30
    assert sorted(a[1] for a in ip.stream() if a[0] == b"DEL") == sorted(b"k%d" % i for i in range(30))
    assert set(db.atime) == {b"keep"}


def test_relative_expiry_propagates_absolute(ip):
    ip.srv.now_ms = 5_000_000
    ip("SET", "k", "v")
    ip("EXPIRE", "k", "10", "NX")
    ip("SET", "s", "v", "EX", "20")
    ip("SETEX", "x", "30", "v")
    ip("GETEX", "s", "PX", "40")
    ip("GETEX", "x", "PERSIST")
    ip("GETEX", "x")  # no change: nothing propagated
    cmds = ip.stream()[1:]  # after the SELECT
    assert cmds == [
        [b"SET", b"k", b"v"],
        [b"PEXPIREAT", b"k", b"5010000", b"NX"],
        [b"SET", b"s", b"v", b"PXAT", b"5020000"],
        [b"SET", b"x", b"v", b"PXAT", b"5030000"],
        [b"PEXPIREAT", b"s", b"5000040"],
        [b"PERSIST", b"x"],
    ]


def test_past_expiry_propagates_del(ip):
    ip.srv.now_ms = 5_000_000
    ip("SET", "k", "v")
    assert ip("EXPIRE", "k", "0") == b":1\r\n"
    ip("SET", "g", "v")
    ip("GETEX", "g", "EXAT", "1")
    assert ip.stream()[1:] == [[b"SET", b"k", b"v"], [b"DEL", b"k"], [b"SET", b"g", b"v"], [b"DEL", b"g"]]


def test_expiry_on_loading_or_replica_keeps_the_key(ip):
    # While loading an AOF (or on a replica) a past PEXPIREAT must not delete:
    # the key is merely expired, and the primary's DEL will follow.
    ip.srv.loading = True
    ip.srv.now_ms = 5_000_000
    ip("SET", "k", "v")
    assert ip("PEXPIREAT", "k", "1") == b":1\r\n"
    assert ip.srv.keyspace.dbs[0].expires[b"k"] == 1


def test_incrbyfloat_propagates_set_keepttl(ip):
    ip("INCRBYFLOAT", "f", "10.5")
    ip("INCRBYFLOAT", "f", "0.1")
    assert ip.stream()[1:] == [[b"SET", b"f", b"10.5", b"KEEPTTL"], [b"SET", b"f", b"10.6", b"KEEPTTL"]]


def test_replay_reaches_the_same_keyspace(ip):
    """Run a mixed workload, replay the propagated stream into a fresh server
    whose clock is later, and compare every database."""
    ip.srv.now_ms = 10_000_000
    script = [
        ("SET", "a", "1", "EX", "1000"), ("INCR", "a"), ("INCRBYFLOAT", "f", "0.1"), ("INCRBYFLOAT", "f", "1e-3"),
        ("APPEND", "s", "abc"), ("SETRANGE", "s", "5", "x"), ("EXPIRE", "s", "500"), ("PEXPIRE", "s", "900", "GT"),
        ("SETEX", "t", "100", "v"), ("PSETEX", "u", "100000", "v"), ("GETEX", "u", "EX", "300"), ("GETDEL", "t"),
        ("MSET", "m1", "1", "m2", "2"), ("MSETNX", "m3", "3"), ("RENAME", "m1", "r1"), ("COPY", "a", "a2", "DB", "2"),
        ("MOVE", "m2", "3"), ("SETNX", "n", "x"), ("GETSET", "n", "y"), ("EXPIREAT", "n", "99999999999"),
        ("SET", "gone", "x", "PX", "5"), ("SELECT", "4"), ("SET", "in4", "v", "PX", "123456"), ("SELECT", "0"),
        ("SWAPDB", "4", "5"), ("DEL", "r1", "nokey"), ("SET", "p", "v", "EX", "50"), ("PERSIST", "p"),
        ("SET", "k", "v", "KEEPTTL"), ("EXPIRE", "k", "-5"),
    ]
    for cmd in script:
        ip(*cmd)
    ip.srv.now_ms += 10  # "gone" expires and is found expired: a DEL enters the stream
    assert ip("GET", "gone") == b"$-1\r\n"
    assert ip("INCRBY", "a", "5") == b":7\r\n"

    replica = Inproc()
    replica.srv.now_ms = ip.srv.now_ms + 7000  # a later clock must not change the outcome
    for argv in ip.stream():
        replica(*argv)
    assert replica.state() == ip.state()
    assert ip.state()[0][1][b"s"] == 10_500_000  # an absolute time survived, not a relative one
