"""SORT and SORT_RO against redis-server 7.0, reply for reply: numeric and
ALPHA order, BY weights and hash fields, GET patterns, LIMIT edges, DESC
without sorting, STORE (and what it leaves in the keyspace), errors."""

import pytest
from rawresp import RawConn

SETUP = [
    ("RPUSH", "nums", "3", "1", "2", "10", "-1.5", "1e2", " 7"),
    ("RPUSH", "words", "pear", "apple", "Fig", "banana", "apple2", ""),
    ("RPUSH", "bad", "1", "x", "2"),
    ("SADD", "iset", "5", "3", "9", "1"),
    ("SADD", "wset", "b", "a", "c"),
    ("ZADD", "z", "3", "c", "1", "a", "2", "b", "2", "bb"),
    ("RPUSH", "ids", "1", "2", "3", "4"),
    ("MSET", "w_1", "40", "w_2", "10", "w_3", "30", "name_1", "one", "name_2", "two", "name_3", "three"),
    ("HSET", "obj_1", "age", "9", "nick", "x1"), ("HSET", "obj_2", "age", "3", "nick", "x2"),
    ("HSET", "obj_4", "age", "5"),
    ("SET", "str", "v"), ("RPUSH", "junk", "a"), ("SET", "w_4", "not-a-number"),
]

CASES = [
    ("SORT", "nums"), ("SORT", "nums", "DESC"), ("SORT", "nums", "LIMIT", "1", "3"),
    ("SORT", "nums", "LIMIT", "-5", "2"), ("SORT", "nums", "LIMIT", "6", "10"), ("SORT", "nums", "LIMIT", "9", "1"),
    ("SORT", "nums", "LIMIT", "0", "0"), ("SORT", "nums", "LIMIT", "2", "-1"), ("SORT", "nums", "limit", "x", "1"),
    ("SORT", "words"), ("SORT", "words", "ALPHA"), ("SORT", "words", "ALPHA", "DESC", "LIMIT", "1", "2"),
    ("SORT", "bad"), ("SORT", "bad", "ALPHA"), ("SORT", "iset"), ("SORT", "wset", "ALPHA"), ("SORT", "z"),
    ("SORT", "z", "ALPHA", "DESC"), ("SORT", "z", "BY", "nosort"), ("SORT", "z", "BY", "nosort", "DESC"),
    ("SORT", "z", "BY", "nosort", "DESC", "LIMIT", "1", "2"), ("SORT", "ids", "BY", "nosort", "DESC"),
    ("SORT", "ids", "BY", "nosort", "LIMIT", "1", "2"), ("SORT", "iset", "BY", "nosort", "STORE", "dst1"),
    ("LRANGE", "dst1", "0", "-1"), ("SORT", "ids", "BY", "w_*"), ("SORT", "ids", "BY", "w_*", "DESC"),
    ("SORT", "ids", "BY", "w_*", "GET", "name_*"), ("SORT", "ids", "BY", "w_*", "GET", "#", "GET", "name_*"),
    ("SORT", "ids", "BY", "obj_*->age"), ("SORT", "ids", "BY", "obj_*->age", "GET", "obj_*->nick", "GET", "#"),
    ("SORT", "ids", "BY", "name_*", "ALPHA"), ("SORT", "ids", "GET", "obj_*->"), ("SORT", "ids", "GET", "nostar"),
    ("SORT", "ids", "BY", "w_*", "STORE", "dst2"), ("LRANGE", "dst2", "0", "-1"),
    ("SORT", "ids", "GET", "name_*", "STORE", "dst3"), ("LRANGE", "dst3", "0", "-1"),
    ("SORT", "missing"), ("SORT", "missing", "STORE", "junk"), ("EXISTS", "junk"),
    ("SORT", "str"), ("SORT", "ids", "BY"), ("SORT", "ids", "FOO"), ("SORT", "ids", "STORE"),
    ("SORT_RO", "ids", "BY", "w_*", "GET", "name_*"), ("SORT_RO", "ids", "STORE", "dst4"),
    ("SORT", "z", "BY", "nosort", "GET", "#"), ("OBJECT", "ENCODING", "z"),
    ("COMMAND", "GETKEYS", "SORT", "ids", "BY", "w_*", "STORE", "a", "STORE", "b"),
    ("COMMAND", "GETKEYSANDFLAGS", "SORT", "ids", "LIMIT", "0", "1", "STORE", "d"),
    ("COMMAND", "GETKEYS", "SORT_RO", "ids"),
]


@pytest.mark.interop
@pytest.mark.parametrize("proto", [2, 3])
def test_sort_like_redis(hf_server, real_redis_server, proto):
    conns = [RawConn(s.port, proto=proto) for s in (hf_server, real_redis_server)]
    for conn in conns:
        conn("FLUSHALL")
        for cmd in SETUP:
            conn(*cmd)
    for cmd in CASES:
        ours, theirs = (conn(*cmd) for conn in conns)
        assert ours == theirs, cmd
    for conn in conns:
        conn.close()


def test_sort_store_reaches_the_aof(holdfast_factory):
    """SORT ... STORE is propagated: a restart on the AOF has the list."""
    srv = holdfast_factory("--appendonly", "yes")
    r = srv.client()
    r.sadd("s", "b", "c", "a")
    assert r.sort("s", alpha=True, store="out") == 3
    srv.stop()
    srv.start()
    assert srv.client().lrange("out", 0, -1) == [b"a", b"b", b"c"]
