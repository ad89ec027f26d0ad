"""The command table.

Every command is a function `handler(client, argv) -> reply bytes | None`
registered with `@command(...)`, carrying what COMMAND INFO reports: arity,
flags, key positions, ACL categories and a group/summary for COMMAND DOCS.
A handler returns the encoded reply; None means "no reply now" (a blocked
client, or a command that wrote its own replies).

Container commands (CONFIG, CLIENT, OBJECT, ...) register their subcommands
with `@subcommand(parent, name, ...)`; the parent dispatches by argv[1].

Import `engine.commands.load_all()` once to fill the table.
"""

import importlib
from time import perf_counter_ns

from .. import resp

TABLE = {}  # lower-case name (bytes) -> Command


class Command:
    __slots__ = ("name", "handler", "arity", "flags", "first_key", "last_key", "step",
                 "group", "summary", "since", "complexity", "subcommands", "parent",
                 "acl_categories", "calls", "usec", "rejected_calls", "failed_calls",
                 "is_write", "may_replicate", "fullname", "doc_args", "runner", "uniform_runner")

    def __init__(self, name, handler, arity, flags, keys, group, summary, since, complexity,
                 acl_categories, parent=None, doc_args=None):
        self.name = name  # bytes, lower case
        self.fullname = (parent.name + b"|" + name) if parent else name
        self.handler = handler
        self.arity = arity
        self.flags = tuple(flags.split()) if isinstance(flags, str) else tuple(flags)
        self.first_key, self.last_key, self.step = keys
        self.group = group
        self.summary = summary
        self.since = since
        self.complexity = complexity
        self.subcommands = {}
        self.parent = parent
        self.acl_categories = tuple(acl_categories)
        self.is_write = "write" in self.flags
        self.may_replicate = self.is_write or "may-replicate" in self.flags  # what CLIENT PAUSE WRITE holds
        self.doc_args = doc_args or []
        self.calls = 0
        self.usec = 0
        self.rejected_calls = 0
        self.failed_calls = 0
        self.runner = None  # a loop over a run of this command's plain requests (see `runner`)
        self.uniform_runner = None  # runs a whole uniform read of this command (see `uniform_runner`)

    def arity_ok(self, argc):
        a = self.arity
        return argc == a if a >= 0 else argc >= -a

    def key_positions(self, argc):
        """Indexes of key arguments, as COMMAND GETKEYS would list them."""
        if self.first_key == 0:
            return []
        last = self.last_key if self.last_key >= 0 else argc + self.last_key
        return list(range(self.first_key, min(last, argc - 1) + 1, self.step or 1))

    def reset_stats(self):
        self.calls = self.usec = self.rejected_calls = self.failed_calls = 0
        for sub in self.subcommands.values():
            sub.reset_stats()


_GROUP_CATEGORIES = {
    "string": "@string", "generic": "@keyspace", "list": "@list", "hash": "@hash",
    "set": "@set", "sorted-set": "@sortedset", "pubsub": "@pubsub", "transactions": "@transaction",
    "connection": "@connection", "scripting": "@scripting",
}


def _categories(flags, group, extra):
    cats = []
    fl = flags.split() if isinstance(flags, str) else list(flags)
    if "write" in fl:
        cats.append("@write")
    if "readonly" in fl:
        cats.append("@read")
    if "admin" in fl:
        cats += ["@admin", "@dangerous"]
    if "fast" in fl:
        cats.append("@fast")
    else:
        cats.append("@slow")
    if "blocking" in fl:
        cats.append("@blocking")
    g = _GROUP_CATEGORIES.get(group)
    if g and g not in cats:
        cats.append(g)
    for c in extra:
        if c not in cats:
            cats.append(c)
    return cats


def command(name, arity, flags="", keys=(0, 0, 0), group="generic", summary="", since="1.0.0",
            complexity="O(1)", acl=(), args=None):
    """Register a top-level command. `flags` is a space separated string of
    Redis command flags (write readonly denyoom admin pubsub noscript loading
    stale fast blocking no-auth ...)."""

    def deco(fn):
        lname = name.lower().encode()
        TABLE[lname] = Command(lname, fn, arity, flags, keys, group, summary, since, complexity,
                               _categories(flags, group, acl), doc_args=args)
        return fn

    return deco


def runner(name):
    """Register fn(c, reqs, i) -> j as the run loop of command `name`: it runs
    reqs[i:j], consecutive requests of that command with its plain arguments,
    in one tight loop, and stops at the first it leaves to the handler
    (another command, options, a case the handler must see). Server.run_batch
    calls it for pipelines; it must do exactly what the handler would."""

    def deco(fn):
        TABLE[name.lower().encode()].runner = fn
        return fn

    return deco


def uniform_runner(name):
    """Register fn(c, argc, args, data) -> reply or None as the uniform-read
    runner of command `name`. It runs a read that is nothing but this
    command with argc arguments of fixed lengths (engine/uniform_reads.py):
    `args` holds every request's arguments after the name, request after
    request; `data` is the read itself (the bytes to propagate). It returns
    the replies of them all as one bytes, or None, having changed nothing,
    for a read it does not run whole (another argc included): that read
    then takes the usual path. It must do exactly what the handler would,
    request by request."""

    def deco(fn):
        TABLE[name.lower().encode()].uniform_runner = fn
        return fn

    return deco


def subcommand(parent, name, arity, flags="", keys=(0, 0, 0), summary="", since="1.0.0",
               complexity="O(1)", acl=(), args=None):
    """Register `PARENT NAME`. The parent must be registered as a container
    with `container(...)` first (same module, above)."""

    def deco(fn):
        p = TABLE[parent.lower().encode()]
        lname = name.lower().encode()
        p.subcommands[lname] = Command(lname, fn, arity, flags, keys, p.group, summary, since,
                                       complexity, _categories(flags, p.group, acl), parent=p,
                                       doc_args=args)
        return fn

    return deco


def container(name, arity=-2, flags="", group="server", summary="", since="1.0.0"):
    """Register a command whose work is done by subcommands."""
    lname = name.lower().encode()

    def dispatch(c, argv):
        return run_subcommand(c, argv, TABLE[lname])

    TABLE[lname] = Command(lname, dispatch, arity, flags, (0, 0, 0), group, summary, since, "",
                           _categories(flags, group, ()))
    return dispatch


def run_subcommand(c, argv, parent):
    """Run `PARENT SUB ...` with the subcommand's own statistics (INFO
    commandstats reports `cmdstat_parent|sub`, usec in nanoseconds here).
    Server._call has already refused unknown subcommands and wrong arities
    (as Redis's processCommand does, before running or queueing)."""
    sub = parent.subcommands[argv[1].lower()]
    t0 = perf_counter_ns()
    reply = sub.handler(c, argv)
    sub.usec += perf_counter_ns() - t0
    sub.calls += 1
    if reply is not None and reply[:1] == b"-":
        sub.failed_calls += 1
    return reply


def subcommand_syntax_error(argv):
    """Redis's addReplySubcommandSyntaxError, for a subcommand whose own
    checks refuse its arguments: the subcommand echoed as typed (128 bytes
    at most), the container's name as typed, in capitals."""
    return resp.error(b"ERR unknown subcommand or wrong number of arguments for '%s'. Try %s HELP."
                      % (argv[1][:128], argv[0].upper()))


_MODULES = ("keys", "strings", "string_runs", "counters", "expire", "connection", "server_cmds", "introspection",
            "client_cmds", "debug", "pubsub", "transactions", "blocking", "persistence",
            "lists", "hashes", "sets", "zsets", "sort", "replication_cmds", "memory_cmds")


def load_all():
    """Import every command module (each registers its commands on import)."""
    for m in _MODULES:
        try:
            importlib.import_module(__name__ + "." + m)
        except ModuleNotFoundError as e:
            if e.name != __name__ + "." + m:
                raise
    importlib.import_module("engine.acl.commands")  # the ACL family lives with the rest of ACLs
    return TABLE
