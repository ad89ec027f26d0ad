"""Hash commands. A hash is a dict (listpack-sized) or a HashTable (Redis
would have converted it); see engine/types/hashes.py for when one becomes
the other."""

import random
from itertools import chain, islice

from .. import resp
from ..scan import parse_cursor
from ..types.hashes import HashTable, promoted, shared_field, shared_fields, too_long
from ..util import INT64_MAX, INT64_MIN, format_long_double, parse_int
from . import command
from .counters import parse_long_double
from .keys import parse_scan_options, scan_reply
from .lists import bulk_items

WRONGTYPE_ERR = resp.error(b"WRONGTYPE Operation against a key holding the wrong kind of value")
NOT_INT_ERR = resp.error(b"ERR value is not an integer or out of range")
SYNTAX_ERR = resp.error(b"ERR syntax error")
EMPTY_SCAN = b"*2\r\n$1\r\n0\r\n*0\r\n"
_EMPTY_MAP = (resp.EMPTY_ARRAY, resp.EMPTY_ARRAY, resp.EMPTY_ARRAY, b"%0\r\n")  # by c.resp


def _lookup_write(c, key):
    """(hash or None, error reply or None) for a write command."""
    h = c.server.keyspace.lookup(c.db, key)
    if h is not None and h.__class__ is not dict and h.__class__ is not HashTable:
        return None, WRONGTYPE_ERR
    return h, None


def _lookup_read(c, key):
    h = c.server.keyspace.lookup_read(c.db, key)
    if h is not None and h.__class__ is not dict and h.__class__ is not HashTable:
        return None, WRONGTYPE_ERR
    return h, None


def _stored(srv, db, key, h, created, long_entry):
    """Finish a write to `h`: promote it if it outgrew a listpack, store a
    new hash, signal WATCH on an old one."""
    if created:
        h = promoted(db, key, h, srv.config, long_entry) if h.__class__ is dict else h
        srv.keyspace.set(db, key, h)
    else:
        promoted(db, key, h, srv.config, long_entry)
        if db.watched:
            srv.signal_modified_key(db, key)


# ---- writes ---------------------------------------------------------------------


def _hset(c, argv, name):
    n = len(argv)
    if n % 2:
        return resp.error(b"ERR wrong number of arguments for '%s' command" % name)
    key = argv[1]
    h, err = _lookup_write(c, key)
    if err is not None:
        return err
    srv = c.server
    db = c.db
    created = h is None
    if created:
        h = {}
    small = h.__class__ is dict
    long_entry = small and too_long(srv.config, islice(argv, 2, None))
    before = len(h)
    fields = argv[2::2]
    if small and not long_entry:
        fields = shared_fields(fields)
    h.update(zip(fields, argv[3::2], strict=True))
    added = len(h) - before
    _stored(srv, db, key, h, created, long_entry)
    if srv.notify_hook is not None:
        srv.notify(db.id, b"h", b"hset", key)
    srv.dirty += (n - 2) // 2 - 1  # one change per pair, as Redis counts
    srv.propagate(db.id, argv)
    return resp.integer(added) if name == b"hset" else resp.OK


@command("hset", -4, "write denyoom fast", keys=(1, 1, 1), group="hash", since="2.0.0",
         summary="Creates or modifies the value of a field in a hash.",
         complexity="O(1) for each field/value pair added")
def hset(c, argv):
    return _hset(c, argv, b"hset")


@command("hmset", -4, "write denyoom fast", keys=(1, 1, 1), group="hash", since="2.0.0",
         summary="Sets the values of multiple fields.", complexity="O(N) where N is the number of fields being set.")
def hmset(c, argv):
    return _hset(c, argv, b"hmset")


@command("hsetnx", 4, "write denyoom fast", keys=(1, 1, 1), group="hash", since="2.0.0",
         summary="Sets the value of a field in a hash only when the field doesn't exist.")
def hsetnx(c, argv):
    key = argv[1]
    h, err = _lookup_write(c, key)
    if err is not None:
        return err
    field = argv[2]
    if h is not None and field in h:
        return resp.ZERO
    srv = c.server
    db = c.db
    created = h is None
    if created:
        h = {}
    long_entry = h.__class__ is dict and too_long(srv.config, (field, argv[3]))
    if h.__class__ is dict and not long_entry:
        field = shared_field(field)
    h[field] = argv[3]
    _stored(srv, db, key, h, created, long_entry)
    srv.notify(db.id, b"h", b"hset", key)
    srv.propagate(db.id, argv)
    return resp.ONE


@command("hdel", -3, "write fast", keys=(1, 1, 1), group="hash", since="2.0.0",
         summary="Deletes one or more fields and their values from a hash. Deletes the hash if no fields remain.",
         complexity="O(N) where N is the number of fields to be removed.")
def hdel(c, argv):
    key = argv[1]
    h, err = _lookup_write(c, key)
    if err is not None:
        return err
    if h is None:
        return resp.ZERO
    srv = c.server
    db = c.db
    deleted = 0
    pop = h.pop
    for field in islice(argv, 2, None):
        if pop(field, None) is not None:
            deleted += 1
            if not h:
                break  # Redis stops at an emptied hash too
    if deleted:
        if h:
            if db.watched:
                srv.signal_modified_key(db, key)
            srv.notify(db.id, b"h", b"hdel", key)
        else:
            srv.keyspace.delete(db, key)
            srv.notify(db.id, b"h", b"hdel", key)
            srv.notify(db.id, b"g", b"del", key)
        srv.dirty += deleted - 1
        srv.propagate(db.id, argv)
    return resp.integer(deleted)


def _incr_store(srv, db, key, h, field, new):
    """Store a counter's new value (hashTypeSet: a too long field or value
    converts first, then the field count is checked)."""
    created = h is None
    if created:
        h = {}
    long_entry = h.__class__ is dict and too_long(srv.config, (field, new))
    if h.__class__ is dict and not long_entry:
        field = shared_field(field)
    h[field] = new
    _stored(srv, db, key, h, created, long_entry)


@command("hincrby", 4, "write denyoom fast", keys=(1, 1, 1), group="hash", since="2.0.0",
         summary="Increments the integer value of a field in a hash by a number. Uses 0 as initial value if the "
                 "field doesn't exist.")
def hincrby(c, argv):
    incr = parse_int(argv[3])
    if incr is None:
        return NOT_INT_ERR
    key = argv[1]
    h, err = _lookup_write(c, key)
    if err is not None:
        return err
    field = argv[2]
    old = h.get(field) if h is not None else None
    value = 0
    if old is not None:
        value = parse_int(old)
        if value is None:
            return resp.error(b"ERR hash value is not an integer")
    value += incr
    if value > INT64_MAX or value < INT64_MIN:
        return resp.error(b"ERR increment or decrement would overflow")
    srv = c.server
    db = c.db
    _incr_store(srv, db, key, h, field, b"%d" % value)
    srv.notify(db.id, b"h", b"hincrby", key)
    srv.propagate(db.id, argv)
    return resp.integer(value)


@command("hincrbyfloat", 4, "write denyoom fast", keys=(1, 1, 1), group="hash", since="2.6.0",
         summary="Increments the floating point value of a field by a number. Uses 0 as initial value if the "
                 "field doesn't exist.")
def hincrbyfloat(c, argv):
    import numpy  # noqa: PLC0415 - heavy, only the float commands need it

    incr = parse_long_double(argv[3])
    if incr is None:
        return resp.error(b"ERR value is not a valid float")
    if not numpy.isfinite(incr):
        return resp.error(b"ERR value is NaN or Infinity")
    key = argv[1]
    h, err = _lookup_write(c, key)
    if err is not None:
        return err
    field = argv[2]
    old = h.get(field) if h is not None else None
    value = numpy.longdouble(0)
    if old is not None:
        value = parse_long_double(old)
        if value is None:
            return resp.error(b"ERR hash value is not a float")
    with numpy.errstate(all="ignore"):
        value = value + incr
    if not numpy.isfinite(value):
        return resp.error(b"ERR increment would produce NaN or Infinity")
    new = format_long_double(value)
    srv = c.server
    db = c.db
    _incr_store(srv, db, key, h, field, new)
    srv.notify(db.id, b"h", b"hincrbyfloat", key)
    # The result, not the increment, so replicas and AOF replays agree to the bit.
    srv.propagate(db.id, [b"HSET", key, field, new])
    return resp.bulk(new)


# ---- reads ------------------------------------------------------------------------


@command("hget", 3, "readonly fast", keys=(1, 1, 1), group="hash", since="2.0.0",
         summary="Returns the value of a field in a hash.")
def hget(c, argv):
    h, err = _lookup_read(c, argv[1])
    if err is not None:
        return err
    v = h.get(argv[2]) if h is not None else None
    if v is None:
        return resp.NULL3 if c.resp == 3 else resp.NULL_BULK2
    return resp.bulk(v)


@command("hmget", -3, "readonly fast", keys=(1, 1, 1), group="hash", since="2.0.0",
         summary="Returns the values of all fields in a hash.",
         complexity="O(N) where N is the number of fields being requested.")
def hmget(c, argv):
    h, err = _lookup_read(c, argv[1])
    if err is not None:
        return err
    fields = argv[2:]
    values = [None] * len(fields) if h is None else [h.get(f) for f in fields]
    return resp.bulk_array3(values) if c.resp == 3 else resp.bulk_array(values)


@command("hexists", 3, "readonly fast", keys=(1, 1, 1), group="hash", since="2.0.0",
         summary="Determines whether a field exists in a hash.")
def hexists(c, argv):
    h, err = _lookup_read(c, argv[1])
    if err is not None:
        return err
    return resp.ONE if h is not None and argv[2] in h else resp.ZERO


@command("hlen", 2, "readonly fast", keys=(1, 1, 1), group="hash", since="2.0.0",
         summary="Returns the number of fields in a hash.")
def hlen(c, argv):
    h, err = _lookup_read(c, argv[1])
    if err is not None:
        return err
    return resp.integer(len(h)) if h is not None else resp.ZERO


@command("hstrlen", 3, "readonly fast", keys=(1, 1, 1), group="hash", since="3.2.0",
         summary="Returns the length of the value of a field.")
def hstrlen(c, argv):
    h, err = _lookup_read(c, argv[1])
    if err is not None:
        return err
    v = h.get(argv[2]) if h is not None else None
    return resp.integer(len(v)) if v is not None else resp.ZERO


@command("hkeys", 2, "readonly", keys=(1, 1, 1), group="hash", since="2.0.0",
         summary="Returns all fields in a hash.", complexity="O(N) where N is the size of the hash.")
def hkeys(c, argv):
    h, err = _lookup_read(c, argv[1])
    if err is not None:
        return err
    return bulk_items(list(h)) if h is not None else resp.EMPTY_ARRAY


@command("hvals", 2, "readonly", keys=(1, 1, 1), group="hash", since="2.0.0",
         summary="Returns all values in a hash.", complexity="O(N) where N is the size of the hash.")
def hvals(c, argv):
    h, err = _lookup_read(c, argv[1])
    if err is not None:
        return err
    return bulk_items(list(h.values())) if h is not None else resp.EMPTY_ARRAY


@command("hgetall", 2, "readonly", keys=(1, 1, 1), group="hash", since="2.0.0",
         summary="Returns all fields and values in a hash.", complexity="O(N) where N is the size of the hash.")
def hgetall(c, argv):
    h, err = _lookup_read(c, argv[1])
    if err is not None:
        return err
    if h is None:
        return _EMPTY_MAP[c.resp]
    return bulk_items(list(chain.from_iterable(h.items())), b"%%%d\r\n" % len(h) if c.resp == 3 else None)


# ---- HRANDFIELD -------------------------------------------------------------------

_HALF_LONG = INT64_MAX // 2
RANDOM_REPEAT_MAX = 1 << 25  # draws with repeats we will answer (see below)


def _pairs_reply(pairs, withvalues, resp3):
    """HRANDFIELD's array: fields, or field/value pairs (flat in RESP2,
    nested two-element arrays in RESP3)."""
    if not withvalues:
        return resp.bulk_array(pairs)
    if resp3:
        parts = [b"*%d\r\n" % len(pairs)]
        for f, v in pairs:
            parts.append(b"*2\r\n$%d\r\n%s\r\n$%d\r\n%s\r\n" % (len(f), f, len(v), v))
    else:
        parts = [b"*%d\r\n" % (2 * len(pairs))]
        for f, v in pairs:
            parts.append(b"$%d\r\n%s\r\n$%d\r\n%s\r\n" % (len(f), f, len(v), v))
    return b"".join(parts)


@command("hrandfield", -2, "readonly", keys=(1, 1, 1), group="hash", since="6.2.0",
         summary="Returns one or more random fields from a hash.",
         complexity="O(N) where N is the number of fields returned")
def hrandfield(c, argv):
    n = len(argv)
    if n == 2:
        h, err = _lookup_read(c, argv[1])
        if err is not None:
            return err
        if h is None:
            return resp.NULL3 if c.resp == 3 else resp.NULL_BULK2
        return resp.bulk(next(islice(h, random.randrange(len(h)), None)))
    count = parse_int(argv[2])
    if count is None:
        return NOT_INT_ERR
    if count == INT64_MIN:
        return resp.error(b"ERR value is out of range, value must between -9223372036854775807 and "
                          b"9223372036854775807")
    withvalues = False
    if n > 4 or (n == 4 and argv[3].upper() != b"WITHVALUES"):
        return SYNTAX_ERR
    if n == 4:
        withvalues = True
        if count < -_HALF_LONG or count > _HALF_LONG:
            return resp.error(b"ERR value is out of range")
    h, err = _lookup_read(c, argv[1])
    if err is not None:
        return err
    if h is None or count == 0:
        return resp.EMPTY_ARRAY
    if count < -RANDOM_REPEAT_MAX:
        # Redis would build a reply that large until memory ran out; refuse.
        return resp.error(b"ERR value is out of range")
    items = list(h.items()) if withvalues else list(h)
    if count < 0:
        # Repeats allowed: `count` independent draws.
        return _pairs_reply(random.choices(items, k=-count), withvalues, c.resp == 3)
    if count >= len(items):
        return _pairs_reply(items, withvalues, c.resp == 3)  # the whole hash, in its order
    if h.__class__ is dict:
        # Redis samples a listpack without repeats in listpack order.
        picked = sorted(random.sample(range(len(items)), count))
        return _pairs_reply([items[i] for i in picked], withvalues, c.resp == 3)
    return _pairs_reply(random.sample(items, count), withvalues, c.resp == 3)


# ---- HSCAN ------------------------------------------------------------------------


@command("hscan", -3, "readonly", keys=(1, 1, 1), group="hash", since="2.8.0",
         summary="Iterates over fields and values of a hash.",
         complexity="O(1) for every call. O(N) for a complete iteration, including enough command calls for the "
                    "cursor to return back to 0. N is the number of elements inside the collection.")
def hscan(c, argv):
    cursor = parse_cursor(argv[2])
    if cursor is None:
        return resp.error(b"ERR invalid cursor")
    key = argv[1]
    h, err = _lookup_read(c, key)
    if err is not None:
        return err
    if h is None:
        return EMPTY_SCAN
    opts = parse_scan_options(argv, 3)
    if opts.__class__ is bytes:
        return opts
    count, match, _ = opts
    out = []
    if h.__class__ is dict:
        # A listpack hash is answered whole, whatever the cursor, as Redis does.
        for f, v in h.items():
            if match is None or match(f):
                out.append(f)
                out.append(v)
        return scan_reply(0, out)

    def visit(f):
        v = h.get(f)
        if v is None or (match is not None and not match(f)):
            return None
        return (f, v)

    nxt, found = c.server.keyspace.scanner.scan((c.db.id, key), h, cursor, count, visit)
    for f, v in found:
        out.append(f)
        out.append(v)
    return scan_reply(nxt, out)



