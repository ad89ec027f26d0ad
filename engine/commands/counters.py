"""Counter commands on strings: INCR, DECR, INCRBY, DECRBY, INCRBYFLOAT.

A counter is a string holding a canonical integer (or, for INCRBYFLOAT, a
long double as Redis prints it); the result is stored back as bytes and
propagated deterministically (INCRBYFLOAT as SET ... KEEPTTL).
"""

import re
import warnings

from .. import resp
from ..util import INT64_MAX, INT64_MIN, format_long_double, parse_int
from . import command
from .strings import NOT_FLOAT, NOT_INT, WRONGTYPE


def _incr(c, argv, incr):
    key = argv[1]
    srv = c.server
    db = c.db
    old = srv.keyspace.lookup(db, key)
    if old is None:
        value = 0
    elif old.__class__ is not bytes:
        return resp.error(WRONGTYPE)
    else:
        value = parse_int(old)
        if value is None:
            return resp.error(NOT_INT)
    value += incr
    if value > INT64_MAX or value < INT64_MIN:
        return resp.error(b"ERR increment or decrement would overflow")
    srv.keyspace.set(db, key, b"%d" % value, keep_ttl=True)
    srv.propagate(db.id, argv)
    srv.notify(db.id, b"$", b"incrby", key)
    return resp.integer(value)


@command("incr", 2, "write denyoom fast", keys=(1, 1, 1), group="string",
         summary="Increments the integer value of a key by one. Uses 0 as initial value if the key doesn't exist.")
def incr(c, argv):
    return _incr(c, argv, 1)


@command("decr", 2, "write denyoom fast", keys=(1, 1, 1), group="string",
         summary="Decrements the integer value of a key by one. Uses 0 as initial value if the key doesn't exist.")
def decr(c, argv):
    return _incr(c, argv, -1)


@command("incrby", 3, "write denyoom fast", keys=(1, 1, 1), group="string",
         summary="Increments the integer value of a key by a number. "
                 "Uses 0 as initial value if the key doesn't exist.")
def incrby(c, argv):
    n = parse_int(argv[2])
    if n is None:
        return resp.error(NOT_INT)
    return _incr(c, argv, n)


@command("decrby", 3, "write denyoom fast", keys=(1, 1, 1), group="string",
         summary="Decrements a number from the integer value of a key. "
                 "Uses 0 as initial value if the key doesn't exist.")
def decrby(c, argv):
    n = parse_int(argv[2])
    if n is None:
        return resp.error(NOT_INT)
    if n == INT64_MIN:
        return resp.error(b"ERR decrement would overflow")
    return _incr(c, argv, -n)


# strtold's syntax (decimal, hex, inf, nan) -- numpy parses with strtold too,
# but is laxer about spaces, so the shape is checked first.
_LD_SYNTAX = re.compile(
    rb"[+-]?(?:(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?"
    rb"|0[xX](?:[0-9a-fA-F]+\.?[0-9a-fA-F]*|\.[0-9a-fA-F]+)(?:[pP][+-]?\d+)?"
    rb"|[iI][nN][fF](?:[iI][nN][iI][tT][yY])?)\Z")
_NONZERO_MANTISSA = re.compile(rb"[+-]?(?:0[xX])?[0.]*[1-9a-fA-F]")


def parse_long_double(b):
    """Bytes -> numpy.longdouble as Redis's string2ld accepts them, or None:
    no spaces, no NaN, and neither overflow to infinity nor underflow to zero."""
    import numpy  # noqa: PLC0415 - heavy import, only float commands need it

    if not b or len(b) >= 5 * 1024 or not _LD_SYNTAX.match(b):
        return None
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        v = numpy.longdouble(b.decode("ascii"))
    if numpy.isinf(v):
        if b"n" not in b and b"N" not in b:  # a finite literal that overflowed
            return None
    elif v == 0 and _NONZERO_MANTISSA.match(b.split(b"e")[0].split(b"E")[0].split(b"p")[0].split(b"P")[0]):
        return None
    return v


@command("incrbyfloat", 3, "write denyoom fast", keys=(1, 1, 1), group="string",
         summary="Increment the floating point value of a key by a number. "
                 "Uses 0 as initial value if the key doesn't exist.", since="2.6.0")
def incrbyfloat(c, argv):
    import numpy  # noqa: PLC0415

    srv = c.server
    db = c.db
    key = argv[1]
    old = srv.keyspace.lookup(db, key)
    if old is not None and old.__class__ is not bytes:
        return resp.error(WRONGTYPE)
    value = parse_long_double(old) if old is not None else numpy.longdouble(0)
    if value is None:
        return resp.error(NOT_FLOAT)
    incr = parse_long_double(argv[2])
    if incr is None:
        return resp.error(NOT_FLOAT)
    with numpy.errstate(all="ignore"):
        value = value + incr
    if not numpy.isfinite(value):
        return resp.error(b"ERR increment would produce NaN or Infinity")
    new = format_long_double(value)
    srv.keyspace.set(db, key, new, keep_ttl=True)
    if len(new) <= 20 and parse_int(new) is not None:
        db.enc[key] = b"embstr"  # Redis does not int-encode INCRBYFLOAT results
    srv.propagate(db.id, [b"SET", key, new, b"KEEPTTL"])
    srv.notify(db.id, b"$", b"incrbyfloat", key)
    return resp.bulk(new)
