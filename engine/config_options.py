"""The table of config keys: each Option's name, aliases, default, parser,
printer and whether CONFIG SET may change it, as Redis 7.0 has them, plus
the parsers of the keys with special formats (save, bind, client output
buffer limits, notify-keyspace-events, ...). engine/config.py holds the
running configuration that reads this table.
"""

import os
import re

from .util import parse_memory

INT_MAX = 2147483647
UINT_MAX = 4294967295
LLONG_MAX = 9223372036854775807


class ConfigError(Exception):
    """A bad value or directive; the message is Redis's wording."""


class ConfigFileError(ConfigError):
    """A config file that cannot be read: reported as is, not as a
    FATAL CONFIG FILE ERROR block (Redis logs it and exits)."""


class Option:
    """One config key. `kind` is one of bool/int/memory/enum/string/special."""

    __slots__ = ("name", "aliases", "kind", "default", "mutable", "lo", "hi", "choices",
                 "parse_fn", "format_fn", "sensitive", "multi_arg", "protected", "hidden")

    def __init__(self, name, kind, default, *, aliases=(), mutable=True, lo=None, hi=None,
                 choices=None, parse_fn=None, format_fn=None, sensitive=False, multi_arg=False,
                 protected=False, hidden=False):
        self.name = name
        self.aliases = tuple(aliases)
        self.kind = kind
        self.default = default
        self.mutable = mutable
        self.lo, self.hi = lo, hi
        self.choices = choices
        self.parse_fn = parse_fn
        self.format_fn = format_fn
        self.sensitive = sensitive
        self.multi_arg = multi_arg  # takes several words in the config file (save, bind)
        # CONFIG SET refuses it unless enable-protected-configs allows (dir, dbfilename)
        self.protected = protected
        self.hidden = hidden  # Redis's HIDDEN_CONFIG: answered by name, left out of CONFIG GET globs

    def parse(self, text):
        """Text (str) -> value; raises ConfigError with Redis's reason."""
        if self.parse_fn is not None:
            return self.parse_fn(text)
        k = self.kind
        if k == "bool":
            t = text.lower()
            if t == "yes":
                return True
            if t == "no":
                return False
            raise ConfigError("argument must be 'yes' or 'no'")
        if k == "int":
            v = parse_config_int(text)
            self._check_range(v)
            return v
        if k == "memory":
            v = parse_memory(text.encode()) if "-" not in text else None  # memtoull takes no sign
            if v is None or v < 0:
                raise ConfigError("argument must be a memory value")
            self._check_range(v)
            return v
        if k == "enum":
            t = text.lower()
            if t not in self.choices:
                raise ConfigError("argument(s) must be one of the following: " + ", ".join(self.choices))
            return t
        return text

    def _check_range(self, v):
        lo = -LLONG_MAX - 1 if self.lo is None else self.lo
        hi = LLONG_MAX if self.hi is None else self.hi
        if v < lo or v > hi:
            raise ConfigError("argument must be between %d and %d inclusive" % (lo, hi))

    def format(self, v):
        if self.format_fn is not None:
            return self.format_fn(v)
        if self.kind == "bool":
            return "yes" if v else "no"
        return str(v)


_STRING2LL = re.compile(r"-?[1-9][0-9]*|0", re.ASCII)


def parse_config_int(text):
    """An integer config value as Redis reads it (string2ll): no '+', no
    spaces, within 64 bits."""
    try:
        if not _STRING2LL.fullmatch(text):  # no '+', spaces, leading zeros, "-0"
            raise ValueError
        v = int(text)
    except ValueError:
        raise ConfigError("argument couldn't be parsed into an integer") from None
    if not -LLONG_MAX - 1 <= v <= LLONG_MAX:
        raise ConfigError("argument couldn't be parsed into an integer")
    return v


def _parse_hz(text):
    # Redis accepts 0..INT_MAX and clamps the stored value to 1..500.
    v = parse_config_int(text)
    if not 0 <= v <= INT_MAX:
        raise ConfigError("argument must be between 0 and %d inclusive" % INT_MAX)
    return min(max(v, 1), 500)


# ---- special formats -------------------------------------------------------------

def _parse_save(text):
    words = text.split()
    if not words or (len(words) == 1 and words[0] in ("", '""')):
        return []
    if len(words) % 2:
        raise ConfigError("Invalid save parameters")
    points = []
    for i in range(0, len(words), 2):
        try:
            secs, changes = int(words[i]), int(words[i + 1])
        except ValueError:
            raise ConfigError("Invalid save parameters") from None
        if secs < 1 or changes < 0:
            raise ConfigError("Invalid save parameters")
        points.append((secs, changes))
    return points


def _format_save(points):
    return " ".join("%d %d" % p for p in points)


COB_CLASSES = ("normal", "replica", "pubsub")


def _parse_cob(text):
    """client-output-buffer-limit: <class> <hard> <soft> <soft-seconds> [...]"""
    words = text.split()
    if not words or len(words) % 4:
        raise ConfigError("Wrong number of arguments in buffer limit configuration.")
    out = {}
    for i in range(0, len(words), 4):
        cls = words[i].lower()
        if cls == "slave":
            cls = "replica"
        if cls not in COB_CLASSES:
            raise ConfigError("Invalid client class specified in buffer limit configuration.")
        hard, soft = parse_memory(words[i + 1].encode()), parse_memory(words[i + 2].encode())
        try:
            secs = int(words[i + 3])
        except ValueError:
            secs = -1
        if hard is None or soft is None or secs < 0 or hard < 0 or soft < 0:
            raise ConfigError("Error in hard, soft or soft_seconds setting in buffer limit configuration.")
        out[cls] = (hard, soft, secs)
    return out


def _format_cob(v):
    # Redis prints the replica class under its old name.
    return " ".join("%s %d %d %d" % ((COB_NAMES[cls],) + v[cls]) for cls in COB_CLASSES if cls in v)


COB_NAMES = {"normal": "normal", "replica": "slave", "pubsub": "pubsub"}


def _parse_bind(text):
    words = text.split()
    if not words:
        raise ConfigError("Too many bind addresses specified." if False else "wrong number of arguments")
    return words


def _format_dir(_v):
    # Redis answers the working directory it runs in (it chdir()s to `dir`).
    try:
        return os.getcwd()
    except OSError:
        return _v


def apply_dir(_old, new):
    """CONFIG SET dir: the server works in that directory from now on."""
    try:
        os.chdir(new)
    except OSError as e:
        raise ConfigError(e.strerror) from None


def _parse_mem_or_percent(text):
    if text.endswith("%"):
        if not _STRING2LL.fullmatch(text[:-1]) or int(text[:-1]) < 0:
            raise ConfigError("argument must be a memory or percent value")
        v = int(text[:-1])
        if v > 100:
            raise ConfigError("percentage argument must be less or equal to 100")
        return "%d%%" % v
    v = parse_memory(text.encode()) if "-" not in text else None
    if v is None:
        raise ConfigError("argument must be a memory or percent value")
    return str(v)


def _filename_check(name, what):
    def parse(text):
        if "/" in text:  # pathIsBaseName
            raise ConfigError("%s can't be a path, just a %s" % (name, what))
        return text
    return parse


def _words(text):
    return text.split()


def _space_join(v):
    return " ".join(v)


def _parse_notify(text):
    allowed = set("gKE$lshzxetdmAn")
    if any(ch not in allowed for ch in text):
        raise ConfigError("Invalid event class character. Use 'Ag$lshzxeKEtmdn'.")
    return text


_NOTIFY_ALL = "g$lshzxetd"


def _format_notify(text):
    """keyspaceEventsFlagsToString: classes in Redis's order, 'A' for all."""
    chars = set(text.replace("A", _NOTIFY_ALL))
    if all(ch in chars for ch in _NOTIFY_ALL):
        out = "A"
    else:
        out = "".join(ch for ch in _NOTIFY_ALL + "n" if ch in chars)
    return out + "".join(ch for ch in "KEm" if ch in chars)


_LOGLEVELS = ("debug", "verbose", "notice", "warning")
_POLICIES = ("volatile-lru", "volatile-lfu", "volatile-random", "volatile-ttl",
             "allkeys-lru", "allkeys-lfu", "allkeys-random", "noeviction")

OPTIONS = [
    # network
    Option("port", "int", 6379, lo=0, hi=65535, mutable=False),
    Option("bind", "special", ["127.0.0.1", "-::1"], parse_fn=_parse_bind, format_fn=_space_join,
           mutable=False, multi_arg=True),
    Option("unixsocket", "string", "", mutable=False),
    Option("unixsocketperm", "int", 0, lo=0, hi=0o777, mutable=False),
    Option("protected-mode", "bool", True),
    Option("tcp-backlog", "int", 511, lo=0, hi=INT_MAX, mutable=False),
    Option("tcp-keepalive", "int", 300, lo=0, hi=INT_MAX),
    Option("timeout", "int", 0, lo=0, hi=INT_MAX),
    Option("maxclients", "int", 10000, lo=1, hi=UINT_MAX),
    Option("io-threads", "int", 1, lo=1, hi=128, mutable=False),
    Option("io-threads-do-reads", "bool", False, mutable=False),
    # general
    Option("daemonize", "bool", False, mutable=False),
    Option("pidfile", "string", "", mutable=False),
    Option("loglevel", "enum", "notice", choices=_LOGLEVELS),
    Option("logfile", "string", "", mutable=False),
    Option("syslog-enabled", "bool", False, mutable=False),
    Option("databases", "int", 16, lo=1, hi=INT_MAX, mutable=False),
    Option("hz", "int", 10, lo=0, hi=INT_MAX, parse_fn=_parse_hz),
    Option("dynamic-hz", "bool", True),
    Option("dir", "string", ".", protected=True, format_fn=_format_dir),
    Option("requirepass", "string", "", sensitive=True),
    Option("masterauth", "string", "", sensitive=True),
    Option("masteruser", "string", ""),
    Option("aclfile", "string", "", mutable=False),
    Option("acllog-max-len", "int", 128, lo=0),
    Option("acl-pubsub-default", "enum", "resetchannels", choices=("allchannels", "resetchannels")),
    Option("enable-debug-command", "enum", "no", choices=("yes", "no", "local"), mutable=False),
    Option("enable-protected-configs", "enum", "no", choices=("yes", "no", "local"), mutable=False),
    Option("proto-max-bulk-len", "memory", 512 * 1024 * 1024, lo=1024 * 1024),
    Option("client-query-buffer-limit", "memory", 1024 * 1024 * 1024, lo=1024 * 1024),
    Option("client-output-buffer-limit", "special",
           {"normal": (0, 0, 0), "replica": (256 << 20, 64 << 20, 60), "pubsub": (32 << 20, 8 << 20, 60)},
           parse_fn=_parse_cob, format_fn=_format_cob, multi_arg=True),
    Option("slowlog-log-slower-than", "int", 10000, lo=-1),
    Option("slowlog-max-len", "int", 128, lo=0),
    Option("latency-monitor-threshold", "int", 0, lo=0),
    Option("notify-keyspace-events", "special", "", parse_fn=_parse_notify, format_fn=_format_notify),
    Option("maxmemory", "memory", 0, lo=0),
    Option("maxmemory-policy", "enum", "noeviction", choices=_POLICIES),
    Option("maxmemory-samples", "int", 5, lo=1, hi=INT_MAX),
    Option("active-expire-effort", "int", 1, lo=1, hi=10),
    Option("lazyfree-lazy-expire", "bool", False),
    Option("lazyfree-lazy-user-del", "bool", False),
    Option("lazyfree-lazy-user-flush", "bool", False),
    Option("lazyfree-lazy-server-del", "bool", False),
    Option("lazyfree-lazy-eviction", "bool", False),
    # persistence (filled by rdb/ and aof/)
    Option("save", "special", [(3600, 1), (300, 100), (60, 10000)], parse_fn=_parse_save,
           format_fn=_format_save, multi_arg=True),
    Option("dbfilename", "string", "dump.rdb", protected=True, parse_fn=_filename_check("dbfilename", "filename")),
    Option("rdbcompression", "bool", True),
    Option("rdbchecksum", "bool", True, mutable=False),
    Option("stop-writes-on-bgsave-error", "bool", True),
    Option("rdb-del-sync-files", "bool", False),
    Option("appendonly", "bool", False),
    Option("appendfilename", "string", "appendonly.aof", mutable=False,
           parse_fn=_filename_check("appendfilename", "filename")),
    Option("appenddirname", "string", "appendonlydir", mutable=False,
           parse_fn=_filename_check("appenddirname", "dirname")),
    Option("appendfsync", "enum", "everysec", choices=("everysec", "always", "no")),
    Option("no-appendfsync-on-rewrite", "bool", False),
    Option("auto-aof-rewrite-percentage", "int", 100, lo=0, hi=INT_MAX),
    Option("auto-aof-rewrite-min-size", "memory", 64 * 1024 * 1024, lo=0),
    Option("aof-load-truncated", "bool", True),
    Option("aof-use-rdb-preamble", "bool", True),
    Option("aof-timestamp-enabled", "bool", False),
    Option("aof-rewrite-incremental-fsync", "bool", True),
    Option("rdb-save-incremental-fsync", "bool", True),
    # Redis's hidden test knob: microseconds a snapshot child sleeps per key written.
    Option("rdb-key-save-delay", "int", 0, lo=-(1 << 31), hi=(1 << 31) - 1, hidden=True),
    # replication (filled by replication/)
    Option("replicaof", "special", "", aliases=("slaveof",), mutable=False, multi_arg=True),
    Option("replica-read-only", "bool", True, aliases=("slave-read-only",)),
    Option("replica-serve-stale-data", "bool", True, aliases=("slave-serve-stale-data",)),
    Option("replica-priority", "int", 100, lo=0, hi=INT_MAX, aliases=("slave-priority",)),
    Option("replica-announce-ip", "string", "", aliases=("slave-announce-ip",)),
    Option("replica-announce-port", "int", 0, lo=0, hi=65535, aliases=("slave-announce-port",)),
    Option("replica-announced", "bool", True),
    Option("replica-lazy-flush", "bool", False, aliases=("slave-lazy-flush",)),
    Option("repl-backlog-size", "memory", 1024 * 1024, lo=1),
    Option("repl-backlog-ttl", "int", 3600, lo=0),
    Option("repl-timeout", "int", 60, lo=1, hi=INT_MAX),
    Option("repl-ping-replica-period", "int", 10, lo=1, hi=INT_MAX, aliases=("repl-ping-slave-period",)),
    Option("repl-diskless-sync", "bool", True),
    Option("repl-diskless-sync-delay", "int", 5, lo=0, hi=INT_MAX),
    Option("repl-diskless-sync-max-replicas", "int", 0, lo=0, hi=INT_MAX),
    Option("repl-diskless-load", "enum", "disabled", choices=("disabled", "on-empty-db", "swapdb")),
    Option("repl-disable-tcp-nodelay", "bool", False),
    Option("min-replicas-to-write", "int", 0, lo=0, hi=INT_MAX, aliases=("min-slaves-to-write",)),
    Option("min-replicas-max-lag", "int", 10, lo=0, hi=INT_MAX, aliases=("min-slaves-max-lag",)),
    # data types (filled by the types issue)
    Option("hash-max-listpack-entries", "int", 512, lo=0, aliases=("hash-max-ziplist-entries",)),
    Option("hash-max-listpack-value", "int", 64, lo=0, aliases=("hash-max-ziplist-value",)),
    Option("list-max-listpack-size", "int", -2, lo=-INT_MAX - 1, hi=INT_MAX, aliases=("list-max-ziplist-size",)),
    Option("list-compress-depth", "int", 0, lo=0, hi=INT_MAX),
    Option("set-max-intset-entries", "int", 512, lo=0),
    Option("zset-max-listpack-entries", "int", 128, lo=0, aliases=("zset-max-ziplist-entries",)),
    Option("zset-max-listpack-value", "int", 64, lo=0, aliases=("zset-max-ziplist-value",)),
    Option("activerehashing", "bool", True),
    Option("lfu-log-factor", "int", 10, lo=0, hi=INT_MAX),
    Option("lfu-decay-time", "int", 1, lo=0, hi=INT_MAX),
    Option("stream-node-max-bytes", "memory", 4096, lo=0),
    Option("stream-node-max-entries", "int", 100, lo=0),
    Option("hll-sparse-max-bytes", "memory", 3000, lo=0),
    # Accepted and reported for compatibility with redis.conf files and tools;
    # Holdfast has no machinery they would tune (defrag, jemalloc, THP, ...).
    Option("activedefrag", "bool", False),
    Option("active-defrag-cycle-min", "int", 1, lo=1, hi=99),
    Option("active-defrag-cycle-max", "int", 25, lo=1, hi=99),
    Option("active-defrag-ignore-bytes", "memory", 100 << 20, lo=1),
    Option("active-defrag-max-scan-fields", "int", 1000, lo=1),
    Option("active-defrag-threshold-lower", "int", 10, lo=0, hi=1000),
    Option("active-defrag-threshold-upper", "int", 100, lo=0, hi=1000),
    Option("always-show-logo", "bool", False, mutable=False),
    Option("aof-disable-auto-gc", "bool", False),
    Option("busy-reply-threshold", "int", 5000, lo=0, aliases=("lua-time-limit",)),
    Option("crash-log-enabled", "bool", True),
    Option("crash-memcheck-enabled", "bool", True),
    Option("disable-thp", "bool", True, mutable=False),
    Option("ignore-warnings", "string", ""),
    Option("jemalloc-bg-thread", "bool", True),
    Option("latency-tracking", "bool", True),
    Option("maxmemory-clients", "special", "0", parse_fn=_parse_mem_or_percent),
    Option("maxmemory-eviction-tenacity", "int", 10, lo=0, hi=100),
    Option("oom-score-adj", "enum", "no", choices=("no", "yes", "relative", "absolute")),
    Option("propagation-error-behavior", "enum", "ignore", choices=("ignore", "panic", "panic-on-replicas")),
    Option("replica-ignore-maxmemory", "bool", True, aliases=("slave-ignore-maxmemory",)),
    Option("replica-ignore-disk-write-errors", "bool", False),
    Option("sanitize-dump-payload", "enum", "no", choices=("no", "yes", "clients")),
    Option("set-proc-title", "bool", True, mutable=False),
    Option("supervised", "enum", "no", choices=("upstart", "systemd", "auto", "no"), mutable=False),
    Option("syslog-ident", "string", "redis", mutable=False),
    Option("syslog-facility", "enum", "local0", choices=("user", "local0", "local1", "local2", "local3",
                                                          "local4", "local5", "local6", "local7"), mutable=False),
    Option("tracking-table-max-keys", "int", 1000000, lo=0),
]

_BY_NAME = {}
for _o in OPTIONS:
    _BY_NAME[_o.name] = _o
    for _a in _o.aliases:
        _BY_NAME[_a] = _o


def lookup(name):
    return _BY_NAME.get(name.lower())
