"""Snapshots: SAVE in the main process, BGSAVE in a forked child, save
points, saving on SHUTDOWN, and the persistence fields of INFO.

A BGSAVE child (`_child_main`) writes `temp-<pid>.rdb`, fsyncs it and
reports through a pipe how many keys it wrote and how many bytes of the
parent's memory it caused to be copied (cow.py); it never touches a socket
or the event loop. The parent reaps it from the cron (`_check_child`, never
leaving a zombie), renames the file into place, fsyncs the directory and
updates the statistics Redis reports. One child at a time: a BGSAVE asked
for while one runs is refused, or queued with SCHEDULE.
"""

import gc
import os
import signal
import time
import warnings

from engine import faults, logsetup
from engine.config import VERSION
from engine.util import die_with_parent

from . import cow
from .encoder import ChecksumWriter, write_db, write_header
from .format import OP_FREQ, OP_IDLE, encode_length
from .private_view import private_view

MISCONF = (b"MISCONF Holdfast is configured to save RDB snapshots, but it's currently unable to persist to "
           b"disk. Commands that may modify the data set are disabled, because this instance is configured "
           b"to report errors during writes if RDB snapshotting fails (stop-writes-on-bgsave-error option). "
           b"Please check the Holdfast logs for details about the RDB error.")
AUTOSYNC_BYTES = 4 * 1024 * 1024  # fsync this often while saving (REDIS_AUTOSYNC_BYTES)
CHILD_INFO_INTERVAL = 1.0  # seconds between a child's progress reports
BGSAVE_RETRY_DELAY = 5  # seconds between save-point attempts after a failure (CONFIG_BGSAVE_RETRY_DELAY)
_MB = 1024 * 1024


class SaveError(Exception):
    """A snapshot that could not be written; the message is the log line."""


def _fsync_dir(path):
    fd = os.open(os.path.dirname(os.path.abspath(path)) or ".", os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


class Snapshots:
    def __init__(self, server):
        self.srv = server
        self.config = server.config
        self.child_pid = None
        self.child_kind = None  # "rdb" (BGSAVE) or "aof" (BGREWRITEAOF): one child at a time
        self.child_tmp = None  # the file it writes
        self.child_done = None  # fn(ok, tmp, (keys, cow bytes) or None), called from the cron
        self.after_child = []  # forks queued while another child runs (BGREWRITEAOF); run from the cron
        self.child_pipe = None
        self.child_report = b""  # what the child wrote on its pipe, not yet parsed
        self.child_keys_total = self.child_keys_done = 0
        self.child_cow = self.child_cow_peak = 0
        self.child_cow_at = 0.0
        self.child_started = 0.0
        self._dirty_at_start = 0
        self.bgsave_scheduled = False
        self.last_bgsave_ok = True
        self.last_bgsave_try = 0
        self.last_bgsave_time_sec = -1
        self.saves = 0
        self.last_cow_size = 0
        self.total_forks = 0
        self.latest_fork_usec = 0
        self.last_load_keys_loaded = 0
        self.last_load_keys_expired = 0
        self.loading_started = 0.0
        self.loading_total_bytes = 0
        self.loading_loaded_bytes = 0
        self.loading_rdb_used_mem = 0
        server.cron_hooks.append(self.cron)
        server.shutdown_hooks.append(self.on_shutdown)
        server.info_providers.setdefault("persistence", []).append(self.info_persistence)
        server.info_providers.setdefault("stats", []).append(self.info_stats)
        for name in ("save", "stop-writes-on-bgsave-error"):
            server.config.on_change(name, lambda _o, _n: self.update_write_block())

    # -- files ------------------------------------------------------------------------

    @property
    def path(self):
        return self.config["dbfilename"]  # the server runs inside `dir`

    def aux_fields(self, aof_base=False):
        srv = self.srv
        return [
            ("redis-ver", VERSION), ("redis-bits", 64), ("ctime", int(time.time())),
            ("used-mem", _used_memory()), ("repl-stream-db", _repl_stream_db(srv)),
            ("repl-id", getattr(srv, "replid", None) or srv.run_id),
            ("repl-offset", getattr(getattr(srv, "replication", None), "offset", 0)),
            ("aof-base", 1 if aof_base else 0),
        ]

    def write_file(self, path, views, progress=None, aof_base=False, to_pipe=False):
        """Write a whole RDB to `path` from `views`, an iterable of (db,
        data, expires, custom) made one database at a time, fsynced.
        `progress(keys written so far)` runs every few thousand keys and
        after each database. Returns the number of keys written."""
        compress = self.config["rdbcompression"]
        keys = 0
        autosync = AUTOSYNC_BYTES if self.config["rdb-save-incremental-fsync"] and not to_pipe else 0
        try:
            f = open(path, "wb", buffering=1 << 20)
        except OSError as e:
            raise SaveError("Failed opening the temp RDB file %s (in server root dir %s) for saving: %s"
                            % (path, os.getcwd(), e.strerror or e)) from None
        try:
            with f:
                w = ChecksumWriter(f, self.config["rdbchecksum"], autosync)
                write_header(w, self.aux_fields(aof_base), compress)
                for db, data, expires, custom in views:
                    done = keys
                    db_progress = None if progress is None else (lambda n, done=done: progress(done + n))
                    keys += write_db(w, db.id, data, expires, custom, compress, db_progress, self._access(db))
                    if progress is not None:
                        progress(keys)
                if faults.ACTIVE:
                    faults.check("rdb-write")
                w.finish()
                f.flush()
                if not to_pipe:  # a diskless full sync writes to a pipe: nothing to sync
                    os.fsync(f.fileno())
        except OSError as e:  # ENOSPC, EIO, ...
            raise SaveError("Write error saving DB on disk: %s" % (e.strerror or e)) from None
        return keys

    def _access(self, db):
        """The IDLE / FREQ opcode writer Redis uses under an LRU / LFU
        maxmemory-policy (rdbSaveKeyValuePair), else None. It reads `db`'s
        access tables directly: under those policies a fork child copies
        their pages."""
        policy = self.config["maxmemory-policy"]
        srv = self.srv
        if "lru" in policy:
            op, clock, atime = bytes((OP_IDLE,)), srv.lru_clock, db.atime
            return lambda key: op + encode_length(max(clock - atime.get(key, clock), 0))
        if "lfu" in policy:
            op, counter = bytes((OP_FREQ,)), srv.keyspace.lfu_counter
            return lambda key: op + bytes((counter(db, key),))
        return None

    def live_views(self):
        """The live keyspace as write_file reads it (SAVE, in the main process)."""
        return ((db, db.data, db.expires, None) for db in self.srv.keyspace.dbs if db.data)

    # -- SAVE -------------------------------------------------------------------------

    def save(self):
        """SAVE: write the snapshot in the main process. None on success,
        else the error text (logged)."""
        if self.child_pid is not None:
            return "ERR Background save already in progress"
        tmp = "temp-%d.rdb" % os.getpid()
        try:
            self.write_file(tmp, self.live_views())
            self.move_into_place(tmp)
        except SaveError as e:
            logsetup.warning("%s", e)
            _unlink(tmp)
            self.last_bgsave_ok = False
            self.update_write_block()
            return "ERR"
        logsetup.notice("DB saved on disk")
        self._saved(self.srv.dirty)
        return None

    def move_into_place(self, tmp):
        """Rename a finished temp file over `dbfilename` and make the rename
        durable (fsync of the directory)."""
        try:
            os.replace(tmp, self.path)
            _fsync_dir(self.path)
        except OSError as e:
            raise SaveError("Error moving temp DB file %s on the final destination %s (in server root dir %s): %s"
                            % (tmp, self.path, os.getcwd(), e.strerror or e)) from None

    def _saved(self, dirty_saved):
        """A snapshot holding the first `dirty_saved` changes is on disk
        (a BGSAVE's child missed what came after its fork)."""
        srv = self.srv
        srv.dirty = max(srv.dirty - dirty_saved, 0)
        srv.lastsave = int(time.time())
        self.last_bgsave_ok = True
        self.saves += 1
        self.update_write_block()

    # -- BGSAVE -----------------------------------------------------------------------

    def bgsave(self, schedule=False):
        """BGSAVE [SCHEDULE]: (ok, message)."""
        if self.child_pid is not None:
            if self.child_kind == "rdb":
                return False, "ERR Background save already in progress"
            if schedule:
                self.bgsave_scheduled = True
                return True, "Background saving scheduled"
            return False, ("ERR Another child process is active (AOF?): can't BGSAVE right now. Use BGSAVE "
                           "SCHEDULE in order to schedule a BGSAVE whenever possible.")
        err = self.start_bgsave()
        if err is not None:
            return False, "ERR " + err
        return True, "Background saving started"

    def start_bgsave(self, then=None):
        """Fork the BGSAVE child. None on success, else the error (logged).
        `then(ok)` runs once the file is in place or the save failed (a full
        sync of replication sends that file)."""
        self.last_bgsave_try = time.time()
        on_done = self._bgsave_done
        if then is not None:
            def on_done(ok, tmp, outcome):
                self._bgsave_done(ok, tmp, outcome)
                then(ok and self.last_bgsave_ok)
        err = self.fork_child("rdb", "temp-%d.rdb", on_done)
        if err is not None:
            self.last_bgsave_ok = False
            self.update_write_block()
            logsetup.warning("Can't save in background: fork: %s", err)
            return "Can't save in background: fork: %s" % err
        logsetup.notice("Background saving started by pid %d", self.child_pid)
        return None

    def fork_child(self, kind, tmp_pattern, on_done, pipe_fd=None):
        """Fork a child that writes an RDB of the keyspace to `tmp_pattern %
        its pid` ("rdb": a snapshot; "aof": the base of an AOF rewrite,
        aof/rewrite.py). When it ends, the cron calls on_done(ok, tmp path,
        report) with report = (keys, cow bytes). None, or the fork error."""
        srv = self.srv
        r, w = os.pipe()
        parent = os.getpid()
        t0 = time.perf_counter()
        try:
            with warnings.catch_warnings():
                # Python 3.12+ warns when forking beside other threads. The
                # only one is the AOF's fsync thread, which holds no lock the
                # child needs: the child never touches the AOF.
                warnings.filterwarnings("ignore", r"This process .* is multi-threaded", DeprecationWarning)
                pid = os.fork()
        except OSError as e:
            os.close(r)
            os.close(w)
            return e.strerror
        if pid == 0:
            os.close(r)
            die_with_parent(signal.SIGKILL, parent)  # killed with the server: rdb/tempfiles.py
            if pipe_fd is not None:  # a diskless full sync: the RDB goes down this pipe
                self._child_main(w, "/proc/self/fd/%d" % pipe_fd, kind, to_pipe=True)
            self._child_main(w, tmp_pattern % os.getpid(), kind)  # never returns
        self.latest_fork_usec = int((time.perf_counter() - t0) * 1e6)
        self.total_forks += 1
        os.close(w)
        os.set_blocking(r, False)
        self.child_pid = pid
        self.child_kind = kind
        self.child_tmp = tmp_pattern % pid if pipe_fd is None else None
        self.child_done = on_done
        self.child_pipe = r
        self.child_report = b""
        self.child_keys_total = sum(len(db.data) for db in srv.keyspace.dbs)
        self.child_keys_done = self.child_cow = self.child_cow_peak = 0
        self.child_cow_at = 0.0
        self.child_started = time.time()
        self._dirty_at_start = srv.dirty
        return None

    def _child_main(self, report_fd, tmp, kind, to_pipe=False):
        """The fork child: write the snapshot (or AOF base) to `tmp` from
        private views of the keyspace, report, and leave with os._exit (no
        atexit, no flushing of the parent's buffers)."""
        status = 1
        try:
            gc.disable()  # a collection would write to every tracked object's header
            logsetup.set_role("C")
            self.srv.loop.close_listeners_in_child()
            reporter = _ChildReporter(report_fd, cow.mappings())

            fell_back = []

            def views():  # one database's private copy at a time
                for db in self.srv.keyspace.dbs:
                    if db.data:
                        data, expires, custom, fell = private_view(db)
                        if fell:
                            fell_back.append(db.id)
                        yield db, data, expires, custom

            keys = self.write_file(tmp, views(), progress=_slowed(reporter.progress, self.config["rdb-key-save-delay"]),
                                   aof_base=kind == "aof", to_pipe=to_pipe)
            if fell_back:
                logsetup.warning("Snapshot child read databases %s directly: their custom_keys index was "
                                 "incomplete (more memory copied, data unaffected)", fell_back)
            current = reporter.sample()
            logsetup.notice("DB saved on disk" if kind == "rdb" else "Successfully created the temporary AOF base "
                            "file %s" % os.path.basename(tmp))
            logsetup.notice("Fork CoW for %s: current %d MB, peak %d MB", "RDB" if kind == "rdb" else "AOF rewrite",
                            current // _MB, reporter.peak // _MB)
            os.write(report_fd, b"ok %d %d %d\n" % (keys, current, reporter.peak))
            status = 0
        except BaseException as e:  # noqa: B036 - the child must always reach os._exit
            try:
                logsetup.warning("%s", e if isinstance(e, SaveError) else "Error saving DB on disk: %r" % (e,))
            except BaseException:  # noqa: B036
                pass
        finally:
            os._exit(status)

    def _check_child(self):
        """Reap a finished child and act on its outcome (checkChildrenDone)."""
        pid = self.child_pid
        try:
            done, status = os.waitpid(pid, os.WNOHANG)
        except ChildProcessError:
            done, status = pid, 1 << 8
        self._read_child_pipe()
        if done == 0:
            return
        report = self.child_report.rsplit(b"\n", 2)[-2] if self.child_report.endswith(b"\n") else b""
        os.close(self.child_pipe)
        self.child_pipe = None
        ok = os.WIFEXITED(status) and os.WEXITSTATUS(status) == 0 and report.startswith(b"ok ")
        if not ok and os.WIFSIGNALED(status):
            logsetup.warning("Background %s terminated by signal %d",
                             "saving" if self.child_kind == "rdb" else "AOF rewrite", os.WTERMSIG(status))
        parts = report.split()
        outcome = (int(parts[1]), int(parts[2])) if ok else None
        tmp, on_done = self.child_tmp, self.child_done
        self.child_pid = None
        self.child_kind = None
        self.child_done = None
        if not ok:
            _unlink(tmp)
        on_done(ok, tmp, outcome)

    def _bgsave_done(self, ok, tmp, outcome):
        if ok:
            try:
                self.move_into_place(tmp)
            except SaveError as e:
                logsetup.warning("%s", e)
                _unlink(tmp)
                ok = False
        if ok:
            self.last_cow_size = outcome[1]
            logsetup.notice("Background saving terminated with success")
            self._saved(self._dirty_at_start)
        else:
            logsetup.warning("Background saving error")
            self.last_bgsave_ok = False
        self.last_bgsave_time_sec = int(time.time() - self.child_started)
        self.update_write_block()

    def _read_child_pipe(self):
        """Take what the child wrote: progress lines while it runs, then its
        final report (the child's pipe never fills: a line a second)."""
        while True:
            try:
                data = os.read(self.child_pipe, 65536)
            except BlockingIOError:
                break
            except OSError:
                break
            if not data:
                break
            self.child_report += data
        lines = self.child_report.split(b"\n")
        self.child_report = b"\n".join(lines[-2:])  # the last full line and any partial one
        for line in reversed(lines[:-1]):
            if line.startswith(b"progress "):
                _, keys, cow_now, peak = line.split()
                self.child_keys_done, self.child_cow, self.child_cow_peak = int(keys), int(cow_now), int(peak)
                self.child_cow_at = time.time()
                break

    def kill_child(self):
        """Stop a running child and remove its temp file (SHUTDOWN, FLUSHALL)."""
        pid = self.child_pid
        if pid is None:
            return
        try:
            os.kill(pid, signal.SIGUSR1)
            os.waitpid(pid, 0)
        except (ProcessLookupError, ChildProcessError):
            pass
        os.close(self.child_pipe)
        self.child_pipe = None
        _unlink(self.child_tmp)
        self.child_pid = None
        self.child_kind = None

    # -- cron, save points, shutdown -------------------------------------------------------

    def cron(self):
        if self.child_pid is not None:
            self._check_child()
            return
        srv = self.srv
        now = time.time()
        if self.after_child:
            self.after_child.pop(0)()
            return
        if self.bgsave_scheduled:
            self.bgsave_scheduled = False
            self.start_bgsave()
            return
        retry_ok = self.last_bgsave_ok or now - self.last_bgsave_try > BGSAVE_RETRY_DELAY
        if not retry_ok or not srv.dirty:
            return
        for seconds, changes in self.config["save"]:
            if srv.dirty >= changes and now - srv.lastsave > seconds:
                logsetup.notice("%d changes in %d seconds. Saving...", changes, seconds)
                self.start_bgsave()
                return

    def on_shutdown(self, flags):
        if self.child_pid is not None:
            logsetup.warning("There is a child saving an .rdb. Killing it!")
            self.kill_child()
        if "nosave" in flags or not (self.config["save"] or "save" in flags):
            return None
        logsetup.notice("Saving the final RDB snapshot before exiting.")
        if self.save() is not None:
            logsetup.warning("Error trying to save the DB, can't exit.")
            return "Error trying to save the DB"
        return None

    def update_write_block(self):
        """MISCONF while the last save failed, save points are set and
        stop-writes-on-bgsave-error is on (writeCommandsDeniedByDiskError)."""
        srv = self.srv
        blocked = (not self.last_bgsave_ok and self.config["save"] and self.config["stop-writes-on-bgsave-error"]
                   and not srv.is_replica)
        if blocked:
            srv.write_block_reason = MISCONF
        elif srv.write_block_reason == MISCONF:
            srv.write_block_reason = None

    # -- INFO -----------------------------------------------------------------------------

    def info_persistence(self, srv):
        running = self.child_pid is not None and self.child_kind == "rdb"
        fields = []
        if running:
            total = self.child_keys_total
            fields += [
                ("current_cow_peak", self.child_cow_peak),
                ("current_cow_size", self.child_cow),
                ("current_cow_size_age", int(time.time() - self.child_cow_at) if self.child_cow_at else 0),
                ("current_fork_perc", "%.2f" % (self.child_keys_done * 100.0 / total if total else 0.0)),
                ("current_save_keys_processed", self.child_keys_done),
                ("current_save_keys_total", total),
            ]
        fields += [
            ("rdb_changes_since_last_save", srv.dirty),
            ("rdb_bgsave_in_progress", 1 if running else 0),
            ("rdb_last_save_time", srv.lastsave),
            ("rdb_last_bgsave_status", "ok" if self.last_bgsave_ok else "err"),
            ("rdb_last_bgsave_time_sec", self.last_bgsave_time_sec),
            ("rdb_current_bgsave_time_sec", int(time.time() - self.child_started) if running else -1),
            ("rdb_saves", self.saves),
            ("rdb_last_cow_size", self.last_cow_size),
            ("rdb_last_load_keys_expired", self.last_load_keys_expired),
            ("rdb_last_load_keys_loaded", self.last_load_keys_loaded),
        ]
        if srv.loading:
            elapsed = time.time() - self.loading_started
            total, done = self.loading_total_bytes, self.loading_loaded_bytes
            perc = done * 100.0 / total if total else 0.0
            eta = int((total - done) / (done / elapsed)) if done and elapsed > 0 else 1
            fields += [
                ("loading_start_time", int(self.loading_started)),
                ("loading_total_bytes", total),
                ("loading_rdb_used_mem", self.loading_rdb_used_mem),
                ("loading_loaded_bytes", done),
                ("loading_loaded_perc", "%.2f" % perc),
                ("loading_eta_seconds", eta),
                ("loading_elapsed_seconds", int(elapsed)),
            ]
        return fields

    def info_stats(self, srv):
        return [("latest_fork_usec", self.latest_fork_usec), ("total_forks", self.total_forks)]


class _ChildReporter:
    """In the fork child: samples copy-on-write and writes a progress line
    to the parent about once a second (Redis's sendChildInfo)."""

    def __init__(self, fd, ranges):
        self.fd = fd
        self.ranges = ranges
        self.peak = 0
        self.last = time.monotonic()

    def sample(self):
        copied = cow.copied_bytes(self.ranges) or 0
        self.peak = max(self.peak, copied)
        return copied

    def progress(self, keys):
        now = time.monotonic()
        if now - self.last >= CHILD_INFO_INTERVAL:
            self.last = now
            copied = self.sample()
            os.write(self.fd, b"progress %d %d %d\n" % (keys, copied, self.peak))


def _slowed(progress, delay_us):
    """rdb-key-save-delay (tests): sleep that long per key written, a batch
    of keys at a time (at each progress report)."""
    if delay_us <= 0:
        return progress
    done = [0]

    def slowed(keys):
        time.sleep((keys - done[0]) * delay_us / 1e6)
        done[0] = keys
        progress(keys)

    return slowed


def _repl_stream_db(srv):
    """The db our primary's stream has SELECTed (a replica resuming after a
    restart continues in it), else 0."""
    upstream = getattr(getattr(srv, "replication", None), "upstream", None)
    return upstream.stream_db if upstream is not None else 0


def _unlink(path):
    if path is None:  # a diskless sync's child writes no file
        return
    try:
        os.unlink(path)
    except OSError:
        pass


def _used_memory():
    from engine.info import memory_usage  # noqa: PLC0415 - engine.info imports late-bound modules
    return memory_usage()[1]
