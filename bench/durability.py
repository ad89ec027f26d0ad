"""Crash rounds: what survives a power loss under each appendfsync policy.

    python -m bench.durability [--policies always,everysec,no] [--rounds 100]
                               [--writers 4] [--out results/durability]

Each round starts Holdfast with `appendonly yes`, the policy, and its AOF
writes going through the power-loss journal (aof/powerloss.py). Writer
threads SET unique keys, one at a time each, and record every write the
server acknowledged and when. At a random moment (0.2-1.2 s in; in every
third round a BGREWRITEAOF runs at that moment) the server is killed
(SIGKILL) and the power loss is simulated: every incremental AOF file is
cut back to what was fsynced, plus a random torn part of what was not. The
server is restarted on what is left (`aof-load-truncated yes`) and every
acknowledged key is looked up.

Targets (issue 5): `always` loses nothing; `everysec` loses at most the
writes of about the last 2 seconds; `no` is reported as measured.
`run_rounds` is also what tests/test_durability.py calls, with few rounds.
"""

import argparse
import os
import random
import shlex
import shutil
import signal
import socket
import sys
import tempfile
import threading
import time

from aof import powerloss

from .reporting import run_meta, stats, write_outputs
from .serverproc import ServerProc, exit_on_sigterm, free_port, holdfast_command

POLICIES = ("always", "everysec", "no")


def _writer(port, prefix, stop, acked, pipeline=1):
    """SET prefix:<n> <n>, `pipeline` at a time (one write; a pipeline of
    plain SETs is one command run on the server); append (key, ack time)
    for each reply as it arrives."""
    with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
        f = s.makefile("rb")
        n = 0
        while not stop.is_set():
            keys = [b"%s:%d" % (prefix, n + i) for i in range(pipeline)]
            s.sendall(b"".join(b"*3\r\n$3\r\nSET\r\n$%d\r\n%s\r\n$%d\r\n%d\r\n"
                               % (len(key), key, len(b"%d" % (n + i)), n + i) for i, key in enumerate(keys)))
            for key in keys:
                try:
                    line = f.readline()
                except OSError:
                    return
                if line != b"+OK\r\n":
                    return  # the server died mid-reply: that write was not acknowledged
                acked.append((key, time.monotonic()))
            n += pipeline


def _command(port, *args):
    with socket.create_connection(("127.0.0.1", port), timeout=60) as s:
        s.sendall(b"*%d\r\n" % len(args) + b"".join(b"$%d\r\n%s\r\n" % (len(a), a) for a in args))
        return s.makefile("rb").readline()


def _missing(port, keys):
    """The keys of `keys` the server does not have (pipelined EXISTS)."""
    missing = []
    with socket.create_connection(("127.0.0.1", port), timeout=60) as s:
        f = s.makefile("rb")
        for i in range(0, len(keys), 1000):
            batch = keys[i:i + 1000]
            s.sendall(b"".join(b"*2\r\n$6\r\nEXISTS\r\n$%d\r\n%s\r\n" % (len(k), k) for k in batch))
            for k in batch:
                if f.readline() != b":1\r\n":
                    missing.append(k)
    return missing


def one_round(policy, rnd, workdir, rng, writers=4, rewrite=False, pipeline=1):
    d = os.path.join(workdir, "%s-%d" % (policy, rnd))
    os.makedirs(d)
    journal = os.path.join(d, "powerloss.journal")
    port = free_port()
    argv = holdfast_command(port, ["--appendonly", "yes", "--appendfsync", policy, "--aof-load-truncated", "yes",
                                   "--auto-aof-rewrite-percentage", "0"])
    os.environ[powerloss.ENV] = journal
    try:
        srv = ServerProc("holdfast", argv, port, cwd=d, logpath=os.path.join(d, "server.log")).start()
    finally:
        del os.environ[powerloss.ENV]
    stop = threading.Event()
    acked = [[] for _ in range(writers)]
    threads = [threading.Thread(target=_writer, args=(port, b"w%d" % i, stop, acked[i], pipeline), daemon=True)
               for i in range(writers)]
    for t in threads:
        t.start()
    time.sleep(rng.uniform(0.2, 1.2))
    if rewrite:
        _command(port, b"BGREWRITEAOF")
        time.sleep(rng.uniform(0.0, 0.3))
    crash_at = time.monotonic()
    os.kill(srv.pid, signal.SIGKILL)
    srv.proc.wait(10)
    stop.set()
    for t in threads:
        t.join(10)
    dropped = powerloss.drop_unsynced(os.path.join(d, "appendonlydir"), "appendonly.aof", journal, rng)
    argv = holdfast_command(port, ["--appendonly", "yes", "--aof-load-truncated", "yes"])
    srv = ServerProc("holdfast", argv, port, cwd=d, logpath=os.path.join(d, "server.log")).start(timeout=120)
    try:
        all_acked = [a for per in acked for a in per]
        when = dict(all_acked)
        lost = _missing(port, [k for k, _ in all_acked])
    finally:
        srv.stop()
    oldest = max((crash_at - when[k] for k in lost), default=0.0)
    return {"policy": policy, "round": rnd, "rewrite": rewrite, "acked": len(all_acked), "lost": len(lost),
            "oldest_lost_s": oldest, "bytes_dropped": sum(dropped.values())}


def run_rounds(policy, rounds, seed=1, writers=4, workdir=None, progress=None, keep=None, pipeline=1):
    """`rounds` crash rounds; with `keep` (a directory), the files and logs
    of a round of `always` that lost a write are copied there as evidence."""
    rng = random.Random(seed)
    own = workdir is None
    workdir = workdir or tempfile.mkdtemp(prefix="holdfast-durability-", dir=os.getcwd())
    out = []
    try:
        for rnd in range(1, rounds + 1):
            r = one_round(policy, rnd, workdir, rng, writers, rewrite=rnd % 3 == 0, pipeline=pipeline)
            if keep and r["lost"] and policy == "always":
                dst = os.path.join(keep, "%s-%d" % (policy, rnd))
                shutil.copytree(os.path.join(workdir, "%s-%d" % (policy, rnd)), dst, dirs_exist_ok=True)
                r["evidence"] = dst
            out.append(r)
            if progress:
                progress(r)
    finally:
        if own:
            shutil.rmtree(workdir, ignore_errors=True)
    return out


def render_report(results, env, meta):
    lines = ["# Durability: crash rounds with a simulated power loss", "",
             "Run %s, commit `%s`:" % (meta["date"], env.get("git_commit")), "", "    " + meta["command"], "",
             "Machine: %s, %s CPUs, %s; Python %s." % (env.get("cpu_model"), env.get("cpu_count"), env.get("kernel"),
                                                       env.get("python")), "",
             "Each round: %d writer threads SET unique keys %s and record every acknowledgement; at a"
             " random moment (every third round during a BGREWRITEAOF) the server is killed, every incremental AOF"
             " file is cut back to what was fsynced plus a random torn part of the rest (aof/powerloss.py), the"
             " server restarts on it and every acknowledged key is looked up." % (
                 meta["writers"], "one at a time" if meta.get("pipeline", 1) == 1
                 else "%d at a time (one pipelined write each, a command run on the server)" % meta["pipeline"]), "",
             "| policy | rounds | acknowledged writes | lost | rounds with a loss | oldest lost write (s before the"
             " crash), max | bytes dropped per round, median | target |",
             "|---|---:|---:|---:|---:|---:|---:|---|"]
    for policy in meta["policies"]:
        rs = [r for r in results if r["policy"] == policy]
        lost = sum(r["lost"] for r in rs)
        oldest = max((r["oldest_lost_s"] for r in rs), default=0.0)
        target = {"always": ("none lost", lost == 0), "everysec": ("only the last ~2 s", oldest <= 2.5),
                  "no": ("measured", True)}[policy]
        dropped = stats([r["bytes_dropped"] for r in rs])["median"]
        lines.append("| %s | %d | %s | %s | %d | %.2f | %s | %s: %s |" % (
            policy, len(rs), "{:,}".format(sum(r["acked"] for r in rs)), "{:,}".format(lost),
            sum(1 for r in rs if r["lost"]), oldest, "{:,.0f}".format(dropped), target[0],
            "met" if target[1] else "**missed**"))
    lines += ["", "Raw rounds: `results.json`.", ""]
    return "\n".join(lines)


def parse_args(argv=None):
    ap = argparse.ArgumentParser(prog="python -m bench.durability", description=__doc__.splitlines()[0])
    ap.add_argument("--policies", default=",".join(POLICIES))
    ap.add_argument("--rounds", type=int, default=100)
    ap.add_argument("--writers", type=int, default=4)
    ap.add_argument("--pipeline", type=int, default=1, help="SETs each writer sends at once")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--out", default=os.path.join("results", "durability"))
    ap.add_argument("--keep", metavar="DIR", help="copy the files of an always round that lost writes here")
    return ap.parse_args(argv)


def main(argv=None):
    exit_on_sigterm()
    opts = parse_args(argv)
    policies = [p for p in opts.policies.split(",") if p]
    meta = run_meta("bench.durability", argv, None, "writers")
    meta.update({"rounds": opts.rounds, "writers": opts.writers, "pipeline": opts.pipeline, "policies": policies,
                 "seed": opts.seed,
                 "server_commands": {"holdfast": shlex.join(holdfast_command("PORT", ["--appendonly", "yes"]))}})
    results = []
    for policy in policies:
        results += run_rounds(policy, opts.rounds, opts.seed, opts.writers, keep=opts.keep, pipeline=opts.pipeline,
                              progress=lambda r: print(
            "  %-8s round %3d%s: %6d acked, %4d lost, oldest lost %.2f s" % (
                r["policy"], r["round"], " (rewrite)" if r["rewrite"] else "", r["acked"], r["lost"],
                r["oldest_lost_s"]), flush=True))
    write_outputs(opts.out, {"meta": meta, "rounds": results}, meta, lambda env: render_report(results, env, meta))
    return 0


if __name__ == "__main__":
    sys.exit(main())
