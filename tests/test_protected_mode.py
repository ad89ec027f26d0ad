"""protected-mode, against redis-server 7.0: with no password set, a client
that connects over a non-loopback address gets Redis's -DENIED text and is
closed; loopback clients, a password, or `protected-mode no` let it in.
Needs an address of this machine other than loopback (skipped without one;
it is not an interop dependency)."""

import socket

import pytest
from conftest import require_tool


def _external_address():
    """An IPv4 address of this machine that is not loopback, or None."""
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        s.connect(("192.0.2.254", 9))  # no packet is sent: this only picks the outgoing interface
        addr = s.getsockname()[0]
    except OSError:
        return None
    finally:
        s.close()
    return None if addr.startswith("127.") else addr


def _greeting(addr, port):
    """What the server says from `addr`: its refusal, sent at accept (read
    before sending anything: a PING the server never reads would make its
    close a reset that can discard the refusal), or its answer to PING."""
    s = socket.create_connection((addr, port), timeout=0.5)
    data = b""
    try:
        while chunk := s.recv(65536):
            data += chunk
    except TimeoutError:  # nothing sent at accept: a client it let in
        s.settimeout(2)
        s.sendall(b"PING\r\n")
        data = s.recv(65536)
    s.close()
    return data


@pytest.mark.parametrize("extra, denied", [((), True), (("--requirepass", "pw"), False),
                                           (("--protected-mode", "no"), False)])
def test_protected_mode_as_redis(holdfast_factory, redis_factory, extra, denied):
    addr = _external_address()
    if addr is None:
        pytest.skip("this machine has no address other than loopback")
    require_tool("redis-server")
    seen = []
    for factory in (holdfast_factory, redis_factory):
        srv = factory("--bind", "0.0.0.0", *extra)
        assert _greeting("127.0.0.1", srv.port) in (b"+PONG\r\n", b"-NOAUTH Authentication required.\r\n")
        seen.append(_greeting(addr, srv.port))
    assert seen[0] == seen[1]
    if denied:
        assert seen[0].startswith(b"-DENIED Redis is running in protected mode")
    else:
        assert seen[0] in (b"+PONG\r\n", b"-NOAUTH Authentication required.\r\n")
