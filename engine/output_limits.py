"""client-output-buffer-limit for normal and pub/sub clients, as Redis's
checkClientOutputBufferLimits: a client whose unsent replies reach the
class's hard limit, or stay at or above its soft limit for longer than its
seconds, is disconnected, so a client that does not read cannot make the
server's memory grow without bound (a slow pub/sub subscriber above all:
pubsub's default is 32mb 8mb 60). Replicas have their own check in
replication/primary.py (their snapshot does not count).

The event loop calls `check(c)` whenever a write leaves a client with
unsent output (and an I/O worker's report of what it holds does the same);
the cron re-checks the clients above a soft limit, whose time can run out
without a new write.
"""

import time

from . import logsetup
from .info import client_type

LIMITED_CLASSES = ("normal", "pubsub")


class OutputLimits:
    def __init__(self, server):
        self.srv = server
        self.over_soft = {}  # client -> monotonic time it first stood at or above its soft limit
        server.cron_hooks.append(self.cron)
        server.client_free_hooks.append(self._forget)

    def check(self, c):
        cls = client_type(c)
        if cls not in LIMITED_CLASSES or c.closed:
            return
        hard, soft, secs = self.srv.config["client-output-buffer-limit"].get(cls, (0, 0, 0))
        if not hard and not soft:
            return
        used = c.output_bytes()
        if hard and used >= hard:
            self._close(c)
            return
        if soft and used >= soft:
            now = time.monotonic()
            since = self.over_soft.setdefault(c, now)
            if now - since > secs:
                self._close(c)
        else:
            self.over_soft.pop(c, None)

    def cron(self):
        for c in list(self.over_soft):
            self.check(c)

    def _close(self, c):
        logsetup.warning("Client %s scheduled to be closed ASAP for overcoming of output buffer limits.",
                         c.info_line())
        self.srv.free_client(c)

    def _forget(self, c):
        self.over_soft.pop(c, None)
