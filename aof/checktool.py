"""`holdfast-check-aof [--fix] [--truncate-to-timestamp TS] PATH` (also
`python -m aof.checktool`), as `redis-check-aof` behaves: PATH is a
manifest (every file it lists is checked, in order) or a single AOF file.

For each file: the base in RDB form goes through the RDB decoder; command
files are parsed command by command, and Holdfast's `#crc32c:<hex> <len>`
annotations are verified against the bytes before them, so corruption is
found anywhere a checksum covers, not only at a torn tail. The report
names the file and the offset up to which it is good.

--fix cuts the last file of the set at the end of its last good command
(Redis's tool does the same) when the damage is there; damage in an
earlier file cannot be fixed by cutting. --truncate-to-timestamp TS cuts
the last file before the first `#TS:` annotation later than TS.
Exit status 0 when everything is valid (or was fixed), 1 otherwise.
"""

import argparse
import os
import sys

from crc32c import crc32c

from rdb.checktool import check as check_rdb

from . import manifest as mf
from .stream import AofCorrupt, AofTruncated, commands


class FileReport:
    def __init__(self, name, size):
        self.name = name
        self.size = size
        self.ok_up_to = size
        self.problem = None  # None, or (offset, message)
        self.truncated = False
        self.crcs_checked = 0


def check_commands(name, buf):
    """Parse a command file and verify its crc32c annotations (each covers
    the `len` bytes just before its line). Returns (report, annotations)."""
    rep = FileReport(name, len(buf))
    notes = []
    good = 0
    try:
        for _argv, end in commands(buf, annotations=notes):
            good = end
    except AofTruncated as e:
        rep.ok_up_to = e.good_until
        rep.truncated = True
        rep.problem = (e.good_until, "unexpected end of file (a command cut short)")
    except AofCorrupt as e:
        rep.ok_up_to = good
        rep.problem = (e.offset, e.message)
    for at, line in notes:
        if not line.startswith(b"#crc32c:"):
            continue
        try:
            hexcrc, length = line[8:].split(b" ")
            want, length = int(hexcrc, 16), int(length)
        except ValueError:
            rep.problem = (at, "a malformed crc32c annotation")
            rep.ok_up_to = min(rep.ok_up_to, at)
            break
        if length > at or crc32c(buf[at - length:at]) != want:
            start = max(at - length, 0)
            rep.problem = (start, "crc32c mismatch in bytes %d..%d (annotation at offset %d)" % (start, at, at))
            rep.ok_up_to = min(rep.ok_up_to, start)
            rep.truncated = False
            break
        rep.crcs_checked += 1
    return rep, notes


def _ts_cut(notes, ts):
    """Offset of the first #TS: annotation later than ts, or None."""
    for at, line in notes:
        if line.startswith(b"#TS:"):
            try:
                if int(line[4:]) > ts:
                    return at
            except ValueError:
                continue
    return None


def run(path, fix=False, truncate_to=None, out=print):
    if path.endswith(".manifest"):
        d = os.path.dirname(path) or "."
        try:
            with open(path) as f:
                m = mf.parse(f.read())
        except (OSError, mf.ManifestError) as e:
            out("Invalid manifest %s: %s" % (path, e))
            return 1
        files = ([m.base] if m.base else []) + m.incrs
        paths = [os.path.join(d, f.name) for f in files]
        out("Start checking Multi Part AOF")
    else:
        paths = [path]
    status = 0
    for i, p in enumerate(paths):
        last = i == len(paths) - 1
        try:
            with open(p, "rb") as f:
                buf = f.read()
        except OSError as e:
            out("Cannot open %s: %s" % (p, e.strerror or e))
            return 1
        name = os.path.basename(p)
        if buf[:5] == b"REDIS":
            ok = check_rdb(p, out=lambda line: out("  " + line))
            out("%s %s (RDB form)" % (name, "is valid" if ok else "is NOT valid"))
            status |= 0 if ok else 1
            continue
        rep, notes = check_commands(name, buf)
        if truncate_to is not None and last:
            cut = _ts_cut(notes, truncate_to)
            if cut is not None:
                with open(p, "r+b") as f:
                    f.truncate(cut)
                    os.fsync(f.fileno())
                out("Successfully truncated AOF %s to timestamp %d" % (name, truncate_to))
                buf = buf[:cut]
                rep, notes = check_commands(name, buf)
        out("AOF analyzed: filename=%s, size=%d, ok_up_to=%d, diff=%d, crc32c annotations verified=%d"
            % (name, rep.size, rep.ok_up_to, rep.size - rep.ok_up_to, rep.crcs_checked))
        if rep.problem is None:
            out("%s is valid" % name)
            continue
        out("%s: %s at offset %d" % (name, rep.problem[1], rep.problem[0]))
        if fix and last:
            with open(p, "r+b") as f:
                f.truncate(rep.ok_up_to)
                os.fsync(f.fileno())
            out("Successfully truncated AOF %s to offset %d (%d bytes discarded)"
                % (name, rep.ok_up_to, rep.size - rep.ok_up_to))
        else:
            status = 1
            if fix:
                out("%s is not the last file: cutting it would lose what follows. Not fixed." % name)
    out("All AOF files and manifest are valid" if status == 0 else "AOF is not valid. Use the --fix option to try "
                                                                   "fixing it.")
    return status


def main(argv=None):
    ap = argparse.ArgumentParser(prog="holdfast-check-aof", description=__doc__.splitlines()[0])
    ap.add_argument("--fix", action="store_true")
    ap.add_argument("--truncate-to-timestamp", type=int, metavar="TS")
    ap.add_argument("path")
    args = ap.parse_args(argv)
    return run(args.path, args.fix, args.truncate_to_timestamp)


if __name__ == "__main__":
    sys.exit(main())
