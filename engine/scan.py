"""SCAN-family cursors over Python collections.

Redis walks its hash tables with a reverse-binary cursor; a Python dict has
no stable position to resume from. So the first call of an iteration takes
a snapshot of the collection's members (`list(d)`, C speed) and the cursor
names (snapshot id, offset). Every member present for the whole iteration
is in the snapshot, so it is returned at least once; members deleted meanwhile
are skipped when visited; members added meanwhile may be missed, as SCAN's
contract allows. The iteration ends (cursor 0) when the snapshot is used up.

Memory is bounded: at most MAX_PER_DB snapshots per database and MAX_POINTERS
members over all of them, the least recently used evicted first. A cursor
whose snapshot is gone continues on a fresh snapshot, and never skips:

- if the collection has a version (generation, deletions so far) -- the
  keyspace does -- a small tombstone of the evicted snapshot remembers its
  version, and the iteration resumes at `offset - deletions since`: a dict
  keeps insertion order, so a member present throughout can only have moved
  left by the number of members deleted before it. Progress survives
  eviction, so even more concurrent iterations than snapshot slots end.
- otherwise (no version, unknown cursor, server restarted, the collection
  replaced) it restarts from the beginning: duplicates, which SCAN allows.

The machinery is collection-agnostic: HSCAN/SSCAN/ZSCAN pass their own
collection and `visit` function.
"""

import random
from collections import OrderedDict

MAX_PER_DB = 16
MAX_POINTERS = 1 << 24  # ~128 MiB of list slots at worst
MAX_TOMBSTONES = 4096
OFFSET_BITS = 32
_OFFSET_MASK = (1 << OFFSET_BITS) - 1
_U64 = 1 << 64


def parse_cursor(b):
    """A cursor argument as Redis's strtoul-based parser takes it ('' is 0,
    a sign is allowed and '-1' wraps); None means "ERR invalid cursor"."""
    if not b:
        return 0
    neg = b[:1] == b"-"
    digits = b[1:] if b[:1] in (b"+", b"-") else b
    if not digits.isdigit():
        return None
    v = int(digits)
    if v >= _U64:
        return None
    return (-v) % _U64 if neg else v


class _Snapshot:
    __slots__ = ("owner", "items", "version")

    def __init__(self, owner, items, version):
        self.owner = owner
        self.items = items
        self.version = version  # (generation, deletions) when taken, or None


class Scanner:
    """All live snapshots of one server. An owner is a tuple whose first
    element is the db id: (dbid, None) for the keyspace, (dbid, key) for the
    members of one key's value."""

    def __init__(self):
        self.snapshots = OrderedDict()  # id -> _Snapshot, least recently used first
        self.per_db = {}  # dbid -> number of snapshots
        self.pointers = 0
        self.tombstones = OrderedDict()  # id of an evicted snapshot -> (owner, version)

    def __len__(self):
        return len(self.snapshots)

    def scan(self, owner, collection, cursor, count, visit, version=None):
        """One step: look at up to `count` members from where `cursor` left
        off. `visit(member)` returns what to emit, or None to skip it (gone,
        filtered out). `version` is (generation, deletions so far) for
        collections that count their deletions (see the module doc), else
        None. Returns (next cursor, [emitted])."""
        snap = None
        offset = 0
        if cursor:
            sid = cursor >> OFFSET_BITS
            offset = cursor & _OFFSET_MASK
            snap = self.snapshots.get(sid)
            if snap is not None and snap.owner == owner and offset <= len(snap.items):
                self.snapshots.move_to_end(sid)
            else:
                snap = None
                offset = self._resume_offset(sid, owner, offset, version)
        if snap is None:
            if offset == 0 and len(collection) <= count:  # done in one step: no snapshot to keep
                return 0, _visit_all(list(collection), visit)
            sid, snap = self._new(owner, list(collection), version)
        end = offset + count
        chunk = snap.items[offset:end]
        if end >= len(snap.items):
            self._drop(sid)
            nxt = 0
        else:
            nxt = (sid << OFFSET_BITS) | end
        return nxt, _visit_all(chunk, visit)

    def _resume_offset(self, sid, owner, offset, version):
        """Where an iteration whose snapshot was evicted goes on in a fresh
        one: never past a member it has not seen yet."""
        tomb = self.tombstones.pop(sid, None)
        if tomb is None or version is None or tomb[0] != owner or tomb[1] is None:
            return 0
        (gen, deleted), (gen_now, deleted_now) = tomb[1], version
        if gen != gen_now:
            return 0
        return max(offset - (deleted_now - deleted), 0)

    def drop_db(self, dbid):
        """Forget the snapshots of a flushed database."""
        for sid in [s for s, snap in self.snapshots.items() if snap.owner[0] == dbid]:
            self._drop(sid)
        for sid in [s for s, (owner, _v) in self.tombstones.items() if owner[0] == dbid]:
            del self.tombstones[sid]

    def clear(self):
        self.snapshots.clear()
        self.per_db.clear()
        self.tombstones.clear()
        self.pointers = 0

    def _new(self, owner, items, version):
        dbid = owner[0]
        # Make room: the per-db count first, then the global pointer budget.
        while self.per_db.get(dbid, 0) >= MAX_PER_DB:
            self._evict(next(s for s, snap in self.snapshots.items() if snap.owner[0] == dbid))
        while self.snapshots and self.pointers + len(items) > MAX_POINTERS:
            self._evict(next(iter(self.snapshots)))
        sid = random.randrange(1, 1 << 31)  # cursors stay below 2**63 for clients that parse signed
        while sid in self.snapshots or sid in self.tombstones:
            sid = random.randrange(1, 1 << 31)
        snap = _Snapshot(owner, items, version)
        self.snapshots[sid] = snap
        self.per_db[dbid] = self.per_db.get(dbid, 0) + 1
        self.pointers += len(items)
        return sid, snap

    def _evict(self, sid):
        snap = self.snapshots[sid]
        if snap.version is not None:
            self.tombstones[sid] = (snap.owner, snap.version)
            if len(self.tombstones) > MAX_TOMBSTONES:
                self.tombstones.popitem(last=False)
        self._drop(sid)

    def _drop(self, sid):
        snap = self.snapshots.pop(sid, None)
        if snap is None:
            return
        dbid = snap.owner[0]
        n = self.per_db[dbid] - 1
        if n:
            self.per_db[dbid] = n
        else:
            del self.per_db[dbid]
        self.pointers -= len(snap.items)


def _visit_all(members, visit):
    out = []
    for m in members:
        v = visit(m)
        if v is not None:
            out.append(v)
    return out
