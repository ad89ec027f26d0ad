"""The command generators of the randomized model test
(test_model_random.py): key, member and value pools shared by every type,
a generator per family, and the hypothesis strategies that draw a step (a
command, or a WATCH/MULTI/EXEC block) and a whole script."""

from hypothesis import strategies as st

# ---- pools ------------------------------------------------------------------------------

KEYS = ["k1", "k2", "k3", "k4", "k5"]
HOT_KEYS = ["k1", "k1", "k1", "k2", "k2", "k3"] + KEYS  # most commands meet on a few keys
BIG = "v" * 70  # longer than hash/zset-max-listpack-value (64): converts
MEMBERS = ["1", "2", "-3", "007", "10", "0", "a", "b", "abc", "", "1.5", "9223372036854775807", "a", "1", "b",
           "2", BIG]
FIELDS = ["f1", "f2", "f3", "f4", "f5", "f6", "1", "a", "", "f1", "f2", BIG]
INTS = ["0", "1", "2", "-1", "-2", "3", "10", "-100", "x", "1.5", "1", "-1"]
INCRS = ["1", "-2", "10", "x", "9223372036854775807", "0", "1.5", "1"]
FLOATS = ["0.1", "-1.5", "1e3", "x", "inf", "3", "1", "5.0e3"]
SCORES = ["1", "2", "-1", "0", "1.5", "-inf", "+inf", "3e2", "0x10", "abc", "nan", "-0", "1", "2", "10", "0.1", "-0.2",
          "1e-5", "123456789012345678", "1e200"]
SCORE_MIN = ["-inf", "0", "(1", "1", "(0", "2.5", "x", "(", "-1", "+inf", "1"]
SCORE_MAX = ["+inf", "2", "(2", "1", "10", "(10", "-inf", "x", "0", "inf"]
LEX = ["-", "+", "[a", "(a", "[1", "(b", "a", "[", "[abc", "[2", "(1"]

# Config profiles: Redis's defaults, and tiny limits so conversions happen.
CONFIGS = {
    "default": {"set-max-intset-entries": "512", "hash-max-listpack-entries": "512",
                "hash-max-listpack-value": "64", "zset-max-listpack-entries": "128",
                "zset-max-listpack-value": "64"},
    "small": {"set-max-intset-entries": "3", "hash-max-listpack-entries": "3",
              "hash-max-listpack-value": "8", "zset-max-listpack-entries": "3",
              "zset-max-listpack-value": "8"},
}

RANDOM_READS = {"SRANDMEMBER", "HRANDFIELD", "ZRANDMEMBER", "RANDOMKEY"}
RANDOM_NAMES = RANDOM_READS | {"SPOP"}


# ---- command generators -----------------------------------------------------------------
# Each takes hypothesis's `draw` and whether it is queued inside MULTI (no
# random picks there: their replies could not be checked) and returns argv.
# The simplest forms come first: hypothesis shrinks toward index 0.

def _pick(d, pool):
    return d(st.sampled_from(pool))


def _some(d, pool, lo=1, hi=3):
    return d(st.lists(st.sampled_from(pool), min_size=lo, max_size=hi))


def _choice(d, n):
    return d(st.integers(0, n - 1))


def _form(d, forms, grow=1):
    """Draw one of `forms` (thunks); only the chosen one draws its arguments.
    Half the time one of the first `grow` forms (the writes that make values
    grow, so they get big enough to convert and to reorder)."""
    if d(st.booleans()):
        return forms[_choice(d, grow)]()
    return forms[_choice(d, len(forms))]()


def gen_string(d, tx):
    k, v = _pick(d, HOT_KEYS), _pick(d, MEMBERS)
    return _form(d, [
        lambda: ["SET", k, v] + _pick(d, [[], ["NX"], ["XX"], ["GET"], ["EX", "100"], ["NX", "GET"],
                                          ["KEEPTTL"]]),
        lambda: ["GET", k], lambda: ["APPEND", k, v], lambda: ["INCR", k],
        lambda: ["INCRBY", k, _pick(d, INCRS)], lambda: ["DECR", k],
        lambda: ["INCRBYFLOAT", k, _pick(d, FLOATS)], lambda: ["STRLEN", k],
        lambda: ["GETRANGE", k, _pick(d, INTS), _pick(d, INTS)],
        lambda: ["SETRANGE", k, _pick(d, ["0", "1", "3", "-1", "x"]), v], lambda: ["GETDEL", k],
        lambda: ["MSET", k, v, _pick(d, HOT_KEYS), _pick(d, MEMBERS)], lambda: ["MGET"] + _some(d, HOT_KEYS),
        lambda: ["SETNX", k, v], lambda: ["GETSET", k, v], lambda: ["LCS", k, _pick(d, HOT_KEYS)],
        lambda: ["DECRBY", k, _pick(d, INCRS)], lambda: ["GETEX", k] + _pick(d, [[], ["PERSIST"], ["EX", "100"]]),
        lambda: ["SETEX", k, _pick(d, ["100", "0", "x"]), v], lambda: ["MSETNX", k, v, _pick(d, HOT_KEYS), v],
        lambda: ["SUBSTR", k, _pick(d, INTS), _pick(d, INTS)], lambda: ["SET", k, v, "XX", "GET"],
    ], grow=3)


def _lpos(d, k, m):
    opts = []
    for name, pool in (("RANK", ["1", "-1", "2", "0", "x"]), ("COUNT", ["0", "1", "2", "-1"]),
                       ("MAXLEN", ["0", "2", "-1"])):
        if d(st.booleans()):
            opts += [name, _pick(d, pool)]
    return ["LPOS", k, m] + opts


def gen_list(d, tx):
    k, m = _pick(d, HOT_KEYS), _pick(d, MEMBERS)
    side = lambda: _pick(d, ["LEFT", "RIGHT"])  # noqa: E731

    def lmpop():
        ks = _some(d, HOT_KEYS, 1, 3)
        return ["LMPOP", str(len(ks))] + ks + [side()] + _pick(d, [[], ["COUNT", "2"], ["COUNT", "0"]])

    def blocking():  # an empty list blocks for 10 ms outside MULTI
        k2 = _pick(d, HOT_KEYS)
        return _pick(d, [["BLPOP", k, k2, "0.01"], ["BRPOP", k, "0.01"],
                         ["BLMOVE", k, k2, "LEFT", "RIGHT", "0.01"], ["BRPOPLPUSH", k, k2, "0.01"],
                         ["BLMPOP", "0.01", "2", k, k2, "LEFT", "COUNT", "2"]])

    return _form(d, [
        lambda: ["RPUSH", k] + _some(d, MEMBERS, 1, 6), lambda: ["LPUSH", k] + _some(d, MEMBERS, 1, 4),
        lambda: ["LRANGE", k, "0", "-1"], lambda: ["RPUSHX", k, m], lambda: ["LPUSHX", k, m],
        lambda: ["LPOP", k] + _pick(d, [[], ["2"], ["0"], ["-1"]]), lambda: ["RPOP", k] + _pick(d, [[], ["3"], ["x"]]),
        lambda: ["LLEN", k], lambda: ["LRANGE", k, _pick(d, INTS), _pick(d, INTS)],
        lambda: ["LINDEX", k, _pick(d, INTS)], lambda: ["LSET", k, _pick(d, INTS), m],
        lambda: ["LREM", k, _pick(d, INTS), m], lambda: ["LTRIM", k, _pick(d, INTS), _pick(d, INTS)],
        lambda: ["LINSERT", k, _pick(d, ["BEFORE", "AFTER", "x"]), _pick(d, MEMBERS), m],
        lambda: ["LMOVE", k, _pick(d, HOT_KEYS), side(), side()], lambda: ["RPOPLPUSH", k, _pick(d, HOT_KEYS)],
        lambda: _lpos(d, k, m), lmpop, lambda: ["LRANGE", k, "0", "-1"], blocking,
    ], grow=2)


def gen_hash(d, tx):
    k, f, v = _pick(d, HOT_KEYS), _pick(d, FIELDS), _pick(d, MEMBERS)
    return _form(d, [
        lambda: ["HSET", k, f, v], lambda: ["HSET", k, f, v, _pick(d, FIELDS), _pick(d, MEMBERS)],
        lambda: ["HSET", k, "f%d" % _choice(d, 9), v], lambda: ["HGETALL", k], lambda: ["HGET", k, f],
        lambda: ["HDEL", k] + _some(d, FIELDS, 1, 2), lambda: ["HLEN", k], lambda: ["HEXISTS", k, f],
        lambda: ["HINCRBY", k, f, _pick(d, INCRS)], lambda: ["HINCRBYFLOAT", k, f, _pick(d, FLOATS)],
        lambda: ["HSTRLEN", k, f], lambda: ["HKEYS", k], lambda: ["HVALS", k],
        lambda: ["HMGET", k] + _some(d, FIELDS, 1, 3), lambda: ["HSETNX", k, f, v],
        lambda: ["HSCAN", k, "0", "COUNT", "1000"], lambda: ["HSCAN", k, "0", "MATCH", "f*", "COUNT", "1000"],
        lambda: ["HMSET", k, f, v], lambda: ["HGETALL", k], lambda: ["HSET", k, f], lambda: ["HGETALL", k],
        lambda: None if tx else ["HRANDFIELD", k] + _pick(d, [
            [], ["2"], ["-3"], ["10"], ["0"], ["2", "WITHVALUES"], ["-3", "WITHVALUES"], ["10", "WITHVALUES"],
            ["x"]]),
    ], grow=3)


def gen_set(d, tx):
    k, m = _pick(d, HOT_KEYS), _pick(d, MEMBERS)
    ks = lambda: _some(d, HOT_KEYS, 1, 3)  # noqa: E731

    def sintercard():
        keys = ks()
        return ["SINTERCARD", _pick(d, [str(len(keys)), "0", "x", "9"])] + keys + _pick(
            d, [[], ["LIMIT", "1"], ["LIMIT", "0"], ["LIMIT", "-1"]])

    return _form(d, [
        lambda: ["SADD", k] + _some(d, MEMBERS, 1, 6),
        lambda: ["SADD", k] + _some(d, ["1", "2", "3", "-5", "10", "200", "70000", "5000000000"], 1, 4),
        lambda: ["SMEMBERS", k],
        lambda: ["SREM", k] + _some(d, MEMBERS, 1, 3), lambda: ["SCARD", k], lambda: ["SISMEMBER", k, m],
        lambda: ["SMISMEMBER", k, m, _pick(d, MEMBERS)], lambda: ["SMOVE", k, _pick(d, HOT_KEYS), m],
        lambda: ["SINTER"] + ks(), lambda: ["SUNION"] + ks(), lambda: ["SDIFF"] + ks(),
        lambda: ["SINTERSTORE", k] + ks(), lambda: ["SUNIONSTORE", k] + ks(), lambda: ["SDIFFSTORE", k] + ks(),
        lambda: ["SSCAN", k, "0", "COUNT", "1000"], lambda: ["SSCAN", k, "0", "MATCH", "*1*", "COUNT", "1000"],
        lambda: ["SMEMBERS", k], sintercard, lambda: ["SADD", k, m], lambda: ["SREM", k, m],
        lambda: None if tx else ["SRANDMEMBER", k] + _pick(d, [[], ["2"], ["-3"], ["10"], ["0"], ["x"]]),
        # Inside MULTI only the forms whose result is fixed (the whole set, or an error).
        lambda: ["SPOP", k] + (_pick(d, [["100"], ["0"], ["-1"], ["x"]]) if tx else
                               _pick(d, [[], ["1"], ["2"], ["100"], ["0"], ["-1"], ["x"]])),
    ], grow=2)


def _zrange_tail(d, kind):
    if kind == "score":
        args = [_pick(d, SCORE_MIN), _pick(d, SCORE_MAX), "BYSCORE"]
    elif kind == "lex":
        args = [_pick(d, LEX), _pick(d, LEX), "BYLEX"]
    else:
        args = [_pick(d, INTS), _pick(d, INTS)]
    if d(st.booleans()):
        args.append("REV")
    if kind != "rank" and d(st.booleans()):
        args += ["LIMIT", _pick(d, ["0", "1", "-1", "x"]), _pick(d, ["2", "-1", "0", "10"])]
    if kind != "lex" and d(st.booleans()):
        args.append("WITHSCORES")
    return args


def _zsetop(d, store):
    ks = _some(d, HOT_KEYS, 1, 3)
    args = [_pick(d, [str(len(ks)), str(len(ks)), str(len(ks)), "0", "x", str(len(ks) + 1)])] + ks
    if d(st.booleans()):
        args += ["WEIGHTS"] + [_pick(d, ["1", "2", "-1", "0.5", "x", "inf"]) for _ in ks]
    if d(st.booleans()):
        args += ["AGGREGATE", _pick(d, ["SUM", "MIN", "MAX", "x"])]
    if not store and d(st.booleans()):
        args.append("WITHSCORES")
    return args


def gen_zset(d, tx):
    k, m = _pick(d, HOT_KEYS), _pick(d, MEMBERS)

    def zadd():
        opts = _pick(d, [[], [], ["NX"], ["XX"], ["GT"], ["LT"], ["CH"], ["INCR"], ["GT", "CH"], ["NX", "XX"],
                         ["NX", "GT"], ["XX", "LT", "CH"]])
        pairs = []
        for _ in range(d(st.integers(1, 3))):
            pairs += [_pick(d, SCORES), _pick(d, MEMBERS)]
        return ["ZADD", k] + opts + pairs

    def zintercard():
        ks = _some(d, HOT_KEYS, 1, 3)
        return ["ZINTERCARD", str(len(ks))] + ks + _pick(d, [[], ["LIMIT", "1"], ["LIMIT", "-1"]])

    def zmpop():
        ks = _some(d, HOT_KEYS, 1, 2)
        return ["ZMPOP", str(len(ks))] + ks + [_pick(d, ["MIN", "MAX", "x"])] + _pick(
            d, [[], ["COUNT", "2"], ["COUNT", "0"]])

    return _form(d, [
        zadd, lambda: ["ZINCRBY", k, _pick(d, SCORES), m], lambda: ["ZRANGE", k, "0", "-1", "WITHSCORES"],
        lambda: ["ZREM", k] + _some(d, MEMBERS, 1, 3), lambda: ["ZCARD", k], lambda: ["ZSCORE", k, m],
        lambda: ["ZMSCORE", k, m, _pick(d, MEMBERS)], lambda: [_pick(d, ["ZRANK", "ZREVRANK"]), k, m],
        lambda: [_pick(d, ["ZPOPMIN", "ZPOPMAX"]), k] + _pick(d, [[], ["2"], ["0"], ["-1"], ["x"]]),
        lambda: ["ZRANGE", k] + _zrange_tail(d, "rank"), lambda: ["ZRANGE", k] + _zrange_tail(d, "score"),
        lambda: ["ZRANGE", k] + _zrange_tail(d, "lex"),
        lambda: ["ZRANGESTORE", _pick(d, HOT_KEYS), k] + [
            a for a in _zrange_tail(d, _pick(d, ["rank", "score", "lex"])) if a != "WITHSCORES"],
        lambda: ["ZSCAN", k, "0", "COUNT", "1000"],
        lambda: [_pick(d, ["ZUNION", "ZINTER", "ZDIFF"])] + _zsetop(d, False),
        lambda: [_pick(d, ["ZUNIONSTORE", "ZINTERSTORE", "ZDIFFSTORE"]), k] + _zsetop(d, True),
        zintercard, zmpop,
        lambda: ["ZREVRANGE", k, _pick(d, INTS), _pick(d, INTS)] + _pick(d, [[], ["WITHSCORES"]]),
        lambda: [_pick(d, ["ZRANGEBYSCORE", "ZREVRANGEBYSCORE"]), k, _pick(d, SCORE_MIN), _pick(d, SCORE_MAX)]
        + _pick(d, [[], ["WITHSCORES"], ["LIMIT", "1", "2"], ["WITHSCORES", "LIMIT", "0", "-1"]]),
        lambda: [_pick(d, ["ZRANGEBYLEX", "ZREVRANGEBYLEX"]), k, _pick(d, LEX), _pick(d, LEX)]
        + _pick(d, [[], ["LIMIT", "1", "2"]]),
        lambda: ["ZCOUNT", k, _pick(d, SCORE_MIN), _pick(d, SCORE_MAX)],
        lambda: ["ZLEXCOUNT", k, _pick(d, LEX), _pick(d, LEX)],
        lambda: ["ZREMRANGEBYRANK", k, _pick(d, INTS), _pick(d, INTS)],
        lambda: ["ZREMRANGEBYSCORE", k, _pick(d, SCORE_MIN), _pick(d, SCORE_MAX)],
        lambda: ["ZREMRANGEBYLEX", k, _pick(d, LEX), _pick(d, LEX)],
        lambda: ["ZADD", k, _pick(d, SCORES), m], lambda: ["ZRANGE", k, "0", "-1", "WITHSCORES"],
        lambda: ["ZADD", k, "1", BIG],
        lambda: None if tx else _pick(d, [["BZPOPMIN", k, _pick(d, HOT_KEYS), "0.01"], ["BZPOPMAX", k, "0.01"],
                                          ["BZMPOP", "0.01", "1", k, "MAX"]]),
        lambda: None if tx else ["ZRANDMEMBER", k] + _pick(d, [
            [], ["2"], ["-3"], ["10"], ["0"], ["2", "WITHSCORES"], ["-3", "WITHSCORES"], ["10", "WITHSCORES"],
            ["x"]]),
    ], grow=2)


def gen_keys(d, tx):
    k, k2 = _pick(d, HOT_KEYS), _pick(d, HOT_KEYS)
    return _form(d, [
        lambda: ["TYPE", k], lambda: ["OBJECT", "ENCODING", k], lambda: ["EXISTS"] + _some(d, HOT_KEYS, 1, 3),
        lambda: ["DBSIZE"], lambda: ["DEL"] + _some(d, HOT_KEYS, 1, 2), lambda: ["UNLINK", k],
        lambda: ["RENAME", k, k2], lambda: ["RENAMENX", k, k2],
        lambda: ["COPY", k, k2] + _pick(d, [[], ["REPLACE"], ["DB", "1"], ["DB", "1", "REPLACE"]]),
        lambda: ["MOVE", k, "1"], lambda: ["KEYS", _pick(d, ["*", "k[12]", "*3", "x*"])],
        lambda: ["SCAN", "0", "COUNT", "1000"] + _pick(d, [
            [], ["TYPE", "set"], ["TYPE", "zset"], ["TYPE", "hash"], ["TYPE", "list"], ["TYPE", "string"],
            ["MATCH", "k[1-3]"]]),
        lambda: ["EXPIRE", k, "100"] + _pick(d, [[], ["NX"], ["XX"], ["GT"], ["LT"]]),
        lambda: ["EXPIRE", k, _pick(d, ["0", "-1", "x"])], lambda: ["EXPIREAT", k, _pick(d, ["4102444800", "1"])],
        lambda: ["PERSIST", k], lambda: ["TTL", k], lambda: ["EXPIRETIME", k], lambda: ["TOUCH", k, k2],
        lambda: ["TYPE", k], lambda: ["OBJECT", "ENCODING", k], lambda: ["OBJECT", "ENCODING", k],
        lambda: ["SWAPDB", "0", "1"], lambda: ["FLUSHDB"], lambda: None if tx else ["RANDOMKEY"],
    ], grow=4)  # mostly the read-only probes: TYPE, OBJECT ENCODING, EXISTS, DBSIZE


FAMILIES = [gen_string, gen_list, gen_hash, gen_set, gen_zset]


@st.composite
def a_command(draw, gens, tx=False):
    cmd = draw(st.sampled_from(gens))(draw, tx)
    if cmd is None:  # a slot taken by a form not drawn here (random picks inside MULTI)
        cmd = ["OBJECT", "ENCODING", draw(st.sampled_from(KEYS))]
    mut = draw(st.integers(0, 29))
    if tx and cmd[0] in RANDOM_NAMES:
        return tuple(cmd)
    if mut == 1 and len(cmd) > 1:
        cmd = cmd[:-1]  # too few arguments, or an option without its value
    elif mut == 2:
        cmd = cmd + [draw(st.sampled_from(["x", "1", "-1", "WITHSCORES", "COUNT"]))]
    return tuple(cmd)


@st.composite
def a_step(draw, gens):
    """One command, or now and then a transaction block."""
    kind = draw(st.integers(0, 24))
    if kind == 1:
        cmds = []
        if draw(st.booleans()):
            cmds.append(("WATCH",) + tuple(draw(st.lists(st.sampled_from(KEYS), min_size=1, max_size=2))))
        cmds += draw(st.lists(a_command(gens), max_size=2))
        cmds.append(("MULTI",))
        cmds += draw(st.lists(a_command(gens, tx=True), min_size=1, max_size=5))
        if draw(st.integers(0, 9)) == 0:
            cmds.insert(-1, draw(st.sampled_from([("MULTI",), ("WATCH", "k1"), ("NOSUCHCMD", "x")])))
        cmds.append(draw(st.sampled_from([("EXEC",), ("EXEC",), ("EXEC",), ("DISCARD",)])))
        return cmds
    if kind == 2:
        return [draw(st.sampled_from([("WATCH", "k1"), ("UNWATCH",), ("EXEC",), ("DISCARD",)]))]
    return [draw(a_command(gens))]


@st.composite
def scripts(draw):
    """A command sequence focused on one to three type families (so values
    grow and convert), with keyspace commands mixed in."""
    focus = draw(st.lists(st.sampled_from(FAMILIES), min_size=1, max_size=3, unique=True))
    gens = focus * 3 + [gen_keys]
    steps = draw(st.lists(a_step(gens), min_size=10, max_size=40))
    return [c for s in steps for c in s][:40]
