"""The append-only file on real processes: the Redis 7 multi-part layout
(manifest, base, incremental file) created on first start, every write
appended before its reply under each fsync policy, the AOF winning over the
RDB at start, torn tails cut off (or refused with aof-load-truncated no),
bad data in the middle refused with the offset, an unfinished MULTI
reverted, a full disk turning writes into -MISCONF under everysec, and
AOF directories moving between Holdfast and redis-server 7.0 both ways."""

import os
import re
import signal
import subprocess
import time

import pytest
import redis
from conftest import require_tool
from crc32c import crc32c
from rawresp import RawConn
from rdb_dataset import assert_same, contents, fill

DIR = "appendonlydir"
MANIFEST = "appendonly.aof.manifest"
INCR = "appendonly.aof.1.incr.aof"


def _aof(srv, name=INCR):
    return os.path.join(srv.workdir, DIR, name)


def _exits(srv, timeout=20):
    """Start a server that must refuse to start; its exit status and log."""
    srv.start(wait=False)
    try:
        rc = srv.proc.wait(timeout)
    except subprocess.TimeoutExpired:
        srv.proc.kill()
        raise AssertionError("the server started instead of refusing:\n" + srv.log()) from None
    return rc, srv.log()


def test_first_start_creates_the_redis7_layout(holdfast_factory):
    srv = holdfast_factory("--appendonly", "yes", "--appendfsync", "always")  # written before each reply
    with open(_aof(srv, MANIFEST)) as f:
        assert f.read() == ("file appendonly.aof.1.base.rdb seq 1 type b\n"
                            "file appendonly.aof.1.incr.aof seq 1 type i\n")
    r = srv.client()
    r.execute_command("set", "a", "1")
    r.execute_command("rpush", "l", "x")
    first = b"*2\r\n$6\r\nSELECT\r\n$1\r\n0\r\n*3\r\n$3\r\nset\r\n$1\r\na\r\n$1\r\n1\r\n"
    with open(_aof(srv), "rb") as f:
        # Holdfast's #crc32c annotation (about once a second) covers the bytes before it
        assert f.read() == (first + b"#crc32c:%08x %d\r\n" % (crc32c(first), len(first))
                            + b"*3\r\n$5\r\nrpush\r\n$1\r\nl\r\n$1\r\nx\r\n")
    info = r.info("persistence")
    assert info["aof_enabled"] == 1 and info["aof_last_write_status"] == "ok"
    assert info["aof_base_size"] > 0 and info["aof_current_size"] > info["aof_base_size"]
    assert "Creating AOF base file appendonly.aof.1.base.rdb on server start" in srv.log()


@pytest.mark.parametrize("policy", ["always", "everysec", "no"])
def test_acknowledged_writes_survive_a_kill(holdfast_factory, policy):
    """kill -9 after the replies: the kernel keeps what was written, so
    every acknowledged write must be in the file. always and no write before
    each reply; everysec may hold a write back for up to 2 s while an fsync
    is running (as Redis does), so it gets those 2 s before the kill."""
    srv = holdfast_factory("--appendonly", "yes", "--appendfsync", policy)
    r = srv.client()
    p = r.pipeline(transaction=False)
    for i in range(500):
        p.set("k%d" % i, i)
    p.incrbyfloat("f", 1.5)
    p.hset("h", mapping={"a": 1, "b": 2})
    p.expire("k0", 1000)
    p.execute()
    if policy == "everysec":
        time.sleep(2.5)
    srv.kill()
    srv.start()
    r = srv.client()
    assert r.dbsize() == 502 and r.get("k499") == b"499" and r.get("f") == b"1.5"
    assert 0 < r.ttl("k0") <= 1000


def test_aof_wins_over_the_rdb(holdfast_factory):
    srv = holdfast_factory("--appendonly", "yes")
    r = srv.client()
    r.set("in-aof", "yes")
    srv.stop()
    other = holdfast_factory(workdir=srv.workdir)  # appendonly no: writes dump.rdb over there
    other.client().set("in-rdb-only", "x")
    other.client().save()
    other.stop()
    srv.start()
    r = srv.client()
    assert r.get("in-aof") == b"yes" and r.get("in-rdb-only") is None


def test_base_in_aof_form(holdfast_factory):
    srv = holdfast_factory("--appendonly", "yes", "--aof-use-rdb-preamble", "no")
    assert os.path.exists(_aof(srv, "appendonly.aof.1.base.aof"))
    srv.client().set("k", "v")
    srv.stop()
    srv.start()
    assert srv.client().get("k") == b"v"


def test_replayed_commands_are_not_counted(holdfast_factory):
    """Redis replays the AOF without call(): after a restart INFO
    commandstats and total_commands_processed know nothing of it."""
    srv = holdfast_factory("--appendonly", "yes")
    r = srv.client()
    r.set("k", "v")
    r.incr("n")
    r.execute_command("MULTI")
    r.execute_command("LPUSH", "l", "x")
    r.execute_command("EXEC")
    srv.stop()
    srv.start()
    conn = RawConn(srv.port)
    text = conn("INFO", "commandstats").decode()
    counted = {line.split(":")[0] for line in text.splitlines()[2:] if line}
    assert counted <= {"cmdstat_ping"}  # the harness's readiness PING, nothing replayed
    pings = int(re.search(r"cmdstat_ping:calls=(\d+)", text).group(1)) if counted else 0
    stats = conn("INFO", "stats").decode()
    assert "total_commands_processed:%d\r\n" % (pings + 1) in stats  # and the INFO before this one
    assert srv.client().lrange("l", 0, -1) == [b"x"]
    conn.close()


def test_torn_tail_is_cut_off(holdfast_factory):
    srv = holdfast_factory("--appendonly", "yes")
    r = srv.client()
    r.set("good", "1")
    srv.stop()
    with open(_aof(srv), "ab") as f:
        f.write(b"*3\r\n$3\r\nset\r\n$4\r\ntorn")  # a command the crash cut short
    size_with_tail = os.path.getsize(_aof(srv))
    srv.start()
    r = srv.client()
    assert r.get("good") == b"1" and r.dbsize() == 1
    log = srv.log()
    assert "!!! Warning: short read while loading the AOF file appendonly.aof.1.incr.aof!!!" in log
    assert "loaded anyway because aof-load-truncated is enabled" in log
    assert os.path.getsize(_aof(srv)) < size_with_tail
    r.set("after", "2")  # appends go on from a clean end
    srv.stop()
    require_tool("redis-check-aof")
    check = subprocess.run(["redis-check-aof", _aof(srv, MANIFEST)], capture_output=True, text=True)
    assert check.returncode == 0, check.stdout + check.stderr
    srv.start()
    assert srv.client().get("after") == b"2"


def test_torn_tail_refused_without_aof_load_truncated(holdfast_factory):
    srv = holdfast_factory("--appendonly", "yes", "--aof-load-truncated", "no")
    srv.client().set("good", "1")
    srv.stop()
    with open(_aof(srv), "ab") as f:
        f.write(b"*2\r\n$3\r\nGET")
    rc, log = _exits(srv)
    assert rc == 1 and "Unexpected end of file reading the append only file appendonly.aof.1.incr.aof" in log
    assert "aof-load-truncated" in log


def test_bad_data_in_the_middle_is_refused(holdfast_factory):
    srv = holdfast_factory("--appendonly", "yes")
    r = srv.client()
    r.set("a", "1")
    r.set("b", "2")
    srv.stop()
    with open(_aof(srv), "rb") as f:
        data = f.read()
    at = data.index(b"$1\r\nb")
    with open(_aof(srv), "wb") as f:
        f.write(data[:at] + b"!" + data[at + 1:])
    rc, log = _exits(srv)
    assert rc == 1 and "Bad file format reading the append only file appendonly.aof.1.incr.aof at offset %d" % at \
        in log
    assert "holdfast-check-aof --fix" in log and "Traceback" not in log


def test_unfinished_multi_is_reverted(holdfast_factory):
    srv = holdfast_factory("--appendonly", "yes")
    r = srv.client()
    r.set("before", "1")
    p = r.pipeline(transaction=True)
    p.set("in-tx", "1")
    p.execute()
    srv.stop()
    with open(_aof(srv), "rb") as f:
        data = f.read()
    cut = data.upper().rindex(b"*1\r\n$4\r\nEXEC\r\n")  # the EXEC never reached the disk
    with open(_aof(srv), "wb") as f:
        f.write(data[:cut])
    srv.start()
    r = srv.client()
    assert r.get("before") == b"1" and r.get("in-tx") is None
    assert "Revert incomplete MULTI/EXEC transaction in AOF file" in srv.log()


def test_full_disk_under_everysec(holdfast_factory, tmp_path):
    mnt = tmp_path / "disk"
    mnt.mkdir()
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", str(mnt)], capture_output=True)
    if done.returncode != 0:
        if os.environ.get("CI") == "true":
            pytest.fail("cannot mount a tmpfs: %s" % done.stderr)
        pytest.skip("cannot mount a tmpfs here")
    try:
        srv = holdfast_factory("--appendonly", "yes", "--appendfsync", "everysec", workdir=mnt)
        r = srv.client()
        ballast = mnt / "ballast"
        ballast.write_bytes(b"\0" * (1024 * 1024 - 64 * 1024))
        big = "x" * 100_000
        with pytest.raises(redis.ResponseError, match="^MISCONF Errors writing to the AOF file: No space left"):
            for i in range(20):
                r.set("big%d" % i, big)
        assert r.info("persistence")["aof_last_write_status"] == "err"
        assert r.get("big0") == big.encode()  # reads go on
        ballast.unlink()
        deadline = time.time() + 10
        while r.info("persistence")["aof_last_write_status"] != "ok":
            assert time.time() < deadline, "the AOF did not recover"
            time.sleep(0.05)
        r.set("after", "ok")
        acked = r.dbsize()
        time.sleep(2.5)  # everysec: a write may wait up to 2 s behind a running fsync
        srv.kill()
        srv.start()
        assert srv.client().dbsize() == acked and srv.client().get("after") == b"ok"
    finally:
        subprocess.run(["umount", "-l", str(mnt)], check=False)


@pytest.mark.interop
def test_holdfast_aof_loads_in_redis(holdfast_factory, redis_factory, tmp_path):
    require_tool("redis-check-aof")
    hf = holdfast_factory("--appendonly", "yes")
    fill(hf)
    want = contents(hf)
    hf.stop()
    with open(_aof(hf), "rb") as f:
        assert b"\r\n#crc32c:" in f.read()  # Holdfast's own annotations: Redis must skip them
    check = subprocess.run(["redis-check-aof", _aof(hf, MANIFEST)], capture_output=True, text=True)
    assert check.returncode == 0 and "All AOF files and manifest are valid" in check.stdout, check.stdout
    rs = redis_factory("--appendonly", "yes", workdir=hf.workdir)
    assert_same(want, contents(rs))


@pytest.mark.interop
@pytest.mark.parametrize("preamble", ["yes", "no"])
def test_redis_aof_loads_in_holdfast(holdfast_factory, redis_factory, preamble):
    rs = redis_factory("--appendonly", "yes", "--aof-use-rdb-preamble", preamble)
    fill(rs)
    want = contents(rs)
    os.kill(rs.proc.pid, signal.SIGKILL)  # as after a crash: Redis's incr file as it stands
    rs.proc.wait(10)
    hf = holdfast_factory("--appendonly", "yes", workdir=rs.workdir)
    assert_same(want, contents(hf))


def test_manifest_syntax():
    from aof import manifest as mf  # noqa: PLC0415

    m = mf.parse("# a comment\nfile appendonly.aof.1.base.rdb seq 1 type b\n"
                 "file appendonly.aof.1.incr.aof seq 1 type i\nfile \"with space.aof\" seq 2 type i\n"
                 "file old.aof seq 1 type h\n")
    assert m.base.name == "appendonly.aof.1.base.rdb"
    assert [f.name for f in m.incrs] == ["appendonly.aof.1.incr.aof", "with space.aof"]
    assert mf.parse(m.format()).format() == m.format()
    assert 'file "with space.aof" seq 2 type i\n' in m.format()
    for bad, why in [("file a seq 1 type b\nfile b seq 2 type b\n", "duplicate base"),
                     ("file a seq 2 type i\nfile b seq 1 type i\n", "non-monotonic"),
                     ("file a seq x type i\n", "bad type or seq"), ("file a seq 1 type\n", "odd number"),
                     ("file a seq 1\n", "needs file, seq and type"),
                     ('file "a seq 1 type i\n', "unbalanced")]:
        with pytest.raises(mf.ManifestError, match=why):
            mf.parse(bad)


def test_command_stream_skips_annotations():
    from aof.stream import AofCorrupt, AofTruncated, commands  # noqa: PLC0415

    data = b"#TS:1700000000\r\n*2\r\n$3\r\nDEL\r\n$1\r\nk\r\n#holdfast crc32c=1234\r\n*1\r\n$4\r\nPING\r\n"
    assert [argv for argv, _ in commands(data)] == [[b"DEL", b"k"], [b"PING"]]
    with pytest.raises(AofTruncated) as e:
        list(commands(data + b"*1\r\n$4\r\nPI"))
    assert e.value.good_until == len(data)
    with pytest.raises(AofCorrupt, match="expected '\\*'"):
        list(commands(data + b"+OK\r\n"))
    with pytest.raises(AofCorrupt, match="out of range"):
        list(commands(b"*99999999999\r\n"))


def test_config_set_appendonly_at_runtime(holdfast_factory):
    srv = holdfast_factory()  # appendonly no
    r = srv.client()
    r.set("before", "1")
    r.config_set("appendonly", "yes")  # a base holding the dataset now, and an incr file
    assert r.info("persistence")["aof_enabled"] == 1
    r.set("during", "2")
    r.config_set("appendfsync", "always")
    r.set("during2", "3")
    r.config_set("appendonly", "no")
    r.set("after", "4")  # not in the AOF any more
    assert r.info("persistence")["aof_enabled"] == 0
    srv.stop()
    srv.args += ["--appendonly", "yes"]
    srv.start()
    r = srv.client()
    assert (r.get("before"), r.get("during"), r.get("during2"), r.get("after")) == (b"1", b"2", b"3", None)
    r.config_set("appendonly", "no")
    r.config_set("appendonly", "yes")  # again: a fresh base and incr, the old files removed
    with open(_aof(srv, MANIFEST)) as f:
        assert f.read() == ("file appendonly.aof.2.base.rdb seq 2 type b\n"
                            "file appendonly.aof.2.incr.aof seq 2 type i\n")
    assert sorted(os.listdir(os.path.join(srv.workdir, DIR))) == [
        "appendonly.aof.2.base.rdb", "appendonly.aof.2.incr.aof", MANIFEST]


def _wait_rewrite(r, timeout=60):
    deadline = time.time() + timeout
    while True:
        info = r.info("persistence")
        if not info["aof_rewrite_in_progress"] and not info["aof_rewrite_scheduled"]:
            return info
        assert time.time() < deadline, "the AOF rewrite did not finish"
        time.sleep(0.05)


def _manifest(srv):
    with open(_aof(srv, MANIFEST)) as f:
        return f.read()


def test_bgrewriteaof(holdfast_factory, redis_factory):
    srv = holdfast_factory("--appendonly", "yes")
    r = srv.client()
    for _ in range(100):
        r.incr("n")
    r.rpush("l", *range(50))
    assert r.bgrewriteaof() is True
    r.set("during", "x")
    info = _wait_rewrite(r)
    assert info["aof_last_bgrewrite_status"] == "ok" and info["aof_rewrites"] == 1
    assert _manifest(srv) == ("file appendonly.aof.2.base.rdb seq 2 type b\n"
                              "file appendonly.aof.2.incr.aof seq 2 type i\n")
    assert sorted(os.listdir(os.path.join(srv.workdir, DIR))) == [
        "appendonly.aof.2.base.rdb", "appendonly.aof.2.incr.aof", MANIFEST]  # the old files are gone
    r.set("after", "y")
    log = srv.log()
    assert "Background append only file rewriting started by pid" in log
    assert "Background AOF rewrite finished successfully" in log
    want = contents(srv)
    srv.stop()
    srv.start()
    assert_same(want, contents(srv))
    srv.stop()
    require_tool("redis-check-aof")
    check = subprocess.run(["redis-check-aof", _aof(srv, MANIFEST)], capture_output=True, text=True)
    assert check.returncode == 0, check.stdout + check.stderr
    rs = redis_factory("--appendonly", "yes", workdir=srv.workdir)  # Redis 7.0 loads the rewritten AOF
    assert_same(want, contents(rs))


def raw_reply(srv, *args):
    raw = RawConn(srv.port)
    try:
        return raw(*args)
    finally:
        raw.close()


def _many_keys(r, n, size=100):
    """n keys through MSET (DEBUG POPULATE is not propagated, so not in the AOF)."""
    value = "v" * size
    for start in range(0, n, 1000):
        r.mset({"key:%d" % i: value for i in range(start, min(n, start + 1000))})


def test_rewrite_waits_for_a_running_bgsave(holdfast_factory):
    srv = holdfast_factory("--appendonly", "yes")
    r = srv.client()
    _many_keys(r, 300000)
    r.bgsave()
    assert raw_reply(srv, "BGREWRITEAOF") == b"+Background append only file rewriting scheduled\r\n"
    assert r.info("persistence")["aof_rewrite_scheduled"] == 1
    info = _wait_rewrite(r)
    assert info["aof_rewrites"] == 1 and info["rdb_last_bgsave_status"] == "ok"
    assert r.bgrewriteaof() is True
    with pytest.raises(redis.ResponseError, match="^Background append only file rewriting already in progress$"):
        r.bgrewriteaof()
    with pytest.raises(redis.ResponseError, match="^Another child process is active"):
        r.execute_command("BGSAVE")  # redis-py's bgsave() sends BGSAVE SCHEDULE
    assert raw_reply(srv, "BGSAVE", "SCHEDULE") == b"+Background saving scheduled\r\n"
    _wait_rewrite(r)
    deadline = time.time() + 30
    while r.info("persistence")["rdb_saves"] < 2:  # the scheduled BGSAVE ran after the rewrite
        assert time.time() < deadline
        time.sleep(0.05)


def test_killed_rewrite_loses_nothing(holdfast_factory):
    srv = holdfast_factory("--appendonly", "yes")
    r = srv.client()
    _many_keys(r, 400000)
    r.set("before", "1")
    r.bgrewriteaof()
    pid = int(re.search(r"rewriting started by pid (\d+)", srv.log()).group(1))
    os.kill(pid, signal.SIGKILL)
    r.set("during", "2")
    info = _wait_rewrite(r)
    assert info["aof_last_bgrewrite_status"] == "err" and info["aof_rewrites_consecutive_failures"] == 1
    # the manifest lists the old base, the old incr and the new incr: all of it loads
    assert _manifest(srv) == ("file appendonly.aof.1.base.rdb seq 1 type b\n"
                              "file appendonly.aof.1.incr.aof seq 1 type i\n"
                              "file appendonly.aof.2.incr.aof seq 2 type i\n")
    assert not [f for f in os.listdir(os.path.join(srv.workdir, DIR)) if f.startswith("temp-")]
    srv.stop()
    srv.start()
    r = srv.client()
    assert r.dbsize() == 400002 and r.get("during") == b"2"


def test_automatic_rewrite_on_growth(holdfast_factory):
    srv = holdfast_factory("--appendonly", "yes", "--auto-aof-rewrite-min-size", "64kb",
                           "--auto-aof-rewrite-percentage", "100")
    r = srv.client()
    value = "x" * 1000
    deadline = time.time() + 30
    i = 0
    while r.info("persistence")["aof_rewrites"] < 1:  # the same keys again and again: the AOF grows, the data not
        r.set("k%d" % (i % 20), value)
        i += 1
        assert time.time() < deadline, "no automatic rewrite"
    _wait_rewrite(r)
    assert "Starting automatic rewriting of AOF on" in srv.log()
    assert r.info("persistence")["aof_base_size"] < 64 * 1024  # the new base holds 20 keys, not every write
    srv.stop()
    srv.start()
    assert srv.client().dbsize() == 20


@pytest.mark.interop
def test_timestamp_annotations(holdfast_factory, redis_factory):
    srv = holdfast_factory("--appendonly", "yes", "--aof-timestamp-enabled", "yes", "--appendfsync", "always")
    r = srv.client()
    r.set("a", "1")
    time.sleep(1.1)
    r.set("b", "2")
    with open(_aof(srv), "rb") as f:
        data = f.read()
    assert data.count(b"#TS:") == 2 and data.startswith(b"#TS:")
    srv.stop()
    require_tool("redis-check-aof")
    check = subprocess.run(["redis-check-aof", _aof(srv, MANIFEST)], capture_output=True, text=True)
    assert check.returncode == 0, check.stdout + check.stderr
    srv.start()
    assert srv.client().mget("a", "b") == [b"1", b"2"]
    srv.stop()
    rs = redis_factory("--appendonly", "yes", workdir=srv.workdir)  # Redis 7.0 skips the annotations too
    assert rs.client().mget("a", "b") == [b"1", b"2"]


def test_bgrewriteaof_with_appendonly_no(holdfast_factory):
    """As Redis: the rewrite still writes a base, listed alone in the manifest,
    and a later start with appendonly yes loads it."""
    srv = holdfast_factory()
    r = srv.client()
    r.set("k", "v")
    assert r.bgrewriteaof() is True
    assert _wait_rewrite(r)["aof_last_bgrewrite_status"] == "ok"
    assert _manifest(srv) == "file appendonly.aof.1.base.rdb seq 1 type b\n"
    r.set("not-in-aof", "x")
    srv.stop()
    srv.args += ["--appendonly", "yes"]
    srv.start()
    r = srv.client()
    assert r.get("k") == b"v" and r.get("not-in-aof") is None


@pytest.mark.parametrize("preamble", [False, True], ids=["aof-form", "rdb-preamble"])
def test_single_file_aof_from_before_redis7_is_upgraded(holdfast_factory, tmp_path, preamble):
    """An `appendonly.aof` in `dir` (Redis 6 style, commands, maybe after an
    RDB preamble) moves into the AOF directory as the base, as Redis 7 does."""
    head = b""
    if preamble:
        saver = holdfast_factory(workdir=tmp_path / "saver")
        saver.client().set("from-preamble", "1")
        saver.client().save()
        saver.stop()
        head = (tmp_path / "saver" / "dump.rdb").read_bytes()
    d = tmp_path / "old"
    d.mkdir()
    (d / "appendonly.aof").write_bytes(head + b"*2\r\n$6\r\nSELECT\r\n$1\r\n0\r\n"
                                       b"*3\r\n$3\r\nSET\r\n$8\r\nfrom-aof\r\n$1\r\n2\r\n")
    srv = holdfast_factory("--appendonly", "yes", workdir=d)
    r = srv.client()
    assert r.get("from-aof") == b"2" and r.get("from-preamble") == (b"1" if preamble else None)
    assert not (d / "appendonly.aof").exists()
    assert _manifest(srv) == ("file appendonly.aof seq 1 type b\n"
                              "file appendonly.aof.1.incr.aof seq 1 type i\n")
    assert "Successfully migrated an old-style AOF appendonly.aof into the AOF directory" in srv.log()
    r.set("new", "3")
    srv.stop()
    srv.start()
    assert srv.client().mget("from-aof", "new") == [b"2", b"3"]
