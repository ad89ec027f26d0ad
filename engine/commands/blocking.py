"""Blocking pops: BLPOP BRPOP BLMOVE BRPOPLPUSH BLMPOP (and BZPOPMIN
BZPOPMAX BZMPOP when the sorted-set cores exist).

Each command first behaves as its non-blocking form when a key has data
(and is propagated as that form: BLPOP as `LPOP key`, BLMOVE as `LMOVE`,
BLMPOP as `LPOP key n`, ...). Otherwise the client is parked with
`server.blocking.block(...)`, giving a `serve` function that the blocking
core calls when a key it waits on is signalled ready, and a timeout reply.
Inside MULTI/EXEC a blocking command never blocks: it answers as on a
timeout (BLMOVE and BRPOPLPUSH a null bulk, as Redis 7.0 does).

Argument checks come in Redis 7.0's order: BLMOVE's LEFT/RIGHT and BLMPOP's
numkeys/where/COUNT before the timeout, the timeout before any key lookup.
"""

import math
import re
import time
from collections import deque
from decimal import Decimal, InvalidOperation

from .. import resp
from ..types.lists import HEAD, TAIL, WRONG, move_from, pop, pop_from, side
from ..util import INT64_MAX, INT64_MIN
from . import command
from .lists import SYNTAX_ERR, WRONGTYPE_ERR, _move, mpop_reply, parse_mpop

TIMEOUT_NOT_FLOAT = resp.error(b"ERR timeout is not a float or out of range")
TIMEOUT_NEGATIVE = resp.error(b"ERR timeout is negative")

# ---- the timeout argument ------------------------------------------------------

# What glibc's strtold takes whole (Redis's string2ld then refuses a leading
# space, trailing bytes, NaN, and a result out of long double range).
_DEC_RE = re.compile(rb"[+-]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?\Z")
_HEX_RE = re.compile(rb"[+-]?0[xX](?:[0-9a-fA-F]+\.?[0-9a-fA-F]*|\.[0-9a-fA-F]+)(?:[pP][+-]?[0-9]+)?\Z")
_INF_RE = re.compile(rb"[+-]?(?:inf|infinity)\Z", re.IGNORECASE)
_LDBL_MAX = Decimal("1.18973149535723176502e+4932")
_LDBL_HALF_TRUE_MIN = Decimal("1.8225997659412373012e-4951")  # below this strtold gives 0 (ERANGE)


def _strtold(b):
    """The number in `b` as Redis's string2ld reads it, or None. A float
    stands in for the long double: a value beyond double range comes back
    as +-inf, which is what the timeout arithmetic below needs."""
    if not b or len(b) >= 5 * 1024:
        return None
    if _DEC_RE.match(b):
        v = float(b)
        if v == 0.0 or math.isinf(v):
            try:
                d = abs(Decimal(b.decode()))
            except InvalidOperation:
                return None
            if d > _LDBL_MAX or (0 < d < _LDBL_HALF_TRUE_MIN):
                return None  # ERANGE: HUGE_VAL or a result rounded to zero
        return v
    if _HEX_RE.match(b):
        s = b.decode()
        neg = s[0] == "-"
        if s[0] in "+-":
            s = s[1:]
        if "p" not in s.lower():
            s += "p0"
        try:
            v = float.fromhex(s)
        except OverflowError:
            return None
        return -v if neg else v
    if _INF_RE.match(b):
        return -math.inf if b[:1] == b"-" else math.inf
    return None


def parse_timeout(c, arg):
    """A blocking command's timeout in seconds (getTimeoutFromObjectOrReply):
    the absolute deadline in unix ms, 0 for "wait forever", or an error reply.
    As in Redis the seconds are multiplied by 1000 and truncated toward zero
    (so 0.0001 means forever), and a product beyond the 64-bit range turns
    into LLONG_MIN, which is "negative" (`inf` and `1e400` are)."""
    v = _strtold(arg)
    if v is None:
        return TIMEOUT_NOT_FLOAT
    ms = v * 1000.0
    if ms != ms or ms >= 9.223372036854775807e18 or ms < -9.223372036854775808e18:
        tval = INT64_MIN
    else:
        tval = int(ms)
    if tval < 0:
        return TIMEOUT_NEGATIVE
    if tval == 0:
        return 0
    deadline = tval + int(time.time() * 1000)  # not the loop's cached clock: never early
    # Redis 7.0 overflows here into a deadline it never reaches: forever.
    return deadline if deadline <= INT64_MAX else 0


def _deny_blocking(c):
    """Blocking is not allowed (inside MULTI/EXEC): answer as on a timeout."""
    return c.server.in_exec


def _null_array(c):
    return resp.NULL3 if c.resp == 3 else resp.NULL_ARRAY2


def _null(c):
    return resp.NULL3 if c.resp == 3 else resp.NULL_BULK2


# ---- BLPOP / BRPOP -------------------------------------------------------------------


def _pop_reply(key, value):
    return b"*2\r\n" + resp.bulk(key) + resp.bulk(value)


def _bpop(c, argv, where):
    deadline = parse_timeout(c, argv[-1])
    if deadline.__class__ is bytes:
        return deadline
    srv = c.server
    db = c.db
    keys = argv[1:-1]
    lookup = srv.keyspace.lookup
    for key in keys:
        lst = lookup(db, key)
        if lst is None:
            continue
        if lst.__class__ is not deque:
            return WRONGTYPE_ERR
        if not lst:
            continue
        # Like a plain [LR]POP, and propagated as one.
        return _pop_reply(key, pop(srv, db, key, lst, where, None, [b"LPOP" if where == HEAD else b"RPOP", key]))
    if _deny_blocking(c):
        return _null_array(c)

    def serve(cl, sdb, skey):
        v = pop_from(srv, sdb, skey, where)
        return None if v is None else _pop_reply(skey, v)

    srv.blocking.block(c, db, keys, deadline, serve, _null_array)
    return None


@command("blpop", -3, "write noscript blocking", keys=(1, -2, 1), group="list", since="2.0.0",
         summary="Removes and returns the first element in a list. Blocks until an element is available "
                 "otherwise. Deletes the list if the last element was popped.",
         complexity="O(N) where N is the number of provided keys.")
def blpop(c, argv):
    return _bpop(c, argv, HEAD)


@command("brpop", -3, "write noscript blocking", keys=(1, -2, 1), group="list", since="2.0.0",
         summary="Removes and returns the last element in a list. Blocks until an element is available "
                 "otherwise. Deletes the list if the last element was popped.",
         complexity="O(N) where N is the number of provided keys.")
def brpop(c, argv):
    return _bpop(c, argv, TAIL)


# ---- BLMOVE / BRPOPLPUSH ---------------------------------------------------------------

_SIDE_LOWER = (b"left", b"right")  # what a served BLMOVE propagates (Redis's shared.left/right)


def _bmove(c, argv, src_key, dst_key, wherefrom, whereto, deadline, immediate_argv):
    srv = c.server
    db = c.db
    src = srv.keyspace.lookup(db, src_key)
    if src is not None:
        if src.__class__ is not deque:
            return WRONGTYPE_ERR
        # The list has elements: a plain LMOVE / RPOPLPUSH, propagated as such.
        return _move(c, immediate_argv, wherefrom, whereto)
    if _deny_blocking(c):
        return _null(c)
    if immediate_argv[0] == b"RPOPLPUSH":
        served_argv = [b"RPOPLPUSH", src_key, dst_key]
    else:
        served_argv = [b"LMOVE", src_key, dst_key, _SIDE_LOWER[wherefrom], _SIDE_LOWER[whereto]]

    def serve(cl, sdb, skey):
        v = move_from(srv, sdb, src_key, dst_key, wherefrom, whereto, served_argv)
        if v is None:
            return None
        if v is WRONG:
            return WRONGTYPE_ERR  # unblocked with the error, nothing moved (as Redis)
        return resp.bulk(v)

    # Redis answers a timed-out BLMOVE with a null *array* (a null bulk
    # only when it may not block at all).
    srv.blocking.block(c, db, (src_key,), deadline, serve, _null_array)
    return None


@command("blmove", 6, "write denyoom noscript blocking", keys=(1, 2, 1), group="list", since="6.2.0",
         summary="Pops an element from a list, pushes it to another list and returns it. Blocks until an element "
                 "is available otherwise. Deletes the list if the last element was moved.")
def blmove(c, argv):
    wherefrom = side(argv[3])
    whereto = side(argv[4])
    if wherefrom is None or whereto is None:
        return SYNTAX_ERR
    deadline = parse_timeout(c, argv[5])
    if deadline.__class__ is bytes:
        return deadline
    return _bmove(c, argv, argv[1], argv[2], wherefrom, whereto, deadline,
                  [b"LMOVE", argv[1], argv[2], argv[3], argv[4]])


@command("brpoplpush", 4, "write denyoom noscript blocking", keys=(1, 2, 1), group="list", since="2.2.0",
         summary="Pops an element from a list, pushes it to another list and returns it. Block until an element "
                 "is available otherwise. Deletes the list if the last element was popped.")
def brpoplpush(c, argv):
    deadline = parse_timeout(c, argv[3])
    if deadline.__class__ is bytes:
        return deadline
    return _bmove(c, argv, argv[1], argv[2], TAIL, HEAD, deadline, [b"RPOPLPUSH", argv[1], argv[2]])


# ---- BLMPOP ----------------------------------------------------------------------------


@command("blmpop", -5, "write blocking movablekeys", group="list", since="7.0.0",
         summary="Pops the first element from one of multiple lists. Blocks until an element is available "
                 "otherwise. Deletes the list if the last element was popped.",
         complexity="O(N+M) where N is the number of provided keys and M is the number of elements returned.")
def blmpop(c, argv):
    parsed = parse_mpop(argv, 2)
    if parsed.__class__ is bytes:
        return parsed
    keys, where, count = parsed
    deadline = parse_timeout(c, argv[1])
    if deadline.__class__ is bytes:
        return deadline
    srv = c.server
    db = c.db
    lookup = srv.keyspace.lookup
    pop_cmd = b"LPOP" if where == HEAD else b"RPOP"
    for key in keys:
        lst = lookup(db, key)
        if lst is None:
            continue
        if lst.__class__ is not deque:
            return WRONGTYPE_ERR
        if not lst:
            continue
        n = count if count < len(lst) else len(lst)
        # Like LMPOP; propagated as [LR]POP key n with the number really popped.
        return mpop_reply(key, pop(srv, db, key, lst, where, n, [pop_cmd, key, b"%d" % n]))
    if _deny_blocking(c):
        return _null_array(c)

    def serve(cl, sdb, skey):
        items = pop_from(srv, sdb, skey, where, count)
        return None if items is None else mpop_reply(skey, items)

    srv.blocking.block(c, db, keys, deadline, serve, _null_array)
    return None


# ---- BZPOPMIN / BZPOPMAX / BZMPOP (with the sorted-set cores of zsets.py) --------------

try:
    from ..types.zsets import ZSet
    from .zsets import parse_zmpop, zpop
except ImportError:  # sorted sets not there: no blocking zset pops either
    zpop = None


def _bzpop_keys(c, keys, count, where_max, deadline):
    """Serve at once from the first non-empty zset among `keys` (like
    ZPOPMIN/ZPOPMAX/ZMPOP, and propagated as ZPOPMIN|ZPOPMAX key [n]), or
    block. `count` None: BZPOPMIN/BZPOPMAX's flat reply; else BZMPOP's."""
    srv = c.server
    db = c.db
    lookup = srv.keyspace.lookup
    for key in keys:
        z = lookup(db, key)
        if z is None:
            continue
        if z.__class__ is not ZSet:
            return WRONGTYPE_ERR
        if not z:
            continue
        return zpop(c, db, key, count, where_max)
    if _deny_blocking(c):
        return _null_array(c)

    def serve(cl, sdb, skey):
        return zpop(cl, sdb, skey, count, where_max)

    srv.blocking.block(c, db, keys, deadline, serve, _null_array)
    return None


if zpop is not None:

    def _bzpop(c, argv, where_max):
        deadline = parse_timeout(c, argv[-1])
        if deadline.__class__ is bytes:
            return deadline
        return _bzpop_keys(c, argv[1:-1], None, where_max, deadline)

    @command("bzpopmin", -3, "write noscript blocking fast", keys=(1, -2, 1), group="sorted-set", since="5.0.0",
             summary="Removes and returns the member with the lowest score from one or more sorted sets. Blocks "
                     "until a member is available otherwise. Deletes the sorted set if the last element was popped.",
             complexity="O(log(N)) with N being the number of elements in the sorted set.")
    def bzpopmin(c, argv):
        return _bzpop(c, argv, False)

    @command("bzpopmax", -3, "write noscript blocking fast", keys=(1, -2, 1), group="sorted-set", since="5.0.0",
             summary="Removes and returns the member with the highest score from one or more sorted sets. Blocks "
                     "until a member available otherwise.  Deletes the sorted set if the last element was popped.",
             complexity="O(log(N)) with N being the number of elements in the sorted set.")
    def bzpopmax(c, argv):
        return _bzpop(c, argv, True)

    @command("bzmpop", -5, "write blocking movablekeys", group="sorted-set", since="7.0.0",
             summary="Removes and returns a member by score from one or more sorted sets. Blocks until a member is "
                     "available otherwise. Deletes the sorted set if the last element was popped.",
             complexity="O(K) + O(M*log(N)) where K is the number of provided keys, N being the number of elements "
                        "in the sorted set, and M being the number of elements popped.")
    def bzmpop(c, argv):
        parsed = parse_zmpop(argv, 2)
        if parsed.__class__ is bytes:
            return parsed
        keys, where_max, count = parsed
        deadline = parse_timeout(c, argv[1])
        if deadline.__class__ is bytes:
            return deadline
        return _bzpop_keys(c, keys, count, where_max, deadline)
