"""The sweep's outputs, rendered from its raw samples alone so that
`holdfast-bench report RESULTS-DIR` can redo them: results.json (every
sample), results.csv, environment.json, report.md and PNG plots (matplotlib,
Agg backend): throughput against I/O threads per target with min-max bars,
latency percentiles, and the ratio to the first thread count."""

import csv
import json
import os
import statistics
import sys

from . import procstat
from .serverproc import ROOT

CSV_FIELDS = ("target", "io_threads", "test", "clients", "pipeline", "value_size", "round", "requests", "rps",
              "avg_ms", "min_ms", "p50_ms", "p95_ms", "p99_ms", "p999_ms", "max_ms", "cpu_us_per_req",
              "main_cpu_us_per_req", "generator", "errors")


def write_all(out, meta, samples, info):
    os.makedirs(out, exist_ok=True)
    env = procstat.environment(ROOT, procstat.tool("redis-server"), procstat.tool("redis-benchmark"))
    env["git_commit"] = meta.get("git_commit", env.get("git_commit"))
    env.update({"command_line": meta["command"], "argv": meta.get("argv"), "subcommand": meta.get("subcommand"),
                "pinning": meta["pinning"], "date": meta["date"],
                "servers": {name: {"commands": v["commands"], "config": v["config"]} for name, v in info.items()}})
    with open(os.path.join(out, "environment.json"), "w") as f:
        json.dump(env, f, indent=1)
        f.write("\n")
    with open(os.path.join(out, "results.json"), "w") as f:
        json.dump({"meta": meta, "samples": samples}, f, indent=1)
        f.write("\n")
    render(out)


def render(out):
    """(Re)write results.csv, report.md and the plots from OUT/results.json
    and OUT/environment.json."""
    with open(os.path.join(out, "results.json")) as f:
        data = json.load(f)
    try:
        with open(os.path.join(out, "environment.json")) as f:
            env = json.load(f)
    except FileNotFoundError:
        env = {}
    meta, samples = data["meta"], data["samples"]
    with open(os.path.join(out, "results.csv"), "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=CSV_FIELDS, extrasaction="ignore")
        w.writeheader()
        for s in samples:
            w.writerow(s)
    groups = summarise(samples)
    plots = _plots(out, groups)
    report = render_markdown(meta, env, groups, plots)
    with open(os.path.join(out, "report.md"), "w") as f:
        f.write(report)
    return report


def summarise(samples):
    """{(test, clients, pipeline, value_size): {target: {io_threads: stats}}}."""
    raw = {}
    for s in samples:
        key = (s["test"], s["clients"], s["pipeline"], s["value_size"])
        raw.setdefault(key, {}).setdefault(s["target"], {}).setdefault(s["io_threads"], []).append(s)
    out = {}
    for key, per_target in raw.items():
        out[key] = {}
        for target, per_io in per_target.items():
            out[key][target] = {}
            for n, rows in per_io.items():
                rps = [r["rps"] for r in rows]
                st = {"rps": statistics.median(rps), "rps_min": min(rps), "rps_max": max(rps), "rounds": len(rows),
                      "generator": rows[0].get("generator"), "errors": sum(r.get("errors") or 0 for r in rows)}
                for k in ("p50_ms", "p99_ms", "p999_ms", "cpu_us_per_req", "main_cpu_us_per_req"):
                    vals = [r[k] for r in rows if r.get(k) is not None]
                    st[k] = statistics.median(vals) if vals else None
                out[key][target][n] = st
    return out


def _io_sort(n):
    return (0, n) if isinstance(n, int) else (1, 0)


def _plots(out, groups):
    """One PNG per point: throughput and latency against I/O threads."""
    try:
        import matplotlib  # noqa: PLC0415 - the bench extra; the report works without plots

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt  # noqa: PLC0415
    except ImportError:
        return {}
    files = {}
    for key, per_target in groups.items():
        test, clients, pipeline, size = key
        fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(11, 4))
        for target, per_io in per_target.items():
            ns = sorted(per_io, key=_io_sort)
            xs = [str(n) for n in ns]
            ys = [per_io[n]["rps"] for n in ns]
            lo = [per_io[n]["rps"] - per_io[n]["rps_min"] for n in ns]
            hi = [per_io[n]["rps_max"] - per_io[n]["rps"] for n in ns]
            ax1.errorbar(xs, ys, yerr=[lo, hi], marker="o", capsize=4, label=target)
            for pct, style in (("p50_ms", "-"), ("p99_ms", "--"), ("p999_ms", ":")):
                vals = [per_io[n][pct] for n in ns]
                if any(v is not None for v in vals):
                    ax2.plot(xs, [v if v is not None else float("nan") for v in vals], style, marker=".",
                             label="%s %s" % (target, pct[:-3]))
        ax1.set_title("%s, %d clients, -P %d, %d B: requests/s" % (test.upper(), clients, pipeline, size))
        ax1.set_xlabel("server I/O threads")
        ax1.set_ylim(bottom=0)
        ax1.legend()
        ax2.set_title("latency (ms), median of rounds")
        ax2.set_xlabel("server I/O threads")
        ax2.legend(fontsize=7)
        fig.tight_layout()
        name = "sweep-%s-c%d-P%d-d%d.png" % (test, clients, pipeline, size)
        fig.savefig(os.path.join(out, name), dpi=90)
        plt.close(fig)
        files[key] = name
    return files


def render_markdown(meta, env, groups, plots):
    lines = ["# Sweep: throughput and latency across I/O threads", "",
             "Run %s, commit `%s`%s:" % (meta["date"], env.get("git_commit"),
                                          " (**interrupted**: partial results)" if meta.get("interrupted") else ""),
             "", "    " + meta["command"], "",
             "Machine: %s, %s CPUs (this run could use %s), %s; Python %s." % (
                 env.get("cpu_model"), env.get("cpu_count"), len(env.get("cpu_affinity") or []) or "?",
                 env.get("kernel"), env.get("python")),
             "Pinning: %s." % meta["pinning"],
             "Load generator: %s, %d requests per round, %d round(s) after a warm-up, keyspace %s." % (
                 meta.get("generator"), meta["requests"], meta["repeat"], meta["keyspace"] or "one key"), ""]
    if meta.get("skipped_targets"):
        lines += ["Not installed, skipped: %s." % ", ".join(meta["skipped_targets"]), ""]
    cpus = meta.get("server_cpus")
    lines += ["%s The load generator runs on the other CPUs: on a machine this size, the figures compare the servers' "
              "work per request, and extra I/O threads can add only what the server's CPUs allow." % (
                  "The server and all its I/O threads share CPU(s) %s." % cpus if cpus is not None else
                  "Nothing was pinned."), ""]
    lines += ["Server CPU counts every thread and, for Holdfast, its I/O worker processes (`io-threads` N runs "
              "N-1 of them); the main thread's share is the work that cannot spread: where it falls as I/O "
              "threads are added, a machine with cores to spare serves that much more.", ""]
    lines += ["Servers: `environment.json` holds each one's command line per I/O thread count and its full "
              "`CONFIG GET *`. Raw samples: `results.json`, `results.csv`.", ""]
    for key in sorted(groups):
        test, clients, pipeline, size = key
        lines += ["## %s, %d clients, -P %d, %d-byte values" % (test.upper(), clients, pipeline, size), ""]
        if key in plots:
            lines += ["![%s](%s)" % (plots[key], plots[key]), ""]
        gens = {st["generator"] for per_io in groups[key].values() for st in per_io.values() if st.get("generator")}
        errors = sum(st["errors"] for per_io in groups[key].values() for st in per_io.values())
        if gens:
            lines += ["Made by: %s.%s" % (", ".join(sorted(gens)), " Verification errors: %d." % errors
                                          if test.startswith("mixed") else ""), ""]
        lines += ["| target | io-threads | requests/s median [min-max] | vs first | p50 ms | p99 ms | p99.9 ms | "
                  "server CPU us/req | main thread CPU us/req |", "|---|---:|---:|---:|---:|---:|---:|---:|---:|"]
        for target, per_io in groups[key].items():
            ns = sorted(per_io, key=_io_sort)
            base = per_io[ns[0]]["rps"]
            for n in ns:
                st = per_io[n]
                lines.append("| %s | %s | %s [%s-%s] | %.2f | %s | %s | %s | %s | %s |" % (
                    target, n, "{:,.0f}".format(st["rps"]), "{:,.0f}".format(st["rps_min"]),
                    "{:,.0f}".format(st["rps_max"]), st["rps"] / base if base else 0.0, _f(st["p50_ms"]),
                    _f(st["p99_ms"]), _f(st["p999_ms"]), _f(st["cpu_us_per_req"], "%.2f"),
                    _f(st.get("main_cpu_us_per_req"), "%.2f")))
        lines.append("")
    return "\n".join(lines)


def _f(v, spec="%.3f"):
    return "-" if v is None else spec % v


def main(argv=None):
    """holdfast-bench report RESULTS-DIR"""
    argv = sys.argv[1:] if argv is None else argv
    if len(argv) != 1:
        raise SystemExit("usage: holdfast-bench report RESULTS-DIR")
    print(render(argv[0]))
    return 0
