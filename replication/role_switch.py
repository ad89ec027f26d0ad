"""The role switches of a server's replication state (Primary inherits
them): REPLICAOF host port (follow a primary, offering our own history for
a partial resync), REPLICAOF NO ONE (become a primary, keeping that history
under replid2: PSYNC2), and adopting what the upstream primary answers
(+FULLRESYNC, +CONTINUE with a new id)."""

import os

from engine import logsetup


class RoleSwitch:
    def replicaof(self, host, port, at_startup=False):
        """REPLICAOF host port: follow that primary (our own replicas stay).
        A primary turned replica at runtime offers its own history to the new
        primary (Redis's replicationCacheMasterUsingMyself); at startup there
        is none to offer."""
        from .replica import ReplicaOf  # noqa: PLC0415 - the replica side needs the loader and the stream reader

        srv = self.srv
        stream_db = 0
        if self.upstream is not None:
            if (self.upstream.host, self.upstream.port) == (host, port):
                return False
            self.upstream.close()
        elif not at_startup:
            logsetup.notice("Before turning into a replica, using my own master parameters to synthesize a cached "
                            "master: I may be able to synchronize with the new master with just a partial transfer.")
            self.cached = True
        elif getattr(srv, "loaded_repl_info", None) is not None:
            # Restarted on an RDB a replica saved: resume its stream (PSYNC).
            srv.replid, self.offset, stream_db = srv.loaded_repl_info
            self.cached = True
        srv.is_replica = True
        self.config.values["replicaof"] = "%s %d" % (host, port)  # what CONFIG REWRITE writes (Sentinel relies on it)
        srv.replica_read_only = self.config["replica-read-only"]
        logsetup.set_role("S")
        self.upstream = ReplicaOf(srv, self, host, port)
        if 0 < stream_db < len(srv.keyspace.dbs):
            self.upstream.stream_db = stream_db
        return True

    def replicaof_no_one(self, why="user request from 'id=?'"):
        """REPLICAOF NO ONE: become a primary, keeping the history under
        replid2 so the old primary's other replicas continue (PSYNC2)."""
        if self.upstream is None:
            return
        self.upstream.close()
        self.upstream = None
        srv = self.srv
        srv.is_replica = False
        self.config.values["replicaof"] = ""
        srv.replica_read_only = False
        logsetup.set_role("M")
        self.replid2 = self.replid
        self.second_offset = self.offset + 1
        srv.replid = os.urandom(20).hex()
        self.db = -1
        self._create_backlog()
        logsetup.notice("Setting secondary replication ID to %s, valid up to offset: %d. New replication ID is %s",
                        self.replid2, self.second_offset, srv.replid)
        logsetup.notice("MASTER MODE enabled (%s)", why)

    def psync_args(self):
        if self.cached:
            return self.replid, self.offset + 1
        return "?", -1

    def reset_for_full_sync(self, replid, offset):
        """+FULLRESYNC: the primary's history replaces ours; our replicas must resync."""
        self._drop_replicas()
        self.srv.replid = replid
        self.replid2, self.second_offset = "0" * 40, -1
        self.offset = offset
        self.backlog = None
        self._create_backlog()
        self.cached = True

    def continue_from_primary(self, new_replid):
        """+CONTINUE [replid]: a primary that changed its id (it was promoted)
        still serves our offset; our old id stays valid as replid2."""
        self._create_backlog()
        self.cached = True
        if new_replid and new_replid != self.replid:
            self.replid2 = self.replid
            self.second_offset = self.offset + 1
            self.srv.replid = new_replid
            logsetup.notice("Primary replication ID changed to %s", new_replid)
            self._drop_replicas()  # they learn the new id by reconnecting

    def _drop_replicas(self):
        for link in self.replicas():
            self.srv.free_client(link.client)
