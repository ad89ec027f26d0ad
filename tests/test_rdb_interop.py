"""RDB interop between Holdfast and Debian's redis-server 7.0.

Covered, with one dataset (`fill`, in rdb_dataset.py) that holds every type in its small and
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
import time

import pytest
from conftest import require_tool
from rawresp import RawConn
from rdb_dataset import (
    assert_matches_dataset,
    assert_same,
    check_rdb,
    contents,
    copy_rdb,
    dataset,
    encodings,
    fill,
    wait_bgsave,
)

pytestmark = pytest.mark.interop


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
    done_ms = int(time.time() * 1000)  # the server's clock read each RESTORE's time between the two
    got = contents(dst, [0])[0]
    want = contents(src, [0])[0]
    for key, (kind, value, _) in want.items():
        assert got[key][:2] == (kind, value), key
        assert got[key][2] == -1, key
        for prefix in (b"rep|", b"abs|", b"ttl|"):
            assert got[prefix + key][:2] == (kind, value), prefix + key
        assert got[b"rep|" + key][2] == -1
        assert now_ms + 90_000 <= got[b"ttl|" + key][2] <= done_ms + 90_000, key
        assert got[b"abs|" + key][2] == now_ms + 120_000, key
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
