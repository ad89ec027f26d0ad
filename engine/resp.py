"""RESP reply encoding (RESP2 and RESP3).

Handlers build replies with these functions and return the encoded bytes; the
client's protocol version decides the few shapes that differ (null, map, set,
double, boolean, push). Everything here is on the hot path: keep it flat.
"""

from .util import format_double

OK = b"+OK\r\n"
PONG = b"+PONG\r\n"
QUEUED = b"+QUEUED\r\n"
ZERO = b":0\r\n"
ONE = b":1\r\n"
EMPTY_ARRAY = b"*0\r\n"
NULL_BULK2 = b"$-1\r\n"
NULL_ARRAY2 = b"*-1\r\n"
NULL3 = b"_\r\n"

_SMALL_INTS = [b":%d\r\n" % i for i in range(-1, 10001)]


def integer(n):
    if -1 <= n <= 10000:
        return _SMALL_INTS[n + 1]
    return b":%d\r\n" % n


# Bulk headers for small lengths: concatenating a cached header is about
# twice as fast as %-formatting on the GET path.
BULK_HEADERS = [b"$%d\r\n" % i for i in range(4096)]
# (header, CRLF) pairs: `value.join(BULK_FRAMES[n])` builds a bulk reply with
# one call and one allocation (cheaper than header + value + CRLF).
BULK_FRAMES = [(h, b"\r\n") for h in BULK_HEADERS]


def bulk(b):
    n = len(b)
    if n < 4096:
        return b.join(BULK_FRAMES[n])
    return b"$%d\r\n%s\r\n" % (n, b)


def bulk_str(s):
    return bulk(s.encode())


def simple(s):
    return b"+%s\r\n" % s


def error(msg):
    """An error reply; `msg` is bytes or str and carries its prefix (ERR, WRONGTYPE...)."""
    if isinstance(msg, str):
        msg = msg.encode()
    # Errors are one line: Redis replaces newlines with spaces.
    if b"\n" in msg or b"\r" in msg:
        msg = msg.replace(b"\r", b" ").replace(b"\n", b" ")
    return b"-%s\r\n" % msg


def array_header(n):
    return b"*%d\r\n" % n


def bulk_array(items):
    """An array of bulk strings (None items become null bulks, as in RESP2)."""
    parts = [b"*%d\r\n" % len(items)]
    for it in items:
        if it is None:
            parts.append(NULL_BULK2)
        else:
            n = len(it)
            parts.append(it.join(BULK_FRAMES[n]) if n < 4096 else b"$%d\r\n%s\r\n" % (n, it))
    return b"".join(parts)


def bulk_array3(items):
    """As bulk_array, with RESP3 nulls."""
    parts = [b"*%d\r\n" % len(items)]
    for it in items:
        if it is None:
            parts.append(NULL3)
        else:
            n = len(it)
            parts.append(it.join(BULK_FRAMES[n]) if n < 4096 else b"$%d\r\n%s\r\n" % (n, it))
    return b"".join(parts)


def array(encoded_items):
    """An array of already encoded replies."""
    return b"*%d\r\n" % len(encoded_items) + b"".join(encoded_items)


def verbatim(text, resp, fmt=b"txt"):
    """A verbatim string (RESP3 '='), a bulk string in RESP2."""
    if resp >= 3:
        return b"=%d\r\n%s:%s\r\n" % (len(text) + 4, fmt, text)
    return bulk(text)


def map_(pairs, resp):
    """A map of already encoded (key, value) replies: RESP3 '%', flat array in RESP2."""
    if resp >= 3:
        return b"%%%d\r\n" % len(pairs) + b"".join(k + v for k, v in pairs)
    return b"*%d\r\n" % (2 * len(pairs)) + b"".join(k + v for k, v in pairs)


def set_(encoded_items, resp):
    if resp >= 3:
        return b"~%d\r\n" % len(encoded_items) + b"".join(encoded_items)
    return array(encoded_items)


def double(v, resp):
    if resp >= 3:
        return b",%s\r\n" % format_double(v)
    return bulk(format_double(v))


def boolean(v, resp):
    if resp >= 3:
        return b"#t\r\n" if v else b"#f\r\n"
    return ONE if v else ZERO


def null(resp):
    return NULL3 if resp >= 3 else NULL_BULK2


def null_array(resp):
    return NULL3 if resp >= 3 else NULL_ARRAY2


def push(encoded_items, resp):
    """An out-of-band push (pub/sub messages, invalidations)."""
    if resp >= 3:
        return b">%d\r\n" % len(encoded_items) + b"".join(encoded_items)
    return array(encoded_items)


def encode_value(v, resp=2):
    """Encode a plain Python value generically (used by introspection commands:
    COMMAND, CONFIG GET, HELLO...). dict -> map, list/tuple -> array, int ->
    integer, str/bytes -> bulk, None -> null, float -> double, bool -> boolean."""
    if isinstance(v, bool):
        return boolean(v, resp)
    if isinstance(v, int):
        return integer(v)
    if isinstance(v, bytes):
        return bulk(v)
    if isinstance(v, str):
        return bulk(v.encode())
    if v is None:
        return null(resp)
    if isinstance(v, float):
        return double(v, resp)
    if isinstance(v, dict):
        return map_([(encode_value(k, resp), encode_value(x, resp)) for k, x in v.items()], resp)
    if isinstance(v, (set, frozenset)):
        return set_([encode_value(x, resp) for x in v], resp)
    if isinstance(v, (list, tuple)):
        return array([encode_value(x, resp) for x in v])
    raise TypeError("cannot encode %r" % (v,))


def encode_command(argv):
    """A command as RESP multibulk, the form the AOF and replication carry.
    The common shapes (SET k v, DEL k, HSET k f v) take one formatting call."""
    n = len(argv)
    if n == 3:
        a, b, c = argv
        return b"*3\r\n$%d\r\n%b\r\n$%d\r\n%b\r\n$%d\r\n%b\r\n" % (len(a), a, len(b), b, len(c), c)
    if n == 2:
        a, b = argv
        return b"*2\r\n$%d\r\n%b\r\n$%d\r\n%b\r\n" % (len(a), a, len(b), b)
    if n == 4:
        a, b, c, d = argv
        return b"*4\r\n$%d\r\n%b\r\n$%d\r\n%b\r\n$%d\r\n%b\r\n$%d\r\n%b\r\n" % (
            len(a), a, len(b), b, len(c), c, len(d), d)
    parts = [b"*%d\r\n" % n]
    for a in argv:
        parts.append(b"$%d\r\n%s\r\n" % (len(a), a))
    return b"".join(parts)
