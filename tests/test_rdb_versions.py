"""RDB files no server on this machine writes, built by hand from the format.

There is no Valkey here and no old Redis, so the files those servers write are
assembled byte by byte (rdb.h / rdb.c are the reference; the compact blobs come
from compact_blobs.py) and loaded through the real keyspace loader:

- version 11 as Valkey 8 / Redis 7.2 write it: valkey-ver and integer AUX
  fields, listpack sets, hashes and zsets, quicklist 2 with packed and plain
  nodes, int-encoded and LZF strings, an expiry, two databases, a CRC64;
- old versions: 3 and 4 (no checksum trailer, EXPIRETIME in seconds, type-3
  zsets with scores as text, zipmap, ziplist list, intset), 6 to 8 (ziplist
  zset and hash, quicklist 1, LRU idle and LFU freq before a key);
- opcodes the loader skips (MODULE_AUX, FUNCTION2) or refuses
  (FUNCTION_PRE_GA, module values, streams), the refusal pointing at its record;
- the same files through holdfast-check-rdb's `check`.
"""

import math
import re
import struct
import time
from collections import deque

import lzf
import pytest
from compact_blobs import d, intset_build, lp, zipmap_build, zl

from engine.config import Config
from engine.keyspace import LFU_INIT_VAL, VALUE_TYPES
from engine.types.hashes import HashTable
from engine.types.sets import SetTable
from engine.types.zsets import ZSet
from rdb.checktool import check
from rdb.decoder import RDBError, decode
from rdb.format import crc64, encode_length
from rdb.loader import KeyspaceLoader

NOW_MS = int(time.time() * 1000)  # check() judges expiries by the clock
NOW_S = NOW_MS // 1000
BIG = b"a plain quicklist node holds one large element. " * 8  # compressible: LZF takes it

# ---- building files --------------------------------------------------------------------


def s(b):
    """A raw RDB string: length, then the bytes."""
    return encode_length(len(b)) + b


def i(v, width):
    """An int-encoded string: 0xC0 / 0xC1 / 0xC2, then 1, 2 or 4 bytes little endian."""
    return bytes([0xC0 + {1: 0, 2: 1, 4: 2}[width]]) + v.to_bytes(width, "little", signed=True)


def z(b):
    """An LZF-compressed string: 0xC3, compressed length, original length, the data."""
    packed = lzf.compress(b)
    assert packed is not None, "LZF cannot shrink %r" % b[:20]
    return b"\xc3" + encode_length(len(packed)) + encode_length(len(b)) + packed


def rec(rdbtype, key, value):
    """One key: type byte, key string, value (already encoded)."""
    return bytes([rdbtype]) + s(key) + value


def aux(name, value):
    return b"\xfa" + s(name) + value


def select(db, size=None, expires=0):
    """SELECTDB, with RESIZEDB hints when `size` is given (RDB 7+)."""
    hints = b"" if size is None else b"\xfb" + encode_length(size) + encode_length(expires)
    return b"\xfe" + encode_length(db) + hints


def expire_ms(ms):
    return b"\xfc" + ms.to_bytes(8, "little", signed=True)


def expire_s(sec):
    return b"\xfd" + sec.to_bytes(4, "little", signed=True)


def score_text(t):
    """A type-3 zset score: a length byte, then ASCII (253/254/255 alone: nan/+inf/-inf)."""
    return bytes([len(t)]) + t


def module_id(name, encver=0):
    """Nine characters of 6 bits each, first one highest, then a 10-bit encoding version."""
    v = 0
    for ch in name:
        v = v << 6 | "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_".index(ch)
    return v << 10 | encver


def rdb(version, *records):
    """Header, records, EOF and (from version 5 on) the CRC64 of everything before it."""
    body = b"REDIS%04d" % version + b"".join(records) + b"\xff"
    return body + crc64(body).to_bytes(8, "little") if version >= 5 else body


def load(buf, config=None, lru_clock=0):
    """The finished KeyspaceLoader for `buf` (its dbs, counts and AUX fields)."""
    loader = KeyspaceLoader(config or Config(), NOW_MS, lru_clock=lru_clock)
    decode(buf, loader)
    loader.finish()
    return loader


def encoding(v):
    """What OBJECT ENCODING answers for a loaded collection."""
    return VALUE_TYPES[v.__class__].encoding(v)


def report(tmp_path, buf):
    """check()'s verdict and lines for `buf` written to a file."""
    path = tmp_path / "dump.rdb"
    path.write_bytes(buf)
    lines = []
    return check(str(path), out=lines.append), lines


# ---- version 11: Valkey 8 / Redis 7.2 ---------------------------------------------------


def valkey8_file():
    queue = (encode_length(3)
             + b"\x02" + s(lp(b"a", 1, b"b"))  # container 2: a packed listpack node
             + b"\x02" + z(lp(b"x" * 40, b"x" * 40))  # a packed node that was compressed
             + b"\x01" + z(BIG))  # container 1: a plain node, one element
    return rdb(
        11,
        aux(b"valkey-ver", s(b"8.0.2")), aux(b"redis-bits", i(64, 1)), aux(b"ctime", i(NOW_S - 60, 4)),
        aux(b"used-mem", i(1_048_576, 4)), aux(b"aof-base", i(0, 1)),
        select(0, 12, 2),
        rec(20, b"tags", s(lp(b"red", b"green", b"blue"))),
        rec(20, b"small-ints", s(lp(3, 1, 2))),
        rec(11, b"ids", s(intset_build([1, 5, 1000]))),
        rec(18, b"queue", queue),
        rec(16, b"user", s(lp(b"name", b"ada", b"age", 36))),
        rec(17, b"board", s(lp(b"a", 1, b"b", b"2.5", b"c", -3))),
        rec(0, b"i8", i(-5, 1)), rec(0, b"i16", i(1000, 2)), rec(0, b"i32", i(-100_000, 4)),
        rec(0, b"lzf", z(BIG)),
        expire_ms(NOW_MS + 3_600_000) + rec(0, b"session", s(b"token")),
        expire_ms(NOW_MS - 1) + rec(0, b"stale", s(b"old")),
        select(1, 1, 0),
        rec(0, b"other-db", s(b"v")),
    )


def test_valkey8_values_and_encodings():
    loader = load(valkey8_file())
    db0, db1 = loader.dbs[0], loader.dbs[1]
    assert loader.aux_fields == {b"valkey-ver": b"8.0.2", b"redis-bits": b"64", b"ctime": d(NOW_S - 60),
                                 b"used-mem": b"1048576", b"aof-base": b"0"}
    assert (loader.keys_loaded, loader.keys_expired) == (12, 1)
    data = db0.data
    assert sorted(data) == sorted([b"tags", b"small-ints", b"ids", b"queue", b"user", b"board", b"i8", b"i16",
                                   b"i32", b"lzf", b"session"])
    assert db1.data == {b"other-db": b"v"}

    # sets: the contents pick the class, not the encoding in the file
    assert data[b"tags"] == {b"red", b"green", b"blue"} and type(data[b"tags"]) is SetTable
    assert data[b"small-ints"] == {b"1", b"2", b"3"} and type(data[b"small-ints"]) is set
    assert data[b"ids"] == {d(1), d(5), d(1000)} and type(data[b"ids"]) is set
    assert list(data[b"queue"]) == [b"a", b"1", b"b", b"x" * 40, b"x" * 40, BIG]
    assert data[b"user"] == {b"name": b"ada", b"age": b"36"} and type(data[b"user"]) is dict
    board = data[b"board"]
    assert type(board) is ZSet and board.listpack
    assert board.dict == {b"a": 1.0, b"b": 2.5, b"c": -3.0}
    assert list(board.sl) == [(-3.0, b"c"), (1.0, b"a"), (2.5, b"b")]
    assert type(data[b"queue"]) is deque
    assert {k: encoding(data[k]) for k in (b"tags", b"small-ints", b"ids", b"user", b"board")} == {
        b"tags": b"hashtable", b"small-ints": b"intset", b"ids": b"intset", b"user": b"listpack", b"board": b"listpack"}

    assert [data[k] for k in (b"i8", b"i16", b"i32", b"lzf")] == [b"-5", b"1000", b"-100000", BIG]
    assert data[b"session"] == b"token" and db0.expires == {b"session": NOW_MS + 3_600_000}
    assert db0.custom_keys == {b"tags", b"queue", b"board"}  # what a snapshot child cannot marshal whole


def test_valkey8_limits_are_this_servers():
    """A listpack hash or zset in the file still becomes a hashtable/skiplist
    when it is over this server's limits, and an intset over its own."""
    cfg = Config()
    cfg.load_text("hash-max-listpack-entries 1\nzset-max-listpack-entries 2\nset-max-intset-entries 2")
    data = load(valkey8_file(), cfg).dbs[0].data
    assert type(data[b"user"]) is HashTable and not data[b"board"].listpack
    assert type(data[b"ids"]) is SetTable and type(data[b"small-ints"]) is SetTable


def test_valkey8_check_report(tmp_path):
    buf = valkey8_file()
    ok, lines = report(tmp_path, buf)
    assert ok, lines
    assert lines[1] == "[offset 9] RDB version 11"
    assert [ln.split("] ", 1)[1] for ln in lines if "AUX FIELD" in ln] == [
        "AUX FIELD valkey-ver = '8.0.2'", "AUX FIELD redis-bits = '64'", "AUX FIELD ctime = '%d'" % (NOW_S - 60),
        "AUX FIELD used-mem = '1048576'", "AUX FIELD aof-base = '0'"]
    assert "[offset %d] Checksum OK" % len(buf) in lines
    assert "[info] db0: keys=12 expires=2 hash=1 list=1 set=3 string=6 zset=1" in lines  # stale counted too
    assert "[info] db1: keys=1 expires=0 string=1" in lines
    assert lines[-4:] == ["[info] 13 keys read", "[info] 2 expires", "[info] 1 already expired", "RDB looks OK"]


# ---- old versions -----------------------------------------------------------------------


def redis24_file(version):
    """Versions 3/4 (Redis 2.2-2.4): no AUX, no checksum, EXPIRETIME in seconds."""
    scores = (encode_length(4) + s(b"up") + b"\xfe" + s(b"down") + b"\xff"  # 254: +inf, 255: -inf
              + s(b"mid") + score_text(b"3.5") + s(b"exp") + score_text(b"-1e3"))
    return rdb(
        version,
        select(0),
        expire_s(NOW_S + 3600) + rec(0, b"ttl", s(b"v")),
        expire_s(NOW_S - 10) + rec(0, b"gone", s(b"v")),
        rec(3, b"scores", scores),
        rec(9, b"zipmap", s(zipmap_build([(b"f1", b"v1"), (b"f2", b"v2")]))),
        rec(10, b"ziplist", s(zl(b"x", 7, b"y", -300))),
        rec(11, b"intset", s(intset_build([-2, 0, 9]))),
    )


@pytest.mark.parametrize("version", [3, 4])
def test_redis24_file(version):
    buf = redis24_file(version)
    assert buf.endswith(b"\xff")  # the file ends at EOF: before version 5 there is no checksum
    loader = load(buf)
    data, expires = loader.dbs[0].data, loader.dbs[0].expires
    assert (loader.keys_loaded, loader.keys_expired) == (5, 1)
    assert data[b"ttl"] == b"v" and expires == {b"ttl": (NOW_S + 3600) * 1000}
    assert data[b"scores"].dict == {b"up": math.inf, b"down": -math.inf, b"mid": 3.5, b"exp": -1000.0}
    assert [m for _, m in data[b"scores"].sl] == [b"down", b"exp", b"mid", b"up"]
    assert data[b"zipmap"] == {b"f1": b"v1", b"f2": b"v2"} and type(data[b"zipmap"]) is dict
    assert list(data[b"ziplist"]) == [b"x", b"7", b"y", b"-300"]
    assert data[b"intset"] == {b"-2", b"0", b"9"} and type(data[b"intset"]) is set


def test_version_5_needs_the_checksum_trailer():
    body = redis24_file(4)
    buf = b"REDIS0005" + body[9:]  # the same records, but version 5 promises 8 more bytes
    with pytest.raises(RDBError, match="checksum") as e:
        load(buf)
    assert e.value.offset == len(buf)


def test_type3_zset_refuses_nan():
    record = rec(3, b"z", encode_length(2) + s(b"ok") + score_text(b"1") + s(b"bad") + b"\xfd")
    buf = rdb(4, select(0), record)
    with pytest.raises(RDBError, match="NaN") as e:
        load(buf)
    assert e.value.offset == buf.index(record) + len(record) - 1  # the 253 length byte


def classic_file(version):
    """Versions 6-8 (Redis 2.6-4.0): ziplist zset and hash, quicklist 1 (its
    nodes are ziplists, one of them LZF-compressed), LRU idle and LFU freq."""
    quicklist = encode_length(2) + s(zl(b"a", b"b", 3)) + z(zl(b"c" * 30, b"c" * 30))
    return rdb(
        version,
        aux(b"redis-ver", s(b"4.0.14")),
        select(0, 5, 0),
        rec(12, b"zset", s(zl(b"m1", b"1.5", b"m2", 2))),
        rec(13, b"hash", s(zl(b"f", b"v", b"n", 12))),
        rec(14, b"quicklist", quicklist),
        b"\xf8" + encode_length(120) + rec(0, b"idle", s(b"v")),  # idle seconds, a length
        b"\xf9" + b"\x07" + rec(0, b"freq", s(b"v")),  # LFU counter, one byte
    )


@pytest.mark.parametrize("version", [6, 7, 8])
def test_classic_file(version):
    loader = load(classic_file(version), lru_clock=1000)
    db = loader.dbs[0]
    assert loader.keys_loaded == 5
    assert db.data[b"zset"].dict == {b"m1": 1.5, b"m2": 2.0} and db.data[b"zset"].listpack
    assert db.data[b"hash"] == {b"f": b"v", b"n": b"12"}
    assert list(db.data[b"quicklist"]) == [b"a", b"b", b"3", b"c" * 30, b"c" * 30]
    assert db.atime[b"idle"] == 1000 - 120  # OBJECT IDLETIME 120 right after loading
    assert db.atime[b"freq"] == db.atime[b"zset"] == 1000
    assert db.freq == {}  # no LFU policy: the counter is dropped


def test_classic_file_under_lfu():
    cfg = Config()
    cfg.load_text("maxmemory-policy allkeys-lfu")
    db = load(classic_file(8), cfg).dbs[0]
    minutes = (NOW_MS // 60000) & 65535
    assert db.freq[b"freq"] == minutes << 8 | 7
    assert db.freq[b"idle"] == db.freq[b"hash"] == minutes << 8 | LFU_INIT_VAL


@pytest.mark.parametrize("version", [4, 8])
def test_old_files_check_report(tmp_path, version):
    buf = redis24_file(version) if version < 5 else classic_file(version)
    ok, lines = report(tmp_path, buf)
    assert ok, lines
    assert lines[1] == "[offset 9] RDB version %d" % version
    assert any("Checksum OK" in ln for ln in lines) == (version >= 5)
    counts = {4: "keys=6 expires=2 hash=1 list=1 set=1 string=2 zset=1",
              8: "keys=5 expires=0 hash=1 list=1 string=2 zset=1"}
    assert "[info] db0: " + counts[version] in lines  # an expired key is still counted
    assert lines[-1] == "RDB looks OK"


# ---- opcodes to skip or refuse -------------------------------------------------------------

AFTER = (select(0), rec(0, b"after", s(b"loaded")))  # a key after the opcode under test


def module_aux(name, when, *typed):
    """MODULE_AUX: module id, the 'when' opcode (a UINT) and value, typed module data, EOF."""
    head = b"\xf7" + encode_length(module_id(name, 1)) + encode_length(2) + encode_length(when)
    return head + b"".join(typed) + encode_length(0)


MODULE_DATA = (encode_length(1) + encode_length(7), encode_length(2) + encode_length(2**40),
               encode_length(3) + struct.pack("<f", 1.5), encode_length(4) + struct.pack("<d", 1.0),
               encode_length(5) + s(b"state"), encode_length(5) + z(b"s" * 60))


def test_module_aux_is_skipped(tmp_path):
    buf = rdb(9, module_aux("mymodule1", 1, *MODULE_DATA), *AFTER, module_aux("othermod2", 2))
    assert load(buf).dbs[0].data == {b"after": b"loaded"}
    ok, lines = report(tmp_path, buf)
    assert ok, lines
    assert [ln.split("] ")[1] for ln in lines if "Module aux" in ln] == [
        "Module aux data of 'mymodule1' (skipped)", "Module aux data of 'othermod2' (skipped)"]
    assert "[info] db0: keys=1 expires=0 string=1" in lines


def test_module_aux_with_an_unknown_data_opcode_is_refused():
    record = module_aux("mymodule1", 1, encode_length(6))
    with pytest.raises(RDBError, match="unknown module data opcode 6"):
        load(rdb(9, record, *AFTER))


def test_function2_is_skipped(tmp_path):
    code = b"#!lua name=mylib\nredis.register_function('f', function() return 1 end)"
    buf = rdb(10, aux(b"redis-ver", s(b"7.0.15")), b"\xf5" + s(code), *AFTER)
    loader = load(buf)
    assert loader.functions_skipped == 1 and loader.dbs[0].data == {b"after": b"loaded"}
    ok, lines = report(tmp_path, buf)
    assert ok and "[offset %d] Function library (%d bytes)" % (buf.index(code) + len(code), len(code)) in lines


STREAM_BODY = {15: b"\x00" * 5, 19: b"\x00" * 10, 21: b"\x00" * 10}  # an empty stream: counts and ids all 0
MODULE_VALUE = encode_length(module_id("mymodule1", 3)) + encode_length(2) + encode_length(5) + encode_length(0)
REFUSED = {
    "function-pre-ga": (b"\xf6" + s(b"lib"), r"^pre-release function format not supported$"),
    "module-7": (rec(7, b"mymod", MODULE_VALUE), r"key b'mymod' holds a value of module type 'mymodule1'"),
    **{"stream-%d" % t: (rec(t, b"events", body), r"^key b'events' holds a stream, which Holdfast does not support$")
       for t, body in STREAM_BODY.items()},
}


@pytest.mark.parametrize("name", REFUSED)
def test_refused_record(name):
    record, message = REFUSED[name]
    buf = rdb(10, select(0), rec(0, b"before", s(b"v")), record, rec(0, b"after", s(b"v")))
    with pytest.raises(RDBError) as e:
        load(buf)
    assert re.search(message, e.value.message), e.value.message
    record_at = buf.index(record)
    assert e.value.offset == record_at, "offset %d, but the record starts at %d" % (e.value.offset, record_at)


@pytest.mark.parametrize("name", ["function-pre-ga", "module-7", "stream-21"])
def test_refused_record_check_report(tmp_path, name):
    record, message = REFUSED[name]
    buf = rdb(10, select(0), rec(0, b"before", s(b"v")), record)
    with pytest.raises(RDBError) as e:
        load(buf)
    ok, lines = report(tmp_path, buf)
    assert not ok
    assert lines[1] == "[offset 9] RDB version 10"
    assert lines[-3:] == ["--- RDB ERROR DETECTED ---", "[offset %d] %s" % (e.value.offset, e.value.message),
                          "[additional info] 1 keys read before the error, file size %d bytes" % len(buf)]
    assert re.search(message, lines[-2].split("] ", 1)[1])


def test_packed_hash_with_a_repeated_field_keeps_the_last_value():
    """A plain hash that repeats a field is kept packed at load (as Redis
    does not check a listpack's fields then); unpacking keeps the last value
    and logs it."""
    import logging  # noqa: PLC0415

    from engine.types.hashes import unpack_hash  # noqa: PLC0415

    payload = b"".join(bytes((len(x),)) + x for x in (b"f", b"1", b"g", b"2", b"f", b"3"))
    seen = []
    handler = logging.Handler()
    handler.emit = lambda record: seen.append(record.getMessage())
    log = logging.getLogger("holdfast")
    log.addHandler(handler)
    try:
        assert unpack_hash((3, payload)) == {b"f": b"3", b"g": b"2"}
    finally:
        log.removeHandler(handler)
    assert any("repeats a field" in m for m in seen)
