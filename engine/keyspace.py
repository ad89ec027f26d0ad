"""The keyspace: numbered databases, each a dict of key -> value plus a dict
of key -> absolute expiry in unix milliseconds.

Values are plain Python objects chosen so a forked snapshot child can hand
whole dicts to C code (marshal) without touching each object: strings are
`bytes`; the collection types live in engine/types (lists, hashes, sets,
sorted sets). Only the main thread mutates the keyspace.

Expiry is lazy (a read finds the key stale and deletes it, propagating DEL)
and active (`active_expire_cycle`, driven by the cron at `hz`, samples keys
with a TTL as Redis does).
"""

import itertools
import random
import time

from .scan import Scanner
from .util import release_free_memory

LFU_INIT_VAL = 5  # a new key's LFU counter, as Redis


class Database:
    __slots__ = ("id", "data", "expires", "avg_ttl", "expires_cursor", "watched", "atime", "freq",
                 "enc", "custom_keys", "deleted", "generation")

    def __init__(self, dbid):
        self.id = dbid
        self.data = {}
        self.expires = {}
        self.avg_ttl = 0
        self.expires_cursor = 0
        self.watched = {}  # key -> set of clients WATCHing it (transactions)
        # Per-key metadata beside the values (so `data` stays a plain dict):
        self.atime = {}  # key -> server.lru_clock at last access (OBJECT IDLETIME)
        self.freq = {}  # key -> (minutes << 8) | counter, only under an LFU policy
        self.enc = {}  # key -> encoding hint for short strings Redis keeps raw/embstr/unshared
        # Keys whose value is not an exact bytes/dict/set (lists, sorted sets,
        # hashtable-encoded hashes and sets): everything else in `data` a
        # snapshot child hands to marshal whole (rdb/private_view.py).
        self.custom_keys = set()
        # SCAN resumes an evicted cursor from these: keys only move left in
        # `data`'s order when keys before them are deleted, so every deletion
        # must go through the Keyspace (which counts it); `generation` changes
        # when `data` is replaced wholesale (flush, swap).
        self.deleted = 0
        self.generation = 0

    def __len__(self):
        return len(self.data)

    def clear(self):
        n = len(self.data)
        self.data = {}
        self.expires = {}
        self.avg_ttl = 0
        self.atime = {}
        self.freq = {}
        self.enc = {}
        self.custom_keys = set()
        self.generation += 1
        return n

    def swap_with(self, other):
        """SWAPDB: exchange contents; ids and WATCHers stay with the number."""
        for name in ("data", "expires", "avg_ttl", "expires_cursor", "atime", "freq", "enc", "custom_keys"):
            a, b = getattr(self, name), getattr(other, name)
            setattr(self, name, b)
            setattr(other, name, a)
        self.generation += 1
        other.generation += 1

    def drop_meta(self, key):
        """Forget the side metadata of a key that left `data`."""
        self.atime.pop(key, None)
        if self.freq:
            self.freq.pop(key, None)
        if self.enc:
            self.enc.pop(key, None)
        if self.custom_keys:
            self.custom_keys.discard(key)

    def stored(self, key, value):
        """Note the class of a value just stored at `key` (custom_keys)."""
        if value.__class__ in PLAIN_CLASSES:
            if self.custom_keys:
                self.custom_keys.discard(key)
        else:
            self.custom_keys.add(key)


# Values marshal serializes as they are (exact classes: subclasses are not);
# a tuple is a packed hash (engine/types/hashes.py).
PLAIN_CLASSES = frozenset((bytes, dict, set, tuple))


class ValueType:
    """What the keyspace knows about a value class: its TYPE name, its
    OBJECT ENCODING (fn(value) -> bytes) and how COPY duplicates it."""

    __slots__ = ("name", "encoding", "copy")

    def __init__(self, name, encoding, copy):
        self.name = name
        self.encoding = encoding
        self.copy = copy


VALUE_TYPES = {}  # Python class -> ValueType


def register_type(cls, name, encoding, copy):
    """Called by each type's module (lists, hashes, ...) so TYPE, OBJECT
    ENCODING, COPY and SCAN TYPE know it."""
    VALUE_TYPES[cls] = ValueType(name, encoding, copy)


# Value classes kept in a packed form until first used (a small hash as the
# RDB file held it): class -> fn(value) giving the working form. Keyspace
# lookups replace a packed value by its working form; read-only walkers
# (DEBUG DIGEST, DEBUG OBJECT) look through it with `unpacked`.
LAZY_TYPES = {}


def register_lazy(cls, unpack):
    LAZY_TYPES[cls] = unpack


def unpacked(value):
    """The working form of a value (itself unless it is packed)."""
    fn = LAZY_TYPES.get(value.__class__)
    return value if fn is None else fn(value)


def type_name(value):
    """The TYPE reply for a value (b"none" for None)."""
    if value is None:
        return b"none"
    t = VALUE_TYPES.get(value.__class__)
    return t.name if t is not None else b"none"


# Strings are immutable bytes: a copy is the same object. Their encoding
# depends on the key (hints), so OBJECT ENCODING handles them itself.
register_type(bytes, b"string", None, lambda v: v)


class Keyspace:
    """All databases plus the expiry rules. `server` supplies propagation,
    notifications and stats; the keyspace never touches clients."""

    def __init__(self, server, ndbs):
        self.server = server
        self.dbs = [Database(i) for i in range(ndbs)]
        self.expired_keys = 0
        self.expired_stale_perc = 0.0
        self.expired_time_cap_reached_count = 0
        self.active_expire_enabled = True
        # notify-keyspace-events has 'n' (new key) / 'm' (key miss) with K or
        # E: kept current by pub/sub, so the hot paths test one attribute.
        self.notify_new = False
        self.notify_miss = False
        self.scanner = Scanner()  # SCAN-family cursor snapshots
        self._policy_changed(None, server.config["maxmemory-policy"])
        server.config.on_change("maxmemory-policy", self._policy_changed)

    def _policy_changed(self, _old, new):
        self.server.lfu_on = new is not None and new.endswith("lfu")

    # -- lookups ------------------------------------------------------------------

    def lookup(self, db, key):
        """The live value of `key` in `db`, or None; deletes it if it expired.
        Counts as an access (OBJECT IDLETIME / FREQ), like lookupKeyWrite."""
        v = db.data.get(key)
        if v is not None:
            if db.expires:
                when = db.expires.get(key)
                if when is not None and when <= self.server.now_ms and self.expire_if_needed(db, key):
                    return None
            if LAZY_TYPES and v.__class__ in LAZY_TYPES:
                v = self.unpack_in_place(db, key, v)
            srv = self.server
            db.atime[key] = srv.lru_clock
            if srv.lfu_on:
                self.lfu_touch(db, key)
        return v

    def lookup_read(self, db, key, touch=True, notify=True):
        """lookup() for read commands (Redis's lookupKeyRead): also counts
        keyspace hits/misses and, on a miss, fires the `keymiss` event.
        TYPE, EXISTS, TTL pass touch=False (LOOKUP_NOTOUCH); OBJECT passes
        notify=False too (LOOKUP_NONOTIFY)."""
        v = self.lookup(db, key) if touch else self.peek(db, key)
        if v is None:
            self.server.stats.keyspace_misses += 1
            if notify and self.notify_miss:
                self.server.notify(db.id, b"m", b"keymiss", key)
        else:
            self.server.stats.keyspace_hits += 1
        return v

    def key_missed(self, db, key):
        """A read lookup missed outside lookup_read (the GET fast path, SET
        GET): count it and fire `keymiss`."""
        self.server.stats.keyspace_misses += 1
        if self.notify_miss:
            self.server.notify(db.id, b"m", b"keymiss", key)

    def peek(self, db, key):
        """The live value without counting an access (expired keys still go)."""
        v = db.data.get(key)
        if v is not None:
            if db.expires:
                when = db.expires.get(key)
                if when is not None and when <= self.server.now_ms and self.expire_if_needed(db, key):
                    return None
            if LAZY_TYPES and v.__class__ in LAZY_TYPES:
                v = self.unpack_in_place(db, key, v)
        return v

    def unpack_in_place(self, db, key, v):
        """Replace a packed value by its working form (same key, same TTL)."""
        v = LAZY_TYPES[v.__class__](v)
        db.data[key] = v
        db.stored(key, v)
        return v

    def lfu_touch(self, db, key):
        """One access under an LFU policy: decay by idle minutes, then a
        logarithmic increment (Redis's updateLFU)."""
        cfg = self.server.config
        minutes = (self.server.now_ms // 60000) & 65535
        counter = self.lfu_counter(db, key, minutes)
        if counter < 255:
            base = counter - LFU_INIT_VAL
            if random.random() < 1.0 / ((base if base > 0 else 0) * cfg["lfu-log-factor"] + 1):
                counter += 1
        db.freq[key] = (minutes << 8) | counter

    def lfu_written(self, db, key):
        """A write stored a value: an overwrite counts as an access and keeps
        the counter (Redis's dbOverwrite), a new key starts at LFU_INIT_VAL."""
        if key in db.freq:
            self.lfu_touch(db, key)
        else:
            db.freq[key] = (((self.server.now_ms // 60000) & 65535) << 8) | LFU_INIT_VAL

    def lfu_counter(self, db, key, minutes=None):
        """The decayed LFU counter of a key (LFUDecrAndReturn); new keys start at 5."""
        if minutes is None:
            minutes = (self.server.now_ms // 60000) & 65535
        packed = db.freq.get(key)
        if packed is None:
            return LFU_INIT_VAL
        ldt, counter = packed >> 8, packed & 255
        decay = self.server.config["lfu-decay-time"]
        if decay:
            elapsed = minutes - ldt if minutes >= ldt else 65535 - ldt + minutes
            periods = elapsed // decay
            counter = 0 if periods > counter else counter - periods
        return counter

    def exists(self, db, key):
        return self.peek(db, key) is not None

    def expire_if_needed(self, db, key):
        """Delete `key` if its TTL has passed (propagating DEL). Returns True if
        the key is logically expired. A replica never deletes on its own: its
        primary sends the DEL; it only reports the key as missing."""
        when = db.expires.get(key)
        if when is None or when > self.server.now_ms:
            return False
        if self.server.is_replica or self.server.pause.kind:
            return True  # a replica waits for its primary's DEL; CLIENT PAUSE expires nothing
        self.delete_expired(db, key)
        return True

    def delete_expired(self, db, key):
        del db.data[key]
        del db.expires[key]
        db.deleted += 1
        db.drop_meta(key)
        self.expired_keys += 1
        srv = self.server
        srv.propagate(db.id, [b"DEL", key])
        srv.notify(db.id, b"x", b"expired", key)
        srv.signal_modified_key(db, key)

    # -- mutations ------------------------------------------------------------------

    def set(self, db, key, value, keep_ttl=False, loading=False):
        """Store `value` (overwrites any type); drops the TTL unless keep_ttl.
        As Redis's setKey: an expired key is deleted first (DEL, `expired`),
        and a key that was not there fires `new` (dbAdd). `loading` (a load
        merging into live data) fires nothing and expires nothing."""
        if not loading:
            if db.expires:
                when = db.expires.get(key)
                if when is not None and when <= self.server.now_ms:
                    self.expire_if_needed(db, key)
            if self.notify_new and key not in db.data:
                self.server.notify(db.id, b"n", b"new", key)
        db.data[key] = value
        db.stored(key, value)
        if not keep_ttl and db.expires:
            db.expires.pop(key, None)
        if db.enc:
            db.enc.pop(key, None)
        srv = self.server
        db.atime[key] = srv.lru_clock
        if srv.lfu_on:
            self.lfu_written(db, key)
        if db.watched:
            srv.signal_modified_key(db, key)

    def delete(self, db, key):
        """Remove `key`; True if it existed (expired keys count as absent)."""
        if self.peek(db, key) is None:
            return False
        del db.data[key]
        db.deleted += 1
        if db.expires:
            db.expires.pop(key, None)
        db.drop_meta(key)
        if db.watched:
            self.server.signal_modified_key(db, key)
        return True

    def transfer(self, src, key, dst, newkey):
        """Move a live key with its TTL and access metadata to `newkey` in
        `dst`, which the caller has made free (RENAME, MOVE). Fires `new`
        for `newkey`: Redis adds it to `dst` with dbAdd."""
        if self.notify_new:
            self.server.notify(dst.id, b"n", b"new", newkey)
        value = src.data.pop(key)
        src.deleted += 1
        dst.data[newkey] = value
        if src.custom_keys:
            src.custom_keys.discard(key)
        dst.stored(newkey, value)
        if src.expires:
            when = src.expires.pop(key, None)
            if when is not None:
                dst.expires[newkey] = when
        t = src.atime.pop(key, None)
        dst.atime[newkey] = t if t is not None else self.server.lru_clock
        if src.freq and key in src.freq:
            dst.freq[newkey] = src.freq.pop(key)
        if src.enc and key in src.enc:
            dst.enc[newkey] = src.enc.pop(key)
        return value

    def install(self, dbs):
        """Take the contents of freshly loaded databases (RDB load, DEBUG
        RELOAD); WATCHers stay with the database numbers."""
        for live, loaded in zip(self.dbs, dbs, strict=True):
            live.swap_with(loaded)
        release_free_memory()

    def set_expire(self, db, key, when_ms):
        db.expires[key] = when_ms

    def persist(self, db, key):
        return db.expires.pop(key, None) is not None

    def ttl_ms(self, db, key):
        """-2 missing, -1 no TTL, else remaining milliseconds."""
        if self.peek(db, key) is None:
            return -2
        when = db.expires.get(key)
        if when is None:
            return -1
        return max(when - self.server.now_ms, 0)

    def random_key(self, db):
        """A random live key, or None; sampled like dictGetFairRandomKey."""
        for _ in range(100):
            if not db.data:
                return None
            key = random.choice(list(db.data)) if len(db.data) < 64 else _sample_key(db.data)
            if self.peek(db, key) is not None:
                return key
        return None

    # -- active expiry ---------------------------------------------------------------

    def active_expire_cycle(self, time_limit_us):
        """Sample keys with a TTL in each db and delete the expired ones, going
        on while more than ~10% of a sample was stale, within a time budget
        (ACTIVE_EXPIRE_CYCLE_SLOW in Redis)."""
        if not self.active_expire_enabled or self.server.is_replica or self.server.pause.kind:
            return
        effort = self.server.config["active-expire-effort"] - 1
        per_loop = 20 + 20 // 4 * effort
        acceptable_stale = 10 - effort
        start = time.perf_counter()
        deadline = start + time_limit_us / 1e6
        sampled_total = expired_total = 0
        now = self.server.now_ms
        for db in self.dbs:
            while db.expires:
                keys = _sample_keys(db, per_loop)
                expired = 0
                ttl_sum = ttl_n = 0
                for key in keys:
                    when = db.expires.get(key)
                    if when is None:
                        continue
                    if when <= now:
                        self.delete_expired(db, key)
                        expired += 1
                    else:
                        ttl_sum += when - now
                        ttl_n += 1
                sampled_total += len(keys)
                expired_total += expired
                if ttl_n:
                    avg = ttl_sum // ttl_n
                    db.avg_ttl = avg if not db.avg_ttl else (db.avg_ttl // 50) * 49 + avg // 50
                if time.perf_counter() > deadline:
                    self.expired_time_cap_reached_count += 1
                    break
                if not keys or expired * 100 // len(keys) <= acceptable_stale:
                    break
        if sampled_total:
            perc = expired_total / sampled_total
            self.expired_stale_perc = perc * 0.05 + self.expired_stale_perc * 0.95


def _sample_key(d):
    # Random access into a dict without materializing it: islice skips in C.
    # O(n) worst case, but only for RANDOMKEY on big dbs.
    return next(itertools.islice(d, random.randrange(len(d)), None), None)


def _sample_keys(db, count):
    """Up to `count` keys of db.expires, scanning from a rotating cursor so that
    successive cycles cover the whole dict."""
    exp = db.expires
    n = len(exp)
    if n <= count:
        return list(exp)
    start = db.expires_cursor % n
    # islice skips in C; a cursor that rotates covers the whole dict over cycles.
    out = list(itertools.islice(exp, start, start + count))
    if len(out) < count:
        out.extend(itertools.islice(exp, 0, count - len(out)))
    db.expires_cursor = start + count
    return out
