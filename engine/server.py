"""The server: owns the keyspace, the clients and the one write path.

Running what clients send (`run_batch`, the hot path, and `call`, one
command with every check) is engine/dispatch.py, mixed in.
`Server.propagate` is the only place writes leave the keyspace (AOF,
replication backlog, the in-memory sink tests read). Subsystems hook in
through small lists (`before_sleep_hooks`, `cron_hooks`, `shutdown_hooks`,
`propagation_targets`) rather than by reaching into clients.
"""

import binascii
import os
import time

from . import logsetup, monitor, resp
from .acl import Acl
from .admission import PROTECTED_MODE_DENIED, Admission
from .blocking import Blocking
from .command_tables import command_tables
from .dispatch import Dispatch
from .eventloop import EventLoop
from .eviction import Eviction
from .keyspace import Keyspace
from .output_limits import OutputLimits
from .pause import ClientPause
from .pubsub import PubSub
from .slowlog import SlowLog
from .stats import Stats


class Server(Admission, Dispatch):
    def __init__(self, config):
        self.config = config
        self.pid = os.getpid()
        self.run_id = binascii.hexlify(os.urandom(20)).decode()
        self.start_time = time.time()
        self.now_ms = int(self.start_time * 1000)
        self.lru_clock = self.now_ms // 1000  # seconds, cached per loop iteration (OBJECT IDLETIME)
        self.lfu_on = False  # maxmemory-policy is *-lfu; the keyspace keeps it current
        self.keyspace = Keyspace(self, config["databases"])
        self.clients = {}  # fd -> Client
        self.pending_writes = []  # clients with queued replies this iteration
        self.io_workers = None  # engine/io_workers.py's pool when io-threads > 1
        self.reply_hold = None  # aof/groupsync.py's GroupSync while appendfsync always pipelines its fsyncs
        self.stats = Stats()
        self.slowlog = SlowLog()
        self.monitors = []
        self.loop = EventLoop(self)
        self.commands = {}
        self.is_replica = False
        self.replica_read_only = False  # a replica with replica-read-only: -READONLY for clients' writes
        self.applying_primary_stream = False  # running a command of our primary's stream (replication/)
        self.masterdown_reason = None  # replica-serve-stale-data no, link down: the -MASTERDOWN error
        self.current_client = None  # the client whose command runs (or ran last)
        self.loading = False
        self.dirty = 0  # changes since the last save (rdb_changes_since_last_save)
        self.lastsave = int(self.start_time)
        self.shutdown_reason = None
        self.shutdown_flags = ()
        self.exit_code = 0
        self.propagation_targets = []
        self.in_exec = False  # running a transaction's commands (blocking commands do not block)
        self.exec_pending_multi = False  # inside EXEC, no write propagated yet
        self.exec_multi_emitted = False  # inside EXEC, MULTI already propagated
        self.memory_sink = None
        self.aof = None  # the AppendOnly when appendonly is on (aof/)
        self.write_block_reason = None  # an error reply that refuses writes (MISCONF, ...)
        self.before_sleep_hooks = []
        self.cron_hooks = []
        self.shutdown_hooks = []
        self.shutdown_waiters = []  # clients whose SHUTDOWN waits for the outcome
        self.client_free_hooks = []  # fn(client) when a client goes away
        self.info_providers = {}  # INFO section -> [fn(server) -> [(field, value)]] (engine/info.py)
        self.other_fds = {}  # fd -> callback(ev), for subsystems' own sockets/pipes
        self.cronloops = 0
        self.notify_flags = ""  # notify-keyspace-events, parsed
        self.notify_hook = None  # set by pub/sub when it exists
        self.modified_key_hook = None  # set by WATCH when it exists
        self._build_command_table()
        self.pubsub = PubSub(self)
        self.blocking = Blocking(self)
        self.pause = ClientPause(self)  # CLIENT PAUSE (engine/pause.py)
        self.output_limits = OutputLimits(self)  # client-output-buffer-limit normal/pubsub
        self.acl = Acl(self)  # users, requirepass, the aclfile (engine/acl/)
        self.eviction = Eviction(self)  # maxmemory: swaps in a hot-path table without denyoom commands
        config.on_change("loglevel", lambda _o, new: logsetup.set_level(new))
        self._set_slowlog_threshold()
        config.on_change("slowlog-log-slower-than", self._set_slowlog_threshold)
        from rdb.snapshot import Snapshots  # noqa: PLC0415 - rdb builds on the engine's modules

        self.snapshots = Snapshots(self)
        config.on_change("appendonly", self._appendonly_changed)

    # -- command table ------------------------------------------------------------

    def _build_command_table(self):
        self.commands, self.fast_commands, self.fast_read_only = command_tables(self.config.renamed_commands)

    def lookup_command(self, name):
        cmd = self.commands.get(name)
        if cmd is None:
            cmd = self.commands.get(name.lower())
        return cmd

    def _appendonly_changed(self, _old, new):
        """CONFIG SET appendonly (at start the AOF is opened by main)."""
        from aof import switch  # noqa: PLC0415 - aof builds on the engine

        switch(self, new)

    def _set_slowlog_threshold(self, _old=None, new=None):
        v = self.config["slowlog-log-slower-than"] if new is None else new
        # Negative disables the slow log; 0 logs every command.
        self.slowlog_threshold_ns = v * 1000 if v >= 0 else 1 << 62
        self.slowlog_threshold_s = v / 1e6 if v >= 0 else float("inf")

    def write_refusal(self, cmd):
        """The error a write command gets while writes are refused, or None."""
        return self.write_block_reason

    def feed_monitors(self, c, argv, cmd=None):
        """Show a command that ran to MONITOR clients (engine/monitor.py)."""
        monitor.feed(self, c, argv, cmd)

    # -- the one write path ------------------------------------------------------

    def propagate(self, dbid, argv, repl_only=False):
        """Send a write, already rewritten to be deterministic, to every
        consumer of the write stream: the AOF, the replication backlog, the
        test sink. `repl_only` writes (PUBLISH) skip the AOF, as in Redis."""
        if not repl_only:
            self.dirty += 1
        if self.propagation_targets:
            self._feed_stream(dbid, self._as_sent(argv, 1) or resp.encode_command(argv), repl_only)

    def propagate_run(self, dbid, argvs):
        """propagate() for a run of writes (Server.run_batch's command runs):
        one encoding and one feed per consumer for all of them."""
        self.dirty += len(argvs)
        if self.propagation_targets:
            self._feed_stream(dbid, self._as_sent(argvs[0], len(argvs)) or b"".join(map(resp.encode_command, argvs)))

    def propagate_read(self, dbid, n, data):
        """propagate() for `n` writes that are, byte for byte, `data`: a
        uniform read of writes that go out unchanged (engine/uniform_reads.py)."""
        self.dirty += n
        if self.propagation_targets:
            self._feed_stream(dbid, data)

    def _as_sent(self, first, n):
        """The bytes the running client sent for the `n` requests starting
        with the argv `first`, when they are the whole read being run
        (RequestParser.whole: those bytes are exactly their RESP encoding,
        so they need not be encoded again); else None. A write rewritten
        for the stream is a new list, never a request of the read."""
        c = self.current_client
        whole = c.parser.whole if c is not None else None
        if whole is not None and whole[0][0] is first and len(whole[0]) == n:
            return whole[1]
        return None

    def _feed_stream(self, dbid, data, repl_only=False):
        """Feed encoded writes to each consumer. Each stream gets a SELECT
        when its database changes; inside EXEC the first write opens the
        stream's MULTI (closed by EXEC)."""
        if self.exec_pending_multi:
            self.exec_pending_multi = False
            self.exec_multi_emitted = True
            self.propagate(dbid, [b"MULTI"])
            self.dirty -= 1
        for t in self.propagation_targets:
            if repl_only and not t.replication:
                continue
            if t.db != dbid:
                t.feed(resp.encode_command([b"SELECT", b"%d" % dbid]))
                t.db = dbid
            t.feed(data)

    def add_propagation_target(self, target):
        """Attach a consumer of the write stream. A target has `feed(bytes)`,
        `db` (the last SELECTed db of its stream, -1 to start with a SELECT)
        and `replication` (True if it also wants replication-only writes)."""
        target.db = -1
        self.propagation_targets.append(target)

    def remove_propagation_target(self, target):
        if target in self.propagation_targets:
            self.propagation_targets.remove(target)

    def notify(self, dbid, type_flag, event, key):
        """Keyspace notification hook (pub/sub fills it in)."""
        if self.notify_hook is not None:
            self.notify_hook(dbid, type_flag, event, key)

    def signal_modified_key(self, db, key):
        """Touching a key invalidates WATCHes on it (transactions fill it in)."""
        if self.modified_key_hook is not None and db.watched:
            self.modified_key_hook(db, key)

    # -- clients --------------------------------------------------------------------

    def accept_refusal(self, peer, is_unix):
        """The bytes to send a connection we refuse, or None to accept it."""
        if len(self.clients) >= self.config["maxclients"]:
            return b"-ERR max number of clients reached\r\n"
        if (self.config["protected-mode"] and self.acl.default.nopass and not is_unix
                and not _is_loopback(peer[0])):
            return PROTECTED_MODE_DENIED
        return None

    def free_client(self, c):
        if c.closed:
            return
        c.closed = True
        for hook in self.client_free_hooks:
            hook(c)
        self.clients.pop(c.fd, None)
        self.loop.unregister(c.fd)
        if c in self.monitors:
            self.monitors.remove(c)
        try:
            c.sock.close()
        except OSError:
            pass

    def seconds_to_next_deadline(self):
        """How long the loop may sleep for blocked clients' timeouts (None: no limit)."""
        if not self.blocking.blocked_clients:
            return None
        ms = self.blocking.ms_to_next_timeout(int(time.time() * 1000))
        return None if ms is None else ms / 1000

    def handle_other_fd(self, fd, ev):
        cb = self.other_fds.get(fd)
        if cb is not None:
            cb(ev)

    # -- time, cron, before_sleep -------------------------------------------------------

    def update_clock(self):
        self.now_ms = int(time.time() * 1000)
        self.lru_clock = self.now_ms // 1000

    def cron(self):
        """serverCron: runs `hz` times a second."""
        self.cronloops += 1
        self.update_clock()
        hz = self.config["hz"]
        # Active expiry gets 25% of a cron period, as ACTIVE_EXPIRE_CYCLE_SLOW_TIME_PERC.
        self.keyspace.active_expire_cycle(1_000_000 * 25 // 100 // hz)
        self._clients_cron()
        self.stats.sample(self.now_ms)
        for hook in self.cron_hooks:
            hook()

    def _clients_cron(self):
        timeout = self.config["timeout"]
        if not timeout:
            return
        now = self.now_ms / 1000
        for c in list(self.clients.values()):
            if c.kind != "normal" or c.blocked is not None or c.subscriptions or c.psubscriptions:
                continue
            if now - c.last_interaction / 1000 > timeout:
                logsetup.verbose("Closing idle client")
                self.free_client(c)

    def before_sleep(self):
        blocking = self.blocking
        if blocking.blocked_clients:
            if self.ready_keys:
                blocking.handle_ready()
            blocking.check_timeouts(int(time.time() * 1000))
        for hook in self.before_sleep_hooks:
            hook()
        self.flush_replies()

    def flush_replies(self):
        """Send every queued reply, unless an fsync they wait for is in flight
        (`appendfsync always`, aof/groupsync.py): then they stay queued."""
        pw = self.pending_writes
        if pw:
            hold = self.reply_hold
            if hold is not None and (hold.inflight or hold.paused):
                if hold.inflight:
                    hold.hold()
                # paused: they stay queued, and the loop polls without sleeping
            else:
                self.pending_writes = []
                self.loop.flush_pending(pw)
        if self.io_workers is not None:
            self.io_workers.flush()  # one frame per worker: the replies of this pass

    # -- lifecycle -----------------------------------------------------------------------

    def start(self):
        self.loop.listen()
        self.loop.install_signal_handlers()
        if self.config["io-threads"] > 1:
            from .io_workers import IoWorkers  # noqa: PLC0415 - only io-threads > 1 loads it

            self.io_workers = IoWorkers(self, self.config["io-threads"] - 1)
        pidfile = self.config["pidfile"]
        if pidfile:
            with open(pidfile, "w") as f:
                f.write("%d\n" % os.getpid())

    def serve_forever(self):
        logsetup.notice("Ready to accept connections")  # Redis 7.0.x words it so
        self.loop.run()
        return self.exit_code

    def request_shutdown(self, reason, flags=()):
        """Ask the loop to stop after this iteration (signal handler, SHUTDOWN)."""
        if self.shutdown_reason is None:
            self.shutdown_reason = reason
            self.shutdown_flags = tuple(flags)
        self.loop.wake()

    def finish_shutdown(self):
        """Run shutdown hooks (saving lands here); True when the loop may exit.
        A hook that fails (a save that cannot be written) cancels the
        shutdown unless NOW/FORCE was given, as Redis does."""
        logsetup.warning("User requested shutdown..." if "user" in self.shutdown_flags else self.shutdown_reason)
        for hook in self.shutdown_hooks:
            err = hook(self.shutdown_flags)
            if err and "force" not in self.shutdown_flags:
                logsetup.warning("Errors trying to SHUTDOWN. Check logs.")
                for c in self.shutdown_waiters:  # SHUTDOWN callers get the error
                    if not c.closed:
                        c.write(resp.error(b"ERR Errors trying to SHUTDOWN. Check logs."))
                self.shutdown_waiters = []
                self.shutdown_reason = None
                self.shutdown_flags = ()
                return False
        pidfile = self.config["pidfile"]
        if pidfile:
            try:
                os.unlink(pidfile)
            except OSError:
                pass
        for c in list(self.clients.values()):
            self.free_client(c)
        if self.io_workers is not None:
            self.io_workers.stop()
        self.loop.close_listeners()
        logsetup.warning("%s is now ready to exit, bye bye...", "Holdfast")
        return True


def _is_loopback(host):
    return host.startswith("127.") or host == "::1" or host.startswith("::ffff:127.")
