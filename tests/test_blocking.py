"""Blocking list commands (BLPOP BRPOP BLMOVE BRPOPLPUSH BLMPOP; the sorted-set
ones are in test_blocking_zsets.py, the in-process core in
test_blocking_core.py): served at once like their non-blocking forms, woken by other
clients in arrival order, timeouts, MULTI, CLIENT UNBLOCK, INFO, clients
that disconnect while blocked, what they propagate, and every reply shape
compared byte for byte with Debian's redis-server 7.0.

Several raw connections per test: one blocks, others push. Timeouts are
0.1-0.5 s; a "still blocked" check waits 0.15 s for a reply that must not
come.
"""

import time

import pytest
from blockconn import NEGATIVE, NOT_FLOAT, WRONGTYPE, arr, blocked_ids, bulk, connect, enc, make_conns, stream
from rawresp import RawConn


@pytest.fixture
def conns(hf_server):
    yield from make_conns(hf_server)


# ---- served at once ---------------------------------------------------------------


def test_served_at_once_like_the_plain_pops_and_propagated_as_them(conns):
    (a,) = conns(1)
    ctl = conns.ctl
    ctl("DEBUG", "PROPAGATED", "START")
    ctl("RPUSH", "l", "a", "b", "c", "d", "e")
    assert a("BLPOP", "none", "l", "0") == arr(bulk(b"l"), bulk(b"a"))
    assert a("BRPOP", "l", "1") == arr(bulk(b"l"), bulk(b"e"))
    assert a("BLMPOP", "0", "2", "none", "l", "LEFT", "COUNT", "10") == arr(bulk(b"l"), arr(bulk(b"b"), bulk(b"c"),
                                                                                          bulk(b"d")))
    ctl("RPUSH", "l", "x", "y")
    assert a("BLMOVE", "l", "dst", "right", "Left", "0") == bulk(b"y")
    assert a("BRPOPLPUSH", "l", "dst", "0") == bulk(b"x")
    assert ctl("LRANGE", "dst", "0", "-1") == arr(bulk(b"x"), bulk(b"y"))
    assert ctl("EXISTS", "l") == b":0\r\n"
    assert stream(ctl) == [
        ["RPUSH", "l", "a", "b", "c", "d", "e"],
        ["LPOP", "l"],
        ["RPOP", "l"],
        ["LPOP", "l", "3"],  # the number really popped
        ["RPUSH", "l", "x", "y"],
        ["LMOVE", "l", "dst", "right", "Left"],  # the sides as the client wrote them
        ["RPOPLPUSH", "l", "dst"],
    ]


def test_wrongtype_and_argument_errors(conns):
    (a,) = conns(1)
    a("SET", "s", "v")
    a("RPUSH", "l", "x")
    assert a("BLPOP", "none", "s", "l", "0") == WRONGTYPE  # the first key that exists decides
    assert a("BLMOVE", "s", "d", "LEFT", "LEFT", "0") == WRONGTYPE
    assert a("BLMOVE", "l", "s", "LEFT", "LEFT", "0") == WRONGTYPE
    assert a("LRANGE", "l", "0", "-1") == arr(bulk(b"x"))  # nothing moved
    assert a("BLMPOP", "0", "1", "s", "LEFT") == WRONGTYPE
    assert a("BLPOP", "l", "-1") == NEGATIVE  # the timeout is checked before the keys
    assert a("BLPOP", "l", "x") == NOT_FLOAT
    assert a("BLMOVE", "l", "d", "UP", "LEFT", "x") == b"-ERR syntax error\r\n"  # sides before the timeout
    assert a("BLMPOP", "x", "0", "l", "LEFT") == b"-ERR numkeys should be greater than 0\r\n"
    assert a("BLMPOP", "x", "1", "l", "LEFT", "COUNT", "0") == b"-ERR count should be greater than 0\r\n"
    assert a("BLMPOP", "x", "1", "l", "LEFT") == NOT_FLOAT
    assert a("BLPOP", "l") == b"-ERR wrong number of arguments for 'blpop' command\r\n"


@pytest.mark.parametrize("timeout, reply", [
    ("-1", NEGATIVE), ("-0.5", NEGATIVE), ("inf", NEGATIVE), ("-inf", NEGATIVE), ("1e400", NEGATIVE),
    ("9223372036854775807", NEGATIVE), ("abc", NOT_FLOAT), ("", NOT_FLOAT), (" 1", NOT_FLOAT),
    ("1 ", NOT_FLOAT), ("nan", NOT_FLOAT), ("1e-5000", NOT_FLOAT), ("1e5000", NOT_FLOAT), ("1_0", NOT_FLOAT),
])
def test_timeout_argument(conns, timeout, reply):
    (a,) = conns(1)
    assert a("BLPOP", "k", timeout) == reply


@pytest.mark.parametrize("timeout", ["0", "-0", "0.0001", "-0.0001", "0x10", "+5", "1e3"])
def test_timeouts_that_block(conns, timeout):
    """Redis truncates seconds*1000 toward zero: 0.0001 and -0.0001 wait forever."""
    a, b = conns(2)
    a.block("BLPOP", "k", timeout)
    assert a.recv(0.15) is None
    b("RPUSH", "k", "v")
    assert a.recv() == arr(bulk(b"k"), bulk(b"v"))


# ---- timeouts ------------------------------------------------------------------------


@pytest.mark.parametrize("proto", [2, 3])
def test_timeout_replies(conns, proto):
    (a,) = conns(1, proto)
    null_array = b"*-1\r\n" if proto == 2 else b"_\r\n"
    for cmd in (("BLPOP", "k", "k2", "0.1"), ("BRPOP", "k", "0.1"), ("BLMPOP", "0.1", "1", "k", "LEFT"),
                ("BLMOVE", "k", "d", "LEFT", "RIGHT", "0.1"), ("BRPOPLPUSH", "k", "d", "0.1")):
        t0 = time.monotonic()
        a.send(*cmd)
        assert a.recv() == null_array, cmd  # even BLMOVE: a null array, as Redis 7.0
        took = time.monotonic() - t0
        assert 0.1 <= took < 0.5, (cmd, took)


def test_timeouts_fire_in_deadline_order_not_arrival_order(conns):
    a, b = conns(2)
    a.send("BLPOP", "k", "0.4")
    b.send("BLPOP", "k", "0.1")
    assert b.recv() == b"*-1\r\n"
    assert a.recv(0.1) is None
    assert a.recv() == b"*-1\r\n"


# ---- woken by other clients -------------------------------------------------------------


def test_push_from_another_client_wakes_and_propagates_push_then_pop(conns):
    a, b = conns(2)
    ctl = conns.ctl
    ctl("DEBUG", "PROPAGATED", "START")
    a.block("BLPOP", "k1", "k2", "0")
    assert b("RPUSH", "k2", "x", "y") == b":2\r\n"
    assert a.recv() == arr(bulk(b"k2"), bulk(b"x"))
    assert ctl("LRANGE", "k2", "0", "-1") == arr(bulk(b"y"))
    a.block("BRPOP", "k1", "0")
    b("LPUSH", "k1", "only")
    assert a.recv() == arr(bulk(b"k1"), bulk(b"only"))
    assert ctl("EXISTS", "k1") == b":0\r\n"
    assert stream(ctl) == [["RPUSH", "k2", "x", "y"], ["LPOP", "k2"], ["LPUSH", "k1", "only"], ["RPOP", "k1"]]


def test_three_waiters_served_in_arrival_order(conns):
    w1, w2, w3, p = conns(4)
    w1.block("BLPOP", "q", "0")
    w2.block("BRPOP", "q", "0")  # each pops from its own side
    w3.block("BLPOP", "other", "q", "0")
    p("RPUSH", "q", "1", "2", "3", "4")
    assert w1.recv() == arr(bulk(b"q"), bulk(b"1"))
    assert w2.recv() == arr(bulk(b"q"), bulk(b"4"))
    assert w3.recv() == arr(bulk(b"q"), bulk(b"2"))
    assert p("LRANGE", "q", "0", "-1") == arr(bulk(b"3"))


def test_fewer_elements_than_waiters(conns):
    w1, w2, w3, p = conns(4)
    for w in (w1, w2, w3):
        w.block("BLPOP", "q", "0")
    p("RPUSH", "q", "1", "2")
    assert w1.recv() == arr(bulk(b"q"), bulk(b"1"))
    assert w2.recv() == arr(bulk(b"q"), bulk(b"2"))
    assert w3.recv(0.15) is None
    assert b"id=%d " % w3.cid in blocked_ids(p)
    p("RPUSH", "q", "3")
    assert w3.recv() == arr(bulk(b"q"), bulk(b"3"))
    assert p("EXISTS", "q") == b":0\r\n"


def test_blmpop_served_later_pops_up_to_count(conns):
    a, b = conns(2)
    ctl = conns.ctl
    ctl("DEBUG", "PROPAGATED", "START")
    a.block("BLMPOP", "0", "2", "m1", "m2", "RIGHT", "COUNT", "10")
    b("RPUSH", "m2", "1", "2", "3")
    assert a.recv() == arr(bulk(b"m2"), arr(bulk(b"3"), bulk(b"2"), bulk(b"1")))
    a.block("BLMPOP", "0", "1", "m1", "LEFT", "COUNT", "2")
    b("RPUSH", "m1", "1", "2", "3")
    assert a.recv() == arr(bulk(b"m1"), arr(bulk(b"1"), bulk(b"2")))
    assert stream(ctl) == [["RPUSH", "m2", "1", "2", "3"], ["RPOP", "m2", "3"],
                           ["RPUSH", "m1", "1", "2", "3"], ["LPOP", "m1", "2"]]


def test_blmove_served_later_and_chained_to_a_waiter_on_its_destination(conns):
    a, b, p = conns(3)
    ctl = conns.ctl
    ctl("DEBUG", "PROPAGATED", "START")
    a.block("BLMOVE", "src", "mid", "RIGHT", "LEFT", "0")
    b.block("BLPOP", "mid", "0")
    p("LPUSH", "src", "v")
    assert a.recv() == bulk(b"v")
    assert b.recv() == arr(bulk(b"mid"), bulk(b"v"))
    a.block("BRPOPLPUSH", "src", "dst", "0")
    p("RPUSH", "src", "w")
    assert a.recv() == bulk(b"w")
    assert p("LRANGE", "dst", "0", "-1") == arr(bulk(b"w"))
    # Served later, Redis writes the sides in lower case.
    assert stream(ctl) == [["LPUSH", "src", "v"], ["LMOVE", "src", "mid", "right", "left"], ["LPOP", "mid"],
                           ["RPUSH", "src", "w"], ["RPOPLPUSH", "src", "dst"]]


def test_blmove_onto_a_destination_of_another_type_is_woken_with_wrongtype(conns):
    a, p = conns(2)
    p("SET", "dst", "str")
    a.block("BLMOVE", "src", "dst", "LEFT", "LEFT", "0")
    p("LPUSH", "src", "x")
    assert a.recv() == WRONGTYPE
    assert p("LRANGE", "src", "0", "-1") == arr(bulk(b"x"))  # nothing moved
    assert b"flags=b" not in blocked_ids(p)


def test_key_of_another_type_does_not_serve_and_waiter_stays(conns):
    a, p = conns(2)
    a.block("BLPOP", "k", "0")
    p("SET", "k", "str")
    p("DEL", "k")
    p("SADD", "k", "m")  # a set: nothing for a list waiter
    assert a.recv(0.15) is None
    p("DEL", "k")
    p("RPUSH", "k", "v")
    assert a.recv() == arr(bulk(b"k"), bulk(b"v"))


def test_keys_arriving_by_rename_copy_move_swapdb_wake_waiters(conns):
    a, p = conns(2)
    for how in ("RENAME", "COPY"):
        a.block("BLPOP", "dst", "0")
        p("RPUSH", "tmp", how)
        p(how, "tmp", "dst")
        assert a.recv() == arr(bulk(b"dst"), bulk(how.encode())), how
        p("DEL", "tmp")
    a.block("BLPOP", "dst", "0")
    p("SELECT", "1")
    p("RPUSH", "dst", "from-db1")
    p("MOVE", "dst", "0")
    assert a.recv() == arr(bulk(b"dst"), bulk(b"from-db1"))
    a.block("BLPOP", "dst", "0")
    p("RPUSH", "dst", "swapped")
    p("SWAPDB", "0", "1")
    assert a.recv() == arr(bulk(b"dst"), bulk(b"swapped"))


def test_multi_pushes_serve_after_exec_from_the_first_key_signalled(conns):
    a, p = conns(2)
    ctl = conns.ctl
    ctl("DEBUG", "PROPAGATED", "START")
    a.block("BLPOP", "k1", "k2", "0")
    p("MULTI")
    p("LPUSH", "k2", "b")
    p("LPUSH", "k1", "a")
    assert p("EXEC") == arr(b":1\r\n", b":1\r\n")
    assert a.recv() == arr(bulk(b"k2"), bulk(b"b"))
    # Pushed and popped inside one transaction: nothing left to serve.
    a.block("BLPOP", "q", "0")
    p("MULTI")
    p("LPUSH", "q", "x")
    p("LPOP", "q")
    p("EXEC")
    assert a.recv(0.15) is None
    assert stream(ctl) == [["MULTI"], ["LPUSH", "k2", "b"], ["LPUSH", "k1", "a"], ["EXEC"], ["LPOP", "k2"],
                           ["MULTI"], ["LPUSH", "q", "x"], ["LPOP", "q"], ["EXEC"]]


@pytest.mark.parametrize("proto", [2, 3])
def test_inside_multi_they_do_not_block(conns, proto):
    (a,) = conns(1, proto)
    a("MULTI")
    for cmd in (("BLPOP", "nk", "0"), ("BLMOVE", "nk", "d", "LEFT", "LEFT", "0"), ("BRPOPLPUSH", "nk", "d", "0"),
                ("BLMPOP", "0", "1", "nk", "LEFT"), ("RPUSH", "l", "v"), ("BLPOP", "l", "0")):
        assert a(*cmd) == b"+QUEUED\r\n"
    if proto == 2:
        want = arr(b"*-1\r\n", b"$-1\r\n", b"$-1\r\n", b"*-1\r\n", b":1\r\n", arr(bulk(b"l"), bulk(b"v")))
    else:
        want = arr(b"_\r\n", b"_\r\n", b"_\r\n", b"_\r\n", b":1\r\n", arr(bulk(b"l"), bulk(b"v")))
    assert a("EXEC") == want


# ---- pipelines, CLIENT UNBLOCK, INFO, disconnects ---------------------------------------


def test_commands_pipelined_behind_a_blocked_one_run_after_it(conns):
    a, p = conns(2)
    a.sock.sendall(enc(["BLPOP", "q", "0"]) + enc(["PING"]) + enc(["RPUSH", "q2", "mine"]) +
                   enc(["ECHO", "hi"]))
    assert a.recv(0.15) is None
    assert p("EXISTS", "q2") == b":0\r\n"  # not run yet
    p("RPUSH", "q", "z")
    assert a.recv() == arr(bulk(b"q"), bulk(b"z"))
    assert a.recv() == b"+PONG\r\n"
    assert a.recv() == b":1\r\n"
    assert a.recv() == bulk(b"hi")


def test_pipelined_push_of_a_woken_client_wakes_the_next(conns):
    """A woken client's pipelined RPUSH feeds a second waiter, and a second
    blocking command in its pipeline blocks again."""
    a, b, p = conns(3)
    b.block("BLPOP", "relay", "0")
    a.sock.sendall(enc(["BLPOP", "q", "0"]) + enc(["RPUSH", "relay", "r"]) + enc(["BLPOP", "q", "0"]) +
                   enc(["PING"]))
    a.wait_blocked()
    p("RPUSH", "q", "1")
    assert a.recv() == arr(bulk(b"q"), bulk(b"1"))
    assert a.recv() == b":1\r\n"
    assert b.recv() == arr(bulk(b"relay"), bulk(b"r"))
    assert a.recv(0.15) is None  # blocked again, PING behind it
    p("RPUSH", "q", "2")
    assert a.recv() == arr(bulk(b"q"), bulk(b"2"))
    assert a.recv() == b"+PONG\r\n"


def test_client_unblock(conns):
    a, p = conns(2)
    cid = a.cid
    a.block("BLPOP", "q", "0")
    assert p("CLIENT", "UNBLOCK", cid) == b":1\r\n"
    assert a.recv() == b"*-1\r\n"  # as a timeout
    p("CONFIG", "RESETSTAT")
    a.block("BLMOVE", "q", "d", "LEFT", "LEFT", "0")
    a.send("PING")
    assert p("CLIENT", "UNBLOCK", cid, "ERROR") == b":1\r\n"
    assert a.recv() == b"-UNBLOCKED client unblocked via CLIENT UNBLOCK\r\n"
    assert a.recv() == b"+PONG\r\n"  # what it pipelined runs after
    # Counted as an error reply of BLMOVE, as Redis does.
    assert b"errorstat_UNBLOCKED:count=1" in p("INFO", "errorstats")
    assert b"cmdstat_blmove:calls=1," in p("INFO", "commandstats")
    assert b"failed_calls=1" in [ln for ln in p("INFO", "commandstats").split(b"\r\n") if b"blmove" in ln][0]
    assert p("CLIENT", "UNBLOCK", cid) == b":0\r\n"  # not blocked
    assert p("CLIENT", "UNBLOCK", "999999") == b":0\r\n"
    assert p("CLIENT", "UNBLOCK", cid, "foo") == b"-ERR CLIENT UNBLOCK reason should be TIMEOUT or ERROR\r\n"
    # Unblocked, it left the queue: a push is not taken by it.
    p("RPUSH", "q", "v")
    assert p("LLEN", "q") == b":1\r\n"


def _info_field(ctl, name):
    for line in ctl("INFO", "clients").split(b"\r\n"):
        if line.startswith(name.encode() + b":"):
            return int(line.split(b":")[1])
    raise AssertionError(name)


def test_info_blocked_clients_and_disconnect_while_blocked(conns):
    a, b, p = conns(3)
    assert _info_field(p, "blocked_clients") == 0
    a.block("BLPOP", "q", "0")
    b.block("BLMOVE", "q", "d", "LEFT", "LEFT", "5")
    assert _info_field(p, "blocked_clients") == 2
    a.close()
    for _ in range(100):
        if _info_field(p, "blocked_clients") == 1:
            break
        time.sleep(0.01)
    assert _info_field(p, "blocked_clients") == 1
    p("RPUSH", "q", "v")  # the closed client is not served; b is
    assert b.recv() == bulk(b"v")
    assert _info_field(p, "blocked_clients") == 0
    assert p("LRANGE", "d", "0", "-1") == arr(bulk(b"v"))


def test_client_list_shows_blocked_flag_and_kill_while_blocked(conns):
    a, p = conns(2)
    a.block("BRPOP", "q", "0")
    assert b"id=%d " % a.cid in blocked_ids(p)
    assert p("CLIENT", "KILL", "ID", a.cid) == b":1\r\n"
    assert _info_field(p, "blocked_clients") == 0
    p("RPUSH", "q", "v")
    assert p("LLEN", "q") == b":1\r\n"


# ---- against redis-server 7.0 ---------------------------------------------------------------

_SHAPES = [
    ("BLPOP", "k", "0.05"), ("BRPOP", "k", "k2", "0.05"),
    ("BLMOVE", "k", "d", "LEFT", "RIGHT", "0.05"), ("BRPOPLPUSH", "k", "d", "0.05"),
    ("BLMPOP", "0.05", "1", "k", "LEFT"), ("BLMPOP", "0.05", "2", "k", "k2", "RIGHT", "COUNT", "3"),
    ("BLMOVE", "k", "d", "UP", "RIGHT", "x"), ("BLMOVE", "k", "d", "LEFT", "RIGHT", "x"),
    ("BLMPOP", "x", "1", "k", "LEFTX"), ("BLMPOP", "x", "0", "k", "LEFT"), ("BLMPOP", "-1", "1", "k", "LEFT"),
    ("BLMPOP", "x", "1", "k", "LEFT"), ("BLMPOP", "1", "1", "k", "LEFT", "COUNT", "0"),
    ("BLMPOP", "1", "1", "k", "LEFT", "COUNT"), ("BLMPOP", "1", "5", "k", "LEFT"),
    ("BLMPOP", "1", "1", "k", "LEFT", "COUNT", "1", "COUNT", "1"),
    ("BLPOP", "k", "-1"), ("BLPOP", "k", "abc"), ("BLPOP", "k", "inf"), ("BLPOP", "k", "1e5000"),
    ("SET", "s", "v"), ("BLPOP", "k", "s", "0.05"), ("BLPOP", "s", "x"), ("BLMOVE", "s", "d", "LEFT", "LEFT", "0"),
    ("BLMPOP", "0", "1", "s", "LEFT"), ("BRPOPLPUSH", "s", "d", "0"),
    ("RPUSH", "k", "a", "b", "c"), ("BLMOVE", "k", "s", "LEFT", "RIGHT", "0"),
    ("BLPOP", "k", "0"), ("BRPOP", "k2", "k", "0"), ("BLMPOP", "0", "2", "k2", "k", "LEFT", "COUNT", "5"),
    ("RPUSH", "k", "a", "b", "c"), ("BLMOVE", "k", "d", "left", "right", "0"), ("BRPOPLPUSH", "k", "d", "0"),
    ("BLMOVE", "k", "k", "LEFT", "RIGHT", "0"), ("LRANGE", "k", "0", "-1"),
    ("MULTI",), ("BLPOP", "nk", "0"), ("BLMOVE", "nk", "d", "LEFT", "LEFT", "0"), ("BRPOPLPUSH", "nk", "d", "0"),
    ("BLMPOP", "0", "1", "nk", "LEFT"), ("BLMPOP", "0", "1", "k", "RIGHT"), ("EXEC",),
]


@pytest.mark.parametrize("proto", [2, 3])
def test_reply_shapes_match_redis(hf_server, real_redis_server, proto):
    hf = RawConn(hf_server.port, proto)
    rr = RawConn(real_redis_server.port, proto)
    try:
        for conn in (hf, rr):
            conn("FLUSHALL")
        for cmd in _SHAPES:
            assert hf(*cmd) == rr(*cmd), cmd
    finally:
        hf.close()
        rr.close()


# Scenarios run on both servers: ("block", i, cmd...) parks waiter i,
# ("run", cmd...) runs a command on the pushing connection, ("recv", i)
# takes waiter i's reply, ("quiet", i) checks it has none (0.15 s).
_SCENARIOS = {
    "move_then_mpop": [
        ("block", 0, "BLMOVE", "src", "dst", "LEFT", "RIGHT", "0"),
        ("block", 1, "BLMPOP", "0", "2", "m", "src", "RIGHT", "COUNT", "5"),
        ("run", "RPUSH", "src", "1", "2", "3"), ("recv", 0), ("recv", 1),
        ("run", "SET", "dst", "x"), ("block", 0, "BRPOPLPUSH", "src", "dst", "0"),
        ("run", "RPUSH", "src", "4"), ("recv", 0), ("run", "LRANGE", "src", "0", "-1"),
    ],
    "same_key_move_then_pop": [
        ("block", 0, "BLMOVE", "s", "s", "LEFT", "RIGHT", "0"), ("block", 1, "BLPOP", "s", "0"),
        ("run", "LPUSH", "s", "1"), ("recv", 0), ("recv", 1), ("run", "EXISTS", "s"),
    ],
    "two_keys_one_exec": [
        ("block", 0, "BLPOP", "x", "y", "0"), ("block", 1, "BLPOP", "y", "0"),
        ("run", "MULTI"), ("run", "RPUSH", "x", "1"), ("run", "RPUSH", "y", "2"), ("run", "EXEC"),
        ("recv", 0), ("recv", 1),
    ],
    "mpop_counts_share": [
        ("block", 0, "BLMPOP", "0", "1", "m", "LEFT", "COUNT", "2"),
        ("block", 1, "BLMPOP", "0", "1", "m", "LEFT", "COUNT", "2"),
        ("run", "RPUSH", "m", "1", "2", "3"), ("recv", 0), ("recv", 1),
    ],
    "move_source_becomes_zset": [
        ("block", 0, "BLMOVE", "zz", "d", "LEFT", "LEFT", "0"), ("run", "ZADD", "zz", "1", "m"), ("quiet", 0),
        ("run", "DEL", "zz"), ("run", "RPUSH", "zz", "x"), ("recv", 0),
    ],
    "zset_and_list_waiters": [
        ("block", 0, "BZPOPMAX", "k", "0"), ("block", 1, "BLPOP", "k", "0"),
        ("run", "RPUSH", "k", "v"), ("recv", 1), ("quiet", 0),
        ("run", "ZADD", "k", "1", "a", "2", "b"), ("recv", 0), ("run", "ZRANGE", "k", "0", "-1"),
    ],
}


@pytest.mark.parametrize("name", sorted(_SCENARIOS))
def test_served_later_matches_redis(hf_server, real_redis_server, name):
    """The same waiters and pushes on both servers: the same replies to
    every client, byte for byte."""
    out = []
    for srv in (hf_server, real_redis_server):
        p = RawConn(srv.port)
        w = [connect(srv.port, p) for _ in range(2)]
        p("FLUSHALL")
        got = []
        for step in _SCENARIOS[name]:
            if step[0] == "block":
                w[step[1]].block(*step[2:])
            elif step[0] == "run":
                got.append(("run", p(*step[1:])))
            elif step[0] == "recv":
                got.append(("recv", w[step[1]].recv()))
            else:
                got.append(("quiet", w[step[1]].recv(0.15)))
        for x in w + [p]:
            x.close()
        out.append(got)
    assert out[0] == out[1]
    assert all(v is not None for kind, v in out[0] if kind == "recv")
