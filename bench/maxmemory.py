"""maxmemory benchmark: what the memory check and eviction cost writes,
Holdfast beside Debian's redis-server with the same settings in the same run.

    python -m bench.maxmemory [--rounds 3] [--clients 50] [--requests 400000]
                              [--out results/maxmemory] [--no-redis]

For each server and each setting, a fresh server takes
`redis-benchmark -t set -r 100000` at -P 16 (REQUESTS) and at -P 1 (a
quarter of them), once per round:

    maxmemory 0                 no limit, the baseline;
    maxmemory 1gb allkeys-lru   a limit far above the data: the price of
                                checking (Holdfast keeps its hot path while
                                the estimate is more than a headroom below
                                the limit, engine/eviction.py);
    maxmemory 4mb allkeys-lru   a limit the data passes at once: every write
                                evicts (INFO evicted_keys is reported).

Writes OUT/results.json, OUT/environment.json and OUT/report.md.
"""

import argparse
import os
import shlex
import shutil
import socket
import sys
import tempfile

from .memory import info_fields
from .quick import benchmark_command, run_redis_benchmark
from .reporting import run_meta, stats, write_outputs
from .serverproc import ServerProc, exit_on_sigterm, free_port, setting_benchmark_setup

SETTINGS = (("maxmemory 0", ()),
            ("maxmemory 1gb allkeys-lru", ("--maxmemory", "1gb", "--maxmemory-policy", "allkeys-lru")),
            ("maxmemory 4mb allkeys-lru", ("--maxmemory", "4mb", "--maxmemory-policy", "allkeys-lru")))
PIPELINES = (16, 1)  # -P 1 runs a quarter of --requests
KEYSPACE = 100000
SERVER_NAMES = {"holdfast": "Holdfast", "redis": "redis-server"}


def one_cell(name, mk, extra, pipeline, requests, bench_bin, opts, workdir, cpus, rnd):
    d = os.path.join(workdir, "%s-%d" % (name, rnd))
    os.makedirs(d, exist_ok=True)
    port = free_port()
    srv = ServerProc(name, mk(port, extra), port, cwd=d, logpath=os.path.join(d, "server.log"), cpu=cpus[0])
    srv.start(timeout=120)
    try:
        argv = benchmark_command(bench_bin, port, "set", pipeline, requests, opts.clients, cpus[1])
        argv[-1:-1] = ["-r", str(KEYSPACE)]
        row = run_redis_benchmark(argv, timeout=600)
        evicted = int(info_fields(port, "stats").get("evicted_keys", 0))
    finally:
        srv.stop()
        shutil.rmtree(d, ignore_errors=True)
    return {"server": name, "setting": " ".join(extra) or "maxmemory 0", "pipeline": pipeline, "round": rnd,
            "rps": row["rps"], "evicted_keys": evicted, "command": shlex.join(argv)}


def summarise(samples):
    by = {}
    for s in samples:
        by.setdefault((s["server"], s["setting"], s["pipeline"]), []).append(s)
    return {"%s|%s|%d" % k: {"rps": stats([x["rps"] for x in v]), "evicted_keys": max(x["evicted_keys"] for x in v)}
            for k, v in by.items()}


def _m(st):
    return "%.0f [%.0f-%.0f]" % (st["median"], st["min"], st["max"]) if st["n"] > 1 else "%.0f" % st["median"]


def render_report(summary, servers, env, meta):
    lines = ["# maxmemory benchmark: Holdfast and redis-server", "",
             "Run %s, commit `%s`:" % (meta["date"], env.get("git_commit")), "", "    " + meta["command"], "",
             "Machine: %s, %s CPUs, %s memory, %s; Python %s; %s." % (
                 env.get("cpu_model"), env.get("cpu_count"), env.get("memory_total") or "?", env.get("kernel"),
                 env.get("python"), env.get("redis_server") or "no redis-server"),
             "Pinning: %s. Medians over %d rounds, [min-max]. `redis-benchmark -t set -c %d -r %d`, -P 16 with"
             " -n %d and -P 1 with -n %d, a fresh server for each cell." % (
                 meta["pinning"], meta["rounds"], meta["clients"], KEYSPACE, meta["requests"],
                 meta["requests"] // 4), "",
             "| setting | -P | " + " | ".join(SERVER_NAMES[s] + " SET/s" for s in servers)
             + " | " + " | ".join(SERVER_NAMES[s] + " evicted" for s in servers) + " | Holdfast / baseline |",
             "|---|---:|" + "---:|" * (2 * len(servers) + 1)]
    for label, extra in SETTINGS:
        setting = " ".join(extra) or "maxmemory 0"
        for pipeline in PIPELINES:
            cells = [summary["%s|%s|%d" % (s, setting, pipeline)] for s in servers]
            base = summary["holdfast|maxmemory 0|%d" % pipeline]["rps"]["median"]
            ratio = cells[0]["rps"]["median"] / base
            lines.append("| %s | %d | %s | %s | %.2f |" % (
                label, pipeline, " | ".join(_m(c["rps"]) for c in cells),
                " | ".join("{:,}".format(c["evicted_keys"]) for c in cells), ratio))
    lines += ["", "Raw samples: `results.json`; machine and versions: `environment.json`.", ""]
    return "\n".join(lines)


def parse_args(argv=None):
    ap = argparse.ArgumentParser(prog="python -m bench.maxmemory", description=__doc__.splitlines()[0])
    ap.add_argument("--clients", type=int, default=50)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--requests", type=int, default=400000, help="a -P 16 run (-P 1: a quarter)")
    ap.add_argument("--out", default=os.path.join("results", "maxmemory"))
    ap.add_argument("--no-redis", action="store_true")
    return ap.parse_args(argv)


def main(argv=None):
    exit_on_sigterm()
    opts = parse_args(argv)
    bench_bin, redis_bin, pins, cpus, servers = setting_benchmark_setup(opts.no_redis)
    meta = run_meta("bench.maxmemory", argv, pins, "redis-benchmark")
    meta.update({"rounds": opts.rounds, "clients": opts.clients, "requests": opts.requests})
    meta["server_commands"] = {name: shlex.join(mk("PORT", ["<setting>"])) for name, mk in servers}
    workdir = tempfile.mkdtemp(prefix="holdfast-maxmemory-")
    samples = []
    try:
        for rnd in range(1, opts.rounds + 1):
            for _label, extra in SETTINGS:
                for pipeline in PIPELINES:
                    requests = opts.requests if pipeline > 1 else opts.requests // 4
                    for name, mk in servers:
                        s = one_cell(name, mk, extra, pipeline, requests, bench_bin, opts, workdir, cpus, rnd)
                        samples.append(s)
                        print("  %-8s %-40s -P %-2d round %d: %10.0f SET/s, %d evicted" % (
                            name, s["setting"], pipeline, rnd, s["rps"], s["evicted_keys"]), flush=True)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    summary = summarise(samples)
    names = [name for name, _ in servers]
    write_outputs(opts.out, {"meta": meta, "summary": summary, "samples": samples}, meta,
                  lambda env: render_report(summary, names, env, meta), redis_bin, bench_bin)
    return 0


if __name__ == "__main__":
    socket.setdefaulttimeout(600)
    sys.exit(main())
