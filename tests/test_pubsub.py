"""Pub/sub over real sockets, in RESP2 and RESP3, and keyspace notifications."""

import socket
import time

import pytest


def raw(port):
    s = socket.create_connection(("127.0.0.1", port))
    s.settimeout(3)
    return s


def read_until(s, suffix, limit=1 << 20):
    buf = b""
    while not buf.endswith(suffix):
        chunk = s.recv(65536)
        assert chunk, buf
        buf += chunk
        assert len(buf) < limit
    return buf


def test_subscribe_publish_resp2(hf_server):
    s = raw(hf_server.port)
    s.sendall(b"SUBSCRIBE news sport\r\n")
    assert read_until(s, b":2\r\n") == (b"*3\r\n$9\r\nsubscribe\r\n$4\r\nnews\r\n:1\r\n"
                                        b"*3\r\n$9\r\nsubscribe\r\n$5\r\nsport\r\n:2\r\n")
    pub = hf_server.client()
    assert pub.publish("news", "hello") == 1
    assert pub.publish("nobody", "x") == 0
    assert read_until(s, b"hello\r\n") == b"*3\r\n$7\r\nmessage\r\n$4\r\nnews\r\n$5\r\nhello\r\n"
    # Only pub/sub commands are allowed in RESP2 subscriber mode.
    s.sendall(b"GET x\r\n")
    assert read_until(s, b"\r\n").startswith(b"-ERR Can't execute 'get'")
    s.sendall(b"PING\r\n")
    assert read_until(s, b"$0\r\n\r\n") == b"*2\r\n$4\r\npong\r\n$0\r\n\r\n"
    s.sendall(b"UNSUBSCRIBE\r\n")
    out = read_until(s, b":0\r\n")
    assert out.count(b"unsubscribe") == 2
    s.sendall(b"GET x\r\n")
    assert read_until(s, b"\r\n") == b"$-1\r\n"
    s.close()


def test_psubscribe_and_resp3_push(hf_server):
    s = raw(hf_server.port)
    s.sendall(b"HELLO 3\r\n")
    read_until(s, b"modules\r\n*0\r\n")
    s.sendall(b"PSUBSCRIBE n*\r\n")
    assert read_until(s, b":1\r\n") == b">3\r\n$10\r\npsubscribe\r\n$2\r\nn*\r\n:1\r\n"
    pub = hf_server.client()
    assert pub.publish("news", "m") == 1
    assert read_until(s, b"$1\r\nm\r\n") == b">4\r\n$8\r\npmessage\r\n$2\r\nn*\r\n$4\r\nnews\r\n$1\r\nm\r\n"
    # RESP3 subscribers may run any command.
    s.sendall(b"GET missing\r\n")
    assert read_until(s, b"_\r\n") == b"_\r\n"
    s.close()


def test_pubsub_introspection(hf_server):
    a = raw(hf_server.port)
    a.sendall(b"SUBSCRIBE c1 c2\r\nPSUBSCRIBE p*\r\n")
    read_until(a, b":3\r\n")
    r = hf_server.client(protocol=2)
    assert sorted(r.pubsub_channels()) == [b"c1", b"c2"]
    assert r.pubsub_channels("c1") == [b"c1"]
    assert r.pubsub_numsub("c1", "zz") == [(b"c1", 1), (b"zz", 0)]
    assert r.pubsub_numpat() == 1
    a.close()
    time.sleep(0.2)
    assert r.pubsub_channels() == []
    assert r.pubsub_numpat() == 0


def test_unsubscribe_without_subscriptions(hf_server):
    s = raw(hf_server.port)
    s.sendall(b"UNSUBSCRIBE\r\n")
    assert read_until(s, b":0\r\n") == b"*3\r\n$11\r\nunsubscribe\r\n$-1\r\n:0\r\n"
    s.close()


@pytest.mark.parametrize("flags,expect", [
    ("KEA", {b"__keyspace@0__:k": b"set", b"__keyevent@0__:set": b"k"}),
    ("E$", {b"__keyevent@0__:set": b"k"}),
    ("K$", {b"__keyspace@0__:k": b"set"}),
    ("Kg", {}),
])
def test_keyspace_notifications(hf_server, flags, expect):
    r = hf_server.client()
    r.config_set("notify-keyspace-events", flags)
    try:
        s = raw(hf_server.port)
        s.sendall(b"PSUBSCRIBE __key*__:*\r\n")
        read_until(s, b":1\r\n")
        r.set("k", "v")
        r.publish("sync", "x")  # a marker: nothing after it is ours
        got = {}
        s.settimeout(0.5)
        buf = b""
        try:
            while True:
                chunk = s.recv(65536)
                if not chunk:
                    break
                buf += chunk
        except socket.timeout:
            pass
        parts = buf.split(b"*4\r\n")
        for p in parts[1:]:
            fields = p.split(b"\r\n")
            got[fields[5]] = fields[7]
        assert got == expect
        s.close()
    finally:
        r.config_set("notify-keyspace-events", "")


def test_expired_event(hf_server):
    r = hf_server.client()
    r.config_set("notify-keyspace-events", "Ex")
    try:
        p = r.pubsub()
        p.subscribe("__keyevent@0__:expired")
        assert p.get_message(timeout=1)["type"] == "subscribe"
        r.set("short", "v", px=10)
        time.sleep(0.05)
        assert r.get("short") is None
        msg = p.get_message(timeout=2)
        assert msg and msg["data"] == b"short"
        p.close()
    finally:
        r.config_set("notify-keyspace-events", "")


# ---- differential tests against redis-server ------------------------------------

def _events_per_command(port, flags, script):
    """Run `script` on one connection with notify-keyspace-events `flags`
    while another connection PSUBSCRIBEs to every keyspace channel; returns
    [(reply bytes, [(channel, message), ...]), ...]. After each command a
    PUBLISH on a marker channel (which the subscriber also listens to)
    closes that command's events, so nothing is timed."""
    from rawresp import RawConn, parse, reply_end

    c = RawConn(port)
    c("FLUSHALL")
    c("CONFIG", "SET", "notify-keyspace-events", flags)
    sub = RawConn(port)
    sub("PSUBSCRIBE", "__key*__:*")
    sub("SUBSCRIBE", "marker")
    out = []
    try:
        for cmd in script:
            reply = c(*cmd)
            c("PUBLISH", "marker", "end")
            events = []
            while True:
                end = reply_end(sub.buf, 0)
                while end is None:
                    chunk = sub.sock.recv(65536)
                    assert chunk, "subscriber connection closed"
                    sub.buf += chunk
                    end = reply_end(sub.buf, 0)
                msg, sub.buf = parse(sub.buf[:end]), sub.buf[end:]
                if msg[0] == b"message":
                    break
                events.append((msg[2], msg[3]))
            out.append((reply, events))
    finally:
        c("CONFIG", "SET", "notify-keyspace-events", "")
        c.close()
        sub.close()
    return out


# Creations and read misses across the types: `new` comes from every path
# that adds a key (first write, *STORE, LMOVE/SMOVE destinations, RENAME,
# COPY, MOVE, RESTORE), before the command's own event; `keymiss` from read
# lookups (also the *STORE sources and SET ... GET), not from EXISTS-style
# or write lookups, nor from OBJECT (LOOKUP_NONOTIFY).
_NEW_AND_MISS_SCRIPT = [
    ("SET", "s", "v"), ("SET", "s", "w"), ("SET", "s2", "v", "NX"), ("SET", "s3", "v", "EX", "100"),
    ("SET", "s4", "v", "GET"), ("GETSET", "s5", "v"), ("MSET", "m1", "1", "m2", "2"), ("MSETNX", "m3", "1"),
    ("SETNX", "s6", "v"), ("INCR", "i"), ("INCRBYFLOAT", "f", "1.5"), ("APPEND", "a", "x"),
    ("SETRANGE", "r", "2", "x"), ("SETRANGE", "r0", "0", ""),
    ("RPUSH", "l", "a", "b"), ("LPUSHX", "lx", "a"), ("LMOVE", "l", "l2", "LEFT", "RIGHT"),
    ("RPOPLPUSH", "l", "l3"), ("LMOVE", "nosuch", "l4", "LEFT", "LEFT"),
    ("HSET", "h", "f", "v"), ("HSET", "h", "g", "v"), ("HINCRBY", "h2", "f", "1"), ("HSETNX", "h3", "f", "v"),
    ("SADD", "st", "1", "2"), ("SADD", "st2", "2", "3"), ("SMOVE", "st", "st3", "1"),
    ("SINTERSTORE", "si", "st", "st2"), ("SUNIONSTORE", "su", "st", "nosuch"), ("SDIFFSTORE", "sd", "nosuch", "st"),
    ("ZADD", "z", "1", "a"), ("ZADD", "z", "2", "b"), ("ZINCRBY", "z2", "1", "a"), ("ZADD", "z3", "XX", "1", "a"),
    ("ZUNIONSTORE", "zu", "2", "z", "nosuch"), ("ZRANGESTORE", "zr", "z", "0", "-1"),
    ("ZRANGESTORE", "zr2", "nosuch", "0", "-1"),
    ("RENAME", "s", "s7"), ("RENAME", "s7", "s2"), ("COPY", "s2", "c1"), ("COPY", "s2", "c1", "REPLACE"),
    ("MOVE", "c1", "1"), ("COPY", "nosuch", "c2"),
    ("GET", "nosuch"), ("MGET", "nosuch", "s2"), ("STRLEN", "nosuch"), ("GETRANGE", "nosuch", "0", "1"),
    ("GETEX", "nosuch"), ("GETDEL", "nosuch"), ("EXISTS", "nosuch"), ("TYPE", "nosuch"), ("TTL", "nosuch"),
    ("TOUCH", "nosuch"), ("OBJECT", "ENCODING", "nosuch"), ("DUMP", "nosuch"),
    ("HGET", "nosuch", "f"), ("HGETALL", "nosuch"), ("HLEN", "nosuch"), ("HEXISTS", "nosuch", "f"),
    ("LRANGE", "nosuch", "0", "-1"), ("LLEN", "nosuch"), ("LINDEX", "nosuch", "0"), ("LPOP", "nosuch"),
    ("SMEMBERS", "nosuch"), ("SISMEMBER", "nosuch", "a"), ("SCARD", "nosuch"), ("SINTER", "st", "nosuch"),
    ("ZRANGE", "nosuch", "0", "-1"), ("ZSCORE", "nosuch", "a"), ("ZCARD", "nosuch"), ("ZRANK", "nosuch", "a"),
    ("ZUNION", "2", "z", "nosuch"), ("ZINTERCARD", "2", "z", "nosuch"), ("LCS", "nosuch", "s2"),
    ("HSCAN", "nosuch", "0"), ("ZPOPMIN", "nosuch"), ("EXPIRE", "nosuch", "10"), ("DEL", "nosuch"),
    ("SELECT", "1"), ("GET", "nosuch"), ("SET", "s1", "v"), ("SELECT", "0"),
]


@pytest.mark.interop
@pytest.mark.parametrize("flags", ["KEAnm", "KEA", "Kn", "Em", "KEnm$"])
def test_new_and_keymiss_events_like_redis(hf_server, real_redis_server, flags):
    """Flags `n` and `m` (neither is part of `A`): each command's reply and
    every event it fires, in order, as redis-server 7.0 sends them."""
    ours = _events_per_command(hf_server.port, flags, _NEW_AND_MISS_SCRIPT)
    theirs = _events_per_command(real_redis_server.port, flags, _NEW_AND_MISS_SCRIPT)
    for cmd, a, b in zip(_NEW_AND_MISS_SCRIPT, ours, theirs, strict=True):
        assert a == b, cmd
    if flags == "KEAnm":  # the comparison did see both kinds of event
        assert ours[0][1][:2] == [(b"__keyspace@0__:s", b"new"), (b"__keyevent@0__:new", b"s")]
        assert ours[0][1][2][1] == b"set"  # `new` comes before the command's own event
        assert (b"__keyevent@0__:keymiss", b"nosuch") in ours[_NEW_AND_MISS_SCRIPT.index(("GET", "nosuch"))][1]


@pytest.mark.interop
def test_new_and_keymiss_after_lazy_expiry_like_redis(hf_server, real_redis_server):
    """A write or read on a key whose TTL passed (active expiry off) deletes
    it first: `expired`, then `new` / `keymiss`, as Redis 7.0."""
    script = []
    for i, cmd in enumerate([("SET", "K", "w"), ("MSET", "K", "w"), ("RPUSH", "K", "w"), ("INCR", "K"),
                             ("HSET", "K", "f", "v"), ("GET", "K"), ("EXISTS", "K"), ("SET", "K", "w", "NX")]):
        key = "k%d" % i
        script += [("SET", key, "v", "PX", "1"), ("DEBUG", "SLEEP", "0.01"),
                   tuple(key if a == "K" else a for a in cmd)]
    got = []
    for srv in (hf_server, real_redis_server):
        r = srv.client()
        r.execute_command("DEBUG", "SET-ACTIVE-EXPIRE", "0")
        try:
            got.append(_events_per_command(srv.port, "KEAnmx", script))
        finally:
            r.execute_command("DEBUG", "SET-ACTIVE-EXPIRE", "1")
            r.close()
    assert got[0] == got[1]
    set_events = got[0][2][1]  # SET k0 w
    assert [msg for ch, msg in set_events if ch.startswith(b"__keyspace")] == [b"expired", b"new", b"set"]


@pytest.mark.interop
@pytest.mark.parametrize("proto", [2, 3])
def test_pubsub_introspection_replies_like_redis(hf_server, real_redis_server, proto):
    """NUMSUB and SHARDNUMSUB answer a flat array in RESP3 too; the
    subcommands' own argument checks answer Redis's syntax error, the
    subcommand echoed as typed."""
    from rawresp import RawConn

    script = [("PUBSUB", "NUMSUB", "c1", "zz"), ("PUBSUB", "NUMSUB"), ("PUBSUB", "SHARDNUMSUB", "a", "b"),
              ("PUBSUB", "SHARDNUMSUB"), ("PUBSUB", "SHARDCHANNELS"), ("PUBSUB", "SHARDCHANNELS", "a"),
              ("PUBSUB", "SHARDCHANNELS", "a", "b"), ("PUBSUB", "channels", "a", "b"),
              ("PUBSUB", "CHANNELS", "a", "b"), ("pubsub", "cHaNnElS", "a", "b"), ("PUBSUB", "CHANNELS", "c*"),
              ("PUBSUB", "NUMPAT"), ("PUBSUB", "NUMPAT", "x"), ("PUBSUB", "nosuch")]
    replies = []
    for port in (hf_server.port, real_redis_server.port):
        sub = RawConn(port)
        sub("SUBSCRIBE", "c1")
        conn = RawConn(port, proto)
        replies.append([conn(*cmd) for cmd in script])
        conn.close()
        sub.close()
    assert replies[0] == replies[1]
    assert replies[0][0] == b"*4\r\n$2\r\nc1\r\n:1\r\n$2\r\nzz\r\n:0\r\n"
    assert replies[0][8] == (b"-ERR unknown subcommand or wrong number of arguments for 'CHANNELS'. "
                             b"Try PUBSUB HELP.\r\n")


@pytest.mark.interop
def test_resp2_subscriber_refusals_like_redis(hf_server, real_redis_server):
    """In RESP2 subscriber mode a refused container command is named with
    its subcommand ('config|get'), and a refused EXEC answers EXECABORT."""
    from rawresp import RawConn

    script = [("CONFIG", "GET", "x"), ("config", "get", "x"), ("CLIENT", "ID"), ("PUBSUB", "NUMSUB"),
              ("GET", "x"), ("EXEC",), ("EXEC", "x"), ("MULTI",), ("DISCARD",), ("CONFIG", "nosuch"),
              ("PING",)]
    replies = []
    for port in (hf_server.port, real_redis_server.port):
        conn = RawConn(port)
        conn("SUBSCRIBE", "a")
        replies.append([conn(*cmd) for cmd in script])
        conn.close()
    assert replies[0] == replies[1]
    assert replies[0][0].startswith(b"-ERR Can't execute 'config|get': only (P|S)SUBSCRIBE")
    assert replies[0][5].startswith(b"-EXECABORT Transaction discarded because of: Can't execute 'exec'")
