"""`io-threads N`: N-1 I/O worker processes own the client sockets; the main
process keeps the keyspace and every client's state.

Why processes. Valkey 8 moves socket reads, parsing and writes to threads.
Under CPython's GIL, threads that do that work beside the main thread made
every variant slower on our machines (+36-72% CPU per request, futex
wake-ups: see the README), because recv/parse/send are mostly Python and
the kernel calls between them hand the GIL back and forth. Processes run in
parallel for real. So:

    main process                              worker process (engine/io_worker.py)
    accept -> Client, fd sent over  --ADD-->  owns the socket: recv, parse
    the link's fd channel                     (RequestParser, hiredis)
    IN: run the parsed requests     <--IN---  one frame per pass, every read in it
    (run_batch: the same path)
    replies: Client.send queues     --OUT-->  write, in order; what the socket
    (OUT, id, bytes), one frame per           does not take waits for EPOLLOUT
    link per loop pass                        (reported back as OMEM)
    free_client -> CLOSE            --CLOSE-> write what is queued, close

The main process pays one read and one write of a frame per worker per
loop pass instead of a recv and a send per client, and no parsing. Every
client-visible behaviour stays in the main process: replies are produced
in order by the same code, MULTI/WATCH/blocking/pub-sub/MONITOR state
lives in Client, `appendfsync always` holds replies before they are
queued to a worker (server.flush_replies), and output-buffer limits count
what a worker still holds (Client.remote_out). Main-owned sockets (the
replica's link to its primary) are untouched. `io-threads 1` starts no
worker and adds nothing to the plain path.

A worker that dies takes its clients' connections with it (they are
freed, as if they had disconnected) and is replaced.

fork() (BGSAVE, BGREWRITEAOF, diskless sync) needs no quiescing, unlike
I/O threads: the child copies the main process only, workers go on
serving, and the link sockets the child inherits are never used by it.
"""

import select
import socket
import subprocess
import sys
import time

from . import logsetup
from .io_link import (
    ADD,
    CLOSE,
    CONFIG,
    GONE,
    IN,
    LOG,
    OMEM,
    OUT,
    PROTO,
    QBUF,
    STOP,
    FrameReader,
    LinkWriter,
    encode,
    socketpairs,
)

EPOLLIN, EPOLLOUT = select.EPOLLIN, select.EPOLLOUT
WORKER_CONFIG = ("proto-max-bulk-len", "client-query-buffer-limit")
STOP_TIMEOUT_S = 5.0
FD_SEND_TIMEOUT_S = 1.0  # the longest a hung worker can stall an accept
CONGESTED_SKIP_S = 30.0  # ...after which it gets no new client for this long


class _Link:
    """The main process's end of one worker."""

    def __init__(self, pool, index):
        self.pool = pool
        self.index = index
        srv = pool.srv
        frames, frames_child, fds, fds_child = socketpairs()
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "engine.io_worker", str(frames_child.fileno()), str(fds_child.fileno())],
            pass_fds=(frames_child.fileno(), fds_child.fileno()), stdin=subprocess.DEVNULL)
        frames_child.close()
        fds_child.close()
        frames.setblocking(False)
        self.sock = frames
        self.fds = fds
        fds.settimeout(FD_SEND_TIMEOUT_S)  # the worker drains it continuously; a hung one must not hang us
        self.congested_until = 0.0
        self.fd = frames.fileno()
        self.writer = LinkWriter(frames)
        self.reader = FrameReader()
        self.out = []  # messages for the worker, sent by flush()
        self.clients = {}  # client id -> Client
        self.dead = False
        srv.loop.ep.register(self.fd, EPOLLIN)
        srv.other_fds[self.fd] = self.on_event
        for name in WORKER_CONFIG:
            self.out.append((CONFIG, name, srv.config[name]))

    def adopt(self, c):
        """Pass `c`'s socket to the worker; False when it cannot take it
        (dead, or its fd queue full for FD_SEND_TIMEOUT_S)."""
        if self.dead:
            return False
        try:
            socket.send_fds(self.fds, [b"\0"], [c.fd])
        except OSError as e:
            if isinstance(e, TimeoutError):
                self.congested_until = time.monotonic() + CONGESTED_SKIP_S  # new clients go elsewhere
            logsetup.warning("Could not pass client id=%d to I/O worker %d: %s", c.id, self.index,
                             e.strerror or "its queue of sockets stayed full")
            return False
        self.out.append((ADD, c.id))
        self.clients[c.id] = c
        c.io_link = self
        out = self.out
        cid = c.id

        def send(data):  # Client.send for the event loop: queued, always "all sent"
            out.append((OUT, cid, data))
            return len(data)

        c.send = send
        return True

    def flush(self):
        if self.out and not self.dead:
            frame = encode(self.out)
            self.out.clear()
            had_pending = self.writer.pending is not None
            self.writer.write(frame)
            if not had_pending and self.writer.pending is not None:
                self.pool.srv.loop.ep.modify(self.fd, EPOLLIN | EPOLLOUT)

    def on_event(self, ev):
        if ev & EPOLLOUT and self.writer.drain():
            self.pool.srv.loop.ep.modify(self.fd, EPOLLIN)
        if not ev & (EPOLLIN | select.EPOLLHUP | select.EPOLLERR):
            return
        try:
            data = self.sock.recv(1 << 20)
        except (BlockingIOError, InterruptedError):
            return
        except OSError:
            data = b""
        if not data:
            self.pool.worker_died(self)
            return
        srv = self.pool.srv
        clients = self.clients
        for msgs in self.reader.feed(data):
            for m in msgs:
                op = m[0]
                c = clients.get(m[1]) if op != LOG else None
                if op == IN:
                    if c is not None:
                        srv.process_requests(c, m[2], m[3])
                elif op == OMEM:
                    if c is not None:
                        c.remote_out = m[2]
                        srv.output_limits.check(c)
                elif op == GONE:
                    if c is not None:
                        logsetup.verbose("Client closed connection id=%d addr=%s", c.id, c.addr)
                        srv.free_client(c)
                elif op == PROTO:
                    if c is not None:
                        srv.protocol_error(c, m[2])
                elif op == QBUF:
                    if c is not None:
                        srv.query_buffer_overflow(c, m[2])
                elif op == LOG:
                    getattr(logsetup, m[1], logsetup.notice)("I/O worker %d: %s", self.index, m[2])

    def forget(self, c):
        if self.clients.pop(c.id, None) is not None and not self.dead:
            # After QUIT or a protocol error the last replies go out first;
            # a killed client's unsent output is dropped, as Redis does.
            self.out.append((CLOSE, c.id, c.close_after_reply))

    def close(self):
        srv = self.pool.srv
        srv.other_fds.pop(self.fd, None)
        srv.loop.unregister(self.fd)
        self.sock.close()
        self.fds.close()


class IoWorkers:
    """The pool: `io-threads` - 1 workers, clients spread round-robin."""

    def __init__(self, server, count):
        self.srv = server
        self.links = [_Link(self, i) for i in range(count)]
        self._next = 0
        server.client_free_hooks.append(self._client_gone)
        for name in WORKER_CONFIG:
            server.config.on_change(name, lambda _old, new, name=name: self._broadcast(name, new))
        logsetup.notice("%d I/O worker processes started (io-threads %d): pids %s", count, count + 1,
                        " ".join(str(link.proc.pid) for link in self.links))

    def adopt(self, c):
        """Hand a just-accepted client's socket to the next worker."""
        now = time.monotonic()
        for _ in range(len(self.links)):
            link = self.links[self._next]
            self._next = (self._next + 1) % len(self.links)
            if link.congested_until <= now:
                if link.adopt(c):
                    return
                break
        self.srv.free_client(c)  # no worker could take it: the connection is closed

    def flush(self):
        for link in self.links:
            if link.out:
                link.flush()

    def _broadcast(self, name, value):
        for link in self.links:
            link.out.append((CONFIG, name, value))

    def _client_gone(self, c):
        link = getattr(c, "io_link", None)
        if link is not None:
            link.forget(c)

    def worker_died(self, link):
        link.dead = True
        rc = link.proc.poll()
        logsetup.warning("I/O worker %d (pid %d) exited%s: its %d clients are disconnected, starting another",
                         link.index, link.proc.pid, "" if rc is None else " with status %s" % rc,
                         len(link.clients))
        for c in list(link.clients.values()):
            self.srv.free_client(c)
        link.close()
        self.links[link.index] = _Link(self, link.index)

    def stop(self):
        """Shutdown: every worker writes what it holds, closes its clients
        and exits; one that does not within STOP_TIMEOUT_S is killed."""
        for link in self.links:
            link.out.append((STOP,))
            link.flush()
            try:
                link.writer.flush_blocking(STOP_TIMEOUT_S)
            except OSError:
                pass
        for link in self.links:
            try:
                link.proc.wait(STOP_TIMEOUT_S)
            except subprocess.TimeoutExpired:
                link.proc.kill()
                link.proc.wait()
            link.close()
