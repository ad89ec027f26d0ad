"""Micro-benchmark of the per-request work in the server process, without
sockets: parse + dispatch + execute + reply queueing for pipelined SET/GET.
Used to tune the hot path; complements bench/quick.py (real sockets).

    python -m bench.hotpath [--pipeline 16] [--rounds 7]
"""

import argparse
import time

from engine.client import Client
from engine.config import Config
from engine.server import Server


class _NullSock:
    def fileno(self):
        return -1


def build(pipeline, command):
    srv = Server(Config())
    c = Client(srv, _NullSock(), "127.0.0.1:1", "127.0.0.1:2")
    key = b"key:000000001234"
    if command == "set":
        req = b"*3\r\n$3\r\nSET\r\n$16\r\n%s\r\n$3\r\nxxx\r\n" % key
    else:
        srv.keyspace.dbs[0].data[key] = b"xxx"
        req = b"*2\r\n$3\r\nGET\r\n$16\r\n%s\r\n" % key
    return srv, c, req * pipeline


def measure(pipeline, command, rounds, batches=20000):
    srv, c, data = build(pipeline, command)
    results = []
    for _ in range(rounds):
        t0 = time.perf_counter()
        for _ in range(batches):
            srv.process_input(c, data)
            c.wbuf = []
            c.in_write_list = False
            srv.pending_writes.clear()
        results.append((time.perf_counter() - t0) / (batches * pipeline) * 1e6)
    results.sort()
    return results[len(results) // 2], results[0]


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--pipeline", type=int, nargs="*", default=[1, 16])
    ap.add_argument("--rounds", type=int, default=7)
    args = ap.parse_args()
    for cmd in ("set", "get"):
        for p in args.pipeline:
            med, best = measure(p, cmd, args.rounds)
            print("%-4s P%-3d median %.3f us/request  (best %.3f)" % (cmd, p, med, best))


if __name__ == "__main__":
    main()
