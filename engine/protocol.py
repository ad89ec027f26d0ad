"""Request parsing: turns the bytes a client sends into argv lists.

Two paths, one behaviour:

* The fast path hands a whole read to hiredis (C) when the client has nothing
  pending and the read starts a multibulk request. Pipelines of small commands,
  which is nearly all traffic, never touch Python-level parsing.
* The exact path is a Python port of Redis's processInlineBuffer /
  processMultibulkBuffer. It takes over whenever hiredis cannot finish a read
  cleanly (a request split across reads, an inline command, anything hiredis
  rejects) so that limits and errors are Redis's, word for word: hiredis would
  happily wait for a 2^40-byte bulk that Redis refuses at once.

Handing over needs the offset where hiredis stopped, which hiredis does not
expose. It does expose its buffer length, and it compacts the buffer (drops
consumed bytes) each time it has consumed 1 KiB, always right after a complete
request. So a second hiredis pass over the same read, watching the length after
each request, finds the last compaction point: a request boundary at most
~1 KiB before the cut, from where the Python parser frames the rest exactly.
"""

import collections
import re

import hiredis

from .util import parse_int

INLINE_MAX_SIZE = 64 * 1024  # PROTO_INLINE_MAX_SIZE
MULTIBULK_MAX = (1 << 31) - 1  # INT_MAX, as Redis 7


_consume = collections.deque(maxlen=0).extend  # runs an iterator to its end in C
_join = b"".join


class ProtocolError(Exception):
    """A malformed request: the client gets '-ERR Protocol error: ...' and is closed."""


class RequestParser:
    """Per-client incremental parser. `parse(data)` returns the complete
    requests found so far (a list of argv lists of bytes) and raises
    ProtocolError after returning nothing for the requests that precede the
    fault (those are delivered by a first call; see `error_after`)."""

    __slots__ = (
        "reader", "pending", "pos", "multibulk_left", "bulk_len", "args",
        "max_bulk_len", "error", "whole",
    )

    def __init__(self, max_bulk_len=512 * 1024 * 1024):
        self.reader = hiredis.Reader()
        self.pending = bytearray()  # bytes the exact path has not consumed
        self.pos = 0
        self.multibulk_left = 0  # args still to read of the current request
        self.bulk_len = -1  # length of the bulk being read, -1 if unknown
        self.args = []
        self.max_bulk_len = max_bulk_len
        self.error = None  # a ProtocolError found after some good requests
        # (requests, read) while the caller runs a read hiredis parsed whole:
        # the read is then, byte for byte, those requests as RESP encodes
        # them (counts and lengths have no other spelling: hiredis refuses
        # leading zeros and signs), so a write can be propagated as the
        # bytes the client sent instead of encoded again. The event loop
        # clears it once the read's requests have run.
        self.whole = None

    def pending_bytes(self):
        """Bytes buffered but not yet turned into requests (query buffer size)."""
        return len(self.pending) - self.pos

    def parse(self, data):
        """Feed one read; return the complete requests it finished.

        When the data holds good requests followed by a malformed one, the good
        ones are returned and `self.error` is set: the caller runs them, then
        replies with the error and closes the connection, as Redis does."""
        # None of `> ~ | + = (` in the read: one translate() for a short read
        # (a call each costs more there), six memchr-fast finds for a long one.
        if (not self.pending and not self.multibulk_left and data[:1] == b"*" and _BIG_MULTIBULK(data) is None
                and ((len(data.translate(None, _RARE_TYPE_BYTES)) == len(data) if len(data) < 512 else
                      data.find(b">") < 0 and data.find(b"~") < 0 and data.find(b"|") < 0
                      and data.find(b"+") < 0 and data.find(b"=") < 0 and data.find(b"(") < 0)
                     or _hiredis_may_take(data))):
            reader = self.reader
            reader.feed(data)
            try:
                req = reader.gets()
                if req is False:
                    return self._handover(data)  # not even one whole request
                nxt = reader.gets()
                if nxt is False:
                    out = [req]  # one request per read: unpipelined traffic
                else:
                    out = [req, nxt]
                    out += iter(reader.gets, False)  # the rest, called from C
            except (hiredis.ProtocolError, MemoryError):
                return self._handover(data)
            if reader.has_data():
                return self._handover(data)
            # hiredis accepts replies that are not requests (integers, nested
            # arrays, nulls): those go to the exact path, which rejects them
            # with Redis's words. The checks run in C: only arrays at the top
            # (list.__len__, or counting types, rejects a RESP3 map too, which
            # join would take), b"".join rejects anything but bytes inside one.
            #
            # hiredis does not say whether it stopped between two requests or
            # inside one (it consumes a partial's type byte and headers). One
            # request: if the read ends with CRLF and every CRLF in it framed
            # that request, nothing is left inside. Several, or CRLFs in a
            # payload: ask hiredis, since a sentinel request comes back whole
            # only when it starts on a request boundary (cheaper than counting
            # a pipeline's CRLFs).
            try:
                if nxt is False:
                    crlf = 1 + (list.__len__(out[0]) << 1)
                    _join(out[0])
                    if data[-1] == 10 and data[-2] == 13 and data.count(b"\r\n") == crlf:
                        self.whole = (out, data)
                        return out
                else:
                    if list(map(type, out)).count(list) != len(out):
                        return self._handover(data)
                    _consume(map(_join, out))
            except TypeError:
                return self._handover(data)
            reader.feed(_SENTINEL)
            try:
                tail = reader.gets()
            except (hiredis.ProtocolError, MemoryError):
                tail = None
            if tail != _SENTINEL_REQ:
                return self._handover(data)
            self.whole = (out, data)
            return out
        if self.pending or self.multibulk_left:  # inside a request split across reads
            return self._continue(data)
        self.pending += data  # inline commands, or a huge multibulk count
        return self._parse_exact([])

    def _continue(self, data):
        """A read that continues a request split across reads: finish that
        request exactly, then give the rest of the read back to `parse`
        (whose pending buffer is now empty, so this recurses once at most).
        A long pipeline cut by every read thus stays on hiredis."""
        self.pending += data
        out = self._parse_exact([], limit=1)
        if self.error is not None or not out or self.multibulk_left or self.pos >= len(self.pending):
            self._compact()
            return out
        rest = bytes(self.pending[self.pos:])
        self.pending = bytearray()
        self.pos = 0
        out.extend(self.parse(rest))
        return out

    # -- hand-over from hiredis to the exact parser ------------------------------

    def _handover(self, data):
        """hiredis could not finish `data` cleanly. Replay it alone through a
        fresh reader to collect the good requests and the last request
        boundary it passed, then let the exact parser frame the rest."""
        self.reader = hiredis.Reader()
        done, boundary, skip = _replay(data)
        for req in done:
            if req.__class__ is not list or not _all_bulk(req):
                # Rare: re-parse the whole read exactly, one truth for errors.
                self.pending = bytearray(data)
                self.pos = 0
                return self._parse_exact([])
        self.pending = bytearray(data)
        self.pos = boundary
        # Re-frame the few requests hiredis returned after the boundary; the
        # exact parser must agree with hiredis on them (it only rejects more).
        redone = self._parse_exact([], limit=skip)
        if self.error is not None:
            return done[: len(done) - skip + len(redone)]
        return self._parse_exact(done)

    # -- the exact parser ---------------------------------------------------------

    def _parse_exact(self, out, limit=None):
        buf = self.pending
        try:
            while self.pos < len(buf):
                if limit is not None and len(out) >= limit:
                    break
                if self.multibulk_left == 0:
                    if buf[self.pos] == 42:  # '*'
                        if not self._multibulk_header(buf):
                            break
                        if self.multibulk_left == 0:
                            # '*0' and '*-1' are empty requests; the caller skips
                            # them, but they count, as they do for hiredis.
                            out.append([])
                            continue
                    else:
                        argv = self._inline(buf)
                        if argv is None:
                            break
                        if argv:
                            out.append(argv)
                        continue
                if not self._multibulk_args(buf):
                    break
                out.append(self.args)
                self.args = []
        except ProtocolError as e:
            self.error = e
        if limit is None:
            self._compact()
        return out

    def _compact(self):
        if self.pos:
            if self.pos >= len(self.pending):
                self.pending = bytearray()
            else:
                del self.pending[: self.pos]
            self.pos = 0

    def _inline(self, buf):
        nl = buf.find(b"\n", self.pos)
        if nl < 0:
            if len(buf) - self.pos > INLINE_MAX_SIZE:
                raise ProtocolError("too big inline request")
            return None
        end = nl - 1 if nl > self.pos and buf[nl - 1] == 13 else nl
        line = bytes(buf[self.pos : end])
        self.pos = nl + 1
        argv = split_args(line)
        if argv is None:
            raise ProtocolError("unbalanced quotes in request")
        return argv

    def _multibulk_header(self, buf):
        cr = buf.find(b"\r", self.pos)
        if cr < 0 or cr + 1 >= len(buf):
            if len(buf) - self.pos > INLINE_MAX_SIZE:
                raise ProtocolError("too big mbulk count string")
            return False
        n = parse_int(bytes(buf[self.pos + 1 : cr]))
        if n is None or n > MULTIBULK_MAX:
            raise ProtocolError("invalid multibulk length")
        self.pos = cr + 2
        self.multibulk_left = max(n, 0)
        self.bulk_len = -1
        self.args = []
        return True

    def _multibulk_args(self, buf):
        """Read the remaining args of the current request; True when complete."""
        while self.multibulk_left:
            if self.bulk_len < 0:
                if self.pos >= len(buf):
                    return False
                cr = buf.find(b"\r", self.pos)
                if cr < 0 or cr + 1 >= len(buf):
                    if len(buf) - self.pos > INLINE_MAX_SIZE:
                        raise ProtocolError("too big bulk count string")
                    return False
                if buf[self.pos] != 36:  # '$'
                    raise ProtocolError("expected '$', got '%c'" % buf[self.pos])
                n = parse_int(bytes(buf[self.pos + 1 : cr]))
                if n is None or n < 0 or n > self.max_bulk_len:
                    raise ProtocolError("invalid bulk length")
                self.pos = cr + 2
                self.bulk_len = n
            if len(buf) - self.pos < self.bulk_len + 2:
                return False
            self.args.append(bytes(buf[self.pos : self.pos + self.bulk_len]))
            # Like Redis, skip the two bytes after the payload without checking them.
            self.pos += self.bulk_len + 2
            self.bulk_len = -1
            self.multibulk_left -= 1
        return True


def _all_bulk(req):
    for a in req:
        if a.__class__ is not bytes:
            return False
    return True


def _replay(data):
    """Run `data` through a fresh hiredis reader. Returns (requests,
    offset, k): the complete requests it yields before stopping, and the
    last request boundary it passed (the last point where hiredis dropped its
    consumed bytes, or 0), with `k` the number of those requests after it."""
    r = hiredis.Reader()
    r.feed(data)
    total = prev = len(data)
    boundary, at = 0, 0
    done = []
    try:
        while True:
            req = r.gets()
            if req is False:
                break
            done.append(req)
            cur = r.len()
            if cur != prev:  # compaction: the buffer now starts at a boundary
                boundary, at = total - cur, len(done)
                prev = cur
    except (hiredis.ProtocolError, MemoryError):
        pass
    return done, boundary, len(done) - at


# What hiredis would get wrong goes to the exact path. Payload bytes can
# match too; that only costs the slower path for that read.
#
# A count of a million or more for an aggregate (a multibulk; RESP3's set,
# push and attribute, which hiredis also takes inside a request): hiredis
# would allocate the whole list up front and spend seconds freeing it (a
# nested `>100000000` took 2.5 s and 773 MB). The exact path allocates as
# the arguments arrive, and refuses anything but `$` inside a request.
_BIG_MULTIBULK = re.compile(rb"\*[1-9][0-9]{6}").search
_RARE_TYPE_BYTES = b">~|+=("  # see _hiredis_may_take
_BIG_RESP3_AGGREGATE = re.compile(rb"[~>|][1-9][0-9]{6}").search
# A simple string, verbatim string or big number where a bulk belongs:
# hiredis hands them back as bytes, indistinguishable from a `$` bulk; Redis
# refuses them ("expected '$', got '+'"). An element's type byte always
# follows a CRLF.
_STRING_LIKE_ELEMENT = re.compile(rb"\r\n[+=(]").search


def _hiredis_may_take(data):
    """`data` holds one of the bytes `> ~ | + = (` (rare in requests): the
    slower, exact checks of whether hiredis can parse it as Redis would."""
    return _BIG_RESP3_AGGREGATE(data) is None and _STRING_LIKE_ELEMENT(data) is None


_SENTINEL_REQ = [b"\x00holdfast:request-boundary\x00"]
_SENTINEL = b"*1\r\n$%d\r\n%s\r\n" % (len(_SENTINEL_REQ[0]), _SENTINEL_REQ[0])


# ---- inline argument splitting (sdssplitargs) ----------------------------------

_ESCAPES = {ord("n"): 10, ord("r"): 13, ord("t"): 9, ord("b"): 8, ord("a"): 7}
_HEX = b"0123456789abcdefABCDEF"
_SPACE = b" \n\r\t\x0b\x0c\x00"


def split_args(line):
    """Split an inline command line as Redis's sdssplitargs does: whitespace
    separated, "double quotes" with \\xHH and C escapes, 'single quotes' with
    only \\' escaped. Returns None on unbalanced quotes."""
    if b'"' not in line and b"'" not in line:
        return line.split()
    args = []
    i, n = 0, len(line)
    while True:
        while i < n and line[i] in _SPACE:
            i += 1
        if i >= n:
            return args
        cur = bytearray()
        inq = insq = False
        while True:
            if inq:
                if i >= n:
                    return None
                c = line[i]
                if c == 92 and i + 3 < n and line[i + 1] == 120 and line[i + 2] in _HEX and line[i + 3] in _HEX:
                    cur.append(int(line[i + 2 : i + 4], 16))
                    i += 3
                elif c == 92 and i + 1 < n:
                    i += 1
                    cur.append(_ESCAPES.get(line[i], line[i]))
                elif c == 34:
                    if i + 1 < n and line[i + 1] not in _SPACE:
                        return None
                    i += 1
                    break
                else:
                    cur.append(c)
            elif insq:
                if i >= n:
                    return None
                c = line[i]
                if c == 92 and i + 1 < n and line[i + 1] == 39:
                    i += 1
                    cur.append(39)
                elif c == 39:
                    if i + 1 < n and line[i + 1] not in _SPACE:
                        return None
                    i += 1
                    break
                else:
                    cur.append(c)
            else:
                if i >= n:
                    break
                c = line[i]
                if c in _SPACE:
                    break
                if c == 34:
                    inq = True
                elif c == 39:
                    insq = True
                else:
                    cur.append(c)
            i += 1
        args.append(bytes(cur))
