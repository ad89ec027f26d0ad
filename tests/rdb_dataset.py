"""The dataset and comparison helpers the RDB interop tests share (Redis in
test_rdb_interop.py, Valkey in test_rdb_valkey.py): one dataset with every
type in its small and large encodings, a filler, a reader of a whole server
and a comparison that allows expiry times to differ a little (a TTL given
relatively on each side)."""

import os
import random
import shutil
import subprocess
import time

from conftest import require_tool

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
    """{db: {key: (type, value, expires_at)}} of a whole server, read through
    redis-py: GET / LRANGE / HGETALL / SMEMBERS (a set) / ZRANGE WITHSCORES
    (scores as the raw bytes, so their formatting counts). `expires_at` is
    PEXPIRETIME: the absolute expiry in Unix ms, -1 without a TTL. Absolute,
    so two servers read seconds apart (one loading the other's RDB or AOF,
    a replica) compare exactly, however slow the reads: a dataset is read one
    command a key, and a whole one takes seconds on a busy machine."""
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
            keys[key] = (kind, value, r.execute_command("PEXPIRETIME", key))
        r.close()
        if keys:
            out[db] = keys
    return out


def assert_same(a, b):
    """Same databases, keys, types and values; expiry times within a
    tolerance (exact when one side loaded or replicated the other's; a TTL
    read on one side and given relatively on the other moves by the time
    between)."""
    assert sorted(a) == sorted(b), "databases differ"
    for db in a:
        ka, kb = a[db], b[db]
        assert set(ka) == set(kb), "db %d: keys only on one side: %r / %r" % (db, set(ka) - set(kb), set(kb) - set(ka))
        for key in ka:
            (ta, va, pa), (tb, vb, pb) = ka[key], kb[key]
            assert ta == tb, "db %d key %r: type %s vs %s" % (db, key, ta, tb)
            assert va == vb, "db %d key %r (%s): values differ" % (db, key, ta)
            if pa < 0 or pb < 0:
                assert pa == pb, "db %d key %r: PEXPIRETIME %d vs %d" % (db, key, pa, pb)
            else:
                assert abs(pa - pb) <= TTL_TOLERANCE_MS, "db %d key %r: PEXPIRETIME %d vs %d" % (db, key, pa, pb)


def assert_matches_dataset(got, data=None):
    """The dataset's own view of itself, for a first check of the filler."""
    data = data or dataset()
    assert sorted(got) == sorted(data)
    for db, keys in data.items():
        assert {k for k, *_ in keys} == set(got[db])
        for key, kind, value, ttl in keys:
            t, v, expires_at = got[db][key]
            assert t == kind, key
            if kind in ("string", "list", "hash", "set"):
                assert v == value, key
            else:
                assert {m: float(sc) for m, sc in v} == value, key
            assert (expires_at > 0) if ttl else (expires_at == -1), key


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
