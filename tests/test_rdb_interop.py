"""RDB interop between Holdfast and Debian's redis-server 7.0.

Covered, with one dataset (`fill`) that holds every type in its small and
large encodings, integer-like and binary strings, special zset scores,
keys in databases 0, 1 and 15, keys with TTLs and binary key names:

- Holdfast -> Redis: a file written by SAVE (and one written by BGSAVE)
  passes redis-check-rdb and loads into redis-server with identical content.
- Redis -> Holdfast: dump.rdb written by redis-server under several configs
  (defaults, tiny listpack/intset limits, no compression, compressed
  quicklist nodes) loads into Holdfast with identical content, and OBJECT
  ENCODING agrees with a redis-server that reloaded its own file.
- DUMP/RESTORE both ways for every key (with a TTL, REPLACE, ABSTTL), and
  RESTORE's error replies compared byte for byte with redis-server's.
"""

import os
import random
import shutil
import subprocess
import time

import pytest
from conftest import require_tool
from rawresp import RawConn

pytestmark = pytest.mark.interop

DBS = (0, 1, 15)
TTL_TOLERANCE_MS = 5000
TTL_MS = 600_000


# ---- the dataset ------------------------------------------------------------------------


def dataset(seed=7):
    """{db: [(key, type, value, pttl_ms or None)]}: every type, small and
    large encodings, binary keys and values, expiries."""
    rnd = random.Random(seed)
    keys = []

    def add(key, kind, value, ttl=None):
        keys.append((key if isinstance(key, bytes) else key.encode(), kind, value, ttl))

    # strings
    add("s:short", "string", b"hello")
    for i, v in enumerate([b"12345", b"-7", b"007", b"1e5", b"0", b"-0", b" 1", b"+1", b"127", b"-128", b"32768",
                           b"2147483647", b"-2147483648", b"2147483648", b"9223372036854775807",
                           b"-9223372036854775808", b"99999999999999999999", b"3.14"]):
        add("s:int:%d" % i, "string", v)
    add("s:compressible", "string", b"abcabcabc" * 10 + b"xyz")
    add("s:21bytes", "string", b"a" * 21)
    add("s:random", "string", rnd.randbytes(300))
    add("s:empty", "string", b"")
    add("s:binary", "string", bytes(range(256)))
    add("s:100k", "string", rnd.randbytes(100_000))
    add("s:100k-text", "string", b"".join(b"line %06d of a compressible text\n" % i for i in range(3000))[:100_000])
    # lists
    add("l:small", "list", [b"a", b"b", b"c"])
    add("l:1000", "list", [b"%d" % i if i % 3 else b"item-%d" % i for i in range(1000)])
    add("l:long-elems", "list", [b"e%d-" % i + b"x" * (64 + i) for i in range(20)])
    add("l:20k-elem", "list", [b"head", rnd.randbytes(20_000), b"tail", b"q" * 20_000])
    add("l:ints", "list", [b"-1", b"0", b"127", b"-129", b"70000", b"-9223372036854775808", b"007"])
    # hashes
    add("h:small", "hash", {b"f1": b"v1", b"f2": b"12", b"": b"empty-field", b"e": b""})
    add("h:big", "hash", {b"field:%d" % i: b"value:%d" % i for i in range(200)})
    add("h:long-value", "hash", {b"a": b"1", b"long": b"L" * 100})
    # sets
    add("set:intset", "set", {b"1", b"2", b"3", b"-5", b"100000"})
    add("set:ints-big", "set", {b"%d" % (i * 7 - 1000) for i in range(600)})
    add("set:strings", "set", {b"apple", b"banana", b"cherry", b"007", b"1e5"})
    add("set:strings-big", "set", {b"member-%d" % i for i in range(300)})
    # sorted sets
    add("z:small", "zset", {b"a": 1.0, b"b": 2.5, b"c": -3.0})
    add("z:big", "zset", {b"m%d" % i: i * 1.25 - 50 for i in range(200)})
    add("z:scores", "zset", {b"inf": float("inf"), b"-inf": float("-inf"), b"zero": 0.0, b"negzero": -0.0,
                             b"tiny": 1e-300, b"onehalf": 1.5, b"large": 1.7976931348623157e308,
                             b"big-int": 12345678901234567890.0, b"third": 1 / 3})
    add("z:long-member", "zset", {b"M" * 100: 1.0, b"m": 2.0})
    # TTLs on every type, binary keys
    add("ttl:s", "string", b"expiring", TTL_MS)
    add("ttl:l", "list", [b"x", b"y"], TTL_MS)
    add("ttl:h", "hash", {b"k": b"v"}, TTL_MS)
    add("ttl:set", "set", {b"1", b"2"}, TTL_MS)
    add("ttl:z", "zset", {b"m": 1.0}, TTL_MS + 60_000)
    add(b"bin:\x00\xff\r\n key", "string", b"binary key")
    add(bytes(range(256)), "hash", {b"\x00": b"\xff"}, TTL_MS)
    add("", "string", b"the empty key")
    return {
        0: keys,
        1: [(b"db1:s", "string", b"in db 1", None), (b"db1:l", "list", [b"1", b"2"], TTL_MS),
            (b"s:short", "string", b"same name as in db 0", None)],
        15: [(b"db15:z", "zset", {b"a": 1.0}, None), (b"db15:set", "set", {b"7"}, TTL_MS)],
    }


def fill(srv, data=None):
    """Write `dataset()` into a server through redis-py (pipelined)."""
    data = data or dataset()
    for db, keys in data.items():
        r = srv.client(db=db)
        p = r.pipeline(transaction=False)
        for key, kind, value, ttl in keys:
            p.delete(key)
            if kind == "string":
                p.set(key, value)
            elif kind == "list":
                for i in range(0, len(value), 100):
                    p.rpush(key, *value[i:i + 100])
            elif kind == "hash":
                p.hset(key, mapping=value)
            elif kind == "set":
                p.sadd(key, *value)
            else:
                p.zadd(key, value)
            if ttl:
                p.pexpire(key, ttl)
        p.execute()
        r.close()


# ---- comparing two servers --------------------------------------------------------------


def contents(srv, dbs=range(16)):
    """{db: {key: (type, value, pttl)}} of a whole server, read through
    redis-py: GET / LRANGE / HGETALL / SMEMBERS (a set) / ZRANGE WITHSCORES
    (scores as the raw bytes, so their formatting counts)."""
    out = {}
    for db in dbs:
        r = srv.client(db=db)
        keys = {}
        for key in r.scan_iter(count=1000):
            kind = r.type(key).decode()
            if kind == "string":
                value = r.get(key)
            elif kind == "list":
                value = r.lrange(key, 0, -1)
            elif kind == "hash":
                value = r.hgetall(key)
            elif kind == "set":
                value = r.smembers(key)
            elif kind == "zset":
                value = [tuple(x) for x in r.zrange(key, 0, -1, withscores=True, score_cast_func=bytes)]
            else:
                value = None
            keys[key] = (kind, value, r.pttl(key))
        r.close()
        if keys:
            out[db] = keys
    return out


def assert_same(a, b):
    """Same databases, keys, types and values; PTTLs within a tolerance."""
    assert sorted(a) == sorted(b), "databases differ"
    for db in a:
        ka, kb = a[db], b[db]
        assert set(ka) == set(kb), "db %d: keys only on one side: %r / %r" % (db, set(ka) - set(kb), set(kb) - set(ka))
        for key in ka:
            (ta, va, pa), (tb, vb, pb) = ka[key], kb[key]
            assert ta == tb, "db %d key %r: type %s vs %s" % (db, key, ta, tb)
            assert va == vb, "db %d key %r (%s): values differ" % (db, key, ta)
            if pa < 0 or pb < 0:
                assert pa == pb, "db %d key %r: PTTL %d vs %d" % (db, key, pa, pb)
            else:
                assert abs(pa - pb) <= TTL_TOLERANCE_MS, "db %d key %r: PTTL %d vs %d" % (db, key, pa, pb)


def assert_matches_dataset(got, data=None):
    """The dataset's own view of itself, for a first check of the filler."""
    data = data or dataset()
    assert sorted(got) == sorted(data)
    for db, keys in data.items():
        assert {k for k, *_ in keys} == set(got[db])
        for key, kind, value, ttl in keys:
            t, v, pttl = got[db][key]
            assert t == kind, key
            if kind in ("string", "list", "hash", "set"):
                assert v == value, key
            else:
                assert {m: float(sc) for m, sc in v} == value, key
            assert (pttl > 0) if ttl else (pttl == -1), key


# ---- files and tools --------------------------------------------------------------------


def check_rdb(path):
    tool = require_tool("redis-check-rdb")
    res = subprocess.run([tool, path], capture_output=True, timeout=60)
    out = (res.stdout + res.stderr).decode(errors="replace")
    assert res.returncode == 0, out
    assert "RDB looks OK" in out, out
    return out


def copy_rdb(src_srv, dst_dir, name="dump.rdb"):
    os.makedirs(dst_dir, exist_ok=True)
    shutil.copyfile(os.path.join(src_srv.workdir, name), os.path.join(str(dst_dir), name))


def info_field(r, section, name):
    return r.info(section)[name]


def wait_bgsave(r, timeout=30):
    deadline = time.time() + timeout
    while info_field(r, "persistence", "rdb_bgsave_in_progress"):
        assert time.time() < deadline, "BGSAVE did not finish"
        time.sleep(0.05)
    assert info_field(r, "persistence", "rdb_last_bgsave_status") == "ok"


def encodings(srv, snapshot):
    out = {}
    for db, keys in snapshot.items():
        r = srv.client(db=db)
        for key in keys:
            out[db, key] = r.object("encoding", key)
        r.close()
    return out


# ---- Holdfast -> Redis --------------------------------------------------------------------


def test_dataset_fills_holdfast(holdfast_factory):
    hf = holdfast_factory()
    fill(hf)
    assert_matches_dataset(contents(hf))


@pytest.mark.parametrize("args", [(), ("--rdbcompression", "no"), ("--rdbchecksum", "no")],
                         ids=["default", "rdbcompression-no", "rdbchecksum-no"])
def test_holdfast_save_loads_in_redis(holdfast_factory, redis_factory, tmp_path, args):
    require_tool("redis-server")
    hf = holdfast_factory(*args)
    fill(hf)
    assert hf.client().save()
    path = os.path.join(hf.workdir, "dump.rdb")
    with open(path, "rb") as f:
        assert f.read(9) == b"REDIS0010"
    out = check_rdb(path)
    assert "keys read" in out
    copy_rdb(hf, tmp_path / "redis-load")
    rs = redis_factory(workdir=tmp_path / "redis-load")
    assert_same(contents(hf), contents(rs))


def test_holdfast_debug_reload_keeps_everything(holdfast_factory):
    hf = holdfast_factory()
    fill(hf)
    before = contents(hf)
    assert hf.client().execute_command("DEBUG", "RELOAD") == b"OK"
    assert_same(before, contents(hf))


def test_holdfast_bgsave_loads_in_redis(holdfast_factory, redis_factory, tmp_path):
    require_tool("redis-server")
    hf = holdfast_factory()
    fill(hf)
    r = hf.client()
    assert r.bgsave()
    wait_bgsave(r)
    check_rdb(os.path.join(hf.workdir, "dump.rdb"))
    copy_rdb(hf, tmp_path / "redis-load")
    rs = redis_factory(workdir=tmp_path / "redis-load")
    assert_same(contents(hf), contents(rs))


# ---- Redis -> Holdfast --------------------------------------------------------------------

REDIS_CONFIGS = {
    "defaults": (),
    "list-max-listpack-size-4": ("--list-max-listpack-size", "4"),
    "tiny-compact-limits": ("--hash-max-listpack-entries", "2", "--zset-max-listpack-entries", "2",
                            "--set-max-intset-entries", "2"),
    "rdbcompression-no": ("--rdbcompression", "no"),
    "list-compress-depth-1": ("--list-compress-depth", "1", "--list-max-listpack-size", "4"),
}


@pytest.mark.parametrize("name", list(REDIS_CONFIGS))
def test_redis_save_loads_in_holdfast(holdfast_factory, redis_factory, tmp_path, name):
    args = REDIS_CONFIGS[name]
    rs = redis_factory(*args)
    fill(rs)
    assert rs.client().save()
    want = contents(rs)
    assert_matches_dataset(want)
    copy_rdb(rs, tmp_path / "hf-load")
    hf = holdfast_factory(*args, workdir=tmp_path / "hf-load")
    got = contents(hf)
    assert_same(want, got)
    # OBJECT ENCODING: Holdfast, loading Redis's file under the same limits,
    # picks what redis-server picks when it reloads that file itself.
    rs.stop()
    again = redis_factory(*args, workdir=rs.workdir)
    assert_same(want, contents(again))
    theirs, ours = encodings(again, want), encodings(hf, want)
    diff = {k: (theirs[k], ours[k]) for k in theirs if theirs[k] != ours[k]}
    assert not diff, "OBJECT ENCODING (redis, holdfast) differs: %r" % diff


def test_redis_bgsave_loads_in_holdfast(holdfast_factory, redis_factory, tmp_path):
    rs = redis_factory()
    fill(rs)
    r = rs.client()
    r.bgsave()
    wait_bgsave(r)
    copy_rdb(rs, tmp_path / "hf-load")
    hf = holdfast_factory(workdir=tmp_path / "hf-load")
    assert_same(contents(rs), contents(hf))


def test_redis_file_with_function_library_loads_in_holdfast(holdfast_factory, redis_factory, tmp_path):
    """Redis 7 writes FUNCTION libraries into the RDB; Holdfast skips them and loads the keys."""
    rs = redis_factory()
    r = rs.client()
    r.function_load("#!lua name=mylib\nredis.register_function('f', function(keys, args) return 1 end)")
    r.set("k", "v")
    r.zadd("z", {"a": 1})
    assert r.save()
    copy_rdb(rs, tmp_path / "hf-load")
    hf = holdfast_factory(workdir=tmp_path / "hf-load")
    assert_same(contents(rs), contents(hf))


# ---- DUMP / RESTORE -----------------------------------------------------------------------


def _dump_all(srv):
    r = srv.client()
    out = {key: r.dump(key) for key, *_ in dataset()[0]}
    r.close()
    return out


@pytest.mark.parametrize("direction", ["redis-to-holdfast", "holdfast-to-redis", "compressed-redis-to-holdfast"])
def test_dump_restore_every_type(holdfast_factory, redis_factory, direction):
    """Every key of db 0 DUMPed by one server and RESTOREd by the other (the
    compressed variant: both servers with small, LZF-compressed quicklist
    nodes and tiny listpack limits; the same limits on both sides, since a
    loaded zset's encoding decides whether a -0 score keeps its sign)."""
    args = ()
    if direction.startswith("compressed"):
        args = REDIS_CONFIGS["list-compress-depth-1"] + REDIS_CONFIGS["tiny-compact-limits"]
    hf, rs = holdfast_factory(*args), redis_factory(*args)
    src, dst = (hf, rs) if direction == "holdfast-to-redis" else (rs, hf)
    fill(src, {0: dataset()[0]})
    payloads = _dump_all(src)
    rd = dst.client()
    now_ms = int(time.time() * 1000)
    for key, payload in payloads.items():
        assert payload is not None, key
        assert rd.restore(key, 0, payload) == b"OK", key
        # a TTL, REPLACE, ABSTTL onto copies of the same payload
        assert rd.restore(b"ttl|" + key, 90_000, payload) == b"OK"
        rd.set(b"rep|" + key, b"old")
        assert rd.restore(b"rep|" + key, 0, payload, replace=True) == b"OK"
        assert rd.restore(b"abs|" + key, now_ms + 120_000, payload, absttl=True) == b"OK"
    got = contents(dst, [0])[0]
    want = contents(src, [0])[0]
    for key, (kind, value, _) in want.items():
        assert got[key][:2] == (kind, value), key
        assert got[key][2] == -1, key
        for prefix in (b"rep|", b"abs|", b"ttl|"):
            assert got[prefix + key][:2] == (kind, value), prefix + key
        assert got[b"rep|" + key][2] == -1
        assert 80_000 < got[b"ttl|" + key][2] <= 90_000, key
        assert 100_000 < got[b"abs|" + key][2] <= 120_000, key
    # A payload written by one server, dumped again by the other, restores
    # back into the first unchanged.
    back = _dump_all(dst)
    rs_src = src.client()
    for key, payload in back.items():
        assert rs_src.restore(b"back|" + key, 0, payload) == b"OK", key
    again = contents(src, [0])[0]
    for key, (kind, value, _) in want.items():
        assert again[b"back|" + key][:2] == (kind, value), key


def _flip(payload, where):
    b = bytearray(payload)
    b[where] ^= 0x5A
    return bytes(b)


def restore_error_cases(payload, long_payload):
    """(name, argv) of RESTOREs that must fail, against a db where key
    'busy' exists. `payload` is a valid small DUMP payload."""
    return [
        ("flipped-first", ["RESTORE", "new", "0", _flip(payload, 0)]),
        ("flipped-middle", ["RESTORE", "new", "0", _flip(payload, len(payload) // 2)]),
        ("flipped-crc", ["RESTORE", "new", "0", _flip(payload, len(payload) - 1)]),
        ("flipped-version", ["RESTORE", "new", "0", _flip(payload, len(payload) - 10)]),
        ("flipped-long", ["RESTORE", "new", "0", _flip(long_payload, len(long_payload) // 3)]),
        ("truncated", ["RESTORE", "new", "0", payload[:-3]]),
        ("too-short", ["RESTORE", "new", "0", payload[:5]]),
        ("empty", ["RESTORE", "new", "0", b""]),
        ("busykey", ["RESTORE", "busy", "0", payload]),
        ("busykey-bad-payload", ["RESTORE", "busy", "0", _flip(payload, 0)]),
        ("negative-ttl", ["RESTORE", "new", "-1", payload]),
        ("ttl-not-int", ["RESTORE", "new", "abc", payload]),
        ("syntax", ["RESTORE", "new", "0", payload, "NOPE"]),
        ("idletime-negative", ["RESTORE", "new", "0", payload, "IDLETIME", "-1"]),
        ("idletime-not-int", ["RESTORE", "new", "0", payload, "IDLETIME", "x"]),
        ("freq-too-big", ["RESTORE", "new", "0", payload, "FREQ", "256"]),
        ("idletime-and-freq", ["RESTORE", "new", "0", payload, "IDLETIME", "1", "FREQ", "1"]),
        ("arity", ["RESTORE", "new", "0"]),
    ]


def test_restore_errors_match_redis(holdfast_factory, redis_factory):
    hf, rs = holdfast_factory(), redis_factory()
    replies = {}
    for srv in (hf, rs):
        r = srv.client()
        r.set("busy", "x")
        r.set("src", "a value of some length, long enough for LZF? no")
        r.rpush("long", *[b"element-%d" % i for i in range(100)])
        r.close()
    # Both servers judge the same payloads: take them from redis-server.
    rr = rs.client()
    payload, long_payload = rr.dump("src"), rr.dump("long")
    cases = restore_error_cases(payload, long_payload)
    for srv in (hf, rs):
        conn = RawConn(srv.port)
        replies[srv.name] = {name: conn(*argv) for name, argv in cases}
        assert conn("PING") == b"+PONG\r\n"
        assert conn("EXISTS", "new") == b":0\r\n"
        conn.close()
    redis_replies, hf_replies = replies["redis"], replies["holdfast"]
    assert redis_replies["flipped-middle"] == b"-ERR DUMP payload version or checksum are wrong\r\n"
    assert redis_replies["busykey"] == b"-BUSYKEY Target key name already exists.\r\n"
    diff = {name: (redis_replies[name], hf_replies[name]) for name, _ in cases
            if redis_replies[name] != hf_replies[name]}
    assert not diff, "RESTORE replies (redis, holdfast) differ: %r" % diff


def test_restore_busykey_and_checksum_both_servers(holdfast_factory, redis_factory):
    """The two errors the brief names, each server judging the other's payload."""
    hf, rs = holdfast_factory(), redis_factory()
    for a, b in ((hf, rs), (rs, hf)):
        ra, rb = a.client(), b.client()
        ra.hset("h", mapping={"f": "v"})
        payload = ra.dump("h")
        rb.set("busy", "1")
        conn = RawConn(b.port)
        assert conn("RESTORE", "busy", "0", payload) == b"-BUSYKEY Target key name already exists.\r\n"
        assert conn("RESTORE", "x", "0", _flip(payload, 1)) == \
            b"-ERR DUMP payload version or checksum are wrong\r\n"
        assert conn("RESTORE", "busy", "0", payload, "REPLACE") == b"+OK\r\n"
        assert rb.hgetall("busy") == {b"f": b"v"}
        conn.close()
