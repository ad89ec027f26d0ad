"""Replication commands of the primary side: PSYNC, SYNC, REPLCONF. The
work is replication/'s (primary.py); these parse and answer as Redis does."""

from .. import resp
from . import command


def _primary(c):
    from replication import primary_of  # noqa: PLC0415 - replication builds on the engine

    return primary_of(c.server)


@command("psync", -3, "admin noscript no-async-loading no-multi", group="server", since="2.8.0",
         summary="An internal command used in replication")
def psync(c, argv):
    if c.kind == "master":
        return resp.error(b"ERR Replica can't interact with the keyspace")
    try:
        offset = int(argv[2])
    except ValueError:
        return resp.error(b"ERR value is not an integer or out of range")
    return _primary(c).psync(c, argv[1], offset)


@command("sync", 1, "admin noscript no-async-loading no-multi", group="server", since="1.0.0",
         summary="An internal command used in replication")
def sync(c, argv):
    return _primary(c).sync(c)


@command("replconf", -1, "admin noscript loading stale allow-busy", group="server", since="3.0.0",
         summary="An internal command for configuring the replication stream")
def replconf(c, argv):
    return _primary(c).replconf(c, argv)
