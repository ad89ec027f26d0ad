"""CLIENT PAUSE / UNPAUSE (engine/pause.py) against redis-server 7.0: the
same scenarios on both, observed the same way, must see the same things:
which commands wait and which go through, pipelined replies in order,
MULTI, keys that expire while paused, CLIENT LIST's flag, the errors.
Then what only a live link shows: a paused replica still applies its
primary's stream."""

import socket
import time

from rawresp import RawConn
from test_replication_primary import wait_until


def _send(port, payload):
    s = socket.create_connection(("127.0.0.1", port), timeout=10)
    s.sendall(payload)
    return s


def _recv_exactly(s, n, timeout):
    s.settimeout(timeout)
    data = b""
    try:
        while len(data) < n:
            chunk = s.recv(n - len(data))
            if not chunk:
                break
            data += chunk
    except TimeoutError:
        pass
    return data


def test_errors(server):
    r = RawConn(server.port)
    assert r("CLIENT", "PAUSE", "abc") == b"-ERR timeout is not an integer or out of range\r\n"
    assert r("CLIENT", "PAUSE", "-1") == b"-ERR timeout is negative\r\n"
    assert r("CLIENT", "PAUSE", "10", "SOME") == b"-ERR CLIENT PAUSE mode must be WRITE or ALL\r\n"
    assert r("CLIENT", "PAUSE") == b"-ERR wrong number of arguments for 'client|pause' command\r\n"
    assert r("CLIENT", "UNPAUSE", "x") == b"-ERR wrong number of arguments for 'client|unpause' command\r\n"
    assert r("CLIENT", "UNPAUSE") == b"+OK\r\n"


def test_write_pause_stops_a_pipeline_at_its_first_write(server):
    admin = RawConn(server.port)
    admin("SET", "k", "before")
    assert admin("CLIENT", "PAUSE", "600", "WRITE") == b"+OK\r\n"
    t0 = time.monotonic()
    s = _send(server.port, b"GET k\r\nSET k after\r\nGET k\r\n")
    first = _recv_exactly(s, len(b"$6\r\nbefore\r\n"), 0.3)
    assert first == b"$6\r\nbefore\r\n"  # the read before the write is answered at once
    assert _recv_exactly(s, 1, 0.2) == b""  # the write and what follows it wait
    assert admin("GET", "k") == b"$6\r\nbefore\r\n"  # reads from others go on
    rest = _recv_exactly(s, len(b"+OK\r\n$5\r\nafter\r\n"), 5)
    assert rest == b"+OK\r\n$5\r\nafter\r\n" and time.monotonic() - t0 >= 0.5
    s.close()


def test_all_pause_holds_every_command_even_unpause(server):
    admin = RawConn(server.port)
    other = RawConn(server.port)  # connected before the pause
    assert admin("CLIENT", "PAUSE", "700") == b"+OK\r\n"
    t0 = time.monotonic()
    s = _send(server.port, b"PING\r\n")
    other.sock.sendall(b"*2\r\n$6\r\nCLIENT\r\n$7\r\nUNPAUSE\r\n")
    assert _recv_exactly(s, 1, 0.3) == b""
    assert _recv_exactly(other.sock, 5, 0.1) == b""  # under ALL, UNPAUSE itself waits, as in Redis
    assert _recv_exactly(s, 7, 5) == b"+PONG\r\n" and time.monotonic() - t0 >= 0.6
    assert _recv_exactly(other.sock, 5, 5) == b"+OK\r\n"
    s.close()


def test_unpause_releases_at_once(server):
    admin = RawConn(server.port)
    assert admin("CLIENT", "PAUSE", "20000", "WRITE") == b"+OK\r\n"
    s = _send(server.port, b"INCR n\r\n")
    assert _recv_exactly(s, 1, 0.3) == b""
    client_list = admin("CLIENT", "LIST")
    waiting = [line for line in client_list.split(b"\n") if b"cmd=incr" in line]
    assert len(waiting) == 1 and b" flags=b " in waiting[0]
    t0 = time.monotonic()
    assert admin("CLIENT", "UNPAUSE") == b"+OK\r\n"
    assert _recv_exactly(s, 4, 5) == b":1\r\n" and time.monotonic() - t0 < 2
    s.close()


def test_multi_queues_reads_but_not_writes(server):
    admin = RawConn(server.port)
    assert admin("CLIENT", "PAUSE", "500", "WRITE") == b"+OK\r\n"
    s = _send(server.port, b"MULTI\r\nGET a\r\nEXEC\r\nMULTI\r\nSET a 1\r\nEXEC\r\n")
    head = b"+OK\r\n+QUEUED\r\n*1\r\n$-1\r\n+OK\r\n"
    assert _recv_exactly(s, len(head), 0.3) == head  # a read-only transaction runs
    assert _recv_exactly(s, 1, 0.1) == b""  # queueing the SET waits
    assert _recv_exactly(s, len(b"+QUEUED\r\n*1\r\n+OK\r\n"), 5) == b"+QUEUED\r\n*1\r\n+OK\r\n"
    s.close()
    # A write queued before the pause: its EXEC waits.
    t = RawConn(server.port)
    assert t("MULTI") == b"+OK\r\n" and t("INCR", "n") == b"+QUEUED\r\n"
    assert admin("CLIENT", "PAUSE", "500", "WRITE") == b"+OK\r\n"
    t.sock.sendall(b"*1\r\n$4\r\nEXEC\r\n")
    assert _recv_exactly(t.sock, 1, 0.3) == b""
    assert _recv_exactly(t.sock, len(b"*1\r\n:1\r\n"), 5) == b"*1\r\n:1\r\n"


def test_keys_do_not_expire_while_paused(server):
    admin = RawConn(server.port)
    admin("SET", "short", "v", "PX", "100")
    assert admin("CLIENT", "PAUSE", "700", "WRITE") == b"+OK\r\n"
    time.sleep(0.3)
    assert admin("GET", "short") == b"$-1\r\n"  # past its TTL: reads as missing...
    assert admin("DBSIZE") == b":1\r\n"  # ...but stays until the pause ends
    assert admin("INFO", "stats").count(b"expired_keys:0\r\n") == 1
    time.sleep(0.6)
    wait_until(lambda: admin("DBSIZE") == b":0\r\n", timeout=5, what="the key to expire after the pause")


def test_a_paused_replica_still_applies_the_stream(holdfast_factory):
    primary = holdfast_factory()
    replica = holdfast_factory("--replicaof", "127.0.0.1", str(primary.port))
    p, rep = primary.client(), replica.client()
    wait_until(lambda: rep.info("replication")["master_link_status"] == "up", what="the link")
    rep.client_pause(3000)  # ALL: the replica's clients wait, its primary's link does not
    p.set("k", "v")
    assert p.execute_command("WAIT", 1, 2000) == 1
    rep.client_unpause()
    assert rep.get("k") == b"v"
