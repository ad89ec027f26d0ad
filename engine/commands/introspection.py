"""Introspection: COMMAND (INFO, DOCS, COUNT, LIST, GETKEYS...), CLIENT
(ID, SETNAME, LIST, KILL, REPLY, ...) and RESET.

COMMAND describes each command from its registration (arity, flags, key
positions) completed by Redis 7.0's reference data (`cmdref`): docs, tips,
key specs and ACL categories, so redis-cli's hints and client libraries see
what Redis would tell them.
"""

from time import time as _now

from .. import resp
from ..info import client_type, unique_commands
from ..util import glob_matcher, parse_int
from . import TABLE, cmdref, command, container, run_subcommand, subcommand
from .connection import validate_client_name
from .server_cmds import SYNTAX, help_reply

# ---- COMMAND INFO / DOCS encoding ------------------------------------------------------

# Redis's COMMAND INFO flag order (addReplyCommandFlags); other flags are hidden.
_FLAG_ORDER = ("write", "readonly", "denyoom", "module", "admin", "pubsub", "noscript", "blocking",
               "loading", "stale", "skip_monitor", "skip_slowlog", "asking", "fast", "no_auth",
               "no_mandatory_keys", "no_async_loading", "no_multi", "movablekeys", "allow_busy")
_ACL_ORDER = ("@keyspace", "@read", "@write", "@set", "@sortedset", "@list", "@hash", "@string", "@bitmap",
              "@hyperloglog", "@geo", "@stream", "@pubsub", "@admin", "@fast", "@slow", "@blocking",
              "@dangerous", "@connection", "@transaction", "@scripting")


def _status_set(items, r):
    return resp.set_([resp.simple(x.encode()) for x in items], r)


def _encode(key, v, r):
    """Encode reference data: `flags`/`doc_flags` are sets of status strings,
    dicts are maps, other lists are arrays, str is bulk, int is integer."""
    if key in ("flags", "doc_flags"):
        return _status_set(v, r)
    if isinstance(v, dict):
        return resp.map_([(resp.bulk_str(k), _encode(k, x, r)) for k, x in v.items()], r)
    if isinstance(v, list):
        return resp.array([_encode(None, x, r) for x in v])
    if isinstance(v, bool):
        return resp.integer(int(v))
    if isinstance(v, int):
        return resp.integer(v)
    return resp.bulk_str(str(v))


def _flags(cmd, ref):
    have = {f.replace("-", "_") for f in cmd.flags}
    if ref and any(s["begin_search"]["type"] != "index" or s["find_keys"]["type"] != "range"
                   for s in ref.get("key_specs", ())):
        have.add("movablekeys")
    if getattr(cmd.handler, "getkeys", None) is not None:
        have.add("movablekeys")
    return [f for f in _FLAG_ORDER if f in have]


def _acl(cmd, ref):
    if ref and "acl" in ref:
        return ref["acl"]
    return sorted(cmd.acl_categories, key=lambda x: _ACL_ORDER.index(x) if x in _ACL_ORDER else 99)


def _key_specs(cmd, ref):
    if ref is not None:
        return ref.get("key_specs", [])
    if not cmd.first_key:
        return []
    last = cmd.last_key - cmd.first_key if cmd.last_key >= 0 else cmd.last_key
    return [{"flags": ["RW", "update"] if cmd.is_write else ["RO", "access"],
             "begin_search": {"type": "index", "spec": {"index": cmd.first_key}},
             "find_keys": {"type": "range", "spec": {"lastkey": last, "keystep": cmd.step or 1, "limit": 0}}}]


def command_info(cmd, r):
    ref = cmdref.get(cmd.fullname.decode())
    subs = [command_info(s, r) for s in cmd.subcommands.values()]
    return resp.array([
        resp.bulk(cmd.fullname),
        resp.integer(cmd.arity),
        _status_set(_flags(cmd, ref), r),
        resp.integer(cmd.first_key), resp.integer(cmd.last_key), resp.integer(cmd.step),
        _status_set(_acl(cmd, ref), r),
        resp.set_([resp.bulk_str(t) for t in (ref or {}).get("tips", ())], r),
        resp.set_([_encode(None, s, r) for s in _key_specs(cmd, ref)], r),
        resp.array(subs),
    ])


def command_docs(cmd, r):
    ref = cmdref.get(cmd.fullname.decode())
    if ref is not None and "docs" in ref:
        docs = dict(ref["docs"])
    else:
        docs = {"summary": cmd.summary, "since": cmd.since, "group": cmd.group, "complexity": cmd.complexity}
        docs = {k: v for k, v in docs.items() if v}
        docs.setdefault("summary", "")
        docs.setdefault("group", cmd.group or "generic")
    if cmd.doc_args:
        docs["arguments"] = cmd.doc_args
    pairs = [(resp.bulk_str(k), _encode(k, v, r)) for k, v in docs.items()]
    if cmd.subcommands:
        pairs.append((resp.bulk(b"subcommands"),
                      resp.map_([(resp.bulk(s.fullname), command_docs(s, r)) for s in cmd.subcommands.values()],
                                r)))
    return resp.map_(pairs, r)


def lookup(srv, name):
    """A command or `parent|sub` subcommand by name, or None."""
    name = name.lower()
    if b"|" in name:
        parent, _, sub = name.partition(b"|")
        p = srv.lookup_command(parent)
        return p.subcommands.get(sub) if p is not None else None
    return srv.lookup_command(name)


# ---- COMMAND ------------------------------------------------------------------------------

container("command", -1, "loading stale", group="server",
          summary="Get array of Redis command details", since="2.8.13")


def command_(c, argv):
    if len(argv) == 1:
        return resp.array([command_info(cmd, c.resp) for cmd in unique_commands(c.server)])
    return run_subcommand(c, argv, TABLE[b"command"], "COMMAND")


TABLE[b"command"].handler = command_
TABLE[b"command"].group = "server"


@subcommand("command", "count", 2, "loading stale", summary="Get total number of Redis commands",
            since="2.8.13")
def command_count(c, argv):
    return resp.integer(len(unique_commands(c.server)))


@subcommand("command", "info", -2, "loading stale",
            summary="Get array of specific Redis command details, or all when no argument is given",
            since="2.8.13", complexity="O(N) where N is the number of commands to look up")
def command_info_(c, argv):
    srv = c.server
    if len(argv) == 2:
        return resp.array([command_info(cmd, c.resp) for cmd in unique_commands(srv)])
    out = []
    for name in argv[2:]:
        cmd = lookup(srv, name)
        out.append(command_info(cmd, c.resp) if cmd is not None else resp.null(c.resp))
    return resp.array(out)


@subcommand("command", "docs", -2, "loading stale",
            summary="Get array of specific Redis command documentation", since="7.0.0",
            complexity="O(N) where N is the number of commands to look up")
def command_docs_(c, argv):
    srv = c.server
    if len(argv) == 2:
        cmds = unique_commands(srv)
    else:
        cmds = [cmd for cmd in (lookup(srv, n) for n in argv[2:]) if cmd is not None]
    return resp.map_([(resp.bulk(cmd.fullname), command_docs(cmd, c.resp)) for cmd in cmds], c.resp)


def _all_names(srv):
    for cmd in unique_commands(srv):
        yield cmd
        yield from cmd.subcommands.values()


@subcommand("command", "list", -2, "loading stale",
            summary="Get an array of Redis command names", since="7.0.0",
            complexity="O(N) where N is the total number of Redis commands")
def command_list(c, argv):
    srv = c.server
    if len(argv) == 2:
        return resp.bulk_array([cmd.fullname for cmd in _all_names(srv)])
    if len(argv) != 5 or argv[2].lower() != b"filterby":
        return resp.error(SYNTAX)
    kind, arg = argv[3].lower(), argv[4]
    if kind == b"module":
        return resp.EMPTY_ARRAY
    if kind == b"aclcat":
        cat = "@" + arg.decode(errors="replace").lower()
        if cat not in _ACL_ORDER:
            return resp.EMPTY_ARRAY
        names = [cmd.fullname for cmd in _all_names(srv)
                 if cat in _acl(cmd, cmdref.get(cmd.fullname.decode()))]
        return resp.bulk_array(names)
    if kind == b"pattern":
        m = glob_matcher(arg, nocase=True)
        return resp.bulk_array([cmd.fullname for cmd in _all_names(srv) if m(cmd.fullname)])
    return resp.error(SYNTAX)


def _spec_keys(argv, specs):
    """Key positions from Redis key specs (getKeysUsingKeySpecs); None when
    the arguments do not fit a spec."""
    argc = len(argv)
    out = []
    for spec in specs:
        if "not_key" in [f.lower() for f in spec.get("flags", ())]:
            continue
        bs, fk = spec["begin_search"], spec["find_keys"]
        if bs["type"] == "index":
            first = bs["spec"]["index"]
        elif bs["type"] == "keyword":
            kw, start = bs["spec"]["keyword"].encode().lower(), bs["spec"]["startfrom"]
            idx = range(start, argc) if start > 0 else range(argc + start, 0, -1)
            first = next((i + 1 for i in idx if 1 <= i < argc and argv[i].lower() == kw), 0)
            if not first:
                continue
        else:
            return None
        sp = fk["spec"]
        if fk["type"] == "range":
            step = sp["keystep"]
            if sp["lastkey"] >= 0:
                last = first + sp["lastkey"]
            elif not sp["limit"]:
                last = argc + sp["lastkey"]
            else:
                last = first + ((argc - first) // sp["limit"] + sp["lastkey"])
        elif fk["type"] == "keynum":
            step = sp["keystep"]
            if first + sp["keynumidx"] >= argc:
                return None
            n = parse_int(argv[first + sp["keynumidx"]])
            if n is None or n < 0:
                return None
            first += sp["firstkey"]
            last = first + n - 1
        else:
            return None
        if last >= argc or last < first or first >= argc:
            return None
        out += [(i, spec.get("flags", [])) for i in range(first, last + 1, step or 1)]
    return out


def _getkeys(c, argv, with_flags):
    srv = c.server
    args = argv[2:]
    cmd = srv.lookup_command(args[0])
    if cmd is not None and cmd.subcommands and len(args) > 1:
        cmd = cmd.subcommands.get(args[1].lower())
    if cmd is None:
        return resp.error(b"ERR Invalid command specified")
    ref = cmdref.get(cmd.fullname.decode())
    custom = getattr(cmd.handler, "getkeys", None)
    specs = [s for s in _key_specs(cmd, ref) if "not_key" not in [f.lower() for f in s.get("flags", ())]]
    if custom is None and not specs:
        return resp.error(b"ERR The command has no key arguments")
    if not cmd.arity_ok(len(args)):
        return resp.error(b"ERR Invalid number of arguments specified for command")
    if custom is not None:
        keys = [(i, ["RW"] if cmd.is_write else ["RO"]) for i in custom(args)]
    else:
        keys = _spec_keys(args, specs)
    if not keys:
        if keys is not None or "no-mandatory-keys" in cmd.flags:
            return resp.EMPTY_ARRAY
        return resp.error(b"ERR Invalid arguments specified for command")
    if not with_flags:
        return resp.bulk_array([args[i] for i, _ in keys])
    return resp.array([resp.array([resp.bulk(args[i]), _status_set([f for f in fl if f != "variable_flags"],
                                                                     c.resp)])
                       for i, fl in keys])


@subcommand("command", "getkeys", -4, "loading stale",
            summary="Extract keys given a full Redis command", since="2.8.13",
            complexity="O(N) where N is the number of arguments to the command")
def command_getkeys(c, argv):
    return _getkeys(c, argv, False)


@subcommand("command", "getkeysandflags", -4, "loading stale",
            summary="Extract keys and access flags given a full Redis command", since="7.0.0",
            complexity="O(N) where N is the number of arguments to the command")
def command_getkeysandflags(c, argv):
    return _getkeys(c, argv, True)


@subcommand("command", "help", 2, "loading stale", summary="Show helpful text about the different subcommands",
            since="5.0.0")
def command_help(c, argv):
    return help_reply("COMMAND", [
        "(no subcommand)",
        "    Return details about all Redis commands.",
        "COUNT",
        "    Return the total number of commands in this Redis server.",
        "LIST",
        "    Return a list of all commands in this Redis server.",
        "INFO [<command-name> ...]",
        "    Return details about multiple Redis commands.",
        "    If no command names are given, documentation details for all",
        "    commands are returned.",
        "DOCS [<command-name> ...]",
        "    Return documentation details about multiple Redis commands.",
        "    If no command names are given, documentation details for all",
        "    commands are returned.",
        "GETKEYS <full-command>",
        "    Return the keys from a full Redis command.",
        "GETKEYSANDFLAGS <full-command>",
        "    Return the keys and the access flags from a full Redis command.",
    ])


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
    return "".join(cl.info_line(now).replace(" cmd=null ", " cmd=NULL ") + "\n" for cl in clients).encode()


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
                if val != b"default":  # the only user until ACLs exist
                    return resp.error(b"ERR No such user '%s'" % val)
                user = "default"
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


@subcommand("client", "unblock", -3, "admin noscript loading stale",
            summary="Unblock a client blocked in a blocking command from a different connection",
            since="5.0.0", complexity="O(log N) where N is the number of client connections")
def client_unblock(c, argv):
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
    elif len(argv) > 4:
        return resp.error(SYNTAX)
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
    c.authenticated = not srv.config["requirepass"]
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
    c.skip_next_reply = False
    c.update_gate()
    return resp.simple(b"RESET")


