"""Admission: the checks a command passes before it runs, as Redis's
processCommand makes them, split from engine/server.py (Server inherits
them): the subcommand and its arity, the client's state (NOAUTH, MULTI
queueing, RESP2 subscriber mode), and the server's refusals (MISCONF,
NOREPLICAS, READONLY, MASTERDOWN, LOADING), which a write queued in MULTI
meets at queue time, so EXEC then aborts. A refused command counts as
rejected, not as a call, and a refused EXEC ends its transaction."""

from . import resp
from .commands.transactions import exec_abort_error

_NO_AUTH_COMMANDS = {b"auth", b"hello", b"quit", b"reset"}
_MULTI_PASSTHROUGH = {b"exec", b"discard", b"multi", b"watch", b"quit", b"reset"}
_PUBSUB_RESP2_ALLOWED = {b"subscribe", b"ssubscribe", b"unsubscribe", b"sunsubscribe", b"psubscribe",
                         b"punsubscribe", b"ping", b"quit", b"reset"}


# What a non-loopback connection gets while protected-mode is on and no
# password is set: Redis 7.0's words (its typo too), refused at accept.
PROTECTED_MODE_DENIED = (b"-DENIED Redis is running in protected mode because protected mode is enabled and no "
                         b"password is set for the default user. In this mode connections are only accepted from "
                         b"the loopback interface. If you want to connect from external computers to Redis you may "
                         b"adopt one of the following solutions: 1) Just disable protected mode sending the command "
                         b"'CONFIG SET protected-mode no' from the loopback interface by connecting to Redis from the "
                         b"same host the server is running, however MAKE SURE Redis is not publicly accessible from "
                         b"internet if you do so. Use CONFIG REWRITE to make this change permanent. 2) Alternatively "
                         b"you can just disable the protected mode by editing the Redis configuration file, and "
                         b"setting the protected mode option to 'no', and then restarting the server. 3) If you "
                         b"started the server manually just for testing, restart it with the '--protected-mode no' "
                         b"option. 4) Setup a an authentication password for the default user. NOTE: You only need "
                         b"to do one of the above things in order for the server to start accepting connections from "
                         b"the outside.\r\n")


class Admission:
    """Mixed into Server: it reads the server's state (stats, loading,
    write_block_reason, replica_read_only, masterdown_reason)."""

    def _reject(self, c, cmd, err):
        if cmd is not None:
            cmd.rejected_calls += 1
            if cmd.name == b"exec":  # Redis's rejectCommand: a refused EXEC aborts the transaction
                err = exec_abort_error(c, err)
        data = resp.error(err)
        self.stats.count_error(data)
        if c.multi_queue is not None:
            c.multi_error = True
        c.write(data)

    def _subcommand_ok(self, c, cmd, argv):
        """As Redis's processCommand: an unknown subcommand or one with the
        wrong arity is rejected before it runs or is queued (so it counts as
        rejected, not as a processed command)."""
        sub = cmd.subcommands.get(argv[1].lower())
        if sub is None:
            name = argv[1][:128].decode("utf-8", errors="replace")
            self._reject(c, None, "ERR unknown subcommand '%s'. Try %s HELP."
                         % (name, argv[0].decode("utf-8", errors="replace").upper()))
            return False
        c.last_cmd = sub.fullname
        a = sub.arity
        n = len(argv)
        if (n != a) if a >= 0 else (n < -a):
            self._reject(c, sub, b"ERR wrong number of arguments for '%s' command" % sub.fullname)
            return False
        return True

    def _gate(self, c, cmd, argv):
        """Checks for clients in a special state (not authenticated, ACL
        user restricted, inside MULTI, subscribed in RESP2). True if the
        command was handled here."""
        if not c.authenticated and cmd.name not in _NO_AUTH_COMMANDS and self.acl.auth_required():
            self._reject(c, cmd, b"NOAUTH Authentication required.")
            return True
        if c.multi_queue is None or "no-multi" not in cmd.flags:  # Redis refuses those first
            err = self.acl.denial(c, cmd, argv)  # engine/acl: -NOPERM, or None
            if err is not None:
                self._reject(c, cmd, err)
                return True
        if c.multi_queue is not None and cmd.name not in _MULTI_PASSTHROUGH:
            err = b"ERR Command not allowed inside a transaction" if "no-multi" in cmd.flags else \
                self._refusal(c, cmd, argv)  # refused at queue time: EXEC then aborts, as in Redis
            if err is not None:
                self._reject(c, cmd, err)
                return True
            c.multi_queue.append((cmd, argv))
            c.write(resp.QUEUED)
            return True
        if (c.subscriptions or c.psubscriptions) and c.resp == 2 and cmd.name not in _PUBSUB_RESP2_ALLOWED:
            self._reject(c, cmd, b"ERR Can't execute '%s': only (P|S)SUBSCRIBE / (P|S)UNSUBSCRIBE / PING / "
                                 b"QUIT / RESET are allowed in this context" % c.last_cmd)  # 'config|get'
            return True
        return False

    def _refusal(self, c, cmd, argv):
        """Why `cmd` may not run (or be queued in MULTI) now, in Redis's
        order: OOM (maxmemory, which may evict first: engine/eviction.py),
        MISCONF/NOREPLICAS, READONLY, MASTERDOWN, LOADING. None: it may.
        Our primary's stream is never refused."""
        if self.eviction.limit and c.kind == "normal" and not self.in_exec:
            err = self.eviction.refusal(c, cmd)
            if err is not None:
                return err
        if c.kind != "master":
            if cmd.is_write:
                if self.write_block_reason is not None:
                    err = self.write_refusal(cmd)
                    if err is not None:
                        return err
                if self.replica_read_only:
                    return b"READONLY You can't write against a read only replica."
            if self.masterdown_reason is not None and not self._stale_ok(cmd, argv):
                return self.masterdown_reason
        if self.loading and "loading" not in cmd.flags and c.kind != "aof":
            return b"LOADING Holdfast is loading the dataset in memory"
        return None

    def _stale_ok(self, cmd, argv):
        """Whether a command (or its subcommand: CONFIG SET) serves while the
        link to our primary is down and replica-serve-stale-data is no."""
        if cmd.subcommands and len(argv) > 1:
            cmd = cmd.subcommands.get(argv[1].lower(), cmd)
        return "stale" in cmd.flags
