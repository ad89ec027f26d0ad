"""Sorted-set commands: writes, point reads, pops, ZRANDMEMBER, ZSCAN. The
range commands and ZUNION/ZINTER/ZDIFF live in zset_ranges.py (imported at
the bottom, so loading this module registers them too).

Argument checks come in Redis 7.0's order, so a bad call gets the same
error (or the same empty reply) as from redis-server. Scores are replied
as Redis 7.0's addReplyDouble prints them: "%.17g" (so 0.1 reads
"0.10000000000000001"), "inf"/"-inf"; RESP3 sends doubles.

Propagation: every write goes as received (ZADD with INCR included: it is
deterministic), except ZMPOP, which goes as `ZPOPMIN|ZPOPMAX key n` with
the number really popped, as Redis 7.0 rewrites it. The pop core `zpop()`
is what the blocking variants (BZPOPMIN/BZPOPMAX/BZMPOP) call when they
serve a waiter.
"""

import random

from .. import resp
from ..scan import parse_cursor
from ..types.zsets import ZSet, format_listpack_score, format_score, parse_score
from ..util import INT64_MAX, parse_int
from . import command
from .hashes import RANDOM_REPEAT_MAX
from .keys import parse_scan_options, scan_reply
from .lists import bulk_items

WRONGTYPE_ERR = resp.error(b"WRONGTYPE Operation against a key holding the wrong kind of value")
NOT_INT_ERR = resp.error(b"ERR value is not an integer or out of range")
NOT_FLOAT_ERR = resp.error(b"ERR value is not a valid float")
SYNTAX_ERR = resp.error(b"ERR syntax error")
NAN_ERR = resp.error(b"ERR resulting score is not a number (NaN)")
POSITIVE_ERR = resp.error(b"ERR value is out of range, must be positive")
EMPTY_SCAN = b"*2\r\n$1\r\n0\r\n*0\r\n"
_HALF_LONG = INT64_MAX // 2


# ---- shared helpers ------------------------------------------------------------------


def lookup_write(c, key):
    """(zset or None, error reply or None) for a write command."""
    z = c.server.keyspace.lookup(c.db, key)
    if z is not None and z.__class__ is not ZSet:
        return None, WRONGTYPE_ERR
    return z, None


def lookup_read(c, key):
    z = c.server.keyspace.lookup_read(c.db, key)
    if z is not None and z.__class__ is not ZSet:
        return None, WRONGTYPE_ERR
    return z, None


def limits(srv):
    cfg = srv.config
    return cfg["zset-max-listpack-entries"], cfg["zset-max-listpack-value"]


def double(c, v):
    """A score reply: a RESP3 double, a RESP2 bulk string."""
    s = format_score(v)
    if c.resp == 3:
        return b",%s\r\n" % s
    return resp.bulk(s)


def pairs_reply(c, pairs, withscores, nested=None):
    """Members of (score, member) pairs as an array; with scores, flat in
    RESP2 and as [member, score] pairs in RESP3 (or as `nested` says)."""
    if not withscores:
        return bulk_items([m for _, m in pairs])
    if nested is None:
        nested = c.resp == 3
    dbl = (lambda v: b",%s\r\n" % format_score(v)) if c.resp == 3 else (lambda v: resp.bulk(format_score(v)))
    if nested:
        parts = [b"*%d\r\n" % len(pairs)]
        for s, m in pairs:
            parts.append(b"*2\r\n$%d\r\n%s\r\n%s" % (len(m), m, dbl(s)))
    else:
        parts = [b"*%d\r\n" % (2 * len(pairs))]
        for s, m in pairs:
            parts.append(b"$%d\r\n%s\r\n%s" % (len(m), m, dbl(s)))
    return b"".join(parts)


def signal_ready(srv, db, key):
    """Wake clients blocked on `key` (BZPOPMIN & co.) once this command ends."""
    signal = getattr(srv, "signal_key_as_ready", None)
    if signal is not None:
        signal(db, key)


def after_removal(srv, db, key, z, event):
    """Members left `z`: notify `event`, delete the key if it emptied (with
    its "del" event), signal WATCH."""
    srv.notify(db.id, b"z", event, key)
    if not z:
        srv.keyspace.delete(db, key)  # signals WATCH itself
        srv.notify(db.id, b"g", b"del", key)
    else:
        srv.signal_modified_key(db, key)


def store_result(c, dst, scores, event):
    """Replace `dst` by the zset of the member -> score dict `scores`
    (deleting it when empty, with propagation only if that changed
    anything); reply the size. The caller propagates its own argv
    through the returned flag: (reply, changed)."""
    from ..types.zsets import from_scores  # noqa: PLC0415 - keep the import list short

    srv = c.server
    db = c.db
    if scores:
        z = from_scores(scores, srv.config) if scores.__class__ is dict else scores
        srv.keyspace.set(db, dst, z)
        srv.notify(db.id, b"z", event, dst)
        signal_ready(srv, db, dst)
        return resp.integer(len(z)), True
    if srv.keyspace.delete(db, dst):
        srv.notify(db.id, b"g", b"del", dst)
        return resp.ZERO, True
    return resp.ZERO, False


# ---- ZADD / ZINCRBY ----------------------------------------------------------------


def _zadd(c, argv, incr, scoreidx, nx=False, xx=False, gt=False, lt=False, ch=False):
    elements = len(argv) - scoreidx
    if elements % 2 or not elements:
        return SYNTAX_ERR
    elements //= 2
    if nx and xx:
        return resp.error(b"ERR XX and NX options at the same time are not compatible")
    if (gt and nx) or (lt and nx) or (gt and lt):
        return resp.error(b"ERR GT, LT, and/or NX options at the same time are not compatible")
    if incr and elements > 1:
        return resp.error(b"ERR INCR option supports a single increment-element pair")
    scores = []
    for j in range(elements):
        s = parse_score(argv[scoreidx + 2 * j])
        if s is None:
            return NOT_FLOAT_ERR
        scores.append(s)
    key = argv[1]
    z, err = lookup_write(c, key)
    if err is not None:
        return err
    srv = c.server
    db = c.db
    created = False
    if z is None:
        if xx:
            return (resp.NULL3 if c.resp == 3 else resp.NULL_BULK2) if incr else resp.ZERO
        z = ZSet()
        created = True
    max_entries, max_value = limits(srv)
    added = updated = processed = 0
    score = 0.0
    d = z.dict
    error = None
    for j in range(elements):
        score = scores[j]
        member = argv[scoreidx + 2 * j + 1]
        cur = d.get(member)
        if cur is not None:
            if nx:
                continue
            if incr:
                score += cur
                if score != score:
                    error = NAN_ERR
                    break
            if (lt and score >= cur) or (gt and score <= cur):
                continue
            processed += 1
            if score != cur:
                z.update(member, cur, score)
                updated += 1
        elif not xx:
            z.insert(member, score, max_entries, max_value)
            added += 1
            processed += 1
    if created and z:
        srv.keyspace.set(db, key, z)
        signal_ready(srv, db, key)
    if added or updated:
        if not created:
            srv.signal_modified_key(db, key)
        srv.notify(db.id, b"z", b"zincr" if incr else b"zadd", key)
        srv.dirty += added + updated - 1
        srv.propagate(db.id, argv)
    if error is not None:
        return error
    if incr:
        if processed:
            return double(c, score)
        return resp.NULL3 if c.resp == 3 else resp.NULL_BULK2
    return resp.integer(added + updated if ch else added)


@command("zadd", -4, "write denyoom fast", keys=(1, 1, 1), group="sorted-set", since="1.2.0",
         summary="Adds one or more members to a sorted set, or updates their scores. Creates the key if it doesn't "
                 "exist.",
         complexity="O(log(N)) for each item added, where N is the number of elements in the sorted set.")
def zadd(c, argv):
    flags = {}
    j = 2
    n = len(argv)
    while j < n:
        opt = argv[j].upper()
        if opt in (b"NX", b"XX", b"GT", b"LT", b"CH", b"INCR"):
            flags[opt.lower().decode()] = True
            j += 1
        else:
            break
    return _zadd(c, argv, flags.pop("incr", False), j, **flags)


@command("zincrby", 4, "write denyoom fast", keys=(1, 1, 1), group="sorted-set", since="1.2.0",
         summary="Increments the score of a member in a sorted set.",
         complexity="O(log(N)) where N is the number of elements in the sorted set.")
def zincrby(c, argv):
    return _zadd(c, argv, True, 2)


# ---- ZREM ---------------------------------------------------------------------------


@command("zrem", -3, "write fast", keys=(1, 1, 1), group="sorted-set", since="1.2.0",
         summary="Removes one or more members from a sorted set. Deletes the sorted set if all members were removed.",
         complexity="O(M*log(N)) with N being the number of elements in the sorted set and M the number of "
                    "elements to be removed.")
def zrem(c, argv):
    key = argv[1]
    z, err = lookup_write(c, key)
    if err is not None:
        return err
    if z is None:
        return resp.ZERO
    deleted = 0
    for m in argv[2:]:
        if z.delete(m):
            deleted += 1
            if not z:
                break
    if deleted:
        srv = c.server
        db = c.db
        after_removal(srv, db, key, z, b"zrem")
        srv.dirty += deleted - 1
        srv.propagate(db.id, argv)
    return resp.integer(deleted)


# ---- point reads ----------------------------------------------------------------------


@command("zcard", 2, "readonly fast", keys=(1, 1, 1), group="sorted-set", since="1.2.0",
         summary="Returns the number of members in a sorted set.")
def zcard(c, argv):
    z, err = lookup_read(c, argv[1])
    if err is not None:
        return err
    return resp.integer(len(z)) if z is not None else resp.ZERO


@command("zscore", 3, "readonly fast", keys=(1, 1, 1), group="sorted-set", since="1.2.0",
         summary="Returns the score of a member in a sorted set.")
def zscore(c, argv):
    z, err = lookup_read(c, argv[1])
    if err is not None:
        return err
    s = z.dict.get(argv[2]) if z is not None else None
    if s is None:
        return resp.NULL3 if c.resp == 3 else resp.NULL_BULK2
    return double(c, s)


@command("zmscore", -3, "readonly fast", keys=(1, 1, 1), group="sorted-set", since="6.2.0",
         summary="Returns the score of one or more members in a sorted set.",
         complexity="O(N) where N is the number of members being requested.")
def zmscore(c, argv):
    z, err = lookup_read(c, argv[1])
    if err is not None:
        return err
    null = resp.NULL3 if c.resp == 3 else resp.NULL_BULK2
    d = z.dict if z is not None else {}
    parts = [b"*%d\r\n" % (len(argv) - 2)]
    for m in argv[2:]:
        s = d.get(m)
        parts.append(null if s is None else double(c, s))
    return b"".join(parts)


def _rank(c, argv, reverse):
    z, err = lookup_read(c, argv[1])
    if err is not None:
        return err
    r = z.rank(argv[2]) if z is not None else None
    if r is None:
        return resp.NULL3 if c.resp == 3 else resp.NULL_BULK2
    return resp.integer(len(z) - 1 - r if reverse else r)


@command("zrank", 3, "readonly fast", keys=(1, 1, 1), group="sorted-set", since="2.0.0",
         summary="Returns the index of a member in a sorted set ordered by ascending scores.",
         complexity="O(log(N))")
def zrank(c, argv):
    return _rank(c, argv, False)


@command("zrevrank", 3, "readonly fast", keys=(1, 1, 1), group="sorted-set", since="2.0.0",
         summary="Returns the index of a member in a sorted set ordered by descending scores.",
         complexity="O(log(N))")
def zrevrank(c, argv):
    return _rank(c, argv, True)


# ---- pops ---------------------------------------------------------------------------------


def pop_pairs(srv, db, key, z, count, where_max, argv):
    """Pop up to `count` members from the non-empty zset `z` at `key`
    (highest first when `where_max`): notify, delete the key if it emptied,
    signal WATCH, propagate `argv` (None: nothing). Returns the (score,
    member) pairs in pop order."""
    n = count if count < len(z) else len(z)
    out = []
    for _ in range(n):
        m, s = z.pop(where_max)
        out.append((s, m))
    after_removal(srv, db, key, z, b"zpopmax" if where_max else b"zpopmin")
    if argv is not None:
        srv.dirty += n - 1
        srv.propagate(db.id, argv)
    return out


def zpop(c, db, key, count, where_max, nested=False):
    """The pop core for the blocking commands, serving a waiter: pop from
    the zset at `key` in `db`. Returns None when `key` holds no non-empty
    zset now (the waiter keeps waiting); else the reply, built for client
    `c`: BZPOPMIN/BZPOPMAX's flat [key, member, score] when `count` is None,
    BZMPOP's [key, [[member, score], ...]] when `count` is given (or with
    `nested`). Propagates `ZPOPMIN|ZPOPMAX key` (count None) or
    `ZPOPMIN|ZPOPMAX key n` with n the number really popped, as Redis 7.0."""
    srv = c.server
    z = srv.keyspace.lookup(db, key)
    if z is None or z.__class__ is not ZSet or not z:
        return None
    name = b"ZPOPMAX" if where_max else b"ZPOPMIN"
    if count is None:
        pairs = pop_pairs(srv, db, key, z, 1, where_max, [name, key])
        if not nested:
            s, m = pairs[0]
            return b"*3\r\n" + resp.bulk(key) + resp.bulk(m) + double(c, s)
    else:
        n = count if count < len(z) else len(z)
        pairs = pop_pairs(srv, db, key, z, n, where_max, [name, key, b"%d" % n])
    return b"*2\r\n" + resp.bulk(key) + pairs_reply(c, pairs, True, nested=True)


def _zpop_command(c, argv, where_max):
    n = len(argv)
    if n > 3:
        return SYNTAX_ERR
    count = 1
    if n == 3:
        count = parse_int(argv[2])
        if count is None or count < 0:
            return POSITIVE_ERR
    key = argv[1]
    z, err = lookup_write(c, key)
    if err is not None:
        return err
    if z is None or count == 0:
        return resp.EMPTY_ARRAY
    pairs = pop_pairs(c.server, c.db, key, z, count, where_max, argv)
    # RESP3 nests [member, score] pairs only when a COUNT was given.
    return pairs_reply(c, pairs, True, nested=c.resp == 3 and n == 3)


@command("zpopmin", -2, "write fast", keys=(1, 1, 1), group="sorted-set", since="5.0.0",
         summary="Returns the lowest-scoring members from a sorted set after removing them. Deletes the sorted set "
                 "if the last member was popped.",
         complexity="O(log(N)*M) with N being the number of elements in the sorted set, and M being the number of "
                    "elements popped.")
def zpopmin(c, argv):
    return _zpop_command(c, argv, False)


@command("zpopmax", -2, "write fast", keys=(1, 1, 1), group="sorted-set", since="5.0.0",
         summary="Returns the highest-scoring members from a sorted set after removing them. Deletes the sorted set "
                 "if the last member was popped.",
         complexity="O(log(N)*M) with N being the number of elements in the sorted set, and M being the number of "
                    "elements popped.")
def zpopmax(c, argv):
    return _zpop_command(c, argv, True)


def parse_zmpop(argv, numkeys_idx):
    """numkeys key... MIN|MAX [COUNT n] of ZMPOP (numkeys_idx 1) or BZMPOP
    (2): (keys, where_max, count) or an error reply."""
    numkeys = parse_int(argv[numkeys_idx])
    if numkeys is None or numkeys < 1:
        return resp.error(b"ERR numkeys should be greater than 0")
    where_idx = numkeys_idx + numkeys + 1
    n = len(argv)
    if where_idx >= n:
        return SYNTAX_ERR
    w = argv[where_idx].upper()
    if w == b"MIN":
        where_max = False
    elif w == b"MAX":
        where_max = True
    else:
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
    return argv[numkeys_idx + 1:where_idx], where_max, (1 if count == -1 else count)


@command("zmpop", -4, "write movablekeys", group="sorted-set", since="7.0.0",
         summary="Returns the highest- or lowest-scoring members from one or more sorted sets after removing them. "
                 "Deletes the sorted set if the last member was popped.",
         complexity="O(K) + O(M*log(N)) where K is the number of provided keys, N being the number of elements in "
                    "the sorted set, and M being the number of elements popped.")
def zmpop(c, argv):
    parsed = parse_zmpop(argv, 1)
    if parsed.__class__ is bytes:
        return parsed
    keys, where_max, count = parsed
    for key in keys:
        z, err = lookup_write(c, key)
        if err is not None:
            return err
        if z:
            return zpop(c, c.db, key, count, where_max)
    return resp.NULL3 if c.resp == 3 else resp.NULL_ARRAY2


# ---- ZRANDMEMBER ---------------------------------------------------------------------------


@command("zrandmember", -2, "readonly", keys=(1, 1, 1), group="sorted-set", since="6.2.0",
         summary="Returns one or more random members from a sorted set.",
         complexity="O(N) where N is the number of members returned")
def zrandmember(c, argv):
    n = len(argv)
    if n == 2:
        z, err = lookup_read(c, argv[1])
        if err is not None:
            return err
        if z is None:
            return resp.NULL3 if c.resp == 3 else resp.NULL_BULK2
        return resp.bulk(z.sl[random.randrange(len(z))][1])
    count = parse_int(argv[2])
    if count is None:
        return NOT_INT_ERR
    if count < -INT64_MAX:
        return resp.error(b"ERR value is out of range, value must between -9223372036854775807 and "
                          b"9223372036854775807")
    if n > 4 or (n == 4 and argv[3].upper() != b"WITHSCORES"):
        return SYNTAX_ERR
    withscores = n == 4
    if withscores and (count < -_HALF_LONG or count > _HALF_LONG):
        return resp.error(b"ERR value is out of range")
    z, err = lookup_read(c, argv[1])
    if err is not None:
        return err
    if z is None or count == 0:
        return resp.EMPTY_ARRAY
    sl = z.sl
    size = len(sl)
    if count < 0:
        if count < -RANDOM_REPEAT_MAX:
            # Redis would build a reply that large until memory ran out; refuse.
            return resp.error(b"ERR value is out of range")
        pairs = [sl[i] for i in random.choices(range(size), k=-count)]
    elif count >= size:
        pairs = list(reversed(sl))  # the whole zset, as Redis 7.0 lists it: from the tail
    elif z.listpack and count * 3 <= size:
        # A few from a listpack: Redis samples them in listpack (score) order.
        pairs = [sl[i] for i in sorted(random.sample(range(size), count))]
    else:
        pairs = [sl[i] for i in random.sample(range(size), count)]
    return pairs_reply(c, pairs, withscores)


# ---- ZSCAN ------------------------------------------------------------------------------------


@command("zscan", -3, "readonly", keys=(1, 1, 1), group="sorted-set", since="2.8.0",
         summary="Iterates over members and scores of a sorted set.",
         complexity="O(1) for every call. O(N) for a complete iteration, including enough command calls for the "
                    "cursor to return back to 0. N is the number of elements inside the collection.")
def zscan(c, argv):
    cursor = parse_cursor(argv[2])
    if cursor is None:
        return resp.error(b"ERR invalid cursor")
    key = argv[1]
    z, err = lookup_read(c, key)
    if err is not None:
        return err
    if z is None:
        return EMPTY_SCAN
    opts = parse_scan_options(argv, 3)
    if opts.__class__ is bytes:
        return opts
    count, match, _ = opts
    out = []
    if z.listpack:
        # A listpack is answered whole, in order, scores as it stores them.
        for s, m in z.sl:
            if match is None or match(m):
                out.append(m)
                out.append(format_listpack_score(s))
        return scan_reply(0, out)
    d = z.dict

    def visit(m):
        s = d.get(m)
        if s is None or (match is not None and not match(m)):
            return None
        return (m, s)

    nxt, found = c.server.keyspace.scanner.scan((c.db.id, key), d, cursor, count, visit)
    for m, s in found:
        out.append(m)
        out.append(format_score(s))
    return scan_reply(nxt, out)


from . import zset_ranges  # noqa: E402, F401 - registers the range and set-operation commands
