"""ACL: SETUSER, GETUSER, DELUSER, LIST, USERS, WHOAMI, CAT, GENPASS, LOG,
LOAD, SAVE, DRYRUN, HELP, with Redis 7.0's replies and error texts."""

import os

from .. import resp
from ..commands import container, subcommand, subcommand_syntax_error
from ..commands.connection import redact
from ..commands.server_cmds import help_reply
from ..util import parse_int
from . import aclfile
from .catalog import CATEGORIES
from .check import DENIED_CHANNEL, DENIED_CMD, OK, check
from .registry import name_bytes, name_of

_ADMIN = "admin noscript loading stale"
_NO_FILE = (b"ERR This Redis instance is not configured to use an ACL file. You may want to specify users via the "
            b"ACL SETUSER command and then issue a CONFIG REWRITE (assuming you have a Redis configuration file "
            b"set) in order to store users in the Redis configuration.")
GENPASS_MAX_BITS = 4096

container("acl", group="server", summary="A container for Access List Control commands ", since="6.0.0")


@subcommand("acl", "setuser", -3, _ADMIN, summary="Modify or create the rules for a specific ACL user",
            since="6.0.0", complexity="O(N). Where N is the number of rules provided.")
def acl_setuser(c, argv):
    try:
        err = c.server.acl.set_user(name_of(argv[2]), argv[3:])
    finally:
        redact(argv, *range(2, len(argv)))  # the user and its rules (passwords) stay out of SLOWLOG
    return resp.OK if err is None else resp.error(err)


@subcommand("acl", "getuser", 3, _ADMIN, summary="Get the rules for a specific ACL user", since="6.0.0",
            complexity="O(N). Where N is the number of password, command and pattern rules that the user has.")
def acl_getuser(c, argv):
    u = c.server.acl.get(argv[2])
    if u is None:
        return resp.null(c.resp)
    r = c.resp
    pairs = [(resp.bulk(b"flags"), resp.set_([resp.bulk_str(f) for f in u.flag_names()], r)),
             (resp.bulk(b"passwords"), resp.bulk_array([p.encode() for p in u.passwords]))]
    pairs += _selector_fields(u.root)
    pairs.append((resp.bulk(b"selectors"), resp.array([resp.map_(_selector_fields(s), r) for s in u.selectors[1:]])))
    return resp.map_(pairs, r)


def _selector_fields(s):
    return [(resp.bulk(b"commands"), resp.bulk(s.describe_commands())),
            (resp.bulk(b"keys"), resp.bulk(s.keys_text())),
            (resp.bulk(b"channels"), resp.bulk(s.channels_text()))]


@subcommand("acl", "deluser", -3, _ADMIN, summary="Remove the specified ACL users and the associated rules",
            since="6.0.0", complexity="O(1) amortized time considering the typical user.")
def acl_deluser(c, argv):
    if any(a == b"default" for a in argv[2:]):
        return resp.error(b"ERR The 'default' user cannot be removed")
    acl = c.server.acl
    return resp.integer(sum(acl.delete(name_of(a)) for a in argv[2:]))


@subcommand("acl", "list", 2, _ADMIN, summary="List the current ACL rules in ACL config file format",
            since="6.0.0", complexity="O(N). Where N is the number of configured users.")
def acl_list(c, argv):
    return resp.bulk_array([b"user %s %s" % (name_bytes(u.name), u.describe())
                            for u in c.server.acl.sorted_users()])


@subcommand("acl", "users", 2, _ADMIN, summary="List the username of all the configured ACL users",
            since="6.0.0", complexity="O(N). Where N is the number of configured users.")
def acl_users(c, argv):
    return resp.bulk_array([name_bytes(u.name) for u in c.server.acl.sorted_users()])


@subcommand("acl", "whoami", 2, "noscript loading stale", summary="Return the name of the user associated to "
            "the current connection", since="6.0.0")
def acl_whoami(c, argv):
    return resp.bulk(name_bytes(c.user))


@subcommand("acl", "cat", -2, "noscript loading stale", summary="List the ACL categories or the commands inside "
            "a category", since="6.0.0", complexity="O(1) since the categories and commands are a fixed set.")
def acl_cat(c, argv):
    if len(argv) == 2:
        return resp.bulk_array([x.encode() for x in CATEGORIES])
    if len(argv) != 3:
        return _syntax(argv)
    cat = argv[2].lower().decode(errors="replace")
    if cat not in CATEGORIES:
        return resp.error(b"ERR Unknown category '%s'" % argv[2][:128])
    return resp.bulk_array([n.fullname.encode() for n in c.server.acl.catalog.walk() if cat in n.cats])


@subcommand("acl", "genpass", -2, "noscript loading stale", summary="Generate a pseudorandom secure password to "
            "use for ACL users", since="6.0.0", complexity="O(1)")
def acl_genpass(c, argv):
    if len(argv) > 3:
        return _syntax(argv)
    bits = 256
    if len(argv) == 3:
        bits = parse_int(argv[2])
        if bits is None:
            return resp.error(b"ERR value is not an integer or out of range")
    if bits <= 0 or bits > GENPASS_MAX_BITS:
        return resp.error(b"ERR ACL GENPASS argument must be the number of bits for the output password, a "
                          b"positive number up to %d" % GENPASS_MAX_BITS)
    chars = (bits + 3) // 4
    return resp.bulk(os.urandom((chars + 1) // 2).hex()[:chars].encode())


@subcommand("acl", "log", -2, _ADMIN, summary="List latest events denied because of ACLs in place", since="6.0.0",
            complexity="O(N) with N being the number of entries shown.")
def acl_log(c, argv):
    if len(argv) > 3:
        return _syntax(argv)
    log = c.server.acl.log
    count = 10
    if len(argv) == 3:
        if argv[2].lower() == b"reset":
            log.reset()
            return resp.OK
        count = parse_int(argv[2])
        if count is None:
            return resp.error(b"ERR value is not an integer or out of range")
    return log.reply(max(count, 0), c.resp)


@subcommand("acl", "load", 2, _ADMIN, summary="Reload the ACLs from the configured ACL file", since="6.0.0",
            complexity="O(N). Where N is the number of configured users.")
def acl_load(c, argv):
    acl = c.server.acl
    if not c.server.config["aclfile"]:
        return resp.error(_NO_FILE)
    errors = aclfile.load(acl)
    return resp.OK if errors is None else resp.error(b"ERR " + errors)


@subcommand("acl", "save", 2, _ADMIN, summary="Save the current ACL rules in the configured ACL file",
            since="6.0.0", complexity="O(N). Where N is the number of configured users.")
def acl_save(c, argv):
    if not c.server.config["aclfile"]:
        return resp.error(_NO_FILE)
    if aclfile.save(c.server.acl):
        return resp.OK
    return resp.error(b"ERR There was an error trying to save the ACLs. Please check the server logs for more "
                      b"information")


@subcommand("acl", "dryrun", -4, _ADMIN, summary="Returns whether the user can execute the given command without "
            "executing the command.", since="7.0.0", complexity="O(1).")
def acl_dryrun(c, argv):
    srv = c.server
    u = srv.acl.get(argv[2])
    if u is None:
        return resp.error(b"ERR User '%s' not found" % argv[2])
    args = argv[3:]
    cmd = srv.lookup_command(args[0])
    if cmd is not None and cmd.subcommands and len(args) > 1:
        cmd = cmd.subcommands.get(args[1].lower())
    if cmd is None:
        return resp.error(b"ERR Command '%s' not found" % args[0])
    if not cmd.arity_ok(len(args)):
        return resp.error(b"ERR wrong number of arguments for '%s' command" % cmd.fullname)
    res, pos = check(u, cmd, args)
    if res == OK:
        return resp.OK
    if res == DENIED_CMD:
        return resp.bulk(b"This user has no permissions to run the '%s' command" % cmd.fullname)
    what = b"channel" if res == DENIED_CHANNEL else b"key"
    return resp.bulk(b"This user has no permissions to access the '%s' %s" % (args[pos], what))


@subcommand("acl", "help", 2, "loading stale", summary="Show helpful text about the different subcommands",
            since="6.0.0")
def acl_help(c, argv):
    return help_reply("ACL", [
        "CAT [<category>]",
        "    List all commands that belong to <category>, or all command categories",
        "    when no category is specified.",
        "DELUSER <username> [<username> ...]",
        "    Delete a list of users.",
        "DRYRUN <username> <command> [<arg> ...]",
        "    Returns whether the user can execute the given command without executing the command.",
        "GETUSER <username>",
        "    Get the user's details.",
        "GENPASS [<bits>]",
        "    Generate a secure 256-bit user password. The optional `bits` argument can",
        "    be used to specify a different size.",
        "LIST",
        "    Show users details in config file format.",
        "LOAD",
        "    Reload users from the ACL file.",
        "LOG [<count> | RESET]",
        "    Show the ACL log entries.",
        "SAVE",
        "    Save the current config to the ACL file.",
        "SETUSER <username> <attribute> [<attribute> ...]",
        "    Create or modify a user with the specified attributes.",
        "USERS",
        "    List all the registered usernames.",
        "WHOAMI",
        "    Return the current connection username.",
    ])


def _syntax(argv):
    return subcommand_syntax_error(argv)

