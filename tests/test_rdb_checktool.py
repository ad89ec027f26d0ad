"""`holdfast-check-rdb FILE`, the installed command: a file Holdfast saved
is reported with its version, AUX fields and per-database counts (exit 0);
a truncated or corrupt one with the byte offset and what was expected
there (exit 1); a missing one and a wrong command line exit 1 too."""

import os
import shutil
import subprocess
import sys

import pytest

TOOL = shutil.which("holdfast-check-rdb", path=os.path.dirname(sys.executable))


def run(*args):
    assert TOOL, "holdfast-check-rdb is not installed next to %s (pip install -e .)" % sys.executable
    done = subprocess.run([TOOL, *args], capture_output=True, timeout=60)
    return done.returncode, (done.stdout + done.stderr).decode(errors="replace")


@pytest.fixture
def saved(holdfast_factory):
    srv = holdfast_factory()
    r = srv.client()
    r.set("s", "v")
    r.rpush("l", "a", "b")
    r.set("ttl", "x", px=600000)
    r.execute_command("SELECT", 3)
    r.hset("h", "f", "v")
    r.save()
    return os.path.join(srv.workdir, "dump.rdb")


def test_good_file(saved):
    rc, out = run(saved)
    assert rc == 0, out
    assert "[offset 9] RDB version 10" in out
    assert "AUX FIELD redis-ver = '7.0.15'" in out
    assert "[info] db0: keys=3 expires=1 list=1 string=2" in out
    assert "[info] db3: keys=1 expires=0 hash=1" in out
    assert "Checksum OK" in out and out.rstrip().endswith("RDB looks OK")


def test_truncated_and_flipped_files(saved, tmp_path):
    with open(saved, "rb") as f:
        good = f.read()
    cut = tmp_path / "cut.rdb"
    cut.write_bytes(good[:-20])
    rc, out = run(str(cut))
    assert rc == 1 and "--- RDB ERROR DETECTED ---" in out, out
    assert "unexpected end of data" in out and "[offset " in out
    flipped = bytearray(good)
    flipped[-12] ^= 0x01  # inside the last record: only the checksum notices
    bad = tmp_path / "flipped.rdb"
    bad.write_bytes(bytes(flipped))
    rc, out = run(str(bad))
    assert rc == 1 and "wrong RDB checksum" in out, out


def test_missing_file_and_usage(tmp_path):
    rc, out = run(str(tmp_path / "nope.rdb"))
    assert rc == 1 and "Cannot open" in out
    rc, out = run()
    assert rc == 1 and "Usage: holdfast-check-rdb <rdb-file-name>" in out
