"""The link between the main process and one I/O worker process
(engine/io_workers.py, engine/io_worker.py): a Unix stream socketpair that
carries frames, and a second, datagram socketpair that carries client
sockets (SCM_RIGHTS), one per datagram, in the order their ADD frames go.

A frame is a 4-byte little-endian length and a `marshal` payload: a list
of messages, each a tuple whose first item is the opcode below. marshal is
C code that (de)serializes lists of bytes faster than anything written
here, and both ends are the same Python, which is all marshal asks.
"""

import marshal
import os
import socket
import struct

HEADER = struct.Struct("<I")

# main -> worker
ADD = 1  # (ADD, id): the client's socket is the next one on the fd channel
OUT = 2  # (OUT, id, bytes): reply bytes to write, in order
CLOSE = 3  # (CLOSE, id, flush): close, after writing what is queued when `flush`
CONFIG = 4  # (CONFIG, name, value): proto-max-bulk-len, client-query-buffer-limit
STOP = 5  # (STOP,): write what is queued to every client, then exit

# worker -> main
IN = 11  # (IN, id, requests, bytes read): parsed requests (lists of bytes)
PROTO = 12  # (PROTO, id, message): a protocol error after the requests before it
QBUF = 13  # (QBUF, id, first bytes): the query buffer passed client-query-buffer-limit
GONE = 14  # (GONE, id): the peer closed the connection, or it failed
OMEM = 15  # (OMEM, id, bytes): output the worker still holds for the client (0: drained)
LOG = 16  # (LOG, level, text)

MAX_FRAME = 1 << 31  # a frame this long is a bug on the other side


def encode(msgs):
    payload = marshal.dumps(msgs)
    return HEADER.pack(len(payload)) + payload


class FrameReader:
    """Splits a byte stream into decoded frames."""

    __slots__ = ("buf",)

    def __init__(self):
        self.buf = bytearray()

    def feed(self, data):
        buf = self.buf
        if not buf and len(data) >= 4:
            # The common case: whole frames in one read, no copying.
            (n,) = HEADER.unpack_from(data)
            if len(data) == n + 4:
                return [marshal.loads(memoryview(data)[4:])]
        buf += data
        out = []
        pos = 0
        while len(buf) - pos >= 4:
            (n,) = HEADER.unpack_from(buf, pos)
            if n >= MAX_FRAME:
                raise ValueError("I/O link frame of %d bytes" % n)
            if len(buf) - pos - 4 < n:
                break
            out.append(marshal.loads(memoryview(buf)[pos + 4:pos + 4 + n]))
            pos += 4 + n
        if pos:
            del buf[:pos]
        return out


class LinkWriter:
    """Non-blocking writes of frames; what the socket does not take waits
    for `drain()` (the owner polls for writability while `pending`)."""

    __slots__ = ("sock", "pending", "queue")

    def __init__(self, sock):
        self.sock = sock
        self.pending = None  # memoryview of the frame being sent
        self.queue = []  # whole frames behind it

    def write(self, data):
        if self.pending is not None:
            self.queue.append(data)
            return
        self.pending = memoryview(data)
        self.drain()

    def drain(self):
        """Send what is pending; True when nothing is left."""
        while self.pending is not None:
            try:
                n = self.sock.send(self.pending)
            except (BlockingIOError, InterruptedError):
                return False
            if n < len(self.pending):
                self.pending = self.pending[n:]
                return False
            self.pending = memoryview(self.queue.pop(0)) if self.queue else None
        return True

    def flush_blocking(self, timeout):
        """Wait (up to `timeout` s) until everything pending is sent."""
        self.sock.settimeout(timeout)
        try:
            while self.pending is not None:
                self.sock.sendall(self.pending)
                self.pending = memoryview(self.queue.pop(0)) if self.queue else None
        finally:
            self.sock.setblocking(False)


def socketpairs():
    """(frames_a, frames_b, fds_a, fds_b): the two channels of one link."""
    fa, fb = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
    da, db = socket.socketpair(socket.AF_UNIX, socket.SOCK_DGRAM)
    for s in (fa, fb, da, db):
        os.set_inheritable(s.fileno(), False)
    return fa, fb, da, db
