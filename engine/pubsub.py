"""Pub/sub state and delivery, and keyspace notifications on top of it.

Channels and patterns map to the clients subscribed to them, in subscription
order. Messages are written to subscribers' output buffers as RESP2 arrays or
RESP3 pushes (`>`), the shape each subscriber negotiated with HELLO. Redis
Sentinel talks to its primaries through this (the `__sentinel__:hello`
channel), so the wire format is Redis's exactly.
"""

from . import resp
from .util import glob_matcher

_MESSAGE = resp.bulk(b"message")
_PMESSAGE = resp.bulk(b"pmessage")

# notify-keyspace-events class letters (Redis's NOTIFY_* flags). 'A' is an
# alias for every class of events except 'm' (key miss) and 'n' (new key).
_ALL_CLASSES = "g$lshzxetd"


class PubSub:
    def __init__(self, server):
        self.server = server
        self.channels = {}  # channel -> {client: None}, insertion ordered
        self.patterns = {}  # pattern -> {client: None}
        self._matchers = {}  # pattern -> match function
        self.notify_classes = ""  # parsed notify-keyspace-events
        self.notify_keyspace = False
        self.notify_keyevent = False
        server.config.on_change("notify-keyspace-events", lambda _o, new: self.set_notify_flags(new))
        self.set_notify_flags(server.config["notify-keyspace-events"])
        server.client_free_hooks.append(self.unsubscribe_all)

    # -- subscriptions ---------------------------------------------------------------

    def subscribe(self, c, channel):
        if c.subscriptions is None:
            c.subscriptions = {}
        new = channel not in c.subscriptions
        if new:
            c.subscriptions[channel] = None
            self.channels.setdefault(channel, {})[c] = None
        c.update_gate()
        return new

    def unsubscribe(self, c, channel):
        if not c.subscriptions or channel not in c.subscriptions:
            return False
        del c.subscriptions[channel]
        subs = self.channels.get(channel)
        if subs is not None:
            subs.pop(c, None)
            if not subs:
                del self.channels[channel]
        c.update_gate()
        return True

    def psubscribe(self, c, pattern):
        if c.psubscriptions is None:
            c.psubscriptions = {}
        new = pattern not in c.psubscriptions
        if new:
            c.psubscriptions[pattern] = None
            self.patterns.setdefault(pattern, {})[c] = None
            self._matchers[pattern] = glob_matcher(pattern)
        c.update_gate()
        return new

    def punsubscribe(self, c, pattern):
        if not c.psubscriptions or pattern not in c.psubscriptions:
            return False
        del c.psubscriptions[pattern]
        subs = self.patterns.get(pattern)
        if subs is not None:
            subs.pop(c, None)
            if not subs:
                del self.patterns[pattern]
                self._matchers.pop(pattern, None)
        c.update_gate()
        return True

    def unsubscribe_all(self, c):
        for ch in list(c.subscriptions or ()):
            self.unsubscribe(c, ch)
        for pat in list(c.psubscriptions or ()):
            self.punsubscribe(c, pat)

    @staticmethod
    def count(c):
        return len(c.subscriptions or ()) + len(c.psubscriptions or ())

    # -- delivery ------------------------------------------------------------------------

    def publish(self, channel, message):
        """Deliver to channel and pattern subscribers; returns receivers."""
        receivers = 0
        subs = self.channels.get(channel)
        if subs:
            body = _MESSAGE + resp.bulk(channel) + resp.bulk(message)
            for c in list(subs):
                c.write_push((b">3\r\n" if c.resp >= 3 else b"*3\r\n") + body)
                receivers += 1
        if self.patterns:
            tail = resp.bulk(channel) + resp.bulk(message)
            for pattern, psubs in list(self.patterns.items()):
                if self._matchers[pattern](channel):
                    body = _PMESSAGE + resp.bulk(pattern) + tail
                    for c in list(psubs):
                        c.write_push((b">4\r\n" if c.resp >= 3 else b"*4\r\n") + body)
                        receivers += 1
        return receivers

    # -- keyspace notifications -------------------------------------------------------

    def set_notify_flags(self, text):
        classes = ""
        for ch in text:
            if ch == "A":
                classes += _ALL_CLASSES
            elif ch not in "KE":
                classes += ch
        self.notify_classes = classes
        self.notify_keyspace = "K" in text
        self.notify_keyevent = "E" in text
        active = bool(classes) and (self.notify_keyspace or self.notify_keyevent)
        self.server.notify_hook = self.notify if active else None
        ks = self.server.keyspace
        ks.notify_new = active and "n" in classes
        ks.notify_miss = active and "m" in classes

    def notify(self, dbid, type_flag, event, key):
        """Publish `__keyspace@db__:key -> event` and/or
        `__keyevent@db__:event -> key` when the event's class is enabled."""
        if type_flag.decode() not in self.notify_classes:
            return
        if self.notify_keyspace:
            self.publish(b"__keyspace@%d__:%s" % (dbid, key), event)
        if self.notify_keyevent:
            self.publish(b"__keyevent@%d__:%s" % (dbid, event), key)
