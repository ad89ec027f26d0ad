"""A full disk under snapshots, for real: the server's `dir` is a 2 MB tmpfs
(mounting one needs root, as in CI; elsewhere the tests skip, and under
CI=true they fail instead). A SAVE or BGSAVE that runs out of space is
reported as Redis reports it, leaves the previous snapshot and no temp
file behind, turns writes into -MISCONF while reads go on, and once the
disk has room again (a ballast file on it is removed) the next save
succeeds and writes are accepted."""

import os
import subprocess
import time

import pytest
import redis

SIZE = "2m"


@pytest.fixture
def small_disk(tmp_path):
    mnt = tmp_path / "disk"
    mnt.mkdir()
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=" + SIZE, "tmpfs", str(mnt)],
                          capture_output=True, text=True)
    if done.returncode != 0:
        msg = "cannot mount a tmpfs here (%s)" % done.stderr.strip()
        if os.environ.get("CI") == "true":
            pytest.fail(msg + " -- the disk-full tests must run in CI")
        pytest.skip(msg)
    yield mnt
    subprocess.run(["umount", "-l", str(mnt)], check=False)


def _wait_bgsave(r):
    deadline = time.time() + 30
    while time.time() < deadline:
        info = r.info("persistence")
        if info["rdb_bgsave_in_progress"] == 0:
            return info
        time.sleep(0.05)
    raise AssertionError("BGSAVE did not finish")


def _fill(r, n, size=1000):
    pipe = r.pipeline(transaction=False)
    for i in range(n):
        pipe.set("big:%d" % i, os.urandom(size // 2).hex())  # hex: LZF cannot shrink it much
    pipe.execute()


def test_bgsave_on_a_full_disk(holdfast_factory, small_disk):
    srv = holdfast_factory("--save", "3600 1", workdir=small_disk)
    r = srv.client()
    r.set("first", "snapshot")
    r.save()
    dump = os.path.join(small_disk, "dump.rdb")
    with open(dump, "rb") as f:
        before = f.read()
    _fill(r, 1000)  # ~1 MB of values: fits the disk alone, not beside the ballast
    ballast = os.path.join(small_disk, "ballast")
    with open(ballast, "wb") as f:
        f.write(b"\0" * (1500 * 1024))
    r.bgsave()
    info = _wait_bgsave(r)
    assert info["rdb_last_bgsave_status"] == "err"
    log = srv.log()
    assert "Write error saving DB on disk: No space left on device" in log
    assert "Background saving error" in log
    assert not [f for f in os.listdir(small_disk) if f.startswith("temp-")]  # no temp file left behind
    with open(dump, "rb") as f:
        assert f.read() == before  # the previous snapshot is untouched
    with pytest.raises(redis.ResponseError, match="^MISCONF "):
        r.set("after", "refused")
    assert r.get("first") == b"snapshot"  # reads go on
    with pytest.raises(redis.ResponseError, match="^$"):
        r.save()  # the synchronous save fails the same way: a bare -ERR, as Redis
    assert not [f for f in os.listdir(small_disk) if f.startswith("temp-")]
    os.unlink(ballast)  # room again: the next save works and writes are accepted
    r.bgsave()
    assert _wait_bgsave(r)["rdb_last_bgsave_status"] == "ok"
    assert r.set("after", "accepted")
    srv.stop()  # save points are set: SIGTERM saves the last write too
    srv.start()
    r = srv.client()
    assert r.get("after") == b"accepted" and r.dbsize() == 1002


def test_shutdown_on_a_full_disk_keeps_running_unless_forced(holdfast_factory, small_disk):
    srv = holdfast_factory("--save", "3600 1", workdir=small_disk)
    r = srv.client()
    _fill(r, 1000)
    with open(os.path.join(small_disk, "ballast"), "wb") as f:
        f.write(b"\0" * (1500 * 1024))
    with pytest.raises(redis.ResponseError, match="Errors trying to SHUTDOWN. Check logs."):
        r.shutdown()
    assert "Error trying to save the DB, can't exit." in srv.log()
    assert r.ping() and r.dbsize() == 1000  # still serving, nothing lost
    r.shutdown(force=True)  # FORCE: exit even though the save failed, as Redis
    assert srv.proc.wait(10) == 0
