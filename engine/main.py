"""`holdfast-server [CONFIG-FILE] [--name value ...]`, like redis-server."""

import os
import sys

from . import logsetup
from .config import HOLDFAST_VERSION, VERSION, Config, ConfigError, ConfigFileError, args_to_config_text


def build_config(argv):
    """As redis-server: the file's text, then the `--name value` lines after
    it in one text, so an error's line number counts from the file's top."""
    cfg = Config()
    conf_file, from_stdin, options = args_to_config_text(argv)
    text = cfg.read_file(conf_file) if conf_file is not None else ""
    if from_stdin:
        text += sys.stdin.read()
    cfg.load_text(text + options)
    return cfg


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    if argv and argv[0] in ("-v", "--version"):
        print("Holdfast server v=%s (speaks Redis %s) python=%s" % (HOLDFAST_VERSION, VERSION, sys.version.split()[0]))
        return 0
    if argv and argv[0] in ("-h", "--help"):
        print("Usage: holdfast-server [/path/to/holdfast.conf] [options]\n"
              "       holdfast-server -v or --version\n\n"
              "Examples:\n"
              "       holdfast-server (run the server with default config)\n"
              "       holdfast-server /etc/holdfast/6379.conf\n"
              "       holdfast-server --port 7777\n"
              "       holdfast-server /etc/myholdfast.conf --loglevel verbose")
        return 0
    try:
        cfg = build_config(argv)
    except ConfigFileError as e:
        logsetup.configure()  # as Redis: a log line on stdout, not a FATAL block
        logsetup.warning("%s", e)
        return 1
    except ConfigError as e:
        print(str(e), file=sys.stderr)
        return 1
    logsetup.configure(cfg["loglevel"], cfg["logfile"])
    if cfg["port"] == 0 and not cfg["unixsocket"]:
        logsetup.warning("Configured to not listen anywhere, exiting.")  # Redis's words
        return 1
    try:
        os.chdir(cfg["dir"])
    except OSError as e:
        logsetup.warning("Can't chdir to '%s': %s", cfg["dir"], e.strerror)
        return 1
    from .server import Server  # noqa: PLC0415 - after logging is configured

    server = Server(cfg)
    logsetup.notice("oO0OoO0OoO0Oo Holdfast is starting oO0OoO0OoO0Oo")
    logsetup.notice("Holdfast version=%s, speaks Redis %s, bits=64, pid=%d, just started",
                    HOLDFAST_VERSION, VERSION, os.getpid())
    if cfg.file:
        logsetup.notice("Configuration loaded")
    else:
        logsetup.warning("Warning: no config file specified, using the default config. In order to specify a config "
                         "file use holdfast-server /path/to/holdfast.conf")
    try:
        server.start()
    except OSError as e:
        logsetup.warning("%s", e.strerror or e)
        return 1
    logsetup.notice("Running mode=standalone, port=%d.", cfg["port"])
    logsetup.notice("Server initialized")
    from rdb.tempfiles import remove_stale  # noqa: PLC0415

    remove_stale(cfg)  # what a killed server's children left half-written
    if cfg["appendonly"]:  # the AOF wins over the RDB, as in Redis
        from aof import open_at_startup  # noqa: PLC0415

        server.aof = open_at_startup(server)
        if server.aof is None:
            return 1
    else:
        from rdb.loader import load_at_startup  # noqa: PLC0415

        if not load_at_startup(server):
            return 1
    from replication import primary_of  # noqa: PLC0415

    primary = primary_of(server)  # from the start: min-replicas-to-write, INFO replication
    if cfg["replicaof"]:
        host, _, port = cfg["replicaof"].strip().partition(" ")
        try:
            primary.replicaof(host, int(port), at_startup=True)
        except ValueError:
            logsetup.warning("Invalid master port in 'replicaof %s'", cfg["replicaof"])
            return 1
    return server.serve_forever()


if __name__ == "__main__":
    sys.exit(main())
