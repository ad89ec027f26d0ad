"""An I/O worker process (`io-threads N` runs N-1 of them; see
engine/io_workers.py for why processes): it owns the sockets of the clients
the main process hands it, reads and parses their requests, and writes the
replies the main process sends back. It never touches the keyspace.

    python -m engine.io_worker FRAMES_FD FDS_FD

One epoll loop: client sockets readable -> recv, parse (the same
RequestParser as the main process) -> one IN message per read; the link
readable -> OUT bytes queued to their client and written, CLOSE, ADD
(the socket arrives on the fd channel), CONFIG. Each pass ends with one
frame to the main process carrying everything the pass read.
"""

import errno
import os
import select
import signal
import socket
import sys
from collections import deque

from .io_link import ADD, CLOSE, CONFIG, GONE, IN, LOG, OMEM, OUT, PROTO, QBUF, STOP, FrameReader, LinkWriter, encode
from .protocol import RequestParser
from .util import die_with_parent

EPOLLIN, EPOLLOUT = select.EPOLLIN, select.EPOLLOUT
READ_SIZE = 16 * 1024
READ_SIZE_BIG = 64 * 1024


class _Conn:
    __slots__ = ("id", "sock", "fd", "parser", "out", "out_bytes", "pending", "dirty", "polling_out", "closing",
                 "read_size", "reading")

    def __init__(self, cid, sock, max_bulk):
        self.id = cid
        self.sock = sock
        self.fd = sock.fileno()
        self.parser = RequestParser(max_bulk)
        self.out = []  # reply bytes not yet written
        self.out_bytes = 0
        self.pending = None  # memoryview left by a partial send
        self.dirty = False  # output came this pass
        self.polling_out = False  # registered for EPOLLOUT
        self.closing = False  # CLOSE came: close once everything is written
        self.read_size = READ_SIZE
        self.reading = True  # False after a protocol error or QBUF: nothing more is read


class Worker:
    def __init__(self, frames_fd, fds_fd):
        self.link = socket.socket(fileno=frames_fd)
        self.link.setblocking(False)
        # Client sockets arrive here, each before its ADD frame; they are
        # taken as soon as they come (the main process may send hundreds in
        # one accept burst before its frames go out: it must never wait on
        # a worker that waits on it).
        self.fds = socket.socket(fileno=fds_fd)
        self.fds.setblocking(False)
        self.arrived = deque()
        self.writer = LinkWriter(self.link)
        self.reader = FrameReader()
        self.ep = select.epoll()
        self.ep.register(self.link.fileno(), EPOLLIN)
        self.ep.register(self.fds.fileno(), EPOLLIN)
        self.conns = {}  # fd -> _Conn
        self.by_id = {}  # client id -> _Conn
        self.max_bulk = 512 * 1024 * 1024
        self.qbuf_limit = 1024 * 1024 * 1024
        self.batch = []  # messages for the main process, sent once per pass
        self.dirty = []  # conns with output queued this pass
        self.omem = {}  # id -> output bytes last reported (only while nonzero)
        self.stopping = False

    def run(self):
        conns = self.conns
        link_fd = self.link.fileno()
        fds_fd = self.fds.fileno()
        while True:
            try:
                events = self.ep.poll(-1)
            except InterruptedError:
                continue
            for fd, ev in events:
                if fd == link_fd:
                    if ev & EPOLLIN and not self._read_link():
                        return  # the main process is gone
                    if ev & EPOLLOUT and self.writer.drain():
                        self.ep.modify(link_fd, EPOLLIN)
                    continue
                c = conns.get(fd)
                if c is None:
                    if fd == fds_fd:
                        self._take_fds()
                    continue
                if ev & EPOLLOUT:
                    self._write(c)
                if ev & (EPOLLIN | select.EPOLLERR | select.EPOLLHUP) and c.reading and fd in conns:
                    self._read(c)
            self._end_pass()
            if self.stopping and not conns:
                self.writer.flush_blocking(5)
                return

    # -- clients ----------------------------------------------------------------------

    def _read(self, c):
        try:
            data = c.sock.recv(c.read_size)
        except (BlockingIOError, InterruptedError):
            return
        except OSError:
            data = b""
        if not data:
            self._drop(c)
            self.batch.append((GONE, c.id))
            return
        if len(data) == READ_SIZE:
            c.read_size = READ_SIZE_BIG
        parser = c.parser
        reqs = parser.parse(data)
        self.batch.append((IN, c.id, reqs, len(data)))
        if parser.error is not None:
            self.batch.append((PROTO, c.id, str(parser.error)))
            self._stop_reading(c)
        elif parser.pending and parser.pending_bytes() > self.qbuf_limit:
            self.batch.append((QBUF, c.id, bytes(parser.pending[:64])))
            self._stop_reading(c)

    def _stop_reading(self, c):
        """Nothing more is read from `c` (what it sends is ignored, and no
        longer wakes the loop)."""
        c.reading = False
        self.ep.modify(c.fd, EPOLLOUT if c.polling_out else 0)

    def _write(self, c):
        """Write what is queued for `c`; the rest waits for EPOLLOUT."""
        while True:
            if c.pending is None:
                out = c.out
                if not out:
                    break
                c.pending = memoryview(out[0] if len(out) == 1 else b"".join(out))
                c.out = []
                c.out_bytes = 0
            try:
                n = c.sock.send(c.pending)
            except (BlockingIOError, InterruptedError):
                n = 0
            except OSError:
                self._drop(c)
                self.batch.append((GONE, c.id))
                return
            if n < len(c.pending):
                c.pending = c.pending[n:]
                if not c.polling_out:
                    c.polling_out = True
                    self.ep.modify(c.fd, (EPOLLIN if c.reading else 0) | EPOLLOUT)
                break
            c.pending = None
        if c.pending is None:
            if c.polling_out:
                c.polling_out = False
                self.ep.modify(c.fd, EPOLLIN if c.reading else 0)
            if c.closing:
                self._drop(c)
                return
        self._report(c)

    def _report(self, c):
        """OMEM: the output held for `c` (CLIENT LIST omem, client-output-buffer-limit)."""
        held = (len(c.pending) if c.pending is not None else 0) + c.out_bytes
        if held != self.omem.get(c.id, 0):
            if held:
                self.omem[c.id] = held
            else:
                del self.omem[c.id]
            self.batch.append((OMEM, c.id, held))

    def _drop(self, c):
        self.conns.pop(c.fd, None)
        self.by_id.pop(c.id, None)
        self.omem.pop(c.id, None)
        try:
            self.ep.unregister(c.fd)
        except (OSError, ValueError):
            pass
        c.sock.close()

    # -- the link -----------------------------------------------------------------------

    def _read_link(self):
        try:
            data = self.link.recv(1 << 20)
        except (BlockingIOError, InterruptedError):
            return True
        if not data:
            return False
        for msgs in self.reader.feed(data):
            for m in msgs:
                op = m[0]
                if op == OUT:
                    c = self.by_id.get(m[1])
                    if c is not None:
                        c.out.append(m[2])
                        c.out_bytes += len(m[2])
                        if not c.dirty:
                            c.dirty = True
                            self.dirty.append(c)
                elif op == ADD:
                    self._add(m[1])
                elif op == CLOSE:
                    c = self.by_id.get(m[1])
                    if c is not None:
                        if not m[2]:  # killed: what is unsent is dropped, as Redis's freeClient
                            self._drop(c)
                            continue
                        c.closing = True
                        self._stop_reading(c)
                        if not c.dirty:
                            c.dirty = True
                            self.dirty.append(c)
                elif op == CONFIG:
                    self._config(m[1], m[2])
                elif op == STOP:
                    self.stopping = True
                    for c in list(self.conns.values()):
                        c.closing = True
                        if not c.dirty:
                            c.dirty = True
                            self.dirty.append(c)
        return True

    def _take_fds(self):
        while True:
            try:
                _msg, fds, _flags, _addr = socket.recv_fds(self.fds, 16, 1)
            except (BlockingIOError, InterruptedError):
                return
            self.arrived.extend(fds)

    def _add(self, cid):
        while not self.arrived:  # sent before its frame: already there, or about to be
            select.select([self.fds], [], [], 5)
            self._take_fds()
        sock = socket.socket(fileno=self.arrived.popleft())
        sock.setblocking(False)
        c = _Conn(cid, sock, self.max_bulk)
        self.conns[c.fd] = c
        self.by_id[cid] = c
        self.ep.register(c.fd, EPOLLIN)

    def _config(self, name, value):
        if name == "proto-max-bulk-len":
            self.max_bulk = value
            for c in self.conns.values():
                c.parser.max_bulk_len = value
        elif name == "client-query-buffer-limit":
            self.qbuf_limit = value

    def _end_pass(self):
        dirty, self.dirty = self.dirty, []
        for c in dirty:
            c.dirty = False
            if c.fd in self.conns:
                if c.pending is None:
                    self._write(c)
                else:
                    self._report(c)  # still waiting for EPOLLOUT: the queue only grew
        batch = self.batch
        if batch:
            self.batch = []
            self.writer.write(encode(batch))
            if self.writer.pending is not None:
                self.ep.modify(self.link.fileno(), EPOLLIN | EPOLLOUT)

    def log(self, level, text):
        self.batch.append((LOG, level, text))


def main(argv):
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the main process decides when workers stop
    signal.signal(signal.SIGPIPE, signal.SIG_IGN)
    die_with_parent(signal.SIGTERM, os.getppid())  # must not outlive the main process
    w = Worker(int(argv[0]), int(argv[1]))
    try:
        w.run()
    except OSError as e:
        if e.errno != errno.EPIPE:
            raise
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
