"""`holdfast-check-rdb FILE` (also `python -m rdb.checktool FILE`): walk an
RDB file with the loader's decoder and report what it holds: the version,
the AUX fields, key counts per database and type, expiries. For a corrupt
file, the byte offset of the bad data and what was expected there. Exit
status 0 when the file loads, 1 when it does not.
"""

import sys
import time
from collections import Counter

from .decoder import RDBError, decode, read_header


class _Census:
    """A decoder sink that counts instead of building values."""

    def __init__(self, out):
        self.out = out
        self.reader = None
        self.dbid = 0
        self.types = {}  # dbid -> Counter(kind)
        self.expires = Counter()
        self.already_expired = 0
        self.keys = 0
        self.now_ms = int(time.time() * 1000)

    def _at(self):
        return self.reader.pos if self.reader is not None else 0

    def aux(self, name, value):
        self.out("[offset %d] AUX FIELD %s = '%s'" % (self._at(), name.decode(errors="replace"),
                                                      value.decode(errors="replace")))

    def select_db(self, dbid):
        self.dbid = dbid
        self.out("[offset %d] Selecting DB ID %d" % (self._at(), dbid))

    def resize_db(self, size, expires):
        pass

    def function(self, code):
        self.out("[offset %d] Function library (%d bytes)" % (self._at(), len(code)))

    def module_aux(self, name):
        self.out("[offset %d] Module aux data of '%s' (skipped)" % (self._at(), name))

    def key(self, key, kind, value, expire_ms, idle, freq):
        self.keys += 1
        self.types.setdefault(self.dbid, Counter())[kind] += 1
        if expire_ms is not None:
            self.expires[self.dbid] += 1
            if expire_ms < self.now_ms:
                self.already_expired += 1


def check(path, out=print):
    """Check one file; True when it loads."""
    out("[offset 0] Checking RDB file %s" % path)
    try:
        with open(path, "rb") as f:
            buf = f.read()
    except OSError as e:
        out("--- RDB ERROR DETECTED ---")
        out("Cannot open %s: %s" % (path, e.strerror or e))
        return False
    census = _Census(out)
    try:
        version = read_header(buf)
        out("[offset 9] RDB version %d" % version)
        decode(buf, census, verify_checksum=True)
    except RDBError as e:
        out("--- RDB ERROR DETECTED ---")
        at = e.offset if e.offset is not None else census._at()
        out("[offset %d] %s" % (at, e.message))
        out("[additional info] %d keys read before the error, file size %d bytes" % (census.keys, len(buf)))
        return False
    if version >= 5:
        stored = int.from_bytes(buf[-8:], "little")
        out("[offset %d] %s" % (len(buf), "Checksum OK" if stored else "No checksum (written with rdbchecksum no)"))
    for dbid in sorted(census.types):
        kinds = census.types[dbid]
        out("[info] db%d: keys=%d expires=%d %s" % (dbid, sum(kinds.values()), census.expires[dbid],
                                                    " ".join("%s=%d" % kv for kv in sorted(kinds.items()))))
    out("[info] %d keys read" % census.keys)
    out("[info] %d expires" % sum(census.expires.values()))
    out("[info] %d already expired" % census.already_expired)
    out("RDB looks OK")
    return True


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    if len(argv) != 1 or argv[0] in ("-h", "--help"):
        print("Usage: holdfast-check-rdb <rdb-file-name>", file=sys.stderr)
        return 1
    return 0 if check(argv[0]) else 1


if __name__ == "__main__":
    sys.exit(main())
