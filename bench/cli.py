"""`holdfast-bench` (also `python -m bench`): one entry point for the
harness's runs, each writing results/<name>/ with its raw samples, its
environment and its report.

    holdfast-bench sweep [...]             throughput/latency across io-threads, clients, pipelines (bench/sweep.py)
    holdfast-bench persistence [--rounds N] [--out DIR]
                                           SAVE/load, fork and copy-on-write, AOF per fsync policy, rewrite
                                           (bench/rdb.py and bench/aof.py, beside redis-server)
    holdfast-bench replication [...]       full sync time, replica lag under load (bench/replication.py)
    holdfast-bench durability [...]        crash rounds with a simulated power loss (bench/durability.py)
    holdfast-bench report RESULTS-DIR      render a sweep's report.md and plots again from its raw results
    holdfast-bench rerun RESULTS-DIR       repeat the run recorded in RESULTS-DIR/environment.json
"""

import argparse
import importlib
import json
import os
import sys


def _persistence(argv):
    ap = argparse.ArgumentParser(prog="holdfast-bench persistence")
    ap.add_argument("--rounds", default="3")
    ap.add_argument("--out", default="results")
    opts = ap.parse_args(argv)
    from . import aof, rdb  # noqa: PLC0415

    rc = rdb.main(["--rounds", opts.rounds, "--out", os.path.join(opts.out, "rdb")])
    return rc or aof.main(["--rounds", opts.rounds, "--out", os.path.join(opts.out, "aof")])


def rerun(argv):
    """Repeat a recorded run: the same module and arguments, the same output
    directory (the new report replaces the old one)."""
    if len(argv) != 1:
        raise SystemExit("usage: holdfast-bench rerun RESULTS-DIR")
    path = argv[0]
    with open(os.path.join(path, "environment.json")) as f:
        env = json.load(f)
    if env.get("subcommand") == "sweep":
        module, args = "sweep", list(env.get("argv") or [])
    else:
        recorded = env.get("argv") or []
        if not recorded:
            raise SystemExit("%s/environment.json records no command line" % path)
        module, args = os.path.splitext(os.path.basename(recorded[0]))[0], list(recorded[1:])
    args = _without_out(args) + ["--out", path]
    print("rerunning: holdfast-bench %s %s" % (module, " ".join(args)), flush=True)
    return importlib.import_module("bench." + module).main(args)


def _without_out(args):
    out, skip = [], False
    for a in args:
        if skip:
            skip = False
        elif a == "--out":
            skip = True
        elif not a.startswith("--out="):
            out.append(a)
    return out


COMMANDS = {"sweep": "sweep", "replication": "replication", "durability": "durability"}


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    if not argv or argv[0] in ("-h", "--help"):
        print(__doc__)
        return 0 if argv else 2
    cmd, rest = argv[0], argv[1:]
    if cmd in COMMANDS:
        return importlib.import_module("bench." + COMMANDS[cmd]).main(rest)
    if cmd == "persistence":
        return _persistence(rest)
    if cmd == "report":
        from .sweep_report import main as report  # noqa: PLC0415

        return report(rest)
    if cmd == "rerun":
        return rerun(rest)
    print("unknown subcommand %r\n%s" % (cmd, __doc__), file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main())
