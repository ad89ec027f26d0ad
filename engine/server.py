"""The server: owns the keyspace, the clients and the one write path.

`Server.call` runs one command for one client: lookup, checks, execution,
statistics. `Server.propagate` is the only place writes leave the keyspace
(AOF, replication backlog, the in-memory sink tests read). Subsystems hook in
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
from .eventloop import EventLoop
from .eviction import Eviction
from .keyspace import Keyspace
from .output_limits import OutputLimits
from .pause import ClientPause
from .pubsub import PubSub
from .slowlog import SlowLog
from .stats import Stats

_NO_FAST_COMMANDS = {}
# Command runs (see run_batch) are timed as a whole, so they are taken only
# while the slow log's threshold is at least this (or the log is off).
RUN_MIN_SLOWLOG_S = 0.001


class Server(Admission):
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

    # -- running commands -----------------------------------------------------------

    def process_input(self, c, data):
        """Parse what a client sent and run every complete command."""
        if c.close_after_reply:
            return  # after QUIT or a protocol error nothing more is read
        parser = c.parser
        self.process_requests(c, parser.parse(data), len(data))
        self.after_parse(c)

    def after_parse(self, c):
        """A protocol error or an oversized query buffer found by the read
        just run."""
        parser = c.parser
        if parser.error is not None:
            err = parser.error
            parser.error = None
            self.protocol_error(c, err)
        elif parser.pending and parser.pending_bytes() > self.config["client-query-buffer-limit"]:
            self.query_buffer_overflow(c, bytes(parser.pending[:64]))

    def process_requests(self, c, reqs, n):
        """Run the requests parsed from `n` bytes a client sent (here, or by
        its I/O worker: engine/io_workers.py)."""
        if c.close_after_reply:
            return
        c.tot_net_in += n
        st = self.stats
        st.net_input_bytes += n
        st.total_reads_processed += 1
        c.last_interaction = self.now_ms
        if reqs:
            if c.deferred is not None:
                c.deferred.extend(reqs)
            else:
                self.run_batch(c, reqs)

    def protocol_error(self, c, err):
        """Answer a malformed request as Redis does, then close."""
        if c.close_after_reply or c.closed:
            return
        logsetup.verbose("Protocol error (%s) from client: id=%d addr=%s", err, c.id, c.addr)
        c.write(resp.error("ERR Protocol error: %s" % err))
        c.close_after_reply = True
        c.deferred = None

    def query_buffer_overflow(self, c, head):
        logsetup.warning("Closing client that reached max query buffer length: id=%d addr=%s "
                         "(qbuf initial bytes: %r)", c.id, c.addr, head)
        self.free_client(c)

    def resume_deferred(self, c):
        """Run requests a client sent while it was blocked, after it unblocks."""
        reqs = c.deferred
        c.deferred = None
        if reqs:
            self.run_batch(c, reqs)

    def run_batch(self, c, reqs):
        """Run a client's parsed requests in order. This is the hot path: a
        command found in the fast table (see _build_command_table) with the
        right arity runs inline with one clock read; anything else, and every
        command of a client in a special state (MULTI, subscribed, not
        authenticated, MONITOR running), goes through `call`, which does
        every check.

        A command with a runner (GET, SET: see commands.runner) hands it the
        whole run of its plain requests that follows, one loop instead of a
        call each. A run is timed as a whole, so runs are taken only while
        the slow log is off or its threshold is 1 ms or more: each request of
        a run is O(1) with a small value, so none can reach the threshold
        alone."""
        self.current_client = c  # whose writes these are (the replication offset for its WAIT)
        if (c.gated or self.monitors or self.write_block_reason is not None or self.loading or self.replica_read_only
                or self.masterdown_reason is not None or self.pause.kind):
            fast = self._fast_table(c)
        else:
            fast = self.fast_commands  # the usual case, without a call
        wbuf = c.wbuf
        # A float clock: cheaper than perf_counter_ns's big ints on this path.
        clock = time.perf_counter
        slow_s = self.slowlog_threshold_s
        runs = slow_s >= RUN_MIN_SLOWLOG_S and len(reqs) > 1  # one request: its handler is cheaper
        ready_keys = self.ready_keys
        # Statistics of a run of the same fast command (a pipeline of SETs)
        # are added up here and credited when the command changes, before
        # the next one runs, so INFO in the same pipeline sees them. The
        # run's time is its clock span (t_prev - run_t0), gaps taken out.
        run = None
        run_n = 0
        run_t0 = t_prev = clock()
        i, n = 0, len(reqs)
        while i < n:
            argv = reqs[i]
            i += 1
            try:
                if not argv:
                    continue
                entry = fast.get(argv[0])
                if entry is not None:
                    cmd, handler, lo, hi, runner = entry
                    if lo <= len(argv) <= hi:
                        if cmd is not run:
                            if run is not None:
                                self._credit(c, run, run_n, t_prev - run_t0)
                            run = cmd
                            run_n = 0
                            run_t0 = t_prev
                        if runner is not None and runs and (j := runner(c, reqs, i - 1)) >= i:
                            run_n += j - i + 1  # it ran reqs[i - 1:j], timed as one
                            i = j
                            t_prev = clock()
                        else:
                            reply = handler(c, argv)
                            t = clock()
                            run_n += 1
                            if reply is not None:
                                wbuf.append(reply)
                                if reply[0] == 45:  # '-'
                                    cmd.failed_calls += 1
                                    self.stats.count_error(reply)
                            if t - t_prev >= slow_s:
                                self.slowlog.add(c, argv, int((t - t_prev) * 1e6), self.config["slowlog-max-len"])
                            t_prev = t
                        if ready_keys:
                            # This command fed keys that blocked clients wait on:
                            # serve them now, before this client's next command.
                            self.blocking.handle_ready()
                            t = clock()
                            run_t0 += t - t_prev  # not this client's command time
                            t_prev = t
                        continue
                if run is not None:
                    self._credit(c, run, run_n, t_prev - run_t0)
                    run = None
                self.call(c, argv)
                if ready_keys:
                    self.blocking.handle_ready()
                if c.deferred is not None or c.close_after_reply or c.closed:
                    # Blocked (the rest waits), QUIT, or killed: stop here.
                    if c.deferred is not None:
                        c.deferred.extend(reqs[i:])
                    break
                fast = self._fast_table(c)  # the command may have changed the client's state
                t_prev = clock()
            except Exception:  # a bug in a command must not take the server down
                if run is not None:
                    self._credit(c, run, run_n, t_prev - run_t0)
                    run = None
                self.internal_error(c, argv)
                if c.closed or c.close_after_reply:
                    break
                fast = self._fast_table(c)
                t_prev = clock()
        if run is not None:  # _credit, inline: every batch ends here
            run.calls += run_n
            run.usec += (t_prev - run_t0) * 1e9
            c.tot_cmds += run_n
            self.stats.total_commands_processed += run_n
            c.last_cmd = run.name
        if c.wbuf and not c.in_write_list:
            c.in_write_list = True
            self.pending_writes.append(c)

    def _credit(self, c, cmd, n, seconds):
        """Count `n` runs of `cmd` taking `seconds` in all (Command.usec
        counts nanoseconds)."""
        cmd.calls += n
        cmd.usec += seconds * 1e9
        c.tot_cmds += n
        self.stats.total_commands_processed += n

    def internal_error(self, c, argv):
        """A command raised: log the traceback, answer its client with an
        error and go on serving (Redis would crash; we need not)."""
        name = argv[0][:64].decode("utf-8", errors="replace") if argv else ""
        logsetup.log_exception("Internal error running command '%s' for client id=%d addr=%s"
                               % (name, c.id, c.addr))
        self.stats.total_commands_processed += 1
        if not c.closed:
            c.write(resp.error("ERR internal error running '%s' (see the server log)" % name))

    def _fast_table(self, c):
        if c.gated or self.monitors or self.loading or self.masterdown_reason is not None or self.pause.kind:
            return _NO_FAST_COMMANDS
        if self.write_block_reason is not None or self.replica_read_only:
            return self.fast_read_only
        return self.fast_commands

    def call(self, c, argv):
        """Run one command with every check (the slow path of run_batch, and
        the entry point for MULTI/EXEC and unblocked clients)."""
        self.current_client = c
        if not c.skip_next_reply:
            self._call(c, argv)
            return
        # CLIENT REPLY SKIP armed by the previous command: drop this one's
        # reply, whichever path it takes (rejected, queued or run), unless
        # this command arms it again (another CLIENT REPLY SKIP).
        c.skip_next_reply = "now"
        try:
            self._call(c, argv)
        finally:
            if c.skip_next_reply == "now":
                c.skip_next_reply = False
                c.update_gate()

    def _call(self, c, argv):
        cmd = self.commands.get(argv[0])
        if cmd is None:
            cmd = self.commands.get(argv[0].lower())
            if cmd is None:
                self._reject(c, None, _unknown_command(argv))
                return
        c.last_cmd = cmd.name
        a = cmd.arity
        n = len(argv)
        if (n != a) if a >= 0 else (n < -a):
            self._reject(c, cmd, b"ERR wrong number of arguments for '%s' command" % cmd.name)
            return
        if cmd.subcommands and n > 1 and not self._subcommand_ok(c, cmd, argv):
            return
        if self.pause.kind and c.authenticated and self.pause.holds(c, cmd):
            self.pause.postpone(c, argv)  # CLIENT PAUSE: this and what follows wait for its end
            return
        if c.gated and self._gate(c, cmd, argv):
            return
        err = self._refusal(c, cmd, argv)
        if err is not None:
            self._reject(c, cmd, err)
            return
        t0 = time.perf_counter_ns()
        reply = cmd.handler(c, argv)
        dur = time.perf_counter_ns() - t0
        if c.kind == "aof":
            return  # replayed from the AOF: Redis runs those without call(), counted nowhere
        cmd.calls += 1
        cmd.usec += dur
        c.tot_cmds += 1
        self.stats.total_commands_processed += 1
        if reply is not None:
            c.write(reply)
            if reply[0] == 45:  # '-'
                cmd.failed_calls += 1
                self.stats.count_error(reply)
        if dur >= self.slowlog_threshold_ns:
            self.slowlog.add(c, argv, dur // 1000, self.config["slowlog-max-len"])
        if self.monitors:
            self.feed_monitors(c, argv, cmd)

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

    def propagate(self, dbid, argv, repl_only=False, encoded=None):
        """Send a write, already rewritten to be deterministic, to every
        consumer of the write stream: the AOF, the replication backlog, the
        test sink. `repl_only` writes (PUBLISH) skip the AOF, as in Redis.
        `encoded`: argv as RESP already (RequestParser.whole)."""
        if not repl_only:
            self.dirty += 1
        if self.propagation_targets:
            self._feed_stream(dbid, encoded or resp.encode_command(argv), repl_only)

    def propagate_run(self, dbid, argvs, encoded=None):
        """propagate() for a run of writes (Server.run_batch's command runs):
        one encoding and one feed per consumer for all of them. `encoded`:
        the run as RESP already (the read it came in: RequestParser.whole)."""
        self.dirty += len(argvs)
        if self.propagation_targets:
            self._feed_stream(dbid, encoded or b"".join(map(resp.encode_command, argvs)))

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


def _unknown_command(argv):
    args = b""
    for a in argv[1:]:
        if len(args) >= 128:
            break
        args += b"'%s' " % a[: 128 - len(args)]
    return b"ERR unknown command '%s', with args beginning with: %s" % (argv[0][:128], args)


def _is_loopback(host):
    return host.startswith("127.") or host == "::1" or host.startswith("::ffff:127.")
