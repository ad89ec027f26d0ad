"""The primary side of replication against a real Redis 7.0 replica, and the
PSYNC protocol at the byte level: full sync from a BGSAVE on disk, the
stream of every data type, a partial resync after the link is cut, INFO
replication and ROLE."""

import socket
import time

import pytest
from rdb_dataset import assert_same, contents, dataset, fill

from replication.backlog import Backlog


def wait_until(pred, timeout=30, what="condition"):
    deadline = time.time() + timeout
    while not pred():
        assert time.time() < deadline, "timed out waiting for " + what
        time.sleep(0.05)


def in_sync(primary, replica, **primary_client_kw):
    """The replica's link is up and it has applied everything the primary
    sent (`primary_client_kw`: a password, where the primary wants one)."""
    p, r = primary.client(**primary_client_kw), replica.client()
    try:
        ri = r.info("replication")
        return ri.get("master_link_status") == "up" and \
            ri["slave_repl_offset"] == p.info("replication")["master_repl_offset"]
    finally:
        p.close()
        r.close()


def _log(srv):
    with open(srv.logfile, "rb") as f:
        return f.read()


def write_more(srv):
    """Writes of every type, in several databases, with expiries, after the full sync."""
    r = srv.client()
    r.set("s:new", "v" * 100)
    r.incr("counter")
    r.incrbyfloat("float", 1.5)
    r.rpush("l:new", *range(50))
    r.lpop("l:new")
    r.hset("h:new", mapping={"a": 1, "b": 2})
    r.hdel("h:new", "a")
    r.sadd("set:new", *range(20))
    r.spop("set:new")
    r.zadd("z:new", {"m%d" % i: i / 3 for i in range(30)})
    r.zpopmin("z:new")
    r.set("ttl:new", "x", px=600000)
    r.expire("s:new", 1000)
    r.delete("counter")
    with r.pipeline(transaction=True) as p:
        p.set("tx:a", 1).incr("tx:b").execute()
    r3 = srv.client(db=3)
    r3.set("db3:key", "three")
    r3.close()
    r.close()


@pytest.mark.parametrize("diskless", ["yes", "no"])
def test_redis_replica_follows_holdfast_primary(holdfast_factory, redis_factory, diskless):
    primary = holdfast_factory("--repl-diskless-sync", diskless, "--repl-diskless-sync-delay", "0")
    fill(primary, dataset(seed=11))
    replica = redis_factory("--replicaof", "127.0.0.1", str(primary.port))
    wait_until(lambda: in_sync(primary, replica), what="the full sync")
    assert_same(contents(primary), contents(replica))
    with open(primary.logfile, "rb") as f:
        target = b"replicas sockets" if diskless == "yes" else b"disk"
        assert b"Starting BGSAVE for SYNC with target: " + target in f.read()

    write_more(primary)
    wait_until(lambda: in_sync(primary, replica), what="the stream")
    assert_same(contents(primary), contents(replica))

    p = primary.client()
    # The replica acknowledges its offset every second (REPLCONF ACK).
    wait_until(lambda: (p.info("replication").get("slave0", {}).get("offset")
                        == p.info("replication")["master_repl_offset"]), what="the replica's ACK")
    info = p.info("replication")
    assert info["role"] == "master" and info["connected_slaves"] == 1
    assert info["slave0"]["state"] == "online" and info["slave0"]["port"] == replica.port
    assert info["repl_backlog_active"] == 1 and info["repl_backlog_first_byte_offset"] == 1
    assert info["repl_backlog_histlen"] == info["master_repl_offset"] > 0
    role = p.execute_command("ROLE")
    assert role[0] == b"master" and role[1] == info["master_repl_offset"]
    assert len(role[2]) == 1 and role[2][0][:2] == [b"127.0.0.1", str(replica.port).encode()]
    assert int(role[2][0][2]) == info["master_repl_offset"]  # its last ACK
    assert p.info("stats")["sync_full"] == 1
    assert [c["flags"] for c in p.client_list(_type="replica")] == ["S"]
    p.close()


def test_partial_resync_after_the_link_is_cut(holdfast_factory, redis_factory):
    primary = holdfast_factory("--repl-diskless-sync-delay", "0")
    fill(primary, dataset(seed=5))
    replica = redis_factory("--replicaof", "127.0.0.1", str(primary.port))
    wait_until(lambda: in_sync(primary, replica), what="the full sync")
    p = primary.client()
    assert p.client_kill_filter(_type="replica") == 1
    write_more(primary)  # written while the replica reconnects: the backlog carries it
    wait_until(lambda: in_sync(primary, replica), what="the partial resync")
    assert_same(contents(primary), contents(replica))
    stats = p.info("stats")
    assert (stats["sync_full"], stats["sync_partial_ok"]) == (1, 1)
    with open(replica.logfile, "rb") as f:
        assert b"Successful partial resynchronization with master" in f.read()
    p.close()


def _read_line(f):
    line = f.readline()
    assert line.endswith(b"\r\n"), line
    return line[:-2]


def _read_line_after_keepalives(f):
    """A line, after the bare newlines a primary sends a waiting replica
    (once a second) to keep its link alive."""
    line = f.readline()
    while line == b"\n":
        line = f.readline()
    assert line.endswith(b"\r\n"), line
    return line[:-2]


PING = b"*1\r\n$4\r\nPING\r\n"


def _read_command(f):
    """One command of the replication stream, as its raw bytes."""
    head = f.readline()
    assert head.startswith(b"*"), head
    raw = head
    for _ in range(int(head[1:])):
        line = f.readline()
        raw += line + f.read(int(line[1:]) + 2)
    return raw


def _read_stream(f, expected):
    """Read commands until `expected` bytes of non-PING commands came;
    returns (those bytes, how many PINGs were interleaved)."""
    got, pings = b"", 0
    while len(got) < len(expected):
        cmd = _read_command(f)
        if cmd == PING:
            pings += 1
        else:
            got += cmd
    return got, pings


def test_psync_protocol_bytes(holdfast_factory):
    """What a replica sees on the wire: +FULLRESYNC, the RDB as a bulk, then
    the stream (SELECT first) with PINGs every repl-ping-replica-period,
    counted in the offset; +CONTINUE <replid> with the missed bytes for a
    PSYNC inside the backlog; +FULLRESYNC for an unknown replid."""
    primary = holdfast_factory("--repl-ping-replica-period", "1", "--repl-diskless-sync", "no")
    p = primary.client()
    p.set("before", "1")
    s = socket.create_connection(("127.0.0.1", primary.port), timeout=10)
    f = s.makefile("rb")
    s.sendall(b"REPLCONF listening-port 4321\r\nREPLCONF capa eof capa psync2\r\nPSYNC ? -1\r\n")
    assert _read_line(f) == b"+OK" and _read_line(f) == b"+OK"
    words = _read_line(f).split()
    assert words[0] == b"+FULLRESYNC" and len(words[1]) == 40 and words[2] == b"0"
    replid = words[1]
    n = int(_read_line(f)[1:])
    rdb = f.read(n)
    assert rdb[:9] == b"REDIS0010" and b"before" in rdb
    p.set("after", "2")
    expected = b"*2\r\n$6\r\nSELECT\r\n$1\r\n0\r\n*3\r\n$3\r\nSET\r\n$5\r\nafter\r\n$1\r\n2\r\n"
    got, pings = _read_stream(f, expected)
    assert got == expected
    while not pings:  # repl-ping-replica-period 1: one comes within a second or so
        assert _read_command(f) == PING
        pings += 1
    offset = len(expected) + pings * len(PING)
    assert p.info("replication")["master_repl_offset"] >= offset
    s.sendall(b"REPLCONF ACK %d\r\n" % offset)
    wait_until(lambda: p.info("replication").get("slave0", {}).get("offset") == offset, what="the ACK")
    assert p.info("replication")["slave0"]["port"] == 4321
    s.close()

    p.set("missed", "3")
    s = socket.create_connection(("127.0.0.1", primary.port), timeout=10)
    f = s.makefile("rb")
    s.sendall(b"REPLCONF capa psync2\r\nPSYNC %s %d\r\n" % (replid, offset + 1))
    assert _read_line(f) == b"+OK"
    assert _read_line(f) == b"+CONTINUE " + replid
    missed = b"*3\r\n$3\r\nSET\r\n$6\r\nmissed\r\n$1\r\n3\r\n"
    assert _read_stream(f, missed)[0] == missed
    s.close()

    s = socket.create_connection(("127.0.0.1", primary.port), timeout=10)
    f = s.makefile("rb")
    s.sendall(b"PSYNC %s 1\r\n" % (b"f" * 40))
    assert _read_line(f).startswith(b"+FULLRESYNC " + replid + b" ")
    s.close()
    assert p.info("stats")["sync_partial_err"] == 1
    p.close()


def test_diskless_sync_bytes_and_delay(holdfast_factory):
    """repl-diskless-sync: replicas that announce capa eof get the RDB
    streamed from the child as $EOF:<mark> ... <mark>, after
    repl-diskless-sync-delay, one child for every replica that asked by then;
    a replica without capa eof makes it a disk sync."""
    primary = holdfast_factory("--repl-diskless-sync", "yes", "--repl-diskless-sync-delay", "1")
    p = primary.client()
    p.set("before", "1")
    socks = []
    t0 = time.time()
    for _ in range(2):
        s = socket.create_connection(("127.0.0.1", primary.port), timeout=10)
        s.sendall(b"REPLCONF capa eof capa psync2\r\nPSYNC ? -1\r\n")
        socks.append((s, s.makefile("rb")))
    payloads = []
    for _sock, f in socks:
        assert _read_line(f) == b"+OK"
        assert _read_line_after_keepalives(f).startswith(b"+FULLRESYNC ")
        header = _read_line_after_keepalives(f)
        assert header.startswith(b"$EOF:") and len(header) == 5 + 40
        mark = header[5:45]
        data = b""
        while not data.endswith(mark):
            data += f.read1(65536)
        payloads.append(data[:-40])
    assert time.time() - t0 >= 0.9  # repl-diskless-sync-delay 1
    assert payloads[0] == payloads[1] and payloads[0][:9] == b"REDIS0010" and b"before" in payloads[0]
    with open(primary.logfile, "rb") as f:
        assert f.read().count(b"target: replicas sockets") == 1  # one child served both
    p.set("after", "2")
    for s, f in socks:
        # As Redis: the stream starts only after the replica's first ACK, so
        # the mark is the last thing the replica reads until then.
        s.setblocking(False)
        time.sleep(0.3)
        with pytest.raises(BlockingIOError):
            s.recv(1)
        s.setblocking(True)
        s.sendall(b"REPLCONF ACK 0\r\n")
        expected = b"*2\r\n$6\r\nSELECT\r\n$1\r\n0\r\n*3\r\n$3\r\nSET\r\n$5\r\nafter\r\n$1\r\n2\r\n"
        assert _read_stream(f, expected)[0] == expected
        s.close()

    s = socket.create_connection(("127.0.0.1", primary.port), timeout=10)
    f = s.makefile("rb")
    s.sendall(b"REPLCONF capa psync2\r\nPSYNC ? -1\r\n")  # no capa eof
    assert _read_line(f) == b"+OK"
    assert _read_line_after_keepalives(f).startswith(b"+FULLRESYNC ")
    header = _read_line_after_keepalives(f)
    assert header.startswith(b"$") and header[1:].isdigit()
    s.close()
    p.close()


@pytest.mark.parametrize("size", [1, 7, 64])
def test_backlog_returns_exactly_the_history_it_covers(size):
    import random

    rnd = random.Random(size)
    b = Backlog(size, 0)
    stream = b""
    for _ in range(300):
        data = bytes(rnd.randrange(256) for _ in range(rnd.randrange(0, 2 * size + 2)))
        b.add(data)
        stream += data
        assert b.offset == len(stream) and b.histlen == min(size, len(stream))
        assert b.first_byte_offset == len(stream) - b.histlen + 1
        for off in range(max(1, len(stream) - 3 * size), len(stream) + 3):
            assert b.covers(off) == (b.first_byte_offset <= off <= len(stream) + 1)
            if b.covers(off):
                assert b.since(off) == stream[off - 1:]
    b.resize(max(1, size // 2))
    assert b.since(b.first_byte_offset) == stream[-max(1, size // 2):] and b.offset == len(stream)


def test_wait_and_min_replicas_to_write(holdfast_factory, redis_factory):
    primary = holdfast_factory("--repl-diskless-sync-delay", "0")
    p = primary.client()
    p.set("k", "v")
    assert p.execute_command("WAIT", 0, 0) == 0
    t0 = time.time()
    assert p.execute_command("WAIT", 1, 200) == 0  # no replica: times out
    assert time.time() - t0 >= 0.19
    assert p.info("clients")["blocked_clients"] == 0
    with pytest.raises(Exception, match="timeout is negative"):
        p.execute_command("WAIT", 1, -1)

    p.config_set("min-replicas-to-write", 1)
    with pytest.raises(Exception, match="NOREPLICAS Not enough good replicas to write."):
        p.set("k", "refused")
    assert p.get("k") == b"v"  # reads still work

    replica = redis_factory("--replicaof", "127.0.0.1", str(primary.port))
    wait_until(lambda: in_sync(primary, replica), what="the full sync")
    p.set("k", "accepted")  # a good replica now
    # WAIT asks the replica for its offset (REPLCONF GETACK) rather than
    # waiting for the next periodic ACK: it answers well within a second.
    t0 = time.time()
    assert p.execute_command("WAIT", 1, 5000) == 1
    assert time.time() - t0 < 0.9
    r = replica.client()
    assert r.get("k") == b"accepted"
    with pytest.raises(Exception, match="WAIT cannot be used with replica instances"):
        hf_replica = holdfast_factory("--replicaof", "127.0.0.1", str(primary.port))
        hf_replica.client().execute_command("WAIT", 0, 0)

    p.config_set("min-replicas-to-write", 0)
    r.close()
    p.close()


def test_backlog_freed_after_repl_backlog_ttl(holdfast_factory, redis_factory):
    primary = holdfast_factory("--repl-diskless-sync-delay", "0", "--repl-backlog-ttl", "1")
    replica = redis_factory("--replicaof", "127.0.0.1", str(primary.port))
    wait_until(lambda: in_sync(primary, replica), what="the full sync")
    p = primary.client()
    first_id = p.info("replication")["master_replid"]
    assert p.info("replication")["repl_backlog_active"] == 1
    replica.stop()
    wait_until(lambda: p.info("replication")["repl_backlog_active"] == 0, timeout=10, what="the backlog to go")
    info = p.info("replication")
    assert info["master_replid"] != first_id and str(info["master_replid2"]).strip("0") == ""  # redis-py reads 0s as 0
    p.close()


def test_holdfast_replica_authenticates_with_masterauth_and_masteruser(holdfast_factory, redis_factory):
    primary = redis_factory("--requirepass", "s3cret", "--repl-diskless-sync-delay", "0")
    r = primary.client(password="s3cret")
    r.execute_command("ACL", "SETUSER", "repl", "on", ">replpass", "+psync", "+replconf", "+ping")
    r.set("k", "v")
    plain = holdfast_factory("--replicaof", "127.0.0.1", str(primary.port), "--masterauth", "s3cret")
    wait_until(lambda: plain.client().info("replication")["master_link_status"] == "up", what="masterauth")
    as_user = holdfast_factory("--replicaof", "127.0.0.1", str(primary.port), "--masteruser", "repl",
                               "--masterauth", "replpass")
    wait_until(lambda: as_user.client().info("replication")["master_link_status"] == "up", what="masteruser")
    assert as_user.client().get("k") == b"v"
    wrong = holdfast_factory("--replicaof", "127.0.0.1", str(primary.port), "--masterauth", "nope")
    wait_until(lambda: b"Unable to AUTH to MASTER" in _log(wrong), what="the AUTH error")
    assert wrong.client().info("replication")["master_link_status"] == "down"
    assert b"s3cret" not in _log(plain)  # the password never reaches the log
    r.close()


def test_replicas_asking_during_a_disk_bgsave_share_it(holdfast_factory):
    """repl-diskless-sync no: a replica that asks while the BGSAVE for another
    one runs gets the same file (one fork), with the same stream behind it."""
    primary = holdfast_factory("--repl-diskless-sync", "no", "--rdb-key-save-delay", "1000")
    fill(primary, {0: [(b"k%d" % i, "string", b"v", None) for i in range(2000)]})  # a ~2 s BGSAVE
    p = primary.client()
    socks = []
    for _ in range(2):
        s = socket.create_connection(("127.0.0.1", primary.port), timeout=30)
        s.sendall(b"REPLCONF capa psync2\r\nPSYNC ? -1\r\n")
        socks.append((s, s.makefile("rb")))
        time.sleep(0.5)
        p.set("written-while-saving", "x")  # goes to both replicas' collected stream
    heads = []
    for _s, f in socks:
        assert _read_line(f) == b"+OK"
        heads.append(_read_line_after_keepalives(f))
        n = int(_read_line_after_keepalives(f)[1:])
        assert f.read(n)[:5] == b"REDIS"
        cmd = _read_command(f)
        while cmd == PING:
            cmd = _read_command(f)
        assert cmd.startswith(b"*2\r\n$6\r\nSELECT")
    assert heads[0] == heads[1]  # the same +FULLRESYNC replid offset: the same snapshot
    with open(primary.logfile, "rb") as f:
        log = f.read()
    assert log.count(b"Starting BGSAVE for SYNC") == 1 and b"Waiting for end of BGSAVE for SYNC" in log
    for s, _f in socks:
        s.close()
    p.close()


def test_wait_counts_the_callers_own_writes(holdfast_factory):
    """WAIT waits for the stream up to the calling client's last write, not
    for writes other clients made after it (Redis's c->woff)."""
    primary = holdfast_factory("--repl-diskless-sync", "no")
    a, b = primary.client(), primary.client()
    a.set("from-a", "1")
    s = socket.create_connection(("127.0.0.1", primary.port), timeout=10)
    f = s.makefile("rb")
    s.sendall(b"PSYNC ? -1\r\n")  # a hand-made replica that ACKs what we say
    assert _read_line_after_keepalives(f).startswith(b"+FULLRESYNC ")
    f.read(int(_read_line_after_keepalives(f)[1:]))  # the RDB
    s.sendall(b"REPLCONF ACK 0\r\n")
    a.set("from-a", "2")
    after_a = b.info("replication")["master_repl_offset"]
    b.set("from-b", "x")  # later stream bytes nobody will acknowledge
    s.sendall(b"REPLCONF ACK %d\r\n" % after_a)
    assert a.execute_command("WAIT", 1, 2000) == 1  # a's own write is acknowledged
    assert b.execute_command("WAIT", 1, 300) == 0  # b's is not
    s.close()
    a.close()
    b.close()
