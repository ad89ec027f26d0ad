"""`appendfsync always` with the fsync off the main thread: pipelined group
commit.

Redis syncs in its main thread: read, run, write the AOF, fdatasync, send
the replies, and only then read again, so the disk's sync time and the
loop's own work add up. Here one group of replies waits for its fdatasync
(queued to the kernel's AIO, or run by a thread) while the main thread
reads and runs the next group:

    before_sleep, no sync in flight:  write the AOF buffer, start its
        fdatasync, and take every queued reply (each client's wbuf,
        joined) into the group that sync covers;
    before_sleep, a sync in flight:   write nothing; queued replies stay
        queued (they wait for the next sync, which covers their writes);
    the sync is done (an eventfd in the loop's epoll): send that group's
        replies, and hand the queued clients back to before_sleep, which
        starts the next group after one more pass of the loop (so the
        released clients' next requests join it: 58k -> 66k SET/s).

So no reply leaves before the fdatasync that covers every write it may
depend on (a read answered after an unsynced write waits for the same
sync), replies leave in order per client (groups complete in order and a
client's later replies are queued behind its held ones), and a failed
sync is fatal as in Redis.
"""

import os
import select
import threading

from engine import faults, logsetup

from .kernel_aio import KernelAio


class GroupSync:
    """One fdatasync at a time, and the replies waiting for it. The sync is
    queued to the kernel (aof/kernel_aio.py: measured 71k -> 76k SET/s, no
    thread waking up for the GIL) or, where that is missing, run by a thread."""

    def __init__(self, server, datasync, probe_fd):
        self.srv = server
        self._datasync = datasync
        self.inflight = False
        self.released = False  # a group was released in this loop iteration
        self.paused = False  # replies wait one pass of the loop before the next group starts
        self.held = []  # clients whose queued replies wait for the sync after this one
        self._group = []  # (client, reply bytes) released when the sync in flight is done
        self._request = None  # (fd, name, size) for the thread
        self._result = None  # OSError or None
        self._go = threading.Semaphore(0)
        self._done_fd = os.eventfd(0, os.EFD_NONBLOCK | os.EFD_CLOEXEC)
        self._stopping = False
        server.loop.ep.register(self._done_fd, select.EPOLLIN)
        server.other_fds[self._done_fd] = self._on_done
        self._aio = None
        if os.environ.get("HOLDFAST_AOF_SYNC") != "thread":  # tests run the fallback with it
            self._aio = KernelAio.open(self._done_fd, probe_fd)
        if self._aio is None:
            threading.Thread(target=self._run, name="aof-groupsync", daemon=True).start()
        logsetup.notice("appendfsync always: each group's fdatasync %s",
                        "runs in a thread" if self._aio is None else "is queued to the kernel (Linux AIO)")

    # -- main thread -----------------------------------------------------------------------

    def start(self, fd, name, size, on_synced):
        """The AOF buffer up to `size` is written to `fd`: sync it in the
        thread, and hold every queued reply until that is done."""
        srv = self.srv
        group = []
        for c in srv.pending_writes:
            c.in_write_list = False
            if c.closed or not c.wbuf:
                continue
            wbuf = c.wbuf
            group.append((c, wbuf[0] if len(wbuf) == 1 else b"".join(wbuf)))
            c.wbuf = []
            c.wbuf_bytes = 0
        srv.pending_writes = []
        self._group = group
        self._on_synced = on_synced
        self._request = (fd, name, size)
        self.inflight = True
        if self._aio is None:
            self._go.release()
            return
        try:
            if faults.ACTIVE:
                faults.check("aof-fsync")
            self._aio.submit(fd)
        except OSError:  # the kernel would not queue it (EAGAIN...), or a test's fault: sync here instead
            self._sync_here(fd)

    def hold(self):
        """A sync is in flight: this iteration's replies wait for the next."""
        srv = self.srv
        if srv.pending_writes:
            self.held.extend(srv.pending_writes)  # they keep in_write_list: no duplicates
            srv.pending_writes = []

    def _on_done(self, _ev):
        try:
            os.eventfd_read(self._done_fd)
        except BlockingIOError:
            return
        if self.inflight:
            self._finish()

    def _finish(self):
        err, self._result = self._result, None
        if err is None and self._aio is not None:
            err = self._aio.collect()
        if err is not None:
            logsetup.warning("Can't persist AOF for fsync error when the AOF fsync policy is 'always': %s. "
                             "Exiting..." % err.strerror)
            os._exit(1)
        _fd, name, size = self._request
        self._on_synced(name, size)
        self.inflight = False
        group, self._group = self._group, []
        self.released = True
        srv = self.srv
        srv.loop.send_released(group)
        if self.held:
            srv.pending_writes.extend(self.held)  # before_sleep starts their group
            self.held = []

    def wait(self):
        """Block until the sync in flight (if any) is done and its replies
        are sent (a rewrite switching files, shutdown, a policy change)."""
        if not self.inflight:
            return
        while True:
            try:
                os.eventfd_read(self._done_fd)
                break
            except BlockingIOError:
                _wait_readable(self._done_fd)
        self._finish()

    def close(self):
        self.wait()
        if self._aio is not None:
            self._aio.close()
        else:
            self._stopping = True
            self._go.release()
        self.srv.other_fds.pop(self._done_fd, None)
        self.srv.loop.unregister(self._done_fd)
        os.close(self._done_fd)

    # -- the sync thread -------------------------------------------------------------------

    def _run(self):
        while True:
            self._go.acquire()
            if self._stopping:
                return
            self._sync_here(self._request[0])

    def _sync_here(self, fd):
        """Run the group's fdatasync in this thread (the sync thread, or the
        main one when the kernel would not queue it), keep its error for
        _finish and wake the loop."""
        try:
            self._datasync(fd)
        except OSError as e:
            self._result = e
        os.eventfd_write(self._done_fd, 1)


def _wait_readable(fd):
    select.select([fd], [], [])
