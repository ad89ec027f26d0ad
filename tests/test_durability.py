"""Crash rounds with a simulated power loss (bench/durability.py's rounds,
aof/powerloss.py's journal): under appendfsync always no acknowledged write
is ever lost, also when the crash comes during a BGREWRITEAOF; under
everysec only writes of about the last 2 seconds may be. The full run (100
rounds per policy) is the benchmark's; these few rounds keep it honest."""

import pytest

from aof import powerloss
from bench.durability import run_rounds


@pytest.mark.parametrize("sync", ["kernel-aio", "thread"])
def test_always_loses_no_acknowledged_write(tmp_path, monkeypatch, sync):
    """Each of aof/groupsync.py's two ways to run the group's fdatasync."""
    if sync == "thread":
        monkeypatch.setenv("HOLDFAST_AOF_SYNC", "thread")
    rounds = run_rounds("always", 6, seed=7, workdir=str(tmp_path))
    assert sum(r["acked"] for r in rounds) > 1000
    assert any(r["rewrite"] for r in rounds)
    assert [r["lost"] for r in rounds] == [0] * 6


def test_always_loses_no_acknowledged_write_of_a_pipeline(tmp_path):
    """Pipelined SETs run as command runs (one AOF feed per run): the same
    guarantee, acknowledged reply by reply."""
    rounds = run_rounds("always", 4, seed=11, workdir=str(tmp_path), pipeline=16)
    assert sum(r["acked"] for r in rounds) > 1000
    assert [r["lost"] for r in rounds] == [0] * 4


def test_everysec_loses_at_most_the_last_seconds(tmp_path):
    rounds = run_rounds("everysec", 3, seed=7, workdir=str(tmp_path))
    assert all(r["oldest_lost_s"] <= 2.5 for r in rounds), rounds


def test_drop_unsynced_keeps_what_was_synced(tmp_path):
    import random  # noqa: PLC0415

    from aof import manifest as mf  # noqa: PLC0415

    d = tmp_path / "appendonlydir"
    d.mkdir()
    mf.write(str(d), "appendonly.aof", mf.Manifest([mf.AofFile("appendonly.aof.1.incr.aof", 1, mf.INCR)]))
    (d / "appendonly.aof.1.incr.aof").write_bytes(b"x" * 10000)
    journal = tmp_path / "j"
    j = powerloss.Journal(str(journal))
    j.synced("appendonly.aof.1.incr.aof", 100)
    j.synced("appendonly.aof.1.incr.aof", 3000)
    dropped = powerloss.drop_unsynced(str(d), "appendonly.aof", str(journal), random.Random(1), tear=False)
    assert dropped == {"appendonly.aof.1.incr.aof": 7000}
    assert (d / "appendonly.aof.1.incr.aof").stat().st_size == 3000
