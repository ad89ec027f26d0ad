"""The built-in load generator, for what redis-benchmark cannot do: a mixed
read/write ratio, keys drawn from a Zipf distribution, and verification of
every value read. It runs in several processes (pinned to the client CPUs
where given), so Python is not the bottleneck of a point more than it must
be; the report names it as the generator of these figures.

A test name `mixed:R` means a fraction R of GETs (the rest SETs); keys are
`key:<n>` with n drawn from Zipf(s) over the keyspace (s = 0: uniform).
Every value written for key n is `val:<n>:` padded to the value size, so a
GET must return nil (never written) or a value that starts with its own key's
prefix: anything else counts as a verification error.
"""

import multiprocessing
import os
import signal
import socket
import time

import hiredis
import numpy as np


def parse_test(name):
    """`mixed:0.9` -> 0.9 (the read fraction); None for other tests."""
    if not name.startswith("mixed"):
        return None
    _, _, ratio = name.partition(":")
    r = float(ratio) if ratio else 0.5
    if not 0.0 <= r <= 1.0:
        raise ValueError("mixed:R needs 0 <= R <= 1")
    return r


def key_sampler(keyspace, s, seed):
    """A function n -> array of n key indexes in [0, keyspace), Zipf(s)."""
    rng = np.random.default_rng(seed)
    if s <= 0:
        return lambda n: rng.integers(0, keyspace, n)
    weights = 1.0 / np.power(np.arange(1, keyspace + 1, dtype=np.float64), s)
    cdf = np.cumsum(weights / weights.sum())
    return lambda n: np.minimum(np.searchsorted(cdf, rng.random(n)), keyspace - 1)


def _value(n, size):
    head = b"val:%d:" % n
    return head + b"x" * max(0, size - len(head))


def _worker(args):
    host, port, conns, requests, pipeline, read_ratio, keyspace, zipf_s, size, seed, cpus = args
    if cpus:
        os.sched_setaffinity(0, cpus)
    sample = key_sampler(keyspace, zipf_s, seed)
    rng = np.random.default_rng(seed + 1)
    socks = [socket.create_connection((host, port)) for _ in range(conns)]
    readers = [hiredis.Reader() for _ in socks]
    lat, errors, done = [], 0, 0
    t0 = time.perf_counter()
    while done < requests:
        batch = min(pipeline, requests - done)
        sent = []
        for s in socks:
            keys = sample(batch)
            reads = rng.random(batch) < read_ratio
            out = []
            for k, is_read in zip(keys.tolist(), reads.tolist(), strict=True):
                key = b"key:%d" % k
                if is_read:
                    out.append(b"*2\r\n$3\r\nGET\r\n$%d\r\n%s\r\n" % (len(key), key))
                else:
                    v = _value(k, size)
                    out.append(b"*3\r\n$3\r\nSET\r\n$%d\r\n%s\r\n$%d\r\n%s\r\n" % (len(key), key, len(v), v))
            sent.append((time.perf_counter(), keys.tolist(), reads.tolist()))
            s.sendall(b"".join(out))
        for s, r, (ts, keys, reads) in zip(socks, readers, sent, strict=True):
            got = []
            while len(got) < len(keys):
                reply = r.gets()
                if reply is False:
                    r.feed(s.recv(1 << 16))
                    continue
                got.append(reply)
            lat.append((time.perf_counter() - ts) * 1000.0)
            for k, is_read, reply in zip(keys, reads, got, strict=True):
                if isinstance(reply, hiredis.ReplyError):
                    errors += 1
                elif is_read and reply is not None and not reply.startswith(b"val:%d:" % k):
                    errors += 1
        done += batch
    elapsed = time.perf_counter() - t0
    for s in socks:
        s.close()
    return {"requests": done * len(socks), "elapsed": elapsed, "latencies_ms": lat, "errors": errors}


def run(port, read_ratio, clients, pipeline, requests, value_size, keyspace, zipf_s=0.99, procs=2, cpus=None,
        host="127.0.0.1"):
    """The figures of one mixed run: requests/s over all processes, the
    latency percentiles of each pipelined batch's round trip, and errors."""
    procs = max(1, min(procs, clients))
    per_proc_conns = [clients // procs + (1 if i < clients % procs else 0) for i in range(procs)]
    per_conn = max(1, requests // clients)
    cpu_list = sorted(int(c) for c in str(cpus).split(",")) if cpus not in (None, "") else []
    jobs = [(host, port, n, per_conn, pipeline, read_ratio, keyspace, zipf_s, value_size, 1000 + i,
             {cpu_list[i % len(cpu_list)]} if cpu_list else None) for i, n in enumerate(per_proc_conns)]
    ctx = multiprocessing.get_context("fork")
    # Workers get SIGTERM's default back (a harness that turns SIGTERM into
    # SystemExit must not pass that on), and the pool is closed and joined
    # rather than terminated: Pool.terminate could hang on a worker blocked
    # on the task queue's lock while its SIGTERM handler ran.
    pool = ctx.Pool(procs, initializer=signal.signal, initargs=(signal.SIGTERM, signal.SIG_DFL))
    try:
        results = pool.map(_worker, jobs)
        pool.close()
    except BaseException:
        pool.terminate()
        raise
    finally:
        pool.join()
    total = sum(r["requests"] for r in results)
    elapsed = max(r["elapsed"] for r in results)
    lat = np.array([x for r in results for x in r["latencies_ms"]] or [0.0])
    return {"rps": total / elapsed if elapsed else 0.0, "p50_ms": float(np.percentile(lat, 50)),
            "p99_ms": float(np.percentile(lat, 99)), "p999_ms": float(np.percentile(lat, 99.9)),
            "errors": sum(r["errors"] for r in results), "requests_made": total}
