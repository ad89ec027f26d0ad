"""Memory benchmark: resident memory per element in Holdfast and in Debian's
redis-server holding the same data.

    python -m bench.memory [--hashes 1000000] [--fields 10] [--zset-members 1000000]
                           [--rounds 1] [--out results/memory] [--no-redis]

Two datasets, each loaded into a freshly started server (no persistence:
`--save '' --appendonly no`), one server at a time:

  A. `--hashes` hashes `hash:<i>`, each with `--fields` small fields f0, f1,
     ... whose values alternate between integers (up to 6 digits) and short
     strings (`user:<n>`, `en-GB`-like codes, ...): listpack-encoded in Redis.
  B. one sorted set `zset:big` with `--zset-members` members `member:<i>`
     and float scores: skiplist-encoded in Redis.

For each, the server's RSS (VmRSS of /proc/PID/status, plus Rss/Pss/
Private_Dirty of /proc/PID/smaps_rollup) and INFO memory's used_memory are
read after start-up and again after the load, once the loading connection is
closed and RSS has settled; the difference divided by the number of
elements is the figure reported. The load is pipelined over a raw socket: the
RESP bytes are built before the clock starts, HSET with all fields of one hash
per command and ZADD with 1000 score/member pairs per command, 1000 commands
per batch and two batches in flight; every reply is checked (an integer, and
they add up to the number of fields/members created). OBJECT ENCODING of a
sample key is recorded so the report shows both servers used the same
encodings.

Writes OUT/results.json (raw samples), OUT/environment.json and OUT/report.md.
"""

import argparse
import os
import random
import shlex
import shutil
import socket
import sys
import tempfile
import time

from . import procstat
from .reporting import run_meta, stats, write_outputs
from .serverproc import (
    ServerProc,
    exit_on_sigterm,
    free_port,
    holdfast_command,
    pin_cpus,
    redis_command,
)

ZSET_KEY = "zset:big"
ZADD_PAIRS = 1000  # score/member pairs per ZADD
BATCH_COMMANDS = 1000  # commands per batch written to the socket
DATASETS = ("hashes", "zset")


# ---- the data ------------------------------------------------------------------------------

def _bulk(s):
    b = s.encode() if isinstance(s, str) else s
    return b"$%d\r\n%s\r\n" % (len(b), b)


def command(*args):
    """One RESP2 command (array of bulk strings)."""
    return b"*%d\r\n" % len(args) + b"".join(_bulk(a) for a in args)


_WORDS = ("en-GB", "fr-FR", "active", "pending", "free", "pro", "admin", "blue", "green", "UTC")


def field_value(i, j):
    """Value of field f<j> of hash:<i>: small integers and short strings,
    deterministic, shaped like what applications put in user/session hashes."""
    k = j % 5
    if k == 0:
        return str((i * 7919 + j) % 1000000)  # an id or counter, up to 6 digits
    if k == 1:
        return "user:%d" % (i % 100000)
    if k == 2:
        return str(1700000000 + (i * 31 + j) % 10000000)  # a unix timestamp
    if k == 3:
        return _WORDS[(i + j) % len(_WORDS)]
    return str((i * 13 + j) % 100)  # a small integer (age, score, flags)


def hash_batches(n, fields, per_batch=BATCH_COMMANDS):
    """[(bytes, commands in it)] that create hash:0 .. hash:n-1, one HSET each."""
    names = [("f%d" % j).encode() for j in range(fields)]
    fheads = [b"$%d\r\n%s\r\n" % (len(f), f) for f in names]
    head = b"*%d\r\n$4\r\nHSET\r\n" % (2 + 2 * fields)
    out = []
    for start in range(0, n, per_batch):
        parts = []
        for i in range(start, min(n, start + per_batch)):
            parts.append(head)
            parts.append(_bulk("hash:%d" % i))
            for j in range(fields):
                parts.append(fheads[j])
                parts.append(_bulk(field_value(i, j)))
        out.append((b"".join(parts), min(n, start + per_batch) - start))
    return out


def zset_batches(n, pairs=ZADD_PAIRS, per_batch=BATCH_COMMANDS, seed=42):
    """[(bytes, commands in it)] that add member:0 .. member:n-1 to ZSET_KEY with
    pseudo-random float scores (fixed seed), `pairs` members per ZADD."""
    rnd = random.Random(seed)
    cmds = []
    for start in range(0, n, pairs):
        end = min(n, start + pairs)
        parts = [b"*%d\r\n$4\r\nZADD\r\n" % (2 + 2 * (end - start)), _bulk(ZSET_KEY)]
        for i in range(start, end):
            parts.append(_bulk(repr(round(rnd.random() * 1e6, 3))))
            parts.append(_bulk("member:%d" % i))
        cmds.append(b"".join(parts))
    return [(b"".join(cmds[k:k + per_batch]), len(cmds[k:k + per_batch])) for k in range(0, len(cmds), per_batch)]


# ---- talking to a server ----------------------------------------------------------------------

def read_integer_replies(sock, count, buf):
    """Read `count` one-line replies; returns (sum of the integers, leftover bytes).
    Anything but an integer reply (an error) raises."""
    total = 0
    while count:
        end = buf.find(b"\r\n")
        while end < 0:
            chunk = sock.recv(1 << 16)
            if not chunk:
                raise RuntimeError("connection closed with %d replies outstanding" % count)
            buf += chunk
            end = buf.find(b"\r\n")
        line, buf = buf[:end], buf[end + 2:]
        if not line.startswith(b":"):
            raise RuntimeError("unexpected reply %r" % line[:200])
        total += int(line[1:])
        count -= 1
    return total, buf


def load(port, batches):
    """Send the batches (two in flight) and check every reply; returns
    (sum of the integer replies, seconds from first byte sent to last reply)."""
    with socket.create_connection(("127.0.0.1", port), timeout=600) as sock:
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        t0 = time.monotonic()
        total, buf, pending = 0, b"", []
        for data, ncmd in batches:
            sock.sendall(data)
            pending.append(ncmd)
            if len(pending) > 1:
                got, buf = read_integer_replies(sock, pending.pop(0), buf)
                total += got
        for ncmd in pending:
            got, buf = read_integer_replies(sock, ncmd, buf)
            total += got
        elapsed = time.monotonic() - t0
        if buf:
            raise RuntimeError("unexpected extra reply bytes %r" % buf[:200])
    return total, elapsed


def _read_reply(f):
    line = f.readline()
    if not line:
        raise RuntimeError("connection closed")
    t, rest = line[:1], line[1:-2]
    if t in (b"+", b":"):
        return rest.decode()
    if t == b"-":
        return RuntimeError(rest.decode())
    if t == b"$":
        n = int(rest)
        if n < 0:
            return None
        data = f.read(n + 2)
        return data[:-2].decode(errors="replace")
    if t == b"*":
        return [_read_reply(f) for _ in range(int(rest))]
    raise RuntimeError("unexpected reply %r" % line[:200])


def query(port, *args):
    """One command on a fresh connection; its reply (an error comes back as an
    exception object, not raised)."""
    with socket.create_connection(("127.0.0.1", port), timeout=60) as sock:
        sock.sendall(command(*args))
        with sock.makefile("rb") as f:
            return _read_reply(f)


def info_fields(port, section):
    """INFO `section` as a dict of its fields (values as strings)."""
    text = query(port, "INFO", section)
    return dict(line.split(":", 1) for line in text.splitlines() if ":" in line and not line.startswith("#"))


def info_memory(port):
    text = query(port, "INFO", "memory")
    out = {}
    for line in text.splitlines():
        k, sep, v = line.partition(":")
        if sep and k in ("used_memory", "used_memory_rss", "mem_allocator"):
            out[k] = int(v) if v.isdigit() else v
    return out


# ---- /proc memory --------------------------------------------------------------------------

def _kb_fields(path, names):
    out = {}
    try:
        with open(path) as f:
            for line in f:
                k, sep, v = line.partition(":")
                if sep and k in names:
                    out[k] = int(v.split()[0]) * 1024
    except OSError:
        pass
    return out


def proc_memory(pid):
    """Bytes: VmRSS and VmHWM (status), Rss, Pss, Private_Dirty (smaps_rollup)."""
    out = _kb_fields("/proc/%d/status" % pid, ("VmRSS", "VmHWM"))
    out.update(_kb_fields("/proc/%d/smaps_rollup" % pid, ("Rss", "Pss", "Private_Dirty")))
    return out


def settled_memory(pid, timeout=5.0, interval=0.25):
    """proc_memory once VmRSS reads the same twice in a row (or at `timeout`)."""
    deadline = time.monotonic() + timeout
    last = proc_memory(pid)
    while time.monotonic() < deadline:
        time.sleep(interval)
        cur = proc_memory(pid)
        if cur.get("VmRSS") == last.get("VmRSS"):
            return cur
        last = cur
    return last


# ---- one server, one dataset ------------------------------------------------------------------

def measure(srv, dataset, batches, elements, fields):
    """Load one dataset into a fresh server; one sample."""
    pid = srv.pid
    before = settled_memory(pid, timeout=2.0)
    info_before = info_memory(srv.port)
    cpu0 = procstat.cpu_seconds(pid)
    total, load_s = load(srv.port, batches)
    cpu = procstat.cpu_seconds(pid) - cpu0
    expected = elements * fields if dataset == "hashes" else elements
    if total != expected:
        raise RuntimeError("%s: replies add up to %d, expected %d" % (srv.name, total, expected))
    after = settled_memory(pid)
    info_after = info_memory(srv.port)
    if dataset == "hashes":
        sample_key = "hash:%d" % (elements // 2)
        card = query(srv.port, "HLEN", sample_key)
        dbsize = query(srv.port, "DBSIZE")
        if int(dbsize) != elements or int(card) != fields:
            raise RuntimeError("%s: DBSIZE %s, HLEN %s" % (srv.name, dbsize, card))
    else:
        sample_key = ZSET_KEY
        card = query(srv.port, "ZCARD", ZSET_KEY)
        if int(card) != elements:
            raise RuntimeError("%s: ZCARD %s, expected %d" % (srv.name, card, elements))
    encoding = query(srv.port, "OBJECT", "ENCODING", sample_key)
    usage = query(srv.port, "MEMORY", "USAGE", sample_key, "SAMPLES", "0")  # Redis only: Holdfast answers an error
    if not srv.alive():
        raise RuntimeError("%s died:\n%s" % (srv.name, srv.log_tail()))
    delta = after["VmRSS"] - before["VmRSS"]
    used_delta = info_after["used_memory"] - info_before["used_memory"]
    sample = {
        "server": srv.name, "dataset": dataset, "elements": elements,
        "fields": fields if dataset == "hashes" else None,
        "rss_before": before["VmRSS"], "rss_after": after["VmRSS"], "rss_delta": delta,
        "rss_peak": after.get("VmHWM"),
        "proc_before": before, "proc_after": after,
        "used_memory_before": info_before["used_memory"], "used_memory_after": info_after["used_memory"],
        "used_memory_delta": used_delta, "mem_allocator": info_after.get("mem_allocator"),
        "rss_bytes_per_element": delta / elements,
        "used_memory_bytes_per_element": used_delta / elements,
        "rss_bytes_per_field": delta / (elements * fields) if dataset == "hashes" else None,
        "encoding": encoding, "sample_key": sample_key,
        "memory_usage_sample_key": None if isinstance(usage, Exception) else int(usage),
        # MEMORY USAGE per element: the sample key is one hash, or the zset holding every member
        "memory_usage_bytes_per_element": None if isinstance(usage, Exception) else
        int(usage) / (1 if dataset == "hashes" else elements),
        "load_s": load_s, "server_cpu_s": round(cpu, 6),
        "commands": sum(n for _, n in batches), "bytes_sent": sum(len(b) for b, _ in batches),
    }
    return sample


# ---- summary and report ------------------------------------------------------------------------

SUMMARY_KEYS = ("rss_bytes_per_element", "rss_bytes_per_field", "used_memory_bytes_per_element", "rss_delta",
                "rss_before", "rss_after", "rss_peak", "load_s", "server_cpu_s", "memory_usage_sample_key",
                "memory_usage_bytes_per_element")


def summarise(samples):
    """{dataset: {server: {key: stats, "encoding": [...]}}}, in first-seen order."""
    out = {}
    for s in samples:
        out.setdefault(s["dataset"], {}).setdefault(s["server"], []).append(s)
    for by in out.values():
        for name, ss in list(by.items()):
            st = {k: stats([s.get(k) for s in ss]) for k in SUMMARY_KEYS}
            st["encoding"] = sorted({s["encoding"] for s in ss})
            st["elements"] = ss[0]["elements"]
            st["fields"] = ss[0]["fields"]
            by[name] = st
    return out


def ratios(summary):
    """{dataset: {"rss": Holdfast/redis bytes per element, "used_memory": ...}}."""
    out = {}
    for dataset, by in summary.items():
        hf, rd = by.get("holdfast"), by.get("redis")
        if not hf or not rd:
            continue
        r = {}
        for name, key in (("rss", "rss_bytes_per_element"), ("used_memory", "used_memory_bytes_per_element")):
            a, b = hf[key]["median"], rd[key]["median"]
            r[name] = a / b if b > 0 else None
        out[dataset] = r
    return out


def _fmt(st, spec="%.1f", scale=1.0):
    if st is None:
        return "-"
    if st["n"] == 1:
        return spec % (st["median"] / scale)
    return (spec + " [" + spec + "-" + spec + "]") % (st["median"] / scale, st["min"] / scale, st["max"] / scale)


def _mib(st):
    return _fmt(st, "%.1f", 1048576.0)


SERVER_NAMES = {"holdfast": "Holdfast", "redis": "redis-server"}


def render_report(summary, env, meta):
    lines = ["# Memory benchmark: Holdfast and redis-server", ""]
    lines.append("Run %s, commit `%s`:" % (meta["date"], env.get("git_commit")))
    lines += ["", "    " + meta["command"], ""]
    lines.append("Machine: %s, %s CPUs, %s memory, %s; Python %s; %s." % (
        env.get("cpu_model"), env.get("cpu_count"), env.get("memory_total") or "?", env.get("kernel"),
        env.get("python"), env.get("redis_server") or "no redis-server"))
    lines.append("Pinning: %s. Total run time %.0f s." % (meta["pinning"], meta.get("run_s", 0)))
    if meta.get("loadavg"):
        lines.append("Load average before the run: %s." % " ".join("%.2f" % x for x in meta["loadavg"]))
    lines += [
        "",
        "Datasets, each loaded into a freshly started server (`--save '' --appendonly no`), one server at a time:",
        "",
        "- **hashes**: %s hashes `hash:<i>`, %d fields each (`f0`..`f%d`; values alternate between integers of up"
        " to 10 digits and short strings such as `user:4711` or `en-GB`), one HSET per hash."
        % ("{:,}".format(meta["hashes"]), meta["fields"], meta["fields"] - 1),
        "- **zset**: one sorted set `%s` with %s members `member:<i>` and pseudo-random float scores"
        " (0..1e6, 3 decimals), ZADD with %d pairs per command." % (
            ZSET_KEY, "{:,}".format(meta["zset_members"]), ZADD_PAIRS),
        "",
        "Bytes per element = (VmRSS after the load, connection closed, RSS settled - VmRSS after start-up) /"
        " elements. Per field = the same over hashes x fields. %d round(s); figures are medians over rounds, with"
        " [min-max] when there are several." % meta["rounds"],
        "",
    ]
    rat = ratios(summary)
    lines += ["| dataset | server | encoding | RSS start MiB | RSS loaded MiB | RSS bytes/element | RSS bytes/field"
              " | used_memory bytes/element | MEMORY USAGE bytes/element | load s | server CPU s |",
              "|---|---|---|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for dataset, by in summary.items():
        for name, st in by.items():
            lines.append("| %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s |" % (
                dataset, SERVER_NAMES.get(name, name), "/".join(st["encoding"]), _mib(st["rss_before"]),
                _mib(st["rss_after"]), _fmt(st["rss_bytes_per_element"]),
                _fmt(st["rss_bytes_per_field"]) if dataset == "hashes" else "-",
                _fmt(st["used_memory_bytes_per_element"]), _fmt(st["memory_usage_bytes_per_element"]),
                _fmt(st["load_s"]), _fmt(st["server_cpu_s"])))
    if rat:
        lines += ["", "Holdfast / redis-server (medians):", "",
                  "| dataset | RSS bytes/element ratio | used_memory bytes/element ratio | same encoding |",
                  "|---|---:|---:|---|"]
        for dataset, r in rat.items():
            by = summary[dataset]
            same = by["holdfast"]["encoding"] == by["redis"]["encoding"]
            lines.append("| %s | %s | %s | %s |" % (
                dataset, "-" if r["rss"] is None else "%.2f" % r["rss"],
                "-" if r["used_memory"] is None else "%.2f" % r["used_memory"],
                "yes (%s)" % "/".join(by["redis"]["encoding"]) if same else "**no**"))
    lines += [
        "",
        "Notes: RSS counts everything the process holds, allocator slack included, which is what a user pays for."
        " redis-server's used_memory is its allocator's (%s) count of allocated bytes; Holdfast's used_memory is"
        " its private resident memory (RSS minus file-backed shared pages, from /proc/self/statm), so for Holdfast"
        " the two columns measure nearly the same thing. MEMORY USAGE (redis-server only: Holdfast has no MEMORY"
        " command) is redis-server's own estimate, `MEMORY USAGE key SAMPLES 0`, of the sample hash, or of the"
        " whole sorted set divided by its members. Load time runs from the first byte sent to the last reply, with the"
        " RESP bytes built beforehand; it includes the client, so read it as an indication only." % (
            meta.get("redis_allocator") or "jemalloc"),
        "",
        "Raw samples: `results.json`; machine and versions: `environment.json`.",
        "",
    ]
    return "\n".join(lines)


# ---- main ----------------------------------------------------------------------------------------

def parse_args(argv=None):
    ap = argparse.ArgumentParser(prog="python -m bench.memory", description=__doc__.splitlines()[0])
    ap.add_argument("--hashes", type=int, default=1000000, help="hashes in dataset A (default 1000000)")
    ap.add_argument("--fields", type=int, default=10, help="fields per hash (default 10)")
    ap.add_argument("--zset-members", type=int, default=1000000, help="members of the sorted set (default 1000000)")
    ap.add_argument("--rounds", type=int, default=1)
    ap.add_argument("--out", default=os.path.join("results", "memory"))
    ap.add_argument("--no-redis", action="store_true", help="measure Holdfast only")
    opts = ap.parse_args(argv)
    if opts.rounds < 1 or opts.hashes < 1 or opts.fields < 1 or opts.zset_members < 1:
        ap.error("--rounds, --hashes, --fields and --zset-members must be positive")
    return opts


def main(argv=None):
    exit_on_sigterm()
    t_start = time.monotonic()
    opts = parse_args(argv)
    redis_bin = None if opts.no_redis else procstat.tool("redis-server")
    if not opts.no_redis and redis_bin is None:
        print("redis-server is not installed: measuring Holdfast only (apt-get install redis-server)", file=sys.stderr)
    pins = pin_cpus()
    server_cpu, client_cpu = pins if pins else (None, None)
    if client_cpu is not None:
        os.sched_setaffinity(0, {client_cpu})
    meta = run_meta("bench.memory", argv, pins, "loader")
    meta["pinning"] += " (taskset / sched_setaffinity)" if pins else ""
    meta.update({
        "rounds": opts.rounds, "hashes": opts.hashes, "fields": opts.fields, "zset_members": opts.zset_members,
        "zadd_pairs": ZADD_PAIRS, "batch_commands": BATCH_COMMANDS,
    })
    servers = [("holdfast", holdfast_command)]
    if redis_bin:
        servers.append(("redis", lambda p: redis_command(redis_bin, p)))
    meta["server_commands"] = {name: shlex.join(mk("PORT")) for name, mk in servers}

    print("building the RESP bytes ...", flush=True)
    t0 = time.monotonic()
    data = {"hashes": (hash_batches(opts.hashes, opts.fields), opts.hashes),
            "zset": (zset_batches(opts.zset_members), opts.zset_members)}
    print("  %.1f s, %.1f MiB" % (time.monotonic() - t0,
                                  sum(len(b) for bs, _ in data.values() for b, _ in bs) / 1048576), flush=True)

    workdir = tempfile.mkdtemp(prefix="holdfast-memory-")
    samples, ok = [], False
    try:
        for rnd in range(1, opts.rounds + 1):
            print("round %d/%d" % (rnd, opts.rounds), flush=True)
            for name, mk in servers:
                for dataset in DATASETS:
                    batches, elements = data[dataset]
                    port = free_port()
                    srv = ServerProc(name, mk(port), port, cwd=workdir,
                                     logpath=os.path.join(workdir, "%s-%s-%d.log" % (name, dataset, rnd)),
                                     cpu=server_cpu)
                    with srv:
                        s = measure(srv, dataset, batches, elements, opts.fields)
                    s["round"] = rnd
                    samples.append(s)
                    if name == "redis":
                        meta["redis_allocator"] = s["mem_allocator"]
                    print("  %-8s %-6s %-9s %8.1f bytes/element (RSS %.1f -> %.1f MiB), load %.1f s" % (
                        name, dataset, s["encoding"], s["rss_bytes_per_element"], s["rss_before"] / 1048576,
                        s["rss_after"] / 1048576, s["load_s"]), flush=True)
        ok = True
    finally:
        if ok:
            shutil.rmtree(workdir, ignore_errors=True)
        else:
            print("server logs kept in %s" % workdir, file=sys.stderr)

    meta["run_s"] = time.monotonic() - t_start
    summary = summarise(samples)
    write_outputs(opts.out, {"meta": meta, "summary": summary, "ratios": ratios(summary), "samples": samples},
                  meta, lambda env: render_report(summary, env, meta), redis_bin)
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except KeyboardInterrupt:  # the servers are already stopped; no traceback for Ctrl-C
        sys.exit(130)
