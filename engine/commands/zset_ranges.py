"""Sorted-set range commands (ZRANGE in all its forms, ZRANGESTORE, ZCOUNT,
ZLEXCOUNT, ZREMRANGEBY*) and the set operations (ZUNION/ZINTER/ZDIFF,
their STORE forms, ZINTERCARD). Loaded by zsets.py.

Every range is a bisect on the SortedList plus a slice: O(log n + m).
Lex ranges are defined by Redis only when all scores are equal (then they
are bisected too); otherwise the walk Redis does from the first member in
range is reproduced.
"""

from .. import resp
from ..types.sets import SetTable
from ..types.zsets import (
    MAX,
    MIN,
    SUM,
    ZSet,
    diff,
    inter,
    lex_gte_min,
    lex_lte_max,
    parse_lex_range,
    parse_score,
    parse_score_range,
    union,
)
from ..util import parse_int
from . import command
from .zsets import (
    NOT_INT_ERR,
    SYNTAX_ERR,
    WRONGTYPE_ERR,
    after_removal,
    lookup_read,
    lookup_write,
    pairs_reply,
    store_result,
)

SCORE_RANGE_ERR = resp.error(b"ERR min or max is not a float")
LEX_RANGE_ERR = resp.error(b"ERR min or max not valid string range item")

RANK, SCORE, LEX = 1, 2, 3


# ---- range cores ------------------------------------------------------------------------


def rank_window(z, start, end):
    """Ranks [lo, hi) for Redis-style (possibly negative) indexes, or None
    when the range is empty."""
    llen = len(z)
    if start < 0:
        start += llen
    if end < 0:
        end += llen
    if start < 0:
        start = 0
    if start > end or start >= llen:
        return None
    if end >= llen:
        end = llen - 1
    return start, end + 1


def lex_span(z, rng, reverse):
    """Ranks [lo, hi) of the lex range as Redis walks it (forward from the
    first member in range, or backward from the last one)."""
    if z.all_scores_equal():
        return z.lex_bounds(rng)
    sl = z.sl
    if not reverse:
        i = z.lex_first(rng)
        if i is None:
            return 0, 0
        j = i
        n = len(sl)
        while j < n and lex_lte_max(sl[j][1], rng):
            j += 1
        return i, j
    i = z.lex_last(rng)
    if i is None:
        return 0, 0
    j = i
    while j >= 0 and lex_gte_min(sl[j][1], rng):
        j -= 1
    return j + 1, i + 1


def window(sl, lo, hi, reverse, offset, limit):
    """The (score, member) pairs of ranks [lo, hi) in emission order after
    LIMIT offset count (a negative offset skips everything, a negative
    count means all, as Redis's loops do)."""
    n = hi - lo
    if offset < 0 or n <= 0:
        return []
    if limit < 0:
        limit = n
    stop = offset + limit if offset + limit < n else n
    if offset >= stop:
        return []
    if reverse:
        return list(sl.islice(hi - stop, hi - offset, reverse=True))
    return list(sl.islice(lo + offset, lo + stop))


# ---- ZRANGE and friends --------------------------------------------------------------------


def _zrange(c, argv, src_idx, dst, rangetype, reverse):
    """zrangeGenericCommand: `rangetype`/`reverse` None when the options
    may choose them (ZRANGE, ZRANGESTORE)."""
    withscores = False
    offset, limit = 0, -1
    has_limit = False
    n = len(argv)
    j = src_idx + 3
    while j < n:
        opt = argv[j].upper()
        left = n - j - 1
        if opt == b"WITHSCORES" and dst is None:
            withscores = True
        elif opt == b"LIMIT" and left >= 2:
            offset, limit = parse_int(argv[j + 1]), parse_int(argv[j + 2])
            if offset is None or limit is None:
                return NOT_INT_ERR
            has_limit = True
            j += 2
        elif reverse is None and opt == b"REV":
            reverse = True
        elif rangetype is None and opt == b"BYLEX":
            rangetype = LEX
        elif rangetype is None and opt == b"BYSCORE":
            rangetype = SCORE
        else:
            return SYNTAX_ERR
        j += 1
    reverse = bool(reverse)
    rangetype = rangetype or RANK
    if has_limit and rangetype == RANK:
        return resp.error(b"ERR syntax error, LIMIT is only supported in combination with either BYSCORE or BYLEX")
    if withscores and rangetype == LEX:
        return resp.error(b"ERR syntax error, WITHSCORES not supported in combination with BYLEX")
    bmin, bmax = argv[src_idx + 1], argv[src_idx + 2]
    if reverse and rangetype != RANK:
        bmin, bmax = bmax, bmin  # given as max, min
    if rangetype == RANK:
        start, end = parse_int(bmin), parse_int(bmax)
        if start is None or end is None:
            return NOT_INT_ERR
    elif rangetype == SCORE:
        rng = parse_score_range(bmin, bmax)
        if rng is None:
            return SCORE_RANGE_ERR
    else:
        rng = parse_lex_range(bmin, bmax)
        if rng is None:
            return LEX_RANGE_ERR
    z, err = lookup_read(c, argv[src_idx])
    if err is not None:
        return err
    if z is None:
        pairs = []
    elif rangetype == RANK:
        w = rank_window(z, start, end)
        if w is None:
            pairs = []
        elif reverse:
            llen = len(z)
            pairs = list(z.sl.islice(llen - w[1], llen - w[0], reverse=True))
        else:
            pairs = list(z.sl.islice(w[0], w[1]))
    else:
        if offset > 0 and offset >= len(z):
            pairs = []
        else:
            lo, hi = z.score_bounds(rng) if rangetype == SCORE else lex_span(z, rng, reverse)
            pairs = window(z.sl, lo, hi, reverse, offset, limit)
    if dst is None:
        return pairs_reply(c, pairs, withscores)
    reply, changed = store_result(c, dst, {m: s for s, m in pairs}, b"zrangestore")
    if changed:
        c.server.propagate(c.db.id, argv)
    return reply


@command("zrange", -4, "readonly", keys=(1, 1, 1), group="sorted-set", since="1.2.0",
         summary="Returns members in a sorted set within a range of indexes.",
         complexity="O(log(N)+M) with N being the number of elements in the sorted set and M the number of "
                    "elements returned.")
def zrange(c, argv):
    return _zrange(c, argv, 1, None, None, None)


@command("zrangestore", -5, "write denyoom", keys=(1, 2, 1), group="sorted-set", since="6.2.0",
         summary="Stores a range of members from sorted set in a key.",
         complexity="O(log(N)+M) with N being the number of elements in the sorted set and M the number of "
                    "elements stored into the destination key.")
def zrangestore(c, argv):
    return _zrange(c, argv, 2, argv[1], None, None)


@command("zrevrange", -4, "readonly", keys=(1, 1, 1), group="sorted-set", since="1.2.0",
         summary="Returns members in a sorted set within a range of indexes in reverse order.",
         complexity="O(log(N)+M) with N being the number of elements in the sorted set and M the number of "
                    "elements returned.")
def zrevrange(c, argv):
    return _zrange(c, argv, 1, None, RANK, True)


@command("zrangebyscore", -4, "readonly", keys=(1, 1, 1), group="sorted-set", since="1.0.5",
         summary="Returns members in a sorted set within a range of scores.",
         complexity="O(log(N)+M) with N being the number of elements in the sorted set and M the number of "
                    "elements being returned.")
def zrangebyscore(c, argv):
    return _zrange(c, argv, 1, None, SCORE, False)


@command("zrevrangebyscore", -4, "readonly", keys=(1, 1, 1), group="sorted-set", since="2.2.0",
         summary="Returns members in a sorted set within a range of scores in reverse order.",
         complexity="O(log(N)+M) with N being the number of elements in the sorted set and M the number of "
                    "elements being returned.")
def zrevrangebyscore(c, argv):
    return _zrange(c, argv, 1, None, SCORE, True)


@command("zrangebylex", -4, "readonly", keys=(1, 1, 1), group="sorted-set", since="2.8.9",
         summary="Returns members in a sorted set within a lexicographical range.",
         complexity="O(log(N)+M) with N being the number of elements in the sorted set and M the number of "
                    "elements being returned.")
def zrangebylex(c, argv):
    return _zrange(c, argv, 1, None, LEX, False)


@command("zrevrangebylex", -4, "readonly", keys=(1, 1, 1), group="sorted-set", since="2.8.9",
         summary="Returns members in a sorted set within a lexicographical range in reverse order.",
         complexity="O(log(N)+M) with N being the number of elements in the sorted set and M the number of "
                    "elements being returned.")
def zrevrangebylex(c, argv):
    return _zrange(c, argv, 1, None, LEX, True)


# ---- counts ------------------------------------------------------------------------------------


@command("zcount", 4, "readonly fast", keys=(1, 1, 1), group="sorted-set", since="2.0.0",
         summary="Returns the count of members in a sorted set that have scores within a range.",
         complexity="O(log(N)) with N being the number of elements in the sorted set.")
def zcount(c, argv):
    rng = parse_score_range(argv[2], argv[3])
    if rng is None:
        return SCORE_RANGE_ERR
    z, err = lookup_read(c, argv[1])
    if err is not None:
        return err
    if z is None:
        return resp.ZERO
    lo, hi = z.score_bounds(rng)
    return resp.integer(hi - lo)


@command("zlexcount", 4, "readonly fast", keys=(1, 1, 1), group="sorted-set", since="2.8.9",
         summary="Returns the number of members in a sorted set within a lexicographical range.",
         complexity="O(log(N)) with N being the number of elements in the sorted set.")
def zlexcount(c, argv):
    rng = parse_lex_range(argv[2], argv[3])
    if rng is None:
        return LEX_RANGE_ERR
    z, err = lookup_read(c, argv[1])
    if err is not None:
        return err
    if z is None:
        return resp.ZERO
    if z.all_scores_equal() or z.listpack:
        lo, hi = lex_span(z, rng, False)
        return resp.integer(hi - lo)
    first, last = z.lex_first(rng), z.lex_last(rng)  # a skiplist counts by the two ranks
    return resp.integer(last - first + 1 if first is not None and last is not None else 0)


# ---- ZREMRANGEBY* --------------------------------------------------------------------------------


def _zremrange(c, argv, rangetype):
    if rangetype == RANK:
        start, end = parse_int(argv[2]), parse_int(argv[3])
        if start is None or end is None:
            return NOT_INT_ERR
        event = b"zremrangebyrank"
    elif rangetype == SCORE:
        rng = parse_score_range(argv[2], argv[3])
        if rng is None:
            return SCORE_RANGE_ERR
        event = b"zremrangebyscore"
    else:
        rng = parse_lex_range(argv[2], argv[3])
        if rng is None:
            return LEX_RANGE_ERR
        event = b"zremrangebylex"
    key = argv[1]
    z, err = lookup_write(c, key)
    if err is not None:
        return err
    if z is None:
        return resp.ZERO
    if rangetype == RANK:
        w = rank_window(z, start, end)
        if w is None:
            return resp.ZERO
        lo, hi = w
    elif rangetype == SCORE:
        lo, hi = z.score_bounds(rng)
    else:
        lo, hi = lex_span(z, rng, False)
    if hi <= lo:
        return resp.ZERO
    deleted = z.delete_slice(lo, hi)
    srv = c.server
    after_removal(srv, c.db, key, z, event)
    srv.dirty += deleted - 1
    srv.propagate(c.db.id, argv)
    return resp.integer(deleted)


@command("zremrangebyrank", 4, "write", keys=(1, 1, 1), group="sorted-set", since="2.0.0",
         summary="Removes members in a sorted set within a range of indexes. Deletes the sorted set if all members "
                 "were removed.",
         complexity="O(log(N)+M) with N being the number of elements in the sorted set and M the number of "
                    "elements removed by the operation.")
def zremrangebyrank(c, argv):
    return _zremrange(c, argv, RANK)


@command("zremrangebyscore", 4, "write", keys=(1, 1, 1), group="sorted-set", since="1.2.0",
         summary="Removes members in a sorted set within a range of scores. Deletes the sorted set if all members "
                 "were removed.",
         complexity="O(log(N)+M) with N being the number of elements in the sorted set and M the number of "
                    "elements removed by the operation.")
def zremrangebyscore(c, argv):
    return _zremrange(c, argv, SCORE)


@command("zremrangebylex", 4, "write", keys=(1, 1, 1), group="sorted-set", since="2.8.9",
         summary="Removes members in a sorted set within a lexicographical range. Deletes the sorted set if all "
                 "members were removed.",
         complexity="O(log(N)+M) with N being the number of elements in the sorted set and M the number of "
                    "elements removed by the operation.")
def zremrangebylex(c, argv):
    return _zremrange(c, argv, LEX)


# ---- ZUNION / ZINTER / ZDIFF ------------------------------------------------------------------


def _is_set_value(v):
    return v.__class__ is set or v.__class__ is SetTable



def _setop(c, argv, numkeys_idx, dst, op, name):
    """zunionInterDiffGenericCommand. `op` is "union", "inter" or "diff"."""
    setnum = parse_int(argv[numkeys_idx])
    if setnum is None:
        return NOT_INT_ERR
    if setnum < 1:
        return resp.error(b"ERR at least 1 input key is needed for '%s' command" % name)
    n = len(argv)
    if setnum > n - numkeys_idx - 1:
        return SYNTAX_ERR
    ks = c.server.keyspace
    lookup = ks.lookup_read  # sources are reads for the STORE forms too, as Redis 7.0
    db = c.db
    srcs = []
    j = numkeys_idx + 1
    for _ in range(setnum):
        v = lookup(db, argv[j])
        if v is not None and v.__class__ is not ZSet and not _is_set_value(v):
            return WRONGTYPE_ERR
        srcs.append(v)
        j += 1
    weights = [1.0] * setnum
    agg = SUM
    withscores = False
    while j < n:
        opt = argv[j].upper()
        remaining = n - j
        if op != "diff" and remaining >= setnum + 1 and opt == b"WEIGHTS":
            j += 1
            for i in range(setnum):
                w = parse_score(argv[j])
                if w is None:
                    return resp.error(b"ERR weight value is not a float")
                weights[i] = w
                j += 1
        elif op != "diff" and remaining >= 2 and opt == b"AGGREGATE":
            a = argv[j + 1].upper()
            if a == b"SUM":
                agg = SUM
            elif a == b"MIN":
                agg = MIN
            elif a == b"MAX":
                agg = MAX
            else:
                return SYNTAX_ERR
            j += 2
        elif dst is None and opt == b"WITHSCORES":
            withscores = True
            j += 1
        else:
            return SYNTAX_ERR
    if op == "union":
        scores = union(srcs, weights, agg)
    elif op == "inter":
        scores = inter(srcs, weights, agg)
    else:
        scores = diff(srcs)
    if dst is None:
        return pairs_reply(c, sorted((s, m) for m, s in scores.items()), withscores)
    reply, changed = store_result(c, dst, scores, name)
    if changed:
        c.server.propagate(db.id, argv)
    return reply


_SETOP_COMPLEXITY = ("O(N)+O(M*log(M)) with N being the sum of the sizes of the input sorted sets, and M being "
                     "the number of elements in the resulting sorted set.")


@command("zunion", -3, "readonly movablekeys", group="sorted-set", since="6.2.0",
         summary="Returns the union of multiple sorted sets.", complexity=_SETOP_COMPLEXITY)
def zunion(c, argv):
    return _setop(c, argv, 1, None, "union", b"zunion")


@command("zunionstore", -4, "write denyoom movablekeys", keys=(1, 1, 1), group="sorted-set", since="2.0.0",
         summary="Stores the union of multiple sorted sets in a key.", complexity=_SETOP_COMPLEXITY)
def zunionstore(c, argv):
    return _setop(c, argv, 2, argv[1], "union", b"zunionstore")


@command("zinter", -3, "readonly movablekeys", group="sorted-set", since="6.2.0",
         summary="Returns the intersect of multiple sorted sets.",
         complexity="O(N*K)+O(M*log(M)) worst case with N being the smallest input sorted set, K being the number "
                    "of input sorted sets and M being the number of elements in the resulting sorted set.")
def zinter(c, argv):
    return _setop(c, argv, 1, None, "inter", b"zinter")


@command("zinterstore", -4, "write denyoom movablekeys", keys=(1, 1, 1), group="sorted-set", since="2.0.0",
         summary="Stores the intersect of multiple sorted sets in a key.",
         complexity="O(N*K)+O(M*log(M)) worst case with N being the smallest input sorted set, K being the number "
                    "of input sorted sets and M being the number of elements in the resulting sorted set.")
def zinterstore(c, argv):
    return _setop(c, argv, 2, argv[1], "inter", b"zinterstore")


@command("zdiff", -3, "readonly movablekeys", group="sorted-set", since="6.2.0",
         summary="Returns the difference between multiple sorted sets.",
         complexity="O(L + (N-K)log(N)) worst case where L is the total number of elements in all the sets, N is "
                    "the size of the first set, and K is the size of the result set.")
def zdiff(c, argv):
    return _setop(c, argv, 1, None, "diff", b"zdiff")


@command("zdiffstore", -4, "write denyoom movablekeys", keys=(1, 1, 1), group="sorted-set", since="6.2.0",
         summary="Stores the difference of multiple sorted sets in a key.",
         complexity="O(L + (N-K)log(N)) worst case where L is the total number of elements in all the sets, N is "
                    "the size of the first set, and K is the size of the result set.")
def zdiffstore(c, argv):
    return _setop(c, argv, 2, argv[1], "diff", b"zdiffstore")


@command("zintercard", -3, "readonly movablekeys", group="sorted-set", since="7.0.0",
         summary="Returns the number of members of the intersect of multiple sorted sets.",
         complexity="O(N*K) worst case with N being the smallest input sorted set, K being the number of input "
                    "sorted sets.")
def zintercard(c, argv):
    numkeys = parse_int(argv[1])
    if numkeys is None:
        return NOT_INT_ERR
    if numkeys < 1:
        return resp.error(b"ERR at least 1 input key is needed for 'zintercard' command")
    n = len(argv)
    if numkeys > n - 2:
        return SYNTAX_ERR
    srcs = []
    for k in argv[2:2 + numkeys]:
        v = c.server.keyspace.lookup_read(c.db, k)
        if v is not None and v.__class__ is not ZSet and not _is_set_value(v):
            return WRONGTYPE_ERR
        srcs.append(v)
    limit = 0
    j = 2 + numkeys
    while j < n:
        if argv[j].upper() == b"LIMIT" and j + 1 < n:
            limit = parse_int(argv[j + 1])
            if limit is None or limit < 0:
                return resp.error(b"ERR LIMIT can't be negative")
            j += 2
        else:
            return SYNTAX_ERR
    return resp.integer(len(inter(srcs, [1.0] * numkeys, SUM, limit)))
