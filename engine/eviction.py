"""maxmemory: refusing or evicting before a command that may grow memory,
as Redis 7.0's performEvictions (evict.c).

Memory is engine/memory_estimate.py's estimate (the dataset, client
buffers and the replication backlog), never RSS. While `maxmemory` is 0
nothing here runs: the hot path's table is the full one. While it is set
and memory comes within HEADROOM of it, Server.fast_commands is swapped
for a table without the denyoom commands, so those reach
Admission._refusal, which calls `refusal()` in Redis's place for it (after
NOAUTH and arity, before MISCONF). Farther from the limit the full table
stays (checking each write halves pipelined SET throughput: 421k -> 193k
req/s at -P 16): no loop iteration can write HEADROOM between two looks.

Policies pick victims as Redis does: the *-lru/*-lfu/volatile-ttl ones
sample `maxmemory-samples` keys per database and victim, and evict the
best scored of those and of a pool of the 16 best candidates kept across
calls (evictionPoolPopulate; pooled candidates are re-scored, as a key
touched since must be), the *-random ones take a random key of each
database in turn. Victims are chosen BATCH at a time and memory is taken
down to SLACK below the limit, not just under it: one key a write (what
Redis does) cost ~8 us a SET here in sampling and scoring, most of it
per call, not per key. A victim is deleted through the keyspace,
propagated as DEL (UNLINK with lazyfree-lazy-eviction), announced with the
`evicted` keyspace event and counted in INFO's evicted_keys. A loop that
runs past maxmemory-eviction-tenacity's time limit goes on from the cron
and before the loop sleeps (Redis's evictionTimeProc), and the command
runs meanwhile.
"""

import time
from itertools import repeat
from operator import itemgetter

from . import info, logsetup
from .memory_estimate import MemoryEstimate

OOM = b"OOM command not allowed when used memory > 'maxmemory'."
EVPOOL_SIZE = 16
EVICT_OK, EVICT_RUNNING, EVICT_FAIL = 0, 1, 2
# Inside MULTI every command may be refused for memory but these (processCommand).
_MULTI_OOM_EXEMPT = frozenset((b"exec", b"discard", b"quit", b"reset"))
_FRESH_S = 0.001  # an estimate older than this is refreshed before a refusal
_CRON_SHARE = 0.25  # of a cron period, for an eviction that ran out of time
# Below maxmemory minus this, denyoom commands keep the hot path: an eighth
# of the limit, at least 4 MiB (far more than one loop iteration's reads,
# 64 KiB per client, can add in the PICK_EVERY_S between two looks).
HEADROOM_MIN = 4 << 20
PICK_EVERY_S = 0.001
BATCH = 16  # victims chosen by one sampling pass
_by_score = itemgetter(0)
SLACK_MAX = 1 << 20  # an eviction goes down to limit - min(limit/128, this)


def time_limit_s(tenacity):
    """evictionTimeLimitUs, in seconds (None: no limit)."""
    if tenacity <= 10:
        return 50e-6 * tenacity
    if tenacity < 100:
        return 500e-6 * 1.15 ** (tenacity - 10)
    return None


class Eviction:
    def __init__(self, server):
        self.srv = server
        self.estimate = MemoryEstimate(server)
        self.pool = []  # [(score, db id, key)], best first: the next best candidates after a batch
        self.next_db = 0  # the *-random policies visit databases in turn
        self.running = False  # a loop ran out of time: the cron and before_sleep go on
        self.full_fast = server.fast_commands
        self.checked_fast = {n: e for n, e in self.full_fast.items() if "denyoom" not in e[0].flags}
        self.headroom = 0
        self.picked_at = 0.0
        self.limit = 0
        cfg = server.config
        cfg.on_change("maxmemory", self._configure)
        cfg.on_change("maxmemory-policy", self._policy_changed)
        server.cron_hooks.append(self.cron)
        server.info_providers.setdefault("memory", []).append(self.info_memory)
        server.info_providers.setdefault("stats", []).append(self.info_stats)
        self._policy_changed(None, cfg["maxmemory-policy"])
        self._configure()

    def _configure(self, _old=None, _new=None):
        srv = self.srv
        self.limit = srv.config["maxmemory"]
        self.headroom = max(self.limit // 8, HEADROOM_MIN)
        self.slack = min(self.limit >> 7, SLACK_MAX)
        self.estimate.sampler.set_keep(bool(self.limit))
        hooks = srv.before_sleep_hooks
        if self.limit:
            if self.pick_table not in hooks:
                hooks.append(self.pick_table)
            self.picked_at = 0.0
            self.pick_table()
            if _old is not None and self.estimate.counted(0.0) > self.limit:
                logsetup.warning("WARNING: the new maxmemory value set via CONFIG SET (%d) is smaller than the "
                                 "current memory usage (%d). This will result in key eviction and/or the inability "
                                 "to accept new write commands depending on the maxmemory-policy.",
                                 self.limit, self.estimate.counted(0.0))
                self._set_running(True)  # startEvictionTimeProc
        else:
            if self.pick_table in hooks:
                hooks.remove(self.pick_table)
            srv.fast_commands = self.full_fast
            self._set_running(False)

    def pick_table(self):
        """before_sleep while maxmemory is set: the hot path's table for the
        next iteration, full while memory is HEADROOM or more below the limit."""
        now = time.monotonic()
        if now - self.picked_at < PICK_EVERY_S:
            return
        self.picked_at = now
        near = self.estimate.counted() + self.headroom >= self.limit
        self.srv.fast_commands = self.checked_fast if near else self.full_fast

    def _policy_changed(self, _old, new):
        self.pool = []
        self.policy = new
        self.volatile = new.startswith("volatile-")
        self.kind = new.rpartition("-")[2]  # lru | lfu | random | ttl | noeviction

    # -- processCommand's step -------------------------------------------------------

    def refusal(self, c, cmd):
        """The OOM error for `cmd`, or None. Called only while maxmemory is
        set; clients of our primary and the AOF are never refused."""
        if c.multi_queue is not None and cmd.name not in _MULTI_OOM_EXEMPT:
            pass  # queueing may grow memory without bound: refused like a write
        elif cmd.name == b"exec":
            if c.multi_queue is None or not any("denyoom" in q.flags for q, _ in c.multi_queue):
                return None
        elif "denyoom" not in cmd.flags:
            return None
        return OOM if self.perform() == EVICT_FAIL else None

    def perform(self, limit_s=-1.0):
        """performEvictions: EVICT_OK when memory is (now) under the limit,
        EVICT_RUNNING when time ran out first, EVICT_FAIL when nothing (more)
        may be evicted."""
        srv = self.srv
        if (not self.limit or srv.loading or srv.pause.kind
                or (srv.is_replica and srv.config["replica-ignore-maxmemory"])):
            return EVICT_OK  # isSafeToPerformEvictions: as if under the limit
        if self.estimate.counted() <= self.limit:
            result = EVICT_OK
        elif self.kind == "noeviction":
            result = EVICT_FAIL
        else:
            if limit_s is not None and limit_s < 0:
                limit_s = time_limit_s(srv.config["maxmemory-eviction-tenacity"])
            result = self._evict(limit_s)
        if result == EVICT_FAIL and self.estimate.age() > _FRESH_S:
            # Never refuse on a stale estimate (a big key deleted since).
            self.estimate.refresh()
            if self.estimate.counted() <= self.limit:
                result = EVICT_OK
        self._set_running(result == EVICT_RUNNING)
        st = srv.stats
        if result == EVICT_OK:
            if st.eviction_exceeded_since:
                st.total_eviction_exceeded_us += (time.monotonic() - st.eviction_exceeded_since) * 1e6
                st.eviction_exceeded_since = 0.0
        elif not st.eviction_exceeded_since:
            st.eviction_exceeded_since = time.monotonic()
        return result

    def _evict(self, limit_s):
        """Evict until memory is SLACK under the limit (it is over it now)."""
        t0 = time.perf_counter()
        floor = self.limit - self.slack
        while self._used() > floor:
            victims = self._victims(BATCH)
            if not victims:
                if self._used() <= self.limit:
                    return EVICT_OK  # under the limit, if not the floor: nothing more to take
                return EVICT_FAIL
            for db, key in victims:
                self._evict_key(db, key)
            if limit_s is not None and time.perf_counter() - t0 > limit_s:
                return EVICT_RUNNING
        return EVICT_OK

    def _used(self):
        """What eviction must bring under the limit (not the replicas' buffers)."""
        est = self.estimate
        return est.dataset() + est.clients_normal + est.backlog

    def _evict_key(self, db, key):
        srv = self.srv
        ks = srv.keyspace
        v = db.data.get(key)
        if v is None:
            return
        size = self.estimate.entry_size(db, key, v)
        self.estimate.removed(db, key, size)
        when = db.expires.get(key) if db.expires else None
        if when is not None and when <= srv.now_ms and not srv.is_replica:
            ks.delete_expired(db, key)  # already dead: an expiry, not an eviction
            return
        ks.delete(db, key)
        srv.stats.evicted_keys += 1
        lazy = srv.config["lazyfree-lazy-eviction"]
        srv.notify(db.id, b"e", b"evicted", key)
        srv.propagate(db.id, [b"UNLINK" if lazy else b"DEL", key])

    # -- choosing a victim -------------------------------------------------------------

    def _victims(self, n):
        """Up to `n` (db, key) to evict, the best first; [] when the policy
        finds nothing."""
        dbs = self.srv.keyspace.dbs
        which = "expires" if self.volatile else "data"
        if self.kind == "random":
            out = []
            for _ in range(n):
                victim = self._random_key(dbs, which)
                if victim is None:
                    break
                out.append(victim)
            return out
        samples = self.srv.config["maxmemory-samples"] * n
        candidates = {}  # db id -> {key: None}: the pool's and fresh samples, once each
        for _score, dbid, key in self.pool:
            candidates.setdefault(dbid, {})[key] = None
        for db in dbs:
            if getattr(db, which):
                keys = candidates.setdefault(db.id, {})
                for key in self.estimate.sampler.sample(db, which, samples):
                    keys[key] = None
        scored = []
        for dbid, keys in candidates.items():
            db = dbs[dbid]
            present = getattr(db, which)
            keys = [k for k in keys if k in present]  # a pooled key may be gone
            scored += zip(self._scores(db, keys), repeat(dbid), keys)
        scored.sort(key=_by_score, reverse=True)
        self.pool = scored[n:n + EVPOOL_SIZE]
        return [(dbs[dbid], key) for _score, dbid, key in scored[:n]]

    def _random_key(self, dbs, which):
        for _ in range(len(dbs)):
            self.next_db = (self.next_db + 1) % len(dbs)
            db = dbs[self.next_db]
            if getattr(db, which):
                keys = self.estimate.sampler.sample(db, which, 1)
                if keys:
                    return db, keys[0]
        return None

    def _scores(self, db, keys):
        """Higher is evicted first: idle seconds (LRU), 255 - the LFU
        counter, how soon the TTL ends (volatile-ttl)."""
        srv = self.srv
        kind = self.kind
        if kind == "lru":
            lru, never = srv.lru_clock, int(srv.start_time)
            atime = db.atime.get
            return [lru - atime(k, never) for k in keys]
        if kind == "lfu":
            counter = srv.keyspace.lfu_counter
            return [255 - counter(db, k) for k in keys]
        expires = db.expires.get
        return [-expires(k, 1 << 62) for k in keys]

    # -- going on after a loop ran out of time ---------------------------------------------

    def _set_running(self, on):
        if on == self.running:
            return
        self.running = on
        hooks = self.srv.before_sleep_hooks
        if on:
            hooks.append(self._step)
        elif self._step in hooks:
            hooks.remove(self._step)

    def _step(self):
        self.perform()

    def cron(self):
        if not self.limit:
            return
        if self.running:
            self.perform(_CRON_SHARE / self.srv.config["hz"])
        elif self.srv.stats.eviction_exceeded_since:
            self.perform()  # ends the exceeded time once memory is back under the limit

    # -- INFO ----------------------------------------------------------------------------

    def info_memory(self, srv):
        est = self.estimate
        est.refresh_if_stale()
        dataset = est.dataset()
        used = info.memory_usage()[1]
        net = max(used - info._STARTUP_USED, 1)
        return [
            ("used_memory_dataset", dataset),
            ("used_memory_dataset_perc", "%.2f%%" % min(100.0 * dataset / net, 100.0)),
            ("mem_not_counted_for_evict", est.not_counted()),
            ("mem_replication_backlog", est.backlog),
            ("mem_clients_slaves", est.clients_replicas),
            ("mem_clients_normal", est.clients_normal),
            ("mem_aof_buffer", est.aof_buffer),
        ]

    def info_stats(self, srv):
        st = srv.stats
        current = (time.monotonic() - st.eviction_exceeded_since) * 1e6 if st.eviction_exceeded_since else 0
        return [
            ("evicted_keys", st.evicted_keys),
            ("total_eviction_exceeded_time", int((st.total_eviction_exceeded_us + current) // 1000)),
            ("current_eviction_exceeded_time", int(current // 1000)),
        ]
