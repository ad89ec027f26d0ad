"""ACL users, as Redis 7.0 has them: users and the rule grammar (users.py),
the command universe the rules name (catalog.py), the permission check
(check.py), ACL LOG (log.py), the server's ACL state (registry.py: `Acl`,
which the server keeps as `server.acl`), the config `user` lines and the
aclfile (aclfile.py) and the ACL command family (commands.py)."""

from .registry import DEFAULT, Acl

__all__ = ["DEFAULT", "Acl"]
