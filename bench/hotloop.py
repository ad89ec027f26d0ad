"""The server's real event loop over socketpairs: 50 clients, each with a
pipeline of GETs or SETs waiting, and one pass of poll -> read, parse, run
-> before_sleep (replies sent) timed. Syscalls included, no TCP and no
load generator: steadier than bench/quick.py, closer to the server than
bench/hotpath.py.

Time is noisy on a shared 2-core machine; instructions are not. With
`--instructions` the loop runs twice under valgrind's cachegrind (short
and long) and the difference, divided by the requests between them, is
the user-space instructions per request: a change to the hot path moves
it by a fraction of a percent, reproducibly (valgrind: apt-get install
valgrind).

    python -m bench.hotloop [--command get set] [--pipeline 16] [--rounds 7]
    python -m bench.hotloop --instructions
"""

import argparse
import re
import select
import shutil
import socket
import statistics
import subprocess
import sys
import time

from engine.client import Client
from engine.config import Config
from engine.server import Server

KEY = b"key:000000001234"
WARMUP_PASSES = 50


class _Loop:
    """A server with `clients` socketpair clients; `run(n)` does n passes."""

    def __init__(self, command, pipeline, clients):
        self.srv = srv = Server(Config())
        if command == "set":
            req = b"*3\r\n$3\r\nSET\r\n$%d\r\n%s\r\n$3\r\nxxx\r\n" % (len(KEY), KEY)
        else:
            srv.keyspace.dbs[0].data[KEY] = b"xxx"
            req = b"*2\r\n$3\r\nGET\r\n$%d\r\n%s\r\n" % (len(KEY), KEY)
        self.data = req * pipeline
        self.requests_per_pass = pipeline * clients
        self.peers = []
        for i in range(clients):
            ours, theirs = socket.socketpair()
            ours.setblocking(False)
            c = Client(srv, ours, "127.0.0.1:%d" % (10000 + i), "127.0.0.1:6379")
            srv.clients[c.fd] = c
            srv.loop.ep.register(c.fd, select.EPOLLIN)
            self.peers.append(theirs)

    def run(self, passes):
        """Seconds spent in the server's part of `passes` passes."""
        srv, loop, data, peers = self.srv, self.srv.loop, self.data, self.peers
        poll = loop.ep.poll
        spent = 0.0
        for _ in range(passes):
            for p in peers:
                p.send(data)
            t0 = time.perf_counter()
            events = poll(0)
            srv.update_clock()
            loop._dispatch(events)
            srv.before_sleep()
            spent += time.perf_counter() - t0
            for p in peers:
                p.recv(65536)
        return spent


def timed(command, pipeline, clients, passes, rounds):
    loop = _Loop(command, pipeline, clients)
    loop.run(WARMUP_PASSES)
    per_request = [loop.run(passes) / (passes * loop.requests_per_pass) * 1e6 for _ in range(rounds)]
    return statistics.median(per_request), min(per_request)


def instructions(command, pipeline, clients, passes):
    """User-space instructions per request, from two cachegrind runs."""
    if shutil.which("valgrind") is None:
        raise SystemExit("valgrind is not installed (apt-get install valgrind)")

    def total(n):
        out = subprocess.run(
            ["valgrind", "--tool=cachegrind", "--cache-sim=no", "--cachegrind-out-file=/dev/null",
             sys.executable, "-m", "bench.hotloop", "--passes-only", str(n), "--command", command,
             "--pipeline", str(pipeline), "--clients", str(clients)],
            capture_output=True, text=True, check=True).stderr
        return int(re.search(r"I\s+refs:\s+([\d,]+)", out).group(1).replace(",", ""))

    short, long_ = total(passes // 5), total(passes // 5 + passes)
    return (long_ - short) / (passes * pipeline * clients)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--command", nargs="*", default=["get", "set"], choices=["get", "set"])
    ap.add_argument("--pipeline", type=int, default=16)
    ap.add_argument("--clients", type=int, default=50)
    ap.add_argument("--passes", type=int, default=2000, help="passes a round (--instructions: between the two runs)")
    ap.add_argument("--rounds", type=int, default=7)
    ap.add_argument("--instructions", action="store_true", help="count instructions under cachegrind instead of time")
    ap.add_argument("--passes-only", type=int, metavar="N", help=argparse.SUPPRESS)  # the run cachegrind measures
    args = ap.parse_args()
    if args.passes_only is not None:
        loop = _Loop(args.command[0], args.pipeline, args.clients)
        loop.run(WARMUP_PASSES)
        loop.run(args.passes_only)
        return
    for cmd in args.command:
        if args.instructions:
            n = instructions(cmd, args.pipeline, args.clients, min(args.passes, 100))
            print("%-4s P%-3d %d clients: %.0f instructions/request (cachegrind)"
                  % (cmd, args.pipeline, args.clients, n))
        else:
            med, best = timed(cmd, args.pipeline, args.clients, args.passes, args.rounds)
            print("%-4s P%-3d %d clients: median %.3f us/request (best %.3f)" % (cmd, args.pipeline, args.clients,
                                                                                 med, best))


if __name__ == "__main__":
    main()
