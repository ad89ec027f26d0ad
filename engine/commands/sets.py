"""Set commands. A set is a `set` (intset-sized) or a SetTable (Redis would
have converted it); see engine/types/sets.py for when one becomes the other
and in which order replies list members.

Writes propagate deterministically: SPOP becomes SREM of what was popped
(DEL when it took the whole set, as Redis 7.0), SRANDMEMBER propagates
nothing, everything else goes as received.
"""

import random

from .. import resp
from ..scan import parse_cursor
from ..types.sets import SetTable, add_members, build, ordered, random_member, union_order
from ..util import INT64_MAX, parse_int
from . import command
from .hashes import RANDOM_REPEAT_MAX
from .keys import parse_scan_options, scan_reply
from .lists import bulk_items

WRONGTYPE_ERR = resp.error(b"WRONGTYPE Operation against a key holding the wrong kind of value")
NOT_INT_ERR = resp.error(b"ERR value is not an integer or out of range")
SYNTAX_ERR = resp.error(b"ERR syntax error")
OUT_OF_RANGE_POSITIVE = resp.error(b"ERR value is out of range, must be positive")
RANGE_LONG_ERR = resp.error(b"ERR value is out of range, value must between -9223372036854775807 and "
                            b"9223372036854775807")
EMPTY_SCAN = b"*2\r\n$1\r\n0\r\n*0\r\n"
_EMPTY_SET = (b"*0\r\n", b"*0\r\n", b"*0\r\n", b"~0\r\n")  # by c.resp


def _check(v):
    """True when `v` (not None) is not a set."""
    c = v.__class__
    return c is not set and c is not SetTable


def _set_reply(c, members):
    """Members as a RESP3 set / RESP2 array."""
    if members.__class__ is not list:
        members = list(members)
    return bulk_items(members, b"~%d\r\n" % len(members) if c.resp == 3 else None)


def _max_intset(srv):
    return srv.config["set-max-intset-entries"]


def _removed_key(srv, db, key):
    """The last member went: delete the key (an empty set never stays)."""
    srv.keyspace.delete(db, key)
    srv.notify(db.id, b"g", b"del", key)


# ---- writes ---------------------------------------------------------------------


@command("sadd", -3, "write denyoom fast", keys=(1, 1, 1), group="set", since="1.0.0",
         summary="Adds one or more members to a set. Creates the key if it doesn't exist.",
         complexity="O(1) for each element added, so O(N) to add N elements when the command is called with "
                    "multiple arguments.")
def sadd(c, argv):
    key = argv[1]
    srv = c.server
    db = c.db
    s = srv.keyspace.lookup(db, key)
    members = argv[2:]
    if s is None:
        s = build(set(members), _max_intset(srv))
        srv.keyspace.set(db, key, s)
        added = len(s)
    else:
        if _check(s):
            return WRONGTYPE_ERR
        new, added = add_members(s, members, _max_intset(srv))
        if not added:
            return resp.ZERO
        if new is not s:
            db.data[key] = new  # same key, same TTL: only the representation changes
            db.stored(key, new)
        srv.signal_modified_key(db, key)
    srv.notify(db.id, b"s", b"sadd", key)
    srv.dirty += added - 1
    srv.propagate(db.id, argv)
    return resp.integer(added)


@command("srem", -3, "write fast", keys=(1, 1, 1), group="set", since="1.0.0",
         summary="Removes one or more members from a set. Deletes the set if the last member was removed.",
         complexity="O(N) where N is the number of members to be removed.")
def srem(c, argv):
    key = argv[1]
    srv = c.server
    db = c.db
    s = srv.keyspace.lookup(db, key)
    if s is None:
        return resp.ZERO
    if _check(s):
        return WRONGTYPE_ERR
    before = len(s)
    s.difference_update(argv[2:])
    deleted = before - len(s)
    if not deleted:
        return resp.ZERO
    srv.signal_modified_key(db, key)
    srv.notify(db.id, b"s", b"srem", key)
    if not s:
        _removed_key(srv, db, key)
    srv.dirty += deleted - 1
    srv.propagate(db.id, argv)
    return resp.integer(deleted)


@command("smove", 4, "write fast", keys=(1, 2, 1), group="set", since="1.0.0",
         summary="Moves a member from one set to another.")
def smove(c, argv):
    src_key, dst_key, member = argv[1], argv[2], argv[3]
    srv = c.server
    db = c.db
    ks = srv.keyspace
    src = ks.lookup(db, src_key)
    dst = ks.lookup(db, dst_key)
    if src is None:
        return resp.ZERO
    if _check(src) or (dst is not None and _check(dst)):
        return WRONGTYPE_ERR
    if src is dst:
        return resp.ONE if member in src else resp.ZERO
    if member not in src:
        return resp.ZERO
    src.discard(member)
    srv.notify(db.id, b"s", b"srem", src_key)
    if not src:
        _removed_key(srv, db, src_key)
    else:
        srv.signal_modified_key(db, src_key)
    if dst is None:
        ks.set(db, dst_key, build({member}, _max_intset(srv)))
        srv.notify(db.id, b"s", b"sadd", dst_key)
    else:
        new, added = add_members(dst, (member,), _max_intset(srv))
        if new is not dst:
            db.data[dst_key] = new
            db.stored(dst_key, new)
        srv.signal_modified_key(db, dst_key)
        if added:
            srv.notify(db.id, b"s", b"sadd", dst_key)
    srv.propagate(db.id, argv)
    return resp.ONE


@command("spop", -2, "write fast", keys=(1, 1, 1), group="set", since="1.0.0",
         summary="Returns one or more random members from a set after removing them. Deletes the set if the last "
                 "member was popped.",
         complexity="Without the count argument O(1), otherwise O(N) where N is the value of the passed count.")
def spop(c, argv):
    n = len(argv)
    if n == 3:
        return _spop_count(c, argv)
    if n > 3:
        return SYNTAX_ERR
    key = argv[1]
    srv = c.server
    db = c.db
    s = srv.keyspace.lookup(db, key)
    if s is None:
        return resp.null(c.resp)
    if _check(s):
        return WRONGTYPE_ERR
    m = random_member(s)
    s.discard(m)
    srv.notify(db.id, b"s", b"spop", key)
    if not s:
        _removed_key(srv, db, key)
    else:
        srv.signal_modified_key(db, key)
    srv.propagate(db.id, [b"SREM", key, m])
    return resp.bulk(m)


def _spop_count(c, argv):
    count = parse_int(argv[2])
    if count is None or count < 0:
        return OUT_OF_RANGE_POSITIVE
    key = argv[1]
    srv = c.server
    db = c.db
    s = srv.keyspace.lookup(db, key)
    if s is None:
        return _EMPTY_SET[c.resp]
    if _check(s):
        return WRONGTYPE_ERR
    if count == 0:
        return _EMPTY_SET[c.resp]
    size = len(s)
    srv.notify(db.id, b"s", b"spop", key)
    if count >= size:
        # The whole set: Redis replies it as a union and propagates a DEL.
        out = list(union_order(s, _max_intset(srv)))
        _removed_key(srv, db, key)
        srv.propagate(db.id, [b"DEL", key])
        return _set_reply(c, out)
    out = random.sample(list(s), count)
    remaining = size - count
    if remaining * 5 > count or s.__class__ is set:
        s.difference_update(out)
        srv.signal_modified_key(db, key)
    else:
        # Redis rebuilds a set from the few survivors (SPOP_MOVE_STRATEGY_MUL),
        # which may turn a hashtable of integers back into an intset.
        rest = set(s)
        rest.difference_update(out)
        srv.keyspace.set(db, key, build(rest, _max_intset(srv)), keep_ttl=True)
    srv.dirty += count - 1
    srv.propagate(db.id, [b"SREM", key] + out)
    return _set_reply(c, out)


# ---- reads ------------------------------------------------------------------------


def _lookup_read(c, key):
    """(set or None, error reply or None)."""
    s = c.server.keyspace.lookup_read(c.db, key)
    if s is not None and _check(s):
        return None, WRONGTYPE_ERR
    return s, None


@command("scard", 2, "readonly fast", keys=(1, 1, 1), group="set", since="1.0.0",
         summary="Returns the number of members in a set.")
def scard(c, argv):
    s, err = _lookup_read(c, argv[1])
    if err is not None:
        return err
    return resp.integer(len(s)) if s is not None else resp.ZERO


@command("sismember", 3, "readonly fast", keys=(1, 1, 1), group="set", since="1.0.0",
         summary="Determines whether a member belongs to a set.")
def sismember(c, argv):
    s, err = _lookup_read(c, argv[1])
    if err is not None:
        return err
    return resp.ONE if s is not None and argv[2] in s else resp.ZERO


@command("smismember", -3, "readonly fast", keys=(1, 1, 1), group="set", since="6.2.0",
         summary="Determines whether multiple members belong to a set.",
         complexity="O(N) where N is the number of elements being checked for membership")
def smismember(c, argv):
    s, err = _lookup_read(c, argv[1])
    if err is not None:
        return err
    s = s or ()
    parts = [b"*%d\r\n" % (len(argv) - 2)]
    for m in argv[2:]:
        parts.append(resp.ONE if m in s else resp.ZERO)
    return b"".join(parts)


@command("smembers", 2, "readonly", keys=(1, 1, 1), group="set", since="1.0.0",
         summary="Returns all members of a set.", complexity="O(N) where N is the set cardinality.")
def smembers(c, argv):
    s, err = _lookup_read(c, argv[1])
    if err is not None:
        return err
    if s is None:
        return _EMPTY_SET[c.resp]
    return _set_reply(c, ordered(s))


@command("srandmember", -2, "readonly", keys=(1, 1, 1), group="set", since="1.0.0",
         summary="Get one or multiple random members from a set",
         complexity="Without the count argument O(1), otherwise O(N) where N is the absolute value of the passed "
                    "count.")
def srandmember(c, argv):
    n = len(argv)
    if n > 3:
        return SYNTAX_ERR
    if n == 3:
        count = parse_int(argv[2])
        if count is None:
            return NOT_INT_ERR
        if count < -INT64_MAX:
            return RANGE_LONG_ERR
    s, err = _lookup_read(c, argv[1])
    if err is not None:
        return err
    if n == 2:
        return resp.bulk(random_member(s)) if s is not None else resp.null(c.resp)
    if s is None or count == 0:
        return resp.EMPTY_ARRAY
    if count < 0:
        if count < -RANDOM_REPEAT_MAX:
            # Redis would build a reply that large until memory ran out; refuse.
            return resp.error(b"ERR value is out of range")
        return resp.bulk_array(random.choices(list(s), k=-count))
    if count >= len(s):
        return resp.bulk_array(list(union_order(s, _max_intset(c.server))))
    return resp.bulk_array(random.sample(list(s), count))


# ---- SINTER / SUNION / SDIFF ------------------------------------------------------------


def _gather(c, keys):
    """The sets named by `keys` (None for missing ones), or an error reply
    when any of them is not a set (every key is checked, as Redis 7.0).
    The *STORE forms read their sources as reads too (hits, misses and
    `keymiss`, as Redis 7.0's lookupKeyRead)."""
    lookup = c.server.keyspace.lookup_read
    db = c.db
    sets = []
    for k in keys:
        s = lookup(db, k)
        if s is not None and _check(s):
            return WRONGTYPE_ERR
        sets.append(s)
    return sets


def _intersection(sets):
    """(members, intset order?) of the intersection, as sinterGenericCommand
    walks the smallest set."""
    if any(s is None for s in sets):
        return set(), False
    sets = sorted(sets, key=len)  # stable, as glibc's merge-sort qsort
    first = sets[0]
    inter = first.intersection(*sets[1:]) if len(sets) > 1 else set(first)
    return inter, first.__class__ is set


def _store(c, argv, dst, result, event):
    """Replace `dst` by `result` (deleting it when empty); reply the size."""
    srv = c.server
    db = c.db
    ks = srv.keyspace
    if result:
        ks.set(db, dst, build(result, _max_intset(srv)))
        srv.notify(db.id, b"s", event, dst)
    elif ks.delete(db, dst):
        srv.notify(db.id, b"g", b"del", dst)
    else:
        return resp.ZERO  # nothing changed, nothing to propagate
    srv.propagate(db.id, argv)
    return resp.integer(len(result))


@command("sinter", -2, "readonly", keys=(1, -1, 1), group="set", since="1.0.0",
         summary="Returns the intersect of multiple sets.",
         complexity="O(N*M) worst case where N is the cardinality of the smallest set and M is the number of sets.")
def sinter(c, argv):
    sets = _gather(c, argv[1:])
    if sets.__class__ is bytes:
        return sets
    inter, intset_order = _intersection(sets)
    return _set_reply(c, sorted(inter, key=int) if intset_order else inter)


@command("sinterstore", -3, "write denyoom", keys=(1, -1, 1), group="set", since="1.0.0",
         summary="Stores the intersect of multiple sets in a key.",
         complexity="O(N*M) worst case where N is the cardinality of the smallest set and M is the number of sets.")
def sinterstore(c, argv):
    sets = _gather(c, argv[2:])
    if sets.__class__ is bytes:
        return sets
    inter, _ = _intersection(sets)
    return _store(c, argv, argv[1], inter, b"sinterstore")


@command("sintercard", -3, "readonly movablekeys", group="set", since="7.0.0",
         summary="Returns the number of members of the intersect of multiple sets.",
         complexity="O(N*M) worst case where N is the cardinality of the smallest set and M is the number of sets.")
def sintercard(c, argv):
    numkeys = parse_int(argv[1])
    if numkeys is None or numkeys < 1:
        return resp.error(b"ERR numkeys should be greater than 0")
    if numkeys > len(argv) - 2:
        return resp.error(b"ERR Number of keys can't be greater than number of args")
    limit = 0
    j = 2 + numkeys
    n = len(argv)
    while j < n:
        if argv[j].upper() == b"LIMIT" and j + 1 < n:
            limit = parse_int(argv[j + 1])
            if limit is None or limit < 0:
                return resp.error(b"ERR LIMIT can't be negative")
            j += 2
        else:
            return SYNTAX_ERR
    sets = _gather(c, argv[2:2 + numkeys])
    if sets.__class__ is bytes:
        return sets
    inter, _ = _intersection(sets)
    n = len(inter)
    return resp.integer(min(n, limit) if limit else n)


def _union_diff(sets, diff):
    if diff:
        first = sets[0]
        if first is None:
            return set()
        rest = [s for s in sets[1:] if s is not None]
        if any(s is first for s in rest):
            return set()
        return first.difference(*rest)
    out = set()
    out.update(*(s for s in sets if s is not None))
    return out


def _union_diff_read(c, argv, diff):
    sets = _gather(c, argv[1:])
    if sets.__class__ is bytes:
        return sets
    result = _union_diff(sets, diff)
    return _set_reply(c, union_order(result, _max_intset(c.server)))


def _union_diff_store(c, argv, diff):
    sets = _gather(c, argv[2:])
    if sets.__class__ is bytes:
        return sets
    return _store(c, argv, argv[1], _union_diff(sets, diff), b"sdiffstore" if diff else b"sunionstore")


@command("sunion", -2, "readonly", keys=(1, -1, 1), group="set", since="1.0.0",
         summary="Returns the union of multiple sets.",
         complexity="O(N) where N is the total number of elements in all given sets.")
def sunion(c, argv):
    return _union_diff_read(c, argv, False)


@command("sunionstore", -3, "write denyoom", keys=(1, -1, 1), group="set", since="1.0.0",
         summary="Stores the union of multiple sets in a key.",
         complexity="O(N) where N is the total number of elements in all given sets.")
def sunionstore(c, argv):
    return _union_diff_store(c, argv, False)


@command("sdiff", -2, "readonly", keys=(1, -1, 1), group="set", since="1.0.0",
         summary="Returns the difference of multiple sets.",
         complexity="O(N) where N is the total number of elements in all given sets.")
def sdiff(c, argv):
    return _union_diff_read(c, argv, True)


@command("sdiffstore", -3, "write denyoom", keys=(1, -1, 1), group="set", since="1.0.0",
         summary="Stores the difference of multiple sets in a key.",
         complexity="O(N) where N is the total number of elements in all given sets.")
def sdiffstore(c, argv):
    return _union_diff_store(c, argv, True)


# ---- SSCAN ------------------------------------------------------------------------


@command("sscan", -3, "readonly", keys=(1, 1, 1), group="set", since="2.8.0",
         summary="Iterates over members of a set.",
         complexity="O(1) for every call. O(N) for a complete iteration, including enough command calls for the "
                    "cursor to return back to 0. N is the number of elements inside the collection.")
def sscan(c, argv):
    cursor = parse_cursor(argv[2])
    if cursor is None:
        return resp.error(b"ERR invalid cursor")
    key = argv[1]
    s, err = _lookup_read(c, key)
    if err is not None:
        return err
    if s is None:
        return EMPTY_SCAN
    opts = parse_scan_options(argv, 3)
    if opts.__class__ is bytes:
        return opts
    count, match, _ = opts
    if s.__class__ is set:
        # An intset is answered whole, in order, whatever the cursor, as Redis does.
        members = ordered(s)
        return scan_reply(0, members if match is None else [m for m in members if match(m)])

    def visit(m):
        if m not in s or (match is not None and not match(m)):
            return None
        return m

    nxt, found = c.server.keyspace.scanner.scan((c.db.id, key), s, cursor, count, visit)
    return scan_reply(nxt, found)
