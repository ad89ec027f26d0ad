"""Reliability report (issue 9): the fault suites run with bigger budgets
than CI gives them, and crash rounds, written as figures.

    python -m bench.reliability [--fuzz-examples 5000] [--soak-seconds 120]
                                [--crash-rounds 20] [--crash-loop-rounds 30]
                                [--out results/reliability]

- fuzz: tests/test_fuzz.py with HOLDFAST_FUZZ_EXAMPLES random examples per
  target (6 hypothesis targets, plus 120 mutated pipelines to a live server);
- soak: tests/test_soak.py for HOLDFAST_SOAK_SECONDS, with io-threads 1 and 4;
- faults: the suites that feed bad files, full disks, dying links, limits
  (maxmemory among them), protocol abuse and unauthorized users to real
  servers, counted test by test;
- crash rounds: bench/durability.py's power-loss rounds per appendfsync
  policy (writes acknowledged, writes lost);
- crash loop: bench/crashloop.py's rounds on one directory, with BGSAVE
  and BGREWRITEAOF at random moments (--crash-loop-rounds).

Writes OUT/results.json, OUT/environment.json and OUT/report.md.
"""

import argparse
import os
import re
import shlex
import subprocess
import sys
import time

from .crashloop import run_loop
from .durability import run_rounds
from .reporting import run_meta, write_outputs
from .serverproc import ROOT, exit_on_sigterm, holdfast_command

FAULT_SUITES = ("test_rdb_corrupt.py", "test_rdb_disk_full.py", "test_disk_faults.py", "test_aof.py",
                "test_aof_checktool.py", "test_replication_faults.py", "test_protocol.py", "test_output_limits.py",
                "test_protected_mode.py", "test_io_threads.py", "test_client_pause.py", "test_crash_loop.py",
                "test_maxmemory.py", "test_acl.py", "test_acl_vs_redis.py")
FUZZ_TARGETS = 6
LIVE_FUZZ_CASES = 120


def _pytest(files, env_extra, extra_args=()):
    """Run pytest on `files`; (passed, failed, seconds, command)."""
    cmd = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", *extra_args,
           *[os.path.join("tests", f) for f in files]]
    env = dict(os.environ, **env_extra)
    t0 = time.monotonic()
    proc = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, check=False)
    seconds = time.monotonic() - t0
    tail = proc.stdout.strip().splitlines()[-1] if proc.stdout.strip() else ""
    passed = int(m.group(1)) if (m := re.search(r"(\d+) passed", tail)) else 0
    failed = int(m.group(1)) if (m := re.search(r"(\d+) (failed|error)", tail)) else 0
    if proc.returncode not in (0, 1):
        failed = max(failed, 1)
    shown = " ".join("%s=%s" % kv for kv in env_extra.items()) + " " + shlex.join(
        ["python", "-m", "pytest", *cmd[3:]])
    print("  %s: %d passed, %d failed (%.0f s)" % (shown.strip(), passed, failed, seconds), flush=True)
    return {"passed": passed, "failed": failed, "seconds": round(seconds, 1), "command": shown.strip(),
            "summary": tail}


def run(opts):
    out = {}
    print("fuzz", flush=True)
    out["fuzz"] = _pytest(["test_fuzz.py"], {"HOLDFAST_FUZZ_EXAMPLES": str(opts.fuzz_examples)})
    out["fuzz"]["cases"] = opts.fuzz_examples * FUZZ_TARGETS + LIVE_FUZZ_CASES
    print("soak", flush=True)
    out["soak"] = [dict(_pytest(["test_soak.py"], {"HOLDFAST_SOAK_SECONDS": str(opts.soak_seconds)},
                                () if io == 1 else ("--holdfast-arg=io-threads %d" % io,)), io_threads=io)
                   for io in (1, 4)]
    print("fault suites", flush=True)
    out["faults"] = _pytest(list(FAULT_SUITES), {})
    print("crash rounds", flush=True)
    out["crash"] = []
    for policy in ("always", "everysec"):
        rounds = run_rounds(policy, opts.crash_rounds, seed=opts.seed)
        out["crash"].append({"policy": policy, "rounds": len(rounds), "acked": sum(r["acked"] for r in rounds),
                             "lost": sum(r["lost"] for r in rounds),
                             "oldest_lost_s": max((r["oldest_lost_s"] for r in rounds), default=0.0)})
        print("  %s: %d rounds, %d acked, %d lost" % (policy, len(rounds), out["crash"][-1]["acked"],
                                                      out["crash"][-1]["lost"]), flush=True)
    print("crash loop", flush=True)
    loop = run_loop(opts.crash_loop_rounds, seed=opts.seed)
    rounds = loop[:-1]
    out["crash_loop"] = {"rounds": len(rounds), "acked": loop[-1]["acked_total"], "lost": sum(r["lost"] for r in loop),
                         "power_losses": sum(r["power_loss"] for r in rounds),
                         "children_killed": sum(1 for r in rounds if r["temp_files_after_crash"]),
                         "children_outlived": sum(r["child_outlived_server"] for r in rounds),
                         "repairs": sum(r["repaired_at_start"] for r in loop),
                         "stale_left": sum(len(r["stale_left"]) for r in loop),
                         "dump_failed": sum(r["dump_ok"] is False for r in rounds)}
    print("  %(rounds)d rounds, %(acked)d acked, %(lost)d lost" % out["crash_loop"], flush=True)
    return out


def render_report(res, env, meta):
    f, faults = res["fuzz"], res["faults"]
    lines = ["# Reliability: faults fed to real servers", "",
             "Run %s, commit `%s`:" % (meta["date"], env.get("git_commit")), "", "    " + meta["command"], "",
             "Machine: %s, %s CPUs, %s; Python %s." % (env.get("cpu_model"), env.get("cpu_count"), env.get("kernel"),
                                                       env.get("python")), "",
             "| check | what ran | result |", "|---|---|---|",
             "| fuzz (tests/test_fuzz.py) | {:,} cases: {:,} random examples for each of {} parsers and loaders, "
             "{} mutated pipelines to a live server | {} |".format(
                 f["cases"], meta["fuzz_examples"], FUZZ_TARGETS, LIVE_FUZZ_CASES, _verdict(f))]
    for s in res["soak"]:
        lines.append("| soak, io-threads %d (tests/test_soak.py) | %d s: 200 pipelining clients, blocking pops, "
                     "pub/sub, AOF everysec, a replica | %s |" % (s["io_threads"], meta["soak_seconds"], _verdict(s)))
    lines.append("| fault suites | %d tests: %s | %s |" % (faults["passed"] + faults["failed"],
                                                           ", ".join(FAULT_SUITES), _verdict(faults)))
    for c in res["crash"]:
        lines.append("| crash rounds, appendfsync %s (bench/durability.py) | %d kill -9 + power-loss rounds, "
                     "{:,} writes acknowledged | {:,} lost%s |".format(c["acked"], c["lost"]) % (
                         c["policy"], c["rounds"],
                         "" if c["policy"] == "always" else ", oldest %.2f s before the crash" % c["oldest_lost_s"]))
    c = res["crash_loop"]
    lines.append("| crash loop, appendfsync always (bench/crashloop.py) | %d kill -9 rounds on one directory (%d with a"
                 " power loss, %d during a fork child), BGSAVE/BGREWRITEAOF at random moments, {:,} writes acknowledged"
                 " | {:,} lost, %d torn tails repaired, %d children outlived the server, %d stale temp files left, %d"
                 " bad dump.rdb |".format(c["acked"], c["lost"]) % (
                     c["rounds"], c["power_losses"], c["children_killed"], c["repairs"], c["children_outlived"],
                     c["stale_left"], c["dump_failed"]))
    lines += ["", "The exact command of each part is in `results.json`; the long crash runs are in "
              "[results/durability](../durability/report.md).", ""]
    return "\n".join(lines)


def _verdict(r):
    return "all %d passed" % r["passed"] if not r["failed"] else "**%d failed** of %d" % (
        r["failed"], r["passed"] + r["failed"])


def main(argv=None):
    exit_on_sigterm()
    ap = argparse.ArgumentParser(prog="python -m bench.reliability", description=__doc__.splitlines()[0])
    ap.add_argument("--fuzz-examples", type=int, default=5000)
    ap.add_argument("--soak-seconds", type=int, default=120)
    ap.add_argument("--crash-rounds", type=int, default=20)
    ap.add_argument("--crash-loop-rounds", type=int, default=30)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--out", default=os.path.join("results", "reliability"))
    opts = ap.parse_args(argv)
    meta = run_meta("bench.reliability", argv, None, "clients")
    meta.update({"fuzz_examples": opts.fuzz_examples, "soak_seconds": opts.soak_seconds,
                 "crash_rounds": opts.crash_rounds, "crash_loop_rounds": opts.crash_loop_rounds,
                 "server_commands": {"holdfast": shlex.join(holdfast_command("PORT", []))}})
    res = run(opts)
    write_outputs(opts.out, {"meta": meta, **res}, meta, lambda env: render_report(res, env, meta))
    failed = res["fuzz"]["failed"] + res["faults"]["failed"] + sum(s["failed"] for s in res["soak"])
    return 1 if failed or res["crash"][0]["lost"] or res["crash_loop"]["lost"] else 0


if __name__ == "__main__":
    sys.exit(main())
