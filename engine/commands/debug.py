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
from ..keyspace import VALUE_TYPES, unpacked
from ..memory_sink import MemorySink
from ..util import parse_int
from . import command, subcommand_syntax_error
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
        return subcommand_syntax_error(argv)
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


# ---- serializedlength: the size rdbSaveObject would write ---------------------------------

_INT_RE = re.compile(rb"-?[1-9]\d{0,19}|0")


def _ll(b):
    """string2ll: the integer a string strictly spells, or None."""
    if len(b) <= 20 and _INT_RE.fullmatch(b):
        n = int(b)
        if -(1 << 63) <= n < (1 << 63):
            return n
    return None


def _len_size(n):
    """rdbSaveLen's size."""
    return 1 if n < 64 else 2 if n < 16384 else 5 if n <= 0xFFFFFFFF else 9


def _raw_string_size(b, compress):
    """rdbSaveRawString: int encoding for short integers, LZF above 20 bytes."""
    n = len(b)
    if n <= 11:
        v = _ll(b)
        if v is not None:
            for size, bound in ((2, 1 << 7), (3, 1 << 15), (5, 1 << 31)):
                if -bound <= v < bound:
                    return size
    if compress and n > 20:
        try:
            import lzf  # noqa: PLC0415 - optional C extension

            packed = lzf.compress(bytes(b), n - 4)
        except ImportError:
            packed = None
        if packed:
            return 1 + _len_size(len(packed)) + _len_size(n) + len(packed)
    return _len_size(n) + n


def _lp_entry(b):
    """One listpack entry's bytes: encoding + data + backlen (lpEncodeGetType)."""
    v = _ll(b)
    if v is not None:
        if 0 <= v <= 127:
            body = bytes((v,))
        elif -4096 <= v <= 4095:
            u = v & 0x1FFF
            body = bytes((0xC0 | (u >> 8), u & 0xFF))
        else:
            for tag, width in ((0xF1, 2), (0xF2, 3), (0xF3, 4), (0xF4, 8)):
                if -(1 << (8 * width - 1)) <= v < (1 << (8 * width - 1)):
                    body = bytes((tag,)) + (v & ((1 << (8 * width)) - 1)).to_bytes(width, "little")
                    break
    else:
        n = len(b)
        if n < 64:
            body = bytes((0x80 | n,)) + b
        elif n < 4096:
            body = bytes((0xE0 | (n >> 8), n & 0xFF)) + b
        else:
            body = b"\xf0" + n.to_bytes(4, "little") + b
    n = len(body)
    if n <= 127:
        back = bytes((n,))
    else:
        groups = []
        while n:
            groups.append(n & 127)
            n >>= 7
        # stored so that it reads backwards: the last byte holds the low bits
        back = bytes([groups[-1]] + [g | 128 for g in reversed(groups[:-1])])
    return body + back


def _lp_entry_size(b):
    return len(_lp_entry(b))


def _listpack_bytes(items):
    body = b"".join(_lp_entry(x) for x in items)
    total = 6 + len(body) + 1
    return total.to_bytes(4, "little") + min(len(items), 65535).to_bytes(2, "little") + body + b"\xff"


def _listpack_size(items):
    return 6 + sum(_lp_entry_size(x) for x in items) + 1


_OPT_LEVELS = (4096, 8192, 16384, 32768, 65536)


def _quicklist_nodes(items, fill):
    """Node sizes and counts as RPUSH builds them (_quicklistNodeAllowInsert)."""
    nodes = []
    sz = count = 0
    for x in items:
        n = len(x)
        if count:
            overhead = (1 if n < 254 else 5) + (1 if n < 64 else 2 if n < 16384 else 5)
            new_sz = sz + n + overhead
            if fill < 0:
                allow = -fill - 1 < len(_OPT_LEVELS) and new_sz <= _OPT_LEVELS[-fill - 1]
            else:
                allow = new_sz <= 8192 and count < fill
            if not allow:
                nodes.append((sz, count))
                sz = count = 0
        if not count:
            sz = 7
        sz += _lp_entry_size(x)
        count += 1
    if count:
        nodes.append((sz, count))
    return nodes


def _d2string(score):
    if score != score:
        return b"nan"
    if score in (float("inf"), float("-inf")):
        return b"inf" if score > 0 else b"-inf"
    if score == int(score) and abs(score) < 2 ** 63:
        return b"%d" % int(score)
    return (b"%.17g" % score)


def _serialized_length(v, cfg):
    """What DEBUG OBJECT reports as serializedlength (rdbSavedObjectLen)."""
    compress = cfg["rdbcompression"]
    cls = v.__class__
    if cls is bytes:
        return _raw_string_size(v, compress)
    enc = _encoding(None, None, v)
    if enc == b"quicklist":
        items = list(v)
        nodes = _quicklist_nodes(items, cfg["list-max-listpack-size"])
        total, i = _len_size(len(nodes)), 0
        for _sz, count in nodes:
            total += 1 + _blob_size(_listpack_bytes(items[i:i + count]), compress)
            i += count
        return total
    if enc == b"listpack":
        if hasattr(v, "sl"):  # a zset: member, score pairs in score order
            flat = [x for score, member in v.sl for x in (member, _d2string(score))]
        else:
            flat = [x for kv in v.items() for x in kv]
        return _blob_size(_listpack_bytes(flat), compress)
    if enc == b"intset":
        ints = sorted(int(m) for m in v)
        width = 2
        for n in ints:
            if not -(1 << 15) <= n < (1 << 15):
                width = max(width, 4 if -(1 << 31) <= n < (1 << 31) else 8)
        blob = width.to_bytes(4, "little") + len(ints).to_bytes(4, "little") + b"".join(
            (n & ((1 << (8 * width)) - 1)).to_bytes(width, "little") for n in ints)
        return _blob_size(blob, compress)
    if enc == b"skiplist":
        return _len_size(len(v)) + sum(_raw_string_size(m, compress) + 8 for m in v.dict)
    if hasattr(v, "items"):
        return _len_size(len(v)) + sum(_raw_string_size(f, compress) + _raw_string_size(x, compress)
                                       for f, x in v.items())
    try:
        return _len_size(len(v)) + sum(_raw_string_size(m, compress) for m in v)
    except TypeError:
        return 0


def _blob_size(blob, compress):
    """A packed blob (listpack, intset) saved with rdbSaveRawString (never
    an integer: it starts with its binary size)."""
    return _raw_string_size(blob, compress)


def _ql_extra(v, cfg):
    fill = cfg["list-max-listpack-size"]
    nodes = _quicklist_nodes(list(v), fill)
    n = len(nodes)
    return (b" ql_nodes:%d ql_avg_node:%.2f ql_listpack_max:%d ql_compressed:%d ql_uncompressed_size:%d"
            % (n, (len(v) / n) if n else 0.0, fill, 1 if cfg["list-compress-depth"] else 0,
               sum(sz for sz, _ in nodes)))


def _shared_integer(v, cfg):
    """OBJ_SHARED_INTEGERS: 0..9999, unless an LRU/LFU maxmemory policy is on."""
    n = _ll(v)
    if n is None or not 0 <= n < 10000:
        return False
    return not (cfg["maxmemory"] and cfg["maxmemory-policy"].endswith(("-lru", "-lfu")))


def _object(c, argv):
    db = c.db
    key = argv[2]
    v = db.data.get(key)  # like Redis: the stored value, even if logically expired
    if v is None:
        return resp.error(b"ERR no such key")
    v = unpacked(v)
    srv = c.server
    now = getattr(srv, "lru_clock", int(time.time()))
    atime = getattr(db, "atime", None)
    lru = atime.get(key, now) if atime else now  # the value's last access, as o->lru
    cfg = srv.config
    enc = _encoding(db, key, v)
    refcount = 1
    if enc == b"int" and _shared_integer(v, cfg):
        # Redis stores 0..9999 as shared objects made at start-up: their
        # refcount is INT_MAX and their LRU clock is the server's start
        refcount = 2147483647
        lru = int(getattr(srv, "start_time", now))
    text = (b"Value at:0x%x refcount:%d encoding:%s serializedlength:%d lru:%d lru_seconds_idle:%d"
            % (id(v), refcount, enc, _serialized_length(v, cfg), lru & 0xFFFFFF, max(now - lru, 0)))
    if enc == b"quicklist":
        text += _ql_extra(v, cfg)
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


def _populate(c, argv):
    """DEBUG POPULATE <count> [<prefix>] [<size>]: key:N -> value:N (padded
    with zero bytes or cut to <size>), skipping existing keys, not propagated."""
    count = parse_int(argv[2])
    if count is None or count < 0:
        return resp.error(b"ERR value is out of range, must be positive")
    size = 0
    if len(argv) == 5:
        size = parse_int(argv[4])
        if size is None or size < 0:
            return resp.error(b"ERR value is out of range, must be positive")
    prefix = argv[3] if len(argv) >= 4 else b"key"
    ks = c.server.keyspace
    db = c.db
    for j in range(count):
        key = b"%s:%d" % (prefix, j)
        if ks.lookup(db, key) is not None:
            continue
        val = b"value:%d" % j
        if size:
            val = val[:size] + b"\x00" * max(0, size - len(val))
        ks.set(db, key, val)
    return resp.OK


def _error(c, argv):
    """DEBUG ERROR <string>: an error reply with exactly that text."""
    return b"-" + argv[2].replace(b"\r", b" ").replace(b"\n", b" ") + b"\r\n"


def _raise(c, argv):
    """DEBUG RAISE: exercise the server's guard against bugs in commands."""
    raise RuntimeError("DEBUG RAISE")


_PROTOCOL_TYPES = b"string|integer|double|bignum|null|array|set|map|attrib|push|verbatim|true|false"


def _protocol(c, argv):
    """DEBUG PROTOCOL <type>: a sample reply of each RESP type, for client tests."""
    r = c.resp
    t = argv[2].lower()
    if t == b"string":
        return resp.bulk(b"Hello World")
    if t == b"integer":
        return resp.integer(12345)
    if t == b"double":
        return b",3.141\r\n" if r >= 3 else resp.bulk(b"3.141")
    if t == b"bignum":
        big = b"1234567999999999999999999999999999999"
        return b"(" + big + b"\r\n" if r >= 3 else resp.bulk(big)
    if t == b"null":
        return resp.null(r)
    if t in (b"array", b"set"):
        items = [resp.integer(i) for i in range(3)]
        return resp.array(items) if t == b"array" else resp.set_(items, r)
    if t == b"map":
        return resp.map_([(resp.integer(i), resp.boolean(i == 1, r)) for i in range(3)], r)
    if t == b"attrib":
        reply = resp.bulk(b"Some real reply following the attribute")
        if r >= 3:
            reply = (b"|1\r\n" + resp.bulk(b"key-popularity") + resp.array([resp.bulk(b"key:123"), resp.integer(90)])
                     + reply)
        return reply
    if t == b"push":
        if r < 3:
            return resp.error(b"ERR RESP2 is not supported by this command")
        return (resp.push([resp.bulk(b"server-cpu-usage"), resp.integer(42)], r)
                + resp.bulk(b"Some real reply following the push reply"))
    if t == b"verbatim":
        return resp.verbatim(b"This is a verbatim\nstring", r)
    if t in (b"true", b"false"):
        return resp.boolean(t == b"true", r)
    return resp.error(b"ERR Wrong protocol type name. Please use one of the following: " + _PROTOCOL_TYPES)


def _reload(c, argv):
    """DEBUG RELOAD [MERGE] [NOFLUSH] [NOSAVE]: save the dataset, then load it
    back. A load that fails, or (NOFLUSH without MERGE) meets a key that
    already exists, leaves the data as it was: Redis would exit instead."""
    from rdb import RDBError, load_buffer  # noqa: PLC0415 - rdb builds on the engine
    from rdb.loader import read_file  # noqa: PLC0415

    opts = {a.lower() for a in argv[2:]}
    if opts - {b"merge", b"noflush", b"nosave"}:
        return resp.error(b"ERR DEBUG RELOAD only supports the MERGE, NOFLUSH and NOSAVE options.")
    srv = c.server
    if b"nosave" not in opts:
        err = srv.snapshots.save()
        if err is not None:
            return resp.error(b"ERR Error trying to save the RDB dump, check server logs.")
    try:
        loader = load_buffer(srv, read_file(srv.config["dbfilename"]))
    except (OSError, RDBError) as e:
        logsetup.warning("DEBUG RELOAD: %s", e)
        return resp.error(b"ERR Error trying to load the RDB dump, check server logs.")
    ks = srv.keyspace
    if b"noflush" not in opts:
        ks.install(loader.dbs)
    else:
        merge = b"merge" in opts
        for live, loaded in zip(ks.dbs, loader.dbs, strict=True):
            if not merge and any(k in live.data for k in loaded.data):
                logsetup.warning("DEBUG RELOAD NOFLUSH: the RDB has keys that already exist in DB %d", live.id)
                return resp.error(b"ERR Error trying to load the RDB dump, check server logs.")
        for live, loaded in zip(ks.dbs, loader.dbs, strict=True):
            for key, value in loaded.data.items():
                ks.set(live, key, value, loading=True)
                when = loaded.expires.get(key)
                if when is not None:
                    ks.set_expire(live, key, when)
    logsetup.notice("DB reloaded by DEBUG RELOAD")
    return resp.OK


register("help", _help, 2, 2)
register("digest", _digest, 2, 2, [
    "DIGEST",
    "    Output a hex signature representing the current DB content.",
])
register("digest-value", _digest_value, 2, None, [
    "DIGEST-VALUE <key> [<key> ...]",
    "    Output a hex signature of the values of all the specified keys.",
])
register("error", _error, 3, 3, [
    "ERROR <string>",
    "    Return a Redis protocol error with <string> as message. Useful for clients",
    "    unit tests to simulate Redis errors.",
])
register("log", _log, 3, 3, [
    "LOG <message>",
    "    Write <message> to the server log.",
])
register("object", _object, 3, 3, [
    "OBJECT <key>",
    "    Show low level info about `key` and associated value.",
])
register("populate", _populate, 3, 5, [
    "POPULATE <count> [<prefix>] [<size>]",
    "    Create <count> string keys named key:<num>. If <prefix> is specified then",
    "    it is used instead of the 'key' prefix. These are not propagated to",
    "    replicas. Cluster slots are not respected so keys not belonging to the",
    "    current node can be created in cluster mode.",
])
register("protocol", _protocol, 3, 3, [
    "PROTOCOL <type>",
    "    Reply with a test value of the specified type. <type> can be: string,",
    "    integer, double, bignum, null, array, set, map, attrib, push, verbatim,",
    "    true, false.",
])
register("reload", _reload, 2, 5, [
    "RELOAD [option ...]",
    "    Save the RDB on disk and reload it back to memory. Valid <option> values:",
    "    * MERGE: conflicting keys will be loaded from RDB.",
    "    * NOFLUSH: the existing database will not be removed before load, but",
    "      conflicting keys will generate an exception and kill the server.",
    "    * NOSAVE: the database will be loaded from an existing RDB file.",
    "    Examples:",
    "    * DEBUG RELOAD: verify that the server is able to persist, flush and reload",
    "      the database.",
    "    * DEBUG RELOAD NOSAVE: replace the current database with the contents of an",
    "      existing RDB file.",
    "    * DEBUG RELOAD NOSAVE NOFLUSH MERGE: add the contents of an existing RDB",
    "      file to the database.",
])
register("propagated", _propagated, 3, 3, [
    "PROPAGATED (START|GET|STOP)",
    "    Capture the write stream the AOF and replicas receive (Holdfast only):",
    "    START attaches a fresh capture, GET returns its bytes, STOP detaches it.",
])
register("raise", _raise, 2, 2, [
    "RAISE",
    "    Raise a Python exception inside the command (Holdfast only): the client gets",
    "    an internal error reply, the log a traceback, and the server goes on.",
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
