"""ACL users compared with Debian's redis-server 7.0: the same ACL SETUSER
rules give the same ACL LIST / GETUSER text, the same errors, and the same
replies (NOPERM texts, ACL LOG entries, DRYRUN) to the same commands run as
the same user.

Redis lists the single-command rules of ACL LIST (after the categories) in
its command table's hash order, which changes from process to process (two
redis-servers disagree with each other), so those are compared as sets;
everything else is compared byte for byte."""

import os
import re

import pytest
from rawresp import RawConn

PW_HASH = "a" * 64


def port_of(r):
    return r.connection_pool.connection_kwargs["port"]


def canon(text):
    """ACL LIST / GETUSER text with each run of single-command rules
    (`+get`, `-config|set`, `+select|0`, not `+@cat`) sorted."""
    toks = []
    for t in text.split(b" "):
        if t.startswith(b"("):
            toks += [b"(", t[1:]]
        elif t.endswith(b")"):
            toks += [t[:-1], b")"]
        else:
            toks.append(t)
    out, run = [], []
    for t in toks:
        if t[:1] in (b"+", b"-") and t[1:2] != b"@":
            run.append(t)
            continue
        out += sorted(run) + [t]
        run = []
    return b" ".join(out + sorted(run)).replace(b"( ", b"(").replace(b" )", b")")


def canon_getuser(reply):
    """GETUSER (parsed RESP2) with its `commands` fields canonical."""
    if not isinstance(reply, list):
        return reply
    out = list(reply)
    for i in range(0, len(out) - 1, 2):
        if out[i] == b"commands":
            out[i + 1] = canon(out[i + 1])
        elif out[i] == b"selectors":
            out[i + 1] = [canon_getuser(s) for s in out[i + 1]]
    return out


@pytest.fixture
def pair(hf, rr):
    """Raw connections to a Holdfast and a redis-server; the users they
    create are deleted afterwards (both servers live for the module)."""
    conns = [RawConn(port_of(hf)), RawConn(port_of(rr))]
    yield conns
    for c in conns:
        c.close()
    for r in (hf, rr):
        c = RawConn(port_of(r))
        users = [u for u in c.parsed("ACL", "USERS") if u != b"default"]
        if users:
            c("ACL", "DELUSER", *users)
        c("ACL", "LOG", "RESET")
        c.close()


RULE_SETS = [
    [],
    ["on", ">p1", ">p2", "<p1", "#" + PW_HASH, ">p2"],
    ["on", ">p1", "nopass"],
    ["on", "nopass", "resetpass", ">p3"],
    ["on", "nopass", "~*", "&*", "+@all"],
    ["+@all", "-@dangerous", "+flushdb", "-get"],
    ["+@read", "-@string", "+@write", "-@list", "+@pubsub", "-pubsub|numsub", "+object"],
    ["~k*", "%R~r*", "%W~w*", "%RW~rw*", "%R~k*", "%W~r*", "&ch*", "&other"],
    ["allkeys", "allchannels", "allcommands", "resetkeys", "~a", "resetchannels", "&b", "nocommands", "+get"],
    ["+config|get", "+select|0", "+select|1", "+SELECT|Abc", "+client|list", "+CLIENT|KILL"],
    ["+select|0", "-select"],
    ["+select|0", "+@all"],
    ["(~x* +set)", "(&c* +publish)", "+get"],
    ["(~x*", "+set)", "clearselectors", "(+get", "~y", "%R~z)"],
    ["reset", "on", "skip-sanitize-payload"],
    ["on", "skip-sanitize-payload", "sanitize-payload", "reset"],
    ["+@all", "-@all", "+@hash", "+hdel", "-@hash"],
    ["-@all", "+@keyspace", "+@read", "-@slow"],
    ["+@admin", "+@dangerous", "-@fast"],
    ["+@all", "-config", "+config|get"],
    ["+client", "-client|kill"],
    ["+@all", "-@scripting", "-@stream", "+xadd", "-@geo", "+geoadd"],
    ["%R~*", "%W~*", "~x"],
    ["+@connection", "+@transaction", "-@blocking", "+@geo", "+@bitmap", "+@hyperloglog"],
    ["+@all", "-@write", "+set", "-@keyspace", "+del"],
    ["+@slow", "-@dangerous", "-@admin"],
    ["", "on", "", "+get"],
]


@pytest.mark.parametrize("rules", RULE_SETS, ids=[" ".join(r)[:40] or "new" for r in RULE_SETS])
def test_setuser_list_getuser_like_redis(pair, rules):
    a, b = pair
    assert a("ACL", "SETUSER", "u", *rules) == b("ACL", "SETUSER", "u", *rules)
    ours, theirs = a.parsed("ACL", "LIST"), b.parsed("ACL", "LIST")
    assert [canon(x) for x in ours] == [canon(x) for x in theirs]
    assert canon_getuser(a.parsed("ACL", "GETUSER", "u")) == canon_getuser(b.parsed("ACL", "GETUSER", "u"))
    # the same rules again, on the existing user
    assert a("ACL", "SETUSER", "u", *rules) == b("ACL", "SETUSER", "u", *rules)
    assert [canon(x) for x in a.parsed("ACL", "LIST")] == [canon(x) for x in b.parsed("ACL", "LIST")]


def test_getuser_resp3_like_redis(hf, rr):
    a, b = RawConn(port_of(hf), proto=3), RawConn(port_of(rr), proto=3)
    try:
        for c in (a, b):
            c("ACL", "SETUSER", "g", "on", ">x", "~k", "&c", "-@all", "+get", "(~y +set)")
        assert a("ACL", "GETUSER", "g") == b("ACL", "GETUSER", "g")  # one command per rule set: no order issue
        assert a("ACL", "GETUSER", "nosuch") == b("ACL", "GETUSER", "nosuch")
        assert a("ACL", "GETUSER", "default") == b("ACL", "GETUSER", "default")
    finally:
        for c in (a, b):
            c("ACL", "DELUSER", "g")
            c.close()


BAD_RULES = [
    ["badop"], ["+nosuch"], ["+@nosuch"], ["-@"], ["+"], ["-select|0"], ["+select|"], ["+config|get|x"],
    ["+config|nosuch"], ["#abc"], ["#" + "A" * 64], ["!abc"], ["<nopw"], ["!" + PW_HASH],
    ["~*", "~x"], ["allkeys", "%R~x"], ["&*", "&x"], ["allchannels", "&x"], ["%X~a"], ["%~a"], ["%"], ["%RR~a"],
    ["(~x"], ["on", "(~x", "+get"], ["(badop)"], ["(+nosuch)"], ["(~a", "badop)"], ["on", ">pw", "badop"],
    ["~a\tb"], ["&a b"],
]


@pytest.mark.parametrize("rules", BAD_RULES, ids=[" ".join(r)[:30] for r in BAD_RULES])
def test_setuser_errors_like_redis(pair, rules):
    a, b = pair
    ours, theirs = a("ACL", "SETUSER", "bad", *rules), b("ACL", "SETUSER", "bad", *rules)
    assert ours == theirs
    assert ours.startswith(b"-ERR")
    assert a("ACL", "USERS") == b("ACL", "USERS") == b"*1\r\n$7\r\ndefault\r\n"  # nothing half-applied


def test_setuser_username_and_deluser_errors_like_redis(pair):
    a, b = pair
    for args in (("ACL", "SETUSER", "a b"), ("ACL", "SETUSER", "a\x00b", "on"), ("ACL", "SETUSER"),
                 ("ACL", "DELUSER", "default"), ("ACL", "DELUSER", "x", "default"), ("ACL", "DELUSER", "nosuch"),
                 ("ACL", "GETUSER"), ("ACL", "GETUSER", "a", "b"), ("ACL", "LIST", "x"), ("ACL", "NOSUCH"),
                 ("ACL",), ("ACL", "WHOAMI", "x"), ("ACL", "LOAD"), ("ACL", "SAVE"), ("ACL", "USERS", "x"),
                 ("ACL", "SETUSER", "u", b"\xff"), ("ACL", "SETUSER", "u", b"(\xff"), ("ACL", "SETUSER", b"\xfe", "on"),
                 ("ACL", "LIST"), ("AUTH", b"\xfe", "x"), ("ACL", "GETUSER", b"\xfe"), ("ACL", "DELUSER", b"\xfe")):
        assert a(*args) == b(*args), args
    for c in (a, b):
        c("ACL", "SETUSER", "x1")
        c("ACL", "SETUSER", "x2")
    assert a("ACL", "DELUSER", "x1", "x2", "x3") == b("ACL", "DELUSER", "x1", "x2", "x3") == b":2\r\n"


def test_misc_subcommands_like_redis(pair):
    a, b = pair
    for args in (("ACL", "CAT"), ("ACL", "CAT", "nosuch"), ("ACL", "CAT", "a", "b"), ("ACL", "HELP"),
                 ("ACL", "WHOAMI"), ("ACL", "USERS"), ("ACL", "GENPASS", "0"), ("ACL", "GENPASS", "4097"),
                 ("ACL", "GENPASS", "x"), ("ACL", "GENPASS", "-5"), ("ACL", "GENPASS", "1", "2"),
                 ("ACL", "LOG", "x"), ("ACL", "LOG", "-1"), ("ACL", "LOG", "1", "2"), ("ACL", "LOG", "RESET"),
                 ("ACL", "DRYRUN", "nosuch", "get", "x"), ("ACL", "DRYRUN", "default", "nosuchcmd", "x"),
                 ("ACL", "DRYRUN", "default", "get"), ("ACL", "DRYRUN", "default", "get", "x"),
                 ("ACL", "DRYRUN", "default", "config", "nosuch"), ("ACL", "DRYRUN", "default", "config"),
                 ("ACL", "DRYRUN", "default")):
        assert a(*args) == b(*args), args
    for bits, length in (("1", 1), ("4", 1), ("5", 2), ("256", 64), ("4096", 1024)):
        assert len(a.parsed("ACL", "GENPASS", bits)) == len(b.parsed("ACL", "GENPASS", bits)) == length
    assert len(a.parsed("ACL", "GENPASS")) == 64
    assert re.fullmatch(rb"[0-9a-f]{64}", a.parsed("ACL", "GENPASS"))
    for cat in a.parsed("ACL", "CAT"):
        ours, theirs = set(a.parsed("ACL", "CAT", cat)), set(b.parsed("ACL", "CAT", cat))
        assert ours - {b"client|setinfo"} == theirs, cat  # CLIENT SETINFO is Redis 7.2's


# ---- the same commands, run as the same user -------------------------------------------------

USER_RULES = ["on", ">pw", "~k*", "%R~r*", "%W~w*", "&ch*", "&pat*", "+@read", "+@write", "-@dangerous",
              "+multi", "+exec", "+discard", "+subscribe", "+psubscribe", "+publish", "+select|0", "+ping",
              "-lpush", "+acl|whoami", "+acl|dryrun"]

AS_USER = [
    ("GET", "k1"), ("GET", "x1"), ("SET", "k1", "v"), ("SET", "r1", "v"), ("SET", "w1", "v"), ("GET", "w1"),
    ("SET", "w1", "v", "GET"), ("SET", "k2", "v", "GET"), ("EXISTS", "w1", "x1"), ("DEL", "k1"),
    ("LPUSH", "k1", "a"), ("RPUSH", "k1", "a"), ("RPOPLPUSH", "r1", "w1"), ("RPOPLPUSH", "k1", "w1"),
    ("RPOPLPUSH", "w1", "k1"), ("MGET", "k1", "r1", "x1"), ("MGET", "k1", "r1"), ("MSET", "k1", "v", "w1", "v"),
    ("MSET", "k1", "v", "r1", "v"), ("KEYS", "*"), ("FLUSHALL",), ("SELECT", "0"), ("SELECT", "1"),
    ("PUBLISH", "ch1", "m"), ("PUBLISH", "other", "m"), ("CONFIG", "GET", "hz"), ("PING",), ("SORT", "k1"),
    ("OBJECT", "ENCODING", "k1"), ("ZUNIONSTORE", "w1", "2", "k1", "r1"), ("ZUNIONSTORE", "k1", "2", "w1", "r1"),
    ("ZADD", "kz", "1", "a"), ("ZRANGESTORE", "w2", "kz", "0", "-1"), ("ZRANGESTORE", "kz", "r2", "0", "-1"),
    ("HSET", "kh", "f", "v"), ("HGET", "rh", "f"), ("INCR", "w3"), ("INCR", "k3"), ("STRLEN", "w3"),
    ("RENAME", "k3", "w9"), ("COPY", "k1", "w5"), ("COPY", "w1", "k5"), ("LMOVE", "k1", "w6", "LEFT", "RIGHT"),
    ("TYPE", "w1"), ("TTL", "w1"), ("EXPIRE", "w1", "100"), ("EXPIRE", "r1", "100"), ("DBSIZE",),
    ("ACL", "WHOAMI"), ("ACL", "LIST"), ("ACL", "DRYRUN", "u", "get", "x"), ("CLIENT", "ID"),
    ("GETRANGE", "k1", "0", "1"), ("APPEND", "w1", "x"), ("SETRANGE", "r1", "0", "x"), ("SUBSCRIBE", "ch1", "x"),
    ("PSUBSCRIBE", "pa*"), ("UNSUBSCRIBE", "nothing"), ("MULTI",), ("SET", "k1", "v"), ("SET", "x9", "v"),
    ("LPUSH", "k1", "x"), ("EXEC",), ("MULTI",), ("GET", "k1"), ("EXEC",), ("AUTH", "u", "wrong"),
    ("AUTH", "nosuch", "x"), ("AUTH", "u", "pw"), ("ACL", "WHOAMI"),
]


def _logs_comparable(log):
    """ACL LOG entries without the age, the client-info kept to cmd= and user=."""
    out = []
    for e in log:
        d = dict(zip(e[::2], e[1::2], strict=True))
        info = dict(f.split(b"=", 1) for f in d[b"client-info"].split(b" ") if b"=" in f)
        out.append((d[b"count"], d[b"reason"], d[b"context"], d[b"object"], d[b"username"], info[b"cmd"],
                    info[b"user"]))
    return out


def test_commands_as_a_restricted_user_like_redis(pair, hf, rr):
    a, b = pair
    for c in (a, b):
        assert c("ACL", "SETUSER", "u", *USER_RULES) == b"+OK\r\n"
        c("ACL", "LOG", "RESET")
    users = [RawConn(port_of(hf)), RawConn(port_of(rr))]
    try:
        for u in users:
            assert u("AUTH", "u", "pw") == b"+OK\r\n"
        for args in AS_USER:
            ours, theirs = users[0](*args), users[1](*args)
            assert ours == theirs, args
        assert _logs_comparable(a.parsed("ACL", "LOG", "100")) == _logs_comparable(b.parsed("ACL", "LOG", "100"))
        for args in AS_USER:
            if args[0] not in ("MULTI", "EXEC", "AUTH"):
                assert a("ACL", "DRYRUN", "u", *args) == b("ACL", "DRYRUN", "u", *args), args
    finally:
        for u in users:
            u.close()


def test_subscribers_as_a_restricted_user_like_redis(pair, hf, rr):
    a, b = pair
    for c in (a, b):
        c("ACL", "SETUSER", "s", "on", "nopass", "+@pubsub", "+ping", "&ch*", "&pat*")
    for proto in (2, 3):
        subs = [RawConn(port_of(hf), proto=proto), RawConn(port_of(rr), proto=proto)]
        try:
            for args in (("AUTH", "s", "x"), ("SUBSCRIBE", "x", "ch1"), ("SUBSCRIBE", "ch1", "ch2"),
                         ("PSUBSCRIBE", "pa*"), ("PSUBSCRIBE", "pat*"), ("PSUBSCRIBE", "pat*x"), ("PING",),
                         ("GET", "k"), ("PUBLISH", "ch1", "m"), ("UNSUBSCRIBE", "zz")):
                assert subs[0](*args) == subs[1](*args), (proto, args)
        finally:
            for s in subs:
                s.close()


def test_rules_changed_before_exec_like_redis(pair, hf, rr):
    """A command queued while allowed and refused by EXEC time answers
    Redis's 'ACLs rules changed' error in its slot; the log says multi."""
    a, b = pair
    for c in (a, b):
        c("ACL", "SETUSER", "m", "on", "nopass", "+@all", "~*", "&*")
        c("ACL", "LOG", "RESET")
    users = [RawConn(port_of(hf)), RawConn(port_of(rr))]
    try:
        out = []
        for u, adm in zip(users, (a, b), strict=True):
            out.append([u("AUTH", "m", "x"), u("MULTI"), u("SET", "k", "v"), u("GET", "k"), u("PUBLISH", "c", "m"),
                        u("PING"), adm("ACL", "SETUSER", "m", "-set", "resetkeys", "~z", "resetchannels"),
                        u("EXEC"), u("MULTI"), u("SET", "k", "v"), u("GET", "zz"), u("EXEC"), u("EXEC")])
        assert out[0] == out[1]
        assert out[0][7].count(b"-NOPERM ACLs rules changed") == 3
        assert _logs_comparable(a.parsed("ACL", "LOG")) == _logs_comparable(b.parsed("ACL", "LOG"))
    finally:
        for u in users:
            u.close()


def test_auth_like_redis(pair, hf, rr):
    a, b = pair
    for c in (a, b):
        c("ACL", "SETUSER", "on1", "on", ">pa", "+@all", "~*")
        c("ACL", "SETUSER", "off1", "off", ">pb", "+@all", "~*")
        c("ACL", "SETUSER", "open", "on", "nopass", "+@all")
        c("ACL", "SETUSER", "nopw", "on", "+@all")
    out = []
    for r in (hf, rr):
        c = RawConn(port_of(r))
        out.append([c(*args) for args in (
            ("AUTH", "on1", "pa"), ("ACL", "WHOAMI"), ("AUTH", "on1", "wrong"), ("ACL", "WHOAMI"),
            ("AUTH", "off1", "pb"), ("AUTH", "open", "anything"), ("ACL", "WHOAMI"), ("AUTH", "nopw", ""),
            ("AUTH", "nosuch", "x"), ("AUTH", "justone"), ("AUTH", "a", "b", "c"), ("HELLO", "2", "AUTH", "on1", "no"),
            ("HELLO", "2", "AUTH", "on1"), ("auth", "default", "x"), ("ACL", "WHOAMI"), ("CLIENT", "KILL", "USER", "x"),
            ("CLIENT", "KILL", "USER", "off1"))])
        c("HELLO", "2", "AUTH", "open", "x")
        out[-1].append(c("ACL", "WHOAMI"))
        out[-1].append(c.parsed("CLIENT", "INFO").split(b" user=")[1].split(b" ")[0])
        c.close()
    assert out[0] == out[1]
    assert out[0][-1] == b"open"
    assert _logs_comparable(a.parsed("ACL", "LOG")) == _logs_comparable(b.parsed("ACL", "LOG"))


def test_requirepass_is_the_default_users_password_like_redis(server):
    """CONFIG SET requirepass sets the default user's password (ACL LIST
    shows its hash), ACL SETUSER default nopass undoes it, and AUTH <pw>
    checks the default user's passwords, whichever way they were set.
    Runs on Holdfast and on redis-server alike."""
    c = RawConn(server.port)
    assert c("CONFIG", "SET", "requirepass", "pw1") == b"+OK\r\n"
    listed = c.parsed("ACL", "LIST")
    assert listed == [b"user default on #" + _sha(b"pw1") + b" ~* &* +@all"]
    fresh = RawConn(server.port)
    assert fresh("PING").startswith(b"-NOAUTH")
    assert fresh("AUTH", "pw1") == b"+OK\r\n"
    assert c("ACL", "SETUSER", "default", ">pw2") == b"+OK\r\n"
    other = RawConn(server.port)
    assert other("AUTH", "pw2") == b"+OK\r\n" and other("AUTH", "default", "pw1") == b"+OK\r\n"
    assert c("ACL", "SETUSER", "default", "nopass") == b"+OK\r\n"
    assert c("AUTH", "x").startswith(b"-ERR AUTH <password> called without any password configured")
    assert RawConn(server.port)("PING") == b"+PONG\r\n"
    assert c("CONFIG", "GET", "requirepass") == b"*2\r\n$11\r\nrequirepass\r\n$3\r\npw1\r\n"
    assert c("ACL", "SETUSER", "default", "off") == b"+OK\r\n"
    assert RawConn(server.port)("PING").startswith(b"-NOAUTH")  # a disabled default user needs AUTH
    assert c("PING") == b"+PONG\r\n"  # connections already in stay


def _sha(b):
    import hashlib  # noqa: PLC0415

    return hashlib.sha256(b).hexdigest().encode()


def test_slowlog_redacts_setuser_like_redis(hf, rr):
    out = []
    for r in (hf, rr):
        r.config_set("slowlog-log-slower-than", "0")
        r.slowlog_reset()
        try:
            c = RawConn(port_of(r))
            c("ACL", "SETUSER", "sl", "on", ">secret", "+@all")
            c("ACL", "SETUSER", "sl", "(~x", ">notpw)")
            c("AUTH", "sl", "secret")
            c("ACL", "DRYRUN", "sl", "get", "x")
            c("ACL", "DELUSER", "sl")
            entries = RawConn(port_of(r)).parsed("SLOWLOG", "GET", "-1")
            out.append([e[3] for e in reversed(entries)])
        finally:
            r.config_set("slowlog-log-slower-than", "10000")
            r.slowlog_reset()
    assert out[0] == out[1]
    assert not any(b"secret" in a for e in out[0] for a in e)


# ---- files: the aclfile, config `user` lines -------------------------------------------------

def _both(holdfast_factory, redis_factory, *args, files=None, start=True):
    out = []
    for factory in (holdfast_factory, redis_factory):
        srv = factory(*args, start=False)
        for name, text in (files or {}).items():
            with open(os.path.join(srv.workdir, name), "w") as f:
                f.write(text)
        out.append(srv.start() if start else srv)
    return out


def test_aclfile_save_load_round_trip_like_redis(holdfast_factory, redis_factory):
    text = "user alice on >apw ~a* &c* -@all +get +set\nuser default on nopass ~* &* +@all\n"
    servers = _both(holdfast_factory, redis_factory, "--aclfile", "users.acl", files={"users.acl": text})
    saved = []
    for srv in servers:
        c = RawConn(srv.port)
        assert c("ACL", "SETUSER", "bob", "on", ">bpw", "%R~r*", "+@read", "-@dangerous", "(~w* +set)") == b"+OK\r\n"
        assert c("ACL", "SAVE") == b"+OK\r\n"
        with open(os.path.join(srv.workdir, "users.acl"), "rb") as f:
            saved.append([canon(line) for line in f.read().splitlines()])
        assert c("ACL", "DELUSER", "bob") == b":1\r\n"
        assert c("ACL", "LOAD") == b"+OK\r\n"
        assert b"bob" in c("ACL", "USERS")
    assert saved[0] == saved[1]
    assert not [f for f in os.listdir(servers[0].workdir) if ".tmp-" in f]


BAD_FILES = {
    "several": "user bob on >bpw +@all ~*\n# comment\nuser bob off\nfoo bar\nuser al ice\n"
               "user x +nosuch >secretpw badop badop2 ~a\n",
    "empty_ok_lines": "\n\n   \nuser ok on\n\t\nbad\n",
    "username_space": "user a\tb on\n",
}


@pytest.mark.parametrize("name", sorted(BAD_FILES))
def test_acl_load_bad_file_like_redis(holdfast_factory, redis_factory, name):
    """ACL LOAD of a bad file answers the errors Redis answers and keeps
    every user as it was; the same file refuses the start with the same
    words in the log."""
    good = "user keep on >k +@all ~*\n"
    servers = _both(holdfast_factory, redis_factory, "--aclfile", "users.acl", files={"users.acl": good})
    replies = []
    for srv in servers:
        with open(os.path.join(srv.workdir, "users.acl"), "w") as f:
            f.write(BAD_FILES[name])
        c = RawConn(srv.port)
        replies.append(c("ACL", "LOAD"))
        assert canon(c.parsed("ACL", "LIST")[1]) == b"user keep on #%s ~* resetchannels +@all" % _sha(b"k")
    assert replies[0] == replies[1]
    assert replies[0].endswith(b"WARNING: ACL errors detected, no change to the previously active ACL rules was "
                               b"performed\r\n")
    assert b"secretpw" not in replies[0]
    refused = _both(holdfast_factory, redis_factory, "--aclfile", "users.acl", files={"users.acl": BAD_FILES[name]},
                    start=False)
    lines = []
    for srv in refused:
        srv.start(wait=False)
        assert srv.proc.wait(30) == 1
        lines.append(re.search(r"Aborting Redis startup because of ACL errors: .*", srv.log()).group(0))
    assert lines[0] == lines[1]


def test_missing_aclfile_refuses_start_like_redis(holdfast_factory, redis_factory):
    lines = []
    for srv in _both(holdfast_factory, redis_factory, "--aclfile", "none.acl", start=False):
        srv.start(wait=False)
        assert srv.proc.wait(30) == 1
        lines.append(re.search(r"Aborting Redis startup because of ACL errors: .*", srv.log()).group(0))
    assert lines[0] == lines[1] == ("Aborting Redis startup because of ACL errors: Error loading ACLs, opening "
                                    "file 'none.acl': No such file or directory")


@pytest.mark.parametrize("args, pattern", [
    (("--user", "bob", "on", "badop"), r"Error in user declaration .*"),
    (("--user", "bob", "on", "#abc"), r"Error in user declaration .*"),
    (("--user", "bob", "on", "--user", "bob", "off"), r"Error in user declaration .*"),
    (("--user", "bob", "on", "+nosuchcmd"), r"Error loading ACL rule .*"),
    (("--user", "bob", "on", "--aclfile", "users.acl"), r"Configuring Redis with users defined in redis.conf.*"),
])
def test_config_user_errors_like_redis(holdfast_factory, redis_factory, args, pattern):
    lines = []
    for srv in _both(holdfast_factory, redis_factory, *args, files={"users.acl": ""}, start=False):
        srv.start(wait=False)
        assert srv.proc.wait(30) == 1
        lines.append(re.search(pattern, srv.log()).group(0))
    assert lines[0] == lines[1]


def test_config_users_like_redis(holdfast_factory, redis_factory):
    args = ("--user", "bob", "on", ">bpw", "~b*", "+@hash", "--user", "default", "on", ">dpw", "~*", "+@all",
            "--user", "carol", "+get")
    lists = []
    for srv in _both(holdfast_factory, redis_factory, *args):
        c = RawConn(srv.port)
        assert c("PING").startswith(b"-NOAUTH")
        assert c("AUTH", "bob", "bpw") == b"+OK\r\n"
        assert c("HSET", "bh", "f", "v") == b":1\r\n"
        assert c("AUTH", "dpw") == b"+OK\r\n"
        lists.append([canon(x) for x in c.parsed("ACL", "LIST")])
    assert lists[0] == lists[1]


def test_acl_pubsub_default_allchannels_like_redis(holdfast_factory, redis_factory):
    lists = []
    for srv in _both(holdfast_factory, redis_factory, "--acl-pubsub-default", "allchannels"):
        c = RawConn(srv.port)
        c("ACL", "SETUSER", "n1", "on")
        c("ACL", "SETUSER", "n2", "resetchannels", "&x", "reset", "(+get)")
        lists.append([canon(x) for x in c.parsed("ACL", "LIST")])
    assert lists[0] == lists[1]
    assert b"user n1 on &* -@all" in lists[0]


def test_deluser_disconnects_like_redis(server):
    """DELUSER closes its user's connections (the caller's after the reply);
    SETUSER off/resetpass closes none. Runs on Holdfast and redis-server."""
    adm = RawConn(server.port)
    adm("ACL", "SETUSER", "d", "on", ">pw", "+@all", "~*")
    victim, selfdel, stays = RawConn(server.port), RawConn(server.port), RawConn(server.port)
    for c in (victim, selfdel, stays):
        assert c("AUTH", "d", "pw") == b"+OK\r\n"
    assert adm("ACL", "SETUSER", "d", "off", "resetpass") == b"+OK\r\n"
    assert stays("PING") == b"+PONG\r\n"
    assert adm("ACL", "SETUSER", "d", "on", ">pw", "-ping") == b"+OK\r\n"
    assert stays("PING") == b"-NOPERM this user has no permissions to run the 'ping' command\r\n"
    assert selfdel("ACL", "DELUSER", "d") == b":1\r\n"
    for c in (victim, selfdel, stays):
        with pytest.raises((ConnectionError, OSError)):
            c("PING")
    assert adm("PING") == b"+PONG\r\n"


def test_acl_load_disconnects_users_but_default_like_redis(holdfast_factory, redis_factory):
    text = "user f on >fpw +@all ~*\n"
    for srv in _both(holdfast_factory, redis_factory, "--aclfile", "users.acl", files={"users.acl": text}):
        dflt, fu, caller = RawConn(srv.port), RawConn(srv.port), RawConn(srv.port)
        assert fu("AUTH", "f", "fpw") == caller("AUTH", "f", "fpw") == b"+OK\r\n"
        assert caller("ACL", "LOAD") == b"+OK\r\n"  # the same file: users are still replaced
        for c in (fu, caller):
            with pytest.raises((ConnectionError, OSError)):
                c("PING")
        assert dflt("PING") == b"+PONG\r\n"
        again = RawConn(srv.port)
        assert again("AUTH", "f", "fpw") == b"+OK\r\n" and again("ACL", "WHOAMI") == b"$1\r\nf\r\n"


def test_config_rewrite_writes_users_like_redis(holdfast_factory, redis_factory):
    """CONFIG REWRITE puts the users where the file's `user` lines were (in
    name order), blanks the lines left over and appends the rest."""
    conf = "# top\nuser bob on >bpw ~* +@all\nhz 11\nuser old on\nuser older on\n"
    texts = []
    for make in (holdfast_factory, redis_factory):
        srv = make(config_text=conf)
        c = RawConn(srv.port)
        c("ACL", "SETUSER", "carol", "on", ">c", "+get", "+set")
        c("ACL", "SETUSER", "zed")
        c("ACL", "DELUSER", "old", "older")
        assert c("CONFIG", "REWRITE") == b"+OK\r\n"
        lines = open(srv.conf_path).read().splitlines()
        cut = lines.index("# Generated by CONFIG REWRITE")
        texts.append(([canon(x.encode()).decode() for x in lines[:cut]],
                      [x for x in lines[cut:] if x.startswith("user ")]))
        srv.stop()
        srv.config_text = None
        srv.start()  # the rewritten file starts, with the same users
        assert RawConn(srv.port)("AUTH", "carol", "c") == b"+OK\r\n"
    assert texts[0] == texts[1]
    assert texts[0][0][:6] == ["# top", "user bob on #%s ~* resetchannels +@all" % _sha(b"bpw").decode(), "hz 11",
                               "user carol on #%s resetchannels -@all +get +set" % _sha(b"c").decode(),
                               "user default on nopass ~* &* +@all", ""]
    assert texts[0][1] == ["user zed off resetchannels -@all"]


def test_random_rule_sequences_describe_like_redis(pair):
    """Random mixes of categories, commands, subcommands and first-args (a
    fixed seed): ACL LIST's summary must be Redis's every time."""
    import random  # noqa: PLC0415

    a, b = pair
    rng = random.Random(7)
    cats = [x.decode() for x in a.parsed("ACL", "CAT")]
    names = ["get", "set", "config", "config|get", "config|set", "client|list", "client", "hset", "hdel", "keys",
             "flushall", "xadd", "geoadd", "pfadd", "eval", "subscribe", "publish", "info", "sort", "del",
             "object|encoding", "command|docs", "acl|whoami", "memory|usage", "select", "debug", "lpush", "zadd"]
    for i in range(150):
        rules = []
        for _ in range(rng.randint(1, 8)):
            k = rng.random()
            if k < 0.4:
                rules.append(rng.choice("+-") + "@" + rng.choice(cats + ["all"]))
            elif k < 0.85:
                rules.append(rng.choice("+-") + rng.choice(names))
            else:
                rules.append("+%s|%s" % (rng.choice(["select", "debug", "keys"]), rng.choice(["0", "1", "object"])))
        user = "r%d" % i
        assert a("ACL", "SETUSER", user, *rules) == b("ACL", "SETUSER", user, *rules), rules
        ours = canon(a.parsed("ACL", "GETUSER", user)[5])
        theirs = canon(b.parsed("ACL", "GETUSER", user)[5])
        assert ours == theirs, rules
