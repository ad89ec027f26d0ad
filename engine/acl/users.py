"""ACL users and selectors, and the rule grammar of ACL SETUSER, as Redis
7.0's acl.c has them (ACLSetUser / ACLSetSelector / ACLDescribeUser).

A user has flags (on/off, nopass, sanitize-payload), SHA-256 password hashes
and a list of selectors: the root one, then `(...)` selectors. A selector
holds the command bitmap (see catalog.py), first-args (`+select|0`), key
patterns with read/write flags and channel patterns."""

import hashlib
import string

from .. import logsetup
from ..protocol import split_args
from ..util import glob_matcher
from .catalog import CATEGORIES

READ, WRITE = 1, 2
_HEX = frozenset(b"0123456789abcdef")
_SPACES = frozenset(string.whitespace.encode() + b"\0")

# ACLSetUserStringError, by the errno Redis sets.
ENOENT = "Unknown command or category name in ACL"
EINVAL = "Syntax error"
EEXIST = ("Adding a pattern after the * pattern (or the 'allkeys' flag) is not valid and does not have any "
          "effect. Try 'resetkeys' to start with an empty list of patterns")
EISDIR = ("Adding a pattern after the * pattern (or the 'allchannels' flag) is not valid and does not have any "
          "effect. Try 'resetchannels' to start with an empty list of channels")
ENODEV = "The password you are trying to remove from the user does not exist"
EBADMSG = "The password hash must be exactly 64 characters and contain only lowercase hexadecimal characters"
EALREADY = "Duplicate user found. A user can only be defined once in config files"
ECHILD = "Allowing first-arg of a subcommand is not supported"


class RuleError(Exception):
    """A rule ACL SETUSER refuses; str() is Redis's reason."""

    def __init__(self, reason):
        super().__init__(reason)
        self.reason = reason


def hash_password(pw):
    return hashlib.sha256(pw).hexdigest()


def has_spaces(b):
    return any(ch in _SPACES for ch in b)


class Selector:
    __slots__ = ("catalog", "root", "allkeys", "allchannels", "allcommands", "bits", "firstargs",
                 "patterns", "channels")

    def __init__(self, catalog, root=False, allchannels=False):
        self.catalog = catalog
        self.root = root
        self.allkeys = False
        self.allchannels = allchannels  # acl-pubsub-default when the selector is made
        self.allcommands = False
        self.bits = 0
        self.firstargs = {}  # bit -> [first arg (bytes)] allowed although the command is not
        self.patterns = []  # [pattern, READ|WRITE flags, matcher]
        self.channels = []  # [pattern, matcher]

    def copy(self):
        s = Selector(self.catalog, self.root, self.allchannels)
        s.allkeys, s.allcommands, s.bits = self.allkeys, self.allcommands, self.bits
        s.firstargs = {k: list(v) for k, v in self.firstargs.items()}
        s.patterns = [list(p) for p in self.patterns]
        s.channels = [list(p) for p in self.channels]
        return s

    @property
    def unrestricted(self):
        return self.allcommands and self.allkeys and self.allchannels

    # -- rules ------------------------------------------------------------------------------

    def _perm(self, node, allow):
        """ACLChangeSelectorPerm: the command and its subcommands."""
        if allow:
            self.bits |= node.perm_mask
        else:
            self.bits &= ~node.perm_mask
            self.allcommands = False
        self.firstargs.pop(node.bit, None)

    def _category(self, cat, allow):
        cg = self.catalog
        mask = cg.cat_mask[cat]
        if allow:
            self.bits |= mask
        elif mask:
            self.bits &= ~mask
            self.allcommands = False
        if self.firstargs:
            members = cg.cat_members[cat]
            for bit in [b for b in self.firstargs if members >> b & 1]:
                del self.firstargs[bit]

    def apply(self, op):
        """ACLSetSelector: one rule (bytes). Raises RuleError."""
        lo = op.lower()
        if lo in (b"allkeys", b"~*"):
            self.allkeys = True
            self.patterns = []
        elif lo == b"resetkeys":
            self.allkeys = False
            self.patterns = []
        elif lo in (b"allchannels", b"&*"):
            self.allchannels = True
            self.channels = []
        elif lo == b"resetchannels":
            self.allchannels = False
            self.channels = []
        elif lo in (b"allcommands", b"+@all"):
            self.bits = self.catalog.all
            self.allcommands = True
            self.firstargs = {}
        elif lo in (b"nocommands", b"-@all"):
            self.bits = 0
            self.allcommands = False
            self.firstargs = {}
        elif op[:1] in (b"~", b"%"):
            self._key_pattern(op)
        elif op[:1] == b"&":
            if self.allchannels:
                raise RuleError(EISDIR)
            pat = op[1:]
            if has_spaces(pat):
                raise RuleError(EINVAL)
            if not any(p[0] == pat for p in self.channels):
                self.channels.append([pat, glob_matcher(pat)])
            self.allchannels = False
        elif op[:1] == b"+" and op[1:2] != b"@":
            self._allow(op[1:])
        elif op[:1] == b"-" and op[1:2] != b"@":
            node = self.catalog.lookup(op[1:])
            if node is None:
                raise RuleError(ENOENT)
            self._perm(node, False)
        elif op[:1] in (b"+", b"-"):
            cat = lo[2:].decode(errors="replace")
            if cat not in CATEGORIES:
                raise RuleError(ENOENT)
            self._category(cat, op[:1] == b"+")
        else:
            raise RuleError(EINVAL)

    def _key_pattern(self, op):
        if self.allkeys:
            raise RuleError(EEXIST)
        flags, offset = 0, 1
        if op[:1] == b"%":
            while offset < len(op):
                ch = op[offset:offset + 1]
                if ch in (b"R", b"r") and not flags & READ:
                    flags |= READ
                elif ch in (b"W", b"w") and not flags & WRITE:
                    flags |= WRITE
                elif ch == b"~":
                    offset += 1
                    break
                else:
                    raise RuleError(EINVAL)
                offset += 1
            if not flags:
                raise RuleError(EINVAL)
        else:
            flags = READ | WRITE
        pat = op[offset:]
        if has_spaces(pat):
            raise RuleError(EINVAL)
        for p in self.patterns:
            if p[0] == pat:
                p[1] |= flags
                break
        else:
            self.patterns.append([pat, flags, glob_matcher(pat)])
        self.allkeys = False

    def _allow(self, name):
        cg = self.catalog
        if b"|" not in name:
            node = cg.lookup(name)
            if node is None:
                raise RuleError(ENOENT)
            self._perm(node, True)
            return
        head, _, sub = name.rpartition(b"|")
        node = cg.lookup(head)
        if node is None:
            raise RuleError(ENOENT)
        if node.parent is not None:
            raise RuleError(ECHILD)
        if not sub:
            raise RuleError(EINVAL)
        if node.subs:
            node = cg.lookup(name)
            if node is None:
                raise RuleError(ENOENT)
            self._perm(node, True)
            return
        logsetup.warning("Deprecation warning: Allowing a first arg of an otherwise blocked command is a misuse "
                         "of ACL and may get disabled in the future (offender: +%s)", name.decode(errors="replace"))
        args = self.firstargs.setdefault(node.bit, [])
        if not any(a.lower() == sub.lower() for a in args):
            args.append(sub)

    # -- description ------------------------------------------------------------------------

    def describe_commands(self):
        """ACLDescribeSelectorCommandRules: +@all or -@all, the categories
        that fit best, then single commands (Redis emits those in the hash
        order of its command table, which changes from run to run; here they
        come in table order)."""
        cg = self.catalog
        additive = not self.bits & cg.future
        rules = [b"-@all" if additive else b"+@all"]
        fake = 0 if additive else cg.all
        temp = self.bits
        applied = set()
        while True:
            best, mindiff, maxsame = None, 1 << 31, 0
            for cat in CATEGORIES:
                if cat in applied:
                    continue
                on = (temp & cg.cat_members[cat]).bit_count()
                off = cg.cat_size[cat] - on
                diff, same = (off, on) if additive else (on, off)
                if same > diff and (diff < mindiff or (diff == mindiff and same > maxsame)):
                    best, mindiff, maxsame = cat, diff, same
            if best is None:
                break
            mask = cg.cat_mask[best]
            if additive:
                fake |= mask
                temp &= ~mask
            else:
                fake &= ~mask
                temp |= mask
            rules.append(("+@" if additive else "-@").encode() + best.encode())
            applied.add(best)
        for node in cg.walk():
            user = self.bits >> node.bit & 1
            if user != (fake >> node.bit & 1):
                rules.append((b"+" if user else b"-") + node.fullname.encode())
                fake = fake | node.perm_mask if user else fake & ~node.perm_mask
            if not user and node.bit in self.firstargs:
                rules += [b"+%s|%s" % (node.fullname.encode(), a) for a in self.firstargs[node.bit]]
        return b" ".join(rules)

    def keys_text(self):
        if self.allkeys:
            return b"~*"
        return b" ".join(_pattern_text(p, f) for p, f, _m in self.patterns)

    def channels_text(self):
        if self.allchannels:
            return b"&*"
        return b" ".join(b"&" + p for p, _m in self.channels)

    def describe(self):
        """ACLDescribeSelector: keys, channels, commands."""
        out = [self.keys_text()] if self.allkeys or self.patterns else []
        if self.allchannels:
            out.append(b"&*")
        else:
            out.append(b"resetchannels")
            out += [b"&" + p for p, _m in self.channels]
        out.append(self.describe_commands())
        return b" ".join(out)


def _pattern_text(pat, flags):
    if flags == READ | WRITE:
        return b"~" + pat
    return (b"%R~" if flags == READ else b"%W~") + pat


class User:
    __slots__ = ("name", "enabled", "nopass", "sanitize", "passwords", "selectors")

    def __init__(self, name, catalog, allchannels=False):
        self.name = name  # str (surrogateescape for non-UTF-8 bytes)
        self.enabled = False
        self.nopass = False
        self.sanitize = None  # None | "skip" | "yes" (skip-sanitize-payload / sanitize-payload)
        self.passwords = []  # SHA-256 hex digests (str)
        self.selectors = [Selector(catalog, root=True, allchannels=allchannels)]

    @property
    def root(self):
        return self.selectors[0]

    @property
    def unrestricted(self):
        return self.selectors[0].unrestricted

    def copy(self, name=None):
        u = User(self.name if name is None else name, self.root.catalog)
        u.enabled, u.nopass, u.sanitize = self.enabled, self.nopass, self.sanitize
        u.passwords = list(self.passwords)
        u.selectors = [s.copy() for s in self.selectors]
        return u

    def assign(self, other):
        """ACLCopyUser: take `other`'s rules, keep the name."""
        self.enabled, self.nopass, self.sanitize = other.enabled, other.nopass, other.sanitize
        self.passwords = list(other.passwords)
        self.selectors = [s.copy() for s in other.selectors]

    def flag_names(self):
        out = ["on"] if self.enabled else ["off"]
        if self.nopass:
            out.append("nopass")
        if self.sanitize == "skip":
            out.append("skip-sanitize-payload")
        elif self.sanitize == "yes":
            out.append("sanitize-payload")
        return out

    def describe(self):
        """ACLDescribeUser: what ACL LIST / ACL SAVE print after the name."""
        parts = [f.encode() for f in self.flag_names()]
        parts += [b"#" + h.encode() for h in self.passwords]
        parts.append(self.selectors[0].describe())
        text = b" ".join(parts)
        for s in self.selectors[1:]:
            text += b" (" + s.describe() + b")"
        return text

    # -- rules ------------------------------------------------------------------------------

    def apply(self, op, pubsub_all=False):
        """ACLSetUser: one rule (bytes). Raises RuleError. `pubsub_all`:
        acl-pubsub-default is allchannels (new selectors, reset)."""
        if not op:
            return
        lo = op.lower()
        if lo == b"on":
            self.enabled = True
        elif lo == b"off":
            self.enabled = False
        elif lo == b"skip-sanitize-payload":
            self.sanitize = "skip"
        elif lo == b"sanitize-payload":
            self.sanitize = "yes"
        elif lo == b"nopass":
            self.nopass = True
            self.passwords = []
        elif lo == b"resetpass":
            self.nopass = False
            self.passwords = []
        elif op[:1] in (b">", b"#"):
            h = hash_password(op[1:]) if op[:1] == b">" else _checked_hash(op[1:])
            if h not in self.passwords:
                self.passwords.append(h)
            self.nopass = False
        elif op[:1] in (b"<", b"!"):
            h = hash_password(op[1:]) if op[:1] == b"<" else _checked_hash(op[1:])
            if h not in self.passwords:
                raise RuleError(ENODEV)
            self.passwords.remove(h)
        elif op[:1] == b"(" and op[-1:] == b")":
            s = Selector(self.root.catalog, allchannels=pubsub_all)
            for rule in split_args(op[1:-1]) or ():  # sdssplitargs: unbalanced quotes give no rules
                s.apply(rule)
            self.selectors.append(s)
        elif lo == b"clearselectors":
            del self.selectors[1:]
        elif lo == b"reset":
            self.nopass = False
            self.passwords = []
            root = self.root
            root.allkeys, root.patterns = False, []
            root.allchannels, root.channels = pubsub_all, []
            self.enabled = False
            self.sanitize = "yes"
            del self.selectors[1:]
            root.apply(b"-@all")
        else:
            self.root.apply(op)


def _checked_hash(h):
    if len(h) != 64 or any(ch not in _HEX for ch in h):
        raise RuleError(EBADMSG)
    return h.decode()


def merge_selector_args(args):
    """ACLMergeSelectorArguments: `(` ... `)` spread over several arguments
    become one. Returns (merged, None) or (None, index of the unmatched `(`)."""
    out = []
    current = None
    start = -1
    for j, op in enumerate(args):
        if op[:1] == b"(" and op[-1:] != b")":
            current = op
            start = j
            continue
        if start != -1:
            current += b" " + op
            if op[-1:] == b")":
                start = -1
                out.append(current)
            continue
        out.append(op)
    if start != -1:
        return None, start
    return out, None
