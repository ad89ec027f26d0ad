"""How a fork child reads the keyspace without copying the parent's pages.

After fork() the child shares every page with the parent until one side
writes it. CPython writes an object's reference count whenever Python code
(or most C code) takes a reference to it, so a child that simply iterated
the keyspace would copy nearly every page the dataset lives on (measured:
81% of it), doubling the memory a snapshot costs.

`marshal.dumps(obj, 2)` walks dicts, sets and bytes in C with borrowed
references and, at version 2, keeps no table of seen objects: it reads the
parent's objects without writing a byte of them. So the child:

1. sets aside the values marshal cannot take (lists, sorted sets,
   hashtable-encoded hashes and sets: the keys in `db.custom_keys`) and
   puts None in their place in its own view of `data` (a write that copies
   only the dict-table pages of those few entries);
2. marshals `data` and `expires` whole, then loads the bytes back: a private
   copy, in memory the parent never shares;
3. serializes from the private copy, and from the set-aside values (whose
   pages do get copied: the price of those types, proportional to them).

If the index is ever incomplete, marshal refuses the dict and the child
falls back to reading `data` directly: slower on memory, never wrong.
"""

import marshal

MARSHAL_VERSION = 2  # >= 3 records shared objects, writing their reference counts


def private_view(db):
    """(data, expires, custom, fell_back) for one Database, read in a fork
    child: `data` maps keys to values (None for the keys in `custom`),
    `custom` maps those keys to the shared values, `fell_back` says the
    index was incomplete and `data` is the shared dict itself."""
    custom = {}
    data = db.data
    for key in db.custom_keys:
        value = data.get(key)
        if value is not None:
            custom[key] = value
            data[key] = None  # the child's own copy of the table; the parent never sees it
    try:
        blob = marshal.dumps(data, MARSHAL_VERSION)
    except ValueError:
        return data, db.expires, custom, True
    private = marshal.loads(blob)
    del blob
    expires = marshal.loads(marshal.dumps(db.expires, MARSHAL_VERSION)) if db.expires else {}
    return private, expires, custom, False
