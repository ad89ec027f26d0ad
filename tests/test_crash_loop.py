"""Crashes at random moments, again and again, on one data directory
(bench/crashloop.py; issue 9): the server always starts, a torn AOF tail is
repaired, no write acknowledged under appendfsync always goes missing, a
fork child dies with its server and its temp file is removed at the next
start, dump.rdb is never left half-written."""

import os
import re
import subprocess
import sys
import time

from bench.crashloop import pid_gone, run_loop

DEBUG = ("--enable-debug-command", "yes")


def _dead_pid():
    p = subprocess.Popen([sys.executable, "-c", "pass"])
    p.wait()
    return p.pid


def test_crash_loop_loses_nothing_and_always_restarts(tmp_path):
    results = run_loop(6, seed=4, workdir=str(tmp_path))
    rounds, final = results[:-1], results[-1]
    assert [r["lost"] for r in results] == [0] * 7
    assert final["acked_total"] > 20000
    # The loop did what it claims: crashes during fork children, and power losses.
    assert any(r["temp_files_after_crash"] for r in rounds)
    assert any(r["power_loss"] and r["bytes_dropped"] for r in rounds)
    assert not any(r["child_outlived_server"] for r in rounds)
    assert sum(len(r["stale_temp_files"]) for r in results) > 0
    assert [r["stale_left"] for r in results] == [[]] * 7
    assert all(r["dump_ok"] is not False for r in rounds)


def test_killed_server_takes_its_snapshot_child_along(holdfast_factory, tmp_path):
    """kill -9 during a BGSAVE: the child dies too (it would otherwise go on
    writing into the directory), the next start removes its temp file and
    loads the old dump.rdb, which is untouched."""
    srv = holdfast_factory(*DEBUG, "--rdb-key-save-delay", "100")
    r = srv.client()
    r.set("old", "snapshot")
    r.save()
    with open(os.path.join(srv.workdir, "dump.rdb"), "rb") as f:
        old = f.read()
    r.execute_command("DEBUG", "POPULATE", 50000)
    r.bgsave()
    log = srv.log()
    deadline = time.monotonic() + 10
    while not (m := re.search(r"Background saving started by pid (\d+)", log)) and time.monotonic() < deadline:
        time.sleep(0.02)
        log = srv.log()
    child = int(m.group(1))
    temp = os.path.join(srv.workdir, "temp-%d.rdb" % child)
    deadline = time.monotonic() + 10
    while not os.path.exists(temp) and time.monotonic() < deadline:
        time.sleep(0.02)
    assert os.path.exists(temp)
    srv.kill()
    assert pid_gone(child), "the snapshot child outlived its server"
    assert os.path.exists(temp)  # what the next start must clean up
    srv.start()
    assert not os.path.exists(temp)
    assert "Removed the temp file temp-%d.rdb" % child in srv.log()
    with open(os.path.join(srv.workdir, "dump.rdb"), "rb") as f:
        assert f.read() == old
    r = srv.client()
    assert r.get("old") == b"snapshot" and r.dbsize() == 1


def test_start_removes_only_dead_writers_temp_files(holdfast_factory):
    srv = holdfast_factory("--appendonly", "yes", start=False)
    d = srv.workdir
    aof_dir = os.path.join(d, "appendonlydir")
    os.makedirs(aof_dir)
    dead, alive = _dead_pid(), os.getpid()  # this test process is alive and is not the server
    names = {
        "temp-%d.rdb" % dead: False,
        "temp-1700000000.%d.rdb" % dead: False,  # a replica's full-sync file
        "temp-%d.rdb" % alive: True,
        "temp-notes.txt": True,  # not a name we write
        os.path.join("appendonlydir", "temp-rewriteaof-bg-%d.aof" % dead): False,
        os.path.join("appendonlydir", "temp-rewriteaof-bg-%d.aof" % alive): True,
        os.path.join("appendonlydir", "temp-appendonly.aof.manifest"): False,
    }
    for name in names:
        with open(os.path.join(d, name), "wb") as f:
            f.write(b"half-written")
    srv.start()
    assert {n: os.path.exists(os.path.join(d, n)) for n in names} == names
    assert srv.client().ping()

