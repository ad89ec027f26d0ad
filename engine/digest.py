"""DEBUG DIGEST / DIGEST-VALUE: Redis's dataset fingerprint, bit for bit.

The algorithm is the one of Redis 7.0's debug.c, so a Holdfast dataset and a
Redis dataset with the same content give the same 40 hex digits -- which is
how tests compare datasets across servers (RDB interop, replication, AOF
replay):

    xor(d, data):  d ^= SHA1(data)                  (order-free: sets, keys)
    mix(d, data):  d = SHA1(d ^ SHA1(data))          (order-keeping: lists)

    for each non-empty db j:  mix(final, htonl(j))
        for each key:  d = 0;  mix(d, key);  object digest into d;
                       if the key has a TTL: xor(d, "!!expire!!");
                       xor(final, d)     -- final ^= SHA1(d), like every xor

    object digest:  mix(d, htonl(type)), then per type (strings: mix(d, value)).

Types register their element walk with `register(pytype, redis_type, fn)`;
`fn(d, value)` mixes the value into the 20-byte bytearray `d` with `xor_into`
/ `mix_into`. Strings are built in. A class the keyspace knows as a list,
set or hash (engine.keyspace.VALUE_TYPES) gets the matching rule below
unless it registers its own; sorted sets register `digest_zset` with their
(member, score) walk. Streams are not covered: Redis hashes their listpack
bytes, which depend on its encoding.
"""

import hashlib
import struct

from .util import format_double

_sha1 = hashlib.sha1

# Redis object type numbers (OBJ_STRING ...), hashed as big-endian uint32.
OBJ_STRING, OBJ_LIST, OBJ_SET, OBJ_ZSET, OBJ_HASH, OBJ_MODULE, OBJ_STREAM = 0, 1, 2, 3, 4, 5, 6

ZERO = bytes(20)
_EXPIRE_MARK = b"!!expire!!"


def xor_into(d, data):
    """d ^= SHA1(data), in place (xorDigest)."""
    h = _sha1(data).digest()
    v = int.from_bytes(d, "big") ^ int.from_bytes(h, "big")
    d[:] = v.to_bytes(20, "big")


def mix_into(d, data):
    """d = SHA1(d ^ SHA1(data)), in place (mixDigest)."""
    xor_into(d, data)
    d[:] = _sha1(d).digest()


def _digest_string(d, value):
    mix_into(d, value)


# python type -> (redis type number, fn(d, value))
_TYPES = {bytes: (OBJ_STRING, _digest_string)}


def register(pytype, redis_type, fn):
    """Teach the digest a value type: `fn(d, value)` mixes the value's
    content into the 20-byte bytearray `d` (after the type tag)."""
    _TYPES[pytype] = (redis_type, fn)


def _rule_for(cls):
    """The digest rule for a value class: registered here, else derived from
    the keyspace's TYPE name for the plain-container types (a list iterates
    its elements in order, a set its members, a hash maps field -> value)."""
    entry = _TYPES.get(cls)
    if entry is not None:
        return entry
    from .keyspace import VALUE_TYPES  # noqa: PLC0415 - avoid an import cycle

    vt = VALUE_TYPES.get(cls)
    entry = _BY_TYPE_NAME.get(vt.name) if vt is not None else None
    if entry is None:
        raise TypeError("no digest rule for %s values" % cls.__name__)
    _TYPES[cls] = entry
    return entry


def object_digest(d, value, has_expire):
    """Mix one value (and its TTL flag) into `d` (xorObjectDigest)."""
    from .keyspace import unpacked  # noqa: PLC0415 - avoid an import cycle

    value = unpacked(value)
    entry = _rule_for(value.__class__)
    rtype, fn = entry
    mix_into(d, struct.pack(">I", rtype))
    fn(d, value)
    if has_expire:
        xor_into(d, _EXPIRE_MARK)


def value_digest(db, key):
    """DEBUG DIGEST-VALUE for one key: 20 zero bytes when missing. Logically
    expired keys still count (a debug command sees what is stored)."""
    v = db.data.get(key)
    d = bytearray(20)
    if v is not None:
        object_digest(d, v, key in db.expires)
    return bytes(d)


def dataset_digest(dbs):
    """DEBUG DIGEST over every database (computeDatasetDigest)."""
    final = bytearray(20)
    for db in dbs:
        if not db.data:
            continue
        mix_into(final, struct.pack(">I", db.id))
        expires = db.expires
        acc = 0
        for key, value in db.data.items():
            d = bytearray(20)
            mix_into(d, key)
            object_digest(d, value, key in expires)
            acc ^= int.from_bytes(_sha1(d).digest(), "big")
        # xor is associative: fold the per-key hashes first, xor once.
        final[:] = (int.from_bytes(final, "big") ^ acc).to_bytes(20, "big")
    return bytes(final)


def hexdigest(raw):
    return raw.hex()


# ---- the other types' rules (debug.c), for their modules to register --------------

def digest_list(d, items):
    """Lists keep order: each element mixed in turn."""
    for ele in items:
        mix_into(d, ele)


def digest_set(d, members):
    """Sets are order-free: each member xored in."""
    for m in members:
        xor_into(d, m)


def digest_hash(d, pairs):
    """Hashes: per field, e = mix(mix(0, field), value); xor(d, e)."""
    for field, value in pairs:
        e = bytearray(20)
        mix_into(e, field)
        mix_into(e, value)
        xor_into(d, e)


def digest_zset(d, member_scores):
    """Sorted sets: per member, e = mix(mix(0, member), "%.17g" % score); xor(d, e)."""
    for member, score in member_scores:
        e = bytearray(20)
        mix_into(e, member)
        mix_into(e, _score_text(score))
        xor_into(d, e)


def _score_text(score):
    # Redis 7.0 prints the score with snprintf("%.17g"); inf prints as "inf".
    if score != score or score in (float("inf"), float("-inf")):
        return format_double(score)
    return b"%.17g" % score


_BY_TYPE_NAME = {
    b"list": (OBJ_LIST, digest_list),
    b"set": (OBJ_SET, digest_set),
    b"hash": (OBJ_HASH, lambda d, v: digest_hash(d, v.items())),
}
