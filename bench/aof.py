"""AOF benchmark: SET throughput under each appendfsync policy, the time of
BGREWRITEAOF and of loading the AOF at start, Holdfast beside Debian's
redis-server with the same settings in the same run.

    python -m bench.aof [--requests 100000] [--clients 50] [--rewrite-keys 1000000]
                        [--rounds 3] [--out results/aof] [--no-redis]

For each server and each setting (`appendonly no`, `appendfsync always`,
`everysec`, `no`), a fresh server in a fresh directory takes
`redis-benchmark -t set -c CLIENTS -n REQUESTS` (random keys, `-r`), once
per round; the report gives the median requests/s, and the always/no
ratio that group commit decides (issue 5: Holdfast's must be at least
Redis's). Then, with `appendonly yes`, `--rewrite-keys` keys of 100 bytes
are written, BGREWRITEAOF is timed (INFO aof_last_rewrite_time_sec and
the wall time until aof_rewrite_in_progress drops), and a restart on the
AOF directory is timed to the first PONG.

Writes OUT/results.json, OUT/environment.json and OUT/report.md.
"""

import argparse
import os
import shlex
import shutil
import socket
import sys
import tempfile
import time

from .memory import info_fields, query
from .quick import benchmark_command, run_redis_benchmark
from .rdb import load_ok, string_batches
from .reporting import run_meta, stats, write_outputs
from .serverproc import ServerProc, exit_on_sigterm, free_port, setting_benchmark_setup

SETTINGS = (("appendonly no", ()), ("always", ("--appendonly", "yes", "--appendfsync", "always")),
            ("everysec", ("--appendonly", "yes", "--appendfsync", "everysec")),
            ("no", ("--appendonly", "yes", "--appendfsync", "no")))
SERVER_NAMES = {"holdfast": "Holdfast", "redis": "redis-server"}


def _start(name, mk, extra, workdir, cpu):
    """A server in `workdir`; serverproc's flags turn the AOF off, `extra`
    comes after them on the command line and wins."""
    port = free_port()
    os.makedirs(workdir, exist_ok=True)
    srv = ServerProc(name, mk(port, extra), port, cwd=workdir, logpath=os.path.join(workdir, "server.log"), cpu=cpu)
    return srv.start(timeout=600)


def throughput(name, mk, bench_bin, opts, workdir, cpus, rnd):
    out = []
    for label, extra in SETTINGS:
        d = os.path.join(workdir, "%s-%s-%d" % (name, label.replace(" ", "-"), rnd))
        srv = _start(name, mk, extra, d, cpus[0])
        try:
            argv = benchmark_command(bench_bin, srv.port, "set", 1, opts.requests, opts.clients, cpus[1])
            argv[-1:-1] = ["-r", "1000000"]
            row = run_redis_benchmark(argv, timeout=600)
        finally:
            srv.stop()
        out.append({"server": name, "setting": label, "round": rnd, "rps": row["rps"],
                    "p50_ms": row.get("p50_latency_ms"), "command": shlex.join(argv)})
        print("  %-8s %-13s round %d: %10.0f SET/s" % (name, label, rnd, row["rps"]), flush=True)
    return out


def rewrite_and_load(name, mk, opts, workdir, cpus, rnd):
    d = os.path.join(workdir, "%s-rewrite-%d" % (name, rnd))
    extra = ("--appendonly", "yes", "--appendfsync", "everysec", "--auto-aof-rewrite-percentage", "0")
    srv = _start(name, mk, extra, d, cpus[0])
    try:
        load_ok(srv.port, string_batches(opts.rewrite_keys, 100))
        t0 = time.monotonic()
        query(srv.port, "BGREWRITEAOF")
        while True:
            info = info_fields(srv.port, "persistence")
            if info["aof_rewrite_in_progress"] == "0" and info.get("aof_rewrite_scheduled", "0") == "0":
                break
            time.sleep(0.01)
        rewrite_s = time.monotonic() - t0
        if info["aof_last_bgrewrite_status"] != "ok":
            raise RuntimeError("%s: BGREWRITEAOF failed" % name)
        # the AOF now holds a base and the writes after it; load it as a restart does
        load_ok(srv.port, string_batches(opts.rewrite_keys // 10, 100, seed=9, prefix="after"))
    finally:
        srv.stop()
    t0 = time.monotonic()
    srv = _start(name, mk, extra, d, cpus[0])
    load_s = time.monotonic() - t0
    try:
        keys = int(info_fields(srv.port, "keyspace")["db0"].split(",")[0].split("=")[1])
    finally:
        srv.stop()
    expected = opts.rewrite_keys + opts.rewrite_keys // 10
    if keys != expected:
        raise RuntimeError("%s loaded %d keys, expected %d" % (name, keys, expected))
    print("  %-8s rewrite %d keys: %.2f s, restart on the AOF: %.2f s" % (name, opts.rewrite_keys, rewrite_s, load_s),
          flush=True)
    return {"server": name, "round": rnd, "rewrite_s": rewrite_s, "load_s": load_s, "keys": keys}


def summarise(samples, rewrites):
    tp = {}
    for s in samples:
        tp.setdefault(s["server"], {}).setdefault(s["setting"], []).append(s["rps"])
    tput = {srv: {label: stats(v) for label, v in by.items()} for srv, by in tp.items()}
    rw = {}
    for r in rewrites:
        rw.setdefault(r["server"], []).append(r)
    rws = {srv: {"rewrite_s": stats([x["rewrite_s"] for x in xs]), "load_s": stats([x["load_s"] for x in xs]),
                 "keys": xs[0]["keys"]} for srv, xs in rw.items()}
    # always/no within each round (the two ran minutes apart at most): the
    # machine's drift over a run moves both, so these pair better than the
    # medians' ratio does.
    per_round = {}
    for s in samples:
        per_round.setdefault((s["server"], s["round"]), {})[s["setting"]] = s["rps"]
    paired = {}
    for (srv, _rnd), by in sorted(per_round.items()):
        if by.get("always") and by.get("no"):
            paired.setdefault(srv, []).append(by["always"] / by["no"])
    return {"throughput": tput, "rewrite": rws, "always_no_per_round": {srv: stats(v) for srv, v in paired.items()}}


def _m(st, spec="%.0f"):
    if st is None:
        return "-"
    if st["n"] > 1:
        return (spec + " [" + spec + "-" + spec + "]") % (st["median"], st["min"], st["max"])
    return spec % st["median"]


def render_report(summary, env, meta):
    t, rw = summary["throughput"], summary["rewrite"]
    lines = ["# AOF benchmark: Holdfast and redis-server", "",
             "Run %s, commit `%s`:" % (meta["date"], env.get("git_commit")), "", "    " + meta["command"], "",
             "Machine: %s, %s CPUs, %s memory, %s; Python %s; %s." % (
                 env.get("cpu_model"), env.get("cpu_count"), env.get("memory_total") or "?", env.get("kernel"),
                 env.get("python"), env.get("redis_server") or "no redis-server"),
             "Pinning: %s. Medians over %d rounds, [min-max]." % (meta["pinning"], meta["rounds"]), "",
             "## SET throughput per fsync policy", "",
             "`redis-benchmark -t set -c %d -n %d -r 1000000`, a fresh server in a fresh directory for each"
             " cell (the AOF on the machine's disk)." % (meta["clients"], meta["requests"]), "",
             "| setting | " + " | ".join(SERVER_NAMES[s] + " SET/s" for s in t) + " |",
             "|---|" + "---:|" * len(t)]
    for label, _ in SETTINGS:
        lines.append("| %s | %s |" % (label, " | ".join(_m(t[s].get(label)) for s in t)))
    paired = summary.get("always_no_per_round", {})
    lines += ["", "| server | always / no | everysec / no | always / appendonly no | always / no per round |",
              "|---|---:|---:|---:|---:|"]
    ratios = {}
    for s, by in t.items():
        no = by["no"]["median"]
        ratios[s] = by["always"]["median"] / no
        lines.append("| %s | %.2f | %.2f | %.2f | %s |" % (
            SERVER_NAMES[s], ratios[s], by["everysec"]["median"] / no,
            by["always"]["median"] / by["appendonly no"]["median"], _m(paired.get(s), "%.2f")))
    lines += ["", "The first three columns are ratios of the medians above; the last is always/no within each"
              " round (the two cells ran back to back), median [min-max]."]
    if "redis" in ratios:
        met = ratios["holdfast"] >= ratios["redis"]
        line = "Target (issue 5): Holdfast's always/no ratio at least redis-server's: %.2f vs %.2f, %s" % (
            ratios["holdfast"], ratios["redis"], "met" if met else "**missed**")
        if paired.get("holdfast") and paired.get("redis"):
            line += "; per round: %.2f vs %.2f" % (paired["holdfast"]["median"], paired["redis"]["median"])
        lines += ["", line + "."]
    lines += ["", "## BGREWRITEAOF and loading", "",
              "%s keys of 100 bytes written with `appendonly yes`, then BGREWRITEAOF (wall time until INFO says it"
              " is done), then %s more keys, then a restart on the AOF directory (wall time to the first PONG,"
              " process start included)." % ("{:,}".format(meta["rewrite_keys"]),
                                             "{:,}".format(meta["rewrite_keys"] // 10)), "",
              "| server | BGREWRITEAOF s | restart on the AOF s | keys loaded |", "|---|---:|---:|---:|"]
    for s, r in rw.items():
        lines.append("| %s | %s | %s | %s |" % (SERVER_NAMES[s], _m(r["rewrite_s"], "%.2f"), _m(r["load_s"], "%.2f"),
                                               "{:,}".format(r["keys"])))
    lines += ["", "Raw samples: `results.json`; machine and versions: `environment.json`.", ""]
    return "\n".join(lines)


def parse_args(argv=None):
    ap = argparse.ArgumentParser(prog="python -m bench.aof", description=__doc__.splitlines()[0])
    ap.add_argument("--requests", type=int, default=100000)
    ap.add_argument("--clients", type=int, default=50)
    ap.add_argument("--rewrite-keys", type=int, default=1000000)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--out", default=os.path.join("results", "aof"))
    ap.add_argument("--no-redis", action="store_true")
    return ap.parse_args(argv)


def main(argv=None):
    exit_on_sigterm()
    opts = parse_args(argv)
    bench_bin, redis_bin, pins, cpus, servers = setting_benchmark_setup(opts.no_redis)
    meta = run_meta("bench.aof", argv, pins, "redis-benchmark")
    meta.update({"rounds": opts.rounds, "requests": opts.requests, "clients": opts.clients,
                 "rewrite_keys": opts.rewrite_keys})
    meta["server_commands"] = {name: shlex.join(mk("PORT", ["<setting>"])) for name, mk in servers}
    workdir = tempfile.mkdtemp(prefix="holdfast-aof-", dir=os.getcwd())  # the machine's disk, not a tmpfs
    samples, rewrites = [], []
    try:
        for rnd in range(1, opts.rounds + 1):
            for name, mk in servers:
                samples += throughput(name, mk, bench_bin, opts, workdir, cpus, rnd)
        for rnd in range(1, opts.rounds + 1):
            for name, mk in servers:
                rewrites.append(rewrite_and_load(name, mk, opts, workdir, cpus, rnd))
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    summary = summarise(samples, rewrites)
    write_outputs(opts.out, {"meta": meta, "summary": summary, "samples": samples, "rewrites": rewrites}, meta,
                  lambda env: render_report(summary, env, meta), redis_bin, bench_bin)
    return 0


if __name__ == "__main__":
    socket.setdefaulttimeout(600)
    sys.exit(main())
