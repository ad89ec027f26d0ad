"""`holdfast-check-aof`, as installed: a valid directory; corruption inside
a value that the RESP structure hides (redis-check-aof passes it, the
crc32c annotations do not); a torn tail reported and cut with --fix;
--truncate-to-timestamp cutting at a #TS: annotation."""

import os
import re
import shutil
import subprocess
import sys
import time

import pytest
from conftest import require_tool

TOOL = shutil.which("holdfast-check-aof", path=os.path.dirname(sys.executable))
INCR = os.path.join("appendonlydir", "appendonly.aof.1.incr.aof")
MANIFEST = os.path.join("appendonlydir", "appendonly.aof.manifest")


def run(*args):
    assert TOOL, "holdfast-check-aof is not installed next to %s (pip install -e .)" % sys.executable
    done = subprocess.run([TOOL, *args], capture_output=True, timeout=60)
    return done.returncode, (done.stdout + done.stderr).decode(errors="replace")


@pytest.fixture
def aof_dir(holdfast_factory):
    srv = holdfast_factory("--appendonly", "yes", "--appendfsync", "always")
    r = srv.client()
    for i in range(50):
        r.set("key:%d" % i, "value-%d" % i)
    time.sleep(1.1)  # the next write carries a second #crc32c annotation
    r.set("last", "value")
    srv.stop()
    return srv


def test_valid_directory(aof_dir):
    rc, out = run(os.path.join(aof_dir.workdir, MANIFEST))
    assert rc == 0, out
    assert "appendonly.aof.1.base.rdb is valid (RDB form)" in out
    assert "crc32c annotations verified=2" in out and "All AOF files and manifest are valid" in out


def test_corruption_the_structure_hides(aof_dir):
    path = os.path.join(aof_dir.workdir, INCR)
    with open(path, "rb") as f:
        data = f.read()
    at = data.index(b"value-17")
    with open(path, "wb") as f:
        f.write(data[:at] + b"VALUE-17" + data[at + 8:])  # same length: still well-formed RESP
    require_tool("redis-check-aof")
    theirs = subprocess.run(["redis-check-aof", os.path.join(aof_dir.workdir, MANIFEST)], capture_output=True,
                            text=True)
    assert theirs.returncode == 0  # Redis's tool cannot see it
    rc, out = run(os.path.join(aof_dir.workdir, MANIFEST))
    m = re.search(r"crc32c mismatch in bytes (\d+)\.\.(\d+)", out)
    assert rc == 1 and m, out
    assert int(m.group(1)) <= at < int(m.group(2))  # the range it names holds the damage


def test_torn_tail_and_fix(aof_dir, holdfast_factory):
    path = os.path.join(aof_dir.workdir, INCR)
    size = os.path.getsize(path)
    with open(path, "ab") as f:
        f.write(b"*3\r\n$3\r\nset\r\n$1\r")
    rc, out = run(os.path.join(aof_dir.workdir, MANIFEST))
    assert rc == 1 and "unexpected end of file" in out and "ok_up_to=%d" % size in out, out
    rc, out = run("--fix", os.path.join(aof_dir.workdir, MANIFEST))
    assert rc == 0 and "Successfully truncated AOF appendonly.aof.1.incr.aof to offset %d" % size in out, out
    assert os.path.getsize(path) == size
    aof_dir.args += ["--aof-load-truncated", "no"]  # it loads without any repair now
    aof_dir.start()
    assert aof_dir.client().get("last") == b"value"


def test_truncate_to_timestamp(holdfast_factory):
    srv = holdfast_factory("--appendonly", "yes", "--appendfsync", "always", "--aof-timestamp-enabled", "yes")
    r = srv.client()
    r.set("early", "1")
    first_second = int(time.time())
    time.sleep(1.2)
    r.set("late", "2")
    srv.stop()
    rc, out = run("--truncate-to-timestamp", str(first_second), os.path.join(srv.workdir, MANIFEST))
    assert rc == 0 and "Successfully truncated AOF appendonly.aof.1.incr.aof to timestamp" in out, out
    srv.start()
    r = srv.client()
    assert r.get("early") == b"1" and r.get("late") is None
