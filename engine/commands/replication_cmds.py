"""Replication commands: PSYNC, SYNC, REPLCONF (the primary side) and
REPLICAOF/SLAVEOF (the replica side). The work is replication/'s; these
parse and answer as Redis does."""

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
    # PSYNC replid offset FAILOVER: our primary hands over to us (replication/failover.py)
    failover = len(argv) > 3 and argv[3].lower() == b"failover"
    return _primary(c).psync(c, argv[1], offset, failover)


@command("sync", 1, "admin noscript no-async-loading no-multi", group="server", since="1.0.0",
         summary="An internal command used in replication")
def sync(c, argv):
    return _primary(c).sync(c)


@command("replconf", -1, "admin noscript loading stale allow-busy", group="server", since="3.0.0",
         summary="An internal command for configuring the replication stream")
def replconf(c, argv):
    return _primary(c).replconf(c, argv)


def _replicaof(c, argv):
    if c.kind == "master":
        return resp.error(b"ERR Command is not valid when client is a replica.")
    primary = _primary(c)
    if primary.failover.state != "no-failover":
        return resp.error(b"ERR REPLICAOF not allowed while failing over.")
    if argv[1].lower() == b"no" and argv[2].lower() == b"one":
        primary.replicaof_no_one("user request from '%s'" % c.info_line())
        return resp.OK
    try:
        port = int(argv[2])
    except ValueError:
        return resp.error(b"ERR value is not an integer or out of range")
    if not 0 <= port <= 65535:
        return resp.error(b"ERR Invalid master port")
    if not primary.replicaof(argv[1].decode(errors="replace"), port):
        return resp.simple(b"OK Already connected to specified master")
    return resp.OK


@command("replicaof", 3, "admin noscript stale no-async-loading", group="server", since="5.0.0",
         summary="Make the server a replica of another instance, or promote it as master.")
def replicaof(c, argv):
    return _replicaof(c, argv)


@command("slaveof", 3, "admin noscript stale no-async-loading", group="server", since="1.0.0",
         summary="Make the server a replica of another instance, or promote it as master.")
def slaveof(c, argv):
    return _replicaof(c, argv)


@command("wait", 3, "noscript", group="generic", since="3.0.0",
         summary="Wait for the synchronous replication of all the write commands sent in the context of the "
                 "current connection", complexity="O(1)")
def wait(c, argv):
    try:
        numreplicas = int(argv[1])
        timeout = int(argv[2])
    except ValueError:
        return resp.error(b"ERR value is not an integer or out of range")
    if timeout < 0:
        return resp.error(b"ERR timeout is negative")
    return _primary(c).wait(c, numreplicas, timeout)


@command("failover", -1, "admin noscript stale", group="server", since="6.2.0",
         summary="Start a coordinated failover between this server and one of its replicas.", complexity="O(1)")
def failover(c, argv):
    return _primary(c).failover.command(c, argv)
