"""Randomized model test: hypothesis draws command sequences over lists,
hashes, sets, sorted sets, strings and the keyspace (with MULTI/EXEC/
DISCARD/WATCH blocks now and then), runs each sequence against Holdfast and
against Debian's redis-server 7.0, and compares every reply byte for byte
(RESP2, and RESP3 in the second parametrization).

A small key pool is shared by all types, so WRONGTYPE errors, type changes
(RENAME/COPY/SUNIONSTORE over a list) and encoding conversions come up
often; each example also runs under either the default encoding limits or
tiny ones (CONFIG SET ...-max-...), so listpack/intset -> hashtable/skiplist
conversions happen within a few commands.

Only what Redis itself leaves unspecified is normalised:

- the order of replies that walk a hashtable-encoded set or hash, or a
  skiplist zset's dict (SMEMBERS, SSCAN, HGETALL, HKEYS, HVALS, HSCAN, ZSCAN,
  SINTER with a hashtable set): compared as multisets only when redis-server
  reports that encoding for the key (inside MULTI, where the encoding at the
  time cannot be asked, always). Intsets and listpacks are compared exactly;
- SUNION/SDIFF (and whole-set SRANDMEMBER/SPOP) build a fresh set, sorted
  when it is intset-able: exact then, multiset otherwise;
- KEYS and SCAN (the keyspace is a hashtable): multiset;
- random picks (SRANDMEMBER, HRANDFIELD, ZRANDMEMBER, RANDOMKEY, SPOP):
  when the bytes differ, both replies must have the same shape and size,
  distinct where Redis promises it, every pick a member on its own server;
  after a random SPOP the popped set is rebuilt the same on both servers;
- TTL/EXPIRETIME after a relative EXPIRE: within one second;
- lex ranges (ZRANGEBYLEX and friends) over a skiplist zset whose scores
  differ are unspecified and depend on the skiplist's random levels: such
  commands (and all lex ranges inside MULTI) are not sent to either server.

At the end of every example both servers must agree on TYPE, OBJECT
ENCODING, DEBUG DIGEST-VALUE and TTL of every key in db 0 and db 1.

HYPOTHESIS_PROFILE=dev (500 examples) or deep (5000, random seeds) runs
more locally; the default `ci` profile is derandomized and takes a few
seconds.
"""

import os
import re
import time
from collections import namedtuple

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from model_commands import CONFIGS, KEYS, RANDOM_READS, scripts
from rawresp import RawConn, reply_end

pytestmark = pytest.mark.interop

_PROFILES = {
    "ci": dict(max_examples=150, derandomize=True, database=None),
    "dev": dict(max_examples=500),
    "deep": dict(max_examples=5000),
}
PROFILE = settings(deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                          HealthCheck.too_slow, HealthCheck.data_too_large],
                   print_blob=True, **_PROFILES.get(os.environ.get("HYPOTHESIS_PROFILE", "ci"), _PROFILES["ci"]))

# ---- replies ----------------------------------------------------------------------------

Node = namedtuple("Node", "t head kids raw")  # kids: child Nodes for aggregates, else None


def node(buf, pos=0):
    end = reply_end(buf, pos)
    t = buf[pos:pos + 1]
    eol = buf.index(b"\r\n", pos)
    head = buf[pos + 1:eol]
    kids = None
    if t in b"*~%>" and int(head) >= 0:
        kids, p = [], eol + 2
        for _ in range(int(head) * (2 if t == b"%" else 1)):
            kids.append(node(buf, p))
            p = reply_end(buf, p)
    return Node(t, head, kids, buf[pos:end])


def payload(n):
    """A bulk string's bytes (or a simple reply's text)."""
    if n.t == b"$":
        return None if int(n.head) < 0 else n.raw[len(n.head) + 3:-2]
    return n.head


def is_int(b):
    return re.fullmatch(rb"-?[1-9][0-9]*|0", b) is not None and -2 ** 63 <= int(b) < 2 ** 63


def multiset(n, pairs=False):
    if n.kids is None:
        return n.raw
    items = [k.raw for k in n.kids]
    if pairs:
        items = list(zip(items[::2], items[1::2], strict=False))
    return n.t, len(n.kids), sorted(items)


# How an order-free reply is laid out: flat items, field/value pairs, or a
# SCAN-style [cursor, items] (flat or pairs).
ORDER_FREE = {"SMEMBERS": "flat", "SINTER": "flat", "SUNION": "flat", "SDIFF": "flat", "SPOP": "flat", "HKEYS": "flat",
              "HVALS": "flat", "HGETALL": "pairs", "SSCAN": "scan", "HSCAN": "scan-pairs",
              "ZSCAN": "scan-pairs", "KEYS": "flat", "SCAN": "scan"}


class Ctx:
    """The comparison context: the two connections, the config profile and
    whether commands are being queued/executed inside MULTI."""

    def __init__(self, hf, rr, config):
        self.hf, self.rr, self.config = hf, rr, config
        self.multi = False

    def enc(self, key):
        return payload(node(self.rr("OBJECT", "ENCODING", key)))

    def intsetable(self, members):
        return len(members) <= int(self.config["set-max-intset-entries"]) and all(map(is_int, members))


def order_may_differ(name, cmd, a, ctx):
    if name in ("KEYS", "SCAN"):
        return True
    items = [payload(k) for k in a.kids or []]
    if name in ("SUNION", "SDIFF", "SPOP"):  # (SPOP inside MULTI: only the whole-set form)
        return not ctx.intsetable(items)
    if ctx.multi:
        return True
    if name == "SINTER":
        return any(ctx.enc(k) == b"hashtable" for k in cmd[1:])
    return ctx.enc(cmd[1]) in (b"hashtable", b"skiplist")


def order_free_equal(mode, a, b):
    if a.t != b.t or a.kids is None or b.kids is None:
        return False
    if mode.startswith("scan"):
        if len(a.kids) != 2 or len(b.kids) != 2 or a.kids[0].raw != b.kids[0].raw:
            return False
        a, b = a.kids[1], b.kids[1]
    pairs = mode.endswith("pairs")
    return multiset(a, pairs) == multiset(b, pairs)


def close_times(name, a, b):
    return (name in ("TTL", "EXPIRETIME") and a.t == b.t == b":" and int(a.head) > 0
            and abs(int(a.head) - int(b.head)) <= 1)


def same(cmd, a, b, ctx):
    """Whether two replies to `cmd` agree (exactly, or where Redis leaves
    something free, up to that)."""
    if a.raw == b.raw:
        return True
    name = cmd[0].upper()
    if close_times(name, a, b):
        return True
    if name == "EXEC" and a.t == b.t == b"*" and a.kids is not None and b.kids is not None \
            and len(a.kids) == len(b.kids) == len(ctx.queued):
        return all(same(c, x, y, ctx) for c, x, y in zip(ctx.queued, a.kids, b.kids, strict=True))
    mode = ORDER_FREE.get(name)
    if mode and a.t == b.t and order_may_differ(name, cmd, a, ctx):
        return order_free_equal(mode, a, b)
    return False


# ---- random picks -----------------------------------------------------------------------

def _count(cmd):
    if len(cmd) < 3:
        return None
    try:
        return int(cmd[2])
    except ValueError:
        return None


def _picks(n, with_values):
    """(item, value-or-None) pairs from a random-pick reply (RESP2 flat
    pairs or RESP3 nested pairs when with values)."""
    if n.kids is None:
        return [(payload(n), None)]
    if not with_values:
        return [(payload(k), None) for k in n.kids]
    if n.kids and n.kids[0].kids is not None:  # RESP3: [[field, value], ...]
        return [(payload(p.kids[0]), p.kids[1]) for p in n.kids]
    return [(payload(f), v) for f, v in zip(n.kids[::2], n.kids[1::2], strict=True)]


def _flat(n, with_values):
    return [(p, v.raw if v is not None else None) for p, v in _picks(n, with_values)]


def check_random_read(cmd, a, b, ctx):
    """Both replies to a random pick are valid: same shape and size, each
    pick a member on its own server, distinct where Redis promises it, the
    whole collection in its fixed order where Redis returns that."""
    name = cmd[0].upper()
    assert a.t == b.t and a.t in b"$*~" and (a.kids is None) == (b.kids is None), (a.raw, b.raw)
    if name == "RANDOMKEY":
        for conn, n in ((ctx.hf, a), (ctx.rr, b)):
            assert conn("EXISTS", payload(n)) == b":1\r\n", (cmd, n.raw)
        return
    key, count = cmd[1], _count(cmd)
    with_values = len(cmd) > 3
    if a.kids is not None:
        assert len(a.kids) == len(b.kids), (cmd, a.raw, b.raw)
    size_cmd = {"SRANDMEMBER": "SCARD", "HRANDFIELD": "HLEN", "ZRANDMEMBER": "ZCARD"}[name]
    size = int(node(ctx.rr(size_cmd, key)).head)
    for conn, n in ((ctx.hf, a), (ctx.rr, b)):
        picks = _picks(n, with_values)
        if count is not None and count >= 0:
            assert len(picks) == min(count, size) and len({p for p, _ in picks}) == len(picks), (cmd, n.raw)
        elif count is not None:
            assert len(picks) == -count, (cmd, n.raw)
        for item, value in picks:
            if name == "SRANDMEMBER":
                assert conn("SISMEMBER", key, item) == b":1\r\n", (cmd, item)
            elif name == "HRANDFIELD":
                assert conn("HEXISTS", key, item) == b":1\r\n", (cmd, item)
                if value is not None:
                    assert conn("HGET", key, item) == value.raw, (cmd, item, value.raw)
            else:
                score = payload(node(conn("ZSCORE", key, item)))
                assert score is not None, (cmd, item)
                if value is not None:
                    assert float(score) == float(payload(value)), (cmd, item, value.raw)
    if count is not None and count >= size > 0:
        # The whole collection: in a fixed order unless Redis walks a hashtable.
        # (ZRANDMEMBER walks the zset's own order, from the highest score,
        # whatever the encoding.)
        if name == "SRANDMEMBER":
            fixed = ctx.intsetable([p for p, _ in _picks(b, False)])
        else:
            fixed = name == "ZRANDMEMBER" or ctx.enc(key) == b"listpack"
        assert not fixed, "%r: whole collection in a different order: %r != %r" % (cmd, a.raw, b.raw)
        assert sorted(_flat(a, with_values)) == sorted(_flat(b, with_values)), (cmd, a.raw, b.raw)


def run_spop(cmd, ctx):
    """SPOP outside MULTI: may pick differently on the two servers. Check
    both picks, then make the two sets equal again (rebuilt alike)."""
    key = cmd[1] if len(cmd) > 1 else None
    before = None
    if key is not None and ctx.rr("TYPE", key) == b"+set\r\n":
        before = {payload(k) for k in node(ctx.rr("SMEMBERS", key)).kids}
    a, b = node(ctx.hf(*cmd)), node(ctx.rr(*cmd))
    if a.raw == b.raw:
        return a, b
    assert before is not None and a.t == b.t and a.t in b"$*~" and (a.kids is None) == (b.kids is None), \
        "%r: holdfast %r != redis %r" % (cmd, a.raw, b.raw)
    count = _count(cmd)
    for conn, n in ((ctx.hf, a), (ctx.rr, b)):
        popped = [p for p, _ in _picks(n, False)]
        assert len(popped) == len(set(popped)) == (1 if count is None else min(count, len(before))), (cmd, n.raw)
        assert set(popped) <= before, (cmd, n.raw, before)
        rest = node(conn("SMEMBERS", key))
        assert {payload(k) for k in rest.kids} == before - set(popped), (cmd, n.raw, rest.raw)
    if count is not None and count >= len(before):
        assert not ctx.intsetable(list(before)), "%r: whole set in a different order: %r != %r" % (
            cmd, a.raw, b.raw)
        assert sorted(_picks(a, False)) == sorted(_picks(b, False))
    members = [payload(k) for k in node(ctx.rr("SMEMBERS", key)).kids]
    for conn in (ctx.hf, ctx.rr):
        conn("DEL", key)
        if members:
            conn("SADD", key, *members)
    return None, None


LEX_CMDS = {"ZRANGEBYLEX", "ZREVRANGEBYLEX", "ZLEXCOUNT", "ZREMRANGEBYLEX"}


def is_lex(cmd):
    name = cmd[0].upper()
    return name in LEX_CMDS or (name in ("ZRANGE", "ZRANGESTORE") and "BYLEX" in (a.upper() for a in cmd))


def lex_undefined(cmd, ctx):
    """A lex range over a skiplist zset whose scores differ: Redis leaves the
    result unspecified, and its skiplist walk depends on random node levels."""
    key = cmd[2] if cmd[0].upper() == "ZRANGESTORE" else cmd[1] if len(cmd) > 1 else None
    if key is None or ctx.enc(key) != b"skiplist":
        return False
    n = node(ctx.rr("ZRANGE", key, "0", "-1", "WITHSCORES"))
    kids = n.kids if not n.kids or n.kids[0].kids is None else [x for p in n.kids for x in p.kids]
    return len({k.raw for k in kids[1::2]}) > 1


# ---- the test ---------------------------------------------------------------------------

def final_state(conn):
    out = []
    for db in ("0", "1"):
        conn("SELECT", db)
        for k in KEYS:
            out.append((db, k, conn("TYPE", k), conn("OBJECT", "ENCODING", k), conn("DEBUG", "DIGEST-VALUE", k),
                        node(conn("TTL", k))))
    conn("SELECT", "0")
    return out


def check_final(ctx, script):
    for x, y in zip(final_state(ctx.hf), final_state(ctx.rr), strict=True):
        ok = x[:5] == y[:5] and (x[5].raw == y[5].raw or close_times("TTL", x[5], y[5]))
        assert ok, "final state of db %s key %s differs: holdfast %r != redis %r\nscript: %s" % (
            x[0], x[1], x[2:5] + (x[5].raw,), y[2:5] + (y[5].raw,), _fmt(script))


def _fmt(script):
    return "[\n" + "".join("    %r,\n" % (c,) for c in script) + "]"


def run_model(hf, rr, config, script):
    ctx = Ctx(hf, rr, CONFIGS[config])
    for conn in (hf, rr):
        assert conn("FLUSHALL") == b"+OK\r\n"
        for name, value in ctx.config.items():
            assert conn("CONFIG", "SET", name, value) == b"+OK\r\n"
    ctx.queued = []
    for i, cmd in enumerate(script):
        name = cmd[0].upper()
        where = "command #%d %r" % (i, cmd)
        if is_lex(cmd) and (ctx.multi or lex_undefined(cmd, ctx)):
            continue  # Redis's answer depends on its skiplist's random levels: not sent to either
        if not ctx.multi and name == "SPOP":
            a, b = run_spop(cmd, ctx)
            continue
        a, b = node(hf(*cmd)), node(rr(*cmd))
        if not ctx.multi and name in RANDOM_READS and a.raw != b.raw:
            check_random_read(cmd, a, b, ctx)
            continue
        assert same(cmd, a, b, ctx), "%s: holdfast %r != redis %r\nscript: %s" % (
            where, a.raw, b.raw, _fmt(script[:i + 1]))
        if name == "MULTI" and not ctx.multi and b.raw == b"+OK\r\n":
            ctx.multi, ctx.queued = True, []
        elif name in ("EXEC", "DISCARD"):
            ctx.multi = False
        elif ctx.multi and b.raw == b"+QUEUED\r\n":
            ctx.queued.append(cmd)
    if ctx.multi:
        hf("DISCARD")
        rr("DISCARD")
    check_final(ctx, script)


@pytest.fixture(params=[2, 3], ids=["resp2", "resp3"])
def proto(request):
    return request.param


@pytest.fixture(scope="module", autouse=True)
def _restore_config(hf_server, real_redis_server):
    yield
    for srv in (hf_server, real_redis_server):
        conn = RawConn(srv.port)
        for name, value in CONFIGS["default"].items():
            conn("CONFIG", "SET", name, value)
        conn.close()


@PROFILE
@given(config=st.sampled_from(["default", "small"]), script=scripts())
def test_model_random(hf_server, real_redis_server, proto, config, script):
    hf, rr = RawConn(hf_server.port, proto), RawConn(real_redis_server.port, proto)
    try:
        run_model(hf, rr, config, script)
    finally:
        hf.close()
        rr.close()


# ---- what the model found, pinned ---------------------------------------------------------

WATCH_FLUSH = [
    # FLUSHDB/FLUSHALL/SWAPDB touch only WATCHed keys that exist (touchAllWatchedKeysInDb).
    ("SET", "k1", "1"), ("WATCH", "k2"), ("FLUSHDB",), ("MULTI",), ("SET", "k1", "1"), ("EXEC",),
    ("SET", "k1", "1"), ("WATCH", "k1"), ("FLUSHDB",), ("MULTI",), ("PING",), ("EXEC",),
    ("SET", "k1", "1"), ("WATCH", "k2"), ("FLUSHALL",), ("MULTI",), ("PING",), ("EXEC",),
    ("SET", "k3", "1"), ("WATCH", "k3", "k4"), ("SWAPDB", "0", "1"), ("MULTI",), ("PING",), ("EXEC",),
    ("FLUSHALL",), ("WATCH", "k5"), ("SWAPDB", "0", "1"), ("MULTI",), ("PING",), ("EXEC",),
]


@pytest.mark.parametrize("script", [WATCH_FLUSH], ids=["watch_flush"])
def test_pinned_scripts(hf_server, real_redis_server, proto, script):
    hf, rr = RawConn(hf_server.port, proto), RawConn(real_redis_server.port, proto)
    try:
        run_model(hf, rr, "default", script)
    finally:
        hf.close()
        rr.close()


def test_watch_of_expired_key(hf_server, real_redis_server):
    """A key already expired when WATCHed: its deletion (by DEL's lazy
    expiry or by FLUSHDB) is no logical change, so EXEC still runs; a new
    value is a change."""
    for conn in (RawConn(hf_server.port), RawConn(real_redis_server.port)):
        try:
            out = []
            for key, change in ((b"k", ("DEL", "k")), (b"j", ("SET", "j", "2")), (b"q", ("FLUSHDB",))):
                conn("FLUSHALL")
                conn("SET", key, "v", "PX", "1")
                time.sleep(0.02)
                out += [conn("WATCH", key), conn(*change), conn("MULTI"), conn("PING"), conn("EXEC")]
            assert out == [b"+OK\r\n", b":0\r\n", b"+OK\r\n", b"+QUEUED\r\n", b"*1\r\n+PONG\r\n",
                           b"+OK\r\n", b"+OK\r\n", b"+OK\r\n", b"+QUEUED\r\n", b"*-1\r\n",
                           b"+OK\r\n", b"+OK\r\n", b"+OK\r\n", b"+QUEUED\r\n", b"*1\r\n+PONG\r\n"], out
        finally:
            conn.close()
