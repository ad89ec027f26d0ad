"""ACL users in Holdfast, end to end over real sockets with redis-py: AUTH,
requirepass as the default user's password, command/category/key/channel
permissions, ACL LOG, the aclfile (save, load, refusing a bad one), config
`user` lines, DELUSER, CLIENT LIST/KILL USER, INFO counters, secrets kept
out of SLOWLOG/MONITOR/INFO/the log, replication as an ACL user, and the
hot path left ungated for the default user. Comparisons with redis-server
are in test_acl_vs_redis.py."""

import hashlib
import os
import socket

import pytest
import redis
from rawresp import RawConn
from redis.backoff import NoBackoff
from redis.retry import Retry
from test_replication_primary import in_sync, wait_until

from engine.client import Client
from engine.config import Config
from engine.server import Server


def sha(pw):
    return hashlib.sha256(pw.encode()).hexdigest()


def log_of(srv):
    with open(srv.logfile, "rb") as f:
        return f.read()


def no_retry(srv, **kw):
    """A redis-py client that reports a refused AUTH at once (no retries)."""
    return srv.client(retry=Retry(NoBackoff(), 0), **kw)


@pytest.fixture
def srv(holdfast_factory):
    return holdfast_factory()


def test_auth_users_with_redis_py(srv):
    admin = srv.client()
    assert admin.execute_command("ACL", "SETUSER", "alice", "on", ">apw", "~*", "+@all") == b"OK"
    alice = srv.client(username="alice", password="apw")
    assert alice.execute_command("ACL", "WHOAMI") == b"alice"
    assert alice.set("k", "v")
    with pytest.raises(redis.AuthenticationError):
        no_retry(srv, username="alice", password="wrong").ping()
    with pytest.raises(redis.AuthenticationError):
        no_retry(srv, username="nobody", password="x").ping()
    admin.execute_command("ACL", "SETUSER", "alice", "off")
    with pytest.raises(redis.AuthenticationError):
        no_retry(srv, username="alice", password="apw").ping()
    assert alice.get("k") == b"v"  # connections in before `off` go on, as in Redis
    # HELLO 3 AUTH as redis-py sends it for protocol=3
    three = srv.client(username="default", password="any", protocol=3)
    assert three.execute_command("ACL", "WHOAMI") == b"default"
    before = admin.info("stats")["acl_access_denied_auth"]
    raw = RawConn(srv.port)
    assert raw("AUTH", "alice", "apw").startswith(b"-WRONGPASS")
    assert raw("HELLO", "3", "AUTH", "nobody", "x").startswith(b"-WRONGPASS")
    assert raw("ACL", "WHOAMI") == b"$7\r\ndefault\r\n"
    assert admin.info("stats")["acl_access_denied_auth"] == before + 2


def test_requirepass_at_start_is_the_default_users_password(holdfast_factory):
    s = holdfast_factory("--requirepass", "s3cret")
    with pytest.raises(redis.AuthenticationError):
        no_retry(s).ping()
    r = s.client(password="s3cret")
    assert r.execute_command("ACL", "LIST") == [("user default on #%s ~* &* +@all" % sha("s3cret")).encode()]
    user = r.acl_getuser("default")
    assert user["passwords"] == [sha("s3cret")]  # stored only as its SHA-256
    r.config_set("requirepass", "other")
    assert r.ping()  # still authenticated
    assert s.client(username="default", password="other").ping()
    with pytest.raises(redis.AuthenticationError):
        no_retry(s, password="s3cret").ping()
    r.config_set("requirepass", "")
    assert s.client().ping()


def test_command_and_category_denial(srv):
    admin = srv.client()
    admin.execute_command("ACL", "SETUSER", "ro", "on", ">pw", "~*", "+@read", "-@dangerous", "+config|get",
                          "+select|0", "+client")
    admin.set("k", "v")
    ro = srv.client(username="ro", password="pw")
    assert ro.get("k") == b"v"
    with pytest.raises(redis.exceptions.NoPermissionError, match="no permissions to run the 'set' command"):
        ro.set("k", "w")
    with pytest.raises(redis.exceptions.NoPermissionError, match="'keys' command"):
        ro.keys("*")  # @read but @dangerous
    with pytest.raises(redis.exceptions.NoPermissionError, match="'config|set' command"):
        ro.config_set("hz", "10")
    assert ro.config_get("hz") == {"hz": "10"}
    assert ro.execute_command("SELECT", "0")
    with pytest.raises(redis.exceptions.NoPermissionError):
        ro.execute_command("SELECT", "1")
    assert admin.get("k") == b"v"
    stats = admin.info("stats")
    assert stats["acl_access_denied_cmd"] == 4
    cs = admin.info("commandstats")
    assert cs["cmdstat_set"]["rejected_calls"] == 1
    assert admin.info("errorstats")["errorstat_NOPERM"]["count"] == 4


def test_key_patterns_read_and_write(srv):
    admin = srv.client()
    admin.execute_command("ACL", "SETUSER", "k", "on", "nopass", "+@all", "-@dangerous", "~app:*", "%R~shared:*",
                          "%W~log:*")
    admin.set("shared:cfg", "1")
    k = srv.client(username="k", password="x")
    assert k.set("app:1", "a") and k.get("app:1") == b"a"
    assert k.get("shared:cfg") == b"1"
    with pytest.raises(redis.exceptions.NoPermissionError, match="one of the keys"):
        k.set("shared:cfg", "2")
    assert k.rpush("log:1", "x") == 1
    with pytest.raises(redis.exceptions.NoPermissionError):
        k.lrange("log:1", 0, -1)
    with pytest.raises(redis.exceptions.NoPermissionError):
        k.lmove("log:1", "app:l", "LEFT", "RIGHT")  # the source is read too
    assert k.lmove("app:1l", "log:1", "LEFT", "RIGHT") is None
    with pytest.raises(redis.exceptions.NoPermissionError):
        k.get("other")
    with pytest.raises(redis.exceptions.NoPermissionError):
        k.mset({"app:2": "x", "other": "y"})
    assert admin.exists("app:2") == 0  # nothing of a refused command ran
    assert admin.info("stats")["acl_access_denied_key"] == 5


def test_channel_patterns(srv):
    admin = srv.client()
    admin.execute_command("ACL", "SETUSER", "ps", "on", "nopass", "+@all", "~*", "resetchannels", "&news.*",
                          "&alerts")
    ps = srv.client(username="ps", password="x")
    p = ps.pubsub()
    p.subscribe("news.tech")
    assert p.get_message(timeout=5)["type"] == "subscribe"
    assert ps.publish("news.tech", "hello") == 1
    msg = p.get_message(timeout=5)
    assert msg["data"] == b"hello"
    with pytest.raises(redis.exceptions.NoPermissionError, match="one of the channels"):
        ps.publish("sports", "x")
    with pytest.raises(redis.exceptions.NoPermissionError):
        ps.execute_command("PSUBSCRIBE", "news*")  # a pattern must be listed as is
    raw = RawConn(srv.port)
    assert raw("AUTH", "ps", "x") == b"+OK\r\n"
    assert raw("PSUBSCRIBE", "news.*").startswith(b"*3\r\n$10\r\npsubscribe")
    assert admin.info("stats")["acl_access_denied_channel"] == 2
    p.close()


def test_revoking_channels_kills_their_subscribers(srv):
    admin = srv.client()
    admin.execute_command("ACL", "SETUSER", "sub", "on", "nopass", "+@all", "&a*", "&b*")
    keep, gone = RawConn(srv.port), RawConn(srv.port)
    for c, ch in ((keep, "a1"), (gone, "b1")):
        assert c("AUTH", "sub", "x") == b"+OK\r\n"
        assert c("SUBSCRIBE", ch).startswith(b"*3")
    admin.execute_command("ACL", "SETUSER", "sub", "resetchannels", "&a*")
    assert keep("PING") == b"*2\r\n$4\r\npong\r\n$0\r\n\r\n"
    with pytest.raises((ConnectionError, OSError)):
        gone("PING")


def test_acl_log(srv):
    admin = srv.client()
    admin.execute_command("ACL", "SETUSER", "lg", "on", ">pw", "~k", "+get")
    lg = RawConn(srv.port)
    lg("AUTH", "lg", "pw")
    for _ in range(3):
        lg("GET", "other")
    lg("SET", "k", "v")
    lg("AUTH", "lg", "bad")
    entries = admin.acl_log()
    assert [(e["reason"], e["object"], e["count"], e["context"]) for e in entries] == [
        ("auth", "AUTH", 1, "toplevel"), ("command", "set", 1, "toplevel"), ("key", "other", 3, "toplevel")]
    assert entries[0]["username"] == "lg" and entries[0]["client-info"]["cmd"] == "auth"
    assert len(admin.acl_log(count=1)) == 1
    admin.config_set("acllog-max-len", "2")
    lg("GET", "another")
    assert len(admin.acl_log()) == 2
    assert admin.acl_log_reset() and admin.acl_log() == []


def test_dryrun(srv):
    admin = srv.client()
    admin.execute_command("ACL", "SETUSER", "dr", "~k*", "&c", "+get", "+publish")
    assert admin.execute_command("ACL", "DRYRUN", "dr", "GET", "k1") == b"OK"
    assert admin.execute_command("ACL", "DRYRUN", "dr", "GET", "x") == b"This user has no permissions to access " \
                                                                       b"the 'x' key"
    assert admin.execute_command("ACL", "DRYRUN", "dr", "PUBLISH", "d", "m") == b"This user has no permissions " \
                                                                                b"to access the 'd' channel"
    assert admin.execute_command("ACL", "DRYRUN", "dr", "SET", "k", "v").endswith(b"run the 'set' command")
    assert admin.acl_log() == []  # a dry run logs nothing


def test_deluser_disconnects_and_client_kill_user(srv):
    admin = srv.client()
    admin.execute_command("ACL", "SETUSER", "gone", "on", "nopass", "+@all")
    admin.execute_command("ACL", "SETUSER", "kept", "on", "nopass", "+@all")
    g1, g2, k1 = RawConn(srv.port), RawConn(srv.port), RawConn(srv.port)
    g1("AUTH", "gone", "x")
    g2("AUTH", "gone", "x")
    k1("AUTH", "kept", "x")
    listing = admin.client_list()
    assert sorted(c["user"] for c in listing) == ["default", "gone", "gone", "kept"]
    assert admin.execute_command("ACL", "DELUSER", "gone") == 1
    for c in (g1, g2):
        with pytest.raises((ConnectionError, OSError)):
            c("PING")
    assert admin.execute_command("CLIENT", "KILL", "USER", "kept") == 1
    with pytest.raises((ConnectionError, OSError)):
        k1("PING")
    with pytest.raises(redis.ResponseError, match="No such user 'gone'"):
        admin.execute_command("CLIENT", "KILL", "USER", "gone")
    assert [c["user"] for c in admin.client_list()] == ["default"]


# ---- files ------------------------------------------------------------------------------------

def test_aclfile_save_restart_load(holdfast_factory, tmp_path):
    work = tmp_path / "w"
    work.mkdir()
    (work / "users.acl").write_text("user default on nopass ~* &* +@all\n")
    s = holdfast_factory("--aclfile", "users.acl", workdir=work)
    r = s.client()
    r.execute_command("ACL", "SETUSER", "app", "on", ">app-secret", "~app:*", "&app.*", "+@all", "-@dangerous")
    r.execute_command("ACL", "SETUSER", "ops", "on", ">ops-secret", "+@admin", "(~logs:* +get)")
    before = r.execute_command("ACL", "LIST")
    assert r.execute_command("ACL", "SAVE") == b"OK"
    text = (work / "users.acl").read_bytes()
    assert b"app-secret" not in text and sha("app-secret").encode() in text
    assert text.splitlines() == before
    s.stop()
    again = holdfast_factory("--aclfile", "users.acl", workdir=work)
    r2 = again.client()
    assert r2.execute_command("ACL", "LIST") == before
    assert again.client(username="app", password="app-secret").set("app:1", "x")
    # ACL LOAD takes edits made to the file
    (work / "users.acl").write_text(text.decode() + "user new on nopass +ping\n")
    assert r2.execute_command("ACL", "LOAD") == b"OK"
    assert b"new" in r2.execute_command("ACL", "USERS")


def test_acl_load_of_a_bad_file_keeps_the_users(holdfast_factory, tmp_path):
    work = tmp_path / "w"
    (work / "acl").mkdir(parents=True)
    (work / "acl" / "users.acl").write_text("user keep on >k ~* +@all\n")
    s = holdfast_factory("--aclfile", "acl/users.acl", workdir=work)
    r = s.client()
    kept = s.client(username="keep", password="k")
    assert kept.ping()
    for bad in ("user p on (~x +get\n", "user keep on >k ~* +@all\nuser keep off\n", "garbage\n",
                "user x on >hunter2 +nosuch\n"):
        (work / "acl" / "users.acl").write_text(bad)
        with pytest.raises(redis.ResponseError, match="no change to the previously active ACL rules"):
            r.execute_command("ACL", "LOAD")
        assert r.execute_command("ACL", "USERS") == [b"default", b"keep"]
        assert kept.ping()  # a failed load disconnects nobody
    os.unlink(work / "acl" / "users.acl")
    with pytest.raises(redis.ResponseError, match="opening file 'acl/users.acl': No such file or directory"):
        r.execute_command("ACL", "LOAD")
    os.rmdir(work / "acl")  # ACL SAVE cannot write its temp file now
    with pytest.raises(redis.ResponseError, match="error trying to save the ACLs"):
        r.execute_command("ACL", "SAVE")
    assert b"Opening temp ACL file for ACL SAVE: No such file or directory" in log_of(s)
    assert kept.ping()


@pytest.mark.parametrize("text, words", [
    ("user bob on >pw +@all\nuser bob off\n", b"WARNING: Duplicate user 'bob' found on line 2."),
    ("user bob on >secretpw badrule\n", b"users.acl:1: Syntax error."),
    ("bob on\n", b"users.acl:1 should start with user keyword followed by the username."),
    ("user x +nosuch\n", b"users.acl:1: Error in applying operation '+nosuch': Unknown command or category"),
])
def test_corrupt_aclfile_refuses_start(holdfast_factory, tmp_path, text, words):
    work = tmp_path / "w"
    work.mkdir()
    (work / "users.acl").write_text(text)
    s = holdfast_factory("--aclfile", "users.acl", workdir=work, start=False)
    s.start(wait=False)
    assert s.proc.wait(30) == 1
    log = log_of(s)
    assert b"Aborting Redis startup because of ACL errors: " in log and words in log
    assert b"Ready to accept connections" not in log
    assert b"secretpw" not in log


def test_config_file_users(holdfast_factory):
    s = holdfast_factory(config_text="user app on >apw ~app:* +@all\nuser idle +ping\n")
    assert s.client(username="app", password="apw").set("app:x", "1")
    assert b"The user 'idle' is disabled (there is no 'on' modifier in the user description)" in log_of(s)
    bad = holdfast_factory(config_text="user app on nonsense\n", start=False)
    bad.start(wait=False)
    assert bad.proc.wait(30) == 1
    assert b"Error in user declaration 'app': Syntax error" in log_of(bad)


# ---- secrets stay secret ------------------------------------------------------------------

def test_passwords_never_leak(holdfast_factory):
    s = holdfast_factory("--loglevel", "debug", "--slowlog-log-slower-than", "0")
    mon = socket.create_connection(("127.0.0.1", s.port))
    mon.settimeout(5)
    mon.sendall(b"MONITOR\r\n")
    assert mon.recv(5) == b"+OK\r\n"
    c = RawConn(s.port)
    c("ACL", "SETUSER", "u", "on", ">pw-one", "#" + sha("pw-two"), "+@all", "~*")
    c("AUTH", "u", "pw-one")
    c("AUTH", "u", "pw-three")
    c("HELLO", "2", "AUTH", "u", "pw-one")
    c("ACL", "SETUSER", "u", "<pw-one")
    c("ACL", "SETUSER", "u", "(~x", ">pw-four)")
    c("CONFIG", "SET", "requirepass", "pw-five")
    c("CONFIG", "SET", "masterauth", "pw-six")
    c("ECHO", "end-of-test")
    seen = b""
    while b"end-of-test" not in seen:
        chunk = mon.recv(65536)
        assert chunk
        seen += chunk
    mon.close()
    c("AUTH", "pw-five")
    slowlog = repr(c.parsed("SLOWLOG", "GET", "-1")).encode()
    info = c("INFO", "everything")
    acl_log = repr(c.parsed("ACL", "LOG")).encode()
    config = c("CONFIG", "GET", "*")
    s.stop()
    log = log_of(s)
    for secret in (b"pw-one", b"pw-three", b"pw-four", b"pw-six"):
        for where, text in (("MONITOR", seen), ("SLOWLOG", slowlog), ("INFO", info), ("ACL LOG", acl_log),
                            ("log file", log)):
            assert secret not in text, (secret, where)
    assert b"pw-five" not in seen + slowlog + info + log + acl_log
    assert b"pw-six" in config  # CONFIG GET does show masterauth, as in Redis
    assert b'"AUTH" "(redacted)" "(redacted)"' in seen


# ---- the hot path ---------------------------------------------------------------------------

class _NullSock:
    def fileno(self):
        return -1


def test_default_user_with_every_permission_is_not_gated():
    """The usual client (default user, +@all ~* &*) takes run_batch's fast
    path: it is not gated. Restricting the default user gates it at once;
    giving everything back ungates it."""
    srv = Server(Config())
    c = Client(srv, _NullSock(), "127.0.0.1:1", "127.0.0.1:2")
    srv.clients[99] = c
    assert not c.gated and srv._fast_table(c) is srv.fast_commands
    assert srv.acl.set_user("default", [b"-flushall"]) is None
    assert c.gated
    srv.run_batch(c, [[b"FLUSHALL"]])
    assert c.wbuf[-1].startswith(b"-NOPERM this user has no permissions to run the 'flushall' command")
    assert srv.acl.set_user("default", [b"+@all"]) is None
    assert not c.gated
    assert srv.acl.set_user("bob", [b"on", b"nopass", b"+@all", b"~*", b"&*"]) is None
    assert srv.acl.authenticate(c, b"bob", b"x", b"AUTH")
    assert not c.gated  # a user that may do everything is not gated either
    assert srv.acl.set_user("bob", [b"resetkeys", b"~a*"]) is None
    assert c.gated
    srv.run_batch(c, [[b"GET", b"b"], [b"GET", b"a1"]])
    assert c.wbuf[-2:] == [b"-NOPERM this user has no permissions to access one of the keys used as arguments\r\n",
                           b"$-1\r\n"]


def test_protected_mode_follows_the_default_users_password():
    srv = Server(Config())
    assert srv.accept_refusal(("10.0.0.1", 5), False) is not None
    srv.acl.set_user("default", [b">pw"])
    assert srv.accept_refusal(("10.0.0.1", 5), False) is None


# ---- replication as an ACL user -----------------------------------------------------------

def test_replica_authenticates_as_an_acl_user(holdfast_factory):
    primary = holdfast_factory("--requirepass", "admin-pw", "--repl-diskless-sync-delay", "0")
    p = primary.client(password="admin-pw")
    p.execute_command("ACL", "SETUSER", "repl", "on", ">repl-pw", "+psync", "+replconf", "+ping")
    p.set("k", "v")
    replica = holdfast_factory("--replicaof", "127.0.0.1", str(primary.port), "--masteruser", "repl",
                               "--masterauth", "repl-pw")
    wait_until(lambda: replica.client().info("replication")["master_link_status"] == "up", what="the sync")
    p.set("k2", "v2")
    wait_until(lambda: in_sync(primary, replica, password="admin-pw"), what="the stream")
    assert replica.client().get("k2") == b"v2"
    assert any(c["user"] == "repl" and "S" in c["flags"] for c in p.client_list())
    wrong = holdfast_factory("--replicaof", "127.0.0.1", str(primary.port), "--masteruser", "repl",
                             "--masterauth", "not-it")
    wait_until(lambda: b"Unable to AUTH to MASTER: WRONGPASS" in log_of(wrong), what="the AUTH error")
    assert wrong.client().info("replication")["master_link_status"] == "down"
    assert b"not-it" not in log_of(wrong) and b"repl-pw" not in log_of(replica)
    log = p.acl_log()
    assert log[0]["reason"] == "auth" and log[0]["username"] == "repl"
    # a user without +psync cannot sync: the replica's PSYNC is refused, the link stays down
    p.execute_command("ACL", "SETUSER", "repl", "-psync")
    p.execute_command("CLIENT", "KILL", "USER", "repl")
    wait_until(lambda: any(e["object"] == "psync" and e["reason"] == "command" for e in p.acl_log()),
               what="the refused PSYNC")
    assert replica.client().info("replication")["master_link_status"] == "down"
