"""INFO: sections, field names (compared with Debian's redis-server 7.0),
counters, commandstats/errorstats/keyspace formats, CONFIG RESETSTAT."""

import re
import time

import pytest
import redis
from rawresp import RawConn

# Holdfast's own additions to INFO (documented extensions).
HOLDFAST_EXTRA = {"holdfast_version",
                  # ACL denial counters: Redis 7.2's fields (7.0 has none), at the end of Stats as 7.2 has them
                  "acl_access_denied_auth", "acl_access_denied_cmd", "acl_access_denied_key",
                  "acl_access_denied_channel"}
# Redis fields whose per-command lines Holdfast does not produce yet.
LATENCY_PREFIX = "latency_percentiles_usec_"


def info_text(port, *args):
    """INFO over RESP2 as the raw text Redis sends (bulk string body)."""
    conn = RawConn(port)
    try:
        reply = conn("INFO", *args)
    finally:
        conn.close()
    assert reply.startswith(b"$"), reply[:100]
    head, _, body = reply.partition(b"\r\n")
    body = body[:-2]
    assert len(body) == int(head[1:])
    return body.decode()


def parse(text):
    """[(section title, [(field, value)])] keeping order."""
    out = []
    for line in text.split("\r\n"):
        if line.startswith("# "):
            out.append((line[2:], []))
        elif line:
            name, _, value = line.partition(":")
            out[-1][1].append((name, value))
    return out


def titles(text):
    return [t for t, _ in parse(text)]


def fields(text):
    return {name: value for _, fl in parse(text) for name, value in fl}


@pytest.fixture
def ports(hf, rr):
    return hf.connection_pool.connection_kwargs["port"], rr.connection_pool.connection_kwargs["port"]


def test_text_shape(hf, ports):
    text = info_text(ports[0])
    assert text.startswith("# Server\r\n")
    assert text.endswith("\r\n") and not text.endswith("\r\n\r\n")
    for block in text.split("\r\n\r\n"):
        lines = block.rstrip("\r\n").split("\r\n")
        assert lines[0].startswith("# ")
        for line in lines[1:]:
            assert re.match(r"^[A-Za-z_0-9|:-]+:", line), line


@pytest.mark.parametrize("args", [(), ("default",), ("all",), ("everything",), ("server",), ("SERVER",),
                                  ("server", "keyspace"), ("clients", "memory", "cpu"),
                                  ("commandstats",), ("errorstats",), ("bogus",), ("default", "commandstats"),
                                  ("modules",), ("latencystats",), ("stats", "stats")])
def test_sections_selected_like_redis(hf, rr, ports, args):
    hf.set("k", "v")
    rr.set("k", "v")
    ours, theirs = info_text(ports[0], *args), info_text(ports[1], *args)
    assert titles(ours) == titles(theirs)


def _field_names(text):
    return [(t, [n for n, _ in fl]) for t, fl in parse(text)]


def test_field_names_match_redis(hf, rr, ports):
    for r in (hf, rr):
        r.set("x", "1")
        r.expire("x", 100)
        r.get("x")
        r.get("missing")
        r.config_resetstat()
    ours = dict(_field_names(info_text(ports[0], "everything")))
    theirs = dict(_field_names(info_text(ports[1], "everything")))
    for section in ("Server", "Clients", "Memory", "Persistence", "Stats", "Replication", "CPU", "Cluster",
                    "Keyspace"):
        ours_fields = [f for f in ours[section] if f not in HOLDFAST_EXTRA]
        assert ours_fields == theirs[section], section  # same names, same order


def test_values_that_must_agree(hf, rr, ports):
    ours = fields(info_text(ports[0], "everything"))
    theirs = fields(info_text(ports[1], "everything"))
    for name in ("redis_version", "redis_mode", "arch_bits", "multiplexing_api", "os", "hz", "configured_hz",
                 "maxclients", "maxmemory", "maxmemory_human", "maxmemory_policy", "role", "connected_slaves",
                 "master_failover_state", "master_replid2", "second_repl_offset", "repl_backlog_size",
                 "cluster_enabled", "aof_enabled", "loading", "rdb_last_bgsave_status", "mem_clients_slaves",
                 "lazyfree_pending_objects", "process_supervised"):
        assert ours[name] == theirs[name], name
    assert ours["tcp_port"] == str(ports[0])
    assert re.fullmatch(r"[0-9a-f]{40}", ours["run_id"])
    assert re.fullmatch(r"[0-9a-f]{40}", ours["master_replid"])
    assert int(ours["process_id"]) > 0
    assert abs(int(ours["server_time_usec"]) / 1e6 - time.time()) < 5
    assert int(ours["connected_clients"]) >= 1
    assert ours["used_memory_human"].endswith(("B", "K", "M", "G"))


def test_counters(hf, ports):
    hf.config_resetstat()
    before = fields(info_text(ports[0], "stats"))
    assert before["keyspace_hits"] == "0" and before["keyspace_misses"] == "0"
    hf.set("a", "1")
    hf.get("a")
    hf.get("a")
    hf.get("nope")
    hf.exists("a")
    after = fields(info_text(ports[0], "stats"))
    assert after["keyspace_hits"] == "3"  # GET, GET and EXISTS (a read lookup in Redis 7.0)
    assert after["keyspace_misses"] == "1"
    # RESETSTAT, the INFO above, SET, GET x3, EXISTS, and this INFO's own
    # call is not counted yet when the report is built
    n1 = int(after["total_commands_processed"])
    info_text(ports[0], "stats")
    n2 = int(fields(info_text(ports[0], "stats"))["total_commands_processed"])
    assert n2 == n1 + 2
    assert int(after["total_connections_received"]) >= 2


def test_counters_match_redis(hf, rr, ports):
    for r in (hf, rr):
        r.config_resetstat()
        r.set("a", "1")
        r.get("a")
        r.get("b")
        r.mget("a", "b", "c")
        r.incr("n")
        r.hset("h", "f", "v")
        r.hget("h", "f")
        r.hget("h", "g")
        r.hget("nokey", "g")
        r.type("a")
        r.exists("a", "zz")
    ours = fields(info_text(ports[0], "stats"))
    theirs = fields(info_text(ports[1], "stats"))
    for name in ("keyspace_hits", "keyspace_misses", "total_commands_processed", "expired_keys",
                 "total_error_replies"):
        assert ours[name] == theirs[name], name


def test_expired_keys(hf, ports):
    hf.config_resetstat()
    hf.set("a", "1", px=1)
    hf.set("b", "1", px=1)
    hf.set("c", "1", ex=100)
    time.sleep(0.01)
    assert hf.get("a") is None  # lazily expired on access
    deadline = time.time() + 5
    while hf.dbsize() > 1 and time.time() < deadline:  # the active cycle takes b
        time.sleep(0.05)
    st = fields(info_text(ports[0], "stats"))
    assert st["expired_keys"] == "2"
    ks = fields(info_text(ports[0], "keyspace"))
    assert re.fullmatch(r"keys=1,expires=1,avg_ttl=\d+", ks["db0"])


def test_commandstats_format(hf, ports):
    hf.config_resetstat()
    hf.set("a", "1")
    hf.get("a")
    hf.get("a")
    with pytest.raises(redis.ResponseError):
        hf.execute_command("INCRBY", "a", "x")  # fails while running: failed_calls
    with pytest.raises(redis.ResponseError):
        hf.execute_command("GET")  # wrong arity, refused before running: rejected_calls
    hf.config_get("hz")
    cs = fields(info_text(ports[0], "commandstats"))
    pat = r"calls=(\d+),usec=(\d+),usec_per_call=(\d+\.\d\d),rejected_calls=(\d+),failed_calls=(\d+)"
    m = re.fullmatch(pat, cs["cmdstat_get"])
    assert m, cs["cmdstat_get"]
    calls, usec, per, rejected, failed = m.groups()
    assert (calls, rejected, failed) == ("2", "1", "0")
    assert abs(float(per) - int(usec) / 2) <= 1.0
    m = re.fullmatch(pat, cs["cmdstat_incrby"])
    assert m and m.group(1) == "1" and m.group(5) == "1", cs["cmdstat_incrby"]
    assert re.fullmatch(pat, cs["cmdstat_set"]).group(1) == "1"
    assert re.fullmatch(pat, cs["cmdstat_config|get"]).group(1) == "1"
    assert re.fullmatch(pat, cs["cmdstat_config|resetstat"]).group(1) == "1"
    assert "cmdstat_ping" not in cs


def test_commandstats_match_redis(hf, rr, ports):
    for r in (hf, rr):
        r.config_resetstat()
        r.set("a", "1")
        r.get("a")
        r.lpush("l", "x")
        for args in (("GET",), ("INCR", "l"), ("LPUSH", "a", "x"), ("CONFIG", "GET")):
            with pytest.raises(redis.ResponseError):
                r.execute_command(*args)
    strip = re.compile(r",usec=\d+,usec_per_call=[\d.]+")
    ours = {k: strip.sub("", v) for k, v in fields(info_text(ports[0], "commandstats")).items()}
    theirs = {k: strip.sub("", v) for k, v in fields(info_text(ports[1], "commandstats")).items()}
    ours.pop("cmdstat_client|setinfo", None)  # redis-py's hello; Redis 7.0 lacks it
    assert ours == theirs


def test_errorstats(hf, rr, ports):
    for r in (hf, rr):
        r.config_resetstat()
        r.set("s", "x")
        for args in (("GET",), ("INCR", "s"), ("LPUSH", "s", "x"), ("LPUSH", "s", "y"), ("NOSUCHCMD",)):
            with pytest.raises(redis.ResponseError):
                r.execute_command(*args)
    ours = info_text(ports[0], "errorstats")
    theirs = info_text(ports[1], "errorstats")
    assert fields(ours) == fields(theirs) == {"errorstat_ERR": "count=3", "errorstat_WRONGTYPE": "count=2"}
    assert fields(info_text(ports[0], "stats"))["total_error_replies"] == "5"


def test_keyspace(hf, rr, ports):
    for r in (hf, rr):
        r.set("a", "1")
        r.set("b", "1", ex=1000)
        r.execute_command("SELECT", 3)
        r.set("c", "1")
        r.execute_command("SELECT", 0)
    ours = fields(info_text(ports[0], "keyspace"))
    theirs = fields(info_text(ports[1], "keyspace"))
    assert set(ours) == set(theirs) == {"db0", "db3"}
    assert ours["db3"] == theirs["db3"] == "keys=1,expires=0,avg_ttl=0"
    # avg_ttl is an estimate the expiry cycle refreshes (0 until it has run)
    deadline = time.time() + 5
    while True:
        m = re.fullmatch(r"keys=2,expires=1,avg_ttl=(\d+)", ours["db0"])
        assert m, ours["db0"]
        if int(m.group(1)) or time.time() > deadline:
            break
        time.sleep(0.05)
        ours = fields(info_text(ports[0], "keyspace"))
    assert 900_000 < int(m.group(1)) <= 1_000_000
    hf.flushall()
    assert fields(info_text(ports[0], "keyspace")) == {}


def test_config_resetstat_clears(hf, ports):
    hf.set("a", "1", px=1)
    time.sleep(0.005)
    hf.get("a")
    hf.get("b")
    with pytest.raises(redis.ResponseError):
        hf.execute_command("NOSUCHCMD")
    assert hf.config_resetstat()
    st = fields(info_text(ports[0], "stats"))
    for name in ("keyspace_hits", "keyspace_misses", "expired_keys", "total_error_replies", "rejected_connections"):
        assert st[name] == "0", name
    assert st["total_connections_received"] == "1"  # info_text's own connection
    assert st["total_commands_processed"] == "1"  # the RESETSTAT itself is counted after the reset
    cs = fields(info_text(ports[0], "commandstats"))
    assert set(cs) == {"cmdstat_config|resetstat", "cmdstat_info"}
    assert fields(info_text(ports[0], "errorstats")) == {}


def test_replication_and_misc_sections(hf, ports):
    rep = fields(info_text(ports[0], "replication"))
    assert rep["role"] == "master"
    assert rep["connected_slaves"] == "0"
    cpu = fields(info_text(ports[0], "cpu"))
    for name in ("used_cpu_sys", "used_cpu_user", "used_cpu_sys_children", "used_cpu_user_children"):
        assert re.fullmatch(r"\d+\.\d{6}", cpu[name]), name
    clients = fields(info_text(ports[0], "clients"))
    assert int(clients["connected_clients"]) >= 2  # hf and this raw connection
    assert clients["blocked_clients"] == "0"
    pers = fields(info_text(ports[0], "persistence"))
    assert pers["loading"] == "0" and pers["rdb_bgsave_in_progress"] == "0"


def test_info_parsed_by_redis_py(hf):
    info = hf.info()
    assert info["role"] == "master"
    assert info["redis_version"] == "7.0.15"
    assert hf.info("keyspace") == {}
    hf.set("a", "1")
    assert hf.info("keyspace")["db0"]["keys"] == 1
    assert "cmdstat_set" in hf.info("commandstats")


def test_info_resp3_is_verbatim(hf, ports):
    conn = RawConn(ports[0], proto=3)
    try:
        reply = conn("INFO", "server")
    finally:
        conn.close()
    assert reply.startswith(b"=")
    assert b"\r\ntxt:# Server\r\n" in reply


def test_pubsub_counts(hf, hf_server, ports):
    sub = hf_server.client().pubsub()
    sub.subscribe("c1", "c2")
    sub.psubscribe("p*")
    for _ in range(3):
        sub.get_message(timeout=1)
    st = fields(info_text(ports[0], "stats"))
    assert (st["pubsub_channels"], st["pubsub_patterns"]) == ("2", "1")
    sub.close()
    deadline = time.time() + 5
    while fields(info_text(ports[0], "stats"))["pubsub_channels"] != "0":
        assert time.time() < deadline
        time.sleep(0.02)


def test_traffic_counters(hf, ports):
    before = fields(info_text(ports[0], "stats"))
    conn = RawConn(ports[0])
    payload = b"*1\r\n$4\r\nPING\r\n" * 2000
    conn.sock.sendall(payload)
    got = b""
    while len(got) < 7 * 2000:
        got += conn.sock.recv(65536)
    assert got == b"+PONG\r\n" * 2000
    after = fields(info_text(ports[0], "stats"))
    assert int(after["total_net_input_bytes"]) - int(before["total_net_input_bytes"]) >= len(payload)
    assert int(after["total_net_output_bytes"]) - int(before["total_net_output_bytes"]) >= len(got)
    assert int(after["total_commands_processed"]) - int(before["total_commands_processed"]) >= 2000
    # the instantaneous rate is sampled by the cron (every 100ms at hz 10)
    deadline = time.time() + 3
    while int(fields(info_text(ports[0], "stats"))["instantaneous_ops_per_sec"]) == 0:
        assert time.time() < deadline
        conn.sock.sendall(payload[:14 * 100])  # 100 whole PINGs
        time.sleep(0.05)
    conn.close()


def test_rejected_subcommands_are_not_processed_commands(hf, rr, ports):
    """An unknown subcommand or a subcommand with the wrong arity is refused
    before it runs: it adds to errors and rejected_calls, not to
    total_commands_processed or calls, as in Redis."""
    stats = []
    for r, port in ((hf, ports[0]), (rr, ports[1])):
        r.config_resetstat()
        conn = RawConn(port)
        replies = [conn("CONFIG", "NOSUCH"), conn("CONFIG", "GET"), conn("OBJECT", "ENCODING"),
                   conn("CONFIG", "GET", "hz")]
        conn.close()
        st = fields(info_text(port, "stats"))
        cs = fields(info_text(port, "commandstats"))
        stats.append((replies, st["total_commands_processed"], st["total_error_replies"],
                      cs.get("cmdstat_config|get"), cs.get("cmdstat_object|encoding")))
    ours, theirs = stats
    assert ours[0] == theirs[0]
    assert ours[1:3] == theirs[1:3] == ("2", "3")  # RESETSTAT and CONFIG GET hz; three errors
    for mine, redis_line in zip(ours[3:], theirs[3:], strict=True):
        pat = r"calls=(\d+),usec=\d+,usec_per_call=[\d.]+,rejected_calls=(\d+),failed_calls=(\d+)"
        assert re.fullmatch(pat, mine).groups() == re.fullmatch(pat, redis_line).groups()


def test_reads_and_writes_processed(hf, ports):
    """Every socket read with data and every reply write counts; a pipeline
    of 100 commands sent in one go is far fewer reads than commands."""
    hf.config_resetstat()
    conn = RawConn(ports[0])
    conn.sock.sendall(b"PING\r\n" * 100)
    got = b""
    while got.count(b"+PONG\r\n") < 100:
        got += conn.sock.recv(65536)
    conn("PING")
    conn.close()
    st = fields(info_text(ports[0], "stats"))
    reads, writes = int(st["total_reads_processed"]), int(st["total_writes_processed"])
    assert 2 <= reads < 50 and 2 <= writes < 50, (reads, writes)


def test_info_in_a_pipeline_sees_the_commands_before_it(hf, rr, ports):
    """SET SET INCR INFO sent in one write: INFO already counts the three
    commands before it (Holdfast credits a run of one command when the next
    command differs), as Redis counts each command when it returns."""
    seen = []
    for r, port in ((hf, ports[0]), (rr, ports[1])):
        r.config_resetstat()
        conn = RawConn(port)
        cmds = [("SET", "a", "1"), ("SET", "b", "2"), ("INCR", "n"), ("INFO", "all")]
        conn.sock.sendall(b"".join(b"*%d\r\n" % len(c) + b"".join(b"$%d\r\n%s\r\n" % (len(a), a.encode())
                                                                  for a in c) for c in cmds))
        buf = b""
        while b"cmdstat_incr" not in buf or not buf.endswith(b"\r\n\r\n"):
            buf += conn.sock.recv(65536)
        conn.close()
        text = buf.decode()
        f = fields(text[text.index("# Server"):].rsplit("\r\n\r\n", 1)[0] + "\r\n")
        seen.append((f["total_commands_processed"], f["cmdstat_set"].split(",")[0],
                     f["cmdstat_incr"].split(",")[0]))
    assert seen[0] == seen[1] == ("4", "calls=2", "calls=1")  # RESETSTAT, SET, SET, INCR
