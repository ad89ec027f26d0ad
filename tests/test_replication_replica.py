"""The replica side of replication, against real Redis 7.0: a Holdfast
replica of a redis-server primary (disk and diskless full sync, the stream,
a partial resync after the link is cut, -READONLY), a promotion that the
old primary follows with a partial resync (PSYNC2), and a chain
Holdfast -> Holdfast -> Redis that carries the primary's stream unchanged."""

import os
import time

import pytest
from rdb_dataset import assert_same, contents, dataset, fill
from redis.exceptions import ReadOnlyError
from test_replication_primary import in_sync, wait_until, write_more


def _log(srv):
    with open(srv.logfile, "rb") as f:
        return f.read()


@pytest.mark.parametrize("diskless", ["no", "yes"])
def test_holdfast_replica_of_a_redis_primary(holdfast_factory, redis_factory, diskless):
    primary = redis_factory("--repl-diskless-sync", diskless, "--repl-diskless-sync-delay", "0")
    fill(primary, dataset(seed=3))
    replica = holdfast_factory("--replicaof", "127.0.0.1", str(primary.port))
    wait_until(lambda: in_sync(primary, replica), what="the full sync")
    assert_same(contents(primary), contents(replica))
    assert (b"with EOF" in _log(replica)) == (diskless == "yes")

    write_more(primary)
    wait_until(lambda: in_sync(primary, replica), what="the stream")
    assert_same(contents(primary), contents(replica))

    r = replica.client()
    with pytest.raises(ReadOnlyError, match="You can't write against a read only replica."):
        r.set("x", 1)
    info = r.info("replication")
    assert (info["role"], info["master_port"], info["master_link_status"]) == ("slave", primary.port, "up")
    p = primary.client()
    assert info["master_replid"] == p.info("replication")["master_replid"]
    assert r.execute_command("ROLE") == [b"slave", b"127.0.0.1", primary.port, b"connected",
                                         info["master_repl_offset"]]

    # A cut link costs no full sync: the replica continues with PSYNC.
    assert p.client_kill_filter(_type="replica") == 1
    p.set("while-cut", "1")
    wait_until(lambda: in_sync(primary, replica), what="the partial resync")
    assert r.get("while-cut") == b"1"
    stats = p.info("stats")
    assert (stats["sync_full"], stats["sync_partial_ok"]) == (1, 1)
    r.close()
    p.close()


def test_promotion_keeps_history_for_the_old_primary(holdfast_factory, redis_factory):
    """REPLICAOF NO ONE on the Holdfast replica: its old id becomes replid2,
    so the old Redis primary, turned into its replica, continues with a
    partial resync (PSYNC2)."""
    old_primary = redis_factory("--repl-diskless-sync-delay", "0")
    fill(old_primary, dataset(seed=4))
    hf = holdfast_factory("--replicaof", "127.0.0.1", str(old_primary.port))
    wait_until(lambda: in_sync(old_primary, hf), what="the full sync")
    h, o = hf.client(), old_primary.client()
    old_id = o.info("replication")["master_replid"]
    assert h.execute_command("REPLICAOF", "NO", "ONE") == b"OK"
    info = h.info("replication")
    assert info["role"] == "master" and info["master_replid2"] == old_id
    assert info["second_repl_offset"] == info["master_repl_offset"] + 1
    assert info["master_replid"] != old_id
    h.set("written-after-promotion", "yes")
    o.replicaof("127.0.0.1", hf.port)
    wait_until(lambda: in_sync(hf, old_primary), what="the old primary to follow")
    assert o.get("written-after-promotion") == b"yes"
    assert b"Successful partial resynchronization with master" in _log(old_primary)
    assert h.info("stats")["sync_partial_ok"] == 1 and h.info("stats")["sync_full"] == 0
    assert_same(contents(hf), contents(old_primary))
    h.close()
    o.close()


def test_chain_holdfast_holdfast_redis(holdfast_factory, redis_factory):
    top = holdfast_factory("--repl-ping-replica-period", "1", "--repl-diskless-sync-delay", "0")
    fill(top, dataset(seed=8))
    # The middle must pass the top's PINGs on and send none of its own.
    middle = holdfast_factory("--replicaof", "127.0.0.1", str(top.port), "--repl-ping-replica-period", "1",
                              "--repl-diskless-sync-delay", "0")
    wait_until(lambda: in_sync(top, middle), what="the middle replica")
    bottom = redis_factory("--replicaof", "127.0.0.1", str(middle.port))
    wait_until(lambda: in_sync(middle, bottom), what="the bottom replica")
    write_more(top)
    time.sleep(2.5)  # a few PINGs go down the chain
    wait_until(lambda: in_sync(top, middle) and in_sync(middle, bottom), what="the stream down the chain")
    c_top, c_bottom = contents(top), contents(bottom)
    assert_same(c_top, contents(middle))
    assert_same(c_top, c_bottom)
    t, b = top.client(), bottom.client()
    # One stream, one history: the same id and offset at both ends.
    assert t.info("replication")["master_replid"] == b.info("replication")["master_replid"]
    assert t.info("replication")["master_repl_offset"] == b.info("replication")["master_repl_offset"]
    t.close()
    b.close()


def test_restarted_replica_resumes_with_a_partial_resync(holdfast_factory, redis_factory):
    """The replica's RDB carries repl-id, repl-offset and repl-stream-db: on a
    restart it asks to continue from there (PSYNC), and the stream goes on
    in the database it had SELECTed."""
    primary = redis_factory("--repl-diskless-sync-delay", "0")
    fill(primary, dataset(seed=6))
    replica = holdfast_factory("--replicaof", "127.0.0.1", str(primary.port))
    wait_until(lambda: in_sync(primary, replica), what="the full sync")
    p3 = primary.client(db=3)
    p3.set("in-db-3", "before")  # the stream now has db 3 SELECTed
    wait_until(lambda: in_sync(primary, replica), what="the stream")
    r = replica.client()
    r.shutdown(save=True)
    r.close()
    replica.proc.wait(10)
    p3.set("in-db-3-while-down", "x")  # no SELECT precedes it in the stream
    replica.start()
    wait_until(lambda: in_sync(primary, replica), what="the resumed stream")
    assert replica.client(db=3).get("in-db-3-while-down") == b"x"
    assert_same(contents(primary), contents(replica))
    stats = primary.client().info("stats")
    assert (stats["sync_full"], stats["sync_partial_ok"]) == (1, 1)
    p3.close()


def test_replica_with_appendonly_restarts_on_the_primarys_data(holdfast_factory, redis_factory):
    """A full sync replaces the dataset; the replica's AOF starts again from
    the new one, so a restart on it holds the primary's data, not what the
    replica had before plus the stream."""
    primary = redis_factory("--repl-diskless-sync-delay", "0")
    fill(primary, dataset(seed=12))
    replica = holdfast_factory("--appendonly", "yes", "--appendfsync", "always")
    replica.client().set("stale-before-sync", "x")
    replica.client().replicaof("127.0.0.1", primary.port)
    wait_until(lambda: in_sync(primary, replica), what="the full sync")
    write_more(primary)
    wait_until(lambda: in_sync(primary, replica), what="the stream")
    replica.stop()
    replica.start()  # the same flags: appendonly yes, and no replicaof (it was set at runtime)
    assert replica.client().get("stale-before-sync") is None
    assert_same(contents(primary), contents(replica))


@pytest.mark.parametrize("mode", ["disabled", "swapdb"])
def test_repl_diskless_load_disabled_keeps_the_primarys_rdb(holdfast_factory, redis_factory, mode):
    """repl-diskless-load disabled (the default): the primary's snapshot becomes
    the replica's dump.rdb before it is loaded, as Redis does; swapdb loads it
    from memory only."""
    primary = redis_factory("--repl-diskless-sync-delay", "0")
    fill(primary, dataset(seed=13))
    replica = holdfast_factory("--replicaof", "127.0.0.1", str(primary.port), "--repl-diskless-load", mode)
    wait_until(lambda: in_sync(primary, replica), what="the full sync")
    path = os.path.join(replica.workdir, "dump.rdb")
    assert os.path.exists(path) == (mode == "disabled")
    if mode == "disabled":
        with open(path, "rb") as f:
            assert f.read(5) == b"REDIS"
        assert [n for n in os.listdir(replica.workdir) if n.startswith("temp-")] == []
