"""`appendfsync always` with its fdatasync in a thread (aof/groupsync.py):
replies wait for the sync that covers them while the main thread runs the
next group. Real processes: many clients at once keep their replies in
order and see each other's writes, blocked clients, MULTI, a replica and
runtime policy changes go through the held groups, and every acknowledged
write is on disk after a kill -9. (Power loss, where an unsynced write
would really vanish, is tests/test_durability.py's crash harness.)"""

import threading

import pytest
import redis

CLIENTS = 12
ROUNDS = 40


def _worker(port, n, errors, acked):
    """INCR a counter of its own through pipelines of growing size, reading
    a neighbour's counter in between: every reply must follow the one before."""
    r = redis.Redis(port=port)
    mine, theirs = "c%d" % n, "c%d" % ((n + 1) % CLIENTS)
    value, seen = 0, 0
    try:
        for rnd in range(ROUNDS):
            p = r.pipeline(transaction=False)
            size = 1 + rnd % 17
            for _ in range(size):
                p.incr(mine)
            p.get(theirs)
            out = p.execute()
            if out[:size] != list(range(value + 1, value + size + 1)):
                errors.append("client %d: %r after %d" % (n, out[:size], value))
                return
            value += size
            acked[n] = value
            neighbour = int(out[size] or 0)
            if neighbour < seen:  # a neighbour's counter never goes back
                errors.append("client %d saw %s go from %d to %d" % (n, theirs, seen, neighbour))
                return
            seen = neighbour
    except Exception as e:  # noqa: BLE001 - any failure of a worker fails the test
        errors.append("client %d: %r" % (n, e))
    finally:
        r.close()


BACKENDS = {"kernel-aio": "is queued to the kernel (Linux AIO)", "thread": "runs in a thread"}


@pytest.mark.parametrize("backend", sorted(BACKENDS))
def test_many_clients_keep_order_and_everything_acknowledged_survives(holdfast_factory, monkeypatch, backend):
    if backend == "thread":
        monkeypatch.setenv("HOLDFAST_AOF_SYNC", "thread")  # the fallback where Linux AIO is missing
    srv = holdfast_factory("--appendonly", "yes", "--appendfsync", "always")
    errors, acked = [], [0] * CLIENTS
    threads = [threading.Thread(target=_worker, args=(srv.port, n, errors, acked)) for n in range(CLIENTS)]
    for t in threads:
        t.start()
    admin = srv.client()
    # The policy changes under load: a held group must still be released,
    # in order, when the policy is no longer always.
    for policy in ("everysec", "always", "no", "always"):
        admin.config_set("appendfsync", policy)
    admin.bgrewriteaof()  # switches incremental files while groups are in flight
    for t in threads:
        t.join(120)
    assert not errors, errors
    assert sum(acked) == CLIENTS * sum(1 + rnd % 17 for rnd in range(ROUNDS))
    assert "appendfsync always: each group's fdatasync " + BACKENDS[backend] in srv.log()
    srv.kill()
    srv.start()
    r = srv.client()
    for n in range(CLIENTS):
        assert int(r.get("c%d" % n)) == acked[n]


def test_blocked_clients_transactions_and_replicas_under_always(holdfast_factory):
    primary = holdfast_factory("--appendonly", "yes", "--appendfsync", "always")
    replica = holdfast_factory("--replicaof", "127.0.0.1", str(primary.port))
    r = primary.client()
    waiter = primary.client()
    popped = []
    t = threading.Thread(target=lambda: popped.append(waiter.blpop("queue", 10)))
    t.start()
    while r.info("clients")["blocked_clients"] != 1:
        pass
    r.rpush("queue", "job")  # the woken client's reply waits for this push's sync
    t.join(10)
    assert popped == [(b"queue", b"job")]
    p = r.pipeline(transaction=True)
    p.set("a", 1).incr("a").get("a")
    assert p.execute() == [True, 2, b"2"]
    assert r.execute_command("WAIT", 1, 10000) == 1
    assert replica.client().get("a") == b"2"
    assert r.info("persistence")["aof_last_write_status"] == "ok"
    primary.kill()
    primary.start()
    assert primary.client().get("a") == b"2"
