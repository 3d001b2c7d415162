"""`opensmsc hash-password`: the argon2 hash to put in an account's `password_hash`.

The password is read from stdin when it is not a terminal (one line), else asked twice without
echo. It never appears on the command line, where other users of the machine could see it.
"""

from __future__ import annotations

import getpass
import sys

from opensmsc.accounts import hash_password as make_hash


def hash_password() -> int:
    """Print the hash of a password read from stdin or the terminal; 1 if it is unusable."""
    if sys.stdin.isatty():
        plain = getpass.getpass("password: ")
        if getpass.getpass("again: ") != plain:
            print("opensmsc hash-password: the passwords differ", file=sys.stderr)
            return 1
    else:
        plain = sys.stdin.readline().rstrip("\r\n")
    try:
        print(make_hash(plain))
    except ValueError as exc:
        print(f"opensmsc hash-password: {exc}", file=sys.stderr)
        return 1
    return 0
