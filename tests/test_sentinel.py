"""Holdfast under Debian's redis-sentinel 7.0 (issue 10): three sentinels
watch a Holdfast primary with two Holdfast replicas; they discover the
replicas from INFO replication and each other through the primary's
__sentinel__:hello channel; when the primary dies they promote the replica
that replica-priority allows (MULTI, REPLICAOF NO ONE, CONFIG REWRITE,
CLIENT KILL TYPE normal, EXEC), repoint the other one, which continues with
a partial resync (PSYNC2), and turn the old primary into a replica when it
comes back. Every write acknowledged with WAIT 1 before the failover is
there after it, and redis-py's Sentinel client finds the new primary."""

import threading
import time

import pytest
import redis
from conftest import require_tool
from redis.sentinel import Sentinel
from servers import RealSentinel
from tcpproxy import TcpProxy
from test_replication_primary import wait_until

from engine.config import Config

NAME = "mymaster"
SENTINEL_OPTS = (("down-after-milliseconds", 1000), ("failover-timeout", 10000), ("parallel-syncs", 1))


@pytest.fixture
def sentinels(tmp_path):
    require_tool("redis-sentinel")
    started = []

    def start(primary_port, n=3):
        for i in range(n):
            s = RealSentinel(tmp_path / ("sentinel%d" % i), (NAME, "127.0.0.1", primary_port, 2), SENTINEL_OPTS)
            started.append(s.start())
        return started

    yield start
    for s in started:
        s.stop()


def _sentinel_view(s):
    r = s.client(decode_responses=True)
    return {"replicas": {(x["ip"], x["port"]) for x in r.sentinel_slaves(NAME)},
            "sentinels": len(r.sentinel_sentinels(NAME))}


def _config_lines(path):
    with open(path) as f:
        return [line.strip() for line in f if line.strip() and not line.startswith("#")]


def test_sentinel_fails_over_a_holdfast_primary(holdfast_factory, sentinels):
    primary = holdfast_factory(config_text="appendonly no\n")
    replicas = [holdfast_factory(config_text="replicaof 127.0.0.1 %d\n" % primary.port) for _ in range(2)]
    for r in replicas:
        wait_until(lambda r=r: r.client().info("replication")["master_link_status"] == "up", what="replica link")
    group = sentinels(primary.port)
    wanted = {("127.0.0.1", r.port) for r in replicas}
    for s in group:  # discovery: replicas from INFO, other sentinels from the hello channel
        wait_until(lambda s=s: _sentinel_view(s) == {"replicas": wanted, "sentinels": 2}, timeout=40,
                   what="sentinel %d sees the deployment" % s.port)

    # Writes acknowledged by WAIT 1 (a replica has them) up to the crash.
    acked = []
    stop = threading.Event()

    def writer():
        c = primary.client()
        i = 0
        while not stop.is_set():
            try:
                pipe = c.pipeline(transaction=False)
                keys = ["k%d" % (i + j) for j in range(20)]
                for k in keys:
                    pipe.set(k, k)
                pipe.execute()
                if c.execute_command("WAIT", 1, 1000) >= 1:
                    acked.extend(keys)
            except (redis.ConnectionError, redis.TimeoutError):
                return
            i += 20

    t = threading.Thread(target=writer, daemon=True)
    t.start()
    wait_until(lambda: len(acked) >= 200, what="acknowledged writes")
    primary.kill()
    stop.set()
    t.join(10)

    # The promoted replica: the address all three sentinels agree on, once it
    # says it is a primary. (Asking redis-py's discover_master twice can give
    # two answers mid-failover: it takes the first sentinel that answers.)
    chosen = []

    def promoted_everywhere():
        addrs = {(ip.decode(), int(port)) for ip, port in
                 (s.client().execute_command("SENTINEL", "GET-MASTER-ADDR-BY-NAME", NAME) for s in group)}
        if len(addrs) != 1 or not addrs <= wanted:
            return False
        (addr,) = addrs
        chosen[:] = [r for r in replicas if r.port == addr[1]]
        return chosen[0].client().execute_command("ROLE")[0] == b"master"

    def promoted_for_good():
        # A sentinel that had not yet heard of the first failover can start
        # its own in a later epoch and promote the other replica (seen under
        # load, within a second or two): the agreement must also hold a
        # few seconds later.
        if not promoted_everywhere():
            return False
        first = chosen[0]
        time.sleep(3)
        return promoted_everywhere() and chosen[0] is first

    wait_until(promoted_for_good, timeout=60, what="sentinels agree on a promoted replica")
    (promoted,) = chosen
    (other,) = [r for r in replicas if r is not promoted]
    sentinel = Sentinel([("127.0.0.1", s.port) for s in group], socket_timeout=2)
    wait_until(lambda: sentinel.discover_master(NAME) == ("127.0.0.1", promoted.port), what="redis-py finds it")
    new_primary = sentinel.master_for(NAME, socket_timeout=5)
    assert new_primary.execute_command("ROLE")[0] == b"master"
    missing = [k for k, v in zip(acked, new_primary.mget(acked), strict=True) if v != k.encode()]
    assert missing == [], "%d writes acknowledged by WAIT 1 were lost" % len(missing)

    # The other replica now follows the new primary, with a partial resync
    # (sentinel promotes the replica with the most of the stream). Unless
    # there were two failovers (config epoch 2: a sentinel that lost sight of
    # the first promoted replica for a second promoted the other one): the
    # first promoted replica was then a primary for a few seconds, taking the
    # sentinels' hello PUBLISHes into its own history, and is resynced once,
    # fully if its offset ran past what the new primary had of that history
    # (redis-server refuses that partial resync too; seen in CI at 03caab2).
    wait_until(lambda: (lambda i: i.get("master_port") == promoted.port and i["master_link_status"] == "up")(
        other.client().info("replication")), timeout=60, what="replica repointed")
    stats = promoted.client().info("stats")
    epochs = {int(s.client().sentinel_master(NAME)["config-epoch"]) for s in group}
    if epochs == {1}:
        assert (stats["sync_partial_ok"], stats["sync_full"]) == (1, 0), stats
    else:
        assert epochs == {2} and stats["sync_partial_ok"] + stats["sync_full"] == 1, (epochs, stats)
    new_primary.set("after", "failover")
    wait_until(lambda: other.client().get("after") == b"failover", what="replica follows the new primary")
    replica = sentinel.slave_for(NAME, socket_timeout=5)
    wait_until(lambda: replica.get("after") == b"failover", what="redis-py's replica view")

    # CONFIG REWRITE kept both config files valid and saying the new roles.
    assert not [ln for ln in _config_lines(promoted.conf_path) if ln.startswith(("replicaof", "slaveof"))]
    assert "replicaof 127.0.0.1 %d" % promoted.port in _config_lines(other.conf_path)
    for srv in (promoted, other):
        Config().load_file(srv.conf_path)

    # The old primary returns and is turned into a replica of the new one.
    primary.start()
    wait_until(lambda: (lambda i: i["role"] == "slave" and i.get("master_port") == promoted.port
                        and i["master_link_status"] == "up")(primary.client().info("replication")),
               timeout=60, what="old primary converted to a replica")
    assert primary.client().get("after") == b"failover"
    assert "replicaof 127.0.0.1 %d" % promoted.port in _config_lines(primary.conf_path)


def test_sentinel_reads_priority_and_announced_address(holdfast_factory, sentinels):
    """A replica behind a forwarded port (NAT) announces the address the
    others must use (replica-announce-ip/port); one with replica-priority 0
    is never promoted: SENTINEL FAILOVER finds no replica to promote."""
    primary = holdfast_factory()
    replica = holdfast_factory(start=False)
    proxy = TcpProxy(replica.port)
    try:
        replica.config_text = ("replicaof 127.0.0.1 %d\nreplica-priority 0\nreplica-announce-ip 127.0.0.1\n"
                               "replica-announce-port %d\n" % (primary.port, proxy.port))
        replica.start()
        wait_until(lambda: replica.client().info("replication")["master_link_status"] == "up", what="replica link")
        assert primary.client().info("replication")["slave0"]["port"] == proxy.port
        (s,) = sentinels(primary.port, n=1)
        r = s.client(decode_responses=True)
        wait_until(lambda: [(x["port"], x.get("slave-priority")) for x in r.sentinel_slaves(NAME)]
                   == [(proxy.port, 0)], timeout=30, what="sentinel reads the replica through its announced port")
        with pytest.raises(redis.ResponseError, match="NOGOODSLAVE"):
            r.execute_command("SENTINEL", "FAILOVER", NAME)
    finally:
        proxy.close()
