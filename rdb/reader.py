"""The RDB reading primitives: `Reader`, a bounds-checked cursor over an
in-memory buffer (lengths, strings with their integer and LZF encodings,
scores, times), `RDBError` with the offset of the bad data, and
`packed_hash_payload`, which finds in C where a run of short strings ends.
The decoder (decoder.py) builds files and values out of these."""

import math
import re
import struct

import lzf

from .format import ENC_INT8, ENC_INT16, ENC_INT32, ENC_LZF

_unpack_double = struct.Struct("<d").unpack_from
_unpack_float = struct.Struct("<f").unpack_from
_lzf_decompress = lzf.decompress

# LZF cannot expand data by more than this (a 3-byte back reference copies
# at most 264 bytes): a declared length beyond it is corrupt, and refusing
# it keeps a bad header from allocating gigabytes.
_LZF_MAX_RATIO = 90


# One RDB string with a 6-bit length (under 64 bytes), as a regular
# expression: the length byte chooses the branch. `_short_run(k)` matches k
# of them in a row in C, which finds where a packed hash ends without a
# Python step per field.
_SHORT = b"|".join(re.escape(bytes((n,))) + (b".{%d}" % n if n else b"") for n in range(64))
_SHORT_RUNS = {}


def _short_run(k):
    pat = _SHORT_RUNS.get(k)
    if pat is None:
        pat = _SHORT_RUNS[k] = re.compile(b"(?s)(?:" + _SHORT + b"){%d}" % k)
    return pat


def packed_hash_payload(buf, pos, end, n):
    """The payload of a plain hash of `n` fields at `pos` when all of its
    2n strings are under 64 bytes, else None."""
    m = _short_run(2 * n).match(buf, pos, end)
    return None if m is None else m.group()


class RDBError(Exception):
    """A file (or DUMP payload) that cannot be loaded; `offset` is where the
    bad data starts."""

    def __init__(self, offset, message):
        super().__init__(message)
        self.offset = offset
        self.message = message

    def __str__(self):
        if self.offset is None:
            return self.message
        return "%s (at byte offset %d)" % (self.message, self.offset)


class Reader:
    """A cursor over a buffer with the RDB primitives."""

    __slots__ = ("buf", "pos", "end", "version")

    def __init__(self, buf, pos=0, end=None, version=10):
        self.buf = buf
        self.pos = pos
        self.end = len(buf) if end is None else end
        self.version = version

    def need(self, n, what):
        if self.pos + n > self.end:
            raise RDBError(self.pos, "unexpected end of data reading %s: %d bytes needed, %d left"
                           % (what, n, self.end - self.pos))

    def byte(self, what="a type byte"):
        if self.pos >= self.end:
            raise RDBError(self.pos, "unexpected end of data reading %s" % what)
        b = self.buf[self.pos]
        self.pos += 1
        return b

    def raw(self, n, what):
        self.need(n, what)
        p = self.pos
        self.pos = p + n
        return self.buf[p:p + n]

    def length_or_encoding(self, what):
        """(length, is_encoded): the encoding number instead of a length when
        the first byte is 11xxxxxx."""
        b = self.byte(what)
        kind = b >> 6
        if kind == 0:
            return b & 0x3F, False
        if kind == 1:
            return ((b & 0x3F) << 8) | self.byte(what), False
        if kind == 3:
            return b & 0x3F, True
        if b == 0x80:
            return int.from_bytes(self.raw(4, what), "big"), False
        if b == 0x81:
            return int.from_bytes(self.raw(8, what), "big"), False
        raise RDBError(self.pos - 1, "bad length byte 0x%02x reading %s" % (b, what))

    def length(self, what="a length"):
        start = self.pos
        n, encoded = self.length_or_encoding(what)
        if encoded:
            raise RDBError(start, "expected a length for %s, found a string encoding" % what)
        return n

    def string(self, what="a string"):
        start = self.pos
        n, encoded = self.length_or_encoding(what)
        if not encoded:
            return self.raw(n, what)
        if n == ENC_INT8:
            return b"%d" % int.from_bytes(self.raw(1, what), "little", signed=True)
        if n == ENC_INT16:
            return b"%d" % int.from_bytes(self.raw(2, what), "little", signed=True)
        if n == ENC_INT32:
            return b"%d" % int.from_bytes(self.raw(4, what), "little", signed=True)
        if n == ENC_LZF:
            clen = self.length(what + " (compressed length)")
            ulen = self.length(what + " (uncompressed length)")
            if ulen == 0 or ulen > clen * _LZF_MAX_RATIO + 64:
                raise RDBError(start, "LZF string of %d bytes cannot come from %d compressed bytes (%s)"
                               % (ulen, clen, what))
            data = self.raw(clen, what)
            try:
                out = _lzf_decompress(data, ulen)
            except ValueError:
                out = None
            if out is None or len(out) != ulen:
                raise RDBError(start, "invalid LZF compressed string (%s)" % what)
            return out
        raise RDBError(start, "unknown string encoding %d (%s)" % (n, what))

    def short_strings(self, n):
        """`n` strings when every one has a 6-bit length (under 64 bytes,
        neither integer-encoded nor compressed: the bulk of collection
        elements), read with no call per string; None, cursor unchanged,
        when one does not. Raises RDBError when the data ends early."""
        buf = self.buf
        p = self.pos
        out = []
        append = out.append
        try:
            for _ in range(n):
                b = buf[p]
                if b > 63:
                    return None
                p += 1 + b
                append(buf[p - b:p])
        except IndexError:
            p = len(buf) + 1
        if p > self.end:
            raise RDBError(self.pos, "unexpected end of data reading %d strings" % n)
        self.pos = p
        return out

    def double_text(self, what):
        """A score of the old ZSET type: a length byte (253 nan, 254 +inf,
        255 -inf) and that many ASCII characters."""
        start = self.pos
        n = self.byte(what)
        if n == 253:
            raise RDBError(start, "zset with a NaN score (%s)" % what)
        if n == 254:
            return math.inf
        if n == 255:
            return -math.inf
        text = self.raw(n, what)
        try:
            return float(text)
        except ValueError:
            raise RDBError(start, "bad score %r (%s)" % (text[:40], what)) from None

    def double_binary(self, what):
        self.need(8, what)
        v = _unpack_double(self.buf, self.pos)[0]
        if v != v:
            raise RDBError(self.pos, "zset with a NaN score (%s)" % what)
        self.pos += 8
        return v

    def millis(self):
        self.need(8, "an expire time")
        v = int.from_bytes(self.buf[self.pos:self.pos + 8], "little", signed=True)
        self.pos += 8
        return v
