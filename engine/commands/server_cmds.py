"""Server commands: INFO, CONFIG, TIME, LASTSAVE, SHUTDOWN, MONITOR, SLOWLOG,
ROLE. Replies and error texts follow Redis 7.0 word for word."""

import time

from .. import info, logsetup, resp
from ..config import ConfigError
from ..config import lookup as lookup_option
from ..util import parse_int
from . import command, container, subcommand, subcommand_syntax_error

SYNTAX = b"ERR syntax error"


def help_reply(name, lines):
    """The HELP reply every container gives: status lines, Redis's wording."""
    out = ["%s <subcommand> [<arg> [value] [opt] ...]. Subcommands are:" % name]
    out += lines
    out += ["HELP", "    Prints this help."]
    return resp.array([resp.simple(x.encode()) for x in out])


def is_local(c):
    """A unix socket or loopback connection (enable-*-command local)."""
    if c.unix:
        return True
    host = c.addr.rsplit(":", 1)[0].strip("[]")
    return host.startswith("127.") or host == "::1" or host.startswith("::ffff:127.")


# ---- INFO ----------------------------------------------------------------------------

@command("info", -1, "loading stale", group="server",
         summary="Get information and statistics about the server", since="1.0.0",
         complexity="O(1)")
def info_(c, argv):
    return resp.verbatim(info.generate(c.server, argv[1:]), c.resp)


# ---- CONFIG --------------------------------------------------------------------------

container("config", group="server", summary="A container for server configuration commands",
          since="2.0.0")


@subcommand("config", "get", -3, "admin noscript loading stale",
            summary="Get the values of configuration parameters", since="2.0.0",
            complexity="O(N) when N is the number of configuration parameters provided")
def config_get(c, argv):
    pairs = c.server.config.get_matching(argv[2:])
    return resp.map_([(resp.bulk_str(k), resp.bulk_str(v)) for k, v in pairs], c.resp)


@subcommand("config", "set", -4, "admin noscript loading stale",
            summary="Set configuration parameters to the given values", since="2.0.0",
            complexity="O(N) when N is the number of configuration parameters provided")
def config_set(c, argv):
    if len(argv) % 2:
        return resp.error(SYNTAX)
    pairs = [(argv[i].decode(errors="surrogateescape"), argv[i + 1].decode(errors="surrogateescape"))
             for i in range(2, len(argv), 2)]
    for i in range(2, len(argv), 2):
        opt = lookup_option(pairs[(i - 2) // 2][0])
        if opt is not None and opt.sensitive:
            argv[i + 1] = b"(redacted)"  # SLOWLOG and MONITOR never show secrets
    try:
        c.server.config.set_many(pairs, local=is_local(c))
    except ConfigError as e:
        return resp.error("ERR " + str(e))
    return resp.OK


@subcommand("config", "resetstat", 2, "admin noscript loading stale",
            summary="Reset the stats returned by INFO", since="2.0.0")
def config_resetstat(c, argv):
    reset_stats(c.server)
    return resp.OK


def reset_stats(srv):
    """What CONFIG RESETSTAT clears: server counters, per-command and error
    statistics, expiry counters. The slow log is kept, as in Redis."""
    srv.stats.reset()
    for cmd in info.unique_commands(srv):
        cmd.reset_stats()
    ks = srv.keyspace
    ks.expired_keys = 0
    ks.expired_stale_perc = 0.0
    ks.expired_time_cap_reached_count = 0
    for hook in getattr(srv, "resetstat_hooks", ()):
        hook()


@subcommand("config", "rewrite", 2, "admin noscript loading stale",
            summary="Rewrite the configuration file with the in memory configuration", since="2.8.0")
def config_rewrite(c, argv):
    try:
        c.server.config.rewrite()
    except ConfigError as e:
        return resp.error("ERR " + str(e))
    except OSError as e:
        logsetup.warning("CONFIG REWRITE failed: %s", e.strerror)
        return resp.error("ERR Rewriting config file: %s" % e.strerror)
    logsetup.notice("CONFIG REWRITE executed with success.")
    return resp.OK


@subcommand("config", "help", 2, "loading stale",
            summary="Show helpful text about the different subcommands", since="5.0.0")
def config_help(c, argv):
    return help_reply("CONFIG", [
        "GET <pattern>",
        "    Return parameters matching the glob-like <pattern> and their values.",
        "SET <directive> <value>",
        "    Set the configuration <directive> to <value>.",
        "RESETSTAT",
        "    Reset statistics reported by the INFO command.",
        "REWRITE",
        "    Rewrite the configuration file.",
    ])


# ---- TIME, LASTSAVE, ROLE ----------------------------------------------------------------

@command("time", 1, "loading stale fast", group="server", summary="Return the current server time",
         since="2.6.0")
def time_(c, argv):
    now = time.time_ns() // 1000
    return resp.bulk_array([b"%d" % (now // 1_000_000), b"%d" % (now % 1_000_000)])


@command("lastsave", 1, "loading stale fast", group="server",
         summary="Get the UNIX time stamp of the last successful save to disk", since="1.0.0",
         acl=("@admin", "@dangerous"))
def lastsave(c, argv):
    return resp.integer(c.server.lastsave)


@command("role", 1, "noscript loading stale fast", group="server",
         summary="Return the role of the instance in the context of replication", since="2.8.12",
         acl=("@admin", "@dangerous"))
def role(c, argv):
    # replication/ sets `role_reply(client)` on the server when it exists.
    provider = getattr(c.server, "role_reply", None)
    if provider is not None:
        return provider(c)
    return resp.array([resp.bulk(b"master"), resp.ZERO, resp.EMPTY_ARRAY])


# ---- SHUTDOWN --------------------------------------------------------------------------

_SHUTDOWN_FLAGS = {b"nosave": "nosave", b"save": "save", b"now": "now", b"force": "force"}


@command("shutdown", -1, "admin noscript loading stale no-multi allow-busy", group="server",
         summary="Synchronously save the dataset to disk and then shut down the server",
         since="1.0.0", complexity="O(N) when saving, where N is the total number of keys in all databases "
                                   "when saving data, otherwise O(1)")
def shutdown(c, argv):
    """SHUTDOWN [NOSAVE|SAVE] [NOW] [FORCE] [ABORT]. The flags reach the
    shutdown hooks (the save is theirs); "user" marks a client request."""
    flags = []
    abort = False
    for a in argv[1:]:
        f = _SHUTDOWN_FLAGS.get(a.lower())
        if f is not None:
            if f not in flags:
                flags.append(f)
        elif a.lower() == b"abort":
            abort = True
        else:
            return resp.error(SYNTAX)
    if (abort and flags) or ("nosave" in flags and "save" in flags):
        return resp.error(SYNTAX)
    srv = c.server
    if abort:
        if srv.shutdown_reason is None:
            return resp.error(b"ERR No shutdown in progress.")
        srv.shutdown_reason = None
        srv.shutdown_flags = ()
        srv.shutdown_waiters = []
        logsetup.warning("Shutdown manually aborted.")
        return resp.OK
    if "now" not in flags and (c.multi_queue is not None or getattr(srv, "in_exec", False)):
        return resp.error(b"ERR SHUTDOWN without NOW or ABORT isn't allowed for DENY BLOCKING client")
    srv.shutdown_waiters.append(c)
    srv.request_shutdown("User requested shutdown...", ["user"] + flags)
    return None  # no reply: the connection closes when the server exits


# ---- MONITOR ---------------------------------------------------------------------------

@command("monitor", 1, "admin noscript loading stale", group="server",
         summary="Listen for all requests received by the server in real time", since="1.0.0")
def monitor(c, argv):
    srv = c.server
    if getattr(srv, "in_exec", False) or c.multi_queue is not None:
        return resp.error(b"ERR MONITOR isn't allowed for DENY BLOCKING client")
    if c.is_monitor or c.kind != "normal":
        return None  # already a monitor (or a replica): ignored, no reply, as Redis
    c.is_monitor = True
    srv.monitors.append(c)
    return resp.OK


# ---- SLOWLOG ---------------------------------------------------------------------------

container("slowlog", group="server", summary="A container for slow log commands", since="2.2.12")


@subcommand("slowlog", "get", -2, "admin loading stale",
            summary="Get the slow log's entries", since="2.2.12",
            complexity="O(N) where N is the number of entries returned")
def slowlog_get(c, argv):
    if len(argv) > 3:
        return subcommand_syntax_error(argv)
    count = 10
    if len(argv) == 3:
        count = parse_int(argv[2])
        if count is None or count < -1:
            return resp.error(b"ERR count should be greater than or equal to -1")
    out = []
    for eid, ts, dur, args, addr, name in c.server.slowlog.get(count):
        out.append(resp.array([resp.integer(eid), resp.integer(ts), resp.integer(dur),
                               resp.bulk_array(args), resp.bulk(addr), resp.bulk(name)]))
    return resp.array(out)


@subcommand("slowlog", "len", 2, "admin loading stale", summary="Get the slow log's length",
            since="2.2.12")
def slowlog_len(c, argv):
    return resp.integer(len(c.server.slowlog.entries))


@subcommand("slowlog", "reset", 2, "admin loading stale", summary="Clear all entries from the slow log",
            since="2.2.12", complexity="O(N) where N is the number of entries in the slowlog")
def slowlog_reset(c, argv):
    c.server.slowlog.reset()
    return resp.OK


@subcommand("slowlog", "help", 2, "loading stale",
            summary="Show helpful text about the different subcommands", since="6.2.0")
def slowlog_help(c, argv):
    return help_reply("SLOWLOG", [
        "GET [<count>]",
        "    Return top <count> entries from the slowlog (default: 10, -1 mean all).",
        "    Entries are made of:",
        "    id, timestamp, time in microseconds, arguments array, client IP and port,",
        "    client name",
        "LEN",
        "    Return the length of the slowlog.",
        "RESET",
        "    Reset the slowlog.",
    ])
