"""What every benchmark report shares: the run's metadata (date, exact
command, load average, CPU pinning), medians over rounds, and the three files
it writes (results.json, environment.json, report.md)."""

import datetime
import json
import os
import shlex
import statistics
import sys

from . import procstat
from .serverproc import ROOT


def stats(values):
    """Median, min, max and count of the samples (None samples left out),
    or None when there are none."""
    values = [v for v in values if v is not None]
    if not values:
        return None
    return {"median": statistics.median(values), "min": min(values), "max": max(values), "n": len(values)}


def run_meta(module, argv, pins, client_label):
    """The metadata a report opens with; `module` is how the run was started
    (bench.quick), `client_label` names what ran on the second CPU."""
    return {
        # The commit (and -dirty) the run starts from: commits made while it
        # runs must not be stamped on figures measured before them.
        "git_commit": procstat.git_commit(ROOT),
        "loadavg": list(os.getloadavg()),
        "date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "command": shlex.join([os.path.basename(sys.executable), "-m", module, *(argv or sys.argv[1:])]),
        "pinning": ("server on CPU %s, %s on CPU %s" % (pins[0], client_label, pins[1])) if pins
        else "none (fewer than 2 usable CPUs or no taskset)",
    }


def write_outputs(out, results, meta, report_fn, redis_server=None, redis_benchmark=None):
    """Write OUT/results.json (`results`), OUT/environment.json (machine and
    versions, with the run's command and pinning) and OUT/report.md
    (`report_fn(env)`); print the report."""
    env = procstat.environment(ROOT, redis_server, redis_benchmark)
    env["git_commit"] = meta.get("git_commit", env.get("git_commit"))
    env["command_line"] = meta["command"]
    env["argv"] = sys.argv
    env["server_commands"] = meta["server_commands"]
    env["pinning"] = meta["pinning"]
    env["date"] = meta["date"]
    os.makedirs(out, exist_ok=True)
    for name, obj in (("results.json", results), ("environment.json", env)):
        with open(os.path.join(out, name), "w") as f:
            json.dump(obj, f, indent=1)
            f.write("\n")
    report = report_fn(env)
    with open(os.path.join(out, "report.md"), "w") as f:
        f.write(report)
    print()
    print(report)
