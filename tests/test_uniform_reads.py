"""Uniform reads (engine/uniform_reads.py, Server.run_uniform_read and the
GET/SET uniform runners of engine/commands/string_runs.py): a read that is
one command repeated with arguments of the same lengths is cut by a struct
and run in a few C calls. What it parses must be what hiredis parses, and
what it runs must come out exactly as redis-server answers it, with the
same statistics, reaching WATCH, MONITOR, the AOF and replicas as the same
writes; anything it cannot run whole it must leave untouched."""

import random
import socket
import time

import hiredis
import pytest
from rawresp import RawConn, encode, info_fields, parse, read_replies, start_clean

from engine import uniform_reads


def _hiredis_requests(data):
    """Every request hiredis finds in `data`, or None unless it is whole
    requests and nothing else."""
    r = hiredis.Reader()
    r.feed(data)
    out = []
    try:
        while (req := r.gets()) is not False:
            out.append(req)
    except hiredis.ProtocolError:
        return None
    return None if r.has_data() else out


def _rows(found):
    name, argc, args = found
    per = argc - 1
    return [[name, *args[i:i + per]] for i in range(0, len(args), per)]


# ---- the parser alone (in process) -------------------------------------------------


def test_split_takes_uniform_reads_and_only_those():
    get = encode("GET", "k1")
    assert uniform_reads.split(get * 3) == (b"GET", 2, (b"k1",) * 3)
    assert uniform_reads.split(encode("set", "ab", "x") + encode("set", "cd", "y")) == (
        b"set", 3, (b"ab", b"x", b"cd", b"y"))
    assert uniform_reads.split(get) is None  # one request: the usual path is cheaper
    assert uniform_reads.split(get + encode("GET", "k22")) is None  # lengths differ
    assert uniform_reads.split(get + encode("GEX", "k1")) is None  # names differ
    assert uniform_reads.split(get + encode("GET", "k1", "x")) is None  # shapes differ
    assert uniform_reads.split(get * 2 + get[:-1]) is None  # the last request is cut
    assert uniform_reads.split(b"PING\r\n" * 2) is None  # inline
    assert uniform_reads.split(get * 2 + b"*2\r\n$03\r\nGET\r\n$2\r\nk1\r\n") is None  # not canonical
    assert uniform_reads.split(b"*2\r\n$03\r\nGET\r\n$2\r\nk1\r\n" * 2) is None
    big = b"v" * uniform_reads.MAX_ARG_LEN
    assert uniform_reads.split(encode("SET", "k", big) * 2) is None
    # An argument holding CRLF and headers, as long as its neighbours.
    tricky = b"\r\n$2\r\nk1"
    assert uniform_reads.split(encode("GET", tricky) + encode("GET", b"x" * len(tricky))) == (
        b"GET", 2, (tricky, b"x" * len(tricky)))


def test_split_agrees_with_hiredis_on_random_and_damaged_reads():
    """Random uniform reads, whole and then damaged (a byte changed, added
    or dropped, a header spelled differently): whatever split takes,
    hiredis parses to exactly the same requests; every undamaged read is
    taken."""
    rnd = random.Random(1234)
    alphabet = b"ab*$\r\n0123456789"
    taken = 0
    for _ in range(3000):
        argc = rnd.randint(2, 4)
        name = rnd.choice([b"GET", b"get", b"SET", b"HSET", b"x\r\n"])
        sizes = [rnd.randint(0, 12) for _ in range(argc - 1)]
        reqs = [[name] + [bytes(rnd.choice(alphabet) for _ in range(n)) for n in sizes]
                for _ in range(rnd.randint(2, 20))]
        data = b"".join(encode(*r) for r in reqs)
        found = uniform_reads.split(data)
        assert found is not None and _rows(found) == reqs
        taken += 1
        damaged = bytearray(data)
        pos = rnd.randrange(len(damaged))
        kind = rnd.randrange(4)
        if kind == 0:
            damaged[pos] = rnd.choice(alphabet)
        elif kind == 1:
            damaged.insert(pos, rnd.choice(alphabet))
        elif kind == 2:
            del damaged[pos]
        else:
            damaged = bytearray(bytes(damaged).replace(b"$%d\r\n" % sizes[0], b"$0%d\r\n" % sizes[0], 1))
        damaged = bytes(damaged)
        found = uniform_reads.split(damaged)
        if found is not None:
            assert _rows(found) == _hiredis_requests(damaged), damaged
            assert b"".join(encode(*r) for r in _rows(found)) == damaged
    assert taken == 3000


# ---- the runners in a server (in process) ------------------------------------------


class _NullSock:
    def fileno(self):
        return -1


def _server_and_client():
    from engine.client import Client
    from engine.config import Config
    from engine.server import Server

    srv = Server(Config())
    return srv, Client(srv, _NullSock(), "127.0.0.1:2", "127.0.0.1:1")


def test_plain_uniform_reads_run_whole_and_the_rest_decline_untouched():
    srv, c = _server_and_client()
    db = srv.keyspace.dbs[0]
    sets = b"".join(encode("SET", "k%d" % i, "v%d" % i) for i in range(10))
    gets = b"".join(encode("GET", "k%d" % i) for i in range(10))
    calls = srv.commands[b"set"].calls, srv.commands[b"get"].calls  # the tables are the process's
    assert srv.run_uniform_read(c, sets)
    assert srv.run_uniform_read(c, gets)
    assert b"".join(c.wbuf) == b"+OK\r\n" * 10 + b"".join(b"$2\r\nv%d\r\n" % i for i in range(10))
    assert srv.stats.keyspace_hits == 10 and srv.stats.total_commands_processed == 20
    assert (srv.commands[b"set"].calls, srv.commands[b"get"].calls) == (calls[0] + 10, calls[1] + 10)
    assert srv.dirty == 10
    c.wbuf.clear()

    def declined(data):
        before = (dict(db.data), dict(db.expires), srv.dirty, srv.stats.keyspace_hits, srv.stats.keyspace_misses)
        assert not srv.run_uniform_read(c, data)
        assert (dict(db.data), dict(db.expires), srv.dirty, srv.stats.keyspace_hits,
                srv.stats.keyspace_misses) == before
        assert not c.wbuf

    declined(gets + encode("GET", "zz"))  # a miss in the read: GET's handler counts and notifies it
    db.data[b"k9"] = [b"a list stands in for another type"]
    declined(gets)  # WRONGTYPE
    db.data[b"k9"] = b"v" * 5000
    declined(gets)  # past BULK_FRAMES
    db.data[b"k9"] = b"v9"
    db.expires[b"k3"] = srv.now_ms + 100_000
    declined(gets)  # a TTL: it may have passed
    declined(sets)  # a TTL to clear
    del db.expires[b"k3"]
    db.custom_keys.add(b"k4")
    declined(sets)  # freeing a collection is not O(1)
    db.custom_keys.discard(b"k4")
    c.multi_queue = []
    c.update_gate()
    declined(sets)  # MULTI queues them
    c.multi_queue = None
    c.update_gate()
    srv.config.set_many([("slowlog-log-slower-than", "0")])
    declined(sets)  # the slow log times each one
    srv.config.set_many([("slowlog-log-slower-than", "10000")])
    srv.config.set_many([("maxmemory-policy", "allkeys-lfu")])
    declined(gets)  # LFU counts each access
    declined(sets)
    srv.config.set_many([("maxmemory-policy", "noeviction"), ("notify-keyspace-events", "KA")])
    declined(sets)  # each SET is notified
    srv.config.set_many([("notify-keyspace-events", "")])
    c.deferred = []
    declined(gets)  # blocked: what it sends waits
    c.deferred = None
    c.parser.pending += b"*2\r\n$3"
    declined(gets)  # the end of a request cut by the last read
    c.parser.pending.clear()
    assert srv.run_uniform_read(c, sets)


def test_a_runner_that_raises_leaves_the_read_to_the_usual_path(monkeypatch):
    srv, c = _server_and_client()
    srv.keyspace.dbs[0].data[b"k1"] = b"v"

    def broken(*_args):
        raise RuntimeError("a bug in a uniform runner")

    monkeypatch.setattr(srv.commands[b"get"], "uniform_runner", broken)
    srv.process_input(c, encode("GET", "k1") * 2)
    assert b"".join(c.wbuf) == b"$1\r\nv\r\n" * 2


# ---- against redis-server, over sockets ----------------------------------------------


def _as_one_read(port, setup, read):
    """Run `setup` one command at a time, then send `read` (requests) in one
    write; the raw replies to the read."""
    with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
        for req in setup:
            s.sendall(encode(*req))
            read_replies(s, 1)
        s.sendall(b"".join(encode(*r) for r in read))
        return read_replies(s, len(read))


def _k(i):
    return "key%03d" % i


# Each case: the commands before, then one uniform read.
_CASES = {
    "get hits": ([("SET", _k(i), "val%03d" % i) for i in range(20)], [("GET", _k(i)) for i in range(20)]),
    "get lower case": ([], [("get", _k(i)) for i in range(20)]),
    "get mixed case": ([], [("gEt", _k(i)) for i in range(20)]),
    "get a miss": ([], [("GET", _k(i)) for i in range(18, 24)]),
    "get a wrong type": ([("RPUSH", _k(5), "x")], [("GET", _k(i)) for i in range(10)]),
    "get a ttl": ([("SET", _k(2), "v", "EX", "100")], [("GET", _k(i)) for i in range(10)]),
    "get lengths differ": ([("SET", _k(3), "a much longer value")], [("GET", _k(i)) for i in range(10)]),
    "get a big value": ([("SET", _k(4), "b" * 5000)], [("GET", _k(i)) for i in range(10)]),
    "set plain": ([], [("SET", _k(i), "new%03d" % i) for i in range(30)]),
    "set over a ttl and a list": ([("SET", _k(1), "v", "EX", "100"), ("RPUSH", _k(7), "x")],
                                  [("SET", _k(i), "set%03d" % i) for i in range(10)]),
    "set a key twice": ([], [("SET", _k(i % 3), "tw%03d" % i) for i in range(9)]),
    "set then get it": ([], [("SET", _k(1), "aaa"), ("SET", _k(1), "bbb")]),
    "get after sets": ([], [("GET", _k(i)) for i in range(12)]),
}


@pytest.mark.interop
def test_uniform_reads_answer_as_redis(hf_server, real_redis_server):
    start_clean(hf_server.port, real_redis_server.port)
    for case, (setup, read) in _CASES.items():
        ours = _as_one_read(hf_server.port, setup, read)
        theirs = _as_one_read(real_redis_server.port, setup, read)
        assert ours == theirs, case
    stats = []
    for srv in (hf_server, real_redis_server):
        conn = RawConn(srv.port)
        fields = info_fields(conn, "all")
        keys = sorted(parse(conn("KEYS", "*")))
        data = {k: (parse(conn("TYPE", k)), parse(conn("TTL", k)) > 0) for k in keys}
        conn.close()
        stats.append(({k: fields[k].split(",usec=")[0] for k in ("cmdstat_get", "cmdstat_set")},
                      fields["keyspace_hits"], fields["keyspace_misses"], fields.get("errorstat_WRONGTYPE"), data))
    assert stats[0] == stats[1]


def test_uniform_sets_break_a_watch_and_reach_monitor(hf_server):
    import redis

    r = redis.Redis(port=hf_server.port)
    r.flushall()
    mon = RawConn(hf_server.port)
    mon.sock.sendall(encode("MONITOR"))
    assert read_replies(mon.sock, 1) == [b"+OK\r\n"]
    p = r.pipeline(transaction=True)
    p.watch(_k(2))
    _as_one_read(hf_server.port, [], [("SET", _k(i), "x") for i in range(5)])
    p.multi()
    p.set(_k(2), "mine")
    with pytest.raises(redis.WatchError):
        p.execute()
    lines = read_replies(mon.sock, 6)  # +<time> [0 <addr>] "WATCH" ..., then each SET
    assert [line.split(b"]", 1)[1].strip() for line in lines[1:]] == [b'"SET" "%s" "x"' % _k(i).encode()
                                                                      for i in range(5)]
    mon.close()
    r.close()


def test_uniform_reads_wait_in_multi_and_are_silent_with_replies_off(hf_server):
    c = RawConn(hf_server.port)
    c("FLUSHALL")
    assert c("MULTI") == b"+OK\r\n"
    assert _send_read(c, [("SET", _k(i), "m") for i in range(4)]) == [b"+QUEUED\r\n"] * 4
    assert c("EXEC") == b"*4\r\n" + b"+OK\r\n" * 4
    c.sock.sendall(encode("CLIENT", "REPLY", "OFF"))
    c.sock.sendall(b"".join(encode("SET", _k(i), "off") for i in range(4)))
    c.sock.sendall(encode("CLIENT", "REPLY", "ON"))
    assert read_replies(c.sock, 1) == [b"+OK\r\n"]  # CLIENT REPLY ON's, and nothing before it
    assert parse(c("MGET", _k(0), _k(3))) == [b"off", b"off"]
    c.close()


def _send_read(conn, reqs):
    conn.sock.sendall(b"".join(encode(*r) for r in reqs))
    return read_replies(conn.sock, len(reqs))


def test_uniform_reads_obey_acl_pause_and_the_slow_log(hf_server):
    import redis

    r = redis.Redis(port=hf_server.port)
    r.flushall()
    r.acl_setuser("noget", enabled=True, passwords=["+pw"], keys=["*"], commands=["+@all", "-get"])
    c = RawConn(hf_server.port)
    c("AUTH", "noget", "pw")
    replies = _send_read(c, [("GET", _k(i)) for i in range(3)])
    assert all(x.startswith(b"-NOPERM") for x in replies)
    c.close()
    r.acl_deluser("noget")

    r.config_set("slowlog-log-slower-than", 0)
    try:
        r.slowlog_reset()
        _as_one_read(hf_server.port, [], [("SET", "s%03d" % i, "v") for i in range(20)])
        logged = [e["command"] for e in r.slowlog_get(128)]
        assert sum(1 for cmd in logged if cmd.startswith(b"SET s")) == 20
    finally:
        r.config_set("slowlog-log-slower-than", 10000)

    r.execute_command("CLIENT", "PAUSE", 300, "WRITE")
    t0 = time.monotonic()
    _as_one_read(hf_server.port, [], [("SET", _k(i), "paused") for i in range(4)])
    assert time.monotonic() - t0 >= 0.2
    assert r.get(_k(3)) == b"paused"
    r.close()


def test_uniform_sets_reach_aof_and_replica(holdfast_factory):
    """Uniform reads of SETs reach the AOF and the replication stream as
    sent: a restart on the AOF and a replica both hold every key."""
    import redis

    primary = holdfast_factory("--appendonly", "yes", "--appendfsync", "always")
    replica = holdfast_factory("--replicaof", "127.0.0.1", str(primary.port))
    rr = redis.Redis(port=replica.port)
    deadline = time.monotonic() + 20
    while rr.info("replication")["master_link_status"] != "up":
        assert time.monotonic() < deadline
        time.sleep(0.05)
    want = {}
    with socket.create_connection(("127.0.0.1", primary.port), timeout=10) as s:
        for db in (3, 0):
            s.sendall(encode("SELECT", db))
            assert read_replies(s, 1) == [b"+OK\r\n"]
            for round_ in range(20):
                reqs = [("SET", _k((round_ * 7 + i) % 150), "v%02d-%d" % (round_, db)) for i in range(16)]
                s.sendall(b"".join(encode(*r) for r in reqs))
                assert read_replies(s, 16) == [b"+OK\r\n"] * 16
                want.update({(db, k.encode()): v.encode() for _, k, v in reqs})
    pr = redis.Redis(port=primary.port)
    assert pr.execute_command("WAIT", 1, 5000) == 1

    def held(port):
        out = {}
        for db in (3, 0):
            conn = redis.Redis(port=port, db=db)
            out.update({(db, k): conn.get(k) for k in conn.keys()})
            conn.close()
        return out

    assert held(replica.port) == want
    pr.close()
    rr.close()
    primary.stop()
    primary.start()
    assert held(primary.port) == want


@pytest.mark.interop
def test_a_damaged_uniform_read_gets_redis_protocol_error(hf_server, real_redis_server):
    """Good uniform requests, then one whose length header is not canonical:
    the good ones are answered, then `-ERR Protocol error: ...` and the
    connection closes, byte for byte as redis-server does."""
    good = b"".join(encode("SET", _k(i), "dmg") for i in range(4))
    bad = b"*3\r\n$3\r\nSET\r\n$06\r\n" + _k(9).encode() + b"\r\n$3\r\ndmg\r\n"
    out = []
    for srv in (hf_server, real_redis_server):
        with socket.create_connection(("127.0.0.1", srv.port), timeout=10) as s:
            s.sendall(good + bad)
            got = b""
            while chunk := s.recv(65536):
                got += chunk
        out.append(got)
    assert out[0] == out[1]
    assert out[0].startswith(b"+OK\r\n" * 4 + b"-ERR Protocol error")
