"""Starting and stopping the server: command line, config file, defaults,
signals, SHUTDOWN, fatal config errors, timeout, maxclients, requirepass.
Where the wording matters it is compared with Debian's redis-server."""

import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time

import pytest
import redis
from conftest import require_tool
from servers import ROOT, free_port, redis_server_path


def holdfast_bin():
    """The installed `holdfast-server` script of the environment running the
    tests (the venv, or tox's env with `package = editable`)."""
    beside = os.path.join(os.path.dirname(sys.executable), "holdfast-server")
    return beside if os.path.exists(beside) else shutil.which("holdfast-server")


def _env():
    env = dict(os.environ)
    env["PYTHONPATH"] = ROOT + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
    return env


def run_holdfast(args, cwd, timeout=20):
    """Run `python -m engine ARGS` expecting it to exit by itself."""
    return subprocess.run([sys.executable, "-m", "engine"] + list(args), cwd=str(cwd), env=_env(),
                          capture_output=True, text=True, timeout=timeout)


def run_redis(args, cwd, timeout=20):
    return subprocess.run([redis_server_path()] + list(args), cwd=str(cwd), capture_output=True, text=True,
                          timeout=timeout)


def fatal_block(text):
    """The '*** FATAL CONFIG FILE ERROR ***' block, from its header on."""
    i = text.find("*** FATAL CONFIG FILE ERROR")
    assert i >= 0, text
    return text[i:].strip()


def wait_exit(proc, timeout=15):
    try:
        return proc.wait(timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        raise


# ---- command line and config file -----------------------------------------------------

def test_defaults_match_redis(holdfast_factory):
    srv = holdfast_factory()
    r = srv.client()
    assert r.config_get("bind") == {"bind": "127.0.0.1 -::1"}
    assert r.config_get("protected-mode") == {"protected-mode": "yes"}
    assert r.config_get("databases") == {"databases": "16"}
    assert r.config_get("hz") == {"hz": "10"}
    assert r.config_get("loglevel") == {"loglevel": "notice"}
    assert r.config_get("logfile") == {"logfile": ""}
    assert r.config_get("port") == {"port": str(srv.port)}
    # --dir is absolute on our command line; CONFIG GET dir answers the cwd
    assert os.path.realpath(r.config_get("dir")["dir"]) == os.path.realpath(srv.workdir)
    assert r.config_get("maxclients") == {"maxclients": "10000"}
    assert r.config_get("timeout") == {"timeout": "0"}


def test_installed_script_with_config_file_and_overriding_flags(tmp_path):
    script = holdfast_bin()
    assert script, "`pip install -e .` provides the holdfast-server script"
    port = free_port()
    conf = tmp_path / "hf.conf"
    conf.write_text("# a comment\nport 1\nhz 20\nloglevel verbose\ndatabases 4\n")
    proc = subprocess.Popen([script, str(conf), "--port", str(port), "--hz", "33", "--save", ""],
                            cwd=str(tmp_path), stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        r = _wait_client(port, proc)
        assert r.config_get("port") == {"port": str(port)}
        assert r.config_get("hz") == {"hz": "33"}  # flag wins over the file
        assert r.config_get("loglevel") == {"loglevel": "verbose"}  # from the file
        assert r.config_get("databases") == {"databases": "4"}
        with pytest.raises(redis.ResponseError, match="^DB index is out of range$"):
            r.execute_command("SELECT", 4)
        r.close()
    finally:
        proc.send_signal(signal.SIGTERM)
        out = proc.communicate(timeout=15)[0].decode()
    assert proc.returncode == 0, out
    assert "Ready to accept connections" in out


def _wait_client(port, proc, timeout=20):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if proc.poll() is not None:
            raise AssertionError("server exited: %s" % (proc.stdout.read() if proc.stdout else ""))
        try:
            r = redis.Redis(port=port, socket_timeout=5)
            if r.ping():
                return r
        except redis.ConnectionError:
            time.sleep(0.05)
    raise AssertionError("server did not start")


def test_python_dash_m_engine_and_ready_line_in_logfile(tmp_path):
    port = free_port()
    logfile = tmp_path / "hf.log"
    proc = subprocess.Popen([sys.executable, "-m", "engine", "--port", str(port), "--logfile", str(logfile),
                             "--save", ""], cwd=str(tmp_path), env=_env(),
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        r = _wait_client(port, proc)
        assert r.config_get("logfile") == {"logfile": str(logfile)}
        r.close()
        text = logfile.read_text()
        assert "Ready to accept connections" in text
        # Redis's line shape: pid:role dd Mon yyyy HH:MM:SS.mmm mark message
        line = [x for x in text.splitlines() if "Ready to accept" in x][0]
        pid, rest = line.split(":", 1)
        assert pid == str(proc.pid)
        assert rest[0] == "M" and rest.endswith(" * Ready to accept connections")  # as redis-server 7.0
    finally:
        proc.send_signal(signal.SIGINT)
        wait_exit(proc)
    assert proc.returncode == 0
    assert "ready to exit, bye bye" in logfile.read_text()


def test_version_flag(tmp_path):
    res = run_holdfast(["--version"], tmp_path)
    assert res.returncode == 0
    assert "v=" in res.stdout


def test_port_zero_without_unixsocket_is_refused(tmp_path):
    res = run_holdfast(["--port", "0", "--save", ""], tmp_path)
    assert res.returncode == 1
    # a warning log line, as redis-server writes it
    assert re.search(r"^\d+:[MC] .* # Configured to not listen anywhere, exiting\.$", res.stdout, re.M), res.stdout
    logfile = tmp_path / "refused.log"
    res = run_holdfast(["--port", "0", "--logfile", str(logfile)], tmp_path)
    assert res.returncode == 1
    assert "Configured to not listen anywhere, exiting." in logfile.read_text()


def test_port_zero_with_unixsocket(tmp_path):
    sock = str(tmp_path / "hf.sock")
    proc = subprocess.Popen([sys.executable, "-m", "engine", "--port", "0", "--unixsocket", sock, "--save", ""],
                            cwd=str(tmp_path), env=_env(), stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        deadline = time.time() + 20
        while not os.path.exists(sock):
            assert proc.poll() is None, proc.stdout.read()
            assert time.time() < deadline
            time.sleep(0.05)
        r = redis.Redis(unix_socket_path=sock, socket_timeout=5)
        for _ in range(100):
            try:
                assert r.ping()
                break
            except redis.ConnectionError:
                time.sleep(0.05)
        r.set("k", "v")
        assert r.get("k") == b"v"
        assert r.config_get("port") == {"port": "0"}
        r.close()
    finally:
        proc.send_signal(signal.SIGTERM)
        out = proc.communicate(timeout=15)[0].decode()
    assert proc.returncode == 0, out
    assert "Ready to accept connections" in out


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_clean_exit_on_signal(holdfast_factory, sig):
    srv = holdfast_factory()
    srv.client().set("a", "1")
    assert srv.stop(sig) == 0
    log = srv.log()
    assert "Received %s scheduling shutdown" % ("SIGTERM" if sig == signal.SIGTERM else "SIGINT") in log
    assert "ready to exit, bye bye" in log


@pytest.mark.parametrize("args", [(), ("NOSAVE",), ("SAVE",), ("nosave", "now"), ("NOW", "FORCE")])
def test_shutdown_command(holdfast_factory, args):
    srv = holdfast_factory()
    srv.client().set("a", "1")
    # no reply: the connection just closes as the server exits
    assert _raw(srv.port, " ".join(("SHUTDOWN",) + args).encode() + b"\r\n", 1) == b""
    assert wait_exit(srv.proc) == 0
    assert "User requested shutdown..." in srv.log()
    assert "ready to exit, bye bye" in srv.log()


def test_shutdown_bad_arguments(hf, rr):
    for args in (("bogus",), ("SAVE", "NOSAVE"), ("ABORT", "NOW")):
        with pytest.raises(redis.ResponseError) as theirs:
            rr.execute_command("SHUTDOWN", *args)
        with pytest.raises(redis.ResponseError) as ours:
            hf.execute_command("SHUTDOWN", *args)
        assert str(ours.value) == str(theirs.value)
    with pytest.raises(redis.ResponseError) as theirs:
        rr.execute_command("SHUTDOWN", "ABORT")
    with pytest.raises(redis.ResponseError) as ours:
        hf.execute_command("SHUTDOWN", "ABORT")
    assert str(ours.value) == str(theirs.value) == "No shutdown in progress."
    assert hf.ping()


# ---- fatal config errors (compared with redis-server) -------------------------------------

@pytest.mark.parametrize("conf, flags", [
    ("port 1234\nhz abc\n", []),
    ("port 1234\n", ["--foo", "bar"]),
    ("", ["--port", "6390", "stray"]),
    ("bogus-directive 1\n", []),
    ("loglevel loud\n", []),
    ("protected-mode maybe\n", []),
    ('port "12\n', []),
    ("maxmemory lots\n", []),
    ("save 10\n", []),
    ("databases 0\n", []),
    ("rename-command nosuch foo\n", []),
    ("rename-command get set\n", []),
    ('rename-command get ""\nrename-command get x\n', []),
    ("rename-command get\n", []),
])
def test_fatal_config_errors_match_redis(tmp_path, conf, flags):
    require_tool("redis-server")
    path = tmp_path / "bad.conf"
    path.write_text(conf)
    ours = run_holdfast([str(path)] + flags, tmp_path)
    theirs = run_redis([str(path)] + flags, tmp_path)
    assert theirs.returncode == 1
    assert ours.returncode == 1, ours.stdout + ours.stderr
    assert fatal_block(ours.stderr) == fatal_block(theirs.stderr)


@pytest.mark.parametrize("args", [
    ["--hz", "abc"], ["--port"], ["--port", "--hz", "5"], ["--loglevel"], ["--hz", "5", "--hz", "abc"],
    ["--save", "10"], ["--hz", "5", "stray"], ["--save", "--hz", "abc"], ["--hz", "abc", "--save"],
    ["--dbfilename", "a/b"], ["--appendfilename", "x/y"], ["--hz", "x"],
    ["--port 6380 junk"],
])
def test_fatal_error_from_flags_only(tmp_path, args):
    """Command-line words become config lines exactly as redis-server's
    main() builds them (a bare `--name` takes the next word, even `--x`)."""
    require_tool("redis-server")
    ours = run_holdfast(args, tmp_path)
    theirs = run_redis(args, tmp_path)
    assert ours.returncode == theirs.returncode == 1
    assert fatal_block(ours.stderr) == fatal_block(theirs.stderr)


def test_include_missing_file(tmp_path):
    require_tool("redis-server")
    conf = tmp_path / "main.conf"
    conf.write_text("include %s\n" % (tmp_path / "missing.conf"))
    ours, theirs = run_holdfast([str(conf)], tmp_path), run_redis([str(conf)], tmp_path)
    assert ours.returncode == theirs.returncode == 1
    want = "Fatal error, can't open config file '%s': No such file or directory" % (tmp_path / "missing.conf")
    assert want in theirs.stdout and want in ours.stdout
    assert "FATAL CONFIG FILE ERROR" not in ours.stderr


def test_include_and_glob(tmp_path):
    (tmp_path / "a.conf").write_text("hz 11\n")
    (tmp_path / "b.conf").write_text("loglevel warning\n")
    port = free_port()
    conf = tmp_path / "main.conf"
    conf.write_text("include %s\nport %d\nsave \"\"\n" % (tmp_path / "?.conf", port))
    proc = subprocess.Popen([sys.executable, "-m", "engine", str(conf)], cwd=str(tmp_path), env=_env(),
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        r = _wait_client(port, proc)
        assert r.config_get("hz", "loglevel") == {"hz": "11", "loglevel": "warning"}
        r.config_set("hz", "12")
        r.config_rewrite()  # the main file is rewritten, never an included one
        r.close()
        assert (tmp_path / "a.conf").read_text() == "hz 11\n"
        assert "hz 12" in conf.read_text()
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.communicate(timeout=15)


def test_config_from_stdin(tmp_path):
    port = free_port()
    proc = subprocess.Popen([sys.executable, "-m", "engine", "-", "--save", ""], cwd=str(tmp_path), env=_env(),
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    proc.stdin.write(b"port %d\nhz 7\n" % port)
    proc.stdin.close()
    try:
        r = _wait_client(port, proc)
        assert r.config_get("hz") == {"hz": "7"}
        r.close()
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.stdout.read()
        proc.wait(15)
    assert proc.returncode == 0


def test_missing_config_file(tmp_path):
    missing = str(tmp_path / "nope.conf")
    res = run_holdfast([missing], tmp_path)
    assert res.returncode == 1
    assert "Fatal error, can't open config file '%s': No such file or directory" % missing in res.stdout


# ---- timeout, maxclients, requirepass --------------------------------------------------

def test_timeout_closes_idle_clients(holdfast_factory):
    srv = holdfast_factory("--timeout", "1", "--hz", "100")
    idle = socket.create_connection(("127.0.0.1", srv.port))
    idle.settimeout(10)
    busy = srv.client()
    t0 = time.time()
    # the idle one is closed between 1 and a few seconds; the busy one stays
    while time.time() - t0 < 4:
        busy.ping()
        idle.setblocking(False)
        try:
            data = idle.recv(10)
        except BlockingIOError:
            data = None
        if data == b"":
            break
        time.sleep(0.1)
    elapsed = time.time() - t0
    assert data == b"", "idle client not closed"
    assert elapsed >= 0.9
    assert busy.ping()
    assert busy.config_get("timeout") == {"timeout": "1"}
    idle.close()


def test_timeout_zero_keeps_idle_clients(holdfast_factory):
    srv = holdfast_factory("--hz", "100")
    s = socket.create_connection(("127.0.0.1", srv.port))
    time.sleep(1.2)
    s.sendall(b"PING\r\n")
    s.settimeout(5)
    assert s.recv(10) == b"+PONG\r\n"
    s.close()


def test_maxclients_refusal(holdfast_factory):
    srv = holdfast_factory("--maxclients", "2")
    a, b = srv.client(), srv.client()
    # The start-up probe's connection may still be counted for a moment
    # (with io-threads its close reaches the main process later): wait it out.
    deadline = time.time() + 5
    while a.info("clients")["connected_clients"] != 1:
        assert time.time() < deadline, "the start-up probe is still counted"
        time.sleep(0.02)
    assert b.ping()
    rejected = a.info("stats")["rejected_connections"]
    s = socket.create_connection(("127.0.0.1", srv.port))
    s.settimeout(5)
    data = b""
    while True:
        chunk = s.recv(100)
        if not chunk:
            break
        data += chunk
    assert data == b"-ERR max number of clients reached\r\n"
    s.close()
    assert a.info("stats")["rejected_connections"] == rejected + 1
    assert a.info("clients")["connected_clients"] == 2
    a.close()
    time.sleep(0.1)
    c = srv.client()
    assert c.ping()
    # CONFIG SET maxclients takes effect at runtime
    c.config_set("maxclients", "10")
    assert c.config_get("maxclients") == {"maxclients": "10"}


def test_requirepass(holdfast_factory, redis_factory):
    srv = holdfast_factory("--requirepass", "s3cret")
    theirs_srv = redis_factory("--requirepass", "s3cret")
    # redis-py opens with HELLO 3: refused the same way by both
    hello = [_raw(s.port, b"HELLO 3\r\n", 1) for s in (srv, theirs_srv)]
    assert hello[0] == hello[1]
    assert hello[0].startswith(b"-NOAUTH HELLO must be called with the client already authenticated")
    raw_ours, raw_theirs = _raw(srv.port, b"GET a\r\nAUTH wrong\r\nAUTH default wrong\r\nPING\r\n", 4), \
        _raw(theirs_srv.port, b"GET a\r\nAUTH wrong\r\nAUTH default wrong\r\nPING\r\n", 4)
    assert raw_ours == raw_theirs
    assert raw_ours.startswith(b"-NOAUTH Authentication required.\r\n-WRONGPASS invalid username-password pair")
    r = srv.client(password="s3cret")
    assert r.set("a", "1")
    assert r.config_get("requirepass") == {"requirepass": "s3cret"}
    ok = _raw(srv.port, b"AUTH s3cret\r\nGET a\r\n", 2)
    assert ok == b"+OK\r\n$1\r\n1\r\n"


def test_auth_without_password_configured(hf, rr):
    ports = [r.connection_pool.connection_kwargs["port"] for r in (hf, rr)]
    ours, theirs = [_raw(p, b"AUTH x\r\nAUTH default x\r\nAUTH someone x\r\nAUTH default \"\"\r\n", 4)
                    for p in ports]
    assert ours == theirs
    assert ours.startswith(b"-ERR AUTH <password> called without any password configured")


def _raw(port, payload, nreplies):
    s = socket.create_connection(("127.0.0.1", port))
    s.settimeout(5)
    s.sendall(payload)
    data = b""
    while data.count(b"\r\n") < nreplies:
        chunk = s.recv(4096)
        if not chunk:
            break
        data += chunk
    s.close()
    return data


def test_info_config_file_and_executable(holdfast_factory):
    srv = holdfast_factory(config_text="hz 12\n")
    info = srv.client().info("server")
    assert info["config_file"] == os.path.abspath(srv.conf_path)
    assert info["hz"] == info["configured_hz"] == 12
    assert holdfast_factory().client().info("server")["config_file"] == ""


def test_rename_command(holdfast_factory, redis_factory):
    conf = 'rename-command get ""\nrename-command set store\nrename-command store put\nrename-command CONFIG cfg\n'
    replies = []
    for make in (holdfast_factory, redis_factory):
        srv = make(config_text=conf)
        payload = b"GET a\r\nSET a 1\r\nSTORE a 1\r\nPUT a 1\r\nCFG GET hz\r\nCONFIG GET hz\r\n"
        replies.append(_raw(srv.port, payload, 9))
    assert replies[0] == replies[1]
    assert b"+OK\r\n" in replies[0]
