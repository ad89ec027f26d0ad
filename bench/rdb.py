"""RDB benchmark: SAVE and load speed, file size, BGSAVE fork time and
copy-on-write, Holdfast beside Debian's redis-server on the same data.

    python -m bench.rdb [--strings 1000000] [--value-size 100] [--hashes 100000]
                        [--fields 50] [--rounds 3] [--out results/rdb] [--no-redis]

Two datasets, each loaded into a freshly started server (one at a time, the
server pinned to one CPU and this process to the other):

  strings: `--strings` keys `key:<i>`, values of `--value-size` random hex
           characters (LZF finds little to compress, as in most real data);
  hashes:  `--hashes` hashes `hash:<i>` of `--fields` short fields (listpack
           in Redis, a plain dict in Holdfast).

Then, `--rounds` times: SAVE (the round trip of the command), BGSAVE with
nobody writing (INFO latest_fork_usec and rdb_last_cow_size), BGSAVE while
a client overwrites random keys as fast as it can (rdb_last_cow_size again;
SET for strings, HSET of one field for hashes),
and a restart on the file (the server's own "DB loaded from disk: N
seconds" log line). Keys per second are the dataset's keys over those times.

Writes OUT/results.json (raw samples), OUT/environment.json, OUT/report.md.
"""

import argparse
import os
import random
import re
import shlex
import shutil
import socket
import sys
import tempfile
import threading
import time

from . import procstat
from .memory import _bulk, command, info_fields, query
from .reporting import run_meta, stats, write_outputs
from .serverproc import ServerProc, exit_on_sigterm, free_port, holdfast_command, pin_cpus, redis_command

DATASETS = ("strings", "hashes")
SERVER_NAMES = {"holdfast": "Holdfast", "redis": "redis-server"}
MSET_PAIRS = 1000


def hex_value(rnd, size):
    """`size` random hex characters from `rnd` (a random.Random): what LZF
    finds little to compress in, the dataset's values and the writer's."""
    return rnd.randbytes((size + 1) // 2).hex()[:size]


def string_batches(n, size, seed=7, prefix="key"):
    """[(bytes, commands)] of pipelined MSETs creating <prefix>:0 .. n-1
    with `size` random hex characters each (fixed seed)."""
    rnd = random.Random(seed)
    out = []
    for start in range(0, n, MSET_PAIRS * 100):
        cmds = []
        for s in range(start, min(n, start + MSET_PAIRS * 100), MSET_PAIRS):
            end = min(n, s + MSET_PAIRS)
            parts = [b"*%d\r\n$4\r\nMSET\r\n" % (1 + 2 * (end - s))]
            for i in range(s, end):
                parts.append(_bulk("%s:%d" % (prefix, i)))
                parts.append(_bulk(hex_value(rnd, size)))
            cmds.append(b"".join(parts))
        out.append((b"".join(cmds), len(cmds)))
    return out


def hash_batches(n, fields):
    out = []
    head = b"*%d\r\n$4\r\nHSET\r\n" % (2 + 2 * fields)
    for start in range(0, n, 1000):
        parts = []
        for i in range(start, min(n, start + 1000)):
            parts.append(head + _bulk("hash:%d" % i))
            for j in range(fields):
                parts.append(_bulk("field%d" % j) + _bulk("v%d" % ((i * 31 + j) % 100000)))
        out.append((b"".join(parts), min(n, start + 1000) - start))
    return out


def load_ok(port, batches):
    """Pipelined load; MSET answers +OK, HSET an integer: count either."""
    with socket.create_connection(("127.0.0.1", port), timeout=600) as sock:
        for data, ncmd in batches:
            sock.sendall(data)
            got = b""
            while got.count(b"\r\n") < ncmd:
                chunk = sock.recv(1 << 16)
                if not chunk:
                    raise RuntimeError("connection closed")
                got += chunk
            if b"-" in got[:1] or b"\r\n-" in got:
                raise RuntimeError("error reply while loading: %r" % got[:200])


def _wait_bgsave(port, timeout=600):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        info = info_fields(port, "persistence")
        if info["rdb_bgsave_in_progress"] == "0":
            if info["rdb_last_bgsave_status"] != "ok":
                raise RuntimeError("BGSAVE failed")
            return info
        time.sleep(0.02)
    raise RuntimeError("BGSAVE did not finish")


def _write_command(dataset, i, value_size, rnd):
    """One overwrite of key number `i` of a dataset (the busy-BGSAVE writer).
    A string gets a value like the dataset's (random hex from `rnd`), so the
    rounds after the first save and load the same kind of data."""
    if dataset == "strings":
        return command("SET", "key:%d" % i, hex_value(rnd, value_size))
    return command("HSET", "hash:%d" % i, "field0", "w%d" % i)


def _bgsave(port, writer_keys=None, value_size=100, dataset="strings"):
    """BGSAVE; with `writer_keys`, overwrite random keys of `dataset` until
    it ends. Returns (fork usec, cow bytes, writes made meanwhile)."""
    stop = threading.Event()
    writes = [0]

    def writer():
        rnd = random.Random(3)
        with socket.create_connection(("127.0.0.1", port)) as s:
            f = s.makefile("rb")
            while not stop.is_set():
                batch = b"".join(_write_command(dataset, rnd.randrange(writer_keys), value_size, rnd)
                                 for _ in range(100))
                s.sendall(batch)
                for _ in range(100):
                    f.readline()
                writes[0] += 100

    t = None
    if writer_keys:
        t = threading.Thread(target=writer, daemon=True)
        t.start()
        time.sleep(0.2)
    query(port, "BGSAVE")
    info = _wait_bgsave(port)
    stop.set()
    if t is not None:
        t.join(10)
    stats_info = info_fields(port, "stats")
    return int(stats_info["latest_fork_usec"]), int(info["rdb_last_cow_size"]), writes[0]


def _loaded_seconds(logpath, after):
    """The server's own load time from its log, written after offset
    `after`: 0.0 when it logged "0.000 seconds" (under a millisecond, a tiny
    dataset), None when it logged no load time (the report says n/a)."""
    with open(logpath, "rb") as f:
        f.seek(after)
        text = f.read().decode(errors="replace")
    m = re.findall(r"DB loaded from disk: ([0-9.]+) seconds", text)
    if not m:
        print("  warning: no 'DB loaded from disk' line in %s: load time n/a" % logpath, flush=True)
        return None
    return float(m[-1])


def _load_text(load_s):
    """A load time as the progress lines and the report give it."""
    if load_s is None:
        return "n/a"
    return "<0.001 s" if load_s == 0 else "%.2f s" % load_s


def measure(name, mk, dataset, batches, keys, rounds, workdir, cpu, value_size):
    port = free_port()
    d = os.path.join(workdir, "%s-%s" % (name, dataset))
    os.makedirs(d, exist_ok=True)
    logpath = os.path.join(d, "server.log")
    srv = ServerProc(name, mk(port), port, cwd=d, logpath=logpath, cpu=cpu)
    srv.start()
    out = []
    try:
        load_ok(port, batches)
        used = int(info_fields(port, "memory")["used_memory"])
        for rnd in range(1, rounds + 1):
            t0 = time.monotonic()
            query(port, "SAVE")
            save_s = time.monotonic() - t0
            size = os.path.getsize(os.path.join(d, "dump.rdb"))
            fork_us, cow_idle, _ = _bgsave(port)
            _, cow_busy, writes = _bgsave(port, keys, value_size, dataset)
            srv.stop()
            mark = os.path.getsize(logpath)
            srv = ServerProc(name, mk(port), port, cwd=d, logpath=logpath, cpu=cpu)
            srv.start(timeout=600)
            load_s = _loaded_seconds(logpath, mark)
            if int(info_fields(port, "keyspace").get("db0", "keys=0").split(",")[0].split("=")[1]) != keys:
                raise RuntimeError("%s lost keys across the restart" % name)
            s = {"server": name, "dataset": dataset, "round": rnd, "keys": keys, "used_memory": used,
                 "save_s": save_s, "save_keys_per_s": keys / save_s, "file_bytes": size, "load_s": load_s,
                 "load_keys_per_s": keys / load_s if load_s else None, "fork_usec": fork_us,
                 "cow_idle_bytes": cow_idle, "cow_idle_perc": 100.0 * cow_idle / used,
                 "cow_busy_bytes": cow_busy, "writes_during_bgsave": writes}
            out.append(s)
            print("  %-8s %-7s round %d: SAVE %.2f s, load %s, %.1f MiB, fork %d us, CoW idle %.1f MiB"
                  " (%.1f%%), CoW busy %s" % (name, dataset, rnd, save_s, _load_text(load_s), size / 1048576, fork_us,
                                              cow_idle / 1048576, s["cow_idle_perc"],
                                              "%.1f MiB" % (cow_busy / 1048576)), flush=True)
    finally:
        srv.stop()
    return out


def summarise(samples):
    out = {}
    for s in samples:
        out.setdefault(s["dataset"], {}).setdefault(s["server"], []).append(s)
    fields = ("save_s", "save_keys_per_s", "load_s", "load_keys_per_s", "file_bytes", "fork_usec",
              "cow_idle_bytes", "cow_idle_perc", "cow_busy_bytes", "used_memory", "writes_during_bgsave")
    return {ds: {srv: {f: stats([x[f] for x in xs]) for f in fields} for srv, xs in by.items()}
            for ds, by in out.items()}


def _m(st, spec="%.2f", scale=1.0, none="-", zero=None):
    """Median [min-max] (the median alone for one round); `none` where there
    are no figures, `zero` (when given) in place of a figure that is 0."""
    if st is None:
        return none

    def one(v):
        return zero if zero is not None and v == 0 else spec % (v / scale)

    if st["n"] > 1:
        return "%s [%s-%s]" % (one(st["median"]), one(st["min"]), one(st["max"]))
    return one(st["median"])


def _ratio(hf_st, rd_st):
    """Holdfast's median over redis-server's; None where either has no
    figure (a load under the log's millisecond resolution)."""
    if hf_st is None or rd_st is None or not rd_st["median"]:
        return None
    return hf_st["median"] / rd_st["median"]


def render_report(summary, env, meta):
    lines = ["# RDB benchmark: Holdfast and redis-server", "",
             "Run %s, commit `%s`:" % (meta["date"], env.get("git_commit")), "", "    " + meta["command"], "",
             "Machine: %s, %s CPUs, %s memory, %s; Python %s; %s." % (
                 env.get("cpu_model"), env.get("cpu_count"), env.get("memory_total") or "?", env.get("kernel"),
                 env.get("python"), env.get("redis_server") or "no redis-server"),
             "Pinning: %s." % meta["pinning"], "",
             "Datasets: **strings** = %s keys of %d random hex characters; **hashes** = %s hashes of %d short fields."
             % ("{:,}".format(meta["strings"]), meta["value_size"], "{:,}".format(meta["hashes"]), meta["fields"]),
             "Figures are medians over %d rounds, [min-max]. SAVE is the command's round trip; load is the server's"
             " own `DB loaded from disk` time at restart; CoW is INFO `rdb_last_cow_size` after a BGSAVE with nobody"
             " writing (idle, also as %% of INFO `used_memory`) and with a client overwriting random keys of the"
             " dataset (SET, or HSET of one field) for the whole BGSAVE (busy)." % meta["rounds"], "",
             "| dataset | server | SAVE s | SAVE keys/s | load s | load keys/s | file MiB | fork us | CoW idle MiB"
             " | CoW idle % of used_memory | CoW busy MiB |",
             "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for ds, by in summary.items():
        for name, st in by.items():
            lines.append("| %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s |" % (
                ds, SERVER_NAMES[name], _m(st["save_s"]), _m(st["save_keys_per_s"], "%.0f"),
                _m(st["load_s"], none="n/a", zero="<0.001"), _m(st["load_keys_per_s"], "%.0f", none="n/a"),
                _m(st["file_bytes"], "%.1f", 1048576), _m(st["fork_usec"], "%.0f"),
                _m(st["cow_idle_bytes"], "%.1f", 1048576), _m(st["cow_idle_perc"], "%.1f"),
                _m(st["cow_busy_bytes"], "%.1f", 1048576)))
    lines += ["", "Targets (issue 4): save and load at least 0.25x redis-server's keys per second; copy-on-write under"
              " 10% of the dataset when no one writes.", "",
              "| dataset | SAVE keys/s ratio | load keys/s ratio | CoW idle % | met |", "|---|---:|---:|---:|---|"]
    for ds, by in summary.items():
        hf = by.get("holdfast")
        rd = by.get("redis")
        if not hf:
            continue
        # None: no redis-server ("-"), or a load too quick to time ("n/a"), left out of "met"
        sr = _ratio(hf["save_keys_per_s"], rd["save_keys_per_s"]) if rd else None
        lr = _ratio(hf["load_keys_per_s"], rd["load_keys_per_s"]) if rd else None
        cow = hf["cow_idle_perc"]["median"]
        met = (sr is None or sr >= 0.25) and (lr is None or lr >= 0.25) and cow < 10
        na = "n/a" if rd else "-"
        lines.append("| %s | %s | %s | %.1f | %s |" % (ds, na if sr is None else "%.2f" % sr,
                                                     na if lr is None else "%.2f" % lr, cow,
                                                     "yes" if met else "**no**"))
    lines += ["", "Holdfast's CoW counts the pages of the parent's memory that stopped being shared (pagemap);"
              " redis-server reports its child's Private_Dirty. Round 1 saves what the client wrote; later rounds"
              " save a server restarted on the file, where Holdfast still holds small hashes packed as it loaded"
              " them and writes them back as read (the [min-max] of hashes SAVE shows both; Redis likewise keeps"
              " its listpacks as loaded). Raw samples: `results.json`; machine and versions: `environment.json`.",
              ""]
    return "\n".join(lines)


def parse_args(argv=None):
    ap = argparse.ArgumentParser(prog="python -m bench.rdb", description=__doc__.splitlines()[0])
    ap.add_argument("--strings", type=int, default=1000000)
    ap.add_argument("--value-size", type=int, default=100)
    ap.add_argument("--hashes", type=int, default=100000)
    ap.add_argument("--fields", type=int, default=50)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--out", default=os.path.join("results", "rdb"))
    ap.add_argument("--no-redis", action="store_true", help="measure Holdfast only")
    return ap.parse_args(argv)


def main(argv=None):
    exit_on_sigterm()
    opts = parse_args(argv)
    redis_bin = None if opts.no_redis else procstat.tool("redis-server")
    pins = pin_cpus()
    server_cpu, client_cpu = pins if pins else (None, None)
    if client_cpu is not None:
        os.sched_setaffinity(0, {client_cpu})
    meta = run_meta("bench.rdb", argv, pins, "this client")
    meta.update({"rounds": opts.rounds, "strings": opts.strings, "value_size": opts.value_size,
                 "hashes": opts.hashes, "fields": opts.fields})
    servers = [("holdfast", holdfast_command)]
    if redis_bin:
        servers.append(("redis", lambda p: redis_command(redis_bin, p)))
    meta["server_commands"] = {name: shlex.join(mk("PORT")) for name, mk in servers}
    print("building the datasets ...", flush=True)
    data = {"strings": (string_batches(opts.strings, opts.value_size), opts.strings),
            "hashes": (hash_batches(opts.hashes, opts.fields), opts.hashes)}
    workdir = tempfile.mkdtemp(prefix="holdfast-rdb-")
    samples = []
    try:
        for ds in DATASETS:
            batches, keys = data[ds]
            for name, mk in servers:
                samples += measure(name, mk, ds, batches, keys, opts.rounds, workdir, server_cpu, opts.value_size)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    summary = summarise(samples)
    write_outputs(opts.out, {"meta": meta, "summary": summary, "samples": samples}, meta,
                  lambda env: render_report(summary, env, meta), redis_bin)
    return 0


if __name__ == "__main__":
    sys.exit(main())
