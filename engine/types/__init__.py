"""Value types beyond strings (lists, hashes, sets, sorted sets).

Each module here registers its Python classes with the keyspace's table
(`engine.keyspace.register_type`), which TYPE, OBJECT ENCODING, COPY and
SCAN TYPE read; the command modules in engine/commands import them.
"""

from ..keyspace import VALUE_TYPES, register_type, type_name

__all__ = ["VALUE_TYPES", "register_type", "type_name"]
