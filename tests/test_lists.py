"""Lists: the commands end to end over redis-py, the cores the blocking
commands share (in process), and differential runs against Debian's
redis-server 7.0 comparing every raw reply in RESP2 and RESP3."""

import random
import time
from collections import deque

import pytest
import redis
from rawresp import RawConn

from engine import resp
from engine.commands.lists import bulk_items
from engine.config import Config
from engine.memory_sink import MemorySink
from engine.protocol import RequestParser
from engine.server import Server
from engine.types.lists import HEAD, TAIL, WRONG, list_range, lmove_argv, move_from, pop_from

WRONGTYPE = "WRONGTYPE Operation against a key holding the wrong kind of value"


# ---- end to end (redis-py, RESP3 by default) --------------------------------------


def test_push_pop_and_ranges(hf):
    assert hf.rpush("l", "a", "b", "c") == 3
    assert hf.lpush("l", "x", "y") == 5  # pushed one by one: y x a b c
    assert hf.lrange("l", 0, -1) == [b"y", b"x", b"a", b"b", b"c"]
    assert hf.lrange("l", -2, -1) == [b"b", b"c"]
    assert hf.lrange("l", 3, 100) == [b"b", b"c"]
    assert hf.lrange("l", 4, 2) == []
    assert hf.lpop("l") == b"y"
    assert hf.rpop("l", 2) == [b"c", b"b"]  # pop order
    assert hf.llen("l") == 2
    assert hf.lpop("l", 0) == []
    assert hf.lpop("l", 10) == [b"x", b"a"]
    assert hf.exists("l") == 0  # an emptied list is deleted
    assert hf.lpop("l") is None
    assert hf.lpop("l", 3) is None
    assert hf.lpushx("l", "a") == 0 and hf.rpushx("l", "a") == 0
    assert hf.exists("l") == 0
    hf.rpush("l", "a")
    assert hf.rpushx("l", "b", "c") == 3 and hf.lpushx("l", "z") == 4
    assert hf.type("l") == b"list"
    assert hf.object("encoding", "l") == b"quicklist"  # Redis 7.0: every list


def test_wrongtype_and_count_errors(hf):
    hf.set("s", "v")
    for call in (lambda: hf.lpush("s", "a"), lambda: hf.rpop("s"), lambda: hf.llen("s"),
                 lambda: hf.lrange("s", 0, 1), lambda: hf.lmove("s", "d"), lambda: hf.lpos("s", "a")):
        with pytest.raises(redis.ResponseError, match="WRONGTYPE"):
            call()
    hf.rpush("l", "a")
    with pytest.raises(redis.ResponseError, match="value is out of range, must be positive"):
        hf.lpop("l", -1)
    with pytest.raises(redis.ResponseError, match="no such key"):
        hf.lset("missing", 0, "a")
    with pytest.raises(redis.ResponseError, match="index out of range"):
        hf.lset("l", 5, "a")
    with pytest.raises(redis.ResponseError, match="WRONGTYPE"):
        hf.lmove("l", "s")  # destination of another type: nothing moves
    assert hf.lrange("l", 0, -1) == [b"a"]


def test_null_shapes_resp2_and_resp3(hf_server, hf):
    r2 = RawConn(hf_server.port, 2)
    r3 = RawConn(hf_server.port, 3)
    try:
        assert r2("LPOP", "nokey") == b"$-1\r\n" and r3("LPOP", "nokey") == b"_\r\n"
        assert r2("LPOP", "nokey", "2") == b"*-1\r\n" and r3("LPOP", "nokey", "2") == b"_\r\n"
        assert r2("LMPOP", "1", "nokey", "LEFT") == b"*-1\r\n" and r3("LMPOP", "1", "nokey", "LEFT") == b"_\r\n"
        assert r2("LPOS", "nokey", "a") == b"$-1\r\n" and r3("LPOS", "nokey", "a", "COUNT", "0") == b"*0\r\n"
        r2("RPUSH", "l", "a", "b")
        assert r3("LMPOP", "2", "nokey", "l", "RIGHT", "COUNT", "5") == b"*2\r\n$1\r\nl\r\n*2\r\n$1\r\nb\r\n$1\r\na\r\n"
    finally:
        r2.close()
        r3.close()


def test_ltrim_lrem_linsert_lpos(hf):
    hf.rpush("l", *range(200))
    hf.ltrim("l", 50, -51)  # the rebuild path (>64 removed)
    assert hf.lrange("l", 0, -1) == [b"%d" % i for i in range(50, 150)]
    hf.ltrim("l", 2, -3)  # the pop path
    assert hf.lrange("l", 0, 1) == [b"52", b"53"] and hf.llen("l") == 96
    hf.ltrim("l", 10, 5)
    assert hf.exists("l") == 0
    hf.rpush("l", "a", "b", "a", "c", "a")
    assert hf.lrem("l", -2, "a") == 2 and hf.lrange("l", 0, -1) == [b"a", b"b", b"c"]
    assert hf.lrem("l", 0, "zz") == 0
    assert hf.linsert("l", "BEFORE", "b", "x") == 4 and hf.linsert("l", "after", "c", "y") == 5
    assert hf.linsert("l", "AFTER", "nope", "y") == -1
    assert hf.lrange("l", 0, -1) == [b"a", b"x", b"b", b"c", b"y"]
    hf.rpush("p", "a", "b", "c", "b", "b")
    assert hf.lpos("p", "b") == 1 and hf.lpos("p", "b", rank=-1) == 4 and hf.lpos("p", "b", rank=2) == 3
    assert hf.lpos("p", "b", count=0) == [1, 3, 4] and hf.lpos("p", "b", rank=-2, count=0) == [3, 1]
    assert hf.lpos("p", "b", maxlen=2, count=0) == [1] and hf.lpos("p", "b", rank=-1, maxlen=1) == 4
    assert hf.lpos("p", "zz") is None


def test_big_list_ranges_match_a_model(hf):
    model = [b"e%d" % i for i in range(3000)]
    pipe = hf.pipeline(transaction=False)
    for i in range(0, 3000, 500):
        pipe.rpush("big", *model[i:i + 500])
    pipe.execute()
    rnd = random.Random(7)
    for _ in range(40):
        a, b = rnd.randint(-3500, 3500), rnd.randint(-3500, 3500)
        assert hf.lrange("big", a, b) == list_range(deque(model), a, b)
        assert list_range(deque(model), a, b) == _py_range(model, a, b)
    assert hf.lindex("big", -1) == b"e2999" and hf.lindex("big", 1500) == b"e1500"


def _py_range(model, start, end):
    n = len(model)
    start = start + n if start < 0 else start
    end = end + n if end < 0 else end
    start = max(start, 0)
    return model[start:end + 1] if start <= end else []


def test_moves(hf):
    hf.rpush("a", "1", "2", "3")
    assert hf.lmove("a", "b", "LEFT", "RIGHT") == b"1"
    assert hf.rpoplpush("a", "b") == b"3"
    assert hf.lmove("b", "b", "LEFT", "RIGHT") == b"3"  # rotation
    assert hf.lrange("b", 0, -1) == [b"1", b"3"]
    assert hf.lmove("a", "a", "RIGHT", "LEFT") == b"2"  # a one-element rotation keeps the key
    assert hf.lrange("a", 0, -1) == [b"2"]
    assert hf.lmove("a", "c", "RIGHT", "LEFT") == b"2"
    assert hf.exists("a") == 0 and hf.lrange("c", 0, -1) == [b"2"]
    assert hf.lmove("missing", "c", "LEFT", "LEFT") is None
    with pytest.raises(redis.ResponseError, match="syntax error"):
        hf.execute_command("LMOVE", "c", "d", "UP", "LEFT")


def test_writes_keep_ttl_and_watch_sees_them(hf_server, hf):
    hf.rpush("l", "a", "b")
    hf.expire("l", 100)
    hf.rpush("l", "c")
    hf.lpop("l")
    hf.lset("l", 0, "z")
    assert 0 < hf.ttl("l") <= 100  # in-place changes keep the TTL
    hf.delete("l")
    hf.rpush("l", "a")
    assert hf.ttl("l") == -1
    other = hf_server.client()
    try:
        for change in (lambda: other.rpush("l", "x"), lambda: other.lpop("l"), lambda: other.lrem("l", 0, "x"),
                       lambda: other.ltrim("l", 0, 0)):
            hf.rpush("l", "x")
            pipe = hf.pipeline()
            pipe.watch("l")
            change()
            pipe.multi()
            pipe.llen("l")
            with pytest.raises(redis.WatchError):
                pipe.execute()
    finally:
        other.close()


def test_lazily_expired_list_is_not_seen(hf):
    hf.rpush("l", "a")
    hf.pexpire("l", 20)
    time.sleep(0.05)
    assert hf.lpushx("l", "b") == 0
    assert hf.lpush("l", "c") == 1 and hf.ttl("l") == -1


def _propagated(r):
    try:
        r.execute_command("DEBUG", "PROPAGATED", "START")
    except redis.ResponseError as e:
        pytest.skip("DEBUG PROPAGATED is not there yet: %s" % e)


def test_propagation_is_the_plain_deterministic_form(holdfast_factory):
    r = holdfast_factory().client()
    _propagated(r)
    r.rpush("l", "a", "b", "c", "d")
    r.lpop("l", 2)
    r.lpop("missing", 2)  # no effect: nothing propagated
    r.execute_command("LMPOP", "2", "missing", "l", "RIGHT", "COUNT", "10")
    r.rpush("l", "a")
    r.ltrim("l", 0, 10)  # trims nothing: not propagated
    r.lrem("l", 0, "zz")
    r.linsert("l", "BEFORE", "zz", "x")
    r.lpos("l", "a")
    r.lmove("l", "m", "LEFT", "RIGHT")
    cmds = RequestParser().parse(r.execute_command("DEBUG", "PROPAGATED", "GET"))
    assert cmds == [[b"SELECT", b"0"], [b"RPUSH", b"l", b"a", b"b", b"c", b"d"], [b"LPOP", b"l", b"2"],
                    [b"RPOP", b"l", b"2"], [b"RPUSH", b"l", b"a"], [b"LMOVE", b"l", b"m", b"LEFT", b"RIGHT"]]


def test_big_and_empty_elements(hf):
    big = b"b" * 70000
    hf.rpush("l", "", big, "x" * 4095, "y" * 4096, "z")
    assert hf.lrange("l", 0, -1) == [b"", big, b"x" * 4095, b"y" * 4096, b"z"]
    assert hf.rpop("l", 3) == [b"z", b"y" * 4096, b"x" * 4095]
    assert hf.lindex("l", 1) == big and hf.lpos("l", big) == 1


def test_bulk_items_encodes_like_resp():
    rnd = random.Random(3)
    for _ in range(300):
        items = [b"x" * rnd.choice((0, 1, 9, 10, 4095, 4096, 5000)) for _ in range(rnd.randint(0, 6))]
        assert bulk_items(items) == resp.bulk_array(items)
        assert bulk_items(items, b"%3\r\n") == b"%3\r\n" + resp.bulk_array(items)[len(b"*%d\r\n" % len(items)):]


# ---- the cores the blocking commands call (in process) ----------------------------


@pytest.fixture
def srv():
    s = Server(Config())
    s.sink = MemorySink()
    s.add_propagation_target(s.sink)
    s.events = []
    s.notify_hook = lambda dbid, flag, event, key: s.events.append((flag, event, key))
    return s


def test_pop_from_propagates_plain_pops(srv):
    db = srv.keyspace.dbs[0]
    srv.keyspace.set(db, b"l", deque([b"a", b"b", b"c"]))
    srv.keyspace.set(db, b"s", b"str")
    assert pop_from(srv, db, b"l", HEAD) == b"a"
    assert pop_from(srv, db, b"l", TAIL, 10) == [b"c", b"b"]
    assert b"l" not in db.data
    assert pop_from(srv, db, b"l", HEAD) is None and pop_from(srv, db, b"s", HEAD) is None
    assert RequestParser().parse(srv.sink.getvalue())[1:] == [[b"LPOP", b"l"], [b"RPOP", b"l", b"2"]]
    assert srv.events == [(b"l", b"lpop", b"l"), (b"l", b"rpop", b"l"), (b"g", b"del", b"l")]


def test_move_from_checks_destination_type(srv):
    db = srv.keyspace.dbs[0]
    srv.keyspace.set(db, b"src", deque([b"a", b"b"]))
    srv.keyspace.set(db, b"s", b"str")
    assert move_from(srv, db, b"src", b"s", HEAD, TAIL, lmove_argv(b"src", b"s", HEAD, TAIL)) is WRONG
    assert list(db.data[b"src"]) == [b"a", b"b"]
    argv = [b"RPOPLPUSH", b"src", b"dst"]
    assert move_from(srv, db, b"src", b"dst", TAIL, HEAD, argv) == b"b"
    assert move_from(srv, db, b"nope", b"dst", TAIL, HEAD, argv) is None
    assert list(db.data[b"dst"]) == [b"b"]
    assert RequestParser().parse(srv.sink.getvalue())[1:] == [argv]
    assert srv.events == [(b"l", b"lpush", b"dst"), (b"l", b"rpop", b"src")]


def test_pushes_signal_blocked_clients(srv):
    db = srv.keyspace.dbs[0]
    seen = []
    srv.signal_key_as_ready = lambda db, key: seen.append(key)
    srv.keyspace.set(db, b"src", deque([b"a"]))
    move_from(srv, db, b"src", b"dst", HEAD, HEAD, None)
    assert seen == [b"dst"]


# ---- differential: the same scripts against redis-server 7.0 ----------------------

SCRIPTS = {
    "push_read": [
        ("RPUSH", "l", "a", "b", "c"), ("LPUSH", "l", "x", "y"), ("LRANGE", "l", "0", "-1"),
        ("LRANGE", "l", "-2", "-1"),
        ("LRANGE", "l", "1", "100"), ("LRANGE", "l", "5", "2"), ("LRANGE", "l", "-100", "-50"),
        ("LRANGE", "l", "-100", "100"), ("LRANGE", "l", "a", "1"), ("LRANGE", "l", "0", "1.5"),
        ("LRANGE", "missing", "0", "-1"), ("LRANGE", "missing", "a", "b"), ("LLEN", "l"), ("LLEN", "missing"),
        ("LINDEX", "l", "0"), ("LINDEX", "l", "-1"), ("LINDEX", "l", "100"), ("LINDEX", "l", "-100"),
        ("LINDEX", "l", "x"), ("LINDEX", "missing", "x"), ("LPUSHX", "missing", "a"), ("RPUSHX", "missing", "a"),
        ("EXISTS", "missing"), ("LPUSHX", "l", "z"), ("RPUSHX", "l", "z", "w"), ("LRANGE", "l", "0", "-1"),
        ("TYPE", "l"), ("OBJECT", "ENCODING", "l"), ("LPUSH", "l"), ("LRANGE", "l", "0"), ("LLEN",),
        ("LPUSH", "e", ""), ("LRANGE", "e", "0", "-1"), ("LINDEX", "l", "9223372036854775807"),
        ("LINDEX", "l", "-9223372036854775808"), ("LRANGE", "l", "-9223372036854775808", "9223372036854775807"),
        ("LINDEX", "l", "9223372036854775808"),
    ],
    "wrongtype": [
        ("SET", "s", "v"), ("RPUSH", "l", "a"), ("LPUSH", "s", "a"), ("RPUSH", "s", "a"), ("LPUSHX", "s", "a"),
        ("RPUSHX", "s", "a"), ("LPOP", "s"), ("RPOP", "s", "2"), ("LPOP", "s", "x"), ("LLEN", "s"),
        ("LRANGE", "s", "0", "1"), ("LRANGE", "s", "x", "1"), ("LINDEX", "s", "0"), ("LINDEX", "s", "x"),
        ("LSET", "s", "0", "a"), ("LSET", "s", "x", "a"), ("LREM", "s", "0", "a"), ("LREM", "s", "x", "a"),
        ("LTRIM", "s", "0", "1"), ("LINSERT", "s", "BEFORE", "a", "b"), ("LINSERT", "s", "AROUND", "a", "b"),
        ("LPOS", "s", "a"), ("LPOS", "s", "a", "RANK", "0"), ("LMOVE", "s", "l", "LEFT", "LEFT"),
        ("LMOVE", "l", "s", "LEFT", "LEFT"), ("LMOVE", "missing", "s", "LEFT", "LEFT"), ("RPOPLPUSH", "s", "l"),
        ("RPOPLPUSH", "l", "s"), ("LMPOP", "1", "s", "LEFT"), ("LMPOP", "2", "missing", "s", "LEFT"),
        ("LMPOP", "2", "l", "s", "LEFT"), ("LRANGE", "l", "0", "-1"), ("GET", "s"),
    ],
    "pops": [
        ("RPUSH", "l", "a", "b", "c", "d", "e"), ("LPOP", "l"), ("RPOP", "l"), ("LPOP", "l", "0"), ("LPOP", "l", "2"),
        ("RPOP", "l", "2"), ("LPOP", "l", "10"), ("EXISTS", "l"), ("LPOP", "l"), ("LPOP", "l", "1"), ("RPOP", "l", "0"),
        ("LPOP", "l", "-1"), ("LPOP", "l", "abc"), ("LPOP", "missing", "0"), ("RPOP", "missing", "-1"),
        ("RPUSH", "l", "a"), ("RPOP", "l", "100"), ("LPOP", "l", "1", "2"), ("RPOP", "l", "1", "2"), ("RPOP",),
        ("RPUSH", "l", "a", "b"), ("LPOP", "l", "9223372036854775807"), ("RPUSH", "l", "a"),
        ("LPOP", "l", "9223372036854775808"), ("LPOP", "l", "01"), ("LPOP", "l", "+1"), ("LPOP", "l", " 1"),
    ],
    "edits": [
        ("LSET", "missing", "0", "a"), ("LSET", "missing", "x", "a"), ("RPUSH", "l", "a", "b", "c", "a", "b", "a"),
        ("LSET", "l", "0", "z"), ("LSET", "l", "-1", "y"), ("LSET", "l", "10", "q"), ("LSET", "l", "-10", "q"),
        ("LSET", "l", "x", "q"), ("LRANGE", "l", "0", "-1"), ("LREM", "l", "0", "zz"), ("LREM", "l", "1", "b"),
        ("LREM", "l", "-1", "a"), ("LRANGE", "l", "0", "-1"), ("LREM", "l", "0", "a"), ("LREM", "l", "x", "a"),
        ("LRANGE", "l", "0", "-1"), ("LREM", "missing", "0", "a"), ("LREM", "missing", "x", "a"),
        ("LINSERT", "l", "BEFORE", "z", "pre"), ("LINSERT", "l", "AFTER", "y", "post"),
        ("LINSERT", "l", "after", "nope", "x"), ("LINSERT", "l", "middle", "z", "x"),
        ("LINSERT", "missing", "BEFORE", "a", "b"), ("LINSERT", "missing", "MIDDLE", "a", "b"),
        ("LRANGE", "l", "0", "-1"), ("LTRIM", "l", "1", "-2"), ("LRANGE", "l", "0", "-1"), ("LTRIM", "l", "0", "100"),
        ("LTRIM", "l", "-2", "-1"), ("LRANGE", "l", "0", "-1"), ("LTRIM", "l", "a", "1"),
        ("LTRIM", "missing", "0", "1"),
        ("LTRIM", "missing", "x", "1"), ("LTRIM", "l", "5", "1"), ("EXISTS", "l"),
        ("RPUSH", "l", "a", "b", "c"), ("LTRIM", "l", "-100", "-3"), ("LRANGE", "l", "0", "-1"),
        ("LTRIM", "l", "3", "10"), ("EXISTS", "l"), ("RPUSH", "l", "a", "b", "a", "a", "b", "a"),
        ("LREM", "l", "-2", "a"), ("LRANGE", "l", "0", "-1"), ("LREM", "l", "2", "a"), ("LRANGE", "l", "0", "-1"),
        ("LREM", "l", "0", "b"), ("EXISTS", "l"),
    ],
    "lpos": [
        ("RPUSH", "l", "a", "b", "c", "1", "2", "3", "c", "c"), ("LPOS", "l", "c"), ("LPOS", "l", "c", "RANK", "2"),
        ("LPOS", "l", "c", "RANK", "-1"), ("LPOS", "l", "c", "RANK", "-2"), ("LPOS", "l", "c", "COUNT", "0"),
        ("LPOS", "l", "c", "COUNT", "2"), ("LPOS", "l", "c", "COUNT", "0", "RANK", "-1"),
        ("LPOS", "l", "c", "MAXLEN", "3"), ("LPOS", "l", "c", "MAXLEN", "3", "COUNT", "0"),
        ("LPOS", "l", "c", "RANK", "-1", "MAXLEN", "2"), ("LPOS", "l", "c", "RANK", "-1", "MAXLEN", "1"),
        ("LPOS", "l", "c", "RANK", "0"), ("LPOS", "l", "c", "COUNT", "-1"), ("LPOS", "l", "c", "MAXLEN", "-1"),
        ("LPOS", "l", "c", "RANK", "x"), ("LPOS", "l", "c", "COUNT", "x"), ("LPOS", "l", "c", "MAXLEN", "x"),
        ("LPOS", "l", "c", "FOO", "1"), ("LPOS", "l", "c", "RANK"), ("LPOS", "missing", "c"),
        ("LPOS", "missing", "c", "COUNT", "0"), ("LPOS", "missing", "c", "RANK", "0"), ("LPOS", "l", "zz"),
        ("LPOS", "l", "zz", "COUNT", "3"), ("LPOS", "l", "c", "RANK", "10"), ("LPOS", "l", "c", "RANK", "-10"),
        ("LPOS", "l", "c", "RANK", "-9223372036854775808"), ("LPOS", "l", "c", "RANK", "9223372036854775807"),
        ("LPOS", "l", "c", "RANK", "-9223372036854775807", "COUNT", "0"),
        ("LPOS", "l", "c", "COUNT", "1", "COUNT", "0"),
        ("LPOS", "l", "c", "rank", "2", "count", "5", "maxlen", "0"), ("LPOS", "l", "c", "RANK", "2", "COUNT", "1"),
        ("LPOS", "l", "a", "RANK", "-1", "MAXLEN", "8"), ("LPOS", "l", "c", "MAXLEN", "100", "RANK", "-3"),
    ],
    "moves": [
        ("RPUSH", "a", "1", "2", "3"), ("LMOVE", "a", "b", "LEFT", "RIGHT"), ("LMOVE", "a", "b", "RIGHT", "LEFT"),
        ("LMOVE", "a", "a", "LEFT", "RIGHT"), ("LRANGE", "a", "0", "-1"), ("LMOVE", "a", "b", "UP", "LEFT"),
        ("LMOVE", "a", "b", "left", "UP"), ("LMOVE", "a", "b", "left", "right"),
        ("LMOVE", "missing", "b", "LEFT", "LEFT"),
        ("LMOVE", "missing", "b", "UP", "LEFT"), ("RPOPLPUSH", "a", "b"), ("EXISTS", "a"), ("LRANGE", "b", "0", "-1"),
        ("RPOPLPUSH", "b", "b"), ("LRANGE", "b", "0", "-1"), ("RPUSH", "one", "x"),
        ("LMOVE", "one", "one", "LEFT", "LEFT"),
        ("LRANGE", "one", "0", "-1"), ("RPOPLPUSH", "missing", "one"), ("LRANGE", "one", "0", "-1"),
    ],
    "lmpop": [
        ("RPUSH", "a", "1", "2", "3"), ("RPUSH", "b", "x"), ("LMPOP", "2", "a", "b", "LEFT"),
        ("LMPOP", "2", "b", "a", "RIGHT", "COUNT", "10"), ("LMPOP", "2", "a", "b", "RIGHT", "COUNT", "10"),
        ("LMPOP", "0", "a", "LEFT"), ("LMPOP", "-1", "a", "LEFT"), ("LMPOP", "x", "a", "LEFT"),
        ("LMPOP", "3", "a", "b", "LEFT"), ("LMPOP", "1", "a", "MIDDLE"), ("LMPOP", "1", "a", "LEFT", "COUNT", "0"),
        ("LMPOP", "1", "a", "LEFT", "COUNT", "-1"), ("LMPOP", "1", "a", "LEFT", "COUNT", "x"),
        ("LMPOP", "1", "a", "LEFT", "COUNT", "1", "COUNT", "2"), ("LMPOP", "1", "a", "LEFT", "FOO"),
        ("LMPOP", "1", "a", "LEFT", "COUNT"), ("LMPOP", "2", "missing1", "missing2", "LEFT"),
        ("RPUSH", "a", "1", "2"), ("LMPOP", "1", "a", "left", "count", "1"), ("LMPOP", "1", "a", "right"),
        ("LMPOP", "1", "a", "LEFT"), ("LMPOP", "1", "a"),
    ],
}


@pytest.fixture(params=[2, 3], ids=["resp2", "resp3"])
def pair(request, hf_server, real_redis_server):
    a = RawConn(hf_server.port, request.param)
    b = RawConn(real_redis_server.port, request.param)
    a("FLUSHALL")
    b("FLUSHALL")
    yield a, b
    a.close()
    b.close()


def same_dataset(pair):
    """DEBUG DIGEST is Redis's own dataset fingerprint: equal digests, equal
    contents (lists in order, hashes field by field)."""
    a, b = pair
    da, db = a("DEBUG", "DIGEST"), b("DEBUG", "DIGEST")
    assert da == db, "dataset digests differ: holdfast %r, redis %r" % (da, db)


def run_script(pair, script):
    a, b = pair
    for cmd in script:
        ra, rb = a(*cmd), b(*cmd)
        assert ra == rb, "command %r: holdfast %r != redis %r" % (cmd, ra, rb)


@pytest.mark.interop
@pytest.mark.parametrize("name", sorted(SCRIPTS))
def test_script_matches_redis(pair, name):
    run_script(pair, SCRIPTS[name])
    same_dataset(pair)


@pytest.mark.interop
def test_long_list_ranges_match_redis(pair):
    elems = ["v%d" % i for i in range(300)]
    script = [("RPUSH", "big") + tuple(elems)]
    for a, b in ((-5, -1), (250, 260), (-300, 5), (0, 299), (290, -1), (-1, -300), (150, 149), (-160, -150)):
        script += [("LRANGE", "big", str(a), str(b)), ("LINDEX", "big", str(a))]
    script += [("LPOS", "big", "v7", "RANK", "-1"), ("LTRIM", "big", "70", "-70"), ("LRANGE", "big", "0", "-1"),
               ("LTRIM", "big", "3", "-4"), ("LRANGE", "big", "0", "-1"), ("RPOP", "big", "10"), ("LPOP", "big", "10")]
    run_script(pair, script)


def _random_command(rnd):
    keys = ("k1", "k2", "k3", "s")
    k = rnd.choice(keys)
    e = lambda: rnd.choice("abcde")  # noqa: E731
    idx = lambda: str(rnd.randint(-8, 8))  # noqa: E731
    side = lambda: rnd.choice(("LEFT", "RIGHT"))  # noqa: E731
    return rnd.choice([
        lambda: ("LPUSH", k) + tuple(e() for _ in range(rnd.randint(1, 4))),
        lambda: ("RPUSH", k) + tuple(e() for _ in range(rnd.randint(1, 4))),
        lambda: (rnd.choice(("LPUSHX", "RPUSHX")), k, e()),
        lambda: (rnd.choice(("LPOP", "RPOP")), k),
        lambda: (rnd.choice(("LPOP", "RPOP")), k, str(rnd.randint(0, 4))),
        lambda: ("LRANGE", k, idx(), idx()),
        lambda: ("LINDEX", k, idx()),
        lambda: ("LSET", k, idx(), e()),
        lambda: ("LREM", k, str(rnd.randint(-3, 3)), e()),
        lambda: ("LTRIM", k, idx(), idx()),
        lambda: ("LINSERT", k, rnd.choice(("BEFORE", "AFTER")), e(), e()),
        lambda: ("LPOS", k, e(), "RANK", rnd.choice(("1", "2", "-1", "-2")), "COUNT", str(rnd.randint(0, 3))),
        lambda: ("LPOS", k, e(), "MAXLEN", str(rnd.randint(0, 5))),
        lambda: ("LMOVE", k, rnd.choice(keys), side(), side()),
        lambda: ("RPOPLPUSH", k, rnd.choice(keys)),
        lambda: ("LMPOP", "2", k, rnd.choice(keys), side(), "COUNT", str(rnd.randint(1, 3))),
        lambda: ("LLEN", k),
        lambda: ("EXISTS", k),
        lambda: ("SET", "s", "x"),
        lambda: ("DEL", k),
    ])()


@pytest.mark.interop
@pytest.mark.parametrize("seed", range(4))
def test_random_sequences_match_redis(pair, seed):
    rnd = random.Random(seed)
    script = [_random_command(rnd) for _ in range(250)]
    script += [("LRANGE", k, "0", "-1") for k in ("k1", "k2", "k3")]
    run_script(pair, script)
    same_dataset(pair)


@pytest.mark.interop
def test_keyspace_events_match_redis(holdfast_factory, redis_factory):
    """The same commands publish the same keyevent notifications, in order."""
    script = [("RPUSH", "l", "a", "b", "c"), ("LPUSH", "l", "z"), ("LPOP", "l", "2"), ("LSET", "l", "0", "q"),
              ("LINSERT", "l", "BEFORE", "q", "p"), ("LREM", "l", "0", "p"), ("LREM", "l", "0", "zz"),
              ("LTRIM", "l", "0", "10"), ("LMOVE", "l", "m", "LEFT", "RIGHT"), ("RPOPLPUSH", "l", "m"),
              ("LMPOP", "1", "m", "RIGHT", "COUNT", "5"), ("RPUSH", "t", "x"), ("LTRIM", "t", "1", "0"),
              ("LPUSHX", "t", "x"), ("RPUSH", "t", "x", "y"), ("RPOP", "t", "5")]
    seen = []
    for factory in (holdfast_factory, redis_factory):
        r = factory("--notify-keyspace-events", "KEA").client()
        p = r.pubsub()
        p.psubscribe("__key*__:*", "done")
        for _ in range(2):
            assert p.get_message(timeout=5)["type"] == "psubscribe"
        for cmd in script:
            r.execute_command(*cmd)
        r.execute_command("PUBLISH", "done", "x")  # a marker: everything before it is delivered
        got = []
        while True:
            m = p.get_message(timeout=5)
            assert m is not None
            if m["type"] == "pmessage" and m["channel"] == b"done":
                break
            got.append((m["channel"], m["data"]))
        seen.append(got)
        p.close()
    assert seen[0] == seen[1]
