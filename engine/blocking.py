"""Clients blocked on keys (BLPOP, BLMOVE, BZPOPMIN, ...).

A blocked client waits in a FIFO queue per (db, key) it named. A write that
adds data to a key calls `signal_key_as_ready`; right after the command that
did it, `handle_ready` serves waiters in arrival order, each through the
`serve` function its command registered (which pops and propagates the
deterministic equivalent, e.g. LPOP for BLPOP). A waiter whose `serve`
answers None (the key holds data of another kind: a list waiter on a key
that became a sorted set) is skipped and keeps waiting, as in Redis.

Requests a blocked client pipelined behind the blocking command wait in
`client.deferred`. Once the client is served, timed out, or unblocked with
CLIENT UNBLOCK, its reply is queued at once but those requests run later,
from a before-sleep hook (Redis's processUnblockedClients): never nested
inside the command that woke it, so the waker's own pipeline, the ready-key
loop and the hot path are never re-entered.

The event loop asks `ms_to_next_timeout` how long it may sleep, so a
timeout fires within a few milliseconds of its deadline.
"""

import collections
import heapq
import itertools

from . import logsetup


class BlockState:
    __slots__ = ("db", "keys", "deadline_ms", "serve", "timeout_reply", "seq")

    def __init__(self, db, keys, deadline_ms, serve, timeout_reply, seq):
        self.db = db
        self.keys = keys
        self.deadline_ms = deadline_ms  # 0: wait forever
        self.serve = serve  # fn(client, db, key) -> reply bytes, or None if not servable now
        self.timeout_reply = timeout_reply  # fn(client) -> reply bytes (timeout, CLIENT UNBLOCK)
        self.seq = seq


class Blocking:
    def __init__(self, server):
        self.server = server
        self.waiting = {}  # (dbid, key) -> deque of clients, arrival order
        self.ready = []  # (db, key) signalled since the last handle_ready; the server polls it
        self._ready_set = set()
        self._timeouts = []  # heap of (deadline_ms, seq, client); stale entries dropped lazily
        self._stale = 0  # heap entries of clients no longer blocked with that seq
        self._seq = itertools.count()
        self._serving = False  # handle_ready is running (it is not re-entered)
        self._unblocked = []  # clients woken whose deferred requests have not run yet
        self.blocked_clients = 0
        server.signal_key_as_ready = self.signal_key_as_ready
        server.ready_keys = self.ready
        server.client_free_hooks.append(self._forget)
        # First among the before-sleep hooks: the commands resumed here may
        # write, and the AOF flush (a later hook) must see those writes
        # before their replies leave.
        server.before_sleep_hooks.insert(0, self.resume_unblocked)

    def block(self, c, db, keys, deadline_ms, serve, timeout_reply):
        """Park `c` until one of `keys` can serve it or `deadline_ms` passes."""
        st = BlockState(db, list(dict.fromkeys(keys)), deadline_ms, serve, timeout_reply, next(self._seq))
        c.blocked = st
        if c.deferred is None:
            c.deferred = []
        dbid = db.id
        waiting = self.waiting
        for k in st.keys:
            q = waiting.get((dbid, k))
            if q is None:
                q = waiting[(dbid, k)] = collections.deque()
            q.append(c)
        if deadline_ms:
            heapq.heappush(self._timeouts, (deadline_ms, st.seq, c))
        self.blocked_clients += 1

    def signal_key_as_ready(self, db, key):
        wk = (db.id, key)
        if wk in self.waiting and wk not in self._ready_set:
            self._ready_set.add(wk)
            self.ready.append((db, key))

    def handle_ready(self):
        """Serve waiters of every key signalled ready, FIFO per key. Keys a
        served waiter fills in turn (BLMOVE's destination) are served in
        the same call."""
        if self._serving:
            return  # the running loop picks up what was signalled meanwhile
        self._serving = True
        try:
            while self.ready:
                batch = list(self.ready)
                self.ready.clear()
                self._ready_set.clear()
                for db, key in batch:
                    q = self.waiting.get((db.id, key))
                    if not q:
                        continue
                    data = db.data
                    i = 0  # waiters before i were skipped (data of another type for them)
                    while i < len(q):
                        c = q[i]
                        st = c.blocked
                        try:
                            reply = None if st is None or c.closed else st.serve(c, db, key)
                        except Exception:  # a bug serving one waiter: it gets the error, the rest go on
                            logsetup.log_exception("Internal error serving blocked client id=%d" % c.id)
                            reply = b"-ERR internal error serving the blocked command (see the server log)\r\n"
                        if reply is not None:
                            self.unblock(c, reply)  # removes c (at i) from q
                        else:
                            i += 1
                        if key not in data:
                            break  # emptied (and deleted): nothing for the others
        finally:
            self._serving = False

    def unblock(self, c, reply):
        """Wake `c` with `reply`; what it pipelined meanwhile runs from the
        before-sleep hook (resume_unblocked)."""
        st = c.blocked
        if st is None:
            return
        self._detach(c, st)
        if reply[:1] == b"-":
            # Woken with an error (CLIENT UNBLOCK ... ERROR, a BLMOVE whose
            # destination changed type): Redis counts it in errorstats and
            # as a failed call of the blocking command.
            srv = self.server
            srv.stats.count_error(reply)
            cmd = srv.commands.get(c.last_cmd)
            if cmd is not None:
                cmd.failed_calls += 1
        c.write(reply)
        self._unblocked.append(c)

    def resume_later(self, c):
        """Run what `c` pipelined from the next before-sleep (a client
        released by something other than its keys: CLIENT UNPAUSE)."""
        self._unblocked.append(c)

    def resume_unblocked(self):
        """Run the requests woken clients pipelined while blocked, in the
        order they were woken; serve keys those requests fill, and repeat."""
        srv = self.server
        if self._serving:
            return  # never from inside handle_ready (it would not drain `ready`)
        while self._unblocked or self.ready:
            woken = self._unblocked
            self._unblocked = []
            for c in woken:
                if c.closed or c.blocked is not None:
                    continue
                srv.resume_deferred(c)
            if self.ready:
                self.handle_ready()

    def _detach(self, c, st):
        dbid = st.db.id
        waiting = self.waiting
        for k in st.keys:
            wk = (dbid, k)
            q = waiting.get(wk)
            if q is not None:
                try:
                    q.remove(c)
                except ValueError:
                    pass
                if not q:
                    del waiting[wk]
        c.blocked = None
        self.blocked_clients -= 1
        if st.deadline_ms:
            self._stale += 1
            heap = self._timeouts
            if self._stale > 1024 and self._stale > len(heap) // 2:
                # Served long before their deadlines: rebuild without them,
                # so queue consumers with long timeouts do not grow the heap.
                self._timeouts = [e for e in heap if e[2].blocked is not None and e[2].blocked.seq == e[1]]
                heapq.heapify(self._timeouts)
                self._stale = 0

    def check_timeouts(self, now_ms):
        heap = self._timeouts
        while heap and heap[0][0] < now_ms:  # strictly past, as Redis: never early
            _, seq, c = heapq.heappop(heap)
            # The entry has left the heap: if stale, it is counted no more;
            # if live, unblock() below counts it stale, which it is not.
            self._stale -= 1
            st = c.blocked
            if st is not None and st.seq == seq and not c.closed:
                self.unblock(c, st.timeout_reply(c))
                heap = self._timeouts  # unblock may have rebuilt it

    def ms_to_next_timeout(self, now_ms):
        heap = self._timeouts
        while heap and (heap[0][2].blocked is None or heap[0][2].blocked.seq != heap[0][1]):
            heapq.heappop(heap)  # lazily drop entries of clients already unblocked
            self._stale -= 1
        return None if not heap else max(0, heap[0][0] - now_ms + 1)

    def clients_in_timeout_table(self):
        """Blocked clients with a deadline (INFO clients_in_timeout_table)."""
        return len(self._timeouts) - self._stale

    def _forget(self, c):
        if c.blocked is not None:
            self._detach(c, c.blocked)
