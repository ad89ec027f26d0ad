"""The server's ACL state (`server.acl`): the users, the default user that
`requirepass` sets a password on, authentication, the permission gate
Admission calls for restricted clients, ACL LOG and the INFO counters.

Clients name their user (`Client.user`, a str). A client whose user may do
everything (the default user as shipped) is not gated, so its commands take
Server.run_batch's hot path untouched; any other is gated and each of its
commands passes `denial` in Admission._gate."""

import hmac

from ..commands import TABLE
from . import aclfile
from .catalog import Catalog
from .check import DENIED_AUTH, DENIED_CHANNEL, DENIED_CMD, DENIED_KEY, OK, channel_ok, check
from .log import AclLog
from .users import RuleError, User, has_spaces, hash_password, merge_selector_args

DEFAULT = "default"

_NOPERM = {
    DENIED_CMD: "NOPERM this user has no permissions to run the '%s' command",
    DENIED_KEY: "NOPERM this user has no permissions to access one of the keys used as arguments",
    DENIED_CHANNEL: "NOPERM this user has no permissions to access one of the channels used as arguments",
}
_EXEC_REASONS = {
    DENIED_CMD: "no permission to execute the command or subcommand",
    DENIED_KEY: "no permission to touch the specified keys",
    DENIED_CHANNEL: "no permission to access one of the channels used as arguments",
}


def name_of(b):
    return b.decode("utf-8", "surrogateescape")


def name_bytes(s):
    return s.encode("utf-8", "surrogateescape")


class Acl:
    def __init__(self, server):
        self.server = server
        self.catalog = Catalog(TABLE)
        self.users = {}
        self.default = self.new_user(DEFAULT)
        for op in (b"+@all", b"~*", b"&*", b"on", b"nopass"):
            self.default.apply(op)
        self.users[DEFAULT] = self.default
        self.log = AclLog()
        # INFO's acl_access_denied_* by reason; as Redis 7.2 (which added
        # them), CONFIG RESETSTAT leaves them alone.
        self.denied = [0] * 5
        cfg = server.config
        if cfg["requirepass"]:
            self._requirepass(None, cfg["requirepass"])
        cfg.on_change("requirepass", self._requirepass)
        server.info_providers.setdefault("stats", []).append(self._info)
        cfg.user_lines = self._config_lines
        aclfile.load_at_startup(self)

    # -- users --------------------------------------------------------------------------------

    def pubsub_all(self):
        return self.server.config["acl-pubsub-default"] == "allchannels"

    def new_user(self, name):
        return User(name, self.catalog, allchannels=self.pubsub_all())

    def get(self, name):
        """A user by name (bytes or str), or None."""
        return self.users.get(name_of(name) if isinstance(name, bytes) else name)

    def sorted_users(self):
        """In Redis's rax order (bytewise)."""
        return [self.users[n] for n in sorted(self.users, key=name_bytes)]

    def staged(self, name, ops):
        """ACLStringSetUser without the commit: (a copy of the user, or a new
        one, with `ops` applied, None) or (None, error text)."""
        merged, bad = merge_selector_args(ops)
        if merged is None:
            return None, b"ERR Unmatched parenthesis in acl selector starting at '%s'." % ops[bad]
        old = self.users.get(name)
        u = old.copy() if old is not None else self.new_user(name)
        pubsub_all = self.pubsub_all()
        for op in merged:
            try:
                u.apply(op, pubsub_all)
            except RuleError as e:
                return None, b"ERR Error in ACL SETUSER modifier '%s': %s" % (op, e.reason.encode())
        return u, None

    def set_user(self, name, ops):
        """ACL SETUSER: None, or the error text (nothing changed then)."""
        if has_spaces(name_bytes(name)):
            return "ERR Usernames can't contain spaces or null characters"
        staged, err = self.staged(name, ops)
        if err is not None:
            return err
        old = self.users.get(name)
        if old is None:
            self.users[name] = staged
        else:
            self._kill_pubsub_if_needed(staged, old)
            old.assign(staged)
        self.regate()
        return None

    def delete(self, name):
        """Remove a user; its clients are disconnected (the caller's after its reply)."""
        if self.users.pop(name, None) is None:
            return False
        self.kill_clients(lambda c: c.user == name)
        return True

    def kill_clients(self, which):
        """ACLFreeUserAndKillClients for every client `which(c)` picks: it
        falls back to the default user, unauthenticated, and is closed."""
        srv = self.server
        for c in list(srv.clients.values()):
            if which(c):
                c.user = DEFAULT
                c.authenticated = False
                c.update_gate()
                if c is srv.current_client:
                    c.close_after_reply = True
                else:
                    srv.free_client(c)

    def _kill_pubsub_if_needed(self, new, old):
        """ACLKillPubsubClientsIfNeeded, as Redis 7.0 has it: when the new
        channel patterns are not a superset of the old ones, subscribers of
        this user whose channels or patterns are no longer allowed go."""
        if any(s.allchannels for s in new.selectors):
            return
        upcoming = [p for s in new.selectors for p in s.channels]
        names = {p[0] for p in upcoming}
        if all(p[0] in names for s in old.selectors for p in s.channels):
            return
        srv = self.server
        for c in list(srv.clients.values()):
            if c.user != old.name or c.kind != "normal" or not (c.subscriptions or c.psubscriptions):
                continue
            if (any(not channel_ok(upcoming, p, True) for p in c.psubscriptions or ())
                    or any(not channel_ok(upcoming, ch, False) for ch in c.subscriptions or ())):
                if c is srv.current_client:
                    c.close_after_reply = True
                else:
                    srv.free_client(c)

    def regate(self):
        """Users changed: clients whose user turned restricted (or free) are
        gated accordingly."""
        for c in self.server.clients.values():
            c.update_gate()

    def replace_all(self, users):
        """ACL LOAD succeeded: the default user takes its new rules in place;
        every other user is replaced, its clients disconnected."""
        new_default = users.pop(DEFAULT, None)
        if new_default is None:
            new_default = self.new_user(DEFAULT)
            for op in (b"+@all", b"~*", b"&*", b"on", b"nopass"):
                new_default.apply(op)
        self.default.assign(new_default)
        users[DEFAULT] = self.default
        self.users = users
        self.kill_clients(lambda c: c.user != DEFAULT)
        self.regate()

    def _config_lines(self):
        """CONFIG REWRITE's `user` lines: every user, unless an aclfile
        holds them (then the config keeps none), as Redis 7.0 writes them."""
        if self.server.config["aclfile"]:
            return []
        return ["user %s %s" % (u.name, u.describe().decode("utf-8", "surrogateescape"))
                for u in self.sorted_users()]

    def _requirepass(self, _old, new):
        """requirepass is the default user's password (ACLUpdateDefaultUserPassword)."""
        self.default.apply(b"resetpass")
        self.default.apply(b">" + name_bytes(new) if new else b"nopass")

    # -- authentication -----------------------------------------------------------------------

    def default_open(self):
        """Whether a new connection starts authenticated (default user on and nopass)."""
        return self.default.nopass and self.default.enabled

    def auth_required(self):
        return not self.default.nopass or not self.default.enabled

    def gates(self, c):
        """Whether `c`'s user needs the permission check on every command."""
        u = self.users.get(c.user)
        return u is None or not u.unrestricted

    def authenticate(self, c, username, password, argv0):
        """AUTH / HELLO AUTH: True and the client is `username`'s, or False
        (logged in ACL LOG)."""
        u = self.get(username)
        if u is not None and u.enabled and (u.nopass or _any_equal(hash_password(password), u.passwords)):
            c.authenticated = True
            c.user = u.name
            c.update_gate()
            return True
        self.note(c, DENIED_AUTH, argv0, username)
        return False

    # -- the gate -----------------------------------------------------------------------------

    def denial(self, c, cmd, argv):
        """The -NOPERM error for `c` running `argv`, or None when allowed.
        `cmd` is the top-level command; the check is on its subcommand."""
        if c.kind in ("master", "aof"):
            return None  # our primary's stream and the AOF run as no user, as in Redis
        u = self.users.get(c.user)
        if u is None or u.unrestricted:
            return None
        if cmd.subcommands and len(argv) > 1:
            cmd = cmd.subcommands.get(argv[1].lower(), cmd)
        res, pos = check(u, cmd, argv)
        if res == OK:
            return None
        srv = self.server
        in_exec = srv.in_exec
        obj = cmd.fullname if res == DENIED_CMD else argv[pos]
        self.note(c, res, obj, name_bytes(u.name))
        if in_exec:  # a queued command whose permission went away before EXEC
            return ("NOPERM ACLs rules changed between the moment the transaction was accumulated and the EXEC "
                    "call. This command is no longer allowed for the following reason: " + _EXEC_REASONS[res])
        msg = _NOPERM[res]
        return msg % cmd.fullname.decode() if res == DENIED_CMD else msg

    def note(self, c, reason, obj, username):
        """addACLLogEntry (and the INFO stats counter)."""
        multi = c.multi_queue is not None or self.server.in_exec
        self.denied[reason] += 1
        saved = c.last_cmd
        if self.server.in_exec:
            c.last_cmd = b"exec"  # Redis's queued commands run without becoming the client's last command
        cinfo = c.info_line().encode("utf-8", "surrogateescape")
        c.last_cmd = saved
        self.log.add(reason, b"multi" if multi else b"toplevel", obj, username, cinfo,
                     self.server.config["acllog-max-len"])

    def _info(self, srv):
        counts = self.denied
        return [("acl_access_denied_auth", counts[DENIED_AUTH]), ("acl_access_denied_cmd", counts[DENIED_CMD]),
                ("acl_access_denied_key", counts[DENIED_KEY]),
                ("acl_access_denied_channel", counts[DENIED_CHANNEL])]


def _any_equal(digest, digests):
    ok = False
    for d in digests:
        ok |= hmac.compare_digest(digest, d)
    return ok
