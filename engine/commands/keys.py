"""Keyspace commands: DEL, EXISTS, TYPE, RENAME, MOVE, COPY, SWAPDB, the
flushes, KEYS, SCAN, RANDOMKEY, TOUCH, DBSIZE and OBJECT.

Type names and encodings come from the keyspace's table of value classes
(`keyspace.VALUE_TYPES`), so each data type registers itself there.
"""

from .. import resp
from ..keyspace import VALUE_TYPES, type_name
from ..scan import parse_cursor
from ..util import glob_matcher, parse_int
from . import command, container, subcommand
from .strings import EMBSTR_MAX, NOT_INT, SYNTAX
from .transactions import touch_all_watched

NO_SUCH_KEY = b"ERR no such key"
SAME_OBJECT = b"ERR source and destination objects are the same"
DB_RANGE = b"ERR DB index is out of range"
SHARED_INTEGERS = 10000  # OBJ_SHARED_INTEGERS
SHARED_REFCOUNT = 2147483647  # OBJ_SHARED_REFCOUNT


def parse_int32(arg, msg=None):
    """getIntFromObjectOrReply: an int, or an error reply (bytes)."""
    v = parse_int(arg)
    if v is None:
        return resp.error(msg or NOT_INT)
    if not -(1 << 31) <= v < (1 << 31):
        return resp.error(msg or b"ERR value is out of range, value must between -2147483648 and 2147483647")
    return v


def _db_index(c, arg):
    """A db number argument: the Database, or an error reply."""
    idx = parse_int32(arg)
    if idx.__class__ is bytes:
        return idx
    dbs = c.server.keyspace.dbs
    if idx < 0 or idx >= len(dbs):
        return resp.error(DB_RANGE)
    return dbs[idx]


def _key_added(srv, db, key, value):
    """A key appeared through RENAME/MOVE/COPY: clients blocked on it may go."""
    if value.__class__ is not bytes:
        signal = getattr(srv, "signal_key_as_ready", None)
        if signal is not None:
            signal(db, key)


# ---- existence, deletion, type ----------------------------------------------------


def _delete(c, argv):
    srv = c.server
    db = c.db
    delete = srv.keyspace.delete
    n = 0
    for key in argv[1:]:
        if delete(db, key):
            n += 1
            srv.notify(db.id, b"g", b"del", key)
    if n:
        srv.propagate(db.id, argv)
    return resp.integer(n)


@command("del", -2, "write", keys=(1, -1, 1), summary="Deletes one or more keys.", complexity="O(N)")
def del_(c, argv):
    return _delete(c, argv)


@command("unlink", -2, "write fast", keys=(1, -1, 1), since="4.0.0",
         summary="Asynchronously deletes one or more keys.", complexity="O(1) for each key removed")
def unlink(c, argv):
    return _delete(c, argv)


@command("exists", -2, "readonly fast", keys=(1, -1, 1), complexity="O(N)",
         summary="Determines whether one or more keys exist.")
def exists(c, argv):
    lookup = c.server.keyspace.lookup_read
    db = c.db
    n = 0
    for key in argv[1:]:
        if lookup(db, key, False) is not None:
            n += 1
    return resp.integer(n)


@command("touch", -2, "readonly fast", keys=(1, -1, 1), since="3.2.1", complexity="O(N)",
         summary="Returns the number of existing keys out of those specified after updating the time "
                 "they were last accessed.")
def touch(c, argv):
    lookup = c.server.keyspace.lookup_read
    db = c.db
    n = 0
    for key in argv[1:]:
        if lookup(db, key) is not None:
            n += 1
    return resp.integer(n)


@command("type", 2, "readonly fast", keys=(1, 1, 1), summary="Determines the type of value stored at a key.")
def type_(c, argv):
    v = c.server.keyspace.lookup_read(c.db, argv[1], False)
    return b"+%s\r\n" % type_name(v)


@command("dbsize", 1, "readonly fast", summary="Returns the number of keys in the database.")
def dbsize(c, argv):
    return resp.integer(len(c.db.data))


@command("randomkey", 1, "readonly", summary="Returns a random key name from the database.")
def randomkey(c, argv):
    key = c.server.keyspace.random_key(c.db)
    return resp.null(c.resp) if key is None else resp.bulk(key)


# ---- renaming and moving --------------------------------------------------------------


def _rename(c, argv, nx):
    srv = c.server
    ks = srv.keyspace
    db = c.db
    src, dst = argv[1], argv[2]
    value = ks.lookup(db, src)
    if value is None:
        return resp.error(NO_SUCH_KEY)
    if src == dst:
        return resp.ZERO if nx else resp.OK
    if ks.lookup(db, dst) is not None:
        if nx:
            return resp.ZERO
        ks.delete(db, dst)
    ks.transfer(db, src, db, dst)
    srv.signal_modified_key(db, src)
    srv.signal_modified_key(db, dst)
    _key_added(srv, db, dst, value)
    srv.propagate(db.id, argv)
    srv.notify(db.id, b"g", b"rename_from", src)
    srv.notify(db.id, b"g", b"rename_to", dst)
    return resp.ONE if nx else resp.OK


@command("rename", 3, "write", keys=(1, 2, 1), summary="Renames a key and overwrites the destination.")
def rename(c, argv):
    return _rename(c, argv, False)


@command("renamenx", 3, "write fast", keys=(1, 2, 1), summary="Renames a key only when the target key name "
                                                                "doesn't exist.")
def renamenx(c, argv):
    return _rename(c, argv, True)


@command("move", 3, "write fast", keys=(1, 1, 1), summary="Moves a key to another database.")
def move(c, argv):
    dst = _db_index(c, argv[2])
    if dst.__class__ is bytes:
        return dst
    src = c.db
    if dst is src:
        return resp.error(SAME_OBJECT)
    srv = c.server
    ks = srv.keyspace
    key = argv[1]
    if ks.lookup(src, key) is None or ks.lookup(dst, key) is not None:
        return resp.ZERO
    value = ks.transfer(src, key, dst, key)
    srv.signal_modified_key(src, key)
    srv.signal_modified_key(dst, key)
    _key_added(srv, dst, key, value)
    srv.propagate(src.id, argv)
    srv.notify(src.id, b"g", b"move_from", key)
    srv.notify(dst.id, b"g", b"move_to", key)
    return resp.ONE


@command("copy", -3, "write denyoom", keys=(1, 2, 1), since="6.2.0", complexity="O(N)",
         summary="Copies the value of a key to a new key.")
def copy(c, argv):
    src = dst = c.db
    replace = False
    j = 3
    while j < len(argv):
        opt = argv[j].upper()
        if opt == b"REPLACE":
            replace = True
        elif opt == b"DB" and j + 1 < len(argv):
            dst = _db_index(c, argv[j + 1])
            if dst.__class__ is bytes:
                return dst
            j += 1
        else:
            return resp.error(SYNTAX)
        j += 1
    key, newkey = argv[1], argv[2]
    if src is dst and key == newkey:
        return resp.error(SAME_OBJECT)
    srv = c.server
    ks = srv.keyspace
    value = ks.lookup_read(src, key)
    if value is None:
        return resp.ZERO
    when = src.expires.get(key) if src.expires else None
    if ks.lookup(dst, newkey) is not None:
        if not replace:
            return resp.ZERO
        ks.delete(dst, newkey)
    vt = VALUE_TYPES.get(value.__class__)
    if vt is None:  # a value class nobody registered: refuse rather than share it
        return resp.error(b"ERR COPY is not supported for this value type")
    new = vt.copy(value)
    ks.set(dst, newkey, new)
    if when is not None:
        dst.expires[newkey] = when
    if new.__class__ is bytes and len(new) <= EMBSTR_MAX:
        # dupStringObject keeps the encoding, and a copied int is not shared.
        hint = src.enc.get(key) if src.enc else None
        if hint is not None or _is_int_encoded(new):
            dst.enc[newkey] = hint or b"int"
    _key_added(srv, dst, newkey, new)
    srv.propagate(src.id, argv)
    srv.notify(dst.id, b"g", b"copy_to", newkey)
    return resp.ONE


@command("swapdb", 3, "write fast", since="4.0.0", complexity="O(N)", summary="Swaps two Redis databases.")
def swapdb(c, argv):
    srv = c.server
    dbs = srv.keyspace.dbs
    ids = []
    for arg, which in ((argv[1], b"first"), (argv[2], b"second")):
        idx = parse_int32(arg, b"ERR invalid %s DB index" % which)
        if idx.__class__ is bytes:
            return idx
        ids.append(idx)
    if any(i < 0 or i >= len(dbs) for i in ids):
        return resp.error(DB_RANGE)
    a, b = dbs[ids[0]], dbs[ids[1]]
    if a is not b:
        # WATCHed keys that exist on either side change value (touchAllWatchedKeysInDb).
        touch_all_watched(a, srv.now_ms, b)
        touch_all_watched(b, srv.now_ms, a)
        a.swap_with(b)
        blocking = getattr(srv, "blocking", None)
        if blocking is not None:  # clients blocked on keys that now exist may go
            for dbid, key in list(blocking.waiting):
                db = dbs[dbid]
                if dbid in ids and key in db.data:
                    srv.signal_key_as_ready(db, key)
    srv.propagate(c.db.id, argv)
    return resp.OK


# ---- flushing --------------------------------------------------------------------


def _flush_args(c, argv):
    if len(argv) == 1:
        return True
    if len(argv) == 2 and argv[1].upper() in (b"SYNC", b"ASYNC"):
        return True
    return False


def _flush(c, argv, dbs):
    srv = c.server
    if not _flush_args(c, argv):
        return resp.error(SYNTAX)
    removed = 0
    for db in dbs:
        touch_all_watched(db, srv.now_ms)  # only WATCHed keys that exist are touched
        removed += db.clear()
        srv.keyspace.scanner.drop_db(db.id)
    srv.dirty += removed
    srv.propagate(c.db.id, argv)
    return resp.OK


@command("flushdb", -1, "write", complexity="O(N)", summary="Remove all keys from the current database.")
def flushdb(c, argv):
    return _flush(c, argv, [c.db])


@command("flushall", -1, "write", complexity="O(N)", summary="Removes all keys from all databases.")
def flushall(c, argv):
    return _flush(c, argv, c.server.keyspace.dbs)


# ---- iteration -------------------------------------------------------------------


@command("keys", 2, "readonly", complexity="O(N)", summary="Returns all key names that match a pattern.")
def keys(c, argv):
    db = c.db
    pattern = argv[1]
    if pattern == b"*":
        out = list(db.data)
    else:
        match = glob_matcher(pattern)
        out = [k for k in db.data if match(k)]
    if db.expires:
        # Expired keys are hidden, not deleted (keyIsExpired).
        exp = db.expires
        now = c.server.now_ms
        out = [k for k in out if exp.get(k, now + 1) > now]
    return resp.bulk_array(out)


@command("scan", -2, "readonly", since="2.8.0", summary="Iterates over the key names in the database.",
         complexity="O(1) for every call. O(N) for a complete iteration.")
def scan(c, argv):
    cursor = parse_cursor(argv[1])
    if cursor is None:
        return resp.error(b"ERR invalid cursor")
    opts = parse_scan_options(argv, 2, allow_type=True)
    if opts.__class__ is bytes:
        return opts
    count, match, tname = opts
    ks = c.server.keyspace
    db = c.db
    peek = ks.peek

    def visit(key):
        if match is not None and not match(key):
            return None
        v = peek(db, key)
        if v is None or (tname is not None and type_name(v) != tname):
            return None
        return key

    nxt, found = ks.scanner.scan((db.id, None), db.data, cursor, count, visit, (db.generation, db.deleted))
    return scan_reply(nxt, found)


def parse_scan_options(argv, start, allow_type=False):
    """COUNT/MATCH/TYPE of the SCAN family: (count, matcher or None, type
    name or None), or an error reply."""
    count = 10
    match = tname = None
    i = start
    n = len(argv)
    while i < n:
        opt = argv[i].upper()
        if i + 1 >= n:
            return resp.error(SYNTAX)
        if opt == b"COUNT":
            count = parse_int(argv[i + 1])
            if count is None:
                return resp.error(NOT_INT)
            if count < 1:
                return resp.error(SYNTAX)
        elif opt == b"MATCH":
            match = None if argv[i + 1] == b"*" else glob_matcher(argv[i + 1])
        elif opt == b"TYPE" and allow_type:
            tname = argv[i + 1].lower()  # compared case-insensitively, unknown names match nothing
        else:
            return resp.error(SYNTAX)
        i += 2
    return count, match, tname


def scan_reply(cursor, items):
    return b"*2\r\n" + resp.bulk(b"%d" % cursor) + resp.bulk_array(items)


# ---- OBJECT ----------------------------------------------------------------------

container("object", -2, group="generic", summary="A container for object introspection commands.",
          since="2.2.3")

_OBJECT_HELP = (
    b"OBJECT <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
    b"ENCODING <key>",
    b"    Return the kind of internal representation used in order to store the value",
    b"    associated with a <key>.",
    b"FREQ <key>",
    b"    Return the access frequency index of the <key>. The returned integer is",
    b"    proportional to the logarithm of the recent access frequency of the key.",
    b"IDLETIME <key>",
    b"    Return the idle time of the <key>, that is the approximated number of",
    b"    seconds elapsed since the last access to the key.",
    b"REFCOUNT <key>",
    b"    Return the number of references of the value associated with the specified",
    b"    <key>.",
    b"HELP",
    b"    Prints this help.",
)
_POLICY_NOTE = (b"Please note that when switching between policies at runtime LRU and LFU data will "
                b"take some time to adjust.")


def _is_int_encoded(v):
    return len(v) <= 20 and parse_int(v) is not None


def string_encoding(db, key, v):
    """OBJECT ENCODING of a string value, as tryObjectEncoding would have
    left it (or as the hint says for values Redis builds otherwise)."""
    if len(v) <= EMBSTR_MAX:
        hint = db.enc.get(key) if db.enc else None
        if hint is not None:
            return hint
        if _is_int_encoded(v):
            return b"int"
        return b"embstr"
    return b"raw"


def _shared_ints_allowed(srv):
    cfg = srv.config
    return not (cfg["maxmemory"] and cfg["maxmemory-policy"].endswith(("lru", "lfu")))


def _object_lookup(c, argv):
    return c.server.keyspace.lookup_read(c.db, argv[2], False, notify=False)  # LOOKUP_NONOTIFY


@subcommand("object", "encoding", 3, "readonly", keys=(2, 2, 1),
            summary="Returns the internal encoding of a Redis object.")
def object_encoding(c, argv):
    v = _object_lookup(c, argv)
    if v is None:
        return resp.null(c.resp)
    if v.__class__ is bytes:
        return resp.bulk(string_encoding(c.db, argv[2], v))
    vt = VALUE_TYPES.get(v.__class__)
    return resp.bulk(vt.encoding(v) if vt is not None else b"unknown")


@subcommand("object", "refcount", 3, "readonly", keys=(2, 2, 1),
            summary="Returns the reference count of a value of a key.")
def object_refcount(c, argv):
    v = _object_lookup(c, argv)
    if v is None:
        return resp.null(c.resp)
    # Only tryObjectEncoding's small integers are shared objects; a hinted
    # string (copied int, APPEND result...) is a private one.
    if (v.__class__ is bytes and _is_int_encoded(v) and not c.db.enc.get(argv[2])
            and 0 <= int(v) < SHARED_INTEGERS and _shared_ints_allowed(c.server)):
        return resp.integer(SHARED_REFCOUNT)
    return resp.ONE


@subcommand("object", "idletime", 3, "readonly", keys=(2, 2, 1),
            summary="Returns the time since the last access to a Redis object.")
def object_idletime(c, argv):
    v = _object_lookup(c, argv)
    if v is None:
        return resp.null(c.resp)
    srv = c.server
    if srv.lfu_on:
        return resp.error(b"ERR An LFU maxmemory policy is selected, idle time not tracked. " + _POLICY_NOTE)
    now = srv.lru_clock
    return resp.integer(max(now - c.db.atime.get(argv[2], now), 0))


@subcommand("object", "freq", 3, "readonly", keys=(2, 2, 1),
            summary="Returns the logarithmic access frequency counter of a Redis object.")
def object_freq(c, argv):
    v = _object_lookup(c, argv)
    if v is None:
        return resp.null(c.resp)
    srv = c.server
    if not srv.lfu_on:
        return resp.error(b"ERR An LFU maxmemory policy is not selected, access frequency not tracked. "
                          + _POLICY_NOTE)
    return resp.integer(srv.keyspace.lfu_counter(c.db, argv[2]))


@subcommand("object", "help", 2, "loading stale", summary="Returns helpful text about the different subcommands.")
def object_help(c, argv):
    return resp.array([b"+%s\r\n" % line for line in _OBJECT_HELP])
