"""rdb.compact against the real thing: the compact blobs redis-server 7.0
puts in DUMP payloads (listpack hashes and zsets, quicklist nodes, intsets
of each width) decode to exactly what HGETALL / ZRANGE WITHSCORES / LRANGE /
SMEMBERS answer. The payload framing is read with rdb.reader.Reader."""

import struct

import pytest
from conftest import require_tool
from servers import RealRedis

from rdb.compact import intset_members, listpack_entries
from rdb.format import (
    QUICKLIST_NODE_PACKED,
    TYPE_HASH_LISTPACK,
    TYPE_LIST_QUICKLIST_2,
    TYPE_SET_INTSET,
    TYPE_ZSET_LISTPACK,
)
from rdb.reader import Reader


def d(v):
    return b"%d" % v


def dump_blobs(r, key, rdb_type):
    """The compact blob(s) inside DUMP key: one string, or per quicklist node (container, string)."""
    payload = r.dump(key)
    assert payload[0] == rdb_type, "RDB type %d, expected %d" % (payload[0], rdb_type)
    r = Reader(payload, 1)
    if rdb_type == TYPE_LIST_QUICKLIST_2:
        blobs = []
        for _ in range(r.length()):
            container = r.length()
            blobs.append((container, r.string()))
    else:
        blobs = r.string()
    assert len(payload) - r.pos == 10  # then only the 2-byte RDB version and the CRC64 remain
    return blobs


@pytest.fixture(scope="module")
def redis_client(tmp_path_factory):
    require_tool("redis-server")  # skips with the reason, or fails when CI=true
    srv = RealRedis(tmp_path_factory.mktemp("compact"),
                    args=["--appendonly", "no", "--rdbcompression", "no"]).start()
    # RESP2, so ZRANGE WITHSCORES returns the score text rather than floats (redis-py 8 defaults to RESP3).
    r = srv.client(protocol=2)
    r.config_set("hash-max-listpack-value", 8192)  # let 4095/4096-byte strings stay in listpacks
    r.config_set("zset-max-listpack-value", 8192)
    yield r
    r.close()
    srv.stop()


@pytest.fixture
def rr7(redis_client):
    redis_client.flushall()
    return redis_client


MIXED = [b"0", b"12", b"127", b"128", b"-1", b"-4096", b"-4097", b"32767", b"-32769", b"8388607", b"-8388609",
         b"2147483647", b"-2147483649", b"9223372036854775807", b"-9223372036854775808", b"007", b"1.5", b"",
         b"x" * 63, b"y" * 64, b"z" * 4095, b"w" * 4096, b"\x00\xff binary", "caf\u00e9".encode()]


@pytest.mark.interop
def test_hash_listpack_matches_hgetall(rr7):
    rr7.hset("h", mapping={b"f%d" % i: v for i, v in enumerate(MIXED)} | {b"42": b"n", b"-7": b"m"})
    assert rr7.object("encoding", "h") == b"listpack"
    entries = listpack_entries(dump_blobs(rr7, "h", TYPE_HASH_LISTPACK))
    assert list(zip(entries[::2], entries[1::2], strict=True)) == list(rr7.hgetall("h").items())


@pytest.mark.interop
def test_zset_listpack_matches_zrange_withscores(rr7):
    scores = [1, -2, 1.5, 0.1, 1e20, 3.14159, 2**53, -(2**52) + 1, 1e-300, 0, float("inf"), float("-inf"), 7.0]
    members = {m: scores[i % len(scores)] for i, m in enumerate(MIXED)}
    rr7.zadd("z", members)
    assert rr7.object("encoding", "z") == b"listpack"
    entries = listpack_entries(dump_blobs(rr7, "z", TYPE_ZSET_LISTPACK))
    # member, score pairs in score order; scores as int entries or "%.17g" text, exactly what RESP2 replies.
    assert entries == rr7.execute_command("ZRANGE", "z", 0, -1, "WITHSCORES")
    assert b"0.10000000000000001" in entries and b"9007199254740992" in entries


@pytest.mark.interop
def test_list_quicklist_nodes_match_lrange(rr7):
    values = MIXED + [b"v" * 20000, b"u" * 16380] + [b"%d" % (i * 7919 - 5000) for i in range(3000)]
    for i in range(0, len(values), 500):
        rr7.rpush("l", *values[i : i + 500])
    nodes = dump_blobs(rr7, "l", TYPE_LIST_QUICKLIST_2)
    assert len(nodes) > 3
    assert {container for container, _ in nodes} == {QUICKLIST_NODE_PACKED}
    decoded = [e for _, blob in nodes for e in listpack_entries(blob)]
    assert decoded == rr7.lrange("l", 0, -1)


@pytest.mark.interop
@pytest.mark.parametrize("enc,values", [
    (2, [-(2**15), -5, 0, 3, 2**15 - 1]),
    (4, [-(2**31), 2**15, 7]),
    (8, [-(2**63), 2**63 - 1, 1, -1, 2**31]),
])
def test_set_intset_matches_smembers(rr7, enc, values):
    rr7.sadd("s", *values)
    assert rr7.object("encoding", "s") == b"intset"
    blob = dump_blobs(rr7, "s", TYPE_SET_INTSET)
    assert struct.unpack_from("<I", blob)[0] == enc
    members = intset_members(blob)
    assert members == [d(v) for v in sorted(values)]
    assert set(members) == rr7.smembers("s")
