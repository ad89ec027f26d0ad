"""The primary side of replication: the write stream to replicas.

A replica connects as a client and says, as Redis's replicas do:

    PING, [AUTH], REPLCONF listening-port <port>, REPLCONF capa eof capa psync2,
    PSYNC <replid> <offset>         (PSYNC ? -1 the first time; SYNC of old)

and is answered

    +CONTINUE <replid>              the backlog holds everything from <offset>:
                                    those bytes follow, then the live stream;
    +FULLRESYNC <replid> <offset>   else: a BGSAVE is forked (or the replica
                                    waits for the running child to end), the
                                    RDB file follows as `$<len>\\r\\n<bytes>`,
                                    then the stream from the fork's offset.

From then on the replica is a propagation target's destination: every
byte of the write stream goes to the backlog (replication/backlog.py) and
to each online replica; a replica still waiting for its snapshot collects
the stream meanwhile. Replicas acknowledge with REPLCONF ACK <offset> every
second; the primary sends PING into the stream every
repl-ping-replica-period seconds and drops a replica silent for repl-timeout.

As in Redis, the backlog exists from the first replica on, and
master_repl_offset only moves while it does.
"""

import os
import time

from engine import logsetup, resp
from engine.client import FLAG_REPLICA
from engine.info import replid as server_replid

from .backlog import Backlog
from .failover import NO_FAILOVER, Failover, accept_failover_psync
from .role_switch import RoleSwitch

WAIT_BGSAVE_START, WAIT_BGSAVE_END, ONLINE = "wait_bgsave", "wait_bgsave_end", "online"
WAIT_FIRST_ACK = "wait_first_ack"  # a diskless snapshot is out: the stream starts on the replica's first ACK
PING = resp.encode_command([b"PING"])
GETACK = resp.encode_command([b"REPLCONF", b"GETACK", b"*"])
NOREPLICAS = b"NOREPLICAS Not enough good replicas to write."


def primary_of(server):
    p = getattr(server, "replication", None)
    if p is None:
        p = server.replication = Primary(server)
    return p


class ReplicaLink:
    """What the primary knows of one replica connection."""

    __slots__ = ("client", "state", "port", "ip", "capa", "ack_offset", "ack_time", "pending", "fullsync",
                 "snapshot_sent_at", "soft_since")

    def __init__(self, client):
        self.client = client
        self.state = None  # set by PSYNC/SYNC
        self.port = 0  # REPLCONF listening-port
        self.ip = ""  # REPLCONF ip-address, else the connection's address
        self.capa = set()
        self.ack_offset = 0
        self.ack_time = time.time()
        self.pending = []  # the stream while the snapshot is made
        self.fullsync = False  # PSYNC (True) or old SYNC (False) asked for a full sync
        self.snapshot_sent_at = 0  # client.tot_net_out once the snapshot has left: not part of the limit
        self.soft_since = 0.0  # over the soft output limit since then (0: under it)


class Primary(RoleSwitch):
    """The replication state of a server that is (or may become) a primary."""

    replication = True  # a propagation target that also takes PUBLISH

    def __init__(self, server):
        self.srv = server
        self.config = server.config
        self.replid2 = "0" * 40
        self.second_offset = -1
        self.backlog = None
        self.offset = 0  # master_repl_offset
        self.db = -1  # the stream's SELECTed db (propagation target protocol)
        self.links = {}  # client id -> ReplicaLink, from the first REPLCONF on
        self.upstream = None  # replication/replica.py's ReplicaOf while this server is a replica
        self.waiters = []  # (client, offset, numreplicas) of clients blocked in WAIT
        self.transfer = None  # the running diskless transfer (diskless.py)
        self.disk_sync_offset = None  # the fork offset of a running BGSAVE for replication on disk
        self.getack_wanted = False
        self.good_replicas = 0  # online, lag <= min-replicas-max-lag (min-replicas-to-write)
        self.cached = False  # whether PSYNC may ask to continue our history (else `PSYNC ? -1`)
        self.last_ping = self.last_keepalive = time.monotonic()
        self.no_replicas_since = time.monotonic()
        self.sync_full = self.sync_partial_ok = self.sync_partial_err = 0
        self.failover = Failover(self)  # FAILOVER's state machine (failover.py)
        server.client_free_hooks.append(self._client_gone)
        server.cron_hooks.append(self.cron)
        server.role_reply = self.role_reply
        server.info_providers.setdefault("stats", []).append(self.info_stats)
        server.before_sleep_hooks.append(self.before_sleep)
        for name in ("min-replicas-to-write", "min-replicas-max-lag"):
            server.config.on_change(name, lambda _o, _n: self.refresh_good_replicas())
        server.config.on_change("repl-backlog-size", self._backlog_size_changed)
        server.config.on_change("replica-serve-stale-data",
                                lambda _old, _new: self.upstream is not None and self.upstream.update_stale())
        server.config.on_change("replica-read-only",
                                lambda _old, new: setattr(server, "replica_read_only", new and server.is_replica))

    @property
    def replid(self):
        return server_replid(self.srv)

    def replicas(self):
        return [link for link in self.links.values() if link.state is not None]

    # -- the write stream ------------------------------------------------------------

    def feed(self, data):
        """propagate()'s bytes. A replica passes on its primary's stream as
        it came (feed_from_primary) and nothing of its own: as in Redis, a
        PUBLISH its clients send (Sentinel's hellos) or a write on a
        writable replica must not move its offset away from its primary's,
        or no partial resync would match after a failover."""
        if self.srv.is_replica:
            return
        self._feed(data)
        c = self.srv.current_client
        if c is not None:
            c.woff = self.offset  # WAIT from this client waits for this much of the stream

    def feed_from_primary(self, raw):
        """A command of our primary's stream, as it came: to our backlog and
        replicas unchanged, so the offsets stay the primary's."""
        self._feed(raw)

    def _feed(self, data):
        self.backlog.add(data)
        self.offset = self.backlog.offset
        for link in self.links.values():
            if link.state == ONLINE:
                link.client.write(data)
            elif link.state == WAIT_BGSAVE_END or link.state == WAIT_FIRST_ACK:
                link.pending.append(data)

    def _create_backlog(self):
        if self.backlog is None:
            self.backlog = Backlog(self.config["repl-backlog-size"], self.offset)
        if self not in self.srv.propagation_targets:
            self.srv.add_propagation_target(self)  # db = -1: the stream starts with a SELECT

    def _backlog_size_changed(self, _old, new):
        if self.backlog is not None and new != self.backlog.size:
            self.backlog.resize(new)

    # -- commands --------------------------------------------------------------------

    def link_of(self, c):
        link = self.links.get(c.id)
        if link is None:
            link = self.links[c.id] = ReplicaLink(c)
        return link

    def replconf(self, c, argv):
        """REPLCONF <option> <value> ... : the reply bytes, or None (ACK has none)."""
        if len(argv) % 2 == 0:
            return resp.error(b"ERR syntax error")
        link = self.link_of(c)
        for i in range(1, len(argv), 2):
            opt, val = argv[i].lower(), argv[i + 1]
            if opt == b"listening-port":
                try:
                    link.port = int(val)
                except ValueError:
                    return resp.error(b"ERR value is not an integer or out of range")
            elif opt == b"ip-address":
                link.ip = val.decode(errors="replace")
            elif opt == b"capa":
                link.capa.add(val.lower().decode(errors="replace"))
            elif opt == b"ack":
                if link.state is None:
                    return None
                if link.state == WAIT_FIRST_ACK:
                    self.go_online(link)
                try:
                    offset = int(val)
                except ValueError:
                    return None
                if offset > link.ack_offset:
                    link.ack_offset = offset
                link.ack_time = time.time()
                self.refresh_good_replicas()
                if self.waiters:
                    self._serve_waiters()
                self.failover.check()
                return None  # a replica's ACK gets no reply
            elif opt == b"getack":
                return None  # only a primary asks for ACKs
            elif opt in (b"rdb-only", b"rdb-filter-only"):
                pass
            else:
                return resp.error(b"ERR Unrecognized REPLCONF option: %s" % argv[i])
        return resp.OK

    def psync(self, c, replid, offset, failover=False):
        """PSYNC: a partial resync when the backlog allows it, else a full
        one. `failover`: our primary hands over to us (failover.py)."""
        if failover and (err := accept_failover_psync(self, c, replid)) is not None:
            return err
        if self.failover.state != NO_FAILOVER:
            return resp.error(b"NOMASTERLINK Can't SYNC while failing over")
        link = self.link_of(c)
        if link.state is not None:
            return None  # already a replica: Redis ignores it
        rid = replid.decode(errors="replace")
        if self.backlog is not None and offset >= 0 and (
                rid == self.replid or (rid == self.replid2 and offset <= self.second_offset)) \
                and self.backlog.covers(offset):
            self._become_replica(c, link)
            psync2 = "psync2" in link.capa
            c.write(b"+CONTINUE %s\r\n" % self.replid.encode() if psync2 else b"+CONTINUE\r\n")
            c.write(self.backlog.since(offset))
            link.state = ONLINE
            self.sync_partial_ok += 1
            logsetup.notice("Partial resynchronization request from %s accepted. Sending %d bytes of backlog "
                            "starting from offset %d.", self._name(link), self.offset + 1 - offset, offset)
            return None
        if rid != "?":
            self.sync_partial_err += 1
            logsetup.notice("Partial resynchronization not accepted: Replication ID mismatch or offset out of "
                            "range (replica asked for '%s' offset %d)", rid, offset)
        return self._full_sync(c, link, psync=True)

    def sync(self, c):
        """SYNC, the pre-PSYNC protocol: always a full resync, no +FULLRESYNC line."""
        if self.failover.state != NO_FAILOVER:
            return resp.error(b"NOMASTERLINK Can't SYNC while failing over")
        link = self.link_of(c)
        if link.state is not None:
            return None
        return self._full_sync(c, link, psync=False)

    def _become_replica(self, c, link):
        c.kind = "replica"
        c.flags.add(FLAG_REPLICA)
        link.ack_time = time.time()
        self._create_backlog()

    def _full_sync(self, c, link, psync):
        logsetup.notice("Replica %s asks for synchronization", self._name(link))
        self._become_replica(c, link)
        link.fullsync = psync
        link.state = WAIT_BGSAVE_START
        link.ack_time = time.time()  # since when it waits (repl-diskless-sync-delay)
        self.sync_full += 1
        if self.disk_sync_offset is not None and not self._diskless([link]):
            # A BGSAVE for replication on disk is running: share it, with the
            # stream its other replicas collected since its fork (Redis does).
            peer = next(p for p in self.links.values() if p.state == WAIT_BGSAVE_END)
            self._announce([link], self.disk_sync_offset)
            link.pending = list(peer.pending)
            logsetup.notice("Waiting for end of BGSAVE for SYNC")
        elif self.srv.snapshots.child_pid is not None:
            logsetup.notice("Waiting for the running child process to end before starting the BGSAVE for "
                            "replication")
            self.srv.snapshots.after_child.append(self._start_bgsave)
        elif not (self._diskless(self._waiting()) and self.config["repl-diskless-sync-delay"]):
            self._start_bgsave()
        # else the cron starts it once repl-diskless-sync-delay has passed, for every replica that asked by then
        return None

    # -- full sync: a BGSAVE on disk, or streamed from the child (diskless.py) -------------------

    def _waiting(self):
        return [link for link in self.links.values() if link.state == WAIT_BGSAVE_START]

    def _diskless(self, links):
        """Diskless when configured and every waiting replica takes `$EOF:` framing."""
        return self.config["repl-diskless-sync"] and links and all("eof" in link.capa for link in links)

    def _diskless_due(self, waiting):
        delay = self.config["repl-diskless-sync-delay"]
        most = self.config["repl-diskless-sync-max-replicas"]
        oldest = min(link.ack_time for link in waiting)
        return time.time() - oldest >= delay or (most and len(waiting) >= most)

    def _start_bgsave(self):
        waiting = self._waiting()
        if not waiting or self.transfer is not None:
            return
        snaps = self.srv.snapshots
        if snaps.child_pid is not None:  # another fork got in first: wait for it too
            snaps.after_child.append(self._start_bgsave)
            return
        # The snapshot holds every write up to now; the stream from here on
        # starts with a SELECT (the replica does not know the stream's db).
        self.db = -1
        offset = self.offset
        if self._diskless(waiting):
            from .diskless import DisklessTransfer  # noqa: PLC0415 - only a diskless sync needs it

            self._announce(waiting, offset)
            transfer = DisklessTransfer(self, waiting)
            err = transfer.start()
            if err is None:
                self.transfer = transfer
        else:
            err = snaps.start_bgsave(then=self._bgsave_done)
            if err is None:
                logsetup.notice("Starting BGSAVE for SYNC with target: disk")
                self._announce(waiting, offset)
                self.disk_sync_offset = offset
        if err is not None:
            logsetup.warning("BGSAVE for replication failed: %s", err)
            for link in waiting:
                self.srv.free_client(link.client)

    def _announce(self, links, offset):
        for link in links:
            if link.fullsync:
                link.client.write(b"+FULLRESYNC %s %d\r\n" % (self.replid.encode(), offset))
            link.state = WAIT_BGSAVE_END
            link.pending = []

    def _bgsave_done(self, ok):
        self.disk_sync_offset = None
        links = [link for link in self.links.values() if link.state == WAIT_BGSAVE_END]
        payload = None
        if ok:
            try:
                with open(self.srv.snapshots.path, "rb") as f:
                    payload = f.read()
            except OSError as e:
                logsetup.warning("SYNC failed. Can't open/stat DB after BGSAVE: %s", e.strerror)
        else:
            logsetup.warning("SYNC failed. BGSAVE child returned an error")
        for link in links:
            if payload is None:
                self.srv.free_client(link.client)
                continue
            link.client.write(b"$%d\r\n" % len(payload))
            link.client.write(payload)
            self.go_online(link)
        self._start_bgsave()  # replicas that asked while this one ran

    def go_online(self, link):
        """The snapshot is out: the stream collected since the fork follows."""
        c = link.client
        link.snapshot_sent_at = c.tot_net_out + c.output_bytes()
        if link.pending:
            c.write(b"".join(link.pending))
        link.pending = []
        link.state = ONLINE
        link.ack_time = time.time()
        logsetup.notice("Synchronization with replica %s succeeded", self._name(link))

    def await_first_ack(self, link):
        link.state = WAIT_FIRST_ACK
        link.ack_time = time.time()
        link.snapshot_sent_at = link.client.tot_net_out + link.client.output_bytes()

    def transfer_done(self, transfer):
        if self.transfer is transfer:
            self.transfer = None
        self._start_bgsave()

    # -- WAIT and min-replicas-to-write ----------------------------------------------------

    def acked(self, offset):
        return sum(1 for link in self.links.values() if link.state == ONLINE and link.ack_offset >= offset)

    def wait(self, c, numreplicas, timeout_ms):
        """WAIT: the reply now, or None with `c` blocked until enough
        replicas acknowledged the stream up to this client's last write (its
        woff), or the timeout."""
        if self.upstream is not None:
            return resp.error(b"ERR WAIT cannot be used with replica instances. Please also note that since Redis "
                              b"4.0 if a replica is configured to be writable (which is not the default) writes to "
                              b"replicas are just local and are not propagated.")
        target = c.woff
        acked = self.acked(target)
        if acked >= numreplicas or self.srv.in_exec:
            return resp.integer(acked)
        deadline = self.srv.now_ms + timeout_ms if timeout_ms else 0
        self.srv.blocking.block(c, c.db, (), deadline, None, lambda cl: resp.integer(self.acked(target)))
        self.waiters.append((c, target, numreplicas))
        self.getack_wanted = True  # before sleeping, ask the replicas for their offsets
        return None

    def _serve_waiters(self):
        still = []
        for c, target, num in self.waiters:
            if c.closed or c.blocked is None:
                continue  # timed out, unblocked or gone
            acked = self.acked(target)
            if acked >= num:
                self.srv.blocking.unblock(c, resp.integer(acked))
            else:
                still.append((c, target, num))
        self.waiters = still

    def before_sleep(self):
        self.failover.check()
        if self.getack_wanted:
            self.getack_wanted = False
            if self.backlog is not None and self.upstream is None:
                self.feed(GETACK)

    def refresh_good_replicas(self):
        """min-replicas-to-write: count the replicas that acknowledged within
        min-replicas-max-lag seconds; below the minimum, writes get -NOREPLICAS."""
        wall = time.time()
        max_lag = self.config["min-replicas-max-lag"]
        self.good_replicas = sum(1 for link in self.links.values()
                                 if link.state == ONLINE and wall - link.ack_time <= max_lag)
        srv = self.srv
        need = self.config["min-replicas-to-write"]
        refuse = need > 0 and max_lag > 0 and self.good_replicas < need and self.upstream is None
        if refuse and srv.write_block_reason is None:
            srv.write_block_reason = NOREPLICAS
        elif not refuse and srv.write_block_reason == NOREPLICAS:
            srv.write_block_reason = None

    # -- cron, INFO, ROLE -------------------------------------------------------------

    def cron(self):
        if self.upstream is not None:
            self.upstream.cron()
        self.failover.check()
        self.refresh_good_replicas()
        self._backlog_ttl()
        waiting = self._waiting()
        if waiting and self.srv.snapshots.child_pid is None and self._diskless_due(waiting):
            self._start_bgsave()
        replicas = self.replicas()
        if not replicas:
            return
        now = time.monotonic()
        # A replica passes its primary's PINGs on and makes none: its stream
        # must stay byte for byte its primary's. Nor while a FAILOVER waits
        # for a replica to reach our offset.
        if (self.upstream is None and now - self.last_ping >= self.config["repl-ping-replica-period"]
                and self.failover.state == NO_FAILOVER):
            self.last_ping = now
            self.feed(PING)
        if now - self.last_keepalive >= 1.0:
            # Replicas waiting for their snapshot get a newline a second, as
            # Redis sends, so their repl-timeout does not expire meanwhile.
            self.last_keepalive = now
            for link in replicas:
                # Not inside a diskless transfer: its $EOF header is out, so a
                # newline there would land in the middle of the RDB bytes.
                if link.state == WAIT_BGSAVE_START or (link.state == WAIT_BGSAVE_END and self.transfer is None):
                    link.client.write(b"\n")
        timeout = self.config["repl-timeout"]
        wall = time.time()
        self._check_output_limits(replicas, wall)
        for link in replicas:
            if link.state in (ONLINE, WAIT_FIRST_ACK) and wall - link.ack_time > timeout:
                logsetup.warning("Disconnecting timedout replica (streaming sync): %s", self._name(link))
                self.srv.free_client(link.client)

    def _backlog_ttl(self):
        """repl-backlog-ttl: a primary that has had no replica for that long
        frees its backlog; the history it held is gone, so the replication
        id changes and replid2 is cleared, as Redis does."""
        ttl = self.config["repl-backlog-ttl"]
        if (self.backlog is None or not ttl or self.upstream is not None or self.replicas()
                or time.monotonic() - self.no_replicas_since < ttl):
            return
        logsetup.notice("Replication backlog freed after %d seconds without connected replicas.", ttl)
        self.backlog = None
        self.srv.remove_propagation_target(self)
        self.srv.replid = os.urandom(20).hex()
        self.replid2, self.second_offset = "0" * 40, -1

    def _check_output_limits(self, replicas, now):
        """client-output-buffer-limit replica: a replica whose unsent stream
        (not its snapshot) passes the hard limit, or the soft one for longer
        than its seconds, is dropped and must resync, as in Redis."""
        hard, soft, secs = self.config["client-output-buffer-limit"].get("replica", (0, 0, 0))
        if not hard and not soft:
            return
        for link in replicas:
            c = link.client
            behind = sum(map(len, link.pending)) + c.output_bytes() - max(0, link.snapshot_sent_at - c.tot_net_out)
            over_soft = soft and behind > soft
            if over_soft and not link.soft_since:
                link.soft_since = now
            elif not over_soft:
                link.soft_since = 0.0
            if (hard and behind > hard) or (over_soft and now - link.soft_since > secs):
                logsetup.warning("Client %s scheduled to be closed ASAP for overcoming of output buffer limits.",
                                 c.info_line())
                self.srv.free_client(c)

    def _client_gone(self, c):
        link = self.links.pop(c.id, None)
        if link is not None and link.state == ONLINE:
            self.refresh_good_replicas()
        if link is not None and link.state is not None:
            logsetup.notice("Connection with replica %s lost.", self._name(link))
            if not self.replicas():
                self.no_replicas_since = time.monotonic()

    def _name(self, link):
        return "%s:%d" % (self.link_host(link), link.port)

    @staticmethod
    def link_host(link):
        """The address a replica is known by: its announced ip, else its peer's."""
        return link.ip or link.client.addr.rsplit(":", 1)[0]

    @staticmethod
    def is_online(link):
        return link.state == ONLINE

    def info_fields(self):
        replicas = self.replicas()
        fields = self.upstream.info_fields() if self.upstream is not None else [("role", "master")]
        fields.append(("connected_slaves", len(replicas)))
        wall = time.time()
        for i, link in enumerate(replicas):
            state = {WAIT_BGSAVE_START: "wait_bgsave", WAIT_BGSAVE_END: "wait_bgsave",
                     WAIT_FIRST_ACK: "online"}.get(link.state, link.state)
            fields.append(("slave%d" % i, "ip=%s,port=%d,state=%s,offset=%d,lag=%d" % (
                self.link_host(link), link.port, state, link.ack_offset,
                int(wall - link.ack_time))))
        b = self.backlog
        fields += [
            ("master_failover_state", self.failover.state),
            ("master_replid", self.replid),
            ("master_replid2", self.replid2),
            ("master_repl_offset", self.offset),
            ("second_repl_offset", self.second_offset),
            ("repl_backlog_active", 1 if b is not None else 0),
            ("repl_backlog_size", self.config["repl-backlog-size"]),
            ("repl_backlog_first_byte_offset", b.first_byte_offset if b is not None else 0),
            ("repl_backlog_histlen", b.histlen if b is not None else 0),
        ]
        return fields

    def info_stats(self, _srv):
        return [("sync_full", self.sync_full), ("sync_partial_ok", self.sync_partial_ok),
                ("sync_partial_err", self.sync_partial_err)]

    def role_reply(self, c):
        if self.upstream is not None:
            return self.upstream.role_reply()
        rows = []
        for link in self.replicas():
            if link.state == ONLINE:
                rows.append(resp.array([resp.bulk((link.ip or link.client.addr.rsplit(":", 1)[0]).encode()),
                                        resp.bulk(b"%d" % link.port), resp.bulk(b"%d" % link.ack_offset)]))
        return resp.array([resp.bulk(b"master"), resp.integer(self.offset), resp.array(rows)])
