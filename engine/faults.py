"""Disk faults on demand, for tests (issue 9): with HOLDFAST_FAULT_FILE set
in the server's environment, the AOF and RDB writers read that file before
each write and sync, and fail with the errno it names, so a test can turn
EIO or ENOSPC on and off while the server runs. Each line of the file is
`<point> <ERRNO name>`; the points are

    aof-write   the AOF buffer's write
    aof-fsync   the AOF's fdatasync (always: the group's; everysec: the thread's)
    rdb-write   a snapshot's write (SAVE, BGSAVE, shutdown, a rewrite's base)

A missing or empty file injects nothing. Without the variable the writers
pay one module attribute check (ACTIVE). Real full disks are tested too,
on a tmpfs (tests/test_aof.py, tests/test_rdb_disk_full.py).
"""

import errno
import os

PATH = os.environ.get("HOLDFAST_FAULT_FILE") or None
ACTIVE = PATH is not None
_cache = [None, {}]  # [mtime_ns, {point: errno}]


def check(point):
    """Raise the OSError configured for `point`, if any."""
    try:
        mtime = os.stat(PATH).st_mtime_ns
    except OSError:
        return
    if mtime != _cache[0]:
        plan = {}
        try:
            with open(PATH) as f:
                for line in f:
                    words = line.split()
                    if len(words) == 2 and hasattr(errno, words[1]):
                        plan[words[0]] = getattr(errno, words[1])
        except OSError:
            return
        _cache[0], _cache[1] = mtime, plan
    code = _cache[1].get(point)
    if code:
        raise OSError(code, os.strerror(code))
