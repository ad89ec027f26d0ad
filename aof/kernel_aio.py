"""fdatasync submitted to the kernel (Linux AIO, IOCB_CMD_FDSYNC, 4.18+):
the sync runs in a kernel worker and signals an eventfd when done, so no
Python thread has to wake up, take the GIL and call fdatasync.

Only the four system calls and two structures of linux/aio_abi.h are
needed, through ctypes. `KernelAio.open()` returns None where any of it is
missing (another OS, an architecture not listed, a kernel or filesystem
that refuses aio fsync): the caller falls back to a thread."""

import ctypes
import errno
import os
import platform
import select

# io_setup, io_destroy, io_getevents, io_submit
_SYSCALLS = {"x86_64": (206, 207, 208, 209), "aarch64": (0, 1, 4, 2)}
IOCB_CMD_FDSYNC = 3
IOCB_FLAG_RESFD = 1
PROBE_TIMEOUT_S = 5.0


class _Iocb(ctypes.Structure):  # struct iocb, little-endian field order
    _fields_ = [("aio_data", ctypes.c_uint64), ("aio_key", ctypes.c_uint32), ("aio_rw_flags", ctypes.c_int32),
                ("aio_lio_opcode", ctypes.c_uint16), ("aio_reqprio", ctypes.c_int16),
                ("aio_fildes", ctypes.c_uint32), ("aio_buf", ctypes.c_uint64), ("aio_nbytes", ctypes.c_uint64),
                ("aio_offset", ctypes.c_int64), ("aio_reserved2", ctypes.c_uint64), ("aio_flags", ctypes.c_uint32),
                ("aio_resfd", ctypes.c_uint32)]


class _Event(ctypes.Structure):  # struct io_event
    _fields_ = [("data", ctypes.c_uint64), ("obj", ctypes.c_uint64), ("res", ctypes.c_int64),
                ("res2", ctypes.c_int64)]


class KernelAio:
    """One fdatasync in flight at a time; completion raises `eventfd`."""

    def __init__(self, libc, nrs, ctx, eventfd):
        self._syscall = libc.syscall
        self._setup, self._destroy, self._getevents, self._submit = nrs
        self._ctx = ctx
        self.eventfd = eventfd
        self._iocb = _Iocb()
        self._iocb.aio_lio_opcode = IOCB_CMD_FDSYNC
        self._iocb.aio_flags = IOCB_FLAG_RESFD
        self._iocb.aio_resfd = eventfd
        self._list = (ctypes.POINTER(_Iocb) * 1)(ctypes.pointer(self._iocb))
        self._events = (_Event * 1)()

    @classmethod
    def open(cls, eventfd, probe_fd):
        """A context whose fdatasync of `probe_fd` was seen to work, or None."""
        if platform.system() != "Linux" or platform.machine() not in _SYSCALLS:
            return None
        try:
            libc = ctypes.CDLL(None, use_errno=True)
        except OSError:
            return None
        libc.syscall.restype = ctypes.c_long
        nrs = _SYSCALLS[platform.machine()]
        ctx = ctypes.c_ulong(0)
        if libc.syscall(nrs[0], 1, ctypes.byref(ctx)) != 0:
            return None
        aio = cls(libc, nrs, ctx, eventfd)
        try:
            aio.submit(probe_fd)
            if not select.select([eventfd], [], [], PROBE_TIMEOUT_S)[0]:
                raise OSError(errno.ETIMEDOUT, "no completion")
            os.eventfd_read(eventfd)
            if aio.collect() is not None:
                raise OSError
        except OSError:
            aio.close()
            return None
        return aio

    def submit(self, fd):
        self._iocb.aio_fildes = fd
        if self._syscall(self._submit, self._ctx, 1, self._list) != 1:
            e = ctypes.get_errno()
            raise OSError(e, os.strerror(e))

    def collect(self):
        """After the eventfd fired: None, or the sync's OSError."""
        n = self._syscall(self._getevents, self._ctx, 1, 1, self._events, None)
        if n != 1:
            e = ctypes.get_errno() or errno.EIO
            return OSError(e, os.strerror(e))
        res = self._events[0].res
        if res < 0:
            return OSError(-res, os.strerror(-res))
        return None

    def close(self):
        self._syscall(self._destroy, self._ctx)

