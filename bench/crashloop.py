"""Crash loop: one data directory crashed again and again (issue 9).

    python -m bench.crashloop [--rounds 30] [--seed 1] [--out results/crashloop]

Unlike bench/durability.py, whose rounds each start from an empty
directory, every round here restarts the server on what the previous crash
left: an AOF repaired or not, a manifest mid-rewrite, a snapshot child's
temp file. Each round:

1. start Holdfast (`appendonly yes`, `appendfsync always`,
   `aof-load-truncated yes`; in two rounds of three the snapshot and
   rewrite children are slowed by `rdb-key-save-delay` so that the crash
   lands in them, in the third they finish) on the directory; it must
   start;
2. every write acknowledged in any earlier round must be there, and no
   temp file of a dead writer may remain;
3. writer threads SET unique keys while a chaos thread sends BGSAVE and
   BGREWRITEAOF at random moments;
4. at a random moment the server is killed with SIGKILL; the fork child
   it had must die with it (engine/util.die_with_parent); in half of the
   rounds a power loss is simulated too (aof/powerloss.py: what was not
   fsynced is dropped, the last page may be torn);
5. dump.rdb, where one exists, must pass holdfast-check-rdb: a crash never
   leaves a half-written snapshot in its place.

`run_loop` is what tests/test_crash_loop.py calls, with a few rounds.
"""

import argparse
import io
import os
import random
import re
import shlex
import shutil
import signal
import sys
import tempfile
import threading
import time

from aof import powerloss
from rdb import checktool

from .durability import _command, _missing, _writer
from .reporting import run_meta, write_outputs
from .serverproc import ServerProc, exit_on_sigterm, free_port, holdfast_command

PRELOAD_KEYS = 20000  # so that a snapshot child runs long enough to be caught
# rdb-key-save-delay per round: 0 lets children finish (a new dump.rdb, a
# rewrite that replaces the manifest), 40 us stretches one to ~1 s over the
# preload, so that the crash lands in it.
SAVE_DELAYS_US = (0, 40, 40)
SERVER_ARGS = ["--appendonly", "yes", "--appendfsync", "always", "--aof-load-truncated", "yes",
               "--auto-aof-rewrite-percentage", "0"]
_CHILD_STARTED = re.compile(rb"(?:Background saving|Background append only file rewriting) started by pid (\d+)")
_REPAIRED = b"loaded anyway because aof-load-truncated is enabled"


def _temp_files(d):
    aof_dir = os.path.join(d, "appendonlydir")
    names = [n for n in os.listdir(d) if n.startswith("temp-")]
    if os.path.isdir(aof_dir):
        names += [os.path.join("appendonlydir", n) for n in os.listdir(aof_dir) if n.startswith("temp-")]
    return sorted(names)


def pid_gone(pid, timeout=5.0):
    """True once `pid` is no process (or a zombie nobody reaps: dead too)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with open("/proc/%d/stat" % pid, "rb") as f:
                if f.read().rsplit(b")", 1)[1].split()[0] == b"Z":
                    return True
        except (FileNotFoundError, ProcessLookupError, IndexError):
            return True
        time.sleep(0.02)
    return False


def _chaos(port, stop, rng, sent):
    """BGSAVE or BGREWRITEAOF at random moments until `stop`."""
    while not stop.wait(rng.uniform(0.05, 0.4)):
        cmd = rng.choice((b"BGSAVE", b"BGREWRITEAOF"))
        try:
            reply = _command(port, cmd)
        except OSError:
            return
        sent.append((cmd.decode(), reply.strip().decode(errors="replace")))


def _preload(port, n):
    """n acknowledged keys, pipelined: the dataset the children copy."""
    import socket  # noqa: PLC0415

    keys = [b"pre:%d" % i for i in range(n)]
    with socket.create_connection(("127.0.0.1", port), timeout=60) as s:
        f = s.makefile("rb")
        for i in range(0, n, 1000):
            batch = keys[i:i + 1000]
            s.sendall(b"".join(b"*3\r\n$3\r\nSET\r\n$%d\r\n%s\r\n$100\r\n%s\r\n" % (len(k), k, b"v" * 100)
                               for k in batch))
            for _ in batch:
                if f.readline() != b"+OK\r\n":
                    raise RuntimeError("preload write refused")
    return keys


def one_round(d, rnd, rng, acked_before, writers=3):
    # One journal for the whole loop: a file the server does not open in a
    # round (an older incr) keeps the synced size an earlier round recorded.
    journal = os.path.join(d, "powerloss.journal")
    stale = _temp_files(d)
    log_path = os.path.join(d, "server.log")
    log_start = os.path.getsize(log_path) if os.path.exists(log_path) else 0
    port = free_port()
    delay = rng.choice(SAVE_DELAYS_US)
    argv = holdfast_command(port, SERVER_ARGS + ["--rdb-key-save-delay", str(delay)])
    os.environ[powerloss.ENV] = journal
    try:
        srv = ServerProc("holdfast", argv, port, cwd=d, logpath=log_path).start(timeout=120)
    finally:
        del os.environ[powerloss.ENV]
    result = {"round": rnd, "started": True, "stale_temp_files": stale, "save_delay_us": delay}
    try:
        result["stale_left"] = [n for n in stale if os.path.exists(os.path.join(d, n))]
        result["lost"] = len(_missing(port, acked_before))
        new_keys = _preload(port, PRELOAD_KEYS) if rnd == 1 else []
        stop = threading.Event()
        acked = [[] for _ in range(writers)]
        sent = []
        threads = [threading.Thread(target=_writer, args=(port, b"r%d.w%d" % (rnd, i), stop, acked[i]), daemon=True)
                   for i in range(writers)]
        threads.append(threading.Thread(target=_chaos, args=(port, stop, rng, sent), daemon=True))
        for t in threads:
            t.start()
        time.sleep(rng.uniform(0.3, 1.5))
    except BaseException:
        srv.stop()
        raise
    os.kill(srv.pid, signal.SIGKILL)
    srv.proc.wait(10)
    stop.set()
    for t in threads:
        t.join(10)
    srv.stop()  # closes the log
    with open(log_path, "rb") as f:
        f.seek(log_start)
        log = f.read()
    children = [int(p) for p in _CHILD_STARTED.findall(log)]
    result["children_started"] = len(children)
    result["child_outlived_server"] = bool(children) and not pid_gone(children[-1])
    power_loss = rng.random() < 0.5
    result["power_loss"] = power_loss
    result["bytes_dropped"] = sum(powerloss.drop_unsynced(os.path.join(d, "appendonlydir"), "appendonly.aof",
                                                          journal, rng).values()) if power_loss else 0
    result["temp_files_after_crash"] = _temp_files(d)
    result["repaired_at_start"] = _REPAIRED in log
    result["bg_commands"] = sent
    dump = os.path.join(d, "dump.rdb")
    result["dump_ok"] = checktool.check(dump, out=io.StringIO().write) if os.path.exists(dump) else None
    result["acked"] = sum(len(a) for a in acked) + len(new_keys)
    return result, new_keys + [k for per in acked for k, _ in per]


def run_loop(rounds, seed=1, workdir=None, writers=3, progress=None):
    """`rounds` crashes of one directory, then a last start that checks the
    last crash. Returns the rounds' results (the last start is `final`)."""
    rng = random.Random(seed)
    own = workdir is None
    workdir = workdir or tempfile.mkdtemp(prefix="holdfast-crashloop-", dir=os.getcwd())
    d = os.path.join(workdir, "data")
    os.makedirs(d, exist_ok=True)
    acked = []
    out = []
    try:
        for rnd in range(1, rounds + 1):
            r, new = one_round(d, rnd, rng, acked, writers)
            acked += new
            out.append(r)
            if progress:
                progress(r)
        out.append(_final_check(d, acked))
    finally:
        if own:
            shutil.rmtree(workdir, ignore_errors=True)
    return out


def _final_check(d, acked):
    """Start once more on what the last crash left and look everything up."""
    stale = _temp_files(d)
    port = free_port()
    argv = holdfast_command(port, ["--appendonly", "yes", "--aof-load-truncated", "yes"])
    log_path = os.path.join(d, "server.log")
    log_start = os.path.getsize(log_path)
    srv = ServerProc("holdfast", argv, port, cwd=d, logpath=log_path).start(timeout=120)
    try:
        result = {"round": "final", "started": True, "stale_temp_files": stale,
                  "stale_left": [n for n in stale if os.path.exists(os.path.join(d, n))],
                  "lost": len(_missing(port, acked)), "acked_total": len(acked)}
    finally:
        srv.stop()
    with open(log_path, "rb") as f:
        f.seek(log_start)
        result["repaired_at_start"] = _REPAIRED in f.read()
    return result


def render_report(results, env, meta):
    rounds = [r for r in results if r["round"] != "final"]
    final = results[-1]
    lost = sum(r["lost"] for r in results)
    lines = ["# Crash loop: one data directory, killed again and again", "",
             "Run %s, commit `%s`:" % (meta["date"], env.get("git_commit")), "", "    " + meta["command"], "",
             "Machine: %s, %s CPUs, %s; Python %s." % (env.get("cpu_model"), env.get("cpu_count"), env.get("kernel"),
                                                       env.get("python")), "",
             "appendfsync always, %d writer threads, BGSAVE/BGREWRITEAOF at random moments, SIGKILL at a random"
             " moment, a simulated power loss in about half the rounds (see bench/crashloop.py)." % meta["writers"], "",
             "| figure | value |", "|---|---:|",
             "| crash rounds | %d |" % len(rounds),
             "| starts that failed | 0 of %d |" % len(results),
             "| acknowledged writes (all rounds) | {:,} |".format(final["acked_total"]),
             "| acknowledged writes lost | %d |" % lost,
             "| rounds with a simulated power loss | %d |" % sum(r["power_loss"] for r in rounds),
             "| starts that repaired a torn AOF tail | %d |" % sum(r["repaired_at_start"] for r in results),
             "| crashes that left a fork child's temp file | %d |" % sum(
                 1 for r in rounds if r["temp_files_after_crash"]),
             "| fork children that outlived the server | %d |" % sum(r["child_outlived_server"] for r in rounds),
             "| stale temp files found at a start / left after it | %d / %d |" % (
                 sum(len(r["stale_temp_files"]) for r in results), sum(len(r["stale_left"]) for r in results)),
             "| dump.rdb checked after a crash / failing the check | %d / %d |" % (
                 sum(r["dump_ok"] is not None for r in rounds), sum(r["dump_ok"] is False for r in rounds)),
             "", "Raw rounds: `results.json`.", ""]
    return "\n".join(lines)


def parse_args(argv=None):
    ap = argparse.ArgumentParser(prog="python -m bench.crashloop", description=__doc__.splitlines()[0])
    ap.add_argument("--rounds", type=int, default=30)
    ap.add_argument("--writers", type=int, default=3)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--out", default=os.path.join("results", "crashloop"))
    return ap.parse_args(argv)


def main(argv=None):
    exit_on_sigterm()
    opts = parse_args(argv)
    meta = run_meta("bench.crashloop", argv, None, "writers")
    meta.update({"rounds": opts.rounds, "writers": opts.writers, "seed": opts.seed,
                 "server_commands": {"holdfast": shlex.join(holdfast_command("PORT", SERVER_ARGS))}})
    def progress(r):
        print("  round %3d: %6d acked, %d lost, %d children (delay %d us), power loss %s, temp files left %d, "
              "dump ok %s" % (r["round"], r["acked"], r["lost"], r["children_started"], r["save_delay_us"],
                              r["power_loss"], len(r["temp_files_after_crash"]), r["dump_ok"]), flush=True)

    results = run_loop(opts.rounds, opts.seed, writers=opts.writers, progress=progress)
    write_outputs(opts.out, {"meta": meta, "rounds": results}, meta, lambda env: render_report(results, env, meta))
    return 0 if sum(r["lost"] for r in results) == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
