"""The append-only file: a consumer of the one write stream (propagate)
that writes it to the current incremental file of the multi-part AOF and
makes it durable as `appendfsync` promises.

    propagate() -> feed(): the AOF buffer
    before_sleep -> flush(): one write of the whole buffer per event-loop
        iteration, before any reply of that iteration is sent; then
        always:   fdatasync in a thread (aof/groupsync.py) while the main
                  thread runs the next group; no reply goes out before the
                  sync that covers every write before it (group commit);
                  a failed write or fsync is fatal, as in Redis;
        everysec: the fsync thread syncs about once a second; when it is
                  still busy, the write waits up to 2 s, then goes ahead and
                  counts aof_delayed_fsync;
        no:       the kernel decides.

A write that fails under everysec/no (disk full) keeps the data in the
buffer, refuses writes with -MISCONF and retries each iteration, until the
disk takes it again (INFO aof_last_write_status). A failed everysec fsync
does the same (as Redis 7.0): writes get -MISCONF until a retry succeeds.

At start (`open_at_startup`) the AOF wins over the RDB: the manifest's
base and incremental files are loaded (aof/loading.py), or a first base
and incremental file are created, as Redis 7 does.
"""

import errno
import os
import threading
import time

from crc32c import crc32c

from engine import faults, logsetup

from . import manifest as mf
from . import powerloss
from .groupsync import GroupSync
from .rewrite import rewriter_of

MISCONF = (b"MISCONF Errors writing to the AOF file: %s")
DELAY_LIMIT_S = 2.0  # how long a write may wait for a busy fsync (everysec)
CRC_INTERVAL_S = 1.0  # a #crc32c annotation at most this often...
CRC_MAX_BYTES = 1 << 20  # ...or once this much is written without one


class AppendOnly:
    """The AOF of a running server (a propagation target)."""

    replication = False  # replication-only writes (PUBLISH) stay out of the AOF

    def __init__(self, server):
        self.srv = server
        self.config = server.config
        self.dir = self.config["appenddirname"]
        self.name = self.config["appendfilename"]
        self.db = -1
        self.buf = []  # one list for the server's life: `feed` may be its bound append
        self.fd = None
        self.manifest = None
        self.current_size = 0  # of the incr file being appended to
        self.older_incrs_size = 0  # incr files before it, still in the manifest (a rewrite is pending)
        self.base_size = 0
        self.last_write_ok = True
        self.last_write_error = ""
        self.delayed_fsync = 0
        self.postponed_since = None
        self._fsync_lock = threading.Lock()  # held by the thread while it fsyncs
        self._fsync_wanted = threading.Event()
        self._fsync_thread = None
        self._stopping = False
        self.groupsync = None  # appendfsync always: the fsync thread and the replies waiting for it
        self.fsync_error = None  # strerror of the everysec thread's last fsync, if it failed
        self._fsync_blocked = False  # the cron turned that into a write block
        server.info_providers.setdefault("persistence", []).append(self.info)
        self.rewriter = rewriter_of(server)
        self.rewrite_base_size = 0  # the AOF's size after the last rewrite (or load): auto-rewrite measures growth
        self.journal = powerloss.from_env()  # crash tests only: records what each fsync made durable
        self.incr_name = None
        self.crc_pending = 0  # crc32c of the bytes written since the last #crc32c annotation
        self.crc_pending_len = 0
        self.crc_written_at = 0.0
        self.last_ts = 0
        self._timestamps_changed(None, self.config["aof-timestamp-enabled"])
        server.config.on_change("aof-timestamp-enabled", self._timestamps_changed)

    # -- the write stream ---------------------------------------------------------------

    # `feed(data)`, the propagation target's entry, is set per instance by
    # _timestamps_changed: the buffer's own append (C, no Python frame on
    # every write) or, with aof-timestamp-enabled, _feed_with_timestamps.

    def _feed_with_timestamps(self, data):
        now = int(time.time())
        if now != self.last_ts:  # one annotation per second of writes, as Redis's aof-timestamp-enabled
            self.last_ts = now
            self.buf.append(b"#TS:%d\r\n" % now)
        self.buf.append(data)

    @property
    def buf_bytes(self):
        """Bytes waiting in the buffer (INFO aof_buffer_length, the memory estimate)."""
        return sum(map(len, self.buf))

    def flush(self, force=False):
        """before_sleep: write the buffer, then fsync as the policy says
        (`force`: no postponing, at shutdown)."""
        gs = self.groupsync
        if gs is not None:
            if gs.inflight:
                if not force:
                    return  # this iteration's writes and replies wait for the next group
                gs.wait()
            if gs.released and not force and self.srv.pending_writes:
                # A group was released in this pass of the loop: give its
                # clients one more pass to send their next requests, so they
                # join the next group instead of waiting a whole fsync for
                # the one after it (measured: 58k -> 66k SET/s, 50 clients).
                gs.released = False
                gs.paused = True
                return
            gs.paused = False
        if not self.buf or self.fd is None:
            return
        policy = self.config["appendfsync"]
        if policy == "everysec" and not force and self._fsync_lock.locked():
            # The previous fsync is still running: a write now would block
            # behind it. Postpone up to DELAY_LIMIT_S, as Redis does.
            now = time.monotonic()
            if self.postponed_since is None:
                self.postponed_since = now
                return
            if now - self.postponed_since < DELAY_LIMIT_S:
                return
            self.delayed_fsync += 1
            logsetup.notice("Asynchronous AOF fsync is taking too long (disk is busy?). Writing the AOF buffer "
                            "without waiting for fsync to complete, this may slow down Holdfast.")
        self.postponed_since = None
        data = b"".join(self.buf)
        # Holdfast's own annotation: a crc32c of everything written since the
        # previous one, about once a second, so holdfast-check-aof finds
        # corruption anywhere in the file, not only a torn tail. Loaders skip
        # annotation lines (Redis's too).
        crc = crc32c(data, self.crc_pending)
        covered = self.crc_pending_len + len(data)
        now = time.monotonic()
        if now - self.crc_written_at >= CRC_INTERVAL_S or covered >= CRC_MAX_BYTES:
            data += b"#crc32c:%08x %d\r\n" % (crc, covered)
            crc, covered = 0, 0
            annotated = True
        else:
            annotated = False
        try:
            if faults.ACTIVE:
                faults.check("aof-write")
            _write_all(self.fd, data)
        except OSError as e:
            self._write_failed(e, policy)
            return
        self.buf.clear()
        self.current_size += len(data)
        self.crc_pending, self.crc_pending_len = crc, covered
        if annotated:
            self.crc_written_at = now
        if not self.last_write_ok:
            logsetup.warning("AOF write error looks solved, Holdfast can write again.")
            self.last_write_ok = True
            self._update_write_block()
        if policy == "always":
            if not force:
                if gs is None:
                    gs = self.groupsync = GroupSync(self.srv, _sync, self.fd)
                    self.srv.reply_hold = gs
                gs.start(self.fd, self.incr_name, self.current_size, self._synced)
                return
            try:
                _sync(self.fd)
            except OSError as e:
                _fatal("Can't persist AOF for fsync error when the AOF fsync policy is 'always': %s. Exiting..."
                       % e.strerror)
            self._synced(self.incr_name, self.current_size)
        elif policy == "everysec":
            self._fsync_wanted.set()

    def _synced(self, name, size):
        if self.journal is not None:
            self.journal.synced(name, size)

    def _timestamps_changed(self, _old, new):
        self.timestamps = new
        self.last_ts = 0
        self.feed = self._feed_with_timestamps if new else self.buf.append

    @property
    def total_size(self):
        return self.base_size + self.older_incrs_size + self.current_size

    def cron(self):
        """auto-aof-rewrite-percentage / min-size: rewrite once the AOF has
        grown by that much since the last rewrite (or the load)."""
        if (self.fsync_error is not None) != self._fsync_blocked:  # set by the everysec thread
            self._fsync_blocked = self.fsync_error is not None
            self._update_write_block()
        perc = self.config["auto-aof-rewrite-percentage"]
        rw = self.rewriter
        if not perc or rw.in_progress or rw.scheduled or self.srv.snapshots.child_pid is not None:
            return
        size = self.total_size
        base = self.rewrite_base_size or 1
        if size > self.config["auto-aof-rewrite-min-size"] and size * 100 // base - 100 >= perc:
            logsetup.notice("Starting automatic rewriting of AOF on %d%% growth", size * 100 // base - 100)
            rw.start()

    def _write_failed(self, e, policy):
        if policy == "always":
            _fatal("Can't recover from AOF write error when the AOF fsync policy is 'always'. Exiting...")
        # Nothing partial may stay behind: cut the file back to what it held
        # before this write, and keep the data buffered for the next try.
        try:
            os.ftruncate(self.fd, self.current_size)
        except OSError:
            pass
        if self.last_write_ok:
            logsetup.warning("Error writing to the AOF file: %s", e.strerror or e)
        self.last_write_ok = False
        self.last_write_error = e.strerror or str(e)
        self._update_write_block()

    def _update_write_block(self):
        srv = self.srv
        if not self.last_write_ok:
            srv.write_block_reason = MISCONF % self.last_write_error.encode()
        elif self.fsync_error is not None:  # the everysec thread's last fsync failed
            srv.write_block_reason = MISCONF % self.fsync_error.encode()
        elif srv.write_block_reason is not None and srv.write_block_reason.startswith(b"MISCONF Errors writing"):
            srv.write_block_reason = None

    def _fsync_loop(self):
        """The everysec fsync thread: at most one fsync a second, only after a
        write. It touches nothing but the file descriptor."""
        while not self._stopping:
            self._fsync_wanted.wait()
            if self._stopping:
                return
            self._fsync_wanted.clear()
            with self._fsync_lock:
                fd, name, size = self.fd, self.incr_name, self.current_size
                if fd is not None:
                    try:
                        _sync(fd)
                    except OSError as e:
                        if self.fsync_error is None:
                            logsetup.warning("Error fsyncing the AOF file: %s", e.strerror)
                        # As Redis 7.0's aof_bio_fsync_status: writes are refused
                        # (the cron sets the block) and the sync is retried each
                        # second until it succeeds.
                        self.fsync_error = e.strerror or str(e)
                        self._fsync_wanted.set()
                    else:
                        self.fsync_error = None
                        if self.journal is not None:
                            self.journal.synced(name, size)
            time.sleep(1.0)

    # -- opening and closing ------------------------------------------------------------------

    def incr_path(self, f):
        return os.path.join(self.dir, f.name)

    def _open_file(self, f):
        self.fd = os.open(self.incr_path(f), os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        self.current_size = os.fstat(self.fd).st_size
        self.incr_name = f.name
        if self.journal is not None:  # what is in it now was synced by whoever wrote it
            self.journal.synced(f.name, self.current_size)
        self.crc_pending = self.crc_pending_len = 0  # annotations cover bytes of this file only
        self.db = -1  # the next write starts with a SELECT, as a new Redis incr file does

    def switch_to(self, f):
        """Go on in the new incremental file `f` (a rewrite started): the
        current one is written out, synced and closed first."""
        self.flush(force=True)
        with self._fsync_lock:
            os.fsync(self.fd)
            if self.journal is not None:
                self.journal.synced(self.incr_name, self.current_size)
            os.close(self.fd)
            self.older_incrs_size += self.current_size
            self._open_file(f)

    def open_incr(self, f):
        """Append to the incremental file `f` from now on."""
        self._open_file(f)
        self.rewrite_base_size = self.total_size
        self.rewriter.aof = self
        srv = self.srv
        srv.add_propagation_target(self)
        srv.before_sleep_hooks.append(self.flush)
        srv.shutdown_hooks.append(self.on_shutdown)
        srv.cron_hooks.append(self.cron)
        if self._fsync_thread is None:
            self._fsync_thread = threading.Thread(target=self._fsync_loop, name="aof-fsync", daemon=True)
            self._fsync_thread.start()

    def create_first_files(self):
        """No AOF yet: a base holding the current dataset (RDB form when
        aof-use-rdb-preamble, else empty AOF form) and an empty incremental
        file, then the manifest (Redis 7's first start with appendonly)."""
        os.makedirs(self.dir, exist_ok=True)
        rdb = self.config["aof-use-rdb-preamble"]
        base = mf.AofFile(mf.base_name(self.name, 1, rdb), 1, mf.BASE)
        incr = mf.AofFile(mf.incr_name(self.name, 1), 1, mf.INCR)
        base_path = os.path.join(self.dir, base.name)
        if rdb:
            self.srv.snapshots.write_file(base_path, self.srv.snapshots.live_views(), aof_base=True)
        else:
            with open(base_path, "wb") as f:
                os.fsync(f.fileno())
        logsetup.notice("Creating AOF base file %s on server start", base.name)
        with open(self.incr_path(incr), "wb") as f:
            os.fsync(f.fileno())
        logsetup.notice("Creating AOF incr file %s on server start", incr.name)
        self.manifest = mf.Manifest([base, incr])
        mf.write(self.dir, self.name, self.manifest)
        self.base_size = os.path.getsize(base_path)
        self.open_incr(incr)

    def start_fresh(self):
        """appendonly turned on at runtime: a new base holding the dataset as
        it is now and a new incremental file, listed alone in the manifest
        (files of an older AOF in the directory are stale: removed). The
        base is written synchronously here; Redis writes it in a rewrite
        child."""
        os.makedirs(self.dir, exist_ok=True)
        old = mf.read(self.dir, self.name) or mf.Manifest()
        rdb = self.config["aof-use-rdb-preamble"]
        base_seq, incr_seq = old.next_seq(mf.BASE), old.next_seq(mf.INCR)
        base = mf.AofFile(mf.base_name(self.name, base_seq, rdb), base_seq, mf.BASE)
        incr = mf.AofFile(mf.incr_name(self.name, incr_seq), incr_seq, mf.INCR)
        base_path = os.path.join(self.dir, base.name)
        if rdb:
            self.srv.snapshots.write_file(base_path, self.srv.snapshots.live_views(), aof_base=True)
        else:
            with open(base_path, "wb") as f:
                for db in self.srv.keyspace.dbs:
                    if db.data:
                        raise OSError(errno.ENOTSUP, "aof-use-rdb-preamble no needs a rewrite, which Holdfast "
                                                     "does not do yet")
                os.fsync(f.fileno())
        with open(self.incr_path(incr), "wb") as f:
            os.fsync(f.fileno())
        self.manifest = mf.Manifest([base, incr])
        mf.write(self.dir, self.name, self.manifest)
        for f in old.files:
            try:
                os.unlink(os.path.join(self.dir, f.name))
            except OSError:
                pass
        self.base_size = os.path.getsize(base_path)
        self.open_incr(incr)
        logsetup.notice("AOF enabled: base %s and incr %s written", base.name, incr.name)

    def stop(self):
        """appendonly turned off at runtime: write and sync what is buffered,
        then stop appending (the files stay, as in Redis)."""
        srv = self.srv
        if self.rewriter.in_progress:
            logsetup.notice("Killing running AOF rewrite child: %d", srv.snapshots.child_pid)
            srv.snapshots.kill_child()
        self.on_shutdown(())
        if self.groupsync is not None:
            self.groupsync.close()
            self.groupsync = srv.reply_hold = None
        srv.remove_propagation_target(self)
        for hooks, fn in ((srv.before_sleep_hooks, self.flush), (srv.shutdown_hooks, self.on_shutdown),
                          (srv.cron_hooks, self.cron)):
            if fn in hooks:
                hooks.remove(fn)
        providers = srv.info_providers.get("persistence", [])
        if self.info in providers:
            providers.remove(self.info)
        self.rewriter.aof = None
        if self.fd is not None:
            os.close(self.fd)
            self.fd = None
        logsetup.notice("AOF disabled")

    def on_shutdown(self, flags):
        """Write what is buffered and make it durable before the exit."""
        self.flush(force=True)
        if self.fd is not None:
            try:
                os.fsync(self.fd)
            except OSError as e:
                logsetup.warning("Error fsyncing the AOF on shutdown: %s", e.strerror)
            else:
                if self.journal is not None:
                    self.journal.synced(self.incr_name, self.current_size)
        self._stopping = True
        self._fsync_wanted.set()
        if self.buf:
            return "the AOF buffer could not be written"
        return None

    # -- INFO ------------------------------------------------------------------------------

    def info(self, srv):
        return [
            ("aof_enabled", 1),
            ("aof_last_write_status", "ok" if self.last_write_ok and self.fsync_error is None else "err"),
            ("aof_current_size", self.total_size),
            ("aof_base_size", self.base_size),
            ("aof_pending_rewrite", 0),
            ("aof_buffer_length", self.buf_bytes),
            ("aof_pending_bio_fsync", 1 if self._fsync_lock.locked() or (self.groupsync and self.groupsync.inflight)
             else 0),
            ("aof_delayed_fsync", self.delayed_fsync),
        ]


# fdatasync where there is one, as Redis's redis_fsync on Linux: the data
# and the size it needs, without the inode's timestamps.
_datasync = getattr(os, "fdatasync", os.fsync)


def _sync(fd):
    if faults.ACTIVE:
        faults.check("aof-fsync")
    _datasync(fd)


def _write_all(fd, data):
    view = memoryview(data)
    while view:
        try:
            n = os.write(fd, view)
        except InterruptedError:
            continue
        if n == 0:
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        view = view[n:]


def _fatal(msg):
    logsetup.warning(msg)
    os._exit(1)


def switch(server, on):
    """CONFIG SET appendonly: start (a fresh base and incr file) or stop
    appending. A start that cannot write its files refuses the change."""
    if on and server.aof is None:
        aof = AppendOnly(server)
        try:
            aof.start_fresh()
        except OSError as e:
            providers = server.info_providers.get("persistence", [])
            if aof.info in providers:
                providers.remove(aof.info)
            from engine.config import ConfigError  # noqa: PLC0415 - only this path needs it

            raise ConfigError("Unable to turn on AOF: %s" % (e.strerror or e)) from None
        server.aof = aof
    elif not on and server.aof is not None:
        server.aof.stop()
        server.aof = None
