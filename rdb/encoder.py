"""Writing RDB: strings (integer-encoded or LZF-compressed as Redis does),
Holdfast values in the plain type encodings, and whole files streamed
through a checksumming writer.

Holdfast writes the plain encodings (string, list, set, zset2, hash) that
every Redis since 2.x reads; a loading server picks its own compact
encodings from its own limits, exactly as after a Redis-to-Redis load.
"""

import os
import struct
from collections import deque
from itertools import chain

import lzf

from engine.types.hashes import PackedHash
from engine.types.zsets import ZSet

from .format import (
    OP_AUX,
    OP_EOF,
    OP_EXPIRETIME_MS,
    OP_RESIZEDB,
    OP_SELECTDB,
    RDB_VERSION,
    TYPE_HASH,
    TYPE_LIST,
    TYPE_SET,
    TYPE_STRING,
    TYPE_ZSET_2,
    crc64,
    encode_length,
)

_LEN1 = [bytes((n,)) for n in range(64)]
_pack_double = struct.Struct("<d").pack
_lzf_compress = lzf.compress

# Flush the record buffer to the file once it holds this many pieces.
_BATCH = 8192
_TYPE_BYTE = [bytes((t,)) for t in range(256)]


def _int_encoded(s):
    """The INT8/16/32 encoding of `s` when it is the canonical spelling of a
    32-bit integer (rdbTryIntegerEncoding), else None."""
    try:
        v = int(s)
    except ValueError:
        return None
    if b"%d" % v != s:
        return None  # " 1", "+1", "01", "1_0": int() takes them, Redis does not
    if -128 <= v <= 127:
        return b"\xc0" + v.to_bytes(1, "little", signed=True)
    if -32768 <= v <= 32767:
        return b"\xc1" + v.to_bytes(2, "little", signed=True)
    if -2147483648 <= v <= 2147483647:
        return b"\xc2" + v.to_bytes(4, "little", signed=True)
    return None


def encode_string(s, compress=True):
    """One RDB string (rdbSaveRawString): short canonical integers as
    integers, strings over 20 bytes LZF-compressed when that saves at least
    4 bytes, the rest as length + bytes."""
    n = len(s)
    if n <= 11:
        if n and (48 <= s[0] <= 57 or s[0] == 45):  # a digit or '-': may be an integer
            enc = _int_encoded(s)
            if enc is not None:
                return enc
        return _LEN1[n] + s
    if compress and n > 20:
        c = _lzf_compress(s, n - 4)
        if c is not None:
            return b"\xc3" + encode_length(len(c)) + encode_length(n) + c
    return encode_length(n) + s


# Collections whose elements are all 20 bytes or shorter (nearly all of
# them) are written raw, with no call per element: LZF would not apply
# (Redis compresses only longer strings), and integer encoding of short
# numbers is a writer's option, not a reader's need. When an element is
# longer, the whole collection is written again with encode_string.
_RAW_LEN = _LEN1[:21]

def _append_strings(out, items, compress):
    mark = len(out)
    append = out.append
    try:
        for x in items:
            append(_RAW_LEN[len(x)])
            append(x)
    except IndexError:
        del out[mark:]
        out.extend([encode_string(x, compress) for x in items])


def _append_pairs(out, d, compress):
    mark = len(out)
    append = out.append
    try:
        for f, v in d.items():
            append(_RAW_LEN[len(f)])
            append(f)
            append(_RAW_LEN[len(v)])
            append(v)
    except IndexError:
        del out[mark:]
        out.extend([encode_string(x, compress) for x in chain.from_iterable(d.items())])


def _type_of(value):
    cls = value.__class__
    if cls is bytes:
        return TYPE_STRING
    if cls is deque:
        return TYPE_LIST
    if isinstance(value, dict):  # dict (listpack-sized) or HashTable
        return TYPE_HASH
    if isinstance(value, set):  # set (intset-sized) or SetTable
        return TYPE_SET
    if cls is ZSet:
        return TYPE_ZSET_2
    if cls is PackedHash:  # (n, payload)
        return TYPE_HASH
    raise TypeError("no RDB encoding for %s" % cls.__name__)


def _append_value(out, t, value, compress):
    """Append the pieces of `value`'s plain encoding (type `t`) to `out`:
    no intermediate joins, the file writer joins once per batch."""
    if t == TYPE_STRING:
        out.append(encode_string(value, compress))
        return
    if value.__class__ is PackedHash:  # as it was read: already the plain encoding
        out.append(encode_length(value[0]))
        out.append(value[1])
        return
    out.append(encode_length(len(value)))
    if t == TYPE_HASH:
        _append_pairs(out, value, compress)
    elif t == TYPE_ZSET_2:
        # Highest score first, as Redis writes a skiplist: its loader then
        # inserts each member at the head.
        for score, member in reversed(value.sl):
            out.append(encode_string(member, compress))
            out.append(_pack_double(score))
    else:
        _append_strings(out, value, compress)


def encode_value(value, compress=True):
    """(type byte, payload) of a Holdfast value in its plain RDB encoding."""
    t = _type_of(value)
    out = []
    _append_value(out, t, value, compress)
    return t, b"".join(out)


def aux_field(name, value, compress=True):
    """An AUX record; `value` may be an int (written as its decimal string,
    integer-encoded where short, as rdbSaveAuxFieldStrInt does)."""
    if isinstance(value, int):
        value = b"%d" % value
    elif isinstance(value, str):
        value = value.encode()
    return bytes((OP_AUX,)) + encode_string(name.encode(), compress) + encode_string(value, compress)


class ChecksumWriter:
    """Writes to a binary file object while keeping the running CRC64.
    With `autosync` (bytes), the file is fsynced each time that much more
    has been written (rdb-save-incremental-fsync), so the kernel never holds
    a whole snapshot of dirty pages to flush at once."""

    def __init__(self, f, checksum=True, autosync=0):
        self.f = f
        self.checksum = checksum
        self.crc = 0
        self.written = 0
        self.autosync = autosync
        self.synced = 0

    def write(self, data):
        if self.checksum:
            self.crc = crc64(data, self.crc)
        self.f.write(data)
        self.written += len(data)
        if self.autosync and self.written - self.synced >= self.autosync:
            self.f.flush()
            os.fsync(self.f.fileno())
            self.synced = self.written

    def finish(self):
        """The EOF opcode and the checksum trailer (zero when disabled)."""
        self.write(bytes((OP_EOF,)))
        self.f.write(self.crc.to_bytes(8, "little") if self.checksum else b"\0" * 8)
        self.written += 8


def write_header(w, aux, compress=True):
    w.write(b"REDIS%04d" % RDB_VERSION)
    w.write(b"".join(aux_field(name, value, compress) for name, value in aux))


def write_db(w, dbid, data, expires, custom=None, compress=True, progress=None, access=None):
    """One database's SELECTDB, RESIZEDB and records. `data` maps key ->
    value; `custom`, when given, maps the keys whose value in `data` is a
    stand-in (None) to the real value (see private_view); `access(key)`,
    when given, is the IDLE or FREQ opcode written before each key (under an
    LRU or LFU maxmemory-policy, as Redis). Returns the number of keys
    written."""
    if not data:
        return 0
    w.write(bytes((OP_SELECTDB,)) + encode_length(dbid) + bytes((OP_RESIZEDB,))
            + encode_length(len(data)) + encode_length(len(expires)))
    out = []
    append = out.append
    expire_op = bytes((OP_EXPIRETIME_MS,))
    n = 0
    for key, value in data.items():
        if expires:
            when = expires.get(key)
            if when is not None:
                append(expire_op + when.to_bytes(8, "little", signed=True))
        if access is not None:
            append(access(key))
        if value.__class__ is bytes:  # the common case, inline
            append(b"\x00" + encode_string(key, compress) + encode_string(value, compress))
        else:
            if value is None and custom is not None:
                value = custom[key]
            t = _type_of(value)
            append(_TYPE_BYTE[t])
            append(encode_string(key, compress))
            _append_value(out, t, value, compress)
        n += 1
        if len(out) >= _BATCH:
            w.write(b"".join(out))
            out.clear()
            if progress is not None:
                progress(n)
    if out:
        w.write(b"".join(out))
    return n


def dump_payload(value, compress=True):
    """DUMP's serialization: type byte, value, RDB version (2 bytes LE),
    CRC64 of all that (8 bytes LE)."""
    t, payload = encode_value(value, compress)
    body = bytes((t,)) + payload + RDB_VERSION.to_bytes(2, "little")
    return body + crc64(body).to_bytes(8, "little")
