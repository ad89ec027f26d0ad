"""Sorted sets against Debian's redis-server 7.0: differential scripts
comparing raw replies byte for byte in RESP2 and RESP3 (errors, score
formatting, RESP3 shapes), keyspace events, and a seeded random walk. ZSCAN
of a skiplist is compared order-free (hash order); lex ranges over unequal
scores in a skiplist are left out: Redis's answer depends on its random
skiplist levels."""

import random

import pytest
from conftest import require_tool
from rawresp import RawConn, canon, parse
from servers import Holdfast, RealRedis
from test_sets import keyspace_events

# ---- differential: the same scripts against redis-server 7.0 ----------------------


@pytest.fixture(scope="module")
def servers(tmp_path_factory):
    require_tool("redis-server")
    hf = Holdfast(tmp_path_factory.mktemp("hf_z")).start()
    rr = RealRedis(tmp_path_factory.mktemp("redis_z")).start()
    yield hf, rr
    hf.stop()
    rr.stop()


@pytest.fixture(params=[2, 3], ids=["resp2", "resp3"])
def pair(request, servers):
    a = RawConn(servers[0].port, request.param)
    b = RawConn(servers[1].port, request.param)
    for conn in (a, b):
        conn("FLUSHALL")
        conn("CONFIG", "SET", "zset-max-listpack-entries", "128")
        conn("CONFIG", "SET", "zset-max-listpack-value", "64")
    yield a, b
    for conn in (a, b):
        conn("CONFIG", "SET", "zset-max-listpack-entries", "128")
        conn("CONFIG", "SET", "zset-max-listpack-value", "64")
        conn.close()


def _pairs(flat):
    return list(zip(flat[::2], flat[1::2], strict=True))


def run_script(pair, script):
    a, b = pair
    for cmd in script:
        ra, rb = a(*cmd), b(*cmd)
        if ra == rb:
            continue
        if cmd[0].upper() == "ZSCAN" and b("OBJECT", "ENCODING", cmd[1]) == b"$8\r\nskiplist\r\n":
            pa, pb = parse(ra), parse(rb)
            if pa[0] == pb[0] and canon(_pairs(pa[1])) == canon(_pairs(pb[1])):
                continue
        raise AssertionError("command %r: holdfast %r != redis %r" % (cmd, ra, rb))
    da, db = a("DEBUG", "DIGEST"), b("DEBUG", "DIGEST")
    assert da == db, "dataset digests differ: holdfast %r, redis %r" % (da, db)


SCRIPTS = {
    "parsing": [
        ("ZADD", "z", "nx", "nx", "1", "a"), ("ZADD", "z", "INCR", "GT", "1", "b"),
        ("ZADD", "z", "INCR", "GT", "1", "b"), ("ZADD", "z", "INCR", "LT", "1", "b"),
        ("ZADD", "z", "INCR", "LT", "-1", "b"), ("ZADD", "z", "CH", "INCR", "1", "a"),
        ("ZADD", "z", "XX", "CH", "INCR", "1", "zz"), ("ZADD", "z", "1e", "x1"), ("ZADD", "z", "0x", "x2"),
        ("ZADD", "z", "1.5e+3", "x3"), ("ZADD", "z", "-.5", "x4"), ("ZADD", "z", "infinity", "x5"),
        ("ZADD", "z", "+infinity", "x6"), ("ZADD", "z", "-Infinity", "x7"), ("ZADD", "z", "1_000", "x8"),
        ("ZADD", "z", "1 ", "x9"), ("ZADD", "z", "", "x10"), ("ZADD", "z", "0x1p-2", "x11"),
        ("ZADD", "z", "1e-320", "x12"), ("ZADD", "z", "4.9e-324", "x13"),
        ("ZADD", "z", "1.7976931348623157e308", "x14"), ("ZADD", "z", "1.8e308", "x15"),
        ("ZADD", "z", "00012", "x16"), ("ZADD", "z", "1.", "x17"), ("ZADD", "z", ".", "x18"),
        ("ZADD", "z", "+.5e1", "x19"), ("ZRANGE", "z", "0", "-1", "WITHSCORES"), ("ZRANGEBYSCORE", "z", "1e", "5"),
        ("ZRANGEBYSCORE", "z", "(1e", "5"), ("ZRANGEBYSCORE", "z", "1.8e308", "inf"),
        ("ZRANGEBYSCORE", "z", "-1.8e308", "1"), ("ZRANGEBYSCORE", "z", "  2", "1e3000"),
        ("ZRANGEBYSCORE", "z", "((1", "5"), ("ZRANGEBYSCORE", "z", "(", "("), ("ZRANGEBYSCORE", "z", "[1", "5"),
        ("ZRANGEBYSCORE", "z", "1e-400", "1"), ("ZCOUNT", "z", "-inf", "(inf"), ("ZCOUNT", "z", "(-inf", "inf"),
        ("ZINCRBY", "z", "1e308", "x14"), ("ZINCRBY", "z", "1.7976931348623157e308", "x14"), ("ZSCORE", "z", "x14"),
        ("ZUNION", "1", "z", "WEIGHTS", "1e-400"), ("ZUNION", "1", "z", "WEIGHTS", " 1"),
        ("ZUNION", "1", "z", "WEIGHTS", "nan"), ("ZUNION", "1", "z", "WEIGHTS", "inf", "WITHSCORES"),
    ],
    "basics": [
        ("ZADD", "z", "1", "a", "2", "b", "3", "c"), ("ZADD", "z", "-0", "a", "0x10", "b"),
        ("ZADD", "z", "1e400", "c"), ("ZADD", "z", " 1", "c"), ("ZADD", "z", "nan", "c"),
        ("ZADD", "z", "1e-400", "x"), ("ZADD", "z", "inf", "i", "-inf", "j"),
        ("ZADD", "z", "+inf", "i2", "-INF", "j2", "+1.5", "k", ".5", "l", "5.", "m", "1e3", "n", "0X1P3", "o"),
        ("ZRANGE", "z", "0", "-1", "WITHSCORES"), ("ZSCORE", "z", "a"), ("ZSCORE", "z", "nokey"),
        ("ZSCORE", "nokey", "a"), ("ZMSCORE", "z", "a", "zz", "i", "j"), ("ZMSCORE", "nokey", "a"),
        ("ZADD", "q", "0.1", "a", "1e20", "b", "3.0", "c", "123456789012345678", "d", "-1.5e-10", "e"),
        ("ZRANGE", "q", "0", "-1", "WITHSCORES"), ("ZSCAN", "q", "0"), ("ZSCAN", "z", "0"), ("ZADD", "z"),
        ("ZADD", "z", "1"), ("ZADD", "z", "1", "a", "2"), ("ZADD", "z", "NX", "XX", "1", "a"),
        ("ZADD", "z", "NX", "GT", "1", "a"), ("ZADD", "z", "GT", "LT", "1", "a"), ("ZADD", "z", "LT", "NX", "1", "a"),
        ("ZADD", "z", "INCR", "1", "a", "2", "b"), ("ZADD", "z", "INCR", "x", "a"), ("ZADD", "z", "x", "a"),
        ("ZADD", "z", "XX", "5", "new"), ("ZADD", "z", "XX", "INCR", "5", "new"), ("ZADD", "nokey", "XX", "5", "new"),
        ("ZADD", "nokey", "XX", "INCR", "5", "new"), ("EXISTS", "nokey"), ("ZADD", "z", "NX", "5", "a", "5", "new"),
        ("ZSCORE", "z", "a"), ("ZADD", "z", "GT", "0", "a"), ("ZADD", "z", "GT", "CH", "10", "a"),
        ("ZADD", "z", "LT", "CH", "10", "a", "20", "b"), ("ZADD", "z", "LT", "CH", "0", "b"),
        ("ZADD", "z", "GT", "INCR", "-1", "a"), ("ZADD", "z", "LT", "INCR", "-1", "a"),
        ("ZADD", "z", "INCR", "0", "a"), ("ZADD", "z", "CH", "1", "a", "1", "b", "7", "zz"),
        ("ZADD", "z", "INCR", "inf", "a"), ("ZADD", "z", "INCR", "-inf", "a"), ("ZINCRBY", "z", "-inf", "i"),
        ("ZINCRBY", "z", "1", "a"), ("ZINCRBY", "z", "0.1", "a"), ("ZINCRBY", "z", "x", "a"),
        ("ZINCRBY", "nokey2", "2.5", "m"), ("ZINCRBY", "z", "1"), ("ZCARD", "z"), ("ZCARD", "nokey"),
        ("ZRANK", "z", "a"), ("ZREVRANK", "z", "a"), ("ZRANK", "z", "zzz"), ("ZRANK", "nokey", "a"),
        ("ZREM", "z", "a", "zzz"), ("ZREM", "z"), ("ZREM", "nokey", "a"), ("ZREM", "nokey2", "m", "m"),
        ("EXISTS", "nokey2"), ("SET", "str", "x"), ("ZADD", "str", "1", "a"), ("ZADD", "str", "x", "a"),
        ("ZINCRBY", "str", "1", "a"), ("ZREM", "str", "a"), ("ZCARD", "str"), ("ZSCORE", "str", "a"),
        ("ZMSCORE", "str", "a"), ("ZRANK", "str", "a"), ("ZRANGE", "str", "0", "-1"), ("ZRANGE", "str", "x", "y"),
        ("ZRANGEBYSCORE", "str", "0", "1"), ("ZCOUNT", "str", "0", "1"), ("ZLEXCOUNT", "str", "-", "+"),
        ("ZPOPMIN", "str"), ("ZPOPMIN", "str", "0"), ("ZRANDMEMBER", "str"), ("ZRANDMEMBER", "str", "1"),
        ("ZSCAN", "str", "0"), ("ZUNION", "1", "str"), ("ZUNIONSTORE", "d", "1", "str"), ("ZINTERCARD", "1", "str"),
        ("ZMPOP", "1", "str", "MIN"), ("ZREMRANGEBYRANK", "str", "0", "1"), ("ZREMRANGEBYRANK", "str", "x", "1"),
        ("ZRANGESTORE", "d", "str", "0", "-1"),
    ],
    "pops_ranges": [
        ("SET", "str", "x"), ("ZPOPMIN", "str", "0"), ("ZPOPMIN", "str", "-1"), ("ZPOPMIN", "str", "x"),
        ("ZPOPMIN", "nokey", "0"), ("ZPOPMIN", "nokey", "-1"), ("ZPOPMIN", "nokey"), ("ZPOPMAX", "nokey", "3"),
        ("ZADD", "z", "1", "a", "2", "b", "3", "c", "4", "d", "5", "e", "6", "f"), ("ZPOPMIN", "z"), ("ZPOPMAX", "z"),
        ("ZPOPMIN", "z", "0"), ("ZPOPMIN", "z", "2"), ("ZPOPMAX", "z", "1"), ("ZPOPMIN", "z", "1", "2"),
        ("ZPOPMAX", "z", "10"), ("EXISTS", "z"),
        ("ZADD", "z", "1", "a", "2", "b", "3", "c", "4", "d", "5", "e", "6", "f"), ("ZMPOP", "1", "z", "MIN"),
        ("ZMPOP", "1", "z", "MAX", "COUNT", "2"), ("ZMPOP", "2", "nokey", "z", "min", "count", "10"),
        ("ZMPOP", "2", "nokey", "z", "min"), ("ZMPOP", "0", "z", "MIN"), ("ZMPOP", "-1", "z", "MIN"),
        ("ZMPOP", "x", "z", "MIN"), ("ZMPOP", "1", "z"), ("ZMPOP", "2", "z", "MIN"), ("ZMPOP", "1", "z", "FOO"),
        ("ZMPOP", "1", "z", "MIN", "COUNT", "0"), ("ZMPOP", "1", "z", "MIN", "COUNT", "-1"),
        ("ZMPOP", "1", "z", "MIN", "COUNT", "x"), ("ZMPOP", "1", "z", "MIN", "COUNT"),
        ("ZMPOP", "1", "z", "MIN", "COUNT", "1", "COUNT", "2"), ("ZMPOP", "1", "z", "MIN", "FOO"),
        ("ZMPOP", "2", "z", "str", "MIN"), ("ZMPOP", "2", "str", "z", "MIN"), ("ZMPOP", "1", "nokey", "MIN"),
        ("ZADD", "r", "1", "a", "1", "b", "1", "c", "2", "d", "2", "e", "3", "f"), ("ZRANGE", "r", "0", "-1"),
        ("ZRANGE", "r", "0", "-1", "WITHSCORES"), ("ZRANGE", "r", "-2", "-1", "WITHSCORES"),
        ("ZRANGE", "r", "2", "1"), ("ZRANGE", "r", "10", "20"), ("ZRANGE", "r", "-100", "100"),
        ("ZRANGE", "r", "0", "-1", "REV"), ("ZRANGE", "r", "0", "1", "REV", "WITHSCORES"), ("ZRANGE", "r", "x", "1"),
        ("ZRANGE", "r", "0", "1", "LIMIT", "0", "1"), ("ZRANGE", "r", "0", "1", "BYLEX", "WITHSCORES"),
        ("ZRANGE", "r", "1", "2", "BYSCORE"), ("ZRANGE", "r", "(1", "2", "BYSCORE"),
        ("ZRANGE", "r", "(1", "(2", "BYSCORE"), ("ZRANGE", "r", "-inf", "+inf", "BYSCORE", "WITHSCORES"),
        ("ZRANGE", "r", "+inf", "-inf", "BYSCORE", "REV", "WITHSCORES"),
        ("ZRANGE", "r", "+inf", "-inf", "BYSCORE", "REV", "LIMIT", "1", "2"),
        ("ZRANGE", "r", "-inf", "+inf", "BYSCORE", "LIMIT", "1", "2"),
        ("ZRANGE", "r", "-inf", "+inf", "BYSCORE", "LIMIT", "-1", "2"),
        ("ZRANGE", "r", "-inf", "+inf", "BYSCORE", "LIMIT", "1", "-1"),
        ("ZRANGE", "r", "-inf", "+inf", "BYSCORE", "LIMIT", "1", "0"),
        ("ZRANGE", "r", "-inf", "+inf", "BYSCORE", "LIMIT", "10", "1"),
        ("ZRANGE", "r", "-inf", "+inf", "BYSCORE", "LIMIT", "5", "1"),
        ("ZRANGE", "r", "-inf", "+inf", "BYSCORE", "LIMIT", "x", "1"),
        ("ZRANGE", "r", "-inf", "+inf", "BYSCORE", "LIMIT", "1"), ("ZRANGE", "r", "a", "b", "BYSCORE"),
        ("ZRANGE", "r", "1", "2", "BYSCORE", "BYLEX"), ("ZRANGE", "r", "1", "2", "BYSCORE", "BYSCORE"),
        ("ZRANGE", "r", "1", "2", "REV", "REV"), ("ZRANGE", "r", "-", "+", "BYLEX"),
        ("ZRANGE", "r", "[a", "[c", "BYLEX"), ("ZRANGE", "r", "+", "-", "BYLEX", "REV"),
        ("ZRANGE", "r", "a", "c", "BYLEX"), ("ZRANGE", "r", "-", "+", "BYLEX", "LIMIT", "1", "2"),
        ("ZRANGE", "r", "0", "-1", "WITHSCORES", "WITHSCORES"), ("ZRANGE", "r", "0", "-1", "FOO"),
        ("ZRANGE", "nokey", "0", "-1"), ("ZRANGE", "nokey", "x", "y"),
        ("ZRANGE", "nokey", "0", "1", "LIMIT", "0", "1"), ("ZRANGEBYSCORE", "r", "1", "2"),
        ("ZRANGEBYSCORE", "r", "1", "2", "WITHSCORES", "LIMIT", "0", "2"),
        ("ZRANGEBYSCORE", "r", "1", "2", "BYSCORE"), ("ZRANGEBYSCORE", "r", "1", "2", "REV"),
        ("ZRANGEBYSCORE", "r", "x", "2"), ("ZRANGEBYSCORE", "r", "", "2"), ("ZRANGEBYSCORE", "r", " 1", "2"),
        ("ZRANGEBYSCORE", "r", "(", "2"), ("ZRANGEBYSCORE", "r", "(inf", "+inf"),
        ("ZRANGEBYSCORE", "r", "-inf", "(-inf"), ("ZRANGEBYSCORE", "r", "0x1", "3"),
        ("ZRANGEBYSCORE", "r", "1e0", "3e0"), ("ZRANGEBYSCORE", "r", "nan", "3"),
        ("ZRANGEBYSCORE", "r", "1", "inf", "LIMIT", "0", "1", "LIMIT", "1", "1"), ("ZREVRANGEBYSCORE", "r", "2", "1"),
        ("ZREVRANGEBYSCORE", "r", "1", "2"),
        ("ZREVRANGEBYSCORE", "r", "+inf", "-inf", "WITHSCORES", "LIMIT", "1", "3"),
        ("ZREVRANGEBYSCORE", "r", "(2", "(1"), ("ZRANGEBYLEX", "r", "-", "+"), ("ZRANGEBYLEX", "r", "[b", "(e"),
        ("ZRANGEBYLEX", "r", "-", "+", "WITHSCORES"), ("ZRANGEBYLEX", "r", "-", "+", "LIMIT", "2", "2"),
        ("ZRANGEBYLEX", "r", "b", "+"), ("ZREVRANGEBYLEX", "r", "+", "-"),
        ("ZREVRANGEBYLEX", "r", "[e", "(b", "LIMIT", "1", "5"), ("ZREVRANGE", "r", "0", "1"),
        ("ZREVRANGE", "r", "0", "1", "WITHSCORES"), ("ZREVRANGE", "r", "0", "1", "LIMIT", "0", "1"),
        ("ZREVRANGE", "r", "0", "1", "REV"), ("ZREVRANGE", "r", "0", "1", "BYSCORE"),
        ("ZADD", "l", "0", "a", "0", "b", "0", "c", "0", "d", "0", "e", "0", "f", "0", "g"),
        ("ZRANGEBYLEX", "l", "-", "+"), ("ZRANGEBYLEX", "l", "[b", "[d"), ("ZRANGEBYLEX", "l", "(b", "(d"),
        ("ZRANGEBYLEX", "l", "(b", "+"), ("ZRANGEBYLEX", "l", "-", "(c"), ("ZRANGEBYLEX", "l", "[c", "[c"),
        ("ZRANGEBYLEX", "l", "(c", "[c"), ("ZRANGEBYLEX", "l", "[d", "[b"), ("ZRANGEBYLEX", "l", "+", "-"),
        ("ZRANGEBYLEX", "l", "-", "-"), ("ZRANGEBYLEX", "l", "+", "+"), ("ZRANGEBYLEX", "l", "[", "+"),
        ("ZRANGEBYLEX", "l", "(", "+"), ("ZRANGEBYLEX", "l", "[aa", "(dd"), ("ZREVRANGEBYLEX", "l", "[d", "[b"),
        ("ZREVRANGEBYLEX", "l", "(d", "-", "LIMIT", "0", "2"), ("ZLEXCOUNT", "l", "-", "+"),
        ("ZLEXCOUNT", "l", "[b", "(d"), ("ZLEXCOUNT", "l", "a", "b"), ("ZLEXCOUNT", "nokey", "-", "+"),
        ("ZLEXCOUNT", "r", "-", "+"), ("ZLEXCOUNT", "r", "[b", "[e"), ("ZCOUNT", "r", "1", "2"),
        ("ZCOUNT", "r", "(1", "2"), ("ZCOUNT", "r", "-inf", "+inf"), ("ZCOUNT", "r", "x", "1"),
        ("ZCOUNT", "nokey", "0", "1"), ("ZCOUNT", "r", "2", "1"), ("ZRANGESTORE", "d", "r", "0", "1"),
        ("ZRANGE", "d", "0", "-1", "WITHSCORES"), ("ZRANGESTORE", "d", "r", "1", "2", "BYSCORE", "LIMIT", "1", "1"),
        ("ZRANGE", "d", "0", "-1", "WITHSCORES"), ("ZRANGESTORE", "d", "r", "[b", "[d", "BYLEX"),
        ("ZRANGESTORE", "d", "r", "5", "10"), ("EXISTS", "d"), ("ZRANGESTORE", "d", "r", "5", "10"),
        ("ZRANGESTORE", "d", "nokey", "0", "-1"), ("ZRANGESTORE", "d", "r", "0", "-1", "WITHSCORES"),
        ("ZRANGESTORE", "d", "r"), ("ZRANGESTORE", "d", "r", "0", "-1", "REV"), ("ZRANGE", "d", "0", "-1"),
        ("ZRANGESTORE", "str", "r", "0", "0"), ("TYPE", "str"),
        ("ZRANGESTORE", "d", "r", "+inf", "-inf", "BYSCORE", "REV", "LIMIT", "0", "2"),
        ("ZRANGE", "d", "0", "-1", "WITHSCORES"),
    ],
    "remrange_setops": [
        ("SET", "str", "x"), ("ZADD", "r", "1", "a", "1", "b", "1", "c", "2", "d", "2", "e", "3", "f"),
        ("ZREMRANGEBYRANK", "r", "x", "1"), ("ZREMRANGEBYRANK", "nokey", "0", "1"),
        ("ZREMRANGEBYRANK", "r", "10", "20"), ("ZREMRANGEBYRANK", "r", "2", "1"),
        ("ZREMRANGEBYRANK", "r", "-1", "-1"), ("ZRANGE", "r", "0", "-1"), ("ZREMRANGEBYSCORE", "r", "x", "1"),
        ("ZREMRANGEBYSCORE", "r", "5", "10"), ("ZREMRANGEBYSCORE", "r", "(1", "2"), ("ZRANGE", "r", "0", "-1"),
        ("ZREMRANGEBYLEX", "r", "a", "b"), ("ZREMRANGEBYLEX", "r", "[b", "+"), ("ZRANGE", "r", "0", "-1"),
        ("ZREMRANGEBYRANK", "r", "0", "-1"), ("EXISTS", "r"), ("ZREMRANGEBYSCORE", "str", "0", "1"),
        ("ZREMRANGEBYLEX", "str", "-", "+"), ("ZREMRANGEBYLEX", "nokey", "-", "+"),
        ("ZADD", "a", "1", "x", "2", "y", "3", "z"), ("ZADD", "b", "10", "y", "20", "z", "30", "w"),
        ("SADD", "s", "y", "w", "q"), ("ZUNION", "2", "a", "b"), ("ZUNION", "2", "a", "b", "WITHSCORES"),
        ("ZUNION", "3", "a", "b", "s", "WITHSCORES"), ("ZUNION", "2", "a", "b", "WEIGHTS", "2", "3", "WITHSCORES"),
        ("ZUNION", "2", "a", "b", "WEIGHTS", "2", "WITHSCORES"),
        ("ZUNION", "2", "a", "b", "WEIGHTS", "2", "x", "WITHSCORES"),
        ("ZUNION", "2", "a", "b", "AGGREGATE", "MIN", "WITHSCORES"),
        ("ZUNION", "2", "a", "b", "AGGREGATE", "MAX", "WITHSCORES"), ("ZUNION", "2", "a", "b", "AGGREGATE", "FOO"),
        ("ZUNION", "2", "a", "b", "AGGREGATE"), ("ZUNION", "2", "a", "b", "WITHSCORES", "WITHSCORES"),
        ("ZUNION", "0", "a"), ("ZUNION", "-1", "a"), ("ZUNION", "x", "a"), ("ZUNION", "3", "a", "b"),
        ("ZUNION", "1", "nokey"), ("ZUNION", "2", "a", "str"), ("ZUNION", "2", "str", "nokey", "WEIGHTS", "x"),
        ("ZUNION", "2", "a", "b", "WEIGHTS", "inf", "-inf", "WITHSCORES"),
        ("ZUNION", "2", "a", "a", "WEIGHTS", "inf", "-inf", "WITHSCORES"), ("ZUNION", "2", "a", "b", "FOO"),
        ("ZINTER", "2", "a", "b", "WITHSCORES"), ("ZINTER", "3", "a", "b", "s", "WITHSCORES"),
        ("ZINTER", "2", "a", "nokey"),
        ("ZINTER", "2", "a", "b", "WEIGHTS", "1", "-1", "AGGREGATE", "MAX", "WITHSCORES"),
        ("ZINTER", "2", "a", "a", "WITHSCORES"), ("ZINTER", "1", "s", "WITHSCORES"),
        ("ZDIFF", "2", "a", "b", "WITHSCORES"), ("ZDIFF", "2", "a", "b", "WEIGHTS", "1", "1"),
        ("ZDIFF", "2", "a", "b", "AGGREGATE", "SUM"), ("ZDIFF", "1", "a", "WITHSCORES"), ("ZDIFF", "2", "a", "a"),
        ("ZDIFF", "2", "nokey", "a"), ("ZDIFF", "2", "s", "a"), ("ZUNIONSTORE", "d", "2", "a", "b"),
        ("ZRANGE", "d", "0", "-1", "WITHSCORES"), ("OBJECT", "ENCODING", "d"),
        ("ZUNIONSTORE", "d", "2", "a", "b", "WITHSCORES"), ("ZUNIONSTORE", "d", "0", "a"),
        ("ZINTERSTORE", "d", "2", "a", "b", "AGGREGATE", "MIN"), ("ZRANGE", "d", "0", "-1", "WITHSCORES"),
        ("ZINTERSTORE", "d", "2", "a", "nokey"), ("EXISTS", "d"), ("ZINTERSTORE", "d", "2", "a", "nokey"),
        ("ZDIFFSTORE", "d", "2", "a", "b"), ("ZRANGE", "d", "0", "-1", "WITHSCORES"), ("ZDIFFSTORE", "d", "1", "s"),
        ("ZRANGE", "d", "0", "-1", "WITHSCORES"), ("ZUNIONSTORE", "str", "1", "a"), ("TYPE", "str"),
        ("ZINTERCARD", "2", "a", "b"), ("ZINTERCARD", "2", "a", "b", "LIMIT", "1"),
        ("ZINTERCARD", "2", "a", "b", "LIMIT", "0"), ("ZINTERCARD", "2", "a", "b", "LIMIT", "-1"),
        ("ZINTERCARD", "2", "a", "b", "LIMIT", "x"), ("ZINTERCARD", "0", "a"), ("ZINTERCARD", "3", "a", "b"),
        ("ZINTERCARD", "2", "a", "b", "FOO"), ("ZINTERCARD", "1", "nokey"), ("ZINTERCARD", "2", "a", "s"),
        ("ZINTERCARD", "1", "str"), ("ZRANDMEMBER", "nokey"), ("ZRANDMEMBER", "nokey", "3"),
        ("ZRANDMEMBER", "nokey", "x"), ("ZRANDMEMBER", "nokey", "0"), ("ZRANDMEMBER", "a", "0"),
        ("ZRANDMEMBER", "a", "10"), ("ZRANDMEMBER", "a", "10", "WITHSCORES"), ("ZRANDMEMBER", "a", "3", "WITHSCORES"),
        ("ZRANDMEMBER", "a", "1", "FOO"), ("ZRANDMEMBER", "a", "1", "WITHSCORES", "x"),
        ("ZRANDMEMBER", "a", "-9223372036854775808"), ("ZRANDMEMBER", "a", "-9223372036854775807", "WITHSCORES"),
        ("ZRANDMEMBER", "a", "4611686018427387904", "WITHSCORES"), ("ZRANDMEMBER", "a", "x", "WITHSCORES"),
        ("SET", "str", "x"), ("ZRANDMEMBER", "str"), ("ZRANDMEMBER", "str", "1"),
        ("ZADD", "one", "2.5", "m"), ("ZRANDMEMBER", "one"),
        ("ZRANDMEMBER", "one", "-3", "WITHSCORES"), ("ZRANDMEMBER", "one", "-2"), ("ZSCAN", "a", "0"),
        ("ZSCAN", "a", "0", "MATCH", "y*"), ("ZSCAN", "a", "x"), ("ZSCAN", "a", "0", "COUNT", "0"),
        ("ZSCAN", "nokey", "0"), ("ZSCAN", "a", "0", "NOVALUES"),
    ],
    "numbers_cards": [
        ("SET", "str", "x"), ("ZADD", "a", "1", "x", "2", "y", "3", "z"), ("ZINTERCARD", "1", "str", "FOO"),
        ("ZINTERCARD", "2", "a", "str", "LIMIT", "-1"), ("ZINTERCARD", "1", "a", "LIMIT", "-1", "LIMIT", "x"),
        ("ZINTERCARD", "x", "a"), ("ZINTERCARD", "1", "a", "LIMIT"),
        ("ZINTERCARD", "1", "a", "limit", "1", "limit", "2"), ("ZINTERCARD", "0", "a"), ("ZINTERCARD", "3", "a", "b"),
        ("ZRANDMEMBER", "a", "10"), ("ZRANDMEMBER", "a", "3", "WITHSCORES"), ("ZUNION", "1", "str", "FOO"),
        ("ZUNIONSTORE", "d", "1", "str", "WEIGHTS", "x"), ("ZUNION", "2", "a", "nokey", "WEIGHTS", "1", "x"),
        ("ZUNION", "1", "a", "WEIGHTS", "1", "WEIGHTS", "2", "WITHSCORES"),
        ("ZUNION", "1", "a", "AGGREGATE", "MIN", "AGGREGATE", "MAX", "WITHSCORES"), ("ZADD", "m", "-0", "a"),
        ("ZSCORE", "m", "a"), ("ZADD", "m", "0", "a"), ("ZINCRBY", "m", "-0", "a"), ("ZSCORE", "m", "a"),
        ("ZADD", "m", "INCR", "-0", "b"), ("ZSCAN", "m", "0"), ("ZUNION", "1", "m", "WEIGHTS", "-1", "WITHSCORES"),
        ("ZUNIONSTORE", "d", "1", "m", "WEIGHTS", "-1"), ("ZSCORE", "d", "a"),
        ("ZUNION", "2", "a", "a", "WEIGHTS", "inf", "-inf", "WITHSCORES"),
        ("ZINTER", "2", "a", "a", "WEIGHTS", "inf", "-inf", "WITHSCORES"), ("ZADD", "inf", "1", "a"),
        ("ZUNION", "1", "inf", "WEIGHTS", "inf", "WITHSCORES"), ("ZUNION", "1", "inf", "WEIGHTS", "0", "WITHSCORES"),
        ("ZADD", "inf", "inf", "b", "-inf", "c"), ("ZUNION", "1", "inf", "WEIGHTS", "0", "WITHSCORES"),
        ("ZUNION", "1", "inf", "WEIGHTS", "-1", "WITHSCORES"),
        ("ZADD", "big", "1.0000000000000002", "a", "0.30000000000000004", "b", "1e-320", "c", "9007199254740993", "d",
         "4503599627370497", "e", "4611686018427387904", "f", "4611686018427387905", "g",
         "-4611686018427387904", "h", "1e15", "i", "123.456", "j"),
        ("ZRANGE", "big", "0", "-1", "WITHSCORES"), ("ZSCAN", "big", "0"), ("ZINCRBY", "big", "0.1", "b"),
        ("ZINCRBY", "big", "1e308", "i"), ("ZINCRBY", "big", "1e308", "i"), ("ZINCRBY", "big", "1e308", "i"),
    ],
    "encodings": [
        ("ZADD", "z", "1", "a", "2", "b", "3", "c", "4", "d"), ("OBJECT", "ENCODING", "z"), ("ZADD", "z", "5", "e"),
        ("OBJECT", "ENCODING", "z"), ("ZREM", "z", "a", "b", "c", "d"), ("OBJECT", "ENCODING", "z"),
        ("ZADD", "y", "1", "longmember9"), ("OBJECT", "ENCODING", "y"), ("ZADD", "x", "1", "a", "2", "longmember9"),
        ("OBJECT", "ENCODING", "x"),
        ("ZADD", "w", "1", "a", "2", "b", "3", "c", "4", "d", "5", "e", "6", "f", "-0", "g"), ("ZSCORE", "w", "g"),
        ("ZRANGE", "w", "0", "-1", "WITHSCORES"), ("ZSCAN", "w", "0", "COUNT", "100"),
        ("ZADD", "w", "inf", "h", "-inf", "i", "0.1", "j"), ("ZSCAN", "w", "0", "COUNT", "100"),
        ("ZRANGESTORE", "d", "w", "0", "3"), ("OBJECT", "ENCODING", "d"), ("ZRANGESTORE", "d", "w", "0", "4"),
        ("OBJECT", "ENCODING", "d"), ("ZRANGESTORE", "d", "w", "-inf", "+inf", "BYSCORE", "LIMIT", "0", "4"),
        ("OBJECT", "ENCODING", "d"), ("ZRANGESTORE", "d", "w", "-inf", "+inf", "BYSCORE", "LIMIT", "0", "5"),
        ("OBJECT", "ENCODING", "d"), ("ZUNIONSTORE", "d", "1", "w"), ("OBJECT", "ENCODING", "d"),
        ("ZINTERSTORE", "d", "2", "w", "z"), ("OBJECT", "ENCODING", "d"), ("ZRANGE", "d", "0", "-1", "WITHSCORES"),
        ("ZADD", "s", "1", "aaaaaaaaaaaaa"), ("ZUNIONSTORE", "d", "1", "s"), ("OBJECT", "ENCODING", "d"),
        ("ZADD", "l", "0", "a", "0", "b", "0", "c", "0", "d", "0", "e", "0", "f", "0", "g"),
        ("OBJECT", "ENCODING", "l"), ("ZRANGEBYLEX", "l", "[b", "(f"), ("ZREVRANGEBYLEX", "l", "(f", "[b"),
        ("ZLEXCOUNT", "l", "(a", "+"), ("ZREMRANGEBYLEX", "l", "[b", "[c"), ("ZRANGE", "l", "0", "-1"),
        ("ZADD", "mix2", "1", "a", "2", "b", "3", "c", "0", "d"), ("ZRANGEBYLEX", "mix2", "[b", "[e"),
        ("ZREVRANGEBYLEX", "mix2", "[e", "[b"), ("ZLEXCOUNT", "mix2", "[b", "[e"),
        ("ZADD", "n", "-0", "a"),
        ("ZADD", "n", "1", "b", "2", "c", "3", "d", "4", "e"), ("ZSCORE", "n", "a"),
        ("ZRANDMEMBER", "w", "100", "WITHSCORES"), ("ZPOPMIN", "w", "2"), ("ZPOPMAX", "w", "2"),
        ("OBJECT", "ENCODING", "w"), ("CONFIG", "SET", "zset-max-ziplist-entries", "2"),
        ("CONFIG", "GET", "zset-max-ziplist-entries"), ("CONFIG", "GET", "zset-max-listpack-entries"),
        ("ZADD", "p", "1", "a", "2", "b", "3", "c"), ("OBJECT", "ENCODING", "p"),
        ("CONFIG", "SET", "zset-max-ziplist-value", "1"), ("ZADD", "q", "1", "ab"), ("OBJECT", "ENCODING", "q"),
    ],
}


@pytest.mark.interop
@pytest.mark.parametrize("name", sorted(SCRIPTS))
def test_script_matches_redis(pair, name):
    if name == "encodings":
        for conn in pair:
            conn("CONFIG", "SET", "zset-max-listpack-entries", "4")
            conn("CONFIG", "SET", "zset-max-listpack-value", "8")
    run_script(pair, SCRIPTS[name])


EVENT_SCRIPT = [
    ("ZADD", "z", "1", "a", "2", "b", "3", "c"), ("ZADD", "z", "1", "a"), ("ZADD", "z", "INCR", "1", "a"),
    ("ZADD", "z", "XX", "5", "new"), ("ZINCRBY", "z", "1", "b"), ("ZREM", "z", "zz"), ("ZREM", "z", "c"),
    ("ZPOPMIN", "z", "0"), ("ZPOPMIN", "z"), ("ZADD", "y", "1", "a", "2", "b", "3", "c", "4", "d"),
    ("ZPOPMAX", "y", "2"), ("ZMPOP", "1", "y", "MIN", "COUNT", "5"), ("ZADD", "r", "1", "a", "2", "b", "3", "c"),
    ("ZREMRANGEBYRANK", "r", "0", "0"), ("ZREMRANGEBYSCORE", "r", "10", "20"), ("ZREMRANGEBYLEX", "r", "-", "+"),
    ("ZADD", "u", "0", "a", "0", "b"), ("ZUNIONSTORE", "d", "1", "u"), ("ZINTERSTORE", "d", "2", "u", "z"),
    ("ZDIFFSTORE", "d", "1", "u"), ("ZRANGESTORE", "d2", "u", "0", "0"), ("ZRANGESTORE", "d2", "u", "5", "9"),
    ("ZUNIONSTORE", "d", "1", "nokey"), ("ZRANGE", "u", "0", "-1"), ("ZPOPMAX", "z", "9"),
]


@pytest.mark.interop
def test_keyspace_events_match_redis(servers):
    hf, rr = servers
    ours = keyspace_events(hf.port, EVENT_SCRIPT)
    assert len(ours) > 20 and ours == keyspace_events(rr.port, EVENT_SCRIPT)


def _random_command(rnd):
    k = rnd.choice(("z1", "z2", "z3", "s", "str"))
    m = lambda: rnd.choice(("a", "b", "c", "d", "e", "f", "longmember9", ""))  # noqa: E731
    sc = lambda: rnd.choice(("1", "-2", "0.1", "0.2", "0.3", "3.5", "inf", "-inf", "1e17", "-0", "(1", "7"))  # noqa: E731
    num = lambda: str(rnd.randint(-4, 6))  # noqa: E731
    lex = lambda: rnd.choice(("-", "+", "[a", "(b", "[c", "(e", "[", "x"))  # noqa: E731
    ks = lambda: [rnd.choice(("z1", "z2", "z3", "s", "nokey")) for _ in range(rnd.randint(1, 3))]  # noqa: E731
    return rnd.choice([
        lambda: ("ZADD", k) + tuple(rnd.sample(("NX", "XX", "GT", "LT", "CH"), rnd.randint(0, 1)))
        + tuple(x for _ in range(rnd.randint(1, 3)) for x in (sc(), m())),
        lambda: ("ZADD", k, "INCR", sc(), m()),
        lambda: ("ZINCRBY", k, sc(), m()),
        lambda: ("ZREM", k, m(), m()),
        lambda: ("ZSCORE", k, m()),
        lambda: ("ZMSCORE", k, m(), m()),
        lambda: ("ZRANK", k, m()),
        lambda: ("ZREVRANK", k, m()),
        lambda: ("ZCARD", k),
        lambda: ("ZCOUNT", k, sc(), sc()),
        lambda: ("ZRANGE", k, num(), num()) + rnd.choice(((), ("WITHSCORES",), ("REV", "WITHSCORES"))),
        lambda: ("ZRANGE", k, sc(), sc(), "BYSCORE") + rnd.choice(((), ("WITHSCORES",), ("LIMIT", num(), num()))),
        lambda: ("ZREVRANGEBYSCORE", k, sc(), sc(), "WITHSCORES"),
        lambda: ("ZRANGEBYLEX", "lex", lex(), lex()) + rnd.choice(((), ("LIMIT", num(), num()))),
        lambda: ("ZREVRANGEBYLEX", "lex", lex(), lex()),
        lambda: ("ZLEXCOUNT", "lex", lex(), lex()),
        lambda: ("ZADD", "lex", "0", m(), "0", m()),
        lambda: ("ZREMRANGEBYLEX", "lex", lex(), lex()),
        lambda: ("ZREMRANGEBYRANK", k, num(), num()),
        lambda: ("ZREMRANGEBYSCORE", k, sc(), sc()),
        lambda: ("ZPOPMIN", k) + rnd.choice(((), (num(),))),
        lambda: ("ZPOPMAX", k) + rnd.choice(((), (num(),))),
        lambda: ("ZMPOP", "2", k, "z3", rnd.choice(("MIN", "MAX")), "COUNT", str(rnd.randint(1, 3))),
        lambda: ("ZRANGESTORE", rnd.choice(("z1", "z2", "d")), k, num(), num()),
        lambda: ("ZUNIONSTORE", rnd.choice(("z1", "z3", "d")), "2", *ks()[:1], "z2", "WEIGHTS", "2", "0.5")
        + rnd.choice(((), ("AGGREGATE", "MIN"), ("AGGREGATE", "MAX"))),
        lambda: ("ZINTERSTORE", rnd.choice(("z2", "d")), "2", "z1", k),
        lambda: ("ZDIFFSTORE", rnd.choice(("z3", "d")), "2", k, "z1"),
        lambda: ("ZUNION", "3", *ks()[:1], "z1", "z2", "WITHSCORES"),
        lambda: ("ZINTER", "2", k, "z2", "WITHSCORES"),
        lambda: ("ZDIFF", "2", k, "z2", "WITHSCORES"),
        lambda: ("ZINTERCARD", "2", k, "z1"),
        lambda: ("ZRANDMEMBER", k, "100", "WITHSCORES"),
        lambda: ("SADD", "s", m()),
        lambda: ("SET", "str", "x"),
        lambda: ("OBJECT", "ENCODING", k),
        lambda: ("DEL", k),
    ])()


@pytest.mark.interop
def test_random_commands_match_redis(pair):
    """A seeded random walk over the commands, with tiny listpack limits so
    keys convert back and forth; every reply and the final digest equal."""
    for conn in pair:
        conn("CONFIG", "SET", "zset-max-listpack-entries", "4")
        conn("CONFIG", "SET", "zset-max-listpack-value", "8")
    rnd = random.Random(7)
    script = [_random_command(rnd) for _ in range(1500)]
    run_script(pair, script)
