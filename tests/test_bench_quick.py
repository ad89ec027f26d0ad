"""bench.quick and its helpers: parsing redis-benchmark's CSV and /proc stat
from recorded samples, the summary and report arithmetic on made-up samples,
the redis-py fallback loader, and one tiny end-to-end run that must write
its three files. No speed is asserted anywhere."""

import json
import os
import subprocess
import sys

import pytest
from conftest import require_tool
from servers import ROOT

from bench import demo, procstat, quick, serverproc

# redis-benchmark 7.0.15 --csv, recorded
CSV_7 = (
    '"test","rps","avg_latency_ms","min_latency_ms","p50_latency_ms","p95_latency_ms","p99_latency_ms","max_latency_ms"\n'
    '"SET","151515.16","0.181","0.048","0.159","0.351","0.495","1.175"\n'
    '"GET","155038.77","0.176","0.056","0.159","0.231","0.735","1.591"\n'
)
# redis-benchmark 6.0 --csv: no header, two columns
CSV_6 = '"SET","99009.90"\n"GET","101010.10"\n'

# /proc/PID/stat of a process whose comm holds spaces and parentheses
STAT = ("4242 (holdfast (main) x) S 1 4242 4242 0 -1 4194560 1380 0 0 0 "
        "250 75 0 0 20 0 3 0 123456 31457280 5000 18446744073709551615 1 1 0 0 0 0 0 "
        "16781312 16386 0 0 0 17 0 0 0 0 0 0 0 0 0 0 0 0 0 0\n")


def test_parse_csv_redis7():
    rows = procstat.parse_benchmark_csv(CSV_7)
    assert list(rows) == ["SET", "GET"]
    assert rows["SET"]["rps"] == pytest.approx(151515.16)
    assert rows["GET"]["p50_latency_ms"] == pytest.approx(0.159)
    assert rows["GET"]["max_latency_ms"] == pytest.approx(1.591)


def test_parse_csv_redis6_and_noise():
    rows = procstat.parse_benchmark_csv("\r\nSET: rps=0.0 (overall: 0.0)\n" + CSV_6)
    assert rows == {"SET": {"rps": pytest.approx(99009.90)}, "GET": {"rps": pytest.approx(101010.10)}}


def test_parse_csv_rejects_empty_output():
    with pytest.raises(ValueError):
        procstat.parse_benchmark_csv("")
    with pytest.raises(ValueError):
        procstat.parse_benchmark_csv('"test","rps"\n')


def test_parse_stat_cpu():
    # utime 250 + stime 75 ticks; comm's ')' must not shift the fields
    assert procstat.parse_stat_cpu(STAT, clk_tck=100) == pytest.approx(3.25)
    assert procstat.parse_stat_cpu(STAT, clk_tck=1000) == pytest.approx(0.325)


def test_parse_schedstat():
    assert procstat.parse_schedstat_ns("1234567890 5555 42\n") == 1234567890


def test_cpu_seconds_of_a_live_process_grows():
    pid = os.getpid()
    a, sa = procstat.cpu_seconds(pid), procstat.sched_cpu_seconds(pid)
    x = 0
    for i in range(2_000_000):
        x += i
    b, sb = procstat.cpu_seconds(pid), procstat.sched_cpu_seconds(pid)
    assert 0 <= a <= b
    if sa is not None:
        assert sb > sa


def _sample(server, test, pipeline, rps, cpu_us, rnd=1):
    return {"server": server, "round": rnd, "test": test, "pipeline": pipeline, "rps": rps,
            "cpu_us_per_req": cpu_us, "cpu_us_per_req_sched": cpu_us}


def test_summary_and_verdicts():
    samples = [
        _sample("holdfast", "SET", 1, 90.0, 3.0, 1), _sample("holdfast", "SET", 1, 80.0, 4.0, 2),
        _sample("holdfast", "SET", 1, 70.0, 9.0, 3),
        _sample("redis", "SET", 1, 100.0, 2.0, 1), _sample("redis", "SET", 1, 100.0, 2.0, 2),
        _sample("redis", "SET", 1, 100.0, 2.0, 3),
        _sample("holdfast", "GET", 16, 50.0, 3.0), _sample("redis", "GET", 16, 100.0, 2.0),
    ]
    summary = quick.summarise(samples)
    assert list(summary) == [("SET", 1), ("GET", 16)]
    st = summary[("SET", 1)]["holdfast"]
    assert st["rps"] == {"median": 80.0, "min": 70.0, "max": 90.0, "n": 3}
    assert st["cpu_us"]["median"] == 4.0
    v = quick.verdicts(summary)
    # SET -P 1: rps 0.8x (met, the bound is inclusive), CPU 2.0x > 1.5x (missed)
    assert v[("SET", 1)]["rps_ratio"] == pytest.approx(0.8) and v[("SET", 1)]["rps_ok"]
    assert v[("SET", 1)]["cpu_ratio"] == pytest.approx(2.0) and not v[("SET", 1)]["cpu_ok"]
    # GET -P 16: rps 0.5x (missed), CPU 1.5x <= 2x (met)
    assert not v[("GET", 16)]["rps_ok"] and v[("GET", 16)]["cpu_ok"]
    # a ratio on the bound meets it even when float division lands a hair above
    edge = quick.summarise([_sample("holdfast", "GET", 1, 80.0, 12.6), _sample("redis", "GET", 1, 100.0, 8.4)])
    assert quick.verdicts(edge)[("GET", 1)]["cpu_ok"] and quick.verdicts(edge)[("GET", 1)]["rps_ok"]
    edge = quick.summarise([_sample("holdfast", "GET", 1, 79.9, 12.7), _sample("redis", "GET", 1, 100.0, 8.4)])
    assert not quick.verdicts(edge)[("GET", 1)]["cpu_ok"] and not quick.verdicts(edge)[("GET", 1)]["rps_ok"]

    env = {"git_commit": "abc", "cpu_model": "Test CPU", "cpu_count": 2, "memory_total": "1 kB",
           "kernel": "Linux", "python": "3.11", "redis_server": "Redis server v=7.0.15"}
    meta = {"date": "today", "command": "python -m bench.quick", "loader": "redis-benchmark 7.0.15",
            "clients": 50, "requests": 1000, "rounds": 3, "pinning": "server on CPU 0, load generator on CPU 1"}
    report = quick.render_report(summary, env, meta)
    assert "| SET | 1 | 80 [70-90] | 100 [100-100] | 0.80 | >= 0.8: met |" in report
    assert "| 2.00 | <= 1.5: **missed** |" in report
    assert "| GET | 16 | 50 | 100 | 0.50 | >= 0.8: **missed** |" in report
    assert "2 of 4 targets met." in report
    assert "server on CPU 0" in report


def test_report_without_redis():
    summary = quick.summarise([_sample("holdfast", "SET", 1, 1234.0, 5.0)])
    env = {"git_commit": "abc"}
    meta = {"date": "d", "command": "c", "loader": "l", "clients": 1, "requests": 1, "rounds": 1, "pinning": "none"}
    report = quick.render_report(summary, env, meta)
    assert "| SET | 1 | 1,234 | 5.00 | 5.00 |" in report
    assert "targets met" not in report


def test_args():
    o = quick.parse_args(["--tests", "SET,get", "--pipelines", "1,4,16", "--rounds", "2"])
    assert o.tests == ["set", "get"] and o.pipelines == [1, 4, 16] and o.rounds == 2
    assert o.requests == 200000 and o.clients == 50 and not o.no_redis
    with pytest.raises(SystemExit):
        quick.parse_args(["--pipelines", "0"])


def test_python_loader(hf_server):
    """The fallback loader (used when redis-benchmark is missing) really sends its requests."""
    for pipeline in (1, 8):
        row = quick.python_load(hf_server.port, "set", pipeline, 301, procs=2, on_start=lambda: "t0")
        assert row["rps"] > 0 and row["start"] == "t0"
        assert quick.python_load(hf_server.port, "get", pipeline, 64, procs=2)["rps"] > 0
    assert hf_server.client().get("key:__rand_int__") == b"xxx"


def test_server_proc_stops_on_error(tmp_path):
    port = serverproc.free_port()
    srv = serverproc.ServerProc("holdfast", serverproc.holdfast_command(port), port, cwd=str(tmp_path),
                                logpath=str(tmp_path / "log"))
    with pytest.raises(RuntimeError):
        with srv:
            assert procstat.cpu_seconds(srv.pid) >= 0
            raise RuntimeError("boom")
    assert not srv.alive()


def test_quick_end_to_end(tmp_path):
    require_tool("redis-benchmark")  # skips, or fails under CI=true
    out = tmp_path / "quick"
    proc = subprocess.run([sys.executable, "-m", "bench.quick", "--rounds", "1", "--requests", "2000",
                           "--clients", "4", "--no-redis", "--out", str(out)],
                          cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    data = json.loads((out / "results.json").read_text())
    got = [(s["server"], s["test"], s["pipeline"]) for s in data["samples"]]
    assert got == [("holdfast", "SET", 1), ("holdfast", "GET", 1), ("holdfast", "SET", 16), ("holdfast", "GET", 16)]
    for s in data["samples"]:
        assert s["rps"] > 0 and s["cpu_s"] >= 0 and s["requests"] == 2000
    env = json.loads((out / "environment.json").read_text())
    for key in ("cpu_model", "cpu_count", "memory_total", "kernel", "python", "packages", "git_commit",
                "command_line", "server_commands"):
        assert key in env
    assert "--requests 2000" in env["command_line"]
    report = (out / "report.md").read_text()
    assert "| SET | 16 |" in report and "| GET | 1 |" in report


def test_demo_tour_and_report(hf_server):
    lines = demo.tour(hf_server.port)
    assert lines[0] == "PING -> 'PONG'"
    assert "GET demo:greeting -> 'hello from holdfast'" in lines
    samples = [dict(_sample("holdfast", "SET", 1, 12345.0, 10.0), p50_latency_ms=0.5),
               dict(_sample("holdfast", "GET", 16, 99999.0, 2.0), cpu_us_per_req_sched=None)]
    meta = {"date": "d", "commit": "c", "env": {"cpu_model": "CPU", "cpu_count": 2, "python": "3.11"},
            "server": "python -m engine results/demo/holdfast.conf --port 6390", "pinning": "none",
            "bench_bin": "/usr/bin/redis-benchmark", "bench_cmd": "redis-benchmark -t set|get", "requests": 10,
            "clients": 50, "shutdown": "clean (exit status 0)"}
    report = demo.render(meta, lines, samples, ["BGSAVE: status ok, fork 900 us"], ["Full sync of 3 keys: 0.10 s"])
    assert "## Persistence\n\nBGSAVE: status ok, fork 900 us" in report
    assert "## Replication\n\nFull sync of 3 keys: 0.10 s" in report
    assert "| SET | 1 | 12,345 | 0.500 | 10.00 |" in report
    assert "| GET | 16 | 99,999 | - | 2.00 |" in report
    assert "Shutdown: clean (exit status 0)." in report
