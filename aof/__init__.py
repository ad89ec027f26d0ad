"""aof: the Redis 7 multi-part append-only file.

Public face:
    open_at_startup(server)   load the AOF (or create its first files) and
                              start appending (loading.py); None refuses the start
    AppendOnly                the write-stream consumer with the fsync policies
                              (appendonly.py)
    switch(server, on)        CONFIG SET appendonly yes|no at runtime

Inside: manifest.py (the manifest's syntax and file names), rewrite.py
(BGREWRITEAOF through the snapshot child of rdb/), stream.py
(reading RESP command streams, torn tails and bad data told apart).
"""

from .appendonly import AppendOnly, switch
from .loading import open_at_startup

__all__ = ["AppendOnly", "open_at_startup", "switch"]
