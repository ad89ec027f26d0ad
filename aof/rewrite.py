"""BGREWRITEAOF, as Redis 7's multi-part AOF does it:

1. The parent writes out the AOF buffer and opens a new incremental file,
   listed in the manifest at once (old base + old incr + new incr: a crash
   during the rewrite still loads everything). Writes go to the new file.
2. A fork child (the BGSAVE machinery of rdb/snapshot.py) writes the
   keyspace as it was at the fork, the state after the old incr file, as a
   new RDB-form base.
3. When the child succeeds, its file becomes the new base and the manifest
   is replaced atomically by [new base, new incr]; the old base and incr
   files are deleted. When it fails, nothing changes but the temp file,
   which goes.

One child at a time: a rewrite asked for while a BGSAVE runs is scheduled
and starts from the cron when the BGSAVE is done.
"""

import os
import time

from engine import logsetup

from . import manifest as mf


class Rewriter:
    def __init__(self, server, aof):
        self.srv = server
        self.aof = aof
        self.scheduled = False
        self.rewrites = 0
        self.last_ok = True
        self.last_time_sec = -1
        self.consecutive_failures = 0
        self.last_cow_size = 0
        self.started = 0.0
        self.new_incr = None
        server.info_providers.setdefault("persistence", []).append(self.info)

    @property
    def in_progress(self):
        return self.srv.snapshots.child_kind == "aof"

    def request(self):
        """BGREWRITEAOF: (ok, message) as Redis words them."""
        snaps = self.srv.snapshots
        if self.in_progress:
            return False, "ERR Background append only file rewriting already in progress"
        if snaps.child_pid is not None:
            if not self.scheduled:
                self.scheduled = True
                snaps.after_child.append(self._start_scheduled)
            return True, "Background append only file rewriting scheduled"
        err = self.start()
        if err is not None:
            return False, "ERR Can't execute an AOF background rewriting. Please check the server logs for " \
                          "more information."
        return True, "Background append only file rewriting started"

    def _start_scheduled(self):
        self.scheduled = False
        self.start()

    def start(self):
        aof = self.aof
        aof.flush(force=True)
        m = aof.manifest
        incr = mf.AofFile(mf.incr_name(aof.name, m.next_seq(mf.INCR)), m.next_seq(mf.INCR), mf.INCR)
        m.files.append(incr)
        try:
            mf.write(aof.dir, aof.name, m)
        except OSError as e:
            m.files.remove(incr)
            logsetup.warning("Can't update the AOF manifest for a rewrite: %s", e.strerror)
            return e.strerror
        aof.switch_to(incr)
        self.new_incr = incr
        err = self.srv.snapshots.fork_child("aof", os.path.join(aof.dir, "temp-rewriteaof-bg-%d.aof"), self._done)
        if err is not None:
            logsetup.warning("Can't rewrite append only file in background: fork: %s", err)
            self.last_ok = False
            self.consecutive_failures += 1
            return err
        self.started = time.time()
        logsetup.notice("Background append only file rewriting started by pid %d", self.srv.snapshots.child_pid)
        return None

    def _done(self, ok, tmp, outcome):
        """The child ended; either way the AOF goes on appending to the new
        incr file, listed after the old ones until a rewrite succeeds."""
        self.last_time_sec = int(time.time() - self.started)
        if ok:
            try:
                self._install_base(tmp)
            except OSError as e:
                logsetup.warning("Error trying to rename the temporary AOF base file %s: %s", tmp, e.strerror)
                ok = False
                try:
                    os.unlink(tmp)
                except OSError:
                    pass
        if ok:
            self.last_cow_size = outcome[1]
            self.last_ok = True
            self.consecutive_failures = 0
            self.rewrites += 1
            logsetup.notice("Background AOF rewrite finished successfully")
        else:
            self.last_ok = False
            self.consecutive_failures += 1
            logsetup.warning("Background AOF rewrite terminated with error")

    def _install_base(self, tmp):
        aof = self.aof
        m = aof.manifest
        seq = m.next_seq(mf.BASE)
        base = mf.AofFile(mf.base_name(aof.name, seq, True), seq, mf.BASE)
        os.replace(tmp, os.path.join(aof.dir, base.name))
        old = [f for f in m.files if f is not self.new_incr]
        new = mf.Manifest([base, self.new_incr])
        mf.write(aof.dir, aof.name, new)
        aof.manifest = new
        aof.base_size = os.path.getsize(os.path.join(aof.dir, base.name))
        aof.older_incrs_size = 0
        aof.rewrite_base_size = aof.total_size
        for f in old:
            try:
                os.unlink(os.path.join(aof.dir, f.name))
            except OSError:
                pass
        logsetup.notice("Successfully renamed the temporary AOF base file %s into %s", os.path.basename(tmp),
                        base.name)

    def info(self, srv):
        return [
            ("aof_rewrite_in_progress", 1 if self.in_progress else 0),
            ("aof_rewrite_scheduled", 1 if self.scheduled else 0),
            ("aof_last_rewrite_time_sec", self.last_time_sec),
            ("aof_current_rewrite_time_sec", int(time.time() - self.started) if self.in_progress else -1),
            ("aof_last_bgrewrite_status", "ok" if self.last_ok else "err"),
            ("aof_rewrites", self.rewrites),
            ("aof_rewrites_consecutive_failures", self.consecutive_failures),
            ("aof_last_cow_size", self.last_cow_size),
        ]
