"""Sorted-set values: `ZSet`, a dict member -> score beside a SortedList of
(score, member) tuples, ordered as Redis orders a zset (score, then member
bytes). Every range is a bisect plus a slice: O(log n + m).

`listpack` records the encoding Redis 7.0 would use: a new zset starts as a
listpack and converts one way, to a skiplist, exactly when an insert would
make it longer than `zset-max-listpack-entries` or brings a member longer
than `zset-max-listpack-value` (zsetAdd). The encoding is observable beyond
OBJECT ENCODING: a listpack stores scores as text (d2string), so -0 is kept
as 0, and ZSCAN prints a listpack's scores in that text form.

Also here: Redis's number parsing for scores (strtod, with its quirks: hex
floats, leading blanks in ranges, "" as 0), score and lex range specs, and
the ZUNION/ZINTER/ZDIFF algorithms, summing in Redis's order.
"""

import math
import re

from sortedcontainers import SortedList

from .. import digest
from ..keyspace import register_type

INF = math.inf
LLONG_HALF = float((2 ** 63 - 1) // 2)  # double2ll's safe range in d2string


class ZSet:
    __slots__ = ("dict", "sl", "listpack")

    def __init__(self, listpack=True):
        self.dict = {}  # member -> score
        self.sl = SortedList()  # (score, member)
        self.listpack = listpack

    def __len__(self):
        return len(self.dict)

    def copy(self):
        z = ZSet(self.listpack)
        z.dict = self.dict.copy()
        z.sl = SortedList(self.sl)
        return z

    # -- mutations ------------------------------------------------------------

    def insert(self, member, score, max_entries, max_value):
        """Add a member that is not there, converting to a skiplist first
        when a listpack could not take it."""
        if self.listpack:
            if len(self.dict) + 1 > max_entries or len(member) > max_value:
                self.listpack = False
            else:
                score += 0.0  # a listpack keeps d2string text: -0 reads back as 0
        self.dict[member] = score
        self.sl.add((score, member))

    def update(self, member, old, new):
        if self.listpack:
            new += 0.0
        sl = self.sl
        sl.remove((old, member))
        sl.add((new, member))
        self.dict[member] = new

    def delete(self, member):
        score = self.dict.pop(member, None)
        if score is None:
            return False
        self.sl.remove((score, member))
        return True

    def pop(self, from_max):
        score, member = self.sl.pop(-1 if from_max else 0)
        del self.dict[member]
        return member, score

    def delete_slice(self, lo, hi):
        """Remove the members at ranks lo..hi-1; returns how many."""
        sl = self.sl
        d = self.dict
        for _, m in sl.islice(lo, hi):
            del d[m]
        del sl[lo:hi]
        return hi - lo

    # -- lookups -----------------------------------------------------------------

    def rank(self, member):
        score = self.dict.get(member)
        if score is None:
            return None
        return self.sl.index((score, member))

    def score_bounds(self, rng):
        """Ranks [lo, hi) of the members whose score is inside `rng`."""
        mn, mnex, mx, mxex = rng
        sl = self.sl
        n = len(sl)
        if mnex:
            lo = n if mn == INF else sl.bisect_left((math.nextafter(mn, INF),))
        else:
            lo = sl.bisect_left((mn,))
        if mxex:
            hi = sl.bisect_left((mx,))
        else:
            hi = n if mx == INF else sl.bisect_left((math.nextafter(mx, INF),))
        return lo, (hi if hi > lo else lo)

    def all_scores_equal(self):
        sl = self.sl
        return not sl or sl[0][0] == sl[-1][0]

    def lex_bounds(self, rng):
        """Ranks [lo, hi) of the members inside the lex range `rng`, for a
        zset whose scores are all equal (the only case Redis defines)."""
        mn, mnex, mx, mxex = rng
        sl = self.sl
        n = len(sl)
        if not sl or lex_empty(rng):
            return 0, 0
        s = sl[0][0]
        if mn is MINUS:
            lo = 0
        elif mn is PLUS:
            lo = n
        else:
            lo = sl.bisect_right((s, mn)) if mnex else sl.bisect_left((s, mn))
        if mx is PLUS:
            hi = n
        elif mx is MINUS:
            hi = 0
        else:
            hi = sl.bisect_left((s, mx)) if mxex else sl.bisect_right((s, mx))
        return lo, (hi if hi > lo else lo)

    def lex_first(self, rng):
        """Rank of the first member in the lex range walking forward, or
        None: Redis's zzlFirstInLexRange (a scan, for a listpack) or
        zslFirstInLexRange (a descent, which a bisect stands for). With
        unequal scores Redis leaves the answer undefined; the listpack case
        is still reproduced exactly."""
        sl = self.sl
        n = len(sl)
        if not n or lex_empty(rng) or not lex_gte_min(sl[-1][1], rng) or not lex_lte_max(sl[0][1], rng):
            return None
        if self.listpack:
            i = 0
            while i < n and not lex_gte_min(sl[i][1], rng):
                i += 1
        else:
            lo, hi = 0, n
            while lo < hi:
                mid = (lo + hi) // 2
                if lex_gte_min(sl[mid][1], rng):
                    hi = mid
                else:
                    lo = mid + 1
            i = lo
        if i >= n or not lex_lte_max(sl[i][1], rng):
            return None
        return i

    def lex_last(self, rng):
        """As lex_first, walking backward from the tail (zzl/zslLastInLexRange)."""
        sl = self.sl
        n = len(sl)
        if not n or lex_empty(rng) or not lex_gte_min(sl[-1][1], rng) or not lex_lte_max(sl[0][1], rng):
            return None
        if self.listpack:
            i = n - 1
            while i >= 0 and not lex_lte_max(sl[i][1], rng):
                i -= 1
        else:
            lo, hi = 0, n
            while lo < hi:  # first rank whose member is above max
                mid = (lo + hi) // 2
                if lex_lte_max(sl[mid][1], rng):
                    lo = mid + 1
                else:
                    hi = mid
            i = lo - 1
        if i < 0 or not lex_gte_min(sl[i][1], rng):
            return None
        return i


def _encoding(z):
    return b"listpack" if z.listpack else b"skiplist"


register_type(ZSet, b"zset", _encoding, ZSet.copy)
digest.register(ZSet, digest.OBJ_ZSET, lambda d, z: digest.digest_zset(d, z.dict.items()))


def is_zset(v):
    return v.__class__ is ZSet


def from_scores(scores, config):
    """A new zset holding the member -> score dict `scores`, with the
    encoding Redis gives a computed result (zsetConvertToListpackIfNeeded)
    or a loaded one."""
    z = ZSet()
    if scores:
        listpack = (len(scores) <= config["zset-max-listpack-entries"]
                    and max(map(len, scores)) <= config["zset-max-listpack-value"])
        z.listpack = listpack
        if listpack:
            scores = {m: s + 0.0 for m, s in scores.items()}
        z.dict = scores
        z.sl = SortedList((s, m) for m, s in scores.items())
    return z


def new_zset(pairs, config):
    """A zset built from (member, score) pairs, as a loader (RDB, RESTORE) would."""
    return from_scores(dict(pairs), config)


# ---- numbers ------------------------------------------------------------------------

_STRTOD = re.compile(rb"""[ \t\n\v\f\r]*
    (?P<num>[+-]?(?:
        (?P<hex>0[xX](?P<hm>[0-9a-fA-F]+(?:\.[0-9a-fA-F]*)?|\.[0-9a-fA-F]+)(?:[pP][+-]?[0-9]+)?)
      | (?P<dec>(?P<dm>[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?)
      | (?P<inf>[iI][nN][fF](?:[iI][nN][iI][tT][yY])?)
      | (?P<nan>[nN][aA][nN](?:\([0-9A-Za-z_]*\))?)
    ))""", re.X)


def _strtod(b, strict):
    """C strtod over all of `b`: the float, or None when strtod would stop
    early or give NaN. `strict` also refuses overflow and underflow (ERANGE),
    as getDoubleFromObject does."""
    m = _STRTOD.fullmatch(b)
    if m is None or m.group("nan"):
        return None
    num = m.group("num")
    if m.group("inf"):
        return -INF if num[:1] == b"-" else INF
    if m.group("hex"):
        try:
            v = float.fromhex(num.decode())
        except OverflowError:
            v = -INF if num[:1] == b"-" else INF
        mant = m.group("hm")
    else:
        v = float(num)
        mant = m.group("dm")
    if strict and (math.isinf(v) or (v == 0 and mant.strip(b"0.") != b"")):
        return None
    return v


def strtod(b):
    """strtod over all of `b` as SORT reads weights: leading blanks pass;
    NaN, overflow and trailing bytes do not (None)."""
    return _strtod(b, True)


def parse_score(b):
    """A score, increment or weight argument (getDoubleFromObject): None if
    it is not a valid float."""
    if not b or b[0] in b" \t\n\v\f\r":
        return None
    return _strtod(b, True)


def parse_score_range(bmin, bmax):
    """(min, minex, max, maxex) from ZRANGEBYSCORE-style bounds ('(' for
    exclusive, strtod otherwise: leading blanks pass, '' is 0), or None."""
    out = []
    for b in (bmin, bmax):
        ex = b[:1] == b"("
        if ex:
            b = b[1:]
        if b"\0" in b:
            b = b[:b.index(b"\0")]  # strtod stops at the NUL Redis's sds holds
        v = _strtod(b, False) if b else 0.0
        if v is None:
            return None
        out += (v, ex)
    return tuple(out)


def format_score(v):
    """A score as Redis 7.0's addReplyDouble prints it (%.17g: '-0', 'inf')."""
    return b"%.17g" % v


def format_listpack_score(v):
    """A score as a listpack stores it (d2string): integers that fit print
    as integers, the rest %.17g."""
    if -LLONG_HALF <= v <= LLONG_HALF and v == int(v):
        return b"%d" % int(v)
    return b"%.17g" % v


# ---- lex ranges -----------------------------------------------------------------------


class _Bound:
    __slots__ = ("name",)

    def __init__(self, name):
        self.name = name

    def __repr__(self):
        return self.name


MINUS = _Bound("-")
PLUS = _Bound("+")


def parse_lex_range(bmin, bmax):
    """(min, minex, max, maxex) from '[x' '(x' '-' '+' items, or None."""
    out = []
    for b in (bmin, bmax):
        c = b[:1]
        if b == b"+":
            out += (PLUS, True)
        elif b == b"-":
            out += (MINUS, True)
        elif c == b"(":
            out += (b[1:], True)
        elif c == b"[":
            out += (b[1:], False)
        else:
            return None
    return tuple(out)


def _cmplex(a, b):
    if a is b:
        return 0
    if a is MINUS or b is PLUS:
        return -1
    if a is PLUS or b is MINUS:
        return 1
    return (a > b) - (a < b)


def lex_empty(rng):
    mn, mnex, mx, mxex = rng
    cmp = _cmplex(mn, mx)
    return cmp > 0 or (cmp == 0 and (mnex or mxex))


def lex_gte_min(m, rng):
    mn = rng[0]
    if mn is MINUS:
        return True
    if mn is PLUS:
        return False
    return m > mn if rng[1] else m >= mn


def lex_lte_max(m, rng):
    mx = rng[2]
    if mx is PLUS:
        return True
    if mx is MINUS:
        return False
    return m < mx if rng[3] else m <= mx


# ---- ZUNION / ZINTER / ZDIFF ---------------------------------------------------------------

SUM, MIN, MAX = 0, 1, 2


def _items(src):
    """(member, score) of a zset or a set (whose members score 1)."""
    if src.__class__ is ZSet:
        return src.dict.items()
    return ((m, 1.0) for m in src)


def _find(src, m):
    if src.__class__ is ZSet:
        return src.dict.get(m)
    return 1.0 if m in src else None


def _aggregate(target, val, agg):
    if agg == SUM:
        target = target + val
        return 0.0 if target != target else target  # inf + -inf is 0, by Redis's convention
    if agg == MIN:
        return val if val < target else target
    return val if val > target else target


def _by_cardinality(srcs, weights):
    """Sources (None for missing keys) with their weights, smallest first;
    stable, like the merge sort glibc's qsort uses, so sums add up in
    Redis's order."""
    pairs = [(s, w) for s, w in zip(srcs, weights, strict=True)]
    pairs.sort(key=lambda p: len(p[0]) if p[0] is not None else 0)
    return pairs


def union(srcs, weights, agg):
    acc = {}
    for src, w in _by_cardinality(srcs, weights):
        if not src:
            continue
        for m, v in _items(src):
            score = w * v
            if score != score:
                score = 0.0
            old = acc.get(m)
            acc[m] = score if old is None else _aggregate(old, score, agg)
    return acc


def inter(srcs, weights, agg, limit=0):
    """The intersection as member -> score; with `limit` (ZINTERCARD) it
    stops once that many are found."""
    pairs = _by_cardinality(srcs, weights)
    first, w0 = pairs[0]
    out = {}
    if not first or any(s is None for s, _ in pairs):
        return out
    rest = pairs[1:]
    for m, v in _items(first):
        score = w0 * v
        if score != score:
            score = 0.0
        for src, w in rest:
            if src is first:
                val = v * w
            else:
                val = _find(src, m)
                if val is None:
                    break
                val *= w
            score = _aggregate(score, val, agg)
        else:
            out[m] = score
            if limit and len(out) >= limit:
                break
    return out


def diff(srcs):
    first = srcs[0]
    if not first:
        return {}
    rest = [s for s in srcs[1:] if s]
    if any(s is first for s in rest):
        return {}
    out = {}
    for m, v in _items(first):
        for src in rest:
            if m in (src.dict if src.__class__ is ZSet else src):
                break
        else:
            out[m] = v
    return out
