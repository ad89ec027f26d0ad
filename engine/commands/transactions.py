"""Transactions: MULTI, EXEC, DISCARD, WATCH, UNWATCH.

Queued commands are checked when queued (unknown command, arity): an error
there makes EXEC answer EXECABORT. WATCHed keys touched by anyone -- a write,
an expiry, FLUSHALL -- make EXEC answer a null reply. A transaction with
writes propagates as MULTI ... EXEC so a replica or an AOF replay applies it
atomically (server.propagate opens the MULTI lazily at the first write).
"""

from .. import resp
from . import command

EXECABORT = b"EXECABORT Transaction discarded because of previous errors."


def _watched_expired(c, db, key, clear=False):
    """Whether `c` WATCHed `key` in `db` when it was already expired
    (Redis's wk->expired); `clear` resets that mark."""
    wk = c.watched_keys
    for i, (wdb, wkey, expired) in enumerate(wk or ()):
        if wdb is db and wkey == key:
            if expired and clear:
                wk[i] = (wdb, wkey, False)
            return expired
    return False


def _touch(db, key):
    """touchWatchedKey: every client WATCHing `key` gets a dirty CAS (its
    next EXEC fails) -- except one that WATCHed the key already expired,
    when the key is now gone: the deletion of that expired key is no
    logical change, it only stops the watch counting as expired. (Redis
    also leaves such a watch alone while the key is still there; its
    commands always delete an expired key before they write it, ours may
    overwrite it directly, so here that write dirties the watch.)"""
    clients = db.watched.get(key)
    if not clients:
        return
    gone = key not in db.data
    for c in clients:
        if gone and _watched_expired(c, db, key, clear=True):
            continue
        c.flags.add("d")  # dirty CAS: the next EXEC fails


def touch_all_watched(db, now_ms, replaced_with=None):
    """touchAllWatchedKeysInDb, before FLUSHDB/FLUSHALL empty `db` or
    SWAPDB replaces its contents with `replaced_with`'s: only WATCHed keys
    that exist in `db` (or in `replaced_with`) change, and a watch on an
    expired key follows what the key logically does."""
    if not db.watched:
        return
    for key, clients in list(db.watched.items()):
        in_emptied = key in db.data
        in_other = replaced_with is not None and key in replaced_with.data
        if not (in_emptied or in_other):
            continue
        when = replaced_with.expires.get(key) if in_other else None
        other_expired = when is not None and when <= now_ms
        for c in list(clients):
            if _watched_expired(c, db, key):
                if not in_other:
                    _watched_expired(c, db, key, clear=True)  # expired key now deleted: no change
                    continue
                if other_expired:
                    continue  # an expired key stays expired
            elif not in_emptied and other_expired:
                _set_watched_expired(c, db, key)  # nothing replaced by an expired key
                continue
            c.flags.add("d")


def _set_watched_expired(c, db, key):
    wk = c.watched_keys
    for i, (wdb, wkey, _expired) in enumerate(wk or ()):
        if wdb is db and wkey == key:
            wk[i] = (wdb, wkey, True)


def install(server):
    server.modified_key_hook = _touch


def unwatch_all(c):
    if not c.watched_keys:
        return
    for db, key, _expired in c.watched_keys:
        clients = db.watched.get(key)
        if clients is not None:
            clients.discard(c)
            if not clients:
                del db.watched[key]
    c.watched_keys = None
    c.flags.discard("d")


def _discard(c):
    c.multi_queue = None
    c.multi_error = False
    unwatch_all(c)
    c.update_gate()


def exec_abort_error(c, err):
    """Redis's execCommandAbort, for an EXEC refused before it runs (wrong
    arity, NOAUTH, RESP2 subscriber mode, ...): the transaction and its
    WATCHes are discarded -- inside MULTI or not -- and the refusal becomes
    `EXECABORT Transaction discarded because of: <refusal>`, its ERR prefix
    dropped (Redis's rejectCommandFormat text has none; NOAUTH, LOADING
    and the like keep theirs). Server._reject calls this for EXEC."""
    _discard(c)
    if isinstance(err, str):
        err = err.encode()
    if err.startswith(b"ERR "):
        err = err[4:]
    return b"EXECABORT Transaction discarded because of: " + err


@command("multi", 1, "noscript loading stale fast allow-busy", group="transactions",
         summary="Starts a transaction.", since="1.2.0")
def multi(c, argv):
    if c.multi_queue is not None:
        return resp.error(b"ERR MULTI calls can not be nested")
    install(c.server)
    c.multi_queue = []
    c.multi_error = False
    c.update_gate()
    return resp.OK


@command("discard", 1, "noscript loading stale fast allow-busy", group="transactions",
         summary="Discards a transaction.", since="2.0.0")
def discard(c, argv):
    if c.multi_queue is None:
        return resp.error(b"ERR DISCARD without MULTI")
    _discard(c)
    return resp.OK


@command("watch", -2, "noscript loading stale fast allow-busy", keys=(1, -1, 1), group="transactions",
         summary="Monitors changes to keys to determine the execution of a transaction.", since="2.2.0")
def watch(c, argv):
    if c.multi_queue is not None:
        return resp.error(b"ERR WATCH inside MULTI is not allowed")
    install(c.server)
    db = c.db
    now = c.server.now_ms
    if c.watched_keys is None:
        c.watched_keys = []
    for key in argv[1:]:
        clients = db.watched.setdefault(key, set())
        if c in clients:
            continue
        clients.add(c)
        when = db.expires.get(key)
        c.watched_keys.append((db, key, when is not None and when <= now))
    return resp.OK


@command("unwatch", 1, "noscript loading stale fast allow-busy", group="transactions",
         summary="Forgets about watched keys of a transaction.", since="2.2.0")
def unwatch(c, argv):
    unwatch_all(c)
    return resp.OK


def _watched_key_expired(c):
    """A key that was live when WATCHed and has logically expired since
    (not yet deleted) fails the transaction too, as in Redis 7."""
    now = c.server.now_ms
    for db, key, expired_at_watch in c.watched_keys or ():
        if not expired_at_watch:
            when = db.expires.get(key)
            if when is not None and when <= now:
                return True
    return False


@command("exec", 1, "noscript loading stale skip-slowlog", group="transactions",
         summary="Executes all commands in a transaction.", since="1.2.0")
def exec_(c, argv):
    if c.multi_queue is None:
        return resp.error(b"ERR EXEC without MULTI")
    if c.multi_error:
        _discard(c)
        return resp.error(EXECABORT)
    if "d" in c.flags or _watched_key_expired(c):
        _discard(c)
        return resp.null_array(c.resp)
    queue = c.multi_queue
    _discard(c)
    srv = c.server
    srv.in_exec = True
    srv.exec_pending_multi = True
    saved = c.wbuf
    replies = []
    try:
        for _cmd, qargv in queue:
            c.wbuf = []
            try:
                srv.call(c, qargv)
            except Exception:  # the command's slot gets the error, the rest still run
                srv.internal_error(c, qargv)
            replies.append(b"".join(c.wbuf))
    finally:
        c.wbuf = saved
        srv.in_exec = False
        srv.exec_pending_multi = False
        if srv.exec_multi_emitted:
            srv.exec_multi_emitted = False
            srv.propagate(c.db.id, [b"EXEC"])
            srv.dirty -= 1
    return b"*%d\r\n" % len(replies) + b"".join(replies)
