"""DEBUG: SLEEP, SET-ACTIVE-EXPIRE, LOG, OBJECT, DIGEST, DIGEST-VALUE,
POPULATE, HELP -- digests and DEBUG OBJECT compared with Debian's
redis-server 7.0 loaded with the same data."""

import re
import socket
import time

import pytest
import redis
from rawresp import RawConn


def port_of(r):
    return r.connection_pool.connection_kwargs["port"]


@pytest.fixture
def both(hf, rr):
    a, b = RawConn(port_of(hf)), RawConn(port_of(rr))
    yield a, b
    a.close()
    b.close()


def run_both(both, commands):
    for args in commands:
        ra, rb = both[0](*args), both[1](*args)
        assert ra == rb, args


DATA = [
    ("SET", "s", "hello"), ("SET", "n", "12345"), ("SET", "neg", "-7"), ("SET", "big", "x" * 100),
    ("SET", "bin", bytes(range(256))), ("SET", "i64", "123456789012"), ("SET", "empty", ""),
    ("RPUSH", "l", "a", "b", "1", "2", "-3", "99999999999"), ("RPUSH", "l2", *["e%d" % i for i in range(300)]),
    ("HSET", "h", "f1", "v1", "f2", "2", "f3", ""),
    ("HSET", "hbig", *[x for i in range(200) for x in ("k%d" % i, "v" * i)]),
    ("SADD", "st", "a", "b", "3"), ("SADD", "is", "1", "2", "70000", "-5"),
    ("ZADD", "z", "1", "a", "2.5", "b", "-inf", "c", "1e20", "d"),
    ("SET", "e", "v", "EX", "1000"), ("RPUSH", "le", "x"), ("PEXPIRE", "le", "5000000"),
]


def test_digest_empty(both):
    run_both(both, [("DEBUG", "DIGEST")])
    assert both[0]("DEBUG", "DIGEST") == b"+" + b"0" * 40 + b"\r\n"


def test_digest_like_redis(both):
    a, b = both
    for args in DATA:
        ra, rb = a(*args), b(*args)
        if ra.startswith(b"-ERR unknown command"):
            pytest.skip("%s not implemented" % args[0])
        assert ra == rb, args
    run_both(both, [("DEBUG", "DIGEST")])
    keys = [args[1] for args in DATA] + ["nosuchkey"]
    run_both(both, [("DEBUG", "DIGEST-VALUE", *keys), ("DEBUG", "DIGEST-VALUE")])
    # other databases count too
    run_both(both, [("SELECT", "5"), ("SET", "s", "in five"), ("DEBUG", "DIGEST"), ("SELECT", "0")])
    # a change changes the digest, undoing it restores it
    before = a("DEBUG", "DIGEST")
    run_both(both, [("APPEND", "s", "!"), ("DEBUG", "DIGEST")])
    assert a("DEBUG", "DIGEST") != before
    run_both(both, [("SET", "s", "hello"), ("DEBUG", "DIGEST")])
    assert a("DEBUG", "DIGEST") == before


def test_digest_and_digest_value_see_a_ttl(both):
    a, _ = both
    run_both(both, [("SET", "k", "v"), ("DEBUG", "DIGEST-VALUE", "k"), ("DEBUG", "DIGEST")])
    dv, d = a("DEBUG", "DIGEST-VALUE", "k"), a("DEBUG", "DIGEST")
    # as Redis 7.0: a key with a TTL mixes "!!expire!!" into both
    run_both(both, [("EXPIRE", "k", "1000"), ("DEBUG", "DIGEST-VALUE", "k"), ("DEBUG", "DIGEST")])
    assert a("DEBUG", "DIGEST-VALUE", "k") != dv
    assert a("DEBUG", "DIGEST") != d
    run_both(both, [("PERSIST", "k"), ("DEBUG", "DIGEST-VALUE", "k"), ("DEBUG", "DIGEST")])
    assert a("DEBUG", "DIGEST-VALUE", "k") == dv


def _strip_addr(reply):
    return re.sub(rb"Value at:0x[0-9a-f]+ ", b"Value at:ADDR ", reply)


def test_debug_object_format(hf):
    hf.set("s", "hello")
    text = hf.execute_command("DEBUG", "OBJECT", "s")
    text = text.decode() if isinstance(text, bytes) else text
    m = re.fullmatch(r"Value at:0x[0-9a-f]+ refcount:(\d+) encoding:(\w+) serializedlength:(\d+) lru:(\d+) "
                     r"lru_seconds_idle:(\d+)", text)
    assert m, text
    assert m.group(2) == "embstr" and m.group(3) == "6"
    with pytest.raises(redis.ResponseError, match="^no such key$"):
        hf.execute_command("DEBUG", "OBJECT", "nosuch")


def test_debug_object_like_redis(both):
    a, b = both
    for args in DATA:
        ra, _ = a(*args), b(*args)
        if ra.startswith(b"-ERR unknown command"):
            pytest.skip("%s not implemented" % args[0])
    for args in DATA:
        key = args[1]
        ours, theirs = _strip_addr(a("DEBUG", "OBJECT", key)), _strip_addr(b("DEBUG", "OBJECT", key))
        # lru and lru_seconds_idle are seconds clocks; the two servers read them
        # a moment apart, so either may have crossed a second boundary
        for clock in (rb" lru:(\d+) ", rb" lru_seconds_idle:(\d+)"):
            clock = re.compile(clock)
            assert abs(int(clock.search(ours).group(1)) - int(clock.search(theirs).group(1))) <= 2, key
            ours, theirs = clock.sub(b" CLOCK ", ours), clock.sub(b" CLOCK ", theirs)
        assert ours == theirs, key


def test_debug_object_quicklist_fields(both):
    a, b = both
    ql = re.compile(rb" ql_nodes:.*\r\n$")
    # Holdfast lists do not keep the fill they were built with (Redis's
    # quicklist does): compare while the setting is the same
    try:
        run_both(both, [("CONFIG", "SET", "list-max-listpack-size", "5"), ("RPUSH", "small", *map(str, range(23)))])
        ours, theirs = a("DEBUG", "OBJECT", "small"), b("DEBUG", "OBJECT", "small")
        assert ql.search(ours).group(0) == ql.search(theirs).group(0)
        assert b" ql_nodes:5 ql_avg_node:4.60 ql_listpack_max:5 " in ours
    finally:
        run_both(both, [("CONFIG", "SET", "list-max-listpack-size", "-2")])
    run_both(both, [("RPUSH", "bl", *[("v%d" % i) * 10 for i in range(2000)])])
    ours, theirs = a("DEBUG", "OBJECT", "bl"), b("DEBUG", "OBJECT", "bl")
    assert ql.search(ours).group(0) == ql.search(theirs).group(0)
    # serializedlength of a list whose nodes LZF-compress: python-lzf and
    # Redis's lzf may differ by a byte or so per node
    size = re.compile(rb"serializedlength:(\d+)")
    ours = int(size.search(a("DEBUG", "OBJECT", "bl")).group(1))
    theirs = int(size.search(b("DEBUG", "OBJECT", "bl")).group(1))
    assert abs(ours - theirs) <= 12 and ours < 20000


def test_debug_object_idle(hf):
    hf.set("k", "v")
    t0 = int(hf.info("server")["lru_clock"])
    time.sleep(1.1)
    text = hf.execute_command("DEBUG", "OBJECT", "k")
    text = text.decode() if isinstance(text, bytes) else text
    assert int(re.search(r"lru_seconds_idle:(\d+)", text).group(1)) >= 1
    assert abs(int(re.search(r" lru:(\d+)", text).group(1)) - t0) <= 1  # the access time, not now


def test_debug_object_shared_integers_like_redis(both):
    """0..9999 are Redis's shared integers: refcount INT_MAX, LRU clock of
    the server's start (so idle = uptime)."""
    a, b = both
    run_both(both, [("SET", "small", "5"), ("SET", "edge", "9999"), ("SET", "big", "10000"), ("SET", "neg", "-1")])
    for key, refcount in (("small", 2147483647), ("edge", 2147483647), ("big", 1), ("neg", 1)):
        for conn in (a, b):
            text = conn("DEBUG", "OBJECT", key).decode()
            assert " refcount:%d encoding:int " % refcount in text, (key, text)
    ours = a("DEBUG", "OBJECT", "small").decode()
    uptime = int(re.search(r"uptime_in_seconds:(\d+)", a("INFO", "server").decode()).group(1))
    assert abs(int(re.search(r"lru_seconds_idle:(\d+)", ours).group(1)) - uptime) <= 2


def test_debug_sleep(hf, hf_server):
    assert hf.execute_command("DEBUG", "SLEEP", "0")
    sleeper = socket.create_connection(("127.0.0.1", hf_server.port))
    sleeper.settimeout(10)
    t0 = time.time()
    sleeper.sendall(b"DEBUG SLEEP 0.5\r\n")
    time.sleep(0.1)
    t_ping = time.time()
    assert hf.ping()  # waits: the whole server sleeps
    waited = time.time() - t_ping
    assert sleeper.recv(10) == b"+OK\r\n"
    assert time.time() - t0 >= 0.5
    assert waited >= 0.2
    sleeper.close()


def test_set_active_expire(hf):
    assert hf.execute_command("DEBUG", "SET-ACTIVE-EXPIRE", "0")
    try:
        hf.execute_command("CONFIG", "SET", "hz", "100")
        for i in range(5):
            hf.set("k%d" % i, "v", px=10)
        time.sleep(0.3)
        assert hf.dbsize() == 5  # nobody took them
        assert hf.get("k0") is None  # an access expires one
        assert hf.dbsize() == 4
        assert hf.execute_command("DEBUG", "SET-ACTIVE-EXPIRE", "1")
        deadline = time.time() + 5
        while hf.dbsize() and time.time() < deadline:
            time.sleep(0.02)
        assert hf.dbsize() == 0
    finally:
        hf.execute_command("DEBUG", "SET-ACTIVE-EXPIRE", "1")
        hf.execute_command("CONFIG", "SET", "hz", "10")


def test_debug_log(hf, hf_server):
    assert hf.execute_command("DEBUG", "LOG", "hello from the test suite")
    deadline = time.time() + 5
    while "DEBUG LOG: hello from the test suite" not in hf_server.log():
        assert time.time() < deadline, hf_server.log()
        time.sleep(0.02)


def test_debug_populate(both):
    a, b = both
    run_both(both, [("SET", "key:3", "mine"), ("DEBUG", "POPULATE", "10"), ("DBSIZE",), ("GET", "key:3"),
                    ("GET", "key:7"), ("DEBUG", "POPULATE", "3", "p", "12"), ("GET", "p:1"),
                    ("DEBUG", "POPULATE", "2", "q", "3"), ("GET", "q:1"), ("DEBUG", "POPULATE", "-1"),
                    ("DEBUG", "POPULATE", "x"), ("DEBUG", "DIGEST")])
    assert a("GET", "key:7") == b"$7\r\nvalue:7\r\n"


def test_debug_errors_like_redis(both):
    run_both(both, [("DEBUG", "FOO"), ("DEBUG", "SLEEP"), ("DEBUG", "OBJECT", "a", "b"), ("DEBUG",),
                    ("DEBUG", "LOG"), ("DEBUG", "SET-ACTIVE-EXPIRE")])


def test_debug_not_allowed(holdfast_factory, redis_factory):
    ours = holdfast_factory("--enable-debug-command", "no").client()
    theirs = redis_factory("--enable-debug-command", "no").client()
    errs = []
    for r in (ours, theirs):
        with pytest.raises(redis.ResponseError) as e:
            r.execute_command("DEBUG", "DIGEST")
        errs.append(str(e.value))
    assert errs[0] == errs[1]
    assert errs[0].startswith("DEBUG command not allowed.")


def test_debug_help(both):
    a, b = both
    ours = [x[1].decode() for x in a.parsed("DEBUG", "HELP")]
    theirs = [x[1].decode() for x in b.parsed("DEBUG", "HELP")]
    assert ours[0] == theirs[0] == "DEBUG <subcommand> [<arg> [value] [opt] ...]. Subcommands are:"
    assert ours[-2:] == theirs[-2:] == ["HELP", "    Prints this help."]

    def blocks(lines):
        out, cur = [], None
        for ln in lines[1:]:
            if not ln.startswith(" "):
                cur = [ln]
                out.append(cur)
            else:
                cur.append(ln)
        return [tuple(x) for x in out]
    ours_b = [x for x in blocks(ours) if not x[0].startswith(("PROPAGATED", "RAISE"))]  # Holdfast's own
    theirs_b = blocks(theirs)
    assert len(ours_b) >= 8
    # every subcommand Holdfast documents reads as in Redis, in Redis's order
    positions = [theirs_b.index(x) for x in ours_b]
    assert positions == sorted(positions)


@pytest.mark.parametrize("proto", [2, 3])
def test_debug_protocol_and_error_like_redis(hf, rr, proto):
    """Sample replies of every RESP type, byte for byte (an attribute or a
    push comes before its reply, so read the raw bytes of both)."""
    out = []
    for r in (hf, rr):
        s = socket.create_connection(("127.0.0.1", port_of(r)))
        s.settimeout(5)
        payload = b"HELLO 3\r\n" if proto == 3 else b""
        for t in ("string", "integer", "double", "bignum", "null", "array", "set", "map", "attrib", "push",
                  "verbatim", "true", "false", "nope"):
            payload += b"DEBUG PROTOCOL %s\r\n" % t.encode()
        payload += b"DEBUG ERROR MYERR\x20boom\r\nDEBUG ERROR x\r\nPING\r\n"
        s.sendall(payload.replace(b"MYERR\x20boom", b"\"MYERR boom\""))
        data = b""
        while not data.endswith(b"+PONG\r\n"):
            chunk = s.recv(65536)
            assert chunk
            data += chunk
        s.close()
        if proto == 3:
            data = data[data.index(b"$11\r\nHello World"):]  # after HELLO's reply (ids differ)
        out.append(data)
    assert out[0] == out[1]
    assert b"-MYERR boom\r\n" in out[0]


def test_debug_local(holdfast_factory, redis_factory):
    for make in (holdfast_factory, redis_factory):
        r = make("--enable-debug-command", "local").client()
        assert r.execute_command("DEBUG", "SLEEP", "0")


def test_a_command_that_raises_answers_an_error_and_the_server_goes_on(hf, hf_server):
    """A bug in one command (DEBUG RAISE stands in for it) costs that command
    an error reply and a traceback in the log: the client, its pipeline, the
    other clients, and MULTI/EXEC all carry on."""
    other = hf_server.client()
    other.set("before", "1")
    p = hf.pipeline(transaction=False)
    p.set("a", "1").execute_command("DEBUG", "RAISE").set("b", "2").get("a")
    out = p.execute(raise_on_error=False)
    assert out[0] is True and out[2] is True and out[3] == b"1"
    assert isinstance(out[1], redis.ResponseError)
    assert str(out[1]) == "internal error running 'DEBUG' (see the server log)"
    # inside a transaction the failing command's slot holds the error
    t = hf.pipeline(transaction=True)
    t.set("c", "3").execute_command("DEBUG", "RAISE").incr("c")
    out = t.execute(raise_on_error=False)
    assert out[0] is True and isinstance(out[1], redis.ResponseError) and out[2] == 4
    assert other.get("before") == b"1" and hf.ping()
    deadline = time.time() + 5
    while "RuntimeError: DEBUG RAISE" not in hf_server.log():
        assert time.time() < deadline, hf_server.log()
        time.sleep(0.02)
    assert "Internal error running command 'DEBUG'" in hf_server.log()
