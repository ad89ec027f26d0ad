"""Set values: a plain `set` of bytes while Redis 7.0 would keep the set as an
intset, a `SetTable` (a set subclass, same layout) once Redis would have
converted it to a hashtable.

The class is the encoding. Redis 7.0 (which has no listpack sets) converts
one way, exactly when a member that is not a canonical integer (string2ll,
int64) is added or the set grows past `set-max-intset-entries`; a converted
set stays a hashtable when it shrinks, and so does a SetTable here. Members
are always the bytes a client sent: a canonical integer has one spelling, so
bytes equality is integer equality.

An intset is kept sorted by Redis, so every reply that walks one (SMEMBERS,
SSCAN, a union that stays an intset) lists integers in ascending order;
`ordered()` gives that order. A hashtable answers in hash order, which Redis
leaves unspecified; ours is the Python set's order.
"""

import random
from itertools import islice

from ..keyspace import register_type
from ..util import parse_int


class SetTable(set):
    """A set Redis would keep hashtable-encoded (one-way promotion)."""

    __slots__ = ()


register_type(set, b"set", lambda v: b"intset", set.copy)
register_type(SetTable, b"set", lambda v: b"hashtable", SetTable)


def is_set(v):
    c = v.__class__
    return c is set or c is SetTable


def is_int(m):
    return parse_int(m) is not None


def add_members(s, members, max_intset):
    """Add `members` to `s`. Returns (the set now holding them, number
    added): an intset that takes a non-integer or outgrows `max_intset`
    comes back as a new SetTable, which the caller stores under the key."""
    before = len(s)
    if s.__class__ is set:
        new = [m for m in members if m not in s]
        if new and (not all(map(is_int, new)) or before + len(set(new)) > max_intset):
            s = SetTable(s)
            s.update(new)
            return s, len(s) - before
        s.update(new)
        return s, len(s) - before
    s.update(members)
    return s, len(s) - before


def build(members, max_intset):
    """A new set holding `members`, with the encoding Redis would pick for
    it (an intset when all are integers and there are few enough)."""
    s = members if members.__class__ is set else set(members)
    if len(s) > max_intset or not all(map(is_int, s)):
        return SetTable(s)
    return s


def new_set(members, config):
    """A set built from `members` as a loader (RDB, RESTORE) would."""
    return build(set(members), config["set-max-intset-entries"])


def ordered(s):
    """The members in the order Redis lists them: ascending integers for an
    intset, hash order otherwise."""
    if s.__class__ is set:
        return sorted(s, key=int)
    return s


def union_order(s, max_intset):
    """The order of a computed result Redis gathers in a fresh set first
    (SUNION, SDIFF, SRANDMEMBER/SPOP of the whole set): sorted when that
    set would be an intset."""
    if len(s) <= max_intset and all(map(is_int, s)):
        return sorted(s, key=int)
    return s


def random_member(s):
    """One member chosen uniformly (islice skips in C: O(n) at worst, where
    Redis's dict sampling is O(1); no per-set index is kept to save memory)."""
    n = len(s)
    if n == 1:
        return next(iter(s))
    return next(islice(s, random.randrange(n), None))
