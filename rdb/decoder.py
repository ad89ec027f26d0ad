"""Reading RDB: every version up to 11 and every encoding a real server
writes, from an in-memory buffer, with a precise error for bad input.

`decode(buf, sink)` walks a whole file and hands the sink what it finds:

    sink.aux(name, value)            AUX fields (bytes, bytes)
    sink.select_db(dbid)             SELECTDB
    sink.resize_db(size, expires)    RESIZEDB hints
    sink.function(code)              a function library (Redis 7 FUNCTION2)
    sink.module_aux(name)            module aux data (skipped)
    sink.key(key, kind, value, expire_ms, idle, freq)

`kind` is the value's type name ("string", "list", "set", "zset", "hash",
or "packed-hash" for a sink that asks for them with `pack_hashes_up_to`)
and `value` its plain Python form: bytes for a string, a list of bytes for
a list or set, a list of (member, score) for a zset, a dict field -> value
for a hash. Compact encodings (ziplist, listpack, intset, zipmap,
quicklists) are unpacked here, so a sink never sees them.

Every read is bounds-checked against the buffer before anything is
allocated: a corrupt length can make the decoder fail, never allocate
gigabytes or loop (the cursor and its checks are reader.py's). Errors are
`RDBError`, carrying the byte offset where the bad data starts and what was
expected there.
"""

from . import compact
from .format import (
    MAX_VERSION,
    MODULE_OP_DOUBLE,
    MODULE_OP_EOF,
    MODULE_OP_FLOAT,
    MODULE_OP_SINT,
    MODULE_OP_STRING,
    MODULE_OP_UINT,
    OP_AUX,
    OP_EOF,
    OP_EXPIRETIME,
    OP_EXPIRETIME_MS,
    OP_FREQ,
    OP_FUNCTION2,
    OP_FUNCTION_PRE_GA,
    OP_IDLE,
    OP_MODULE_AUX,
    OP_RESIZEDB,
    OP_SELECTDB,
    QUICKLIST_NODE_PACKED,
    QUICKLIST_NODE_PLAIN,
    TYPE_HASH,
    TYPE_HASH_LISTPACK,
    TYPE_HASH_ZIPLIST,
    TYPE_HASH_ZIPMAP,
    TYPE_LIST,
    TYPE_LIST_QUICKLIST,
    TYPE_LIST_QUICKLIST_2,
    TYPE_LIST_ZIPLIST,
    TYPE_MODULE_2,
    TYPE_MODULE_PRE_GA,
    TYPE_NAMES,
    TYPE_SET,
    TYPE_SET_INTSET,
    TYPE_SET_LISTPACK,
    TYPE_STRING,
    TYPE_ZSET,
    TYPE_ZSET_2,
    TYPE_ZSET_LISTPACK,
    TYPE_ZSET_ZIPLIST,
    crc64,
    module_type_name,
)
from .reader import RDBError, Reader, packed_hash_payload

# ---- values ----------------------------------------------------------------------


def _compact(r, fn, what):
    start = r.pos
    blob = r.string(what)
    try:
        return fn(blob)
    except compact.CompactError as e:
        raise RDBError(start, "%s: %s" % (what, e)) from None


def _pairs(items, start, what):
    if len(items) % 2:
        raise RDBError(start, "%s holds an odd number of entries (%d)" % (what, len(items)))
    return list(zip(items[::2], items[1::2], strict=True))


def _hash(flat, start, what):
    """The dict of a flat field, value, ... list (duplicates are caught by
    _no_duplicates, which compares sizes)."""
    if len(flat) % 2:
        raise RDBError(start, "%s holds an odd number of entries (%d)" % (what, len(flat)))
    return dict(zip(flat[::2], flat[1::2], strict=True)), len(flat) // 2


def _scores(pairs, start, what):
    out = []
    for member, text in pairs:
        try:
            score = float(text)
        except ValueError:
            raise RDBError(start, "bad score %r in %s" % (text[:40], what)) from None
        if score != score:
            raise RDBError(start, "zset with a NaN score in %s" % what)
        out.append((member, score))
    return out


def _no_duplicates(kind, values, start, key, declared):
    """Refuse a set, zset or hash whose file had the same member twice
    (`declared` is how many it listed; a hash arrives as a dict already)."""
    if kind == "list":
        return
    distinct = len(values) if kind == "hash" else len(set(values)) if kind == "set" else len(dict(values))
    if distinct != declared:
        raise RDBError(start, "duplicate %s detected in key %r" % (
            {"set": "set members", "zset": "zset members", "hash": "hash fields"}[kind], key[:64]))


def read_value(r, rdbtype, key=b"?", record_at=None, pack_hashes_up_to=0):
    """(kind, value) of one value of type `rdbtype` at the reader's cursor.
    A type Holdfast does not support is refused at `record_at` (where its
    record starts), so the message points at the whole record. A plain hash
    of at most `pack_hashes_up_to` fields, all under 64 bytes, comes back
    unread as ("packed-hash", (n, payload)); its fields are not checked for
    duplicates (as Redis does not check a listpack's)."""
    start = r.pos
    if rdbtype == TYPE_HASH and pack_hashes_up_to:
        n = r.length("the field count of key %r" % key[:64])
        if 0 < n <= pack_hashes_up_to:
            payload = packed_hash_payload(r.buf, r.pos, r.end, n)
            if payload is not None:
                r.pos += len(payload)
                return "packed-hash", (n, payload)
        r.pos = start
    if record_at is None:
        record_at = start
    declared = None  # a hash's listed field count (its items arrive as a dict)
    what = "the value of key %r" % key[:64]
    if rdbtype == TYPE_STRING:
        return "string", r.string(what)
    if rdbtype in (TYPE_LIST, TYPE_SET):
        n = r.length(what)
        items = r.short_strings(n) if n <= r.end - r.pos else None
        if items is None:
            items = [r.string(what) for _ in _counted(r, n, what)]
        kind = "list" if rdbtype == TYPE_LIST else "set"
    elif rdbtype in (TYPE_ZSET, TYPE_ZSET_2):
        n = r.length(what)
        score = r.double_text if rdbtype == TYPE_ZSET else r.double_binary
        items = []
        for _ in _counted(r, n, what):
            m = r.string(what)
            items.append((m, score(what)))
        kind = "zset"
    elif rdbtype == TYPE_HASH:
        n = r.length(what)
        flat = r.short_strings(2 * n) if 2 * n <= r.end - r.pos else None
        if flat is None:
            flat = [r.string(what) for _ in _counted(r, 2 * n, what)]
        kind = "hash"
        items, declared = _hash(flat, start, what)
    elif rdbtype == TYPE_HASH_ZIPMAP:
        pairs = _compact(r, compact.zipmap_pairs, what + " (zipmap)")
        kind, items, declared = "hash", dict(pairs), len(pairs)
    elif rdbtype == TYPE_LIST_ZIPLIST:
        kind, items = "list", _compact(r, compact.ziplist_entries, what + " (ziplist)")
    elif rdbtype == TYPE_SET_INTSET:
        kind, items = "set", _compact(r, compact.intset_members, what + " (intset)")
    elif rdbtype == TYPE_SET_LISTPACK:
        kind, items = "set", _compact(r, compact.listpack_entries, what + " (listpack)")
    elif rdbtype in (TYPE_ZSET_ZIPLIST, TYPE_ZSET_LISTPACK):
        fn = compact.ziplist_entries if rdbtype == TYPE_ZSET_ZIPLIST else compact.listpack_entries
        items = _pairs(_compact(r, fn, what), start, what)
        kind, items = "zset", _scores(items, start, what)
    elif rdbtype in (TYPE_HASH_ZIPLIST, TYPE_HASH_LISTPACK):
        fn = compact.ziplist_entries if rdbtype == TYPE_HASH_ZIPLIST else compact.listpack_entries
        kind = "hash"
        items, declared = _hash(_compact(r, fn, what), start, what)
    elif rdbtype == TYPE_LIST_QUICKLIST:
        n = r.length(what)
        items = []
        for _ in _counted(r, n, what):
            items.extend(_compact(r, compact.ziplist_entries, what + " (quicklist node)"))
        kind = "list"
    elif rdbtype == TYPE_LIST_QUICKLIST_2:
        n = r.length(what)
        items = []
        for _ in _counted(r, n, what):
            node_at = r.pos
            container = r.length(what + " (quicklist node container)")
            if container == QUICKLIST_NODE_PLAIN:
                items.append(r.string(what))
            elif container == QUICKLIST_NODE_PACKED:
                items.extend(_compact(r, compact.listpack_entries, what + " (quicklist node)"))
            else:
                raise RDBError(node_at, "quicklist node container %d is neither plain nor packed (%s)"
                               % (container, what))
        kind = "list"
    elif rdbtype in (TYPE_MODULE_2, TYPE_MODULE_PRE_GA):
        module_id = r.length(what)
        raise RDBError(record_at, "key %r holds a value of module type '%s', which Holdfast does not support"
                       % (key[:64], module_type_name(module_id)))
    elif TYPE_NAMES.get(rdbtype) == "stream":
        raise RDBError(record_at, "key %r holds a stream, which Holdfast does not support" % (key[:64],))
    else:
        raise RDBError(start - 1, "unknown RDB value type %d (key %r)" % (rdbtype, key[:64]))
    _no_duplicates(kind, items, start, key, len(items) if declared is None else declared)
    return kind, items


def _counted(r, n, what):
    """range(n) for a declared element count, refused early when even one
    byte per element would run past the end (so a corrupt count of 2**60
    neither loops nor allocates)."""
    if n > r.end - r.pos:
        raise RDBError(r.pos, "%d elements cannot fit in the %d bytes left (%s)" % (n, r.end - r.pos, what))
    return range(n)


# ---- module aux --------------------------------------------------------------------


def _skip_module_data(r, what):
    """Skip module data written with the typed opcodes of RDB 9+."""
    while True:
        op = r.length(what)
        if op == MODULE_OP_EOF:
            return
        if op in (MODULE_OP_SINT, MODULE_OP_UINT):
            r.length(what)
        elif op == MODULE_OP_FLOAT:
            r.raw(4, what)
        elif op == MODULE_OP_DOUBLE:
            r.raw(8, what)
        elif op == MODULE_OP_STRING:
            r.string(what)
        else:
            raise RDBError(r.pos, "unknown module data opcode %d (%s)" % (op, what))


# ---- files ---------------------------------------------------------------------------


def read_header(buf):
    """The RDB version of a file's first 9 bytes."""
    if len(buf) < 9:
        raise RDBError(0, "too short for an RDB header (%d bytes)" % len(buf))
    if buf[:5] != b"REDIS":
        raise RDBError(0, "wrong signature %r: not an RDB file" % bytes(buf[:5]))
    digits = bytes(buf[5:9])
    if not digits.isdigit():
        raise RDBError(5, "bad RDB version %r" % digits)
    version = int(digits)
    if version < 1 or version > MAX_VERSION:
        raise RDBError(5, "can't handle RDB format version %d" % version)
    return version


def decode(buf, sink, verify_checksum=True):
    """Decode a whole RDB file held in `buf`, calling `sink` (see the module
    docstring). Returns the file's version. Raises RDBError; one the sink
    raises without an offset gets the offset of the record it refused."""
    r = _Cursor()
    try:
        return _decode(buf, sink, verify_checksum, r)
    except RDBError as e:
        if e.offset is None:
            e.offset = r.record_at
        raise


class _Cursor:
    record_at = 0


def _decode(buf, sink, verify_checksum, cursor):
    version = read_header(buf)
    r = Reader(buf, 9, version=version)
    if hasattr(sink, "reader"):
        sink.reader = r  # for progress reports (bytes read so far)
    expire_ms = idle = freq = None
    key_sink = sink.key
    plain = getattr(sink, "plain_string", None) or (lambda k, v: key_sink(k, "string", v, None, None, None))
    pack_hashes_up_to = getattr(sink, "pack_hashes_up_to", 0)
    packed = getattr(sink, "packed_hash", None) or (
        lambda k, n, payload: key_sink(k, "packed-hash", (n, payload), None, None, None))
    buf = r.buf
    end = r.end
    while True:
        op_at = cursor.record_at = r.pos
        t = r.byte("a record type")
        if t == OP_EXPIRETIME_MS:
            expire_ms = r.millis()
            continue
        if t == OP_EXPIRETIME:
            expire_ms = int.from_bytes(r.raw(4, "an expire time"), "little", signed=True) * 1000
            continue
        if t == OP_IDLE:
            idle = r.length("an LRU idle time")
            continue
        if t == OP_FREQ:
            freq = r.byte("an LFU frequency")
            continue
        if t == OP_SELECTDB:
            sink.select_db(r.length("a database number"))
            continue
        if t == OP_RESIZEDB:
            size = r.length("a RESIZEDB size")
            sink.resize_db(size, r.length("a RESIZEDB expires size"))
            continue
        if t == OP_AUX:
            name = r.string("an AUX field name")
            sink.aux(name, r.string("the AUX field %r" % name[:64]))
            continue
        if t == OP_MODULE_AUX:
            module_id = r.length("a module id")
            name = module_type_name(module_id)
            r.length("module aux 'when'")
            r.length("module aux 'when'")
            _skip_module_data(r, "aux data of module '%s'" % name)
            sink.module_aux(name)
            continue
        if t == OP_FUNCTION2:
            sink.function(r.string("a function library"))
            continue
        if t == OP_FUNCTION_PRE_GA:
            raise RDBError(op_at, "pre-release function format not supported")
        if t == OP_EOF:
            break
        if t == TYPE_STRING:  # the common case: short lengths read inline
            p = r.pos
            b = buf[p] if p < end else 0xFF
            if b < 0x40 and p + 1 + b <= end:
                key = buf[p + 1:p + 1 + b]
                p += 1 + b
            else:
                key = r.string("a key")
                p = r.pos
            b = buf[p] if p < end else 0xFF
            if b < 0x40:
                value = buf[p + 1:p + 1 + b]
                p += 1 + b
            elif b < 0x80 and p + 1 < end:
                b = ((b & 0x3F) << 8) | buf[p + 1]
                value = buf[p + 2:p + 2 + b]
                p += 2 + b
            else:
                b = -1
            if b >= 0:
                if p > end:
                    raise RDBError(r.pos, "unexpected end of data reading the value of key %r" % key[:64])
                r.pos = p
            else:
                r.pos = p
                value = r.string("the value of key %r" % key[:64])
            if expire_ms is None and idle is None and freq is None:
                plain(key, value)
                continue
            key_sink(key, "string", value, expire_ms, idle, freq)
        else:
            if t == TYPE_HASH and pack_hashes_up_to:  # a small hash kept packed, read inline
                p = r.pos
                b = buf[p] if p < end else 0xFF
                if b < 0x40 and p + 2 + b <= end:
                    n = buf[p + 1 + b]
                    if 0 < n < 0x40 and n <= pack_hashes_up_to:
                        payload = packed_hash_payload(buf, p + 2 + b, end, n)
                        if payload is not None:
                            r.pos = p + 2 + b + len(payload)
                            key = buf[p + 1:p + 1 + b]
                            if expire_ms is None and idle is None and freq is None:
                                packed(key, n, payload)
                            else:
                                key_sink(key, "packed-hash", (n, payload), expire_ms, idle, freq)
                                expire_ms = idle = freq = None
                            continue
            if t not in TYPE_NAMES:
                raise RDBError(op_at, "unknown RDB record type %d" % t)
            key = r.string("a key")
            kind, value = read_value(r, t, key, op_at, pack_hashes_up_to)
            key_sink(key, kind, value, expire_ms, idle, freq)
        if expire_ms is not None or idle is not None or freq is not None:
            expire_ms = idle = freq = None
    if version >= 5:
        end_at = r.pos
        stored = int.from_bytes(r.raw(8, "the checksum"), "little")
        if verify_checksum and stored != 0:
            actual = crc64(buf[:end_at])
            if actual != stored:
                raise RDBError(end_at, "wrong RDB checksum: expected %016x, got %016x" % (stored, actual))
    return version


def decode_payload(payload):
    """(kind, value) of a DUMP payload: value bytes, the 2-byte RDB version
    (little-endian) and the CRC64 of everything before the CRC. Raises
    RDBError("DUMP payload version or checksum are wrong") as RESTORE words it."""
    if len(payload) < 10:
        raise RDBError(0, "DUMP payload version or checksum are wrong")
    version = int.from_bytes(payload[-10:-8], "little")
    if version > MAX_VERSION or crc64(payload[:-8]) != int.from_bytes(payload[-8:], "little"):
        raise RDBError(0, "DUMP payload version or checksum are wrong")
    r = Reader(payload, 0, len(payload) - 10, version=version)
    t = r.byte("a type byte")
    if t not in TYPE_NAMES:
        raise RDBError(0, "Bad data format")
    kind, value = read_value(r, t, record_at=0)
    if r.pos != r.end:
        raise RDBError(r.pos, "Bad data format")
    return kind, value
