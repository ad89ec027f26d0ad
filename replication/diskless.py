"""Diskless full sync (repl-diskless-sync yes, Redis 7's default): the fork
child writes the RDB into a pipe instead of a file, and the parent streams
it to the waiting replicas as it comes, framed as Redis frames it:

    $EOF:<40 random characters>\\r\\n  <the RDB bytes>  <the same 40 characters>

since the length is not known in advance. Only replicas that announced
`REPLCONF capa eof` are served this way. The transfer ends when both the
pipe reached its end and the child exited successfully; then each replica
gets the stream collected since the fork and goes online. A failed child
drops the replicas it was serving (they reconnect and ask again).
"""

import os
import secrets

from engine import logsetup

READ_CHUNK = 1 << 16
CHUNKS_PER_EVENT = 16  # at most 1 MiB per wake-up, so other clients are served meanwhile


class DisklessTransfer:
    def __init__(self, primary, links):
        self.primary = primary
        self.srv = primary.srv
        self.links = links
        self.mark = secrets.token_hex(20).encode()  # 40 characters
        self.rfd = None
        self.eof = False
        self.child_ok = None  # None while the child runs
        self.bytes = 0

    def start(self):
        """Fork the child; None, or the fork error."""
        r, w = os.pipe()
        err = self.srv.snapshots.fork_child("rdb", "temp-%d.rdb", self._child_done, pipe_fd=w)
        os.close(w)  # the child holds the write end; EOF comes when it is done
        if err is not None:
            os.close(r)
            return err
        os.set_blocking(r, False)
        self.rfd = r
        self.srv.other_fds[r] = self._readable
        self.srv.loop.ep.register(r, 0x001)  # EPOLLIN
        for link in self.links:
            link.client.write(b"$EOF:%s\r\n" % self.mark)
        logsetup.notice("Starting BGSAVE for SYNC with target: replicas sockets")
        return None

    def _readable(self, _ev):
        for _ in range(CHUNKS_PER_EVENT):
            try:
                chunk = os.read(self.rfd, READ_CHUNK)
            except BlockingIOError:
                return
            except OSError as e:
                logsetup.warning("Diskless sync: reading the child's pipe: %s", e.strerror)
                chunk = b""
            if not chunk:
                self._close_pipe()
                self.eof = True
                self._maybe_finish()
                return
            self.bytes += len(chunk)
            for link in self.links:
                if not link.client.closed:
                    link.client.write(chunk)

    def _close_pipe(self):
        if self.rfd is not None:
            self.srv.other_fds.pop(self.rfd, None)
            self.srv.loop.unregister(self.rfd)
            os.close(self.rfd)
            self.rfd = None

    def _child_done(self, ok, _tmp, _outcome):
        self.child_ok = ok
        if not ok:
            self._close_pipe()
            logsetup.warning("Diskless rdb transfer, done reading from pipe, 0 replicas still up.")
            for link in self.links:
                self.srv.free_client(link.client)
            self.primary.transfer_done(self)
            return
        logsetup.notice("Background RDB transfer terminated with success")
        if not self.eof:
            self._readable(None)  # what is left in the pipe
        self._maybe_finish()

    def _maybe_finish(self):
        if not (self.eof and self.child_ok):
            return
        for link in self.links:
            c = link.client
            if c.closed:
                continue
            c.write(self.mark)
            # As Redis: the stream starts only after the replica's first ACK,
            # so the mark is the last thing it reads (a Redis replica looks
            # for it at the end of each read).
            self.primary.await_first_ack(link)
        logsetup.notice("Diskless sync of %d bytes to %d replica(s) done", self.bytes, len(self.links))
        self.primary.transfer_done(self)
