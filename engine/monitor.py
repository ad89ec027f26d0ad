"""MONITOR: every command that runs, shown to monitoring clients in Redis's
format (`+<unix time> [<db> <addr>] "arg" ...`), after it ran, so the db is
the one it left selected. As Redis: admin commands are not shown, and
AUTH/HELLO passwords are redacted."""

import time


def feed(server, c, argv, cmd=None):
    """Send the line for `argv`, run by client `c`, to every monitor but `c`."""
    if cmd is not None:
        if cmd.subcommands and len(argv) > 1:
            cmd = cmd.subcommands.get(argv[1].lower(), cmd)
        if "admin" in cmd.flags or "skip-monitor" in cmd.flags:
            return
        if cmd.name in _REDACTED_ARGS:
            argv = _REDACTED_ARGS[cmd.name](argv)
    ts = time.time()
    parts = []
    for a in argv:
        parts.append(b'"' + _repr_arg(a) + b'"')
    addr = "unix:" + server.config["unixsocket"] if c.unix else c.addr
    line = b"+%.6f [%d %s] %s\r\n" % (ts, c.db.id, addr.encode(), b" ".join(parts))
    for m in server.monitors:
        if m is not c:
            m.write_push(line)


def _redact_hello(argv):
    out = list(argv)
    for i in range(2, len(out) - 2):
        if out[i].upper() == b"AUTH":
            out[i + 2] = b"(redacted)"
    return out


_REDACTED_ARGS = {
    b"auth": lambda argv: argv[:1] + [b"(redacted)"] * (len(argv) - 1),
    b"hello": _redact_hello,
}


def _repr_arg(a):
    """Quote an argument as MONITOR does (sdscatrepr)."""
    out = bytearray()
    for ch in a:
        if ch == 34 or ch == 92:
            out += b"\\" + bytes([ch])
        elif ch == 10:
            out += b"\\n"
        elif ch == 13:
            out += b"\\r"
        elif ch == 9:
            out += b"\\t"
        elif ch == 7:
            out += b"\\a"
        elif ch == 8:
            out += b"\\b"
        elif 32 <= ch < 127:
            out.append(ch)
        else:
            out += b"\\x%02x" % ch
    return bytes(out)
