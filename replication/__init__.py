"""Replication: the primary side (PSYNC, full and partial resync, the
backlog, REPLCONF, INFO replication, ROLE). See primary.py; the replica
side comes next (ARCHITECTURE.md)."""

from .backlog import Backlog
from .primary import Primary, primary_of

__all__ = ["Backlog", "Primary", "primary_of"]
