"""CLIENT (ID, SETNAME, GETNAME, SETINFO, LIST, INFO, KILL, PAUSE, UNPAUSE, REPLY,
NO-EVICT, UNBLOCK, HELP) and RESET. Replies and error texts follow Redis 7.0 (SETINFO:
7.2)."""

from time import time as _now

from .. import resp
from ..info import client_type
from ..pause import PAUSE_ALL, PAUSE_WRITE
from ..util import parse_int
from . import command, container, subcommand, subcommand_syntax_error
from .connection import validate_client_name
from .server_cmds import SYNTAX, help_reply

# ---- CLIENT -------------------------------------------------------------------------------

container("client", group="connection", summary="A container for client connection commands",
          since="2.4.0")

_CLIENT_TYPES = {b"normal": "normal", b"slave": "replica", b"replica": "replica", b"pubsub": "pubsub",
                 b"master": "master"}


@subcommand("client", "id", 2, "noscript loading stale", summary="Returns the client ID for the current connection",
            since="5.0.0")
def client_id(c, argv):
    return resp.integer(c.id)


@subcommand("client", "setname", 3, "noscript loading stale", summary="Set the current connection name",
            since="2.6.9")
def client_setname(c, argv):
    err = validate_client_name(argv[2])
    if err:
        return resp.error(err)
    c.name = argv[2]
    return resp.OK


@subcommand("client", "getname", 2, "noscript loading stale", summary="Get the current connection name",
            since="2.6.9")
def client_getname(c, argv):
    return resp.bulk(c.name) if c.name else resp.null(c.resp)


@subcommand("client", "setinfo", 4, "noscript loading stale",
            summary="Set client or connection specific info", since="7.2.0")
def client_setinfo(c, argv):
    attr = argv[2].lower()
    if attr not in (b"lib-name", b"lib-ver"):
        return resp.error(b"ERR Unrecognized option '%s'" % argv[2])
    for ch in argv[3]:
        if ch < 33 or ch > 126:
            return resp.error(b"ERR %s cannot contain spaces, newlines or special characters." % argv[2])
    if attr == b"lib-name":
        c.lib_name = argv[3]
    else:
        c.lib_ver = argv[3]
    return resp.OK


def _clients_text(clients):
    now = _now()
    # a client that has sent nothing yet shows cmd=NULL, as Redis
    text = "".join(cl.info_line(now).replace(" cmd=null ", " cmd=NULL ") + "\n" for cl in clients)
    return text.encode("utf-8", "surrogateescape")  # user names are any bytes


@subcommand("client", "list", -2, "admin noscript loading stale",
            summary="Get the list of client connections", since="2.4.0",
            complexity="O(N) where N is the number of client connections")
def client_list(c, argv):
    c.last_cmd = b"client|list"  # the caller's line shows the running subcommand
    clients = sorted(c.server.clients.values(), key=lambda x: x.id)
    if len(argv) == 4 and argv[2].lower() == b"type":
        want = _CLIENT_TYPES.get(argv[3].lower())
        if want is None:
            return resp.error(b"ERR Unknown client type '%s'" % argv[3])
        clients = [cl for cl in clients if client_type(cl) == want]
    elif len(argv) > 3 and argv[2].lower() == b"id":
        by_id = {cl.id: cl for cl in clients}
        picked = []
        for a in argv[3:]:
            cid = parse_int(a)
            if cid is None:
                return resp.error(b"ERR Invalid client ID")
            if cid in by_id:
                picked.append(by_id[cid])
        clients = picked
    elif len(argv) != 2:
        return resp.error(SYNTAX)
    return resp.verbatim(_clients_text(clients), c.resp)


@subcommand("client", "info", 2, "noscript loading stale",
            summary="Returns information about the current client connection.", since="6.2.0")
def client_info(c, argv):
    c.last_cmd = b"client|info"
    return resp.verbatim(_clients_text([c]), c.resp)


@subcommand("client", "kill", -3, "admin noscript loading stale", summary="Kill the connection of a client",
            since="2.4.0", complexity="O(N) where N is the number of client connections")
def client_kill(c, argv):
    """CLIENT KILL ip:port (old form: replies OK or an error, may kill the
    caller) or CLIENT KILL <filter> <value> ... (replies the count, skips
    the caller unless SKIPME no). Another client is closed at once; the
    caller after its reply."""
    srv = c.server
    addr = laddr = user = ctype = None
    cid = 0
    skipme = True
    if len(argv) == 3:
        addr, skipme = argv[2], False
    else:
        i = 2
        while i < len(argv):
            opt = argv[i].lower()
            if i + 1 >= len(argv):
                return resp.error(SYNTAX)
            val = argv[i + 1]
            if opt == b"id":
                cid = parse_int(val)
                if cid is None or cid < 1:
                    return resp.error(b"ERR client-id should be greater than 0")
            elif opt == b"type":
                ctype = _CLIENT_TYPES.get(val.lower())
                if ctype is None:
                    return resp.error(b"ERR Unknown client type '%s'" % val)
            elif opt == b"addr":
                addr = val
            elif opt == b"laddr":
                laddr = val
            elif opt == b"user":
                u = srv.acl.get(val)
                if u is None:
                    return resp.error(b"ERR No such user '%s'" % val)
                user = u.name
            elif opt == b"skipme":
                if val.lower() == b"yes":
                    skipme = True
                elif val.lower() == b"no":
                    skipme = False
                else:
                    return resp.error(SYNTAX)
            else:
                return resp.error(SYNTAX)
            i += 2
    killed = 0
    close_self = False
    for cl in list(srv.clients.values()):
        if addr is not None and cl.addr.encode() != addr:
            continue
        if laddr is not None and cl.laddr.encode() != laddr:
            continue
        if ctype is not None and client_type(cl) != ctype:
            continue
        if cid and cl.id != cid:
            continue
        if user is not None and cl.user != user:
            continue
        if cl is c:
            if skipme:
                continue
            close_self = True
        else:
            srv.free_client(cl)
        killed += 1
    if close_self:
        c.close_after_reply = True
    if len(argv) == 3:
        return resp.OK if killed else resp.error(b"ERR No such client")
    return resp.integer(killed)


@subcommand("client", "pause", -3, "admin noscript loading stale", summary="Stop processing commands from clients "
            "for some time", since="3.0.0", complexity="O(1)")
def client_pause(c, argv):
    """CLIENT PAUSE timeout [WRITE|ALL] (engine/pause.py)."""
    try:
        timeout = int(argv[2])
    except ValueError:
        return resp.error(b"ERR timeout is not an integer or out of range")
    if timeout < 0:
        return resp.error(b"ERR timeout is negative")
    kind = PAUSE_ALL
    if len(argv) == 4:
        mode = argv[3].lower()
        if mode == b"write":
            kind = PAUSE_WRITE
        elif mode != b"all":
            return resp.error(b"ERR CLIENT PAUSE mode must be WRITE or ALL")
    elif len(argv) > 4:
        return SYNTAX
    srv = c.server
    srv.pause.pause(kind, int(_now() * 1000) + timeout)
    return resp.OK


@subcommand("client", "unpause", 2, "admin noscript loading stale", summary="Resume processing of clients that "
            "were paused", since="6.2.0", complexity="O(N) Where N is the number of paused clients")
def client_unpause(c, argv):
    c.server.pause.unpause()
    return resp.OK


@subcommand("client", "reply", 3, "noscript loading stale", summary="Instruct the server whether to reply to commands",
            since="3.2.0")
def client_reply(c, argv):
    mode = argv[2].lower()
    if mode == b"on":
        c.reply_mode = "on"
        c.skip_next_reply = False
        c.update_gate()
        return resp.OK
    if mode == b"off":
        c.reply_mode = "off"
    elif mode == b"skip":
        if c.reply_mode != "off":
            c.skip_next_reply = True  # server.call drops the next command's reply
    else:
        return resp.error(SYNTAX)
    c.update_gate()
    return None


@subcommand("client", "no-evict", 3, "admin noscript loading stale",
            summary="Set client eviction mode for the current connection", since="7.0.0")
def client_no_evict(c, argv):
    mode = argv[2].lower()
    if mode == b"on":
        c.no_evict = True
        c.flags.add("e")
    elif mode == b"off":
        c.no_evict = False
        c.flags.discard("e")
    else:
        return resp.error(SYNTAX)
    return resp.OK


# Client-side caching (CLIENT TRACKING) is not implemented: a connection is
# never tracking, and these report exactly that, as Redis does for one.

@subcommand("client", "getredir", 2, "noscript loading stale",
            summary="Get tracking notifications redirection client ID if any", since="6.0.0")
def client_getredir(c, argv):
    return resp.integer(-1)


@subcommand("client", "trackinginfo", 2, "noscript loading stale",
            summary="Return information about server assisted client side caching for the current connection",
            since="6.2.0")
def client_trackinginfo(c, argv):
    return resp.map_([(resp.bulk(b"flags"), resp.set_([resp.bulk(b"off")], c.resp)),
                      (resp.bulk(b"redirect"), resp.integer(-1)),
                      (resp.bulk(b"prefixes"), resp.EMPTY_ARRAY)], c.resp)


@subcommand("client", "unblock", -3, "admin noscript loading stale",
            summary="Unblock a client blocked in a blocking command from a different connection",
            since="5.0.0", complexity="O(log N) where N is the number of client connections")
def client_unblock(c, argv):
    if len(argv) > 4:
        return subcommand_syntax_error(argv)
    cid = parse_int(argv[2])
    if cid is None:
        return resp.error(b"ERR value is not an integer or out of range")
    err = False
    if len(argv) == 4:
        mode = argv[3].lower()
        if mode == b"error":
            err = True
        elif mode != b"timeout":
            return resp.error(b"ERR CLIENT UNBLOCK reason should be TIMEOUT or ERROR")
    srv = c.server
    target = next((cl for cl in srv.clients.values() if cl.id == cid), None)
    if target is None or target.blocked is None:
        return resp.ZERO
    if err:
        reply = resp.error(b"UNBLOCKED client unblocked via CLIENT UNBLOCK")
    else:
        reply = target.blocked.timeout_reply(target)
    srv.blocking.unblock(target, reply)
    return resp.ONE


@subcommand("client", "help", 2, "loading stale", summary="Show helpful text about the different subcommands",
            since="5.0.0")
def client_help(c, argv):
    return help_reply("CLIENT", [
        "CACHING (YES|NO)",
        "    Enable/disable tracking of the keys for next command in OPTIN/OPTOUT modes.",
        "GETREDIR",
        "    Return the client ID we are redirecting to when tracking is enabled.",
        "GETNAME",
        "    Return the name of the current connection.",
        "ID",
        "    Return the ID of the current connection.",
        "INFO",
        "    Return information about the current client connection.",
        "KILL <ip:port>",
        "    Kill connection made from <ip:port>.",
        "KILL <option> <value> [<option> <value> [...]]",
        "    Kill connections. Options are:",
        "    * ADDR (<ip:port>|<unixsocket>:0)",
        "      Kill connections made from the specified address",
        "    * LADDR (<ip:port>|<unixsocket>:0)",
        "      Kill connections made to specified local address",
        "    * TYPE (NORMAL|MASTER|REPLICA|PUBSUB)",
        "      Kill connections by type.",
        "    * USER <username>",
        "      Kill connections authenticated by <username>.",
        "    * SKIPME (YES|NO)",
        "      Skip killing current connection (default: yes).",
        "LIST [options ...]",
        "    Return information about client connections. Options:",
        "    * TYPE (NORMAL|MASTER|REPLICA|PUBSUB)",
        "      Return clients of specified type.",
        "UNPAUSE",
        "    Stop the current client pause, resuming traffic.",
        "PAUSE <timeout> [WRITE|ALL]",
        "    Suspend all, or just write, clients for <timeout> milliseconds.",
        "REPLY (ON|OFF|SKIP)",
        "    Control the replies sent to the current connection.",
        "SETNAME <name>",
        "    Assign the name <name> to the current connection.",
        "UNBLOCK <clientid> [TIMEOUT|ERROR]",
        "    Unblock the specified blocked client.",
        "TRACKING (ON|OFF) [REDIRECT <id>] [BCAST] [PREFIX <prefix> [...]]",
        "         [OPTIN] [OPTOUT] [NOLOOP]",
        "    Control server assisted client side caching.",
        "TRACKINGINFO",
        "    Report tracking status for the current connection.",
        "NO-EVICT (ON|OFF)",
        "    Protect current client connection from eviction.",
    ])


# ---- RESET --------------------------------------------------------------------------------

@command("reset", 1, "noscript loading stale fast no-auth allow-busy", group="connection",
         summary="Reset the connection", since="6.2.0")
def reset(c, argv):
    """Back to a fresh connection's state: db 0, RESP2, default user, no
    transaction/watches, no subscriptions, no name, replies on, not a
    monitor."""
    if c.kind in ("master", "replica"):
        return resp.error(b"ERR can only reset normal client connections")
    srv = c.server
    if c.is_monitor:
        c.is_monitor = False
        if c in srv.monitors:
            srv.monitors.remove(c)
    c.db = srv.keyspace.dbs[0]
    c.resp = 2
    c.user = "default"
    c.authenticated = srv.acl.default_open()
    c.multi_queue = None
    c.multi_error = False
    if c.watched_keys:
        from .transactions import unwatch_all  # noqa: PLC0415 - optional module

        unwatch_all(c)
    c.flags.discard("d")
    if c.subscriptions or c.psubscriptions:
        srv.pubsub.unsubscribe_all(c)
    c.name = b""
    c.reply_mode = "on"
    if c.skip_next_reply != "now":  # CLIENT REPLY SKIP before RESET drops RESET's own reply
        c.skip_next_reply = False
    c.update_gate()
    return resp.simple(b"RESET")


