"""The benchmark harness (bench/cli.py, sweep.py, loadgen.py,
sweep_report.py): parsing the load generator's output, rendering a report
from recorded results, and a tiny end-to-end sweep against a real Holdfast.
Nothing here asserts a speed."""

import json
import os
import shutil

import pytest

from bench import cli, loadgen, sweep_report

# A redis-benchmark 7.0 run (SET, 10 clients), as it prints without --csv.
RECORDED = """====== SET ======
  20000 requests completed in 0.28 seconds
  10 parallel clients
  3 bytes payload
  keep alive: 1
  multi-thread: no

Latency by percentile distribution:
0.000% <= 0.031 milliseconds (cumulative count 2)
50.000% <= 0.079 milliseconds (cumulative count 10055)
99.805% <= 0.415 milliseconds (cumulative count 19963)
99.902% <= 0.759 milliseconds (cumulative count 19981)
100.000% <= 1.607 milliseconds (cumulative count 20000)

Cumulative distribution of latencies:
99.935% <= 0.807 milliseconds (cumulative count 19987)
100.000% <= 1.607 milliseconds (cumulative count 20000)

Summary:
  throughput summary: 71428.57 requests per second
  latency summary (msec):
          avg       min       p50       p95       p99       max
        0.092     0.024     0.079     0.175     0.279     1.607
"""


def test_parse_redis_benchmark_text():
    fig = loadgen.parse_benchmark_text(RECORDED)
    assert fig == {"rps": 71428.57, "avg_ms": 0.092, "min_ms": 0.024, "p50_ms": 0.079, "p95_ms": 0.175,
                   "p99_ms": 0.279, "max_ms": 1.607, "p999_ms": 0.759}
    with pytest.raises(ValueError):
        loadgen.parse_benchmark_text("Error: Connection refused")


def _sample(target, n, test, rps, rnd):
    return {"target": target, "io_threads": n, "test": test, "clients": 50, "pipeline": 16, "value_size": 3,
            "round": rnd, "requests": 1000, "rps": rps, "p50_ms": 0.5, "p99_ms": 1.0, "p999_ms": 2.0,
            "cpu_us_per_req": 1.5}


def test_report_renders_from_recorded_results(tmp_path):
    samples = [_sample("holdfast", n, "set", rps, r) for n, base in ((1, 600000.0), (2, 660000.0))
               for r, rps in enumerate((base, base * 1.1, base * 0.9), 1)]
    meta = {"date": "2026-12-04 00:00 UTC", "command": "python -m bench sweep --targets holdfast",
            "pinning": "server on CPU 0, redis-benchmark on CPU 1", "server_cpus": 0, "generator": "redis-benchmark",
            "requests": 1000, "repeat": 3, "keyspace": 100000, "targets": ["holdfast"], "skipped_targets": ["valkey"]}
    with open(tmp_path / "results.json", "w") as f:
        json.dump({"meta": meta, "samples": samples}, f)
    report = sweep_report.render(str(tmp_path))
    assert "| holdfast | 1 | 600,000 [540,000-660,000] | 1.00 | 0.500 | 1.000 | 2.000 | 1.50 |" in report
    assert "| holdfast | 2 | 660,000 [594,000-726,000] | 1.10 |" in report
    assert "Not installed, skipped: valkey." in report
    assert "The server and all its I/O threads share CPU(s) 0." in report
    assert (tmp_path / "sweep-set-c50-P16-d3.png").stat().st_size > 1000
    with open(tmp_path / "results.csv") as f:
        rows = f.read().splitlines()
    assert rows[0].startswith("target,io_threads,test") and len(rows) == 7


@pytest.mark.skipif(not loadgen.find_generator()[1], reason="needs redis-benchmark (apt-get install redis-tools)")
def test_tiny_sweep_report_and_rerun(tmp_path):
    out = str(tmp_path / "sweep")
    args = ["sweep", "--targets", "holdfast", "--io-threads", "1", "--pipeline", "1", "--tests", "set",
            "--requests", "2000", "--repeat", "2", "--out", out]
    assert cli.main(args) == 0
    with open(os.path.join(out, "results.json")) as f:
        data = json.load(f)
    assert [s["round"] for s in data["samples"]] == [1, 2] and all(s["rps"] > 0 for s in data["samples"])
    with open(os.path.join(out, "environment.json")) as f:
        env = json.load(f)
    assert env["servers"]["holdfast"]["config"]["appendonly"] == "no"  # its full CONFIG GET *
    os.remove(os.path.join(out, "report.md"))
    assert cli.main(["report", out]) == 0 and os.path.exists(os.path.join(out, "report.md"))
    shutil.move(os.path.join(out, "results.json"), os.path.join(out, "old.json"))
    assert cli.main(["rerun", out]) == 0  # the same run again, from environment.json
    with open(os.path.join(out, "results.json")) as f:
        assert len(json.load(f)["samples"]) == 2


@pytest.mark.skipif(not loadgen.find_generator()[1], reason="needs redis-benchmark (apt-get install redis-tools)")
def test_ctrl_c_keeps_what_was_measured_and_stops_the_servers(tmp_path):
    import signal  # noqa: PLC0415
    import subprocess  # noqa: PLC0415
    import sys  # noqa: PLC0415
    import time  # noqa: PLC0415

    out = str(tmp_path / "sweep")
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    proc = subprocess.Popen([sys.executable, "-m", "bench", "sweep", "--targets", "holdfast", "--io-threads", "1,2",
                             "--pipeline", "1", "--tests", "set,get", "--requests", "5000", "--repeat", "50",
                             "--out", out], cwd=root, stderr=subprocess.PIPE)
    deadline = time.time() + 60
    while time.time() < deadline and b"[3/" not in proc.stderr.read1(4096):
        pass  # wait for a few rounds
    proc.send_signal(signal.SIGINT)
    assert proc.wait(60) == 130
    with open(os.path.join(out, "results.json")) as f:
        data = json.load(f)
    assert data["meta"]["interrupted"] is True and len(data["samples"]) >= 3
    with open(os.path.join(out, "report.md")) as f:
        assert "**interrupted**" in f.read()
    leftovers = []
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            if os.readlink("/proc/%s/cwd" % pid).startswith(out):
                leftovers.append(pid)
        except OSError:
            pass
    assert leftovers == [], "servers left running: %s" % leftovers


def test_zipf_key_sampler():
    from bench import workload  # noqa: PLC0415

    keys = workload.key_sampler(1000, 0.99, seed=1)(50000)
    assert keys.min() >= 0 and keys.max() < 1000
    counts = [int((keys == i).sum()) for i in range(5)]
    assert counts == sorted(counts, reverse=True) and counts[0] > 10 * 50000 / 1000  # skewed to the first keys
    uniform = workload.key_sampler(1000, 0, seed=1)(50000)
    assert int((uniform == 0).sum()) < 3 * 50000 / 1000
    assert workload.parse_test("mixed:0.9") == 0.9 and workload.parse_test("get") is None


def test_built_in_generator_verifies_values(hf_server):
    from bench import workload  # noqa: PLC0415

    r = hf_server.client()
    r.flushall()
    fig = workload.run(hf_server.port, 0.5, clients=4, pipeline=4, requests=2000, value_size=32, keyspace=100,
                       zipf_s=0.99, procs=2)
    assert fig["errors"] == 0 and fig["requests_made"] == 2000 and fig["rps"] > 0
    assert r.get("key:0").startswith(b"val:0:")
    r.set("key:0", "not what the generator wrote")
    fig = workload.run(hf_server.port, 1.0, clients=2, pipeline=2, requests=100, value_size=32, keyspace=1,
                       zipf_s=0, procs=1)
    assert fig["errors"] == 100  # every read of the tampered key is caught
    r.close()


@pytest.mark.skipif(not loadgen.find_generator()[1], reason="needs redis-benchmark (apt-get install redis-tools)")
def test_sweep_names_the_generator_of_each_figure(tmp_path):
    out = str(tmp_path / "mixed")
    assert cli.main(["sweep", "--targets", "holdfast", "--io-threads", "1", "--pipeline", "4", "--tests",
                     "get,mixed:0.8", "--requests", "2000", "--repeat", "1", "--keyspace", "500", "--out", out]) == 0
    with open(os.path.join(out, "results.json")) as f:
        samples = json.load(f)["samples"]
    gens = {s["test"]: s["generator"] for s in samples}
    assert gens["get"] == "redis-benchmark" and gens["mixed:0.8"].startswith("built-in")
    with open(os.path.join(out, "report.md")) as f:
        report = f.read()
    assert "Made by: built-in (2 processes). Verification errors: 0." in report
    assert "Made by: redis-benchmark." in report
