"""List commands (the non-blocking ones; BLPOP & co. live with the blocking
machinery and call the cores in engine/types/lists.py).

Argument checks come in Redis 7.0's order (some options are parsed before
the key is looked up, some after), so the same bad call gets the same
error, or the same empty reply, as from redis-server.
"""

from collections import deque
from itertools import islice

from .. import resp
from ..types.lists import HEAD, TAIL, list_range, move, pop, push, removed, side
from ..util import INT64_MIN, parse_int
from . import command

WRONGTYPE_ERR = resp.error(b"WRONGTYPE Operation against a key holding the wrong kind of value")
NOT_INT_ERR = resp.error(b"ERR value is not an integer or out of range")
SYNTAX_ERR = resp.error(b"ERR syntax error")
NO_SUCH_KEY_ERR = resp.error(b"ERR no such key")
OUT_OF_RANGE_ERR = resp.error(b"ERR index out of range")
POSITIVE_ERR = resp.error(b"ERR value is out of range, must be positive")


_CRLF_HEADERS = [b"\r\n$%d\r\n" % i for i in range(4096)]


def bulk_items(items, header=None):
    """Bulk strings as one array reply (or with `header`, e.g. a RESP3 map
    header, in front instead). About 3x faster than formatting each item:
    headers come from a table through map() and items are interleaved by
    slice assignment, so no Python loop runs per element."""
    n = len(items)
    if not n:
        return header or resp.EMPTY_ARRAY
    try:
        parts = list(map(_CRLF_HEADERS.__getitem__, map(len, items)))
    except IndexError:  # an item of 4 KiB or more: the plain way
        body = b"".join([b"$%d\r\n%s\r\n" % (len(it), it) for it in items])
        return (header or b"*%d\r\n" % n) + body
    parts[0] = (header or b"*%d\r\n" % n) + parts[0][2:]  # each header carries the previous item's CRLF
    out = [b""] * (2 * n + 1)
    out[0:2 * n:2] = parts
    out[1:2 * n:2] = items
    out[2 * n] = b"\r\n"
    return b"".join(out)


def _positive(arg):
    """A count in 0..LONG_MAX (getPositiveLongFromObjectOrReply), or None."""
    v = parse_int(arg)
    if v is None or v < 0:
        return None
    return v


# ---- push ---------------------------------------------------------------------


def _push(c, argv, where, only_existing):
    db = c.db
    srv = c.server
    key = argv[1]
    lst = srv.keyspace.lookup(db, key)
    if lst is None:
        if only_existing:
            return resp.ZERO
    elif lst.__class__ is not deque:
        return WRONGTYPE_ERR
    n = len(argv) - 2
    length = push(srv, db, key, lst, argv[2:] if n > 1 else (argv[2],), where)
    srv.dirty += n - 1  # Redis counts one change per element
    srv.propagate(db.id, argv)
    return resp.integer(length)


@command("lpush", -3, "write denyoom fast", keys=(1, 1, 1), group="list",
         summary="Prepends one or more elements to a list. Creates the key if it doesn't exist.",
         complexity="O(1) for each element added")
def lpush(c, argv):
    return _push(c, argv, HEAD, False)


@command("rpush", -3, "write denyoom fast", keys=(1, 1, 1), group="list",
         summary="Appends one or more elements to a list. Creates the key if it doesn't exist.",
         complexity="O(1) for each element added")
def rpush(c, argv):
    return _push(c, argv, TAIL, False)


@command("lpushx", -3, "write denyoom fast", keys=(1, 1, 1), group="list", since="2.2.0",
         summary="Prepends one or more elements to a list only when the list exists.",
         complexity="O(1) for each element added")
def lpushx(c, argv):
    return _push(c, argv, HEAD, True)


@command("rpushx", -3, "write denyoom fast", keys=(1, 1, 1), group="list", since="2.2.0",
         summary="Appends one or more elements to a list only when the list exists.",
         complexity="O(1) for each element added")
def rpushx(c, argv):
    return _push(c, argv, TAIL, True)


# ---- pop ------------------------------------------------------------------------


def _pop(c, argv, where):
    n = len(argv)
    if n > 3:
        return resp.error(b"ERR wrong number of arguments for '%s' command" % (b"lpop" if where == HEAD else b"rpop"))
    count = None
    if n == 3:
        count = _positive(argv[2])
        if count is None:
            return POSITIVE_ERR
    db = c.db
    srv = c.server
    key = argv[1]
    lst = srv.keyspace.lookup(db, key)
    if lst is None:
        if count is None:
            return resp.NULL3 if c.resp == 3 else resp.NULL_BULK2
        return resp.NULL3 if c.resp == 3 else resp.NULL_ARRAY2
    if lst.__class__ is not deque:
        return WRONGTYPE_ERR
    if count is None:
        return resp.bulk(pop(srv, db, key, lst, where, None, argv))
    if count == 0:
        return resp.EMPTY_ARRAY
    return bulk_items(pop(srv, db, key, lst, where, count, argv))


@command("lpop", -2, "write fast", keys=(1, 1, 1), group="list",
         summary="Returns the first elements in a list after removing it. Deletes the list if the last element "
                 "was popped.", complexity="O(N) where N is the number of elements returned")
def lpop(c, argv):
    return _pop(c, argv, HEAD)


@command("rpop", -2, "write fast", keys=(1, 1, 1), group="list",
         summary="Returns and removes the last elements of a list. Deletes the list if the last element was "
                 "popped.", complexity="O(N) where N is the number of elements returned")
def rpop(c, argv):
    return _pop(c, argv, TAIL)


@command("lmpop", -4, "write movablekeys", group="list", since="7.0.0",
         summary="Returns multiple elements from a list after removing them. Deletes the list if the last "
                 "element was popped.",
         complexity="O(N+M) where N is the number of provided keys and M is the number of elements returned.")
def lmpop(c, argv):
    parsed = parse_mpop(argv, 1)
    if parsed.__class__ is bytes:
        return parsed
    keys, where, count = parsed
    srv = c.server
    db = c.db
    lookup = srv.keyspace.lookup
    for key in keys:
        lst = lookup(db, key)
        if lst is None:
            continue
        if lst.__class__ is not deque:
            return WRONGTYPE_ERR
        if not lst:
            continue
        n = count if count < len(lst) else len(lst)
        # Propagated as [LR]POP key n, with the number really popped.
        items = pop(srv, db, key, lst, where, n, [b"LPOP" if where == HEAD else b"RPOP", key, b"%d" % n])
        return mpop_reply(key, items)
    return resp.NULL3 if c.resp == 3 else resp.NULL_ARRAY2


def mpop_reply(key, items):
    """LMPOP/BLMPOP's reply: [key, [elements]] (nested in RESP2 and RESP3)."""
    return b"*2\r\n" + resp.bulk(key) + bulk_items(items)


def parse_mpop(argv, numkeys_idx):
    """numkeys key... LEFT|RIGHT [COUNT n] of LMPOP (numkeys_idx 1) or
    BLMPOP (2; Redis parses BLMPOP's timeout only after all of this):
    (keys, where, count) or an error reply."""
    numkeys = parse_int(argv[numkeys_idx])
    if numkeys is None or numkeys < 1:
        return resp.error(b"ERR numkeys should be greater than 0")
    where_idx = numkeys_idx + numkeys + 1
    n = len(argv)
    if where_idx >= n:
        return SYNTAX_ERR
    where = side(argv[where_idx])
    if where is None:
        return SYNTAX_ERR
    count = -1
    j = where_idx + 1
    while j < n:
        if count == -1 and argv[j].upper() == b"COUNT" and j + 1 < n:
            j += 1
            count = parse_int(argv[j])
            if count is None or count < 1:
                return resp.error(b"ERR count should be greater than 0")
        else:
            return SYNTAX_ERR
        j += 1
    return argv[numkeys_idx + 1:where_idx], where, (1 if count == -1 else count)


# ---- reads ------------------------------------------------------------------------


@command("llen", 2, "readonly fast", keys=(1, 1, 1), group="list", summary="Returns the length of a list.")
def llen(c, argv):
    lst = c.server.keyspace.lookup_read(c.db, argv[1])
    if lst is None:
        return resp.ZERO
    if lst.__class__ is not deque:
        return WRONGTYPE_ERR
    return resp.integer(len(lst))


@command("lrange", 4, "readonly", keys=(1, 1, 1), group="list", summary="Returns a range of elements from a list.",
         complexity="O(S+N) where S is the distance of start offset from HEAD for small lists, from nearest end "
                    "(HEAD or TAIL) for large lists; and N is the number of elements in the specified range.")
def lrange(c, argv):
    start = parse_int(argv[2])
    end = parse_int(argv[3])
    if start is None or end is None:
        return NOT_INT_ERR
    lst = c.server.keyspace.lookup_read(c.db, argv[1])
    if lst is None:
        return resp.EMPTY_ARRAY
    if lst.__class__ is not deque:
        return WRONGTYPE_ERR
    return bulk_items(list_range(lst, start, end))


@command("lindex", 3, "readonly", keys=(1, 1, 1), group="list", summary="Returns an element from a list by its index.",
         complexity="O(N) where N is the number of elements to traverse to get to the element at index.")
def lindex(c, argv):
    lst = c.server.keyspace.lookup_read(c.db, argv[1])
    if lst is None:
        return resp.NULL3 if c.resp == 3 else resp.NULL_BULK2
    if lst.__class__ is not deque:
        return WRONGTYPE_ERR
    idx = parse_int(argv[2])
    if idx is None:
        return NOT_INT_ERR
    n = len(lst)
    if idx < 0:
        idx += n
    if 0 <= idx < n:
        return resp.bulk(lst[idx])  # deque indexing walks from the nearer end
    return resp.NULL3 if c.resp == 3 else resp.NULL_BULK2


@command("lpos", -3, "readonly", keys=(1, 1, 1), group="list", since="6.0.6",
         summary="Returns the index of matching elements in a list.",
         complexity="O(N) where N is the number of elements in the list, for the average case.")
def lpos(c, argv):
    ele = argv[2]
    rank = 1
    count = -1  # -1: no COUNT option (reply a single index)
    maxlen = 0
    j = 3
    n = len(argv)
    while j < n:
        opt = argv[j].upper()
        more = j + 1 < n
        if opt == b"RANK" and more:
            j += 1
            rank = parse_int(argv[j])
            if rank is None:
                return NOT_INT_ERR
            if rank == 0:
                return resp.error(b"ERR RANK can't be zero: use 1 to start from the first match, 2 from the "
                                  b"second ... or use negative to start from the end of the list")
        elif opt == b"COUNT" and more:
            j += 1
            count = _positive(argv[j])
            if count is None:
                return resp.error(b"ERR COUNT can't be negative")
        elif opt == b"MAXLEN" and more:
            j += 1
            maxlen = _positive(argv[j])
            if maxlen is None:
                return resp.error(b"ERR MAXLEN can't be negative")
        else:
            return SYNTAX_ERR
        j += 1
    forward = True
    if rank < 0:
        # Redis negates a C long: -LONG_MIN stays LONG_MIN, so every match
        # "reaches" that rank (the first match from the tail answers).
        rank = -rank if rank != INT64_MIN else INT64_MIN
        forward = False
    lst = c.server.keyspace.lookup_read(c.db, argv[1])
    if lst is None:
        return resp.EMPTY_ARRAY if count != -1 else (resp.NULL3 if c.resp == 3 else resp.NULL_BULK2)
    if lst.__class__ is not deque:
        return WRONGTYPE_ERR
    found = _lpos(lst, ele, rank, count, maxlen, forward)
    if count != -1:
        return resp.array([resp.integer(i) for i in found])
    if found:
        return resp.integer(found[0])
    return resp.NULL3 if c.resp == 3 else resp.NULL_BULK2


def _lpos(lst, ele, rank, count, maxlen, forward):
    """Indexes of matches of `ele` from the rank-th on (at most `count`
    when count > 0; one when count is -1), looking at no more than `maxlen`
    elements. The search runs in C (deque/list .index)."""
    llen = len(lst)
    if forward:
        seq = lst
        limit = llen if maxlen == 0 or maxlen > llen else maxlen
    else:
        seq = list(reversed(lst)) if maxlen == 0 or maxlen >= llen else list(islice(reversed(lst), maxlen))
        limit = len(seq)
    want = 1 if count == -1 else count  # 0: all of them
    out = []
    matches = 0
    i = 0
    index = seq.index
    while i < limit:
        try:
            i = index(ele, i, limit)
        except ValueError:
            break
        matches += 1
        if matches >= rank:
            out.append(i if forward else llen - 1 - i)
            if want and len(out) >= want:
                break
        i += 1
    return out


# ---- in-place writes --------------------------------------------------------------


@command("lset", 4, "write denyoom", keys=(1, 1, 1), group="list", summary="Sets the value of an element in a list "
         "by its index.", complexity="O(N) where N is the length of the list. Setting either the first or the last "
                                     "element of the list is O(1).")
def lset(c, argv):
    srv = c.server
    db = c.db
    key = argv[1]
    lst = srv.keyspace.lookup(db, key)
    if lst is None:
        return NO_SUCH_KEY_ERR
    if lst.__class__ is not deque:
        return WRONGTYPE_ERR
    idx = parse_int(argv[2])
    if idx is None:
        return NOT_INT_ERR
    n = len(lst)
    if idx < 0:
        idx += n
    if not 0 <= idx < n:
        return OUT_OF_RANGE_ERR
    lst[idx] = argv[3]
    srv.signal_modified_key(db, key)
    srv.notify(db.id, b"l", b"lset", key)
    srv.propagate(db.id, argv)
    return resp.OK


@command("lrem", 4, "write", keys=(1, 1, 1), group="list", summary="Removes elements from a list. Deletes the list "
         "if the last element was removed.",
         complexity="O(N+M) where N is the length of the list and M is the number of elements removed.")
def lrem(c, argv):
    toremove = parse_int(argv[2])
    if toremove is None:
        return NOT_INT_ERR
    srv = c.server
    db = c.db
    key = argv[1]
    lst = srv.keyspace.lookup(db, key)
    if lst is None:
        return resp.ZERO
    if lst.__class__ is not deque:
        return WRONGTYPE_ERR
    ele = argv[3]
    if ele not in lst:  # the common miss, in C
        return resp.ZERO
    kept = []
    n = 0
    if toremove >= 0:
        limit = toremove or len(lst)
        for x in lst:
            if n < limit and x == ele:
                n += 1
            else:
                kept.append(x)
    else:
        limit = -toremove
        for x in reversed(lst):
            if n < limit and x == ele:
                n += 1
            else:
                kept.append(x)
        kept.reverse()
    lst.clear()
    lst.extend(kept)
    removed(srv, db, key, lst, b"lrem", n, argv)
    return resp.integer(n)


@command("ltrim", 4, "write", keys=(1, 1, 1), group="list", summary="Removes elements from both ends a list. Deletes "
         "the list if all elements were trimmed.", complexity="O(N) where N is the number of elements to be "
                                                              "removed by the operation.")
def ltrim(c, argv):
    start = parse_int(argv[2])
    end = parse_int(argv[3])
    if start is None or end is None:
        return NOT_INT_ERR
    srv = c.server
    db = c.db
    key = argv[1]
    lst = srv.keyspace.lookup(db, key)
    if lst is None:
        return resp.OK
    if lst.__class__ is not deque:
        return WRONGTYPE_ERR
    llen = len(lst)
    if start < 0:
        start += llen
    if end < 0:
        end += llen
    if start < 0:
        start = 0
    if start > end or start >= llen:
        ltrim, rtrim = llen, 0
    else:
        if end >= llen:
            end = llen - 1
        ltrim, rtrim = start, llen - end - 1
    n = ltrim + rtrim
    if n:
        if n <= 64:  # a few at the ends: pop them
            for _ in range(ltrim):
                lst.popleft()
            for _ in range(rtrim):
                lst.pop()
        else:  # keep the middle, skipping in C
            kept = list(islice(lst, ltrim, llen - rtrim))
            lst.clear()
            lst.extend(kept)
    # Redis notifies (and signals WATCH) even when nothing was trimmed, but
    # only a real change is propagated.
    removed(srv, db, key, lst, b"ltrim", n, argv if n else None)
    return resp.OK


@command("linsert", 5, "write denyoom", keys=(1, 1, 1), group="list", since="2.2.0",
         summary="Inserts an element before or after another element in a list.",
         complexity="O(N) where N is the number of elements to traverse before seeing the value pivot.")
def linsert(c, argv):
    where = argv[2].upper()
    if where == b"AFTER":
        after = True
    elif where == b"BEFORE":
        after = False
    else:
        return SYNTAX_ERR
    srv = c.server
    db = c.db
    key = argv[1]
    lst = srv.keyspace.lookup(db, key)
    if lst is None:
        return resp.ZERO
    if lst.__class__ is not deque:
        return WRONGTYPE_ERR
    try:
        i = lst.index(argv[3])
    except ValueError:
        return resp.integer(-1)
    lst.insert(i + 1 if after else i, argv[4])
    srv.signal_modified_key(db, key)
    srv.notify(db.id, b"l", b"linsert", key)
    srv.propagate(db.id, argv)
    return resp.integer(len(lst))


# ---- moves ------------------------------------------------------------------------


def _move(c, argv, wherefrom, whereto):
    srv = c.server
    db = c.db
    src_key = argv[1]
    dst_key = argv[2]
    lookup = srv.keyspace.lookup
    src = lookup(db, src_key)
    if src is None:
        return resp.NULL3 if c.resp == 3 else resp.NULL_BULK2
    if src.__class__ is not deque:
        return WRONGTYPE_ERR
    if not src:
        return resp.NULL3 if c.resp == 3 else resp.NULL_BULK2
    dst = lookup(db, dst_key)
    if dst is not None and dst.__class__ is not deque:
        return WRONGTYPE_ERR
    return resp.bulk(move(srv, db, src_key, src, dst_key, dst, wherefrom, whereto, argv))


@command("lmove", 5, "write denyoom", keys=(1, 2, 1), group="list", since="6.2.0",
         summary="Returns an element after popping it from one list and pushing it to another. Deletes the list "
                 "if the last element was moved.")
def lmove(c, argv):
    wherefrom = side(argv[3])
    whereto = side(argv[4])
    if wherefrom is None or whereto is None:
        return SYNTAX_ERR
    return _move(c, argv, wherefrom, whereto)


@command("rpoplpush", 3, "write denyoom", keys=(1, 2, 1), group="list", since="1.2.0",
         summary="Returns the last element of a list after removing and pushing it to another list. Deletes the "
                 "list if the last element was popped.")
def rpoplpush(c, argv):
    return _move(c, argv, TAIL, HEAD)

