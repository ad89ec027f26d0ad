"""Introspection: COMMAND (INFO, DOCS, COUNT, LIST, GETKEYS...). CLIENT and
RESET live in client_cmds.py.

COMMAND describes each command from its registration (arity, flags, key
positions) completed by Redis 7.0's reference data (`cmdref`): docs, tips,
key specs and ACL categories, so redis-cli's hints and client libraries see
what Redis would tell them.
"""


from .. import resp
from ..info import unique_commands
from ..util import glob_matcher, parse_int
from . import TABLE, cmdref, container, run_subcommand, subcommand
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
        resp.array(subs) if subs else resp.set_([], r),  # Redis: an empty set when there are none
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
    return run_subcommand(c, argv, TABLE[b"command"])


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
    resolve = _VARIABLE_FLAGS.get(cmd.fullname)
    if resolve is not None:
        keys = resolve(args, keys)
    return resp.array([resp.array([resp.bulk(args[i]), _status_set([f for f in fl if f != "variable_flags"],
                                                                     c.resp)])
                       for i, fl in keys])


def _set_key_flags(args, keys):
    """setGetKeys: SET ... GET reads the old value (RW access update),
    otherwise the key is only overwritten (OW update)."""
    if any(a.lower() == b"get" for a in args[3:]):
        return [(keys[0][0], ["RW", "access", "update"])]
    return [(keys[0][0], ["OW", "update"])]


def _sort_key_flags(args, keys):
    """sortGetKeys: the sorted key is read, a STORE destination overwritten."""
    return [(keys[0][0], ["RO", "access"])] + [(i, ["OW", "update"]) for i, _ in keys[1:]]


_VARIABLE_FLAGS = {b"set": _set_key_flags, b"sort": _sort_key_flags}


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
