"""client-output-buffer-limit for normal and pub/sub clients
(engine/output_limits.py), side by side with redis-server 7.0: a client that
does not read its replies is disconnected at the hard limit, or after its
soft limit held for longer than its seconds; one that reads is left alone.
(Replicas: tests/test_replication_faults.py.)"""

import socket
import time

from test_replication_primary import wait_until

BIG = 1 << 20


def _non_reader(port, payload):
    """A connection that sends `payload` and never reads (a tiny receive
    buffer, so the kernel holds little of what the server sends)."""
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    s.connect(("127.0.0.1", port))
    s.sendall(payload)
    return s


def _named(r, name):
    return [c for c in r.client_list() if c["name"] == name]


def test_a_subscriber_that_does_not_read_is_dropped(server):
    r = server.client()
    s = _non_reader(server.port, b"CLIENT SETNAME sub\r\nSUBSCRIBE news\r\n")
    wait_until(lambda: r.pubsub_numsub("news") == [(b"news", 1)], what="the subscription")
    for _ in range(40):  # 40 MiB against pubsub's default hard limit of 32mb
        r.publish("news", b"x" * BIG)
    wait_until(lambda: not _named(r, "sub"), timeout=10, what="the subscriber to be dropped")
    assert r.pubsub_numsub("news") == [(b"news", 0)]
    s.close()


def test_hard_limit_of_normal_clients(server):
    r = server.client()
    r.set("big", b"x" * BIG)
    r.config_set("client-output-buffer-limit", "normal 4mb 0 0")
    s = _non_reader(server.port, b"CLIENT SETNAME greedy\r\n" + b"GET big\r\n" * 20)
    wait_until(lambda: not _named(r, "greedy"), timeout=10, what="the client to be dropped")
    # A client that reads what it asks for is never near the limit.
    for _ in range(20):
        assert len(r.get("big")) == BIG
    s.close()


def test_soft_limit_needs_its_seconds(server):
    r = server.client()
    r.set("big", b"x" * BIG)
    r.config_set("client-output-buffer-limit", "normal 0 2mb 2")
    t0 = time.monotonic()
    s = _non_reader(server.port, b"CLIENT SETNAME slow\r\n" + b"GET big\r\n" * 8)
    time.sleep(1)
    assert _named(r, "slow")  # above the soft limit for less than its 2 seconds
    wait_until(lambda: not _named(r, "slow"), timeout=10, what="the soft limit to run out")
    assert time.monotonic() - t0 > 2
    s.close()
