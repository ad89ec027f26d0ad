"""bench.aof, bench.rdb and bench.demo: one tiny end-to-end run each, against
Holdfast only, writing into tmp_path, that must leave numbers where the
reports expect them and the checks each driver makes (keys loaded equal
keys written, the replica holds the primary's data) passed. No speed is
asserted."""

import json
import os
import re
import signal
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
    ratios = _rows(report, r"^\| Holdfast \| (\d+\.\d\d) \| \d+\.\d\d \| \d+\.\d\d \| (\d+\.\d\d) \|$")
    assert len(ratios) == 1  # of the medians, and always/no within each round: one round, the same figure
    assert ratios[0][0] == ratios[0][1]
    assert data["summary"]["always_no_per_round"]["holdfast"]["n"] == 1
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
    for ds in ("strings", "hashes"):
        # round 2 saves what round 1's busy-BGSAVE writer left: values of the same kind, a file of the same size
        r1, r2 = (next(s["file_bytes"] for s in data["samples"] if s["dataset"] == ds and s["round"] == rnd)
                  for rnd in (1, 2))
        assert abs(r2 - r1) <= 0.1 * r1, (ds, r1, r2)
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


def test_rdb_load_under_a_millisecond_is_reported_not_divided(tmp_path):
    """redis-server logs a tiny load as "0.000 seconds": a load time of 0,
    no load speed, "<0.001" in the report; no line at all: n/a."""
    from bench import rdb  # noqa: PLC0415

    log = tmp_path / "redis.log"
    log.write_bytes(b"old line\n1:M 04 Dec 2026 17:00:00.000 * DB loaded from disk: 0.000 seconds\n")
    assert rdb._loaded_seconds(log, 0) == 0.0
    assert rdb._loaded_seconds(log, log.stat().st_size) is None
    st = {"n": 1, "median": 0.0, "min": 0.0, "max": 0.0}
    assert rdb._m(st, none="n/a", zero="<0.001") == "<0.001"
    assert rdb._m(None, none="n/a") == "n/a"
    assert rdb._load_text(0.0) == "<0.001 s" and rdb._load_text(None) == "n/a"
    assert rdb._ratio(st, st) is None


def test_rdb_tiny_dataset_with_redis(tmp_path):
    """A dataset redis-server may load in "0.000 seconds" (no load speed to
    compute): the run ends with a report all the same."""
    require_tool("redis-server")
    out = tmp_path / "rdb"
    _run("bench.rdb", ["--strings", "200", "--hashes", "50", "--fields", "5", "--rounds", "1", "--out", str(out)],
         cwd=tmp_path, TMPDIR=str(tmp_path))
    data = json.loads((out / "results.json").read_text())
    assert sorted({s["server"] for s in data["samples"]}) == ["holdfast", "redis"]
    for s in data["samples"]:
        assert s["keys"] == {"strings": 200, "hashes": 50}[s["dataset"]]
        assert s["load_s"] is not None and s["load_s"] >= 0
        assert (s["load_keys_per_s"] is None) == (s["load_s"] == 0)
    report = (out / "report.md").read_text()
    rows = _rows(report, r"^\| (strings|hashes) \| (Holdfast|redis-server) \| [\d.]+ \| \d+ \| (<0\.001|[\d.]+) \| "
                         r"(n/a|\d+) \|.*\|$")
    assert sorted((ds, name) for ds, name, *_ in rows) == sorted(
        (ds, name) for ds in ("strings", "hashes") for name in ("Holdfast", "redis-server"))
    for _ds, _name, load_s, load_rate in rows:
        assert (load_s == "<0.001") == (load_rate == "n/a")
    targets = _rows(report, r"^\| (strings|hashes) \| [\d.]+ \| (n/a|[\d.]+) \| [\d.]+ \| (yes|\*\*no\*\*) \|$")
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

    # A second run in the same folder starts on empty data directories (not on this run's dataset and AOF):
    # the same key counts as this fresh run; and on fresh logs: the same number of ready lines (the primary
    # starts twice a run). Only data/, replica-data/ and the logs go; the rest of the folder stays.
    counts = _demo_key_counts(report)
    readies = {name: _ready_lines(out / name) for name in ("holdfast.log", "replica.log")}
    assert readies == {"holdfast.log": 2, "replica.log": 1}
    (out / "data" / "stale").write_text("left by the first run")
    (out / "notes.txt").write_text("not the demo's")
    _run("bench.demo", ["--requests", "2000", "--clients", "4", "--port", "0", "--out", str(out)], cwd=tmp_path)
    again = (out / "report.md").read_text()
    assert "**" not in again
    assert _demo_key_counts(again) == counts
    assert not (out / "data" / "stale").exists() and (out / "notes.txt").read_text() == "not the demo's"
    assert {name: _ready_lines(out / name) for name in readies} == readies
    assert sorted(p.name for p in tmp_path.iterdir()) == ["demo"]


def _ready_lines(log):
    return log.read_text().count("Ready to accept connections")


def _demo_key_counts(report):
    """The key counts a demo report gives: before and after the restart, the
    full sync, primary and replica after the WAIT."""
    m = re.search(r"(\d+) keys before and (\d+) after", report)
    sync = re.search(r"Full sync of (\d+) keys", report)
    wait = re.search(r"keys: primary (\d+), replica (\d+);", report)
    return [int(x) for x in (*m.groups(), sync[1], *wait.groups())]


def _demo_patched(prelude, args, cwd):
    """`python -m bench.demo args` (its `__main__` block, through runpy) after
    `prelude` has patched the modules it uses; the finished process."""
    code = prelude + "\nimport runpy\nrunpy.run_module('bench.demo', run_name='__main__', alter_sys=True)\n"
    env = dict(os.environ, PYTHONPATH=ROOT + (os.pathsep + os.environ["PYTHONPATH"]
                                              if os.environ.get("PYTHONPATH") else ""))
    return subprocess.run([sys.executable, "-c", code, *args], cwd=cwd, env=env, capture_output=True, text=True,
                          timeout=300)


def _servers_left(out):
    """Pids of processes (the demo's servers) whose command line names `out`;
    any found are stopped so a failing test leaves none behind."""
    pids = []
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            with open("/proc/%s/cmdline" % pid, "rb") as f:
                if str(out).encode() in f.read():
                    pids.append(int(pid))
        except OSError:
            continue
    for pid in pids:
        try:
            os.kill(pid, signal.SIGKILL)
        except OSError:
            pass
    return pids


def test_demo_fails_when_keys_are_lost(tmp_path):
    """A check that fails (here every key gone across the persistence step's
    restart: its AOF and RDB are deleted just before it) still gets its
    report and a clean shutdown, then a non-zero exit naming the check."""
    require_tool("redis-benchmark")
    out = tmp_path / "demo"
    prelude = "\n".join([
        "import os, shutil",
        "from bench import serverproc",
        "DATA = %r" % str(out / "data"),
        "_start, starts = serverproc.ServerProc.start, []",
        "def start(self, timeout=30):",
        "    if self.name == 'holdfast':",
        "        starts.append(self)",
        "        if len(starts) == 2:  # the restart on the snapshot and AOF: both gone",
        "            shutil.rmtree(os.path.join(DATA, 'appendonlydir'))",
        "            os.remove(os.path.join(DATA, 'dump.rdb'))",
        "    return _start(self, timeout)",
        "serverproc.ServerProc.start = start",
        # the sweep's load is not what this test is about: an empty sweep stands in
        "import json, bench.sweep",
        "def sweep(argv):",
        "    out = argv[argv.index('--out') + 1]",
        "    os.makedirs(out, exist_ok=True)",
        "    with open(os.path.join(out, 'results.json'), 'w') as f:",
        "        json.dump({'samples': []}, f)",
        "    return 0",
        "bench.sweep.main = sweep",
    ])
    proc = _demo_patched(prelude, ["--requests", "2000", "--clients", "4", "--port", "0", "--out", str(out)],
                         tmp_path)
    assert not _servers_left(out)
    assert proc.returncode == 1, proc.stdout[-3000:] + proc.stderr[-3000:]
    report = (out / "report.md").read_text()
    assert re.search(r"\d+ keys before and 0 after -- \*\*keys were lost\*\*\.", report)
    assert "Shutdown: clean (exit status 0); replica: clean." in report
    assert re.search(r"check failed: persistence: keys were lost across the restart \(\d+ before, 0 after\)",
                     proc.stderr), proc.stderr[-3000:]


def test_demo_stops_when_the_sweep_is_interrupted(tmp_path):
    """Ctrl-C during the sweep step (bench.sweep catches it, writes what it
    measured and returns 130): the demo stops there, its servers shut down,
    exit status 130, and no report claims a finished run."""
    require_tool("redis-benchmark")
    out = tmp_path / "demo"
    prelude = "\n".join([
        "from bench import sweep",
        "_run_sweep = sweep.run_sweep",
        "def run_sweep(opts, targets, gen_name, gen_path, pins, workdir, on_sample, info):",
        "    def ctrl_c_after_one(sample):",
        "        on_sample(sample)",
        "        raise KeyboardInterrupt",
        "    return _run_sweep(opts, targets, gen_name, gen_path, pins, workdir, ctrl_c_after_one, info)",
        "sweep.run_sweep = run_sweep",
    ])
    proc = _demo_patched(prelude, ["--requests", "2000", "--clients", "4", "--port", "0", "--out", str(out)],
                         tmp_path)
    assert not _servers_left(out)
    assert proc.returncode == 130, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert "interrupted: writing what was measured (1 samples)" in proc.stderr
    assert "demo stopped early; the server was shut down" in proc.stderr
    assert json.loads((out / "sweep" / "results.json").read_text())["meta"]["interrupted"] is True
    assert not (out / "report.md").exists()
