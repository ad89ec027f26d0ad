"""The network loop: listening sockets, accept, read, batched writes.

One epoll loop in the main thread, shaped like Redis's ae loop:

    poll -> for each ready socket: read, parse, run every complete command
         -> cron (at `hz`)
         -> before_sleep: subsystem hooks (the AOF flush and fsync go here,
            so that `appendfsync always` is durable before replies leave),
            then write every client's queued replies with one send() each.

Replies are never written from inside a command: a pipeline of N commands
costs one send(), and nothing reaches a client before the AOF has it.
"""

import errno
import os
import select
import signal
import socket
import time

from . import logsetup
from .client import READ_SIZE, READ_SIZE_BIG, Client

EPOLLIN, EPOLLOUT = select.EPOLLIN, select.EPOLLOUT
EPOLLERR, EPOLLHUP = select.EPOLLERR, select.EPOLLHUP
MAX_ACCEPTS_PER_CALL = 1000
# A client's socket is read and written with os.read / os.write on its fd
# (read(2) and write(2) are recv(2) and send(2) without flags): socket.recv
# and socket.send parse their arguments from a format string, ~500
# instructions a call more. A client whose socket an I/O worker owns is
# written through its Client.send (engine/io_workers.py), never read here.
_read, _write = os.read, os.write


class EventLoop:
    def __init__(self, server):
        self.server = server
        self.ep = select.epoll()
        self.listeners = {}  # fd -> (socket, is_unix)
        self.stop_requested = False
        self._wake_r, self._wake_w = os.pipe()
        os.set_blocking(self._wake_r, False)
        os.set_blocking(self._wake_w, False)
        self.ep.register(self._wake_r, EPOLLIN)
        self.timers = []  # (due_monotonic, fn) one-shot timers, small list

    # -- listening ------------------------------------------------------------------

    def listen(self):
        """Bind every configured address. An address prefixed with '-' is
        optional (skipped when unavailable), as in redis.conf."""
        cfg = self.server.config
        port = cfg["port"]
        backlog = cfg["tcp-backlog"]
        if port:
            for addr in cfg["bind"]:
                optional = addr.startswith("-")
                host = addr[1:] if optional else addr
                family = socket.AF_INET6 if ":" in host else socket.AF_INET
                if host == "*":
                    host, family = "0.0.0.0", socket.AF_INET
                try:
                    s = socket.socket(family, socket.SOCK_STREAM)
                    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
                    if family == socket.AF_INET6:
                        s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
                    s.bind((host, port))
                    s.listen(backlog)
                except OSError as e:
                    s.close()
                    if optional and e.errno in (errno.EADDRNOTAVAIL, errno.EAFNOSUPPORT, errno.EPROTONOSUPPORT):
                        continue
                    raise OSError(e.errno, "Could not create server TCP listening socket %s:%d: %s"
                                  % (host, port, e.strerror)) from None
                s.setblocking(False)
                self.listeners[s.fileno()] = (s, False)
                self.ep.register(s.fileno(), EPOLLIN)
        path = cfg["unixsocket"]
        if path:
            try:
                os.unlink(path)
            except FileNotFoundError:
                pass
            s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            s.bind(path)
            if cfg["unixsocketperm"]:
                os.chmod(path, cfg["unixsocketperm"])
            s.listen(backlog)
            s.setblocking(False)
            self.listeners[s.fileno()] = (s, True)
            self.ep.register(s.fileno(), EPOLLIN)
        if not self.listeners:
            raise OSError(0, "Configured to not listen anywhere, exiting.")

    def close_listeners(self):
        for fd, (s, is_unix) in list(self.listeners.items()):
            try:
                self.ep.unregister(fd)
            except OSError:
                pass
            s.close()
            if is_unix:
                try:
                    os.unlink(self.server.config["unixsocket"])
                except OSError:
                    pass
        self.listeners.clear()

    # -- signals --------------------------------------------------------------------

    def install_signal_handlers(self):
        def on_term(signum, _frame):
            name = "SIGINT" if signum == signal.SIGINT else "SIGTERM"
            self.server.request_shutdown("Received %s scheduling shutdown..." % name)

        signal.signal(signal.SIGTERM, on_term)
        signal.signal(signal.SIGINT, on_term)
        signal.signal(signal.SIGPIPE, signal.SIG_IGN)
        signal.set_wakeup_fd(self._wake_w, warn_on_full_buffer=False)

    def wake(self):
        try:
            os.write(self._wake_w, b"x")
        except BlockingIOError:
            pass

    # -- the loop ------------------------------------------------------------------

    def run(self):
        srv = self.server
        ep_poll = self.ep.poll
        dispatch = self._dispatch
        next_cron = time.monotonic()
        monotonic = time.monotonic
        blocking = srv.blocking
        while not self.stop_requested:
            timeout = next_cron - monotonic()
            if timeout < 0.0 or srv.pending_writes or srv.ready_keys:
                timeout = 0.0
            elif blocking.blocked_clients:
                t = srv.seconds_to_next_deadline()
                if t is not None and t < timeout:
                    timeout = t
            try:
                events = ep_poll(timeout)
            except InterruptedError:
                events = []
            srv.update_clock()
            if events:
                dispatch(events)
            now = monotonic()
            if now >= next_cron:
                srv.cron()
                next_cron = now + 1.0 / srv.config["hz"]
            if self.timers:
                self._run_timers(now)
            srv.before_sleep()
            if srv.shutdown_reason is not None:
                if srv.finish_shutdown():
                    break

    def _dispatch(self, events):
        clients = self.server.clients
        listeners = self.listeners
        read_events = EPOLLIN | EPOLLERR | EPOLLHUP
        for fd, ev in events:
            c = clients.get(fd)
            if c is not None:
                if ev & read_events:
                    self.handle_read(c)
                if ev & EPOLLOUT and not c.closed:
                    self.handle_writable(c)
            elif fd in listeners:
                self.accept(fd)
            elif fd == self._wake_r:
                try:
                    os.read(self._wake_r, 4096)
                except BlockingIOError:
                    pass
            else:
                self.server.handle_other_fd(fd, ev)

    def process_events_while_blocked(self):
        """One pass over ready sockets while the main thread is busy (loading
        a dataset): accept, read, answer (-LOADING), without the cron or the
        subsystems' hooks, as Redis's processEventsWhileBlocked."""
        try:
            events = self.ep.poll(0)
        except InterruptedError:
            events = []
        srv = self.server
        srv.update_clock()
        if events:
            self._dispatch(events)
        srv.flush_replies()

    def close_listeners_in_child(self):
        """In a fork child: drop the inherited listening sockets, so the port
        can be bound again even while the child outlives its parent."""
        for fd in list(self.listeners):
            try:
                os.close(fd)
            except OSError:
                pass

    def _run_timers(self, now):
        due = [t for t in self.timers if t[0] <= now]
        if due:
            self.timers = [t for t in self.timers if t[0] > now]
            for _, fn in due:
                fn()

    def call_later(self, delay, fn):
        self.timers.append((time.monotonic() + delay, fn))

    # -- accept, read, write -----------------------------------------------------------

    def accept(self, fd):
        lsock, is_unix = self.listeners[fd]
        srv = self.server
        for _ in range(MAX_ACCEPTS_PER_CALL):
            try:
                sock, peer = lsock.accept()
            except (BlockingIOError, InterruptedError):
                return
            except OSError as e:
                logsetup.warning("Accepting client connection: %s", e)
                return
            sock.setblocking(False)
            if is_unix:
                addr = laddr = srv.config["unixsocket"] + ":0"
            else:
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
                addr = _fmt_addr(peer)
                laddr = _fmt_addr(sock.getsockname())
            srv.stats.total_connections_received += 1
            refusal = srv.accept_refusal(peer, is_unix)
            if refusal is not None:
                srv.stats.rejected_connections += 1
                try:
                    sock.send(refusal)
                except OSError:
                    pass
                sock.close()
                continue
            c = Client(srv, sock, addr, laddr, unix=is_unix)
            srv.clients[c.fd] = c
            if srv.io_workers is not None:
                srv.io_workers.adopt(c)  # a worker process reads and writes it (engine/io_workers.py)
            else:
                self.ep.register(c.fd, EPOLLIN)
            logsetup.verbose("Accepted %s", addr)

    def handle_read(self, c):
        try:
            data = _read(c.fd, c.read_size)
        except (BlockingIOError, InterruptedError):
            return
        except OSError as e:
            logsetup.verbose("Reading from client: %s", e.strerror)
            self.server.free_client(c)
            return
        if data:
            if len(data) == READ_SIZE:
                c.read_size = READ_SIZE_BIG
            if c.close_after_reply:
                return  # after QUIT or a protocol error nothing more is read
            # Server.process_input, inline: this runs once per read.
            if c.pipelining and data[0] == 42 and self.server.run_uniform_read(c, data):
                return
            parser = c.parser
            reqs = parser.parse(data)
            c.pipelining = len(reqs) > 1
            self.server.process_requests(c, reqs, len(data))
            parser.whole = None  # its requests have run (or wait, blocked: then they are encoded)
            if parser.error is not None or parser.pending:
                self.server.after_parse(c)
            return
        logsetup.verbose("Client closed connection id=%d addr=%s", c.id, c.addr)
        self.server.free_client(c)

    def flush_pending(self, clients):
        """Write the queued replies of `clients` (before_sleep's list), one
        send() each; what the socket does not take waits for EPOLLOUT."""
        free = self.server.free_client
        send = self._send
        out_bytes = 0
        writes = 0
        for c in clients:
            c.in_write_list = False
            if c.closed:
                continue
            wbuf = c.wbuf
            if wbuf:
                data = wbuf[0] if len(wbuf) == 1 else b"".join(wbuf)
                c.wbuf = []
                c.wbuf_bytes = 0
                if c.wpending is None:
                    writes += 1
                n = send(c, data)
                if n < 0:
                    continue
                out_bytes += n
            if c.close_after_reply and c.wpending is None:
                free(c)
        stats = self.server.stats
        stats.net_output_bytes += out_bytes
        stats.total_writes_processed += writes

    def send_released(self, pairs):
        """Send replies that waited for an fsync (aof/groupsync.py): each
        (client, bytes) goes out now, behind whatever the client still has
        waiting for EPOLLOUT."""
        free = self.server.free_client
        send = self._send
        out_bytes = 0
        for c, data in pairs:
            if c.closed:
                continue
            n = send(c, data)
            if n < 0:
                continue
            out_bytes += n
            if c.close_after_reply and c.wpending is None and not c.wbuf:
                free(c)
        stats = self.server.stats
        stats.net_output_bytes += out_bytes
        stats.total_writes_processed += len(pairs)

    def _send(self, c, data):
        """Send `data` to `c` now, or queue it behind what still waits for
        EPOLLOUT (in order). The bytes the socket took; -1 if the client
        was freed (a send error)."""
        if c.wpending is not None:
            c.wpending = bytes(c.wpending) + data
            self.server.output_limits.check(c)
            return 0
        try:
            n = _write(c.fd, data) if c.io_link is None else c.send(data)
        except (BlockingIOError, InterruptedError):
            n = 0
        except OSError as e:
            logsetup.verbose("Error writing to client: %s", e.strerror)
            self.server.free_client(c)
            return -1
        c.tot_net_out += n
        if n < len(data):
            c.wpending = memoryview(data)[n:]
            self.ep.modify(c.fd, EPOLLIN | EPOLLOUT)
            self.server.output_limits.check(c)
        return n

    def handle_writable(self, c):
        data = c.wpending
        if data is None:
            self.ep.modify(c.fd, EPOLLIN)
            return
        self.server.stats.total_writes_processed += 1
        try:
            n = c.send(data)
        except (BlockingIOError, InterruptedError):
            return
        except OSError:
            self.server.free_client(c)
            return
        self.server.stats.net_output_bytes += n
        c.tot_net_out += n
        if n < len(data):
            c.wpending = data[n:]
            return
        c.wpending = None
        self.ep.modify(c.fd, EPOLLIN)
        if c.wbuf:
            # Replies queued meanwhile leave in before_sleep, after the AOF
            # flush: sending them from here could acknowledge a write of this
            # iteration before `appendfsync always` has synced it.
            if not c.in_write_list:
                c.in_write_list = True
                self.server.pending_writes.append(c)
        elif c.close_after_reply:
            self.server.free_client(c)

    def unregister(self, fd):
        try:
            self.ep.unregister(fd)
        except (OSError, ValueError):
            pass


def _fmt_addr(peer):
    host, port = peer[0], peer[1]
    if ":" in host:  # IPv6, bracketed as Redis's anetFormatAddr does
        return "[%s]:%d" % (host, port)
    return "%s:%d" % (host, port)
