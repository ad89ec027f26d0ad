"""Hash values: a plain `dict` of bytes -> bytes while Redis would keep the
hash in a listpack, a `HashTable` (a dict subclass, same layout) once Redis
would have converted it to a hashtable.

The class is the encoding, so OBJECT ENCODING needs no side table. Redis
7.0 converts one way, exactly when a hash gets more than
`hash-max-listpack-entries` fields or a field or value longer than
`hash-max-listpack-value` bytes; a converted hash stays a hashtable even
when it shrinks again, and so does a HashTable here.

A small dict iterates in insertion order, as a listpack does (an update
keeps the field's place, a delete closes the gap), so HGETALL/HKEYS/HSCAN
of a small hash answer in Redis's order.
"""

from .. import logsetup
from ..keyspace import register_lazy, register_type

# Field names shared between small hashes. Hashes of one application tend to
# have the same fields ("name", "email", ...): storing one bytes object per
# distinct name instead of one per hash saves ~48 bytes a field (Redis's
# listpack stores names inline, so without this Holdfast pays for every copy).
# Bounded: when full it starts afresh; hashes keep the objects they hold.
_FIELD_NAMES = {}
_FIELD_NAMES_MAX = 1 << 16
_share_one = _FIELD_NAMES.setdefault


def shared_fields(fields):
    """An iterator over the sequence `fields` (short bytes; not an iterator:
    it is walked twice) that yields the shared object for each name. Call it
    once per command: the bound check is here, the per-field work is in C."""
    if len(_FIELD_NAMES) >= _FIELD_NAMES_MAX:
        _FIELD_NAMES.clear()
    return map(_share_one, fields, fields)


def shared_field(field):
    """The shared object for one field name (see shared_fields)."""
    if len(_FIELD_NAMES) >= _FIELD_NAMES_MAX:
        _FIELD_NAMES.clear()
    return _share_one(field, field)


class HashTable(dict):
    """A hash Redis would keep hashtable-encoded (one-way promotion)."""

    __slots__ = ()


register_type(dict, b"hash", lambda v: b"listpack", dict.copy)
register_type(HashTable, b"hash", lambda v: b"hashtable", HashTable)


def is_hash(v):
    c = v.__class__
    return c is dict or c is HashTable


def too_long(config, items):
    """True if any of `items` (fields/values) is longer than a listpack
    entry may be (hashTypeTryConversion)."""
    return max(map(len, items), default=0) > config["hash-max-listpack-value"]


def promoted(db, key, h, config, force=False):
    """After a write to the small hash `h` at `key`: convert it to a
    HashTable if it now has too many fields (or `force`, when an entry was
    too long). Returns the hash now stored at `key`."""
    if h.__class__ is dict and (force or len(h) > config["hash-max-listpack-entries"]):
        h = HashTable(h)
        db.data[key] = h  # same key, same TTL: only the representation changes
        db.stored(key, h)
    return h


def new_hash(pairs, config):
    """A hash built from a dict or (field, value) pairs with the encoding
    Redis would pick for it (for loaders: RDB, RESTORE). A dict given may be
    kept: the caller gives it up."""
    h = pairs if pairs.__class__ is dict else dict(pairs)
    if len(h) > config["hash-max-listpack-entries"] or too_long(config, h) or too_long(config, h.values()):
        return HashTable(h)
    return dict(zip(shared_fields(h), h.values(), strict=True))


# A small hash as an RDB file held it, not unpacked yet: the 2-tuple
# (n, payload), `n` fields and values in `payload`, each a length byte under
# 64 then its bytes (the plain RDB hash encoding). Loading keeps small hashes
# packed, so a start does no Python work per field (Redis likewise keeps a
# listpack as it read it); the first command that looks the key up unpacks
# it in place (Keyspace.lookup/peek), DEBUG DIGEST and DEBUG OBJECT look
# through it, and a snapshot writes the payload back as it came. Only hashes
# a listpack would hold are kept packed, so unpacking gives a dict.
# A tuple rather than a class of its own because marshal walks exact tuples:
# a BGSAVE child reads packed hashes without copying a page of them
# (rdb/private_view.py). No other value is ever a tuple.
PackedHash = tuple


def unpack_hash(packed):
    n, buf = packed
    items = []
    append = items.append
    p = 0
    for _ in range(2 * n):
        q = p + 1 + buf[p]
        append(buf[p + 1:q])
        p = q
    h = dict(zip(shared_fields(items[::2]), items[1::2], strict=True))
    if len(h) != n:  # Redis refuses such a file; it is found only now, so keep the last value
        logsetup.warning("A hash loaded from the RDB file repeats a field: the last value was kept")
    return h


register_type(PackedHash, b"hash", lambda v: b"listpack", lambda v: v)  # immutable: COPY may share it
register_lazy(PackedHash, unpack_hash)
