"""Keyspace commands over real sockets: DEL/UNLINK/EXISTS/TYPE/TOUCH,
RENAME, MOVE, COPY, SWAPDB, the flushes, KEYS, RANDOMKEY, DBSIZE, OBJECT."""

import time

import pytest
import redis

from engine.keyspace import VALUE_TYPES, register_type, type_name


def err(fn, *args):
    with pytest.raises(redis.ResponseError) as e:
        fn(*args)
    return str(e.value)


def test_del_unlink_exists_type(hf):
    hf.mset({"a": "1", "b": "2", "c": "3"})
    assert hf.exists("a", "a", "nokey", "b") == 3
    assert hf.delete("a", "nokey", "a") == 1
    assert hf.unlink("b", "c") == 2
    assert hf.dbsize() == 0
    assert hf.delete("nokey") == 0
    assert hf.type("nokey") == b"none"
    hf.set("s", "v")
    assert hf.type("s") == b"string"
    assert hf.touch("s", "nokey", "s") == 2


def test_type_table():
    assert type_name(b"x") == b"string"
    assert type_name(None) == b"none"

    class Fake:
        pass

    register_type(Fake, b"fake", lambda v: b"fakeenc", lambda v: Fake())
    try:
        assert type_name(Fake()) == b"fake"
    finally:
        del VALUE_TYPES[Fake]


def test_rename(hf):
    hf.set("a", "1", ex=100)
    assert hf.rename("a", "b") is True
    assert hf.get("b") == b"1"
    assert hf.exists("a") == 0
    assert 99 <= hf.ttl("b") <= 100  # the TTL moves with the key
    hf.set("c", "x", ex=500)
    assert hf.rename("b", "c") is True
    assert hf.get("c") == b"1"
    assert 99 <= hf.ttl("c") <= 100  # destination's TTL replaced
    assert err(hf.rename, "nokey", "x") == "no such key"
    assert err(hf.rename, "nokey", "nokey") == "no such key"
    assert hf.rename("c", "c") is True
    assert hf.renamenx("c", "c") is False
    hf.set("d", "2")
    assert hf.renamenx("c", "d") is False
    assert hf.renamenx("c", "e") is True
    assert hf.mget("c", "d", "e") == [None, b"2", b"1"]


def test_move(hf):
    hf.set("k", "v", ex=100)
    assert hf.move("k", 1) is True
    assert hf.exists("k") == 0
    assert hf.move("k", 1) is False
    hf.set("k", "other")
    assert hf.move("k", 1) is False  # exists in the target
    assert err(hf.move, "k", 0) == "source and destination objects are the same"
    assert err(hf.move, "k", 16) == "DB index is out of range"
    assert err(hf.move, "k", "x") == "value is not an integer or out of range"
    hf.execute_command("SELECT", 1)
    assert hf.get("k") == b"v"
    assert 99 <= hf.ttl("k") <= 100


def test_copy(hf):
    hf.set("src", "v", ex=100)
    assert hf.copy("src", "dst") is True
    assert hf.get("dst") == b"v"
    assert 99 <= hf.ttl("dst") <= 100
    assert hf.copy("src", "dst") is False
    hf.set("src", "w")
    assert hf.copy("src", "dst", replace=True) is True
    assert hf.get("dst") == b"w"
    assert hf.ttl("dst") == -1
    assert hf.copy("src", "dst", destination_db=3) is True
    assert hf.copy("nokey", "x") is False
    assert err(hf.copy, "src", "src") == "source and destination objects are the same"
    assert err(hf.execute_command, "COPY", "src", "x", "DB", "16") == "DB index is out of range"
    assert err(hf.execute_command, "COPY", "src", "x", "BOGUS") == "syntax error"
    hf.execute_command("SELECT", 3)
    assert hf.get("dst") == b"w"


def test_swapdb(hf_server, hf):
    other = hf_server.client()
    other.execute_command("SELECT", 1)
    hf.set("in0", "a", ex=100)
    other.set("in1", "b")
    assert hf.swapdb(0, 1) is True
    assert hf.get("in1") == b"b"  # this client still talks to db 0, which now holds db 1's data
    assert other.get("in0") == b"a"
    assert 99 <= other.ttl("in0") <= 100
    assert hf.swapdb(1, 1) is True
    assert err(hf.swapdb, 0, 16) == "DB index is out of range"
    assert err(hf.execute_command, "SWAPDB", "x", 1) == "invalid first DB index"
    assert err(hf.execute_command, "SWAPDB", 1, "x") == "invalid second DB index"
    other.close()


def test_flushdb_flushall(hf):
    hf.set("a", "1")
    hf.execute_command("SELECT", 1)
    hf.set("b", "1")
    assert hf.flushdb() is True
    assert hf.dbsize() == 0
    hf.execute_command("SELECT", 0)
    assert hf.dbsize() == 1
    assert hf.execute_command("FLUSHDB", "ASYNC") is True
    hf.set("a", "1")
    assert hf.execute_command("FLUSHALL", "SYNC") is True
    assert hf.dbsize() == 0
    assert err(hf.execute_command, "FLUSHALL", "NOW") == "syntax error"
    assert err(hf.execute_command, "FLUSHDB", "ASYNC", "SYNC") == "syntax error"


def test_keys_and_randomkey(hf):
    assert hf.randomkey() is None
    assert hf.keys("*") == []
    hf.mset({"one": 1, "two": 2, "three": 3, "t[x]": 4})
    assert sorted(hf.keys("*")) == [b"one", b"t[x]", b"three", b"two"]
    assert sorted(hf.keys("t*")) == [b"t[x]", b"three", b"two"]
    assert hf.keys("?ne") == [b"one"]
    assert hf.keys(r"t\[x\]") == [b"t[x]"]
    assert sorted(hf.keys("t[wh]*")) == [b"three", b"two"]
    assert hf.randomkey() in {b"one", b"two", b"three", b"t[x]"}
    hf.set("exp", "v", px=1)
    time.sleep(0.01)
    assert b"exp" not in hf.keys("*")  # expired keys are hidden


def test_randomkey_skips_expired(hf):
    hf.set("exp", "v", px=1)
    time.sleep(0.01)
    assert hf.randomkey() is None
    assert hf.dbsize() == 0  # RANDOMKEY found it expired and deleted it


def test_object_encoding_refcount(hf):
    hf.mset({"i": "123", "e": "hello", "r": "x" * 45, "lz": "01"})
    enc = lambda k: hf.object("encoding", k)  # noqa: E731
    assert enc("i") == b"int"
    assert enc("e") == b"embstr"
    assert enc("r") == b"raw"
    assert enc("lz") == b"embstr"
    assert enc("nokey") is None
    hf.append("e", "!")
    assert enc("e") == b"raw"  # APPEND leaves it raw, as Redis
    hf.set("e", "hello")
    assert enc("e") == b"embstr"  # a new SET re-encodes
    hf.setrange("sr", 0, "12")
    assert enc("sr") == b"raw"
    hf.incrbyfloat("f", 3)
    assert enc("f") == b"embstr"
    assert hf.object("refcount", "i") == 2147483647  # shared small integer
    assert hf.object("refcount", "e") == 1
    hf.copy("i", "icopy")
    assert enc("icopy") == b"int"
    assert hf.object("refcount", "icopy") == 1  # a copy is not shared
    hf.rename("e", "e2")
    assert enc("e2") == b"embstr"


def test_object_errors_and_help(hf):
    hf.set("k", "v")
    assert err(hf.execute_command, "OBJECT", "FREQ", "k").startswith(
        "An LFU maxmemory policy is not selected, access frequency not tracked.")
    assert err(hf.execute_command, "OBJECT", "FOO", "k") == "unknown subcommand 'FOO'. Try OBJECT HELP."
    assert err(hf.execute_command, "OBJECT", "ENCODING") == \
        "wrong number of arguments for 'object|encoding' command"
    helptext = hf.execute_command("OBJECT", "HELP")
    assert helptext[0].startswith(b"OBJECT <subcommand>")
    assert len(helptext) == 15


def test_object_idletime(hf):
    hf.set("k", "v")
    hf.set("other", "v")
    assert hf.object("idletime", "k") <= 1
    time.sleep(2.1)
    assert hf.object("idletime", "k") >= 1  # OBJECT itself does not count as an access
    assert hf.type("k") == b"string" and hf.exists("k")  # neither do TYPE and EXISTS
    assert hf.object("idletime", "k") >= 1
    hf.get("k")
    assert hf.object("idletime", "k") <= 1
    hf.rename("other", "renamed")
    assert hf.object("idletime", "renamed") <= 1  # RENAME looks the key up: an access, as in Redis


def test_object_freq_under_lfu(holdfast_factory):
    r = holdfast_factory("--maxmemory-policy", "allkeys-lfu", "--maxmemory", "100mb").client()
    r.set("one", "1")
    assert r.object("refcount", "one") == 1  # no shared integers under an LRU/LFU maxmemory policy
    r.set("k", "hello")
    assert r.object("freq", "k") == 5  # LFU_INIT_VAL
    r.get("k")
    assert r.object("freq", "k") == 6  # below the init value every access counts
    for _ in range(200):
        r.get("k")
    assert 6 <= r.object("freq", "k") < 255
    assert err(r.execute_command, "OBJECT", "IDLETIME", "k").startswith(
        "An LFU maxmemory policy is selected, idle time not tracked.")
    assert r.object("freq", "nokey") is None


def test_resp2_and_resp3_shapes(hf_server):
    for proto in (2, 3):
        r = hf_server.client(protocol=proto)
        r.response_callbacks.clear()
        r.flushall()
        assert r.execute_command("RANDOMKEY") is None
        assert r.execute_command("OBJECT", "ENCODING", "nokey") is None
        assert r.execute_command("TYPE", "nokey") == b"none"
        r.close()
