"""FAILOVER (replication/failover.py): a coordinated handover from a
primary to one of its replicas, as Redis 6.2+ does it: writes pause, the
target catches up, the roles swap with a partial resync, no acknowledged
write is lost. Errors word for word as redis-server 7.0's; handovers
between Holdfast nodes, and with a real Redis on either side."""

import threading
import time

import pytest
import redis
from tcpproxy import TcpProxy
from test_replication_primary import wait_until


def _link_up(srv, primary_port=None):
    info = srv.client().info("replication")
    return info["role"] == "slave" and info["master_link_status"] == "up" and (
        primary_port is None or info["master_port"] == primary_port)


def _online(primary):
    """The primary counts its replica online (after the replica's first ACK):
    only then may it be a FAILOVER target."""
    info = primary.client().info("replication")
    return info.get("slave0", {}).get("state") == "online"


def _state(srv):
    return srv.client().info("replication")["master_failover_state"]


def _errors(primary, replica_port):
    r = primary.client()
    out = []
    for args in (["ABORT"], ["TO"], ["BLAH"], ["TIMEOUT", "0"], ["TIMEOUT", "-5"], ["TIMEOUT", "x"],
                 ["TO", "127.0.0.1", "x"], ["ABORT", "TIMEOUT", "10"], ["FORCE"], ["TO", "127.0.0.1",
                 str(replica_port), "FORCE"], ["TIMEOUT", "100", "FORCE"], ["TO", "127.0.0.1", "1"],
                 ["TIMEOUT", "1", "TIMEOUT", "2"]):
        try:
            out.append(("ok", r.execute_command("FAILOVER", *args)))
        except redis.ResponseError as e:
            out.append(("err", str(e)))
    return out


@pytest.mark.parametrize("kind", ["holdfast", "redis"])
def test_failover_errors_match_redis(kind, holdfast_factory, redis_factory):
    factory = holdfast_factory if kind == "holdfast" else redis_factory
    primary = factory()
    alone = _errors(primary, 1)
    replica = factory("--replicaof", "127.0.0.1", str(primary.port))
    wait_until(lambda: _link_up(replica), what="replica link")
    wait_until(lambda: primary.client().info("replication").get("slave0", {}).get("state") == "online", what="online")
    with_replica = _errors(primary, replica.port)
    on_replica = _errors(replica, 1)[:3]
    expected_alone = [("err", "No failover in progress.")] + [("err", "syntax error")] * 2 + [
        ("err", "FAILOVER timeout must be greater than 0")] * 2 + [
        ("err", "value is not an integer or out of range")] * 2 + [("err", "syntax error")] + [
        ("err", "FAILOVER requires connected replicas.")] * 4 + [("err", "syntax error")]
    assert alone == expected_alone
    assert with_replica[8:12] == [("err", "FAILOVER with force option requires both a timeout and target HOST and "
                                          "IP.")] * 3 + [("err", "FAILOVER target HOST and PORT is not a replica.")]
    assert on_replica == [("err", "No failover in progress.")] + [("err", "syntax error")] * 2
    with pytest.raises(redis.ResponseError, match="^FAILOVER is not valid when server is a replica.$"):
        replica.client().execute_command("FAILOVER")


def test_failover_hands_over_without_losing_writes(holdfast_factory):
    primary = holdfast_factory()
    target = holdfast_factory("--replicaof", "127.0.0.1", str(primary.port))
    other = holdfast_factory("--replicaof", "127.0.0.1", str(primary.port))
    for r in (target, other):
        wait_until(lambda r=r: _link_up(r), what="replica link")
    wait_until(lambda: primary.client().info("replication")["connected_slaves"] == 2 and all(
        v.get("state") == "online" for k, v in primary.client().info("replication").items()
        if k.startswith("slave") and isinstance(v, dict)), what="replicas online")
    acked = []
    refused = []
    stop = threading.Event()

    def writer():
        c = primary.client(socket_timeout=20)
        i = 0
        while not stop.is_set():
            try:
                c.set("w%d" % i, i)
                acked.append("w%d" % i)
            except redis.ResponseError as e:
                refused.append(e)  # the held writes meet READONLY once we are a replica
                return
            i += 1

    t = threading.Thread(target=writer, daemon=True)
    t.start()
    wait_until(lambda: len(acked) > 300, what="writes before the failover")
    r = primary.client()
    assert r.execute_command("FAILOVER", "TO", "127.0.0.1", target.port) == b"OK"
    wait_until(lambda: _link_up(primary, target.port), what="old primary follows the target")
    t.join(10)
    stop.set()
    assert refused and isinstance(refused[0], redis.ReadOnlyError), refused
    assert _state(primary) == "no-failover"
    new = target.client()
    assert new.info("replication")["role"] == "master"
    assert [k for k, v in zip(acked, new.mget(acked), strict=True) if v is None] == []
    stats = new.info("stats")
    assert (stats["sync_partial_ok"], stats["sync_full"]) == (1, 0)  # the old primary continued its history
    assert "MASTER MODE enabled (failover request from 'id=" in target.log()
    assert "FAILOVER to 127.0.0.1:%d completed." % target.port in primary.log()
    # The other replica stays on the old primary, now chained under the new one.
    new.set("after", "failover")
    wait_until(lambda: other.client().get("after") == b"after" or other.client().get("after") == b"failover",
               what="the chained replica follows")
    with pytest.raises(redis.ReadOnlyError):
        r.set("x", 1)


def test_failover_to_any_replica_picks_one_that_caught_up(holdfast_factory):
    primary = holdfast_factory()
    replica = holdfast_factory("--replicaof", "127.0.0.1", str(primary.port))
    wait_until(lambda: _link_up(replica), what="replica link")
    wait_until(lambda: _online(primary), what="replica online for the primary")
    primary.client().set("k", "v")
    assert primary.client().execute_command("FAILOVER") == b"OK"
    assert "FAILOVER requested to any replica." in primary.log()
    wait_until(lambda: _link_up(primary, replica.port), what="roles swapped")
    assert replica.client().get("k") == b"v"
    assert replica.client().info("replication")["role"] == "master"


def test_failover_timeout_aborts_or_forces(holdfast_factory):
    """A target that cannot catch up (its link stalled): TIMEOUT aborts and
    writes go on; with FORCE the handover happens anyway."""
    primary = holdfast_factory()
    proxy = TcpProxy(primary.port)
    try:
        target = holdfast_factory("--replicaof", "127.0.0.1", str(proxy.port))
        wait_until(lambda: _link_up(target), what="replica link")
        r = primary.client()
        wait_until(lambda: r.info("replication").get("slave0", {}).get("state") == "online", what="online")
        proxy.pause()
        r.set("behind", 1)
        assert r.execute_command("FAILOVER", "TO", "127.0.0.1", target.port, "TIMEOUT", 300) == b"OK"
        assert _state(primary) == "waiting-for-sync"
        paused = threading.Thread(target=lambda: r.set("held", 1))  # waits for the pause to end
        paused.start()
        wait_until(lambda: _state(primary) == "no-failover", what="timeout")
        paused.join(5)
        assert primary.client().get("held") == b"1"
        assert "Replica never caught up before timeout" in primary.log()
        assert r.execute_command("FAILOVER", "TO", "127.0.0.1", target.port, "TIMEOUT", 300, "FORCE") == b"OK"
        wait_until(lambda: "time out exceeded, failing over" in primary.log(), what="forced")
        wait_until(lambda: _link_up(primary, target.port), what="forced handover")
        assert target.client().info("replication")["role"] == "master"
        assert _state(primary) == "no-failover"
    finally:
        proxy.close()


def test_failover_abort_while_waiting(holdfast_factory):
    primary = holdfast_factory()
    proxy = TcpProxy(primary.port)
    try:
        target = holdfast_factory("--replicaof", "127.0.0.1", str(proxy.port))
        wait_until(lambda: _link_up(target), what="replica link")
        r = primary.client()
        proxy.pause()
        r.set("behind", 1)
        assert r.execute_command("FAILOVER") == b"OK"
        with pytest.raises(redis.ResponseError, match="^FAILOVER already in progress.$"):
            r.execute_command("FAILOVER")
        with pytest.raises(redis.ResponseError, match="^REPLICAOF not allowed while failing over.$"):
            r.execute_command("REPLICAOF", "NO", "ONE")
        time.sleep(0.3)
        assert _state(primary) == "waiting-for-sync"
        assert r.execute_command("FAILOVER", "ABORT") == b"OK"
        assert "FAILOVER to any replica aborted: Failover manually aborted" in primary.log()
        assert r.set("free", 1) and _state(primary) == "no-failover"
        assert r.info("replication")["role"] == "master"
    finally:
        proxy.close()


def test_holdfast_primary_hands_over_to_a_redis_replica(holdfast_factory, redis_factory):
    primary = holdfast_factory()
    replica = redis_factory("--replicaof", "127.0.0.1", str(primary.port))
    wait_until(lambda: _link_up(replica), what="redis replica link")
    wait_until(lambda: _online(primary), what="replica online for the primary")
    primary.client().mset({"a": 1, "b": 2})
    assert primary.client().execute_command("FAILOVER", "TO", "127.0.0.1", replica.port) == b"OK"
    wait_until(lambda: _link_up(primary, replica.port), what="holdfast follows redis")
    assert replica.client().info("replication")["role"] == "master"
    assert replica.client().info("stats")["sync_partial_ok"] == 1
    replica.client().set("c", 3)
    wait_until(lambda: primary.client().get("c") == b"3", what="stream from redis")
    assert primary.client().mget("a", "b") == [b"1", b"2"]


def test_redis_primary_hands_over_to_a_holdfast_replica(holdfast_factory, redis_factory):
    primary = redis_factory()
    replica = holdfast_factory("--replicaof", "127.0.0.1", str(primary.port))
    wait_until(lambda: _link_up(replica), what="holdfast replica link")
    wait_until(lambda: _online(primary), what="replica online for the primary")
    primary.client().mset({"a": 1, "b": 2})
    assert primary.client().execute_command("FAILOVER", "TO", "127.0.0.1", replica.port) == b"OK"
    wait_until(lambda: _link_up(primary, replica.port), what="redis follows holdfast")
    assert replica.client().info("replication")["role"] == "master"
    assert replica.client().info("stats")["sync_partial_ok"] == 1
    replica.client().set("c", 3)
    wait_until(lambda: primary.client().get("c") == b"3", what="stream from holdfast")
