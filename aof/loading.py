"""Loading the multi-part AOF at start (appendonly yes: the AOF wins over
the RDB): the manifest's base (an RDB file, or commands in AOF form), then
each incremental file in order, replayed through the server's own command
execution by a client that has no socket and wants no replies.

A torn last command in the last file is cut off with a warning when
`aof-load-truncated yes` (the file is truncated there, so appends continue
from a clean end), else the start is refused. A transaction whose EXEC
never made it to the file is reverted, as Redis does. Bad data anywhere
else refuses the start with the file, the offset and what to do.
"""

import os
import time

from engine import logsetup
from engine.client import Client
from engine.util import release_free_memory
from rdb import RDBError, load_buffer

from . import manifest as mf
from .appendonly import AppendOnly
from .stream import AofCorrupt, AofTruncated, commands

PROGRESS_EVERY = 1024  # commands between answering clients (-LOADING)


class LoadError(Exception):
    pass


def open_at_startup(server):
    """Load the AOF (or create its first files) and start appending.
    Returns the AppendOnly, or None when the start must be refused (the
    reason is logged)."""
    aof = AppendOnly(server)
    started = time.time()
    try:
        m = mf.read(aof.dir, aof.name)
    except mf.ManifestError as e:
        logsetup.warning("%s. Exiting.", e)
        return None
    except OSError as e:
        logsetup.warning("Can't open the AOF manifest: %s. Exiting.", e.strerror or e)
        return None
    if m is None or m.base is None and not m.incrs:
        if not os.path.exists(aof.name):
            aof.create_first_files()
            return aof
        try:
            m = _upgrade(aof)
        except OSError as e:
            logsetup.warning("Can't move the old-style AOF %s into %s: %s. Exiting.", aof.name, aof.dir,
                             e.strerror or e)
            return None
    server.loading = True
    try:
        keys = _load(server, aof, m)
    except LoadError as e:
        logsetup.warning("%s", e)
        return None
    finally:
        server.loading = False
    server.dirty = 0
    release_free_memory()
    logsetup.notice("DB loaded from append only file: %.3f seconds (%d keys)", time.time() - started, keys)
    aof.manifest = m
    aof.open_incr(m.incrs[-1] if m.incrs else _new_incr(aof, m))
    return aof


def _upgrade(aof):
    """A single-file AOF from Redis before 7.0 (`appendfilename` in `dir`):
    moved into the AOF directory as the base, under its own name, as Redis
    7 upgrades it; appends then go to a new incr file."""
    os.makedirs(aof.dir, exist_ok=True)
    os.rename(aof.name, os.path.join(aof.dir, aof.name))
    mf.fsync_dir(aof.dir)
    m = mf.Manifest([mf.AofFile(aof.name, 1, mf.BASE)])
    mf.write(aof.dir, aof.name, m)
    logsetup.notice("Successfully migrated an old-style AOF %s into the AOF directory %s", aof.name, aof.dir)
    return m


def _new_incr(aof, m):
    """A manifest with a base and no incremental file (written by a tool):
    start the first one."""
    f = mf.AofFile(mf.incr_name(aof.name, m.next_seq(mf.INCR)), m.next_seq(mf.INCR), mf.INCR)
    m.files.append(f)
    mf.write(aof.dir, aof.name, m)
    return f


def _load(server, aof, m):
    files = ([m.base] if m.base else []) + m.incrs
    replayer = _Replayer(server)
    for i, f in enumerate(files):
        path = os.path.join(aof.dir, f.name)
        try:
            with open(path, "rb") as fh:
                buf = fh.read()
        except OSError as e:
            raise LoadError("Fatal error: can't open the append only file %s for reading: %s. Exiting."
                            % (f.name, e.strerror or e)) from None
        if f is m.base:
            aof.base_size = len(buf)
        elif f is not files[-1]:
            aof.older_incrs_size += len(buf)  # a rewrite was under way: its older incr files still count
        last = i == len(files) - 1
        start = 0
        if f is m.base and buf[:5] == b"REDIS":
            start = _load_rdb_base(server, f, buf)
            if start == len(buf):
                logsetup.notice("DB loaded from base file %s", f.name)
                continue
            logsetup.notice("Reading the remaining AOF tail of %s after its RDB preamble", f.name)
        replayer.run(f, path, buf, last, server.config["aof-load-truncated"], start)
        logsetup.notice("DB loaded from %s file %s", "base" if f is m.base else "incr", f.name)
    return sum(len(db.data) for db in server.keyspace.dbs)


def _load_rdb_base(server, f, buf):
    """Load an RDB-form base; returns where the RDB ended (an old-style AOF
    goes on with commands after its RDB preamble)."""
    try:
        loader = load_buffer(server, buf, lambda _loader: server.loop.process_events_while_blocked())
    except RDBError as e:
        raise LoadError("Fatal error loading the AOF base file %s: %s. Exiting." % (f.name, e)) from None
    server.keyspace.install(loader.dbs)
    return loader.reader.pos


class _Replayer:
    """Runs AOF commands as a client with no socket and no replies."""

    def __init__(self, server):
        self.srv = server
        self.client = Client(server, None, "aof", "aof")
        self.client.kind = "aof"  # exempt from -LOADING (Server._call)
        self.client.reply_mode = "off"
        self.client.authenticated = True

    def run(self, f, path, buf, last, load_truncated, start=0):
        srv = self.srv
        c = self.client
        call = srv.call
        n = 0
        multi_at = None  # where an open MULTI started: reverted if its EXEC is missing
        good = start
        try:
            for argv, end in commands(buf, start):
                name = argv[0].lower()
                if name == b"multi":
                    multi_at = good
                elif name == b"exec":
                    multi_at = None
                call(c, argv)
                good = end
                n += 1
                if not n % PROGRESS_EVERY:
                    srv.loop.process_events_while_blocked()
        except AofCorrupt as e:
            raise LoadError("Bad file format reading the append only file %s at offset %d (%s): make a backup "
                            "of your AOF file, then use holdfast-check-aof --fix <filename.manifest>. Exiting."
                            % (f.name, e.offset, e.message)) from None
        except AofTruncated as e:
            good = e.good_until
            if not last or not load_truncated:
                raise LoadError("Unexpected end of file reading the append only file %s at offset %d. You can: "
                                "1) Make a backup of your AOF file, then use holdfast-check-aof --fix "
                                "<filename.manifest>. 2) Alternatively you can set the 'aof-load-truncated' "
                                "configuration option to yes and restart the server. Exiting."
                                % (f.name, good)) from None
            logsetup.warning("!!! Warning: short read while loading the AOF file %s!!!", f.name)
            logsetup.warning("!!! Truncating the AOF %s at offset %d !!!", f.name, good)
        if multi_at is not None:
            if not last or not load_truncated:
                raise LoadError("Unexpected end of file reading the append only file %s: a MULTI without EXEC. "
                                "Exiting." % f.name)
            logsetup.warning("Revert incomplete MULTI/EXEC transaction in AOF file %s", f.name)
            c.multi_queue = None
            c.multi_error = False
            c.update_gate()
            good = multi_at
        if good != len(buf):
            with open(path, "r+b") as fh:
                fh.truncate(good)
                os.fsync(fh.fileno())
            logsetup.warning("AOF %s loaded anyway because aof-load-truncated is enabled", f.name)
