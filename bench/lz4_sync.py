"""Would lz4 pay for full syncs between Holdfast nodes? (issue 6 asks to
measure it and keep it only if it pays.)

    python -m bench.lz4_sync [--keys 1000000] [--value-size 100] [--rounds 3]
                             [--out results/replication/lz4]

A Holdfast server is filled with `--keys` strings (the replication
benchmark's data: random hex values) and takes a BGSAVE; the resulting RDB
is what a full sync sends. Then, `--rounds` times: lz4 frame compression and
decompression of it (one core each, as the fork child and the replica would
do), and the time to send the raw and the compressed bytes through a
loopback TCP connection to a reader that discards them. A sync with lz4
pays when compress + decompress + sending the smaller payload is faster
than sending the raw one; the report also works that out for a 1 Gbit/s
link (125 MB/s), where the network, not loopback, is the limit.
"""

import argparse
import os
import shutil
import socket
import sys
import tempfile
import threading
import time

import lz4.frame

from .memory import query
from .rdb import _wait_bgsave, load_ok, string_batches
from .reporting import run_meta, stats, write_outputs
from .serverproc import ServerProc, exit_on_sigterm, free_port, holdfast_command, pin_cpus

GBIT_BYTES_PER_S = 125e6


def make_rdb(keys, value_size, workdir):
    port = free_port()
    srv = ServerProc("holdfast", holdfast_command(port), port, cwd=workdir, logpath=os.path.join(workdir, "log"))
    srv.start()
    try:
        load_ok(port, string_batches(keys, value_size))
        query(port, "BGSAVE")
        _wait_bgsave(port)
    finally:
        srv.stop()
    with open(os.path.join(workdir, "dump.rdb"), "rb") as f:
        return f.read()


def loopback_send_seconds(payload):
    """Seconds to push `payload` through a loopback TCP connection."""
    lsock = socket.socket()
    lsock.bind(("127.0.0.1", 0))
    lsock.listen(1)

    def drain():
        conn, _ = lsock.accept()
        with conn:
            while conn.recv(1 << 20):
                pass

    t = threading.Thread(target=drain)
    t.start()
    with socket.create_connection(lsock.getsockname()) as s:
        t0 = time.perf_counter()
        s.sendall(payload)
        s.shutdown(socket.SHUT_WR)
        t.join()
        secs = time.perf_counter() - t0
    lsock.close()
    return secs


def measure(payload, rounds):
    out = []
    for rnd in range(1, rounds + 1):
        t0 = time.perf_counter()
        packed = lz4.frame.compress(payload)
        comp = time.perf_counter() - t0
        t0 = time.perf_counter()
        assert lz4.frame.decompress(packed) == payload
        decomp = time.perf_counter() - t0
        raw_send, packed_send = loopback_send_seconds(payload), loopback_send_seconds(packed)
        s = {"round": rnd, "raw_bytes": len(payload), "lz4_bytes": len(packed), "compress_s": comp,
             "decompress_s": decomp, "loopback_raw_s": raw_send, "loopback_lz4_s": packed_send}
        out.append(s)
        print("  round %d: %d -> %d bytes (%.2f), compress %.3f s, decompress %.3f s, loopback raw %.3f s, "
              "lz4 %.3f s" % (rnd, len(payload), len(packed), len(packed) / len(payload), comp, decomp, raw_send,
                              packed_send), flush=True)
    return out


def render_report(samples, env, meta):
    med = {k: stats([s[k] for s in samples])["median"] for k in samples[0] if k != "round"}
    raw, packed = med["raw_bytes"], med["lz4_bytes"]
    codec = med["compress_s"] + med["decompress_s"]
    loop_plain, loop_lz4 = med["loopback_raw_s"], med["loopback_lz4_s"] + codec
    net_plain, net_lz4 = raw / GBIT_BYTES_PER_S, packed / GBIT_BYTES_PER_S + codec
    lines = ["# lz4 for full syncs between Holdfast nodes: does it pay?", "",
             "Run %s, commit `%s`:" % (meta["date"], env.get("git_commit")), "", "    " + meta["command"], "",
             "Machine: %s, %s CPUs, %s; Python %s; lz4 %s." % (env.get("cpu_model"), env.get("cpu_count"),
                                                                env.get("kernel"), env.get("python"), lz4.VERSION),
             "", "The RDB of %d keys of %d random hex bytes (a Holdfast BGSAVE), %d rounds, medians." % (
                 meta["keys"], meta["value_size"], meta["rounds"]), "",
             "| | bytes | compress s | decompress s | send over loopback s | send over 1 Gbit/s s (computed) | "
             "sync payload time, loopback s | same, 1 Gbit/s s |", "|---|---:|---:|---:|---:|---:|---:|---:|",
             "| plain RDB | %d | - | - | %.3f | %.3f | %.3f | %.3f |" % (raw, loop_plain, net_plain, loop_plain,
                                                                       net_plain),
             "| lz4 frame | %d (%.2f) | %.3f | %.3f | %.3f | %.3f | %.3f | %.3f |" % (
                 packed, packed / raw, med["compress_s"], med["decompress_s"], med["loopback_lz4_s"],
                 packed / GBIT_BYTES_PER_S, loop_lz4, net_lz4), "",
             "Sync payload time = compress + decompress + sending (an upper bound: a streaming implementation "
             "would overlap them). Over loopback lz4 %s (%.2fx the plain time); over a 1 Gbit/s link it %s "
             "(%.2fx)." % ("pays" if loop_lz4 < loop_plain else "does not pay", loop_lz4 / loop_plain,
                           "would pay" if net_lz4 < net_plain else "would not pay", net_lz4 / net_plain), "",
             "Raw samples: `results.json`; machine and versions: `environment.json`.", ""]
    return "\n".join(lines)


def parse_args(argv=None):
    ap = argparse.ArgumentParser(prog="python -m bench.lz4_sync", description=__doc__.splitlines()[0])
    ap.add_argument("--keys", type=int, default=1000000)
    ap.add_argument("--value-size", type=int, default=100)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--out", default=os.path.join("results", "replication", "lz4"))
    return ap.parse_args(argv)


def main(argv=None):
    exit_on_sigterm()
    opts = parse_args(argv)
    meta = run_meta("bench.lz4_sync", argv, pin_cpus(), "-")
    meta.update({"keys": opts.keys, "value_size": opts.value_size, "rounds": opts.rounds,
                 "server_commands": {"holdfast": " ".join(holdfast_command("PORT"))}})
    workdir = tempfile.mkdtemp(prefix="holdfast-lz4-")
    try:
        payload = make_rdb(opts.keys, opts.value_size, workdir)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    samples = measure(payload, opts.rounds)
    write_outputs(opts.out, {"meta": meta, "samples": samples}, meta,
                  lambda env: render_report(samples, env, meta))
    return 0


if __name__ == "__main__":
    sys.exit(main())
