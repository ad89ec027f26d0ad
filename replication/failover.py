"""FAILOVER [TO host port [FORCE]] [ABORT] [TIMEOUT ms], as Redis 6.2+:
a coordinated handover from this primary to one of its replicas that loses
no acknowledged write.

1. `waiting-for-sync`: writes are paused (a CLIENT PAUSE WRITE of the
   failover's own, which CLIENT UNPAUSE does not end) and the replicas are
   asked for their offsets;
2. `failover-in-progress`: once the target (or, without TO, the first
   replica to do so) has acknowledged the whole stream, this server turns
   into its replica and sends `PSYNC <replid> <offset> FAILOVER`. The
   target, seeing its own primary's replication id, promotes itself
   (REPLICAOF NO ONE: our history becomes its replid2) and answers the
   PSYNC as any new primary does, with +CONTINUE;
3. done: the pause ends, and the writes it held meet -READONLY, as any
   write to a replica does. Clients move to the new primary.

TIMEOUT bounds step 1: past it the failover is aborted, or, with FORCE
(which needs TO and TIMEOUT), goes on to the target anyway. A target that
refuses the PSYNC, or cannot be reached in step 2 (Redis keeps retrying
there; we roll back rather than hold writes paused), aborts: this server
becomes a primary again with its data, and the pause ends.
"""

from engine import logsetup, resp
from engine.pause import PAUSE_WRITE

NO_FAILOVER, WAITING_FOR_SYNC, IN_PROGRESS = "no-failover", "waiting-for-sync", "failover-in-progress"
_FOREVER_MS = 1 << 62
_PURPOSE = "failover"


class Failover:
    def __init__(self, primary):
        self.primary = primary
        self.srv = primary.srv
        self.state = NO_FAILOVER
        self.target = None  # (host, port); None: the first replica to catch up
        self.end_ms = 0  # 0: no TIMEOUT
        self.force = False

    # -- the command ---------------------------------------------------------------------

    def command(self, c, argv):
        if len(argv) == 2 and argv[1].lower() == b"abort":
            if self.state == NO_FAILOVER:
                return resp.error(b"ERR No failover in progress.")
            self.abort("Failover manually aborted")
            return resp.OK
        timeout_ms, force, host, port = 0, False, None, 0
        i = 1
        while i < len(argv):
            opt = argv[i].lower()
            if opt == b"timeout" and i + 1 < len(argv) and not timeout_ms:
                timeout_ms = _int(argv[i + 1])
                if timeout_ms is None:
                    return resp.error(b"ERR value is not an integer or out of range")
                if timeout_ms <= 0:
                    return resp.error(b"ERR FAILOVER timeout must be greater than 0")
                i += 2
            elif opt == b"to" and i + 2 < len(argv) and host is None:
                port = _int(argv[i + 2])
                if port is None:
                    return resp.error(b"ERR value is not an integer or out of range")
                host = argv[i + 1].decode(errors="replace")
                i += 3
            elif opt == b"force" and not force:
                force = True
                i += 1
            else:
                return resp.error(b"ERR syntax error")
        primary = self.primary
        if self.state != NO_FAILOVER:
            return resp.error(b"ERR FAILOVER already in progress.")
        if primary.upstream is not None:
            return resp.error(b"ERR FAILOVER is not valid when server is a replica.")
        if not primary.replicas():
            return resp.error(b"ERR FAILOVER requires connected replicas.")
        if force and (not timeout_ms or host is None):
            return resp.error(b"ERR FAILOVER with force option requires both a timeout and target HOST and IP.")
        if host is not None:
            link = self._find(host, port)
            if link is None:
                return resp.error(b"ERR FAILOVER target HOST and PORT is not a replica.")
            if not primary.is_online(link):
                return resp.error(b"ERR FAILOVER target replica is not online.")
            self.target = (host, port)
            logsetup.notice("FAILOVER requested to %s:%d.", host, port)
        else:
            logsetup.notice("FAILOVER requested to any replica.")
        self.end_ms = self.srv.now_ms + timeout_ms if timeout_ms else 0
        self.force = force
        self.state = WAITING_FOR_SYNC
        self.srv.pause.pause(PAUSE_WRITE, _FOREVER_MS, purpose=_PURPOSE)
        primary.getack_wanted = True  # their offsets now, not at their next once-a-second ACK
        return resp.OK

    # -- step 1: waiting for a replica to catch up (cron, before_sleep, each ACK) ------------------

    def check(self):
        if self.state != WAITING_FOR_SYNC:
            return
        if self.end_ms and self.srv.now_ms >= self.end_ms:
            if self.force:
                logsetup.notice("FAILOVER to %s:%d time out exceeded, failing over.", *self.target)
                self._hand_over()
            else:
                self.abort("Replica never caught up before timeout")
            return
        primary = self.primary
        offset = primary.offset
        if self.target is not None:
            link = self._find(*self.target)
            synced = link is not None and link.ack_offset == offset
        else:
            link = next((x for x in primary.replicas() if primary.is_online(x) and x.ack_offset == offset), None)
            synced = link is not None
            if synced:
                self.target = (primary.link_host(link), link.port)
        if synced:
            logsetup.notice("Failover target %s:%d is synced, failing over.", *self.target)
            self._hand_over()

    def _hand_over(self):
        self.state = IN_PROGRESS
        self.primary.replicaof(*self.target)

    def _find(self, host, port):
        primary = self.primary
        return next((x for x in primary.replicas()
                     if primary.link_host(x).lower() == host.lower() and x.port == port), None)

    # -- step 2: the handshake with the target (replication/replica.py calls these) ------------

    def psync_flag(self):
        """What the PSYNC to the target carries after replid and offset."""
        return [b"FAILOVER"] if self.state == IN_PROGRESS else []

    def target_accepted(self):
        if self.state == IN_PROGRESS:
            logsetup.notice("FAILOVER to %s:%d completed.", *self.target)
            self._clear()

    def target_refused(self):
        """The target answered the PSYNC with an error: roll back. True if
        this was a failover's PSYNC (the link is closed by then)."""
        if self.state != IN_PROGRESS:
            return False
        self.abort("Failover target rejected psync request")
        return True

    def link_failed(self, why):
        """The link to the target failed before its PSYNC answer: roll back
        (after the caller, which still holds the link, has returned)."""
        if self.state == IN_PROGRESS:
            self.srv.loop.call_later(0.0, lambda: self.state == IN_PROGRESS and self.abort(
                "Failover target unreachable (%s)" % why))

    # -- the end ----------------------------------------------------------------------------------

    def abort(self, why):
        if self.state == NO_FAILOVER:
            return
        if self.target is not None:
            logsetup.notice("FAILOVER to %s:%d aborted: %s", self.target[0], self.target[1], why)
        else:
            logsetup.notice("FAILOVER to any replica aborted: %s", why)
        if self.state == IN_PROGRESS:
            self.primary.replicaof_no_one("failover aborted")
        self._clear()

    def _clear(self):
        self.state = NO_FAILOVER
        self.target = None
        self.end_ms = 0
        self.force = False
        self.srv.pause.unpause(purpose=_PURPOSE)


def accept_failover_psync(primary, c, replid):
    """The target's side of `PSYNC <replid> <offset> FAILOVER`: promote
    ourselves if the sender is our primary (same replication id); the
    error to answer otherwise."""
    if primary.upstream is None or replid.decode(errors="replace") != primary.replid:
        return resp.error(b"ERR PSYNC FAILOVER replid must match my replid.")
    primary.replicaof_no_one("failover request from '%s'" % c.info_line())
    return None


def _int(b):
    try:
        return int(b)
    except ValueError:
        return None
