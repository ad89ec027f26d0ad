"""Connection and client commands: CLIENT ID/SETNAME/GETNAME/LIST/INFO/KILL/
REPLY/NO-EVICT/SETINFO, RESET, ECHO, QUIT, TIME, LASTSAVE, ROLE, MONITOR,
SLOWLOG. Error texts are compared with Debian's redis-server 7.0."""

import re
import socket
import time

import pytest
import redis
from rawresp import RawConn

LIST_FIELDS = ["id", "addr", "laddr", "fd", "name", "age", "idle", "flags", "db", "sub", "psub", "ssub", "multi",
               "qbuf", "qbuf-free", "argv-mem", "multi-mem", "rbs", "rbp", "obl", "oll", "omem", "tot-mem",
               "events", "cmd", "user", "redir", "resp"]


def port_of(r):
    return r.connection_pool.connection_kwargs["port"]


def _err(r, *args):
    with pytest.raises(redis.ResponseError) as e:
        r.execute_command(*args)
    return str(e.value)


def same_error(hf, rr, *args):
    ours, theirs = _err(hf, *args), _err(rr, *args)
    assert ours == theirs, args
    return ours


def text(v):
    return v.decode() if isinstance(v, bytes) else v


def parse_line(line):
    line = text(line)
    out = []
    for tok in line.split(" "):
        k, _, v = tok.partition("=")
        out.append((k, v))
    return out


def raw(port, payload, wait=0.3):
    """Send bytes, read whatever comes back within `wait` seconds."""
    s = socket.create_connection(("127.0.0.1", port))
    s.sendall(payload)
    s.settimeout(wait)
    data = b""
    try:
        while True:
            chunk = s.recv(65536)
            if not chunk:
                break
            data += chunk
    except socket.timeout:
        pass
    s.close()
    return data


# ---- CLIENT ID / SETNAME / GETNAME / SETINFO ------------------------------------------------

def test_client_id_and_names(hf, hf_server):
    other = hf_server.client()
    a, b = hf.client_id(), other.client_id()
    assert a != b and a > 0 and b > 0
    assert hf.client_getname() is None
    assert hf.client_setname("worker-1")
    assert hf.client_getname() == "worker-1"
    assert other.client_getname() is None
    assert hf.execute_command("CLIENT", "SETNAME", "")  # an empty name clears it
    assert hf.client_getname() is None
    other.close()


@pytest.mark.parametrize("name", ["a b", "a\nb", "tab\tx", "é"])
def test_setname_refuses_special_characters(hf, rr, name):
    assert same_error(hf, rr, "CLIENT", "SETNAME", name) == \
        "Client names cannot contain spaces, newlines or special characters."


def test_client_errors_match_redis(hf, rr):
    cases = [("CLIENT", "SETNAME"), ("CLIENT", "FOO"), ("CLIENT", "KILL", "1.2.3.4:5"),
             ("CLIENT", "KILL", "ID", "abc"), ("CLIENT", "KILL", "FOO", "bar"), ("CLIENT", "KILL", "TYPE", "foo"),
             ("CLIENT", "KILL", "TYPE", "normal", "SKIPME", "maybe"), ("CLIENT", "KILL", "USER", "nobody"),
             ("CLIENT", "KILL", "ID", "1", "ID"), ("CLIENT", "REPLY", "foo"), ("CLIENT", "NO-EVICT", "maybe"),
             ("CLIENT", "NO-EVICT"), ("CLIENT", "LIST", "TYPE", "foo"), ("CLIENT", "LIST", "ID", "abc"),
             ("CLIENT", "LIST", "foo"), ("CLIENT", "INFO", "x"), ("CLIENT", "UNBLOCK", "abc"),
             ("CLIENT", "ID", "x"), ("CLIENT", "GETNAME", "x"), ("CLIENT", "UNBLOCK", "1", "timeout", "x"),
             ("CLIENT", "UNBLOCK", "1", "foo"), ("CLIENT", "KILL", "ID", "0"), ("CLIENT", "KILL", "ADDR"),
             ("CLIENT", "LIST", "ID"), ("CLIENT", "REPLY", "on", "x"), ("CLIENT", "SETNAME", "x", "y"),
             ("ECHO",), ("ECHO", "a", "b"), ("TIME", "x"),
             ("ROLE", "x"), ("LASTSAVE", "x"), ("RESET", "x"), ("MONITOR", "x")]
    for args in cases:
        same_error(hf, rr, *args)


def test_client_setinfo(hf, hf_server):
    assert hf.execute_command("CLIENT", "SETINFO", "lib-name", "mylib")
    assert hf.execute_command("CLIENT", "SETINFO", "LIB-VER", "1.2.3")
    info = hf.client_info()
    assert info["lib-name"] == "mylib" and info["lib-ver"] == "1.2.3"
    assert _err(hf, "CLIENT", "SETINFO", "lib-name", "a b") == \
        "lib-name cannot contain spaces, newlines or special characters."
    assert _err(hf, "CLIENT", "SETINFO", "foo", "bar") == "Unrecognized option 'foo'"


# ---- CLIENT LIST / INFO --------------------------------------------------------------------

def test_client_list_fields(hf, hf_server):
    hf.client_setname("lister")
    hf.execute_command("SELECT", 2)
    lines = text(hf.execute_command("CLIENT", "LIST")).strip("\n").split("\n")
    mine = [ln for ln in lines if " name=lister " in ln]
    assert len(mine) == 1
    fields = parse_line(mine[0])
    names = [k for k, _ in fields]
    assert names[:len(LIST_FIELDS)] == LIST_FIELDS
    d = dict(fields)
    assert d["id"] == str(hf.client_id())
    assert re.fullmatch(r"127\.0\.0\.1:\d+", d["addr"])
    assert d["laddr"] == "127.0.0.1:%d" % port_of(hf)
    assert d["db"] == "2"
    assert d["flags"] == "N"
    assert d["cmd"] == "client|list"
    assert d["user"] == "default"
    assert d["multi"] == "-1"
    assert int(d["age"]) >= 0 and int(d["idle"]) >= 0


def test_client_list_like_redis(hf, rr):
    """The same field names in the same order as Redis 7.0 (Holdfast adds
    lib-name/lib-ver, which came with CLIENT SETINFO in 7.2)."""
    ours = parse_line(hf.execute_command("CLIENT", "INFO").strip())
    theirs = parse_line(rr.execute_command("CLIENT", "INFO").strip())
    assert [k for k, _ in ours][:len(theirs)] == [k for k, _ in theirs]
    assert dict(ours)["cmd"] == dict(theirs)["cmd"] == "client|info"


def test_client_list_filters(hf, hf_server):
    other = hf_server.client()
    oid = other.client_id()
    mid = hf.client_id()
    listing = text(hf.execute_command("CLIENT", "LIST", "ID", oid, mid, 999999))
    ids = sorted(int(dict(parse_line(ln))["id"]) for ln in listing.strip().split("\n"))
    assert ids == sorted([oid, mid])
    assert text(hf.execute_command("CLIENT", "LIST", "TYPE", "pubsub")) == ""
    p = other.pubsub()
    p.subscribe("ch")
    p.get_message(timeout=1)
    lines = text(hf.execute_command("CLIENT", "LIST", "TYPE", "pubsub")).strip().split("\n")
    assert len(lines) == 1 and " sub=1 " in lines[0] and " flags=P " in lines[0]
    assert text(hf.execute_command("CLIENT", "LIST", "TYPE", "replica")) == ""
    p.close()
    other.close()


def test_fresh_client_shows_cmd_null(hf, hf_server):
    s = socket.create_connection(("127.0.0.1", hf_server.port))
    try:
        deadline = time.time() + 5
        while True:  # until the server has accepted it
            listing = text(hf.execute_command("CLIENT", "LIST"))
            cmds = [dict(parse_line(ln))["cmd"] for ln in listing.strip().split("\n")]
            if "NULL" in cmds or time.time() > deadline:
                break
            time.sleep(0.01)
        assert "NULL" in cmds
    finally:
        s.close()


def test_client_info(hf):
    info = hf.client_info()
    assert info["id"] == hf.client_id()
    assert info["db"] == 0
    assert info["cmd"] == "client|info"


# ---- CLIENT KILL --------------------------------------------------------------------------

class Victim:
    """A raw connection whose closing by the server can be seen (redis-py
    would quietly reconnect)."""

    def __init__(self, port):
        self.conn = RawConn(port)
        self.id = self.conn.parsed("CLIENT", "ID")
        info = text(self.conn.parsed("CLIENT", "INFO"))
        self.addr = dict(parse_line(info.strip()))["addr"]

    def killed(self):
        try:
            return self.conn("PING") != b"+PONG\r\n"
        except (ConnectionError, OSError):
            return True


def test_kill_old_form_by_addr(hf, hf_server):
    victim = Victim(hf_server.port)
    assert hf.execute_command("CLIENT", "KILL", victim.addr) in (b"OK", "OK", True)
    assert victim.killed()
    assert _err(hf, "CLIENT", "KILL", victim.addr) == "No such client"


def test_kill_by_id_addr_laddr(hf, hf_server):
    v1, v2, v3 = Victim(hf_server.port), Victim(hf_server.port), Victim(hf_server.port)
    assert hf.execute_command("CLIENT", "KILL", "ID", v1.id) == 1
    assert v1.killed() and not v2.killed()
    assert hf.execute_command("CLIENT", "KILL", "ADDR", v2.addr) == 1
    assert v2.killed()
    assert hf.execute_command("CLIENT", "KILL", "ID", 999999) == 0
    # LADDR: every client connected to this listening address but the caller
    laddr = "127.0.0.1:%d" % hf_server.port
    assert hf.execute_command("CLIENT", "KILL", "LADDR", laddr) >= 1
    assert v3.killed()
    assert hf.ping()  # SKIPME yes by default


def test_kill_type_user_skipme(hf, hf_server):
    v = Victim(hf_server.port)
    assert hf.execute_command("CLIENT", "KILL", "TYPE", "pubsub") == 0
    assert hf.execute_command("CLIENT", "KILL", "TYPE", "normal", "USER", "default") >= 1
    assert v.killed()
    assert hf.ping()
    me = Victim(hf_server.port)
    assert me.conn("CLIENT", "KILL", "ID", me.id, "SKIPME", "yes") == b":0\r\n"
    assert me.conn("CLIENT", "KILL", "ID", me.id, "SKIPME", "no") == b":1\r\n"  # replies, then closes
    assert me.killed()


# ---- CLIENT REPLY / NO-EVICT ----------------------------------------------------------------

def test_client_reply_off_skip_on(hf_server, rr):
    for port in (hf_server.port, port_of(rr)):
        data = raw(port, b"CLIENT REPLY OFF\r\nSET a 1\r\nPING\r\nCLIENT REPLY ON\r\nGET a\r\n"
                         b"CLIENT REPLY SKIP\r\nPING\r\nECHO x\r\n")
        assert data == b"+OK\r\n$1\r\n1\r\n$1\r\nx\r\n", port


def test_client_no_evict(hf):
    assert hf.execute_command("CLIENT", "NO-EVICT", "on")
    assert "e" in hf.client_info()["flags"]
    assert hf.execute_command("CLIENT", "NO-EVICT", "OFF")
    assert "e" not in hf.client_info()["flags"]


# ---- RESET, ECHO, QUIT, TIME, LASTSAVE, ROLE -----------------------------------------------

def test_reset(hf_server, rr):
    payload = (b"CLIENT SETNAME n1\r\nSELECT 3\r\nMULTI\r\nSET a 1\r\nRESET\r\n"
               b"CLIENT GETNAME\r\nGET a\r\nCLIENT INFO\r\n")
    for port in (hf_server.port, port_of(rr)):
        data = raw(port, payload)
        head = b"+OK\r\n+OK\r\n+OK\r\n+QUEUED\r\n+RESET\r\n$-1\r\n$-1\r\n"
        assert data.startswith(head), (port, data)
        assert b" db=0 " in data and b" multi=-1 " in data and b" resp=2" in data


@pytest.mark.parametrize("payload", [
    b"CLIENT REPLY SKIP\r\nRESET\r\nPING\r\n", b"CLIENT REPLY OFF\r\nRESET\r\nPING\r\n",
    b"MONITOR\r\nRESET\r\nCLIENT INFO\r\n", b"CLIENT NO-EVICT on\r\nRESET\r\nCLIENT INFO\r\n",
    b"WATCH k\r\nRESET\r\nCLIENT INFO\r\n", b"AUTH x\r\nRESET\r\nPING\r\n",
])
def test_reset_states_like_redis(hf_server, rr, payload):
    strip = re.compile(rb"id=\d+ addr=\S+ laddr=\S+ fd=\d+ |age=\d+ idle=\d+ |qbuf=.*?events"
                       rb"| lib-name=\S* lib-ver=\S*|\$\d+\r\n")
    ours, theirs = (strip.sub(b"", raw(p, payload)) for p in (hf_server.port, port_of(rr)))
    assert ours == theirs


def test_reset_leaves_resp3_and_subscriptions(hf_server):
    conn = RawConn(hf_server.port, proto=3)
    conn("SUBSCRIBE", "ch")
    assert conn("RESET") == b"+RESET\r\n"
    assert conn("PING") == b"+PONG\r\n"  # not in subscribed mode any more
    assert conn("CLIENT", "INFO").count(b" resp=2") == 1
    conn.close()


def test_echo_quit(hf_server, rr):
    for port in (hf_server.port, port_of(rr)):
        assert raw(port, b"ECHO hello\r\nECHO \"\"\r\nQUIT\r\nPING\r\n") == b"$5\r\nhello\r\n$0\r\n\r\n+OK\r\n"


def test_time(hf):
    sec, usec = hf.execute_command("TIME")
    assert abs(int(sec) - time.time()) < 5
    assert 0 <= int(usec) < 1_000_000
    t = hf.time()
    assert isinstance(t[0], int) and isinstance(t[1], int)


def test_lastsave(hf):
    ts = hf.lastsave()
    assert abs(ts.timestamp() - time.time()) < 3600 * 24


def test_role_master(hf, rr):
    assert hf.execute_command("ROLE") == rr.execute_command("ROLE")
    assert raw(port_of(hf), b"ROLE\r\n") == raw(port_of(rr), b"ROLE\r\n") == b"*3\r\n$6\r\nmaster\r\n:0\r\n*0\r\n"


# ---- MONITOR ------------------------------------------------------------------------------

MONITOR_LINE = re.compile(r'^\+(\d+\.\d{6}) \[(\d+) (127\.0\.0\.1:\d+)\] (.*)\r$')


def _monitor_lines(port, commands):
    mon = socket.create_connection(("127.0.0.1", port))
    mon.settimeout(5)
    mon.sendall(b"MONITOR\r\n")
    assert mon.recv(5) == b"+OK\r\n"
    conn = RawConn(port)  # no client handshake to show up in the stream
    for args in commands:
        conn(*args)
    conn("ECHO", "end-of-test")
    conn.close()
    data = b""
    while b'"end-of-test"' not in data:
        chunk = mon.recv(65536)
        assert chunk
        data += chunk
    mon.close()
    return data.decode().split("\n")[:-1]


def test_monitor_format_like_redis(hf, rr):
    cmds = [("SET", "k", 'va"l\n'), ("SELECT", "5"), ("GET", "k"), ("AUTH", "pw"), ("CONFIG", "GET", "hz"),
            ("INCR", "k"), ("GET",), ("NOSUCH",), ("ECHO", b"\x00\xff"), ("MULTI",), ("SET", "a", "1"),
            ("SELECT", "2"), ("INCR", "a"), ("EXEC",), ("MULTI",), ("GET",), ("EXEC",), ("SELECT", "0"),
            ("HELLO", "2", "AUTH", "default", "pw"), ("CLIENT", "SETNAME", "x"), ("DEBUG", "SLEEP", "0"),
            ("PING",), ("LPUSH", "l", "x"), ("BLPOP", "l", "0"), ("CLIENT", "LIST"), ("SLOWLOG", "LEN"),
            ("MULTI",), ("DISCARD",), ("WATCH", "a"), ("UNWATCH",)]
    out = {}
    for name, r in (("ours", hf), ("theirs", rr)):
        lines = _monitor_lines(port_of(r), cmds)
        parsed = []
        for ln in lines:
            m = MONITOR_LINE.match(ln)
            assert m, ln
            assert abs(float(m.group(1)) - time.time()) < 60
            parsed.append((m.group(2), m.group(4)))
        out[name] = parsed
    assert out["ours"] == out["theirs"]
    assert ("0", r'"SET" "k" "va\"l\n"') in out["ours"]


def test_monitor_client_shown_in_list(hf, hf_server):
    mon = socket.create_connection(("127.0.0.1", hf_server.port))
    mon.sendall(b"MONITOR\r\n")
    mon.settimeout(5)
    assert mon.recv(5) == b"+OK\r\n"
    listing = text(hf.execute_command("CLIENT", "LIST"))
    assert any(" flags=O " in ln for ln in listing.strip().split("\n"))
    mon.close()


# ---- SLOWLOG ------------------------------------------------------------------------------

def test_slowlog(hf):
    hf.slowlog_reset()
    old = hf.config_get("slowlog-log-slower-than")["slowlog-log-slower-than"]
    hf.config_set("slowlog-log-slower-than", "0")
    try:
        hf.client_setname("slowpoke")
        hf.set("foo", "bar")
        hf.execute_command("SLOWLOG", "LEN")
        entries = hf.execute_command("SLOWLOG", "GET", "-1")
        n = hf.slowlog_len()
        assert n >= 3
        first = entries[0]
        assert len(first) == 6
        eid, ts, dur, args, addr, name = first
        assert args == [b"SLOWLOG", b"LEN"] or args == ["SLOWLOG", "LEN"]
        assert abs(ts - time.time()) < 60 and dur >= 0
        assert re.fullmatch(rb"127\.0\.0\.1:\d+", addr if isinstance(addr, bytes) else addr.encode())
        assert name in (b"slowpoke", "slowpoke")
        ids = [e[0] for e in entries]
        assert ids == sorted(ids, reverse=True)
        set_entry = [e for e in entries if e[3][:1] in ([b"SET"], ["SET"])][0]
        assert set_entry[3] in ([b"SET", b"foo", b"bar"], ["SET", "foo", "bar"])
        assert len(hf.execute_command("SLOWLOG", "GET", "1")) == 1
        n = hf.slowlog_len()
        assert len(hf.execute_command("SLOWLOG", "GET")) == min(10, n + 1)  # + the LEN just logged
        assert hf.slowlog_reset()
        assert hf.slowlog_len() <= 1  # only RESET's own entry at most
    finally:
        hf.config_set("slowlog-log-slower-than", old)


def test_slowlog_max_len_and_long_args(hf):
    hf.slowlog_reset()
    hf.config_set("slowlog-max-len", "3")
    hf.config_set("slowlog-log-slower-than", "0")
    try:
        for i in range(10):
            hf.set("k%d" % i, "v")
        hf.execute_command("ECHO", "x" * 200)
        hf.execute_command("DEL", *["a%d" % i for i in range(40)])
        entries = hf.execute_command("SLOWLOG", "GET", "-1")
        assert len(entries) == 3
        del_args = [e[3] for e in entries if e[3][0] in (b"DEL", "DEL")][0]
        assert len(del_args) == 32  # 31 arguments and "... (10 more arguments)"
        assert del_args[-1] in (b"... (10 more arguments)", "... (10 more arguments)")
        echo_args = [e[3] for e in entries if e[3][0] in (b"ECHO", "ECHO")][0]
        assert echo_args[1] in (b"x" * 128 + b"... (72 more bytes)", "x" * 128 + "... (72 more bytes)")
    finally:
        hf.config_set("slowlog-log-slower-than", "10000")
        hf.config_set("slowlog-max-len", "128")
        hf.slowlog_reset()


def test_slowlog_errors_and_help_match_redis(hf, rr):
    for args in (("SLOWLOG", "GET", "-2"), ("SLOWLOG", "GET", "abc"), ("SLOWLOG", "FOO"), ("SLOWLOG", "LEN", "x"),
                 ("SLOWLOG", "GET", "1", "2"), ("SLOWLOG",)):
        same_error(hf, rr, *args)
    assert hf.execute_command("SLOWLOG", "HELP") == rr.execute_command("SLOWLOG", "HELP")
    assert hf.execute_command("CLIENT", "HELP") == rr.execute_command("CLIENT", "HELP")


def test_slowlog_not_logging_with_minus_one(hf):
    hf.slowlog_reset()
    hf.config_set("slowlog-log-slower-than", "-1")
    try:
        hf.set("a", "1")
        assert hf.slowlog_len() == 0
    finally:
        hf.config_set("slowlog-log-slower-than", "10000")


def test_tracking_info_without_tracking(hf, rr):
    """CLIENT TRACKING is not implemented; GETREDIR/TRACKINGINFO answer as
    Redis does for a connection that does not track."""
    for proto in (2, 3):
        a, b = RawConn(port_of(hf), proto=proto), RawConn(port_of(rr), proto=proto)
        for args in (("CLIENT", "TRACKINGINFO"), ("CLIENT", "GETREDIR"), ("CLIENT", "GETREDIR", "x")):
            assert a(*args) == b(*args), (proto, args)
        a.close()
        b.close()


def test_requirepass_set_at_runtime(holdfast_factory, redis_factory):
    """CONFIG SET requirepass: connections already open stay
    authenticated, new ones need AUTH; clearing it opens the door again."""
    replies = []
    for srv in (holdfast_factory(), redis_factory()):
        old = RawConn(srv.port)
        out = [old("CONFIG", "SET", "requirepass", "pw"), old("PING")]
        new = RawConn(srv.port)
        out += [new("PING"), new("AUTH", "nope"), new("AUTH", "pw"), new("PING")]
        fresh = RawConn(srv.port)
        out += [fresh("AUTH", "default", "pw"), old("CONFIG", "SET", "requirepass", "")]
        out += [RawConn(srv.port)("PING")]
        replies.append(out)
    assert replies[0] == replies[1]
    assert replies[0][2].startswith(b"-NOAUTH")


def test_slowlog_entries_like_redis(hf, rr):
    """The same commands leave the same argument lists (truncated alike,
    AUTH/HELLO/CONFIG SET secrets redacted as Redis does) and names."""
    out = []
    for r in (hf, rr):
        r.config_set("slowlog-log-slower-than", "0")
        r.slowlog_reset()
        try:
            conn = RawConn(port_of(r))
            conn("CLIENT", "SETNAME", "cmp")
            conn("SET", "k", "v" * 300)
            conn("DEL", *["a%d" % i for i in range(40)])
            conn("AUTH", "secret")
            conn("HELLO", "2", "AUTH", "default", "pw")
            conn("CONFIG", "SET", "masterauth", "hidden")
            conn("GET", "k")
            entries = conn.parsed("SLOWLOG", "GET", "-1")
            conn.close()
            out.append([(e[3], e[5]) for e in reversed(entries)])
        finally:
            r.config_set("slowlog-log-slower-than", "10000")
            r.config_set("masterauth", "")
            r.slowlog_reset()
    assert out[0] == out[1]


@pytest.mark.parametrize("setup", [
    [("MULTI",)], [("MULTI",), ("SET", "a", "1")], [("CLIENT", "NO-EVICT", "on")], [("SUBSCRIBE", "c")],
    [("PSUBSCRIBE", "p*")], [("BLPOP", "nolist", "0")], [("WATCH", "a")], [("CLIENT", "REPLY", "OFF")],
    [("MONITOR",)], [("SELECT", "3")], [("HELLO", "3"), ("SUBSCRIBE", "c")], [("CONFIG", "GET", "hz")],
    [("SLOWLOG", "LEN")], [("COMMAND", "COUNT")], [("CLIENT", "SETNAME", "abc")],
])
def test_client_list_state_like_redis(hf, rr, setup):
    """Another client's line (flags, multi, cmd, sub/psub, db, resp, name)
    after the same commands, as Redis shows it."""
    want = ("flags", "multi", "cmd", "sub", "psub", "db", "resp", "name")
    seen = []
    for r in (hf, rr):
        conn, lister = RawConn(port_of(r)), RawConn(port_of(r))
        cid = conn.parsed("CLIENT", "ID")
        for args in setup:
            conn.sock.sendall(b"".join([b"*%d\r\n" % len(args)] + [b"$%d\r\n%s\r\n" % (len(a), a.encode())
                                                                    for a in args]))
        expected = setup[-1][0].lower()
        deadline = time.time() + 5
        while True:  # until the server has run the last command
            line = dict(parse_line(text(lister.parsed("CLIENT", "LIST", "ID", cid)).strip()))
            # cmd=client|id until the server ran the setup (CLIENT NO-EVICT is client|no-evict)
            if (line["cmd"].split("|")[0] == expected and line["cmd"] != "client|id") or time.time() > deadline:
                break
            time.sleep(0.01)
        seen.append({k: line[k] for k in want})
        conn.close()
        lister.close()
    assert seen[0] == seen[1]


def test_kill_clients_in_special_states(hf, hf_server):
    """Killing a blocked, a subscribed, a MONITOR and a MULTI client leaves
    the server consistent: nothing is served to the dead, others go on."""
    victims = {}
    for state, payload in (("blocked", b"BLPOP klist 0\r\n"), ("sub", b"SUBSCRIBE kch\r\n"),
                           ("monitor", b"MONITOR\r\n"), ("multi", b"MULTI\r\nSET kx 1\r\n")):
        v = Victim(hf_server.port)
        v.conn.sock.sendall(payload)
        victims[state] = v
    deadline = time.time() + 5
    while hf.info("clients")["blocked_clients"] != 1:
        assert time.time() < deadline
        time.sleep(0.01)
    for v in victims.values():
        assert hf.execute_command("CLIENT", "KILL", "ID", v.id) == 1
    assert hf.info("clients")["blocked_clients"] == 0
    assert hf.rpush("klist", "a") == 1  # nobody takes it
    assert hf.lrange("klist", 0, -1) == [b"a"]
    assert hf.publish("kch", "m") == 0
    assert hf.get("kx") is None
    listing = text(hf.execute_command("CLIENT", "LIST"))
    assert all(" flags=O " not in ln for ln in listing.split("\n"))
    assert hf.ping()
