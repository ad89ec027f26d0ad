"""Where users come from and go: `user` lines of the config file, the
`aclfile` (loaded at start and by ACL LOAD, written by ACL SAVE), in Redis
7.0's formats and with its error texts. A bad aclfile refuses the start; ACL
LOAD of a bad file keeps every user as it was and answers what is wrong."""

import os
import time

from .. import logsetup
from .users import EALREADY, EINVAL, ENOENT, RuleError, User, has_spaces, merge_selector_args

_catalog = None  # for checking config `user` lines before the server exists


def check_config_user(args, seen):
    """A config file's `user <name> <rules...>` (ACLAppendUserForLoading):
    [name, rule, ...] (bytes), or ValueError(Redis's message). `seen`: the
    names of the earlier `user` lines."""
    global _catalog
    from ..commands import load_all  # noqa: PLC0415 - only configs with users build the table this early
    from .catalog import Catalog  # noqa: PLC0415

    argv = [b"user"] + [a.encode("utf-8", "surrogateescape") for a in args]
    if argv[1] in seen:
        raise ValueError("Error in user declaration '%s': %s" % (args[0], EALREADY))
    merged, _bad = merge_selector_args(argv[2:])
    if merged is None:
        raise ValueError("Error in user declaration '%s': %s" % (args[0], EINVAL))
    if _catalog is None:
        _catalog = Catalog(load_all())
    fake = User("fake", _catalog)
    for j, op in enumerate(merged):
        try:
            fake.apply(op)
        except RuleError as e:
            if e.reason != ENOENT:  # unknown commands are reported at load, as Redis does
                # Redis names argv[j] here, j counting the rules: its words, its offset
                raise ValueError("Error in user declaration '%s': %s"
                                 % (argv[j].decode("utf-8", "surrogateescape"), e.reason)) from None
    return [argv[1]] + merged


def _exit():
    raise SystemExit(1)


def load_at_startup(acl):
    """ACLLoadUsersAtStartup: config `user` lines, then the aclfile. Any
    error is logged and the server does not start."""
    cfg = acl.server.config
    path = cfg["aclfile"]
    declared = getattr(cfg, "acl_users", None) or []
    if path and declared:
        logsetup.warning("Configuring Redis with users defined in redis.conf and at the same setting an ACL file "
                         "path is invalid. This setup is very likely to lead to configuration errors and security "
                         "holes, please define either an ACL file or declare users directly in your redis.conf, "
                         "but not both.")
        _exit()
    pubsub_all = acl.pubsub_all()
    for rules in declared:
        name = rules[0].decode("utf-8", "surrogateescape")
        u = acl.users.get(name)
        if u is None:
            u = acl.users[name] = acl.new_user(name)
        else:
            u.apply(b"reset", pubsub_all)  # only the default user can be declared again
        for op in rules[1:]:
            try:
                u.apply(op, pubsub_all)
            except RuleError as e:
                logsetup.warning("Error loading ACL rule '%s' for the user named '%s': %s",
                                 op.decode("utf-8", "replace"), name, e.reason)
                logsetup.warning("Critical error while loading ACLs. Exiting.")
                _exit()
        if not u.enabled:
            logsetup.notice("The user '%s' is disabled (there is no 'on' modifier in the user description). "
                            "Make sure this is not a configuration error.", name)
    if path:
        errors = load(acl)
        if errors is not None:
            logsetup.warning("Aborting Redis startup because of ACL errors: %s", errors.decode(errors="replace"))
            _exit()
    acl.regate()


def load(acl):
    """ACLLoadFromFile: None when every user of the file was taken, else
    the errors (bytes; nothing changed then)."""
    path = acl.server.config["aclfile"]
    try:
        with open(path, "rb") as f:
            data = f.read()
    except OSError as e:
        return ("Error loading ACLs, opening file '%s': %s" % (path, e.strerror)).encode("utf-8", "surrogateescape")
    where = path.encode("utf-8", "surrogateescape")
    errors = []
    users = {}
    pubsub_all = acl.pubsub_all()
    for linenum, line in enumerate(data.split(b"\n"), 1):
        line = line.strip(b" \t\r\n")
        if not line:
            continue
        argv = line.split(b" ")
        if argv[0] != b"user" or len(argv) < 2:
            errors.append(b"%s:%d should start with user keyword followed by the username. " % (where, linenum))
            continue
        if has_spaces(argv[1]):
            errors.append(b"'%s:%d: username '%s' contains invalid characters. " % (where, linenum, argv[1]))
            continue
        name = argv[1].decode("utf-8", "surrogateescape")
        if name in users:
            errors.append(b"WARNING: Duplicate user '%s' found on line %d. " % (argv[1], linenum))
            continue
        u = users[name] = User(name, acl.catalog, allchannels=pubsub_all)
        merged, _bad = merge_selector_args(argv[2:])
        if merged is None:  # (redis-server 7.0 crashes here)
            errors.append(b"%s:%d: Unmatched parenthesis in selector definition." % (where, linenum))
            continue
        syntax_error = False
        for op in merged:
            op = op.strip(b"\t\r\n")
            try:
                u.apply(op, pubsub_all)
            except RuleError as e:
                if e.reason == ENOENT:  # the rule names no secret: say which
                    errors.append(b"%s:%d: Error in applying operation '%s': %s. "
                                  % (where, linenum, op, e.reason.encode()))
                elif not syntax_error:  # others may hold a password: only the first reason
                    errors.append(b"%s:%d: %s. " % (where, linenum, e.reason.encode()))
                    syntax_error = True
    if errors:
        return b"".join(errors) + b"WARNING: ACL errors detected, no change to the previously active ACL rules " \
                                  b"was performed"
    acl.replace_all(users)
    return None


def save(acl):
    """ACLSaveToFile: every user in ACL LIST's form, through a temp file
    renamed over the aclfile. False (and a log line) on an I/O error."""
    path = acl.server.config["aclfile"]
    text = b"".join(b"user %s %s\n" % (u.name.encode("utf-8", "surrogateescape"), u.describe())
                    for u in acl.sorted_users())
    tmp = "%s.tmp-%d-%d" % (path, os.getpid(), int(time.time() * 1000))
    fd = -1
    try:
        try:
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT, 0o644)
        except OSError as e:
            logsetup.warning("Opening temp ACL file for ACL SAVE: %s", e.strerror)
            return False
        try:
            if os.write(fd, text) != len(text):
                raise OSError(28, os.strerror(28))
        except OSError as e:
            logsetup.warning("Writing ACL file for ACL SAVE: %s", e.strerror)
            return False
        os.close(fd)
        fd = -1
        try:
            os.rename(tmp, path)
        except OSError as e:
            logsetup.warning("Renaming ACL file for ACL SAVE: %s", e.strerror)
            return False
        tmp = None
        return True
    finally:
        if fd != -1:
            os.close(fd)
        if tmp is not None:
            try:
                os.unlink(tmp)
            except OSError:
                pass
