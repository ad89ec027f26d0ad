"""Start and stop the servers a benchmark talks to: Holdfast from this
checkout and Debian's redis-server, each on its own loopback port, each
optionally pinned to one CPU with `taskset`. The harness only ever talks to
them over the network, as an outside user would."""

import functools
import os
import shutil
import signal
import socket
import subprocess
import sys
import time

from . import procstat

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def exit_on_sigterm():
    """Turn SIGTERM/SIGHUP into SystemExit so `finally` blocks stop the
    servers we started (Ctrl-C already raises KeyboardInterrupt)."""

    def handler(signum, _frame):
        sys.exit(128 + signum)

    signal.signal(signal.SIGTERM, handler)
    signal.signal(signal.SIGHUP, handler)


def listens_on(pid, port):
    """Whether process `pid` holds a socket listening on TCP `port`: the
    answer to a PING alone can come from another process that took the port
    first (a free_port race), while ours failed to bind and is exiting.
    Linux /proc: the LISTEN sockets' inodes against the process's fds."""
    inodes = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            with open(table) as f:
                next(f)
                for line in f:
                    fields = line.split()
                    if fields[3] == "0A" and int(fields[1].rsplit(":", 1)[1], 16) == port:
                        inodes.add("socket:[%s]" % fields[9])
        except OSError:
            continue
    if not inodes:
        return False
    pids = [pid]
    try:  # a launcher that forks the server (rather than exec) counts too
        with open("/proc/%d/task/%d/children" % (pid, pid)) as f:
            pids += [int(p) for p in f.read().split()]
    except OSError:
        pass
    for p in pids:
        fd_dir = "/proc/%d/fd" % p
        try:
            names = os.listdir(fd_dir)
        except OSError:
            continue
        for name in names:
            try:
                if os.readlink(os.path.join(fd_dir, name)) in inodes:
                    return True
            except OSError:
                continue
    return False


def free_port(preferred=None):
    """`preferred` when nothing listens there, else a free port the kernel picks."""
    if preferred:
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", preferred))
                return preferred
            except OSError:
                pass
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def pin_cpus():
    """(server CPU, client CPU) when the machine lets us keep them apart, else None.

    With one core the pair would fight for it whatever we do, so pinning
    would only hide that; with two or more, the server gets the first CPU
    this process may use and the load generator the second."""
    allowed = sorted(os.sched_getaffinity(0))
    if len(allowed) < 2 or not shutil.which("taskset"):
        return None
    return allowed[0], allowed[1]


def taskset(cpu):
    """Command prefix that runs a program on one CPU (empty when cpu is None)."""
    return [] if cpu is None else ["taskset", "-c", str(cpu)]


def holdfast_command(port, extra=()):
    return [sys.executable, "-m", "engine", "--port", str(port), "--bind", "127.0.0.1",
            "--save", "", "--appendonly", "no", *extra]


def redis_command(binary, port, extra=()):
    return [binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
            "--daemonize", "no", *extra]


def setting_benchmark_setup(no_redis):
    """What a redis-benchmark run over per-cell settings needs first
    (bench.aof, bench.maxmemory): (redis-benchmark, redis-server or None,
    the pins or None, (server CPU, client CPU), [(name, mk(port, extra))]).
    This process moves to the client CPU, as redis-benchmark will."""
    bench_bin = procstat.tool("redis-benchmark")
    if bench_bin is None:
        raise SystemExit("redis-benchmark is not installed (apt-get install redis-tools)")
    redis_bin = None if no_redis else procstat.tool("redis-server")
    pins = pin_cpus()
    cpus = pins if pins else (None, None)
    if cpus[1] is not None:
        os.sched_setaffinity(0, {cpus[1]})
    servers = [("holdfast", holdfast_command)]
    if redis_bin:
        servers.append(("redis", functools.partial(redis_command, redis_bin)))
    return bench_bin, redis_bin, pins, cpus, servers


class ServerProc:
    """One server process: `argv` runs in `cwd`, output goes to `logpath`.

    `pid` is the server's own pid (taskset execs the program, it does not
    fork), so /proc/PID/stat measures the server itself."""

    def __init__(self, name, argv, port, cwd, logpath, cpu=None):
        self.name = name
        self.argv = taskset(cpu) + list(argv)
        self.port = port
        self.cwd = cwd
        self.logpath = logpath
        self.proc = None
        self._log = None

    @property
    def pid(self):
        return self.proc.pid

    def start(self, timeout=30):
        env = dict(os.environ)
        # `python -m engine` must import this checkout, wherever we run from
        env["PYTHONPATH"] = ROOT + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
        self._log = open(self.logpath, "ab")
        self.proc = subprocess.Popen(self.argv, cwd=self.cwd, stdout=self._log, stderr=subprocess.STDOUT,
                                     stdin=subprocess.DEVNULL, env=env, start_new_session=True)
        try:
            self._wait_ready(timeout)
        except BaseException:
            self.stop()
            raise
        return self

    def _wait_ready(self, timeout):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError("%s exited with status %s:\n%s" % (self.name, self.proc.returncode, self.log_tail()))
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.5) as s:
                    s.sendall(b"PING\r\n")
                    if s.recv(64).startswith((b"+PONG", b"-NOAUTH")):
                        if listens_on(self.proc.pid, self.port):
                            return
                        # another process answered on our port: ours must be failing to bind
                        time.sleep(0.05)
                        continue
            except OSError:
                pass
            time.sleep(0.05)
        raise RuntimeError("%s did not answer PING within %ss:\n%s" % (self.name, timeout, self.log_tail()))

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def stop(self, timeout=15):
        """SIGTERM (a clean shutdown in both servers), SIGKILL if it hangs."""
        if self.proc is not None and self.proc.poll() is None:
            try:
                self.proc.send_signal(signal.SIGTERM)
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        if self._log is not None:
            self._log.close()
            self._log = None
        return self.proc.returncode if self.proc else None

    def log_tail(self, limit=3000):
        try:
            with open(self.logpath, "rb") as f:
                return f.read().decode(errors="replace")[-limit:]
        except OSError:
            return ""

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()
