"""The policy server (`[policyd]`, TCP 3055): the node's routing decisions served to other
systems, from the same Router (and so the same routes and connectors) its scheduler uses.

Like the admin API it is auxiliary: a node whose port 3055 is taken (another node on the same
host) still carries its own traffic; the error says why the policy server is missing.
"""

from __future__ import annotations

import logging
import os

from opensmsc.config import ConfigError, PolicydConfig
from opensmsc.policyd import Dispatcher, PolicyServer, ServerLimits
from opensmsc.routing import PolicyEngine

__all__ = ["PolicydService"]

log = logging.getLogger(__name__)


class PolicydService:
    """`port` is the bound port once started, None when the server could not listen."""

    name = "policy server"

    def __init__(self, config: PolicydConfig, *, engine: PolicyEngine, node: str) -> None:
        self._config = config
        self._server = PolicyServer(
            Dispatcher(engine, node=node, token=_token(config)),
            ServerLimits(
                max_connections=config.max_connections,
                max_frame=config.max_frame,
                idle_timeout=config.idle_timeout,
            ),
        )
        self.port: int | None = None

    @property
    def server(self) -> PolicyServer:
        return self._server

    async def start(self) -> None:
        try:
            self.port = await self._server.start(self._config.bind_address, self._config.port)
        except OSError as exc:
            log.error(
                "policy server not started address=%s port=%d: %s",
                self._config.bind_address,
                self._config.port,
                exc.strerror or exc,
            )

    async def stop(self) -> None:
        await self._server.stop()


def _token(config: PolicydConfig) -> str | None:
    """The shared token hello must carry, if any. Raises ConfigError for a token_env that is
    not set: a server meant to be protected must not start open."""
    if config.token_env is None:
        return config.token
    value = os.environ.get(config.token_env)
    if not value:
        raise ConfigError(
            f"environment variable {config.token_env} is not set",
            path="<environment>",
            key="policyd.token_env",
        )
    return value
