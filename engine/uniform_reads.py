"""Uniform reads: a read that is nothing but one command repeated with
arguments of the same lengths (a pipeline of `GET key`, of `SET key
value`, as load generators and bulk loaders send them) is parsed by one
struct.unpack instead of a request at a time, and run by the command's
uniform runner (commands.uniform_runner) in a few C-level calls.

`split(data)` returns (name, argc, args) when `data` is two or more whole
multibulk requests with argc arguments each, the same command name (as
sent) and the same argument lengths, each spelled as RESP spells it;
`args` holds every request's arguments after the name, request after
request. Anything else returns None and takes the general path
(engine/protocol.py): inline commands, a request cut by the read, mixed
commands or lengths, non-canonical headers.

How: the first request gives the read's shape (its name and argument
lengths). A struct format made of that shape, repeated once per request,
takes every argument from its offset in one call, skipping the headers.
The headers are then checked all at once: the arguments joined back with
the shape's headers between them must give the read itself. When they do,
the read is, byte for byte, the canonical RESP encoding of the requests
found, and a RESP read has one parse only (hiredis and Redis would find
the same), whatever bytes the arguments hold (CRLF included).

Server.run_uniform_read (engine/dispatch.py) hands the arguments to the
runner, which runs the whole read or declines it without side effects.
"""

import struct

MAX_ARGC = 9  # "*N\r\n" is 4 bytes
MAX_ARG_LEN = 64 * 1024
MAX_REQUESTS = 4096  # a read of more takes the general path
_HEADS = {b"*%d\r\n" % n: n for n in range(2, MAX_ARGC + 1)}
# Shapes by (name, argument lengths); kept small, since shapes come and go
# with clients' key and value lengths.
_SHAPES = {}
_SHAPES_MAX = 256
# Readers by (shape, requests in the read): pipelines come in a few depths.
# A reader costs memory in proportion to its requests; past this many
# requests in all, the cache starts again.
_READERS = {}
_READERS_BUDGET = 1 << 16
_readers_requests = 0


class Shape:
    """Requests of one command name with arguments of fixed lengths.

    `prefix` is such a request's bytes up to its first argument's payload
    (b"*2\r\n$3\r\nGET\r\n$16\r\n"); `row_len` its length in bytes;
    `row_format` the struct format that takes its arguments; `seps` what
    follows each argument. `reader(shape, rows)` reads a read of `rows`
    such requests."""

    __slots__ = ("prefix", "row_len", "name", "argc", "row_format", "seps")

    def __init__(self, argc, name, sizes):
        self.argc = argc
        self.name = name
        head = b"*%d\r\n$%d\r\n%s\r\n" % (argc, len(name), name)
        headers = [b"$%d\r\n" % size for size in sizes]
        self.prefix = head + headers[0]
        # Between an argument and the next: CRLF and the next header; after
        # a row's last argument: CRLF and the next row's prefix.
        self.seps = [b"\r\n" + h for h in headers[1:]] + [b"\r\n" + self.prefix]
        # Skip the headers, take each argument, skip its CRLF.
        fields = ("%dx%ds2x" % (len(h), size) for h, size in zip(headers, sizes, strict=True))
        self.row_format = "%dx" % len(head) + "".join(fields)
        self.row_len = len(head) + sum(map(len, headers)) + sum(sizes) + 2 * len(sizes)


def reader(shape, rows):
    """(unpack, template) for a read of `rows` requests of `shape`: a struct
    unpack that takes every argument, and the list that, with those
    arguments put in its odd slots, joins into the read's canonical bytes.
    The template keeps the last read's arguments until the next one."""
    global _readers_requests
    r = _READERS.get((shape, rows))
    if r is None:
        if _readers_requests + rows > _READERS_BUDGET:
            _READERS.clear()
            _readers_requests = 0
        seps = shape.seps * rows
        seps[-1] = b"\r\n"  # the read's last request ends it
        template = [shape.prefix]
        for sep in seps:
            template += (None, sep)
        r = _READERS[(shape, rows)] = (struct.Struct("<" + shape.row_format * rows).unpack, template)
        _readers_requests += rows
    return r


# The last uniform read's shape: most reads repeat it, and then the first
# request need not be read in Python.
_last = Shape(2, b"\0", [0])


def split(data):
    """(name, argc, args) for a uniform read (see the module's doc), or None;
    args holds every request's arguments after the name, request after
    request."""
    global _last
    shape = _last
    n = len(data)
    if not data.startswith(shape.prefix) or n % shape.row_len or n == shape.row_len:
        shape = _shape_of(data)
        if shape is None or n % shape.row_len or n == shape.row_len:
            return None
    rows = n // shape.row_len
    if rows > MAX_REQUESTS:
        return None
    unpack, template = reader(shape, rows)
    args = unpack(data)
    template[1::2] = args
    if b"".join(template) != data:
        return None  # a header is not what the shape says: not uniform after all
    _last = shape
    return shape.name, shape.argc, args


def _shape_of(data):
    """The shape of the read's first request, if it can start a uniform read."""
    head = data[:4]
    argc = _HEADS.get(head)
    if argc is None or data.find(head, 4) < 0:
        return None  # not a multibulk of 2-9 arguments, or (most likely) one request
    sizes = []
    pos = 4
    try:
        for _ in range(argc):
            eol = data.index(b"\r\n", pos, pos + 12)
            if data[pos] != 36:  # '$'
                return None
            size = int(data[pos + 1:eol])
            if not 0 <= size < MAX_ARG_LEN:
                return None
            if not sizes:
                name_at = eol + 2
            sizes.append(size)
            pos = eol + 4 + size
    except ValueError:  # no CRLF where a header must end, or not a number
        return None
    name = data[name_at:name_at + sizes[0]]
    key = (name, *sizes[1:])
    return _SHAPES.get(key) or _compile(key, argc)


def _compile(key, argc):
    """A new shape, kept for the next reads that have it."""
    if len(_SHAPES) >= _SHAPES_MAX:
        _SHAPES.clear()
    shape = _SHAPES[key] = Shape(argc, key[0], key[1:])
    return shape
