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


class Database:
    __slots__ = ("id", "data", "expires", "avg_ttl", "expires_cursor", "watched")

    def __init__(self, dbid):
        self.id = dbid
        self.data = {}
        self.expires = {}
        self.avg_ttl = 0
        self.expires_cursor = 0
        self.watched = {}  # key -> set of clients WATCHing it (transactions)

    def __len__(self):
        return len(self.data)

    def clear(self):
        n = len(self.data)
        self.data = {}
        self.expires = {}
        self.avg_ttl = 0
        return n


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

    # -- lookups ------------------------------------------------------------------

    def lookup(self, db, key):
        """The live value of `key` in `db`, or None; deletes it if it expired."""
        v = db.data.get(key)
        if v is not None and db.expires:
            when = db.expires.get(key)
            if when is not None and when <= self.server.now_ms and self.expire_if_needed(db, key):
                return None
        return v

    def exists(self, db, key):
        return self.lookup(db, key) is not None

    def expire_if_needed(self, db, key):
        """Delete `key` if its TTL has passed (propagating DEL). Returns True if
        the key is logically expired. A replica never deletes on its own: its
        primary sends the DEL; it only reports the key as missing."""
        when = db.expires.get(key)
        if when is None or when > self.server.now_ms:
            return False
        if self.server.is_replica:
            return True
        self.delete_expired(db, key)
        return True

    def delete_expired(self, db, key):
        del db.data[key]
        del db.expires[key]
        self.expired_keys += 1
        srv = self.server
        srv.propagate(db.id, [b"DEL", key])
        srv.notify(db.id, b"x", b"expired", key)
        srv.signal_modified_key(db, key)

    # -- mutations ------------------------------------------------------------------

    def set(self, db, key, value, keep_ttl=False):
        """Store `value` (overwrites any type); drops the TTL unless keep_ttl."""
        db.data[key] = value
        if not keep_ttl and db.expires:
            db.expires.pop(key, None)
        if db.watched:
            self.server.signal_modified_key(db, key)

    def delete(self, db, key):
        """Remove `key`; True if it existed (expired keys count as absent)."""
        if self.lookup(db, key) is None:
            return False
        del db.data[key]
        if db.expires:
            db.expires.pop(key, None)
        if db.watched:
            self.server.signal_modified_key(db, key)
        return True

    def set_expire(self, db, key, when_ms):
        db.expires[key] = when_ms

    def persist(self, db, key):
        return db.expires.pop(key, None) is not None

    def ttl_ms(self, db, key):
        """-2 missing, -1 no TTL, else remaining milliseconds."""
        if self.lookup(db, key) is None:
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
            if self.lookup(db, key) is not None:
                return key
        return None

    # -- active expiry ---------------------------------------------------------------

    def active_expire_cycle(self, time_limit_us):
        """Sample keys with a TTL in each db and delete the expired ones, going
        on while more than ~10% of a sample was stale, within a time budget
        (ACTIVE_EXPIRE_CYCLE_SLOW in Redis)."""
        if not self.active_expire_enabled or self.server.is_replica:
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
    # Random access into a dict without materializing it: iterate from a random
    # start. O(n) worst case, but only for RANDOMKEY on big dbs.
    n = random.randrange(len(d))
    for i, k in enumerate(d):
        if i == n:
            return k
    return None


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
