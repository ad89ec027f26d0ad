"""The RDB format's numbers: versions, value types, opcodes, the CRC64
(Jones) checksum and the length encoding, shared by the encoder, the
decoder, DUMP/RESTORE and the check tool.

Layout of a file (rdb.c is the reference):

    "REDIS" + 4-digit version
    AUX fields        0xFA name value (both RDB strings)
    per database:     0xFE SELECTDB n, 0xFB RESIZEDB size expires-size,
                      then records: [0xFC expire-ms (8 bytes LE)]
                      [0xF8 idle | 0xF9 freq] type key value
    0xFF EOF, then 8 bytes of CRC64 (little-endian) over everything before
    (zero when the writer had `rdbchecksum no`).

A length is 1, 2, 5 or 9 bytes: the top two bits of the first byte say
6-bit, 14-bit (big-endian), 32-bit or 64-bit (the byte 0x80 / 0x81, then
big-endian). The top bits 11 mark a specially encoded string instead: an
8/16/32-bit little-endian integer, or an LZF-compressed string.
"""

import crcmod

RDB_VERSION = 10  # what Holdfast writes: loadable by Redis 7.0+ and Valkey 7.2/8
MAX_VERSION = 11  # the newest Holdfast loads (Redis 7.2, Valkey 7.2/8)

# Value types (the byte before a key).
TYPE_STRING = 0
TYPE_LIST = 1
TYPE_SET = 2
TYPE_ZSET = 3  # scores as text (RDB < 8)
TYPE_HASH = 4
TYPE_ZSET_2 = 5  # scores as binary doubles
TYPE_MODULE_PRE_GA = 6
TYPE_MODULE_2 = 7
TYPE_HASH_ZIPMAP = 9
TYPE_LIST_ZIPLIST = 10
TYPE_SET_INTSET = 11
TYPE_ZSET_ZIPLIST = 12
TYPE_HASH_ZIPLIST = 13
TYPE_LIST_QUICKLIST = 14
TYPE_STREAM_LISTPACKS = 15
TYPE_HASH_LISTPACK = 16
TYPE_ZSET_LISTPACK = 17
TYPE_LIST_QUICKLIST_2 = 18
TYPE_STREAM_LISTPACKS_2 = 19
TYPE_SET_LISTPACK = 20
TYPE_STREAM_LISTPACKS_3 = 21

# Quicklist 2 node containers.
QUICKLIST_NODE_PLAIN = 1
QUICKLIST_NODE_PACKED = 2

# What each type holds, for messages and the check tool.
TYPE_NAMES = {
    TYPE_STRING: "string", TYPE_LIST: "list", TYPE_SET: "set", TYPE_ZSET: "zset", TYPE_HASH: "hash",
    TYPE_ZSET_2: "zset", TYPE_MODULE_PRE_GA: "module", TYPE_MODULE_2: "module", TYPE_HASH_ZIPMAP: "hash",
    TYPE_LIST_ZIPLIST: "list", TYPE_SET_INTSET: "set", TYPE_ZSET_ZIPLIST: "zset", TYPE_HASH_ZIPLIST: "hash",
    TYPE_LIST_QUICKLIST: "list", TYPE_STREAM_LISTPACKS: "stream", TYPE_HASH_LISTPACK: "hash",
    TYPE_ZSET_LISTPACK: "zset", TYPE_LIST_QUICKLIST_2: "list", TYPE_STREAM_LISTPACKS_2: "stream",
    TYPE_SET_LISTPACK: "set", TYPE_STREAM_LISTPACKS_3: "stream",
}

# Opcodes (bytes where a type byte would be).
OP_FUNCTION2 = 245
OP_FUNCTION_PRE_GA = 246
OP_MODULE_AUX = 247
OP_IDLE = 248
OP_FREQ = 249
OP_AUX = 250
OP_RESIZEDB = 251
OP_EXPIRETIME_MS = 252
OP_EXPIRETIME = 253
OP_SELECTDB = 254
OP_EOF = 255

# Module values and module aux data describe themselves with these (RDB 9+).
MODULE_OP_EOF = 0
MODULE_OP_SINT = 1
MODULE_OP_UINT = 2
MODULE_OP_FLOAT = 3
MODULE_OP_DOUBLE = 4
MODULE_OP_STRING = 5

# Special string encodings (a length byte 11xxxxxx).
ENC_INT8 = 0
ENC_INT16 = 1
ENC_INT32 = 2
ENC_LZF = 3

# CRC-64/Jones as Redis computes it (reflected, init 0, no final xor); the
# C extension of crcmod runs at hundreds of MB/s. crc64(data, crc) goes on
# from a previous value, so files are summed as they stream.
crc64 = crcmod.mkCrcFun(0x1AD93D23594C935A9, initCrc=0, rev=True, xorOut=0)

_LEN1 = [bytes((n,)) for n in range(64)]


def encode_length(n):
    if n < 64:
        return _LEN1[n]
    if n < 16384:
        return bytes((0x40 | (n >> 8), n & 0xFF))
    if n <= 0xFFFFFFFF:
        return b"\x80" + n.to_bytes(4, "big")
    return b"\x81" + n.to_bytes(8, "big")


_MODULE_CHARSET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"


def module_type_name(module_id):
    """The 9-character name packed into a module type id (the low 10 bits
    are the encoding version)."""
    module_id >>= 10
    name = []
    for _ in range(9):
        name.append(_MODULE_CHARSET[module_id & 63])
        module_id >>= 6
    return "".join(reversed(name))
