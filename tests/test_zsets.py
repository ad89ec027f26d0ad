"""Sorted sets: the commands end to end over redis-py, listpack -> skiplist
conversion (OBJECT ENCODING, zset-max-listpack-*), ZPOP*/ZMPOP propagation
replayed into an empty server (DEBUG DIGEST equal), WATCH. The differential
scripts against redis-server are in test_zsets_vs_redis.py."""


import pytest
import redis
from sortedcontainers import SortedList

from engine.commands.zset_ranges import lex_span, rank_window, window
from engine.protocol import RequestParser
from engine.types.zsets import ZSet, parse_lex_range, parse_score_range

SMALL = ("--zset-max-listpack-entries", "4", "--zset-max-listpack-value", "8")


# ---- end to end (redis-py) ----------------------------------------------------------


def test_basics(hf):
    assert hf.zadd("z", {"a": 1, "b": 2, "c": 3}) == 3
    assert hf.zadd("z", {"a": 5, "d": 0}, ch=True) == 2
    assert hf.zrange("z", 0, -1, withscores=True) == [(b"d", 0.0), (b"b", 2.0), (b"c", 3.0), (b"a", 5.0)]
    assert hf.zscore("z", "a") == 5.0 and hf.zscore("z", "zz") is None and hf.zscore("nokey", "a") is None
    assert hf.zmscore("z", ["a", "zz"]) == [5.0, None]
    assert hf.zcard("z") == 4 and hf.zrank("z", "b") == 1 and hf.zrevrank("z", "b") == 2
    assert hf.zincrby("z", 1.5, "b") == 3.5 and hf.zadd("z", {"b": 1}, incr=True) == 4.5
    assert hf.zadd("z", {"b": 1}, nx=True) == 0 and hf.zadd("z", {"b": 100}, xx=True, ch=True) == 1
    assert hf.zadd("z", {"b": 1}, gt=True, ch=True) == 0 and hf.zadd("z", {"b": 1}, lt=True, ch=True) == 1
    assert hf.zcount("z", 1, 3) == 2 and hf.zcount("z", "(1", "+inf") == 2
    assert hf.zrem("z", "a", "zz") == 1 and hf.zcard("z") == 3
    assert hf.zrem("z", "b", "c", "d") == 3 and hf.exists("z") == 0  # emptied: deleted
    hf.zadd("z", {"x": 1})
    assert hf.type("z") == b"zset" and hf.object("encoding", "z") == b"listpack"
    hf.set("str", "v")
    with pytest.raises(redis.ResponseError, match="WRONGTYPE"):
        hf.zadd("str", {"a": 1})


def test_ranges(hf):
    hf.zadd("z", {"m%02d" % i: i for i in range(20)})
    assert hf.zrange("z", 0, 2) == [b"m00", b"m01", b"m02"]
    assert hf.zrange("z", -2, -1, desc=True) == [b"m01", b"m00"]
    assert hf.zrangebyscore("z", 5, "(8") == [b"m05", b"m06", b"m07"]
    assert hf.zrevrangebyscore("z", "+inf", 17, withscores=True) == [(b"m19", 19.0), (b"m18", 18.0),
                                                                       (b"m17", 17.0)]
    assert hf.zrangebyscore("z", "-inf", "+inf", start=3, num=2) == [b"m03", b"m04"]
    assert hf.zrange("z", "(10", 12, byscore=True) == [b"m11", b"m12"]
    assert hf.zrangestore("dst", "z", 10, 12, byscore=True) == 3 and hf.zrange("dst", 0, -1) == [b"m10", b"m11",
                                                                                               b"m12"]
    assert hf.zremrangebyscore("z", 0, 4) == 5 and hf.zremrangebyrank("z", 0, 1) == 2
    assert hf.zrange("z", 0, 0) == [b"m07"]
    hf.zadd("l", {m: 0 for m in "abcdefg"})
    assert hf.zrangebylex("l", "[b", "(e") == [b"b", b"c", b"d"] and hf.zlexcount("l", "-", "+") == 7
    assert hf.zrevrangebylex("l", "+", "(e") == [b"g", b"f"]
    assert hf.zremrangebylex("l", "[a", "[c") == 3 and hf.zrange("l", 0, -1) == [b"d", b"e", b"f", b"g"]


def test_pops_and_random(hf):
    hf.zadd("z", {"a": 1, "b": 2, "c": 3, "d": 4})
    assert hf.zpopmin("z") == [(b"a", 1.0)] and hf.zpopmax("z", 2) == [(b"d", 4.0), (b"c", 3.0)]
    # redis-py leaves these RESP2 scores as text
    assert hf.zmpop(2, ["nokey", "z"], min=True, count=5) == [b"z", [[b"b", b"2"]]]
    assert hf.exists("z") == 0 and hf.zpopmin("z") == [] and hf.zmpop(1, ["z"], max=True) is None
    members = {b"m%d" % i: float(i) for i in range(30)}
    hf.zadd("r", members)
    picked = hf.zrandmember("r", 10)
    assert len(picked) == 10 == len(set(picked)) and set(picked) <= set(members)
    assert len(hf.zrandmember("r", -50)) == 50 and hf.zrandmember("r") in members
    flat = hf.zrandmember("r", 5, withscores=True)  # flat in RESP2
    assert len(flat) == 10
    for m, s in zip(flat[::2], flat[1::2], strict=True):
        assert members[m] == float(s)
    assert hf.zcard("r") == 30


def test_setops(hf):
    hf.zadd("a", {"x": 1, "y": 2})
    hf.zadd("b", {"y": 10, "z": 20})
    hf.sadd("s", "y", "q")
    assert hf.zunion(["a", "b"], withscores=True) == [(b"x", 1.0), (b"y", 12.0), (b"z", 20.0)]
    assert hf.zinter({"a": 2, "b": 1}, aggregate="MAX", withscores=True) == [(b"y", 10.0)]
    assert hf.zunionstore("d", ["a", "s"]) == 3 and hf.zscore("d", "y") == 3.0 and hf.zscore("d", "q") == 1.0
    assert hf.zinterstore("d", ["a", "b", "s"], aggregate="MIN") == 1 and hf.zscore("d", "y") == 1.0
    assert hf.zdiff(["a", "b"]) == [b"x"] and hf.zdiffstore("d", ["b", "a"]) == 1
    assert hf.zintercard(2, ["a", "b"]) == 1 and hf.zintercard(3, ["a", "b", "nokey"]) == 0
    assert hf.zinterstore("d", ["a", "nokey"]) == 0 and hf.exists("d") == 0


def test_encoding_conversion_is_one_way(holdfast_factory):
    r = holdfast_factory(*SMALL).client()
    r.zadd("z", {"a": 1, "b": 2, "c": 3, "d": 4})
    assert r.object("encoding", "z") == b"listpack"
    r.expire("z", 100)
    r.zadd("z", {"e": 5})
    assert r.object("encoding", "z") == b"skiplist" and r.ttl("z") > 0  # same key, same TTL
    r.zrem("z", "a", "b", "c", "d")
    assert r.object("encoding", "z") == b"skiplist"
    r.zadd("long", {"123456789": 1})
    assert r.object("encoding", "long") == b"skiplist"
    r.zunionstore("small", ["z"])  # a computed result is listpack again when it fits
    assert r.object("encoding", "small") == b"listpack"
    r.copy("z", "z2")
    r.zadd("z2", {"only": 1})
    assert r.zscore("z", "only") is None and r.object("encoding", "z2") == b"skiplist"
    r.config_set("zset-max-ziplist-entries", "128")  # the old name works
    assert r.config_get("zset-max-listpack-entries") == {"zset-max-listpack-entries": "128"}


def test_zscan_covers_stable_members(holdfast_factory):
    r = holdfast_factory(*SMALL).client()
    members = {b"m%d" % i: i for i in range(300)}
    r.zadd("z", members)
    seen = {}
    cursor, rounds = 0, 0
    while True:
        cursor, chunk = r.zscan("z", cursor, count=10)
        seen.update(chunk)
        rounds += 1
        if rounds == 2:
            r.zrem("z", "m1", "m2")
            r.zadd("z", {"new%d" % i: -i for i in range(40)})
        if cursor == 0:
            break
    assert rounds > 5
    for m, s in members.items():
        if m not in (b"m1", b"m2"):
            assert seen[m] == s


class _NoScan(SortedList):
    """A SortedList that fails on any full iteration."""

    def __iter__(self):
        raise AssertionError("a range walked the whole zset")


def test_ranges_do_not_walk_the_whole_zset():
    """O(log n + m): bisect plus slice, never a scan (the SortedList here
    refuses to be iterated)."""
    z = ZSet(listpack=False)
    for i in range(20000):
        z.dict[b"m%05d" % i] = float(i)
    z.sl = _NoScan((s, m) for m, s in z.dict.items())
    lo, hi = z.score_bounds(parse_score_range(b"(100", b"103"))
    assert [m for _, m in window(z.sl, lo, hi, False, 0, -1)] == [b"m00101", b"m00102", b"m00103"]
    assert [m for _, m in window(z.sl, lo, hi, True, 1, 1)] == [b"m00102"]
    assert rank_window(z, -2, -1) == (19998, 20000) and z.rank(b"m12345") == 12345
    flat = ZSet(listpack=False)
    flat.dict = {b"k%05d" % i: 0.0 for i in range(20000)}
    flat.sl = _NoScan((0.0, m) for m in flat.dict)
    assert lex_span(flat, parse_lex_range(b"[k00010", b"(k00013"), False) == (10, 13)
    assert z.delete_slice(0, 3) == 3 and len(z) == 19997


# ---- propagation -----------------------------------------------------------------------


def test_pops_propagate_as_redis_and_replay(holdfast_factory):
    src, dst = holdfast_factory(*SMALL), holdfast_factory(*SMALL)
    r = src.client()
    r.execute_command("DEBUG", "PROPAGATED", "START")
    r.zadd("z", {"a": 1, "b": 2, "c": 3, "d": 4, "e": 5, "f": 6})
    r.zpopmin("z")
    r.zpopmax("z", 2)
    r.zpopmin("z", 0)
    r.zpopmin("nokey", 3)
    r.zmpop(2, ["nokey", "z"], min=True, count=10)  # 3 left: goes as ZPOPMIN z 3
    r.zadd("y", {"a": 1, "b": 2})
    r.zmpop(1, ["y"], max=True)
    r.zrandmember("y", 2)
    r.zadd("i", {"a": 1})
    r.zincrby("i", 0.1, "a")
    r.zadd("i", {"a": 0.2}, incr=True)
    r.zadd("i", {"a": 100}, lt=True)  # no effect: not propagated
    r.zremrangebyscore("i", 50, 60)  # nothing removed: not propagated
    r.zadd("u", {"m%d" % i: i / 3 for i in range(10)})
    r.zunionstore("dst", {"u": 2, "i": 0.5})
    r.zrangestore("dst2", "u", 0, 2)
    r.zunionstore("gone", ["nokey"])  # empty result, no key: not propagated
    r.zremrangebyrank("u", 0, 1)
    r.zremrangebylex("y", "-", "+")
    stream = r.execute_command("DEBUG", "PROPAGATED", "GET")
    cmds = [[a.upper() if i == 0 else a for i, a in enumerate(c)] for c in RequestParser().parse(stream)]
    assert cmds[1:8] == [[b"ZADD", b"z", b"1", b"a", b"2", b"b", b"3", b"c", b"4", b"d", b"5", b"e", b"6", b"f"],
                         [b"ZPOPMIN", b"z"], [b"ZPOPMAX", b"z", b"2"], [b"ZPOPMIN", b"z", b"3"],
                         [b"ZADD", b"y", b"1", b"a", b"2", b"b"], [b"ZPOPMAX", b"y", b"1"],
                         [b"ZADD", b"i", b"1", b"a"]]
    names = [c[0] for c in cmds]
    assert b"ZMPOP" not in names and b"ZRANDMEMBER" not in names
    assert names.count(b"ZADD") == 5 and b"ZREMRANGEBYSCORE" not in names
    assert [b"ZUNIONSTORE", b"gone", b"1", b"nokey"] not in cmds
    _replay(dst.port, stream)
    d = dst.client()
    assert d.execute_command("DEBUG", "DIGEST") == r.execute_command("DEBUG", "DIGEST")
    assert d.execute_command("DEBUG", "DIGEST") != b"0" * 40
    for key in ("dst", "dst2", "u", "i"):
        assert d.zrange(key, 0, -1, withscores=True) == r.zrange(key, 0, -1, withscores=True)
        assert d.object("encoding", key) == r.object("encoding", key)


def _replay(port, stream):
    r = redis.Redis(port=port)
    for cmd in RequestParser().parse(stream):
        r.execute_command(*cmd)
    r.close()


def test_digest_matches_redis(hf, rr):
    """DEBUG DIGEST of the same sorted sets equals redis-server's (the
    score text Redis hashes included)."""
    for c in (hf, rr):
        c.zadd("z", {"a": 0.1, "b": -0.0, "c": float("inf"), "d": 1e300, "e": -2})
        c.zadd("w", {"m%d" % i: i / 7 for i in range(200)})
    assert hf.execute_command("DEBUG", "DIGEST") == rr.execute_command("DEBUG", "DIGEST")
    assert hf.execute_command("DEBUG", "DIGEST-VALUE", "z") == rr.execute_command("DEBUG", "DIGEST-VALUE", "z")


def test_watch_sees_zset_writes(hf_server, hf):
    other = hf_server.client()
    try:
        for change in (lambda: other.zadd("z", {"x": 1}), lambda: other.zrem("z", "a"),
                       lambda: other.zincrby("z", 1, "a"), lambda: other.zpopmin("z"),
                       lambda: other.zremrangebyrank("z", 0, 0), lambda: other.zunionstore("z", ["z"])):
            hf.delete("z")
            hf.zadd("z", {"a": 1, "b": 2})
            pipe = hf.pipeline()
            pipe.watch("z")
            change()
            pipe.multi()
            pipe.zcard("z")
            with pytest.raises(redis.WatchError):
                pipe.execute()
    finally:
        other.close()
