"""Clients blocked on keys (BLPOP, BLMOVE, BZPOPMIN, ...).

A blocked client waits in a FIFO queue per (db, key) it named. A write that
adds data to a key calls `signal_key_as_ready`; right after the command that
did it, `handle_ready` serves waiters in arrival order, each through the
`serve` function its command registered (which pops and propagates the
deterministic equivalent, e.g. LPOP for BLPOP). Requests a blocked client
pipelined behind the blocking command wait in `client.deferred` and run once
it is served, timed out, or unblocked with CLIENT UNBLOCK.
"""

import collections
import heapq
import itertools


class BlockState:
    __slots__ = ("db", "keys", "deadline_ms", "serve", "timeout_reply", "seq")

    def __init__(self, db, keys, deadline_ms, serve, timeout_reply, seq):
        self.db = db
        self.keys = keys
        self.deadline_ms = deadline_ms  # 0: wait forever
        self.serve = serve  # fn(client, db, key) -> reply bytes, or None if not servable now
        self.timeout_reply = timeout_reply
        self.seq = seq


class Blocking:
    def __init__(self, server):
        self.server = server
        self.waiting = {}  # (dbid, key) -> deque of clients, arrival order
        self.ready = []  # (db, key) signalled since the last handle_ready; the server polls it
        self._ready_set = set()
        self._timeouts = []  # heap of (deadline_ms, seq, client)
        self._seq = itertools.count()
        self.blocked_clients = 0
        server.signal_key_as_ready = self.signal_key_as_ready
        server.ready_keys = self.ready
        server.client_free_hooks.append(self._forget)

    def block(self, c, db, keys, deadline_ms, serve, timeout_reply):
        """Park `c` until one of `keys` can serve it or `deadline_ms` passes."""
        st = BlockState(db, list(dict.fromkeys(keys)), deadline_ms, serve, timeout_reply, next(self._seq))
        c.blocked = st
        if c.deferred is None:
            c.deferred = []
        for k in st.keys:
            self.waiting.setdefault((db.id, k), collections.deque()).append(c)
        if deadline_ms:
            heapq.heappush(self._timeouts, (deadline_ms, st.seq, c))
        self.blocked_clients += 1

    def signal_key_as_ready(self, db, key):
        wk = (db.id, key)
        if wk in self.waiting and wk not in self._ready_set:
            self._ready_set.add(wk)
            self.ready.append((db, key))

    def handle_ready(self):
        """Serve waiters of every key signalled ready, FIFO per key."""
        while self.ready:
            batch = list(self.ready)
            self.ready.clear()
            self._ready_set.clear()
            for db, key in batch:
                q = self.waiting.get((db.id, key))
                while q:
                    c = q[0]
                    reply = c.blocked.serve(c, db, key)
                    if reply is None:
                        break  # nothing left for the next waiter either
                    self.unblock(c, reply)

    def unblock(self, c, reply):
        """Wake `c` with `reply` and run what it pipelined meanwhile."""
        st = c.blocked
        if st is None:
            return
        self._detach(c, st)
        c.write(reply)
        self.server.resume_deferred(c)

    def _detach(self, c, st):
        for k in st.keys:
            wk = (st.db.id, k)
            q = self.waiting.get(wk)
            if q is not None:
                try:
                    q.remove(c)
                except ValueError:
                    pass
                if not q:
                    del self.waiting[wk]
        c.blocked = None
        self.blocked_clients -= 1

    def check_timeouts(self, now_ms):
        heap = self._timeouts
        while heap and heap[0][0] <= now_ms:
            _, seq, c = heapq.heappop(heap)
            st = c.blocked
            if st is not None and st.seq == seq and not c.closed:
                self.unblock(c, st.timeout_reply(c))

    def ms_to_next_timeout(self, now_ms):
        heap = self._timeouts
        while heap and (heap[0][2].blocked is None or heap[0][2].blocked.seq != heap[0][1]):
            heapq.heappop(heap)  # lazily drop entries of clients already unblocked
        return None if not heap else max(0, heap[0][0] - now_ms)

    def _forget(self, c):
        if c.blocked is not None:
            self._detach(c, c.blocked)
