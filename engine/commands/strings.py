"""String commands: GET/SET and friends, counters, ranges.

Values are stored as `bytes`. OBJECT ENCODING derives int/embstr/raw from
the bytes when asked, so the store itself stays a plain dict of bytes.
"""

from .. import resp
from ..resp import BULK_HEADERS
from ..util import INT64_MAX, parse_int
from . import command

WRONGTYPE = b"WRONGTYPE Operation against a key holding the wrong kind of value"
NOT_INT = b"ERR value is not an integer or out of range"
SYNTAX = b"ERR syntax error"


def _null(c):
    return resp.NULL3 if c.resp == 3 else resp.NULL_BULK2


@command("get", 2, "readonly fast", keys=(1, 1, 1), group="string",
         summary="Returns the string value of a key.")
def get(c, argv):
    db = c.db
    key = argv[1]
    v = db.data.get(key)
    srv = c.server
    if v is not None and db.expires and key in db.expires:
        v = srv.keyspace.lookup(db, key)
    if v is None:
        srv.stats.keyspace_misses += 1
        return resp.NULL3 if c.resp == 3 else resp.NULL_BULK2
    srv.stats.keyspace_hits += 1
    if v.__class__ is not bytes:
        return resp.error(WRONGTYPE)
    n = len(v)
    if n < 4096:
        return BULK_HEADERS[n] + v + b"\r\n"
    return b"$%d\r\n%s\r\n" % (n, v)


def _set_options(c, argv, start, cmdname, allow=("NX", "XX", "GET", "EX", "PX", "EXAT", "PXAT", "KEEPTTL")):
    """Parse SET's option words from argv[start:]. Returns
    (cond, get, expire_at_ms, keepttl) or an error reply (bytes)."""
    cond = None
    want_get = False
    when = None
    keepttl = False
    unit = None
    i = start
    n = len(argv)
    while i < n:
        opt = argv[i].upper()
        if opt == b"NX" and cond is None and b"NX" in _ALLOWED[allow]:
            cond = b"NX"
        elif opt == b"XX" and cond is None and b"XX" in _ALLOWED[allow]:
            cond = b"XX"
        elif opt == b"GET" and b"GET" in _ALLOWED[allow]:
            want_get = True
        elif opt == b"KEEPTTL" and unit is None and b"KEEPTTL" in _ALLOWED[allow]:
            keepttl = True
        elif opt in (b"EX", b"PX", b"EXAT", b"PXAT") and unit is None and not keepttl and i + 1 < n:
            unit = opt
            i += 1
            v = parse_int(argv[i])
            if v is None:
                return NOT_INT
            if v <= 0:
                return b"ERR invalid expire time in '%s' command" % cmdname
            now = c.server.now_ms
            if unit == b"EX":
                if v > (INT64_MAX - now) // 1000:
                    return b"ERR invalid expire time in '%s' command" % cmdname
                when = now + v * 1000
            elif unit == b"PX":
                if v > INT64_MAX - now:
                    return b"ERR invalid expire time in '%s' command" % cmdname
                when = now + v
            elif unit == b"EXAT":
                if v > INT64_MAX // 1000:
                    return b"ERR invalid expire time in '%s' command" % cmdname
                when = v * 1000
            else:
                when = v
        else:
            return SYNTAX
        i += 1
    return cond, want_get, when, keepttl


_ALLOWED = {}
_SET_ALLOWED = ("NX", "XX", "GET", "EX", "PX", "EXAT", "PXAT", "KEEPTTL")
_ALLOWED[_SET_ALLOWED] = {o.encode() for o in _SET_ALLOWED}


@command("set", -3, "write denyoom", keys=(1, 1, 1), group="string",
         summary="Sets the string value of a key, ignoring its type. The key is created if it doesn't exist.")
def set_(c, argv):
    db = c.db
    key = argv[1]
    srv = c.server
    if len(argv) == 3:  # the common case, kept flat
        db.data[key] = argv[2]
        if db.expires:
            db.expires.pop(key, None)
        if db.watched:
            srv.signal_modified_key(db, key)
        srv.propagate(db.id, argv)
        if srv.notify_hook is not None:
            srv.notify(db.id, b"$", b"set", key)
        return resp.OK
    parsed = _set_options(c, argv, 3, b"set")
    if parsed.__class__ is bytes:
        return resp.error(parsed)
    cond, want_get, when, keepttl = parsed
    ks = srv.keyspace
    old = ks.lookup(db, key)
    if want_get and old is not None and old.__class__ is not bytes:
        return resp.error(WRONGTYPE)
    if (cond == b"NX" and old is not None) or (cond == b"XX" and old is None):
        if want_get:
            return _null(c) if old is None else resp.bulk(old)
        return _null(c)
    value = argv[2]
    if when is not None and when <= srv.now_ms:
        # Already expired: the net effect is a delete, and that is what we propagate.
        if old is not None:
            ks.delete(db, key)
            srv.propagate(db.id, [b"DEL", key])
            srv.notify(db.id, b"g", b"del", key)
    else:
        ks.set(db, key, value, keep_ttl=keepttl)
        prop = [b"SET", key, value]
        if when is not None:
            db.expires[key] = when
            prop += [b"PXAT", b"%d" % when]
        elif keepttl:
            prop.append(b"KEEPTTL")
        srv.propagate(db.id, prop)
        srv.notify(db.id, b"$", b"set", key)
        if when is not None:
            srv.notify(db.id, b"g", b"expire", key)
    if want_get:
        return _null(c) if old is None else resp.bulk(old)
    return resp.OK
