"""Holdfast's server engine: network loop, clients, RESP, keyspace, command
table, config, INFO, the one write-propagation path and the cron.

Public face for other subsystems (aof/, rdb/, replication/):
    Server      -- propagate(), hooks (before_sleep/cron/shutdown), keyspace
    Config      -- config values and change hooks
    main        -- the `holdfast-server` entry point
"""

from .config import Config, ConfigError
from .main import main

__all__ = ["Config", "ConfigError", "main"]
