"""EIO on the AOF's and the RDB's writes and syncs, injected while the server
runs (engine/faults.py; real full disks: test_aof.py, test_rdb_disk_full.py).
As Redis: under everysec a failed write turns writes into -MISCONF until
the disk takes them again; under always a failed write or fsync stops the
server, and nothing it acknowledged is missing after a restart; a snapshot
that cannot be written refuses writes (stop-writes-on-bgsave-error) and
leaves the previous dump.rdb as it was."""

import os
import time

import pytest
import redis
from test_replication_primary import wait_until


@pytest.fixture
def faults(tmp_path, monkeypatch):
    path = tmp_path / "faults"
    monkeypatch.setenv("HOLDFAST_FAULT_FILE", str(path))  # servers started from here inherit it

    def inject(text):
        path.write_text(text)
        os.utime(path, ns=(time.time_ns(), time.time_ns()))  # a new mtime even within one tick

    return inject


def test_everysec_write_error_refuses_writes_until_it_clears(holdfast_factory, faults):
    srv = holdfast_factory("--appendonly", "yes", "--appendfsync", "everysec")
    r = srv.client()
    r.set("before", "1")
    faults("aof-write EIO\n")
    with pytest.raises(redis.ResponseError, match="^MISCONF Errors writing to the AOF file: Input/output error"):
        for i in range(50):
            r.set("k%d" % i, i)
            time.sleep(0.01)
    assert r.info("persistence")["aof_last_write_status"] == "err"
    assert r.get("before") == b"1"  # reads go on
    faults("")
    wait_until(lambda: r.info("persistence")["aof_last_write_status"] == "ok", timeout=10, what="the AOF to recover")
    r.set("after", "2")
    acked = {k: r.get(k) for k in r.keys("*")}
    time.sleep(2.5)  # everysec
    srv.kill()
    srv.start()
    r = srv.client()
    assert {k: r.get(k) for k in r.keys("*")} == acked


@pytest.mark.parametrize("point, message", [
    ("aof-fsync", "Can't persist AOF for fsync error when the AOF fsync policy is 'always': Input/output error"),
    ("aof-write", "Can't recover from AOF write error when the AOF fsync policy is 'always'"),
])
@pytest.mark.parametrize("sync", ["kernel-aio", "thread"])
def test_always_stops_on_a_failed_write_or_fsync(holdfast_factory, faults, monkeypatch, point, message, sync):
    if sync == "thread":
        monkeypatch.setenv("HOLDFAST_AOF_SYNC", "thread")
    srv = holdfast_factory("--appendonly", "yes", "--appendfsync", "always")
    r = srv.client()
    for i in range(20):
        r.set("acked:%d" % i, i)
    faults("%s EIO\n" % point)
    with pytest.raises(redis.ConnectionError):
        r.set("never-acknowledged", "x")
    assert srv.proc.wait(10) == 1
    assert message in srv.log()
    faults("")
    srv.start()
    r = srv.client()
    assert [r.get("acked:%d" % i) for i in range(20)] == [str(i).encode() for i in range(20)]


def test_a_snapshot_that_cannot_be_written_refuses_writes(holdfast_factory, faults):
    srv = holdfast_factory("--save", "3600 1")  # writes are refused only where save points are set, as Redis
    r = srv.client()
    r.set("k", "v1")
    r.save()
    dump = os.path.join(srv.workdir, "dump.rdb")
    with open(dump, "rb") as f:
        good = f.read()
    faults("rdb-write EIO\n")
    r.bgsave()
    wait_until(lambda: r.info("persistence")["rdb_last_bgsave_status"] == "err", what="the failed BGSAVE")
    with pytest.raises(redis.ResponseError, match="^MISCONF .* unable to persist to disk"):
        r.set("k", "v2")
    assert r.get("k") == b"v1"  # reads go on
    with open(dump, "rb") as f:
        assert f.read() == good  # the last good snapshot is untouched
    assert not [n for n in os.listdir(srv.workdir) if n.startswith("temp-")]
    faults("")
    r.bgsave()
    wait_until(lambda: r.info("persistence")["rdb_last_bgsave_status"] == "ok", what="a good BGSAVE")
    r.set("k", "v2")
    assert r.get("k") == b"v2"


def test_everysec_fsync_error_refuses_writes_until_a_sync_succeeds(holdfast_factory, faults):
    """As Redis 7.0's aof_bio_fsync_status: the background fsync failing
    turns writes into -MISCONF; it is retried each second."""
    srv = holdfast_factory("--appendonly", "yes", "--appendfsync", "everysec")
    r = srv.client()
    faults("aof-fsync EIO\n")
    r.set("k", "1")  # written; its fsync fails in the background

    def refused():
        try:
            r.set("probe", "x")
        except redis.ResponseError as e:
            assert str(e).startswith("MISCONF Errors writing to the AOF file: Input/output error")
            return True
        return False

    wait_until(refused, timeout=10, what="writes to be refused")
    assert r.info("persistence")["aof_last_write_status"] == "err"
    assert r.get("k") == b"1"
    faults("")
    wait_until(lambda: not refused(), timeout=10, what="a successful fsync to lift the block")
    assert r.info("persistence")["aof_last_write_status"] == "ok"
