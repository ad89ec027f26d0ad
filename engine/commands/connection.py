"""Connection commands: PING, ECHO, QUIT, SELECT (the rest of the
connection family -- HELLO, AUTH, CLIENT, RESET -- lives beside them)."""

from .. import resp
from . import command


@command("ping", -1, "fast", group="connection", summary="Ping the server.")
def ping(c, argv):
    if len(argv) > 2:
        return resp.error(b"ERR wrong number of arguments for 'ping' command")
    if c.subscriptions or c.psubscriptions:
        if c.resp == 2:
            return resp.bulk_array([b"pong", argv[1] if len(argv) == 2 else b""])
    if len(argv) == 2:
        return resp.bulk(argv[1])
    return resp.PONG


@command("echo", 2, "fast stale loading", group="connection", summary="Returns the given string.")
def echo(c, argv):
    return resp.bulk(argv[1])


@command("quit", -1, "noscript fast stale loading no-auth allow-busy", group="connection",
         summary="Closes the connection.")
def quit_(c, argv):
    c.close_after_reply = True
    return resp.OK


@command("select", 2, "fast stale loading", group="connection",
         summary="Changes the selected database.")
def select(c, argv):
    from ..util import parse_int

    idx = parse_int(argv[1])
    if idx is None:
        return resp.error(b"ERR value is not an integer or out of range")
    dbs = c.server.keyspace.dbs
    if idx < 0 or idx >= len(dbs):
        return resp.error(b"ERR DB index is out of range")
    c.db = dbs[idx]
    return resp.OK


# ---- authentication and protocol negotiation ---------------------------------------

WRONGPASS = b"WRONGPASS invalid username-password pair or user is disabled."


def check_credentials(c, user, password, argv0=b"AUTH"):
    """True and `c` is authenticated as `user` when the pair is valid (ACL
    users, engine/acl); a failure goes to ACL LOG."""
    return c.server.acl.authenticate(c, user, password, argv0)


def redact(argv, *positions):
    """Hide secrets from SLOWLOG and MONITOR, which read argv after the
    command ran (Redis's redactClientCommandArgument)."""
    for i in positions:
        if i < len(argv):
            argv[i] = b"(redacted)"


@command("auth", -2, "noscript fast stale loading no-auth allow-busy", group="connection",
         summary="Authenticates the connection.")
def auth(c, argv):
    try:
        return _auth(c, argv)
    finally:
        redact(argv, *range(1, len(argv)))


def _auth(c, argv):
    if len(argv) > 3:
        return resp.error(b"ERR syntax error")
    if len(argv) == 2:
        if c.server.acl.default.nopass:
            return resp.error(b"ERR AUTH <password> called without any password configured for the default "
                              b"user. Are you sure your configuration is correct?")
        user, password = b"default", argv[1]
    else:
        user, password = argv[1], argv[2]
    if check_credentials(c, user, password, argv[0]):
        return resp.OK
    from .. import logsetup

    logsetup.verbose("Failed authentication attempt from client id=%d addr=%s", c.id, c.addr)
    return resp.error(WRONGPASS)


@command("hello", -1, "noscript fast stale loading no-auth allow-busy", group="connection",
         summary="Handshakes with the Redis server.", since="6.0.0")
def hello(c, argv):
    try:
        return _hello(c, argv)
    finally:
        for i in range(2, len(argv) - 2):
            if argv[i].upper() == b"AUTH":
                redact(argv, i + 1, i + 2)


def _hello(c, argv):
    from ..config import VERSION
    from ..util import parse_int

    ver = c.resp
    i = 1
    if len(argv) >= 2:
        v = parse_int(argv[1])
        if v is None:
            return resp.error(b"ERR Protocol version is not an integer or out of range")
        if v < 2 or v > 3:
            return resp.error(b"NOPROTO unsupported protocol version")
        ver = v
        i = 2
    user = password = name = None
    while i < len(argv):
        opt = argv[i].upper()
        more = len(argv) - i - 1
        if opt == b"AUTH" and more >= 2:
            user, password = argv[i + 1], argv[i + 2]
            i += 3
        elif opt == b"SETNAME" and more >= 1:
            name = argv[i + 1]
            i += 2
        else:
            return resp.error(b"ERR Syntax error in HELLO option '%s'" % argv[i])
    if user is not None and not check_credentials(c, user, password, argv[0]):
        return resp.error(WRONGPASS)
    if not c.authenticated:
        return resp.error(b"NOAUTH HELLO must be called with the client already authenticated, otherwise the "
                          b"HELLO AUTH <user> <pass> option can be used to authenticate the client and "
                          b"select the RESP protocol version at the same time")
    if name is not None:
        err = validate_client_name(name)
        if err:
            return resp.error(err)
        c.name = name
    c.resp = ver
    role = "replica" if c.server.is_replica else "master"
    return resp.encode_value({"server": "redis", "version": VERSION, "proto": ver, "id": c.id,
                              "mode": "standalone", "role": role, "modules": []}, ver)


def validate_client_name(name):
    """Client names cannot contain spaces, newlines or special characters."""
    for ch in name:
        if ch < 33 or ch > 126:
            return b"ERR Client names cannot contain spaces, newlines or special characters."
    return None
