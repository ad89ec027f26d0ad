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
