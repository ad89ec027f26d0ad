"""List values: a `collections.deque` of bytes, always.

Redis 7.0 keeps every list in a quicklist (listpack-encoded lists came in
7.2), so OBJECT ENCODING answers "quicklist" whatever the size. A deque
gives O(1) pushes and pops at both ends.

The cores below do one list operation with everything around it (keyspace
notifications, deleting a list that became empty, WATCH signalling,
waking blocked clients, propagation) but build no reply, so the list
commands and the blocking pops (which serve a waiter later) share them.
"""

from collections import deque
from itertools import islice

from ..keyspace import register_type

HEAD = 0  # LEFT
TAIL = 1  # RIGHT

register_type(deque, b"list", lambda v: b"quicklist", deque)

WRONG = object()  # move(): the destination holds another type; nothing was done

_POP_EVENT = (b"lpop", b"rpop")
_PUSH_EVENT = (b"lpush", b"rpush")
_POP_CMD = (b"LPOP", b"RPOP")
_SIDE = (b"LEFT", b"RIGHT")


def side(arg):
    """LEFT/RIGHT (any case) -> HEAD/TAIL, or None for a syntax error."""
    a = arg.upper()
    if a == b"LEFT":
        return HEAD
    if a == b"RIGHT":
        return TAIL
    return None


def push(srv, db, key, lst, items, where):
    """Push `items` (in order, each at `where`) onto the list at `key`; `lst`
    is the deque stored there or None to create it. Returns the new length.
    Notifies and signals; the caller propagates."""
    if lst is None:
        lst = deque()
        srv.keyspace.set(db, key, lst)
    elif db.watched:
        srv.signal_modified_key(db, key)
    if where == HEAD:
        lst.extendleft(items)  # LPUSH a b c leaves c b a
    else:
        lst.extend(items)
    if srv.notify_hook is not None:
        srv.notify(db.id, b"l", _PUSH_EVENT[where], key)
    signal = getattr(srv, "signal_key_as_ready", None)
    if signal is not None:
        signal(db, key)
    return len(lst)


def pop(srv, db, key, lst, where, count=None, argv=None):
    """Pop from the non-empty deque `lst` stored at `key`: one element (bytes)
    when `count` is None, else a list of up to `count` in pop order. Deletes
    the key when it empties, notifies, and propagates `argv` if given."""
    if count is None:
        v = lst.popleft() if where == HEAD else lst.pop()
        n = 1
    else:
        n = count if count < len(lst) else len(lst)
        take = lst.popleft if where == HEAD else lst.pop
        v = [take() for _ in range(n)]
    removed(srv, db, key, lst, _POP_EVENT[where], n, argv)
    return v


def removed(srv, db, key, lst, event, n, argv):
    """After `n` elements left `lst`: notify `event`, delete the key if the
    list is now empty, signal WATCH, and propagate `argv` (counting `n`
    changes, as Redis's dirty counter does)."""
    dbid = db.id
    if srv.notify_hook is not None:
        srv.notify(dbid, b"l", event, key)
    if not lst:
        srv.keyspace.delete(db, key)  # signals WATCH itself
        srv.notify(dbid, b"g", b"del", key)
    elif db.watched:
        srv.signal_modified_key(db, key)
    if argv is not None:
        srv.dirty += n - 1
        srv.propagate(dbid, argv)


def move(srv, db, src_key, src, dst_key, dst, wherefrom, whereto, argv=None):
    """LMOVE's effect: pop from the non-empty deque `src` and push onto
    `dst` (the list at `dst_key`, or None to create it). Returns the moved
    element; propagates `argv` if given. The caller checked both types."""
    value = src.popleft() if wherefrom == HEAD else src.pop()
    push(srv, db, dst_key, dst if dst_key != src_key else src, (value,), whereto)
    removed(srv, db, src_key, src, _POP_EVENT[wherefrom], 1, argv)
    return value


# -- entry points for the blocking commands (they look the keys up themselves
#    only to decide whether to block; these re-check when a waiter is served) --


def pop_from(srv, db, key, where, count=None):
    """Pop for a served BLPOP/BRPOP (count None) or BLMPOP (count given).
    Returns None if `key` holds no list now; else the element (count None)
    or the list of elements. Propagates the plain `LPOP key` / `RPOP key`,
    or `LPOP key n` with the number really popped, as Redis does."""
    lst = srv.keyspace.lookup(db, key)
    if lst is None or lst.__class__ is not deque or not lst:
        return None
    if count is None:
        return pop(srv, db, key, lst, where, None, [_POP_CMD[where], key])
    n = count if count < len(lst) else len(lst)
    return pop(srv, db, key, lst, where, n, [_POP_CMD[where], key, b"%d" % n])


def move_from(srv, db, src_key, dst_key, wherefrom, whereto, argv):
    """LMOVE for a served BLMOVE/BRPOPLPUSH. Returns None if `src_key` holds
    no list now, WRONG if `dst_key` holds another type (the waiter gets
    WRONGTYPE), else the moved element. `argv` is what to propagate:
    `[LMOVE, src, dst, LEFT|RIGHT, LEFT|RIGHT]` or `[RPOPLPUSH, src, dst]`."""
    src = srv.keyspace.lookup(db, src_key)
    if src is None or src.__class__ is not deque or not src:
        return None
    dst = srv.keyspace.lookup(db, dst_key)
    if dst is not None and dst.__class__ is not deque:
        return WRONG
    return move(srv, db, src_key, src, dst_key, dst, wherefrom, whereto, argv)


def lmove_argv(src_key, dst_key, wherefrom, whereto):
    """The LMOVE command a move propagates as."""
    return [b"LMOVE", src_key, dst_key, _SIDE[wherefrom], _SIDE[whereto]]


def list_range(lst, start, end):
    """LRANGE's elements for Redis-style (possibly negative) indexes:
    O(S+N), walking from whichever end is nearer."""
    llen = len(lst)
    if start < 0:
        start += llen
    if end < 0:
        end += llen
    if start < 0:
        start = 0
    if start > end or start >= llen:
        return []
    if end >= llen:
        end = llen - 1
    if start > llen - 1 - end:  # nearer the tail
        items = list(islice(reversed(lst), llen - 1 - end, llen - start))
        items.reverse()
        return items
    return list(islice(lst, start, end + 1))
