"""bench.maxmemory and bench.hotloop: one tiny end-to-end run each, against
Holdfast only, that must write numbers where the reports expect them. No
speed is asserted."""

import json
import subprocess
import sys

from conftest import require_tool
from servers import ROOT

from bench import hotloop


def test_maxmemory_end_to_end(tmp_path):
    require_tool("redis-benchmark")  # skips, or fails under CI=true
    out = tmp_path / "maxmemory"
    proc = subprocess.run([sys.executable, "-m", "bench.maxmemory", "--rounds", "1", "--requests", "60000",
                           "--clients", "4", "--no-redis", "--out", str(out)],
                          cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    data = json.loads((out / "results.json").read_text())
    got = [(s["setting"], s["pipeline"]) for s in data["samples"]]
    assert len(got) == 6 and {p for _, p in got} == {16, 1}
    for s in data["samples"]:
        assert s["server"] == "holdfast" and s["rps"] > 0
        assert ("-n 60000" if s["pipeline"] == 16 else "-n 15000") in s["command"]
    evicting = [s for s in data["samples"] if "4mb" in s["setting"] and s["pipeline"] == 16]
    assert len(evicting) == 1 and evicting[0]["evicted_keys"] > 0  # ~45,000 keys pass a 4mb limit
    assert all(s["evicted_keys"] == 0 for s in data["samples"] if "4mb" not in s["setting"])
    report = (out / "report.md").read_text()
    assert "| maxmemory 4mb allkeys-lru | 16 |" in report


def test_hotloop_serves_every_request():
    loop = hotloop._Loop("get", pipeline=4, clients=3)
    assert loop.run(5) > 0
    # every pass answered every GET: the replies were read back, nothing is left queued
    assert all(not c.wbuf for c in loop.srv.clients.values())
    assert loop.srv.stats.keyspace_hits == 5 * 4 * 3
    med, best = hotloop.timed("set", 2, 2, passes=3, rounds=2)
    assert 0 < best <= med
