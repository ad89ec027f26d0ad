"""The permission check (Redis 7.0's ACLCheckAllUserCommandPerm): may a
user run this command with these arguments? Each selector is tried in turn;
the first that allows everything wins. Otherwise the error to report is the
"worst" one (command < key < channel), at the last position found.

Keys come from Redis's key specs (the flags say read or write: `access`
reads, `insert`/`delete`/`update` write), as COMMAND GETKEYSANDFLAGS
computes them; channels from PUBLISH, SUBSCRIBE and PSUBSCRIBE."""

from ..commands import cmdref
from ..commands.introspection import _VARIABLE_FLAGS, _key_specs, _spec_keys
from .users import READ, WRITE

OK, DENIED_CMD, DENIED_KEY, DENIED_AUTH, DENIED_CHANNEL = 0, 1, 2, 3, 4

_PUBLISH, _SUBSCRIBE, _PATTERN = 1, 2, 4
# commands_with_channels: (flags, first, count or -1 for the rest)
CHANNEL_ARGS = {b"subscribe": (_SUBSCRIBE, 1, -1), b"ssubscribe": (_SUBSCRIBE, 1, -1),
                b"psubscribe": (_SUBSCRIBE | _PATTERN, 1, -1), b"publish": (_PUBLISH, 1, 1),
                b"spublish": (_PUBLISH, 1, 1)}

_key_plans = {}  # fullname -> (specs, custom getkeys, flag resolver)


def _plan(cmd):
    plan = _key_plans.get(cmd.fullname)
    if plan is None:
        ref = cmdref.get(cmd.fullname.decode())
        specs = [s for s in _key_specs(cmd, ref) if "not_key" not in [f.lower() for f in s.get("flags", ())]]
        plan = (specs, getattr(cmd.handler, "getkeys", None), _VARIABLE_FLAGS.get(cmd.fullname))
        _key_plans[cmd.fullname] = plan
    return plan


def key_refs(cmd, argv):
    """[(position, READ|WRITE needed)] of the keys `argv` names."""
    specs, custom, resolve = _plan(cmd)
    if custom is not None:
        keys = [(i, ["RW", "access", "update"] if cmd.is_write else ["RO", "access"]) for i in custom(argv)]
    elif specs:
        keys = _spec_keys(argv, specs) or []
    else:
        return []
    if resolve is not None and keys:
        keys = resolve(argv, keys)
    out = []
    for i, flags in keys:
        need = 0
        for f in flags:
            f = f.lower()
            if f == "access":
                need |= READ
            elif f in ("insert", "delete", "update"):
                need |= WRITE
        out.append((i, need))
    return out


def _key_ok(sel, key, need):
    for _pat, flags, match in sel.patterns:
        if flags & need == need and match(key):
            return True
    return False


def channel_ok(channels, name, is_pattern):
    """ACLCheckChannelAgainstList: a PSUBSCRIBE pattern must be listed as
    is; a channel may match any listed pattern."""
    for pat, match in channels:
        if (pat == name) if is_pattern else match(name):
            return True
    return False


def _selector_check(sel, cmd, argv, keys):
    """(result, position) for one selector; `keys` is a one-slot cache."""
    if not sel.allcommands and "no-auth" not in cmd.flags:
        node = sel.catalog.by_name.get(cmd.fullname.decode())
        if node is None:
            return DENIED_CMD, 0  # a command registered after the catalog was built: only +@all runs it
        bit = node.bit
        if not sel.bits >> bit & 1:
            allowed = sel.firstargs.get(bit)
            if len(argv) < 2 or not allowed:
                return DENIED_CMD, 0
            arg = argv[2 if cmd.parent is not None else 1].lower()
            if not any(a.lower() == arg for a in allowed):
                return DENIED_CMD, 0
    if not sel.allkeys:
        if not keys:
            keys.append(key_refs(cmd, argv))
        for i, need in keys[0]:
            if not _key_ok(sel, argv[i], need):
                return DENIED_KEY, i
    if not sel.allchannels:
        spec = CHANNEL_ARGS.get(cmd.name if cmd.parent is None else b"")
        if spec is not None:
            flags, first, count = spec
            stop = len(argv) if count < 0 else min(first + count, len(argv))
            for i in range(first, stop):
                if not channel_ok(sel.channels, argv[i], flags & _PATTERN):
                    return DENIED_CHANNEL, i
    return OK, 0


def check(user, cmd, argv):
    """(result, position of the refused key/channel) for `cmd` (the
    subcommand when there is one) run with `argv`."""
    error, last = DENIED_CMD, 0
    keys = []
    for sel in user.selectors:
        res, pos = _selector_check(sel, cmd, argv, keys)
        if res == OK:
            return OK, 0
        if res > error or (res == error and pos > last):
            error, last = res, pos
    return error, last
