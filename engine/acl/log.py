"""ACL LOG: the security log of denied commands, keys, channels and failed
authentications, newest first, with Redis 7.0's grouping of repeats (same
reason, context, object and user within 60 s bump the entry's count)."""

import time

from .. import resp
from .check import DENIED_AUTH, DENIED_CHANNEL, DENIED_CMD, DENIED_KEY

_REASONS = {DENIED_CMD: b"command", DENIED_KEY: b"key", DENIED_CHANNEL: b"channel", DENIED_AUTH: b"auth"}
GROUPING_MS = 60000  # ACL_LOG_GROUPING_MAX_TIME_DELTA
SCAN = 10  # how many recent entries a new one is compared with


class Entry:
    __slots__ = ("count", "reason", "context", "object", "username", "ctime", "cinfo")


class AclLog:
    def __init__(self):
        self.entries = []  # newest first

    def add(self, reason, context, obj, username, cinfo, max_len):
        now = int(time.time() * 1000)
        for i, e in enumerate(self.entries[:SCAN]):
            if (e.reason == reason and e.context == context and abs(e.ctime - now) <= GROUPING_MS
                    and e.object == obj and e.username == username):
                e.cinfo, e.ctime = cinfo, now
                e.count += 1
                del self.entries[i]
                self.entries.insert(0, e)
                return
        e = Entry()
        e.count, e.reason, e.context, e.object, e.username, e.ctime, e.cinfo = \
            1, reason, context, obj, username, now, cinfo
        self.entries.insert(0, e)
        del self.entries[max(max_len, 0):]

    def reset(self):
        self.entries = []

    def reply(self, count, r):
        now = int(time.time() * 1000)
        out = []
        for e in self.entries[:count]:
            out.append(resp.map_([
                (resp.bulk(b"count"), resp.integer(e.count)),
                (resp.bulk(b"reason"), resp.bulk(_REASONS.get(e.reason, b"unknown"))),
                (resp.bulk(b"context"), resp.bulk(e.context)),
                (resp.bulk(b"object"), resp.bulk(e.object)),
                (resp.bulk(b"username"), resp.bulk(e.username)),
                (resp.bulk(b"age-seconds"), resp.double((now - e.ctime) / 1000, r)),
                (resp.bulk(b"client-info"), resp.bulk(e.cinfo)),
            ], r))
        return resp.array(out)
