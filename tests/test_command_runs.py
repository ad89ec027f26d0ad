"""Command runs (Server.run_batch with the GET/SET runners of
engine/commands/string_runs.py): a pipeline's consecutive plain GETs or SETs
run in one loop. Whatever a run meets (misses, TTLs, wrong types, big
values, other commands, either case of the name) must come out exactly as
redis-server answers it, with the same statistics, and reach WATCH, the AOF
and replicas as the same writes."""

import socket
import time

import pytest
from rawresp import RawConn, encode, info_fields, parse, read_replies, start_clean


def _pipeline(port, reqs):
    """Send every request in one write (one read, one batch for the server);
    return the list of raw replies."""
    with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
        s.sendall(b"".join(encode(*r) for r in reqs))
        return read_replies(s, len(reqs))


def _mixed_requests():
    big = b"v" * 5000
    reqs = [("SET", "ttl", "x", "EX", "100"), ("RPUSH", "list", "a"), ("SET", "bigval", big), ("SET", "h", "1")]
    for i in range(40):  # a run of SETs, upper and lower case names
        reqs.append(("SET" if i % 3 else "set", "k%d" % (i % 25), "v%d" % i))
    reqs += [("SET", "ttl", "y"), ("SET", "list", "now a string")]  # a TTL and a list overwritten inside a run
    reqs += [("SET", "k1", "z")] * 3
    reqs += [("GET", "k%d" % i) for i in range(30)]  # hits and misses
    reqs += [("GET", "ttl"), ("GET", "bigval"), ("get", "k2"), ("GET", "list"), ("GET", "k3")]
    reqs += [("RPUSH", "list2", "a"), ("GET", "list2"), ("GET", "k4"), ("GET", "k5", "extra"), ("GET", "k6")]
    reqs += [("EXPIRE", "list2", "100"), ("GET", "k1"), ("GET", "list2"), ("GET", "k2")]  # a wrong type with a TTL
    reqs += [("GET",), ("GET", "k7"), ("SET", "k11", "v"), ("SET", "k12"), ("SET", "k13", "v")]  # arity errors in runs
    reqs += [("SET", "e", "1"), ("PEXPIRE", "e", "1"), ("SET", "k7", "after")]
    reqs += [("SET", "k8", "v", "NX"), ("SET", "k8", "w"), ("INCR", "k9"), ("SET", "k10", "v"), ("GET", "k10")]
    # A transaction and another database in the middle of runs: queued, not run.
    reqs += [("SET", "t1", "a"), ("MULTI",), ("SET", "t1", "b"), ("GET", "t1"), ("SET", "t2", "c"), ("EXEC",)]
    reqs += [("GET", "t1"), ("SELECT", "2"), ("GET", "t1"), ("SET", "t1", "db2"), ("GET", "t1")]
    reqs += [("SET", "a", "1"), ("SET", "b", "2"), ("SET", "a", "3"), ("GET", "a"), ("SELECT", "0")]  # only strings
    reqs += [("GET", "t1"), ("GET", "t2")]
    return reqs


def _stats(port):
    conn = RawConn(port)
    try:
        cs, st, es = info_fields(conn, "commandstats"), info_fields(conn, "stats"), info_fields(conn, "errorstats")
        keys = sorted(parse(conn("KEYS", "*")))
        data = {}
        for k in keys:
            t = parse(conn("TYPE", k))
            data[k] = (t, parse(conn("TTL", k)), parse(conn("GET", k)) if t == b"string" else None)
    finally:
        conn.close()
    calls = {k: v.split(",")[0] for k, v in cs.items() if k in ("cmdstat_get", "cmdstat_set")}
    failed = {k: v.split(",")[3] for k, v in cs.items() if k in ("cmdstat_get", "cmdstat_set")}
    return calls, failed, (st["keyspace_hits"], st["keyspace_misses"]), es, data


@pytest.mark.interop
def test_runs_answer_as_redis(hf_server, real_redis_server):
    start_clean(hf_server.port, real_redis_server.port)
    reqs = _mixed_requests()
    ours = _pipeline(hf_server.port, reqs)
    theirs = _pipeline(real_redis_server.port, reqs)
    for req, a, b in zip(reqs, ours, theirs, strict=True):
        assert a == b, req
    time.sleep(0.05)  # let the 1 ms TTL lapse on both
    a, b = _stats(hf_server.port), _stats(real_redis_server.port)
    assert a == b


def test_run_of_sets_breaks_a_watch(hf_server):
    import redis

    r = redis.Redis(port=hf_server.port)
    r.flushall()
    p = r.pipeline(transaction=True)
    p.watch("w")
    _pipeline(hf_server.port, [("SET", "a", "1"), ("SET", "w", "2"), ("SET", "b", "3")])
    p.multi()
    p.set("w", "mine")
    with pytest.raises(redis.WatchError):
        p.execute()
    assert r.get("w") == b"2"
    r.close()


def test_slowlog_still_sees_each_command_when_its_threshold_is_low(hf_server):
    """Under a 1 ms threshold, runs are off: every SET is timed alone."""
    import redis

    r = redis.Redis(port=hf_server.port)
    r.config_set("slowlog-log-slower-than", 0)
    try:
        r.slowlog_reset()
        _pipeline(hf_server.port, [("SET", "s%d" % i, "v") for i in range(20)])
        logged = [e["command"] for e in r.slowlog_get(128)]
        assert sum(1 for cmd in logged if cmd.startswith(b"SET s")) == 20
    finally:
        r.config_set("slowlog-log-slower-than", 10000)
        r.close()


def test_runs_reach_aof_and_replica(holdfast_factory):
    """A run of SETs is one write to the AOF and the replication stream:
    a restart on the AOF and a replica both hold every key, in order."""
    import redis

    primary = holdfast_factory("--appendonly", "yes", "--appendfsync", "always")
    replica = holdfast_factory("--replicaof", "127.0.0.1", str(primary.port))
    rr = redis.Redis(port=replica.port)
    deadline = time.monotonic() + 20
    while rr.info("replication")["master_link_status"] != "up":
        assert time.monotonic() < deadline
        time.sleep(0.05)
    reqs = [("SELECT", "3")] + [("SET", "key%d" % (i % 150), "v%d" % i) for i in range(400)]
    reqs += [("SET", "key0", "last"), ("GET", "key0"), ("SELECT", "0"), ("SET", "db0", "x")]
    replies = _pipeline(primary.port, reqs)
    assert replies[-3] == b"$4\r\nlast\r\n"
    pr = redis.Redis(port=primary.port)
    assert pr.execute_command("WAIT", 1, 5000) == 1
    want = {b"key%d" % (i % 150): b"v%d" % i for i in range(400)}
    want[b"key0"] = b"last"
    rr3 = redis.Redis(port=replica.port, db=3)
    assert {k: rr3.get(k) for k in rr3.keys()} == want
    assert rr.get("db0") == b"x"
    pr.close()
    primary.stop()
    primary.start()
    pr3 = redis.Redis(port=primary.port, db=3)
    assert {k: pr3.get(k) for k in pr3.keys()} == want
    assert redis.Redis(port=primary.port).get("db0") == b"x"
    for c in (pr3, rr3, rr):
        c.close()
