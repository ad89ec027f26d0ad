"""Builders of valid compact blobs, straight from the format descriptions:
ziplists, listpacks, intsets and zipmaps (the values Redis keeps inside RDB
types 9-14, 16-18 and 20, and inside DUMP payloads). Each docstring is a
compact reference for its layout.

Shared by test_rdb_compact.py (the decoders on their own) and
test_rdb_versions.py (whole RDB files holding such blobs). tests/ is on
sys.path, so test modules import this as `compact_blobs`.
"""

import struct

# ---- builders: ziplist ----------------------------------------------------------------


def zl_str(s, width=None):
    """A ziplist string entry's <encoding><data>: 00pppppp (6-bit length),
    01pppppp qqqqqqqq (14-bit, big endian) or 0x80 + u32 big endian."""
    n = len(s)
    width = width or (6 if n < 64 else 14 if n < 16384 else 32)
    if width == 6:
        head = bytes([n])
    elif width == 14:
        head = bytes([0x40 | (n >> 8), n & 0xFF])
    else:
        head = b"\x80" + struct.pack(">I", n)
    return head + s


ZL_INT_ENC = {8: 0xFE, 16: 0xC0, 24: 0xF0, 32: 0xD0, 64: 0xE0}


def zl_int(v, width=None):
    """A ziplist integer's <encoding><data>: 0xF1..0xFD hold 0..12 in the byte
    itself ("imm"); otherwise an encoding byte and a signed little-endian value."""
    if width is None:
        width = "imm" if 0 <= v <= 12 else next(w for w in (8, 16, 24, 32, 64) if -(2 ** (w - 1)) <= v < 2 ** (w - 1))
    if width == "imm":
        return bytes([0xF1 + v])
    return bytes([ZL_INT_ENC[width]]) + v.to_bytes(width // 8, "little", signed=True)


def zl_body(item):
    return zl_int(item) if isinstance(item, int) else zl_str(item)


def zl_build(bodies, *, zllen=None, big_prevlen=False):
    """Header zlbytes u32, zltail u32 (offset of the last entry), zllen u16; each
    entry is <prevlen><body> with prevlen one byte below 254 else 0xFE + u32; 0xFF."""
    entries, prev = [], 0
    for body in bodies:
        prevlen = bytes([prev]) if prev < 254 and not big_prevlen else b"\xfe" + struct.pack("<I", prev)
        entries.append(prevlen + body)
        prev = len(entries[-1])
    tail = 10 + sum(len(e) for e in entries[:-1])
    data = b"".join(entries)
    count = len(entries) if zllen is None else zllen
    return struct.pack("<IIH", 10 + len(data) + 1, tail, count) + data + b"\xff"


def zl(*items, **kw):
    return zl_build([zl_body(i) for i in items], **kw)


# ---- builders: listpack ---------------------------------------------------------------


def lp_str(s, width=None):
    """<encoding><data> of a listpack string: 10xxxxxx (6-bit length),
    1110xxxx yyyyyyyy (12-bit, big endian) or 0xF0 + u32 little endian."""
    n = len(s)
    width = width or (6 if n < 64 else 12 if n < 4096 else 32)
    if width == 6:
        head = bytes([0x80 | n])
    elif width == 12:
        head = bytes([0xE0 | (n >> 8), n & 0xFF])
    else:
        head = b"\xf0" + struct.pack("<I", n)
    return head + s


LP_INT_ENC = {16: 0xF1, 24: 0xF2, 32: 0xF3, 64: 0xF4}


def lp_int(v, width=None):
    """0xxxxxxx: 0..127; 110xxxxx yyyyyyyy: 13-bit two's complement (high bits
    first); 0xF1..0xF4: 16/24/32/64-bit signed little endian."""
    if width is None:
        width = 7 if 0 <= v <= 127 else next(w for w in (13, 16, 24, 32, 64) if -(2 ** (w - 1)) <= v < 2 ** (w - 1))
    if width == 7:
        return bytes([v])
    if width == 13:
        u = v & 0x1FFF
        return bytes([0xC0 | (u >> 8), u & 0xFF])
    return bytes([LP_INT_ENC[width]]) + v.to_bytes(width // 8, "little", signed=True)


def lp_backlen(n):
    """The entry size (encoding + data) in base 128, most significant group first,
    the 0x80 flag on every byte but the first, so it reads right to left. The
    size bands are Redis's own (16383 already takes three bytes)."""
    nbytes = 1 if n <= 127 else 2 if n < 16383 else 3 if n < 2097151 else 4 if n < 268435455 else 5
    groups = [(n >> (7 * i)) & 127 for i in reversed(range(nbytes))]
    groups[0] = n >> (7 * (nbytes - 1))
    return bytes([groups[0]] + [g | 0x80 for g in groups[1:]])


def lp_body(item):
    return lp_int(item) if isinstance(item, int) else lp_str(item)


def lp_build(bodies, *, count=None):
    """Header total bytes u32, count u16 (65535: unknown); entries <body><backlen>; 0xFF."""
    data = b"".join(b + lp_backlen(len(b)) for b in bodies)
    n = len(bodies) if count is None else count
    return struct.pack("<IH", 6 + len(data) + 1, n) + data + b"\xff"


def lp(*items, **kw):
    return lp_build([lp_body(i) for i in items], **kw)


# ---- builders: intset and zipmap ------------------------------------------------------


def intset_build(values, enc=None):
    """encoding u32 (bytes per member), length u32, members signed little endian."""
    if enc is None:
        enc = next(e for e in (2, 4, 8) if all(-(2 ** (8 * e - 1)) <= v < 2 ** (8 * e - 1) for v in values))
    return struct.pack("<II", enc, len(values)) + b"".join(v.to_bytes(enc, "little", signed=True) for v in values)


def zm_len(n, big=False):
    return bytes([n]) if n < 254 and not big else b"\xfe" + struct.pack("<I", n)


def zipmap_build(pairs, *, zmlen=None, free=0):
    """zmlen u8, then <len>key<len><free>value<free unused bytes> per pair, 0xFF."""
    body = b"".join(zm_len(len(k)) + k + zm_len(len(v)) + bytes([free]) + v + b"\0" * free for k, v in pairs)
    return bytes([len(pairs) if zmlen is None else zmlen]) + body + b"\xff"


def d(v):
    """The decimal text a decoder hands back for an integer entry."""
    return b"%d" % v
