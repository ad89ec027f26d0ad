"""String commands: GET/SET and friends, ranges, LCS (counters: counters.py).

Values are stored as `bytes`. OBJECT ENCODING derives int/embstr/raw from
the bytes when asked, so the store itself stays a plain dict of bytes; the
few strings Redis keeps in another encoding than the bytes suggest (APPEND,
SETRANGE, INCRBYFLOAT results) get a hint in `db.enc`.
"""


from .. import resp
from ..resp import BULK_FRAMES
from ..util import INT64_MAX, parse_int
from . import command

WRONGTYPE = b"WRONGTYPE Operation against a key holding the wrong kind of value"
NOT_INT = b"ERR value is not an integer or out of range"
NOT_FLOAT = b"ERR value is not a valid float"
SYNTAX = b"ERR syntax error"
TOO_BIG = b"ERR string exceeds maximum allowed size (proto-max-bulk-len)"
EMPTY_BULK = b"$0\r\n\r\n"
EMBSTR_MAX = 44  # OBJ_ENCODING_EMBSTR_SIZE_LIMIT


def _null(c):
    return resp.NULL3 if c.resp == 3 else resp.NULL_BULK2


@command("get", 2, "readonly fast", keys=(1, 1, 1), group="string",
         summary="Returns the string value of a key.")
def get(c, argv):
    # Pipelined GETs mostly run in string_runs (get_run, get_uniform): keep them in step.
    db = c.db
    key = argv[1]
    v = db.data.get(key)
    srv = c.server
    if v is not None:
        if db.expires and key in db.expires:
            v = srv.keyspace.lookup(db, key)  # may expire it; counts the access
        else:
            db.atime[key] = srv.lru_clock
            if srv.lfu_on:
                srv.keyspace.lfu_touch(db, key)
    if v is None:
        srv.keyspace.key_missed(db, key)
        return resp.NULL3 if c.resp == 3 else resp.NULL_BULK2
    srv.stats.keyspace_hits += 1
    if v.__class__ is not bytes:
        return resp.error(WRONGTYPE)
    n = len(v)
    if n < 4096:
        return v.join(BULK_FRAMES[n])
    return b"$%d\r\n%s\r\n" % (n, v)


# Option flags of SET / GETEX (parseExtendedStringArgumentsOrReply).
_NX, _XX, _GET, _KEEPTTL, _PERSIST, _EX, _PX, _EXAT, _PXAT = (1 << i for i in range(9))
_EXPIRE_FLAGS = _EX | _PX | _EXAT | _PXAT
_UNITS = {b"EX": _EX, b"PX": _PX, b"EXAT": _EXAT, b"PXAT": _PXAT}


def _string_options(argv, start, is_set):
    """Parse SET (is_set) or GETEX options from argv[start:] exactly as Redis
    does: repeats are allowed, conflicting ones are a syntax error. Returns
    (flags, expire_arg) or None for a syntax error."""
    flags = 0
    expire = None
    i = start
    n = len(argv)
    while i < n:
        opt = argv[i].upper()
        has_next = i + 1 < n
        if opt == b"NX" and is_set and not flags & _XX:
            flags |= _NX
        elif opt == b"XX" and is_set and not flags & _NX:
            flags |= _XX
        elif opt == b"GET" and is_set:
            flags |= _GET
        elif opt == b"KEEPTTL" and is_set and not flags & (_PERSIST | _EXPIRE_FLAGS):
            flags |= _KEEPTTL
        elif opt == b"PERSIST" and not is_set and not flags & (_KEEPTTL | _EXPIRE_FLAGS):
            flags |= _PERSIST
        elif opt in _UNITS and has_next and not flags & (_KEEPTTL | _PERSIST | (_EXPIRE_FLAGS & ~_UNITS[opt])):
            flags |= _UNITS[opt]
            i += 1
            expire = argv[i]
        else:
            return None
        i += 1
    return flags, expire


def _expire_at_ms(c, arg, flags, cmdname):
    """The absolute expiry in ms for an EX/PX/EXAT/PXAT argument, or an error
    reply (bytes starting with '-') -- getExpireMillisecondsOrReply."""
    v = parse_int(arg)
    if v is None:
        return resp.error(NOT_INT)
    seconds = flags & (_EX | _EXAT)
    if v <= 0 or (seconds and v > INT64_MAX // 1000):
        return resp.error(b"ERR invalid expire time in '%s' command" % cmdname)
    if seconds:
        v *= 1000
    if flags & (_EX | _PX):
        v += c.server.now_ms
        if v > INT64_MAX:  # C overflows to a negative number here
            return resp.error(b"ERR invalid expire time in '%s' command" % cmdname)
    return v


@command("set", -3, "write denyoom", keys=(1, 1, 1), group="string",
         summary="Sets the string value of a key, ignoring its type. The key is created if it doesn't exist.")
def set_(c, argv):
    db = c.db
    key = argv[1]
    srv = c.server
    if len(argv) == 3:  # the common case, kept flat (pipelined: string_runs.set_run and set_uniform, keep in step)
        if db.expires:
            when = db.expires.get(key)
            if when is not None:
                if when <= srv.now_ms:
                    srv.keyspace.expire_if_needed(db, key)  # DEL and `expired` first, as Redis
                db.expires.pop(key, None)
        if srv.keyspace.notify_new and key not in db.data:
            srv.notify(db.id, b"n", b"new", key)
        db.data[key] = argv[2]
        if db.enc:
            db.enc.pop(key, None)
        if db.custom_keys:
            db.custom_keys.discard(key)
        db.atime[key] = srv.lru_clock
        if srv.lfu_on:
            srv.keyspace.lfu_written(db, key)
        if db.watched:
            srv.signal_modified_key(db, key)
        if srv.propagation_targets:
            srv.propagate(db.id, argv)
        else:
            srv.dirty += 1  # all propagate() does with nobody listening, without the call
        if srv.notify_hook is not None:
            srv.notify(db.id, b"$", b"set", key)
        return resp.OK
    parsed = _string_options(argv, 3, True)
    if parsed is None:
        return resp.error(SYNTAX)
    flags, expire = parsed
    when = None
    if expire is not None:
        when = _expire_at_ms(c, expire, flags, b"set")
        if when.__class__ is bytes:
            return when
    return _set_generic(c, key, argv[2], flags, when, resp.OK, None)


def _set_generic(c, key, value, flags, when, ok_reply, abort_reply):
    """setGenericCommand after option parsing: NX/XX/GET/KEEPTTL and an
    absolute expiry `when` (ms) or None."""
    db = c.db
    srv = c.server
    ks = srv.keyspace
    want_get = flags & _GET
    old = ks.lookup(db, key)
    if want_get:
        if old is None:
            ks.key_missed(db, key)
        else:
            srv.stats.keyspace_hits += 1
        if old is not None and old.__class__ is not bytes:
            return resp.error(WRONGTYPE)
    if (flags & _NX and old is not None) or (flags & _XX and old is None):
        if want_get:
            return _null(c) if old is None else resp.bulk(old)
        return abort_reply or _null(c)
    # An expiry already in the past is stored as is, like Redis 7.0: the key
    # is logically gone, and lazy or active expiry deletes it (with a DEL).
    ks.set(db, key, value, keep_ttl=flags & _KEEPTTL)
    prop = [b"SET", key, value]
    if when is not None:
        db.expires[key] = when
        prop += [b"PXAT", b"%d" % when]
    elif flags & _KEEPTTL:
        prop.append(b"KEEPTTL")
    srv.propagate(db.id, prop)
    srv.notify(db.id, b"$", b"set", key)
    if when is not None:
        srv.notify(db.id, b"g", b"expire", key)
    if want_get:
        return _null(c) if old is None else resp.bulk(old)
    return ok_reply


@command("setnx", 3, "write denyoom fast", keys=(1, 1, 1), group="string",
         summary="Set the string value of a key only when the key doesn't exist.")
def setnx(c, argv):
    return _set_generic(c, argv[1], argv[2], _NX, None, resp.ONE, resp.ZERO)


def _setex(c, argv, flags, cmdname):
    when = _expire_at_ms(c, argv[2], flags, cmdname)
    if when.__class__ is bytes:
        return when
    return _set_generic(c, argv[1], argv[3], 0, when, resp.OK, None)


@command("setex", 4, "write denyoom", keys=(1, 1, 1), group="string",
         summary="Sets the string value and expiration time of a key. Creates the key if it doesn't exist.")
def setex(c, argv):
    return _setex(c, argv, _EX, b"setex")


@command("psetex", 4, "write denyoom", keys=(1, 1, 1), group="string",
         summary="Sets both string value and expiration time in milliseconds of a key. "
                 "The key is created if it doesn't exist.", since="2.6.0")
def psetex(c, argv):
    return _setex(c, argv, _PX, b"psetex")


def _read_string(c, key):
    """Lookup for read commands: the bytes, None if missing, or False for a
    value of another type."""
    v = c.server.keyspace.lookup_read(c.db, key)
    if v is None or v.__class__ is bytes:
        return v
    return False


@command("getset", 3, "write denyoom fast", keys=(1, 1, 1), group="string",
         summary="Returns the previous string value of a key after setting it to a new value.")
def getset(c, argv):
    old = _read_string(c, argv[1])
    if old is False:
        return resp.error(WRONGTYPE)
    srv = c.server
    srv.keyspace.set(c.db, argv[1], argv[2])
    srv.propagate(c.db.id, [b"SET", argv[1], argv[2]])
    srv.notify(c.db.id, b"$", b"set", argv[1])
    return _null(c) if old is None else resp.bulk(old)


@command("getdel", 2, "write fast", keys=(1, 1, 1), group="string",
         summary="Returns the string value of a key after deleting the key.", since="6.2.0")
def getdel(c, argv):
    old = _read_string(c, argv[1])
    if old is False:
        return resp.error(WRONGTYPE)
    if old is None:
        return _null(c)
    srv = c.server
    srv.keyspace.delete(c.db, argv[1])
    srv.propagate(c.db.id, [b"DEL", argv[1]])
    srv.notify(c.db.id, b"g", b"del", argv[1])
    return resp.bulk(old)


@command("getex", -2, "write fast", keys=(1, 1, 1), group="string",
         summary="Returns the string value of a key after setting its expiration time.", since="6.2.0")
def getex(c, argv):
    parsed = _string_options(argv, 2, False)
    if parsed is None:
        return resp.error(SYNTAX)
    flags, expire = parsed
    key = argv[1]
    old = _read_string(c, key)
    if old is None:
        return _null(c)
    if old is False:
        return resp.error(WRONGTYPE)
    srv = c.server
    db = c.db
    when = None
    if expire is not None:
        when = _expire_at_ms(c, expire, flags, b"getex")
        if when.__class__ is bytes:
            return when
    reply = resp.bulk(old)
    if flags & (_EXAT | _PXAT) and when <= srv.now_ms and not srv.loading and not srv.is_replica:
        srv.keyspace.delete(db, key)
        srv.propagate(db.id, [b"DEL", key])
        srv.notify(db.id, b"g", b"del", key)
    elif when is not None:
        db.expires[key] = when
        srv.signal_modified_key(db, key)
        srv.propagate(db.id, [b"PEXPIREAT", key, b"%d" % when])
        srv.notify(db.id, b"g", b"expire", key)
    elif flags & _PERSIST and srv.keyspace.persist(db, key):
        srv.signal_modified_key(db, key)
        srv.propagate(db.id, [b"PERSIST", key])
        srv.notify(db.id, b"g", b"persist", key)
    return reply


@command("mget", -2, "readonly fast", keys=(1, -1, 1), group="string",
         summary="Atomically returns the string values of one or more keys.")
def mget(c, argv):
    lookup = c.server.keyspace.lookup_read
    db = c.db
    vals = []
    for key in argv[1:]:
        v = lookup(db, key)
        vals.append(v if v.__class__ is bytes else None)
    return resp.bulk_array3(vals) if c.resp == 3 else resp.bulk_array(vals)


def _mset(c, argv, nx):
    if len(argv) % 2 == 0:
        return resp.error(b"ERR wrong number of arguments for '%s' command" % (b"msetnx" if nx else b"mset"))
    srv = c.server
    ks = srv.keyspace
    db = c.db
    if nx:
        for i in range(1, len(argv), 2):
            if ks.lookup(db, argv[i]) is not None:
                return resp.ZERO
    for i in range(1, len(argv), 2):
        ks.set(db, argv[i], argv[i + 1])
        srv.notify(db.id, b"$", b"set", argv[i])
    srv.propagate(db.id, argv)
    return resp.ONE if nx else resp.OK


@command("mset", -3, "write denyoom", keys=(1, -1, 2), group="string",
         summary="Atomically creates or modifies the string values of one or more keys.", since="1.0.1")
def mset(c, argv):
    return _mset(c, argv, False)


@command("msetnx", -3, "write denyoom", keys=(1, -1, 2), group="string",
         summary="Atomically modifies the string values of one or more keys only when all keys don't exist.",
         since="1.0.1")
def msetnx(c, argv):
    return _mset(c, argv, True)


@command("strlen", 2, "readonly fast", keys=(1, 1, 1), group="string",
         summary="Returns the length of a string value.", since="2.2.0")
def strlen(c, argv):
    v = _read_string(c, argv[1])
    if v is False:
        return resp.error(WRONGTYPE)
    return resp.integer(len(v) if v is not None else 0)


def _too_long(c, size):
    return size > c.server.config["proto-max-bulk-len"] and c.kind != "master"


def _store_modified(c, key, new, had_value):
    """Store a string built by APPEND/SETRANGE. Redis keeps such values raw
    (dbUnshareStringValue), which only shows for short ones."""
    db = c.db
    c.server.keyspace.set(db, key, new, keep_ttl=had_value)
    if len(new) <= EMBSTR_MAX:
        db.enc[key] = b"raw"


@command("append", 3, "write denyoom fast", keys=(1, 1, 1), group="string",
         summary="Appends a string to the value of a key. Creates the key if it doesn't exist.", since="2.0.0")
def append(c, argv):
    srv = c.server
    db = c.db
    key = argv[1]
    old = srv.keyspace.lookup(db, key)
    if old is None:
        new = argv[2]
        srv.keyspace.set(db, key, new)
    elif old.__class__ is not bytes:
        return resp.error(WRONGTYPE)
    else:
        if _too_long(c, len(old) + len(argv[2])):
            return resp.error(TOO_BIG)
        new = old + argv[2]
        _store_modified(c, key, new, True)
    srv.propagate(db.id, argv)
    srv.notify(db.id, b"$", b"append", key)
    return resp.integer(len(new))


@command("setrange", 4, "write denyoom", keys=(1, 1, 1), group="string",
         summary="Overwrites a part of a string value with another by an offset. "
                 "Creates the key if it doesn't exist.", since="2.2.0")
def setrange(c, argv):
    offset = parse_int(argv[2])
    if offset is None:
        return resp.error(NOT_INT)
    if offset < 0:
        return resp.error(b"ERR offset is out of range")
    srv = c.server
    db = c.db
    key = argv[1]
    value = argv[3]
    old = srv.keyspace.lookup(db, key)
    if old is not None and old.__class__ is not bytes:
        return resp.error(WRONGTYPE)
    if not value:
        return resp.integer(len(old) if old is not None else 0)
    if _too_long(c, offset + len(value)):
        return resp.error(TOO_BIG)
    base = old or b""
    if len(base) < offset:
        base += b"\0" * (offset - len(base))
    new = base[:offset] + value + base[offset + len(value):]
    _store_modified(c, key, new, old is not None)
    srv.propagate(db.id, argv)
    srv.notify(db.id, b"$", b"setrange", key)
    return resp.integer(len(new))


@command("getrange", 4, "readonly", keys=(1, 1, 1), group="string",
         summary="Returns a substring of the string stored at a key.", since="2.4.0", complexity="O(N)")
def getrange(c, argv):
    start = parse_int(argv[2])
    end = parse_int(argv[3])
    if start is None or end is None:
        return resp.error(NOT_INT)
    v = _read_string(c, argv[1])
    if v is None:
        return EMPTY_BULK
    if v is False:
        return resp.error(WRONGTYPE)
    n = len(v)
    if start < 0 and end < 0 and start > end:
        return EMPTY_BULK
    if start < 0:
        start = max(n + start, 0)
    if end < 0:
        end = max(n + end, 0)
    if end >= n:
        end = n - 1
    if start > end or n == 0:
        return EMPTY_BULK
    return resp.bulk(v[start:end + 1])


@command("substr", 4, "readonly", keys=(1, 1, 1), group="string",
         summary="Returns a substring from a string value.", complexity="O(N)")
def substr(c, argv):
    return getrange(c, argv)


# ---- LCS ------------------------------------------------------------------------

LCS_MAX_CELLS = 1 << 34  # bits of DP table we are willing to hold (2 GiB)


def lcs_rows(a, b):
    """The LCS table of a and b in bit-parallel form (Crochemore et al.):
    rows[i] is a len(b)-bit int whose zero bits among the low j bits count
    LCS(a[:i], b[:j]). O(len(a) * len(b) / word) instead of a Python loop
    per cell."""
    blen = len(b)
    full = (1 << blen) - 1
    masks = {}
    for j, ch in enumerate(b):
        masks[ch] = masks.get(ch, 0) | (1 << j)
    v = full
    rows = [v]
    for ch in a:
        u = v & masks.get(ch, 0)
        v = ((v + u) | (v - u)) & full
        rows.append(v)
    return rows


def _lcs_at(rows, i, j):
    return j - (rows[i] & ((1 << j) - 1)).bit_count()


@command("lcs", -3, "readonly", keys=(1, 2, 1), group="string",
         summary="Finds the longest common substring.", since="7.0.0", complexity="O(N*M)")
def lcs(c, argv):
    ks = c.server.keyspace
    a = ks.lookup_read(c.db, argv[1])
    b = ks.lookup_read(c.db, argv[2])
    if (a is not None and a.__class__ is not bytes) or (b is not None and b.__class__ is not bytes):
        return resp.error(b"ERR The specified keys must contain string values")
    a = a or b""
    b = b or b""
    getidx = getlen = withmatchlen = False
    minmatchlen = 0
    j = 3
    while j < len(argv):
        opt = argv[j].upper()
        if opt == b"IDX":
            getidx = True
        elif opt == b"LEN":
            getlen = True
        elif opt == b"WITHMATCHLEN":
            withmatchlen = True
        elif opt == b"MINMATCHLEN" and j + 1 < len(argv):
            minmatchlen = parse_int(argv[j + 1])
            if minmatchlen is None:
                return resp.error(NOT_INT)
            minmatchlen = max(minmatchlen, 0)
            j += 1
        else:
            return resp.error(SYNTAX)
        j += 1
    if getidx and getlen:
        return resp.error(b"ERR If you want both the length and indexes, please just use IDX.")
    if len(a) >= 0xFFFFFFFE or len(b) >= 0xFFFFFFFE:
        return resp.error(b"ERR String too long for LCS")
    if (len(a) + 1) * (len(b) + 1) > LCS_MAX_CELLS:
        return resp.error(b"ERR Insufficient memory, failed allocating transient memory for LCS")
    rows = lcs_rows(a, b)
    total = _lcs_at(rows, len(a), len(b))
    if getlen:
        return resp.integer(total)
    # Walk back from the end as Redis does, collecting the string and ranges.
    alen = len(a)
    out = bytearray(total)
    idx = total
    matches = []
    arange_start = alen  # alen means "no range open"
    arange_end = brange_start = brange_end = 0
    i, j = alen, len(b)
    while i > 0 and j > 0:
        emit = False
        if a[i - 1] == b[j - 1]:
            out[idx - 1] = a[i - 1]
            if arange_start == alen:
                arange_start = arange_end = i - 1
                brange_start = brange_end = j - 1
            elif arange_start == i and brange_start == j:
                arange_start -= 1
                brange_start -= 1
            else:
                emit = True
            if arange_start == 0 or brange_start == 0:
                emit = True
            idx -= 1
            i -= 1
            j -= 1
        else:
            if _lcs_at(rows, i - 1, j) > _lcs_at(rows, i, j - 1):
                i -= 1
            else:
                j -= 1
            if arange_start != alen:
                emit = True
        if emit:
            match_len = arange_end - arange_start + 1
            if getidx and (minmatchlen == 0 or match_len >= minmatchlen):
                item = [resp.array([resp.integer(arange_start), resp.integer(arange_end)]),
                        resp.array([resp.integer(brange_start), resp.integer(brange_end)])]
                if withmatchlen:
                    item.append(resp.integer(match_len))
                matches.append(resp.array(item))
            arange_start = alen
    if getidx:
        return resp.map_([(resp.bulk(b"matches"), resp.array(matches)),
                          (resp.bulk(b"len"), resp.integer(total))], c.resp)
    return resp.bulk(bytes(out))
