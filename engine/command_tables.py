"""The server's command tables, built once from the registered commands
(engine/commands) and `rename-command`: every name in lower and upper case
-> Command, and the hot path's tables (see Server.run_batch)."""

from .commands import load_all

# Commands that may change the calling client's state (authentication,
# protocol, MULTI, subscriptions, reply mode, blocking, closing) never take
# the hot path: run_batch re-reads that state only after slow-path calls.
_STATE_CHANGING_FLAGS = {"noscript", "admin", "blocking", "pubsub", "no_auth", "no-auth"}
_STATE_CHANGING_NAMES = {b"auth", b"hello", b"client", b"config", b"quit", b"reset", b"multi", b"exec",
                         b"discard", b"watch", b"unwatch", b"monitor", b"shutdown", b"debug", b"wait",
                         b"psync", b"sync", b"replconf", b"replicaof", b"slaveof", b"failover"}


def _hot_path_ok(cmd):
    return (cmd.name not in _STATE_CHANGING_NAMES and not cmd.subcommands
            and not _STATE_CHANGING_FLAGS.intersection(cmd.flags))


def command_tables(renamed):
    """(commands, fast, fast_read_only). The hot path's tables map a name to
    (cmd, handler, min argc, max argc, runner or None), only for commands that cannot change
    the calling client's state (gating, blocking, closing), so run_batch
    need not re-check it after each one; `fast_read_only` serves while
    writes are refused."""
    cmds = {}
    for name, cmd in load_all().items():
        new = renamed.get(name, name)
        if not new:
            continue  # renamed to "" disables the command
        cmds[new.lower()] = cmd
        cmds[new.upper()] = cmd
    fast = {}
    for name, cmd in cmds.items():
        if _hot_path_ok(cmd):
            lo, hi = (cmd.arity, cmd.arity) if cmd.arity >= 0 else (-cmd.arity, 1 << 62)
            fast[name] = (cmd, cmd.handler, lo, hi, cmd.runner)
    return cmds, fast, {n: e for n, e in fast.items() if not e[0].is_write}
