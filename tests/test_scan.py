"""SCAN: cursor parsing, the snapshot machinery (unit), and the guarantee
over real sockets -- every key present for the whole iteration is returned
at least once while other keys come and go, and a full iteration ends."""

import random
import time

import pytest
import redis

from engine import scan as scanmod
from engine.scan import Scanner, parse_cursor


def err(fn, *args):
    with pytest.raises(redis.ResponseError) as e:
        fn(*args)
    return str(e.value)


# ---- unit: cursors and snapshots ------------------------------------------------------


def test_parse_cursor():
    assert parse_cursor(b"0") == 0
    assert parse_cursor(b"") == 0  # strtoul of "" is 0, as Redis takes it
    assert parse_cursor(b"+5") == 5
    assert parse_cursor(b"-1") == 2**64 - 1
    assert parse_cursor(b"18446744073709551615") == 2**64 - 1
    for bad in (b"18446744073709551616", b" 1", b"1 ", b"x", b"0x1", b"+", b"-", b"1.0"):
        assert parse_cursor(bad) is None, bad


def _iterate(scanner, d, count, between=None, owner=(0, None)):
    """A full iteration over dict `d`; `between(step)` may mutate d between calls."""
    seen = []
    cursor, step = 0, 0
    while True:
        cursor, items = scanner.scan(owner, d, cursor, count, lambda k: k if k in d else None)
        seen += items
        if cursor == 0:
            return seen
        assert 0 < cursor < 2**63
        step += 1
        assert step < 100000, "did not terminate"
        if between:
            between(step)


def test_snapshot_guarantee_under_churn():
    rng = random.Random(3)
    d = {b"stable:%d" % i: 1 for i in range(1000)}
    volatile = [b"vol:%d" % i for i in range(500)]
    for k in volatile:
        d[k] = 1
    n = [0]

    def churn(_step):
        for _ in range(20):
            k = rng.choice(volatile)
            if k in d:
                del d[k]
            else:
                d[k] = 1
        for _ in range(5):
            n[0] += 1
            d[b"new:%d" % n[0]] = 1

    sc = Scanner()
    seen = set(_iterate(sc, d, 7, churn))
    assert {b"stable:%d" % i for i in range(1000)} <= seen
    assert len(sc) == 0  # the finished iteration dropped its snapshot


def test_small_collection_needs_no_snapshot():
    sc = Scanner()
    d = {b"a": 1, b"b": 2}
    assert sc.scan((0, None), d, 0, 10, lambda k: k) == (0, [b"a", b"b"])
    assert len(sc) == 0


def test_lru_eviction_restarts_without_skipping(monkeypatch):
    monkeypatch.setattr(scanmod, "MAX_PER_DB", 2)
    sc = Scanner()
    d = {b"k%d" % i: 1 for i in range(50)}
    visit = lambda k: k  # noqa: E731
    c1, first = sc.scan((0, None), d, 0, 10, visit)
    sc.scan((0, None), d, 0, 10, visit)
    sc.scan((0, None), d, 0, 10, visit)  # evicts c1's snapshot
    assert len(sc) == 2
    seen = list(first)
    cursor = c1
    while True:
        cursor, items = sc.scan((0, None), d, cursor, 10, visit)
        seen += items
        if cursor == 0:
            break
    assert set(seen) == set(d)  # restarted: duplicates, nothing missing
    assert len(seen) > len(d)


def test_pointer_budget_and_drop_db(monkeypatch):
    monkeypatch.setattr(scanmod, "MAX_POINTERS", 120)
    sc = Scanner()
    d = {b"k%d" % i: 1 for i in range(50)}
    for _ in range(4):
        sc.scan((0, None), d, 0, 5, lambda k: k)
    assert sc.pointers <= 120 and len(sc) == 2
    sc.scan((1, None), d, 0, 5, lambda k: k)
    sc.drop_db(0)
    assert len(sc) == 1 and sc.pointers == 50


def test_foreign_cursor_restarts():
    sc = Scanner()
    d = {b"k%d" % i: 1 for i in range(30)}
    cur, _ = sc.scan((0, None), d, 0, 5, lambda k: k)
    # The same cursor number used for another collection is not trusted.
    assert set(_iterate(sc, d, 5, owner=(0, b"hash"))) == set(d)
    _, items = sc.scan((0, b"other"), d, cur, 100, lambda k: k)
    assert set(items) == set(d)
    _, items = sc.scan((0, None), d, 12345 << 32, 100, lambda k: k)  # unknown id
    assert set(items) == set(d)


# ---- over sockets -------------------------------------------------------------------


def _full_scan(r, between=None, **opts):
    seen, cursor, steps = [], 0, 0
    while True:
        cursor, keys = r.scan(cursor, **opts)
        seen += keys
        if cursor == 0:
            return seen
        steps += 1
        assert steps < 10000, "SCAN did not terminate"
        if between:
            between(r)


def test_scan_sees_stable_keys_despite_adds_and_deletes(hf):
    stable = {b"stable:%d" % i for i in range(2000)}
    hf.mset({k: 1 for k in stable})
    hf.mset({b"vol:%d" % i: 1 for i in range(1000)})
    rng = random.Random(5)
    added = [0]

    def churn(r):
        p = r.pipeline(transaction=False)
        for _ in range(30):
            p.delete(b"vol:%d" % rng.randrange(1000))
            p.set(b"vol:%d" % rng.randrange(1000), 1)
            added[0] += 1
            p.set(b"new:%d" % added[0], 1)
        p.execute()

    seen = set(_full_scan(hf, count=50, between=churn))
    assert stable <= seen


def test_scan_options(hf):
    hf.mset({"user:%d" % i: i for i in range(100)})
    hf.mset({"other:%d" % i: i for i in range(30)})
    assert set(_full_scan(hf, match="user:1*", count=7)) == {b"user:1"} | {b"user:1%d" % i for i in range(10)}
    assert len(set(_full_scan(hf, count=1000))) == 130
    assert len(set(_full_scan(hf, _type="string"))) == 130
    assert len(set(_full_scan(hf, _type="STRING"))) == 130
    assert _full_scan(hf, _type="list") == []
    cursor, keys = hf.scan(0, count=10)
    assert cursor != 0 and len(keys) <= 10


def test_scan_skips_expired_and_deleted(hf):
    hf.mset({"k%d" % i: i for i in range(100)})
    for i in range(0, 100, 2):
        hf.pexpire("k%d" % i, 1)
    time.sleep(0.01)
    seen = set(_full_scan(hf, count=10))
    assert seen == {b"k%d" % i for i in range(1, 100, 2)}


@pytest.mark.parametrize("cursor", ["x", " 0", "0x1", "18446744073709551616", "1.5"])
def test_scan_invalid_cursor(hf, cursor):
    assert err(hf.execute_command, "SCAN", cursor) == "invalid cursor"


def test_scan_option_errors(hf):
    assert err(hf.execute_command, "SCAN", "0", "COUNT", "0") == "syntax error"
    assert err(hf.execute_command, "SCAN", "0", "COUNT", "x") == "value is not an integer or out of range"
    assert err(hf.execute_command, "SCAN", "0", "MATCH") == "syntax error"
    assert err(hf.execute_command, "SCAN", "0", "BOGUS", "1") == "syntax error"


def test_unknown_cursor_restarts(hf):
    hf.mset({"k%d" % i: i for i in range(40)})
    seen, cursor = [], 99999 << 32 | 5
    while True:
        cursor, keys = hf.scan(cursor, count=10)
        seen += keys
        if cursor == 0:
            break
    assert set(seen) == {b"k%d" % i for i in range(40)}


def test_flush_drops_snapshots(hf):
    hf.mset({"k%d" % i: i for i in range(40)})
    cursor, _ = hf.scan(0, count=5)
    hf.flushdb()
    hf.set("fresh", 1)
    seen = []
    while True:
        cursor, keys = hf.scan(cursor, count=5)
        seen += keys
        if cursor == 0:
            break
    assert set(seen) <= {b"fresh"}
