"""The public HTTP API (`[api]`): applications send and track messages over HTTP.

Unlike the admin API it is a front door that carries traffic: a port that cannot be bound
stops the node from starting (StartupError), as an SMPP listener's does. It is started after
the SMPP listeners (the engine and every route exist) and stopped before the engine closes,
so requests under way still get their answers.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from pathlib import Path

from opensmsc.accounts import Authenticator
from opensmsc.app.failures import address, os_reason
from opensmsc.config import ApiConfig
from opensmsc.engine import StoreAndForward
from opensmsc.errors import StartupError
from opensmsc.http import ApiSettings, HttpServer, create_api_app, purge_forever
from opensmsc.transport import ensure_self_signed

__all__ = ["ApiService"]

log = logging.getLogger(__name__)


class ApiService:
    """`port` is the bound port once started."""

    name = "http api"

    def __init__(
        self,
        config: ApiConfig,
        *,
        engine: StoreAndForward,
        authenticator: Authenticator,
        data_dir: Path,
    ) -> None:
        self._config = config
        self._data_dir = data_dir
        self._app = create_api_app(
            engine=engine,
            authenticator=authenticator,
            now=asyncio.get_running_loop().time,
            settings=ApiSettings(
                max_body_size=config.max_body_size,
                max_batch=config.max_batch,
                max_page=config.max_page,
                idempotency_ttl=config.idempotency_ttl,
                kannel_compat=config.kannel_compat,
                jasmin_compat=config.jasmin_compat,
            ),
        )
        self._purge_interval = engine.settings.purge_interval
        self._http: HttpServer | None = None
        self._housekeeping: asyncio.Task[None] | None = None
        self.port: int | None = None

    async def start(self) -> None:
        config = self._config
        certfile, keyfile = self._certificate() if config.tls_enabled else (None, None)
        self._http = HttpServer(
            self._app,
            host=config.bind_address,
            port=config.port,
            name="HTTP API",
            certfile=certfile,
            keyfile=keyfile,
        )
        try:
            self.port = await self._http.start()
        except OSError as exc:
            raise StartupError(
                f"the HTTP API cannot listen on {address(config.bind_address, config.port)}: "
                f"{os_reason(exc)}"
            ) from exc
        except RuntimeError as exc:
            raise StartupError(f"the HTTP API did not start: {exc}") from exc
        self._housekeeping = asyncio.create_task(
            purge_forever(self._app, self._purge_interval), name="api housekeeping"
        )

    @property
    def serving(self) -> bool:
        """Whether the listener accepts requests (the readiness check)."""
        return self._http is not None and self._http.serving

    def _certificate(self) -> tuple[Path, Path | None]:
        if self._config.tls_cert_file is not None:
            return self._config.tls_cert_file, self._config.tls_key_file
        try:
            material = ensure_self_signed(self._data_dir)
        except OSError as exc:
            raise StartupError(
                "the self-signed TLS certificate cannot be written in "
                f"{self._data_dir / 'tls'}: {os_reason(exc)}"
            ) from exc
        log.info("HTTP API self-signed certificate sha256=%s", material.fingerprint)
        return material.cert, material.key

    async def stop(self) -> None:
        if self._housekeeping is not None:
            self._housekeeping.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._housekeeping
        if self._http is not None:
            await self._http.stop()
