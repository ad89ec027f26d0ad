"""Quick benchmark: Holdfast against Debian's redis-server, SET and GET,
unpipelined and pipelined, measuring requests/s and server CPU per request.

    python -m bench.quick [--rounds 3] [--requests 200000] [--clients 50]
                          [--tests set,get] [--pipelines 1,16] [--out results/quick] [--no-redis]
                          [--loader auto|redis-benchmark|python]

Each server runs alone (one at a time, started fresh every round, servers
interleaved so slow drift on a shared machine hits both alike). Every
(test, pipeline) is one `redis-benchmark --csv` run, bracketed by reads of
the server's utime+stime from /proc/PID/stat, so each has its own CPU delta.
Without redis-benchmark, a small redis-py loader (`python_load`) stands in;
its figures are not comparable with redis-benchmark's and the report says so.

Writes OUT/results.json (raw samples), OUT/environment.json and OUT/report.md.
"""

import argparse
import functools
import multiprocessing
import os
import shlex
import shutil
import subprocess
import sys
import tempfile
import time

from . import procstat
from .reporting import run_meta, stats, write_outputs
from .serverproc import (
    ServerProc,
    exit_on_sigterm,
    free_port,
    holdfast_command,
    pin_cpus,
    redis_command,
    taskset,
)

TARGET_RPS_RATIO = 0.8  # Holdfast rps >= 0.8x redis-server's


def target_cpu_ratio(pipeline):
    """Allowed Holdfast/redis CPU per request: 1.5x unpipelined, 2x pipelined (-P 16)."""
    return 1.5 if pipeline == 1 else 2.0


# ---- load generation -----------------------------------------------------------------

def benchmark_command(binary, port, test, pipeline, requests, clients, cpu=None):
    return taskset(cpu) + [binary, "-h", "127.0.0.1", "-p", str(port), "-t", test, "-c", str(clients),
                           "-n", str(requests), "-P", str(pipeline), "--csv"]


def run_redis_benchmark(argv, timeout):
    """Run one redis-benchmark; {"rps": ..., latency...} for its single test."""
    out = subprocess.run(argv, capture_output=True, text=True, timeout=timeout)
    if out.returncode != 0:
        raise RuntimeError("%s failed (%d): %s" % (shlex.join(argv), out.returncode, (out.stderr or out.stdout)[-500:]))
    rows = procstat.parse_benchmark_csv(out.stdout)
    return next(iter(rows.values()))


def _load_worker(port, test, pipeline, count, cpus, barrier, results):
    import redis  # noqa: PLC0415 - only the fallback loader needs redis-py

    if cpus:
        os.sched_setaffinity(0, cpus)
    r = redis.Redis(host="127.0.0.1", port=port, protocol=2, socket_timeout=60)
    r.ping()
    key, value = "key:__rand_int__", b"xxx"  # what redis-benchmark uses without -r
    barrier.wait()
    t0 = time.monotonic()
    done = 0
    if pipeline == 1:
        op = r.set if test == "set" else r.get
        args = (key, value) if test == "set" else (key,)
        for _ in range(count):
            op(*args)
        done = count
    else:
        pipe = r.pipeline(transaction=False)
        while done < count:
            n = min(pipeline, count - done)
            for _ in range(n):
                if test == "set":
                    pipe.set(key, value)
                else:
                    pipe.get(key)
            pipe.execute()
            done += n
    results.put((done, t0, time.monotonic()))
    r.close()


def python_load(port, test, pipeline, requests, procs=2, cpus=None, on_start=None):
    """Fallback load: `procs` processes with one redis-py connection each.

    Returns requests per second over the span from the first worker's start
    to the last one's finish. `on_start()` is called just before the workers
    are released (the caller reads the server's CPU time there); what it
    returns comes back as "start"."""
    ctx = multiprocessing.get_context("spawn")
    barrier = ctx.Barrier(procs + 1)
    results = ctx.Queue()
    share = [requests // procs + (1 if i < requests % procs else 0) for i in range(procs)]
    workers = [ctx.Process(target=_load_worker, args=(port, test, pipeline, n, cpus, barrier, results))
               for n in share]
    for w in workers:
        w.start()
    try:
        start = on_start() if on_start else None
        barrier.wait(timeout=60)
        got = [results.get(timeout=600) for _ in workers]
    finally:
        for w in workers:
            w.join(10)
            if w.is_alive():
                w.terminate()
    total = sum(g[0] for g in got)
    span = max(g[2] for g in got) - min(g[1] for g in got)
    return {"rps": total / span if span > 0 else float("inf"), "start": start}


# ---- one server, one round -------------------------------------------------------------

def _cpu(pid):
    return procstat.cpu_seconds(pid), procstat.sched_cpu_seconds(pid)


def measure_server(srv, opts, bench_bin, client_cpu, round_no):
    """Run every (pipeline, test) against a started server; samples with CPU deltas."""
    samples = []
    for pipeline in opts.pipelines:
        for test in opts.tests:
            t0 = time.monotonic()
            if bench_bin:
                argv = benchmark_command(bench_bin, srv.port, test, pipeline, opts.requests, opts.clients, client_cpu)
                before = _cpu(srv.pid)
                row = run_redis_benchmark(argv, timeout=max(300, opts.requests / 500))
                loader = shlex.join(argv)
            else:
                cpus = {client_cpu} if client_cpu is not None else None
                row = python_load(srv.port, test, pipeline, opts.requests, procs=2, cpus=cpus,
                                  on_start=functools.partial(_cpu, srv.pid))
                before = row.pop("start")
                loader = "python_load(procs=2)"
            after = _cpu(srv.pid)
            wall = time.monotonic() - t0
            if not srv.alive():
                raise RuntimeError("%s died during %s -P %d:\n%s" % (srv.name, test, pipeline, srv.log_tail()))
            cpu = round(after[0] - before[0], 6)  # whole ticks: drop the float subtraction's dust
            sched = round(after[1] - before[1], 9) if after[1] is not None and before[1] is not None else None
            sample = {"server": srv.name, "round": round_no, "test": test.upper(), "pipeline": pipeline,
                      "clients": opts.clients, "requests": opts.requests, "rps": row["rps"],
                      "cpu_s": cpu, "cpu_us_per_req": cpu / opts.requests * 1e6,
                      "cpu_s_sched": sched,
                      "cpu_us_per_req_sched": None if sched is None else sched / opts.requests * 1e6,
                      "wall_s": wall, "loader": loader}
            sample.update({k: v for k, v in row.items() if k != "rps"})
            samples.append(sample)
            print("  %-8s %-4s -P %-3d %12.0f req/s  %7.2f us CPU/req" %
                  (srv.name, test.upper(), pipeline, row["rps"], sample["cpu_us_per_req"]), flush=True)
    return samples


# ---- summary and report ------------------------------------------------------------------

def summarise(samples):
    """{(TEST, pipeline): {server: {"rps": stats, "cpu_us": stats}}}, in first-seen order."""
    groups = {}
    for s in samples:
        groups.setdefault((s["test"], s["pipeline"]), {}).setdefault(s["server"], []).append(s)
    out = {}
    for key, by_server in groups.items():
        out[key] = {}
        for name, ss in by_server.items():
            sched = [s["cpu_us_per_req_sched"] for s in ss if s.get("cpu_us_per_req_sched") is not None]
            out[key][name] = {"rps": stats([s["rps"] for s in ss]),
                              "cpu_us": stats([s["cpu_us_per_req"] for s in ss]),
                              "cpu_us_sched": stats(sched) if len(sched) == len(ss) else None}
    return out


def _fmt_rps(st):
    if st["n"] == 1:
        return "{:,.0f}".format(st["median"])
    return "{:,.0f} [{:,.0f}-{:,.0f}]".format(st["median"], st["min"], st["max"])


def _fmt_cpu(st):
    if st["n"] == 1:
        return "%.2f" % st["median"]
    return "%.2f [%.2f-%.2f]" % (st["median"], st["min"], st["max"])


def verdicts(summary):
    """Per (test, pipeline): the two ratios and whether each meets its target."""
    out = {}
    for (test, pipeline), by in summary.items():
        hf, rd = by.get("holdfast"), by.get("redis")
        if not hf or not rd:
            continue
        rps_ratio = hf["rps"]["median"] / rd["rps"]["median"]
        cpu_ratio = hf["cpu_us"]["median"] / rd["cpu_us"]["median"] if rd["cpu_us"]["median"] > 0 else float("inf")
        sched_ratio = None
        if hf.get("cpu_us_sched") and rd.get("cpu_us_sched") and rd["cpu_us_sched"]["median"] > 0:
            sched_ratio = hf["cpu_us_sched"]["median"] / rd["cpu_us_sched"]["median"]
        # the epsilon keeps 12.6/8.4 (1.5000000000000002) on the right side of a 1.5 bound
        out[(test, pipeline)] = {"rps_ratio": rps_ratio, "rps_ok": rps_ratio >= TARGET_RPS_RATIO * (1 - 1e-9),
                                 "cpu_ratio": cpu_ratio,
                                 "cpu_ok": cpu_ratio <= target_cpu_ratio(pipeline) * (1 + 1e-9),
                                 "cpu_ratio_sched": sched_ratio}
    return out


def render_report(summary, env, meta):
    lines = ["# Quick benchmark: Holdfast and redis-server", ""]
    lines.append("Run %s, commit `%s`:" % (meta["date"], env.get("git_commit")))
    lines += ["", "    " + meta["command"], ""]
    lines.append("Machine: %s, %s CPUs, %s memory, %s; Python %s; %s." % (
        env.get("cpu_model"), env.get("cpu_count"), env.get("memory_total") or "?", env.get("kernel"),
        env.get("python"), env.get("redis_server") or "no redis-server"))
    lines.append("Load: %s, %d clients, %d requests per test and round, %d round(s); figures are medians over rounds"
                 " with [min-max] when there are several." % (
                     meta["loader"], meta["clients"], meta["requests"], meta["rounds"]))
    lines.append("Pinning: %s." % meta["pinning"])
    if meta.get("loadavg"):
        lines.append("Load average before the run: %s (other work on the machine shows up in the figures)."
                     % " ".join("%.2f" % x for x in meta["loadavg"]))
    lines.append("CPU per request: the server process's utime+stime (all threads, /proc/PID/stat, 10 ms ticks)"
                 " over one load run, divided by the requests it made. The schedstat column repeats the ratio from"
                 " /proc/PID/task/*/schedstat, which counts nanoseconds: trust it over the tick-based one where a run"
                 " used only a few ticks.")
    if meta.get("loader_note"):
        lines.append(meta["loader_note"])
    if meta["rounds"] < 3:
        lines.append("Fewer than 3 rounds: a check that the tool works, not figures to quote.")
    lines.append("")
    ver = verdicts(summary)
    if ver:
        lines.append("Targets (issue 2): Holdfast requests/s >= %.1fx redis-server's; Holdfast CPU per request"
                     " <= 1.5x redis-server's unpipelined and <= 2x pipelined (-P 16)." % TARGET_RPS_RATIO)
        lines += ["",
                  "| test | -P | Holdfast req/s | redis req/s | ratio | target | Holdfast CPU us/req"
                  " | redis CPU us/req | ratio | target | ratio (schedstat) |",
                  "|---|---:|---:|---:|---:|---|---:|---:|---:|---|---:|"]
    else:
        lines += ["| test | -P | Holdfast req/s | Holdfast CPU us/req | CPU us/req (schedstat) |",
                  "|---|---:|---:|---:|---:|"]
    for (test, pipeline), by in summary.items():
        hf = by.get("holdfast")
        v = ver.get((test, pipeline))
        if v:
            rd = by["redis"]
            lines.append("| %s | %d | %s | %s | %.2f | >= %.1f: %s | %s | %s | %.2f | <= %.1f: %s | %s |" % (
                test, pipeline, _fmt_rps(hf["rps"]), _fmt_rps(rd["rps"]), v["rps_ratio"], TARGET_RPS_RATIO,
                "met" if v["rps_ok"] else "**missed**", _fmt_cpu(hf["cpu_us"]), _fmt_cpu(rd["cpu_us"]),
                v["cpu_ratio"], target_cpu_ratio(pipeline), "met" if v["cpu_ok"] else "**missed**",
                "-" if v["cpu_ratio_sched"] is None else "%.2f" % v["cpu_ratio_sched"]))
        elif hf:
            lines.append("| %s | %d | %s | %s | %s |" % (
                test, pipeline, _fmt_rps(hf["rps"]), _fmt_cpu(hf["cpu_us"]),
                _fmt_cpu(hf["cpu_us_sched"]) if hf.get("cpu_us_sched") else "-"))
    if ver:
        met = sum(v["rps_ok"] + v["cpu_ok"] for v in ver.values())
        lines += ["", "%d of %d targets met." % (met, 2 * len(ver))]
    lines += ["", "Raw samples: `results.json`; machine and versions: `environment.json`.", ""]
    return "\n".join(lines)


# ---- main ---------------------------------------------------------------------------------

def _csv_list(text, conv=str):
    return [conv(x) for x in text.replace(",", " ").split()]


def parse_args(argv=None):
    ap = argparse.ArgumentParser(prog="python -m bench.quick", description=__doc__.splitlines()[0])
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--requests", type=int, default=200000, help="requests per redis-benchmark run")
    ap.add_argument("--clients", type=int, default=50)
    ap.add_argument("--tests", type=lambda t: _csv_list(t.lower()), default=["set", "get"],
                    help="comma separated (default set,get)")
    ap.add_argument("--pipelines", type=lambda t: _csv_list(t, int), default=[1, 16],
                    help="comma separated -P values (default 1,16)")
    ap.add_argument("--out", default=os.path.join("results", "quick"))
    ap.add_argument("--no-redis", action="store_true", help="measure Holdfast only")
    ap.add_argument("--loader", choices=("auto", "redis-benchmark", "python"), default="auto",
                    help="load generator: redis-benchmark when installed (auto), or the redis-py fallback")
    opts = ap.parse_args(argv)
    if opts.rounds < 1 or opts.requests < 1 or opts.clients < 1 or not opts.pipelines or min(opts.pipelines) < 1:
        ap.error("--rounds, --requests, --clients and --pipelines must be positive")
    return opts


def main(argv=None):
    exit_on_sigterm()
    opts = parse_args(argv)
    bench_bin = None if opts.loader == "python" else procstat.tool("redis-benchmark")
    if bench_bin is None and opts.loader == "redis-benchmark":
        print("redis-benchmark is not installed (apt-get install redis-tools)", file=sys.stderr)
        return 2
    redis_bin = None if opts.no_redis else procstat.tool("redis-server")
    if not opts.no_redis and redis_bin is None:
        print("redis-server is not installed: measuring Holdfast only (apt-get install redis-server)", file=sys.stderr)
    pins = pin_cpus()
    server_cpu, client_cpu = pins if pins else (None, None)
    loader = os.path.basename(bench_bin) if bench_bin else "python_load (redis-py, 2 processes)"
    if bench_bin:
        loader = procstat.command_output([bench_bin, "--version"]) or loader
    meta = run_meta("bench.quick", argv, pins, "load generator")
    meta["pinning"] += " (taskset)" if pins else ""
    meta.update({
        "rounds": opts.rounds, "requests": opts.requests, "clients": opts.clients,
        "tests": opts.tests, "pipelines": opts.pipelines, "loader": loader,
        "loader_note": None if bench_bin else
        "redis-benchmark was not used: a redis-py loader stood in, with 2 connections rather than"
        " --clients; its figures are client-bound and not comparable with redis-benchmark's.",
    })
    servers = [("holdfast", lambda p: holdfast_command(p))]
    if redis_bin:
        servers.append(("redis", lambda p: redis_command(redis_bin, p)))
    meta["server_commands"] = {name: shlex.join(taskset(server_cpu) + mk("PORT")) for name, mk in servers}

    workdir = tempfile.mkdtemp(prefix="holdfast-quick-")
    samples, ok = [], False
    try:
        for rnd in range(1, opts.rounds + 1):
            print("round %d/%d" % (rnd, opts.rounds), flush=True)
            for name, mk in servers:
                port = free_port()
                srv = ServerProc(name, mk(port), port, cwd=workdir,
                                 logpath=os.path.join(workdir, "%s-%d.log" % (name, rnd)), cpu=server_cpu)
                with srv:
                    samples += measure_server(srv, opts, bench_bin, client_cpu, rnd)
        ok = True
    finally:
        if ok:
            shutil.rmtree(workdir, ignore_errors=True)
        else:
            print("server logs kept in %s" % workdir, file=sys.stderr)

    summary = summarise(samples)
    write_outputs(opts.out, {"meta": meta, "samples": samples}, meta,
                  lambda env: render_report(summary, env, meta), redis_bin, bench_bin)
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except KeyboardInterrupt:  # the servers are already stopped; no traceback for Ctrl-C
        sys.exit(130)
