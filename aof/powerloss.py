"""A simulated power loss for crash tests (bench/durability.py, tests).

Killing a process proves little about fsync: the kernel keeps what the
process wrote. A power loss keeps only what was synced. So when the server
runs with HOLDFAST_POWERLOSS_JOURNAL=<path>, the AOF writer appends a line
`<incr file name> <size>` to that journal after every successful fsync of
an incremental file (and when it opens one: its size then was synced by
whoever wrote it). After killing the server, `drop_unsynced` cuts every
incremental file of the manifest back to its last synced size, keeping a
random part of the unsynced bytes (up to a page) to model a torn write, as
LazyFS or SQLite's crash tests do. Base files and manifests are written
with fsync + rename + directory fsync, so they survive as they are.
"""

import os

from . import manifest as mf

ENV = "HOLDFAST_POWERLOSS_JOURNAL"
PAGE = 4096


class Journal:
    """The writer's side: one O_APPEND file, a line per fsync."""

    def __init__(self, path):
        self.fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)

    def synced(self, name, size):
        os.write(self.fd, b"%s %d\n" % (name.encode(), size))


def from_env():
    path = os.environ.get(ENV)
    return Journal(path) if path else None


def synced_sizes(journal_path):
    """{incr file name: last synced size} from a journal."""
    sizes = {}
    try:
        with open(journal_path, "rb") as f:
            for line in f:
                name, _, size = line.rstrip(b"\n").rpartition(b" ")
                if name and size.isdigit():
                    sizes[name.decode()] = int(size)
    except FileNotFoundError:
        pass
    return sizes


def drop_unsynced(dirpath, appendfilename, journal_path, rng, tear=True):
    """Cut each incremental file back to its synced size (plus, with
    `tear`, a random prefix of its unsynced bytes within one page). Returns
    {file: bytes dropped}."""
    m = mf.read(dirpath, appendfilename)
    sizes = synced_sizes(journal_path)
    dropped = {}
    for f in m.incrs if m else ():
        path = os.path.join(dirpath, f.name)
        size = os.path.getsize(path)
        keep = min(sizes.get(f.name, 0), size)
        if tear and size > keep:
            keep += rng.randrange(min(size - keep, PAGE) + 1)
        if keep < size:
            with open(path, "r+b") as fh:
                fh.truncate(keep)
            dropped[f.name] = size - keep
    return dropped
