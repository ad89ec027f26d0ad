"""bench: the benchmark harness. It talks to servers only over the network,
as an outside user would, and every report states the machine and the exact
command that made it.

- `bench.demo`     `make demo`: one Holdfast server, a first session, a short load, a report
- `bench.quick`    `make bench-quick`: Holdfast against redis-server, SET/GET at -P 1 and -P 16,
                   requests/s and server CPU per request, medians over rounds
- `bench.hotpath`  per-request cost inside the server process, without sockets
- `bench.serverproc`, `bench.procstat`  starting servers; reading /proc, redis-benchmark CSV,
                   the machine's description
"""
