"""Loading an RDB file into Holdfast's keyspace: the decoder's sink that
builds Holdfast values with the encodings Redis would pick for them under
this server's limits, into fresh databases that replace the live ones only
once the whole file has loaded (nothing is ever half-loaded).
"""

import time
from collections import deque

from engine import logsetup
from engine.keyspace import LFU_INIT_VAL, Database
from engine.types.hashes import new_hash
from engine.types.sets import new_set
from engine.types.zsets import new_zset

from .decoder import RDBError, decode

# Every 65536 keys the loader lets the server answer clients (-LOADING) and
# report progress, as Redis does every 2 MB.


def build_value(kind, items, config):
    """The Holdfast value for a decoded (kind, items), with the encoding
    Redis would give it under `config`'s limits; None for an empty
    collection."""
    if kind == "string":
        return items
    if not items:
        return None
    if kind == "list":
        return deque(items)
    if kind == "hash":
        return new_hash(items, config)
    if kind == "set":
        return new_set(items, config)
    return new_zset(items, config)


class KeyspaceLoader:
    """A decoder sink that fills a new set of Database objects."""

    def __init__(self, config, now_ms, lru_clock, keep_expired=False, progress=None):
        self.config = config
        self.dbs = [Database(i) for i in range(config["databases"])]
        self.db = self.dbs[0]
        self.now_ms = now_ms
        self.lru_clock = lru_clock
        self.keep_expired = keep_expired  # a replica keeps keys its primary will expire
        self.lfu = "lfu" in config["maxmemory-policy"]
        # Small hashes stay packed until first used (engine/types/hashes.py):
        # those a listpack would hold, when every field under 64 bytes fits
        # hash-max-listpack-value.
        self.pack_hashes_up_to = config["hash-max-listpack-entries"] if config["hash-max-listpack-value"] >= 63 else 0
        self.progress = progress
        self.aux_fields = {}
        self.keys_loaded = 0
        self.keys_expired = 0
        self.empty_keys_skipped = 0
        self.functions_skipped = 0
        self._seen = 0
        self.reader = None  # set by the decoder: its position is the loading progress

    # -- the decoder's callbacks -----------------------------------------------------

    def aux(self, name, value):
        self.aux_fields[name] = value

    def select_db(self, dbid):
        if dbid >= len(self.dbs):
            raise RDBError(None, "the file selects database %d, but this server has only %d (databases)"
                           % (dbid, len(self.dbs)))
        self.db = self.dbs[dbid]

    def resize_db(self, size, expires_size):
        pass  # dicts grow as they need

    def function(self, code):
        self.functions_skipped += 1
        logsetup.warning("Skipping a function library in the RDB file: Holdfast does not run functions")

    def module_aux(self, name):
        logsetup.warning("Skipping aux data of module '%s' in the RDB file", name)

    def plain_string(self, key, value):
        """A string key with no expiry or access metadata: the bulk of most
        files, kept short (access times are filled per database at the end)."""
        data = self.db.data
        if key in data:
            raise RDBError(None, "duplicate key %r in database %d" % (key[:64], self.db.id))
        data[key] = value
        self._seen += 1
        if not self._seen & 0xFFFF and self.progress is not None:
            self.progress(self._seen)

    def packed_hash(self, key, n, payload):
        """A small hash kept packed (see PackedHash), with no expiry or access
        metadata: like plain_string, the common case kept short."""
        db = self.db
        data = db.data
        if key in data:
            raise RDBError(None, "duplicate key %r in database %d" % (key[:64], db.id))
        data[key] = (n, payload)  # a PackedHash
        self._seen += 1
        if not self._seen & 0xFFFF and self.progress is not None:
            self.progress(self._seen)

    def finish(self):
        """Access times for keys that had none in the file, then the counts."""
        for db in self.dbs:
            if len(db.atime) != len(db.data):
                atime = dict.fromkeys(db.data, self.lru_clock)
                atime.update(db.atime)
                db.atime = atime
            if self.lfu and len(db.freq) != len(db.data):
                freq = dict.fromkeys(db.data, ((self.now_ms // 60000) & 65535) << 8 | LFU_INIT_VAL)
                freq.update(db.freq)
                db.freq = freq
        self.keys_loaded = sum(len(db.data) for db in self.dbs)

    def key(self, key, kind, value, expire_ms, idle, freq):
        self._seen += 1
        if self.progress is not None and not self._seen & 0xFFFF:
            self.progress(self._seen)
        if kind == "packed-hash":
            v = value  # (n, payload): a PackedHash
        else:
            v = value if kind == "string" else build_value(kind, value, self.config)
        if v is None:
            self.empty_keys_skipped += 1  # as Redis 7: an empty collection is dropped
            return
        if expire_ms is not None and expire_ms < self.now_ms and not self.keep_expired:
            self.keys_expired += 1
            return
        db = self.db
        if key in db.data:
            raise RDBError(None, "duplicate key %r in database %d" % (key[:64], db.id))
        db.data[key] = v
        if v.__class__ is not bytes:
            db.stored(key, v)
        if expire_ms is not None:
            db.expires[key] = expire_ms
        if idle is not None:
            db.atime[key] = self.lru_clock - idle  # the others get lru_clock in finish()
        if self.lfu:
            db.freq[key] = ((self.now_ms // 60000) & 65535) << 8 | (freq if freq is not None else LFU_INIT_VAL)


def read_file(path):
    with open(path, "rb") as f:
        return f.read()


def load_buffer(server, buf, progress=None):
    """Decode the RDB file in `buf` into fresh databases and return the
    finished loader (its `dbs`, counts and aux fields); the caller installs
    them (load_at_startup, DEBUG RELOAD). `progress(loader)` runs every
    65536 keys. Raises RDBError; the keyspace is never touched here."""
    loader = KeyspaceLoader(server.config, int(time.time() * 1000), server.lru_clock,
                            keep_expired=server.is_replica)
    if progress is not None:
        loader.progress = lambda _keys: progress(loader)
    decode(buf, loader, verify_checksum=server.config["rdbchecksum"])
    loader.finish()
    return loader


def _aux_int(value):
    """An AUX number, read as leniently as Redis's strtol: 0 when it is not one."""
    try:
        return int(value)
    except ValueError:
        return 0


def load_at_startup(server):
    """Load `dbfilename` if it exists, answering clients with -LOADING
    meanwhile (the server already listens). False when the file exists but
    cannot be loaded: the server must not start over a partial dataset."""
    snaps = server.snapshots
    path = server.config["dbfilename"]
    try:
        buf = read_file(path)
    except FileNotFoundError:
        return True
    except OSError as e:
        logsetup.warning("Fatal error loading the DB: %s. Exiting.", e.strerror or e)
        return False
    started = time.time()
    server.loading = True
    snaps.loading_started = started
    snaps.loading_total_bytes = len(buf)
    snaps.loading_loaded_bytes = 0

    def progress(loader):
        snaps.loading_loaded_bytes = loader.reader.pos
        server.loop.process_events_while_blocked()

    try:
        loader = load_buffer(server, buf, progress)
    except RDBError as e:
        logsetup.warning("Fatal error loading the DB: %s. Exiting.", e)
        return False
    finally:
        server.loading = False
    server.keyspace.install(loader.dbs)
    aux = loader.aux_fields
    if b"redis-ver" in aux:
        logsetup.notice("Loading RDB produced by version %s", aux[b"redis-ver"].decode(errors="replace"))
    if b"ctime" in aux:
        logsetup.notice("RDB age %d seconds", int(started) - _aux_int(aux[b"ctime"]))
    if b"used-mem" in aux:
        logsetup.notice("RDB memory usage when created %.2f Mb", _aux_int(aux[b"used-mem"]) / 1048576)
    if b"repl-id" in aux and b"repl-offset" in aux:
        # A restarted replica resumes its stream from here (replication/).
        server.loaded_repl_info = (aux[b"repl-id"].decode(errors="replace"), _aux_int(aux[b"repl-offset"]),
                                   _aux_int(aux.get(b"repl-stream-db", b"0")))
    snaps.last_load_keys_loaded = loader.keys_loaded
    snaps.last_load_keys_expired = loader.keys_expired
    logsetup.notice("Done loading RDB, keys loaded: %d, keys expired: %d.", loader.keys_loaded, loader.keys_expired)
    logsetup.notice("DB loaded from disk: %.3f seconds", time.time() - started)
    return True
