"""Temp files a killed server leaves behind, removed at the next start.

A fork child writes `temp-<pid>.rdb` (BGSAVE) or, in the AOF directory,
`temp-rewriteaof-bg-<pid>.aof` (BGREWRITEAOF), and the parent renames it
into place when the child succeeds. A replica receiving a full sync writes
`temp-<time>.<pid>.rdb`; the parent writes `temp-<manifest>` before its
rename. A server killed (or a machine losing power) mid-write leaves these
files: nothing will ever rename them, and a big snapshot's temp file can
fill the disk after a few crashes. Fork children die with the server
(engine/util.die_with_parent), so at start a temp file whose writer is no
longer a live process is garbage. One whose pid is alive is left alone: it
may belong to another server sharing the directory.
"""

import os
import re

from engine import logsetup

_RDB_TEMP = re.compile(r"^temp-(?:\d+\.)?(\d+)\.rdb$")
_AOF_TEMP = re.compile(r"^temp-rewriteaof-bg-(\d+)\.aof$")


def _alive(pid):
    if pid == os.getpid():
        return False  # a file named after us was left by an earlier process with our pid
    try:
        with open("/proc/%d/stat" % pid, "rb") as f:
            state = f.read().rsplit(b")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    return state not in (b"Z", b"X")  # a zombie nobody reaped yet is dead


def _sweep(dirpath, pattern, always=()):
    removed = []
    try:
        names = os.listdir(dirpath)
    except OSError:
        return removed
    for name in names:
        m = pattern.match(name)
        if (m and not _alive(int(m.group(1)))) or name in always:
            try:
                os.unlink(os.path.join(dirpath, name))
            except OSError as e:
                logsetup.warning("Can't remove the stale temp file %s: %s", name, e.strerror)
                continue
            removed.append(name)
    return removed


def remove_stale(config):
    """Remove the temp files of dead writers from `dir` (the working
    directory) and the AOF directory. Returns the names removed."""
    removed = _sweep(".", _RDB_TEMP)
    aof_dir = config["appenddirname"]
    manifest_tmp = "temp-%s.manifest" % config["appendfilename"]
    removed += [os.path.join(aof_dir, n) for n in _sweep(aof_dir, _AOF_TEMP, always=(manifest_tmp,))]
    for name in removed:
        logsetup.notice("Removed the temp file %s left by a process that no longer runs", name)
    return removed
