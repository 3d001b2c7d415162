"""`opensmsc api-key create ACCOUNT [--config FILE]`: a new API key for the HTTP API.

The key is printed once, on stdout, and never stored: what the node keeps is its hash, which
this prints as the `api_keys` line to add to the account's `[[accounts]]` table (the node reads
it at its next start). With `--config`, the account must exist in that file.
"""

from __future__ import annotations

import sys

from opensmsc.accounts import new_api_key
from opensmsc.config import ConfigError, load


def create_api_key(system_id: str, config_path: str | None) -> int:
    """Print a new key and its hash; 1 when the account is not in the configuration."""
    if config_path is not None:
        try:
            config = load(config_path)
        except ConfigError as exc:
            print(f"opensmsc api-key: {exc}", file=sys.stderr)
            return 2
        if not any(account.system_id == system_id for account in config.accounts):
            print(f"opensmsc api-key: no account {system_id!r} in {config_path}", file=sys.stderr)
            return 1
    key, digest = new_api_key()
    print(key)
    print(
        f'# add to [[accounts]] system_id = "{system_id}" (the key above is not kept anywhere):\n'
        f'# api_keys = ["{digest}"]',
        file=sys.stderr,
    )
    return 0
