"""Persistence commands: SAVE, BGSAVE, BGREWRITEAOF, and DUMP/RESTORE (a single value in
the RDB serialization). The work is rdb/'s; these are the Redis replies
around it."""

from rdb import RDBError, build_value, decode_payload, dump_payload

from .. import resp
from ..util import parse_int
from . import command

SYNTAX = b"ERR syntax error"


@command("save", 1, "admin noscript no-async-loading no-multi", group="server",
         summary="Synchronously saves the database(s) to disk.", complexity="O(N) where N is the total number of "
                                                                            "keys in all databases")
def save(c, argv):
    err = c.server.snapshots.save()
    return resp.OK if err is None else resp.error(err)


@command("bgsave", -1, "admin noscript no-async-loading", group="server", since="1.0.0",
         summary="Asynchronously saves the database(s) to disk.", complexity="O(1)")
def bgsave(c, argv):
    schedule = False
    if len(argv) > 1:
        if len(argv) == 2 and argv[1].lower() == b"schedule":
            schedule = True
        else:
            return resp.error(SYNTAX)
    ok, message = c.server.snapshots.bgsave(schedule)
    return resp.simple(message.encode()) if ok else resp.error(message)


@command("bgrewriteaof", 1, "admin noscript no-async-loading", group="server", since="1.0.0",
         summary="Asynchronously rewrites the append-only file to disk.", complexity="O(1)")
def bgrewriteaof(c, argv):
    from aof.rewrite import rewriter_of  # noqa: PLC0415 - aof builds on the engine

    ok, message = rewriter_of(c.server).request()
    return resp.simple(message.encode()) if ok else resp.error(message)


@command("dump", 2, "readonly", keys=(1, 1, 1), group="generic", since="2.6.0",
         summary="Returns a serialized representation of the value stored at a key.",
         complexity="O(1) to access the key and additional O(N*M) to serialize it")
def dump(c, argv):
    srv = c.server
    v = srv.keyspace.lookup_read(c.db, argv[1])
    if v is None:
        return resp.NULL3 if c.resp == 3 else resp.NULL_BULK2
    return resp.bulk(dump_payload(v, srv.config["rdbcompression"]))


@command("restore", -4, "write denyoom", keys=(1, 1, 1), group="generic", since="2.6.0",
         summary="Creates a key from the serialized representation of a value.",
         complexity="O(1) to create the new key and additional O(N*M) to reconstruct the serialized value")
def restore(c, argv):
    """RESTORE key ttl payload [REPLACE] [ABSTTL] [IDLETIME s] [FREQ f]
    (restoreCommand): propagated with an absolute TTL and ABSTTL."""
    replace = absttl = False
    idle = freq = None
    j = 4
    while j < len(argv):
        opt = argv[j].lower()
        more = j + 1 < len(argv)
        if opt == b"replace":
            replace = True
        elif opt == b"absttl":
            absttl = True
        elif opt == b"idletime" and more and freq is None:
            idle = parse_int(argv[j + 1])
            if idle is None:
                return resp.error(b"ERR value is not an integer or out of range")
            if idle < 0:
                return resp.error(b"ERR Invalid IDLETIME value, must be >= 0")
            j += 1
        elif opt == b"freq" and more and idle is None:
            freq = parse_int(argv[j + 1])
            if freq is None:
                return resp.error(b"ERR value is not an integer or out of range")
            if freq < 0 or freq > 255:
                return resp.error(b"ERR Invalid FREQ value, must be >= 0 and <= 255")
            j += 1
        else:
            return resp.error(SYNTAX)
        j += 1
    ttl = parse_int(argv[2])
    if ttl is None:
        return resp.error(b"ERR value is not an integer or out of range")
    if ttl < 0:
        return resp.error(b"ERR Invalid TTL value, must be >= 0")
    srv = c.server
    db, key = c.db, argv[1]
    ks = srv.keyspace
    exists = ks.peek(db, key) is not None
    if exists and not replace:
        return resp.error(b"BUSYKEY Target key name already exists.")
    try:
        kind, items = decode_payload(argv[3])
    except RDBError as e:
        msg = e.message if e.message.startswith("DUMP payload") else "Bad data format"
        return resp.error("ERR " + msg)
    value = build_value(kind, items, srv.config)
    if value is None:
        return resp.error(b"ERR Bad data format")
    if ttl and not absttl:
        ttl += srv.now_ms
    if exists:
        ks.delete(db, key)
    if ttl and ttl <= srv.now_ms:  # already expired: nothing is created
        if exists:
            srv.propagate(db.id, [b"DEL", key])
            srv.notify(db.id, b"g", b"del", key)
        return resp.OK
    ks.set(db, key, value)
    if ttl:
        ks.set_expire(db, key, ttl)
    if idle is not None:
        db.atime[key] = srv.lru_clock - idle
    if freq is not None and srv.lfu_on:
        db.freq[key] = ((srv.now_ms // 60000) & 65535) << 8 | freq
    srv.notify(db.id, b"g", b"restore", key)
    out = list(argv)
    if ttl and not absttl:
        out[2] = b"%d" % ttl
        out.append(b"ABSTTL")
    srv.propagate(db.id, out)
    return resp.OK
