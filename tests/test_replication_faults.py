"""Replication links that break: a proxy between primary and replica pauses,
cuts and delays the stream while clients write and WAIT. Every write that
WAIT reported as reached a replica is there at the end, and short outages
cost partial resyncs, not full ones. A replica that dies mid full sync
comes back and completes it."""

import os
import socket
import threading
import time

import pytest
from rdb_dataset import assert_same, contents, dataset, fill
from tcpproxy import TcpProxy
from test_replication_primary import in_sync, wait_until


def _writer(srv, prefix, stop, waited):
    """SET keys in small batches; after each, WAIT 1 500: the keys of a batch
    WAIT confirmed go to `waited`."""
    r = srv.client(socket_timeout=30)
    n = 0
    while not stop.is_set():
        batch = [b"%s:%d" % (prefix, n + i) for i in range(10)]
        p = r.pipeline(transaction=False)
        for k in batch:
            p.set(k, k)
        p.execute()
        n += len(batch)
        if r.execute_command("WAIT", 1, 500) >= 1:
            waited.extend(batch)
    r.close()


@pytest.mark.parametrize("replica_kind", ["holdfast", "redis"])
def test_waited_writes_survive_a_flaky_link(holdfast_factory, redis_factory, replica_kind):
    primary = holdfast_factory("--repl-diskless-sync-delay", "0", "--repl-timeout", "2")
    fill(primary, dataset(seed=2))
    proxy = TcpProxy(primary.port)
    factory = holdfast_factory if replica_kind == "holdfast" else redis_factory
    replica = factory("--replicaof", "127.0.0.1", str(proxy.port), "--repl-timeout", "2")
    try:
        wait_until(lambda: in_sync(primary, replica), what="the full sync")
        stop = threading.Event()
        waited = [[], []]
        writers = [threading.Thread(target=_writer, args=(primary, b"w%d" % i, stop, waited[i])) for i in range(2)]
        for t in writers:
            t.start()
        time.sleep(0.5)
        proxy.cut()  # a broken link
        time.sleep(0.7)
        proxy.delay(0.05)  # a slow one
        time.sleep(0.7)
        proxy.delay(0)
        proxy.pause()  # a stalled one, shorter than repl-timeout
        time.sleep(1.0)
        proxy.resume()
        time.sleep(0.5)
        proxy.cut()
        time.sleep(0.7)
        stop.set()
        for t in writers:
            t.join(30)
        wait_until(lambda: in_sync(primary, replica), timeout=60, what="the replica to catch up")
        r = replica.client()
        keys = waited[0] + waited[1]
        assert len(keys) > 100, "too few writes were confirmed by WAIT to prove anything"
        values = []
        for i in range(0, len(keys), 500):
            values += r.mget(keys[i:i + 500])
        assert [k for k, v in zip(keys, values, strict=True) if v != k] == []
        assert_same(contents(primary), contents(replica))
        stats = primary.client().info("stats")
        assert stats["sync_full"] == 1 and stats["sync_partial_ok"] >= 2  # the cuts cost no full sync
        r.close()
    finally:
        proxy.close()


def test_a_replica_cut_during_its_full_sync_completes_it_later(holdfast_factory):
    primary = holdfast_factory("--repl-diskless-sync", "no")
    big = {0: [(b"k%d" % i, "string", b"v" * 1000, None) for i in range(20000)]}
    fill(primary, big)
    proxy = TcpProxy(primary.port)
    proxy.delay(0.02)  # a slow link: the 20 MB transfer takes a while
    replica = holdfast_factory("--replicaof", "127.0.0.1", str(proxy.port))
    try:
        r = replica.client()
        wait_until(lambda: r.info("replication")["master_sync_in_progress"] == 1, what="the transfer to start")
        proxy.cut()
        proxy.delay(0)
        wait_until(lambda: in_sync(primary, replica), timeout=60, what="the second full sync")
        assert r.dbsize() == 20000 and r.get(b"k19999") == b"v" * 1000
        assert primary.client().info("stats")["sync_full"] == 2
        with open(replica.logfile, "rb") as f:
            assert f.read().count(b"MASTER <-> REPLICA sync started") >= 2
        r.close()
    finally:
        proxy.close()


def test_dataset_survives_replica_kill_and_full_resync(holdfast_factory, redis_factory):
    primary = redis_factory("--repl-diskless-sync-delay", "0")
    fill(primary, dataset(seed=9))
    replica = holdfast_factory("--replicaof", "127.0.0.1", str(primary.port))
    wait_until(lambda: in_sync(primary, replica), what="the full sync")
    replica.stop(sig=9)
    fill(primary, dataset(seed=10))  # written while the replica is dead
    replica.start()  # no RDB of its own: a full resync
    wait_until(lambda: in_sync(primary, replica), what="the full resync")
    assert_same(contents(primary), contents(replica))


def test_replica_serve_stale_data_no(holdfast_factory):
    replica = holdfast_factory("--replicaof", "127.0.0.1", "1", "--replica-serve-stale-data", "no")  # nobody there
    r = replica.client()
    with socket.create_connection(("127.0.0.1", replica.port), timeout=10) as s:
        s.sendall(b"GET k\r\n")
        assert s.makefile("rb").readline() == \
            b"-MASTERDOWN Link with MASTER is down and replica-serve-stale-data is set to 'no'.\r\n"
    assert r.info("replication")["master_link_status"] == "down"  # INFO is allowed (stale flag)
    r.config_set("replica-serve-stale-data", "yes")
    assert r.get("k") is None
    r.close()


def test_a_replica_that_does_not_read_is_dropped_at_its_output_limit(holdfast_factory):
    primary = holdfast_factory("--repl-diskless-sync", "no", "--client-output-buffer-limit", "replica 2mb 1mb 1")
    p = primary.client()
    s = socket.create_connection(("127.0.0.1", primary.port), timeout=10)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    s.sendall(b"PSYNC ? -1\r\n")  # and never reads again
    wait_until(lambda: p.info("replication").get("slave0", {}).get("state") == "online",
               what="the replica to go online")
    for i in range(40):
        p.set("big:%d" % i, "x" * (1 << 20))
    wait_until(lambda: p.info("replication")["connected_slaves"] == 0, what="the replica to be dropped")
    with open(primary.logfile, "rb") as f:
        assert b"for overcoming of output buffer limits" in f.read()
    assert p.dbsize() == 40  # the writes themselves went on
    s.close()
    p.close()


def test_a_slow_diskless_sync_arrives_intact(holdfast_factory):
    """A diskless transfer that takes seconds: nothing (keep-alive newlines
    included) may land inside the streamed RDB."""
    # The child takes ~2.5 s to write (rdb-key-save-delay), then the proxy
    # makes the transfer itself slow: keep-alive newlines are due meanwhile.
    primary = holdfast_factory("--repl-diskless-sync", "yes", "--repl-diskless-sync-delay", "0",
                               "--rdb-key-save-delay", "300")
    fill(primary, {0: [(b"k%d" % i, "string", os.urandom(1000), None) for i in range(8000)]})  # LZF can't shrink it
    proxy = TcpProxy(primary.port)
    proxy.delay(0.02)
    replica = holdfast_factory("--replicaof", "127.0.0.1", str(proxy.port))
    try:
        wait_until(lambda: in_sync(primary, replica), timeout=60, what="the slow diskless sync")
        assert replica.client().dbsize() == 8000
        assert primary.client().info("stats")["sync_full"] == 1  # the first transfer loaded
    finally:
        proxy.close()


def test_writes_refused_at_queue_time_inside_multi(holdfast_factory, redis_factory):
    """As Redis: a write a read-only replica refuses is refused when MULTI
    queues it (-READONLY), and EXEC then aborts; reads queue as usual."""
    primary = redis_factory("--repl-diskless-sync-delay", "0")
    servers = [redis_factory("--replicaof", "127.0.0.1", str(primary.port)),
               holdfast_factory("--replicaof", "127.0.0.1", str(primary.port))]
    transcripts = []
    for srv in servers:
        wait_until(lambda srv=srv: in_sync(primary, srv), what="the full sync")
        with socket.create_connection(("127.0.0.1", srv.port), timeout=10) as s:
            f = s.makefile("rb")
            s.sendall(b"MULTI\r\nGET k\r\nSET k v\r\nEXEC\r\n")
            transcripts.append([f.readline() for _ in range(4)])
    assert transcripts[1] == transcripts[0]
    assert transcripts[0][2].startswith(b"-READONLY") and transcripts[0][3].startswith(b"-EXECABORT")
