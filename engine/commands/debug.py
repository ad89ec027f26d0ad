"""DEBUG: the subset of Redis's debugging command that tests and tools use.

    DEBUG SLEEP <seconds>              block the server (decimals allowed)
    DEBUG SET-ACTIVE-EXPIRE <0|1>      switch the active expiry cycle
    DEBUG LOG <message>                write to the server log
    DEBUG OBJECT <key>                 low level info about a value
    DEBUG DIGEST                       Redis 7.0's dataset digest (engine/digest.py)
    DEBUG DIGEST-VALUE <key> ...       the same, per key
    DEBUG PROPAGATED START|GET|STOP    (Holdfast only) capture the write stream

DEBUG PROPAGATED attaches an in-memory sink to the one write path
(`Server.add_propagation_target`): GET returns, as one bulk string, exactly
the bytes the AOF and the replicas receive from START on (SELECTs, MULTI/EXEC
wrappers, rewritten commands); STOP detaches it. Tests replay that stream
into a second server and compare DEBUG DIGESTs.

As in Redis 7, DEBUG runs only when `enable-debug-command` is `yes` (or
`local` and the connection is local). Other subsystems add subcommands with
`register(name, fn, min_argc, max_argc, help_lines)` (DEBUG RELOAD belongs to
the RDB code, for instance).
"""

import re
import time

from .. import digest, logsetup, resp
from ..keyspace import VALUE_TYPES
from ..server import MemorySink
from . import command
from .server_cmds import help_reply, is_local

_SUBCOMMANDS = {}  # lower-case name -> (fn(c, argv), min argc, max argc or None)
_HELP = []


def register(name, fn, min_argc, max_argc, help_lines=()):
    """Add `DEBUG NAME`; argc counts DEBUG and NAME (DEBUG DIGEST is 2)."""
    _SUBCOMMANDS[name.lower().encode()] = (fn, min_argc, max_argc)
    _HELP.extend(help_lines)


_NOT_ALLOWED = (b"ERR DEBUG command not allowed. If the enable-debug-command option is set to \"local\", you "
                b"can run it from a local connection, otherwise you need to set this option in the "
                b"configuration file, and then restart the server.")


@command("debug", -2, "admin noscript loading stale", group="server",
         summary="A container for debugging commands", since="1.0.0",
         complexity="Depends on subcommand.")
def debug(c, argv):
    mode = c.server.config["enable-debug-command"]
    if mode != "yes" and not (mode == "local" and is_local(c)):
        return resp.error(_NOT_ALLOWED)
    entry = _SUBCOMMANDS.get(argv[1].lower())
    n = len(argv)
    if entry is None or n < entry[1] or (entry[2] is not None and n > entry[2]):
        return resp.error(b"ERR unknown subcommand or wrong number of arguments for '%s'. Try DEBUG HELP."
                          % argv[1][:128])
    return entry[0](c, argv)


def _help(c, argv):
    return help_reply("DEBUG", _HELP)


_NUM_PREFIX = re.compile(rb"\s*[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?")


def _strtod(b):
    """C strtod on a prefix: '1.5x' -> 1.5, 'abc' -> 0.0."""
    m = _NUM_PREFIX.match(b)
    return float(m.group(0)) if m else 0.0


def _atoi(b):
    m = re.match(rb"\s*[-+]?\d+", b)
    return int(m.group(0)) if m else 0


def _sleep(c, argv):
    secs = _strtod(argv[2])
    if secs > 0:
        time.sleep(secs)  # blocks the whole server, which is the point
    return resp.OK


def _set_active_expire(c, argv):
    c.server.keyspace.active_expire_enabled = bool(_atoi(argv[2]))
    return resp.OK


def _log(c, argv):
    logsetup.warning("DEBUG LOG: %s", argv[2].decode(errors="replace"))
    return resp.OK


def _encoding(db, key, v):
    if v.__class__ is bytes:
        try:
            from .keys import string_encoding  # noqa: PLC0415 - keys owns string encodings
        except ImportError:
            return b"raw"
        return string_encoding(db, key, v)
    vt = VALUE_TYPES.get(v.__class__)
    return vt.encoding(v) if vt is not None and vt.encoding is not None else b"unknown"


def _serialized_length(v):
    """A stand-in for rdbSavedObjectLen: a string's RDB length (integers
    saved as int encodings), the sum of element lengths otherwise."""
    if v.__class__ is bytes:
        if len(v) <= 11 and re.fullmatch(rb"-?[1-9]\d*|0", v):
            n = int(v)
            for size, bound in ((2, 1 << 7), (3, 1 << 15), (5, 1 << 31)):
                if -bound <= n < bound:
                    return size
        return len(v) + (1 if len(v) < 64 else 2 if len(v) < 16384 else 5)
    try:
        items = v.items() if hasattr(v, "items") else v
        return sum(len(x) + 1 if isinstance(x, bytes) else sum(len(y) + 1 for y in x if isinstance(y, bytes))
                   for x in items) + 1
    except TypeError:
        return 0


def _object(c, argv):
    db = c.db
    key = argv[2]
    v = db.data.get(key)  # like Redis: the stored value, even if logically expired
    if v is None:
        return resp.error(b"ERR no such key")
    srv = c.server
    lru = getattr(srv, "lru_clock", int(time.time()))
    atime = getattr(db, "atime", None)
    idle = max(lru - atime.get(key, lru), 0) if atime else 0
    text = (b"Value at:0x%x refcount:1 encoding:%s serializedlength:%d lru:%d lru_seconds_idle:%d"
            % (id(v), _encoding(db, key, v), _serialized_length(v), lru & 0xFFFFFF, idle))
    return resp.simple(text)


def _digest(c, argv):
    try:
        raw = digest.dataset_digest(c.server.keyspace.dbs)
    except TypeError as e:
        return resp.error("ERR %s" % e)
    return resp.simple(raw.hex().encode())


def _digest_value(c, argv):
    out = []
    for key in argv[2:]:
        try:
            raw = digest.value_digest(c.db, key)
        except TypeError as e:
            return resp.error("ERR %s" % e)
        out.append(resp.simple(raw.hex().encode()))
    return resp.array(out)


def _propagated(c, argv):
    srv = c.server
    action = argv[2].lower()
    sink = srv.memory_sink
    if action == b"start":
        if sink is not None:
            srv.remove_propagation_target(sink)
        srv.memory_sink = MemorySink()
        srv.add_propagation_target(srv.memory_sink)
        return resp.OK
    if action == b"get":
        return resp.bulk(sink.getvalue() if sink is not None else b"")
    if action == b"stop":
        if sink is not None:
            srv.remove_propagation_target(sink)
            srv.memory_sink = None
        return resp.OK
    return resp.error(b"ERR syntax error")


register("help", _help, 2, 2)
register("digest", _digest, 2, 2, [
    "DIGEST",
    "    Output a hex signature representing the current DB content.",
])
register("digest-value", _digest_value, 2, None, [
    "DIGEST-VALUE <key> [<key> ...]",
    "    Output a hex signature of the values of all the specified keys.",
])
register("log", _log, 3, 3, [
    "LOG <message>",
    "    Write <message> to the server log.",
])
register("object", _object, 3, 3, [
    "OBJECT <key>",
    "    Show low level info about `key` and associated value.",
])
register("propagated", _propagated, 3, 3, [
    "PROPAGATED (START|GET|STOP)",
    "    Capture the write stream the AOF and replicas receive (Holdfast only):",
    "    START attaches a fresh capture, GET returns its bytes, STOP detaches it.",
])
register("set-active-expire", _set_active_expire, 3, 3, [
    "SET-ACTIVE-EXPIRE <0|1>",
    "    Setting it to 0 disables expiring keys in background when they are not",
    "    accessed (otherwise the Redis behavior). Setting it to 1 reenables back the",
    "    default.",
])
register("sleep", _sleep, 3, 3, [
    "SLEEP <seconds>",
    "    Stop the server for <seconds>. Decimals allowed.",
])
