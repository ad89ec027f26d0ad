"""The command universe ACL rules are written against: Redis 7.0's whole
command table (every command and subcommand of redis70_commands.json, with
its ACL categories) plus Holdfast's own commands, each with one bit. Rules
naming a Redis command Holdfast lacks (+xadd, -@geo) are accepted as Redis
accepts them, and ACL LIST's best-fit category summary counts the same
commands Redis counts, so it prints the same categories.

Bitmaps are Python ints; bit `n` (one past the last command) is Redis's
reserved "future commands" bit that only +@all sets."""

from ..commands import cmdref

# ACLCommandCategories, in Redis's order (ACL CAT, the describe loop).
CATEGORIES = ("keyspace", "read", "write", "set", "sortedset", "list", "hash", "string", "bitmap",
              "hyperloglog", "geo", "stream", "pubsub", "admin", "fast", "slow", "blocking", "dangerous",
              "connection", "transaction", "scripting")


class Node:
    """One command or subcommand of the universe."""

    __slots__ = ("bit", "fullname", "cats", "parent", "subs", "perm_mask")

    def __init__(self, bit, fullname, cats, parent):
        self.bit = bit
        self.fullname = fullname  # str, lower case: "get", "config|get"
        self.cats = cats
        self.parent = parent
        self.subs = []
        self.perm_mask = 1 << bit  # this bit and its subcommands' (ACLChangeSelectorPerm)


class Catalog:
    def __init__(self, table):
        ref = cmdref.load()
        cats = {name: {c.lstrip("@").lower() for c in entry.get("acl", ())} for name, entry in ref.items()}
        for cmd in table.values():
            for c in (cmd, *cmd.subcommands.values()):
                name = c.fullname.decode()
                if name not in cats:  # Holdfast's own (CLIENT SETINFO): its registration's categories
                    cats[name] = {x.lstrip("@").lower() for x in c.acl_categories}
        subs = {}
        for n in cats:
            if "|" in n:
                subs.setdefault(n.partition("|")[0], []).append(n)
        self.by_name = {}
        self.tops = []
        bit = 0
        for top in sorted(n for n in cats if "|" not in n):
            node = self._add(bit, top, cats[top], None)
            bit += 1
            self.tops.append(node)
            for sub in sorted(subs.get(top, ())):
                child = self._add(bit, sub, cats[sub], node)
                bit += 1
                node.subs.append(child)
                node.perm_mask |= child.perm_mask
        self.future = 1 << bit
        self.all = (self.future << 1) - 1
        self.cat_mask = dict.fromkeys(CATEGORIES, 0)  # what +@cat sets (parents carry their subcommands)
        self.cat_members = dict.fromkeys(CATEGORIES, 0)  # the commands counted in @cat
        for node in self.by_name.values():
            for c in node.cats:
                if c in self.cat_mask:
                    self.cat_mask[c] |= node.perm_mask
                    self.cat_members[c] |= 1 << node.bit
        self.cat_size = {c: m.bit_count() for c, m in self.cat_members.items()}

    def _add(self, bit, name, cats, parent):
        node = Node(bit, name, frozenset(cats), parent)
        self.by_name[name] = node
        return node

    def lookup(self, name):
        """ACLLookupCommand: `cmd` or `cmd|sub` (bytes, any case), or None."""
        parts = name.lower().split(b"|")
        if len(parts) > 2:
            return None
        try:
            top = self.by_name.get(parts[0].decode())
        except UnicodeDecodeError:
            return None
        if top is None or top.parent is not None:
            return None
        if len(parts) == 1:
            return top
        if not top.subs:
            return None
        return self.by_name.get("%s|%s" % (top.fullname, parts[1].decode(errors="replace")))

    def walk(self):
        """Every node, each command followed by its subcommands."""
        for top in self.tops:
            yield top
            yield from top.subs
