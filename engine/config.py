"""Configuration: redis.conf parsing, `--name value` flags, and the values
CONFIG GET / SET / REWRITE work on. The table of keys is config_options.py.

Names, defaults, units and error texts follow Redis 7.0. Each entry knows how
to parse a value, how to print it back, whether it may change at runtime and
which hook (if any) applies a change to the running server.
"""

import glob
import os

from .config_options import (  # noqa: F401 - re-exported: the config API lives here
    COB_CLASSES,
    COB_NAMES,
    INT_MAX,
    LLONG_MAX,
    OPTIONS,
    UINT_MAX,
    ConfigError,
    ConfigFileError,
    Option,
    apply_dir,
    lookup,
)
from .protocol import split_args
from .util import glob_matcher

VERSION = "7.0.15"  # the Redis version we speak as (INFO redis_version, HELLO)
HOLDFAST_VERSION = "0.1.0"


class Config:
    """The running configuration: `cfg["port"]` reads a value; `set` validates
    and applies through hooks registered by subsystems (`on_change`)."""

    def __init__(self):
        self.values = {o.name: _copy(o.default) for o in OPTIONS}
        self.file = None  # absolute path of the config file, for CONFIG REWRITE
        self.hooks = {}  # name -> fn(old, new) applying a runtime change
        self.renamed_commands = {}  # rename-command old -> new (b"" disables)
        self.loaded_from_file = {}  # name -> raw text as the file/flags gave it
        self.acl_users = []  # `user` lines, checked: [name, rule, ...] (bytes), loaded by engine/acl
        self.user_lines = None  # fn() -> the `user` lines CONFIG REWRITE writes (engine/acl sets it)
        self.on_change("dir", apply_dir)
        self.on_change("repl-backlog-size", self._clamp_backlog)

    def __getitem__(self, name):
        return self.values[name]

    def get(self, name, default=None):
        return self.values.get(name, default)

    def on_change(self, name, fn):
        self.hooks.setdefault(name, []).append(fn)

    def _clamp_backlog(self, _old, new):
        # CONFIG SET repl-backlog-size: at least 16kb (CONFIG_REPL_BACKLOG_MIN_SIZE);
        # a config file's value is kept as written, as Redis does
        if new is not None and new < 16384:
            self.values["repl-backlog-size"] = 16384

    # -- loading ------------------------------------------------------------------

    def load_text(self, text, source="config"):
        """Apply redis.conf text. Raises ConfigError with line information."""
        for lineno, raw in enumerate(text.splitlines(), 1):
            line = raw.strip()
            if not line or line.startswith("#"):
                continue
            argv = split_args(line.encode())
            if argv is None:
                raise ConfigError(_fatal(lineno, raw, "Unbalanced quotes in configuration line"))
            if not argv:
                continue
            name = argv[0].decode(errors="replace").lower()
            args = [a.decode(errors="surrogateescape") for a in argv[1:]]
            try:
                self._apply_directive(name, args)
            except ConfigFileError:
                raise
            except ConfigError as e:
                raise ConfigError(_fatal(lineno, raw, str(e))) from None

    def read_file(self, path):
        """The main config file's text; remembers its path for CONFIG REWRITE."""
        text = _read_conf(path)
        self.file = os.path.abspath(path)
        return text

    def load_file(self, path):
        self.file = os.path.abspath(path)
        self.load_text(_read_conf(path))

    def _apply_directive(self, name, args):
        if name == "include":
            if len(args) != 1:
                raise ConfigError("Bad directive or wrong number of arguments")
            pattern = args[0]
            if any(ch in pattern for ch in "*?["):
                paths = sorted(glob.glob(pattern))  # Redis 7.0 includes every match
            else:
                paths = [pattern]
            for path in paths:
                self.load_text(_read_conf(path))  # CONFIG REWRITE keeps to the main file
            return
        if name == "user" and args:
            from .acl.aclfile import check_config_user  # noqa: PLC0415 - only configs that declare users

            try:
                self.acl_users.append(check_config_user(args, {u[0] for u in self.acl_users}))
            except ValueError as e:
                raise ConfigError(str(e)) from None
            return
        if name == "rename-command":
            if len(args) != 2:
                raise ConfigError("Bad directive or wrong number of arguments")
            self._rename_command(args[0].lower().encode(), args[1].encode())
            return
        opt = lookup(name)
        if opt is None:
            raise ConfigError("Bad directive or wrong number of arguments")
        if opt.name == "save" and self.loaded_from_file.get("save") is not None and args and args != [""]:
            # Several `save` lines accumulate, as in redis.conf.
            text = self.loaded_from_file["save"] + " " + " ".join(args)
        elif opt.multi_arg:
            text = " ".join(args)
        else:
            if len(args) != 1:
                raise ConfigError("wrong number of arguments")
            text = args[0]
        self.values[opt.name] = _merged(opt, self.values[opt.name], opt.parse(text))
        self.loaded_from_file[opt.name] = text

    def _rename_command(self, old, new):
        """rename-command OLD NEW (NEW "" disables), checked as Redis does
        against the commands as already renamed by earlier lines."""
        from .commands import load_all  # noqa: PLC0415 - only when a config renames commands

        current = {}  # name now -> original name
        for orig in load_all():
            current[orig] = orig
        for orig, now in self.renamed_commands.items():
            current.pop(orig, None)
            if now:
                current[now.lower()] = orig
        if old not in current:
            raise ConfigError("No such command in rename-command")
        if new and new.lower() in current:
            raise ConfigError("Target command name already exists")
        self.renamed_commands[current[old]] = new

    # -- runtime access (CONFIG GET / SET) -----------------------------------------

    def get_matching(self, patterns):
        """CONFIG GET: [(name, text)] for every option matching any glob
        (case-insensitive). An exact name answers under the name as given,
        as Redis does; a glob lists canonical names and matching aliases."""
        out = {}
        canonical_done = set()
        for pat in patterns:
            if not any(ch in pat for ch in b"*?["):
                name = pat.decode(errors="replace")
                o = lookup(name)
                if o is not None and name not in out:
                    out[name] = o.format(self.values[o.name])
                continue
            m = glob_matcher(pat, nocase=True)
            for o in OPTIONS:
                if o.hidden:
                    continue
                for n in (o.name,) + o.aliases:
                    if n in out or (n == o.name and o.name in canonical_done):
                        continue
                    if m(n.encode()):
                        out[n] = o.format(self.values[o.name])
                        if n == o.name:
                            canonical_done.add(n)
        return list(out.items())

    def set_many(self, pairs, local=False):
        """CONFIG SET with several pairs, all or nothing, checked in Redis's
        order: names first (unknown, immutable, protected, duplicate -- the
        first offending pair wins), then every value is parsed, then hooks
        apply them; if a hook fails, the ones already applied are rolled
        back. `local`: the request came over a local connection (for
        enable-protected-configs local)."""
        prot = self.values.get("enable-protected-configs", "no")
        allow_protected = prot == "yes" or (prot == "local" and local)
        opts = []
        for name, _text in pairs:
            opt = lookup(name)
            if opt is None:
                raise ConfigError("Unknown option or number of arguments for CONFIG SET - '%s'" % name)
            if not opt.mutable or (opt.protected and not allow_protected):
                raise ConfigError("CONFIG SET failed (possibly related to argument '%s') - can't set %s config"
                                  % (name, "immutable" if not opt.mutable else "protected"))
            if opt in opts:
                raise ConfigError("CONFIG SET failed (possibly related to argument '%s') - duplicate parameter"
                                  % name)
            opts.append(opt)
        staged = []
        for opt, (name, text) in zip(opts, pairs, strict=True):
            try:
                staged.append((opt, _merged(opt, self.values[opt.name], opt.parse(text))))
            except ConfigError as e:
                raise ConfigError("CONFIG SET failed (possibly related to argument '%s') - %s"
                                  % (name.lower(), e)) from None
        applied = []
        try:
            for opt, new in staged:
                old = self.values[opt.name]
                self.values[opt.name] = new
                applied.append((opt, old))
                for hook in self.hooks.get(opt.name, ()):
                    hook(old, new)
        except ConfigError as e:
            failed = opt.name
            for done, old in reversed(applied):
                self.values[done.name] = old
                for hook in self.hooks.get(done.name, ()):
                    try:
                        hook(None, old)
                    except ConfigError:
                        pass
            raise ConfigError("CONFIG SET failed (possibly related to argument '%s') - %s" % (failed, e)) from None

    # -- CONFIG REWRITE ----------------------------------------------------------

    def rewrite(self):
        """Rewrite the config file in place: lines of options whose value
        differs from the file are replaced, options that differ from their
        default but are absent are appended, comments are kept."""
        if not self.file:
            raise ConfigError("The server is running without a config file")
        try:
            with open(self.file, encoding="utf-8", errors="surrogateescape") as f:
                lines = f.read().splitlines()
        except FileNotFoundError:
            lines = []
        out, done = [], set()
        users = list(self.user_lines()) if self.user_lines is not None else None
        for raw in lines:
            s = raw.strip()
            argv = split_args(s.encode()) if s and not s.startswith("#") else None
            if not argv:
                out.append(raw)
                continue
            if users is not None and argv[0].lower() == b"user":
                out.append(users.pop(0) if users else "")  # users take the old lines' places, in order
                continue
            opt = lookup(argv[0].decode(errors="replace"))
            if opt is None:
                out.append(raw)
                continue
            if opt.name in done:
                out.append("")  # repeated lines (save, ...): Redis blanks them
                continue
            done.add(opt.name)
            out.extend(self._rewrite_lines(opt))
        extra = []
        for o in OPTIONS:
            if o.name in done:
                continue
            # dir is always written (Redis: the absolute working directory)
            if o.name == "dir" or o.format(self.values[o.name]) != o.format(o.default):
                extra.extend(self._rewrite_lines(o))
        extra += users or []
        if extra:
            if _SIGNATURE not in (x.strip() for x in out):
                if out and out[-1].strip():
                    out.append("")
                out.append(_SIGNATURE)
            out.extend(extra)
        tmp = self.file + ".tmp-%d" % os.getpid()
        with open(tmp, "w", encoding="utf-8", errors="surrogateescape") as f:
            f.write("\n".join(out) + "\n")
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, self.file)

    def _rewrite_lines(self, opt):
        v = self.values[opt.name]
        if opt.name == "save":
            if not v:
                return ['save ""']
            return ["save %d %d" % p for p in v]
        if opt.name == "client-output-buffer-limit":
            # as Redis: only the classes that differ from their defaults
            return ["client-output-buffer-limit %s %s %s %d" % (COB_NAMES[c], _human_bytes(v[c][0]),
                                                               _human_bytes(v[c][1]), v[c][2])
                    for c in COB_CLASSES if c in v and v[c] != opt.default.get(c)]
        if opt.kind == "memory":
            return ["%s %s" % (opt.name, _human_bytes(v))]
        text = opt.format(v)
        if opt.multi_arg:
            return ["%s %s" % (opt.name, text)] if text else []
        if opt.kind in ("string", "special"):
            return ["%s %s" % (opt.name, _repr_quote(text))]  # Redis quotes every string option
        return ["%s %s" % (opt.name, _quote(text))]


_SIGNATURE = "# Generated by CONFIG REWRITE"


def _human_bytes(n):
    """rewriteConfigBytesOption: 1gb / 10mb / 4kb when exact, else bytes."""
    for unit, size in (("gb", 1 << 30), ("mb", 1 << 20), ("kb", 1 << 10)):
        if n and n % size == 0:
            return "%d%s" % (n // size, unit)
    return str(n)


def _quote(text):
    if text == "" or any(ch in text for ch in " \t\"'\\") or not text.isprintable():
        return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'
    return text


def _merged(opt, current, new):
    """client-output-buffer-limit sets only the classes it names, as Redis."""
    if opt.name == "client-output-buffer-limit":
        out = dict(current)
        out.update(new)
        return out
    return new


def _read_conf(path):
    try:
        with open(path, encoding="utf-8", errors="surrogateescape") as f:
            return f.read()
    except OSError as e:
        raise ConfigFileError("Fatal error, can't open config file '%s': %s" % (path, e.strerror)) from None


def _copy(v):
    if isinstance(v, list):
        return list(v)
    if isinstance(v, dict):
        return dict(v)
    return v


def _fatal(lineno, raw, reason):
    return ("\n*** FATAL CONFIG FILE ERROR (Redis %s) ***\n"
            "Reading the configuration file, at line %d\n>>> '%s'\n%s" % (VERSION, lineno, raw.strip(), reason))


def args_to_config_text(argv):
    """Turn `[CONFIG-FILE] [-] --name value ...` command-line words into
    (config file or None, read stdin?, config text) exactly as redis-server's
    main() does: `--name` starts a line unless the option before it still
    has no argument (then it is that argument: `--port --hz` is port
    "--hz"); other words are quoted arguments; `--save` with nothing after
    it means `save ""`; "-" first or last reads the config from stdin."""
    conf_file = None
    j = 0
    if argv and not argv[0].startswith("-"):
        conf_file = argv[0]
        j = 1
    from_stdin = False
    options = ""
    handled_last = True
    n = len(argv)
    while j < n:
        word = argv[j]
        if word == "-" and (j == 0 or j == n - 1):
            from_stdin = True
        elif handled_last and word.startswith("--"):
            if options:
                options += "\n"
            options += word[2:] + " "
            if len(word[2:].split()) <= 1:
                handled_last = False  # just a name: the next word is its argument
                nxt = argv[j + 1] if j + 1 < n else None
                if word.lower() == "--save" and (nxt is None or nxt.startswith("--")):
                    options += '""'  # `--save --port 1` / trailing `--save`: save ""
                    handled_last = True
            else:
                handled_last = True  # "--port 6380" as one word
        else:
            options += _repr_quote(word) + " "
            handled_last = True
        j += 1
    # As redis-server: the options come after the file's text and a newline,
    # so errors read "at line 2" / ">>> 'hz "abc"'" like Redis's.
    return conf_file, from_stdin, "\n" + options


def _repr_quote(text):
    """Quote like Redis's sdscatrepr (the inverse of split_args)."""
    out = ['"']
    for ch in text:
        o = ord(ch)
        if ch in '"\\':
            out.append("\\" + ch)
        elif ch == "\n":
            out.append("\\n")
        elif ch == "\r":
            out.append("\\r")
        elif ch == "\t":
            out.append("\\t")
        elif ch == "\a":
            out.append("\\a")
        elif ch == "\b":
            out.append("\\b")
        elif 32 <= o < 127:
            out.append(ch)
        else:
            for byte in ch.encode("utf-8", "surrogateescape"):
                out.append("\\x%02x" % byte)
    out.append('"')
    return "".join(out)
