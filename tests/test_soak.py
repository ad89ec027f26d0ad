"""A soak (issue 9), bounded: a primary with `appendonly yes` (everysec) and a
replica, under 200 pipelining clients, blocking pops and pub/sub at once,
for HOLDFAST_SOAK_SECONDS (12 in CI; set it to 300 for a real soak). Every
reply must follow the one before it on its connection, every job pushed is
popped once, every message arrives in order, the primary's memory stops
growing once the dataset has its size, and at the end the replica holds
exactly what the primary holds."""

import os
import threading
import time

import redis
from rdb_dataset import assert_same, contents
from test_replication_primary import wait_until

SECONDS = float(os.environ.get("HOLDFAST_SOAK_SECONDS", "12"))
WRITERS = 200  # connections, shared out over a few threads
THREADS = 8
LIST_CAP = 50  # each writer's list is trimmed to this: the dataset stops growing


def _writers(port, ids, stop, errors, done):
    conns = {i: redis.Redis(port=port, socket_timeout=30) for i in ids}
    counts = dict.fromkeys(ids, 0)
    try:
        while not stop.is_set():
            for i, r in conns.items():
                p = r.pipeline(transaction=False)
                n = 1 + counts[i] % 7
                for _ in range(n):
                    p.incr("ctr:%d" % i)
                p.lpush("list:%d" % i, counts[i])
                p.ltrim("list:%d" % i, 0, LIST_CAP - 1)
                out = p.execute()
                if out[:n] != list(range(counts[i] + 1, counts[i] + n + 1)):
                    errors.append("writer %d: %r after %d" % (i, out[:n], counts[i]))
                    return
                counts[i] += n
    except Exception as e:  # noqa: BLE001 - any failure of a worker fails the test
        errors.append("writers %r: %r" % (ids[:3], e))
    finally:
        done.append(sum(counts.values()))
        for r in conns.values():
            r.close()


def _producer(port, stop, pushed):
    r = redis.Redis(port=port)
    n = 0
    while not stop.is_set():
        r.rpush("jobs:%d" % (n % 4), n)
        n += 1
        if n % 50 == 0:
            time.sleep(0.01)
    pushed.append(n)
    r.close()


def _consumer(port, stop, got, errors):
    r = redis.Redis(port=port, socket_timeout=30)
    try:
        while True:
            item = r.blpop(["jobs:0", "jobs:1", "jobs:2", "jobs:3"], timeout=0.2)
            if item is None:
                if stop.is_set():
                    return
                continue
            got.append(int(item[1]))
    except Exception as e:  # noqa: BLE001
        errors.append("consumer: %r" % e)
    finally:
        r.close()


def _subscriber(port, ready, stop, errors, received):
    r = redis.Redis(port=port, socket_timeout=30)
    ps = r.pubsub()
    ps.subscribe("ticks")
    ready.set()
    last = -1
    try:
        while True:
            m = ps.get_message(ignore_subscribe_messages=True, timeout=0.5)
            if m is None:
                if stop.is_set():
                    break
                continue
            n = int(m["data"])
            if n != last + 1:
                errors.append("subscriber saw %d after %d" % (n, last))
                return
            last = n
    finally:
        received.append(last + 1)
        ps.close()
        r.close()


def test_soak(holdfast_factory):
    primary = holdfast_factory("--appendonly", "yes", "--appendfsync", "everysec")
    replica = holdfast_factory("--replicaof", "127.0.0.1", str(primary.port))
    pr = primary.client()
    wait_until(lambda: replica.client().info("replication")["master_link_status"] == "up", what="the link")
    stop, errors = threading.Event(), []
    done, pushed, got, received = [], [], [], []
    ids = list(range(WRITERS))
    threads = [threading.Thread(target=_writers, args=(primary.port, ids[k::THREADS], stop, errors, done))
               for k in range(THREADS)]
    threads += [threading.Thread(target=_producer, args=(primary.port, stop, pushed))]
    threads += [threading.Thread(target=_consumer, args=(primary.port, stop, got, errors)) for _ in range(6)]
    ready = [threading.Event() for _ in range(4)]
    subs = [threading.Thread(target=_subscriber, args=(primary.port, ready[k], stop, errors, received))
            for k in range(4)]
    for t in threads + subs:
        t.start()
    for e in ready:
        e.wait(10)
    wait_until(lambda: pr.pubsub_numsub("ticks") == [(b"ticks", 4)], what="the subscribers")
    published = 0
    rss = []
    t_end = time.monotonic() + SECONDS
    while time.monotonic() < t_end:
        for _ in range(20):
            pr.publish("ticks", published)
            published += 1
        rss.append(pr.info("memory")["used_memory_rss"])
        time.sleep(0.05)
    stop.set()
    for t in threads + subs:
        t.join(60)
    assert not errors, errors[:3]
    assert sum(done) > WRITERS  # every writer went round more than once
    assert sorted(got) == list(range(pushed[0]))  # every job popped exactly once
    assert received == [published] * 4  # every tick, in order, to every subscriber
    # Memory: the dataset is capped, so the second half of the run may not
    # keep growing the process (leaked buffers, client state, backlog).
    half = rss[len(rss) // 2:]
    assert max(half) - min(half) < 64 * (1 << 20), (min(half), max(half))
    assert pr.execute_command("WAIT", 1, 10000) == 1
    wait_until(lambda: replica.client().dbsize() == pr.dbsize(), what="the replica to catch up")
    assert_same(contents(primary), contents(replica))
