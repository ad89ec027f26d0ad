"""The replica side of replication: REPLICAOF, the handshake, the snapshot,
then the primary's write stream applied as it comes.

    connect     a non-blocking connect from the event loop (retried from the
                cron every second while the link is down)
    handshake   [AUTH], PING, REPLCONF listening-port, REPLCONF capa eof capa
                psync2, PSYNC <replid> <offset+1> (or `? -1` with no history),
                sent in one write; the replies are read in order
    transfer    after +FULLRESYNC <replid> <offset>: the RDB as `$<len>` or, from
                a diskless primary, `$EOF:<40 bytes mark>` ... mark; the primary's
                newline keep-alives before it are skipped. Then the keyspace is
                replaced by the snapshot (clients get -LOADING meanwhile)
    connected   the stream: each command runs through the server as the
                "master" client (no replies; REPLCONF GETACK is answered with
                REPLCONF ACK), advances the offset by its bytes, and those same
                bytes go on to this server's own backlog and replicas, so a
                chain of replicas carries the primary's stream unchanged

A replica acknowledges its offset every second, drops a link silent for
repl-timeout, and reconnects with PSYNC of its replid and offset so a short
outage costs no full sync (+CONTINUE). The offsets and ids are those of
replication/primary.py, shared: a promoted replica (REPLICAOF NO ONE) keeps
its history as replid2, so the other replicas continue with PSYNC2.
"""

import errno
import os
import select
import socket
import time

from aof.stream import AofCorrupt, AofTruncated, commands
from engine import logsetup, resp
from engine.client import FLAG_MASTER, Client
from engine.util import release_free_memory
from rdb import RDBError, SaveError, load_buffer

CONNECT, CONNECTING, HANDSHAKE, TRANSFER, CONNECTED = "connect", "connecting", "handshake", "sync", "connected"
CLOSING = "replication turned off"  # drop()'s reason when REPLICAOF NO ONE (or another primary) ends the link
READ_SIZE = 1 << 16
MASTERDOWN = b"MASTERDOWN Link with MASTER is down and replica-serve-stale-data is set to 'no'."
EOF_MARK_LEN = 40


class ReplicaOf:
    """This server's link to its primary (one at a time)."""

    def __init__(self, server, primary, host, port):
        self.srv = server
        self.primary = primary  # replication/primary.py: ids, offset, backlog, our own replicas
        self.config = server.config
        self.host = host
        self.port = port
        self.state = CONNECT
        self.sock = None
        self.inbuf = bytearray()
        self.expect = []  # handshake replies still to read: names of the commands sent
        self.psync_request = b""
        self.fullsync_from = None  # (replid, offset) of a +FULLRESYNC, adopted once the snapshot is loaded
        self.transfer_size = -1  # bytes of the RDB payload, or -1 while unknown
        self.eof_mark = None  # diskless payload: the 40-byte end mark
        self.transfer_read = 0
        self.last_io = time.time()
        self.link_down_since = int(time.time())
        self.sync_started = 0.0
        self.master_client = None
        self.stream_db = 0  # the db the primary's stream has SELECTed: kept across reconnects
        self.last_ack = 0.0
        self.next_try = 0.0
        self.update_stale()

    # -- the connection -----------------------------------------------------------

    def cron(self):
        now = time.time()
        if self.state == CONNECT:
            if now >= self.next_try:
                self.connect()
            return
        if now - self.last_io > self.config["repl-timeout"]:
            logsetup.warning("MASTER timeout: no data nor PING received...")
            self.drop("timeout")
            return
        if self.state == CONNECTED and now - self.last_ack >= 1.0:
            self.send_ack()

    def connect(self):
        logsetup.notice("Connecting to MASTER %s:%d", self.host, self.port)
        self.next_try = time.time() + 1.0
        try:
            infos = socket.getaddrinfo(self.host, self.port, type=socket.SOCK_STREAM)
            family, _, _, _, addr = infos[0]
            sock = socket.socket(family, socket.SOCK_STREAM)
        except OSError as e:
            logsetup.warning("Unable to connect to MASTER: %s", e.strerror or e)
            self.primary.failover.link_failed(e.strerror or str(e))
            return
        sock.setblocking(False)
        err = sock.connect_ex(addr)
        if err not in (0, errno.EINPROGRESS):
            sock.close()
            logsetup.warning("Unable to connect to MASTER: %s", os.strerror(err))
            self.primary.failover.link_failed(os.strerror(err))
            return
        self.sock = sock
        self.state = CONNECTING
        self.last_io = time.time()
        self.srv.other_fds[sock.fileno()] = self._on_event
        self.srv.loop.ep.register(sock.fileno(), select.EPOLLIN | select.EPOLLOUT)
        logsetup.notice("MASTER <-> REPLICA sync started")

    def drop(self, why):
        """Close the link; the cron reconnects (PSYNC from where we are)."""
        if self.state in (CONNECT, CONNECTING, HANDSHAKE) and why != CLOSING:
            self.primary.failover.link_failed(why)  # a FAILOVER's target out of reach: roll back
        if self.sock is not None:
            fd = self.sock.fileno()
            self.srv.other_fds.pop(fd, None)
            self.srv.loop.unregister(fd)
            self.sock.close()
            self.sock = None
        if self.state == CONNECTED:
            logsetup.notice("Connection with master lost (%s).", why)
            self.link_down_since = int(time.time())
            self.next_try = 0.0  # a link that was up reconnects at once; failed attempts wait a second
            self.srv.loop.call_later(0.0, self._reconnect_now)
        self.state = CONNECT
        self.inbuf = bytearray()
        self.expect = []
        self.master_client = None
        self.update_stale()

    def _reconnect_now(self):
        if self.state == CONNECT:
            self.connect()

    def close(self):
        self.drop(CLOSING)
        self.state = None
        self.srv.masterdown_reason = None

    def update_stale(self):
        """replica-serve-stale-data no: while the link is not up, clients get
        -MASTERDOWN for every command not flagged stale (INFO, REPLICAOF...)."""
        down = self.state != CONNECTED and not self.config["replica-serve-stale-data"]
        self.srv.masterdown_reason = MASTERDOWN if down else None

    def _on_event(self, ev):
        if self.state == CONNECTING:
            err = self.sock.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
            if err:
                logsetup.warning("Error condition on socket for SYNC: %s", os.strerror(err))
                self.drop("connect failed")
                return
            self.srv.loop.ep.modify(self.sock.fileno(), select.EPOLLIN)
            self._send_handshake()
            return
        while self.sock is not None:
            try:
                data = self.sock.recv(READ_SIZE)
            except (BlockingIOError, InterruptedError):
                break
            except OSError as e:
                self.drop(e.strerror or str(e))
                return
            if not data:
                self.drop("the primary closed the connection")
                return
            self.last_io = time.time()
            self.inbuf += data
            self._process()
            if len(data) < READ_SIZE:
                break

    def _send(self, data):
        try:
            self.sock.sendall(data)  # small: handshake lines and ACKs
        except OSError as e:
            self.drop(e.strerror or str(e))

    # -- handshake -----------------------------------------------------------------

    def _send_handshake(self):
        cmds = []
        auth = self.config["masterauth"]
        if auth:
            user = self.config["masteruser"]
            cmds.append([b"AUTH", user.encode(), auth.encode()] if user else [b"AUTH", auth.encode()])
        cmds.append([b"PING"])
        port = self.config["replica-announce-port"] or self.config["port"]
        cmds.append([b"REPLCONF", b"listening-port", b"%d" % port])
        ip = self.config["replica-announce-ip"]
        if ip:
            cmds.append([b"REPLCONF", b"ip-address", ip.encode()])
        cmds.append([b"REPLCONF", b"capa", b"eof", b"capa", b"psync2"])
        replid, offset = self.primary.psync_args()
        cmds.append([b"PSYNC", replid.encode(), b"%d" % offset] + self.primary.failover.psync_flag())
        if replid != "?":
            logsetup.notice("Trying a partial resynchronization (request %s:%d).", replid, offset)
        self.expect = [argv[0].decode() + ("" if argv[0] != b"REPLCONF" else " " + argv[1].decode())
                       for argv in cmds]
        self.state = HANDSHAKE
        # PSYNC waits for the other replies: Redis refuses it while it still
        # has replies to write ("SYNC and PSYNC are invalid with pending output").
        self.psync_request = resp.encode_command(cmds.pop())
        self._send(b"".join(resp.encode_command(argv) for argv in cmds))

    def _line(self):
        i = self.inbuf.find(b"\r\n")
        if i < 0:
            return None
        line = bytes(self.inbuf[:i])
        del self.inbuf[:i + 2]
        return line

    def _process(self):
        while self.sock is not None:
            if self.state == HANDSHAKE:
                if not self._handshake_reply():
                    return
            elif self.state == TRANSFER:
                if not self._transfer():
                    return
            elif self.state == CONNECTED:
                self._apply()
                return
            else:
                return

    def _handshake_reply(self):
        while self.inbuf[:1] == b"\n":  # keep-alive newlines
            del self.inbuf[:1]
        line = self._line()
        if line is None:
            return False
        what = self.expect.pop(0)
        if what == "AUTH" and line.startswith(b"-"):
            logsetup.warning("Unable to AUTH to MASTER: %s", line[1:].decode(errors="replace"))
            self.drop("AUTH refused")
            return False
        if what == "PING" and line.startswith(b"-") and not line.startswith((b"-NOAUTH", b"-NOPERM")):
            logsetup.warning("Error reply to PING from master: '%s'", line.decode(errors="replace"))
            self.drop("PING refused")
            return False
        if what.startswith("REPLCONF") and line.startswith(b"-"):
            logsetup.notice("(Non critical) Master does not understand %s: %s", what, line.decode(errors="replace"))
        if what != "PSYNC":
            if self.expect == ["PSYNC"]:
                self._send(self.psync_request)
            return True
        return self._psync_reply(line)

    def _psync_reply(self, line):
        words = line.split()
        if words[:1] == [b"+FULLRESYNC"] and len(words) == 3:
            replid, offset = words[1].decode(), int(words[2])
            logsetup.notice("Full resync from master: %s:%d", replid, offset)
            # The primary's id and offset become ours only once its snapshot
            # is loaded: a link cut during the transfer must not leave us
            # claiming (to a PSYNC) a history whose data we do not hold.
            self.fullsync_from = (replid, offset)
            self.primary.failover.target_accepted()
            self.state = TRANSFER
            self.transfer_size = -1
            self.eof_mark = None
            self.transfer_read = 0
            self.sync_started = time.time()
            return True
        if words[:1] == [b"+CONTINUE"]:
            new = words[1].decode() if len(words) > 1 else None
            self.primary.continue_from_primary(new)
            logsetup.notice("Successful partial resynchronization with master.")
            logsetup.notice("MASTER <-> REPLICA sync: Master accepted a Partial Resynchronization.")
            self.primary.failover.target_accepted()
            self._online()
            return True
        if self.primary.failover.target_refused():
            logsetup.notice("Master does not support PSYNC or is in error state (reply: %s)",
                            line.decode(errors="replace"))
            return False  # rolled back: we are a primary again, this link is closed
        logsetup.warning("Unexpected reply to PSYNC from master: %s", line.decode(errors="replace"))
        self.drop("PSYNC refused")
        return False

    # -- the snapshot ----------------------------------------------------------------

    def _transfer(self):
        if self.transfer_size < 0 and self.eof_mark is None:
            while self.inbuf[:1] == b"\n":  # the primary's keep-alives while it prepares the RDB
                del self.inbuf[:1]
            line = self._line()
            if line is None:
                return False
            if not line.startswith(b"$"):
                logsetup.warning("Bad protocol from MASTER, the first byte is not '$' (we received '%s'), are you "
                                 "sure the host and port are right?", line[:64].decode(errors="replace"))
                self.drop("bad bulk")
                return False
            if line.startswith(b"$EOF:") and len(line) == 5 + EOF_MARK_LEN:
                self.eof_mark = line[5:]
                logsetup.notice("MASTER <-> REPLICA sync: receiving streamed RDB from master with EOF to disk")
            else:
                self.transfer_size = int(line[1:])
                logsetup.notice("MASTER <-> REPLICA sync: receiving %d bytes from master to disk",
                                self.transfer_size)
        if self.eof_mark is not None:
            # Look for the mark only in what came since the last look (it
            # ends the payload; a primary may already have sent more after it).
            end = self.inbuf.find(self.eof_mark, max(0, self.transfer_read - EOF_MARK_LEN))
            if end < 0:
                self.transfer_read = len(self.inbuf)
                return False
            payload = bytes(self.inbuf[:end])
            del self.inbuf[:end + EOF_MARK_LEN]
        else:
            if len(self.inbuf) < self.transfer_size:
                return False
            payload = bytes(self.inbuf[:self.transfer_size])
            del self.inbuf[:self.transfer_size]
        return self._load(payload)

    def _load(self, payload):
        srv = self.srv
        if not self._save_payload(payload):
            return False
        logsetup.notice("MASTER <-> REPLICA sync: Flushing old data")
        logsetup.notice("MASTER <-> REPLICA sync: Loading DB in memory")
        srv.loading = True
        try:
            loader = load_buffer(srv, payload, lambda _loader: srv.loop.process_events_while_blocked())
        except RDBError as e:
            logsetup.warning("Failed trying to load the MASTER synchronization DB from socket: %s", e)
            self.drop("bad RDB")
            return False
        finally:
            srv.loading = False
        srv.keyspace.install(loader.dbs)
        self.primary.reset_for_full_sync(*self.fullsync_from)
        if srv.aof is not None:
            self._restart_aof()
        self.stream_db = 0  # the stream after a snapshot starts with a SELECT
        del payload
        release_free_memory()
        logsetup.notice("MASTER <-> REPLICA sync: Finished with success")
        self._online()
        return True

    def _save_payload(self, payload):
        """repl-diskless-load disabled (the default), or on-empty-db with data
        here: as Redis, the primary's RDB becomes this server's `dbfilename`
        (temp file, fsync, rename) before it is loaded; a restart then finds
        it, with the primary's replication id and offset. The other modes
        load from memory only. (Either way the payload is received whole,
        then loaded and swapped in.)"""
        mode = self.config["repl-diskless-load"]
        if mode == "swapdb" or (mode == "on-empty-db" and not any(db.data for db in self.srv.keyspace.dbs)):
            return True
        snaps = self.srv.snapshots
        tmp = "temp-%d.%d.rdb" % (int(time.time()), os.getpid())
        try:
            with open(tmp, "wb") as f:
                f.write(payload)
                f.flush()
                os.fsync(f.fileno())
            snaps.move_into_place(tmp)
        except (OSError, SaveError) as e:
            logsetup.warning("Failed trying to save the MASTER synchronization DB to disk: %s", e)
            try:
                os.unlink(tmp)
            except OSError:
                pass
            self.drop("disk error")
            return False
        return True

    def _restart_aof(self):
        """The AOF still describes the dataset the snapshot replaced: start it
        again from the new one (a fresh base and incr), as Redis's
        restartAOFAfterSYNC does."""
        from aof import switch  # noqa: PLC0415 - only a replica with appendonly needs it
        from engine.config import ConfigError  # noqa: PLC0415

        logsetup.notice("Restarting the AOF on the dataset received from the primary")
        switch(self.srv, False)
        try:
            switch(self.srv, True)
        except ConfigError as e:
            logsetup.warning("Failed enabling the AOF after successful master synchronization: %s", e)

    def _online(self):
        self.state = CONNECTED
        self.update_stale()
        c = Client(self.srv, None, "%s:%d" % (self.host, self.port), "")
        c.kind = "master"
        c.flags.add(FLAG_MASTER)
        c.authenticated = True
        c.reply_mode = "off"
        c.db = self.srv.keyspace.dbs[self.stream_db]
        self.master_client = c
        self.send_ack()

    # -- the stream ----------------------------------------------------------------

    def _apply(self):
        srv = self.srv
        c = self.master_client
        buf = self.inbuf
        done = 0
        primary = self.primary
        try:
            for argv, end in commands(buf):
                raw = bytes(buf[done:end])
                if argv[0].lower() == b"replconf" and len(argv) > 1 and argv[1].lower() == b"getack":
                    self.send_ack()  # the offset before this command, as Redis counts it
                else:
                    srv.applying_primary_stream = True
                    try:
                        srv.call(c, argv)
                    finally:
                        srv.applying_primary_stream = False
                    if srv.ready_keys:
                        srv.blocking.handle_ready()
                primary.feed_from_primary(raw)
                done = end
                if self.state != CONNECTED:  # REPLICAOF inside the stream, or the link dropped
                    break
        except AofTruncated as e:
            done = e.good_until
        except AofCorrupt as e:
            logsetup.warning("Protocol error from the primary's stream at offset %d: %s", e.offset, e.message)
            self.drop("protocol error")
            return
        self.stream_db = c.db.id
        if self.sock is not None:
            del self.inbuf[:done]

    def send_ack(self):
        self.last_ack = time.time()
        if self.sock is not None:
            self._send(resp.encode_command([b"REPLCONF", b"ACK", b"%d" % self.primary.offset]))

    # -- INFO, ROLE --------------------------------------------------------------------

    def info_fields(self):
        now = time.time()
        up = self.state == CONNECTED
        fields = [
            ("role", "slave"), ("master_host", self.host), ("master_port", self.port),
            ("master_link_status", "up" if up else "down"),
            ("master_last_io_seconds_ago", int(now - self.last_io) if up else -1),
            ("master_sync_in_progress", 1 if self.state == TRANSFER else 0),
            ("slave_read_repl_offset", self.primary.offset), ("slave_repl_offset", self.primary.offset),
        ]
        if self.state == TRANSFER:
            fields += [("master_sync_total_bytes", self.transfer_size),
                       ("master_sync_read_bytes", len(self.inbuf)),
                       ("master_sync_left_bytes", max(self.transfer_size - len(self.inbuf), 0)),
                       ("master_sync_perc", "%.2f" % (100 * len(self.inbuf) / max(self.transfer_size, 1))),
                       ("master_sync_last_io_seconds_ago", int(now - self.last_io))]
        if not up:
            fields.append(("master_link_down_since_seconds", int(now) - self.link_down_since))
        fields += [("slave_priority", self.config["replica-priority"]),
                   ("slave_read_only", 1 if self.config["replica-read-only"] else 0),
                   ("replica_announced", 1 if self.config["replica-announced"] else 0)]
        return fields

    def role_reply(self):
        state = {CONNECT: "connect", CONNECTING: "connecting", HANDSHAKE: "handshake", TRANSFER: "sync",
                 CONNECTED: "connected"}.get(self.state, "connect")
        return resp.array([resp.bulk(b"slave"), resp.bulk(self.host.encode()), resp.integer(self.port),
                           resp.bulk(state.encode()), resp.integer(self.primary.offset)])

