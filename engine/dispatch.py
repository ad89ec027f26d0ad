"""Running what clients send: Server's request path, mixed into Server.

A read's requests go from the parser (engine/protocol.py) through
`process_requests` to `run_batch`, the hot path: a command in the fast
table with the right arity runs inline, a GET/SET run goes to its runner
(engine/commands/string_runs.py), and everything else, or every command of
a client in a special state, goes through `call`, which does every check
(engine/admission.py) before running it.
"""

import time

from . import logsetup, resp, uniform_reads

_clock = time.perf_counter
_NO_FAST_COMMANDS = {}
# Command runs (see run_batch) are timed as a whole, so they are taken only
# while the slow log's threshold is at least this (or the log is off).
RUN_MIN_SLOWLOG_S = 0.001


class Dispatch:
    """Mixed into Server: it uses the server's clients, stats, command
    tables, slow log, blocking and the Admission checks."""

    def process_input(self, c, data):
        """Parse what a client sent and run every complete command."""
        if c.close_after_reply:
            return  # after QUIT or a protocol error nothing more is read
        if c.pipelining and data[:1] == b"*" and self.run_uniform_read(c, data):
            return
        parser = c.parser
        reqs = parser.parse(data)
        c.pipelining = len(reqs) > 1
        self.process_requests(c, reqs, len(data))
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

    def run_uniform_read(self, c, data):
        """Run a read that is one command repeated with arguments of the
        same lengths (engine/uniform_reads.py) by that command's uniform runner,
        if it has one and the runner takes the read; True if it ran, False
        if the read must take the usual path (nothing has changed then).
        It is counted as the usual path counts a run of that command (see
        run_batch): timed as a whole, so only while the slow log cannot see
        a single request."""
        parser = c.parser
        if (c.deferred is not None or parser.pending or parser.multibulk_left
                or self.slowlog_threshold_s < RUN_MIN_SLOWLOG_S):
            return False
        uniform = uniform_reads.split(data)
        if uniform is None:
            return False
        name, argc, args = uniform
        entry = self._fast_table(c).get(name)  # once a read: run_batch's table, whatever the client's state
        if entry is None or (runner := entry[0].uniform_runner) is None:
            return False
        self.current_client = c
        t0 = _clock()
        try:
            reply = runner(c, argc, args, data)  # it checks argc itself
        except Exception:  # a bug in a runner: log it, and let each request run alone
            logsetup.log_exception("Internal error in the uniform runner of '%s' for client id=%d addr=%s"
                                   % (entry[0].name.decode(), c.id, c.addr))
            return False
        if reply is None:
            return False
        t = _clock()
        # process_requests' and run_batch's bookkeeping, for the read.
        cmd = entry[0]
        n = len(args) // (argc - 1)
        size = len(data)
        st = self.stats
        st.net_input_bytes += size
        st.total_reads_processed += 1
        st.total_commands_processed += n
        c.tot_net_in += size
        c.last_interaction = self.now_ms
        c.tot_cmds += n
        c.last_cmd = cmd.name
        cmd.calls += n
        cmd.usec += (t - t0) * 1e9
        c.wbuf.append(reply)
        if not c.in_write_list:
            c.in_write_list = True
            self.pending_writes.append(c)
        return True

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
        if len(reqs) == 1 and reqs[0]:
            # Unpipelined traffic, one request a read: the loop below with
            # its run bookkeeping left out. Keep the two in step.
            argv = reqs[0]
            entry = fast.get(argv[0])
            if entry is not None and entry[2] <= len(argv) <= entry[3]:
                cmd = entry[0]
                clock = time.perf_counter
                t0 = clock()
                try:
                    reply = entry[1](c, argv)
                except Exception:  # a bug in a command must not take the server down
                    self.internal_error(c, argv)
                else:
                    t = clock()
                    cmd.calls += 1
                    cmd.usec += (t - t0) * 1e9
                    c.tot_cmds += 1
                    st = self.stats
                    st.total_commands_processed += 1
                    c.last_cmd = cmd.name
                    if reply is not None:
                        c.wbuf.append(reply)
                        if reply[0] == 45:  # '-'
                            cmd.failed_calls += 1
                            st.count_error(reply)
                    if t - t0 >= self.slowlog_threshold_s:
                        self.slowlog.add(c, argv, int((t - t0) * 1e6), self.config["slowlog-max-len"])
                    if self.ready_keys:
                        self.blocking.handle_ready()
                if c.wbuf and not c.in_write_list:
                    c.in_write_list = True
                    self.pending_writes.append(c)
                return
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


def _unknown_command(argv):
    args = b""
    for a in argv[1:]:
        if len(args) >= 128:
            break
        args += b"'%s' " % a[: 128 - len(args)]
    return b"ERR unknown command '%s', with args beginning with: %s" % (argv[0][:128], args)
