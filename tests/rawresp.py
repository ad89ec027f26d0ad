"""A raw RESP client for differential tests: sends one command, returns the
exact reply bytes, so Holdfast and redis-server can be compared byte for
byte in RESP2 and RESP3 (redis-py would hide type differences)."""

import socket


def encode(*args):
    """One request as RESP encodes it (str and int arguments as UTF-8)."""
    parts = [b"*%d\r\n" % len(args)]
    for a in args:
        a = a if isinstance(a, bytes) else str(a).encode()
        parts.append(b"$%d\r\n%s\r\n" % (len(a), a))
    return b"".join(parts)


def read_replies(sock, count):
    """The next `count` raw replies from `sock`."""
    buf, replies, pos = b"", [], 0
    while len(replies) < count:
        end = reply_end(buf, pos)
        if end is None:
            chunk = sock.recv(65536)
            assert chunk, "connection closed after %d replies" % len(replies)
            buf += chunk
            continue
        replies.append(buf[pos:end])
        pos = end
    return replies


def start_clean(*ports):
    """FLUSHALL and CONFIG RESETSTAT on each server: a differential test's
    two servers start with no data and no statistics."""
    for port in ports:
        conn = RawConn(port)
        try:
            conn("FLUSHALL")
            conn("CONFIG", "RESETSTAT")
        finally:
            conn.close()


def info_fields(conn, section):
    """INFO `section` as {field: value}, over a raw connection (redis-py would
    send CLIENT SETINFO, which Redis 7.0 counts as an error)."""
    text = parse(conn("INFO", section)).decode()
    return dict(line.split(":", 1) for line in text.splitlines() if ":" in line)


class RawConn:
    def __init__(self, port, proto=2, timeout=10):
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=timeout)
        self.buf = b""
        self.proto = proto
        if proto == 3:
            self("HELLO", "3")

    def close(self):
        self.sock.close()

    def __call__(self, *args):
        """Send one command; the raw bytes of its reply."""
        self.sock.sendall(encode(*args))
        end = None
        while end is None:
            end = reply_end(self.buf, 0)
            if end is None:
                chunk = self.sock.recv(65536)
                if not chunk:
                    raise ConnectionError("connection closed")
                self.buf += chunk
        out, self.buf = self.buf[:end], self.buf[end:]
        return out

    def parsed(self, *args):
        return parse(self(*args))


def _line(buf, pos):
    i = buf.find(b"\r\n", pos)
    return None if i < 0 else (buf[pos:i], i + 2)


def reply_end(buf, pos):
    """Offset just past the complete reply starting at `pos`, or None."""
    if pos >= len(buf):
        return None
    r = _line(buf, pos + 1)
    if r is None:
        return None
    head, nxt = r
    t = buf[pos:pos + 1]
    if t in b"+-:_,#(":
        return nxt
    if t in b"$=!":
        n = int(head)
        if n < 0:
            return nxt
        return nxt + n + 2 if len(buf) >= nxt + n + 2 else None
    if t in b"*~>%|":
        n = int(head)
        if n < 0:
            return nxt
        if t in b"%|":
            n *= 2
        for _ in range(n):
            nxt = reply_end(buf, nxt)
            if nxt is None:
                return None
        return nxt
    raise ValueError("bad RESP type %r" % t)


def parse(buf):
    """Decode one raw reply into Python values that keep the RESP type:
    errors become ('err', text), doubles ('dbl', text), sets ('set', items),
    maps ('map', pairs), nulls None, arrays lists."""
    v, _ = _parse(buf, 0)
    return v


def _parse(buf, pos):
    head, nxt = _line(buf, pos + 1)
    t = buf[pos:pos + 1]
    if t == b"+":
        return ("ok", head), nxt
    if t == b"-":
        return ("err", head), nxt
    if t == b":":
        return int(head), nxt
    if t == b"_":
        return None, nxt
    if t == b",":
        return ("dbl", head), nxt
    if t == b"#":
        return head == b"t", nxt
    if t in b"$=":
        n = int(head)
        if n < 0:
            return None, nxt
        return buf[nxt:nxt + n], nxt + n + 2
    n = int(head)
    if n < 0:
        return None, nxt
    if t in b"%|":
        n *= 2
    items = []
    for _ in range(n):
        v, nxt = _parse(buf, nxt)
        items.append(v)
    if t == b"~":
        return ("set", items), nxt
    if t == b"%":
        return ("map", list(zip(items[::2], items[1::2], strict=True))), nxt
    return items, nxt


def canon(v):
    """An order-free form of a parsed reply, for replies whose order Redis
    leaves unspecified (hash order): every array and set sorted."""
    if isinstance(v, list):
        return ("arr", sorted((canon(x) for x in v), key=repr))
    if isinstance(v, tuple) and v[0] == "set":
        return ("set", sorted((canon(x) for x in v[1]), key=repr))
    return v
