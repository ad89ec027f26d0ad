"""Small pure helpers shared by the engine: Redis-strict number parsing and
formatting, glob matching, memory units.

Redis is strict about numbers ("+1", " 1" and "01" are not integers) and prints
doubles in its own way; these helpers reproduce both so replies match byte for
byte.
"""

import math
import os
import re
import time

INT64_MIN = -(1 << 63)
INT64_MAX = (1 << 63) - 1


def parse_int(b):
    """Parse bytes as Redis's string2ll does: optional '-', no '+', no
    leading zeros, no spaces, within int64. Returns None when it is not one."""
    if b.isdigit():
        if len(b) > 1 and b[0] == 48:  # leading zero
            return None
        if len(b) > 19:
            return None
        v = int(b)
        return v if v <= INT64_MAX else None
    if len(b) > 1 and b[0] == 45 and b[1:].isdigit():  # '-'
        if b[1] == 48 or len(b) > 20:
            return None
        v = int(b)
        return v if v >= INT64_MIN else None
    return None


_FLOAT_RE = re.compile(rb"[ \t\r\n\v\f]|_|\A\Z")


def parse_float(b):
    """Parse bytes as Redis's string2d/strtod: accepts 'inf', '-inf', exponents,
    rejects spaces, empty strings and NaN. Returns None when invalid."""
    if not b or len(b) > 5000 or _FLOAT_RE.search(b):
        return None
    try:
        v = float(b)
    except ValueError:
        return None
    if v != v:  # NaN
        return None
    return v


def format_double(v):
    """A double as Redis 7.0 replies it (addReplyDouble / d2string): integers
    that fit exactly print without a fraction, others with %.17g."""
    if math.isinf(v):
        return b"inf" if v > 0 else b"-inf"
    if v == int(v) and -(1 << 52) < v < (1 << 52):
        return b"%d" % int(v)
    return b"%.17g" % v


def format_long_double(v):
    """A number as INCRBYFLOAT prints it (Redis's ld2string LD_STR_HUMAN):
    '%.17Lf' with trailing zeros and a trailing '.' removed. `v` is a
    numpy.longdouble so the arithmetic matches the C long double Redis uses."""
    import numpy  # noqa: PLC0415 - heavy import, only INCRBYFLOAT needs it

    s = numpy.format_float_positional(v, precision=17, unique=False, fractional=True, trim="k")
    if "." in s:
        s = s.rstrip("0").rstrip(".")
    if s == "-0":
        s = "0"
    return s.encode()


def now_ms():
    return int(time.time() * 1000)


# ---- glob matching (Redis stringmatchlen) ---------------------------------

_glob_cache = {}


def _translate_glob(pattern):
    """Translate a Redis glob (*, ?, [..], [^..], ranges, backslash escapes)
    into a compiled regex over bytes."""
    i, n = 0, len(pattern)
    out = []
    while i < n:
        c = pattern[i : i + 1]
        if c == b"*":
            while i + 1 < n and pattern[i + 1 : i + 2] == b"*":
                i += 1
            out.append(b".*")
        elif c == b"?":
            out.append(b".")
        elif c == b"[":
            j = i + 1
            negate = False
            if j < n and pattern[j : j + 1] == b"^":
                negate = True
                j += 1
            items = []
            while j < n and pattern[j : j + 1] != b"]":
                ch = pattern[j : j + 1]
                if ch == b"\\" and j + 1 < n:
                    items.append(re.escape(pattern[j + 1 : j + 2]))
                    j += 2
                    continue
                if j + 2 < n and pattern[j + 1 : j + 2] == b"-" and pattern[j + 2 : j + 3] != b"]":
                    lo, hi = pattern[j], pattern[j + 2]
                    if lo > hi:
                        lo, hi = hi, lo
                    items.append(re.escape(bytes([lo])) + b"-" + re.escape(bytes([hi])))
                    j += 3
                    continue
                items.append(re.escape(ch))
                j += 1
            # An unterminated class matches what it has seen (Redis's behaviour).
            body = b"".join(items)
            if not body:
                out.append(b"(?!)" if not negate else b".")
            else:
                out.append(b"[" + (b"^" if negate else b"") + body + b"]")
            i = j
        elif c == b"\\" and i + 1 < n:
            i += 1
            out.append(re.escape(pattern[i : i + 1]))
        else:
            out.append(re.escape(c))
        i += 1
    return re.compile(b"".join(out) + rb"\Z", re.DOTALL)


def glob_matcher(pattern, nocase=False):
    """Return a function bytes -> bool for a Redis glob pattern."""
    key = (pattern, nocase)
    m = _glob_cache.get(key)
    if m is None:
        if pattern == b"*":
            m = _match_all
        else:
            rx = _translate_glob(pattern.lower() if nocase else pattern)
            if nocase:
                m = lambda s, _m=rx.match: _m(s.lower()) is not None  # noqa: E731
            else:
                m = lambda s, _m=rx.match: _m(s) is not None  # noqa: E731
        if len(_glob_cache) > 1000:
            _glob_cache.clear()
        _glob_cache[key] = m
    return m


def _match_all(_s):
    return True


# ---- memory units (redis.conf "1k", "5gb", ...) ----------------------------

_UNITS = {
    b"": 1, b"b": 1,
    b"k": 1000, b"kb": 1024,
    b"m": 1000 ** 2, b"mb": 1024 ** 2,
    b"g": 1000 ** 3, b"gb": 1024 ** 3,
}


def parse_memory(b):
    """Parse a redis.conf memory value ("100", "1k", "2gb"); None if invalid."""
    m = re.fullmatch(rb"(-?\d+)([a-zA-Z]*)", b)
    if not m:
        return None
    unit = _UNITS.get(m.group(2).lower())
    if unit is None:
        return None
    return int(m.group(1)) * unit


def format_memory_human(n):
    """Bytes as INFO's *_human fields print them (e.g. 1.02M)."""
    if n < 1024:
        return "%dB" % n
    for unit, div in (("K", 1024), ("M", 1024 ** 2), ("G", 1024 ** 3), ("T", 1024 ** 4)):
        if n < div * 1024 or unit == "T":
            return "%.2f%s" % (n / div, unit)
    return "%dB" % n


def release_free_memory():
    """Give the heap's free pages back to the kernel (glibc's malloc_trim).
    After a load, the freed buffers of the file and of every grown dict
    table stay mapped: a fork child would share them, and the parent's next
    allocations, landing there, would copy page after page during a BGSAVE
    (measured: 120 MB for 1M keys under INFO polling, against 3 MB after a
    trim). A no-op where the C library has no malloc_trim."""
    try:
        import ctypes  # noqa: PLC0415 - only at the end of a load

        libc = ctypes.CDLL(None)
        trim = getattr(libc, "malloc_trim", None)
    except OSError:
        return
    if trim is not None:
        trim(0)


PR_SET_PDEATHSIG = 1


def die_with_parent(sig, parent_pid):
    """Have the kernel send `sig` to this process when its parent dies
    (prctl PR_SET_PDEATHSIG), and exit now if it already has: a fork child
    or I/O worker must not outlive a killed server (an orphaned snapshot
    child would go on writing into a directory a restarted server uses).
    A no-op where prctl is missing."""
    try:
        import ctypes  # noqa: PLC0415 - only in children

        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, sig)
    except (OSError, AttributeError):
        return
    if os.getppid() != parent_pid:  # the parent died before prctl took effect
        os._exit(1)
