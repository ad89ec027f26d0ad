"""Small readers the harness needs: a process's CPU time from /proc, the
output of `redis-benchmark --csv`, and a description of the machine.

Kept apart from the drivers (quick.py, demo.py) so the parsing can be tested
on recorded samples without starting anything.
"""

import csv
import io
import os
import platform
import shutil
import subprocess
import sys
from importlib import metadata

CLK_TCK = os.sysconf("SC_CLK_TCK")


# ---- /proc/PID/stat ----------------------------------------------------------------

def parse_stat_cpu(text, clk_tck=CLK_TCK):
    """utime + stime in seconds from the text of /proc/PID/stat.

    The second field (comm) is in parentheses and may itself hold spaces and
    parentheses, so split after the *last* ')'. What follows starts at field
    3 (state); utime and stime are fields 14 and 15 (proc(5)). For a thread
    group leader they cover every thread of the process, which matters once
    io-threads run."""
    rest = text[text.rindex(")") + 2:].split()
    return (int(rest[11]) + int(rest[12])) / clk_tck


def cpu_seconds(pid):
    """CPU time (user + system, all threads) used so far by process `pid`."""
    with open("/proc/%d/stat" % pid) as f:
        return parse_stat_cpu(f.read())


def main_thread_cpu_seconds(pid):
    """CPU time of process `pid`'s main thread alone (the thread whose id is
    the pid): the thread that runs the keyspace in redis-server, valkey-server
    and Holdfast, beside their I/O threads or worker processes."""
    with open("/proc/%d/task/%d/stat" % (pid, pid)) as f:
        return parse_stat_cpu(f.read())


def tree_cpu_seconds(pid):
    """CPU time of process `pid` (all threads) and of its live child
    processes (Holdfast's I/O workers)."""
    total = cpu_seconds(pid)
    for child in child_pids(pid):
        try:
            total += cpu_seconds(child)
        except OSError:  # it exited meanwhile
            pass
    return total


def _task_files(pid, name):
    """(tid, text of /proc/PID/task/TID/<name>) for each live thread of
    `pid` (none if the process is gone); text is None where the thread
    exists but the file does not (a kernel without that file)."""
    try:
        tids = os.listdir("/proc/%d/task" % pid)
    except OSError:
        return
    for tid in tids:
        try:
            with open("/proc/%d/task/%s/%s" % (pid, tid, name)) as f:
                text = f.read()
        except OSError:
            if not os.path.exists("/proc/%d/task/%s" % (pid, tid)):
                continue  # the thread ended meanwhile
            text = None
        yield tid, text


def child_pids(pid):
    return [int(p) for _tid, text in _task_files(pid, "children") if text for p in text.split()]


def parse_schedstat_ns(text):
    """Nanoseconds on CPU from the text of /proc/PID/task/TID/schedstat."""
    return int(text.split()[0])


def sched_cpu_seconds(pid):
    """CPU time of process `pid` summed over its live threads, from
    schedstat: nanosecond resolution where /proc/PID/stat counts 10 ms
    ticks, which matters for the short runs. None where the kernel has no
    schedstat (CONFIG_SCHED_INFO off) or the process is gone."""
    if not os.path.exists("/proc/%d/task" % pid):
        return None
    total = 0
    for _tid, text in _task_files(pid, "schedstat"):
        if text is None:
            return None
        total += parse_schedstat_ns(text)
    return total / 1e9


# ---- redis-benchmark --csv -------------------------------------------------------------

def parse_benchmark_csv(text):
    """{TEST: {"rps": float, ...}} from `redis-benchmark --csv` output.

    Redis 7 prints a header row ("test","rps","avg_latency_ms",...) and one
    row per test; Redis 6 printed bare "TEST","rps" rows. Both are read;
    latency columns are kept as floats where present. Lines that are not CSV
    rows (progress output on a terminal) are ignored."""
    out = {}
    header = None
    for row in csv.reader(io.StringIO(text)):
        if not row or not row[0].strip():
            continue
        if row[0] == "test":
            header = row
            continue
        if len(row) < 2:
            continue
        try:
            values = [float(v) for v in row[1:]]
        except ValueError:
            continue
        names = header[1:] if header else ["rps"]
        out[row[0]] = dict(zip(names, values, strict=False))
    if not out:
        raise ValueError("no results in redis-benchmark output: %r" % text[:200])
    return out


# ---- the machine -----------------------------------------------------------------------

def _first_line_with(path, prefix):
    try:
        with open(path) as f:
            for line in f:
                if line.startswith(prefix):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return None


def command_output(cmd, cwd=None):
    """stdout of a short command, stripped; None when it cannot run."""
    try:
        return subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, timeout=10).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return None


def git_commit(root):
    """HEAD's commit, with '-dirty' when the work tree has changes."""
    head = command_output(["git", "rev-parse", "HEAD"], cwd=root)
    if not head:
        return None
    dirty = command_output(["git", "status", "--porcelain", "--untracked-files=no"], cwd=root)
    return head + ("-dirty" if dirty else "")


PACKAGES = ("holdfast", "hiredis", "redis", "sortedcontainers", "lz4", "crc32c", "python-lzf", "crcmod")


def environment(root, redis_server=None, redis_benchmark=None):
    """What a reader needs to know to compare a run with theirs."""
    versions = {}
    for name in PACKAGES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = None
    mem = _first_line_with("/proc/meminfo", "MemTotal")  # "24684092 kB"
    if mem and mem.endswith(" kB") and mem[:-3].isdigit():
        mem = "%.1f GiB (%s)" % (int(mem[:-3]) / 1048576, mem)
    return {
        "cpu_model": _first_line_with("/proc/cpuinfo", "model name") or platform.processor(),
        "cpu_count": os.cpu_count(),
        "cpu_affinity": sorted(os.sched_getaffinity(0)),
        "memory_total": mem,
        "kernel": platform.platform(),
        "python": sys.version.split()[0],
        "python_implementation": platform.python_implementation(),
        "python_executable": sys.executable,
        "packages": versions,
        "redis_server": command_output([redis_server, "--version"]) if redis_server else None,
        "redis_benchmark": command_output([redis_benchmark, "--version"]) if redis_benchmark else None,
        "git_commit": git_commit(root),
    }


def tool(name):
    """Path of a Debian redis tool, or None."""
    p = shutil.which(name)
    if p:
        return p
    p = "/usr/bin/" + name
    return p if os.path.exists(p) else None
