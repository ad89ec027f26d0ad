"""`make demo`: start a Holdfast server from results/demo/holdfast.conf, talk
to it, put a short load on it, write results/demo/report.md and stop it.

    python -m bench.demo [--requests 100000] [--clients 50] [--pipelines 1,16]
                         [--port 6390] [--loader auto|redis-benchmark|python]
                         [--out results/demo]

Then BGSAVE, a restart on its append-only file, and a check that every key
came back; then a second Holdfast, with its own append-only file, becomes
a replica of the first: a full sync, writes confirmed with WAIT, both
datasets compared; then a short `holdfast-bench sweep` against the primary
(results/demo/sweep/), after which the replica must still match. The
servers are always stopped on the way out, on errors, Ctrl-C and SIGTERM
too. Each step is a function. Everything it writes (report.md, holdfast.log,
data/, replica.log, replica-data/, sweep/) goes under --out, results/demo
unless told; the server's config is always results/demo/holdfast.conf.
Each run starts on empty data/ and replica-data/ (the previous run's are
removed first). A check that fails (keys lost across the restart, a replica
that differs from its primary) is marked in the report, named on stderr and
makes the exit status 1, once the report is written and the servers stopped;
a sweep that fails or is interrupted stops the demo there.
"""

import argparse
import datetime
import os
import re
import shlex
import shutil
import sys
import time
import types

from . import procstat
from .memory import info_fields, query
from .quick import _csv_list, benchmark_command, measure_server
from .rdb import load_ok, string_batches
from .serverproc import ROOT, ServerProc, exit_on_sigterm, free_port, pin_cpus

DEMO_DIR = os.path.join(ROOT, "results", "demo")
CONFIG = os.path.join(DEMO_DIR, "holdfast.conf")
DEFAULT_PORT = 6390
PYTHON_LOADER_MAX = 20000  # the redis-py fallback is slow: keep the demo short
DEMO_KEYS = 100000  # written before the BGSAVE, so the snapshot has something to show


def parse_args(argv=None):
    ap = argparse.ArgumentParser(prog="python -m bench.demo", description=__doc__.splitlines()[0])
    ap.add_argument("--requests", type=int, default=100000)
    ap.add_argument("--clients", type=int, default=50)
    ap.add_argument("--pipelines", type=lambda t: _csv_list(t, int), default=[1, 16])
    ap.add_argument("--port", type=int, default=DEFAULT_PORT, help="used when free, else any free port")
    ap.add_argument("--loader", choices=("auto", "redis-benchmark", "python"), default="auto")
    ap.add_argument("--out", default=DEMO_DIR,
                    help="the demo's directory: report.md, the logs, data/, replica-data/ and sweep/ go there")
    return ap.parse_args(argv)


def shown(path):
    """`path` as the report names it: relative to the repo root when inside it."""
    rel = os.path.relpath(path, ROOT)
    return path if rel.startswith(os.pardir) else rel


def server_args(port, demo_dir=DEMO_DIR):
    """The demo server's arguments after `python -m engine`. The config's `dir`
    is relative to the repo root (results/demo/data); another demo directory
    gets its own data/ with --dir."""
    args = [CONFIG, "--port", str(port)]
    if os.path.abspath(demo_dir) != DEMO_DIR:
        args += ["--dir", os.path.join(os.path.abspath(demo_dir), "data")]
    return args


def fresh_run_files(demo_dir=DEMO_DIR):
    """Remove data/, replica-data/ and the two servers' logs under `demo_dir`
    (a link there is removed, not followed; nothing outside `demo_dir` is
    touched), so a run starts on no dataset and no AOF of a previous one, and
    the logs the report points to hold this run's lines only (the servers
    append to them: the primary is restarted within a run)."""
    for name in ("data", "replica-data", "holdfast.log", "replica.log"):
        path = os.path.join(os.path.abspath(demo_dir), name)
        if os.path.islink(path) or os.path.isfile(path):
            os.remove(path)
        elif os.path.isdir(path):
            shutil.rmtree(path)


def start_server(port, cpu, demo_dir=DEMO_DIR):
    """Holdfast with the demo config, its log and data in `demo_dir`."""
    os.makedirs(os.path.join(demo_dir, "data"), exist_ok=True)
    argv = [sys.executable, "-m", "engine", *server_args(port, demo_dir)]
    srv = ServerProc("holdfast", argv, port, cwd=ROOT, logpath=os.path.join(demo_dir, "holdfast.log"), cpu=cpu)
    return srv.start()


def tour(port):
    """A few commands over the wire, as a user's first session would go."""
    import redis  # noqa: PLC0415 - redis-py comes with the `bench` extra

    lines = []
    r = redis.Redis(host="127.0.0.1", port=port, socket_timeout=10, decode_responses=True)
    r.response_callbacks.clear()  # show replies as the server sent them (PONG, OK), not as True
    try:
        for argv in (("PING",), ("SET", "demo:greeting", "hello from holdfast"), ("GET", "demo:greeting"),
                     ("SET", "demo:counter", "41", "EX", "3600"), ("GET", "demo:counter")):
            try:
                reply = r.execute_command(*argv)
            except redis.ResponseError as e:
                reply = "(error) %s" % e
            lines.append("%s -> %r" % (" ".join(argv), reply))
        try:
            raw = r.execute_command("INFO", "server")
            info = dict(ln.split(":", 1) for ln in raw.splitlines() if ":" in ln and not ln.startswith("#"))
            lines.append("INFO server: redis_version=%s process_id=%s tcp_port=%s" % (
                info.get("redis_version"), info.get("process_id"), info.get("tcp_port")))
        except redis.ResponseError as e:
            lines.append("INFO -> (error) %s" % e)
    finally:
        r.close()
    return lines


def load(srv, opts, client_cpu):
    """SET and GET at each pipeline depth; the loader is redis-benchmark when
    installed, else bench.quick's redis-py fallback."""
    bench_bin = None if opts.loader == "python" else procstat.tool("redis-benchmark")
    if bench_bin is None and opts.loader == "redis-benchmark":
        raise SystemExit("redis-benchmark is not installed (apt-get install redis-tools)")
    requests = opts.requests if bench_bin else min(opts.requests, PYTHON_LOADER_MAX)
    qopts = types.SimpleNamespace(pipelines=opts.pipelines, tests=["set", "get"], requests=requests,
                                  clients=opts.clients)
    samples = measure_server(srv, qopts, bench_bin, client_cpu, 1)
    return bench_bin, requests, samples


def persistence(srv, port, cpu, keys=DEMO_KEYS, demo_dir=DEMO_DIR, failures=None):
    """Write `keys` strings of 100 bytes (pipelined MSETs), BGSAVE, restart
    on the snapshot, check nothing was lost (a failed check is appended to
    `failures`). Returns (report lines, the restarted server)."""
    load_ok(port, string_batches(keys, 100, prefix="demo:key"))
    keys_before = int(query(port, "DBSIZE"))
    query(port, "BGSAVE")
    deadline = time.monotonic() + 300
    while info_fields(port, "persistence")["rdb_bgsave_in_progress"] != "0":
        if time.monotonic() > deadline:
            raise RuntimeError("BGSAVE did not finish in 300 s")
        time.sleep(0.05)
    pers, stats = info_fields(port, "persistence"), info_fields(port, "stats")
    path = os.path.join(demo_dir, "data", "dump.rdb")
    size = os.path.getsize(path)
    rc = srv.stop()  # SIGTERM: with save points set, Holdfast saves once more on the way out
    mark = os.path.getsize(srv.logpath)
    srv = start_server(port, cpu, demo_dir)
    with open(srv.logpath, "rb") as f:
        f.seek(mark)
        # The AOF (appendonly yes in the demo config) wins over the RDB at start.
        loaded = re.findall(rb"DB loaded from (?:disk|append only file): ([0-9.]+) seconds", f.read())
    keys_after = int(query(port, "DBSIZE"))
    lines = [
        "%d keys of 100 bytes written (`demo:key:<i>`, pipelined MSET), then" % keys,
        "BGSAVE: status %s, fork %s us, copy-on-write %.1f MiB, file %.1f MiB (`%s`)." % (
            pers["rdb_last_bgsave_status"], stats["latest_fork_usec"], int(pers["rdb_last_cow_size"]) / 1048576,
            size / 1048576, shown(path)),
        "Stopped with SIGTERM (exit status %s; save points are set, so it saved first), started again on its"
        " append-only file: loaded"
        " in %s s, %d keys before and %d after%s." % (
            rc, loaded[-1].decode() if loaded else "?", keys_before, keys_after,
            "" if keys_after == keys_before else " -- **keys were lost**"),
    ]
    if keys_after != keys_before and failures is not None:
        failures.append("persistence: keys were lost across the restart (%d before, %d after)" % (
            keys_before, keys_after))
    return lines, srv


def replication(primary_port, cpu, demo_dir=DEMO_DIR, failures=None):
    """A replica with appendonly yes follows the primary: the full sync, then
    writes the primary answers only after WAIT says the replica has them
    (a replica that differs is appended to `failures`). Returns (report
    lines, the replica server)."""
    port = free_port(DEFAULT_PORT + 1)
    data = os.path.join(os.path.abspath(demo_dir), "replica-data")
    os.makedirs(data, exist_ok=True)
    argv = [sys.executable, "-m", "engine", "--port", str(port), "--bind", "127.0.0.1", "--dir", data,
            "--save", "", "--appendonly", "yes", "--appendfsync", "everysec",
            "--replicaof", "127.0.0.1", str(primary_port)]
    rep = ServerProc("holdfast-replica", argv, port, cwd=ROOT, logpath=os.path.join(demo_dir, "replica.log"),
                     cpu=cpu).start()
    t0 = time.monotonic()
    r = _caught_up(primary_port, port, 300)
    if r is None:
        raise RuntimeError("the replica did not finish its full sync in 300 s")
    sync_s = time.monotonic() - t0
    pairs = []
    for i in range(1000):
        pairs += ["demo:replicated:%d" % i, str(i)]
    query(primary_port, "MSET", *pairs)
    acked = query(primary_port, "WAIT", "1", "5000")
    keys_p, keys_r = int(query(primary_port, "DBSIZE")), int(query(port, "DBSIZE"))
    # The same dataset: every 500th key of the demo's, and every replicated one, compared by value.
    sample = ["demo:key:%d" % i for i in range(0, DEMO_KEYS, 500)] + ["demo:replicated:%d" % i for i in range(1000)]
    same = query(primary_port, "MGET", *sample) == query(port, "MGET", *sample)
    lines = [
        "Replica: `%s` (log: `%s`, its AOF in `%s/`)." % (
            shlex.join(["python", "-m", "engine"] + argv[3:]), shown(rep.logpath), shown(data)),
        "Full sync of %d keys: %.2f s (repl-diskless-sync-delay included); the primary's INFO: %s; the "
        "replica's: role=%s, master_link_status=%s." % (
            keys_p - 1000, sync_s, info_fields(primary_port, "replication").get("slave0", "?"), r["role"],
            r["master_link_status"]),
        "MSET of 1000 keys, then `WAIT 1 5000` -> %s replica(s) acknowledged; keys: primary %d, replica %d; "
        "%d sampled values %s%s." % (acked, keys_p, keys_r, len(sample), "identical" if same else "**differ**",
                                     "" if keys_p == keys_r and same else " -- **the replica differs**"),
    ]
    if not (keys_p == keys_r and same) and failures is not None:
        failures.append("replication: the replica differs from the primary (keys: primary %d, replica %d; "
                        "sampled values %s)" % (keys_p, keys_r, "identical" if same else "differ"))
    return lines, rep


def _caught_up(primary_port, replica_port, timeout):
    """Wait until the replica's link is up and it has the primary's whole
    stream; its INFO replication, or None after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        r, p = info_fields(replica_port, "replication"), info_fields(primary_port, "replication")
        if r.get("master_link_status") == "up" and r["slave_repl_offset"] == p["master_repl_offset"]:
            return r
        if time.monotonic() > deadline:
            return None
        time.sleep(0.05)


def sweep_step(primary_port, replica_port, demo_dir=DEMO_DIR, failures=None):
    """A short `holdfast-bench sweep` against the running primary (its replica
    attached), then a check that the replica holds what the sweep wrote (a
    replica that differs is appended to `failures`). A sweep interrupted by
    Ctrl-C (bench.sweep catches it and returns 130) raises KeyboardInterrupt,
    one that fails RuntimeError: the demo stops there."""
    import json  # noqa: PLC0415

    from .sweep import main as sweep_main  # noqa: PLC0415

    out = os.path.join(os.path.abspath(demo_dir), "sweep")
    args = ["--targets", "127.0.0.1:%d" % primary_port, "--tests", "set,get,mixed:0.9", "--pipeline", "1,16",
            "--requests", "20000", "--repeat", "1", "--keyspace", "10000", "--out", out]
    rc = sweep_main(args)
    if rc == 130:
        print("the sweep was interrupted", file=sys.stderr, flush=True)
        raise KeyboardInterrupt
    if rc:
        raise RuntimeError("the sweep failed (exit status %s)" % rc)
    with open(os.path.join(out, "results.json")) as f:
        samples = json.load(f)["samples"]
    _caught_up(primary_port, replica_port, 60)  # if not, the comparison below says so
    keys, cursor = [], "0"
    while True:  # every key the sweep wrote (`key:*`), compared value by value
        cursor, batch = query(primary_port, "SCAN", cursor, "MATCH", "key:*", "COUNT", "10000")
        keys += batch
        if cursor == "0":
            break
    same = all(query(primary_port, "MGET", *keys[i:i + 1000]) == query(replica_port, "MGET", *keys[i:i + 1000])
               for i in range(0, len(keys), 1000))
    size_p, size_r = int(query(primary_port, "DBSIZE")), int(query(replica_port, "DBSIZE"))
    lines = ["`holdfast-bench sweep %s` (report with plots: `%s`):" % (
        " ".join(args[:-1] + [shown(out)]), shown(os.path.join(out, "report.md"))), "",
             "| test | -P | requests/s | p50 ms | p99 ms | made by |", "|---|---:|---:|---:|---:|---|"]
    for sm in samples:
        lines.append("| %s | %d | {:,.0f} | %.3f | %.3f | %s |".format(sm["rps"]) % (
            sm["test"], sm["pipeline"], sm["p50_ms"], sm["p99_ms"], sm["generator"]))
    lines += ["", "After the sweep the replica holds the same dataset: %d keys on the primary, %d on the replica, "
              "all %d values written by the sweep %s%s." % (
                  size_p, size_r, len(keys), "identical" if same else "**differ**",
                  "" if same and size_p == size_r else " -- **the replica differs**")]
    if not (same and size_p == size_r) and failures is not None:
        failures.append("sweep: the replica differs from the primary after the sweep (keys: primary %d, replica "
                        "%d; the sweep's values %s)" % (size_p, size_r, "identical" if same else "differ"))
    return lines


def render(meta, tour_lines, samples, persistence_lines, replication_lines, sweep_lines=()):
    out = ["# Holdfast demo run", "",
           "Made by `make demo` (`python -m bench.demo`) on %s, commit `%s`." % (meta["date"], meta["commit"]),
           "Machine: %s, %s CPUs; Python %s." % (meta["env"]["cpu_model"], meta["env"]["cpu_count"],
                                                 meta["env"]["python"]),
           "", "Server: `%s` (log: `%s/holdfast.log`, data: `%s/data/`)." % (
               meta["server"], meta.get("dir", "results/demo"), meta.get("dir", "results/demo")),
           "Pinning: %s." % meta["pinning"], "", "## A first session", "", "```"]
    out += tour_lines
    out += ["```", "", "## Load", ""]
    if meta["bench_bin"]:
        out.append("redis-benchmark, %d clients, %d requests per test; each row is its own run, so the"
                   " server's CPU time can be read before and after it:" % (meta["clients"], meta["requests"]))
        out += ["", "    " + meta["bench_cmd"], ""]
    else:
        out.append("redis-benchmark is not installed: bench.quick's redis-py loader (2 processes, one connection"
                   " each, %d requests per test) stood in. Its figures are bound by the client, not the"
                   " server." % meta["requests"])
        out.append("")
    out += ["| test | -P | requests/s | p50 ms | server CPU us/request |", "|---|---:|---:|---:|---:|"]
    for s in samples:
        p50 = s.get("p50_latency_ms")
        cpu = s["cpu_us_per_req_sched"] if s.get("cpu_us_per_req_sched") is not None else s["cpu_us_per_req"]
        out.append("| %s | %d | {:,.0f} | %s | %.2f |".format(s["rps"]) % (
            s["test"], s["pipeline"], "-" if p50 is None else "%.3f" % p50, cpu))
    out += ["", "Server CPU per request: the server's CPU time over the run (from /proc/PID/task/*/schedstat,"
            " or /proc/PID/stat ticks where schedstat is missing) divided by the requests made."]
    out += ["", "## Persistence", ""] + persistence_lines
    out += ["", "## Replication", ""] + replication_lines
    out += ["", "## Sweep", ""] + list(sweep_lines)
    out += ["", "Shutdown: %s." % meta["shutdown"], "",
            "For Holdfast against redis-server with medians over rounds, run `make bench-quick`"
            " (report in `results/quick/report.md`).", ""]
    return "\n".join(out)


def main(argv=None):
    exit_on_sigterm()
    opts = parse_args(argv)
    pins = pin_cpus()
    server_cpu, client_cpu = pins if pins else (None, None)
    port = free_port(opts.port)
    demo_dir = os.path.abspath(opts.out)
    log = shown(os.path.join(demo_dir, "holdfast.log"))
    fresh_run_files(demo_dir)  # not the previous run's dataset, AOF and log lines
    srv = start_server(port, server_cpu, demo_dir)
    print("Holdfast is up: pid %d, port %d, config %s" % (srv.pid, port, os.path.relpath(CONFIG)), flush=True)
    replica = None
    failures = []  # the checks that failed: the report marks them, the exit status follows
    try:
        tour_lines = tour(port)
        print("\n".join("  " + t for t in tour_lines), flush=True)
        print("load:", flush=True)
        bench_bin, requests, samples = load(srv, opts, client_cpu)
        print("persistence:", flush=True)
        persistence_lines, srv = persistence(srv, port, server_cpu, demo_dir=demo_dir, failures=failures)
        print("\n".join("  " + t for t in persistence_lines), flush=True)
        print("replication:", flush=True)
        replication_lines, replica = replication(port, client_cpu, demo_dir, failures)
        print("\n".join("  " + t for t in replication_lines), flush=True)
        print("sweep:", flush=True)
        sweep_lines = sweep_step(port, replica.port, demo_dir, failures)
    except BaseException:
        if replica is not None:
            replica.stop()
        srv.stop()
        print("demo stopped early; the server was shut down (log: %s)" % log, file=sys.stderr)
        raise
    rc_replica = replica.stop()
    rc = srv.stop()
    shutdown = "clean (exit status 0)" if rc == 0 else "exit status %s -- see %s" % (rc, log)
    shutdown += "; replica: %s" % ("clean" if rc_replica == 0 else "exit status %s" % rc_replica)
    print("server stopped: %s" % shutdown)
    meta = {
        "date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "commit": procstat.git_commit(ROOT), "env": procstat.environment(ROOT),
        "server": shlex.join(["python", "-m", "engine", shown(CONFIG), *server_args(port, demo_dir)[1:]]),
        "dir": shown(demo_dir),
        "pinning": ("server on CPU %d, load on CPU %d (taskset)" % pins) if pins else "none",
        "bench_bin": bench_bin, "requests": requests,
        "bench_cmd": bench_bin and " ".join(benchmark_command(  # one line for the reader, not for a shell
            "redis-benchmark", port, "set|get", "|".join(map(str, opts.pipelines)), requests, opts.clients)),
        "clients": opts.clients, "shutdown": shutdown,
    }
    report = render(meta, tour_lines, samples, persistence_lines, replication_lines, sweep_lines)
    os.makedirs(demo_dir, exist_ok=True)
    path = os.path.join(demo_dir, "report.md")
    with open(path, "w") as f:
        f.write(report)
    print("\n" + report)
    print("report written to %s" % os.path.relpath(path))
    for failure in failures:
        print("check failed: %s" % failure, file=sys.stderr)
    if failures:
        print("demo FAILED: %d check(s) failed (marked ** in %s)" % (len(failures), os.path.relpath(path)),
              file=sys.stderr)
    return 0 if rc == 0 and rc_replica == 0 and not failures else 1


if __name__ == "__main__":
    try:
        sys.exit(main())
    except KeyboardInterrupt:  # the servers are already stopped; no traceback for Ctrl-C
        sys.exit(130)
