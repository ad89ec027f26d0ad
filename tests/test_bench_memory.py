"""bench.memory: the RESP it builds, and one tiny end-to-end run against
Holdfast that must write its three files with numbers in them. No memory
figure is asserted."""

import json
import subprocess
import sys

from servers import ROOT

from bench import memory


def test_batches_are_well_formed_resp():
    batches = memory.hash_batches(3, 2, per_batch=2)
    assert [n for _, n in batches] == [2, 1]
    assert batches[0][0].startswith(b"*6\r\n$4\r\nHSET\r\n$6\r\nhash:0\r\n$2\r\nf0\r\n")
    assert b"$6\r\nhash:2\r\n" in batches[1][0]
    zs = memory.zset_batches(2500, pairs=1000, per_batch=2)
    assert [n for _, n in zs] == [2, 1]
    assert zs[1][0].startswith(b"*1002\r\n$4\r\nZADD\r\n$8\r\nzset:big\r\n")
    assert zs[0][0].count(b"member:") == 2000


def test_end_to_end(tmp_path):
    out = tmp_path / "memory"
    proc = subprocess.run([sys.executable, "-m", "bench.memory", "--hashes", "200", "--zset-members", "500",
                           "--no-redis", "--out", str(out)],
                          cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    data = json.loads((out / "results.json").read_text())
    got = [(s["server"], s["dataset"], s["elements"], s["encoding"]) for s in data["samples"]]
    assert got == [("holdfast", "hashes", 200, "listpack"), ("holdfast", "zset", 500, "skiplist")]
    for s in data["samples"]:
        assert s["rss_before"] > 0 and s["rss_after"] > 0 and s["load_s"] >= 0
        assert isinstance(s["rss_bytes_per_element"], float)
    env = json.loads((out / "environment.json").read_text())
    for key in ("cpu_model", "cpu_count", "memory_total", "kernel", "python", "git_commit", "command_line"):
        assert key in env
    report = (out / "report.md").read_text()
    assert "--hashes 200" in report
    assert "| hashes | Holdfast | listpack |" in report and "| zset | Holdfast | skiplist |" in report
