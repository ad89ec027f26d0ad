"""`python -m bench`: the same as `holdfast-bench` (bench/cli.py)."""

import sys

from .cli import main

sys.exit(main())
