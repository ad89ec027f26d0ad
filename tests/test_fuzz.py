"""Fuzzing the code that reads untrusted bytes (issue 9): the RESP request
parser, the AOF command stream, the AOF manifest, whole RDB files and
RESTORE payloads, in-process with hypothesis. Random and mutated inputs
may only be accepted or refused with the module's own error; any other
exception (IndexError, MemoryError from a length taken on trust,
RecursionError...) is a defect, and each example must finish within the
hypothesis deadline. Mutated RDB and DUMP inputs get their checksum
recomputed, so the decoder itself meets the damage, not the CRC check.

The budget is small in CI and derandomized (the same examples every run);
a longer, random run on demand:

    HOLDFAST_FUZZ_EXAMPLES=20000 .venv/bin/pytest tests/test_fuzz.py

(tests/test_rdb_corrupt.py feeds every truncation and single-byte flip of
a real dump.rdb; tests/test_protocol.py the hand-picked malformed requests.)
"""

import io
import os
import random
import socket
from collections import deque

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from aof import manifest
from aof.stream import AofCorrupt, AofTruncated, commands
from engine.config import Config
from engine.protocol import RequestParser
from engine.resp import encode_command
from rdb import RDBError, decode
from rdb.decoder import decode_payload
from rdb.encoder import ChecksumWriter, dump_payload, write_db, write_header
from rdb.format import crc64
from rdb.loader import KeyspaceLoader

EXAMPLES = int(os.environ.get("HOLDFAST_FUZZ_EXAMPLES", "300"))
FUZZ = settings(max_examples=EXAMPLES, deadline=2000, derandomize="HOLDFAST_FUZZ_EXAMPLES" not in os.environ,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large], database=None)

HUGE = (b"1152921504606846976", b"9223372036854775807", b"99999999999999999999", b"-2", b"4294967296")


# ---- mutation ---------------------------------------------------------------------------

@st.composite
def mutated(draw, base):
    """`base` with a few random edits: flips, cuts, insertions of random
    bytes or of RESP/RDB length fields that claim huge sizes."""
    data = bytearray(base)
    for _ in range(draw(st.integers(1, 4))):
        op = draw(st.sampled_from(("flip", "cut", "insert", "huge", "delete")))
        at = draw(st.integers(0, max(0, len(data) - 1)))
        if op == "flip" and data:
            data[at] ^= draw(st.integers(1, 255))
        elif op == "cut":
            del data[at:]
        elif op == "insert":
            data[at:at] = draw(st.binary(min_size=1, max_size=8))
        elif op == "huge":
            data[at:at] = draw(st.sampled_from((b"*", b"$", b""))) + draw(st.sampled_from(HUGE)) + b"\r\n"
        elif op == "delete" and data:
            del data[at:at + draw(st.integers(1, 16))]
    return bytes(data)


def _chunks(draw, data):
    cuts = sorted(set(draw(st.lists(st.integers(0, len(data)), max_size=6))))
    out, prev = [], 0
    for c in cuts + [len(data)]:
        out.append(data[prev:c])
        prev = c
    return [c for c in out if c]


# ---- the RESP request parser --------------------------------------------------------------

_args = st.lists(st.binary(max_size=12), min_size=1, max_size=5)
_inline_args = st.lists(st.binary(min_size=1, max_size=8).filter(lambda b: not set(b) & set(b" \t\r\n\v\f\"'")),
                        min_size=1, max_size=4).filter(lambda argv: argv[0][:1] != b"*")  # '*' starts a multibulk


@st.composite
def requests_stream(draw):
    """(requests as sent, bytes): multibulk and inline requests."""
    reqs, parts = [], []
    for _ in range(draw(st.integers(1, 8))):
        if draw(st.booleans()):
            argv = draw(_args)
            parts.append(encode_command(argv))
        else:
            argv = draw(_inline_args)
            parts.append(b" ".join(argv) + b"\r\n")
        reqs.append(argv)
    return reqs, b"".join(parts)


def _feed(parser, chunks):
    """Every request parsed, until a protocol error; it must be the only failure."""
    out = []
    for chunk in chunks:
        reqs = parser.parse(chunk)
        assert isinstance(reqs, list)
        for argv in reqs:
            assert isinstance(argv, list) and all(isinstance(a, (bytes, bytearray, memoryview)) for a in argv)
        out.extend([bytes(a) for a in argv] for argv in reqs)
        if parser.error is not None:
            assert str(parser.error)  # a message for "-ERR Protocol error: ..."
            break
        assert parser.pending_bytes() <= sum(map(len, chunks))  # never more than was fed
    return out


@FUZZ
@given(st.data())
def test_parser_returns_what_was_sent_however_it_is_cut(data):
    reqs, raw = data.draw(requests_stream())
    parser = RequestParser(512 * 1024 * 1024)
    assert _feed(parser, _chunks(data.draw, raw)) == reqs
    assert parser.error is None and parser.pending_bytes() == 0


@FUZZ
@given(st.data())
def test_parser_on_mutated_and_random_input(data):
    _reqs, raw = data.draw(requests_stream())
    bad = data.draw(st.one_of(mutated(raw), st.binary(max_size=200)))
    _feed(RequestParser(1024 * 1024), _chunks(data.draw, bad))


# ---- the AOF ---------------------------------------------------------------------------------

_AOF = b"".join([encode_command([b"SELECT", b"0"]), b"#TS:1700000000\r\n",
                 encode_command([b"SET", b"k", b"v" * 20]), encode_command([b"RPUSH", b"l", b"a", b"b"]),
                 b"#crc32c:0badf00d 42\r\n", encode_command([b"HSET", b"h", b"f", b"1"])])


@FUZZ
@given(mutated(_AOF))
def test_aof_command_stream(buf):
    try:
        for argv, end in commands(buf):
            assert argv and end <= len(buf)
    except (AofCorrupt, AofTruncated):
        pass


_MANIFEST_LINES = ["file appendonly.aof.1.base.rdb seq 1 type b", "file appendonly.aof.1.incr.aof seq 1 type i",
                   "file appendonly.aof.2.incr.aof seq 2 type i", "file \"with space.aof\" seq 3 type i",
                   "# a comment", "file x seq 1 type h", "", "file x seq -1 type i", "file x", "seq 1 type b"]


@FUZZ
@given(st.lists(st.one_of(st.sampled_from(_MANIFEST_LINES), st.text(max_size=40)), max_size=8))
def test_manifest_parser(lines):
    try:
        manifest.parse("\n".join(lines))
    except manifest.ManifestError as e:
        assert str(e)


# ---- RDB files and DUMP payloads ----------------------------------------------------------------

def _valid_rdb():
    f = io.BytesIO()
    w = ChecksumWriter(f)
    write_header(w, [("redis-ver", b"7.0.15"), ("ctime", 1700000000)])
    data = {b"s": b"v" * 40, b"n": b"12345", b"l": deque([b"a", b"b", b"123"]), b"h": {b"f": b"1", b"g": b"x"},
            b"set": {b"a", b"b"}, b"ints": {b"1", b"2", b"300"}}
    write_db(w, 0, data, {b"s": 4102444800000})
    write_db(w, 3, {b"other": b"x" * 100}, {})
    w.finish()
    return f.getvalue()


_RDB = _valid_rdb()


def _with_crc(buf):
    """A mutated file with a trailer that matches it again."""
    if len(buf) < 8:
        return buf
    return buf[:-8] + crc64(buf[:-8]).to_bytes(8, "little")


@FUZZ
@given(mutated(_RDB))
def test_rdb_decoder(buf):
    try:
        decode(_with_crc(buf), KeyspaceLoader(Config(), 1700000000000, 0))  # the server's own loader
    except RDBError:
        pass


_PAYLOADS = [dump_payload(v) for v in (b"x" * 50, b"123", deque([b"a", b"bb"]), {b"f": b"v"}, {b"m"})]


@FUZZ
@given(st.sampled_from(_PAYLOADS).flatmap(mutated))
def test_restore_payloads(payload):
    if len(payload) >= 10:
        payload = payload[:-8] + crc64(payload[:-8]).to_bytes(8, "little")  # past the checksum
    try:
        decode_payload(payload)
    except RDBError:
        pass


# ---- a live server --------------------------------------------------------------------------------

def test_a_live_server_survives_random_requests(holdfast_factory):
    """Mutated pipelines over real connections (also run with io-threads 4
    by make test): every connection ends in replies, an error or silence,
    and the server, a client connected throughout and a new one are fine."""
    srv = holdfast_factory()
    bystander = srv.client()
    bystander.set("still", "here")
    rnd = random.Random(9)
    seeds = [encode_command([b"SET", b"k", b"v"]) + encode_command([b"LPUSH", b"l", b"a", b"b"]),
             encode_command([b"HSET", b"h", b"f", b"1"]) + b"GET k\r\n", encode_command([b"MULTI"]) +
             encode_command([b"INCR", b"n"]) + encode_command([b"EXEC"]),
             encode_command([b"SUBSCRIBE", b"c"]), encode_command([b"CLIENT", b"REPLY", b"OFF"]) + b"PING\r\n"]
    for _ in range(120):
        data = bytearray(rnd.choice(seeds) * rnd.randint(1, 3))
        for _ in range(rnd.randint(1, 4)):
            at = rnd.randrange(len(data))
            op = rnd.randrange(4)
            if op == 0:
                data[at] = rnd.randrange(256)
            elif op == 1:
                data[at:at] = b"$" + rnd.choice(HUGE) + b"\r\n"
            elif op == 2:
                del data[at:at + rnd.randint(1, 8)]
            else:
                data[at:at] = bytes(rnd.randrange(256) for _ in range(rnd.randint(1, 6)))
        s = socket.create_connection(("127.0.0.1", srv.port), timeout=0.05)
        try:
            s.sendall(bytes(data))
            while s.recv(65536):
                pass
        except OSError:  # timeout (a request still incomplete) or reset after a protocol error
            pass
        s.close()
    assert bystander.get("still") == b"here"
    assert srv.client().ping()
    assert "Traceback" not in srv.log() and "Internal error" not in srv.log()
