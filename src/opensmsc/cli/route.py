"""`opensmsc route explain`: the decision the node's policy gives a message, and every rule that
matched or did not, in order, with why: the first thing an operator asks when a message went the
wrong way. It reads the configuration and its policy file; it does not ask a running node (the
route health and velocity counts it shows are those of a fresh start).
"""

from __future__ import annotations

import sys
from datetime import UTC, datetime

from opensmsc.app import rule_policy, standin_router
from opensmsc.config import ConfigError, check, load
from opensmsc.routing import RouteQuery
from opensmsc.store import Address

__all__ = ["explain_command"]

EXIT_CONFIG = 2


def explain_command(
    config_path: str,
    *,
    account: str,
    source: str,
    destination: str,
    text: str | None = None,
    service_type: str = "",
    priority: int = 0,
    at: str | None = None,
) -> int:
    errors = check(config_path)
    if errors:
        for error in errors:
            print(error, file=sys.stderr)
        return EXIT_CONFIG
    try:
        config = load(config_path)
        if config.routing.policy_file is None:
            raise ConfigError(
                "no policy file: set [routing] policy_file", path=config_path, key="routing"
            )
        policy = rule_policy(config, router=standin_router(config))
    except ConfigError as exc:
        for error in getattr(exc, "errors", None) or [exc]:
            print(error, file=sys.stderr)
        return EXIT_CONFIG
    try:
        now = datetime.now(UTC) if at is None else _aware(datetime.fromisoformat(at))
    except ValueError:
        print(f"--at: expected an ISO 8601 time such as 2026-01-07T21:30+00:00, got {at!r}")
        return EXIT_CONFIG
    query = RouteQuery(
        account=account,
        source=_address(source),
        destination=Address(1, 1, destination),
        service_type=service_type,
        content_sample=text,
        priority_flag=priority,
    )
    for line in policy.explain(query, now).lines():
        print(line)
    return 0


def _address(text: str) -> Address:
    """A source as an ESME gives it: digits are an international number (TON 1, NPI 1; a short
    code is told by its length), anything else alphanumeric (TON 5)."""
    digits = text.removeprefix("+")
    if digits.isascii() and digits.isdigit():
        return Address(1, 1, digits)
    return Address(5, 0, text)


def _aware(when: datetime) -> datetime:
    return when if when.tzinfo is not None else when.replace(tzinfo=UTC)
