"""MEMORY: USAGE, STATS, DOCTOR, MALLOC-STATS, PURGE, HELP, as Redis 7.0.

Sizes come from engine/memory_estimate.py (what CPython allocates for a
key and its value, containers sampled), the process figures from INFO's
(engine/info.py: used = private resident memory). Python objects are
bigger than Redis's encodings: MEMORY USAGE reads 0.9x (a 100 KB string)
to 5.6x (a 1000-item list) redis-server's for the same value, up to ~20x
for tiny containers (tests/test_maxmemory.py bounds it).
"""

import ctypes
import gc

from .. import info, resp
from ..memory_estimate import DICT_SLOT, INT_BYTES, db_overhead, key_usage
from ..util import parse_int, release_free_memory
from . import container, subcommand
from .server_cmds import SYNTAX, help_reply

container("memory", -2, group="server", summary="A container for memory diagnostics commands", since="4.0.0")

NOT_INT = b"ERR value is not an integer or out of range"


@subcommand("memory", "usage", -3, "readonly", keys=(2, 2, 1), since="4.0.0",
            summary="Estimate the memory usage of a key", complexity="O(N) where N is the number of samples.")
def memory_usage_(c, argv):
    samples = 5
    i = 3
    while i < len(argv):
        if argv[i].lower() == b"samples" and i + 1 < len(argv):
            samples = parse_int(argv[i + 1])
            if samples is None:
                return resp.error(NOT_INT)
            if samples < 0:
                return resp.error(SYNTAX)
            i += 2
        else:
            return resp.error(SYNTAX)
    key = argv[2]
    v = c.db.data.get(key)  # as Redis's dictFind: no expiry check, no access recorded
    if v is None:
        return resp.null(c.resp)
    return resp.integer(key_usage(c.db, key, v, samples))


def _figures(srv):
    """The figures STATS and DOCTOR share (getMemoryOverheadData)."""
    est = srv.eviction.estimate
    est.refresh_if_stale()
    rss, used = info.memory_usage()
    startup = min(info._STARTUP_USED, used)
    peak = max(getattr(srv, "_info_mem_peak", 0), used)
    srv._info_mem_peak = peak
    dbs = [(db.id, db_overhead(db) - _expires_bytes(db), _expires_bytes(db)) for db in srv.keyspace.dbs if db.data]
    return {
        "rss": rss, "used": used, "startup": startup, "peak": peak, "est": est,
        "dataset": est.dataset(), "dbs": dbs, "keys": sum(len(db.data) for db in srv.keyspace.dbs),
        "replicas": sum(1 for cl in srv.clients.values() if cl.kind == "replica"),
    }


def _expires_bytes(db):
    return (DICT_SLOT + INT_BYTES) * len(db.expires)


@subcommand("memory", "stats", 2, "", since="4.0.0", summary="Returns details about memory usage",
            complexity="O(1)")
def memory_stats(c, argv):
    f = _figures(c.server)
    est = f["est"]
    used, rss, startup, peak, dataset = f["used"], f["rss"], f["startup"], f["peak"], f["dataset"]
    r = c.resp
    overhead = startup + est.backlog + est.clients_normal + est.clients_replicas + est.aof_buffer
    overhead += sum(m + e for _, m, e in f["dbs"])
    net = max(used - startup, 1)
    pairs = [(k, resp.integer(v)) for k, v in (
        ("peak.allocated", peak), ("total.allocated", used), ("startup.allocated", startup),
        ("replication.backlog", est.backlog), ("clients.slaves", est.clients_replicas),
        ("clients.normal", est.clients_normal), ("cluster.links", 0), ("aof.buffer", est.aof_buffer),
        ("lua.caches", 0), ("functions.caches", 0))]
    for dbid, main, expires in f["dbs"]:
        pairs.append(("db.%d" % dbid, resp.map_([
            (resp.bulk(b"overhead.hashtable.main"), resp.integer(main)),
            (resp.bulk(b"overhead.hashtable.expires"), resp.integer(expires)),
            (resp.bulk(b"overhead.hashtable.slot-to-keys"), resp.ZERO)], r)))
    keys = f["keys"]
    pairs += [
        ("overhead.total", resp.integer(overhead)),
        ("keys.count", resp.integer(keys)),
        ("keys.bytes-per-key", resp.integer(dataset // keys if keys else 0)),
        ("dataset.bytes", resp.integer(dataset)),
        ("dataset.percentage", resp.double(min(100.0 * dataset / net, 100.0), r)),
        ("peak.percentage", resp.double(100.0 * used / peak, r)),
        ("allocator.allocated", resp.integer(used)),
        ("allocator.active", resp.integer(used)),
        ("allocator.resident", resp.integer(rss)),
        ("allocator-fragmentation.ratio", resp.double(1.0, r)),
        ("allocator-fragmentation.bytes", resp.ZERO),
        ("allocator-rss.ratio", resp.double(rss / used, r)),
        ("allocator-rss.bytes", resp.integer(rss - used)),
        ("rss-overhead.ratio", resp.double(1.0, r)),
        ("rss-overhead.bytes", resp.ZERO),
        ("fragmentation", resp.double(rss / used, r)),
        ("fragmentation.bytes", resp.integer(rss - used)),
    ]
    return resp.map_([(resp.bulk(k.encode()), v) for k, v in pairs], r)


_EMPTY = (b"Hi Sam, this instance is empty or is using very little memory, my issues detector can't be used in "
          b"these conditions. Please, leave for your mission on Earth and fill it with some data. The new Sam and "
          b"I will be back to our programming as soon as I finished rebooting.\n")
_HEALTHY = (b"Hi Sam, I can't find any memory issue in your instance. I can only account for what occurs on "
            b"this base.\n")
_PEAK = (b" * Peak memory: In the past this instance used more than 150% the memory that is currently using. The "
         b"allocator is normally not able to release memory after a peak, so you can expect to see a big "
         b"fragmentation ratio, however this is actually harmless and is only due to the memory peak, and if the "
         b"Redis instance Resident Set Size (RSS) is currently bigger than expected, the memory will be used as "
         b"soon as you fill the Redis instance with more data. If the memory peak was only occasional and you want "
         b"to try to reclaim memory, please try the MEMORY PURGE command, otherwise the only other option is to "
         b"shutdown and restart the instance.\n\n")
_REPLICA_BUF = (b" * Big replica buffers: The replica output buffers in this instance are greater than 10MB for each "
                b"replica (on average). This likely means that there is some replica instance that is struggling "
                b"receiving data, either because it is too slow or because of networking issues. As a result, data "
                b"piles on the master output buffers. Please try to identify what replica is not receiving data "
                b"correctly and why. You can use the INFO output in order to check the replicas delays and the "
                b"CLIENT LIST command to check the output buffers of each replica.\n\n")
_CLIENT_BUF = (b" * Big client buffers: The clients output buffers in this instance are greater than 200K per client "
               b"(on average). This may result from different causes, like Pub/Sub clients subscribed to channels "
               b"bot not receiving data fast enough, so that data piles on the Redis instance output buffer, or "
               b"clients sending commands with large replies or very large sequences of commands in the same "
               b"pipeline. Please use the CLIENT LIST command in order to investigate the issue if it causes "
               b"problems in your instance, or to understand better why certain clients are using a big amount of "
               b"memory.\n\n")


@subcommand("memory", "doctor", 2, "", since="4.0.0", summary="Outputs memory problems report", complexity="O(1)")
def memory_doctor(c, argv):
    """Redis's getMemoryDoctorReport, on what Holdfast can measure: the
    instance is "empty" below 5 MB of counted memory (the interpreter's own
    ~20 MB never counts); the allocator fragmentation checks are left out
    (used_memory is already a resident figure)."""
    srv = c.server
    f = _figures(srv)
    est = f["est"]
    issues = []
    if f["dataset"] + est.clients_normal + est.backlog < 5 * 1024 * 1024:
        text = _EMPTY
    else:
        if f["peak"] / f["used"] > 1.5:
            issues.append(_PEAK)
        nclients = max(len(srv.clients) - f["replicas"], 1)
        if est.clients_normal / nclients > 200 * 1024:
            issues.append(_CLIENT_BUF)
        if f["replicas"] and est.clients_replicas > 10 * 1024 * 1024:
            issues.append(_REPLICA_BUF)
        if issues:
            text = (b"Sam, I detected a few issues in this Redis instance memory implants:\n\n" + b"".join(issues)
                    + b"I'm here to keep you safe, Sam. I want to help you.\n")
        else:
            text = _HEALTHY
    return resp.verbatim(text, c.resp)


def _malloc_info():
    """glibc's malloc_info() XML, or None where the C library has none."""
    try:
        libc = ctypes.CDLL(None)
        open_memstream = libc.open_memstream
        info = libc.malloc_info
    except (OSError, AttributeError):
        return None
    open_memstream.restype = ctypes.c_void_p
    open_memstream.argtypes = (ctypes.POINTER(ctypes.c_char_p), ctypes.POINTER(ctypes.c_size_t))
    libc.fclose.argtypes = (ctypes.c_void_p,)
    info.argtypes = (ctypes.c_int, ctypes.c_void_p)
    libc.free.argtypes = (ctypes.c_void_p,)
    buf = ctypes.c_char_p()
    size = ctypes.c_size_t()
    stream = open_memstream(ctypes.byref(buf), ctypes.byref(size))
    if not stream:
        return None
    info(0, stream)
    libc.fclose(stream)
    try:
        return ctypes.string_at(buf, size.value)
    finally:
        libc.free(ctypes.cast(buf, ctypes.c_void_p))


@subcommand("memory", "malloc-stats", 2, "", since="4.0.0", summary="Show allocator internal stats",
            complexity="Depends on how much memory is allocated, could be slow")
def memory_malloc_stats(c, argv):
    text = _malloc_info()
    return resp.verbatim(text if text else b"Stats not supported for the current allocator", c.resp)


@subcommand("memory", "purge", 2, "", since="4.0.0", summary="Ask the allocator to release memory",
            complexity="Depends on how much memory is allocated, could be slow")
def memory_purge(c, argv):
    gc.collect()
    release_free_memory()  # glibc's malloc_trim(0)
    return resp.OK


@subcommand("memory", "help", 2, "loading stale", since="4.0.0", summary="Show helpful text about the different "
            "subcommands", complexity="O(1)")
def memory_help(c, argv):
    return help_reply("MEMORY", [
        "DOCTOR",
        "    Return memory problems reports.",
        "MALLOC-STATS",
        "    Return internal statistics report from the memory allocator.",
        "PURGE",
        "    Attempt to purge dirty pages for reclamation by the allocator.",
        "STATS",
        "    Return information about the memory usage of the server.",
        "USAGE <key> [SAMPLES <count>]",
        "    Return memory in bytes used by <key> and its value. Nested values are",
        "    sampled up to <count> times (default: 5, 0 means sample all).",
    ])
