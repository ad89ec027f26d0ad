"""Sets: the commands end to end over redis-py, intset -> hashtable
promotion (OBJECT ENCODING, set-max-intset-entries), SPOP's deterministic
propagation replayed into an empty server, keyspace events, and
differential scripts against Debian's redis-server 7.0 comparing raw
replies in RESP2 and RESP3 (exactly where Redis fixes the order: intsets
are sorted; order-free for hashtable sets, whose order Redis leaves to its
hash function)."""

import random
import time

import pytest
import redis
from conftest import require_tool
from rawresp import RawConn, canon, parse
from servers import Holdfast, RealRedis

from engine.protocol import RequestParser

SMALL = ("--set-max-intset-entries", "4")


# ---- end to end (redis-py) ----------------------------------------------------------


def test_basics(hf):
    assert hf.sadd("s", "a", "b", "c", "a") == 3
    assert hf.sadd("s", "a", "d") == 1
    assert hf.smembers("s") == {b"a", b"b", b"c", b"d"} and hf.scard("s") == 4
    assert hf.sismember("s", "a") and not hf.sismember("s", "z") and not hf.sismember("nokey", "a")
    assert hf.smismember("s", ["a", "z", "d"]) == [1, 0, 1]
    assert hf.srem("s", "a", "z") == 1 and hf.scard("s") == 3
    assert hf.srem("s", "b", "c", "d") == 3 and hf.exists("s") == 0  # emptied: deleted
    assert hf.type("nokey") == b"none" and hf.scard("nokey") == 0 and hf.smembers("nokey") == set()
    hf.sadd("s", "x")
    assert hf.type("s") == b"set"
    hf.set("str", "v")
    with pytest.raises(redis.ResponseError, match="WRONGTYPE"):
        hf.sadd("str", "a")


def test_algebra(hf):
    hf.sadd("a", 1, 2, 3, 4)
    hf.sadd("b", 3, 4, 5)
    hf.sadd("c", "x", 4)
    assert hf.sinter("a", "b") == {b"3", b"4"} and hf.sinter("a", "b", "c") == {b"4"}
    assert hf.sinter("a", "nokey") == set()
    assert hf.sunion("a", "b", "c") == {b"1", b"2", b"3", b"4", b"5", b"x"}
    assert hf.sdiff("a", "b") == {b"1", b"2"} and hf.sdiff("a", "a") == set()
    assert hf.sinterstore("d", "a", "b") == 2 and hf.smembers("d") == {b"3", b"4"}
    assert hf.sunionstore("d", "a", "c") == 5 and hf.scard("d") == 5
    assert hf.sdiffstore("d", "a", "b", "c") == 2 and hf.smembers("d") == {b"1", b"2"}
    assert hf.sinterstore("d", "a", "nokey") == 0 and hf.exists("d") == 0
    assert hf.sintercard(2, ["a", "b"]) == 2 and hf.sintercard(2, ["a", "b"], limit=1) == 1
    assert hf.smove("a", "b", 1) and not hf.smove("a", "b", 99)
    assert hf.smembers("b") == {b"1", b"3", b"4", b"5"}


def test_spop_srandmember(hf):
    members = {b"m%d" % i for i in range(50)}
    hf.sadd("s", *members)
    got = hf.srandmember("s", 10)
    assert len(got) == 10 == len(set(got)) and set(got) <= members
    rep = hf.srandmember("s", -100)
    assert len(rep) == 100 and set(rep) <= members
    assert set(hf.srandmember("s", 100)) == members and hf.srandmember("s") in members
    assert hf.scard("s") == 50  # SRANDMEMBER takes nothing
    popped = hf.spop("s", 20)
    assert len(popped) == 20 and set(popped) <= members
    assert hf.smembers("s") == members - set(popped)
    one = hf.spop("s")
    assert one in members - set(popped) and hf.scard("s") == 29
    rest = hf.spop("s", 100)
    assert len(rest) == 29 and hf.exists("s") == 0
    assert hf.spop("s") is None and hf.spop("s", 3) == []


def test_intset_order_and_encodings(holdfast_factory):
    r = holdfast_factory(*SMALL).client()
    r.sadd("i", 10, -3, 7, 0)
    assert r.object("encoding", "i") == b"intset"
    assert r.sscan("i", 0) == (0, [b"-3", b"0", b"7", b"10"])  # intsets are sorted
    r.sadd("i", 11)  # past set-max-intset-entries
    assert r.object("encoding", "i") == b"hashtable"
    r.srem("i", 11, 10, 7)
    assert r.object("encoding", "i") == b"hashtable"  # one way, as Redis
    for member in ("01", "+1", "-0", "1.0", "a", "9223372036854775808"):  # not canonical int64s
        r.sadd("t-" + member, 1)
        r.sadd("t-" + member, member)
        assert r.object("encoding", "t-" + member) == b"hashtable", member
    r.sadd("m", "-9223372036854775808", "9223372036854775807")
    assert r.object("encoding", "m") == b"intset"
    r.sadd("a", 1)
    r.expire("a", 100)
    r.sadd("a", "x")
    assert r.object("encoding", "a") == b"hashtable" and r.ttl("a") > 0  # same key, same TTL


def test_sscan_covers_stable_members(holdfast_factory):
    r = holdfast_factory(*SMALL).client()
    members = {b"m%d" % i for i in range(300)}
    r.sadd("s", *members)
    seen = set()
    cursor, rounds = 0, 0
    while True:
        cursor, chunk = r.sscan("s", cursor, count=10)
        seen.update(chunk)
        rounds += 1
        if rounds == 2:
            r.srem("s", "m1", "m2")
            r.sadd("s", *("new%d" % i for i in range(40)))
        if cursor == 0:
            break
    assert rounds > 5 and members - {b"m1", b"m2"} <= seen
    r.sadd("i", 3, 1, 2)
    assert r.sscan("i", 0, match="[12]") == (0, [b"1", b"2"])


def test_watch_sees_set_writes(hf_server, hf):
    other = hf_server.client()
    try:
        for change in (lambda: other.sadd("s", "x"), lambda: other.srem("s", "a"), lambda: other.spop("s"),
                       lambda: other.smove("s", "d", "a"), lambda: other.sinterstore("s", "s", "s")):
            hf.delete("s")
            hf.sadd("s", "a", "b")
            pipe = hf.pipeline()
            pipe.watch("s")
            change()
            pipe.multi()
            pipe.scard("s")
            with pytest.raises(redis.WatchError):
                pipe.execute()
    finally:
        other.close()


# ---- propagation -----------------------------------------------------------------------


def _replay(port, stream):
    r = redis.Redis(port=port)
    for cmd in RequestParser().parse(stream):
        r.execute_command(*cmd)
    r.close()


def test_spop_propagates_deterministic_writes(holdfast_factory):
    src, dst = holdfast_factory(), holdfast_factory()
    r = src.client()
    r.execute_command("DEBUG", "PROPAGATED", "START")
    r.sadd("s", *range(30))
    r.sadd("h", *("m%d" % i for i in range(30)))
    one = r.spop("s")
    some = r.spop("h", 5)
    r.srandmember("s", 3)
    r.srandmember("s")
    r.spop("s", 0)
    r.spop("nokey", 3)
    r.sadd("one", "x")
    r.spop("one")
    r.sadd("few", "a", "b")
    r.spop("few", 10)
    r.sadd("big", *range(100))
    r.spop("big", 90)  # few survivors: Redis rebuilds the set from them
    cmds = RequestParser().parse(r.execute_command("DEBUG", "PROPAGATED", "GET"))
    assert [b"SREM", b"s", one] in cmds
    assert any(c[:2] == [b"SREM", b"h"] and sorted(c[2:]) == sorted(some) for c in cmds)
    assert [b"SREM", b"one", b"x"] in cmds and [b"DEL", b"few"] in cmds
    names = [c[0].upper() for c in cmds]
    assert b"SRANDMEMBER" not in names and b"SPOP" not in names
    assert sum(1 for c in cmds if c[:2] == [b"SREM", b"s"]) == 1  # SPOP 0 and misses propagate nothing
    _replay(dst.port, r.execute_command("DEBUG", "PROPAGATED", "GET"))
    d = dst.client()
    assert d.execute_command("DEBUG", "DIGEST") == r.execute_command("DEBUG", "DIGEST")
    assert d.smembers("big") == r.smembers("big") and d.scard("big") == 10
    assert d.object("encoding", "big") == r.object("encoding", "big")


# ---- differential: the same scripts against redis-server 7.0 ----------------------


@pytest.fixture(scope="module")
def small_servers(tmp_path_factory):
    require_tool("redis-server")
    hf = Holdfast(tmp_path_factory.mktemp("hf_small"), args=SMALL).start()
    rr = RealRedis(tmp_path_factory.mktemp("redis_small"), args=SMALL).start()
    yield hf, rr
    hf.stop()
    rr.stop()


@pytest.fixture(params=[2, 3], ids=["resp2", "resp3"])
def pair(request, small_servers):
    a = RawConn(small_servers[0].port, request.param)
    b = RawConn(small_servers[1].port, request.param)
    a("FLUSHALL")
    b("FLUSHALL")
    yield a, b
    a.close()
    b.close()


def same_dataset(pair):
    a, b = pair
    da, db = a("DEBUG", "DIGEST"), b("DEBUG", "DIGEST")
    assert da == db, "dataset digests differ: holdfast %r, redis %r" % (da, db)


def run_script(pair, script, order_free=()):
    """Every reply identical, except that replies listing a hashtable set
    (commands in `order_free`) may differ in order."""
    a, b = pair
    for cmd in script:
        ra, rb = a(*cmd), b(*cmd)
        if ra == rb:
            continue
        if cmd[0].upper() in order_free and canon(parse(ra)) == canon(parse(rb)):
            continue
        raise AssertionError("command %r: holdfast %r != redis %r" % (cmd, ra, rb))


ORDER_FREE = {"SMEMBERS", "SINTER", "SUNION", "SDIFF", "SSCAN", "SRANDMEMBER", "SPOP"}

SCRIPTS = {
    "basics": [
        ("SADD", "s", "3", "1", "2", "2"), ("SMEMBERS", "s"), ("OBJECT", "ENCODING", "s"), ("SADD", "s", "a"),
        ("OBJECT", "ENCODING", "s"), ("SCARD", "s"), ("SCARD", "nokey"), ("SISMEMBER", "s", "1"),
        ("SISMEMBER", "s", "zz"), ("SISMEMBER", "nokey", "1"), ("SMISMEMBER", "s", "1", "zz", "a"),
        ("SMISMEMBER", "nokey", "1"), ("SMISMEMBER", "s"), ("SREM", "s", "1", "zz"), ("SREM", "nokey", "1"),
        ("SREM", "s"), ("SADD", "s"), ("SADD", "n", "5", "-3", "10", "0"), ("SMEMBERS", "n"),
        ("SADD", "n", "-0"), ("OBJECT", "ENCODING", "n"), ("SMEMBERS", "n"),
        ("SADD", "i", "9223372036854775807", "-9223372036854775808"), ("OBJECT", "ENCODING", "i"),
        ("SMEMBERS", "i"), ("SADD", "j", "9223372036854775808"), ("OBJECT", "ENCODING", "j"),
        ("SADD", "e", ""), ("SMEMBERS", "e"), ("SISMEMBER", "e", ""), ("SADD",), ("SMOVE", "a", "b"),
        ("SINTER",), ("SINTERSTORE", "d"), ("SREM", "e", ""), ("EXISTS", "e"),
    ],
    "wrongtype": [
        ("SET", "str", "x"), ("SADD", "n", "1"), ("SADD", "str", "a"), ("SREM", "str", "a"), ("SMEMBERS", "str"),
        ("SCARD", "str"), ("SISMEMBER", "str", "a"), ("SMISMEMBER", "str", "a"), ("SPOP", "str"),
        ("SPOP", "str", "2"), ("SPOP", "str", "x"), ("SRANDMEMBER", "str"), ("SRANDMEMBER", "str", "2"),
        ("SMOVE", "str", "n", "a"), ("SMOVE", "n", "str", "1"), ("SMOVE", "nokey", "str", "1"),
        ("SINTER", "str", "n"), ("SINTER", "n", "str"), ("SINTER", "nokey", "str"), ("SUNION", "n", "str"),
        ("SDIFF", "n", "str"), ("SDIFF", "str", "n"), ("SDIFF", "nokey", "str"), ("SINTERSTORE", "d", "str", "n"),
        ("SUNIONSTORE", "d", "n", "str"), ("SDIFFSTORE", "d", "n", "str"), ("SINTERCARD", "1", "str"),
        ("SINTERCARD", "2", "n", "str"), ("SSCAN", "str", "0"), ("SUNIONSTORE", "str", "n"), ("TYPE", "str"),
    ],
    "spop_srandmember": [
        ("SPOP", "nokey"), ("SPOP", "nokey", "0"), ("SPOP", "nokey", "3"), ("SPOP", "nokey", "-1"),
        ("SPOP", "nokey", "x"), ("SADD", "n", "5", "1", "3"), ("SPOP", "n", "-1"), ("SPOP", "n", "x"),
        ("SPOP", "n", "1", "2"), ("SPOP", "n", "0"), ("SRANDMEMBER", "nokey"), ("SRANDMEMBER", "nokey", "3"),
        ("SRANDMEMBER", "nokey", "-3"), ("SRANDMEMBER", "nokey", "0"), ("SRANDMEMBER", "nokey", "x"),
        ("SRANDMEMBER", "n", "x"), ("SRANDMEMBER", "n", "1", "2"), ("SRANDMEMBER", "n", "-9223372036854775808"),
        ("SRANDMEMBER", "n", "0"), ("SRANDMEMBER", "n", "100"), ("SRANDMEMBER", "n", "3"),
        ("SADD", "one", "x"), ("SRANDMEMBER", "one"), ("SRANDMEMBER", "one", "-3"), ("SRANDMEMBER", "one", "1"),
        ("SPOP", "one"), ("EXISTS", "one"), ("SPOP", "n", "3"), ("EXISTS", "n"), ("SADD", "t", "3", "2", "1"),
        ("SPOP", "t", "10"), ("EXISTS", "t"), ("SADD", "h", "a", "b", "c"), ("SPOP", "h", "3"), ("EXISTS", "h"),
    ],
    "smove": [
        ("SADD", "t", "1"), ("SMOVE", "t", "t", "1"), ("SMOVE", "t", "t", "9"), ("SMOVE", "t", "u", "9"),
        ("SMOVE", "t", "u", "1"), ("SMOVE", "nokey", "u", "9"), ("EXISTS", "t"), ("SMEMBERS", "u"),
        ("OBJECT", "ENCODING", "u"), ("SADD", "v", "a", "b"), ("SMOVE", "v", "u", "a"), ("OBJECT", "ENCODING", "u"),
        ("SMOVE", "v", "u", "b"), ("EXISTS", "v"), ("SADD", "w", "1"), ("SMOVE", "u", "w", "1"), ("SMEMBERS", "w"),
        ("SCARD", "u"), ("SADD", "x", "1", "2", "3", "4"), ("SADD", "y", "5"), ("SMOVE", "y", "x", "5"),
        ("OBJECT", "ENCODING", "x"), ("SMEMBERS", "x"),
    ],
    "algebra": [
        ("SADD", "a1", "1", "2", "3", "4"), ("SADD", "a2", "3", "4", "5"), ("SADD", "a3", "x", "4"),
        ("SINTER", "a1", "a2"), ("SINTER", "a1", "a2", "a3"), ("SINTER", "a1", "nokey"), ("SINTER", "nokey", "a1"),
        ("SINTER", "a1"), ("SUNION", "a1", "a2"), ("SUNION", "a1", "nokey"), ("SUNION", "nokey"),
        ("SDIFF", "a1", "a2"), ("SDIFF", "a1", "a1"), ("SDIFF", "nokey", "a1"), ("SDIFF", "a1", "nokey"),
        ("SDIFF", "a3", "a1"), ("SINTERSTORE", "d", "a1", "a2"), ("SMEMBERS", "d"), ("OBJECT", "ENCODING", "d"),
        ("SINTERSTORE", "d", "a1", "nokey"), ("EXISTS", "d"), ("SINTERSTORE", "d", "nokey"),
        ("SUNIONSTORE", "d", "a1", "a3"), ("SCARD", "d"), ("OBJECT", "ENCODING", "d"), ("SUNIONSTORE", "d", "a1", "a2"),
        ("OBJECT", "ENCODING", "d"), ("SDIFFSTORE", "d", "a1", "a2"), ("SMEMBERS", "d"), ("OBJECT", "ENCODING", "d"),
        ("SDIFFSTORE", "d", "a1", "a1"), ("EXISTS", "d"), ("SUNIONSTORE", "a1", "a1", "a2"), ("SMEMBERS", "a1"),
        ("SINTERSTORE", "a3", "a3"), ("OBJECT", "ENCODING", "a3"), ("SADD", "b1", "c", "b", "a"),
        ("SINTER", "b1", "a3"), ("SDIFFSTORE", "e", "b1", "nokey"), ("SMEMBERS", "e"),
    ],
    "sintercard": [
        ("SADD", "a1", "1", "2", "3", "4"), ("SADD", "a2", "3", "4", "5"), ("SINTERCARD", "2", "a1", "a2"),
        ("SINTERCARD", "2", "a1", "a2", "LIMIT", "1"), ("SINTERCARD", "2", "a1", "a2", "LIMIT", "0"),
        ("SINTERCARD", "2", "a1", "a2", "LIMIT", "-1"), ("SINTERCARD", "2", "a1", "a2", "LIMIT", "x"),
        ("SINTERCARD", "2", "a1", "a2", "LIMIT"), ("SINTERCARD", "2", "a1", "a2", "FOO", "1"),
        ("SINTERCARD", "0", "a1"), ("SINTERCARD", "-1", "a1"), ("SINTERCARD", "x", "a1"),
        ("SINTERCARD", "3", "a1", "a2"), ("SINTERCARD", "1", "nokey"), ("SINTERCARD", "1", "a1", "limit", "2"),
        ("SINTERCARD", "2", "a1", "a2", "LIMIT", "1", "LIMIT", "2"), ("SINTERCARD", "2", "a1", "nokey"),
        ("SINTERCARD", "1"),
    ],
    "sscan": [
        ("SADD", "a1", "1", "12", "3"), ("SSCAN", "a1", "0"), ("SSCAN", "a1", "x"), ("SSCAN", "a1", "0", "MATCH", "1*"),
        ("SSCAN", "a1", "0", "COUNT", "0"), ("SSCAN", "a1", "0", "COUNT", "x"), ("SSCAN", "a1", "0", "TYPE", "string"),
        ("SSCAN", "a1", "5"), ("SSCAN", "nokey", "0"), ("SSCAN", "nokey", "x"), ("SADD", "a3", "x", "xy", "y"),
        ("SSCAN", "a3", "0", "MATCH", "x*", "COUNT", "100"), ("SSCAN", "a1", "0", "MATCH"),
    ],
}


@pytest.mark.interop
@pytest.mark.parametrize("name", sorted(SCRIPTS))
def test_script_matches_redis(pair, name):
    run_script(pair, SCRIPTS[name], ORDER_FREE)
    same_dataset(pair)


# ---- keyspace events, compared with redis-server --------------------------------------


def keyspace_events(port, script):
    """Run `script` with every keyspace event on; the (event, key) pairs seen."""
    r = redis.Redis(port=port)
    r.flushall()
    r.config_set("notify-keyspace-events", "KEA")
    p = r.pubsub()
    p.psubscribe("__keyevent@0__:*")
    p.get_message(timeout=5)
    try:
        for cmd in script:
            try:
                r.execute_command(*cmd)
            except redis.ResponseError:
                pass
        r.execute_command("SET", "__end__", "1")
        out = []
        deadline = time.time() + 10
        while time.time() < deadline:
            m = p.get_message(timeout=1)
            if m is None or m["type"] != "pmessage":
                continue
            ev = (m["channel"].split(b":", 1)[1], m["data"])
            if ev[1] == b"__end__":
                return out
            out.append(ev)
        raise AssertionError("events did not arrive: %r" % out)
    finally:
        r.config_set("notify-keyspace-events", "")
        p.close()
        r.close()


EVENT_SCRIPT = [
    ("SADD", "s", "1", "2", "3"), ("SADD", "s", "1"), ("SREM", "s", "9"), ("SREM", "s", "1"), ("SPOP", "s", "0"),
    ("SMOVE", "s", "t", "2"), ("SMOVE", "s", "t", "3"), ("SADD", "u", "a", "b"), ("SPOP", "u"), ("SPOP", "u", "5"),
    ("SADD", "v", "1"), ("SINTERSTORE", "d", "t", "v"), ("SUNIONSTORE", "d", "t", "v"),
    ("SDIFFSTORE", "d", "t", "t"), ("SUNIONSTORE", "d", "nokey"), ("SRANDMEMBER", "t", "2"),
    ("SADD", "w", "x"), ("SMOVE", "w", "w", "x"), ("SREM", "t", "2", "3"),
]


@pytest.mark.interop
def test_keyspace_events_match_redis(small_servers):
    hf, rr = small_servers
    ours = keyspace_events(hf.port, EVENT_SCRIPT)
    assert len(ours) > 15 and ours == keyspace_events(rr.port, EVENT_SCRIPT)


def _random_command(rnd):
    k = rnd.choice(("s1", "s2", "s3", "str"))
    m = lambda: rnd.choice(("1", "2", "-3", "10", "a", "b", "01", "", "9223372036854775808"))  # noqa: E731
    ks = lambda: tuple(rnd.choice(("s1", "s2", "s3", "nokey", "str")) for _ in range(rnd.randint(1, 3)))  # noqa: E731
    return rnd.choice([
        lambda: ("SADD", k) + tuple(m() for _ in range(rnd.randint(1, 3))),
        lambda: ("SREM", k, m(), m()),
        lambda: ("SISMEMBER", k, m()),
        lambda: ("SMISMEMBER", k, m(), m()),
        lambda: ("SCARD", k),
        lambda: ("SMEMBERS", k),
        lambda: ("SMOVE", k, rnd.choice(("s1", "s2", "s3")), m()),
        lambda: ("SPOP", k, "100"),
        lambda: ("SRANDMEMBER", k, "100"),
        lambda: ("SINTER",) + ks(),
        lambda: ("SUNION",) + ks(),
        lambda: ("SDIFF",) + ks(),
        lambda: ("SINTERSTORE", rnd.choice(("s1", "d"))) + ks(),
        lambda: ("SUNIONSTORE", rnd.choice(("s2", "d"))) + ks(),
        lambda: ("SDIFFSTORE", rnd.choice(("s3", "d"))) + ks(),
        lambda: ("SINTERCARD", "2", k, "s1", "LIMIT", str(rnd.randint(0, 3))),
        lambda: ("OBJECT", "ENCODING", k),
        lambda: ("SET", "str", "x"),
        lambda: ("DEL", k),
    ])()


@pytest.mark.interop
def test_random_commands_match_redis(pair):
    """A seeded random walk with a tiny intset limit; replies equal (order-
    free where the set is a hashtable), and so are the final digests."""
    rnd = random.Random(11)
    run_script(pair, [_random_command(rnd) for _ in range(1500)], ORDER_FREE)
    same_dataset(pair)
