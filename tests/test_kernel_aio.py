"""aof/kernel_aio.py on this kernel: a queued fdatasync completes through
the eventfd, and one the kernel refuses comes back as the OSError that
fdatasync itself would raise (the server treats it as fatal)."""

import errno
import os
import select

import pytest

from aof.kernel_aio import KernelAio


@pytest.fixture
def aio_on(tmp_path):
    efd = os.eventfd(0, os.EFD_NONBLOCK)
    fd = os.open(tmp_path / "f", os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
    aio = KernelAio.open(efd, fd)
    if aio is None:
        pytest.skip("no Linux AIO fdatasync here (the server falls back to a thread)")
    yield aio, efd, fd
    aio.close()
    os.close(fd)
    os.close(efd)


def _completed(efd):
    assert select.select([efd], [], [], 5)[0], "no completion within 5 s"
    return os.eventfd_read(efd)


def test_a_queued_fdatasync_completes(aio_on):
    aio, efd, fd = aio_on
    for _ in range(3):
        os.write(fd, b"x" * 100)
        aio.submit(fd)
        assert _completed(efd) == 1
        assert aio.collect() is None


def test_a_refused_sync_is_an_oserror(aio_on):
    aio, efd, _fd = aio_on
    r, w = os.pipe()  # fdatasync of a pipe: EINVAL
    try:
        try:
            aio.submit(r)
        except OSError as e:  # refused at submission
            assert e.errno == errno.EINVAL
            return
        _completed(efd)
        err = aio.collect()
        assert isinstance(err, OSError) and err.errno == errno.EINVAL
    finally:
        os.close(r)
        os.close(w)
