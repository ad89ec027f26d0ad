"""rdb: the Redis RDB format and snapshots.

Public face:
    RDBError                      a file or payload that cannot be loaded
    decode(buf, sink)             walk an RDB file (decoder.py)
    decode_payload(payload)       a DUMP payload -> (kind, items)
    dump_payload(value)           a value -> DUMP payload (encoder.py)
    build_value(kind, items, cfg) decoded items -> a Holdfast value (loader.py)
    Snapshots                     SAVE/BGSAVE/save points/INFO (snapshot.py)
    load_at_startup, load_buffer  loading a file (loader.py)

Inside: format.py (numbers, CRC64, lengths), reader.py (the bounds-checked
cursor decoder.py reads with), compact.py (ziplist,
listpack, intset, zipmap), private_view.py and cow.py (what a fork child
reads and what it costs), checktool.py (holdfast-check-rdb).
"""

from .decoder import RDBError, decode, decode_payload
from .encoder import dump_payload
from .loader import build_value, load_at_startup, load_buffer
from .snapshot import SaveError, Snapshots

__all__ = ["RDBError", "SaveError", "Snapshots", "build_value", "decode", "decode_payload", "dump_payload",
           "load_at_startup", "load_buffer"]
