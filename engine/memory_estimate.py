"""How much memory the dataset takes: an estimate cheap enough to consult
before every write while `maxmemory` is set (engine/eviction.py), also
behind INFO memory's used_memory_dataset and MEMORY USAGE/STATS.

RSS cannot drive eviction: CPython's allocator keeps freed arenas, so RSS
does not shrink when keys go, and an eviction loop against it would empty
the keyspace. Instead, per database: its keys' entries in its tables (data,
atime, expires, freq, enc: DICT_SLOT bytes each), plus the keys and values,
measured on random samples:

- plain keys (strings, small hashes and sets: bounded by the listpack and
  intset limits, except long strings) as the number of keys times a
  running average of sampled sizes (decaying over ~2 s, so noise does not
  turn into eviction bursts);
- big containers (`Database.custom_keys`: lists, sorted sets, hashtable
  hashes and sets) one by one while there are few of them, so a handful of
  huge values is not lost in an average; a sampled average when many.

A value is measured as CPython allocates it (pymalloc's 16-byte size
classes, malloc above 512 bytes); a container by sampling its elements, as
Redis's MEMORY USAGE SAMPLES does. Between refreshes (at most every
REFRESH_S) keys added or removed count at the average. Nothing is counted
on the write path. Known blind spot: a few huge strings among many small
ones are seen only when a sample hits them.
"""

import math
import random
import sys
import time
from collections import deque
from itertools import islice
from random import choices

from .types import hashes as _hashes
from .types.sets import SetTable
from .types.zsets import ZSet

_getsizeof = sys.getsizeof
REFRESH_S = 0.01  # at most this often while maxmemory is set
BUFFERS_REFRESH_S = 0.1  # clients' buffers, when there are many clients to walk
DECAY_S = 2.0  # the running average forgets samples older than about this
PLAIN_SAMPLES = 16  # plain keys measured per database and refresh
MIN_WEIGHT = 128  # ... more when the running average holds fewer (start, after idle)
CUSTOM_EXACT = 32  # big containers measured one by one up to this many per database
CUSTOM_PER_REFRESH = 8  # of those, re-measured per refresh (round robin)
ELEMENT_SAMPLES = 16  # elements sampled per container by the estimate
INT_BYTES = 32  # an int beyond the small-int cache (expiry ms, LFU word): 28 -> 32
# A dict entry with its share of the index: 24 bytes of entry, the index,
# and room to grow (a table is 1/3 to 2/3 used): 42 on average over fills.
DICT_SLOT = 42
SET_SLOT = 24
_SNAPSHOT_MAX_AGE_S = 2.0
_SMALL = 64  # dicts/sets this small are sampled from a fresh list


def alloc(n):
    """Bytes CPython takes for an object of n bytes: pymalloc rounds to 16
    up to 512 bytes; above, malloc adds its 8-byte header, rounded to 16."""
    return (n + 15) & ~15 if n <= 512 else (n + 23) & ~15


def _bytes(b):
    return alloc(33 + len(b))  # sys.getsizeof(bytes) is 33 + len


def _take(n, samples):
    return n if samples <= 0 or samples >= n else samples


def _hash_size(h, samples):
    n = len(h)
    total = alloc(_getsizeof(h))
    if n:
        k = _take(n, samples)
        s = 0
        if h.__class__ is dict:
            # A small hash's field names are shared between hashes (types/hashes.py):
            # counted once, in MemoryEstimate.shared_names. A big hash keeps
            # shared names only from when it was small: counted in full, as
            # its first elements, the ones sampled, would be those.
            shared = _hashes._FIELD_NAMES
            for f, v in islice(h.items(), k):
                if shared.get(f) is not f:
                    s += alloc(33 + len(f))
                s += alloc(33 + len(v))
        else:
            for f, v in islice(h.items(), k):
                s += alloc(33 + len(f)) + alloc(33 + len(v))
        total += s * n // k
    return total


def _members_size(container, samples):
    """A set or deque: its own size plus its (bytes) members, sampled."""
    n = len(container)
    total = alloc(_getsizeof(container))
    if n:
        k = _take(n, samples)
        total += sum(alloc(33 + len(m)) for m in islice(container, k)) * n // k
    return total


def _zset_size(z, samples):
    n = len(z.dict)
    sl = z.sl
    lists = sl._lists
    total = alloc(_getsizeof(z)) + alloc(_getsizeof(z.dict)) + alloc(_getsizeof(sl)) + 256  # SortedList's __dict__
    total += alloc(_getsizeof(lists)) + alloc(_getsizeof(sl._maxes)) + alloc(_getsizeof(sl._index))
    if lists:
        k = min(len(lists), 4)
        total += sum(alloc(_getsizeof(x)) for x in islice(lists, k)) * len(lists) // k
    if n:
        k = _take(n, samples)
        # Each member: its bytes, its score (a float shared by the dict and
        # the SortedList) and the (score, member) tuple the SortedList holds.
        total += sum(alloc(33 + len(m)) + 32 + 64 for m in islice(z.dict, k)) * n // k
    return total


def _packed_hash_size(t, _samples):
    return alloc(_getsizeof(t)) + _bytes(t[1])


_SIZERS = {
    dict: _hash_size, _hashes.HashTable: _hash_size, tuple: _packed_hash_size,
    set: _members_size, SetTable: _members_size, deque: _members_size, ZSet: _zset_size,
}


def value_size(v, samples=5):
    """Bytes a value takes; containers sample `samples` elements (0: all)."""
    if v.__class__ is bytes:
        return alloc(33 + len(v))
    fn = _SIZERS.get(v.__class__)
    return fn(v, samples) if fn is not None else alloc(_getsizeof(v))


def key_usage(db, key, v, samples=5):
    """MEMORY USAGE: the key, its value and its entries in the database's
    dicts (data and atime, plus expires when it has a TTL)."""
    n = _bytes(key) + value_size(v, samples) + 2 * DICT_SLOT
    if key in db.expires:
        n += DICT_SLOT + INT_BYTES
    return n


def db_overhead(db):
    """The bytes of a database's own tables, counted per live entry (a
    dict's table does not shrink when keys go, but neither does it grow
    while new keys take their places: a capacity figure would have an
    eviction loop chase memory that deleting keys cannot give back)."""
    return (len(db.data) * 2 * DICT_SLOT + (len(db.expires) + len(db.freq)) * (DICT_SLOT + INT_BYTES)
            + len(db.enc) * DICT_SLOT + len(db.custom_keys) * SET_SLOT)


class _Snapshot:
    __slots__ = ("src", "keys", "n0", "deleted0", "built", "max_age", "misses")

    def __init__(self, db, src):
        t0 = time.monotonic()
        self.src = src
        self.keys = list(src)
        self.n0 = len(src)
        self.deleted0 = db.deleted
        self.built = time.monotonic()
        # Rebuilds take at most ~1% of the time (10 ms for 1M keys: every 2 s).
        self.max_age = max(_SNAPSHOT_MAX_AGE_S, 100 * (self.built - t0))
        self.misses = 0

    def stale(self, db, src):
        m = self.n0
        return (src is not self.src or len(src) > m + (m >> 2) + 16 or self.misses > (m >> 2)
                or db.deleted - self.deleted0 > (m >> 2) or time.monotonic() - self.built > self.max_age)


class KeySampler:
    """Random keys of a database's dict or set. A Python dict has no random
    access (islice to a random place walks it: ms for 1M keys). While
    `keep` (maxmemory is set: samples are drawn before writes), big ones are
    sampled from a list of their keys taken once (8 bytes a key) and rebuilt
    when a quarter of it may have changed or after 2 s (more for huge ones);
    keys gone since are skipped (and counted toward a rebuild); new keys wait
    for a rebuild to be drawn. Otherwise (INFO, now and then) one walk
    picks them."""

    def __init__(self):
        self.snaps = {}  # (db id, attribute) -> _Snapshot
        self.keep = False

    def set_keep(self, keep):
        self.keep = keep
        if not keep:
            self.snaps.clear()

    def sample(self, db, which, count):
        """Up to `count` distinct-ish keys present in getattr(db, which)."""
        src = getattr(db, which)
        n = len(src)
        if n <= _SMALL:
            keys = list(src)
            return keys if n <= count else random.sample(keys, count)
        if not self.keep:
            out = []
            it = iter(src)
            pos = 0
            for i in sorted(random.sample(range(n), min(count, n))):
                out.append(next(islice(it, i - pos, None)))  # skips in C
                pos = i + 1
            return out
        snap = self.snaps.get((db.id, which))
        if snap is None or snap.stale(db, src):
            snap = self.snaps[(db.id, which)] = _Snapshot(db, src)
        out = self._draw(snap, src, count)
        if len(out) < count and snap.misses:  # mostly gone since it was built: once more, afresh
            snap = self.snaps[(db.id, which)] = _Snapshot(db, src)
            out += self._draw(snap, src, count - len(out))
        return out

    @staticmethod
    def _draw(snap, src, count):
        """`count` keys drawn from the snapshot, those gone since skipped
        (four tries at most): whole lists at a time, not a loop a key
        (an eviction batch draws hundreds)."""
        keys = snap.keys
        out = []
        for _ in range(4):
            need = count - len(out)
            if need <= 0:
                break
            got = [k for k in choices(keys, k=need) if k in src]
            snap.misses += need - len(got)
            out += got
        return out

    def forget(self, db):
        for which in ("data", "expires", "custom_keys"):
            self.snaps.pop((db.id, which), None)


class _DbState:
    __slots__ = ("n_plain", "n_custom", "total", "plain_marginal", "custom_avg", "plain_sum", "plain_w", "at",
                 "src", "custom_sizes", "rr", "table_per_key")

    def __init__(self):
        self.n_plain = 0  # plain and big-container keys at the last refresh
        self.n_custom = 0
        self.total = 0  # the estimate at the last refresh
        self.plain_marginal = 0.0  # what a plain key added or removed since counts for
        self.custom_avg = 0.0  # ... and a big container
        self.plain_sum = 0.0  # running (decaying) sum and weight of plain key sizes
        self.plain_w = 0.0
        self.at = 0.0
        self.src = None  # db.data the running average is about (a flush starts afresh)
        self.custom_sizes = {}  # big container key -> its size, while few
        self.rr = 0  # round-robin cursor over custom_sizes
        self.table_per_key = 0.0  # its share of the database's tables


class MemoryEstimate:
    """The server's estimate. `counted()` is what maxmemory compares with."""

    def __init__(self, server):
        self.srv = server
        self.sampler = KeySampler()
        self.states = {}  # db id -> _DbState
        self.active = ()  # ((db, state), ...) with keys at the last refresh
        self.refreshed_at = -1.0
        self.base = 0  # dataset bytes at the last refresh, all databases
        self.clients_normal = 0  # query and output buffers of clients (not replicas)
        self.clients_replicas = 0  # replicas' output buffers: not counted, as in Redis
        self.backlog = 0
        self.aof_buffer = 0
        self.shared_names = 0
        self.buffers_at = -1.0
        self.refresh_cost = 0.0  # seconds the last refresh took

    # -- what callers read ---------------------------------------------------------

    def dataset(self):
        """Dataset bytes now (from the last refresh, no sampling)."""
        total = self.base
        for db, st in self.active:
            nc = len(db.custom_keys)
            total += (len(db.data) - nc - st.n_plain) * st.plain_marginal + (nc - st.n_custom) * st.custom_avg
        return max(int(total), 0)

    def counted(self, max_age=REFRESH_S):
        """Bytes maxmemory counts: the dataset, client buffers and the
        replication backlog (not replicas' output or the AOF buffer)."""
        if time.monotonic() - self.refreshed_at >= max_age:
            self.refresh()
        return self.dataset() + self.clients_normal + self.backlog

    def not_counted(self):
        return self.clients_replicas + self.aof_buffer

    def age(self):
        return time.monotonic() - self.refreshed_at

    def refresh_if_stale(self):
        """For INFO and MEMORY: fresh enough, and at most ~1% of the time
        spent sampling (a walk of a huge dict without maxmemory)."""
        if (self.age() >= max(REFRESH_S, 100 * self.refresh_cost)
                or any(bool(db.data) != (db.id in self.states) for db in self.srv.keyspace.dbs)):
            self.refresh()  # (a database that got its first keys has no average yet)

    def removed(self, db, key, size):
        """A key of `size` bytes (entry_size) is about to be deleted: take
        exactly that and its table entries off, so an eviction loop sees what
        each key gives back."""
        st = self.states.get(db.id)
        if st is None:
            return
        if key in db.custom_keys:
            st.n_custom -= 1
            st.custom_sizes.pop(key, None)
        else:
            st.n_plain -= 1
        size += st.table_per_key
        st.total -= size
        self.base -= size

    def entry_size(self, db, key, v):
        """The bytes a key and its value count for in the estimate."""
        st = self.states.get(db.id)
        if st is not None:
            known = st.custom_sizes.get(key)
            if known is not None:
                return known
        return _bytes(key) + value_size(v, ELEMENT_SAMPLES)

    # -- refreshing -----------------------------------------------------------------

    def refresh(self):
        now = time.monotonic()
        self.refreshed_at = now
        srv = self.srv
        active = []
        base = 0
        for db in srv.keyspace.dbs:
            if not db.data:
                if db.id in self.states:
                    del self.states[db.id]
                    self.sampler.forget(db)
                continue
            st = self.states.get(db.id)
            if st is None:
                st = self.states[db.id] = _DbState()
            self._refresh_db(db, st, now)
            base += st.total
            active.append((db, st))
        self.active = tuple(active)
        shared = _hashes._FIELD_NAMES
        names = 0
        if shared:
            k = min(len(shared), 16)
            names = _getsizeof(shared) + sum(_bytes(f) for f in islice(shared, k)) * len(shared) // k
        self.shared_names = names
        self.base = base + names
        if len(srv.clients) <= 64 or now - self.buffers_at >= BUFFERS_REFRESH_S:
            self.buffers_at = now
            self._refresh_buffers()
        self.refresh_cost = time.monotonic() - now

    def _refresh_db(self, db, st, now):
        data = db.data
        n = len(data)
        custom = db.custom_keys
        if st.src is not data:  # flushed or swapped: forget the old averages
            st.src = data
            st.plain_sum = st.plain_w = 0.0
            st.custom_sizes = {}
        keep = math.exp(-(now - st.at) / DECAY_S) if st.at else 0.0
        st.at = now
        st.plain_sum *= keep
        st.plain_w *= keep
        count = PLAIN_SAMPLES if st.plain_w >= MIN_WEIGHT else MIN_WEIGHT
        s = w = 0
        for key in self.sampler.sample(db, "data", count):
            if key in custom:
                continue
            v = data.get(key)
            if v is not None:
                s += _bytes(key) + value_size(v, ELEMENT_SAMPLES)
                w += 1
        st.plain_sum += s
        st.plain_w += w
        plain_avg = st.plain_sum / st.plain_w if st.plain_w else 0.0
        ncustom = len(custom)
        if ncustom <= CUSTOM_EXACT:
            custom_total = self._refresh_custom_exact(db, st)
            custom_avg = custom_total / ncustom if ncustom else 0.0
        else:
            st.custom_sizes = {}
            keys = self.sampler.sample(db, "custom_keys", PLAIN_SAMPLES)
            sizes = [_bytes(k) + value_size(data[k], ELEMENT_SAMPLES) for k in keys if k in data]
            custom_avg = sum(sizes) / len(sizes) if sizes else plain_avg
            custom_total = custom_avg * ncustom
        if not plain_avg:
            plain_avg = custom_avg
        overhead = db_overhead(db)
        st.n_plain = n - ncustom
        st.n_custom = ncustom
        st.total = int((n - ncustom) * plain_avg + custom_total + overhead)
        st.table_per_key = overhead / n
        st.plain_marginal = plain_avg + st.table_per_key
        st.custom_avg = custom_avg + st.table_per_key

    def _refresh_custom_exact(self, db, st):
        """Measure each big container, a few of them anew per refresh."""
        sizes = st.custom_sizes
        data = db.data
        custom = db.custom_keys
        for key in [k for k in sizes if k not in custom]:
            del sizes[key]
        for key in custom:
            if key not in sizes:
                v = data.get(key)
                sizes[key] = _bytes(key) + value_size(v, ELEMENT_SAMPLES) if v is not None else 0
        if sizes:
            keys = list(sizes)
            start = st.rr % len(keys)
            for key in keys[start:start + CUSTOM_PER_REFRESH]:
                v = data.get(key)
                sizes[key] = _bytes(key) + value_size(v, ELEMENT_SAMPLES) if v is not None else 0
            st.rr = start + CUSTOM_PER_REFRESH
        return sum(sizes.values())

    def _refresh_buffers(self):
        srv = self.srv
        normal = replicas = 0
        for c in srv.clients.values():
            if c.kind == "replica":
                replicas += c.output_bytes()
            else:
                normal += c.parser.pending_bytes() + c.output_bytes()
        self.clients_normal = normal
        self.clients_replicas = replicas
        primary = getattr(srv, "replication", None)
        backlog = getattr(primary, "backlog", None)
        self.backlog = backlog.histlen if backlog is not None else 0
        aof = srv.aof
        self.aof_buffer = getattr(aof, "buf_bytes", 0) if aof is not None else 0
