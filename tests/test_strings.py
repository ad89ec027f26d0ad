"""String commands over real sockets: SET options, the GET family, MSET,
APPEND/SETRANGE/GETRANGE, counters, INCRBYFLOAT, LCS."""

import random

import pytest
import redis

from engine.commands.counters import parse_long_double
from engine.commands.strings import lcs_rows


@pytest.fixture(params=[2, 3], ids=["resp2", "resp3"])
def raw(request, hf_server):
    """A client without redis-py's reply conversions, in RESP2 and RESP3."""
    r = hf_server.client(protocol=request.param)
    r.response_callbacks.clear()
    r.flushall()
    yield r
    r.close()


def as_map(reply):
    """A RESP3 map or its RESP2 flat-array form, as a dict."""
    return reply if isinstance(reply, dict) else dict(zip(reply[::2], reply[1::2], strict=True))


def err(fn, *args):
    with pytest.raises(redis.ResponseError) as e:
        fn(*args)
    return str(e.value)


def test_set_get_basic(hf):
    assert hf.get("nokey") is None
    assert hf.set("k", "v") is True
    assert hf.get("k") == b"v"
    assert hf.set("k", b"\x00\xffbin") is True
    assert hf.get("k") == b"\x00\xffbin"
    assert hf.set("", "empty-key") is True
    assert hf.get("") == b"empty-key"


def test_set_nx_xx_get(raw):
    assert raw.execute_command("SET", "k", "1", "NX") == b"OK"
    assert raw.execute_command("SET", "k", "2", "NX") is None
    assert raw.execute_command("SET", "n", "1", "XX") is None
    assert raw.execute_command("SET", "k", "3", "XX", "GET") == b"1"
    assert raw.execute_command("SET", "k", "4", "NX", "GET") == b"3"  # not set, old value returned
    assert raw.execute_command("GET", "k") == b"3"
    assert raw.execute_command("SET", "n", "1", "GET") is None
    assert raw.execute_command("SET", "n", "2", "NX", "NX", "GET", "GET") == b"1"  # repeats are fine
    assert err(raw.execute_command, "SET", "k", "v", "NX", "XX") == "syntax error"


def test_set_expiry_options(hf):
    hf.execute_command("SET", "k", "v", "EX", "100")
    assert 99 <= hf.ttl("k") <= 100
    hf.execute_command("SET", "k", "v", "PX", "100000")
    assert 99 <= hf.ttl("k") <= 100
    hf.execute_command("SET", "k", "v", "EXAT", "99999999999")
    assert hf.execute_command("EXPIRETIME", "k") == 99999999999
    hf.execute_command("SET", "k", "v", "PXAT", "99999999999999")
    assert hf.execute_command("PEXPIRETIME", "k") == 99999999999999
    hf.execute_command("SET", "k", "v2", "KEEPTTL")
    assert hf.execute_command("PEXPIRETIME", "k") == 99999999999999
    hf.set("k", "v3")
    assert hf.ttl("k") == -1
    # Redis lets an option repeat; the last expiry wins.
    hf.execute_command("SET", "k", "v", "EX", "10", "EX", "200")
    assert 199 <= hf.ttl("k") <= 200


@pytest.mark.parametrize("args,msg", [
    (("EX", "0"), "invalid expire time in 'set' command"),
    (("PX", "-5"), "invalid expire time in 'set' command"),
    (("EX", "9223372036854775807"), "invalid expire time in 'set' command"),
    (("PX", "9223372036854775807"), "invalid expire time in 'set' command"),
    (("EX", "abc"), "value is not an integer or out of range"),
    (("EX", "abc", "NX", "XX"), "syntax error"),  # options are checked before the number
    (("EX", "1", "PX", "1"), "syntax error"),
    (("KEEPTTL", "EX", "1"), "syntax error"),
    (("EX",), "syntax error"),
    (("BOGUS",), "syntax error"),
])
def test_set_errors(hf, args, msg):
    assert err(hf.execute_command, "SET", "k", "v", *args) == msg


def test_set_with_past_expiry_leaves_an_expired_key(raw):
    raw.execute_command("SET", "k", "old")
    assert raw.execute_command("SET", "k", "new", "PXAT", "1", "GET") == b"old"
    assert raw.execute_command("EXISTS", "k") == 0
    assert raw.execute_command("SET", "k", "v", "EXAT", "1") == b"OK"
    assert raw.execute_command("GET", "k") is None


def test_get_family(hf):
    hf.set("k", "a")
    assert hf.getset("k", "b") == b"a"
    assert hf.getset("new", "x") is None
    assert hf.getdel("k") == b"b"
    assert hf.getdel("k") is None
    assert hf.exists("k") == 0
    hf.set("k", "v", ex=100)
    assert hf.getset("k", "w") == b"v"
    assert hf.ttl("k") == -1  # GETSET drops the TTL like SET


def test_getex(hf):
    hf.set("k", "v")
    assert hf.getex("k") == b"v"
    assert hf.getex("k", ex=100) == b"v"
    assert 99 <= hf.ttl("k") <= 100
    assert hf.getex("k", px=200000) == b"v"
    assert 199 <= hf.ttl("k") <= 200
    assert hf.getex("k", exat=99999999999) == b"v"
    assert hf.execute_command("EXPIRETIME", "k") == 99999999999
    assert hf.getex("k", persist=True) == b"v"
    assert hf.ttl("k") == -1
    assert hf.getex("nokey", ex=10) is None
    assert hf.execute_command("GETEX", "nokey", "EX", "abc") is None  # missing key wins over a bad number
    assert err(hf.execute_command, "GETEX", "k", "EX", "abc") == "value is not an integer or out of range"
    assert err(hf.execute_command, "GETEX", "k", "EX", "0") == "invalid expire time in 'getex' command"
    assert err(hf.execute_command, "GETEX", "k", "PERSIST", "EX", "1") == "syntax error"
    assert err(hf.execute_command, "GETEX", "k", "KEEPTTL") == "syntax error"
    assert hf.execute_command("GETEX", "k", "PXAT", "1") == b"v"  # replies, then deletes
    assert hf.exists("k") == 0


def test_setnx_setex_psetex(hf):
    assert hf.setnx("k", "1") is True
    assert hf.setnx("k", "2") is False
    assert hf.get("k") == b"1"
    assert hf.execute_command("SETEX", "e", 100, "v") is True
    assert 99 <= hf.ttl("e") <= 100
    assert hf.psetex("p", 100000, "v") is True
    assert 99 <= hf.ttl("p") <= 100
    assert err(hf.execute_command, "SETEX", "e", "0", "v") == "invalid expire time in 'setex' command"
    assert err(hf.execute_command, "PSETEX", "e", "-1", "v") == "invalid expire time in 'psetex' command"
    assert err(hf.execute_command, "SETEX", "e", "x", "v") == "value is not an integer or out of range"


def test_mset_msetnx_mget(hf):
    assert hf.mset({"a": "1", "b": "2"}) is True
    assert hf.mget("a", "b", "nokey") == [b"1", b"2", None]
    assert hf.msetnx({"a": "x", "c": "3"}) is False
    assert hf.exists("c") == 0
    assert hf.msetnx({"c": "3", "d": "4"}) is True
    assert hf.mget("c", "d") == [b"3", b"4"]
    assert err(hf.execute_command, "MSET", "a", "1", "b") == "wrong number of arguments for 'mset' command"
    assert err(hf.execute_command, "MSETNX", "a") == "wrong number of arguments for 'msetnx' command"
    hf.set("t", "v", ex=100)
    hf.mset({"t": "w"})
    assert hf.ttl("t") == -1


def test_append_strlen(hf):
    assert hf.append("k", "hello") == 5
    assert hf.append("k", " world") == 11
    assert hf.get("k") == b"hello world"
    assert hf.strlen("k") == 11
    assert hf.strlen("nokey") == 0
    hf.set("t", "a", ex=100)
    hf.append("t", "b")
    assert hf.ttl("t") > 0  # APPEND keeps the TTL


def test_setrange_getrange(hf):
    hf.set("k", "Hello World")
    assert hf.setrange("k", 6, "Redis") == 11
    assert hf.get("k") == b"Hello Redis"
    assert hf.setrange("k", 15, "!") == 16
    assert hf.get("k") == b"Hello Redis\x00\x00\x00\x00!"
    assert hf.setrange("new", 2, "ab") == 4
    assert hf.get("new") == b"\x00\x00ab"
    assert hf.setrange("none", 5, "") == 0
    assert hf.exists("none") == 0
    assert hf.setrange("k", 1, "") == 16
    assert err(hf.setrange, "k", -1, "x") == "offset is out of range"
    assert err(hf.execute_command, "SETRANGE", "k", "x", "x") == "value is not an integer or out of range"
    assert err(hf.setrange, "k", 512 * 1024 * 1024, "x") == \
        "string exceeds maximum allowed size (proto-max-bulk-len)"
    hf.set("s", "This is a string")
    assert hf.getrange("s", 0, 3) == b"This"
    assert hf.getrange("s", -3, -1) == b"ing"
    assert hf.getrange("s", 0, -1) == b"This is a string"
    assert hf.getrange("s", 10, 100) == b"string"
    assert hf.getrange("s", -1, -5) == b""
    assert hf.getrange("s", 5, 2) == b""
    assert hf.getrange("nokey", 0, -1) == b""
    assert hf.execute_command("SUBSTR", "s", 0, 3) == b"This"


def test_string_size_limit(holdfast_factory):
    r = holdfast_factory("--proto-max-bulk-len", "1mb").client()
    r.set("k", "x" * (1024 * 1024 - 1))
    assert r.append("k", "y") == 1024 * 1024
    assert err(r.append, "k", "z") == "string exceeds maximum allowed size (proto-max-bulk-len)"
    assert err(r.setrange, "k", 1024 * 1024, "z") == "string exceeds maximum allowed size (proto-max-bulk-len)"
    assert r.strlen("k") == 1024 * 1024


def test_incr_family(hf):
    assert hf.incr("c") == 1
    assert hf.incrby("c", 10) == 11
    assert hf.decr("c") == 10
    assert hf.decrby("c", 15) == -5
    assert hf.get("c") == b"-5"
    hf.set("c", "9223372036854775806")
    assert hf.incr("c") == 9223372036854775807
    assert err(hf.incr, "c") == "increment or decrement would overflow"
    hf.set("c", "-9223372036854775808")
    assert err(hf.decr, "c") == "increment or decrement would overflow"
    assert err(hf.execute_command, "DECRBY", "c", "-9223372036854775808") == "decrement would overflow"
    for bad in ("abc", " 1", "1 ", "01", "+1", "1.5", "9223372036854775808", ""):
        hf.set("b", bad)
        assert err(hf.incr, "b") == "value is not an integer or out of range", bad
    assert err(hf.execute_command, "INCRBY", "c", "x") == "value is not an integer or out of range"
    hf.set("t", "1", ex=100)
    hf.incr("t")
    assert hf.ttl("t") > 0


def test_incrbyfloat(raw):
    hf = raw
    assert raw.execute_command("INCRBYFLOAT", "f", "10.5") == b"10.5"
    assert raw.execute_command("INCRBYFLOAT", "f", "0.1") == b"10.6"
    assert raw.execute_command("INCRBYFLOAT", "f", "-5") == b"5.6"
    # Redis prints 17 decimals of the long double: the error shows here too.
    assert raw.execute_command("INCRBYFLOAT", "f", "1e3") == b"1005.59999999999999998"
    raw.execute_command("SET", "g", "5.0e3")
    assert raw.execute_command("INCRBYFLOAT", "g", "2.0e2") == b"5200"
    assert raw.execute_command("INCRBYFLOAT", "h", "0.1") == b"0.1"
    assert raw.execute_command("INCRBYFLOAT", "h", "0.2") == b"0.3"  # long double, not 0.30000000000000004
    for bad in ("abc", "", " 1", "1 ", "nan", "1e5000", "1e-5000", "1_0"):
        assert err(hf.execute_command, "INCRBYFLOAT", "f", bad) == "value is not a valid float", bad
    assert err(hf.execute_command, "INCRBYFLOAT", "f", "inf") == "increment would produce NaN or Infinity"
    hf.set("s", "abc")
    assert err(hf.execute_command, "INCRBYFLOAT", "s", "1") == "value is not a valid float"
    hf.set("t", "1", ex=100)
    hf.execute_command("INCRBYFLOAT", "t", "1.5")
    assert hf.ttl("t") > 0


def test_parse_long_double():
    assert parse_long_double(b"10.5") is not None
    assert parse_long_double(b"0x10") == 16
    assert parse_long_double(b"-inf") is not None
    assert parse_long_double(b"4e-4950") is not None  # subnormal, not zero: accepted like strtold
    for bad in (b"", b" 1", b"1\x00", b"nan", b"1e99999", b"1e-99999", b"--1", b"1e", b"e1", b"0x"):
        assert parse_long_double(bad) is None, bad


def test_resp2_nulls(hf_server):
    r = hf_server.client(protocol=2)
    r.flushall()
    assert r.get("nokey") is None
    assert r.mget("a", "b") == [None, None]
    assert r.execute_command("SET", "k", "v", "GET") is None
    r.close()


def test_lcs_example(raw):
    hf = raw
    hf.mset({"key1": "ohmytext", "key2": "mynewtext"})
    assert hf.execute_command("LCS", "key1", "key2") == b"mytext"
    assert hf.execute_command("LCS", "key1", "key2", "LEN") == 6
    res = raw.execute_command("LCS", "key1", "key2", "IDX", "MINMATCHLEN", "4", "WITHMATCHLEN")
    assert as_map(res) == {b"matches": [[[4, 7], [5, 8], 4]], b"len": 6}
    res = raw.execute_command("LCS", "key1", "key2", "IDX")
    assert as_map(res) == {b"matches": [[[4, 7], [5, 8]], [[2, 3], [0, 1]]], b"len": 6}
    assert err(hf.execute_command, "LCS", "key1", "key2", "IDX", "LEN") == \
        "If you want both the length and indexes, please just use IDX."
    assert hf.execute_command("LCS", "key1", "nokey") == b""


def _lcs_brute(a, b):
    t = [[0] * (len(b) + 1) for _ in range(len(a) + 1)]
    for i in range(1, len(a) + 1):
        for j in range(1, len(b) + 1):
            t[i][j] = t[i - 1][j - 1] + 1 if a[i - 1] == b[j - 1] else max(t[i - 1][j], t[i][j - 1])
    return t


def test_lcs_bit_parallel_table_matches_dp():
    rng = random.Random(7)
    for _ in range(300):
        a = bytes(rng.choice(b"abc") for _ in range(rng.randint(0, 15)))
        b = bytes(rng.choice(b"abcd") for _ in range(rng.randint(0, 15)))
        t, rows = _lcs_brute(a, b), lcs_rows(a, b)
        for i in range(len(a) + 1):
            for j in range(len(b) + 1):
                assert t[i][j] == j - (rows[i] & ((1 << j) - 1)).bit_count()


def test_lcs_result_is_a_longest_common_subsequence(hf):
    rng = random.Random(11)
    for _ in range(20):
        a = bytes(rng.choice(b"ACGT") for _ in range(rng.randint(0, 60)))
        b = bytes(rng.choice(b"ACGT") for _ in range(rng.randint(0, 60)))
        hf.mset({"a": a, "b": b})
        s = hf.execute_command("LCS", "a", "b")
        assert len(s) == _lcs_brute(a, b)[len(a)][len(b)]
        for x in (a, b):
            it = iter(x)
            assert all(ch in it for ch in s)  # a subsequence of both
        idx = as_map(hf.execute_command("LCS", "a", "b", "IDX", "WITHMATCHLEN"))
        assert idx[b"len"] == len(s)
        assert sum(m[2] for m in idx[b"matches"]) == len(s)
        for (a0, a1), (b0, b1), n in idx[b"matches"]:
            assert a[a0:a1 + 1] == b[b0:b1 + 1] and a1 - a0 + 1 == n
