"""INFO: the report, section by section, with Redis 7.0's names and order.

Each section is a list of (field, value) pairs. Subsystems that own the real
values (RDB, AOF, replication, pub/sub, eviction...) add them through
`server.info_providers`: a dict section -> list of callables `fn(server)`
returning [(field, value)]. A provided field replaces the idle default of the
same name in place (so Redis's field order is kept); a new field is appended;
a section name INFO does not know becomes a new section (title-cased) that
`all`/`everything` and its own name select.

Text is `field:value` lines ending in CRLF, "# Title" headers, and a blank
line between sections, exactly as Redis writes it.
"""

import os
import platform
import resource
import sys
import time

from .config import HOLDFAST_VERSION, VERSION
from .util import format_memory_human

# (section key, title), in the order Redis prints them.
SECTIONS = (
    ("server", "Server"), ("clients", "Clients"), ("memory", "Memory"),
    ("persistence", "Persistence"), ("stats", "Stats"), ("replication", "Replication"),
    ("cpu", "CPU"), ("modules", "Modules"), ("commandstats", "Commandstats"),
    ("errorstats", "Errorstats"), ("latencystats", "Latencystats"), ("cluster", "Cluster"),
    ("keyspace", "Keyspace"),
)
DEFAULT = frozenset(("server", "clients", "memory", "persistence", "stats", "replication", "cpu",
                     "modules", "errorstats", "cluster", "keyspace"))

_PAGE = os.sysconf("SC_PAGE_SIZE")
_UNAME = platform.uname()
_OS = "%s %s %s" % (_UNAME.system, _UNAME.release, _UNAME.machine)


def selected_sections(args):
    """INFO's argument rules (Redis 7): none -> the default set; `default`,
    `all`, `everything` and section names (case-insensitive) combine.
    Returns (set of section keys, all_flag)."""
    if not args:
        return set(DEFAULT), False
    chosen, everything = set(), False
    for a in args:
        a = a.decode(errors="replace").lower() if isinstance(a, bytes) else a.lower()
        if a == "default":
            chosen |= DEFAULT
        elif a in ("all", "everything"):
            everything = True
        elif a == "module_list":
            chosen.add("modules")
        else:
            chosen.add(a)
    return chosen, everything


def generate(srv, args=()):
    """The INFO text (bytes) for the given arguments."""
    chosen, everything = selected_sections(args)
    providers = getattr(srv, "info_providers", None) or {}
    names = [k for k, _ in SECTIONS]
    titles = dict(SECTIONS)
    for extra in providers:
        if extra not in titles:
            names.insert(names.index("cluster"), extra)
            titles[extra] = extra.capitalize()
    out = []
    for key in names:
        if not (everything or key in chosen):
            continue
        builder = _BUILDERS.get(key)
        fields = builder(srv) if builder is not None else []
        for fn in providers.get(key, ()):
            fields = _merge(fields, fn(srv))
        lines = ["# %s\r\n" % titles[key]]
        for name, value in fields:
            lines.append("%s:%s\r\n" % (name, value))
        out.append("".join(lines))
    return "\r\n".join(out).encode()


def _merge(fields, extra):
    if not extra:
        return fields
    index = {name: i for i, (name, _) in enumerate(fields)}
    fields = list(fields)
    for name, value in extra:
        i = index.get(name)
        if i is None:
            index[name] = len(fields)
            fields.append((name, value))
        else:
            fields[i] = (name, value)
    return fields


# ---- sections ------------------------------------------------------------------------

def _server(srv):
    cfg = srv.config
    now = time.time()
    up = int(now - srv.start_time)
    return [
        ("redis_version", VERSION),
        ("holdfast_version", HOLDFAST_VERSION),
        ("redis_git_sha1", "00000000"),
        ("redis_git_dirty", 0),
        ("redis_build_id", "0"),
        ("redis_mode", "standalone"),
        ("os", _OS),
        ("arch_bits", 64),
        ("monotonic_clock", "POSIX clock_gettime"),
        ("multiplexing_api", "epoll"),
        ("atomicvar_api", "c11-builtin"),
        ("gcc_version", "0.0.0"),
        ("process_id", srv.pid),
        ("process_supervised", "no"),
        ("run_id", srv.run_id),
        ("tcp_port", cfg["port"]),
        ("server_time_usec", int(now * 1_000_000)),
        ("uptime_in_seconds", up),
        ("uptime_in_days", up // 86400),
        ("hz", cfg["hz"]),
        ("configured_hz", cfg["hz"]),
        ("lru_clock", int(now) & ((1 << 24) - 1)),
        ("executable", os.path.abspath(sys.argv[0]) if sys.argv and sys.argv[0] else sys.executable),
        ("config_file", cfg.file or ""),
        ("io_threads_active", 1 if srv.io_workers is not None else 0),
    ]


def client_type(c):
    """normal | master | replica | pubsub, as CLIENT KILL/LIST TYPE match."""
    if c.kind in ("master", "replica"):
        return c.kind
    if c.subscriptions or c.psubscriptions:
        return "pubsub"
    return "normal"


def _clients(srv):
    clients = srv.clients.values()
    max_in = max_out = blocked = replicas = 0
    for c in clients:
        qb = c.parser.pending_bytes()
        ob = c.output_bytes()
        if qb > max_in:
            max_in = qb
        if ob > max_out:
            max_out = ob
        if c.blocked is not None:
            blocked += 1
        if c.kind == "replica":
            replicas += 1
    return [
        ("connected_clients", len(srv.clients) - replicas),
        ("cluster_connections", 0),
        ("maxclients", srv.config["maxclients"]),
        ("client_recent_max_input_buffer", max_in),
        ("client_recent_max_output_buffer", max_out),
        ("blocked_clients", blocked),
        ("tracking_clients", 0),
        ("clients_in_timeout_table", srv.blocking.clients_in_timeout_table()),
    ]


def memory_usage():
    """(rss, used) in bytes from /proc/self/statm: `used` is the private
    resident memory (resident minus file-backed shared pages) -- a cheap
    stand-in for the allocator's figure Redis reports."""
    try:
        with open("/proc/self/statm", "rb") as f:
            parts = f.read().split()
        rss = int(parts[1]) * _PAGE
        shared = int(parts[2]) * _PAGE
    except (OSError, IndexError, ValueError):
        rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
        shared = 0
    return rss, max(rss - shared, 1)


def _memory(srv):
    rss, used = memory_usage()
    startup = min(_STARTUP_USED, used)
    peak = max(getattr(srv, "_info_mem_peak", 0), used)
    srv._info_mem_peak = peak
    maxmem = srv.config["maxmemory"]
    total = _PAGE * os.sysconf("SC_PHYS_PAGES")
    dataset = max(used - startup, 0)
    return [
        ("used_memory", used),
        ("used_memory_human", format_memory_human(used)),
        ("used_memory_rss", rss),
        ("used_memory_rss_human", format_memory_human(rss)),
        ("used_memory_peak", peak),
        ("used_memory_peak_human", format_memory_human(peak)),
        ("used_memory_peak_perc", "%.2f%%" % (100.0 * used / peak)),
        ("used_memory_overhead", startup),
        ("used_memory_startup", startup),
        ("used_memory_dataset", dataset),
        ("used_memory_dataset_perc", "%.2f%%" % (100.0 * dataset / used)),
        ("allocator_allocated", used),
        ("allocator_active", used),
        ("allocator_resident", rss),
        ("total_system_memory", total),
        ("total_system_memory_human", format_memory_human(total)),
        ("used_memory_lua", 0),
        ("used_memory_vm_eval", 0),
        ("used_memory_lua_human", "0B"),
        ("used_memory_scripts_eval", 0),
        ("number_of_cached_scripts", 0),
        ("number_of_functions", 0),
        ("number_of_libraries", 0),
        ("used_memory_vm_functions", 0),
        ("used_memory_vm_total", 0),
        ("used_memory_vm_total_human", "0B"),
        ("used_memory_functions", 0),
        ("used_memory_scripts", 0),
        ("used_memory_scripts_human", "0B"),
        ("maxmemory", maxmem),
        ("maxmemory_human", format_memory_human(maxmem)),
        ("maxmemory_policy", srv.config["maxmemory-policy"]),
        ("allocator_frag_ratio", "1.00"),
        ("allocator_frag_bytes", 0),
        ("allocator_rss_ratio", "%.2f" % (rss / used)),
        ("allocator_rss_bytes", rss - used),
        ("rss_overhead_ratio", "1.00"),
        ("rss_overhead_bytes", 0),
        ("mem_fragmentation_ratio", "%.2f" % (rss / used)),
        ("mem_fragmentation_bytes", rss - used),
        ("mem_not_counted_for_evict", 0),
        ("mem_replication_backlog", 0),
        ("mem_total_replication_buffers", 0),
        ("mem_clients_slaves", 0),
        ("mem_clients_normal", 0),
        ("mem_cluster_links", 0),
        ("mem_aof_buffer", 0),
        ("mem_allocator", "libc"),
        ("active_defrag_running", 0),
        ("lazyfree_pending_objects", 0),
        ("lazyfreed_objects", 0),
    ]


def _persistence(srv):
    """Idle values; rdb/ and aof/ replace them through info_providers."""
    return [
        ("loading", 1 if srv.loading else 0),
        ("async_loading", 0),
        ("current_cow_peak", 0),
        ("current_cow_size", 0),
        ("current_cow_size_age", 0),
        ("current_fork_perc", "0.00"),
        ("current_save_keys_processed", 0),
        ("current_save_keys_total", 0),
        ("rdb_changes_since_last_save", srv.dirty),
        ("rdb_bgsave_in_progress", 0),
        ("rdb_last_save_time", srv.lastsave),
        ("rdb_last_bgsave_status", "ok"),
        ("rdb_last_bgsave_time_sec", -1),
        ("rdb_current_bgsave_time_sec", -1),
        ("rdb_saves", 0),
        ("rdb_last_cow_size", 0),
        ("rdb_last_load_keys_expired", 0),
        ("rdb_last_load_keys_loaded", 0),
        ("aof_enabled", 1 if srv.config["appendonly"] else 0),
        ("aof_rewrite_in_progress", 0),
        ("aof_rewrite_scheduled", 0),
        ("aof_last_rewrite_time_sec", -1),
        ("aof_current_rewrite_time_sec", -1),
        ("aof_last_bgrewrite_status", "ok"),
        ("aof_rewrites", 0),
        ("aof_rewrites_consecutive_failures", 0),
        ("aof_last_write_status", "ok"),
        ("aof_last_cow_size", 0),
        ("module_fork_in_progress", 0),
        ("module_fork_last_cow_size", 0),
    ]


def _stats(srv):
    st = srv.stats
    ks = srv.keyspace
    return [
        ("total_connections_received", st.total_connections_received),
        ("total_commands_processed", st.total_commands_processed),
        ("instantaneous_ops_per_sec", int(st.ops.mean())),
        ("total_net_input_bytes", st.net_input_bytes),
        ("total_net_output_bytes", st.net_output_bytes),
        ("total_net_repl_input_bytes", 0),
        ("total_net_repl_output_bytes", 0),
        ("instantaneous_input_kbps", "%.2f" % (st.net_in.mean() / 1024)),
        ("instantaneous_output_kbps", "%.2f" % (st.net_out.mean() / 1024)),
        ("instantaneous_input_repl_kbps", "0.00"),
        ("instantaneous_output_repl_kbps", "0.00"),
        ("rejected_connections", st.rejected_connections),
        ("sync_full", 0),
        ("sync_partial_ok", 0),
        ("sync_partial_err", 0),
        ("expired_keys", ks.expired_keys),
        ("expired_stale_perc", "%.2f" % (ks.expired_stale_perc * 100)),
        ("expired_time_cap_reached_count", ks.expired_time_cap_reached_count),
        ("expire_cycle_cpu_milliseconds", 0),
        ("evicted_keys", getattr(st, "evicted_keys", 0)),
        ("evicted_clients", 0),
        ("total_eviction_exceeded_time", 0),
        ("current_eviction_exceeded_time", 0),
        ("keyspace_hits", st.keyspace_hits),
        ("keyspace_misses", st.keyspace_misses),
        ("pubsub_channels", len(srv.pubsub.channels) if hasattr(srv, "pubsub") else 0),
        ("pubsub_patterns", len(srv.pubsub.patterns) if hasattr(srv, "pubsub") else 0),
        ("pubsubshard_channels", 0),
        ("latest_fork_usec", 0),
        ("total_forks", 0),
        ("migrate_cached_sockets", 0),
        ("slave_expires_tracked_keys", 0),
        ("active_defrag_hits", 0),
        ("active_defrag_misses", 0),
        ("active_defrag_key_hits", 0),
        ("active_defrag_key_misses", 0),
        ("total_active_defrag_time", 0),
        ("current_active_defrag_time", 0),
        ("tracking_total_keys", 0),
        ("tracking_total_items", 0),
        ("tracking_total_prefixes", 0),
        ("unexpected_error_replies", 0),
        ("total_error_replies", st.total_error_replies),
        ("dump_payload_sanitizations", 0),
        ("total_reads_processed", st.total_reads_processed),
        ("total_writes_processed", st.total_writes_processed),
        ("io_threaded_reads_processed", 0),
        ("io_threaded_writes_processed", 0),
        ("reply_buffer_shrinks", 0),
        ("reply_buffer_expands", 0),
    ]


def replid(srv):
    """The replication ID: 40 random hex digits per start (replication/ may
    replace it on the server object)."""
    rid = getattr(srv, "replid", None)
    if rid is None:
        rid = srv.replid = os.urandom(20).hex()
    return rid


def _replication(srv):
    primary = getattr(srv, "replication", None)  # replication/primary.py, once a replica came
    if primary is not None:
        return primary.info_fields()
    return [
        ("role", "slave" if srv.is_replica else "master"),
        ("connected_slaves", 0),
        ("master_failover_state", "no-failover"),
        ("master_replid", replid(srv)),
        ("master_replid2", "0" * 40),
        ("master_repl_offset", 0),
        ("second_repl_offset", -1),
        ("repl_backlog_active", 0),
        ("repl_backlog_size", srv.config["repl-backlog-size"]),
        ("repl_backlog_first_byte_offset", 0),
        ("repl_backlog_histlen", 0),
    ]


def _cpu(_srv):
    me = resource.getrusage(resource.RUSAGE_SELF)
    ch = resource.getrusage(resource.RUSAGE_CHILDREN)
    th = resource.getrusage(getattr(resource, "RUSAGE_THREAD", resource.RUSAGE_SELF))
    return [
        ("used_cpu_sys", "%.6f" % me.ru_stime),
        ("used_cpu_user", "%.6f" % me.ru_utime),
        ("used_cpu_sys_children", "%.6f" % ch.ru_stime),
        ("used_cpu_user_children", "%.6f" % ch.ru_utime),
        ("used_cpu_sys_main_thread", "%.6f" % th.ru_stime),
        ("used_cpu_user_main_thread", "%.6f" % th.ru_utime),
    ]


def unique_commands(srv):
    """Every registered command once (the table maps both name cases)."""
    seen = {}
    for cmd in srv.commands.values():
        seen.setdefault(id(cmd), cmd)
    return list(seen.values())


def _commandstats(srv):
    out = []
    for cmd in unique_commands(srv):
        for c in (cmd.subcommands.values() if cmd.subcommands else (cmd,)):
            if not (c.calls or c.failed_calls or c.rejected_calls):
                continue
            usec = c.usec / 1000  # Command.usec counts nanoseconds
            out.append(("cmdstat_" + c.fullname.decode(),
                        "calls=%d,usec=%d,usec_per_call=%.2f,rejected_calls=%d,failed_calls=%d"
                        % (c.calls, usec, usec / c.calls if c.calls else 0.0, c.rejected_calls,
                           c.failed_calls)))
    return out


def _errorstats(srv):
    return [("errorstat_" + name, "count=%d" % n) for name, n in sorted(srv.stats.errors.items())]


def _cluster(_srv):
    return [("cluster_enabled", 0)]


def _keyspace(srv):
    out = []
    for db in srv.keyspace.dbs:
        if db.data:
            out.append(("db%d" % db.id, "keys=%d,expires=%d,avg_ttl=%d" % (len(db.data), len(db.expires),
                                                                          db.avg_ttl)))
    return out


# Imported while the server builds its command table: close enough to start-up.
_STARTUP_USED = memory_usage()[1]

_BUILDERS = {
    "server": _server, "clients": _clients, "memory": _memory, "persistence": _persistence,
    "stats": _stats, "replication": _replication, "cpu": _cpu, "commandstats": _commandstats,
    "errorstats": _errorstats, "cluster": _cluster, "keyspace": _keyspace,
}
