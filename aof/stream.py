"""Reading an AOF command stream: RESP multibulk commands, one after
another, with annotation lines (`#...\\r\\n`, such as Redis's `#TS:`) that
a loader skips. Used for incremental files and AOF-form base files.

`commands(buf)` yields (argv, offset after the command). At the end of the
buffer it tells a torn tail (a command cut short: `AofTruncated`, with the
offset where the last complete command ended, so `aof-load-truncated` can
cut the file there) from bad data in the middle (`AofCorrupt`, with the
offset and what was wrong), as Redis's loadSingleAppendOnlyFile does.
"""

MAX_ARGS = 1 << 20  # far above any real command; a corrupt count fails fast
MAX_BULK = 512 * 1024 * 1024  # proto-max-bulk-len's default


class AofCorrupt(Exception):
    def __init__(self, offset, message):
        super().__init__(message)
        self.offset = offset
        self.message = message


class AofTruncated(Exception):
    def __init__(self, good_until):
        super().__init__("unexpected end of file")
        self.good_until = good_until


def _line(buf, pos, start):
    """(the line at `pos` without CRLF, position after it); a line that does
    not end before the buffer does is a torn tail."""
    end = buf.find(b"\r\n", pos)
    if end < 0:
        raise AofTruncated(start)
    return buf[pos:end], end + 2


def _number(line, what, at, limit):
    try:
        n = int(line)
    except ValueError:
        raise AofCorrupt(at, "expected %s" % what) from None
    if n < 0 or n > limit:
        raise AofCorrupt(at, "%s %d out of range" % (what, n))
    return n


def commands(buf, pos=0, annotations=None):
    """Yield (argv, offset after it); annotation lines are skipped, or
    appended to `annotations` as (offset, line) when a list is given."""
    n_buf = len(buf)
    while pos < n_buf:
        start = pos
        first = buf[pos]
        if first == 0x23:  # '#': an annotation line
            line, pos = _line(buf, pos, start)
            if annotations is not None:
                annotations.append((start, line))
            continue
        if first != 0x2A:  # '*'
            raise AofCorrupt(pos, "expected '*' at the start of a command, found %r" % bytes(buf[pos:pos + 1]))
        line, pos = _line(buf, pos + 1, start)
        argc = _number(line, "an argument count", start, MAX_ARGS)
        if argc == 0:
            raise AofCorrupt(start, "a command with no arguments")
        argv = []
        for _ in range(argc):
            if pos >= n_buf:
                raise AofTruncated(start)
            if buf[pos] != 0x24:  # '$'
                raise AofCorrupt(pos, "expected '$' before an argument")
            at = pos
            line, pos = _line(buf, pos + 1, start)
            n = _number(line, "an argument length", at, MAX_BULK)
            if pos + n + 2 > n_buf:
                raise AofTruncated(start)
            if buf[pos + n:pos + n + 2] != b"\r\n":
                raise AofCorrupt(pos + n, "an argument not followed by CRLF")
            argv.append(bytes(buf[pos:pos + n]))
            pos += n + 2
        yield argv, pos
