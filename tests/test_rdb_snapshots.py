"""Snapshots on a real Holdfast process: SAVE/BGSAVE and their replies, the
fork child (reaped, its CoW reported, killed mid-save without damage), save
points, MISCONF after a failed save, saving on SHUTDOWN/SIGTERM, -LOADING
while a big file loads, DUMP/RESTORE round trips. Interop with real Redis
is in test_rdb_interop.py, corrupt files in test_rdb_corrupt.py."""

import os
import re
import signal
import socket
import time

import pytest
import redis

DEBUG = ("--enable-debug-command", "yes")


def _wait(cond, timeout=20, step=0.05):
    deadline = time.time() + timeout
    while time.time() < deadline:
        v = cond()
        if v:
            return v
        time.sleep(step)
    raise AssertionError("condition not met in %ss" % timeout)


def _persistence(r):
    return r.info("persistence")


def _bgsave_done(r):
    return _wait(lambda: _persistence(r)["rdb_bgsave_in_progress"] == 0 and _persistence(r))


def _fill_all_types(r):
    r.set("s", "hello")
    r.set("n", "12345")
    r.set("long", "x" * 1000)
    r.rpush("list", *[b"e%d" % i for i in range(300)])
    r.hset("small-hash", mapping={"a": "1", "b": "2"})
    r.hset("big-hash", mapping={"f%d" % i: "v%d" % i for i in range(200)})
    r.sadd("intset", 1, 2, 3)
    r.sadd("strset", "a", "b", "c")
    r.zadd("zset", {"a": 1, "b": 2.5, "c": float("-inf")})
    r.zadd("bigzset", {"m%d" % i: i for i in range(300)})
    r.set("ttl", "v", px=600000)
    r.execute_command("SELECT", 5)
    r.set("db5", "five")
    r.execute_command("SELECT", 0)


def _content(r):
    out = {}
    for dbid in (0, 5):
        r.execute_command("SELECT", dbid)
        for k in r.keys("*"):
            t = r.type(k).decode()
            v = {"string": r.get, "list": lambda key: r.lrange(key, 0, -1), "hash": r.hgetall,
                 "set": r.smembers, "zset": lambda key: r.zrange(key, 0, -1, withscores=True)}[t](k)
            out[(dbid, k)] = (t, v, r.object("encoding", k), r.pttl(k) > 0)
    r.execute_command("SELECT", 0)
    return out


def test_save_and_restart_keep_everything(holdfast_factory):
    srv = holdfast_factory()
    r = srv.client()
    _fill_all_types(r)
    before = _content(r)
    assert r.save() is True
    assert _persistence(r)["rdb_changes_since_last_save"] == 0
    srv.stop()
    srv.start()
    r = srv.client()
    assert _content(r) == before
    assert _persistence(r)["rdb_last_load_keys_loaded"] == len(before)
    assert "Done loading RDB, keys loaded: %d, keys expired: 0." % len(before) in srv.log()


def test_bgsave_child_reaped_and_reported(holdfast_factory):
    srv = holdfast_factory()
    r = srv.client()
    _fill_all_types(r)
    forks = r.info("stats")["total_forks"]
    assert r.bgsave() is True
    info = _bgsave_done(r)
    assert info["rdb_last_bgsave_status"] == "ok"
    assert info["rdb_saves"] == 1 and info["rdb_changes_since_last_save"] == 0
    assert info["rdb_last_cow_size"] > 0
    assert r.info("stats")["total_forks"] == forks + 1
    log = srv.log()
    pid = int(re.search(r"Background saving started by pid (\d+)", log).group(1))
    assert re.search(r"%d:C .* Fork CoW for RDB: current \d+ MB, peak \d+ MB" % pid, log)
    assert "Background saving terminated with success" in log
    assert not os.path.exists("/proc/%d" % pid), "the child was left a zombie"
    assert not [f for f in os.listdir(srv.workdir) if f.startswith("temp-")]
    # every value type went through marshal: the index of custom-typed keys was complete
    assert "index was incomplete" not in log


def test_bgsave_refused_while_running_and_schedule(holdfast_factory):
    srv = holdfast_factory(*DEBUG)
    r = srv.client()
    r.execute_command("DEBUG", "POPULATE", 400000, "key", 100)
    assert r.bgsave() is True
    info = _persistence(r)
    if info["rdb_bgsave_in_progress"]:  # the fields Redis shows while a child runs
        assert info["current_save_keys_total"] == 400000
        assert 0 <= info["current_save_keys_processed"] <= 400000
        assert "current_cow_size" in info and "current_fork_perc" in info
    with pytest.raises(redis.ResponseError, match="^Background save already in progress$"):
        r.bgsave()
    with pytest.raises(redis.ResponseError, match="^Background save already in progress$"):
        r.save()
    with pytest.raises(redis.ResponseError, match="syntax error"):
        r.execute_command("BGSAVE", "NOW")
    _bgsave_done(r)
    assert _persistence(r)["rdb_last_bgsave_status"] == "ok"


def test_child_killed_mid_save_leaves_old_snapshot(holdfast_factory):
    srv = holdfast_factory(*DEBUG)
    r = srv.client()
    r.set("old", "snapshot")
    r.save()
    with open(os.path.join(srv.workdir, "dump.rdb"), "rb") as f:
        old = f.read()
    r.execute_command("DEBUG", "POPULATE", 600000, "key", 100)
    r.bgsave()
    pid = int(_wait(lambda: re.search(r"Background saving started by pid (\d+)", srv.log())).group(1))
    os.kill(pid, signal.SIGKILL)
    info = _bgsave_done(r)
    assert info["rdb_last_bgsave_status"] == "err"
    assert "Background saving terminated by signal 9" in srv.log()
    with open(os.path.join(srv.workdir, "dump.rdb"), "rb") as f:
        assert f.read() == old
    assert not os.path.exists(os.path.join(srv.workdir, "temp-%d.rdb" % pid))
    assert r.ping()


def test_save_points_trigger_bgsave(holdfast_factory):
    srv = holdfast_factory("--save", "1 2")
    r = srv.client()
    r.set("a", 1)
    assert _persistence(r)["rdb_changes_since_last_save"] == 1
    time.sleep(1.2)  # a save point needs more than `seconds` since the last save
    r.set("b", 2)
    _wait(lambda: _persistence(r)["rdb_saves"] >= 1)
    assert "2 changes in 1 seconds. Saving..." in srv.log()
    assert _persistence(r)["rdb_changes_since_last_save"] == 0


def test_failed_save_refuses_writes_until_a_save_succeeds(holdfast_factory):
    srv = holdfast_factory("--save", "3600 1")
    r = srv.client()
    r.set("k", "v")
    blocker = os.path.join(srv.workdir, "dump.rdb")
    os.mkdir(blocker)  # the rename into place fails: the save does
    r.bgsave()
    assert _bgsave_done(r)["rdb_last_bgsave_status"] == "err"
    with pytest.raises(redis.ResponseError, match="^MISCONF "):
        r.set("k2", "v")
    assert r.get("k") == b"v"  # reads go on
    with pytest.raises(redis.ResponseError, match="^$"):  # Redis answers a bare "-ERR"
        r.save()
    os.rmdir(blocker)
    r.bgsave()
    assert _bgsave_done(r)["rdb_last_bgsave_status"] == "ok"
    assert r.set("k2", "v")
    # with stop-writes-on-bgsave-error off, a failed save does not refuse writes
    os.unlink(blocker)
    os.mkdir(blocker)
    r.config_set("stop-writes-on-bgsave-error", "no")
    r.bgsave()
    _bgsave_done(r)
    assert r.set("k3", "v")
    # The shutdown's own save must not fail too: SIGTERM would find it
    # refusing to exit, as Redis does, and the teardown would wait 15 s.
    os.rmdir(blocker)


def _shutdown_and_restart(srv, **flags):
    """SHUTDOWN with redis-py's flags (save=, nosave=), then start again;
    returns a client of the new process."""
    srv.client().shutdown(**flags)  # redis-py takes the closed connection as success
    srv.proc.wait(10)
    srv.start()
    return srv.client()


def test_shutdown_saves_when_save_points_exist(holdfast_factory):
    srv = holdfast_factory("--save", "3600 1")
    r = srv.client()
    r.set("k", "v")
    r = _shutdown_and_restart(srv)
    assert "Saving the final RDB snapshot before exiting." in srv.log()
    assert r.get("k") == b"v"
    # NOSAVE: the write after the last save is gone
    r.set("k", "changed")
    assert _shutdown_and_restart(srv, nosave=True).get("k") == b"v"


def test_sigterm_saves_and_save_flag_without_save_points(holdfast_factory):
    srv = holdfast_factory("--save", "3600 1")
    srv.client().set("k", "term")
    assert srv.stop() == 0
    srv.start()
    assert srv.client().get("k") == b"term"
    srv.stop()
    other = holdfast_factory()  # save "" (no save points): SHUTDOWN SAVE still saves
    other.client().set("x", "y")
    assert _shutdown_and_restart(other, save=True).get("x") == b"y"


def test_loading_answers_loading_error(holdfast_factory):
    srv = holdfast_factory(*DEBUG)
    r = srv.client()
    r.execute_command("DEBUG", "POPULATE", 700000, "key", 50)
    r.save()
    srv.stop()
    srv.start(wait=False)
    seen = set()
    deadline = time.time() + 30
    while time.time() < deadline and "ready" not in seen:
        try:
            with socket.create_connection(("127.0.0.1", srv.port), timeout=5) as s:
                s.sendall(b"*2\r\n$3\r\nGET\r\n$5\r\nkey:1\r\n*2\r\n$4\r\nINFO\r\n$11\r\npersistence\r\n")
                data = b""
                while data.count(b"\r\n") < 2 or (data.startswith(b"$") and b"loading:" not in data):
                    chunk = s.recv(65536)
                    if not chunk:
                        break
                    data += chunk
            if data.startswith(b"-LOADING Holdfast is loading the dataset in memory\r\n"):
                assert b"loading:1" in data and b"loading_total_bytes:" in data
                seen.add("loading")
            elif data.startswith(b"$"):
                seen.add("ready")
        except OSError:
            time.sleep(0.01)
    assert seen == {"loading", "ready"}, seen
    assert srv.client().dbsize() == 700000


def test_dump_restore_round_trip(hf):
    _fill_all_types(hf)
    for key in [b"s", b"n", b"long", b"list", b"small-hash", b"big-hash", b"intset", b"strset", b"zset", b"bigzset"]:
        payload = hf.dump(key)
        hf.restore(b"copy-" + key, 0, payload)
        t = hf.type(key)
        assert hf.type(b"copy-" + key) == t
        assert hf.object("encoding", b"copy-" + key) == hf.object("encoding", key)
        assert hf.execute_command("DEBUG", "DIGEST-VALUE", key) == hf.execute_command("DEBUG", "DIGEST-VALUE",
                                                                                         b"copy-" + key)
    assert hf.dump("nosuch") is None
    with pytest.raises(redis.ResponseError, match="^BUSYKEY Target key name already exists.$"):
        hf.restore("s", 0, hf.dump("n"))
    hf.restore("s", 0, hf.dump("n"), replace=True)
    assert hf.get("s") == b"12345"
    hf.restore("t", 5000, hf.dump("n"))
    assert 0 < hf.pttl("t") <= 5000
    hf.restore("gone", int(time.time() * 1000) - 1000, hf.dump("n"), absttl=True)
    assert hf.exists("gone") == 0
    bad = bytearray(hf.dump("long"))
    bad[3] ^= 0xFF
    with pytest.raises(redis.ResponseError, match="^DUMP payload version or checksum are wrong$"):
        hf.restore("bad", 0, bytes(bad))
    with pytest.raises(redis.ResponseError, match="^Invalid TTL value, must be >= 0$"):
        hf.restore("bad", -1, hf.dump("n"))


def test_debug_reload_keeps_data(holdfast_factory):
    srv = holdfast_factory(*DEBUG)
    r = srv.client()
    _fill_all_types(r)
    before = _content(r)
    assert r.execute_command("DEBUG", "RELOAD") == b"OK"
    assert _content(r) == before


def test_debug_reload_noflush_merge(holdfast_factory):
    srv = holdfast_factory(*DEBUG)
    r = srv.client()
    r.set("a", "from-file")
    r.save()
    r.set("a", "live")
    r.set("b", "live-only")
    with pytest.raises(redis.ResponseError, match="Error trying to load the RDB dump"):
        r.execute_command("DEBUG", "RELOAD", "NOSAVE", "NOFLUSH")  # 'a' conflicts: nothing changes
    assert r.get("a") == b"live"
    assert r.execute_command("DEBUG", "RELOAD", "NOSAVE", "NOFLUSH", "MERGE") == b"OK"
    assert (r.get("a"), r.get("b")) == (b"from-file", b"live-only")
    assert r.execute_command("DEBUG", "RELOAD", "NOSAVE") == b"OK"
    assert (r.get("a"), r.get("b")) == (b"from-file", None)


@pytest.mark.parametrize("policy", ["allkeys-lru", "allkeys-lfu"])
def test_access_metadata_survives_restart(holdfast_factory, policy):
    """Under an LRU/LFU policy the file carries IDLE/FREQ opcodes, as Redis
    writes them, and a restart keeps OBJECT IDLETIME / OBJECT FREQ."""
    srv = holdfast_factory("--maxmemory-policy", policy)
    r = srv.client()
    r.set("k", "v")
    if policy == "allkeys-lfu":
        for _ in range(200):
            r.get("k")
        freq = r.object("freq", "k")
        assert freq > 5
    else:
        time.sleep(2.2)
    r.save()
    r = _shutdown_and_restart(srv, nosave=True)
    if policy == "allkeys-lfu":
        assert r.object("freq", "k") == freq
    else:
        assert r.object("idletime", "k") >= 2


def test_restore_idletime_and_freq(hf):
    hf.set("src", "v")
    payload = hf.dump("src")
    hf.restore("idle", 0, payload, idletime=1000)
    assert hf.object("idletime", "idle") >= 1000
    hf.config_set("maxmemory-policy", "allkeys-lfu")
    try:
        hf.restore("hot", 0, payload, frequency=200)
        assert hf.object("freq", "hot") == 200
    finally:
        hf.config_set("maxmemory-policy", "noeviction")


def test_small_hashes_loaded_packed_behave_as_hashes(holdfast_factory):
    """Small hashes stay packed after a load until first used: every way of
    reaching one (reads, writes, TYPE, OBJECT, DEBUG DIGEST, COPY, RENAME,
    DUMP, a snapshot of a still-packed one) sees the same hash."""
    srv = holdfast_factory(*DEBUG)
    r = srv.client()
    for i in range(6):
        r.hset("h%d" % i, mapping={"f%d" % j: "v%d" % (i * j) for j in range(10)})
    r.hset("big", mapping={"f%d" % j: j for j in range(600)})  # past 512 fields, a hashtable: loaded unpacked
    digest = r.execute_command("DEBUG", "DIGEST")
    r.save()
    r = _shutdown_and_restart(srv, nosave=True)
    assert r.execute_command("DEBUG", "DIGEST") == digest  # looks through packed values
    assert r.type("h0") == b"hash" and r.object("encoding", "h0") == b"listpack"
    assert r.object("encoding", "big") == b"hashtable"
    assert r.hget("h1", "f3") == b"v3" and r.hlen("h1") == 10
    assert r.hset("h2", "new", "x") == 1 and r.hlen("h2") == 11
    assert r.copy("h3", "h3-copy") and r.hgetall("h3-copy") == r.hgetall("h3")
    assert r.rename("h4", "h4-renamed") and r.hget("h4-renamed", "f2") == b"v8"
    r.restore("h5-restored", 0, r.dump("h5"))
    assert r.hgetall("h5-restored") == r.hgetall("h5")
    assert b"serializedlength:" in r.execute_command("DEBUG", "OBJECT", "h0")
    r.delete("h1")
    r.bgsave()  # h0 was never modified: the child writes it back from its packed form
    _bgsave_done(r)
    digest = r.execute_command("DEBUG", "DIGEST")
    r = _shutdown_and_restart(srv, nosave=True)
    assert r.execute_command("DEBUG", "DIGEST") == digest
    assert "index was incomplete" not in srv.log()


def test_save_points_set_at_runtime(holdfast_factory):
    srv = holdfast_factory()  # save "": no save points
    r = srv.client()
    r.set("a", 1)
    time.sleep(1.2)
    assert _persistence(r)["rdb_saves"] == 0
    r.config_set("save", "1 1")
    assert r.config_get("save") == {"save": "1 1"}
    _wait(lambda: _persistence(r)["rdb_saves"] >= 1)
    assert "1 changes in 1 seconds. Saving..." in srv.log()
    r.config_set("save", "")
    r.set("b", 2)
    time.sleep(1.5)
    assert _persistence(r)["rdb_saves"] == 1 and _persistence(r)["rdb_changes_since_last_save"] == 1
