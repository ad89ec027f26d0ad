"""Expiry commands: EXPIRE and friends (with NX/XX/GT/LT), TTL/PTTL,
EXPIRETIME/PEXPIRETIME, PERSIST.

Expiries are absolute unix milliseconds in `db.expires`. Every change is
propagated as PEXPIREAT with the absolute time (so a replica or an AOF
replay computes nothing from its own clock); an expiry already in the past
deletes the key and propagates DEL, as Redis 7 does.
"""

from .. import resp
from ..util import INT64_MAX, INT64_MIN, parse_int
from . import command

_NX, _XX, _GT, _LT = 1, 2, 4, 8
_FLAGS = {b"NX": _NX, b"XX": _XX, b"GT": _GT, b"LT": _LT}


def _expire_generic(c, argv, basetime, seconds, cmdname):
    """expireGenericCommand: argv[2] is relative to `basetime` (ms), in
    seconds or milliseconds."""
    flags = 0
    for opt in argv[3:]:
        f = _FLAGS.get(opt.upper())
        if f is None:
            return resp.error(b"ERR Unsupported option %s" % opt)
        flags |= f
    if flags & _NX and flags & (_XX | _GT | _LT):
        return resp.error(b"ERR NX and XX, GT or LT options at the same time are not compatible")
    if flags & _GT and flags & _LT:
        return resp.error(b"ERR GT and LT options at the same time are not compatible")
    when = parse_int(argv[2])
    if when is None:
        return resp.error(b"ERR value is not an integer or out of range")
    if seconds:
        if when > INT64_MAX // 1000 or when < -(INT64_MIN // -1000):
            return _invalid_time(c, cmdname)
        when *= 1000
    if when > INT64_MAX - basetime:
        return _invalid_time(c, cmdname)
    when += basetime

    srv = c.server
    ks = srv.keyspace
    db = c.db
    key = argv[1]
    if ks.lookup(db, key) is None:
        return resp.ZERO
    if flags:
        current = db.expires.get(key, -1) if db.expires else -1
        if flags & _NX and current != -1:
            return resp.ZERO
        if flags & _XX and current == -1:
            return resp.ZERO
        if flags & _GT and (when <= current or current == -1):
            return resp.ZERO
        if flags & _LT and current != -1 and when >= current:
            return resp.ZERO

    if when <= srv.now_ms and not srv.loading and not srv.is_replica:
        ks.delete(db, key)
        srv.propagate(db.id, [b"DEL", key])
        srv.notify(db.id, b"g", b"del", key)
        return resp.ONE
    db.expires[key] = when
    srv.signal_modified_key(db, key)
    srv.propagate(db.id, [b"PEXPIREAT", key, b"%d" % when] + argv[3:])
    srv.notify(db.id, b"g", b"expire", key)
    return resp.ONE


def _invalid_time(c, cmdname):
    return resp.error(b"ERR invalid expire time in '%s' command" % cmdname)


_EXPIRE_DOC = dict(keys=(1, 1, 1), group="generic")


@command("expire", -3, "write fast", summary="Sets the expiration time of a key in seconds.", **_EXPIRE_DOC)
def expire(c, argv):
    return _expire_generic(c, argv, c.server.now_ms, True, b"expire")


@command("pexpire", -3, "write fast", summary="Sets the expiration time of a key in milliseconds.",
         since="2.6.0", **_EXPIRE_DOC)
def pexpire(c, argv):
    return _expire_generic(c, argv, c.server.now_ms, False, b"pexpire")


@command("expireat", -3, "write fast", summary="Sets the expiration time of a key to a Unix timestamp.",
         since="1.2.0", **_EXPIRE_DOC)
def expireat(c, argv):
    return _expire_generic(c, argv, 0, True, b"expireat")


@command("pexpireat", -3, "write fast", summary="Sets the expiration time of a key to a Unix milliseconds "
                                                 "timestamp.", since="2.6.0", **_EXPIRE_DOC)
def pexpireat(c, argv):
    return _expire_generic(c, argv, 0, False, b"pexpireat")


def _ttl(c, key, absolute, ms):
    """ttlGenericCommand: -2 missing, -1 no TTL; seconds are rounded."""
    ks = c.server.keyspace
    if ks.lookup_read(c.db, key, False) is None:
        return resp.integer(-2)
    when = c.db.expires.get(key) if c.db.expires else None
    if when is None:
        return resp.integer(-1)
    ttl = when if absolute else when - c.server.now_ms
    if ttl < 0:
        ttl = 0
    return resp.integer(ttl if ms else (ttl + 500) // 1000)


@command("ttl", 2, "readonly fast", summary="Returns the expiration time in seconds of a key.", **_EXPIRE_DOC)
def ttl(c, argv):
    return _ttl(c, argv[1], False, False)


@command("pttl", 2, "readonly fast", summary="Returns the expiration time in milliseconds of a key.",
         since="2.6.0", **_EXPIRE_DOC)
def pttl(c, argv):
    return _ttl(c, argv[1], False, True)


@command("expiretime", 2, "readonly fast", summary="Returns the expiration time of a key as a Unix timestamp.",
         since="7.0.0", **_EXPIRE_DOC)
def expiretime(c, argv):
    return _ttl(c, argv[1], True, False)


@command("pexpiretime", 2, "readonly fast", since="7.0.0", **_EXPIRE_DOC,
         summary="Returns the expiration time of a key as a Unix milliseconds timestamp.")
def pexpiretime(c, argv):
    return _ttl(c, argv[1], True, True)


@command("persist", 2, "write fast", summary="Removes the expiration time of a key.", since="2.2.0",
         **_EXPIRE_DOC)
def persist(c, argv):
    srv = c.server
    db = c.db
    key = argv[1]
    if srv.keyspace.lookup(db, key) is None or not srv.keyspace.persist(db, key):
        return resp.ZERO
    srv.signal_modified_key(db, key)
    srv.propagate(db.id, argv)
    srv.notify(db.id, b"g", b"persist", key)
    return resp.ONE
