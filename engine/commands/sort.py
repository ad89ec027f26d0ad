"""SORT and SORT_RO (sortCommandGeneric of Redis 7.0): sort a list, set or
sorted set numerically or lexicographically, by the element itself or by
keys a pattern names (`BY weight_*`, `BY obj_*->field`), return elements or
values fetched through `GET` patterns, optionally `STORE` the result as a
list. A BY pattern without '*' means no sorting: lists and sorted sets keep
their order (reversed by DESC), a set is sorted alphabetically anyway when
the result is stored, so that replicas and the AOF get the same list.
"""

from collections import deque

from .. import resp
from ..types.hashes import is_hash
from ..types.sets import is_set, ordered
from ..types.zsets import is_zset, strtod
from ..util import parse_int
from . import command

WRONGTYPE_ERR = resp.error(b"WRONGTYPE Operation against a key holding the wrong kind of value")
SYNTAX_ERR = resp.error(b"ERR syntax error")
NOT_INT_ERR = resp.error(b"ERR value is not an integer or out of range")
NOT_DOUBLE_ERR = resp.error(b"ERR One or more scores can't be converted into double")
COMPLEXITY = ("O(N+M*log(M)) where N is the number of elements in the list or set to sort, and M the number of "
              "returned elements. When the elements are not sorted, complexity is O(N).")


def _by_pattern(srv, db, pattern, subst):
    """lookupKeyByPattern: the string at pattern with '*' replaced by
    `subst`, or the field after '->' of the hash there; '#' is `subst`."""
    if pattern == b"#":
        return subst
    star = pattern.find(b"*")
    if star < 0:
        return None
    arrow = pattern.find(b"->", star + 1)
    field = None
    if 0 <= arrow < len(pattern) - 2:
        field = pattern[arrow + 2:]
        pattern = pattern[:arrow]
    v = srv.keyspace.lookup_read(db, pattern[:star] + subst + pattern[star + 1:])
    if v is None:
        return None
    if field is not None:
        return v.get(field) if is_hash(v) else None
    return v if v.__class__ is bytes else None


def _parse(argv, readonly):
    """The options, or an error reply."""
    opts = {"desc": False, "alpha": False, "start": 0, "count": -1, "store": None, "by": None, "gets": []}
    j, n = 2, len(argv)
    while j < n:
        word = argv[j].lower()
        left = n - j - 1
        if word == b"asc":
            opts["desc"] = False
        elif word == b"desc":
            opts["desc"] = True
        elif word == b"alpha":
            opts["alpha"] = True
        elif word == b"limit" and left >= 2:
            start, count = parse_int(argv[j + 1]), parse_int(argv[j + 2])
            if start is None or count is None:
                return NOT_INT_ERR
            opts["start"], opts["count"] = start, count
            j += 2
        elif word == b"store" and left >= 1 and not readonly:
            opts["store"] = argv[j + 1]
            j += 1
        elif word == b"by" and left >= 1:
            opts["by"] = argv[j + 1]
            j += 1
        elif word == b"get" and left >= 1:
            opts["gets"].append(argv[j + 1])
            j += 1
        else:
            return SYNTAX_ERR
        j += 1
    return opts


def _elements(v, dontsort, desc):
    """The elements to sort, in the value's own order (lists and sorted
    sets reversed for DESC when nothing is sorted)."""
    if v is None:
        return []
    if v.__class__ is deque:
        items = list(v)
    elif is_zset(v):
        v.listpack = False  # Redis converts the sorted set to a skiplist for SORT
        items = [m for _, m in v.sl]
    else:
        return list(ordered(v))
    if dontsort and desc:
        items.reverse()
    return items


def _sorted(srv, db, items, by, alpha, desc):
    """Sort `items` as sortCompare orders them, or an error reply."""
    if alpha:
        if by is None:
            key = None  # the elements, byte by byte (strcoll in the C locale)
        else:
            def key(e):
                w = _by_pattern(srv, db, by, e)
                return (w is not None, w or b"")  # a missing weight sorts first
    else:
        scores = {}
        for e in items:
            w = _by_pattern(srv, db, by, e) if by is not None else e
            if w is None:
                scores[e] = 0.0
                continue
            s = strtod(w) if w else 0.0
            if s is None:
                return NOT_DOUBLE_ERR
            scores[e] = s

        def key(e):
            return (scores[e], e)  # equal scores: the elements decide
    return sorted(items, key=key, reverse=desc)


def _sort(c, argv, readonly):
    srv = c.server
    db = c.db
    opts = _parse(argv, readonly)
    if opts.__class__ is bytes:
        return opts
    v = srv.keyspace.lookup_read(db, argv[1])
    if v is not None and not (v.__class__ is deque or is_set(v) or is_zset(v)):
        return WRONGTYPE_ERR
    by, alpha, desc, store = opts["by"], opts["alpha"], opts["desc"], opts["store"]
    dontsort = by is not None and b"*" not in by
    if dontsort and v is not None and is_set(v) and store is not None:
        dontsort, alpha, by = False, True, None  # a stored result must not depend on hash order
    items = _elements(v, dontsort, desc)
    n = len(items)
    start = max(opts["start"], 0)
    end = n - 1 if opts["count"] < 0 else start + opts["count"] - 1
    if start >= n:
        start, end = n - 1, n - 2
    end = min(end, n - 1)
    if not dontsort:
        items = _sorted(srv, db, items, by, alpha, desc)
        if items.__class__ is bytes:
            return items
    out = items[start:end + 1] if end >= start else []
    gets = opts["gets"]
    if gets:
        out = [_by_pattern(srv, db, g, e) for e in out for g in gets]
    if store is None:
        return resp.bulk_array3(out) if c.resp == 3 else resp.bulk_array(out)
    if out:
        srv.keyspace.set(db, store, deque(b"" if x is None else x for x in out))
        srv.notify(db.id, b"l", b"sortstore", store)
    elif srv.keyspace.delete(db, store):
        srv.notify(db.id, b"g", b"del", store)
    srv.propagate(db.id, argv)
    return resp.integer(len(out))


def _sort_keys(args):
    """sortGetKeys: the sorted key and the last STORE destination."""
    keys = [1]
    store = None
    i = 2
    skip = {b"limit": 2, b"get": 1, b"by": 1}
    while i < len(args):
        word = args[i].lower()
        if word in skip:
            i += skip[word]
        elif word == b"store" and i + 1 < len(args):
            store = i + 1
        i += 1
    return keys + ([store] if store is not None else [])


@command("sort", -2, "write denyoom", keys=(1, 1, 1), group="generic", since="1.0.0",
         summary="Sort the elements in a list, set or sorted set, optionally storing the result.",
         complexity=COMPLEXITY)
def sort(c, argv):
    return _sort(c, argv, False)


@command("sort_ro", -2, "readonly", keys=(1, 1, 1), group="generic", since="7.0.0",
         summary="Sort the elements in a list, set or sorted set. Read-only variant of SORT.",
         complexity=COMPLEXITY)
def sort_ro(c, argv):
    return _sort(c, argv, True)


sort.getkeys = _sort_keys
sort_ro.getkeys = lambda args: [1]  # sortROGetKeys: BY/GET keys are not key arguments
