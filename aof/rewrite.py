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
and starts from the cron when the BGSAVE is done. With appendonly no, as in
Redis, a rewrite still writes a new base, listed alone in the manifest.

There is one Rewriter per server (`rewriter_of`), whether the AOF is on or
not; its `aof` is the running AppendOnly or None.
"""

import os
import time

from engine import logsetup

from . import manifest as mf


def rewriter_of(server):
    rw = getattr(server, "aof_rewriter", None)
    if rw is None:
        rw = server.aof_rewriter = Rewriter(server)
    return rw


class Rewriter:
    def __init__(self, server):
        self.srv = server
        self.aof = None  # the running AppendOnly, if appendonly is on
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
        self.new_incr = None
        if aof is not None:
            err = self._open_new_incr(aof)
            if err is not None:
                return err
        d = aof.dir if aof is not None else self.srv.config["appenddirname"]
        try:
            os.makedirs(d, exist_ok=True)
        except OSError as e:
            logsetup.warning("Can't create the AOF directory %s: %s", d, e.strerror)
            return e.strerror
        err = self.srv.snapshots.fork_child("aof", os.path.join(d, "temp-rewriteaof-bg-%d.aof"), self._done)
        if err is not None:
            logsetup.warning("Can't rewrite append only file in background: fork: %s", err)
            self.last_ok = False
            self.consecutive_failures += 1
            return err
        self.started = time.time()
        logsetup.notice("Background append only file rewriting started by pid %d", self.srv.snapshots.child_pid)
        return None

    def _open_new_incr(self, aof):
        """Appends go to a new incr file from now on, listed in the manifest
        after the old ones (so a crash during the rewrite loses nothing)."""
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
        if aof is not None and self.new_incr is None:
            aof = None  # appendonly was turned on during a rewrite started without it: keep its files
        cfg = self.srv.config
        d, name = (aof.dir, aof.name) if aof is not None else (cfg["appenddirname"], cfg["appendfilename"])
        m = aof.manifest if aof is not None else (mf.read(d, name) or mf.Manifest())
        seq = m.next_seq(mf.BASE)
        base = mf.AofFile(mf.base_name(name, seq, True), seq, mf.BASE)
        os.replace(tmp, os.path.join(d, base.name))
        keep = [self.new_incr] if self.new_incr is not None else []
        old = [f for f in m.files if f not in keep]
        new = mf.Manifest([base] + keep)
        mf.write(d, name, new)
        if aof is not None:
            aof.manifest = new
            aof.base_size = os.path.getsize(os.path.join(d, base.name))
            aof.older_incrs_size = 0
            aof.rewrite_base_size = aof.total_size
        for f in old:
            try:
                os.unlink(os.path.join(d, f.name))
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
