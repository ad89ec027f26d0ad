"""Corrupt RDB files and DUMP payloads: Holdfast refuses them cleanly.

Starting from a valid dump.rdb written by Holdfast (strings, an LZF string,
list, hash, sets, zset, a TTL, two databases), each variant is put in a
fresh work dir and Holdfast started on it. It must exit with status 1 within
the start timeout, log "Fatal error loading the DB: ... (at byte offset N)"
and no traceback, and leave the file byte for byte as it was. Variants:
truncations (a sample of 40 offsets through real servers, every offset
in-process), byte flips (checksum mismatch), huge lengths (string, list
count, LZF, AUX), random bytes, an empty file, a bad signature or version,
stream and module records, unknown record types, a NaN score, an
out-of-range SELECTDB, a duplicate key and a non-numeric AUX ctime (the last
ones with a recomputed checksum, so only the named defect is wrong).

In-process, the same decoder (with the real keyspace loader as its sink) is
fed every truncation and every single-byte flip: it may only succeed or raise
RDBError with an offset. Finally RESTORE is fed corrupt payloads (truncated,
flipped, bad lengths, with and without a valid checksum): an error reply, and
the server keeps serving.
"""

import hashlib
import math
import os
import random
import re
import struct
import subprocess
import time

import pytest
from rawresp import RawConn
from servers import Holdfast

from engine.config import Config
from rdb import RDBError, decode
from rdb.format import crc64, encode_length
from rdb.loader import KeyspaceLoader
from rdb.reader import Reader

START_TIMEOUT = 20
OFFSET_RE = re.compile(r"Fatal error loading the DB: .*\(at byte offset (\d+)\)\. Exiting\.")


# ---- the valid file --------------------------------------------------------------------


@pytest.fixture(scope="module")
def good_rdb(tmp_path_factory):
    """The bytes of a dump.rdb written by Holdfast's SAVE."""
    srv = Holdfast(tmp_path_factory.mktemp("hf-good")).start()
    try:
        r = srv.client()
        r.set("str:plain", "plain-value")
        r.set("str:int", "12345")
        r.set("str:long", "x" * 40 + "y" * 40)  # LZF-compressed
        r.rpush("list", "a", "b", "c")
        r.hset("hash", mapping={"f1": "v1", "f2": "v2"})
        r.sadd("set", 1, 2, 3)
        r.sadd("setstr", "a", "b")
        r.zadd("zset", {"a": 1, "b": 2.5})
        r.set("ttl", "v", px=600_000)
        r1 = srv.client(db=1)
        r1.set("db1key", "v")
        assert r.save()
        with open(os.path.join(srv.workdir, "dump.rdb"), "rb") as f:
            data = f.read()
    finally:
        srv.stop()
    assert data.startswith(b"REDIS0010") and data[-9] == 0xFF
    return data


def with_crc(body):
    """`body` (through the EOF byte) plus its CRC64 trailer."""
    return body + crc64(body).to_bytes(8, "little")


def insert_before_eof(good, record):
    """A valid file with `record` added at the end of the last database."""
    return with_crc(good[:-9] + record + b"\xff")


def string(s):
    return encode_length(len(s)) + s


def flip(buf, at, mask=0x5A):
    b = bytearray(buf)
    b[at] ^= mask
    return bytes(b)


def module_id(name, encver=0):
    charset = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
    v = 0
    for ch in name:
        v = (v << 6) | charset.index(ch)
    return (v << 10) | encver


PLAIN = b"\x00\x09str:plain\x0bplain-value"  # type, key, value of the record for "str:plain"


def first_select(good):
    """Offset of the first SELECTDB: just past the AUX fields."""
    r = Reader(good, 9)
    while good[r.pos] == 0xFA:
        r.pos += 1
        r.string()
        r.string()
    assert good[r.pos] == 0xFE
    return r.pos


def replace_at(good, at, old_len, new, fix_crc=True):
    body = good[:at] + new + good[at + old_len:]
    return with_crc(body[:-8]) if fix_crc else body


def splice(good, old, new, fix_crc=True):
    return replace_at(good, good.index(old), len(old), new, fix_crc)


def huge_aux_len(good):
    at = good.index(b"\xfa\x09redis-ver") + 11  # the value's length byte
    return replace_at(good, at, 1, b"\x80\xff\xff\xff\xff")


def bad_aux(name, value):
    return lambda g: replace_at(g, first_select(g), 0, b"\xfa" + string(name) + string(value))


def add(record):
    return lambda g: insert_before_eof(g, record)


def plain_len(new, fix_crc=True):
    """The "str:plain" record with its value's length byte replaced."""
    return lambda g: splice(g, PLAIN, PLAIN[:-12] + new + b"plain-value", fix_crc)


_RND = random.Random(1234)
_RANDOM = _RND.randbytes(4096)

# name -> (build(good) -> the corrupt file, a word the error message must contain or None)
VARIANTS = {
    "empty": (lambda g: b"", "too short"),
    "random-bytes": (lambda g: _RANDOM, None),
    "random-after-header": (lambda g: b"REDIS0010" + _RANDOM, None),
    "header-only": (lambda g: g[:9], "end of data"),
    "version-99": (lambda g: b"REDIS0099" + g[9:], "version"),
    "version-0": (lambda g: b"REDIS0000" + g[9:], "version"),
    "version-not-digits": (lambda g: b"REDIS00x1" + g[9:], "version"),
    "bad-signature": (lambda g: b"RUBIS" + g[5:], "signature"),
    "flip-middle": (lambda g: flip(g, len(g) // 2), None),
    "flip-value-byte": (lambda g: flip(g, g.index(PLAIN) + len(PLAIN) - 2), "checksum"),
    "flip-crc": (lambda g: flip(g, len(g) - 1), "checksum"),
    "missing-crc": (lambda g: g[:-8], "checksum"),
    "huge-string-len-32": (plain_len(b"\x80\xff\xff\xff\xf0"), None),
    "huge-string-len-64": (plain_len(b"\x81" + (1 << 62).to_bytes(8, "big")), None),
    "huge-string-len-crc-wrong": (plain_len(b"\x80\x7f\xff\xff\xff", fix_crc=False), None),
    "huge-list-count": (lambda g: splice(g, b"\x01\x04list\x03", b"\x01\x04list\x81" + (1 << 60).to_bytes(8, "big")),
                        "elements"),
    "huge-lzf-length": (add(b"\x00" + string(b"lzfhuge") + b"\xc3\x03\x80\x7f\xff\xff\xff" + b"abc"), "LZF"),
    "bad-lzf-data": (add(b"\x00" + string(b"lzfbad") + b"\xc3\x03\x40\x10" + b"\xff\xff\xff"), "LZF"),
    "huge-aux-len": (huge_aux_len, None),
    "bad-length-byte": (plain_len(b"\x82"), "length byte"),
    "stream-15": (add(b"\x0f" + string(b"mystream") + b"\x01\x10" + b"\x00" * 16), "stream"),
    "stream-19": (add(b"\x13" + string(b"mystream") + b"\x00"), "stream"),
    "stream-21": (add(b"\x15" + string(b"mystream") + b"\x00"), "stream"),
    "module-7": (add(b"\x07" + string(b"mymod") + b"\x81" + module_id("mymodule1").to_bytes(8, "big")
                     + b"\x02\x05\x00"), "module"),
    "unknown-type-30": (add(b"\x1e" + string(b"k") + b"\x00"), "unknown"),
    "unknown-opcode-f0": (add(b"\xf0"), "unknown"),
    "zset-nan-score": (add(b"\x05" + string(b"z") + b"\x01" + string(b"m") + struct.pack("<d", math.nan)), "NaN"),
    "hash-odd-listpack": (add(b"\x10" + string(b"h") + string(b"\x0a\x00\x00\x00\x01\x00\x81a\x02\xff")), "odd"),
    "quicklist-bad-container": (add(b"\x12" + string(b"ql") + b"\x01\x07" + string(b"x")), "container"),
    "set-duplicate-member": (add(b"\x02" + string(b"s") + b"\x02" + string(b"m") + string(b"m")), "duplicate"),
    # Defects the checksum does not catch, because it is right.
    "selectdb-out-of-range": (add(b"\xfe" + encode_length(99) + PLAIN), "99"),
    "duplicate-key": (add(b"\x00" + string(b"db1key") + string(b"again")), "duplicate"),
}

# Not corrupt: Redis reads these AUX numbers leniently (strtol), so must we.
LENIENT_AUX = {
    "aux-ctime-not-a-number": bad_aux(b"ctime", b"abc"),
    "aux-used-mem-not-a-number": bad_aux(b"used-mem", b"1.5MB"),
}


TRUNCATION_SAMPLE = 40


def truncation_offsets(good):
    """40 offsets: the structurally interesting ones and an even spread."""
    n = len(good)
    fixed = {0, 1, 5, 8, 9, 10, n - 10, n - 9, n - 8, n - 1, first_select(good), good.index(PLAIN),
             good.index(PLAIN) + 3, good.index(b"\xfe\x01\xfb", first_select(good)) + 1}
    step = max(1, n // (TRUNCATION_SAMPLE - len(fixed)))
    spread = set(range(2, n, step))
    return sorted(fixed | set(sorted(spread)[:TRUNCATION_SAMPLE - len(fixed)]))


# ---- starting Holdfast on a file ---------------------------------------------------------


def launch(factory, workdir, content, *args):
    os.makedirs(workdir, exist_ok=True)
    path = os.path.join(str(workdir), "dump.rdb")
    with open(path, "wb") as f:
        f.write(content)
    os.utime(path, (1_000_000_000, 1_000_000_000))
    srv = factory(*args, start=False, workdir=workdir)
    srv.start(wait=False)
    return srv, path, content


def refusal_problems(started, expect=None):
    """What is wrong with how Holdfast refused its file (empty if all is
    right): exit status 1 in time, the fatal line with an offset within the
    file, no traceback, the file untouched."""
    srv, path, content = started
    problems = []
    try:
        rc = srv.proc.wait(START_TIMEOUT)
    except subprocess.TimeoutExpired:
        srv.kill()
        return ["still running after %ss" % START_TIMEOUT]
    log = srv.log()
    if rc != 1:
        problems.append("exit status %s" % rc)
    if "Traceback" in log:
        problems.append("traceback in the log:\n" + log[log.index("Traceback"):])
    m = OFFSET_RE.search(log)
    if "Fatal error loading the DB" not in log:
        problems.append("no 'Fatal error loading the DB' line")
    elif m is None:
        problems.append("no byte offset in: " + next(ln for ln in log.splitlines() if "Fatal error" in ln))
    elif int(m.group(1)) > len(content):
        problems.append("offset %s is past the end of the %d-byte file" % (m.group(1), len(content)))
    if expect and m is not None and expect.lower() not in m.group(0).lower():
        problems.append("message lacks %r: %s" % (expect, m.group(0)))
    with open(path, "rb") as f:
        if hashlib.sha256(f.read()).digest() != hashlib.sha256(content).digest():
            problems.append("the file was modified")
    if os.stat(path).st_mtime != 1_000_000_000:
        problems.append("the file's mtime changed")
    leftovers = [n for n in os.listdir(os.path.dirname(path)) if n.endswith(".rdb") and n != "dump.rdb"]
    if leftovers:
        problems.append("files left behind: %r" % leftovers)
    return problems


# ---- the files, through real servers ---------------------------------------------------------

@pytest.mark.parametrize("name", list(VARIANTS))
def test_corrupt_file_is_refused(holdfast_factory, tmp_path, good_rdb, name):
    build, expect = VARIANTS[name]
    content = build(good_rdb)
    assert content != good_rdb
    problems = refusal_problems(launch(holdfast_factory, tmp_path / "w", content), expect)
    assert not problems, problems


def test_truncated_files_are_refused(holdfast_factory, tmp_path, good_rdb):
    offsets = truncation_offsets(good_rdb)
    assert len(offsets) >= TRUNCATION_SAMPLE - 2
    started = {n: launch(holdfast_factory, tmp_path / ("t%d" % n), good_rdb[:n]) for n in offsets}
    problems = {n: p for n, s in started.items() if (p := refusal_problems(s))}
    assert not problems, problems


def test_refused_with_save_points_leaves_file_alone(holdfast_factory, tmp_path, good_rdb):
    """With save points configured, a refused load still writes nothing."""
    bad = flip(good_rdb, len(good_rdb) - 1)
    problems = refusal_problems(launch(holdfast_factory, tmp_path / "w", bad, "--save", "1 1"), "checksum")
    assert not problems, problems


def test_good_file_loads(holdfast_factory, tmp_path, good_rdb):
    """The control: the unmodified file loads."""
    srv, _, _ = launch(holdfast_factory, tmp_path / "w", good_rdb)
    srv.wait_ready(START_TIMEOUT)
    r = srv.client()
    assert r.get("str:plain") == b"plain-value" and r.lrange("list", 0, -1) == [b"a", b"b", b"c"]
    assert r.dbsize() == 9 and srv.client(db=1).get("db1key") == b"v"
    assert 0 < r.pttl("ttl") <= 600_000


@pytest.mark.parametrize("name", sorted(LENIENT_AUX))
def test_aux_numbers_read_leniently(holdfast_factory, tmp_path, good_rdb, name):
    srv, _, _ = launch(holdfast_factory, tmp_path / "w", LENIENT_AUX[name](good_rdb))
    srv.wait_ready(START_TIMEOUT)
    assert srv.client().get("str:plain") == b"plain-value"
    assert "Traceback" not in srv.log()


def test_zero_checksum_is_not_verified(holdfast_factory, tmp_path, good_rdb):
    """A zero trailer means 'written with rdbchecksum no': loaded, as Redis does."""
    srv, _, _ = launch(holdfast_factory, tmp_path / "w", good_rdb[:-8] + b"\0" * 8)
    srv.wait_ready(START_TIMEOUT)
    assert srv.client().get("str:int") == b"12345"


# ---- the decoder in-process: every truncation, every flip -----------------------------------


def decode_with_loader(buf):
    loader = KeyspaceLoader(Config(), int(time.time() * 1000), 0)
    return decode(buf, loader)


def test_decoder_every_truncation(good_rdb):
    decode_with_loader(good_rdb)
    bad = {}
    for n in range(len(good_rdb)):
        try:
            decode_with_loader(good_rdb[:n])
            bad[n] = "loaded"
        except RDBError as e:
            if e.offset is None or not 0 <= e.offset <= n:
                bad[n] = "offset %r: %s" % (e.offset, e)
    assert not bad, bad


def test_decoder_every_byte_flip(good_rdb):
    """Each byte XORed with a few masks and the checksum recomputed, so the
    decoder itself must catch (or accept) the damage: RDBError with an
    offset, or a clean load, never another exception."""
    body = good_rdb[:-8]
    bad = {}
    for at in range(9, len(body) - 1):
        for mask in (0x01, 0x80, 0xFF, 0x40):
            buf = with_crc(flip(body, at, mask))
            try:
                decode_with_loader(buf)
            except RDBError as e:
                if e.offset is None or not 0 <= e.offset <= len(buf):
                    bad[at, mask] = "offset %r: %s" % (e.offset, e)
            except Exception as e:  # noqa: BLE001 - any other exception is the bug
                bad[at, mask] = "%s: %s" % (type(e).__name__, e)
    assert not bad, dict(list(bad.items())[:20])


# ---- RESTORE with corrupt payloads -----------------------------------------------------------


def payload_variants(payload):
    """name -> a corrupt DUMP payload, from a valid one."""
    body = payload[:-8]

    def recrc(b):
        return b + crc64(b).to_bytes(8, "little")

    kind = payload[0]
    return {
        "truncated": payload[:-1],
        "truncated-half": payload[:len(payload) // 2],
        "truncated-body-recrc": recrc(body[:len(body) // 2] + body[-2:]),
        "flipped-middle": flip(payload, len(payload) // 2),
        "flipped-type": flip(payload, 0, 0x7F),
        "bad-length": recrc(bytes([kind]) + b"\x80\xff\xff\xff\xf0" + body[2:]),
        "bad-length-64": recrc(bytes([kind]) + b"\x81" + (1 << 62).to_bytes(8, "big") + body[2:]),
        "bad-length-no-recrc": bytes([kind]) + b"\x80\xff\xff\xff\xf0" + body[2:] + payload[-8:],
        "version-99": recrc(body[:-2] + b"\x63\x00"),
    }


@pytest.mark.parametrize("key", ["str", "lzf", "list", "hash", "set", "intset", "zset"])
def test_restore_corrupt_payloads(hf, hf_server, key):
    hf.set("str", "short-value")
    hf.set("lzf", "z" * 200)
    hf.rpush("list", *["item%d" % i for i in range(20)])
    hf.hset("hash", mapping={"f%d" % i: "v%d" % i for i in range(10)})
    hf.sadd("set", "a", "b", "c")
    hf.sadd("intset", 1, 2, 3)
    hf.zadd("zset", {"a": 1, "b": 2})
    payload = hf.dump(key)
    conn = RawConn(hf_server.port)
    try:
        for name, bad in payload_variants(payload).items():
            reply = conn("RESTORE", "restored", "0", bad)
            assert reply.startswith(b"-ERR "), (name, reply)
            assert reply in (b"-ERR DUMP payload version or checksum are wrong\r\n", b"-ERR Bad data format\r\n"), \
                (name, reply)
            assert conn("PING") == b"+PONG\r\n", name
            assert conn("EXISTS", "restored") == b":0\r\n", name
        assert conn("RESTORE", "restored", "0", payload) == b"+OK\r\n"
    finally:
        conn.close()
