"""Decoders for the compact blobs Redis stores inside RDB values.

Small hashes, lists, sets and sorted sets are saved in an RDB file as one
string holding the server's in-memory compact encoding: a ziplist (RDB 9 and
older), a listpack (RDB 10+, Redis 7), an intset, or the ancient zipmap. The
RDB loader reads the outer string (length framing, LZF) and hands the raw blob
to the functions here, which return plain Python lists. Integer entries come
back as their decimal ASCII bytes (b"-12") because the keyspace keeps every
value as bytes.

The blobs come from files we did not write, so every function validates as it
goes and raises CompactError, naming the structure, the entry index and the
problem, on the first inconsistency. No length field is trusted before it has
been checked against the bytes actually present, so a corrupt length cannot
make us allocate or loop beyond the size of the blob. The checks mirror what
Redis itself does before accepting a blob (ziplistValidateIntegrity,
lpValidateIntegrity, intsetValidateIntegrity, zipmapValidateIntegrity, all
with deep=1), a little stricter where Redis is merely lenient about bytes it
never writes. Semantic checks (duplicate hash fields, an odd number of entries
for a hash) belong to the caller, who knows what the blob is meant to hold.
"""

import struct
from operator import lt

__all__ = ["CompactError", "intset_members", "listpack_entries", "ziplist_entries", "zipmap_pairs"]


class CompactError(ValueError):
    """A compact blob is malformed; the message says where and how."""


_ZL_HEADER = struct.Struct("<IIH")  # zlbytes, zltail, zllen
_ZL_HEADER_SIZE = 10
_ZL_COUNT_UNKNOWN = 0xFFFF  # zllen saturates: the real count needs a walk
# Ziplist integer encodings (first byte) -> payload width in bytes, signed LE.
_ZL_INT_WIDTH = {0xFE: 1, 0xC0: 2, 0xF0: 3, 0xD0: 4, 0xE0: 8}

_LP_HEADER = struct.Struct("<IH")  # total bytes, element count
_LP_HEADER_SIZE = 6
_LP_COUNT_UNKNOWN = 0xFFFF
# Listpack integer encodings 0xF1..0xF4 -> payload width in bytes, signed LE.
_LP_INT_WIDTH = (2, 3, 4, 8)

_INTSET_HEADER = struct.Struct("<II")  # encoding (bytes per member), length
_INTSET_CODES = {2: "h", 4: "i", 8: "q"}

_U32 = struct.Struct("<I")
_U32_BE = struct.Struct(">I")

_EOF = 0xFF


def _as_bytes(blob):
    # One copy for bytearray/memoryview, so every slice we hand out is immutable bytes.
    return blob if type(blob) is bytes else bytes(blob)


def _past_end(what, index, desc, offset, size):
    return CompactError(f"{what} entry {index}: {desc} runs past the end (offset {offset} of {size})")


def _check_frame(what, buf, minimum):
    """Common checks before walking: a readable header and the 0xFF terminator."""
    size = len(buf)
    if size < minimum:
        raise CompactError(f"{what}: blob of {size} bytes is shorter than the {minimum}-byte minimum")
    if buf[-1] != _EOF:
        raise CompactError(f"{what}: missing 0xFF terminator (last byte is 0x{buf[-1]:02x})")
    return size


def ziplist_entries(blob) -> list[bytes]:
    """Every entry of a ziplist, integers as decimal bytes.

    Layout: zlbytes u32, zltail u32 (offset of the last entry), zllen u16, then
    entries <prevlen><encoding><data>, then 0xFF. prevlen is the byte size of
    the previous entry: one byte below 254, else 0xFE and a u32.
    """
    buf = _as_bytes(blob)
    size = _check_frame("ziplist", buf, _ZL_HEADER_SIZE + 1)
    zlbytes, zltail, zllen = _ZL_HEADER.unpack_from(buf)
    if zlbytes != size:
        raise CompactError(f"ziplist header: zlbytes {zlbytes} does not match blob length {size}")
    end = size - 1  # offset of the terminator; no entry may reach it
    if zltail > end:
        raise CompactError(f"ziplist header: zltail {zltail} is past the end (blob is {size} bytes)")

    out = []
    append = out.append
    pos = _ZL_HEADER_SIZE
    prev_size = 0
    last = None
    index = 0
    # buf[end] is 0xFF and every step below keeps pos <= end, so this stops.
    while buf[pos] != _EOF:
        start = pos
        if buf[pos] == 0xFE:  # 5-byte prevlen; Redis may keep it even for small values
            if pos + 5 > end:
                raise _past_end("ziplist", index, "5-byte prevlen", pos, size)
            prevlen = _U32.unpack_from(buf, pos + 1)[0]
            pos += 5
        else:
            prevlen = buf[pos]
            pos += 1
        if prevlen != prev_size:
            raise CompactError(
                f"ziplist entry {index}: prevlen {prevlen} does not match the previous entry's size {prev_size}"
            )
        if pos >= end:
            raise _past_end("ziplist", index, "encoding byte", pos, size)
        enc = buf[pos]
        kind = enc >> 6
        if kind == 3:  # integers
            if 0xF1 <= enc <= 0xFD:  # 4-bit immediate: 0xF1 means 0, 0xFD means 12
                append(b"%d" % (enc - 0xF1))
                pos += 1
            else:
                width = _ZL_INT_WIDTH.get(enc)
                if width is None:
                    raise CompactError(f"ziplist entry {index}: unknown encoding byte 0x{enc:02x} at offset {pos}")
                pos += 1
                if pos + width > end:
                    raise _past_end("ziplist", index, f"{width}-byte integer", pos, size)
                append(b"%d" % int.from_bytes(buf[pos : pos + width], "little", signed=True))
                pos += width
        else:
            if kind == 0:  # 00pppppp
                n = enc & 0x3F
                pos += 1
            elif kind == 1:  # 01pppppp qqqqqqqq, big endian
                if pos + 2 > end:
                    raise _past_end("ziplist", index, "14-bit string length", pos, size)
                n = ((enc & 0x3F) << 8) | buf[pos + 1]
                pos += 2
            else:  # 10000000 + u32 big endian; Redis never sets the low bits
                if enc != 0x80:
                    raise CompactError(f"ziplist entry {index}: unknown encoding byte 0x{enc:02x} at offset {pos}")
                if pos + 5 > end:
                    raise _past_end("ziplist", index, "32-bit string length", pos, size)
                n = _U32_BE.unpack_from(buf, pos + 1)[0]
                pos += 5
            if pos + n > end:
                raise _past_end("ziplist", index, f"string of {n} bytes", pos, size)
            append(buf[pos : pos + n])
            pos += n
        prev_size = pos - start
        last = start
        index += 1

    if pos != end:
        raise CompactError(f"ziplist entry {index}: stray 0xFF at offset {pos}, the terminator is at {end}")
    if last is not None and zltail != last:
        raise CompactError(f"ziplist header: zltail {zltail} does not point at the last entry (offset {last})")
    if zllen != _ZL_COUNT_UNKNOWN and zllen != index:
        raise CompactError(f"ziplist header: zllen {zllen} but {index} entries found")
    return out


def _lp_backlen(n):
    """The canonical backlen bytes for an entry of n bytes (encoding + data).

    Base-128, most significant group first; every byte but the first has the
    high bit set so a backwards reader knows to continue. The size thresholds
    are Redis's (note 16383 already takes three bytes), and its validator
    requires exactly that many bytes.
    """
    if n <= 127:
        return bytes((n,))
    if n < 16383:
        nbytes = 2
    elif n < 2097151:
        nbytes = 3
    elif n < 268435455:
        nbytes = 4
    else:
        nbytes = 5
    top = 7 * (nbytes - 1)
    return bytes([n >> top] + [((n >> s) & 127) | 128 for s in range(top - 7, -1, -7)])


def listpack_entries(blob) -> list[bytes]:
    """Every entry of a listpack, integers as decimal bytes.

    Layout: total bytes u32, count u16 (65535: unknown), then entries
    <encoding+data><backlen>, then 0xFF.
    """
    buf = _as_bytes(blob)
    size = _check_frame("listpack", buf, _LP_HEADER_SIZE + 1)
    total, count = _LP_HEADER.unpack_from(buf)
    if total != size:
        raise CompactError(f"listpack header: total bytes {total} does not match blob length {size}")
    end = size - 1

    out = []
    append = out.append
    pos = _LP_HEADER_SIZE
    index = 0
    while buf[pos] != _EOF:  # terminates: buf[end] is 0xFF and pos never passes end
        start = pos
        enc = buf[pos]
        n = -1  # string length, or -1 for an integer entry
        if enc < 0x80:  # 0xxxxxxx: 7-bit unsigned
            append(b"%d" % enc)
            pos += 1
        elif enc < 0xC0:  # 10xxxxxx: 6-bit string length
            n = enc & 0x3F
            pos += 1
        elif enc < 0xE0:  # 110xxxxx yyyyyyyy: 13-bit two's complement
            if pos + 2 > end:
                raise _past_end("listpack", index, "13-bit integer", pos, size)
            v = ((enc & 0x1F) << 8) | buf[pos + 1]
            append(b"%d" % (v - 8192 if v >= 4096 else v))
            pos += 2
        elif enc < 0xF0:  # 1110xxxx yyyyyyyy: 12-bit string length, big endian
            if pos + 2 > end:
                raise _past_end("listpack", index, "12-bit string length", pos, size)
            n = ((enc & 0x0F) << 8) | buf[pos + 1]
            pos += 2
        elif enc == 0xF0:  # 32-bit string length, little endian
            if pos + 5 > end:
                raise _past_end("listpack", index, "32-bit string length", pos, size)
            n = _U32.unpack_from(buf, pos + 1)[0]
            pos += 5
        elif enc <= 0xF4:  # 0xF1..0xF4: 16/24/32/64-bit signed little endian
            width = _LP_INT_WIDTH[enc - 0xF1]
            if pos + 1 + width > end:
                raise _past_end("listpack", index, f"{width}-byte integer", pos + 1, size)
            append(b"%d" % int.from_bytes(buf[pos + 1 : pos + 1 + width], "little", signed=True))
            pos += 1 + width
        else:
            raise CompactError(f"listpack entry {index}: unknown encoding byte 0x{enc:02x} at offset {pos}")
        if n >= 0:
            if pos + n > end:
                raise _past_end("listpack", index, f"string of {n} bytes", pos, size)
            append(buf[pos : pos + n])
            pos += n
        # The backlen lets Redis walk backwards; a wrong one means a shifted or damaged entry.
        entry_size = pos - start
        if entry_size <= 127 and pos < end and buf[pos] == entry_size:  # the common one-byte case, no allocation
            pos += 1
            index += 1
            continue
        backlen = _lp_backlen(entry_size)
        blen = len(backlen)
        if pos + blen > end:
            raise _past_end("listpack", index, f"{blen}-byte backlen", pos, size)
        if buf[pos : pos + blen] != backlen:
            raise CompactError(
                f"listpack entry {index}: backlen {buf[pos : pos + blen].hex()} at offset {pos} does not match "
                f"the entry size {entry_size} (expected {backlen.hex()})"
            )
        pos += blen
        index += 1

    if pos != end:
        raise CompactError(f"listpack entry {index}: stray 0xFF at offset {pos}, the terminator is at {end}")
    if count != _LP_COUNT_UNKNOWN and count != index:
        raise CompactError(f"listpack header: count {count} but {index} entries found")
    return out


def intset_members(blob) -> list[bytes]:
    """The members of an intset, ascending, as decimal bytes.

    Layout: encoding u32 (bytes per member: 2, 4 or 8), length u32, then the
    members as signed little-endian integers in strictly ascending order.
    """
    buf = _as_bytes(blob)
    size = len(buf)
    if size < _INTSET_HEADER.size:
        raise CompactError(f"intset: blob of {size} bytes is shorter than the 8-byte header")
    enc, length = _INTSET_HEADER.unpack_from(buf)
    code = _INTSET_CODES.get(enc)
    if code is None:
        raise CompactError(f"intset header: bad encoding {enc} (must be 2, 4 or 8)")
    if _INTSET_HEADER.size + length * enc != size:
        raise CompactError(
            f"intset header: {length} members of {enc} bytes need {_INTSET_HEADER.size + length * enc} bytes, "
            f"blob has {size}"
        )
    if length == 0:  # Redis never saves an empty set and refuses to load one
        raise CompactError("intset header: empty intset")
    values = struct.unpack_from(f"<{length}{code}", buf, _INTSET_HEADER.size)
    # Sorted order is what makes lookups (binary search) correct; duplicates would break set semantics.
    if not all(map(lt, values, values[1:])):
        i = next(i for i in range(1, length) if values[i] <= values[i - 1])
        raise CompactError(f"intset entry {i}: {values[i]} does not follow {values[i - 1]} in ascending order")
    return [b"%d" % v for v in values]


def _zm_len(buf, pos, end, index, what, size):
    """A zipmap length at pos: one byte below 254, else 0xFE and a u32 (little endian)."""
    first = buf[pos]
    if first < 254:
        return first, pos + 1
    if first == 254:
        if pos + 5 > end:
            raise _past_end("zipmap", index, f"5-byte {what} length", pos, size)
        return _U32.unpack_from(buf, pos + 1)[0], pos + 5
    raise CompactError(f"zipmap entry {index}: bad {what} length byte 0xff at offset {pos}")


def zipmap_pairs(blob) -> list[tuple[bytes, bytes]]:
    """The (key, value) pairs of a zipmap, in stored order.

    Layout: zmlen u8 (the pair count when below 254), then per pair
    <len>key<len><free>value<free unused bytes>, then 0xFF.
    """
    buf = _as_bytes(blob)
    size = _check_frame("zipmap", buf, 2)
    end = size - 1
    zmlen = buf[0]
    out = []
    pos = 1
    while buf[pos] != _EOF:  # pos < end inside the loop: buf[end] is 0xFF
        index = len(out)
        n, pos = _zm_len(buf, pos, end, index, "key", size)
        if pos + n >= end:  # the value's length byte must still follow
            raise _past_end("zipmap", index, f"key of {n} bytes", pos, size)
        key = buf[pos : pos + n]
        pos += n
        n, pos = _zm_len(buf, pos, end, index, "value", size)
        if pos >= end:
            raise _past_end("zipmap", index, "free byte", pos, size)
        free = buf[pos]
        pos += 1
        if pos + n + free > end:
            raise _past_end("zipmap", index, f"value of {n} bytes (+{free} free)", pos, size)
        out.append((key, buf[pos : pos + n]))
        pos += n + free

    if pos != end:
        raise CompactError(f"zipmap entry {len(out)}: stray 0xFF at offset {pos}, the terminator is at {end}")
    if not out:  # as for intsets, Redis refuses an empty zipmap
        raise CompactError("zipmap: no entries")
    if zmlen < 254 and zmlen != len(out):
        raise CompactError(f"zipmap header: zmlen {zmlen} but {len(out)} pairs found")
    return out
