"""Load generators for the sweep: redis-benchmark / valkey-benchmark, driven
as subprocesses (a C client is not the bottleneck), and the parsing of their
full text output: the throughput summary, the latency summary (avg, min,
p50, p95, p99, max) and, from the percentile distribution, p99.9.

memtier_benchmark is used by no figure yet; `find_generator` names what is
installed so the report can say which tool made each figure."""

import re
import shutil
import subprocess

from .serverproc import taskset

GENERATORS = ("redis-benchmark", "valkey-benchmark")

_THROUGHPUT = re.compile(r"throughput summary:\s*([0-9.]+) requests per second")
_PERCENTILE = re.compile(r"^\s*([0-9.]+)% <= ([0-9.]+) milliseconds", re.M)
_SUMMARY_HEAD = re.compile(r"avg\s+min\s+p50\s+p95\s+p99\s+max")


def find_generator(preferred=None):
    """(name, path) of the first installed load generator, or (None, None)."""
    for name in ([preferred] if preferred else []) + list(GENERATORS):
        path = shutil.which(name) or (shutil.which(name, path="/usr/bin") if name else None)
        if path:
            return name, path
    return None, None


def parse_benchmark_text(text):
    """{"rps", "avg_ms", "min_ms", "p50_ms", "p95_ms", "p99_ms", "p999_ms", "max_ms"}
    from one test's full (non-CSV) redis-benchmark output."""
    text = text.replace("\r", "\n")
    m = _THROUGHPUT.search(text)
    if not m:
        raise ValueError("no throughput summary in the load generator's output: %r" % text[-300:])
    out = {"rps": float(m.group(1))}
    lines = text.splitlines()
    for i, line in enumerate(lines):
        if _SUMMARY_HEAD.search(line) and i + 1 < len(lines):
            values = [float(v) for v in lines[i + 1].split()]
            out.update(zip(("avg_ms", "min_ms", "p50_ms", "p95_ms", "p99_ms", "max_ms"), values, strict=False))
            break
    # The percentile distribution section only: the cumulative section below
    # it has the same shape but its percentages are of the latency buckets.
    dist = text.split("Latency by percentile distribution:", 1)
    if len(dist) == 2:
        section = dist[1].split("Cumulative distribution", 1)[0]
        for pct, ms in _PERCENTILE.findall(section):
            if float(pct) >= 99.9:
                out["p999_ms"] = float(ms)
                break
    return out


def run(path, port, test, clients, pipeline, requests, value_size, keyspace, cpu=None, host="127.0.0.1",
        timeout=900):
    """One load run of one test; the parsed figures."""
    argv = taskset(cpu) + [path, "-h", host, "-p", str(port), "-t", test, "-c", str(clients), "-P", str(pipeline),
                           "-n", str(requests), "-d", str(value_size)]
    if keyspace:
        argv += ["-r", str(keyspace)]
    proc = subprocess.run(argv, capture_output=True, text=True, timeout=timeout)
    if proc.returncode != 0:
        raise RuntimeError("%s failed (%d): %s" % (path, proc.returncode, proc.stderr[-300:]))
    return parse_benchmark_text(proc.stdout)


def command_line(name, port, test, clients, pipeline, requests, value_size, keyspace):
    """The command, for the report."""
    return "%s -p %s -t %s -c %s -P %s -n %s -d %s%s" % (name, port, test, clients, pipeline, requests, value_size,
                                                         " -r %s" % keyspace if keyspace else "")
