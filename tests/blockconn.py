"""Raw connections for the blocking-command tests: send without waiting,
wait until the server has parked a client, read the propagated stream."""

import socket
import time

from rawresp import RawConn, encode, reply_end

from engine.protocol import RequestParser

WRONGTYPE = b"-WRONGTYPE Operation against a key holding the wrong kind of value\r\n"
NOT_FLOAT = b"-ERR timeout is not a float or out of range\r\n"
NEGATIVE = b"-ERR timeout is negative\r\n"


def enc(args):
    return encode(*args)


class Conn(RawConn):
    """A raw connection that can send a command without waiting for it."""

    def send(self, *args):
        self.sock.sendall(enc(args))

    def recv(self, timeout=2.0):
        """The next raw reply, or None if none comes within `timeout`."""
        deadline = time.monotonic() + timeout
        while True:
            end = reply_end(self.buf, 0)
            if end is not None:
                out, self.buf = self.buf[:end], self.buf[end:]
                return out
            left = deadline - time.monotonic()
            if left <= 0:
                return None
            self.sock.settimeout(left)
            try:
                chunk = self.sock.recv(65536)
            except socket.timeout:
                return None
            if not chunk:
                raise ConnectionError("connection closed")
            self.buf += chunk

    def block(self, *args):
        """Send a blocking command and wait until the server has parked it."""
        self.send(*args)
        self.wait_blocked()

    def wait_blocked(self):
        for _ in range(200):
            if b"id=%d " % self.cid in blocked_ids(self.ctl):
                return
            time.sleep(0.005)
        raise AssertionError("client %d did not block" % self.cid)


def connect(port, ctl, proto=2):
    c = Conn(port, proto)
    c.ctl = ctl
    c.cid = int(c("CLIENT", "ID")[1:-2])
    return c


def blocked_ids(ctl):
    return b"\n".join(line for line in ctl("CLIENT", "LIST").split(b"\n") if b"flags=b" in line)


def bulk(b):
    return b"$%d\r\n%s\r\n" % (len(b), b)


def arr(*items):
    return b"*%d\r\n" % len(items) + b"".join(items)


def make_conns(hf_server):
    """Body of the `conns` fixture of the blocking tests: conns(n, proto=2)
    gives n raw connections to the test module's Holdfast (everything
    flushed first); each knows its client id; conns.ctl is a spare one."""
    made = []

    def make(n=1, proto=2):
        out = [connect(hf_server.port, ctl, proto) for _ in range(n)]
        made.extend(out)
        return out

    ctl = RawConn(hf_server.port)
    ctl("FLUSHALL")
    made.append(ctl)
    make.ctl = ctl
    yield make
    for c in made:
        c.close()


def _get(ctl):
    raw = ctl("DEBUG", "PROPAGATED", "GET")
    assert raw[:1] == b"$", raw
    body = raw[raw.index(b"\r\n") + 2:-2]
    return body


def stream(ctl):
    """The propagated commands since DEBUG PROPAGATED START, SELECTs dropped."""
    cmds = [[a.decode() for a in cmd] for cmd in RequestParser().parse(_get(ctl))]
    return [c for c in cmds if c[0].upper() != "SELECT"]
