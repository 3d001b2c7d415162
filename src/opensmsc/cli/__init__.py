"""The `opensmsc` command line: verbs in their own modules, dispatched by `main.py`."""

from opensmsc.cli.main import main

__all__ = ["main"]
