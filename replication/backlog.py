"""The replication backlog: the last `repl-backlog-size` bytes of the write
stream, by replication offset, so a replica that lost its link can continue
with a partial resync (PSYNC answered +CONTINUE) instead of a full one.

Offsets are Redis's: the stream's first byte is offset 1, and
`master_repl_offset` is the offset of the last byte written. The backlog
holds the bytes [first, master_repl_offset] (`first` is
repl_backlog_first_byte_offset), histlen = master_repl_offset - first + 1.
"""


class Backlog:
    def __init__(self, size, offset):
        """An empty backlog of `size` bytes whose next byte has offset `offset + 1`."""
        self.size = size
        self.buf = bytearray(size)
        self.idx = 0  # where the next byte goes
        self.histlen = 0
        self.offset = offset  # master_repl_offset: the last byte added

    @property
    def first_byte_offset(self):
        return self.offset - self.histlen + 1

    def add(self, data):
        n = len(data)
        self.offset += n
        size = self.size
        if n >= size:  # only the tail fits
            self.buf[:] = data[n - size:]
            self.idx = 0
            self.histlen = size
            return
        end = self.idx + n
        if end <= size:
            self.buf[self.idx:end] = data
        else:
            cut = size - self.idx
            self.buf[self.idx:] = data[:cut]
            self.buf[:n - cut] = data[cut:]
        self.idx = end % size
        self.histlen = min(self.histlen + n, size)

    def covers(self, offset):
        """Whether a replica that has everything up to `offset - 1` (it
        asks for `offset`, as PSYNC's argument says) can continue from here."""
        return self.first_byte_offset <= offset <= self.offset + 1

    def since(self, offset):
        """The bytes from `offset` to the end (covers(offset) must hold)."""
        n = self.offset + 1 - offset
        if n <= 0:
            return b""
        start = (self.idx - n) % self.size
        if start + n <= self.size:
            return bytes(self.buf[start:start + n])
        return bytes(self.buf[start:]) + bytes(self.buf[:self.idx])

    def resize(self, size):
        """repl-backlog-size changed: keep as much of the history as fits."""
        tail = self.since(self.first_byte_offset)[-size:] if self.histlen else b""
        end = self.offset
        self.__init__(size, end - len(tail))
        if tail:
            self.add(tail)
