"""Replication benchmark: full sync time (disk and diskless) and a replica's
lag under write load, Holdfast beside Debian's redis-server.

    python -m bench.replication [--keys 1000000] [--value-size 100] [--rounds 3]
                                [--requests 300000] [--out results/replication] [--no-redis]

For each server kind, a primary and a replica of the same kind are started
(primary pinned to one CPU, replica to the other where the machine has two).
The primary is filled with `--keys` strings of `--value-size` random bytes.
Then, `--rounds` times and for each of disk and diskless
(repl-diskless-sync no|yes, delay 0):

  full sync: REPLICAOF on the replica, until its INFO says the link is up and
             its offset equals the primary's (REPLICAOF NO ONE and FLUSHALL on
             the replica between rounds, so each round is a full sync);

and once per kind, with the replica online:

  partial:   CLIENT KILL TYPE replica, 10,000 writes meanwhile, the time until
             the replica has them (it must be a partial resync);

  lag:       redis-benchmark SET (50 clients, unpipelined, random keys of the
             same size) against the primary; every 100 ms the replica's
             applied offset (INFO slave_repl_offset), then the primary's
             master_repl_offset, are read: lag = the difference. Reported: the primary's
             SET/s, the lag's median and max in bytes, the lag in the first and
             last third of the run (a replica that keeps up shows no growth),
             and the time the replica needs to catch up after the load stops.

Writes OUT/results.json (raw samples), OUT/environment.json, OUT/report.md.
"""

import argparse
import os
import shlex
import shutil
import subprocess
import sys
import tempfile
import threading
import time

from . import procstat
from .memory import query
from .rdb import _info, load_ok, string_batches
from .reporting import run_meta, stats, write_outputs
from .serverproc import ServerProc, exit_on_sigterm, free_port, holdfast_command, pin_cpus, redis_command, taskset

SERVER_NAMES = {"holdfast": "Holdfast", "redis": "redis-server"}


def _in_sync(primary_port, replica_port):
    r = _info(replica_port, "replication")
    p = _info(primary_port, "replication")
    return r.get("master_link_status") == "up" and r.get("slave_repl_offset") == p["master_repl_offset"]


def full_sync(primary_port, replica_port, diskless, timeout=900):
    query(primary_port, "CONFIG", "SET", "repl-diskless-sync", "yes" if diskless else "no")
    query(replica_port, "REPLICAOF", "NO", "ONE")
    query(replica_port, "FLUSHALL")
    t0 = time.monotonic()
    query(replica_port, "REPLICAOF", "127.0.0.1", str(primary_port))
    while not _in_sync(primary_port, replica_port):
        if time.monotonic() - t0 > timeout:
            raise RuntimeError("full sync did not finish in %d s" % timeout)
        time.sleep(0.01)
    return time.monotonic() - t0


def lag_under_load(primary_port, replica_port, requests, value_size, cpu, bench_bin):
    samples = []
    stop = threading.Event()

    def sample():
        while not stop.is_set():
            applied = int(_info(replica_port, "replication")["slave_repl_offset"])
            sent = int(_info(primary_port, "replication")["master_repl_offset"])
            samples.append((time.monotonic(), max(sent - applied, 0)))
            time.sleep(0.1)

    t = threading.Thread(target=sample, daemon=True)
    t.start()
    cmd = taskset(cpu) + [bench_bin, "-p", str(primary_port), "-t", "set", "-c", "50", "-n", str(requests),
                          "-r", "1000000", "-d", str(value_size), "--csv"]
    t0 = time.monotonic()
    out = subprocess.run(cmd, capture_output=True, text=True, check=True).stdout
    load_s = time.monotonic() - t0
    stop.set()
    t.join()
    rps = float(out.strip().splitlines()[-1].split(",")[1].strip('"'))
    t1 = time.monotonic()
    while not _in_sync(primary_port, replica_port):
        if time.monotonic() - t1 > 300:
            raise RuntimeError("the replica did not catch up")
        time.sleep(0.01)
    catch_up = time.monotonic() - t1
    lags = [lag for _, lag in samples]
    third = max(1, len(lags) // 3)
    return {"set_per_s": rps, "load_s": load_s, "lag_median": stats(lags)["median"], "lag_max": max(lags),
            "lag_first_third": stats(lags[:third])["median"], "lag_last_third": stats(lags[-third:])["median"],
            "catch_up_s": catch_up, "lag_samples": lags}


def partial_resync(primary_port, replica_port, writes=10000, value_size=100):
    """Cut the replica's link (CLIENT KILL TYPE replica on the primary), write
    `writes` keys while it reconnects, and time from the cut until the
    replica has applied them all; it must be a partial resync."""
    before = int(_info(primary_port, "stats")["sync_partial_ok"])
    batches = string_batches(writes, value_size, seed=99, prefix="cut")
    t0 = time.monotonic()
    query(primary_port, "CLIENT", "KILL", "TYPE", "replica")
    load_ok(primary_port, batches)
    while not _in_sync(primary_port, replica_port):
        if time.monotonic() - t0 > 300:
            raise RuntimeError("the replica did not resync")
        time.sleep(0.005)
    secs = time.monotonic() - t0
    if int(_info(primary_port, "stats")["sync_partial_ok"]) != before + 1:
        raise RuntimeError("the link cut cost a full sync")
    return secs


def measure(name, mk, keys, value_size, rounds, requests, workdir, cpus, bench_bin):
    pp, rp = free_port(), free_port()
    d = os.path.join(workdir, name)
    os.makedirs(os.path.join(d, "p"))
    os.makedirs(os.path.join(d, "r"))
    extra = ["--repl-diskless-sync-delay", "0", "--repl-backlog-size", "64mb"]
    primary = ServerProc(name, mk(pp, extra), pp, cwd=os.path.join(d, "p"), logpath=os.path.join(d, "p.log"),
                         cpu=cpus[0])
    replica = ServerProc(name, mk(rp, extra), rp, cwd=os.path.join(d, "r"), logpath=os.path.join(d, "r.log"),
                         cpu=cpus[1])
    primary.start()
    replica.start()
    out = {"server": name, "sync": [], "lag": None, "partial_resync_s": []}
    try:
        load_ok(pp, string_batches(keys, value_size))
        for rnd in range(1, rounds + 1):
            for diskless in (False, True):
                secs = full_sync(pp, rp, diskless)
                out["sync"].append({"round": rnd, "diskless": diskless, "seconds": secs})
                print("  %-8s round %d: full sync %-8s %.2f s" % (name, rnd, "diskless" if diskless else "disk",
                                                                   secs), flush=True)
        for rnd in range(1, rounds + 1):
            secs = partial_resync(pp, rp, value_size=value_size)
            out["partial_resync_s"].append(secs)
            print("  %-8s round %d: partial resync after a cut, 10000 writes behind: %.2f s" % (name, rnd, secs),
                  flush=True)
        if bench_bin:
            out["lag"] = lag_under_load(pp, rp, requests, value_size, cpus[1], bench_bin)
            lag = out["lag"]
            print("  %-8s lag under load: %.0f SET/s, lag median %d B, max %d B, first/last third %d/%d B, "
                  "catch-up %.2f s" % (name, lag["set_per_s"], lag["lag_median"], lag["lag_max"],
                                       lag["lag_first_third"], lag["lag_last_third"], lag["catch_up_s"]),
                  flush=True)
    finally:
        replica.stop()
        primary.stop()
    return out


def render_report(results, env, meta):
    lines = ["# Replication benchmark: Holdfast and redis-server", "",
             "Run %s, commit `%s`:" % (meta["date"], env.get("git_commit")), "", "    " + meta["command"], "",
             "Machine: %s, %s CPUs, %s; Python %s; %s." % (env.get("cpu_model"), env.get("cpu_count"),
                                                            env.get("kernel"), env.get("python"),
                                                            env.get("redis_server", "no redis-server")),
             "Pinning: %s." % meta.get("pinning", "none"), "",
             "%d keys of %d bytes, primary and replica of the same kind on loopback, %d round(s); medians with "
             "[min-max]." % (meta["keys"], meta["value_size"], meta["rounds"]), "",
             "## Full sync", "",
             "| server | disk s | diskless s |", "|---|---:|---:|"]
    med = {}
    for r in results:
        row = []
        for diskless in (False, True):
            st = stats([s["seconds"] for s in r["sync"] if s["diskless"] == diskless])
            med[(r["server"], diskless)] = st["median"]
            row.append("%.2f [%.2f-%.2f]" % (st["median"], st["min"], st["max"]))
        lines.append("| %s | %s | %s |" % (SERVER_NAMES[r["server"]], row[0], row[1]))
    if ("redis", False) in med:
        lines += ["", "Holdfast / redis-server time: disk %.2fx, diskless %.2fx (target: within 4x)." % (
            med[("holdfast", False)] / med[("redis", False)], med[("holdfast", True)] / med[("redis", True)])]
    lines += ["", "## Partial resync after a cut", "",
              "CLIENT KILL TYPE replica on the primary, then 10,000 keys written while the replica reconnects; the "
              "time from the cut until the replica has applied them (a partial resync each time: checked).", "",
              "| server | seconds |", "|---|---:|"]
    for r in results:
        st = stats(r.get("partial_resync_s") or [])
        if st:
            lines.append("| %s | %.2f [%.2f-%.2f] |" % (SERVER_NAMES[r["server"]], st["median"], st["min"], st["max"]))
    lines += ["", "## A replica under write load", "",
              "redis-benchmark -t set -c 50 -n %d -r 1000000 -d %d against the primary; lag = the primary's "
              "master_repl_offset minus the replica's applied offset (slave_repl_offset, read just before), sampled "
              "every 100 ms." % (
                  meta["requests"], meta["value_size"]), "",
              "| server | primary SET/s | lag median B | lag max B | lag first third B | lag last third B | "
              "catch-up s |", "|---|---:|---:|---:|---:|---:|---:|"]
    for r in results:
        lag = r["lag"]
        if lag:
            lines.append("| %s | %.0f | %d | %d | %d | %d | %.2f |" % (
                SERVER_NAMES[r["server"]], lag["set_per_s"], lag["lag_median"], lag["lag_max"],
                lag["lag_first_third"], lag["lag_last_third"], lag["catch_up_s"]))
    lines += ["", "Raw samples: `results.json`; machine and versions: `environment.json`.", ""]
    return "\n".join(lines)


def parse_args(argv=None):
    ap = argparse.ArgumentParser(prog="python -m bench.replication", description=__doc__.splitlines()[0])
    ap.add_argument("--keys", type=int, default=1000000)
    ap.add_argument("--value-size", type=int, default=100)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--requests", type=int, default=300000)
    ap.add_argument("--out", default=os.path.join("results", "replication"))
    ap.add_argument("--no-redis", action="store_true", help="measure Holdfast only")
    return ap.parse_args(argv)


def main(argv=None):
    exit_on_sigterm()
    opts = parse_args(argv)
    redis_bin = None if opts.no_redis else procstat.tool("redis-server")
    bench_bin = procstat.tool("redis-benchmark")
    pins = pin_cpus()
    cpus = pins if pins else (None, None)
    meta = run_meta("bench.replication", argv, pins, "the replica and redis-benchmark")
    meta.update({"rounds": opts.rounds, "keys": opts.keys, "value_size": opts.value_size,
                 "requests": opts.requests})
    servers = [("holdfast", holdfast_command)]
    if redis_bin:
        servers.append(("redis", lambda p, extra=(): redis_command(redis_bin, p, extra)))
    meta["server_commands"] = {name: shlex.join(mk("PORT")) for name, mk in servers}
    workdir = tempfile.mkdtemp(prefix="holdfast-repl-")
    results = []
    try:
        for name, mk in servers:
            results.append(measure(name, mk, opts.keys, opts.value_size, opts.rounds, opts.requests, workdir, cpus,
                                   bench_bin))
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    write_outputs(opts.out, {"meta": meta, "results": results}, meta, lambda env: render_report(results, env, meta),
                  redis_bin, bench_bin)
    return 0


if __name__ == "__main__":
    sys.exit(main())
