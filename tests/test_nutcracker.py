"""Several Holdfast primaries behind Debian's nutcracker (twemproxy), the
proxy Redis deployments use to shard by consistent hashing (issue 10; the
README's "More than one primary"): keys written through the proxy spread
over the primaries, each key lives on exactly one of them, and reads,
multi-key reads and deletes through the proxy see what was written."""

import inspect
import socket
import subprocess
import time

import pytest
import redis
from conftest import require_tool
from servers import free_port, tool_path

CONFIG = """holdfast:
  listen: 127.0.0.1:{port}
  hash: fnv1a_64
  distribution: ketama
  redis: true
  auto_eject_hosts: false
  timeout: 2000
  servers:
{servers}
"""


@pytest.fixture
def proxy(tmp_path, holdfast_factory):
    require_tool("nutcracker")
    primaries = [holdfast_factory() for _ in range(2)]
    port, stats_port = free_port(), free_port()
    conf = tmp_path / "nutcracker.yml"
    conf.write_text(CONFIG.format(port=port, servers="\n".join(
        "   - 127.0.0.1:%d:1 shard%d" % (p.port, i) for i, p in enumerate(primaries))))
    log = tmp_path / "nutcracker.log"
    proc = subprocess.Popen([tool_path("nutcracker"), "-c", str(conf), "-s", str(stats_port), "-a", "127.0.0.1",
                             "-o", str(log)], stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 10
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            break
        except OSError:
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("nutcracker did not start: %s" % log.read_text()) from None
            time.sleep(0.05)
    # twemproxy speaks RESP2 and knows neither HELLO nor CLIENT SETINFO: redis-py must send neither
    # (redis-py 8 takes driver_info=None for that, older ones lib_name/lib_version=None).
    quiet = {"driver_info": None} if "driver_info" in inspect.signature(redis.Redis).parameters else \
        {"lib_name": None, "lib_version": None}
    yield redis.Redis(host="127.0.0.1", port=port, socket_timeout=10, protocol=2, **quiet), primaries
    proc.terminate()
    proc.wait(10)


def test_keys_spread_over_primaries_behind_nutcracker(proxy):
    r, primaries = proxy
    keys = ["user:%d" % i for i in range(1000)]
    pipe = r.pipeline(transaction=False)
    for k in keys:
        pipe.set(k, k.upper())
    assert all(pipe.execute())
    sizes = [p.client().dbsize() for p in primaries]
    assert sum(sizes) == len(keys)
    assert min(sizes) > len(keys) // 4, sizes  # ketama spreads them (about half each)
    for k in keys[:100]:  # each key lives on exactly one primary
        assert sum(p.client().exists(k) for p in primaries) == 1
    assert r.get("user:7") == b"USER:7"
    assert r.mget(keys[:200]) == [k.upper().encode() for k in keys[:200]]  # split over shards by the proxy
    assert r.incr("counter") == 1 and r.incr("counter") == 2
    assert r.delete(*keys[:10]) == 10  # split per shard, the counts added up
    assert [r.exists(k) for k in keys[:20]] == [0] * 10 + [1] * 10
