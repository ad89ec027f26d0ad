"""`io-threads N`: N-1 I/O worker processes own the client sockets
(engine/io_workers.py). What only this mode has is tested here: the
workers exist and go away with the server, one that dies is replaced and
only its clients notice, limits reach the workers when CONFIG SET changes
them, and output a worker holds shows in CLIENT LIST omem (what the
replica output-buffer limit counts) and is dropped when the client is
killed. Everything else a client can see is the whole suite's
job, run a second time with `--holdfast-arg='io-threads 4'` (make test)."""

import os
import signal
import socket
import threading

from rawresp import RawConn
from test_replication_primary import wait_until


def _workers(srv):
    with open("/proc/%d/task/%d/children" % (srv.proc.pid, srv.proc.pid)) as f:
        return [int(p) for p in f.read().split()]


def _alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    with open("/proc/%d/stat" % pid) as f:
        return f.read().split(")")[-1].split()[0] != "Z"


def test_workers_start_and_stop_with_the_server(holdfast_factory):
    srv = holdfast_factory("--io-threads", "3")
    workers = _workers(srv)
    assert len(workers) == 2
    assert srv.client().info("server")["io_threads_active"] == 1
    assert "2 I/O worker processes started (io-threads 3)" in srv.log()
    single = holdfast_factory("--io-threads", "1")
    assert _workers(single) == [] and single.client().info("server")["io_threads_active"] == 0
    srv.stop()
    assert not any(_alive(p) for p in workers)


def test_many_clients_pipelining_keep_their_order(holdfast_factory):
    srv = holdfast_factory("--io-threads", "4")
    errors = []

    def worker(n):
        r = srv.client()
        try:
            for rnd in range(30):
                p = r.pipeline(transaction=False)
                for i in range(1 + rnd % 20):
                    p.rpush("l%d" % n, "%d:%d" % (rnd, i))
                p.lrange("l%d" % n, -1, -1)
                out = p.execute()
                if out[-1] != [b"%d:%d" % (rnd, rnd % 20)] or out[:-1] != sorted(out[:-1]):
                    errors.append((n, rnd, out))
                    return
        finally:
            r.close()

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(16)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert not errors, errors[:2]
    r = srv.client()
    assert all(r.llen("l%d" % n) == sum(1 + rnd % 20 for rnd in range(30)) for n in range(16))


def test_a_dead_worker_is_replaced_and_only_its_clients_notice(holdfast_factory):
    srv = holdfast_factory("--io-threads", "3")
    conns = [RawConn(srv.port) for _ in range(6)]  # round-robin: three on each worker
    for i, c in enumerate(conns):
        assert c("SET", "k%d" % i, i) == b"+OK\r\n"
    victim = _workers(srv)[0]
    os.kill(victim, signal.SIGKILL)
    wait_until(lambda: len([p for p in _workers(srv) if p != victim and _alive(p)]) == 2,
               what="a replacement worker")
    survivors = 0
    for i, c in enumerate(conns):
        try:
            survivors += c("GET", "k%d" % i) == b"$1\r\n%d\r\n" % i
        except OSError:  # reset or closed: its worker died
            pass
    assert survivors == 3
    fresh = [srv.client() for _ in range(4)]  # new clients land on both workers, the new one too
    assert [c.incr("n") for c in fresh] == [1, 2, 3, 4]
    assert "(pid %d) exited" % victim in srv.log()


def test_config_set_limits_reach_the_workers(holdfast_factory):
    srv = holdfast_factory("--io-threads", "2")
    r = srv.client()
    r.config_set("proto-max-bulk-len", 1024 * 1024)  # the smallest Redis accepts
    s = socket.create_connection(("127.0.0.1", srv.port), timeout=10)
    s.sendall(b"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$2000000\r\n")
    assert s.recv(1000) == b"-ERR Protocol error: invalid bulk length\r\n"
    assert s.recv(1000) == b""
    r.config_set("client-query-buffer-limit", 1024 * 1024)
    r.config_set("proto-max-bulk-len", 8 * 1024 * 1024)
    s = socket.create_connection(("127.0.0.1", srv.port), timeout=10)
    s.sendall(b"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$4000000\r\n")
    try:
        for _ in range(40):  # 2.5 MB of one unfinished bulk, more than the 1 MB limit
            s.sendall(b"x" * 65536)
    except (ConnectionResetError, BrokenPipeError):
        pass
    wait_until(lambda: "reached max query buffer length" in srv.log(), what="the query buffer limit")
    assert r.ping()


def test_output_held_by_a_worker_shows_in_omem_and_is_dropped_on_kill(holdfast_factory):
    srv = holdfast_factory("--io-threads", "2")
    r = srv.client()
    r.set("big", "x" * (1 << 20))
    s = socket.create_connection(("127.0.0.1", srv.port), timeout=10)
    s.sendall(b"CLIENT SETNAME slow\r\n" + b"GET big\r\n" * 30)  # 30 MiB of replies it never reads

    def omem():
        line = [x for x in r.client_list() if x["name"] == "slow"]
        return int(line[0]["omem"]) if line else 0

    wait_until(lambda: omem() > 10 * (1 << 20), what="the worker to report what it holds")
    r.client_kill_filter(_id=[x for x in r.client_list() if x["name"] == "slow"][0]["id"])
    wait_until(lambda: not [x for x in r.client_list() if x["name"] == "slow"], what="the kill")
    # What the worker held is dropped, as Redis drops a killed client's
    # output: the connection ends well short of the 30 MiB asked for.
    s.settimeout(20)
    received = 0
    while chunk := s.recv(1 << 20):
        received += len(chunk)
    s.close()
    assert received < 20 * (1 << 20)


def test_the_benchmark_counts_the_workers_cpu(holdfast_factory):
    """bench/sweep.py reports CPU per request for the whole server (its
    worker processes too) and for the main thread alone."""
    from bench import procstat  # noqa: PLC0415 - the bench package, only this test needs it

    srv = holdfast_factory("--io-threads", "3")
    assert sorted(procstat.child_pids(srv.proc.pid)) == sorted(_workers(srv))
    r = srv.client()
    for _ in range(3000):
        r.ping()
    main = procstat.main_thread_cpu_seconds(srv.proc.pid)
    whole = procstat.cpu_seconds(srv.proc.pid)
    tree = procstat.tree_cpu_seconds(srv.proc.pid)
    assert 0 < main <= whole < tree  # the workers read and wrote those 3000 PINGs


def test_a_burst_of_connections_reaches_one_worker(holdfast_factory):
    """Hundreds of connections accepted in one pass (the server stopped while
    they queue): each socket goes to the worker before its ADD frame, and
    the worker takes them as they come, so the main process never waits on
    a worker that waits on it."""
    srv = holdfast_factory("--io-threads", "2")
    os.kill(srv.proc.pid, signal.SIGSTOP)  # the connections queue up, to be accepted in one pass
    try:
        socks = [socket.create_connection(("127.0.0.1", srv.port), timeout=10) for _ in range(400)]
    finally:
        os.kill(srv.proc.pid, signal.SIGCONT)
    for s in socks:
        s.sendall(b"PING\r\n")
    for s in socks:
        assert s.recv(7) == b"+PONG\r\n"
        s.close()


def test_a_hung_worker_costs_only_its_own_clients(holdfast_factory):
    """A worker that stops (SIGSTOP) fills its socket queue: the main process
    waits a bounded time once, then sends new clients to the other worker."""
    srv = holdfast_factory("--io-threads", "3")
    stuck = _workers(srv)[0]
    os.kill(stuck, signal.SIGSTOP)
    try:
        answered = 0
        for _ in range(30):
            try:
                with socket.create_connection(("127.0.0.1", srv.port), timeout=0.5) as s:
                    s.sendall(b"PING\r\n")
                    answered += s.recv(7) == b"+PONG\r\n"
            except OSError:
                pass
        assert answered >= 15  # the other worker's half at least, the stuck one's queue no longer
    finally:
        os.kill(stuck, signal.SIGCONT)
    assert srv.client().ping()
