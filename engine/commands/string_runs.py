"""Command runs for strings: the loops Server.run_batch hands a pipeline's
consecutive plain `GET key` / `SET key value` requests to (see
commands.runner), and the uniform runners Server.run_uniform_read hands a
whole read of them with arguments of one length (see
commands.uniform_runner). Each must do exactly what its handler in
strings.py does for the requests it takes, and leave the rest to it;
keep them in step."""

from itertools import islice

from .. import resp
from ..resp import BULK_FRAMES, BULK_HEADERS
from . import runner, uniform_runner
from .strings import get

_join = b"".join
_frame = BULK_FRAMES.__getitem__


@runner("get")
def get_run(c, reqs, i):
    """A pipeline's consecutive `GET key` from reqs[i], as `get` answers them.
    Strings under 4 KiB (BULK_FRAMES' reach) are answered here; misses and
    keys with a TTL go to `get` (O(1) too); a big value, a wrong type or
    another command ends the run. Nothing runs here under LFU. Keep in step
    with `get`."""
    srv = c.server
    if srv.lfu_on:
        return i
    db = c.db
    expires, atime, lru = db.expires, db.atime, srv.lru_clock
    name = reqs[i][0]
    append = c.wbuf.append
    lookup = db.data.get
    frames = BULK_FRAMES
    j = i
    to_handler = 0
    for argv in islice(reqs, i, None):
        try:
            cname, key = argv  # fewer steps than len() and two subscripts
        except ValueError:
            break  # not two arguments: GET's handler answers the arity error
        if cname != name:
            break
        v = lookup(key)
        if v is None:
            append(get(c, argv))  # a miss: counted and notified there
            to_handler += 1
        elif expires and key in expires:
            if v.__class__ is not bytes:
                break  # WRONGTYPE: run_batch counts the error
            append(get(c, argv))  # the TTL may have passed
            to_handler += 1
        else:
            # Only a string has both len() and join(): any other type, or a
            # string past BULK_FRAMES, raises before anything is appended
            # (a free check: try costs nothing until something raises).
            try:
                append(v.join(frames[len(v)]))
            except (AttributeError, TypeError, IndexError):
                break
            atime[key] = lru
        j += 1
    srv.stats.keyspace_hits += j - i - to_handler
    return j


@runner("set")
def set_run(c, reqs, i):
    """A pipeline's consecutive `SET key value` (no options) from reqs[i], as
    `set_` does them, for keys without a TTL whose old value (if any) is a
    string; stops at the first other request for `set_` itself, and runs
    none while keyspace notifications or LFU are on. The run reaches the AOF
    and replicas as one write. Keep in step with `set_`."""
    srv = c.server
    if srv.notify_hook is not None or srv.lfu_on:
        return i
    db = c.db
    data, expires, atime, lru = db.data, db.expires, db.atime, srv.lru_clock
    enc, custom = db.enc, db.custom_keys
    name = reqs[i][0]
    j = i
    if custom or expires or enc:
        for argv in islice(reqs, i, None):
            try:
                cname, key, value = argv  # fewer steps than len() and three subscripts
            except ValueError:
                break  # not three arguments: options, or an arity error, for set_
            if cname != name:
                break
            if custom and key in custom:
                break  # freeing a big collection is not O(1): set_ runs it, timed alone
            if expires and key in expires:
                break  # set_ expires or clears the TTL
            data[key] = value
            atime[key] = lru
            if enc:
                enc.pop(key, None)
            j += 1
    else:  # the same loop when none of those can apply (a plain string keyspace)
        for argv in islice(reqs, i, None):
            try:
                cname, key, value = argv
            except ValueError:
                break
            if cname != name:
                break
            data[key] = value
            atime[key] = lru
            j += 1
    if j > i:
        if db.watched:
            for k in range(i, j):
                srv.signal_modified_key(db, reqs[k][1])
        srv.propagate_run(db.id, reqs[i:j])
        c.wbuf.append(resp.OK * (j - i))
    return j


@uniform_runner("get")
def get_uniform(c, argc, keys, data):
    """A read of `GET key` requests only (engine/uniform_reads.py), as `get`
    answers each: run whole when every key holds a string under 4 KiB
    without a TTL and LFU is off, else declined before anything changes."""
    if argc != 2:
        return None
    srv = c.server
    if srv.lfu_on:
        return None
    db = c.db
    if db.expires and not db.expires.keys().isdisjoint(keys):
        return None
    values = list(map(db.data.get, keys))
    try:
        # Only strings have both len() and a buffer to join (a miss, None,
        # has neither). Values of one length share their header.
        sizes = list(map(len, values))
        size = sizes[0]
        if sizes.count(size) == len(sizes):
            head = BULK_HEADERS[size]
            reply = _join((head, (b"\r\n" + head).join(values), b"\r\n"))
        else:
            reply = _join(map(bytes.join, values, map(_frame, sizes)))
    except (TypeError, IndexError):  # IndexError: a value past BULK_FRAMES
        return None
    atime = db.atime  # a store a key: cheaper than update(fromkeys()), which makes a dict first
    clock = srv.lru_clock
    for key in keys:
        atime[key] = clock
    srv.stats.keyspace_hits += len(keys)
    return reply


@uniform_runner("set")
def set_uniform(c, argc, args, data):
    """A read of `SET key value` requests only (engine/uniform_reads.py), as
    `set_` does each: run whole when no key has a TTL or holds a
    collection, and keyspace notifications and LFU are off; else declined
    before anything changes. The read reaches the AOF and replicas as it
    came."""
    if argc != 3:
        return None
    srv = c.server
    if srv.notify_hook is not None or srv.lfu_on:
        return None
    db = c.db
    pairs = iter(args)  # key, value, key, value...
    new = dict(zip(pairs, pairs, strict=False))  # the last SET of a key wins, as one by one
    if ((db.expires and not db.expires.keys().isdisjoint(new))
            or (db.custom_keys and not db.custom_keys.isdisjoint(new))):
        return None
    db.data.update(new)
    atime = db.atime  # a store a key, as get_uniform
    clock = srv.lru_clock
    for key in new:
        atime[key] = clock
    if db.enc:
        for key in new:
            db.enc.pop(key, None)
    if db.watched:
        for key in new:
            srv.signal_modified_key(db, key)
    n = len(args) >> 1
    srv.propagate_read(db.id, n, data)
    return resp.OK * n
