"""The Redis 7 multi-part AOF manifest: which files, in which order, make
up the append-only data in `appenddirname`.

    file appendonly.aof.1.base.rdb seq 1 type b
    file appendonly.aof.1.incr.aof seq 1 type i

One line per file: `file NAME seq N type T`, T being b (the base: an RDB
file or an AOF-form file), i (an incremental file of commands, loaded in
order after the base) or h (history, left from before a rewrite, never
loaded). Lines starting with `#` are comments. A name with spaces or
unusual bytes is written quoted, as sdscatrepr quotes it.
"""

import os
import shlex

BASE, INCR, HISTORY = "b", "i", "h"


class ManifestError(Exception):
    pass


class AofFile:
    __slots__ = ("name", "seq", "type")

    def __init__(self, name, seq, type_):
        self.name = name
        self.seq = seq
        self.type = type_

    def __repr__(self):
        return "AofFile(%r, %d, %r)" % (self.name, self.seq, self.type)


class Manifest:
    def __init__(self, files=()):
        self.files = list(files)

    @property
    def base(self):
        for f in self.files:
            if f.type == BASE:
                return f
        return None

    @property
    def incrs(self):
        return [f for f in self.files if f.type == INCR]

    def next_seq(self, type_):
        return max((f.seq for f in self.files if f.type == type_), default=0) + 1

    def format(self):
        return "".join("file %s seq %d type %s\n" % (_quote(f.name), f.seq, f.type) for f in self.files)


def _quote(name):
    if name and all(32 < ord(ch) < 127 and ch not in "\"'\\" for ch in name):
        return name
    return '"' + name.replace("\\", "\\\\").replace('"', '\\"') + '"'


def parse(text):
    """A Manifest from the manifest file's text; ManifestError says which
    line is wrong and why (the messages follow aofLoadManifestFromFile)."""
    m = Manifest()
    for lineno, line in enumerate(text.splitlines(), 1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        try:
            words = shlex.split(line)
        except ValueError:
            raise ManifestError("Invalid AOF manifest file format (line %d: unbalanced quotes)" % lineno) from None
        if len(words) % 2:
            raise ManifestError("Invalid AOF manifest file format (line %d: odd number of words)" % lineno)
        fields = dict(zip(words[::2], words[1::2], strict=True))
        name, seq, type_ = fields.get("file"), fields.get("seq"), fields.get("type")
        if name is None or seq is None or type_ is None:
            raise ManifestError("Invalid AOF manifest file format (line %d: needs file, seq and type)" % lineno)
        if type_ not in (BASE, INCR, HISTORY) or not seq.isdigit():
            raise ManifestError("Invalid AOF manifest file format (line %d: bad type or seq)" % lineno)
        if type_ == BASE and m.base is not None:
            raise ManifestError("Found duplicate base file information (line %d)" % lineno)
        m.files.append(AofFile(name, int(seq), type_))
    incr_seqs = [f.seq for f in m.incrs]
    if incr_seqs != sorted(incr_seqs):
        raise ManifestError("Found a non-monotonic sequence number of incr files")
    return m


def base_name(appendfilename, seq, rdb):
    return "%s.%d.base.%s" % (appendfilename, seq, "rdb" if rdb else "aof")


def incr_name(appendfilename, seq):
    return "%s.%d.incr.aof" % (appendfilename, seq)


def manifest_name(appendfilename):
    return appendfilename + ".manifest"


def read(dirpath, appendfilename):
    """The manifest in `dirpath`, or None when there is none."""
    try:
        with open(os.path.join(dirpath, manifest_name(appendfilename))) as f:
            return parse(f.read())
    except FileNotFoundError:
        return None


def write(dirpath, appendfilename, manifest):
    """Replace the manifest atomically: a temp file, fsync, rename, fsync
    of the directory, so a crash leaves the old manifest or the new one."""
    path = os.path.join(dirpath, manifest_name(appendfilename))
    tmp = os.path.join(dirpath, "temp-" + manifest_name(appendfilename))
    with open(tmp, "w") as f:
        f.write(manifest.format())
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)
    fsync_dir(dirpath)


def fsync_dir(dirpath):
    fd = os.open(dirpath, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
