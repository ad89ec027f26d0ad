"""CLIENT PAUSE / CLIENT UNPAUSE, as Redis 7.0 (what FAILOVER and Sentinel's
failovers rely on).

While a pause lasts, a command it covers is postponed: the client stops
there, with that command and everything it pipelined behind it kept in
`client.deferred`, and runs them in order once the pause ends (timeout
reached or CLIENT UNPAUSE), woken through the blocking module's resume
queue like any unblocked client. `ALL` covers every command; `WRITE`
covers commands that may write or replicate (write, may-replicate, and an
EXEC whose queue holds one, or a write being queued inside MULTI).
Replicas, the primary's link and the AOF loader are never paused. Keys
are not expired while paused, actively or on access (a key past its TTL
reads as missing but stays, so no DEL enters the write stream), as Redis
does so that a failover sees a still dataset. A second pause keeps the
stricter kind and the later end.
"""

from .client import FLAG_BLOCKED

PAUSE_WRITE, PAUSE_ALL = 1, 2
NEVER_PAUSED = ("replica", "master", "aof")


class ClientPause:
    """Pauses by purpose, as Redis 7 keeps them: CLIENT PAUSE's ("client")
    and FAILOVER's ("failover", replication/failover.py) start and end
    apart; what holds a command is the strictest one in force."""

    def __init__(self, server):
        self.srv = server
        self.kind = 0  # 0: not paused; else the strictest purpose's kind
        self.end_ms = 0  # unix ms: when the client pause (the one with a timeout) ends
        self.purposes = {}  # purpose -> (kind, end ms)
        self.postponed = []  # clients waiting for the end, in the order they stopped
        server.cron_hooks.append(self.check_end)
        server.before_sleep_hooks.insert(0, self.check_end)  # before the blocking module resumes anyone

    def pause(self, kind, end_ms, purpose="client"):
        old_kind, old_end = self.purposes.get(purpose, (0, 0))
        self.purposes[purpose] = (max(old_kind, kind), max(old_end, end_ms))
        self._update()

    def unpause(self, purpose="client"):
        self.purposes.pop(purpose, None)
        self._update()
        if self.kind:
            return  # another purpose still holds them
        postponed, self.postponed = self.postponed, []
        resume = self.srv.blocking.resume_later
        for c in postponed:
            c.flags.discard(FLAG_BLOCKED)
            if not c.closed:
                resume(c)

    def _update(self):
        self.kind = max((k for k, _ in self.purposes.values()), default=0)
        self.end_ms = max((e for _, e in self.purposes.values()), default=0)

    def check_end(self):
        if self.kind:
            now = self.srv.now_ms
            for purpose, (_kind, end) in list(self.purposes.items()):
                if now >= end:
                    self.unpause(purpose)

    def holds(self, c, cmd):
        """True when `cmd` from `c` must wait for the pause to end."""
        if c.kind in NEVER_PAUSED:
            return False
        if self.kind == PAUSE_ALL:
            return True
        if cmd.may_replicate:
            return True
        if cmd.name == b"exec" and c.multi_queue:
            return any(q.may_replicate for q, _argv in c.multi_queue)
        return False

    def postpone(self, c, argv):
        """Stop `c` at `argv`; run_batch keeps what it pipelined behind it."""
        c.deferred = [argv]
        c.flags.add(FLAG_BLOCKED)  # CLIENT LIST shows it blocked, as Redis's postponed clients
        self.postponed.append(c)
