"""The HTTP admin API (`[http]`): the operations endpoints (/health, /ready, /metrics), the
policy's reload (`POST /v1/policy/reload`), the simulated network's administration when
the node has one, the IMPS users and figures with `[imps]`, the live configuration (accounts,
connectors, routes, export, reload: app/live_config.py), and the operator's messages (list,
show, cancel, retry, expire, send: app/messages.py).

It is auxiliary: a node whose admin port is taken (another node on the same host, a test run)
still carries traffic; the error says why the API is missing.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path

from opensmsc.app.admin_token import admin_token, is_loopback
from opensmsc.app.policy import NodePolicy
from opensmsc.config import HttpConfig
from opensmsc.http import (
    AdminAuth,
    ClusterSource,
    ConfigAdmin,
    HttpServer,
    ImpsAdmin,
    MessagesAdmin,
    MetricsSource,
    ReadinessCheck,
    StatusSource,
    TrailSource,
    create_app,
)
from opensmsc.network import SimulatedNetwork

__all__ = ["AdminService"]

log = logging.getLogger(__name__)


class AdminService:
    """`port` is the bound port once started, None when the API could not listen."""

    name = "http admin"

    def __init__(
        self,
        config: HttpConfig,
        *,
        network: SimulatedNetwork | None,
        readiness: ReadinessCheck | None = None,
        metrics: MetricsSource | None = None,
        policy: NodePolicy | None = None,
        imps: ImpsAdmin | None = None,
        messages: MessagesAdmin | None = None,
        data_dir: Path | None = None,
        config_admin: ConfigAdmin | None = None,
        status: StatusSource | None = None,
        close_streams: Callable[[], None] | None = None,
        trail: TrailSource | None = None,
        cluster: ClusterSource | None = None,
    ) -> None:
        self._config = config
        # Ends the status streams first: the listener's graceful stop waits for its responses.
        self._close_streams = close_streams
        # Without a data folder (tests of the API alone) there is no token and no check.
        self.auth = (
            None
            if data_dir is None
            else AdminAuth(admin_token(data_dir), required=not is_loopback(config.bind_address))
        )
        self._http = HttpServer(
            create_app(
                network=network,
                readiness=readiness,
                metrics=metrics,
                policy=policy,
                imps=imps,
                auth=self.auth,
                config_admin=config_admin,
                status=status,
                trail=trail,
                messages=messages,
                cluster=cluster,
            ),
            host=config.bind_address,
            port=config.port,
        )
        self.port: int | None = None

    async def start(self) -> None:
        try:
            self.port = await self._http.start()
        except OSError as exc:
            log.error(
                "HTTP admin API not started address=%s port=%d: %s",
                self._config.bind_address,
                self._config.port,
                exc.strerror or exc,
            )

    async def stop(self) -> None:
        if self._close_streams is not None:
            self._close_streams()
        await self._http.stop()
