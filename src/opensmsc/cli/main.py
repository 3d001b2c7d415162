"""The `opensmsc` command line."""

from __future__ import annotations

import argparse
from collections.abc import Sequence

from opensmsc import __version__


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="opensmsc")
    sub = parser.add_subparsers(dest="verb", required=True)
    sub.add_parser("version", help="print the version")
    args = parser.parse_args(argv)
    if args.verb == "version":
        print(f"opensmsc {__version__}")
    return 0
