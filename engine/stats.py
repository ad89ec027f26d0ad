"""Server-wide counters that INFO stats reports, and the instantaneous
metrics sampled by the cron (16 samples, as Redis's STATS_METRIC_SAMPLES)."""

SAMPLES = 16


class _Metric:
    __slots__ = ("samples", "idx", "last_time", "last_value")

    def __init__(self):
        self.samples = [0.0] * SAMPLES
        self.idx = 0
        self.last_time = 0
        self.last_value = 0

    def track(self, now_ms, value):
        dt = now_ms - self.last_time
        if self.last_time and dt > 0:
            self.samples[self.idx] = (value - self.last_value) * 1000 / dt
            self.idx = (self.idx + 1) % SAMPLES
        self.last_time = now_ms
        self.last_value = value

    def mean(self):
        return sum(self.samples) / SAMPLES


class Stats:
    def __init__(self):
        self.total_connections_received = 0
        self.total_commands_processed = 0
        self.rejected_connections = 0
        self.net_input_bytes = 0
        self.net_output_bytes = 0
        self.keyspace_hits = 0
        self.keyspace_misses = 0
        self.total_error_replies = 0
        self.total_reads_processed = 0  # socket reads that returned data (INFO stats)
        self.total_writes_processed = 0  # socket writes of queued replies
        self.errors = {}  # error prefix (str) -> count (INFO errorstats)
        self.evicted_keys = 0  # maxmemory (engine/eviction.py)
        self.total_eviction_exceeded_us = 0.0
        self.eviction_exceeded_since = 0.0  # monotonic time memory first stood over maxmemory, 0: it does not
        self.ops = _Metric()
        self.net_in = _Metric()
        self.net_out = _Metric()
        self._last_sample = 0

    def count_error(self, reply):
        """Count an error reply by its prefix: b'-ERR ...' counts as ERR."""
        self.total_error_replies += 1
        end = reply.find(b" ")
        if end < 0:
            end = len(reply) - 2
        prefix = reply[1:end].decode(errors="replace")
        if prefix not in self.errors and len(self.errors) >= 128:
            prefix = "ERRORSTATS_OVERFLOW"  # as Redis caps distinct error codes
        self.errors[prefix] = self.errors.get(prefix, 0) + 1

    def sample(self, now_ms):
        if now_ms - self._last_sample < 100:
            return
        self._last_sample = now_ms
        self.ops.track(now_ms, self.total_commands_processed)
        self.net_in.track(now_ms, self.net_input_bytes)
        self.net_out.track(now_ms, self.net_output_bytes)

    def reset(self):
        """CONFIG RESETSTAT."""
        self.__init__()
