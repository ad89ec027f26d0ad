"""SLOWLOG: commands that ran longer than slowlog-log-slower-than microseconds."""

import collections
import itertools
import time

MAX_ARGC = 32  # SLOWLOG_ENTRY_MAX_ARGC
MAX_STRING = 128  # SLOWLOG_ENTRY_MAX_STRING


class SlowLog:
    def __init__(self):
        self.entries = collections.deque()
        self._ids = itertools.count(0)

    def add(self, c, argv, duration_us, max_len):
        if max_len <= 0:
            return
        args = []
        n = min(len(argv), MAX_ARGC)
        for i in range(n):
            if n < len(argv) and i == n - 1:
                args.append(b"... (%d more arguments)" % (len(argv) - n + 1))
                break
            a = argv[i]
            if len(a) > MAX_STRING:
                a = a[:MAX_STRING] + b"... (%d more bytes)" % (len(a) - MAX_STRING)
            args.append(a)
        self.entries.appendleft((next(self._ids), int(time.time()), duration_us, args,
                                 c.addr.encode(), c.name))
        while len(self.entries) > max_len:
            self.entries.pop()

    def get(self, count=10):
        if count < 0:
            return list(self.entries)
        return list(itertools.islice(self.entries, count))

    def reset(self):
        self.entries.clear()
