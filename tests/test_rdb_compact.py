"""rdb.compact: the ziplist, listpack, intset and zipmap decoders.

The builders in compact_blobs.py construct valid blobs straight from the
format descriptions (they double as a compact reference for the layouts).
Here: every entry encoding with its boundary values; corruption (every
truncation, byte flips, fuzzing, huge length fields), which must end in a
list or a CompactError and nothing else. The cross-check against the blobs
a real redis-server 7.0 puts in DUMP payloads is in
test_rdb_compact_vs_redis.py.
"""

import contextlib
import random
import signal
import struct
import tracemalloc

import pytest
from compact_blobs import (
    d,
    intset_build,
    lp,
    lp_backlen,
    lp_build,
    lp_int,
    lp_str,
    zipmap_build,
    zl,
    zl_build,
    zl_int,
    zl_str,
    zm_len,
)
from hypothesis import given, settings
from hypothesis import strategies as st

from rdb.compact import CompactError, intset_members, listpack_entries, ziplist_entries, zipmap_pairs


@contextlib.contextmanager
def deadline(seconds):
    """Fail instead of hanging if a decoder ever loops forever."""
    if not hasattr(signal, "setitimer"):
        yield
        return

    def boom(*_):
        raise AssertionError("decoder took longer than %ss" % seconds)

    old = signal.signal(signal.SIGALRM, boom)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, old)


def test_lp_backlen_builder_reads_backwards():
    # The builder's backlen is what a right-to-left reader (Redis's lpPrev) decodes, using all its bytes.
    for n in (0, 1, 127, 128, 16382, 16383, 2097150, 2097151, 268435454, 268435455, 2**32 - 1):
        b = lp_backlen(n)
        val, used = 0, 0
        for byte in reversed(b):
            val |= (byte & 127) << (7 * used)
            used += 1
            if not byte & 128:
                break
        assert (val, used) == (n, len(b))


# ---- 1. every encoding, with boundary values ------------------------------------------


@pytest.mark.parametrize("n,header", [(0, b"\x00"), (1, b"\x01"), (63, b"\x3f"), (64, b"\x40\x40"),
                                      (16383, b"\x7f\xff"), (16384, b"\x80\x00\x00\x40\x00")])
def test_ziplist_string_encodings(n, header):
    s = bytes(range(256)) * (n // 256) + bytes(range(n % 256))
    body = zl_str(s)
    assert body.startswith(header)  # the builder picked the encoding the boundary calls for
    assert ziplist_entries(zl_build([body])) == [s]


@pytest.mark.parametrize("width", [6, 14, 32])
def test_ziplist_short_string_in_any_width(width):
    assert ziplist_entries(zl_build([zl_str(b"abc", width)])) == [b"abc"]


ZL_INT_CASES = [(0, "imm"), (12, "imm"), (5, "imm"), (-128, 8), (127, 8), (13, 8), (-1, 8), (-32768, 16),
                (32767, 16), (-(2**23), 24), (2**23 - 1, 24), (-1, 24), (-(2**31), 32), (2**31 - 1, 32),
                (-(2**63), 64), (2**63 - 1, 64), (0, 64)]


@pytest.mark.parametrize("v,width", ZL_INT_CASES)
def test_ziplist_int_encodings(v, width):
    assert ziplist_entries(zl_build([zl_int(v, width), zl_str(b"x")])) == [d(v), b"x"]


def test_ziplist_all_encodings_together():
    items = [b"", b"a" * 63, b"b" * 64, 7, -5, 300, 70000, -(2**23), 2**40, b"tail"]
    assert ziplist_entries(zl(*items)) == [i if isinstance(i, bytes) else d(i) for i in items]


@pytest.mark.parametrize("n,prevlen_size", [(250, 1), (251, 5)])
def test_ziplist_prevlen_switches_to_five_bytes(n, prevlen_size):
    # entry 0 is 1 (prevlen) + 2 (14-bit encoding) + n bytes: 253 fits one prevlen byte, 254 does not.
    blob = zl(b"p" * n, b"next", 3)
    second = 10 + 3 + n
    assert (blob[second] == 0xFE) == (prevlen_size == 5)
    assert ziplist_entries(blob) == [b"p" * n, b"next", b"3"]


def test_ziplist_five_byte_prevlen_for_small_entries_is_valid():
    # Redis does not shrink a prevlen after a cascade update, so 0xFE + u32 may hold a small size.
    assert ziplist_entries(zl(b"a", 1, b"ccc", big_prevlen=True)) == [b"a", b"1", b"ccc"]


def test_ziplist_empty_and_unknown_count():
    assert ziplist_entries(zl_build([])) == []
    items = [b"x%d" % i for i in range(10)]
    assert ziplist_entries(zl(*items, zllen=0xFFFF)) == items


def test_bytes_like_inputs():
    blob = zl(b"abc", 9)
    for kind in (bytearray, memoryview):
        out = ziplist_entries(kind(blob))
        assert out == [b"abc", b"9"] and all(type(x) is bytes for x in out)
    assert listpack_entries(bytearray(lp(b"a", 1))) == [b"a", b"1"]
    assert intset_members(memoryview(intset_build([1, 2]))) == [b"1", b"2"]
    assert zipmap_pairs(bytearray(zipmap_build([(b"k", b"v")]))) == [(b"k", b"v")]


@pytest.mark.parametrize("n,header", [(0, b"\x80"), (63, b"\xbf"), (64, b"\xe0\x40"), (4095, b"\xef\xff"),
                                      (4096, b"\xf0\x00\x10\x00\x00"), (20000, b"\xf0\x20\x4e\x00\x00")])
def test_listpack_string_encodings(n, header):
    s = (b"0123456789abcdef" * (n // 16 + 1))[:n]
    body = lp_str(s)
    assert body.startswith(header)
    assert listpack_entries(lp_build([body, lp_int(1)])) == [s, b"1"]


@pytest.mark.parametrize("entry_size", [127, 128, 16382, 16383, 16384])
def test_listpack_backlen_size_boundaries(entry_size):
    # A 32-bit string entry is 5 + n bytes; these sizes straddle the backlen's 1/2/3-byte bands.
    s = b"z" * (entry_size - 5)
    body = lp_str(s, 32)
    assert len(body) == entry_size
    blob = lp_build([body, lp_str(b"after")])
    assert listpack_entries(blob) == [s, b"after"]


@pytest.mark.parametrize("width", [6, 12, 32])
def test_listpack_short_string_in_any_width(width):
    assert listpack_entries(lp_build([lp_str(b"abc", width)])) == [b"abc"]


LP_INT_CASES = [(0, 7), (127, 7), (-4096, 13), (4095, 13), (128, 13), (-1, 13), (0, 13), (-32768, 16),
                (32767, 16), (-(2**23), 24), (2**23 - 1, 24), (-(2**31), 32), (2**31 - 1, 32), (-(2**63), 64),
                (2**63 - 1, 64), (5, 64)]


@pytest.mark.parametrize("v,width", LP_INT_CASES)
def test_listpack_int_encodings(v, width):
    assert listpack_entries(lp_build([lp_str(b"x"), lp_int(v, width)])) == [b"x", d(v)]


def test_listpack_empty_mixed_and_unknown_count():
    assert listpack_entries(lp_build([])) == []
    items = [b"", b"a" * 64, 0, 127, 128, -4096, -4097, 2**23, -(2**31) - 1, b"\xff\xfe", b"end"]
    want = [i if isinstance(i, bytes) else d(i) for i in items]
    assert listpack_entries(lp(*items)) == want
    assert listpack_entries(lp(*items, count=0xFFFF)) == want


@pytest.mark.parametrize("enc,values", [
    (2, [-(2**15), -1, 0, 2**15 - 1]),
    (4, [-(2**31), 0, 2**31 - 1]),
    (8, [-(2**63), -(2**31) - 1, 2**31, 2**63 - 1]),
    (8, [1, 2, 3]),  # a wider encoding than needed is still a valid intset
    (2, [42]),
])
def test_intset_encodings(enc, values):
    assert intset_members(intset_build(values, enc)) == [d(v) for v in values]


def test_zipmap_pairs():
    pairs = [(b"name", b"foo"), (b"", b""), (b"k" * 253, b"v" * 254), (b"K" * 300, b"short"), (b"\xff", b"\xff")]
    assert zipmap_pairs(zipmap_build(pairs)) == pairs
    assert zipmap_pairs(zipmap_build(pairs, free=4)) == pairs  # unused bytes after each value are skipped
    assert zipmap_pairs(zipmap_build(pairs, zmlen=254)) == pairs  # 254: count unknown
    blob = bytes([1]) + zm_len(1, big=True) + b"a" + zm_len(2, big=True) + b"\x00" + b"bb" + b"\xff"
    assert zipmap_pairs(blob) == [(b"a", b"bb")]


# ---- 2. validation and corruption -----------------------------------------------------


def with_header(blob, fmt, *values):
    return struct.pack(fmt, *values) + blob[struct.calcsize(fmt):]


def patch(blob, offset, data):
    return blob[:offset] + data + blob[offset + len(data):]


def sized(blob):
    """Rewrite the leading u32 total size (ziplist, listpack) to match the blob."""
    return patch(blob, 0, struct.pack("<I", len(blob)))


@pytest.mark.parametrize("blob,pattern", [
    (b"", r"ziplist: blob of 0 bytes"),
    (with_header(zl(b"a"), "<I", 99), r"^ziplist header: zlbytes 99 does not match blob length 14$"),
    (zl(b"a")[:-1] + b"\x00", r"missing 0xFF terminator \(last byte is 0x00\)"),
    # zl(b"a", b"b"): entries at offsets 10 and 13, terminator at 16
    (patch(zl(b"a", b"b"), 4, struct.pack("<I", 99)), r"zltail 99 is past the end \(blob is 17 bytes\)"),
    (patch(zl(b"a", b"b"), 4, struct.pack("<I", 10)), r"zltail 10 does not point at the last entry \(offset 13\)"),
    (patch(zl(b"a", b"b"), 8, struct.pack("<H", 3)), r"^ziplist header: zllen 3 but 2 entries found$"),
    (patch(zl(b"a", b"b"), 13, b"\x05"), r"^ziplist entry 1: prevlen 5 does not match the previous entry's size 3$"),
    (patch(zl(b"a", b"b"), 14, b"\x04"), r"^ziplist entry 1: string of 4 bytes runs past the end \(offset 15 of 17\)$"),
    (patch(zl(b"a", b"b"), 13, b"\xff"), r"^ziplist entry 1: stray 0xFF at offset 13, the terminator is at 16$"),
    (zl_build([b"\xc1\x00\x00"]), r"^ziplist entry 0: unknown encoding byte 0xc1 at offset 11$"),
    (zl_build([b"\x81\x00\x00\x00\x01x"]), r"ziplist entry 0: unknown encoding byte 0x81"),
    (zl_build([b"\x80\xff\xff\xff\xffabc"]), r"entry 0: string of 4294967295 bytes runs past the end \(offset 16"),
    (zl_build([b"\xd0\x00\x00\x00"]), r"entry 0: 4-byte integer runs past the end"),
    (zl_build([b"\x40"]), r"entry 0: 14-bit string length runs past the end"),
    (zl_build([b"\x80\x00\x00"]), r"entry 0: 32-bit string length runs past the end"),
    (zl_build([b"\x01"]), r"entry 0: string of 1 bytes runs past the end"),
    (sized(zl_build([zl_str(b"a")])[:-1] + b"\xfe\x02\x00\xff"), r"entry 1: 5-byte prevlen runs past the end"),
])
def test_ziplist_errors(blob, pattern):
    with pytest.raises(CompactError, match=pattern):
        ziplist_entries(blob)


def lp_with_tail(blob, tail):
    """Replace everything after the header with `tail` and fix the total size."""
    return struct.pack("<IH", 6 + len(tail), struct.unpack_from("<H", blob, 4)[0]) + tail


@pytest.mark.parametrize("blob,pattern", [
    (b"\x07\x00\x00\x00\x00", r"listpack: blob of 5 bytes is shorter than the 7-byte minimum"),
    (with_header(lp(b"a"), "<I", 1000), r"total bytes 1000 does not match blob length 10"),
    (lp(b"a")[:-1] + b"\x00", r"missing 0xFF terminator"),
    (with_header(lp(1, 2, 3), "<IH", 13, 4), r"count 4 but 3 entries found"),
    (lp_build([b"\xf5"]), r"listpack entry 0: unknown encoding byte 0xf5 at offset 6"),
    (lp_with_tail(lp(1, 2, 3), b"\x01\x01\x02\x01\x03\x02\xff"), r"listpack entry 2: backlen 02 at offset 11 "
                                                                  r"does not match the entry size 1"),
    (lp_with_tail(lp(1), b"\xa0abc\xff"), r"^listpack entry 0: string of 32 bytes runs past the end "
                                          r"\(offset 7 of 11\)$"),
    (lp_with_tail(lp(1), b"\x01\xff"), r"entry 0: 1-byte backlen runs past the end"),
    (lp_with_tail(lp(1), b"\xc0\xff"), r"entry 0: 13-bit integer runs past the end"),
    (lp_with_tail(lp(1), b"\xe0\xff"), r"entry 0: 12-bit string length runs past the end"),
    (lp_with_tail(lp(1), b"\xf0\x00\x00\xff"), r"entry 0: 32-bit string length runs past the end"),
    (lp_build([b"\xf0\xff\xff\xff\xff"]), r"entry 0: string of 4294967295 bytes runs past the end"),
    (lp_with_tail(lp(1), b"\xf4\x00\x00\xff"), r"entry 0: 8-byte integer runs past the end"),
    (lp_with_tail(lp(1), b"\x01\x01\xff\x01\x01\xff"), r"entry 1: stray 0xFF at offset 8, the terminator is at 11"),
])
def test_listpack_errors(blob, pattern):
    with pytest.raises(CompactError, match=pattern):
        listpack_entries(blob)


def test_listpack_message_names_entry_and_offsets():
    blob = lp(b"a", b"b", b"c", b"")
    # Entry 3 sits at offset 6 + 3 * 3; make it claim 200 bytes (12-bit string) with 1 byte left.
    broken = blob[:15] + b"\xe0\xc8" + b"\xff"
    broken = with_header(broken, "<I", len(broken))
    with pytest.raises(CompactError) as info:
        listpack_entries(broken)
    assert str(info.value) == "listpack entry 3: string of 200 bytes runs past the end (offset 17 of 18)"


@pytest.mark.parametrize("blob,pattern", [
    (b"\x02\x00\x00", r"intset: blob of 3 bytes"),
    (intset_build([1, 2], 2).replace(b"\x02", b"\x03", 1), r"bad encoding 3 \(must be 2, 4 or 8\)"),
    (intset_build([1, 2])[:-1], r"2 members of 2 bytes need 12 bytes, blob has 11"),
    (struct.pack("<II", 8, 2**32 - 1) + b"\x00" * 16, r"4294967295 members of 8 bytes need"),
    (intset_build([], 2), r"empty intset"),
    (intset_build([1, 3, 2]), r"intset entry 2: 2 does not follow 3"),
    (intset_build([5, 5]), r"intset entry 1: 5 does not follow 5"),
])
def test_intset_errors(blob, pattern):
    with pytest.raises(CompactError, match=pattern):
        intset_members(blob)


@pytest.mark.parametrize("blob,pattern", [
    (b"\x00", r"zipmap: blob of 1 bytes"),
    (zipmap_build([(b"a", b"b")])[:-1] + b"\x00", r"missing 0xFF terminator"),
    (zipmap_build([]), r"zipmap: no entries"),
    (zipmap_build([(b"a", b"b")], zmlen=2), r"zmlen 2 but 1 pairs found"),
    (b"\x01\x05ab\xff", r"zipmap entry 0: key of 5 bytes runs past the end"),
    (b"\x01\xfe\xff\xff\xff\xffab\xff", r"key of 4294967295 bytes runs past the end"),
    (b"\x01\x01a\xfe\xff\xff\xff\xff\x00b\xff", r"value of 4294967295 bytes \(\+0 free\) runs past the end"),
    (b"\x01\x01a\x01\x09b\xff", r"value of 1 bytes \(\+9 free\) runs past the end"),
    (b"\x01\x01a\xff\x00\x00\x00\x00\x00\xff", r"entry 0: bad value length byte 0xff"),
    (b"\x01\x01a\x01\x00b\xff\x01\xff", r"zipmap entry 1: stray 0xFF at offset 6"),
])
def test_zipmap_errors(blob, pattern):
    with pytest.raises(CompactError, match=pattern):
        zipmap_pairs(blob)


def sample_blobs():
    """A few valid blobs of each format, with every kind of entry in them."""
    return [
        (ziplist_entries, zl(b"", b"abc", b"q" * 70, 0, 12, 13, -200, 40000, -(2**23), 2**31, 2**62)),
        (ziplist_entries, zl(b"x" * 260, 1, b"y", big_prevlen=True)),
        (listpack_entries, lp(b"", b"abc", b"q" * 70, 0, 127, 128, -4096, 40000, -(2**23), 2**31, 2**62)),
        (listpack_entries, lp(b"w" * 200, b"v" * 4100, 5)),
        (intset_members, intset_build([-3, 0, 7, 1000])),
        (intset_members, intset_build([-(2**40), 2**40])),
        (zipmap_pairs, zipmap_build([(b"field", b"value"), (b"k" * 300, b"v"), (b"", b"\xff")], free=2)),
    ]


def decodes_or_rejects(fn, blob):
    try:
        out = fn(blob)
    except CompactError:
        return None
    assert isinstance(out, list)
    return out


@pytest.mark.parametrize("fn,blob", sample_blobs())
def test_every_truncation_is_rejected(fn, blob):
    assert fn(blob)  # the intact blob decodes
    with deadline(20):
        for cut in range(len(blob)):
            if fn is zipmap_pairs:  # no size header: a cut that ends on 0xFF may still parse
                decodes_or_rejects(fn, blob[:cut])
            else:
                with pytest.raises(CompactError):
                    fn(blob[:cut])
            decodes_or_rejects(fn, blob[cut:])  # and the missing-head variant never crashes


@pytest.mark.parametrize("fn,blob", sample_blobs())
def test_every_byte_flip_decodes_or_raises_compact_error(fn, blob):
    with deadline(30):
        for i in range(len(blob)):
            for mask in (0x01, 0x40, 0x80, 0xFF):
                mutated = bytearray(blob)
                mutated[i] ^= mask
                decodes_or_rejects(fn, bytes(mutated))


@pytest.mark.parametrize("fn,blob", sample_blobs())
def test_random_mutations(fn, blob):
    rng = random.Random(len(blob))
    with deadline(30):
        for _ in range(1500):
            m = bytearray(blob)
            for _ in range(rng.randint(1, 4)):
                op, i = rng.randrange(3), rng.randrange(len(m) + 1)
                if op == 0 and i < len(m):
                    m[i] = rng.randrange(256)
                elif op == 1:
                    m[i:i] = bytes(rng.randrange(256) for _ in range(rng.randint(1, 5)))
                else:
                    del m[i : i + rng.randint(1, 5)]
            if fn in (ziplist_entries, listpack_entries) and len(m) >= 6:  # honest size field: get deeper
                struct.pack_into("<I", m, 0, len(m))
            decodes_or_rejects(fn, bytes(m))


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=64))
def test_arbitrary_bytes(data):
    for fn in (ziplist_entries, listpack_entries, intset_members, zipmap_pairs):
        decodes_or_rejects(fn, data)
        if len(data) >= 6 and fn in (ziplist_entries, listpack_entries):  # plausible size and terminator
            fixed = struct.pack("<I", len(data) + 1) + data[4:] + b"\xff"
            decodes_or_rejects(fn, fixed)


@pytest.mark.parametrize("fn,blob", [
    (ziplist_entries, zl_build([b"\x80\xff\xff\xff\xff"])),
    (ziplist_entries, with_header(zl(b"a"), "<I", 2**32 - 1)),
    (ziplist_entries, zl(b"a", zllen=0xFFFE)),
    (listpack_entries, lp_build([b"\xf0\xff\xff\xff\xff"])),
    (listpack_entries, lp_build([b"\xef\xff"])),
    (listpack_entries, with_header(lp(b"a"), "<I", 2**32 - 1)),
    (intset_members, struct.pack("<II", 8, 2**32 - 1) + b"\x01" * 64),
    (intset_members, struct.pack("<II", 8, 2**29) + b"\x01" * 64),  # 2**29 * 8 overflows 32 bits to 0
    (zipmap_pairs, b"\x01\xfe\xff\xff\xff\xff" + b"a" * 32 + b"\xff"),
])
def test_huge_length_fields_fail_fast_without_allocating(fn, blob):
    tracemalloc.start()
    try:
        with deadline(2), pytest.raises(CompactError):
            fn(blob)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 256 * 1024
