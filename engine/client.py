"""A connected client: its socket, parser, selected database, output buffer
and the state CLIENT LIST reports."""

import itertools
import time

from . import resp
from .protocol import RequestParser

_ids = itertools.count(1)

# A client's reads start at 16 KiB, as Redis's PROTO_IOBUF_LEN: recv(n)
# allocates n bytes and shrinks them to what came, which at 64 KiB costs
# ~0.5 us a read. A client whose read fills the buffer (a big pipeline or
# value) reads 64 KiB from then on.
READ_SIZE = 16 * 1024
READ_SIZE_BIG = 64 * 1024

# Client flags as CLIENT LIST prints them.
FLAG_MULTI = "x"
FLAG_BLOCKED = "b"
FLAG_REPLICA = "S"
FLAG_MASTER = "M"
FLAG_PUBSUB = "P"
FLAG_MONITOR = "O"
FLAG_CLOSE_ASAP = "A"
FLAG_DIRTY_CAS = "d"
FLAG_UNBLOCKED = "u"
FLAG_READONLY = "r"


class Client:
    __slots__ = (
        "id", "sock", "send", "fd", "addr", "laddr", "server", "parser", "db", "resp", "name",
        "lib_name", "lib_ver", "authenticated", "user", "wbuf", "wbuf_bytes", "wpending",
        "close_after_reply", "closed", "ctime", "last_interaction", "last_cmd", "flags",
        "deferred", "blocked", "reply_mode", "skip_next_reply", "multi_queue", "multi_error",
        "watched_keys", "subscriptions", "psubscriptions", "is_monitor", "no_evict",
        "tot_net_in", "tot_net_out", "tot_cmds", "obl_soft_since", "kind", "unix",
        "in_write_list", "gated", "woff", "read_size", "io_link", "remote_out", "pipelining",
    )

    def __init__(self, server, sock, addr, laddr, unix=False):
        self.id = next(_ids)
        self.server = server
        self.sock = sock
        # Bound once; the event loop reads the fd itself and writes through
        # this only for a client an I/O worker owns (io_workers replaces it).
        self.send = getattr(sock, "send", None)
        self.fd = sock.fileno() if sock is not None else -1
        self.addr = addr  # "ip:port" or unix socket path
        self.laddr = laddr
        self.unix = unix
        self.parser = RequestParser(server.config["proto-max-bulk-len"])
        self.db = server.keyspace.dbs[0]
        self.resp = 2
        self.name = b""
        self.lib_name = b""
        self.lib_ver = b""
        self.authenticated = server.acl.default_open()
        self.user = "default"
        self.wbuf = []  # encoded replies not yet written
        self.wbuf_bytes = 0
        self.wpending = None  # bytes left over from a partial send
        self.in_write_list = False
        self.read_size = READ_SIZE  # bytes per recv (see READ_SIZE)
        # Its last read held more requests than one (or it has sent none
        # yet): its next read may be a uniform read (Server.run_uniform_read),
        # which a client sending one request a read need not be checked for.
        self.pipelining = True
        self.io_link = None  # the I/O worker that owns the socket (engine/io_workers.py), if any
        self.remote_out = 0  # reply bytes that worker still holds for this client
        self.woff = 0  # the replication offset after this client's last write (WAIT waits for it)
        self.close_after_reply = False
        self.closed = False
        self.ctime = time.time()
        self.last_interaction = int(self.ctime * 1000)  # unix ms
        self.last_cmd = b"NULL"
        self.flags = set()
        self.deferred = None  # requests read but not yet run (client blocked/paused)
        self.blocked = None  # blocking state (engine.blocking), None when not blocked
        self.reply_mode = "on"  # CLIENT REPLY on|off|skip
        self.skip_next_reply = False
        self.multi_queue = None  # list of argv while in MULTI
        self.multi_error = False
        self.watched_keys = None
        self.subscriptions = None
        self.psubscriptions = None
        self.is_monitor = False
        self.no_evict = False
        self.tot_net_in = 0
        self.tot_net_out = 0
        self.tot_cmds = 0
        self.obl_soft_since = 0
        self.kind = "normal"  # normal | replica | master | pubsub
        self.gated = False
        self.update_gate()

    def update_gate(self):
        """Recompute `gated`: True while the client is in a state where its
        commands need checks beyond the hot path (not authenticated, inside
        MULTI, subscribed, replies switched off, an ACL user that may not run
        everything). Call after changing any of those."""
        self.gated = (not self.authenticated or self.multi_queue is not None or bool(self.subscriptions)
                      or bool(self.psubscriptions) or self.reply_mode != "on" or self.skip_next_reply
                      or self.server.acl.gates(self))

    # -- output -----------------------------------------------------------------

    def write(self, data):
        """Queue encoded reply bytes; the event loop writes them in batches."""
        if self.reply_mode != "on" or self.skip_next_reply:
            return
        self.wbuf.append(data)
        self.wbuf_bytes += len(data)
        if not self.in_write_list:
            self.in_write_list = True
            self.server.pending_writes.append(self)

    def write_push(self, data):
        """Out-of-band data (pub/sub messages, MONITOR lines): written even
        when CLIENT REPLY is off, as Redis does."""
        self.wbuf.append(data)
        self.wbuf_bytes += len(data)
        if not self.in_write_list:
            self.in_write_list = True
            self.server.pending_writes.append(self)

    def error(self, msg):
        self.write(resp.error(msg))

    def output_bytes(self):
        return self.wbuf_bytes + (len(self.wpending) if self.wpending else 0) + self.remote_out

    def flag_string(self):
        f = "".join(sorted(self.flags))
        if self.is_monitor:
            f += FLAG_MONITOR
        if self.multi_queue is not None:
            f += FLAG_MULTI
        if self.blocked is not None:
            f += FLAG_BLOCKED
        if self.subscriptions or self.psubscriptions:
            f += FLAG_PUBSUB
        if self.close_after_reply:
            f += FLAG_CLOSE_ASAP
        return f or "N"

    def info_line(self, now=None):
        """One CLIENT LIST line, fields as Redis 7.0 prints them."""
        now = now or time.time()
        sub = len(self.subscriptions) if self.subscriptions else 0
        psub = len(self.psubscriptions) if self.psubscriptions else 0
        multi = len(self.multi_queue) if self.multi_queue is not None else -1
        qbuf = self.parser.pending_bytes()
        events = "r" + ("w" if self.wpending else "")
        return (
            "id=%d addr=%s laddr=%s fd=%d name=%s age=%d idle=%d flags=%s db=%d sub=%d psub=%d "
            "ssub=0 multi=%d qbuf=%d qbuf-free=%d argv-mem=0 multi-mem=0 rbs=16384 rbp=0 obl=0 "
            "oll=%d omem=%d tot-mem=%d events=%s cmd=%s user=%s redir=-1 resp=%d "
            "lib-name=%s lib-ver=%s"
            % (
                self.id, self.addr, self.laddr, self.fd, self.name.decode(errors="replace"),
                int(now - self.ctime), int(now - self.last_interaction / 1000), self.flag_string(),
                self.db.id, sub, psub, multi, qbuf, max(0, 16384 - qbuf),
                len(self.wbuf), self.output_bytes(), qbuf + self.output_bytes() + 1024,
                events, self.last_cmd.decode(errors="replace").lower(), self.user, self.resp,
                self.lib_name.decode(errors="replace"), self.lib_ver.decode(errors="replace"),
            )
        )
