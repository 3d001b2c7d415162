"""`[policy_client]` on the node: a PolicyClient (policyd/client.py) asked for every routing
decision instead of the embedded engine, started before the front doors and closed after them.

`on_failure` says who decides when no server answers in time (transaction timer × retries, on
each server in turn): "local" the embedded engine (the PSX client's ERE: RulePolicy with a
policy file, else prefix routing), which also hears every route report so that it is current;
"reject" nobody: `FailClosed` answers a throttle, so a submit is refused with ESME_RTHROTTLED
(HTTP 429 with Retry-After) and its sender retries later, and a stored message waits and is
decided again (it is never lost). A throttle rather than ESME_RSYSERR: the refusal is the
node's passing trouble, not the message's fault.

What it is not: the client (policyd/client.py), or where decisions are applied
(engine/decisions.py).
"""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Final

from opensmsc.config import Config, PolicyClientConfig
from opensmsc.engine import Decisions
from opensmsc.policyd import ClientSettings, PolicyClient, ServerMode, ServerSpec
from opensmsc.routing import Action, Decision, PolicyEngine, RouteQuery, RouteReport
from opensmsc.transport import client_context

__all__ = ["FAIL_CLOSED_RETRY_MS", "FailClosed", "PolicyClientService", "client_settings"]

log = logging.getLogger(__name__)

FAIL_CLOSED_RETRY_MS: Final = 5_000


class FailClosed:
    """The fallback of `on_failure = "reject"`: every decision a throttle (module doc)."""

    uses_reports = False

    def decide(self, query: RouteQuery, now: datetime) -> Decision:
        return Decision(
            action=Action.THROTTLE,
            retry_after_ms=FAIL_CLOSED_RETRY_MS,
            reason="no policy server answered",
        )

    def report(self, report: RouteReport, now: datetime) -> None:
        return None


def client_settings(config: PolicyClientConfig, *, node: str) -> ClientSettings:
    tls = None
    if config.tls_enabled:
        tls = client_context(ca=config.tls_ca_file, client_cert=None, client_key=None)
    return ClientSettings(
        transaction_timeout=config.transaction_timeout,
        retries=config.retries,
        keepalive_interval=config.keepalive_interval,
        node=node,
        token=config.token,
        tls=tls,
        tls_server_name=config.tls_server_name,
    )


class PolicyClientService:
    """Connects to the `[policy_client]` servers and makes them the node's policy
    (`decisions.use_remote`); `stop` gives the decisions back to the embedded engine and
    closes the connections. `local`: the embedded engine, the fallback of
    `on_failure = "local"`."""

    name = "policy client"

    def __init__(self, config: Config, *, decisions: Decisions, local: PolicyEngine) -> None:
        settings = config.policy_client
        self._decisions = decisions
        fallback: PolicyEngine = local if settings.on_failure == "local" else FailClosed()
        self.client = PolicyClient(
            (
                ServerSpec(server.host, server.port, ServerMode(server.mode))
                for server in settings.servers
            ),
            settings=client_settings(settings, node=config.node.name),
            fallback=fallback,
        )
        # The first message need not fall back while the first connection is still opening.
        self._wait = settings.transaction_timeout * (1 + settings.retries)
        self._on_failure = settings.on_failure

    async def start(self) -> None:
        await self.client.start(wait=self._wait)
        self._decisions.use_remote(self.client)
        log.info(
            "policy client started servers=%s up=%s on_failure=%s",
            ",".join(f"{spec}/{mode}" for spec, mode in self.client.modes.items()),
            ",".join(str(spec) for spec in self.client.up) or "none",
            self._on_failure,
        )

    async def stop(self) -> None:
        # After the front doors: nothing new is asked; decisions under way get their
        # fallback's answer when the connections close.
        self._decisions.use_remote(None)
        await self.client.close()
