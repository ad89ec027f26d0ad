"""Redis 7.0's own command documentation, as reference data for COMMAND.

`redis70_commands.json` holds, for every command and subcommand of Redis
7.0.15, what COMMAND DOCS and COMMAND INFO report beyond what a Holdfast
registration carries: the documentation map (summary, history, arguments...),
the command tips, the key specs and the ACL categories. COMMAND uses it for
the commands Holdfast implements, so redis-cli's hints and client libraries
see exactly what Redis would tell them; a command Redis does not know is
described from its registration alone.

Regenerate from a running Redis 7.0 (one JSON object per line):

    python -m engine.commands.cmdref 6379 > engine/commands/redis70_commands.json
"""

import json
import os
import sys

_PATH = os.path.join(os.path.dirname(__file__), "redis70_commands.json")
_cache = None


def load():
    """fullname (str, e.g. "config|get") -> {"docs", "tips", "key_specs", "acl"}."""
    global _cache
    if _cache is None:
        try:
            with open(_PATH, encoding="utf-8") as f:
                _cache = json.load(f)
        except (OSError, ValueError):
            _cache = {}
    return _cache


def get(fullname):
    return load().get(fullname)


# ---- generation -------------------------------------------------------------------------

def _query(port, *args):
    import socket  # noqa: PLC0415 - generation only

    import hiredis  # noqa: PLC0415

    with socket.create_connection(("127.0.0.1", port)) as s:
        reader = hiredis.Reader()

        def call(*a):
            a = [x.encode() for x in a]
            s.sendall(b"*%d\r\n" % len(a) + b"".join(b"$%d\r\n%s\r\n" % (len(x), x) for x in a))
            while True:
                r = reader.gets()
                if r is not False:
                    return r
                reader.feed(s.recv(1 << 20))

        call("HELLO", "3")
        return call(*args)


def _plain(x):
    if isinstance(x, bytes):
        return x.decode()
    if isinstance(x, dict):
        return {_plain(k): _plain(v) for k, v in x.items()}
    if isinstance(x, (list, tuple, set)):
        return [_plain(i) for i in x]
    return x


def generate(port):
    docs = _plain(_query(port, "COMMAND", "DOCS"))
    infos = _plain(_query(port, "COMMAND", "INFO"))
    out = {}

    def add_info(entry):
        name = entry[0]
        out.setdefault(name, {})
        out[name].update({"acl": entry[6], "tips": entry[7], "key_specs": entry[8]})
        for sub in entry[9]:
            add_info(sub)

    def add_docs(name, d):
        d = dict(d)
        subs = d.pop("subcommands", {})
        out.setdefault(name, {})["docs"] = d
        for sname, sd in subs.items():
            add_docs(sname, sd)

    for entry in infos:
        add_info(entry)
    for name, d in docs.items():
        add_docs(name, d)
    return out


def main(argv):
    port = int(argv[1]) if len(argv) > 1 else 6379
    data = generate(port)
    lines = ["%s: %s" % (json.dumps(k), json.dumps(data[k], separators=(",", ":"))) for k in sorted(data)]
    sys.stdout.write("{\n" + ",\n".join(lines) + "\n}\n")


if __name__ == "__main__":
    main(sys.argv)
