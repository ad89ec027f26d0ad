"""Blocking sorted-set pops (BZPOPMIN BZPOPMAX BZMPOP): served at once and
later, propagated as the plain pops, waiters of both types on one key,
timeouts and MULTI, reply shapes against Debian's redis-server 7.0."""

import time

import pytest
from blockconn import arr, bulk, make_conns, stream
from rawresp import RawConn


@pytest.fixture
def conns(hf_server):
    yield from make_conns(hf_server)


# ---- sorted sets ------------------------------------------------------------------------------


def _score(proto, s):
    return bulk(s) if proto == 2 else b",%s\r\n" % s


@pytest.mark.parametrize("proto", [2, 3])
def test_bzpop_served_at_once_later_and_propagated_as_zpop(conns, proto):
    a, p = conns(2, proto)
    ctl = conns.ctl
    ctl("DEBUG", "PROPAGATED", "START")
    p("ZADD", "z", "1", "a", "2", "b", "3", "c", "4", "d")
    assert a("BZPOPMIN", "none", "z", "0") == arr(bulk(b"z"), bulk(b"a"), _score(proto, b"1"))
    assert a("BZPOPMAX", "z", "0") == arr(bulk(b"z"), bulk(b"d"), _score(proto, b"4"))
    assert a("BZMPOP", "0", "1", "z", "MIN", "COUNT", "5") == arr(
        bulk(b"z"), arr(arr(bulk(b"b"), _score(proto, b"2")), arr(bulk(b"c"), _score(proto, b"3"))))
    a.block("BZPOPMAX", "z", "z2", "0")
    p("ZADD", "z2", "1.5", "x", "2.5", "y")
    assert a.recv() == arr(bulk(b"z2"), bulk(b"y"), _score(proto, b"2.5"))
    a.block("BZMPOP", "0", "1", "z3", "MAX", "COUNT", "3")
    p("ZADD", "z3", "1", "m", "2", "n")
    assert a.recv() == arr(bulk(b"z3"), arr(arr(bulk(b"n"), _score(proto, b"2")), arr(bulk(b"m"), _score(proto, b"1"))))
    assert stream(ctl) == [
        ["ZADD", "z", "1", "a", "2", "b", "3", "c", "4", "d"], ["ZPOPMIN", "z"], ["ZPOPMAX", "z"],
        ["ZPOPMIN", "z", "2"], ["ZADD", "z2", "1.5", "x", "2.5", "y"], ["ZPOPMAX", "z2"],
        ["ZADD", "z3", "1", "m", "2", "n"], ["ZPOPMAX", "z3", "2"]]


def test_list_and_zset_waiters_on_one_key_each_get_their_type(conns):
    """The first waiter wants a list, the second a sorted set: a ZADD serves
    the second and leaves the first waiting (Redis skips, it does not stop)."""
    lw, zw, p = conns(3)
    lw.block("BLPOP", "k", "0")
    zw.block("BZPOPMIN", "k", "0")
    p("ZADD", "k", "1", "m")
    assert zw.recv() == arr(bulk(b"k"), bulk(b"m"), bulk(b"1"))
    assert lw.recv(0.15) is None
    p("RPUSH", "k", "v")
    assert lw.recv() == arr(bulk(b"k"), bulk(b"v"))


def test_bzpop_timeouts_and_multi(conns):
    (a,) = conns(1)
    for cmd in (("BZPOPMIN", "z", "0.1"), ("BZMPOP", "0.1", "1", "z", "MAX")):
        t0 = time.monotonic()
        a.send(*cmd)
        assert a.recv() == b"*-1\r\n"
        assert 0.1 <= time.monotonic() - t0 < 0.5
    a("MULTI")
    a("BZPOPMAX", "z", "0")
    a("BZMPOP", "0", "1", "z", "MIN")
    assert a("EXEC") == arr(b"*-1\r\n", b"*-1\r\n")


_ZSHAPES = [
    ("BZPOPMIN", "z", "0.05"), ("BZPOPMAX", "z", "0.05"), ("BZMPOP", "0.05", "1", "z", "MIN"),
    ("BZMPOP", "x", "1", "k", "MIN"), ("BZMPOP", "1", "1", "k", "MID"), ("BZMPOP", "x", "0", "k", "MIN"),
    ("BZMPOP", "1", "1", "k", "MIN", "COUNT", "0"), ("BZPOPMIN", "z", "-1"),
    ("SET", "s", "v"), ("BZPOPMIN", "s", "0"), ("BZMPOP", "0", "2", "none", "s", "MAX"),
    ("ZADD", "z", "1", "a", "2", "b", "3", "c", "0.1", "d"),
    ("BZPOPMIN", "z", "0"), ("BZPOPMAX", "z", "0"), ("BZMPOP", "0", "1", "z", "MIN", "COUNT", "5"),
    ("MULTI",), ("BZPOPMIN", "nk", "0"), ("BZMPOP", "0", "1", "nk", "MAX"), ("EXEC",),
]


@pytest.mark.parametrize("proto", [2, 3])
def test_zset_reply_shapes_match_redis(hf_server, real_redis_server, proto):
    hf = RawConn(hf_server.port, proto)
    rr = RawConn(real_redis_server.port, proto)
    try:
        for conn in (hf, rr):
            conn("FLUSHALL")
        for cmd in _ZSHAPES:
            assert hf(*cmd) == rr(*cmd), cmd
    finally:
        hf.close()
        rr.close()
