"""bench.aof, bench.rdb and bench.demo: one tiny end-to-end run each, against
Holdfast only, writing into tmp_path, that must leave numbers where the
reports expect them and the checks each driver makes (keys loaded equal
keys written, the replica holds the primary's data) passed. No speed is
asserted."""

import json
import os
import re
import subprocess
import sys

from conftest import require_tool
from servers import ROOT


def _run(module, args, cwd, **env):
    """`python -m module args` in `cwd`, importing this checkout; its output
    on failure."""
    full_env = dict(os.environ, PYTHONPATH=ROOT + (os.pathsep + os.environ["PYTHONPATH"]
                                                   if os.environ.get("PYTHONPATH") else ""), **env)
    proc = subprocess.run([sys.executable, "-m", module, *args], cwd=cwd, env=full_env, capture_output=True,
                          text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    return proc


def _rows(report, pattern):
    return [m.groups() for m in re.finditer(pattern, report, re.M)]


def test_aof_end_to_end(tmp_path):
    require_tool("redis-benchmark")  # skips, or fails under CI=true
    out = tmp_path / "aof"
    # cwd: the driver makes its server directories in the current directory (the machine's disk)
    _run("bench.aof", ["--requests", "2000", "--clients", "4", "--rewrite-keys", "5000", "--rounds", "1",
                       "--no-redis", "--out", str(out)], cwd=tmp_path)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["aof"]  # its server directories are gone
    data = json.loads((out / "results.json").read_text())
    settings = ["appendonly no", "always", "everysec", "no"]
    assert [(s["server"], s["setting"], s["round"]) for s in data["samples"]] == \
        [("holdfast", label, 1) for label in settings]
    for s in data["samples"]:
        assert s["rps"] > 0
        assert "-t set -c 4 -n 2000" in s["command"] and "-r 1000000" in s["command"]
    (rw,) = data["rewrites"]
    assert rw["server"] == "holdfast" and rw["keys"] == 5500  # 5,000 before BGREWRITEAOF, 500 after
    assert rw["rewrite_s"] > 0 and rw["load_s"] > 0
    assert set(data["summary"]["throughput"]) == {"holdfast"}
    assert all(data["summary"]["throughput"]["holdfast"][label]["n"] == 1 for label in settings)
    env = json.loads((out / "environment.json").read_text())
    assert "--rewrite-keys 5000" in env["command_line"] and "redis" not in env["server_commands"]
    report = (out / "report.md").read_text()
    assert [r[0] for r in _rows(report, r"^\| (appendonly no|always|everysec|no) \| (\d+) \|$")] == settings
    assert all(int(r[1]) > 0 for r in _rows(report, r"^\| (appendonly no|always|everysec|no) \| (\d+) \|$"))
    assert len(_rows(report, r"^\| Holdfast \| \d+\.\d\d \| \d+\.\d\d \| \d+\.\d\d \|$")) == 1  # the ratios
    assert len(_rows(report, r"^\| Holdfast \| \d+\.\d\d \| \d+\.\d\d \| 5,500 \|$")) == 1  # rewrite and load
    assert "5,000 keys of 100 bytes" in report and "then 500 more keys" in report


def test_rdb_end_to_end(tmp_path):
    out = tmp_path / "rdb"
    # TMPDIR: the driver makes its server directories with tempfile.mkdtemp()
    _run("bench.rdb", ["--strings", "5000", "--hashes", "2000", "--fields", "5", "--rounds", "2", "--no-redis",
                       "--out", str(out)], cwd=tmp_path, TMPDIR=str(tmp_path))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["rdb"]  # its server directories are gone
    data = json.loads((out / "results.json").read_text())
    got = [(s["server"], s["dataset"], s["round"]) for s in data["samples"]]
    assert got == [("holdfast", ds, rnd) for ds in ("strings", "hashes") for rnd in (1, 2)]
    for s in data["samples"]:
        # every restart on the file came back with every key the client wrote (the driver checks DBSIZE)
        assert s["keys"] == {"strings": 5000, "hashes": 2000}[s["dataset"]]
        assert s["save_s"] > 0 and s["save_keys_per_s"] > 0 and s["file_bytes"] > 0
        assert s["load_s"] > 0 and s["load_keys_per_s"] > 0  # read from the server's own log line
        assert s["used_memory"] > 0 and s["fork_usec"] > 0
        assert s["cow_idle_bytes"] >= 0 and s["cow_busy_bytes"] >= 0
        assert s["writes_during_bgsave"] > 0  # the busy BGSAVE had a writer
    first = next(s for s in data["samples"] if s["dataset"] == "strings" and s["round"] == 1)
    assert first["file_bytes"] > 5000 * 100  # random hex values: LZF finds little to compress
    summary = data["summary"]
    assert {ds: list(by) for ds, by in summary.items()} == {"strings": ["holdfast"], "hashes": ["holdfast"]}
    assert summary["strings"]["holdfast"]["save_s"]["n"] == 2
    report = (out / "report.md").read_text()
    assert "**strings** = 5,000 keys of 100 random hex characters; **hashes** = 2,000 hashes of 5" in report
    num = r"[\d.]+ \[[\d.]+-[\d.]+\]"  # two rounds: median [min-max]
    rows = _rows(report, r"^\| (strings|hashes) \| Holdfast((?: \| %s){9}) \|$" % num)  # nine figures a row
    assert [r[0] for r in rows] == ["strings", "hashes"]
    targets = _rows(report, r"^\| (strings|hashes) \| - \| - \| [\d.]+ \| (yes|\*\*no\*\*) \|$")
    assert [t[0] for t in targets] == ["strings", "hashes"]


def test_demo_end_to_end(tmp_path):
    require_tool("redis-benchmark")  # the load step, and the sweep's generator
    out = tmp_path / "demo"
    # --port 0: any free port, not 6390 (a `make demo` may be running); --out: every file it writes
    _run("bench.demo", ["--requests", "2000", "--clients", "4", "--port", "0", "--out", str(out)], cwd=tmp_path)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["demo"]
    for path in ("report.md", "holdfast.log", "replica.log", "data/dump.rdb", "data/appendonlydir",
                 "replica-data/appendonlydir", "sweep/results.json", "sweep/report.md"):
        assert (out / path).exists(), path
    report = (out / "report.md").read_text()
    assert "**" not in report  # how the report marks lost keys or a differing replica
    assert "GET demo:greeting -> 'hello from holdfast'" in report
    assert "Server: `python -m engine results/demo/holdfast.conf --port " in report
    assert "--dir %s` (log: `%s/holdfast.log`" % (out / "data", out) in report

    load = _rows(report, r"^\| (SET|GET) \| (1|16) \| ([\d,]+) \| [\d.]+ \| [\d.]+ \|$")
    assert [(t, int(p)) for t, p, _ in load] == [("SET", 1), ("GET", 1), ("SET", 16), ("GET", 16)]
    assert all(int(rps.replace(",", "")) > 0 for _, _, rps in load)
    assert "-c 4 -n 2000 -P 1|16" in report

    assert re.search(r"BGSAVE: status ok, fork \d+ us, copy-on-write [\d.]+ MiB, file [\d.]+ MiB \(`%s`\)\."
                     % re.escape(str(out / "data" / "dump.rdb")), report)
    m = re.search(r"append-only file: loaded in ([\d.]+) s, (\d+) keys before and (\d+) after\.", report)
    assert m and m[2] == m[3] and int(m[2]) >= 100000  # the demo's keys (and the tour's) came back
    assert "DB loaded from append only file" in (out / "holdfast.log").read_text()
    keys = int(m[3])

    assert "role=slave, master_link_status=up" in report
    m = re.search(r"`WAIT 1 5000` -> (\d+) replica\(s\) acknowledged; keys: primary (\d+), replica (\d+); "
                  r"1200 sampled values identical\.", report)
    assert m and m[1] == "1" and int(m[2]) == int(m[3]) == keys + 1000

    sweep = _rows(report, r"^\| (set|get|mixed:0\.9) \| (1|16) \| ([\d,]+) \| [\d.]+ \| [\d.]+ \| .+ \|$")
    assert sorted((t, int(p)) for t, p, _ in sweep) == sorted(
        (t, p) for t in ("set", "get", "mixed:0.9") for p in (1, 16))
    assert all(int(rps.replace(",", "")) > 0 for _, _, rps in sweep)
    assert len(json.loads((out / "sweep" / "results.json").read_text())["samples"]) == 6
    m = re.search(r"(\d+) keys on the primary, (\d+) on the replica, all (\d+) values written by the sweep "
                  r"identical\.", report)
    assert m and m[1] == m[2] and int(m[1]) > keys + 1000 and int(m[3]) > 0
    assert "Shutdown: clean (exit status 0); replica: clean." in report
