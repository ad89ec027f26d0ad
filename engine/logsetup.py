"""Logging in Redis's line shape: `pid:role dd Mon yyyy HH:MM:SS.mmm <lvl> message`.

Levels map to Redis's marks: debug '.', verbose '-', notice '*', warning '#'.
The role letter is M (primary), S (replica), C (forked child); the server
updates it through `set_role`.
"""

import logging
import os
import sys
import time

VERBOSE = 15
NOTICE = 25
logging.addLevelName(VERBOSE, "VERBOSE")
logging.addLevelName(NOTICE, "NOTICE")

_LEVELS = {"debug": logging.DEBUG, "verbose": VERBOSE, "notice": NOTICE, "warning": logging.WARNING,
           "nothing": logging.CRITICAL + 10}
_MARKS = {logging.DEBUG: ".", VERBOSE: "-", logging.INFO: "-", NOTICE: "*", logging.WARNING: "#",
          logging.ERROR: "#", logging.CRITICAL: "#"}

log = logging.getLogger("holdfast")
_role = ["M"]


def set_role(letter):
    _role[0] = letter


class RedisFormatter(logging.Formatter):
    def format(self, record):
        t = record.created
        stamp = time.strftime("%d %b %Y %H:%M:%S", time.localtime(t)) + ".%03d" % (int(t * 1000) % 1000)
        msg = record.getMessage()
        if record.exc_info:
            msg += "\n" + self.formatException(record.exc_info)
        return "%d:%s %s %s %s" % (os.getpid(), _role[0], stamp, _MARKS.get(record.levelno, "*"), msg)


def configure(level_name="notice", logfile=""):
    """(Re)configure the holdfast logger for the server process."""
    for h in list(log.handlers):
        log.removeHandler(h)
        h.close()
    if logfile:
        handler = logging.FileHandler(logfile)
    else:
        handler = logging.StreamHandler(sys.stdout)
    handler.setFormatter(RedisFormatter())
    log.addHandler(handler)
    log.setLevel(_LEVELS.get(level_name, NOTICE))
    log.propagate = False


def set_level(level_name):
    log.setLevel(_LEVELS.get(level_name, NOTICE))


def notice(msg, *args):
    log.log(NOTICE, msg, *args)


def verbose(msg, *args):
    log.log(VERBOSE, msg, *args)


def warning(msg, *args):
    log.warning(msg, *args)


def debug(msg, *args):
    log.debug(msg, *args)


def log_exception(msg, *args):
    """A warning with the traceback of the exception being handled."""
    log.warning(msg, *args, exc_info=True)
